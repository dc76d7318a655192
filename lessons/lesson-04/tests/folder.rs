//! The server's folder, without a network: which names are refused, temporary files that
//! vanish unless kept, leftovers removed at start.

use std::fs::{self, File};
use std::io::{self, ErrorKind, Write};

mod common;

use common::{Scratch, names_in};
use lesson_04::connection::{TransferError, receive_data, send_data, sha256_of};
use lesson_04::folder::{TempFile, check_name, lock, prepare_dir};
use lesson_04::frame::MAX_DATA;

#[test]
fn a_temp_file_dropped_early_leaves_nothing() {
    let scratch = Scratch::new("drop");
    let dir = scratch.path.clone();
    {
        let mut temp = TempFile::create(&dir).unwrap();
        temp.file.write_all(b"half a picture").unwrap();
        assert_eq!(names_in(&dir).len(), 1);
        // An error anywhere in `upload` drops it like this, without keep_as.
    }
    assert!(names_in(&dir).is_empty());
}

#[test]
fn keep_as_gives_the_final_name_and_never_replaces_a_file() {
    let scratch = Scratch::new("keep");
    let dir = scratch.path.clone();
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
}

/// A full disk, injected: the temp file's writes fail with StorageFull after 1000 bytes.
/// This runs the same `receive_data` and `TempFile` the server uses, and checks the
/// outcome (a write error, which the server reports as a Storage error) and what the folder holds (nothing).
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

    let scratch = Scratch::new("full");
    let dir = scratch.path.clone();
    let picture = vec![7u8; 5000];
    let (size, sha256) = sha256_of(&mut &picture[..]).unwrap();
    let mut wire = Vec::new();
    send_data(&mut &picture[..], size, &mut wire, |_| {}).unwrap();

    let outcome = (|| -> Result<(), TransferError> {
        let mut temp = TempFile::create(&dir).map_err(TransferError::Write)?;
        let mut disk = FullAfter {
            file: &mut temp.file,
            room: 1000,
        };
        let mut buf = [0u8; MAX_DATA];
        receive_data(&mut &wire[..], &mut buf, size, &sha256, &mut disk, |_| {})?;
        temp.keep_as(&dir.join("picture.png"))
            .map_err(TransferError::Write)
        // An early return drops `temp`, as one does in the server's `upload`.
    })();
    match outcome {
        Err(TransferError::Write(e)) => assert_eq!(e.kind(), ErrorKind::StorageFull),
        other => panic!("expected a write error, got {other:?}"),
    }
    assert!(names_in(&dir).is_empty(), "{:?}", names_in(&dir));
}

#[test]
fn leftover_temp_files_are_removed_at_start() {
    let scratch = Scratch::new("leftover");
    let dir = scratch.path.clone();
    fs::write(dir.join(".upload-1-0.part"), b"half").unwrap();
    fs::write(dir.join("kept.png"), b"whole").unwrap();
    prepare_dir(&dir).unwrap();
    assert_eq!(names_in(&dir), ["kept.png"]);
}

#[test]
fn unsafe_names_are_refused_and_ordinary_ones_accepted() {
    for bad in [
        "",
        "a/b",
        "a\\b",
        "..",
        "a..b",
        ".hidden",
        "a\0b",
        "tab\there",
        &"x".repeat(256),
    ] {
        assert!(check_name(bad).is_err(), "{bad:?}");
    }
    for good in [
        "postcard.png",
        "a.b.c",
        "My photo (1).jpeg",
        "日本.png",
        &"x".repeat(255),
    ] {
        assert_eq!(check_name(good), Ok(()), "{good:?}");
    }
}

#[test]
fn names_that_look_like_other_names_are_refused() {
    for bad in [
        "photo\u{202E}gnp.exe", // shows as photoexe.png
        "a\u{2066}b",
        "a\u{200F}b",
        "zero\u{200B}width",
        "join\u{200D}er",
        "\u{FEFF}bom.txt",
        "line\u{2028}sep",
        "para\u{2029}sep",
        " ",
        "   ",
        "\u{3000}",        // an ideographic space is a space too
        "cafe\u{301}.txt", // e + combining acute: not NFC
    ] {
        assert!(check_name(bad).is_err(), "{bad:?}");
    }
    // The composed form of the same name is accepted, and so are spaces inside a name.
    assert_eq!(check_name("caf\u{e9}.txt"), Ok(()));
    assert_eq!(check_name("two words.txt"), Ok(()));
}

#[test]
fn a_locked_folder_cannot_be_locked_again() {
    let scratch = Scratch::new("lock");
    let held = lock(&scratch.path).unwrap();
    let err = lock(&scratch.path).unwrap_err();
    assert!(err.contains("in use by another server"), "{err}");
    drop(held);
    lock(&scratch.path).unwrap();
}
