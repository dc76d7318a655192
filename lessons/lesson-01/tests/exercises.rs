//! The checks for lesson 01's exercises, each written once and run three ways:
//!
//! - on our solution (`src/solutions.rs`): it must pass;
//! - on deliberately wrong answers (the `wrong` module below): it must fail;
//! - on your stub (`src/exercises.rs`): `cargo test -p lesson-01 -- --ignored` runs these.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use lesson_01::{exercises, solutions};
use socket2::{Domain, Socket, Type};
use test_support::exercise::{Exercise, assert_fails, report, run_bounded};

const EXERCISE_1: Exercise = Exercise {
    number: 1,
    task: "read one line across several reads",
    hint: "read in a loop, one byte at a time, until you see b'\\n'; \
           a read of 0 bytes means the peer closed its side",
};
const EXERCISE_2: Exercise = Exercise {
    number: 2,
    task: "connect with a timeout",
    hint: "TcpStream::connect waits as long as the kernel retries; \
           look at TcpStream::connect_timeout",
};
const EXERCISE_3: Exercise = Exercise {
    number: 3,
    task: "bind port 0 and report the port the kernel chose",
    hint: "bind 127.0.0.1:0, then ask the listener for local_addr(): \
           the port you asked for is not the port you got",
};

// ---------------------------------------------------------------------------------------------
// Exercise 1: read one line across several reads.

/// A reader that hands out its bytes in the chunks given, never more than one chunk per read,
/// the way a socket hands out bytes as they happen to arrive.
struct Chunks {
    chunks: Vec<Vec<u8>>,
}

impl Chunks {
    fn new(chunks: &[&[u8]]) -> Chunks {
        Chunks {
            chunks: chunks.iter().rev().map(|c| c.to_vec()).collect(),
        }
    }
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(chunk) = self.chunks.last_mut() else {
            return Ok(0);
        };
        let n = buf.len().min(chunk.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        chunk.drain(..n);
        if chunk.is_empty() {
            self.chunks.pop();
        }
        Ok(n)
    }
}

type ReadLine = fn(&mut dyn Read) -> io::Result<Option<String>>;

fn check_read_line(read_line: ReadLine) -> Result<(), String> {
    let expect = |chunks: &[&[u8]], want: &[Option<&str>], case: &str| -> Result<(), String> {
        let mut reader = Chunks::new(chunks);
        for expected in want {
            let got = read_line(&mut reader).map_err(|e| format!("{case}: error {e}"))?;
            if got.as_deref() != *expected {
                return Err(format!("{case}: expected {expected:?}, got {got:?}"));
            }
        }
        Ok(())
    };
    expect(
        &[b"hel", b"lo", b"\n"],
        &[Some("hello")],
        "a line split over three reads",
    )?;
    expect(
        &[b"one\ntwo\n"],
        &[Some("one"), Some("two"), None],
        "two lines arriving in one read (did you read past the first newline?)",
    )?;
    expect(&[b"hi\r\n"], &[Some("hi")], "a line ending in \\r\\n")?;
    expect(&[], &[None], "a stream that ends at once")?;

    match read_line(&mut Chunks::new(&[b"abc"])) {
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => {}
        other => {
            return Err(format!(
                "a stream ending mid-line: expected an UnexpectedEof error, got {other:?}"
            ));
        }
    }
    match read_line(&mut Chunks::new(&[b"\xff\xfe\n"])) {
        Err(e) if e.kind() == ErrorKind::InvalidData => {}
        other => {
            return Err(format!(
                "a line that is not UTF-8: expected an InvalidData error, got {other:?}"
            ));
        }
    }

    // And once over a real connection, written in two pieces.
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let mut writer =
        TcpStream::connect(listener.local_addr().unwrap()).map_err(|e| e.to_string())?;
    let (mut reader, _) = listener.accept().map_err(|e| e.to_string())?;
    reader
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    writer.set_nodelay(true).unwrap();
    writer.write_all(b"split ").unwrap();
    writer.write_all(b"across reads\n").unwrap();
    let got = read_line(&mut reader).map_err(|e| format!("over a real socket: error {e}"))?;
    if got.as_deref() != Some("split across reads") {
        return Err(format!(
            "over a real socket: expected \"split across reads\", got {got:?}"
        ));
    }
    Ok(())
}

fn exercise_1_with(read_line: ReadLine) -> Result<(), String> {
    run_bounded(Duration::from_secs(10), move || check_read_line(read_line))
}

#[test]
fn exercise_1_check_passes_the_solution() {
    report(
        &EXERCISE_1,
        exercise_1_with(|mut r| solutions::read_line(&mut r)),
    );
}

#[test]
fn exercise_1_check_fails_wrong_answers() {
    assert_fails(
        &EXERCISE_1,
        exercise_1_with(|mut r| wrong::read_line_one_read(&mut r)),
    );
    assert_fails(
        &EXERCISE_1,
        exercise_1_with(|mut r| wrong::read_line_buffered_and_lost(&mut r)),
    );
}

#[test]
#[ignore = "exercise 1: read one line across several reads"]
fn exercise_1() {
    report(
        &EXERCISE_1,
        exercise_1_with(|mut r| exercises::read_line(&mut r)),
    );
}

// ---------------------------------------------------------------------------------------------
// Exercise 2: connect with a timeout.

type Connect = fn(SocketAddr, Duration) -> io::Result<TcpStream>;

/// A listening socket that never answers a new SYN: its accept queue (backlog 0) is already
/// full with one connection nobody accepts, so Linux drops further SYNs, and a connect waits.
fn unanswering_server() -> (Socket, TcpStream, SocketAddr) {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    socket.listen(0).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    let filler = TcpStream::connect(addr).unwrap();
    (socket, filler, addr)
}

fn check_connect(connect: Connect) -> Result<(), String> {
    // A server that answers: the connect must succeed.
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().unwrap();
    let stream = connect(addr, Duration::from_secs(5))
        .map_err(|e| format!("connecting to a listening server failed: {e}"))?;
    let (_, peer) = listener.accept().map_err(|e| e.to_string())?;
    if Some(peer) != stream.local_addr().ok() {
        return Err("the stream returned is not the connection the server accepted".into());
    }

    // A server that never answers: the connect must give up, with an error, in time.
    let (_server, _filler, addr) = unanswering_server();
    let started = Instant::now();
    match connect(addr, Duration::from_millis(300)) {
        Ok(_) => Err("connected to a server whose queue is full; expected a timeout".into()),
        Err(_) if started.elapsed() > Duration::from_secs(3) => Err(format!(
            "gave up only after {:?}, for a timeout of 300 ms",
            started.elapsed()
        )),
        Err(_) => Ok(()),
    }
}

fn exercise_2_with(connect: Connect) -> Result<(), String> {
    // A connect with no timeout hangs: the bound turns that into a failure.
    run_bounded(Duration::from_secs(5), move || check_connect(connect))
}

#[test]
fn exercise_2_check_passes_the_solution() {
    report(
        &EXERCISE_2,
        exercise_2_with(solutions::connect_with_timeout),
    );
}

#[test]
fn exercise_2_check_fails_wrong_answers() {
    assert_fails(
        &EXERCISE_2,
        exercise_2_with(wrong::connect_ignoring_timeout),
    );
}

#[test]
#[ignore = "exercise 2: connect with a timeout"]
fn exercise_2() {
    report(
        &EXERCISE_2,
        exercise_2_with(exercises::connect_with_timeout),
    );
}

// ---------------------------------------------------------------------------------------------
// Exercise 3: bind port 0 and report the port.

type ListenFree = fn() -> io::Result<(TcpListener, u16)>;

fn check_listen_free_port(listen: ListenFree) -> Result<(), String> {
    let (first, port) = listen().map_err(|e| format!("it returned an error: {e}"))?;
    if port == 0 {
        return Err("the port reported is 0, the port asked for, not the one bound".into());
    }
    let bound = first.local_addr().map_err(|e| e.to_string())?;
    if bound.port() != port {
        return Err(format!(
            "reported port {port}, but the listener is bound to {bound}"
        ));
    }
    if !bound.ip().is_loopback() {
        return Err(format!(
            "bound to {bound}; this course listens on 127.0.0.1"
        ));
    }
    // A client must reach this very listener on the reported port.
    let client = TcpStream::connect(("127.0.0.1", port))
        .map_err(|e| format!("connecting to 127.0.0.1:{port} failed: {e}"))?;
    let (_, peer) = first.accept().map_err(|e| e.to_string())?;
    if Some(peer) != client.local_addr().ok() {
        return Err("the listener returned did not accept our connection".into());
    }
    // While the first is open, a second call must find another free port.
    let (_second, other) =
        listen().map_err(|e| format!("a second call, while the first is open, failed: {e}"))?;
    if other == port {
        return Err(format!("two calls both reported port {port}"));
    }
    Ok(())
}

fn exercise_3_with(listen: ListenFree) -> Result<(), String> {
    run_bounded(Duration::from_secs(5), move || {
        check_listen_free_port(listen)
    })
}

#[test]
fn exercise_3_check_passes_the_solution() {
    report(&EXERCISE_3, exercise_3_with(solutions::listen_on_free_port));
}

#[test]
fn exercise_3_check_fails_wrong_answers() {
    assert_fails(&EXERCISE_3, exercise_3_with(wrong::listen_reporting_zero));
}

#[test]
#[ignore = "exercise 3: bind port 0 and report the port the kernel chose"]
fn exercise_3() {
    report(&EXERCISE_3, exercise_3_with(exercises::listen_on_free_port));
}

// ---------------------------------------------------------------------------------------------

/// Plausible wrong answers, each a mistake a learner could make. Every check must reject them.
mod wrong {
    use std::io::{self, BufRead, BufReader, Read};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::time::Duration;

    /// One read, as the original Python server does: a line split over reads comes back cut.
    pub fn read_line_one_read(reader: &mut impl Read) -> io::Result<Option<String>> {
        let mut buf = [0u8; 1024];
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&buf[..n]);
        Ok(Some(text.lines().next().unwrap_or("").to_string()))
    }

    /// A fresh BufReader per call reads ahead, and what it read past the newline is lost.
    pub fn read_line_buffered_and_lost(reader: &mut impl Read) -> io::Result<Option<String>> {
        let mut line = String::new();
        if BufReader::new(reader).read_line(&mut line)? == 0 {
            return Ok(None);
        }
        Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
    }

    /// Ignores the timeout: waits as long as the kernel does.
    pub fn connect_ignoring_timeout(addr: SocketAddr, _: Duration) -> io::Result<TcpStream> {
        TcpStream::connect(addr)
    }

    /// Reports the port it asked for (0) instead of the one the kernel chose.
    pub fn listen_reporting_zero() -> io::Result<(TcpListener, u16)> {
        Ok((TcpListener::bind("127.0.0.1:0")?, 0))
    }
}
