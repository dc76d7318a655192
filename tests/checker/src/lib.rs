//! The conformance checker: it checks any server that claims one of the course's protocols, in
//! any language, and says for each check whether it passed.
//!
//! ```text
//! cargo run -p checker -- --lesson 02 --addr 127.0.0.1:8888
//! ```
//!
//! It prints one line per check, `pass  NAME`, `FAIL  NAME: saw X, expected Y` or
//! `skip  NAME: REASON`, then `N passed, N failed`. First the protocol (greeting, replies,
//! counting, `exit`, end of stream), then hostile clients (one that vanishes mid-line, one that
//! resets, one that half-closes, bytes that are not UTF-8, a character split across packets, a
//! line of 1 MiB, a silent client, a slow client, `a\nexit\n` in one packet, 200 connections
//! dropped at once, 1,000 connections in a burst), each followed by a check that the server
//! still serves a well-behaved client. Every wait has a deadline, and the checker talks only
//! to the address it is given, which must be loopback unless `--allow-remote`.
//!
//! # Using it from a lesson's tests
//!
//! A lesson checks its own server with one call. Lesson 01's server exits after one client, so
//! it gets a fresh server for every check; lessons 02 and 03 run once and face every check in
//! turn. To add the test to lesson NN:
//!
//! 1. In `lessons/lesson-NN/Cargo.toml`, under `[dev-dependencies]`:
//!    `checker = { path = "../../tests/checker" }` (and `test-support.workspace = true`, which
//!    the lessons already have).
//! 2. Create `lessons/lesson-NN/tests/conformance.rs`. For lesson 02:
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use checker::{Lesson, Options, Target};
//! use test_support::Server;
//!
//! #[test]
//! fn the_server_passes_every_check() {
//!     // A short idle timeout, so the silent-client check does not wait 300 s.
//!     # let bin = "lesson-02"; // in the test: env!("CARGO_BIN_EXE_lesson-02")
//!     let server = Server::start(bin, &["--idle-timeout", "1"]);
//!     let options = Options {
//!         idle_timeout: Some(Duration::from_secs(1)),
//!         ..Options::default()
//!     };
//!     let target = Target::running_with_pid(server.addr(), server.pid());
//!     checker::check(Lesson::L02, &target, &options).assert_all_passed();
//! }
//! ```
//!
//!    Lesson 03 is the same with `Lesson::L03` and `env!("CARGO_BIN_EXE_lesson-03")` (its
//!    server also takes `--idle-timeout`). Lesson 01 uses a fresh server per check:
//!    `Target::spawn_binary(env!("CARGO_BIN_EXE_lesson-01"), &["--idle-timeout", "1"])` and no
//!    `Server` of its own (see `lessons/lesson-01/tests/conformance.rs`).
//!
//! [`Report::assert_all_passed`] fails the test, printing the whole report, when any check
//! failed or was skipped. The run takes about ten seconds (the slow client alone takes two).
//!
//! # Adding a lesson
//!
//! Each lesson's checks are a table, a `Vec<`[`Check`]`>` made by a module: [`lines`] for the
//! text protocols of lessons 01 to 03. Lesson 04's binary protocol gets a module of its own
//! with its own table, one more arm in [`checks`], and a variant in [`Lesson`]; the runner, the
//! report, the targets and the command line stay as they are.

pub mod check;
pub mod conn;
pub mod cpu;
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
}

impl FromStr for Lesson {
    type Err = String;

    fn from_str(text: &str) -> Result<Lesson, String> {
        match text.trim_start_matches('0') {
            "1" => Ok(Lesson::L01),
            "2" => Ok(Lesson::L02),
            "3" => Ok(Lesson::L03),
            "4" => Err("the checks for lesson 04 are not written yet".into()),
            _ => Err(format!(
                "there is no lesson {text}; the checker knows 01, 02 and 03"
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
}

impl Default for Options {
    fn default() -> Options {
        Options {
            dialect: Dialect::Course,
            idle_timeout: None,
            timeout: Duration::from_secs(3),
            only: Vec::new(),
            allow_remote: false,
        }
    }
}

/// The table of checks for `lesson`, in the order they run.
pub fn checks(lesson: Lesson, options: &Options) -> Vec<Check> {
    match lesson {
        Lesson::L01 | Lesson::L02 | Lesson::L03 => lines::checks(lines::Spec {
            lesson,
            dialect: options.dialect,
        }),
    }
}

/// Runs every check (or those in `options.only`) on `target` and returns the report. Panics
/// when the request makes no sense (see [`try_check`]): meant for tests.
#[track_caller]
pub fn check(lesson: Lesson, target: &Target, options: &Options) -> Report {
    try_check(lesson, target, options).unwrap_or_else(|e| panic!("checker: {e}"))
}

/// Like [`check`], but says what is wrong with the request instead of panicking: lesson 01
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
    validate(lesson, target, options)?;
    let mut report = Report::default();
    let mut record = |name: &str, outcome: Outcome| {
        let result = CheckResult {
            name: name.to_string(),
            outcome,
        };
        each(&result);
        report.results.push(result);
    };
    for check in selected(lesson, options)? {
        let (addr, pid, mut instance) = match target {
            Target::Running { addr, pid } => (*addr, *pid, None),
            Target::Fresh(start) => match start() {
                Ok(server) => (server.addr(), server.pid(), Some(server)),
                Err(e) => {
                    for name in check.names() {
                        record(
                            name,
                            report::fail(
                                format!("the server did not start ({e})"),
                                "a server to check",
                            ),
                        );
                    }
                    continue;
                }
            },
        };
        let mut probe = Probe {
            addr,
            pid,
            options,
            instance: instance.as_deref_mut().map(|i| i as &mut dyn Instance),
        };
        let outcome = run(&check, &mut probe);
        let skipped = matches!(outcome, Outcome::Skip(_));
        record(&check.name, outcome);
        if let Some(then) = &check.then {
            let outcome = if skipped {
                Outcome::Skip(format!("{} was skipped", check.name))
            } else {
                run(then, &mut probe)
            };
            record(&then.name, outcome);
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
    if lesson == Lesson::L01 && options.dialect == Dialect::Original {
        return Err(
            "lesson 01 has no original dialect: the originals are lessons 02 and 03".into(),
        );
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
