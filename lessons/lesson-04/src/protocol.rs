//! The wire protocol of lesson 04, shared by the server, the client, the tests and the benchmarks.
//!
//! TCP carries a stream of bytes with no edges in it, so the protocol draws the edges itself:
//! every message is a *frame*, a fixed 6-byte header followed by a payload whose length the
//! header gives.
//!
//! ```text
//! offset  size  field
//!      0     1  magic and version: 0xF1 ("F" for file, protocol version 1)
//!      1     1  frame type (Kind)
//!      2     4  payload length, an unsigned 32-bit number, big-endian
//!      6     n  payload
//! ```
//!
//! An upload is a FILE frame (size, SHA-256, name), a READY frame back from the server, then
//! DATA frames of at most 64 KiB each carrying the bytes, and a STORED frame back (or an ERROR
//! frame, which is always the last frame on a connection).

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::ops::RangeInclusive;

use sha2::{Digest, Sha256};

// ANCHOR: constants
/// The first byte of every frame: "F" for file in the high half, version 1 in the low half.
/// A peer speaking anything else (a person typing into `nc`, a web browser) is caught by its
/// very first byte.
pub const MAGIC: u8 = 0xF1;
/// magic (1) + kind (1) + payload length (4).
pub const HEADER_LEN: usize = 6;
/// The most file bytes one DATA frame carries. Also the largest payload of any frame, so one
/// buffer of this size is all a connection ever needs, whatever the size of the file.
pub const MAX_DATA: usize = 64 * 1024;
pub const MAX_PAYLOAD: usize = MAX_DATA;
/// The longest file name, in bytes of UTF-8 (the limit of most file systems).
pub const MAX_NAME: usize = 255;
/// The longest message an ERROR frame carries, in bytes of UTF-8.
pub const MAX_MESSAGE: usize = 1024;
/// A SHA-256 checksum is 32 bytes.
pub const CHECKSUM_LEN: usize = 32;
/// size (8) + checksum (32): the fixed part of a FILE or STORED payload, before the name.
const FILE_FIXED: usize = 8 + CHECKSUM_LEN;
// ANCHOR_END: constants

// ANCHOR: kind
/// What a frame is, the second byte of its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    /// "Here comes a file": size, checksum, name. Client → server to upload; server → client
    /// in answer to GET.
    File = 1,
    /// Up to 64 KiB of the file's bytes.
    Data = 2,
    /// Server → client: the upload is accepted, send the bytes.
    Ready = 3,
    /// Server → client: the file is stored, with the size and checksum the server computed.
    Stored = 4,
    /// Client → server: which files do you hold?
    List = 5,
    /// Server → client: one file of the list (size, name).
    Entry = 6,
    /// Server → client: the list is complete.
    End = 7,
    /// Client → server: send me this file (name).
    Get = 8,
    /// Either way: an error code and a message. Always the last frame on a connection.
    Error = 9,
}

impl Kind {
    pub fn from_byte(byte: u8) -> Option<Kind> {
        Some(match byte {
            1 => Kind::File,
            2 => Kind::Data,
            3 => Kind::Ready,
            4 => Kind::Stored,
            5 => Kind::List,
            6 => Kind::Entry,
            7 => Kind::End,
            8 => Kind::Get,
            9 => Kind::Error,
            _ => return None,
        })
    }

    /// The payload lengths this kind of frame can have. A header announcing any other length
    /// is refused before a single byte of its payload is read: a length of 4 GiB costs the
    /// server nothing.
    pub fn lengths(self) -> RangeInclusive<usize> {
        match self {
            Kind::File | Kind::Stored => FILE_FIXED + 1..=FILE_FIXED + MAX_NAME,
            Kind::Data => 1..=MAX_DATA,
            Kind::Ready | Kind::List | Kind::End => 0..=0,
            Kind::Entry => 8 + 1..=8 + MAX_NAME,
            Kind::Get => 1..=MAX_NAME,
            Kind::Error => 1..=1 + MAX_MESSAGE,
        }
    }
}
// ANCHOR_END: kind

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Kind::File => "FILE",
            Kind::Data => "DATA",
            Kind::Ready => "READY",
            Kind::Stored => "STORED",
            Kind::List => "LIST",
            Kind::Entry => "ENTRY",
            Kind::End => "END",
            Kind::Get => "GET",
            Kind::Error => "ERROR",
        };
        f.write_str(name)
    }
}

// ANCHOR: header
/// The fixed 6 bytes in front of every payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub kind: Kind,
    pub len: usize,
}

impl Header {
    /// The header as it goes on the wire. The length is big-endian ("network byte order"): its
    /// most significant byte first, whatever the machine's own byte order is.
    pub fn encode(self) -> [u8; HEADER_LEN] {
        // Callers only build headers for lengths in `kind.lengths()`, all far below 4 GiB.
        let len = u32::try_from(self.len).unwrap_or(u32::MAX).to_be_bytes();
        [MAGIC, self.kind as u8, len[0], len[1], len[2], len[3]]
    }

    /// Checks the magic byte, the kind and the length, in that order, and refuses anything
    /// this version of the protocol would never send.
    pub fn decode(bytes: [u8; HEADER_LEN]) -> Result<Header, FrameError> {
        let [magic, kind, l0, l1, l2, l3] = bytes;
        if magic != MAGIC {
            return Err(FrameError::BadMagic(magic));
        }
        let kind = Kind::from_byte(kind).ok_or(FrameError::UnknownKind(kind))?;
        let len = u32::from_be_bytes([l0, l1, l2, l3]);
        if !kind.lengths().contains(&(len as usize)) {
            return Err(FrameError::BadLength { kind, len });
        }
        Ok(Header {
            kind,
            len: len as usize,
        })
    }
}
// ANCHOR_END: header

/// Why the bytes received are not a frame this protocol allows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    BadMagic(u8),
    UnknownKind(u8),
    BadLength { kind: Kind, len: u32 },
    BadPayload { kind: Kind, why: &'static str },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::BadMagic(byte) => write!(
                f,
                "bad magic byte 0x{byte:02X} (expected 0x{MAGIC:02X}): not this protocol"
            ),
            FrameError::UnknownKind(byte) => write!(f, "unknown frame type {byte}"),
            FrameError::BadLength { kind, len } => {
                let allowed = kind.lengths();
                write!(
                    f,
                    "impossible length {len} for a {kind} frame (allowed: {} to {})",
                    allowed.start(),
                    allowed.end()
                )
            }
            FrameError::BadPayload { kind, why } => write!(f, "bad {kind} frame: {why}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// What an ERROR frame says went wrong: the first byte of its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ErrorCode {
    /// Bytes that are not a frame, or a frame that makes no sense at this point.
    BadFrame = 1,
    /// A name that could escape the folder or hide from a listing.
    BadName = 2,
    /// An upload bigger than the server accepts.
    TooLarge = 3,
    /// The server already holds a file of that name.
    Exists = 4,
    /// The bytes received do not have the checksum announced.
    Checksum = 5,
    /// The server could not write or read its storage (a full disk, for example).
    Storage = 6,
    /// No file of that name.
    NotFound = 7,
    /// Every worker is busy and the queue is full: try again later.
    Busy = 8,
}

impl ErrorCode {
    pub fn from_byte(byte: u8) -> Option<ErrorCode> {
        Some(match byte {
            1 => ErrorCode::BadFrame,
            2 => ErrorCode::BadName,
            3 => ErrorCode::TooLarge,
            4 => ErrorCode::Exists,
            5 => ErrorCode::Checksum,
            6 => ErrorCode::Storage,
            7 => ErrorCode::NotFound,
            8 => ErrorCode::Busy,
            _ => return None,
        })
    }
}

/// A file's size, checksum and name: the payload of FILE and STORED frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileInfo<'a> {
    pub size: u64,
    pub sha256: [u8; CHECKSUM_LEN],
    pub name: &'a str,
}

// ANCHOR: frame
/// One frame, decoded. Payloads are borrowed from the buffer the frame was read into, so
/// reading a 64 KiB DATA frame copies nothing and allocates nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    File(FileInfo<'a>),
    Data(&'a [u8]),
    Ready,
    Stored(FileInfo<'a>),
    List,
    Entry { size: u64, name: &'a str },
    End,
    Get { name: &'a str },
    Error { code: ErrorCode, message: &'a str },
}
// ANCHOR_END: frame

impl<'a> Frame<'a> {
    pub fn kind(&self) -> Kind {
        match self {
            Frame::File(_) => Kind::File,
            Frame::Data(_) => Kind::Data,
            Frame::Ready => Kind::Ready,
            Frame::Stored(_) => Kind::Stored,
            Frame::List => Kind::List,
            Frame::Entry { .. } => Kind::Entry,
            Frame::End => Kind::End,
            Frame::Get { .. } => Kind::Get,
            Frame::Error { .. } => Kind::Error,
        }
    }

    // ANCHOR: encode
    /// The frame as bytes on the wire: header, then payload. Refuses to build a frame the
    /// other side would refuse (a name over 255 bytes, for example).
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let mut payload = Vec::new();
        match self {
            Frame::File(info) | Frame::Stored(info) => {
                payload.extend_from_slice(&info.size.to_be_bytes());
                payload.extend_from_slice(&info.sha256);
                payload.extend_from_slice(info.name.as_bytes());
            }
            Frame::Data(bytes) => payload.extend_from_slice(bytes),
            Frame::Ready | Frame::List | Frame::End => {}
            Frame::Entry { size, name } => {
                payload.extend_from_slice(&size.to_be_bytes());
                payload.extend_from_slice(name.as_bytes());
            }
            Frame::Get { name } => payload.extend_from_slice(name.as_bytes()),
            Frame::Error { code, message } => {
                payload.push(*code as u8);
                payload.extend_from_slice(message.as_bytes());
            }
        }
        let kind = self.kind();
        if !kind.lengths().contains(&payload.len()) {
            let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
            return Err(FrameError::BadLength { kind, len });
        }
        let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len());
        bytes.extend_from_slice(
            &Header {
                kind,
                len: payload.len(),
            }
            .encode(),
        );
        bytes.extend_from_slice(&payload);
        Ok(bytes)
    }
    // ANCHOR_END: encode

    // ANCHOR: parse
    /// Reads a payload whose header said `kind`. Every field is taken with a checked split,
    /// never an index that could panic: the bytes come from a stranger.
    pub fn parse(kind: Kind, payload: &'a [u8]) -> Result<Frame<'a>, FrameError> {
        let bad = |why| FrameError::BadPayload { kind, why };
        if !kind.lengths().contains(&payload.len()) {
            let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
            return Err(FrameError::BadLength { kind, len });
        }
        let name = |bytes| std::str::from_utf8(bytes).map_err(|_| bad("the name is not UTF-8"));
        Ok(match kind {
            Kind::File | Kind::Stored => {
                let (size, rest) = payload.split_first_chunk::<8>().ok_or(bad("too short"))?;
                let (sha256, name_bytes) = rest
                    .split_first_chunk::<CHECKSUM_LEN>()
                    .ok_or(bad("too short"))?;
                let info = FileInfo {
                    size: u64::from_be_bytes(*size),
                    sha256: *sha256,
                    name: name(name_bytes)?,
                };
                if kind == Kind::File {
                    Frame::File(info)
                } else {
                    Frame::Stored(info)
                }
            }
            Kind::Data => Frame::Data(payload),
            Kind::Ready => Frame::Ready,
            Kind::List => Frame::List,
            Kind::End => Frame::End,
            Kind::Entry => {
                let (size, name_bytes) =
                    payload.split_first_chunk::<8>().ok_or(bad("too short"))?;
                Frame::Entry {
                    size: u64::from_be_bytes(*size),
                    name: name(name_bytes)?,
                }
            }
            Kind::Get => Frame::Get {
                name: name(payload)?,
            },
            Kind::Error => {
                let (&code, message) = payload.split_first().ok_or(bad("no error code"))?;
                Frame::Error {
                    code: ErrorCode::from_byte(code).ok_or(bad("unknown error code"))?,
                    message: std::str::from_utf8(message)
                        .map_err(|_| bad("the message is not UTF-8"))?,
                }
            }
        })
    }
    // ANCHOR_END: parse

    /// Decodes the first frame in `bytes`, and says how many bytes it took. `Ok(None)`: the
    /// bytes are the beginning of a frame, not all of it yet (read more and try again).
    pub fn decode(bytes: &'a [u8]) -> Result<Option<(Frame<'a>, usize)>, FrameError> {
        let Some(head) = bytes.first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let header = Header::decode(*head)?;
        let end = HEADER_LEN + header.len;
        let Some(payload) = bytes.get(HEADER_LEN..end) else {
            return Ok(None);
        };
        Ok(Some((Frame::parse(header.kind, payload)?, end)))
    }
}

/// Why reading a frame from a connection failed: the connection, or the bytes on it.
#[derive(Debug)]
pub enum ReadError {
    /// The connection failed, timed out, or closed in the middle of a frame.
    Io(io::Error),
    /// The bytes are not a frame of this protocol.
    Frame(FrameError),
}

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
/// Reads one frame into `buf`. `Ok(None)` means the peer closed the connection cleanly
/// between two frames; a close in the middle of one is an `UnexpectedEof` error.
pub fn read_frame<'a>(
    from: &mut impl Read,
    buf: &'a mut [u8; MAX_PAYLOAD],
) -> Result<Option<Frame<'a>>, ReadError> {
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
/// Writes one frame with ONE `write_all`: header and payload leave together, so a small frame
/// is one small segment and never waits for Nagle's algorithm (see the chapter).
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
    buf: &mut [u8; MAX_PAYLOAD],
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

// ANCHOR: check_name
/// Whether a file name is safe to use as a path inside the server's folder. The name comes
/// from the network: `../../home/you/.ssh/authorized_keys` is a file name too.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("the name is empty");
    }
    if name.len() > MAX_NAME {
        return Err("the name is longer than 255 bytes");
    }
    if name.contains(['/', '\\']) {
        return Err("a name may not contain / or \\ (it would name another folder)");
    }
    if name.contains("..") {
        return Err("a name may not contain .. (it could climb out of the folder)");
    }
    if name.starts_with('.') {
        return Err("a name may not start with a dot (hidden files, and the server's own)");
    }
    if name.contains('\0') {
        return Err("a name may not contain a NUL byte");
    }
    if name.chars().any(char::is_control) {
        return Err("a name may not contain control characters");
    }
    Ok(())
}
// ANCHOR_END: check_name

/// A checksum as 64 lowercase hex digits, the way `sha256sum` prints it.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_is_magic_kind_and_a_big_endian_length() {
        let header = Header {
            kind: Kind::Data,
            len: 0x0102,
        };
        assert_eq!(header.encode(), [0xF1, 2, 0, 0, 1, 2]);
        assert_eq!(Header::decode(header.encode()), Ok(header));
    }

    #[test]
    fn impossible_headers_are_refused() {
        assert_eq!(Header::decode(*b"hello\n"), Err(FrameError::BadMagic(b'h')));
        assert_eq!(
            Header::decode([MAGIC, 0, 0, 0, 0, 0]),
            Err(FrameError::UnknownKind(0))
        );
        assert_eq!(
            Header::decode([MAGIC, 2, 0, 1, 0, 1]),
            Err(FrameError::BadLength {
                kind: Kind::Data,
                len: 65537
            })
        );
        assert_eq!(
            Header::decode([MAGIC, 5, 0, 0, 0, 1]),
            Err(FrameError::BadLength {
                kind: Kind::List,
                len: 1
            })
        );
    }

    /// A writer that fails with "no space left" after `room` bytes, like a full disk.
    struct FullDisk {
        room: usize,
        written: Vec<u8>,
    }

    impl Write for FullDisk {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.room == 0 {
                return Err(io::Error::new(
                    ErrorKind::StorageFull,
                    "No space left on device",
                ));
            }
            let n = buf.len().min(self.room);
            self.room -= n;
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_full_disk_stops_the_transfer_with_a_write_error() {
        let file: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
        let (size, sha256) = sha256_of(&mut &file[..]).unwrap();
        let mut wire = Vec::new();
        send_data(&mut &file[..], size, &mut wire, |_| {}).unwrap();

        let mut disk = FullDisk {
            room: 100_000,
            written: Vec::new(),
        };
        let mut buf = [0u8; MAX_PAYLOAD];
        let mut reader = &wire[..];
        let result = receive_data(&mut reader, &mut buf, size, &sha256, &mut disk, |_| {});
        match result {
            Err(TransferError::Write(e)) => assert_eq!(e.kind(), ErrorKind::StorageFull),
            other => panic!("expected a write error, got {other:?}"),
        }
        assert_eq!(disk.written.len(), 100_000);
        // It stopped at the first failed write instead of reading the rest of the upload.
        assert!(!reader.is_empty());
    }

    #[test]
    fn data_round_trips_and_a_wrong_checksum_is_caught() {
        let file: Vec<u8> = (0..150_001u32).map(|i| (i * 7) as u8).collect();
        let (size, sha256) = sha256_of(&mut &file[..]).unwrap();
        let mut wire = Vec::new();
        send_data(&mut &file[..], size, &mut wire, |_| {}).unwrap();
        // 150_001 bytes: two full frames and one of 19_929 bytes, each with its header.
        assert_eq!(wire.len(), 150_001 + 3 * HEADER_LEN);

        let mut buf = [0u8; MAX_PAYLOAD];
        let mut out = Vec::new();
        receive_data(&mut &wire[..], &mut buf, size, &sha256, &mut out, |_| {}).unwrap();
        assert_eq!(out, file);

        let mut wrong = sha256;
        wrong[0] ^= 1;
        let result = receive_data(
            &mut &wire[..],
            &mut buf,
            size,
            &wrong,
            &mut Vec::new(),
            |_| {},
        );
        assert!(matches!(result, Err(TransferError::Checksum { .. })));
    }

    #[test]
    fn unsafe_names_are_refused_and_ordinary_ones_accepted() {
        for bad in [
            "",
            "a/b",
            "a\\b",
            "..",
            "a..b",
            ".hidden",
            "a\0b",
            "tab\there",
            &"x".repeat(256),
        ] {
            assert!(check_name(bad).is_err(), "{bad:?}");
        }
        for good in [
            "postcard.png",
            "a.b.c",
            "My photo (1).jpeg",
            "日本.png",
            &"x".repeat(255),
        ] {
            assert_eq!(check_name(good), Ok(()), "{good:?}");
        }
    }

    #[test]
    fn hex_is_what_sha256sum_prints() {
        let (_, sha) = sha256_of(&mut &b""[..]).unwrap();
        assert_eq!(
            hex(&sha),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
