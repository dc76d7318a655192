//! Benchmark (not a test): lesson 03's thread pool against the original `threaded_server.py`,
//! 64 clients, measured in the same run on the same machine by the same load generator.
//!
//! ```text
//! cargo bench -p lesson-03 --bench pool_vs_original
//! ```
//!
//! First it watches the original (`tests/originals/threaded_server.py`) start threads with no
//! client connected. The original starts threads without bound, so it only ever runs here under
//! the course's address-space limit (`test_support::originals::VM_LIMIT`), and each instance is
//! killed as soon as it has been measured. Then two rounds, each measuring the
//! original and lesson 03 (16 and 64 workers) in turn, three times over, and reporting the
//! median run of each:
//!
//! 1. all 64 clients connect at the same moment (the load the course's chapter is about);
//! 2. the clients connect 2 ms apart, which the original's listen backlog of 5 survives, so its
//!    speed per message shows on its own.
//!
//! Without python3 it measures lesson 03 alone, and says `not measured: <reason>` in the
//! original's row of each table. Everything goes to 127.0.0.1 on free
//! ports, and every load run is bounded in time (at most 20 s; about two minutes in all).

use std::fs;
use std::thread;
use std::time::{Duration, Instant};

use loadgen::{Config, Framing, Report};
use test_support::observe::cpu_time;
use test_support::{Server, originals};

const CLIENTS: usize = 64;
const MESSAGES: usize = 2000;
/// Runs of each server in each round; the median one is reported.
const REPEATS: usize = 3;
/// Every load run ends by then.
const RUN_TIMEOUT: Duration = Duration::from_secs(20);
const LESSON_03: &str = env!("CARGO_BIN_EXE_lesson-03");
const ORIGINAL: &str = "original threaded_server.py";
const OURS: [(&str, &str); 2] = [
    ("lesson-03 --workers 16", "16"),
    ("lesson-03 --workers 64", "64"),
];

fn main() {
    let cpus = thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "{CLIENTS} clients, {MESSAGES} round trips each, loopback, {cpus} CPUs; \
         each server {REPEATS} times per round, the median run shown"
    );

    let python = originals::command("threaded_server.py", 0).err();
    match &python {
        Some(reason) => println!("\nthe original threaded_server.py: not measured: {reason}"),
        None => runaway_threads(),
    }
    for (round, stagger) in [
        ("all clients connect at the same moment", Duration::ZERO),
        ("clients connect 2 ms apart", Duration::from_millis(2)),
    ] {
        println!("\n== {round}\n");
        let mut runs: Vec<(&str, Vec<Measured>)> = vec![(ORIGINAL, Vec::new())];
        for (label, _) in OURS {
            runs.push((label, Vec::new()));
        }
        // In turn, so that a disturbance on the machine hits every server alike.
        for _ in 0..REPEATS {
            for (label, measured) in runs.iter_mut() {
                let run = if *label == ORIGINAL {
                    if python.is_some() {
                        continue;
                    }
                    original(stagger)
                } else {
                    let (_, workers) = OURS.iter().find(|(l, _)| l == label).unwrap();
                    let server = Server::start(LESSON_03, &["--workers", workers]);
                    Some(measure(&server, Framing::Lines, stagger))
                };
                measured.extend(run);
            }
        }
        table(&mut runs, python.as_deref());
    }
}

/// One load run and the CPU time the server used during it.
struct Measured {
    report: Report,
    cpu: Option<Duration>,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.report.round_trips_per_sec()
    }
}

/// Prints the median run of each server, the ratios, and what went wrong.
/// `unmeasured`: why the original could not run, if it could not.
fn table(runs: &mut [(&str, Vec<Measured>)], unmeasured: Option<&str>) {
    println!(
        "{:<28} {:>13} {:>7} {:>7} {:>10} {:>10} {:>9}   all runs",
        "server", "round trips/s", "p50 ms", "p99 ms", "slowest", "server µs", "clients"
    );
    println!(
        "{:<28} {:>13} {:>7} {:>7} {:>10} {:>10} {:>9}   round trips/s",
        "", "(median run)", "", "", "greeting", "CPU/trip", "ok/failed"
    );
    for (_, measured) in runs.iter_mut() {
        measured.sort_by(|a, b| a.rate().total_cmp(&b.rate()));
    }
    let runs = &*runs;
    let mut medians = Vec::new();
    for (label, measured) in runs {
        let Some(m) = measured.get(measured.len() / 2) else {
            let why = match unmeasured {
                Some(reason) if *label == ORIGINAL => reason,
                _ => "every run of it failed to start (see above)",
            };
            println!("{label:<28} not measured: {why}");
            continue;
        };
        let r = &m.report;
        let cpu_per_trip = m.cpu.map_or(f64::NAN, |cpu| {
            cpu.as_secs_f64() * 1e6 / r.round_trips.max(1) as f64
        });
        let all: Vec<String> = measured
            .iter()
            .map(|m| format!("{:.0}", m.rate()))
            .collect();
        println!(
            "{:<28} {:>13.0} {:>7.3} {:>7.3} {:>7.0} ms {:>10.1} {:>9}   {}",
            label,
            m.rate(),
            ms(r.p50),
            ms(r.p99),
            ms(r.greeting_max),
            cpu_per_trip,
            format!("{}/{}", r.completed, r.failed + r.refused),
            all.join(", "),
        );
        medians.push((*label, m));
    }
    for (label, measured) in runs {
        let failed: usize = measured.iter().map(|m| m.report.failed).sum();
        let timed_out = measured.iter().filter(|m| m.report.timed_out).count();
        if let Some(why) = measured
            .iter()
            .find_map(|m| m.report.first_failure.as_ref())
        {
            println!(
                "{label}: {failed} clients failed in {} runs ({timed_out} ended by the {} s \
                 timeout); the first: {why}",
                measured.len(),
                RUN_TIMEOUT.as_secs()
            );
        }
    }
    let Some((_, original)) = medians.iter().find(|(label, _)| *label == ORIGINAL) else {
        return;
    };
    for (label, m) in medians.iter().filter(|(label, _)| *label != ORIGINAL) {
        let ratio = m.rate() / original.rate().max(f64::MIN_POSITIVE);
        println!("{label}: {ratio:.1}x the round trips per second of the original");
    }
    if original.report.timed_out {
        println!(
            "(no speed ratio: the original's figure is set by the run's {} s timeout, which cut \
             off its clients still waiting for a greeting)",
            RUN_TIMEOUT.as_secs()
        );
    }
}

/// Starts the original under the limit and watches its threads until its main thread has died
/// (its RuntimeError is on stderr) and the thread count has stopped changing, for at most 10 s.
/// Returns the server and the thread counts seen, with when.
fn watch_original() -> Option<(Server, Vec<(Duration, usize)>)> {
    let mut server = originals::start_server("threaded_server.py").ok()?;
    let pid = server.pid();
    let started = Instant::now();
    let mut samples = vec![(Duration::ZERO, threads(pid))];
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
    if server.wait_exit(Duration::ZERO).is_some() {
        return None;
    }
    Some((server, samples))
}

/// What the original does with no client: report how fast it started threads, and what then.
fn runaway_threads() {
    println!(
        "\nthe original, started under a {} GiB address-space limit, with no client:",
        originals::VM_LIMIT >> 30
    );
    let Some((server, samples)) = watch_original() else {
        println!("  it ended by itself: nothing to measure");
        return;
    };
    let (peak_at, peak) = samples
        .iter()
        .copied()
        .max_by_key(|&(at, count)| (count, std::cmp::Reverse(at)))
        .unwrap();
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
    let error = server
        .stderr()
        .lines()
        .find(|line| line.contains("Error"))
        .unwrap_or("(nothing on stderr)")
        .to_string();
    println!("  then its main thread died: {error}");
    println!(
        "  but the process runs on: its other {} threads, blocked in accept(), still serve",
        threads(server.pid()).saturating_sub(1)
    );
    // Dropping the Server kills it.
}

/// One run against a fresh original, which is killed right after.
fn original(stagger: Duration) -> Option<Measured> {
    match originals::start_threaded_server() {
        Ok(server) => Some(measure(&server, Framing::Raw, stagger)),
        Err(why) => {
            println!("the original did not start: {why}");
            None
        }
    }
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

fn ms(d: Option<Duration>) -> f64 {
    d.map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
}
