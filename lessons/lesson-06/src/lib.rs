//! Lesson 06's library: what the server (`src/main.rs`) and the client
//! (`src/bin/lesson-06-client.rs`) share, and the exercises.
//!
//! - [`keepalive`]: arming keepalive and TCP_USER_TIMEOUT on a socket, and reading them back.
//! - [`failure`]: which failure an error means, in one sentence.
//! - [`backoff`]: how long to wait before the next reconnect.
//! - [`exercises`]: the stubs you edit. Check them with
//!   `cargo test -p lesson-06 --test exercises -- mine`.
//! - [`solutions`]: our answers. Try first, then compare.

pub mod backoff;
pub mod exercises;
pub mod failure;
pub mod keepalive;
pub mod solutions;

// Arming keepalive on every connection is exercise 1: ours by default, yours when the lesson is
// built with `--features mine`, so that your answer meets real clients (and the checker).
#[cfg(feature = "mine")]
pub use exercises::arm_keepalive;
#[cfg(not(feature = "mine"))]
pub use solutions::arm_keepalive;
