//! The command line's small jobs: an address, and a failed bind told in one sentence.

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, ToSocketAddrs};

/// Turns `--addr` into a socket address, or says what is wrong with it.
pub fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    let bad =
        || format!("`{text}` is not an address of the form HOST:PORT, such as 127.0.0.1:8888");
    text.to_socket_addrs()
        .map_err(|_| bad())?
        .next()
        .ok_or_else(bad)
}

/// Turns a failed bind into one sentence that says what to do.
pub fn explain_bind_error(addr: SocketAddr, e: io::Error) -> String {
    match e.kind() {
        ErrorKind::AddrInUse => format!(
            "address {addr} is already in use: another program is listening there; \
             stop it, or choose another port with --addr (port 0 picks a free one)"
        ),
        ErrorKind::AddrNotAvailable => {
            format!("address {addr} does not belong to this machine; try 127.0.0.1")
        }
        ErrorKind::PermissionDenied => format!(
            "not allowed to listen on {addr}: ports below 1024 need privileges; use a higher port"
        ),
        _ => format!("cannot listen on {addr}: {e}"),
    }
}
