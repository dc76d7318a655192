//! Lesson 04's library: what the server (`src/main.rs`), the client
//! (`src/bin/lesson-04-client.rs`), the tests and the benchmarks share, and the exercises.
//!
//! - [`cli`]: addresses, sizes and bind errors, for the command lines.
//! - [`frame`]: frames, their types and their byte layout; no I/O.
//! - [`connection`]: reading and writing frames on a stream, and a file's bytes through them.
//! - [`failure`]: how a request can fail, and what the client is told.
//! - [`folder`]: the server's folder: which names are allowed, temporary files, the listing.
//! - [`exercises`]: the stubs you edit. Check them with `cargo test -p lesson-04 --test exercises -- mine`.
//! - [`solutions`]: our answers. Try first, then compare.

pub mod cli;
pub mod connection;
pub mod descriptors;
pub mod exercises;
pub mod failure;
pub mod folder;
pub mod frame;
pub mod solutions;

// The server's rule for the name of an upload is exercise 4: ours by default, yours when the
// lesson is built with `--features mine`, so that your answer meets real clients (and the
// checker).
#[cfg(feature = "mine")]
pub use exercises::is_safe_name;
#[cfg(not(feature = "mine"))]
pub use solutions::is_safe_name;
