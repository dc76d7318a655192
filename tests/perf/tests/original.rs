//! The original `threaded_server.py` in a perf run: measured where python3 is present, and where
//! it is not, every table, note and plot says `not measured` with the reason.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use test_support::run_to_end;

/// A tiny run of the original's series only, into a fresh folder; `path` replaces PATH when given.
fn tiny_run(name: &str, path: Option<&Path>) -> PathBuf {
    let out = std::env::temp_dir().join(format!("perf-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&out);
    let mut perf = Command::new(env!("CARGO_BIN_EXE_perf"));
    // The original needs no binary of the workspace: any folder will do.
    perf.arg("--bin-dir")
        .arg(std::env::temp_dir())
        .arg("--out")
        .arg(&out)
        .args(["--clients", "1,2", "--messages", "20", "--rounds", "1"])
        .args(["--min-seconds", "0.2"])
        .args(["--series", "original", "--budget", "60"]);
    if let Some(path) = path {
        perf.env("PATH", path);
    }
    let run = run_to_end(perf, b"", Duration::from_secs(90));
    assert_eq!(run.code(), Some(0), "perf failed: {}", run.stderr);
    out
}

#[test]
fn without_python3_every_table_note_and_plot_says_not_measured() {
    // An empty folder as PATH: no python3 to be found.
    let empty = std::env::temp_dir().join(format!("perf-empty-path-{}", std::process::id()));
    fs::create_dir_all(&empty).unwrap();
    let out = tiny_run("no-python", Some(&empty));
    for file in [
        "speed.md",
        "cost.md",
        "notes.txt",
        "summary.txt",
        "round-trips.svg",
        "p99-latency.svg",
        "greeting.svg",
        "server-cpu.svg",
    ] {
        let text = fs::read_to_string(out.join(file)).unwrap();
        let said = text.lines().any(|line| {
            line.trim_start_matches("| ")
                .starts_with("threaded_server.py")
                && line.contains("not measured: python3 is not installed")
        });
        assert!(
            said,
            "{file} does not say why the original was not measured:\n{text}"
        );
    }
    let _ = fs::remove_dir_all(&out);
    let _ = fs::remove_dir_all(&empty);
}

#[test]
#[ignore = "needs python3"]
fn with_python3_the_original_is_measured() {
    test_support::originals::required(test_support::originals::unavailable().map_or(Ok(()), Err));
    let out = tiny_run("python", None);
    let csv = fs::read_to_string(out.join("results.csv")).unwrap();
    let rows = csv
        .lines()
        .filter(|l| l.starts_with("threaded_server.py,"))
        .count();
    assert_eq!(rows, 2, "one row per client count:\n{csv}");
    let notes = fs::read_to_string(out.join("notes.txt")).unwrap();
    assert!(!notes.contains("not measured"), "{notes}");
    let _ = fs::remove_dir_all(&out);
}
