//! The reference server speaks lesson 03's protocol, so measurements compare like with like.

use test_support::{Client, Server};

const SERVER: &str = env!("CARGO_BIN_EXE_tokio-reference");

#[test]
fn greets_acks_and_says_bye() {
    let server = Server::start(SERVER, &[]);
    let mut a = Client::connect(server.addr());
    let mut b = Client::connect(server.addr());
    a.expect_line("Hello World!");
    b.expect_line("Hello World!");
    for client in [&mut a, &mut b] {
        client.send_line("hello");
        let reply = client.read_line();
        let ack: u32 = reply
            .strip_suffix(":ACK!")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not an ACK: {reply:?}"));
        assert!((1..=1000).contains(&ack));
    }
    a.send(b"\xff\n");
    a.expect_line("error: not UTF-8");
    a.send_line("exit");
    a.expect_line("bye");
    a.expect_close();
    b.send(vec![b'x'; 70 * 1024]);
    b.expect_line("error: line too long");
    b.expect_close();
    drop(server);
}
