//! Black-box tests of every refusal: unsafe names, a size over the limit, a name already taken,
//! a wrong checksum, bytes that are not frames, a client that vanishes mid-transfer, and a disk
//! that refuses a write. After each, the folder holds exactly what it held before, and the
//! server goes on serving.

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::{
    Raw, Reply, SERVER, Scratch, client, names_in, pattern, sha256, start, still_serves, wait_until,
};
use lesson_04::frame::{ErrorCode, FileInfo, Frame, MAGIC};
use test_support::{DEADLINE, Server};

/// A store that already holds one file, so "left as it was" means something.
fn store_with_one_file(scratch: &Scratch, args: &[&str]) -> (Server, std::path::PathBuf) {
    let store = scratch.join("store");
    let server = start(&store, args);
    let mut raw = Raw::connect(server.addr());
    assert!(matches!(
        raw.upload("before.png", b"was here first"),
        Reply::Stored { .. }
    ));
    (server, store)
}

fn assert_left_as_it_was(store: &Path) {
    assert_eq!(names_in(store), ["before.png"]);
    assert_eq!(
        fs::read(store.join("before.png")).unwrap(),
        b"was here first"
    );
}

#[test]
fn unsafe_names_are_refused() {
    let scratch = Scratch::new("names");
    let (server, store) = store_with_one_file(&scratch, &[]);
    let bytes = b"not stored";
    for name in [
        "a/b.png",
        "../escape.png",
        "/etc/cron.d/evil",
        "a\\b.png",
        "..\\escape.png",
        "..",
        "a..b",
        ".hidden",
        ".upload-1-0.part",
        "nul\0byte.png",
        "new\nline.png",
    ] {
        let mut raw = Raw::connect(server.addr());
        raw.offer(name, bytes);
        let message = raw.expect_error_and_close(ErrorCode::BadName);
        assert!(message.contains("name"), "{name:?}: {message}");
    }
    // An empty name does not even fit the frame: a FILE payload needs at least one name byte.
    let mut raw = Raw::connect(server.addr());
    let mut frame = Frame::File(FileInfo {
        size: 1,
        sha256: sha256(b"x"),
        name: "n",
    })
    .encode()
    .unwrap();
    frame.pop(); // drop the one name byte
    frame[5] -= 1; // and count it out of the length
    raw.send_bytes(&frame).unwrap();
    raw.expect_error_and_close(ErrorCode::BadFrame);

    assert_left_as_it_was(&store);
    still_serves(&server, "fine.png");
}

#[test]
fn a_size_over_the_limit_is_refused_before_any_byte_is_stored() {
    let scratch = Scratch::new("too-large");
    let (server, store) = store_with_one_file(&scratch, &["--max-size", "1000"]);
    let mut raw = Raw::connect(server.addr());
    let big = pattern(1001, 0);
    raw.offer("big.bin", &big);
    // A client that does not wait for READY and sends its bytes anyway.
    let _ = raw.send_bytes(&Frame::Data(&big).encode().unwrap());
    let message = raw.expect_error_and_close(ErrorCode::TooLarge);
    assert!(message.contains("1001"), "{message}");
    assert_left_as_it_was(&store);

    // Exactly the limit is fine.
    let mut raw = Raw::connect(server.addr());
    assert!(matches!(
        raw.upload("limit.bin", &pattern(1000, 0)),
        Reply::Stored { size: 1000, .. }
    ));
}

#[test]
fn an_existing_name_is_never_overwritten() {
    let scratch = Scratch::new("exists");
    let (server, store) = store_with_one_file(&scratch, &[]);
    let mut raw = Raw::connect(server.addr());
    raw.offer("before.png", b"an impostor");
    raw.expect_error_and_close(ErrorCode::Exists);
    assert_left_as_it_was(&store);

    // The client says so in one sentence, and `--as` stores it under another name.
    let path = scratch.file("before.png", 100, 1);
    let out = client(server.addr(), &["send", path.to_str().unwrap()]);
    assert_eq!(out.code(), Some(1));
    assert!(out.stderr.contains("already exists"), "{}", out.stderr);
    let out = client(
        server.addr(),
        &["send", path.to_str().unwrap(), "--as", "after.png"],
    );
    assert_eq!(out.code(), Some(0), "{}", out.stderr);
    assert_eq!(names_in(&store), ["after.png", "before.png"]);
}

#[test]
fn two_uploads_racing_for_one_name_store_exactly_one() {
    let scratch = Scratch::new("race");
    let store = scratch.join("store");
    let server = start(&store, &[]);
    let (one, two) = (pattern(5000, 1), pattern(5000, 2));
    let mut a = Raw::connect(server.addr());
    let mut b = Raw::connect(server.addr());
    // Both pass the early "does it exist?" check, because neither is stored yet.
    a.offer("same.png", &one);
    b.offer("same.png", &two);
    assert_eq!(a.reply(), Reply::Ready);
    assert_eq!(b.reply(), Reply::Ready);
    a.data(&one);
    assert!(matches!(a.reply(), Reply::Stored { .. }));
    b.data(&two);
    b.expect_error_and_close(ErrorCode::Exists);
    assert_eq!(names_in(&store), ["same.png"]);
    assert_eq!(fs::read(store.join("same.png")).unwrap(), one);
    still_serves(&server, "fine.png");
}

#[test]
fn a_wrong_checksum_stores_nothing() {
    let scratch = Scratch::new("checksum");
    let (server, store) = store_with_one_file(&scratch, &[]);
    let bytes = pattern(100_000, 3);
    let mut wrong = sha256(&bytes);
    wrong[31] ^= 0x01;
    let mut raw = Raw::connect(server.addr());
    raw.send(&Frame::File(FileInfo {
        size: bytes.len() as u64,
        sha256: wrong,
        name: "damaged.png",
    }));
    assert_eq!(raw.reply(), Reply::Ready);
    raw.data(&bytes);
    let message = raw.expect_error_and_close(ErrorCode::Checksum);
    assert!(message.contains("nothing stored"), "{message}");
    assert_left_as_it_was(&store);
    still_serves(&server, "fine.png");
}

#[test]
fn bad_magic_unknown_type_and_impossible_lengths_get_an_error_frame_and_a_close() {
    let scratch = Scratch::new("bad-frames");
    let (server, store) = store_with_one_file(&scratch, &[]);
    let cases: [(&str, Vec<u8>); 7] = [
        ("text, as from nc", b"hello\n".to_vec()),
        (
            "an HTTP request",
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        ),
        ("unknown type 0", vec![MAGIC, 0, 0, 0, 0, 0]),
        ("unknown type 200", vec![MAGIC, 200, 0, 0, 0, 1, 0]),
        ("DATA of 4 GiB", vec![MAGIC, 2, 0xFF, 0xFF, 0xFF, 0xFF]),
        ("LIST with a payload", vec![MAGIC, 5, 0, 0, 0, 1, 0]),
        ("FILE too short", vec![MAGIC, 1, 0, 0, 0, 3, 1, 2, 3]),
    ];
    for (what, bytes) in cases {
        let mut raw = Raw::connect(server.addr());
        raw.send_bytes(&bytes).unwrap();
        match raw.reply() {
            Reply::Error(ErrorCode::BadFrame, _) => {}
            other => panic!("{what}: expected a BadFrame ERROR frame, got {other:?}"),
        }
        assert_eq!(raw.reply(), Reply::Closed, "{what}: after the ERROR frame");
    }
    // Well-formed frames in the wrong place.
    let mut raw = Raw::connect(server.addr());
    raw.send(&Frame::Data(b"no FILE frame before me"));
    raw.expect_error_and_close(ErrorCode::BadFrame);
    let mut raw = Raw::connect(server.addr());
    raw.send(&Frame::Ready);
    raw.expect_error_and_close(ErrorCode::BadFrame);
    // A LIST in the middle of an upload.
    let mut raw = Raw::connect(server.addr());
    raw.offer("interrupted.png", &pattern(100, 0));
    assert_eq!(raw.reply(), Reply::Ready);
    raw.send(&Frame::List);
    raw.expect_error_and_close(ErrorCode::BadFrame);
    // More bytes than announced.
    let mut raw = Raw::connect(server.addr());
    let bytes = pattern(100, 0);
    raw.offer("short.png", &bytes[..50]);
    assert_eq!(raw.reply(), Reply::Ready);
    raw.data(&bytes);
    raw.expect_error_and_close(ErrorCode::BadFrame);

    assert_left_as_it_was(&store);
    still_serves(&server, "fine.png");
}

#[test]
fn a_client_killed_mid_transfer_leaves_the_folder_as_it_was() {
    let scratch = Scratch::new("vanish");
    let (server, store) = store_with_one_file(&scratch, &[]);
    let bytes = pattern(1 << 20, 5);

    // A reset after half the bytes, as when the client's process is killed.
    let mut raw = Raw::connect(server.addr());
    raw.offer("half.png", &bytes);
    assert_eq!(raw.reply(), Reply::Ready);
    raw.data(&bytes[..bytes.len() / 2]);
    raw.reset();
    assert!(
        server.wait_for_stderr("reset the connection", DEADLINE),
        "{}",
        server.stderr()
    );
    assert_left_as_it_was(&store);

    // A clean close (FIN) after half the bytes, and a close in the middle of a DATA frame.
    for (what, cut) in [
        ("between frames", 2 * (65_536 + 6)),
        ("inside a frame", 100_000),
    ] {
        let mut raw = Raw::connect(server.addr());
        raw.offer(&format!("cut-{cut}.png"), &bytes);
        assert_eq!(raw.reply(), Reply::Ready, "{what}");
        let mut wire = Vec::new();
        for chunk in bytes.chunks(65_536) {
            wire.extend_from_slice(&Frame::Data(chunk).encode().unwrap());
        }
        raw.send_bytes(&wire[..cut]).unwrap();
        drop(raw);
    }
    // One "connection lost" line for each of the three.
    let lost = || server.stderr().matches("connection lost").count();
    assert!(wait_until(DEADLINE, || lost() == 3), "{}", server.stderr());
    assert_left_as_it_was(&store);
    still_serves(&server, "fine.png");
}

/// A real write error from the kernel, mid-upload: the server runs with a file size limit
/// (RLIMIT_FSIZE, `ulimit -f`) far below the upload, and with SIGXFSZ ignored, so a write past
/// the limit fails with EFBIG ("File too large") instead of killing the process. The code path
/// is the one a full disk (ENOSPC) takes; the unit test `a_full_disk_mid_upload_leaves_nothing_behind`
/// in src/main.rs injects ENOSPC itself.
#[cfg(unix)]
#[test]
fn a_write_error_mid_upload_leaves_nothing_behind() {
    let scratch = Scratch::new("write-error");
    let store = scratch.join("store");
    fs::create_dir_all(&store).unwrap();
    let mut command = Command::new("sh");
    command
        .arg("-c")
        // 64 blocks: 32 KiB or 64 KiB depending on the shell's unit, far below 1 MiB.
        .arg(r#"trap '' XFSZ; ulimit -f 64 && exec "$0" "$@""#)
        .arg(SERVER)
        .args(["--addr", "127.0.0.1:0", "--dir"])
        .arg(&store);
    let server = Server::start_command(command);

    let path = scratch.file("big.png", 1 << 20, 7);
    let out = client(server.addr(), &["send", path.to_str().unwrap()]);
    assert_eq!(out.code(), Some(1), "{}", out.stdout);
    assert!(out.stderr.contains("Storage"), "{}", out.stderr);
    assert!(out.stderr.contains("too large"), "{}", out.stderr);
    assert!(
        names_in(&store).is_empty(),
        "left behind: {:?}",
        names_in(&store)
    );
    // A small file still fits under the limit: the server goes on serving.
    still_serves(&server, "small.png");
}
