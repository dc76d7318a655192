//! What goes wrong in the original `threaded_server.py` (`tests/originals/`), shown by running
//! it as it is on a free port, under the course's memory cap (`test_support::originals`). It
//! needs python3: ignored by plain `cargo test`; `cargo test -p lesson-03 --test original --
//! --ignored` runs it, and fails, saying why, where python3 is missing.

use std::fs;
use std::io::Read;

use test_support::observe::tcp_sockets;
use test_support::{Client, DEADLINE, originals};

/// Threads of a process: the entries of /proc/PID/task.
fn threads(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |dir| dir.count())
}

// ANCHOR: runaway
#[test]
#[ignore = "needs python3"]
fn the_original_starts_threads_without_bound_with_no_client() {
    let server = originals::required(originals::start_server("threaded_server.py"));
    let port = server.addr().port();
    // Nobody connects. Its main loop starts a thread, which blocks in accept(), and at once the
    // next, until the memory cap makes Thread.start() fail and the main thread dies.
    let stopped = server.wait_for_stderr("can't start new thread", DEADLINE);
    assert!(
        stopped,
        "threaded_server.py should have run into the memory cap; stderr: {}",
        server.stderr()
    );
    let count = threads(server.pid());
    let clients = tcp_sockets()
        .iter()
        .filter(|s| s.local.port() == port && s.state != "LISTEN")
        .count();
    assert_eq!(clients, 0, "no client has connected");
    assert!(
        count > 50,
        "only {count} threads: expected it to start threads until the cap stopped it"
    );
    println!(
        "observed: with no client at all, threaded_server.py started threads until the {} GiB \
         memory cap stopped it: {count} threads, and on stderr: RuntimeError: can't start new \
         thread",
        originals::VM_LIMIT >> 30
    );

    // The process lives on: the threads it did start still accept, one client each.
    let conn = Client::connect(server.addr());
    conn.set_read_timeout(DEADLINE);
    let mut greeting = [0u8; 12];
    conn.stream()
        .read_exact(&mut greeting)
        .expect("a greeting from one of the waiting threads");
    assert_eq!(&greeting, b"Hello World!");
}
// ANCHOR_END: runaway
