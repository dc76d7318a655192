//! Our answers to lesson 02's exercises. Try `src/exercises.rs` first.

use std::io::{self, BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

// ANCHOR: solution_1
/// Exercise 1: read one line, but never more than `max` bytes of it.
pub fn read_line_limited(reader: &mut impl BufRead, max: usize) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    // take() makes the reader look as if it ended after max + 2 bytes (room for `\r\n`), so
    // read_until stops there even when no `\n` comes.
    let limit = max as u64 + 2;
    let n = reader.by_ref().take(limit).read_until(b'\n', &mut line)?;
    if n == 0 {
        return Ok(None);
    }
    let too_long = || io::Error::new(ErrorKind::InvalidData, format!("line over {max} bytes"));
    if line.last() != Some(&b'\n') {
        if n as u64 == limit {
            return Err(too_long());
        }
        return Err(io::Error::new(
            ErrorKind::UnexpectedEof,
            "the stream ended in the middle of a line",
        ));
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    if line.len() > max {
        return Err(too_long());
    }
    Ok(Some(line))
}
// ANCHOR_END: solution_1

// ANCHOR: solution_2
/// Exercise 2: send a last reply, then close without losing it.
pub fn reply_and_close(stream: TcpStream, reply: &[u8], linger: Duration) -> io::Result<()> {
    (&stream).write_all(reply)?;
    // FIN now: the client reads our reply, then end of stream. We can still read.
    stream.shutdown(Shutdown::Write)?;
    // Read (and throw away) what the client still sends until it closes too, so that no unread
    // byte is left when we close: close() with unread bytes sends RST instead of FIN.
    let deadline = Instant::now() + linger;
    let mut discard = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        stream.set_read_timeout(Some(left))?;
        match (&stream).read(&mut discard) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // Timed out, or the client reset: either way there is nothing more to wait for.
            Err(_) => break,
        }
    }
    Ok(())
}
// ANCHOR_END: solution_2

// ANCHOR: solution_3
/// Exercise 3: answer every line until the client half-closes, then close.
pub fn answer_until_half_close(stream: TcpStream) -> io::Result<u64> {
    let mut reader = BufReader::new(&stream);
    let mut line = String::new();
    let mut count = 0;
    loop {
        line.clear();
        // 0 bytes: the client will send nothing more. Stop here; looping on would spin.
        if reader.read_line(&mut line)? == 0 {
            return Ok(count);
        }
        if !line.ends_with('\n') {
            // The stream ended in the middle of a line: that is not a whole line to answer.
            return Ok(count);
        }
        count += 1;
        let text = line.trim_end_matches(['\r', '\n']);
        (&stream).write_all(format!("message {count}: {text}\n").as_bytes())?;
    }
}
// ANCHOR_END: solution_3

// ANCHOR: solution_4
/// Exercise 4: read a line before a deadline.
pub fn read_line_before(
    reader: &mut BufReader<&TcpStream>,
    max: usize,
    deadline: Instant,
) -> io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    loop {
        // Each read may wait only for what is left of the one deadline.
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(
                ErrorKind::TimedOut,
                "no whole line before the deadline",
            ));
        }
        reader.get_ref().set_read_timeout(Some(left))?;
        let available = match reader.fill_buf() {
            Ok(bytes) => bytes,
            // Timed out (the loop looks at the deadline) or interrupted: go round.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                continue;
            }
            Err(e) => return Err(e),
        };
        if available.is_empty() {
            if line.is_empty() {
                return Ok(None);
            }
            return Err(io::Error::new(
                ErrorKind::UnexpectedEof,
                "the stream ended mid-line",
            ));
        }
        // Take up to and with the first `\n`, or everything there is; keep the rest buffered.
        let (taken, done) = match available.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (available.len(), false),
        };
        line.extend_from_slice(&available[..taken]);
        reader.consume(taken);
        if done {
            line.pop();
            if line.last() == Some(&b'\r') {
                line.pop();
            }
        }
        // max + 2: room for the `\r\n` of a line of exactly max bytes.
        if line.len() > max + usize::from(!done) * 2 {
            return Err(io::Error::new(
                ErrorKind::InvalidData,
                format!("line over {max} bytes"),
            ));
        }
        if done {
            return Ok(Some(line));
        }
    }
}
// ANCHOR_END: solution_4
