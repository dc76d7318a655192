//! Lesson 05: one thread, ten thousand connections.
//!
//! Lesson 03's protocol, exactly (`Hello World!`, `R:ACK!` for every line, `exit` → `bye`),
//! served by one thread that never blocks. Every socket is non-blocking: a read, write or accept
//! that cannot go on at once says `WouldBlock` instead of waiting. The thread asks the kernel
//! (epoll, through `mio`) which sockets are ready, does what each one allows, and asks again.
//! That is an event loop. Run it with `cargo run -p lesson-05`, and in other terminals
//! `cargo run -p lesson-05 --bin lesson-05-client` or `nc 127.0.0.1 8888`.
//!
//! The server is in six files:
//! - `main.rs` (this one): the command line, the limits, and starting up: the listening
//!   socket, the descriptor limit, the poll instance and the signal handler;
//! - `connection.rs`: one connection's state and buffers, and writing to it;
//! - `event_loop.rs`: the loop itself, accepting, timers and shutdown;
//! - `conversation.rs`: one connection's turn: reading, line framing, answering;
//! - `log.rs`: the log, which never makes the loop wait;
//! - `cli.rs`: the address, and a failed bind in one sentence.

mod cli;
mod connection;
mod conversation;
mod event_loop;
mod log;

use std::collections::BinaryHeap;
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use clap::Parser;
use mio::net::TcpListener;
use mio::{Interest, Poll, Token, Waker};
use socket2::{Domain, Protocol, Socket, Type};

use crate::cli::{explain_bind_error, parse_addr};
use crate::event_loop::{Counts, Server};
use crate::log::Log;

/// Lesson 05: serve every client from one thread with non-blocking sockets and an event loop.
#[derive(Parser)]
#[command(name = "lesson-05", version, about)]
struct Args {
    /// Address to listen on, as HOST:PORT. Port 0 lets the kernel pick a free port.
    #[arg(long, default_value = "127.0.0.1:8888")]
    addr: String,

    /// Connections served at once; beyond that, new clients get `busy: try again later`.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    max_connections: u32,

    /// Make the ACK numbers reproducible: the same seed gives the N-th connection the same
    /// numbers every run. Without it they come from the operating system's entropy.
    #[arg(long)]
    seed: Option<u64>,

    /// Seconds a client has to finish each line (counted from the previous one, or from the
    /// greeting) before the server closes the connection. A total bound: a byte now and then
    /// does not extend it.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,

    /// On Ctrl-C or SIGTERM, seconds to let conversations in progress finish.
    #[arg(long, default_value_t = 5)]
    grace: u64,
}

/// The longest line we accept, without its line ending (as lesson 03).
const MAX_LINE: usize = 64 * 1024;
/// Replies waiting for a client that does not read. Past this we stop reading its lines
/// (backpressure): its unread replies cannot grow our memory without bound.
const MAX_OUTPUT: usize = 64 * 1024;
/// After our last line and our FIN, how long we wait for the client's FIN before closing.
const LINGER: Duration = Duration::from_secs(1);
/// After our last line, how many of the client's bytes we read and discard while we wait.
const MAX_DISCARD: usize = 1 << 20;
/// How long to stop accepting when we run out of file descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// Log lines that may wait for a slow log reader before new ones are dropped.
const LOG_QUEUE: usize = 1024;
/// Bytes one connection may read in one turn of the loop, and the size of the loop's read
/// buffer. A client that sends as fast as it reads its replies never lets its socket say
/// `WouldBlock`: without a budget, serving it would never end and every other client would
/// wait. 16 KiB holds any ordinary burst of lines; at worst it is 8,192 two-byte lines to
/// answer, a few milliseconds of work, before the next client's turn.
const READ_BUDGET: usize = 16 * 1024;
/// Connections accepted in one turn, for the same reason: a flood of new connections must not
/// keep the loop from the clients it already has.
const ACCEPTS_PER_TURN: usize = 64;

/// mio tells us which registered source is ready by the token we registered it with. A
/// connection's token is its place in the connection table; these two are set apart.
const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX - 2);

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(sentence) => {
            // One clear sentence and exit status 1: never a panic or a backtrace.
            eprintln!("error: {sentence}");
            ExitCode::FAILURE
        }
    }
}

// ANCHOR: run
fn run(args: &Args) -> Result<(), String> {
    let addr = parse_addr(&args.addr)?;
    raise_descriptor_limit();
    let mut listener = listen(addr).map_err(|e| explain_bind_error(addr, e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;

    // The poll instance is the kernel's list of what we watch (an epoll instance on Linux).
    let poll = Poll::new().map_err(|e| format!("cannot create the poll instance: {e}"))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)
        .map_err(|e| format!("cannot watch the listening socket: {e}"))?;
    // A signal arrives on another thread; the waker is how that thread interrupts poll().
    let waker =
        Waker::new(poll.registry(), WAKER).map_err(|e| format!("cannot create the waker: {e}"))?;
    let signals = on_signal(waker)?;
    let log = Log::start();

    // Only now, with the handler installed, are we ready.
    println!("listening on {bound}");
    let mut server = Server {
        poll,
        listener: Some(listener),
        conns: Vec::new(),
        free: Vec::new(),
        open: 0,
        timers: BinaryHeap::new(),
        next_number: 0,
        accept_paused_until: None,
        counts: Counts::default(),
        log,
        args,
        idle: Duration::from_secs(args.idle_timeout),
        still_ready: Vec::new(),
        scratch: vec![0; READ_BUDGET],
    };
    server.event_loop(&signals);

    let counts = &server.counts;
    let summary = format!(
        "summary: connections served {}, messages answered {}, refused {}",
        counts.served, counts.answered, counts.refused
    );
    server.log.finish();
    println!("{summary}");
    // Returning from main ends the process; the kernel closes any socket still open.
    Ok(())
}
// ANCHOR_END: run

// ANCHOR: listen
/// socket → SO_REUSEADDR → bind → listen, as in lesson 03, then non-blocking: accept() must
/// say `WouldBlock` when nobody is waiting instead of putting our only thread to sleep.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    socket.set_nonblocking(true)?;
    Ok(TcpListener::from_std(socket.into()))
}
// ANCHOR_END: listen

// ANCHOR: rlimit
/// Every connection is a file descriptor, and a process may have only RLIMIT_NOFILE of them:
/// often 1024 by default (the soft limit), while the hard limit, the most an unprivileged
/// process may raise it to, is far higher. Ten thousand connections need the hard one.
#[cfg(unix)]
fn raise_descriptor_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            // If this fails we keep the soft limit; running out is handled (see accept_all).
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

#[cfg(not(unix))]
fn raise_descriptor_limit() {}
// ANCHOR_END: rlimit

// ANCHOR: signals
/// Installs the Ctrl-C / SIGTERM handler. It runs on a thread of ctrlc's, counts the signal and
/// wakes the event loop; the loop does the rest. The first signal starts the graceful shutdown,
/// a second one cuts the grace period short.
fn on_signal(waker: Waker) -> Result<Arc<AtomicU32>, String> {
    let signals = Arc::new(AtomicU32::new(0));
    let count = Arc::clone(&signals);
    ctrlc::set_handler(move || {
        count.fetch_add(1, Ordering::SeqCst);
        // Writes to an eventfd the loop watches: poll() returns with the WAKER token.
        let _ = waker.wake();
    })
    .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))?;
    Ok(signals)
}
// ANCHOR_END: signals
