//! The course's conformance checker (`cargo run -p checker -- --lesson 01 ...`) on the real
//! lesson-01 server: every check, protocol and hostile clients alike, must pass. The server
//! exits after one client, so the checker starts a fresh one for each check.

use std::time::Duration;

use checker::{Lesson, Options, Target};

#[test]
fn the_server_passes_every_check_of_the_checker() {
    // A one-second idle timeout, so the silent-client check need not wait a minute.
    let target = Target::spawn_binary(env!("CARGO_BIN_EXE_lesson-01"), &["--idle-timeout", "1"]);
    let options = Options {
        idle_timeout: Some(Duration::from_secs(1)),
        ..Options::default()
    };
    let report = checker::check(Lesson::L01, &target, &options);
    println!("{report}");
    report.assert_all_passed();
}
