//! Trips: "I'm going to the square, I'll be back by 18:00". Each command is
//! a check-in (so the duress passphrase turns any of them into a silent
//! duress alert, and prints the same), announcing the trip's return time
//! instead of the regular schedule's next due time.

use crate::api::unix_now;
use crate::context::{format_time, Ctx, Report};
use crate::error::ClientError;
use crate::member::{amend, checkin_with, on_trip_line, Due};
use crate::state::{Trip, Vault};
use aman_protocol::duration::format_duration;

/// How the server bounds a trip: it may last no longer than the regular
/// schedule's interval (the server refuses a next due time further away).
fn check_bounds(vault: &Vault, back_by: u64, grace: u64, now: u64) -> Result<(), ClientError> {
    let (every, regular_grace) = schedule_in_force(vault, now)?;
    let (Some(every), Some(regular_grace)) = (every, regular_grace) else {
        return Err(ClientError::State(crate::t!("member-trip-no-schedule")));
    };
    if back_by <= now {
        return Err(ClientError::State(crate::t!("member-trip-passed", time = format_time(back_by))));
    }
    if back_by - now > every {
        return Err(ClientError::State(crate::t!(
            "member-trip-too-long",
            max = format_duration(every),
            length = format_duration(back_by - now)
        )));
    }
    if grace > regular_grace {
        return Err(ClientError::State(crate::t!(
            "member-trip-grace-too-long",
            grace = format_duration(grace),
            schedule = format_duration(regular_grace)
        )));
    }
    Ok(())
}

/// `aman trip start --back-by TIME [--grace DUR]`, with an optional note
/// and location for the trip (the standing ones come back at `trip end`).
pub async fn start(
    ctx: &Ctx,
    vault: &mut Vault,
    back_by: u64,
    grace: Option<u64>,
    note: Option<&str>,
    location: Option<&str>,
) -> Result<Report, ClientError> {
    let now = unix_now();
    let grace = match grace {
        Some(g) => g,
        None => schedule_in_force(vault, now)?.1.unwrap_or(1800),
    };
    check_bounds(vault, back_by, grace, now)?;
    let due = Due::Until { next_due: back_by, grace };
    let report = checkin_with(ctx, vault, due, |book| {
        // A trip started during another keeps the standing note from before both.
        let (standing_note, standing_location) = match book.trip.take() {
            Some(t) => (t.standing_note, t.standing_location),
            None => (book.note.clone(), book.location.clone()),
        };
        if let Some(n) = note {
            book.note = n.to_owned();
        }
        if let Some(l) = location {
            book.location = l.to_owned();
        }
        book.trip = Some(Trip { back_by, grace, standing_note, standing_location });
        Ok(())
    })
    .await;
    let first = crate::t!(
        "member-trip-started",
        time = format_time(back_by),
        left = format_duration(back_by.saturating_sub(now))
    );
    amend(report, |r| trip_report(r, first, back_by))
}

/// `aman trip extend DUR`: the return time moves on by `by` (from now, if
/// it has passed).
pub async fn extend(ctx: &Ctx, vault: &mut Vault, by: u64) -> Result<Report, ClientError> {
    let now = unix_now();
    let trip = vault.member()?.0.trip.clone().ok_or_else(no_trip)?;
    let back_by = trip.back_by.max(now).saturating_add(by);
    check_bounds(vault, back_by, trip.grace, now)?;
    let due = Due::Until { next_due: back_by, grace: trip.grace };
    let report = checkin_with(ctx, vault, due, |book| {
        if let Some(t) = book.trip.as_mut() {
            t.back_by = back_by;
        }
        Ok(())
    })
    .await;
    let first = crate::t!(
        "member-trip-extended",
        time = format_time(back_by),
        left = format_duration(back_by.saturating_sub(now))
    );
    amend(report, |r| trip_report(r, first, back_by))
}

/// `aman trip end`: a check-in that returns to the regular schedule (or,
/// trips only, stands down: nothing armed) and to the standing note and
/// location (unless new ones are given).
pub async fn end(
    ctx: &Ctx,
    vault: &mut Vault,
    note: Option<&str>,
    location: Option<&str>,
) -> Result<Report, ClientError> {
    vault.member()?.0.trip.as_ref().ok_or_else(no_trip)?;
    let checked = checkin_with(ctx, vault, Due::Regular, |book| {
        if let Some(t) = book.trip.take() {
            book.note = note.map(str::to_owned).unwrap_or(t.standing_note);
            book.location = location.map(str::to_owned).unwrap_or(t.standing_location);
        }
        Ok(())
    })
    .await;
    // Trips only: the check-in's own line says that nothing is due now.
    let ended = match vault.member()?.0.trips_only {
        true => crate::t!("member-trip-ended"),
        false => crate::t!("member-trip-ended-back"),
    };
    amend(checked, |mut report| {
        report.text = format!("{ended}\n{}", report.text);
        report.json["trip_ended"] = serde_json::json!(true);
        report
    })
}

/// The interval and grace in force at `now`: a schedule change the server
/// held for its cooling-off counts once that has passed.
fn schedule_in_force(vault: &Vault, now: u64) -> Result<(Option<u64>, Option<u64>), ClientError> {
    let mut book = vault.member()?.0.clone();
    book.promote_pending_schedule(now);
    Ok((book.every, book.grace))
}

fn no_trip() -> ClientError {
    ClientError::State(crate::t!("member-no-trip"))
}

/// `first` says the trip's return time, counted from when the command
/// began: what is printed does not depend on how long the check-in took.
fn trip_report(mut report: Report, first: String, back_by: u64) -> Report {
    // The check-in's own lines say when the contacts are alerted; its trip
    // line would repeat this one.
    let trip_line = on_trip_line(back_by);
    let lines: Vec<&str> = report.text.lines().filter(|l| *l != trip_line).collect();
    report.text = format!("{first}\n{}\n{}", lines.join("\n"), crate::t!("member-trip-hint"));
    report
}
