//! The measuring tool itself works: a tiny run against lesson 03 and the tokio reference writes
//! every row, table and plot. (What it measures is not checked here: speed is measured, never
//! asserted in a test.)

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use test_support::run_to_end;

/// The folder of this build's binaries: this test runs as `<target>/debug/deps/run-HASH`.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test knows its own path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("the test runs from <target>/<profile>/deps")
        .to_path_buf()
}

/// A perf command measuring the debug binaries of `packages` into a fresh folder named `name`.
fn perf_command(name: &str, packages: &[&str]) -> (Command, PathBuf) {
    let bins = bin_dir();
    for package in packages {
        assert!(
            bins.join(package).is_file(),
            "{} is missing: this test measures the workspace's debug binaries, which plain \
             `cargo test` at the workspace root builds; alone, run \
             `cargo build -p {}` first",
            bins.join(package).display(),
            packages.join(" -p ")
        );
    }
    let out = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&out);
    let mut perf = Command::new(env!("CARGO_BIN_EXE_perf"));
    perf.arg("--bin-dir").arg(&bins).arg("--out").arg(&out);
    (perf, out)
}

#[test]
fn a_tiny_run_writes_every_row_table_and_plot() {
    let (mut perf, out) = perf_command("perf-test", &["lesson-03", "tokio-reference"]);
    perf.args(["--clients", "1,2", "--messages", "20", "--rounds", "1"])
        // Short, but long enough that 20 round trips per client must be measured again.
        .args(["--min-seconds", "0.2"])
        .args([
            "--series",
            "lesson-03-w4,tokio",
            "--budget",
            "60",
            "--no-idle",
        ]);
    let run = run_to_end(perf, b"", Duration::from_secs(60));
    assert_eq!(run.code(), Some(0), "perf failed: {}", run.stderr);
    assert!(
        run.stdout.contains("goal: "),
        "no goal lines: {}",
        run.stdout
    );

    let csv = fs::read_to_string(out.join("results.csv")).expect("results.csv is written");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(perf::report::csv_header().as_str()));
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    let expected = [
        ("lesson-03 --workers 4", 1),
        ("lesson-03 --workers 4", 2),
        ("tokio-reference", 1),
        ("tokio-reference", 2),
    ];
    assert_eq!(rows.len(), expected.len(), "rows: {csv}");
    for (row, (label, clients)) in rows.iter().zip(expected) {
        let column = |name: &str| {
            let i = perf::report::csv_header()
                .split(',')
                .position(|c| c == name)
                .unwrap_or_else(|| panic!("no column {name}"));
            row[i]
        };
        assert_eq!(column("label"), label);
        assert_eq!(column("clients"), clients.to_string());
        // 20 round trips per client, or more where a point had to be measured again to last
        // --min-seconds; every one of them answered.
        let messages: usize = column("messages").parse().unwrap();
        assert!(messages >= 20, "{row:?}");
        assert_eq!(
            column("round_trips"),
            (clients * messages).to_string(),
            "{row:?}"
        );
        let elapsed: f64 = column("elapsed_s").parse().unwrap();
        assert!(elapsed >= 0.2 || messages >= 20 * 100, "{row:?}");
        assert_eq!(column("completed"), clients.to_string(), "{row:?}");
        assert_eq!((column("refused"), column("failed")), ("0", "0"), "{row:?}");
        // What the server paid is read from /proc, which Linux has.
        if cfg!(target_os = "linux") {
            let cpu = column("server_cpu_us_per_round_trip");
            assert!(!cpu.is_empty(), "{row:?}");
            let threads = column("server_threads_max");
            assert!(threads.parse::<u32>().is_ok(), "{row:?}");
        }
    }

    for file in perf::FILES {
        let text = fs::read_to_string(out.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert!(!text.trim().is_empty(), "{file} is empty");
        if file.ends_with(".svg") {
            assert!(text.starts_with("<svg"), "{file} is not an SVG");
            assert!(text.contains("tokio-reference"), "{file} has no legend");
        }
    }
    let speed = fs::read_to_string(out.join("speed.md")).unwrap();
    assert_eq!(speed.lines().count(), 2 + expected.len(), "{speed}");
    let idle = fs::read_to_string(out.join("idle.md")).unwrap();
    assert!(
        idle.contains("| idle points | not measured: left out (--no-idle) |"),
        "{idle}"
    );
    let _ = fs::remove_dir_all(&out);
}

#[test]
fn idle_points_count_refusals_apart_from_losses() {
    let packages = ["lesson-03", "lesson-05", "tokio-reference"];
    let (mut perf, out) = perf_command("perf-idle-test", &packages);
    perf.args(["--clients", "1", "--messages", "20", "--rounds", "2"])
        .args(["--min-seconds", "0.1"])
        .args(["--series", "lesson-03-w4,lesson-05,tokio", "--budget", "60"])
        .args(["--idle-connections", "12,40", "--idle-active", "3"]);
    let run = run_to_end(perf, b"", Duration::from_secs(120));
    assert_eq!(run.code(), Some(0), "perf failed: {}", run.stderr);
    let table = fs::read_to_string(out.join("idle.md")).unwrap();

    // The load generator keeps room for its most clients beside the idle ones: where the
    // descriptor limit cannot be raised that far, every point says so instead of a figure.
    let needed = 40 - 3 + loadgen::MAX_CLIENTS as u64 + 64;
    if test_support::observe::raise_descriptor_limit().is_some_and(|limit| limit < needed) {
        assert!(
            table.contains("| lesson-05 | 40 | not measured: ") && table.contains("ulimit -n"),
            "{table}"
        );
        let _ = fs::remove_dir_all(&out);
        return;
    }

    let csv = fs::read_to_string(out.join("idle.csv")).expect("idle.csv is written");
    let mut lines = csv.lines();
    assert_eq!(lines.next(), Some(perf::idle::csv_header().as_str()));
    let header = perf::idle::csv_header();
    let rows: Vec<Vec<&str>> = lines.map(|line| line.split(',').collect()).collect();
    let column = |row: &Vec<&str>, name: &str| -> String {
        let i = header
            .split(',')
            .position(|c| c == name)
            .unwrap_or_else(|| panic!("no column {name}"));
        row[i].to_string()
    };
    // Two rounds of lesson 03, lesson 05 and tokio at 12 and 40.
    assert_eq!(rows.len(), 2 * 6, "{csv}");
    for row in &rows {
        let label = column(row, "label");
        let connections: usize = column(row, "connections").parse().unwrap();
        assert_eq!(column(row, "clients"), "3", "{row:?}");
        assert_eq!(
            column(row, "idle"),
            (connections - 3).to_string(),
            "{row:?}"
        );
        assert_eq!(column(row, "idle_failed"), "0", "{row:?}");
        assert_eq!(column(row, "idle_not_greeted"), "0", "{row:?}");
        assert_eq!(column(row, "failed"), "0", "{row:?}");
        if label.starts_with("lesson-03") {
            // Its pool of 4 holds at most 4 idle connections (fewer if a worker is still
            // finishing the warm-up conversation); every other connection is refused, at once.
            assert_eq!(label, "lesson-03 --workers 4 --queue 0");
            let greeted: usize = column(row, "idle_greeted").parse().unwrap();
            let refused: usize = column(row, "idle_refused").parse().unwrap();
            assert!((1..=4).contains(&greeted), "{row:?}");
            assert_eq!(greeted + refused, connections - 3, "{row:?}");
            assert_eq!(column(row, "refused"), "3", "{row:?}");
        } else {
            assert_eq!(
                column(row, "idle_greeted"),
                (connections - 3).to_string(),
                "{row:?}"
            );
            assert_eq!(column(row, "completed"), "3", "{row:?}");
            let elapsed: f64 = column(row, "elapsed_s").parse().unwrap();
            let messages: usize = column(row, "messages").parse().unwrap();
            assert!(elapsed >= 0.1 || messages >= 20 * 100, "{row:?}");
        }
        if cfg!(target_os = "linux") {
            assert!(
                column(row, "server_threads_max").parse::<u32>().is_ok(),
                "{row:?}"
            );
            assert!(
                column(row, "server_rss_kib_max").parse::<u64>().is_ok(),
                "{row:?}"
            );
        }
    }

    assert_eq!(table.lines().count(), 2 + 6, "{table}");
    assert!(
        table.contains("| lesson-03 --workers 4 --queue 0 | 12 | 3 |"),
        "{table}"
    );
    // Refusals are refusals, in their own column; nothing was lost.
    let lesson_03 = table
        .lines()
        .find(|line| line.starts_with("| lesson-03"))
        .unwrap();
    assert!(lesson_03.contains(" of 12 | none |"), "{table}");
    let goals = fs::read_to_string(out.join("goals.txt")).unwrap();
    assert!(
        goals.contains("no client lost at any point of lesson-05 or with idle connections: 0 lost"),
        "{goals}"
    );
    assert!(
        goals.contains("at 10,000 connections, lesson-05 holds them all")
            && goals.contains("not measured"),
        "{goals}"
    );
    let _ = fs::remove_dir_all(&out);
}
