//! The load generator (`tests/loadgen`) run against lesson 03 with small numbers: its report
//! must agree with what the server did.

use std::time::Duration;

use loadgen::{Config, Report};
use test_support::{Client, DEADLINE, Server};

const SERVER: &str = env!("CARGO_BIN_EXE_lesson-03");

fn config(server: &Server, clients: usize, messages: usize) -> Config {
    Config {
        timeout: Duration::from_secs(30),
        ..Config::new(server.addr(), clients, messages)
    }
}

#[test]
fn loadgen_measures_every_round_trip_of_lesson_03() {
    let server = Server::start(SERVER, &["--workers", "4"]);
    let report = loadgen::run(&config(&server, 8, 50)).expect("the run starts");
    assert_eq!(report.completed, 8, "{}", report.summary());
    assert_eq!((report.refused, report.failed), (0, 0));
    assert!(!report.timed_out);
    assert_eq!(report.round_trips, 8 * 50);
    assert!(report.round_trips_per_sec() > 0.0);
    let (p50, p99, max) = (
        report.p50.unwrap(),
        report.p99.unwrap(),
        report.max.unwrap(),
    );
    assert!(p50 <= p99 && p99 <= max, "{}", report.summary());
    assert!(report.greeting_p50.unwrap() <= report.greeting_max.unwrap());

    // The server counted the same: every round trip got one ACK, every client said exit.
    server.signal("TERM");
    let done = server.finish(DEADLINE);
    assert!(
        done.stdout
            .contains("summary: connections served 8, messages answered 400, refused 0"),
        "stdout: {}",
        done.stdout
    );
    assert_eq!(done.stderr, "", "every client left cleanly");

    let csv = report.csv_line("lesson-03 workers=4");
    assert_eq!(
        csv.split(',').count(),
        Report::CSV_HEADER.split(',').count()
    );
    assert!(
        csv.starts_with("lesson-03 workers=4,lines,8,50,0,400,"),
        "{csv}"
    );
}

#[test]
fn loadgen_counts_the_clients_refused_as_busy() {
    let server = Server::start(SERVER, &["--workers", "1", "--queue", "1"]);
    // Hold the only worker and the only place in the queue: every client of the run is refused.
    let _served = {
        let mut client = Client::connect(server.addr());
        client.expect_line("Hello World!");
        client
    };
    let _queued = Client::connect(server.addr());
    let report = loadgen::run(&config(&server, 5, 10)).expect("the run starts");
    assert_eq!(report.refused, 5, "{}", report.summary());
    assert_eq!((report.completed, report.failed), (0, 0));
    assert_eq!(report.round_trips, 0);
    assert!(report.p50.is_none());
}
