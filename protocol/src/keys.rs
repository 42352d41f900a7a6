//! Keys: Ed25519 signing keys (member identity, the two check-in keys, contact
//! identity) and X25519 encryption keys (contacts).
//!
//! Secret types are zeroized on drop and deliberately implement none of
//! `Debug`, `Clone` or `Serialize`: a secret can only leave this crate through
//! an explicit `*_bytes` call that returns a `Zeroizing` buffer.

use crate::encoding::{labels, Reader, Writer};
use crate::error::{DecodeError, Error};
use crate::ids::AccountId;
use crate::random::random_array;
use crate::text::{b64_decode_array, b64_encode};
use ring::signature::{self, Ed25519KeyPair, KeyPair};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use zeroize::Zeroizing;

/// Length of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Length of a public key (Ed25519 or X25519).
pub const PUBLIC_KEY_LEN: usize = 32;

macro_rules! define_public {
    ($(#[$doc:meta])* $name:ident, $len:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), b64_encode(&self.0))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&b64_encode(&self.0))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                b64_decode_array(&s).map(Self).map_err(serde::de::Error::custom)
            }
        }
    };
}

define_public!(
    /// An Ed25519 public key.
    VerifyingKey,
    PUBLIC_KEY_LEN
);
define_public!(
    /// An X25519 public key (a contact's encryption key).
    EncryptionPublic,
    PUBLIC_KEY_LEN
);
define_public!(
    /// An Ed25519 signature.
    Signature,
    SIGNATURE_LEN
);

impl VerifyingKey {
    /// Verifies `sig` over `message`. Any failure is [`Error::BadSignature`].
    ///
    /// ring's verifier rejects non-canonical `S` (S ≥ L), so signatures are
    /// not malleable.
    pub fn verify(&self, message: &[u8], sig: &Signature) -> Result<(), Error> {
        signature::UnparsedPublicKey::new(&signature::ED25519, &self.0)
            .verify(message, &sig.0)
            .map_err(|_| Error::BadSignature)
    }
}

/// An Ed25519 signing key: a member identity `ID`, a check-in key `CK_N` or
/// `CK_D`, or a contact identity `CID`.
pub struct SigningKey {
    seed: Zeroizing<[u8; 32]>,
    pair: Ed25519KeyPair,
    public: VerifyingKey,
}

impl SigningKey {
    /// A fresh key from the system CSPRNG.
    pub fn generate() -> Result<Self, Error> {
        Self::from_seed(Zeroizing::new(random_array()?))
    }

    /// Rebuilds a key from its 32-byte RFC 8032 seed (as stored in a keystore).
    pub fn from_seed(seed: Zeroizing<[u8; 32]>) -> Result<Self, Error> {
        let pair =
            Ed25519KeyPair::from_seed_unchecked(seed.as_ref()).map_err(|_| Error::InvalidArgument("ed25519 seed"))?;
        let mut public = [0u8; PUBLIC_KEY_LEN];
        public.copy_from_slice(pair.public_key().as_ref());
        Ok(SigningKey { seed, pair, public: VerifyingKey(public) })
    }

    /// The seed, for writing into an encrypted keystore.
    pub fn seed_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(*self.seed)
    }

    /// The public half.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.public
    }

    /// Signs `body` and returns `body || signature`: the layout of every
    /// signed Aman format.
    pub(crate) fn sign_appended(&self, mut body: Vec<u8>) -> Vec<u8> {
        let sig = self.sign(&body);
        body.extend_from_slice(&sig.0);
        body
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Signature {
        let mut out = [0u8; SIGNATURE_LEN];
        out.copy_from_slice(self.pair.sign(message).as_ref());
        Signature(out)
    }
}

/// An X25519 secret key: a contact's encryption key `CX`.
pub struct EncryptionSecret {
    secret: x25519_dalek::StaticSecret,
    public: EncryptionPublic,
}

impl EncryptionSecret {
    /// A fresh key from the system CSPRNG.
    pub fn generate() -> Result<Self, Error> {
        Ok(Self::from_bytes(Zeroizing::new(random_array()?)))
    }

    /// Rebuilds a key from its 32 secret bytes.
    pub fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Self {
        let secret = x25519_dalek::StaticSecret::from(*bytes);
        let public = EncryptionPublic(x25519_dalek::PublicKey::from(&secret).to_bytes());
        EncryptionSecret { secret, public }
    }

    /// The secret bytes, for writing into an encrypted keystore.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.secret.to_bytes())
    }

    /// The public half.
    pub fn public(&self) -> EncryptionPublic {
        self.public
    }

    /// X25519 with `their` public key; non-contributory results are rejected.
    pub fn diffie_hellman(&self, their: &EncryptionPublic) -> Result<Zeroizing<[u8; 32]>, Error> {
        let shared = self.secret.diffie_hellman(&x25519_dalek::PublicKey::from(their.0));
        if !shared.was_contributory() {
            return Err(Error::NonContributory);
        }
        Ok(Zeroizing::new(shared.to_bytes()))
    }
}

/// The binding of a member's two check-in keys to the member identity.
///
/// The server learns which key is the duress key from this binding at
/// registration; it must not store that fact in the clear (see PROTOCOL.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyBinding {
    /// The account the keys belong to.
    pub account: AccountId,
    /// The member identity `ID` that signs the binding.
    pub identity: VerifyingKey,
    /// The normal check-in key `CK_N`.
    pub normal: VerifyingKey,
    /// The duress check-in key `CK_D`.
    pub duress: VerifyingKey,
    /// When the binding was made (unix seconds); a newer binding replaces an older one.
    pub created: u64,
}

impl KeyBinding {
    fn encode_unsigned(&self) -> Vec<u8> {
        Writer::new(labels::KEY_BINDING)
            .fixed(self.account.as_bytes())
            .fixed(self.identity.as_bytes())
            .fixed(self.normal.as_bytes())
            .fixed(self.duress.as_bytes())
            .u64(self.created)
            .finish()
    }

    /// Signs the binding with the identity key; returns `encoding || signature`.
    pub fn sign(&self, identity: &SigningKey) -> Result<Vec<u8>, Error> {
        if identity.verifying_key() != self.identity {
            return Err(Error::InvalidArgument("binding signed by another identity"));
        }
        Ok(identity.sign_appended(self.encode_unsigned()))
    }

    /// Parses and verifies a signed binding. The two check-in keys must differ
    /// from each other and from the identity key.
    pub fn verify(bytes: &[u8]) -> Result<Self, Error> {
        let (body, sig) = split_signature(bytes)?;
        let mut r = Reader::new(body, labels::KEY_BINDING)?;
        let binding = KeyBinding {
            account: AccountId::from_bytes(r.fixed()?),
            identity: VerifyingKey(r.fixed()?),
            normal: VerifyingKey(r.fixed()?),
            duress: VerifyingKey(r.fixed()?),
            created: r.u64()?,
        };
        r.finish()?;
        if binding.normal == binding.duress || binding.normal == binding.identity || binding.duress == binding.identity
        {
            return Err(DecodeError::InvalidValue.into());
        }
        binding.identity.verify(body, &sig)?;
        Ok(binding)
    }
}

/// Replacement of both check-in keys, each new key paired with the old key it succeeds. Names no roles.
///
/// The server knows which old key is the duress key and gives each new key
/// the role of the old key it replaces, so the client never needs to know
/// which passphrase is which, and the rotation itself reveals no roles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRotation {
    /// The account the keys belong to.
    pub account: AccountId,
    /// The member identity `ID` that signs the rotation.
    pub identity: VerifyingKey,
    /// `(old, new)` pairs: each current check-in key with its successor.
    pub successors: [(VerifyingKey, VerifyingKey); 2],
    /// When the rotation was made (unix seconds); must be newer than the binding or rotation in force.
    pub created: u64,
}

impl KeyRotation {
    /// The pairs in canonical order: ascending byte order of the old key.
    fn canonical_successors(&self) -> [(VerifyingKey, VerifyingKey); 2] {
        let mut pairs = self.successors;
        if pairs[1].0.as_bytes() < pairs[0].0.as_bytes() {
            pairs.swap(0, 1);
        }
        pairs
    }

    /// Whether any two of the five keys (identity, both old, both new) are equal.
    fn has_equal_keys(&self) -> bool {
        let [(old_1, new_1), (old_2, new_2)] = self.successors;
        let keys = [self.identity, old_1, new_1, old_2, new_2];
        keys.iter().enumerate().any(|(i, a)| keys[i + 1..].contains(a))
    }

    fn encode_unsigned(&self) -> Vec<u8> {
        let [(old_1, new_1), (old_2, new_2)] = self.canonical_successors();
        Writer::new(labels::KEY_ROTATION)
            .fixed(self.account.as_bytes())
            .fixed(self.identity.as_bytes())
            .fixed(old_1.as_bytes())
            .fixed(new_1.as_bytes())
            .fixed(old_2.as_bytes())
            .fixed(new_2.as_bytes())
            .u64(self.created)
            .finish()
    }

    /// Signs the rotation with the identity key; returns `encoding || signature(64)`.
    ///
    /// The pairs are written in ascending byte order of the old key whatever
    /// order the caller gives them in, so the encoding tells nothing about
    /// which pair the caller listed first. Fails with
    /// [`Error::InvalidArgument`] if `identity` is not [`Self::identity`] or
    /// if any two of the five keys are equal (such a rotation never verifies).
    pub fn sign(&self, identity: &SigningKey) -> Result<Vec<u8>, Error> {
        if identity.verifying_key() != self.identity {
            return Err(Error::InvalidArgument("rotation signed by another identity"));
        }
        if self.has_equal_keys() {
            return Err(Error::InvalidArgument("rotation keys must be pairwise different"));
        }
        Ok(identity.sign_appended(self.encode_unsigned()))
    }

    /// Parses and verifies a signed rotation. The pairs must be in strictly
    /// ascending byte order of the old key, and the five keys (identity, both
    /// old, both new) pairwise different; the returned value has the pairs in
    /// that canonical order.
    pub fn verify(bytes: &[u8]) -> Result<Self, Error> {
        let (body, sig) = split_signature(bytes)?;
        let mut r = Reader::new(body, labels::KEY_ROTATION)?;
        let account = AccountId::from_bytes(r.fixed()?);
        let identity = VerifyingKey(r.fixed()?);
        let first = (VerifyingKey(r.fixed()?), VerifyingKey(r.fixed()?));
        let second = (VerifyingKey(r.fixed()?), VerifyingKey(r.fixed()?));
        let created = r.u64()?;
        r.finish()?;
        let rotation = KeyRotation { account, identity, successors: [first, second], created };
        if first.0.as_bytes() >= second.0.as_bytes() || rotation.has_equal_keys() {
            return Err(DecodeError::InvalidValue.into());
        }
        rotation.identity.verify(body, &sig)?;
        Ok(rotation)
    }
}

/// Splits `body || signature(64)`.
pub(crate) fn split_signature(bytes: &[u8]) -> Result<(&[u8], Signature), DecodeError> {
    let split = bytes.len().checked_sub(SIGNATURE_LEN).ok_or(DecodeError::Truncated)?;
    let (body, sig) = bytes.split_at(split);
    let mut out = [0u8; SIGNATURE_LEN];
    out.copy_from_slice(sig);
    Ok((body, Signature(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binding_round_trip_and_forgery() {
        let id = SigningKey::generate().unwrap();
        let n = SigningKey::generate().unwrap();
        let d = SigningKey::generate().unwrap();
        let b = KeyBinding {
            account: AccountId::from_bytes([1; 16]),
            identity: id.verifying_key(),
            normal: n.verifying_key(),
            duress: d.verifying_key(),
            created: 5,
        };
        let bytes = b.sign(&id).unwrap();
        assert_eq!(KeyBinding::verify(&bytes).unwrap(), b);
        assert!(b.sign(&n).is_err());
        for i in 0..bytes.len() {
            let mut t = bytes.clone();
            t[i] ^= 1;
            assert!(KeyBinding::verify(&t).is_err(), "flip at {i}");
        }
        let same = KeyBinding { duress: b.normal, ..b.clone() };
        assert!(KeyBinding::verify(&same.sign(&id).unwrap()).is_err());
    }

    #[test]
    fn low_order_point_is_rejected() {
        let s = EncryptionSecret::generate().unwrap();
        assert_eq!(s.diffie_hellman(&EncryptionPublic([0; 32])).unwrap_err(), Error::NonContributory);
        let mut one = [0u8; 32];
        one[0] = 1;
        assert_eq!(s.diffie_hellman(&EncryptionPublic(one)).unwrap_err(), Error::NonContributory);
    }
}
