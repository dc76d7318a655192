//! Reading and writing lesson 04's frames on a stream, and moving a file's bytes through them.
//!
//! `frame.rs` says what the bytes mean; this file gets them on and off a connection (or any
//! `Read` and `Write`, which is how the tests feed it bytes in odd pieces). One 64 KiB buffer
//! per connection, whatever the size of the file.

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::frame::{
    CHECKSUM_LEN, ErrorCode, Frame, FrameError, HEADER_LEN, Header, Kind, MAX_DATA,
};

// ANCHOR: timed
/// A connection with a clock: every read and write through it must finish by a deadline.
///
/// A timeout on each read is not enough: a client that sends one byte a second never lets a
/// 30-second timeout expire, and holds a worker for as long as it likes (the *slowloris*
/// attack). So each phase of a conversation gets a total bound. `within` gives a fixed one
/// (a whole frame within the idle timeout, the last word within its linger). `paced` gives a
/// moving one, for transfers: the deadline moves `window` into the future each time
/// `pace.bytes` more bytes have passed, so a transfer must keep up an average rate, measured
/// over each window, however large the file.
pub struct Timed<'a> {
    stream: &'a TcpStream,
    deadline: Instant,
    pace: Option<Pace>,
    /// Bytes moved since the deadline last moved.
    moved: u64,
}

/// "At least `bytes` every `window`": the slowest transfer a server accepts.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    pub bytes: u64,
    pub window: Duration,
}

impl<'a> Timed<'a> {
    /// Everything read or written through it must be done within `limit` from now.
    pub fn within(stream: &'a TcpStream, limit: Duration) -> Timed<'a> {
        Timed {
            stream,
            deadline: Instant::now() + limit,
            pace: None,
            moved: 0,
        }
    }

    /// At least `pace.bytes` must pass in every `pace.window`, starting now.
    pub fn paced(stream: &'a TcpStream, pace: Pace) -> Timed<'a> {
        Timed {
            stream,
            deadline: Instant::now() + pace.window,
            pace: Some(pace),
            moved: 0,
        }
    }

    /// The time left, or a TimedOut error once the deadline has passed.
    fn time_left(&self) -> io::Result<Duration> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                ErrorKind::TimedOut,
                "the deadline has passed",
            ));
        }
        Ok(left)
    }

    fn count(&mut self, n: usize) {
        if let Some(pace) = self.pace {
            self.moved += n as u64;
            if self.moved >= pace.bytes {
                self.moved = 0;
                self.deadline = Instant::now() + pace.window;
            }
        }
    }
}

impl Read for Timed<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // The kernel's timeout, set before each call to what is left of the total: no single
        // call can outlast the deadline, however the peer spreads its bytes.
        self.stream.set_read_timeout(Some(self.time_left()?))?;
        let n = (&mut &*self.stream).read(buf)?;
        self.count(n);
        Ok(n)
    }
}

impl Write for Timed<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.set_write_timeout(Some(self.time_left()?))?;
        let n = (&mut &*self.stream).write(buf)?;
        self.count(n);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
// ANCHOR_END: timed

// ANCHOR: configure
/// Sets a new connection up for frames.
pub fn configure(stream: &TcpStream) -> io::Result<()> {
    // Nagle's algorithm holds a small segment back while earlier small data is still
    // unacknowledged: a small file's DATA frame, right behind the FILE frame of a download,
    // would wait for the client's delayed ACK (40 ms on Linux). Every frame leaves in one
    // write_all, so there is nothing for Nagle to gather: turn it off.
    stream.set_nodelay(true)
}
// ANCHOR_END: configure

// ANCHOR: read_error
/// Why reading a frame from a connection failed: the connection, or the bytes on it.
#[derive(Debug)]
pub enum ReadError {
    /// The connection failed, timed out, or closed in the middle of a frame.
    Io(io::Error),
    /// The bytes are not a frame of this protocol.
    Frame(FrameError),
}
// ANCHOR_END: read_error

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> ReadError {
        ReadError::Io(e)
    }
}

impl From<FrameError> for ReadError {
    fn from(e: FrameError) -> ReadError {
        ReadError::Frame(e)
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Io(e) if e.kind() == ErrorKind::UnexpectedEof => {
                f.write_str("the connection closed in the middle of a frame")
            }
            ReadError::Io(e) => write!(f, "{e}"),
            ReadError::Frame(e) => write!(f, "{e}"),
        }
    }
}

// ANCHOR: read_frame
// ANCHOR: read_frame_outside
/// Reads one frame into `buf`. `Ok(None)` means the peer closed the connection cleanly
/// between two frames; a close in the middle of one is an `UnexpectedEof` error.
pub fn read_frame<'a>(
    from: &mut impl Read,
    buf: &'a mut [u8; MAX_DATA],
) -> Result<Option<Frame<'a>>, ReadError> {
    // ANCHOR_END: read_frame_outside
    let mut head = [0u8; HEADER_LEN];
    // The first read alone tells "closed between frames" (0 bytes) from "closed inside one".
    let first = loop {
        match from.read(&mut head) {
            Ok(n) => break n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        }
    };
    if first == 0 {
        return Ok(None);
    }
    // read_exact loops until the header is complete: a read may return 1 byte of it.
    from.read_exact(&mut head[first..])?;
    let header = Header::decode(head)?;
    // decode() has checked the length against the kind, so it fits the buffer; `get` makes
    // sure of it without a panic even if a future kind forgot to.
    let payload = buf.get_mut(..header.len).ok_or(FrameError::BadLength {
        kind: header.kind,
        len: header.len as u32,
    })?;
    from.read_exact(payload)?;
    Ok(Some(Frame::parse(header.kind, payload)?))
}
// ANCHOR_END: read_frame

// ANCHOR: write_frame
/// Writes one frame with ONE `write_all`: header and payload go to the kernel together, so
/// they leave in one segment when they fit, never as a header that Nagle's algorithm lets go
/// and a payload it holds back for an ACK (see `configure` and the chapter).
pub fn write_frame(to: &mut impl Write, frame: &Frame) -> io::Result<()> {
    let bytes = frame
        .encode()
        .map_err(|e| io::Error::new(ErrorKind::InvalidInput, e))?;
    to.write_all(&bytes)
}
// ANCHOR_END: write_frame

/// Why a transfer of a file's bytes failed.
#[derive(Debug)]
pub enum TransferError {
    /// Reading the source failed: the connection (receiving) or the file (sending).
    Read(io::Error),
    /// Writing the destination failed: the file, a full disk (receiving) or the connection
    /// (sending).
    Write(io::Error),
    /// The bytes on the connection are not a frame.
    Frame(FrameError),
    /// A well-formed frame that has no place in the middle of a transfer.
    Unexpected(Kind),
    /// The DATA frames carried more bytes than the FILE frame announced.
    TooMany { declared: u64 },
    /// The bytes received do not have the checksum announced.
    Checksum {
        expected: [u8; CHECKSUM_LEN],
        actual: [u8; CHECKSUM_LEN],
    },
    /// The other side sent an ERROR frame instead of the rest of the data.
    Refused { code: ErrorCode, message: String },
}

impl From<ReadError> for TransferError {
    fn from(e: ReadError) -> TransferError {
        match e {
            ReadError::Io(e) => TransferError::Read(e),
            ReadError::Frame(e) => TransferError::Frame(e),
        }
    }
}

// ANCHOR: send_data
/// Sends `size` bytes of `file` as DATA frames. Each frame is assembled in place: the file's
/// bytes are read into the buffer just after room for the header, the header is written in
/// front, and the whole frame goes out with one `write_all`. One 64 KiB buffer, whatever the
/// size of the file.
pub fn send_data(
    file: &mut impl Read,
    size: u64,
    to: &mut impl Write,
    mut progress: impl FnMut(u64),
) -> Result<(), TransferError> {
    let mut frame = vec![0u8; HEADER_LEN + MAX_DATA];
    let mut sent = 0u64;
    while sent < size {
        let want = (size - sent).min(MAX_DATA as u64) as usize;
        let n = match file.read(&mut frame[HEADER_LEN..HEADER_LEN + want]) {
            Ok(0) => {
                return Err(TransferError::Read(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    format!("the file ended after {sent} of its {size} bytes: did it change?"),
                )));
            }
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(TransferError::Read(e)),
        };
        let header = Header {
            kind: Kind::Data,
            len: n,
        };
        frame[..HEADER_LEN].copy_from_slice(&header.encode());
        to.write_all(&frame[..HEADER_LEN + n])
            .map_err(TransferError::Write)?;
        sent += n as u64;
        progress(sent);
    }
    Ok(())
}
// ANCHOR_END: send_data

// ANCHOR: receive_data
/// Receives DATA frames carrying exactly `size` bytes, writes them to `to`, and checks that
/// their SHA-256 is `expected`. Memory use does not depend on `size`: one frame at a time
/// passes through `buf`.
pub fn receive_data(
    from: &mut impl Read,
    buf: &mut [u8; MAX_DATA],
    size: u64,
    expected: &[u8; CHECKSUM_LEN],
    to: &mut impl Write,
    mut progress: impl FnMut(u64),
) -> Result<(), TransferError> {
    let mut hasher = Sha256::new();
    let mut received = 0u64;
    while received < size {
        let data = match read_frame(from, buf)? {
            Some(Frame::Data(data)) => data,
            None => {
                return Err(TransferError::Read(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    format!("the connection closed after {received} of {size} bytes"),
                )));
            }
            Some(Frame::Error { code, message }) => {
                let message = message.to_string();
                return Err(TransferError::Refused { code, message });
            }
            Some(other) => return Err(TransferError::Unexpected(other.kind())),
        };
        received += data.len() as u64;
        if received > size {
            return Err(TransferError::TooMany { declared: size });
        }
        hasher.update(data);
        to.write_all(data).map_err(TransferError::Write)?;
        progress(received);
    }
    let actual: [u8; CHECKSUM_LEN] = hasher.finalize().into();
    if actual != *expected {
        return Err(TransferError::Checksum {
            expected: *expected,
            actual,
        });
    }
    Ok(())
}
// ANCHOR_END: receive_data

/// The size and SHA-256 of everything `from` yields, read through one 64 KiB buffer.
pub fn sha256_of(from: &mut impl Read) -> io::Result<(u64, [u8; CHECKSUM_LEN])> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; MAX_DATA];
    let mut size = 0u64;
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                hasher.update(&buf[..n]);
                size += n as u64;
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok((size, hasher.finalize().into()))
}

/// Who is at the other end, for the log.
pub fn describe_peer(stream: &TcpStream) -> String {
    match stream.peer_addr() {
        Ok(addr) => addr.to_string(),
        Err(_) => "a client that already left".to_string(),
    }
}

/// What a failed read or write means, in words, for the log.
pub fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        ErrorKind::UnexpectedEof => {
            "the client closed the connection in the middle of a request".to_string()
        }
        ErrorKind::WouldBlock | ErrorKind::TimedOut => {
            "the client went silent, or too slow for its deadline".to_string()
        }
        ErrorKind::ConnectionReset => "the client reset the connection".to_string(),
        _ => e.to_string(),
    }
}
