//! Canonical binary encoding.
//!
//! Everything that is signed, MACed, hashed or used as AAD is encoded as
//! `label || 0x00 || version || fields`: fixed-size fields raw, integers as
//! u64 big-endian, variable fields as `u32 BE length || bytes`. The reader is
//! strict: wrong label, unknown version, short input, over-long fields and
//! trailing bytes are all errors. There is exactly one encoding of each value,
//! so "parse then re-encode" is the identity and signatures never depend on a
//! serializer's whims.

use crate::error::DecodeError;

/// The version byte of the formats that did not change in version 2
/// (sealed alerts, invites, enrollments, at-rest values, safety numbers).
pub const VERSION: u8 = 1;
/// The version byte of the check-in v2 formats (heartbeat, mode proof,
/// registration, key rotation, requests, sealing to the server).
pub const VERSION_2: u8 = 2;

/// Builds one canonical encoding.
#[derive(Debug)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// Starts a version-1 encoding with its label, separator and version byte.
    pub fn new(label: &str) -> Self {
        Self::versioned(label, VERSION)
    }

    /// Starts a version-2 encoding.
    pub fn v2(label: &str) -> Self {
        Self::versioned(label, VERSION_2)
    }

    /// Starts an encoding of either version (for code shared by formats of both).
    pub(crate) fn versioned(label: &str, version: u8) -> Self {
        let mut buf = Vec::with_capacity(label.len() + 2 + 128);
        buf.extend_from_slice(label.as_bytes());
        buf.push(0);
        buf.push(version);
        Writer { buf }
    }

    /// Appends a fixed-size field.
    pub fn fixed(mut self, bytes: &[u8]) -> Self {
        self.buf.extend_from_slice(bytes);
        self
    }

    /// Appends an unsigned integer as u64 big-endian.
    pub fn u64(mut self, value: u64) -> Self {
        self.buf.extend_from_slice(&value.to_be_bytes());
        self
    }

    /// Appends a variable-length field as `u32 BE length || bytes`.
    ///
    /// Callers bound lengths far below `u32::MAX` before they get here; the
    /// saturating conversion only exists so this function cannot panic.
    pub fn var(mut self, bytes: &[u8]) -> Self {
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(bytes);
        self
    }

    /// Returns the encoded bytes.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Reads one canonical encoding strictly.
#[derive(Debug)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Checks the label, separator and version 1, and positions after them.
    pub fn new(input: &'a [u8], label: &str) -> Result<Self, DecodeError> {
        Self::versioned(input, label, VERSION)
    }

    /// Checks the label, separator and version 2, and positions after them.
    pub fn v2(input: &'a [u8], label: &str) -> Result<Self, DecodeError> {
        Self::versioned(input, label, VERSION_2)
    }

    /// Checks the label, separator and version `expected` (for code shared by formats of both).
    pub(crate) fn versioned(input: &'a [u8], label: &str, expected: u8) -> Result<Self, DecodeError> {
        let label = label.as_bytes();
        let header_len = label.len() + 1;
        let Some(head) = input.get(..header_len) else {
            return Err(if label.starts_with(input) { DecodeError::Truncated } else { DecodeError::WrongLabel });
        };
        if &head[..label.len()] != label || head[label.len()] != 0 {
            return Err(DecodeError::WrongLabel);
        }
        let Some((&version, rest)) = input[header_len..].split_first() else {
            return Err(DecodeError::Truncated);
        };
        if version != expected {
            return Err(DecodeError::UnknownVersion(version));
        }
        Ok(Reader { rest })
    }

    /// Reads a fixed-size field.
    pub fn fixed<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let bytes = self.take(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Reads a u64 big-endian integer.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(self.fixed::<8>()?))
    }

    /// Reads a variable-length field of at most `max` bytes.
    pub fn var(&mut self, max: usize) -> Result<&'a [u8], DecodeError> {
        let len = u32::from_be_bytes(self.fixed::<4>()?) as usize;
        if len > max {
            return Err(DecodeError::TooLong);
        }
        self.take(len)
    }

    /// Reads everything that is left (for a final field whose length is implied).
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.rest)
    }

    /// Whether every byte was consumed (for a trailing optional part).
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Fails unless every byte was consumed.
    pub fn finish(self) -> Result<(), DecodeError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes)
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.rest.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }
}

/// The labels of every format, in one place so none is ever reused.
pub mod labels {
    /// A member's public heartbeat, signed by the identity `ID` (version 2).
    pub const HEARTBEAT: &str = "aman/v2/heartbeat";
    /// What a check-in key signs over a public heartbeat (version 2).
    pub const MODE_PROOF: &str = "aman/v2/mode-proof";
    /// AAD of the box that carries the mode proof to the server (version 2).
    pub const PROOF_BOX: &str = "aman/v2/proof-box";
    /// A signed API request, naming the server (version 2).
    pub const REQUEST: &str = "aman/v2/request";
    /// A registration, signed by `ID` and sealed to the server (version 2).
    pub const REGISTER: &str = "aman/v2/register";
    /// What an old check-in key signs to name its successor (version 2).
    pub const KEY_SUCCESSION: &str = "aman/v2/key-succession";
    /// HKDF info and AAD of a message sealed to the server's X25519 key (version 2).
    pub const SEAL_TO_SERVER: &str = "aman/v2/seal";
    /// The server id, a hash of the server's X25519 public key (version 2).
    pub const SERVER_ID: &str = "aman/v2/server-id";
    /// HKDF info of the server's X25519 secret, derived from its key file.
    pub const SERVER_X25519: &str = "aman/v2/server-x25519";
    /// HKDF info of a member's transport key `K_tr` for one server.
    pub const TRANSPORT_KEY: &str = "aman/v2/transport-key";
    /// A sealed alert's header (also its AAD).
    pub const ALERT: &str = "aman/v1/alert";
    /// The plaintext body inside a sealed alert.
    pub const ALERT_BODY: &str = "aman/v1/alert-body";
    /// What the member identity signs for an alert body.
    pub const ALERT_SIGNATURE: &str = "aman/v1/alert-sig";
    /// HKDF info and AAD for a per-recipient key wrap.
    pub const X25519_WRAP: &str = "aman/v1/x25519-wrap";
    /// A contact pairing invite code.
    pub const INVITE: &str = "aman/v1/invite";
    /// The encrypted enrollment reply of a contact.
    pub const ENROLL: &str = "aman/v1/enroll";
    /// What a contact's identity signs in its enrollment reply.
    pub const ENROLL_SIGNATURE: &str = "aman/v1/enroll-sig";
    /// The replacement of both check-in keys by succession (version 2).
    pub const KEY_ROTATION: &str = "aman/v2/key-rotation";
    /// Server-side encryption at rest (AAD of at-rest values).
    pub const AT_REST: &str = "aman/v1/at-rest";
    /// The server's tag marking which stored check-in key is the duress key.
    pub const DURESS_TAG: &str = "aman/v1/duress-tag";
    /// Safety number derivation.
    pub const FINGERPRINT: &str = "aman/v1/fingerprint";
    /// HKDF info of a contact's per-membership keys.
    pub const CONTACT_KEYS: &str = "aman/v1/contact-keys";
    /// HKDF info of the key that seals a server's backups.
    pub const BACKUP: &str = "aman/v1/backup";
    /// A sealed server directory's header, also its AAD (version 2).
    pub const DIRECTORY: &str = "aman/v2/sealed-directory";
    /// The plaintext body inside a sealed server directory (version 2).
    pub const DIRECTORY_BODY: &str = "aman/v2/directory";
    /// What the member identity signs for a server directory body (version 2).
    pub const DIRECTORY_SIGNATURE: &str = "aman/v2/directory-sig";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        let bytes = Writer::new("t").u64(7).fixed(&[1, 2]).var(b"abc").finish();
        assert_eq!(bytes, [b't', 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 1, 2, 0, 0, 0, 3, b'a', b'b', b'c']);
        let mut r = Reader::new(&bytes, "t").unwrap();
        assert_eq!(r.u64().unwrap(), 7);
        assert_eq!(r.fixed::<2>().unwrap(), [1, 2]);
        assert_eq!(r.var(3).unwrap(), b"abc");
        r.finish().unwrap();

        assert_eq!(Reader::new(&bytes, "u").unwrap_err(), DecodeError::WrongLabel);
        assert_eq!(Reader::new(b"t", "t").unwrap_err(), DecodeError::Truncated);
        assert_eq!(Reader::new(b"t\0\x02", "t").unwrap_err(), DecodeError::UnknownVersion(2));
        let mut r = Reader::new(&bytes, "t").unwrap();
        r.u64().unwrap();
        r.fixed::<2>().unwrap();
        assert_eq!(r.var(2).unwrap_err(), DecodeError::TooLong);
        let mut longer = bytes.clone();
        longer.push(0);
        let mut r = Reader::new(&longer, "t").unwrap();
        r.u64().unwrap();
        r.fixed::<2>().unwrap();
        r.var(3).unwrap();
        assert_eq!(r.finish().unwrap_err(), DecodeError::TrailingBytes);
    }

    #[test]
    fn labels_are_unique() {
        let all = [
            labels::HEARTBEAT,
            labels::MODE_PROOF,
            labels::PROOF_BOX,
            labels::REQUEST,
            labels::REGISTER,
            labels::KEY_SUCCESSION,
            labels::SEAL_TO_SERVER,
            labels::SERVER_ID,
            labels::SERVER_X25519,
            labels::TRANSPORT_KEY,
            labels::ALERT,
            labels::ALERT_BODY,
            labels::ALERT_SIGNATURE,
            labels::X25519_WRAP,
            labels::INVITE,
            labels::ENROLL,
            labels::ENROLL_SIGNATURE,
            labels::KEY_ROTATION,
            labels::AT_REST,
            labels::DURESS_TAG,
            labels::FINGERPRINT,
            labels::CONTACT_KEYS,
            labels::BACKUP,
            labels::DIRECTORY,
            labels::DIRECTORY_BODY,
            labels::DIRECTORY_SIGNATURE,
        ];
        for (i, a) in all.iter().enumerate() {
            assert!(
                (a.starts_with("aman/v1/") || a.starts_with("aman/v2/")) && a.is_ascii() && !a.contains('\0'),
                "{a}"
            );
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn label_prefix_is_not_a_match() {
        // "aman/v1/alert" must not accept "aman/v1/alert-body" and vice versa.
        let body = Writer::new(labels::ALERT_BODY).finish();
        assert_eq!(Reader::new(&body, labels::ALERT).unwrap_err(), DecodeError::WrongLabel);
    }
}
