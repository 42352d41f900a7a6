//! Trips only: a member whose schedule arms nothing between trips. A
//! stand-down (a heartbeat with `next_due` and `grace` 0) disarms the
//! switch, only under a trips-only policy, and is still a check-in: the
//! duress key makes it a silent alert, with the same reply and the same
//! writes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aman_protocol::alert::sealed_hash;
use aman_protocol::api::B64;
use aman_protocol::heartbeat::make_proof;
use aman_protocol::Heartbeat;
use axum::http::StatusCode;
use common::{unsigned, Api, TestApp, TestMember};
use serde_json::{json, Value};

/// A stand-down check-in by the normal or the duress key.
fn stand_down(m: &mut TestMember, duress: bool, now: u64) -> axum::http::Request<axum::body::Body> {
    m.counter += 1;
    let ph = Heartbeat {
        server: m.server.server_id,
        account: m.account,
        counter: m.counter,
        client_time: now,
        next_due: 0,
        grace: 0,
        sealed_hash: sealed_hash(&m.sealed),
    }
    .sign(&m.identity);
    let key = if duress { &m.duress } else { &m.normal };
    let proof = make_proof(&ph, key, &m.transport).unwrap();
    let body = json!({ "heartbeat": B64(ph), "proof": B64(proof) });
    unsigned("POST", "/v2/checkin", serde_json::to_vec(&body).unwrap())
}

/// A member with one contact, checked in on a 1 h schedule with 10 min grace.
async fn armed_member(app: &TestApp) -> TestMember {
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    let mut policy = app.policy_of(&m).await;
    policy.interval = Some(3600);
    policy.grace = Some(600);
    let (s, b) =
        app.call(m.request("PUT", "/v1/account/policy", serde_json::to_value(&policy).unwrap(), app.now())).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = app.call(m.checkin_request(false, 3600, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    m
}

/// Asks for trips only (it waits out the cooling-off).
async fn make_trips_only(app: &TestApp, m: &TestMember) -> Value {
    let mut policy = app.policy_of(m).await;
    policy.trips_only = true;
    let (s, b) =
        app.call(m.request("PUT", "/v1/account/policy", serde_json::to_value(&policy).unwrap(), app.now())).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    b
}

#[tokio::test]
async fn a_regular_schedule_refuses_a_stand_down_and_a_duress_one_still_alerts() {
    for duress in [false, true] {
        let app = TestApp::new();
        let mut m = armed_member(&app).await;
        let before = app.status_of(&m).await;
        let (s, b) = app.call(stand_down(&mut m, duress, app.now())).await;
        assert_eq!((s, b["code"].as_str()), (StatusCode::BAD_REQUEST, Some("stand_down_refused")), "{b}");
        let after = app.status_of(&m).await;
        assert_eq!(before["deadline"], after["deadline"], "the deadline stays armed");
        let report = app.tick();
        assert_eq!(report.duress.len(), usize::from(duress), "a refused duress stand-down still alerts");
    }
}

#[tokio::test]
async fn trips_only_is_a_weakening_change_and_contacts_are_told() {
    let app = TestApp::new();
    let mut m = armed_member(&app).await;
    let reply = make_trips_only(&app, &m).await;
    assert_eq!(reply["applied"], false, "trips only waits out the cooling-off: {reply}");
    let mailbox = app.mailbox(&m.contacts[0]).await;
    assert!(mailbox.to_string().contains("policy_weakening"), "the contact is told at once: {mailbox}");
    // Before it applies, a stand-down is refused.
    let (s, b) = app.call(stand_down(&mut m, false, app.now())).await;
    assert_eq!(b["code"], "stand_down_refused", "{s} {b}");
    // Back to regular while it waits: the waiting change is dropped at once.
    let (s, b) = leave_trips_only(&app, &m, None).await;
    assert_eq!((s, &b["applied"]), (StatusCode::OK, &json!(true)), "{b}");
}

#[tokio::test]
async fn a_stand_down_disarms_and_a_duress_one_reads_the_same_and_alerts() {
    let mut replies = Vec::new();
    let mut writes = Vec::new();
    for duress in [false, true] {
        let app = TestApp::new();
        let mut m = armed_member(&app).await;
        make_trips_only(&app, &m).await;
        app.clock.advance(3000);
        let (s, b) = app.call(m.checkin_request(false, 3600, 600, app.now())).await;
        assert_eq!(s, StatusCode::OK, "a trip check-in under the cooling-off: {b}");
        app.clock.advance(700);
        assert_eq!(app.tick().applied, vec![m.account], "trips only applies after the cooling-off");

        let before = app.store.raw_entries().unwrap();
        let (s, b) = app.call(stand_down(&mut m, duress, app.now())).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        replies.push(b);
        writes.push(common::delta(&before, &app.store.raw_entries().unwrap()));
        let status = app.status_of(&m).await;
        assert_eq!((&status["next_due"], &status["deadline"]), (&Value::Null, &Value::Null), "nothing armed");
        assert_eq!(app.stats().armed_deadlines, 0);

        let report = app.tick();
        assert_eq!(report.duress.len(), usize::from(duress), "a duress stand-down alerts");
        // Days later: a stood-down member is never missed.
        app.clock.advance(10 * 86_400);
        assert!(app.tick().fired.is_empty(), "nothing fires between trips");
        let alerts = app.mailbox(&m.contacts[0]).await["alerts"].as_array().map_or(0, Vec::len);
        assert_eq!(alerts, usize::from(duress));

        // The next trip arms again, and a missed one fires.
        let (s, b) = app.call(m.checkin_request(false, 1800, 600, app.now())).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        app.clock.advance(2401);
        assert_eq!(app.tick().fired.len(), 1, "a trip not ended alerts");
    }
    assert_eq!(replies[0], replies[1], "the same reply whichever key");
    assert_eq!(replies[0]["next_due"], 0);
    assert_eq!(writes[0], writes[1], "the same writes whichever key");
}

/// A member whose trips only has applied, and who has stood down.
async fn stood_down_member(app: &TestApp) -> TestMember {
    let mut m = armed_member(app).await;
    make_trips_only(app, &m).await;
    app.clock.advance(3601);
    app.tick();
    let (s, b) = app.call(stand_down(&mut m, false, app.now())).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    m
}

/// Leaves trips only, with a new interval if given.
async fn leave_trips_only(app: &TestApp, m: &TestMember, interval: Option<u64>) -> (StatusCode, Value) {
    let mut policy = app.policy_of(m).await;
    policy.trips_only = false;
    policy.interval = interval.or(policy.interval);
    app.call(m.request("PUT", "/v1/account/policy", serde_json::to_value(&policy).unwrap(), app.now())).await
}

#[tokio::test]
async fn leaving_trips_only_applies_at_once_and_arms_a_member_who_stood_down() {
    let app = TestApp::new();
    let m = stood_down_member(&app).await;
    let (s, b) = leave_trips_only(&app, &m, None).await;
    assert_eq!((s, &b["applied"]), (StatusCode::OK, &json!(true)), "{b}");
    let status = app.status_of(&m).await;
    assert_eq!(status["deadline"], app.now() + 3600 + 600, "due within the interval from now: {status}");
    // Armed durably: after a restart it fires when missed.
    let now = app.now();
    let mut app = app;
    app.restart_at(now);
    app.clock.advance(4201);
    assert_eq!(app.tick().fired.len(), 1);
}

#[tokio::test]
async fn leaving_trips_only_for_a_longer_schedule_waits_and_then_arms_a_member_who_stood_down() {
    let app = TestApp::new();
    let m = stood_down_member(&app).await;
    // A longer interval than the trips-only bound: it weakens, so it waits.
    let (s, b) = leave_trips_only(&app, &m, Some(7200)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{b}");
    app.clock.advance(3601);
    assert_eq!(app.tick().applied, vec![m.account]);
    let status = app.status_of(&m).await;
    // Applied on the first tick after its time: due from then.
    assert!(app.now() > b["effective_at"].as_u64().unwrap());
    assert_eq!(status["deadline"], app.now() + 7200 + 600, "due within the new interval from when it applied");
    app.clock.advance(7801);
    assert_eq!(app.tick().fired.len(), 1, "and missed, it fires");
}
