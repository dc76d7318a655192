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
use std::net::{
    IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs,
};
use std::panic::{self, AssertUnwindSafe};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

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

    /// Seconds a client has to send each whole line, counted from our previous reply (a total,
    /// not per read: a byte now and then does not extend it); also the time each reply may
    /// take to leave.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,

    /// On Ctrl-C or SIGTERM, seconds to let conversations in progress finish.
    #[arg(long, default_value_t = 5)]
    grace: u64,
}

/// The longest line we accept, without its line ending.
const MAX_LINE: usize = 64 * 1024;

/// After our last line to a client, how long we wait for that client to close its side.
const LINGER: Duration = Duration::from_secs(2);

// ANCHOR: main
fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(sentence) => {
            // One clear sentence and exit status 1: never a panic or a backtrace.
            log(format!("error: {sentence}"));
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
    /// Worker threads still running. Each worker counts itself out when it ends, even by a
    /// panic; at zero nothing is left to serve anyone.
    workers: AtomicUsize,
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
    let (workers, queue_places) = fit_in_descriptors(args.workers, args.queue)?;
    let listener = listen(addr).map_err(|e| explain_bind_error(addr, e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;

    let shared = Arc::new(Shared::default());
    let hurry = on_ctrl_c(Arc::clone(&shared), bound)?;
    quiet_worker_panics();

    // The queue between the acceptor and the workers. Bounded: when it is full, try_send fails
    // at once instead of letting connections (and their memory) pile up without limit.
    let (queue, connections) = crossbeam_channel::bounded::<Job>(queue_places as usize);
    // Nobody ever sends on `done`: each worker holds a Sender and drops it when it ends, and a
    // receive fails with "disconnected" once the last one is gone. A join with a deadline.
    let (done_tx, done) = crossbeam_channel::bounded::<()>(0);
    let idle = Duration::from_secs(args.idle_timeout);
    start_workers(workers, &connections, &shared, idle, &done_tx)?;
    drop(done_tx);

    // Only now, with the handler installed and the workers started, are we ready.
    say(format!("listening on {bound}"));
    let accepted = accept_loop(&listener, &queue, &shared, args.seed);

    // Closing the listening socket makes the kernel refuse new connections (RST) and reset
    // those still waiting in its backlog. Closing the queue's sending side lets each worker's
    // loop end once it has emptied the queue.
    drop(listener);
    drop(queue);
    accepted?;
    let grace = Duration::from_secs(args.grace);
    let open = shared.active.load(Ordering::SeqCst);
    say(format!(
        "shutting down: no new connections; waiting up to {grace:?} for {open} in progress"
    ));
    // Connections still in the queue were accepted but never greeted. Tell them now, rather
    // than let them wait for a worker that may not come before the grace period ends.
    turn_away_queued(&connections, &shared);
    drop(connections);
    wait_for_workers(&done, &hurry, grace, &shared);

    say(format!(
        "summary: connections served {}, messages answered {}, refused {}",
        shared.served.load(Ordering::SeqCst),
        shared.answered.load(Ordering::SeqCst),
        shared.refused.load(Ordering::SeqCst),
    ));
    // Returning from main ends the process; the kernel closes any socket still open.
    Ok(())
}
// ANCHOR_END: run

// ANCHOR: start_workers
// ANCHOR: start_workers_outside
/// Starts the pool: `count` threads named `worker-1` to `worker-N`, each running [`worker`] with
/// its own handle on the queue's receiving end and on `done`.
fn start_workers(
    count: u32,
    connections: &Receiver<Job>,
    shared: &Arc<Shared>,
    idle: Duration,
    done: &Sender<()>,
) -> Result<(), String> {
    // ANCHOR_END: start_workers_outside
    for id in 1..=count {
        // crossbeam's Receiver can be cloned: every worker takes from the same queue, and each
        // job goes to exactly one of them.
        let (connections, shared, done) = (connections.clone(), Arc::clone(shared), done.clone());
        shared.workers.fetch_add(1, Ordering::SeqCst);
        thread::Builder::new()
            .name(format!("worker-{id}"))
            .spawn(move || worker(id, connections, &shared, idle, done))
            .map_err(|e| format!("cannot start worker thread {id}: {e}"))?;
    }
    Ok(())
}
// ANCHOR_END: start_workers

// ANCHOR: listen
/// socket → SO_REUSEADDR → bind → listen, as in lesson 02.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Restart at once even while old connections of ours sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    // Finished handshakes wait in the kernel for accept(): on Linux up to 1024 + 1 of them, and
    // never more than net.core.somaxconn (4096 by default). The acceptor empties this queue
    // fast (it never serves anyone itself), so it rarely holds more than a few.
    socket.listen(1024)?;
    Ok(socket.into())
}
// ANCHOR_END: listen

// ANCHOR: accept_loop
/// The acceptor: take each connection from the kernel and hand it to the pool, or refuse it.
/// Returns when the server is stopping, or fails when no worker is left.
fn accept_loop(
    listener: &TcpListener,
    queue: &Sender<Job>,
    shared: &Shared,
    seed: Option<u64>,
) -> Result<(), String> {
    let mut number = 0;
    // One descriptor held in reserve, for when we run out (see `accept_with_spare`).
    let mut spare = spare_descriptor();
    let mut out_of_descriptors = false;
    loop {
        let accepted = listener.accept();
        // The shutdown handler sets `stopping` and then connects to us: that connection is
        // what wakes this thread from accept(), so the flag is checked right after it returns.
        if shared.stopping.load(Ordering::SeqCst) {
            return Ok(());
        }
        if shared.workers.load(Ordering::SeqCst) == 0 {
            return Err("every worker thread has stopped; nothing is left to serve".into());
        }
        let (stream, peer) = match accepted {
            Ok(connection) => connection,
            Err(e) => {
                if !out_of_descriptors {
                    // Such a shortage lasts: say so once, not once per attempt.
                    log(format!(
                        "accept failed: {e}; newcomers are told busy until it works"
                    ));
                    out_of_descriptors = true;
                }
                match accept_with_spare(listener, &mut spare) {
                    Some(connection) => connection,
                    None => continue,
                }
            }
        };
        number += 1;
        let job = Job {
            stream,
            peer,
            number,
            rng: connection_rng(seed, number),
        };
        if out_of_descriptors {
            if spare.is_none() {
                // Still out: we cannot serve this one. Tell it, close it, take the spare back.
                refuse(job, "busy: try again later", shared);
                spare = spare_descriptor();
                continue;
            }
            log("accept works again".to_string());
            out_of_descriptors = false;
        }
        hand_over(job, queue, shared);
    }
}

/// accept() failed, most likely for want of a file descriptor (EMFILE: this process has as
/// many open as its limit allows; ENFILE: the whole system has). The client stays in the
/// kernel's backlog, and every accept() fails again at once until a descriptor is free: the
/// client would hang there unanswered, and a loop retrying at once would spin. So we give
/// back the spare descriptor and accept with it, then try to take a spare again: if that
/// fails, the caller turns the client away. If even this accept fails, we pause.
fn accept_with_spare(
    listener: &TcpListener,
    spare: &mut Option<Socket>,
) -> Option<(TcpStream, SocketAddr)> {
    drop(spare.take());
    let accepted = listener.accept();
    *spare = spare_descriptor();
    if accepted.is_err() {
        thread::sleep(Duration::from_millis(100));
    }
    accepted.ok()
}

/// A descriptor held in reserve: an unused TCP socket, never bound or connected.
fn spare_descriptor() -> Option<Socket> {
    Socket::new(Domain::IPV4, Type::STREAM, None).ok()
}

/// Tells a client we cannot serve it and closes the connection.
fn refuse(job: Job, reason: &str, shared: &Shared) {
    // A short line into an empty send buffer: this write does not block.
    let _ = (&job.stream).write_all(format!("{reason}\n").as_bytes());
    shared.refused.fetch_add(1, Ordering::Relaxed);
    log(format!(
        "connection #{} from {}: {reason}",
        job.number, job.peer
    ));
    // Dropping the stream closes it.
}
// ANCHOR_END: accept_loop

// ANCHOR: hand_over
// ANCHOR: hand_over_outside
/// Puts the job in the queue or, when the queue is full, tells the client `busy: try again
/// later` and closes. It never waits: while the acceptor waits, nobody is accepted.
fn hand_over(job: Job, queue: &Sender<Job>, shared: &Shared) {
    // ANCHOR_END: hand_over_outside
    // try_send never blocks: either a place in the queue is free, or we say so at once. Asking
    // first (is_full) and sending after would be two steps, with room for a race between them.
    if let Err(TrySendError::Full(job) | TrySendError::Disconnected(job)) = queue.try_send(job) {
        refuse(job, "busy: try again later", shared);
    }
}
// ANCHOR_END: hand_over

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
fn worker(id: u32, connections: Receiver<Job>, shared: &Shared, idle: Duration, _done: Sender<()>) {
    // Counts this worker out of `shared.workers` when the thread ends, however it ends.
    let _count_out = CountOut(&shared.workers);
    // recv() sleeps while the queue is empty, and fails once the acceptor has dropped its
    // Sender and the queue is empty: that ends this loop, and the thread.
    for job in connections {
        if shared.stopping.load(Ordering::SeqCst) {
            // Accepted before the shutdown but not yet greeted: let it go rather than start
            // a conversation the grace period may cut short.
            refuse(job, "busy: server shutting down", shared);
            continue;
        }
        let (number, peer) = (job.number, job.peer);
        say(format!(
            "worker {id} serves connection #{number} from {peer}"
        ));
        shared.served.fetch_add(1, Ordering::Relaxed);
        shared.active.fetch_add(1, Ordering::SeqCst);
        // A panic while serving this client unwinds to here instead of ending the thread: the
        // stream (moved into serve) is dropped on the way, which closes the connection, and the
        // worker takes the next job. The pool keeps its size.
        let outcome = panic::catch_unwind(AssertUnwindSafe(|| serve(job, shared, idle)));
        shared.active.fetch_sub(1, Ordering::SeqCst);
        let what = match outcome {
            Ok(End::Exit | End::Closed) => continue,
            Ok(End::ClosedMidLine(n)) => {
                format!("the client left in the middle of a line, {n} bytes into it")
            }
            Ok(End::TooLong) => format!("a line over {MAX_LINE} bytes; closed"),
            Ok(End::Idle) => format!("sent no whole line within {idle:?}; closed"),
            Ok(End::Failed(e)) => format!("reading or writing failed: {e}"),
            Err(payload) => format!(
                "worker {id} panicked ({}); the connection is closed and the worker goes on",
                panic_message(&*payload)
            ),
        };
        log(format!("connection #{number} from {peer}: {what}"));
    }
}

/// Subtracts one from a counter when dropped: at the end of a scope, or while a panic unwinds.
struct CountOut<'a>(&'a AtomicUsize);

impl Drop for CountOut<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}
// ANCHOR_END: worker

// ANCHOR: serve
/// How a conversation ended, as in lesson 02.
enum End {
    /// The client said `exit`.
    Exit,
    /// The client closed (or half-closed) its side after a whole line.
    Closed,
    /// The client closed its side in the middle of a line, after this many bytes of it.
    ClosedMidLine(usize),
    /// The client sent a line longer than [`MAX_LINE`].
    TooLong,
    /// The client sent no whole line within the idle timeout.
    Idle,
    /// Reading or writing failed: a reset, or a client that stopped reading our replies.
    Failed(io::Error),
}

/// One conversation, then the last word when the server is the one to end it.
fn serve(job: Job, shared: &Shared, idle: Duration) -> End {
    let Job {
        stream, mut rng, ..
    } = job;
    let end = converse(&stream, &mut rng, shared, idle);
    match &end {
        End::Exit => hang_up(&stream, "bye"),
        End::TooLong => hang_up(&stream, "error: line too long"),
        End::Idle => hang_up(&stream, "error: idle timeout"),
        End::Closed | End::ClosedMidLine(_) | End::Failed(_) => {}
    }
    end
    // Dropping the stream closes the connection.
}

/// Greet, then answer every line until `exit`, the end of the stream or an error.
fn converse(stream: &TcpStream, rng: &mut StdRng, shared: &Shared, idle: Duration) -> End {
    // A reply that cannot leave within `idle` (a client that stops reading) fails with a
    // timeout, and so does a line that is not complete within `idle` (see `Deadline`).
    if let Err(e) = Deadline::after(stream, idle).write_all(b"Hello World!\n") {
        return End::Failed(e);
    }
    let mut reader = BufReader::new(Deadline::after(stream, idle));
    let mut line = Vec::new();
    loop {
        *reader.get_mut() = Deadline::after(stream, idle);
        let reply = match read_line(&mut reader, &mut line) {
            Ok(Line::Text(text)) if text == "exit" => return End::Exit,
            Ok(Line::Text(text)) => {
                panic_if_asked(&text);
                // Uniform over 1..=1000, both ends included.
                let ack = rng.random_range(1..=1000);
                shared.answered.fetch_add(1, Ordering::Relaxed);
                format!("{ack}:ACK!")
            }
            Ok(Line::NotUtf8) => "error: not UTF-8".to_string(),
            Ok(Line::TooLong) => return End::TooLong,
            Ok(Line::End) => return End::Closed,
            Ok(Line::Unfinished(n)) => return End::ClosedMidLine(n),
            Err(e) if is_timeout(&e) => return End::Idle,
            Err(e) => return End::Failed(e),
        };
        let sent = Deadline::after(stream, idle).write_all(format!("{reply}\n").as_bytes());
        if let Err(e) = sent {
            return End::Failed(e);
        }
    }
}
// ANCHOR_END: serve

/// The socket, with one deadline for all the reads and writes made through it, as in lesson
/// 02: a read timeout bounds each read, not a whole line, and a client sending a byte now and
/// then would keep a worker for ever (slowloris). Before every read or write we set the
/// socket's timeout to the time left; once none is left, the call fails with a timeout.
struct Deadline<'a> {
    stream: &'a TcpStream,
    at: Instant,
}

impl<'a> Deadline<'a> {
    /// Every read and write through this must be done `within` from now.
    fn after(stream: &'a TcpStream, within: Duration) -> Deadline<'a> {
        Deadline {
            stream,
            at: Instant::now() + within,
        }
    }

    /// The time left, or a timeout error once there is none.
    fn time_left(&self) -> io::Result<Duration> {
        let left = self.at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::TimedOut.into());
        }
        Ok(left)
    }
}

impl Read for Deadline<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.set_read_timeout(Some(self.time_left()?))?;
        let mut stream = self.stream;
        stream.read(buf)
    }
}

impl Write for Deadline<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.set_write_timeout(Some(self.time_left()?))?;
        let mut stream = self.stream;
        stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

// ANCHOR: read_line
/// What one call to [`read_line`] found, as in lesson 02.
enum Line {
    /// A whole line, without its `\n` or `\r\n`.
    Text(String),
    /// A whole line whose bytes are not UTF-8.
    NotUtf8,
    /// More than [`MAX_LINE`] bytes before a `\n`.
    TooLong,
    /// End of stream before the first byte of a line: the client closed its side.
    End,
    /// End of stream after this many bytes of a line, but before its `\n`.
    Unfinished(usize),
}

/// Reads one line, never holding more than [`MAX_LINE`] + 2 bytes of it (`\r\n` included).
fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Line> {
    // ANCHOR_END: read_line
    line.clear();
    let limit = MAX_LINE as u64 + 2;
    let n = reader.by_ref().take(limit).read_until(b'\n', line)?;
    if n == 0 {
        return Ok(Line::End);
    }
    if line.last() != Some(&b'\n') {
        // read_until stopped without a newline: either the limit or the end of the stream.
        return Ok(if n as u64 == limit {
            Line::TooLong
        } else {
            Line::Unfinished(n)
        });
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    if line.len() > MAX_LINE {
        return Ok(Line::TooLong);
    }
    Ok(match std::str::from_utf8(line) {
        Ok(text) => Line::Text(text.to_string()),
        Err(_) => Line::NotUtf8,
    })
}

// ANCHOR: hang_up
/// Says the last word and ends the connection so that the client really gets it; everything
/// here shares one deadline, LINGER.
///
/// Closing a socket that still has unread bytes from the peer makes the kernel send a reset
/// (RST) at once instead of a FIN, and throw away whatever of ours has not left yet. Our last
/// line may not have: Nagle's algorithm holds a small write back while an earlier one is
/// unacknowledged. (Linux keeps what did reach the client, which reads it and then gets
/// "connection reset"; other systems may discard even that.) So: send the line, shut down our
/// sending side (FIN), read and discard what the client still sends until it closes too or
/// LINGER passes, and only then close.
fn hang_up(stream: &TcpStream, last_line: &str) {
    let mut within_linger = Deadline::after(stream, LINGER);
    let _ = within_linger.write_all(format!("{last_line}\n").as_bytes());
    let _ = stream.shutdown(Shutdown::Write);
    let _ = io::copy(&mut within_linger, &mut io::sink());
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
// ANCHOR_END: shutdown

// ANCHOR: reachable
// ANCHOR: reachable_outside
/// Where to connect to reach our own listening socket. To bind(), 0.0.0.0 (or `::`) means
/// "every local address". As a destination, Linux takes it to mean this machine and connects
/// to loopback, but Windows refuses it; connecting to loopback ourselves works everywhere.
fn reachable(listening: SocketAddr) -> SocketAddr {
    // ANCHOR_END: reachable_outside
    let ip = match listening.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, listening.port())
}
// ANCHOR_END: reachable

// ANCHOR: turn_away_queued
// ANCHOR: turn_away_queued_outside
/// Tells every connection still in the queue `busy: server shutting down` and closes it. It
/// takes what is there now and does not wait for more.
fn turn_away_queued(connections: &Receiver<Job>, shared: &Shared) {
    // ANCHOR_END: turn_away_queued_outside
    // try_iter stops at the first empty moment, even while a Sender is alive; iterating the
    // Receiver itself would wait for jobs as long as one is.
    for job in connections.try_iter() {
        refuse(job, "busy: server shutting down", shared);
    }
}
// ANCHOR_END: turn_away_queued

// ANCHOR: wait_for_workers
/// Waits until every worker has ended, the grace period is over, or a second signal came.
fn wait_for_workers(done: &Receiver<()>, hurry: &Receiver<()>, grace: Duration, shared: &Shared) {
    crossbeam_channel::select! {
        // Fails (Err: disconnected) once the last worker has dropped its Sender.
        recv(done) -> _ => {}
        recv(hurry) -> _ => log(format!(
            "second signal: closing {} conversations now",
            shared.active.load(Ordering::SeqCst)
        )),
        default(grace) => log(format!(
            "grace period over: closing {} conversations still going on",
            shared.active.load(Ordering::SeqCst)
        )),
    }
}
// ANCHOR_END: wait_for_workers

// ANCHOR: log
/// One line on stdout, written in ONE call, and an error ignored.
///
/// Many threads log at once here. println! and eprintln! lock the stream for the whole line,
/// so two threads of this process never mix their lines; but eprintln! hands stderr, which
/// has no buffer, each piece of its format string in a write() of its own. Another process
/// writing to the same terminal or pipe (`2>&1`, a second server) can then slip its bytes
/// between the pieces. One write() of a whole line up to 4096 bytes (PIPE_BUF) reaches a pipe
/// in one piece. And println! panics when the write fails: after `lesson-03 | head -1` every
/// write to stdout fails, and a worker must not die of a log line.
fn say(line: String) {
    let _ = io::stdout().write_all(format!("{line}\n").as_bytes());
}

/// The same on stderr, for something that went wrong.
fn log(line: String) {
    let _ = io::stderr().write_all(format!("{line}\n").as_bytes());
}
// ANCHOR_END: log

// ANCHOR: descriptors
/// Descriptors the server needs besides those of its connections: standard input, output and
/// error, the listening socket, the spare, the Ctrl-C handler's pipe and the connection that
/// wakes the acceptor, with room to spare.
const RESERVED_DESCRIPTORS: u64 = 16;

/// Every connection a worker serves or the queue holds is an open file descriptor, and a
/// process may have only so many (RLIMIT_NOFILE, `ulimit -n`; often 1024). Raises that soft
/// limit to the hard one, the most an ordinary process may ask for, then lowers the workers
/// and the queue to what fits, saying so in one line; fails only when not one worker fits.
fn fit_in_descriptors(workers: u32, queue: u32) -> Result<(u32, u32), String> {
    let Some(limit) = raise_descriptor_limit() else {
        return Ok((workers, queue));
    };
    let room = limit.saturating_sub(RESERVED_DESCRIPTORS);
    if room == 0 {
        return Err(format!(
            "this process may open only {limit} files (ulimit -n), too few for even one \
             worker; raise the limit"
        ));
    }
    // The limit may be "unlimited" (u64::MAX): compare as u64, then the result fits in a u32.
    let fitted_workers = u64::from(workers).min(room) as u32;
    let fitted_queue = u64::from(queue).min(room - u64::from(fitted_workers)) as u32;
    if (fitted_workers, fitted_queue) != (workers, queue) {
        log(format!(
            "only {limit} open files allowed (ulimit -n): {fitted_workers} workers and a queue \
             of {fitted_queue} instead of {workers} and {queue}"
        ));
    }
    Ok((fitted_workers, fitted_queue))
}

/// Raises the soft limit on open files to the hard limit, and returns the limit now in force.
#[cfg(unix)]
fn raise_descriptor_limit() -> Option<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
    }
    Some(limit.rlim_cur)
}

/// Elsewhere there is no such limit to raise or to read.
#[cfg(not(unix))]
fn raise_descriptor_limit() -> Option<u64> {
    None
}
// ANCHOR_END: descriptors

/// The test builds only (feature `panic-trigger`, see Cargo.toml): the line `!panic` makes the
/// worker serving it panic, so that the tests can show the panic contained.
#[cfg(feature = "panic-trigger")]
fn panic_if_asked(text: &str) {
    if text == "!panic" {
        panic!("the test-only line !panic");
    }
}

/// The server that `cargo run` and `cargo build` make has no such trigger.
#[cfg(not(feature = "panic-trigger"))]
fn panic_if_asked(_text: &str) {}

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
