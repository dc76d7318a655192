//! The course's conformance checker (`cargo run -p checker -- --lesson 05 ...`) on the real
//! lesson-05 server: lesson 03's checks, plus a client that never reads and thousands of idle
//! connections, each followed by a well-behaved client served by the same running server.

use std::time::Duration;

use checker::{Lesson, Options};
use test_support::Server;

#[test]
fn the_server_passes_every_check_of_the_checker() {
    // A two-second idle timeout, so the silent-client check need not wait a minute.
    let server = Server::start(env!("CARGO_BIN_EXE_lesson-05"), &["--idle-timeout", "2"]);
    let options = Options {
        idle_timeout: Some(Duration::from_secs(2)),
        // The idle timeout bounds a whole line, not a read: hold it to the slowloris checks.
        min_rate: Some(16 << 10),
        ..Options::default()
    };
    checker::assert_running_server_passes(Lesson::L05, server.addr(), server.pid(), &options);
}
