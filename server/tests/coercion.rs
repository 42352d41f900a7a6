//! Coercion rules at the engine, through the router on a real sled database
//! with a manual clock: what a captor holding either passphrase can change,
//! and what every contact then sees (issue 9).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aman_protocol::api::{Policy, B64};
use axum::http::StatusCode;
use common::{Api, TestApp, TestMember, T0};
use serde_json::{json, Value};

/// A rotation in which each `(old, new)` pair is one slot's key and its
/// successor, in the order given, sealed to the server.
fn rotation(
    m: &common::TestMember,
    pairs: [(&aman_protocol::SigningKey, &aman_protocol::SigningKey); 2],
    created: u64,
) -> Value {
    let new = [pairs[0].1.verifying_key(), pairs[1].1.verifying_key()];
    let signed = aman_protocol::KeyRotation::build(
        m.server.server_id,
        m.account,
        m.generation + 1,
        created,
        [(pairs[0].0, &new[0]), (pairs[1].0, &new[1])],
    )
    .sign(&m.identity)
    .unwrap();
    let label = aman_protocol::encoding::labels::KEY_ROTATION.as_bytes();
    json!({ "rotation": B64(aman_protocol::seal_to_server(&m.server.server_key, label, &signed).unwrap()) })
}

#[tokio::test]
async fn a_contact_linked_beside_others_is_announced_and_powerless_until_the_cooling_off_ends() {
    let app = TestApp::new();
    let mut m = app.member().await;
    app.add_contacts(&mut m, &[1, 2]).await;
    // The captor links a contact of their own.
    app.pair_contact(&mut m, 1).await;
    app.link_contacts(&mut m).await;
    let captors = m.contacts[2].identity.verifying_key();
    for c in &m.contacts[..2] {
        let notices = app.mailbox(c).await["notices"].clone();
        assert_eq!(notices[0]["notice"]["kind"], "contact_linked", "{notices}");
        assert_eq!(notices[0]["notice"]["contact"], json!(captors));
        assert!(notices[0]["notice"]["contact_encryption"].is_string());
        assert_eq!(notices[0]["notice"]["effective_at"], json!(app.now() + 3600));
    }
    let status = app.status_of(&m).await;
    assert_eq!(status["policy"]["contacts"][2]["active_from"], json!(app.now() + 3600));

    // A panic during the cooling-off: the new contact receives nothing and
    // cannot acknowledge, so escalation to tier 2 still happens.
    let (s, b) = app.call(m.request("POST", "/v1/panic", Value::Null, app.now())).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let alert = b["alert"].as_str().unwrap().to_owned();
    app.tick();
    assert_eq!(app.mailbox(&m.contacts[0]).await["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(app.mailbox(&m.contacts[2]).await["alerts"], json!([]));
    let c = &m.contacts[2];
    let path = format!("/v1/mailbox/alerts/{alert}/ack");
    let (s, _) = app.call(c.request("POST", &path, Vec::new(), app.now())).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    app.clock.advance(300);
    assert_eq!(app.tick().escalated.len(), 1, "tier 2 is told: the new contact's word counts for nothing yet");

    // Removing it before it is active is not a weakening: it applies at once.
    let mut policy: Policy = app.policy_of(&m).await;
    policy.contacts.truncate(2);
    let (s, b) =
        app.call(m.request("PUT", "/v1/account/policy", serde_json::to_value(&policy).unwrap(), app.now())).await;
    assert_eq!((s, b["applied"].as_bool()), (StatusCode::OK, Some(true)));
    // Linked again and left alone, it takes part once the cooling-off has passed.
    app.link_contacts(&mut m).await;
    app.clock.advance(3600);
    let (s, _) = app.call(m.request("POST", "/v1/panic", Value::Null, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    app.tick();
    assert_eq!(app.mailbox(&m.contacts[2]).await["alerts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_note_replaced_within_the_cooling_off_reaches_contacts_with_the_one_it_replaced() {
    let app = TestApp::new();
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    m.reseal("If I vanish: I went to meet K. at the old bridge.", app.now());
    let (s, _) = app.call(m.checkin_request(false, 3600, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    app.clock.advance(60);
    // The captor replaces the note with a reassuring one, then forces a panic-free wait.
    m.reseal("False alarm, I am safe.", app.now());
    let body = json!({ "sealed_alert": B64(m.sealed.clone()) });
    let (s, _) = app.call(m.request("PUT", "/v1/account/sealed-alert", body, app.now())).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    app.clock.advance(4200);
    assert_eq!(app.tick().fired.len(), 1);
    let alert = app.mailbox(&m.contacts[0]).await["alerts"][0].clone();
    let open = |v: &Value| {
        let sealed: B64 = serde_json::from_value(v.clone()).unwrap();
        aman_protocol::open(&sealed.0, &m.contacts[0].encryption, &m.identity.verifying_key()).unwrap().note
    };
    assert_eq!(open(&alert["sealed_alert"]), "False alarm, I am safe.");
    assert_eq!(alert["note_received_at"], json!(T0 + 60));
    let earlier = alert["earlier_notes"].as_array().unwrap();
    assert_eq!(open(&earlier[0]["sealed_alert"]), "If I vanish: I went to meet K. at the old bridge.");
    assert_eq!(earlier[0]["received_at"], json!(T0));
}

#[tokio::test]
async fn key_rotation_keeps_each_role_and_survives_an_immediate_policy_change() {
    let app = TestApp::new();
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    let (s, _) = app.call(m.checkin_request(false, 1000, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    let next_a = aman_protocol::SigningKey::generate().unwrap();
    let next_b = aman_protocol::SigningKey::generate().unwrap();
    // The pairs in either order: the server carries each role over.
    let body = rotation(&m, [(&m.duress, &next_b), (&m.normal, &next_a)], T0 + 1);
    let (s, b) = app.call(m.request("PUT", "/v2/account/keys", body, app.now())).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    // One rotation at a time: a second would replace keys the keystore already staged.
    let again = rotation(&m, [(&m.duress, &next_a), (&m.normal, &next_b)], T0 + 2);
    let (s, b) = app.call(m.request("PUT", "/v2/account/keys", again, app.now())).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::CONFLICT, Some("rotation_pending")));
    // An immediate change during the cooling-off (a shorter interval).
    let mut policy: Policy = app.policy_of(&m).await;
    policy.interval = Some(1800);
    let (s, b) =
        app.call(m.request("PUT", "/v1/account/policy", serde_json::to_value(&policy).unwrap(), app.now())).await;
    assert_eq!((s, b["applied"].as_bool()), (StatusCode::OK, Some(true)));
    let (s, _) = app.call(m.checkin_request(false, 1800, 1900, app.now())).await;
    assert_eq!(s, StatusCode::OK, "armed past the cooling-off");
    let status = app.status_of(&m).await;
    assert_eq!(status["pending"][0]["kind"], "checkin_keys_rotation", "{status}");
    assert!(status["pending"][0].get("binding").is_none(), "the keys of a rotation are never shown");
    app.clock.advance(3600);
    app.tick();
    m.take_keys(next_a, next_b);
    let (s, _) = app.call(m.checkin_request(false, 1000, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK, "the successor of the normal key is a normal key");
    app.tick();
    assert_eq!(app.mailbox(&m.contacts[0]).await["alerts"], json!([]));
    let (s, _) = app.call(m.checkin_request(true, 1000, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    app.tick();
    assert_eq!(app.mailbox(&m.contacts[0]).await["alerts"][0]["reason"], "duress", "and the duress one stays duress");
}

#[tokio::test]
async fn a_rotation_must_name_both_keys_in_force() {
    let app = TestApp::new();
    let m = app.member().await;
    let (next_a, next_b) =
        (aman_protocol::SigningKey::generate().unwrap(), aman_protocol::SigningKey::generate().unwrap());
    let stranger = aman_protocol::SigningKey::generate().unwrap();
    // Naming a key the account does not have reads the same whichever key is left out.
    for kept in [&m.normal, &m.duress] {
        let body = rotation(&m, [(&stranger, &next_b), (kept, &next_a)], T0 + 2);
        let (s, b) = app.call(m.request("PUT", "/v2/account/keys", body, app.now())).await;
        assert_eq!((s, b["code"].as_str()), (StatusCode::BAD_REQUEST, Some("rotation_mismatch")));
    }
}

#[tokio::test]
async fn a_pending_weakening_survives_a_new_contact_and_a_deletion_survives_everything() {
    let app = TestApp::new();
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    let mut policy: Policy = app.policy_of(&m).await;
    policy.interval = Some(3600);
    policy.grace = Some(600);
    app.call(m.request("PUT", "/v1/account/policy", serde_json::to_value(&policy).unwrap(), app.now())).await;
    let longer = Policy { interval: Some(7200), ..policy.clone() };
    let (s, _) =
        app.call(m.request("PUT", "/v1/account/policy", serde_json::to_value(&longer).unwrap(), app.now())).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _) = app.call(m.request("DELETE", "/v1/account", Value::Null, app.now())).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    // Linking a contact (an immediate change) leaves both pending.
    app.pair_contact(&mut m, 1).await;
    app.link_contacts(&mut m).await;
    let kinds: Vec<Value> =
        app.status_of(&m).await["pending"].as_array().unwrap().iter().map(|p| p["kind"].clone()).collect();
    assert_eq!(kinds, [json!("policy_weakening"), json!("account_deletion")]);
    let pending_contacts = app.status_of(&m).await["pending"][0]["policy"]["contacts"].as_array().unwrap().len();
    assert_eq!(pending_contacts, 2, "the pending policy carries the new contact");
    // A different immediate setting replaces the pending weakening, and the contacts are told.
    let shorter = Policy { interval: Some(1800), ..app.policy_of(&m).await };
    let (s, _) =
        app.call(m.request("PUT", "/v1/account/policy", serde_json::to_value(&shorter).unwrap(), app.now())).await;
    assert_eq!(s, StatusCode::OK);
    let kinds: Vec<Value> =
        app.status_of(&m).await["pending"].as_array().unwrap().iter().map(|p| p["kind"].clone()).collect();
    assert_eq!(kinds, [json!("account_deletion")]);
    let notices = app.mailbox(&m.contacts[0]).await["notices"].clone();
    assert!(notices.as_array().unwrap().iter().any(|n| n["notice"]["kind"] == "pending_change_cancelled"), "{notices}");
}

#[tokio::test]
async fn a_refused_duress_check_in_still_alerts_and_reads_like_a_refused_normal_one() {
    let app = TestApp::new();
    let mut normal = app.member().await;
    let mut duress = app.member().await;
    app.add_contact(&mut normal, 1).await;
    app.add_contact(&mut duress, 1).await;
    for m in [&normal, &duress] {
        let mut policy: Policy = app.policy_of(m).await;
        policy.interval = Some(3600);
        policy.grace = Some(600);
        let body = serde_json::to_value(&policy).unwrap();
        assert_eq!(app.call(m.request("PUT", "/v1/account/policy", body, app.now())).await.0, StatusCode::OK);
    }
    // Both ask for a schedule the policy refuses.
    let now = app.now();
    let (s1, b1) = app.send(normal.checkin_request(false, 90_000, 600, now)).await;
    let (s2, b2) = app.send(duress.checkin_request(true, 90_000, 600, now)).await;
    assert_eq!(s1, StatusCode::BAD_REQUEST);
    assert_eq!((s1, b1), (s2, b2), "the refusals are byte-identical");
    app.tick();
    assert_eq!(app.mailbox(&normal.contacts[0]).await["alerts"], json!([]));
    assert_eq!(app.mailbox(&duress.contacts[0]).await["alerts"][0]["reason"], "duress");
}

#[tokio::test]
async fn a_counter_jump_is_refused_so_no_check_in_can_lock_out_the_later_ones() {
    let app = TestApp::new();
    let mut m = app.member().await;
    m.counter = u64::MAX - 1;
    let (s, b) = app.call(m.checkin_request(false, 3600, 600, app.now())).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::CONFLICT, Some("counter_jump")));
    m.counter = 0;
    let (s, b) = app.call(m.checkin_request(false, 3600, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK, "{b}");
}

#[tokio::test]
async fn status_says_nothing_a_duress_check_in_changes() {
    let app = TestApp::new();
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    app.call(m.checkin_request(false, 3600, 600, app.now())).await;
    let before = app.status_of(&m).await;
    app.call(m.checkin_request(true, 3600, 600, app.now())).await;
    app.tick();
    let after = app.status_of(&m).await;
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&before), keys(&after));
    assert!(after.get("alerts").is_none());
    assert_eq!(before["pending"], after["pending"]);
    assert_eq!(before["policy"], after["policy"]);
}

#[tokio::test]
async fn a_deleted_accounts_id_is_never_registered_again() {
    let app = TestApp::new();
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    let (s, _) = app.call(m.request("DELETE", "/v1/account", Value::Null, app.now())).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    app.clock.advance(3601);
    app.tick();
    let (s, _) = app.call(m.request("GET", "/v1/account", Value::Null, app.now())).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED, "the account is gone");
    // Someone who knows the id (every contact does) registers it with keys of their own.
    let mut usurper = TestMember::new(&app.engine.server_info());
    usurper.account = m.account;
    let (s, body) = app.send(usurper.register_request(None, app.now())).await;
    assert_eq!(s, StatusCode::CONFLICT, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("account_exists"));
    // Any other id still registers.
    let fresh = TestMember::new(&app.engine.server_info());
    assert_eq!(app.send(fresh.register_request(None, app.now())).await.0, StatusCode::CREATED);
}
