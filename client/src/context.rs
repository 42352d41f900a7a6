//! What every command needs: where the keystore is, how to reach servers,
//! and how results are reported.

use crate::api::{ApiClient, PlainHttp};
use crate::error::ClientError;
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

/// Settings shared by all commands.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The directory holding the keystore.
    pub home: PathBuf,
    /// A proxy for every request (e.g. Tor's `socks5h://127.0.0.1:9050`).
    pub proxy: Option<String>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Where plain `http://` servers are allowed (`--insecure-http`: anywhere).
    pub plain_http: PlainHttp,
}

impl Ctx {
    /// A client for one server.
    pub fn client(&self, server: &str) -> Result<ApiClient, ClientError> {
        ApiClient::with_plain_http(server, self.proxy.as_deref(), self.timeout, self.plain_http)
    }
}

/// A command's result: one JSON object for `--json`, text for people.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The `--json` output.
    pub json: Value,
    /// The human output.
    pub text: String,
}

/// Formats a unix time as `YYYY-MM-DD HH:MM:SS UTC` (no time-zone database needed).
pub fn format_time(unix: u64) -> String {
    let days = unix / 86_400;
    let secs = unix % 86_400;
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC", secs / 3600, secs % 3600 / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(1_800_000_000), "2027-01-15 08:00:00 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00:00 UTC");
    }
}
