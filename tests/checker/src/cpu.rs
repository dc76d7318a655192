//! How much CPU time a process has used, to tell a server that waits from one that spins.

use std::fs;
use std::time::Duration;

/// The CPU time (user plus system) process `pid` has used so far, read from `/proc/PID/stat`.
/// `None` where there is no `/proc` (not Linux) or no such process.
pub fn used(pid: u32) -> Option<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The second field is the program's name in parentheses, which may itself hold spaces or
    // parentheses: the fields that follow start after the last `)`.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    // Fields 14 and 15 of the line (utime, stime) are the 12th and 13th after the name.
    let user: u64 = fields.get(11)?.parse().ok()?;
    let system: u64 = fields.get(12)?.parse().ok()?;
    // Counted in clock ticks, which Linux fixes at 100 a second for user space (USER_HZ).
    Some(Duration::from_millis((user + system) * 10))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_spinning_thread_shows_as_cpu_time() {
        let Some(before) = used(std::process::id()) else {
            return println!("skipped: no /proc here");
        };
        let started = Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        let after = used(std::process::id()).unwrap();
        assert!(
            after - before >= Duration::from_millis(100),
            "{before:?} → {after:?}"
        );
    }
}
