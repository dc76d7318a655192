//! From the points measured to what people read: the CSV with every row, the median of each
//! point's rounds, the two tables, and the goal lines.

use std::fmt::Write as _;
use std::time::Duration;

use loadgen::Report;

use crate::measure::{Cost, Point};
use crate::{Program, Unmeasured};

/// The columns of `results.csv`: the load generator's own, then the round and what the server
/// paid.
pub fn csv_header() -> String {
    format!(
        "{},round,server_cpu_us_per_round_trip,server_context_switches_per_round_trip,\
         server_threads_max,server_rss_kib_max,server_vm_kib_max",
        Report::CSV_HEADER
    )
}

/// Every point measured, one row each, in the order measured.
pub fn csv(points: &[Point]) -> String {
    let mut out = csv_header() + "\n";
    for p in points {
        let _ = writeln!(
            out,
            "{},{},{}",
            p.report.csv_line(&p.series),
            p.round,
            cost_cells(&p.cost)
        );
    }
    out
}

/// The CSV cells of what the server paid, the last five columns of [`csv_header`].
pub fn cost_cells(c: &Cost) -> String {
    let opt = |value: Option<f64>, decimals: usize| {
        value.map(|v| format!("{v:.decimals$}")).unwrap_or_default()
    };
    let int = |value: Option<u64>| value.map(|v| v.to_string()).unwrap_or_default();
    format!(
        "{},{},{},{},{}",
        opt(c.cpu_us_per_trip, 2),
        opt(c.switches_per_trip, 3),
        int(c.threads_max),
        int(c.rss_kib_max),
        int(c.vm_kib_max),
    )
}

/// One series at one client count: the median over its rounds.
#[derive(Clone, Debug)]
pub struct Summary {
    pub key: String,
    pub label: String,
    pub program: Program,
    pub clients: usize,
    pub messages: usize,
    pub stagger: Duration,
    pub rounds: usize,
    /// Median round trips per second.
    pub rate: f64,
    /// The lowest and the highest round trips per second of the rounds.
    pub rate_min: f64,
    pub rate_max: f64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Median over the rounds of the slowest greeting.
    pub greeting_ms: Option<f64>,
    /// Clients refused and failed in the round that lost the most.
    pub worst_refused: usize,
    pub worst_failed: usize,
    /// Clients refused and failed over all rounds.
    pub refused: usize,
    pub failed: usize,
    /// Some round ran into its time limit.
    pub timed_out: bool,
    pub cpu_us: Option<f64>,
    pub switches: Option<f64>,
    pub threads: Option<f64>,
    pub rss_mib: Option<f64>,
    pub vm_mib: Option<f64>,
}

impl Summary {
    /// Clients lost in the worst round.
    pub fn lost(&self) -> usize {
        self.worst_refused + self.worst_failed
    }
}

/// Groups the points by series and client count, in the order first measured, and takes the
/// median of each figure over the rounds.
pub fn summarise(points: &[Point]) -> Vec<Summary> {
    let mut groups: Vec<Vec<&Point>> = Vec::new();
    for point in points {
        let same = |g: &&mut Vec<&Point>| {
            g[0].key == point.key && g[0].report.config.clients == point.report.config.clients
        };
        match groups.iter_mut().find(same) {
            Some(group) => group.push(point),
            None => groups.push(vec![point]),
        }
    }
    groups
        .into_iter()
        .map(|group| {
            let first = &group[0];
            let each =
                |f: &dyn Fn(&Point) -> Option<f64>| median(group.iter().filter_map(|p| f(p)));
            let millis = |d: Option<Duration>| d.map(|d| d.as_secs_f64() * 1e3);
            let mib = |kib: Option<u64>| kib.map(|k| k as f64 / 1024.0);
            let worst = group
                .iter()
                .max_by_key(|p| p.report.refused + p.report.failed)
                .expect("a group has a point");
            Summary {
                key: first.key.clone(),
                label: first.series.clone(),
                program: first.program,
                clients: first.report.config.clients,
                messages: first.report.config.messages,
                stagger: first.report.config.stagger,
                rounds: group.len(),
                rate: each(&|p| Some(p.report.round_trips_per_sec())).unwrap_or(0.0),
                rate_min: group
                    .iter()
                    .map(|p| p.report.round_trips_per_sec())
                    .fold(f64::INFINITY, f64::min),
                rate_max: group
                    .iter()
                    .map(|p| p.report.round_trips_per_sec())
                    .fold(0.0, f64::max),
                p50_ms: each(&|p| millis(p.report.p50)),
                p99_ms: each(&|p| millis(p.report.p99)),
                greeting_ms: each(&|p| millis(p.report.greeting_max)),
                worst_refused: worst.report.refused,
                worst_failed: worst.report.failed,
                refused: group.iter().map(|p| p.report.refused).sum(),
                failed: group.iter().map(|p| p.report.failed).sum(),
                timed_out: group.iter().any(|p| p.report.timed_out),
                cpu_us: each(&|p| p.cost.cpu_us_per_trip),
                switches: each(&|p| p.cost.switches_per_trip),
                threads: each(&|p| p.cost.threads_max.map(|n| n as f64)),
                rss_mib: each(&|p| mib(p.cost.rss_kib_max)),
                vm_mib: each(&|p| mib(p.cost.vm_kib_max)),
            }
        })
        .collect()
}

/// The median (the mean of the middle two for an even count), or `None` for no values.
pub fn median(values: impl Iterator<Item = f64>) -> Option<f64> {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// A table, written as Markdown for the book or as aligned text for the terminal.
pub struct Table {
    pub(crate) header: Vec<&'static str>,
    /// Every column but the first holds numbers, aligned right.
    pub(crate) rows: Vec<Vec<String>>,
    /// Series or points not measured: one row each, its first cells (the series, say) and
    /// then `not measured: <reason>`.
    pub(crate) unmeasured: Vec<(Vec<String>, String)>,
}

impl Table {
    /// The same table, with a row for each series that was not measured, saying why.
    pub fn with_unmeasured(mut self, missing: &[Unmeasured]) -> Table {
        self.unmeasured = missing
            .iter()
            .map(|m| (vec![m.label.clone()], m.why.clone()))
            .collect();
        self
    }

    pub fn markdown(&self) -> String {
        let mut out = format!("| {} |\n|", self.header.join(" | "));
        for i in 0..self.header.len() {
            out.push_str(if i < 1 { " --- |" } else { " ---: |" });
        }
        out.push('\n');
        for row in &self.rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        for (lead, why) in &self.unmeasured {
            let empty = " |".repeat(self.header.len().saturating_sub(lead.len() + 1));
            let _ = writeln!(out, "| {} | not measured: {why} |{empty}", lead.join(" | "));
        }
        out
    }

    pub fn text(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|i| {
                self.rows
                    .iter()
                    .map(|row| row[i].chars().count())
                    .chain([self.header[i].chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: Vec<&str>| {
            let mut out = String::new();
            for (i, cell) in cells.iter().enumerate() {
                let pad = widths[i] - cell.chars().count();
                if i == 0 {
                    out.push_str(cell);
                    out.push_str(&" ".repeat(pad));
                } else {
                    out.push_str("  ");
                    out.push_str(&" ".repeat(pad));
                    out.push_str(cell);
                }
            }
            out.trim_end().to_string() + "\n"
        };
        let mut out = line(self.header.clone());
        for row in &self.rows {
            out.push_str(&line(row.iter().map(String::as_str).collect()));
        }
        // Outside the columns, so that a long reason does not widen them.
        for (lead, why) in &self.unmeasured {
            for (i, cell) in lead.iter().enumerate() {
                let pad = " ".repeat(
                    widths
                        .get(i)
                        .map_or(0, |w| w.saturating_sub(cell.chars().count())),
                );
                if i == 0 {
                    out.push_str(cell);
                    out.push_str(&pad);
                } else {
                    out.push_str("  ");
                    out.push_str(&pad);
                    out.push_str(cell);
                }
            }
            let _ = writeln!(out, "  not measured: {why}");
        }
        out
    }
}

/// What the clients saw.
pub fn speed_table(summaries: &[Summary]) -> Table {
    Table {
        header: vec![
            "Server",
            "Clients",
            "Round trips/s",
            "min–max of the rounds",
            "p50 latency",
            "p99 latency",
            "Slowest greeting",
            "Clients lost",
        ],
        rows: summaries
            .iter()
            .map(|s| {
                vec![
                    s.label.clone(),
                    s.clients.to_string(),
                    thousands(s.rate),
                    if s.rounds > 1 {
                        format!("{}–{}", thousands(s.rate_min), thousands(s.rate_max))
                    } else {
                        "one round".to_string()
                    },
                    ms_value(s.p50_ms),
                    ms_value(s.p99_ms),
                    ms_value(s.greeting_ms),
                    lost(s),
                ]
            })
            .collect(),
        unmeasured: Vec::new(),
    }
}

/// What the server paid.
pub fn cost_table(summaries: &[Summary]) -> Table {
    let or_dash = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("-".to_string(), f);
    Table {
        header: vec![
            "Server",
            "Clients",
            "CPU per round trip",
            "Context switches per round trip",
            "Threads",
            "Resident memory",
            "Address space",
        ],
        rows: summaries
            .iter()
            .map(|s| {
                vec![
                    s.label.clone(),
                    s.clients.to_string(),
                    or_dash(s.cpu_us, &|v| format!("{v:.1} µs")),
                    or_dash(s.switches, &|v| format!("{v:.2}")),
                    or_dash(s.threads, &|v| format!("{v:.0}")),
                    or_dash(s.rss_mib, &|v| format!("{v:.1} MiB")),
                    or_dash(s.vm_mib, &|v| format!("{} MiB", thousands(v))),
                ]
            })
            .collect(),
        unmeasured: Vec::new(),
    }
}

fn lost(s: &Summary) -> String {
    let (refused, failed) = (s.worst_refused, s.worst_failed);
    let what = match (refused, failed) {
        (0, 0) => return "none".to_string(),
        (0, f) => format!("{f} failed"),
        (r, 0) => format!("{r} refused"),
        (r, f) => format!("{r} refused, {f} failed"),
    };
    format!("{what} of {}", s.clients)
}

/// The client count the goals are about.
pub const GOAL_CLIENTS: usize = 64;
/// Lesson 03 (64 workers) against the original: at least this many times the round trips/s.
pub const GOAL_OVER_ORIGINAL: f64 = 10.0;
/// Lesson 03 (64 workers) against the tokio reference: at least this share of its round trips/s.
pub const GOAL_OF_TOKIO: f64 = 0.9;

/// The goal lines: at 64 clients, lesson 03 with 64 workers does at least 10 times the round
/// trips per second of the original, at least 0.9 times the tokio server's, and loses no client.
/// Then the same figures for lesson 03's other pool sizes, for comparison.
pub fn goals(summaries: &[Summary]) -> Vec<String> {
    let at_goal = |s: &&Summary| s.clients == GOAL_CLIENTS;
    let pools = summaries
        .iter()
        .filter(at_goal)
        .filter(|s| matches!(s.program, Program::Lesson03 { .. }));
    // The original's better series: the goal is measured against it at its best.
    let originals = summaries
        .iter()
        .filter(at_goal)
        .filter(|s| s.program == Program::Original);
    let original = originals.clone().max_by(|a, b| a.rate.total_cmp(&b.rate));
    let tokio = summaries
        .iter()
        .filter(at_goal)
        .find(|s| s.program == Program::Tokio);
    let goal_pool = Program::Lesson03 { workers: 64 };
    let verdict = |met: bool| if met { "met" } else { "missed" };
    let mut lines = Vec::new();

    let who = format!("at {GOAL_CLIENTS} clients, lesson-03 --workers 64");
    match pools.clone().find(|s| s.program == goal_pool) {
        None => lines.push(format!("goal: {who} : not measured")),
        Some(pool) => {
            let ratio = |base: &Summary| pool.rate / base.rate.max(f64::MIN_POSITIVE);
            lines.push(match original {
                Some(o) => format!(
                    "goal: {who} does at least {GOAL_OVER_ORIGINAL}x the round trips/s of \
                     the original: {}/s vs {}/s ({}) = {:.1}x : {}",
                    thousands(pool.rate),
                    thousands(o.rate),
                    o.label,
                    ratio(o),
                    verdict(ratio(o) >= GOAL_OVER_ORIGINAL)
                ),
                None => format!(
                    "goal: {who} does at least {GOAL_OVER_ORIGINAL}x the round trips/s of \
                     the original : not measured (see the notes)"
                ),
            });
            lines.push(match tokio {
                Some(t) => format!(
                    "goal: {who} does at least {GOAL_OF_TOKIO}x the round trips/s of {}: \
                     {}/s vs {}/s = {:.2}x : {}",
                    t.label,
                    thousands(pool.rate),
                    thousands(t.rate),
                    ratio(t),
                    verdict(ratio(t) >= GOAL_OF_TOKIO)
                ),
                None => format!(
                    "goal: {who} does at least {GOAL_OF_TOKIO}x the round trips/s of \
                     tokio-reference : not measured"
                ),
            });
            lines.push(format!(
                "goal: {who} loses no client: {} refused, {} failed in {} : {}",
                pool.refused,
                pool.failed,
                runs(pool.rounds),
                verdict(pool.refused + pool.failed == 0)
            ));
        }
    }
    for pool in pools.filter(|s| s.program != goal_pool) {
        let ratio = |base: &Summary| pool.rate / base.rate.max(f64::MIN_POSITIVE);
        let mut line = format!(
            "for comparison, at {GOAL_CLIENTS} clients, {}: {}/s",
            pool.label,
            thousands(pool.rate)
        );
        if let Some(o) = original {
            let _ = write!(line, " = {:.1}x the original", ratio(o));
        }
        if let Some(t) = tokio {
            let _ = write!(line, ", {:.2}x {}", ratio(t), t.label);
        }
        let _ = write!(
            line,
            "; {} refused, {} failed in {}",
            pool.refused,
            pool.failed,
            runs(pool.rounds)
        );
        lines.push(line);
    }
    lines.extend(lesson_05_goals(summaries));
    // The original's other series, when it lost clients: why it is not the baseline.
    for s in originals.filter(|s| s.lost() > 0) {
        lines.push(format!(
            "note: {} lost {} of its {} clients{}: {}/s, a figure set by the time limit more \
             than by the server",
            s.label,
            s.lost(),
            s.clients,
            if s.timed_out {
                ", and the run waited for them until its time limit"
            } else {
                ""
            },
            thousands(s.rate)
        ));
    }
    lines
}

pub(crate) fn runs(n: usize) -> String {
    if n == 1 {
        "1 run".to_string()
    } else {
        format!("{n} runs")
    }
}

/// `12,345` for 12345.4.
pub fn thousands(value: f64) -> String {
    let digits = format!("{:.0}", value.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds with about three significant digits, or `-`.
pub fn ms_value(millis: Option<f64>) -> String {
    match millis {
        None => "-".to_string(),
        Some(v) if v < 1.0 => format!("{v:.3} ms"),
        Some(v) if v < 10.0 => format!("{v:.2} ms"),
        Some(v) if v < 100.0 => format!("{v:.1} ms"),
        Some(v) => format!("{} ms", thousands(v)),
    }
}

/// [`ms_value`] of a duration.
pub fn ms(d: Option<Duration>) -> String {
    ms_value(d.map(|d| d.as_secs_f64() * 1e3))
}

/// Lesson 05's goals: at 64 and at 256 clients, at least [`GOAL_OF_TOKIO`] times the round
/// trips per second of the tokio reference in the same run, and no client lost.
fn lesson_05_goals(summaries: &[Summary]) -> Vec<String> {
    let verdict = |met: bool| if met { "met" } else { "missed" };
    let mut lines = Vec::new();
    for clients in [64, 256] {
        let find = |program| {
            summaries
                .iter()
                .find(|s| s.clients == clients && s.program == program)
        };
        let who = format!("at {clients} clients, lesson-05");
        let (Some(loop05), tokio) = (find(Program::Lesson05), find(Program::Tokio)) else {
            lines.push(format!("goal: {who} : not measured"));
            continue;
        };
        lines.push(match tokio {
            Some(t) => {
                let ratio = loop05.rate / t.rate.max(f64::MIN_POSITIVE);
                format!(
                    "goal: {who} does at least {GOAL_OF_TOKIO}x the round trips/s of {}: {}/s \
                     vs {}/s = {ratio:.2}x : {}",
                    t.label,
                    thousands(loop05.rate),
                    thousands(t.rate),
                    verdict(ratio >= GOAL_OF_TOKIO)
                )
            }
            None => format!(
                "goal: {who} does at least {GOAL_OF_TOKIO}x the round trips/s of \
                 tokio-reference : not measured"
            ),
        });
        lines.push(format!(
            "goal: {who} loses no client: {} refused, {} failed in {} : {}",
            loop05.refused,
            loop05.failed,
            runs(loop05.rounds),
            verdict(loop05.refused + loop05.failed == 0)
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_numbers() {
        assert_eq!(median([3.0, 1.0, 2.0].into_iter()), Some(2.0));
        assert_eq!(median([4.0, 1.0].into_iter()), Some(2.5));
        assert_eq!(median(std::iter::empty()), None);
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(ms_value(Some(0.0456)), "0.046 ms");
        assert_eq!(ms_value(Some(2345.0)), "2,345 ms");
    }

    #[test]
    fn tables_line_up() {
        let table = Table {
            header: vec!["Server", "Clients"],
            rows: vec![
                vec!["a".into(), "1".into()],
                vec!["bbbbbbbb".into(), "256".into()],
            ],
            unmeasured: Vec::new(),
        };
        assert_eq!(
            table.text(),
            "Server    Clients\na               1\nbbbbbbbb      256\n"
        );
        assert!(
            table
                .markdown()
                .starts_with("| Server | Clients |\n| --- | ---: |\n")
        );
    }

    #[test]
    fn a_series_not_measured_has_a_row_saying_why() {
        let missing = [Unmeasured {
            label: "c".into(),
            why: "python3 is not installed".into(),
        }];
        let table = Table {
            header: vec!["Server", "Clients", "Rate"],
            rows: vec![vec!["aaaa".into(), "1".into(), "5".into()]],
            unmeasured: Vec::new(),
        }
        .with_unmeasured(&missing);
        assert!(
            table
                .text()
                .ends_with("\nc       not measured: python3 is not installed\n"),
            "{}",
            table.text()
        );
        assert!(
            table
                .markdown()
                .ends_with("| c | not measured: python3 is not installed | |\n"),
            "{}",
            table.markdown()
        );
    }

    #[test]
    fn a_point_not_measured_keeps_its_leading_cells_in_their_columns() {
        let table = Table {
            header: vec!["Server", "Connections", "Rate", "Lost"],
            rows: vec![vec![
                "aaaa".into(),
                "1,000".into(),
                "5".into(),
                "none".into(),
            ]],
            unmeasured: vec![(vec!["b".into(), "10".into()], "too few descriptors".into())],
        };
        assert!(
            table
                .text()
                .ends_with("\nb                10  not measured: too few descriptors\n"),
            "{}",
            table.text()
        );
        assert!(
            table
                .markdown()
                .ends_with("| b | 10 | not measured: too few descriptors | |\n"),
            "{}",
            table.markdown()
        );
    }
}
