//! Lesson 04: a server that stores the files clients upload, intact or not at all.
//!
//! Clients speak a binary protocol of length-prefixed frames (see `src/protocol.rs`). An upload
//! is checked (name, size) before a byte is stored, written to a temporary file, and given its
//! name only once its size and SHA-256 match what the client announced. A small fixed pool of
//! worker threads serves several clients at once.
//!
//! Run it with `cargo run -p lesson-04 -- --dir received`, and in a second terminal
//! `cargo run -p lesson-04 --bin lesson-04-client -- send lessons/lesson-04/assets/postcard.png`.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, ErrorKind, Read, Seek, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use crossbeam_channel::{Receiver, TrySendError};
use lesson_04::protocol::{
    ErrorCode, FileInfo, Frame, MAX_MESSAGE, MAX_PAYLOAD, ReadError, TransferError, check_name,
    hex, read_frame, receive_data, send_data, sha256_of, write_frame,
};

/// Connections accepted but not yet taken by a worker. When the queue is full, newcomers are
/// told the server is busy instead of waiting without knowing why.
const QUEUE_LEN: usize = 16;

/// After an ERROR frame, how long the server goes on reading (and discarding) what the client
/// still sends, so that closing does not turn into a reset that destroys the ERROR frame.
const LINGER: Duration = Duration::from_secs(1);

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

    /// Seconds a client may stay silent before the server drops it.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout: u64,
}

/// What every worker needs to know, shared read-only between them.
struct Store {
    dir: PathBuf,
    max_size: u64,
    idle: Duration,
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

// ANCHOR: run
fn run(args: &Args) -> Result<(), String> {
    let addr = parse_addr(&args.addr)?;
    prepare_dir(&args.dir)?;
    // std's bind() is socket + SO_REUSEADDR + bind + listen(128), the sequence of lesson 01.
    let listener = TcpListener::bind(addr).map_err(|e| explain_bind_error(addr, e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    println!("listening on {bound}");
    println!(
        "storing files in {} ({} workers, uploads up to {} bytes)",
        args.dir.display(),
        args.workers,
        args.max_size
    );

    let store = Arc::new(Store {
        dir: args.dir.clone(),
        max_size: args.max_size,
        idle: Duration::from_secs(args.idle_timeout),
    });

    // A fixed pool: `workers` threads take connections from one bounded queue. The number of
    // threads, and so the memory, does not grow with the number of clients.
    let (queue, connections) = crossbeam_channel::bounded::<TcpStream>(QUEUE_LEN);
    for n in 0..args.workers {
        let connections = connections.clone();
        let store = Arc::clone(&store);
        thread::Builder::new()
            .name(format!("worker-{n}"))
            .spawn(move || worker(connections, &store))
            .map_err(|e| format!("cannot start worker thread {n}: {e}"))?;
    }

    for incoming in listener.incoming() {
        match incoming {
            Ok(stream) => match queue.try_send(stream) {
                Ok(()) => {}
                Err(TrySendError::Full(stream)) => turn_away(stream),
                Err(TrySendError::Disconnected(_)) => return Err("every worker has stopped".into()),
            },
            Err(e) => {
                // Out of file descriptors, for example. Say so once, and give the system a
                // moment instead of spinning on the same error.
                eprintln!("accept failed: {e}");
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
    Ok(())
}
// ANCHOR_END: run

/// A worker serves one connection after another, for as long as the server runs.
fn worker(connections: Receiver<TcpStream>, store: &Store) {
    for stream in connections {
        serve(stream, store);
    }
}

/// The queue is full: tell the newcomer with an ERROR frame rather than leave it hanging.
fn turn_away(mut stream: TcpStream) {
    let peer = describe_peer(&stream);
    eprintln!("{peer}: turned away, every worker is busy");
    let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
    let busy = Frame::Error {
        code: ErrorCode::Busy,
        message: "every worker is busy; try again in a moment",
    };
    let _ = write_frame(&mut stream, &busy);
}

// ANCHOR: failure
/// How serving a request can fail.
enum Failure {
    /// The client asked for something the server refuses, or sent bytes that are not this
    /// protocol: tell it why in an ERROR frame, then close.
    Refuse(ErrorCode, String),
    /// The connection itself failed (reset, timeout, closed mid-frame): nobody left to tell.
    Lost(String),
}

fn refuse(code: ErrorCode, message: impl Into<String>) -> Failure {
    Failure::Refuse(code, message.into())
}
// ANCHOR_END: failure

// ANCHOR: serve
/// Serves one connection: requests one after another until the client closes it.
fn serve(mut stream: TcpStream, store: &Store) {
    let peer = describe_peer(&stream);
    if let Err(e) = configure(&stream, store.idle) {
        eprintln!("{peer}: cannot configure the connection: {e}");
        return;
    }
    // The connection's only buffer: 64 KiB, however large the files that pass through it.
    let mut buf = [0u8; MAX_PAYLOAD];
    loop {
        let outcome = match read_frame(&mut stream, &mut buf) {
            Ok(None) => return, // the client closed between requests: all is well
            Ok(Some(Frame::File(info))) => {
                let offer = Offer::from(info);
                upload(&mut stream, &mut buf, store, &peer, offer)
            }
            Ok(Some(Frame::List)) => list(&mut stream, store),
            Ok(Some(Frame::Get { name })) => {
                let name = name.to_string();
                download(&mut stream, store, &peer, &name)
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
                eprintln!("{peer}: refused: {message}");
                send_error_and_close(stream, &mut buf, code, &message);
                return;
            }
            Err(Failure::Lost(why)) => {
                eprintln!("{peer}: connection lost: {why}");
                return;
            }
        }
    }
}
// ANCHOR_END: serve

// ANCHOR: configure
fn configure(stream: &TcpStream, idle: Duration) -> io::Result<()> {
    // A client that stops talking must not hold one of the few workers forever.
    stream.set_read_timeout(Some(idle))?;
    stream.set_write_timeout(Some(idle))?;
    // Every frame leaves in one write_all, so there is nothing for Nagle's algorithm to
    // gather, and it could only make the last small segment of a transfer wait for an ACK.
    stream.set_nodelay(true)
}
// ANCHOR_END: configure

/// An upload's FILE frame, copied out of the buffer so the buffer can take the DATA frames.
struct Offer {
    size: u64,
    sha256: [u8; 32],
    name: String,
}

impl From<FileInfo<'_>> for Offer {
    fn from(info: FileInfo) -> Offer {
        Offer {
            size: info.size,
            sha256: info.sha256,
            name: info.name.to_string(),
        }
    }
}

// ANCHOR: upload
fn upload(
    stream: &mut TcpStream,
    buf: &mut [u8; MAX_PAYLOAD],
    store: &Store,
    peer: &str,
    offer: Offer,
) -> Result<(), Failure> {
    let Offer { size, sha256, name } = offer;
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
    write_frame(stream, &Frame::Ready).map_err(lost)?;
    receive_data(stream, buf, size, &sha256, &mut temp.file, |_| {}).map_err(|e| match e {
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
    write_frame(stream, &stored).map_err(lost)?;
    println!(
        "{peer}: stored {name}: {size} bytes, sha256 {}",
        hex(&sha256)
    );
    Ok(())
}
// ANCHOR_END: upload

fn already_there(name: &str) -> Failure {
    refuse(
        ErrorCode::Exists,
        format!("{name:?} already exists; upload it under another name"),
    )
}

fn storage_error(e: io::Error) -> Failure {
    refuse(ErrorCode::Storage, format!("cannot store the file: {e}"))
}

fn lost(e: io::Error) -> Failure {
    Failure::Lost(describe_io(&e))
}

/// Maps what went wrong in the middle of a transfer to what the client is told.
fn transfer_failure(e: TransferError) -> Failure {
    match e {
        TransferError::Read(e) | TransferError::Write(e) => lost(e),
        TransferError::Frame(e) => refuse(ErrorCode::BadFrame, e.to_string()),
        TransferError::Unexpected(kind) => refuse(
            ErrorCode::BadFrame,
            format!("a {kind} frame in the middle of a transfer"),
        ),
        TransferError::TooMany { declared } => refuse(
            ErrorCode::BadFrame,
            format!("more bytes than the {declared} announced"),
        ),
        TransferError::Checksum { .. } => refuse(ErrorCode::Checksum, "checksum mismatch"),
        TransferError::Refused { message, .. } => Failure::Lost(format!("it said: {message}")),
    }
}

// ANCHOR: temp_file
/// A file being received, under a temporary name in the server's folder. Dropping it deletes
/// it: on an error, a vanished client, a full disk, whatever path leaves `upload` early.
/// `keep_as` is the only way to give it a real name.
struct TempFile {
    path: PathBuf,
    file: File,
}

/// Temporary names start with a dot, which no uploaded name may: they can never collide.
const TEMP_PREFIX: &str = ".upload-";
const TEMP_SUFFIX: &str = ".part";

impl TempFile {
    fn create(dir: &Path) -> io::Result<TempFile> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        loop {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let name = format!("{TEMP_PREFIX}{}-{n}{TEMP_SUFFIX}", std::process::id());
            let path = dir.join(name);
            // create_new: fail rather than reuse a file that is already there.
            match OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(file) => return Ok(TempFile { path, file }),
                Err(e) if e.kind() == ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Makes the bytes durable, then gives them the final name, never replacing a file that
    /// is already there: hard_link fails with AlreadyExists instead, atomically, even when two
    /// uploads of the same name finish at the same moment. (A rename would replace it.)
    fn keep_as(self, path: &Path) -> io::Result<()> {
        self.file.sync_all()?;
        fs::hard_link(&self.path, path)
        // Dropping `self` removes the temporary name; the bytes stay under the final one.
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
// ANCHOR_END: temp_file

// ANCHOR: list
fn list(stream: &mut TcpStream, store: &Store) -> Result<(), Failure> {
    let mut files = Vec::new();
    let entries = fs::read_dir(&store.dir).map_err(storage_error)?;
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue; // not UTF-8: not something this server stored
        };
        let Ok(meta) = entry.metadata() else { continue };
        // Temporary files and anything else with an unsafe name stay out of the list.
        if meta.is_file() && check_name(&name).is_ok() {
            files.push((name, meta.len()));
        }
    }
    files.sort();
    // Many small frames: a BufWriter gathers them, and they leave in a few large writes
    // instead of one system call (and possibly one tiny segment) each.
    let mut out = BufWriter::new(stream);
    for (name, size) in &files {
        let entry = Frame::Entry { size: *size, name };
        write_frame(&mut out, &entry).map_err(lost)?;
    }
    write_frame(&mut out, &Frame::End).map_err(lost)?;
    out.flush().map_err(lost)
}
// ANCHOR_END: list

// ANCHOR: download
fn download(stream: &mut TcpStream, store: &Store, peer: &str, name: &str) -> Result<(), Failure> {
    check_name(name).map_err(|why| refuse(ErrorCode::BadName, format!("name {name:?}: {why}")))?;
    let not_found = || refuse(ErrorCode::NotFound, format!("no file named {name:?}"));
    let mut file = match File::open(store.dir.join(name)) {
        Ok(file) => file,
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(not_found()),
        Err(e) => return Err(storage_error(e)),
    };
    if !file.metadata().map_err(storage_error)?.is_file() {
        return Err(not_found());
    }
    // Two passes over the file: the checksum goes in the FILE frame, before the bytes. Stored
    // files are never modified (only created whole), so both passes read the same bytes.
    let (size, sha256) = sha256_of(&mut file).map_err(storage_error)?;
    file.rewind().map_err(storage_error)?;
    write_frame(stream, &Frame::File(FileInfo { size, sha256, name })).map_err(lost)?;
    send_data(&mut file, size, stream, |_| {}).map_err(|e| match e {
        // The file failed us: the client is waiting for DATA, an ERROR frame tells it why.
        TransferError::Read(e) => storage_error(e),
        other => transfer_failure(other),
    })?;
    println!("{peer}: sent {name}: {size} bytes, sha256 {}", hex(&sha256));
    Ok(())
}
// ANCHOR_END: download

// ANCHOR: send_error
/// Sends an ERROR frame and closes the connection so that the client can read it.
fn send_error_and_close(mut stream: TcpStream, buf: &mut [u8], code: ErrorCode, message: &str) {
    let message = truncate(message, MAX_MESSAGE);
    let _ = write_frame(&mut stream, &Frame::Error { code, message });
    // FIN after the ERROR frame: "nothing more from me".
    let _ = stream.shutdown(Shutdown::Write);
    // The client may still be sending (the rest of an upload). Closing a socket that has
    // unread bytes makes the kernel send a reset, and a reset can reach the client before it
    // has read the ERROR frame, destroying it. So read and discard for a moment first.
    let _ = stream.set_read_timeout(Some(LINGER));
    let deadline = Instant::now() + LINGER;
    while Instant::now() < deadline {
        match stream.read(buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => continue,
        }
    }
}
// ANCHOR_END: send_error

/// The longest prefix of `text` of at most `max` bytes that ends on a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn describe_peer(stream: &TcpStream) -> String {
    match stream.peer_addr() {
        Ok(addr) => addr.to_string(),
        Err(_) => "a client that already left".to_string(),
    }
}

fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        ErrorKind::UnexpectedEof => {
            "the client closed the connection in the middle of a request".to_string()
        }
        ErrorKind::WouldBlock | ErrorKind::TimedOut => "the client went silent".to_string(),
        ErrorKind::ConnectionReset => "the client reset the connection".to_string(),
        _ => e.to_string(),
    }
}

// ANCHOR: prepare_dir
/// Creates the folder if needed, and removes temporary files a previous run left behind (a
/// server killed in the middle of an upload cannot clean up after itself).
fn prepare_dir(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the folder {}: {e}", dir.display()))?;
    let entries =
        fs::read_dir(dir).map_err(|e| format!("cannot read the folder {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX) {
            match fs::remove_file(entry.path()) {
                Ok(()) => eprintln!("removed {name}, left over from an interrupted upload"),
                Err(e) => eprintln!("cannot remove {name}, left over from an upload: {e}"),
            }
        }
    }
    Ok(())
}
// ANCHOR_END: prepare_dir

/// `4096`, `64K`, `100M`, `2G`: a number of bytes, with an optional binary suffix.
fn parse_size(text: &str) -> Result<u64, String> {
    let bad = || format!("`{text}` is not a size such as 4096, 64K, 100M or 2G");
    let upper = text.trim().to_ascii_uppercase();
    let (digits, unit) = match upper.strip_suffix(['K', 'M', 'G']) {
        Some(digits) => (digits, &upper[digits.len()..]),
        None => (upper.as_str(), ""),
    };
    let number: u64 = digits.parse().map_err(|_| bad())?;
    let scale = match unit {
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => 1,
    };
    number.checked_mul(scale).ok_or_else(bad)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "lesson-04-unit-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_temp_file_dropped_early_leaves_nothing() {
        let dir = scratch("drop");
        {
            let mut temp = TempFile::create(&dir).unwrap();
            temp.file.write_all(b"half a picture").unwrap();
            assert_eq!(names_in(&dir).len(), 1);
            // An error anywhere in `upload` drops it like this, without keep_as.
        }
        assert!(names_in(&dir).is_empty());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn keep_as_gives_the_final_name_and_never_replaces_a_file() {
        let dir = scratch("keep");
        let mut temp = TempFile::create(&dir).unwrap();
        temp.file.write_all(b"first").unwrap();
        temp.keep_as(&dir.join("a.png")).unwrap();
        assert_eq!(names_in(&dir), ["a.png"]);

        let mut temp = TempFile::create(&dir).unwrap();
        temp.file.write_all(b"second").unwrap();
        let err = temp.keep_as(&dir.join("a.png")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::AlreadyExists);
        assert_eq!(names_in(&dir), ["a.png"]);
        assert_eq!(fs::read(dir.join("a.png")).unwrap(), b"first");
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A full disk, injected: the temp file's writes fail with StorageFull after 1000 bytes.
    /// This runs the same `receive_data` and `TempFile` the server uses, and checks the
    /// outcome a client sees (a Storage error) and what the folder holds (nothing).
    #[test]
    fn a_full_disk_mid_upload_leaves_nothing_behind() {
        struct FullAfter<'a> {
            file: &'a mut File,
            room: usize,
        }
        impl Write for FullAfter<'_> {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                if self.room == 0 {
                    return Err(io::Error::new(
                        ErrorKind::StorageFull,
                        "No space left on device",
                    ));
                }
                let n = self.file.write(&buf[..buf.len().min(self.room)])?;
                self.room -= n;
                Ok(n)
            }
            fn flush(&mut self) -> io::Result<()> {
                self.file.flush()
            }
        }

        let dir = scratch("full");
        let picture = vec![7u8; 5000];
        let (size, sha256) = sha256_of(&mut &picture[..]).unwrap();
        let mut wire = Vec::new();
        send_data(&mut &picture[..], size, &mut wire, |_| {}).unwrap();

        let outcome = (|| -> Result<(), Failure> {
            let mut temp = TempFile::create(&dir).map_err(storage_error)?;
            let mut disk = FullAfter {
                file: &mut temp.file,
                room: 1000,
            };
            let mut buf = [0u8; MAX_PAYLOAD];
            receive_data(&mut &wire[..], &mut buf, size, &sha256, &mut disk, |_| {}).map_err(
                |e| match e {
                    TransferError::Write(e) => storage_error(e),
                    other => transfer_failure(other),
                },
            )?;
            temp.keep_as(&dir.join("picture.png"))
                .map_err(storage_error)
        })();
        match outcome {
            Err(Failure::Refuse(ErrorCode::Storage, message)) => {
                assert!(message.contains("No space left"), "{message}");
            }
            Err(Failure::Refuse(code, message)) => panic!("refused with {code:?}: {message}"),
            Err(Failure::Lost(why)) => panic!("lost: {why}"),
            Ok(()) => panic!("stored a file on a full disk"),
        }
        assert!(names_in(&dir).is_empty(), "{:?}", names_in(&dir));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn sizes_take_binary_suffixes() {
        assert_eq!(parse_size("4096"), Ok(4096));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("100M"), Ok(100 << 20));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("M").is_err());
        assert!(parse_size("99999999999G").is_err());
    }

    #[test]
    fn leftover_temp_files_are_removed_at_start() {
        let dir = scratch("leftover");
        fs::write(dir.join(".upload-1-0.part"), b"half").unwrap();
        fs::write(dir.join("kept.png"), b"whole").unwrap();
        prepare_dir(&dir).unwrap();
        assert_eq!(names_in(&dir), ["kept.png"]);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn messages_are_cut_on_a_character_boundary() {
        assert_eq!(truncate("héllo", 2), "h");
        assert_eq!(truncate("héllo", 3), "hé");
        assert_eq!(truncate("abc", 10), "abc");
    }
}
