//! The client for lesson 01: connect, print the greeting, send one message, print the reply.
//!
//! `cargo run -p lesson-01 --bin lesson-01-client -- hello` sends "hello"; with no message on
//! the command line it reads one line from standard input.

use std::io::{self, BufRead, BufReader, ErrorKind, IsTerminal, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// How long to wait for the handshake, and then for each line from the server.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Lesson 01's client: send one message to the server and print its reply.
#[derive(Parser)]
#[command(name = "lesson-01-client", version, about)]
struct Args {
    /// Address of the server, as HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:8888")]
    addr: String,

    /// The message to send; without it, one line is read from standard input.
    message: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(sentence) => {
            eprintln!("error: {sentence}");
            ExitCode::FAILURE
        }
    }
}

// ANCHOR: run
fn run(args: &Args) -> Result<(), String> {
    let addr = parse_addr(&args.addr)?;

    // connect(): socket() plus connect() in one call. The kernel sends SYN and returns once
    // the server's kernel has answered SYN-ACK and we have sent ACK: the three-way handshake.
    let stream =
        TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| explain_connect_error(addr, e))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| format!("cannot set a read timeout: {e}"))?;

    // The server speaks in lines; a BufReader collects bytes until the newline.
    let mut from_server = BufReader::new(&stream);
    let greeting = read_line(&mut from_server)?
        .ok_or("the server closed the connection before greeting us")?;
    println!("{greeting}");

    let message = if args.message.is_empty() {
        message_from_stdin()?
    } else {
        args.message.join(" ")
    };
    (&stream)
        .write_all(format!("{message}\n").as_bytes())
        .map_err(|e| format!("sending the message failed: {e}"))?;

    let reply =
        read_line(&mut from_server)?.ok_or("the server closed the connection without replying")?;
    println!("{reply}");

    // Wait for the server's end of stream before closing: the side that closes first keeps
    // the connection in TIME_WAIT, and this way that is always the server.
    read_line(&mut from_server)?;
    // Dropping the stream closes the connection: our kernel sends FIN.
    Ok(())
}
// ANCHOR_END: run

/// One line from the server without its line ending; `None` when it closed the connection.
fn read_line(from_server: &mut impl BufRead) -> Result<Option<String>, String> {
    let mut line = String::new();
    match from_server.read_line(&mut line) {
        Ok(0) => Ok(None),
        Ok(_) => Ok(Some(line.trim_end_matches(['\r', '\n']).to_string())),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            Err(format!("the server sent nothing for {TIMEOUT:?}"))
        }
        Err(e) if e.kind() == ErrorKind::InvalidData => {
            Err("the server sent bytes that are not UTF-8".to_string())
        }
        Err(e) => Err(format!("reading from the server failed: {e}")),
    }
}

/// One line of standard input, with a prompt only when a person is typing.
fn message_from_stdin() -> Result<String, String> {
    let stdin = io::stdin();
    if stdin.is_terminal() {
        print!("message> ");
        let _ = io::stdout().flush();
    }
    let mut line = String::new();
    match stdin.lock().read_line(&mut line) {
        Ok(0) => Err("no message: give one as an argument or on standard input".to_string()),
        Ok(_) => Ok(line.trim_end_matches(['\r', '\n']).to_string()),
        Err(e) => Err(format!("cannot read standard input: {e}")),
    }
}

fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    let bad =
        || format!("`{text}` is not an address of the form HOST:PORT, such as 127.0.0.1:8888");
    text.to_socket_addrs()
        .map_err(|_| bad())?
        .next()
        .ok_or_else(bad)
}

/// Turns a failed connect into one sentence that says what to do.
fn explain_connect_error(addr: SocketAddr, e: io::Error) -> String {
    match e.kind() {
        ErrorKind::ConnectionRefused => format!(
            "connection to {addr} refused: no server is listening there; \
             is the server running (cargo run -p lesson-01)?"
        ),
        ErrorKind::TimedOut | ErrorKind::WouldBlock => {
            format!("no answer from {addr} within {TIMEOUT:?}")
        }
        _ => format!("cannot connect to {addr}: {e}"),
    }
}
