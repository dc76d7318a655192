//! Benchmark: the write-write-read trap. A client asks lesson 04's server for a small file
//! again and again (GET, then read FILE and DATA), writing each GET frame in one of three ways:
//!
//! 1. header and payload as two small writes, with Nagle's algorithm on (the default);
//! 2. the same two writes with TCP_NODELAY;
//! 3. one write: header and payload gathered in a BufWriter, then flushed.
//!
//! It prints round trips per second for each, all measured in the same run, on 127.0.0.1.
//!
//! ```text
//! cargo bench -p lesson-04 --bench nagle
//! ```

use std::fs;
use std::io::{self, BufWriter, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use lesson_04::connection::{read_frame, receive_data, sha256_of, write_frame};
use lesson_04::frame::{FileInfo, Frame, Header, Kind, MAX_DATA};
use test_support::Server;

const SERVER: &str = env!("CARGO_BIN_EXE_lesson-04");
/// Each way runs for this long or this many round trips, whichever comes first.
const DURATION: Duration = Duration::from_secs(3);
const MAX_ROUND_TRIPS: u32 = 50_000;
const NAME: &str = "small.bin";

#[derive(Clone, Copy)]
enum Way {
    TwoWrites,
    TwoWritesNoDelay,
    OneWrite,
}

fn main() {
    let store = std::env::temp_dir().join(format!("lesson-04-nagle-{}", std::process::id()));
    let _ = fs::remove_dir_all(&store);
    let server = Server::start(SERVER, &["--dir", store.to_str().unwrap()]);
    let file = vec![0x42u8; 100];
    upload(server.addr(), &file);

    println!(
        "GET of a {}-byte file from lesson-04's server on 127.0.0.1",
        file.len()
    );
    println!(
        "{:<44} {:>11} {:>13} {:>11}",
        "the GET frame is written as", "round trips", "round trips/s", "mean"
    );
    for (label, way) in [
        ("two writes (header, then name)", Way::TwoWrites),
        ("two writes, with TCP_NODELAY", Way::TwoWritesNoDelay),
        ("one write (BufWriter, then flush)", Way::OneWrite),
    ] {
        let (count, took) = measure(server.addr(), way);
        let per_second = f64::from(count) / took.as_secs_f64();
        let mean = took / count;
        println!("{label:<44} {count:>11} {per_second:>13.1} {mean:>11.2?}");
    }
    drop(server);
    let _ = fs::remove_dir_all(&store);
}

/// Stores the file the benchmark then asks for.
fn upload(addr: SocketAddr, file: &[u8]) {
    let mut stream = TcpStream::connect(addr).unwrap();
    let (size, sha256) = sha256_of(&mut &file[..]).unwrap();
    let offer = Frame::File(FileInfo {
        size,
        sha256,
        name: NAME,
    });
    write_frame(&mut stream, &offer).unwrap();
    let mut buf = [0u8; MAX_DATA];
    assert!(matches!(
        read_frame(&mut stream, &mut buf),
        Ok(Some(Frame::Ready))
    ));
    write_frame(&mut stream, &Frame::Data(file)).unwrap();
    assert!(matches!(
        read_frame(&mut stream, &mut buf),
        Ok(Some(Frame::Stored(_)))
    ));
}

fn measure(addr: SocketAddr, way: Way) -> (u32, Duration) {
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    if let Way::TwoWritesNoDelay = way {
        stream.set_nodelay(true).unwrap();
    }
    let header = Header {
        kind: Kind::Get,
        len: NAME.len(),
    }
    .encode();
    let mut buf = [0u8; MAX_DATA];
    let started = Instant::now();
    let mut count = 0;
    while count < MAX_ROUND_TRIPS && started.elapsed() < DURATION {
        // ANCHOR: ways
        match way {
            Way::TwoWrites | Way::TwoWritesNoDelay => {
                (&stream).write_all(&header).unwrap();
                (&stream).write_all(NAME.as_bytes()).unwrap();
            }
            Way::OneWrite => {
                let mut out = BufWriter::new(&stream);
                out.write_all(&header).unwrap();
                out.write_all(NAME.as_bytes()).unwrap();
                out.flush().unwrap();
            }
        }
        // ANCHOR_END: ways
        let (size, sha256) = match read_frame(&mut &stream, &mut buf) {
            Ok(Some(Frame::File(info))) => (info.size, info.sha256),
            other => panic!("expected a FILE frame, got {other:?}"),
        };
        receive_data(
            &mut &stream,
            &mut buf,
            size,
            &sha256,
            &mut io::sink(),
            |_| {},
        )
        .unwrap();
        count += 1;
    }
    (count, started.elapsed())
}
