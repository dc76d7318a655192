//! One function per check. Each takes the lesson's [`Spec`] and a [`Probe`] (where the server
//! is), talks to the server over real sockets with a deadline on every wait, and returns
//! `Ok(())` or what it saw against what it expected.

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::{BUSY, Reply, Spec};
use crate::check::{Probe, Verdict};
use crate::conn::{Conn, End, Framing, Got, quote};
use crate::cpu;
use crate::crowd::{self, Answer, Crowd};
use crate::report::{Outcome, fail};

/// How long "nothing happens" must last where nothing should happen yet (half a line sent).
const QUIET: Duration = Duration::from_millis(300);
/// The pause between the two halves of a split character: long enough for two packets.
const SPLIT_GAP: Duration = Duration::from_millis(150);
/// The slow client's pace: a byte a second, or faster when the server's idle timeout is short
/// (a quarter of it), so that a slow client is never mistaken for a silent one.
const BYTE_GAP: Duration = Duration::from_secs(1);
/// The shortest time over which the server's CPU use is measured after a half-close.
const CPU_WINDOW: Duration = Duration::from_secs(1);
/// More CPU than this, in CPU seconds per second, after a half-close is a busy loop.
const CPU_LIMIT: f64 = 0.5;
/// The long line: 1 MiB, sixteen times lessons 02 and 03's limit of 64 KiB.
const LONG_LINE: usize = 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Helpers: connect, expect a reply, expect the end.

fn connect(spec: Spec, p: &Probe) -> Result<Conn, Outcome> {
    Conn::open(p.addr, spec.framing(), p.options.timeout)
}

/// Connects and checks the greeting.
fn greeted(spec: Spec, p: &Probe) -> Result<Conn, Outcome> {
    let mut conn = connect(spec, p)?;
    expect(&mut conn, &spec.greeting())?;
    Ok(conn)
}

/// Waits for the next reply and checks it matches.
fn expect(conn: &mut Conn, reply: &Reply) -> Result<String, Outcome> {
    match conn.reply() {
        Got::Reply(text) if reply.matches(&text) => Ok(text),
        got => Err(fail(got.to_string(), reply.to_string())),
    }
}

/// Reads until the server closes, and checks that exactly `replies` came before the close.
fn expect_then_close(conn: &mut Conn, replies: &[Reply]) -> Verdict {
    let drained = conn.drain(conn.timeout(), 4096);
    let text = String::from_utf8_lossy(&drained.bytes);
    let complete = drained.total == drained.bytes.len();
    if drained.end != End::StillOpen && complete && all_match(conn.framing(), &text, replies) {
        return Ok(());
    }
    let mut expected: Vec<String> = replies.iter().map(Reply::to_string).collect();
    expected.push("the connection closed".into());
    Err(fail(drained.describe(), expected.join(" then ")))
}

/// Whether `text` is exactly `replies`, one per line or (for the originals) glued together.
fn all_match(framing: Framing, text: &str, replies: &[Reply]) -> bool {
    match framing {
        Framing::Lines => {
            if !(text.is_empty() || text.ends_with('\n')) {
                return false;
            }
            let lines: Vec<&str> = text
                .split_terminator('\n')
                .map(|l| l.strip_suffix('\r').unwrap_or(l))
                .collect();
            lines.len() == replies.len() && replies.iter().zip(&lines).all(|(r, l)| r.matches(l))
        }
        Framing::Reads => {
            let mut rest = text;
            for reply in replies {
                match reply.prefix_len(rest) {
                    Some(n) => rest = &rest[n..],
                    None => return false,
                }
            }
            rest.is_empty()
        }
    }
}

/// `exit`, then its answer (`bye`), then the close.
fn say_exit(spec: Spec, conn: &mut Conn) -> Verdict {
    conn.send(spec.message("exit"))?;
    let bye: Vec<Reply> = spec.bye().into_iter().collect();
    expect_then_close(conn, &bye)
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

// ---------------------------------------------------------------------------------------------
// The protocol.

/// A client that connects is greeted: lesson 01 `Connected!`, lesson 02 any one line, lesson 03
/// `Hello World!`. Proves the server accepts and speaks first.
pub fn greeting(spec: Spec, p: &mut Probe) -> Verdict {
    greeted(spec, p).map(drop)
}

/// The message `hello` gets exactly the reply the lesson defines (`received: hello`,
/// `message 1: hello`, or `R:ACK!`). Proves the server reads a message and answers it.
pub fn reply(spec: Spec, p: &mut Probe) -> Verdict {
    let mut conn = greeted(spec, p)?;
    conn.send(spec.message("hello"))?;
    expect(&mut conn, &spec.reply(1, "hello")).map(drop)
}

/// Lesson 02: three messages get `message 1`, `2`, `3`, and a second connection starts again
/// at `message 1`. Lesson 03: twenty messages get twenty ACKs, not all the same number. Proves
/// each message gets its own reply, and the count (or the randomness) is what the lesson says.
pub fn counting(spec: Spec, p: &mut Probe) -> Verdict {
    let mut conn = greeted(spec, p)?;
    if spec.counts() {
        for (n, text) in ["one", "two", "three"].into_iter().enumerate() {
            conn.send(spec.message(text))?;
            expect(&mut conn, &spec.reply(n + 1, text))?;
        }
        // A server that serves one client at a time needs this one to leave first.
        say_exit(spec, &mut conn)?;
        let mut second = greeted(spec, p)?;
        second.send(spec.message("again"))?;
        expect(&mut second, &spec.reply(1, "again")).map(drop)
    } else {
        let mut numbers = Vec::new();
        for n in 1..=20 {
            conn.send(spec.message(&format!("message {n}")))?;
            let ack = expect(&mut conn, &Reply::Ack)?;
            numbers.extend(Reply::ack_number(&ack));
        }
        if numbers.windows(2).all(|w| w[0] == w[1]) {
            return Err(fail(
                format!("20 replies all \"{}:ACK!\"", numbers[0]),
                "R chosen at random from 1 to 1000 for each reply",
            ));
        }
        Ok(())
    }
}

/// `exit` gets `bye` and then the server closes the connection (the originals: close, no
/// reply). Proves the client can end the conversation.
pub fn exit(spec: Spec, p: &mut Probe) -> Verdict {
    let mut conn = greeted(spec, p)?;
    say_exit(spec, &mut conn)
}

/// After a reply, the client closes its sending side (end of stream) without `exit`: the server
/// must close too. Lesson 01 closes after its one reply without being asked, and its process
/// exits with status 0. Proves the server notices the end of the conversation.
pub fn end_of_stream(spec: Spec, p: &mut Probe) -> Verdict {
    let mut conn = greeted(spec, p)?;
    conn.send(spec.message("hello"))?;
    expect(&mut conn, &spec.reply(1, "hello"))?;
    if !spec.one_shot() {
        conn.shutdown_write();
    }
    expect_then_close(&mut conn, &[])?;
    if spec.one_shot() {
        return exits_with(p, &[0]);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Hostile clients. Each is followed by `served` (or, for lesson 01, `clean_exit`).

/// Half a line (`half a li`, no newline) gets no reply, because it is not a message yet; then
/// the client vanishes (closes) mid-line. Lesson 01 reads one message of whatever arrived, so
/// there the client just sends `hel` and vanishes. Proves framing by lines, and sets up the
/// follow-up: a vanished client must not take the server down.
pub fn vanish_mid_line(spec: Spec, p: &mut Probe) -> Verdict {
    let mut conn = greeted(spec, p)?;
    if spec.one_shot() {
        return conn.send("hel");
    }
    conn.send("half a li")?;
    conn.expect_nothing(QUIET, "no reply to half a line")
}

/// A client says one message, gets its reply, then resets the connection (RST, by closing with
/// SO_LINGER 0) instead of closing it. Lesson 01: the reset comes right after the greeting. The
/// follow-up proves the server survived the error a reset gives its next read or write.
pub fn reset(spec: Spec, p: &mut Probe) -> Verdict {
    let mut conn = greeted(spec, p)?;
    if !spec.one_shot() {
        conn.send(spec.message("hello"))?;
        expect(&mut conn, &spec.reply(1, "hello"))?;
    }
    conn.reset();
    Ok(())
}

/// Two messages in one packet, then a half-close (shutdown of the client's sending side) at
/// once: the server must answer both, then close (lesson 01: answer its one message, then
/// close). With the server's process id (`--pid`, or a server the checker started), its CPU use
/// is measured too: a server that loops on end of stream shows up as a busy CPU. Proves that end
/// of stream is handled: no reply lost, no connection left open, no busy loop.
pub fn half_close(spec: Spec, p: &mut Probe) -> Verdict {
    let mut conn = greeted(spec, p)?;
    let (sent, replies) = if spec.one_shot() {
        ("hello\n", vec![spec.reply(1, "hello")])
    } else {
        (
            "one\ntwo\n",
            vec![spec.reply(1, "one"), spec.reply(2, "two")],
        )
    };
    conn.send(sent)?;
    conn.shutdown_write();
    let started = Instant::now();
    let cpu_before = p.pid.and_then(cpu::used);

    let behaviour = expect_then_close(&mut conn, &replies);

    let mut busy = None;
    if let (Some(pid), Some(before)) = (p.pid, cpu_before) {
        // The measurement window: at least CPU_WINDOW, however soon the server closed.
        if let Some(rest) = CPU_WINDOW.checked_sub(started.elapsed()) {
            thread::sleep(rest);
        }
        let elapsed = started.elapsed();
        // A server that has exited uses no CPU.
        let after = cpu::used(pid).unwrap_or(before);
        let share = (after.saturating_sub(before)).as_secs_f64() / elapsed.as_secs_f64();
        if share > CPU_LIMIT {
            busy = Some(format!(
                "the server used {:.0}% of a CPU for {} after the half-close",
                share * 100.0,
                seconds(elapsed)
            ));
        }
    }
    match (behaviour, busy) {
        (Ok(()), None) => Ok(()),
        (Ok(()), Some(busy)) => Err(fail(busy, "a server that waits quietly")),
        (Err(Outcome::Fail { saw, expected }), Some(busy)) => {
            Err(fail(format!("{saw}, and {busy}"), expected))
        }
        (Err(other), _) => Err(other),
    }
}

/// The bytes `ff fe` followed by `hi` are not UTF-8: lessons 02 and 03 answer
/// `error: not UTF-8`, and the next message (`hello`) is answered as usual, counted as message
/// 1 or 2. Lesson 01 shows them lossily instead: `received: ��hi`. Proves the server treats bad
/// input as input, not as a reason to crash.
pub fn not_utf8(spec: Spec, p: &mut Probe) -> Verdict {
    let mut conn = greeted(spec, p)?;
    conn.send(b"\xff\xfehi\n")?;
    if spec.one_shot() {
        return expect(
            &mut conn,
            &Reply::Exact("received: \u{FFFD}\u{FFFD}hi".into()),
        )
        .map(drop);
    }
    expect(&mut conn, &Reply::Exact("error: not UTF-8".into()))?;
    conn.send(spec.message("hello"))?;
    // Whether the bad line counts as a message is the server's choice.
    let next = match (spec.reply(1, "hello"), spec.reply(2, "hello")) {
        (Reply::Exact(one), Reply::Exact(two)) => Reply::OneOf(vec![one, two]),
        (one, _) => one,
    };
    expect(&mut conn, &next).map(drop)
}

/// `café` sent as `caf` plus the first byte of `é`, then (150 ms later, with TCP_NODELAY, so in
/// two packets) its second byte and the newline. The reply must be to `café`, whole. Proves the
/// server decodes text per line, not per read.
pub fn split_utf8(spec: Spec, p: &mut Probe) -> Verdict {
    let mut conn = greeted(spec, p)?;
    let _ = conn.stream().set_nodelay(true);
    conn.send(b"caf\xc3")?;
    thread::sleep(SPLIT_GAP);
    conn.send(b"\xa9\n")?;
    expect(&mut conn, &spec.reply(1, "café")).map(drop)
}

/// A line of 1 MiB: lessons 02 and 03 answer `error: line too long` and close the connection.
/// Lesson 01 reads one message of at most 1024 bytes, so it answers with at most that much and
/// closes. Proves the server's memory use per line is bounded.
pub fn long_line(spec: Spec, p: &mut Probe) -> Verdict {
    let mut conn = greeted(spec, p)?;
    // Written from another thread: the server may stop reading (and close) long before the end.
    let writer = conn.stream().try_clone().ok();
    let done = Arc::new(AtomicBool::new(false));
    let stop = Arc::clone(&done);
    let sending = writer.map(|stream| thread::spawn(move || send_long_line(stream, &stop)));

    let verdict = if spec.one_shot() {
        match conn.reply() {
            Got::Reply(text)
                if text.len() <= "received: ".len() + 1024
                    && text
                        .strip_prefix("received: x")
                        .is_some_and(|xs| xs.bytes().all(|b| b == b'x')) =>
            {
                expect_then_close(&mut conn, &[])
            }
            got => Err(fail(
                got.to_string(),
                "\"received: xxx…\" with at most 1024 bytes of the message",
            )),
        }
    } else {
        expect(&mut conn, &Reply::Exact("error: line too long".into()))
            .and_then(|_| expect_then_close(&mut conn, &[]))
    };
    // The writer stops at its next piece (each write is bounded by the write timeout).
    done.store(true, Ordering::Relaxed);
    let _ = conn.stream().shutdown(std::net::Shutdown::Both);
    if let Some(sending) = sending {
        let _ = sending.join();
    }
    verdict
}

/// Writes 1 MiB of `x` and a newline, in pieces, until done, the server stops taking bytes, or
/// the check is over (`stop`).
fn send_long_line(mut stream: TcpStream, stop: &AtomicBool) {
    let piece = vec![b'x'; 64 * 1024];
    for _ in 0..LONG_LINE / piece.len() {
        if stop.load(Ordering::Relaxed) || stream.write_all(&piece).is_err() {
            return;
        }
    }
    let _ = stream.write_all(b"\n");
}

/// A client connects and says nothing. Lesson 03 (many at once): another client is served
/// meanwhile, within half the idle timeout if that is known. Lessons 01 and 02 (one at a time):
/// the silent client is closed after the idle timeout the server was started with (given with
/// `--idle-timeout`; skipped otherwise), with `error: idle timeout` first in lesson 02. Proves a
/// silent client cannot hold the server.
pub fn silent_client(spec: Spec, p: &mut Probe) -> Verdict {
    if spec.concurrent() {
        let _silent = greeted(spec, p)?;
        // Served while the silent client is there: before its idle timeout could free a worker.
        let options = p.options_while_silent();
        let mut meanwhile = p.another(&options);
        return served(spec, &mut meanwhile).map_err(|outcome| match outcome {
            Outcome::Fail { saw, expected } => fail(
                format!("{saw} while a silent client was connected"),
                expected,
            ),
            other => other,
        });
    }
    timed_out(spec, p)
}

/// Lesson 03: a client that says nothing is closed after the idle timeout the server was
/// started with (`--idle-timeout`; skipped otherwise), with `error: idle timeout` first. Proves
/// that silent clients cannot hold every worker of the pool.
pub fn idle_timeout(spec: Spec, p: &mut Probe) -> Verdict {
    timed_out(spec, p)
}

/// A silent client gets `error: idle timeout` (lesson 01: nothing) and is closed, within the
/// idle timeout plus the checker's timeout.
fn timed_out(spec: Spec, p: &mut Probe) -> Verdict {
    let Some(idle) = p.options.idle_timeout else {
        return Err(Outcome::Skip(
            "the server's idle timeout is unknown: give --idle-timeout SECS, the value the \
             server was started with"
                .into(),
        ));
    };
    let mut conn = greeted(spec, p)?;
    let wait = idle + p.options.timeout;
    let notice: Vec<Reply> = if spec.one_shot() {
        Vec::new()
    } else {
        vec![Reply::Exact("error: idle timeout".into())]
    };
    let drained = conn.drain(wait, 4096);
    let text = String::from_utf8_lossy(&drained.bytes);
    if drained.end != End::StillOpen && all_match(conn.framing(), &text, &notice) {
        return Ok(());
    }
    let mut expected: Vec<String> = notice.iter().map(Reply::to_string).collect();
    expected.push(format!("the connection closed within {}", seconds(wait)));
    Err(fail(drained.describe(), expected.join(" then ")))
}

/// `hi` and a newline, one byte a second (or every quarter of the idle timeout, if that is
/// shorter): no reply may come before the newline, and then the reply to `hi`. Proves the server
/// collects a line across many reads (and does not time out a client that is slow but alive).
pub fn slow_client(spec: Spec, p: &mut Probe) -> Verdict {
    let gap = match p.options.idle_timeout {
        Some(idle) => BYTE_GAP.min(idle / 4),
        None => BYTE_GAP,
    };
    let mut conn = greeted(spec, p)?;
    let _ = conn.stream().set_nodelay(true);
    for byte in [b'h', b'i'] {
        conn.send([byte])?;
        conn.expect_nothing(gap, "no reply before the newline")?;
    }
    conn.send("\n")?;
    expect(&mut conn, &spec.reply(1, "hi")).map(drop)
}

/// `a\nexit\n` in one write: the reply to `a`, then `bye`, then close. Proves the server splits
/// what one read returns into lines, and acts on each in order.
pub fn glued_exit(spec: Spec, p: &mut Probe) -> Verdict {
    let mut conn = greeted(spec, p)?;
    conn.send("a\nexit\n")?;
    let mut replies = vec![spec.reply(1, "a")];
    replies.extend(spec.bye());
    expect_then_close(&mut conn, &replies)
}

/// 200 connections opened at the same moment (from 200 threads), held until all are open or
/// timed out, then all dropped at once. Connections may wait in the backlog (their connect
/// times out), but none may be refused: a refusal means the server stopped listening (lesson
/// 01, which serves one client, closes its listener by design). The follow-up proves the server
/// works through the dead connections and serves again.
pub fn dropped_200(spec: Spec, p: &mut Probe) -> Verdict {
    let connect_timeout = p.options.timeout.min(Duration::from_secs(2));
    let crowd = crowd::open_at_once(p.addr, 200, connect_timeout);
    let Crowd {
        count,
        connected,
        refused,
    } = crowd;
    if connected == 0 {
        return Err(fail(
            format!("none of {count} connections made ({refused} refused)"),
            "connections accepted or left waiting in the backlog",
        ));
    }
    if refused > 0 && !spec.one_shot() {
        return Err(fail(
            format!("{refused} of {count} connections refused"),
            "every connection accepted or left waiting in the backlog",
        ));
    }
    Ok(())
}

/// 1,000 connections, eight at a time: each connects, reads the greeting (or, from lesson 03,
/// `busy: try again later`) and closes. Stops at the first connection that fails. Proves the
/// server keeps accepting at a high rate and leaks nothing that would make it stop.
pub fn burst_1000(spec: Spec, p: &mut Probe) -> Verdict {
    const COUNT: usize = 1000;
    let limit = Duration::from_secs(30);
    let greeting = spec.greeting();
    let (addr, timeout) = (p.addr, p.options.timeout);
    let burst = crowd::burst(COUNT, 8, limit, || {
        let got = match Conn::try_open(addr, spec.framing(), timeout) {
            Ok(mut conn) => conn.reply(),
            Err(e) => Got::Error(format!("the connection failed ({e})")),
        };
        match got {
            Got::Reply(text) if greeting.matches(&text) => Answer::Served,
            Got::Reply(text) if spec.concurrent() && text == BUSY => Answer::Busy,
            other => Answer::Wrong(other.to_string()),
        }
    });

    let (greeted_count, done) = (burst.served, burst.done);
    let expected = if spec.concurrent() {
        format!("{} or {BUSY:?} on every connection", spec.greeting())
    } else {
        format!("{} on every connection", spec.greeting())
    };
    if let Some((n, saw)) = burst.first_wrong {
        return Err(fail(
            format!("{saw} on connection {n} ({greeted_count} greeted in all)"),
            expected,
        ));
    }
    if done < COUNT {
        return Err(fail(
            format!("only {done} connections done in {}", seconds(limit)),
            format!("{COUNT} connections"),
        ));
    }
    if greeted_count == 0 {
        return Err(fail(format!("{BUSY:?} on every connection"), expected));
    }
    Ok(())
}

/// How many times the lingering close is tried: a server that gets it right by luck of timing
/// must be lucky every time.
const LINGER_ROUNDS: usize = 10;

/// `a\nexit\n` followed at once by 1 MiB of `x`, in one write, then the client's FIN; ten
/// times. Each time the client must read the reply to `a`, `bye`, and then a clean end of
/// stream (FIN), not a reset. A server that closes with the 1 MiB unread makes the kernel send
/// RST instead of FIN, and a client that is still writing then loses its end of stream (on some
/// systems its last replies too). Proves the server says its last word and closes with a
/// lingering close: it shuts down its side, then reads (and drops) what the client still sends.
pub fn lingering_close(spec: Spec, p: &mut Probe) -> Verdict {
    let mut replies = vec![spec.reply(1, "a")];
    replies.extend(spec.bye());
    for round in 1..=LINGER_ROUNDS {
        let mut conn = greeted(spec, p)?;
        let Ok(mut writer) = conn.stream().try_clone() else {
            return Err(fail("a socket that cannot be cloned", "a second handle"));
        };
        // Written from another thread: the server may stop reading before the end. The write
        // timeout (the checker's timeout) bounds it.
        let sending = thread::spawn(move || {
            let mut bytes = b"a\nexit\n".to_vec();
            bytes.resize(bytes.len() + LONG_LINE, b'x');
            let _ = writer.write_all(&bytes);
            let _ = writer.shutdown(std::net::Shutdown::Write);
        });
        let drained = conn.drain(conn.timeout(), 4096);
        let text = String::from_utf8_lossy(&drained.bytes);
        let complete = drained.total == drained.bytes.len();
        let ok =
            drained.end == End::Closed && complete && all_match(conn.framing(), &text, &replies);
        // Ends the writer at once if the server neither reads nor closes.
        let _ = conn.stream().shutdown(std::net::Shutdown::Both);
        let _ = sending.join();
        if !ok {
            let mut expected: Vec<String> = replies.iter().map(Reply::to_string).collect();
            expected.push("a clean end of stream (FIN, not a reset), every time".into());
            return Err(fail(
                format!("{} (try {round} of {LINGER_ROUNDS})", drained.describe()),
                expected.join(" then "),
            ));
        }
    }
    Ok(())
}

/// Bytes of a line that never ends (`slowloris…`), one every quarter of the idle timeout (at
/// most a second), so that no single read ever waits as long as the idle timeout. The server
/// must close the connection within its idle timeout plus the checker's timeout, an error line
/// first allowed. Needs the idle timeout (`--idle-timeout`), and is run for a server that
/// claims total deadlines (`--min-rate`). Proves a line has a total deadline, not a per-read
/// timeout, which a client that trickles a byte at a time holds open for ever: the attack
/// called slowloris.
pub fn slowloris(spec: Spec, p: &mut Probe) -> Verdict {
    let Some(idle) = p.options.idle_timeout else {
        return Err(Outcome::Skip(
            "the server's idle timeout is unknown: give --idle-timeout SECS".into(),
        ));
    };
    let mut conn = greeted(spec, p)?;
    let _ = conn.stream().set_nodelay(true);
    let gap = BYTE_GAP.min(idle / 4);
    let limit = idle + p.options.timeout;
    let bytes = vec![b'x'; (limit.as_secs_f64() / gap.as_secs_f64()) as usize + 1];
    conn.trickle(&bytes, gap, limit).map(drop)
}

/// With the server's process id (`--pid`): 200 connections opened at once and held, while the
/// server's thread count is read from `/proc` for up to the checker's timeout. It may grow by
/// at most [`crowd::THREAD_SLACK`]. Proves the server's threads are bounded (a pool, or none),
/// not one per connection, which a crowd of clients turns into thousands of threads.
pub fn bounded_threads(_spec: Spec, p: &mut Probe) -> Verdict {
    crowd::threads_stay_flat(p)
}

// ---------------------------------------------------------------------------------------------
// Follow-ups.

/// A well-behaved client is served: greeted, its `hello` answered, its `exit` answered with
/// `bye` and the connection closed. From lesson 03, `busy` means "try again", so the client
/// does, until the timeout. Proves the server survived the hostile client before.
pub fn served(spec: Spec, p: &mut Probe) -> Verdict {
    let deadline = Instant::now() + p.options.timeout;
    let greeting = spec.greeting();
    let mut conn = loop {
        let mut conn = connect(spec, p)?;
        match conn.reply() {
            Got::Reply(text) if spec.concurrent() && text == BUSY && Instant::now() < deadline => {
                // Polling the server's state until it has room again, not synchronising.
                thread::sleep(Duration::from_millis(50));
            }
            Got::Reply(text) if greeting.matches(&text) => break conn,
            got => return Err(fail(got.to_string(), greeting.to_string())),
        }
    };
    conn.send(spec.message("hello"))?;
    expect(&mut conn, &spec.reply(1, "hello"))?;
    say_exit(spec, &mut conn)
}

/// Lesson 01: the server process ends by itself, with status 0, or 1 and one line on stderr
/// starting `error: ` (the course's rule for errors: one clear sentence, never a panic or a
/// traceback). Needs a server the checker started. Proves the hostile client before ended in a
/// clean error, not a crash or a hang.
pub fn clean_exit(_spec: Spec, p: &mut Probe) -> Verdict {
    exits_with(p, &[0, 1])
}

/// The server the checker started exits within the timeout with one of `codes`; status 1 must
/// come with one `error: ` line on stderr.
fn exits_with(p: &mut Probe, codes: &[i32]) -> Verdict {
    let timeout = p.options.timeout;
    let Some(instance) = p.instance.as_deref_mut() else {
        return Err(Outcome::Skip(
            "only a server the checker started (--spawn) can be watched as it ends".into(),
        ));
    };
    let wanted = match codes {
        [0] => "exit status 0".to_string(),
        _ => "exit status 0, or 1 with one `error: ` line on stderr".to_string(),
    };
    let Some(exit) = instance.wait_exit(timeout) else {
        return Err(fail(
            format!("the server still running after {}", seconds(timeout)),
            format!("it to end by itself ({wanted})"),
        ));
    };
    let stderr = exit.stderr.trim_end();
    let clean = match exit.code {
        Some(0) => codes.contains(&0),
        Some(1) => {
            codes.contains(&1) && stderr.lines().count() == 1 && stderr.starts_with("error: ")
        }
        _ => false,
    };
    if clean {
        return Ok(());
    }
    let status = match exit.code {
        Some(code) => format!("exit status {code}"),
        None => "an end by a signal".to_string(),
    };
    Err(fail(
        format!("{status} with stderr {}", quote(stderr.as_bytes())),
        wanted,
    ))
}

// ---------------------------------------------------------------------------------------------
// Lesson 05: one thread for everyone.

/// The most a client that never reads may send before the server must have stopped reading it.
const HOG_LIMIT: usize = 64 << 20;
/// Idle connections held open beside a served client (fewer when descriptors are short).
const IDLE_CROWD: usize = 2000;

/// Lesson 05: a client sends `x` lines without end and never reads a reply. Its writes must
/// soon stall (within 64 MiB): the server has stopped reading it rather than piling up its
/// replies. Then, while it is still connected, another client gets twenty replies. Proves
/// backpressure, and that one stuck client does not stall the loop everyone shares.
pub fn never_reads(spec: Spec, p: &mut Probe) -> Verdict {
    let hog = greeted(spec, p)?;
    let Ok(mut stream) = hog.stream().try_clone() else {
        return Err(fail("the socket could not be cloned", "a socket"));
    };
    let _ = stream.set_write_timeout(Some(QUIET));
    let chunk = b"x\n".repeat(32 * 1024);
    let give_up = Instant::now() + p.options.timeout * 4;
    let mut sent = 0;
    // Stops when a write stalls (or fails: a server may also close such a client).
    while let Ok(n) = stream.write(&chunk) {
        sent += n;
        if sent >= HOG_LIMIT {
            return Err(fail(
                format!(
                    "the server took {} MiB from a client that reads nothing",
                    sent >> 20
                ),
                "it stops reading a client whose replies pile up (backpressure)",
            ));
        }
        if Instant::now() > give_up {
            break;
        }
    }
    let mut other = greeted(spec, p).map_err(|e| beside(e, "a client that never reads"))?;
    for n in 1..=20 {
        let text = format!("message {n}");
        other.send(spec.message(&text))?;
        expect(&mut other, &spec.reply(n, &text))
            .map_err(|e| beside(e, "a client that never reads"))?;
    }
    say_exit(spec, &mut other)?;
    drop(hog);
    Ok(())
}

/// Lesson 05: 2,000 connections (fewer if this process may not open that many descriptors:
/// the checker raises its own limit first) are opened and each is greeted; then, while all are
/// held open, a well-behaved client is served. Proves that idle connections cost the server
/// neither a thread nor a place that a working client needs.
pub fn idle_crowd(spec: Spec, p: &mut Probe) -> Verdict {
    let limit = test_support::observe::raise_descriptor_limit().unwrap_or(1024);
    // Half the limit: a server in this very process (the checker's own tests) needs the other.
    let count = IDLE_CROWD.min((limit.saturating_sub(64) / 2) as usize);
    let mut crowd = Vec::with_capacity(count);
    for i in 1..=count {
        let conn =
            connect(spec, p).map_err(|e| beside(e, &format!("{} idle connections", i - 1)))?;
        crowd.push(conn);
    }
    for (i, conn) in crowd.iter_mut().enumerate() {
        expect(conn, &spec.greeting()).map_err(|e| match e {
            Outcome::Fail { saw, expected } => fail(
                format!("connection {} of {count}: {saw}", i + 1),
                format!("{expected} on every one of {count} connections"),
            ),
            other => other,
        })?;
    }
    served(spec, p).map_err(|e| beside(e, &format!("{count} idle connections")))?;
    drop(crowd);
    Ok(())
}

/// Adds to a failure what else was connected at the time.
fn beside(outcome: Outcome, what: &str) -> Outcome {
    match outcome {
        Outcome::Fail { saw, expected } => fail(format!("{saw}, beside {what}"), expected),
        other => other,
    }
}
