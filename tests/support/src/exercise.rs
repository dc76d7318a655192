//! The exercise mechanism every lesson uses: each exercise written once, in one table entry.
//!
//! A lesson's `tests/exercises.rs` is a test target of its own with `harness = false`: its
//! `main` lists the lesson's exercises, each an [`Exercise`] that holds its number, its task,
//! its hints (in stages), its check, our answer, the learner's stub and the wrong answers the
//! check must reject, then hands them to [`main`]. That one program runs two ways:
//!
//! - `cargo test` (any libtest flags): proves the checks. Our answer must pass; every wrong
//!   answer must fail, with a message that names its misconception. The learner's stubs are
//!   never run, so plain `cargo test` stays green whatever state they are in.
//! - `cargo test -p lesson-NN --test exercises -- mine`: checks the learner's stubs, in order,
//!   one line each, then `N passed, N failed`. `HINT=1` (then 2, 3 …) adds the hints, one
//!   stage more each time; an untouched stub shows its task, never the method.

use std::any::Any;
use std::fmt::Write as _;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Once, mpsc};
use std::thread;
use std::time::Duration;

/// A wrong answer a learner could write, and the words its failure must contain: the check
/// names the misconception, so a learner who makes it reads why.
pub struct Wrong<F> {
    /// What the wrong answer does, in a few words (shown when the check is proven).
    pub does: &'static str,
    pub answer: F,
    /// Words the check's failure message must contain for this wrong answer.
    pub rejected_with: &'static str,
}

/// One exercise, written once. `F` is the type of the function under test (a `fn` pointer).
pub struct Exercise<F: 'static> {
    pub number: u32,
    /// The one-line task: the stub's `todo!("exercise N: TASK")` and the report say the same.
    pub task: &'static str,
    /// Hints in stages: a nudge first, the method last. Shown only on request (`HINT=n`).
    pub hints: &'static [&'static str],
    /// The longest the check may take on a correct answer, with room for a loaded machine.
    pub bound: Duration,
    /// What a check still running after `bound` most likely means, as a question.
    pub hang: &'static str,
    pub check: fn(F) -> Result<(), String>,
    pub solution: F,
    pub mine: F,
    pub wrong: &'static [Wrong<F>],
}

/// What the runner needs of an exercise, whatever the type of its function.
pub trait Runnable {
    fn number(&self) -> u32;
    fn task(&self) -> &'static str;
    fn hints(&self) -> &'static [&'static str];
    fn run_solution(&self) -> Result<(), String>;
    fn run_mine(&self) -> Result<(), String>;
    /// Every wrong answer: (what it does, the words its failure must hold, the check's result).
    fn run_wrong(&self) -> Vec<(&'static str, &'static str, Result<(), String>)>;
}

impl<F: Copy + Send + 'static> Runnable for Exercise<F> {
    fn number(&self) -> u32 {
        self.number
    }
    fn task(&self) -> &'static str {
        self.task
    }
    fn hints(&self) -> &'static [&'static str] {
        self.hints
    }
    fn run_solution(&self) -> Result<(), String> {
        self.run(self.solution)
    }
    fn run_mine(&self) -> Result<(), String> {
        self.run(self.mine)
    }
    fn run_wrong(&self) -> Vec<(&'static str, &'static str, Result<(), String>)> {
        self.wrong
            .iter()
            .map(|w| (w.does, w.rejected_with, self.run(w.answer)))
            .collect()
    }
}

impl<F: Copy + Send + 'static> Exercise<F> {
    fn run(&self, answer: F) -> Result<(), String> {
        let check = self.check;
        let (bound, hang) = (self.bound, self.hang);
        match spawn_checked(move || check(answer)).recv_timeout(bound) {
            Ok(Ok(result)) => result,
            Ok(Err(panic)) => Err(panic),
            // The thread is left behind, blocked; the process ends soon after anyway.
            Err(_) => Err(format!("still running after {bound:?}: {hang}")),
        }
    }
}

/// `fn main` of a lesson's `tests/exercises.rs`: [`main`] for the package being built, with the
/// exercises named, in order: `test_support::exercises_main!(EXERCISE_1, EXERCISE_2);`.
#[macro_export]
macro_rules! exercises_main {
    ($($exercise:ident),+ $(,)?) => {
        fn main() -> std::process::ExitCode {
            $crate::exercise::main(
                env!("CARGO_PKG_NAME"),
                env!("CARGO_MANIFEST_DIR"),
                &[$(&$exercise as &dyn $crate::exercise::Runnable),+],
            )
        }
    };
}

/// The whole test program: `lesson` is the package (`lesson-01`), `manifest_dir` its folder
/// (`env!("CARGO_MANIFEST_DIR")`), `exercises` in order.
pub fn main(lesson: &str, manifest_dir: &str, exercises: &[&dyn Runnable]) -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mine = args.iter().any(|a| a == "mine");
    let list = args.iter().any(|a| a == "--list");
    let command = format!("cargo test -p {lesson} --test exercises -- mine");
    if mine {
        // `mine 2` checks exercise 2 alone.
        let only: Vec<u32> = args.iter().filter_map(|a| a.parse().ok()).collect();
        let chosen: Vec<&&dyn Runnable> = exercises
            .iter()
            .filter(|e| only.is_empty() || only.contains(&e.number()))
            .collect();
        if list {
            for e in chosen {
                println!("exercise_{}: test", e.number());
            }
            return ExitCode::SUCCESS;
        }
        return check_mine(&chosen, &command);
    }
    // libtest's conventions, so that `cargo test` with any flags or filters does nothing harmful:
    // this program is one test, `exercise_checks`, never ignored.
    const NAME: &str = "exercise_checks";
    if list {
        println!("{NAME}: test");
        return ExitCode::SUCCESS;
    }
    let mut filters = Vec::new();
    let mut skips = Vec::new();
    let mut ignored_only = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--skip" => skips.extend(rest.next()),
            "--ignored" => ignored_only = true,
            // Options that take a value: skip the value too.
            "--test-threads" | "--format" | "--color" | "--logfile" | "-Z" | "--shuffle-seed"
            | "--report-time" => {
                rest.next();
            }
            a if a.starts_with('-') => {}
            a => filters.push(a.to_string()),
        }
    }
    let selected = !ignored_only
        && (filters.is_empty() || filters.iter().any(|f| NAME.contains(f.as_str())))
        && !skips.iter().any(|s| NAME.contains(s.as_str()));
    if !selected {
        return ExitCode::SUCCESS;
    }
    prove(lesson, manifest_dir, exercises, &command)
}

/// Checks the learner's stubs: one line per exercise, then `N passed, N failed`.
fn check_mine(exercises: &[&&dyn Runnable], command: &str) -> ExitCode {
    let stage: usize = std::env::var("HINT")
        .ok()
        .and_then(|h| h.trim().parse().ok())
        .unwrap_or(0);
    let (mut passed, mut failed) = (0, 0);
    for e in exercises {
        let (number, task, hints) = (e.number(), e.task(), e.hints());
        match e.run_mine() {
            Ok(()) => {
                passed += 1;
                println!("exercise {number} ({task}): pass");
            }
            Err(why) => {
                failed += 1;
                let shown = stage.min(hints.len());
                let next = if shown < hints.len() {
                    format!("; next hint: HINT={} {command}", shown + 1)
                } else {
                    String::new()
                };
                println!("exercise {number} ({task}): FAIL: {why}{next}");
                for (i, hint) in hints[..shown].iter().enumerate() {
                    println!("    hint {}: {hint}", i + 1);
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    // Success either way: the lines above are the report, and a failing status would add
    // cargo's own error lines under it. Scripts read the last line.
    ExitCode::SUCCESS
}

/// Proves every check: our answer passes, every wrong answer fails naming its misconception,
/// the misconceptions are told apart, and the stubs' text agrees with the table.
fn prove(lesson: &str, manifest_dir: &str, exercises: &[&dyn Runnable], command: &str) -> ExitCode {
    let stubs = std::fs::read_to_string(Path::new(manifest_dir).join("src/exercises.rs"))
        .unwrap_or_default();
    let mut problems = Vec::new();
    for e in exercises {
        let (number, task) = (e.number(), e.task());
        let mut line = format!("{lesson} exercise {number} ({task}):");
        // The stub's todo!() and doc line say what the table says, when they are still there.
        let todo = format!("todo!(\"exercise {number}: ");
        if let Some(at) = stubs.find(&todo) {
            let said = stubs[at + todo.len()..].split('"').next().unwrap_or("");
            if said != task {
                problems.push(format!(
                    "exercise {number}: the stub says todo!(\"exercise {number}: {said}\"), \
                     the table says {task:?}"
                ));
            }
        }
        if e.hints().is_empty() {
            problems.push(format!("exercise {number} has no hint"));
        }
        match e.run_solution() {
            Ok(()) => line.push_str(" our answer passes"),
            Err(why) => problems.push(format!(
                "exercise {number}: the check fails our answer: {why}"
            )),
        }
        let wrong = e.run_wrong();
        let mut seen: Vec<&str> = Vec::new();
        for (does, rejected_with, result) in &wrong {
            if seen.contains(rejected_with) {
                problems.push(format!(
                    "exercise {number}: two wrong answers are told {rejected_with:?}: each \
                     misconception needs its own message"
                ));
            }
            seen.push(rejected_with);
            match result {
                Ok(()) => problems.push(format!(
                    "exercise {number}: the check passes a wrong answer that {does}"
                )),
                Err(why) if !why.contains(rejected_with) => problems.push(format!(
                    "exercise {number}: the wrong answer that {does} fails, but with \
                     {why:?}, which does not say {rejected_with:?}"
                )),
                Err(_) => {}
            }
        }
        let _ = write!(line, "; {} wrong answers rejected", wrong.len());
        println!("{line}");
    }
    if problems.is_empty() {
        println!("every exercise check is proven; check your own answers with `{command}`");
        ExitCode::SUCCESS
    } else {
        for p in &problems {
            println!("PROBLEM: {p}");
        }
        ExitCode::FAILURE
    }
}

/// Starts `f` on a check thread of its own and returns at once. The receiver gets `Ok(value)`
/// when `f` returns, or `Err(what the panic said)` when it panics (a stub's `todo!()` reads as
/// "not written yet"). For checks that must act while the code under test runs, such as a
/// client talking to a learner's server function.
pub fn spawn_checked<T, F>(f: F) -> mpsc::Receiver<Result<T, String>>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    quiet_panics_in_checks();
    let (tx, rx) = mpsc::channel();
    thread::Builder::new()
        .name(CHECK_THREAD.to_string())
        .spawn(move || {
            let outcome = panic::catch_unwind(AssertUnwindSafe(f)).map_err(describe_panic);
            let _ = tx.send(outcome);
        })
        .expect("a thread for the check");
    rx
}

/// The name of the thread a check runs on; panics there are reported, not printed.
const CHECK_THREAD: &str = "exercise-check";

/// A stub's `todo!()` panics by design: print nothing for panics on a check thread (the report
/// says what happened), and leave every other panic to the usual hook.
fn quiet_panics_in_checks() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let usual = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if thread::current().name() != Some(CHECK_THREAD) {
                usual(info);
            }
        }));
    });
}

fn describe_panic(payload: Box<dyn Any + Send>) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_string());
    if message.starts_with("not yet implemented") {
        "not written yet (the stub still says todo!())".to_string()
    } else {
        format!("it panicked: {message}")
    }
}

/// The number of threads this process has now (Linux: from `/proc/self/status`), to see whether
/// the code under test left a thread behind. `None` where there is no `/proc`.
pub fn thread_count() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}
