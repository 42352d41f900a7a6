//! Keys: Ed25519 signing keys (member identity, the two check-in keys, contact
//! identity) and X25519 encryption keys (contacts).
//!
//! Secret types are zeroized on drop and deliberately implement none of
//! `Debug`, `Clone` or `Serialize`: a secret can only leave this crate through
//! an explicit `*_bytes` call that returns a `Zeroizing` buffer.

use crate::error::{DecodeError, Error};
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
                b64_decode_array(&s).map(Self).map_err(|e| serde::de::Error::custom(e.tagged()))
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
        VERIFICATIONS.with(|n| n.set(n.get().wrapping_add(1)));
        signature::UnparsedPublicKey::new(&signature::ED25519, &self.0)
            .verify(message, &sig.0)
            .map_err(|_| Error::BadSignature)
    }
}

thread_local! {
    static VERIFICATIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many Ed25519 verifications this thread has run: tests prove with it
/// that a check-in costs exactly one. A thread-local counter costs nothing
/// measurable and cannot be disturbed by other threads.
pub fn verifications_on_this_thread() -> u64 {
    VERIFICATIONS.with(std::cell::Cell::get)
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
    fn low_order_point_is_rejected() {
        let s = EncryptionSecret::generate().unwrap();
        assert_eq!(s.diffie_hellman(&EncryptionPublic([0; 32])).unwrap_err(), Error::NonContributory);
        let mut one = [0u8; 32];
        one[0] = 1;
        assert_eq!(s.diffie_hellman(&EncryptionPublic(one)).unwrap_err(), Error::NonContributory);
    }
}
