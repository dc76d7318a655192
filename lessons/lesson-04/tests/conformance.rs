//! The course's conformance checker (`cargo run -p checker -- --lesson 04 ...`) on the real
//! lesson-04 server: every check, protocol and hostile clients alike, must pass, and after each
//! hostile client a well-behaved one must still upload and download on the same running server.

mod common;

use std::time::Duration;

use checker::{Lesson, Options};
use common::{Scratch, names_in};
use test_support::Server;

#[test]
fn the_server_passes_every_check_of_the_checker() {
    // A fresh folder, removed when `dir` is dropped, even if the test fails.
    let dir = Scratch::new("conformance");
    let server = Server::start(
        env!("CARGO_BIN_EXE_lesson-04"),
        &[
            "--dir",
            dir.path.to_str().unwrap(),
            // Short, so the idle-timeout check need not wait 30 s.
            "--idle-timeout",
            "2",
            // Known to the checker, so too-large declares exactly one byte over it.
            "--max-size",
            "1M",
        ],
    );
    let options = Options {
        idle_timeout: Some(Duration::from_secs(2)),
        max_size: Some(1 << 20),
        // The server's default --min-rate: the slow-frame and slow-upload checks hold it to it.
        min_rate: Some(16 << 10),
        ..Options::default()
    };
    checker::assert_running_server_passes(Lesson::L04, server.addr(), server.pid(), &options);

    // Every upload the checker cut short, refused or reset is gone: not one temporary file.
    drop(server);
    let hidden: Vec<String> = names_in(&dir.path)
        .into_iter()
        .filter(|name| name.starts_with('.'))
        .collect();
    assert!(hidden.is_empty(), "left behind: {hidden:?}");
}
