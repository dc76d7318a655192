//! Lesson 05's library holds its exercises; the server is `src/main.rs` and the client
//! `src/bin/lesson-05-client.rs`.
//!
//! - [`exercises`]: the stubs you edit. Check them with `cargo test -p lesson-05 --test exercises -- mine`.
//! - [`solutions`]: our answers. Try first, then compare.

pub mod exercises;
pub mod solutions;

/// A line longer than the limit arrived (or is arriving): the connection should be closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTooLong;
