//! Lesson 06: a server that notices when the network fails.
//!
//! It speaks lesson 02's protocol (greeting `Connected!`, `message N: TEXT` for the N-th line,
//! `exit` answered with `bye`), serves up to `--max-clients` clients at once on a thread each,
//! and arms keepalive and TCP_USER_TIMEOUT on every accepted connection, so that a peer that
//! vanished without a word (power cut, cable pulled, a NAT that forgot the mapping) is dropped
//! within seconds instead of hours. `ss -tno` shows each connection's keepalive timer. Run it
//! with `cargo run -p lesson-06`, and in another terminal
//! `cargo run -p lesson-06 --bin lesson-06-client -- hello` (or `nc 127.0.0.1 8888`).

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use lesson_06::failure::{self, Failure, Phase};
use lesson_06::keepalive::Keepalive;
use socket2::{Domain, Protocol, Socket, Type};

/// The first line every client gets.
const GREETING: &str = "Connected!";
/// The longest line we accept, without its line ending.
const MAX_LINE: usize = 64 * 1024;
/// After our last line, how long we wait for the client to close its side.
const LINGER: Duration = Duration::from_secs(2);

/// Lesson 06: lesson 02's protocol, many clients at once, dead peers detected by keepalive.
#[derive(Parser)]
#[command(name = "lesson-06", version, about)]
struct Args {
    /// Address to listen on, as HOST:PORT. Port 0 lets the kernel pick a free port.
    #[arg(long, default_value = "127.0.0.1:8888")]
    addr: String,

    /// Seconds a client may take to send its next whole line before it is closed.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,

    /// Seconds of silence before the kernel sends the first keepalive probe (TCP_KEEPIDLE).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=32767))]
    keepalive_idle: u64,

    /// Seconds between keepalive probes (TCP_KEEPINTVL).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=32767))]
    keepalive_interval: u64,

    /// Unanswered probes before the connection is dropped (TCP_KEEPCNT).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=127))]
    keepalive_count: u32,

    /// Seconds written data may stay unacknowledged before the connection is dropped
    /// (TCP_USER_TIMEOUT); 0 leaves it to the kernel (tcp_retries2, about 15 minutes).
    #[arg(long, default_value_t = 30)]
    user_timeout: u64,

    /// Clients served at the same time; more wait in the kernel's accept queue.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=4096))]
    max_clients: u32,

    /// The accept queue's length, passed to listen().
    #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(u32).range(0..=65535))]
    backlog: u32,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(sentence) => {
            // One clear sentence and exit status 1: never a panic or a backtrace.
            eprintln!("error: {sentence}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let addr = parse_addr(&args.addr)?;
    let listener = listen(addr, args.backlog).map_err(|e| explain_bind_error(addr, e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    let settings = Keepalive {
        idle: Duration::from_secs(args.keepalive_idle),
        interval: Duration::from_secs(args.keepalive_interval),
        count: args.keepalive_count,
        user_timeout: (args.user_timeout > 0).then(|| Duration::from_secs(args.user_timeout)),
    };
    let idle = Duration::from_secs(args.idle_timeout);
    let slots = Arc::new(Slots::new(args.max_clients as usize));
    println!("listening on {bound}");
    println!(
        "keepalive: a probe after {}s of silence, then every {}s; a silent, dead peer is \
         dropped after about {}s; user timeout {}",
        args.keepalive_idle,
        args.keepalive_interval,
        settings.detection_time().as_secs(),
        match settings.user_timeout {
            Some(t) => format!("{}s", t.as_secs()),
            None => "off (tcp_retries2)".to_string(),
        }
    );

    loop {
        // Wait for a free slot BEFORE accepting: while every slot is taken, new connections
        // wait in the kernel's accept queue (and beyond its length, their SYNs are dropped).
        slots.take();
        let (stream, peer) = match listener.accept() {
            Ok(accepted) => accepted,
            Err(e) => {
                slots.give_back();
                // Out of descriptors, for example: pause so the error cannot become a busy loop.
                log(format!("accept failed: {e}"));
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        let slot = Slot(Arc::clone(&slots));
        let spawned = thread::Builder::new()
            .name(format!("client-{peer}"))
            .spawn(move || {
                let _slot = slot;
                serve(stream, peer, &settings, idle);
            });
        if let Err(e) = spawned {
            // The closure, and with it the stream and the slot, is dropped: closed and freed.
            log(format!("cannot start a thread for {peer}: {e}"));
        }
    }
}

/// A counting semaphore: at most `limit` conversations at once.
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

impl Slots {
    fn new(limit: usize) -> Slots {
        Slots {
            free: Mutex::new(limit),
            freed: Condvar::new(),
        }
    }

    fn take(&self) {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|e| e.into_inner());
        }
        *free -= 1;
    }

    fn give_back(&self) {
        *self.free.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.freed.notify_one();
    }
}

/// One taken slot. Dropping it gives the slot back, however the conversation ended: even a
/// panic in it (a thread's panic ends that thread only) frees its slot.
struct Slot(Arc<Slots>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.give_back();
    }
}

/// socket → SO_REUSEADDR → bind → listen(backlog).
fn listen(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // Restart at once even while old connections of ours sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    // listen(n) lets n + 1 finished handshakes wait for accept() on Linux (capped at
    // net.core.somaxconn); beyond that, the kernel drops new SYNs: ListenOverflows in nstat.
    socket.listen(backlog as i32)?;
    Ok(socket.into())
}

// ANCHOR: serve
/// One client, from keepalive to close, and one log line about how it ended.
fn serve(stream: TcpStream, peer: SocketAddr, settings: &Keepalive, idle: Duration) {
    // First thing on every accepted socket: a silent, dead peer must not hold this thread (and
    // its descriptor) for the two hours Linux's defaults would take.
    // Exercise 1 arms it: our answer, or yours when built with `--features mine`.
    if let Err(e) = lesson_06::arm_keepalive(&stream, settings) {
        log(format!("{peer}: cannot arm keepalive ({e}); closed"));
        return;
    }
    println!("{peer}: connected; keepalive armed");
    let mut messages = 0;
    let end = converse(&stream, peer, idle, &mut messages);
    match end {
        End::Exit => {
            hang_up(&stream);
            println!("{peer}: said exit after {messages} messages");
        }
        End::Closed => println!("{peer}: closed the connection after {messages} messages"),
        End::TooLong => {
            hang_up(&stream);
            log(format!("{peer}: sent a line over {MAX_LINE} bytes; closed"));
        }
        End::Idle => {
            hang_up(&stream);
            log(format!("{peer}: no whole line for {idle:?}; closed"));
        }
        // No hang_up: the client reads nothing, so our last line could never get through.
        End::Stalled => log(format!(
            "{peer}: stopped reading our replies (its window stayed full for {idle:?}); closed"
        )),
        End::Failed(failure) => log(format!("{peer}: {failure}; closed")),
    }
    // Dropping the stream closes it.
}
// ANCHOR_END: serve

/// How a conversation ended.
enum End {
    Exit,
    Closed,
    TooLong,
    Idle,
    /// Our reply could not be written before the deadline: the client stopped reading.
    Stalled,
    Failed(Failure),
}

// ANCHOR: converse
/// Greeting, then one reply per line. Each line must be whole within `idle` of the previous
/// reply: a total deadline, so a client sending a byte now and then cannot hold us for ever.
fn converse(stream: &TcpStream, peer: SocketAddr, idle: Duration, messages: &mut u64) -> End {
    let mut writer = stream;
    let mut deadline = Instant::now() + idle;
    if let Err(e) = write_line(&mut writer, GREETING, deadline) {
        return End::Failed(failure::classify(&e, Phase::Established));
    }
    let mut reader = BufReader::new(stream);
    let mut line = Vec::new();
    loop {
        let reply = match read_line(&mut reader, &mut line, deadline) {
            Ok(Line::Text(text)) if text == "exit" => {
                let _ = write_line(&mut writer, "bye", Instant::now() + idle);
                return End::Exit;
            }
            Ok(Line::Text(text)) => {
                *messages += 1;
                // Escaped: a client's bytes must not forge log lines or move the terminal.
                println!("{peer}: message {messages}: {}", text.escape_debug());
                format!("message {messages}: {text}")
            }
            Ok(Line::NotUtf8) => "error: not UTF-8".to_string(),
            Ok(Line::TooLong) => {
                let _ = write_line(&mut writer, "error: line too long", Instant::now() + idle);
                return End::TooLong;
            }
            Ok(Line::End) => return End::Closed,
            Ok(Line::Cut) => return End::Failed(Failure::EndOfStream),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                let _ = write_line(&mut writer, "error: idle timeout", Instant::now() + idle);
                return End::Idle;
            }
            Err(e) => return End::Failed(failure::classify(&e, Phase::Established)),
        };
        // A reply to a reader that stopped reading fills its window, then our send buffer,
        // and then write() blocks: the deadline bounds that too.
        deadline = Instant::now() + idle;
        match write_line(&mut writer, &reply, deadline) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::WouldBlock => return End::Stalled,
            Err(e) => return End::Failed(failure::classify(&e, Phase::Established)),
        }
        deadline = Instant::now() + idle;
    }
}
// ANCHOR_END: converse

/// Writes `text` and `\n` in one piece, giving up at `deadline` (WouldBlock).
fn write_line(writer: &mut &TcpStream, text: &str, deadline: Instant) -> io::Result<()> {
    let bytes = format!("{text}\n").into_bytes();
    let mut sent = 0;
    while sent < bytes.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::WouldBlock.into());
        }
        writer.set_write_timeout(Some(left))?;
        match writer.write(&bytes[sent..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// What one call to [`read_line`] found.
enum Line {
    Text(String),
    NotUtf8,
    TooLong,
    /// End of stream between lines.
    End,
    /// End of stream in the middle of a line.
    Cut,
}

/// Reads one line of at most [`MAX_LINE`] bytes, all of it before `deadline` (WouldBlock after).
fn read_line(
    reader: &mut BufReader<&TcpStream>,
    line: &mut Vec<u8>,
    deadline: Instant,
) -> io::Result<Line> {
    line.clear();
    loop {
        // Whatever the BufReader already holds needs no read(): take the line from it.
        let buffered = reader.buffer();
        if let Some(at) = buffered.iter().position(|&b| b == b'\n') {
            line.extend_from_slice(&buffered[..at]);
            reader.consume(at + 1);
            break;
        }
        let n = buffered.len();
        line.extend_from_slice(buffered);
        reader.consume(n);
        if line.len() > MAX_LINE + 1 {
            return Ok(Line::TooLong);
        }
        // Each read may wait only for what is left of the line's deadline.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::WouldBlock.into());
        }
        reader.get_ref().set_read_timeout(Some(left))?;
        match reader.fill_buf() {
            Ok([]) if line.is_empty() => return Ok(Line::End),
            Ok([]) => return Ok(Line::Cut),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    if line.len() > MAX_LINE {
        return Ok(Line::TooLong);
    }
    Ok(match String::from_utf8(std::mem::take(line)) {
        Ok(text) => Line::Text(text),
        Err(_) => Line::NotUtf8,
    })
}

/// Ends a connection without losing our last line: FIN first, then read and discard what the
/// client still sends until it closes too (at most LINGER, at most 1 MiB), then close. Closing
/// with unread bytes would send RST and could destroy our last line in the client's kernel.
fn hang_up(stream: &TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + LINGER;
    let mut discard = [0u8; 8192];
    let mut budget = 1 << 20;
    while budget > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
            break;
        }
        match (&*stream).read(&mut discard) {
            Ok(0) => break,
            Ok(n) => budget -= n.min(budget),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
}

/// One line on stderr, in one piece.
fn log(line: String) {
    let _ = io::stderr().write_all(format!("{line}\n").as_bytes());
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

/// Turns a failed bind into one sentence that says what to do.
fn explain_bind_error(addr: SocketAddr, e: io::Error) -> String {
    match e.kind() {
        ErrorKind::AddrInUse => format!(
            "address {addr} is already in use: another program is listening there; \
             stop it, or choose another port with --addr (port 0 picks a free one)"
        ),
        ErrorKind::AddrNotAvailable => {
            format!("address {addr} does not belong to this machine; try 127.0.0.1")
        }
        ErrorKind::PermissionDenied => format!(
            "not allowed to listen on {addr}: ports below 1024 need privileges; use a higher port"
        ),
        _ => format!("cannot listen on {addr}: {e}"),
    }
}
