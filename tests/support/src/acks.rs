//! The ACK protocol of lesson 03, which lesson 05 speaks too: the checks both servers must pass,
//! written once, each run against the binary it is given.
//!
//! The protocol: the server greets with `Hello World!`, answers every line with `R:ACK!` (R a
//! number from 1 to 1000), answers `exit` with `bye` and closes. Both lessons call each check from
//! a `#[test]` of the same name, with their own binaries.

use std::collections::HashSet;
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use crate::{Client, DEADLINE, Server, cli, run_to_end};

/// The number in an `R:ACK!` reply; panics on any other line.
pub fn ack(line: &str) -> u32 {
    let number = line
        .strip_suffix(":ACK!")
        .unwrap_or_else(|| panic!("expected R:ACK!, got {line:?}"));
    number
        .parse()
        .unwrap_or_else(|_| panic!("expected a number before :ACK!, got {line:?}"))
}

/// Connects and reads the greeting.
pub fn greeted(server: &Server) -> Client {
    let mut client = Client::connect(server.addr());
    client.expect_line("Hello World!");
    client
}

/// Sends a line and returns the number of its ACK.
pub fn round_trip(client: &mut Client, line: &str) -> u32 {
    client.send_line(line);
    ack(&client.read_line())
}

/// The ACK numbers of the first `count` lines of a fresh connection.
pub fn acks_of_one_connection(server: &Server, count: usize) -> Vec<u32> {
    let mut client = greeted(server);
    let acks = (0..count).map(|i| round_trip(&mut client, &format!("line {i}")));
    let acks = acks.collect();
    client.send_line("exit");
    client.expect_line("bye");
    acks
}

// ---------------------------------------------------------------------------------------------
// The protocol

pub fn greets_acks_every_line_and_says_bye(server: &str) {
    let server = Server::start(server, &[]);
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

pub fn acks_are_in_range_and_vary(server: &str) {
    let server = Server::start(server, &[]);
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

// ---------------------------------------------------------------------------------------------
// Shutdown

pub fn sigterm_lets_the_conversation_finish_then_prints_the_summary(server: &str) {
    let mut server = Server::start(server, &[]);
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

pub fn ctrl_c_waits_for_the_grace_period_then_closes_the_rest(server: &str) {
    let mut server = Server::start(server, &["--grace", "1"]);
    let mut client = greeted(&server);
    round_trip(&mut client, "hello");

    server.signal("INT");
    // The client says nothing more: after one second of grace the server ends anyway.
    assert!(server.wait_exit(DEADLINE).is_some(), "server still running");
    client.read_to_close();
    // stderr is read by a thread of its own, which may lag behind the exit: wait for the line.
    assert!(
        server.wait_for_stderr("grace period over", DEADLINE),
        "{}",
        server.stderr()
    );
    let done = server.finish(DEADLINE);
    assert_eq!(done.code(), Some(0), "stderr: {}", done.stderr);
    assert!(
        done.stdout
            .contains("summary: connections served 1, messages answered 1, refused 0"),
        "stdout: {}",
        done.stdout
    );
}

pub fn sigterm_with_no_client_exits_at_once(server: &str) {
    let server = Server::start(server, &[]);
    server.signal("TERM");
    let done = server.finish(DEADLINE);
    assert_eq!(done.code(), Some(0), "stderr: {}", done.stderr);
    assert!(done.stdout.contains("summary: connections served 0"));
}

// ---------------------------------------------------------------------------------------------
// Bad input never takes the server down

pub fn bytes_that_are_not_utf8_get_an_error_line_and_the_conversation_goes_on(server: &str) {
    let server = Server::start(server, &[]);
    let mut client = greeted(&server);
    client.send(b"\xff\xfe\n");
    client.expect_line("error: not UTF-8");
    round_trip(&mut client, "still talking");
}

pub fn glued_lines_are_answered_in_order_and_exit_ends(server: &str) {
    let server = Server::start(server, &[]);
    let mut client = greeted(&server);
    client.send("a\nexit\nnever answered\n");
    ack(&client.read_line());
    client.expect_line("bye");
    client.expect_close();
}

pub fn a_half_close_gets_every_reply_then_the_close(server: &str) {
    let server = Server::start(server, &[]);
    let mut client = greeted(&server);
    client.send("one\ntwo\n");
    client.shutdown_write();
    ack(&client.read_line());
    ack(&client.read_line());
    client.expect_close();
}

pub fn a_client_vanishing_mid_line_costs_one_log_line(server: &str) {
    let server = Server::start(server, &[]);
    let mut client = greeted(&server);
    client.send("half a li");
    drop(client);
    assert!(server.wait_for_stderr("in the middle of a line", DEADLINE));
    round_trip(&mut greeted(&server), "next client");
    assert_eq!(server.stderr().lines().count(), 1, "{}", server.stderr());
}

/// A reset costs one log line, which says `logged` (each lesson words it its own way).
pub fn a_reset_costs_one_log_line(server: &str, logged: &str) {
    let server = Server::start(server, &[]);
    let mut client = greeted(&server);
    round_trip(&mut client, "hello");
    client.reset();
    assert!(server.wait_for_stderr(logged, DEADLINE));
    round_trip(&mut greeted(&server), "next client");
    assert_eq!(server.stderr().lines().count(), 1, "{}", server.stderr());
}

pub fn a_client_that_leaves_without_exit_is_no_error(server: &str) {
    let server = Server::start(server, &[]);
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

pub fn the_command_line_conventions_hold(server: &str, client: &str) {
    cli::assert_port_in_use(server, &[]);
    cli::assert_bad_addresses_refused(server, &[], b"");
    cli::assert_bad_addresses_refused(client, &[], b"hi\n");
    cli::assert_connection_refused(client, &[], b"hi\n");
}

/// Both binaries answer `--help`, and the server's help names each of `options`.
pub fn help_works_on_both_binaries(server: &str, client: &str, options: &[&str]) {
    cli::assert_help(server);
    cli::assert_help(client);
    let mut command = Command::new(server);
    command.arg("--help");
    let out = run_to_end(command, b"", DEADLINE);
    for option in options {
        assert!(out.stdout.contains(option), "{option}: {}", out.stdout);
    }
}

pub fn the_client_with_piped_stdin_prints_greeting_replies_and_bye(server: &str, client: &str) {
    let server = Server::start(server, &[]);
    let mut command = Command::new(client);
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

/// One `#[test]` for each check above, in a module `ack_protocol` of the test file that invokes
/// it, run on the binaries given: `server` and `client` (paths, as `env!("CARGO_BIN_EXE_…")`
/// gives them), the words the server logs on a reset, and the options its `--help` must name.
#[macro_export]
macro_rules! ack_protocol_tests {
    (
        server: $server:expr,
        client: $client:expr,
        reset_logs: $reset_logs:expr,
        help_names: $help_names:expr $(,)?
    ) => {
        mod ack_protocol {
            // The binaries are named in the invoking test file.
            #[allow(unused_imports)]
            use super::*;
            use $crate::acks;

            #[test]
            fn greets_acks_every_line_and_says_bye() {
                acks::greets_acks_every_line_and_says_bye($server);
            }

            #[test]
            fn acks_are_in_range_and_vary() {
                acks::acks_are_in_range_and_vary($server);
            }

            #[cfg(target_os = "linux")]
            #[test]
            fn sigterm_lets_the_conversation_finish_then_prints_the_summary() {
                acks::sigterm_lets_the_conversation_finish_then_prints_the_summary($server);
            }

            #[test]
            fn ctrl_c_waits_for_the_grace_period_then_closes_the_rest() {
                acks::ctrl_c_waits_for_the_grace_period_then_closes_the_rest($server);
            }

            #[test]
            fn sigterm_with_no_client_exits_at_once() {
                acks::sigterm_with_no_client_exits_at_once($server);
            }

            #[test]
            fn bytes_that_are_not_utf8_get_an_error_line_and_the_conversation_goes_on() {
                acks::bytes_that_are_not_utf8_get_an_error_line_and_the_conversation_goes_on(
                    $server,
                );
            }

            #[test]
            fn glued_lines_are_answered_in_order_and_exit_ends() {
                acks::glued_lines_are_answered_in_order_and_exit_ends($server);
            }

            #[test]
            fn a_half_close_gets_every_reply_then_the_close() {
                acks::a_half_close_gets_every_reply_then_the_close($server);
            }

            #[test]
            fn a_client_vanishing_mid_line_costs_one_log_line() {
                acks::a_client_vanishing_mid_line_costs_one_log_line($server);
            }

            #[test]
            fn a_reset_costs_one_log_line() {
                acks::a_reset_costs_one_log_line($server, $reset_logs);
            }

            #[test]
            fn a_client_that_leaves_without_exit_is_no_error() {
                acks::a_client_that_leaves_without_exit_is_no_error($server);
            }

            #[test]
            fn the_command_line_conventions_hold() {
                acks::the_command_line_conventions_hold($server, $client);
            }

            #[test]
            fn help_works_on_both_binaries() {
                acks::help_works_on_both_binaries($server, $client, $help_names);
            }

            #[test]
            fn the_client_with_piped_stdin_prints_greeting_replies_and_bye() {
                acks::the_client_with_piped_stdin_prints_greeting_replies_and_bye($server, $client);
            }
        }
    };
}
