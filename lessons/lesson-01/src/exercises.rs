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
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub use crate::solutions::{Ending, Received};

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
/// EXERCISE 2: connect to the first of `addrs` that answers, within `timeout` for them all.
///
/// A host name can stand for several addresses (`to_socket_addrs` returns a list, for example
/// an IPv6 and an IPv4 address of one machine), and a plain `connect` to one that does not
/// answer waits as long as the kernel retries its SYN (about two minutes on Linux). Try the addresses in order. `timeout` bounds the whole call:
/// each try gets an equal share of the time still left (what is left, divided by the number
/// of addresses not yet tried), so an address that never answers cannot use up the time of
/// those after it. Return the first stream that connects; when none does, the error of the
/// last try; with no address at all, an error of kind `InvalidInput`. Leave nothing behind
/// still trying to connect.
pub fn connect_any(addrs: &[SocketAddr], timeout: Duration) -> io::Result<TcpStream> {
    todo!("exercise 2: connect to one of several addresses within one timeout")
}
// ANCHOR_END: exercise_2

// ANCHOR: exercise_3
/// EXERCISE 3: the server's one read of the client's message.
///
/// This is a piece of the real server: its `serve` calls it after the greeting, with a buffer
/// of 1024 bytes and `--idle-timeout` as `idle`. Make ONE read, and let it wait at most `idle`.
/// Return `Received::Bytes(n)` when it brought `n` bytes (they are the message, whatever they
/// are, newline or not), `Received::Closed` when it returned 0 bytes (the client's FIN), and
/// `Received::Silent` when `idle` passed with nothing. Any other failure, such as a reset, is
/// returned as the error it is.
pub fn read_message(stream: &TcpStream, buf: &mut [u8], idle: Duration) -> io::Result<Received> {
    todo!("exercise 3: read the message with one read and an idle timeout")
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
