//! Lesson 04's library: the wire protocol shared by the server (`src/main.rs`), the client
//! (`src/bin/lesson-04-client.rs`), the tests and the benchmarks, and the exercises.
//!
//! - [`protocol`]: frames, their byte layout, and moving a file's bytes through one buffer.
//! - [`exercises`]: the stubs you edit. Check them with `cargo test -p lesson-04 --test exercises -- mine`.
//! - [`solutions`]: our answers. Try first, then compare.

pub mod exercises;
pub mod protocol;
pub mod solutions;

// The server's rule for the name of an upload is exercise 4: ours by default, yours when the
// lesson is built with `--features mine`, so that your answer meets real clients (and the
// checker).
#[cfg(feature = "mine")]
pub use exercises::is_safe_name;
#[cfg(not(feature = "mine"))]
pub use solutions::is_safe_name;
