//! Lesson 01's library holds its exercises; the server is `src/main.rs` and the client
//! `src/bin/lesson-01-client.rs`.
//!
//! - [`exercises`]: the stubs you edit. Check them with `cargo test -p lesson-01 --test exercises -- mine`.
//! - [`solutions`]: our answers. Try first, then compare.

pub mod exercises;
pub mod solutions;

// The server's one read of the client's message is exercise 3: ours by default, yours when the
// lesson is built with `--features mine`, so that your answer meets real clients (and the
// checker).
#[cfg(feature = "mine")]
pub use exercises::read_message;
pub use solutions::Received;
#[cfg(not(feature = "mine"))]
pub use solutions::read_message;
