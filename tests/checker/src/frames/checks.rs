//! One function per check of lesson 04. Each takes a [`Probe`] (where the server is), talks to
//! the server in frames over real sockets with a deadline on every wait, and returns `Ok(())`
//! or what it saw against what it expected.
//!
//! The server keeps what it stores, and the protocol has no way to delete a file, so every
//! check uploads under a name of its own, unique to this run of the checker: running the
//! checker twice against the same server works.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{FrameConn, MAGIC, MAX_DATA, MAX_NAME, Next, code, code_name, header, kind};
use crate::check::{Probe, Verdict};
use crate::conn::quote;
use crate::crowd::{self, Answer, Crowd};
use crate::frames::Frame;
use crate::report::{Outcome, fail};

/// The size of the file `upload` and `get` send: more than 64 KiB, so two DATA frames.
const TWO_FRAMES: usize = 100_000;
/// The size of the other files: one DATA frame.
const SMALL: usize = 1_000;
/// What `too-large` declares when the server's limit is unknown: 2^60 bytes (an exbibyte),
/// more than any server accepts.
const HUGE: u64 = 1 << 60;
/// How long after a vanished upload the checker looks at the list again: ample time for the
/// server to have seen the reset.
const SETTLE: Duration = Duration::from_millis(300);

// ---------------------------------------------------------------------------------------------
// Helpers: names and contents, connect, upload, download, list, expect a refusal.

/// A file name that no other check and no earlier run of the checker has used:
/// `checker-LABEL-RUN-N.bin`, where RUN comes from the clock and the process id.
fn unique(label: &str) -> String {
    static RUN: OnceLock<String> = OnceLock::new();
    static N: AtomicUsize = AtomicUsize::new(0);
    let run = RUN.get_or_init(|| {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        format!("{nanos:x}-{}", std::process::id())
    });
    let n = N.fetch_add(1, Ordering::Relaxed);
    format!("checker-{label}-{run}-{n}.bin")
}

/// `len` bytes that are not all alike (a different stream for each `seed`): the SHA-256 of the
/// seed and a block number, block after block, so that a byte lost, added or moved changes the
/// checksum.
fn content(len: usize, seed: u32) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(len + 32);
    for block in 0u64.. {
        if bytes.len() >= len {
            break;
        }
        let input = [seed.to_be_bytes().as_slice(), &block.to_be_bytes()].concat();
        bytes.extend_from_slice(&super::sha256(&input));
    }
    bytes.truncate(len);
    bytes
}

fn connect(p: &Probe) -> Result<FrameConn, Outcome> {
    FrameConn::open(p.addr, p.options.timeout)
}

/// The next frame must be `wanted`.
fn expect(conn: &mut FrameConn, wanted: &Frame) -> Verdict {
    match conn.receive() {
        Next::Frame(frame) if frame == *wanted => Ok(()),
        other => Err(fail(other.to_string(), wanted.to_string())),
    }
}

/// Sends `bytes` as DATA frames of at most 64 KiB each: none at all for an empty file.
fn send_data(conn: &mut FrameConn, bytes: &[u8]) -> Verdict {
    for piece in bytes.chunks(MAX_DATA) {
        conn.send(&Frame::Data(piece.to_vec()))?;
    }
    Ok(())
}

/// FILE for `bytes` under `name`, answered by READY.
fn offer(conn: &mut FrameConn, name: &str, bytes: &[u8]) -> Verdict {
    conn.send(&Frame::file(name, bytes))?;
    expect(conn, &Frame::Ready)
}

/// The STORED frame that must answer the upload of `bytes` under `name`.
fn stored(name: &str, bytes: &[u8]) -> Frame {
    match Frame::file(name, bytes) {
        Frame::File { size, sha256, name } => Frame::Stored { size, sha256, name },
        _ => unreachable!("Frame::file makes a FILE frame"),
    }
}

/// A whole upload on `conn`: FILE, READY, the DATA frames, and STORED with the very size,
/// SHA-256 and name sent.
fn upload_on(conn: &mut FrameConn, name: &str, bytes: &[u8]) -> Verdict {
    offer(conn, name, bytes)?;
    send_data(conn, bytes)?;
    expect(conn, &stored(name, bytes))
}

/// GET `name` on `conn`: FILE with the size, SHA-256 and name of `bytes`, then DATA frames
/// carrying exactly `bytes`.
fn download_on(conn: &mut FrameConn, name: &str, bytes: &[u8]) -> Verdict {
    conn.send(&Frame::Get { name: name.into() })?;
    expect(conn, &Frame::file(name, bytes))?;
    let mut got = Vec::new();
    // Each DATA frame carries at least one byte, so this ends.
    while got.len() < bytes.len() {
        match conn.receive() {
            Next::Frame(Frame::Data(piece)) => got.extend_from_slice(&piece),
            other => {
                return Err(fail(
                    format!("{other} after {} of {} bytes", got.len(), bytes.len()),
                    "DATA frames carrying the rest of the file",
                ));
            }
        }
    }
    if got.len() > bytes.len() {
        return Err(fail(
            format!("DATA frames carrying {} bytes", got.len()),
            format!("exactly the {} bytes the FILE frame announced", bytes.len()),
        ));
    }
    if let Some(at) = got.iter().zip(bytes).position(|(a, b)| a != b) {
        return Err(fail(
            format!("bytes that differ from those uploaded, from offset {at}"),
            "the very bytes uploaded",
        ));
    }
    Ok(())
}

/// The most ENTRY frames one LIST may bring: at about 270 bytes each, 27 MB at the most. The
/// checker's own uploads add about twenty per run, so this is thousands of runs.
pub const MAX_ENTRIES: usize = 100_000;

/// LIST on `conn`: the (name, size) of every ENTRY frame, up to END.
fn list_on(conn: &mut FrameConn) -> Result<Vec<(String, u64)>, Outcome> {
    conn.send(&Frame::List)?;
    // One deadline for the whole list, and a bound on its length: a server that sends ENTRY
    // frames for ever fails, without the checker's memory growing until the deadline.
    let started = Instant::now();
    let deadline = started + conn.conn().timeout();
    let mut entries = Vec::new();
    loop {
        let n = entries.len();
        let plural = if n == 1 { "" } else { "s" };
        match conn.receive_within(deadline.saturating_duration_since(Instant::now())) {
            Next::Frame(Frame::Entry { .. }) if n == MAX_ENTRIES => {
                return Err(fail(
                    format!("more than {MAX_ENTRIES} ENTRY frames"),
                    format!("at most {MAX_ENTRIES} ENTRY frames, then END"),
                ));
            }
            Next::Frame(Frame::Entry { size, name }) => entries.push((name, size)),
            Next::Frame(Frame::End) => return Ok(entries),
            // The wait that ran out is the whole list's, not the last frame's.
            Next::Nothing(_) => {
                return Err(fail(
                    format!(
                        "no END within {:.1} s, after {n} ENTRY frame{plural}",
                        started.elapsed().as_secs_f64()
                    ),
                    "ENTRY frames, then END",
                ));
            }
            other => {
                return Err(fail(
                    format!("{other} after {n} ENTRY frame{plural}"),
                    "ENTRY frames, then END",
                ));
            }
        }
    }
}

/// The list must have an entry `name` of `size` bytes.
fn expect_listed(entries: &[(String, u64)], name: &str, size: usize) -> Verdict {
    let wanted = Frame::Entry {
        size: size as u64,
        name: name.into(),
    };
    match entries.iter().find(|(n, _)| n == name) {
        Some((_, s)) if *s == size as u64 => Ok(()),
        Some((_, s)) => Err(fail(
            format!("ENTRY {} ({s} bytes)", quote(name.as_bytes())),
            wanted.to_string(),
        )),
        None => Err(fail(
            format!(
                "a list of {} files, none of them {}",
                entries.len(),
                quote(name.as_bytes())
            ),
            wanted.to_string(),
        )),
    }
}

/// A LIST on a new connection must show no name for which `unwanted` is true.
fn none_listed(p: &Probe, unwanted: impl Fn(&str) -> bool, expected: &str) -> Verdict {
    let entries = list_on(&mut connect(p)?)?;
    match entries.iter().find(|(name, _)| unwanted(name)) {
        Some((name, size)) => Err(fail(
            format!(
                "ENTRY {} ({size} bytes) in the list",
                quote(name.as_bytes())
            ),
            expected,
        )),
        None => Ok(()),
    }
}

/// The next frame is an ERROR with one of `codes`, the answer to `what`, and then the server
/// closes the connection (an ERROR frame is always the last).
fn refused(conn: &mut FrameConn, codes: &[u8], what: &str) -> Verdict {
    let names: Vec<String> = codes.iter().map(|&c| code_name(c)).collect();
    let expected = format!(
        "ERROR {} for {what}, then the connection closed",
        names.join(" or ")
    );
    match conn.receive() {
        Next::Frame(Frame::Error { code, .. }) if codes.contains(&code) => {}
        other => return Err(fail(other.to_string(), expected)),
    }
    closed_after_error(conn, &expected)
}

/// After an ERROR frame, the server closes: with a FIN, or at worst a reset.
fn closed_after_error(conn: &mut FrameConn, expected: &str) -> Verdict {
    match conn.receive() {
        Next::Closed | Next::Reset => Ok(()),
        other => Err(fail(format!("the ERROR frame, then {other}"), expected)),
    }
}

/// Puts `context` in front of what a failed step saw.
fn during<T>(context: &str, result: Result<T, Outcome>) -> Result<T, Outcome> {
    result.map_err(|outcome| match outcome {
        Outcome::Fail { saw, expected } => fail(format!("{context}: {saw}"), expected),
        other => other,
    })
}

// ---------------------------------------------------------------------------------------------
// The protocol.

/// A file of 100,000 bytes: FILE, READY, then two DATA frames (64 KiB and the rest), then
/// STORED with the same size, SHA-256 and name. Proves the server takes an upload split over
/// several frames and checks it.
pub fn upload(p: &mut Probe) -> Verdict {
    let mut conn = connect(p)?;
    upload_on(&mut conn, &unique("upload"), &content(TWO_FRAMES, 1))
}

/// A file of 100,000 bytes uploaded, then on a new connection GET: FILE with the same size,
/// SHA-256 and name, then DATA frames carrying the same bytes, byte for byte. Proves the file
/// was stored intact, and comes back intact.
pub fn get(p: &mut Probe) -> Verdict {
    let (name, bytes) = (unique("get"), content(TWO_FRAMES, 2));
    upload_on(&mut connect(p)?, &name, &bytes)?;
    download_on(&mut connect(p)?, &name, &bytes)
}

/// An upload, then LIST on the same connection: ENTRY frames, one of them with the name and
/// size just stored, then END. Proves the list, and that one connection carries one request
/// after another.
pub fn list(p: &mut Probe) -> Verdict {
    let (name, bytes) = (unique("list"), content(SMALL, 3));
    let mut conn = connect(p)?;
    upload_on(&mut conn, &name, &bytes)?;
    let entries = list_on(&mut conn)?;
    expect_listed(&entries, &name, bytes.len())
}

/// A file of 0 bytes: FILE, READY and STORED with no DATA frame at all (a DATA frame carries 1
/// byte at least); GET gives FILE of 0 bytes and no DATA frame, so the next frame on that
/// connection answers LIST, where the file is listed with 0 bytes. Proves the edge case every
/// loop "until all bytes have come" must get right.
pub fn empty_file(p: &mut Probe) -> Verdict {
    let name = unique("empty");
    let mut conn = connect(p)?;
    upload_on(&mut conn, &name, &[])?;
    download_on(&mut conn, &name, &[])?;
    let entries = during("LIST after getting the empty file", list_on(&mut conn))?;
    expect_listed(&entries, &name, 0)
}

/// GET of a name never uploaded: ERROR NotFound, then the close. Proves a missing file is said
/// to be missing, not sent as an empty one.
pub fn get_missing(p: &mut Probe) -> Verdict {
    let name = unique("missing");
    let mut conn = connect(p)?;
    conn.send(&Frame::Get { name: name.clone() })?;
    refused(
        &mut conn,
        &[code::NOT_FOUND],
        &format!("GET {}, a name never uploaded", quote(name.as_bytes())),
    )
}

/// An upload whose FILE frame announces a SHA-256 that is not the one of the bytes sent: READY,
/// the bytes, then ERROR Checksum and the close; and a LIST on a new connection does not show
/// the name. Proves that the server checks the bytes it received before it gives them a name.
pub fn wrong_checksum(p: &mut Probe) -> Verdict {
    let (name, bytes) = (unique("checksum"), content(SMALL, 4));
    let mut announced = Frame::file(&name, &bytes);
    if let Frame::File { sha256, .. } = &mut announced {
        sha256[0] ^= 0xFF;
    }
    let mut conn = connect(p)?;
    conn.send(&announced)?;
    expect(&mut conn, &Frame::Ready)?;
    send_data(&mut conn, &bytes)?;
    refused(
        &mut conn,
        &[code::CHECKSUM],
        "bytes whose SHA-256 is not the one announced",
    )?;
    none_listed(
        p,
        |n| n == name,
        "the name not listed: nothing stored after a wrong checksum",
    )
}

/// An upload whose last DATA frame is followed at once by the client's FIN (a half-close: the
/// client has nothing more to say, and still listens). STORED must still come, then the server
/// closes too, with no ERROR frame. Proves the end of the stream between requests is the
/// normal end of a conversation, and that what was sent before it is answered.
pub fn end_of_stream(p: &mut Probe) -> Verdict {
    let (name, bytes) = (unique("eof"), content(SMALL, 5));
    let mut conn = connect(p)?;
    offer(&mut conn, &name, &bytes)?;
    send_data(&mut conn, &bytes)?;
    conn.shutdown_write();
    expect(&mut conn, &stored(&name, &bytes))?;
    match conn.receive() {
        Next::Closed => Ok(()),
        other => Err(fail(
            format!("STORED, then {other}"),
            "the connection closed (FIN), with no ERROR frame",
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile clients. Each is followed by `served`.

/// A LIST frame whose first byte is 0xF2 (the magic of a version 2), and on another connection
/// `hello` and a newline (a person typing into `nc`): each gets ERROR BadFrame and the close.
/// Proves the server looks at the magic byte before it trusts anything else.
pub fn bad_magic(p: &mut Probe) -> Verdict {
    let mut conn = connect(p)?;
    conn.send_bytes(&header(0xF2, kind::LIST, 0))?;
    refused(
        &mut conn,
        &[code::BAD_FRAME],
        "a LIST frame with magic 0xF2",
    )?;
    let mut conn = connect(p)?;
    conn.send_bytes(b"hello\n")?;
    refused(&mut conn, &[code::BAD_FRAME], "`hello\\n`")
}

/// A frame of type 10, which does not exist, with an empty payload: ERROR BadFrame and the
/// close. Proves the server refuses what it does not understand rather than skip it.
pub fn unknown_type(p: &mut Probe) -> Verdict {
    let mut conn = connect(p)?;
    conn.send_bytes(&header(MAGIC, 10, 0))?;
    refused(&mut conn, &[code::BAD_FRAME], "a frame of type 10")
}

/// A FILE header announcing 4 GiB, then on another connection one announcing 64 KiB (a size
/// that fits the largest frame, but a FILE frame is at most 295 bytes), neither followed by
/// its payload: ERROR BadFrame at once, and the close. Proves every length is checked against
/// its frame's type before a byte of the payload is read: a length from a stranger costs the
/// server nothing.
pub fn impossible_length(p: &mut Probe) -> Verdict {
    for (len, what) in [
        (u32::MAX, "a FILE header announcing 4 GiB"),
        (MAX_DATA as u32, "a FILE header announcing 64 KiB"),
    ] {
        let mut conn = connect(p)?;
        conn.send_bytes(&header(MAGIC, kind::FILE, len))?;
        refused(&mut conn, &[code::BAD_FRAME], what)?;
    }
    Ok(())
}

/// Uploads offered under `../NAME`, `NAME/b`, `NAME\b`, `.NAME`, an empty name and `NAME␀b`,
/// each on its own connection: ERROR BadName before READY (BadFrame is right too for the empty
/// name, whose FILE payload of 40 bytes is shorter than any FILE frame), and the close; then no
/// name containing NAME is listed. Proves a name from the network cannot climb out of the
/// server's folder, name another folder, hide, or cut a path short.
pub fn unsafe_names(p: &mut Probe) -> Verdict {
    let token = unique("unsafe");
    let names = [
        format!("../{token}"),
        format!("{token}/b"),
        format!("{token}\\b"),
        format!(".{token}"),
        String::new(),
        format!("{token}\0b"),
    ];
    for name in &names {
        let mut conn = connect(p)?;
        conn.send(&Frame::file(name, b"hello"))?;
        let codes: &[u8] = if name.is_empty() {
            &[code::BAD_NAME, code::BAD_FRAME]
        } else {
            &[code::BAD_NAME]
        };
        refused(
            &mut conn,
            codes,
            &format!("the name {}", quote(name.as_bytes())),
        )?;
    }
    none_listed(p, |n| n.contains(&token), "none of the unsafe names stored")
}

/// A FILE frame declaring one byte more than the server's limit (`--max-size`, or 2^60 bytes
/// when the checker was not told it): ERROR TooLarge, not READY, and the close. No byte of the
/// file is sent. Proves the size is refused on the FILE frame alone, before the client spends
/// its time sending and the server its disk storing.
pub fn too_large(p: &mut Probe) -> Verdict {
    let declared = p.options.max_size.map_or(HUGE, |max| max.saturating_add(1));
    let mut conn = connect(p)?;
    conn.send(&Frame::File {
        size: declared,
        sha256: [0; 32],
        name: unique("too-large"),
    })?;
    refused(
        &mut conn,
        &[code::TOO_LARGE],
        &format!("a FILE frame declaring {declared} bytes"),
    )
}

/// An upload of 100,000 bytes whose client, after READY and 50,000 bytes, resets the connection
/// (RST, by closing with SO_LINGER 0). A LIST on a new connection, at once and again 300 ms
/// later, does not show the name. Proves half a file never appears under the name it would
/// have had.
pub fn vanish_mid_upload(p: &mut Probe) -> Verdict {
    let (name, bytes) = (unique("vanish"), content(TWO_FRAMES, 6));
    let mut conn = connect(p)?;
    offer(&mut conn, &name, &bytes)?;
    conn.send(&Frame::Data(bytes[..bytes.len() / 2].to_vec()))?;
    conn.reset();
    let expected = "the name not listed: nothing stored of an upload cut short";
    none_listed(p, |n| n == name, expected)?;
    // Waiting for the server to have seen the reset: it cannot be observed from here.
    thread::sleep(SETTLE);
    none_listed(p, |n| n == name, expected)
}

/// A client connects and says nothing; meanwhile another is served (within half the idle
/// timeout, if that is known). Proves a silent client holds one worker at most, not the
/// server.
pub fn silent_client(p: &mut Probe) -> Verdict {
    let _silent = connect(p)?;
    let options = p.options_while_silent();
    let mut meanwhile = p.another(&options);
    served(&mut meanwhile).map_err(|outcome| match outcome {
        Outcome::Fail { saw, expected } => fail(
            format!("{saw} while a silent client was connected"),
            expected,
        ),
        other => other,
    })
}

/// A client connects and says nothing: the server closes the connection within its idle
/// timeout (`--idle-timeout`; skipped otherwise) plus the checker's timeout. An ERROR frame
/// before the close is allowed. Proves silent clients cannot hold the workers for ever.
pub fn idle_timeout(p: &mut Probe) -> Verdict {
    let Some(idle) = p.options.idle_timeout else {
        return Err(Outcome::Skip(
            "the server's idle timeout is unknown: give --idle-timeout SECS, the value the \
             server was started with"
                .into(),
        ));
    };
    let wait = idle + p.options.timeout;
    let deadline = Instant::now() + wait;
    let mut conn = connect(p)?;
    let mut end = conn.receive_within(wait);
    if let Next::Frame(Frame::Error { .. }) = end {
        end = conn.receive_within(deadline.saturating_duration_since(Instant::now()));
    }
    match end {
        Next::Closed | Next::Reset => Ok(()),
        // The wait that ran out is the whole of it, ERROR frame or not.
        Next::Nothing(_) => Err(fail(
            format!(
                "the connection still open after {:.1} s",
                wait.as_secs_f64()
            ),
            format!(
                "the connection closed within {:.1} s (an ERROR frame first is allowed)",
                wait.as_secs_f64()
            ),
        )),
        other => Err(fail(
            other.to_string(),
            format!(
                "the connection closed within {:.1} s (an ERROR frame first is allowed)",
                wait.as_secs_f64()
            ),
        )),
    }
}

/// A file uploaded, then a second upload of other bytes under the same name. The second must
/// not replace the first: ERROR Exists (before READY, or after the bytes), or STORED under
/// another name that the STORED frame reports. Then GET of the name gives the first file,
/// byte for byte (and GET of the other name, if any, the second). Proves the server never
/// overwrites a file silently.
pub fn existing_name(p: &mut Probe) -> Verdict {
    let name = unique("existing");
    let (first, second) = (content(SMALL, 7), content(SMALL, 8));
    upload_on(&mut connect(p)?, &name, &first)?;

    let expected = "ERROR 4 (Exists), or STORED under another name";
    let mut conn = connect(p)?;
    conn.send(&Frame::file(&name, &second))?;
    let stored_as = match conn.receive() {
        Next::Frame(Frame::Error {
            code: code::EXISTS, ..
        }) => None,
        Next::Frame(Frame::Ready) => {
            send_data(&mut conn, &second)?;
            match conn.receive() {
                Next::Frame(Frame::Error {
                    code: code::EXISTS, ..
                }) => None,
                Next::Frame(Frame::Stored { name: same, .. }) if same == name => {
                    return Err(fail(
                        format!("STORED {} a second time", quote(name.as_bytes())),
                        "the first file kept: ERROR Exists, or the second stored under another name",
                    ));
                }
                Next::Frame(Frame::Stored {
                    name: other,
                    size,
                    sha256,
                }) if size == second.len() as u64 && sha256 == super::sha256(&second) => {
                    Some(other)
                }
                other => return Err(fail(other.to_string(), expected)),
            }
        }
        other => return Err(fail(other.to_string(), format!("{expected} (or READY)"))),
    };
    if stored_as.is_none() {
        closed_after_error(&mut conn, "ERROR 4 (Exists), then the connection closed")?;
    }

    let mut conn = connect(p)?;
    during(
        "GET of the first file after the second upload",
        download_on(&mut conn, &name, &first),
    )?;
    match stored_as {
        Some(other) => during(
            "GET of the second file, under the name STORED reported",
            download_on(&mut conn, &other, &second),
        ),
        None => Ok(()),
    }
}

/// How many times `too-large-then-data` is tried: a server that gets it right by luck of
/// timing must be lucky every time.
const LINGER_ROUNDS: usize = 10;
/// What `too-large-then-data` sends after its FILE frame: 1 MiB of DATA frames.
const AFTER_REFUSAL: usize = 1 << 20;

/// A FILE frame over the server's limit followed at once, in one write, by 1 MiB of DATA
/// frames (a client that does not wait for READY), then the client's FIN; ten times. Each time
/// the client must read ERROR TooLarge and then a clean end of stream (FIN), not a reset. A
/// server that closes with the DATA frames unread makes its kernel send RST instead of FIN, and
/// the client loses the end of the conversation (on some systems the ERROR frame too). Proves
/// the server says its last word with a lingering close: it shuts down its side, then reads
/// (and drops) what the client still sends, for a bounded time.
pub fn too_large_then_data(p: &mut Probe) -> Verdict {
    let declared = p.options.max_size.map_or(HUGE, |max| max.saturating_add(1));
    for round in 1..=LINGER_ROUNDS {
        let mut conn = connect(p)?;
        let mut bytes = Frame::File {
            size: declared,
            sha256: [0; 32],
            name: unique("too-large-then-data"),
        }
        .encode();
        let data = Frame::Data(vec![b'x'; MAX_DATA]).encode();
        for _ in 0..AFTER_REFUSAL / MAX_DATA {
            bytes.extend_from_slice(&data);
        }
        let Ok(mut writer) = conn.conn().stream().try_clone() else {
            return Err(fail("a socket that cannot be cloned", "a second handle"));
        };
        // Written from another thread: the server stops reading frames at the FILE frame. The
        // write timeout (the checker's timeout) bounds it.
        let sending = thread::spawn(move || {
            let _ = std::io::Write::write_all(&mut writer, &bytes);
            let _ = writer.shutdown(std::net::Shutdown::Write);
        });
        let expected = "ERROR 3 (TooLarge), then a clean end of stream (FIN, not a reset), \
                        every time";
        let verdict = match conn.receive() {
            Next::Frame(Frame::Error { code, .. }) if code == code::TOO_LARGE => {
                match conn.receive() {
                    Next::Closed => Ok(()),
                    other => Err(fail(format!("the ERROR frame, then {other}"), expected)),
                }
            }
            other => Err(fail(other.to_string(), expected)),
        };
        let _ = conn.conn().stream().shutdown(std::net::Shutdown::Both);
        let _ = sending.join();
        during(&format!("try {round} of {LINGER_ROUNDS}"), verdict)?;
    }
    Ok(())
}

/// The idle timeout, or a skip saying it is needed.
fn idle_timeout_of(p: &Probe) -> Result<Duration, Outcome> {
    p.options.idle_timeout.ok_or_else(|| {
        Outcome::Skip(
            "the server's idle timeout is unknown: give --idle-timeout SECS, the value the \
             server was started with"
                .into(),
        )
    })
}

/// A GET frame sent one byte every quarter of the idle timeout (at most a second), so that no
/// single read waits as long as the idle timeout: the server must close the connection within
/// its idle timeout plus the checker's timeout (an ERROR frame first is allowed). Run for a
/// server that claims total deadlines (`--min-rate`). Proves a frame must arrive whole within
/// the idle timeout: a per-read timeout lets a client that trickles hold a worker for ever
/// (slowloris).
pub fn slow_frame(p: &mut Probe) -> Verdict {
    let idle = idle_timeout_of(p)?;
    let gap = Duration::from_secs(1).min(idle / 4);
    let limit = idle + p.options.timeout;
    // A name long enough to last past the limit, one byte at a time (at most 255 bytes).
    let mut name = unique("slow-frame");
    let needed = (limit.as_secs_f64() / gap.as_secs_f64()) as usize + 1;
    while name.len() < needed.min(MAX_NAME) {
        name.push('x');
    }
    let bytes = Frame::Get { name }.encode();
    let mut conn = connect(p)?;
    conn.conn_mut().trickle(&bytes, gap, limit)
}

/// An upload whose DATA frames come at a quarter of the server's minimum rate (`--min-rate`),
/// one small frame every quarter of the idle timeout: each frame arrives whole and at once, so
/// only a rule on the average rate catches it. The server must close the connection within two
/// idle timeouts plus the checker's timeout (a server may measure its first window from READY).
/// Run for a server that claims total deadlines. Proves a trickled upload cannot hold a worker
/// for ever.
pub fn slow_upload(p: &mut Probe) -> Verdict {
    let idle = idle_timeout_of(p)?;
    let Some(min_rate) = p.options.min_rate else {
        return Err(Outcome::Skip(
            "the server's minimum rate is unknown: give --min-rate".into(),
        ));
    };
    let gap = Duration::from_secs(1).min(idle / 4);
    let limit = 2 * idle + p.options.timeout;
    // A quarter of the minimum rate, at least a byte per frame.
    let per_frame = ((min_rate as f64 * gap.as_secs_f64() / 4.0) as usize).clamp(1, MAX_DATA);
    let frames = (limit.as_secs_f64() / gap.as_secs_f64()) as usize + 2;
    // More than the frames will carry, so the upload never completes; within the limit if known.
    let size = ((per_frame * frames * 2) as u64).min(p.options.max_size.unwrap_or(u64::MAX));
    let bytes = content(size as usize, 12);
    let name = unique("slow-upload");
    let mut conn = connect(p)?;
    offer(&mut conn, &name, &bytes)?;
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < limit && sent < bytes.len() {
        let end = (sent + per_frame).min(bytes.len());
        // A write that fails: the server has closed (or reset) the connection.
        if conn.send(&Frame::Data(bytes[sent..end].to_vec())).is_err() {
            return Ok(());
        }
        sent = end;
        let wait = gap.min(limit.saturating_sub(started.elapsed()));
        match conn.receive_within(wait) {
            Next::Nothing(_) => {}
            Next::Frame(Frame::Error { .. }) | Next::Closed | Next::Reset => return Ok(()),
            other => {
                return Err(fail(
                    format!("{other} after {sent} of {} bytes", bytes.len()),
                    "nothing, or an ERROR frame, then the connection closed",
                ));
            }
        }
    }
    Err(fail(
        format!(
            "the connection still open after {:.1} s, {sent} bytes sent in frames of {per_frame} \
             every {:.2} s",
            started.elapsed().as_secs_f64(),
            gap.as_secs_f64()
        ),
        format!(
            "the connection closed within {:.1} s: a quarter of {min_rate} bytes/s is too slow",
            limit.as_secs_f64()
        ),
    ))
}

/// With the server's process id (`--pid`): 200 connections opened at once and held; the
/// server's thread count may grow by a few at most (see [`crowd::threads_stay_flat`]). Proves
/// the server's threads are bounded, not one per connection.
pub fn bounded_threads(p: &mut Probe) -> Verdict {
    crowd::threads_stay_flat(p)
}

/// 200 connections opened at the same moment (from 200 threads), held until all are open or
/// timed out, then all dropped at once. Connections may wait in the backlog (their connect
/// times out), but none may be refused: a refusal means the server stopped listening. The
/// follow-up proves the server works through the dead connections and serves again.
pub fn dropped_200(p: &mut Probe) -> Verdict {
    let connect_timeout = p.options.timeout.min(Duration::from_secs(2));
    let Crowd {
        count,
        connected,
        refused,
    } = crowd::open_at_once(p.addr, 200, connect_timeout);
    if connected == 0 || refused > 0 {
        return Err(fail(
            format!("{refused} of {count} connections refused, {connected} made"),
            "every connection accepted or left waiting in the backlog",
        ));
    }
    Ok(())
}

/// 1,000 connections, eight at a time: each sends GET of a name never uploaded, reads the
/// answer, ERROR NotFound (or ERROR Busy, when every worker and the queue are taken), and
/// closes. Stops at the first connection that fails. Proves the server keeps accepting and
/// answering at a high rate, and leaks nothing that would make it stop.
pub fn burst_1000(p: &mut Probe) -> Verdict {
    const COUNT: usize = 1000;
    let limit = Duration::from_secs(30);
    let missing = unique("burst");
    let (addr, timeout) = (p.addr, p.options.timeout);
    let burst = crowd::burst(COUNT, 8, limit, || {
        let got = match FrameConn::try_open(addr, timeout) {
            Ok(mut conn) => {
                // A busy server may have closed before the request arrives, so the answer is
                // read even if sending it failed.
                let _ = conn.send(&Frame::Get {
                    name: missing.clone(),
                });
                conn.receive()
            }
            Err(e) => Next::Error(format!("the connection failed ({e})")),
        };
        match got {
            Next::Frame(Frame::Error {
                code: code::NOT_FOUND,
                ..
            }) => Answer::Served,
            Next::Frame(Frame::Error {
                code: code::BUSY, ..
            }) => Answer::Busy,
            other => Answer::Wrong(other.to_string()),
        }
    });

    let (answered, done) = (burst.served, burst.done);
    let expected = format!(
        "ERROR {} (or ERROR {}) on every connection",
        code_name(code::NOT_FOUND),
        code_name(code::BUSY)
    );
    if let Some((n, saw)) = burst.first_wrong {
        return Err(fail(
            format!("{saw} on connection {n} ({answered} answered in all)"),
            expected,
        ));
    }
    if done < COUNT {
        return Err(fail(
            format!("only {done} connections done in {} s", limit.as_secs()),
            format!("{COUNT} connections"),
        ));
    }
    if answered == 0 {
        return Err(fail("ERROR Busy on every connection", expected));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The follow-up.

/// A well-behaved client is served: on one connection, a small file (1,000 bytes) is uploaded
/// (FILE, READY, DATA, STORED) and got back byte for byte. ERROR Busy means "try again", so
/// the client does, until the timeout. Proves the server survived the hostile client before.
pub fn served(p: &mut Probe) -> Verdict {
    let deadline = Instant::now() + p.options.timeout;
    let (name, bytes) = (unique("served"), content(SMALL, 9));
    let mut conn = loop {
        let mut conn = connect(p)?;
        // A busy server may close before the FILE frame arrives: read its answer anyway.
        let sent = conn.send(&Frame::file(&name, &bytes));
        match conn.receive() {
            Next::Frame(Frame::Ready) => break conn,
            Next::Frame(Frame::Error {
                code: code::BUSY, ..
            }) if Instant::now() < deadline => {
                // Polling the server until it has room again, not synchronising.
                thread::sleep(Duration::from_millis(50));
            }
            other => {
                sent?;
                return Err(fail(other.to_string(), Frame::Ready.to_string()));
            }
        }
    };
    send_data(&mut conn, &bytes)?;
    expect(&mut conn, &stored(&name, &bytes))?;
    download_on(&mut conn, &name, &bytes)
}
