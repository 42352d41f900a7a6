//! The whole life of a member and two contacts, through the real `aman`
//! and `aman-server` binaries.

use super::{free_port, FAST_SERVER};
use aman_tests::{aman, binary, ServerProcess};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

struct Cli {
    home: PathBuf,
    pass: String,
}

impl Cli {
    fn json(&self, args: &[&str]) -> Value {
        self.json_with(&self.pass, args)
    }

    fn json_with(&self, pass: &str, args: &[&str]) -> Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = aman(&self.home, &format!("{pass}\n"), &full);
        assert!(out.status.success(), "aman {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn alerts(&self) -> Vec<Value> {
        self.json(&["alerts", "--all"])["alerts"].as_array().unwrap().clone()
    }

    /// Polls until `pred` holds over the alerts (20 s at most).
    fn await_alerts(&self, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let alerts = self.alerts();
            if pred(&alerts) || start.elapsed() > Duration::from_secs(20) {
                return alerts;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn admin(data: &Path, args: &[&str]) -> Value {
    let out = Command::new(binary("aman-server")).arg("--data").arg(data).arg("--json").args(args).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn member_and_contacts_from_invite_to_outage() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut env = FAST_SERVER.to_vec();
    env.extend_from_slice(&[("AMAN_ESCALATION_DELAY", "2s"), ("AMAN_OUTAGE_GRACE", "6s"), ("AMAN_COOLING_OFF", "1s")]);
    let server = ServerProcess::start(&data, &listen, &env);

    // The organizer makes an invite while the server runs (through the admin socket).
    let code =
        admin(&data, &["invite", "create", "--uses", "1", "--expires", "1h"])["code"].as_str().unwrap().to_owned();
    // The code names the server: one naming another server is refused
    // before anything is sent (someone on the path standing in for it).
    assert!(code.starts_with("amanreg2-"), "{code}");
    let (secret, _) = code.rsplit_once('-').unwrap();
    let forged = format!("{secret}-{}", "0".repeat(32));
    let out = aman(
        &dir.path().join("fooled"),
        "alpha-bravo-quartz\nbeta-delta-velvet\n",
        &["init", "--server", &server.url, "--invite", &forged],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not the server the invite was made for"));
    let member = Cli { home: dir.path().join("member"), pass: "n0rmal-river-lamp".into() };
    let out = aman(
        &member.home,
        "n0rmal-river-lamp\ndur3ss-cloud-fig\n",
        &["init", "--server", &server.url, "--invite", &code],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = aman(
        &dir.path().join("other"),
        "alpha-bravo-quartz\nbeta-delta-velvet\n",
        &["init", "--server", &server.url, "--invite", &code],
    );
    assert_eq!(out.status.code(), Some(1), "a used-up invite is refused");

    // Two contacts in two tiers.
    let mut contacts = Vec::new();
    for (label, tier) in [("alice", "1"), ("bashir", "2")] {
        let code =
            member.json(&["contact", "invite", "--label", label, "--tier", tier])["code"].as_str().unwrap().to_owned();
        let c = Cli { home: dir.path().join(label), pass: format!("{label}-pass") };
        let out = aman(
            &c.home,
            &format!("{label}-pass\n{label}-duress\n"),
            &["contact", "accept", &code, "--label", "member"],
        );
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        contacts.push(c);
    }
    let list = member.json(&["contact", "list"]);
    assert!(list["contacts"].as_array().unwrap().iter().all(|c| c["state"] == "linked"), "{list}");
    let (alice, bashir) = (&contacts[0], &contacts[1]);

    // Missed check-in: alice first, bashir after the escalation delay.
    member.json(&["schedule", "set", "--every", "2s", "--grace", "1s", "--note", "Interview at the TV station"]);
    member.json(&["checkin", "--location", "Tahrir Square"]);
    let seen = alice.await_alerts(|a| !a.is_empty());
    assert_eq!(seen[0]["reason"], "missed");
    assert_eq!(seen[0]["note"], "Interview at the TV station");
    assert_eq!(seen[0]["location"], "Tahrir Square");
    let escalated = bashir.await_alerts(|a| !a.is_empty());
    assert_eq!(escalated.len(), 1, "tier 2 is told when nobody acknowledged");
    assert_eq!(escalated[0]["note"], "Interview at the TV station");

    // A longer interval weakens protection: it waits out the cooling-off
    // period (1 s here) and the contacts are told.
    let held = member.json(&["schedule", "set", "--every", "1h", "--grace", "10m"]);
    assert_eq!(held["applied"], false);
    std::thread::sleep(Duration::from_millis(2100));
    // A late check-in is news, not an all-clear.
    member.json(&["checkin"]);
    let late = alice.await_alerts(|a| a[0]["notices"].as_array().is_some_and(|n| !n.is_empty()));
    assert_eq!(late[0]["notices"][0]["kind"], "checked_in_late");
    assert_eq!(late.len(), 1, "the alert stays");

    // Duress: looks like a check-in, alerts both tiers' first tier at once.
    let out = aman(&member.home, "dur3ss-cloud-fig\n", &["--json", "checkin"]);
    assert!(out.status.success());
    let duress = alice.await_alerts(|a| a.len() >= 2);
    assert_eq!(duress.iter().filter(|a| a["reason"] == "duress").count(), 1);

    // Panic, acknowledged by alice: bashir sees who acknowledged when escalated.
    let panic = member.json(&["panic", "--note", "they are at the door"]);
    let id = panic["alert"].as_str().unwrap();
    alice.await_alerts(|a| a.iter().any(|x| x["alert"] == id));
    alice.json(&["alerts", "ack", id]);

    // Outage: the server is down across a deadline. On restart the member gets
    // the outage grace, and the alert that follows says the server was down.
    // (A deadline 9 s away, so the server stops before it even on a slow
    // machine; and it stays down until the deadline has passed.)
    member.json(&["schedule", "set", "--every", "6s", "--grace", "3s"]);
    let before = alice.alerts().len();
    let deadline = member.json(&["checkin"])["deadline"].as_u64().unwrap();
    let stopped = server.stop();
    super::wait_until_unix(deadline + 2);
    let server = stopped.restart();
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(alice.alerts().len(), before, "no backdated alert right after the restart");
    let after = alice.await_alerts(|a| a.len() > before);
    let newest = after.iter().max_by_key(|a| a["fired_at"].as_u64()).unwrap();
    assert_eq!(newest["reason"], "missed");
    assert_eq!(newest["server_was_down"], true);

    let stats = admin(&data, &["stats"]);
    assert_eq!(stats["accounts"], 1);
    assert!(stats["alerts"].as_u64().unwrap() >= 4);
    drop(server);
}
