//! Many connections, the same way for every lesson's protocol: a crowd opened at the same
//! moment that says nothing ([`open_at_once`]), and a burst of short connections, each judged
//! by the protocol's own function ([`burst`]).

use std::io::{self, ErrorKind};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use crate::check::{Probe, Verdict};
use crate::report::{Outcome, fail};

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

/// How many connections [`threads_stay_flat`] holds open at once.
pub const HELD: usize = 200;
/// How many threads a server may add while [`HELD`] connections are open: a few started on
/// demand are fine, one per connection is not.
pub const THREAD_SLACK: usize = 8;
/// The longest [`threads_stay_flat`] watches the thread count.
const WATCH: Duration = Duration::from_secs(2);

/// [`HELD`] connections opened at once (without waiting for each handshake) and held, while
/// the server's thread count is read from `/proc/PID/status` every 20 ms, for the checker's
/// timeout (two seconds at most). Fails when it grows by more than [`THREAD_SLACK`]; skipped
/// without the server's process id.
pub fn threads_stay_flat(p: &Probe) -> Verdict {
    let Some(pid) = p.pid else {
        return Err(Outcome::Skip(
            "the server's process id is unknown: give --pid PID".into(),
        ));
    };
    let Some(before) = threads(pid) else {
        return Err(Outcome::Skip(format!(
            "cannot read /proc/{pid}/status (not Linux, or not the server's process id)"
        )));
    };
    let held = connect_many(p.addr, HELD);
    let started = Instant::now();
    let mut most = before;
    while started.elapsed() < p.options.timeout.min(WATCH) && most <= before + THREAD_SLACK {
        // A server that has exited has no threads left to count.
        most = most.max(threads(pid).unwrap_or(0));
        // Polling a count that only /proc shows; not synchronisation by sleeping.
        thread::sleep(Duration::from_millis(20));
    }
    drop(held);
    if most > before + THREAD_SLACK {
        return Err(fail(
            format!(
                "{most} threads with {HELD} connections open, {before} before ({:.1} s after \
                 they were opened)",
                started.elapsed().as_secs_f64()
            ),
            format!(
                "at most {} threads: a bounded number, not one per connection",
                before + THREAD_SLACK
            ),
        ));
    }
    Ok(())
}

/// `count` connections to `addr`, each started without waiting for its handshake (a
/// non-blocking connect): the kernels complete them while the caller goes on.
fn connect_many(addr: SocketAddr, count: usize) -> Vec<Socket> {
    (0..count)
        .filter_map(|_| {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None).ok()?;
            socket.set_nonblocking(true).ok()?;
            match socket.connect(&addr.into()) {
                Ok(()) => Some(socket),
                Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => Some(socket),
                Err(_) => None,
            }
        })
        .collect()
}

/// The number of threads of process `pid`, from `/proc/PID/status`.
fn threads(pid: u32) -> Option<usize> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}
