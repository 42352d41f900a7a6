//! Drills at the engine, through the router on a real sled database with a
//! manual clock: a drill's window (`drill_window` from its dispatch), the
//! first fetch each contact makes of it within the window, the member's
//! view frozen when the window closes, and one drill at a time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use axum::http::StatusCode;
use common::{Api, TestApp, TestMember, T0};
use serde_json::{json, Value};

const WINDOW: u64 = 3600;

fn app() -> TestApp {
    TestApp::with_config(|c| c.drill_window = WINDOW)
}

async fn send_drill(app: &TestApp, m: &TestMember) -> (StatusCode, Value) {
    app.call(m.request("POST", "/v2/account/drills", Value::Null, app.now())).await
}

async fn drill_status(app: &TestApp, m: &TestMember) -> Value {
    let (s, b) = app.call(m.request("GET", "/v2/account/drills/latest", Value::Null, app.now())).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    b["drill"].clone()
}

/// A contact reads its mailbox and acknowledges every alert in it.
async fn read_and_ack_all(app: &TestApp, c: &common::TestContact) {
    let alerts = app.mailbox(c).await["alerts"].as_array().cloned().unwrap_or_default();
    assert!(!alerts.is_empty());
    for alert in alerts {
        let path = format!("/v1/mailbox/alerts/{}/ack", alert["alert"].as_str().unwrap());
        let (s, b) = app.call(c.request("POST", &path, Vec::new(), app.now())).await;
        assert!(s.is_success(), "{b}");
    }
}

/// The raw stored mailbox records of a member's contacts.
fn mailbox_records(app: &TestApp, m: &TestMember) -> Vec<String> {
    use aman_server::store::Store;
    m.contacts.iter().map(|c| serde_json::to_string(&app.store.mailbox(&c.mailbox).unwrap()).unwrap()).collect()
}

#[tokio::test]
async fn a_drill_records_each_contacts_first_fetch_of_it_within_its_window_and_no_mailbox_read_time() {
    let app = app();
    let mut m = app.member().await;
    app.add_contacts(&mut m, &[1, 2]).await;
    let (s, b) = send_drill(&app, &m).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    app.tick();
    let status = drill_status(&app, &m).await;
    assert_eq!(status["window_closes"], json!(T0 + WINDOW), "{status}");
    assert_eq!(status["contacts"][0]["first_fetch_day"], Value::Null);

    // Contact 0 reads its mailbox (the drill is in it): the day is on the
    // drill's record. Reading a mailbox writes nothing to the mailbox.
    let before = mailbox_records(&app, &m);
    app.clock.advance(60);
    app.mailbox(&m.contacts[0]).await;
    app.mailbox(&m.contacts[0]).await;
    assert_eq!(mailbox_records(&app, &m), before, "no mailbox-wide read time");
    assert!(before.iter().all(|r| !r.contains("fetched")), "{before:?}");
    let status = drill_status(&app, &m).await;
    assert_eq!(status["contacts"][0]["first_fetch_day"], json!(T0 / 86_400), "{status}");
    assert_eq!(status["contacts"][1]["first_fetch_day"], Value::Null, "{status}");

    // After the window, a read of the drill records nothing, an
    // acknowledgement is not shown, and the view is what it was.
    app.clock.advance(WINDOW);
    let frozen = drill_status(&app, &m).await;
    read_and_ack_all(&app, &m.contacts[1]).await;
    read_and_ack_all(&app, &m.contacts[0]).await;
    assert_eq!(drill_status(&app, &m).await, frozen, "events after the window do not show");
    assert_eq!(frozen["contacts"][1]["first_fetch_day"], Value::Null, "{frozen}");
    assert_eq!(frozen["contacts"][1]["acknowledged_at"], Value::Null, "{frozen}");
    assert_eq!(frozen["contacts"][1]["in_mailbox"], true, "{frozen}");
}

#[tokio::test]
async fn one_drill_at_a_time_a_drill_in_its_window_refuses_another_with_drill_open() {
    let app = app();
    let mut m = app.member().await;
    app.add_contacts(&mut m, &[1]).await;
    assert_eq!(send_drill(&app, &m).await.0, StatusCode::CREATED);
    // Before it is told, and while its window is open, even acknowledged.
    let (s, b) = send_drill(&app, &m).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::CONFLICT, Some("drill_open")), "{b}");
    app.tick();
    read_and_ack_all(&app, &m.contacts[0]).await;
    app.clock.advance(WINDOW - 1);
    let (s, b) = send_drill(&app, &m).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::CONFLICT, Some("drill_open")), "{b}");
    // A real alert is never refused.
    let (s, b) = app.call(m.request("POST", "/v1/panic", Value::Null, app.now())).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    app.clock.advance(1);
    let (s, b) = send_drill(&app, &m).await;
    assert_eq!(s, StatusCode::CREATED, "once the window closes: {b}");
    assert_eq!(drill_status(&app, &m).await["drill"], b["drill"]);
}

/// A drill contact 0 fetches and acknowledges in its window; after the
/// window a check-in (duress or not), then contact 1 reads its mailbox and
/// acknowledges everything in it (the duress alert and the drill, when it
/// was woken). The member's drill view, ids aside.
async fn drill_then_checkin(duress: bool) -> Value {
    let app = app();
    let mut m = app.member().await;
    app.add_contacts(&mut m, &[1, 1]).await;
    app.call(m.checkin_request(false, 86_400, 3600, app.now())).await;
    app.tick();
    assert_eq!(send_drill(&app, &m).await.0, StatusCode::CREATED);
    app.tick();
    app.clock.advance(30);
    read_and_ack_all(&app, &m.contacts[0]).await;
    app.clock.advance(WINDOW);
    let (s, b) = app.call(m.checkin_request(duress, 86_400, 3600, app.now())).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    app.tick();
    app.tick();
    if duress {
        // Woken by the duress alert, contact 1 reads and acknowledges.
        read_and_ack_all(&app, &m.contacts[1]).await;
    }
    let mut status = drill_status(&app, &m).await;
    status["drill"] = Value::Null;
    for (i, c) in m.contacts.iter().enumerate() {
        assert_eq!(status["contacts"][i]["mailbox"], json!(c.mailbox));
        status["contacts"][i]["mailbox"] = json!(i);
    }
    status
}

#[tokio::test]
async fn after_its_window_a_drill_shows_the_same_whether_a_later_check_in_was_duress_or_normal() {
    let normal = drill_then_checkin(false).await;
    let duress = drill_then_checkin(true).await;
    assert_eq!(normal, duress);
    assert_eq!(normal["contacts"][0]["acknowledged_at"], json!(T0 + 30), "{normal}");
    assert_eq!(normal["contacts"][0]["first_fetch_day"], json!(T0 / 86_400), "{normal}");
    assert_eq!(normal["contacts"][1]["first_fetch_day"], Value::Null, "{normal}");
}
