//! Lesson 04's folder: where uploads are stored, and the rules that keep them there.
//!
//! Every name comes from the network, so every name is checked (`check_name`) before it
//! touches a path. A file being received lives under a temporary name (`TempFile`) until it is
//! complete and checked; only then does it get its real name.

use std::fs::{self, File, OpenOptions};
use std::io::{self, ErrorKind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

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
    Ok(())
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
        fs::hard_link(&self.path, path)
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
/// Creates the folder if needed, and removes temporary files a previous run left behind (a
/// server killed in the middle of an upload cannot clean up after itself).
pub fn prepare_dir(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir)
        .map_err(|e| format!("cannot create the folder {}: {e}", dir.display()))?;
    let entries =
        fs::read_dir(dir).map_err(|e| format!("cannot read the folder {}: {e}", dir.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX) {
            match fs::remove_file(entry.path()) {
                Ok(()) => eprintln!("removed {name}, left over from an interrupted upload"),
                Err(e) => eprintln!("cannot remove {name}, left over from an upload: {e}"),
            }
        }
    }
    Ok(())
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
