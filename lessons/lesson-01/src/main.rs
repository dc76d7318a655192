//! Lesson 01: a server for exactly one client and one message.
//!
//! It makes every step of the socket call sequence visible: socket, bind, listen, accept, then
//! one send, one recv, one send and close. Run it with `cargo run -p lesson-01`, and in a second
//! terminal `cargo run -p lesson-01 --bin lesson-01-client -- hello`.

use std::io::{self, ErrorKind, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use lesson_01::Received;
use socket2::{Domain, Protocol, Socket, Type};

/// Lesson 01: accept one client, greet it, read one message, reply, exit.
#[derive(Parser)]
#[command(name = "lesson-01", version, about)]
struct Args {
    /// Address to listen on, as HOST:PORT. Port 0 lets the kernel pick a free port.
    #[arg(long, default_value = "127.0.0.1:8888")]
    addr: String,

    /// Seconds to wait for the client's message before giving up.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
}

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

// ANCHOR: run
fn run(args: &Args) -> Result<(), String> {
    let addr = parse_addr(&args.addr)?;
    let listener = listen(addr).map_err(|e| explain_bind_error(addr, e))?;

    // With port 0 the kernel chose the port during bind; only now can we say which.
    let bound = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    say(format!("listening on {bound}"));

    // accept(): block until a client has completed the three-way handshake, then return a
    // NEW socket connected to that one client. The listening socket stays as it was.
    let (stream, peer) = listener
        .accept()
        .map_err(|e| format!("accept failed: {e}"))?;
    say(format!("connection from {peer}"));

    // One client is all this lesson serves. Closing the listening socket now means the kernel
    // refuses (RST) anyone else who tries to connect, instead of queueing them.
    drop(listener);

    serve(stream, peer, Duration::from_secs(args.idle_timeout))
}
// ANCHOR_END: run

// ANCHOR: listen
/// socket → bind → listen: three system calls that make a listening TCP socket.
fn listen(addr: SocketAddr) -> io::Result<TcpListener> {
    // socket(AF_INET, SOCK_STREAM, IPPROTO_TCP): a new TCP socket, a file descriptor with no
    // address yet. Python: socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;

    // bind(fd, 127.0.0.1:8888): claim the local address. It fails with EADDRINUSE when another
    // socket is listening on it. Python: server.bind(("127.0.0.1", 8888))
    socket.bind(&addr.into())?;

    // listen(fd, 128): mark the socket passive. From now on the kernel answers handshakes by
    // itself and queues finished connections until we accept them: on Linux up to 128 + 1 of
    // them, and never more than the system's cap, net.core.somaxconn (4096 by default).
    // Python: server.listen(5)
    socket.listen(128)?;

    // A socket2 Socket and a std TcpListener are both just the file descriptor: convert for free.
    Ok(socket.into())
}
// ANCHOR_END: listen

// ANCHOR: serve
/// send the greeting, recv one message, send the reply, close.
fn serve(mut stream: TcpStream, peer: SocketAddr, idle: Duration) -> Result<(), String> {
    // send(fd, "Connected!\n"): write_all loops until the kernel has taken every byte.
    stream
        .write_all(b"Connected!\n")
        .map_err(|e| format!("sending the greeting to {peer} failed: {e}"))?;

    // recv(fd, buf, 1024): ONE read, which waits at most `idle`, and returns whatever bytes
    // have arrived so far, from 1 up to 1024 of them, or 0 when the client has closed its side.
    // For one short message on loopback that is usually the whole message; lesson 02 shows when
    // it is not. Exercise 3 is this read: our answer, or yours when built with `--features mine`.
    let mut buf = [0u8; 1024];
    let n = match lesson_01::read_message(&stream, &mut buf, idle) {
        Ok(Received::Bytes(n)) => n,
        Ok(Received::Closed) => {
            return Err(format!(
                "{peer} closed the connection without sending a message"
            ));
        }
        Ok(Received::Silent) => {
            return Err(format!(
                "{peer} sent nothing for {idle:?}, so the server gave up"
            ));
        }
        Err(e) => return Err(format!("reading from {peer} failed: {e}")),
    };

    // The network carries bytes, not text. Bytes that are not UTF-8 are shown as U+FFFD (�)
    // instead of crashing the server.
    let text = String::from_utf8_lossy(&buf[..n]);
    let message = strip_line_ending(&text);
    // Logged with control characters escaped: a message holding ESC or CR must not be able to
    // clear the terminal or overwrite the line with a forged one.
    say(format!("message: {}", escape(message)));

    stream
        .write_all(format!("received: {message}\n").as_bytes())
        .map_err(|e| format!("sending the reply to {peer} failed: {e}"))?;

    // close(fd): dropping the stream closes the socket, and the kernel sends FIN. Or RST, when
    // bytes from the client are still unread: a message over 1024 bytes, whose rest our one
    // read left behind. The client still reads our reply, then gets "connection reset".
    drop(stream);
    Ok(())
}
// ANCHOR_END: serve

/// One line on stdout, written in one call. An error is ignored: a closed stdout
/// (`lesson-01 | head -1`) must not stop the server, where println! would panic.
fn say(line: String) {
    let _ = io::stdout().write_all(format!("{line}\n").as_bytes());
}

/// The same on stderr.
fn log(line: String) {
    let _ = io::stderr().write_all(format!("{line}\n").as_bytes());
}

/// Client text made safe for a log: control characters (ESC, CR, …) become escapes.
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

/// "hello\r\n" and "hello\n" both become "hello"; "hello" stays "hello".
fn strip_line_ending(text: &str) -> &str {
    let text = text.strip_suffix('\n').unwrap_or(text);
    text.strip_suffix('\r').unwrap_or(text)
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
fn explain_bind_error(addr: SocketAddr, e: io::Error) -> String {
    match e.kind() {
        // Either a server is listening there, or a connection on this port closed a moment
        // ago and waits in TIME_WAIT: this socket does not set SO_REUSEADDR (chapter 2 does).
        ErrorKind::AddrInUse => format!(
            "address {addr} is already in use: another server is listening there, or a \
             connection on it closed less than a minute ago (TIME_WAIT); stop the other \
             server, wait a minute, or choose another port with --addr (port 0 picks a free one)"
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
