//! Running the original Python programs (`../shared/seed-python/`) unmodified.
//!
//! They hard-code `127.0.0.1:8888`, and no test may depend on that port. A small wrapper,
//! [`WRAPPER`], patches `socket.bind`, `socket.listen` and `socket.connect` before running the
//! script: a server binds port 0 instead and, once it listens, prints `listening on ADDR` (the
//! course's convention, so [`crate::Server`] can start it and connect at once), and a client
//! connects to the port we give it instead.
//! The scripts themselves are read from `shared/` as they are.

use std::path::PathBuf;
use std::process::Command;

use crate::Server;

/// The wrapper: `python3 -u -c WRAPPER SCRIPT PORT VM_LIMIT`. PORT 0 means "a server: bind a
/// free port and announce it"; VM_LIMIT (bytes, 0 for none) caps the address space, because
/// `threaded_server.py` starts threads without bound.
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

/// Where the original programs are: `shared/seed-python/` beside the workspace.
pub fn seed_dir() -> PathBuf {
    crate::workspace_root().join("../shared/seed-python")
}

/// A command that runs `script` (for example `client.py`) under the wrapper, or the reason it
/// cannot run here (no `python3`, or no `shared/` beside the workspace).
pub fn command(script: &str, port: u16, vm_limit: u64) -> Result<Command, String> {
    let path = seed_dir().join(script);
    if !path.is_file() {
        return Err(format!("{} not found", path.display()));
    }
    let python = Command::new("python3").arg("--version").output();
    if !matches!(python, Ok(ref out) if out.status.success()) {
        return Err("python3 is not installed".to_string());
    }
    let mut command = Command::new("python3");
    command
        .arg("-u")
        .arg("-c")
        .arg(WRAPPER)
        .arg(path)
        .arg(port.to_string())
        .arg(vm_limit.to_string());
    Ok(command)
}

/// Starts an original server script (`server.py`, `threaded_server.py`) on a free port.
pub fn start_server(script: &str, vm_limit: u64) -> Result<Server, String> {
    command(script, 0, vm_limit).map(Server::start_command)
}

/// Prints why a test that needs the original programs is skipped, in the test's output.
pub fn skip(test: &str, reason: &str) {
    println!("skipped {test}: {reason}");
    eprintln!("skipped {test}: {reason}");
}
