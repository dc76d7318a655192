//! Lesson 06 exercises. Replace each `todo!()` with your code, then run
//!
//! ```text
//! cargo test -p lesson-06 --test exercises -- mine
//! ```
//!
//! which says, for each exercise, pass or FAIL with what happened. Put `HINT=1` (then 2, 3) in
//! front of the command for hints, one stage more each time. `src/solutions.rs` holds our
//! answers: try first.

#![allow(unused_variables)] // the stubs do not use their arguments yet

use std::io;
use std::net::TcpStream;

use crate::failure::{Failure, Phase};
use crate::keepalive::Keepalive;

// ANCHOR: exercise_1
/// EXERCISE 1: make `stream` notice a dead peer within seconds.
///
/// The server calls this first thing on every connection it accepts (`serve` in
/// `src/main.rs`), and the client on every connection it makes, when built with
/// `--features mine`. Turn keepalive on with the first probe after `settings.idle` of silence,
/// then one every `settings.interval`, dropping the connection after `settings.count`
/// unanswered probes; and let written data stay unacknowledged for at most
/// `settings.user_timeout` (`None`: the kernel's own limit, as `--user-timeout 0` asks). The
/// check reads every option back with getsockopt.
pub fn arm_keepalive(stream: &TcpStream, settings: &Keepalive) -> io::Result<()> {
    todo!("exercise 1: arm keepalive and the user timeout")
}
// ANCHOR_END: exercise_1

// ANCHOR: exercise_2
/// EXERCISE 2: say which failure an error means.
///
/// `phase` says whether the error came from connect() or from a read or write on an established
/// connection. Return the [`Failure`] it means (see `src/failure.rs` for what each one is).
pub fn name_failure(e: &io::Error, phase: Phase) -> Failure {
    todo!("exercise 2: tell the failures apart")
}
// ANCHOR_END: exercise_2

// ANCHOR: exercise_3
/// EXERCISE 3: find out how much a peer that stopped reading lets you write.
///
/// The peer never reads. Write zeros to `stream` without ever blocking, until the kernel
/// will take no more (its send buffer and the peer's receive window are full: a zero window),
/// and return how many bytes it took. Leave the stream blocking as you found it.
pub fn fill_the_window(stream: &TcpStream) -> io::Result<usize> {
    todo!("exercise 3: write until the window is full")
}
// ANCHOR_END: exercise_3
