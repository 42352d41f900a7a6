//! The server's long-term X25519 key `S`, its id, and sealing to it.
//!
//! `S` is derived from the server's key file (one secret to keep, back up
//! and protect), so a server's id is as stable as its key. Members learn
//! `S_pk` when they register and seal to it what only the server may read:
//! the registration (which names the duress key) and key rotations. The id
//! is bound into every heartbeat and request signature, so nothing signed
//! for one server is accepted by another.

use crate::at_rest::ServerKey;
use crate::encoding::{labels, Writer};
use crate::error::Error;
use crate::hash::{hkdf_sha256, sha256};
use crate::ids::ServerId;
use crate::keys::{EncryptionPublic, EncryptionSecret, PUBLIC_KEY_LEN};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

/// Bytes sealing adds: the ephemeral public key and the AEAD tag.
pub const SEAL_OVERHEAD: usize = PUBLIC_KEY_LEN + 16;

/// `server_id = SHA-256("aman/v2/server-id" 0x00 0x02 || S_pk)[0..16]`.
pub fn server_id(public: &EncryptionPublic) -> ServerId {
    let digest = sha256(&Writer::v2(labels::SERVER_ID).fixed(public.as_bytes()).finish());
    let mut id = [0u8; 16];
    id.copy_from_slice(&digest[..16]);
    ServerId::from_bytes(id)
}

/// The server's X25519 key pair and id. No `Debug`, `Clone` or `Serialize`.
pub struct ServerIdentity {
    secret: EncryptionSecret,
    public: EncryptionPublic,
    id: ServerId,
}

impl ServerIdentity {
    /// `S = HKDF-SHA256(salt = "", ikm = key file, info = "aman/v2/server-x25519")`.
    pub fn derive(key: &ServerKey) -> Self {
        let secret = EncryptionSecret::from_bytes(key.subkey(labels::SERVER_X25519));
        let public = secret.public();
        ServerIdentity { id: server_id(&public), public, secret }
    }

    /// `S_pk`, published to members.
    pub fn public(&self) -> EncryptionPublic {
        self.public
    }

    /// The server id.
    pub fn id(&self) -> ServerId {
        self.id
    }

    /// Opens what [`seal_to_server`] sealed to this server with the same
    /// `context`. Every failure is [`Error::DecryptionFailed`].
    pub fn open(&self, context: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        let (eph, ct) = sealed.split_at_checked(PUBLIC_KEY_LEN).ok_or(Error::DecryptionFailed)?;
        let mut eph_bytes = [0u8; PUBLIC_KEY_LEN];
        eph_bytes.copy_from_slice(eph);
        let eph = EncryptionPublic(eph_bytes);
        let shared = self.secret.diffie_hellman(&eph).map_err(|_| Error::DecryptionFailed)?;
        let key = seal_key(&eph, &self.public, &shared);
        XChaCha20Poly1305::new(key.as_ref().into())
            .decrypt(XNonce::from_slice(&[0; 24]), Payload { msg: ct, aad: &seal_aad(&self.id, context) })
            .map(Zeroizing::new)
            .map_err(|_| Error::DecryptionFailed)
    }
}

fn seal_key(eph: &EncryptionPublic, server: &EncryptionPublic, shared: &[u8; 32]) -> Zeroizing<[u8; 32]> {
    let mut salt = [0u8; 2 * PUBLIC_KEY_LEN];
    salt[..PUBLIC_KEY_LEN].copy_from_slice(eph.as_bytes());
    salt[PUBLIC_KEY_LEN..].copy_from_slice(server.as_bytes());
    hkdf_sha256::<32>(&salt, shared, labels::SEAL_TO_SERVER.as_bytes())
}

fn seal_aad(id: &ServerId, context: &[u8]) -> Vec<u8> {
    Writer::v2(labels::SEAL_TO_SERVER).fixed(id.as_bytes()).fixed(context).finish()
}

/// Seals `message` to the server whose public key is `server`:
/// `e_pk || XChaCha20-Poly1305(k, 24 zero bytes, aad, message)` with a fresh
/// X25519 key `e`, `k = HKDF-SHA256(salt = e_pk || S_pk, ikm = X25519(e, S_pk),
/// info = "aman/v2/seal")` and `aad = "aman/v2/seal" 0x00 0x02 || server_id ||
/// context`. The zero nonce is safe because `k` is new for every message.
pub fn seal_to_server(server: &EncryptionPublic, context: &[u8], message: &[u8]) -> Result<Vec<u8>, Error> {
    seal_to_server_with(EncryptionSecret::generate()?, server, context, message)
}

/// [`seal_to_server`] with a given ephemeral key (known-answer tests).
pub(crate) fn seal_to_server_with(
    eph: EncryptionSecret,
    server: &EncryptionPublic,
    context: &[u8],
    message: &[u8],
) -> Result<Vec<u8>, Error> {
    let eph_pk = eph.public();
    let shared = eph.diffie_hellman(server)?;
    let key = seal_key(&eph_pk, server, &shared);
    let ct = XChaCha20Poly1305::new(key.as_ref().into())
        .encrypt(XNonce::from_slice(&[0; 24]), Payload { msg: message, aad: &seal_aad(&server_id(server), context) })
        .map_err(|_| Error::InvalidArgument("sealing to the server"))?;
    let mut out = Vec::with_capacity(SEAL_OVERHEAD + message.len());
    out.extend_from_slice(eph_pk.as_bytes());
    out.extend_from_slice(&ct);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_opens_only_at_its_server_with_its_context() {
        let a = ServerIdentity::derive(&ServerKey::generate().unwrap());
        let b = ServerIdentity::derive(&ServerKey::generate().unwrap());
        assert_ne!(a.id(), b.id());
        let sealed = seal_to_server(&a.public(), b"ctx", b"hello").unwrap();
        assert_eq!(sealed.len(), 5 + SEAL_OVERHEAD);
        assert_eq!(a.open(b"ctx", &sealed).unwrap().as_slice(), b"hello");
        assert_eq!(a.open(b"other", &sealed).unwrap_err(), Error::DecryptionFailed);
        assert_eq!(b.open(b"ctx", &sealed).unwrap_err(), Error::DecryptionFailed);
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 1;
            assert!(a.open(b"ctx", &t).is_err(), "flip at {i}");
        }
        assert!(a.open(b"ctx", &sealed[..10]).is_err());
        // A low-order ephemeral key is refused, not opened under a known key.
        let mut low = sealed.clone();
        low[..32].fill(0);
        assert_eq!(a.open(b"ctx", &low).unwrap_err(), Error::DecryptionFailed);
    }

    #[test]
    fn identity_is_stable_for_one_key_file() {
        let bytes = Zeroizing::new([7u8; 32]);
        let one = ServerIdentity::derive(&ServerKey::from_bytes(bytes.clone()));
        let two = ServerIdentity::derive(&ServerKey::from_bytes(bytes));
        assert_eq!(one.public(), two.public());
        assert_eq!(one.id(), server_id(&two.public()));
    }
}
