//! Lesson 05 exercises. Replace each `todo!()` with your code, then run
//!
//! ```text
//! cargo test -p lesson-05 --test exercises -- mine
//! ```
//!
//! which says, for each exercise, pass or FAIL with what happened. Put `HINT=1` (then 2, 3) in
//! front of the command for hints, one stage more each time. `src/solutions.rs` holds our
//! answers: try first.

#![allow(unused_variables)]
// the stubs do not use their arguments yet
// The stubs take `&mut Vec`, as the answers must (they grow or shrink the buffer).
#![allow(clippy::ptr_arg)]

use std::io;
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};

use crate::LineTooLong;

// ANCHOR: exercise_1
/// EXERCISE 1: accept every connection waiting on the non-blocking `listener`.
///
/// The event loop calls this when the listener is readable. Return every connection that is
/// waiting right now, and return at once when none is left: never wait, never spin. An error
/// other than "nothing is waiting" is returned as it is.
pub fn accept_waiting(listener: &TcpListener) -> io::Result<Vec<(TcpStream, SocketAddr)>> {
    todo!("exercise 1: accept until WouldBlock")
}
// ANCHOR_END: exercise_1

// ANCHOR: exercise_2
/// EXERCISE 2: line framing across reads.
///
/// `pending` holds the bytes of earlier reads that did not end a line yet; `arrived` is what
/// one read just returned. Return every line completed now, in order, without its `\n` or
/// `\r\n`, as bytes (they may not be UTF-8), and leave in `pending` only the unfinished rest.
/// A line longer than `max_line` bytes (without its ending), complete or still arriving, is
/// `Err(LineTooLong)`: `pending` must never grow past what one valid line can need.
pub fn take_lines(
    pending: &mut Vec<u8>,
    arrived: &[u8],
    max_line: usize,
) -> Result<Vec<Vec<u8>>, LineTooLong> {
    todo!("exercise 2: complete lines out, the partial rest kept")
}
// ANCHOR_END: exercise_2

// ANCHOR: exercise_3
/// EXERCISE 3: flush a write buffer into a non-blocking socket.
///
/// The server calls this on every turn of a connection (`flush` in `src/connection.rs`) when
/// built with `--features mine`. Write as much of `output` as the socket takes now, and remove
/// from `output` exactly what was written. Return `Ok(true)` when `output` is empty (the loop
/// can stop watching for writability), `Ok(false)` when the socket is full and bytes remain (it
/// must watch, and call again when the socket is writable). Other errors are returned as they
/// are.
pub fn flush(stream: &mut TcpStream, output: &mut Vec<u8>) -> io::Result<bool> {
    todo!("exercise 3: write until WouldBlock, keep the rest")
}
// ANCHOR_END: exercise_3
