//! Lesson 05's exercises, each written once: its task, hints, check, our answer, your stub and
//! the wrong answers the check must reject.
//!
//! - `cargo test` proves the checks (our answer passes, every wrong answer fails) and never runs
//!   your stubs;
//! - `cargo test -p lesson-05 --test exercises -- mine` checks your stubs in
//!   `src/exercises.rs`; `HINT=1` (then 2 …) in front of it adds hints.

use std::io::{self, Read};
use std::net::{SocketAddr, TcpListener as StdListener, TcpStream as StdStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use lesson_05::{LineTooLong, exercises, solutions};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use socket2::SockRef;
use test_support::exercise::{Exercise, Wrong};
use test_support::observe;

test_support::exercises_main!(EXERCISE_1, EXERCISE_2, EXERCISE_3);

/// How long a call that must not wait may take. A correct one takes microseconds; this is for
/// a loaded machine.
const AT_ONCE: Duration = Duration::from_secs(2);

// ---------------------------------------------------------------------------------------------
// Exercise 1: accept until WouldBlock.

type AcceptWaiting = fn(&TcpListener) -> io::Result<Vec<(TcpStream, SocketAddr)>>;

const EXERCISE_1: Exercise<AcceptWaiting> = Exercise {
    number: 1,
    task: "accept until WouldBlock",
    hints: &[
        "a readable listener may have many connections waiting, and readiness is reported on \
         edges: no new event comes for the ones you leave in the backlog",
        "call accept() again and again; one error means \"none left\" and is the end, not a \
         failure; another means \"interrupted, try the same call again\"",
        "loop { match listener.accept() { Ok(c) => accepted.push(c), Err(e) if e.kind() == \
         ErrorKind::WouldBlock => return Ok(accepted), Err(e) if e.kind() == \
         ErrorKind::Interrupted => {} Err(e) => return Err(e) } }",
    ],
    bound: Duration::from_secs(15),
    hang: "did it wait or spin on WouldBlock instead of returning?",
    check: check_accept_waiting,
    solution: solutions::accept_waiting,
    mine: exercises::accept_waiting,
    wrong: &[
        Wrong {
            does: "accepts one connection per call",
            answer: wrong::accept_one,
            rejected_with: "did you accept one connection per event?",
        },
        Wrong {
            does: "returns WouldBlock as an error (accept()? in a loop)",
            answer: wrong::would_block_is_an_error,
            rejected_with: "WouldBlock means none left",
        },
        Wrong {
            does: "retries on WouldBlock instead of returning",
            answer: wrong::accept_until_quiet,
            rejected_with: "does it wait or spin on WouldBlock?",
        },
    ],
};

fn check_accept_waiting(accept: AcceptWaiting) -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let at_once = |what: &str| -> Result<Vec<(TcpStream, SocketAddr)>, String> {
        let started = Instant::now();
        let result = accept(&listener);
        if started.elapsed() > AT_ONCE {
            return Err(format!(
                "with {what} it took {:?}: does it wait or spin on WouldBlock?",
                started.elapsed()
            ));
        }
        result.map_err(|e| {
            format!(
                "with {what} it returned the error {e:?}: WouldBlock means none left, not a \
                 failure"
            )
        })
    };
    let none = at_once("nobody waiting")?;
    if !none.is_empty() {
        return Err(format!(
            "with nobody waiting it returned {} connections",
            none.len()
        ));
    }
    let clients: Vec<StdStream> = (0..5)
        .map(|_| StdStream::connect(addr))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    // All five handshakes are done and waiting in the backlog (its length, from /proc/net/tcp).
    let in_backlog = observe::wait_for_tcp_socket(Duration::from_secs(5), |s| {
        s.state == "LISTEN" && s.local.port() == addr.port() && s.rx_queue == 5
    });
    if in_backlog.is_none() && cfg!(target_os = "linux") {
        return Err("the five connections never showed in the backlog".into());
    }
    let accepted = at_once("five waiting")?;
    if accepted.len() != 5 {
        return Err(format!(
            "five connections were waiting and it accepted {}: did you accept one connection per \
             event? Readiness comes on edges, so the rest would wait unseen until yet another \
             client arrived",
            accepted.len()
        ));
    }
    let mut peers: Vec<SocketAddr> = accepted.iter().map(|(_, peer)| *peer).collect();
    let mut ours: Vec<SocketAddr> = clients.iter().filter_map(|c| c.local_addr().ok()).collect();
    peers.sort();
    ours.sort();
    if peers != ours {
        return Err(format!("accepted {peers:?}, but the clients were {ours:?}"));
    }
    let again = at_once("the backlog emptied")?;
    if !again.is_empty() {
        return Err("a second call found connections that were accepted already".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Exercise 2: complete lines out, the partial rest kept.

type TakeLines = fn(&mut Vec<u8>, &[u8], usize) -> Result<Vec<Vec<u8>>, LineTooLong>;

const EXERCISE_2: Exercise<TakeLines> = Exercise {
    number: 2,
    task: "complete lines out, the partial rest kept",
    hints: &[
        "one read returns whatever has arrived: part of a line, several lines, a `\\r` whose \
         `\\n` comes next time; and a peer's bytes need not be UTF-8",
        "add what arrived to what was pending and work on bytes, never on str; what follows \
         the last `\\n` belongs to a later call; how long may that rest grow before no valid \
         line can come of it?",
        "pending.extend_from_slice(arrived); cut out each line up to a `\\n`, strip a `\\r` \
         before it, refuse it if longer than max_line; drain(..) the lines out of pending; \
         then Err(LineTooLong) if pending.len() > max_line + 1",
    ],
    bound: Duration::from_secs(10),
    hang: "did it loop for ever looking for a line?",
    check: check_take_lines,
    solution: solutions::take_lines,
    mine: exercises::take_lines,
    wrong: &[
        Wrong {
            does: "splits each read on its own and forgets the unfinished rest",
            answer: wrong::lines_of_each_read,
            rejected_with: "did you split each read on its own",
        },
        Wrong {
            does: "returns the unfinished rest as a line, as str::lines does",
            answer: wrong::like_str_lines,
            rejected_with: "as `str::lines` does?",
        },
        Wrong {
            does: "leaves the `\\r` of `\\r\\n` on the line",
            answer: wrong::keeps_the_cr,
            rejected_with: "did you leave the `\\r` on the line?",
        },
        Wrong {
            does: "decodes each read lossily into text",
            answer: wrong::decodes_each_read_lossily,
            rejected_with: "did you decode each read as text?",
        },
        Wrong {
            does: "skips empty lines",
            answer: wrong::skips_empty_lines,
            rejected_with: "did you skip empty lines?",
        },
        Wrong {
            does: "checks the limit on complete lines only",
            answer: wrong::limit_on_complete_lines_only,
            rejected_with: "did you check the limit on complete lines only?",
        },
    ],
};

/// One conversation: the reads in order, after each what must come out (`None`: too long), and
/// what the conversation tests, said to the learner whose answer gets it wrong.
struct Case {
    max_line: usize,
    reads: Vec<&'static [u8]>,
    expected: Vec<Option<Vec<&'static [u8]>>>,
    why: &'static str,
}

fn cases() -> Vec<Case> {
    let ok = |lines: &[&'static [u8]]| Some(lines.to_vec());
    vec![
        Case {
            max_line: 64,
            reads: vec![b"hello\n"],
            expected: vec![ok(&[b"hello"])],
            why: "one read, one line: it comes out without its `\\n`",
        },
        // The connection may say nothing more: the rest must not come out as a line.
        Case {
            max_line: 64,
            reads: vec![b"a\nb"],
            expected: vec![ok(&[b"a"])],
            why: "what follows the last `\\n` is not a line yet: did you return the unfinished \
                  rest as a line, as `str::lines` does?",
        },
        // A line in two reads: nothing until its end.
        Case {
            max_line: 64,
            reads: vec![b"hel", b"lo\n"],
            expected: vec![ok(&[]), ok(&[b"hello"])],
            why: "a line split across reads comes out whole once its end arrives: did you split \
                  each read on its own and forget the unfinished rest?",
        },
        // Two lines and the start of a third in one read.
        Case {
            max_line: 64,
            reads: vec![b"a\nb\nc", b"\n"],
            expected: vec![ok(&[b"a", b"b"]), ok(&[b"c"])],
            why: "every line of a read comes out, and the unfinished rest waits for its `\\n`",
        },
        // Empty lines are lines.
        Case {
            max_line: 64,
            reads: vec![b"a\n\nb\n"],
            expected: vec![ok(&[b"a", b"", b"b"])],
            why: "an empty line is a line too: did you skip empty lines?",
        },
        // `\r\n` ends a line too, even split between reads; empty lines are lines.
        Case {
            max_line: 64,
            reads: vec![b"x\r\n", b"y\r", b"\n\n"],
            expected: vec![ok(&[b"x"]), ok(&[]), ok(&[b"y", b""])],
            why: "`\\r\\n` ends a line too, even split between reads: did you leave the `\\r` on \
                  the line?",
        },
        // A character split across reads, and bytes that are not UTF-8 at all, come out intact.
        Case {
            max_line: 64,
            reads: vec![b"caf\xc3", b"\xa9\n\xff\xfe\n"],
            expected: vec![ok(&[]), ok(&[b"caf\xc3\xa9", b"\xff\xfe"])],
            why: "a character split between reads, and bytes that are not UTF-8, must come out \
                  as they came: did you decode each read as text?",
        },
        // Exactly the limit is a line; one byte more is not.
        Case {
            max_line: 8,
            reads: vec![b"12345678\n", b"12345678\r", b"\n"],
            expected: vec![ok(&[b"12345678"]), ok(&[]), ok(&[b"12345678"])],
            why: "a line of exactly max_line bytes is a line, ended by `\\n` or `\\r\\n`",
        },
        Case {
            max_line: 8,
            reads: vec![b"123456789\n"],
            expected: vec![None],
            why: "a line longer than max_line is Err(LineTooLong)",
        },
        // Too long before its end arrives: refused now, not after the client has sent more.
        Case {
            max_line: 8,
            reads: vec![b"1234", b"567890"],
            expected: vec![ok(&[]), None],
            why: "a line over max_line is refused while it still arrives: did you check the \
                  limit on complete lines only? A client that never sends `\\n` would fill \
                  memory",
        },
    ]
}

fn show(lines: &Option<Vec<Vec<u8>>>) -> String {
    match lines {
        None => "Err(LineTooLong)".into(),
        Some(lines) => {
            let shown: Vec<String> = lines
                .iter()
                .map(|l| format!("\"{}\"", l.escape_ascii()))
                .collect();
            format!("Ok([{}])", shown.join(", "))
        }
    }
}

fn check_take_lines(take_lines: TakeLines) -> Result<(), String> {
    for case in cases() {
        let mut pending = Vec::new();
        let mut sent = Vec::new();
        for (read, expected) in case.reads.iter().zip(&case.expected) {
            sent.push(format!("\"{}\"", read.escape_ascii()));
            let got = take_lines(&mut pending, read, case.max_line).ok();
            let expected: Option<Vec<Vec<u8>>> = expected
                .as_ref()
                .map(|lines| lines.iter().map(|l| l.to_vec()).collect());
            if got != expected {
                return Err(format!(
                    "after the reads {} (max_line {}) it returned {}, expected {}: {}",
                    sent.join(", "),
                    case.max_line,
                    show(&got),
                    show(&expected),
                    case.why
                ));
            }
            if got.is_none() {
                break;
            }
        }
    }
    // A client that never sends a newline: 1 MiB in reads of 64 KiB, a limit of 64 KiB.
    let mut pending = Vec::new();
    let piece = vec![b'x'; 64 * 1024];
    for i in 1..=16 {
        match take_lines(&mut pending, &piece, 64 * 1024) {
            Err(LineTooLong) => return Ok(()),
            Ok(_) if pending.len() > 64 * 1024 + 1 => {
                return Err(format!(
                    "after {i} reads of 64 KiB with no newline, `pending` holds {} bytes and no \
                     error: a line that can no longer fit the limit must be refused at once",
                    pending.len()
                ));
            }
            Ok(_) => {}
        }
    }
    Err("1 MiB with no newline and a limit of 64 KiB was never refused".into())
}

// ---------------------------------------------------------------------------------------------
// Exercise 3: write until WouldBlock, keep the rest.

type Flush = fn(&mut TcpStream, &mut Vec<u8>) -> io::Result<bool>;

const EXERCISE_3: Exercise<Flush> = Exercise {
    number: 3,
    task: "write until WouldBlock, keep the rest",
    hints: &[
        "a non-blocking socket takes what fits in its send buffer now, perhaps part of what you \
         give it, and says WouldBlock when it is full",
        "write() says how many bytes it took: remove exactly those, from the front; WouldBlock \
         means \"not now\", and the answer must tell the loop whether bytes remain",
        "while !output.is_empty() { match stream.write(output) { Ok(n) => { output.drain(..n); } \
         Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false), Err(e) if e.kind() \
         == ErrorKind::Interrupted => {} Err(e) => return Err(e) } } Ok(true)",
    ],
    bound: Duration::from_secs(40),
    hang: "did it spin on WouldBlock, or wait for the peer to read?",
    check: check_flush,
    solution: solutions::flush,
    mine: exercises::flush,
    wrong: &[
        Wrong {
            does: "uses write_all",
            answer: wrong::flush_with_write_all,
            rejected_with: "WouldBlock means the socket is full for now",
        },
        Wrong {
            does: "clears the whole buffer after one write",
            answer: wrong::flush_clearing_everything,
            rejected_with: "did you clear the whole buffer after a write?",
        },
        Wrong {
            does: "reports WouldBlock as \"all written\"",
            answer: wrong::flush_done_on_would_block,
            rejected_with: "or on WouldBlock?",
        },
        Wrong {
            does: "writes once, then returns Ok(true)",
            answer: wrong::flush_one_write_then_done,
            rejected_with: "Did you return Ok(true) after one write",
        },
        Wrong {
            does: "removes the written bytes from the wrong end",
            answer: wrong::flush_dropping_the_end,
            rejected_with: "did you remove the written bytes from the wrong end?",
        },
        Wrong {
            does: "counts what it wrote in a variable of its own and removes nothing",
            answer: wrong::flush_removing_nothing,
            rejected_with: "and remove nothing from output?",
        },
        Wrong {
            does: "removes only the last write's count",
            answer: wrong::flush_removing_the_last_count,
            rejected_with: "bytes went out twice",
        },
        Wrong {
            does: "takes every error from write for a full buffer",
            answer: wrong::flush_swallowing_errors,
            rejected_with: "an error from write is not a full buffer",
        },
    ],
};

/// More than the send and receive buffers of a loopback connection hold together.
const BIG: usize = 64 << 20;

fn check_flush(flush: Flush) -> Result<(), String> {
    let listener = StdListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let mut peer = StdStream::connect(listener.local_addr().unwrap()).map_err(|e| e.to_string())?;
    let (ours, _) = listener.accept().map_err(|e| e.to_string())?;
    ours.set_nonblocking(true).map_err(|e| e.to_string())?;
    let mut stream = TcpStream::from_std(ours);

    let original: Vec<u8> = (0..BIG).map(|i| (i % 251) as u8).collect();
    let mut output = original.clone();
    // The peer reads nothing yet: the socket fills, and flush must say so and return.
    let started = Instant::now();
    let first = flush(&mut stream, &mut output);
    if started.elapsed() > AT_ONCE {
        return Err(format!(
            "with a peer that reads nothing it took {:?} to return: does it spin on WouldBlock?",
            started.elapsed()
        ));
    }
    match first {
        Ok(false) => {}
        Ok(true) if output.is_empty() => {
            return Err(format!(
                "it returned Ok(true) with output emptied, but a socket whose peer reads nothing \
                 cannot take {BIG} bytes: did you clear the whole buffer after a write? Remove \
                 exactly the count write() returns"
            ));
        }
        Ok(true) => {
            return Err(format!(
                "it returned Ok(true), \"all written\", with {} bytes still in output: Ok(true) \
                 must mean output is empty, or the loop stops watching for writability and the \
                 rest is never sent. Did you return Ok(true) after one write, or on WouldBlock? \
                 Write until output is empty (Ok(true)) or write() says WouldBlock (Ok(false))",
                output.len()
            ));
        }
        Err(e) => {
            return Err(format!(
                "it returned the error {e:?}: WouldBlock means the socket is full for now, not a \
                 failure (write_all gives it back as one, and forgets how much it wrote)"
            ));
        }
    }
    if output == original {
        return Err(format!(
            "output still holds all {BIG} bytes, though a socket with empty buffers takes some at \
             once: did you count the written bytes in a variable of your own and remove nothing \
             from output? The next call would send them again; drain(..n) after each write"
        ));
    }
    let written = BIG.saturating_sub(output.len());
    if written == 0 || output[..] != original[written..] {
        return Err(format!(
            "{written} bytes left output, but output is no longer the unwritten rest of it: did \
             you remove the written bytes from the wrong end?"
        ));
    }

    // Now the peer reads everything; the loop waits for writability and flushes again. The
    // peer keeps at most BIG bytes, and counts them all: more than BIG means bytes went twice.
    let arrived = Arc::new(AtomicUsize::new(0));
    let reader = thread::spawn({
        let arrived = Arc::clone(&arrived);
        move || -> io::Result<Vec<u8>> {
            peer.set_read_timeout(Some(Duration::from_secs(5)))?;
            let mut received = Vec::with_capacity(BIG);
            let mut chunk = vec![0; 1 << 16];
            loop {
                let n = peer.read(&mut chunk)?;
                if n == 0 {
                    return Ok(received);
                }
                let keep = n.min(BIG - received.len());
                received.extend_from_slice(&chunk[..keep]);
                arrived.fetch_add(n, Ordering::Relaxed);
            }
        }
    });
    let twice = |arrived: usize| {
        format!(
            "the peer received {arrived} bytes, more than the {BIG} sent: bytes went out twice. \
             Did you remove from output only part of what was written, such as only the last \
             write's count? Remove each write's count right after it"
        )
    };
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    poll.registry()
        .register(&mut stream, Token(0), Interest::WRITABLE)
        .map_err(|e| e.to_string())?;
    let mut events = Events::with_capacity(8);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if arrived.load(Ordering::Relaxed) > BIG {
            return Err(twice(arrived.load(Ordering::Relaxed)));
        }
        match flush(&mut stream, &mut output) {
            Ok(true) if output.is_empty() => break,
            Ok(true) => return Err("Ok(true) with bytes left in output".into()),
            Ok(false) => {}
            Err(e) => return Err(format!("a later call returned {e:?}")),
        }
        poll.poll(&mut events, Some(Duration::from_secs(5)))
            .map_err(|e| e.to_string())?;
        if events.is_empty() {
            return Err(format!(
                "no writable event came within 5 s with {} bytes still to write: was the socket \
                 written until WouldBlock? Readiness comes on edges, and only a full socket \
                 gives another",
                output.len()
            ));
        }
        if Instant::now() > deadline {
            return Err("64 MiB were not flushed within 20 s".into());
        }
    }
    drop(stream); // the peer's reads end
    let received = reader
        .join()
        .map_err(|_| "the reader panicked")?
        .map_err(|e| format!("the peer's read failed: {e}"))?;
    let total = arrived.load(Ordering::Relaxed);
    if total > BIG {
        return Err(twice(total));
    }
    if total < BIG {
        return Err(format!(
            "the peer received {total} bytes of the {BIG} sent: bytes were lost. Did you remove \
             from output more than write() took?"
        ));
    }
    if received != original {
        let same = received
            .iter()
            .zip(&original)
            .take_while(|(a, b)| a == b)
            .count();
        return Err(format!(
            "the peer received all {BIG} bytes, but the same as sent for the first {same} only"
        ));
    }
    check_flush_short_reply(flush)?;
    check_flush_after_reset(flush)
}

/// A short reply to a socket with room for it: all of it goes, once.
fn check_flush_short_reply(flush: Flush) -> Result<(), String> {
    let listener = StdListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let mut peer = StdStream::connect(listener.local_addr().unwrap()).map_err(|e| e.to_string())?;
    let (ours, _) = listener.accept().map_err(|e| e.to_string())?;
    ours.set_nonblocking(true).map_err(|e| e.to_string())?;
    let mut stream = TcpStream::from_std(ours);
    let reply = b"a short reply that fits in an empty send buffer\n".to_vec();
    let mut output = reply.clone();
    match flush(&mut stream, &mut output) {
        Ok(true) if output.is_empty() => {}
        other => {
            return Err(format!(
                "with a {}-byte reply and an empty socket it returned {other:?} and left {} \
                 bytes in output, expected Ok(true) and none",
                reply.len(),
                output.len()
            ));
        }
    }
    drop(stream); // the peer's reads end
    peer.set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let (mut arrived, mut chunk) = (0, vec![0; 1 << 16]);
    loop {
        match peer.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => arrived += n,
            Err(e) => return Err(format!("the peer's read failed: {e}")),
        }
    }
    if arrived > reply.len() {
        return Err(format!(
            "with a {}-byte reply the peer received {arrived} bytes: bytes went out twice. Did \
             you write output again and again, and remove only the last write's count? Remove \
             each write's count right after it",
            reply.len()
        ));
    }
    if arrived < reply.len() {
        return Err(format!(
            "with a {}-byte reply the peer received only {arrived} bytes",
            reply.len()
        ));
    }
    Ok(())
}

/// The peer resets the connection (SO_LINGER 0: its close sends RST, not FIN), then flush is
/// called with bytes to send. Its write fails (ECONNRESET, and EPIPE after that), and flush must
/// return that error: the loop then closes the connection.
fn check_flush_after_reset(flush: Flush) -> Result<(), String> {
    let listener = StdListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let peer = StdStream::connect(listener.local_addr().unwrap()).map_err(|e| e.to_string())?;
    let (ours, _) = listener.accept().map_err(|e| e.to_string())?;
    ours.set_nonblocking(true).map_err(|e| e.to_string())?;
    let mut stream = TcpStream::from_std(ours);
    let mut poll = Poll::new().map_err(|e| e.to_string())?;
    poll.registry()
        .register(&mut stream, Token(0), Interest::READABLE)
        .map_err(|e| e.to_string())?;
    SockRef::from(&peer)
        .set_linger(Some(Duration::ZERO))
        .map_err(|e| e.to_string())?;
    drop(peer);
    // Wait until the reset has arrived: epoll reports it as an error on our socket without
    // taking the error away (the first write gets it).
    let mut events = Events::with_capacity(8);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !events.iter().any(|e| e.is_error()) {
        if Instant::now() > deadline {
            return Err("the peer's reset did not arrive within 10 s".into());
        }
        match poll.poll(&mut events, Some(Duration::from_millis(200))) {
            Err(e) if e.kind() != io::ErrorKind::Interrupted => return Err(e.to_string()),
            _ => {}
        }
    }
    let mut output = vec![b'x'; 1 << 20];
    let started = Instant::now();
    let result = flush(&mut stream, &mut output);
    if started.elapsed() > AT_ONCE {
        return Err(format!(
            "after a reset it took {:?} to return: does it retry failed writes?",
            started.elapsed()
        ));
    }
    match result {
        Err(_) => Ok(()),
        Ok(done) => Err(format!(
            "the peer had reset the connection, so write() failed (ECONNRESET, then EPIPE), and \
             it returned Ok({done}) with {} bytes in output: an error from write is not a full \
             buffer. Return it, so that the loop closes the connection; Ok(false) leaves the \
             dead connection waiting for an event that never comes, Ok(true) leaves it open",
            output.len()
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Plausible wrong answers, each of which its check must reject.

mod wrong {
    use std::io::{self, ErrorKind, Write};
    use std::net::SocketAddr;
    use std::time::{Duration, Instant};

    use lesson_05::LineTooLong;
    use mio::net::{TcpListener, TcpStream};

    /// One accept per readable event, as a blocking server does: the rest wait unseen.
    pub fn accept_one(listener: &TcpListener) -> io::Result<Vec<(TcpStream, SocketAddr)>> {
        match listener.accept() {
            Ok(connection) => Ok(vec![connection]),
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Loops with `?`: WouldBlock at the end of the backlog comes back as a failure.
    pub fn would_block_is_an_error(
        listener: &TcpListener,
    ) -> io::Result<Vec<(TcpStream, SocketAddr)>> {
        let mut accepted = Vec::new();
        loop {
            accepted.push(listener.accept()?);
        }
    }

    /// Takes WouldBlock for "not yet" and tries again (here for at most 5 s): a busy loop.
    pub fn accept_until_quiet(listener: &TcpListener) -> io::Result<Vec<(TcpStream, SocketAddr)>> {
        let mut accepted = Vec::new();
        let give_up = Instant::now() + Duration::from_secs(5);
        while Instant::now() < give_up {
            match listener.accept() {
                Ok(connection) => accepted.push(connection),
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
        }
        Ok(accepted)
    }

    /// Splits each read on its own and forgets the unfinished rest.
    pub fn lines_of_each_read(
        _pending: &mut Vec<u8>,
        arrived: &[u8],
        max_line: usize,
    ) -> Result<Vec<Vec<u8>>, LineTooLong> {
        let mut lines: Vec<Vec<u8>> = arrived.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        lines.pop(); // what follows the last newline
        if lines.iter().any(|l| l.len() > max_line) {
            return Err(LineTooLong);
        }
        Ok(lines)
    }

    /// `str::lines` on what has arrived: the unfinished rest comes out as a line too.
    pub fn like_str_lines(
        pending: &mut Vec<u8>,
        arrived: &[u8],
        max_line: usize,
    ) -> Result<Vec<Vec<u8>>, LineTooLong> {
        pending.extend_from_slice(arrived);
        let lines: Vec<Vec<u8>> = pending
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
            .collect();
        pending.clear();
        if lines.iter().any(|l| l.len() > max_line) {
            return Err(LineTooLong);
        }
        Ok(lines)
    }

    /// Frames lines correctly but leaves the `\r` of `\r\n` on them.
    pub fn keeps_the_cr(
        pending: &mut Vec<u8>,
        arrived: &[u8],
        max_line: usize,
    ) -> Result<Vec<Vec<u8>>, LineTooLong> {
        let mut lines = Vec::new();
        pending.extend_from_slice(arrived);
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            lines.push(line[..line.len() - 1].to_vec());
        }
        if pending.len() > max_line + 1 || lines.iter().any(|l| l.len() > max_line + 1) {
            return Err(LineTooLong);
        }
        Ok(lines)
    }

    /// Turns each read into text first: a character split between reads, and any byte that is
    /// not UTF-8, become U+FFFD.
    pub fn decodes_each_read_lossily(
        pending: &mut Vec<u8>,
        arrived: &[u8],
        max_line: usize,
    ) -> Result<Vec<Vec<u8>>, LineTooLong> {
        let text = String::from_utf8_lossy(arrived);
        super::solutions::take_lines(pending, text.as_bytes(), max_line)
    }

    /// Treats an empty line as nothing at all.
    pub fn skips_empty_lines(
        pending: &mut Vec<u8>,
        arrived: &[u8],
        max_line: usize,
    ) -> Result<Vec<Vec<u8>>, LineTooLong> {
        let lines = super::solutions::take_lines(pending, arrived, max_line)?;
        Ok(lines.into_iter().filter(|l| !l.is_empty()).collect())
    }

    /// Checks the limit when a line is complete: a client that never sends a newline fills
    /// memory without end.
    pub fn limit_on_complete_lines_only(
        pending: &mut Vec<u8>,
        arrived: &[u8],
        max_line: usize,
    ) -> Result<Vec<Vec<u8>>, LineTooLong> {
        super::solutions::take_lines(pending, arrived, usize::MAX - 1).and_then(|lines| {
            if lines.iter().any(|l| l.len() > max_line) {
                Err(LineTooLong)
            } else {
                Ok(lines)
            }
        })
    }

    /// write_all: on a non-blocking socket it stops with WouldBlock as an error, and forgets
    /// how much it had written.
    pub fn flush_with_write_all(stream: &mut TcpStream, output: &mut Vec<u8>) -> io::Result<bool> {
        stream.write_all(output)?;
        output.clear();
        Ok(true)
    }

    /// One write, then the whole buffer thrown away as if it had all gone.
    pub fn flush_clearing_everything(
        stream: &mut TcpStream,
        output: &mut Vec<u8>,
    ) -> io::Result<bool> {
        match stream.write(output) {
            Ok(_) => {
                output.clear();
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Stops at WouldBlock, but reports it as "done": the loop stops watching for writability
    /// and the rest is never sent.
    pub fn flush_done_on_would_block(
        stream: &mut TcpStream,
        output: &mut Vec<u8>,
    ) -> io::Result<bool> {
        while !output.is_empty() {
            match stream.write(output) {
                Ok(n) => {
                    output.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(true),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// One write, then "all written" whatever it took.
    pub fn flush_one_write_then_done(
        stream: &mut TcpStream,
        output: &mut Vec<u8>,
    ) -> io::Result<bool> {
        match stream.write(output) {
            Ok(n) => {
                output.drain(..n);
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Counts what it wrote in a variable of its own and removes nothing from output: the
    /// next call sends the same bytes again.
    pub fn flush_removing_nothing(
        stream: &mut TcpStream,
        output: &mut Vec<u8>,
    ) -> io::Result<bool> {
        let mut written = 0;
        while written < output.len() {
            match stream.write(&output[written..]) {
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        output.clear();
        Ok(true)
    }

    /// Writes until WouldBlock, keeping only the count of the last write, and removes that
    /// count at the end: every write but the last sends bytes that stay in output.
    pub fn flush_removing_the_last_count(
        stream: &mut TcpStream,
        output: &mut Vec<u8>,
    ) -> io::Result<bool> {
        let mut last = 0;
        loop {
            match stream.write(output) {
                Ok(n) => last = n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        output.drain(..last);
        Ok(output.is_empty())
    }

    /// Writes while write() succeeds: every error, not only WouldBlock, taken for "full".
    pub fn flush_swallowing_errors(
        stream: &mut TcpStream,
        output: &mut Vec<u8>,
    ) -> io::Result<bool> {
        while let Ok(n) = stream.write(output) {
            output.drain(..n);
            if output.is_empty() {
                return Ok(true);
            }
        }
        Ok(output.is_empty())
    }

    /// Removes the written count from the wrong end of the buffer.
    pub fn flush_dropping_the_end(
        stream: &mut TcpStream,
        output: &mut Vec<u8>,
    ) -> io::Result<bool> {
        while !output.is_empty() {
            match stream.write(output) {
                Ok(n) => output.truncate(output.len() - n),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }
}
