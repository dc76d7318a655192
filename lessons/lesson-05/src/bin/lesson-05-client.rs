//! The client for lesson 05: print the greeting, then send each line you type (or pipe in) and
//! print the server's reply. `exit` or the end of input ends the conversation.
//!
//! `cargo run -p lesson-05 --bin lesson-05-client`, or `printf 'hi\nexit\n' | ...` to pipe.

use std::io::{self, BufRead, BufReader, ErrorKind, IsTerminal, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// How long to wait for the handshake, and then for each line from the server.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Lesson 05's client: talk to the server line by line.
#[derive(Parser)]
#[command(name = "lesson-05-client", version, about)]
struct Args {
    /// Address of the server, as HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:8888")]
    addr: String,
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

fn run(args: &Args) -> Result<(), String> {
    let addr = parse_addr(&args.addr)?;
    let stream =
        TcpStream::connect_timeout(&addr, TIMEOUT).map_err(|e| explain_connect_error(addr, e))?;
    stream
        .set_read_timeout(Some(TIMEOUT))
        .map_err(|e| format!("cannot set a read timeout: {e}"))?;
    let mut from_server = BufReader::new(&stream);

    // The greeting, or the refusal when the server already holds its maximum of connections.
    let greeting = read_line(&mut from_server)?
        .ok_or("the server closed the connection before greeting us")?;
    if let Some(reason) = greeting.strip_prefix("busy: ") {
        return Err(format!("the server is busy ({reason})"));
    }
    println!("{greeting}");

    let interactive = io::stdin().is_terminal();
    let mut input = io::stdin().lock();
    let mut line = Vec::new();
    loop {
        if interactive {
            print!("> ");
            let _ = io::stdout().flush();
        }
        line.clear();
        // Bytes, not a String: whatever is typed or piped goes to the server as it is.
        match input.read_until(b'\n', &mut line) {
            // End of input: dropping the stream closes the connection, and the server sees
            // the end of the stream.
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(format!("cannot read standard input: {e}")),
        }
        if line.last() != Some(&b'\n') {
            line.push(b'\n');
        }
        (&stream)
            .write_all(&line)
            .map_err(|e| format!("sending failed: {e}"))?;

        let reply = read_line(&mut from_server)?.ok_or("the server closed the connection")?;
        println!("{reply}");
        if line.trim_ascii_end() == b"exit" {
            return Ok(());
        }
    }
}

/// One line from the server without its line ending; `None` when it closed the connection.
fn read_line(from_server: &mut impl BufRead) -> Result<Option<String>, String> {
    let mut bytes = Vec::new();
    match from_server.read_until(b'\n', &mut bytes) {
        Ok(0) => Ok(None),
        Ok(_) => {
            let text = String::from_utf8_lossy(&bytes);
            Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()))
        }
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            Err(format!("the server sent nothing for {TIMEOUT:?}"))
        }
        Err(e) => Err(format!("reading from the server failed: {e}")),
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
             is the server running (cargo run -p lesson-05)?"
        ),
        ErrorKind::TimedOut | ErrorKind::WouldBlock => {
            format!("no answer from {addr} within {TIMEOUT:?}")
        }
        _ => format!("cannot connect to {addr}: {e}"),
    }
}
