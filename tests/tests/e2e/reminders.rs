//! Reminders to the member (issue 12), through the real binaries: the
//! member's own webhook hears, before the due time and before the grace
//! ends, that a check-in is due soon, and nothing more (no note, location or
//! name); a check-in that moves the deadline cancels the old deadline's
//! reminders; after a duress check-in the reminders are the same.

use super::aman_json as json;
use super::pass::{DURESS, MEMBER_PASSES as PASSES, NORMAL};
use super::server_env;
use aman_tests::{aman, Receiver, ServerProcess};
use serde_json::Value;
use std::path::Path;
use std::time::Duration;

/// (next_due, deadline) of a check-in's reply.
fn checkin(home: &Path, pass: &str) -> (u64, u64) {
    let v = json(home, pass, &["checkin", "--location", "Karrada"]);
    (v["next_due"].as_u64().unwrap(), v["deadline"].as_u64().unwrap())
}

/// The reminders received at or after `from_ms`.
fn since(hook: &Receiver, from_ms: u64) -> Vec<aman_tests::receiver::Hit> {
    hook.hits().into_iter().filter(|h| h.unix_ms >= from_ms).collect()
}

/// What does not vary between two reminders (the idempotency key aside).
fn shape(hit: &aman_tests::receiver::Hit) -> String {
    let mut body = hit.body.clone();
    body["idempotency_key"] = Value::Null;
    let mut headers: Vec<String> = hit
        .headers
        .iter()
        .filter(|(k, _)| !["idempotency-key", "x-aman-signature", "content-length", "host"].contains(&k.as_str()))
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    headers.sort();
    format!("{}\n{body}", headers.join("\n"))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

fn assert_arrived_at(hit: &aman_tests::receiver::Hit, at: u64, what: &str) {
    let at_ms = at * 1000;
    assert!(hit.unix_ms >= at_ms && hit.unix_ms <= at_ms + 2500, "{what}: at {} for {at_ms}", hit.unix_ms);
}

#[test]
fn reminders_come_before_the_due_time_and_the_grace_end_and_follow_the_deadline() {
    let _shared = super::LOAD.blocking_read();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server =
        ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[("AMAN_MIN_REMINDER", "1s")]));
    let hook = rt.block_on(Receiver::start("127.0.0.1:0")).unwrap();
    let (member, alice) = (dir.path().join("member"), dir.path().join("alice"));
    assert!(aman(&member, PASSES, &["init", "--server", &server.url]).status.success());
    let code = json(&member, NORMAL, &["contact", "invite", "--label", "alice"])["code"].as_str().unwrap().to_owned();
    assert!(aman(&alice, "alice-pass-harbor\n", &["contact", "accept", &code, "--label", "Noor"]).status.success());
    json(&member, NORMAL, &["schedule", "set", "--every", "10s", "--grace", "10s", "--note", "at the old bridge"]);

    // Bad input stores nothing and says why.
    let out = aman(&member, NORMAL, &["--json", "remind", "set", "--before", "1m"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("invalid_reminders"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = aman(&member, NORMAL, &["remind", "add", "webhook", "ftp://example.org/x"]);
    assert!(!out.status.success());

    let added = json(&member, NORMAL, &["remind", "add", "webhook", &format!("{}/remind", hook.url)]);
    assert!(added["secret"].as_str().is_some(), "{added}");
    json(&member, NORMAL, &["remind", "set", "--before", "2s"]);
    let listed = json(&member, NORMAL, &["remind", "list"]);
    assert_eq!(listed["before"], serde_json::json!([2]));
    assert_eq!(listed["targets"].as_array().unwrap().len(), 1);

    // A check-in: reminded 2 s before it is due and 2 s before the grace ends.
    let (due, deadline) = checkin(&member, NORMAL);
    let seen = rt.block_on(hook.await_hits(Duration::from_secs(40), |h| h.len() >= 2));
    assert_eq!(seen.len(), 2, "two reminders");
    assert_arrived_at(&seen[0], due - 2, "before the due time");
    assert_arrived_at(&seen[1], deadline - 2, "before the grace ends");
    for hit in &seen {
        assert_eq!(hit.body["type"], "aman.reminder");
        let raw = String::from_utf8_lossy(&hit.raw);
        for word in ["old bridge", "Karrada", "alice", "Noor", "missed", "duress", &deadline.to_string()] {
            assert!(!raw.contains(word), "a reminder says `{word}`: {raw}");
        }
    }
    assert_eq!(shape(&seen[0]), shape(&seen[1]), "the same words before the due time and the grace end");

    // Checked in again, and 4 s later once more, with the duress passphrase:
    // the first check-in's reminders never come (its deadline moved), the
    // second's do, and read as any other.
    let (old_due, old_deadline) = checkin(&member, NORMAL);
    let after_ms = seen[1].unix_ms + 1;
    std::thread::sleep(Duration::from_secs(4));
    let (new_due, _) = checkin(&member, DURESS);
    assert!(new_due >= old_due + 4);
    // Past the old deadline's reminder time.
    let until_ms = (old_deadline - 2) * 1000 + 3000;
    std::thread::sleep(Duration::from_millis(until_ms.saturating_sub(now_ms())));
    // (Up to that time only: the new deadline's own reminder comes a second
    // or two later, and a stalled machine could read it here too.)
    let later: Vec<_> = since(&hook, after_ms).into_iter().filter(|h| h.unix_ms < until_ms).collect();
    let near = |h: &aman_tests::receiver::Hit, at: u64| h.unix_ms >= at * 1000 && h.unix_ms <= at * 1000 + 2500;
    assert!(!later.iter().any(|h| near(h, old_due - 2) || near(h, old_deadline - 2)), "the old deadline's: {later:?}");
    assert_eq!(later.len(), 1, "the new due time's reminder: {later:?}");
    assert_arrived_at(&later[0], new_due - 2, "before the new due time");
    assert_eq!(shape(&later[0]), shape(&seen[0]), "after a duress check-in, the same reminder");
    drop(server);
}
