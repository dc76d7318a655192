//! The original Python server (`tests/originals/server.py`) meets a message longer than its
//! `recv(1024)`.

use std::io::{Read, Write};
use std::net::TcpStream;

use test_support::{DEADLINE, originals};

/// `server.py` treats whatever one `recv(1024)` returns as one message. One message of 3000
/// bytes, sent with one write, comes back as three "messages", numbered 1, 2 and 3.
#[test]
#[ignore = "needs python3"]
fn the_original_server_takes_one_long_message_for_three() {
    let server = originals::required(originals::start_server("server.py"));
    let mut stream = TcpStream::connect_timeout(&server.addr(), DEADLINE)
        .unwrap_or_else(|e| panic!("cannot connect to server.py: {e}"));
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    let message: Vec<u8> = (0..3000).map(|i| b'0' + (i % 10) as u8).collect();
    stream.write_all(&message).unwrap();

    // What it sends back, none of it ending in a newline: its greeting, then one reply per
    // recv(), each "第N条信息:" ("message number N:") and the bytes that recv() returned.
    let greeting = "连接成功!";
    let replies: String = [(1, 0..1024), (2, 1024..2048), (3, 2048..3000)]
        .into_iter()
        .map(|(n, range)| {
            let part = std::str::from_utf8(&message[range]).unwrap();
            format!("第{n}条信息:{part}")
        })
        .collect();
    let expected = format!("{greeting}{replies}");
    let mut got = vec![0u8; expected.len()];
    stream.read_exact(&mut got).unwrap_or_else(|e| {
        panic!(
            "expected {} bytes of replies: {e}; stderr: {}",
            expected.len(),
            server.stderr()
        )
    });
    assert_eq!(String::from_utf8_lossy(&got), expected);
    let _ = stream.write_all(b"exit");
}
