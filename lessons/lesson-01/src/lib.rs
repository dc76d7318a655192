//! Lesson 01's library holds its exercises; the server is `src/main.rs` and the client
//! `src/bin/lesson-01-client.rs`.
//!
//! - [`exercises`]: the stubs you edit. Check them with `cargo test -p lesson-01 --test exercises -- mine`.
//! - [`solutions`]: our answers. Try first, then compare.

pub mod exercises;
pub mod solutions;
