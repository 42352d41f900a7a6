//! Drills (issue 12): `aman drill` goes through the real path (every
//! contact's mailbox and channels, all tiers at once) marked as a drill
//! wherever a contact reads it, with the note and plan they would read in
//! an alert; `aman drill status` shows each contact's acknowledgement,
//! channels and the day they first fetched it; nothing about a real alert,
//! a duress one above all, enters it, and nothing after the drill's window
//! moves it; and a drill in its window refuses another.

use super::pass::{ALICE, DURESS, NORMAL as MEMBER};
use super::plans::{member_and_alice, PLAN};
use super::server_env;
use super::{aman_json as json, ok};
use aman_tests::{aman, Receiver, ServerProcess};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const BASHIR: &str = "bashir-pass-quarry\n";

fn printed(home: &Path, stdin: &str, args: &[&str]) -> String {
    let out = aman(home, stdin, args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

/// The contact's alerts, once `pred` holds (within 30 s).
fn alerts_when(home: &Path, pass: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let listed = json(home, pass, &["alerts", "--all"]);
        let alerts = listed["alerts"].as_array().cloned().unwrap_or_default();
        if pred(&alerts) {
            return alerts;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{listed}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// The member's drill status, once `pred` holds (within 30 s).
fn status_when(member: &Path, pass: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let status = json(member, pass, &["drill", "status"]);
        if pred(&status) {
            return status;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "{status}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn contact<'a>(status: &'a Value, label: &str) -> &'a Value {
    status["contacts"].as_array().unwrap().iter().find(|c| c["label"] == label).unwrap()
}

fn channel(c: &Value, kind: &str) -> String {
    let found = c["channels"].as_array().unwrap().iter().find(|ch| ch["kind"] == kind);
    found.map(|ch| ch["outcome"].as_str().unwrap().to_owned()).unwrap_or_default()
}

/// A notification as a provider sees it, ids and keys masked.
fn provider_view(hit: &aman_tests::receiver::Hit) -> String {
    let mut body = hit.body.clone();
    for key in ["alert", "idempotency_key"] {
        if body.get(key).is_some() {
            body[key] = Value::from("<id>");
        }
    }
    let headers: Vec<String> = hit
        .headers
        .iter()
        .filter(|(k, _)| {
            !["idempotency-key", "x-idempotency-key", "x-aman-signature", "content-length", "host"]
                .contains(&k.as_str())
        })
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    let raw = if body.is_null() { String::from_utf8_lossy(&hit.raw).into_owned() } else { body.to_string() };
    format!("{}\n{raw}", headers.join("\n"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_reaches_every_contacts_mailbox_and_channels_marked_as_a_drill_with_the_plan_and_status_shows_it() {
    let _shared = super::LOAD.read().await;
    let dir = tempfile::tempdir().unwrap();
    // Bashir, linked beside Alice, counts once his cooling-off has passed.
    let server =
        ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[("AMAN_COOLING_OFF", "1s")]));
    let (webhook, ntfy) =
        (Receiver::start("127.0.0.1:0").await.unwrap(), Receiver::start("127.0.0.1:0").await.unwrap());
    let (root, url) = (dir.path().to_owned(), server.url.clone());
    let (hook, topic) = (format!("{}/hook", webhook.url), format!("{}/topic", ntfy.url));
    let (member, alice, bashir) = blocking(move || {
        let (member, alice) = member_and_alice(&root, &url);
        json(&alice, ALICE, &["notify", "add", "webhook", &hook]);
        json(&alice, ALICE, &["notify", "add", "ntfy", &topic]);
        // Bashir is in tier 2 (a drill tests every tier at once), and his
        // only channel answers nothing.
        let bashir = root.join("bashir");
        let code = json(&member, MEMBER, &["contact", "invite", "--label", "Bashir", "--tier", "2"])["code"]
            .as_str()
            .unwrap()
            .to_owned();
        ok(&aman(&bashir, BASHIR, &["contact", "accept", &code, "--label", "Noor"]));
        json(&bashir, BASHIR, &["notify", "add", "webhook", "http://127.0.0.1:1/dead"]);
        json(&member, &format!("{MEMBER}{PLAN}\n"), &["plan", "set", "--file", "-"]);
        assert_eq!(json(&member, MEMBER, &["drill", "status"])["drill"], Value::Null);
        std::thread::sleep(Duration::from_secs(2));
        (member, alice, bashir)
    })
    .await;

    let (m, before) = (member.clone(), webhook.hits().len());
    let (sent, again) = blocking(move || (json(&m, MEMBER, &["drill"]), aman(&m, MEMBER, &["drill"]))).await;
    assert_eq!(sent["contacts"], 2, "{sent}");
    let drill = sent["drill"].as_str().unwrap().to_owned();
    // One drill at a time: the next waits for this one's window.
    let refused = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(1), "{refused}");
    assert!(refused.contains("Your latest drill is still open (until"), "{refused}");
    assert!(refused.contains("one drill at a time"), "{refused}");
    // Every channel of every contact, as an alert's would.
    let hits = webhook.await_hits(Duration::from_secs(20), |h| h.len() > before).await;
    assert!(hits.len() > before, "Alice's webhook");
    let pushed = ntfy.await_hits(Duration::from_secs(20), |h| !h.is_empty()).await;
    assert!(!pushed.is_empty(), "Alice's ntfy");

    let (a, b, d) = (alice.clone(), bashir.clone(), drill.clone());
    let (seen_by_alice, text) = blocking(move || {
        let alerts = alerts_when(&a, ALICE, |alerts| alerts.iter().any(|x| x["alert"] == d.as_str()));
        // Bashir, in tier 2, has it too, at once.
        alerts_when(&b, BASHIR, |alerts| alerts.iter().any(|x| x["alert"] == d.as_str() && x["drill"] == true));
        let text = printed(&a, ALICE, &["alerts"]);
        (alerts, text)
    })
    .await;
    let shown = seen_by_alice.iter().find(|x| x["alert"] == drill.as_str()).unwrap();
    assert_eq!(shown["reason"], "drill");
    assert_eq!(shown["drill"], true);
    assert_eq!(shown["note"], "At the square", "the note a real alert would carry: {shown}");
    assert_eq!(shown["plan"], PLAN, "{shown}");
    assert!(
        text.contains(
            "DRILL: Noor is testing their safety net — nothing has happened. Acknowledge it with `aman alerts ack"
        ),
        "{text}"
    );
    assert!(text.contains("Their plan:\n    Call my lawyer Huda first"), "{text}");
    assert!(!text.contains("ALERT:"), "a drill never reads as an alert: {text}");
    let drill_block = text.split("\nNOTICE").next().unwrap();
    assert!(!drill_block.contains("What to do:"), "{text}");

    // Alice acknowledges it like an alert, by a prefix of its id.
    let (a, d) = (alice.clone(), drill.clone());
    blocking(move || json(&a, ALICE, &["alerts", "ack", &d[..8]])).await;

    let m = member.clone();
    let status = blocking(move || {
        status_when(&m, MEMBER, |s| {
            s["dispatched"] == true
                && channel(contact(s, "Bashir"), "webhook") == "failed"
                && channel(contact(s, "Alice"), "ntfy") == "delivered"
                && contact(s, "Alice")["acknowledged"] == true
        })
    })
    .await;
    assert_eq!(status["drill"], drill.as_str());
    let (alice_row, bashir_row) = (contact(&status, "Alice"), contact(&status, "Bashir"));
    assert_eq!(alice_row["in_mailbox"], true);
    assert_eq!(channel(alice_row, "webhook"), "delivered", "{status}");
    let today = aman_protocol::duration::format_utc(aman_client::api::unix_now());
    assert_eq!(alice_row["first_fetch_day"], &today[..10], "{status}");
    assert_eq!(bashir_row["in_mailbox"], true);
    assert_eq!(bashir_row["acknowledged"], false);
    assert_eq!(bashir_row["first_fetch_day"], &today[..10], "Bashir fetched it above: {status}");
    let m = member.clone();
    let text = blocking(move || printed(&m, MEMBER, &["drill", "status"])).await;
    assert!(text.contains("Alice: in their mailbox; acknowledged"), "{text}");
    assert!(text.contains("webhook delivered; ntfy delivered"), "{text}");
    assert!(text.contains("Bashir: in their mailbox; NOT acknowledged; webhook failed"), "{text}");
    assert!(text.contains("Its window is open until"), "{text}");
    assert!(text.contains(&format!("their client fetched it on {}", &today[..10])), "{text}");

    // What the provider sees of a drill is what it sees of a real alert.
    let drill_hook = provider_view(&webhook.hits()[before]);
    let drill_push = provider_view(&pushed[0]);
    let (before, pushes) = (webhook.hits().len(), ntfy.hits().len());
    let m = member.clone();
    blocking(move || json(&m, MEMBER, &["panic"])).await;
    let hits =
        webhook.await_hits(Duration::from_secs(20), |h| h[before..].iter().any(|x| x.body["event"] == "alert")).await;
    let panic_hit = hits[before..].iter().find(|x| x.body["event"] == "alert").unwrap();
    assert_eq!(provider_view(panic_hit), drill_hook);
    let pushed = ntfy.await_hits(Duration::from_secs(20), |h| h.len() > pushes).await;
    assert_eq!(provider_view(&pushed[pushes]), drill_push);
    // And the panic is nowhere in the drill's status.
    let m = member.clone();
    let after = blocking(move || json(&m, MEMBER, &["drill", "status"])).await;
    assert_eq!(after["drill"], drill.as_str());
}

/// Masks what differs between any two runs whatever the passphrase: ids
/// and times (tokens with digits, or long runs of token characters).
fn mask(v: &Value) -> Value {
    match v {
        Value::Number(_) => Value::from(0),
        Value::String(s) if s.chars().any(|c| c.is_ascii_digit()) => Value::from("<v>"),
        Value::Array(a) => Value::Array(a.iter().map(mask).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), mask(v))).collect()),
        other => other.clone(),
    }
}

fn mask_text(text: &str) -> String {
    text.split_whitespace()
        .map(|w| if w.chars().any(|c| c.is_ascii_digit()) { "<v>" } else { w })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One run: a check-in (normal or duress), then a drill the contact reads
/// and acknowledges; what the member's views show afterwards.
async fn drill_after_checkin(pass: &'static str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[]));
    let webhook = Receiver::start("127.0.0.1:0").await.unwrap();
    let (root, url, hook) = (dir.path().to_owned(), server.url.clone(), format!("{}/hook", webhook.url));
    let (member, alice) = blocking(move || {
        let (member, alice) = member_and_alice(&root, &url);
        json(&alice, ALICE, &["notify", "add", "webhook", &hook]);
        (member, alice)
    })
    .await;
    let mut views = Vec::new();
    let m = member.clone();
    let checkin = blocking(move || aman(&m, pass, &["--json", "checkin"])).await;
    views.push(format!("checkin {:?} {}", checkin.status.code(), mask(&ok(&checkin))));
    // The duress alert (if any) is told well before the drill is sent.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (m, a) = (member.clone(), alice.clone());
    let sent = blocking(move || {
        let sent = json(&m, pass, &["drill"]);
        let id = sent["drill"].as_str().unwrap().to_owned();
        let alerts = alerts_when(&a, ALICE, |alerts| alerts.iter().any(|x| x["alert"] == id.as_str()));
        assert!(alerts.iter().filter(|x| x["drill"] == true).count() == 1);
        json(&a, ALICE, &["alerts", "ack", &id]);
        sent
    })
    .await;
    views.push(format!("drill {}", mask(&sent)));
    let m = member.clone();
    let (status, text, member_status) = blocking(move || {
        let status = status_when(&m, pass, |s| {
            s["dispatched"] == true
                && contact(s, "Alice")["acknowledged"] == true
                && channel(contact(s, "Alice"), "webhook") == "delivered"
        });
        (status, printed(&m, pass, &["drill", "status"]), json(&m, pass, &["status"]))
    })
    .await;
    views.push(format!("drill status {}", mask(&status)));
    views.push(format!("drill status text {}", mask_text(&text)));
    views.push(format!("status {}", mask(&member_status)));
    views
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duress_check_in_before_a_drill_does_not_appear_in_drill_status() {
    let _shared = super::LOAD.read().await;
    let normal = drill_after_checkin(MEMBER).await;
    let duress = drill_after_checkin(DURESS).await;
    assert_eq!(normal, duress, "the member's drill view is the same after a duress check-in");
    assert!(normal.iter().any(|v| v.contains("\"acknowledged\":true")), "{normal:?}");
}

/// Member, Alice (with a webhook) and Bashir (no channel, linked beside
/// Alice: the server's cooling-off is 1 s), with a schedule and a note.
fn member_alice_and_bashir(root: &Path, url: &str, hook: &str) -> (PathBuf, PathBuf, PathBuf) {
    let (member, alice, bashir) = (root.join("member"), root.join("alice"), root.join("bashir"));
    ok(&aman(&member, &format!("{MEMBER}{DURESS}"), &["init", "--server", url]));
    for (home, pass, label) in [(&alice, ALICE, "Alice"), (&bashir, BASHIR, "Bashir")] {
        let code = json(&member, MEMBER, &["contact", "invite", "--label", label])["code"].as_str().unwrap().to_owned();
        ok(&aman(home, pass, &["contact", "accept", &code, "--label", "Noor"]));
    }
    json(&member, MEMBER, &["contact", "list"]);
    json(&member, MEMBER, &["schedule", "set", "--every", "1h", "--grace", "10m", "--note", "At the square"]);
    json(&alice, ALICE, &["notify", "add", "webhook", hook]);
    std::thread::sleep(Duration::from_secs(2));
    (member, alice, bashir)
}

/// One run: a drill Alice fetches and acknowledges in its window; the
/// window passes; then a check-in with `pass`. After a duress one, both
/// contacts are woken: they read their mailboxes and acknowledge what is
/// in them (Bashir, who had not looked at the drill, acknowledges it too);
/// after a normal one Alice reads hers and Bashir does nothing. What the
/// member's drill views show afterwards.
async fn drill_window_then_checkin(pass: &'static str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let window = "12s";
    let env = server_env(&[("AMAN_DRILL_WINDOW", window), ("AMAN_COOLING_OFF", "1s")]);
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &env);
    let webhook = Receiver::start("127.0.0.1:0").await.unwrap();
    let (root, url, hook) = (dir.path().to_owned(), server.url.clone(), format!("{}/hook", webhook.url));
    let (member, alice, bashir) = blocking(move || member_alice_and_bashir(&root, &url, &hook)).await;
    let (m, a) = (member.clone(), alice.clone());
    let (drill, closes) = blocking(move || {
        let drill = json(&m, MEMBER, &["drill"])["drill"].as_str().unwrap().to_owned();
        alerts_when(&a, ALICE, |alerts| alerts.iter().any(|x| x["alert"] == drill.as_str()));
        json(&a, ALICE, &["alerts", "ack", &drill]);
        let status = status_when(&m, MEMBER, |s| {
            contact(s, "Alice")["acknowledged"] == true && channel(contact(s, "Alice"), "webhook") == "delivered"
        });
        (drill, status["window_closes"].as_u64().unwrap())
    })
    .await;
    // The window passes.
    let wait = closes.saturating_sub(aman_client::api::unix_now()) + 1;
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let m = member.clone();
    let checkin = blocking(move || aman(&m, pass, &["--json", "checkin"])).await;
    ok(&checkin);
    let (a, b, d) = (alice.clone(), bashir.clone(), drill.clone());
    blocking(move || {
        let ack_all = |home: &Path, key: &str, alerts: &[Value]| {
            for x in alerts {
                json(home, key, &["alerts", "ack", x["alert"].as_str().unwrap()]);
            }
        };
        if pass == DURESS {
            let duress = |alerts: &[Value]| alerts.iter().any(|x| x["reason"] == "duress");
            let alerts = alerts_when(&a, ALICE, duress);
            ack_all(&a, ALICE, &alerts);
            let alerts = alerts_when(&b, BASHIR, duress);
            assert!(alerts.iter().any(|x| x["alert"] == d.as_str()), "Bashir holds the drill too");
            ack_all(&b, BASHIR, &alerts);
        } else {
            std::thread::sleep(Duration::from_secs(3)); // as long as a duress alert would take
            json(&a, ALICE, &["alerts", "--all"]);
        }
    })
    .await;
    let m = member.clone();
    let (status, text) =
        blocking(move || (json(&m, pass, &["drill", "status"]), printed(&m, pass, &["drill", "status"]))).await;
    assert_eq!(status["drill"], drill.as_str());
    assert!(text.contains("Its window closed"), "{text}");
    vec![format!("drill status {}", mask(&status)), format!("drill status text {}", mask_text(&text))]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_drills_window_a_duress_check_in_and_the_contacts_reaction_do_not_move_drill_status() {
    let _shared = super::LOAD.read().await;
    let normal = drill_window_then_checkin(MEMBER).await;
    let duress = drill_window_then_checkin(DURESS).await;
    assert_eq!(normal, duress, "the drill's view after its window is the same after a duress check-in");
    // The day fields compared above are set (masked) or not: Alice fetched
    // the drill in its window, Bashir did not.
    assert!(normal[0].contains("\"first_fetch_day\":\"<v>\""), "{normal:?}");
    assert!(normal[0].contains("\"first_fetch_day\":null"), "{normal:?}");
    assert!(normal[1].contains("Bashir: in their mailbox; NOT acknowledged; no channel"), "{normal:?}");
}
