//! Sample servers for the checker's own tests, in this process: a correct one for each lesson's
//! protocol, and the same with one fault (a [`Flaw`]) switched on, so that each check is seen to
//! pass on the right behaviour and to fail on the fault it is there to catch. Lesson 04's
//! binary protocol has a sample of its own, in [`upload`].

#![allow(dead_code)]

pub mod upload;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use checker::{Exit, Instance, Lesson};
use socket2::{Domain, Socket, Type};

/// The idle timeout of every sample server; the checker is told the same.
pub const IDLE: Duration = Duration::from_secs(2);
/// Lessons 02 and 03's longest line.
const LINE_LIMIT: usize = 64 * 1024;
/// How long a flawed server holds on where a correct one would not: longer than the checker
/// waits, and bounded, so no test leaves a thread behind for long.
const HOLD: Duration = Duration::from_secs(5);
/// How long a flawed server spins: longer than the checker waits, short enough to spare the CPU
/// for the other tests.
const SPIN: Duration = Duration::from_secs(3);

/// How a conversation ended, from the server's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// `exit`.
    Exit,
    /// End of stream after whole lines.
    Eof,
    /// End of stream in the middle of a line.
    EofMidLine,
    /// A read failed (a reset).
    ReadError,
    NotUtf8,
    /// A line that came in more than one read.
    Split,
    TooLong,
    Idle,
    /// A read that held more than one line.
    Glued,
}

/// One fault, switched on in an otherwise correct sample server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flaw {
    None,
    NoGreeting,
    /// `message 0: …`, `0:ACK!`, or lesson 01's reply without `received: `.
    WrongReply,
    /// Lesson 02: one count for all connections.
    CountsAcrossConnections,
    /// Lesson 03: always `7:ACK!`.
    SameAck,
    /// `exit` is just another message.
    IgnoresExit,
    /// End of stream is ignored: the connection stays open (lesson 01: after its reply).
    KeepsOpenAtEof,
    /// Each read is one message: no line framing at all.
    RepliesPerRead,
    /// Lines are framed, but each read is checked for UTF-8 on its own.
    DecodesPerRead,
    /// After a half-close: reads end of stream again and again, for a while, without closing.
    SpinsOnHalfClose,
    /// After a half-close: closes properly, then spins (for the CPU measurement).
    SpinsAfterClose,
    /// Bytes that are not UTF-8 are answered lossily (lessons 02 and 03).
    LossyNotUtf8,
    /// Bytes that are not UTF-8 get an error line (lesson 01 shows them lossily instead).
    NotUtf8Error,
    NoLineLimit,
    NoIdleTimeout,
    /// Of a read holding several lines, only the first is answered.
    GluedDropsRest,
    /// The server stops (closes its listener) when this happens, as a crash would.
    CrashesOn(Event),
    /// The server stops after accepting this many connections.
    StopsAfter(usize),
    /// Lesson 03 with one worker: one client at a time.
    OneWorker,
    /// Lesson 05 served by lesson 03's pool (four workers, a queue of eight): a few at a time.
    Pool,
    /// Lesson 05: reads everything a client sends, however much, and keeps it (here: reads and
    /// drops it, which looks the same from outside): no backpressure.
    NoBackpressure,
    /// Lesson 01: the process ends with a panic, whatever happened.
    ExitsDirty,
    /// Binds but never listens: every connection is refused.
    NotListening,
    /// Lesson 04: a fault of its sample server.
    Upload(upload::Fault),
    /// After `bye`, closes at once, with what the client still sends unread.
    NoLinger,
    /// A timeout per read only: a line trickled a byte at a time lasts for ever.
    PerReadTimeout,
    /// A thread per connection instead of one at a time or a pool.
    ThreadPerConnection,
}

/// A lingering close: shut down our side (FIN), then read and drop what the client still sends
/// until its end of stream, for half a second at most, so that closing does not reset the
/// connection (and lose the last word) while the client is still writing.
pub fn linger(stream: &mut TcpStream) {
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let deadline = Instant::now() + Duration::from_millis(500);
    let mut buf = [0u8; 64 * 1024];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        let _ = stream.set_read_timeout(Some(left));
        if !matches!(stream.read(&mut buf), Ok(n) if n > 0) {
            return;
        }
    }
}

/// State shared by a sample server's threads.
struct Shared {
    lesson: Lesson,
    flaw: Flaw,
    /// Where it listens; stopped when it crashed, or the test is over.
    life: Life,
    accepted: AtomicUsize,
    /// Messages answered on all connections, for [`Flaw::CountsAcrossConnections`].
    total: AtomicUsize,
    random: AtomicU64,
}

impl Shared {
    /// A random ACK number from 1 to 1000 (xorshift: good enough for a sample).
    fn ack(&self) -> u64 {
        let mut x = self.random.load(Ordering::Relaxed);
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.random.store(x, Ordering::Relaxed);
        x % 1000 + 1
    }
}

/// A sample server for lesson 02 (one client at a time), 03 (a pool) or 05 (a thread per
/// connection), running until dropped.
pub struct Sample;

/// Where a sample listens, and whether it has stopped: all that stopping it takes.
pub struct Life {
    pub addr: SocketAddr,
    stopped: AtomicBool,
}

impl Life {
    pub fn new(addr: SocketAddr, stopped: bool) -> Life {
        Life {
            addr,
            stopped: AtomicBool::new(stopped),
        }
    }

    pub fn running(&self) -> bool {
        !self.stopped.load(Ordering::SeqCst)
    }

    /// Stops the server, and wakes the acceptor blocked in accept() so it sees it.
    pub fn stop(&self) {
        if !self.stopped.swap(true, Ordering::SeqCst) {
            let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        }
    }
}

/// A sample's shared state, which holds its [`Life`].
pub trait Lives: Send + Sync {
    fn life(&self) -> &Life;
}

/// A sample server running in this process, until dropped.
pub struct Running {
    shared: Arc<dyn Lives>,
    /// For a sample that binds but never listens: the bound socket, kept open.
    _bound: Option<Socket>,
}

impl Running {
    pub fn new(shared: Arc<dyn Lives>, bound: Option<Socket>) -> Running {
        Running {
            shared,
            _bound: bound,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.shared.life().addr
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.shared.life().stop();
    }
}

impl Lives for Shared {
    fn life(&self) -> &Life {
        &self.life
    }
}

impl Sample {
    pub fn start(lesson: Lesson, flaw: Flaw) -> Running {
        assert_ne!(lesson, Lesson::L01, "lesson 01 is OneShot");
        if flaw == Flaw::NotListening {
            let (socket, addr) = bind_only();
            let shared = Arc::new(Shared {
                lesson,
                flaw,
                life: Life::new(addr, true),
                accepted: AtomicUsize::new(0),
                total: AtomicUsize::new(0),
                random: AtomicU64::new(1),
            });
            return Running::new(shared, Some(socket));
        }
        let listener = listen();
        let shared = Arc::new(Shared {
            lesson,
            flaw,
            life: Life::new(listener.local_addr().unwrap(), false),
            accepted: AtomicUsize::new(0),
            total: AtomicUsize::new(0),
            random: AtomicU64::new(0x2545_f491_4f6c_dd1d),
        });
        let for_acceptor = Arc::clone(&shared);
        if lesson == Lesson::L02 {
            thread::spawn(move || serve_one_at_a_time(listener, for_acceptor));
        } else if lesson == Lesson::L05 && !matches!(flaw, Flaw::OneWorker | Flaw::Pool) {
            thread::spawn(move || serve_each_on_a_thread(listener, for_acceptor));
        } else {
            let workers = if flaw == Flaw::OneWorker { 1 } else { 4 };
            let (jobs, queue) = mpsc::sync_channel::<TcpStream>(8);
            let queue = Arc::new(Mutex::new(queue));
            for _ in 0..workers {
                let queue = Arc::clone(&queue);
                let shared = Arc::clone(&shared);
                thread::spawn(move || work(queue, shared));
            }
            thread::spawn(move || accept_into_pool(listener, jobs, for_acceptor));
        }
        Running::new(shared, None)
    }
}

/// A socket bound to a free port, but not listening: connections to it are refused.
fn bind_only() -> (Socket, SocketAddr) {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    socket.bind(&addr.into()).unwrap();
    let addr = socket.local_addr().unwrap().as_socket().unwrap();
    (socket, addr)
}

/// A listener with a long backlog, so 200 connections at once all fit.
fn listen() -> TcpListener {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    let addr: SocketAddr = "127.0.0.1:0".parse().unwrap();
    socket.bind(&addr.into()).unwrap();
    socket.listen(1024).unwrap();
    socket.into()
}

/// Accepts the next connection, or `None` when the server should stop (closing its listener).
fn next_client(listener: &TcpListener, shared: &Shared) -> Option<TcpStream> {
    let (stream, _) = listener.accept().ok()?;
    let n = shared.accepted.fetch_add(1, Ordering::SeqCst) + 1;
    if !shared.life.running() {
        return None;
    }
    if let Flaw::StopsAfter(limit) = shared.flaw
        && n > limit
    {
        return None;
    }
    Some(stream)
}

fn serve_one_at_a_time(listener: TcpListener, shared: Arc<Shared>) {
    while let Some(stream) = next_client(&listener, &shared) {
        if shared.flaw == Flaw::ThreadPerConnection {
            let shared = Arc::clone(&shared);
            thread::spawn(move || drop(serve_lines(stream, &shared)));
            continue;
        }
        let (event, stream) = serve_lines(stream, &shared);
        if shared.flaw == Flaw::CrashesOn(event) {
            shared.life.stop();
            drop(stream);
            return;
        }
    }
}

/// Lesson 05's sample: a thread per connection. As many clients at once as come, which is
/// what lesson 05's event loop offers too (there without a thread for each).
fn serve_each_on_a_thread(listener: TcpListener, shared: Arc<Shared>) {
    while let Some(stream) = next_client(&listener, &shared) {
        let shared = Arc::clone(&shared);
        thread::spawn(move || {
            if shared.flaw == Flaw::NoBackpressure {
                let mut stream = stream;
                let _ = stream.write_all(b"Hello World!\n");
                let _ = stream.set_read_timeout(Some(HOLD));
                let _ = std::io::copy(&mut stream, &mut std::io::sink());
                return;
            }
            let (event, stream) = serve_lines(stream, &shared);
            if shared.flaw == Flaw::CrashesOn(event) {
                shared.life.stop();
                drop(stream);
            }
        });
    }
}

fn accept_into_pool(listener: TcpListener, jobs: SyncSender<TcpStream>, shared: Arc<Shared>) {
    while let Some(stream) = next_client(&listener, &shared) {
        if shared.flaw == Flaw::ThreadPerConnection {
            let shared = Arc::clone(&shared);
            thread::spawn(move || drop(serve_lines(stream, &shared)));
            continue;
        }
        if let Err(mpsc::TrySendError::Full(mut stream)) = jobs.try_send(stream) {
            let _ = stream.write_all(b"busy: try again later\n");
        }
    }
}

fn work(queue: Arc<Mutex<Receiver<TcpStream>>>, shared: Arc<Shared>) {
    work_on(&queue, &*shared, |stream| {
        let (event, stream) = serve_lines(stream, &shared);
        (shared.flaw == Flaw::CrashesOn(event), stream)
    });
}

/// A worker of a sample's pool: takes connections from `queue` until it closes, and while the
/// sample is `running`, serves each with `serve`, which says whether the sample crashes now.
/// A crash stops the sample first and closes the connection after: the client must not see
/// the close before the server is down.
pub fn work_on<S: Lives, T>(
    queue: &Mutex<Receiver<TcpStream>>,
    shared: &S,
    mut serve: impl FnMut(TcpStream) -> (bool, T),
) {
    loop {
        let next = queue.lock().unwrap().recv();
        let Ok(stream) = next else { return };
        if !shared.life().running() {
            continue;
        }
        let (crash, connection) = serve(stream);
        if crash {
            shared.life().stop();
        }
        drop(connection);
    }
}
/// One conversation of lessons 02 and 03, with the sample's flaw. Returns how it ended, and
/// the connection still open (if it is), so the caller decides what happens first.
fn serve_lines(mut stream: TcpStream, shared: &Shared) -> (Event, Option<TcpStream>) {
    let flaw = shared.flaw;
    let idle = if flaw == Flaw::NoIdleTimeout {
        HOLD
    } else {
        IDLE
    };
    let _ = stream.set_read_timeout(Some(idle));
    let greeting: &[u8] = match shared.lesson {
        Lesson::L02 => b"Welcome to the sample server\n",
        _ => b"Hello World!\n",
    };
    if flaw != Flaw::NoGreeting {
        let _ = stream.write_all(greeting);
    }
    // The server stops here, before it answers, when the flaw is to crash on this event.
    macro_rules! event {
        ($event:expr) => {
            if flaw == Flaw::CrashesOn($event) {
                return ($event, Some(stream));
            }
        };
    }
    let mut count = 0;
    let mut pending: Vec<u8> = Vec::new();
    // When the line under way began: it must be whole within the idle timeout, in total.
    let mut line_began: Option<Instant> = None;
    let mut reads_in_line = 0;
    let mut bad_read = false;
    let mut buf = [0u8; 4096];
    // A server that decodes each read on its own fails whenever a character is split between
    // reads. Reading one byte at a time makes every multi-byte character split, whatever the
    // timing of the packets, so the check is sure to catch this flaw.
    let read_size = if flaw == Flaw::DecodesPerRead {
        1
    } else {
        buf.len()
    };
    loop {
        let wait = match line_began {
            Some(began) if flaw != Flaw::PerReadTimeout => idle.saturating_sub(began.elapsed()),
            _ => idle,
        };
        let read = if wait.is_zero() {
            Err(ErrorKind::TimedOut.into())
        } else {
            let _ = stream.set_read_timeout(Some(wait));
            stream.read(&mut buf[..read_size])
        };
        let n = match read {
            Ok(0) if flaw == Flaw::KeepsOpenAtEof => {
                thread::sleep(HOLD);
                return (Event::Eof, Some(stream));
            }
            Ok(0) if flaw == Flaw::SpinsOnHalfClose => {
                let started = Instant::now();
                while started.elapsed() < SPIN && matches!(stream.read(&mut buf), Ok(0)) {}
                return (Event::Eof, Some(stream));
            }
            Ok(0) if flaw == Flaw::SpinsAfterClose => {
                drop(stream);
                let started = Instant::now();
                let mut x = 0u64;
                while started.elapsed() < SPIN {
                    x = std::hint::black_box(x.wrapping_add(1));
                }
                return (Event::Eof, None);
            }
            Ok(0) if pending.is_empty() => {
                event!(Event::Eof);
                return (Event::Eof, Some(stream));
            }
            Ok(0) => {
                event!(Event::EofMidLine);
                return (Event::EofMidLine, Some(stream));
            }
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                event!(Event::Idle);
                let _ = stream.write_all(b"error: idle timeout\n");
                return (Event::Idle, Some(stream));
            }
            Err(_) => {
                event!(Event::ReadError);
                return (Event::ReadError, Some(stream));
            }
        };
        let chunk = &buf[..n];

        if flaw == Flaw::RepliesPerRead {
            let text = String::from_utf8_lossy(chunk);
            let text = text.trim_end_matches(['\r', '\n']);
            if text == "exit" {
                let _ = stream.write_all(b"bye\n");
                return (Event::Exit, Some(stream));
            }
            count += 1;
            let reply = reply(shared, count, text);
            let _ = stream.write_all(reply.as_bytes());
            continue;
        }

        pending.extend_from_slice(chunk);
        reads_in_line += 1;
        if flaw == Flaw::DecodesPerRead && std::str::from_utf8(chunk).is_err() {
            bad_read = true;
        }
        if chunk.iter().filter(|&&b| b == b'\n').count() > 1 {
            event!(Event::Glued);
        }
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let mut line: Vec<u8> = pending.drain(..=end).collect();
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if reads_in_line > 1 {
                event!(Event::Split);
            }
            reads_in_line = usize::from(!pending.is_empty());
            let valid = std::str::from_utf8(&line).is_ok() && !std::mem::take(&mut bad_read);
            if !valid && flaw == Flaw::LossyNotUtf8 {
                count += 1;
                let text = String::from_utf8_lossy(&line);
                let _ = stream.write_all(reply(shared, count, &text).as_bytes());
                continue;
            }
            if !valid {
                event!(Event::NotUtf8);
                let _ = stream.write_all(b"error: not UTF-8\n");
                continue;
            }
            let text = String::from_utf8_lossy(&line).into_owned();
            if text == "exit" && flaw != Flaw::IgnoresExit {
                let _ = stream.write_all(b"bye\n");
                if flaw != Flaw::NoLinger {
                    linger(&mut stream);
                }
                return (Event::Exit, Some(stream));
            }
            count += 1;
            let _ = stream.write_all(reply(shared, count, &text).as_bytes());
            if flaw == Flaw::GluedDropsRest {
                pending.clear();
            }
        }
        if pending.is_empty() {
            line_began = None;
        } else if line_began.is_none() {
            line_began = Some(Instant::now());
        }
        if pending.len() > LINE_LIMIT && flaw != Flaw::NoLineLimit {
            event!(Event::TooLong);
            let _ = stream.write_all(b"error: line too long\n");
            return (Event::TooLong, Some(stream));
        }
    }
}

/// The reply to the `n`-th message `text`, in the sample's lesson, with its flaw.
fn reply(shared: &Shared, n: usize, text: &str) -> String {
    let flaw = shared.flaw;
    match shared.lesson {
        Lesson::L02 => {
            let n = match flaw {
                Flaw::WrongReply => n - 1,
                Flaw::CountsAcrossConnections => shared.total.fetch_add(1, Ordering::SeqCst) + 1,
                _ => n,
            };
            format!("message {n}: {text}\n")
        }
        _ => {
            let r = match flaw {
                Flaw::WrongReply => 0,
                Flaw::SameAck => 7,
                _ => shared.ack(),
            };
            format!("{r}:ACK!\n")
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Lesson 01: one client, one message, then the "process" ends.

/// A lesson-01 sample: serves one client on a thread, then reports how it "exited".
pub struct OneShot {
    addr: SocketAddr,
    exit: Receiver<Exit>,
    /// For [`Flaw::NotListening`]: the bound socket, kept open.
    _bound: Option<Socket>,
}

impl OneShot {
    pub fn start(flaw: Flaw) -> OneShot {
        let (report, exit) = mpsc::channel();
        if flaw == Flaw::NotListening {
            let (socket, addr) = bind_only();
            return OneShot {
                addr,
                exit,
                _bound: Some(socket),
            };
        }
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            let Ok((stream, _)) = listener.accept() else {
                return;
            };
            drop(listener);
            let (code, stderr) = serve_one(stream, flaw);
            let (code, stderr) = if flaw == Flaw::ExitsDirty {
                (
                    101,
                    "thread 'main' panicked at src/main.rs:1:1\n".to_string(),
                )
            } else {
                (code, stderr)
            };
            let _ = report.send(Exit {
                code: Some(code),
                stderr,
            });
        });
        OneShot {
            addr,
            exit,
            _bound: None,
        }
    }
}

impl Instance for OneShot {
    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn pid(&self) -> Option<u32> {
        None
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<Exit> {
        self.exit.recv_timeout(timeout).ok()
    }
}

/// Lesson 01's conversation; returns the exit status and stderr.
fn serve_one(mut stream: TcpStream, flaw: Flaw) -> (i32, String) {
    let error = |sentence: &str| (1, format!("error: {sentence}\n"));
    if flaw != Flaw::NoGreeting {
        let _ = stream.write_all(b"Connected!\n");
    }
    let idle = if flaw == Flaw::NoIdleTimeout {
        HOLD
    } else {
        IDLE
    };
    let _ = stream.set_read_timeout(Some(idle));
    let mut message = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) if message.is_empty() => return error("closed without sending a message"),
            Ok(0) => break,
            Ok(n) => message.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return error("sent nothing");
            }
            Err(e) => return error(&format!("reading failed: {e}")),
        }
        // One read is one message, except for the flaw that reads on to a newline, unbounded.
        if flaw != Flaw::NoLineLimit || message.ends_with(b"\n") {
            break;
        }
    }
    let reply = if flaw == Flaw::NotUtf8Error && std::str::from_utf8(&message).is_err() {
        "error: not UTF-8".to_string()
    } else {
        let text = String::from_utf8_lossy(&message);
        let text = text.trim_end_matches('\n').trim_end_matches('\r');
        if flaw == Flaw::WrongReply {
            text.to_string()
        } else {
            format!("received: {text}")
        }
    };
    let _ = stream.write_all(format!("{reply}\n").as_bytes());
    if flaw == Flaw::KeepsOpenAtEof {
        thread::sleep(HOLD);
    }
    (0, String::new())
}
