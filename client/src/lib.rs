//! # aman-client
//!
//! The `aman` program's library: the API client, the keystore, and the
//! member and contact operations. It holds every secret and is the only
//! part of Aman that ever sees a note or a location in the clear.

#![forbid(unsafe_code)]

pub mod api;
pub mod contact;
pub mod context;
pub mod drill;
pub mod error;
pub mod fanout;
pub mod i18n;
pub mod keystore;
pub mod member;
pub mod member_servers;
pub mod passphrase;
pub mod plan;
pub mod proof_of_life;
pub mod remind;
pub mod servers;
pub mod settings;
pub mod state;
pub mod trip;
pub mod ui;
pub mod waiting;
pub mod when;
pub mod wording;

pub use context::{Ctx, Report};
pub use error::ClientError;
