//! `loadgen`: open many clients at once against a line server on this machine and measure it.
//!
//! ```text
//! cargo run --release -p loadgen -- --addr 127.0.0.1:8888 --clients 64 --messages 2000
//! ```
//!
//! See the library ([`loadgen::run`]) for what one run does.

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use loadgen::{Config, Framing, Report};

/// Open many clients at once against a server on this machine, do round trips, and report round
/// trips per second, latency, time to greeting, and refusals. Loopback addresses only.
#[derive(Parser)]
#[command(name = "loadgen", version, about)]
struct Args {
    /// The server, as HOST:PORT; must be a loopback address (127.0.0.1, ::1, localhost).
    #[arg(long, default_value = "127.0.0.1:8888")]
    addr: String,

    /// Clients opened at once, one thread each.
    #[arg(long, default_value_t = 64)]
    clients: usize,

    /// Round trips per client: send a message, read its reply.
    #[arg(long, default_value_t = 2000)]
    messages: usize,

    /// What one reply is: `lines` (ends in a newline, the course's servers) or `raw` (one
    /// read, for the original Python servers, which send no delimiter).
    #[arg(long, value_enum, default_value_t = FramingArg::Lines)]
    framing: FramingArg,

    /// Seconds the whole run may take; clients still busy then are cut off and count as failed.
    #[arg(long, default_value_t = 60)]
    timeout: u64,

    /// Milliseconds between one client's connect and the next's; 0 (the default) connects all
    /// at once.
    #[arg(long, default_value_t = 0)]
    stagger_ms: u64,

    /// Idle connections to open first (one after another, each greeted, then silent) and hold
    /// while the clients run; the summary says how many were held, refused and failed.
    #[arg(long, default_value_t = 0, conflicts_with = "csv")]
    idle: usize,

    /// Print one CSV line (see --csv-header) instead of the summary.
    #[arg(long)]
    csv: bool,

    /// Print the CSV header line and exit.
    #[arg(long)]
    csv_header: bool,

    /// The first CSV column, to tell runs apart (for example "lesson-03 workers=4").
    #[arg(long, default_value = "")]
    label: String,
}

#[derive(Clone, Copy, ValueEnum)]
enum FramingArg {
    Lines,
    Raw,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = if args.csv_header {
        say(Report::CSV_HEADER)
    } else {
        run(&args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // Nobody reads any more (`loadgen | head -1`): nothing more to say.
        Err(sentence) if sentence == CLOSED => ExitCode::FAILURE,
        Err(sentence) => {
            eprintln!("error: {sentence}");
            ExitCode::FAILURE
        }
    }
}

/// What [`say`] returns when stdout is closed.
const CLOSED: &str = "stdout is closed";

/// Prints one line on stdout; a closed stdout is [`CLOSED`], not a panic.
fn say(line: &str) -> Result<(), String> {
    test_support::cli::say(line).map_err(|_| CLOSED.to_string())
}

/// Runs the load and prints its report; fails when every client failed, after the report.
fn run(args: &Args) -> Result<(), String> {
    let config = Config {
        addr: parse_addr(&args.addr)?,
        clients: args.clients,
        messages: args.messages,
        framing: match args.framing {
            FramingArg::Lines => Framing::Lines,
            FramingArg::Raw => Framing::Raw,
        },
        timeout: Duration::from_secs(args.timeout),
        stagger: Duration::from_millis(args.stagger_ms),
    };
    loadgen::check(&config)?;
    let idle = if args.idle > 0 {
        let idle = loadgen::hold_idle(config.addr, args.idle, config.framing, config.timeout)?;
        // On stderr, at once: a script can look at the server while the crowd is held.
        eprintln!("holding {} idle connections", idle.streams.len());
        Some(idle)
    } else {
        None
    };
    let report = loadgen::run(&config)?;
    if args.csv {
        say(&report.csv_line(&args.label))?;
    } else {
        say(&report.summary())?;
    }
    if let Some(idle) = idle {
        say(&idle.summary())?;
    }
    if report.all_failed() {
        let why = report.first_failure.as_deref().unwrap_or("no reason known");
        return Err(format!(
            "every one of the {} clients failed; the first: {why}",
            report.failed
        ));
    }
    Ok(())
}

fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    let bad =
        || format!("`{text}` is not an address of the form HOST:PORT, such as 127.0.0.1:8888");
    text.to_socket_addrs()
        .map_err(|_| bad())?
        .next()
        .ok_or_else(bad)
}
