//! Lesson 04's frames: their types and their bytes, with no I/O at all.
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
//! frame, which is always the last frame on a connection). Reading and writing frames on a
//! connection is `connection.rs`'s job.

use std::fmt;
use std::ops::RangeInclusive;

/// The first byte of every frame: "F" for file in the high half, version 1 in the low half.
/// A peer speaking anything else (a person typing into `nc`, a web browser) is caught by its
/// very first byte.
pub const MAGIC: u8 = 0xF1;
/// magic (1) + kind (1) + payload length (4).
pub const HEADER_LEN: usize = 6;
/// The most file bytes one DATA frame carries. Also the largest payload of any frame, so one
/// buffer of this size is all a connection ever needs, whatever the size of the file.
pub const MAX_DATA: usize = 64 * 1024;
/// The longest file name, in bytes of UTF-8 (the limit of most file systems).
pub const MAX_NAME: usize = 255;
/// The longest message an ERROR frame carries, in bytes of UTF-8.
pub const MAX_MESSAGE: usize = 1024;
/// A SHA-256 checksum is 32 bytes.
pub const CHECKSUM_LEN: usize = 32;
/// size (8) + checksum (32): the fixed part of a FILE or STORED payload, before the name.
const FILE_FIXED: usize = 8 + CHECKSUM_LEN;

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

// ANCHOR: encode
impl Header {
    /// The header as it goes on the wire. The length is big-endian ("network byte order"): its
    /// most significant byte first, whatever the machine's own byte order is.
    pub fn encode(self) -> [u8; HEADER_LEN] {
        // ANCHOR_END: header
        // Callers only build headers for lengths in `kind.lengths()`, all far below 4 GiB.
        let len = u32::try_from(self.len).unwrap_or(u32::MAX).to_be_bytes();
        [MAGIC, self.kind as u8, len[0], len[1], len[2], len[3]]
    }
    // ANCHOR_END: encode

    // ANCHOR: decode
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
// ANCHOR_END: decode

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

// ANCHOR: parse_impl
impl<'a> Frame<'a> {
    // --snip--
    // ANCHOR_END: parse_impl
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
}

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary: how an
/// ERROR frame's message is cut to `MAX_MESSAGE` without splitting a character.
pub fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// A checksum as 64 lowercase hex digits, the way `sha256sum` prints it.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
