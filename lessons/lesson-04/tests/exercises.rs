//! Lesson 04's exercises, each written once: its task, hints, check, our answer, your stub and
//! the wrong answers the check must reject.
//!
//! - `cargo test` proves the checks (our answer passes, every wrong answer fails) and never runs
//!   your stubs;
//! - `cargo test -p lesson-04 --test exercises -- mine` checks your stubs in
//!   `src/exercises.rs`; `HINT=1` (then 2 …) in front of it adds hints.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{self, ErrorKind, IoSlice, Read, Write};
use std::thread;
use std::time::Duration;

use lesson_04::frame::{Header, Kind};
use lesson_04::{exercises, solutions};
use test_support::exercise::{Exercise, Wrong};
use test_support::{Pieces, connected_pair};

test_support::exercises_main!(EXERCISE_1, EXERCISE_2, EXERCISE_3, EXERCISE_4, EXERCISE_5);

const EXERCISE_1: Exercise<EncodeHeader> = Exercise {
    number: 1,
    task: "encode a frame header",
    hints: &[
        "six bytes: the magic byte first, then the type, then the length; \"big-endian\" \
         means the most significant byte first, whatever the machine's own order",
        "u32 has a method that gives its four bytes in big-endian order",
        "let [a, b, c, d] = len.to_be_bytes(); [0xF1, frame_type, a, b, c, d]",
    ],
    bound: Duration::from_secs(5),
    hang: "did it wait for something?",
    check: check_encode_header,
    solution: solutions::encode_header,
    mine: exercises::encode_header,
    wrong: &[
        Wrong {
            does: "writes the length little-endian",
            answer: wrong::header_little_endian,
            rejected_with: "did you write the length little-endian",
        },
        Wrong {
            does: "forgets the magic byte",
            answer: wrong::header_without_magic,
            rejected_with: "the first byte must be the magic 0xF1",
        },
    ],
};

const EXERCISE_2: Exercise<ReadExact> = Exercise {
    number: 2,
    task: "read_exact by hand",
    hints: &[
        "a read returns what has arrived, maybe 1 byte of the 6 you asked for; a read of 0 \
         means the peer closed; Interrupted means a signal came before any byte",
        "keep a count of the bytes filled so far and read only into the part not yet filled",
        "while filled < buf.len() { match from.read(&mut buf[filled..]) { Ok(0) => \
         UnexpectedEof, Ok(n) => filled += n, Err(e) if Interrupted => continue, Err(e) => \
         return Err(e) } }",
    ],
    bound: Duration::from_secs(10),
    hang: "did you read again after a read of 0?",
    check: check_read_exact,
    solution: |mut r, buf| solutions::read_exact_by_hand(&mut r, buf),
    mine: |mut r, buf| exercises::read_exact_by_hand(&mut r, buf),
    wrong: &[
        Wrong {
            does: "reads once",
            answer: wrong::read_once,
            rejected_with: "one read may return fewer bytes than asked for",
        },
        Wrong {
            does: "gives up on Interrupted",
            answer: wrong::read_exact_not_retrying,
            rejected_with: "Interrupted means a signal came before any byte",
        },
        Wrong {
            does: "reads each time into the start of the buffer",
            answer: wrong::read_exact_restarting,
            rejected_with: "read into the part not yet filled",
        },
    ],
};

const EXERCISE_3: Exercise<ReadFrame> = Exercise {
    number: 3,
    task: "read one length-prefixed frame",
    hints: &[
        "the header comes from a stranger: check everything in it before you act on it, and \
         tell a clean close (no byte at all) from a frame cut short",
        "read the first byte alone (0 bytes: a clean close), then the other five; check the \
         magic, then compare the length with max_len before you allocate or read the payload",
        "if len > max_len { return InvalidData } let mut payload = vec![0; len]; \
         read_exact_by_hand(from, &mut payload)",
    ],
    bound: Duration::from_secs(10),
    hang: "did you wait for a payload the header announced but nobody sent?",
    check: check_read_frame,
    solution: |mut r, max| solutions::read_frame(&mut r, max),
    mine: |mut r, max| exercises::read_frame(&mut r, max),
    wrong: &[
        Wrong {
            does: "reads the payload, then checks the length",
            answer: wrong::read_frame_reading_then_checking,
            rejected_with: "a stream ending inside the payload",
        },
        Wrong {
            does: "reads header and payload with one read each",
            answer: wrong::read_frame_one_read,
            rejected_with: "a frame split across reads",
        },
        Wrong {
            does: "never checks the magic byte",
            answer: |r, max| wrong::read_frame_with(r, max, wrong::Slip::NoMagicCheck),
            rejected_with: "did you check the magic byte?",
        },
        Wrong {
            does: "allocates the announced length before checking it",
            answer: |r, max| wrong::read_frame_with(r, max, wrong::Slip::AllocateFirst),
            rejected_with: "before comparing the length with max_len?",
        },
        Wrong {
            does: "refuses a length equal to max_len",
            answer: |r, max| wrong::read_frame_with(r, max, wrong::Slip::RefuseMax),
            rejected_with: "a payload of exactly max_len bytes was refused",
        },
    ],
};

/// Exercise 4's wrong answers as a table, one row each: `does, answer, rejected_with;`.
macro_rules! wrong_names {
    ($($does:literal, $answer:expr, $phrase:literal;)*) => {
        &[$(Wrong { does: $does, answer: $answer, rejected_with: $phrase }),*]
    };
}

/// Our answer to exercise 4 with one name rule left out (a `wrong::Rule`).
macro_rules! all_rules_but {
    ($rule:ident) => {
        |name| wrong::name_except(name, wrong::Rule::$rule)
    };
}

const EXERCISE_4: Exercise<IsSafe> = Exercise {
    number: 4,
    task: "refuse an unsafe file name",
    hints: &[
        "a name from the network can climb out of the folder, hide, or look like another name \
         on screen: think of every way a name can lie, and of what 255 counts",
        "refuse separators, .., a leading dot, control characters of every kind (not only \
         ASCII), invisible and direction-changing characters, blank names, names not in NFC; \
         the limit is in bytes",
        "!name.trim().is_empty() && name.len() <= 255 && no / \\ .. leading dot && \
         !name.chars().any(|c| c.is_control() || bidi(c) || invisible(c) || c == \
         '\\u{2028}' || c == '\\u{2029}') && unicode_normalization::is_nfc(name)",
    ],
    bound: Duration::from_secs(5),
    hang: "did it wait for something?",
    check: check_is_safe_name,
    solution: solutions::is_safe_name,
    mine: exercises::is_safe_name,
    // One line per wrong answer: what it does, the answer, the words its rejection must hold.
    // `all_rules_but!(Rule)` is our answer with that one rule left out.
    wrong: wrong_names! {
        "refuses only the slash", wrong::name_without_slash, "a folder separator on Windows";
        "lets hidden names through", wrong::name_not_dot_dot, "a hidden name";
        "counts characters, not bytes", all_rules_but!(Bytes), "did you count characters?";
        "refuses ASCII control characters only", all_rules_but!(C1), "C1 control";
        "lets bidirectional controls through", all_rules_but!(Bidi), "right-to-left override";
        "lets zero-width characters and the BOM through", all_rules_but!(Invisible),
            "an invisible character";
        "lets the line and paragraph separators through", all_rules_but!(Separators),
            "line separator";
        "accepts a name of spaces only", all_rules_but!(Blank), "only spaces";
        "accepts names not in NFC", all_rules_but!(Nfc), "not in NFC";
    },
};

/// Counts the largest single allocation made on a thread while it measures, so a check can
/// see whether a stranger's length decided how much memory was asked for.
struct Counting;

thread_local! {
    static MEASURING: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = MEASURING.try_with(|m| {
        if m.get() {
            let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
        }
    });
}

// SAFETY: every call is passed on unchanged to the system allocator; we only note sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns what it returned with the largest single allocation it made.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    MEASURING.with(|m| m.set(true));
    let result = f();
    MEASURING.with(|m| m.set(false));
    (result, LARGEST.with(Cell::get))
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
            let why = if got[0] != 0xF1 {
                "the first byte must be the magic 0xF1, then the type"
            } else if got[2..] == len.to_le_bytes() {
                "did you write the length little-endian (to_le_bytes, or to_ne_bytes on this \
                 little-endian machine)? The wire wants the most significant byte first"
            } else {
                "magic, type, then the length's four bytes, most significant first"
            };
            return Err(format!(
                "encode_header({frame_type}, {len}): expected {expected:02X?}, got {got:02X?}: \
                 {why}"
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

// ---------------------------------------------------------------------------------------------
// Exercise 2: read_exact by hand.

type ReadExact = fn(&mut dyn Read, &mut [u8]) -> io::Result<()>;

fn check_read_exact(read_exact: ReadExact) -> Result<(), String> {
    // Six bytes arriving 1, 2 and 3 at a time, with a signal in between, and more behind.
    let mut reader =
        Pieces::with_interruptions(&[Some(b"h"), None, Some(b"el"), Some(b"lo!"), Some(b"next")]);
    let mut buf = [0u8; 6];
    read_exact(&mut reader, &mut buf).map_err(|e| {
        if e.kind() == ErrorKind::Interrupted {
            format!(
                "pieces of 1, 2 and 3 bytes with a signal between: error {e}: Interrupted means \
                 a signal came before any byte; read again"
            )
        } else {
            format!("pieces of 1, 2 and 3 bytes: error {e}")
        }
    })?;
    if &buf != b"hello!" {
        let why = if buf[1..] == [0; 5] {
            "one read may return fewer bytes than asked for: loop until the buffer is full"
        } else {
            "read into the part not yet filled (&mut buf[filled..]), not into its start"
        };
        return Err(format!(
            "pieces of 1, 2 and 3 bytes: expected \"hello!\", got {:?}: {why}",
            String::from_utf8_lossy(&buf)
        ));
    }
    if reader.taken() != 6 {
        return Err(format!(
            "it took {} bytes from the stream for a buffer of 6: the next frame lost some",
            reader.taken()
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
    let (mut writer, mut reader) = connected_pair().map_err(|e| e.to_string())?;
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
    let mut reader = Pieces::with_interruptions(&[
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
                    "a stream ending inside {what}: expected UnexpectedEof, got {other:?}: a \
                     frame cut short is a broken connection, not a bad frame"
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

    // A bad magic byte with a small, valid length: only the magic tells it is not a frame.
    match read(
        &mut Pieces::bytes(&[0x00, 2, 0, 0, 0, 3, b'a', b'b', b'c']),
        1000,
    ) {
        Err(e) if e.kind() == ErrorKind::InvalidData => {}
        other => {
            return Err(format!(
                "a header with magic 0x00 and a small, valid length: expected InvalidData, got \
                 {:?}: did you check the magic byte? Without it any six bytes pass for a header",
                other.map(|o| o.map(|(t, p)| (t, p.len())))
            ));
        }
    }

    // Exactly max_len is allowed; one more is not.
    match read(&mut Pieces::bytes(&frame(2, &[1; 1000])), 1000) {
        Ok(Some((2, p))) if p.len() == 1000 => {}
        other => {
            return Err(format!(
                "a payload of exactly max_len bytes was refused or mangled (got {:?}): a frame \
                 may be as long as max_len",
                other.map(|o| o.map(|(t, p)| (t, p.len())))
            ));
        }
    }
    match read(&mut Pieces::bytes(&frame(2, &[1; 1001])), 1000) {
        Err(e) if e.kind() == ErrorKind::InvalidData => {}
        other => {
            return Err(format!(
                "a length of max_len + 1 was not refused (got {:?}): compare with > max_len",
                other.map(|o| o.map(|(t, p)| (t, p.len())))
            ));
        }
    }

    // A length of 64 MiB over a limit of 1000, and 100 bytes behind it: the memory asked for
    // must not follow the stranger's length. (64 MiB, not 4 GB: a learner's allocation of 4 GB
    // could end the whole test program.)
    let mut big = solutions::encode_header(2, 64 << 20).to_vec();
    big.extend_from_slice(&[0; 100]);
    let (result, largest) = largest_allocation(|| read(&mut Pieces::bytes(&big), 1000));
    if largest >= 1 << 20 {
        return Err(format!(
            "a header announcing 64 MiB with max_len 1000 made it allocate {largest} bytes \
             (result: {:?}): did you allocate (Vec::with_capacity, vec![0; len]) before \
             comparing the length with max_len? A stranger's length must not decide your memory",
            result.map(|o| o.map(|(t, p)| (t, p.len())))
        ));
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
    if reader.taken() != 6 {
        return Err(format!(
            "after refusing a length over the limit, it had read {} bytes: did you read before \
             checking? read only the 6 of the header",
            reader.taken()
        ));
    }

    // Over a real connection: header and payload written separately, read as one frame.
    let (mut writer, mut reader) = connected_pair().map_err(|e| e.to_string())?;
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

// ---------------------------------------------------------------------------------------------
// Exercise 4: refuse an unsafe file name.

type IsSafe = fn(&str) -> bool;

fn check_is_safe_name(is_safe: IsSafe) -> Result<(), String> {
    let long = "x".repeat(256);
    let accents = "é".repeat(128);
    let unsafe_names = [
        ("", "an empty name"),
        ("../escape.png", "a name that climbs out with .."),
        ("a/b.png", "a name with / (it would name another folder)"),
        ("/etc/passwd", "an absolute path"),
        ("a\\b.png", "a name with \\ (a folder separator on Windows)"),
        ("..", "the parent folder itself"),
        ("a..b", "a name containing .."),
        (".bashrc", "a hidden name (leading dot)"),
        ("nul\0.png", "a name with a NUL byte"),
        ("bell\x07.png", "a name with a control character"),
        (
            "esc\x1b[2J.png",
            "a name with ESC, which can rewrite a terminal",
        ),
        (long.as_str(), "a name of 256 bytes"),
        (
            accents.as_str(),
            "a name of 128 é, 256 bytes in UTF-8: did you count characters? The limit is 255 \
             bytes, what the file system counts",
        ),
        (
            "next\u{85}line.png",
            "a name with U+0085, a C1 control (U+0080 to U+009F): is_ascii_control misses \
             these; char::is_control does not",
        ),
        (
            "photo\u{202E}gnp.exe",
            "a name with U+202E, the right-to-left override, which shows \"photoexe.png\"",
        ),
        (
            "a\u{2067}b.png",
            "a name with U+2067, a right-to-left override isolate (bidi controls U+202A to \
             U+202E and U+2066 to U+2069)",
        ),
        (
            "a\u{200B}b.png",
            "a name with U+200B, an invisible character (zero width space)",
        ),
        (
            "\u{FEFF}a.png",
            "a name with U+FEFF, the byte-order mark, an invisible character",
        ),
        ("a\u{2028}b.png", "a name with U+2028, the line separator"),
        (
            "a\u{2029}b.png",
            "a name with U+2029, the paragraph separator (a line separator)",
        ),
        ("   ", "a name of only spaces, invisible in a listing"),
        (
            "cafe\u{301}.txt",
            "\"café.txt\" with e + U+0301 (combining acute): a name not in NFC, which looks \
             like the NFC \"café.txt\" beside it",
        ),
    ];
    for (name, what) in unsafe_names {
        if is_safe(name) {
            return Err(format!("{what}, {name:?}, was accepted"));
        }
    }
    let max = "x".repeat(255);
    let max_accents = format!("x{}", "é".repeat(127));
    for name in [
        "postcard.png",
        "a.b.c",
        "My photo (1).jpeg",
        "日本.png",
        "café.txt",
        " leading space.png",
        max.as_str(),
        max_accents.as_str(),
    ] {
        if !is_safe(name) {
            return Err(format!(
                "the ordinary name {name:?} ({} bytes) was refused",
                name.len()
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Exercise 5: send a frame with one vectored write.

type WriteVectored = fn(&mut dyn Write, u8, &[u8]) -> io::Result<()>;

const EXERCISE_5: Exercise<WriteVectored> = Exercise {
    number: 5,
    task: "send a frame with one vectored write",
    hints: &[
        "two slices, one call: the header and the payload as they are; and a write, vectored \
         or not, may take only part of what it is given",
        "Write::write_vectored takes &[IoSlice]; after it returns n, IoSlice::advance_slices \
         drops the n bytes sent, whole slices and part of the next",
        "let mut s = [IoSlice::new(&header), IoSlice::new(payload)]; let mut left = &mut \
         s[..]; IoSlice::advance_slices(&mut left, 0); while !left.is_empty() { match \
         to.write_vectored(left) { Ok(0) => WriteZero, Ok(n) => advance_slices(&mut left, n), \
         Err(Interrupted) => {}, Err(e) => return Err(e) } }",
    ],
    bound: Duration::from_secs(10),
    hang: "did you go on writing after a write of 0 bytes?",
    check: check_write_frame_vectored,
    solution: |mut w, t, p| solutions::write_frame_vectored(&mut w, t, p),
    mine: |mut w, t, p| exercises::write_frame_vectored(&mut w, t, p),
    wrong: &[
        Wrong {
            does: "writes the header and the payload with two write_all calls",
            answer: wrong::frame_in_two_writes,
            rejected_with: "write-write-read",
        },
        Wrong {
            does: "copies the frame into one buffer and writes that",
            answer: wrong::frame_copied,
            rejected_with: "did you copy the payload",
        },
        Wrong {
            does: "makes one vectored write and trusts it to send everything",
            answer: wrong::frame_one_vectored_write,
            rejected_with: "a vectored write may send only part",
        },
        Wrong {
            does: "loops, but restarts from the header after a partial write",
            answer: wrong::frame_restarting,
            rejected_with: "drop exactly the bytes sent",
        },
    ],
};

/// A writer that records what it was given and how many calls it took, accepting at most
/// `most` bytes per call (the rest is the caller's to send again), failing the first call with
/// `Interrupted` when `signal` is set, and taking nothing (`Ok(0)`) when `full` is set.
#[derive(Default)]
struct Recorder {
    bytes: Vec<u8>,
    calls: usize,
    most: Option<usize>,
    signal: bool,
    full: bool,
}

impl Write for Recorder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_vectored(&[IoSlice::new(buf)])
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.calls += 1;
        if std::mem::take(&mut self.signal) {
            return Err(io::Error::new(ErrorKind::Interrupted, "a signal"));
        }
        if self.full || self.calls > 100_000 {
            return Ok(0);
        }
        let mut room = self.most.unwrap_or(usize::MAX);
        let mut taken = 0;
        for buf in bufs {
            let n = buf.len().min(room);
            self.bytes.extend_from_slice(&buf[..n]);
            (room, taken) = (room - n, taken + n);
        }
        Ok(taken)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn check_write_frame_vectored(write: WriteVectored) -> Result<(), String> {
    let payload: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    let expected = |t: u8, p: &[u8]| {
        let mut bytes = solutions::encode_header(t, p.len() as u32).to_vec();
        bytes.extend_from_slice(p);
        bytes
    };

    // A writer that takes everything: one call, the right bytes, nothing copied. (Its own room
    // is made beforehand, so that every allocation measured is the function's.)
    let mut to = Recorder {
        bytes: Vec::with_capacity(payload.len() + 6),
        ..Recorder::default()
    };
    let (result, largest) = largest_allocation(|| write(&mut to, 4, &payload));
    result.map_err(|e| format!("a writer that takes everything: error {e}"))?;
    if to.bytes != expected(4, &payload) {
        return Err(format!(
            "a writer that takes everything got {} bytes, not the {} of the frame (or not in \
             order)",
            to.bytes.len(),
            payload.len() + 6
        ));
    }
    if to.calls > 1 {
        return Err(format!(
            "a writer that takes everything was called {} times for one frame: header and \
             payload in separate writes is the write-write-read pattern that meets Nagle's \
             algorithm; give both to one write_vectored",
            to.calls
        ));
    }
    if largest >= payload.len() {
        return Err(format!(
            "sending a 1 MiB payload allocated {largest} bytes: did you copy the payload into a \
             new buffer? Give the kernel the caller's slice as it is"
        ));
    }

    // A writer that takes 5 bytes per call (it cuts the header), then one whose first call is
    // interrupted by a signal.
    for (what, t, p, most, signal) in [
        (
            "a writer that takes 5 bytes per call",
            2u8,
            &payload[..1000],
            Some(5),
            false,
        ),
        (
            "the same, with an empty payload",
            7,
            &[][..],
            Some(5),
            false,
        ),
        ("a writer interrupted once", 3, &payload[..100], None, true),
    ] {
        let mut to = Recorder {
            most,
            signal,
            ..Recorder::default()
        };
        let result = write(&mut to, t, p);
        let want = expected(t, p);
        match result {
            Err(e) if e.kind() == ErrorKind::Interrupted => {
                return Err(format!(
                    "the first write was interrupted by a signal, and it returned the error {e}: \
                     Interrupted means nothing was written; try again"
                ));
            }
            Err(e) => return Err(format!("{what}: error {e}")),
            Ok(()) if to.bytes.len() < want.len() => {
                return Err(format!(
                    "{what} got {} of the {} bytes of the frame: a vectored write may send only \
                     part of what it is given; send the rest",
                    to.bytes.len(),
                    want.len()
                ));
            }
            Ok(()) if to.bytes != want => {
                return Err(format!(
                    "{what} got {} bytes, but not the frame's bytes in order: after a partial \
                     write, drop exactly the bytes sent, even in the middle of the header",
                    to.bytes.len()
                ));
            }
            Ok(()) => {}
        }
    }

    // A writer that takes nothing: an error of kind WriteZero, not a loop without end.
    let mut to = Recorder {
        full: true,
        ..Recorder::default()
    };
    match write(&mut to, 2, b"hi") {
        Err(e) if e.kind() == ErrorKind::WriteZero => {}
        other => {
            return Err(format!(
                "a writer that takes no byte (it returns Ok(0)): expected a WriteZero error, got \
                 {other:?} after {} calls",
                to.calls
            ));
        }
    }

    // Over a real socket, read back by our read_frame.
    let (mut writer, mut reader) = connected_pair().map_err(|e| e.to_string())?;
    let sent = payload[..200_000].to_vec();
    let sender = thread::spawn(move || write(&mut writer, 9, &sent));
    match solutions::read_frame(&mut reader, 1 << 20) {
        Ok(Some((9, p))) if p == payload[..200_000] => {}
        other => {
            return Err(format!(
                "over a socket, a frame of 200,000 bytes read back as {:?}",
                other.map(|o| o.map(|(t, p)| (t, p.len())))
            ));
        }
    }
    sender
        .join()
        .map_err(|_| "it panicked over a socket".to_string())?
        .map_err(|e| format!("over a socket: error {e}"))
}

// ---------------------------------------------------------------------------------------------

/// Plausible wrong answers, each a mistake a learner could make. Every check must reject them.
mod wrong {
    use std::io::{self, ErrorKind, IoSlice, Read, Write};

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
    pub fn read_once(from: &mut dyn Read, buf: &mut [u8]) -> io::Result<()> {
        from.read(buf).map(|_| ())
    }

    /// Loops, but gives up on the first Interrupted instead of reading again.
    pub fn read_exact_not_retrying(from: &mut dyn Read, buf: &mut [u8]) -> io::Result<()> {
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
    pub fn read_exact_restarting(from: &mut dyn Read, buf: &mut [u8]) -> io::Result<()> {
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
        from: &mut dyn Read,
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
        from: &mut dyn Read,
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

    /// One slip in our answer's steps.
    #[derive(PartialEq)]
    pub enum Slip {
        /// Never checks the magic byte.
        NoMagicCheck,
        /// Makes room for the announced payload, then checks the length.
        AllocateFirst,
        /// Refuses a length equal to the limit.
        RefuseMax,
    }

    /// Our answer to exercise 3, with one slip.
    pub fn read_frame_with(
        from: &mut dyn Read,
        max_len: u32,
        slip: Slip,
    ) -> io::Result<Option<(u8, Vec<u8>)>> {
        let mut header = [0u8; 6];
        if read_first(from, &mut header)? == 0 {
            return Ok(None);
        }
        if header[0] != 0xF1 && slip != Slip::NoMagicCheck {
            return Err(ErrorKind::InvalidData.into());
        }
        let len = u32::from_be_bytes([header[2], header[3], header[4], header[5]]);
        let mut payload = if slip == Slip::AllocateFirst {
            Vec::with_capacity(len as usize)
        } else {
            Vec::new()
        };
        let too_long = if slip == Slip::RefuseMax {
            len >= max_len
        } else {
            len > max_len
        };
        if too_long {
            return Err(ErrorKind::InvalidData.into());
        }
        payload.resize(len as usize, 0);
        from.read_exact(&mut payload)?;
        Ok(Some((header[1], payload)))
    }

    /// The first byte alone (0: a clean close), then the rest of the header; 0 or 6.
    fn read_first(from: &mut dyn Read, header: &mut [u8; 6]) -> io::Result<usize> {
        loop {
            match from.read(&mut header[..1]) {
                Ok(0) => return Ok(0),
                Ok(_) => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        from.read_exact(&mut header[1..])?;
        Ok(6)
    }

    /// One rule of the name check left out.
    #[derive(PartialEq)]
    pub enum Rule {
        Bytes,
        C1,
        Bidi,
        Invisible,
        Separators,
        Blank,
        Nfc,
    }

    /// Our answer's rules, but for the one left out.
    pub fn name_except(name: &str, left_out: Rule) -> bool {
        let check = |rule: Rule| left_out != rule;
        let too_long = if check(Rule::Bytes) {
            name.len() > 255
        } else {
            name.chars().count() > 255
        };
        let bad_char = |c: char| {
            c.is_ascii_control()
                || (check(Rule::C1) && c.is_control())
                || (check(Rule::Bidi)
                    && matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
                || (check(Rule::Invisible)
                    && matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}'))
                || (check(Rule::Separators) && matches!(c, '\u{2028}' | '\u{2029}'))
        };
        let refused = name.is_empty()
            || too_long
            || (check(Rule::Blank) && name.trim().is_empty())
            || name.contains(['/', '\\'])
            || name.contains("..")
            || name.starts_with('.')
            || name.chars().any(bad_char)
            || (check(Rule::Nfc) && !unicode_normalization::is_nfc(name));
        !refused
    }

    /// Header, then payload: two writes, two segments for a small frame.
    pub fn frame_in_two_writes(to: &mut dyn Write, t: u8, payload: &[u8]) -> io::Result<()> {
        to.write_all(&header(t, payload))?;
        to.write_all(payload)
    }

    /// One buffer with everything: one write, but the payload is copied every time.
    pub fn frame_copied(to: &mut dyn Write, t: u8, payload: &[u8]) -> io::Result<()> {
        let mut bytes = header(t, payload).to_vec();
        bytes.extend_from_slice(payload);
        to.write_all(&bytes)
    }

    /// One vectored write, its count ignored.
    pub fn frame_one_vectored_write(to: &mut dyn Write, t: u8, payload: &[u8]) -> io::Result<()> {
        let header = header(t, payload);
        to.write_vectored(&[IoSlice::new(&header), IoSlice::new(payload)])
            .map(drop)
    }

    /// Loops on the count, but sends both slices from their start again each time.
    pub fn frame_restarting(to: &mut dyn Write, t: u8, payload: &[u8]) -> io::Result<()> {
        let header = header(t, payload);
        let (total, mut sent) = (header.len() + payload.len(), 0);
        while sent < total {
            match to.write_vectored(&[IoSlice::new(&header), IoSlice::new(payload)]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => sent += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn header(t: u8, payload: &[u8]) -> [u8; 6] {
        let [a, b, c, d] = (payload.len() as u32).to_be_bytes();
        [0xF1, t, a, b, c, d]
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
