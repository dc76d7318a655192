//! Lesson 04's binary protocol, as its chapter defines it, written here again from that
//! definition rather than taken from the lesson's code: a server in any language is checked
//! against the protocol, and a mistake in the lesson's code cannot hide the same mistake here.
//!
//! Every frame, both ways, is a 6-byte header and a payload:
//!
//! ```text
//! offset  size  field
//!      0     1  magic and version: 0xF1
//!      1     1  frame type, 1 to 9
//!      2     4  payload length, u32, big-endian
//!      6     n  payload: exactly that many bytes
//! ```
//!
//! Upload: FILE → READY → DATA … DATA → STORED. List: LIST → ENTRY … ENTRY → END. Download:
//! GET → FILE → DATA … DATA. A refusal is an ERROR frame, always the last frame before the
//! server closes the connection.

mod checks;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::check::{Check, Probe, Verdict};
use crate::conn::{Conn, Framing, Got, quote};
use crate::report::Outcome;

/// The first byte of every frame: "F" for file, version 1.
pub const MAGIC: u8 = 0xF1;
/// magic (1) + type (1) + payload length (4).
pub const HEADER_LEN: usize = 6;
/// The most file bytes one DATA frame carries, and the largest payload of any frame.
pub const MAX_DATA: usize = 64 * 1024;
/// The longest file name, in bytes of UTF-8.
pub const MAX_NAME: usize = 255;
/// The longest message of an ERROR frame, in bytes of UTF-8.
pub const MAX_MESSAGE: usize = 1024;
/// A FILE or STORED payload before the name: size (u64) and SHA-256 (32 bytes).
const FILE_FIXED: usize = 8 + 32;

/// The frame types: the second byte of the header.
pub mod kind {
    pub const FILE: u8 = 1;
    pub const DATA: u8 = 2;
    pub const READY: u8 = 3;
    pub const STORED: u8 = 4;
    pub const LIST: u8 = 5;
    pub const ENTRY: u8 = 6;
    pub const END: u8 = 7;
    pub const GET: u8 = 8;
    pub const ERROR: u8 = 9;
}

/// The error codes: the first byte of an ERROR frame's payload.
pub mod code {
    /// Bytes that are not a frame, or a frame out of place.
    pub const BAD_FRAME: u8 = 1;
    /// A name that could escape the folder or hide from a listing.
    pub const BAD_NAME: u8 = 2;
    /// An upload bigger than the server accepts.
    pub const TOO_LARGE: u8 = 3;
    /// The server already holds a file of that name.
    pub const EXISTS: u8 = 4;
    /// The bytes received do not have the checksum announced.
    pub const CHECKSUM: u8 = 5;
    /// The server could not write or read its storage.
    pub const STORAGE: u8 = 6;
    /// No file of that name.
    pub const NOT_FOUND: u8 = 7;
    /// Every worker is busy: try again later.
    pub const BUSY: u8 = 8;
}

/// An error code with its name, for report lines: `5 (Checksum)`.
pub fn code_name(code: u8) -> String {
    let name = match code {
        code::BAD_FRAME => "BadFrame",
        code::BAD_NAME => "BadName",
        code::TOO_LARGE => "TooLarge",
        code::EXISTS => "Exists",
        code::CHECKSUM => "Checksum",
        code::STORAGE => "Storage",
        code::NOT_FOUND => "NotFound",
        code::BUSY => "Busy",
        _ => "unknown",
    };
    format!("{code} ({name})")
}

/// The payload lengths a frame of type `kind` may have, or `None` for a type that does not
/// exist. A header announcing any other length is not this protocol.
pub fn lengths(kind: u8) -> Option<RangeInclusive<usize>> {
    Some(match kind {
        kind::FILE | kind::STORED => FILE_FIXED + 1..=FILE_FIXED + MAX_NAME,
        kind::DATA => 1..=MAX_DATA,
        kind::READY | kind::LIST | kind::END => 0..=0,
        kind::ENTRY => 8 + 1..=8 + MAX_NAME,
        kind::GET => 1..=MAX_NAME,
        kind::ERROR => 1..=1 + MAX_MESSAGE,
        _ => return None,
    })
}

/// The SHA-256 of `bytes`, as the FILE frame carries it.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// One frame, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    File {
        size: u64,
        sha256: [u8; 32],
        name: String,
    },
    Data(Vec<u8>),
    Ready,
    Stored {
        size: u64,
        sha256: [u8; 32],
        name: String,
    },
    List,
    Entry {
        size: u64,
        name: String,
    },
    End,
    Get {
        name: String,
    },
    Error {
        code: u8,
        message: String,
    },
}

impl Frame {
    /// The FILE frame that offers `bytes` under `name`.
    pub fn file(name: &str, bytes: &[u8]) -> Frame {
        Frame::File {
            size: bytes.len() as u64,
            sha256: sha256(bytes),
            name: name.to_string(),
        }
    }

    pub fn kind(&self) -> u8 {
        match self {
            Frame::File { .. } => kind::FILE,
            Frame::Data(_) => kind::DATA,
            Frame::Ready => kind::READY,
            Frame::Stored { .. } => kind::STORED,
            Frame::List => kind::LIST,
            Frame::Entry { .. } => kind::ENTRY,
            Frame::End => kind::END,
            Frame::Get { .. } => kind::GET,
            Frame::Error { .. } => kind::ERROR,
        }
    }

    /// The frame as bytes on the wire. Nothing is checked: the checker sends frames a server
    /// must refuse, such as a FILE frame with an empty name.
    pub fn encode(&self) -> Vec<u8> {
        let mut payload = Vec::new();
        match self {
            Frame::File { size, sha256, name } | Frame::Stored { size, sha256, name } => {
                payload.extend_from_slice(&size.to_be_bytes());
                payload.extend_from_slice(sha256);
                payload.extend_from_slice(name.as_bytes());
            }
            Frame::Data(bytes) => payload.extend_from_slice(bytes),
            Frame::Ready | Frame::List | Frame::End => {}
            Frame::Entry { size, name } => {
                payload.extend_from_slice(&size.to_be_bytes());
                payload.extend_from_slice(name.as_bytes());
            }
            Frame::Get { name } => payload.extend_from_slice(name.as_bytes()),
            Frame::Error { code, message } => {
                payload.push(*code);
                payload.extend_from_slice(message.as_bytes());
            }
        }
        let mut bytes = header(MAGIC, self.kind(), payload.len() as u32).to_vec();
        bytes.extend_from_slice(&payload);
        bytes
    }

    /// Reads the payload of a frame of type `kind` (its length already checked), or says why
    /// it is not one.
    fn parse(kind: u8, payload: Vec<u8>) -> Result<Frame, String> {
        let text = |bytes: &[u8], what: &str| {
            String::from_utf8(bytes.to_vec()).map_err(|_| format!("{what} that is not UTF-8"))
        };
        // The lengths were checked against `lengths(kind)`, so these splits cannot fail.
        let size = |bytes: &[u8]| u64::from_be_bytes(bytes[..8].try_into().unwrap());
        Ok(match kind {
            kind::FILE | kind::STORED => {
                let (size, sha256, name) = (
                    size(&payload),
                    payload[8..FILE_FIXED].try_into().unwrap(),
                    text(&payload[FILE_FIXED..], "a name")?,
                );
                if kind == kind::FILE {
                    Frame::File { size, sha256, name }
                } else {
                    Frame::Stored { size, sha256, name }
                }
            }
            kind::DATA => Frame::Data(payload),
            kind::READY => Frame::Ready,
            kind::LIST => Frame::List,
            kind::END => Frame::End,
            kind::ENTRY => Frame::Entry {
                size: size(&payload),
                name: text(&payload[8..], "a name")?,
            },
            kind::GET => Frame::Get {
                name: text(&payload, "a name")?,
            },
            _ => Frame::Error {
                code: payload[0],
                message: text(&payload[1..], "a message")?,
            },
        })
    }
}

/// A header with any magic, type and length, for the frames a server must refuse.
pub fn header(magic: u8, kind: u8, len: u32) -> [u8; HEADER_LEN] {
    let [l0, l1, l2, l3] = len.to_be_bytes();
    [magic, kind, l0, l1, l2, l3]
}

/// A checksum shortened for a report line: its first 8 hex digits.
fn short(sha256: &[u8; 32]) -> String {
    sha256[..4].iter().map(|b| format!("{b:02x}")).collect()
}

impl fmt::Display for Frame {
    /// How a frame appears in a report line: `STORED "a.png" (11141 bytes, sha256 cd29dbfc…)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Frame::File { size, sha256, name } => write!(
                f,
                "FILE {} ({size} bytes, sha256 {}…)",
                quote(name.as_bytes()),
                short(sha256)
            ),
            Frame::Data(bytes) => write!(f, "DATA ({} bytes)", bytes.len()),
            Frame::Ready => write!(f, "READY"),
            Frame::Stored { size, sha256, name } => write!(
                f,
                "STORED {} ({size} bytes, sha256 {}…)",
                quote(name.as_bytes()),
                short(sha256)
            ),
            Frame::List => write!(f, "LIST"),
            Frame::Entry { size, name } => {
                write!(f, "ENTRY {} ({size} bytes)", quote(name.as_bytes()))
            }
            Frame::End => write!(f, "END"),
            Frame::Get { name } => write!(f, "GET {}", quote(name.as_bytes())),
            Frame::Error { code, message } => {
                write!(
                    f,
                    "ERROR {} {}",
                    code_name(*code),
                    quote(message.as_bytes())
                )
            }
        }
    }
}

/// What the checker got when it waited for the next frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    Frame(Frame),
    /// The server closed the connection between two frames.
    Closed,
    Reset,
    /// Nothing (or not a whole frame) arrived for this long.
    Nothing(Duration),
    /// The server closed the connection in the middle of a frame, after this many bytes of it.
    Cut(usize),
    /// Bytes that are not a frame of this protocol, and why.
    NotAFrame(String),
    Error(String),
}

impl fmt::Display for Next {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Next::Frame(frame) => write!(f, "{frame}"),
            Next::Closed => write!(f, "the connection closed"),
            Next::Reset => write!(f, "the connection reset"),
            Next::Nothing(waited) => write!(f, "nothing for {:.1} s", waited.as_secs_f64()),
            Next::Cut(n) => write!(f, "the connection closed after {n} bytes of a frame"),
            Next::NotAFrame(what) => write!(f, "{what}"),
            Next::Error(what) => write!(f, "{what}"),
        }
    }
}

/// A client connection that speaks in frames. Every wait has a deadline.
pub struct FrameConn {
    conn: Conn,
}

impl FrameConn {
    /// Connects within `timeout`; every later wait for a frame lasts at most `timeout` too.
    pub fn open(addr: SocketAddr, timeout: Duration) -> Result<FrameConn, Outcome> {
        // `Framing` only matters to `Conn::reply`, which frames do not use.
        Conn::open(addr, Framing::Reads, timeout).map(FrameConn::from)
    }

    /// Like [`FrameConn::open`], with the error as it is.
    pub fn try_open(addr: SocketAddr, timeout: Duration) -> io::Result<FrameConn> {
        Conn::try_open(addr, Framing::Reads, timeout).map(FrameConn::from)
    }

    pub fn conn(&self) -> &Conn {
        &self.conn
    }

    pub fn conn_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }

    /// Sends one frame in one write.
    pub fn send(&mut self, frame: &Frame) -> Result<(), Outcome> {
        self.conn.send(frame.encode())
    }

    /// Sends bytes as they are: a header that is not this protocol, for example.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> Result<(), Outcome> {
        self.conn.send(bytes)
    }

    /// Waits at most the connection's timeout for the next frame.
    pub fn receive(&mut self) -> Next {
        self.receive_within(self.conn.timeout())
    }

    /// Waits at most `wait` for the next whole frame, and checks it is one this protocol
    /// allows: the magic, a known type, a length in that type's range, and a payload that
    /// parses.
    pub fn receive_within(&mut self, wait: Duration) -> Next {
        let deadline = Instant::now() + wait;
        let head = match self.conn.take(HEADER_LEN, deadline) {
            Ok(head) => head,
            Err(Got::Closed(part)) if part.is_empty() => return Next::Closed,
            Err(got) => return self.lost(got, 0, wait),
        };
        let [magic, kind, l0, l1, l2, l3] = head[..] else {
            unreachable!("take returns exactly HEADER_LEN bytes")
        };
        let len = u32::from_be_bytes([l0, l1, l2, l3]) as usize;
        if magic != MAGIC {
            return Next::NotAFrame(format!(
                "bytes {} (magic 0x{magic:02X}, not 0x{MAGIC:02X})",
                quote(&head)
            ));
        }
        let Some(allowed) = lengths(kind) else {
            return Next::NotAFrame(format!("a frame of unknown type {kind}"));
        };
        if !allowed.contains(&len) {
            return Next::NotAFrame(format!(
                "a header announcing {len} bytes for a frame of type {kind} (allowed: {} to {})",
                allowed.start(),
                allowed.end()
            ));
        }
        match self.conn.take(len, deadline) {
            Ok(payload) => match Frame::parse(kind, payload) {
                Ok(frame) => Next::Frame(frame),
                Err(why) => Next::NotAFrame(format!("a frame of type {kind} with {why}")),
            },
            Err(got) => self.lost(got, HEADER_LEN, wait),
        }
    }

    /// What a failed wait for the rest of a frame means, `before` bytes of it already read.
    fn lost(&self, got: Got, before: usize, wait: Duration) -> Next {
        match got {
            Got::Closed(part) => Next::Cut(before + part.len()),
            Got::Reset => Next::Reset,
            Got::Nothing(_) => Next::Nothing(wait),
            other => Next::Error(other.to_string()),
        }
    }

    /// Closes its sending side (FIN) and goes on reading.
    pub fn shutdown_write(&self) {
        self.conn.shutdown_write();
    }

    /// Closes with a reset (RST) instead of a FIN.
    pub fn reset(self) {
        self.conn.reset();
    }
}

impl From<Conn> for FrameConn {
    fn from(conn: Conn) -> FrameConn {
        FrameConn { conn }
    }
}

/// The table of checks for lesson 04, in the order they run: the protocol first, then each
/// hostile client followed by a check that a well-behaved client can still upload and download.
pub fn checks(options: &crate::Options) -> Vec<Check> {
    use checks::*;
    type CheckFn = fn(&mut Probe) -> Verdict;
    let check = |name: &str, proves: &str, f: CheckFn| Check::new(name, proves, f);
    // After a hostile client: a well-behaved client is still served.
    let hostile = |name: &str, proves: &str, f: CheckFn| {
        check(name, proves, f).then(check(
            &format!("served-after-{name}"),
            "a well-behaved client is then served: a small upload, downloaded back intact",
            served,
        ))
    };
    let mut table = vec![
        check(
            "upload",
            "FILE, READY, two DATA frames, then STORED with the same size, SHA-256 and name",
            upload,
        ),
        check(
            "get",
            "GET gives back FILE with the same size and SHA-256, and the very same bytes",
            get,
        ),
        check(
            "list",
            "LIST after an upload, on its connection: an ENTRY with its name and size, then END",
            list,
        ),
        check(
            "empty-file",
            "a file of 0 bytes is uploaded with no DATA frame, listed, and got back as 0 bytes",
            empty_file,
        ),
        check(
            "get-missing",
            "GET of a name the server does not hold gets ERROR NotFound, then the close",
            get_missing,
        ),
        check(
            "wrong-checksum",
            "bytes that do not match the SHA-256 announced: ERROR Checksum, and not listed",
            wrong_checksum,
        ),
        check(
            "end-of-stream",
            "an upload then the client's FIN at once: STORED still comes, then a clean close",
            end_of_stream,
        ),
        hostile(
            "bad-magic",
            "a first byte other than 0xF1 (`hello` from nc): ERROR BadFrame, then the close",
            bad_magic,
        ),
        hostile(
            "unknown-type",
            "a frame of a type that does not exist gets ERROR BadFrame, then the close",
            unknown_type,
        ),
        hostile(
            "impossible-length",
            "a length over its frame type's limit: ERROR BadFrame at once, payload unread",
            impossible_length,
        ),
        hostile(
            "unsafe-names",
            "`../x`, `a/b`, `a\\b`, `.hidden`, an empty name and a NUL are refused before READY",
            unsafe_names,
        ),
        hostile(
            "too-large",
            "a declared size over the server's limit gets ERROR TooLarge before a byte is sent",
            too_large,
        ),
        hostile(
            "too-large-then-data",
            "a FILE over the limit, then 1 MiB of DATA at once: ERROR, then FIN (not RST), 10 of 10",
            too_large_then_data,
        ),
        hostile(
            "vanish-mid-upload",
            "a client that resets after half its bytes leaves nothing listed under the name",
            vanish_mid_upload,
        ),
        hostile(
            "silent-client",
            "while a client says nothing, another is served",
            silent_client,
        ),
        hostile(
            "idle-timeout",
            "a client that says nothing is closed after the server's idle timeout",
            idle_timeout,
        ),
        hostile(
            "existing-name",
            "a taken name is never overwritten: ERROR Exists, or stored under another name",
            existing_name,
        ),
        hostile(
            "200-dropped",
            "200 connections opened at once, then dropped",
            dropped_200,
        ),
        hostile(
            "bounded-threads",
            "with --pid: 200 connections held open add no more than a few threads",
            bounded_threads,
        ),
        hostile(
            "1000-burst",
            "1,000 connections in a burst, eight at a time: each GET answered (or ERROR Busy)",
            burst_1000,
        ),
    ];
    if options.min_rate.is_some() {
        // Before the crowds, after the idle timeout: where a silent client's check would be.
        let at = table
            .iter()
            .position(|c| c.name == "existing-name")
            .unwrap_or(table.len());
        table.insert(
            at,
            hostile(
                "slow-upload",
                "DATA frames at a quarter of --min-rate: cut off within two idle timeouts",
                slow_upload,
            ),
        );
        table.insert(
            at,
            hostile(
                "slow-frame",
                "a frame trickled a byte at a time is cut off within the idle timeout, in total",
                slow_frame,
            ),
        );
    }
    table
}
