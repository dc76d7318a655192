//! No check is one that cannot fail: every check of every lesson passes on a correct sample
//! server, and fails on a sample with the one fault it is there to catch.

mod samples;

use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use checker::{Lesson, Options, Report, Status, Target};
use samples::upload::{self, Fault};
use samples::{Event, Flaw, IDLE, OneShot, Sample};

/// Options for the samples. A flawed sample fails at once or never answers; a short timeout
/// keeps those runs quick. A correct one gets the usual timeout, as a busy machine may need it.
fn options(flaw: Flaw, only: &[&str]) -> Options {
    Options {
        idle_timeout: Some(IDLE),
        timeout: if flaw == Flaw::None {
            Options::default().timeout
        } else {
            Duration::from_secs(2)
        },
        only: only.iter().map(|s| s.to_string()).collect(),
        max_size: Some(upload::MAX_SIZE),
        min_rate: Some(upload::MIN_RATE),
        ..Options::default()
    }
}

/// The checks that need the server's process id to themselves. The samples run in this
/// process, among other tests' threads, so a correct sample cannot show a flat thread count
/// here; the lessons' own conformance tests show it on their real servers.
const NEEDS_A_PROCESS: &str = "bounded-threads";

/// The names to run on a correct sample: all, but [`NEEDS_A_PROCESS`].
fn all_but_threads(lesson: Lesson) -> Vec<String> {
    checker::checks(lesson, &options(Flaw::None, &[]))
        .iter()
        .filter(|c| c.name != NEEDS_A_PROCESS)
        .flat_map(|c| c.names().into_iter().map(String::from).collect::<Vec<_>>())
        .collect()
}

/// The sample in this process, as the checker sees it: with this process's id for a flawed
/// sample. (`bounded-threads` itself is proven in `tests/bounded_threads.rs`, a process of its
/// own: here other cases' threads end while it counts, and can hide a sample's new threads.)
fn in_process(addr: std::net::SocketAddr, flaw: Flaw) -> Target {
    if flaw == Flaw::None {
        Target::running(addr)
    } else {
        Target::running_with_pid(addr, std::process::id())
    }
}

/// Runs the checks named in `only` (all when empty) on a fresh sample of `lesson` with `flaw`.
fn run(lesson: Lesson, flaw: Flaw, only: &[&str]) -> Report {
    let mut options = options(flaw, only);
    if flaw == Flaw::None && only.is_empty() {
        options.only = all_but_threads(lesson);
    }
    match lesson {
        Lesson::L01 => checker::check(
            lesson,
            &Target::fresh(move || Ok(OneShot::start(flaw))),
            &options,
        ),
        Lesson::L04 => {
            let fault = match flaw {
                Flaw::None => Fault::None,
                Flaw::Upload(fault) => fault,
                other => panic!("lesson 04's sample takes Flaw::Upload, not {other:?}"),
            };
            let sample = upload::Sample::start(fault);
            checker::check(lesson, &in_process(sample.addr(), flaw), &options)
        }
        _ => {
            let sample = Sample::start(lesson, flaw);
            checker::check(lesson, &in_process(sample.addr(), flaw), &options)
        }
    }
}

#[test]
fn a_correct_lesson_01_server_passes_every_check() {
    run(Lesson::L01, Flaw::None, &[]).assert_all_passed();
}

#[test]
fn a_correct_lesson_02_server_passes_every_check() {
    run(Lesson::L02, Flaw::None, &[]).assert_all_passed();
}

#[test]
fn a_correct_lesson_03_server_passes_every_check() {
    run(Lesson::L03, Flaw::None, &[]).assert_all_passed();
}

#[test]
fn a_correct_lesson_05_server_passes_every_check() {
    run(Lesson::L05, Flaw::None, &[]).assert_all_passed();
}

#[test]
fn a_correct_lesson_04_server_passes_every_check() {
    run(Lesson::L04, Flaw::None, &[]).assert_all_passed();
}

/// Which check must fail on which fault, for each lesson.
fn cases() -> Vec<(Lesson, &'static str, Flaw)> {
    use Flaw::*;
    use Lesson::*;
    let mut cases = vec![
        (L01, "greeting", NoGreeting),
        (L01, "reply", WrongReply),
        (L01, "end-of-stream", KeepsOpenAtEof),
        (L01, "vanish-mid-line", NoGreeting),
        (L01, "reset", NoGreeting),
        (L01, "half-close", KeepsOpenAtEof),
        (L01, "not-utf8", NotUtf8Error),
        (L01, "long-line", NoLineLimit),
        (L01, "silent-client", NoIdleTimeout),
        (L01, "200-dropped", NotListening),
        (L02, "counting", CountsAcrossConnections),
        (L02, "silent-client", NoIdleTimeout),
        (L02, "served-after-silent-client", CrashesOn(Event::Idle)),
        // Lesson 05: a client that never reads holds lesson 03's only worker; idle connections
        // fill a pool and its queue. The follow-ups: the sample stops after the hostile
        // client's connections (the never-reading one and the one served beside it; the crowd
        // and the one served beside it).
        (L05, "never-reads", OneWorker),
        (L05, "never-reads", NoBackpressure),
        (L05, "served-after-never-reads", StopsAfter(2)),
        (L05, "idle-crowd", Pool),
        (L05, "served-after-idle-crowd", StopsAfter(idle_crowd() + 1)),
        (
            L02,
            "served-after-vanish-mid-line",
            CrashesOn(Event::EofMidLine),
        ),
        (L02, "served-after-reset", CrashesOn(Event::ReadError)),
    ];
    for hostile in [
        "vanish-mid-line",
        "reset",
        "half-close",
        "not-utf8",
        "long-line",
        "silent-client",
        "200-dropped",
    ] {
        cases.push((L01, leak(format!("clean-exit-after-{hostile}")), ExitsDirty));
    }
    for lesson in [L03, L05] {
        cases.extend([
            (lesson, "counting", SameAck),
            (lesson, "silent-client", OneWorker),
            (lesson, "idle-timeout", NoIdleTimeout),
            (lesson, "served-after-idle-timeout", CrashesOn(Event::Idle)),
            // A pool sees a client's close on another thread, after the checker has moved on:
            // for these, the sample stops after the hostile client's connections instead.
            (lesson, "served-after-vanish-mid-line", StopsAfter(1)),
            (lesson, "served-after-reset", StopsAfter(1)),
            (lesson, "served-after-silent-client", StopsAfter(2)),
        ]);
    }
    for lesson in [L02, L03, L05] {
        cases.extend([
            (lesson, "greeting", NoGreeting),
            (lesson, "reply", WrongReply),
            (lesson, "exit", IgnoresExit),
            (lesson, "end-of-stream", KeepsOpenAtEof),
            (lesson, "vanish-mid-line", RepliesPerRead),
            (lesson, "reset", WrongReply),
            (lesson, "half-close", SpinsOnHalfClose),
            (lesson, "served-after-half-close", CrashesOn(Event::Eof)),
            (lesson, "not-utf8", LossyNotUtf8),
            (lesson, "served-after-not-utf8", CrashesOn(Event::NotUtf8)),
            (lesson, "split-utf8", DecodesPerRead),
            (lesson, "served-after-split-utf8", CrashesOn(Event::Split)),
            (lesson, "long-line", NoLineLimit),
            (lesson, "served-after-long-line", CrashesOn(Event::TooLong)),
            (lesson, "slow-client", RepliesPerRead),
            (lesson, "served-after-slow-client", CrashesOn(Event::Split)),
            (lesson, "glued-exit", GluedDropsRest),
            (lesson, "served-after-glued-exit", CrashesOn(Event::Glued)),
            (lesson, "lingering-close", NoLinger),
            (
                lesson,
                "served-after-lingering-close",
                StopsAfter(LINGER_ROUNDS),
            ),
            (lesson, "slowloris", PerReadTimeout),
            (lesson, "served-after-slowloris", StopsAfter(1)),
            (lesson, "bounded-threads", ThreadPerConnection),
            (lesson, "served-after-bounded-threads", StopsAfter(150)),
            (lesson, "200-dropped", NotListening),
            (lesson, "served-after-200-dropped", StopsAfter(150)),
            (lesson, "1000-burst", StopsAfter(500)),
            (lesson, "served-after-1000-burst", StopsAfter(500)),
        ]);
    }
    cases.extend(lesson_04_cases());
    cases
}

/// Lesson 04's cases: its sample server with one fault each.
fn lesson_04_cases() -> Vec<(Lesson, &'static str, Flaw)> {
    use Fault::*;
    use upload::Event::{Idle, Lost, Refused};
    let cases = [
        ("upload", LittleEndian),
        ("get", CorruptsGet),
        ("list", ListWithoutEnd),
        ("empty-file", EmptyNeedsData),
        ("get-missing", MissingIsEmpty),
        ("wrong-checksum", IgnoresChecksum),
        ("end-of-stream", KeepsOpenAtEof),
        ("bad-magic", IgnoresMagic),
        (
            "served-after-bad-magic",
            CrashesOn(Refused(upload::BAD_FRAME)),
        ),
        ("unknown-type", SkipsUnknownTypes),
        (
            "served-after-unknown-type",
            CrashesOn(Refused(upload::BAD_FRAME)),
        ),
        ("impossible-length", NoLengthCheck),
        (
            "served-after-impossible-length",
            CrashesOn(Refused(upload::BAD_FRAME)),
        ),
        ("unsafe-names", NoNameCheck),
        (
            "served-after-unsafe-names",
            CrashesOn(Refused(upload::BAD_NAME)),
        ),
        ("too-large", NoSizeLimit),
        (
            "served-after-too-large",
            CrashesOn(Refused(upload::TOO_LARGE)),
        ),
        ("too-large-then-data", NoLinger),
        (
            "served-after-too-large-then-data",
            CrashesOn(Refused(upload::TOO_LARGE)),
        ),
        ("slow-frame", PerReadTimeout),
        ("served-after-slow-frame", CrashesOn(Idle)),
        ("slow-upload", PerReadTimeout),
        ("served-after-slow-upload", CrashesOn(Idle)),
        ("bounded-threads", ThreadPerConnection),
        ("served-after-bounded-threads", StopsAfter(150)),
        ("vanish-mid-upload", KeepsPartial),
        ("served-after-vanish-mid-upload", CrashesOn(Lost)),
        ("silent-client", OneAtATime),
        // The silent client's connection and the one served meanwhile.
        ("served-after-silent-client", StopsAfter(2)),
        ("idle-timeout", NoIdleTimeout),
        ("served-after-idle-timeout", CrashesOn(Idle)),
        ("existing-name", Overwrites),
        (
            "served-after-existing-name",
            CrashesOn(Refused(upload::EXISTS)),
        ),
        ("200-dropped", NotListening),
        ("served-after-200-dropped", StopsAfter(150)),
        ("1000-burst", StopsAfter(500)),
        ("served-after-1000-burst", StopsAfter(500)),
    ];
    cases
        .into_iter()
        .map(|(name, fault)| (Lesson::L04, name, Flaw::Upload(fault)))
        .collect()
}

/// How many idle connections the check `idle-crowd` opens in this process: as the checker
/// counts them.
fn idle_crowd() -> usize {
    let limit = test_support::observe::raise_descriptor_limit().unwrap_or(1024);
    2000.min((limit.saturating_sub(64) / 2) as usize)
}

fn leak(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}

/// The check named `name`, or the hostile check it follows.
fn parent(lesson: Lesson, name: &str) -> String {
    checker::checks(lesson, &options(Flaw::None, &[]))
        .iter()
        .find(|c| c.names().contains(&name))
        .unwrap_or_else(|| panic!("lesson {lesson} has no check {name}"))
        .name
        .clone()
}

/// How many times the lingering-close check connects.
const LINGER_ROUNDS: usize = 10;

/// How many cases run side by side: most of a case is waiting, but not all of it.
const SIDE_BY_SIDE: usize = 16;

#[test]
fn every_check_fails_on_the_fault_it_is_there_to_catch() {
    // The cases are independent (each has its own server), so they run side by side, taken
    // from a shared list by a few threads.
    // `bounded-threads` counts this process's threads, which the other cases and tests start
    // and end around it; tests/bounded_threads.rs proves it in a process of its own.
    let cases = Mutex::new(
        cases()
            .into_iter()
            .filter(|(_, name, _)| *name != NEEDS_A_PROCESS)
            .collect::<Vec<_>>(),
    );
    let problems = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for _ in 0..SIDE_BY_SIDE {
            scope.spawn(|| {
                loop {
                    // Taken in a statement of its own, so the lock is released at once.
                    let next = cases.lock().unwrap().pop();
                    let Some((lesson, name, flaw)) = next else {
                        break;
                    };
                    let report = run(lesson, flaw, &[&parent(lesson, name)]);
                    let status = report.get(name).map(|r| r.outcome.status());
                    if status != Some(Status::Fail) {
                        problems.lock().unwrap().push(format!(
                            "lesson {lesson}, {name} with {flaw:?}: {status:?}, expected a failure\n{report}"
                        ));
                    }
                }
            });
        }
    });
    let problems = problems.into_inner().unwrap();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn every_check_of_every_lesson_has_a_case_that_fails_it() {
    let cases = cases();
    for lesson in [
        Lesson::L01,
        Lesson::L02,
        Lesson::L03,
        Lesson::L04,
        Lesson::L05,
    ] {
        for check in checker::checks(lesson, &options(Flaw::None, &[])) {
            for name in check.names() {
                assert!(
                    cases.iter().any(|(l, n, _)| *l == lesson && *n == name),
                    "lesson {lesson}: no case shows that `{name}` can fail"
                );
            }
        }
    }
}

/// The check `keepalive` (added by `Options::keepalive`): it passes on a server that arms
/// keepalive on every accepted connection, and fails on the lesson 02 sample, which does not,
/// and on one that arms it with an idle time longer than the checker was told.
/// Linux only: the check reads /proc/net/tcp (elsewhere it reports `skip`).
#[cfg(target_os = "linux")]
#[test]
fn the_keepalive_check_fails_a_server_without_keepalive() {
    let keepalive = |idle_secs: u64| Options {
        keepalive: Some(Duration::from_secs(idle_secs)),
        timeout: Duration::from_secs(2),
        only: vec!["keepalive".into()],
        ..Options::default()
    };
    let armed = keepalive_server(Duration::from_secs(5));
    let report = checker::check(Lesson::L02, &Target::running(armed), &keepalive(5));
    report.assert_all_passed();

    let plain = Sample::start(Lesson::L02, Flaw::None);
    let report = checker::check(Lesson::L02, &Target::running(plain.addr()), &keepalive(5));
    assert_eq!(report.failed(), 1, "{report}");

    // Keepalive on, but with Linux's two hours instead of the idle time the server claims.
    let slow = keepalive_server(Duration::from_secs(7200));
    let report = checker::check(Lesson::L02, &Target::running(slow), &keepalive(5));
    assert_eq!(report.failed(), 1, "{report}");
}

#[cfg(target_os = "linux")]
/// A listener that arms keepalive (first probe after `idle`) on each connection it accepts and
/// holds the connection open, on a thread of its own for the rest of the test run.
fn keepalive_server(idle: Duration) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            let params = socket2::TcpKeepalive::new().with_time(idle);
            socket2::SockRef::from(&stream)
                .set_tcp_keepalive(&params)
                .unwrap();
            held.push(stream);
        }
    });
    addr
}
