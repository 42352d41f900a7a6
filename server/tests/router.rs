//! Router tests through `oneshot`: real sled, real keys, manual clock.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aman_protocol::api::{Policy, B64};
use aman_protocol::routes::{self, Method, Route};
use aman_server::admin::{execute, AdminReply, AdminRequest};
use aman_server::store::Store;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use serde_json::{json, Value};

fn no_armed() -> aman_server::admin::ArmedCount {
    std::sync::Arc::new(|| Ok(0))
}

async fn invite(app: &TestApp, uses: u32, expires_in: Option<u64>) -> String {
    match execute(
        app.store.as_ref(),
        app.clock.as_ref(),
        app.info().server_id,
        &no_armed(),
        AdminRequest::InviteCreate { uses, expires_in },
    )
    .unwrap()
    {
        AdminReply::Invite { code, .. } => code,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn invites_valid_wrong_used_up_expired_and_revoked() {
    let app = TestApp::with_config(|c| c.registration = aman_server::config::Registration::Invite);
    let code = invite(&app, 1, Some(600)).await;
    let now = app.now();

    let (s, b) = app.call(TestMember::new(&app.info()).register_request(None, now)).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::FORBIDDEN, Some("invite_required")));
    let (s, b) = app.call(TestMember::new(&app.info()).register_request(Some("amanreg2-wrong"), now)).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::FORBIDDEN, Some("invite_unknown")));
    let (s, _) = app.call(TestMember::new(&app.info()).register_request(Some(&code), now)).await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, b) = app.call(TestMember::new(&app.info()).register_request(Some(&code), now)).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::FORBIDDEN, Some("invite_used_up")));

    let later = invite(&app, 5, Some(60)).await;
    app.clock.advance(61);
    let (s, b) = app.call(TestMember::new(&app.info()).register_request(Some(&later), app.now())).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::FORBIDDEN, Some("invite_expired")));

    let revoked = invite(&app, 5, None).await;
    let id = match execute(
        app.store.as_ref(),
        app.clock.as_ref(),
        app.info().server_id,
        &no_armed(),
        AdminRequest::InviteList,
    )
    .unwrap()
    {
        AdminReply::Invites { invites } => {
            invites.into_iter().find(|i| i.uses_left == 5 && i.expires_at.is_none()).unwrap().id
        }
        other => panic!("{other:?}"),
    };
    execute(
        app.store.as_ref(),
        app.clock.as_ref(),
        app.info().server_id,
        &no_armed(),
        AdminRequest::InviteRevoke { id },
    )
    .unwrap();
    let (s, b) = app.call(TestMember::new(&app.info()).register_request(Some(&revoked), app.now())).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::FORBIDDEN, Some("invite_revoked")));
    assert_eq!(app.stats().accounts, 1);
}

#[tokio::test]
async fn checkin_moves_the_deadline_durably() {
    let mut app = TestApp::new();
    let mut m = app.member().await;
    let now = app.now();
    let (s, b) = app.call(m.checkin_request(false, 3600, 600, now)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b, json!({ "counter": 1, "next_due": now + 3600, "deadline": now + 4200 }));
    app.clock.advance(100);
    let (s, b) = app.call(m.checkin_request(false, 7200, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let status = app.status_of(&m).await;
    assert_eq!(status["deadline"], json!(app.now() + 7800));
    assert_eq!(app.engine.armed_deadlines(), 1);
    let account = app.engine.account(&m.account).unwrap().unwrap();
    assert_eq!(account.live.deadline, Some(app.now() + 7800));
    // Rebuilt from the sealed live state after a restart.
    app.restart_at(app.now());
    assert_eq!(app.engine.armed_deadlines(), 1);
    assert_eq!(app.status_of(&m).await["deadline"], json!(app.now() + 7800));
}

#[tokio::test]
async fn duress_reply_is_byte_identical_and_fires_an_alert() {
    let app = TestApp::new();
    let mut normal = app.member().await;
    let mut duress = app.member().await;
    app.add_contact(&mut duress, 1).await;
    app.add_contact(&mut normal, 1).await;
    let now = app.now();
    let (s1, b1) = app.send(normal.checkin_request(false, 3600, 600, now)).await;
    let (s2, b2) = app.send(duress.checkin_request(true, 3600, 600, now)).await;
    assert_eq!((s1, &b1), (s2, &b2), "duress reply must be byte-identical");
    // Nobody is told inside the request: the contacts hear after the dispatch.
    assert_eq!(app.mailbox(&duress.contacts[0]).await["alerts"], json!([]));
    assert_eq!(app.tick().dispatched.len(), 1);
    assert_eq!(app.mailbox(&normal.contacts[0]).await["alerts"], json!([]));
    let mb = app.mailbox(&duress.contacts[0]).await;
    assert_eq!(mb["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(mb["alerts"][0]["reason"], "duress");
    // The duress check-in still re-armed the deadline, as a normal one would.
    assert_eq!(app.status_of(&duress).await["deadline"], json!(now + 4200));
    // A seized database does not say which stored key is the duress key.
    let rec = app.store.account(&duress.account).unwrap().unwrap();
    let mut sorted = [duress.normal.verifying_key().0, duress.duress.verifying_key().0];
    sorted.sort();
    assert_eq!([rec.checkin_keys[0].0, rec.checkin_keys[1].0], sorted);
}

#[tokio::test]
async fn exactly_one_alert_per_missed_deadline_with_an_entry_per_contact() {
    let app = TestApp::new();
    let mut m = app.member().await;
    app.add_contacts(&mut m, &[1, 1]).await;
    let (s, _) = app.call(m.checkin_request(false, 100, 50, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    app.clock.advance(149);
    assert!(app.tick().fired.is_empty(), "not yet: due + grace not reached");
    app.clock.advance(1);
    let report = app.tick();
    assert_eq!(report.fired.len(), 1);
    app.clock.advance(1000);
    assert!(app.tick().fired.is_empty(), "a missed deadline fires once");
    for c in &m.contacts {
        let mb = app.mailbox(c).await;
        assert_eq!(mb["alerts"].as_array().unwrap().len(), 1);
        assert_eq!(mb["alerts"][0]["reason"], "missed");
        let sealed: B64 = serde_json::from_value(mb["alerts"][0]["sealed_alert"].clone()).unwrap();
        let body = aman_protocol::open(&sealed.0, &c.encryption, &m.identity.verifying_key()).unwrap();
        assert_eq!(body.note, "note");
    }
    assert_eq!(app.stats().alerts, 1);
    assert_eq!(app.stats().armed_deadlines, 0);

    // A late check-in adds a notice; it does not erase the alert. Like
    // anything a check-in causes, it is added when its signal is read.
    let (s, _) = app.call(m.checkin_request(false, 100, 50, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(app.mailbox(&m.contacts[0]).await["alerts"][0]["notices"], json!([]));
    app.tick();
    let mb = app.mailbox(&m.contacts[0]).await;
    assert_eq!(mb["alerts"][0]["notices"][0]["kind"], "checked_in_late");
}

#[tokio::test]
async fn escalation_by_tier_and_acknowledgement() {
    let app = TestApp::new();
    let mut m = app.member().await;
    app.add_contacts(&mut m, &[1, 2, 2]).await;
    let (s, b) = app.call(m.request("POST", "/v1/panic", Value::Null, app.now())).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    app.tick();
    assert_eq!(app.mailbox(&m.contacts[0]).await["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(app.mailbox(&m.contacts[1]).await["alerts"], json!([]), "tier 2 waits");
    app.clock.advance(299);
    assert!(app.tick().escalated.is_empty());
    app.clock.advance(1);
    assert_eq!(app.tick().escalated.len(), 1);
    for c in &m.contacts[1..] {
        assert_eq!(app.mailbox(c).await["alerts"][0]["reason"], "panic");
    }

    // Second alert: tier 1 acknowledges in time, tier 2 never hears of it.
    let (s, b) = app.call(m.request("POST", "/v1/panic", json!({}), app.now())).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    app.tick();
    let alert = b["alert"].as_str().unwrap().to_owned();
    let c0 = &m.contacts[0];
    let path = format!("/v1/mailbox/alerts/{alert}/ack");
    let (s, _) = app.call(c0.request("POST", &path, Vec::new(), app.now())).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    app.clock.advance(10_000);
    assert!(app.tick().escalated.is_empty());
    assert_eq!(app.mailbox(&m.contacts[1]).await["alerts"].as_array().unwrap().len(), 1);
    let mb = app.mailbox(c0).await;
    let second = mb["alerts"].as_array().unwrap().iter().find(|a| a["alert"] == alert.as_str()).unwrap();
    assert_eq!(second["acks"][0]["mailbox"], c0.mailbox.to_string());
    // A contact cannot acknowledge an alert that is not in its mailbox.
    let c1 = &m.contacts[1];
    let (s, b) = app.call(c1.request("POST", &path, Vec::new(), app.now())).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));
}

#[tokio::test]
async fn weakening_waits_for_cooling_off_while_the_old_schedule_still_fires() {
    let app = TestApp::new();
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    let mut policy: Policy = app.policy_of(&m).await;
    policy.interval = Some(3600);
    policy.grace = Some(600);
    let (s, b) =
        app.call(m.request("PUT", "/v1/account/policy", serde_json::to_value(&policy).unwrap(), app.now())).await;
    assert_eq!((s, b["applied"].as_bool()), (StatusCode::OK, Some(true)), "strengthening applies at once");
    let (s, _) = app.call(m.checkin_request(false, 1000, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK);

    // A captor makes the member lengthen the interval and drop the contact.
    let weaker = Policy { interval: Some(86_400), contacts: vec![], ..policy.clone() };
    let (s, b) =
        app.call(m.request("PUT", "/v1/account/policy", serde_json::to_value(&weaker).unwrap(), app.now())).await;
    assert_eq!((s, b["applied"].as_bool()), (StatusCode::ACCEPTED, Some(false)));
    assert_eq!(app.mailbox(&m.contacts[0]).await["notices"][0]["notice"]["kind"], "policy_weakening");
    // The long interval is refused until cooling-off has passed.
    let (s, b) = app.call(m.checkin_request(false, 80_000, 600, app.now())).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::BAD_REQUEST, Some("interval_out_of_range")));
    // The old deadline fires, to the contact the captor tried to remove.
    app.clock.advance(1600);
    let report = app.tick();
    assert_eq!(report.fired.len(), 1);
    assert!(report.applied.is_empty(), "cooling-off has not passed");
    assert_eq!(app.mailbox(&m.contacts[0]).await["alerts"].as_array().unwrap().len(), 1);
    // After cooling-off, the change applies.
    app.clock.set(T0 + 3600 + 1);
    let report = app.tick();
    assert_eq!(report.applied, vec![m.account]);
    assert_eq!(app.policy_of(&m).await.interval, Some(86_400));
}

/// Issue 16: a member on a 6 h schedule who sets 20 s with 5 s of grace is
/// held to it from now, not from the next check-in; and the same, whichever
/// passphrase armed the deadline.
#[tokio::test]
async fn a_shorter_schedule_moves_the_armed_deadline_up_at_once_and_across_a_restart() {
    let mut seen = Vec::new();
    for duress in [false, true] {
        let mut app = TestApp::new();
        let mut m = app.member().await;
        app.add_contact(&mut m, 1).await;
        let t = app.now();
        let (s, b) = app.call(m.checkin_request(duress, 6 * 3600, 1800, t)).await;
        assert_eq!((s, b["deadline"].as_u64()), (StatusCode::OK, Some(t + 6 * 3600 + 1800)));
        app.tick(); // the duress alert, if any, is made and told
        app.clock.advance(10);
        let mut policy: Policy = app.policy_of(&m).await;
        (policy.interval, policy.grace) = (Some(20), Some(5));
        let (s, b) =
            app.call(m.request("PUT", "/v1/account/policy", serde_json::to_value(&policy).unwrap(), app.now())).await;
        assert_eq!((s, b["applied"].as_bool()), (StatusCode::OK, Some(true)), "{b}");
        let status = app.status_of(&m).await;
        assert_eq!((status["next_due"].as_u64(), status["deadline"].as_u64()), (Some(t + 30), Some(t + 35)));
        // The deadline is in the sealed live state: a restart arms it again.
        app.restart_at(t + 20);
        assert_eq!(app.engine.armed_deadlines(), 1);
        assert_eq!(app.status_of(&m).await["deadline"], json!(t + 35));
        app.clock.set(t + 34);
        assert!(app.tick().fired.is_empty());
        app.clock.set(t + 35);
        assert_eq!(app.tick().fired.len(), 1, "the new deadline fires");
        let alerts = app.mailbox(&m.contacts[0]).await["alerts"].as_array().unwrap().clone();
        let missed = alerts.iter().find(|a| a["reason"] == "missed").unwrap();
        // Fired at its deadline, not before (what a contact's client checks).
        assert_eq!((missed["deadline"].as_u64(), missed["fired_at"].as_u64()), (Some(t + 35), Some(t + 35)));
        // A longer schedule later moves nothing back (it waits out the cooling-off).
        (policy.interval, policy.grace) = (Some(3600), Some(600));
        let (s, _) =
            app.call(m.request("PUT", "/v1/account/policy", serde_json::to_value(&policy).unwrap(), app.now())).await;
        assert_eq!(s, StatusCode::ACCEPTED);
        let status = app.status_of(&m).await;
        let of = |k: &str| status[k].clone();
        seen.push([of("counter"), of("next_due"), of("deadline"), of("pending")[0]["effective_at"].clone()]);
    }
    assert_eq!(seen[0], seen[1], "the member's status reads the same whichever passphrase armed the deadline");
}

#[tokio::test]
async fn outage_moves_missed_deadlines_and_the_alert_says_so() {
    let mut app = TestApp::new();
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    app.engine.heartbeat(app.now()).unwrap();
    let (s, _) = app.call(m.checkin_request(false, 100, 100, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    // The server is down from T0 to T0 + 1000; the deadline (T0 + 200) fell
    // inside. Starting again applies the outage rule as the schedule loads.
    app.restart_at(T0 + 1000);
    assert!(app.tick().fired.is_empty(), "no backdated storm");
    assert_eq!(app.status_of(&m).await["deadline"], json!(T0 + 1000 + 600));
    app.clock.set(T0 + 1600);
    assert_eq!(app.tick().fired.len(), 1, "still missed after the outage grace: it fires");
    let mb = app.mailbox(&m.contacts[0]).await;
    assert_eq!(mb["alerts"][0]["server_was_down"], true);
}

/// A member with one contact, checked in every 100 s with 100 s of grace.
async fn armed_member(app: &TestApp) -> (TestMember, u64) {
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    let (s, b) = app.call(m.checkin_request(false, 100, 100, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    (m, b["deadline"].as_u64().unwrap())
}

#[tokio::test]
async fn a_deadline_gets_one_outage_extension_however_many_restarts_follow() {
    let mut app = TestApp::new();
    let (m, deadline) = armed_member(&app).await;
    // Down across the deadline: it moves by the outage grace (600 s here).
    app.restart_at(deadline + 100);
    assert!(app.tick().fired.is_empty());
    assert_eq!(app.status_of(&m).await["deadline"], json!(deadline + 700));
    // Down again, across the moved deadline, four more times: it does not move again.
    for k in 1..=4u64 {
        app.restart_at(deadline + 100 + k * 1000);
        let fired = app.tick().fired;
        if k == 1 {
            assert_eq!(fired.len(), 1, "fires at the first tick after the second outage");
        } else {
            assert!(fired.is_empty(), "once");
        }
    }
    let mb = app.mailbox(&m.contacts[0]).await;
    assert_eq!(mb["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(mb["alerts"][0]["server_was_down"], true);
}

/// A crash loop: the server starts five times, 29 minutes apart, and dies
/// each time just after its first tick, across a deadline, with the default
/// 30-minute outage grace. The alert fires at the first start after that
/// grace, not never.
#[tokio::test]
async fn five_restarts_29_minutes_apart_do_not_defer_an_alert() {
    let mut app = TestApp::with_config(|c| c.outage_grace = 1800);
    let (m, deadline) = armed_member(&app).await;
    let first = deadline + 100;
    let mut fired_at = Vec::new();
    for k in 0..5u64 {
        let at = first + k * 29 * 60;
        app.restart_at(at);
        if !app.tick().fired.is_empty() {
            fired_at.push(k);
        }
        if k == 1 {
            assert_eq!(app.status_of(&m).await["deadline"], json!(first + 1800), "moved once, by the grace");
        }
    }
    assert_eq!(fired_at, [2], "fires at the first start after the grace, once");
    let mb = app.mailbox(&m.contacts[0]).await;
    assert_eq!(mb["alerts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_start_that_dies_while_loading_keeps_the_outage_window_for_the_next() {
    let mut app = TestApp::new();
    let (m, deadline) = armed_member(&app).await;
    // Up again after the deadline, but killed before the schedule loaded
    // (it had written its heartbeat); then up again.
    app.restart_deferred_at(deadline + 100);
    app.restart_at(deadline + 200);
    assert!(app.tick().fired.is_empty(), "no backdated alert: the first outage window still applies");
    assert_eq!(app.status_of(&m).await["deadline"], json!(deadline + 800));
}

fn replace_byte(b64: &str, at: usize, value: u8) -> String {
    let mut raw = aman_protocol::text::b64_decode(b64, 1 << 20).unwrap();
    raw[at] = value;
    aman_protocol::text::b64_encode(&raw)
}

type Snapshot = (aman_server::store::Stats, Vec<(Vec<u8>, Vec<u8>)>);

/// Everything a request could change: every stored key and value, and the
/// in-memory schedule (`stats` counts its armed deadlines).
fn snapshot(app: &TestApp) -> Snapshot {
    (app.stats(), app.store.raw_entries().unwrap())
}

/// Nothing changed since `before`; what did is named by its key's prefix
/// byte, the key's length and the value's.
fn assert_nothing_stored(app: &TestApp, before: &Snapshot) {
    let (stats, entries) = snapshot(app);
    assert_eq!(delta(&before.1, &entries), [], "nothing stored");
    assert_eq!(stats, before.0, "nothing armed");
}

#[tokio::test]
async fn malformed_write_requests_get_stable_4xx_codes_and_store_nothing() {
    let app = TestApp::new();
    let mut m = app.member().await;
    app.call(m.checkin_request(false, 3600, 600, app.now())).await;
    // Nothing stored: every key and value the same (a check-in's writes,
    // its signal and live state, are records of their own, beside the
    // account's), and the in-memory schedule too.
    let before = snapshot(&app);
    let now = app.now();
    let good = m.checkin_body(false, 3600, 600, now);
    let heartbeat_b64 = good["heartbeat"].as_str().unwrap().to_owned();
    let label_len = "aman/v2/heartbeat".len();

    let mut cases: Vec<(&str, &str, Vec<u8>, &str)> = Vec::new();
    for (method, path) in [
        ("POST", "/v2/checkin"),
        ("POST", "/v2/accounts"),
        ("PUT", "/v1/account/policy"),
        ("PUT", "/v1/account/sealed-alert"),
        ("POST", "/v1/panic"),
        ("POST", "/v1/pairings"),
    ] {
        cases.push((method, path, b"{not json".to_vec(), "malformed_json"));
        cases.push((method, path, b"[1,2]".to_vec(), "malformed_json"));
        cases.push((method, path, b"{\"interval\": \"x\"}".to_vec(), "invalid_field"));
    }
    let with = |field: &str, value: Value| {
        let mut v = good.clone();
        v[field] = value;
        serde_json::to_vec(&v).unwrap()
    };
    cases.push(("POST", "/v2/checkin", with("heartbeat", json!("!!not base64!!")), "bad_encoding"));
    // A heartbeat that does not parse is refused like any other that does not
    // authenticate: one 401, so nothing about the account leaks.
    let raw = aman_protocol::text::b64_decode(&heartbeat_b64, 4096).unwrap();
    cases.push((
        "POST",
        "/v2/checkin",
        with("heartbeat", json!(aman_protocol::text::b64_encode(&raw[..raw.len() - 70]))),
        "unauthorized",
    ));
    cases.push((
        "POST",
        "/v2/checkin",
        with("heartbeat", json!(replace_byte(&heartbeat_b64, label_len + 1, 1))),
        "unauthorized",
    ));
    let mut trailing = raw.clone();
    trailing.push(0);
    cases.push((
        "POST",
        "/v2/checkin",
        with("heartbeat", json!(aman_protocol::text::b64_encode(&trailing))),
        "unauthorized",
    ));
    // Version 1 routes answer one stable code.
    for (method, path) in [("POST", "/v1/checkin"), ("POST", "/v1/accounts"), ("PUT", "/v1/account/keys")] {
        cases.push((method, path, serde_json::to_vec(&json!({"checkin": "AAAA"})).unwrap(), "protocol_v1_unsupported"));
    }
    cases.push((
        "PUT",
        "/v1/account/sealed-alert",
        serde_json::to_vec(&json!({"sealed_alert": "AAAA"})).unwrap(),
        "wrong_label",
    ));
    cases.push((
        "POST",
        "/v1/pairings",
        serde_json::to_vec(&json!({"invite": "abcd", "expires_at": now + 60})).unwrap(),
        "bad_encoding",
    ));
    cases.push(("POST", "/v2/checkin", vec![b' '; 70 * 1024], "body_too_large"));
    cases.push(("POST", "/v2/checkin", with("extra", json!(1)), "invalid_field"));
    cases.push((
        "POST",
        "/v2/accounts",
        serde_json::to_vec(&json!({"registration": "AAAA"})).unwrap(),
        "not_sealed_to_this_server",
    ));

    for (method, path, body, code) in cases {
        let (s, b) = app.call(m.raw_request(method, path, body, now)).await;
        assert!(s.is_client_error(), "{method} {path}: {s}");
        assert_eq!(b["code"].as_str(), Some(code), "{method} {path}: {b}");
        assert!(b["message"].as_str().is_some_and(|t| !t.is_empty()));
    }
    // A registration sealed to another server.
    let elsewhere = TestApp::new();
    let (s, b) = app.call(TestMember::new(&elsewhere.info()).register_request(None, now)).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::BAD_REQUEST, Some("not_sealed_to_this_server")));

    assert_nothing_stored(&app, &before);
    let (s, _) = app.call(Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::OK);
}

/// The router serves exactly the route table: every row at its method, no
/// other method at a row's path, and no path that is not a row's (the
/// router names no path: `app` registers each handler through the table).
#[tokio::test]
async fn the_router_serves_the_route_table_no_more_no_less() {
    let app = TestApp::new();
    let methods = [Method::Get, Method::Put, Method::Post, Method::Delete];
    for route in routes::ALL {
        // A 32-hex-digit id fits every parameter but `{id}`, which is a number.
        let path = route.path_with(&if route.path.contains("{id}") { "1".to_owned() } else { "ab".repeat(16) });
        for method in methods {
            let req = Request::builder().method(method.as_str()).uri(&path).body(Body::empty()).unwrap();
            let (s, b) = app.call(req).await;
            if method == route.method {
                let answered = s == StatusCode::OK
                    || b["code"] == "missing_auth"
                    || b["code"] == "protocol_v1_unsupported"
                    || (method == Method::Post && b["code"] == "malformed_json");
                assert!(answered, "{} {path}: {s} {b}", method.as_str());
            } else if !routes::ALL.iter().any(|r| r.path == route.path && r.method == method) {
                assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED, "{} {path} is served: {b}", method.as_str());
            }
        }
    }
    let (s, b) = app.call(Request::get("/v1/nope").body(Body::empty()).unwrap()).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::NOT_FOUND, Some("no_route")));
    let (_, doc) = app.call(Request::get(routes::OpenApi::PATH).body(Body::empty()).unwrap()).await;
    assert_eq!(doc["paths"].as_object().unwrap().len(), 31);
    for route in routes::ALL {
        let entry = &doc["paths"][route.path][route.method.lowercase()];
        assert_eq!(entry["summary"], route.summary, "{} {}", route.method.as_str(), route.path);
        assert_eq!(entry["x-aman-signer"], route.auth.as_str());
    }
    // Counters live on their own listener, never on the public API.
    let (s, _) = app.call(Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // `app` takes every path from the table: no path is written in it.
    let source = include_str!("../src/api/mod.rs");
    let app_fn = source.split("pub fn app(").nth(1).and_then(|rest| rest.split("\n}\n").next()).unwrap();
    assert!(!app_fn.contains(".route(") && !app_fn.contains("\"/"), "app() names a path of its own");
}

#[tokio::test]
async fn many_deadlines_due_together_each_fire_exactly_once() {
    let app = TestApp::new();
    let mut members = Vec::new();
    for _ in 0..300 {
        let mut m = app.member().await;
        let (s, _) = app.call(m.checkin_request(false, 100, 50, app.now())).await;
        assert_eq!(s, StatusCode::OK);
        members.push(m);
    }
    // One member checks in again before the deadline: it must not fire.
    app.clock.advance(120);
    let (s, _) = app.call(members[7].checkin_request(false, 100, 50, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    app.clock.advance(30);
    let report = app.tick();
    assert_eq!(report.fired.len(), 299, "more than one write batch, each alert once");
    assert!(app.tick().fired.is_empty());
    assert_eq!(app.stats().alerts, 299);
    assert_eq!(app.stats().armed_deadlines, 1);
    assert_eq!(app.status_of(&members[7]).await["deadline"], json!(app.now() + 120));
}

#[tokio::test]
async fn a_deadline_rebuilt_at_start_up_fires_once() {
    let mut app = TestApp::new();
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    let (s, b) = app.call(m.checkin_request(false, 100, 50, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    let real = b["deadline"].as_u64().unwrap();
    app.restart_at(app.now());
    app.clock.set(real);
    assert_eq!(app.tick().fired.len(), 1, "the real deadline fires");
    app.restart_at(real + 1);
    app.clock.set(real + 500);
    assert!(app.tick().fired.is_empty(), "it does not fire again after another restart");
    assert_eq!(app.engine.armed_deadlines(), 0);
}

#[tokio::test]
async fn check_ins_while_the_schedule_loads_after_a_restart_are_not_lost() {
    let mut app = TestApp::new();
    let mut m = app.member().await;
    let mut other = app.member().await;
    let (s, b) = app.call(m.checkin_request(false, 100, 50, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    let old = b["deadline"].as_u64().unwrap();
    let (s, b) = app.call(other.checkin_request(false, 100, 50, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    let untouched = b["deadline"].as_u64().unwrap();
    // Restart: the server answers before its schedule has loaded.
    app.restart_deferred_at(app.now() + 10);
    assert!(!app.engine.schedule_ready());
    let (s, b) = app.call(m.checkin_request(false, 1000, 50, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    let new = b["deadline"].as_u64().unwrap();
    assert_eq!(app.engine.load_schedule().unwrap(), 2);
    assert!(app.engine.schedule_ready());
    app.clock.set(old.max(untouched));
    let report = app.tick();
    assert_eq!(report.fired.len(), 1, "only the member who did not check in again");
    app.clock.set(new);
    assert_eq!(app.tick().fired.len(), 1, "the deadline armed during loading fires");
}

#[tokio::test]
async fn an_email_channel_is_refused_when_the_organizer_set_no_smtp_relay() {
    let email = br#"{"kind":"email","target":"contact@example.org"}"#;
    for smtp in [None, Some("smtp://127.0.0.1:25")] {
        let app = TestApp::with_config(|c| c.smtp_url = smtp.map(str::to_owned));
        let mut m = app.member().await;
        app.add_contact(&mut m, 1).await;
        let c = &m.contacts[0];
        let (s, b) = app.call(c.request("POST", "/v1/mailbox/endpoints", email.to_vec(), app.now())).await;
        let (_, list) = app.call(c.request("GET", "/v1/mailbox/endpoints", Vec::new(), app.now())).await;
        let stored = list["endpoints"].as_array().unwrap().len();
        if smtp.is_none() {
            assert_eq!((s, b["code"].as_str(), stored), (StatusCode::BAD_REQUEST, Some("email_unavailable"), 0));
            assert!(b["message"].as_str().unwrap().contains("not configured e-mail"), "{b}");
        } else {
            assert_eq!((s, stored), (StatusCode::CREATED, 1), "{b}");
        }
    }
}

#[tokio::test]
async fn malformed_requests_on_contact_and_key_routes_get_4xx_and_store_nothing() {
    let app = TestApp::new();
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    let c = &m.contacts[0];
    let (s, b) = app.call(m.request("POST", "/v1/panic", Value::Null, app.now())).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let alert = b["alert"].as_str().unwrap().to_owned();
    let before = snapshot(&app);
    let now = app.now();
    let contact = |method: &str, path: &str, body: Vec<u8>| c.request(method, path, body, now);
    let ack = format!("/v1/mailbox/alerts/{alert}/ack");
    let cases: Vec<(Request<Body>, &str)> = vec![
        (contact("POST", "/v1/mailbox/endpoints", b"{nope".to_vec()), "malformed_json"),
        (contact("POST", "/v1/mailbox/endpoints", br#"{"kind":"webhook"}"#.to_vec()), "invalid_field"),
        (contact("POST", "/v1/mailbox/endpoints", br#"{"kind":"pigeon","target":"x"}"#.to_vec()), "invalid_kind"),
        (
            contact("POST", "/v1/mailbox/endpoints", br#"{"kind":"email","target":"not an address"}"#.to_vec()),
            "invalid_target",
        ),
        (
            contact("POST", "/v1/mailbox/endpoints", br#"{"kind":"email","target":"c@example.org"}"#.to_vec()),
            "email_unavailable",
        ),
        (contact("POST", "/v1/mailbox/endpoints", vec![b' '; 70 * 1024]), "body_too_large"),
        (contact("DELETE", "/v1/mailbox/endpoints/abc", Vec::new()), "invalid_value"),
        (contact("POST", "/v1/mailbox/alerts/zz/ack", Vec::new()), "bad_encoding"),
        (contact("POST", &ack, vec![b' '; 70 * 1024]), "body_too_large"),
        (contact("GET", "/v1/mailbox/alerts?since=-1", Vec::new()), "invalid_query"),
        (m.raw_request("PUT", "/v2/account/keys", b"[]".to_vec(), now), "malformed_json"),
        (m.raw_request("PUT", "/v2/account/keys", br#"{"rotation":"%%%"}"#.to_vec(), now), "bad_encoding"),
        (
            m.raw_request("PUT", "/v2/account/keys", br#"{"rotation":"AAAA"}"#.to_vec(), now),
            "not_sealed_to_this_server",
        ),
    ];
    for (req, code) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let (s, b) = app.call(req).await;
        assert!(s.is_client_error(), "{what}: {s}");
        assert_eq!(b["code"].as_str(), Some(code), "{what}: {b}");
    }
    assert_nothing_stored(&app, &before);
    // A pairing answer that is not an enrollment of the right length, for a real slot.
    let invite = aman_protocol::InviteCode::generate(m.identity.verifying_key(), "http://127.0.0.1").unwrap();
    let create = json!({ "invite": invite.id, "expires_at": now + 600 });
    assert_eq!(app.call(m.request("POST", "/v1/pairings", create, now)).await.0, StatusCode::CREATED);
    // The open slot's writes are the slot's, not the answers'.
    let before = snapshot(&app);
    let mailbox = aman_protocol::MailboxId::random().unwrap();
    let cid = aman_protocol::SigningKey::generate().unwrap();
    let path = format!("/v1/pairings/{}/reply", invite.id);
    for (body, code) in [
        (json!({ "mailbox": mailbox, "identity": cid.verifying_key(), "enrollment": "AAAA" }), "wrong_length"),
        (json!({ "mailbox": mailbox, "identity": "c2hvcnQ", "enrollment": "AAAA" }), "wrong_length"),
        (json!({ "mailbox": "xyz", "identity": cid.verifying_key(), "enrollment": "AAAA" }), "bad_encoding"),
    ] {
        let req = signed(
            app.info().server_id,
            "POST",
            &path,
            serde_json::to_vec(&body).unwrap(),
            *mailbox.as_bytes(),
            &cid,
            now,
        );
        let (s, b) = app.call(req).await;
        assert_eq!((s, b["code"].as_str()), (StatusCode::BAD_REQUEST, Some(code)), "{body}");
    }
    assert_nothing_stored(&app, &before);
    assert!(app.store.mailbox(&mailbox).unwrap().is_none());
}

#[tokio::test]
async fn a_deadline_whose_entry_comes_due_late_still_fires_with_its_own_time() {
    let app = TestApp::new();
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    let (s, b) = app.call(m.checkin_request(false, 100, 50, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    let real = b["deadline"].as_u64().unwrap();
    // What a failed write's retry leaves: the armed deadline's entry moved a second later.
    aman_server::engine::lock(&app.engine.schedule).set_deadline(m.account, real + 1);
    app.clock.set(real);
    assert!(app.tick().fired.is_empty());
    app.clock.set(real + 1);
    assert_eq!(app.tick().fired.len(), 1, "the retry fires the armed deadline");
    let mb = app.mailbox(&m.contacts[0]).await;
    assert_eq!(mb["alerts"][0]["deadline"], json!(real));
    assert_eq!(app.stats().armed_deadlines, 0);
}

#[tokio::test]
async fn an_alert_written_by_v0_1_still_reads() {
    let app = TestApp::new();
    let id = aman_protocol::AlertId::from_bytes([9; 16]);
    let reason = app.engine.server_key().encrypt(id.as_bytes(), b"duress").unwrap();
    // The v0.1 layout: the reason sealed on its own, times in clear, no dispatch flag.
    let old = json!({
        "account": "11111111111111111111111111111111", "reason_sealed": B64(reason), "fired_at": 1_700_000_000u64,
        "deadline": null, "server_was_down": false, "sealed_alert": "", "contacts": [], "notified_tier": 1,
        "escalation_delays": [], "acks": [], "notices": [], "updated_ms": 1_700_000_000_000u64
    });
    let record: aman_server::store::AlertRecord = serde_json::from_value(old).unwrap();
    assert!(record.dispatched, "v0.1 told contacts at once");
    let meta = app.engine.alert_meta(&id, &record).unwrap();
    assert_eq!((meta.reason, meta.fired_at), (aman_server::store::Reason::Duress, 1_700_000_000));
}

#[tokio::test]
async fn only_requests_that_authenticate_spend_a_callers_budget() {
    let app = TestApp::with_config(|c| c.rate_limit_account = 3);
    let mut m = app.member().await;
    // Forged requests naming the member spend nothing of its budget.
    let forger = aman_protocol::SigningKey::generate().unwrap();
    for _ in 0..10 {
        let req =
            signed(app.info().server_id, "GET", "/v1/account", Vec::new(), *m.account.as_bytes(), &forger, app.now());
        assert_eq!(app.call(req).await.0, StatusCode::UNAUTHORIZED);
    }
    // Its own check-ins do, normal and duress alike, and nothing is written beyond it.
    for duress in [false, true, false] {
        let (s, b) = app.call(m.checkin_request(duress, 3600, 600, app.now())).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let before = app.store.raw_entries().unwrap();
    for duress in [false, true] {
        let resp = tower::ServiceExt::oneshot(app.router.clone(), m.checkin_request(duress, 3600, 600, app.now()))
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(resp.headers().get("retry-after").unwrap(), "60");
    }
    assert_eq!(app.store.raw_entries().unwrap(), before, "a refused check-in writes nothing");
}

#[tokio::test]
async fn a_replayed_request_spends_none_of_its_callers_budget() {
    let app = TestApp::with_config(|c| c.rate_limit_account = 3);
    let m = app.member().await;
    let captured = |now| m.request("GET", "/v1/account", Value::Null, now);
    // One request, captured on the way (a proxy's log), replayed 20 times.
    let now = app.now();
    let original = captured(now);
    let (parts, _) = original.into_parts();
    let replay = || {
        let mut req = axum::http::Request::builder().method("GET").uri("/v1/account");
        for (k, v) in &parts.headers {
            req = req.header(k, v);
        }
        req.body(axum::body::Body::empty()).unwrap()
    };
    assert_eq!(app.call(replay()).await.0, StatusCode::OK);
    for _ in 0..20 {
        assert_eq!(app.call(replay()).await.0, StatusCode::CONFLICT);
    }
    // The member's own budget is whole: two more requests go through.
    for _ in 0..2 {
        assert_eq!(app.call(captured(app.now())).await.0, StatusCode::OK);
    }
}

#[tokio::test]
async fn a_registration_without_a_usable_invite_costs_no_signature_check() {
    let app = TestApp::with_config(|c| c.registration = aman_server::config::Registration::Invite);
    let m = common::TestMember::new(&app.info());
    let before = aman_protocol::keys::verifications_on_this_thread();
    for invite in [None, Some("amanreg2-junk")] {
        let refused = app.engine.register(invite, &m.registration()).unwrap_err();
        assert!(refused.code.as_str().starts_with("invite_"), "{}", refused.code);
    }
    assert_eq!(aman_protocol::keys::verifications_on_this_thread(), before, "nothing was opened or verified");
}
