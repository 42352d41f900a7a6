//! A data directory written by 0.2 (format 1) is migrated forward at start-up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aman_server::engine::{FORMAT, FORMAT_KEY};
use aman_server::store::keys;
use aman_server::store::Store;
use axum::http::StatusCode;
use common::*;
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_format_1_data_directory_is_migrated_at_start_up() {
    let mut app = TestApp::new();
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    let (s, b) = app.call(m.checkin_request(false, 3600, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let deadline = b["deadline"].as_u64().unwrap();
    let (alert, _) = app.engine.panic(&m.account, None).unwrap();
    app.tick();
    let account = app.engine.account(&m.account).unwrap().unwrap();

    // Lay the data out as 0.2 did: the live fields in the account record in
    // clear, a deadline index entry, mailbox entries without a change stamp
    // or index, no format version.
    let mut record = serde_json::to_value(&account.record).unwrap();
    let live = &account.live;
    record["counter"] = json!(live.counter);
    record["next_due"] = json!(live.next_due);
    record["deadline"] = json!(live.deadline);
    record["alert_open"] = json!(live.alert_open);
    record["outage_extended"] = json!(false);
    record["last_heartbeat"] = json!(aman_protocol::text::b64_encode(live.last_heartbeat.as_deref().unwrap()));
    let raw = |k: &[u8], v: Option<&[u8]>| app.store.raw_write(k, v).unwrap();
    raw(&keys::account(&m.account), Some(&serde_json::to_vec(&record).unwrap()));
    raw(&keys::live(&m.account), None);
    raw(&keys::legacy_deadline(deadline, &m.account), Some(b""));
    let mailbox = m.contacts[0].mailbox;
    for (id, entry) in app.store.mailbox_entries(&mailbox).unwrap() {
        raw(&keys::mailbox_change(&mailbox, entry.changed, &id), None);
        let old = json!({ "added": entry.added, "tier": entry.tier });
        raw(&keys::mailbox_entry(&mailbox, &id), Some(&serde_json::to_vec(&old).unwrap()));
    }
    raw(&keys::meta(FORMAT_KEY), None);
    app.store.flush().unwrap();

    app.restart_at(app.now() + 10);
    assert_eq!(app.store.meta(FORMAT_KEY).unwrap(), Some(vec![FORMAT]));
    // 0.2 kept no signal: the migrated state holds none.
    let carried = aman_server::store::LiveState { signal: Default::default(), ..account.live.clone() };
    assert_eq!(app.engine.account(&m.account).unwrap().unwrap().live, carried, "the live state carried over");
    assert!(app.store.live(&m.account).unwrap().is_some(), "now sealed on its own key");
    assert!(app.store.legacy_deadlines().unwrap().is_empty(), "the clear deadline index is gone");
    let stored: Value = serde_json::from_slice(
        &app.store.raw_entries().unwrap().into_iter().find(|(k, _)| *k == keys::account(&m.account)).unwrap().1,
    )
    .unwrap();
    for field in ["counter", "next_due", "deadline", "last_heartbeat", "alert_open"] {
        assert!(stored.get(field).is_none(), "{field} left the record in clear: {stored}");
    }
    assert_eq!(app.engine.armed_deadlines(), 1);
    assert_eq!(app.status_of(&m).await["deadline"], json!(deadline));
    let seen = app.mailbox(&m.contacts[0]).await;
    assert_eq!(seen["alerts"][0]["alert"], alert.to_string(), "the old mailbox entry reads: {seen}");
    // And it still works: the deadline fires.
    app.clock.set(deadline);
    assert_eq!(app.tick().fired.len(), 1);
}

#[tokio::test]
async fn a_database_from_a_newer_version_is_refused() {
    let app = TestApp::new();
    app.store.raw_write(&keys::meta(FORMAT_KEY), Some(&[FORMAT + 1])).unwrap();
    let key = aman_server::keyfile::load_or_create(&app.dir.path().join("server.key")).unwrap();
    let config = (*app.engine.config).clone();
    let err = aman_server::engine::Engine::new(app.store.clone(), app.clock.clone(), std::sync::Arc::new(config), key)
        .unwrap_err();
    assert!(err.to_string().contains("run the newer server"), "{err}");
}
