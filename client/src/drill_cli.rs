//! `aman drill`: test the safety net.

use clap::Subcommand;

/// `aman drill [status]`.
#[derive(Debug, Subcommand)]
pub enum DrillAction {
    /// How the latest drill went, per contact: mailbox, channels,
    /// acknowledgement, the day their client first fetched it (as it stood
    /// when its window closed).
    Status,
}
