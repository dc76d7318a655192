//! The same listening socket as lesson 01's server, made by the standard library in one call.
//!
//! `cargo run -p lesson-01 --example std_listener` binds, prints what it got, and exits. Run it
//! under `strace -e trace=%network` to see the system calls `TcpListener::bind` makes for you.

use std::net::TcpListener;

use socket2::SockRef;

// ANCHOR: std_bind
fn main() -> std::io::Result<()> {
    // socket() + setsockopt(SO_REUSEADDR) + bind() + listen(), all in one call.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    println!("listening on {}", listener.local_addr()?);

    // socket2 can look at options of any socket, including one std made.
    let socket = SockRef::from(&listener);
    println!("SO_REUSEADDR is {}", socket.reuse_address()?);
    Ok(())
}
// ANCHOR_END: std_bind
