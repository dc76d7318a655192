//! Black-box tests of lesson 02: the real binaries, real sockets on 127.0.0.1, port 0, and a
//! deadline on every wait.

use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::process::Command;
use std::thread;
use std::time::Duration;

use test_support::cli::{self, assert_failed_with};
use test_support::client::is_timeout;
use test_support::observe::wait_for_tcp_socket;
use test_support::{Client, DEADLINE, Server, run_to_end};

const SERVER: &str = env!("CARGO_BIN_EXE_lesson-02");
const CLIENT: &str = env!("CARGO_BIN_EXE_lesson-02-client");

/// The server's line limit: 64 KiB before the `\n`.
const MAX_LINE: usize = 64 * 1024;

fn client(addr: &str) -> Command {
    let mut command = Command::new(CLIENT);
    command.arg("--addr").arg(addr);
    command
}

/// Connects and reads the greeting.
fn greeted(server: &Server) -> Client {
    let mut conn = Client::connect(server.addr());
    conn.expect_line("Connected!");
    conn
}

/// One full conversation, to show the server is alive and serving.
fn still_serving(server: &Server) {
    let mut conn = greeted(server);
    conn.send_line("still there?");
    conn.expect_line("message 1: still there?");
    conn.send_line("exit");
    conn.expect_line("bye");
    conn.expect_close();
}

/// Reads from the socket itself and checks the server closed it with FIN (a read of 0 bytes),
/// not with RST (an error), and sent nothing more.
fn expect_clean_close(conn: &Client) {
    let mut rest = Vec::new();
    match conn.stream().read_to_end(&mut rest) {
        Ok(_) => assert!(
            rest.is_empty(),
            "expected the end of the stream, got {:?}",
            String::from_utf8_lossy(&rest)
        ),
        Err(e) => panic!("expected a clean end of stream (FIN), got an error: {e}"),
    }
}

/// The server's stderr, once it holds `needle`: it must be exactly one line, with no panic.
fn expect_one_log_line(server: &Server, needle: &str) -> String {
    assert!(
        server.wait_for_stderr(needle, DEADLINE),
        "no log line containing {needle:?}; stderr: {:?}",
        server.stderr()
    );
    let stderr = server.stderr();
    assert_eq!(stderr.lines().count(), 1, "stderr: {stderr:?}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr:?}");
    stderr
}

#[test]
fn two_clients_in_sequence_are_each_counted_from_one() {
    let server = Server::start(SERVER, &[]);
    let mut first = greeted(&server);
    first.send_line("hello");
    first.expect_line("message 1: hello");
    first.send_line("world");
    first.expect_line("message 2: world");
    first.send_line("exit");
    first.expect_line("bye");
    expect_clean_close(&first);
    drop(first);

    let mut second = greeted(&server);
    second.send_line("again");
    second.expect_line("message 1: again");
    // End of stream instead of `exit` ends the conversation too.
    second.shutdown_write();
    expect_clean_close(&second);
    drop(second);

    server.expect_line_containing("said exit after 2 messages", DEADLINE);
    server.expect_line_containing("closed the connection after 1 message", DEADLINE);
    still_serving(&server);
    assert_eq!(
        server.stderr(),
        "",
        "a normal conversation logs nothing on stderr"
    );
}

#[test]
fn crlf_and_empty_lines_are_lines_too() {
    let server = Server::start(SERVER, &[]);
    let mut conn = greeted(&server);
    conn.send(b"windows\r\n\nexit\r\n");
    conn.expect_line("message 1: windows");
    conn.expect_line("message 2: ");
    conn.expect_line("bye");
    expect_clean_close(&conn);
}

#[test]
fn a_line_and_exit_glued_in_one_packet_get_two_answers() {
    let server = Server::start(SERVER, &[]);
    let mut conn = greeted(&server);
    conn.send(b"a\nexit\n");
    conn.expect_line("message 1: a");
    conn.expect_line("bye");
    expect_clean_close(&conn);
}

#[test]
fn exit_with_more_input_behind_it_still_delivers_bye_and_a_clean_close() {
    // The client pipelines: `exit`, then 256 KiB the server will never answer. Closing with
    // those bytes unread would send RST; the server must send FIN and drain instead.
    let server = Server::start(SERVER, &[]);
    let mut conn = greeted(&server);
    let mut bytes = b"a\nexit\n".to_vec();
    bytes.extend(std::iter::repeat_n(b'z', 256 * 1024));
    conn.send(&bytes);
    conn.expect_line("message 1: a");
    conn.expect_line("bye");
    expect_clean_close(&conn);
    drop(conn);
    still_serving(&server);
}

#[test]
fn a_line_split_byte_by_byte_is_one_line() {
    let server = Server::start(SERVER, &[]);
    let mut conn = greeted(&server);
    // No Nagle: each one-byte write leaves as a packet of its own. The é and ✓ are split
    // inside their UTF-8 bytes too.
    conn.stream().set_nodelay(true).unwrap();
    for byte in "split é ✓\n".bytes() {
        conn.send([byte]);
    }
    conn.expect_line("message 1: split é ✓");
}

#[test]
fn half_close_gets_every_reply_then_the_server_closes() {
    let server = Server::start(SERVER, &[]);
    let mut conn = greeted(&server);
    conn.send(b"one\ntwo\n");
    // FIN from the client: it will send nothing more, but it still reads.
    conn.shutdown_write();
    conn.expect_line("message 1: one");
    conn.expect_line("message 2: two");
    expect_clean_close(&conn);
    server.expect_line_containing("closed the connection after 2 messages", DEADLINE);
    drop(conn);
    still_serving(&server);
}

#[test]
fn a_client_that_vanishes_mid_line_costs_one_log_line() {
    let server = Server::start(SERVER, &[]);
    let mut conn = greeted(&server);
    conn.send(b"half a li");
    drop(conn);
    let log = expect_one_log_line(&server, "mid-line");
    assert!(log.contains("last 9 bytes"), "{log}");
    still_serving(&server);
}

#[test]
fn a_client_that_resets_costs_one_log_line() {
    let server = Server::start(SERVER, &[]);
    let mut conn = greeted(&server);
    conn.send_line("hello");
    conn.expect_line("message 1: hello");
    // SO_LINGER 0: close() sends RST instead of FIN.
    conn.reset();
    expect_one_log_line(&server, "reset");
    still_serving(&server);
}

#[test]
fn a_line_that_is_not_utf8_gets_an_error_and_the_conversation_goes_on() {
    let server = Server::start(SERVER, &[]);
    let mut conn = greeted(&server);
    conn.send(b"\xff\xfe\n");
    conn.expect_line("error: not UTF-8");
    // The bad line is not a message: the count starts with the next good one.
    conn.send_line("fine now");
    conn.expect_line("message 1: fine now");
    conn.send_line("exit");
    conn.expect_line("bye");
    expect_one_log_line(&server, "not UTF-8");
}

#[test]
fn a_line_of_64_kib_is_accepted() {
    let server = Server::start(SERVER, &[]);
    let mut conn = greeted(&server);
    let long = "x".repeat(MAX_LINE);
    conn.send(format!("{long}\r\n"));
    let reply = conn.read_line();
    assert_eq!(reply.len(), "message 1: ".len() + MAX_LINE);
    assert_eq!(reply, format!("message 1: {long}"));
}

#[test]
fn a_line_of_1_mib_gets_an_error_and_the_connection_is_closed() {
    let server = Server::start(SERVER, &[]);
    let mut conn = greeted(&server);
    let mut line = vec![b'x'; 1 << 20];
    line.push(b'\n');
    conn.send(&line);
    conn.expect_line("error: line too long");
    expect_clean_close(&conn);
    drop(conn);
    expect_one_log_line(&server, "over 65536 bytes");
    still_serving(&server);
}

#[test]
fn a_line_without_end_is_cut_off_at_the_limit() {
    // 64 KiB + 100 bytes and no newline, and the client waits: the server must not wait for
    // the rest of the line.
    let server = Server::start(SERVER, &[]);
    let mut conn = greeted(&server);
    conn.send(vec![b'y'; MAX_LINE + 100]);
    conn.expect_line("error: line too long");
    expect_clean_close(&conn);
}

#[test]
fn a_silent_client_is_timed_out() {
    let server = Server::start(SERVER, &["--idle-timeout", "1"]);
    let mut conn = greeted(&server);
    conn.expect_line("error: idle timeout");
    expect_clean_close(&conn);
    drop(conn);
    expect_one_log_line(&server, "silent for 1s");
    still_serving(&server);
}

#[test]
fn a_second_client_waits_in_the_backlog_until_the_first_leaves() {
    let server = Server::start(SERVER, &[]);
    let port = server.addr().port();
    let mut first = greeted(&server);
    first.send_line("hello");
    first.expect_line("message 1: hello");

    // The kernel completes the second client's handshake: its connect succeeds at once.
    let mut second = Client::connect(server.addr());
    // It waits in the listening socket's accept queue (the backlog); /proc/net/tcp shows that
    // queue's length for a LISTEN socket, as `ss -ltn` does in its Recv-Q column.
    let queued = wait_for_tcp_socket(DEADLINE, |s| {
        s.local.port() == port && s.state == "LISTEN" && s.rx_queue == 1
    });
    assert!(
        queued.is_some(),
        "the second client is not in the accept queue"
    );
    // Nobody has called accept() for it, so nobody greets it.
    second.set_read_timeout(Duration::from_millis(300));
    match second.try_read_line() {
        Err(e) if is_timeout(&e) => {}
        other => panic!("the second client should hear nothing yet, got {other:?}"),
    }
    // Its lines wait in its socket's receive buffer meanwhile.
    second.send_line("early");

    first.send_line("exit");
    first.expect_line("bye");
    drop(first);

    second.set_read_timeout(DEADLINE);
    second.expect_line("Connected!");
    second.expect_line("message 1: early");
    second.send_line("exit");
    second.expect_line("bye");
}

/// A conversation that the server ends (`exit`): the server's side sends the first FIN, so
/// the server's side of that connection goes through TIME_WAIT. Returns once it is there.
fn leave_a_connection_in_time_wait(server: &Server) {
    let port = server.addr().port();
    let mut conn = greeted(server);
    conn.send_line("exit");
    conn.expect_line("bye");
    expect_clean_close(&conn);
    let client_port = conn.stream().local_addr().unwrap().port();
    drop(conn);
    let time_wait = wait_for_tcp_socket(DEADLINE, |s| {
        s.local.port() == port && s.remote.port() == client_port && s.state == "TIME-WAIT"
    });
    assert!(
        time_wait.is_some(),
        "the server's side of the connection should be in TIME-WAIT"
    );
}

fn server_at(addr: SocketAddr, args: &[&str]) -> Command {
    let mut command = Command::new(SERVER);
    command.arg("--addr").arg(addr.to_string()).args(args);
    command
}

#[test]
fn a_restart_right_after_a_conversation_binds_the_same_port() {
    let server = Server::start(SERVER, &[]);
    let addr = server.addr();
    leave_a_connection_in_time_wait(&server);
    drop(server); // killed

    let again = Server::start_command(server_at(addr, &[]));
    assert_eq!(again.addr(), addr);
    still_serving(&again);
}

#[test]
fn without_reuseaddr_a_restart_fails_while_a_connection_is_in_time_wait() {
    let server = Server::start(SERVER, &["--no-reuseaddr"]);
    let addr = server.addr();
    leave_a_connection_in_time_wait(&server);
    drop(server);

    let out = run_to_end(server_at(addr, &["--no-reuseaddr"]), b"", DEADLINE);
    assert_failed_with(&out, "TIME_WAIT");
    println!(
        "observed: restart without SO_REUSEADDR: {}",
        out.stderr.trim_end()
    );
}

#[test]
fn the_client_with_piped_stdin_prints_every_reply() {
    let server = Server::start(SERVER, &[]);
    let addr = server.addr().to_string();
    let out = run_to_end(client(&addr), b"hello\nworld\nexit\nnot sent\n", DEADLINE);
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    // No prompt: stdin is not a terminal. Nothing after `exit` is sent.
    assert_eq!(
        out.stdout,
        "Connected!\nmessage 1: hello\nmessage 2: world\nbye\n"
    );

    // End of input without `exit` ends the conversation too; the last line needs no newline.
    let out = run_to_end(client(&addr), b"one\r\ntwo", DEADLINE);
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.stdout, "Connected!\nmessage 1: one\nmessage 2: two\n");
    server.expect_line_containing("closed the connection after 2 messages", DEADLINE);
    assert_eq!(server.stderr(), "");
}

#[test]
fn the_client_says_one_sentence_when_the_server_disappears() {
    // A stand-in server that greets and then closes without answering.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let stand_in = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        std::io::Write::write_all(&mut stream, b"Connected!\n").unwrap();
        // Wait for the client's line, then close without a reply.
        let mut buf = [0u8; 64];
        let _ = stream.read(&mut buf);
    });
    let out = run_to_end(client(&addr), b"hello\n", DEADLINE);
    stand_in.join().unwrap();
    assert_eq!(out.stdout, "Connected!\n");
    assert_failed_with(&out, "closed the connection");

    // And one that closes before it greets.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let stand_in = thread::spawn(move || drop(listener.accept().unwrap()));
    let out = run_to_end(client(&addr), b"hello\n", DEADLINE);
    stand_in.join().unwrap();
    assert_failed_with(&out, "before greeting");
}

#[test]
fn the_client_reports_an_error_reply_and_the_close_that_follows() {
    let server = Server::start(SERVER, &[]);
    let mut input = vec![b'x'; MAX_LINE + 1];
    input.extend_from_slice(b"\nnext\n");
    let out = run_to_end(client(&server.addr().to_string()), &input, DEADLINE);
    assert_eq!(out.stdout, "Connected!\nerror: line too long\n");
    assert_failed_with(&out, "closed the connection");
}

#[test]
fn the_command_line_conventions_hold() {
    cli::assert_server_and_client(SERVER, CLIENT, &[], b"hi\n");
}
