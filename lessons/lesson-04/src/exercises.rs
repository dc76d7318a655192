//! Lesson 04 exercises. Replace each `todo!()` with your code, then run
//!
//! ```text
//! cargo test -p lesson-04 --test exercises -- mine
//! ```
//!
//! which says, for each exercise, pass or FAIL with what happened. Put `HINT=1` (then 2, 3) in
//! front of the command for hints, one stage more each time. `src/solutions.rs` holds our
//! answers: try first.

#![allow(unused_variables)] // the stubs do not use their arguments yet

use std::io::{self, Read, Write};

// ANCHOR: exercise_1
/// EXERCISE 1: encode a frame header: the magic byte 0xF1, the frame type, then the payload
/// length as 4 bytes, most significant byte first (big-endian).
///
/// `encode_header(2, 258)` is `[0xF1, 2, 0, 0, 1, 2]`.
pub fn encode_header(frame_type: u8, len: u32) -> [u8; 6] {
    todo!("exercise 1: encode a frame header")
}
// ANCHOR_END: exercise_1

// ANCHOR: exercise_2
/// EXERCISE 2: fill `buf` completely, however the bytes are split across reads.
///
/// A read returns whatever has arrived: possibly 1 byte of the 6 you asked for. Keep reading
/// into the part of `buf` not yet filled. Read no byte beyond `buf`'s length. A read that fails
/// with `ErrorKind::Interrupted` is retried; a read of 0 bytes before `buf` is full means the
/// peer closed: return an error of kind `UnexpectedEof`. (This is `Read::read_exact`; write it
/// yourself, without calling it.)
pub fn read_exact_by_hand(from: &mut impl Read, buf: &mut [u8]) -> io::Result<()> {
    todo!("exercise 2: read_exact by hand")
}
// ANCHOR_END: exercise_2

// ANCHOR: exercise_3
/// EXERCISE 3: read one frame: a 6-byte header (magic 0xF1, type, big-endian length), then
/// the payload. Return `(frame_type, payload)`.
///
/// - `Ok(None)` if the stream ends before the first byte of the header (a clean close);
/// - an `UnexpectedEof` error if it ends inside the header or the payload;
/// - an `InvalidData` error if the magic byte is wrong or the length is over `max_len`, and in
///   that case read NOTHING after the header: a stranger's length must not decide how much
///   memory you allocate or how long you wait.
pub fn read_frame(from: &mut impl Read, max_len: u32) -> io::Result<Option<(u8, Vec<u8>)>> {
    todo!("exercise 3: read one length-prefixed frame")
}
// ANCHOR_END: exercise_3

// ANCHOR: exercise_4
/// EXERCISE 4: may the server store an upload under this name, inside its folder?
///
/// Refuse (return false) a name that is empty or only spaces, longer than 255 bytes (bytes,
/// not characters), contains `/`, `\`, `..`, a NUL byte or any other control character (C1
/// ones too), a bidirectional control (U+202A to U+202E, U+2066 to U+2069), an invisible
/// character (U+200B to U+200D, U+2060, the byte-order mark U+FEFF), a line or paragraph
/// separator (U+2028, U+2029), starts with a dot, or is not in Unicode NFC (the crate
/// `unicode-normalization` has `is_nfc`).
pub fn is_safe_name(name: &str) -> bool {
    todo!("exercise 4: refuse an unsafe file name")
}
// ANCHOR_END: exercise_4

// ANCHOR: exercise_5
/// EXERCISE 5: send one frame, header and payload, with as few system calls as possible and
/// without copying the payload.
///
/// The lesson's `write_frame` builds the whole frame in one buffer and sends it with one
/// `write_all`. That copies the payload; for a frame of 64 KiB, every frame. Instead, hand the
/// header (from exercise 1) and the payload to the kernel together, as two slices, with
/// `Write::write_vectored` (one `writev` system call: one segment for a small frame, so no
/// write-write-read wait for Nagle's algorithm). A vectored write may send only part of what
/// it was given, even cutting the header: send the rest. Retry `Interrupted`; a write of 0
/// bytes means the peer takes no more: return an error of kind `WriteZero`. Allocate nothing
/// the size of the payload.
pub fn write_frame_vectored(to: &mut impl Write, frame_type: u8, payload: &[u8]) -> io::Result<()> {
    todo!("exercise 5: send a frame with one vectored write")
}
// ANCHOR_END: exercise_5
