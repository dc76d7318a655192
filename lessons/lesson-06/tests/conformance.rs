//! The course's conformance checker on the real lesson-06 server: lesson 02's protocol and
//! every hostile client, and the check that accepted connections carry a keepalive timer.

use std::time::Duration;

use checker::{Lesson, Options};
use test_support::Server;

#[test]
fn the_server_passes_every_check_of_lesson_02_and_the_keepalive_check() {
    let server = Server::start(
        env!("CARGO_BIN_EXE_lesson-06"),
        // At most 8 clients at once: the bounded-threads check lets a server grow by 8 threads.
        &[
            "--idle-timeout",
            "2",
            "--keepalive-idle",
            "5",
            "--max-clients",
            "8",
        ],
    );
    let options = Options {
        idle_timeout: Some(Duration::from_secs(2)),
        keepalive: Some(Duration::from_secs(5)),
        // Each line is bounded in total, not per read: hold it to the slowloris checks.
        min_rate: Some(16 << 10),
        ..Options::default()
    };
    checker::assert_running_server_passes(Lesson::L02, server.addr(), server.pid(), &options);
}
