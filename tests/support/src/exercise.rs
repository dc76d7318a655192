//! The exercise mechanism every lesson uses.
//!
//! Each lesson writes every check once, as a function that takes the implementation under test
//! and returns `Ok(())` or `Err(what went wrong)`. Its `tests/exercises.rs` then has, for each
//! exercise, three tests:
//!
//! - the check on the reference solution must pass (a normal test, always run);
//! - the check on a deliberately wrong answer must fail (a normal test: a check that cannot fail
//!   is a defect);
//! - the check on the learner's stub, marked `#[ignore = "exercise N: task"]`, which
//!   `cargo test -p lesson-NN -- --ignored` runs and reports with [`report`].

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Once, mpsc};
use std::thread;
use std::time::Duration;

/// What one exercise is: its number, its one-line task and the hint shown when it fails.
pub struct Exercise {
    pub number: u32,
    pub task: &'static str,
    pub hint: &'static str,
}

/// Runs `check` on a thread of its own and waits at most `timeout`. A panic inside (such as a
/// stub's `todo!()`) and a check that hangs (such as a blocking call with no timeout) become
/// errors instead of crashing or hanging the test run.
pub fn run_bounded<F>(timeout: Duration, check: F) -> Result<(), String>
where
    F: FnOnce() -> Result<(), String> + Send + 'static,
{
    match spawn_checked(check).recv_timeout(timeout) {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => Err(panic),
        // The thread is left behind, blocked; the test process ends soon after anyway.
        Err(_) => Err(format!(
            "still running after {timeout:?}: something waits with no deadline"
        )),
    }
}

/// Starts `f` on a check thread of its own and returns at once. The receiver gets `Ok(value)`
/// when `f` returns, or `Err(what the panic said)` when it panics (a stub's `todo!()` reads as
/// "the stub still says todo!()"). For checks that must act while the code under test runs,
/// such as a client talking to a learner's server function.
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

/// Prints the verdict for one exercise and fails the test when the check failed.
pub fn report(exercise: &Exercise, result: Result<(), String>) {
    let Exercise { number, task, hint } = exercise;
    match result {
        Ok(()) => println!("exercise {number} ({task}): pass"),
        Err(why) => {
            let verdict =
                format!("exercise {number} ({task}): FAIL\n  what happened: {why}\n  hint: {hint}");
            eprintln!("{verdict}");
            // Fails the test without a backtrace: the verdict above says all there is to say.
            panic::resume_unwind(Box::new(verdict));
        }
    }
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

/// Asserts that a check rejects a wrong answer, for the always-run tests.
pub fn assert_fails(exercise: &Exercise, result: Result<(), String>) {
    if result.is_ok() {
        panic!(
            "the check for exercise {} passed a deliberately wrong answer: it cannot fail",
            exercise.number
        );
    }
}

fn describe_panic(payload: Box<dyn Any + Send>) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_string());
    if message.starts_with("not yet implemented") {
        format!("the stub still says todo!() ({message})")
    } else {
        format!("it panicked: {message}")
    }
}
