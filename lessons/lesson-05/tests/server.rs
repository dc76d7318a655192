//! Black-box tests of lesson 05: the real binaries, real sockets on 127.0.0.1, port 0, and a
//! deadline on every wait. Lesson 05 speaks lesson 03's protocol exactly, so the checks of the
//! protocol are lesson 03's, shared in `test_support::acks`; the rest is what an event loop must
//! get right.

use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use test_support::acks::{ack, acks_of_one_connection, greeted, round_trip};
use test_support::cli::assert_one_sentence;
use test_support::observe;
use test_support::{Client, DEADLINE, Server, run_to_end};

const SERVER: &str = env!("CARGO_BIN_EXE_lesson-05");
const CLIENT: &str = env!("CARGO_BIN_EXE_lesson-05-client");

// The protocol (lesson 03's, exactly), shutdown, bad input, the command line: the checks lessons
// 03 and 05 share, one #[test] each (`ack_protocol::…`), on this lesson's binaries.
test_support::ack_protocol_tests! {
    server: SERVER,
    client: CLIENT,
    reset_logs: "reading failed",
    help_names: &["--max-connections", "--seed", "--idle-timeout", "--grace"],
}

// ---------------------------------------------------------------------------------------------
// The protocol: lesson 03's, exactly

/// Lesson 03's numbers for connection `number` under `--seed seed`, made the way its chapter
/// defines them: a ChaCha12 key of the seed's 8 bytes, the number's 8 bytes, then zeros.
fn lesson_03_acks(seed: u64, number: u64, count: usize) -> Vec<u32> {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&number.to_le_bytes());
    let mut rng = StdRng::from_seed(key);
    (0..count).map(|_| rng.random_range(1..=1000)).collect()
}

#[test]
fn a_seed_gives_the_same_acks_as_lesson_03() {
    let server = Server::start(SERVER, &["--seed", "42"]);
    assert_eq!(
        acks_of_one_connection(&server, 20),
        lesson_03_acks(42, 1, 20)
    );
    assert_eq!(
        acks_of_one_connection(&server, 20),
        lesson_03_acks(42, 2, 20)
    );
}

#[test]
fn a_line_over_64_kib_is_refused_and_logged_escaped() {
    let server = Server::start(SERVER, &[]);
    let mut client = greeted(&server);
    round_trip(&mut client, &"x".repeat(64 * 1024));
    // Starts with a terminal escape sequence: the log must show it as text.
    let mut long = b"\x1b[2J".to_vec();
    long.extend(vec![b'y'; 1024 * 1024]);
    long.push(b'\n');
    client.send(&long);
    client.expect_line("error: line too long");
    client.expect_close();
    assert!(server.wait_for_stderr("a line over 65536 bytes", DEADLINE));
    let stderr = server.stderr();
    assert!(stderr.contains(r"\x1b[2J"), "{stderr}");
    assert!(!stderr.contains('\x1b'), "{stderr:?}");
    round_trip(&mut greeted(&server), "next client");
}

#[test]
fn a_line_split_across_many_reads_gets_one_reply() {
    let server = Server::start(SERVER, &[]);
    let mut client = greeted(&server);
    client.stream().set_nodelay(true).unwrap();
    // Each byte its own packet, and so its own read: the server must keep the partial line.
    for byte in b"hel" {
        client.send([*byte]);
    }
    client.set_read_timeout(Duration::from_millis(300));
    let early = client.try_read_line();
    assert!(
        matches!(&early, Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut),
        "a reply before the newline: {early:?}"
    );
    client.set_read_timeout(DEADLINE);
    // A character split across two reads comes back whole (here: answered, not refused).
    client.send(b"\xc3");
    client.send(b"\xa9\n");
    ack(&client.read_line());
    round_trip(&mut client, "and the next");
}

// ---------------------------------------------------------------------------------------------
// One thread for everyone

#[test]
fn a_client_that_never_reads_does_not_slow_another() {
    let server = Server::start(SERVER, &[]);
    let mut hog = greeted(&server);
    hog.stream()
        .set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    // The hog sends lines and never reads a reply. Its replies fill the buffers, the server
    // stops reading it (backpressure), and then its own writes block: a write times out.
    let chunk = "x\n".repeat(32 * 1024);
    let mut sent = 0usize;
    let blocked = loop {
        match hog.try_send(&chunk) {
            Ok(()) => sent += chunk.len(),
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                break true;
            }
            Err(e) => panic!("the hog's write failed: {e}"),
        }
        if sent > 256 << 20 {
            break false;
        }
    };
    assert!(
        blocked,
        "the server took 256 MiB from a client that reads nothing"
    );
    // Meanwhile, another client is served at once, again and again.
    let mut other = greeted(&server);
    let started = Instant::now();
    for i in 0..100 {
        round_trip(&mut other, &format!("line {i}"));
    }
    println!("100 round trips beside the hog in {:?}", started.elapsed());
    drop(hog);
    round_trip(&mut other, "after the hog left");
}

#[test]
fn the_idle_timeout_is_a_total_bound_on_a_line() {
    let server = Server::start(SERVER, &["--idle-timeout", "1"]);
    let mut client = greeted(&server);
    client.stream().set_nodelay(true).unwrap();
    // A byte every 200 ms never completes a line. Per-read timeouts would never fire.
    let started = Instant::now();
    let mut closed = false;
    while started.elapsed() < DEADLINE {
        if client.try_send(b"z").is_err() {
            closed = true;
            break;
        }
        client.set_read_timeout(Duration::from_millis(200));
        match client.try_read_line() {
            Ok(Some(line)) => {
                assert_eq!(line, "error: idle timeout");
                closed = true;
                break;
            }
            Ok(None) => panic!("closed without `error: idle timeout`"),
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {}
            Err(e) => panic!("{e}"),
        }
    }
    let took = started.elapsed();
    assert!(
        closed,
        "a client sending a byte every 200 ms is still connected"
    );
    assert!(took < Duration::from_secs(4), "closed only after {took:?}");
    assert!(server.wait_for_stderr("no complete line for 1s; closed", DEADLINE));
}

#[test]
fn after_bye_a_client_that_never_closes_is_closed_after_the_linger() {
    let server = Server::start(SERVER, &[]);
    let mut client = greeted(&server);
    client.send_line("exit");
    client.expect_line("bye");
    // We neither close nor send: the server closes by itself, about a second after its FIN.
    let started = Instant::now();
    client.expect_close();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_client_that_never_reads_is_timed_out_all_the_same() {
    let server = Server::start(SERVER, &["--idle-timeout", "1"]);
    let hog = greeted(&server);
    // The check at the end looks for the client's socket in the kernel's table: make sure the
    // table shows it now, while it is surely established, so that its absence later means
    // something.
    #[cfg(target_os = "linux")]
    {
        let local = hog.stream().local_addr().unwrap();
        assert!(
            observe::tcp_sockets()
                .iter()
                .any(|s| std::net::SocketAddr::V4(s.local) == local && s.state == "ESTAB"),
            "the client's socket is not in /proc/net/tcp"
        );
    }
    hog.stream()
        .set_write_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut writer = hog.stream();
    let chunk = "x\n".repeat(32 * 1024);
    // Fill until the server stops reading; then nothing it does can complete a line.
    while writer.write_all(chunk.as_bytes()).is_ok() {}
    assert!(
        server.wait_for_stderr("no complete line for 1s; closed", DEADLINE),
        "stderr: {}",
        server.stderr()
    );
    // Its last word cannot be written (the client reads nothing): the server closes anyway,
    // after the linger. Closing with unread bytes sends a reset, and the client's socket leaves
    // ESTABLISHED without the client reading a byte.
    #[cfg(target_os = "linux")]
    {
        let local = match hog.stream().local_addr().unwrap() {
            std::net::SocketAddr::V4(v4) => v4,
            other => panic!("not IPv4: {other}"),
        };
        let still = |s: &observe::TcpSocket| s.local == local && s.state == "ESTAB";
        // (Whether the table shows the client's socket at all was checked before the flood,
        // while it was surely established: a reset may already have taken it out of the table.)
        let started = Instant::now();
        while observe::tcp_sockets().iter().any(still) {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the server still holds a client that reads nothing"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
    drop(hog);
}

#[test]
fn max_connections_turns_the_next_client_away_with_busy() {
    let server = Server::start(SERVER, &["--max-connections", "2"]);
    let mut first = greeted(&server);
    let _second = greeted(&server);
    let mut third = Client::connect(server.addr());
    third.expect_line("busy: try again later");
    third.expect_close();
    assert!(server.wait_for_stderr("busy: try again later", DEADLINE));
    first.send_line("exit");
    first.expect_line("bye");
    first.expect_close();
    // Its place is free again (the server may need a moment to see the close).
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mut next = Client::connect(server.addr());
        if next.read_line() == "Hello World!" {
            round_trip(&mut next, "my turn");
            break;
        }
        assert!(Instant::now() < deadline, "no place freed");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn two_thousand_idle_connections_are_served_by_one_thread() {
    let limit = observe::raise_descriptor_limit().unwrap_or(1024);
    let count = 2000.min(limit.saturating_sub(100) as usize);
    let server = Server::start(SERVER, &[]);
    let threads = observe::thread_count(server.pid()).expect("/proc/PID/task");
    let mut idle = Vec::new();
    for i in 0..count {
        let stream = TcpStream::connect_timeout(&server.addr(), DEADLINE)
            .unwrap_or_else(|e| panic!("connection {i} failed: {e}"));
        idle.push(stream);
    }
    // Every one is greeted.
    for (i, stream) in idle.iter().enumerate() {
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).unwrap();
        assert_eq!(line, "Hello World!\n", "connection {i}");
    }
    let mut active = greeted(&server);
    for i in 0..10 {
        round_trip(&mut active, &format!("among {count} idle, line {i}"));
    }
    let now = observe::thread_count(server.pid()).unwrap();
    // The event loop, ctrlc's signal thread, the log writer: the same before and after.
    assert_eq!(now, threads, "threads with {count} connections");
    assert_eq!(threads, 3, "threads");
    if let Some(rss) = observe::resident_memory(server.pid()) {
        println!(
            "{count} idle connections: resident memory {} KiB",
            rss / 1024
        );
    }
}

#[cfg(target_os = "linux")]
#[test]
fn running_out_of_descriptors_pauses_accepting_without_spinning() {
    // A hard limit of 40 descriptors: the server cannot raise it, and runs out at about 30
    // connections. The rest wait in the backlog.
    let mut command = Command::new("sh");
    command
        .arg("-c")
        .arg(format!("ulimit -n 40 && exec {SERVER} --addr 127.0.0.1:0"));
    let server = Server::start_command(command);
    let mut clients: Vec<TcpStream> = (0..60)
        .map(|_| TcpStream::connect_timeout(&server.addr(), DEADLINE).unwrap())
        .collect();
    assert!(
        server.wait_for_stderr("accept failed", DEADLINE),
        "stderr: {}",
        server.stderr()
    );
    let before = observe::cpu_time(server.pid()).unwrap();
    let started = Instant::now();
    thread::sleep(Duration::from_secs(1));
    let used = observe::cpu_time(server.pid()).unwrap() - before;
    assert!(
        used.as_secs_f64() < 0.3 * started.elapsed().as_secs_f64(),
        "{used:?} of CPU in {:?} while out of descriptors",
        started.elapsed()
    );
    // Room again: the connections that waited are greeted, including the last.
    clients.drain(..40);
    let last = clients.last().unwrap();
    last.set_read_timeout(Some(DEADLINE)).unwrap();
    let mut line = String::new();
    BufReader::new(last).read_line(&mut line).unwrap();
    assert_eq!(line, "Hello World!\n");
}

#[test]
fn a_log_reader_that_never_reads_does_not_stop_the_server() {
    // stderr is a pipe nobody reads: once its 64 KiB are full, a blocking write would hang.
    let mut child = Command::new(SERVER)
        .args(["--addr", "127.0.0.1:0", "--max-connections", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let _unread = child.stderr.take();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .parse()
        .unwrap();
    let mut kept = Client::connect(addr);
    kept.expect_line("Hello World!");
    // Each refusal logs a line of about 60 bytes: 3,000 of them are three times the pipe.
    for _ in 0..3000 {
        let mut refused = Client::connect(addr);
        refused.expect_line("busy: try again later");
    }
    round_trip(&mut kept, "still served");
    let _ = child.kill();
    let _ = child.wait();
}

// ---------------------------------------------------------------------------------------------
// Graceful shutdown

#[test]
fn a_second_signal_cuts_the_grace_short() {
    let server = Server::start(SERVER, &["--grace", "60"]);
    let _client = greeted(&server);
    server.signal("TERM");
    server.expect_line_containing("shutting down", DEADLINE);
    server.signal("INT");
    // stderr is read by a thread of its own, which may lag behind the exit: wait for the line.
    assert!(
        server.wait_for_stderr("second signal", DEADLINE),
        "{}",
        server.stderr()
    );
    let done = server.finish(DEADLINE);
    assert_eq!(done.code(), Some(0), "stderr: {}", done.stderr);
    assert!(done.stdout.contains("summary: connections served 1"));
}

// ---------------------------------------------------------------------------------------------
// Command line and client

#[test]
fn bad_option_values_are_usage_errors() {
    for bad in [
        ["--max-connections", "0"],
        ["--idle-timeout", "0"],
        ["--grace", "soon"],
    ] {
        let mut command = Command::new(SERVER);
        command.args(bad);
        let out = run_to_end(command, b"", DEADLINE);
        assert_eq!(out.code(), Some(2), "{bad:?}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

#[test]
fn the_client_reports_a_busy_server() {
    let server = Server::start(SERVER, &["--max-connections", "1"]);
    let _served = greeted(&server);
    let mut command = Command::new(CLIENT);
    command.arg("--addr").arg(server.addr().to_string());
    let out = run_to_end(command, b"hi\n", DEADLINE);
    assert_eq!(out.code(), Some(1));
    assert_one_sentence(&out.stderr);
    assert!(out.stderr.contains("busy"), "{}", out.stderr);
}

/// A greeting and a round trip beside the flood must take less than this. Served fairly, each
/// takes a turn or two of the loop, and one turn of the flooding client (its read budget) is a
/// few milliseconds: 0.1 to 0.3 s in all here, in a debug build, with two busy processes beside
/// it. One second leaves room for a loaded two-core machine. A loop that serves the flood to the
/// end made the other client wait the whole 3 s flood and more (7 s here).
const BESIDE_THE_FLOOD: Duration = Duration::from_secs(1);

#[test]
fn a_client_that_sends_as_fast_as_it_reads_does_not_freeze_the_loop() {
    let server = Server::start(SERVER, &[]);
    let mut flood = greeted(&server);
    // One thread reads every reply, so the server's writes never block and backpressure never
    // starts; this thread sends lines for 3 s, as fast as the server takes them.
    let mut replies = flood.stream().try_clone().unwrap();
    replies.set_read_timeout(Some(DEADLINE)).unwrap();
    let (flowing, started_flowing) = std::sync::mpsc::channel();
    let reader = thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0usize;
        // Until the server closes (after the flood's end of stream) or a read fails.
        while let Ok(n @ 1..) = std::io::Read::read(&mut replies, &mut buf) {
            total += n;
            if total > 1 << 20 {
                let _ = flowing.send(());
            }
        }
        total
    });
    let chunk = "x\n".repeat(32 * 1024);
    let flood_for = Duration::from_secs(3);
    let sender = thread::spawn(move || {
        let started = Instant::now();
        while started.elapsed() < flood_for {
            flood.send(&chunk);
        }
        flood.stream().shutdown(std::net::Shutdown::Write).unwrap();
        flood
    });
    // The other client connects once the flood is in full swing: 1 MiB of replies read.
    started_flowing
        .recv_timeout(DEADLINE)
        .expect("the flooding client got no replies");
    let mut other = Client::connect(server.addr());
    let connected = Instant::now();
    other.expect_line("Hello World!");
    let greeted_after = connected.elapsed();
    round_trip(&mut other, "beside the flood");
    let served_after = connected.elapsed();
    println!(
        "beside the flood: greeting after {greeted_after:?}, a round trip after {served_after:?}"
    );
    let flood = sender.join().unwrap();
    let received = reader.join().unwrap();
    drop(flood);
    assert!(received > 0, "the flooding client got no replies");
    assert!(
        served_after < BESIDE_THE_FLOOD,
        "beside a client that sends as fast as it reads, another waited {served_after:?} \
         for its greeting and one reply (greeting after {greeted_after:?})"
    );
}
