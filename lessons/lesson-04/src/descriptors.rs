//! File descriptors: how many the server may hold, how many its pool needs, and what it does
//! when they run out.
//!
//! Every connection, file and folder the server opens takes one descriptor, and a process may
//! hold only so many (`ulimit -n`; the *soft* limit, which a process may raise itself up to
//! the *hard* one). When none is left, `accept()` fails with EMFILE, and the newcomer stays in
//! the kernel's queue, hearing nothing. So the server sizes its pool to fit at start, and keeps
//! one spare descriptor to accept a newcomer and tell it "busy" if they run out anyway.

use std::fs::{self, File};
use std::io;
use std::net::{TcpListener, TcpStream};

/// What one worker may hold at once: its connection, the file it reads or writes, and the
/// folder (opened to list it, or to sync it after a file is named).
pub const PER_WORKER: u64 = 3;
/// What one connection waiting in the queue holds: its socket.
pub const PER_QUEUED: u64 = 1;
/// Kept free beyond the pool: the connection being turned away, and a margin.
pub const RESERVE: u64 = 3;

/// Raises this process's soft limit on open descriptors to its hard limit, and returns the
/// limit now in force. (Many systems start programs with a soft limit of 1024 and a hard one
/// far higher; the soft one is a default, not a decision.)
pub fn raise_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit {
            rlim_cur: limit.rlim_max,
            rlim_max: limit.rlim_max,
        };
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        }
    }
    Ok(limit.rlim_cur)
}

/// How many descriptors this process holds now, counted in `/proc/self/fd`.
pub fn open_now() -> io::Result<u64> {
    // The listing itself holds one while it runs; do not count it.
    Ok((fs::read_dir("/proc/self/fd")?.count() as u64).saturating_sub(1))
}

/// The largest pool that fits in `room` free descriptors: the workers and queue asked for if
/// they fit, otherwise fewer workers first and then a shorter queue. `None` when not even one
/// worker fits.
pub fn fit(room: u64, workers: u16, queue: usize) -> Option<(u16, usize)> {
    let workers = u64::from(workers).min(room / PER_WORKER);
    if workers == 0 {
        return None;
    }
    let queue = (queue as u64).min((room - workers * PER_WORKER) / PER_QUEUED);
    Some((workers as u16, queue as usize))
}

// ANCHOR: size_pool
/// Raises the descriptor limit as far as it goes, and shrinks the pool to fit in it: the
/// workers and queue length to run with, and the start-up line that says so if they shrank.
pub fn size_pool(workers: u16, queue: usize) -> Result<(u16, usize, Option<String>), String> {
    let limit = raise_limit().map_err(|e| format!("cannot read ulimit -n: {e}"))?;
    let open = open_now().map_err(|e| format!("cannot count open descriptors: {e}"))?;
    let room = limit.saturating_sub(open + RESERVE);
    let Some((fit_workers, fit_queue)) = fit(room, workers, queue) else {
        return Err(format!(
            "only {limit} file descriptors allowed (ulimit -n), not enough for one worker; \
             raise the limit"
        ));
    };
    let shrunk = ((fit_workers, fit_queue) != (workers, queue)).then(|| {
        format!(
            "only {limit} file descriptors allowed (ulimit -n): running {fit_workers} workers \
             and a queue of {fit_queue} instead of {workers} and {queue}"
        )
    });
    Ok((fit_workers, fit_queue, shrunk))
}
// ANCHOR_END: size_pool

/// Whether a failed `accept()` means "out of descriptors or memory", as opposed to an error
/// about one connection. (man 2 accept: EMFILE is this process's limit, ENFILE the system's.)
pub fn out_of_resources(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

// ANCHOR: spare
/// One descriptor held in reserve (on `/dev/null`). When `accept()` fails for lack of
/// descriptors, giving this one back lets exactly one newcomer in, to be told "busy" and
/// closed, instead of leaving it in the kernel's queue without a word.
pub struct Spare(Option<File>);

impl Spare {
    pub fn new() -> io::Result<Spare> {
        Ok(Spare(Some(File::open("/dev/null")?)))
    }

    /// Frees the spare, accepts one connection with it, and takes the spare back once the
    /// connection has been dealt with.
    pub fn accept_with(&mut self, listener: &TcpListener) -> Option<TcpStream> {
        self.0 = None;
        listener.accept().ok().map(|(stream, _)| stream)
    }

    /// Takes the spare descriptor again (after the connection it let in was closed).
    pub fn refill(&mut self) {
        if self.0.is_none() {
            self.0 = File::open("/dev/null").ok();
        }
    }
}
// ANCHOR_END: spare
