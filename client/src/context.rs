//! What every command needs: where the keystore is, how to reach servers,
//! and how results are reported.

use crate::api::{ApiClient, PlainHttp};
use crate::error::ClientError;
use crate::state::DeviceSettings;
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
    /// A certificate authority (PEM) to trust besides the public ones.
    pub ca_pem: Option<String>,
}

impl Ctx {
    /// A client for one server.
    pub fn client(&self, server: &str) -> Result<ApiClient, ClientError> {
        ApiClient::with_options(server, self.proxy.as_deref(), self.timeout, self.plain_http, self.ca_pem.as_deref())
    }

    /// What `init` or a first `contact accept` stores: the proxy and CA this
    /// command was given.
    pub fn settings_to_store(&self) -> DeviceSettings {
        DeviceSettings { proxy: self.proxy.clone(), ca_pem: self.ca_pem.clone() }
    }

    /// These settings, with what the keystore stores filling what the
    /// command line and environment left unset: a proxy given once is used
    /// for every request after.
    pub fn with_stored(&self, stored: &DeviceSettings) -> Ctx {
        Ctx {
            proxy: self.proxy.clone().or_else(|| stored.proxy.clone()),
            ca_pem: self.ca_pem.clone().or_else(|| stored.ca_pem.clone()),
            ..self.clone()
        }
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

/// Formats a unix time in this device's time zone (`TZ`, else the system's;
/// UTC where it has none), as `YYYY-MM-DD HH:MM:SS ZONE`: `2026-11-27
/// 12:00:00 +03` in Baghdad, `2026-11-27 09:00:00 UTC` where the clock is UTC.
pub fn format_time(unix_time: u64) -> String {
    format_time_in(unix_time, &jiff::tz::TimeZone::system())
}

/// [`format_time`] in a given zone.
pub fn format_time_in(unix_time: u64, tz: &jiff::tz::TimeZone) -> String {
    match i64::try_from(unix_time).ok().and_then(|s| jiff::Timestamp::from_second(s).ok()) {
        Some(ts) => ts.to_zoned(tz.clone()).strftime("%Y-%m-%d %H:%M:%S %Z").to_string(),
        None => aman_protocol::duration::format_utc(unix_time),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times_in_the_devices_zone() {
        let utc = jiff::tz::TimeZone::UTC;
        assert_eq!(format_time_in(0, &utc), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time_in(1_800_000_000, &utc), "2027-01-15 08:00:00 UTC");
        assert_eq!(format_time_in(951_782_400, &utc), "2000-02-29 00:00:00 UTC");
        let baghdad = jiff::tz::TimeZone::get("Asia/Baghdad").unwrap();
        assert_eq!(format_time_in(1_800_000_000, &baghdad), "2027-01-15 11:00:00 +03");
        assert_eq!(format_time_in(u64::MAX, &utc), aman_protocol::duration::format_utc(u64::MAX));
    }
}
