//! A load generator for the course's servers, bounded in count and time, for loopback only.
//!
//! [`run`] opens `clients` connections at once (one thread each), and each client, on its own:
//! waits for the server's greeting, then does `messages` round trips (send one message, read one
//! reply, never more than one outstanding), then says `exit` and closes. The [`Report`] says
//! how many round trips per second that made, the latency of a round trip (p50, p99, max), the
//! time from connect to greeting, and how many clients were refused (`busy`) or failed.
//!
//! Clients never wait for one another after the start, so a server that serves one client at a
//! time is measured too: its later clients simply wait longer for their greeting.
//!
//! [`hold_idle`] opens a crowd of idle connections first, each greeted and then silent, to
//! measure the active clients beside them (an event loop's case: many connections, few busy).
//!
//! [`Framing`] says what one reply is. The course's servers end every reply with `\n`
//! ([`Framing::Lines`]). The original Python servers send replies without any delimiter, so
//! for them one `read` is taken as one reply ([`Framing::Raw`]): with one request outstanding
//! per client and replies of a few bytes on loopback, that is what happens in practice.

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock, mpsc};
use std::thread;
use std::time::{Duration, Instant};

/// The most clients one run may open.
pub const MAX_CLIENTS: usize = 2000;
/// The most round trips one run may do in all (clients × messages).
pub const MAX_ROUND_TRIPS: u64 = 5_000_000;
/// The longest a run may be given.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);
/// The longest reply line a client reads: a server that streams bytes with no newline makes
/// a client fail, not grow.
pub const MAX_REPLY: usize = 64 * 1024;

/// How replies are delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// Every greeting and reply is a line ending in `\n`; messages are sent as lines.
    Lines,
    /// No delimiter: one read is one reply, and messages are sent without a newline, as the
    /// original Python programs do.
    Raw,
}

impl Framing {
    pub fn name(self) -> &'static str {
        match self {
            Framing::Lines => "lines",
            Framing::Raw => "raw",
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    /// The server; must be a loopback address.
    pub addr: SocketAddr,
    /// Connections opened at once.
    pub clients: usize,
    /// Round trips per client.
    pub messages: usize,
    pub framing: Framing,
    /// The whole run ends by then: clients still busy are cut off and counted as failed.
    pub timeout: Duration,
    /// Zero: every client connects at the same moment. Otherwise client `i` starts connecting
    /// `i × stagger` after the start, so that a server with a short listen backlog is not
    /// flooded with handshakes at once.
    pub stagger: Duration,
}

impl Config {
    /// `clients` clients at once, `messages` round trips each, line framing, a 60 s timeout.
    pub fn new(addr: SocketAddr, clients: usize, messages: usize) -> Config {
        Config {
            addr,
            clients,
            messages,
            framing: Framing::Lines,
            timeout: Duration::from_secs(60),
            stagger: Duration::ZERO,
        }
    }
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct Report {
    pub config: Config,
    /// Round trips that got their reply, over all clients (including clients that failed later).
    pub round_trips: u64,
    /// From the moment every client thread was ready until the last one finished.
    pub elapsed: Duration,
    /// Latency of one round trip: send a message, read its reply. `None` without round trips.
    pub p50: Option<Duration>,
    pub p99: Option<Duration>,
    pub max: Option<Duration>,
    /// From the start of connect to the end of the greeting, over the clients that got one.
    pub greeting_p50: Option<Duration>,
    pub greeting_max: Option<Duration>,
    /// Clients that did every round trip.
    pub completed: usize,
    /// Clients whose greeting was a refusal starting with `busy`.
    pub refused: usize,
    /// Clients that could not connect, were cut off, timed out or got no reply.
    pub failed: usize,
    /// The whole-run timeout ended the run.
    pub timed_out: bool,
    /// Why the first failed client failed, to help when `failed` is not 0.
    pub first_failure: Option<String>,
}

impl Report {
    /// Every client failed: the run measured nothing of the server but its faults.
    pub fn all_failed(&self) -> bool {
        self.failed > 0 && self.completed == 0 && self.refused == 0
    }

    /// The column names of [`Report::csv_line`].
    pub const CSV_HEADER: &'static str = "label,framing,clients,messages,stagger_ms,round_trips,elapsed_s,\
        round_trips_per_s,p50_us,p99_us,max_us,greeting_p50_us,greeting_max_us,completed,\
        refused,failed,timed_out";

    /// Round trips per second over the whole run.
    pub fn round_trips_per_sec(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            self.round_trips as f64 / secs
        } else {
            0.0
        }
    }

    /// One CSV line (no newline) with the columns of [`Report::CSV_HEADER`]; durations in
    /// microseconds, an empty cell where there is no value.
    pub fn csv_line(&self, label: &str) -> String {
        let us = |d: Option<Duration>| d.map(|d| format!("{:.1}", micros(d))).unwrap_or_default();
        format!(
            "{},{},{},{},{},{},{:.6},{:.1},{},{},{},{},{},{},{},{},{}",
            csv_field(label),
            self.config.framing.name(),
            self.config.clients,
            self.config.messages,
            self.config.stagger.as_millis(),
            self.round_trips,
            self.elapsed.as_secs_f64(),
            self.round_trips_per_sec(),
            us(self.p50),
            us(self.p99),
            us(self.max),
            us(self.greeting_p50),
            us(self.greeting_max),
            self.completed,
            self.refused,
            self.failed,
            self.timed_out,
        )
    }

    /// A few lines for people.
    pub fn summary(&self) -> String {
        let c = &self.config;
        let ms = |d: Option<Duration>| {
            d.map(|d| format!("{:.3} ms", d.as_secs_f64() * 1e3))
                .unwrap_or_else(|| "-".to_string())
        };
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} clients x {} messages to {} ({} framing)",
            c.clients,
            c.messages,
            c.addr,
            c.framing.name()
        );
        let _ = writeln!(
            out,
            "round trips: {} in {:.3} s = {:.0}/s",
            self.round_trips,
            self.elapsed.as_secs_f64(),
            self.round_trips_per_sec()
        );
        let _ = writeln!(
            out,
            "latency:     p50 {}, p99 {}, max {}",
            ms(self.p50),
            ms(self.p99),
            ms(self.max)
        );
        let _ = writeln!(
            out,
            "greeting:    median {}, slowest {}",
            ms(self.greeting_p50),
            ms(self.greeting_max)
        );
        let _ = write!(
            out,
            "clients:     {} completed, {} refused (busy), {} failed",
            self.completed, self.refused, self.failed
        );
        if self.timed_out {
            let _ = write!(out, "; the run hit its timeout of {:?}", c.timeout);
        }
        if let Some(why) = &self.first_failure {
            let _ = write!(out, "\nfirst failure: {why}");
        }
        out
    }
}

/// Checks `config` against the limits, or says in one sentence what is wrong.
pub fn check(config: &Config) -> Result<(), String> {
    if !config.addr.ip().is_loopback() {
        return Err(format!(
            "{} is not a loopback address; loadgen only sends to this machine (127.0.0.1 or ::1)",
            config.addr
        ));
    }
    if config.clients == 0 || config.clients > MAX_CLIENTS {
        return Err(format!("--clients must be between 1 and {MAX_CLIENTS}"));
    }
    let ramp = config.stagger.checked_mul(config.clients as u32);
    if ramp.is_none_or(|ramp| ramp >= config.timeout) {
        return Err("--stagger-ms times --clients is longer than the whole --timeout".to_string());
    }
    let total = config.clients as u64 * config.messages as u64;
    if total > MAX_ROUND_TRIPS {
        return Err(format!(
            "{} clients x {} messages is more than {MAX_ROUND_TRIPS} round trips",
            config.clients, config.messages
        ));
    }
    if config.timeout.is_zero() || config.timeout > MAX_TIMEOUT {
        return Err(format!(
            "--timeout must be between 1 and {} seconds",
            MAX_TIMEOUT.as_secs()
        ));
    }
    Ok(())
}

/// Runs the load described by `config` and measures it. Errors are configuration problems or
/// a machine that cannot start the client threads; a server that misbehaves shows in the report.
pub fn run(config: &Config) -> Result<Report, String> {
    check(config)?;
    let deadline = Instant::now() + config.timeout;
    // Every client registers a handle on its socket here, so that at the deadline a blocked
    // read can be ended from outside with shutdown().
    let sockets: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
    // The starting gate: held shut (write-locked) while the threads are started; each thread
    // waits to read it. Opening it lets every client connect at the same moment.
    let gate = Arc::new(RwLock::new(()));
    let shut = gate.write().unwrap();
    let abort = Arc::new(AtomicBool::new(false));
    let (results, outcomes) = mpsc::channel();

    let mut handles = Vec::with_capacity(config.clients);
    for i in 0..config.clients {
        let client = Client {
            delay: config.stagger * i as u32,
            addr: config.addr,
            framing: config.framing,
            messages: config.messages,
            deadline,
            sockets: Arc::clone(&sockets),
        };
        let (gate, stop, results) = (Arc::clone(&gate), Arc::clone(&abort), results.clone());
        let spawned = thread::Builder::new()
            .name(format!("loadgen-{i}"))
            .stack_size(256 * 1024)
            .spawn(move || {
                drop(gate.read());
                if !stop.load(Ordering::SeqCst) {
                    let _ = results.send(client.run());
                }
            });
        match spawned {
            Ok(handle) => handles.push(handle),
            Err(e) => {
                // Let the threads already started go, with orders to do nothing.
                abort.store(true, Ordering::SeqCst);
                drop(shut);
                return Err(format!("cannot start client thread {i}: {e}"));
            }
        }
    }
    drop(results);
    let began = Instant::now();
    drop(shut);

    let mut outcomes_seen = Vec::with_capacity(config.clients);
    let mut timed_out = false;
    while outcomes_seen.len() < config.clients {
        let left = deadline.saturating_duration_since(Instant::now());
        match outcomes.recv_timeout(left) {
            Ok(outcome) => outcomes_seen.push(outcome),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                // Cut off every client still going: their blocked reads return at once.
                timed_out = true;
                for socket in sockets.lock().unwrap().iter() {
                    let _ = socket.shutdown(Shutdown::Both);
                }
                // Each client also checks the deadline before each step, so all end now.
                while outcomes_seen.len() < config.clients {
                    match outcomes.recv_timeout(Duration::from_secs(5)) {
                        Ok(outcome) => outcomes_seen.push(outcome),
                        Err(_) => break,
                    }
                }
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    for handle in handles {
        if handle.is_finished() || !timed_out {
            let _ = handle.join();
        }
    }
    Ok(summarise(config, began, outcomes_seen, timed_out))
}

/// The most idle connections [`hold_idle`] may open.
pub const MAX_IDLE: usize = 20_000;

/// Idle connections held open beside a run: each connected and greeted, then silent. Dropping
/// it closes them all.
pub struct Idle {
    /// The connections that were greeted, kept open.
    pub streams: Vec<TcpStream>,
    /// Connections told `busy` (and closed by the server).
    pub refused: usize,
    /// Connections made but not greeted within the time (a server's queue, say); kept open too.
    pub waiting: usize,
    /// Connections that could not be made, or ended without a greeting.
    pub failed: usize,
    /// The longest time from connect to greeting.
    pub greeting_max: Option<Duration>,
    /// Why the first failed connection failed.
    pub first_failure: Option<String>,
}

impl Idle {
    /// One line for people.
    pub fn summary(&self) -> String {
        let slowest = self
            .greeting_max
            .map(|d| format!("{:.3} ms", d.as_secs_f64() * 1e3))
            .unwrap_or_else(|| "-".to_string());
        let mut line = format!(
            "idle:        {} held (greeted), {} refused (busy), {} not greeted in time, {} failed; \
             slowest greeting {slowest}",
            self.streams.len() - self.waiting,
            self.refused,
            self.waiting,
            self.failed
        );
        if let Some(why) = &self.first_failure {
            let _ = write!(line, "; first failure: {why}");
        }
        line
    }
}

/// Opens `count` connections to `addr`, then reads each one's greeting, and keeps them open and
/// silent: the idle crowd beside which [`run`] measures a few active clients. A connection told
/// `busy` counts as refused; one still without a greeting when `timeout` is over counts as not
/// greeted in time (and stays open). Raises this process's descriptor limit first, and fails
/// when even then it cannot hold `count`.
pub fn hold_idle(
    addr: SocketAddr,
    count: usize,
    framing: Framing,
    timeout: Duration,
) -> Result<Idle, String> {
    if !addr.ip().is_loopback() {
        return Err(format!("{addr} is not a loopback address"));
    }
    if count > MAX_IDLE {
        return Err(format!("--idle must be at most {MAX_IDLE}"));
    }
    let limit = test_support::observe::raise_descriptor_limit();
    // The active clients and this program's own files need descriptors too.
    if let Some(limit) = limit
        && (count as u64) + MAX_CLIENTS as u64 + 64 > limit
    {
        return Err(format!(
            "{count} idle connections need more descriptors than the limit of {limit} allows \
             (ulimit -n)"
        ));
    }
    let deadline = Instant::now() + timeout;
    let mut idle = Idle {
        streams: Vec::with_capacity(count),
        refused: 0,
        waiting: 0,
        failed: 0,
        greeting_max: None,
        first_failure: None,
    };
    let fail = |idle: &mut Idle, why: String| {
        idle.failed += 1;
        idle.first_failure.get_or_insert(why);
    };
    // First every connection, then every greeting: a server that queues connections without
    // greeting them holds up one read, not every connect after it.
    let mut connected = Vec::with_capacity(count);
    for i in 1..=count {
        let left = deadline.saturating_duration_since(Instant::now());
        match TcpStream::connect_timeout(&addr, left.max(Duration::from_millis(1))) {
            Ok(stream) => connected.push((stream, Instant::now())),
            Err(e) => fail(&mut idle, format!("idle connection {i}: connect: {e}")),
        }
    }
    for (i, (stream, since)) in connected.into_iter().enumerate() {
        // Once the time is over, a greeting already in the buffer is still read at once.
        let left = deadline.saturating_duration_since(Instant::now());
        let greeting = stream
            .set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .and_then(|()| {
                Replies::new(&stream, framing)
                    .next()
                    .map(|g| g.starts_with(b"busy"))
            });
        match greeting {
            Ok(false) => {
                let took = since.elapsed();
                idle.greeting_max = Some(idle.greeting_max.map_or(took, |m| m.max(took)));
                idle.streams.push(stream);
            }
            Ok(true) => idle.refused += 1,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                idle.waiting += 1;
                idle.streams.push(stream);
            }
            Err(e) => fail(
                &mut idle,
                format!("idle connection {}: greeting: {e}", i + 1),
            ),
        }
    }
    Ok(idle)
}

/// How one client ended.
enum Ending {
    Completed,
    Refused,
    Failed(String),
}

struct Outcome {
    ending: Ending,
    greeting: Option<Duration>,
    latencies: Vec<Duration>,
    finished: Instant,
}

struct Client {
    delay: Duration,
    addr: SocketAddr,
    framing: Framing,
    messages: usize,
    deadline: Instant,
    sockets: Arc<Mutex<Vec<TcpStream>>>,
}

impl Client {
    fn run(self) -> Outcome {
        let mut outcome = Outcome {
            ending: Ending::Completed,
            greeting: None,
            latencies: Vec::with_capacity(self.messages),
            finished: Instant::now(),
        };
        if let Err(why) = self.converse(&mut outcome) {
            outcome.ending = match why {
                // At the deadline run() shuts every socket down, so a blocked read returns
                // "closed": say what really happened.
                Ending::Failed(what) if Instant::now() >= self.deadline => {
                    let step = what.split_once(':').map_or(&*what, |(step, _)| step);
                    Ending::Failed(format!("cut off by the run's timeout while {step}"))
                }
                other => other,
            };
        }
        outcome.finished = Instant::now();
        outcome
    }

    fn converse(&self, outcome: &mut Outcome) -> Result<(), Ending> {
        let failed = |what: &str, e: io::Error| Ending::Failed(format!("{what}: {e}"));
        if !self.delay.is_zero() {
            thread::sleep(
                self.delay
                    .min(self.deadline.saturating_duration_since(Instant::now())),
            );
        }
        let connecting = Instant::now();
        let left = self.time_left()?;
        let stream =
            TcpStream::connect_timeout(&self.addr, left).map_err(|e| failed("connect", e))?;
        // The deadline bounds every read and write; shutdown() from run() ends them sooner.
        let left = self.time_left()?;
        stream
            .set_read_timeout(Some(left))
            .and_then(|()| stream.set_write_timeout(Some(left)))
            .map_err(|e| failed("setting timeouts", e))?;
        if let Ok(handle) = stream.try_clone() {
            self.sockets.lock().unwrap().push(handle);
        }
        let result = self.talk(&stream, connecting, outcome);
        // The handle kept for the deadline keeps the socket open after `stream` is dropped, so
        // end the connection explicitly: the server sees the end of the stream now.
        let _ = stream.shutdown(Shutdown::Both);
        result
    }

    /// Greeting, round trips, goodbye.
    fn talk(
        &self,
        stream: &TcpStream,
        connecting: Instant,
        outcome: &mut Outcome,
    ) -> Result<(), Ending> {
        let failed = |what: &str, e: io::Error| Ending::Failed(format!("{what}: {e}"));
        let mut reader = Replies::new(stream, self.framing);

        let greeting = reader
            .next()
            .map_err(|e| failed("reading the greeting", e))?;
        outcome.greeting = Some(connecting.elapsed());
        if greeting.starts_with(b"busy") {
            return Err(Ending::Refused);
        }

        let message: &[u8] = match self.framing {
            Framing::Lines => b"hello\n",
            Framing::Raw => b"hello",
        };
        let mut writer = stream;
        for n in 0..self.messages {
            self.time_left()?;
            let sent = Instant::now();
            writer
                .write_all(message)
                .map_err(|e| failed(&format!("sending message {}", n + 1), e))?;
            reader
                .next()
                .map_err(|e| failed(&format!("reading reply {}", n + 1), e))?;
            outcome.latencies.push(sent.elapsed());
        }

        // Say goodbye as a client should. Lines: the server answers `bye`; read it so that our
        // close does not race its reply. Raw: the original server answers nothing.
        match self.framing {
            Framing::Lines => {
                if writer.write_all(b"exit\n").is_ok() {
                    let _ = reader.next();
                }
            }
            Framing::Raw => {
                let _ = writer.write_all(b"exit");
            }
        }
        Ok(())
    }

    fn time_left(&self) -> Result<Duration, Ending> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(Ending::Failed("the run's timeout came first".to_string()))
        } else {
            Ok(left)
        }
    }
}

/// Reads one reply at a time, by the framing.
struct Replies<'a> {
    reader: BufReader<&'a TcpStream>,
    framing: Framing,
    buf: Vec<u8>,
}

impl<'a> Replies<'a> {
    fn new(stream: &'a TcpStream, framing: Framing) -> Self {
        Replies {
            reader: BufReader::new(stream),
            framing,
            buf: Vec::with_capacity(1024),
        }
    }

    /// The next reply; end of stream is an error (a reply was expected).
    fn next(&mut self) -> io::Result<&[u8]> {
        let closed = || io::Error::new(io::ErrorKind::UnexpectedEof, "the server closed");
        self.buf.clear();
        match self.framing {
            Framing::Lines => {
                // At most one byte more than the limit, to see that a line is too long.
                let n = (&mut self.reader)
                    .take(MAX_REPLY as u64 + 1)
                    .read_until(b'\n', &mut self.buf)?;
                if self.buf.len() > MAX_REPLY {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("a reply longer than {MAX_REPLY} bytes"),
                    ));
                }
                if n == 0 || self.buf.last() != Some(&b'\n') {
                    return Err(closed());
                }
            }
            Framing::Raw => {
                self.buf.resize(1024, 0);
                let n = self.reader.read(&mut self.buf)?;
                if n == 0 {
                    return Err(closed());
                }
                self.buf.truncate(n);
            }
        }
        Ok(&self.buf)
    }
}

fn summarise(config: &Config, began: Instant, outcomes: Vec<Outcome>, timed_out: bool) -> Report {
    let mut latencies = Vec::new();
    let mut greetings = Vec::new();
    let (mut completed, mut refused, mut failed) = (0, 0, 0);
    let mut first_failure = None;
    let mut last = began;
    for outcome in &outcomes {
        latencies.extend_from_slice(&outcome.latencies);
        greetings.extend(outcome.greeting);
        last = last.max(outcome.finished);
        match &outcome.ending {
            Ending::Completed => completed += 1,
            Ending::Refused => refused += 1,
            Ending::Failed(why) => {
                failed += 1;
                first_failure.get_or_insert_with(|| why.clone());
            }
        }
    }
    // Clients that never reported (cut off and still stuck) count as failed.
    let missing = config.clients - outcomes.len();
    if missing > 0 {
        failed += missing;
        first_failure.get_or_insert_with(|| "cut off at the run's timeout".to_string());
    }
    latencies.sort_unstable();
    greetings.sort_unstable();
    Report {
        config: config.clone(),
        round_trips: latencies.len() as u64,
        elapsed: last - began,
        p50: percentile(&latencies, 0.50),
        p99: percentile(&latencies, 0.99),
        max: latencies.last().copied(),
        greeting_p50: percentile(&greetings, 0.50),
        greeting_max: greetings.last().copied(),
        completed,
        refused,
        failed,
        timed_out,
        first_failure,
    }
}

/// The nearest-rank percentile of sorted values: the smallest value with at least `q` of all
/// values at or below it.
pub fn percentile(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

/// A CSV cell: quoted when it holds a comma, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}
