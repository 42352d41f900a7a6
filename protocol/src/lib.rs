//! # aman-protocol
//!
//! The wire formats and cryptography of Aman, an end-to-end encrypted
//! check-in and alert service. This crate does no I/O: it has no network,
//! file, clock or async dependency. Time is always passed in by the caller.
//!
//! `PROTOCOL.md` at the repository root specifies every byte produced here.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod alert;
pub mod api;
pub mod at_rest;
pub mod checkin;
pub mod derive;
pub mod duration;
pub mod encoding;
pub mod error;
pub mod hash;
pub mod ids;
pub mod invite;
pub mod keys;
pub mod random;
pub mod request;
pub mod safety;
pub mod secretbox;
pub mod text;

#[cfg(test)]
mod known_answers;

pub use alert::{open, seal, AlertBody};
pub use checkin::{Checkin, CheckinKind};
pub use error::{DecodeError, Error};
pub use ids::{AccountId, AlertId, InviteId, MailboxId};
pub use invite::{Enrollment, InviteCode};
pub use keys::{EncryptionPublic, EncryptionSecret, KeyBinding, KeyRotation, Signature, SigningKey, VerifyingKey};
pub use request::{AuthHeaders, RequestAuth};
pub use safety::safety_number;
