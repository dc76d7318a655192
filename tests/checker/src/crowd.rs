//! Many connections at the same moment, the same for every lesson's protocol: the connections
//! say nothing, so what the server speaks does not matter.

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, TcpStream};
use std::sync::Barrier;
use std::thread;
use std::time::Duration;

/// How a crowd of connections went.
pub struct Crowd {
    pub count: usize,
    /// Connections made (accepted, or waiting in the server's backlog).
    pub connected: usize,
    /// Connections refused or reset while connecting: nobody was listening any more.
    pub refused: usize,
}

/// Opens `count` connections at the same moment (from `count` threads released together),
/// waits until every one is open or has given up after `connect_timeout`, then drops them all
/// at once.
pub fn open_at_once(addr: SocketAddr, count: usize, connect_timeout: Duration) -> Crowd {
    let start = Barrier::new(count);
    let results: Vec<io::Result<TcpStream>> = thread::scope(|scope| {
        let handles: Vec<_> = (0..count)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    TcpStream::connect_timeout(&addr, connect_timeout)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(ErrorKind::Other.into())))
            .collect()
    });
    let connected = results.iter().filter(|r| r.is_ok()).count();
    let refused = results
        .iter()
        .filter(|r| {
            r.as_ref().is_err_and(|e| {
                matches!(
                    e.kind(),
                    ErrorKind::ConnectionRefused | ErrorKind::ConnectionReset
                )
            })
        })
        .count();
    // Dropping the streams here closes every connection at once.
    drop(results);
    Crowd {
        count,
        connected,
        refused,
    }
}
