//! Looking at a running program from outside, through Linux's `/proc`: how much CPU time a
//! process has used, and which TCP sockets exist and in which state (what `ss -tan` shows).
//!
//! On other systems these return `None` or nothing, and a test that needs them should say so.

use std::fs;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::Command;
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// The CPU time (user + system) process `pid` has used so far, from `/proc/PID/stat`.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The second field, the program name in parentheses, may contain spaces: count the fields
    // after its closing parenthesis. utime and stime are fields 14 and 15 of the line.
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks_per_second = clock_ticks_per_second();
    Some(Duration::from_secs_f64(
        (utime + stime) as f64 / ticks_per_second as f64,
    ))
}

/// The unit of the times in `/proc/PID/stat` (`getconf CLK_TCK`, 100 on Linux).
fn clock_ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse().ok())
            .filter(|&ticks| ticks > 0)
            .unwrap_or(100)
    })
}

/// One IPv4 TCP socket, as listed in `/proc/net/tcp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpSocket {
    pub local: SocketAddrV4,
    pub remote: SocketAddrV4,
    /// The state as `ss` names it: `LISTEN`, `ESTAB`, `TIME-WAIT`, `FIN-WAIT-2`, …
    pub state: &'static str,
    /// For a listening socket: connections waiting to be accepted. Otherwise: bytes received
    /// and not yet read by the program.
    pub rx_queue: u64,
    /// Bytes written and not yet acknowledged by the peer (`Send-Q` in `ss`).
    pub tx_queue: u64,
    /// The timer running on the socket, as `ss -o` names it: `keepalive`, `on` (retransmission),
    /// `persist` (zero-window probes), `timewait`, or `off`.
    pub timer: &'static str,
    /// Time left until that timer fires.
    pub timer_left: Duration,
}

/// Every IPv4 TCP socket of this machine's network namespace, in every state.
pub fn tcp_sockets() -> Vec<TcpSocket> {
    let Ok(table) = fs::read_to_string("/proc/net/tcp") else {
        return Vec::new();
    };
    table.lines().skip(1).filter_map(parse_line).collect()
}

/// Whether process `pid` holds a TCP socket listening on `port` (IPv4 or IPv6): its descriptors
/// (`/proc/PID/fd`, links named `socket:[INODE]`) against the listening sockets of its network
/// namespace (`/proc/PID/net/tcp` and `tcp6`, state `0A`). `None` where the descriptors cannot
/// be read (not Linux, or another user's process without the right to look).
pub fn listens_on_port(pid: u32, port: u16) -> Option<bool> {
    let inodes: Vec<String> = fs::read_dir(format!("/proc/{pid}/fd"))
        .ok()?
        .filter_map(|entry| fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_str()?;
            Some(
                target
                    .strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    let listening = ["tcp", "tcp6"]
        .iter()
        .filter_map(|table| fs::read_to_string(format!("/proc/{pid}/net/{table}")).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(|line| {
                    // `sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode`
                    let fields: Vec<&str> = line.split_whitespace().collect();
                    let local_port = fields.get(1)?.rsplit_once(':')?.1;
                    let listens = *fields.get(3)? == "0A"
                        && u16::from_str_radix(local_port, 16).ok()? == port;
                    listens.then(|| fields.get(9).map(|inode| inode.to_string()))?
                })
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>();
    Some(listening.iter().any(|inode| inodes.contains(inode)))
}

/// Polls [`tcp_sockets`] until one satisfies `wanted`, for at most `timeout`.
pub fn wait_for_tcp_socket(
    timeout: Duration,
    wanted: impl Fn(&TcpSocket) -> bool,
) -> Option<TcpSocket> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = tcp_sockets().into_iter().find(&wanted) {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        // Polling the kernel's table for a state change; not synchronisation by sleeping.
        thread::sleep(Duration::from_millis(10));
    }
}

/// `  0: 0100007F:22B8 0100007F:C350 01 00000000:00000000 ...`
fn parse_line(line: &str) -> Option<TcpSocket> {
    let fields: Vec<&str> = line.split_whitespace().collect();
    let local = parse_addr(fields.get(1)?)?;
    let remote = parse_addr(fields.get(2)?)?;
    let state = state_name(u8::from_str_radix(fields.get(3)?, 16).ok()?);
    let (tx, rx) = fields.get(4)?.split_once(':')?;
    let tx_queue = u64::from_str_radix(tx, 16).ok()?;
    let rx_queue = u64::from_str_radix(rx, 16).ok()?;
    // `02:000003E8`: which timer (net/ipv4/tcp_ipv4.c, get_tcp4_sock), then the clock ticks
    // (USER_HZ, the unit of /proc/PID/stat) left until it fires.
    let (kind, left) = fields.get(5)?.split_once(':')?;
    let timer = timer_name(u8::from_str_radix(kind, 16).ok()?);
    let ticks = u64::from_str_radix(left, 16).ok()?;
    let timer_left = Duration::from_secs_f64(ticks as f64 / clock_ticks_per_second() as f64);
    Some(TcpSocket {
        local,
        remote,
        state,
        rx_queue,
        tx_queue,
        timer,
        timer_left,
    })
}

/// The timer numbers of /proc/net/tcp with the names `ss -o` gives them.
fn timer_name(number: u8) -> &'static str {
    match number {
        1 => "on",
        2 => "keepalive",
        3 => "timewait",
        4 => "persist",
        _ => "off",
    }
}

/// `0100007F:22B8`: the address as a 32-bit number in the machine's byte order, then the port.
fn parse_addr(text: &str) -> Option<SocketAddrV4> {
    let (ip, port) = text.split_once(':')?;
    let ip = u32::from_str_radix(ip, 16).ok()?;
    let port = u16::from_str_radix(port, 16).ok()?;
    Some(SocketAddrV4::new(Ipv4Addr::from(ip.to_ne_bytes()), port))
}

/// The kernel's state numbers (include/net/tcp_states.h) with the names `ss` prints.
fn state_name(number: u8) -> &'static str {
    match number {
        1 => "ESTAB",
        2 => "SYN-SENT",
        3 => "SYN-RECV",
        4 => "FIN-WAIT-1",
        5 => "FIN-WAIT-2",
        6 => "TIME-WAIT",
        7 => "UNCONN",
        8 => "CLOSE-WAIT",
        9 => "LAST-ACK",
        10 => "LISTEN",
        11 => "CLOSING",
        _ => "UNKNOWN",
    }
}

/// The lowest file descriptor number that process `pid` has free: the number its next new
/// socket would get (from the entries of `/proc/PID/fd`).
pub fn first_free_descriptor(pid: u32) -> usize {
    let open: Vec<usize> = fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("/proc/PID/fd is readable")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    (0..).find(|fd| !open.contains(fd)).unwrap()
}

/// Sets the soft limit on open files (RLIMIT_NOFILE) of the running process `pid`, with the
/// `prlimit` command of util-linux. At [`first_free_descriptor`], every new socket it opens or accepts
/// fails with EMFILE ("too many open files"). Panics if `prlimit` fails.
pub fn set_open_files_limit(pid: u32, soft: usize) {
    let status = Command::new("prlimit")
        .arg(format!("--pid={pid}"))
        .arg(format!("--nofile={soft}:"))
        .status()
        .expect("the prlimit command (util-linux) runs");
    assert!(
        status.success(),
        "prlimit --pid={pid} --nofile={soft}: failed"
    );
}

/// How many threads process `pid` has: one entry per thread in `/proc/PID/task`.
pub fn thread_count(pid: u32) -> Option<usize> {
    Some(fs::read_dir(format!("/proc/{pid}/task")).ok()?.count())
}

/// The resident memory of process `pid` in bytes (`VmRSS` in `/proc/PID/status`).
pub fn resident_memory(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Raises this process's soft limit on open file descriptors to its hard limit, and returns
/// the soft limit now in force (`None` where there is no such limit). A test or tool that opens
/// thousands of connections needs it: the soft limit is often 1024.
pub fn raise_descriptor_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write the struct passed to them.
        unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return None;
            }
            if limit.rlim_cur < limit.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: limit.rlim_max,
                    ..limit
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    limit = raised;
                }
            }
        }
        // rlim_t is u64 on Linux, but not on every Unix.
        #[allow(clippy::unnecessary_cast)]
        Some(limit.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn parses_a_line_of_proc_net_tcp() {
        let line = "   0: 0100007F:22B8 0100007F:C350 06 00000000:00000003 03:00001234 00000000     0        0 0 3 0000000000000000";
        let socket = parse_line(line).unwrap();
        assert_eq!(socket.local, "127.0.0.1:8888".parse().unwrap());
        assert_eq!(socket.remote, "127.0.0.1:50000".parse().unwrap());
        assert_eq!(socket.state, "TIME-WAIT");
        assert_eq!(socket.rx_queue, 3);
        assert_eq!(socket.timer, "timewait");
    }

    #[test]
    fn sees_a_listener_and_its_accept_queue() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let _waiting = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let found = wait_for_tcp_socket(Duration::from_secs(5), |s| {
            s.local.port() == port && s.state == "LISTEN" && s.rx_queue == 1
        });
        assert!(found.is_some(), "{:?}", tcp_sockets());
    }

    #[test]
    fn measures_cpu_time_of_this_process() {
        assert!(cpu_time(std::process::id()).is_some());
    }
}
