//! One connection: where its conversation is, what the loop keeps for it between events, and
//! writing to it.
//!
//! The loop (`event_loop.rs`) owns every `Conn`; a connection's turn (`conversation.rs`) reads
//! into it and answers with `send` and `last_word`; `flush` writes what the socket did not take
//! at once, and `wants_to_read` is where backpressure is decided.

use std::io::{ErrorKind, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::Interest;
use mio::net::TcpStream;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::MAX_OUTPUT;

// ANCHOR: conn
/// Where a conversation is. Each state says what we still want from the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Greeted; reading lines and answering them.
    Talking,
    /// Our last line (`bye`, an error, or the replies before the client's end of stream) is
    /// in `output`; once it is all written we send our FIN.
    Flushing,
    /// Our FIN is sent. We read and discard until the client's FIN, so that closing does not
    /// turn into a reset that could destroy our last line before the client reads it.
    Draining,
}

/// One client connection and everything the loop keeps for it between events.
pub struct Conn {
    pub stream: TcpStream,
    pub peer: SocketAddr,
    /// 1 for the first connection accepted, 2 for the next, and so on: also tells a timer of
    /// this connection from one of an earlier connection that had the same token.
    pub number: u64,
    pub rng: StdRng,
    pub state: State,
    /// Bytes of a line not yet complete. Empty (and unallocated) between lines, so an idle
    /// connection costs no buffer at all.
    pub input: Vec<u8>,
    /// Replies the socket did not take yet. Empty (and unallocated) while the client keeps up.
    pub output: Vec<u8>,
    /// When this connection's time runs out: the next line is due (Talking), the last line
    /// must be written (Flushing), or the client's FIN must have come (Draining).
    pub deadline: Instant,
    /// When the timer that watches this connection fires: never after `deadline`. `None`
    /// while no timer is set (the last one has just fired).
    pub armed: Option<Instant>,
    /// Bytes discarded while Draining.
    pub discarded: usize,
    /// What we asked mio to watch for, so we only tell it when that changes.
    pub interest: Interest,
}
// ANCHOR_END: conn

// ANCHOR: write
/// Queues `bytes` for the client. When nothing is waiting, try the socket first: most replies
/// go out at once, and `output` is never allocated.
pub fn send(conn: &mut Conn, bytes: &[u8]) {
    let mut written = 0;
    if conn.output.is_empty() {
        written = write_some(&mut conn.stream, bytes);
    }
    conn.output.extend_from_slice(&bytes[written..]);
}

/// Writes as much of `bytes` as the socket takes now; returns how much. A failed write is
/// left for the next read to report (it returns the same error, or end of stream).
fn write_some(stream: &mut TcpStream, bytes: &[u8]) -> usize {
    let mut written = 0;
    while written < bytes.len() {
        match stream.write(&bytes[written..]) {
            Ok(0) => break,
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // WouldBlock: the send buffer is full. Other errors: see above.
            Err(_) => break,
        }
    }
    written
}

/// Writes what waits in `output` until it is empty or the socket says `WouldBlock`.
pub fn flush(conn: &mut Conn) -> Result<(), Closed> {
    // Exercise 3 does the writing: our answer, or yours when built with `--features mine`.
    match lesson_05::flush(&mut conn.stream, &mut conn.output) {
        // All written. Give the memory back: this client may now stay idle for a long time.
        Ok(true) => {
            conn.output = Vec::new();
            Ok(())
        }
        // The send buffer is full: the rest waits in `output` for a writable event.
        Ok(false) => Ok(()),
        // After our last line, a failed write ends a conversation that was over anyway.
        Err(_) if conn.state != State::Talking => Err(Closed::quietly()),
        Err(e) => Err(Closed::because(format!("writing failed: {e}"))),
    }
}
// ANCHOR_END: write

// ANCHOR: backpressure
/// Whether we want the client's bytes now. Not while its unread replies fill `output`: that is
/// backpressure. We stop reading, its lines wait in the kernel's buffers, the client's own
/// send buffer fills, and its writes block. Not our loop.
pub fn wants_to_read(conn: &Conn) -> bool {
    match conn.state {
        State::Talking => conn.output.len() < MAX_OUTPUT,
        State::Flushing => false,
        State::Draining => true,
    }
}
// ANCHOR_END: backpressure

/// Queues a last line; once it is written the connection is closed (see [`State`]), and all of
/// that must happen within `within`.
pub fn last_word(conn: &mut Conn, line: &str, within: Duration) {
    send(conn, format!("{line}\n").as_bytes());
    conn.state = State::Flushing;
    conn.deadline = Instant::now() + within;
}

/// A connection to close, and why, if the log should hear of it.
pub struct Closed {
    pub reason: Option<String>,
}

impl Closed {
    pub fn quietly() -> Closed {
        Closed { reason: None }
    }
    pub fn because(reason: String) -> Closed {
        Closed {
            reason: Some(reason),
        }
    }
}

/// The random numbers for connection `number`, exactly as lesson 03 makes them: with `--seed S`
/// the same seed gives the N-th connection the same ACKs.
pub fn connection_rng(seed: Option<u64>, number: u64) -> StdRng {
    match seed {
        Some(seed) => {
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&seed.to_le_bytes());
            key[8..16].copy_from_slice(&number.to_le_bytes());
            StdRng::from_seed(key)
        }
        None => rand::make_rng(),
    }
}
