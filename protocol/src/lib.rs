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
pub mod backup;
pub mod derive;
pub mod directory;
pub mod duration;
pub mod encoding;
mod envelope;
pub mod error;
pub mod error_code;
pub mod hash;
pub mod heartbeat;
pub mod ids;
pub mod invite;
pub mod keys;
pub mod kinds;
pub mod random;
pub mod registration;
pub mod request;
pub mod rotation;
pub mod routes;
pub mod safety;
pub mod secretbox;
pub mod server;
pub mod text;

#[cfg(test)]
mod known_answers;

pub use alert::{open, seal, AlertBody};
pub use error::{DecodeError, Error};
pub use heartbeat::{Heartbeat, ProofKey};
pub use ids::{AccountId, AlertId, InviteId, MailboxId, ServerId};
pub use invite::{Enrollment, InviteCode};
pub use keys::{EncryptionPublic, EncryptionSecret, Signature, SigningKey, VerifyingKey};
pub use registration::Registration;
pub use request::{AuthHeaders, RequestAuth};
pub use rotation::KeyRotation;
pub use safety::safety_number;
pub use server::{seal_to_server, ServerIdentity};
