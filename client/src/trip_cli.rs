//! `aman trip …`: the clap side (the work is in `aman_client::trip`).

use clap::Subcommand;
use std::path::PathBuf;

/// Trips: "I'm going out, I'll be back by 18:00".
#[derive(Debug, Subcommand)]
pub enum TripAction {
    /// Start a trip (a check-in): your contacts are alerted if you have not
    /// ended or extended it by the time given, plus the grace.
    Start {
        /// 18:00 (the next such time where you are), a duration (2h30m) or
        /// an RFC 3339 time.
        #[arg(long, value_name = "TIME")]
        back_by: String,
        /// Grace after it (default: your schedule's).
        #[arg(long)]
        grace: Option<String>,
        /// The time zone for a time of day (default: this device's).
        #[arg(long)]
        tz: Option<String>,
        /// The note for this trip (asked for without a value); your standing
        /// note comes back when it ends.
        #[arg(long, num_args = 0..=1, value_name = "TEXT")]
        note: Option<Option<String>>,
        /// Read the note from a file, or `-` for stdin.
        #[arg(long, value_name = "PATH", conflicts_with = "note")]
        note_file: Option<PathBuf>,
        /// Where you are going (asked for without a value).
        #[arg(long, num_args = 0..=1, value_name = "TEXT")]
        location: Option<Option<String>>,
        /// Read the location from a file, or `-` for stdin.
        #[arg(long, value_name = "PATH", conflicts_with = "location")]
        location_file: Option<PathBuf>,
    },
    /// More time (a check-in): the return time moves on by this much.
    Extend {
        /// e.g. 30m.
        by: String,
    },
    /// Back (a check-in): return to your regular schedule and standing note.
    End,
}
