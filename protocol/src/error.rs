//! The crate's error types.
//!
//! Decryption and signature failures deliberately carry no detail: telling an
//! attacker *why* something failed to open (wrong recipient, tampered header,
//! tampered body) is an oracle we do not want to offer.

use crate::error_code::ErrorCode;
use thiserror::Error;

/// Why a canonical encoding was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before a field was complete.
    #[error("input is truncated")]
    Truncated,
    /// Bytes remained after the last field.
    #[error("trailing bytes after the last field")]
    TrailingBytes,
    /// The label at the start does not name the expected format.
    #[error("wrong label")]
    WrongLabel,
    /// The version byte names a version this implementation does not speak.
    #[error("unknown version {0}")]
    UnknownVersion(u8),
    /// A variable-length field is longer than its format allows.
    #[error("field too long")]
    TooLong,
    /// A fixed-size field has the wrong length.
    #[error("wrong length")]
    WrongLength,
    /// A field has a value outside its allowed range.
    #[error("invalid field value")]
    InvalidValue,
    /// A text form (base32, base64url, hex) is malformed.
    #[error("malformed text encoding")]
    BadText,
}

impl DecodeError {
    /// The stable code a refusal of this input carries, by variant (never by text).
    pub fn code(self) -> ErrorCode {
        match self {
            DecodeError::Truncated => ErrorCode::Truncated,
            DecodeError::TrailingBytes => ErrorCode::TrailingBytes,
            DecodeError::WrongLabel => ErrorCode::WrongLabel,
            DecodeError::UnknownVersion(_) => ErrorCode::UnknownVersion,
            DecodeError::TooLong => ErrorCode::TooLong,
            DecodeError::WrongLength => ErrorCode::WrongLength,
            DecodeError::InvalidValue => ErrorCode::InvalidValue,
            DecodeError::BadText => ErrorCode::BadEncoding,
        }
    }

    /// The message a JSON field's deserializer fails with: led by the code
    /// in brackets, so that whoever parses a whole body can still name the
    /// code (`[wrong_length] wrong length`) whatever the wording after it.
    pub fn tagged(self) -> String {
        format!("[{}] {self}", self.code())
    }

    /// The code a [`DecodeError::tagged`] message carries, found anywhere in
    /// `text` (a JSON parser wraps the message in its own words).
    pub fn code_in(text: &str) -> Option<ErrorCode> {
        let start = text.find('[')? + 1;
        let end = start + text[start..].find(']')?;
        ErrorCode::from_code(&text[start..end])
    }
}

/// Errors from the protocol crate.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a valid encoding of the expected format.
    #[error("malformed input: {0}")]
    Decode(#[from] DecodeError),
    /// A signature did not verify (or the signer is unknown: callers must not tell the two apart).
    #[error("signature verification failed")]
    BadSignature,
    /// Decryption failed. No further detail is given, by design.
    #[error("decryption failed")]
    DecryptionFailed,
    /// An X25519 exchange produced a non-contributory (low-order) shared secret.
    #[error("non-contributory key exchange")]
    NonContributory,
    /// The system random number generator failed; nothing was produced.
    #[error("system randomness unavailable")]
    Randomness,
    /// An argument is outside what the format allows (too many recipients, note too long, ...).
    #[error("invalid argument: {0}")]
    InvalidArgument(&'static str),
    /// A check-in counter did not increase.
    #[error("check-in counter did not increase")]
    StaleCounter,
}
