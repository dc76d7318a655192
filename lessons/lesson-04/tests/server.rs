//! Black-box tests of lesson 04's server and client: round trips, list, get, uploads at the
//! same time, and the command-line conventions. Real binaries, real sockets on 127.0.0.1,
//! port 0, a scratch folder under the system's temp folder, and a deadline on every wait.

mod common;

use std::fs;
use std::net::TcpListener;
use std::process::Command;
use std::thread;

use common::{
    CLIENT, Raw, Reply, SERVER, Scratch, client, names_in, pattern, sha256, start, still_serves,
    wait_until,
};
use lesson_04::frame::{ErrorCode, Frame, hex};
use test_support::cli::{self, assert_one_sentence};
use test_support::{DEADLINE, run_to_end};

#[test]
fn files_of_0_1_1mib_and_odd_sizes_round_trip_through_the_client() {
    let scratch = Scratch::new("round-trip");
    let store = scratch.join("store");
    let server = start(&store, &[]);
    let sizes = [
        ("empty.bin", 0),
        ("one.bin", 1),
        ("mebi.bin", 1 << 20),
        ("odd.bin", 100_003),
    ];
    for (i, (name, len)) in sizes.into_iter().enumerate() {
        let original = scratch.file(name, len, i as u8);
        let bytes = fs::read(&original).unwrap();
        let checksum = hex(&sha256(&bytes));

        let out = client(server.addr(), &["send", original.to_str().unwrap()]);
        assert_eq!(out.code(), Some(0), "send {name}: {}", out.stderr);
        assert!(
            out.stdout
                .contains(&format!("stored {name}: {len} bytes, sha256 {checksum}")),
            "{}",
            out.stdout
        );
        assert_eq!(
            fs::read(store.join(name)).unwrap(),
            bytes,
            "{name} on the server"
        );

        let copy = scratch.join(&format!("copy-{name}"));
        let out = client(
            server.addr(),
            &["get", name, "--out", copy.to_str().unwrap()],
        );
        assert_eq!(out.code(), Some(0), "get {name}: {}", out.stderr);
        assert!(out.stdout.contains(&checksum), "{}", out.stdout);
        assert_eq!(fs::read(&copy).unwrap(), bytes, "{name} downloaded");
    }
    // Nothing but the four files: no temporary file left behind.
    assert_eq!(
        names_in(&store),
        ["empty.bin", "mebi.bin", "odd.bin", "one.bin"]
    );
    assert!(!server.stderr().contains("panicked"));
}

#[test]
fn list_shows_stored_files_sorted_with_their_sizes_and_nothing_else() {
    let scratch = Scratch::new("list");
    let store = scratch.join("store");
    let server = start(&store, &[]);

    let out = client(server.addr(), &["list"]);
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(out.stdout, "0 files, 0 bytes\n");

    for (name, len) in [("b.png", 10), ("a.png", 2000)] {
        let mut raw = Raw::connect(server.addr());
        assert!(matches!(
            raw.upload(name, &pattern(len, 1)),
            Reply::Stored { .. }
        ));
    }
    // A hidden file and a folder in the store are not files the server stored.
    fs::write(store.join(".hidden"), b"x").unwrap();
    fs::create_dir(store.join("folder")).unwrap();

    let out = client(server.addr(), &["list"]);
    assert_eq!(
        out.stdout,
        "        2000  a.png\n          10  b.png\n2 files, 2010 bytes\n"
    );

    // The same over the wire: one ENTRY frame per file, then END.
    let mut raw = Raw::connect(server.addr());
    raw.send(&Frame::List);
    assert_eq!(
        raw.reply(),
        Reply::Entry {
            size: 2000,
            name: "a.png".into()
        }
    );
    assert_eq!(
        raw.reply(),
        Reply::Entry {
            size: 10,
            name: "b.png".into()
        }
    );
    assert_eq!(raw.reply(), Reply::End);
}

#[test]
fn one_connection_can_carry_several_requests() {
    let scratch = Scratch::new("several");
    let server = start(&scratch.join("store"), &[]);
    let mut raw = Raw::connect(server.addr());
    assert!(matches!(
        raw.upload("one.bin", b"1"),
        Reply::Stored { size: 1, .. }
    ));
    assert!(matches!(
        raw.upload("two.bin", b"22"),
        Reply::Stored { size: 2, .. }
    ));
    raw.send(&Frame::Get { name: "two.bin" });
    assert_eq!(
        raw.reply(),
        Reply::File {
            size: 2,
            sha256: sha256(b"22")
        }
    );
    assert_eq!(raw.reply(), Reply::Data(2));
}

#[test]
fn get_refuses_missing_and_unsafe_names_and_never_overwrites_locally() {
    let scratch = Scratch::new("get");
    let store = scratch.join("store");
    let server = start(&store, &[]);

    let out = client(
        server.addr(),
        &["get", "nope.png", "--out", "/nonexistent/x"],
    );
    assert_eq!(out.code(), Some(1));
    assert_one_sentence(&out.stderr);
    assert!(out.stderr.contains("no file named"), "{}", out.stderr);

    // The server's folder is not a door to the rest of the disk.
    let mut raw = Raw::connect(server.addr());
    raw.send(&Frame::Get {
        name: "../../../etc/passwd",
    });
    raw.expect_error_and_close(ErrorCode::BadName);

    let mut raw = Raw::connect(server.addr());
    assert!(matches!(
        raw.upload("a.png", b"server copy"),
        Reply::Stored { .. }
    ));
    let local = scratch.join("a.png");
    fs::write(&local, b"mine").unwrap();
    let out = client(
        server.addr(),
        &["get", "a.png", "--out", local.to_str().unwrap()],
    );
    assert_eq!(out.code(), Some(1));
    assert_one_sentence(&out.stderr);
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);
    assert_eq!(fs::read(&local).unwrap(), b"mine");
}

#[test]
fn two_uploads_at_once_are_both_stored() {
    let scratch = Scratch::new("two-at-once");
    let store = scratch.join("store");
    let server = start(&store, &[]);
    let first = pattern(300_000, 1);
    let second = pattern(200_001, 2);

    // Both uploads are accepted (READY) before either sends a byte: two workers hold them at
    // the same moment. Then their DATA frames interleave.
    let mut a = Raw::connect(server.addr());
    let mut b = Raw::connect(server.addr());
    a.offer("first.bin", &first);
    b.offer("second.bin", &second);
    assert_eq!(a.reply(), Reply::Ready);
    assert_eq!(b.reply(), Reply::Ready);
    let (a_chunks, b_chunks): (Vec<_>, Vec<_>) = (
        first.chunks(50_000).collect(),
        second.chunks(50_000).collect(),
    );
    for i in 0..a_chunks.len().max(b_chunks.len()) {
        if let Some(chunk) = a_chunks.get(i) {
            a.send(&Frame::Data(chunk));
        }
        if let Some(chunk) = b_chunks.get(i) {
            b.send(&Frame::Data(chunk));
        }
    }
    assert!(matches!(a.reply(), Reply::Stored { size: 300_000, .. }));
    assert!(matches!(b.reply(), Reply::Stored { size: 200_001, .. }));

    // And two client programs started together.
    let paths = [
        scratch.file("third.bin", 1 << 20, 3),
        scratch.file("fourth.bin", 777_777, 4),
    ];
    let addr = server.addr();
    let runs: Vec<_> = paths
        .iter()
        .map(|path| {
            let path = path.to_str().unwrap().to_string();
            thread::spawn(move || client(addr, &["send", &path]))
        })
        .collect();
    for run in runs {
        let out = run.join().unwrap();
        assert_eq!(out.code(), Some(0), "{}", out.stderr);
    }
    for (name, bytes) in [("first.bin", &first), ("second.bin", &second)] {
        assert_eq!(&fs::read(store.join(name)).unwrap(), bytes);
    }
    for path in &paths {
        let name = path.file_name().unwrap();
        assert_eq!(fs::read(store.join(name)).unwrap(), fs::read(path).unwrap());
    }
    assert_eq!(names_in(&store).len(), 4);
}

#[test]
fn a_full_queue_turns_newcomers_away_with_busy() {
    let scratch = Scratch::new("busy");
    let server = start(&scratch.join("store"), &["--workers", "1"]);
    // The only worker is certainly busy: it has answered READY and waits for DATA.
    let mut holder = Raw::connect(server.addr());
    holder.offer("slow.bin", &pattern(10, 0));
    assert_eq!(holder.reply(), Reply::Ready);
    // Sixteen more fill the queue; they are accepted by the kernel and wait.
    let queued: Vec<Raw> = (0..16).map(|_| Raw::connect(server.addr())).collect();
    let mut late = Raw::connect(server.addr());
    match late.reply() {
        Reply::Error(ErrorCode::Busy, _) => {}
        other => panic!("expected a Busy ERROR frame, got {other:?}"),
    }
    // Once they leave, the worker drains the queue, and a newcomer is served again.
    drop(queued);
    drop(holder);
    let served = wait_until(DEADLINE, || {
        let mut raw = Raw::connect(server.addr());
        raw.send(&Frame::List);
        !matches!(raw.reply(), Reply::Error(ErrorCode::Busy, _))
    });
    assert!(served, "still busy after everyone left");
    still_serves(&server, "after-busy.bin");
}

#[test]
fn a_silent_client_is_dropped_and_the_others_are_served() {
    let scratch = Scratch::new("idle");
    let server = start(
        &scratch.join("store"),
        &["--workers", "1", "--idle-timeout", "1"],
    );
    // It connects and says nothing, holding the only worker, until the idle timeout.
    let _silent = Raw::connect(server.addr());
    // This upload waits in the queue, then goes through once the silent one is dropped.
    still_serves(&server, "patient.bin");
    assert!(
        server.wait_for_stderr("went silent", DEADLINE),
        "{}",
        server.stderr()
    );
}

#[test]
fn bad_addresses_and_folders_are_one_sentence_and_exit_one() {
    let scratch = Scratch::new("bad-args");
    let store = scratch.join("store");
    let store = store.to_str().expect("a UTF-8 temporary path");
    cli::assert_bad_addresses_refused(SERVER, &["--dir", store], b"");
    cli::assert_bad_addresses_refused(CLIENT, &["list"], b"");
    // A folder that cannot be created: its parent is a file.
    let file = scratch.file("plain-file", 1, 0);
    let mut command = Command::new(SERVER);
    command
        .args(["--addr", "127.0.0.1:0", "--dir"])
        .arg(file.join("store"));
    let out = run_to_end(command, b"", DEADLINE);
    assert_eq!(out.code(), Some(1));
    assert_one_sentence(&out.stderr);
    assert!(
        out.stderr.contains("cannot create the folder"),
        "{}",
        out.stderr
    );
}

#[test]
fn connection_refused_and_a_missing_file_are_one_sentence_and_exit_one() {
    cli::assert_connection_refused(CLIENT, &["list"], b"");

    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let out = client(addr, &["send", "/nonexistent/picture.png"]);
    assert_eq!(out.code(), Some(1));
    assert_one_sentence(&out.stderr);
    assert!(out.stderr.contains("cannot open"), "{}", out.stderr);
}

#[test]
fn the_command_line_conventions_hold() {
    let scratch = Scratch::new("conventions");
    let store = scratch.join("store");
    let store = store.to_str().expect("a UTF-8 temporary path");
    cli::assert_help(SERVER);
    cli::assert_help(CLIENT);
    cli::assert_port_in_use(SERVER, &["--dir", store]);
}
