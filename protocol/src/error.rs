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

    /// The code a [`DecodeError::tagged`] message leads `text` with (a JSON
    /// parser appends its own words after it). Only at the very start, and
    /// only a code a decode error has: the rest of a parser's message may
    /// quote the input, which the caller chose.
    pub fn code_in(text: &str) -> Option<ErrorCode> {
        let (tag, _) = text.strip_prefix('[')?.split_once(']')?;
        let code = ErrorCode::from_code(tag)?;
        DECODE_CODES.contains(&code).then_some(code)
    }
}

/// Every code [`DecodeError::code`] gives.
const DECODE_CODES: [ErrorCode; 8] = [
    ErrorCode::Truncated,
    ErrorCode::TrailingBytes,
    ErrorCode::WrongLabel,
    ErrorCode::UnknownVersion,
    ErrorCode::TooLong,
    ErrorCode::WrongLength,
    ErrorCode::InvalidValue,
    ErrorCode::BadEncoding,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_counts_only_at_the_start_and_only_for_a_decode_code() {
        let tagged = DecodeError::WrongLength.tagged();
        assert_eq!(DecodeError::code_in(&format!("{tagged} at line 1 column 9")), Some(ErrorCode::WrongLength));
        assert_eq!(DecodeError::code_in("invalid type: string \"[wrong_length]\""), None, "quoted input");
        assert_eq!(DecodeError::code_in("[internal] at line 1"), None, "not a decode code");
        assert_eq!(DecodeError::code_in("[rate_limited]"), None);
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
