//! The course's conformance checker (`cargo run -p checker -- --lesson 02 ...`) on the real
//! lesson-02 server: every check, protocol and hostile clients alike, must pass, and after each
//! hostile client a well-behaved one must still be served by the same running server.

use std::time::Duration;

use checker::{Lesson, Options};
use test_support::Server;

#[test]
fn the_server_passes_every_check_of_the_checker() {
    // A two-second idle timeout, so the silent-client check need not wait five minutes.
    let server = Server::start(env!("CARGO_BIN_EXE_lesson-02"), &["--idle-timeout", "2"]);
    let options = Options {
        idle_timeout: Some(Duration::from_secs(2)),
        // The server bounds each line in total, not per read: hold it to the slowloris checks.
        min_rate: Some(16 << 10),
        ..Options::default()
    };
    checker::assert_running_server_passes(Lesson::L02, server.addr(), server.pid(), &options);
}
