//! The original Python servers (`tests/originals/`) under the checker: which checks they fail
//! must be what the book shows (`book/src/output/original/`, written by
//! `book/scripts/original.sh`). They need python3: ignored by plain `cargo test`, and failed,
//! saying why, when run with `--ignored` where python3 is missing.

use std::collections::BTreeSet;
use std::fs;
use std::sync::Mutex;
use std::time::Duration;

use checker::{Dialect, Lesson, Options, Status, Target, parse_statuses};
use test_support::{originals, workspace_root};

/// Runs the checks on a fresh copy of the original for each check, with the options
/// `book/scripts/original.sh` uses, and compares pass and fail with the committed output.
fn agrees_with_the_book(lesson: Lesson, file: &str) {
    // One original at a time: server.py spins a core in some checks, and threaded_server.py's
    // results depend on how many of its ~130 threads a crowd of clients reaches in time.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let target = originals::required(Target::original(lesson));
    let options = Options {
        dialect: Dialect::Original,
        idle_timeout: Some(Duration::from_secs(2)),
        timeout: Duration::from_secs(2),
        ..Options::default()
    };
    let report = checker::check(lesson, &target, &options);
    println!("{report}");

    let path = workspace_root().join("book/src/output/original").join(file);
    let committed =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let book = parse_statuses(&committed);
    let live = report.statuses();
    let names: BTreeSet<&String> = book.keys().chain(live.keys()).collect();
    let differences: Vec<String> = names
        .into_iter()
        .filter(|name| book.get(*name) != live.get(*name))
        .map(|name| {
            let (was, is) = (book.get(name), live.get(name));
            format!("{name}: the book says {was:?}, the checker says {is:?}")
        })
        .collect();
    assert!(
        differences.is_empty(),
        "{} disagrees with the checker; if the checker is right, run \
         `book/scripts/regen-output.sh original` and commit:\n{}",
        path.display(),
        differences.join("\n")
    );
    // The point of the file: the original fails checks that the course's servers pass.
    assert!(live.values().any(|s| *s == Status::Fail));
}

#[test]
#[ignore = "needs python3"]
fn server_py_fails_what_the_book_says_it_fails() {
    agrees_with_the_book(Lesson::L02, "server.txt");
}

#[test]
#[ignore = "needs python3"]
fn threaded_server_py_fails_what_the_book_says_it_fails() {
    agrees_with_the_book(Lesson::L03, "threaded_server.txt");
}
