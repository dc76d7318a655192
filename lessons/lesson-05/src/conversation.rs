//! One connection's turn: write what waits, read what has arrived, frame it into lines and
//! answer them, all within a budget; then tell mio what to watch the socket for next.

use std::io::{ErrorKind, Read};
use std::net::Shutdown;
use std::time::Instant;

use mio::{Interest, Token};
use rand::RngExt;

use crate::connection::{Closed, Conn, State, flush, last_word, send, wants_to_read};
use crate::event_loop::Server;
use crate::{LINGER, MAX_DISCARD, MAX_LINE, MAX_OUTPUT, READ_BUDGET};

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

// ANCHOR: on_ready
impl Server<'_> {
    /// A connection's socket is ready (or may be). Do all it allows now, then decide what to
    /// watch for next, or close it.
    pub fn on_ready(&mut self, token: usize) {
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
}
// ANCHOR_END: on_ready

// ANCHOR: read
impl Server<'_> {
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
}
// ANCHOR_END: read

// ANCHOR: framing
impl Server<'_> {
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
}
// ANCHOR_END: framing

// ANCHOR: answer
impl Server<'_> {
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
}
// ANCHOR_END: answer

// ANCHOR: interest
impl Server<'_> {
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
}
// ANCHOR_END: interest
