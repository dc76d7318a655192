//! The pieces of a transfer, without a network: headers, DATA frames through one buffer, a
//! full disk, checksums.

use std::io::{self, ErrorKind, Write};

use lesson_04::connection::{TransferError, receive_data, send_data, sha256_of};
use lesson_04::frame::{FrameError, HEADER_LEN, Header, Kind, MAGIC, MAX_DATA, hex, truncate};

#[test]
fn a_header_is_magic_kind_and_a_big_endian_length() {
    let header = Header {
        kind: Kind::Data,
        len: 0x0102,
    };
    assert_eq!(header.encode(), [0xF1, 2, 0, 0, 1, 2]);
    assert_eq!(Header::decode(header.encode()), Ok(header));
}

#[test]
fn impossible_headers_are_refused() {
    assert_eq!(Header::decode(*b"hello\n"), Err(FrameError::BadMagic(b'h')));
    assert_eq!(
        Header::decode([MAGIC, 0, 0, 0, 0, 0]),
        Err(FrameError::UnknownKind(0))
    );
    assert_eq!(
        Header::decode([MAGIC, 2, 0, 1, 0, 1]),
        Err(FrameError::BadLength {
            kind: Kind::Data,
            len: 65537
        })
    );
    assert_eq!(
        Header::decode([MAGIC, 5, 0, 0, 0, 1]),
        Err(FrameError::BadLength {
            kind: Kind::List,
            len: 1
        })
    );
}

/// A writer that fails with "no space left" after `room` bytes, like a full disk.
struct FullDisk {
    room: usize,
    written: Vec<u8>,
}

impl Write for FullDisk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.room == 0 {
            return Err(io::Error::new(
                ErrorKind::StorageFull,
                "No space left on device",
            ));
        }
        let n = buf.len().min(self.room);
        self.room -= n;
        self.written.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_full_disk_stops_the_transfer_with_a_write_error() {
    let file: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    let (size, sha256) = sha256_of(&mut &file[..]).unwrap();
    let mut wire = Vec::new();
    send_data(&mut &file[..], size, &mut wire, |_| {}).unwrap();

    let mut disk = FullDisk {
        room: 100_000,
        written: Vec::new(),
    };
    let mut buf = [0u8; MAX_DATA];
    let mut reader = &wire[..];
    let result = receive_data(&mut reader, &mut buf, size, &sha256, &mut disk, |_| {});
    match result {
        Err(TransferError::Write(e)) => assert_eq!(e.kind(), ErrorKind::StorageFull),
        other => panic!("expected a write error, got {other:?}"),
    }
    assert_eq!(disk.written.len(), 100_000);
    // It stopped at the first failed write instead of reading the rest of the upload.
    assert!(!reader.is_empty());
}

#[test]
fn data_round_trips_and_a_wrong_checksum_is_caught() {
    let file: Vec<u8> = (0..150_001u32).map(|i| (i * 7) as u8).collect();
    let (size, sha256) = sha256_of(&mut &file[..]).unwrap();
    let mut wire = Vec::new();
    send_data(&mut &file[..], size, &mut wire, |_| {}).unwrap();
    // 150_001 bytes: two full frames and one of 19_929 bytes, each with its header.
    assert_eq!(wire.len(), 150_001 + 3 * HEADER_LEN);

    let mut buf = [0u8; MAX_DATA];
    let mut out = Vec::new();
    receive_data(&mut &wire[..], &mut buf, size, &sha256, &mut out, |_| {}).unwrap();
    assert_eq!(out, file);

    let mut wrong = sha256;
    wrong[0] ^= 1;
    let result = receive_data(
        &mut &wire[..],
        &mut buf,
        size,
        &wrong,
        &mut Vec::new(),
        |_| {},
    );
    assert!(matches!(result, Err(TransferError::Checksum { .. })));
}

#[test]
fn hex_is_what_sha256sum_prints() {
    let (_, sha) = sha256_of(&mut &b""[..]).unwrap();
    assert_eq!(
        hex(&sha),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn messages_are_cut_on_a_character_boundary() {
    assert_eq!(truncate("héllo", 2), "h");
    assert_eq!(truncate("héllo", 3), "hé");
    assert_eq!(truncate("abc", 10), "abc");
}
