//! A member on two servers run by different organizers: taking one down
//! (here `kill -9`, left down) makes alerts more likely, not less. The
//! other server alerts both contacts, each sees the event once, both are
//! told which server is down, an acknowledgement stops escalation on both,
//! and the member's output with one server down is the same whichever
//! passphrase checked in.

use super::pass::{DURESS, MEMBER_PASSES, NORMAL};
use super::{free_port, server_env};
use aman_tests::{aman, aman_env, spawn_aman, Receiver, ServerProcess};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Output;
use std::time::{Duration, Instant};

struct Contact {
    home: PathBuf,
    pass: String,
}

impl Contact {
    /// `aman alerts`, with the wait before a newly listed server is read cut to nothing.
    fn alerts_raw(&self) -> (Option<i32>, Value) {
        self.alerts_with_wait("0")
    }

    fn alerts_with_wait(&self, wait: &str) -> (Option<i32>, Value) {
        let env = [("AMAN_NEW_SERVER_WAIT", wait)];
        let out = aman_env(&self.home, &format!("{}\n", self.pass), &["--json", "alerts", "--all"], &env);
        (out.status.code(), serde_json::from_slice(&out.stdout).unwrap_or(Value::Null))
    }

    /// Polls `aman alerts` until `pred` holds (30 s at most).
    fn await_view(&self, what: &str, pred: impl Fn(&Value) -> bool) -> (Option<i32>, Value) {
        let start = Instant::now();
        loop {
            let (code, view) = self.alerts_raw();
            if pred(&view) {
                return (code, view);
            }
            assert!(start.elapsed() < Duration::from_secs(30), "{what}: {view}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

fn ok(out: Output) -> Value {
    assert!(out.status.success(), "{}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    json(&out)
}

/// The alerts of one reason in a contact's view.
fn of_reason<'a>(view: &'a Value, reason: &str) -> Vec<&'a Value> {
    view["alerts"].as_array().map(|a| a.iter().filter(|x| x["reason"] == reason).collect()).unwrap_or_default()
}

/// What a member's check-in printed, with what differs from one check-in to
/// the next (times, the counter, the deadline) masked.
fn masked(text: &str) -> String {
    let mut out = String::new();
    for c in text.chars() {
        out.push(if c.is_ascii_digit() { '#' } else { c });
    }
    out
}

fn masked_json(mut v: Value) -> Value {
    for key in ["counter", "next_due", "deadline"] {
        if v.get(key).is_some() {
            v[key] = Value::from("masked");
        }
    }
    v
}

fn same_server(a: &str, b: &str) -> bool {
    a.trim_end_matches('/') == b.trim_end_matches('/')
}

/// Whether a contact's view names `server` as one it cannot read.
fn names_down(view: &Value, server: &str) -> bool {
    view["servers_down"]
        .as_array()
        .is_some_and(|d| d.iter().any(|d| d["server"].as_str().is_some_and(|s| same_server(s, server))))
}

fn servers_of(view: &Value) -> Vec<String> {
    view["member_servers"][0]["servers"]
        .as_array()
        .map(|s| s.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

#[test]
fn with_one_of_two_servers_killed_the_other_alerts_every_contact_once_and_names_the_one_down() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let env = server_env(&[("AMAN_ESCALATION_DELAY", "6s"), ("AMAN_OUTAGE_GRACE", "2s"), ("AMAN_COOLING_OFF", "1s")]);
    let first = ServerProcess::start(&dir.path().join("first"), &format!("127.0.0.1:{}", free_port()), &env);
    let second = ServerProcess::start(&dir.path().join("second"), &format!("127.0.0.1:{}", free_port()), &env);
    let member = dir.path().join("member");
    ok(aman(&member, MEMBER_PASSES, &["init", "--server", &first.url]));

    // The second server: both passphrases, normal first, as at init.
    let added = ok(aman(&member, MEMBER_PASSES, &["--json", "server", "add", &second.url]));
    assert!(same_server(added["added"].as_str().unwrap(), &second.url), "{added}");
    assert_eq!(added["servers"], 2);

    // Pairing once: alice (tier 1) and bashir (tier 2) get both servers.
    let mut contacts = Vec::new();
    for (label, tier) in [("alice", "1"), ("bashir", "2")] {
        let code = ok(aman(&member, NORMAL, &["--json", "contact", "invite", "--label", label, "--tier", tier]))
            ["code"]
            .as_str()
            .unwrap()
            .to_owned();
        let c = Contact { home: dir.path().join(label), pass: format!("{label}-pass-harbor") };
        ok(aman(
            &c.home,
            &format!("{}\n{label}-duress-violet\n", c.pass),
            &["--json", "contact", "accept", &code, "--label", "Noor"],
        ));
        contacts.push(c);
    }
    // Alice's channel, added once: it is added on the member's other server
    // when her client learns it.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let receiver = runtime.block_on(Receiver::start("127.0.0.1:0")).unwrap();
    let hook = format!("{}/hook", receiver.url);
    ok(aman(&contacts[0].home, &format!("{}\n", contacts[0].pass), &["--json", "notify", "add", "webhook", &hook]));
    let listed = ok(aman(&member, NORMAL, &["--json", "contact", "list"]));
    assert!(listed["contacts"].as_array().unwrap().iter().all(|c| c["state"] == "linked"), "{listed}");
    let (alice, bashir) = (&contacts[0], &contacts[1]);
    // A server the member's directory names for the first time is announced,
    // and read only after a wait (a day by default): a server added against
    // the member's will is noticed before it learns anything of the contact.
    let start = Instant::now();
    let waiting = loop {
        let (_, view) = bashir.alerts_with_wait("3600");
        if view["member_servers"][0]["waiting"].as_array().is_some_and(|w| !w.is_empty()) {
            break view;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no server waiting: {view}");
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(servers_of(&waiting).len(), 1, "only the first server is read meanwhile: {waiting}");
    assert!(same_server(waiting["member_servers"][0]["waiting"][0]["server"].as_str().unwrap(), &second.url));
    for c in [alice, bashir] {
        // (A contact linked beside another reads the member's directory once
        // the cooling-off has passed, as it does heartbeats.)
        let (code, view) = c.await_view("both servers", |v| servers_of(v).len() == 2);
        assert_eq!(code, Some(0), "{view}");
        let servers = servers_of(&view);
        assert_eq!(servers.len(), 2, "{view}");
        assert!(
            servers.iter().any(|s| same_server(s, &first.url)) && servers.iter().any(|s| same_server(s, &second.url))
        );
    }
    let listed = ok(aman(&member, NORMAL, &["--json", "server", "list"]));
    assert_eq!(listed["servers"].as_array().unwrap().len(), 2, "{listed}");

    // Check-ins reach both.
    ok(aman(
        &member,
        NORMAL,
        &["--json", "schedule", "set", "--every", "6s", "--grace", "2s", "--note", "Meeting at the union office"],
    ));
    let checked = ok(aman(&member, NORMAL, &["--json", "checkin"]));
    let servers = checked["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 2, "{checked}");
    assert!(servers.iter().all(|s| s["ok"] == true), "{checked}");
    let listed = ok(aman(&member, NORMAL, &["--json", "server", "list"]));
    assert!(
        listed["servers"].as_array().unwrap().iter().all(|s| s["reachable"] == true && s["deadline"].is_u64()),
        "{listed}"
    );
    // Both contacts verify the heartbeat through each server; nothing is due.
    for c in [alice, bashir] {
        let (code, view) = c.alerts_raw();
        assert_eq!(code, Some(0), "{view}");
        assert_eq!(view["alerts"], serde_json::json!([]), "{view}");
    }

    // Two panics, the same note: each server alerts for each. A watching
    // contact sees two events, not one (a later event is not a copy of an
    // earlier one) and not four (each is one event, whichever servers fired).
    let watch = spawn_aman(
        &alice.home,
        &format!("{}\n", alice.pass),
        &["--json", "alerts", "watch", "--count", "3"],
        &[("AMAN_NEW_SERVER_WAIT", "0")],
    );
    std::thread::sleep(Duration::from_secs(2));
    ok(aman(&member, NORMAL, &["--json", "panic"]));
    std::thread::sleep(Duration::from_secs(1));
    ok(aman(&member, NORMAL, &["--json", "panic"]));
    let panicked = Instant::now();
    // Alice acknowledges the first at once, on one server: her client makes
    // it on the other too, so neither escalates it to bashir.
    let (_, view) = alice.await_view("both panics from both servers", |v| {
        of_reason(v, "panic").iter().filter(|p| p["servers"].as_array().is_some_and(|s| s.len() == 2)).count() == 2
    });
    let older = of_reason(&view, "panic").into_iter().min_by_key(|p| p["fired_at"].as_u64()).unwrap().clone();
    let acked = ok(aman_env(
        &alice.home,
        &format!("{}\n", alice.pass),
        &["--json", "alerts", "ack", older["alert"].as_str().unwrap()],
        &[("AMAN_NEW_SERVER_WAIT", "0")],
    ));
    assert_eq!(acked["also_acknowledged"].as_array().map(Vec::len), Some(1), "{acked}");
    let watched = super::finish_within(watch, Duration::from_secs(15));
    let panics: Vec<Value> = String::from_utf8_lossy(&watched.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["reason"] == "panic")
        .collect();
    // The acknowledgement is a change to the first panic, shown again when
    // the watch read the panic before it (a slow machine): a line for the
    // same event, never one for another server's copy.
    let events: std::collections::BTreeSet<&str> = panics.iter().filter_map(|p| p["alert"].as_str()).collect();
    assert_eq!(events.len(), 2, "{}", String::from_utf8_lossy(&watched.stdout));
    assert!(panics.len() <= 3, "{}", String::from_utf8_lossy(&watched.stdout));
    // Past the escalation delay (6 s), bashir has the second panic from
    // both servers, and the first from neither.
    std::thread::sleep(Duration::from_secs(10).saturating_sub(panicked.elapsed()));
    let (_, view) = bashir.await_view("the second panic, escalated", |v| !of_reason(v, "panic").is_empty());
    let escalated = of_reason(&view, "panic");
    assert_eq!(escalated.len(), 1, "{view}");
    assert_ne!(escalated[0]["alert"], older["alert"]);
    assert!(escalated[0]["copies"].as_array().unwrap().iter().all(|c| c["alert"] != older["alert"]), "{view}");

    // The second server dies and stays down. A check-in with either
    // passphrase succeeds through the first, says the same, exits 4, and
    // names the server it could not reach.
    let second_url = second.url.clone();
    let stopped = second.kill9();
    let normal = aman(&member, NORMAL, &["checkin"]);
    let duress = aman(&member, DURESS, &["checkin"]);
    for out in [&normal, &duress] {
        assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("Checked in.") && text.contains("Not reached:") && text.contains(second_url.as_str()),
            "{text}"
        );
    }
    assert_eq!(masked(&String::from_utf8_lossy(&normal.stdout)), masked(&String::from_utf8_lossy(&duress.stdout)));
    assert_eq!(normal.stderr, duress.stderr);
    let normal = aman(&member, NORMAL, &["--json", "checkin"]);
    let duress_json = aman(&member, DURESS, &["--json", "checkin"]);
    assert_eq!(normal.status.code(), duress_json.status.code());
    assert_eq!(
        masked_json(json(&normal)),
        masked_json(json(&duress_json)),
        "the same JSON, but for times and the counter"
    );
    let down = json(&normal)["servers"].as_array().unwrap().iter().find(|s| s["ok"] == false).cloned().unwrap();
    assert_eq!(down["error"], "server_unreachable");

    // The duress check-ins alert through the first server: alice sees one
    // duress event, and is told which server is down.
    let (code, view) = alice.await_view("a duress alert", |v| !of_reason(v, "duress").is_empty());
    assert_eq!(code, Some(4), "one of the member's servers cannot be read: {view}");
    assert!(names_down(&view, &second_url), "{view}");

    // The member then misses the deadline: the first server alerts both
    // contacts (bashir after the escalation delay), each sees it once.
    let (_, view) = alice.await_view("a missed alert", |v| !of_reason(v, "missed").is_empty());
    assert_eq!(of_reason(&view, "missed").len(), 1, "{view}");
    let missed = of_reason(&view, "missed")[0].clone();
    assert_eq!(missed["note"], "Meeting at the union office");
    let (code, view) = bashir.await_view("the escalated missed alert", |v| !of_reason(v, "missed").is_empty());
    assert_eq!(code, Some(4));
    assert_eq!(of_reason(&view, "missed").len(), 1, "{view}");
    assert!(names_down(&view, &second_url), "{view}");

    // Alice acknowledges it (on the first server: the second is down).
    let id = missed["alert"].as_str().unwrap();
    let acked = ok(aman_env(
        &alice.home,
        &format!("{}\n", alice.pass),
        &["--json", "alerts", "ack", id],
        &[("AMAN_NEW_SERVER_WAIT", "0")],
    ));
    assert_eq!(acked["member"], "Noor");

    // The second server comes back and fires its own missed alert (the
    // deadline it knew passed while it was down). Alice sees one event
    // fired by both, and her client acknowledges it there too.
    let second = stopped.restart();
    let (code, view) = alice.await_view("the second server's copy", |v| {
        of_reason(v, "missed").first().is_some_and(|m| m["servers"].as_array().is_some_and(|s| s.len() == 2))
    });
    assert_eq!(code, Some(0), "both servers answer again: {view}");
    assert_eq!(of_reason(&view, "missed").len(), 1, "one event, whichever servers fired it: {view}");
    // The server that was down relays an older heartbeat: not a warning.
    assert_eq!(view["ignored_heartbeats"], serde_json::json!([]), "{view}");
    // Each change the member made is told once, though both servers told it.
    let told: Vec<String> = view["notices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| format!("{} {}", n["kind"], n["new_contact_safety_number"]))
        .collect();
    let mut distinct = told.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), told.len(), "{view}");
    let (_, view) = alice.await_view("the acknowledgement on both servers", |v| {
        of_reason(v, "missed")[0]["copies"]
            .as_array()
            .is_some_and(|c| c.iter().all(|x| x["acknowledged_by_me"] == true))
    });
    assert_eq!(of_reason(&view, "missed")[0]["copies"].as_array().unwrap().len(), 2, "{view}");

    // Bashir, who had the first server's copy, sees one event too.
    let (_, view) = bashir.await_view("one missed event", |v| !of_reason(v, "missed").is_empty());
    assert_eq!(of_reason(&view, "missed").len(), 1, "{view}");

    // Now the first server dies for good. The member checks in through the
    // second alone, then misses again: the second alerts, and alice's
    // channel there wakes her (nothing else is left to send it).
    let first_url = first.url.clone();
    let _first_gone = first.kill9();
    let out = aman(&member, NORMAL, &["--json", "checkin"]);
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    let took: Vec<bool> = json(&out)["servers"].as_array().unwrap().iter().map(|s| s["ok"] == true).collect();
    assert_eq!(took, [false, true], "{}", String::from_utf8_lossy(&out.stdout));
    let before = receiver.hits().len();
    let hits = runtime.block_on(receiver.await_hits(Duration::from_secs(30), |h| h.len() > before));
    assert!(hits.len() > before, "the second server woke alice through her channel");
    let (code, view) = alice.await_view("the second server's own alert", |v| of_reason(v, "missed").len() == 2);
    assert_eq!(code, Some(4), "{view}");
    let newest = of_reason(&view, "missed").into_iter().max_by_key(|a| a["fired_at"].as_u64()).unwrap().clone();
    let from: Vec<&str> = newest["servers"].as_array().unwrap().iter().filter_map(|s| s.as_str()).collect();
    assert!(from.len() == 1 && same_server(from[0], &second.url), "{view}");
    assert!(names_down(&view, &first_url), "{view}");
}

/// `aman server remove`: the server holds the deletion for its cooling-off
/// and tells the contacts there; after it, the member's device forgets the
/// server and the contacts' clients stop reading it (it no longer knows
/// their mailboxes, and the member's newest directory no longer lists it).
#[test]
fn a_removed_server_is_dropped_after_its_cooling_off_by_the_member_and_the_contacts() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let env = server_env(&[("AMAN_COOLING_OFF", "2s")]);
    let first = ServerProcess::start(&dir.path().join("first"), "127.0.0.1:0", &env);
    let second = ServerProcess::start(&dir.path().join("second"), "127.0.0.1:0", &env);
    let member = dir.path().join("member");
    ok(aman(&member, MEMBER_PASSES, &["init", "--server", &first.url]));
    ok(aman(&member, MEMBER_PASSES, &["--json", "server", "add", &second.url]));
    let code = ok(aman(&member, NORMAL, &["--json", "contact", "invite", "--label", "alice"]))["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let alice = Contact { home: dir.path().join("alice"), pass: "alice-pass-harbor".into() };
    ok(aman(
        &alice.home,
        "alice-pass-harbor\nalice-duress-violet\n",
        &["--json", "contact", "accept", &code, "--label", "Noor"],
    ));
    ok(aman(&member, NORMAL, &["--json", "contact", "list"]));
    ok(aman(&member, NORMAL, &["--json", "schedule", "set", "--every", "1h", "--grace", "10m"]));
    ok(aman(&member, NORMAL, &["--json", "checkin"]));
    alice.await_view("both servers", |v| servers_of(v).len() == 2);

    // The first server cannot be removed; the second can, after its cooling-off.
    let refused = aman(&member, NORMAL, &["--json", "server", "remove", &first.url]);
    assert_eq!(refused.status.code(), Some(1));
    let removing = ok(aman(&member, NORMAL, &["--json", "server", "remove", &second.url]));
    let effective_at = removing["effective_at"].as_u64().unwrap();
    let listed = ok(aman(&member, NORMAL, &["--json", "server", "list"]));
    let row = listed["servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| same_server(s["server"].as_str().unwrap(), &second.url))
        .cloned();
    assert_eq!(row.unwrap()["removing_at"], effective_at, "{listed}");
    // Until then it keeps getting the check-ins.
    let checked = ok(aman(&member, NORMAL, &["--json", "checkin"]));
    assert_eq!(checked["servers"].as_array().unwrap().len(), 2, "{checked}");

    // After it: the member's device forgets it at the next check-in and tells
    // the contacts; their clients stop reading it.
    let now = aman_client::api::unix_now();
    std::thread::sleep(Duration::from_secs(effective_at.saturating_sub(now) + 3));
    let checked = ok(aman(&member, NORMAL, &["--json", "checkin"]));
    assert!(checked.get("servers").is_none(), "one server left: {checked}");
    let listed = ok(aman(&member, NORMAL, &["--json", "server", "list"]));
    assert_eq!(listed["servers"].as_array().unwrap().len(), 1, "{listed}");
    let (code, view) =
        alice.await_view("the second server dropped", |v| v["member_servers"].is_null() || servers_of(v).len() == 1);
    assert_eq!(code, Some(0), "nothing is down: {view}");
}
