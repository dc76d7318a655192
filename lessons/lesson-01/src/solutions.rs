//! Our answers to lesson 01's exercises. Try `src/exercises.rs` first.

use std::io::{self, ErrorKind, Read};
use std::net::{SocketAddr, TcpListener, TcpStream};
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
/// Exercise 2: connect, but give up after `timeout`.
pub fn connect_with_timeout(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
    // std puts the socket in non-blocking mode, starts connect(), waits with poll() for at most
    // `timeout`, then makes the socket blocking again.
    TcpStream::connect_timeout(&addr, timeout)
}
// ANCHOR_END: solution_2

// ANCHOR: solution_3
/// Exercise 3: listen on a port the kernel picks, and say which.
pub fn listen_on_free_port() -> io::Result<(TcpListener, u16)> {
    // Port 0 asks bind() for any free port; getsockname() (local_addr) tells which it chose.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    Ok((listener, port))
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
