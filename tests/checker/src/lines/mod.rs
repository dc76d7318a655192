//! The text protocols of lessons 01 to 03 (and the original Python programs they replace): what
//! each lesson's server must say, and the table of checks that holds it to that.

mod checks;

use std::fmt;

use crate::check::Check;
use crate::conn::Framing;
use crate::{Dialect, Lesson};

/// What lesson 03's server says when its queue is full.
pub const BUSY: &str = "busy: try again later";

/// What one text-protocol lesson promises, in one dialect.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub lesson: Lesson,
    pub dialect: Dialect,
    /// The server claims total deadlines (the checker was given `--min-rate`): the slowloris
    /// check runs.
    pub total_deadlines: bool,
}

impl Spec {
    /// Lines for the course's servers; one read per reply for the originals, which send none.
    pub fn framing(self) -> Framing {
        match self.dialect {
            Dialect::Course => Framing::Lines,
            Dialect::Original => Framing::Reads,
        }
    }

    /// What a well-behaved client sends for the message `text`: a line, or for the originals
    /// the bare text (they take whatever one read returns as one message).
    pub fn message(self, text: &str) -> Vec<u8> {
        match self.dialect {
            Dialect::Course => format!("{text}\n").into_bytes(),
            Dialect::Original => text.as_bytes().to_vec(),
        }
    }

    pub fn greeting(self) -> Reply {
        match (self.lesson, self.dialect) {
            (Lesson::L01, _) => Reply::Exact("Connected!".into()),
            // Lesson 02 leaves its greeting's words to the server: any one line will do.
            (Lesson::L02, Dialect::Course) => Reply::AnyLine,
            (Lesson::L02, Dialect::Original) => Reply::Exact("连接成功!".into()),
            (Lesson::L03 | Lesson::L05, _) => Reply::Exact("Hello World!".into()),
            (Lesson::L04, _) => unreachable!("lesson 04 speaks frames, not lines: see `frames`"),
        }
    }

    /// The reply to the `n`-th message (from 1) of a connection, `text`.
    pub fn reply(self, n: usize, text: &str) -> Reply {
        match (self.lesson, self.dialect) {
            (Lesson::L01, _) => Reply::Exact(format!("received: {text}")),
            (Lesson::L02, Dialect::Course) => Reply::Exact(format!("message {n}: {text}")),
            (Lesson::L02, Dialect::Original) => Reply::Exact(format!("第{n}条信息:{text}")),
            (Lesson::L03 | Lesson::L05, _) => Reply::Ack,
            (Lesson::L04, _) => unreachable!("lesson 04 speaks frames, not lines: see `frames`"),
        }
    }

    /// What the server answers to `exit` before it closes: `bye`, or nothing for the originals.
    pub fn bye(self) -> Option<Reply> {
        match self.dialect {
            Dialect::Course => Some(Reply::Exact("bye".into())),
            Dialect::Original => None,
        }
    }

    /// Lesson 01's server serves one client, one message, and exits.
    pub fn one_shot(self) -> bool {
        self.lesson == Lesson::L01
    }

    /// Lessons 03 and 05 serve many clients at once (and may answer `busy` under load).
    pub fn concurrent(self) -> bool {
        matches!(self.lesson, Lesson::L03 | Lesson::L05)
    }

    /// Replies that count the messages (`message N: TEXT`), rather than random ACKs.
    pub fn counts(self) -> bool {
        self.lesson == Lesson::L02
    }
}

/// What a reply must look like.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    Exact(String),
    /// Any one of these (where the lesson allows either).
    OneOf(Vec<String>),
    /// `R:ACK!` with R a whole number from 1 to 1000 (lesson 03).
    Ack,
    /// Any line but an error line (lesson 02's greeting).
    AnyLine,
}

impl Reply {
    pub fn matches(&self, text: &str) -> bool {
        self.prefix_len(text) == Some(text.len())
    }

    /// How many bytes at the start of `text` this reply matches, for replies that arrive glued
    /// together with no newline between them (the originals).
    pub fn prefix_len(&self, text: &str) -> Option<usize> {
        match self {
            Reply::Exact(expected) => text
                .starts_with(expected.as_str())
                .then_some(expected.len()),
            Reply::OneOf(choices) => choices
                .iter()
                .filter(|c| text.starts_with(c.as_str()))
                .map(String::len)
                .max(),
            Reply::Ack => {
                let digits = text.bytes().take_while(u8::is_ascii_digit).count();
                let number: u32 = text[..digits].parse().ok()?;
                let canonical = !text.starts_with('0');
                let ack = text[digits..].starts_with(":ACK!");
                ((1..=1000).contains(&number) && canonical && ack).then_some(digits + 5)
            }
            // An error line is not a greeting, whatever else the greeting may say.
            Reply::AnyLine => (!text.starts_with("error:") && text != BUSY).then_some(text.len()),
        }
    }

    /// R in `R:ACK!`, when this is an ACK.
    pub fn ack_number(text: &str) -> Option<u32> {
        Reply::Ack
            .matches(text)
            .then(|| text.trim_end_matches(":ACK!").parse().ok())
            .flatten()
    }
}

impl fmt::Display for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reply::Exact(text) => write!(f, "{text:?}"),
            Reply::OneOf(choices) => {
                let quoted: Vec<String> = choices.iter().map(|c| format!("{c:?}")).collect();
                write!(f, "{}", quoted.join(" or "))
            }
            Reply::Ack => write!(f, "\"R:ACK!\" with R from 1 to 1000"),
            Reply::AnyLine => write!(f, "a greeting line"),
        }
    }
}

/// The table of checks for a text-protocol lesson, in the order they run: the protocol first,
/// then each hostile client followed by a check that the server still does its job.
pub fn checks(spec: Spec) -> Vec<Check> {
    use checks::*;
    type CheckFn = fn(Spec, &mut crate::check::Probe) -> crate::check::Verdict;
    let check = |name: &str, proves: &str, f: CheckFn| {
        Check::new(name, proves, move |probe| f(spec, probe))
    };
    // After a hostile client: a well-behaved client is still served. Lesson 01 serves one
    // client by design, so there it is: the server still ends cleanly.
    let hostile = |name: &str, proves: &str, f: CheckFn| {
        let follow_up = if spec.one_shot() {
            check(
                &format!("clean-exit-after-{name}"),
                "the server then ends by itself: status 0, or 1 with one `error:` line",
                clean_exit,
            )
        } else {
            check(
                &format!("served-after-{name}"),
                "a well-behaved client is then served: greeting, reply, exit",
                served,
            )
        };
        check(name, proves, f).then(follow_up)
    };
    let line_lesson = !spec.one_shot();
    // Lesson 01 reads one message with one read: some hostile clients mean less to it.
    let per_lesson = |lines: &'static str, one_shot: &'static str| {
        if line_lesson { lines } else { one_shot }
    };

    let mut table = vec![
        check("greeting", "a client is greeted", greeting),
        check("reply", "a message gets the right reply", reply),
    ];
    if line_lesson {
        table.push(check(
            "counting",
            "every message gets its own reply (counted from 1 per connection, or a random ACK)",
            counting,
        ));
        table.push(check(
            "exit",
            "`exit` gets its answer, then the server closes",
            exit,
        ));
    }
    table.push(check(
        "end-of-stream",
        per_lesson(
            "a client's end of stream (without `exit`) ends the conversation: the server closes",
            "after its reply the server closes, and its process exits with status 0",
        ),
        end_of_stream,
    ));
    table.push(hostile(
        "vanish-mid-line",
        per_lesson(
            "half a line gets no reply; the client then vanishes",
            "a client sends part of a message and vanishes",
        ),
        vanish_mid_line,
    ));
    table.push(hostile(
        "reset",
        "a client resets the connection (RST) instead of closing it",
        reset,
    ));
    table.push(hostile(
        "half-close",
        "after a half-close, all sent is answered, then the server closes; no busy loop",
        half_close,
    ));
    table.push(hostile(
        "not-utf8",
        per_lesson(
            "bytes that are not UTF-8 get `error: not UTF-8`, and the conversation goes on",
            "bytes that are not UTF-8 are shown lossily in the reply",
        ),
        not_utf8,
    ));
    if line_lesson {
        table.push(hostile(
            "split-utf8",
            "a character split across two packets comes back whole",
            split_utf8,
        ));
    }
    table.push(hostile(
        "long-line",
        per_lesson(
            "a line of 1 MiB gets `error: line too long`, and the connection is closed",
            "of a 1 MiB message, at most 1024 bytes are read and answered",
        ),
        long_line,
    ));
    table.push(hostile(
        "silent-client",
        "a client that says nothing cannot hold the server for ever",
        silent_client,
    ));
    if spec.concurrent() {
        table.push(hostile(
            "idle-timeout",
            "a client that says nothing gets `error: idle timeout` and is closed",
            idle_timeout,
        ));
    }
    if line_lesson {
        table.push(hostile(
            "slow-client",
            "a line sent one byte a second gets one reply, when it is complete",
            slow_client,
        ));
        table.push(hostile(
            "glued-exit",
            "`a\\nexit\\n` in one packet: the reply to `a`, then `bye`, then close",
            glued_exit,
        ));
    }
    // The originals have no `bye` and no limits to speak of: these hold the course's servers to
    // what their chapters promise.
    let course_lines = line_lesson && spec.dialect == Dialect::Course;
    if course_lines {
        table.push(hostile(
            "lingering-close",
            "`a\\nexit\\n` then 1 MiB in one write: the reply, `bye`, then FIN (not RST), 10 of 10",
            lingering_close,
        ));
    }
    if course_lines && spec.total_deadlines {
        table.push(hostile(
            "slowloris",
            "a line trickled a byte at a time is cut off within the idle timeout, in total",
            slowloris,
        ));
    }
    table.push(hostile(
        "200-dropped",
        "200 connections opened at once, then dropped",
        dropped_200,
    ));
    if course_lines {
        table.push(hostile(
            "bounded-threads",
            "with --pid: 200 connections held open add no more than a few threads",
            bounded_threads,
        ));
    }
    if line_lesson {
        table.push(hostile(
            "1000-burst",
            "1,000 connections in a burst, eight at a time: each is greeted (or told `busy`)",
            burst_1000,
        ));
    }
    if spec.lesson == Lesson::L05 {
        table.push(hostile(
            "never-reads",
            "a client that sends without end and never reads is no longer read (backpressure), \
             and another client is served meanwhile",
            never_reads,
        ));
        table.push(hostile(
            "idle-crowd",
            "thousands of idle connections are each greeted and held, and another client is \
             served meanwhile",
            idle_crowd,
        ));
    }
    table
}
