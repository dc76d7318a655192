//! Lesson 02's library holds its exercises; the server is `src/main.rs` and the client
//! `src/bin/lesson-02-client.rs`.
//!
//! - [`exercises`]: the stubs you edit. Check them with `cargo test -p lesson-02 --test exercises -- mine`.
//! - [`solutions`]: our answers. Try first, then compare.

pub mod exercises;
pub mod solutions;

// The server's lingering close is exercise 2: ours by default, yours when the lesson is built
// with `--features mine`, so that your answer meets real clients (and the checker).
#[cfg(feature = "mine")]
pub use exercises::reply_and_close;
#[cfg(not(feature = "mine"))]
pub use solutions::reply_and_close;
