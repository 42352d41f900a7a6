//! Symmetric authenticated encryption with a random nonce:
//! `nonce[24] || XChaCha20-Poly1305(key, nonce, aad, plaintext)`.
//!
//! Used for the client keystore and the server's at-rest values, so that no
//! other crate handles an AEAD directly.

use crate::error::Error;
use crate::random::random_array;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

/// Bytes a sealed box adds to its plaintext.
pub const OVERHEAD: usize = 24 + 16;

/// Encrypts `plaintext` under `key`, bound to `aad`.
pub fn seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
    seal_with_nonce(key, aad, plaintext, random_array()?)
}

/// [`seal`] with a given nonce: for formats whose known answers are frozen.
pub(crate) fn seal_with_nonce(key: &[u8; 32], aad: &[u8], plaintext: &[u8], nonce: [u8; 24]) -> Result<Vec<u8>, Error> {
    let ct = XChaCha20Poly1305::new(key.into())
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad })
        .map_err(|_| Error::InvalidArgument("secretbox encryption"))?;
    let mut out = Vec::with_capacity(OVERHEAD + plaintext.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    Ok(out)
}

/// Decrypts what [`seal`] produced with the same key and `aad`.
pub fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    let (nonce, ct) = sealed.split_at_checked(24).ok_or(Error::DecryptionFailed)?;
    XChaCha20Poly1305::new(key.into())
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad })
        .map(Zeroizing::new)
        .map_err(|_| Error::DecryptionFailed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let k = [7u8; 32];
        let s = seal(&k, b"aad", b"secret").unwrap();
        assert_eq!(s.len(), 6 + OVERHEAD);
        assert_eq!(open(&k, b"aad", &s).unwrap().as_slice(), b"secret");
        assert!(open(&k, b"other", &s).is_err());
        assert!(open(&[8u8; 32], b"aad", &s).is_err());
        assert!(open(&k, b"aad", &s[..20]).is_err());
    }
}
