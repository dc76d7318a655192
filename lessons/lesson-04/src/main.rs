//! Lesson 04: a server that stores the files clients upload, intact or not at all.
//!
//! Clients speak a binary protocol of length-prefixed frames (`src/frame.rs`, read and written
//! by `src/connection.rs`). An upload
//! is checked (name, size) before a byte is stored, written to a temporary file, and given its
//! name only once its size and SHA-256 match what the client announced. A small fixed pool of
//! worker threads serves several clients at once; every phase of a conversation has a total
//! deadline, so that no client, however slow, holds a worker for long.
//!
//! Run it with `cargo run -p lesson-04 -- --dir received`, and in a second terminal
//! `cargo run -p lesson-04 --bin lesson-04-client -- send lessons/lesson-04/assets/postcard.png`.

use std::io::{self, BufWriter, ErrorKind, Read, Seek, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use clap::Parser;
use crossbeam_channel::{Receiver, TrySendError};
use lesson_04::cli::{explain_bind_error, parse_addr, parse_rate, parse_size};
use lesson_04::connection::{
    Pace, ReadError, Timed, TransferError, configure, describe_io, describe_peer, read_frame,
    receive_data, send_data, sha256_of, write_frame,
};
use lesson_04::descriptors::{self, Spare, out_of_resources};
use lesson_04::failure::{Failure, already_there, lost, refuse, storage_error, transfer_failure};
use lesson_04::folder::{TempFile, check_name, list_files, open_regular, prepare_dir};
use lesson_04::frame::{ErrorCode, FileInfo, Frame, MAX_DATA, MAX_MESSAGE, hex, truncate};

/// Connections accepted but not yet taken by a worker. When the queue is full, newcomers are
/// told the server is busy instead of waiting without knowing why.
const QUEUE_LEN: usize = 16;

/// The last word: how long the server may take to send an ERROR frame and then read (and
/// discard) what the client still sends, so that closing does not turn into a reset.
const LINGER: Duration = Duration::from_secs(1);

// ANCHOR: log
/// The log: a line per event, stdout for what was done, stderr for what went wrong. Each line
/// is one locked write, so lines from several workers never interleave. A log that nobody
/// reads any more (`lesson-04 | head -1` closes the pipe after one line) must not stop the
/// server: `println!` would panic on the failed write and take the worker with it, so a
/// failed write is ignored.
macro_rules! note {
    ($($line:tt)*) => {{ let _ = writeln!(io::stdout(), $($line)*); }};
}
macro_rules! warn {
    ($($line:tt)*) => {{ let _ = writeln!(io::stderr(), $($line)*); }};
}
// ANCHOR_END: log

/// Lesson 04: store uploaded files intact, list them, send them back.
#[derive(Parser)]
#[command(name = "lesson-04", version, about)]
struct Args {
    /// Address to listen on, as HOST:PORT. Port 0 lets the kernel pick a free port.
    #[arg(long, default_value = "127.0.0.1:8888")]
    addr: String,

    /// Folder where received files are stored; created if it does not exist.
    #[arg(long, default_value = "received")]
    dir: PathBuf,

    /// Largest upload accepted, in bytes, or with a suffix K, M or G (powers of 1024).
    #[arg(long, default_value = "100M", value_parser = parse_size)]
    max_size: u64,

    /// Worker threads: how many clients are served at the same time.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    workers: u16,

    /// Seconds a client may take to send one request, or stay silent between requests.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,

    /// Slowest upload or download accepted, in bytes per second (suffix K, M or G): each
    /// idle-timeout window of a transfer must move at least this rate times the window.
    #[arg(long, default_value = "16K", value_parser = parse_rate)]
    min_rate: u64,
}

/// What every worker needs to know, shared read-only between them.
struct Store {
    dir: PathBuf,
    max_size: u64,
    idle: Duration,
    /// The slowest transfer allowed: `--min-rate` times the idle timeout, per idle timeout.
    pace: Pace,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(sentence) => {
            // One clear sentence and exit status 1: never a panic or a backtrace.
            warn!("error: {sentence}");
            ExitCode::FAILURE
        }
    }
}

// ANCHOR: run
fn run(args: &Args) -> Result<(), String> {
    let addr = parse_addr(&args.addr)?;
    // Held until the server exits: no second server works in this folder meanwhile.
    let _lock = prepare_dir(&args.dir)?;
    // std's bind() is socket + SO_REUSEADDR + bind + listen(128), the sequence of lesson 01.
    let listener = TcpListener::bind(addr).map_err(|e| explain_bind_error(addr, e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    let mut spare = Spare::new().map_err(|e| format!("cannot open /dev/null: {e}"))?;
    let (workers, queue_len, shrunk) = descriptors::size_pool(args.workers, QUEUE_LEN)?;
    note!("listening on {bound}");
    if let Some(why) = shrunk {
        note!("{why}");
    }
    note!(
        "storing files in {} ({workers} workers, uploads up to {} bytes)",
        args.dir.display(),
        args.max_size
    );

    let idle = Duration::from_secs(args.idle_timeout);
    let store = Arc::new(Store {
        dir: args.dir.clone(),
        max_size: args.max_size,
        idle,
        pace: Pace {
            bytes: args.min_rate.saturating_mul(args.idle_timeout),
            window: idle,
        },
    });

    // A fixed pool: `workers` threads take connections from one bounded queue. The number of
    // threads, and so the memory, does not grow with the number of clients.
    let (queue, connections) = crossbeam_channel::bounded::<TcpStream>(queue_len);
    for n in 1..=workers {
        let connections = connections.clone();
        let store = Arc::clone(&store);
        thread::Builder::new()
            .name(format!("worker-{n}"))
            .spawn(move || worker(connections, &store))
            .map_err(|e| format!("cannot start worker thread {n}: {e}"))?;
    }
    // Only the workers hold the receiving end now: if every one of them stops, sending
    // fails with Disconnected instead of filling a queue that nobody empties.
    drop(connections);

    // Out of descriptors since the last accept that worked, and how many heard Busy meanwhile.
    let (mut starving, mut told_busy) = (false, 0u64);
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                if starving {
                    warn!("descriptors are free again; {told_busy} newcomers were told busy");
                    (starving, told_busy) = (false, 0);
                }
                match queue.try_send(stream) {
                    Ok(()) => {}
                    Err(TrySendError::Full(stream)) => turn_away(stream, true),
                    Err(TrySendError::Disconnected(_)) => {
                        return Err("every worker has stopped; the server cannot serve".into());
                    }
                }
            }
            Err(e) if out_of_resources(&e) => {
                // Said once per episode, not once per attempt.
                if !starving {
                    warn!("out of descriptors ({e}): telling newcomers the server is busy");
                    starving = true;
                }
                // The spare descriptor lets one newcomer in, to be told so and closed.
                if let Some(stream) = spare.accept_with(&listener) {
                    turn_away(stream, false);
                    told_busy += 1;
                }
                spare.refill();
                // Back off: give the workers a moment to finish and free descriptors.
                thread::sleep(Duration::from_millis(10));
            }
            Err(e) => warn!("accept failed: {e}"),
        }
    }
}
// ANCHOR_END: run

/// A worker serves one connection after another, for as long as the server runs.
fn worker(connections: Receiver<TcpStream>, store: &Store) {
    for stream in connections {
        serve(stream, store);
    }
}

/// The queue is full: tell the newcomer with an ERROR frame rather than leave it hanging.
fn turn_away(stream: TcpStream, log: bool) {
    if log {
        warn!(
            "{}: turned away, every worker is busy",
            describe_peer(&stream)
        );
    }
    let busy = Frame::Error {
        code: ErrorCode::Busy,
        message: "every worker is busy; try again in a moment",
    };
    // The first bytes on a new connection fit its empty send buffer: this write does not wait.
    let _ = write_frame(&mut Timed::within(&stream, LINGER), &busy);
}

// ANCHOR: serve
/// Serves one connection: requests one after another until the client closes it.
fn serve(stream: TcpStream, store: &Store) {
    let peer = describe_peer(&stream);
    if let Err(e) = configure(&stream) {
        warn!("{peer}: cannot configure the connection: {e}");
        return;
    }
    // The connection's only buffer: 64 KiB, however large the files that pass through it.
    let mut buf = [0u8; MAX_DATA];
    loop {
        // A whole request frame within the idle timeout, however its bytes are spread.
        let request = read_frame(&mut Timed::within(&stream, store.idle), &mut buf);
        let outcome = match request {
            Ok(None) => return, // the client closed between requests: all is well
            Ok(Some(Frame::File(info))) => {
                // Copied out of the buffer, which the DATA frames will take over.
                let (size, sha256, name) = (info.size, info.sha256, info.name.to_string());
                upload(&stream, &mut buf, store, &peer, (size, sha256, name))
            }
            Ok(Some(Frame::List)) => list(&stream, store),
            Ok(Some(Frame::Get { name })) => {
                let name = name.to_string();
                download(&stream, store, &peer, &name)
            }
            Ok(Some(other)) => Err(refuse(
                ErrorCode::BadFrame,
                format!("a {} frame cannot start a request", other.kind()),
            )),
            Err(ReadError::Frame(e)) => Err(refuse(ErrorCode::BadFrame, e.to_string())),
            Err(ReadError::Io(e)) => Err(Failure::Lost(describe_io(&e))),
        };
        match outcome {
            Ok(()) => continue,
            Err(Failure::Refuse(code, message)) => {
                warn!("{peer}: refused: {message}");
                send_error_and_close(stream, &mut buf, code, &message);
                return;
            }
            Err(Failure::Lost(why)) => {
                warn!("{peer}: connection lost: {why}");
                return;
            }
        }
    }
}
// ANCHOR_END: serve

// ANCHOR: upload
fn upload(
    stream: &TcpStream,
    buf: &mut [u8; MAX_DATA],
    store: &Store,
    peer: &str,
    (size, sha256, name): (u64, [u8; 32], String),
) -> Result<(), Failure> {
    // Every check that can be made on the FILE frame alone comes before a byte is stored.
    // Exercise 4 decides: our answer, or yours when built with `--features mine`.
    if !lesson_04::is_safe_name(&name) {
        let why = check_name(&name)
            .err()
            .unwrap_or("the name is not safe to store");
        return Err(refuse(ErrorCode::BadName, format!("name {name:?}: {why}")));
    }
    if size > store.max_size {
        return Err(refuse(
            ErrorCode::TooLarge,
            format!(
                "{name:?} is {size} bytes; this server accepts at most {}",
                store.max_size
            ),
        ));
    }
    let path = store.dir.join(&name);
    if path.symlink_metadata().is_ok() {
        return Err(already_there(&name));
    }

    let mut temp = TempFile::create(&store.dir).map_err(storage_error)?;
    write_frame(&mut Timed::within(stream, store.idle), &Frame::Ready).map_err(lost)?;
    // The bytes at `--min-rate` at least: a trickle does not hold a worker for long.
    let mut paced = Timed::paced(stream, store.pace);
    receive_data(&mut paced, buf, size, &sha256, &mut temp.file, |_| {}).map_err(|e| match e {
        TransferError::Write(e) => storage_error(e),
        TransferError::Checksum { actual, .. } => refuse(
            ErrorCode::Checksum,
            format!(
                "the bytes of {name:?} have SHA-256 {}, not the {} announced; nothing stored",
                hex(&actual),
                hex(&sha256)
            ),
        ),
        other => transfer_failure(other),
    })?;
    // Only now, complete and checked, does the file get its name.
    match temp.keep_as(&path) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists => return Err(already_there(&name)),
        Err(e) => return Err(storage_error(e)),
    }

    let stored = Frame::Stored(FileInfo {
        size,
        sha256,
        name: &name,
    });
    write_frame(&mut Timed::within(stream, store.idle), &stored).map_err(lost)?;
    note!(
        "{peer}: stored {name}: {size} bytes, sha256 {}",
        hex(&sha256)
    );
    Ok(())
}
// ANCHOR_END: upload

// ANCHOR: list
fn list(stream: &TcpStream, store: &Store) -> Result<(), Failure> {
    let files = list_files(&store.dir).map_err(storage_error)?;
    // Many small frames: a BufWriter gathers them, and they leave in a few large writes
    // instead of one system call (and possibly one tiny segment) each. A long list is a
    // transfer like any other: at `--min-rate` at least.
    let mut out = BufWriter::new(Timed::paced(stream, store.pace));
    for (name, size) in &files {
        let entry = Frame::Entry { size: *size, name };
        write_frame(&mut out, &entry).map_err(lost)?;
    }
    write_frame(&mut out, &Frame::End).map_err(lost)?;
    out.flush().map_err(lost)
}
// ANCHOR_END: list

// ANCHOR: download
fn download(stream: &TcpStream, store: &Store, peer: &str, name: &str) -> Result<(), Failure> {
    check_name(name).map_err(|why| refuse(ErrorCode::BadName, format!("name {name:?}: {why}")))?;
    // Only a regular file inside the folder: not a link out of it, not a FIFO.
    let Some(mut file) = open_regular(&store.dir, name).map_err(storage_error)? else {
        return Err(refuse(
            ErrorCode::NotFound,
            format!("no file named {name:?}"),
        ));
    };
    // Two passes over the file: the checksum goes in the FILE frame, before the bytes. Stored
    // files are never modified (only created whole), so both passes read the same bytes.
    let (size, sha256) = sha256_of(&mut file).map_err(storage_error)?;
    file.rewind().map_err(storage_error)?;
    let mut paced = Timed::paced(stream, store.pace);
    write_frame(&mut paced, &Frame::File(FileInfo { size, sha256, name })).map_err(lost)?;
    send_data(&mut file, size, &mut paced, |_| {}).map_err(|e| match e {
        // The file failed us: the client is waiting for DATA, an ERROR frame tells it why.
        TransferError::Read(e) => storage_error(e),
        other => transfer_failure(other),
    })?;
    note!("{peer}: sent {name}: {size} bytes, sha256 {}", hex(&sha256));
    Ok(())
}
// ANCHOR_END: download

// ANCHOR: send_error
/// Says the last word: sends an ERROR frame and closes the connection so that the client can
/// read it, all within LINGER.
fn send_error_and_close(stream: TcpStream, buf: &mut [u8], code: ErrorCode, message: &str) {
    let message = truncate(message, MAX_MESSAGE);
    let mut last = Timed::within(&stream, LINGER);
    let _ = write_frame(&mut last, &Frame::Error { code, message });
    // FIN after the ERROR frame: "nothing more from me".
    let _ = stream.shutdown(Shutdown::Write);
    // The client may still be sending (the rest of an upload). Closing a socket with unread
    // bytes in its receive queue makes the kernel send a reset instead of waiting, and a reset
    // throws away whatever of ours has not left yet: the ERROR frame itself, if the client's
    // window was full. (Linux keeps what the client had already received, but RFC 9293 lets a
    // stack discard it too.) So read and discard until the client closes, or LINGER is up.
    while let Ok(n) = last.read(buf) {
        if n == 0 {
            break;
        }
    }
}
// ANCHOR_END: send_error
