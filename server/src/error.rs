//! API errors: an HTTP status, a stable machine-readable code and a sentence.
//!
//! 5xx bodies are generic; the detail goes to the log only, when the answer
//! is made (the one place a refused request is handled).

use crate::engine::{EngineError, ErrorKind};
use aman_protocol::api::{ErrorBody, ErrorCode};
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
    pub code: ErrorCode,
    /// Human-readable explanation.
    pub message: String,
    /// Sent as `Retry-After` (seconds) with a 429 or 503.
    pub retry_after: Option<u64>,
    /// Close the connection after answering (the rest of the request may
    /// still be on the wire: a body too large or too slow).
    pub close: bool,
    /// For a 500: what went wrong, logged when the answer is made.
    pub detail: Option<String>,
}

impl ApiError {
    /// A 4xx/5xx with a code and message.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None, close: false, detail: None }
    }

    /// The same error, closing the connection after it is sent.
    pub fn closing(self) -> Self {
        ApiError { close: true, ..self }
    }

    /// The same error, telling the client when to try again.
    pub fn retry_after(self, seconds: u64) -> Self {
        ApiError { retry_after: Some(seconds), ..self }
    }

    // The common answers are the engine's, so that the API and the engine
    // can never word one differently (an unknown caller and a bad signature
    // must read the same wherever they are refused).

    /// 400 with a code.
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        EngineError::bad_request(code, message).into()
    }

    /// The one answer for an unknown caller or a bad signature.
    pub fn unauthorized() -> Self {
        EngineError::unauthorized().into()
    }

    /// 404.
    pub fn not_found(what: &str) -> Self {
        EngineError::not_found(what).into()
    }

    /// 500; `detail` is logged, not sent.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        EngineError::internal(detail).into()
    }

    /// Maps a malformed binary field to a stable code (the engine's mapping).
    pub fn decode(field: &str, e: DecodeError) -> Self {
        EngineError::decode(field, e).into()
    }

    /// Maps a protocol error on a client-supplied field (the engine's mapping).
    pub fn protocol(field: &str, e: ProtocolError) -> Self {
        EngineError::protocol(field, e).into()
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let status = match e.kind {
            ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::Gone => StatusCode::GONE,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::Busy => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError {
            status,
            code: e.code,
            message: e.message,
            retry_after: e.retry_after,
            close: false,
            detail: e.detail,
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
        if self.status.is_server_error() {
            if let Some(detail) = &self.detail {
                tracing::error!(code = %self.code, %detail, "internal error");
            }
        }
        let body = ErrorBody::new(self.code, self.message);
        let mut response = (self.status, Json(body)).into_response();
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from(seconds));
        }
        if self.close {
            let close = axum::http::HeaderValue::from_static("close");
            response.headers_mut().insert(axum::http::header::CONNECTION, close);
        }
        response
    }
}
