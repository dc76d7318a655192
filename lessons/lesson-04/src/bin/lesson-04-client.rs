//! The client for lesson 04: upload a file, list the server's files, download one.
//!
//! ```text
//! lesson-04-client send lessons/lesson-04/assets/postcard.png
//! lesson-04-client list
//! lesson-04-client get postcard.png --out copy.png
//! ```
//!
//! On a terminal it draws a progress bar (bytes, rate, time left) on stderr with `indicatif`;
//! otherwise it prints plain progress lines there. The result, with the SHA-256, goes to stdout.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, IsTerminal, Seek, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use indicatif::{HumanBytes, ProgressBar, ProgressStyle};
use lesson_04::cli::parse_addr;
use lesson_04::connection::{
    ReadError, TransferError, read_frame, receive_data, send_data, sha256_of, write_frame,
};
use lesson_04::frame::{ErrorCode, FileInfo, Frame, MAX_DATA, hex};

/// How long to wait for the handshake.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long any one read or write may wait. Generous: after the last byte of a large upload
/// the server still has to flush the file to disk before it answers.
const IO_TIMEOUT: Duration = Duration::from_secs(60);

/// Lesson 04's client: send, list and fetch files.
#[derive(Parser)]
#[command(name = "lesson-04-client", version, about)]
struct Args {
    /// Address of the server, as HOST:PORT.
    #[arg(long, default_value = "127.0.0.1:8888", global = true)]
    addr: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Upload a file.
    Send {
        /// The file to upload.
        path: PathBuf,
        /// The name to store it under (default: the file's own name).
        #[arg(long = "as", value_name = "NAME")]
        name: Option<String>,
    },
    /// Show the files the server holds.
    List,
    /// Download a file.
    Get {
        /// The name of the file on the server.
        name: String,
        /// Where to save it (default: NAME in the current folder). Never overwritten.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = parse_addr(&args.addr).and_then(|addr| match &args.command {
        Command::Send { path, name } => send(addr, path, name.as_deref()),
        Command::List => list(addr),
        Command::Get { name, out } => get(addr, name, out.as_deref()),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(sentence) => {
            eprintln!("error: {sentence}");
            ExitCode::FAILURE
        }
    }
}

// ANCHOR: send
fn send(addr: SocketAddr, path: &Path, name: Option<&str>) -> Result<(), String> {
    let shown = path.display();
    let mut file = File::open(path).map_err(|e| format!("cannot open {shown}: {e}"))?;
    let name = match name {
        Some(name) => name.to_string(),
        None => path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("{shown} has no file name in UTF-8; give one with --as"))?
            .to_string(),
    };
    // First pass: the size and checksum, which the FILE frame announces before the bytes.
    let (size, sha256) = sha256_of(&mut file).map_err(|e| format!("cannot read {shown}: {e}"))?;
    file.rewind()
        .map_err(|e| format!("cannot read {shown}: {e}"))?;
    println!("sending {name}: {size} bytes, sha256 {}", hex(&sha256));

    let mut stream = connect(addr)?;
    let mut buf = [0u8; MAX_DATA];
    let offer = Frame::File(FileInfo {
        size,
        sha256,
        name: &name,
    });
    write_frame(&mut stream, &offer).map_err(|e| format!("sending the request failed: {e}"))?;
    // Wait for READY: a refusal (a bad name, too large, already there) costs no upload.
    match read_frame(&mut stream, &mut buf) {
        Ok(Some(Frame::Ready)) => {}
        other => return Err(unexpected_reply(other)),
    }

    // Second pass: the bytes, as DATA frames.
    let mut progress = Progress::new("sent", size);
    let mut done = 0;
    let sent = send_data(&mut file, size, &mut stream, |n| {
        done = n;
        progress.update(n);
    });
    progress.finish(done);
    match sent {
        Ok(()) => {}
        Err(TransferError::Write(e)) => return Err(write_failed(&mut stream, &mut buf, e)),
        Err(TransferError::Read(e)) => return Err(format!("cannot read {shown}: {e}")),
        Err(e) => return Err(format!("the upload failed: {e:?}")),
    }

    match read_frame(&mut stream, &mut buf) {
        Ok(Some(Frame::Stored(info))) if info.sha256 == sha256 && info.size == size => {
            println!(
                "stored {}: {} bytes, sha256 {}",
                printable(info.name),
                info.size,
                hex(&info.sha256)
            );
            Ok(())
        }
        Ok(Some(Frame::Stored(_))) => {
            Err("the server stored a different size or checksum than we sent".to_string())
        }
        other => Err(unexpected_reply(other)),
    }
}
// ANCHOR_END: send

/// Sending failed: the server has probably closed the connection after an ERROR frame that
/// says why. Read it if it is there.
fn write_failed(stream: &mut TcpStream, buf: &mut [u8; MAX_DATA], e: io::Error) -> String {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    match read_frame(stream, buf) {
        Ok(Some(Frame::Error { code, message })) => refused(code, message),
        _ => format!("sending the file failed: {e}"),
    }
}

fn list(addr: SocketAddr) -> Result<(), String> {
    let mut stream = connect(addr)?;
    let mut buf = [0u8; MAX_DATA];
    write_frame(&mut stream, &Frame::List).map_err(|e| format!("sending LIST failed: {e}"))?;
    let (mut count, mut total) = (0u64, 0u64);
    loop {
        match read_frame(&mut stream, &mut buf) {
            Ok(Some(Frame::Entry { size, name })) => {
                println!("{size:>12}  {}", printable(name));
                count += 1;
                total += size;
            }
            Ok(Some(Frame::End)) => break,
            other => return Err(unexpected_reply(other)),
        }
    }
    let files = if count == 1 { "file" } else { "files" };
    println!("{count} {files}, {total} bytes");
    Ok(())
}

// ANCHOR: get
fn get(addr: SocketAddr, name: &str, out: Option<&Path>) -> Result<(), String> {
    // By default the file goes into the current folder under its last name component, never
    // where a name like ../../.bashrc would point.
    let out = match out {
        Some(out) => out.to_path_buf(),
        None => Path::new(name)
            .file_name()
            .map(PathBuf::from)
            .ok_or_else(|| format!("{name:?} is not a file name; give a path with --out"))?,
    };
    if out.symlink_metadata().is_ok() {
        return Err(format!(
            "{} already exists; choose another path with --out",
            out.display()
        ));
    }
    let mut stream = connect(addr)?;
    let mut buf = [0u8; MAX_DATA];
    write_frame(&mut stream, &Frame::Get { name })
        .map_err(|e| format!("sending GET failed: {e}"))?;
    let (size, sha256) = match read_frame(&mut stream, &mut buf) {
        Ok(Some(Frame::File(info))) => (info.size, info.sha256),
        other => return Err(unexpected_reply(other)),
    };

    // The same discipline as the server: a temporary file beside the destination, named only
    // once every byte has arrived and the checksum matches.
    let temp = TempPath::beside(&out);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp.0)
        .map_err(|e| format!("cannot create {}: {e}", temp.0.display()))?;
    let mut progress = Progress::new("received", size);
    let mut done = 0;
    let received = receive_data(&mut stream, &mut buf, size, &sha256, &mut file, |n| {
        done = n;
        progress.update(n);
    });
    progress.finish(done);
    match received {
        Ok(()) => {}
        Err(TransferError::Checksum { actual, .. }) => {
            return Err(format!(
                "the bytes received have sha256 {}, not the {} announced; nothing saved",
                hex(&actual),
                hex(&sha256)
            ));
        }
        Err(TransferError::Refused { code, message }) => return Err(refused(code, &message)),
        Err(TransferError::Write(e)) => return Err(format!("cannot save the file: {e}")),
        Err(TransferError::Read(e)) => return Err(format!("the download failed: {e}")),
        Err(e) => return Err(format!("the server sent something unexpected: {e:?}")),
    }
    file.sync_all()
        .map_err(|e| format!("cannot save the file: {e}"))?;
    fs::hard_link(&temp.0, &out).map_err(|e| format!("cannot save {}: {e}", out.display()))?;
    println!(
        "saved {} to {}: {size} bytes, sha256 {}",
        printable(name),
        out.display(),
        hex(&sha256)
    );
    Ok(())
}
// ANCHOR_END: get

/// A temporary path, removed when dropped (after `hard_link` gave the bytes their real name,
/// or after any error).
struct TempPath(PathBuf);

impl TempPath {
    fn beside(out: &Path) -> TempPath {
        let name = out
            .file_name()
            .map_or("download".into(), |n| n.to_string_lossy());
        let temp = format!(".{name}.{}.part", std::process::id());
        TempPath(out.with_file_name(temp))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)
        .map_err(|e| explain_connect_error(addr, e))?;
    stream
        .set_read_timeout(Some(IO_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
        // Each frame leaves in one write; do not hold the last one back for an ACK.
        .and_then(|()| stream.set_nodelay(true))
        .map_err(|e| format!("cannot configure the connection: {e}"))?;
    Ok(stream)
}

/// Says what the server sent instead of what we expected.
fn unexpected_reply(reply: Result<Option<Frame>, ReadError>) -> String {
    match reply {
        Ok(Some(Frame::Error { code, message })) => refused(code, message),
        Ok(Some(frame)) => format!("the server sent an unexpected {} frame", frame.kind()),
        Ok(None) => "the server closed the connection without answering".to_string(),
        Err(ReadError::Io(e))
            if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
        {
            format!("the server sent nothing for {IO_TIMEOUT:?}")
        }
        Err(e) => format!("reading the server's answer failed: {e}"),
    }
}

fn refused(code: ErrorCode, message: &str) -> String {
    format!("the server refused ({code:?}): {}", printable(message))
}

/// Text from the network, with control characters (which could move the cursor or change
/// the terminal's colours) replaced.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

/// Progress of a transfer on stderr: `indicatif`'s bar (bytes, rate, time left) on a terminal;
/// elsewhere (a log, a pipe) a plain line a second, which a file can hold.
struct Progress {
    verb: &'static str,
    total: u64,
    started: Instant,
    last_line: Instant,
    bar: Option<ProgressBar>,
}

impl Progress {
    fn new(verb: &'static str, total: u64) -> Progress {
        let bar = io::stderr().is_terminal().then(|| {
            let style = ProgressStyle::with_template(
                "[{bar:30}] {binary_bytes} of {binary_total_bytes} ({percent}%), \
                 {binary_bytes_per_sec}, {eta} left",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("#-");
            ProgressBar::new(total).with_style(style)
        });
        Progress {
            verb,
            total,
            started: Instant::now(),
            last_line: Instant::now(),
            bar,
        }
    }

    fn update(&mut self, done: u64) {
        match &self.bar {
            Some(bar) => bar.set_position(done), // indicatif redraws at most 20 times a second
            None if self.last_line.elapsed() >= Duration::from_secs(1) && done < self.total => {
                self.line(done);
            }
            None => {}
        }
    }

    fn finish(&mut self, done: u64) {
        match &self.bar {
            Some(bar) => {
                bar.finish();
                // indicatif leaves the cursor at the end of the bar: end the line.
                let _ = writeln!(io::stderr());
            }
            None => self.line(done),
        }
    }

    fn line(&mut self, done: u64) {
        self.last_line = Instant::now();
        // An empty file is done as soon as it starts.
        let percent = (done * 100).checked_div(self.total).unwrap_or(100);
        let _ = writeln!(
            io::stderr(),
            "{} {} of {} ({percent}%) in {:.1} s",
            self.verb,
            HumanBytes(done),
            HumanBytes(self.total),
            self.started.elapsed().as_secs_f64()
        );
    }
}

/// Turns a failed connect into one sentence that says what to do.
fn explain_connect_error(addr: SocketAddr, e: io::Error) -> String {
    match e.kind() {
        ErrorKind::ConnectionRefused => format!(
            "connection to {addr} refused: no server is listening there; \
             is the server running (cargo run -p lesson-04)?"
        ),
        ErrorKind::TimedOut | ErrorKind::WouldBlock => {
            format!("no answer from {addr} within {CONNECT_TIMEOUT:?}")
        }
        _ => format!("cannot connect to {addr}: {e}"),
    }
}
