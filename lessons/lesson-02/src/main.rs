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
use std::time::Duration;

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

    /// Seconds a client may stay silent before the server closes its connection.
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
            eprintln!("error: {sentence}");
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
    println!("listening on {bound}");

    let idle = Duration::from_secs(args.idle_timeout);
    // One client at a time, forever. While we serve one, the kernel completes the handshakes
    // of the next ones by itself and queues them (the backlog) until we call accept() again.
    loop {
        match listener.accept() {
            Ok((stream, peer)) => serve(stream, peer, idle),
            Err(e) => {
                // A connection that was reset while it waited in the queue, or too many open
                // files: nothing to do with the next client. Pause so a persistent error
                // cannot turn this loop into a busy loop.
                log(format!("accept failed: {e}"));
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
    println!("connection from {peer}");
    let mut messages = 0;
    let end = converse(&stream, peer, idle, &mut messages);
    if matches!(end, End::Exit | End::TooLong | End::Idle) {
        // We had the last word: make sure the client gets it.
        hang_up(&stream);
    }
    match &end {
        End::Exit => println!("{peer}: said exit after {}", count(messages)),
        End::Closed => println!("{peer}: closed the connection after {}", count(messages)),
        End::ClosedMidLine(n) => log(format!(
            "{peer}: closed the connection mid-line; its last {n} bytes had no newline and got \
             no reply"
        )),
        End::TooLong => log(format!("{peer}: sent a line over {MAX_LINE} bytes; closed")),
        End::Idle => log(format!("{peer}: silent for {idle:?}; closed")),
        End::Failed(e) => log(format!("{peer}: {}", describe_failure(e))),
    }
    // close(): dropping the stream closes the socket. If the client closed first, this sends
    // our FIN; after hang_up, our FIN is already out and this just releases the socket.
    drop(stream);
}
// ANCHOR_END: serve

// ANCHOR: converse
/// The conversation: greeting, then one reply per line, until `exit` or an end.
fn converse(stream: &TcpStream, peer: SocketAddr, idle: Duration, messages: &mut u64) -> End {
    // A read that waits longer than `idle` fails with WouldBlock: that is the idle timeout. A
    // write timeout too, so a client that never reads our replies cannot hold us forever.
    if let Err(e) = stream
        .set_read_timeout(Some(idle))
        .and_then(|()| stream.set_write_timeout(Some(idle)))
    {
        return End::Failed(e);
    }
    let mut writer = stream;
    // Each line goes out in ONE write_all: writeln! would write it in pieces, one per part of
    // the format string, and each piece could become a packet of its own.
    if let Err(e) = writer.write_all(format!("{GREETING}\n").as_bytes()) {
        return End::Failed(e);
    }

    // The BufReader asks the kernel for big chunks and hands them out line by line: many
    // lines in one chunk, or one line over many chunks, both come out as whole lines.
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        let (reply, end) = match read_line(&mut reader, &mut line) {
            Ok(Line::Text(text)) if text == "exit" => ("bye".to_string(), Some(End::Exit)),
            Ok(Line::Text(text)) => {
                *messages += 1;
                println!("{peer}: message {messages}: {text}");
                (format!("message {messages}: {text}"), None)
            }
            Ok(Line::NotUtf8) => {
                log(format!("{peer}: sent a line that is not UTF-8"));
                ("error: not UTF-8".to_string(), None)
            }
            Ok(Line::TooLong) => ("error: line too long".to_string(), Some(End::TooLong)),
            Ok(Line::End) => return End::Closed,
            Ok(Line::Unfinished(n)) => return End::ClosedMidLine(n),
            Err(e) if is_timeout(&e) => ("error: idle timeout".to_string(), Some(End::Idle)),
            Err(e) => return End::Failed(e),
        };
        if let Err(e) = writer.write_all(format!("{reply}\n").as_bytes()) {
            return End::Failed(e);
        }
        if let Some(end) = end {
            return end;
        }
    }
}
// ANCHOR_END: converse

// ANCHOR: read_line
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

/// Reads one line, never holding more than [`MAX_LINE`] + 2 bytes of it (`\r\n` included).
fn read_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> io::Result<Line> {
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
/// Ends a connection without losing the last line we sent; the caller then closes it.
///
/// close() on a socket whose receive buffer still holds bytes we never read does not send FIN:
/// the kernel sends RST, throws away whatever of ours has not left yet, and the client's next
/// read fails with "connection reset" instead of returning our last line. So: send FIN first
/// (shutdown of our writing side), then read and discard what the client still sends until it
/// closes its side too, or LINGER passes.
fn hang_up(stream: &TcpStream) {
    // Exercise 2 does this: our answer, or yours when built with `--features mine`. It gets a
    // second handle on the same socket; the socket closes when `serve` drops the last one.
    if let Ok(handle) = stream.try_clone() {
        let _ = lesson_02::reply_and_close(handle, b"", LINGER);
    }
}
// ANCHOR_END: hang_up

/// One line on stderr for something that went wrong, written in one piece: eprintln! writes
/// each part of its format string separately.
fn log(line: String) {
    let _ = io::stderr().write_all(format!("{line}\n").as_bytes());
}

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
