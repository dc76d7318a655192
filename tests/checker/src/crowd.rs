//! Many connections, the same way for every lesson's protocol: a crowd opened at the same
//! moment that says nothing ([`open_at_once`]), and a burst of short connections, each judged
//! by the protocol's own function ([`burst`]).

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

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

/// What one connection of a burst came to.
pub enum Answer {
    /// The server answered as the protocol says.
    Served,
    /// The server said it is busy: a valid answer under load, for servers that may say it.
    Busy,
    /// Anything else: what was seen instead.
    Wrong(String),
}

/// How a burst went.
pub struct Burst {
    /// Connections made and judged (fewer than asked when it stopped early).
    pub done: usize,
    /// Connections answered with [`Answer::Served`].
    pub served: usize,
    /// The first connection answered wrongly (numbered from 1), and what it saw.
    pub first_wrong: Option<(usize, String)>,
}

/// `count` short connections, `clients` at a time, each made and judged by `one`. Stops at the
/// first wrong answer, or when `limit` has passed.
pub fn burst(
    count: usize,
    clients: usize,
    limit: Duration,
    one: impl Fn() -> Answer + Sync,
) -> Burst {
    let started = Instant::now();
    let next = AtomicUsize::new(0);
    let served = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let first_wrong: Mutex<Option<(usize, String)>> = Mutex::new(None);
    thread::scope(|scope| {
        for _ in 0..clients {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) && started.elapsed() < limit {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    match one() {
                        Answer::Served => {
                            served.fetch_add(1, Ordering::Relaxed);
                        }
                        Answer::Busy => {}
                        Answer::Wrong(saw) => {
                            stop.store(true, Ordering::Relaxed);
                            let mut first = first_wrong.lock().unwrap();
                            if first.is_none() {
                                *first = Some((i + 1, saw));
                            }
                        }
                    }
                }
            });
        }
    });
    Burst {
        done: next.into_inner().min(count),
        served: served.into_inner(),
        first_wrong: first_wrong.into_inner().unwrap(),
    }
}
