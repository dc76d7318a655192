//! Lesson 03's library holds its exercises; the server is `src/main.rs` and the client
//! `src/bin/lesson-03-client.rs`.
//!
//! - [`exercises`]: the stubs you edit. Check them with `cargo test -p lesson-03 --test exercises -- mine`.
//! - [`solutions`]: our answers. Try first, then compare.

pub mod exercises;
pub mod solutions;

// The server's generator under `--seed` is exercise 3: ours by default, yours when the lesson is
// built with `--features mine`, so that your answer serves real clients (and the checker).
#[cfg(feature = "mine")]
pub use exercises::connection_rng;
#[cfg(not(feature = "mine"))]
pub use solutions::connection_rng;
