//! Lesson 03: many clients at once, on a fixed pool of threads.
//!
//! One thread (the acceptor, here the main thread) accepts connections and puts each into a
//! bounded queue; `--workers` threads take connections from the queue and serve them. When the
//! queue is full the acceptor tells the new client `busy: try again later` and closes at once.
//! Every line gets a random acknowledgement `R:ACK!`. Ctrl-C or SIGTERM stops the server
//! gracefully. Run it with `cargo run -p lesson-03`, and in other terminals
//! `cargo run -p lesson-03 --bin lesson-03-client` or `nc 127.0.0.1 8888`.

use std::any::Any;
use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::Duration;

use clap::Parser;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use rand::RngExt;
use rand::rngs::StdRng;
use socket2::{Domain, Protocol, Socket, Type};

/// Lesson 03: serve many clients at once on a fixed pool of worker threads.
#[derive(Parser)]
#[command(name = "lesson-03", version, about)]
struct Args {
    /// Address to listen on, as HOST:PORT. Port 0 lets the kernel pick a free port.
    #[arg(long, default_value = "127.0.0.1:8888")]
    addr: String,

    /// Worker threads: how many clients are served at the same time.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1024))]
    workers: u32,

    /// Accepted connections that may wait for a free worker; beyond that, new clients get
    /// `busy: try again later`. 0: hand a connection only to a worker that is free right now.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(0..=65536))]
    queue: u32,

    /// Make the ACK numbers reproducible: the same seed gives the N-th connection the same
    /// numbers every run. Without it they come from the operating system's entropy.
    #[arg(long)]
    seed: Option<u64>,

    /// Seconds a client may stay silent before the server closes the connection.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,

    /// On Ctrl-C or SIGTERM, seconds to let conversations in progress finish.
    #[arg(long, default_value_t = 5)]
    grace: u64,
}

/// The longest line we accept, without its line ending.
const MAX_LINE: usize = 64 * 1024;

// ANCHOR: main
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
// ANCHOR_END: main

// ANCHOR: shared
/// What the acceptor, the workers and the signal handler share. Atomics, not a Mutex: each is
/// one number that threads bump or read on their own.
#[derive(Default)]
struct Shared {
    /// Set once, by the first Ctrl-C or SIGTERM.
    stopping: AtomicBool,
    /// Conversations a worker has started (greeted).
    served: AtomicU64,
    /// `R:ACK!` replies sent.
    answered: AtomicU64,
    /// Connections turned away with `busy: ...`.
    refused: AtomicU64,
    /// Conversations going on right now.
    active: AtomicUsize,
}

/// One accepted connection on its way from the acceptor to a worker.
struct Job {
    stream: TcpStream,
    peer: SocketAddr,
    /// 1 for the first connection accepted, 2 for the next, and so on.
    number: u64,
    rng: StdRng,
}
// ANCHOR_END: shared

// ANCHOR: run
fn run(args: &Args) -> Result<(), String> {
    let addr = parse_addr(&args.addr)?;
    let listener = listen(addr).map_err(|e| explain_bind_error(addr, e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;

    let shared = Arc::new(Shared::default());
    let hurry = on_ctrl_c(Arc::clone(&shared), bound)?;
    quiet_worker_panics();

    // The queue between the acceptor and the workers. Bounded: when it is full, try_send fails
    // at once instead of letting connections (and their memory) pile up without limit.
    let (jobs, queue) = crossbeam_channel::bounded::<Job>(args.queue as usize);
    // Nobody ever sends on `done`: each worker holds a Sender and drops it when it ends, and a
    // receive fails with "disconnected" once the last one is gone. A join with a deadline.
    let (done_tx, done) = crossbeam_channel::bounded::<()>(0);
    let idle = Duration::from_secs(args.idle_timeout);
    for id in 1..=args.workers {
        let (queue, shared, done_tx) = (queue.clone(), Arc::clone(&shared), done_tx.clone());
        thread::Builder::new()
            .name(format!("worker-{id}"))
            .spawn(move || worker(id, queue, &shared, idle, done_tx))
            .map_err(|e| format!("cannot start worker thread {id}: {e}"))?;
    }
    drop((queue, done_tx));

    // Only now, with the handler installed and the workers started, are we ready.
    println!("listening on {bound}");
    accept_loop(&listener, &jobs, &shared, args.seed);

    // Closing the listening socket makes the kernel refuse new connections (RST) and reset
    // those still waiting in its backlog. Closing the queue's sending side lets each worker's
    // loop end once it has emptied the queue.
    drop(listener);
    drop(jobs);
    let grace = Duration::from_secs(args.grace);
    let open = shared.active.load(Ordering::SeqCst);
    println!("shutting down: no new connections; waiting up to {grace:?} for {open} in progress");
    wait_for_workers(&done, &hurry, grace, &shared);

    println!(
        "summary: connections served {}, messages answered {}, refused {}",
        shared.served.load(Ordering::SeqCst),
        shared.answered.load(Ordering::SeqCst),
        shared.refused.load(Ordering::SeqCst),
    );
    // Returning from main ends the process; the kernel closes any socket still open.
    Ok(())
}
// ANCHOR_END: run

// ANCHOR: listen
/// socket → SO_REUSEADDR → bind → listen, as in lesson 02.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Restart at once even while old connections of ours sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    // Up to 1024 finished handshakes wait in the kernel for accept(). The acceptor empties this
    // queue fast (it never serves anyone itself), so it rarely holds more than a few.
    socket.listen(1024)?;
    Ok(socket.into())
}
// ANCHOR_END: listen

// ANCHOR: accept_loop
/// The acceptor: take each connection from the kernel and hand it to the pool, or refuse it.
fn accept_loop(listener: &TcpListener, jobs: &Sender<Job>, shared: &Shared, seed: Option<u64>) {
    let mut number = 0;
    loop {
        let accepted = listener.accept();
        // The shutdown handler sets `stopping` and then connects to us: that connection is
        // what wakes this thread from accept(), so the flag is checked right after it returns.
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        let (stream, peer) = match accepted {
            Ok(connection) => connection,
            Err(e) => {
                // Out of file descriptors, for example. Such errors tend to repeat at once:
                // pause briefly instead of spinning and flooding the log.
                eprintln!("accept failed: {e}");
                thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        number += 1;
        let job = Job {
            stream,
            peer,
            number,
            rng: connection_rng(seed, number),
        };
        // try_send never blocks: either a place in the queue is free, or we say so at once.
        match jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => refuse(job, "busy: try again later", shared),
            // Every worker has ended; nothing is left to serve anyone.
            Err(TrySendError::Disconnected(_)) => return,
        }
    }
}

/// Tells a client we cannot serve it and closes the connection.
fn refuse(job: Job, reason: &str, shared: &Shared) {
    // A short line into an empty send buffer: this write does not block.
    let _ = (&job.stream).write_all(format!("{reason}\n").as_bytes());
    shared.refused.fetch_add(1, Ordering::Relaxed);
    eprintln!("connection #{} from {}: {reason}", job.number, job.peer);
    // Dropping the stream closes it.
}
// ANCHOR_END: accept_loop

// ANCHOR: seed
/// The random numbers for connection `number`. With `--seed S` they are a pure function of S and
/// the connection's number, so a rerun gives every connection the same ACKs whatever order the
/// workers run in. The 32-byte key of StdRng (ChaCha12) is S's 8 bytes, then the number's 8
/// bytes, then zeros.
fn connection_rng(seed: Option<u64>, number: u64) -> StdRng {
    match seed {
        // Exercise 3: our answer, or yours when built with `--features mine`.
        Some(seed) => lesson_03::connection_rng(seed, number),
        // Seeded from the thread's generator, which the operating system seeded.
        None => rand::make_rng(),
    }
}
// ANCHOR_END: seed

// ANCHOR: worker
/// A worker: serve one connection after another until the queue is closed and empty.
fn worker(id: u32, queue: Receiver<Job>, shared: &Shared, idle: Duration, _done: Sender<()>) {
    // recv() sleeps while the queue is empty, and fails once the acceptor has dropped its
    // Sender and the queue is empty: that ends this loop, and the thread.
    for job in queue {
        if shared.stopping.load(Ordering::SeqCst) {
            // Accepted before the shutdown but not yet greeted: let it go rather than start
            // a conversation the grace period may cut short.
            refuse(job, "busy: server shutting down", shared);
            continue;
        }
        let (number, peer) = (job.number, job.peer);
        println!("worker {id} serves connection #{number} from {peer}");
        shared.served.fetch_add(1, Ordering::Relaxed);
        shared.active.fetch_add(1, Ordering::SeqCst);
        // A panic while serving this client unwinds to here instead of ending the thread: the
        // stream (moved into serve) is dropped on the way, which closes the connection, and the
        // worker takes the next job. The pool keeps its size.
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| serve(job, shared, idle)));
        shared.active.fetch_sub(1, Ordering::SeqCst);
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("connection #{number} from {peer}: {e}"),
            Err(payload) => eprintln!(
                "connection #{number} from {peer}: worker {id} panicked ({}); \
                 the connection is closed and the worker goes on",
                panic_message(&*payload)
            ),
        }
    }
}
// ANCHOR_END: worker

// ANCHOR: serve
/// One conversation: greet, then answer every line until `exit`, end of stream or an error.
/// Errors come back as one sentence for the log.
fn serve(job: Job, shared: &Shared, idle: Duration) -> Result<(), String> {
    let Job {
        stream, mut rng, ..
    } = job;
    let failed = |what: &str, e: io::Error| format!("{what} failed: {e}");
    // A silent client must not hold a worker forever, and neither may one that stops reading.
    stream
        .set_read_timeout(Some(idle))
        .and_then(|()| stream.set_write_timeout(Some(idle)))
        .map_err(|e| failed("setting timeouts", e))?;
    let mut reader = BufReader::new(&stream);
    let mut writer = &stream;
    writer
        .write_all(b"Hello World!\n")
        .map_err(|e| failed("sending the greeting", e))?;

    let mut line = Vec::new();
    loop {
        match read_line(&mut reader, &mut line) {
            Ok(Line::Complete) => {}
            Ok(Line::End) => return Ok(()),
            Ok(Line::Cut) => return Err("the client left in the middle of a line".into()),
            Ok(Line::TooLong) => {
                hang_up(&stream, "error: line too long");
                return Err(format!("a line over {MAX_LINE} bytes; closed"));
            }
            Err(e) if is_timeout(&e) => {
                hang_up(&stream, "error: idle timeout");
                return Err(format!("silent for {idle:?}; closed"));
            }
            Err(e) => return Err(failed("reading", e)),
        }
        let Ok(text) = std::str::from_utf8(&line) else {
            writer
                .write_all(b"error: not UTF-8\n")
                .map_err(|e| failed("replying", e))?;
            continue;
        };
        if text == "exit" {
            hang_up(&stream, "bye");
            return Ok(());
        }
        #[cfg(feature = "panic-trigger")]
        if text == "!panic" {
            panic!("the test-only line !panic");
        }
        // Uniform over 1..=1000, both ends included.
        let ack = rng.random_range(1..=1000);
        writer
            .write_all(format!("{ack}:ACK!\n").as_bytes())
            .map_err(|e| failed("replying", e))?;
        shared.answered.fetch_add(1, Ordering::Relaxed);
    }
}
// ANCHOR_END: serve

// ANCHOR: read_line
/// What one call to [`read_line`] found.
enum Line {
    /// A whole line, now in the buffer without its `\n` or `\r\n`.
    Complete,
    /// End of stream between lines: the client closed (or half-closed) its side.
    End,
    /// End of stream in the middle of a line.
    Cut,
    /// More than [`MAX_LINE`] bytes without a newline.
    TooLong,
}

/// Reads one line into `line`, never buffering more than [`MAX_LINE`] (+2 for `\r\n`) bytes.
fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Line> {
    line.clear();
    let limit = MAX_LINE as u64 + 2;
    let n = reader.take(limit).read_until(b'\n', line)?;
    if line.last() == Some(&b'\n') {
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        return Ok(if line.len() > MAX_LINE {
            Line::TooLong
        } else {
            Line::Complete
        });
    }
    Ok(match n as u64 {
        0 => Line::End,
        n if n == limit => Line::TooLong,
        _ => Line::Cut,
    })
}
// ANCHOR_END: read_line

// ANCHOR: hang_up
/// Sends a last line and closes so that the client really gets it.
///
/// Closing a socket that still has unread bytes from the peer makes the kernel send a reset
/// (RST) instead of a FIN, and a reset can destroy our last line before the client reads it.
/// So: send the line, shut down our sending side (FIN), read and discard what the client still
/// sends until it closes too (at most a second, at most 1 MiB), and only then close.
fn hang_up(stream: &TcpStream, last_line: &str) {
    let mut writer = stream;
    let _ = writer.write_all(format!("{last_line}\n").as_bytes());
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let _ = io::copy(&mut stream.take(1 << 20), &mut io::sink());
}
// ANCHOR_END: hang_up

// ANCHOR: shutdown
/// Installs the Ctrl-C / SIGTERM handler. The first signal starts the graceful shutdown; a
/// second one cuts the grace period short (it sends on the returned channel).
fn on_ctrl_c(shared: Arc<Shared>, listening: SocketAddr) -> Result<Receiver<()>, String> {
    let (hurry_tx, hurry) = crossbeam_channel::bounded(1);
    // ctrlc's own signal handler only posts a semaphore; a thread of its own (`ctrl-c`) waits
    // on it and calls this closure. So this runs as ordinary code, where it may connect.
    ctrlc::set_handler(move || {
        if shared.stopping.swap(true, Ordering::SeqCst) {
            let _ = hurry_tx.try_send(());
            return;
        }
        // The acceptor sleeps inside accept(), and only a connection wakes accept() up.
        // Setting the flag alone would leave it asleep until the next client came, so we are
        // that next client. If the connect fails, the backlog is full and accept() is
        // about to return anyway.
        let _ = TcpStream::connect_timeout(&reachable(listening), Duration::from_secs(1));
    })
    .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))?;
    Ok(hurry)
}

/// Where to connect to reach our own listening socket: 0.0.0.0 means "every local address"
/// to bind(), but it is no destination, so use loopback instead.
fn reachable(listening: SocketAddr) -> SocketAddr {
    let ip = match listening.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listening.port())
}

/// Waits until every worker has ended, the grace period is over, or a second signal came.
fn wait_for_workers(done: &Receiver<()>, hurry: &Receiver<()>, grace: Duration, shared: &Shared) {
    crossbeam_channel::select! {
        // Fails (Err: disconnected) once the last worker has dropped its Sender.
        recv(done) -> _ => {}
        recv(hurry) -> _ => eprintln!(
            "second signal: closing {} conversations now",
            shared.active.load(Ordering::SeqCst)
        ),
        default(grace) => eprintln!(
            "grace period over: closing {} conversations still going on",
            shared.active.load(Ordering::SeqCst)
        ),
    }
}
// ANCHOR_END: shutdown

/// A panic on a worker is caught and reported in one line by the worker itself (see
/// [`worker`]), so Rust's usual multi-line report is left out for worker threads.
fn quiet_worker_panics() {
    let usual = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        let on_worker = thread::current()
            .name()
            .is_some_and(|name| name.starts_with("worker-"));
        if !on_worker {
            usual(info);
        }
    }));
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}

/// A read that ran out of time reports `WouldBlock` on Unix and `TimedOut` on Windows.
fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// Turns `--addr` into a socket address, or says what is wrong with it.
fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    let bad =
        || format!("`{text}` is not an address of the form HOST:PORT, such as 127.0.0.1:8888");
    text.to_socket_addrs()
        .map_err(|_| bad())?
        .next()
        .ok_or_else(bad)
}

/// Turns a failed bind into one sentence that says what to do.
fn explain_bind_error(addr: SocketAddr, e: io::Error) -> String {
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
