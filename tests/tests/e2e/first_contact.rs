//! What a trusted contact who is not technical trips over (issue 16): a
//! channel that wakes them for every member, a watch that keeps going and
//! says so, and alerts in plain words.

use super::pass::{ALICE, MEMBER_PASSES, NORMAL as MEMBER};
use super::{aman_json as json, finish_within, ok};
use super::{free_port, server_env};
use aman_tests::{aman, spawn_aman, Receiver, ServerProcess};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A member on `server` with `contact` linked (labelling the member `label`).
fn member_and_contact(dir: &Path, server: &str, name: &str, contact: &Path, label: &str) -> PathBuf {
    let member = dir.join(name);
    ok(&aman(&member, MEMBER_PASSES, &["init", "--server", server]));
    let code = json(&member, MEMBER, &["contact", "invite", "--label", "alice"])["code"].as_str().unwrap().to_owned();
    ok(&aman(contact, ALICE, &["contact", "accept", &code, "--label", label]));
    json(&member, MEMBER, &["contact", "list"]);
    json(&member, MEMBER, &["schedule", "set", "--every", "1h", "--grace", "10m"]);
    member
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_wakes_the_contact_for_every_member_present_and_future() {
    let _shared = super::LOAD.read().await;
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[]));
    let receiver = Receiver::start("127.0.0.1:0").await.unwrap();
    let (root, url, hook) = (dir.path().to_owned(), server.url.clone(), format!("{}/hook", receiver.url));
    let alice = root.join("alice");
    let (first, second) = blocking(move || {
        let first = member_and_contact(&root, &url, "first", &alice, "Noor");
        json(&alice, ALICE, &["notify", "add", "webhook", &hook]);
        // A member accepted after the channel was added.
        let second = member_and_contact(&root, &url, "second", &alice, "Sami");
        let listed = String::from_utf8_lossy(&aman(&alice, ALICE, &["notify", "list"]).stdout).into_owned();
        assert!(listed.contains("wakes you for all 2 member(s)"), "{listed}");
        (first, second)
    })
    .await;
    let before = receiver.hits().len();
    blocking(move || json(&second, MEMBER, &["panic"])).await;
    let hits = receiver.await_hits(Duration::from_secs(20), |h| h.len() > before).await;
    assert!(hits.len() > before, "the second member's panic woke the contact");
    let before = hits.len();
    blocking(move || json(&first, MEMBER, &["panic"])).await;
    let hits = receiver.await_hits(Duration::from_secs(20), |h| h.len() > before).await;
    assert!(hits.len() > before, "and the first's");
}

#[test]
fn alerts_watch_keeps_watching_through_a_restart_and_prints_notices_in_plain_words() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let server = ServerProcess::start(&dir.path().join("server"), &listen, &server_env(&[("AMAN_COOLING_OFF", "1h")]));
    let alice = dir.path().join("alice");
    let member = member_and_contact(dir.path(), &server.url, "member", &alice, "Noor");

    let watch = spawn_aman(&alice, ALICE, &["--json", "alerts", "watch", "--count", "1", "--status-every", "1s"], &[]);
    std::thread::sleep(Duration::from_millis(1500)); // its first look
    let stopped = server.kill9();
    std::thread::sleep(Duration::from_secs(3));
    let _server = stopped.restart();
    // A change that weakens the member's protection: every contact is told.
    let set = json(&member, MEMBER, &["schedule", "set", "--every", "12h", "--grace", "1h"]);
    assert_eq!(set["applied"], false, "{set}");
    let out = finish_within(watch, Duration::from_secs(30));
    let (printed, said) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the watch outlived the restart and stopped after one event: {said}");
    let event: Value = serde_json::from_str(printed.trim()).unwrap();
    assert_eq!(event["notice"]["kind"], "policy_weakening", "{printed}");
    assert_eq!(event["notice"]["member"], "Noor");
    for line in
        ["Watching 1 member(s)", "Cannot reach Noor's server", "Noor's server answers again", "Still watching 1"]
    {
        assert!(said.contains(line), "`{line}` in: {said}");
    }

    // The same notice, read by a person.
    let shown = String::from_utf8_lossy(&aman(&alice, ALICE, &["alerts"]).stdout).into_owned();
    assert!(shown.contains("NOTICE: Noor asked for a change that weakens their protection"), "{shown}");
    assert!(shown.contains("What to do: If they did not tell you about it, ask them in person"), "{shown}");
    assert!(!shown.contains("policy_weakening"), "no raw labels: {shown}");
}

#[test]
fn alerts_read_in_plain_words_ack_takes_a_prefix_and_names_who_acknowledged() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let server =
        ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[("AMAN_COOLING_OFF", "1s")]));
    let (alice, bashir) = (dir.path().join("alice"), dir.path().join("bashir"));
    let member = member_and_contact(dir.path(), &server.url, "member", &alice, "Noor");
    let code = json(&member, MEMBER, &["contact", "invite", "--label", "Bashir"])["code"].as_str().unwrap().to_owned();
    ok(&aman(
        &bashir,
        "bashir-pass-lantern
",
        &["contact", "accept", &code, "--label", "Noor"],
    ));
    json(&member, MEMBER, &["contact", "list"]);
    std::thread::sleep(Duration::from_millis(1500)); // Bashir takes part after the cooling-off
    let mut ids = Vec::new();
    for note in ["at the square", "at the bridge", "at the station"] {
        json(&member, MEMBER, &["checkin", "--note", note]);
        ids.push(json(&member, MEMBER, &["panic"])["alert"].as_str().unwrap().to_owned());
        std::thread::sleep(Duration::from_millis(1100)); // times are whole seconds
    }
    let start = Instant::now();
    let alerts = loop {
        let alerts = json(&alice, ALICE, &["alerts", "--all"])["alerts"].as_array().unwrap().clone();
        if alerts.len() == 3 || start.elapsed() > Duration::from_secs(20) {
            break alerts;
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(alerts.len(), 3);
    // Read again (the device now knows the newest note): each alert's note
    // is the newest there was when it fired, so none is flagged.
    let alerts = json(&alice, ALICE, &["alerts", "--all"])["alerts"].as_array().unwrap().clone();
    for a in &alerts {
        assert_eq!(a["warnings"], serde_json::json!([]), "{a}");
    }
    let shown = String::from_utf8_lossy(&aman(&alice, ALICE, &["alerts", "--all"]).stdout).into_owned();
    assert!(shown.contains("ALERT: Noor pressed PANIC") && shown.contains("What to do: Act now"), "{shown}");
    assert!(!shown.contains("WARNING"), "{shown}");

    // Acknowledge by the start of an id, as git takes a short commit id;
    // the other contact sees who, by the name the member gave them.
    let short = &ids[1][..8];
    let acked = json(&bashir, "bashir-pass-lantern\n", &["alerts", "ack", short]);
    assert_eq!(acked["acknowledged"], ids[1].as_str());
    let alerts = json(&alice, ALICE, &["alerts", "--all"])["alerts"].as_array().unwrap().clone();
    let acked = alerts.iter().find(|a| a["alert"] == ids[1].as_str()).unwrap();
    assert_eq!(acked["acks"][0]["by"], "Bashir", "{acked}");
    let shown = String::from_utf8_lossy(&aman(&alice, ALICE, &["alerts", "--all"]).stdout).into_owned();
    assert!(shown.contains("Acknowledged by Bashir at"), "{shown}");
    let too_short = aman(&alice, ALICE, &["alerts", "ack", &ids[0][..2]]);
    assert_eq!(too_short.status.code(), Some(1));
    let unknown = aman(&alice, ALICE, &["alerts", "ack", "zzzzzzzz"]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no alert id starts with"));
}

#[test]
fn a_watch_begun_while_the_server_was_down_shows_what_came_before_its_first_read() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let listen = format!("127.0.0.1:{}", free_port());
    let server = ServerProcess::start(&dir.path().join("server"), &listen, &server_env(&[]));
    let alice = dir.path().join("alice");
    let member = member_and_contact(dir.path(), &server.url, "member", &alice, "Noor");
    let stopped = server.kill9();
    // The first try fails; the next comes 5 s later.
    let watch = spawn_aman(&alice, ALICE, &["--json", "alerts", "watch", "--count", "1"], &[]);
    std::thread::sleep(Duration::from_millis(1000));
    let _server = stopped.restart();
    json(&member, MEMBER, &["panic"]);
    let out = finish_within(watch, Duration::from_secs(30));
    let printed = String::from_utf8_lossy(&out.stdout);
    let event: Value = serde_json::from_str(printed.trim()).unwrap_or(Value::Null);
    assert_eq!(event["reason"], "panic", "the panic that fired before the watch first read the server: {printed}");
}
