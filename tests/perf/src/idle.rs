//! The idle points: many connections, most of them idle, a few hundred active.
//!
//! An event loop's case. For each point a fresh server is started, a crowd of connections is
//! opened with [`loadgen::hold_idle`] (one after another, each greeted, then silent), and while
//! the crowd is held the active clients do their round trips with [`loadgen::run`], for at
//! least the run's minimum time. What the active clients saw (round trips per second, latency,
//! the slowest greeting), refusals (`busy`) and losses of the crowd and the active clients,
//! apart, and the server's threads and resident memory go into `idle.csv` and `idle.md`.
//!
//! Lesson 05 and the tokio reference are measured at every connection count; lesson 03 (its
//! largest pool) only up to [`LESSON_03_MAX`], with `--queue 0`: a connection beyond its pool is
//! refused at once, where a queue would hold it unanswered until the time limit. Its refusals are
//! what it does when it is full, counted as refusals, not as clients lost.

use std::fmt::Write as _;
use std::fs;
use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use loadgen::{Framing, Report};
use test_support::observe;

use crate::measure::{Cost, Point, Servers};
use crate::report::{self, Table, ms, ms_value, runs, thousands};
use crate::{Options, POINT_TIMEOUT, Program, Series};

/// The title of the idle table in the summary.
pub const HEADING: &str = "With idle connections: what the active clients saw beside the idle ones \
     (median of the rounds; refused and lost, of all connections: in the worst round), and what \
     the server held";
/// Lesson 03 is measured with idle connections up to this many: beyond its pool it refuses
/// every connection, and more of them would tell nothing new.
pub const LESSON_03_MAX: usize = 1000;
/// The connection count of lesson 05's goals.
pub const GOAL_CONNECTIONS: usize = 10_000;
/// Lesson 05's resident memory with [`GOAL_CONNECTIONS`] connections stays under this.
pub const GOAL_RSS_MIB: f64 = 64.0;
/// The servers' `--idle-timeout` in the idle points, in seconds: longer than any point lasts, so
/// that no idle connection is closed for its silence while it is measured.
const SERVER_IDLE_TIMEOUT: &str = "600";
/// The longest the crowd may take to connect and be greeted.
const CROWD_TIMEOUT: Duration = Duration::from_secs(30);
/// Before the active clients run again, the longest to wait for the server to have closed the
/// previous ones: a server with a connection limit would otherwise refuse the new ones.
const SETTLE: Duration = Duration::from_secs(5);

/// One series at one connection count, in one round.
#[derive(Clone, Debug)]
pub struct IdlePoint {
    pub series: String,
    pub key: String,
    pub program: Program,
    pub round: usize,
    /// Connections in all: the idle crowd and the active clients.
    pub connections: usize,
    /// The idle crowd asked for.
    pub idle: usize,
    /// Idle connections greeted and held.
    pub held: usize,
    /// Idle connections told `busy`.
    pub idle_refused: usize,
    /// Idle connections still not greeted when the crowd's time was over.
    pub not_greeted: usize,
    /// Idle connections that could not be made or ended without a greeting.
    pub idle_failed: usize,
    pub idle_first_failure: Option<String>,
    /// From an idle connection's connect to the reading of its greeting, the longest: read after
    /// the whole crowd has connected, so mostly the time that took.
    pub idle_greeting_max: Option<Duration>,
    /// The server's threads before the crowd came.
    pub threads_before: Option<usize>,
    /// The server's resident memory with the crowd held, before the active clients.
    pub rss_held_kib: Option<u64>,
    /// What the active clients saw.
    pub report: Report,
    /// What the server paid while they ran (the crowd held).
    pub cost: Cost,
}

impl IdlePoint {
    /// Connections refused (`busy`): of the crowd and of the active clients.
    pub fn refused(&self) -> usize {
        self.idle_refused + self.report.refused
    }

    /// Connections lost: never greeted, cut off, or failed.
    pub fn lost(&self) -> usize {
        self.not_greeted + self.idle_failed + self.report.failed
    }

    /// The slowest greeting of the active clients, who connect at the same moment while the
    /// crowd is held. (The crowd's own figure, in the CSV, tells less: its greetings are read
    /// only once every one of its connections is made, so it is mostly the time that took.)
    pub fn greeting_max(&self) -> Option<Duration> {
        self.report.greeting_max
    }

    /// The most resident memory seen, with the crowd alone or with the active clients too.
    pub fn rss_kib(&self) -> Option<u64> {
        self.cost.rss_kib_max.max(self.rss_held_kib)
    }

    fn progress_line(&self) -> String {
        let mut line = format!(
            "round {} {:<32} {:>6} connections, {} active: {:>8.0} round trips/s, slowest \
             greeting {}, {} threads, {}",
            self.round,
            self.series,
            thousands(self.connections as f64),
            self.report.config.clients,
            self.report.round_trips_per_sec(),
            ms(self.greeting_max()),
            self.cost
                .threads_max
                .map_or("?".to_string(), |n| n.to_string()),
            self.rss_kib().map_or("? MiB".to_string(), |k| format!(
                "{:.1} MiB",
                k as f64 / 1024.0
            )),
        );
        if self.refused() > 0 {
            let _ = write!(line, ", {} refused", self.refused());
        }
        if self.lost() > 0 {
            let _ = write!(line, ", LOST {}", self.lost());
        }
        line
    }

    /// One sentence on the connections this point lost, and why, if it lost any.
    fn losses(&self) -> Option<String> {
        if self.lost() == 0 {
            return None;
        }
        let first = self
            .idle_first_failure
            .as_deref()
            .or(self.report.first_failure.as_deref())
            .unwrap_or("no reason known");
        Some(format!(
            "{}, {} connections, round {}: {} lost ({} idle never greeted within {} s, {} idle \
             failed, {} active failed); the first failure: {first}",
            self.series,
            self.connections,
            self.round,
            self.lost(),
            self.not_greeted,
            CROWD_TIMEOUT.as_secs(),
            self.idle_failed,
            self.report.failed
        ))
    }
}

/// A point, or a whole part of the run, that was not measured, and why.
#[derive(Clone, Debug)]
pub struct IdleMissing {
    pub label: String,
    /// `None`: every connection count.
    pub connections: Option<usize>,
    pub why: String,
}

/// Everything the idle part of a run measured, and what it could not.
pub struct IdleOutcome {
    pub points: Vec<IdlePoint>,
    pub notes: Vec<String>,
    pub unmeasured: Vec<IdleMissing>,
    pub elapsed: Duration,
}

/// The series that get idle points, each with its connection counts: lesson 05 and the tokio
/// reference at every count, lesson 03's largest pool (with `--queue 0`) up to
/// [`LESSON_03_MAX`].
pub fn chosen(options: &Options) -> Vec<(Series, Vec<usize>)> {
    let largest_pool = options
        .series
        .iter()
        .filter_map(|s| match s.program {
            Program::Lesson03 { workers } => Some(workers),
            _ => None,
        })
        .max();
    let mut out = Vec::new();
    for series in &options.series {
        match series.program {
            Program::Lesson05 | Program::Tokio => {
                out.push((series.clone(), options.idle_connections.clone()))
            }
            Program::Lesson03 { workers } if Some(workers) == largest_pool => {
                let counts: Vec<usize> = options
                    .idle_connections
                    .iter()
                    .copied()
                    .filter(|&c| c <= LESSON_03_MAX)
                    .collect();
                if !counts.is_empty() {
                    let queue0 = Series {
                        label: format!("{} --queue 0", series.label),
                        ..series.clone()
                    };
                    out.push((queue0, counts));
                }
            }
            _ => {}
        }
    }
    out
}

/// Measures every idle point, `options.rounds` times, the rounds interleaved; one progress
/// line per point. New points are not started after `options.idle_budget`.
pub fn measure_all(options: &Options, progress: &mut impl Write) -> IdleOutcome {
    let started = Instant::now();
    let mut outcome = IdleOutcome {
        points: Vec::new(),
        notes: Vec::new(),
        unmeasured: Vec::new(),
        elapsed: Duration::ZERO,
    };
    let chosen = chosen(options);
    let left_out = if options.idle_connections.is_empty() {
        Some("left out (--no-idle)")
    } else if chosen.is_empty() {
        Some("none of the series measured has them (lesson-03, lesson-05 and tokio do)")
    } else {
        None
    };
    if let Some(why) = left_out {
        outcome.unmeasured.push(IdleMissing {
            label: "idle points".to_string(),
            connections: None,
            why: why.to_string(),
        });
        return outcome;
    }
    // Every client end is a descriptor of this process, and every server started from here
    // inherits the raised limit.
    let limit = observe::raise_descriptor_limit();
    let deadline = started + options.idle_budget;
    let servers = Servers::new(&options.bin_dir, 0);
    let mut skipped: Vec<(&str, usize, String)> = Vec::new();
    let mut out_of_time = false;
    'rounds: for round in 1..=options.rounds {
        for (series, counts) in &chosen {
            for &connections in counts {
                if skipped
                    .iter()
                    .any(|(k, c, _)| *k == series.key && *c == connections)
                {
                    continue;
                }
                if deadline.saturating_duration_since(Instant::now()) < Duration::from_secs(2) {
                    out_of_time = true;
                    break 'rounds;
                }
                match measure_point(&servers, series, connections, options, round, limit) {
                    Ok(point) => {
                        let _ = writeln!(progress, "{}", point.progress_line());
                        outcome.notes.extend(point.losses());
                        outcome.points.push(point);
                    }
                    Err(why) => {
                        outcome.notes.push(format!(
                            "{} with {connections} connections not measured: {why}",
                            series.label
                        ));
                        skipped.push((&series.key, connections, why));
                    }
                }
            }
        }
    }
    if out_of_time {
        outcome.notes.push(format!(
            "the idle points' budget of {} s ran out: the remaining ones were not measured",
            options.idle_budget.as_secs()
        ));
    }
    for (series, counts) in &chosen {
        for &connections in counts {
            let measured = outcome
                .points
                .iter()
                .any(|p| p.key == series.key && p.connections == connections);
            if measured {
                continue;
            }
            let why = skipped
                .iter()
                .find(|(k, c, _)| *k == series.key && *c == connections)
                .map(|(_, _, why)| why.clone())
                .unwrap_or_else(|| "the idle points' budget ran out before it".to_string());
            outcome.unmeasured.push(IdleMissing {
                label: series.label.clone(),
                connections: Some(connections),
                why,
            });
        }
    }
    outcome.elapsed = started.elapsed();
    outcome
}

/// One point: a fresh server, the crowd, then the active clients for at least the minimum time.
fn measure_point(
    servers: &Servers,
    series: &Series,
    connections: usize,
    options: &Options,
    round: usize,
    limit: Option<u64>,
) -> Result<IdlePoint, String> {
    let active = options.idle_active;
    let idle = connections - active;
    // What the load generator asks for: the crowd, room for its most active clients, and some
    // for this program's own files.
    let needed = (idle + loadgen::MAX_CLIENTS + 64) as u64;
    if let Some(limit) = limit.filter(|&limit| limit < needed) {
        return Err(format!(
            "{} connections need {} file descriptors in this process, and its limit is {} \
             (ulimit -n; the hard limit caps it)",
            thousands(connections as f64),
            thousands(needed as f64),
            thousands(limit as f64)
        ));
    }
    let server = servers.start_with(series.program, &["--idle-timeout", SERVER_IDLE_TIMEOUT])?;
    let (addr, pid) = (server.addr(), server.pid());
    // One short conversation first, not measured, as for the other points; then let the server
    // close it, so that a pool's worker is free again for the crowd.
    let before = open_descriptors(pid);
    let _ = loadgen::run(&crate::load(series, addr, 1, 100));
    if let Some(before) = before {
        wait_for_descriptors(pid, before, SETTLE);
    }
    let threads_before = observe::thread_count(pid);
    let crowd = loadgen::hold_idle(addr, idle, Framing::Lines, CROWD_TIMEOUT)?;
    let rss_held_kib = observe::resident_memory(pid).map(|bytes| bytes / 1024);
    let held_descriptors = open_descriptors(pid);
    let config = loadgen::Config {
        timeout: POINT_TIMEOUT,
        ..crate::load(series, addr, active, options.messages)
    };
    let settle = || {
        if let Some(held) = held_descriptors {
            wait_for_descriptors(pid, held, SETTLE);
        }
    };
    let point_deadline = Instant::now() + POINT_TIMEOUT;
    let (report, cost) =
        crate::measure_long_enough(&server, config, options.min_point, point_deadline, &settle)?;
    let point = IdlePoint {
        series: series.label.clone(),
        key: series.key.clone(),
        program: series.program,
        round,
        connections,
        idle,
        held: crowd.streams.len() - crowd.waiting,
        idle_refused: crowd.refused,
        not_greeted: crowd.waiting,
        idle_failed: crowd.failed,
        idle_first_failure: crowd.first_failure.clone(),
        idle_greeting_max: crowd.greeting_max,
        threads_before,
        rss_held_kib,
        report,
        cost,
    };
    // The crowd first, then the server (killed).
    drop(crowd);
    drop(server);
    Ok(point)
}

/// How many file descriptors process `pid` has open.
fn open_descriptors(pid: u32) -> Option<usize> {
    Some(fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count())
}

/// Waits until process `pid` has at most `most` descriptors open, or `limit` is over.
fn wait_for_descriptors(pid: u32, most: usize, limit: Duration) {
    let until = Instant::now() + limit;
    while open_descriptors(pid).is_some_and(|n| n > most) && Instant::now() < until {
        // A polling period: the server closes connections on its own time.
        thread::sleep(Duration::from_millis(5));
    }
}

/// The columns of `idle.csv`: the load generator's own (the active clients), the round, the
/// crowd, and what the server paid.
pub fn csv_header() -> String {
    format!(
        "{},round,connections,idle,idle_greeted,idle_refused,idle_not_greeted,idle_failed,\
         idle_greeting_max_us,server_threads_before,server_rss_kib_with_idle,\
         server_cpu_us_per_round_trip,server_context_switches_per_round_trip,\
         server_threads_max,server_rss_kib_max,server_vm_kib_max",
        Report::CSV_HEADER
    )
}

/// Every idle point measured, one row each, in the order measured.
pub fn csv(points: &[IdlePoint]) -> String {
    let int = |v: Option<u64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut out = csv_header() + "\n";
    for p in points {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{}",
            p.report.csv_line(&p.series),
            p.round,
            p.connections,
            p.idle,
            p.held,
            p.idle_refused,
            p.not_greeted,
            p.idle_failed,
            p.idle_greeting_max
                .map(|d| format!("{:.1}", d.as_secs_f64() * 1e6))
                .unwrap_or_default(),
            int(p.threads_before.map(|n| n as u64)),
            int(p.rss_held_kib),
            report::cost_cells(&p.cost),
        );
    }
    out
}

/// One series at one connection count: the active clients' figures as for the other points
/// (median of the rounds), and the whole crowd's refusals, losses, threads and memory.
#[derive(Clone, Debug)]
pub struct IdleSummary {
    /// What the active clients saw and what the server paid, median of the rounds; its
    /// resident memory counts the crowd alone too.
    pub active: report::Summary,
    pub connections: usize,
    /// Refused and lost, of all connections, in the round with the most of each.
    pub worst_refused: usize,
    pub worst_lost: usize,
    /// Refused and lost over all rounds.
    pub refused: usize,
    pub lost: usize,
    /// The most threads of all rounds, and the most before the crowd came.
    pub threads_most: Option<u64>,
    pub threads_before: Option<usize>,
    /// The most resident memory of all rounds.
    pub rss_mib_most: Option<f64>,
}

/// Groups the points by series and connection count, in the order first measured.
pub fn summarise(points: &[IdlePoint]) -> Vec<IdleSummary> {
    let group_key = |p: &IdlePoint| format!("{}@{}", p.key, p.connections);
    let as_points: Vec<Point> = points
        .iter()
        .map(|p| Point {
            series: p.series.clone(),
            key: group_key(p),
            program: p.program,
            round: p.round,
            report: p.report.clone(),
            cost: Cost {
                rss_kib_max: p.rss_kib(),
                ..p.cost.clone()
            },
        })
        .collect();
    report::summarise(&as_points)
        .into_iter()
        .map(|active| {
            let group: Vec<&IdlePoint> = points
                .iter()
                .filter(|p| group_key(p) == active.key)
                .collect();
            IdleSummary {
                connections: group[0].connections,
                worst_refused: group.iter().map(|p| p.refused()).max().unwrap_or(0),
                worst_lost: group.iter().map(|p| p.lost()).max().unwrap_or(0),
                refused: group.iter().map(|p| p.refused()).sum(),
                lost: group.iter().map(|p| p.lost()).sum(),
                threads_most: group.iter().filter_map(|p| p.cost.threads_max).max(),
                threads_before: group.iter().filter_map(|p| p.threads_before).max(),
                rss_mib_most: group
                    .iter()
                    .filter_map(|p| p.rss_kib())
                    .max()
                    .map(|k| k as f64 / 1024.0),
                active,
            }
        })
        .collect()
}

/// The idle table, with a row for each point not measured, saying why.
pub fn table(summaries: &[IdleSummary], missing: &[IdleMissing]) -> Table {
    let or_dash = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("-".to_string(), f);
    let of = |n: usize, all: usize| {
        if n == 0 {
            "none".to_string()
        } else {
            format!("{} of {}", thousands(n as f64), thousands(all as f64))
        }
    };
    Table {
        header: vec![
            "Server",
            "Connections",
            "Active",
            "Round trips/s",
            "min–max of the rounds",
            "p99 latency",
            "Slowest greeting",
            "Refused",
            "Lost",
            "Threads",
            "Resident memory",
        ],
        rows: summaries
            .iter()
            .map(|s| {
                let a = &s.active;
                vec![
                    a.label.clone(),
                    thousands(s.connections as f64),
                    a.clients.to_string(),
                    thousands(a.rate),
                    if a.rounds > 1 {
                        format!("{}–{}", thousands(a.rate_min), thousands(a.rate_max))
                    } else {
                        "one round".to_string()
                    },
                    ms_value(a.p99_ms),
                    ms_value(a.greeting_ms),
                    of(s.worst_refused, s.connections),
                    of(s.worst_lost, s.connections),
                    or_dash(a.threads, &|v| format!("{v:.0}")),
                    or_dash(a.rss_mib, &|v| format!("{v:.1} MiB")),
                ]
            })
            .collect(),
        unmeasured: missing
            .iter()
            .map(|m| {
                let mut lead = vec![m.label.clone()];
                lead.extend(m.connections.map(|c| thousands(c as f64)));
                (lead, m.why.clone())
            })
            .collect(),
    }
}

/// The goal lines of the idle points: at [`GOAL_CONNECTIONS`] connections lesson 05 holds them
/// all on one event-loop thread (no more threads than before they came), greets every one, and
/// stays under [`GOAL_RSS_MIB`] of resident memory; and no client is lost at any point of
/// lesson 05's or with idle connections (refusals are counted apart: refusing is what lesson
/// 03 does when it is full).
pub fn goals(
    idle: &[IdleSummary],
    others: &[report::Summary],
    missing: &[IdleMissing],
) -> Vec<String> {
    let verdict = |met: bool| if met { "met" } else { "missed" };
    let who = format!(
        "at {} connections, lesson-05",
        thousands(GOAL_CONNECTIONS as f64)
    );
    let mut lines = Vec::new();
    let point = idle
        .iter()
        .find(|s| s.active.program == Program::Lesson05 && s.connections == GOAL_CONNECTIONS);
    match point {
        None => {
            let why = missing
                .iter()
                .find(|m| match m.connections {
                    None => true,
                    Some(c) => m.label == "lesson-05" && c == GOAL_CONNECTIONS,
                })
                .map_or("not among the points asked for".to_string(), |m| {
                    m.why.clone()
                });
            lines.push(format!(
                "goal: {who} holds them all on one thread, greets every one, and stays under \
                 {GOAL_RSS_MIB} MiB resident : not measured: {why}"
            ));
        }
        Some(s) => {
            let count = |n: Option<u64>| n.map_or("?".to_string(), |n| n.to_string());
            let one_thread = matches!(
                (s.threads_most, s.threads_before),
                (Some(with), Some(before)) if with <= before as u64
            );
            lines.push(format!(
                "goal: {who} holds them all on one event-loop thread: at most {} threads with \
                 them, {} before they came, in {} : {}",
                count(s.threads_most),
                count(s.threads_before.map(|n| n as u64)),
                runs(s.active.rounds),
                verdict(one_thread)
            ));
            lines.push(format!(
                "goal: {who} greets every one: {} refused, {} lost in {} : {}",
                s.refused,
                s.lost,
                runs(s.active.rounds),
                verdict(s.refused + s.lost == 0)
            ));
            lines.push(match s.rss_mib_most {
                Some(most) => format!(
                    "goal: {who} stays under {GOAL_RSS_MIB} MiB of resident memory: at most \
                     {most:.1} MiB in {} : {}",
                    runs(s.active.rounds),
                    verdict(most < GOAL_RSS_MIB)
                ),
                None => format!(
                    "goal: {who} stays under {GOAL_RSS_MIB} MiB of resident memory : not \
                     measured: /proc/PID/status could not be read"
                ),
            });
        }
    }
    let loop05 = others.iter().filter(|s| s.program == Program::Lesson05);
    let runs_all: usize = idle.iter().map(|s| s.active.rounds).sum::<usize>()
        + loop05.clone().map(|s| s.rounds).sum::<usize>();
    if runs_all == 0 {
        lines.push("goal: no client lost at any point of lesson-05 or with idle connections : not measured".to_string());
    } else {
        let lost: usize = idle.iter().map(|s| s.lost).sum::<usize>()
            + loop05.clone().map(|s| s.failed).sum::<usize>();
        let refused: usize = idle.iter().map(|s| s.refused).sum::<usize>()
            + loop05.map(|s| s.refused).sum::<usize>();
        lines.push(format!(
            "goal: no client lost at any point of lesson-05 or with idle connections: {lost} \
             lost in {}, and {} refused (busy), counted apart : {}",
            runs(runs_all),
            thousands(refused as f64),
            verdict(lost == 0)
        ));
    }
    lines
}
