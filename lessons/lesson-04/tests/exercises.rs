//! The checks for lesson 04's exercises, each written once and run three ways:
//!
//! - on our solution (`src/solutions.rs`): it must pass;
//! - on deliberately wrong answers (the `wrong` module below): it must fail;
//! - on your stub (`src/exercises.rs`): `cargo test -p lesson-04 -- --ignored` runs these.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use lesson_04::frame::{Header, Kind};
use lesson_04::{exercises, solutions};
use test_support::exercise::{Exercise, assert_fails, report, run_bounded};

const EXERCISE_1: Exercise = Exercise {
    number: 1,
    task: "encode a frame header",
    hint: "[0xF1, frame_type, then the 4 bytes of len.to_be_bytes()]: big-endian puts the \
           most significant byte first, whatever the machine's own order",
};
const EXERCISE_2: Exercise = Exercise {
    number: 2,
    task: "read_exact by hand",
    hint: "loop: read into &mut buf[filled..], add what it returned to `filled`; 0 means the \
           peer closed (UnexpectedEof); retry on ErrorKind::Interrupted",
};
const EXERCISE_3: Exercise = Exercise {
    number: 3,
    task: "read one length-prefixed frame",
    hint: "read the 6-byte header (a read of 0 before any byte is a clean close), check the \
           magic and compare the length with max_len BEFORE allocating; then read exactly \
           that many bytes",
};
const EXERCISE_4: Exercise = Exercise {
    number: 4,
    task: "refuse an unsafe file name",
    hint: "an empty name, over 255 bytes, with / or \\, with .., starting with a dot, or with \
           a control character (char::is_control covers NUL) is unsafe",
};

/// A reader that hands out its bytes in the pieces given, one piece (or less) per read, and
/// can fail a read with `Interrupted` (a signal) where a piece is `None`. It counts the bytes
/// taken, so a check can see that nothing was read past a point.
struct Pieces {
    pieces: Vec<Option<Vec<u8>>>,
    taken: usize,
}

impl Pieces {
    fn new(pieces: &[Option<&[u8]>]) -> Pieces {
        Pieces {
            pieces: pieces.iter().rev().map(|p| p.map(<[u8]>::to_vec)).collect(),
            taken: 0,
        }
    }

    fn bytes(bytes: &[u8]) -> Pieces {
        Pieces::new(&[Some(bytes)])
    }
}

impl Read for Pieces {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(piece) = self.pieces.last_mut() else {
            return Ok(0);
        };
        let Some(bytes) = piece else {
            self.pieces.pop();
            return Err(io::Error::new(ErrorKind::Interrupted, "a signal"));
        };
        let n = buf.len().min(bytes.len());
        buf[..n].copy_from_slice(&bytes[..n]);
        bytes.drain(..n);
        if bytes.is_empty() {
            self.pieces.pop();
        }
        self.taken += n;
        Ok(n)
    }
}

/// A connected pair of sockets on 127.0.0.1.
fn socket_pair() -> Result<(TcpStream, TcpStream), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let writer = TcpStream::connect(listener.local_addr().unwrap()).map_err(|e| e.to_string())?;
    let (reader, _) = listener.accept().map_err(|e| e.to_string())?;
    reader
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    writer.set_nodelay(true).unwrap();
    Ok((writer, reader))
}

// ---------------------------------------------------------------------------------------------
// Exercise 1: encode a frame header.

type EncodeHeader = fn(u8, u32) -> [u8; 6];

fn check_encode_header(encode: EncodeHeader) -> Result<(), String> {
    let cases: [(u8, u32, [u8; 6]); 4] = [
        (2, 258, [0xF1, 2, 0, 0, 1, 2]),
        (5, 0, [0xF1, 5, 0, 0, 0, 0]),
        (1, 0xDEAD_BEEF, [0xF1, 1, 0xDE, 0xAD, 0xBE, 0xEF]),
        (9, 65_536, [0xF1, 9, 0, 1, 0, 0]),
    ];
    for (frame_type, len, expected) in cases {
        let got = encode(frame_type, len);
        if got != expected {
            return Err(format!(
                "encode_header({frame_type}, {len}): expected {expected:02X?}, got {got:02X?}"
            ));
        }
    }
    // The server's own decoder must read it back.
    let bytes = encode(Kind::Data as u8, 1000);
    match Header::decode(bytes) {
        Ok(Header {
            kind: Kind::Data,
            len: 1000,
        }) => Ok(()),
        other => Err(format!(
            "the lesson's decoder read {bytes:02X?} as {other:?}"
        )),
    }
}

fn exercise_1_with(encode: EncodeHeader) -> Result<(), String> {
    run_bounded(Duration::from_secs(5), move || check_encode_header(encode))
}

#[test]
fn exercise_1_check_passes_the_solution() {
    report(&EXERCISE_1, exercise_1_with(solutions::encode_header));
}

#[test]
fn exercise_1_check_fails_wrong_answers() {
    assert_fails(&EXERCISE_1, exercise_1_with(wrong::header_little_endian));
    assert_fails(&EXERCISE_1, exercise_1_with(wrong::header_without_magic));
}

#[test]
#[ignore = "exercise 1: encode a frame header"]
fn exercise_1() {
    report(&EXERCISE_1, exercise_1_with(exercises::encode_header));
}

// ---------------------------------------------------------------------------------------------
// Exercise 2: read_exact by hand.

type ReadExact = fn(&mut dyn Read, &mut [u8]) -> io::Result<()>;

fn check_read_exact(read_exact: ReadExact) -> Result<(), String> {
    // Six bytes arriving 1, 2 and 3 at a time, with a signal in between, and more behind.
    let mut reader = Pieces::new(&[Some(b"h"), None, Some(b"el"), Some(b"lo!"), Some(b"next")]);
    let mut buf = [0u8; 6];
    read_exact(&mut reader, &mut buf).map_err(|e| format!("pieces 1+2+3: error {e}"))?;
    if &buf != b"hello!" {
        return Err(format!(
            "pieces of 1, 2 and 3 bytes: expected \"hello!\", got {:?}",
            String::from_utf8_lossy(&buf)
        ));
    }
    if reader.taken != 6 {
        return Err(format!(
            "it took {} bytes from the stream for a buffer of 6: the next frame lost some",
            reader.taken
        ));
    }

    let mut buf = [0u8; 6];
    match read_exact(&mut Pieces::bytes(b"abc"), &mut buf) {
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => {}
        other => {
            return Err(format!(
                "a stream ending after 3 of 6 bytes: expected an UnexpectedEof error, got {other:?}"
            ));
        }
    }
    read_exact(&mut Pieces::bytes(b""), &mut [])
        .map_err(|e| format!("an empty buffer needs no bytes, but got error {e}"))?;

    // Over a real connection, written in two pieces some time apart.
    let (mut writer, mut reader) = socket_pair()?;
    let sender = thread::spawn(move || {
        writer.write_all(&[1; 3000]).unwrap();
        thread::sleep(Duration::from_millis(50));
        writer.write_all(&[2; 3000]).unwrap();
    });
    let mut buf = vec![0u8; 6000];
    read_exact(&mut reader, &mut buf).map_err(|e| format!("over a socket: error {e}"))?;
    let _ = sender.join();
    if buf[..3000].iter().any(|&b| b != 1) || buf[3000..].iter().any(|&b| b != 2) {
        return Err("over a socket: the bytes came back in the wrong places".into());
    }
    Ok(())
}

fn exercise_2_with(read_exact: ReadExact) -> Result<(), String> {
    run_bounded(Duration::from_secs(10), move || {
        check_read_exact(read_exact)
    })
}

#[test]
fn exercise_2_check_passes_the_solution() {
    report(
        &EXERCISE_2,
        exercise_2_with(|mut r, buf| solutions::read_exact_by_hand(&mut r, buf)),
    );
}

#[test]
fn exercise_2_check_fails_wrong_answers() {
    assert_fails(
        &EXERCISE_2,
        exercise_2_with(|mut r, buf| wrong::read_once(&mut r, buf)),
    );
    assert_fails(
        &EXERCISE_2,
        exercise_2_with(|mut r, buf| wrong::read_exact_not_retrying(&mut r, buf)),
    );
    assert_fails(
        &EXERCISE_2,
        exercise_2_with(|mut r, buf| wrong::read_exact_restarting(&mut r, buf)),
    );
}

#[test]
#[ignore = "exercise 2: read_exact by hand"]
fn exercise_2() {
    report(
        &EXERCISE_2,
        exercise_2_with(|mut r, buf| exercises::read_exact_by_hand(&mut r, buf)),
    );
}

// ---------------------------------------------------------------------------------------------
// Exercise 3: read one length-prefixed frame.

type ReadFrame = fn(&mut dyn Read, u32) -> io::Result<Option<(u8, Vec<u8>)>>;

fn frame(frame_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut bytes = solutions::encode_header(frame_type, payload.len() as u32).to_vec();
    bytes.extend_from_slice(payload);
    bytes
}

fn check_read_frame(read: ReadFrame) -> Result<(), String> {
    // Two frames glued in one stream, then a clean end.
    let mut stream = frame(2, b"hello");
    stream.extend(frame(5, b""));
    stream.extend(frame(9, &[7; 300]));
    let mut reader = Pieces::bytes(&stream);
    let want: [(u8, &[u8]); 3] = [(2, b"hello"), (5, b""), (9, &[7; 300])];
    for (i, (frame_type, payload)) in want.iter().enumerate() {
        match read(&mut reader, 1000) {
            Ok(Some((t, p))) if t == *frame_type && p == *payload => {}
            other => {
                return Err(format!(
                    "frame {} of three glued together: expected type {frame_type} with {} \
                     bytes, got {:?}",
                    i + 1,
                    payload.len(),
                    other.map(|o| o.map(|(t, p)| (t, p.len())))
                ));
            }
        }
    }
    match read(&mut reader, 1000) {
        Ok(None) => {}
        other => {
            return Err(format!(
                "after the last frame: expected Ok(None), got {other:?}"
            ));
        }
    }

    // One frame split into pieces of 1, 4 and the rest, with a signal in between.
    let bytes = frame(3, b"split");
    let mut reader = Pieces::new(&[
        Some(&bytes[..1]),
        None,
        Some(&bytes[1..5]),
        Some(&bytes[5..]),
    ]);
    match read(&mut reader, 1000) {
        Ok(Some((3, p))) if p == b"split" => {}
        other => return Err(format!("a frame split across reads: got {other:?}")),
    }

    // Cut short: inside the header, inside the payload.
    for (what, cut) in [("the header", 3), ("the payload", 8)] {
        match read(&mut Pieces::bytes(&frame(2, b"hello")[..cut]), 1000) {
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => {}
            other => {
                return Err(format!(
                    "a stream ending inside {what}: expected UnexpectedEof, got {other:?}"
                ));
            }
        }
    }

    // A bad magic byte: text typed into nc.
    match read(&mut Pieces::bytes(b"hello\nworld\n"), 1000) {
        Err(e) if e.kind() == ErrorKind::InvalidData => {}
        other => {
            return Err(format!(
                "\"hello\\n\" (bad magic): expected InvalidData, got {other:?}"
            ));
        }
    }

    // A length over the limit: refused, and not one byte of the payload read.
    let mut huge = solutions::encode_header(2, 4_000_000_000).to_vec();
    huge.extend_from_slice(&[0; 100]);
    let mut reader = Pieces::bytes(&huge);
    match read(&mut reader, 1000) {
        Err(e) if e.kind() == ErrorKind::InvalidData => {}
        other => {
            return Err(format!(
                "a length of 4,000,000,000 with max_len 1000: expected InvalidData, got {:?}",
                other.map(|o| o.map(|(t, p)| (t, p.len())))
            ));
        }
    }
    if reader.taken != 6 {
        return Err(format!(
            "after refusing a length over the limit, it had read {} bytes: read only the 6 of \
             the header",
            reader.taken
        ));
    }

    // Over a real connection: header and payload written separately, read as one frame.
    let (mut writer, mut reader) = socket_pair()?;
    let bytes = frame(4, &[9; 5000]);
    writer.write_all(&bytes[..6]).map_err(|e| e.to_string())?;
    writer.write_all(&bytes[6..]).map_err(|e| e.to_string())?;
    drop(writer);
    match read(&mut reader, 10_000) {
        Ok(Some((4, p))) if p == [9; 5000] => Ok(()),
        other => Err(format!(
            "over a socket: got {:?}",
            other.map(|o| o.map(|(t, p)| (t, p.len())))
        )),
    }
}

fn exercise_3_with(read: ReadFrame) -> Result<(), String> {
    run_bounded(Duration::from_secs(10), move || check_read_frame(read))
}

#[test]
fn exercise_3_check_passes_the_solution() {
    report(
        &EXERCISE_3,
        exercise_3_with(|mut r, max| solutions::read_frame(&mut r, max)),
    );
}

#[test]
fn exercise_3_check_fails_wrong_answers() {
    assert_fails(
        &EXERCISE_3,
        exercise_3_with(|mut r, max| wrong::read_frame_reading_then_checking(&mut r, max)),
    );
    assert_fails(
        &EXERCISE_3,
        exercise_3_with(|mut r, max| wrong::read_frame_one_read(&mut r, max)),
    );
}

#[test]
#[ignore = "exercise 3: read one length-prefixed frame"]
fn exercise_3() {
    report(
        &EXERCISE_3,
        exercise_3_with(|mut r, max| exercises::read_frame(&mut r, max)),
    );
}

// ---------------------------------------------------------------------------------------------
// Exercise 4: refuse an unsafe file name.

type IsSafe = fn(&str) -> bool;

fn check_is_safe_name(is_safe: IsSafe) -> Result<(), String> {
    let long = "x".repeat(256);
    let unsafe_names = [
        ("", "an empty name"),
        ("../escape.png", "a name that climbs out with .."),
        ("a/b.png", "a name with /"),
        ("/etc/passwd", "an absolute path"),
        ("a\\b.png", "a name with \\ (a folder separator on Windows)"),
        ("..", "the parent folder itself"),
        ("a..b", "a name containing .."),
        (".bashrc", "a hidden name (leading dot)"),
        ("nul\0.png", "a name with a NUL byte"),
        ("bell\x07.png", "a name with a control character"),
        (long.as_str(), "a name of 256 bytes"),
    ];
    for (name, what) in unsafe_names {
        if is_safe(name) {
            return Err(format!("{what}, {name:?}, was accepted"));
        }
    }
    let max = "x".repeat(255);
    for name in [
        "postcard.png",
        "a.b.c",
        "My photo (1).jpeg",
        "日本.png",
        max.as_str(),
    ] {
        if !is_safe(name) {
            return Err(format!("the ordinary name {name:?} was refused"));
        }
    }
    Ok(())
}

fn exercise_4_with(is_safe: IsSafe) -> Result<(), String> {
    run_bounded(Duration::from_secs(5), move || check_is_safe_name(is_safe))
}

#[test]
fn exercise_4_check_passes_the_solution() {
    report(&EXERCISE_4, exercise_4_with(solutions::is_safe_name));
}

#[test]
fn exercise_4_check_fails_wrong_answers() {
    assert_fails(&EXERCISE_4, exercise_4_with(wrong::name_without_slash));
    assert_fails(&EXERCISE_4, exercise_4_with(wrong::name_not_dot_dot));
}

#[test]
#[ignore = "exercise 4: refuse an unsafe file name"]
fn exercise_4() {
    report(&EXERCISE_4, exercise_4_with(exercises::is_safe_name));
}

// ---------------------------------------------------------------------------------------------

/// Plausible wrong answers, each a mistake a learner could make. Every check must reject them.
mod wrong {
    use std::io::{self, ErrorKind, Read};

    /// Little-endian: what to_le_bytes (or to_ne_bytes on x86 and ARM) gives.
    pub fn header_little_endian(frame_type: u8, len: u32) -> [u8; 6] {
        let [a, b, c, d] = len.to_le_bytes();
        [0xF1, frame_type, a, b, c, d]
    }

    /// Forgets the magic byte, and pads at the end to keep six bytes.
    pub fn header_without_magic(frame_type: u8, len: u32) -> [u8; 6] {
        let [a, b, c, d] = len.to_be_bytes();
        [frame_type, a, b, c, d, 0]
    }

    /// One read, trusting it to fill the buffer: true on loopback for small writes, often.
    pub fn read_once(from: &mut impl Read, buf: &mut [u8]) -> io::Result<()> {
        from.read(buf).map(|_| ())
    }

    /// Loops, but gives up on the first Interrupted instead of reading again.
    pub fn read_exact_not_retrying(from: &mut impl Read, buf: &mut [u8]) -> io::Result<()> {
        let mut filled = 0;
        while filled < buf.len() {
            match from.read(&mut buf[filled..])? {
                0 => return Err(ErrorKind::UnexpectedEof.into()),
                n => filled += n,
            }
        }
        Ok(())
    }

    /// Loops, but reads each time into the start of the buffer, overwriting what came before.
    pub fn read_exact_restarting(from: &mut impl Read, buf: &mut [u8]) -> io::Result<()> {
        let (len, mut filled) = (buf.len(), 0);
        while filled < len {
            match from.read(&mut buf[..len - filled]) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads the payload first and checks the length afterwards: the stranger's length has
    /// already decided how much memory was allocated and how much was read.
    pub fn read_frame_reading_then_checking(
        from: &mut impl Read,
        max_len: u32,
    ) -> io::Result<Option<(u8, Vec<u8>)>> {
        let mut header = [0u8; 6];
        if from.read(&mut header[..1])? == 0 {
            return Ok(None);
        }
        from.read_exact(&mut header[1..])?;
        if header[0] != 0xF1 {
            return Err(ErrorKind::InvalidData.into());
        }
        let len = u32::from_be_bytes([header[2], header[3], header[4], header[5]]);
        let mut payload = Vec::new();
        from.take(u64::from(len)).read_to_end(&mut payload)?;
        if len > max_len || payload.len() != len as usize {
            return Err(ErrorKind::InvalidData.into());
        }
        Ok(Some((header[1], payload)))
    }

    /// One read for the header and one for the payload: right only when nothing is split.
    pub fn read_frame_one_read(
        from: &mut impl Read,
        max_len: u32,
    ) -> io::Result<Option<(u8, Vec<u8>)>> {
        let mut header = [0u8; 6];
        if from.read(&mut header)? == 0 {
            return Ok(None);
        }
        if header[0] != 0xF1 {
            return Err(ErrorKind::InvalidData.into());
        }
        let len = u32::from_be_bytes([header[2], header[3], header[4], header[5]]);
        if len > max_len {
            return Err(ErrorKind::InvalidData.into());
        }
        let mut payload = vec![0u8; len as usize];
        let n = from.read(&mut payload)?;
        payload.truncate(n);
        Ok(Some((header[1], payload)))
    }

    /// Refuses only the slash, the first thing anyone thinks of.
    pub fn name_without_slash(name: &str) -> bool {
        !name.is_empty() && !name.contains('/')
    }

    /// Refuses separators and the exact name "..", but lets hidden names and NUL through.
    pub fn name_not_dot_dot(name: &str) -> bool {
        !name.is_empty() && name != ".." && !name.contains(['/', '\\']) && !name.contains("..")
    }
}
