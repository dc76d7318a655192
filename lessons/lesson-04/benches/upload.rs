//! Benchmark: upload a large file over loopback with the real client and server, and compare
//! with a raw `std::io::copy` between two loopback sockets, measured in the same run. Prints
//! the server's peak resident memory too: it must not grow with the file.
//!
//! ```text
//! cargo bench -p lesson-04 --bench upload                  # 256 MiB, 5 rounds
//! cargo bench -p lesson-04 --bench upload -- --mib 1024    # 1 GiB
//! ```
//!
//! Loopback only; it writes the file and the server's folder under the system's temp folder
//! and removes them at the end.

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use lesson_04::connection::sha256_of;
use test_support::Server;

const SERVER: &str = env!("CARGO_BIN_EXE_lesson-04");
const CLIENT: &str = env!("CARGO_BIN_EXE_lesson-04-client");

fn main() {
    let mut mib: u64 = 256;
    let mut rounds: u32 = 5;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--mib" => mib = args.next().and_then(|v| v.parse().ok()).unwrap_or(mib),
            "--rounds" => rounds = args.next().and_then(|v| v.parse().ok()).unwrap_or(rounds),
            _ => {} // cargo bench passes --bench; ignore what is not ours
        }
    }
    let mib = mib.clamp(1, 4096);
    let rounds = rounds.clamp(1, 10);
    let bytes = mib << 20;

    let scratch = std::env::temp_dir().join(format!("lesson-04-bench-{}", std::process::id()));
    let _ = fs::remove_dir_all(&scratch);
    fs::create_dir_all(&scratch).expect("a scratch folder in the temp folder");
    let file = scratch.join("upload.bin");
    write_test_file(&file, bytes);
    let store = scratch.join("store");

    println!(
        "upload of {mib} MiB over 127.0.0.1, {rounds} rounds each: median MB/s (slowest to fastest)"
    );

    let raw = Rounds::run(rounds, || raw_copy(bytes));
    println!(
        "raw std::io::copy, socket to socket:        {}",
        raw.show(bytes)
    );

    let copy = Rounds::run(rounds, || {
        raw_file_copy(&file, &scratch.join("copy.bin"), bytes)
    });
    println!(
        "raw std::io::copy, file to socket to file:  {}  with fsync, no checksum",
        copy.show(bytes)
    );

    let hash = Rounds::run(rounds, || {
        let started = Instant::now();
        let (size, _) = sha256_of(&mut File::open(&file).unwrap()).unwrap();
        assert_eq!(size, bytes);
        started.elapsed()
    });
    println!(
        "SHA-256 of the file alone (one core):       {}",
        hash.show(bytes)
    );

    let max_size = format!("{}", bytes + 1);
    let server = Server::start(
        SERVER,
        &["--dir", store.to_str().unwrap(), "--max-size", &max_size],
    );
    let mut n = 0;
    let upload = Rounds::run(rounds, || {
        n += 1;
        let name = format!("round-{n}.bin");
        let started = Instant::now();
        let status = Command::new(CLIENT)
            .args(["--addr", &server.addr().to_string(), "send"])
            .arg(&file)
            .args(["--as", &name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("the client runs");
        let took = started.elapsed();
        assert!(status.success(), "the upload failed");
        assert_eq!(fs::metadata(store.join(&name)).unwrap().len(), bytes);
        // Keep the disk use to one copy.
        fs::remove_file(store.join(&name)).unwrap();
        took
    });
    // Ratios of medians, each from this run: the same machine, the same load.
    let ratio = upload.median_rate(bytes) / raw.median_rate(bytes);
    let of_copy = upload.median_rate(bytes) / copy.median_rate(bytes);
    println!(
        "lesson-04-client send -> lesson-04 server:  {}  {ratio:.2}x raw, {of_copy:.2}x the file copy",
        upload.show(bytes)
    );
    println!("  (hashes the file, sends it in 64 KiB frames; the server hashes, writes, fsyncs)");
    println!(
        "server peak resident memory (VmHWM):        {:>8}",
        peak_memory(server.pid()).unwrap_or_else(|| "unknown (no /proc)".to_string())
    );

    drop(server);
    let _ = fs::remove_dir_all(&scratch);
}

/// The durations of `rounds` runs, sorted: the median, and the spread around it, which says how
/// much whatever else the machine was doing moved the figure.
struct Rounds(Vec<Duration>);

impl Rounds {
    fn run(rounds: u32, mut run: impl FnMut() -> Duration) -> Rounds {
        let mut took: Vec<Duration> = (0..rounds).map(|_| run()).collect();
        took.sort();
        Rounds(took)
    }

    fn median_rate(&self, bytes: u64) -> f64 {
        mb_per_s(bytes, self.0[self.0.len() / 2])
    }

    /// `552.1 MB/s (540.2-560.3)`: the median rate, then the slowest and fastest rounds.
    fn show(&self, bytes: u64) -> String {
        let slowest = mb_per_s(bytes, self.0[self.0.len() - 1]);
        let fastest = mb_per_s(bytes, self.0[0]);
        format!(
            "{:>8.1} MB/s ({slowest:.1}-{fastest:.1})",
            self.median_rate(bytes)
        )
    }
}

fn mb_per_s(bytes: u64, took: Duration) -> f64 {
    bytes as f64 / 1e6 / took.as_secs_f64()
}

/// `bytes` bytes from memory through a loopback connection into nothing, with std::io::copy
/// on both sides: the most TCP on this machine can do, with no file, no framing, no checksum.
fn raw_copy(bytes: u64) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let receiver = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        io::copy(&mut stream, &mut io::sink()).unwrap()
    });
    let started = Instant::now();
    let mut stream = TcpStream::connect(addr).unwrap();
    io::copy(&mut io::repeat(0x5A).take(bytes), &mut stream).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let received = receiver.join().unwrap();
    let took = started.elapsed();
    assert_eq!(received, bytes);
    took
}

/// The same file through a loopback connection into a new file, with std::io::copy on both
/// sides and an fsync at the end: what the disk and the file system add, without framing or
/// checksums.
fn raw_file_copy(from: &Path, to: &Path, bytes: u64) -> Duration {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let to = to.to_path_buf();
    let started = Instant::now();
    let receiver = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut out = File::create(&to).unwrap();
        let n = io::copy(&mut stream, &mut out).unwrap();
        out.sync_all().unwrap();
        fs::remove_file(&to).unwrap();
        n
    });
    let mut stream = TcpStream::connect(addr).unwrap();
    io::copy(&mut File::open(from).unwrap(), &mut stream).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    let received = receiver.join().unwrap();
    let took = started.elapsed();
    assert_eq!(received, bytes);
    took
}

/// A file of `bytes` bytes that are not all alike, written 1 MiB at a time.
fn write_test_file(path: &Path, bytes: u64) {
    let mut out = BufWriter::new(File::create(path).unwrap());
    let mut block = vec![0u8; 1 << 20];
    let mut x = 0x2545_F491u32;
    for _ in 0..bytes >> 20 {
        for b in block.iter_mut() {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        out.write_all(&block).unwrap();
    }
    out.flush().unwrap();
}

/// VmHWM, the "high water mark" of a process's resident memory, from /proc/PID/status.
fn peak_memory(pid: u32) -> Option<String> {
    let status = fs::read_to_string(PathBuf::from(format!("/proc/{pid}/status"))).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(format!("{:.1} MiB", kb as f64 / 1024.0))
}
