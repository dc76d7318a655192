//! Benchmark (not a test): lesson 03's thread pool against the original `threaded_server.py`,
//! 64 clients, measured in the same run on the same machine by the same load generator.
//!
//! ```text
//! cargo bench -p lesson-03 --bench pool_vs_original
//! ```
//!
//! First it watches the original start threads with no client connected. The original starts
//! threads without bound, so it only ever runs here under a 2 GiB address-space limit, and each
//! instance is killed as soon as it has been measured. Then two rounds, each measuring the
//! original and lesson 03 (16 and 64 workers) one after the other:
//!
//! 1. all 64 clients connect at the same moment (the load the course's chapter is about);
//! 2. the clients connect 2 ms apart, which the original's listen backlog of 5 survives, so its
//!    speed per message shows on its own.
//!
//! Without python3 it says so and measures lesson 03 alone. Everything goes to 127.0.0.1 on free
//! ports, and every load run is bounded in time.

use std::fs;
use std::thread;
use std::time::{Duration, Instant};

use loadgen::{Config, Framing, Report};
use test_support::{Server, seed};

const CLIENTS: usize = 64;
const MESSAGES: usize = 2000;
/// The original's address-space limit: 2 GiB.
const VM_LIMIT: u64 = 2 << 30;
/// Every load run ends by then.
const RUN_TIMEOUT: Duration = Duration::from_secs(60);
const LESSON_03: &str = env!("CARGO_BIN_EXE_lesson-03");

fn main() {
    let cpus = thread::available_parallelism().map_or(0, |n| n.get());
    println!("{CLIENTS} clients, {MESSAGES} round trips each, loopback, {cpus} CPUs, one run");

    let python = seed::command("threaded_server.py", 0, VM_LIMIT).err();
    if let Some(reason) = &python {
        println!("\nthe original threaded_server.py is not measured: {reason}");
    }
    for (round, stagger) in [
        ("all clients connect at the same moment", Duration::ZERO),
        ("clients connect 2 ms apart", Duration::from_millis(2)),
    ] {
        println!("\n== {round}\n");
        let mut rows = Vec::new();
        if python.is_none() {
            let server = seed::start_server("threaded_server.py", VM_LIMIT)
                .expect("python3 ran a moment ago");
            rows.push(("original threaded_server.py", original(server, stagger)));
        }
        for (label, workers) in [
            ("lesson-03 --workers 16", "16"),
            ("lesson-03 --workers 64", "64"),
        ] {
            let server = Server::start(LESSON_03, &["--workers", workers]);
            rows.push((label, Some(measure(&server, Framing::Lines, stagger))));
        }
        table(&rows);
    }
}

/// One load run and the CPU time the server used during it.
struct Measured {
    report: Report,
    cpu: Option<Duration>,
}

fn table(rows: &[(&str, Option<Measured>)]) {
    println!(
        "{:<28} {:>13} {:>7} {:>7} {:>10} {:>10} {:>9}",
        "server", "round trips/s", "p50 ms", "p99 ms", "slowest", "server µs", "clients"
    );
    println!(
        "{:<28} {:>13} {:>7} {:>7} {:>10} {:>10} {:>9}",
        "", "", "", "", "greeting", "CPU/trip", "ok/failed"
    );
    for (label, row) in rows {
        let Some(Measured { report: r, cpu }) = row else {
            println!("{label:<28} {:>13}", "not measured");
            continue;
        };
        let cpu_per_trip = cpu.map_or(f64::NAN, |cpu| {
            cpu.as_secs_f64() * 1e6 / r.round_trips.max(1) as f64
        });
        println!(
            "{:<28} {:>13.0} {:>7.3} {:>7.3} {:>7.0} ms {:>10.1} {:>9}",
            label,
            r.round_trips_per_sec(),
            ms(r.p50),
            ms(r.p99),
            ms(r.greeting_max),
            cpu_per_trip,
            format!("{}/{}", r.completed, r.failed + r.refused),
        );
    }
    for (label, row) in rows {
        if let Some(Measured { report, .. }) = row
            && let Some(why) = &report.first_failure
        {
            println!(
                "{label}: {} clients failed; the first: {why}",
                report.failed
            );
        }
    }
    if let Some((_, Some(original))) = rows.first().filter(|(l, _)| l.starts_with("original")) {
        let base = original.report.round_trips_per_sec().max(f64::MIN_POSITIVE);
        for (label, row) in &rows[1..] {
            if let Some(row) = row {
                let ratio = row.report.round_trips_per_sec() / base;
                println!("{label}: {ratio:.1}x the round trips per second of the original");
            }
        }
    }
}

/// Watches the original start threads with nobody connected, then measures it while the threads
/// it managed to start still serve. The Server is dropped, which kills it, at the end.
fn original(mut server: Server, stagger: Duration) -> Option<Measured> {
    let pid = server.pid();
    let started = Instant::now();
    let mut samples = vec![(Duration::ZERO, threads(pid))];
    // Sample the thread count every millisecond until the main thread has died (its
    // RuntimeError is on stderr) and the count has stopped changing, for at most 10 s.
    let mut steady_since = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(1));
        let count = threads(pid);
        if count != samples.last().unwrap().1 {
            samples.push((started.elapsed(), count));
            steady_since = Instant::now();
        }
        let died = server.stderr().contains("RuntimeError");
        if died && steady_since.elapsed() > Duration::from_millis(300) {
            break;
        }
    }
    let (peak_at, peak) = samples
        .iter()
        .copied()
        .max_by_key(|&(at, count)| (count, std::cmp::Reverse(at)))
        .unwrap();
    let error = server
        .stderr()
        .lines()
        .find(|line| line.contains("Error"))
        .unwrap_or("(nothing on stderr)")
        .to_string();
    println!(
        "the original, started under a {} GiB address-space limit, with no client:",
        VM_LIMIT >> 30
    );
    // The rate from the first new thread to the last: Python's own start-up is left out.
    let (first_at, first) = samples.get(1).copied().unwrap_or((peak_at, peak));
    let spawning = (peak_at - first_at).as_secs_f64();
    println!(
        "  threads: {} at the start, {peak} after {:.0} ms \
         ({} new threads in {:.1} ms: about {:.0} a second)",
        samples[0].1,
        peak_at.as_secs_f64() * 1e3,
        peak - first,
        spawning * 1e3,
        (peak - first) as f64 / spawning.max(1e-3),
    );
    println!("  then its main thread died: {error}");
    if server.wait_exit(Duration::ZERO).is_some() {
        println!("  and the whole process ended: nothing left to measure\n");
        return None;
    }
    println!(
        "  but the process runs on: its other {} threads, blocked in accept(), still serve\n",
        threads(pid).saturating_sub(1)
    );
    Some(measure(&server, Framing::Raw, stagger))
}

fn measure(server: &Server, framing: Framing, stagger: Duration) -> Measured {
    let config = Config {
        framing,
        timeout: RUN_TIMEOUT,
        stagger,
        ..Config::new(server.addr(), CLIENTS, MESSAGES)
    };
    let before = cpu_time(server.pid());
    let report = loadgen::run(&config).expect("the load generator starts");
    let cpu = cpu_time(server.pid())
        .zip(before)
        .map(|(after, before)| after.saturating_sub(before));
    Measured { report, cpu }
}

/// Threads of a process: the entries of /proc/PID/task (0 where there is no /proc).
fn threads(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |dir| dir.count())
}

/// User plus system CPU time of a process so far, from /proc/PID/stat.
fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name (in parentheses), utime and stime are the 12th and 13th fields,
    // in clock ticks.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_secs_f64(
        ticks as f64 / clock_ticks_per_second(),
    ))
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok()?.trim().parse().ok())
        .unwrap_or(100.0)
}

fn ms(d: Option<Duration>) -> f64 {
    d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
}
