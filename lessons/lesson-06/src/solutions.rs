//! Our answers to lesson 06's exercises. Try `src/exercises.rs` first.

use socket2::{SockRef, TcpKeepalive};
use std::io::{self, ErrorKind, Write};
use std::net::TcpStream;

use crate::failure::{Failure, Phase};
use crate::keepalive::Keepalive;

// ANCHOR: solution_1
/// Exercise 1: make `stream` notice a dead peer within seconds.
pub fn arm_keepalive(stream: &TcpStream, settings: &Keepalive) -> io::Result<()> {
    let socket = SockRef::from(stream);
    // SO_KEEPALIVE alone keeps Linux's defaults: a first probe after two hours. All three
    // timers are needed, on this very socket: SO_KEEPALIVE on, then TCP_KEEPIDLE,
    // TCP_KEEPINTVL and TCP_KEEPCNT.
    let params = TcpKeepalive::new()
        .with_time(settings.idle)
        .with_interval(settings.interval)
        .with_retries(settings.count);
    socket.set_tcp_keepalive(&params)?;
    // Keepalive never runs while data is in flight; this bounds that case. `None` sets 0, the
    // kernel's own limit (tcp_retries2). TCP_USER_TIMEOUT is Linux's option (RFC 5482
    // describes it); elsewhere only keepalive is armed.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    socket.set_tcp_user_timeout(settings.user_timeout)?;
    Ok(())
}
// ANCHOR_END: solution_1

// ANCHOR: solution_2
/// Exercise 2: say which failure an error means.
pub fn name_failure(e: &io::Error, phase: Phase) -> Failure {
    match (e.kind(), phase) {
        (ErrorKind::ConnectionRefused, _) => Failure::Refused,
        // The same ETIMEDOUT means "no answer to our SYNs" from connect, and "keepalive or the
        // user timeout gave up" on an established connection.
        (ErrorKind::TimedOut, Phase::Connect) => Failure::ConnectTimedOut,
        (ErrorKind::TimedOut, Phase::Established) => Failure::PeerVanished,
        (ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable, _) => Failure::Unreachable,
        (ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted, _) => Failure::Reset,
        // EPIPE is not a second reset: the reset was already reported, by the call before.
        (ErrorKind::BrokenPipe, _) => Failure::BrokenPipe,
        (ErrorKind::UnexpectedEof, _) => Failure::EndOfStream,
        // Our own SO_RCVTIMEO / SO_SNDTIMEO: WouldBlock on Linux.
        (ErrorKind::WouldBlock, _) => Failure::Deadline,
        _ => Failure::Other(e.to_string()),
    }
}
// ANCHOR_END: solution_2

// ANCHOR: solution_3
/// Exercise 3: write until a peer that stopped reading lets us write no more.
pub fn fill_the_window(stream: &TcpStream) -> io::Result<usize> {
    stream.set_nonblocking(true)?;
    let chunk = [0u8; 16 * 1024];
    let mut taken = 0;
    let result = loop {
        match (&*stream).write(&chunk) {
            // The kernel may take less than we offered: count what it took, not what we
            // offered.
            Ok(n) => taken += n,
            // Not an error: "no room now". A blocking socket would sleep here until the peer
            // reads, which it never will.
            Err(e) if e.kind() == ErrorKind::WouldBlock => break Ok(taken),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    stream.set_nonblocking(false)?;
    result
}
// ANCHOR_END: solution_3
