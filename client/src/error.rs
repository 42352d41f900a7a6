//! Client errors. Each maps to an exit code in the CLI.

use thiserror::Error;

/// What can go wrong in the client.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server could not be reached at all.
    #[error("cannot reach the Aman server at {url}: {reason}")]
    Unreachable {
        /// The server URL.
        url: String,
        /// What the network layer said.
        reason: String,
    },
    /// The server answered with an error.
    #[error("the server refused: {message} ({code}, HTTP {status})")]
    Server {
        /// HTTP status.
        status: u16,
        /// The stable error code.
        code: String,
        /// Its explanation.
        message: String,
    },
    /// Neither keystore slot opened with the passphrase.
    #[error("wrong passphrase")]
    WrongPassphrase,
    /// The keystore file is damaged or from another program.
    #[error("keystore: {0}")]
    Keystore(String),
    /// The local state does not allow this (not a member, no contacts, ...).
    #[error("{0}")]
    State(String),
    /// A protocol failure (bad code, forged alert, ...).
    #[error("{0}")]
    Protocol(#[from] aman_protocol::Error),
    /// Part of the work was done and reported, and part failed (a server
    /// could not be reached): the report is still shown, then the failure.
    #[error("{cause}")]
    Degraded {
        /// What could be worked out anyway.
        report: Box<crate::context::Report>,
        /// What failed.
        cause: Box<ClientError>,
    },
    /// File I/O.
    #[error("{context}: {source}")]
    Io {
        /// What we were doing.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

impl ClientError {
    /// Wraps an I/O error with context.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClientError {
        let context = context.into();
        move |source| ClientError::Io { context, source }
    }
}
