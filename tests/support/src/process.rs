//! Starting programs under test, reading their output, and waiting for them, all with deadlines.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::DEADLINE;

/// A server process started for a test. It is killed when dropped, so a failing test never
/// leaves a stray process behind.
pub struct Server {
    child: Child,
    addr: SocketAddr,
    stdout: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    /// The thread that copies stderr into `stderr`; it ends at the end of the stream.
    stderr_reader: thread::JoinHandle<()>,
}

/// What a finished program printed and how it ended.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// The exit code, or `None` when a signal ended the program.
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }
}

impl Server {
    /// Starts the server binary `bin` with `--addr 127.0.0.1:0` and then `args`, and waits for
    /// its first stdout line, `listening on ADDR`.
    pub fn start(bin: &str, args: &[&str]) -> Server {
        let mut command = Command::new(bin);
        command.arg("--addr").arg("127.0.0.1:0").args(args);
        Server::start_command(command)
    }

    /// Starts any command whose first stdout line is `listening on ADDR`.
    pub fn start_command(command: Command) -> Server {
        Server::start_reading(command, false)
    }

    /// Like [`Server::start`], but closes the server's stdout once its first line is read, as
    /// `server | head -1` does: every later write to stdout fails (EPIPE).
    pub fn start_then_close_stdout(bin: &str, args: &[&str]) -> Server {
        let mut command = Command::new(bin);
        command.arg("--addr").arg("127.0.0.1:0").args(args);
        Server::start_reading(command, true)
    }

    fn start_reading(mut command: Command, only_first_line: bool) -> Server {
        let program = format!("{command:?}");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("could not start {program}: {e}"));

        // Each output stream is read by its own thread, so the server never blocks on a full
        // pipe and the test can wait for a line with a deadline.
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() || only_first_line {
                    break;
                }
            }
            // Leaving the loop drops the pipe's reading end.
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let stderr_reader = collect_into(
            child.stderr.take().expect("stderr is piped"),
            Arc::clone(&stderr),
        );

        let first = match lines.recv_timeout(DEADLINE) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{program} printed no first line within {DEADLINE:?}; stderr: {}",
                    stderr.lock().unwrap()
                );
            }
        };
        let addr = first
            .strip_prefix("listening on ")
            .and_then(|rest| rest.trim().parse().ok())
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("{program}: first stdout line should be `listening on ADDR`, got {first:?}")
            });
        Server {
            child,
            addr,
            stdout: lines,
            stderr,
            stderr_reader,
        }
    }

    /// The address the server really bound (from its first line).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The server's process id, for looking at `/proc/PID` or sending it a signal.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line the server prints on stdout, or `None` if none comes within `timeout`
    /// (or the server closed its stdout).
    pub fn next_line(&self, timeout: Duration) -> Option<String> {
        self.stdout.recv_timeout(timeout).ok()
    }

    /// Reads stdout lines until one contains `needle`, for at most `timeout` in all.
    /// Panics with the lines seen when none does.
    pub fn expect_line_containing(&self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stdout.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => seen.push(line),
                Err(RecvTimeoutError::Timeout) | Err(RecvTimeoutError::Disconnected) => panic!(
                    "server printed no line containing {needle:?} within {timeout:?}; \
                     stdout lines seen: {seen:?}; stderr: {}",
                    self.stderr()
                ),
            }
        }
    }

    /// Waits until stderr contains `needle`, for at most `timeout`. Returns whether it did.
    pub fn wait_for_stderr(&self, needle: &str, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.stderr().contains(needle) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            // Polling a buffer another thread fills; this is not synchronisation by sleeping.
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Everything the server printed on stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits for the server to exit by itself, for at most `timeout`. `None`: still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait_with_deadline(&mut self.child, timeout)
    }

    /// Sends a signal by name (`TERM`, `INT`, `KILL`) with the `kill` command.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .expect("the kill command runs");
        assert!(status.success(), "kill -{name} {} failed", self.pid());
    }

    /// Waits for the server to exit (at most `timeout`, then kills it and panics) and returns
    /// its exit status with the rest of its stdout and all its stderr.
    pub fn finish(mut self, timeout: Duration) -> Finished {
        let status = match wait_with_deadline(&mut self.child, timeout) {
            Some(status) => status,
            None => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "server did not exit within {timeout:?}; stderr: {}",
                    self.stderr()
                );
            }
        };
        // The reader threads end at end of stream, which comes right after the exit.
        let mut stdout = String::new();
        while let Ok(line) = self.stdout.recv_timeout(Duration::from_secs(2)) {
            stdout.push_str(&line);
            stdout.push('\n');
        }
        // The same for stderr: wait (at most 2 s) until its reader has seen the end of it.
        let until = Instant::now() + Duration::from_secs(2);
        while !self.stderr_reader.is_finished() && Instant::now() < until {
            thread::sleep(Duration::from_millis(5));
        }
        let stderr = self.stderr();
        Finished {
            status,
            stdout,
            stderr,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `command` to completion with `stdin` as its standard input, for at most `timeout`;
/// kills it and panics if it runs longer.
pub fn run_to_end(mut command: Command, stdin: &[u8], timeout: Duration) -> Finished {
    let program = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {program}: {e}"));
    let stdout = Arc::new(Mutex::new(String::new()));
    let stderr = Arc::new(Mutex::new(String::new()));
    let out_reader = collect_into(child.stdout.take().unwrap(), Arc::clone(&stdout));
    let err_reader = collect_into(child.stderr.take().unwrap(), Arc::clone(&stderr));

    let mut input = child.stdin.take().unwrap();
    let bytes = stdin.to_vec();
    // Written from a thread: a program that does not read its input must not block the test.
    thread::spawn(move || {
        let _ = input.write_all(&bytes);
        // Dropping `input` closes the pipe: the program sees end of input.
    });

    let Some(status) = wait_with_deadline(&mut child, timeout) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "{program} did not finish within {timeout:?}; stdout: {}; stderr: {}",
            stdout.lock().unwrap(),
            stderr.lock().unwrap()
        );
    };
    let _ = out_reader.join();
    let _ = err_reader.join();
    let stdout = stdout.lock().unwrap().clone();
    let stderr = stderr.lock().unwrap().clone();
    Finished {
        status,
        stdout,
        stderr,
    }
}

/// Reads `stream` to its end on a new thread, appending (lossily decoded) text to `into`.
fn collect_into(
    mut stream: impl Read + Send + 'static,
    into: Arc<Mutex<String>>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => into
                    .lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n])),
            }
        }
    })
}

/// `Child::wait` with a deadline: polls `try_wait`, because std has no timed wait.
fn wait_with_deadline(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(5));
    }
}
