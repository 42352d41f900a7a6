//! Contacts enforce the deadline themselves: a server that stops alerting,
//! killed or tampered with, is caught by the contact client from the
//! member's own signed heartbeat.

use super::{free_port, server_env};
use aman_server::store::{Op, SledStore, Store};
use aman_tests::{aman, aman_env, spawn_aman, ServerProcess};
use serde_json::Value;
use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

/// The contact client waits this long after a deadline for the server's alert.
const SLACK: &str = "2";

fn ok_json(out: &Output) -> Value {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn alerts(home: &Path) -> (Option<i32>, Value, String) {
    let env = [("AMAN_ALARM_SLACK", SLACK)];
    let json = aman_env(home, "alice-pass-harbor\n", &["--json", "alerts", "--all"], &env);
    let text = aman_env(home, "alice-pass-harbor\n", &["alerts", "--all"], &env);
    let value = serde_json::from_slice(&json.stdout).unwrap_or(Value::Null);
    (json.status.code(), value, String::from_utf8_lossy(&text.stdout).into_owned())
}

fn sleep_until(unix: u64) {
    let now = aman_client::api::unix_now();
    if unix > now {
        std::thread::sleep(Duration::from_secs(unix - now));
    }
}

#[test]
fn a_contact_catches_a_server_that_stops_alerting_and_the_warning_clears_when_it_alerts() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let listen = format!("127.0.0.1:{}", free_port());
    let server = ServerProcess::start(&data, &listen, &server_env(&[("AMAN_OUTAGE_GRACE", "2s")]));
    let member = dir.path().join("member");
    let alice = dir.path().join("alice");
    let out = aman(&member, "n0rmal-river-lamp\ndur3ss-cloud-fig\n", &["init", "--server", &server.url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let code = ok_json(&aman(&member, "n0rmal-river-lamp\n", &["--json", "contact", "invite", "--label", "alice"]))
        ["code"]
        .as_str()
        .unwrap()
        .to_owned();
    ok_json(&aman(
        &alice,
        "alice-pass-harbor\nalice-duress-violet\n",
        &["--json", "contact", "accept", &code, "--label", "Noor"],
    ));
    ok_json(&aman(&member, "n0rmal-river-lamp\n", &["--json", "contact", "list"]));
    ok_json(&aman(&member, "n0rmal-river-lamp\n", &["--json", "schedule", "set", "--every", "4s", "--grace", "1s"]));
    let deadline = ok_json(&aman(&member, "n0rmal-river-lamp\n", &["--json", "checkin"]))["deadline"].as_u64().unwrap();

    // Alice's client fetches and verifies the heartbeat while all is well.
    let (code, seen, _) = alerts(&alice);
    assert_eq!(code, Some(0));
    assert_eq!(seen["unconfirmed"], serde_json::json!([]), "{seen}");

    // The server dies before the deadline. A watching contact and a contact
    // who asks later both hear it from their own client.
    let stopped = server.kill9();
    let watch = spawn_aman(
        &alice,
        "alice-pass-harbor\n",
        &["--json", "alerts", "watch", "--count", "1"],
        &[("AMAN_ALARM_SLACK", SLACK)],
    );
    sleep_until(deadline + 4);
    let (code, seen, text) = alerts(&alice);
    assert_eq!(code, Some(3), "the server is unreachable: exit 3, and the warning is still shown");
    assert_eq!(seen["unconfirmed"][0]["member"], "Noor", "{seen}");
    assert_eq!(seen["unconfirmed"][0]["server_reachable"], false);
    assert_eq!(seen["unconfirmed"][0]["deadline"], deadline);
    assert!(text.contains("no sign of life from Noor since"), "{text}");
    let watched = super::finish_within(watch, Duration::from_secs(20));
    let line: Value = serde_json::from_slice(&watched.stdout).unwrap_or(Value::Null);
    assert_eq!(line["unconfirmed"]["member"], "Noor", "{}", String::from_utf8_lossy(&watched.stdout));

    // Back up, the server fires the missed alert (after its outage grace):
    // the warning clears.
    let server = stopped.restart();
    let start = Instant::now();
    let seen = loop {
        let (code, seen, _) = alerts(&alice);
        if code == Some(0) && seen["alerts"].as_array().is_some_and(|a| !a.is_empty()) {
            break seen;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no alert after the restart: {seen}");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(seen["alerts"][0]["reason"], "missed");
    assert_eq!(seen["unconfirmed"], serde_json::json!([]), "{seen}");

    // A late check-in is news the contact can check: the member's own
    // device signed a heartbeat after the alert.
    let status = ok_json(&aman(&member, "n0rmal-river-lamp\n", &["--json", "status"]));
    let account: aman_protocol::AccountId = status["account"].as_str().unwrap().parse().unwrap();
    ok_json(&aman(&member, "n0rmal-river-lamp\n", &["--json", "schedule", "set", "--every", "8s", "--grace", "1s"]));
    let deadline = ok_json(&aman(&member, "n0rmal-river-lamp\n", &["--json", "checkin"]))["deadline"].as_u64().unwrap();
    // The notice comes when the check-in's signal is read (after the dispatch delay).
    let start = Instant::now();
    let (seen, text) = loop {
        let (_, seen, text) = alerts(&alice);
        if seen["alerts"][0]["notices"].as_array().is_some_and(|n| !n.is_empty()) || start.elapsed().as_secs() > 20 {
            break (seen, text);
        }
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(seen["alerts"][0]["notices"][0]["kind"], "checked_in_late", "{seen}");
    assert_eq!(seen["alerts"][0]["notices"][0]["verified"], true, "{seen}");
    assert!(text.contains("verified: the member's device signed a check-in after the alert"), "{text}");

    // A tampered server: the deadline is deleted from its store (with the
    // live state that holds it), so it never fires. It answers every
    // request; the contact still warns.
    let stopped = server.stop();
    let store = SledStore::open(&data.join("db")).unwrap();
    store.apply(vec![Op::DeleteLive(account)]).unwrap();
    store.flush().unwrap();
    drop(store);
    // The store's flusher thread lets go of sled's lock a moment after the
    // drop: the restarted server must not find it still held.
    let lock = std::fs::File::open(data.join("db").join("db")).unwrap();
    let start = Instant::now();
    while rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "the database stayed locked");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(lock);
    let server = stopped.restart();
    sleep_until(deadline + 4);
    let (code, seen, text) = alerts(&alice);
    assert_eq!(code, Some(0));
    assert_eq!(seen["alerts"].as_array().unwrap().len(), 1, "the server fired nothing: {seen}");
    assert_eq!(seen["unconfirmed"][0]["member"], "Noor", "{seen}");
    assert_eq!(seen["unconfirmed"][0]["server_reachable"], true);
    assert!(
        text.contains("no sign of life from Noor") && text.contains("the server has not confirmed an alert"),
        "{text}"
    );
    drop(server);
}
