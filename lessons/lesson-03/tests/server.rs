//! Black-box tests of lesson 03: the real binaries, real sockets on 127.0.0.1, port 0, and a
//! deadline on every wait. The checks of the protocol that lesson 05 speaks too live in
//! `test_support::acks`; each `#[test]` here of the same name runs one on lesson 03's binaries.

use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use test_support::acks::{ack, acks_of_one_connection, greeted, round_trip};
use test_support::cli::{self, assert_failed_with, assert_one_sentence};
use test_support::{Client, DEADLINE, Server, run_to_end};

const SERVER: &str = env!("CARGO_BIN_EXE_lesson-03");
const CLIENT: &str = env!("CARGO_BIN_EXE_lesson-03-client");

// The protocol, shutdown, bad input, the command line: the checks lessons 03 and 05 share,
// one #[test] each (`ack_protocol::…`), on this lesson's binaries.
test_support::ack_protocol_tests! {
    server: SERVER,
    client: CLIENT,
    reset_logs: "reading or writing failed",
    help_names: &["--workers", "--queue", "--seed", "--idle-timeout", "--grace"],
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
    // The workers still have to see the 12 connections they hold or queue end; until they
    // have, a newcomer may be told busy. Poll, for at most DEADLINE.
    let deadline = std::time::Instant::now() + DEADLINE;
    let mut client = loop {
        let mut client = Client::connect(server.addr());
        match client.read_line().as_str() {
            "Hello World!" => break client,
            "busy: try again later" if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            other => panic!("expected the greeting after the burst, got {other:?}"),
        }
    };
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
    assert!(server.wait_for_stderr("sent no whole line within 1s; closed", DEADLINE));
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
// Bad input never takes the server down

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

// ---------------------------------------------------------------------------------------------
// Command line and client

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

#[test]
fn the_client_refuses_a_line_without_end_from_the_server() {
    cli::assert_client_bounds_lines(CLIENT, &[], b"hello\n");
}

// ---------------------------------------------------------------------------------------------
// Hostile clients and a hostile environment

#[test]
fn a_line_trickled_a_byte_at_a_time_is_cut_off_at_the_idle_timeout() {
    // Slowloris: one byte every 300 ms never lets a per-read timeout of 2 s fire. The line as
    // a whole must be done within the idle timeout: the server gives up at about 2 s, long
    // before the 40 bytes (12 s) are sent.
    let server = Server::start(SERVER, &["--idle-timeout", "2"]);
    let mut client = greeted(&server);
    client.set_read_timeout(Duration::from_millis(300));
    for _ in 0..40 {
        if client.try_send(b"x").is_err() {
            break;
        }
        match client.try_read_line() {
            Err(e) if test_support::client::is_timeout(&e) => continue,
            Ok(Some(line)) => {
                assert_eq!(line, "error: idle timeout");
                assert!(server.wait_for_stderr("no whole line within 2s", DEADLINE));
                return;
            }
            other => panic!("expected `error: idle timeout`, got {other:?}"),
        }
    }
    panic!("a client sending a byte every 300 ms held a worker for 12 s");
}

#[test]
fn a_client_trickling_after_bye_frees_its_worker_within_the_linger() {
    // After `bye` the server drains what the client still sends, for two seconds in all. A
    // client that sends a byte every 300 ms must not keep the only worker.
    let server = Server::start(SERVER, &["--workers", "1", "--queue", "1"]);
    let mut first = greeted(&server);
    first.send_line("exit");
    first.expect_line("bye");
    let mut second = Client::connect(server.addr());
    second.set_read_timeout(Duration::from_millis(300));
    for _ in 0..40 {
        // Once the server has closed, the writes fail: that is fine, the worker is free.
        let _ = first.try_send(b"x");
        match second.try_read_line() {
            Err(e) if test_support::client::is_timeout(&e) => continue,
            Ok(Some(line)) => {
                assert_eq!(line, "Hello World!");
                return;
            }
            other => panic!("expected the greeting, got {other:?}"),
        }
    }
    panic!("a client trickling after `bye` held the only worker for 12 s");
}

#[test]
fn a_closed_stdout_does_not_stop_the_workers() {
    // `lesson-03 | head -1`: once head has exited, every write to stdout fails.
    let server = Server::start_then_close_stdout(SERVER, &["--workers", "2"]);
    for _ in 0..5 {
        let acks = acks_of_one_connection(&server, 1);
        assert_eq!(acks.len(), 1);
    }
    assert_eq!(server.stderr(), "");
}

#[test]
fn shutdown_tells_queued_connections_busy() {
    let server = Server::start(SERVER, &["--workers", "1", "--queue", "2"]);
    let port = server.addr().port();
    let mut first = greeted(&server);
    let mut queued: Vec<Client> = (0..2).map(|_| Client::connect(server.addr())).collect();
    // Both accepted (the kernel's backlog is empty again): they wait in the server's queue.
    let accepted = test_support::observe::wait_for_tcp_socket(DEADLINE, |s| {
        s.local.port() == port && s.state == "LISTEN" && s.rx_queue == 0
    });
    assert!(accepted.is_some(), "the clients were not accepted");
    server.signal("TERM");
    for client in &mut queued {
        client.expect_line("busy: server shutting down");
        client.expect_close();
    }
    // The conversation in progress goes on.
    round_trip(&mut first, "still here");
    first.send_line("exit");
    first.expect_line("bye");
    let done = server.finish(DEADLINE);
    assert_eq!(done.code(), Some(0), "stderr: {}", done.stderr);
}

/// A command that runs the server with its open-files limit set by `prlimit`.
#[cfg(target_os = "linux")]
fn under_prlimit(nofile: &str, args: &[&str]) -> Command {
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--nofile={nofile}"))
        .arg(SERVER)
        .args(["--addr", "127.0.0.1:0"])
        .args(args);
    command
}

#[cfg(target_os = "linux")]
#[test]
fn a_pool_that_does_not_fit_in_64_files_is_lowered_and_refuses_newcomers() {
    // 2 workers and a queue of 100 need over 100 descriptors; 64 are allowed.
    let server = Server::start_command(under_prlimit(
        "64:64",
        &["--workers", "2", "--queue", "100"],
    ));
    assert!(
        server.wait_for_stderr("only 64 open files allowed", DEADLINE),
        "stderr: {}",
        server.stderr()
    );
    let mut clients: Vec<Client> = (0..200).map(|_| Client::connect(server.addr())).collect();
    // Every connection is accepted: none hangs unanswered in the kernel's backlog.
    assert!(
        server.wait_for_stderr("connection #200 ", DEADLINE),
        "stderr: {}",
        server.stderr()
    );
    // At most 2 are served and 46 queued (the queue was lowered to what fits); every other
    // one is told busy. Which ones depends on the order the kernel queued the handshakes in.
    let stderr = server.stderr();
    let refused: Vec<u16> = stderr
        .lines()
        .filter(|line| line.ends_with(": busy: try again later"))
        .filter_map(|line| line.split(':').nth(1)?.parse().ok())
        .collect();
    assert!(refused.len() >= 200 - 48, "stderr: {stderr}");
    for client in &mut clients {
        if refused.contains(&client.stream().local_addr().unwrap().port()) {
            client.expect_line("busy: try again later");
        }
    }
    assert!(
        !server.stderr().contains("accept failed"),
        "{}",
        server.stderr()
    );
}

#[cfg(target_os = "linux")]
#[test]
fn the_soft_open_files_limit_is_raised_to_the_hard_one() {
    let server = Server::start_command(under_prlimit("64:4096", &[]));
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid())).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    assert_eq!(
        line.split_whitespace().collect::<Vec<_>>()[3..5],
        ["4096", "4096"]
    );
    assert!(
        !server.stderr().contains("open files allowed"),
        "{}",
        server.stderr()
    );
}

#[cfg(target_os = "linux")]
#[test]
fn a_limit_too_low_for_one_worker_is_one_sentence() {
    let done = run_to_end(under_prlimit("16:16", &[]), b"", DEADLINE);
    assert_eq!(done.code(), Some(1), "{done:?}");
    assert_one_sentence(&done.stderr);
    assert!(done.stderr.contains("even one worker"), "{done:?}");
}

#[cfg(target_os = "linux")]
#[test]
fn out_of_descriptors_newcomers_are_told_busy_and_the_server_recovers() {
    use test_support::observe::{first_free_descriptor, set_open_files_limit};
    let server = Server::start(SERVER, &["--workers", "2", "--queue", "2"]);
    let mut first = greeted(&server);
    // From here on, every new descriptor is over the limit: accept() fails with EMFILE. But
    // if the acceptor is already back in accept(), that call has reserved its descriptor, and
    // one more client is served; if not, that client is told busy too.
    set_open_files_limit(server.pid(), first_free_descriptor(server.pid()));
    let mut second = Client::connect(server.addr());
    let second_served = match second.read_line().as_str() {
        "Hello World!" => true,
        "busy: try again later" => false,
        other => panic!("expected the greeting or busy, got {other:?}"),
    };
    for _ in 0..5 {
        let mut newcomer = Client::connect(server.addr());
        newcomer.expect_line("busy: try again later");
        newcomer.expect_close();
    }
    // The log reaches us through a pipe and a reader thread: wait for the last refusal (#7).
    assert!(
        server.wait_for_stderr("connection #7 ", DEADLINE),
        "{}",
        server.stderr()
    );
    let stderr = server.stderr();
    assert_eq!(
        stderr.matches("accept failed").count(),
        1,
        "stderr: {stderr}"
    );
    set_open_files_limit(server.pid(), 1024);
    round_trip(&mut first, "still here");
    if second_served {
        round_trip(&mut second, "me too");
    }
    first.send_line("exit");
    first.expect_line("bye");
    drop(first);
    let mut later = greeted(&server);
    round_trip(&mut later, "served again");
    assert!(server.wait_for_stderr("accept works again", DEADLINE));
}
