//! The chapter's lab, run for real: needs root (a network namespace and nftables), so these are
//! ignored in plain `cargo test` and run by `.ci/run` (`cargo test -- --ignored`).
//! Each runs one step of `book/scripts/lesson-06.sh` into a folder of its own and checks what
//! the step must show.

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use test_support::{run_to_end, workspace_root};

/// One step at a time: each step's timings (keepalive probes a second apart, a capture that
/// must see them) are what it checks, and two steps at once on two cores disturb them.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs one step of the lab into a fresh folder and returns what it wrote to `file`.
fn lab_step(step: &str, file: &str) -> String {
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let out: PathBuf =
        std::env::temp_dir().join(format!("lesson-06-lab-{step}-{}", std::process::id()));
    fs::create_dir_all(&out).unwrap();
    let root = workspace_root();
    let mut command = Command::new("bash");
    command
        .arg(root.join("book/scripts/lesson-06.sh"))
        .arg(&out)
        .arg(step)
        .current_dir(&root);
    let finished = run_to_end(command, b"", Duration::from_secs(120));
    assert_eq!(finished.code(), Some(0), "stderr: {}", finished.stderr);
    let text = fs::read_to_string(out.join(file))
        .unwrap_or_else(|e| panic!("the lab wrote no {file} ({e}); stderr: {}", finished.stderr));
    let _ = fs::remove_dir_all(&out);
    text
}

#[test]
#[ignore = "needs root"]
fn keepalive_drops_a_peer_that_vanished() {
    let text = lab_step("vanished", "vanished.txt");
    assert!(
        text.contains("the peer stopped answering (ETIMEDOUT)"),
        "{text}"
    );
}

#[test]
#[ignore = "needs root"]
fn a_restarted_server_answers_with_reset() {
    let text = lab_step("reset", "reset.txt");
    assert!(text.contains("reset by the peer (ECONNRESET)"), "{text}");
    assert!(text.contains("Flags [R]"), "{text}");
}

#[test]
#[ignore = "needs root"]
fn a_full_accept_queue_drops_syns() {
    let text = lab_step("overflow", "overflow.txt");
    let overflows = text
        .lines()
        .find(|l| l.contains("TcpExtListenOverflows"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse::<u64>().ok());
    assert!(overflows.is_some_and(|n| n > 0), "{text}");
}
