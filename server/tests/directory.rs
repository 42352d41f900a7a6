//! A member on several servers: the contact mailboxes it registers on a
//! second server itself (`POST /v2/account/mailboxes`), and the sealed
//! server directory its contacts read (`PUT /v2/account/directory`,
//! `GET /v2/mailbox/directory`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aman_protocol::api::{AddMailbox, DirectoryUpdate, ErrorCode, B64};
use aman_protocol::directory::{self, ServerDirectory, MAX_SEALED_LEN};
use aman_protocol::routes::{self, NoBody, Route};
use aman_protocol::{EncryptionSecret, MailboxId, ProofKey, SigningKey};
use aman_server::store::{Op, Store};
use axum::http::StatusCode;
use common::*;
use serde_json::{json, Value};

fn same_key(key: &SigningKey) -> SigningKey {
    SigningKey::from_seed(key.seed_bytes()).unwrap()
}

/// The same member (account, identity and check-in keys) as `m`, for the
/// server `app`, registered there.
async fn register_again(app: &TestApp, m: &TestMember) -> TestMember {
    let again = TestMember {
        server: app.info(),
        account: m.account,
        identity: same_key(&m.identity),
        normal: same_key(&m.normal),
        duress: same_key(&m.duress),
        transport: ProofKey::generate().unwrap(),
        generation: 0,
        counter: 0,
        sealed: Vec::new(),
        contacts: Vec::new(),
    };
    let (s, b) = app.call(again.register_request(None, app.now())).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    again
}

/// The same contact (mailbox, `CID`, `CX`) as `c`, signing for `app`.
fn same_contact(app: &TestApp, c: &TestContact) -> TestContact {
    TestContact {
        server: app.info().server_id,
        mailbox: c.mailbox,
        identity: same_key(&c.identity),
        encryption: EncryptionSecret::from_bytes(c.encryption.secret_bytes()),
        tier: c.tier,
    }
}

fn add_request(c: &TestContact) -> AddMailbox {
    AddMailbox { mailbox: c.mailbox, identity: c.identity.verifying_key(), encryption: c.encryption.public() }
}

fn new_contact(app: &TestApp) -> TestContact {
    TestContact {
        server: app.info().server_id,
        mailbox: MailboxId::random().unwrap(),
        identity: SigningKey::generate().unwrap(),
        encryption: EncryptionSecret::generate().unwrap(),
        tier: 1,
    }
}

fn code(body: &Value) -> &str {
    body["code"].as_str().unwrap_or_default()
}

/// A directory of the member's servers, sealed to its contacts.
fn sealed_directory(m: &TestMember, sequence: u64, servers: &[&TestApp]) -> Vec<u8> {
    let dir = ServerDirectory {
        account: m.account,
        sequence,
        created: T0,
        servers: servers
            .iter()
            .enumerate()
            .map(|(i, app)| (app.info().server_id, format!("https://server{i}.example")))
            .collect(),
    };
    let recipients: Vec<_> = m.contacts.iter().map(|c| c.encryption.public()).collect();
    directory::seal(&dir, &m.identity, &recipients).unwrap()
}

async fn put_directory(app: &TestApp, m: &TestMember, sealed: Vec<u8>) -> (StatusCode, Value) {
    app.call(m.route(&routes::PutDirectory, &DirectoryUpdate { directory: B64(sealed) }, app.now())).await
}

async fn get_directory(app: &TestApp, c: &TestContact) -> Option<Vec<u8>> {
    let (s, b) = app.call(c.route(&routes::GetDirectory, &NoBody, app.now())).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    serde_json::from_value::<Option<B64>>(b["directory"].clone()).unwrap().map(|d| d.0)
}

#[tokio::test]
async fn a_member_registers_its_contact_on_a_second_server_and_both_hand_out_its_directory() {
    let (first, second) = (TestApp::new(), TestApp::new());
    let mut m = first.member().await;
    first.add_contact(&mut m, 1).await;
    let c = &m.contacts[0];

    // The same member on a second server registers the contact's mailbox
    // there itself, with the keys it learnt in the pairing on the first.
    let mut again = register_again(&second, &m).await;
    let c2 = same_contact(&second, c);
    let (s, b) = second.call(again.route(&routes::AddMailbox, &add_request(&c2), second.now())).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let record = second.store.mailbox(&c.mailbox).unwrap().unwrap();
    assert_eq!((record.account, record.identity), (m.account, c.identity.verifying_key()));
    assert_eq!(record.encryption, Some(c.encryption.public()));
    // Sent again (a retry): the same answer, nothing changes.
    let before = second.store.mailbox(&c.mailbox).unwrap().unwrap();
    let (s, b) = second.call(again.route(&routes::AddMailbox, &add_request(&c2), second.now())).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    assert_eq!(second.store.mailbox(&c.mailbox).unwrap().unwrap().created, before.created);
    assert_eq!(second.store.account(&m.account).unwrap().unwrap().mailboxes, vec![c.mailbox]);

    // Not linked by that: the member links it with the policy, as any contact.
    let (s, b) = second.call(c2.route(&routes::Heartbeats, &NoBody, second.now())).await;
    assert_eq!((s, &b["heartbeat"]), (StatusCode::OK, &Value::Null), "{b}");
    again.contacts.push(same_contact(&second, c));
    second.link_contacts(&mut again).await;

    // The contact signs requests to the second server with the same keys.
    let (s, b) = second.call(again.checkin_request(false, 3600, 600, second.now())).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let (s, b) = second.call(c2.route(&routes::Heartbeats, &NoBody, second.now())).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(b["heartbeat"].is_string(), "{b}");
    assert_eq!(get_directory(&second, &c2).await, None, "none stored yet");

    // One sealed directory, the same bytes on both servers.
    let sealed = sealed_directory(&m, 1, &[&first, &second]);
    let (s, b) = put_directory(&first, &m, sealed.clone()).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let (s, b) = put_directory(&second, &again, sealed.clone()).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    for (app, contact) in [(&first, c), (&second, &c2)] {
        let got = get_directory(app, contact).await.unwrap();
        assert_eq!(got, sealed);
        let dir = directory::open(&got, &contact.encryption, &m.identity.verifying_key()).unwrap();
        let ids: Vec<_> = dir.servers.iter().map(|(id, _)| *id).collect();
        assert_eq!(ids, vec![first.info().server_id, second.info().server_id]);
    }
}

#[tokio::test]
async fn a_mailbox_on_record_with_other_keys_or_for_another_member_is_a_conflict_and_nothing_is_stored() {
    let app = TestApp::new();
    let m = app.member().await;
    let mut other = app.member().await;
    app.add_contact(&mut other, 1).await;
    let c = new_contact(&app);
    let (s, b) = app.call(m.route(&routes::AddMailbox, &add_request(&c), app.now())).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");

    let mut other_identity = add_request(&c);
    other_identity.identity = SigningKey::generate().unwrap().verifying_key();
    let mut other_encryption = add_request(&c);
    other_encryption.encryption = EncryptionSecret::generate().unwrap().public();
    for (who, request) in [(&m, &other_identity), (&m, &other_encryption), (&other, &add_request(&c))] {
        let (s, b) = app.call(who.route(&routes::AddMailbox, request, app.now())).await;
        assert_eq!(s, StatusCode::CONFLICT, "{b}");
        assert_eq!(code(&b), ErrorCode::MailboxExists.as_str());
    }
    // A mailbox paired by another member is not the caller's either.
    let theirs = &other.contacts[0];
    let (s, b) = app.call(m.route(&routes::AddMailbox, &add_request(theirs), app.now())).await;
    assert_eq!((s, code(&b)), (StatusCode::CONFLICT, ErrorCode::MailboxExists.as_str()), "{b}");

    let record = app.store.mailbox(&c.mailbox).unwrap().unwrap();
    assert_eq!((record.account, record.identity), (m.account, c.identity.verifying_key()));
    assert_eq!(record.encryption, Some(c.encryption.public()));
    assert_eq!(app.store.mailbox(&theirs.mailbox).unwrap().unwrap().account, other.account);
    assert_eq!(app.store.account(&m.account).unwrap().unwrap().mailboxes, vec![c.mailbox]);
    assert_eq!(app.store.account(&other.account).unwrap().unwrap().mailboxes, vec![theirs.mailbox]);
}

#[tokio::test]
async fn added_mailboxes_keep_the_pairing_bounds_and_key_lengths() {
    let app = TestApp::with_config(|c| c.max_mailboxes = 1);
    let m = app.member().await;
    let (first, second) = (new_contact(&app), new_contact(&app));
    let (s, b) = app.call(m.route(&routes::AddMailbox, &add_request(&first), app.now())).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    let (s, b) = app.call(m.route(&routes::AddMailbox, &add_request(&second), app.now())).await;
    assert_eq!((s, code(&b)), (StatusCode::TOO_MANY_REQUESTS, ErrorCode::TooManyMailboxes.as_str()), "{b}");
    assert!(app.store.mailbox(&second.mailbox).unwrap().is_none());
    // The one on record, sent again, is still answered: it adds nothing.
    let (s, b) = app.call(m.route(&routes::AddMailbox, &add_request(&first), app.now())).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");

    // A key of the wrong length: the pairing answer's refusal, nothing stored.
    let mut wire = serde_json::to_value(add_request(&second)).unwrap();
    wire["identity"] = json!("AAAA");
    let (s, b) = app.call(m.request("POST", routes::AddMailbox::PATH, wire, app.now())).await;
    assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, ErrorCode::WrongLength.as_str()), "{b}");
    assert!(app.store.mailbox(&second.mailbox).unwrap().is_none());
}

#[tokio::test]
async fn the_directory_is_replaced_checked_and_shown_to_active_contacts_only() {
    let app = TestApp::new();
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    let first = sealed_directory(&m, 1, &[&app]);
    let (s, b) = put_directory(&app, &m, first.clone()).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    assert_eq!(get_directory(&app, &m.contacts[0]).await, Some(first.clone()));
    let later = sealed_directory(&m, 2, &[&app]);
    let (s, b) = put_directory(&app, &m, later.clone()).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{b}");
    assert_eq!(get_directory(&app, &m.contacts[0]).await, Some(later.clone()));

    // Malformed or too large: refused, and the one on record stays.
    let mut truncated = later.clone();
    truncated.pop();
    m.reseal("an alert is not a directory", app.now());
    let alert = m.sealed.clone();
    for bad in [truncated, alert, b"not a directory".to_vec()] {
        let (s, b) = put_directory(&app, &m, bad).await;
        assert_eq!((s, code(&b)), (StatusCode::BAD_REQUEST, ErrorCode::InvalidDirectory.as_str()), "{b}");
    }
    let (s, b) = put_directory(&app, &m, vec![0; MAX_SEALED_LEN + 1]).await;
    assert_eq!((s, code(&b)), (StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::DirectoryTooLarge.as_str()), "{b}");
    assert_eq!(app.store.directory(&m.account).unwrap(), Some(later.clone()));

    // Unsigned: refused both ways.
    let body = serde_json::to_vec(&DirectoryUpdate { directory: B64(first) }).unwrap();
    let (s, _) = app.call(unsigned("PUT", routes::PutDirectory::PATH, body)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let (s, _) = app.call(unsigned("GET", routes::GetDirectory::PATH, Vec::new())).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // A contact linked beside an active one waits out its cooling-off, as
    // for heartbeats; a contact of another member sees that member's.
    app.add_contact(&mut m, 1).await;
    assert_eq!(get_directory(&app, &m.contacts[1]).await, None);
    app.clock.set(app.now() + app.engine.config.cooling_off + 1);
    app.tick();
    assert_eq!(get_directory(&app, &m.contacts[1]).await, Some(later.clone()));
    let mut other = app.member().await;
    app.add_contact(&mut other, 1).await;
    assert_eq!(get_directory(&app, &other.contacts[0]).await, None);

    // The account's deletion takes the directory with it.
    app.store.apply(vec![Op::DeleteAccount(m.account)]).unwrap();
    assert_eq!(app.store.directory(&m.account).unwrap(), None);
}
