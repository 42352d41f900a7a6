//! `aman remind`: reminders to the member before a check-in is due.

use aman_protocol::api::ChannelKind;
use clap::Subcommand;

/// `aman remind …`.
#[derive(Debug, Subcommand)]
pub enum RemindAction {
    /// Add one of your own channels for reminders.
    Add {
        #[command(subcommand)]
        target: RemindTarget,
    },
    /// Show your reminder times and channels.
    List,
    /// Remove a reminder channel by its id.
    Remove {
        /// The id from `remind list`.
        id: u8,
    },
    /// When to be reminded, before each check-in is due and before the grace ends.
    Set {
        /// Durations, comma-separated (like 30m,5m; at most 4; empty: off).
        #[arg(long, value_name = "DURATIONS", allow_hyphen_values = false)]
        before: String,
    },
}

/// A reminder channel.
#[derive(Debug, Subcommand)]
pub enum RemindTarget {
    /// An ntfy topic URL.
    Ntfy {
        /// The topic URL.
        url: String,
    },
    /// A webhook URL.
    Webhook {
        /// The URL.
        url: String,
    },
    /// An e-mail address (the server must have a relay).
    Email {
        /// The address.
        address: String,
    },
}

impl RemindTarget {
    /// The kind and the target.
    pub fn parts(&self) -> (ChannelKind, &str) {
        match self {
            RemindTarget::Ntfy { url } => (ChannelKind::Ntfy, url),
            RemindTarget::Webhook { url } => (ChannelKind::Webhook, url),
            RemindTarget::Email { address } => (ChannelKind::Email, address),
        }
    }
}
