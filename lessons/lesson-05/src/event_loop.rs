//! The event loop: one thread asks the kernel which sockets are ready, does what each allows,
//! and asks again.
//!
//! `Server` holds everything the loop owns. This file has the loop itself, shutdown, accepting,
//! and the timers; what one connection does in its turn is in `conversation.rs`. `impl Server`
//! comes in several blocks, one for each part of the loop, so that each reads (and the chapter
//! shows it) on its own.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, ErrorKind, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use crate::connection::{Conn, State, connection_rng, last_word, send};
use crate::log::Log;
use crate::{ACCEPT_PAUSE, ACCEPTS_PER_TURN, Args, LINGER, LISTENER, WAKER};

/// What the loop counts, for the summary line at the end (the same line as lesson 03's).
#[derive(Default)]
pub struct Counts {
    pub served: u64,
    pub answered: u64,
    pub refused: u64,
}

/// Everything the event loop owns. One thread, so no locks and no atomics: plain fields.
pub struct Server<'a> {
    pub poll: Poll,
    /// `None` once shutting down: the listening socket is closed.
    pub listener: Option<TcpListener>,
    /// The connection table: `conns[i]` is the connection with token `i`.
    pub conns: Vec<Option<Conn>>,
    /// Places in `conns` left free by closed connections, taken again before the table grows.
    pub free: Vec<usize>,
    /// Connections open right now.
    pub open: usize,
    /// Every deadline, earliest on top: (when, token, connection number).
    pub timers: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    pub next_number: u64,
    /// Set when accept() failed for want of descriptors: try again at this time.
    pub accept_paused_until: Option<Instant>,
    pub counts: Counts,
    pub log: Log,
    pub args: &'a Args,
    pub idle: Duration,
    /// Sockets that used up their budget this turn with bytes (or connections) still waiting.
    /// mio reports readiness on edges: no new event will come for what is already there, so
    /// the loop must come back to them itself, next turn.
    pub still_ready: Vec<Token>,
    /// One read buffer for the whole loop: a read lands here, and only what is left unanswered
    /// (an unfinished line) is copied to the connection's own `input`.
    pub scratch: Vec<u8>,
}

// ANCHOR: event_loop
impl Server<'_> {
    /// The event loop: wait for readiness or the next deadline, handle what is ready, handle
    /// what has expired, and again, until shutdown is done.
    pub fn event_loop(&mut self, signals: &AtomicU32) {
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
}
// ANCHOR_END: event_loop

// ANCHOR: shutdown
impl Server<'_> {
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
}
// ANCHOR_END: shutdown

// ANCHOR: accept
impl Server<'_> {
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
}
// ANCHOR_END: accept

impl Server<'_> {
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
}

// ANCHOR: timers
impl Server<'_> {
    /// Makes sure a timer fires at or before `conn.deadline`. Deadlines mostly move later (each
    /// line gives the client more time), and then nothing is pushed: the timer fires, finds the
    /// deadline moved, and goes back in for the new time. So the heap holds about one entry per
    /// connection, however many lines they send, and no connection needs a thread to wait.
    pub fn arm(&mut self, token: usize, conn: &mut Conn) {
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
}
// ANCHOR_END: timers

impl Server<'_> {
    /// Forgets a connection: deregisters it, frees its place, and closes the socket.
    pub fn close(&mut self, token: usize, mut conn: Conn) {
        let _ = self.poll.registry().deregister(&mut conn.stream);
        self.free.push(token);
        self.open -= 1;
        // Dropping `conn` closes the socket and frees its buffers.
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
