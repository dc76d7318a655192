//! The client for lesson 02: connect, print the greeting, then send each line of standard input
//! and print the server's reply to it, until `exit` or the end of the input.
//!
//! Typed at a terminal it shows a prompt; `printf 'hello\nexit\n' | lesson-02-client` works
//! too, and prints one reply per line sent.

use std::io::{self, BufRead, BufReader, ErrorKind, IsTerminal, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

/// How long to wait for the handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for the reply to a line we sent.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest line we take from the server. A server that sends bytes and never a newline
/// must not make us hold them all: we stop reading after this many.
const MAX_LINE: u64 = 64 * 1024;
/// After this long without a greeting, say that we are waiting in the server's queue.
const QUEUE_NOTICE: Duration = Duration::from_secs(1);

/// Lesson 02's client: send lines to the server and print its replies.
#[derive(Parser)]
#[command(name = "lesson-02-client", version, about)]
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

// ANCHOR: run
fn run(args: &Args) -> Result<(), String> {
    let addr = parse_addr(&args.addr)?;
    let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
        .map_err(|e| explain_connect_error(addr, e))?;
    let mut from_server = BufReader::new(&stream);

    // connect() returned after the handshake, but the server may still be busy with another
    // client: we sit in its backlog until it calls accept(), and only then does it greet us.
    let greeting = wait_for_greeting(&stream, &mut from_server)?;
    println!("{greeting}");

    stream
        .set_read_timeout(Some(REPLY_TIMEOUT))
        .map_err(|e| format!("cannot set a read timeout: {e}"))?;
    let stdin = io::stdin();
    let interactive = stdin.is_terminal();
    let mut input = stdin.lock();
    let mut line = Vec::new();
    loop {
        if interactive {
            print!("> ");
            let _ = io::stdout().flush();
        }
        line.clear();
        // Bytes, not a String: whatever is typed or piped is sent as it is, even if it is not
        // UTF-8, so the server's answer to that can be seen too.
        let n = input
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        if n == 0 {
            // End of input: dropping the stream closes the connection, which the server reads
            // as the end of the conversation.
            return Ok(());
        }
        if line.last() != Some(&b'\n') {
            line.push(b'\n');
        }
        (&stream)
            .write_all(&line)
            .map_err(|e| explain_io_error("sending a line", e))?;

        let reply = read_line(&mut from_server)?
            .ok_or("the server closed the connection without replying")?;
        println!("{reply}");
        if line.trim_ascii_end() == b"exit" {
            // The server has the last word: after `bye` it closes its side (FIN). Wait for
            // that end of stream before we close ours, so the teardown goes in that order.
            // Whatever comes before it is thrown away, not stored.
            let _ = io::copy(&mut from_server, &mut io::sink());
            return Ok(());
        }
    }
}
// ANCHOR_END: run

/// Waits for the greeting, as long as it takes, and says why when it takes a while.
fn wait_for_greeting(stream: &TcpStream, from_server: &mut impl BufRead) -> Result<String, String> {
    let mut waiting_said = false;
    let mut bytes = Vec::new();
    loop {
        let timeout = if waiting_said {
            None
        } else {
            Some(QUEUE_NOTICE)
        };
        stream
            .set_read_timeout(timeout)
            .map_err(|e| format!("cannot set a read timeout: {e}"))?;
        // read_until keeps what it read before a timeout in `bytes`; the next call goes on.
        // take() bounds the line: a server that never sends a newline cannot fill our memory.
        let room = (MAX_LINE + 2).saturating_sub(bytes.len() as u64);
        match from_server
            .by_ref()
            .take(room)
            .read_until(b'\n', &mut bytes)
        {
            Ok(_) if bytes.last() != Some(&b'\n') && bytes.len() as u64 >= MAX_LINE + 2 => {
                return Err(format!("the server sent a line over {MAX_LINE} bytes"));
            }
            Ok(_) => break,
            Err(e) if is_timeout(&e) => {
                eprintln!(
                    "connected, waiting for the greeting: the server is busy with another client"
                );
                waiting_said = true;
            }
            Err(e) => return Err(explain_io_error("waiting for the greeting", e)),
        }
    }
    if bytes.is_empty() {
        return Err("the server closed the connection before greeting us".to_string());
    }
    Ok(text_of(bytes))
}

/// One line from the server without its line ending; `None` when it closed the connection.
fn read_line(from_server: &mut impl BufRead) -> Result<Option<String>, String> {
    let mut bytes = Vec::new();
    // take(): read_until stops after MAX_LINE + 2 bytes (`\r\n` included) even with no newline.
    match from_server
        .by_ref()
        .take(MAX_LINE + 2)
        .read_until(b'\n', &mut bytes)
    {
        Ok(0) => Ok(None),
        Ok(n) if n as u64 == MAX_LINE + 2 && bytes.last() != Some(&b'\n') => {
            Err(format!("the server sent a line over {MAX_LINE} bytes"))
        }
        Ok(_) => Ok(Some(text_of(bytes))),
        Err(e) => Err(explain_io_error("waiting for a reply", e)),
    }
}

/// The text of a line, without `\n` or `\r\n`; bytes that are not UTF-8 are shown as �.
fn text_of(bytes: Vec<u8>) -> String {
    let text = String::from_utf8_lossy(&bytes);
    text.trim_end_matches(['\r', '\n']).to_string()
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// One sentence for a connection that broke while `doing` something.
fn explain_io_error(doing: &str, e: io::Error) -> String {
    match e.kind() {
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted => {
            format!("the server reset the connection while we were {doing}")
        }
        ErrorKind::BrokenPipe => format!("the server closed the connection while we were {doing}"),
        _ if is_timeout(&e) => format!("no answer from the server within {REPLY_TIMEOUT:?}"),
        _ => format!("{doing} failed: {e}"),
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
             is the server running (cargo run -p lesson-02)?"
        ),
        ErrorKind::TimedOut | ErrorKind::WouldBlock => {
            format!("no answer from {addr} within {CONNECT_TIMEOUT:?}")
        }
        _ => format!("cannot connect to {addr}: {e}"),
    }
}
