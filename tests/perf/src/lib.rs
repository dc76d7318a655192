//! The course's performance measurements: every server under the same load, in one run, on one
//! machine, written out as a CSV, tables and SVG plots.
//!
//! `cargo run --release -p perf` measures, at 1, 8, 64 and 256 clients connecting at once:
//! lesson 02 (one client at a time), lesson 03 with 4 and with 64 workers (a fixed pool of
//! blocking threads), lesson 05 (an event loop on one thread), the tokio reference server (an
//! event loop on tokio), and, where python3 is present,
//! the original `threaded_server.py` (a thread per client, started without bound). The load
//! comes from [`loadgen::run`], in this process; each point is measured [`Options::rounds`]
//! times, the rounds interleaved so that a change in the machine's load hits every server alike,
//! and the tables and plots show the median.
//!
//! Alongside what the clients see (round trips per second, latency, time to the greeting, clients
//! lost), it reads what the server paid from `/proc`: CPU time and context switches per round
//! trip, threads, resident memory and address space.
//!
//! Then the idle points ([`idle`]): 1,000 and 10,000 connections, most of them greeted and then
//! silent, a few hundred active beside them, against lesson 05 and the tokio reference, and
//! lesson 03 at 1,000 (which refuses what its pool cannot hold): the active clients' round trips
//! per second, the slowest greeting, refusals and losses apart, the server's threads and
//! resident memory.
//!
//! Everything is bounded: clients, messages, a time limit per point, and a budget for the whole
//! run; every server listens on 127.0.0.1 on a port the kernel picks, and is stopped (killed)
//! after its series.

pub mod idle;
pub mod machine;
pub mod measure;
pub mod plot;
pub mod report;

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use measure::{Point, Servers};

/// Which program serves a series.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Program {
    Lesson02,
    Lesson03 {
        workers: u32,
    },
    Tokio,
    /// Lesson 05: an event loop on one thread.
    Lesson05,
    /// The original `threaded_server.py`, unmodified, under a memory cap.
    Original,
}

impl Program {
    /// The workspace package that builds it (none for the Python original).
    pub fn package(self) -> Option<&'static str> {
        match self {
            Program::Lesson02 => Some("lesson-02"),
            Program::Lesson03 { .. } => Some("lesson-03"),
            Program::Tokio => Some("tokio-reference"),
            Program::Lesson05 => Some("lesson-05"),
            Program::Original => None,
        }
    }
}

/// One line on the plots: a server, configured one way, loaded one way.
#[derive(Clone, Debug)]
pub struct Series {
    /// The name `--series` knows it by.
    pub key: String,
    /// The name in the CSV, the tables and the plots' legends.
    pub label: String,
    pub program: Program,
    /// Time between one client's connect and the next's (zero: all at once).
    pub stagger: Duration,
    /// Measured in the first round only: its run is bounded by the time limit, not by the server,
    /// so repeating it would tell nothing new.
    pub once: bool,
}

// ANCHOR: series
/// Every series the tool knows, in the order it measures them, with lesson 03 once for each
/// pool size in `workers`.
pub fn all_series(workers: &[u32]) -> Vec<Series> {
    let series = |key: &str, label: &str, program| Series {
        key: key.to_string(),
        label: label.to_string(),
        program,
        stagger: Duration::ZERO, // all clients connect at the same moment
        once: false,
    };
    let mut all = vec![series("lesson-02", "lesson-02", Program::Lesson02)];
    for &n in workers {
        all.push(series(
            &format!("lesson-03-w{n}"),
            &format!("lesson-03 --workers {n}"),
            Program::Lesson03 { workers: n },
        ));
    }
    all.push(series("lesson-05", "lesson-05", Program::Lesson05));
    all.push(series("tokio", "tokio-reference", Program::Tokio));
    // The original's listen backlog is 5: when many clients connect at the same moment it
    // loses some of them (see the chapter), and they wait for a greeting until the time
    // limit. That is worth one measurement, not three.
    all.push(Series {
        once: true,
        ..series("original", "threaded_server.py", Program::Original)
    });
    // The same program with the clients 2 ms apart, a pace its backlog survives: what it
    // does with every client it accepts.
    all.push(Series {
        stagger: Duration::from_millis(2),
        ..series(
            "original-paced",
            "threaded_server.py (2 ms apart)",
            Program::Original,
        )
    });
    all
}
// ANCHOR_END: series

/// What to measure, where the programs are, where the results go.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where the CSV, tables, plots and summary are written.
    pub out: PathBuf,
    /// Where the release binaries `lesson-02`, `lesson-03` and `tokio-reference` are.
    pub bin_dir: PathBuf,
    pub series: Vec<Series>,
    /// Client counts, each measured for every series.
    pub clients: Vec<usize>,
    /// Round trips per client, at least; more where that would end a point too soon.
    pub messages: usize,
    /// The shortest a point may last: a point that ends sooner is measured again with more
    /// round trips per client, so that no figure comes from a few milliseconds.
    pub min_point: Duration,
    /// Times every point is measured (the tables and plots show the median).
    pub rounds: usize,
    /// The whole measurement stops starting new points after this long.
    pub budget: Duration,
    /// Connection counts of the idle points (empty: none are measured).
    pub idle_connections: Vec<usize>,
    /// How many of each idle point's connections are active clients; the rest are idle.
    pub idle_active: usize,
    /// The idle points, measured after the others, stop starting new points after this long.
    pub idle_budget: Duration,
}

/// The limit for one point against a course server: far more than a point needs.
pub const POINT_TIMEOUT: Duration = Duration::from_secs(60);
/// The limit for one point against the original: clients it lost wait this long for a greeting
/// that never comes, so it is kept short (its clients that are served need a few seconds).
pub const ORIGINAL_POINT_TIMEOUT: Duration = Duration::from_secs(20);

/// Everything one run measured, and what it could not.
pub struct Outcome {
    pub points: Vec<Point>,
    /// Series or points left out, and why, one sentence each.
    pub notes: Vec<String>,
    /// The series of which not one point was measured, with why: the tables and plots say so
    /// where their figures would be.
    pub unmeasured: Vec<Unmeasured>,
    pub elapsed: Duration,
}

/// A series not measured at all, and why.
#[derive(Clone, Debug)]
pub struct Unmeasured {
    pub label: String,
    pub why: String,
}

/// Measures every series at every client count, `options.rounds` times, printing one progress
/// line per point to `progress`.
pub fn measure_all(options: &Options, progress: &mut impl Write) -> Outcome {
    let started = Instant::now();
    let deadline = started + options.budget;
    // Lesson 03's queue holds every client the pool is not serving yet, so that no client is
    // refused: refusing is what lesson 03 does when it is overloaded, and these runs measure
    // speed, not overload.
    let queue = options.clients.iter().copied().max().unwrap_or(1);
    let servers = Servers::new(&options.bin_dir, queue);
    let mut points = Vec::new();
    let mut notes = Vec::new();
    let mut skipped: Vec<(&str, String)> = Vec::new();
    let mut out_of_time = false;

    'rounds: for round in 1..=options.rounds {
        for series in &options.series {
            if (series.once && round > 1) || skipped.iter().any(|(key, _)| *key == series.key) {
                continue;
            }
            let mut server = None;
            for &clients in &options.clients {
                let limit = match series.program {
                    Program::Original => ORIGINAL_POINT_TIMEOUT,
                    _ => POINT_TIMEOUT,
                };
                let left = deadline.saturating_duration_since(Instant::now());
                if left < Duration::from_secs(2) {
                    out_of_time = true;
                    break 'rounds;
                }
                // The original is started afresh for every point: each client it serves uses
                // up one of the threads it started, for good. The others serve the whole series.
                if server.is_none() || series.program == Program::Original {
                    server = None; // stops the previous one first
                    match servers.start(series.program) {
                        Ok(started) => {
                            // One short conversation first, not measured: the first one pays
                            // for page faults and lazy set-up in the server and the kernel.
                            let warm_up = load(series, started.addr(), 1, 100);
                            let _ = loadgen::run(&warm_up);
                            server = Some(started);
                        }
                        Err(why) => {
                            notes.push(format!("{} not measured: {why}", series.label));
                            skipped.push((&series.key, why));
                            break;
                        }
                    }
                }
                let running = server.as_ref().expect("started above");
                let config = load(series, running.addr(), clients, options.messages);
                let config = loadgen::Config {
                    timeout: limit.min(left),
                    ..config
                };
                match measure_long_enough(running, config, options.min_point, deadline, &|| ()) {
                    Ok((report, cost)) => {
                        let point = Point {
                            series: series.label.clone(),
                            key: series.key.clone(),
                            program: series.program,
                            round,
                            report,
                            cost,
                        };
                        let _ = writeln!(progress, "{}", point.progress_line());
                        notes.extend(point.losses());
                        points.push(point);
                    }
                    Err(why) => notes.push(format!(
                        "{} with {clients} clients not measured: {why}",
                        series.label
                    )),
                }
            }
            // Dropping the server kills it: the series is over.
            drop(server);
        }
    }
    if out_of_time {
        notes.push(format!(
            "the run's budget of {} s ran out: the remaining points were not measured",
            options.budget.as_secs()
        ));
    }
    let unmeasured = options
        .series
        .iter()
        .filter(|series| !points.iter().any(|p| p.key == series.key))
        .map(|series| {
            let skip = skipped.iter().find(|(key, _)| *key == series.key);
            let why = match skip {
                Some((_, why)) => why.clone(),
                None if out_of_time => "the run's budget ran out before it".to_string(),
                None => "no point could be measured (see the notes)".to_string(),
            };
            Unmeasured {
                label: series.label.clone(),
                why,
            }
        })
        .collect();
    Outcome {
        points,
        notes,
        unmeasured,
        elapsed: started.elapsed(),
    }
}

/// Measures one point; while it ends sooner than `min_point` and loses no client, measures it
/// again with proportionally more round trips per client (at most three times, each at most 100
/// times as many), and keeps the last measurement. `settle` runs before each measurement again.
pub(crate) fn measure_long_enough(
    server: &test_support::Server,
    mut config: loadgen::Config,
    min_point: Duration,
    deadline: Instant,
    settle: &dyn Fn(),
) -> Result<(loadgen::Report, measure::Cost), String> {
    let mut measured = measure::measure(server, &config)?;
    for _ in 0..3 {
        let report = &measured.0;
        let took = report.elapsed.as_secs_f64();
        let lost = report.refused + report.failed > 0 || report.timed_out;
        if lost || took >= min_point.as_secs_f64() {
            break;
        }
        // Aim a fifth past the minimum: the next run is rarely exactly as fast as this one.
        let factor = (min_point.as_secs_f64() * 1.2 / took.max(1e-4))
            .ceil()
            .clamp(2.0, 100.0);
        let left = deadline.saturating_duration_since(Instant::now());
        config = loadgen::Config {
            messages: config.messages * factor as usize,
            timeout: config.timeout.min(left),
            ..config
        };
        settle();
        measured = measure::measure(server, &config)?;
    }
    Ok(measured)
}

/// The load for one point of `series`: `clients` clients, `messages` round trips each.
pub(crate) fn load(
    series: &Series,
    addr: SocketAddr,
    clients: usize,
    messages: usize,
) -> loadgen::Config {
    loadgen::Config {
        stagger: series.stagger,
        // The original's replies end without a newline: one read is one reply.
        framing: match series.program {
            Program::Original => loadgen::Framing::Raw,
            _ => loadgen::Framing::Lines,
        },
        timeout: Duration::from_secs(10),
        ..loadgen::Config::new(addr, clients, messages)
    }
}

/// The files a run writes into [`Options::out`].
pub const FILES: [&str; 13] = [
    "results.csv",
    "idle.csv",
    "notes.txt",
    "speed.md",
    "cost.md",
    "idle.md",
    "goals.txt",
    "machine.txt",
    "summary.txt",
    "round-trips.svg",
    "p99-latency.svg",
    "greeting.svg",
    "server-cpu.svg",
];

/// Measures, then writes every file of [`FILES`] and returns the summary (also in summary.txt).
pub fn run(options: &Options, progress: &mut impl Write) -> Result<String, String> {
    fs::create_dir_all(&options.out)
        .map_err(|e| format!("cannot create {}: {e}", options.out.display()))?;
    let before = machine::Machine::now();
    let outcome = measure_all(options, progress);
    let idle = idle::measure_all(options, progress);
    let after = machine::Machine::now();
    let summaries = report::summarise(&outcome.points);

    let write = |name: &str, text: &str| {
        let path = options.out.join(name);
        fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    };
    write("results.csv", &report::csv(&outcome.points))?;
    let missing = &outcome.unmeasured;
    let speed = report::speed_table(&summaries).with_unmeasured(missing);
    let cost = report::cost_table(&summaries).with_unmeasured(missing);
    write("speed.md", &speed.markdown())?;
    write("cost.md", &cost.markdown())?;
    let idle_summaries = idle::summarise(&idle.points);
    write("idle.csv", &idle::csv(&idle.points))?;
    let idle_table = idle::table(&idle_summaries, &idle.unmeasured);
    write("idle.md", &idle_table.markdown())?;
    let mut goals = report::goals(&summaries);
    goals.extend(idle::goals(&idle_summaries, &summaries, &idle.unmeasured));
    let goals = goals.join("\n") + "\n";
    write("goals.txt", &goals)?;
    let machine = machine::describe(&before, &after, options, outcome.elapsed + idle.elapsed);
    write("machine.txt", &machine)?;
    for chart in plot::charts() {
        let path = options.out.join(chart.file);
        plot::draw(&chart, &summaries, missing, &options.clients, &path)
            .map_err(|e| format!("cannot draw {}: {e}", path.display()))?;
    }

    let all_notes: Vec<&String> = outcome.notes.iter().chain(&idle.notes).collect();
    let notes = if all_notes.is_empty() {
        "every point was measured, and no client was lost\n".to_string()
    } else {
        all_notes.iter().map(|n| format!("{n}\n")).collect()
    };
    write("notes.txt", &notes)?;

    let mut summary = String::new();
    summary.push_str(&machine);
    summary.push_str("\nWhat the clients saw (median of the rounds; lost: in the worst round)\n\n");
    summary.push_str(&speed.text());
    summary.push_str("\nWhat the server paid (median of the rounds, read from /proc)\n\n");
    summary.push_str(&cost.text());
    summary.push_str(&format!("\n{}\n\n", idle::HEADING));
    summary.push_str(&idle_table.text());
    summary.push_str("\nNotes\n\n");
    summary.push_str(&notes);
    summary.push('\n');
    summary.push_str(&goals);
    write("summary.txt", &summary)?;
    Ok(summary)
}
