//! Our answers to lesson 05's exercises. Try `src/exercises.rs` first.

use std::io::{self, ErrorKind, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};

use crate::LineTooLong;

// ANCHOR: solution_1
/// Exercise 1: accept until WouldBlock.
pub fn accept_waiting(listener: &TcpListener) -> io::Result<Vec<(TcpStream, SocketAddr)>> {
    let mut accepted = Vec::new();
    loop {
        match listener.accept() {
            Ok(connection) => accepted.push(connection),
            // The backlog is empty: that is the answer, not an error. Readiness is reported on
            // edges, so stopping before this point would leave connections waiting unseen.
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(accepted),
            // A signal interrupted the call: try again.
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}
// ANCHOR_END: solution_1

// ANCHOR: solution_2
/// Exercise 2: complete lines out, the partial rest kept.
pub fn take_lines(
    pending: &mut Vec<u8>,
    arrived: &[u8],
    max_line: usize,
) -> Result<Vec<Vec<u8>>, LineTooLong> {
    pending.extend_from_slice(arrived);
    let mut lines = Vec::new();
    let mut start = 0;
    while let Some(end) = pending[start..].iter().position(|&b| b == b'\n') {
        let mut line = &pending[start..start + end];
        start += end + 1;
        if let Some(without_cr) = line.strip_suffix(b"\r") {
            line = without_cr;
        }
        if line.len() > max_line {
            return Err(LineTooLong);
        }
        lines.push(line.to_vec());
    }
    // The rest has no newline yet. `max_line` bytes and a `\r` may still become a line; one
    // byte more cannot, so there is no reason to keep reading it.
    pending.drain(..start);
    if pending.len() > max_line + 1 {
        return Err(LineTooLong);
    }
    Ok(lines)
}
// ANCHOR_END: solution_2

// ANCHOR: solution_3
/// Exercise 3: write until WouldBlock, keep the rest.
pub fn flush(stream: &mut TcpStream, output: &mut Vec<u8>) -> io::Result<bool> {
    while !output.is_empty() {
        match stream.write(output) {
            // A write may take only part of the buffer: drop exactly that part.
            Ok(n) => {
                output.drain(..n);
            }
            // The socket's send buffer is full: the rest waits for a writable event.
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}
// ANCHOR_END: solution_3
