//! The `loadgen` program, against small servers written here: it measures, it prints CSV, it
//! speaks raw framing, it ends by its timeout, and it refuses addresses off this machine.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use test_support::cli::assert_stops_when_stdout_is_closed;
use test_support::{DEADLINE, run_to_end};

const LOADGEN: &str = env!("CARGO_BIN_EXE_loadgen");

#[derive(Clone, Copy)]
enum Style {
    /// Greeting and replies are lines.
    Lines,
    /// Like the original Python server: no newline anywhere, one reply per read.
    Raw,
    /// Greets, then never answers.
    Mute,
    /// Sends bytes without end, and never a newline.
    Endless,
}

/// A server on a free port that serves every connection on a thread of its own.
fn server(style: Style) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            thread::spawn(move || serve(stream, style));
        }
    });
    addr
}

fn serve(mut stream: TcpStream, style: Style) {
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    match style {
        Style::Endless => {
            let piece = [b'x'; 64 * 1024];
            // Until the client gives up (or 1 GiB, so no test can leave it running for long).
            for _ in 0..16 * 1024 {
                if stream.write_all(&piece).is_err() {
                    return;
                }
            }
        }
        Style::Lines | Style::Mute => {
            let _ = stream.write_all(b"Hello World!\n");
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            while matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
                let reply: &[u8] = match (style, line.trim_end()) {
                    (Style::Mute, _) => continue,
                    (_, "exit") => b"bye\n",
                    _ => b"7:ACK!\n",
                };
                line.clear();
                if stream.write_all(reply).is_err() || reply == b"bye\n" {
                    return;
                }
            }
        }
        Style::Raw => {
            let _ = stream.write_all(b"Hello World!");
            let mut buf = [0u8; 1024];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 || &buf[..n] == b"exit" {
                    return;
                }
                if stream.write_all(b"7:ACK!").is_err() {
                    return;
                }
            }
        }
    }
}

fn loadgen(args: &[&str]) -> test_support::Finished {
    let mut command = Command::new(LOADGEN);
    command.args(args);
    run_to_end(command, b"", DEADLINE)
}

/// The cells of a CSV line, by column name.
fn cells(header: &str, line: &str) -> Vec<(String, String)> {
    header
        .split(',')
        .map(str::to_string)
        .zip(line.trim_end().split(',').map(str::to_string))
        .collect()
}

fn cell<'a>(cells: &'a [(String, String)], name: &str) -> &'a str {
    &cells.iter().find(|(n, _)| n == name).unwrap().1
}

#[test]
fn prints_a_summary_for_a_line_server() {
    let addr = server(Style::Lines).to_string();
    let out = loadgen(&["--addr", &addr, "--clients", "4", "--messages", "25"]);
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    assert!(out.stdout.contains("round trips: 100 in"), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("4 completed, 0 refused (busy), 0 failed")
    );
    assert!(out.stdout.contains("p50"), "{}", out.stdout);
}

#[test]
fn prints_one_csv_line_that_matches_the_header() {
    let header = loadgen(&["--csv-header"]).stdout;
    let addr = server(Style::Lines).to_string();
    let args = ["--addr", &addr, "--clients", "3", "--messages", "10"];
    let out = loadgen(&[&args[..], &["--csv", "--label", "a, b"]].concat());
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
    // The label holds a comma, so it is quoted.
    let line = out.stdout.replacen("\"a, b\"", "ab", 1);
    let cells = cells(header.trim_end(), &line);
    assert_eq!(cells.len(), header.trim_end().split(',').count(), "{line}");
    assert_eq!(cell(&cells, "label"), "ab");
    assert_eq!(cell(&cells, "round_trips"), "30");
    assert_eq!(cell(&cells, "completed"), "3");
    assert_eq!(cell(&cells, "failed"), "0");
    assert!(cell(&cells, "round_trips_per_s").parse::<f64>().unwrap() > 0.0);
}

#[test]
fn raw_framing_takes_one_read_as_one_reply() {
    let addr = server(Style::Raw).to_string();
    let out = loadgen(&[
        "--addr",
        &addr,
        "--clients",
        "4",
        "--messages",
        "20",
        "--framing",
        "raw",
    ]);
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    assert!(out.stdout.contains("round trips: 80 in"), "{}", out.stdout);
    assert!(out.stdout.contains("4 completed"), "{}", out.stdout);
}

#[test]
fn a_server_that_never_answers_ends_the_run_at_its_timeout() {
    let addr = server(Style::Mute).to_string();
    let started = Instant::now();
    let out = loadgen(&["--addr", &addr, "--clients", "3", "--timeout", "1"]);
    assert!(started.elapsed() < Duration::from_secs(5));
    // The report is printed; the status says that nothing succeeded.
    assert_eq!(out.code(), Some(1), "stderr: {}", out.stderr);
    assert!(
        out.stderr
            .starts_with("error: every one of the 3 clients failed"),
        "{}",
        out.stderr
    );
    assert!(
        out.stdout
            .contains("0 completed, 0 refused (busy), 3 failed")
    );
    assert!(out.stdout.contains("hit its timeout"), "{}", out.stdout);
}

#[test]
fn a_reply_without_end_fails_the_client_instead_of_growing_it() {
    let addr = server(Style::Endless).to_string();
    let out = loadgen(&["--addr", &addr, "--clients", "2", "--timeout", "20"]);
    assert_eq!(out.code(), Some(1), "stderr: {}", out.stderr);
    assert!(
        out.stdout
            .contains("0 completed, 0 refused (busy), 2 failed"),
        "{}",
        out.stdout
    );
    assert!(out.stderr.contains("longer than"), "{}", out.stderr);
    assert!(!out.stdout.contains("hit its timeout"), "{}", out.stdout);
}

#[test]
fn a_closed_stdout_is_not_a_panic() {
    let addr = server(Style::Lines).to_string();
    for args in [
        vec!["--csv-header"],
        vec!["--addr", &addr, "--clients", "2", "--messages", "3"],
    ] {
        let mut command = Command::new(LOADGEN);
        command.args(args);
        assert_stops_when_stdout_is_closed(command, DEADLINE);
    }
}

#[test]
fn addresses_off_this_machine_are_refused_before_any_traffic() {
    for addr in ["192.0.2.1:8888", "[2001:db8::1]:8888", "0.0.0.0:8888"] {
        let out = loadgen(&["--addr", addr]);
        assert_eq!(out.code(), Some(1), "{addr}");
        assert!(out.stderr.starts_with("error: "), "{}", out.stderr);
        assert!(out.stderr.contains("loopback"), "{}", out.stderr);
    }
}

#[test]
fn limits_are_enforced() {
    for args in [
        &["--clients", "0"][..],
        &["--clients", "100000"],
        &["--clients", "1000", "--messages", "100000"],
        &["--timeout", "0"],
        &["--timeout", "100000"],
    ] {
        let out = loadgen(args);
        assert_eq!(out.code(), Some(1), "{args:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    }
}

#[test]
fn idle_connections_are_greeted_and_held_beside_the_clients() {
    let addr = server(Style::Lines).to_string();
    let out = loadgen(&[
        "--addr",
        &addr,
        "--idle",
        "40",
        "--clients",
        "4",
        "--messages",
        "10",
    ]);
    assert_eq!(out.code(), Some(0), "stderr: {}", out.stderr);
    assert!(
        out.stdout.contains(
            "idle:        40 held (greeted), 0 refused (busy), 0 not greeted in time, 0 failed"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stderr.contains("holding 40 idle connections"),
        "{}",
        out.stderr
    );
    assert!(out.stdout.contains("4 completed"), "{}", out.stdout);
    // A server that accepts nobody: the connections wait in its backlog, never greeted.
    let mute = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = mute.local_addr().unwrap().to_string();
    let out = loadgen(&[
        "--addr",
        &addr,
        "--idle",
        "2",
        "--clients",
        "1",
        "--timeout",
        "1",
    ]);
    assert!(
        out.stdout.contains(
            "idle:        0 held (greeted), 0 refused (busy), 2 not greeted in time, 0 failed"
        ),
        "{}",
        out.stdout
    );
}
