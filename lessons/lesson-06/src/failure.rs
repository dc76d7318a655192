//! Which failure an error means. The same `io::Error` kind can mean different things at
//! different moments (ETIMEDOUT from connect is a SYN nobody answered; from a read on an
//! established connection it is a peer that stopped answering keepalive probes or
//! acknowledging data), so the classification takes the phase too.

use std::fmt;
use std::io;

/// Where in a connection's life the error came.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// connect(): the handshake.
    Connect,
    /// A read or write on an established connection.
    Established,
}

// ANCHOR: failure
/// The failures a client or server tells apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Failure {
    /// ECONNREFUSED: our SYN was answered by RST: nothing listens on that port.
    Refused,
    /// ETIMEDOUT in connect: no answer to our SYNs (a dead host, a filter, a full accept queue).
    ConnectTimedOut,
    /// EHOSTUNREACH or ENETUNREACH: a router (or our own table) says there is no way there.
    Unreachable,
    /// ECONNRESET: the peer answered with RST: its process died with data unread, its host
    /// rebooted and forgot the connection, or it reset on purpose.
    Reset,
    /// EPIPE: a write after the connection was already reset (the reset was reported once, by an
    /// earlier call) or after we shut down our sending side.
    BrokenPipe,
    /// ETIMEDOUT on an established connection: keepalive probes went unanswered, or written
    /// data stayed unacknowledged past the user timeout (or `tcp_retries2`).
    PeerVanished,
    /// A read returned 0 bytes: the peer closed its side (FIN). Not an error to the kernel.
    EndOfStream,
    /// Our own deadline (a read or write timeout) passed first.
    Deadline,
    /// Anything else, with the system's words.
    Other(String),
}
// ANCHOR_END: failure

/// Classifies an error from `phase`. A read of 0 bytes is not an error: callers turn it into
/// [`Failure::EndOfStream`] themselves (std reports it as `UnexpectedEof` from `read_exact`,
/// which is classified the same way).
///
/// Which error means which failure is exercise 2; this is our answer to it (in
/// `src/solutions.rs`), written once.
pub fn classify(e: &io::Error, phase: Phase) -> Failure {
    crate::solutions::name_failure(e, phase)
}

impl fmt::Display for Failure {
    /// One sentence, without the final full stop, that says what happened.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Failure::Refused => "the connection was refused (ECONNREFUSED): nothing listens there",
            Failure::ConnectTimedOut => {
                "the connection timed out (ETIMEDOUT): no answer to our SYNs"
            }
            Failure::Unreachable => "the host is unreachable (EHOSTUNREACH): no route to it",
            Failure::Reset => "the connection was reset by the peer (ECONNRESET)",
            Failure::BrokenPipe => "the connection is broken (EPIPE): it was already reset or shut",
            Failure::PeerVanished => {
                "the peer stopped answering (ETIMEDOUT): keepalive probes or our data went \
                 unacknowledged too long"
            }
            Failure::EndOfStream => "the peer closed the connection (end of stream)",
            Failure::Deadline => "no reply before our deadline",
            Failure::Other(words) => return write!(f, "the connection failed: {words}"),
        };
        f.write_str(text)
    }
}
