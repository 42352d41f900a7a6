//! Signed API requests.
//!
//! Every API call but a check-in is signed by the caller's identity key over
//! the server's id, the method, the path (with query), SHA-256 of the exact
//! body bytes, the caller id, the time and a random nonce. Naming the server
//! means a request made for one server is refused by every other. The server checks the time window and keeps a replay
//! cache of nonces; it stores public keys only, so a seized database holds no
//! bearer secret.

use crate::encoding::{labels, Reader, Writer};
use crate::error::{DecodeError, Error};
use crate::hash::sha256;
use crate::ids::ServerId;
use crate::keys::{Signature, SigningKey, VerifyingKey};
use crate::random::random_array;
use crate::text::{b64_decode_array, b64_encode};

/// HTTP header carrying the caller id (32 hex digits).
pub const HEADER_CALLER: &str = "aman-caller";
/// HTTP header carrying the request time (unix seconds, decimal).
pub const HEADER_TIME: &str = "aman-time";
/// HTTP header carrying the nonce (base64url, 16 bytes).
pub const HEADER_NONCE: &str = "aman-nonce";
/// HTTP header carrying the signature (base64url, 64 bytes).
pub const HEADER_SIGNATURE: &str = "aman-signature";

/// Longest method accepted.
pub const MAX_METHOD_LEN: usize = 16;
/// Longest path (with query) accepted.
pub const MAX_PATH_LEN: usize = 1024;

/// The signed fields of one API request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAuth {
    /// The server the request is for.
    pub server: ServerId,
    /// HTTP method, upper case.
    pub method: String,
    /// Path and query exactly as sent, e.g. `/v1/account/policy`.
    pub path: String,
    /// SHA-256 of the body bytes (of the empty string for no body).
    pub body_sha256: [u8; 32],
    /// The caller: an account id or a mailbox id, raw bytes.
    pub caller: [u8; 16],
    /// Unix seconds when the request was made.
    pub time: u64,
    /// 16 random bytes; the server refuses a nonce it has seen in the window.
    pub nonce: [u8; 16],
}

/// The header values a client sends with a signed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthHeaders {
    /// Value of [`HEADER_CALLER`].
    pub caller: String,
    /// Value of [`HEADER_TIME`].
    pub time: String,
    /// Value of [`HEADER_NONCE`].
    pub nonce: String,
    /// Value of [`HEADER_SIGNATURE`].
    pub signature: String,
}

impl RequestAuth {
    /// Fields for a new request with a fresh nonce.
    pub fn new(
        server: ServerId,
        method: &str,
        path: &str,
        body: &[u8],
        caller: [u8; 16],
        time: u64,
    ) -> Result<Self, Error> {
        if method.len() > MAX_METHOD_LEN || path.len() > MAX_PATH_LEN {
            return Err(Error::InvalidArgument("method or path too long"));
        }
        Ok(RequestAuth {
            server,
            method: method.to_owned(),
            path: path.to_owned(),
            body_sha256: sha256(body),
            caller,
            time,
            nonce: random_array()?,
        })
    }

    /// The canonical encoding that is signed.
    pub fn encode(&self) -> Vec<u8> {
        Writer::v2(labels::REQUEST)
            .fixed(self.server.as_bytes())
            .var(self.method.as_bytes())
            .var(self.path.as_bytes())
            .fixed(&self.body_sha256)
            .fixed(&self.caller)
            .u64(self.time)
            .fixed(&self.nonce)
            .finish()
    }

    /// Parses a canonical encoding (used by fuzzing and by tools that log raw requests).
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::v2(bytes, labels::REQUEST)?;
        let server = ServerId::from_bytes(r.fixed()?);
        let method = std::str::from_utf8(r.var(MAX_METHOD_LEN)?).map_err(|_| DecodeError::InvalidValue)?;
        let path = std::str::from_utf8(r.var(MAX_PATH_LEN)?).map_err(|_| DecodeError::InvalidValue)?;
        let auth = RequestAuth {
            server,
            method: method.to_owned(),
            path: path.to_owned(),
            body_sha256: r.fixed()?,
            caller: r.fixed()?,
            time: r.u64()?,
            nonce: r.fixed()?,
        };
        r.finish()?;
        Ok(auth)
    }

    /// Signs and renders the four header values.
    pub fn sign(&self, key: &SigningKey) -> AuthHeaders {
        let sig = key.sign(&self.encode());
        AuthHeaders {
            caller: data_encoding::HEXLOWER.encode(&self.caller),
            time: self.time.to_string(),
            nonce: b64_encode(&self.nonce),
            signature: b64_encode(&sig.0),
        }
    }

    /// Rebuilds the signed fields from what server `server` received and
    /// returns them with the signature, ready for [`RequestAuth::verify`].
    pub fn from_headers(
        server: ServerId,
        method: &str,
        path: &str,
        body: &[u8],
        headers: &AuthHeaders,
    ) -> Result<(Self, Signature), DecodeError> {
        if method.len() > MAX_METHOD_LEN || path.len() > MAX_PATH_LEN {
            return Err(DecodeError::TooLong);
        }
        if headers.caller.len() != 32 {
            return Err(DecodeError::BadText);
        }
        let caller_bytes =
            data_encoding::HEXLOWER.decode(headers.caller.as_bytes()).map_err(|_| DecodeError::BadText)?;
        let caller = <[u8; 16]>::try_from(caller_bytes.as_slice()).map_err(|_| DecodeError::BadText)?;
        // Decimal digits only: no sign, no whitespace, no leading '+'.
        if headers.time.is_empty() || headers.time.len() > 20 || !headers.time.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DecodeError::BadText);
        }
        let time = headers.time.parse().map_err(|_| DecodeError::BadText)?;
        let auth = RequestAuth {
            server,
            method: method.to_owned(),
            path: path.to_owned(),
            body_sha256: sha256(body),
            caller,
            time,
            nonce: b64_decode_array(&headers.nonce)?,
        };
        Ok((auth, Signature(b64_decode_array(&headers.signature)?)))
    }

    /// Verifies the signature with the caller's key.
    pub fn verify(&self, key: &VerifyingKey, sig: &Signature) -> Result<(), Error> {
        key.verify(&self.encode(), sig)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_and_verify_through_headers() {
        let key = SigningKey::generate().unwrap();
        let server = ServerId::from_bytes([7; 16]);
        let auth = RequestAuth::new(server, "POST", "/v1/panic", b"{}", [3; 16], 1_700_000_000).unwrap();
        let headers = auth.sign(&key);
        let (back, sig) = RequestAuth::from_headers(server, "POST", "/v1/panic", b"{}", &headers).unwrap();
        assert_eq!(back, auth);
        back.verify(&key.verifying_key(), &sig).unwrap();
        assert_eq!(RequestAuth::decode(&auth.encode()).unwrap(), auth);

        for (m, p, b) in
            [("GET", "/v1/panic", &b"{}"[..]), ("POST", "/v1/account", b"{}"), ("POST", "/v1/panic", b"{ }")]
        {
            let (other, sig) = RequestAuth::from_headers(server, m, p, b, &headers).unwrap();
            assert_eq!(other.verify(&key.verifying_key(), &sig), Err(Error::BadSignature));
        }
        // The same request received by another server does not verify there.
        let elsewhere = ServerId::from_bytes([8; 16]);
        let (other, sig) = RequestAuth::from_headers(elsewhere, "POST", "/v1/panic", b"{}", &headers).unwrap();
        assert_eq!(other.verify(&key.verifying_key(), &sig), Err(Error::BadSignature));
        let mut bad_time = headers.clone();
        bad_time.time = "+1".into();
        assert!(RequestAuth::from_headers(server, "POST", "/v1/panic", b"{}", &bad_time).is_err());
    }
}
