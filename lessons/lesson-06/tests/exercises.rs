//! The checks for lesson 06's exercises, each written once as a plain function and run three
//! ways: on our solution (must pass), on deliberately wrong answers (must fail), and on your stub
//! (`cargo test -p lesson-06 -- --ignored`).
//!
//! The wrong answers each check must reject, and why a learner writes them:
//! - exercise 1: SO_KEEPALIVE alone (Linux then waits two hours); the idle time but not the
//!   interval and count; keepalive without the user timeout.
//! - exercise 2: ETIMEDOUT always taken as "connect timed out" (the phase ignored); EPIPE taken
//!   as a second reset; our own read timeout taken as a dead peer.
//! - exercise 3: blocking writes (they wait for ever for a reader that never reads); WouldBlock
//!   returned as an error; counting the bytes offered instead of the bytes taken; leaving the
//!   socket non-blocking.
//!
//! Linux only, like the options of exercise 1 (TCP_USER_TIMEOUT is Linux's).

#![cfg(any(target_os = "linux", target_os = "android"))]

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::time::Duration;

use lesson_06::failure::{Failure, Phase};
use lesson_06::keepalive::{self, Keepalive};
use lesson_06::{exercises, solutions};
use socket2::SockRef;
use test_support::exercise::{Exercise, assert_fails, report, run_bounded};

const EXERCISE_1: Exercise = Exercise {
    number: 1,
    task: "arm keepalive and the user timeout",
    hint: "socket2's SockRef::from(stream).set_tcp_keepalive(&TcpKeepalive::new().with_time(..)\
           .with_interval(..).with_retries(..)) sets SO_KEEPALIVE and all three timers; then \
           set_tcp_user_timeout(Some(..))",
};
const EXERCISE_2: Exercise = Exercise {
    number: 2,
    task: "tell the failures apart",
    hint: "match on (e.kind(), phase): TimedOut means a different thing in each phase; \
           BrokenPipe comes after a reset was already reported; WouldBlock is your own timeout",
};
const EXERCISE_3: Exercise = Exercise {
    number: 3,
    task: "write until the window is full",
    hint: "set_nonblocking(true), write in a loop adding the n each write returns, stop at \
           ErrorKind::WouldBlock (not an error here), then set_nonblocking(false)",
};

/// A connected pair on 127.0.0.1: (the client's end, the server's end).
fn pair() -> Result<(TcpStream, TcpStream), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let client = TcpStream::connect(listener.local_addr().unwrap()).map_err(|e| e.to_string())?;
    let (server, _) = listener.accept().map_err(|e| e.to_string())?;
    Ok((client, server))
}

type Arm = fn(&TcpStream, Duration, Duration, u32, Duration) -> io::Result<()>;

/// Exercise 1: every option, read back with getsockopt from the socket armed.
fn check_1(arm: Arm) -> Result<(), String> {
    let (_client, server) = pair()?;
    let secs = Duration::from_secs;
    arm(&server, secs(3), secs(2), 4, secs(7)).map_err(|e| format!("it failed: {e}"))?;
    let expected = Keepalive {
        idle: secs(3),
        interval: secs(2),
        count: 4,
        user_timeout: Some(secs(7)),
    };
    match keepalive::read_back(&server).map_err(|e| e.to_string())? {
        Some(got) if got == expected => Ok(()),
        Some(got) => Err(format!(
            "getsockopt read back {got:?}; expected {expected:?}"
        )),
        None => Err("SO_KEEPALIVE is off on the socket".into()),
    }
}

/// Exercise 2: real errors where a test can make them without root, made-up ones where it
/// cannot (a dead peer needs packets dropped: the chapter's lab shows those for real).
fn check_2(name: fn(&io::Error, Phase) -> Failure) -> Result<(), String> {
    let mut cases: Vec<(String, io::Error, Phase, Failure)> = Vec::new();

    // A port where nobody listens: the SYN is answered by RST.
    let free = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = free.local_addr().unwrap();
    drop(free);
    let refused = TcpStream::connect(addr)
        .err()
        .ok_or("a connect to a closed port worked")?;
    cases.push((
        "connect to a closed port".into(),
        refused,
        Phase::Connect,
        Failure::Refused,
    ));

    // A peer that resets (SO_LINGER 0, then close): our first write reports the reset, the
    // next one EPIPE.
    let (client, server) = pair()?;
    SockRef::from(&server)
        .set_linger(Some(Duration::ZERO))
        .map_err(|e| e.to_string())?;
    drop(server);
    let mut writer = &client;
    let first = writer
        .write(b"x")
        .err()
        .ok_or("a write after a reset worked")?;
    let second = writer
        .write(b"x")
        .err()
        .ok_or("a second write after a reset worked")?;
    cases.push((
        "first write after a reset".into(),
        first,
        Phase::Established,
        Failure::Reset,
    ));
    cases.push((
        "second write after a reset".into(),
        second,
        Phase::Established,
        Failure::BrokenPipe,
    ));

    // Our own read timeout on a silent peer.
    let (client, _server) = pair()?;
    client
        .set_read_timeout(Some(Duration::from_millis(50)))
        .map_err(|e| e.to_string())?;
    let silent = (&client)
        .read(&mut [0u8; 1])
        .err()
        .ok_or("a read on a silent peer returned")?;
    cases.push((
        "our read timeout".into(),
        silent,
        Phase::Established,
        Failure::Deadline,
    ));

    // The kernel's ETIMEDOUT in both phases, unreachable, and read_exact's end of stream.
    let made = |kind: ErrorKind| io::Error::from(kind);
    cases.push((
        "ETIMEDOUT from connect".into(),
        made(ErrorKind::TimedOut),
        Phase::Connect,
        Failure::ConnectTimedOut,
    ));
    cases.push((
        "ETIMEDOUT from a read".into(),
        made(ErrorKind::TimedOut),
        Phase::Established,
        Failure::PeerVanished,
    ));
    cases.push((
        "EHOSTUNREACH".into(),
        made(ErrorKind::HostUnreachable),
        Phase::Connect,
        Failure::Unreachable,
    ));
    cases.push((
        "end of stream".into(),
        made(ErrorKind::UnexpectedEof),
        Phase::Established,
        Failure::EndOfStream,
    ));

    for (what, error, phase, expected) in cases {
        let got = name(&error, phase);
        if got != expected {
            return Err(format!(
                "{what} ({error}) was named {got:?}; expected {expected:?}"
            ));
        }
    }
    Ok(())
}

/// Exercise 3: the count must be what the peer can then read, the window must really be
/// full (a persist timer probes it), and the socket must be blocking again.
fn check_3(fill: fn(&TcpStream) -> io::Result<usize>) -> Result<(), String> {
    let (client, server) = pair()?;
    let taken = fill(&client).map_err(|e| format!("it failed: {e}"))?;
    if taken == 0 {
        return Err("it wrote nothing".into());
    }
    if SockRef::from(&client)
        .nonblocking()
        .map_err(|e| e.to_string())?
    {
        return Err("the socket was left non-blocking".into());
    }
    // Full: a one-byte non-blocking write must not fit now.
    client.set_nonblocking(true).map_err(|e| e.to_string())?;
    let fits = (&client).write(b"x");
    client.set_nonblocking(false).map_err(|e| e.to_string())?;
    if let Ok(n) = fits {
        return Err(format!(
            "after it returned, the kernel still took {n} more byte: the window was not full"
        ));
    }
    // What the peer can read, once we stop writing, is exactly what was taken.
    client
        .shutdown(Shutdown::Write)
        .map_err(|e| e.to_string())?;
    server
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut received = 0;
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        match (&server).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received += n,
            Err(e) => return Err(format!("reading what was sent failed: {e}")),
        }
    }
    if received != taken {
        return Err(format!(
            "it returned {taken}, but the peer received {received} bytes"
        ));
    }
    Ok(())
}

const BOUND: Duration = Duration::from_secs(30);

#[test]
fn check_1_passes_our_solution() {
    report(
        &EXERCISE_1,
        run_bounded(BOUND, || check_1(solutions::arm_keepalive)),
    );
}

#[test]
fn check_2_passes_our_solution() {
    report(
        &EXERCISE_2,
        run_bounded(BOUND, || check_2(solutions::name_failure)),
    );
}

#[test]
fn check_3_passes_our_solution() {
    report(
        &EXERCISE_3,
        run_bounded(BOUND, || check_3(solutions::fill_the_window)),
    );
}

#[test]
#[ignore = "exercise 1: arm keepalive and the user timeout"]
fn exercise_1() {
    report(
        &EXERCISE_1,
        run_bounded(BOUND, || check_1(exercises::arm_keepalive)),
    );
}

#[test]
#[ignore = "exercise 2: tell the failures apart"]
fn exercise_2() {
    report(
        &EXERCISE_2,
        run_bounded(BOUND, || check_2(exercises::name_failure)),
    );
}

#[test]
#[ignore = "exercise 3: write until the window is full"]
fn exercise_3() {
    report(
        &EXERCISE_3,
        run_bounded(BOUND, || check_3(exercises::fill_the_window)),
    );
}

/// The plausible wrong answers, each of which its check must reject.
mod wrong {
    use super::*;
    use socket2::TcpKeepalive;

    pub fn keepalive_flag_only(
        s: &TcpStream,
        _: Duration,
        _: Duration,
        _: u32,
        t: Duration,
    ) -> io::Result<()> {
        SockRef::from(s).set_keepalive(true)?;
        SockRef::from(s).set_tcp_user_timeout(Some(t))
    }

    pub fn idle_only(
        s: &TcpStream,
        idle: Duration,
        _: Duration,
        _: u32,
        t: Duration,
    ) -> io::Result<()> {
        SockRef::from(s).set_tcp_keepalive(&TcpKeepalive::new().with_time(idle))?;
        SockRef::from(s).set_tcp_user_timeout(Some(t))
    }

    pub fn no_user_timeout(
        s: &TcpStream,
        idle: Duration,
        every: Duration,
        n: u32,
        _: Duration,
    ) -> io::Result<()> {
        let params = TcpKeepalive::new()
            .with_time(idle)
            .with_interval(every)
            .with_retries(n);
        SockRef::from(s).set_tcp_keepalive(&params)
    }

    pub fn phase_ignored(e: &io::Error, _: Phase) -> Failure {
        match e.kind() {
            ErrorKind::TimedOut => Failure::ConnectTimedOut,
            _ => solutions::name_failure(e, Phase::Established),
        }
    }

    pub fn epipe_as_reset(e: &io::Error, phase: Phase) -> Failure {
        match e.kind() {
            ErrorKind::BrokenPipe => Failure::Reset,
            _ => solutions::name_failure(e, phase),
        }
    }

    pub fn own_timeout_as_dead_peer(e: &io::Error, phase: Phase) -> Failure {
        match e.kind() {
            ErrorKind::WouldBlock => Failure::PeerVanished,
            _ => solutions::name_failure(e, phase),
        }
    }

    pub fn blocking_writes(s: &TcpStream) -> io::Result<usize> {
        let chunk = [0u8; 16 * 1024];
        loop {
            (&*s).write_all(&chunk)?;
        }
    }

    pub fn would_block_as_error(s: &TcpStream) -> io::Result<usize> {
        s.set_nonblocking(true)?;
        let chunk = [0u8; 16 * 1024];
        let mut taken = 0;
        let result = loop {
            match (&*s).write(&chunk) {
                Ok(n) => taken += n,
                Err(e) => break Err(e),
            }
        };
        s.set_nonblocking(false)?;
        result.map(|()| taken)
    }

    pub fn counts_offered(s: &TcpStream) -> io::Result<usize> {
        s.set_nonblocking(true)?;
        // An odd chunk size: the last write that fits only in part is all but certain.
        let chunk = [0u8; 10_007];
        let mut offered = 0;
        loop {
            match (&*s).write(&chunk) {
                Ok(_) => offered += chunk.len(),
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        s.set_nonblocking(false)?;
        Ok(offered)
    }

    pub fn left_non_blocking(s: &TcpStream) -> io::Result<usize> {
        let taken = solutions::fill_the_window(s)?;
        s.set_nonblocking(true)?;
        Ok(taken)
    }
}

#[test]
fn check_1_rejects_wrong_answers() {
    for wrong in [
        wrong::keepalive_flag_only,
        wrong::idle_only,
        wrong::no_user_timeout,
    ] {
        assert_fails(&EXERCISE_1, run_bounded(BOUND, move || check_1(wrong)));
    }
}

#[test]
fn check_2_rejects_wrong_answers() {
    for wrong in [
        wrong::phase_ignored,
        wrong::epipe_as_reset,
        wrong::own_timeout_as_dead_peer,
    ] {
        assert_fails(&EXERCISE_2, run_bounded(BOUND, move || check_2(wrong)));
    }
}

#[test]
fn check_3_rejects_wrong_answers() {
    // The blocking answer never returns: the check's own bound catches it, kept short here.
    let short = Duration::from_secs(3);
    assert_fails(
        &EXERCISE_3,
        run_bounded(short, || check_3(wrong::blocking_writes)),
    );
    for wrong in [
        wrong::would_block_as_error,
        wrong::counts_offered,
        wrong::left_non_blocking,
    ] {
        assert_fails(&EXERCISE_3, run_bounded(BOUND, move || check_3(wrong)));
    }
}
