//! API errors: an HTTP status, a stable machine-readable code and a sentence.
//!
//! 5xx bodies are generic; the detail goes to the log only.

use aman_protocol::api::ErrorBody;
use aman_protocol::{DecodeError, Error as ProtocolError};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// A rejected request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code, e.g. `stale_counter`.
    pub code: &'static str,
    /// Human-readable explanation.
    pub message: String,
}

impl ApiError {
    /// A 4xx/5xx with a code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into() }
    }

    /// 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// The one answer for an unknown caller or a bad signature.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", "the request signature did not verify for this caller")
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", format!("{what} not found"))
    }

    /// 500; `detail` is logged, not sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal server error")
    }

    /// Maps a malformed binary field to a stable code.
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
                Self::new(StatusCode::UNAUTHORIZED, "bad_signature", format!("{field}: signature did not verify"))
            }
            ProtocolError::StaleCounter => {
                Self::new(StatusCode::CONFLICT, "stale_counter", "check-in counter must be greater than the last one")
            }
            other => Self::bad_request("invalid", format!("{field}: {other}")),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody { code: self.code.to_owned(), message: self.message };
        (self.status, Json(body)).into_response()
    }
}
