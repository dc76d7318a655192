//! Starting programs under test, reading their output, and waiting for them, all with deadlines.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::DEADLINE;

/// The longest stdout line kept from a server; the rest of a longer line is skipped. A server
/// that prints an endless line must not make the test grow without bound.
pub const MAX_LINE: usize = 64 * 1024;
/// The most stdout lines kept unread; later ones are dropped until some are read.
const MAX_LINES: usize = 10_000;
/// The most stderr kept from a server: its last bytes, with a note of how many came before.
pub const MAX_STDERR: usize = 1 << 20;

/// A server process started for a test. It is killed when dropped, so a failing test never
/// leaves a stray process behind; a server started in a process group of its own
/// ([`Server::try_start_group`]) is killed with every process it started.
pub struct Server {
    child: Child,
    addr: SocketAddr,
    stdout: Receiver<String>,
    stderr: Arc<Mutex<Tail>>,
    /// The server leads a process group of its own: stopping it stops the whole group.
    group: bool,
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
    /// its first stdout line, `listening on ADDR`. Panics when it does not come.
    #[track_caller]
    pub fn start(bin: &str, args: &[&str]) -> Server {
        Server::try_start(bin, args).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`Server::start`], but says why the server did not start instead of panicking.
    pub fn try_start(bin: &str, args: &[&str]) -> Result<Server, String> {
        let mut command = Command::new(bin);
        command.arg("--addr").arg("127.0.0.1:0").args(args);
        Server::try_start_command(command)
    }

    /// Starts any command whose first stdout line is `listening on ADDR`. Panics when that line
    /// does not come.
    #[track_caller]
    pub fn start_command(command: Command) -> Server {
        Server::try_start_command(command).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Like [`Server::start_command`], but says why the server did not start.
    pub fn try_start_command(command: Command) -> Result<Server, String> {
        Server::launch(command, false)
    }

    /// Like [`Server::try_start_command`], in a process group of its own: when the server is
    /// stopped (dropped), or has exited, every process it started (a `sh -c` wrapper's child, a
    /// server that forks) is killed with it.
    pub fn try_start_group(mut command: Command) -> Result<Server, String> {
        command.process_group(0);
        Server::launch(command, true)
    }

    fn launch(mut command: Command, group: bool) -> Result<Server, String> {
        let program = format!("{command:?}");
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("could not start {program}: {e}"))?;

        // Each output stream is read by its own thread, so the server never blocks on a full
        // pipe and the test can wait for a line with a deadline.
        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::sync_channel(MAX_LINES);
        thread::spawn(move || read_lines(stdout, &tx));
        let stderr = Arc::new(Mutex::new(Tail::default()));
        collect_into(
            child.stderr.take().expect("stderr is piped"),
            Arc::clone(&stderr),
        );
        let mut server = Server {
            child,
            // Replaced below by the address the server prints.
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            stdout: lines,
            stderr,
            group,
        };

        let first = match server.stdout.recv_timeout(DEADLINE) {
            Ok(line) => line,
            // Dropping `server` stops it.
            Err(_) => {
                return Err(format!(
                    "{program} printed no first line within {DEADLINE:?}; stderr: {}",
                    server.stderr()
                ));
            }
        };
        match first
            .strip_prefix("listening on ")
            .and_then(|rest| rest.trim().parse().ok())
        {
            Some(addr) => {
                server.addr = addr;
                Ok(server)
            }
            None => Err(format!(
                "{program}: first stdout line should be `listening on ADDR`, got {}",
                shown(&first)
            )),
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
    /// At most its last [`MAX_STDERR`] bytes, after a note of how many came before them.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().text()
    }

    /// Waits for the server to exit by itself, for at most `timeout`. `None`: still running.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let status = wait_with_deadline(&mut self.child, timeout)?;
        // Whatever it started dies with it.
        self.kill_group();
        Some(status)
    }

    /// Kills every process of the server's own process group, if it has one.
    fn kill_group(&self) {
        if self.group {
            // The group keeps the leader's process id as long as any process is in it.
            let pgid = self.child.id() as libc::pid_t;
            // SAFETY: killpg takes plain integers and touches no memory of ours.
            unsafe { libc::killpg(pgid, libc::SIGKILL) };
        }
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
        let status = match self.wait_exit(timeout) {
            Some(status) => status,
            None => {
                self.kill_group();
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
        // The group first, while the leader (even a zombie) keeps its process id reserved.
        self.kill_group();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `command` to completion with `stdin` as its standard input, for at most `timeout`;
/// kills it and panics if it runs longer.
pub fn run_to_end(command: Command, stdin: &[u8], timeout: Duration) -> Finished {
    run_with_stdout(command, stdin, timeout, Stdio::piped())
}

/// [`run_to_end`], with `stdout` as the program's standard output (collected when it is
/// `Stdio::piped()`).
pub(crate) fn run_with_stdout(
    mut command: Command,
    stdin: &[u8],
    timeout: Duration,
    stdout: Stdio,
) -> Finished {
    let program = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("could not start {program}: {e}"));
    // A program run to its end is the course's own (a client), whose whole output a test
    // compares; only the run's deadline bounds it.
    let stdout = Arc::new(Mutex::new(Tail::unbounded()));
    let stderr = Arc::new(Mutex::new(Tail::unbounded()));
    let out_reader = child
        .stdout
        .take()
        .map(|out| collect_into(out, Arc::clone(&stdout)));
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
            stdout.lock().unwrap().text(),
            stderr.lock().unwrap().text()
        );
    };
    if let Some(out_reader) = out_reader {
        let _ = out_reader.join();
    }
    let _ = err_reader.join();
    let stdout = stdout.lock().unwrap().text();
    let stderr = stderr.lock().unwrap().text();
    Finished {
        status,
        stdout,
        stderr,
    }
}

/// Text read from a program, keeping at most its last `limit` bytes.
struct Tail {
    text: String,
    /// Bytes dropped from the front.
    dropped: usize,
    limit: usize,
}

impl Default for Tail {
    fn default() -> Tail {
        Tail {
            text: String::new(),
            dropped: 0,
            limit: MAX_STDERR,
        }
    }
}

impl Tail {
    fn unbounded() -> Tail {
        Tail {
            limit: usize::MAX,
            ..Tail::default()
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        self.text.push_str(&String::from_utf8_lossy(bytes));
        // Trimmed in halves, so a long stream is not copied on every read.
        if self.text.len() > self.limit.saturating_add(self.limit / 2) {
            let mut cut = self.text.len() - self.limit;
            while !self.text.is_char_boundary(cut) {
                cut += 1;
            }
            self.text.drain(..cut);
            self.dropped += cut;
        }
    }

    fn text(&self) -> String {
        if self.dropped == 0 {
            return self.text.clone();
        }
        format!("[{} bytes not kept] {}", self.dropped, self.text)
    }
}

/// Reads `stream` to its end on a new thread, appending (lossily decoded) text to `into`.
fn collect_into(
    mut stream: impl Read + Send + 'static,
    into: Arc<Mutex<Tail>>,
) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => into.lock().unwrap().push(&buf[..n]),
            }
        }
    })
}

/// Sends each line of `stream` (lossily decoded, without its newline) to `lines`, each cut
/// after [`MAX_LINE`] bytes; drops lines while [`MAX_LINES`] wait unread.
fn read_lines(stream: impl Read, lines: &SyncSender<String>) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = Vec::new();
        // At most MAX_LINE + 1 bytes: more than MAX_LINE means the line is too long.
        match (&mut reader)
            .take(MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let too_long = line.last() != Some(&b'\n') && line.len() > MAX_LINE;
        if too_long {
            line.truncate(MAX_LINE);
        } else if line.last() == Some(&b'\n') {
            line.pop();
        }
        let text = String::from_utf8_lossy(&line).into_owned();
        match lines.try_send(text) {
            Ok(()) | Err(TrySendError::Full(_)) => {}
            Err(TrySendError::Disconnected(_)) => return,
        }
        if too_long {
            skip_line(&mut reader);
        }
    }
}

/// Skips the rest of a line, a bounded piece at a time.
fn skip_line(reader: &mut impl BufRead) {
    loop {
        let mut rest = Vec::new();
        match reader.take(MAX_LINE as u64).read_until(b'\n', &mut rest) {
            Ok(0) | Err(_) => return,
            Ok(_) if rest.last() == Some(&b'\n') => return,
            Ok(_) => {}
        }
    }
}

/// A line for an error message: quoted, and cut after 200 characters.
fn shown(line: &str) -> String {
    let start: String = line.chars().take(200).collect();
    if start.len() < line.len() {
        format!("{start:?}… ({} bytes)", line.len())
    } else {
        format!("{line:?}")
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_without_end_is_cut_and_the_next_line_still_comes() {
        let mut endless = vec![b'x'; 10 * MAX_LINE];
        endless.extend_from_slice(b"\nnext\n");
        let (tx, rx) = mpsc::sync_channel(MAX_LINES);
        read_lines(&endless[..], &tx);
        let first = rx.try_recv().unwrap();
        assert_eq!(first.len(), MAX_LINE);
        assert_eq!(rx.try_recv().unwrap(), "next");
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn stderr_keeps_its_last_bytes_and_says_how_many_went() {
        let mut tail = Tail::default();
        for _ in 0..4 * MAX_STDERR / 1000 {
            tail.push(&[b'e'; 1000]);
        }
        tail.push(b"error: the last line\n");
        let text = tail.text();
        assert!(text.len() <= MAX_STDERR * 3 / 2 + 100, "{}", text.len());
        assert!(text.starts_with('[') && text.contains(" bytes not kept] "));
        assert!(text.ends_with("error: the last line\n"));
    }

    #[test]
    fn a_server_that_prints_no_address_is_an_error_not_a_panic() {
        let mut command = Command::new("sh");
        command.arg("-c").arg("echo hello");
        let error = Server::try_start_command(command).err().unwrap();
        assert!(error.contains("`listening on ADDR`"), "{error}");
    }
}
