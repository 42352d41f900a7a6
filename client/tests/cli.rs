//! The `aman` program against a real aman-server on 127.0.0.1:0: real
//! sockets, real sled, real keys; only Argon2 runs with test costs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aman_server::clock::SystemClock;
use aman_server::config::{Config, Registration};
use aman_server::serve::{start, RunningServer};
use serde_json::Value;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

struct TestServer {
    runtime: tokio::runtime::Runtime,
    server: Option<RunningServer>,
    url: String,
    _dir: tempfile::TempDir,
}

impl TestServer {
    fn start() -> Self {
        Self::start_with(|_| {})
    }

    fn start_with(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().join("data"),
            registration: Registration::Open,
            min_interval: 1,
            min_grace: 1,
            escalation_delay: 3600,
            cooling_off: 2,
            dispatch_delay: 0,
            ..Config::default()
        };
        adjust(&mut config);
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let server = runtime.block_on(start(config, Arc::new(SystemClock))).unwrap();
        let url = format!("http://{}", server.addr);
        TestServer { runtime, server: Some(server), url, _dir: dir }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            let _ = self.runtime.block_on(s.shutdown());
        }
    }
}

struct User {
    home: PathBuf,
    pass: &'static str,
}

/// Starts `aman --home HOME --passphrase-stdin ARGS` and writes `stdin` to it.
fn spawn_aman(home: &Path, stdin: &str, args: &[&str]) -> Child {
    let mut child = Command::new(env!("CARGO_BIN_EXE_aman"))
        .arg("--home")
        .arg(home)
        .arg("--passphrase-stdin")
        .args(args)
        .env("AMAN_INSECURE_TEST_KDF", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child
}

fn aman(home: &Path, stdin: &str, args: &[&str]) -> Output {
    spawn_aman(home, stdin, args).wait_with_output().unwrap()
}

impl User {
    fn run(&self, args: &[&str]) -> Output {
        aman(&self.home, &format!("{}\n", self.pass), args)
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = self.run(&full);
        assert!(out.status.success(), "aman {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }
}

fn member(dir: &Path, server: &TestServer, name: &str) -> User {
    let home = dir.join(name);
    let out = aman(&home, "normal-pass-meadow\nduress-pass-thunder\n", &["init", "--server", &server.url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    User { home, pass: "normal-pass-meadow" }
}

/// Invites and accepts a contact; returns (contact, member-side safety number, contact-side).
fn pair(dir: &Path, m: &User, name: &str, tier: &str) -> (User, String, String) {
    let code = m.json(&["contact", "invite", "--label", name, "--tier", tier])["code"].as_str().unwrap().to_owned();
    let home = dir.join(name);
    let out = aman(
        &home,
        "contact-pass-orchid\ncontact-duress-maple\n",
        &["--json", "contact", "accept", &code, "--label", "member"],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let theirs: Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = m.json(&["contact", "list"]);
    let ours =
        list["contacts"].as_array().unwrap().iter().find(|c| c["label"] == name).unwrap()["safety_number"].clone();
    (
        User { home, pass: "contact-pass-orchid" },
        ours.as_str().unwrap().to_owned(),
        theirs["safety_number"].as_str().unwrap().to_owned(),
    )
}

/// A server, a member, and one tier-1 contact ("alice"). Keep the first two
/// alive for the test's length.
fn member_and_contact() -> (TestServer, tempfile::TempDir, User, User) {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let m = member(dir.path(), &server, "member");
    let (c, _, _) = pair(dir.path(), &m, "alice", "1");
    (server, dir, m, c)
}

/// Polls `aman alerts --json` until `pred` holds (or 20 s pass).
fn await_alerts(c: &User, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let start = Instant::now();
    loop {
        let alerts = c.json(&["alerts", "--all"])["alerts"].as_array().unwrap().clone();
        if pred(&alerts) || start.elapsed() > Duration::from_secs(20) {
            return alerts;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn pairing_shows_the_same_safety_number_on_both_sides() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let m = member(dir.path(), &server, "member");
    let (c, ours, theirs) = pair(dir.path(), &m, "alice", "1");
    assert_eq!(ours.len(), 60);
    assert_eq!(ours, theirs);
    let verify = c.json(&["verify"]);
    assert_eq!(verify["safety_numbers"][0]["safety_number"], ours.as_str());
    let text = String::from_utf8(m.run(&["contact", "list"]).stdout).unwrap();
    assert!(text.contains("alice  tier 1  linked"), "{text}");
}

#[test]
fn a_member_who_stops_checking_in_is_reported_missed_with_the_note() {
    let (_server, _dir, m, c) = member_and_contact();
    m.json(&["schedule", "set", "--every", "2s", "--grace", "1s", "--note", "Meeting Z at the old bridge"]);
    m.json(&["checkin", "--location", "Karrada"]);
    let alerts = await_alerts(&c, |a| !a.is_empty());
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    assert_eq!(alerts[0]["reason"], "missed");
    assert_eq!(alerts[0]["note"], "Meeting Z at the old bridge");
    assert_eq!(alerts[0]["location"], "Karrada");
    assert_eq!(alerts[0]["warnings"], serde_json::json!([]));
}

#[test]
fn a_member_who_checks_in_on_time_raises_no_alert() {
    let (_server, _dir, m, c) = member_and_contact();
    m.json(&["schedule", "set", "--every", "3s", "--grace", "2s"]);
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(7) {
        m.json(&["checkin"]);
        std::thread::sleep(Duration::from_millis(700));
    }
    assert_eq!(c.json(&["alerts", "--all"])["alerts"], serde_json::json!([]));
}

#[test]
fn duress_output_is_identical_and_the_contact_sees_a_duress_alert() {
    let (_server, _dir, m, c) = member_and_contact();
    m.json(&["schedule", "set", "--every", "1h", "--grace", "10m", "--note", "at the checkpoint"]);
    let normal = m.run(&["checkin"]);
    let duress = aman(&m.home, "duress-pass-thunder\n", &["checkin"]);
    assert!(normal.status.success() && duress.status.success());
    // Everything printed is the same; only the clock's digits may move on.
    let mask = |b: &[u8]| {
        String::from_utf8_lossy(b).chars().map(|c| if c.is_ascii_digit() { '#' } else { c }).collect::<String>()
    };
    assert_eq!(mask(&normal.stdout), mask(&duress.stdout));
    assert_eq!(normal.stderr, duress.stderr);
    let normal_json = m.json(&["checkin"]);
    let out = aman(&m.home, "duress-pass-thunder\n", &["--json", "checkin"]);
    let duress_json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&normal_json), keys(&duress_json));
    assert_eq!(duress_json["counter"].as_u64(), normal_json["counter"].as_u64().map(|c| c + 1));
    let alerts = await_alerts(&c, |a| a.len() >= 2);
    assert_eq!(alerts.len(), 2, "two duress check-ins, two alerts");
    assert!(alerts.iter().all(|a| a["reason"] == "duress" && a["note"] == "at the checkpoint"));
}

#[test]
fn panic_and_an_acknowledgement_visible_to_the_other_contacts() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let m = member(dir.path(), &server, "member");
    let (a, _, _) = pair(dir.path(), &m, "alice", "1");
    let (b, bashir_number, _) = pair(dir.path(), &m, "bashir", "1");
    // Alice is told at once who joined, by the safety number the member sees.
    let notices = a.json(&["alerts"])["notices"].clone();
    assert_eq!(notices[0]["kind"], "contact_linked", "{notices}");
    assert_eq!(notices[0]["new_contact_safety_number"], bashir_number.as_str());
    // Bashir, linked beside Alice, takes part after the cooling-off (2 s here).
    std::thread::sleep(Duration::from_millis(2500));
    let panic = m.json(&["panic", "--note", "taken from the square"]);
    let id = panic["alert"].as_str().unwrap().to_owned();
    let seen = await_alerts(&b, |x| !x.is_empty());
    assert_eq!(seen[0]["reason"], "panic");
    assert!(seen[0]["note"].as_str().unwrap().ends_with("): taken from the square"), "{seen:?}");
    a.json(&["alerts", "ack", &id]);
    let after = await_alerts(&b, |x| x.first().is_some_and(|v| !v["acks"].as_array().unwrap().is_empty()));
    assert_eq!(after[0]["acks"][0]["by"], "alice", "the member's name for who acknowledged");
    assert_eq!(a.json(&["alerts"])["alerts"][0]["acks"][0]["by"], "you");
}

#[test]
fn a_wrong_passphrase_fails_before_any_request() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let m = member(dir.path(), &server, "member");
    // Every request would go through this "proxy"; it counts connections.
    let proxy = TcpListener::bind("127.0.0.1:0").unwrap();
    proxy.set_nonblocking(true).unwrap();
    let proxy_url = format!("http://{}", proxy.local_addr().unwrap());
    let out = aman(&m.home, "not-my-pass\n", &["--proxy", &proxy_url, "checkin"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong passphrase"));
    assert!(proxy.accept().is_err(), "a request was attempted");
    // The same proxy does see a request when the passphrase is right.
    let _ = aman(&m.home, "normal-pass-meadow\n", &["--proxy", &proxy_url, "--timeout", "1", "status"]);
    assert!(proxy.accept().is_ok());
}

#[test]
fn server_down_exits_3_with_a_plain_message() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let m = member(dir.path(), &server, "member");
    m.json(&["schedule", "set", "--every", "1h", "--grace", "10m"]);
    drop(server);
    let out = m.run(&["checkin"]);
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Cannot reach the Aman server"), "{err}");
    assert!(err.contains("NOT protected"), "{err}");
    let out = m.run(&["--json", "status"]);
    assert_eq!(out.status.code(), Some(3));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["error"]["code"], "server_unreachable");
}

#[test]
fn the_keystore_holds_no_plaintext_key_note_label_or_url() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let m = member(dir.path(), &server, "member");
    let (_c, _, _) = pair(dir.path(), &m, "alice-label", "1");
    m.json(&["schedule", "set", "--every", "1h", "--grace", "10m", "--note", "secret-note-text"]);
    m.json(&["checkin", "--location", "secret-location"]);
    let bytes = std::fs::read(m.home.join("keystore")).unwrap();
    let status = m.json(&["status"]);
    let account = status["account"].as_str().unwrap();
    for needle in ["secret-note-text", "secret-location", "alice-label", server.url.as_str(), "127.0.0.1", account] {
        assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_bytes()), "keystore contains {needle}");
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(m.home.join("keystore")).unwrap().permissions().mode() & 0o777, 0o600);
}

#[test]
fn key_rotation_waits_out_cooling_off_and_keeps_each_role_whatever_order_the_passphrases_come_in() {
    let (_server, _dir, m, c) = member_and_contact();
    m.json(&["schedule", "set", "--every", "1h", "--grace", "10m"]);
    m.json(&["checkin"]);
    // Both passphrases are needed; the same one twice is refused.
    let out = aman(&m.home, "normal-pass-meadow\nnormal-pass-meadow\n", &["key", "rotate"]);
    assert_eq!(out.status.code(), Some(1));
    // Typed duress first (as a captor might make the member do), then normal first.
    for (earlier, order) in ["duress-pass-thunder\nnormal-pass-meadow\n", "normal-pass-meadow\nduress-pass-thunder\n"]
        .into_iter()
        .enumerate()
    {
        let out = aman(&m.home, order, &["--json", "key", "rotate"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let rotated: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(rotated["effective_at"].as_u64().is_some());
        // While it waits, either passphrase sees the same status: a date, no keys.
        let status = |pass: &str| {
            let out = aman(&m.home, pass, &["--json", "status"]);
            let mut v: Value = serde_json::from_slice(&out.stdout).unwrap();
            for volatile in ["server_time", "time_left"] {
                v.as_object_mut().unwrap().remove(volatile);
            }
            v
        };
        let seen = status("normal-pass-meadow\n");
        assert_eq!(seen, status("duress-pass-thunder\n"));
        assert_eq!(seen["pending_changes"][0]["kind"], "checkin_keys_rotation", "{seen}");
        m.json(&["checkin"]); // old keys until the server applies the rotation
        std::thread::sleep(Duration::from_millis(3500));
        m.json(&["checkin"]); // new normal key
        let alerts = c.json(&["alerts", "--all"])["alerts"].as_array().unwrap().len();
        assert_eq!(alerts, earlier, "no alert from normal check-ins ({order:?})");
        let out = aman(&m.home, "duress-pass-thunder\n", &["checkin"]);
        assert!(out.status.success());
        let alerts = await_alerts(&c, |a| a.len() == earlier + 1);
        assert!(alerts.iter().all(|a| a["reason"] == "duress"), "the rotated duress key is still the duress key");
    }
}

#[test]
fn alerts_watch_prints_a_new_alert_and_notify_channels_can_be_managed() {
    let (_server, _dir, m, c) = member_and_contact();
    let watch = spawn_aman(&c.home, "contact-pass-orchid\n", &["--json", "alerts", "watch", "--count", "1"]);
    std::thread::sleep(Duration::from_millis(800)); // let it take its first look
    m.json(&["panic", "--note", "watch this"]);
    let out = watch.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let line: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(line["reason"], "panic");
    assert!(line["note"].as_str().unwrap().ends_with("): watch this"), "{line}");

    // This server has no SMTP settings: an e-mail channel is refused at
    // once (it could never wake anyone), and nothing is stored.
    let refused = c.run(&["notify", "add", "email", "alice@example.org"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("email_unavailable"));
    assert_eq!(c.json(&["notify", "list"])["channels"], serde_json::json!([]));
    let server = TestServer::start_with(|c| c.smtp_url = Some("smtp://127.0.0.1:9".into()));
    let dir = tempfile::tempdir().unwrap();
    let m = member(dir.path(), &server, "member");
    let (c, _, _) = pair(dir.path(), &m, "alice", "1");
    let added = c.json(&["notify", "add", "email", "alice@example.org"]);
    let id = added["id"].as_u64().unwrap().to_string();
    assert_eq!(c.json(&["notify", "list"])["channels"][0]["target"], "alice@example.org");
    c.json(&["notify", "remove", &id]);
    assert_eq!(c.json(&["notify", "list"])["channels"], serde_json::json!([]));
    // Loopback webhooks are refused on a default server, and so is plain http.
    let out = c.run(&["notify", "add", "webhook", "https://127.0.0.1:9/hook"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("private_target"));
    let out = c.run(&["notify", "add", "webhook", "http://127.0.0.1:9/hook"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("insecure_target"));
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = aman(dir.path(), "", &["checkin", "--no-such-flag"]);
    assert_eq!(out.status.code(), Some(2));
    let out = aman(dir.path(), "", &["schedule", "set", "--every", "soon", "--grace", "1m"]);
    assert_eq!(out.status.code(), Some(1), "a bad duration is a plain error");
}

#[test]
fn one_contact_of_two_members_cannot_be_linked_by_its_keys() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let first = member(dir.path(), &server, "first");
    let second = member(dir.path(), &server, "second");
    let home = dir.path().join("sara");
    let mut identities = Vec::new();
    for (m, label) in [(&first, "first"), (&second, "second")] {
        let code = m.json(&["contact", "invite", "--label", "sara"])["code"].as_str().unwrap().to_owned();
        let out = aman(
            &home,
            "sara-pass-willow\nsara-duress-copper\n",
            &["--json", "contact", "accept", &code, "--label", label],
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let accepted: Value = serde_json::from_slice(&out.stdout).unwrap();
        let mailbox: aman_protocol::MailboxId = accepted["mailbox"].as_str().unwrap().parse().unwrap();
        let record = server.server.as_ref().unwrap().engine.store.mailbox(&mailbox).unwrap().unwrap();
        identities.push((record.identity, record.encryption));
        m.json(&["contact", "list"]);
    }
    assert_ne!(identities[0].0, identities[1].0, "one identity key per membership");
    assert_ne!(identities[0].1, identities[1].1, "one encryption key per membership");
    // Both memberships still work: each member's panic reaches Sara.
    let sara = User { home, pass: "sara-pass-willow" };
    first.json(&["panic", "--note", "first"]);
    second.json(&["panic", "--note", "second"]);
    let alerts = await_alerts(&sara, |a| a.len() == 2);
    let mut notes: Vec<_> =
        alerts.iter().map(|a| a["note"].as_str().unwrap().rsplit(": ").next().unwrap().to_owned()).collect();
    notes.sort();
    assert_eq!(notes, ["first", "second"], "a panic's words follow its time");
    let id = alerts[0]["alert"].as_str().unwrap().to_owned();
    sara.json(&["alerts", "ack", &id]);
}

#[test]
fn a_contact_being_removed_can_still_read_the_alerts_it_is_sent() {
    let server = TestServer::start();
    let dir = tempfile::tempdir().unwrap();
    let m = member(dir.path(), &server, "member");
    let (a, _, _) = pair(dir.path(), &m, "alice", "1");
    let (b, _, _) = pair(dir.path(), &m, "bashir", "1");
    std::thread::sleep(Duration::from_millis(2500)); // bashir takes part after the cooling-off
                                                     // Removing bashir waits out the cooling-off; until then he is alerted, so
                                                     // the note must stay sealed to him too.
    let removed = m.json(&["contact", "remove", "bashir"]);
    assert_eq!(removed["applied"], false);
    m.json(&["panic", "--note", "taken at the checkpoint"]);
    for c in [&a, &b] {
        let alerts = await_alerts(c, |x| !x.is_empty());
        assert!(alerts[0]["note"].as_str().unwrap().ends_with("): taken at the checkpoint"), "{alerts:?}");
    }
}
