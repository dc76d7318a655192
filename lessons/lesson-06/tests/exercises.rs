//! Lesson 06's exercises, each written once: its task, hints, check, our answer, your stub and
//! the wrong answers the check must reject.
//!
//! - `cargo test` proves the checks (our answer passes, every wrong answer fails) and never runs
//!   your stubs;
//! - `cargo test -p lesson-06 --test exercises -- mine` checks your stubs in
//!   `src/exercises.rs`; `HINT=1` (then 2 …) in front of it adds hints.
//!
//! All three run without root, on real sockets on 127.0.0.1. Linux only, like the option of
//! exercise 1 they read back (TCP_USER_TIMEOUT is Linux's).

use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::panic::{self, AssertUnwindSafe};
use std::time::Duration;

use lesson_06::failure::{Failure, Phase};
use lesson_06::keepalive::{self, Keepalive};
use lesson_06::{exercises, solutions};
use socket2::SockRef;
use test_support::exercise::{self, Exercise, Wrong};

test_support::exercises_main!(EXERCISE_1, EXERCISE_2, EXERCISE_3);

/// A connected pair on 127.0.0.1: (the client's end, the server's end).
fn pair() -> Result<(TcpStream, TcpStream), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let client = TcpStream::connect(listener.local_addr().unwrap()).map_err(|e| e.to_string())?;
    let (server, _) = listener.accept().map_err(|e| e.to_string())?;
    Ok((client, server))
}

// ---------------------------------------------------------------------------------------------
// Exercise 1: arm keepalive and the user timeout.

type Arm = fn(&TcpStream, &Keepalive) -> io::Result<()>;

const EXERCISE_1: Exercise<Arm> = Exercise {
    number: 1,
    task: "arm keepalive and the user timeout",
    hints: &[
        "turning keepalive on is not enough: the kernel's own timers wait two hours before the \
         first probe; each timer, and the user timeout, is an option of its own on this socket",
        "socket2 sets options on a std TcpStream without taking it over (SockRef::from); its \
         TcpKeepalive holds the three timers, and the user timeout is one more setter",
        "let s = SockRef::from(stream); s.set_tcp_keepalive(&TcpKeepalive::new()\
         .with_time(settings.idle).with_interval(settings.interval)\
         .with_retries(settings.count))?; s.set_tcp_user_timeout(settings.user_timeout)",
    ],
    bound: Duration::from_secs(10),
    hang: "did it wait for something? Setting options returns at once",
    check: check_arm_keepalive,
    solution: solutions::arm_keepalive,
    mine: exercises::arm_keepalive,
    wrong: &[
        Wrong {
            does: "turns on SO_KEEPALIVE alone",
            answer: wrong::keepalive_flag_only,
            rejected_with: "expected 3s: the kernel's default: SO_KEEPALIVE alone",
        },
        Wrong {
            does: "sets the idle time but not the interval and count",
            answer: wrong::idle_only,
            rejected_with: "expected 2s: the kernel's default: did you set the idle time alone?",
        },
        Wrong {
            does: "arms keepalive without the user timeout",
            answer: wrong::no_user_timeout,
            rejected_with: "TCP_USER_TIMEOUT is 0 (off), expected 7s: keepalive never runs while data",
        },
        Wrong {
            does: "swaps the idle time and the interval",
            answer: wrong::idle_and_interval_swapped,
            rejected_with: "TCP_KEEPIDLE is 2s, expected 3s: idle and interval swapped?",
        },
        Wrong {
            does: "sets one probe more than the count",
            answer: wrong::count_plus_one,
            rejected_with: "TCP_KEEPCNT is 5, expected 4: one too many",
        },
        Wrong {
            does: "computes the user timeout from the timers (idle + interval × count)",
            answer: wrong::user_timeout_from_the_timers,
            rejected_with: "TCP_USER_TIMEOUT is 11s, expected 7s: did you compute it",
        },
        Wrong {
            does: "gives the user timeout's seconds as milliseconds",
            answer: wrong::user_timeout_seconds_as_millis,
            rejected_with: "TCP_USER_TIMEOUT is 7ms, expected 7s: seconds given as milliseconds?",
        },
        Wrong {
            does: "unwraps the user timeout (panics when it is off)",
            answer: wrong::user_timeout_unwrapped,
            rejected_with: "with the user timeout off (None",
        },
        Wrong {
            does: "sets a user timeout of its own when it is off",
            answer: wrong::user_timeout_made_up,
            rejected_with: "None means the kernel's own limit",
        },
    ],
};

/// Every option, read back with getsockopt from the socket armed: once with every timer and
/// the user timeout, once with the user timeout off (`--user-timeout 0`).
fn check_arm_keepalive(arm: Arm) -> Result<(), String> {
    let secs = Duration::from_secs;
    let expected = Keepalive {
        idle: secs(3),
        interval: secs(2),
        count: 4,
        user_timeout: Some(secs(7)),
    };
    // A socket nobody armed: the kernel's defaults, which an option left unset keeps.
    let (_client, untouched) = pair()?;
    let defaults = {
        let s = SockRef::from(&untouched);
        let read = || -> io::Result<(Duration, Duration, u32)> {
            Ok((
                s.tcp_keepalive_time()?,
                s.tcp_keepalive_interval()?,
                s.tcp_keepalive_retries()?,
            ))
        };
        let (idle, interval, count) = read().map_err(|e| e.to_string())?;
        Keepalive {
            idle,
            interval,
            count,
            user_timeout: None,
        }
    };
    let (_client, server) = pair()?;
    arm(&server, &expected).map_err(|e| format!("it failed: {e}"))?;
    let Some(got) = keepalive::read_back(&server).map_err(|e| e.to_string())? else {
        return Err("SO_KEEPALIVE is off on the socket: no probe will ever be sent".into());
    };
    // Each option on its own: which one is wrong, what it holds, and the likely mistake.
    if got.idle != expected.idle {
        let why = if got.idle == defaults.idle {
            "the kernel's default: SO_KEEPALIVE alone keeps the kernel's two-hour defaults; set \
             the timers on the socket"
        } else if got.idle == expected.interval && got.interval == expected.idle {
            "idle and interval swapped?"
        } else {
            "the first probe must come after settings.idle of silence"
        };
        return Err(format!(
            "TCP_KEEPIDLE is {:?}, expected {:?}: {why}",
            got.idle, expected.idle
        ));
    }
    if got.interval != expected.interval {
        let why = if got.interval == defaults.interval {
            "the kernel's default: did you set the idle time alone? The kernel's interval and \
             count are minutes more"
        } else {
            "probes must come settings.interval apart"
        };
        return Err(format!(
            "TCP_KEEPINTVL is {:?}, expected {:?}: {why}",
            got.interval, expected.interval
        ));
    }
    if got.count != expected.count {
        let why = if got.count == defaults.count {
            "the kernel's default: TCP_KEEPCNT left unset?"
        } else if got.count == expected.count + 1 {
            "one too many: TCP_KEEPCNT is the number of unanswered probes, settings.count itself"
        } else {
            "it must be settings.count"
        };
        return Err(format!(
            "TCP_KEEPCNT is {}, expected {}: {why}",
            got.count, expected.count
        ));
    }
    if got.user_timeout != expected.user_timeout {
        let user_timeout = expected.user_timeout.unwrap_or_default();
        let why = match got.user_timeout {
            None => {
                "keepalive never runs while data is in flight, so unacknowledged data would be \
                 retried for about 15 minutes"
            }
            Some(t) if t == expected.idle + expected.interval * expected.count => {
                "did you compute it from the keepalive timers (idle + interval × count)? It is a \
                 setting of its own, settings.user_timeout"
            }
            Some(t) if t == Duration::from_millis(user_timeout.as_secs()) => {
                "seconds given as milliseconds? TCP_USER_TIMEOUT counts milliseconds"
            }
            Some(_) => "it must be settings.user_timeout",
        };
        return Err(format!(
            "TCP_USER_TIMEOUT is {}, expected {user_timeout:?}: {why}",
            match got.user_timeout {
                None => "0 (off)".to_string(),
                Some(t) => format!("{t:?}"),
            }
        ));
    }

    let off = Keepalive {
        user_timeout: None,
        ..expected
    };
    let (_client, server) = pair()?;
    // A panic here is this case's, not a stub's: say which case it was.
    match panic::catch_unwind(AssertUnwindSafe(|| arm(&server, &off))) {
        Ok(result) => {
            result.map_err(|e| format!("with the user timeout off (None) it failed: {e}"))?
        }
        Err(_) => {
            return Err(
                "with the user timeout off (None, what --user-timeout 0 gives) it \
                        panicked: did you unwrap it? None means the kernel's own limit"
                    .into(),
            );
        }
    }
    let got = keepalive::read_back(&server).map_err(|e| e.to_string())?;
    if got != Some(off) {
        return Err(format!(
            "with the user timeout off (None) the socket reads back {got:?}, expected {off:?}: \
             None means the kernel's own limit (tcp_retries2), no user timeout at all"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Exercise 2: tell the failures apart.

type Name = fn(&io::Error, Phase) -> Failure;

const EXERCISE_2: Exercise<Name> = Exercise {
    number: 2,
    task: "tell the failures apart",
    hints: &[
        "the error's kind alone is not enough: one kind means two different failures, \
         depending on whether it came from connect() or from an established connection",
        "match on the pair (e.kind(), phase); and think about what a write after a reset that \
         was already reported returns, and what a read past your own SO_RCVTIMEO returns",
        "match (e.kind(), phase) { (ConnectionRefused, _) => Refused, (TimedOut, Connect) => \
         ConnectTimedOut, (TimedOut, Established) => PeerVanished, (HostUnreachable | \
         NetworkUnreachable, _) => Unreachable, (ConnectionReset | ConnectionAborted, _) => \
         Reset, (BrokenPipe, _) => BrokenPipe, (UnexpectedEof, _) => EndOfStream, \
         (WouldBlock, _) => Deadline, _ => Other(e.to_string()) }",
    ],
    bound: Duration::from_secs(10),
    hang: "did it wait for something? Naming an error returns at once",
    check: check_name_failure,
    solution: solutions::name_failure,
    mine: exercises::name_failure,
    wrong: &[
        Wrong {
            does: "takes every ETIMEDOUT for a connect that timed out (the phase ignored)",
            answer: wrong::phase_ignored,
            rejected_with: "did you ignore the phase?",
        },
        Wrong {
            does: "calls EPIPE a second reset",
            answer: wrong::epipe_as_reset,
            rejected_with: "EPIPE is not a second reset",
        },
        Wrong {
            does: "takes its own read timeout for a dead peer",
            answer: wrong::own_timeout_as_dead_peer,
            rejected_with: "did you take your own timeout for a dead peer?",
        },
    ],
};

/// Real errors where a test can make them without root, made-up ones where it cannot (a dead
/// peer needs packets dropped: the chapter's lab shows those for real). Each case: what made
/// the error, the error, its phase, the right name, and what a wrong name most likely means.
fn check_name_failure(name: Name) -> Result<(), String> {
    let mut cases: Vec<(&str, io::Error, Phase, Failure, &str)> = Vec::new();

    // A port where nobody listens: the SYN is answered by RST.
    let free = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = free.local_addr().unwrap();
    drop(free);
    let refused = TcpStream::connect(addr)
        .err()
        .ok_or("a connect to a closed port worked")?;
    cases.push((
        "connect to a closed port",
        refused,
        Phase::Connect,
        Failure::Refused,
        "ECONNREFUSED: a RST answered the SYN, nobody listens on that port",
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
        "first write after a reset",
        first,
        Phase::Established,
        Failure::Reset,
        "ECONNRESET: the peer answered with RST",
    ));
    cases.push((
        "second write after a reset",
        second,
        Phase::Established,
        Failure::BrokenPipe,
        "EPIPE is not a second reset: the reset was already reported, by the write before",
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
        "our read timeout",
        silent,
        Phase::Established,
        Failure::Deadline,
        "did you take your own timeout for a dead peer? A read past SO_RCVTIMEO fails with \
         WouldBlock: our deadline passed, the peer may be fine",
    ));

    // The kernel's ETIMEDOUT in both phases, unreachable, and read_exact's end of stream.
    let made = |kind: ErrorKind| io::Error::from(kind);
    cases.push((
        "ETIMEDOUT from connect",
        made(ErrorKind::TimedOut),
        Phase::Connect,
        Failure::ConnectTimedOut,
        "ETIMEDOUT from connect: no answer to our SYNs",
    ));
    cases.push((
        "ETIMEDOUT from a read",
        made(ErrorKind::TimedOut),
        Phase::Established,
        Failure::PeerVanished,
        "did you ignore the phase? ETIMEDOUT on an established connection means keepalive or \
         the user timeout gave up on the peer",
    ));
    cases.push((
        "EHOSTUNREACH",
        made(ErrorKind::HostUnreachable),
        Phase::Connect,
        Failure::Unreachable,
        "EHOSTUNREACH: there is no way to that host",
    ));
    cases.push((
        "end of stream",
        made(ErrorKind::UnexpectedEof),
        Phase::Established,
        Failure::EndOfStream,
        "the peer closed its side (FIN) before the whole message came",
    ));

    for (what, error, phase, expected, explain) in cases {
        let got = name(&error, phase);
        if got != expected {
            return Err(format!(
                "{what} ({error}) was named {got:?}, not {expected:?}: {explain}"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Exercise 3: write until the window is full.

type Fill = fn(&TcpStream) -> io::Result<usize>;

const EXERCISE_3: Exercise<Fill> = Exercise {
    number: 3,
    task: "write until the window is full",
    hints: &[
        "a peer that never reads makes a blocking write wait for ever; and a write may take \
         fewer bytes than you offered it",
        "a non-blocking socket answers \"no room now\" with ErrorKind::WouldBlock instead of \
         waiting: here that is the end of the job, not a failure; count the n each write \
         returns",
        "stream.set_nonblocking(true)?; loop { match (&*stream).write(&chunk) { Ok(n) => taken \
         += n, Err(e) if e.kind() == ErrorKind::WouldBlock => break, Err(e) => return Err(e) } \
         }; stream.set_nonblocking(false)?; Ok(taken)",
    ],
    bound: Duration::from_secs(30),
    hang: "did a write block, waiting for a peer that never reads?",
    check: check_fill_the_window,
    solution: solutions::fill_the_window,
    mine: exercises::fill_the_window,
    wrong: &[
        Wrong {
            does: "writes with blocking writes",
            answer: wrong::blocking_writes,
            rejected_with: "did you write with blocking writes?",
        },
        Wrong {
            does: "returns WouldBlock as an error",
            answer: wrong::would_block_as_error,
            rejected_with: "WouldBlock is not an error here",
        },
        Wrong {
            does: "counts the bytes offered instead of the bytes taken",
            answer: wrong::counts_offered,
            rejected_with: "count what each write took",
        },
        Wrong {
            does: "leaves the socket non-blocking",
            answer: wrong::left_non_blocking,
            rejected_with: "the socket was left non-blocking",
        },
    ],
};

/// The count must be what the peer can then read, the window must really be full, and the
/// socket must be blocking again.
fn check_fill_the_window(fill: Fill) -> Result<(), String> {
    let (client, server) = pair()?;
    let done = exercise::spawn_checked(move || {
        let taken = fill(&client);
        (taken, client)
    });
    // A non-blocking fill of a few megabytes on loopback takes milliseconds; 5 s is room for a
    // loaded machine.
    let (taken, client) = match done.recv_timeout(Duration::from_secs(5)) {
        Ok(outcome) => outcome?,
        Err(_) => {
            return Err(
                "still running 5 s later, writing to a peer that never reads: did you write with \
                 blocking writes? A blocking write waits for room that never comes"
                    .into(),
            );
        }
    };
    let taken = match taken {
        Ok(n) => n,
        Err(e) if e.kind() == ErrorKind::WouldBlock => {
            return Err(format!(
                "it returned the error {e:?}: WouldBlock is not an error here, it is the kernel \
                 saying it takes no more now, which is what you were waiting for"
            ));
        }
        Err(e) => return Err(format!("it failed: {e}")),
    };
    if taken == 0 {
        return Err("it wrote nothing".into());
    }
    if SockRef::from(&client)
        .nonblocking()
        .map_err(|e| e.to_string())?
    {
        return Err(
            "the socket was left non-blocking: leave it blocking as you found it, or its next \
             user's reads fail with WouldBlock"
                .into(),
        );
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
            "it returned {taken}, but the peer received {received} bytes: a write may take \
             fewer bytes than offered; count what each write took (the n it returns)"
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------

/// Plausible wrong answers, each a mistake a learner could make. Every check must reject them.
mod wrong {
    use std::io::{self, ErrorKind, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use lesson_06::failure::{Failure, Phase};
    use lesson_06::keepalive::Keepalive;
    use lesson_06::solutions;
    use socket2::{SockRef, TcpKeepalive};

    /// SO_KEEPALIVE alone: Linux then waits two hours before the first probe.
    pub fn keepalive_flag_only(s: &TcpStream, k: &Keepalive) -> io::Result<()> {
        SockRef::from(s).set_keepalive(true)?;
        SockRef::from(s).set_tcp_user_timeout(k.user_timeout)
    }

    /// The idle time, but the kernel's interval and count.
    pub fn idle_only(s: &TcpStream, k: &Keepalive) -> io::Result<()> {
        SockRef::from(s).set_tcp_keepalive(&TcpKeepalive::new().with_time(k.idle))?;
        SockRef::from(s).set_tcp_user_timeout(k.user_timeout)
    }

    /// Keepalive, but nothing bounds data that stays unacknowledged.
    pub fn no_user_timeout(s: &TcpStream, k: &Keepalive) -> io::Result<()> {
        SockRef::from(s).set_tcp_keepalive(&timers(k))
    }

    /// Everything, but a user timeout that is off is unwrapped.
    pub fn user_timeout_unwrapped(s: &TcpStream, k: &Keepalive) -> io::Result<()> {
        SockRef::from(s).set_tcp_keepalive(&timers(k))?;
        SockRef::from(s).set_tcp_user_timeout(Some(k.user_timeout.unwrap()))
    }

    /// Everything, but "off" taken as "some sensible value".
    pub fn user_timeout_made_up(s: &TcpStream, k: &Keepalive) -> io::Result<()> {
        SockRef::from(s).set_tcp_keepalive(&timers(k))?;
        let timeout = k.user_timeout.unwrap_or(Duration::from_secs(30));
        SockRef::from(s).set_tcp_user_timeout(Some(timeout))
    }

    /// The idle time and the interval, each given to the other's setter.
    pub fn idle_and_interval_swapped(s: &TcpStream, k: &Keepalive) -> io::Result<()> {
        let swapped = TcpKeepalive::new()
            .with_time(k.interval)
            .with_interval(k.idle)
            .with_retries(k.count);
        SockRef::from(s).set_tcp_keepalive(&swapped)?;
        SockRef::from(s).set_tcp_user_timeout(k.user_timeout)
    }

    /// One probe more than asked: "count probes, then one that fails".
    pub fn count_plus_one(s: &TcpStream, k: &Keepalive) -> io::Result<()> {
        let timers = timers(k).with_retries(k.count + 1);
        SockRef::from(s).set_tcp_keepalive(&timers)?;
        SockRef::from(s).set_tcp_user_timeout(k.user_timeout)
    }

    /// The user timeout computed from the keepalive timers instead of taken from the settings.
    pub fn user_timeout_from_the_timers(s: &TcpStream, k: &Keepalive) -> io::Result<()> {
        SockRef::from(s).set_tcp_keepalive(&timers(k))?;
        let total = k.idle + k.interval * k.count;
        SockRef::from(s).set_tcp_user_timeout(k.user_timeout.map(|_| total))
    }

    /// The user timeout's seconds given where the option counts milliseconds.
    pub fn user_timeout_seconds_as_millis(s: &TcpStream, k: &Keepalive) -> io::Result<()> {
        SockRef::from(s).set_tcp_keepalive(&timers(k))?;
        let timeout = k.user_timeout.map(|t| Duration::from_millis(t.as_secs()));
        SockRef::from(s).set_tcp_user_timeout(timeout)
    }

    fn timers(k: &Keepalive) -> TcpKeepalive {
        TcpKeepalive::new()
            .with_time(k.idle)
            .with_interval(k.interval)
            .with_retries(k.count)
    }

    /// ETIMEDOUT always taken as "connect timed out".
    pub fn phase_ignored(e: &io::Error, _: Phase) -> Failure {
        match e.kind() {
            ErrorKind::TimedOut => Failure::ConnectTimedOut,
            _ => solutions::name_failure(e, Phase::Established),
        }
    }

    /// EPIPE taken as a second reset.
    pub fn epipe_as_reset(e: &io::Error, phase: Phase) -> Failure {
        match e.kind() {
            ErrorKind::BrokenPipe => Failure::Reset,
            _ => solutions::name_failure(e, phase),
        }
    }

    /// Our own read timeout taken as a dead peer.
    pub fn own_timeout_as_dead_peer(e: &io::Error, phase: Phase) -> Failure {
        match e.kind() {
            ErrorKind::WouldBlock => Failure::PeerVanished,
            _ => solutions::name_failure(e, phase),
        }
    }

    /// Blocking writes: they wait for ever for a reader that never reads.
    pub fn blocking_writes(s: &TcpStream) -> io::Result<usize> {
        let chunk = [0u8; 16 * 1024];
        loop {
            (&*s).write_all(&chunk)?;
        }
    }

    /// Non-blocking, but WouldBlock passed on as an error.
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

    /// Counts the bytes offered, not the bytes each write took.
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

    /// Fills the window but leaves the socket non-blocking.
    pub fn left_non_blocking(s: &TcpStream) -> io::Result<usize> {
        let taken = solutions::fill_the_window(s)?;
        s.set_nonblocking(true)?;
        Ok(taken)
    }
}
