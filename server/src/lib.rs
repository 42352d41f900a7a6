//! # aman-server
//!
//! Durable check-ins, deadlines and sealed alerts over axum and sled. The
//! server is trusted for timing and availability only: it stores sealed
//! bytes and public keys, and there is no type here that can hold a
//! plaintext note.

#![forbid(unsafe_code)]

pub mod admin;
pub mod api;
pub mod auth;
pub mod backup;
pub mod clock;
pub mod config;
pub mod delivery;
pub mod engine;
pub mod error;
pub mod keyfile;
pub mod metrics;
pub mod net;
pub mod serve;
pub mod store;
pub mod target_policy;
pub mod tls;
pub mod urls;
