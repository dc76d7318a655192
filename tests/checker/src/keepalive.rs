//! A check that every protocol shares: the server arms keepalive on the connections it accepts,
//! so that a peer that vanished without a word (power cut, network cut) is dropped in time.
//!
//! Seen from outside, through `/proc/net/tcp` (what `ss -tno` shows as `timer:(keepalive,…)`):
//! the server's end of our connection must carry a keepalive timer, due within the idle time
//! the checker was told (`--keepalive SECS`). Without keepalive, an idle connection has no timer.

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use test_support::observe;

use crate::check::{Check, Probe, Verdict};
use crate::report::{Outcome, fail};

/// The check, for a server whose keepalive idle time is `idle`.
pub fn check(idle: Duration) -> Check {
    Check::new(
        "keepalive",
        "an accepted connection carries a keepalive timer, due within the server's idle time",
        move |probe| armed(probe, idle),
    )
}

/// Connects, then watches the server's end of the connection until it shows a keepalive timer
/// due within `idle` (plus a second for the kernel's timer slack), or the checker's timeout.
fn armed(p: &mut Probe, idle: Duration) -> Verdict {
    if !std::path::Path::new("/proc/net/tcp").exists() {
        return Err(Outcome::Skip("needs /proc/net/tcp (Linux)".into()));
    }
    if !matches!(p.addr.ip(), IpAddr::V4(_)) {
        return Err(Outcome::Skip(
            "reads /proc/net/tcp, so IPv4 servers only".into(),
        ));
    }
    let stream = TcpStream::connect_timeout(&p.addr, p.options.timeout)
        .map_err(|e| fail(format!("the connection failed ({e})"), "a connection"))?;
    let ours = stream
        .local_addr()
        .map_err(|e| fail(e.to_string(), "our address"))?;
    let SocketAddr::V4(ours) = ours else {
        return Err(Outcome::Skip("our end is not IPv4".into()));
    };
    let limit = idle + Duration::from_secs(1);
    // The server may arm keepalive only once it has accepted the connection: poll the kernel's
    // table until then, within the checker's timeout.
    let deadline = Instant::now() + p.options.timeout;
    let mut seen = "no server end of our connection in /proc/net/tcp".to_string();
    loop {
        let server_end = observe::tcp_sockets()
            .into_iter()
            // Established only: an old connection of the same ports may linger in FIN-WAIT-2,
            // whose timer /proc/net/tcp reports with the same number as keepalive's.
            .find(|s| s.remote == ours && s.local.port() == p.addr.port() && s.state == "ESTAB");
        if let Some(s) = server_end {
            if s.timer == "keepalive" && s.timer_left <= limit {
                return Ok(());
            }
            seen = format!(
                "the server's end in {} with timer {} ({:.1} s left)",
                s.state,
                s.timer,
                s.timer_left.as_secs_f64()
            );
        }
        if Instant::now() >= deadline {
            return Err(fail(
                seen,
                format!("a keepalive timer due within {:.0} s", limit.as_secs_f64()),
            ));
        }
        // Polling the kernel's table for a change the server makes; not synchronisation.
        thread::sleep(Duration::from_millis(20));
    }
}
