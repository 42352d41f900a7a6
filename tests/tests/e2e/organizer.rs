//! What an organizer, a member and a contact trip over (issue 16, the
//! server's side): the configuration the server would run with, shown as it
//! is with secrets redacted; a duration that does not read says how to
//! write one; a shorter schedule holds from now, across a `kill -9`; a
//! notice's wake-up, queued with the notice, survives one too.

use super::server_env;
use aman_client::api::{unix_now, ApiClient};
use aman_protocol::api::Policy;
use aman_protocol::routes;
use aman_tests::{binary, Member, Receiver, ServerProcess};
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

/// `aman-server --data DATA ARGS` with exactly `env` (nothing inherited but `PATH`).
fn server_cmd(data: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(binary("aman-server"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .arg("--data")
        .arg(data)
        .args(args)
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn config_shows_what_the_server_would_run_with_and_never_a_password() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let file = dir.path().join("aman.toml");
    std::fs::write(&file, "cooling_off = \"2d\"\nheader_timeout = \"30s\"\nregistration = \"open\"\n").unwrap();
    let config = file.to_str().unwrap();
    let env = [
        ("AMAN_HEADER_TIMEOUT", "12s"), // the environment wins over the file
        ("AMAN_SMTP_URL", "smtps://organizer:hunter2@mail.example.org:465"),
        ("AMAN_TRUSTED_PROXIES", "127.0.0.1, ::1"),
    ];
    let out = server_cmd(&data, &["--config", config, "config"], &env);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    for line in [
        "header_timeout = \"12s\"",
        "cooling_off = \"2d\"",
        "registration = \"open\"",
        "min_interval = \"1m\"",
        "smtp_url = \"smtps://organizer:<redacted>@mail.example.org:465\"",
        "trusted_proxies = [\"127.0.0.1\", \"::1\"]",
        "target_ports = [80, 443]",
        "# tls_cert is not set",
        &format!("data_dir = \"{}\"", data.display()),
        &format!("server_key_file = \"{}.key\"", data.display()),
    ] {
        assert!(shown.lines().any(|l| l == line), "no `{line}` in:\n{shown}");
    }
    assert!(!shown.contains("hunter2") && !text(&out.stderr).contains("hunter2"));
    // It is TOML the server reads back as the same settings.
    let again = dir.path().join("again.toml");
    std::fs::write(&again, &shown).unwrap();
    let reread = server_cmd(&data, &["--config", again.to_str().unwrap(), "config"], &[]);
    assert_eq!(text(&reread.stdout), shown);

    let json = server_cmd(&data, &["--config", config, "--json", "config"], &env);
    assert_eq!(json.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["header_timeout"], "12s");
    assert_eq!(v["body_limit"], 65536);
    assert_eq!(v["allow_private_targets"], false);
    assert_eq!(v["tls_key"], serde_json::Value::Null);
    assert!(!text(&json.stdout).contains("hunter2"));

    // A configuration the server would refuse: the same error, exit 2.
    let bad = [("AMAN_HEADER_TIMEOUT", "7x")];
    let shown = server_cmd(&data, &["config"], &bad);
    let served = server_cmd(&data, &["serve", "--listen", "127.0.0.1:0"], &bad);
    assert_eq!((shown.status.code(), served.status.code()), (Some(2), Some(2)));
    assert_eq!(text(&shown.stderr), text(&served.stderr));
    assert!(text(&shown.stderr).contains("`header_timeout`: `7x` is not a duration"), "{}", text(&shown.stderr));
}

#[test]
fn a_duration_that_does_not_read_says_how_to_write_one() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let out = server_cmd(&data, &["invite", "create", "--expires", "7x"], &[]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let said = text(&out.stderr);
    assert!(said.contains("`7x` is not a duration: write it like 30s, 10m, 6h or 7d"), "{said}");
    assert!(!said.contains("malformed"), "{said}");
    // The same words for a configuration value.
    let out = server_cmd(&data, &["config"], &[("AMAN_MIN_INTERVAL", "5 parsecs")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("`min_interval`: `5 parsecs` is not a duration: write it like 30s"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shorter_schedule_holds_from_now_and_survives_a_kill_9() {
    let _shared = super::LOAD.read().await;
    let receiver = Receiver::start("127.0.0.1:0").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Should the restart take longer than the new deadline, the outage rule
    // moves it by a second only.
    let env = server_env(&[("AMAN_OUTAGE_GRACE", "1s")]);
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &env);
    let api = ApiClient::new(&server.url, None, Duration::from_secs(10)).unwrap();
    let mut m = Member::new();
    m.register(&api).await.unwrap();
    m.add_contact(&api, 1).await.unwrap();
    m.contacts[0].add_endpoint(&api, "webhook", &format!("{}/hook", receiver.url)).await.unwrap();
    let armed = m.checkin(&api, 6 * 3600, 1800, false).await.unwrap();
    // The member tightens the schedule to 3 s with 2 s of grace: it applies at once...
    let mut policy: Policy = m.status(&api).await.unwrap().policy;
    (policy.interval, policy.grace) = (Some(3), Some(2));
    let asked = unix_now();
    let reply = api.call(&routes::SetPolicy, &policy, &m.signer()).await.unwrap();
    assert!(reply.applied);
    // ... and so does its deadline, not the 6 h one armed before.
    let deadline = m.status(&api).await.unwrap().deadline.unwrap();
    assert!(deadline < armed.deadline && deadline <= unix_now() + 5, "{deadline} (asked at {asked})");
    // Killed at once: the deadline is in what was made durable before the reply.
    let server = server.kill9().restart();
    let hits = receiver.await_hits(Duration::from_secs(60), |h| !h.is_empty()).await;
    assert_eq!(hits.len(), 1, "the missed deadline alerted the contact");
    let api = ApiClient::new(&server.url, None, Duration::from_secs(10)).unwrap();
    let mailbox = m.contacts[0].mailbox(&api).await.unwrap();
    assert_eq!(mailbox.alerts.len(), 1);
    assert_eq!(mailbox.alerts[0].reason, "missed");
    let missed = mailbox.alerts[0].deadline.unwrap();
    assert!(missed < armed.deadline && missed <= mailbox.alerts[0].fired_at, "{missed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notices_wake_up_is_queued_with_it_and_survives_a_kill_9() {
    let _shared = super::LOAD.read().await;
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[]));
    let api = ApiClient::new(&server.url, None, Duration::from_secs(10)).unwrap();
    let mut m = Member::new();
    m.register(&api).await.unwrap();
    m.add_contact(&api, 1).await.unwrap();
    // Nothing listens at the contact's webhook yet: every attempt fails.
    let port = super::free_port();
    m.contacts[0].add_endpoint(&api, "webhook", &format!("http://127.0.0.1:{port}/hook")).await.unwrap();
    // A second contact linked: the first is told, in its mailbox and on its webhook.
    m.add_contact(&api, 1).await.unwrap();
    let server = server.kill9();
    let receiver = Receiver::start(&format!("127.0.0.1:{port}")).await.unwrap();
    let _server = server.restart();
    let hits = receiver.await_hits(Duration::from_secs(60), |h| !h.is_empty()).await;
    assert_eq!(hits.len(), 1, "the wake-up was retried after the restart");
    assert_eq!(hits[0].body["event"], "alert", "worded as an alert's: {:?}", hits[0].body);
}
