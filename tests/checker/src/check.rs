//! What a check is, and what it is given to work with.

use std::net::SocketAddr;

use crate::Options;
use crate::report::Outcome;
use crate::target::Instance;

/// What a check function returns: `Ok(())` when the server passed, or the failure (or the reason
/// it was skipped). `?` stops a check at its first failure.
pub type Verdict = Result<(), Outcome>;

/// One line of a lesson's table of checks.
pub struct Check {
    /// The name printed in the report, such as `half-close`.
    pub name: String,
    /// What passing proves, in one sentence (shown by `checker --list`).
    pub proves: String,
    pub(crate) run: Box<dyn Fn(&mut Probe) -> Verdict>,
    /// For a hostile check: the check that runs right after it, on the same server, that a
    /// well-behaved client is still served.
    pub(crate) then: Option<Box<Check>>,
}

impl Check {
    pub fn new(name: &str, proves: &str, run: impl Fn(&mut Probe) -> Verdict + 'static) -> Check {
        Check {
            name: name.to_string(),
            proves: proves.to_string(),
            run: Box::new(run),
            then: None,
        }
    }

    /// Adds the check that follows this one on the same server.
    pub fn then(mut self, follow_up: Check) -> Check {
        self.then = Some(Box::new(follow_up));
        self
    }

    /// For a hostile check, the check that follows it.
    pub fn follow_up(&self) -> Option<&Check> {
        self.then.as_deref()
    }

    /// This check's name and, for a hostile check, the name of the check that follows it.
    pub fn names(&self) -> Vec<&str> {
        let mut names = vec![self.name.as_str()];
        if let Some(then) = &self.then {
            names.push(then.name.as_str());
        }
        names
    }
}

/// What a check works with: where the server is, and what the checker was told about it.
pub struct Probe<'a> {
    pub addr: SocketAddr,
    /// The server's process id, when known: the checker then measures its CPU time.
    pub pid: Option<u32>,
    pub options: &'a Options,
    /// The server, when the checker started it for this check.
    pub instance: Option<&'a mut dyn Instance>,
}

impl Probe<'_> {
    /// Options for a second client that must be served while a silent one is connected:
    /// within half the server's idle timeout, if known, so before that timeout could have
    /// freed a worker for it.
    pub fn options_while_silent(&self) -> Options {
        Options {
            timeout: match self.options.idle_timeout {
                Some(idle) => self.options.timeout.min(idle / 2),
                None => self.options.timeout,
            },
            ..self.options.clone()
        }
    }

    /// A probe of the same server for another client, with `options`.
    pub fn another<'b>(&self, options: &'b Options) -> Probe<'b> {
        Probe {
            addr: self.addr,
            pid: self.pid,
            options,
            instance: None,
        }
    }
}
