//! Trips and fixed check-in times (issue 12), through the real binaries:
//! a trip not ended alerts with its note, one ended does not, an extension
//! with the duress passphrase prints what a normal one prints and alerts;
//! `--at` schedules pick the next time across midnight and a DST change.

use super::aman_json as json;
use super::pass::{ALICE, DURESS, MEMBER_PASSES as PASSES, NORMAL};
use super::server_env;
use aman_tests::{aman, ServerProcess};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A member with Alice linked, on a regular 1h schedule.
fn member_with_alice(dir: &Path, server: &str, name: &str) -> (PathBuf, PathBuf) {
    let (member, alice) = (dir.join(name), dir.join(format!("{name}-alice")));
    assert!(aman(&member, PASSES, &["init", "--server", server]).status.success());
    let code = json(&member, NORMAL, &["contact", "invite", "--label", "alice"])["code"].as_str().unwrap().to_owned();
    assert!(aman(&alice, ALICE, &["contact", "accept", &code, "--label", "Noor"]).status.success());
    json(&member, NORMAL, &["schedule", "set", "--every", "1h", "--grace", "1h", "--note", "standing note"]);
    (member, alice)
}

fn alerts(alice: &Path) -> Vec<Value> {
    json(alice, ALICE, &["alerts", "--all"])["alerts"].as_array().unwrap().clone()
}

fn await_alerts(alice: &Path, within: Duration, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let seen = alerts(alice);
        if pred(&seen) || start.elapsed() > within {
            return seen;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Digits masked: what differs between two runs whatever the passphrase.
/// What a command printed, with its digits masked, and a time left "(in
/// 49m59s)" as "(in #)": counted from when the command ran, it depends on
/// where two commands fell within their seconds, not on the passphrase.
fn masked(out: &std::process::Output) -> String {
    let digits: String =
        String::from_utf8_lossy(&out.stdout).chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).collect();
    let mut rest = digits.as_str();
    let mut out = String::new();
    while let Some(at) = rest.find("(in ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + 4..];
        let len = after.find(|c: char| !matches!(c, '#' | 'h' | 'm' | 's')).unwrap_or(after.len());
        out.push_str("(in #");
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

#[test]
fn a_trip_not_ended_alerts_with_its_note_and_one_ended_does_not() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[]));
    let (late, late_alice) = member_with_alice(dir.path(), &server.url, "late");
    let (home, home_alice) = member_with_alice(dir.path(), &server.url, "home");

    let started =
        json(&late, NORMAL, &["trip", "start", "--back-by", "3s", "--grace", "1s", "--note", "at the square"]);
    assert!(started["trip"]["back_by"].as_u64().is_some(), "{started}");
    let status = String::from_utf8_lossy(&aman(&late, NORMAL, &["status"]).stdout).into_owned();
    assert!(status.contains("On a trip: back by"), "status shows the trip: {status}");

    // (Back by 10 s: the end reaches the server first even on a slow machine.)
    let home_trip =
        json(&home, NORMAL, &["trip", "start", "--back-by", "10s", "--grace", "1s", "--note", "at the market"]);
    let home_back_by = home_trip["trip"]["back_by"].as_u64().unwrap();
    let ended = json(&home, NORMAL, &["trip", "end"]);
    assert_eq!(ended["trip_ended"], true);
    assert!(ended["next_due"].as_u64().unwrap() > aman_client::api::unix_now() + 3000, "back on the 1h schedule");

    let seen = await_alerts(&late_alice, Duration::from_secs(20), |a| !a.is_empty());
    assert_eq!(
        seen.first().map(|a| (a["reason"].clone(), a["note"].clone())),
        Some(("missed".into(), "at the square".into()))
    );
    // Past the ended trip's return time, its grace and a dispatch.
    super::wait_until_unix(home_back_by + 4);
    assert!(alerts(&home_alice).is_empty(), "an ended trip alerts nobody");
    // The standing note came back with the end of the trip.
    assert_eq!(json(&home, NORMAL, &["schedule", "show"])["note"], "standing note");
}

#[test]
fn a_trip_extended_with_the_duress_passphrase_prints_the_same_and_alerts() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[]));
    let mut printed = Vec::new();
    for (name, pass) in [("calm", NORMAL), ("forced", DURESS)] {
        let (member, alice) = member_with_alice(dir.path(), &server.url, name);
        json(&member, NORMAL, &["trip", "start", "--back-by", "30m", "--note", "meeting K."]);
        let text = aman(&member, pass, &["trip", "extend", "20m"]);
        let js = aman(&member, pass, &["--json", "trip", "extend", "5m"]);
        assert!(text.status.success() && js.status.success(), "{}", String::from_utf8_lossy(&text.stderr));
        printed.push((masked(&text), masked(&js), String::from_utf8_lossy(&text.stderr).into_owned()));
        // A duress extension's alert comes after the dispatch delay; a
        // second made before the first's signal was read merges into it
        // (PROTOCOL.md §5.4), so one alert or two (a calm member's wait
        // sees none).
        let seen = await_alerts(&alice, Duration::from_secs(if pass == DURESS { 20 } else { 4 }), |a| !a.is_empty());
        let reasons: Vec<_> = seen.iter().map(|a| a["reason"].as_str().unwrap_or("").to_owned()).collect();
        if pass == DURESS {
            assert!(
                matches!(reasons.len(), 1 | 2) && reasons.iter().all(|r| r == "duress"),
                "the duress extensions alert: {reasons:?}"
            );
        } else {
            assert!(reasons.is_empty(), "{reasons:?}");
        }
    }
    assert_eq!(printed[0], printed[1], "what the captor sees is the same");
    assert!(printed[0].0.contains("Trip extended: back by"), "{}", printed[0].0);
}

/// Trips only: `trip end` returns to no schedule at all. The member's
/// stand-down arms nothing, and the contact's own client takes the signed
/// stand-down and warns of nothing; with the duress passphrase it prints
/// the same and alerts.
#[test]
fn trip_end_on_trips_only_arms_nothing_and_a_duress_end_reads_the_same_and_alerts() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let env = server_env(&[("AMAN_COOLING_OFF", "1s")]);
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &env);
    let alarm = [("AMAN_ALARM_SLACK", "0")];
    let mut printed = Vec::new();
    for (name, pass) in [("calm", NORMAL), ("forced", DURESS)] {
        let (member, alice) = member_with_alice(dir.path(), &server.url, name);
        json(&member, NORMAL, &["checkin"]);
        // Asked for, then the schedule in force asked for again: the waiting change is dropped.
        json(&member, NORMAL, &["schedule", "set", "--trips-only", "--grace", "1s"]);
        let again = json(&member, NORMAL, &["schedule", "set", "--every", "1h", "--grace", "1h"]);
        assert_eq!(again["applied"], true, "{again}");
        let status = json(&member, NORMAL, &["status"]);
        assert_eq!(status["pending_changes"], serde_json::json!([]), "nothing waits at the server: {status}");
        let set = json(&member, NORMAL, &["schedule", "set", "--trips-only", "--max-trip", "1h", "--grace", "1s"]);
        assert_eq!(set["applied"], false, "trips only weakens: it waits out the cooling-off: {set}");
        let told = json(&alice, ALICE, &["alerts"]);
        let kinds: Vec<_> = told["notices"].as_array().unwrap().iter().map(|n| n["kind"].clone()).collect();
        assert_eq!(kinds.last(), Some(&"policy_weakening".into()), "Alice is told at once: {told}");
        std::thread::sleep(Duration::from_millis(2500));
        assert_eq!(json(&member, NORMAL, &["schedule", "show"])["trips_only"], true);

        // (Back by 10 s: the end reaches the server first even on a slow machine.)
        let trip = json(&member, NORMAL, &["trip", "start", "--back-by", "10s", "--note", "at the square"]);
        let back_by = trip["trip"]["back_by"].as_u64().unwrap();
        let text = aman(&member, pass, &["trip", "end"]);
        assert!(text.status.success(), "{}", String::from_utf8_lossy(&text.stderr));
        printed.push((masked(&text), String::from_utf8_lossy(&text.stderr).into_owned()));
        let status = String::from_utf8_lossy(&aman(&member, pass, &["status"]).stdout).into_owned();
        assert!(status.contains("No check-in is due: trips only"), "{status}");

        // Well past the trip's return time and grace (1 s), and a dispatch.
        super::wait_until_unix(back_by + 4);
        let seen = aman_tests::aman_env(&alice, ALICE, &["--json", "alerts", "--all"], &alarm);
        assert!(seen.status.success(), "{}", String::from_utf8_lossy(&seen.stderr));
        let seen: Value = serde_json::from_slice(&seen.stdout).unwrap();
        assert_eq!(seen["unconfirmed"], serde_json::json!([]), "the contact's client takes the stand-down: {seen}");
        assert_eq!(seen["ignored_heartbeats"], serde_json::json!([]), "{seen}");
        let reasons: Vec<_> = seen["alerts"].as_array().unwrap().iter().map(|a| a["reason"].clone()).collect();
        if pass == DURESS {
            assert_eq!(reasons, ["duress"], "a duress trip end alerts");
        } else {
            assert!(reasons.is_empty(), "an ended trip on trips only alerts nobody: {reasons:?}");
        }
    }
    assert_eq!(printed[0], printed[1], "what the captor sees is the same");
    assert!(printed[0].0.contains("No check-in is due until your next trip"), "{}", printed[0].0);
}

#[test]
fn a_trip_stays_within_the_schedule_and_fixed_times_cross_midnight_and_dst() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let env = server_env(&[("AMAN_COOLING_OFF", "1s")]);
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &env);
    let (member, _alice) = member_with_alice(dir.path(), &server.url, "member");
    let too_long = aman(&member, NORMAL, &["trip", "start", "--back-by", "3h"]);
    assert_eq!(too_long.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&too_long.stderr).contains("at most your schedule's interval (1h)"));
    assert_eq!(aman(&member, NORMAL, &["trip", "end"]).status.code(), Some(1), "no trip to end");

    // 09:00 and 21:00 in Baghdad (UTC+3): a longer wait than 1h, so it
    // waits out the (1 s here) cooling-off.
    let set =
        json(&member, NORMAL, &["schedule", "set", "--at", "09:00,21:00", "--tz", "Asia/Baghdad", "--grace", "30m"]);
    assert_eq!(set["applied"], false, "{set}");
    std::thread::sleep(Duration::from_millis(2100));
    // Across midnight: from 23:30 the next is 09:00 (06:00Z) the next day.
    let shown = json(&member, NORMAL, &["schedule", "show", "--from", "2026-11-27T23:30:00+03:00"]);
    let due: Vec<u64> = shown["due"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap()).collect();
    let midnight_nov_28 = 1_795_824_000; // 2026-11-28T00:00:00Z
    assert_eq!(
        due,
        [
            midnight_nov_28 + 6 * 3600,
            midnight_nov_28 + 18 * 3600,
            midnight_nov_28 + 30 * 3600,
            midnight_nov_28 + 42 * 3600
        ]
    );
    // A check-in now is due at the next listed time.
    let expected = json(&member, NORMAL, &["schedule", "show"])["due"][0].as_u64().unwrap();
    let checked = json(&member, NORMAL, &["checkin"]);
    assert_eq!(checked["next_due"].as_u64().unwrap(), expected);

    // Across New York's spring-forward (2026-03-08 02:00 EST -> 03:00 EDT):
    // 02:30 does not exist that day and is taken as 03:30 EDT (07:30Z);
    // the day after it is 06:30Z.
    json(&member, NORMAL, &["schedule", "set", "--at", "02:30", "--tz", "America/New_York", "--grace", "30m"]);
    std::thread::sleep(Duration::from_millis(2100));
    let shown = json(&member, NORMAL, &["schedule", "show", "--from", "2026-03-07T12:00:00-05:00"]);
    let march_8 = midnight_nov_28 - 265 * 86_400; // 2026-03-08T00:00:00Z
    assert_eq!(shown["due"][0].as_u64(), Some(march_8 + 7 * 3600 + 1800), "{shown}");
    assert_eq!(shown["due"][1].as_u64(), Some(march_8 + 86_400 + 6 * 3600 + 1800), "{shown}");
    assert_eq!(shown["at"]["tz"], "America/New_York");
}

#[test]
fn a_pause_moves_a_deadline_to_its_end_and_resume_checks_in() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let env = server_env(&[("AMAN_COOLING_OFF", "1s")]);
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &env);
    let (member, alice) = member_with_alice(dir.path(), &server.url, "member");
    // (A deadline 7 s away: the pause, with its 1 s cooling-off, is in force
    // before it even on a slow machine.)
    json(&member, NORMAL, &["schedule", "set", "--every", "6s", "--grace", "1s"]);
    let deadline = json(&member, NORMAL, &["checkin"])["deadline"].as_u64().unwrap();
    // Paused until 6 s after that deadline: it moves to the pause's end plus the grace.
    let until = deadline + 6;
    let paused =
        json(&member, NORMAL, &["schedule", "pause", "--until", &format!("{}s", until - aman_client::api::unix_now())]);
    assert_eq!(paused["applied"], false, "a pause weakens: it waits out the cooling-off");
    let status = String::from_utf8_lossy(&aman(&member, NORMAL, &["status"]).stdout).into_owned();
    assert!(status.contains("Paused from"), "{status}");
    // Past the old deadline (and its dispatch): nothing.
    let start = Instant::now();
    super::wait_until_unix(deadline + 3);
    assert!(alerts(&alice).is_empty(), "a deadline inside the pause does not fire");
    // After the pause's end and the grace, the member is missed.
    let seen = await_alerts(&alice, Duration::from_secs(20), |a| !a.is_empty());
    assert_eq!(seen.first().map(|a| a["reason"].clone()), Some("missed".into()), "{seen:?}");
    let fired = seen[0]["fired_at"].as_u64().unwrap();
    assert!(fired >= until, "fired at {fired}, the pause ended at {until} ({:?})", start.elapsed());

    // Paused with no end, then resumed with the duress passphrase: a check-in, so a duress alert.
    json(&member, NORMAL, &["schedule", "set", "--every", "1h", "--grace", "1h"]);
    json(&member, NORMAL, &["schedule", "pause"]);
    std::thread::sleep(Duration::from_millis(1500));
    let resumed = aman(&member, DURESS, &["--json", "schedule", "resume"]);
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    let v: Value = serde_json::from_slice(&resumed.stdout).unwrap();
    assert_eq!(v["resumed"], true);
    let seen = await_alerts(&alice, Duration::from_secs(20), |a| a.iter().any(|x| x["reason"] == "duress"));
    assert!(seen.iter().any(|x| x["reason"] == "duress"), "{seen:?}");
}

#[test]
fn resume_drops_a_pause_still_waiting_and_an_end_given_to_an_open_pause_arms_it() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let env = server_env(&[("AMAN_COOLING_OFF", "2s")]);
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &env);

    // A pause still waiting out its cooling-off, then resume: the pause is
    // dropped (the contacts are told), and a missed deadline still alerts.
    let (member, alice) = member_with_alice(dir.path(), &server.url, "waiting");
    json(&member, NORMAL, &["schedule", "set", "--every", "3s", "--grace", "1s"]);
    assert_eq!(json(&member, NORMAL, &["schedule", "pause"])["applied"], false);
    let resumed = json(&member, NORMAL, &["schedule", "resume"]);
    assert_eq!(resumed["resumed"], true);
    let status = json(&member, NORMAL, &["status"]);
    assert_eq!(status["pending_changes"], serde_json::json!([]), "{status}");
    let seen = await_alerts(&alice, Duration::from_secs(20), |a| a.iter().any(|x| x["reason"] == "missed"));
    assert!(seen.iter().any(|x| x["reason"] == "missed"), "not paused after all: {seen:?}");

    // An open pause lets a deadline go; giving it an end arms the member at that end.
    // (A deadline 11 s away: the pause, with its 2 s cooling-off, is in
    // force before it even on a slow machine.)
    let (member, alice) = member_with_alice(dir.path(), &server.url, "open");
    json(&member, NORMAL, &["schedule", "set", "--every", "10s", "--grace", "1s"]);
    let deadline = json(&member, NORMAL, &["checkin"])["deadline"].as_u64().unwrap();
    json(&member, NORMAL, &["schedule", "pause"]);
    // In force, and the deadline passed (with its dispatch) unfired.
    super::wait_until_unix(deadline + 3);
    assert!(alerts(&alice).is_empty());
    let ended = json(&member, NORMAL, &["schedule", "pause", "--until", "2s"]);
    assert_eq!(ended["applied"], true, "an earlier end strengthens: {ended}");
    let seen = await_alerts(&alice, Duration::from_secs(20), |a| !a.is_empty());
    assert_eq!(seen.first().map(|a| a["reason"].clone()), Some("missed".into()), "due at the pause's end: {seen:?}");
}

/// The server holds one waiting change: a removal asked for while a pause
/// waits waits with it, and resuming the waiting pause drops both. The
/// member's book follows: the contact stays linked, and the member is told.
#[test]
fn a_removal_waits_with_a_pause_and_resuming_drops_both_and_says_so() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let env = server_env(&[("AMAN_COOLING_OFF", "1h")]);
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &env);
    let member = dir.path().join("member");
    assert!(aman(&member, PASSES, &["init", "--server", &server.url]).status.success());
    // Both accept before the member links either: they count at once, together.
    for label in ["alice", "bashir"] {
        let code = json(&member, NORMAL, &["contact", "invite", "--label", label])["code"].as_str().unwrap().to_owned();
        let home = dir.path().join(label);
        assert!(aman(&home, ALICE, &["contact", "accept", &code, "--label", "Noor"]).status.success());
    }
    json(&member, NORMAL, &["schedule", "set", "--every", "1h", "--grace", "1h"]);
    assert_eq!(json(&member, NORMAL, &["schedule", "pause"])["applied"], false, "a pause waits");
    let removed = json(&member, NORMAL, &["contact", "remove", "bashir"]);
    assert_eq!(removed["applied"], false, "removing an active contact waits: {removed}");
    let status = json(&member, NORMAL, &["status"]);
    assert_eq!(status["pending_changes"].as_array().map(Vec::len), Some(1), "one waiting change: {status}");
    assert_eq!(status["pending_changes"][0]["policy"]["paused"], true, "the pause waits with the removal: {status}");

    let out = aman(&member, NORMAL, &["schedule", "resume"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Removing bashir waited with it and is dropped too"), "{text}");
    let list = json(&member, NORMAL, &["contact", "list"]);
    let bashir = list["contacts"].as_array().unwrap().iter().find(|c| c["label"] == "bashir").cloned();
    assert_eq!(bashir.map(|c| c["removing_at"].clone()), Some(Value::Null), "bashir stays, as at the server: {list}");
    assert_eq!(json(&member, NORMAL, &["status"])["pending_changes"], serde_json::json!([]));
}
