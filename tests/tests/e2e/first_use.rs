//! What a new organizer and member trip over (issue 16, the parts done):
//! invite commands that say what they did, and a mistyped proxy that is an
//! error rather than a direct connection.

use super::server_env;
use aman_tests::{aman, aman_env, binary, ServerProcess};
use std::path::Path;
use std::process::{Command, Output};

fn admin(data: &Path, args: &[&str]) -> Output {
    Command::new(binary("aman-server")).arg("--data").arg(data).args(args).output().unwrap()
}

#[test]
fn invite_commands_refuse_nonsense_and_say_when() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    // The database exists once a server has started on it.
    drop(ServerProcess::start(&data, "127.0.0.1:0", &server_env(&[])));

    let zero = admin(&data, &["invite", "create", "--uses", "0"]);
    assert_eq!(zero.status.code(), Some(2), "an invite nobody can use is refused");
    let made = admin(&data, &["--json", "invite", "create", "--uses", "2", "--expires", "7d"]);
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let list = String::from_utf8_lossy(&admin(&data, &["invite", "list"]).stdout).into_owned();
    assert!(list.contains(" UTC") && list.contains("uses left 2"), "expiry as a date: {list}");

    let unknown = admin(&data, &["invite", "revoke", "nosuchid"]);
    assert_eq!(unknown.status.code(), Some(1), "revoking nothing is an error");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no active invite"));
    let id: serde_json::Value = serde_json::from_slice(&made.stdout).unwrap();
    let revoked = admin(&data, &["invite", "revoke", id["id"].as_str().unwrap()]);
    assert!(revoked.status.success());
    assert_eq!(admin(&data, &["invite", "revoke", id["id"].as_str().unwrap()]).status.code(), Some(1), "twice");
}

#[test]
fn a_mistyped_proxy_never_connects_directly() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let server = ServerProcess::start(&data, "127.0.0.1:0", &server_env(&[]));
    let home = dir.path().join("member");
    let typo = aman(
        &home,
        "n0rmal-river-lamp\ndur3ss-cloud-fig\n",
        &["--proxy", "sock5h://127.0.0.1:9050", "init", "--server", &server.url],
    );
    assert!(!typo.status.success());
    assert!(
        String::from_utf8_lossy(&typo.stderr).contains("not a proxy URL"),
        "{}",
        String::from_utf8_lossy(&typo.stderr)
    );
    let from_env = aman_env(
        &home,
        "n0rmal-river-lamp\ndur3ss-cloud-fig\n",
        &["init", "--server", &server.url],
        &[("AMAN_PROXY", "tor")],
    );
    assert!(!from_env.status.success(), "AMAN_PROXY is read, and checked too");
    let stats: serde_json::Value = serde_json::from_slice(&admin(&data, &["--json", "stats"]).stdout).unwrap();
    assert_eq!(stats["accounts"], 0, "nothing reached the server");
    let no_scheme = aman(&home, "n0rmal-river-lamp\ndur3ss-cloud-fig\n", &["init", "--server", "aman.example.org"]);
    assert!(String::from_utf8_lossy(&no_scheme.stderr).contains("https://aman.example.org"));
}

const MEMBER_PASS: &str = "n0rmal-river-lamp";
const MEMBER_PASSES: &str = "n0rmal-river-lamp\ndur3ss-cloud-fig\n";
const CONTACT_PASS: &str = "alice-pass-harbor";

/// `aman --json ARGS` as the member (or anyone) with one passphrase line.
fn json(home: &Path, pass: &str, args: &[&str]) -> serde_json::Value {
    let mut full = vec!["--json"];
    full.extend_from_slice(args);
    let out = aman(home, &format!("{pass}\n"), &full);
    assert!(out.status.success(), "aman {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn text(home: &Path, pass: &str, args: &[&str]) -> String {
    let out = aman(home, &format!("{pass}\n"), args);
    assert!(out.status.success(), "aman {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A member on `server` and the code of an invite for a contact labelled `label`.
fn member_with_invite(home: &Path, server: &str, label: &str) -> String {
    let out = aman(home, MEMBER_PASSES, &["init", "--server", server]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    json(home, MEMBER_PASS, &["contact", "invite", "--label", label])["code"].as_str().unwrap().to_owned()
}

/// A member on `server` with Alice's accepted invite (linked at the member's next command).
fn member_with_alice(member: &Path, alice: &Path, server: &str) {
    let code = member_with_invite(member, server, "alice");
    let out = aman(alice, "alice-pass-harbor\n", &["contact", "accept", &code, "--label", "Noor"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn await_alerts(home: &Path, pass: &str, pred: impl Fn(&[serde_json::Value]) -> bool) -> Vec<serde_json::Value> {
    let start = std::time::Instant::now();
    loop {
        let alerts = json(home, pass, &["alerts", "--all"])["alerts"].as_array().unwrap().clone();
        if pred(&alerts) || start.elapsed() > std::time::Duration::from_secs(20) {
            return alerts;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
}

#[test]
fn nobody_linked_is_said_plainly_and_an_accepted_invite_links_at_the_next_check_in() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[]));
    let (member, alice) = (dir.path().join("member"), dir.path().join("alice"));
    let code = member_with_invite(&member, &server.url, "alice");

    // Arming with nobody linked says so, in words and in JSON.
    let set = aman(&member, &format!("{MEMBER_PASS}\n"), &["schedule", "set", "--every", "3s", "--grace", "1s"]);
    let said = String::from_utf8_lossy(&set.stdout);
    assert!(said.starts_with("WARNING: no contact is linked: nobody will be alerted"), "{said}");
    let checked = json(&member, MEMBER_PASS, &["checkin"]);
    assert_eq!(
        (checked["warning"].as_str(), checked["contacts_linked"].as_u64()),
        (Some("no_contact_linked"), Some(0))
    );
    let status = text(&member, MEMBER_PASS, &["status"]);
    assert!(status.starts_with("WARNING: no contact is linked"), "status leads with it: {status}");

    // Alice accepts; the member's next check-in (no `contact list`) links her.
    let accepted = aman(&alice, &format!("{CONTACT_PASS}\n"), &["contact", "accept", &code, "--label", "Noor"]);
    assert!(accepted.status.success(), "{}", String::from_utf8_lossy(&accepted.stderr));
    let out = aman(&member, &format!("{MEMBER_PASS}\n"), &["checkin"]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && said.contains("alice accepted your invite and is now linked"), "{said}");
    assert!(!said.contains("WARNING"), "{said}");
    assert!(said.contains("your contacts are alerted at"), "{said}");

    // The member stops checking in: the alert reaches Alice.
    let alerts = await_alerts(&alice, CONTACT_PASS, |a| !a.is_empty());
    assert_eq!(alerts.first().map(|a| a["reason"].clone()), Some("missed".into()), "{alerts:?}");
}

#[test]
fn status_shows_the_last_known_deadline_when_the_server_is_down() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[]));
    let member = dir.path().join("member");
    member_with_invite(&member, &server.url, "alice");
    json(&member, MEMBER_PASS, &["schedule", "set", "--every", "6h", "--grace", "30m"]);
    let deadline = json(&member, MEMBER_PASS, &["checkin"])["deadline"].as_u64().unwrap();
    let _stopped = server.kill9();
    let out = aman(&member, &format!("{MEMBER_PASS}\n"), &["status"]);
    assert_eq!(out.status.code(), Some(3), "unreachable");
    let said = String::from_utf8_lossy(&out.stdout);
    let when = aman_client::context::format_time(deadline);
    assert!(said.contains("cannot be reached") && said.contains(&format!("alert at {when}")), "{said}");
    let out = aman(&member, &format!("{MEMBER_PASS}\n"), &["--json", "status"]);
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(seen["last_known"]["deadline"], deadline, "{seen}");
    assert_eq!(seen["error"]["code"], "server_unreachable");
}

#[test]
fn a_weak_or_too_close_passphrase_is_refused_before_anything_is_made() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("server");
    let server = ServerProcess::start(&data, "127.0.0.1:0", &server_env(&[]));
    let member = dir.path().join("member");
    for (lines, why) in [
        ("a\ndur3ss-cloud-fig\n", "the passphrase is too easy to guess"),
        ("n0rmal-river-lamp\npassword\n", "the duress passphrase is too easy to guess"),
        ("n0rmal-river-lamp\nN0rmal-River-Lamp!\n", "too close to the normal one"),
    ] {
        let out = aman(&member, lines, &["init", "--server", &server.url]);
        assert_eq!(out.status.code(), Some(1), "{lines:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(why), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(!member.join("keystore").exists(), "no keystore made");
    }
    let stats: serde_json::Value = serde_json::from_slice(&admin(&data, &["--json", "stats"]).stdout).unwrap();
    assert_eq!(stats["accounts"], 0, "nothing registered");

    // A contact is asked one passphrase: a second stdin line is ignored,
    // and only the first opens the keystore.
    let code = member_with_invite(&member, &server.url, "alice");
    let alice = dir.path().join("alice");
    let out = aman(&alice, "alice-pass-harbor\nignored-line\n", &["contact", "accept", &code, "--label", "Noor"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("This keystore has one passphrase"));
    assert!(aman(&alice, "alice-pass-harbor\n", &["verify"]).status.success());
    assert_eq!(aman(&alice, "ignored-line\n", &["verify"]).status.code(), Some(1), "the second line set nothing");
}

#[test]
fn notes_come_from_a_file_or_stdin_and_never_need_the_command_line() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[]));
    let (member, alice) = (dir.path().join("member"), dir.path().join("alice"));
    member_with_alice(&member, &alice, &server.url);
    json(&member, MEMBER_PASS, &["contact", "list"]);
    json(&member, MEMBER_PASS, &["schedule", "set", "--every", "1h", "--grace", "10m"]);
    let note = dir.path().join("note.txt");
    std::fs::write(&note, "If I vanish: K. knows where I went.\nAsk at the café.\n").unwrap();
    json(&member, MEMBER_PASS, &["checkin", "--note-file", note.to_str().unwrap()]);
    // The location from stdin, after the passphrase line.
    let out =
        aman(&member, &format!("{MEMBER_PASS}\nthe bridge on Rasheed Street\n"), &["checkin", "--location-file", "-"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // `--note` with no value asks for it (here: the next stdin lines, up to an empty one).
    let out = aman(&member, &format!("{MEMBER_PASS}\nfrom the prompt\nsecond line\n\n"), &["panic", "--note"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let alerts = await_alerts(&alice, CONTACT_PASS, |a| !a.is_empty());
    let alert = &alerts[0];
    let read = alert["note"].as_str().unwrap();
    assert!(
        read.starts_with("If I vanish: K. knows where I went.\nAsk at the café.\n\nPANIC (")
            && read.ends_with("): from the prompt\nsecond line"),
        "the panic's words follow the standing note: {read:?}"
    );
    assert_eq!(alert["location"], "the bridge on Rasheed Street");
    let shown = text(&alice, CONTACT_PASS, &["alerts"]);
    assert!(shown.contains("Location (written "), "a location says when it was written: {shown}");
}

/// `aman` off the async runtime's threads (the test's proxy runs on them).
async fn aman_async(home: &Path, stdin: &str, args: &[&str]) -> Output {
    let (home, stdin) = (home.to_owned(), stdin.to_owned());
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        aman(&home, &stdin, &args)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_given_at_init_carries_every_request_and_none_goes_around_it() {
    let _shared = super::LOAD.read().await;
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[]));
    let proxy = aman_tests::SocksProxy::start().await.unwrap();
    let member = dir.path().join("member");
    let pass = format!("{MEMBER_PASS}\n");
    let out = aman_async(&member, MEMBER_PASSES, &["--proxy", &proxy.url, "init", "--server", &server.url]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let after_init = proxy.carried();
    assert!(after_init >= 1, "init went through the proxy");

    // Later commands name no proxy: the stored one carries them.
    let out = aman_async(&member, &pass, &["schedule", "set", "--every", "6h", "--grace", "30m"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = aman_async(&member, &pass, &["--json", "checkin"]).await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let counter = serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["counter"].clone();
    assert!(proxy.carried() >= after_init + 2, "schedule and check-in went through the proxy");
    let shown: serde_json::Value =
        serde_json::from_slice(&aman_async(&member, &pass, &["--json", "config"]).await.stdout).unwrap();
    assert_eq!(shown["proxy"], proxy.url.as_str());

    // The stored proxy goes away: the check-in fails, says the proxy is
    // the problem, and nothing reaches the server directly.
    // Changing the route needs both passphrases: one, or the same one
    // twice, is not enough (a captor with one must not reroute the member).
    let dead = format!("socks5h://127.0.0.1:{}", super::free_port());
    let both = MEMBER_PASSES;
    let twice = format!("{MEMBER_PASS}\n{MEMBER_PASS}\n");
    assert_eq!(aman_async(&member, &pass, &["config", "set-proxy", &dead]).await.status.code(), Some(1));
    let refused = aman_async(&member, &twice, &["config", "set-proxy", &dead]).await;
    assert!(String::from_utf8_lossy(&refused.stderr).contains("needs both passphrases"));
    assert!(aman_async(&member, "dur3ss-cloud-fig\nn0rmal-river-lamp\n", &["config", "set-proxy", &dead])
        .await
        .status
        .success());
    let out = aman_async(&member, &pass, &["checkin"]).await;
    assert_eq!(out.status.code(), Some(3));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains(&format!("through the proxy {dead}")), "{said}");
    let bad = aman_async(&member, both, &["config", "set-proxy", "sock5h://127.0.0.1:9050"]).await;
    assert_eq!(bad.status.code(), Some(1), "a mistyped proxy is not stored");
    assert!(aman_async(&member, both, &["config", "set-proxy", &proxy.url]).await.status.success());
    let status: serde_json::Value =
        serde_json::from_slice(&aman_async(&member, &pass, &["--json", "status"]).await.stdout).unwrap();
    assert_eq!(status["counter"], counter, "the failed check-in never reached the server");
}

#[test]
fn a_server_with_a_private_certificate_is_trusted_with_ca_file() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=aman test", "-addext", "subjectAltName=IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl makes the test certificate");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let (cert_s, key_s) = (cert.to_str().unwrap(), key.to_str().unwrap());
    let env = server_env(&[("AMAN_TLS_CERT", cert_s), ("AMAN_TLS_KEY", key_s)]);
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &env);
    assert!(server.url.starts_with("https://"), "{}", server.url);
    let member = dir.path().join("member");

    let out = aman(&member, MEMBER_PASSES, &["init", "--server", &server.url]);
    assert_eq!(out.status.code(), Some(3));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("certificate is not trusted") && said.contains("--ca-file"), "{said}");
    let out = aman(&member, MEMBER_PASSES, &["--ca-file", cert_s, "init", "--server", &server.url]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // Stored: later commands trust it without the flag.
    json(&member, MEMBER_PASS, &["schedule", "set", "--every", "6h", "--grace", "30m"]);
    json(&member, MEMBER_PASS, &["checkin"]);
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let out = aman(&member, MEMBER_PASSES, &["config", "set-ca", not_pem.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "a CA file without certificates is refused");
    assert!(String::from_utf8_lossy(&out.stderr).contains("CA file"), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn a_panic_with_words_is_sent_even_beside_a_standing_note_at_the_limit() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[]));
    let (member, alice) = (dir.path().join("member"), dir.path().join("alice"));
    member_with_alice(&member, &alice, &server.url);
    let note = dir.path().join("note.txt");
    std::fs::write(&note, "ن".repeat(2000)).unwrap(); // 4,000 bytes: near the protocol's 4,096
    json(&member, MEMBER_PASS, &["schedule", "set", "--every", "1h", "--grace", "10m"]);
    json(&member, MEMBER_PASS, &["checkin", "--note-file", note.to_str().unwrap()]);
    let out = aman(&member, &format!("{MEMBER_PASS}\ntaken at the checkpoint\n"), &["panic", "--note-file", "-"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let alerts = await_alerts(&alice, CONTACT_PASS, |a| !a.is_empty());
    let read = alerts[0]["note"].as_str().unwrap();
    assert!(read.starts_with("نن") && read.ends_with("): taken at the checkpoint"), "{}", read.len());
}

#[test]
fn completing_a_pairing_never_undoes_a_schedule_change_the_server_applied() {
    let _shared = super::LOAD.blocking_read();
    let dir = tempfile::tempdir().unwrap();
    let server =
        ServerProcess::start(&dir.path().join("server"), "127.0.0.1:0", &server_env(&[("AMAN_COOLING_OFF", "2s")]));
    let (member, alice, bashir) = (dir.path().join("member"), dir.path().join("alice"), dir.path().join("bashir"));
    member_with_alice(&member, &alice, &server.url);
    json(&member, MEMBER_PASS, &["schedule", "set", "--every", "1h", "--grace", "10m"]);
    json(&member, MEMBER_PASS, &["checkin"]);
    // A longer schedule waits out the cooling-off; meanwhile Bashir is invited and accepts.
    let held = json(&member, MEMBER_PASS, &["schedule", "set", "--every", "2h", "--grace", "10m"]);
    assert_eq!(held["applied"], false);
    let code =
        json(&member, MEMBER_PASS, &["contact", "invite", "--label", "bashir"])["code"].as_str().unwrap().to_owned();
    assert!(aman(&bashir, "bashir-pass-lantern\n", &["contact", "accept", &code, "--label", "Noor"]).status.success());
    std::thread::sleep(std::time::Duration::from_millis(3500));
    // `status` links Bashir (after the server applied the 2h schedule): the
    // policy it sends must carry 2h, not the 1h the book held before.
    let status = text(&member, MEMBER_PASS, &["status"]);
    assert!(status.contains("bashir accepted your invite"), "{status}");
    let checked = json(&member, MEMBER_PASS, &["checkin"]);
    let now = aman_client::api::unix_now();
    let due = checked["next_due"].as_u64().unwrap();
    assert!(due > now + 3600 + 1800, "the 2h schedule holds: due in {} s", due - now);
}
