//! Text forms of binary fields for the JSON envelope: base64url without padding.
//!
//! JSON is only ever the envelope. Decoding goes straight into exact-size
//! arrays or bounded vectors, and the canonical binary encoding inside is what
//! gets verified.

use crate::error::DecodeError;
use data_encoding::BASE64URL_NOPAD;

/// Encodes bytes as base64url without padding.
pub fn b64_encode(bytes: &[u8]) -> String {
    BASE64URL_NOPAD.encode(bytes)
}

/// Decodes base64url (no padding) into a vector of at most `max` bytes.
pub fn b64_decode(text: &str, max: usize) -> Result<Vec<u8>, DecodeError> {
    // Reject before decoding so an oversized field costs nothing.
    if text.len() > max.saturating_mul(4) / 3 + 4 {
        return Err(DecodeError::TooLong);
    }
    let bytes = BASE64URL_NOPAD.decode(text.as_bytes()).map_err(|_| DecodeError::BadText)?;
    if bytes.len() > max {
        return Err(DecodeError::TooLong);
    }
    Ok(bytes)
}

/// Decodes base64url (no padding) into exactly `N` bytes.
pub fn b64_decode_array<const N: usize>(text: &str) -> Result<[u8; N], DecodeError> {
    let bytes = b64_decode(text, N).map_err(|e| match e {
        DecodeError::TooLong => DecodeError::WrongLength,
        other => other,
    })?;
    <[u8; N]>::try_from(bytes.as_slice()).map_err(|_| DecodeError::WrongLength)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_lengths() {
        let text = b64_encode(&[7u8; 32]);
        assert_eq!(b64_decode_array::<32>(&text).unwrap(), [7u8; 32]);
        assert_eq!(b64_decode_array::<31>(&text).unwrap_err(), DecodeError::WrongLength);
        assert_eq!(b64_decode_array::<33>(&text).unwrap_err(), DecodeError::WrongLength);
        assert_eq!(b64_decode("a+b/", 10).unwrap_err(), DecodeError::BadText);
        assert_eq!(b64_decode("AAAA=", 10).unwrap_err(), DecodeError::BadText);
    }
}
