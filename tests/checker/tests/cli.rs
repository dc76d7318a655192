//! The command line: its output format, its exit status, and the requests it refuses.

mod samples;

use std::process::Command;

use checker::Lesson;
use samples::{Flaw, Sample};
use test_support::{DEADLINE, Finished, run_to_end};

const CHECKER: &str = env!("CARGO_BIN_EXE_checker");

fn checker(args: &[&str]) -> Finished {
    let mut command = Command::new(CHECKER);
    command.args(args);
    run_to_end(command, b"", DEADLINE)
}

#[test]
fn one_line_per_check_then_the_summary_and_exit_zero_when_all_pass() {
    let sample = Sample::start(Lesson::L02, Flaw::None);
    let addr = sample.addr().to_string();
    let out = checker(&[
        "--lesson", "02", "--addr", &addr, "--only", "greeting", "--only", "exit",
    ]);
    assert_eq!(
        out.stdout,
        "pass  greeting\npass  exit\n2 passed, 0 failed\n"
    );
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
}

#[test]
fn a_failed_check_says_what_it_saw_and_exits_one() {
    let sample = Sample::start(Lesson::L02, Flaw::IgnoresExit);
    let addr = sample.addr().to_string();
    let out = checker(&[
        "--lesson",
        "2",
        "--addr",
        &addr,
        "--only",
        "exit",
        "--timeout",
        "0.5",
    ]);
    assert!(
        out.stdout
            .starts_with("FAIL  exit: saw \"message 1: exit\\n\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains(", expected \"bye\" then the connection closed\n")
    );
    assert!(
        out.stdout.ends_with("0 passed, 1 failed\n"),
        "{}",
        out.stdout
    );
    assert_eq!(out.code(), Some(1));
}

#[test]
fn skipped_checks_are_listed_but_not_counted() {
    let sample = Sample::start(Lesson::L02, Flaw::None);
    let addr = sample.addr().to_string();
    let out = checker(&["--lesson", "02", "--addr", &addr, "--only", "silent-client"]);
    assert!(
        out.stdout
            .starts_with("skip  silent-client: the server's idle timeout is unknown"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.ends_with("\n0 passed, 0 failed\n"),
        "{}",
        out.stdout
    );
    assert_eq!(out.code(), Some(0));
}

#[test]
fn requests_it_refuses_get_one_sentence_and_exit_two() {
    let refused: [(&[&str], &str); 6] = [
        (
            &["--lesson", "02", "--addr", "10.1.2.3:8888"],
            "not a loopback address",
        ),
        (&["--lesson", "01", "--addr", "127.0.0.1:8888"], "--spawn"),
        (&["--lesson", "06"], "there is no lesson 06"),
        (
            &["--lesson", "04", "--dialect", "original"],
            "no original dialect",
        ),
        (
            &["--lesson", "02", "--only", "no-such-check"],
            "no check called",
        ),
        (&["--lesson", "02", "--addr", "nowhere"], "not an address"),
    ];
    for (args, needle) in refused {
        let out = checker(args);
        assert_eq!(out.code(), Some(2), "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.starts_with("error: "),
            "{args:?}: {}",
            out.stderr
        );
        assert!(out.stderr.contains(needle), "{args:?}: {}", out.stderr);
        assert_eq!(out.stderr.lines().count(), 1, "{args:?}: {}", out.stderr);
    }
}

#[test]
fn help_explains_skips_spawn_and_the_originals_and_list_names_the_checks() {
    let help = checker(&["--help"]);
    assert_eq!(help.code(), Some(0));
    for needle in [
        "skip  NAME",
        "Lesson 01",
        "--spawn",
        "--original",
        "--idle-timeout",
        "--pid",
        "--max-size",
        "Lesson 04",
    ] {
        assert!(
            help.stdout.contains(needle),
            "--help lacks {needle}:\n{}",
            help.stdout
        );
    }
    let list = checker(&["--lesson", "03", "--list"]);
    assert_eq!(list.code(), Some(0));
    for name in [
        "greeting",
        "half-close",
        "served-after-half-close",
        "idle-timeout",
        "1000-burst",
    ] {
        assert!(
            list.stdout.contains(name),
            "--list lacks {name}:\n{}",
            list.stdout
        );
    }
}

#[test]
fn the_book_shows_the_current_lists_of_checks() {
    for lesson in ["03", "04"] {
        let path = test_support::workspace_root()
            .join(format!("book/src/output/checker/list-{lesson}.txt"));
        let book = std::fs::read_to_string(&path).unwrap();
        let list = checker(&["--lesson", lesson, "--list"]);
        let shown: Vec<&str> = book.lines().skip(1).collect();
        let now: Vec<&str> = list.stdout.lines().collect();
        assert_eq!(
            shown,
            now,
            "{} is out of date: run `book/scripts/regen-output.sh checker` and commit",
            path.display()
        );
    }
}
