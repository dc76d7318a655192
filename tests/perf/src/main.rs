//! `perf`: measure every server of the course under the same load, in one run, and write the
//! figures as a CSV, tables and SVG plots.
//!
//! ```text
//! cargo run --release -p perf                  # results in target/perf/
//! book/scripts/regen-output.sh perf            # the book's copy, book/src/output/perf/
//! ```
//!
//! It first builds the servers it measures in release mode (`cargo build --release`), unless
//! `--bin-dir` says where they are. See the library for what a run does.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use clap::Parser;
use perf::{Options, Series, all_series};

/// Measure lesson 02, lesson 03 (4 and 64 workers), lesson 05, the tokio reference server and the
/// original threaded_server.py (when python3 is present) at 1, 8, 64 and 256 clients, then lesson
/// 05, the tokio reference and lesson 03 with 1,000 and 10,000 connections, most of them idle,
/// all in one run on this machine, over loopback; write CSVs, tables and SVG plots.
#[derive(Parser)]
#[command(name = "perf", version, about)]
struct Args {
    /// Folder for the results [default: the target folder's perf/, such as target/perf].
    #[arg(long)]
    out: Option<PathBuf>,

    /// Folder holding the binaries lesson-02, lesson-03 and tokio-reference, used as they are.
    /// Without it, they are built first with `cargo build --release` and taken from there.
    #[arg(long)]
    bin_dir: Option<PathBuf>,

    /// Client counts, each measured for every server.
    #[arg(long, value_delimiter = ',', default_value = "1,8,64,256")]
    clients: Vec<usize>,

    /// Round trips per client, at least: a point that ends sooner than --min-seconds is
    /// measured again with more.
    #[arg(long, default_value_t = 500)]
    messages: usize,

    /// The shortest a point may last, in seconds (0: no minimum).
    #[arg(long, default_value_t = 1.0)]
    min_seconds: f64,

    /// Times each point is measured; the tables and plots show the median.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u64).range(1..=9))]
    rounds: u64,

    /// Which series to measure, by name: lesson-02; lesson-03 (once per --workers size, or
    /// one size as lesson-03-wN); lesson-05; tokio; original (threaded_server.py, clients all at
    /// once); original-paced (the same, clients 2 ms apart).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "lesson-02,lesson-03,lesson-05,tokio,original,original-paced"
    )]
    series: Vec<String>,

    /// Lesson 03's pool sizes, one series each.
    #[arg(long, value_delimiter = ',', default_value = "4,64",
          value_parser = clap::value_parser!(u32).range(1..=1024))]
    workers: Vec<u32>,

    /// Seconds the measuring may take in all; points not started by then are left out.
    #[arg(long, default_value_t = 150)]
    budget: u64,

    /// Connection counts of the idle points, measured after the others: each count is that many
    /// connections to one server, --idle-active of them active clients and the rest idle (greeted,
    /// then silent). Lesson 05 and tokio at every count; lesson 03 (its largest pool, with
    /// --queue 0) up to 1,000.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    idle_connections: Vec<usize>,

    /// Active clients in each idle point.
    #[arg(long, default_value_t = 256)]
    idle_active: usize,

    /// Seconds the idle points may take in all; points not started by then are left out.
    #[arg(long, default_value_t = 60)]
    idle_budget: u64,

    /// Leave the idle points out.
    #[arg(long)]
    no_idle: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(sentence) => {
            eprintln!("error: {sentence}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: Args) -> Result<(), String> {
    let series = choose_series(&args.series, &args.workers)?;
    if args.clients.is_empty()
        || args
            .clients
            .iter()
            .any(|&c| c == 0 || c > loadgen::MAX_CLIENTS)
    {
        return Err(format!(
            "--clients must be numbers from 1 to {}",
            loadgen::MAX_CLIENTS
        ));
    }
    if !args.no_idle && (args.idle_active == 0 || args.idle_active > loadgen::MAX_CLIENTS) {
        return Err(format!(
            "--idle-active must be a number from 1 to {}",
            loadgen::MAX_CLIENTS
        ));
    }
    let most = loadgen::MAX_IDLE + args.idle_active;
    if !args.no_idle
        && (args.idle_connections.is_empty()
            || args
                .idle_connections
                .iter()
                .any(|&c| c <= args.idle_active || c > most))
    {
        return Err(format!(
            "--idle-connections must be numbers above --idle-active ({}) and at most {most}",
            args.idle_active
        ));
    }
    if args.messages == 0 {
        return Err("--messages must be at least 1".to_string());
    }
    if !(0.0..=60.0).contains(&args.min_seconds) {
        return Err("--min-seconds must be a number from 0 to 60".to_string());
    }
    if cfg!(debug_assertions) {
        eprintln!(
            "warning: perf was built without optimisations; the load generator then costs more \
             CPU and every figure is lower. Use `cargo run --release -p perf`."
        );
    }
    let target = target_dir();
    let bin_dir = match args.bin_dir {
        Some(dir) => dir,
        None => {
            build_release(&series)?;
            target.join("release")
        }
    };
    let options = Options {
        out: args.out.unwrap_or_else(|| target.join("perf")),
        bin_dir,
        series,
        clients: args.clients,
        messages: args.messages,
        min_point: Duration::from_secs_f64(args.min_seconds),
        rounds: args.rounds as usize,
        budget: Duration::from_secs(args.budget),
        idle_connections: if args.no_idle {
            Vec::new()
        } else {
            args.idle_connections
        },
        idle_active: args.idle_active,
        idle_budget: Duration::from_secs(args.idle_budget),
    };
    let summary = perf::run(&options, &mut io::stderr())?;
    println!("{summary}");
    println!("written to {}", options.out.display());
    Ok(())
}

fn choose_series(names: &[String], workers: &[u32]) -> Result<Vec<Series>, String> {
    let all = all_series(workers);
    let mut chosen: Vec<Series> = Vec::new();
    for name in names {
        let matching: Vec<&Series> = all
            .iter()
            .filter(|s| s.key == *name || (name == "lesson-03" && s.key.starts_with("lesson-03-w")))
            .collect();
        if matching.is_empty() {
            return Err(format!(
                "there is no series `{name}`; the series are lesson-02, lesson-03, {}",
                all.iter()
                    .map(|s| s.key.as_str())
                    .filter(|k| *k != "lesson-02")
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        for series in matching {
            if !chosen.iter().any(|c| c.key == series.key) {
                chosen.push(series.clone());
            }
        }
    }
    // Measured in the tool's own order, whatever the order asked.
    chosen.sort_by_key(|c| all.iter().position(|s| s.key == c.key));
    Ok(chosen)
}

/// The target folder this program was built into: it runs as `<target>/<profile>/perf`.
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| Some(exe.parent()?.parent()?.to_path_buf()))
        .unwrap_or_else(|| test_support::workspace_root().join("target"))
}

/// Builds the servers to measure, optimised, so that what is measured is the current code.
fn build_release(series: &[Series]) -> Result<(), String> {
    let mut packages: Vec<&str> = series.iter().filter_map(|s| s.program.package()).collect();
    packages.sort_unstable();
    packages.dedup();
    if packages.is_empty() {
        return Ok(());
    }
    // `cargo run` says which cargo it is; otherwise the one on the PATH.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(&cargo);
    command
        .current_dir(test_support::workspace_root())
        .args(["build", "--release", "--bins"]);
    for package in &packages {
        command.args(["-p", package]);
    }
    eprintln!(
        "building the servers: cargo build --release --bins -p {}",
        { packages.join(" -p ") }
    );
    let status = command
        .status()
        .map_err(|e| format!("cannot run {}: {e}", Path::new(&cargo).display()))?;
    if !status.success() {
        return Err("building the servers failed (above)".to_string());
    }
    Ok(())
}
