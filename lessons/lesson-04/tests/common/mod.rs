//! What lesson 04's black-box tests share: a scratch folder, the server started on it, a raw
//! protocol connection, and the client binary.

#![allow(dead_code)] // each test file uses a different part of this

use std::fs;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use lesson_04::connection::{ReadError, read_frame, sha256_of, write_frame};
use lesson_04::frame::{ErrorCode, FileInfo, Frame, MAX_DATA};
use socket2::SockRef;
use test_support::{DEADLINE, Finished, Server, run_to_end};

pub const SERVER: &str = env!("CARGO_BIN_EXE_lesson-04");
pub const CLIENT: &str = env!("CARGO_BIN_EXE_lesson-04-client");

/// A folder of its own under the system's temp folder, removed when dropped.
pub struct Scratch {
    pub path: PathBuf,
}

impl Scratch {
    pub fn new(tag: &str) -> Scratch {
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "lesson-04-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).unwrap();
        Scratch { path }
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes a file of `len` bytes of a pattern that differs with `seed`, and returns its path.
    pub fn file(&self, name: &str, len: usize, seed: u8) -> PathBuf {
        let path = self.join(name);
        fs::write(&path, pattern(len, seed)).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Bytes that are not all alike, so a byte lost or moved changes the checksum.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    let mut x = 0x9E37_79B9u32 ^ u32::from(seed);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    sha256_of(&mut &bytes[..]).unwrap().1
}

/// Everything in a folder, names sorted, hidden (temporary) files included; only the server's
/// lock file, `.lock`, which stays for as long as the folder does, is left out.
pub fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name != ".lock")
        .collect();
    names.sort();
    names
}

/// The server storing into `dir`, with more arguments after `--addr` and `--dir`.
pub fn start(dir: &Path, args: &[&str]) -> Server {
    let mut all = vec!["--dir", dir.to_str().unwrap()];
    all.extend_from_slice(args);
    Server::start(SERVER, &all)
}

/// The client binary, run to its end.
pub fn client(addr: SocketAddr, args: &[&str]) -> Finished {
    let mut command = Command::new(CLIENT);
    command.arg("--addr").arg(addr.to_string()).args(args);
    run_to_end(command, b"", DEADLINE)
}

/// A frame as the tests see it, owned.
#[derive(Debug, PartialEq)]
pub enum Reply {
    File {
        size: u64,
        sha256: [u8; 32],
    },
    Data(usize),
    Ready,
    Stored {
        size: u64,
        sha256: [u8; 32],
        name: String,
    },
    Entry {
        size: u64,
        name: String,
    },
    End,
    Error(ErrorCode, String),
    /// The server closed the connection (FIN or reset) between frames.
    Closed,
    Other(String),
}

/// A connection speaking the protocol frame by frame, so a test can misbehave on purpose.
pub struct Raw {
    pub stream: TcpStream,
    buf: Box<[u8; MAX_DATA]>,
}

impl Raw {
    pub fn connect(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect_timeout(&addr, DEADLINE).unwrap();
        stream.set_read_timeout(Some(DEADLINE)).unwrap();
        stream.set_write_timeout(Some(DEADLINE)).unwrap();
        stream.set_nodelay(true).unwrap();
        Raw {
            stream,
            buf: Box::new([0u8; MAX_DATA]),
        }
    }

    pub fn send(&mut self, frame: &Frame) {
        write_frame(&mut self.stream, frame).unwrap();
    }

    /// Sends raw bytes; errors are returned, because the server may have closed already.
    pub fn send_bytes(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }

    pub fn offer(&mut self, name: &str, bytes: &[u8]) {
        self.send(&Frame::File(FileInfo {
            size: bytes.len() as u64,
            sha256: sha256(bytes),
            name,
        }));
    }

    /// Sends `bytes` as DATA frames of at most 64 KiB.
    pub fn data(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(MAX_DATA) {
            self.send(&Frame::Data(chunk));
        }
    }

    pub fn reply(&mut self) -> Reply {
        match read_frame(&mut self.stream, &mut self.buf) {
            Ok(None) => Reply::Closed,
            Ok(Some(frame)) => match frame {
                Frame::File(info) => Reply::File {
                    size: info.size,
                    sha256: info.sha256,
                },
                Frame::Data(data) => Reply::Data(data.len()),
                Frame::Ready => Reply::Ready,
                Frame::Stored(info) => Reply::Stored {
                    size: info.size,
                    sha256: info.sha256,
                    name: info.name.to_string(),
                },
                Frame::Entry { size, name } => Reply::Entry {
                    size,
                    name: name.to_string(),
                },
                Frame::End => Reply::End,
                Frame::Error { code, message } => Reply::Error(code, message.to_string()),
                other => Reply::Other(format!("{other:?}")),
            },
            Err(ReadError::Io(e)) if e.kind() == io::ErrorKind::ConnectionReset => Reply::Closed,
            Err(e) => panic!("reading a reply failed: {e}"),
        }
    }

    /// The next reply, or `None` if none comes within the read timeout.
    pub fn try_reply(&mut self) -> Option<Reply> {
        match read_frame(&mut self.stream, &mut self.buf) {
            Err(ReadError::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Ok(Some(Frame::End)) => Some(Reply::End),
            Ok(Some(Frame::Error { code, message })) => {
                Some(Reply::Error(code, message.to_string()))
            }
            Ok(None) => Some(Reply::Closed),
            Ok(Some(other)) => Some(Reply::Other(format!("{other:?}"))),
            Err(e) => Some(Reply::Other(e.to_string())),
        }
    }

    /// Expects an ERROR frame with `code`, then the end of the connection.
    pub fn expect_error_and_close(&mut self, code: ErrorCode) -> String {
        let message = match self.reply() {
            Reply::Error(got, message) if got == code => message,
            other => panic!("expected an ERROR frame with {code:?}, got {other:?}"),
        };
        assert_eq!(self.reply(), Reply::Closed, "after the ERROR frame");
        message
    }

    /// Uploads `bytes` under `name`, frame by frame, and returns the final reply.
    pub fn upload(&mut self, name: &str, bytes: &[u8]) -> Reply {
        self.offer(name, bytes);
        match self.reply() {
            Reply::Ready => {}
            other => return other,
        }
        self.data(bytes);
        self.reply()
    }

    /// Closes with a reset (RST) instead of a FIN, the way a killed process's connection can.
    pub fn reset(self) {
        SockRef::from(&self.stream)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(self);
    }
}

/// Polls `condition` until it holds or `timeout` passes; says whether it held. (Polling a
/// condition in a bounded loop, not sleeping in place of synchronisation.)
pub fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// The server is still alive and serving: a whole upload works.
pub fn still_serves(server: &Server, name: &str) {
    let bytes = pattern(1000, 99);
    let mut raw = Raw::connect(server.addr());
    match raw.upload(name, &bytes) {
        Reply::Stored { size: 1000, .. } => {}
        other => panic!("the server no longer serves uploads: {other:?}"),
    }
    assert!(
        !server.stderr().contains("panicked"),
        "the server panicked: {}",
        server.stderr()
    );
}
