//! Property tests of the frame codec: whatever bytes a stranger sends, decoding never panics;
//! every frame we can encode decodes back to itself, however the stream splits it.

use std::io::{self, Read};

use lesson_04::connection::{ReadError, read_frame};
use lesson_04::frame::{
    ErrorCode, FileInfo, Frame, HEADER_LEN, Header, MAGIC, MAX_DATA, MAX_MESSAGE, MAX_NAME,
};
use proptest::prelude::*;

/// A frame's contents, owned, so proptest can generate and shrink it.
#[derive(Clone, Debug)]
enum Owned {
    File(u64, [u8; 32], String),
    Data(Vec<u8>),
    Ready,
    Stored(u64, [u8; 32], String),
    List,
    Entry(u64, String),
    End,
    Get(String),
    Error(ErrorCode, String),
}

impl Owned {
    fn frame(&self) -> Frame<'_> {
        match self {
            Owned::File(size, sha256, name) => Frame::File(FileInfo {
                size: *size,
                sha256: *sha256,
                name,
            }),
            Owned::Data(bytes) => Frame::Data(bytes),
            Owned::Ready => Frame::Ready,
            Owned::Stored(size, sha256, name) => Frame::Stored(FileInfo {
                size: *size,
                sha256: *sha256,
                name,
            }),
            Owned::List => Frame::List,
            Owned::Entry(size, name) => Frame::Entry { size: *size, name },
            Owned::End => Frame::End,
            Owned::Get(name) => Frame::Get { name },
            Owned::Error(code, message) => Frame::Error {
                code: *code,
                message,
            },
        }
    }
}

/// Any string of 1 to 255 bytes of UTF-8: the codec carries names; judging them is the
/// server's business.
fn name() -> impl Strategy<Value = String> {
    any::<String>()
        .prop_map(|s| s.chars().take(60).collect::<String>())
        .prop_filter("1 to 255 bytes", |s| !s.is_empty() && s.len() <= MAX_NAME)
}

fn code() -> impl Strategy<Value = ErrorCode> {
    (1u8..=8).prop_map(|b| ErrorCode::from_byte(b).unwrap())
}

fn owned_frame() -> impl Strategy<Value = Owned> {
    prop_oneof![
        (any::<u64>(), any::<[u8; 32]>(), name()).prop_map(|(s, h, n)| Owned::File(s, h, n)),
        // Mostly small DATA frames, and now and then a full one.
        prop_oneof![
            4 => prop::collection::vec(any::<u8>(), 1..300),
            1 => prop::collection::vec(any::<u8>(), MAX_DATA..=MAX_DATA),
        ]
        .prop_map(Owned::Data),
        Just(Owned::Ready),
        (any::<u64>(), any::<[u8; 32]>(), name()).prop_map(|(s, h, n)| Owned::Stored(s, h, n)),
        Just(Owned::List),
        (any::<u64>(), name()).prop_map(|(s, n)| Owned::Entry(s, n)),
        Just(Owned::End),
        name().prop_map(Owned::Get),
        (code(), ".{0,80}")
            .prop_filter("fits", |(_, m)| m.len() <= MAX_MESSAGE)
            .prop_map(|(c, m)| Owned::Error(c, m)),
    ]
}

/// A reader that hands out its bytes in pieces of the sizes given (cycling), like a socket.
struct Pieces<'a> {
    bytes: &'a [u8],
    sizes: Vec<usize>,
    next: usize,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.sizes[self.next % self.sizes.len()];
        self.next += 1;
        let n = size.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

proptest! {
    // No failure_persistence: a failing case is printed, not written into the repository.
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn decoding_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut reader = &bytes[..];
        let mut buf = [0u8; MAX_DATA];
        // Read frames until the bytes run out or stop making sense; it must end, not panic.
        for _ in 0..bytes.len() + 1 {
            match read_frame(&mut reader, &mut buf) {
                Ok(Some(_)) => continue,
                Ok(None) | Err(_) => break,
            }
        }
    }

    /// Arbitrary bytes rarely start with the magic byte; these always do, and have a known
    /// type, so they reach the payload parsers.
    #[test]
    fn decoding_arbitrary_payloads_never_panics(
        kind in 1u8..=9,
        len in 0u32..400,
        payload in prop::collection::vec(any::<u8>(), 0..400),
    ) {
        let mut bytes = vec![MAGIC, kind];
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(&payload);
        let mut buf = [0u8; MAX_DATA];
        let _ = read_frame(&mut &bytes[..], &mut buf);
    }

    #[test]
    fn every_header_decodes_or_is_refused_and_good_ones_round_trip(bytes in any::<[u8; HEADER_LEN]>()) {
        if let Ok(header) = Header::decode(bytes) {
            prop_assert_eq!(header.encode(), bytes);
            prop_assert!(header.len <= MAX_DATA);
        }
    }

    #[test]
    fn encode_then_decode_gives_the_frame_back(owned in owned_frame()) {
        let frame = owned.frame();
        let bytes = frame.encode().unwrap();
        let mut buf = [0u8; MAX_DATA];
        let mut reader = &bytes[..];
        prop_assert_eq!(read_frame(&mut reader, &mut buf).unwrap(), Some(frame));
        prop_assert!(reader.is_empty(), "the frame took exactly its own bytes");
        // Every proper prefix is a stream that ended inside a frame: an error, never a frame.
        // (The empty prefix is a clean end between frames.)
        for cut in [1, HEADER_LEN - 1, HEADER_LEN, bytes.len() - 1] {
            if cut < bytes.len() {
                match read_frame(&mut &bytes[..cut], &mut buf) {
                    Err(ReadError::Io(e)) => prop_assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof),
                    other => prop_assert!(false, "a prefix of {} bytes read as {:?}", cut, other),
                }
            }
        }
    }

    #[test]
    fn frames_survive_any_split_of_the_stream(
        frames in prop::collection::vec(owned_frame(), 1..6),
        sizes in prop::collection::vec(1usize..5000, 1..8),
    ) {
        let mut stream = Vec::new();
        for owned in &frames {
            stream.extend_from_slice(&owned.frame().encode().unwrap());
        }
        let mut reader = Pieces { bytes: &stream, sizes, next: 0 };
        let mut buf = [0u8; MAX_DATA];
        for owned in &frames {
            let got = read_frame(&mut reader, &mut buf);
            match got {
                Ok(Some(frame)) => prop_assert_eq!(frame, owned.frame()),
                Ok(None) => prop_assert!(false, "the stream ended early"),
                Err(ReadError::Io(e)) => prop_assert!(false, "error {}", e),
                Err(ReadError::Frame(e)) => prop_assert!(false, "error {}", e),
            }
        }
        prop_assert!(matches!(read_frame(&mut reader, &mut buf), Ok(None)));
    }
}

#[test]
fn frames_breaking_the_limits_are_not_encoded() {
    let long = "x".repeat(MAX_NAME + 1);
    assert!(Frame::Get { name: &long }.encode().is_err());
    assert!(Frame::Get { name: "" }.encode().is_err());
    assert!(Frame::Data(&[]).encode().is_err());
    assert!(Frame::Data(&vec![0; MAX_DATA + 1]).encode().is_err());
}
