//! The client for lesson 06: send messages in lesson 02's protocol, and survive a failing
//! network. Every failure is told in one sentence (which one: refused, timed out, reset, broken
//! pipe, unreachable, end of stream, a peer that stopped answering); then the client reconnects
//! with exponential back-off and jitter, a bounded number of times, and sends again the message
//! whose reply it never got: only a reply proves that the server received it.
//!
//! `lesson-06-client hello world` sends two messages; without messages it sends each line of
//! standard input. `--hold SECS` then keeps the connection open, idle, to watch keepalive.

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use lesson_06::backoff;
use lesson_06::failure::{self, Failure, Phase};
use lesson_06::keepalive::Keepalive;
use rand::RngExt;

/// The longest line we read from the server or from standard input.
const MAX_LINE: usize = 64 * 1024;

/// Lesson 06's client: send messages, reconnect with back-off when the connection fails.
#[derive(Parser)]
#[command(name = "lesson-06-client", version, about)]
struct Args {
    /// Address of the server, as HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:8888")]
    addr: String,

    /// Connection attempts in a row before giving up (1: never reconnect).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    attempts: u32,

    /// The longest wait between attempts starts here, in milliseconds, and doubles.
    #[arg(long, default_value_t = 200)]
    backoff_ms: u64,

    /// The longest wait between attempts never exceeds this, in milliseconds.
    #[arg(long, default_value_t = 5000)]
    max_backoff_ms: u64,

    /// Seconds for one handshake (connect).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    connect_timeout: u64,

    /// Seconds for the greeting, and for each reply once its message is sent.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    reply_timeout: u64,

    /// After the last reply, keep the connection open and idle this many seconds, reporting
    /// it if the server goes away meanwhile.
    #[arg(long, default_value_t = 0)]
    hold: u64,

    /// Keepalive on our side too: seconds of silence before the first probe.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=32767))]
    keepalive_idle: u64,

    /// Seconds between keepalive probes.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=32767))]
    keepalive_interval: u64,

    /// Unanswered probes before the connection is dropped.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=127))]
    keepalive_count: u32,

    /// Seconds our data may stay unacknowledged (TCP_USER_TIMEOUT); 0: the kernel's default.
    #[arg(long, default_value_t = 30)]
    user_timeout: u64,

    /// The messages to send; without any, each line of standard input is one.
    messages: Vec<String>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(sentence) => {
            eprintln!("error: {sentence}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let addr = parse_addr(&args.addr)?;
    let mut client = Client::new(addr, args);
    if args.messages.is_empty() {
        // One line of standard input at a time, as it comes: a message typed (or piped in)
        // later is sent later, on the connection as it is by then.
        let mut input = io::stdin().lock();
        while let Some(message) = read_stdin_line(&mut input)? {
            let reply = client.exchange(&message)?;
            println!("{reply}");
        }
    } else {
        for message in &args.messages {
            let reply = client.exchange(message)?;
            println!("{reply}");
        }
    }
    if args.hold > 0 {
        client.hold(Duration::from_secs(args.hold))?;
    }
    Ok(())
}

// ANCHOR: client
/// One connection at a time, opened again when it fails.
struct Client<'a> {
    addr: SocketAddr,
    args: &'a Args,
    settings: Keepalive,
    connection: Option<Connection>,
}

struct Connection {
    stream: TcpStream,
    reader: BufReader<TcpStream>,
}

impl Client<'_> {
    fn new(addr: SocketAddr, args: &Args) -> Client<'_> {
        let settings = Keepalive {
            idle: Duration::from_secs(args.keepalive_idle),
            interval: Duration::from_secs(args.keepalive_interval),
            count: args.keepalive_count,
            user_timeout: (args.user_timeout > 0).then(|| Duration::from_secs(args.user_timeout)),
        };
        Client {
            addr,
            args,
            settings,
            connection: None,
        }
    }

    /// Sends `message` and returns the server's reply, reconnecting (and sending it again) after
    /// a failure, at most `--attempts` times in a row.
    fn exchange(&mut self, message: &str) -> Result<String, String> {
        let mut attempt = 1;
        loop {
            let result = self.try_exchange(message);
            let failure = match result {
                Ok(reply) => return Ok(reply),
                Err(failure) => failure,
            };
            // Whatever state the old connection is in, it is of no more use.
            self.connection = None;
            if attempt >= self.args.attempts {
                return Err(format!(
                    "{failure}; gave up after {attempt} attempt{}",
                    if attempt == 1 { "" } else { "s" }
                ));
            }
            attempt += 1;
            let wait = backoff::wait(
                attempt,
                Duration::from_millis(self.args.backoff_ms),
                Duration::from_millis(self.args.max_backoff_ms),
                rand::rng().random_range(0.0..=1.0),
            );
            println!(
                "{failure}; attempt {attempt} of {} in {} ms",
                self.args.attempts,
                wait.as_millis()
            );
            thread::sleep(wait);
        }
    }

    fn try_exchange(&mut self, message: &str) -> Result<String, Failure> {
        if self.connection.is_none() {
            self.connection = Some(self.connect()?);
        }
        let connection = self.connection.as_mut().expect("connected just above");
        let mut writer = &connection.stream;
        writer
            .write_all(format!("{message}\n").as_bytes())
            .map_err(|e| failure::classify(&e, Phase::Established))?;
        let deadline = Instant::now() + Duration::from_secs(self.args.reply_timeout);
        read_reply(connection, deadline)
    }
    // ANCHOR_END: client

    /// connect, arm keepalive, read the greeting.
    fn connect(&self) -> Result<Connection, Failure> {
        let timeout = Duration::from_secs(self.args.connect_timeout);
        let stream = TcpStream::connect_timeout(&self.addr, timeout)
            .map_err(|e| failure::classify(&e, Phase::Connect))?;
        lesson_06::arm_keepalive(&stream, &self.settings)
            .map_err(|e| Failure::Other(e.to_string()))?;
        let reader = stream
            .try_clone()
            .map(BufReader::new)
            .map_err(|e| Failure::Other(e.to_string()))?;
        let mut connection = Connection { stream, reader };
        let deadline = Instant::now() + Duration::from_secs(self.args.reply_timeout);
        let greeting = read_reply(&mut connection, deadline)?;
        println!("{greeting}");
        Ok(connection)
    }

    /// Keeps the connection open and idle for `time`; reports a server that went away.
    fn hold(&mut self, time: Duration) -> Result<(), String> {
        let Some(connection) = self.connection.as_mut() else {
            return Ok(());
        };
        println!("holding the connection idle for {}s", time.as_secs());
        match read_reply(connection, Instant::now() + time) {
            Err(Failure::Deadline) => Ok(()),
            Ok(line) => Err(format!(
                "the server said {line:?} while we held the connection"
            )),
            Err(failure) => Err(failure.to_string()),
        }
    }
}

/// Reads one line before `deadline`; a read of 0 bytes is the end of the stream.
fn read_reply(connection: &mut Connection, deadline: Instant) -> Result<String, Failure> {
    let mut line = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Failure::Deadline);
        }
        let reader = &mut connection.reader;
        reader
            .get_ref()
            .set_read_timeout(Some(left))
            .map_err(|e| Failure::Other(e.to_string()))?;
        let room = (MAX_LINE + 2 - line.len()) as u64;
        match reader.by_ref().take(room).read_until(b'\n', &mut line) {
            Ok(0) => return Err(Failure::EndOfStream),
            Ok(_) if line.last() == Some(&b'\n') => break,
            Ok(_) if line.len() >= MAX_LINE + 2 => {
                return Err(Failure::Other("the server sent a line too long".into()));
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(failure::classify(&e, Phase::Established)),
        }
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

/// The next line of standard input (at most MAX_LINE bytes), or `None` at its end.
fn read_stdin_line(input: &mut impl BufRead) -> Result<Option<String>, String> {
    let mut line = Vec::new();
    let n = input
        .take(MAX_LINE as u64 + 2)
        .read_until(b'\n', &mut line)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    } else if n > MAX_LINE {
        return Err(format!("a line of standard input is over {MAX_LINE} bytes"));
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

/// Turns `--addr` into a socket address, or says what is wrong with it.
fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    let bad =
        || format!("`{text}` is not an address of the form HOST:PORT, such as 127.0.0.1:8888");
    text.to_socket_addrs()
        .map_err(|_| bad())?
        .next()
        .ok_or_else(bad)
}
