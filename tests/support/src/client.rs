//! A line-oriented TCP client for tests. Every connect, read and write has a deadline, and every
//! unexpected event (timeout, end of stream, wrong line) panics with what was seen.

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use socket2::SockRef;

use crate::DEADLINE;

pub struct Client {
    reader: BufReader<TcpStream>,
}

impl Client {
    /// Connects with a deadline; reads and writes then time out after [`DEADLINE`].
    pub fn connect(addr: SocketAddr) -> Client {
        Client::try_connect(addr).unwrap_or_else(|e| panic!("connect to {addr} failed: {e}"))
    }

    /// Like [`Client::connect`], but returns the error instead of panicking.
    pub fn try_connect(addr: SocketAddr) -> io::Result<Client> {
        let stream = TcpStream::connect_timeout(&addr, DEADLINE)?;
        stream.set_read_timeout(Some(DEADLINE))?;
        stream.set_write_timeout(Some(DEADLINE))?;
        Ok(Client {
            reader: BufReader::new(stream),
        })
    }

    /// The connected socket, for setting options or looking at addresses.
    pub fn stream(&self) -> &TcpStream {
        self.reader.get_ref()
    }

    /// Changes how long a read may wait (the default is [`DEADLINE`]).
    pub fn set_read_timeout(&self, timeout: Duration) {
        self.stream().set_read_timeout(Some(timeout)).unwrap();
    }

    /// Sends raw bytes, all of them, as one write.
    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        let mut stream = self.reader.get_ref();
        stream
            .write_all(bytes.as_ref())
            .unwrap_or_else(|e| panic!("send failed: {e}"));
    }

    /// Like [`Client::send`], but returns the error (the server may have closed already).
    pub fn try_send(&mut self, bytes: impl AsRef<[u8]>) -> io::Result<()> {
        let mut stream = self.reader.get_ref();
        stream.write_all(bytes.as_ref())
    }

    /// Sends `line` followed by `\n`, as one write.
    pub fn send_line(&mut self, line: &str) {
        self.send(format!("{line}\n"));
    }

    /// Reads one line (without its `\n` or `\r\n`). `Ok(None)`: the server closed the
    /// connection. Errors include the read timeout (`WouldBlock`/`TimedOut`) and resets.
    pub fn try_read_line(&mut self) -> io::Result<Option<String>> {
        let mut bytes = Vec::new();
        let n = self.reader.read_until(b'\n', &mut bytes)?;
        if n == 0 {
            return Ok(None);
        }
        if bytes.last() != Some(&b'\n') {
            return Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                format!(
                    "connection closed in the middle of a line: {:?}",
                    String::from_utf8_lossy(&bytes)
                ),
            ));
        }
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
        Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
    }

    /// Reads one line; panics on timeout, error or end of stream.
    pub fn read_line(&mut self) -> String {
        match self.try_read_line() {
            Ok(Some(line)) => line,
            Ok(None) => panic!("expected a line, but the server closed the connection"),
            Err(e) if is_timeout(&e) => panic!("expected a line, none came within the deadline"),
            Err(e) => panic!("expected a line, got an error: {e}"),
        }
    }

    /// Reads one line and checks it is exactly `expected`.
    pub fn expect_line(&mut self, expected: &str) {
        let line = self.read_line();
        assert_eq!(line, expected, "unexpected line from the server");
    }

    /// Reads until the server closes the connection (a reset counts as closed too), and
    /// returns whatever came before the end. Panics if the deadline passes first.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => rest,
            Err(e) if is_timeout(&e) => panic!(
                "the server did not close the connection within the deadline; it sent {:?}",
                String::from_utf8_lossy(&rest)
            ),
            // ECONNRESET: the server closed with unread data in its buffer. Closed all the same.
            Err(_) => rest,
        }
    }

    /// Checks that the server closes the connection without sending anything more.
    pub fn expect_close(&mut self) {
        let rest = self.read_to_close();
        assert!(
            rest.is_empty(),
            "expected the connection to close, but got {:?}",
            String::from_utf8_lossy(&rest)
        );
    }

    /// Half-closes: sends FIN, so the server reads end of stream, but we can still read.
    pub fn shutdown_write(&self) {
        self.stream()
            .shutdown(Shutdown::Write)
            .expect("shutdown(Write) works on a connected socket");
    }

    /// Closes abruptly with a reset (RST) instead of a FIN: SO_LINGER with a zero timeout makes
    /// close() discard unsent data and send RST.
    pub fn reset(self) {
        let socket = SockRef::from(self.stream());
        socket
            .set_linger(Some(Duration::ZERO))
            .expect("SO_LINGER can be set");
        drop(self);
    }
}

/// A read that ran out of time reports `WouldBlock` on Unix and `TimedOut` on Windows.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// A hostile server for testing clients: it accepts one connection and sends bytes without
/// ever a newline (up to 64 MiB, or until the client goes away). Returns its address.
pub fn serve_endless_line() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("a bound address");
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let chunk = [b'x'; 64 * 1024];
        for _ in 0..1024 {
            if stream.write_all(&chunk).is_err() {
                return;
            }
        }
    });
    addr
}
