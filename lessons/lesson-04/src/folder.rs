//! Lesson 04's folder: where uploads are stored, and the rules that keep them there.
//!
//! Every name comes from the network, so every name is checked (`check_name`) before it
//! touches a path. A file being received lives under a temporary name (`TempFile`) until it is
//! complete and checked; only then does it get its real name.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use unicode_normalization::is_nfc;

use crate::frame::MAX_NAME;

// ANCHOR: check_name
/// Whether a file name is safe to use as a path inside the server's folder. The name comes
/// from the network: `../../home/you/.ssh/authorized_keys` is a file name too.
pub fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("the name is empty");
    }
    if name.len() > MAX_NAME {
        return Err("the name is longer than 255 bytes");
    }
    if name.contains(['/', '\\']) {
        return Err("a name may not contain / or \\ (it would name another folder)");
    }
    if name.contains("..") {
        return Err("a name may not contain .. (it could climb out of the folder)");
    }
    if name.starts_with('.') {
        return Err("a name may not start with a dot (hidden files, and the server's own)");
    }
    if name.contains('\0') {
        return Err("a name may not contain a NUL byte");
    }
    if name.chars().any(char::is_control) {
        return Err("a name may not contain control characters");
    }
    // Characters that change how a name *looks* without being seen: `photo\u{202E}gnp.exe`
    // shows as `photoexe.png`, and a zero-width space makes two names look alike.
    if name.chars().any(is_invisible) {
        return Err(
            "a name may not contain invisible characters (direction marks, zero-width \
                    characters, byte-order marks, line or paragraph separators)",
        );
    }
    if name.chars().all(char::is_whitespace) {
        return Err("a name may not be only spaces");
    }
    // `café` can be written with one character for é or with e and a combining accent: two
    // names that look the same. Only the composed form (Unicode NFC) is accepted.
    if !is_nfc(name) {
        return Err("a name must be in Unicode normal form C (composed characters)");
    }
    Ok(())
}

/// Direction controls (U+202A to U+202E, U+2066 to U+2069, and the marks U+200E, U+200F),
/// zero-width characters and the byte-order mark (U+200B to U+200D, U+2060, U+FEFF), and the
/// line and paragraph separators (U+2028, U+2029).
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}'
        | '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{2028}' | '\u{2029}')
}
// ANCHOR_END: check_name

// ANCHOR: temp_file
/// A file being received, under a temporary name in the server's folder. Dropping it deletes
/// it: on an error, a vanished client, a full disk, whatever path leaves `upload` early.
/// `keep_as` is the only way to give it a real name.
pub struct TempFile {
    path: PathBuf,
    pub file: File,
}

/// Temporary names start with a dot, which no uploaded name may: they can never collide.
const TEMP_PREFIX: &str = ".upload-";
const TEMP_SUFFIX: &str = ".part";

impl TempFile {
    pub fn create(dir: &Path) -> io::Result<TempFile> {
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
    pub fn keep_as(self, path: &Path) -> io::Result<()> {
        self.file.sync_all()?;
        fs::hard_link(&self.path, path)?;
        // The new name is an entry in the folder, and the folder is a file of its own: until
        // it is synced too, a power cut can lose the name (and so the file) after STORED.
        let dir = path.parent().filter(|dir| !dir.as_os_str().is_empty());
        sync_dir(dir.unwrap_or(Path::new(".")))
        // Dropping `self` removes the temporary name; the bytes stay under the final one.
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}
// ANCHOR_END: temp_file

// ANCHOR: prepare_dir
/// Creates the folder if needed, locks it, and removes temporary files a previous run left
/// behind (a server killed in the middle of an upload cannot clean up after itself). Returns
/// the lock, to be held for as long as the server runs.
pub fn prepare_dir(dir: &Path) -> Result<File, String> {
    fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the folder {}: {e}", dir.display()))?;
    // Only the folder's one server may decide that a temporary file is a leftover.
    let lock = lock(dir)?;
    let entries =
        fs::read_dir(dir).map_err(|e| format!("cannot read the folder {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX) {
            match fs::remove_file(entry.path()) {
                Ok(()) => log_line(format_args!(
                    "removed {name}, left over from an interrupted upload"
                )),
                Err(e) => log_line(format_args!(
                    "cannot remove {name}, left over from an upload: {e}"
                )),
            }
        }
    }
    Ok(lock)
}
// ANCHOR_END: prepare_dir

// ANCHOR: list_files
/// The files a client may see, sorted by name, with their sizes: regular files with a name
/// `check_name` accepts. Temporary files, the lock file and anything a person put there under
/// an unsafe name stay out of the list.
pub fn list_files(dir: &Path) -> io::Result<Vec<(String, u64)>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir)?.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue; // not UTF-8: not something this server stored
        };
        // The entry's own type: a symbolic link is not followed, and stays out.
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_file() && check_name(&name).is_ok() {
            files.push((name, meta.len()));
        }
    }
    files.sort();
    Ok(files)
}
// ANCHOR_END: list_files

/// A line on stderr; if nobody reads it any more, never mind.
fn log_line(line: std::fmt::Arguments) {
    let _ = writeln!(io::stderr(), "{line}");
}

/// Flushes a folder's entries (names created or removed) to the disk.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

// ANCHOR: open_regular
/// Opens a stored file for reading, if `name` is a regular file inside the folder. Without
/// O_NOFOLLOW, a symbolic link `notes.txt -> /etc/passwd` placed in the folder would be served;
/// without O_NONBLOCK, opening a FIFO would wait, with no timeout, for a writer that may never
/// come. Once open, the type of what was opened (not of what the name pointed to a moment
/// earlier) decides. `Ok(None)`: no such regular file.
pub fn open_regular(dir: &Path, name: &str) -> io::Result<Option<File>> {
    let opened = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(dir.join(name));
    let file = match opened {
        Ok(file) => file,
        // ELOOP: the name is a symbolic link.
        Err(e) if e.kind() == ErrorKind::NotFound || e.raw_os_error() == Some(libc::ELOOP) => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    // fstat on the open descriptor: a FIFO, a device or a folder is not a stored file.
    Ok(file.metadata()?.is_file().then_some(file))
}
// ANCHOR_END: open_regular

// ANCHOR: lock
/// The lock file's name: it starts with a dot, so no upload can take it and no listing shows it.
const LOCK_NAME: &str = ".lock";

/// Takes an exclusive lock on the folder, held until the returned file is dropped (or the
/// process ends, however it ends: the kernel releases it). A second server on the same folder
/// would delete the first one's uploads in progress as leftovers; it stops here instead.
pub fn lock(dir: &Path) -> Result<File, String> {
    let path = dir.join(LOCK_NAME);
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| format!("cannot create the lock file {}: {e}", path.display()))?;
    // SAFETY: flock takes a descriptor that `file` keeps open, and touches no memory.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::EWOULDBLOCK) => format!(
                "the folder {} is in use by another server (it holds {}); \
                 stop that server or choose another folder with --dir",
                dir.display(),
                path.display()
            ),
            _ => format!("cannot lock {}: {e}", path.display()),
        });
    }
    Ok(file)
}
// ANCHOR_END: lock
