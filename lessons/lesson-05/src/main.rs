//! Lesson 05: one thread, ten thousand connections.
//!
//! Lesson 03's protocol, exactly (`Hello World!`, `R:ACK!` for every line, `exit` → `bye`),
//! served by one thread that never blocks. Every socket is non-blocking: a read, write or accept
//! that cannot go on at once says `WouldBlock` instead of waiting. The thread asks the kernel
//! (epoll, through `mio`) which sockets are ready, does what each one allows, and asks again.
//! That is an event loop. Run it with `cargo run -p lesson-05`, and in other terminals
//! `cargo run -p lesson-05 --bin lesson-05-client` or `nc 127.0.0.1 8888`.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use socket2::{Domain, Protocol, Socket, Type};

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

// ANCHOR: conn
/// Where a conversation is. Each state says what we still want from the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Greeted; reading lines and answering them.
    Talking,
    /// Our last line (`bye`, an error, or the replies before the client's end of stream) is
    /// in `output`; once it is all written we send our FIN.
    Flushing,
    /// Our FIN is sent. We read and discard until the client's FIN, so that closing does not
    /// turn into a reset that could destroy our last line before the client reads it.
    Draining,
}

/// One client connection and everything the loop keeps for it between events.
struct Conn {
    stream: TcpStream,
    peer: SocketAddr,
    /// 1 for the first connection accepted, 2 for the next, and so on: also tells a timer of
    /// this connection from one of an earlier connection that had the same token.
    number: u64,
    rng: StdRng,
    state: State,
    /// Bytes of a line not yet complete. Empty (and unallocated) between lines, so an idle
    /// connection costs no buffer at all.
    input: Vec<u8>,
    /// Replies the socket did not take yet. Empty (and unallocated) while the client keeps up.
    output: Vec<u8>,
    /// When this connection's time runs out: the next line is due (Talking), the last line
    /// must be written (Flushing), or the client's FIN must have come (Draining).
    deadline: Instant,
    /// When the timer that watches this connection fires: never after `deadline`. `None`
    /// while no timer is set (the last one has just fired).
    armed: Option<Instant>,
    /// Bytes discarded while Draining.
    discarded: usize,
    /// What we asked mio to watch for, so we only tell it when that changes.
    interest: Interest,
}
// ANCHOR_END: conn

/// What the loop counts, for the summary line at the end (the same line as lesson 03's).
#[derive(Default)]
struct Counts {
    served: u64,
    answered: u64,
    refused: u64,
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

/// Everything the event loop owns. One thread, so no locks and no atomics: plain fields.
struct Server<'a> {
    poll: Poll,
    /// `None` once shutting down: the listening socket is closed.
    listener: Option<TcpListener>,
    /// The connection table: `conns[i]` is the connection with token `i`.
    conns: Vec<Option<Conn>>,
    /// Places in `conns` left free by closed connections, taken again before the table grows.
    free: Vec<usize>,
    /// Connections open right now.
    open: usize,
    /// Every deadline, earliest on top: (when, token, connection number).
    timers: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    next_number: u64,
    /// Set when accept() failed for want of descriptors: try again at this time.
    accept_paused_until: Option<Instant>,
    counts: Counts,
    log: Log,
    args: &'a Args,
    idle: Duration,
    /// Sockets that used up their budget this turn with bytes (or connections) still waiting.
    /// mio reports readiness on edges: no new event will come for what is already there, so
    /// the loop must come back to them itself, next turn.
    still_ready: Vec<Token>,
    /// One read buffer for the whole loop: a read lands here, and only what is left unanswered
    /// (an unfinished line) is copied to the connection's own `input`.
    scratch: Vec<u8>,
}

impl Server<'_> {
    // ANCHOR: event_loop
    /// The event loop: wait for readiness or the next deadline, handle what is ready, handle
    /// what has expired, and again, until shutdown is done.
    fn event_loop(&mut self, signals: &AtomicU32) {
        let mut events = Events::with_capacity(1024);
        let mut signals_seen = 0;
        let mut shutdown_by: Option<Instant> = None;
        loop {
            // The sockets left over from the last turn: served after this turn's events, so
            // the others get their turn first.
            let again = std::mem::take(&mut self.still_ready);
            // mio rounds the timeout up to whole milliseconds: we never wake before a deadline.
            let mut timeout = self
                .next_wake(shutdown_by)
                .map(|when| when.saturating_duration_since(Instant::now()));
            if !again.is_empty() {
                // Work is waiting: only look at what else is ready, do not sleep.
                timeout = Some(Duration::ZERO);
            }
            // The only place this thread waits. epoll_wait: "sleep until one of these is
            // ready, or until the timeout".
            if let Err(e) = self.poll.poll(&mut events, timeout)
                && e.kind() != ErrorKind::Interrupted
            {
                self.log.err(format!("poll failed: {e}"));
                return;
            }
            for event in events.iter() {
                self.serve(event.token());
            }
            for token in again {
                // If that connection was closed meanwhile, this does nothing; if its place was
                // taken by a new one, it is served a turn early, which is harmless.
                self.serve(token);
            }
            let now = Instant::now();
            self.expire_timers(now);
            if self.accept_paused_until.is_some_and(|until| until <= now) {
                self.accept_paused_until = None;
                self.accept_all();
            }

            // Signals: the handler thread counted them and woke us.
            let signalled = signals.load(Ordering::SeqCst);
            if signalled > signals_seen {
                if signals_seen == 0 {
                    shutdown_by = Some(now + Duration::from_secs(self.args.grace));
                    self.stop_accepting();
                }
                if signalled >= 2 {
                    self.log.err(format!(
                        "second signal: closing {} conversations now",
                        self.open
                    ));
                    return;
                }
                signals_seen = signalled;
            }
            if let Some(by) = shutdown_by {
                if self.open == 0 {
                    return;
                }
                if now >= by {
                    self.log.err(format!(
                        "grace period over: closing {} conversations still going on",
                        self.open
                    ));
                    return;
                }
            }
        }
    }

    /// Does what a ready socket allows, within its budget.
    fn serve(&mut self, token: Token) {
        match token {
            LISTENER => self.accept_all(),
            WAKER => {}
            Token(i) => self.on_ready(i),
        }
    }

    /// The earliest time the loop must wake up even if no socket becomes ready.
    fn next_wake(&self, shutdown_by: Option<Instant>) -> Option<Instant> {
        let timer = self.timers.peek().map(|Reverse((when, _, _))| *when);
        [timer, shutdown_by, self.accept_paused_until]
            .into_iter()
            .flatten()
            .min()
    }
    // ANCHOR_END: event_loop

    // ANCHOR: shutdown
    /// The first signal: close the listening socket. The kernel now refuses new connections,
    /// and those still waiting in its backlog are reset. Conversations in progress go on.
    fn stop_accepting(&mut self) {
        if let Some(mut listener) = self.listener.take() {
            let _ = self.poll.registry().deregister(&mut listener);
        }
        self.accept_paused_until = None;
        self.log.out(format!(
            "shutting down: no new connections; waiting up to {:?} for {} in progress",
            Duration::from_secs(self.args.grace),
            self.open
        ));
    }
    // ANCHOR_END: shutdown

    // ANCHOR: accept
    /// Accepts the connections waiting in the backlog, until accept() says `WouldBlock` or
    /// `ACCEPTS_PER_TURN` are taken. mio reports readiness on edges: if we stop before
    /// `WouldBlock`, no new event will remind us of the connections still waiting, so the
    /// listener goes on the `still_ready` list.
    fn accept_all(&mut self) {
        for _ in 0..ACCEPTS_PER_TURN {
            let Some(listener) = &self.listener else {
                return;
            };
            let (stream, peer) = match listener.accept() {
                Ok(accepted) => accepted,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if is_out_of_descriptors(&e) => {
                    // The connection stays in the backlog, and the listener stays ready: trying
                    // again at once would fail again at once, a busy loop. Wait a little (a
                    // timer, not a sleep: the other connections are still served meanwhile).
                    self.log.err(format!(
                        "accept failed: {e}; {} connections open; accepting again in {ACCEPT_PAUSE:?}",
                        self.open
                    ));
                    self.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                    return;
                }
                // A connection reset before we took it, for example: it concerns that
                // connection only.
                Err(e) => {
                    self.log.err(format!("accept failed: {e}"));
                    continue;
                }
            };
            self.next_number += 1;
            let number = self.next_number;
            if self.open >= self.args.max_connections as usize {
                // A short line into an empty send buffer: this write does not block, and if
                // it cannot go at once it is not sent at all.
                let _ = (&stream).write(b"busy: try again later\n");
                self.counts.refused += 1;
                self.log.err(format!(
                    "connection #{number} from {peer}: busy: try again later"
                ));
                continue; // dropping `stream` closes it
            }
            self.open_connection(stream, peer, number);
        }
        // The budget is spent and accept() has not said `WouldBlock`: more may wait. The
        // connections already open get their turn first; then we come back here.
        self.still_ready.push(LISTENER);
    }
    // ANCHOR_END: accept

    /// Registers a new connection, greets it, and starts its first deadline.
    fn open_connection(&mut self, mut stream: TcpStream, peer: SocketAddr, number: u64) {
        let token = self.free.pop().unwrap_or_else(|| {
            self.conns.push(None);
            self.conns.len() - 1
        });
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut stream, Token(token), Interest::READABLE)
        {
            self.log.err(format!(
                "connection #{number} from {peer}: cannot watch it: {e}"
            ));
            self.free.push(token);
            return;
        }
        let mut conn = Conn {
            stream,
            peer,
            number,
            rng: connection_rng(self.args.seed, number),
            state: State::Talking,
            input: Vec::new(),
            output: Vec::new(),
            deadline: Instant::now() + self.idle,
            armed: None,
            discarded: 0,
            interest: Interest::READABLE,
        };
        self.open += 1;
        self.counts.served += 1;
        self.arm(token, &mut conn);
        send(&mut conn, b"Hello World!\n");
        self.conns[token] = Some(conn);
        // The client may have sent lines before we got here: handle the socket as if it had
        // just become ready, so nothing waits for an edge that already passed.
        self.on_ready(token);
    }

    // ANCHOR: on_ready
    /// A connection's socket is ready (or may be). Do all it allows now, then decide what to
    /// watch for next, or close it.
    fn on_ready(&mut self, token: usize) {
        let Some(mut conn) = self.conns.get_mut(token).and_then(Option::take) else {
            // An event for a connection closed earlier in this same round.
            return;
        };
        match self.drive(&mut conn) {
            Ok(turn) => {
                if turn == Turn::MoreToRead {
                    self.still_ready.push(Token(token));
                }
                self.set_interest(token, &mut conn);
                self.arm(token, &mut conn);
                self.conns[token] = Some(conn);
            }
            Err(Closed { reason }) => {
                if let Some(reason) = reason {
                    self.log.err(format!(
                        "connection #{} from {}: {reason}",
                        conn.number, conn.peer
                    ));
                }
                self.close(token, conn);
            }
        }
    }

    /// Writes what is waiting, reads what has arrived, and answers it, until the socket says
    /// `WouldBlock` both ways, the client's output buffer is full, or it has had its
    /// `READ_BUDGET` for this turn.
    fn drive(&mut self, conn: &mut Conn) -> Result<Turn, Closed> {
        let mut read = 0;
        loop {
            flush(conn)?;
            if conn.state == State::Flushing && conn.output.is_empty() {
                // Everything we had to say is written: our FIN, then wait for the client's.
                let _ = conn.stream.shutdown(Shutdown::Write);
                conn.state = State::Draining;
                conn.deadline = Instant::now() + LINGER;
            }
            if !wants_to_read(conn) {
                return Ok(Turn::Done);
            }
            if conn.state == State::Talking && conn.input.contains(&b'\n') {
                // Whole lines left from before a pause (backpressure): answer them first.
                self.take_lines(conn, 0);
                continue;
            }
            if read >= READ_BUDGET {
                // Its turn is over, and bytes may still wait: the others go first.
                return Ok(Turn::MoreToRead);
            }
            match self.read_some(conn)? {
                // Nothing more to read now: wait for the next event.
                Reading::WouldBlock => return Ok(Turn::Done),
                // Something changed (output grew, or the state did): write, then maybe read on.
                Reading::Progress(n) => read += n,
            }
        }
    }
    // ANCHOR_END: on_ready

    // ANCHOR: read
    /// Reads once into the loop's scratch buffer and handles what came.
    fn read_some(&mut self, conn: &mut Conn) -> Result<Reading, Closed> {
        let n = match conn.stream.read(&mut self.scratch) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(Reading::WouldBlock),
            Err(e) if e.kind() == ErrorKind::Interrupted => return Ok(Reading::Progress(0)),
            // A reset after our last line: the conversation was over anyway.
            Err(_) if conn.state == State::Draining => return Err(Closed::quietly()),
            Err(e) => return Err(Closed::because(format!("reading failed: {e}"))),
        };
        if conn.state == State::Draining {
            conn.discarded += n;
            // End of stream: the client's FIN, the close we waited for. Or it sends too much.
            return if n == 0 || conn.discarded > MAX_DISCARD {
                Err(Closed::quietly())
            } else {
                Ok(Reading::Progress(n))
            };
        }
        if n == 0 {
            return self.end_of_stream(conn);
        }
        self.take_lines(conn, n);
        Ok(Reading::Progress(n))
    }

    /// The client closed its sending side. Between lines that is the end of the conversation;
    /// replies it has not received yet are still written before we close.
    fn end_of_stream(&mut self, conn: &mut Conn) -> Result<Reading, Closed> {
        if !conn.input.is_empty() {
            return Err(Closed::because(
                "the client left in the middle of a line".into(),
            ));
        }
        if conn.output.is_empty() {
            return Err(Closed::quietly());
        }
        conn.state = State::Flushing;
        conn.deadline = Instant::now() + self.idle;
        Ok(Reading::Progress(0))
    }
    // ANCHOR_END: read

    // ANCHOR: framing
    /// Line framing across reads: `scratch[..n]` just arrived, `conn.input` holds what came
    /// before and is not answered yet (the start of a line, or lines held back by a pause).
    /// Answer every complete line while there is room for the replies; keep the rest.
    fn take_lines(&mut self, conn: &mut Conn, n: usize) {
        let scratch = std::mem::take(&mut self.scratch);
        let mut pending = std::mem::take(&mut conn.input);
        // Usually nothing is pending: the lines are answered straight from the scratch buffer,
        // and nothing is copied unless part of a line is left over.
        let bytes: &[u8] = if pending.is_empty() {
            &scratch[..n]
        } else {
            pending.extend_from_slice(&scratch[..n]);
            &pending
        };
        let rest = self.answer_lines(conn, bytes);
        // Keep only what is not answered yet; between lines that is nothing, and then the
        // connection holds no buffer at all.
        conn.input = rest.map(<[u8]>::to_vec).unwrap_or_default();
        self.scratch = scratch;
    }

    /// Answers the complete lines at the start of `bytes`, and returns what is left to keep:
    /// `None` when nothing is (the conversation is ending, or the rest is already too long).
    fn answer_lines<'b>(&mut self, conn: &mut Conn, bytes: &'b [u8]) -> Option<&'b [u8]> {
        let mut start = 0;
        while conn.state == State::Talking && conn.output.len() < MAX_OUTPUT {
            let Some(end) = bytes[start..].iter().position(|&b| b == b'\n') else {
                break;
            };
            let mut line = &bytes[start..start + end];
            start += end + 1;
            if let Some(without_cr) = line.strip_suffix(b"\r") {
                line = without_cr;
            }
            if line.len() > MAX_LINE {
                self.too_long(conn, line);
                return None;
            }
            self.answer(conn, line);
            // A complete line: the client has a whole idle timeout again for the next one.
            conn.deadline = Instant::now() + self.idle;
        }
        if conn.state != State::Talking {
            // After `exit`, the rest is never answered (as in lesson 03).
            return None;
        }
        let rest = &bytes[start..];
        // MAX_LINE bytes and a `\r` may still become a line; one byte more cannot.
        if rest.len() > MAX_LINE + 1 && !rest.contains(&b'\n') {
            self.too_long(conn, rest);
            return None;
        }
        Some(rest)
    }
    // ANCHOR_END: framing

    // ANCHOR: answer
    /// One complete line, without its line ending.
    fn answer(&mut self, conn: &mut Conn, line: &[u8]) {
        let Ok(text) = std::str::from_utf8(line) else {
            send(conn, b"error: not UTF-8\n");
            return;
        };
        if text == "exit" {
            last_word(conn, "bye", self.idle);
            return;
        }
        // Uniform over 1..=1000, both ends included.
        let ack = conn.rng.random_range(1..=1000);
        send(conn, format!("{ack}:ACK!\n").as_bytes());
        self.counts.answered += 1;
    }

    fn too_long(&mut self, conn: &mut Conn, line: &[u8]) {
        last_word(conn, "error: line too long", self.idle);
        // Client text goes to the log escaped: a line of terminal escape codes stays text.
        let start = &line[..line.len().min(32)];
        self.log.err(format!(
            "connection #{} from {}: a line over {MAX_LINE} bytes (starting \"{}\"); closed",
            conn.number,
            conn.peer,
            start.escape_ascii()
        ));
    }
    // ANCHOR_END: answer

    // ANCHOR: interest
    /// Tells mio what to watch this socket for, if that changed: readable while we want the
    /// client's bytes, writable while replies wait in `output`.
    fn set_interest(&mut self, token: usize, conn: &mut Conn) {
        let wanted = match (wants_to_read(conn), !conn.output.is_empty()) {
            (true, true) => Interest::READABLE | Interest::WRITABLE,
            (false, true) => Interest::WRITABLE,
            // While not writing, keep watching for readability even when we do not want to
            // read: it is also how a reset or the client's close shows up.
            _ => Interest::READABLE,
        };
        if wanted != conn.interest {
            // epoll_ctl(EPOLL_CTL_MOD): if the socket is already ready for the new interest,
            // the kernel reports it at once, so turning reading back on misses nothing.
            match self
                .poll
                .registry()
                .reregister(&mut conn.stream, Token(token), wanted)
            {
                Ok(()) => conn.interest = wanted,
                Err(e) => self.log.err(format!("cannot change interest: {e}")),
            }
        }
    }
    // ANCHOR_END: interest

    // ANCHOR: timers
    /// Makes sure a timer fires at or before `conn.deadline`. Deadlines mostly move later (each
    /// line gives the client more time), and then nothing is pushed: the timer fires, finds the
    /// deadline moved, and goes back in for the new time. So the heap holds about one entry per
    /// connection, however many lines they send, and no connection needs a thread to wait.
    fn arm(&mut self, token: usize, conn: &mut Conn) {
        if conn.armed.is_none_or(|armed| conn.deadline < armed) {
            conn.armed = Some(conn.deadline);
            self.timers
                .push(Reverse((conn.deadline, token, conn.number)));
        }
    }

    /// Closes every connection whose deadline has passed.
    fn expire_timers(&mut self, now: Instant) {
        while let Some(&Reverse((when, token, number))) = self.timers.peek() {
            if when > now {
                return;
            }
            self.timers.pop();
            let live = |c: &&mut Conn| c.number == number && c.armed == Some(when);
            let Some(conn) = self.conns[token].as_mut().filter(live) else {
                continue; // that connection is gone, or this timer was replaced by an earlier one
            };
            if conn.deadline > now {
                // The deadline moved later since this timer was set: wait for the new one.
                conn.armed = Some(conn.deadline);
                self.timers.push(Reverse((conn.deadline, token, number)));
                continue;
            }
            // This timer has fired: none is set now, and the next deadline needs a new one.
            conn.armed = None;
            let conn = self.conns[token].take().expect("checked above");
            self.time_out(token, conn);
        }
    }

    /// A deadline passed: in conversation, the client gets `error: idle timeout` and a linger
    /// of its own; otherwise the connection is closed now.
    fn time_out(&mut self, token: usize, mut conn: Conn) {
        if conn.state != State::Talking {
            self.close(token, conn);
            return;
        }
        self.log.err(format!(
            "connection #{} from {}: no complete line for {:?}; closed",
            conn.number, conn.peer, self.idle
        ));
        // The client may not be reading at all: give the last word LINGER, not a whole timeout.
        last_word(&mut conn, "error: idle timeout", LINGER);
        self.conns[token] = Some(conn);
        self.on_ready(token);
    }
    // ANCHOR_END: timers

    /// Forgets a connection: deregisters it, frees its place, and closes the socket.
    fn close(&mut self, token: usize, mut conn: Conn) {
        let _ = self.poll.registry().deregister(&mut conn.stream);
        self.free.push(token);
        self.open -= 1;
        // Dropping `conn` closes the socket and frees its buffers.
    }
}

// ANCHOR: write
/// Queues `bytes` for the client. When nothing is waiting, try the socket first: most replies
/// go out at once, and `output` is never allocated.
fn send(conn: &mut Conn, bytes: &[u8]) {
    let mut written = 0;
    if conn.output.is_empty() {
        written = write_some(&mut conn.stream, bytes);
    }
    conn.output.extend_from_slice(&bytes[written..]);
}

/// Writes as much of `bytes` as the socket takes now; returns how much. A failed write is
/// left for the next read to report (it returns the same error, or end of stream).
fn write_some(stream: &mut TcpStream, bytes: &[u8]) -> usize {
    let mut written = 0;
    while written < bytes.len() {
        match stream.write(&bytes[written..]) {
            Ok(0) => break,
            Ok(n) => written += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // WouldBlock: the send buffer is full. Other errors: see above.
            Err(_) => break,
        }
    }
    written
}

/// Writes what waits in `output` until it is empty or the socket says `WouldBlock`.
fn flush(conn: &mut Conn) -> Result<(), Closed> {
    // Exercise 3 does the writing: our answer, or yours when built with `--features mine`.
    match lesson_05::flush(&mut conn.stream, &mut conn.output) {
        // All written. Give the memory back: this client may now stay idle for a long time.
        Ok(true) => {
            conn.output = Vec::new();
            Ok(())
        }
        // The send buffer is full: the rest waits in `output` for a writable event.
        Ok(false) => Ok(()),
        // After our last line, a failed write ends a conversation that was over anyway.
        Err(_) if conn.state != State::Talking => Err(Closed::quietly()),
        Err(e) => Err(Closed::because(format!("writing failed: {e}"))),
    }
}
// ANCHOR_END: write

// ANCHOR: backpressure
/// Whether we want the client's bytes now. Not while its unread replies fill `output`: that is
/// backpressure. We stop reading, its lines wait in the kernel's buffers, the client's own
/// send buffer fills, and its writes block. Not our loop.
fn wants_to_read(conn: &Conn) -> bool {
    match conn.state {
        State::Talking => conn.output.len() < MAX_OUTPUT,
        State::Flushing => false,
        State::Draining => true,
    }
}
// ANCHOR_END: backpressure

/// Queues a last line; once it is written the connection is closed (see [`State`]), and all of
/// that must happen within `within`.
fn last_word(conn: &mut Conn, line: &str, within: Duration) {
    send(conn, format!("{line}\n").as_bytes());
    conn.state = State::Flushing;
    conn.deadline = Instant::now() + within;
}

/// How a connection's turn ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Turn {
    /// It waits for an event: nothing more to read, or its replies must go out first.
    Done,
    /// Its budget ran out before the socket said `WouldBlock`.
    MoreToRead,
}

/// What one read came to.
enum Reading {
    WouldBlock,
    /// Something changed: `n` bytes were read (0 for an interruption or the end of stream).
    Progress(usize),
}

/// A connection to close, and why, if the log should hear of it.
struct Closed {
    reason: Option<String>,
}

impl Closed {
    fn quietly() -> Closed {
        Closed { reason: None }
    }
    fn because(reason: String) -> Closed {
        Closed {
            reason: Some(reason),
        }
    }
}

/// EMFILE (this process is out of descriptors) or ENFILE (the whole system is).
fn is_out_of_descriptors(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

// ANCHOR: log
/// The log: lines go through a bounded queue to a thread that writes them. If whoever reads our
/// stderr (a terminal, a pipe, a log collector) is slow or stuck, the queue fills and new lines
/// are dropped and counted: a write to a full pipe would block, and here it would block every
/// client at once.
struct Log {
    queue: Option<mpsc::SyncSender<(Stream, String)>>,
    dropped: u64,
    /// Says when the writer thread has written everything and ended.
    done: mpsc::Receiver<()>,
}

#[derive(Clone, Copy)]
enum Stream {
    Out,
    Err,
}

impl Log {
    fn start() -> Log {
        let (queue, lines) = mpsc::sync_channel::<(Stream, String)>(LOG_QUEUE);
        let (done_tx, done) = mpsc::channel();
        thread::spawn(move || {
            for (stream, line) in lines {
                match stream {
                    Stream::Out => println!("{line}"),
                    Stream::Err => eprintln!("{line}"),
                }
            }
            let _ = done_tx.send(());
        });
        Log {
            queue: Some(queue),
            dropped: 0,
            done,
        }
    }

    fn out(&mut self, line: String) {
        self.push(Stream::Out, line);
    }

    fn err(&mut self, line: String) {
        self.push(Stream::Err, line);
    }

    fn push(&mut self, stream: Stream, line: String) {
        if let Some(queue) = &self.queue
            && queue.try_send((stream, line)).is_err()
        {
            self.dropped += 1;
        }
    }

    /// At the end: lets the writer empty the queue (for at most a second), and says how many
    /// lines were lost.
    fn finish(&mut self) {
        if self.dropped > 0 {
            let dropped = format!("log: {} lines dropped (stderr was not read)", self.dropped);
            self.err(dropped);
        }
        self.queue = None;
        let _ = self.done.recv_timeout(Duration::from_secs(1));
    }
}
// ANCHOR_END: log

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

/// The random numbers for connection `number`, exactly as lesson 03 makes them: with `--seed S`
/// the same seed gives the N-th connection the same ACKs.
fn connection_rng(seed: Option<u64>, number: u64) -> StdRng {
    match seed {
        Some(seed) => {
            let mut key = [0u8; 32];
            key[..8].copy_from_slice(&seed.to_le_bytes());
            key[8..16].copy_from_slice(&number.to_le_bytes());
            StdRng::from_seed(key)
        }
        None => rand::make_rng(),
    }
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
