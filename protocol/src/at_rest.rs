//! Server-side encryption at rest.
//!
//! The server keeps a 32-byte key in a file apart from its database. It
//! encrypts what a seized database must not reveal (notification addresses,
//! an alert's reason) and derives the tag that says which stored check-in key
//! is the duress key. The server never sees a plaintext note: this key only
//! ever protects the server's own metadata.

use crate::encoding::Writer;
use crate::error::Error;
use crate::random::random_array;
use crate::secretbox;
use ring::hmac;
use zeroize::Zeroizing;

pub use crate::encoding::labels::{AT_REST as AT_REST_LABEL, DURESS_TAG as DURESS_TAG_LABEL};

/// The server's at-rest key. No `Debug`, `Clone` or `Serialize`.
pub struct ServerKey {
    bytes: Zeroizing<[u8; 32]>,
}

impl ServerKey {
    /// A fresh key.
    pub fn generate() -> Result<Self, Error> {
        Ok(ServerKey { bytes: Zeroizing::new(random_array()?) })
    }

    /// Rebuilds the key from its file contents.
    pub fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Self {
        ServerKey { bytes }
    }

    /// The key bytes, for writing its file.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(*self.bytes)
    }

    fn aad(context: &[u8]) -> Vec<u8> {
        Writer::new(AT_REST_LABEL).var(context).finish()
    }

    /// Encrypts `plaintext`, bound to `context` (for example the record's key),
    /// as a [`crate::secretbox`]: `nonce[24] || ciphertext || tag[16]`.
    pub fn encrypt(&self, context: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        secretbox::seal(&self.bytes, &Self::aad(context), plaintext)
    }

    /// Decrypts what [`ServerKey::encrypt`] produced for the same `context`.
    pub fn decrypt(&self, context: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        secretbox::open(&self.bytes, &Self::aad(context), sealed)
    }

    /// A 32-byte subkey for one purpose, `HKDF-SHA256(salt = "", ikm = key,
    /// info = label)`: the key file stays one secret while each use gets its own.
    pub fn subkey(&self, label: &str) -> Zeroizing<[u8; 32]> {
        crate::hash::hkdf_sha256::<32>(&[], self.bytes.as_ref(), label.as_bytes())
    }

    /// HMAC-SHA256 tag over a canonical encoding of `parts`, under `label`.
    pub fn tag(&self, label: &str, parts: &[&[u8]]) -> [u8; 32] {
        let mut w = Writer::new(label);
        for p in parts {
            w = w.var(p);
        }
        let key = hmac::Key::new(hmac::HMAC_SHA256, self.bytes.as_ref());
        let mut out = [0u8; 32];
        out.copy_from_slice(hmac::sign(&key, &w.finish()).as_ref());
        out
    }

    /// Constant-time comparison of a tag.
    pub fn verify_tag(&self, label: &str, parts: &[&[u8]], tag: &[u8; 32]) -> bool {
        let expected = self.tag(label, parts);
        subtle::ConstantTimeEq::ct_eq(&expected[..], &tag[..]).into()
    }
}

/// HMAC-SHA256 with an arbitrary key, as used to sign webhook bodies.
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut out = [0u8; 32];
    out.copy_from_slice(hmac::sign(&key, message).as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_context_bound_and_tags() {
        let k = ServerKey::generate().unwrap();
        let ct = k.encrypt(b"ctx", b"mailto:a@b").unwrap();
        assert_eq!(k.decrypt(b"ctx", &ct).unwrap().as_slice(), b"mailto:a@b");
        assert!(k.decrypt(b"other", &ct).is_err());
        assert!(ServerKey::generate().unwrap().decrypt(b"ctx", &ct).is_err());
        let t = k.tag(DURESS_TAG_LABEL, &[b"a", b"b"]);
        assert!(k.verify_tag(DURESS_TAG_LABEL, &[b"a", b"b"], &t));
        assert!(!k.verify_tag(DURESS_TAG_LABEL, &[b"ab", b""], &t));
    }
}
