//! Human durations: `30s`, `10m`, `6h`, `1d`, or combinations like `1h30m`.
//!
//! Shared by the server's configuration and the client's `--every`/`--grace`
//! flags so both read the same text the same way.

use thiserror::Error;

/// Text that is not a duration. It says what was written (shortened, and
/// escaped) and how to write one, so a flag or a configuration value that
/// does not read tells its author the accepted forms.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum DurationError {
    /// Not a duration at all (an unknown unit, a number without its unit
    /// after another, nothing).
    #[error("`{0}` is not a duration: write it like 30s, 10m, 6h or 7d")]
    NotADuration(String),
    /// A duration too long to count in seconds.
    #[error("`{0}` is too long a duration: write it like 30s, 10m, 6h or 7d")]
    TooLong(String),
}

/// What an error shows of the text: at most 40 characters, escaped.
fn shown(text: &str) -> String {
    let mut shown: String = text.chars().take(40).collect::<String>().escape_debug().collect();
    if text.chars().nth(40).is_some() {
        shown.push('…');
    }
    shown
}

/// Parses a duration into seconds. A bare number is seconds.
pub fn parse_duration(text: &str) -> Result<u64, DurationError> {
    let text = text.trim();
    let not_one = || DurationError::NotADuration(shown(text));
    let too_long = || DurationError::TooLong(shown(text));
    if text.is_empty() {
        return Err(not_one());
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().map_err(|_| too_long());
    }
    let mut total: u64 = 0;
    let mut number: Option<u64> = None;
    for c in text.chars() {
        if let Some(d) = c.to_digit(10) {
            let n = number.unwrap_or(0);
            number = Some(n.checked_mul(10).and_then(|n| n.checked_add(u64::from(d))).ok_or_else(too_long)?);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return Err(not_one()),
        };
        let n = number.take().ok_or_else(not_one)?;
        total = n.checked_mul(unit).and_then(|v| total.checked_add(v)).ok_or_else(too_long)?;
    }
    if number.is_some() {
        return Err(not_one());
    }
    Ok(total)
}

/// Formats seconds the way [`parse_duration`] reads them, largest units first.
pub fn format_duration(mut secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    for (unit, name) in [(86_400, 'd'), (3600, 'h'), (60, 'm'), (1, 's')] {
        if secs >= unit {
            out.push_str(&(secs / unit).to_string());
            out.push(name);
            secs %= unit;
        }
    }
    out
}

/// Formats a unix time as `YYYY-MM-DD HH:MM:SS UTC` (no time-zone database needed).
pub fn format_utc(unix: u64) -> String {
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
    fn parses_units_and_rejects_junk() {
        assert_eq!(parse_duration("30s").unwrap(), 30);
        assert_eq!(parse_duration("10m").unwrap(), 600);
        assert_eq!(parse_duration("6h").unwrap(), 21_600);
        assert_eq!(parse_duration("1d").unwrap(), 86_400);
        assert_eq!(parse_duration("1h30m").unwrap(), 5400);
        assert_eq!(parse_duration("45").unwrap(), 45);
        for bad in ["", "m", "10x", "1h30", "-5s", "99999999999999999999d"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse_duration("7x").unwrap_err().to_string(),
            "`7x` is not a duration: write it like 30s, 10m, 6h or 7d"
        );
        assert!(parse_duration("99999999999999999999d").unwrap_err().to_string().contains("too long"));
        assert!(parse_duration(&"1x\n".repeat(30)).unwrap_err().to_string().starts_with("`1x\\n1x"));
        assert_eq!(format_duration(5400), "1h30m");
        assert_eq!(parse_duration(&format_duration(93_784)).unwrap(), 93_784);
    }
}
