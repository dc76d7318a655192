//! What goes wrong in the original `server.py` (`tests/originals/`), shown by running it as it
//! is on a free port (`test_support::originals`). Each test demonstrates one failure and prints
//! what it observed, in a line starting with `observed:`; the chapter quotes those lines. They
//! need python3, so they are ignored by plain `cargo test`; `cargo test -p lesson-02 --test
//! original -- --ignored` runs them, and fails them, saying why, where python3 is missing.
//!
//! server.py's protocol has no framing: it greets with `连接成功!` ("connected!") with no
//! newline, and answers each recv(1024) with `第N条信息:` ("message N:") and the bytes received,
//! again with no newline.

use std::io::Read;
use std::net::TcpStream;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use test_support::client::is_timeout;
use test_support::observe::{cpu_time, tcp_sockets, wait_for_tcp_socket};
use test_support::{Client, DEADLINE, Server, originals, run_to_end};

const SERVER: &str = env!("CARGO_BIN_EXE_lesson-02");

/// The original's greeting: "connected!" in Chinese, 13 bytes of UTF-8, no newline.
const GREETING: &str = "连接成功!";

/// The original's reply to its N-th recv.
fn reply(n: u32, text: &str) -> String {
    format!("第{n}条信息:{text}")
}

/// Starts the original server.py, or fails the test, saying why it cannot run.
fn original() -> Server {
    originals::required(originals::start_server("server.py"))
}

/// Reads exactly `expected.len()` bytes (the original sends no newline to wait for) and checks
/// them.
fn expect_bytes(stream: &TcpStream, expected: &str) {
    let mut got = vec![0u8; expected.len()];
    (&*stream)
        .read_exact(&mut got)
        .unwrap_or_else(|e| panic!("expected {expected:?}, the read failed: {e}"));
    assert_eq!(String::from_utf8_lossy(&got), expected);
}

/// A client connected to `server`, past the greeting. The `Client`'s line reading is not used:
/// the original sends no newlines.
fn greeted(server: &Server) -> Client {
    let conn = Client::connect(server.addr());
    expect_bytes(conn.stream(), GREETING);
    conn
}

/// Waits for the server to die, and returns the last line of its traceback.
fn expect_death(server: &mut Server) -> String {
    let status = server.wait_exit(DEADLINE);
    let status = status.unwrap_or_else(|| {
        panic!(
            "server.py should have died; stderr so far: {}",
            server.stderr()
        )
    });
    assert!(!status.success(), "server.py exited with {status}");
    let stderr = server.stderr();
    let last = stderr.trim_end().lines().last().unwrap_or("").to_string();
    format!("server.py exited with {status}: {last}")
}

/// Nobody listens any more: the next client is refused.
fn expect_refused(server: &Server) {
    match Client::try_connect(server.addr()) {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
        Err(e) => panic!("expected the next client to be refused, got {e}"),
        Ok(_) => panic!("expected the next client to be refused, but it connected"),
    }
}

// ANCHOR: vanish
#[test]
#[ignore = "needs python3"]
fn the_original_dies_when_a_client_vanishes() {
    let mut server = original();
    let conn = greeted(&server);
    // The client leaves without saying `exit`: its FIN reaches the server as end of stream.
    drop(conn);
    // server.py's recv returns b"", which it answers like a message; that send meets a closed
    // connection, the client's kernel answers RST, and the next send or recv raises.
    let death = expect_death(&mut server);
    assert!(
        death.contains("BrokenPipeError") || death.contains("ConnectionResetError"),
        "{death}"
    );
    println!("observed: a client left without `exit`: {death}");
    expect_refused(&server);
}
// ANCHOR_END: vanish

#[test]
#[ignore = "needs python3"]
fn the_original_dies_when_a_client_resets() {
    let mut server = original();
    let conn = greeted(&server);
    conn.reset();
    let death = expect_death(&mut server);
    assert!(death.contains("ConnectionResetError"), "{death}");
    println!("observed: a client reset the connection: {death}");
    expect_refused(&server);
}

// ANCHOR: half_close
#[test]
#[ignore = "needs python3"]
fn the_original_spins_on_a_half_close() {
    let server = original();
    let mut conn = greeted(&server);
    conn.stream().set_nodelay(true).unwrap();
    conn.send("hi");
    expect_bytes(conn.stream(), &reply(1, "hi"));
    // The client is done sending, but still reads: shutdown(Write) sends FIN.
    conn.shutdown_write();

    // From now on every recv in server.py returns b"" at once, and it answers each one.
    let window = Duration::from_secs(1);
    let (replies, cpu, wall) = watch(&server, conn.stream(), window);
    let share = cpu.as_secs_f64() / wall.as_secs_f64();
    println!(
        "observed: after one message and a half-close, server.py sent {replies} replies and \
         used {} ms of CPU in {} ms ({:.0}% of a core)",
        cpu.as_millis(),
        wall.as_millis(),
        share * 100.0
    );
    assert!(replies > 100, "only {replies} replies to the half-close");
    // A program waiting for input uses no CPU at all; this one burns a core (often all of it,
    // less when the machine is busy with other work).
    assert!(
        share > 0.1,
        "server.py used only {:.0}% of a core",
        share * 100.0
    );

    // The same client against lesson 02: replies to what it sent, then end of stream.
    let ours = Server::start(SERVER, &[]);
    let mut conn = Client::connect(ours.addr());
    conn.expect_line("Connected!");
    conn.send_line("hi");
    conn.expect_line("message 1: hi");
    conn.shutdown_write();
    let (bytes, cpu, wall) = watch(&ours, conn.stream(), window);
    assert_eq!(
        bytes, 0,
        "lesson 02 sends nothing after the half-close, and closes"
    );
    println!(
        "observed: lesson-02 in the same situation closed the connection and used {} ms of \
         CPU in {} ms",
        cpu.as_millis(),
        wall.as_millis()
    );
}
// ANCHOR_END: half_close

/// For `window`, reads all that arrives on `stream` and returns how many of the original's
/// replies came (or, for lesson 02, how many bytes), with the server's CPU time and the wall
/// time measured over the same span.
fn watch(server: &Server, stream: &TcpStream, window: Duration) -> (usize, Duration, Duration) {
    let start = Instant::now();
    let cpu_before = cpu_time(server.pid()).expect("/proc/PID/stat is readable");
    let mut received = Vec::new();
    let mut buf = [0u8; 65536];
    while start.elapsed() < window {
        let left = window
            .saturating_sub(start.elapsed())
            .max(Duration::from_millis(1));
        stream.set_read_timeout(Some(left)).unwrap();
        match (&*stream).read(&mut buf) {
            Ok(0) => {
                // Closed: nothing more will come. Wait out the window for the CPU measure.
                thread::sleep(window.saturating_sub(start.elapsed()));
                break;
            }
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if is_timeout(&e) => {}
            Err(e) => panic!("reading failed: {e}"),
        }
    }
    let cpu = cpu_time(server.pid()).expect("/proc/PID/stat is readable") - cpu_before;
    let wall = start.elapsed();
    let marker = "条信息:";
    let replies = String::from_utf8_lossy(&received).matches(marker).count();
    let count = if replies > 0 { replies } else { received.len() };
    (count, cpu, wall)
}

#[test]
#[ignore = "needs python3"]
fn the_original_crashes_on_bytes_that_are_not_utf8() {
    let mut server = original();
    let mut conn = greeted(&server);
    conn.send(b"\xff\xfe");
    let death = expect_death(&mut server);
    assert!(death.contains("UnicodeDecodeError"), "{death}");
    println!("observed: two bytes that are not UTF-8: {death}");
    expect_refused(&server);
}

// ANCHOR: split_utf8
#[test]
#[ignore = "needs python3"]
fn the_original_crashes_on_a_character_split_across_packets() {
    let mut server = original();
    let mut conn = greeted(&server);
    // "café" is 63 61 66 C3 A9: the é takes two bytes. Here the first packet ends after C3, as
    // it can when a long message is cut into segments; the A9 would come in the next one.
    conn.send(b"caf\xc3");
    let death = expect_death(&mut server);
    assert!(death.contains("UnicodeDecodeError"), "{death}");
    println!("observed: \"café\" cut inside the é: {death}");
}
// ANCHOR_END: split_utf8

// ANCHOR: glued
#[test]
#[ignore = "needs python3"]
fn the_original_misses_exit_glued_to_a_message_and_answers_out_of_step() {
    let server = original();
    // A first client keeps server.py busy, so that the second one waits in the backlog.
    let mut first = greeted(&server);
    let mut second = Client::connect(server.addr());
    second.stream().set_nodelay(true).unwrap();
    // Two sends, two packets: "hello", then "exit". Both wait in the second connection's
    // receive buffer, because nobody reads it yet.
    second.send("hello");
    second.send("exit");
    let port = second.stream().local_addr().unwrap().port();
    let queued = wait_for_tcp_socket(DEADLINE, |s| s.remote.port() == port && s.rx_queue == 9);
    assert!(queued.is_some(), "the 9 bytes should be waiting, unread");
    first.send("exit");

    // server.py accepts the second client, and one recv(1024) returns all 9 bytes.
    expect_bytes(second.stream(), GREETING);
    expect_bytes(second.stream(), &reply(1, "helloexit"));
    // `exit` was not recognised: the server still waits for this client.
    second.set_read_timeout(Duration::from_millis(300));
    let mut buf = [0u8; 64];
    match second.stream().read(&mut buf) {
        Err(e) if is_timeout(&e) => {}
        other => panic!("expected server.py to be still waiting, got {other:?}"),
    }
    println!(
        "observed: \"hello\" and \"exit\" sent as two packets came out of one recv: \
         server.py answered {:?} and did not exit",
        reply(1, "helloexit")
    );

    // And one message split in two packets gets two answers.
    second.set_read_timeout(DEADLINE);
    second.send("hel");
    expect_bytes(second.stream(), &reply(2, "hel"));
    second.send("lo");
    expect_bytes(second.stream(), &reply(3, "lo"));
    println!(
        "observed: \"hello\" sent as \"hel\" then \"lo\": server.py answered {:?} and {:?}",
        reply(2, "hel"),
        reply(3, "lo")
    );
}
// ANCHOR_END: glued

// ANCHOR: time_wait
#[test]
#[ignore = "needs python3"]
fn the_original_cannot_restart_while_a_connection_is_in_time_wait() {
    let server = original();
    let port = server.addr().port();
    let mut conn = greeted(&server);
    // On `exit`, server.py closes the connection first: its side will go through TIME_WAIT.
    conn.send("exit");
    conn.expect_close();
    drop(conn);
    let time_wait = wait_for_tcp_socket(DEADLINE, |s| {
        s.local.port() == port && s.state == "TIME-WAIT"
    });
    assert!(
        time_wait.is_some(),
        "server.py's side should be in TIME-WAIT"
    );
    drop(server); // stopped, as one stops a server to restart it

    // Restart: server.py's own first two calls, socket() and bind() to the same address.
    let bind = |reuse: bool| {
        let option = if reuse {
            "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
        } else {
            ""
        };
        let program = format!(
            "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_STREAM); \
             {option}s.bind(('127.0.0.1', {port})); print('bound')"
        );
        let mut python = Command::new("python3");
        python.arg("-c").arg(program);
        let out = run_to_end(python, b"", DEADLINE);
        // The bind must fail; Python's error is the last line of its traceback.
        assert_ne!(out.code(), Some(0), "the bind should fail");
        let error = out
            .stderr
            .trim_end()
            .lines()
            .last()
            .unwrap_or("")
            .to_string();
        assert!(error.contains("Address already in use"), "{error}");
        error
    };
    let error = bind(false);
    println!("observed: restarting server.py within a minute: bind failed: {error}");

    // Even a new server that sets SO_REUSEADDR cannot bind: on Linux the connection in
    // TIME_WAIT must come from a socket that had SO_REUSEADDR too, and server.py's did not.
    let error = bind(true);
    println!("observed: the same bind with SO_REUSEADDR set, after server.py: {error}");
}
// ANCHOR_END: time_wait

// ANCHOR: backlog
#[test]
#[ignore = "needs python3"]
fn the_original_leaves_a_burst_past_its_listen_backlog_waiting() {
    let server = original();
    let port = server.addr().port();
    // One client keeps server.py busy: it calls accept() again only when this one leaves.
    let _first = greeted(&server);

    // A burst of 20 more clients, each a non-blocking connect, one after the other.
    const BURST: usize = 20;
    let target = socket2::SockAddr::from(server.addr());
    let burst: Vec<socket2::Socket> = (0..BURST)
        .map(|_| {
            let socket =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            socket.set_nonblocking(true).unwrap();
            match socket.connect(&target) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(EINPROGRESS) => {}
                Err(e) => panic!("connect failed at once: {e}"),
            }
            socket
        })
        .collect();

    // listen(5): the kernel keeps at most 5 + 1 finished connections waiting for accept(), and
    // drops the SYN of every client past that. Those clients are not refused: they wait in
    // SYN-SENT, and their kernel sends the SYN again after 1 s, 3 s, 7 s …
    let deadline = Instant::now() + DEADLINE;
    let (queued, waiting) = loop {
        let sockets = tcp_sockets();
        let queued = sockets
            .iter()
            .find(|s| s.local.port() == port && s.state == "LISTEN")
            .map_or(0, |s| s.rx_queue);
        let waiting = sockets
            .iter()
            .filter(|s| s.remote.port() == port && s.state == "SYN-SENT")
            .count();
        if (queued == 6 && waiting == BURST - 6) || Instant::now() >= deadline {
            break (queued, waiting);
        }
        // Polling the kernel's table for a state change; not synchronisation by sleeping.
        thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(queued, 6, "connections waiting in server.py's accept queue");
    assert_eq!(
        waiting,
        BURST - 6,
        "clients whose SYN was dropped, still in SYN-SENT"
    );
    println!(
        "observed: {BURST} clients at once while server.py served one: {queued} wait in its \
         accept queue (listen(5) admits 5 + 1), the other {waiting} are still in SYN-SENT, \
         their SYN dropped"
    );
    drop(burst);
}
// ANCHOR_END: backlog

/// EINPROGRESS on Linux: a non-blocking connect has started and not finished yet.
const EINPROGRESS: i32 = 115;
