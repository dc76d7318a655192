//! Our answers to lesson 04's exercises. Try `src/exercises.rs` first.

use std::io::{self, ErrorKind, IoSlice, Read, Write};

// ANCHOR: solution_1
/// Exercise 1: encode a frame header.
pub fn encode_header(frame_type: u8, len: u32) -> [u8; 6] {
    // to_be_bytes: the most significant byte first, on every machine. to_ne_bytes ("native")
    // would give the reverse order on x86 and ARM, which are little-endian.
    let [a, b, c, d] = len.to_be_bytes();
    [0xF1, frame_type, a, b, c, d]
}
// ANCHOR_END: solution_1

// ANCHOR: solution_2
/// Exercise 2: read_exact by hand.
pub fn read_exact_by_hand(from: &mut impl Read, buf: &mut [u8]) -> io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        // Ask only for what is still missing, into the part not yet filled.
        match from.read(&mut buf[filled..]) {
            Ok(0) => {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    format!("the stream ended after {filled} of {} bytes", buf.len()),
                ));
            }
            Ok(n) => filled += n,
            // A signal arrived before any byte did: nothing was read, just read again.
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
// ANCHOR_END: solution_2

// ANCHOR: solution_3
/// Exercise 3: read one length-prefixed frame.
pub fn read_frame(from: &mut impl Read, max_len: u32) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut header = [0u8; 6];
    // The first byte alone tells a clean close from a frame cut short.
    let first = loop {
        match from.read(&mut header[..1]) {
            Ok(n) => break n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    };
    if first == 0 {
        return Ok(None);
    }
    read_exact_by_hand(from, &mut header[1..])?;
    let [magic, frame_type, a, b, c, d] = header;
    if magic != 0xF1 {
        return Err(io::Error::new(
            ErrorKind::InvalidData,
            format!("bad magic byte 0x{magic:02X}"),
        ));
    }
    let len = u32::from_be_bytes([a, b, c, d]);
    // Check the length BEFORE allocating or reading anything of the payload.
    if len > max_len {
        return Err(io::Error::new(
            ErrorKind::InvalidData,
            format!("a length of {len} is over the limit of {max_len}"),
        ));
    }
    let mut payload = vec![0u8; len as usize];
    read_exact_by_hand(from, &mut payload)?;
    Ok(Some((frame_type, payload)))
}
// ANCHOR_END: solution_3

// ANCHOR: solution_4
/// Exercise 4: refuse an unsafe file name.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        // Bytes, not characters: the file system's limit is 255 bytes, and "é" is two.
        && name.len() <= 255
        // Blank names are invisible in a listing.
        && !name.trim().is_empty()
        && !name.contains(['/', '\\'])
        && !name.contains("..")
        && !name.starts_with('.')
        && !name.chars().any(|c| is_control(c) || is_invisible(c))
        // "café" as e + U+0301 looks like "café" as one é: store only one way of writing it.
        && unicode_normalization::is_nfc(name)
}

/// Control characters: C0 (NUL, \n, ESC …) and C1 (U+0080 to U+009F), which char::is_control
/// covers; the bidirectional controls, which reorder what a terminal shows; and the line and
/// paragraph separators.
fn is_control(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        || matches!(c, '\u{2028}' | '\u{2029}')
}

/// Characters that show nothing: the zero-width space, non-joiner and joiner, the word joiner
/// and the byte-order mark.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}
// ANCHOR_END: solution_4

// ANCHOR: solution_5
/// Exercise 5: send a frame with one vectored write.
pub fn write_frame_vectored(to: &mut impl Write, frame_type: u8, payload: &[u8]) -> io::Result<()> {
    let header = encode_header(frame_type, payload.len() as u32);
    // Two slices, one system call: the kernel gathers them, nothing is copied here.
    let mut slices = [IoSlice::new(&header), IoSlice::new(payload)];
    let mut left = &mut slices[..];
    // Skip empty slices first (an empty payload), so that "nothing left" means an empty list.
    IoSlice::advance_slices(&mut left, 0);
    while !left.is_empty() {
        match to.write_vectored(left) {
            Ok(0) => {
                return Err(io::Error::new(
                    ErrorKind::WriteZero,
                    "the connection took no more bytes",
                ));
            }
            // Part of it went: drop what was sent, even in the middle of the header.
            Ok(n) => IoSlice::advance_slices(&mut left, n),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
// ANCHOR_END: solution_5
