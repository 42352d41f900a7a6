//! `aman plan`: the member's response plan, sealed to the contacts with the note.

use clap::Subcommand;
use std::path::PathBuf;

/// `aman plan …`.
#[derive(Debug, Subcommand)]
pub enum PlanAction {
    /// Seal your plan to your contacts: they read it with every alert and drill.
    Set {
        /// The plan, from a file, or `-` for stdin (an empty one removes it).
        #[arg(long, value_name = "PATH")]
        file: PathBuf,
    },
    /// Print your plan.
    Show,
    /// Print a starting plan drawn from published guidance for human-rights
    /// defenders, in the language of every message (`--lang en|ar`, or the
    /// locale's).
    Template,
}
