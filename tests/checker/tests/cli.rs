//! The command line: its output format, its exit status, and the requests it refuses.

mod samples;

use std::process::Command;

use checker::Lesson;
use samples::{Flaw, Sample};
use test_support::cli::assert_stops_when_stdout_is_closed;
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
fn a_pid_that_is_not_the_server_is_refused_not_measured() {
    let sample = Sample::start(Lesson::L02, Flaw::None);
    let addr = sample.addr().to_string();
    // A process of ours that holds no listening socket, as `timeout` around a server would be.
    let mut other = Command::new("sleep")
        .arg("30")
        .spawn()
        .expect("sleep starts");
    let other_pid = other.id().to_string();
    let out = checker(&[
        "--lesson", "02", "--addr", &addr, "--pid", &other_pid, "--only", "greeting",
    ]);
    let _ = other.kill();
    let _ = other.wait();
    assert_eq!(
        out.code(),
        Some(2),
        "stdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stderr.contains("holds no socket listening on port"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "", "no check runs");
    // The sample server runs inside this test process: its own pid is accepted.
    let own_pid = std::process::id().to_string();
    let out = checker(&[
        "--lesson", "02", "--addr", &addr, "--pid", &own_pid, "--only", "greeting",
    ]);
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
}

#[test]
fn a_wait_of_zero_or_of_centuries_is_a_usage_error_not_a_panic() {
    for option in ["--timeout", "--idle-timeout"] {
        for value in ["0", "-1", "1e19", "inf", "soon"] {
            let out = checker(&["--lesson", "02", option, value]);
            assert_eq!(out.code(), Some(2), "{option} {value}: {}", out.stderr);
            assert!(
                out.stderr.starts_with("error: ") && !out.stderr.contains("panicked"),
                "{option} {value}: {}",
                out.stderr
            );
        }
    }
}

#[test]
fn a_closed_stdout_stops_the_run_without_a_panic() {
    let sample = Sample::start(Lesson::L02, Flaw::None);
    let addr = sample.addr().to_string();
    for args in [
        vec!["--lesson", "02", "--list"],
        vec!["--lesson", "02", "--addr", &addr],
    ] {
        let mut command = Command::new(CHECKER);
        command.args(args);
        assert_stops_when_stdout_is_closed(command, DEADLINE);
    }
}

#[test]
fn a_spawned_server_is_stopped_with_every_process_it_started() {
    let dir = std::env::temp_dir().join(format!("checker-spawn-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (script, pid_file) = (dir.join("server.sh"), dir.join("child.pid"));
    // A "server" that starts a child of its own, says where it listens (nowhere: the checks
    // fail, which does not matter here), and stays.
    std::fs::write(
        &script,
        "sleep 600 &\necho $! >\"$CHILD_PID_FILE\"\n\
         echo 'listening on 127.0.0.1:9'\nexec sleep 600\n",
    )
    .unwrap();
    let mut command = Command::new(CHECKER);
    command
        .args(["--lesson", "02", "--only", "greeting", "--timeout", "1"])
        .arg("--spawn")
        .arg(format!("sh {}", script.display()))
        .env("CHILD_PID_FILE", &pid_file);
    let out = run_to_end(command, b"", DEADLINE);
    assert_eq!(out.code(), Some(1), "{}{}", out.stdout, out.stderr);
    let child = std::fs::read_to_string(&pid_file).unwrap();
    let proc_dir = std::path::PathBuf::from(format!("/proc/{}", child.trim()));
    // SIGKILL is sent before the checker exits; the child's parent (init) reaps it soon after.
    let deadline = std::time::Instant::now() + DEADLINE;
    let gone = loop {
        let state = std::fs::read_to_string(proc_dir.join("stat")).unwrap_or_default();
        // Gone, or dead and not yet reaped (state Z).
        if state.is_empty() || state.contains(") Z ") {
            break true;
        }
        if std::time::Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        gone,
        "the spawned server's child {} is still running",
        child.trim()
    );
}

#[test]
fn a_spawned_server_whose_first_line_never_ends_fails_its_start_at_once() {
    // Bytes without end and never a newline, where `listening on ADDR` should be.
    let mut command = Command::new(CHECKER);
    command
        .args(["--lesson", "02", "--only", "greeting", "--timeout", "1"])
        .args(["--spawn", "yes x | tr -d '\\n'; true"]);
    let started = std::time::Instant::now();
    let out = run_to_end(command, b"", DEADLINE);
    assert_eq!(out.code(), Some(1), "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout
            .contains("first stdout line should be `listening on ADDR`, got \"xxx"),
        "{}",
        out.stdout
    );
    // Cut at 64 KiB, not read until the deadline.
    assert!(out.stdout.contains("(65536 bytes)"), "{}", out.stdout);
    assert!(started.elapsed() < DEADLINE / 2, "{:?}", started.elapsed());
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
        // With --min-rate, so the list has the slowloris checks too.
        let list = checker(&["--lesson", lesson, "--list", "--min-rate", "16K"]);
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
