//! What the checks found: one line per check, and a summary line.
//!
//! ```text
//! pass  greeting
//! FAIL  exit: saw "message 2: exit", expected "bye"
//! skip  silent-client: the server's idle timeout is unknown (give --idle-timeout)
//! 1 passed, 1 failed
//! ```

use std::collections::BTreeMap;
use std::fmt;

/// How one check ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// What the server did, and what the protocol says it should have done.
    Fail {
        saw: String,
        expected: String,
    },
    /// The check could not run here (for example: it needs to know the server's idle timeout).
    /// A skipped check is neither passed nor failed.
    Skip(String),
}

/// A failed check, from what was seen and what was expected.
pub fn fail(saw: impl Into<String>, expected: impl Into<String>) -> Outcome {
    Outcome::Fail {
        saw: saw.into(),
        expected: expected.into(),
    }
}

/// Pass, fail or skip, without the details: what the test of the originals compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

impl Outcome {
    pub fn status(&self) -> Status {
        match self {
            Outcome::Pass => Status::Pass,
            Outcome::Fail { .. } => Status::Fail,
            Outcome::Skip(_) => Status::Skip,
        }
    }
}

/// One check's name and outcome.
#[derive(Clone, Debug)]
pub struct CheckResult {
    pub name: String,
    pub outcome: Outcome,
}

impl fmt::Display for CheckResult {
    /// `pass  NAME`, `FAIL  NAME: saw X, expected Y` or `skip  NAME: REASON`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = &self.name;
        match &self.outcome {
            Outcome::Pass => write!(f, "pass  {name}"),
            Outcome::Fail { saw, expected } => {
                write!(f, "FAIL  {name}: saw {saw}, expected {expected}")
            }
            Outcome::Skip(reason) => write!(f, "skip  {name}: {reason}"),
        }
    }
}

/// Every check's result, in the order they ran.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub results: Vec<CheckResult>,
}

impl Report {
    fn count(&self, status: Status) -> usize {
        self.results
            .iter()
            .filter(|r| r.outcome.status() == status)
            .count()
    }

    pub fn passed(&self) -> usize {
        self.count(Status::Pass)
    }

    pub fn failed(&self) -> usize {
        self.count(Status::Fail)
    }

    pub fn skipped(&self) -> usize {
        self.count(Status::Skip)
    }

    /// No check failed (skipped checks do not count against the server).
    pub fn success(&self) -> bool {
        self.failed() == 0
    }

    /// The last line of the output: `N passed, N failed`.
    pub fn summary(&self) -> String {
        format!("{} passed, {} failed", self.passed(), self.failed())
    }

    /// The result of the check called `name`, if it ran.
    pub fn get(&self, name: &str) -> Option<&CheckResult> {
        self.results.iter().find(|r| r.name == name)
    }

    /// Each check's name and status, without details: timings and texts left out.
    pub fn statuses(&self) -> BTreeMap<String, Status> {
        self.results
            .iter()
            .map(|r| (r.name.clone(), r.outcome.status()))
            .collect()
    }

    /// For a lesson's conformance test: panics, printing the whole report, unless every check
    /// ran and passed. A skipped check fails here too, because a conformance test that skips a
    /// check proves nothing about it (give the options it needs, such as `idle_timeout`).
    #[track_caller]
    pub fn assert_all_passed(&self) {
        if self.failed() > 0 || self.skipped() > 0 || self.results.is_empty() {
            panic!(
                "the server did not pass every check ({} skipped):\n{self}",
                self.skipped()
            );
        }
    }
}

impl fmt::Display for Report {
    /// The checker's whole output: one line per check, then the summary line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for result in &self.results {
            writeln!(f, "{result}")?;
        }
        writeln!(f, "{}", self.summary())
    }
}

/// Reads the checker's output back (for example a file the book shows): each check's name and
/// status. Lines that are not check lines (the summary, anything else) are ignored.
pub fn parse_statuses(output: &str) -> BTreeMap<String, Status> {
    let mut statuses = BTreeMap::new();
    for line in output.lines() {
        let (status, rest) = if let Some(rest) = line.strip_prefix("pass  ") {
            (Status::Pass, rest)
        } else if let Some(rest) = line.strip_prefix("FAIL  ") {
            (Status::Fail, rest)
        } else if let Some(rest) = line.strip_prefix("skip  ") {
            (Status::Skip, rest)
        } else {
            continue;
        };
        let name = rest.split(':').next().unwrap_or(rest).trim();
        statuses.insert(name.to_string(), status);
    }
    statuses
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_summary_have_the_documented_form() {
        let report = Report {
            results: vec![
                CheckResult {
                    name: "greeting".into(),
                    outcome: Outcome::Pass,
                },
                CheckResult {
                    name: "exit".into(),
                    outcome: fail("\"message 2: exit\"", "\"bye\""),
                },
                CheckResult {
                    name: "silent-client".into(),
                    outcome: Outcome::Skip("unknown idle timeout".into()),
                },
            ],
        };
        let text = report.to_string();
        assert_eq!(
            text,
            "pass  greeting\n\
             FAIL  exit: saw \"message 2: exit\", expected \"bye\"\n\
             skip  silent-client: unknown idle timeout\n\
             1 passed, 1 failed\n"
        );
        assert_eq!(parse_statuses(&text), report.statuses());
        assert!(!report.success());
    }
}
