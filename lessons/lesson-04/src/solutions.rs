//! Our answers to lesson 04's exercises. Try `src/exercises.rs` first.

use std::io::{self, ErrorKind, Read};

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
        && name.len() <= 255
        && !name.contains(['/', '\\'])
        && !name.contains("..")
        && !name.starts_with('.')
        // NUL is a control character too, and so are \n, \r, \t and the escape byte.
        && !name.chars().any(char::is_control)
}
// ANCHOR_END: solution_4
