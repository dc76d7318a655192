//! The conformance checker: it checks any server that claims one of the course's protocols, in
//! any language, and says for each check whether it passed.
//!
//! ```text
//! cargo run -p checker -- --lesson 02 --addr 127.0.0.1:8888
//! ```
//!
//! It prints one line per check, `pass  NAME`, `FAIL  NAME: saw X, expected Y` or
//! `skip  NAME: REASON`, then `N passed, N failed`. First the protocol, then hostile clients,
//! each followed by a check that the server still serves a well-behaved client. Every wait has
//! a deadline, and the checker talks only to the address it is given, which must be loopback
//! unless `--allow-remote`.
//!
//! For the line protocols of lessons 01 to 03 ([`lines`]): the greeting, replies, counting,
//! `exit`, end of stream; then a client that vanishes mid-line, one that resets, one that
//! half-closes, bytes that are not UTF-8, a character split across packets, a line of 1 MiB, a
//! silent client, a slow client, `a\nexit\n` in one packet, the same followed by 1 MiB (a
//! lingering close), a line trickled a byte at a time (slowloris, with [`Options::min_rate`]),
//! 200 connections held while the server's threads are counted (with its process id), 200
//! connections dropped at once, 1,000 connections in a burst.
//!
//! For lesson 05 (lesson 03's protocol, from an event loop): lesson 03's checks, then a client
//! that sends without end and never reads a reply while another is served, and thousands of
//! idle connections held open while another is served.
//!
//! For lesson 04's binary frames ([`frames`]): an upload, `get` back byte for byte, `list`, a
//! file of 0 bytes, a missing file, a wrong checksum, end of stream; then a bad magic byte, an
//! unknown frame type, an impossible length, unsafe names, a size over the server's limit (alone,
//! and followed by 1 MiB of DATA frames), a client that resets halfway through an upload, a
//! silent client, an idle timeout, a frame and an upload trickled (with
//! [`Options::min_rate`]), a name already taken, 200 connections held while the server's
//! threads are counted, 200 connections dropped at once, 1,000 connections in a burst. The follow-up
//! after each is a small upload downloaded back intact. Every upload goes under a name unique to
//! the run, so the checker can run again and again against the same server.
//!
//! # Using it from a lesson's tests
//!
//! A lesson checks its own server with one call, [`check()`], and one assertion,
//! [`Report::assert_all_passed`]. Lessons 02 to 04 start their server once, and it faces every
//! check in turn; lesson 01's server exits after one client, so the checker starts a fresh one
//! for every check. To add the test to lesson NN:
//!
//! 1. In `lessons/lesson-NN/Cargo.toml`, under `[dev-dependencies]`, add
//!    `checker = { path = "../../tests/checker" }` (beside `test-support.workspace = true`).
//! 2. Create `lessons/lesson-NN/tests/conformance.rs`; for lesson 02:
//!
//! ```text
//! //! The course's conformance checker on the real lesson-02 server: every check must pass.
//!
//! use std::time::Duration;
//!
//! use checker::{Lesson, Options, Target};
//! use test_support::Server;
//!
//! #[test]
//! fn the_server_passes_every_check_of_the_checker() {
//!     // A short idle timeout, so the silent-client check need not wait 300 s.
//!     let server = Server::start(env!("CARGO_BIN_EXE_lesson-02"), &["--idle-timeout", "2"]);
//!     let options = Options {
//!         idle_timeout: Some(Duration::from_secs(2)),
//!         ..Options::default()
//!     };
//!     // With the process id, the half-close check also measures the server's CPU time.
//!     let target = Target::running_with_pid(server.addr(), server.pid());
//!     let report = checker::check(Lesson::L02, &target, &options);
//!     println!("{report}");
//!     report.assert_all_passed();
//! }
//! ```
//!
//!    For lesson 03, the same with `lesson-03` and `Lesson::L03`. Keep the idle timeout at two
//!    seconds or more there: the silent-client check wants another client served within half
//!    of it, and the slow client sends a byte every quarter of it. Lesson 01 (already done, in
//!    `lessons/lesson-01/tests/conformance.rs`) uses
//!    `Target::spawn_binary(env!("CARGO_BIN_EXE_lesson-01"), &["--idle-timeout", "1"])` and no
//!    `Server` of its own. Lesson 04 (in `lessons/lesson-04/tests/conformance.rs`) starts its
//!    server on a fresh folder, with `--idle-timeout 2 --max-size 1M`, and tells the checker
//!    both: `Options { idle_timeout: Some(..), max_size: Some(1 << 20), .. }`.
//!
//! The check `bounded-threads` needs the server's process id (`Target::running_with_pid`, or
//! a server the checker starts), and is skipped without it. A server that holds its clients to
//! total deadlines (a line or frame whole within the idle timeout, an upload at a minimum
//! rate) says so with `Options { min_rate: Some(16 * 1024), .. }`, the rate it was started
//! with: the slowloris checks then run too.
//!
//! [`Report::assert_all_passed`] fails the test, printing the whole report, when any check
//! failed or was skipped (a skipped check proves nothing). A run takes about ten seconds on a
//! correct line server, most of it spent waiting for the idle timeout and the slow client, and
//! a few seconds on lesson 04's.
//!
//! # Adding a lesson
//!
//! Each lesson's checks are a table, a `Vec<`[`Check`]`>` made by a module: [`lines`] for the
//! text protocols of lessons 01 to 03, [`frames`] for lesson 04's binary protocol (which speaks
//! the protocol from its definition in the chapter, never with the lesson's code). A new
//! protocol gets a module of its own with its own table, one more arm in [`checks`], and a
//! variant in [`Lesson`]; the runner, the report, the targets and the command line stay as they
//! are. [`crowd`] holds what every protocol shares: many connections at once.

pub mod check;
pub mod conn;
pub mod cpu;
pub mod crowd;
pub mod frames;
pub mod keepalive;
pub mod lines;
pub mod report;
pub mod target;

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::str::FromStr;
use std::time::Duration;

pub use check::{Check, Probe, Verdict};
pub use report::{CheckResult, Outcome, Report, Status, parse_statuses};
pub use target::{Exit, Instance, Target};

/// A lesson whose protocol the checker knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lesson {
    /// One client, one message: greeting `Connected!`, one read, `received: TEXT`, close, exit.
    L01,
    /// Lines, one client at a time: `message N: TEXT`, `exit` → `bye`.
    L02,
    /// Lines, many clients at once: `R:ACK!`, `exit` → `bye`, `busy: try again later` when full.
    L03,
    /// Binary frames: uploads checked by SHA-256, LIST, GET, ERROR frames, ERROR Busy when full.
    L04,
    /// Lesson 03's protocol from an event loop: also a client that never reads, and thousands
    /// of idle connections, while others are served.
    L05,
}

impl FromStr for Lesson {
    type Err = String;

    fn from_str(text: &str) -> Result<Lesson, String> {
        match text.trim_start_matches('0') {
            "1" => Ok(Lesson::L01),
            "2" => Ok(Lesson::L02),
            "3" => Ok(Lesson::L03),
            "4" => Ok(Lesson::L04),
            "5" => Ok(Lesson::L05),
            _ => Err(format!(
                "there is no lesson {text}; the checker knows 01, 02, 03, 04 and 05"
            )),
        }
    }
}

impl fmt::Display for Lesson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = match self {
            Lesson::L01 => "01",
            Lesson::L02 => "02",
            Lesson::L03 => "03",
            Lesson::L04 => "04",
            Lesson::L05 => "05",
        };
        f.write_str(number)
    }
}

/// Which way of speaking the protocol the server uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dialect {
    /// The course's: lines ending in `\n`, the replies as the lesson defines them.
    #[default]
    Course,
    /// The original Python programs' (`server.py` for lesson 02, `threaded_server.py` for 03):
    /// no newlines anywhere, a reply is whatever one read returns, `server.py` greets
    /// `连接成功!` and replies `第N条信息:TEXT`, and `exit` closes without a reply. The hostile
    /// checks stay the same.
    Original,
}

/// What the checker is told about the server, and how patient it is.
#[derive(Clone, Debug)]
pub struct Options {
    pub dialect: Dialect,
    /// The idle timeout the server was started with, if known. The checks that wait for a
    /// silent client to be timed out are skipped without it.
    pub idle_timeout: Option<Duration>,
    /// The longest the checker waits for anything the protocol promises (a greeting, a reply, a
    /// close). A correct server on loopback answers in milliseconds.
    pub timeout: Duration,
    /// Run only these checks (by name; a hostile check brings its follow-up along). Empty: all.
    pub only: Vec<String>,
    /// Allow a server that is not on this machine.
    pub allow_remote: bool,
    /// Lesson 04: the largest upload the server accepts (its `--max-size`), if known. The check
    /// `too-large` declares one byte more; without it, 2^60 bytes, more than any server takes.
    pub max_size: Option<u64>,
    /// The server's `--min-rate`, in bytes per second, if it claims total deadlines: a line or
    /// a frame must arrive whole within the idle timeout, and an upload (lesson 04) at least at
    /// this average rate over each idle-timeout window. With it, the slowloris checks run;
    /// without it, they are left out, as a server with per-read timeouts would fail them.
    pub min_rate: Option<u64>,
    /// The keepalive idle time the server arms on every accepted connection (lesson 06's
    /// `--keepalive-idle`). With it, the check `keepalive` runs last; without it, it is left out.
    pub keepalive: Option<Duration>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            dialect: Dialect::Course,
            idle_timeout: None,
            timeout: Duration::from_secs(3),
            only: Vec::new(),
            allow_remote: false,
            max_size: None,
            min_rate: None,
            keepalive: None,
        }
    }
}

/// The table of checks for `lesson`, in the order they run.
pub fn checks(lesson: Lesson, options: &Options) -> Vec<Check> {
    let mut table = match lesson {
        Lesson::L01 | Lesson::L02 | Lesson::L03 | Lesson::L05 => lines::checks(lines::Spec {
            lesson,
            dialect: options.dialect,
            total_deadlines: options.min_rate.is_some(),
        }),
        Lesson::L04 => frames::checks(options),
    };
    if let Some(idle) = options.keepalive {
        table.push(keepalive::check(idle));
    }
    table
}

/// Runs every check (or those in `options.only`) on `target` and returns the report. Panics
/// when the request makes no sense (see [`try_check`]): meant for tests.
#[track_caller]
pub fn check(lesson: Lesson, target: &Target, options: &Options) -> Report {
    try_check(lesson, target, options).unwrap_or_else(|e| panic!("checker: {e}"))
}

/// [`check()`] on a server already listening at `addr` as process `pid` (with the PID, the
/// half-close check also measures that the server does not spin): prints the report, and panics
/// unless every check passed. A lesson's conformance test.
#[track_caller]
pub fn assert_running_server_passes(
    lesson: Lesson,
    addr: std::net::SocketAddr,
    pid: u32,
    options: &Options,
) {
    let report = check(lesson, &Target::running_with_pid(addr, pid), options);
    println!("{report}");
    report.assert_all_passed();
}

/// Like [`check()`], but says what is wrong with the request instead of panicking: lesson 01
/// without a fresh server per check, an address that is not loopback, an unknown check name.
pub fn try_check(lesson: Lesson, target: &Target, options: &Options) -> Result<Report, String> {
    check_each(lesson, target, options, |_| {})
}

/// Like [`try_check`], and calls `each` with every result as soon as it is known (the command
/// line prints them as they come).
pub fn check_each(
    lesson: Lesson,
    target: &Target,
    options: &Options,
    mut each: impl FnMut(&CheckResult),
) -> Result<Report, String> {
    check_each_until(lesson, target, options, |result| {
        each(result);
        true
    })
}

/// Like [`check_each`], but stops after the check for which `each` returns `false` (the
/// command line stops when nobody reads its output any more).
pub fn check_each_until(
    lesson: Lesson,
    target: &Target,
    options: &Options,
    mut each: impl FnMut(&CheckResult) -> bool,
) -> Result<Report, String> {
    validate(lesson, target, options)?;
    let mut report = Report::default();
    // Whether to go on: false once `each` has said stop.
    let mut record = |name: &str, outcome: Outcome| {
        let result = CheckResult {
            name: name.to_string(),
            outcome,
        };
        let go_on = each(&result);
        report.results.push(result);
        go_on
    };
    // A server that would not start once is not started again: each try may take seconds.
    let mut failed_start: Option<String> = None;
    for check in selected(lesson, options)? {
        let started = match target {
            Target::Running { addr, pid } => Ok((*addr, *pid, None)),
            Target::Fresh(_) if failed_start.is_some() => Err(failed_start.clone().unwrap()),
            Target::Fresh(start) => start()
                .map(|server| (server.addr(), server.pid(), Some(server)))
                .map_err(|e| format!("the server did not start ({e})")),
        };
        let (addr, pid, mut instance) = match started {
            Ok(started) => started,
            Err(why) => {
                let mut go_on = true;
                for name in check.names() {
                    go_on &= record(name, report::fail(why.clone(), "a server to check"));
                }
                if !go_on {
                    break;
                }
                failed_start = Some("the server did not start (see above)".into());
                continue;
            }
        };
        let mut probe = Probe {
            addr,
            pid,
            options,
            instance: instance.as_deref_mut().map(|i| i as &mut dyn Instance),
        };
        let outcome = run(&check, &mut probe);
        let skipped = matches!(outcome, Outcome::Skip(_));
        if !record(&check.name, outcome) {
            break;
        }
        if let Some(then) = &check.then {
            let outcome = if skipped {
                Outcome::Skip(format!("{} was skipped", check.name))
            } else {
                run(then, &mut probe)
            };
            if !record(&then.name, outcome) {
                break;
            }
        }
        // Dropping `instance` here stops a server the checker started for this check.
    }
    Ok(report)
}

/// Runs one check; a panic inside the checker itself becomes a failure that says so.
fn run(check: &Check, probe: &mut Probe) -> Outcome {
    match panic::catch_unwind(AssertUnwindSafe(|| (check.run)(probe))) {
        Ok(Ok(())) => Outcome::Pass,
        Ok(Err(outcome)) => outcome,
        Err(_) => report::fail(
            "the check itself panicked",
            "no panic: this is a bug in the checker",
        ),
    }
}

fn validate(lesson: Lesson, target: &Target, options: &Options) -> Result<(), String> {
    if options.dialect == Dialect::Original && !matches!(lesson, Lesson::L02 | Lesson::L03) {
        return Err(format!(
            "lesson {lesson} has no original dialect: the originals are lessons 02 and 03"
        ));
    }
    if lesson == Lesson::L01 && !target.is_fresh() {
        return Err(
            "lesson 01's server exits after one client, so each check needs a fresh \
                    one: start it with --spawn \"COMMAND ARGS\" (Target::spawn)"
                .into(),
        );
    }
    if let Target::Running { addr, .. } = target
        && !options.allow_remote
        && !addr.ip().is_loopback()
    {
        return Err(format!(
            "{addr} is not a loopback address; the checker sends hostile traffic, so it only \
             talks to this machine unless allowed to (--allow-remote)"
        ));
    }
    Ok(())
}

/// The checks to run: all, or those named in `options.only`.
fn selected(lesson: Lesson, options: &Options) -> Result<Vec<Check>, String> {
    let all = checks(lesson, options);
    if options.only.is_empty() {
        return Ok(all);
    }
    for name in &options.only {
        if !all.iter().any(|c| c.names().contains(&name.as_str())) {
            return Err(format!(
                "lesson {lesson} has no check called `{name}` (--list shows them)"
            ));
        }
    }
    Ok(all
        .into_iter()
        .filter(|c| {
            c.names()
                .iter()
                .any(|n| options.only.iter().any(|o| o == n))
        })
        .collect())
}
