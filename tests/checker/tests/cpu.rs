//! The half-close check measures the server's CPU time when it knows the server's process id:
//! a server that closes properly but then spins fails it, and a quiet one passes.
//!
//! The sample servers run in this test's own process, so this file holds one test only: nothing
//! else runs in the process while the CPU is measured.

mod samples;

use std::time::Duration;

use checker::{Lesson, Options, Status, Target};
use samples::{Flaw, IDLE, Sample};

fn half_close(flaw: Flaw) -> checker::Report {
    let sample = Sample::start(Lesson::L02, flaw);
    let target = Target::running_with_pid(sample.addr(), std::process::id());
    let options = Options {
        idle_timeout: Some(IDLE),
        timeout: Duration::from_secs(1),
        only: vec!["half-close".into()],
        ..Options::default()
    };
    checker::check(Lesson::L02, &target, &options)
}

#[test]
fn a_busy_loop_after_a_half_close_fails_and_a_quiet_server_passes() {
    // The course runs on Linux: /proc is there to measure CPU time with.
    assert!(
        checker::cpu::used(std::process::id()).is_some(),
        "cannot read this process's CPU time from /proc"
    );
    // First, while nothing spins: the correct server is quiet after a half-close.
    let quiet = half_close(Flaw::None);
    assert_eq!(
        quiet.get("half-close").unwrap().outcome.status(),
        Status::Pass,
        "{quiet}"
    );

    // Without the process id, the spinning server looks fine: it replied and closed.
    let sample = Sample::start(Lesson::L02, Flaw::SpinsAfterClose);
    let options = Options {
        only: vec!["half-close".into()],
        timeout: Duration::from_secs(1),
        ..Options::default()
    };
    let blind = checker::check(Lesson::L02, &Target::running(sample.addr()), &options);
    assert_eq!(
        blind.get("half-close").unwrap().outcome.status(),
        Status::Pass
    );
    drop(sample);

    let spinning = half_close(Flaw::SpinsAfterClose);
    let result = spinning.get("half-close").unwrap();
    assert_eq!(result.outcome.status(), Status::Fail, "{spinning}");
    assert!(result.to_string().contains("% of a CPU"), "{spinning}");
}
