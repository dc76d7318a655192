//! Running the original programs of the tutorial the course starts from: `server.py`,
//! `client.py` and `threaded_server.py`, reconstructed in `tests/originals/` with their defects
//! kept on purpose.
//!
//! They hard-code `127.0.0.1:8888`, and no test may depend on that port. A small wrapper,
//! [`WRAPPER`], patches `socket.bind`, `socket.listen` and `socket.connect` before running the
//! script: a server binds port 0 instead and, once it listens, prints `listening on ADDR` (the
//! course's convention, so [`crate::Server`] can start it and connect at once), and a client
//! connects to the port we give it instead. The scripts themselves run as they are.
//!
//! Every original runs under one cap on its address space, [`VM_LIMIT`]:
//! `threaded_server.py` starts threads without end, and the cap is what stops it.
//!
//! A test that runs them needs python3, and is marked `#[ignore = "needs python3"]`; it gets
//! its program through [`required`], which fails the test, saying why, when python3 is missing.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use crate::{DEADLINE, Server};

/// The address space any original may use: 2 GiB. Under it `threaded_server.py` stops after a
/// little over a hundred threads (each reserves an 8 MiB stack), instead of after the machine
/// has run out; the others never come near it.
pub const VM_LIMIT: u64 = 2 << 30;

/// The wrapper: `python3 -u -c WRAPPER SCRIPT PORT VM_LIMIT`. PORT 0 means "a server: bind a
/// free port and announce it"; VM_LIMIT (bytes, 0 for none) caps the address space.
pub const WRAPPER: &str = r#"
import resource, runpy, socket, sys
script, port, vm_limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if vm_limit:
    resource.setrlimit(resource.RLIMIT_AS, (vm_limit, vm_limit))
real_bind, real_listen = socket.socket.bind, socket.socket.listen
real_connect = socket.socket.connect
def bind(self, address):
    real_bind(self, (address[0], 0))
def listen(self, *backlog):
    real_listen(self, *backlog)
    host, bound = self.getsockname()[:2]
    print("listening on %s:%d" % (host, bound), flush=True)
def connect(self, address):
    real_connect(self, (address[0], port))
socket.socket.bind = bind
socket.socket.listen = listen
socket.socket.connect = connect
sys.argv = [script]
runpy.run_path(script, run_name="__main__")
"#;

/// Where the original programs are: `tests/originals/` in the workspace.
pub fn dir() -> PathBuf {
    crate::workspace_root().join("tests/originals")
}

/// Why the originals cannot run here (python3 is missing), or `None` when they can.
pub fn unavailable() -> Option<String> {
    let python = Command::new("python3").arg("--version").output();
    match python {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!("`python3 --version` failed ({})", out.status)),
        Err(e) => Some(format!("python3 is not installed ({e})")),
    }
}

/// A command that runs `script` (for example `client.py`) under the wrapper and [`VM_LIMIT`]:
/// a client connects to `port`; a server (`port` 0) binds a free one. Or the reason it cannot
/// run here.
pub fn command(script: &str, port: u16) -> Result<Command, String> {
    let path = dir().join(script);
    if !path.is_file() {
        return Err(format!("{} not found", path.display()));
    }
    if let Some(reason) = unavailable() {
        return Err(reason);
    }
    let mut command = Command::new("python3");
    command
        .arg("-u")
        .arg("-c")
        .arg(WRAPPER)
        .arg(path)
        .arg(port.to_string())
        .arg(VM_LIMIT.to_string());
    Ok(command)
}

/// Starts an original server script (`server.py`, `threaded_server.py`) on a free port, as it
/// is: `threaded_server.py` is still starting threads when this returns.
pub fn start_server(script: &str) -> Result<Server, String> {
    Server::try_start_command(command(script, 0)?)
}

// ANCHOR: threaded
/// Starts `threaded_server.py` and waits until it has reached its thread limit: its main loop
/// starts threads, each blocking in `accept()`, until the cap makes `Thread.start()` fail; the
/// main thread dies of that error, and the threads already started (not daemons) keep the
/// process alive, each serving one client. This is the state it is in a moment after it starts,
/// whether or not a client came, and the one in which the course measures and checks it.
pub fn start_threaded_server() -> Result<Server, String> {
    let mut server = start_server("threaded_server.py")?;
    if !server.wait_for_stderr("can't start new thread", DEADLINE) {
        return Err(format!(
            "threaded_server.py did not reach its thread limit within {} s",
            DEADLINE.as_secs()
        ));
    }
    if let Some(status) = server.wait_exit(Duration::ZERO) {
        return Err(format!(
            "threaded_server.py ended by itself ({status}) before any client came"
        ));
    }
    Ok(server)
}
// ANCHOR_END: threaded

/// What a test that needs the originals does with one: takes it, or fails, saying that the
/// test needs python3 and why it could not run.
pub fn required<T>(what: Result<T, String>) -> T {
    what.unwrap_or_else(|reason| {
        panic!(
            "this test runs the original Python programs (tests/originals/) and needs python3 \
             on PATH; it could not run: {reason}"
        )
    })
}
