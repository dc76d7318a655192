//! Bytes handed out piece by piece, as a socket hands them out: [`Pieces`], a reader for checking
//! a function that reads (a line, a frame) without a server; and [`connected_pair`], two ends of
//! a real TCP connection on loopback, for a function that needs a socket.

use std::collections::VecDeque;
use std::io::{self, BufRead, ErrorKind, Read};
use std::net::{TcpListener, TcpStream};

use crate::DEADLINE;

/// One piece of what a [`Pieces`] reader hands out.
enum Piece {
    Bytes(Vec<u8>),
    /// A read that fails with `Interrupted`, as one cut short by a signal does.
    Interrupted,
}

/// A reader that hands out its bytes in the pieces given, never more than one piece per read
/// (less when the caller's buffer is smaller), the way a socket hands out bytes as they happen to
/// arrive. It can fail a read with `Interrupted`, go on with a line that never ends, and it
/// counts the bytes taken, so a check can see that nothing was read past a point. It is also a
/// [`BufRead`], whose buffer is the current piece.
pub struct Pieces {
    pieces: VecDeque<Piece>,
    /// After the pieces: this many more bytes of `endless_byte`, 4096 at a time.
    endless: usize,
    endless_byte: u8,
    taken: usize,
}

impl Pieces {
    /// The pieces given, in order, then the end of the stream.
    pub fn new(pieces: &[&[u8]]) -> Pieces {
        Pieces {
            pieces: pieces.iter().map(|p| Piece::Bytes(p.to_vec())).collect(),
            endless: 0,
            endless_byte: b'a',
            taken: 0,
        }
    }

    /// All of `bytes` in one piece.
    pub fn bytes(bytes: &[u8]) -> Pieces {
        Pieces::new(&[bytes])
    }

    /// The pieces given, where `None` is a read that fails with `Interrupted`.
    pub fn with_interruptions(pieces: &[Option<&[u8]>]) -> Pieces {
        Pieces {
            pieces: pieces
                .iter()
                .map(|p| match p {
                    Some(bytes) => Piece::Bytes(bytes.to_vec()),
                    None => Piece::Interrupted,
                })
                .collect(),
            ..Pieces::new(&[])
        }
    }

    /// `bytes` in pieces of the sizes given, in turn and again (a size of 0 counts as 1).
    pub fn sized(bytes: &[u8], sizes: &[usize]) -> Pieces {
        let mut pieces = Vec::new();
        let mut rest = bytes;
        for size in sizes.iter().cycle() {
            if rest.is_empty() || sizes.is_empty() {
                break;
            }
            let (piece, after) = rest.split_at((*size).clamp(1, rest.len()));
            pieces.push(piece);
            rest = after;
        }
        Pieces::new(&pieces)
    }

    /// After the pieces, `count` more bytes of `byte`, 4096 at a time, with no newline: a line
    /// that never ends (or ends only at the end of the stream).
    pub fn then_endless(mut self, count: usize, byte: u8) -> Pieces {
        self.endless = count;
        self.endless_byte = byte;
        self
    }

    /// How many bytes have been taken so far.
    pub fn taken(&self) -> usize {
        self.taken
    }
}

impl Read for Pieces {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = buf.len().min(available.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Pieces {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.pieces.is_empty() && self.endless > 0 {
            let n = self.endless.min(4096);
            self.endless -= n;
            self.pieces
                .push_back(Piece::Bytes(vec![self.endless_byte; n]));
        }
        if let Some(Piece::Interrupted) = self.pieces.front() {
            self.pieces.pop_front();
            return Err(io::Error::new(ErrorKind::Interrupted, "a signal"));
        }
        match self.pieces.front() {
            Some(Piece::Bytes(bytes)) => Ok(bytes),
            _ => Ok(&[]),
        }
    }

    fn consume(&mut self, n: usize) {
        if let Some(Piece::Bytes(bytes)) = self.pieces.front_mut() {
            let n = n.min(bytes.len());
            bytes.drain(..n);
            self.taken += n;
            if bytes.is_empty() {
                self.pieces.pop_front();
            }
        }
    }
}

/// Two ends of one TCP connection on 127.0.0.1: (the client's end, the server's end, as
/// `accept()` returned it). Reads and writes on both time out after [`DEADLINE`], and both send
/// small writes at once (`TCP_NODELAY`), so a test sees its pieces arrive as it wrote them.
pub fn connected_pair() -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let client = TcpStream::connect_timeout(&listener.local_addr()?, DEADLINE)?;
    let (server, _) = listener.accept()?;
    for end in [&client, &server] {
        end.set_read_timeout(Some(DEADLINE))?;
        end.set_write_timeout(Some(DEADLINE))?;
        end.set_nodelay(true)?;
    }
    Ok((client, server))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn hands_out_one_piece_per_read_at_most() {
        let mut reader = Pieces::new(&[b"ab", b"cde"]);
        let mut buf = [0u8; 16];
        assert_eq!(reader.read(&mut buf).unwrap(), 2);
        assert_eq!(reader.read(&mut buf[..1]).unwrap(), 1);
        assert_eq!(reader.read(&mut buf).unwrap(), 2);
        assert_eq!(reader.read(&mut buf).unwrap(), 0);
        assert_eq!(reader.taken(), 5);
    }

    #[test]
    fn interruptions_endless_lines_and_sizes() {
        let mut reader = Pieces::with_interruptions(&[Some(b"a"), None, Some(b"b")]);
        let mut buf = [0u8; 4];
        assert_eq!(reader.read(&mut buf).unwrap(), 1);
        let e = reader.read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Interrupted);
        assert_eq!(reader.read(&mut buf).unwrap(), 1);

        let mut line = Vec::new();
        let n = Pieces::new(&[b"x"])
            .then_endless(10_000, b'a')
            .read_until(b'\n', &mut line);
        assert_eq!(n.unwrap(), 10_001);

        let mut sized = Pieces::sized(b"abcdefg", &[1, 3]);
        let mut got = Vec::new();
        while let Ok(n @ 1..) = sized.read(&mut buf) {
            got.push(n);
        }
        assert_eq!(got, [1, 3, 1, 2]);
    }

    #[test]
    fn a_connected_pair_carries_bytes_both_ways() {
        let (mut client, mut server) = connected_pair().unwrap();
        client.write_all(b"ping").unwrap();
        let mut buf = [0u8; 4];
        server.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ping");
        server.write_all(b"pong").unwrap();
        client.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"pong");
    }
}
