//! Pseudonymous 16-byte identifiers.
//!
//! Ids are random, carry no meaning and are safe to show to the server. Their
//! text form is 32 lowercase hex digits; parsing accepts exactly that.

use crate::error::{DecodeError, Error};
use crate::random::random_array;
use data_encoding::HEXLOWER;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// Length in bytes of every id.
pub const ID_LEN: usize = 16;

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; ID_LEN]);

        impl $name {
            /// A fresh random id.
            pub fn random() -> Result<Self, Error> {
                Ok(Self(random_array()?))
            }

            /// Wraps raw bytes.
            pub const fn from_bytes(bytes: [u8; ID_LEN]) -> Self {
                Self(bytes)
            }

            /// The raw bytes.
            pub const fn as_bytes(&self) -> &[u8; ID_LEN] {
                &self.0
            }

            /// Parses raw bytes of exactly [`ID_LEN`] bytes.
            pub fn from_slice(bytes: &[u8]) -> Result<Self, DecodeError> {
                <[u8; ID_LEN]>::try_from(bytes)
                    .map(Self)
                    .map_err(|_| DecodeError::InvalidValue)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&HEXLOWER.encode(&self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl FromStr for $name {
            type Err = DecodeError;
            fn from_str(s: &str) -> Result<Self, DecodeError> {
                if s.len() != ID_LEN * 2 {
                    return Err(DecodeError::BadText);
                }
                let bytes = HEXLOWER.decode(s.as_bytes()).map_err(|_| DecodeError::BadText)?;
                Self::from_slice(&bytes)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(|e: DecodeError| serde::de::Error::custom(e.tagged()))
            }
        }
    };
}

define_id!(
    /// A member account.
    AccountId
);
define_id!(
    /// A contact's mailbox, where alerts for that contact wait.
    MailboxId
);
define_id!(
    /// One fired alert.
    AlertId
);
define_id!(
    /// A pairing invite; the only part of an invite code the server learns.
    InviteId
);
define_id!(
    /// A server: the first 16 bytes of a hash of its X25519 public key
    /// ([`crate::server::server_id`]).
    ServerId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip_and_rejects() {
        let id = AccountId::from_bytes([0xab; 16]);
        let text = id.to_string();
        assert_eq!(text, "abababababababababababababababab");
        assert_eq!(text.parse::<AccountId>().unwrap(), id);
        assert!("ABABABABABABABABABABABABABABABAB".parse::<AccountId>().is_err());
        assert!("abab".parse::<AccountId>().is_err());
        assert!("zzababababababababababababababab".parse::<AccountId>().is_err());
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{text}\""));
        assert_eq!(serde_json::from_str::<AccountId>(&json).unwrap(), id);
    }

    #[test]
    fn random_ids_differ() {
        assert_ne!(MailboxId::random().unwrap(), MailboxId::random().unwrap());
    }
}
