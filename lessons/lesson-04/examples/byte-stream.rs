//! TCP carries a stream of bytes, not messages: a demonstration on 127.0.0.1.
//!
//! ```text
//! cargo run -p lesson-04 --example byte-stream
//! ```
//!
//! Each part opens a fresh connection between two sockets of this one program, writes on one
//! end and reads on the other, and prints what each `write` and each `read` really did.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use lesson_04::connection::{read_frame, write_frame};
use lesson_04::frame::{Frame, MAX_DATA};

fn main() {
    glued();
    delimited();
    split_by_the_buffer();
    split_in_time();
    length_prefixed();
}

/// A connected pair: (the client's socket, the server's socket).
fn pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port on 127.0.0.1");
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    // Nagle's algorithm off, so that every write leaves at once: what glues the writes below
    // is not Nagle, it is the stream itself.
    client.set_nodelay(true).unwrap();
    (client, server)
}

fn write(mut to: &TcpStream, bytes: &[u8]) {
    to.write_all(bytes).unwrap();
    println!("  client  write({:?})  {} bytes", shown(bytes), bytes.len());
}

fn read(mut from: &TcpStream, buf: &mut [u8]) -> usize {
    let n = from.read(buf).unwrap();
    println!("  server  read() -> {n} bytes  {:?}", shown(&buf[..n]));
    n
}

/// Bytes as text, shortened in the middle when long.
fn shown(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    if text.chars().count() <= 24 {
        return text.into_owned();
    }
    let head: String = text.chars().take(10).collect();
    let tail: String = text.chars().skip(text.chars().count() - 6).collect();
    format!("{head}...{tail}")
}

/// A server that is busy for a moment, as servers are, before it reads.
fn busy_for_a_moment() {
    thread::sleep(Duration::from_millis(100));
}

// ANCHOR: glued
fn glued() {
    println!("1. Two quick writes, then one read with a 1024-byte buffer");
    let (client, server) = pair();
    write(&client, b"hello\n");
    write(&client, b"world\n");
    busy_for_a_moment();
    let mut buf = [0u8; 1024];
    read(&server, &mut buf);
    println!("  Two messages came out of ONE read, glued together.\n");
}
// ANCHOR_END: glued

fn delimited() {
    println!("2. The same two writes, read as lines (a delimiter frames them)");
    let (client, server) = pair();
    write(&client, b"hello\n");
    write(&client, b"world\n");
    busy_for_a_moment();
    let mut lines = BufReader::new(&server);
    for _ in 0..2 {
        let mut line = String::new();
        lines.read_line(&mut line).unwrap();
        println!("  server  read_line() -> {:?}", line);
    }
    println!("  The newline, not the read, says where a message ends.\n");
}

fn split_by_the_buffer() {
    println!("3. One write of 3000 bytes, read with a 1024-byte buffer");
    let (client, server) = pair();
    let message: Vec<u8> = (0..3000).map(|i| b'0' + (i % 10) as u8).collect();
    write(&client, &message);
    drop(client); // end of stream after the message
    busy_for_a_moment();
    let mut buf = [0u8; 1024];
    while read(&server, &mut buf) > 0 {}
    println!("  One message, three reads; the fourth read, 0 bytes, is the end of stream.\n");
}

fn split_in_time() {
    println!("4. One message sent in two pieces 100 ms apart (a slow link does this too)");
    let (client, server) = pair();
    println!("  client  write(\"hel\")  3 bytes");
    println!("  client  ... 100 ms ...");
    println!("  client  write(\"lo\\n\")  3 bytes");
    let writer = thread::spawn(move || {
        (&client).write_all(b"hel").unwrap();
        thread::sleep(Duration::from_millis(100));
        (&client).write_all(b"lo\n").unwrap();
    });
    let mut buf = [0u8; 1024];
    read(&server, &mut buf);
    read(&server, &mut buf);
    writer.join().unwrap();
    println!("  The first read returned half a message: a partial read.\n");
}

fn length_prefixed() {
    println!("5. Two quick writes of length-prefixed frames, read with read_exact");
    let (client, server) = pair();
    for word in [&b"hello"[..], b"world"] {
        let frame = Frame::Data(word);
        write_frame(&mut &client, &frame).unwrap();
        let bytes = frame.encode().unwrap();
        println!(
            "  client  write({:02X?} + {:?})  {} bytes",
            &bytes[..6],
            shown(word),
            bytes.len()
        );
    }
    busy_for_a_moment();
    let mut buf = [0u8; MAX_DATA];
    for _ in 0..2 {
        // read_frame: read_exact of the 6-byte header, then read_exact of the length it gives.
        match read_frame(&mut &server, &mut buf) {
            Ok(Some(Frame::Data(data))) => {
                println!(
                    "  server  read_frame() -> DATA, {} bytes  {:?}",
                    data.len(),
                    shown(data)
                )
            }
            other => println!("  server  read_frame() -> {other:?}"),
        }
    }
    println!("  The length in each header, not the reads, says where a frame ends.");
}
