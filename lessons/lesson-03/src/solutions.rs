//! Our answers to lesson 03's exercises. Try `src/exercises.rs` first.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender, TrySendError};
use rand::SeedableRng;
use rand::rngs::StdRng;

// ANCHOR: solution_1
/// Exercise 1: a fixed pool of workers.
pub fn start_workers<F>(count: usize, queue: Receiver<TcpStream>, serve: F) -> Vec<JoinHandle<()>>
where
    F: Fn(TcpStream) + Clone + Send + 'static,
{
    (0..count)
        .map(|_| {
            // Every worker gets its own handle on the same queue: crossbeam's Receiver can be
            // cloned, and each connection goes to exactly one of them.
            let (queue, serve) = (queue.clone(), serve.clone());
            // Iterating a Receiver blocks while the queue is empty and ends once every Sender
            // is gone and the queue is empty.
            thread::spawn(move || queue.into_iter().for_each(serve))
        })
        .collect()
}
// ANCHOR_END: solution_1

// ANCHOR: solution_2
/// Exercise 2: queue the connection or answer `busy`.
pub fn hand_over(stream: TcpStream, queue: &Sender<TcpStream>) -> bool {
    // send() would wait for room, and an acceptor that waits accepts nobody. try_send gives the
    // stream back at once when there is no room.
    match queue.try_send(stream) {
        Ok(()) => true,
        Err(TrySendError::Full(stream) | TrySendError::Disconnected(stream)) => {
            let _ = (&stream).write_all(b"busy: try again later\n");
            false // dropping `stream` closes the connection
        }
    }
}
// ANCHOR_END: solution_2

// ANCHOR: solution_3
/// Exercise 3: a reproducible generator per connection.
pub fn connection_rng(seed: u64, connection: u64) -> StdRng {
    // StdRng's seed is 32 bytes. Putting both numbers in it, side by side, gives every
    // (seed, connection) pair its own stream of numbers, the same in every run.
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&connection.to_le_bytes());
    StdRng::from_seed(key)
}
// ANCHOR_END: solution_3

// ANCHOR: solution_4
/// Exercise 4: wake the thread blocked in accept.
pub fn wake_acceptor(listening: SocketAddr) -> io::Result<()> {
    // accept() returns when a connection arrives, so make one. 0.0.0.0 (or ::) is a fine
    // address to bind, meaning "all local addresses"; as a destination Linux connects it to
    // loopback but Windows refuses it, so connect to loopback, which works everywhere.
    let ip = match listening.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    TcpStream::connect_timeout(
        &SocketAddr::new(ip, listening.port()),
        Duration::from_secs(1),
    )?;
    Ok(())
}
// ANCHOR_END: solution_4

// ANCHOR: solution_5
/// Exercise 5: turn away the queued connections at shutdown.
pub fn turn_away_queued(queue: &Receiver<TcpStream>) -> usize {
    // try_iter takes what is in the queue now and stops when it is empty, even if a sender is
    // still alive; iter() or recv() would wait for connections that will never come.
    queue
        .try_iter()
        .map(|stream| {
            let _ = (&stream).write_all(b"busy: server shutting down\n");
            // Dropping the stream closes it: FIN after the line.
        })
        .count()
}
// ANCHOR_END: solution_5
