//! The checks for lesson 03's exercises, each written once and run three ways:
//!
//! - on our solution (`src/solutions.rs`): it must pass;
//! - on deliberately wrong answers (the `wrong` module below): it must fail;
//! - on your stub (`src/exercises.rs`): `cargo test -p lesson-03 -- --ignored` runs these.

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
use test_support::exercise::{Exercise, assert_fails, report, run_bounded};

const EXERCISE_1: Exercise = Exercise {
    number: 1,
    task: "start a fixed pool of workers",
    hint: "spawn exactly `count` threads; give each a clone of the Receiver and of `serve`, \
           and loop `for stream in queue` (it ends when the senders are gone)",
};
const EXERCISE_2: Exercise = Exercise {
    number: 2,
    task: "queue the connection or answer busy",
    hint: "send() waits for room and freezes the acceptor; try_send() returns at once and \
           gives the stream back in TrySendError::Full",
};
const EXERCISE_3: Exercise = Exercise {
    number: 3,
    task: "a reproducible generator per connection",
    hint: "build StdRng::from_seed from a 32-byte array holding both the seed and the \
           connection number (to_le_bytes), never from entropy",
};
const EXERCISE_4: Exercise = Exercise {
    number: 4,
    task: "wake the thread blocked in accept",
    hint: "accept() returns only when a connection arrives: connect to the listening \
           address yourself (with 127.0.0.1 in place of 0.0.0.0)",
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

fn exercise_1_with(start: StartWorkers) -> Result<(), String> {
    run_bounded(Duration::from_secs(20), move || check_start_workers(start))
}

#[test]
fn exercise_1_check_passes_the_solution() {
    report(
        &EXERCISE_1,
        exercise_1_with(|n, queue, serve| solutions::start_workers(n, queue, move |s| serve(s))),
    );
}

#[test]
fn exercise_1_check_fails_wrong_answers() {
    assert_fails(&EXERCISE_1, exercise_1_with(wrong::thread_per_connection));
    assert_fails(&EXERCISE_1, exercise_1_with(wrong::one_worker));
    assert_fails(
        &EXERCISE_1,
        exercise_1_with(wrong::workers_that_keep_polling),
    );
}

#[test]
#[ignore = "exercise 1: start a fixed pool of workers"]
fn exercise_1() {
    report(
        &EXERCISE_1,
        exercise_1_with(|n, queue, serve| exercises::start_workers(n, queue, move |s| serve(s))),
    );
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
    if started.elapsed() > Duration::from_secs(1) {
        return Err("refusing took over a second: did it wait for room?".into());
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
    Ok(())
}

fn exercise_2_with(hand_over: HandOver) -> Result<(), String> {
    // A hand_over that waits for room would wait for ever: the bound turns that into a failure.
    run_bounded(Duration::from_secs(3), move || check_hand_over(hand_over))
}

#[test]
fn exercise_2_check_passes_the_solution() {
    report(&EXERCISE_2, exercise_2_with(solutions::hand_over));
}

#[test]
fn exercise_2_check_fails_wrong_answers() {
    assert_fails(&EXERCISE_2, exercise_2_with(wrong::hand_over_waiting));
    assert_fails(&EXERCISE_2, exercise_2_with(wrong::hand_over_silently));
}

#[test]
#[ignore = "exercise 2: queue the connection or answer busy"]
fn exercise_2() {
    report(&EXERCISE_2, exercise_2_with(exercises::hand_over));
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
    // Seed and connection must not be mixed up in a way that makes two pairs collide.
    if acks(connection_rng, 1, 2) == acks(connection_rng, 2, 1) {
        return Err(
            "(seed 1, connection 2) and (seed 2, connection 1) got the same numbers".into(),
        );
    }
    Ok(())
}

fn exercise_3_with(connection_rng: ConnectionRng) -> Result<(), String> {
    run_bounded(Duration::from_secs(10), move || {
        check_connection_rng(connection_rng)
    })
}

#[test]
fn exercise_3_check_passes_the_solution() {
    report(&EXERCISE_3, exercise_3_with(solutions::connection_rng));
}

#[test]
fn exercise_3_check_fails_wrong_answers() {
    assert_fails(&EXERCISE_3, exercise_3_with(wrong::rng_from_entropy));
    assert_fails(&EXERCISE_3, exercise_3_with(wrong::rng_ignoring_connection));
    assert_fails(&EXERCISE_3, exercise_3_with(wrong::rng_from_sum));
}

#[test]
#[ignore = "exercise 3: a reproducible generator per connection"]
fn exercise_3() {
    report(&EXERCISE_3, exercise_3_with(exercises::connection_rng));
}

// ---------------------------------------------------------------------------------------------
// Exercise 4: wake the thread blocked in accept.

type Wake = fn(SocketAddr) -> io::Result<()>;

fn check_wake(wake: Wake) -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let stopping = Arc::new(AtomicBool::new(false));
    let (stop, (ended_tx, ended)) = (Arc::clone(&stopping), crossbeam_channel::bounded(1));
    // An acceptor like the server's: it looks at the flag each time accept() returns.
    thread::spawn(move || {
        loop {
            let _ = listener.accept();
            if stop.load(Ordering::SeqCst) {
                break;
            }
        }
        let _ = ended_tx.send(());
    });

    stopping.store(true, Ordering::SeqCst);
    wake(addr).map_err(|e| format!("it returned an error: {e}"))?;
    ended
        .recv_timeout(Duration::from_secs(2))
        .map_err(|_| "the acceptor is still blocked in accept() two seconds later".to_string())
}

fn exercise_4_with(wake: Wake) -> Result<(), String> {
    run_bounded(Duration::from_secs(10), move || check_wake(wake))
}

#[test]
fn exercise_4_check_passes_the_solution() {
    report(&EXERCISE_4, exercise_4_with(solutions::wake_acceptor));
}

#[test]
fn exercise_4_check_fails_wrong_answers() {
    assert_fails(&EXERCISE_4, exercise_4_with(wrong::wake_by_flag_only));
}

#[test]
#[ignore = "exercise 4: wake the thread blocked in accept"]
fn exercise_4() {
    report(&EXERCISE_4, exercise_4_with(exercises::wake_acceptor));
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

    type Serve = Arc<dyn Fn(TcpStream) + Send + Sync>;

    /// The original Python server's idea: a new thread for every connection, no limit.
    pub fn thread_per_connection(
        count: usize,
        queue: Receiver<TcpStream>,
        serve: Serve,
    ) -> Vec<JoinHandle<()>> {
        let dispatcher = thread::spawn(move || {
            for stream in queue {
                let serve = Arc::clone(&serve);
                thread::spawn(move || serve(stream));
            }
        });
        // Pretends to be a pool of the right size.
        let mut handles = vec![dispatcher];
        handles.extend((1..count).map(|_| thread::spawn(|| {})));
        handles
    }

    /// One worker whatever the count: clients wait in line, as with lesson 02.
    pub fn one_worker(
        count: usize,
        queue: Receiver<TcpStream>,
        serve: Serve,
    ) -> Vec<JoinHandle<()>> {
        let mut handles = vec![thread::spawn(move || {
            queue.into_iter().for_each(|s| serve(s))
        })];
        handles.extend((1..count).map(|_| thread::spawn(|| {})));
        handles
    }

    /// Polls the queue with a timeout and never notices that it is closed: the workers end
    /// only after their thousand polls, long after the queue is gone.
    pub fn workers_that_keep_polling(
        count: usize,
        queue: Receiver<TcpStream>,
        serve: Serve,
    ) -> Vec<JoinHandle<()>> {
        (0..count)
            .map(|_| {
                let (queue, serve) = (queue.clone(), Arc::clone(&serve));
                thread::spawn(move || {
                    for _ in 0..1000 {
                        match queue.try_recv() {
                            Ok(stream) => serve(stream),
                            // Empty or closed, it cannot tell: wait and look again.
                            Err(_) => thread::sleep(Duration::from_millis(10)),
                        }
                    }
                })
            })
            .collect()
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
