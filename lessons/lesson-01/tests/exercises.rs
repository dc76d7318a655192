//! Lesson 01's exercises, each written once: its task, hints, check, our answer, your stub and
//! the wrong answers the check must reject.
//!
//! - `cargo test` proves the checks (our answer passes, every wrong answer fails) and never runs
//!   your stubs;
//! - `cargo test -p lesson-01 --test exercises -- mine` checks your stubs in
//!   `src/exercises.rs`; `HINT=1` (then 2 …) in front of it adds hints.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use lesson_01::solutions::Ending;
use lesson_01::{exercises, solutions};
use socket2::{Domain, Socket, Type};
use test_support::Pieces;
use test_support::exercise::{Exercise, Wrong, spawn_checked, thread_count};

test_support::exercises_main!(EXERCISE_1, EXERCISE_2, EXERCISE_3, EXERCISE_4);

// ---------------------------------------------------------------------------------------------
// Exercise 1: read one line across several reads.

type ReadLine = fn(&mut dyn Read) -> io::Result<Option<String>>;

const EXERCISE_1: Exercise<ReadLine> = Exercise {
    number: 1,
    task: "read one line across several reads",
    hints: &[
        "one read is not one line: keep reading until you have seen b'\\n', and never take \
         bytes past it (the next call needs them)",
        "read one byte at a time; a read of 0 bytes means the peer closed; only a \\r right \
         before the \\n goes, every other byte (spaces, a lone \\r) stays in the line",
        "loop { match reader.read(&mut byte) { Ok(0) => end, Ok(_) if byte[0] == b'\\n' => \
         break, Ok(_) => line.push(byte[0]), Err(e) if e.kind() == Interrupted => continue, \
         Err(e) => return Err(e) } }, then drop one trailing \\r and String::from_utf8",
    ],
    bound: Duration::from_secs(10),
    hang: "did you wait for more bytes after a read of 0?",
    check: check_read_line,
    solution: |mut r| solutions::read_line(&mut r),
    mine: |mut r| exercises::read_line(&mut r),
    wrong: &[
        Wrong {
            does: "reads once, as the original server does",
            answer: wrong::read_line_one_read,
            rejected_with: "one read is not one line",
        },
        Wrong {
            does: "reads through a fresh BufReader, losing what it read ahead",
            answer: wrong::read_line_buffered_and_lost,
            rejected_with: "did you read past the first newline?",
        },
        Wrong {
            does: "trims trailing spaces",
            answer: wrong::read_line_trimmed,
            rejected_with: "did you trim the line?",
        },
        Wrong {
            does: "ends the line at \\r, leaving its \\n for the next call",
            answer: wrong::read_line_ending_at_cr,
            rejected_with: "did you end the line at \\r",
        },
        Wrong {
            does: "takes any \\r for the end of the line and swallows the byte after it",
            answer: wrong::read_line_cr_and_one_more,
            rejected_with: "did you take a lone \\r inside the line for its end?",
        },
        Wrong {
            does: "drops every \\r",
            answer: wrong::read_line_dropping_every_cr,
            rejected_with: "did you drop every \\r?",
        },
        Wrong {
            does: "does not retry a read that failed with Interrupted",
            answer: wrong::read_line_not_retrying,
            rejected_with: "Interrupted means",
        },
    ],
};

fn check_read_line(read_line: ReadLine) -> Result<(), String> {
    // The lines read from `reader`, in order, until `want` has been compared; `explain` says
    // what a wrong line most likely means.
    let expect = |mut reader: Pieces,
                  want: &[Option<&str>],
                  case: &str,
                  explain: &dyn Fn(&Option<String>) -> String|
     -> Result<(), String> {
        for expected in want {
            let got = read_line(&mut reader).map_err(|e| {
                if e.kind() == ErrorKind::Interrupted {
                    format!(
                        "{case}: it returned the error Interrupted: Interrupted means a signal \
                         came before any byte; read again"
                    )
                } else {
                    format!("{case}: it returned the error {e}")
                }
            })?;
            if got.as_deref() != *expected {
                return Err(format!(
                    "{case}: expected {expected:?}, got {got:?}: {}",
                    explain(&got)
                ));
            }
        }
        Ok(())
    };
    let no_idea = |_: &Option<String>| "compare with the task".to_string();
    expect(
        Pieces::new(&[b"hel", b"lo", b"\n"]),
        &[Some("hello")],
        "a line split over three reads",
        &|_| "one read is not one line: keep reading until the \\n".into(),
    )?;
    expect(
        Pieces::new(&[b"one\ntwo\n"]),
        &[Some("one"), Some("two"), None],
        "two lines arriving in one read",
        &|_| "did you read past the first newline? the next call needs those bytes".into(),
    )?;
    expect(
        Pieces::new(&[b"one\r\ntwo\r\n"]),
        &[Some("one"), Some("two"), None],
        "two lines ending in \\r\\n",
        &|got| match got.as_deref() {
            Some("") => "an empty line after a \\r\\n line: did you end the line at \\r and \
                         leave its \\n for the next call?"
                .into(),
            _ => "only a \\r right before the \\n is part of the line ending".into(),
        },
    )?;
    expect(
        Pieces::new(&[b"x \n", b"\n", b"  y\t\n"]),
        &[Some("x "), Some(""), Some("  y\t"), None],
        "lines with spaces at either end, and an empty line",
        &|_| {
            "did you trim the line? spaces and tabs are the client's text; only \\n (or \\r\\n) \
              ends a line, and an empty line is a line"
                .into()
        },
    )?;
    expect(
        Pieces::new(&[b"a\rb\n", b"next\n"]),
        &[Some("a\rb"), Some("next")],
        "a lone \\r inside the line \"a\\rb\\n\"",
        &|got| match got.as_deref() {
            Some("ab") => "did you drop every \\r? only the one right before \\n goes".into(),
            _ => "did you take a lone \\r inside the line for its end? only \\n ends a line".into(),
        },
    )?;
    expect(
        Pieces::with_interruptions(&[Some(b"ab"), None, Some(b"c\n")]),
        &[Some("abc"), None],
        "a read interrupted by a signal in the middle of a line",
        &|_| "Interrupted means a signal came before any byte: read again, keep the line".into(),
    )?;
    expect(
        Pieces::new(&[]),
        &[None],
        "a stream that ends at once",
        &no_idea,
    )?;

    match read_line(&mut Pieces::new(&[b"abc"])) {
        Err(e) if e.kind() == ErrorKind::UnexpectedEof => {}
        other => {
            return Err(format!(
                "a stream ending mid-line: expected an UnexpectedEof error, got {other:?}: a \
                 line cut short is not a line"
            ));
        }
    }
    match read_line(&mut Pieces::new(&[b"\xff\xfe\n"])) {
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

// ---------------------------------------------------------------------------------------------
// Exercise 2: connect with a timeout.

type Connect = fn(SocketAddr, Duration) -> io::Result<TcpStream>;

const EXERCISE_2: Exercise<Connect> = Exercise {
    number: 2,
    task: "connect with a timeout",
    hints: &[
        "a plain connect waits as long as the kernel retries its SYN; `timeout` must bound the \
         whole wait, once, and nothing may keep connecting after you return",
        "std has a connect that takes a timeout: look at TcpStream's associated functions",
        "TcpStream::connect_timeout(&addr, timeout)",
    ],
    bound: Duration::from_secs(8),
    hang: "a plain connect() waits for the kernel's SYN retries (about two minutes): did you \
           ignore `timeout`?",
    check: check_connect,
    solution: solutions::connect_with_timeout,
    mine: exercises::connect_with_timeout,
    wrong: &[
        Wrong {
            does: "ignores the timeout and connects plainly",
            answer: wrong::connect_ignoring_timeout,
            rejected_with: "did you ignore `timeout`?",
        },
        Wrong {
            does: "uses a fixed timeout of 2 s",
            answer: wrong::connect_fixed_timeout,
            rejected_with: "is `timeout` used at all?",
        },
        Wrong {
            does: "tries three times, each with the whole timeout",
            answer: wrong::connect_three_tries,
            rejected_with: "did you try more than once?",
        },
        Wrong {
            does: "connects on a thread and stops waiting for it with recv_timeout",
            answer: wrong::connect_on_a_thread,
            rejected_with: "a thread of yours is still connecting",
        },
    ],
};

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

/// How late a correct connect may give up. A connect with a timeout wakes from poll() within
/// milliseconds of it; 400 ms covers a loaded two-core machine that is slow to schedule us.
const LATE: Duration = Duration::from_millis(400);

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

    // A server that never answers, with two different timeouts: each connect must give up, with
    // an error, close after its own timeout, and leave nothing behind.
    let (_server, _filler, addr) = unanswering_server();
    let mut took = Vec::new();
    for timeout in [Duration::from_millis(250), Duration::from_millis(800)] {
        let threads = thread_count();
        let started = Instant::now();
        let result = connect(addr, timeout);
        let elapsed = started.elapsed();
        if let (Some(before), Some(after)) = (threads, thread_count())
            && after > before
        {
            return Err(format!(
                "it returned, but a thread of yours is still connecting ({} more threads than \
                 before): did you run connect on a thread and stop waiting for it? That thread \
                 keeps a socket and goes on sending SYNs",
                after - before
            ));
        }
        if result.is_ok() {
            return Err("connected to a server whose queue is full; expected a timeout".into());
        }
        if elapsed + Duration::from_millis(50) < timeout {
            return Err(format!(
                "gave up after {elapsed:?}, before the timeout of {timeout:?}"
            ));
        }
        took.push((timeout, elapsed));
    }
    let [(t1, e1), (t2, e2)] = [took[0], took[1]];
    if e1 > t1 + LATE || e2 > t2 + LATE {
        // The two timeouts differ by 550 ms; a wait that ignores them differs by far less,
        // one that multiplies them by far more.
        if e1.abs_diff(e2) < Duration::from_millis(800) {
            return Err(format!(
                "gave up after {e1:?} for a timeout of {t1:?}, and after {e2:?} for {t2:?}: \
                 about the same wait for both: is `timeout` used at all?"
            ));
        }
        return Err(format!(
            "gave up after {e1:?} for a timeout of {t1:?}, and after {e2:?} for {t2:?} (at most \
             {LATE:?} late is allowed): `timeout` bounds the whole connect; did you try more \
             than once?"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Exercise 3: bind port 0 and report the port.

type ListenFree = fn() -> io::Result<(TcpListener, u16)>;

const EXERCISE_3: Exercise<ListenFree> = Exercise {
    number: 3,
    task: "bind port 0 and report the port",
    hints: &[
        "port 0 means \"any free port\": the port you asked for is not the port you got",
        "after bind, ask the listener which address it really has",
        "TcpListener::bind(\"127.0.0.1:0\"), then listener.local_addr()?.port()",
    ],
    bound: Duration::from_secs(5),
    hang: "did something wait for a connection that never came?",
    check: check_listen_free_port,
    solution: solutions::listen_on_free_port,
    mine: exercises::listen_on_free_port,
    wrong: &[
        Wrong {
            does: "reports the port it asked for (0)",
            answer: wrong::listen_reporting_zero,
            rejected_with: "the port asked for, not the one bound",
        },
        Wrong {
            does: "listens on every address (0.0.0.0)",
            answer: wrong::listen_everywhere,
            rejected_with: "this course listens on 127.0.0.1",
        },
    ],
};

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
            "bound to {bound}, reachable from other machines; this course listens on 127.0.0.1"
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

// ---------------------------------------------------------------------------------------------
// Exercise 4: tell a close from a reset from silence.

type WaitForClose = fn(&TcpStream, Duration) -> io::Result<Ending>;

const EXERCISE_4: Exercise<WaitForClose> = Exercise {
    number: 4,
    task: "tell a close from a reset from silence",
    hints: &[
        "three ways a wait can end: the peer's FIN, the peer's RST, or your deadline; bytes \
         that arrive are none of these, and must not stretch the deadline",
        "a read of 0 bytes is the FIN; the RST shows as a read error of one particular kind; \
         a read timeout set once restarts with every byte",
        "let deadline = now + within; loop { set_read_timeout(deadline - now); match read { \
         Ok(0) => Closed, Ok(_) => {}, Err(ConnectionReset) => Reset, Err(WouldBlock | \
         TimedOut | Interrupted) => {}, Err(e) => return Err(e) } } (StillOpen once past the \
         deadline)",
    ],
    bound: Duration::from_secs(20),
    hang: "did you wait with no deadline?",
    check: check_wait_for_close,
    solution: solutions::wait_for_close,
    mine: exercises::wait_for_close,
    wrong: &[
        Wrong {
            does: "takes every read error for a close",
            answer: wrong::close_on_any_error,
            rejected_with: "did you take every error for a close?",
        },
        Wrong {
            does: "takes the first bytes for the end",
            answer: wrong::close_on_any_read,
            rejected_with: "only a read of 0 bytes is the end",
        },
        Wrong {
            does: "gives each read the whole wait as its timeout",
            answer: wrong::close_with_a_timeout_per_read,
            rejected_with: "a timeout per read, not one deadline?",
        },
        Wrong {
            does: "waits with no deadline",
            answer: wrong::close_with_no_deadline,
            rejected_with: "did you wait with no deadline?",
        },
    ],
};

/// How late a correct answer may return after its deadline on a loaded two-core machine.
const MARGIN: Duration = Duration::from_millis(1500);

fn check_wait_for_close(wait: WaitForClose) -> Result<(), String> {
    type Peer = Box<dyn FnOnce(TcpStream) + Send>;
    // (case, what the peer does, the wait allowed, the ending expected, what a wrong ending
    // most likely means)
    let cases: [(&str, Peer, Duration, Ending, &str); 4] = [
        (
            "the peer sends \"bye\\n\" and then closes its side (FIN)",
            Box::new(|mut peer: TcpStream| {
                let _ = peer.write_all(b"bye\n");
                let _ = peer.shutdown(std::net::Shutdown::Write);
                thread::sleep(Duration::from_secs(3));
            }),
            Duration::from_secs(5),
            Ending::Closed,
            "a read of 0 bytes is the peer's FIN",
        ),
        (
            "the peer resets the connection (RST)",
            Box::new(|peer: TcpStream| {
                // SO_LINGER with a time of 0: close() sends RST instead of FIN.
                let _ = Socket::from(peer).set_linger(Some(Duration::ZERO));
            }),
            Duration::from_secs(5),
            Ending::Reset,
            "a reset came back as something else: did you take every error for a close? A \
             read that fails with ConnectionReset is the peer's RST",
        ),
        (
            "the peer sends \"hello\\n\" and stays open",
            Box::new(|mut peer: TcpStream| {
                let _ = peer.write_all(b"hello\n");
                thread::sleep(Duration::from_secs(4));
            }),
            Duration::from_millis(800),
            Ending::StillOpen,
            "bytes came and the peer stayed open: only a read of 0 bytes is the end",
        ),
        (
            "the peer sends a byte every 300 ms and stays open",
            Box::new(|mut peer: TcpStream| {
                for _ in 0..20 {
                    if peer.write_all(b"z").is_err() {
                        break;
                    }
                    thread::sleep(Duration::from_millis(300));
                }
            }),
            Duration::from_secs(2),
            Ending::StillOpen,
            "the peer stayed open",
        ),
    ];
    for (case, peer, within, expected, explain) in cases {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let client =
            TcpStream::connect(listener.local_addr().unwrap()).map_err(|e| e.to_string())?;
        let (server, _) = listener.accept().map_err(|e| e.to_string())?;
        let peer = thread::spawn(move || peer(client));
        if expected == Ending::Reset {
            // Let the RST arrive before the wait starts, so that its first read meets it.
            let _ = peer.join();
        }
        let started = Instant::now();
        let done = spawn_checked(move || wait(&server, within));
        let outcome = match done.recv_timeout(within + MARGIN) {
            Ok(outcome) => outcome?,
            Err(_) => {
                return Err(
                    if expected == Ending::StillOpen && case.contains("every 300 ms") {
                        format!(
                            "{case}, a wait of {within:?}: still waiting {:?} later: is it a timeout \
                         per read, not one deadline? Each byte restarts a read timeout",
                            within + MARGIN
                        )
                    } else {
                        format!(
                            "{case}, a wait of {within:?}: still waiting {:?} later: did you wait \
                         with no deadline?",
                            within + MARGIN
                        )
                    },
                );
            }
        };
        let got = outcome.map_err(|e| format!("{case}: it returned the error {e}: {explain}"))?;
        if got != expected {
            return Err(format!(
                "{case}: expected {expected:?}, got {got:?}: {explain}"
            ));
        }
        if expected == Ending::StillOpen && started.elapsed() + Duration::from_millis(50) < within {
            return Err(format!(
                "{case}: it said StillOpen after {:?}, before the wait of {within:?} was up",
                started.elapsed()
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------

/// Plausible wrong answers, each a mistake a learner could make. Every check must reject them.
mod wrong {
    use lesson_01::solutions::Ending;
    use std::io::{self, BufRead, BufReader, ErrorKind, Read};
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::sync::mpsc;
    use std::thread;
    use std::time::Duration;

    /// One read, as the original Python server does: a line split over reads comes back cut.
    pub fn read_line_one_read(reader: &mut dyn Read) -> io::Result<Option<String>> {
        let mut buf = [0u8; 1024];
        let n = reader.read(&mut buf)?;
        if n == 0 {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&buf[..n]);
        Ok(Some(text.lines().next().unwrap_or("").to_string()))
    }

    /// A fresh BufReader per call reads ahead, and what it read past the newline is lost.
    pub fn read_line_buffered_and_lost(reader: &mut dyn Read) -> io::Result<Option<String>> {
        let mut line = String::new();
        if BufReader::new(reader).read_line(&mut line)? == 0 {
            return Ok(None);
        }
        Ok(Some(line.trim_end_matches(['\r', '\n']).to_string()))
    }

    /// Byte by byte, `stop` decides where a line ends and `keep` which bytes stay; every other
    /// detail as in our answer.
    fn bytewise(
        reader: &mut dyn Read,
        retry: bool,
        mut stop: impl FnMut(&mut dyn Read, u8) -> bool,
        keep: impl Fn(u8) -> bool,
    ) -> io::Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            match reader.read(&mut byte) {
                Ok(0) if line.is_empty() => return Ok(None),
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(_) if stop(reader, byte[0]) => break,
                Ok(_) if keep(byte[0]) => line.push(byte[0]),
                Ok(_) => {}
                Err(e) if retry && e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Some(line))
    }

    fn text(line: Option<Vec<u8>>) -> io::Result<Option<String>> {
        line.map(|l| String::from_utf8(l).map_err(|_| ErrorKind::InvalidData.into()))
            .transpose()
    }

    fn strip_cr(line: Option<Vec<u8>>) -> Option<Vec<u8>> {
        line.map(|mut l| {
            if l.last() == Some(&b'\r') {
                l.pop();
            }
            l
        })
    }

    /// Trims the line: the client's spaces are lost.
    pub fn read_line_trimmed(reader: &mut dyn Read) -> io::Result<Option<String>> {
        let line = bytewise(reader, true, |_, b| b == b'\n', |_| true)?;
        Ok(text(line)?.map(|l| l.trim_end().to_string()))
    }

    /// Ends a line at `\r` or `\n`: after `a\r\n` the next call finds an empty line.
    pub fn read_line_ending_at_cr(reader: &mut dyn Read) -> io::Result<Option<String>> {
        text(bytewise(
            reader,
            true,
            |_, b| b == b'\n' || b == b'\r',
            |_| true,
        )?)
    }

    /// Ends a line at any `\r` and swallows the next byte, taking it for the `\n`.
    pub fn read_line_cr_and_one_more(reader: &mut dyn Read) -> io::Result<Option<String>> {
        let stop = |r: &mut dyn Read, b: u8| {
            if b == b'\r' {
                let _ = r.read(&mut [0u8; 1]);
            }
            b == b'\n' || b == b'\r'
        };
        text(bytewise(reader, true, stop, |_| true)?)
    }

    /// Drops every `\r`, not only the one before `\n`.
    pub fn read_line_dropping_every_cr(reader: &mut dyn Read) -> io::Result<Option<String>> {
        text(bytewise(reader, true, |_, b| b == b'\n', |b| b != b'\r')?)
    }

    /// Takes `Interrupted` for a real error.
    pub fn read_line_not_retrying(reader: &mut dyn Read) -> io::Result<Option<String>> {
        text(strip_cr(bytewise(
            reader,
            false,
            |_, b| b == b'\n',
            |_| true,
        )?))
    }

    /// Ignores the timeout: waits as long as the kernel does.
    pub fn connect_ignoring_timeout(addr: SocketAddr, _: Duration) -> io::Result<TcpStream> {
        TcpStream::connect(addr)
    }

    /// A fixed timeout, whatever the caller asked for.
    pub fn connect_fixed_timeout(addr: SocketAddr, _: Duration) -> io::Result<TcpStream> {
        TcpStream::connect_timeout(&addr, Duration::from_secs(2))
    }

    /// Three tries, each with the whole timeout: three times the wait asked for.
    pub fn connect_three_tries(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        let mut last = None;
        for _ in 0..3 {
            match TcpStream::connect_timeout(&addr, timeout) {
                Ok(stream) => return Ok(stream),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap())
    }

    /// A plain connect on a thread, and recv_timeout on its answer: returns in time, but the
    /// thread goes on connecting for two minutes.
    pub fn connect_on_a_thread(addr: SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let _ = tx.send(TcpStream::connect(addr));
        });
        rx.recv_timeout(timeout)
            .map_err(|_| io::Error::new(ErrorKind::TimedOut, "connect timed out"))?
    }

    /// Any read error is a close: a reset passes for a FIN.
    pub fn close_on_any_error(stream: &TcpStream, within: Duration) -> io::Result<Ending> {
        stream.set_read_timeout(Some(within))?;
        let mut buf = [0u8; 4096];
        let deadline = std::time::Instant::now() + within;
        loop {
            match (&*stream).read(&mut buf) {
                Ok(0) => return Ok(Ending::Closed),
                Ok(_) if std::time::Instant::now() < deadline => {}
                Ok(_) => return Ok(Ending::StillOpen),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Ok(Ending::StillOpen);
                }
                Err(_) => return Ok(Ending::Closed),
            }
        }
    }

    /// The first read that returns decides: bytes count as the end.
    pub fn close_on_any_read(stream: &TcpStream, within: Duration) -> io::Result<Ending> {
        stream.set_read_timeout(Some(within))?;
        match (&*stream).read(&mut [0u8; 4096]) {
            Ok(_) => Ok(Ending::Closed),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => Ok(Ending::Reset),
            Err(_) => Ok(Ending::StillOpen),
        }
    }

    /// The whole wait as a timeout for each read: every byte restarts it.
    pub fn close_with_a_timeout_per_read(
        stream: &TcpStream,
        within: Duration,
    ) -> io::Result<Ending> {
        stream.set_read_timeout(Some(within))?;
        let mut buf = [0u8; 4096];
        loop {
            match (&*stream).read(&mut buf) {
                Ok(0) => return Ok(Ending::Closed),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(Ending::Reset),
                Err(_) => return Ok(Ending::StillOpen),
            }
        }
    }

    /// No timeout at all: a silent peer holds it for ever.
    pub fn close_with_no_deadline(stream: &TcpStream, _: Duration) -> io::Result<Ending> {
        stream.set_read_timeout(None)?;
        let mut buf = [0u8; 4096];
        loop {
            match (&*stream).read(&mut buf) {
                Ok(0) => return Ok(Ending::Closed),
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::ConnectionReset => return Ok(Ending::Reset),
                Err(e) => return Err(e),
            }
        }
    }

    /// Reports the port it asked for (0) instead of the one the kernel chose.
    pub fn listen_reporting_zero() -> io::Result<(TcpListener, u16)> {
        Ok((TcpListener::bind("127.0.0.1:0")?, 0))
    }

    /// Listens on every address of the machine, not on loopback alone.
    pub fn listen_everywhere() -> io::Result<(TcpListener, u16)> {
        let listener = TcpListener::bind("0.0.0.0:0")?;
        let port = listener.local_addr()?.port();
        Ok((listener, port))
    }
}
