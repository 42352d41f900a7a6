//! `aman trip …`: the clap side (the work is in `aman_client::trip`).

use clap::Subcommand;

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
        /// The note and location for this trip (your standing ones come
        /// back when it ends).
        #[command(flatten)]
        words: crate::prompt::Words,
    },
    /// More time (a check-in): the return time moves on by this much.
    Extend {
        /// e.g. 30m.
        by: String,
    },
    /// Back (a check-in): return to your regular schedule (on trips only:
    /// to none) and your standing note.
    End,
}
