//! The engine's errors, in the domain's terms: what kind of refusal, a stable
//! machine-readable code, a sentence. The engine knows no HTTP; the API maps
//! each kind to a status (`crate::error`).

use crate::store::StoreError;
use aman_protocol::api::ErrorCode;
use aman_protocol::{DecodeError, Error as ProtocolError};
use std::fmt;

/// What kind of refusal an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The input is malformed or out of bounds.
    Invalid,
    /// Unknown caller or bad signature (the one answer for both).
    Unauthorized,
    /// Not allowed (registration invites).
    Forbidden,
    /// No such thing, or not yours.
    NotFound,
    /// It clashes with the state on record.
    Conflict,
    /// It has lapsed.
    Gone,
    /// Too large to accept.
    TooLarge,
    /// Over a per-member or per-mailbox bound: retry later.
    Busy,
    /// Over a server-wide bound: retry later.
    Overloaded,
    /// Our fault; the detail went to the log.
    Internal,
}

/// A refused or failed engine operation. It is logged where it is
/// handled (the API's answer, the scheduler's loop), never where it is made:
/// its `Display` is for the log and carries the detail of an internal
/// error, which no answer does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineError {
    /// What kind of refusal.
    pub kind: ErrorKind,
    /// Stable code, e.g. `stale_counter`.
    pub code: ErrorCode,
    /// Human-readable explanation, sent to the caller.
    pub message: String,
    /// For [`ErrorKind::Busy`] and [`ErrorKind::Overloaded`]: seconds to wait.
    pub retry_after: Option<u64>,
    /// For [`ErrorKind::Internal`]: what went wrong, for the log only.
    pub detail: Option<String>,
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        match &self.detail {
            Some(detail) => write!(f, " ({detail})"),
            None => Ok(()),
        }
    }
}

impl std::error::Error for EngineError {}

impl EngineError {
    /// An error of `kind` with a code and message.
    pub fn new(kind: ErrorKind, code: ErrorCode, message: impl Into<String>) -> Self {
        EngineError { kind, code, message: message.into(), retry_after: None, detail: None }
    }

    /// Over a per-member or per-mailbox bound; retry after `seconds`.
    pub fn busy(code: ErrorCode, message: impl Into<String>, seconds: u64) -> Self {
        EngineError { retry_after: Some(seconds), ..Self::new(ErrorKind::Busy, code, message) }
    }

    /// Over a server-wide bound; retry after `seconds`.
    pub fn overloaded(code: ErrorCode, message: impl Into<String>, seconds: u64) -> Self {
        EngineError { retry_after: Some(seconds), ..Self::new(ErrorKind::Overloaded, code, message) }
    }

    /// Malformed or out-of-bounds input.
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, code, message)
    }

    /// The one answer for an unknown caller or a bad signature.
    pub fn unauthorized() -> Self {
        Self::new(
            ErrorKind::Unauthorized,
            ErrorCode::Unauthorized,
            "the request signature did not verify for this caller",
        )
    }

    /// Nothing of that name here.
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorKind::NotFound, ErrorCode::NotFound, format!("{what} not found"))
    }

    /// Our fault; `detail` goes to the log where the error is handled, and
    /// is never sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        EngineError {
            detail: Some(detail.to_string()),
            ..Self::new(ErrorKind::Internal, ErrorCode::Internal, "internal server error")
        }
    }

    /// Maps a malformed binary field to a stable code, by variant (never by text).
    pub fn decode(field: &str, e: DecodeError) -> Self {
        Self::bad_request(e.code(), format!("{field}: {e}"))
    }

    /// Maps a protocol error on a client-supplied field.
    pub fn protocol(field: &str, e: ProtocolError) -> Self {
        match e {
            ProtocolError::Decode(d) => Self::decode(field, d),
            ProtocolError::BadSignature => Self::new(
                ErrorKind::Unauthorized,
                ErrorCode::BadSignature,
                format!("{field}: signature did not verify"),
            ),
            ProtocolError::StaleCounter => Self::new(
                ErrorKind::Conflict,
                ErrorCode::StaleCounter,
                "check-in counter must be greater than the last one",
            ),
            other => Self::bad_request(ErrorCode::InvalidValue, format!("{field}: {other}")),
        }
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        EngineError::internal(e)
    }
}
