//! How serving a request can fail, and what the client is told: the server's answers to
//! everything that goes wrong, in one place.

use std::io;

use crate::connection::{TransferError, describe_io};
use crate::frame::ErrorCode;

// ANCHOR: failure
/// How serving a request can fail.
pub enum Failure {
    /// The client asked for something the server refuses, or sent bytes that are not this
    /// protocol: tell it why in an ERROR frame, then close.
    Refuse(ErrorCode, String),
    /// The connection itself failed (reset, timeout, closed mid-frame): nobody left to tell.
    Lost(String),
}

pub fn refuse(code: ErrorCode, message: impl Into<String>) -> Failure {
    Failure::Refuse(code, message.into())
}
// ANCHOR_END: failure

/// The name is taken: never overwrite.
pub fn already_there(name: &str) -> Failure {
    refuse(
        ErrorCode::Exists,
        format!("{name:?} already exists; upload it under another name"),
    )
}

/// The server's own storage failed (a full disk, for example): the client is told so.
pub fn storage_error(e: io::Error) -> Failure {
    refuse(ErrorCode::Storage, format!("cannot store the file: {e}"))
}

/// The connection failed: nobody left to tell.
pub fn lost(e: io::Error) -> Failure {
    Failure::Lost(describe_io(&e))
}

/// Maps what went wrong in the middle of a transfer to what the client is told.
pub fn transfer_failure(e: TransferError) -> Failure {
    match e {
        TransferError::Read(e) | TransferError::Write(e) => lost(e),
        TransferError::Frame(e) => refuse(ErrorCode::BadFrame, e.to_string()),
        TransferError::Unexpected(kind) => refuse(
            ErrorCode::BadFrame,
            format!("a {kind} frame in the middle of a transfer"),
        ),
        TransferError::TooMany { declared } => refuse(
            ErrorCode::BadFrame,
            format!("more bytes than the {declared} announced"),
        ),
        TransferError::Checksum { .. } => refuse(ErrorCode::Checksum, "checksum mismatch"),
        // The client's own words: escaped ({:?}), so that no control character reaches the
        // log raw, where it could clear a screen or forge a line.
        TransferError::Refused { message, .. } => Failure::Lost(format!("it said: {message:?}")),
    }
}
