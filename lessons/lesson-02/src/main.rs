//! Lesson 02: a server that serves clients one after another, forever, and counts each client's
//! messages.
//!
//! The protocol is lines of UTF-8 text. The server greets each client with `Connected!`, answers
//! its N-th message with `message N: TEXT`, and answers `exit` with `bye` before closing. Bad
//! input (bytes that are not UTF-8, a line that never ends, a client that vanishes, resets or
//! says nothing) never takes the server down: that client gets an error line or is closed, and
//! the next one is served. Run it with `cargo run -p lesson-02`, and in a second terminal
//! `cargo run -p lesson-02 --bin lesson-02-client` (or `nc 127.0.0.1 8888`).

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use socket2::{Domain, Protocol, Socket, Type};

// ANCHOR: constants
/// The first line every client gets.
const GREETING: &str = "Connected!";

/// The longest line the server accepts, in bytes, not counting the `\n` (or `\r\n`) that ends
/// it. Without a limit, a client that never sends `\n` makes the server buffer without end.
const MAX_LINE: usize = 64 * 1024;

/// After its last line to a client, how long the server waits for that client to close its side.
const LINGER: Duration = Duration::from_secs(2);
// ANCHOR_END: constants

/// Lesson 02: serve clients one after another, forever, counting each client's messages.
#[derive(Parser)]
#[command(name = "lesson-02", version, about)]
struct Args {
    /// Address to listen on, as HOST:PORT. Port 0 lets the kernel pick a free port.
    #[arg(long, default_value = "127.0.0.1:8888")]
    addr: String,

    /// Seconds a client has to send each whole line, counted from our previous reply (a total,
    /// not per read: a byte now and then does not extend it); also the time each reply may
    /// take to leave.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,

    /// Do not set SO_REUSEADDR: shows a restart failing while a connection is in TIME_WAIT.
    #[arg(long)]
    no_reuseaddr: bool,
}

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

// ANCHOR: run
fn run(args: &Args) -> Result<(), String> {
    let addr = parse_addr(&args.addr)?;
    let reuse_addr = !args.no_reuseaddr;
    let listener = listen(addr, reuse_addr).map_err(|e| explain_bind_error(addr, reuse_addr, e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    say(format!("listening on {bound}"));

    let idle = Duration::from_secs(args.idle_timeout);
    // One client at a time, forever. While we serve one, the kernel completes the handshakes
    // of the next ones by itself and queues them (the backlog) until we call accept() again.
    let mut failing = false;
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                if failing {
                    log("accept works again".to_string());
                    failing = false;
                }
                serve(stream, peer, idle);
            }
            Err(e) => {
                // accept() fails for lack of resources: too many open files (EMFILE, ENFILE),
                // no memory for a new socket (ENOBUFS, ENOMEM). A client that reset while it
                // waited in the backlog is no error here on Linux: accept() still returns it,
                // and our first read or write on it fails with ECONNRESET (some BSDs fail
                // accept() with ECONNABORTED instead). A shortage of resources lasts:
                // say so once, not once per attempt, and pause so that this loop cannot spin.
                if !failing {
                    log(format!(
                        "accept failed: {e}; retrying every 100 ms until it works"
                    ));
                    failing = true;
                }
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
}
// ANCHOR_END: run

// ANCHOR: listen
/// socket → SO_REUSEADDR → bind → listen.
fn listen(addr: SocketAddr, reuse_addr: bool) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;

    // SO_REUSEADDR must be set BEFORE bind. It lets bind() succeed while old connections on
    // this port are still in TIME_WAIT, as they are for a minute after the server closed a
    // connection first (on Linux, only if the sockets that left them had it too: so set it on
    // every run). It does NOT let two programs listen on the same port: that bind still fails
    // with "address in use".
    socket.set_reuse_address(reuse_addr)?;

    socket.bind(&addr.into())?;
    socket.listen(128)?;
    Ok(socket.into())
}
// ANCHOR_END: listen

// ANCHOR: end
/// How a conversation ended.
enum End {
    /// The client said `exit`, and we answered `bye`.
    Exit,
    /// The client closed (or half-closed) its side after a whole line.
    Closed,
    /// The client closed its side in the middle of a line, after this many bytes of it.
    ClosedMidLine(usize),
    /// The client sent a line longer than [`MAX_LINE`]; we answered `error: line too long`.
    TooLong,
    /// The client said nothing for the idle timeout; we answered `error: idle timeout`.
    Idle,
    /// Reading or writing failed: a reset, or a client that stopped reading our replies.
    Failed(io::Error),
}
// ANCHOR_END: end

// ANCHOR: serve
/// Serves one client from greeting to close, and logs one line about how it ended.
fn serve(stream: TcpStream, peer: SocketAddr, idle: Duration) {
    say(format!("connection from {peer}"));
    let mut messages = 0;
    let end = converse(&stream, peer, idle, &mut messages);
    // When the server ends the conversation, it has the last word: make sure the client gets it.
    match &end {
        End::Exit => hang_up(stream, "bye"),
        End::TooLong => hang_up(stream, "error: line too long"),
        End::Idle => hang_up(stream, "error: idle timeout"),
        // close(): dropping the stream closes the socket. The conversation ended on the
        // client's side (its FIN, or a failure), so there is no last word to deliver.
        End::Closed | End::ClosedMidLine(_) | End::Failed(_) => drop(stream),
    }
    match &end {
        End::Exit => say(format!("{peer}: said exit after {}", count(messages))),
        End::Closed => say(format!(
            "{peer}: closed the connection after {}",
            count(messages)
        )),
        End::ClosedMidLine(n) => log(format!(
            "{peer}: closed the connection mid-line; its last {n} bytes had no newline and got \
             no reply"
        )),
        End::TooLong => log(format!("{peer}: sent a line over {MAX_LINE} bytes; closed")),
        End::Idle => log(format!(
            "{peer}: sent no whole line within {idle:?}; closed"
        )),
        End::Failed(e) => log(format!("{peer}: {}", describe_failure(e))),
    }
}
// ANCHOR_END: serve

// ANCHOR: converse
/// The conversation: greeting, then one reply per line, until `exit` or an end. The last word
/// (`bye` or an error line) is left to the caller.
fn converse(stream: &TcpStream, peer: SocketAddr, idle: Duration, messages: &mut u64) -> End {
    // Each line goes out in ONE write_all: writeln! would write it in pieces, one per part of
    // the format string, and each piece could become a packet of its own. A reply that cannot
    // leave within `idle` (a client that stops reading) fails with a timeout.
    if let Err(e) = Deadline::after(stream, idle).write_all(format!("{GREETING}\n").as_bytes()) {
        return End::Failed(e);
    }

    // The BufReader asks the kernel for big chunks and hands them out line by line: many
    // lines in one chunk, or one line over many chunks, both come out as whole lines.
    let mut reader = BufReader::new(Deadline::after(stream, idle));
    let mut line = Vec::new();
    loop {
        // Each line must be complete within `idle`, however its bytes trickle in.
        *reader.get_mut() = Deadline::after(stream, idle);
        let reply = match read_line(&mut reader, &mut line) {
            Ok(Line::Text(text)) if text == "exit" => return End::Exit,
            Ok(Line::Text(text)) => {
                *messages += 1;
                say(format!("{peer}: message {messages}: {}", escape(&text)));
                format!("message {messages}: {text}")
            }
            Ok(Line::NotUtf8) => {
                log(format!("{peer}: sent a line that is not UTF-8"));
                "error: not UTF-8".to_string()
            }
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
// ANCHOR_END: converse

// ANCHOR: deadline
/// The socket, with one deadline for all the reads and writes made through it.
///
/// A read timeout bounds each read, not their sum: a client that sends one byte a second
/// resets a 60-second read timeout with every byte and can hold the server for as long as it
/// likes while sending nothing useful (the "slowloris" attack). So before every read or write
/// we set the socket's timeout to the time left until the deadline, and once it has passed the
/// next call fails with a timeout whatever the client does.
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
// ANCHOR_END: deadline

// ANCHOR: read_line_outside
/// What one call to [`read_line`] found.
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

// ANCHOR: read_line
/// Reads one line, never holding more than [`MAX_LINE`] + 2 bytes of it (`\r\n` included).
fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Line> {
    // ANCHOR_END: read_line_outside
    line.clear();
    // take() stops read_until after `limit` bytes even if no `\n` came: a client that sends
    // an endless line costs us 64 KiB, not all our memory.
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
    // Decode only a whole line: a character whose bytes arrived in two packets is whole here.
    Ok(match std::str::from_utf8(line) {
        Ok(text) => Line::Text(text.to_string()),
        Err(_) => Line::NotUtf8,
    })
}
// ANCHOR_END: read_line

// ANCHOR: hang_up
/// Says the last word and ends the connection so that the client really gets it; the caller
/// then closes the socket. Everything here shares one deadline, LINGER.
///
/// close() on a socket whose receive buffer still holds bytes we never read does not send FIN:
/// the kernel sends RST at once and throws away whatever of ours has not left yet. Our last
/// line may well not have left: Nagle's algorithm holds a small write back while an earlier
/// one (the previous reply) is not yet acknowledged. The client then reads what did arrive
/// and gets "connection reset" where it expected our last line and the end of the stream.
/// So: send the line, then FIN (shutdown of our writing side), then read and discard what the
/// client still sends until it closes its side too, or LINGER passes.
fn hang_up(stream: TcpStream, last_line: &str) {
    // The line itself gets LINGER to leave too: a client that reads nothing may have filled our
    // send buffer, and a blocked write then fails when this timeout passes.
    let _ = stream.set_write_timeout(Some(LINGER));
    // Exercise 2 does the rest: our answer, or yours when built with `--features mine`. It
    // takes the socket and closes it when it is done.
    let _ = lesson_02::reply_and_close(stream, format!("{last_line}\n").as_bytes(), LINGER);
}
// ANCHOR_END: hang_up

// ANCHOR: log
/// One line on stdout, written in one call (lesson 03, where many threads log, says why that
/// matters). An error is ignored: a closed or broken stdout (`lesson-02 | head -1`) must not
/// stop the server, and println! would panic.
fn say(line: String) {
    let _ = io::stdout().write_all(format!("{line}\n").as_bytes());
}

/// The same on stderr, for something that went wrong.
fn log(line: String) {
    let _ = io::stderr().write_all(format!("{line}\n").as_bytes());
}

/// Client text made safe for a log: control characters are shown as escapes, so a line
/// holding ESC or CR cannot clear a terminal or overwrite a log line with a forged one.
fn escape(text: &str) -> String {
    let mut shown = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => shown.push_str("\\\\"),
            '\r' => shown.push_str("\\r"),
            '\t' => shown.push_str("\\t"),
            c if c.is_control() => shown.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => shown.push(c),
        }
    }
    shown
}
// ANCHOR_END: log

/// "1 message", "2 messages".
fn count(messages: u64) -> String {
    let s = if messages == 1 { "" } else { "s" };
    format!("{messages} message{s}")
}

/// A read or write that ran out of time reports `WouldBlock` on Unix and `TimedOut` on Windows.
fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// One log line for a connection that broke.
fn describe_failure(e: &io::Error) -> String {
    match e.kind() {
        ErrorKind::ConnectionReset => "reset the connection".to_string(),
        ErrorKind::BrokenPipe => "went away before reading our reply".to_string(),
        _ if is_timeout(e) => "stopped reading our replies; closing".to_string(),
        _ => format!("connection failed: {e}"),
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

// ANCHOR: bind_error
/// Turns a failed bind into one sentence that says what to do.
fn explain_bind_error(addr: SocketAddr, reuse_addr: bool, e: io::Error) -> String {
    match e.kind() {
        ErrorKind::AddrInUse if reuse_addr => format!(
            "address {addr} is already in use: another program is listening there (or, for up \
             to a minute, a connection left in TIME_WAIT by a server without SO_REUSEADDR); \
             stop it, or choose another port with --addr (port 0 picks a free one)"
        ),
        ErrorKind::AddrInUse => format!(
            "address {addr} is already in use: another program is listening there, or, since \
             --no-reuseaddr turned SO_REUSEADDR off, a recent connection on it is still in \
             TIME_WAIT (for up to a minute)"
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
// ANCHOR_END: bind_error
