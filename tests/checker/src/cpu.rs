//! How much CPU time a process has used, to tell a server that waits from one that spins.

use std::time::Duration;

/// The CPU time (user plus system) process `pid` has used so far, read from `/proc/PID/stat` by
/// the course's test machinery. `None` where there is no `/proc` (not Linux) or no such process.
pub fn used(pid: u32) -> Option<Duration> {
    test_support::observe::cpu_time(pid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    #[cfg_attr(not(target_os = "linux"), ignore = "needs /proc (Linux)")]
    fn a_spinning_thread_shows_as_cpu_time() {
        let before =
            used(std::process::id()).expect("/proc/PID/stat gives this process's CPU time");
        // Spins until 100 ms of CPU time show, for ten seconds at most: on a loaded machine a
        // spinning thread gets only a share of a CPU, so wall time says little.
        let started = Instant::now();
        let mut x = 0u64;
        let mut after = before;
        while after - before < Duration::from_millis(100)
            && started.elapsed() < test_support::DEADLINE
        {
            for _ in 0..100_000 {
                x = std::hint::black_box(x.wrapping_add(1));
            }
            after = used(std::process::id()).unwrap();
        }
        assert!(
            after - before >= Duration::from_millis(100),
            "{before:?} → {after:?}"
        );
    }
}
