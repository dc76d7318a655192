//! Lesson 03's library holds its exercises; the server is `src/main.rs` and the client
//! `src/bin/lesson-03-client.rs`.
//!
//! - [`exercises`]: the stubs you edit. Check them with `cargo test -p lesson-03 --test exercises -- mine`.
//! - [`solutions`]: our answers. Try first, then compare.

pub mod exercises;
pub mod solutions;
