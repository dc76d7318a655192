//! Black-box tests of lesson 01: the real binaries, real sockets on 127.0.0.1, port 0, and a
//! deadline on every wait.

use std::process::Command;

use test_support::cli::{self, assert_failed_with};
use test_support::{Client, DEADLINE, Server, originals, run_to_end};

const SERVER: &str = env!("CARGO_BIN_EXE_lesson-01");
const CLIENT: &str = env!("CARGO_BIN_EXE_lesson-01-client");

fn client(addr: &str, args: &[&str]) -> Command {
    let mut command = Command::new(CLIENT);
    command.arg("--addr").arg(addr).args(args);
    command
}

#[test]
fn greets_replies_closes_and_exits_zero() {
    let server = Server::start(SERVER, &[]);
    let mut conn = Client::connect(server.addr());
    conn.expect_line("Connected!");
    conn.send_line("hello");
    conn.expect_line("received: hello");
    conn.expect_close();

    let done = server.finish(DEADLINE);
    assert_eq!(done.code(), Some(0), "stderr: {}", done.stderr);
    assert!(
        done.stdout.contains("connection from 127.0.0.1:"),
        "{}",
        done.stdout
    );
    assert!(done.stdout.contains("message: hello"), "{}", done.stdout);
}

#[test]
fn accepts_crlf_and_a_message_without_newline() {
    for (sent, shown) in [(&b"hello\r\n"[..], "hello"), (b"no newline", "no newline")] {
        let server = Server::start(SERVER, &[]);
        let mut conn = Client::connect(server.addr());
        conn.expect_line("Connected!");
        conn.send(sent);
        conn.expect_line(&format!("received: {shown}"));
        assert_eq!(server.finish(DEADLINE).code(), Some(0));
    }
}

#[test]
fn client_and_server_with_piped_stdin() {
    let server = Server::start(SERVER, &[]);
    let out = run_to_end(
        client(&server.addr().to_string(), &[]),
        b"hello\n",
        DEADLINE,
    );
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    // No prompt: stdin is not a terminal.
    assert_eq!(out.stdout, "Connected!\nreceived: hello\n");
    assert_eq!(server.finish(DEADLINE).code(), Some(0));
}

#[test]
fn client_takes_the_message_from_its_arguments() {
    let server = Server::start(SERVER, &[]);
    let out = run_to_end(
        client(&server.addr().to_string(), &["hello", "world"]),
        b"",
        DEADLINE,
    );
    assert_eq!(out.stdout, "Connected!\nreceived: hello world\n");
    assert_eq!(server.finish(DEADLINE).code(), Some(0));
}

#[test]
fn client_that_sends_nothing_and_leaves() {
    let server = Server::start(SERVER, &[]);
    let mut conn = Client::connect(server.addr());
    conn.expect_line("Connected!");
    drop(conn);
    let done = server.finish(DEADLINE);
    assert_failed_with(&done, "without sending");
}

#[test]
fn client_that_connects_and_says_nothing_is_timed_out() {
    let server = Server::start(SERVER, &["--idle-timeout", "1"]);
    let mut conn = Client::connect(server.addr());
    conn.expect_line("Connected!");
    conn.expect_close();
    let done = server.finish(DEADLINE);
    assert_failed_with(&done, "sent nothing");
}

#[test]
fn bytes_that_are_not_utf8_are_shown_lossily() {
    let server = Server::start(SERVER, &[]);
    let mut conn = Client::connect(server.addr());
    conn.expect_line("Connected!");
    conn.send(b"\xff\xfehi\n");
    conn.expect_line("received: \u{FFFD}\u{FFFD}hi");
    let done = server.finish(DEADLINE);
    assert_eq!(done.code(), Some(0), "stderr: {}", done.stderr);
}

#[test]
#[ignore = "needs python3"]
fn the_original_python_client_talks_to_our_server() {
    let server = Server::start(SERVER, &[]);
    // client.py reads a line, sends it without a newline, prints what one recv returns, and
    // loops until it reads `exit`.
    let command = originals::required(originals::command("client.py", server.addr().port()));
    let out = run_to_end(command, "hello\nexit\n".as_bytes(), DEADLINE);
    assert!(out.stdout.contains("Connected!"), "stdout: {}", out.stdout);
    assert!(
        out.stdout.contains("received: hello"),
        "stdout: {}",
        out.stdout
    );
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    assert_eq!(server.finish(DEADLINE).code(), Some(0));
}

#[test]
fn the_command_line_conventions_hold() {
    cli::assert_server_and_client(SERVER, CLIENT, &["hi"], b"");
}

#[test]
fn the_client_refuses_a_line_without_end_from_the_server() {
    cli::assert_client_bounds_lines(CLIENT, &["hello"], b"hello\n");
}

#[test]
fn an_idle_timeout_of_zero_is_refused_before_listening() {
    let mut command = Command::new(SERVER);
    command.args(["--addr", "127.0.0.1:0", "--idle-timeout", "0"]);
    let done = run_to_end(command, b"", DEADLINE);
    assert_eq!(done.code(), Some(2), "{done:?}");
    assert!(done.stdout.is_empty(), "{done:?}");
    assert!(done.stderr.contains("--idle-timeout"), "{done:?}");
}

#[test]
fn a_closed_stdout_does_not_stop_the_server() {
    // `lesson-01 | head -1`: once head has exited, every write to stdout fails.
    let server = Server::start_then_close_stdout(SERVER, &[]);
    let mut conn = Client::connect(server.addr());
    conn.expect_line("Connected!");
    conn.send_line("hello");
    conn.expect_line("received: hello");
    let done = server.finish(DEADLINE);
    assert_eq!(done.code(), Some(0), "{done:?}");
    assert!(done.stderr.is_empty(), "{done:?}");
}

#[test]
fn control_characters_from_a_client_are_escaped_in_the_log() {
    let server = Server::start(SERVER, &[]);
    let mut conn = Client::connect(server.addr());
    conn.expect_line("Connected!");
    // ESC [2J clears a terminal; the CR would let the rest overwrite the log line.
    conn.send(b"a\x1b[2Jb\rforged\n");
    conn.expect_line("received: a\x1b[2Jb\rforged");
    let done = server.finish(DEADLINE);
    assert!(
        done.stdout.contains(r"message: a\u{1b}[2Jb\rforged"),
        "{done:?}"
    );
}

#[test]
fn a_message_over_1024_bytes_gets_its_reply_then_a_reset() {
    // The server's one read takes 1024 bytes; closing with the rest unread sends RST, not FIN.
    // Linux keeps what had already arrived: the reply is read first, then the reset.
    let server = Server::start(SERVER, &[]);
    let mut conn = Client::connect(server.addr());
    conn.expect_line("Connected!");
    conn.send(vec![b'a'; 2000]);
    let reply = conn.read_line();
    assert_eq!(reply.len(), "received: ".len() + 1024, "{reply:?}");
    let mut rest = [0u8; 16];
    let error = std::io::Read::read(&mut conn.stream(), &mut rest);
    assert_eq!(
        error.map_err(|e| e.kind()),
        Err(std::io::ErrorKind::ConnectionReset)
    );
    assert_eq!(server.finish(DEADLINE).code(), Some(0));
}
