//! The engine's errors, in the domain's terms: what kind of refusal, a stable
//! machine-readable code, a sentence. The engine knows no HTTP; the API maps
//! each kind to a status (`crate::error`).

use crate::store::StoreError;
use aman_protocol::{DecodeError, Error as ProtocolError};
use thiserror::Error;

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

/// A refused or failed engine operation.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{code}: {message}")]
pub struct EngineError {
    /// What kind of refusal.
    pub kind: ErrorKind,
    /// Stable code, e.g. `stale_counter`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
    /// For [`ErrorKind::Busy`] and [`ErrorKind::Overloaded`]: seconds to wait.
    pub retry_after: Option<u64>,
}

impl EngineError {
    /// An error of `kind` with a code and message.
    pub fn new(kind: ErrorKind, code: &'static str, message: impl Into<String>) -> Self {
        EngineError { kind, code, message: message.into(), retry_after: None }
    }

    /// Over a per-member or per-mailbox bound; retry after `seconds`.
    pub fn busy(code: &'static str, message: impl Into<String>, seconds: u64) -> Self {
        EngineError { retry_after: Some(seconds), ..Self::new(ErrorKind::Busy, code, message) }
    }

    /// Over a server-wide bound; retry after `seconds`.
    pub fn overloaded(code: &'static str, message: impl Into<String>, seconds: u64) -> Self {
        EngineError { retry_after: Some(seconds), ..Self::new(ErrorKind::Overloaded, code, message) }
    }

    /// Malformed or out-of-bounds input.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Invalid, code, message)
    }

    /// The one answer for an unknown caller or a bad signature.
    pub fn unauthorized() -> Self {
        Self::new(ErrorKind::Unauthorized, "unauthorized", "the request signature did not verify for this caller")
    }

    /// Nothing of that name here.
    pub fn not_found(what: &str) -> Self {
        Self::new(ErrorKind::NotFound, "not_found", format!("{what} not found"))
    }

    /// Our fault; `detail` is logged, not sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(ErrorKind::Internal, "internal", "internal server error")
    }

    /// Maps a malformed binary field to a stable code, by variant (never by text).
    pub fn decode(field: &str, e: DecodeError) -> Self {
        let code = match e {
            DecodeError::Truncated => "truncated",
            DecodeError::TrailingBytes => "trailing_bytes",
            DecodeError::WrongLabel => "wrong_label",
            DecodeError::UnknownVersion(_) => "unknown_version",
            DecodeError::TooLong => "too_long",
            DecodeError::WrongLength => "wrong_length",
            DecodeError::InvalidValue => "invalid_value",
            DecodeError::BadText => "bad_encoding",
            _ => "malformed",
        };
        Self::bad_request(code, format!("{field}: {e}"))
    }

    /// Maps a protocol error on a client-supplied field.
    pub fn protocol(field: &str, e: ProtocolError) -> Self {
        match e {
            ProtocolError::Decode(d) => Self::decode(field, d),
            ProtocolError::BadSignature => {
                Self::new(ErrorKind::Unauthorized, "bad_signature", format!("{field}: signature did not verify"))
            }
            ProtocolError::StaleCounter => {
                Self::new(ErrorKind::Conflict, "stale_counter", "check-in counter must be greater than the last one")
            }
            other => Self::bad_request("invalid", format!("{field}: {other}")),
        }
    }
}

impl From<StoreError> for EngineError {
    fn from(e: StoreError) -> Self {
        EngineError::internal(e)
    }
}
