//! The server's folder, without a network: which names are refused, temporary files that
//! vanish unless kept, leftovers removed at start.

use std::fs::{self, File};
use std::io::{self, ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use lesson_04::connection::{TransferError, receive_data, send_data, sha256_of};
use lesson_04::folder::{TempFile, check_name, prepare_dir};
use lesson_04::frame::MAX_DATA;

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

    let dir = scratch("full");
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
    fs::remove_dir_all(&dir).unwrap();
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
