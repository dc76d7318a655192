//! Lesson 03's exercises, each written once: its task, hints, check, our answer, your stub and
//! the wrong answers the check must reject.
//!
//! - `cargo test` proves the checks (our answer passes, every wrong answer fails) and never runs
//!   your stubs;
//! - `cargo test -p lesson-03 --test exercises -- mine` checks your stubs in
//!   `src/exercises.rs`; `HINT=1` (then 2 …) in front of it adds hints.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use lesson_03::{exercises, solutions};
use rand::RngExt;
use rand::rngs::StdRng;
use socket2::{Domain, Socket, Type};
use test_support::exercise::{Exercise, Wrong};

test_support::exercises_main!(EXERCISE_1, EXERCISE_2, EXERCISE_3, EXERCISE_4, EXERCISE_5);

const EXERCISE_1: Exercise<StartWorkers> = Exercise {
    number: 1,
    task: "start a fixed pool of workers",
    hints: &[
        "exactly `count` threads, started once, each taking connection after connection; an \
         open queue that is empty for a while means \"wait\", only a closed one means \"stop\"",
        "crossbeam's Receiver can be cloned: give each thread a clone of it and of `serve`; \
         which way of taking from the queue blocks while it is empty and ends when it closes?",
        "(0..count).map(|_| { let (q, f) = (queue.clone(), serve.clone()); \
         thread::spawn(move || for stream in q { f(stream) }) }).collect()",
    ],
    bound: Duration::from_secs(25),
    hang: "did a worker never end after the queue was closed?",
    check: check_start_workers,
    solution: |n, queue, serve| solutions::start_workers(n, queue, move |s| serve(s)),
    mine: |n, queue, serve| exercises::start_workers(n, queue, move |s| serve(s)),
    wrong: &[
        Wrong {
            does: "starts a thread per connection",
            answer: wrong::thread_per_connection,
            rejected_with: "is a thread started per connection?",
        },
        Wrong {
            does: "serves with one worker whatever the count",
            answer: wrong::one_worker,
            rejected_with: "was not served within 3 s",
        },
        Wrong {
            does: "polls with try_recv and never notices the queue closed",
            answer: wrong::workers_that_keep_polling,
            rejected_with: "still runs after the queue was closed",
        },
        Wrong {
            does: "takes with try_iter, ending as soon as the queue is empty",
            answer: wrong::workers_with_try_iter,
            rejected_with: "as soon as the queue was empty for a moment",
        },
        Wrong {
            does: "takes with recv_timeout(1 s), ending after a second without work",
            answer: wrong::workers_with_recv_timeout,
            rejected_with: "after a while without work",
        },
    ],
};

const EXERCISE_2: Exercise<HandOver> = Exercise {
    number: 2,
    task: "queue the connection or answer busy",
    hints: &[
        "the acceptor must never wait: while it waits, nobody is accepted; and \"is there \
         room?\" and \"put it in\" must be one step, or another thread fills the gap",
        "crossbeam's Sender has a way to send that returns at once, and gives the stream back \
         when there is no room",
        "match queue.try_send(stream) { Ok(()) => true, Err(TrySendError::Full(s) | \
         TrySendError::Disconnected(s)) => { write the busy line to s; false } }",
    ],
    bound: Duration::from_secs(6),
    hang: "did you wait for room in the queue (send)?",
    check: check_hand_over,
    solution: solutions::hand_over,
    mine: exercises::hand_over,
    wrong: &[
        Wrong {
            does: "waits for room with send()",
            answer: wrong::hand_over_waiting,
            rejected_with: "did you wait for room in the queue (send)?",
        },
        Wrong {
            does: "refuses without a word",
            answer: wrong::hand_over_silently,
            rejected_with: "not \"busy: try again later\\n\"",
        },
        Wrong {
            does: "waits up to half a second for room with send_timeout",
            answer: wrong::hand_over_after_half_a_second,
            rejected_with: "did you wait a while for room",
        },
        Wrong {
            does: "asks is_full() and then sends",
            answer: wrong::hand_over_if_not_full,
            rejected_with: "did you ask is_full() before sending?",
        },
    ],
};

const EXERCISE_3: Exercise<ConnectionRng> = Exercise {
    number: 3,
    task: "a reproducible generator per connection",
    hints: &[
        "every (seed, connection) pair needs numbers of its own: two different pairs must \
         never end up with the same generator, and no entropy may slip in",
        "StdRng's seed is 32 bytes: room for both numbers whole, side by side, so no two \
         pairs can meet; arithmetic on them (sum, product, shift) makes pairs collide",
        "let mut key = [0u8; 32]; key[..8] = seed.to_le_bytes(); key[8..16] = \
         connection.to_le_bytes(); StdRng::from_seed(key)",
    ],
    bound: Duration::from_secs(10),
    hang: "did it wait for something?",
    check: check_connection_rng,
    solution: solutions::connection_rng,
    mine: exercises::connection_rng,
    wrong: &[
        Wrong {
            does: "draws fresh entropy",
            answer: wrong::rng_from_entropy,
            rejected_with: "asked twice: different numbers",
        },
        Wrong {
            does: "ignores the connection number",
            answer: wrong::rng_ignoring_connection,
            rejected_with: "connections 1 and 2 got the same numbers",
        },
        Wrong {
            does: "seeds with seed + connection",
            answer: wrong::rng_from_sum,
            rejected_with: "did you add or xor them?",
        },
        Wrong {
            does: "seeds with seed * 1000 + connection",
            answer: wrong::rng_from_seed_times_1000,
            rejected_with: "seed * 1000 + connection",
        },
        Wrong {
            does: "keeps the low byte of each number",
            answer: wrong::rng_from_low_bytes,
            rejected_with: "did you keep only the low bytes",
        },
        Wrong {
            does: "shifts the seed into the high half (seed << 32 | connection)",
            answer: wrong::rng_from_shift,
            rejected_with: "did you shift one into the other",
        },
        Wrong {
            does: "truncates both to u32",
            answer: wrong::rng_from_u32s,
            rejected_with: "did you truncate them to u32?",
        },
    ],
};

const EXERCISE_4: Exercise<Wake> = Exercise {
    number: 4,
    task: "wake the thread blocked in accept",
    hints: &[
        "accept() returns only when a connection arrives, whatever flag is set",
        "so connect to the listening address yourself; but 0.0.0.0 and :: mean \"every \
         address\", and the listener may be IPv6: connect to the loopback address of the \
         same family",
        "let ip = match listening.ip() { V4 unspecified => 127.0.0.1, V6 unspecified => ::1, ip \
         => ip }; TcpStream::connect_timeout(&SocketAddr::new(ip, port), 1 s)",
    ],
    bound: Duration::from_secs(20),
    hang: "did your connect wait with no timeout?",
    check: check_wake,
    solution: solutions::wake_acceptor,
    mine: exercises::wake_acceptor,
    wrong: &[
        Wrong {
            does: "trusts the flag alone",
            answer: wrong::wake_by_flag_only,
            rejected_with: "still blocked in accept()",
        },
        Wrong {
            does: "always connects to 127.0.0.1",
            answer: wrong::wake_via_127,
            rejected_with: "did you connect to 127.0.0.1 whatever the listening address?",
        },
        Wrong {
            does: "replaces any unspecified address, :: too, by 127.0.0.1",
            answer: wrong::wake_unspecified_as_127,
            rejected_with: "did you replace :: by 127.0.0.1?",
        },
    ],
};

/// Reads one line with the stream's read timeout; `None` at end of stream or on error.
fn line_from(stream: &TcpStream) -> Option<String> {
    let mut line = String::new();
    match BufReader::new(stream).read_line(&mut line) {
        Ok(n) if n > 0 => Some(line.trim_end().to_string()),
        _ => None,
    }
}

/// A connected pair: (our client end, the server end as accept() returned it).
fn connected_pair(listener: &TcpListener) -> io::Result<(TcpStream, TcpStream)> {
    let client = TcpStream::connect(listener.local_addr()?)?;
    client.set_read_timeout(Some(Duration::from_secs(3)))?;
    let (server, _) = listener.accept()?;
    Ok((client, server))
}

// ---------------------------------------------------------------------------------------------
// Exercise 1: start a fixed pool of workers.

type StartWorkers =
    fn(usize, Receiver<TcpStream>, Arc<dyn Fn(TcpStream) + Send + Sync>) -> Vec<JoinHandle<()>>;

fn check_start_workers(start: StartWorkers) -> Result<(), String> {
    const WORKERS: usize = 3;
    const CLIENTS: usize = 6;
    // Each conversation greets, then lasts until the client closes; we count how many run at
    // once.
    let now = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (now_in, most_in) = (Arc::clone(&now), Arc::clone(&most));
    let serve: Arc<dyn Fn(TcpStream) + Send + Sync> = Arc::new(move |mut stream: TcpStream| {
        let running = now_in.fetch_add(1, Ordering::SeqCst) + 1;
        most_in.fetch_max(running, Ordering::SeqCst);
        let _ = stream.write_all(b"hello\n");
        // Longer than a client waits for its greeting, so a pool that is too small shows.
        let _ = stream.set_read_timeout(Some(Duration::from_secs(15)));
        let _ = io::copy(&mut stream, &mut io::sink());
        now_in.fetch_sub(1, Ordering::SeqCst);
    });

    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let (jobs, queue) = crossbeam_channel::unbounded();
    let handles = start(WORKERS, queue, serve);
    if handles.len() != WORKERS {
        return Err(format!(
            "asked for {WORKERS} workers, got {} join handles",
            handles.len()
        ));
    }
    // Two seconds with an open, empty queue: a pool waits, it does not end. (A worker that
    // quits at the first empty moment ends within milliseconds, one with recv_timeout(1 s)
    // after a second at the earliest; 800 ms tells the two apart with room for a loaded machine.)
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(2) {
        if handles.iter().any(JoinHandle::is_finished) {
            let after = started.elapsed();
            return Err(if after < Duration::from_millis(800) {
                format!(
                    "a worker ended {after:?} after the start, while the queue was open: did \
                     it stop as soon as the queue was empty for a moment (try_iter, try_recv)? \
                     An open, empty queue means \"wait\""
                )
            } else {
                format!(
                    "a worker ended {after:?} after the start, while the queue was open: did \
                     it stop after a while without work (recv_timeout)? A quiet minute is no \
                     reason to shrink the pool"
                )
            });
        }
        thread::sleep(Duration::from_millis(10));
    }
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let (client, server) = connected_pair(&listener).map_err(|e| e.to_string())?;
        jobs.send(server)
            .map_err(|_| "the workers dropped the queue")?;
        clients.push(client);
    }
    // The first three are served at once; each of the others as soon as one before it leaves.
    for (i, client) in clients.iter().enumerate() {
        if line_from(client).as_deref() != Some("hello") {
            return Err(format!(
                "connection {} was not served within 3 s, although at most {} of the others \
                 were still open",
                i + 1,
                WORKERS - 1
            ));
        }
        if i + 1 >= WORKERS {
            // Leave: the worker that served the oldest open connection is now free.
            let _ = clients[i + 1 - WORKERS].shutdown(std::net::Shutdown::Both);
        }
    }
    let most = most.load(Ordering::SeqCst);
    if most > WORKERS {
        return Err(format!(
            "{most} connections were served at once by a pool of {WORKERS}: is a thread started \
             per connection?"
        ));
    }
    drop(clients);
    drop(jobs);
    // Every worker must end once the queue is closed and empty.
    let deadline = Instant::now() + Duration::from_secs(3);
    for handle in &handles {
        while !handle.is_finished() {
            if Instant::now() > deadline {
                return Err(
                    "a worker still runs after the queue was closed and emptied".to_string()
                );
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Exercise 2: queue the connection or answer busy.

type HandOver = fn(TcpStream, &Sender<TcpStream>) -> bool;

fn check_hand_over(hand_over: HandOver) -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let (jobs, queue) = crossbeam_channel::bounded(1);

    let (first, server) = connected_pair(&listener).map_err(|e| e.to_string())?;
    if !hand_over(server, &jobs) {
        return Err("the queue had room, but the connection was refused".into());
    }
    if queue.len() != 1 {
        return Err("it returned true, but the connection is not in the queue".into());
    }

    // The queue is full now: the second must be refused, at once, with `busy`.
    let (second, server) = connected_pair(&listener).map_err(|e| e.to_string())?;
    let started = Instant::now();
    if hand_over(server, &jobs) {
        return Err("the queue was full, but it returned true".into());
    }
    // A try_send and a short write take microseconds; 450 ms is room for a loaded machine, and
    // still less than the half second a send_timeout(500 ms) always waits.
    if started.elapsed() > Duration::from_millis(450) {
        return Err(format!(
            "refusing took {:?}: did you wait a while for room (send_timeout)? The acceptor \
             must never wait: while it does, nobody is accepted",
            started.elapsed()
        ));
    }
    let mut reader = BufReader::new(&second);
    let mut line = String::new();
    let _ = reader.read_line(&mut line);
    if line != "busy: try again later\n" {
        return Err(format!(
            "the refused client got {line:?}, not \"busy: try again later\\n\""
        ));
    }
    let mut rest = Vec::new();
    match reader.read_to_end(&mut rest) {
        Ok(_) if rest.is_empty() => {}
        Ok(_) => return Err("the refused client got more than the busy line".into()),
        Err(_) => return Err("the refused connection was not closed".into()),
    }

    // The first is still queued and still open.
    let queued = queue
        .try_recv()
        .map_err(|_| "the first connection is lost")?;
    drop(first);
    drop(queued);

    // A queue of capacity zero hands each connection straight to a waiting worker: there is
    // never room to store one, yet a waiting worker takes it. Tried up to 40 times, 50 ms
    // apart, until the worker is surely waiting in recv().
    let (jobs, queue) = crossbeam_channel::bounded(0);
    let worker = thread::spawn(move || queue.recv_timeout(Duration::from_secs(4)).is_ok());
    let mut clients = Vec::new();
    let mut taken = false;
    for _ in 0..40 {
        let (client, server) = connected_pair(&listener).map_err(|e| e.to_string())?;
        clients.push(client);
        if hand_over(server, &jobs) {
            taken = true;
            break;
        }
        thread::sleep(Duration::from_millis(50));
    }
    if !taken || !worker.join().unwrap_or(false) {
        return Err(
            "with a zero-capacity queue and a worker waiting in recv(), every connection was \
             refused: did you ask is_full() before sending? With no room at all is_full() is \
             always true, yet a waiting worker takes the connection; and between is_full() and \
             send() another thread can fill the queue: ask and send in one step"
                .into(),
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Exercise 3: a reproducible generator per connection.

type ConnectionRng = fn(u64, u64) -> StdRng;

fn acks(connection_rng: ConnectionRng, seed: u64, connection: u64) -> Vec<u32> {
    let mut rng = connection_rng(seed, connection);
    (0..50).map(|_| rng.random_range(1..=1000)).collect()
}

fn check_connection_rng(connection_rng: ConnectionRng) -> Result<(), String> {
    let first = acks(connection_rng, 42, 1);
    // Built on another thread, later: the same numbers.
    let again = thread::spawn(move || acks(connection_rng, 42, 1))
        .join()
        .map_err(|_| "it panicked on another thread")?;
    if first != again {
        return Err("seed 42, connection 1, asked twice: different numbers".into());
    }
    if acks(connection_rng, 42, 2) == first {
        return Err("connections 1 and 2 got the same numbers".into());
    }
    if acks(connection_rng, 43, 1) == first {
        return Err("seeds 42 and 43 gave connection 1 the same numbers".into());
    }
    // Seed and connection must not be mixed in a way that makes two pairs collide: each pair
    // below collides under one way of mixing them.
    type Pair = (u64, u64);
    let pairs: [(Pair, Pair, &str); 6] = [
        ((1, 2), (2, 1), "did you add or xor them?"),
        (
            (0, 1000),
            (1, 0),
            "did you combine them with arithmetic such as seed * 1000 + connection?",
        ),
        (
            (256, 1),
            (0, 1),
            "did you keep only the low bytes of the seed?",
        ),
        (
            (1, 256),
            (1, 0),
            "did you keep only the low bytes of the connection number?",
        ),
        (
            (0, 1 << 32),
            (1, 0),
            "did you shift one into the other (seed << 32 | connection)?",
        ),
        ((1 << 32, 1), (0, 1), "did you truncate them to u32?"),
    ];
    for ((s1, c1), (s2, c2), explain) in pairs {
        if acks(connection_rng, s1, c1) == acks(connection_rng, s2, c2) {
            return Err(format!(
                "(seed {s1}, connection {c1}) and (seed {s2}, connection {c2}) got the same \
                 numbers: {explain} Every pair needs a seed of its own, and \
                 arithmetic on two numbers always lets some pairs meet"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Exercise 4: wake the thread blocked in accept.

type Wake = fn(SocketAddr) -> io::Result<()>;

/// A listener on `addr` like the server's (IPv6 ones IPv6-only, as on many systems), and an
/// acceptor like the server's: it looks at the flag each time accept() returns.
fn acceptor(addr: SocketAddr) -> Result<(SocketAddr, Arc<AtomicBool>, Receiver<()>), String> {
    let socket =
        Socket::new(Domain::for_address(addr), Type::STREAM, None).map_err(|e| e.to_string())?;
    if addr.is_ipv6() {
        socket.set_only_v6(true).map_err(|e| e.to_string())?;
    }
    socket
        .bind(&addr.into())
        .map_err(|e| format!("cannot listen on {addr} here: {e}"))?;
    socket.listen(16).map_err(|e| e.to_string())?;
    let listener: TcpListener = socket.into();
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    let stopping = Arc::new(AtomicBool::new(false));
    let (stop, (ended_tx, ended)) = (Arc::clone(&stopping), crossbeam_channel::bounded(1));
    thread::spawn(move || {
        loop {
            let _ = listener.accept();
            if stop.load(Ordering::SeqCst) {
                break;
            }
        }
        let _ = ended_tx.send(());
    });
    Ok((bound, stopping, ended))
}

fn check_wake(wake: Wake) -> Result<(), String> {
    let cases: [(&str, &str); 4] = [
        (
            "127.0.0.1:0",
            "accept() returns only when a connection arrives",
        ),
        (
            "0.0.0.0:0",
            "0.0.0.0 means every address: connect to 127.0.0.1",
        ),
        (
            "[::1]:0",
            "did you connect to 127.0.0.1 whatever the listening address? An IPv6 listener is \
             reached on its own address",
        ),
        (
            "[::]:0",
            "did you replace :: by 127.0.0.1? An IPv6-only listener on [::] is reached on ::1",
        ),
    ];
    for (addr, explain) in cases {
        let (bound, stopping, ended) = acceptor(addr.parse().unwrap())?;
        stopping.store(true, Ordering::SeqCst);
        let woke = wake(bound);
        // 2 s: a connect on loopback takes microseconds; the rest is room for a loaded machine.
        if ended.recv_timeout(Duration::from_secs(2)).is_err() {
            let said = match woke {
                Ok(()) => String::new(),
                Err(e) => format!(" (it returned the error {e})"),
            };
            return Err(format!(
                "listening on {bound}: the acceptor is still blocked in accept() 2 s later{said}: \
                 {explain}"
            ));
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Exercise 5: turn away the queued connections at shutdown.

type TurnAway = fn(&Receiver<TcpStream>) -> usize;

const EXERCISE_5: Exercise<TurnAway> = Exercise {
    number: 5,
    task: "turn away the queued connections at shutdown",
    hints: &[
        "every connection in the queue now gets the line and a close; and the queue may stay \
         open, so \"wait for the next one\" would wait for ever",
        "crossbeam's Receiver has a way to take what is there without waiting for more",
        "queue.try_iter().map(|s| { let _ = (&s).write_all(b\"busy: server shutting \
         down\\n\"); }).count()",
    ],
    bound: Duration::from_secs(10),
    hang: "did you wait for more connections on a queue that is still open?",
    check: check_turn_away,
    solution: solutions::turn_away_queued,
    mine: exercises::turn_away_queued,
    wrong: &[
        Wrong {
            does: "takes with iter(), which waits while a sender lives",
            answer: wrong::turn_away_waiting,
            rejected_with: "did you wait for more connections",
        },
        Wrong {
            does: "closes them without a word",
            answer: wrong::turn_away_silently,
            rejected_with: "closed without a word",
        },
        Wrong {
            does: "turns away the first one only",
            answer: wrong::turn_away_one,
            rejected_with: "every connection in the queue",
        },
        Wrong {
            does: "sends the busy line of a full queue",
            answer: wrong::turn_away_try_again,
            rejected_with: "a client told to try again",
        },
    ],
};

fn check_turn_away(turn_away: TurnAway) -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    // The acceptor's sender stays alive all along: the queue never closes.
    let (jobs, queue) = crossbeam_channel::bounded(8);
    let mut clients = Vec::new();
    for _ in 0..3 {
        let (client, server) = connected_pair(&listener).map_err(|e| e.to_string())?;
        jobs.send(server).map_err(|e| e.to_string())?;
        clients.push(client);
    }
    let done = test_support::exercise::spawn_checked(move || {
        let count = turn_away(&queue);
        (count, queue)
    });
    // A try_iter and three short writes take microseconds; 2 s is room for a loaded machine.
    let (count, queue) = match done.recv_timeout(Duration::from_secs(2)) {
        Ok(outcome) => outcome?,
        Err(_) => {
            return Err(
                "still running 2 s later, with three connections queued and the queue still \
                 open: did you wait for more connections (iter, recv) on a queue that is still \
                 open? Take what is there now"
                    .into(),
            );
        }
    };
    for (i, client) in clients.iter().enumerate() {
        let mut got = String::new();
        let _ = (&*client).read_to_string(&mut got);
        match got.as_str() {
            "busy: server shutting down\n" => {}
            "" if queue.is_empty() => {
                return Err(format!(
                    "client {} of 3 read the end of the stream and nothing else: closed without \
                     a word, it cannot tell a shutdown from a crash",
                    i + 1
                ));
            }
            "" => {
                return Err(format!(
                    "client {} of 3 got nothing and is still in the queue: every connection in \
                     the queue must be turned away",
                    i + 1
                ));
            }
            "busy: try again later\n" => {
                return Err(
                    "a client told to try again later, by a server that is going away: say \
                     `busy: server shutting down`"
                        .into(),
                );
            }
            other => {
                return Err(format!(
                    "client {} of 3 got {other:?}, not \"busy: server shutting down\\n\"",
                    i + 1
                ));
            }
        }
    }
    if count != 3 {
        return Err(format!(
            "it turned away 3 connections, but returned {count}"
        ));
    }
    drop(jobs);
    Ok(())
}

// ---------------------------------------------------------------------------------------------

/// Plausible wrong answers, each a mistake a learner could make. Every check must reject them.
mod wrong {
    use std::io;
    use std::net::{SocketAddr, TcpStream};
    use std::sync::Arc;
    use std::thread::{self, JoinHandle};
    use std::time::Duration;

    use crossbeam_channel::{Receiver, Sender};
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use std::io::Write;

    type Serve = Arc<dyn Fn(TcpStream) + Send + Sync>;

    /// A thread that does nothing and ends once `alive` closes, to fill a pool's count.
    fn idle_until_closed(alive: &Receiver<()>) -> JoinHandle<()> {
        let alive = alive.clone();
        thread::spawn(move || {
            let _ = alive.recv();
        })
    }

    /// The original Python server's idea: a new thread for every connection, no limit.
    pub fn thread_per_connection(
        count: usize,
        queue: Receiver<TcpStream>,
        serve: Serve,
    ) -> Vec<JoinHandle<()>> {
        // `alive` closes when the dispatcher ends.
        let (alive_tx, ender) = crossbeam_channel::bounded::<()>(0);
        let dispatcher = thread::spawn(move || {
            let _alive = alive_tx;
            for stream in queue {
                let serve = Arc::clone(&serve);
                thread::spawn(move || serve(stream));
            }
        });
        // Pretends to be a pool of the right size: threads that end with the dispatcher.
        let mut handles = vec![dispatcher];
        handles.extend((1..count).map(|_| idle_until_closed(&ender)));
        handles
    }

    /// One worker whatever the count: clients wait in line, as with lesson 02.
    pub fn one_worker(
        count: usize,
        queue: Receiver<TcpStream>,
        serve: Serve,
    ) -> Vec<JoinHandle<()>> {
        let (alive_tx, ender) = crossbeam_channel::bounded::<()>(0);
        let mut handles = vec![thread::spawn(move || {
            let _alive = alive_tx;
            queue.into_iter().for_each(|s| serve(s))
        })];
        handles.extend((1..count).map(|_| idle_until_closed(&ender)));
        handles
    }

    /// `count` threads, each running `work` with its own clone of the queue and of `serve`: a
    /// pool of the right size, whose workers differ in how they take from the queue.
    fn workers(
        count: usize,
        queue: &Receiver<TcpStream>,
        serve: &Serve,
        work: fn(Receiver<TcpStream>, Serve),
    ) -> Vec<JoinHandle<()>> {
        (0..count)
            .map(|_| {
                let (queue, serve) = (queue.clone(), Arc::clone(serve));
                thread::spawn(move || work(queue, serve))
            })
            .collect()
    }

    /// Polls the queue with a timeout and never notices that it is closed: the workers end
    /// only after their thousand polls, long after the queue is gone.
    pub fn workers_that_keep_polling(
        count: usize,
        queue: Receiver<TcpStream>,
        serve: Serve,
    ) -> Vec<JoinHandle<()>> {
        workers(count, &queue, &serve, |queue, serve| {
            for _ in 0..1000 {
                match queue.try_recv() {
                    Ok(stream) => serve(stream),
                    // Empty or closed, it cannot tell: wait and look again.
                    Err(_) => thread::sleep(Duration::from_millis(10)),
                }
            }
        })
    }

    /// Takes with try_iter: ends as soon as the queue is empty for a moment.
    pub fn workers_with_try_iter(
        count: usize,
        queue: Receiver<TcpStream>,
        serve: Serve,
    ) -> Vec<JoinHandle<()>> {
        workers(count, &queue, &serve, |queue, serve| {
            queue.try_iter().for_each(|s| serve(s))
        })
    }

    /// Takes with recv_timeout: ends after a second without work.
    pub fn workers_with_recv_timeout(
        count: usize,
        queue: Receiver<TcpStream>,
        serve: Serve,
    ) -> Vec<JoinHandle<()>> {
        workers(count, &queue, &serve, |queue, serve| {
            while let Ok(stream) = queue.recv_timeout(Duration::from_secs(1)) {
                serve(stream);
            }
        })
    }

    /// Waits up to half a second for room: the acceptor stalls under load.
    pub fn hand_over_after_half_a_second(stream: TcpStream, queue: &Sender<TcpStream>) -> bool {
        match queue.send_timeout(stream, Duration::from_millis(500)) {
            Ok(()) => true,
            Err(e) => {
                let _ = (&e.into_inner()).write_all(b"busy: try again later\n");
                false
            }
        }
    }

    /// Asks first, then sends: a race, and a zero-capacity queue refuses everyone.
    pub fn hand_over_if_not_full(stream: TcpStream, queue: &Sender<TcpStream>) -> bool {
        if queue.is_full() {
            let _ = (&stream).write_all(b"busy: try again later\n");
            return false;
        }
        queue.send(stream).is_ok()
    }

    pub fn rng_from_seed_times_1000(seed: u64, connection: u64) -> StdRng {
        StdRng::seed_from_u64(seed.wrapping_mul(1000).wrapping_add(connection))
    }

    pub fn rng_from_low_bytes(seed: u64, connection: u64) -> StdRng {
        let mut key = [0u8; 32];
        key[0] = seed as u8;
        key[1] = connection as u8;
        StdRng::from_seed(key)
    }

    pub fn rng_from_shift(seed: u64, connection: u64) -> StdRng {
        StdRng::seed_from_u64((seed << 32) | connection)
    }

    pub fn rng_from_u32s(seed: u64, connection: u64) -> StdRng {
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(&(seed as u32).to_le_bytes());
        key[4..8].copy_from_slice(&(connection as u32).to_le_bytes());
        StdRng::from_seed(key)
    }

    /// Connects to 127.0.0.1 on the listener's port, whatever the listening address.
    pub fn wake_via_127(listening: SocketAddr) -> io::Result<()> {
        let to = SocketAddr::from(([127, 0, 0, 1], listening.port()));
        TcpStream::connect_timeout(&to, Duration::from_secs(1)).map(drop)
    }

    /// Replaces any unspecified address, IPv6 too, by 127.0.0.1.
    pub fn wake_unspecified_as_127(listening: SocketAddr) -> io::Result<()> {
        let mut to = listening;
        if to.ip().is_unspecified() {
            to = SocketAddr::from(([127, 0, 0, 1], listening.port()));
        }
        TcpStream::connect_timeout(&to, Duration::from_secs(1)).map(drop)
    }

    /// iter() blocks while the acceptor's sender lives.
    pub fn turn_away_waiting(queue: &Receiver<TcpStream>) -> usize {
        queue
            .iter()
            .map(|s| {
                let _ = (&s).write_all(b"busy: server shutting down\n");
            })
            .count()
    }

    /// Closes them without a word.
    pub fn turn_away_silently(queue: &Receiver<TcpStream>) -> usize {
        queue.try_iter().count()
    }

    /// The first one only.
    pub fn turn_away_one(queue: &Receiver<TcpStream>) -> usize {
        match queue.try_recv() {
            Ok(s) => {
                let _ = (&s).write_all(b"busy: server shutting down\n");
                1
            }
            Err(_) => 0,
        }
    }

    /// The line for a full queue, which invites the client back to a server going away.
    pub fn turn_away_try_again(queue: &Receiver<TcpStream>) -> usize {
        queue
            .try_iter()
            .map(|s| {
                let _ = (&s).write_all(b"busy: try again later\n");
            })
            .count()
    }

    /// Waits for room in the queue: the acceptor freezes while the queue is full.
    pub fn hand_over_waiting(stream: TcpStream, queue: &Sender<TcpStream>) -> bool {
        queue.send(stream).is_ok()
    }

    /// Refuses without a word: the client cannot tell "busy" from a crash.
    pub fn hand_over_silently(stream: TcpStream, queue: &Sender<TcpStream>) -> bool {
        queue.try_send(stream).is_ok()
    }

    /// Fresh entropy for every connection: nothing is reproducible.
    pub fn rng_from_entropy(_seed: u64, _connection: u64) -> StdRng {
        rand::make_rng()
    }

    /// The seed alone: every connection gets the same numbers.
    pub fn rng_ignoring_connection(seed: u64, _connection: u64) -> StdRng {
        StdRng::seed_from_u64(seed)
    }

    /// Seed plus connection number: (1, 2) and (2, 1) collide.
    pub fn rng_from_sum(seed: u64, connection: u64) -> StdRng {
        StdRng::seed_from_u64(seed.wrapping_add(connection))
    }

    /// Trusts the flag alone: the acceptor sleeps on in accept() until a client comes.
    pub fn wake_by_flag_only(_listening: SocketAddr) -> io::Result<()> {
        Ok(())
    }
}
