//! The machine the figures came from: figures mean little without it.

use std::fs;
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::Options;

/// What changes during a run: the time and the machine's load.
pub struct Machine {
    pub when: SystemTime,
    /// The first three fields of /proc/loadavg: runnable threads averaged over 1, 5, 15 minutes.
    pub load: String,
}

impl Machine {
    pub fn now() -> Machine {
        let load = fs::read_to_string("/proc/loadavg")
            .map(|text| {
                text.split_whitespace()
                    .take(3)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_else(|_| "unknown".to_string());
        Machine {
            when: SystemTime::now(),
            load,
        }
    }
}

/// The text of machine.txt: CPU, kernel, compiler, date, load, and the run's settings.
pub fn describe(before: &Machine, after: &Machine, options: &Options, took: Duration) -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string());
    let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .or_else(|_| command_line("uname", &["-r"]))
        .unwrap_or_else(|_| "unknown".to_string());
    let rustc = command_line("rustc", &["--version"]).unwrap_or_else(|e| e);
    let python = command_line("python3", &["--version"]).unwrap_or_else(|e| e);
    let clients: Vec<String> = options.clients.iter().map(usize::to_string).collect();
    let idle = if options.idle_connections.is_empty() {
        "left out (--no-idle)".to_string()
    } else {
        let counts: Vec<String> = options
            .idle_connections
            .iter()
            .map(usize::to_string)
            .collect();
        let limit = test_support::observe::raise_descriptor_limit()
            .map_or("none".to_string(), |n| n.to_string());
        format!(
            "{} connections, {} of them active and the rest idle; descriptor limit {limit}",
            counts.join(", "),
            options.idle_active
        )
    };
    format!(
        "cpu:      {model}, {cpus} CPUs (nproc)\n\
         kernel:   Linux {kernel}\n\
         rustc:    {rustc}\n\
         python3:  {python}\n\
         date:     {}\n\
         load:     {} at the start, {} at the end (load average: 1, 5, 15 minutes)\n\
         run:      {} clients; {} round trips per client or more, each point at least {} s; \
         {} rounds; {:.0} s; loopback (127.0.0.1)\n\
         idle:     {idle}\n",
        utc(before.when),
        before.load,
        after.load,
        clients.join(", "),
        options.messages,
        options.min_point.as_secs_f64(),
        options.rounds,
        took.as_secs_f64(),
    )
}

/// The first line a command prints, or why it could not run.
fn command_line(program: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(program)
        .args(args)
        .output()
        .map_err(|e| format!("not available ({e})"))?;
    let text = String::from_utf8_lossy(if out.stdout.is_empty() {
        &out.stderr
    } else {
        &out.stdout
    })
    .lines()
    .next()
    .unwrap_or("")
    .trim()
    .to_string();
    if out.status.success() && !text.is_empty() {
        Ok(text)
    } else {
        Err("not available".to_string())
    }
}

/// `2026-11-25 19:40 UTC`.
pub fn utc(when: SystemTime) -> String {
    let secs = when.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rest) = ((secs / 86_400) as i64, secs % 86_400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rest / 3600,
        rest % 3600 / 60
    )
}

/// The calendar date of a day counted from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(
            utc(UNIX_EPOCH + Duration::from_secs(951_782_400 + 3_660)),
            "2000-02-29 01:01 UTC"
        );
    }
}
