//! Times as people give them: "18:00" (the next such time where they are),
//! "2h30m", an RFC 3339 time; and fixed daily check-in times ("09:00,21:00")
//! in a time zone, across midnight and daylight-saving changes (jiff, with
//! its own copy of the time zone database, so a machine without one works).

use crate::error::ClientError;
use aman_protocol::duration::parse_duration;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::Timestamp;

/// A clock time of day, hours and minutes.
pub type ClockTime = (i8, i8);

/// The time zone named `name`, or this device's. Returns it and its name
/// (for storing: `UTC` when the device's zone has none).
pub fn zone(name: Option<&str>) -> Result<(TimeZone, String), ClientError> {
    match name {
        Some(n) => {
            let tz = TimeZone::get(n).map_err(|_| ClientError::State(crate::t!("member-not-a-zone", zone = n)))?;
            Ok((tz, n.to_owned()))
        }
        None => {
            let tz = TimeZone::system();
            match tz.iana_name().map(str::to_owned) {
                Some(n) => Ok((tz, n)),
                None => Ok((TimeZone::UTC, "UTC".to_owned())),
            }
        }
    }
}

/// `HH:MM`.
pub fn parse_clock(text: &str) -> Option<ClockTime> {
    let (h, m) = text.trim().split_once(':')?;
    let (h, m): (i8, i8) = (h.parse().ok()?, m.parse().ok()?);
    ((0..24).contains(&h) && (0..60).contains(&m) && text.trim().len() <= 5).then_some((h, m))
}

/// `09:00,21:00`: sorted, each once.
pub fn parse_clock_list(text: &str) -> Result<Vec<ClockTime>, ClientError> {
    let mut times = Vec::new();
    for part in text.split(',').filter(|p| !p.trim().is_empty()) {
        let t = parse_clock(part)
            .ok_or_else(|| ClientError::State(crate::t!("member-at-not-a-time", time = part.trim())))?;
        if !times.contains(&t) {
            times.push(t);
        }
    }
    if times.is_empty() {
        return Err(ClientError::State(crate::t!("member-at-empty")));
    }
    times.sort_unstable();
    Ok(times)
}

fn unix(ts: Timestamp) -> u64 {
    u64::try_from(ts.as_second()).unwrap_or(0)
}

fn timestamp(now: u64) -> Result<Timestamp, ClientError> {
    Timestamp::from_second(i64::try_from(now).unwrap_or(i64::MAX))
        .map_err(|e| ClientError::State(crate::t!("member-clock-impossible", error = e.to_string())))
}

/// Each `times` occurrence on the days around `now` (the day before to
/// three days after, in `tz`), in order. A time that does not exist on a
/// day (skipped by a daylight-saving change) is taken as the moment after
/// the gap; one that happens twice, as the first.
fn occurrences(times: &[ClockTime], tz: &TimeZone, now: u64) -> Result<Vec<u64>, ClientError> {
    let today = timestamp(now)?.to_zoned(tz.clone()).date();
    let mut out = Vec::new();
    for offset in -1i64..=3 {
        let day: Date = today
            .checked_add(jiff::Span::new().days(offset))
            .map_err(|e| ClientError::State(crate::t!("member-date-out-of-range", error = e.to_string())))?;
        for (h, m) in times {
            let time = Time::new(*h, *m, 0, 0).map_err(|e| ClientError::State(e.to_string()))?;
            let civil = DateTime::from_parts(day, time);
            let at = tz.to_ambiguous_timestamp(civil).compatible().map_err(|e| ClientError::State(e.to_string()))?;
            out.push(unix(at));
        }
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// The next of `times` (daily, in `tz`) more than `ahead` seconds after
/// `now`: checking in a little before a due time counts for that one.
pub fn next_at(times: &[ClockTime], tz: &TimeZone, now: u64, ahead: u64) -> Result<u64, ClientError> {
    occurrences(times, tz, now)?
        .into_iter()
        .find(|t| *t > now.saturating_add(ahead))
        .ok_or_else(|| ClientError::State(crate::t!("member-no-checkin-time")))
}

/// How early a check-in may come and still count for the next listed
/// time: half an hour (less if two listed times are closer). Earlier than
/// that, the next listed time is the one due: never a slot skipped.
pub fn early_allowance(times: &[ClockTime]) -> u64 {
    (gaps(times).into_iter().min().unwrap_or(86_400) / 2).min(EARLY_MAX)
}

/// The most a check-in may come before a listed time and count for it.
const EARLY_MAX: u64 = 1800;

/// The longest wait a listed schedule allows, as the server's interval:
/// the longest gap, plus the early allowance (a check-in that early is due
/// that much more than a gap later), plus an hour for a daylight-saving change.
pub fn interval_for(times: &[ClockTime]) -> u64 {
    let longest = gaps(times).into_iter().max().unwrap_or(86_400);
    longest + early_allowance(times) + 3600
}

/// The gaps between consecutive listed times, round the day, in seconds.
fn gaps(times: &[ClockTime]) -> Vec<u64> {
    let secs: Vec<u64> = times.iter().map(|(h, m)| (*h as u64) * 3600 + (*m as u64) * 60).collect();
    match secs.as_slice() {
        [] => Vec::new(),
        [_] => vec![86_400],
        _ => secs
            .iter()
            .zip(secs.iter().cycle().skip(1))
            .map(|(a, b)| if b > a { b - a } else { b + 86_400 - a })
            .collect(),
    }
}

/// A "back by" time: `18:00` (the next such time in `tz`), a duration from
/// now (`2h30m`), or an RFC 3339 time (`2026-11-28T18:00:00+03:00`).
pub fn parse_back_by(text: &str, tz: &TimeZone, now: u64) -> Result<u64, ClientError> {
    let text = text.trim();
    if let Some(clock) = parse_clock(text) {
        return next_at(&[clock], tz, now, 0);
    }
    if let Ok(d) = parse_duration(text) {
        return Ok(now.saturating_add(d));
    }
    if let Ok(ts) = text.parse::<Timestamp>() {
        return Ok(unix(ts));
    }
    Err(ClientError::State(crate::t!("member-not-a-back-by", text = text)))
}

/// `unix` as a time of day in `tz`, with the zone: `18:00 (Asia/Baghdad)`,
/// or with the date when it is not within the next day.
pub fn local(unix_time: u64, tz: &TimeZone, tz_name: &str, now: u64) -> String {
    let Ok(ts) = timestamp(unix_time) else { return unix_time.to_string() };
    let zoned = ts.to_zoned(tz.clone());
    if unix_time >= now && unix_time - now < 20 * 3600 {
        format!("{} ({tz_name})", zoned.strftime("%H:%M"))
    } else {
        format!("{} ({tz_name})", zoned.strftime("%Y-%m-%d %H:%M"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> u64 {
        unix(text.parse::<Timestamp>().unwrap())
    }

    #[test]
    fn clock_times_and_lists() {
        assert_eq!(parse_clock("09:00"), Some((9, 0)));
        assert_eq!(parse_clock("23:59"), Some((23, 59)));
        for bad in ["24:00", "9", "09:60", "-1:00", "09:00:00"] {
            assert_eq!(parse_clock(bad), None, "{bad}");
        }
        assert_eq!(parse_clock_list("21:00, 09:00,09:00").unwrap(), vec![(9, 0), (21, 0)]);
        assert!(parse_clock_list("").is_err());
        assert!(parse_clock_list("noon").is_err());
    }

    #[test]
    fn the_next_listed_time_across_midnight() {
        let tz = TimeZone::get("Asia/Baghdad").unwrap(); // UTC+3, no daylight saving
        let times = parse_clock_list("09:00,21:00").unwrap();
        let ahead = early_allowance(&times);
        assert_eq!(ahead, 1800);
        // 23:30 Baghdad: the next is 09:00 tomorrow.
        let now = at("2026-11-27T20:30:00Z");
        assert_eq!(next_at(&times, &tz, now, ahead).unwrap(), at("2026-11-28T06:00:00Z"));
        // 08:50: checking in just before 09:00 counts for it; the next is 21:00.
        let now = at("2026-11-28T05:50:00Z");
        assert_eq!(next_at(&times, &tz, now, ahead).unwrap(), at("2026-11-28T18:00:00Z"));
        // 08:20: more than half an hour early, so 09:00 is still the next (no slot skipped).
        let now = at("2026-11-28T05:20:00Z");
        assert_eq!(next_at(&times, &tz, now, ahead).unwrap(), at("2026-11-28T06:00:00Z"));
        // 15:01: the next is 21:00 the same day, not 09:00 the next.
        let now = at("2026-11-28T12:01:00Z");
        assert_eq!(next_at(&times, &tz, now, ahead).unwrap(), at("2026-11-28T18:00:00Z"));
        assert_eq!(interval_for(&times), 12 * 3600 + 1800 + 3600);
        assert_eq!(interval_for(&[(9, 0)]), 86_400 + 1800 + 3600);
        assert_eq!(early_allowance(&[(9, 0), (9, 20)]), 600, "two close times");
    }

    #[test]
    fn the_next_listed_time_across_daylight_saving_changes() {
        let tz = TimeZone::get("America/New_York").unwrap();
        // Spring forward, 2026-03-08 02:00 EST -> 03:00 EDT. 02:30 does not
        // exist that day: it is taken as 03:30 EDT (07:30Z), after the gap.
        let times = parse_clock_list("02:30").unwrap();
        let now = at("2026-03-08T05:00:00Z"); // 00:00 EST
        assert_eq!(next_at(&times, &tz, now, 0).unwrap(), at("2026-03-08T07:30:00Z"));
        // 09:00 the day before is 14:00Z (EST), the day after 13:00Z (EDT).
        let nine = parse_clock_list("09:00").unwrap();
        assert_eq!(next_at(&nine, &tz, at("2026-03-07T12:00:00Z"), 0).unwrap(), at("2026-03-07T14:00:00Z"));
        assert_eq!(next_at(&nine, &tz, at("2026-03-08T15:00:00Z"), 0).unwrap(), at("2026-03-09T13:00:00Z"));
        // Fall back, 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 happens twice; the first counts.
        let times = parse_clock_list("01:30").unwrap();
        assert_eq!(next_at(&times, &tz, at("2026-11-01T04:00:00Z"), 0).unwrap(), at("2026-11-01T05:30:00Z"));
    }

    #[test]
    fn back_by_times() {
        let tz = TimeZone::get("Asia/Baghdad").unwrap();
        let now = at("2026-11-28T12:00:00Z"); // 15:00 Baghdad
        assert_eq!(parse_back_by("18:00", &tz, now).unwrap(), at("2026-11-28T15:00:00Z"));
        assert_eq!(parse_back_by("14:00", &tz, now).unwrap(), at("2026-11-29T11:00:00Z"), "tomorrow's");
        assert_eq!(parse_back_by("2h30m", &tz, now).unwrap(), now + 9000);
        assert_eq!(parse_back_by("2026-11-28T18:00:00+03:00", &tz, now).unwrap(), at("2026-11-28T15:00:00Z"));
        let why = parse_back_by("soon", &tz, now).unwrap_err().to_string();
        assert!(why.contains("18:00") && why.contains("2h30m"), "{why}");
        assert_eq!(local(at("2026-11-28T15:00:00Z"), &tz, "Asia/Baghdad", now), "18:00 (Asia/Baghdad)");
    }
}
