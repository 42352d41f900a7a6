//! # aman-tests
//!
//! Harness for end-to-end scenarios, crash runs and benchmarks: the real
//! `aman-server` and `aman` binaries as child processes, a webhook receiver,
//! members and contacts that speak the protocol through the client
//! library, and a headless Chromium for the local web interface
//! ([`browser`]).

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod actors;
pub mod browser;
pub mod cli;
pub mod process;
pub mod receiver;
pub mod siege;
pub mod smtp;
pub mod soak;
pub mod socks;

pub use actors::{Contact, Member};
pub use cli::{aman, aman_env, spawn_aman};
pub use process::{binary, ServerProcess};
pub use receiver::Receiver;
pub use smtp::SmtpServer;
pub use socks::SocksProxy;
