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

#[test]
fn a_tiny_run_writes_every_row_table_and_plot() {
    let bins = bin_dir();
    for name in ["lesson-03", "tokio-reference"] {
        assert!(
            bins.join(name).is_file(),
            "{} is missing: this test measures the workspace's debug binaries, which plain \
             `cargo test` at the workspace root builds; alone, run \
             `cargo build -p lesson-03 -p tokio-reference` first",
            bins.join(name).display()
        );
    }
    let out = std::env::temp_dir().join(format!("perf-test-{}", std::process::id()));
    let _ = fs::remove_dir_all(&out);

    let mut perf = Command::new(env!("CARGO_BIN_EXE_perf"));
    perf.arg("--bin-dir")
        .arg(&bins)
        .arg("--out")
        .arg(&out)
        .args(["--clients", "1,2", "--messages", "20", "--rounds", "1"])
        // Short, but long enough that 20 round trips per client must be measured again.
        .args(["--min-seconds", "0.2"])
        .args(["--series", "lesson-03-w4,tokio", "--budget", "60"]);
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
    let _ = fs::remove_dir_all(&out);
}
