//! Lesson 01 exercises. Replace each `todo!()` with your code, then run
//!
//! ```text
//! cargo test -p lesson-01 --test exercises -- mine
//! ```
//!
//! which says, for each exercise, pass or FAIL with what happened. Put `HINT=1` (then 2, 3) in
//! front of the command for hints, one stage more each time. `src/solutions.rs` holds our
//! answers: try first.

#![allow(unused_variables)] // the stubs do not use their arguments yet

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

pub use crate::solutions::Ending;

// ANCHOR: exercise_1
/// EXERCISE 1: read one line, however its bytes are split across reads.
///
/// A read returns whatever bytes have arrived: part of a line, or more than one line. Read
/// until `\n` and return the line without its `\n` (or `\r\n`). Do not read past the `\n`: the
/// next call must find the next line. Every other byte is the client's: keep spaces, tabs and a
/// `\r` that is not right before the `\n`. Return `Ok(None)` if the stream ends before any byte,
/// an error of kind `UnexpectedEof` if it ends in the middle of a line, and one of kind
/// `InvalidData` if the line is not UTF-8. A read that fails with `ErrorKind::Interrupted` (a
/// signal arrived before any byte) is not an error: read again.
pub fn read_line(reader: &mut impl Read) -> io::Result<Option<String>> {
    todo!("exercise 1: read one line across several reads")
}
// ANCHOR_END: exercise_1

// ANCHOR: exercise_2
/// EXERCISE 2: connect, but give up after `timeout` if the server does not answer.
///
/// A plain `connect` waits for the handshake as long as the kernel keeps retrying its SYN
/// (about two minutes on Linux). Return the connected stream, or the error, within `timeout`
/// (the whole wait, not each attempt), and leave nothing behind still trying to connect.
pub fn connect_with_timeout(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    todo!("exercise 2: connect with a timeout")
}
// ANCHOR_END: exercise_2

// ANCHOR: exercise_3
/// EXERCISE 3: listen on 127.0.0.1 on a port the kernel picks, and say which port it picked.
///
/// Return the listening socket and its real port number (never 0).
pub fn listen_on_free_port() -> io::Result<(TcpListener, u16)> {
    todo!("exercise 3: bind port 0 and report the port")
}
// ANCHOR_END: exercise_3

// ANCHOR: exercise_4
/// EXERCISE 4: wait until the peer closes its side, resets the connection, or `within` passes.
///
/// Read and throw away whatever the peer still sends. Return `Ending::Closed` when a read
/// returns 0 bytes (the peer's FIN), `Ending::Reset` when a read fails because the peer reset
/// the connection (its RST), and `Ending::StillOpen` once `within` has passed: one deadline for
/// the whole wait, however often bytes arrive. A read that fails with `Interrupted` is retried;
/// any other error is returned.
pub fn wait_for_close(stream: &TcpStream, within: Duration) -> io::Result<Ending> {
    todo!("exercise 4: tell a close from a reset from silence")
}
// ANCHOR_END: exercise_4
