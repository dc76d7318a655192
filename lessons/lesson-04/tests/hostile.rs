//! Hostile clients, folders and log readers: none may hold, crash, wedge or fool the server.
//! Each test here failed against the server before it had the defence the test names.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::symlink;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::{CLIENT, Raw, Reply, SERVER, Scratch, client, start};
use lesson_04::frame::{ErrorCode, Frame, MAX_DATA};
use test_support::{DEADLINE, Server, run_to_end};

/// Sends `bytes` one at a time, `gap` apart, until they run out or the server has closed;
/// returns how long the server let it go on.
fn trickle(raw: &mut Raw, bytes: &[u8], gap: Duration) -> Duration {
    let started = Instant::now();
    for byte in bytes {
        if raw.send_bytes(&[*byte]).is_err() {
            break;
        }
        thread::sleep(gap); // the attack itself is the pause, not a synchronisation
    }
    started.elapsed()
}

/// Reads until the server closes (or resets) the connection, within DEADLINE.
fn closed_by_server(raw: &mut Raw) -> bool {
    loop {
        match raw.reply() {
            Reply::Closed | Reply::Error(..) => return true,
            Reply::Other(_) => return false,
            _ => continue,
        }
    }
}

#[test]
fn a_request_frame_sent_a_byte_at_a_time_gets_the_idle_timeout_in_total() {
    let scratch = Scratch::new("slow-frame");
    let server = start(&scratch.path, &["--idle-timeout", "2", "--workers", "1"]);
    let frame = Frame::Get {
        name: "a-rather-long-name-so-that-the-frame-takes-a-while.png",
    }
    .encode()
    .unwrap();
    let mut raw = Raw::connect(server.addr());
    // 61 bytes, one every 300 ms: 18 s if nobody stops it. A per-read timeout of 2 s never
    // expires; a total of 2 s does.
    let mut writer = raw.stream.try_clone().unwrap();
    let feeder = thread::spawn(move || {
        for byte in frame {
            if writer.write_all(&[byte]).is_err() {
                break;
            }
            thread::sleep(Duration::from_millis(300));
        }
    });
    let started = Instant::now();
    assert!(closed_by_server(&mut raw));
    let held = started.elapsed();
    assert!(
        held < Duration::from_secs(6),
        "the frame held a worker {held:?}"
    );
    let _ = raw.stream.shutdown(std::net::Shutdown::Both);
    feeder.join().unwrap();
}

#[test]
fn an_upload_trickled_below_the_minimum_rate_is_cut_off() {
    let scratch = Scratch::new("slow-upload");
    let server = start(
        &scratch.join("store"),
        &["--idle-timeout", "2", "--workers", "1", "--min-rate", "4K"],
    );
    let picture = vec![9u8; 100_000];
    let mut raw = Raw::connect(server.addr());
    raw.offer("slow.png", &picture);
    assert_eq!(raw.reply(), Reply::Ready);
    // One DATA frame, its bytes 50 ms apart: 20 bytes a second, far below 4 KiB/s, and yet
    // no single read ever waits as long as the idle timeout.
    let frame = Frame::Data(&picture[..MAX_DATA]).encode().unwrap();
    let held = trickle(&mut raw, &frame[..200], Duration::from_millis(50));
    // 200 bytes take 10 s; the server must have stopped it after about one 2 s window.
    assert!(
        held < Duration::from_secs(7),
        "the trickle went on {held:?}"
    );
    drop(raw);
    // The only worker is free again.
    let path = scratch.file("fast.png", 10_000, 1);
    let out = client(server.addr(), &["send", path.to_str().unwrap()]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
}

#[test]
fn a_closed_stdout_neither_crashes_nor_wedges_the_server() {
    let scratch = Scratch::new("closed-stdout");
    let store = scratch.join("store");
    // `lesson-04 | head -1`: read the first line, then close the pipe.
    let mut child = Command::new(SERVER)
        .args(["--addr", "127.0.0.1:0", "--workers", "1", "--dir"])
        .arg(&store)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    stdout.read_line(&mut first).unwrap();
    drop(stdout);
    let addr = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    // Each upload makes the server log a line to the closed pipe; each must still be stored,
    // by the one worker, one after another.
    for n in 0..3 {
        let path = scratch.file(&format!("p{n}.png"), 5_000, n);
        let mut command = Command::new(CLIENT);
        command.args(["--addr", &addr, "send", path.to_str().unwrap()]);
        let out = run_to_end(command, b"", DEADLINE);
        assert_eq!(out.code(), Some(0), "upload {n}: {}", out.stderr);
    }
    assert!(child.try_wait().unwrap().is_none(), "the server exited");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn get_serves_only_regular_files_inside_the_folder() {
    let scratch = Scratch::new("links");
    let store = scratch.join("store");
    fs::create_dir_all(&store).unwrap();
    let secret = scratch.file("secret.txt", 100, 3);
    symlink(&secret, store.join("notes.txt")).unwrap();
    let fifo = std::ffi::CString::new(store.join("pipe.txt").to_str().unwrap()).unwrap();
    // SAFETY: mkfifo reads the NUL-terminated path we pass.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let server = start(&store, &["--workers", "1"]);
    for name in ["notes.txt", "pipe.txt"] {
        let mut raw = Raw::connect(server.addr());
        raw.send(&Frame::Get { name });
        // A FIFO opened without O_NONBLOCK would wait here for a writer, past DEADLINE.
        raw.expect_error_and_close(ErrorCode::NotFound);
    }
    // Neither is listed, and the one worker is still free.
    let out = client(server.addr(), &["list"]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert!(out.stdout.contains("0 files"), "{}", out.stdout);
}

#[test]
fn a_second_server_on_the_same_folder_refuses_to_start() {
    let scratch = Scratch::new("two-servers");
    let _first = start(&scratch.path, &[]);
    let mut second = Command::new(SERVER);
    second
        .args(["--addr", "127.0.0.1:0", "--dir"])
        .arg(&scratch.path);
    let out = run_to_end(second, b"", DEADLINE);
    assert_eq!(out.code(), Some(1), "{}", out.stdout);
    test_support::cli::assert_one_sentence(&out.stderr);
    assert!(
        out.stderr.contains("in use by another server"),
        "{}",
        out.stderr
    );
}

#[test]
fn names_that_hide_what_they_are_are_refused() {
    let scratch = Scratch::new("names");
    let server = start(&scratch.path, &[]);
    for name in [
        "photo\u{202E}gnp.exe",
        "cafe\u{301}.txt",
        "   ",
        "a\u{200B}b",
    ] {
        let mut raw = Raw::connect(server.addr());
        raw.offer(name, b"bytes");
        raw.expect_error_and_close(ErrorCode::BadName);
    }
}

#[test]
fn client_text_reaches_the_log_escaped() {
    let scratch = Scratch::new("log");
    let server = start(&scratch.path, &[]);
    let mut raw = Raw::connect(server.addr());
    raw.offer("x.png", &[1u8; 1000]);
    assert_eq!(raw.reply(), Reply::Ready);
    // ESC [2J clears a terminal; CR lets the rest overwrite the line as if it were another.
    raw.send(&Frame::Error {
        code: ErrorCode::Storage,
        message: "\x1b[2J\rforged: stored everything",
    });
    assert!(server.wait_for_stderr("it said", DEADLINE));
    let log = server.stderr();
    assert!(!log.contains('\x1b') && !log.contains('\r'), "{log:?}");
}

/// Sets this process's descriptor limit: used in a child just before it runs the server.
fn limit_descriptors(command: &mut Command, n: u64) {
    // SAFETY: setrlimit is async-signal-safe and touches only the struct passed.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: n,
                rlim_max: n,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[test]
fn a_pool_too_large_for_the_descriptor_limit_shrinks_to_fit_or_refuses() {
    let scratch = Scratch::new("nofile");
    let mut command = Command::new(SERVER);
    command
        .args(["--addr", "127.0.0.1:0", "--workers", "32", "--dir"])
        .arg(&scratch.path);
    limit_descriptors(&mut command, 64);
    let server = Server::start_command(command);
    let line = server.expect_line_containing("file descriptors", DEADLINE);
    assert!(line.contains("running"), "{line}");

    let mut command = Command::new(SERVER);
    command
        .args(["--addr", "127.0.0.1:0", "--dir"])
        .arg(scratch.join("other"));
    limit_descriptors(&mut command, 8);
    let out = run_to_end(command, b"", DEADLINE);
    assert_eq!(out.code(), Some(1), "{}", out.stdout);
    test_support::cli::assert_one_sentence(&out.stderr);
    assert!(
        out.stderr.contains("not enough for one worker"),
        "{}",
        out.stderr
    );
}

#[test]
fn two_hundred_clients_under_a_limit_of_64_descriptors_are_served_or_told_busy() {
    let scratch = Scratch::new("crowd");
    let mut command = Command::new(SERVER);
    command
        .args(["--addr", "127.0.0.1:0", "--workers", "64", "--dir"])
        .arg(scratch.join("store"));
    limit_descriptors(&mut command, 64);
    let server = Server::start_command(command);
    // Each asks for the list and stays connected, holding its worker. 64 workers cannot fit in
    // 64 descriptors: a server that tries runs out, and its newcomers hear nothing at all.
    let mut crowd: Vec<Raw> = (0..200)
        .map(|_| {
            let mut raw = Raw::connect(server.addr());
            raw.send(&Frame::List);
            raw
        })
        .collect();
    let mut silent = 0;
    for (n, raw) in crowd.iter_mut().enumerate() {
        raw.stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        match raw.try_reply() {
            Some(Reply::End | Reply::Error(ErrorCode::Busy, _)) => {}
            // Waiting in the queue (at most 16) for a worker that a silent client holds.
            None => silent += 1,
            Some(other) => panic!("client {n} got {other:?}"),
        }
    }
    assert!(silent <= 16, "{silent} clients heard nothing");
    drop(crowd);
    let path = scratch.file("after.png", 10_000, 5);
    let out = client(server.addr(), &["send", path.to_str().unwrap()]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
}

#[test]
fn out_of_descriptors_newcomers_hear_busy_and_the_server_recovers() {
    let scratch = Scratch::new("emfile");
    let server = start(&scratch.join("store"), &["--workers", "1"]);
    let pid = server.pid() as libc::pid_t;
    // Lower the running server's limit to its lowest free descriptor number: from now on
    // every accept() fails with EMFILE, except through the spare descriptor.
    let open: Vec<u64> = fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let lowest_free = (0..).find(|n| !open.contains(n)).unwrap();
    // Sets the server's soft limit, keeping its hard one.
    let set = |soft: u64| {
        let mut old = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: prlimit reads and writes only the structs passed, both ours.
        let got = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, std::ptr::null(), &mut old) };
        assert_eq!(got, 0);
        let new = libc::rlimit {
            rlim_cur: soft.min(old.rlim_max),
            rlim_max: old.rlim_max,
        };
        let set = unsafe { libc::prlimit(pid, libc::RLIMIT_NOFILE, &new, std::ptr::null_mut()) };
        assert_eq!(set, 0);
    };
    set(lowest_free);
    // The accept() already waiting took its descriptor under the old limit, so the first
    // newcomer reaches the worker (which cannot open the folder to list it either, and says
    // so); every later one hears Busy.
    let mut busy = 0;
    for n in 0..20 {
        let mut raw = Raw::connect(server.addr());
        raw.send(&Frame::List);
        let _ = raw.stream.shutdown(std::net::Shutdown::Write);
        match raw.reply() {
            Reply::Error(ErrorCode::Busy, _) => busy += 1,
            Reply::End | Reply::Error(ErrorCode::Storage, _) if n == 0 => {}
            other => panic!("newcomer {n} got {other:?} while descriptors ran out"),
        }
    }
    assert!(busy >= 19, "{busy}");
    set(1024);
    let path = scratch.file("after.png", 10_000, 6);
    let out = client(server.addr(), &["send", path.to_str().unwrap()]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    let log = server.stderr();
    assert_eq!(log.matches("out of descriptors").count(), 1, "{log}");
    assert!(log.contains("descriptors are free again"), "{log}");
}

#[test]
fn a_bad_min_rate_is_refused() {
    let out = run_to_end(
        {
            let mut c = Command::new(SERVER);
            c.args(["--min-rate", "0"]);
            c
        },
        b"",
        DEADLINE,
    );
    assert_eq!(out.code(), Some(2), "{}", out.stderr);
    assert!(
        out.stderr.contains("at least 1 byte per second"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_client_reads_an_endless_list_in_bounded_memory() {
    // A hostile server: one ENTRY frame after another, never END.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let flood = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let name = "x".repeat(200);
        let entry = Frame::Entry {
            size: 1,
            name: &name,
        }
        .encode()
        .unwrap();
        let batch: Vec<u8> = entry
            .iter()
            .copied()
            .cycle()
            .take(entry.len() * 300)
            .collect();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(3) {
            if stream.write_all(&batch).is_err() {
                break;
            }
        }
    });
    let mut child = Command::new(CLIENT)
        .args(["--addr", &addr.to_string(), "list"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Whatever the client keeps of what it has read shows in its resident memory.
    let resident_kib = || -> Option<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", child.id())).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    let mut peak = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(2) {
        peak = peak.max(resident_kib().unwrap_or(0));
        thread::sleep(Duration::from_millis(100)); // sampling, not synchronisation
    }
    let _ = child.kill();
    let _ = child.wait();
    flood.join().unwrap();
    // Megabytes of entries went by; the client holds one 64 KiB frame buffer at a time.
    assert!(
        peak > 0 && peak < 32 * 1024,
        "the client's peak VmRSS was {peak} KiB"
    );
}
