//! Benchmark: upload a large file over loopback with the real client and server, and compare
//! with a raw `std::io::copy` between two loopback sockets, measured in the same run. Prints
//! the server's peak resident memory too: it must not grow with the file.
//!
//! ```text
//! cargo bench -p lesson-04 --bench upload                  # 256 MiB, best of 3
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
    let mut rounds: u32 = 3;
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

    println!("upload of {mib} MiB over 127.0.0.1, best of {rounds} rounds");

    let raw = best(rounds, || raw_copy(bytes));
    println!(
        "raw std::io::copy, socket to socket:        {:>8.1} MB/s",
        mb_per_s(bytes, raw)
    );

    let copy = best(rounds, || {
        raw_file_copy(&file, &scratch.join("copy.bin"), bytes)
    });
    println!(
        "raw std::io::copy, file to socket to file:  {:>8.1} MB/s  (with fsync, no checksum)",
        mb_per_s(bytes, copy)
    );

    let hash = best(rounds, || {
        let started = Instant::now();
        let (size, _) = sha256_of(&mut File::open(&file).unwrap()).unwrap();
        assert_eq!(size, bytes);
        started.elapsed()
    });
    println!(
        "SHA-256 of the file alone (one core):       {:>8.1} MB/s",
        mb_per_s(bytes, hash)
    );

    let max_size = format!("{}", bytes + 1);
    let server = Server::start(
        SERVER,
        &["--dir", store.to_str().unwrap(), "--max-size", &max_size],
    );
    let mut n = 0;
    let upload = best(rounds, || {
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
    let ratio = mb_per_s(bytes, upload) / mb_per_s(bytes, raw);
    let of_copy = mb_per_s(bytes, upload) / mb_per_s(bytes, copy);
    println!(
        "lesson-04-client send -> lesson-04 server:  {:>8.1} MB/s  ({ratio:.2}x raw, \
         {of_copy:.2}x the file copy)",
        mb_per_s(bytes, upload)
    );
    println!("  (hashes the file, sends it in 64 KiB frames; the server hashes, writes, fsyncs)");
    println!(
        "server peak resident memory (VmHWM):        {:>8}",
        peak_memory(server.pid()).unwrap_or_else(|| "unknown (no /proc)".to_string())
    );

    drop(server);
    let _ = fs::remove_dir_all(&scratch);
}

/// The fastest of `rounds` runs: the least disturbed by whatever else the machine does.
fn best(rounds: u32, mut run: impl FnMut() -> Duration) -> Duration {
    (0..rounds).map(|_| run()).min().unwrap()
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
