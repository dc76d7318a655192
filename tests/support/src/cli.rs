//! The command-line conventions every lesson's programs follow, checked in one place:
//! `--help` works, and a port in use, a malformed `--addr` or a refused connection each end the
//! program with exit status 1 and one sentence on stderr starting with `error: `, never a panic.

use std::net::TcpListener;
use std::process::Command;

use crate::{DEADLINE, Finished, run_to_end};

/// A program that failed as the course's programs must: exit status 1, and one sentence on
/// stderr, starting with `error: `, that contains `needle`.
#[track_caller]
pub fn assert_failed_with(out: &Finished, needle: &str) {
    assert_eq!(out.code(), Some(1), "stderr: {:?}", out.stderr);
    assert_one_sentence(&out.stderr);
    assert!(out.stderr.contains(needle), "stderr: {:?}", out.stderr);
}

/// Prints `line` on stdout at once. `Err(StdoutClosed)` when nobody reads any more (`tool |
/// head -1`): a tool then stops quietly, where `println!` would panic.
pub fn say(line: &str) -> Result<(), StdoutClosed> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")
        .and_then(|()| out.flush())
        .map_err(|_| StdoutClosed)
}

/// Stdout is closed: see [`say`].
#[derive(Debug)]
pub struct StdoutClosed;

/// Runs `command` with its stdout already closed (as in `command | head -0`), for at most
/// `timeout`, and checks that it ends with status 1 and no panic: nobody reads its output, so
/// it stops, and does not claim success.
#[track_caller]
pub fn assert_stops_when_stdout_is_closed(command: Command, timeout: std::time::Duration) {
    let program = format!("{command:?}");
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = crate::process::run_with_stdout(command, b"", timeout, writer.into());
    assert!(
        !out.stderr.contains("panicked"),
        "{program}: {}",
        out.stderr
    );
    assert_eq!(out.code(), Some(1), "{program}: {}", out.stderr);
}

/// Every convention for a lesson's pair of programs: `--help` on both; the server refuses a
/// port in use and bad addresses; the client, run with `client_args` and `client_stdin`,
/// refuses bad addresses and reports a refused connection, each in one sentence.
pub fn assert_server_and_client(
    server: &str,
    client: &str,
    client_args: &[&str],
    client_stdin: &[u8],
) {
    assert_help(server);
    assert_help(client);
    // SO_REUSEADDR does not let a second program listen where one already listens.
    assert_port_in_use(server, &[]);
    assert_bad_addresses_refused(server, &[], b"");
    assert_bad_addresses_refused(client, client_args, client_stdin);
    assert_connection_refused(client, client_args, client_stdin);
}

/// One sentence on stderr, starting with `error: `, and no trace of a panic.
pub fn assert_one_sentence(stderr: &str) {
    assert!(stderr.starts_with("error: "), "stderr: {stderr:?}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "stderr: {stderr:?}");
    assert!(!stderr.contains("panicked"), "stderr: {stderr:?}");
}

/// `bin --help` exits 0 and documents `--addr`.
pub fn assert_help(bin: &str) {
    let out = run(bin, &["--help"], &[], b"");
    assert_eq!(out.code(), Some(0), "{bin} --help; stderr: {}", out.stderr);
    assert!(
        out.stdout.contains("--addr"),
        "{bin} --help: {}",
        out.stdout
    );
}

/// A server started on an address where another socket already listens exits with status 1
/// and one sentence saying the address is in use. `args` come after `--addr ADDR`.
pub fn assert_port_in_use(server: &str, args: &[&str]) {
    let taken = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let addr = taken.local_addr().unwrap().to_string();
    let out = run(server, &["--addr", &addr], args, b"");
    assert_fails_in_one_sentence(&out, &format!("{server} on a port in use"));
    assert!(out.stderr.contains("already in use"), "{}", out.stderr);
}

/// Each malformed `--addr` makes `bin` exit with status 1 and one sentence. `args` come after
/// `--addr ADDR`; `stdin` is the program's input (for a client that would read a message).
pub fn assert_bad_addresses_refused(bin: &str, args: &[&str], stdin: &[u8]) {
    for bad in ["not-an-address", "127.0.0.1", "127.0.0.1:99999"] {
        let out = run(bin, &["--addr", bad], args, stdin);
        assert_fails_in_one_sentence(&out, &format!("{bin} --addr {bad}"));
    }
}

/// A client pointed at a port where nobody listens exits with status 1 and one sentence saying
/// the connection was refused. `args` come after `--addr ADDR`.
pub fn assert_connection_refused(client: &str, args: &[&str], stdin: &[u8]) {
    // A port that was free a moment ago, with nobody listening on it now.
    let addr = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .to_string();
    let out = run(client, &["--addr", &addr], args, stdin);
    assert_fails_in_one_sentence(&out, &format!("{client} with no server"));
    assert!(out.stderr.contains("refused"), "{}", out.stderr);
}

fn assert_fails_in_one_sentence(out: &Finished, what: &str) {
    assert_eq!(out.code(), Some(1), "{what}: stderr: {}", out.stderr);
    assert_one_sentence(&out.stderr);
}

fn run(bin: &str, first: &[&str], then: &[&str], stdin: &[u8]) -> Finished {
    let mut command = Command::new(bin);
    command.args(first).args(then);
    run_to_end(command, stdin, DEADLINE)
}
