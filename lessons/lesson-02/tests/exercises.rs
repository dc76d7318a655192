//! Lesson 02's exercises, each written once: its task, hints, check, our answer, your stub and
//! the wrong answers the check must reject.
//!
//! - `cargo test` proves the checks (our answer passes, every wrong answer fails) and never runs
//!   your stubs;
//! - `cargo test -p lesson-02 --test exercises -- mine` checks your stubs in
//!   `src/exercises.rs`; `HINT=1` (then 2 …) in front of it adds hints.

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use lesson_02::{exercises, solutions};
use test_support::Pieces;
use test_support::exercise::{Exercise, Wrong, spawn_checked};

test_support::exercises_main!(EXERCISE_1, EXERCISE_2, EXERCISE_3, EXERCISE_4);

const EXERCISE_1: Exercise<ReadLimited> = Exercise {
    number: 1,
    task: "read a line with a length limit",
    hints: &[
        "a client that never sends \\n must not make you read (and store) without end: stop \
         reading soon after max bytes, newline or not",
        "Read::take(n) makes a reader end after n bytes; read_until(b'\\n') on it stops there \
         even when no newline comes",
        "reader.by_ref().take(max as u64 + 2).read_until(b'\\n', &mut line); no \\n at the end \
         and n == max + 2 means too long, fewer means the stream ended mid-line",
    ],
    bound: Duration::from_secs(15),
    hang: "did you wait for a newline that never comes?",
    check: check_read_line_limited,
    solution: |mut r, max| solutions::read_line_limited(&mut r, max),
    mine: |mut r, max| exercises::read_line_limited(&mut r, max),
    wrong: &[
        Wrong {
            does: "reads the whole line, then checks its length",
            answer: |mut r, max| wrong::read_line_then_check_length(&mut r, max),
            rejected_with: "before giving up",
        },
        Wrong {
            does: "counts the newline in the limit",
            answer: |mut r, max| wrong::read_line_off_by_one(&mut r, max),
            rejected_with: "a line may be as long as max",
        },
    ],
};

const EXERCISE_2: Exercise<ReplyAndClose> = Exercise {
    number: 2,
    task: "send the last reply and close in the right order",
    hints: &[
        "closing a socket that still holds unread bytes sends RST, not FIN, and the client may \
         lose your reply; and a client must not hold you longer than `linger`, whatever it does",
        "send FIN first (shutdown(Shutdown::Write)), then read and discard until the client \
         closes, with ONE deadline for the whole wait; write may send only part of the reply",
        "write_all(reply); shutdown(Write); let deadline = now + linger; loop { \
         set_read_timeout(deadline - now); read: 0 or error => break }",
    ],
    bound: Duration::from_secs(30),
    hang: "did you wait for the client to close with no deadline?",
    check: check_reply_and_close,
    solution: solutions::reply_and_close,
    mine: exercises::reply_and_close,
    wrong: &[
        Wrong {
            does: "writes and closes at once",
            answer: wrong::reply_and_drop,
            // The RST's error is reported once, to whichever call meets it first: the
            // client's read or its upload. Both messages say what the kernel did.
            rejected_with: "so its kernel answered with RST",
        },
        Wrong {
            does: "sends FIN but closes with unread bytes",
            answer: wrong::reply_shutdown_and_drop,
            rejected_with: "closed without reading what the client still sent",
        },
        Wrong {
            does: "drains before sending FIN",
            answer: wrong::reply_drain_then_shutdown,
            rejected_with: "send FIN (shutdown) right after the reply",
        },
        Wrong {
            does: "drains with no deadline",
            answer: wrong::reply_and_drain_for_ever,
            rejected_with: "held it for more than the linger",
        },
        Wrong {
            does: "waits a fixed 1 s, whatever `linger` says",
            answer: wrong::reply_ignoring_linger,
            rejected_with: "is `linger` ignored?",
        },
        Wrong {
            does: "gives each read the whole linger as its timeout",
            answer: wrong::reply_with_a_timeout_per_read,
            rejected_with: "a timeout per read, not one deadline?",
        },
        Wrong {
            does: "sends the reply with one write",
            answer: wrong::reply_with_one_write,
            rejected_with: "did you use write, which may send only part of the buffer?",
        },
    ],
};

const EXERCISE_3: Exercise<AnswerUntilHalfClose> = Exercise {
    number: 3,
    task: "answer every line, then stop at the half-close",
    hints: &[
        "a read of 0 bytes is the end of the stream, and will be 0 again at once every time: \
         it is not \"no data yet\"; and a line ends only with \\n",
        "put a BufReader in front of the stream and call read_line in a loop; what it returns \
         tells the end of the stream (0) and an unfinished last line (no \\n at the end)",
        "loop { line.clear(); if reader.read_line(&mut line)? == 0 || !line.ends_with('\\n') \
         { return Ok(count) } count += 1; write_all(reply) }",
    ],
    bound: Duration::from_secs(25),
    hang: "did you read again after a read of 0?",
    check: check_answer_until_half_close,
    solution: solutions::answer_until_half_close,
    mine: exercises::answer_until_half_close,
    wrong: &[
        Wrong {
            does: "answers each read, as the original server does",
            answer: wrong::answer_like_the_original,
            rejected_with: "one read is not one line",
        },
        Wrong {
            does: "answers the lines of the first read only",
            answer: wrong::answer_the_first_read,
            rejected_with: "lines that arrive later",
        },
        Wrong {
            does: "answers with BufReader::lines(), which hands out an unfinished last line",
            answer: wrong::answer_with_lines,
            rejected_with: "did you use lines()",
        },
        Wrong {
            does: "answers the unfinished last line on purpose",
            answer: wrong::answer_the_unfinished_line,
            rejected_with: "or answer it on purpose?",
        },
        Wrong {
            does: "takes a read of 0 for \"no data yet\" and sleeps before reading again",
            answer: wrong::answer_sleeping_on_zero,
            rejected_with: "did you read again after a read of 0?",
        },
    ],
};

/// A connected pair on 127.0.0.1: (the client's end, the server's end).
fn connected_pair() -> Result<(TcpStream, TcpStream), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let client = TcpStream::connect(listener.local_addr().unwrap()).map_err(|e| e.to_string())?;
    let (server, _) = listener.accept().map_err(|e| e.to_string())?;
    for end in [&client, &server] {
        end.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        end.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    }
    Ok((client, server))
}

/// The function under test, running on the server's end on a thread of its own.
struct Served<T> {
    outcome: mpsc::Receiver<Result<io::Result<T>, String>>,
}

/// Starts `serve` on the server's end, on a thread of its own.
fn serve_on_thread<T: Send + 'static>(
    server: TcpStream,
    serve: impl FnOnce(TcpStream) -> io::Result<T> + Send + 'static,
) -> Served<T> {
    Served {
        outcome: spawn_checked(move || serve(server)),
    }
}

impl<T> Served<T> {
    /// What the function returned, if it did within `timeout`; `Err` if it panicked.
    fn returned(&self, timeout: Duration) -> Result<Option<io::Result<T>>, String> {
        match self.outcome.recv_timeout(timeout) {
            Ok(Ok(result)) => Ok(Some(result)),
            Ok(Err(panic)) => Err(panic),
            Err(_) => Ok(None),
        }
    }

    /// `problem`, seen from the client's side, unless the function panicked: a panic closes the
    /// connection too, and is the better explanation.
    fn blame(&self, problem: String) -> String {
        match self.outcome.recv_timeout(Duration::from_millis(500)) {
            Ok(Err(panic)) => panic,
            _ => problem,
        }
    }
}

/// Everything the client's end reads until the end of the stream, or how that failed.
fn read_until_end(client: &TcpStream) -> Result<Vec<u8>, (Vec<u8>, io::Error)> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match (&*client).read(&mut buf) {
            Ok(0) => return Ok(got),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err((got, e)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Exercise 1: read a line with a length limit.

type ReadLimited = fn(&mut dyn BufRead, usize) -> io::Result<Option<Vec<u8>>>;

fn check_read_line_limited(read: ReadLimited) -> Result<(), String> {
    let text = |line: &Option<Vec<u8>>| line.as_ref().map(|l| String::from_utf8_lossy(l).into());
    let expect = |chunks: &[&[u8]], max: usize, want: &[Option<&str>], case: &str| {
        let mut reader = Pieces::new(chunks);
        for expected in want {
            let got = read(&mut reader, max).map_err(|e| format!("{case}: error {e}"))?;
            let got: Option<String> = text(&got);
            if got.as_deref() != *expected {
                return Err(format!("{case}: expected {expected:?}, got {got:?}"));
            }
        }
        Ok::<(), String>(())
    };
    let expect_error = |mut reader: Pieces, max: usize, kind: ErrorKind, case: &str| match read(
        &mut reader,
        max,
    ) {
        Err(e) if e.kind() == kind => Ok(reader.taken()),
        Err(e) => Err(format!(
            "{case}: expected an error of kind {kind:?}, got {e:?}"
        )),
        Ok(line) => Err(format!(
            "{case}: expected an error of kind {kind:?}, got the line {:?}",
            text(&line)
        )),
    };

    expect(
        &[b"hel", b"lo\nwor", b"ld\r\n"],
        16,
        &[Some("hello"), Some("world"), None],
        "two lines split and glued across reads",
    )?;
    let sixteen = b"0123456789abcdef";
    expect(
        &[sixteen, b"\n", sixteen, b"\r\n"],
        16,
        &[Some("0123456789abcdef"), Some("0123456789abcdef")],
        "lines of exactly max = 16 bytes (a line may be as long as max)",
    )?;
    expect_error(
        Pieces::new(&[sixteen, b"X\n"]),
        16,
        ErrorKind::InvalidData,
        "a line of 17 bytes with max = 16",
    )?;
    expect_error(
        Pieces::new(&[b"abc"]),
        16,
        ErrorKind::UnexpectedEof,
        "a stream that ends in the middle of a line",
    )?;
    let consumed = expect_error(
        Pieces::new(&[]).then_endless(8 << 20, b'a'),
        16,
        ErrorKind::InvalidData,
        "a line with no newline in 8 MiB, max = 16",
    )?;
    if consumed > 16 + 8192 {
        return Err(format!(
            "a line with no newline, max = 16: you read {consumed} bytes of it before giving up; \
             stop soon after max"
        ));
    }

    // Over a real socket: a client sends a long line with no newline and then waits. Waiting
    // for the newline would wait for ever (here: until the 5 s read timeout).
    let (mut client, server) = connected_pair()?;
    client.write_all(&[b'x'; 8192]).map_err(|e| e.to_string())?;
    let mut reader = io::BufReader::new(&server);
    match read(&mut reader, 1024) {
        Err(e) if e.kind() == ErrorKind::InvalidData => Ok(()),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => Err(
            "a client sent 8 KiB with no newline, max = 1024: you were still waiting for a \
             newline when the 5 s read timeout struck"
                .to_string(),
        ),
        other => Err(format!(
            "a client sent 8 KiB with no newline, max = 1024: expected an InvalidData error, \
             got {other:?}"
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Exercise 2: send the last reply and close in the right order.

type ReplyAndClose = fn(TcpStream, &[u8], Duration) -> io::Result<()>;

fn check_reply_and_close(reply_and_close: ReplyAndClose) -> Result<(), String> {
    // Case 1: the client said `exit`, and is still uploading 8 MiB the server will never use.
    let (client, server) = connected_pair()?;
    let mut uploader = client.try_clone().map_err(|e| e.to_string())?;
    let upload = thread::spawn(move || {
        uploader.write_all(b"exit\n")?;
        uploader.write_all(&vec![b'z'; 8 << 20])?;
        // All sent: now the client closes its side too.
        uploader.shutdown(Shutdown::Write)
    });
    // Wait until the client's bytes have arrived, unread, then let the server answer.
    let mut first = [0u8; 1];
    server
        .peek(&mut first)
        .map_err(|e| format!("no bytes from the client: {e}"))?;
    let done = serve_on_thread(server, move |s| reply_and_close(s, b"bye\n", LINGER_LONG));
    let got = read_until_end(&client);
    let uploaded = upload.join().expect("the upload thread does not panic");
    let seen = match got {
        Ok(got) if got == b"bye\n" => Ok(()),
        Ok(got) => Err(format!(
            "case 1: the client expected \"bye\\n\" and the end of the stream, got {:?}",
            String::from_utf8_lossy(&got)
        )),
        Err((got, e)) => Err(format!(
            "case 1: the client read {:?}, then the connection broke ({e}): the server \
             closed with unread bytes, so its kernel answered with RST instead of FIN",
            String::from_utf8_lossy(&got)
        )),
    };
    seen.and(uploaded.map_err(|e| {
        format!(
            "case 1: the client's upload after `exit` failed ({e}): the server closed without \
             reading what the client still sent, so its kernel answered with RST"
        )
    }))
    .map_err(|problem| done.blame(problem))?;
    drop(client);
    match done.returned(Duration::from_secs(5))? {
        Some(Ok(())) => {}
        Some(Err(e)) => return Err(format!("case 1: it returned an error: {e}")),
        None => {
            return Err(
                "case 1: the client closed, but it was still running 5 s later".to_string(),
            );
        }
    }

    // Case 2: the client reads the reply and waits for the end of the stream, and never closes.
    let (client, server) = connected_pair()?;
    let started = Instant::now();
    let linger = Duration::from_secs(3);
    let done = serve_on_thread(server, move |s| reply_and_close(s, b"bye\n", linger));
    let seen = match read_until_end(&client) {
        Ok(got) if got == b"bye\n" => Ok(()),
        Ok(got) => Err(format!(
            "case 2: expected \"bye\\n\" and the end of the stream, got {:?}",
            String::from_utf8_lossy(&got)
        )),
        Err((got, e)) => Err(format!(
            "case 2: the client read {:?}, then {e}",
            String::from_utf8_lossy(&got)
        )),
    };
    seen.map_err(|problem| done.blame(problem))?;
    if started.elapsed() > Duration::from_secs(1) {
        return Err(format!(
            "case 2: the client saw the end of the stream only after {:?}: send FIN (shutdown) \
             right after the reply, before waiting for the client",
            started.elapsed()
        ));
    }
    // 1.5 s of margin: a correct answer returns within milliseconds of its deadline, but a
    // loaded two-core machine may be slow to run the thread that notices.
    match done.returned(linger + MARGIN)? {
        Some(Ok(())) => {}
        Some(Err(e)) => return Err(format!("case 2: it returned an error: {e}")),
        None => {
            return Err(format!(
                "case 2: a client that never closes held it for more than the linger of \
                 {linger:?} plus {MARGIN:?}"
            ));
        }
    }
    let waited = started.elapsed();
    if waited + Duration::from_millis(50) < linger {
        return Err(format!(
            "case 2: it stopped waiting after {waited:?}, before the client closed and before \
             the linger of {linger:?} was up: is `linger` ignored? Bytes the client sends after \
             your close are answered with RST"
        ));
    }

    // Case 3: the client reads the reply, then sends a byte every 0.9 s and never closes. Each
    // read gets a byte long before a per-read timeout of 3 s strikes (2.1 s of slack, for a
    // loaded machine that runs the client late): only one deadline ends this.
    let (client, server) = connected_pair()?;
    let linger = Duration::from_secs(3);
    let started = Instant::now();
    let done = serve_on_thread(server, move |s| reply_and_close(s, b"bye\n", linger));
    let trickler = client.try_clone().map_err(|e| e.to_string())?;
    let (stop, stopped) = mpsc::channel::<()>();
    thread::spawn(move || {
        // Until told to stop, or for 9 s at most.
        for _ in 0..10 {
            if (&trickler).write_all(b"z").is_err() {
                break;
            }
            if stopped.recv_timeout(Duration::from_millis(900))
                != Err(mpsc::RecvTimeoutError::Timeout)
            {
                break;
            }
        }
    });
    let returned = done.returned(linger + MARGIN);
    let _ = stop.send(());
    match returned? {
        Some(Ok(())) => {}
        Some(Err(e)) => return Err(format!("case 3: it returned an error: {e}")),
        None => {
            return Err(format!(
                "case 3: a client that sends a byte every 0.9 s held it for more than the \
                 linger of {linger:?} plus {MARGIN:?} ({:?} so far): is the linger a timeout per \
                 read, not one deadline? A byte every 0.9 s resets a per-read timeout for ever",
                started.elapsed()
            ));
        }
    }
    drop(client);

    // Case 4: a reply of 32 MiB, more than the socket buffers hold, to a client that reads
    // nothing for 3 s. The server's end has a send timeout of 2 s, so the first write()
    // returns after 2 s having sent only part of the reply; write_all writes the rest once
    // the client reads (at 3 s, well before write_all's next timeout at 4 s: 1 s of margin
    // each side for a loaded machine).
    let (client, server) = connected_pair()?;
    server
        .set_write_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let reply = vec![b'r'; 32 << 20];
    let reply_len = reply.len();
    let done = serve_on_thread(server, move |s| {
        reply_and_close(s, &reply, Duration::from_secs(5))
    });
    thread::sleep(Duration::from_secs(3));
    let got = match read_until_end(&client) {
        Ok(got) => got,
        Err((got, e)) => {
            return Err(done.blame(format!(
                "case 4: the client read {} bytes of a 32 MiB reply, then {e}",
                got.len()
            )));
        }
    };
    if got.len() != reply_len || got.iter().any(|&b| b != b'r') {
        return Err(format!(
            "case 4: the client got {} of the {} bytes of the reply, then the end of the stream: \
             did you use write, which may send only part of the buffer? It returns how much it \
             sent; write_all loops until all is sent",
            got.len(),
            reply_len
        ));
    }
    drop(client);
    match done.returned(Duration::from_secs(5))? {
        Some(Ok(())) => Ok(()),
        Some(Err(e)) => Err(format!("case 4: it returned an error: {e}")),
        None => Err("case 4: the client closed, but it was still running 5 s later".into()),
    }
}

/// How late a correct answer may return after its deadline on a loaded two-core machine.
const MARGIN: Duration = Duration::from_millis(1500);

/// Long enough never to expire in case 1, where the client closes at once.
const LINGER_LONG: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Exercise 3: answer every line, then stop at the half-close.

type AnswerUntilHalfClose = fn(TcpStream) -> io::Result<u64>;

/// One step of a client's side of a conversation.
enum Step {
    /// Write these bytes, as one write.
    Send(&'static [u8]),
    /// Read one line (up to and with its `\n`) and check it.
    Expect(&'static str),
}

fn check_answer_until_half_close(answer: AnswerUntilHalfClose) -> Result<(), String> {
    use Step::{Expect, Send};
    // (case, the client's steps before its half-close, the replies expected after it, the
    // count expected, what a wrong reply most likely means)
    let cases: [(&str, Vec<Step>, &str, u64, &str); 4] = [
        (
            "three lines in one write, then a half-close",
            vec![Send(b"one\ntwo\nthree\n")],
            "message 1: one\nmessage 2: two\nmessage 3: three\n",
            3,
            "one read is not one line: a read may hold several lines, or part of one",
        ),
        (
            "a line split over two writes, its reply, one more line, then a half-close",
            vec![
                Send(b"spl"),
                Send(b"it\n"),
                Expect("message 1: split\n"),
                Send(b"x\r\n"),
            ],
            "message 2: x\n",
            2,
            "lines that arrive later, in other reads, must be answered too",
        ),
        (
            "a half-close before any line",
            vec![],
            "",
            0,
            "nothing was sent",
        ),
        (
            "a whole line, then \"two\" with no \\n, then a half-close",
            vec![Send(b"one\ntwo")],
            "message 1: one\n",
            1,
            "the unfinished last line was answered: did you use lines() (it hands out the text \
             after the last \\n as a line), or answer it on purpose? A line ends only with \\n",
        ),
    ];
    for (case, steps, expected, count, explain) in cases {
        let (mut client, server) = connected_pair()?;
        client.set_nodelay(true).unwrap();
        let done = serve_on_thread(server, answer);
        client_side(&mut client, steps, expected, explain)
            .map_err(|problem| done.blame(format!("{case}: {problem}")))?;
        match done.returned(Duration::from_secs(2))? {
            Some(Ok(n)) if n == count => {}
            Some(Ok(n)) => return Err(format!("{case}: returned {n}, expected {count}")),
            Some(Err(e)) => return Err(format!("{case}: returned an error: {e}")),
            None => return Err(format!("{case}: {}", still_reading())),
        }
    }
    Ok(())
}

/// What a function still running after the half-close most likely does.
fn still_reading() -> String {
    "still running 2 s after the half-close: did you read again after a read of 0? A read of 0 \
     is the end of the stream, not \"no data yet\": it returns 0 at once every time after"
        .to_string()
}

/// The client's steps, then its half-close, then every reply until the end of the stream,
/// which must come within 2 s (a correct answer takes milliseconds; the rest is margin for a
/// loaded two-core machine).
fn client_side(
    client: &mut TcpStream,
    steps: Vec<Step>,
    expected: &str,
    explain: &str,
) -> Result<(), String> {
    for step in steps {
        match step {
            Step::Send(bytes) => client.write_all(bytes).map_err(|e| e.to_string())?,
            Step::Expect(line) => {
                let got = read_one_line(client)
                    .map_err(|e| format!("expected {line:?}, got {e}: {explain}"))?;
                if got != line.as_bytes() {
                    return Err(format!(
                        "expected {line:?}, got {:?}: {explain}",
                        abbreviate(&got)
                    ));
                }
            }
        }
    }
    // shutdown(Write): the client's FIN. It can still read the replies.
    client.shutdown(Shutdown::Write).map_err(|e| {
        format!("the connection was closed before the client was done ({e}): {explain}")
    })?;
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    let got = match read_until_end(client) {
        Ok(got) => got,
        Err((got, e)) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            if got != expected.as_bytes() {
                return Err(format!(
                    "after the half-close, expected {expected:?}, got {:?}: {explain}",
                    abbreviate(&got)
                ));
            }
            return Err(still_reading());
        }
        Err((got, e)) => {
            return Err(format!(
                "the client read {:?}, then {e}: {explain}",
                String::from_utf8_lossy(&got)
            ));
        }
    };
    if got != expected.as_bytes() {
        return Err(format!(
            "after the half-close, expected {expected:?} and the end of the stream, got {:?}: \
             {explain}",
            abbreviate(&got)
        ));
    }
    Ok(())
}

/// Reads up to and with the next `\n`, a byte at a time so that nothing after it is consumed.
fn read_one_line(client: &TcpStream) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.last() != Some(&b'\n') {
        if (&*client).read(&mut byte)? == 0 {
            break;
        }
        line.push(byte[0]);
    }
    Ok(line)
}

/// The start of what was received, for a message that must stay readable.
fn abbreviate(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.len() <= 120 {
        return text.into_owned();
    }
    let cut = (0..=120).rev().find(|&i| text.is_char_boundary(i)).unwrap();
    format!("{}… ({} bytes in all)", &text[..cut], bytes.len())
}

// ---------------------------------------------------------------------------------------------
// Exercise 4: read a line before a deadline.

type ReadBefore = fn(&mut BufReader<&TcpStream>, usize, Instant) -> io::Result<Option<Vec<u8>>>;

const EXERCISE_4: Exercise<ReadBefore> = Exercise {
    number: 4,
    task: "read a line before a deadline",
    hints: &[
        "a read timeout restarts with every read: a byte now and then keeps it from ever \
         striking; the deadline is for the whole line, and so is the limit",
        "before each read, give the stream a read timeout of what is left until the deadline; \
         use fill_buf and consume, so that bytes after the \\n stay in the BufReader",
        "loop { left = deadline - now (zero: TimedOut); set_read_timeout(left); fill_buf: \
         WouldBlock/TimedOut/Interrupted => continue; empty => end; take up to the \\n, \
         consume, check the length }",
    ],
    bound: Duration::from_secs(25),
    hang: "did you read with no deadline?",
    check: check_read_line_before,
    solution: solutions::read_line_before,
    mine: exercises::read_line_before,
    wrong: &[
        Wrong {
            does: "sets the time left as a read timeout once, then reads the line",
            answer: wrong::read_before_with_one_timeout,
            rejected_with: "a timeout per read, not one deadline?",
        },
        Wrong {
            does: "reads with no deadline",
            answer: wrong::read_before_without_deadline,
            rejected_with: "did you read with no deadline?",
        },
        Wrong {
            does: "keeps the deadline but not the limit",
            answer: wrong::read_before_without_limit,
            rejected_with: "did you stop after max bytes?",
        },
    ],
};

fn check_read_line_before(read: ReadBefore) -> Result<(), String> {
    // Each case: what the client does (on a thread of its own), the limit, the time allowed,
    // and what must come back.
    type Client = Box<dyn FnOnce(TcpStream) + Send>;
    let text = |r: &io::Result<Option<Vec<u8>>>| match r {
        Ok(Some(l)) => format!("the line {:?}", String::from_utf8_lossy(l)),
        Ok(None) => "the end of the stream".to_string(),
        Err(e) => format!("an error of kind {:?}", e.kind()),
    };
    let run = |client: Client, max: usize, within: Duration, reads: usize| {
        let (peer, server) = connected_pair()?;
        let talker = thread::spawn(move || client(peer));
        let started = Instant::now();
        let deadline = started + within;
        let done = spawn_checked(move || {
            let mut reader = BufReader::new(&server);
            let results: Vec<_> = (0..reads)
                .map(|_| read(&mut reader, max, deadline))
                .collect();
            results
        });
        let outcome = done.recv_timeout(within + MARGIN);
        drop(talker);
        match outcome {
            Ok(results) => Ok::<_, String>(Some((results?, started.elapsed()))),
            Err(_) => Ok(None),
        }
    };

    // Two lines glued in one write, then a close.
    let glued: Client = Box::new(|mut c: TcpStream| {
        let _ = c.write_all(b"hello\r\nworld\n");
    });
    match run(glued, 16, Duration::from_secs(5), 3)? {
        Some((r, _)) if matches!(&r[..], [Ok(Some(a)), Ok(Some(b)), Ok(None)] if a == b"hello" && b == b"world") =>
            {}
        Some((r, _)) => {
            return Err(format!(
                "\"hello\\r\\nworld\\n\" then a close: expected hello, world and the end, got \
                 {}",
                r.iter().map(text).collect::<Vec<_>>().join(", ")
            ));
        }
        None => return Err("\"hello\\r\\nworld\\n\" then a close: no answer in 6.5 s".into()),
    }

    // A silent client: the deadline of 500 ms must end the wait.
    let silent: Client = Box::new(|c: TcpStream| {
        thread::sleep(Duration::from_secs(4));
        drop(c);
    });
    match run(silent, 16, Duration::from_millis(500), 1)? {
        Some((r, took)) => {
            if !matches!(&r[0], Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock))
            {
                return Err(format!(
                    "a silent client, a deadline in 500 ms: expected a TimedOut error, got {}",
                    text(&r[0])
                ));
            }
            if took + Duration::from_millis(50) < Duration::from_millis(500) {
                return Err(format!(
                    "a silent client: it gave up after {took:?}, before the deadline"
                ));
            }
        }
        None => {
            return Err(format!(
                "a silent client, a deadline in 500 ms: still reading {MARGIN:?} after it: did \
                 you read with no deadline?"
            ));
        }
    }

    // A client that sends a byte every 300 ms, never a newline: only one deadline ends this.
    let trickle: Client = Box::new(|mut c: TcpStream| {
        for _ in 0..25 {
            if c.write_all(b"z").is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(300));
        }
    });
    match run(trickle, 100, Duration::from_millis(1500), 1)? {
        Some((r, _)) if matches!(&r[0], Err(e) if e.kind() == ErrorKind::TimedOut) => {}
        Some((r, _)) => {
            return Err(format!(
                "a byte every 300 ms, a deadline in 1.5 s: expected a TimedOut error, got {}",
                text(&r[0])
            ));
        }
        None => {
            return Err(format!(
                "a byte every 300 ms, a deadline in 1.5 s: still reading {MARGIN:?} after the \
                 deadline: is it a timeout per read, not one deadline? Each byte restarts a \
                 read timeout"
            ));
        }
    }

    // 8 KiB with no newline, max 1024: refused at once, long before the deadline.
    let flood: Client = Box::new(|mut c: TcpStream| {
        let _ = c.write_all(&[b'x'; 8192]);
        thread::sleep(Duration::from_secs(4));
    });
    match run(flood, 1024, Duration::from_secs(2), 1)? {
        Some((r, _)) if matches!(&r[0], Err(e) if e.kind() == ErrorKind::InvalidData) => {}
        Some((r, _)) => {
            return Err(format!(
                "8 KiB with no newline, max = 1024: expected an InvalidData error, got {}: did \
                 you stop after max bytes? A client that never sends \\n must not fill memory",
                text(&r[0])
            ));
        }
        None => return Err("8 KiB with no newline, max = 1024: no answer".into()),
    }

    // A line cut short by the close.
    let cut: Client = Box::new(|mut c: TcpStream| {
        let _ = c.write_all(b"abc");
    });
    match run(cut, 16, Duration::from_secs(5), 1)? {
        Some((r, _)) if matches!(&r[0], Err(e) if e.kind() == ErrorKind::UnexpectedEof) => Ok(()),
        Some((r, _)) => Err(format!(
            "\"abc\" then a close: expected an UnexpectedEof error, got {}",
            text(&r[0])
        )),
        None => Err("\"abc\" then a close: no answer".into()),
    }
}

// ---------------------------------------------------------------------------------------------

/// Plausible wrong answers, each a mistake a learner could make. Every check must reject them.
mod wrong {
    use std::io::{self, BufRead, ErrorKind, Read, Write};
    use std::net::{Shutdown, TcpStream};
    use std::time::Duration;

    fn too_long() -> io::Error {
        io::Error::new(ErrorKind::InvalidData, "line too long")
    }

    /// Reads the whole line first and checks its length after: an endless line is read to the
    /// end of memory (here, to the end of the test's 8 MiB).
    pub fn read_line_then_check_length(
        reader: &mut impl BufRead,
        max: usize,
    ) -> io::Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Ok(None);
        }
        if line.last() != Some(&b'\n') && line.len() <= max {
            return Err(io::Error::new(ErrorKind::UnexpectedEof, "mid-line"));
        }
        if line.last() == Some(&b'\n') {
            line.pop();
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.len() > max {
            return Err(too_long());
        }
        Ok(Some(line))
    }

    /// Counts the newline as part of the line: a line of exactly `max` bytes is refused.
    pub fn read_line_off_by_one(
        reader: &mut impl BufRead,
        max: usize,
    ) -> io::Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        let n = reader.take(max as u64).read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(None);
        }
        if line.last() != Some(&b'\n') {
            if n == max {
                return Err(too_long());
            }
            return Err(io::Error::new(ErrorKind::UnexpectedEof, "mid-line"));
        }
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(Some(line))
    }

    /// Writes and closes: with unread bytes in the socket, close() sends RST.
    pub fn reply_and_drop(stream: TcpStream, reply: &[u8], _: Duration) -> io::Result<()> {
        (&stream).write_all(reply)
    }

    /// Sends FIN, but still closes with unread bytes: the RST follows at once.
    pub fn reply_shutdown_and_drop(stream: TcpStream, reply: &[u8], _: Duration) -> io::Result<()> {
        (&stream).write_all(reply)?;
        stream.shutdown(Shutdown::Write)
    }

    /// Waits for the client to finish before sending FIN: a client that waits for the end of
    /// the reply waits for the whole linger.
    pub fn reply_drain_then_shutdown(
        stream: TcpStream,
        reply: &[u8],
        linger: Duration,
    ) -> io::Result<()> {
        (&stream).write_all(reply)?;
        stream.set_read_timeout(Some(linger))?;
        let mut discard = [0u8; 4096];
        while let Ok(n) = (&stream).read(&mut discard) {
            if n == 0 {
                break;
            }
        }
        stream.shutdown(Shutdown::Write)
    }

    /// Drains with no deadline: a client that never closes holds it for ever.
    pub fn reply_and_drain_for_ever(
        stream: TcpStream,
        reply: &[u8],
        _: Duration,
    ) -> io::Result<()> {
        (&stream).write_all(reply)?;
        stream.shutdown(Shutdown::Write)?;
        stream.set_read_timeout(None)?;
        let mut discard = [0u8; 4096];
        while (&stream).read(&mut discard)? > 0 {}
        Ok(())
    }

    /// Drains with a fixed wait of 1 s, whatever the caller's linger.
    pub fn reply_ignoring_linger(stream: TcpStream, reply: &[u8], _: Duration) -> io::Result<()> {
        (&stream).write_all(reply)?;
        stream.shutdown(Shutdown::Write)?;
        stream.set_read_timeout(Some(Duration::from_secs(1)))?;
        let mut discard = [0u8; 4096];
        while let Ok(n) = (&stream).read(&mut discard) {
            if n == 0 {
                break;
            }
        }
        Ok(())
    }

    /// The linger as a timeout for each read: a byte now and then keeps it waiting for ever.
    pub fn reply_with_a_timeout_per_read(
        stream: TcpStream,
        reply: &[u8],
        linger: Duration,
    ) -> io::Result<()> {
        (&stream).write_all(reply)?;
        stream.shutdown(Shutdown::Write)?;
        stream.set_read_timeout(Some(linger))?;
        let mut discard = [0u8; 4096];
        while let Ok(n) = (&stream).read(&mut discard) {
            if n == 0 {
                break;
            }
        }
        Ok(())
    }

    /// One write: it may send only part of the reply, and the rest is never sent.
    pub fn reply_with_one_write(
        stream: TcpStream,
        reply: &[u8],
        linger: Duration,
    ) -> io::Result<()> {
        let _sent = (&stream).write(reply)?;
        stream.shutdown(Shutdown::Write)?;
        let deadline = std::time::Instant::now() + linger;
        let mut discard = [0u8; 4096];
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            stream.set_read_timeout(Some(left))?;
            match (&stream).read(&mut discard) {
                Ok(0) | Err(_) => return Ok(()),
                Ok(_) => {}
            }
        }
    }

    /// Every whole line and the unfinished last one, through BufReader::lines().
    pub fn answer_with_lines(stream: TcpStream) -> io::Result<u64> {
        let mut count = 0;
        for line in io::BufReader::new(&stream).lines() {
            count += 1;
            (&stream).write_all(format!("message {count}: {}\n", line?).as_bytes())?;
        }
        Ok(count)
    }

    /// Stops at the end of the stream, but answers a last line without its \n on purpose.
    pub fn answer_the_unfinished_line(stream: TcpStream) -> io::Result<u64> {
        let mut reader = io::BufReader::new(&stream);
        let mut count = 0;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(count);
            }
            count += 1;
            let text = line.trim_end_matches(['\r', '\n']);
            (&stream).write_all(format!("message {count}: {text}\n").as_bytes())?;
        }
    }

    /// Takes a read of 0 for "no data yet": sleeps and reads again, for ever.
    pub fn answer_sleeping_on_zero(stream: TcpStream) -> io::Result<u64> {
        let mut reader = io::BufReader::new(&stream);
        let mut count = 0;
        let mut line = String::new();
        loop {
            if reader.read_line(&mut line)? == 0 {
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
            if line.ends_with('\n') {
                count += 1;
                let text = line.trim_end_matches(['\r', '\n']);
                (&stream).write_all(format!("message {count}: {text}\n").as_bytes())?;
                line.clear();
            }
        }
    }

    /// The time left as a read timeout, set once: each byte restarts it.
    pub fn read_before_with_one_timeout(
        reader: &mut io::BufReader<&TcpStream>,
        max: usize,
        deadline: std::time::Instant,
    ) -> io::Result<Option<Vec<u8>>> {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        reader
            .get_ref()
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))?;
        limited(reader, Some(max))
    }

    /// No timeout at all.
    pub fn read_before_without_deadline(
        reader: &mut io::BufReader<&TcpStream>,
        max: usize,
        _: std::time::Instant,
    ) -> io::Result<Option<Vec<u8>>> {
        reader.get_ref().set_read_timeout(None)?;
        limited(reader, Some(max))
    }

    /// One deadline, but no limit: reads until the newline or the deadline, however much.
    pub fn read_before_without_limit(
        reader: &mut io::BufReader<&TcpStream>,
        _: usize,
        deadline: std::time::Instant,
    ) -> io::Result<Option<Vec<u8>>> {
        let mut line = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(ErrorKind::TimedOut.into());
            }
            reader.get_ref().set_read_timeout(Some(left))?;
            let available = match reader.fill_buf() {
                Ok(b) => b.to_vec(),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    continue;
                }
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return if line.is_empty() {
                    Ok(None)
                } else {
                    Err(ErrorKind::UnexpectedEof.into())
                };
            }
            match available.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    line.extend_from_slice(&available[..i]);
                    reader.consume(i + 1);
                    if line.last() == Some(&b'\r') {
                        line.pop();
                    }
                    return Ok(Some(line));
                }
                None => {
                    line.extend_from_slice(&available);
                    reader.consume(available.len());
                }
            }
        }
    }

    /// read_until with a limit of max + 2 bytes, as our answer to exercise 1.
    fn limited(reader: &mut impl BufRead, max: Option<usize>) -> io::Result<Option<Vec<u8>>> {
        let limit = max.map_or(u64::MAX, |m| m as u64 + 2);
        let mut line = Vec::new();
        let n = reader.take(limit).read_until(b'\n', &mut line)?;
        if n == 0 {
            return Ok(None);
        }
        if line.last() != Some(&b'\n') {
            return Err(if n as u64 == limit {
                ErrorKind::InvalidData.into()
            } else {
                ErrorKind::UnexpectedEof.into()
            });
        }
        line.pop();
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(Some(line))
    }

    /// The original server's loop: one reply per recv(1024), and a read of 0 bytes taken as an
    /// empty message. On a half-close it would answer empty messages for ever; this copy stops
    /// after 10,000 so the test does not spin for ever.
    pub fn answer_like_the_original(stream: TcpStream) -> io::Result<u64> {
        let mut count = 0;
        let mut buf = [0u8; 1024];
        for _ in 0..10_000 {
            let n = (&stream).read(&mut buf)?;
            let text = String::from_utf8_lossy(&buf[..n]);
            if text == "exit" {
                break;
            }
            count += 1;
            if (&stream)
                .write_all(format!("message {count}: {text}\n").as_bytes())
                .is_err()
            {
                break;
            }
        }
        Ok(count)
    }

    /// Answers the lines of the first read only: lines that arrive later are never answered.
    pub fn answer_the_first_read(stream: TcpStream) -> io::Result<u64> {
        let mut buf = [0u8; 1024];
        let n = (&stream).read(&mut buf)?;
        let text = String::from_utf8_lossy(&buf[..n]);
        let mut count = 0;
        for line in text.lines() {
            count += 1;
            (&stream).write_all(format!("message {count}: {line}\n").as_bytes())?;
        }
        Ok(count)
    }
}
