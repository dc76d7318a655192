//! Black-box tests of lesson 03: the real binaries, real sockets on 127.0.0.1, port 0, and a
//! deadline on every wait.

use std::collections::HashSet;
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use test_support::cli::{self, assert_failed_with};
use test_support::{Client, DEADLINE, Server, run_to_end};

const SERVER: &str = env!("CARGO_BIN_EXE_lesson-03");
const CLIENT: &str = env!("CARGO_BIN_EXE_lesson-03-client");

/// The number in an `R:ACK!` reply; panics on any other line.
fn ack(line: &str) -> u32 {
    let number = line
        .strip_suffix(":ACK!")
        .unwrap_or_else(|| panic!("expected R:ACK!, got {line:?}"));
    number
        .parse()
        .unwrap_or_else(|_| panic!("expected a number before :ACK!, got {line:?}"))
}

/// Connects and reads the greeting.
fn greeted(server: &Server) -> Client {
    let mut client = Client::connect(server.addr());
    client.expect_line("Hello World!");
    client
}

/// Sends a line and returns the number of its ACK.
fn round_trip(client: &mut Client, line: &str) -> u32 {
    client.send_line(line);
    ack(&client.read_line())
}

/// The ACK numbers of the first `count` lines of a fresh connection.
fn acks_of_one_connection(server: &Server, count: usize) -> Vec<u32> {
    let mut client = greeted(server);
    let acks = (0..count).map(|i| round_trip(&mut client, &format!("line {i}")));
    let acks = acks.collect();
    client.send_line("exit");
    client.expect_line("bye");
    acks
}

/// How many threads the process has: one entry per thread in /proc/PID/task.
#[cfg(target_os = "linux")]
fn thread_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("/proc/PID/task is readable")
        .count()
}

/// Waits (polling, at most [`DEADLINE`]) until the server has started `expected` threads.
#[cfg(target_os = "linux")]
fn wait_for_threads(pid: u32, expected: usize) {
    let deadline = std::time::Instant::now() + DEADLINE;
    while thread_count(pid) != expected {
        assert!(
            std::time::Instant::now() < deadline,
            "the server has {} threads, not {expected}",
            thread_count(pid)
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------------------------
// The protocol

#[test]
fn greets_acks_every_line_and_says_bye() {
    let server = Server::start(SERVER, &[]);
    let mut client = greeted(&server);
    for line in ["hello", "", "a longer line with spaces"] {
        let n = round_trip(&mut client, line);
        assert!((1..=1000).contains(&n), "ACK {n} out of range");
    }
    // \r\n is a line ending too.
    client.send("windows\r\n");
    ack(&client.read_line());
    client.send_line("exit");
    client.expect_line("bye");
    client.expect_close();
}

#[test]
fn two_clients_are_served_at_the_same_time() {
    let server = Server::start(SERVER, &["--workers", "2"]);
    let mut first = greeted(&server);
    let mut second = greeted(&server);
    // Replies alternate between the two while both stay connected: neither waits for the other
    // to leave, as it would with lesson 02.
    for i in 0..5 {
        round_trip(&mut first, &format!("first {i}"));
        round_trip(&mut second, &format!("second {i}"));
    }
    first.send_line("exit");
    first.expect_line("bye");
    round_trip(&mut second, "still here");
}

#[test]
fn a_fifth_client_is_told_busy_when_workers_and_queue_are_full() {
    let server = Server::start(SERVER, &["--workers", "2", "--queue", "2"]);
    // Two clients are greeted: both workers are now in a conversation.
    let mut served: Vec<Client> = (0..2).map(|_| greeted(&server)).collect();
    // Two more are accepted and wait in the queue: no worker is free to greet them.
    let mut queued: Vec<Client> = (0..2).map(|_| Client::connect(server.addr())).collect();
    // The acceptor takes connections in the order they arrived, so by the time it accepts
    // the fifth, the third and fourth fill the queue.
    let mut fifth = Client::connect(server.addr());
    fifth.expect_line("busy: try again later");
    fifth.expect_close();
    assert!(server.wait_for_stderr("busy: try again later", DEADLINE));

    // Nobody waits forever: when the served clients leave, the queued ones are greeted.
    for (client, waiting) in served.iter_mut().zip(queued.iter_mut()) {
        client.send_line("exit");
        client.expect_line("bye");
        waiting.expect_line("Hello World!");
        round_trip(waiting, "my turn");
    }
}

#[test]
fn acks_are_in_range_and_vary() {
    let server = Server::start(SERVER, &[]);
    let acks = acks_of_one_connection(&server, 200);
    assert!(acks.iter().all(|n| (1..=1000).contains(n)), "{acks:?}");
    let distinct: HashSet<_> = acks.iter().collect();
    // 200 draws from 1000 values give about 181 distinct ones; 100 leaves a wide margin.
    assert!(
        distinct.len() > 100,
        "only {} distinct ACKs in 200",
        distinct.len()
    );
}

#[test]
fn the_same_seed_gives_the_same_acks() {
    let run = |seed: &str| {
        let server = Server::start(SERVER, &["--seed", seed]);
        let first = acks_of_one_connection(&server, 20);
        let second = acks_of_one_connection(&server, 20);
        (first, second)
    };
    let (first, second) = run("42");
    let (again_first, again_second) = run("42");
    assert_eq!(first, again_first, "connection 1, seed 42, two runs");
    assert_eq!(second, again_second, "connection 2, seed 42, two runs");
    assert_ne!(
        first, second,
        "connections 1 and 2 of one run got the same ACKs"
    );
    let (other_first, _) = run("43");
    assert_ne!(first, other_first, "seeds 42 and 43 gave the same ACKs");
}

// ---------------------------------------------------------------------------------------------
// Load, timeouts, panics

#[cfg(target_os = "linux")]
#[test]
fn a_burst_of_500_connections_leaves_the_thread_count_fixed() {
    let workers = 4;
    let server = Server::start(SERVER, &["--workers", "4", "--queue", "8"]);
    // Workers, the acceptor (main thread) and the Ctrl-C handler's thread.
    let before = workers + 2;
    wait_for_threads(server.pid(), before);
    let mut most = before;
    let mut open = Vec::new();
    for i in 0..500 {
        open.push(
            TcpStream::connect_timeout(&server.addr(), DEADLINE)
                .unwrap_or_else(|e| panic!("connection {i} failed: {e}")),
        );
        if i % 25 == 0 {
            most = most.max(thread_count(server.pid()));
        }
    }
    // The acceptor has handled them all once the last refusal is logged.
    assert!(
        server.wait_for_stderr(&format!("connection #{} ", 500), DEADLINE),
        "the 500th connection was not handled; stderr: {}",
        server.stderr()
    );
    most = most.max(thread_count(server.pid()));
    // Four served, eight queued, the rest refused (one more for each worker that had not yet
    // taken its first connection when the burst ended).
    let refused = server.stderr().matches("busy: try again later").count();
    assert!(
        (500 - workers - 8..=500 - 8).contains(&refused),
        "{refused} refused"
    );
    assert_eq!(most, before, "threads during the burst");

    drop(open);
    let mut client = greeted(&server);
    round_trip(&mut client, "after the burst");
    assert_eq!(
        thread_count(server.pid()),
        before,
        "threads after the burst"
    );
}

#[test]
fn an_idle_client_is_timed_out() {
    let server = Server::start(SERVER, &["--idle-timeout", "1"]);
    let mut client = greeted(&server);
    client.expect_line("error: idle timeout");
    client.expect_close();
    assert!(server.wait_for_stderr("silent for 1s; closed", DEADLINE));
    // The worker is free again.
    let mut next = greeted(&server);
    round_trip(&mut next, "hello");
}

#[test]
fn a_worker_panic_is_contained_and_the_pool_keeps_its_size() {
    let server = Server::start(SERVER, &["--workers", "2"]);
    // More panics than workers: if a panic killed its worker, none would be left.
    for _ in 0..3 {
        let mut client = greeted(&server);
        client.send_line("!panic");
        client.read_to_close();
    }
    assert!(server.wait_for_stderr("the worker goes on", DEADLINE));
    // Two clients at once: both workers are alive.
    let mut first = greeted(&server);
    let mut second = greeted(&server);
    round_trip(&mut first, "one");
    round_trip(&mut second, "two");
    #[cfg(target_os = "linux")]
    assert_eq!(thread_count(server.pid()), 2 + 2);
    let stderr = server.stderr();
    assert_eq!(stderr.matches("panicked").count(), 3, "stderr: {stderr}");
    assert_eq!(
        stderr.lines().count(),
        3,
        "one line per panic; stderr: {stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// Graceful shutdown

#[test]
fn sigterm_lets_the_conversation_finish_then_prints_the_summary() {
    let mut server = Server::start(SERVER, &[]);
    let mut client = greeted(&server);
    round_trip(&mut client, "before");

    server.signal("TERM");
    server.expect_line_containing("shutting down", DEADLINE);
    // No new connections: the listening socket is closed.
    assert!(
        TcpStream::connect_timeout(&server.addr(), DEADLINE).is_err(),
        "a new connection was accepted after SIGTERM"
    );
    // The conversation in progress goes on, and the server waits for it.
    round_trip(&mut client, "after");
    assert!(server.wait_exit(Duration::from_millis(200)).is_none());
    client.send_line("exit");
    client.expect_line("bye");
    client.expect_close();

    let done = server.finish(DEADLINE);
    assert_eq!(done.code(), Some(0), "stderr: {}", done.stderr);
    assert!(
        done.stdout
            .contains("summary: connections served 1, messages answered 2, refused 0"),
        "stdout: {}",
        done.stdout
    );
}

#[test]
fn ctrl_c_waits_for_the_grace_period_then_closes_the_rest() {
    let mut server = Server::start(SERVER, &["--grace", "1"]);
    let mut client = greeted(&server);
    round_trip(&mut client, "hello");

    server.signal("INT");
    // The client says nothing more: after one second of grace the server ends anyway.
    assert!(server.wait_exit(DEADLINE).is_some(), "server still running");
    client.read_to_close();
    let done = server.finish(DEADLINE);
    assert_eq!(done.code(), Some(0), "stderr: {}", done.stderr);
    assert!(done.stderr.contains("grace period over"), "{}", done.stderr);
    assert!(
        done.stdout
            .contains("summary: connections served 1, messages answered 1, refused 0"),
        "stdout: {}",
        done.stdout
    );
}

#[test]
fn sigterm_with_no_client_exits_at_once() {
    let server = Server::start(SERVER, &[]);
    server.signal("TERM");
    let done = server.finish(DEADLINE);
    assert_eq!(done.code(), Some(0), "stderr: {}", done.stderr);
    assert!(done.stdout.contains("summary: connections served 0"));
}

// ---------------------------------------------------------------------------------------------
// Bad input never takes the server down

#[test]
fn bytes_that_are_not_utf8_get_an_error_line_and_the_conversation_goes_on() {
    let server = Server::start(SERVER, &[]);
    let mut client = greeted(&server);
    client.send(b"\xff\xfe\n");
    client.expect_line("error: not UTF-8");
    round_trip(&mut client, "still talking");
}

#[test]
fn a_line_over_64_kib_is_refused_and_the_connection_closed() {
    let server = Server::start(SERVER, &[]);
    let mut client = greeted(&server);
    // Exactly 64 KiB is still a line.
    round_trip(&mut client, &"x".repeat(64 * 1024));
    let mut long = vec![b'y'; 1024 * 1024];
    long.push(b'\n');
    client.send(&long);
    client.shutdown_write();
    client.expect_line("error: line too long");
    client.expect_close();
    assert!(server.wait_for_stderr("a line over 65536 bytes", DEADLINE));
    round_trip(&mut greeted(&server), "next client");
}

#[test]
fn glued_lines_are_answered_in_order_and_exit_ends() {
    let server = Server::start(SERVER, &[]);
    let mut client = greeted(&server);
    client.send("a\nexit\nnever answered\n");
    ack(&client.read_line());
    client.expect_line("bye");
    client.expect_close();
}

#[test]
fn a_line_sent_byte_by_byte_gets_one_reply() {
    let server = Server::start(SERVER, &[]);
    let mut client = greeted(&server);
    client.stream().set_nodelay(true).unwrap();
    for byte in b"hello\n" {
        client.send([*byte]);
    }
    ack(&client.read_line());
    round_trip(&mut client, "and the next");
}

#[test]
fn a_half_close_gets_every_reply_then_the_close() {
    let server = Server::start(SERVER, &[]);
    let mut client = greeted(&server);
    client.send("one\ntwo\n");
    client.shutdown_write();
    ack(&client.read_line());
    ack(&client.read_line());
    client.expect_close();
}

#[test]
fn a_client_vanishing_mid_line_costs_one_log_line() {
    let server = Server::start(SERVER, &[]);
    let mut client = greeted(&server);
    client.send("half a li");
    drop(client);
    assert!(server.wait_for_stderr("in the middle of a line", DEADLINE));
    round_trip(&mut greeted(&server), "next client");
    assert_eq!(server.stderr().lines().count(), 1, "{}", server.stderr());
}

#[test]
fn a_reset_costs_one_log_line() {
    let server = Server::start(SERVER, &[]);
    let mut client = greeted(&server);
    round_trip(&mut client, "hello");
    client.reset();
    assert!(server.wait_for_stderr("reading failed", DEADLINE));
    round_trip(&mut greeted(&server), "next client");
    assert_eq!(server.stderr().lines().count(), 1, "{}", server.stderr());
}

#[test]
fn a_client_that_leaves_without_exit_is_no_error() {
    let server = Server::start(SERVER, &[]);
    let mut client = greeted(&server);
    round_trip(&mut client, "hello");
    drop(client);
    let mut next = greeted(&server);
    round_trip(&mut next, "next client");
    next.send_line("exit");
    next.expect_line("bye");
    assert_eq!(server.stderr(), "");
}

// ---------------------------------------------------------------------------------------------
// Command line and client

#[test]
fn the_command_line_conventions_hold() {
    cli::assert_port_in_use(SERVER, &[]);
    cli::assert_bad_addresses_refused(SERVER, &[], b"");
    cli::assert_bad_addresses_refused(CLIENT, &[], b"hi\n");
    cli::assert_connection_refused(CLIENT, &[], b"hi\n");
}

#[test]
fn help_works_on_both_binaries() {
    cli::assert_help(SERVER);
    cli::assert_help(CLIENT);
    let mut command = Command::new(SERVER);
    command.arg("--help");
    let out = run_to_end(command, b"", DEADLINE);
    for option in [
        "--workers",
        "--queue",
        "--seed",
        "--idle-timeout",
        "--grace",
    ] {
        assert!(out.stdout.contains(option), "{option}: {}", out.stdout);
    }
}

#[test]
fn the_client_with_piped_stdin_prints_greeting_replies_and_bye() {
    let server = Server::start(SERVER, &[]);
    let mut command = Command::new(CLIENT);
    command.arg("--addr").arg(server.addr().to_string());
    let out = run_to_end(command, b"one\ntwo\nexit\n", DEADLINE);
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "stdout: {}", out.stdout);
    assert_eq!(lines[0], "Hello World!");
    ack(lines[1]);
    ack(lines[2]);
    assert_eq!(lines[3], "bye");
}

#[test]
fn the_client_reports_a_busy_server() {
    let server = Server::start(SERVER, &["--workers", "1", "--queue", "1"]);
    let _served = greeted(&server);
    let _queued = Client::connect(server.addr());
    let mut command = Command::new(CLIENT);
    command.arg("--addr").arg(server.addr().to_string());
    let out = run_to_end(command, b"hi\n", DEADLINE);
    assert_failed_with(&out, "busy");
}
