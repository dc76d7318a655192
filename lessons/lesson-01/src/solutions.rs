//! Our answers to lesson 01's exercises. Try `src/exercises.rs` first.

use std::io::{self, ErrorKind, Read};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

// ANCHOR: solution_1
/// Exercise 1: read one line, however its bytes are split across reads.
pub fn read_line(reader: &mut impl Read) -> io::Result<Option<String>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        // One byte per read: we can never read past the newline. Slow (a system call per byte),
        // which is why lesson 02 puts a BufReader in front of the socket.
        match reader.read(&mut byte) {
            Ok(0) if line.is_empty() => return Ok(None),
            Ok(0) => {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "the stream ended in the middle of a line",
                ));
            }
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) => line.push(byte[0]),
            // A signal interrupted the read before any byte came: just read again.
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| io::Error::new(ErrorKind::InvalidData, "the line is not UTF-8"))
}
// ANCHOR_END: solution_1

// ANCHOR: solution_2
/// Exercise 2: connect to the first of several addresses that answers, within one timeout.
pub fn connect_any(addrs: &[SocketAddr], timeout: Duration) -> io::Result<TcpStream> {
    // One deadline for all the tries: `timeout` is the whole wait, however many addresses.
    let deadline = Instant::now() + timeout;
    let mut last = io::Error::new(ErrorKind::InvalidInput, "no address to connect to");
    for (i, addr) in addrs.iter().enumerate() {
        // Each try gets an equal share of what is left, so an address that never answers
        // cannot use up the time of the addresses after it.
        let share = deadline.saturating_duration_since(Instant::now()) / (addrs.len() - i) as u32;
        if share.is_zero() {
            return Err(io::Error::new(
                ErrorKind::TimedOut,
                "no address answered in time",
            ));
        }
        // std puts the socket in non-blocking mode, starts connect(), waits with poll() for at
        // most `share`, then makes the socket blocking again: nothing goes on connecting.
        match TcpStream::connect_timeout(addr, share) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}
// ANCHOR_END: solution_2

/// What the server's one read brought, as exercise 3 tells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// This many bytes of the client's message, at the start of the buffer.
    Bytes(usize),
    /// A read returned 0 bytes: the client closed its side (FIN) without a message.
    Closed,
    /// Nothing came within the idle time.
    Silent,
}

// ANCHOR: solution_3
/// Exercise 3: the server's one read of the client's message.
pub fn read_message(stream: &TcpStream, buf: &mut [u8], idle: Duration) -> io::Result<Received> {
    // A client that connects and never speaks must not hold the server forever. There is one
    // read, so its timeout is the whole wait.
    stream.set_read_timeout(Some(idle))?;
    // recv(fd, buf, len): ONE read returns whatever bytes have arrived so far, from 1 up to
    // buf.len() of them, or 0 when the client has closed its side.
    match (&*stream).read(buf) {
        Ok(0) => Ok(Received::Closed),
        Ok(n) => Ok(Received::Bytes(n)),
        // When the read timeout passes, recv fails with EAGAIN on Linux (WouldBlock to Rust;
        // Windows says TimedOut).
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            Ok(Received::Silent)
        }
        // A reset (ECONNRESET) and any other failure are errors for the caller to report.
        Err(e) => Err(e),
    }
}
// ANCHOR_END: solution_3

/// How the peer's side of a connection ended, as far as exercise 4 could tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// A read returned 0 bytes: the peer sent FIN and will send nothing more.
    Closed,
    /// A read failed with "connection reset": the peer sent RST.
    Reset,
    /// Neither happened before the deadline.
    StillOpen,
}

// ANCHOR: solution_4
/// Exercise 4: tell a close from a reset from silence.
pub fn wait_for_close(stream: &TcpStream, within: Duration) -> io::Result<Ending> {
    // One deadline for the whole wait: a read timeout set once would restart with every byte,
    // and a peer sending a byte a second would hold us for ever.
    let deadline = Instant::now() + within;
    let mut discard = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Ending::StillOpen);
        }
        stream.set_read_timeout(Some(left))?;
        match (&*stream).read(&mut discard) {
            Ok(0) => return Ok(Ending::Closed),
            Ok(_) => {} // the peer's bytes: nobody wants them, but they are not an end
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(Ending::Reset),
            // The read timed out (the loop sees the deadline) or a signal came: go round.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            Err(e) => return Err(e),
        }
    }
}
// ANCHOR_END: solution_4
