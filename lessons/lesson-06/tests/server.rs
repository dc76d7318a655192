//! The lesson-06 server and client, black-box: the real binaries on 127.0.0.1:0.

use std::process::Command;
use std::time::Duration;

use test_support::cli;
use test_support::observe;
use test_support::{Client, DEADLINE, Server, run_to_end};

const SERVER: &str = env!("CARGO_BIN_EXE_lesson-06");
const CLIENT: &str = env!("CARGO_BIN_EXE_lesson-06-client");

#[test]
fn answers_in_lesson_02s_protocol_and_escapes_what_it_logs() {
    let server = Server::start(SERVER, &[]);
    let mut client = Client::connect(server.addr());
    client.expect_line("Connected!");
    client.send_line("hello\x1b[2J");
    client.expect_line("message 1: hello\x1b[2J");
    // The terminal escape reaches the log as text, not as an escape.
    server.expect_line_containing("message 1: hello\\u{1b}[2J", DEADLINE);
    client.send_line("exit");
    client.expect_line("bye");
    client.expect_close();
}

#[cfg(target_os = "linux")]
#[test]
fn every_accepted_connection_carries_the_keepalive_timer_it_was_given() {
    let server = Server::start(SERVER, &["--keepalive-idle", "4"]);
    let mut client = Client::connect(server.addr());
    client.expect_line("Connected!");
    let ours = match client.stream().local_addr().unwrap() {
        std::net::SocketAddr::V4(a) => a,
        other => panic!("not IPv4: {other}"),
    };
    // What `ss -tno` shows as timer:(keepalive,4sec,0) on the server's end.
    let found = observe::wait_for_tcp_socket(DEADLINE, |s| {
        s.remote == ours && s.timer == "keepalive" && s.timer_left <= Duration::from_secs(4)
    });
    assert!(found.is_some(), "{:?}", observe::tcp_sockets());
}

#[cfg(target_os = "linux")]
#[test]
fn a_client_that_stops_reading_fills_the_window_and_is_closed_at_the_deadline() {
    let server = Server::start(SERVER, &["--idle-timeout", "5"]);
    let mut client = Client::connect(server.addr());
    client.expect_line("Connected!");
    let ours = match client.stream().local_addr().unwrap() {
        std::net::SocketAddr::V4(a) => a,
        other => panic!("not IPv4: {other}"),
    };
    // Many long lines, never reading a reply: our receive buffer fills, our window drops to
    // zero, the server's send buffer fills, and its write() blocks. Until the server stops
    // taking our lines for a second: its thread is blocked in write().
    let line = format!("{}\n", "x".repeat(60_000));
    client
        .stream()
        .set_write_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    for _ in 0..2000 {
        if client.try_send(&line).is_err() {
            break;
        }
    }
    // Meanwhile the server's replies wait in its send buffer: Send-Q.
    let stalled = observe::wait_for_tcp_socket(DEADLINE, |s| {
        s.remote == ours && s.state == "ESTAB" && s.tx_queue > 1_000_000
    });
    assert!(stalled.is_some(), "no server end with a full Send-Q");
    // And its deadline ends the conversation: the write could not finish in time.
    assert!(
        server.wait_for_stderr("stopped reading our replies", DEADLINE),
        "stderr: {}",
        server.stderr()
    );
}

#[test]
fn the_client_names_the_failure_and_retries_with_back_off() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap().to_string();
    drop(free);
    let mut command = Command::new(CLIENT);
    command.args([
        "--addr",
        &addr,
        "--attempts",
        "3",
        "--backoff-ms",
        "50",
        "hi",
    ]);
    let out = run_to_end(command, b"", DEADLINE);
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    cli::assert_one_sentence(&out.stderr);
    assert!(out.stderr.contains("ECONNREFUSED"), "{}", out.stderr);
    assert!(
        out.stderr.contains("gave up after 3 attempts"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout.matches("attempt ").count(), 2, "{}", out.stdout);
}

#[test]
fn the_client_reports_end_of_stream_once_the_server_is_gone() {
    let mut server = Server::start(SERVER, &["--keepalive-idle", "1"]);
    let mut command = Command::new(CLIENT);
    let addr = server.addr().to_string();
    command.args(["--addr", &addr, "--attempts", "1", "--hold", "8", "hi"]);
    let client = std::thread::spawn(move || run_to_end(command, b"", DEADLINE));
    server.expect_line_containing("message 1: hi", DEADLINE);
    // The process dies: its kernel closes the socket with FIN, and the client sees the end.
    server.signal("KILL");
    server.wait_exit(DEADLINE);
    let out = client.join().unwrap();
    assert_eq!(out.code(), Some(1), "{}", out.stderr);
    cli::assert_one_sentence(&out.stderr);
    assert!(out.stderr.contains("end of stream"), "{}", out.stderr);
}

#[test]
fn follows_the_command_line_conventions() {
    cli::assert_help(SERVER);
    cli::assert_help(CLIENT);
    cli::assert_port_in_use(SERVER, &[]);
    cli::assert_bad_addresses_refused(SERVER, &[], b"");
    cli::assert_bad_addresses_refused(CLIENT, &[], b"hi\n");
    cli::assert_connection_refused(CLIENT, &[], b"hi\n");
    for bad in [["--keepalive-idle", "0"], ["--keepalive-count", "x"]] {
        let mut command = Command::new(SERVER);
        command.args(bad);
        let out = run_to_end(command, b"", DEADLINE);
        assert_eq!(out.code(), Some(2), "{bad:?}: {}", out.stderr);
    }
}
