//! Keepalive and the user timeout: how a socket notices a peer that vanished without a word.
//!
//! A peer that loses power, or a network cut in between, sends neither FIN nor RST. A socket
//! that is only reading waits for ever: nothing is in flight, so nothing can time out. Keepalive
//! makes the kernel send an empty probe after `idle` seconds of silence, then every `interval`
//! seconds; after `count` unanswered probes the connection is dropped and the next read fails
//! with ETIMEDOUT. Linux's defaults (7200 s idle, 9 probes 75 s apart: about 2 h 11 min) are
//! far too slow for a server, so we set our own on every socket.
//!
//! Keepalive only runs while nothing is in flight. Data we wrote and the peer never
//! acknowledged is retransmitted instead, `tcp_retries2` (15) times: about 15 minutes on Linux.
//! TCP_USER_TIMEOUT bounds that: unacknowledged data older than it drops the connection. When
//! both are set, Linux also lets the user timeout decide when keepalive gives up (tcp(7)).

use std::io;
use std::net::TcpStream;
use std::time::Duration;

use socket2::SockRef;

// ANCHOR: settings
/// How quickly a socket gives up on a silent peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Keepalive {
    /// Silence before the first probe (TCP_KEEPIDLE).
    pub idle: Duration,
    /// Time between probes (TCP_KEEPINTVL).
    pub interval: Duration,
    /// Unanswered probes before the connection is dropped (TCP_KEEPCNT).
    pub count: u32,
    /// How long written data may stay unacknowledged (TCP_USER_TIMEOUT); `None`: the kernel's
    /// retransmission limit, `tcp_retries2`.
    pub user_timeout: Option<Duration>,
}

impl Keepalive {
    /// About how long a silent, dead peer goes unnoticed while we only read. Without a user
    /// timeout: the idle time, then `count` probes `interval` apart. With one, Linux gives up at
    /// the first probe time (after at least one probe) at which the peer has been silent that
    /// long, whatever the count (measured here: idle 2 s, interval 1 s, count 3 and a user
    /// timeout of 9 s drop the connection after 9 s, not 5).
    pub fn detection_time(&self) -> Duration {
        let Some(user_timeout) = self.user_timeout else {
            return self.idle + self.interval * self.count;
        };
        if self.interval.is_zero() {
            return self.idle.max(user_timeout);
        }
        let mut probe = self.idle + self.interval;
        while probe < user_timeout {
            probe += self.interval;
        }
        probe
    }
}
// ANCHOR_END: settings

// Arming these on a socket, `arm_keepalive`, is exercise 1: the server and the client call
// `crate::arm_keepalive`, our answer (src/solutions.rs) or yours (`--features mine`).

/// What the kernel says the socket's keepalive settings are: the options read back with
/// getsockopt. `None` when keepalive is off.
pub fn read_back(stream: &TcpStream) -> io::Result<Option<Keepalive>> {
    let socket = SockRef::from(stream);
    if !socket.keepalive()? {
        return Ok(None);
    }
    Ok(Some(Keepalive {
        idle: socket.tcp_keepalive_time()?,
        interval: socket.tcp_keepalive_interval()?,
        count: socket.tcp_keepalive_retries()?,
        user_timeout: user_timeout(&socket)?,
    }))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn user_timeout(socket: &SockRef) -> io::Result<Option<Duration>> {
    socket.tcp_user_timeout()
}

/// TCP_USER_TIMEOUT is Linux's (RFC 5482 describes it): elsewhere there is none to read.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn user_timeout(_socket: &SockRef) -> io::Result<Option<Duration>> {
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detection_time_follows_the_count_or_the_user_timeout() {
        let secs = Duration::from_secs;
        let mut k = Keepalive {
            idle: secs(2),
            interval: secs(1),
            count: 3,
            user_timeout: None,
        };
        assert_eq!(k.detection_time(), secs(5));
        k.user_timeout = Some(secs(9));
        assert_eq!(k.detection_time(), secs(9));
        k.user_timeout = Some(secs(1));
        assert_eq!(k.detection_time(), secs(3));
    }
}
