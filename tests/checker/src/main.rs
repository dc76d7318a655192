//! `checker`: checks a server that claims one of the course's protocols, from the outside.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use checker::target::{Target, resolve};
use checker::{Dialect, Lesson, Options};

/// Check any server (in any language) that claims a lesson's protocol: the protocol itself, then
/// hostile clients, each followed by a check that the server still serves a well-behaved client.
#[derive(Parser)]
#[command(
    name = "checker",
    version,
    about,
    after_help = "\
Output: one line per check, `pass  NAME`, `FAIL  NAME: saw X, expected Y`, or
`skip  NAME: REASON` for a check that cannot run with what the checker was told (for example
the silent-client checks need --idle-timeout). The last line is `N passed, N failed`; skipped
checks count as neither. The exit status is 0 when no check failed, 1 when one did, 2 when the
command line is wrong.

Lesson 01's server exits after one client, so it needs --spawn: the checker starts a fresh
server for every check. For example, after `cargo build -p lesson-01`:
  checker --lesson 01 --spawn 'target/debug/lesson-01 --idle-timeout 1' --idle-timeout 1

Lessons 02, 03 and 05: start your server, then
  checker --lesson 02 --addr 127.0.0.1:8888 --idle-timeout 5   (server started with --idle-timeout 5)

Lesson 04 (binary frames): the checker uploads files under names of its own, unique to each
run, and leaves them on the server (the protocol has no delete). Give the server's limit with
--max-size if you know it:
  checker --lesson 04 --idle-timeout 5 --max-size 100M

The original Python servers: --lesson 02 --dialect original (server.py) or --lesson 03
--dialect original (threaded_server.py) against one you started, or --original to let the
checker start a fresh copy from tests/originals/ for every check, under a 2 GiB memory cap.
Never run threaded_server.py without a cap: it starts threads without end, even with no client."
)]
struct Args {
    /// The lesson whose protocol the server claims: 01, 02, 03, 04 or 05.
    #[arg(long)]
    lesson: String,

    /// The server's address, HOST:PORT. Only loopback, unless --allow-remote.
    #[arg(long, default_value = "127.0.0.1:8888", conflicts_with_all = ["spawn", "original"])]
    addr: String,

    /// The server's process id: the half-close check then also measures its CPU use.
    #[arg(long, conflicts_with_all = ["spawn", "original"])]
    pid: Option<u32>,

    /// Start a fresh server for every check with this command (run by sh), adding
    /// `--addr 127.0.0.1:0`; its first stdout line must be `listening on ADDR`. Lesson 01 needs
    /// this.
    #[arg(long, value_name = "COMMAND ARGS", conflicts_with = "original")]
    spawn: Option<String>,

    /// Check the original Python server of this lesson (server.py for 02, threaded_server.py
    /// for 03), a fresh copy for every check. Implies --dialect original.
    #[arg(long)]
    original: bool,

    /// How the server speaks: the course's lines, or the original Python programs' bare reads.
    #[arg(long, value_enum, default_value_t = DialectArg::Course)]
    dialect: DialectArg,

    /// The idle timeout, in seconds, the server was started with. Without it the checks that
    /// wait for a silent client to be closed are skipped.
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    idle_timeout: Option<Duration>,

    /// The longest wait, in seconds, for anything the protocol promises.
    #[arg(long, value_name = "SECS", default_value = "3", value_parser = parse_seconds)]
    timeout: Duration,

    /// Lesson 04: the largest upload the server accepts (its --max-size), in bytes or with K, M
    /// or G. The too-large check declares one byte more; without this, 2^60 bytes.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    max_size: Option<u64>,

    /// The server's minimum upload rate, in bytes per second (with K, M or G), if it holds
    /// clients to total deadlines: a line or frame whole within the idle timeout, an upload at
    /// this average rate over each idle-timeout window. Giving it runs the slowloris checks,
    /// which a server with per-read timeouts fails: for example 16K.
    #[arg(long, value_name = "BYTES", value_parser = parse_rate)]
    min_rate: Option<u64>,

    /// The keepalive idle time, in seconds, the server arms on the connections it accepts
    /// (lesson 06's --keepalive-idle). Adds the check `keepalive`: the server's end of a
    /// connection carries a keepalive timer due within that time (read from /proc/net/tcp).
    #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
    keepalive: Option<Duration>,

    /// Run only this check (and its follow-up); repeat for more.
    #[arg(long, value_name = "NAME")]
    only: Vec<String>,

    /// List the lesson's checks and what each proves, and exit.
    #[arg(long)]
    list: bool,

    /// Allow a server that is not on this machine.
    #[arg(long)]
    allow_remote: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum DialectArg {
    Course,
    Original,
}

fn main() -> ExitCode {
    // A panic inside a check (or while starting a server for one) is caught and reported as a
    // failed check; print it as one line, not as a Rust backtrace.
    std::panic::set_hook(Box::new(|info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("a panic");
        eprintln!("checker: {}", message.lines().next().unwrap_or_default());
    }));
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        // Nobody reads any more (`checker | head -1`): stop quietly, like any Unix filter, and
        // without claiming that every check passed.
        Err(sentence) if sentence == CLOSED => ExitCode::FAILURE,
        Err(sentence) => {
            eprintln!("error: {sentence}");
            ExitCode::from(2)
        }
    }
}

/// Runs the checks, printing each result as it comes; `Ok(true)` when none failed.
fn run(args: &Args) -> Result<bool, String> {
    let lesson: Lesson = args.lesson.parse()?;
    let options = Options {
        dialect: match (args.dialect, args.original) {
            (DialectArg::Original, _) | (_, true) => Dialect::Original,
            (DialectArg::Course, false) => Dialect::Course,
        },
        idle_timeout: args.idle_timeout,
        timeout: args.timeout,
        only: args.only.clone(),
        allow_remote: args.allow_remote,
        max_size: args.max_size,
        min_rate: args.min_rate,
        keepalive: args.keepalive,
    };

    if args.list {
        for check in checker::checks(lesson, &options) {
            say(&format!("{:<34} {}", check.name, check.proves))?;
            if let Some(then) = check.follow_up() {
                say(&format!("{:<34} {}", then.name, then.proves))?;
            }
        }
        return Ok(true);
    }

    let target = if args.original {
        Target::original(lesson)?
    } else if let Some(command) = &args.spawn {
        Target::spawn(command)
    } else {
        let addr = resolve(&args.addr, args.allow_remote)?;
        // The checks that read /proc/PID would measure the wrong process, and pass, if PID were
        // a wrapper that started the server (timeout, strace, a shell) and not the server.
        if let Some(pid) = args.pid
            && test_support::observe::listens_on_port(pid, addr.port()) == Some(false)
        {
            return Err(format!(
                "process {pid} holds no socket listening on port {}: give --pid the server's own \
                 process id, not that of a program that started it (timeout, strace, a shell)",
                addr.port()
            ));
        }
        Target::Running {
            addr,
            pid: args.pid,
        }
    };
    // A reader that has gone (`checker | head -1`) has seen all it wanted: the checks that are
    // left would be shown to nobody, so they are not run.
    let mut closed = None;
    let report = checker::check_each_until(lesson, &target, &options, |result| {
        match say(&result.to_string()) {
            Ok(()) => true,
            Err(why) => {
                closed = Some(why);
                false
            }
        }
    })?;
    if let Some(why) = closed {
        return Err(why);
    }
    say(&report.summary())?;
    Ok(report.success())
}

/// What [`say`] returns when stdout is closed.
const CLOSED: &str = "stdout is closed";

/// Prints one line on stdout; a closed stdout is [`CLOSED`], not a panic.
fn say(line: &str) -> Result<(), String> {
    test_support::cli::say(line).map_err(|_| CLOSED.to_string())
}

/// A minimum rate in bytes per second: a size (see [`parse_size`]) above 0.
fn parse_rate(text: &str) -> Result<u64, String> {
    match parse_size(text)? {
        0 => Err("a minimum rate of 0 bytes per second is no rule: give one above 0".into()),
        rate => Ok(rate),
    }
}

/// `4096`, `64K`, `100M`, `2G`: a number of bytes, with an optional suffix (powers of 1024).
fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("`{text}` is not a size such as 4096, 64K, 100M or 2G");
    let upper = text.trim().to_ascii_uppercase();
    let (digits, scale) = match upper.as_bytes().last() {
        Some(b'K') => (&upper[..upper.len() - 1], 1 << 10),
        Some(b'M') => (&upper[..upper.len() - 1], 1 << 20),
        Some(b'G') => (&upper[..upper.len() - 1], 1 << 30),
        _ => (upper.as_str(), 1),
    };
    let number: u64 = digits.parse().map_err(|_| bad())?;
    number.checked_mul(scale).ok_or_else(bad)
}

/// The longest wait the checker accepts for any of its options: a day. Anything longer is a
/// mistake (`1e19` would overflow a clock), and a day already outlasts any sensible check.
const MAX_SECONDS: f64 = 86_400.0;

/// A number of seconds, more than 0 and at most a day: `3`, `0.5`.
fn parse_seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds such as 3 or 0.5"))?;
    if !(value > 0.0 && value <= MAX_SECONDS) {
        return Err(format!(
            "{text} s is not a wait the checker can use: give more than 0 and at most \
             {MAX_SECONDS} s (a day)"
        ));
    }
    Ok(Duration::from_secs_f64(value))
}

#[cfg(test)]
mod tests {
    use super::{parse_seconds, parse_size};
    use std::time::Duration;

    #[test]
    fn waits_are_positive_and_at_most_a_day() {
        assert_eq!(parse_seconds("3"), Ok(Duration::from_secs(3)));
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_seconds("86400"), Ok(Duration::from_secs(86_400)));
        for bad in ["0", "-1", "1e19", "86401", "inf", "NaN", "", "three"] {
            assert!(parse_seconds(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn sizes_take_the_same_suffixes_as_lesson_04() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("1m"), Ok(1 << 20));
        assert_eq!(parse_size("100M"), Ok(100 << 20));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        for bad in ["", "M", "lots", "99999999999G", "-1"] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }
}
