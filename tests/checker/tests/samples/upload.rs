//! A sample server for lesson 04's protocol, in this process: files kept in memory, a small
//! pool of workers, and one [`Fault`] that can be switched on. Its frames are written here from
//! the chapter's byte tables, not with the checker's own code, so that a mistake in the
//! checker's frames is not repeated here and hidden.

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use sha2::{Digest, Sha256};

use super::{HOLD, IDLE, Life, Lives, Running, bind_only, listen, work_on};

/// The largest upload the sample accepts; the checker is told the same.
pub const MAX_SIZE: u64 = 1 << 20;

const MAGIC: u8 = 0xF1;
const FILE: u8 = 1;
const DATA: u8 = 2;
const READY: u8 = 3;
const STORED: u8 = 4;
const LIST: u8 = 5;
const ENTRY: u8 = 6;
const END: u8 = 7;
const GET: u8 = 8;
const ERROR: u8 = 9;

pub const BAD_FRAME: u8 = 1;
pub const BAD_NAME: u8 = 2;
pub const TOO_LARGE: u8 = 3;
pub const EXISTS: u8 = 4;
pub const CHECKSUM: u8 = 5;
pub const NOT_FOUND: u8 = 7;
pub const BUSY: u8 = 8;

/// How a conversation ended, from the server's side, for [`Fault::CrashesOn`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The server sent an ERROR frame with this code.
    Refused(u8),
    /// The connection failed in the middle of an upload.
    Lost,
    /// The client said nothing for the idle timeout.
    Idle,
}

/// One fault, switched on in an otherwise correct sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Writes the length of its frames little-endian.
    LittleEndian,
    /// Sends a downloaded file with its first byte changed.
    CorruptsGet,
    /// Ends a list without END.
    ListWithoutEnd,
    /// Waits for a DATA frame even when the file has 0 bytes.
    EmptyNeedsData,
    /// Answers GET of a missing name with an empty file.
    MissingIsEmpty,
    /// Stores an upload whatever its checksum.
    IgnoresChecksum,
    /// At the end of the stream, holds the connection open instead of closing it.
    KeepsOpenAtEof,
    /// Never looks at the magic byte.
    IgnoresMagic,
    /// Skips frames of unknown types.
    SkipsUnknownTypes,
    /// Trusts every length, and waits for the payload announced.
    NoLengthCheck,
    /// Refuses only the empty name.
    NoNameCheck,
    /// Accepts any declared size.
    NoSizeLimit,
    /// Keeps what came of an upload cut short, under its name.
    KeepsPartial,
    /// One worker: one client at a time.
    OneAtATime,
    NoIdleTimeout,
    /// A second upload of a name replaces the first.
    Overwrites,
    /// Binds but never listens: every connection is refused.
    NotListening,
    /// Stops (closes its listener) after accepting this many connections.
    StopsAfter(usize),
    /// Stops when this happens, as a crash would.
    CrashesOn(Event),
    /// After an ERROR frame, closes at once, with what the client still sends unread.
    NoLinger,
    /// A timeout per read only: a frame or an upload trickled a byte at a time lasts for ever.
    PerReadTimeout,
    /// A thread per connection instead of the pool.
    ThreadPerConnection,
}

/// The sample's minimum upload rate, in bytes per second over each idle-timeout window; the
/// checker is told the same.
pub const MIN_RATE: u64 = 16 * 1024;

struct Shared {
    fault: Fault,
    life: Life,
    accepted: AtomicUsize,
    files: Mutex<BTreeMap<String, Vec<u8>>>,
}

/// A lesson-04 sample, running until dropped.
pub struct Sample;

impl Lives for Shared {
    fn life(&self) -> &Life {
        &self.life
    }
}

impl Sample {
    pub fn start(fault: Fault) -> Running {
        let (listener, bound, addr) = if fault == Fault::NotListening {
            let (socket, addr) = bind_only();
            (None, Some(socket), addr)
        } else {
            let listener = listen();
            let addr = listener.local_addr().unwrap();
            (Some(listener), None, addr)
        };
        let shared = Arc::new(Shared {
            fault,
            life: Life::new(addr, listener.is_none()),
            accepted: AtomicUsize::new(0),
            files: Mutex::new(BTreeMap::new()),
        });
        if let Some(listener) = listener {
            let workers = if fault == Fault::OneAtATime { 1 } else { 4 };
            let (jobs, queue) = mpsc::sync_channel::<TcpStream>(16);
            let queue = Arc::new(Mutex::new(queue));
            for _ in 0..workers {
                let (queue, shared) = (Arc::clone(&queue), Arc::clone(&shared));
                thread::spawn(move || work(queue, shared));
            }
            let for_acceptor = Arc::clone(&shared);
            thread::spawn(move || accept(listener, jobs, for_acceptor));
        }
        Running::new(shared, bound)
    }
}

fn accept(listener: TcpListener, jobs: SyncSender<TcpStream>, shared: Arc<Shared>) {
    loop {
        let Ok((stream, _)) = listener.accept() else {
            return;
        };
        let n = shared.accepted.fetch_add(1, Ordering::SeqCst) + 1;
        let over = matches!(shared.fault, Fault::StopsAfter(limit) if n > limit);
        if !shared.life.running() || over {
            return;
        }
        if shared.fault == Fault::ThreadPerConnection {
            let shared = Arc::clone(&shared);
            thread::spawn(move || drop(serve(stream, &shared)));
            continue;
        }
        if let Err(mpsc::TrySendError::Full(mut stream)) = jobs.try_send(stream) {
            let _ = stream.write_all(&frame(shared.fault, ERROR, &error(BUSY, "busy")));
        }
    }
}

fn work(queue: Arc<Mutex<Receiver<TcpStream>>>, shared: Arc<Shared>) {
    work_on(&queue, &*shared, |stream| {
        let (event, stream) = serve(stream, &shared);
        let crash = event.is_some_and(|event| shared.fault == Fault::CrashesOn(event));
        (crash, stream)
    });
}

/// A frame: header (with the sample's fault) and payload.
fn frame(fault: Fault, kind: u8, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let len = if fault == Fault::LittleEndian {
        len.to_le_bytes()
    } else {
        len.to_be_bytes()
    };
    let mut bytes = vec![MAGIC, kind];
    bytes.extend_from_slice(&len);
    bytes.extend_from_slice(payload);
    bytes
}

fn error(code: u8, message: &str) -> Vec<u8> {
    let mut payload = vec![code];
    payload.extend_from_slice(message.as_bytes());
    payload
}

/// The payload of FILE and STORED: size (u64, big-endian), SHA-256, name.
fn file_info(size: u64, sha256: &[u8], name: &str) -> Vec<u8> {
    let mut payload = size.to_be_bytes().to_vec();
    payload.extend_from_slice(sha256);
    payload.extend_from_slice(name.as_bytes());
    payload
}

fn allowed(kind: u8) -> Option<std::ops::RangeInclusive<usize>> {
    Some(match kind {
        FILE | STORED => 41..=295,
        DATA => 1..=65536,
        READY | LIST | END => 0..=0,
        ENTRY => 9..=263,
        GET => 1..=255,
        ERROR => 1..=1025,
        _ => return None,
    })
}

fn safe(name: &str) -> bool {
    !name.is_empty()
        && !name.contains(['/', '\\', '\0'])
        && !name.contains("..")
        && !name.starts_with('.')
}

/// Why the sample stopped reading frames.
enum Stop {
    /// The client closed between frames.
    Eof,
    /// Refuse with this ERROR frame, then close.
    Refuse(u8, String),
    /// The connection failed (or went silent, with `idle`).
    Lost { idle: bool },
}

/// Reads one frame: `Ok(None)` at a clean end of the stream.
fn read_frame(stream: &mut TcpStream, fault: Fault) -> Result<Option<(u8, Vec<u8>)>, Stop> {
    let idle = if fault == Fault::NoIdleTimeout {
        HOLD
    } else {
        IDLE
    };
    loop {
        let mut head = [0u8; 6];
        let _ = stream.set_read_timeout(Some(idle));
        match stream.read(&mut head[..1]) {
            Ok(0) => return Ok(None),
            Ok(_) => {}
            Err(e) => return Err(lost(e)),
        }
        // The rest of the frame within the idle timeout, in total (unless the fault).
        let deadline = (fault != Fault::PerReadTimeout).then(|| Instant::now() + idle);
        fill(stream, &mut head[1..], deadline)?;
        let [magic, kind, l0, l1, l2, l3] = head;
        let len = u32::from_be_bytes([l0, l1, l2, l3]) as usize;
        if magic != MAGIC && fault != Fault::IgnoresMagic {
            return Err(Stop::Refuse(BAD_FRAME, format!("bad magic {magic:#x}")));
        }
        let range = match allowed(kind) {
            Some(range) => range,
            None if fault == Fault::SkipsUnknownTypes => {
                skip(stream, len)?;
                continue;
            }
            None => return Err(Stop::Refuse(BAD_FRAME, format!("unknown type {kind}"))),
        };
        if !range.contains(&len) {
            if fault != Fault::NoLengthCheck {
                return Err(Stop::Refuse(BAD_FRAME, format!("impossible length {len}")));
            }
            skip(stream, len)?;
            return Err(Stop::Refuse(BAD_FRAME, format!("bad length {len}")));
        }
        let mut payload = vec![0u8; len];
        fill(stream, &mut payload, deadline)?;
        return Ok(Some((kind, payload)));
    }
}

/// `read_exact`, by `deadline` in total when there is one.
fn fill(stream: &mut TcpStream, buf: &mut [u8], deadline: Option<Instant>) -> Result<(), Stop> {
    let Some(deadline) = deadline else {
        return stream.read_exact(buf).map_err(lost);
    };
    let mut got = 0;
    while got < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Stop::Lost { idle: true });
        }
        let _ = stream.set_read_timeout(Some(left));
        match stream.read(&mut buf[got..]) {
            Ok(0) => return Err(Stop::Lost { idle: false }),
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(lost(e)),
        }
    }
    Ok(())
}

/// Reads and throws away `len` bytes (at most 64 KiB at a time).
fn skip(stream: &mut TcpStream, len: usize) -> Result<(), Stop> {
    let mut left = len as u64;
    let mut buf = vec![0u8; 64 * 1024];
    while left > 0 {
        let want = left.min(buf.len() as u64) as usize;
        stream.read_exact(&mut buf[..want]).map_err(lost)?;
        left -= want as u64;
    }
    Ok(())
}

fn lost(e: std::io::Error) -> Stop {
    Stop::Lost {
        idle: matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

/// One connection: requests until the client closes, or a refusal. Returns what ended it (for
/// [`Fault::CrashesOn`]) and the connection, still open.
fn serve(mut stream: TcpStream, shared: &Shared) -> (Option<Event>, TcpStream) {
    let fault = shared.fault;
    let idle = if fault == Fault::NoIdleTimeout {
        HOLD
    } else {
        IDLE
    };
    let _ = stream.set_read_timeout(Some(idle));
    loop {
        let outcome = match read_frame(&mut stream, fault) {
            Ok(None) => Err(Stop::Eof),
            Ok(Some((FILE, payload))) => upload(&mut stream, shared, &payload),
            Ok(Some((LIST, _))) => list(&mut stream, shared),
            Ok(Some((GET, payload))) => get(&mut stream, shared, &payload),
            Ok(Some((kind, _))) => Err(Stop::Refuse(BAD_FRAME, format!("{kind} out of place"))),
            Err(stop) => Err(stop),
        };
        match outcome {
            Ok(()) => continue,
            Err(Stop::Eof) => {
                if fault == Fault::KeepsOpenAtEof {
                    thread::sleep(HOLD);
                }
                return (None, stream);
            }
            Err(Stop::Lost { idle }) => {
                return (Some(if idle { Event::Idle } else { Event::Lost }), stream);
            }
            Err(Stop::Refuse(code, message)) => {
                // A crash on a refusal comes before the answer, as a panic in the code that
                // refuses would.
                if fault == Fault::CrashesOn(Event::Refused(code)) {
                    shared.life.stop();
                }
                let _ = stream.write_all(&frame(fault, ERROR, &error(code, &message)));
                // A lingering close: read what the client still sends, so that closing does
                // not reset the connection before the client has read the ERROR frame.
                if fault != Fault::NoLinger {
                    super::linger(&mut stream);
                }
                return (Some(Event::Refused(code)), stream);
            }
        }
    }
}

fn upload(stream: &mut TcpStream, shared: &Shared, payload: &[u8]) -> Result<(), Stop> {
    let fault = shared.fault;
    let size = u64::from_be_bytes(payload[..8].try_into().unwrap());
    let sha256 = payload[8..40].to_vec();
    let Ok(name) = String::from_utf8(payload[40..].to_vec()) else {
        return Err(Stop::Refuse(BAD_NAME, "not UTF-8".into()));
    };
    let name_ok = if fault == Fault::NoNameCheck {
        !name.is_empty()
    } else {
        safe(&name)
    };
    if !name_ok {
        return Err(Stop::Refuse(BAD_NAME, format!("unsafe name {name:?}")));
    }
    if size > MAX_SIZE && fault != Fault::NoSizeLimit {
        return Err(Stop::Refuse(TOO_LARGE, format!("{size} bytes")));
    }
    let exists = shared.files.lock().unwrap().contains_key(&name);
    if exists && fault != Fault::Overwrites {
        return Err(Stop::Refuse(EXISTS, format!("{name:?} exists")));
    }
    write(stream, &frame(fault, READY, &[]))?;
    let mut bytes = Vec::new();
    let mut first = true;
    // The minimum rate: at least MIN_RATE × IDLE bytes in every idle-timeout window.
    let (mut window, mut at_window) = (Instant::now(), 0);
    while (bytes.len() as u64) < size || (first && fault == Fault::EmptyNeedsData) {
        first = false;
        if window.elapsed() >= IDLE && fault != Fault::PerReadTimeout {
            if ((bytes.len() - at_window) as u64) < MIN_RATE * IDLE.as_secs() {
                return Err(Stop::Lost { idle: true });
            }
            (window, at_window) = (Instant::now(), bytes.len());
        }
        match read_frame(stream, fault) {
            Ok(Some((DATA, data))) => bytes.extend_from_slice(&data),
            Ok(Some((kind, _))) => {
                return Err(Stop::Refuse(BAD_FRAME, format!("{kind} in an upload")));
            }
            Ok(None) | Err(Stop::Lost { .. }) if fault == Fault::KeepsPartial => {
                shared.files.lock().unwrap().insert(name, bytes);
                return Err(Stop::Lost { idle: false });
            }
            Ok(None) => return Err(Stop::Lost { idle: false }),
            Err(stop) => return Err(stop),
        }
        if bytes.len() as u64 > size {
            return Err(Stop::Refuse(BAD_FRAME, "too many bytes".into()));
        }
    }
    let actual = Sha256::digest(&bytes);
    if actual[..] != sha256[..] && fault != Fault::IgnoresChecksum {
        return Err(Stop::Refuse(CHECKSUM, "checksum mismatch".into()));
    }
    shared.files.lock().unwrap().insert(name.clone(), bytes);
    write(
        stream,
        &frame(fault, STORED, &file_info(size, &sha256, &name)),
    )
}

fn list(stream: &mut TcpStream, shared: &Shared) -> Result<(), Stop> {
    let fault = shared.fault;
    let mut out = Vec::new();
    for (name, bytes) in shared.files.lock().unwrap().iter() {
        let mut payload = (bytes.len() as u64).to_be_bytes().to_vec();
        payload.extend_from_slice(name.as_bytes());
        out.extend(frame(fault, ENTRY, &payload));
    }
    if fault != Fault::ListWithoutEnd {
        out.extend(frame(fault, END, &[]));
    }
    write(stream, &out)
}

fn get(stream: &mut TcpStream, shared: &Shared, payload: &[u8]) -> Result<(), Stop> {
    let fault = shared.fault;
    let name = String::from_utf8_lossy(payload).into_owned();
    let found = shared.files.lock().unwrap().get(&name).cloned();
    let mut bytes = match found {
        Some(bytes) => bytes,
        None if fault == Fault::MissingIsEmpty => Vec::new(),
        None => return Err(Stop::Refuse(NOT_FOUND, format!("no {name:?}"))),
    };
    let sha256 = Sha256::digest(&bytes);
    let mut out = frame(fault, FILE, &file_info(bytes.len() as u64, &sha256, &name));
    if fault == Fault::CorruptsGet
        && let Some(first) = bytes.first_mut()
    {
        *first ^= 1;
    }
    for piece in bytes.chunks(64 * 1024) {
        out.extend(frame(fault, DATA, piece));
    }
    write(stream, &out)
}

fn write(stream: &mut TcpStream, bytes: &[u8]) -> Result<(), Stop> {
    stream
        .write_all(bytes)
        .map_err(|_| Stop::Lost { idle: false })
}
