//! The server under check: one already running at an address, or a fresh one started for every
//! check (lesson 01's server exits after one client, and the original Python servers are best
//! checked one fault at a time).

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::Command;
use std::time::{Duration, Instant};

use test_support::{Server, originals};

use crate::Lesson;

/// Where the server under check is.
pub enum Target {
    /// A server that is already running, in any language. The checker never starts or stops
    /// it. With its process id, the checker also measures its CPU time (see `half-close`).
    Running { addr: SocketAddr, pid: Option<u32> },
    /// A fresh server for every check, started by this function and stopped after the check.
    Fresh(Box<dyn Fn() -> Result<Box<dyn Instance>, String>>),
}

/// A server the checker started, for [`Target::Fresh`].
pub trait Instance {
    /// The address it listens on.
    fn addr(&self) -> SocketAddr;
    /// Its process id, if it is a process of its own.
    fn pid(&self) -> Option<u32>;
    /// Waits at most `timeout` for it to end by itself; `None` if it is still running.
    fn wait_exit(&mut self, timeout: Duration) -> Option<Exit>;
}

/// How a server the checker started ended by itself.
#[derive(Clone, Debug)]
pub struct Exit {
    /// The exit status, or `None` when a signal ended it.
    pub code: Option<i32>,
    /// Everything it wrote on stderr.
    pub stderr: String,
}

impl Instance for Server {
    fn addr(&self) -> SocketAddr {
        Server::addr(self)
    }

    fn pid(&self) -> Option<u32> {
        Some(Server::pid(self))
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<Exit> {
        let status = Server::wait_exit(self, timeout)?;
        // Its stderr is collected by another thread, which reaches the end of the pipe just
        // after the exit. A failed server should have said why: wait (briefly, polling) for a
        // complete last line.
        let deadline = Instant::now() + Duration::from_millis(500);
        while !status.success() && !self.stderr().ends_with('\n') && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        Some(Exit {
            code: status.code(),
            stderr: self.stderr(),
        })
    }
}

impl Target {
    /// A server already listening at `addr`.
    pub fn running(addr: SocketAddr) -> Target {
        Target::Running { addr, pid: None }
    }

    /// A server already listening at `addr`, whose process id is `pid`.
    pub fn running_with_pid(addr: SocketAddr, pid: u32) -> Target {
        Target::Running {
            addr,
            pid: Some(pid),
        }
    }

    /// A fresh server per check: `command_line` run by `sh`, with ` --addr 127.0.0.1:0` appended;
    /// its first stdout line must be `listening on ADDR`.
    pub fn spawn(command_line: &str) -> Target {
        let line = format!("exec {command_line} --addr 127.0.0.1:0");
        Target::Fresh(Box::new(move || {
            let mut command = Command::new("sh");
            command.arg("-c").arg(&line);
            // In a group of its own: a server that forks, or a script that starts one, is
            // stopped whole after each check.
            let server = Server::try_start_group(command)?;
            Ok(Box::new(server) as Box<dyn Instance>)
        }))
    }

    /// A fresh server per check: the program `bin` with `--addr 127.0.0.1:0` and then `args`.
    pub fn spawn_binary(bin: &str, args: &[&str]) -> Target {
        let bin = bin.to_string();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        Target::Fresh(Box::new(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let server = Server::try_start(&bin, &args)?;
            Ok(Box::new(server) as Box<dyn Instance>)
        }))
    }

    /// A fresh copy of the original Python server for `lesson` (`server.py` for lesson 02,
    /// `threaded_server.py` for lesson 03, from `tests/originals/`) per check, on a free port,
    /// under the course's memory cap (`test_support::originals`). Fails when python3 is
    /// missing.
    pub fn original(lesson: Lesson) -> Result<Target, String> {
        let script = match lesson {
            Lesson::L02 => "server.py",
            Lesson::L03 => "threaded_server.py",
            other => return Err(format!("lesson {other} has no original Python server")),
        };
        // Fails early, with the reason, when python3 or the script is not there.
        originals::command(script, 0)?;
        Ok(Target::Fresh(Box::new(move || {
            // threaded_server.py is checked once it has reached its thread limit, the state it
            // is in whenever a client comes a moment after it started.
            let server = match lesson {
                Lesson::L03 => originals::start_threaded_server()?,
                _ => originals::start_server(script)?,
            };
            Ok(Box::new(server) as Box<dyn Instance>)
        })))
    }

    /// A fresh server per check, made by `start`, which says why when it cannot.
    pub fn fresh<S: Instance + 'static>(start: impl Fn() -> Result<S, String> + 'static) -> Target {
        Target::Fresh(Box::new(move || {
            start().map(|server| Box::new(server) as Box<dyn Instance>)
        }))
    }

    pub(crate) fn is_fresh(&self) -> bool {
        matches!(self, Target::Fresh(_))
    }
}

/// Turns `HOST:PORT` into an address, refusing anything but loopback unless `allow_remote`:
/// the checker sends hostile traffic, which belongs on your own machine.
pub fn resolve(text: &str, allow_remote: bool) -> Result<SocketAddr, String> {
    let addr = text
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| {
            format!("`{text}` is not an address of the form HOST:PORT, such as 127.0.0.1:8888")
        })?;
    if !allow_remote && !addr.ip().is_loopback() {
        return Err(format!(
            "{addr} is not a loopback address; the checker sends hostile traffic, so it only \
             talks to this machine unless you give --allow-remote"
        ));
    }
    Ok(addr)
}
