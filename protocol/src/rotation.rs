//! Key rotation by succession (version 2).
//!
//! Each slot's current check-in key signs its own successor, so a new key
//! takes the role of the key it succeeds (the server knows that role by its
//! tag) whatever order the passphrases were typed in, and a captor who
//! holds one slot cannot rotate. The identity `ID` signs the whole.
//!
//! ```text
//! succession_s = "aman/v2/key-succession" 0x00 0x02 || server_id[16] || account[16]
//!                || u64 generation || old_pk_s[32] || new_pk_s[32]
//! rotation     = "aman/v2/key-rotation" 0x00 0x02 || server_id[16] || account[16]
//!                || u64 generation || u64 created
//!                || 2 × (old_pk[32] || new_pk[32] || Ed25519(old CK_s, succession_s)[64])  (ascending new_pk)
//!                || Ed25519(ID, all of the above)[64]
//! sent as seal_to_server(S_pk, context = "aman/v2/key-rotation", rotation)
//! ```
//!
//! `generation` is the generation the new keys will have: one more than the
//! account's current one.

use crate::encoding::{labels, Reader, Writer};
use crate::error::{DecodeError, Error};
use crate::ids::{AccountId, ServerId};
use crate::keys::{split_signature, Signature, SigningKey, VerifyingKey, SIGNATURE_LEN};

/// Length of a signed rotation before sealing.
pub const ROTATION_LEN: usize = labels::KEY_ROTATION.len() + 2 + 16 + 16 + 8 + 8 + 2 * (32 + 32 + 64) + SIGNATURE_LEN;

/// One old check-in key naming its successor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Succession {
    /// The current key.
    pub old: VerifyingKey,
    /// The key that takes its role.
    pub new: VerifyingKey,
    /// `Ed25519(old, succession)`.
    pub signature: Signature,
}

/// A verified rotation of both check-in keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRotation {
    /// The server it is for.
    pub server: ServerId,
    /// The account.
    pub account: AccountId,
    /// The generation of the new keys.
    pub generation: u64,
    /// When the member made it (unix seconds).
    pub created: u64,
    /// Both successions, in ascending byte order of the new key.
    pub successions: [Succession; 2],
}

fn succession_message(
    server: &ServerId,
    account: &AccountId,
    generation: u64,
    old: &VerifyingKey,
    new: &VerifyingKey,
) -> Vec<u8> {
    Writer::v2(labels::KEY_SUCCESSION)
        .fixed(server.as_bytes())
        .fixed(account.as_bytes())
        .u64(generation)
        .fixed(old.as_bytes())
        .fixed(new.as_bytes())
        .finish()
}

impl KeyRotation {
    /// Builds a rotation: each `(old, new)` pair is one slot's current key and
    /// its successor, in any order.
    pub fn build(
        server: ServerId,
        account: AccountId,
        generation: u64,
        created: u64,
        slots: [(&SigningKey, &VerifyingKey); 2],
    ) -> Self {
        let mut successions = slots.map(|(old, new)| Succession {
            old: old.verifying_key(),
            new: *new,
            signature: old.sign(&succession_message(&server, &account, generation, &old.verifying_key(), new)),
        });
        successions.sort_by_key(|s| s.new.0);
        KeyRotation { server, account, generation, created, successions }
    }

    fn encode_unsigned(&self) -> Vec<u8> {
        let mut w = Writer::v2(labels::KEY_ROTATION)
            .fixed(self.server.as_bytes())
            .fixed(self.account.as_bytes())
            .u64(self.generation)
            .u64(self.created);
        for s in &self.successions {
            w = w.fixed(s.old.as_bytes()).fixed(s.new.as_bytes()).fixed(&s.signature.0);
        }
        w.finish()
    }

    /// Whether any two of the identity, the old and the new keys are equal.
    fn keys_repeat(&self, identity: &VerifyingKey) -> bool {
        let [a, b] = self.successions;
        let keys = [*identity, a.old, a.new, b.old, b.new];
        keys.iter().enumerate().any(|(i, k)| keys[i + 1..].contains(k))
    }

    /// Signs with `ID`; returns `encoding || signature` ([`ROTATION_LEN`] bytes).
    pub fn sign(&self, identity: &SigningKey) -> Result<Vec<u8>, Error> {
        if self.keys_repeat(&identity.verifying_key()) {
            return Err(Error::InvalidArgument("rotation keys must be pairwise different"));
        }
        Ok(identity.sign_appended(self.encode_unsigned()))
    }

    /// Parses strictly and verifies the identity's signature and both
    /// successions. The pairs must be in strictly ascending order of the new
    /// key; the identity, old and new keys must be pairwise different.
    pub fn verify(bytes: &[u8], identity: &VerifyingKey) -> Result<Self, Error> {
        let (body, sig) = split_signature(bytes)?;
        let mut r = Reader::v2(body, labels::KEY_ROTATION)?;
        let server = ServerId::from_bytes(r.fixed()?);
        let account = AccountId::from_bytes(r.fixed()?);
        let generation = r.u64()?;
        let created = r.u64()?;
        let mut read = || -> Result<Succession, DecodeError> {
            Ok(Succession {
                old: VerifyingKey(r.fixed()?),
                new: VerifyingKey(r.fixed()?),
                signature: Signature(r.fixed()?),
            })
        };
        let successions = [read()?, read()?];
        r.finish()?;
        let rotation = KeyRotation { server, account, generation, created, successions };
        if successions[0].new.0 >= successions[1].new.0 || rotation.keys_repeat(identity) {
            return Err(DecodeError::InvalidValue.into());
        }
        identity.verify(body, &sig)?;
        for s in &successions {
            s.old.verify(&succession_message(&server, &account, generation, &s.old, &s.new), &s.signature)?;
        }
        Ok(rotation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_old_key_must_sign_its_successor() {
        let id = SigningKey::generate().unwrap();
        let keys: Vec<_> = (0..5).map(|_| SigningKey::generate().unwrap()).collect();
        let (old_a, old_b, new_a, new_b, stranger) = (&keys[0], &keys[1], &keys[2], &keys[3], &keys[4]);
        let (server, account) = (ServerId::from_bytes([1; 16]), AccountId::from_bytes([2; 16]));
        let rot = KeyRotation::build(
            server,
            account,
            1,
            9,
            [(old_a, &new_a.verifying_key()), (old_b, &new_b.verifying_key())],
        );
        let signed = rot.sign(&id).unwrap();
        assert_eq!(signed.len(), ROTATION_LEN);
        let back = KeyRotation::verify(&signed, &id.verifying_key()).unwrap();
        assert_eq!(back, rot);
        let pairs: Vec<_> = back.successions.iter().map(|s| (s.old, s.new)).collect();
        assert!(pairs.contains(&(old_a.verifying_key(), new_a.verifying_key())));
        assert!(pairs.contains(&(old_b.verifying_key(), new_b.verifying_key())));
        // The typed order does not show in the bytes.
        let swapped = KeyRotation::build(
            server,
            account,
            1,
            9,
            [(old_b, &new_b.verifying_key()), (old_a, &new_a.verifying_key())],
        );
        assert_eq!(swapped.sign(&id).unwrap(), signed);

        for i in 0..signed.len() {
            let mut t = signed.clone();
            t[i] ^= 1;
            assert!(KeyRotation::verify(&t, &id.verifying_key()).is_err(), "flip at {i}");
        }
        assert!(KeyRotation::verify(&signed, &stranger.verifying_key()).is_err());
        // A succession signed by a stranger instead of the old key.
        let mut forged = KeyRotation::build(
            server,
            account,
            1,
            9,
            [(stranger, &new_a.verifying_key()), (old_b, &new_b.verifying_key())],
        );
        for s in forged.successions.iter_mut().filter(|s| s.old == stranger.verifying_key()) {
            s.old = old_a.verifying_key();
        }
        assert_eq!(
            KeyRotation::verify(&forged.sign(&id).unwrap(), &id.verifying_key()).unwrap_err(),
            Error::BadSignature
        );
        // New keys equal to an old key or to ID.
        let reuse = KeyRotation::build(
            server,
            account,
            1,
            9,
            [(old_a, &old_b.verifying_key()), (old_b, &new_b.verifying_key())],
        );
        assert!(reuse.sign(&id).is_err());
        let to_id =
            KeyRotation::build(server, account, 1, 9, [(old_a, &id.verifying_key()), (old_b, &new_b.verifying_key())]);
        assert!(to_id.sign(&id).is_err());
    }
}
