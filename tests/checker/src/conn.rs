//! A client connection for the checks: every wait has a deadline, and whatever happens (a line,
//! the connection closing, a reset, nothing at all) is reported as what the checker saw, never
//! as a panic.

use std::fmt;
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use socket2::SockRef;

use crate::check::Verdict;
use crate::report::{Outcome, fail};

/// The longest line the checker reads from a server: a reply longer than this is a fault.
pub const MAX_LINE: usize = 64 * 1024;

/// How a server's replies are delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Each reply is a line ending in `\n` (or `\r\n`): the course's protocols.
    Lines,
    /// Each reply is whatever one read returns: the original Python programs, which send no
    /// newline at all.
    Reads,
}

/// What the checker got when it waited for a reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Got {
    Reply(String),
    /// The server closed the connection (end of stream), after these bytes of an unfinished line.
    Closed(Vec<u8>),
    Reset,
    /// Nothing at all arrived for this long.
    Nothing(Duration),
    /// A line longer than [`MAX_LINE`] bytes (and still going).
    TooLong,
    Error(String),
}

impl fmt::Display for Got {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Got::Reply(text) => write!(f, "{}", quote(text.as_bytes())),
            Got::Closed(rest) if rest.is_empty() => write!(f, "the connection closed"),
            Got::Closed(rest) => write!(
                f,
                "the connection closed after {} with no newline",
                quote(rest)
            ),
            Got::Reset => write!(f, "the connection reset"),
            Got::Nothing(waited) => write!(f, "nothing for {:.1} s", waited.as_secs_f64()),
            Got::TooLong => write!(f, "a line longer than {MAX_LINE} bytes"),
            Got::Error(what) => write!(f, "{what}"),
        }
    }
}

/// Bytes as a short quoted string for a report line: `"message 1: hi\n"`, cut after 80
/// characters with the total length.
pub fn quote(bytes: &[u8]) -> String {
    let (shown, cut) = quote_start(bytes, 80);
    if cut {
        format!("{shown}… ({} bytes)", bytes.len())
    } else {
        shown
    }
}

/// The first `chars` characters of `bytes`, quoted, and whether there was more.
fn quote_start(bytes: &[u8], chars: usize) -> (String, bool) {
    let text = String::from_utf8_lossy(bytes);
    let shown: String = text.chars().take(chars).collect();
    let cut = shown.len() < text.len();
    (format!("{shown:?}"), cut)
}

/// How a [`Conn::drain`] ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Closed,
    Reset,
    /// Still open when the time was up.
    StillOpen,
}

/// What [`Conn::drain`] read.
pub struct Drained {
    /// The first bytes read (up to the limit given).
    pub bytes: Vec<u8>,
    /// How many bytes were read in all.
    pub total: usize,
    pub end: End,
}

impl Drained {
    /// For a report line: what arrived, and how it ended.
    pub fn describe(&self) -> String {
        let what = if self.total == 0 {
            "nothing".to_string()
        } else if self.total > self.bytes.len() {
            let (start, _) = quote_start(&self.bytes, 40);
            format!("{} bytes starting {start}…", self.total)
        } else {
            quote(&self.bytes)
        };
        match self.end {
            End::Closed => format!("{what} then the connection closed"),
            End::Reset => format!("{what} then the connection reset"),
            End::StillOpen => format!("{what} and the connection still open"),
        }
    }
}

/// One client connection.
pub struct Conn {
    stream: TcpStream,
    /// Bytes received but not yet handed out.
    pending: Vec<u8>,
    framing: Framing,
    timeout: Duration,
}

impl Conn {
    /// Connects within `timeout`; later waits for a reply also last at most `timeout`.
    pub fn open(addr: SocketAddr, framing: Framing, timeout: Duration) -> Result<Conn, Outcome> {
        Conn::try_open(addr, framing, timeout).map_err(|e| {
            fail(
                format!("the connection failed ({e})"),
                format!("a server listening on {addr}"),
            )
        })
    }

    /// Like [`Conn::open`], with the error as it is.
    pub fn try_open(addr: SocketAddr, framing: Framing, timeout: Duration) -> io::Result<Conn> {
        let stream = TcpStream::connect_timeout(&addr, timeout)?;
        // A write to a server that does not read must not block for ever either.
        stream.set_write_timeout(Some(timeout))?;
        Ok(Conn {
            stream,
            pending: Vec::new(),
            framing,
            timeout,
        })
    }

    pub fn stream(&self) -> &TcpStream {
        &self.stream
    }

    pub fn framing(&self) -> Framing {
        self.framing
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends all of `bytes` in one write.
    pub fn send(&mut self, bytes: impl AsRef<[u8]>) -> Result<(), Outcome> {
        self.stream.write_all(bytes.as_ref()).map_err(|e| {
            fail(
                format!("sending failed ({e})"),
                "the server to take what a client sends",
            )
        })
    }

    /// Waits at most the connection's timeout for the next reply.
    pub fn reply(&mut self) -> Got {
        self.reply_within(self.timeout)
    }

    /// Waits at most `wait` for the next reply: the next line, or with [`Framing::Reads`]
    /// whatever the next read returns.
    pub fn reply_within(&mut self, wait: Duration) -> Got {
        let deadline = Instant::now() + wait;
        loop {
            if self.framing == Framing::Reads && !self.pending.is_empty() {
                let bytes = std::mem::take(&mut self.pending);
                return Got::Reply(String::from_utf8_lossy(&bytes).into_owned());
            }
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.pending.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Got::Reply(String::from_utf8_lossy(&line).into_owned());
            }
            if self.pending.len() > MAX_LINE {
                return Got::TooLong;
            }
            match self.read_some(deadline) {
                Ok(0) => return Got::Closed(std::mem::take(&mut self.pending)),
                Ok(_) => {}
                Err(Got::Nothing(_)) => return Got::Nothing(wait),
                Err(got) => return got,
            }
        }
    }

    /// Checks that nothing at all arrives (no reply, no close) for `quiet`.
    pub fn expect_nothing(&mut self, quiet: Duration, why: &str) -> Result<(), Outcome> {
        if !self.pending.is_empty() {
            return Err(fail(quote(&self.pending), why));
        }
        match self.read_some(Instant::now() + quiet) {
            Err(Got::Nothing(_)) => Ok(()),
            Ok(0) => Err(fail("the connection closed", why)),
            Ok(_) => Err(fail(quote(&std::mem::take(&mut self.pending)), why)),
            Err(got) => Err(fail(got.to_string(), why)),
        }
    }

    /// Reads until the server closes the connection or `wait` has passed, keeping the first
    /// `keep` bytes and counting the rest. Reading on keeps a server that floods us from
    /// blocking, so a busy loop stays visible.
    pub fn drain(&mut self, wait: Duration, keep: usize) -> Drained {
        let deadline = Instant::now() + wait;
        let mut bytes = std::mem::take(&mut self.pending);
        let mut total = bytes.len();
        let end = loop {
            match self.read_some(deadline) {
                Ok(0) => break End::Closed,
                Ok(n) => {
                    total += n;
                    let room = keep.saturating_sub(bytes.len());
                    bytes.extend(self.pending.iter().take(room));
                    self.pending.clear();
                }
                Err(Got::Reset) => break End::Reset,
                Err(_) => break End::StillOpen,
            }
        };
        bytes.truncate(keep);
        Drained { bytes, total, end }
    }

    /// Waits until `deadline` at most for exactly `n` more bytes, for a protocol that says how
    /// many are coming (lesson 04's frames) rather than ending each message with a newline.
    /// The end of the stream before `n` bytes is `Got::Closed` with the bytes that did come.
    pub fn take(&mut self, n: usize, deadline: Instant) -> Result<Vec<u8>, Got> {
        while self.pending.len() < n {
            match self.read_some(deadline) {
                Ok(0) => return Err(Got::Closed(std::mem::take(&mut self.pending))),
                Ok(_) => {}
                Err(got) => return Err(got),
            }
        }
        Ok(self.pending.drain(..n).collect())
    }

    /// Sends `bytes` one at a time, one every `gap`, reading (and dropping) whatever the
    /// server sends, until the server closes the connection or `limit` has passed. `Ok`: it
    /// closed; `Err`: a failure saying how long it stayed open.
    pub fn trickle(&mut self, bytes: &[u8], gap: Duration, limit: Duration) -> Verdict {
        let started = Instant::now();
        let mut sent = 0;
        while started.elapsed() < limit {
            if let Some(byte) = bytes.get(sent) {
                // A write that fails: the server has closed (or reset) the connection.
                if self.stream.write_all(&[*byte]).is_err() {
                    return Ok(());
                }
                sent += 1;
            }
            let wait = gap.min(limit.saturating_sub(started.elapsed()));
            match self.drain(wait, 0).end {
                End::Closed | End::Reset => return Ok(()),
                End::StillOpen => {}
            }
        }
        Err(fail(
            format!(
                "the connection still open after {:.1} s, {sent} bytes sent one every {:.2} s",
                started.elapsed().as_secs_f64(),
                gap.as_secs_f64()
            ),
            format!("the connection closed within {:.1} s", limit.as_secs_f64()),
        ))
    }

    /// Half-closes: sends FIN, so the server reads end of stream, while we can still read.
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }

    /// Closes with a reset (RST) instead of a FIN: SO_LINGER with a zero timeout.
    pub fn reset(self) {
        let _ = SockRef::from(&self.stream).set_linger(Some(Duration::ZERO));
    }

    /// One read into `pending`, waiting until `deadline` at most. `Ok(0)` is end of stream.
    fn read_some(&mut self, deadline: Instant) -> Result<usize, Got> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Got::Nothing(Duration::ZERO));
        }
        let started = Instant::now();
        // A zero timeout would mean "wait for ever": `left` is at least a nanosecond here.
        let _ = self.stream.set_read_timeout(Some(left));
        let mut buf = [0u8; 16 * 1024];
        match self.stream.read(&mut buf) {
            Ok(n) => {
                self.pending.extend_from_slice(&buf[..n]);
                Ok(n)
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                Err(Got::Nothing(started.elapsed()))
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
                ) =>
            {
                Err(Got::Reset)
            }
            Err(e) => Err(Got::Error(format!("a read error ({e})"))),
        }
    }
}
