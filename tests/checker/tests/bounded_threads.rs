//! The check `bounded-threads` counts the threads of the server's process. The samples run
//! inside the test process, so this file holds this one test: in a process of its own, nothing
//! but the sample starts or ends threads while the check counts them. (Among the other tests'
//! threads, one that ends during the count can hide a thread the sample started: the check
//! once passed a thread-per-connection sample that way.)

mod samples;

use std::time::{Duration, Instant};

use checker::{Lesson, Options, Report, Status, Target};
use samples::upload::{self, Fault};
use samples::{Flaw, Sample};
use test_support::observe::thread_count;

/// Waits (at most 5 s) until this process's thread count has held still for 100 ms: the
/// threads of the sample before have ended.
fn settle() {
    let pid = std::process::id();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut last = thread_count(pid);
    let mut still_since = Instant::now();
    while Instant::now() < deadline && still_since.elapsed() < Duration::from_millis(100) {
        // Polling a count that only /proc shows; not synchronisation by sleeping.
        std::thread::sleep(Duration::from_millis(10));
        let now = thread_count(pid);
        if now != last {
            last = now;
            still_since = Instant::now();
        }
    }
}

fn bounded_threads(lesson: Lesson, addr: std::net::SocketAddr) -> Report {
    settle();
    let options = Options {
        only: vec!["bounded-threads".to_string()],
        timeout: Duration::from_secs(2),
        ..Options::default()
    };
    checker::check(
        lesson,
        &Target::running_with_pid(addr, std::process::id()),
        &options,
    )
}

#[test]
fn bounded_threads_fails_every_server_that_starts_a_thread_per_connection() {
    for lesson in [Lesson::L02, Lesson::L03, Lesson::L05, Lesson::L04] {
        let report = if lesson == Lesson::L04 {
            let sample = upload::Sample::start(Fault::ThreadPerConnection);
            bounded_threads(lesson, sample.addr())
        } else {
            let sample = Sample::start(lesson, Flaw::ThreadPerConnection);
            bounded_threads(lesson, sample.addr())
        };
        let status = report.get("bounded-threads").map(|r| r.outcome.status());
        assert_eq!(status, Some(Status::Fail), "lesson {lesson}:\n{report}");
    }
}
