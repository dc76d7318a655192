//! Lesson 03 exercises. Replace each `todo!()` with your code, then run
//!
//! ```text
//! cargo test -p lesson-03 --test exercises -- mine
//! ```
//!
//! which says, for each exercise, pass or FAIL with what happened. Put `HINT=1` (then 2, 3) in
//! front of the command for hints, one stage more each time. `src/solutions.rs` holds our
//! answers: try first.

#![allow(unused_variables)] // the stubs do not use their arguments yet

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};
use rand::rngs::StdRng;

// ANCHOR: exercise_1
/// EXERCISE 1: start a pool of `count` worker threads that serve connections from `queue`.
///
/// Each worker takes one connection from the queue, calls `serve` with it, and then takes the
/// next. At most `count` connections are served at the same time, whatever the load. When the
/// queue's sending side is dropped and the queue is empty, every worker ends. Return the
/// workers' join handles.
pub fn start_workers<F>(count: usize, queue: Receiver<TcpStream>, serve: F) -> Vec<JoinHandle<()>>
where
    F: Fn(TcpStream) + Clone + Send + 'static,
{
    todo!("exercise 1: start a fixed pool of workers")
}
// ANCHOR_END: exercise_1

// ANCHOR: exercise_2
/// EXERCISE 2: hand a new connection to the pool, or refuse it when the queue is full.
///
/// Put `stream` into `queue` without ever blocking the acceptor. If the queue is full, send the
/// client the line `busy: try again later` and close the connection. Return `true` if the
/// connection was queued, `false` if it was refused.
pub fn hand_over(stream: TcpStream, queue: &Sender<TcpStream>) -> bool {
    todo!("exercise 2: queue the connection or answer busy")
}
// ANCHOR_END: exercise_2

// ANCHOR: exercise_3
/// EXERCISE 3: the random generator for connection number `connection` under `--seed seed`.
///
/// The same `(seed, connection)` must always give the same numbers, in every run and whichever
/// thread serves the connection; two connections of one run must get different numbers, and so
/// must two different seeds.
pub fn connection_rng(seed: u64, connection: u64) -> StdRng {
    todo!("exercise 3: a reproducible generator per connection")
}
// ANCHOR_END: exercise_3

// ANCHOR: exercise_4
/// EXERCISE 4: wake an acceptor that sleeps in `accept()` on `listening`.
///
/// The shutdown code has already set a flag that the acceptor checks whenever `accept()`
/// returns. Make `accept()` return. `listening` may be an unspecified address such as
/// `0.0.0.0:8888`.
pub fn wake_acceptor(listening: SocketAddr) -> io::Result<()> {
    todo!("exercise 4: wake the thread blocked in accept")
}
// ANCHOR_END: exercise_4

// ANCHOR: exercise_5
/// EXERCISE 5: at shutdown, turn away every connection still waiting in the queue.
///
/// The grace period is over; the connections in `queue` were accepted but never served. Send
/// each the line `busy: server shutting down` and close it, so its client learns why instead
/// of waiting for a greeting. The acceptor may still hold a sender, so the queue may stay
/// open: turn away what is in it now, and return how many, without waiting for more.
pub fn turn_away_queued(queue: &Receiver<TcpStream>) -> usize {
    todo!("exercise 5: turn away the queued connections at shutdown")
}
// ANCHOR_END: exercise_5
