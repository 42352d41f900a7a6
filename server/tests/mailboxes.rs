//! Mailboxes that stay cheap: polls read only what changed, retention and
//! caps bound what a mailbox holds and how many long-polls wait, and the
//! stored bytes keep no clear record of when a member checked in.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aman_protocol::AlertId;
use aman_server::store::Store;
use axum::http::StatusCode;
use common::*;
use http_body_util::BodyExt;
use serde_json::Value;
use std::time::Duration;
use tower::ServiceExt;

/// Fires `n` panics for `m` and dispatches them (dispatch delay 0).
fn panics(app: &TestApp, m: &TestMember, n: usize) -> Vec<AlertId> {
    let mut ids = Vec::with_capacity(n);
    for _ in 0..n {
        let (id, ticket) = app.engine.panic(&m.account, None).unwrap();
        drop(ticket); // the tick's flush covers it
        ids.push(id);
    }
    assert_eq!(app.tick().dispatched.len(), n);
    ids
}

async fn poll(app: &TestApp, c: &TestContact, since: u64, wait: u64) -> (StatusCode, Value) {
    let path = format!("/v1/mailbox/alerts?since={since}&wait={wait}");
    app.call(c.request("GET", &path, Vec::new(), app.now())).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_answers_with_only_what_changed_after_its_cursor() {
    let app = TestApp::with_config(|c| c.mailbox_max_entries = 20_000);
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    let c = &m.contacts[0];
    let old = tokio::task::block_in_place(|| {
        let ids = panics(&app, &m, 10_000);
        for id in &ids {
            drop(app.engine.acknowledge(&c.mailbox, id).unwrap());
        }
        app.store.durable().wait_blocking().unwrap();
        ids
    });
    assert_eq!(app.store.mailbox_entries(&c.mailbox).unwrap().len(), 10_000);

    // Reading everything takes pieces of at most READ_LIMIT, each saying whether more remain.
    let (s, first) = poll(&app, c, 0, 0).await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(first["alerts"].as_array().unwrap().len(), aman_server::engine::READ_LIMIT);
    assert_eq!(first["more"], true);
    let mut cursor = first["cursor_ms"].as_u64().unwrap();
    let mut seen = first["alerts"].as_array().unwrap().len();
    while let (StatusCode::OK, piece) = poll(&app, c, cursor, 0).await {
        seen += piece["alerts"].as_array().unwrap().len();
        cursor = piece["cursor_ms"].as_u64().unwrap();
        if piece["more"] != true {
            break;
        }
    }
    assert_eq!(seen, 10_000, "every alert once");
    let (_, nothing) = poll(&app, c, cursor, 0).await;
    assert!(nothing["alerts"].as_array().unwrap().is_empty(), "{nothing}");
    assert_eq!(nothing["cursor_ms"].as_u64(), Some(cursor));

    // A new alert: the poll from the cursor holds it and nothing else.
    let new = tokio::task::block_in_place(|| panics(&app, &m, 1))[0];
    let (_, fresh) = poll(&app, c, cursor, 0).await;
    let alerts = fresh["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "only the new one");
    assert_eq!(alerts[0]["alert"], new.to_string());
    assert!(!old.contains(&new));

    // An acknowledgement is a change too: the one acknowledged comes back, alone.
    let cursor = fresh["cursor_ms"].as_u64().unwrap();
    tokio::task::block_in_place(|| app.engine.acknowledge(&c.mailbox, &new).unwrap().wait_blocking().unwrap());
    let (_, acked) = poll(&app, c, cursor, 0).await;
    let alerts = acked["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0]["alert"], new.to_string());
    assert_eq!(alerts[0]["acks"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiting_poll_wakes_on_its_own_mailbox_and_returns_the_change() {
    let app = TestApp::new();
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    let (_, before) = poll(&app, &m.contacts[0], 0, 0).await;
    let cursor = before["cursor_ms"].as_u64().unwrap();
    let waiting = {
        let router = app.router.clone();
        let req =
            m.contacts[0].request("GET", &format!("/v1/mailbox/alerts?since={cursor}&wait=30"), Vec::new(), app.now());
        tokio::spawn(async move { router.oneshot(req).await.unwrap() })
    };
    while app.engine.mailbox_wakes.waiting() == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let id = tokio::task::block_in_place(|| panics(&app, &m, 1))[0];
    let resp = tokio::time::timeout(Duration::from_secs(10), waiting).await.unwrap().unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["alerts"].as_array().unwrap().len(), 1, "{body}");
    assert_eq!(body["alerts"][0]["alert"], id.to_string());
    assert_eq!(app.engine.mailbox_wakes.waiting(), 0, "the waiter gave its place back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_polls_beyond_the_caps_get_429_or_503_with_retry_after() {
    let app = TestApp::with_config(|c| {
        c.max_waiters_per_mailbox = 2;
        c.max_waiters_per_account = 3;
        c.max_waiters = 4;
    });
    let mut m = app.member().await;
    app.add_contacts(&mut m, &[1, 1]).await;
    let mut other = app.member().await;
    app.add_contact(&mut other, 1).await;
    let hold = |c: &TestContact| {
        let router = app.router.clone();
        let req = c.request("GET", "/v1/mailbox/alerts?since=99999999999999&wait=20", Vec::new(), app.now());
        tokio::spawn(async move { router.oneshot(req).await.unwrap() })
    };
    let until_waiting = |n: usize| {
        let engine = app.engine.clone();
        async move {
            while engine.mailbox_wakes.waiting() < n {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    let refused = |resp: axum::response::Response| async move {
        let status = resp.status();
        let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
        let body: Value = serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
        (status, retry, body["code"].as_str().unwrap_or("").to_owned())
    };
    let a1 = hold(&m.contacts[0]);
    let a2 = hold(&m.contacts[0]);
    until_waiting(2).await;
    let third = hold(&m.contacts[0]).await.unwrap();
    assert_eq!(
        refused(third).await,
        (StatusCode::TOO_MANY_REQUESTS, Some("5".into()), "too_many_waiters".into()),
        "per mailbox"
    );
    let b1 = hold(&m.contacts[1]);
    until_waiting(3).await;
    let fourth = hold(&m.contacts[1]).await.unwrap();
    assert_eq!(refused(fourth).await.0, StatusCode::TOO_MANY_REQUESTS, "per member");
    let o1 = hold(&other.contacts[0]);
    until_waiting(4).await;
    let fifth = hold(&other.contacts[0]).await.unwrap();
    assert_eq!(
        refused(fifth).await,
        (StatusCode::SERVICE_UNAVAILABLE, Some("5".into()), "too_many_waiters".into()),
        "server-wide"
    );
    // A poll that need not wait is never refused, and a freed place is taken again.
    let (s, _) = poll(&app, &m.contacts[0], 0, 0).await;
    assert_eq!(s, StatusCode::OK);
    a1.abort();
    let _ = a1.await;
    while app.engine.mailbox_wakes.waiting() > 3 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let again = hold(&m.contacts[0]);
    until_waiting(4).await;
    for task in [a2, again, b1, o1] {
        task.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_and_the_size_cap_bound_a_mailbox() {
    let app = TestApp::with_config(|c| {
        c.mailbox_max_entries = 5;
        c.mailbox_retention = 86_400;
        c.mailbox_max_age = 10 * 86_400;
    });
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    let c = &m.contacts[0];
    let ids = tokio::task::block_in_place(|| panics(&app, &m, 4));
    tokio::task::block_in_place(|| {
        app.engine.acknowledge(&c.mailbox, &ids[1]).unwrap().wait_blocking().unwrap();
    });
    // Alerts dispatched together are placed in no particular order.
    let oldest = app
        .store
        .mailbox_entries(&c.mailbox)
        .unwrap()
        .into_iter()
        .filter(|(id, _)| *id != ids[1])
        .min_by_key(|(_, e)| e.changed)
        .unwrap()
        .0;
    let more = tokio::task::block_in_place(|| panics(&app, &m, 3));
    let held: Vec<AlertId> = app.store.mailbox_entries(&c.mailbox).unwrap().into_iter().map(|(a, _)| a).collect();
    assert_eq!(held.len(), 5, "the cap holds");
    assert!(!held.contains(&ids[1]), "the acknowledged one made room first");
    assert!(!held.contains(&oldest), "then the one that changed longest ago");
    assert!(more.iter().all(|id| held.contains(id)));

    // A day later the acknowledged ones go; the others stay until the maximum age.
    let survivor = *ids.iter().find(|id| held.contains(id)).unwrap();
    tokio::task::block_in_place(|| {
        app.engine.acknowledge(&c.mailbox, &survivor).unwrap().wait_blocking().unwrap();
    });
    app.clock.advance(86_400 + 10);
    let report = tokio::task::block_in_place(|| app.engine.sweep_mailboxes(app.now()).unwrap());
    assert_eq!(report.entries, 1, "{report:?}");
    assert!(app.store.alert(&survivor).unwrap().is_none(), "an alert no mailbox holds goes");
    assert_eq!(app.store.mailbox_entries(&c.mailbox).unwrap().len(), 4);
    app.clock.advance(10 * 86_400);
    let report = tokio::task::block_in_place(|| app.engine.sweep_mailboxes(app.now()).unwrap());
    assert_eq!(report.entries, 4, "{report:?}");
    let latest = *more.last().unwrap();
    for id in ids.iter().chain(&more).filter(|id| **id != latest) {
        assert!(app.store.alert(id).unwrap().is_none(), "every alert record goes, evicted ones too");
        assert!(app.store.delivery_log(id).unwrap().is_empty(), "with its delivery log");
    }
    assert!(app.store.alert(&latest).unwrap().is_some(), "but the member's latest, for a late check-in");
    assert!(app.store.mailbox_entries(&c.mailbox).unwrap().is_empty());
    assert!(app.store.all_mailbox_changes().unwrap().is_empty(), "and the change index with them");
    let (s, b) = poll(&app, c, 0, 0).await;
    assert_eq!(s, StatusCode::OK);
    assert!(b["alerts"].as_array().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_cannot_pair_without_end() {
    let app = TestApp::with_config(|c| {
        c.max_open_pairings = 2;
        c.max_mailboxes = 3;
    });
    let mut m = app.member().await;
    let open = |m: &TestMember| {
        let invite = aman_protocol::InviteCode::generate(m.identity.verifying_key(), "http://127.0.0.1").unwrap();
        let create = aman_protocol::api::CreatePairing { invite: invite.id, expires_at: app.now() + 3600 };
        m.request("POST", "/v1/pairings", serde_json::to_value(&create).unwrap(), app.now())
    };
    // Two open slots at once, not three.
    let (s, b) = app.call(open(&m)).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = app.call(open(&m)).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = app.call(open(&m)).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("too_many_pairings")), "{b}");
    // Three mailboxes in all, however the slots are used.
    let mut m2 = app.member().await;
    for _ in 0..3 {
        app.pair_contact(&mut m2, 1).await;
    }
    let (s, b) = app.call(open(&m2)).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::TOO_MANY_REQUESTS, Some("too_many_mailboxes")), "{b}");
    // Mailboxes never linked and empty go after the retention time, and
    // free the allowance (a captor's own pairings cannot use it up for good);
    // a linked one stays.
    app.link_contacts(&mut m2).await; // links all three
    let mut m3 = app.member().await;
    for _ in 0..3 {
        app.pair_contact(&mut m3, 1).await;
    }
    app.clock.advance(app.engine.config.mailbox_retention + 1);
    let report = tokio::task::block_in_place(|| app.engine.sweep_mailboxes(app.now()).unwrap());
    assert_eq!(report.mailboxes, 3, "{report:?}");
    assert!(app.store.mailbox(&m3.contacts[0].mailbox).unwrap().is_none());
    assert!(app.store.mailbox(&m2.contacts[0].mailbox).unwrap().is_some());
    let (s, b) = app.call(open(&m3)).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let (s, b) = app.call(open(&m2)).await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS, "{b}");
    m.contacts.clear();
}

/// Every 8-byte window of `bytes` read as a big- or little-endian u64, and
/// every run of 10 or 13 ASCII digits read as a number.
fn time_like_values(bytes: &[u8]) -> Vec<u64> {
    let mut out = Vec::new();
    for w in bytes.windows(8) {
        let w: [u8; 8] = w.try_into().unwrap();
        out.push(u64::from_be_bytes(w));
        out.push(u64::from_le_bytes(w));
    }
    let mut digits = String::new();
    for &b in bytes.iter().chain([b' '].iter()) {
        if b.is_ascii_digit() {
            digits.push(char::from(b));
            continue;
        }
        if digits.len() >= 10 {
            for len in [10, 13].into_iter().filter(|l| *l <= digits.len()) {
                for start in 0..=digits.len().saturating_sub(len) {
                    if let Ok(v) = digits[start..start + len].parse() {
                        out.push(v);
                    }
                }
            }
        }
        digits.clear();
    }
    out
}

fn raw_files(dir: &std::path::Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all.extend(raw_files(&path));
        } else {
            all.extend(std::fs::read(&path).unwrap());
        }
    }
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_raw_data_files_hold_no_clear_time_of_any_check_in() {
    let app = TestApp::new();
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    // Check-ins a month after registration, 3,000 s apart (never late), each
    // followed by the scheduler reading its signal.
    let start = T0 + 30 * 86_400;
    let (every, grace, gap) = (3600, 600, 3000);
    let mut times = Vec::new();
    for i in 0..100u64 {
        app.clock.set(start + i * gap + (i * 7) % 13);
        let (s, b) = app.call(m.checkin_request(false, every, grace, app.now())).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        times.push(app.now());
        app.tick();
    }
    assert_eq!(app.status_of(&m).await["counter"], 100);
    tokio::task::block_in_place(|| app.store.flush().unwrap());

    // Anything that reads as a time between an hour before the first
    // check-in and an hour after the last deadline, in seconds or ms.
    let first = times[0] - 3600;
    let last = times[times.len() - 1] + every + grace + 3600;
    let bytes = raw_files(&app.dir.path().join("db"));
    assert!(bytes.len() > 10_000, "the files were read");
    let found: Vec<u64> = time_like_values(&bytes)
        .into_iter()
        .filter(|v| (first..=last).contains(v) || (first * 1000..=last * 1000).contains(v))
        .collect();
    assert!(found.is_empty(), "check-in times in the data files: {:?}", &found[..found.len().min(10)]);

    // The check is sharp: the same scan finds a time written in clear.
    let mut planted = bytes.clone();
    planted.extend_from_slice(&times[42].to_be_bytes());
    assert!(time_like_values(&planted).contains(&times[42]));
    planted.extend_from_slice(format!("\"deadline\":{}", times[7] + every + grace).as_bytes());
    assert!(time_like_values(&planted).contains(&(times[7] + every + grace)));
}
