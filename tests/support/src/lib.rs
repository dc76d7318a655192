//! Shared test machinery for the course, written once and used by every lesson's tests and by
//! the tools under `tests/`.
//!
//! - [`Server`] starts a server program on `127.0.0.1:0` and reads the address it really bound
//!   from its first stdout line (`listening on ADDR`, the course's convention).
//! - [`run_to_end`] runs a program (a client, or a server that should fail) to completion.
//! - [`Client`] is a line-oriented TCP client whose every read and write has a deadline.
//! - [`acks`]: the ACK protocol of lessons 03 and 05, its helpers and the checks both servers
//!   pass, each run against the binary it is given.
//! - [`cli`] checks the command-line conventions every lesson's programs follow.
//! - [`exercise`] runs a learner's exercise with a deadline and reports pass or fail with a hint.
//! - [`pieces`]: a reader that hands out bytes piece by piece, as a socket does, and a connected
//!   pair of sockets, for checking a function that reads without starting a server.
//! - [`observe`] looks through `/proc`: a process's CPU time, the TCP sockets and their states.
//! - [`originals`] runs the original Python programs, kept in `tests/originals/`.
//!
//! Nothing here sleeps to synchronise: every wait is on an event (a line, an exit, a byte) and
//! every wait is bounded by a deadline, so a broken server fails a test instead of hanging it.

pub mod acks;
pub mod cli;
pub mod client;
pub mod exercise;
pub mod observe;
pub mod originals;
pub mod pieces;
pub mod process;

pub use client::Client;
pub use pieces::{Pieces, connected_pair};
pub use process::{Finished, Server, run_to_end};

use std::path::PathBuf;
use std::time::Duration;

/// How long any single wait in a test may take before the test fails. Generous, because CI
/// machines are slow and busy; a correct server answers in milliseconds.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// The root of the Cargo workspace (the folder holding `lessons/`, `tests/` and `book/`).
pub fn workspace_root() -> PathBuf {
    // This crate lives at `<root>/tests/support`.
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .and_then(|tests| tests.parent())
        .expect("tests/support sits two levels below the workspace root")
        .to_path_buf()
}
