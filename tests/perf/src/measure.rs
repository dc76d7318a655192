//! One point: start a server, put one load on it with [`loadgen::run`], and read from `/proc`
//! what serving that load cost the server.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use loadgen::{Config, Report};
use test_support::{Server, originals};

use crate::Program;

/// What the server paid for one load, read from `/proc/PID`. `None` where it could not be read.
#[derive(Clone, Debug, Default)]
pub struct Cost {
    /// User plus system CPU time of the server's process, per round trip.
    pub cpu_us_per_trip: Option<f64>,
    /// Voluntary and involuntary context switches of the server's threads, per round trip.
    /// Unknown when a thread started or ended during the load: the kernel forgets the count of
    /// a thread that ended.
    pub switches_per_trip: Option<f64>,
    /// The most threads, resident memory and address space seen (sampled every 10 ms).
    pub threads_max: Option<u64>,
    pub rss_kib_max: Option<u64>,
    pub vm_kib_max: Option<u64>,
}

/// One series at one client count, in one round.
#[derive(Clone, Debug)]
pub struct Point {
    /// The series' label and key (see [`crate::Series`]).
    pub series: String,
    pub key: String,
    pub program: Program,
    pub round: usize,
    pub report: Report,
    pub cost: Cost,
}

impl Point {
    /// One line for the terminal while the run goes on.
    pub fn progress_line(&self) -> String {
        let r = &self.report;
        let mut line = format!(
            "round {} {:<32} {:>3} clients: {:>8.0} round trips/s, p99 {}, slowest greeting {}",
            self.round,
            self.series,
            r.config.clients,
            r.round_trips_per_sec(),
            crate::report::ms(r.p99),
            crate::report::ms(r.greeting_max),
        );
        if r.refused + r.failed > 0 {
            line.push_str(&format!(
                ", LOST {} refused + {} failed",
                r.refused, r.failed
            ));
        }
        line
    }
}

impl Point {
    /// One sentence on the clients this point lost, and why, if it lost any.
    pub fn losses(&self) -> Option<String> {
        let r = &self.report;
        if r.refused + r.failed == 0 {
            return None;
        }
        let why = if r.timed_out {
            // At its deadline the load generator shuts the sockets of the clients still waiting;
            // their last error is then an end of stream that the server did not send.
            format!(
                "the run reached its time limit of {} s with clients still waiting, and cut \
                 them off",
                r.config.timeout.as_secs()
            )
        } else {
            format!(
                "the first failure: {}",
                r.first_failure.as_deref().unwrap_or("refused (busy)")
            )
        };
        Some(format!(
            "{}, {} clients, round {}: {} refused, {} failed; {why}",
            self.series, r.config.clients, self.round, r.refused, r.failed
        ))
    }
}

/// Starts the programs under test.
pub struct Servers {
    bin_dir: PathBuf,
    queue: usize,
}

impl Servers {
    /// Binaries come from `bin_dir`; lesson 03 gets a queue of `queue` waiting connections.
    pub fn new(bin_dir: &Path, queue: usize) -> Servers {
        Servers {
            bin_dir: bin_dir.to_path_buf(),
            queue,
        }
    }

    /// Where `program`'s binary is (none for the Python original).
    pub fn binary(&self, program: Program) -> Option<PathBuf> {
        program.package().map(|name| self.bin_dir.join(name))
    }

    /// Starts `program` on 127.0.0.1 with a port the kernel picks, and waits until it listens.
    pub fn start(&self, program: Program) -> Result<Server, String> {
        self.start_with(program, &[])
    }

    /// [`Servers::start`], with `extra` arguments after the usual ones (not for the original).
    pub fn start_with(&self, program: Program, extra: &[&str]) -> Result<Server, String> {
        let workers;
        let queue = self.queue.to_string();
        let args: Vec<&str> = match program {
            Program::Original => return start_original(),
            Program::Lesson03 { workers: n } => {
                workers = n.to_string();
                vec!["--workers", &workers, "--queue", &queue]
            }
            Program::Lesson02 | Program::Lesson05 | Program::Tokio => vec![],
        };
        let args: Vec<&str> = args.into_iter().chain(extra.iter().copied()).collect();
        let bin = self.binary(program).expect("a workspace program");
        if !bin.is_file() {
            return Err(format!(
                "{} does not exist (build it with `cargo build --release --bins -p {}`, or say \
                 where it is with --bin-dir)",
                bin.display(),
                program.package().unwrap_or_default()
            ));
        }
        let bin = bin.display().to_string();
        Server::try_start(&bin, &args)
    }
}

/// Starts the original `threaded_server.py` (`tests/originals/`) on a free port, under the
/// course's memory cap, and waits until it has stopped starting threads.
fn start_original() -> Result<Server, String> {
    // Its main thread starts threads in an endless loop, each of which blocks in accept(). Under
    // the cap, starting one soon fails: the main thread dies of the error. The threads it did
    // start are not daemons, so the process lives on, and they go on accepting: one client each.
    // Measure it in that state, the one it is in a moment after it starts.
    originals::start_threaded_server()
}

// ANCHOR: measure
/// Puts the load `config` on `server` and reads, around it, what the server paid.
pub fn measure(server: &Server, config: &Config) -> Result<(Report, Cost), String> {
    let pid = server.pid();
    let cpu_before = cpu_time(pid);
    let switches_before = context_switches(pid);
    let sampler = Sampler::start(pid);

    let report = loadgen::run(config)?;

    let peak = sampler.stop();
    let cpu = cpu_time(pid)
        .zip(cpu_before)
        .map(|(after, before)| after.saturating_sub(before));
    let switches = match (switches_before, context_switches(pid)) {
        // Only when the threads are the same before and after: a thread that ended took its
        // count with it.
        (Some(before), Some(after))
            if before.len() == after.len() && before.keys().all(|t| after.contains_key(t)) =>
        {
            Some(after.values().sum::<u64>() - before.values().sum::<u64>())
        }
        _ => None,
    };
    let trips = report.round_trips.max(1) as f64;
    let cost = Cost {
        cpu_us_per_trip: cpu.map(|cpu| cpu.as_secs_f64() * 1e6 / trips),
        switches_per_trip: switches.map(|n| n as f64 / trips),
        threads_max: peak.threads,
        rss_kib_max: peak.rss_kib,
        vm_kib_max: peak.vm_kib,
    };
    Ok((report, cost))
}
// ANCHOR_END: measure

/// The largest values of a process's `Threads`, `VmRSS` and `VmSize` seen so far.
#[derive(Clone, Copy, Default)]
struct Peak {
    threads: Option<u64>,
    rss_kib: Option<u64>,
    vm_kib: Option<u64>,
}

impl Peak {
    fn sample(&mut self, pid: u32) {
        let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else {
            return;
        };
        let keep = |slot: &mut Option<u64>, value: Option<u64>| {
            if let Some(value) = value {
                *slot = Some(slot.map_or(value, |old| old.max(value)));
            }
        };
        keep(&mut self.threads, status_field(&status, "Threads:"));
        keep(&mut self.rss_kib, status_field(&status, "VmRSS:"));
        keep(&mut self.vm_kib, status_field(&status, "VmSize:"));
    }
}

/// Samples a process's [`Peak`] every 10 ms on a thread of its own until stopped.
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<Peak>,
}

impl Sampler {
    fn start(pid: u32) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut peak = Peak::default();
            loop {
                peak.sample(pid);
                if stopped.load(Ordering::SeqCst) {
                    return peak;
                }
                // A sampling period, not a wait for another thread.
                thread::sleep(Duration::from_millis(10));
            }
        });
        Sampler { stop, thread }
    }

    fn stop(self) -> Peak {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap_or_default()
    }
}

/// A number from a `/proc/PID/status` line such as `VmRSS:   1234 kB`.
fn status_field(status: &str, name: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

/// Context switches (voluntary and involuntary) so far of each thread of a process, by thread id.
fn context_switches(pid: u32) -> Option<HashMap<u32, u64>> {
    let mut counts = HashMap::new();
    for entry in fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let Ok(entry) = entry else { continue };
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        // A thread may end between read_dir and this read: then it is simply not counted.
        let Ok(status) = fs::read_to_string(entry.path().join("status")) else {
            continue;
        };
        let voluntary = status_field(&status, "voluntary_ctxt_switches:")?;
        let involuntary = status_field(&status, "nonvoluntary_ctxt_switches:")?;
        counts.insert(tid, voluntary + involuntary);
    }
    Some(counts)
}

/// User plus system CPU time of a whole process so far, threads that ended included.
fn cpu_time(pid: u32) -> Option<Duration> {
    // Else `/proc/PID/stat`, in clock ticks (usually 10 ms): coarse, but always there.
    process_clock(pid).or_else(|| test_support::observe::cpu_time(pid))
}

/// The process's CPU-time clock, to the nanosecond.
#[cfg(target_os = "linux")]
fn process_clock(pid: u32) -> Option<Duration> {
    let pid = libc::pid_t::try_from(pid).ok()?;
    let mut clock: libc::clockid_t = 0;
    // SAFETY: both calls only write into the variable they are given, which outlives the call.
    let ts = unsafe {
        if libc::clock_getcpuclockid(pid, &mut clock) != 0 {
            return None;
        }
        let mut ts: libc::timespec = std::mem::zeroed();
        if libc::clock_gettime(clock, &mut ts) != 0 {
            return None;
        }
        ts
    };
    Some(Duration::new(
        u64::try_from(ts.tv_sec).ok()?,
        u32::try_from(ts.tv_nsec).ok()?,
    ))
}

/// Elsewhere (no `/proc` either), unknown.
#[cfg(not(target_os = "linux"))]
fn process_clock(_pid: u32) -> Option<Duration> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_numbers_from_proc_status() {
        let status = "Name:\tx\nThreads:\t7\nVmRSS:\t  1234 kB\nvoluntary_ctxt_switches:\t5\n";
        assert_eq!(status_field(status, "Threads:"), Some(7));
        assert_eq!(status_field(status, "VmRSS:"), Some(1234));
        assert_eq!(status_field(status, "VmSize:"), None);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn reads_this_process_from_proc() {
        let me = std::process::id();
        assert!(process_clock(me).is_some() && cpu_time(me).is_some());
        assert!(context_switches(me).is_some_and(|counts| !counts.is_empty()));
        let mut peak = Peak::default();
        peak.sample(me);
        assert!(peak.threads >= Some(1) && peak.rss_kib > Some(0));
    }
}
