//! Lesson 02 exercises. Replace each `todo!()` with your code, then run
//!
//! ```text
//! cargo test -p lesson-02 --test exercises -- mine
//! ```
//!
//! which says, for each exercise, pass or FAIL with what happened. Put `HINT=1` (then 2, 3) in
//! front of the command for hints, one stage more each time. `src/solutions.rs` holds our
//! answers: try first.

#![allow(unused_variables)] // the stubs do not use their arguments yet

use std::io::{self, BufRead, BufReader};
use std::net::TcpStream;
use std::time::{Duration, Instant};

// ANCHOR: exercise_1
/// EXERCISE 1: read one line, but never more than `max` bytes of it.
///
/// Return the bytes of the next line without its `\n` (or `\r\n`). Return `Ok(None)` if the
/// stream ends before any byte, and an error of kind `UnexpectedEof` if it ends in the middle of
/// a line. A line may hold up to `max` bytes; as soon as more than `max` bytes have come without
/// a `\n`, stop reading and return an error of kind `InvalidData`: a client that never sends
/// `\n` must not make you read (and store) without end.
pub fn read_line_limited(reader: &mut impl BufRead, max: usize) -> io::Result<Option<Vec<u8>>> {
    todo!("exercise 1: read a line with a length limit")
}
// ANCHOR_END: exercise_1

// ANCHOR: exercise_2
/// EXERCISE 2: send a last reply, then close the connection without losing it.
///
/// The client may have sent bytes that nobody will ever read. Write `reply`, then close so that
/// the client reads all of `reply` followed by a normal end of stream (a read of 0 bytes), never
/// a reset. Wait at most `linger` for the client to close its side, then close anyway.
pub fn reply_and_close(stream: TcpStream, reply: &[u8], linger: Duration) -> io::Result<()> {
    todo!("exercise 2: send the last reply and close in the right order")
}
// ANCHOR_END: exercise_2

// ANCHOR: exercise_3
/// EXERCISE 3: answer every line until the client half-closes, then close.
///
/// Reply `message N: TEXT` (and `\n`) to the N-th line the client sends. When the client shuts
/// down its writing side, a read returns 0 bytes, and it will return 0 at once every time after:
/// that is the end of the stream, not "no data yet". Answer every whole line first, then return
/// how many lines you answered (the connection closes when `stream` is dropped).
pub fn answer_until_half_close(stream: TcpStream) -> io::Result<u64> {
    todo!("exercise 3: answer every line, then stop at the half-close")
}
// ANCHOR_END: exercise_3

// ANCHOR: exercise_4
/// EXERCISE 4: read one line of at most `max` bytes, and give up at `deadline`.
///
/// A read timeout bounds each read, not the line: a client that sends one byte every second
/// never lets a timeout of two seconds strike, and holds the server for as long as it likes
/// (the attack is called slowloris). Read the next line from `reader` (whose stream you may
/// give read timeouts) and return it without its `\n` or `\r\n`; `Ok(None)` if the stream ends
/// before any byte, `UnexpectedEof` if it ends mid-line, `InvalidData` as soon as more than
/// `max` bytes came without a `\n`, and an error of kind `TimedOut` once `deadline` has passed,
/// however the bytes trickle in.
pub fn read_line_before(
    reader: &mut BufReader<&TcpStream>,
    max: usize,
    deadline: Instant,
) -> io::Result<Option<Vec<u8>>> {
    todo!("exercise 4: read a line before a deadline")
}
// ANCHOR_END: exercise_4
