//! Issue 18: a data directory written by a release is opened by the next and
//! every record reads back.
//!
//! The fixtures in server/tests/fixtures were written by the releases
//! themselves (their own binaries, driven by make_fixture.sh), never by this
//! code: format1/ by 0.2 (storage format 1), format2/ by 0.3 (format 2).
//! Each test unpacks one into a temporary directory and starts the current
//! server on it through `serve::start`, the start-up path `aman-server`
//! takes (key check, migration, outage rule, schedule load), then reads
//! every record the fixture's manifest names through the store's typed
//! readers, the engine and the HTTP API, signed with the keys in the old
//! clients' keystores (which is why this test lives in the crate that has
//! the client library), and decodes every key of the database.
//!
//! The manifest holds what the old binaries reported (their admin commands,
//! API replies and the clients' `--json` output): ids, states, notes,
//! deadlines, stats; and the few inputs nothing prints (the panic notes, and
//! which check-in was made under duress).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aman_client::state::{Membership, Vault};
use aman_protocol::alert::open as open_alert;
use aman_protocol::api::{RegisterAccount, B64};
use aman_protocol::request::{HEADER_CALLER, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIME};
use aman_protocol::routes::{self, NoBody, Route};
use aman_protocol::{AccountId, AlertId, InviteCode, MailboxId, ProofKey, Registration, RequestAuth, SigningKey};
use aman_server::clock::ManualClock;
use aman_server::config::{Config, Registration as RegistrationMode};
use aman_server::engine::{open_live, FORMAT, FORMAT_KEY};
use aman_server::serve::{self, RunningServer};
use aman_server::store::{keys, SignalSlot, SledStore, Store};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The outage grace this test runs the server with (the fixtures were made
/// with 30 minutes too).
const OUTAGE_GRACE: u64 = 1800;

/// A fixture unpacked into a temporary directory.
struct Fixture {
    _dir: tempfile::TempDir,
    data: PathBuf,
    homes: PathBuf,
    manifest: Value,
}

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/tests/fixtures")
}

fn unpack(name: &str) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let from = fixtures().join(name);
    let status = std::process::Command::new("tar")
        .arg("-xzf")
        .arg(from.join("data.tar.gz"))
        .arg("-C")
        .arg(dir.path())
        .status()
        .expect("running tar");
    assert!(status.success(), "unpacking {name}");
    let manifest = serde_json::from_slice(&std::fs::read(from.join("manifest.json")).unwrap()).unwrap();
    Fixture { data: dir.path().join("aman-data"), homes: dir.path().join("homes"), manifest, _dir: dir }
}

fn config(data: &Path) -> Config {
    Config {
        data_dir: data.to_owned(),
        listen: "127.0.0.1:0".parse().unwrap(),
        registration: RegistrationMode::Invite,
        cooling_off: 86_400,
        outage_grace: OUTAGE_GRACE,
        escalation_delay: 300,
        dispatch_delay: 0,
        rate_limit_ip: 0,
        rate_limit_account: 0,
        ..Config::default()
    }
}

fn u64_of(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn opt_u64(v: &Value) -> Option<u64> {
    if v.is_null() {
        None
    } else {
        Some(u64_of(v))
    }
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v}"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn account_id(v: &Value) -> AccountId {
    str_of(v).parse().unwrap()
}

fn mailbox_id(v: &Value) -> MailboxId {
    str_of(v).parse().unwrap()
}

fn alert_id(v: &Value) -> AlertId {
    str_of(v).parse().unwrap()
}

/// Every field `old` has reads the same in `new` (which may have more: a
/// newer release adds fields, it does not change the old ones).
fn assert_subset(old: &Value, new: &Value, what: &str) {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            for (k, v) in o {
                assert_subset(v, n.get(k).unwrap_or(&Value::Null), &format!("{what}.{k}"));
            }
        }
        (Value::Array(o), Value::Array(n)) => {
            assert_eq!(o.len(), n.len(), "{what}: {old} became {new}");
            for (i, (a, b)) in o.iter().zip(n).enumerate() {
                assert_subset(a, b, &format!("{what}[{i}]"));
            }
        }
        _ => assert_eq!(old, new, "{what}"),
    }
}

fn map(v: &Value) -> &serde_json::Map<String, Value> {
    v.as_object().unwrap_or_else(|| panic!("not an object: {v}"))
}

fn arr(v: &Value) -> &Vec<Value> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}"))
}

/// The current server, started on a fixture through the real start-up path.
struct Server {
    running: Option<RunningServer>,
    clock: Arc<ManualClock>,
    url: String,
    http: reqwest::Client,
}

impl Server {
    async fn start(data: &Path, now: u64) -> Server {
        wait_unlocked(data);
        let clock = Arc::new(ManualClock::at(now));
        let running =
            serve::start(config(data), clock.clone()).await.expect("the current server starts on the fixture");
        let started = Instant::now();
        while !running.engine.schedule_ready() {
            assert!(started.elapsed() < Duration::from_secs(30), "the schedule never loaded");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let url = format!("http://{}", running.addr);
        Server { running: Some(running), clock, url, http: reqwest::Client::new() }
    }

    fn engine(&self) -> &Arc<aman_server::engine::Engine> {
        &self.running.as_ref().unwrap().engine
    }

    fn store(&self) -> &Arc<dyn Store> {
        &self.engine().store
    }

    fn now(&self) -> u64 {
        aman_server::clock::Clock::now(self.clock.as_ref())
    }

    async fn stop(mut self) {
        self.running.take().unwrap().shutdown().await.unwrap();
    }

    /// Sends route `R`'s request signed as `caller` with `key` at the
    /// server's clock; returns the status and the JSON reply.
    async fn call<R: Route>(&self, route: &R, body: &R::Request, caller: [u8; 16], key: &SigningKey) -> (u16, Value) {
        let bytes = if R::has_body() { serde_json::to_vec(body).unwrap() } else { Vec::new() };
        let path = route.path();
        let server = self.engine().server_id();
        let h = RequestAuth::new(server, R::METHOD.as_str(), &path, &bytes, caller, self.now()).unwrap().sign(key);
        let req = self
            .http
            .request(R::METHOD.as_str().parse().unwrap(), format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .header(HEADER_CALLER, h.caller)
            .header(HEADER_TIME, h.time)
            .header(HEADER_NONCE, h.nonce)
            .header(HEADER_SIGNATURE, h.signature)
            .body(bytes);
        read(req.send().await.unwrap()).await
    }

    async fn call_unsigned<R: Route>(&self, route: &R, body: &R::Request) -> (u16, Value) {
        let bytes = if R::has_body() { serde_json::to_vec(body).unwrap() } else { Vec::new() };
        let req = self
            .http
            .request(R::METHOD.as_str().parse().unwrap(), format!("{}{}", self.url, route.path()))
            .header("content-type", "application/json")
            .body(bytes);
        read(req.send().await.unwrap()).await
    }
}

async fn read(resp: reqwest::Response) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body = resp.bytes().await.unwrap();
    (status, if body.is_empty() { Value::Null } else { serde_json::from_slice(&body).unwrap_or(Value::Null) })
}

/// The fixture's clients: each keystore opened with its passphrase.
struct Clients {
    vaults: BTreeMap<String, Vault>,
}

impl Clients {
    fn open(fx: &Fixture) -> Clients {
        let suffix = str_of(&fx.manifest["passphrases"]["normal_suffix"]);
        let mut vaults = BTreeMap::new();
        for entry in std::fs::read_dir(&fx.homes).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let vault = Vault::open(&entry.path(), format!("{name}{suffix}").as_bytes())
                .unwrap_or_else(|e| panic!("{name}'s keystore from the fixture does not open: {e}"));
            vaults.insert(name, vault);
        }
        Clients { vaults }
    }

    fn member(&self, name: &str) -> (AccountId, &SigningKey) {
        let (book, key) = self.vaults[name].member().unwrap();
        (book.account, key)
    }

    fn membership(&self, contact: &str, member: &str) -> &Membership {
        let (book, _, _) = self.vaults[contact].contact().unwrap();
        book.memberships.iter().find(|m| m.label == member).unwrap_or_else(|| panic!("{contact} has no {member}"))
    }

    fn keys(&self, contact: &str, member: &str) -> aman_client::state::ContactKeys {
        self.vaults[contact].membership_keys(self.membership(contact, member)).unwrap()
    }
}

/// Every check that the records named in the manifest read back.
/// Run before any armed deadline: the outage rule moves none.
async fn check_records(server: &Server, fx: &Fixture, clients: &Clients) {
    let m = &fx.manifest;
    let store = server.store();
    let engine = server.engine();
    assert_eq!(store.meta(FORMAT_KEY).unwrap(), Some(vec![FORMAT]), "the stored format");
    assert_eq!(engine.server_id().to_string(), str_of(&m["server"]["server_id"]), "the server key is the fixture's");

    // The stats as the old `aman-server stats` printed them.
    let stats = store.stats().unwrap();
    let want = &m["stats"];
    assert_eq!(stats.accounts, u64_of(&want["accounts"]), "accounts");
    assert_eq!(stats.alerts, u64_of(&want["alerts"]), "alerts");
    assert_eq!(stats.open_alerts, u64_of(&want["open_alerts"]), "open alerts");
    assert_eq!(stats.mailboxes, u64_of(&want["mailboxes"]), "mailboxes");
    assert_eq!(stats.deliveries_pending, u64_of(&want["deliveries_pending"]), "deliveries pending");
    assert_eq!(engine.armed_deadlines(), u64_of(&want["armed_deadlines"]), "armed deadlines");

    // Invites, as `aman-server invite list` printed them.
    let invites: BTreeMap<String, _> = store.invites().unwrap().into_iter().map(|(_, r)| (r.id.clone(), r)).collect();
    let listed = arr(&m["invites"]["list"]);
    assert_eq!(invites.len(), listed.len(), "invites: {invites:?}");
    for want in listed {
        let got = &invites[str_of(&want["id"])];
        assert_eq!(u64::from(got.uses_left), u64_of(&want["uses_left"]), "uses left of {want}");
        assert_eq!(got.revoked, want["revoked"].as_bool().unwrap(), "revoked: {want}");
        assert_eq!(got.expires_at, opt_u64(&want["expires_at"]), "expiry of {want}");
    }

    // Accounts.
    let members = map(&m["members"]);
    let ids: BTreeSet<AccountId> = store.account_ids().unwrap().into_iter().collect();
    let want_ids: BTreeSet<AccountId> = members.values().map(|v| account_id(&v["account"])).collect();
    assert_eq!(ids, want_ids, "the accounts");
    let mut armed = 0;
    for (name, want) in members {
        let (id, identity) = clients.member(name);
        assert_eq!(id, account_id(&want["account"]), "{name}'s keystore names the account");
        let status = &want["status"];
        let account = engine.account(&id).unwrap().unwrap_or_else(|| panic!("{name}'s account"));
        assert_eq!(account.live.counter, u64_of(&status["counter"]), "{name}'s counter");
        assert_eq!(account.live.next_due, opt_u64(&status["next_due"]), "{name}'s next due time");
        let deadline = opt_u64(&status["deadline"]);
        assert_eq!(account.live.deadline, deadline, "{name}'s deadline");
        assert!(!account.live.outage_extended, "{name}'s deadline was not moved");
        assert!(account.live.last_heartbeat.is_some(), "{name}'s latest heartbeat");
        armed += usize::from(deadline.is_some());
        // The schedule in force: the last one the server applied.
        let applied = arr(&want["schedule"]).iter().rev().find(|s| s["applied"] == true).unwrap();
        assert_eq!(account.policy.interval, Some(u64_of(&applied["every"])), "{name}'s interval");
        assert_eq!(account.policy.grace, Some(u64_of(&applied["grace"])), "{name}'s grace");
        let linked: BTreeSet<(MailboxId, u8)> = account.policy.contacts.iter().map(|c| (c.mailbox, c.tier)).collect();
        let want_linked: BTreeSet<(MailboxId, u8)> = arr(&want["contacts"])
            .iter()
            .map(|c| (mailbox_id(&c["mailbox"]), u8::try_from(u64_of(&c["tier"])).unwrap()))
            .collect();
        assert_eq!(linked, want_linked, "{name}'s contacts");
        // Every mailbox its pairings made (linked or not), counted against its pairing cap.
        let made: BTreeSet<MailboxId> = account.mailboxes.iter().copied().collect();
        let want_made: BTreeSet<MailboxId> = map(&m["contacts"])
            .values()
            .filter_map(|c| c["memberships"].get(name.as_str()))
            .map(|accepted| mailbox_id(&accepted["mailbox"]))
            .collect();
        assert_eq!(made, want_made, "{name}'s mailboxes");
        // Through the API, signed with the key in the member's keystore.
        let (s, got) = server.call(&routes::GetAccount, &NoBody, *id.as_bytes(), identity).await;
        assert_eq!(s, 200, "{name}'s status: {got}");
        assert_eq!(got["account"], want["account"]);
        assert_eq!(got["counter"], status["counter"], "{name}");
        assert_eq!(got["next_due"], status["next_due"], "{name}");
        assert_eq!(opt_u64(&got["deadline"]), deadline, "{name}");
        assert_subset(&status["pending_changes"], &got["pending"], &format!("{name}'s waiting changes"));
        // The member's sealed note opens for every linked contact, signed by
        // the member: the words of the alert that carried it (the one with
        // its sequence number) if one did, else the note the member's client
        // keeps.
        let sealed = store.sealed(&id).unwrap().unwrap_or_else(|| panic!("{name}'s sealed note"));
        let carried: Vec<&Value> =
            map(&m["contacts"]).values().flat_map(|c| arr(&c["alerts"])).filter(|a| a["member"] == *name).collect();
        for c in arr(&want["contacts"]) {
            let keys = clients.keys(str_of(&c["label"]), name);
            let body = open_alert(&sealed, &keys.encryption, &identity.verifying_key())
                .unwrap_or_else(|e| panic!("{name}'s note does not open for {}: {e}", c["label"]));
            assert_eq!(body.account, id);
            assert!(carried.iter().all(|a| u64_of(&a["sequence"]) <= body.sequence), "{name}'s note is the latest");
            match carried.iter().find(|a| u64_of(&a["sequence"]) == body.sequence) {
                Some(alert) => {
                    assert_eq!(body.note, str_of(&alert["note"]), "{name}'s note");
                    assert_eq!(body.location, str_of(&alert["location"]), "{name}'s location");
                }
                // Not shown to any contact yet (an alert still waiting to be
                // dispatched, or a check-in's): the note the client keeps, or
                // for a panic the note the member gave it (0.3 appends it to
                // the kept one).
                None => {
                    let kept = str_of(&want["schedule_show"]["note"]);
                    let panic_note = want.get("panic_note").and_then(Value::as_str);
                    assert!(
                        body.note == kept || panic_note.is_some_and(|p| body.note.ends_with(p)),
                        "{name}'s note: {:?}, kept {kept:?}, panic {panic_note:?}",
                        body.note
                    );
                }
            }
        }
        store.note_history(&id).unwrap();
    }
    assert_eq!(armed as u64, u64_of(&m["stats"]["armed_deadlines"]), "the manifest's armed members");

    let (rami, rami_key) = clients.member("rami");
    let rami_id = rami;

    // Mailboxes, their alerts and channels, as each contact's client reads them.
    let mut alerts_seen = BTreeSet::new();
    let mut open = 0;
    for (contact, want) in map(&m["contacts"]) {
        for (member, accepted) in map(&want["memberships"]) {
            let mailbox = mailbox_id(&accepted["mailbox"]);
            let membership = clients.membership(contact, member);
            assert_eq!(membership.mailbox, mailbox, "{contact}'s keystore names the mailbox");
            let keys = clients.keys(contact, member);
            let owner = account_id(&members[member]["account"]);
            let record = store.mailbox(&mailbox).unwrap().unwrap_or_else(|| panic!("{contact}'s mailbox for {member}"));
            assert_eq!(record.account, owner, "{contact}'s mailbox belongs to {member}");
            assert_eq!(record.identity, keys.identity.verifying_key(), "{contact}'s mailbox identity");
            let (s, got) =
                server.call(&routes::MailboxAlerts::default(), &NoBody, *mailbox.as_bytes(), &keys.identity).await;
            assert_eq!(s, 200, "{contact}'s mailbox for {member}: {got}");
            let want_alerts: Vec<&Value> = arr(&want["alerts"]).iter().filter(|a| a["member"] == *member).collect();
            let got_alerts = arr(&got["alerts"]);
            assert_eq!(
                got_alerts.iter().map(|a| str_of(&a["alert"])).collect::<BTreeSet<_>>(),
                want_alerts.iter().map(|a| str_of(&a["alert"])).collect::<BTreeSet<_>>(),
                "{contact}'s alerts from {member}"
            );
            for w in want_alerts {
                let g = got_alerts.iter().find(|a| a["alert"] == w["alert"]).unwrap();
                let what = format!("alert {} in {contact}'s mailbox", w["alert"]);
                assert_eq!(g["account"], members[member]["account"], "{what}");
                assert_eq!(g["reason"], w["reason"], "{what}");
                assert_eq!(g["fired_at"], w["fired_at"], "{what}");
                assert_eq!(g["deadline"], w["deadline"], "{what}");
                assert_eq!(g["server_was_down"], w["server_was_down"], "{what}");
                assert_eq!(g["note_received_at"], w["note_received_at"], "{what}");
                // Acknowledgements: who and when.
                let acks: Vec<(bool, u64)> =
                    arr(&g["acks"]).iter().map(|k| (mailbox_id(&k["mailbox"]) == mailbox, u64_of(&k["at"]))).collect();
                let want_acks: Vec<(bool, u64)> =
                    arr(&w["acks"]).iter().map(|k| (k["by"] == "you", u64_of(&k["at"]))).collect();
                assert_eq!(acks, want_acks, "{what}: acknowledgements");
                let kinds = |v: &Value| arr(v).iter().map(|n| (n["kind"].clone(), n["at"].clone())).collect::<Vec<_>>();
                assert_eq!(kinds(&g["notices"]), kinds(&w["notices"]), "{what}: notices");
                // The sealed note opens with the contact's key, as it did.
                let sealed: B64 = serde_json::from_value(g["sealed_alert"].clone()).unwrap();
                let body = open_alert(&sealed.0, &keys.encryption, &membership.member).unwrap();
                assert_eq!(body.note, str_of(&w["note"]), "{what}");
                assert_eq!(body.location, str_of(&w["location"]), "{what}");
                assert_eq!(body.sequence, u64_of(&w["sequence"]), "{what}");
                // Earlier notes, as the client shows them: opened, newest
                // first, without repeats of words already shown or empty ones.
                let mut shown = vec![(body.note.clone(), body.location.clone())];
                let mut earlier = Vec::new();
                for n in arr(&g["earlier_notes"]) {
                    let sealed: B64 = serde_json::from_value(n["sealed_alert"].clone()).unwrap();
                    let note = open_alert(&sealed.0, &keys.encryption, &membership.member)
                        .unwrap_or_else(|e| panic!("{what}: an earlier note does not open: {e}"));
                    let words = (note.note, note.location);
                    if !(shown.contains(&words) || words.0.is_empty() && words.1.is_empty()) {
                        shown.push(words.clone());
                        earlier.push((words, u64_of(&n["received_at"])));
                    }
                }
                let want_earlier: Vec<((String, String), u64)> = arr(&w["earlier_notes"])
                    .iter()
                    .map(|n| {
                        let words = (str_of(&n["note"]).to_owned(), str_of(&n["location"]).to_owned());
                        (words, u64_of(&n["received_at"]))
                    })
                    .collect();
                assert_eq!(earlier, want_earlier, "{what}: earlier notes");
                // The stored alert and its entry in this mailbox.
                let id = alert_id(&w["alert"]);
                let record = store.alert(&id).unwrap().unwrap();
                let meta = engine.alert_meta(&id, &record).unwrap();
                assert_eq!(meta.reason.as_str(), str_of(&w["reason"]), "{what}");
                assert_eq!(meta.fired_at, u64_of(&w["fired_at"]), "{what}");
                assert_eq!(meta.deadline, opt_u64(&w["deadline"]), "{what}");
                assert_eq!(meta.server_was_down, w["server_was_down"] == true, "{what}");
                let entry = store.mailbox_entry(&mailbox, &id).unwrap().unwrap();
                assert_eq!(entry.acknowledged, !record.acks.is_empty(), "{what}: entry's ack state");
                assert!(
                    store.mailbox_changes(&mailbox).unwrap().iter().any(|(at, a)| *a == id && *at == entry.changed),
                    "{what}: in the mailbox's change index"
                );
                // Its delivery log reads.
                let (s, log) = server
                    .call(&routes::AlertDeliveries { alert: id }, &NoBody, *mailbox.as_bytes(), &keys.identity)
                    .await;
                assert_eq!(s, 200, "{what}: delivery log {log}");
                if alerts_seen.insert(id) && record.acks.is_empty() {
                    open += 1;
                }
            }
            // The account-level notices (a waiting change, new keys), as the client listed them.
            let notices = |v: &Value, member_is: &dyn Fn(&Value) -> bool| -> Vec<(Value, Value, Value)> {
                arr(v)
                    .iter()
                    .filter(|n| member_is(n))
                    .map(|n| {
                        let n = if n.get("notice").is_some() { &n["notice"] } else { n };
                        (n["kind"].clone(), n["at"].clone(), n["effective_at"].clone())
                    })
                    .collect()
            };
            assert_eq!(
                notices(&got["notices"], &|n| n["account"] == members[member]["account"]),
                notices(&want["notices"], &|n| n["member"] == *member),
                "{contact}'s notices about {member}"
            );
            // The member's latest heartbeat, relayed (not for a mailbox the member never linked).
            if arr(&members[member]["contacts"]).iter().any(|c| c["mailbox"] == accepted["mailbox"]) {
                let (s, hb) = server.call(&routes::Heartbeats, &NoBody, *mailbox.as_bytes(), &keys.identity).await;
                assert_eq!(s, 200, "{contact}'s heartbeat of {member}: {hb}");
                assert!(!hb["heartbeat"].is_null(), "{contact}'s heartbeat of {member}: {hb}");
            }
            // Notification channels.
            let (s, endpoints) =
                server.call(&routes::ListEndpoints, &NoBody, *mailbox.as_bytes(), &keys.identity).await;
            assert_eq!(s, 200, "{endpoints}");
            let got: Vec<(u64, String, String)> = arr(&endpoints["endpoints"])
                .iter()
                .map(|e| (u64_of(&e["id"]), str_of(&e["kind"]).to_owned(), str_of(&e["target"]).to_owned()))
                .collect();
            let want: Vec<(u64, String, String)> = want
                .get("channels")
                .map(|c| {
                    arr(c)
                        .iter()
                        .map(|e| (u64_of(&e["id"]), str_of(&e["kind"]).to_owned(), str_of(&e["target"]).to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            assert_eq!(got, want, "{contact}'s channels for {member}");
        }
    }
    // An alert made just before the old server stopped, not dispatched yet:
    // nobody has seen it; it waits in the dispatch queue, its sealed note
    // readable by the member's contacts.
    let mut waiting = BTreeSet::new();
    for (name, want) in members {
        let Some(panic) = want.get("panic") else { continue };
        let id = alert_id(&panic["alert"]);
        if alerts_seen.contains(&id) {
            continue;
        }
        waiting.insert(id);
        let record = store.alert(&id).unwrap().unwrap_or_else(|| panic!("{name}'s waiting alert"));
        assert!(record.acks.is_empty() && !record.dispatched, "{name}'s waiting alert");
        assert_eq!(engine.alert_meta(&id, &record).unwrap().reason.as_str(), "panic");
        let (_, identity) = clients.member(name);
        for c in arr(&want["contacts"]) {
            let keys = clients.keys(str_of(&c["label"]), name);
            let body = open_alert(&record.sealed_alert.0, &keys.encryption, &identity.verifying_key()).unwrap();
            assert!(body.note.ends_with(str_of(&want["panic_note"])), "{name}'s waiting alert: {:?}", body.note);
        }
        open += 1;
    }
    let dispatches = store.dispatches().unwrap();
    assert_eq!(dispatches.iter().map(|(_, a)| *a).collect::<BTreeSet<_>>(), waiting, "the dispatch queue");
    let (stopping, stopped) = (u64_of(&m["stopping_at"]), u64_of(&m["stopped_at"]));
    for (at, _) in &dispatches {
        assert!(*at > stopped && *at <= stopping + 7200, "dispatched at {at}: within the old dispatch delay");
    }
    let summaries: BTreeSet<AlertId> = store.alert_summaries().unwrap().into_iter().map(|(a, ..)| a).collect();
    assert_eq!(summaries, alerts_seen.union(&waiting).copied().collect(), "every alert");
    assert_eq!(open, u64_of(&m["stats"]["open_alerts"]), "the unacknowledged alerts");

    // An escalation 0.2 had scheduled a day after it told the first tier
    // (sami's panic, for carol in tier 2).
    let escalations = store.escalations().unwrap();
    let sami_panic = alert_id(&members["sami"]["panic"]["alert"]);
    assert_eq!(escalations.iter().map(|(_, a)| *a).collect::<Vec<_>>(), vec![sami_panic], "escalations");
    let fired = u64_of(
        &arr(&m["contacts"]["alice"]["alerts"])
            .iter()
            .find(|a| a["alert"] == members["sami"]["panic"]["alert"])
            .unwrap()["fired_at"],
    );
    assert!((fired + 86_400..=fired + 86_402).contains(&escalations[0].0), "escalation at {}", escalations[0].0);

    // The signal of rami's last check-in, read by the scheduler when due
    // (within the old dispatch delay): 0.2 keyed it in clear by due time,
    // account and counter.
    let signals = store.signals().unwrap();
    assert_eq!(signals.len(), 1, "{signals:?}");
    match signals[0] {
        SignalSlot::Legacy { due, account, counter } => {
            assert_eq!((account, counter), (rami_id, u64_of(&members["rami"]["status"]["counter"])));
            assert!(due > stopped && due <= stopping + 7200, "signal due at {due}");
        }
        SignalSlot::Id(_) => assert!(!str_of(&m["made_by"]).contains("0.2.0"), "0.2 keyed its signals in clear"),
        SignalSlot::Live(_) => panic!("signals() lists only signals on their own keys"),
    }
    assert!(store.signal(&signals[0]).unwrap().is_some());
    let acked = alert_id(&m["acknowledged"]["acknowledged"]);
    assert!(!store.alert(&acked).unwrap().unwrap().acks.is_empty(), "the acknowledged alert");

    // The pairings: one answered and never completed, one never answered.
    for (which, answered) in [("answered_not_completed", true), ("unanswered", false)] {
        let want = &m["pairings"][which];
        let invite = InviteCode::parse(str_of(&want["code"])).unwrap().id;
        let record = store.pairing(&invite).unwrap().unwrap_or_else(|| panic!("the {which} pairing"));
        assert_eq!(record.account, rami);
        assert_eq!(record.expires_at, u64_of(&want["expires_at"]), "{which}");
        assert_eq!(record.enrollment.is_some(), answered, "{which}");
        let (s, state) = server.call(&routes::GetPairing { invite }, &NoBody, *rami.as_bytes(), rami_key).await;
        assert_eq!(s, 200, "{which}: {state}");
        assert_eq!(!state["enrollment"].is_null(), answered, "{which}: {state}");
        if answered {
            let dawud = mailbox_id(&m["contacts"]["dawud"]["memberships"]["rami"]["mailbox"]);
            assert_eq!(record.mailbox, Some(dawud));
        }
    }

    // The pairings the linked contacts went through are kept until they
    // expire: each is still there and names its member.
    for (invite, record) in store.pairings().unwrap() {
        assert!(want_ids.contains(&record.account), "pairing {invite} names an unknown account");
    }

    // The queued deliveries.
    let mut queued = 0u64;
    store
        .scan_due(u64::MAX, &mut |d| {
            assert!(store.mailbox(&d.mailbox).unwrap().is_some(), "a queued delivery for a mailbox that exists");
            queued += 1;
            true
        })
        .unwrap();
    assert_eq!(queued, u64_of(&m["stats"]["deliveries_pending"]));
}

/// Reads every key of a stopped server's database with the reader that
/// decodes it; fails on any key that does not decode, on a 0.2 deadline
/// index entry, and on a prefix nothing reads. Returns the keys per prefix.
fn decode_every_key(data: &Path) -> BTreeMap<char, usize> {
    let cfg = config(data);
    let key = aman_server::keyfile::load_or_create(&cfg.key_file()).unwrap();
    let store = open_store(data);
    let entries = store.raw_entries().unwrap();
    let mut counts: BTreeMap<char, usize> = BTreeMap::new();
    let id16 = |k: &[u8], at: usize| -> [u8; 16] { k[at..at + 16].try_into().unwrap() };
    let fail = |k: &[u8], e: &dyn std::fmt::Debug| -> ! {
        panic!("key {} ({:?}) does not read: {e:?}", hex(k), char::from(k[0]))
    };
    for (k, v) in &entries {
        *counts.entry(char::from(k[0])).or_default() += 1;
        match k[0] {
            keys::prefix::META => {
                let name = std::str::from_utf8(&k[1..]).unwrap();
                assert!(store.meta(name).unwrap().is_some());
            }
            keys::prefix::ACCOUNT => {
                let id = AccountId::from_bytes(id16(k, 1));
                store.account(&id).unwrap_or_else(|e| fail(k, &e)).unwrap();
                // What a check-in changes lives sealed in `t` now: nothing
                // of it is left in clear in the record.
                let record: Value = serde_json::from_slice(v).unwrap();
                for field in ["counter", "next_due", "deadline", "last_heartbeat", "alert_open", "outage_extended"] {
                    assert!(record.get(field).is_none(), "{field} left in clear in {id}'s record");
                }
            }
            keys::prefix::LIVE => {
                let id = AccountId::from_bytes(id16(k, 1));
                open_live(&key, &id, v).unwrap_or_else(|| fail(k, &"the live state does not open"));
                assert!(store.account(&id).unwrap().is_some(), "a live state without its account");
            }
            keys::prefix::SEALED => {
                store.sealed(&AccountId::from_bytes(id16(k, 1))).unwrap_or_else(|e| fail(k, &e)).unwrap();
            }
            keys::prefix::NOTE_HISTORY => {
                store.note_history(&AccountId::from_bytes(id16(k, 1))).unwrap_or_else(|e| fail(k, &e));
            }
            keys::prefix::REMINDERS => {
                store.reminders(&AccountId::from_bytes(id16(k, 1))).unwrap_or_else(|e| fail(k, &e)).unwrap();
            }
            keys::prefix::INVITE => {
                let hash: [u8; 32] = k[1..].try_into().unwrap_or_else(|e| fail(k, &e));
                store.invite(&hash).unwrap_or_else(|e| fail(k, &e)).unwrap();
            }
            keys::prefix::MAILBOX => {
                store.mailbox(&MailboxId::from_slice(&k[1..]).unwrap()).unwrap_or_else(|e| fail(k, &e)).unwrap();
            }
            keys::prefix::PAIRING => {
                let id = aman_protocol::InviteId::from_slice(&k[1..]).unwrap_or_else(|e| fail(k, &e));
                store.pairing(&id).unwrap_or_else(|e| fail(k, &e)).unwrap();
            }
            keys::prefix::ALERT => {
                store.alert(&AlertId::from_slice(&k[1..]).unwrap()).unwrap_or_else(|e| fail(k, &e)).unwrap();
            }
            keys::prefix::MAILBOX_ENTRY => {
                let mailbox = MailboxId::from_slice(&k[1..17]).unwrap_or_else(|e| fail(k, &e));
                let alert = AlertId::from_slice(&k[17..]).unwrap_or_else(|e| fail(k, &e));
                let entry = store.mailbox_entry(&mailbox, &alert).unwrap_or_else(|e| fail(k, &e)).unwrap();
                assert_ne!(entry.changed, 0, "a mailbox entry without a change stamp");
                assert!(
                    store.mailbox_changes(&mailbox).unwrap().contains(&(entry.changed, alert)),
                    "a mailbox entry missing from the change index"
                );
            }
            keys::prefix::MAILBOX_CHANGE => {
                keys::parse_mailbox_change(k).unwrap_or_else(|| fail(k, &"a change index key"));
            }
            keys::prefix::MAILBOX_NOTICE => {
                store.mailbox_notices(&MailboxId::from_slice(&k[1..17]).unwrap()).unwrap_or_else(|e| fail(k, &e));
            }
            keys::prefix::DELIVERY_LOG => {
                store.delivery_log(&AlertId::from_slice(&k[1..17]).unwrap()).unwrap_or_else(|e| fail(k, &e));
            }
            keys::prefix::RETIRED => {
                assert!(store.retired(&k[1..].try_into().unwrap()).unwrap());
            }
            // Listed, and so decoded, all at once below.
            keys::prefix::OUTBOX
            | keys::prefix::ESCALATION
            | keys::prefix::COOLING
            | keys::prefix::DISPATCH
            | keys::prefix::SIGNAL => {}
            keys::prefix::LEGACY_DEADLINE => fail(k, &"a 0.2 deadline index entry survived the migration"),
            _ => fail(k, &"no reader knows this prefix"),
        }
    }
    let count = |p: u8| counts.get(&char::from(p)).copied().unwrap_or(0);
    let mut outbox = 0;
    store
        .scan_due(u64::MAX, &mut |_| {
            outbox += 1;
            true
        })
        .unwrap();
    assert_eq!(outbox, count(keys::prefix::OUTBOX), "outbox entries");
    assert_eq!(store.escalations().unwrap().len(), count(keys::prefix::ESCALATION), "escalations");
    assert_eq!(store.cooling().unwrap().len(), count(keys::prefix::COOLING), "cooling-off entries");
    assert_eq!(store.dispatches().unwrap().len(), count(keys::prefix::DISPATCH), "dispatches");
    assert_eq!(store.signals().unwrap().len(), count(keys::prefix::SIGNAL), "check-in signals");
    assert_eq!(store.all_mailbox_changes().unwrap().len(), count(keys::prefix::MAILBOX_CHANGE), "change index");
    let notices: usize =
        store.mailboxes().unwrap().iter().map(|(mb, _)| store.mailbox_notices(mb).unwrap().len()).sum();
    assert_eq!(notices, count(keys::prefix::MAILBOX_NOTICE), "mailbox notices");
    // Log lines are keyed by alert id, or by a notice's own id for a notice.
    let logged_ids: BTreeSet<AlertId> = entries
        .iter()
        .filter(|(k, _)| k[0] == keys::prefix::DELIVERY_LOG)
        .map(|(k, _)| AlertId::from_slice(&k[1..17]).unwrap())
        .collect();
    let logged: usize = logged_ids.iter().map(|a| store.delivery_log(a).unwrap().len()).sum();
    assert_eq!(logged, count(keys::prefix::DELIVERY_LOG), "delivery log lines");
    assert_eq!(store.mailboxes().unwrap().len(), count(keys::prefix::MAILBOX));
    assert_eq!(store.pairings().unwrap().len(), count(keys::prefix::PAIRING));
    assert_eq!(store.invites().unwrap().len(), count(keys::prefix::INVITE));
    assert_eq!(store.all_reminders().unwrap().len(), count(keys::prefix::REMINDERS));
    store.stats().unwrap();
    counts
}

/// Waits until nothing holds the database's lock: sled lets go of it a
/// moment after its last handle is dropped (when its flusher thread ends),
/// and a server or store opened before then would fail to.
fn wait_unlocked(data: &Path) {
    let path = config(data).db_dir().join("db");
    let started = Instant::now();
    loop {
        let file = std::fs::File::open(&path).unwrap();
        match rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return, // released as `file` closes
            Err(e) if started.elapsed() > Duration::from_secs(20) => panic!("the database stays locked: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// Opens a stopped server's database.
fn open_store(data: &Path) -> SledStore {
    wait_unlocked(data);
    SledStore::open(&config(data).db_dir()).unwrap()
}

/// Every key and value but the server's metadata (heartbeat, outage window).
fn records(data: &Path) -> Vec<(Vec<u8>, Vec<u8>)> {
    open_store(data).raw_entries().unwrap().into_iter().filter(|(k, _)| k[0] != keys::prefix::META).collect()
}

/// Asserts two snapshots of [`records`] are the same, naming the keys that differ.
fn assert_same_records(before: &[(Vec<u8>, Vec<u8>)], after: &[(Vec<u8>, Vec<u8>)], what: &str) {
    let old: BTreeMap<_, _> = before.iter().cloned().collect();
    let new: BTreeMap<_, _> = after.iter().cloned().collect();
    let changed: Vec<String> = old
        .keys()
        .chain(new.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .map(|k| format!("{:?} {}", char::from(k[0]), hex(k)))
        .collect();
    assert!(changed.is_empty(), "{what}: {} key(s) written or removed: {changed:#?}", changed.len());
}

fn stored_format(data: &Path) -> Option<Vec<u8>> {
    open_store(data).meta(FORMAT_KEY).unwrap()
}

/// A new member registers with the invite the fixture left unused; the
/// used-up and the revoked ones are refused.
async fn unused_invite_registers(server: &Server, fx: &Fixture) {
    let info = server.engine().server_info();
    let register = |code: &str| {
        let identity = SigningKey::generate().unwrap();
        let registration = Registration {
            server: info.server_id,
            account: AccountId::random().unwrap(),
            identity: identity.verifying_key(),
            normal: SigningKey::generate().unwrap().verifying_key(),
            duress: SigningKey::generate().unwrap().verifying_key(),
            transport: ProofKey::generate().unwrap(),
            created: server.now(),
        }
        .seal(&identity, &info.server_key)
        .unwrap();
        RegisterAccount { invite: Some(code.to_owned()), registration: B64(registration) }
    };
    let invites = &fx.manifest["invites"];
    for (which, status) in [("noor", 403), ("revoked", 403), ("unused", 201), ("unused", 403)] {
        let (s, body) = server.call_unsigned(&routes::Register, &register(str_of(&invites[which]["code"]))).await;
        assert_eq!(s, status, "registering with the {which} invite: {body}");
    }
    assert_eq!(server.store().stats().unwrap().accounts, u64_of(&fx.manifest["stats"]["accounts"]) + 1);
}

/// Every alert id the manifest names (seen by a contact, or a member's panic).
fn seen_alerts(fx: &Fixture) -> BTreeSet<AlertId> {
    let m = &fx.manifest;
    let seen = map(&m["contacts"]).values().flat_map(|c| arr(&c["alerts"])).map(|a| alert_id(&a["alert"]));
    let panics = map(&m["members"]).values().filter_map(|v| v.get("panic")).map(|p| alert_id(&p["alert"]));
    seen.chain(panics).collect()
}

fn manifest_deadlines(fx: &Fixture) -> Vec<u64> {
    map(&fx.manifest["members"]).values().filter_map(|m| opt_u64(&m["status"]["deadline"])).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_format_1_directory_written_by_0_2_is_migrated_and_every_record_reads_back() {
    let fx = unpack("format1");
    // The fixture is what it says: 0.2 recorded no format and kept a clear
    // deadline index.
    assert_eq!(stored_format(&fx.data), None, "format1/ was not written by 0.2");
    {
        let store = open_store(&fx.data);
        let mut before: BTreeMap<char, usize> = BTreeMap::new();
        for (k, _) in store.raw_entries().unwrap() {
            *before.entry(char::from(k[0])).or_default() += 1;
        }
        eprintln!("format1/ as 0.2 left it, keys per prefix: {before:?}");
        assert_eq!(store.legacy_deadlines().unwrap().len() as u64, u64_of(&fx.manifest["stats"]["armed_deadlines"]));
    }
    let clients = Clients::open(&fx);
    let stopped = u64_of(&fx.manifest["stopped_at"]);
    assert!(manifest_deadlines(&fx).iter().all(|d| *d > stopped + 600), "a deadline would fall in the outage");

    // Ten minutes after 0.2 stopped, before any armed deadline.
    let server = Server::start(&fx.data, stopped + 600).await;
    check_records(&server, &fx, &clients).await;
    server.stop().await;
    let counts = decode_every_key(&fx.data);
    eprintln!("after the migration: {counts:?}");
    assert!(!counts.contains_key(&'d'), "{counts:?}");
    let migrated = records(&fx.data);

    // A second start finds the current format and changes no record.
    assert_eq!(stored_format(&fx.data), Some(vec![FORMAT]));
    let server = Server::start(&fx.data, stopped + 660).await;
    assert_eq!(server.engine().stored_format().unwrap(), FORMAT);
    check_records(&server, &fx, &clients).await;
    server.stop().await;
    assert_same_records(&migrated, &records(&fx.data), "the second start rewrote records");

    // And the invite 0.2 left unused still registers a member.
    let server = Server::start(&fx.data, stopped + 720).await;
    unused_invite_registers(&server, &fx).await;
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_format_1_deadline_that_fell_while_the_server_was_down_gets_the_outage_grace_once() {
    let fx = unpack("format1");
    let clients = Clients::open(&fx);
    let members = map(&fx.manifest["members"]);
    let last = manifest_deadlines(&fx).into_iter().max().unwrap();
    // An hour after the last armed deadline: every one of them fell while
    // no server ran (0.2 was last up at `stopped_at` at the latest), so the
    // outage rule moves each to start + outage grace, and marks it so that
    // a later start does not move it again.
    let start = last + 3600;
    let moved = start + OUTAGE_GRACE;
    let server = Server::start(&fx.data, start).await;
    assert_eq!(server.store().meta(FORMAT_KEY).unwrap(), Some(vec![FORMAT]));
    assert_eq!(server.engine().armed_deadlines(), u64_of(&fx.manifest["stats"]["armed_deadlines"]));
    // What 0.2 left queued came due during the outage too: the first tick
    // reads rami's check-in signal, dispatches rami's panic, escalates
    // sami's panic to carol, and applies the waiting changes (noor's
    // longer interval, rami's new keys). None of it makes an alert.
    let noor = account_id(&members["noor"]["account"]);
    let rami = account_id(&members["rami"]["account"]);
    let started = Instant::now();
    loop {
        let store = server.store();
        let (n, r) =
            (server.engine().account(&noor).unwrap().unwrap(), server.engine().account(&rami).unwrap().unwrap());
        let settled = store.signals().unwrap().is_empty()
            && store.dispatches().unwrap().is_empty()
            && store.escalations().unwrap().is_empty()
            && n.pending_policy.is_none()
            && r.pending_keys.is_none();
        if settled {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "what 0.2 left queued was never done");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (n, r) = (server.engine().account(&noor).unwrap().unwrap(), server.engine().account(&rami).unwrap().unwrap());
    let waiting = &members["noor"]["schedule"][1];
    assert_eq!(n.policy.interval, Some(u64_of(&waiting["every"])), "noor's waiting interval applied");
    assert_eq!(n.policy.grace, Some(u64_of(&waiting["grace"])));
    assert_eq!(r.key_generation, 1, "rami's waiting keys took over");
    // rami's last check-in was made under duress: reading its signal makes
    // the one new alert, a duress alert carrying the note that check-in
    // sealed (since replaced by the panic's), for carol at once.
    let before: BTreeSet<AlertId> = seen_alerts(&fx);
    let now: Vec<AlertId> = server.store().alert_summaries().unwrap().into_iter().map(|(a, ..)| a).collect();
    let made: Vec<AlertId> = now.iter().filter(|a| !before.contains(a)).copied().collect();
    assert_eq!(now.len() as u64, u64_of(&fx.manifest["stats"]["alerts"]) + 1, "one alert made: {made:?}");
    let duress = &fx.manifest["duress_signal_not_yet_read"];
    let made = made[0];
    let record = server.store().alert(&made).unwrap().unwrap();
    let meta = server.engine().alert_meta(&made, &record).unwrap();
    assert_eq!((meta.reason.as_str(), record.account), ("duress", rami));
    // carol now holds it, rami's panic (dispatched) and sami's alerts (escalated to her tier).
    for member in ["rami", "sami"] {
        let keys = clients.keys("carol", member);
        let membership = clients.membership("carol", member);
        let (s, got) = server
            .call(&routes::MailboxAlerts::default(), &NoBody, *membership.mailbox.as_bytes(), &keys.identity)
            .await;
        assert_eq!(s, 200, "{got}");
        let ids: BTreeSet<&str> = arr(&got["alerts"]).iter().map(|a| str_of(&a["alert"])).collect();
        let mut want: BTreeSet<String> = arr(&fx.manifest["contacts"]["carol"]["alerts"])
            .iter()
            .chain(arr(&fx.manifest["contacts"]["alice"]["alerts"]))
            .filter(|a| a["member"] == member)
            .map(|a| str_of(&a["alert"]).to_owned())
            .collect();
        if let Some(panic) = members[member].get("panic") {
            want.insert(str_of(&panic["alert"]).to_owned());
        }
        if member == "rami" {
            want.insert(made.to_string());
            let alert = arr(&got["alerts"]).iter().find(|a| a["alert"] == made.to_string()).unwrap();
            assert_eq!(alert["reason"], "duress");
            let sealed: B64 = serde_json::from_value(alert["sealed_alert"].clone()).unwrap();
            let body = open_alert(&sealed.0, &keys.encryption, &membership.member).unwrap();
            assert_eq!(
                (body.note.as_str(), body.location.as_str()),
                (str_of(&duress["note"]), str_of(&duress["location"]))
            );
        }
        assert_eq!(ids, want.iter().map(String::as_str).collect(), "carol's mailbox for {member}");
    }
    // And the deadlines, after all that, are where the outage rule put them.
    for (name, m) in members {
        let (id, identity) = clients.member(name);
        let live = server.engine().account(&id).unwrap().unwrap().live;
        let armed = opt_u64(&m["status"]["deadline"]).is_some();
        assert_eq!(live.deadline, armed.then_some(moved), "{name}'s deadline after the outage");
        assert_eq!(live.outage_extended, armed, "{name}");
        assert_eq!(live.counter, u64_of(&m["status"]["counter"]), "{name}");
        let (s, got) = server.call(&routes::GetAccount, &NoBody, *id.as_bytes(), identity).await;
        assert_eq!(s, 200, "{got}");
        assert_eq!(opt_u64(&got["deadline"]), armed.then_some(moved), "{name}'s deadline through the API");
    }
    server.stop().await;
    decode_every_key(&fx.data);

    // A second start (still before the moved deadlines) moves nothing again.
    let server = Server::start(&fx.data, start + 60).await;
    for (name, m) in members {
        let live = server.engine().account(&account_id(&m["account"])).unwrap().unwrap().live;
        let armed = opt_u64(&m["status"]["deadline"]).is_some();
        assert_eq!(live.deadline, armed.then_some(moved), "{name}: moved once, not again");
    }
    // The moved deadlines fire when they come, saying the server had been down.
    let fired = server.engine().tick(moved).fired;
    assert_eq!(fired.len(), manifest_deadlines(&fx).len(), "{fired:?}");
    let alerts = server.store().alert_summaries().unwrap().len();
    assert_eq!(alerts as u64, u64_of(&fx.manifest["stats"]["alerts"]) + 1 + fired.len() as u64);
    for alert in &fired {
        let record = server.store().alert(alert).unwrap().unwrap();
        let meta = server.engine().alert_meta(alert, &record).unwrap();
        assert_eq!((meta.reason.as_str(), meta.deadline, meta.server_was_down), ("missed", Some(moved), true));
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_format_2_directory_written_by_0_3_is_marked_format_3_without_a_record_rewritten_and_every_record_reads_back()
{
    // Format 3 changed only what this build writes (a check-in's signal in
    // the live state); it reads format 2's records as they are. format3/ is
    // made by the release that first writes format 3 (its own binaries).
    assert_eq!(
        FORMAT, 3,
        "this build writes a new format: add a migration test from format 3 and, with the release, \
         format{FORMAT}/ (server/tests/fixtures/README.md)"
    );
    let fx = unpack("format2");
    assert_eq!(stored_format(&fx.data), Some(vec![2]), "format2/ was not written by a format-2 server");
    let before = records(&fx.data);
    let clients = Clients::open(&fx);
    let stopped = u64_of(&fx.manifest["stopped_at"]);
    assert!(manifest_deadlines(&fx).iter().all(|d| *d > stopped + 600), "a deadline would fall in the outage");

    let server = Server::start(&fx.data, stopped + 600).await;
    check_records(&server, &fx, &clients).await;
    server.stop().await;
    decode_every_key(&fx.data);
    assert_same_records(&before, &records(&fx.data), "opening a format-2 directory rewrote records");

    let server = Server::start(&fx.data, stopped + 660).await;
    unused_invite_registers(&server, &fx).await;
    server.stop().await;
}
