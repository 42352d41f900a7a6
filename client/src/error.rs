//! Client errors. Each maps to an exit code in the CLI.

use crate::t;

/// What can go wrong in the client.
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The server could not be reached at all.
    Unreachable {
        /// The server URL.
        url: String,
        /// What the network layer said.
        reason: String,
    },
    /// The server answered with an error.
    Server {
        /// HTTP status.
        status: u16,
        /// The stable error code.
        code: String,
        /// Its explanation.
        message: String,
    },
    /// Neither keystore slot opened with the passphrase.
    WrongPassphrase,
    /// The keystore file is damaged or from another program.
    Keystore(String),
    /// The local state does not allow this (not a member, no contacts, ...).
    State(String),
    /// A protocol failure (bad code, forged alert, ...).
    Protocol(aman_protocol::Error),
    /// Part of the work was done and reported, and part failed (a server
    /// could not be reached): the report is still shown, then the failure.
    Degraded {
        /// What could be worked out anyway.
        report: Box<crate::context::Report>,
        /// What failed.
        cause: Box<ClientError>,
    },
    /// A request that goes to each of the member's servers was taken by
    /// some and not by others: the report says which (exit code 4).
    Partly {
        /// What was done, with a line for each server that did not take it.
        report: Box<crate::context::Report>,
    },
    /// File I/O.
    Io {
        /// What we were doing.
        context: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

/// The message a person reads, in this process's language.
impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Unreachable { url, reason } => {
                f.write_str(&t!("common-error-unreachable", url = url, reason = reason))
            }
            ClientError::Server { status, code, message } => {
                f.write_str(&t!("common-error-server", message = message, code = code, status = status.to_string()))
            }
            ClientError::WrongPassphrase => f.write_str(&t!("common-error-wrong-passphrase")),
            ClientError::Keystore(detail) => f.write_str(&t!("common-error-keystore", detail = detail)),
            ClientError::State(message) => f.write_str(message),
            ClientError::Protocol(e) => write!(f, "{e}"),
            ClientError::Degraded { cause, .. } => write!(f, "{cause}"),
            ClientError::Partly { report } => f.write_str(&report.text),
            ClientError::Io { context, source } => write!(f, "{context}: {source}"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Protocol(e) => Some(e),
            ClientError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<aman_protocol::Error> for ClientError {
    fn from(e: aman_protocol::Error) -> Self {
        ClientError::Protocol(e)
    }
}

impl ClientError {
    /// Wraps an I/O error with context.
    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClientError {
        let context = context.into();
        move |source| ClientError::Io { context, source }
    }

    /// The stable code a program reads (`--json`, the web interface):
    /// `server_unreachable`, `wrong_passphrase`, the server's own code, or
    /// `error`.
    pub fn code(&self) -> &str {
        match self {
            ClientError::Unreachable { .. } => "server_unreachable",
            ClientError::Server { code, .. } => code,
            ClientError::WrongPassphrase => "wrong_passphrase",
            ClientError::Partly { .. } => "servers_partly_reached",
            _ => "error",
        }
    }
}
