//! Check-in v2 at the server: exactly one verification, one 401 for every
//! authentication failure, replay and retry, heartbeats bound to one
//! server, the relay to contacts, and rotation by succession.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use aman_protocol::api::B64;
use aman_protocol::encoding::{labels, Writer};
use aman_protocol::hash::sha256;
use aman_protocol::heartbeat::make_proof;
use aman_protocol::keys::verifications_on_this_thread;
use aman_protocol::text::b64_encode;
use aman_protocol::{Heartbeat, ProofKey, ServerId, SigningKey};
use aman_server::store::Store;
use axum::http::StatusCode;
use common::{delta, unsigned, Api, TestApp, TestMember};
use serde_json::{json, Value};
use zeroize::Zeroizing;

/// A proof box holding any key and any signature (what an attacker can build).
fn forged_proof(ph: &[u8], pk: &[u8; 32], signer: &SigningKey, transport: &ProofKey) -> Vec<u8> {
    let sig = signer.sign(&Writer::v2(labels::MODE_PROOF).fixed(ph).finish());
    let mut inner = pk.to_vec();
    inner.extend_from_slice(&sig.0);
    let aad = Writer::v2(labels::PROOF_BOX).fixed(&sha256(ph)).finish();
    aman_protocol::secretbox::seal(&transport.to_bytes(), &aad, &inner).unwrap()
}

fn body(ph: &[u8], proof: &[u8], sealed: &[u8]) -> Vec<u8> {
    serde_json::to_vec(
        &json!({ "heartbeat": B64(ph.to_vec()), "proof": B64(proof.to_vec()), "sealed_alert": B64(sealed.to_vec()) }),
    )
    .unwrap()
}

fn heartbeat_for(m: &mut TestMember, server: ServerId, counter: u64, now: u64) -> Vec<u8> {
    if m.sealed.is_empty() {
        m.reseal("note", now);
    }
    Heartbeat {
        server,
        account: m.account,
        counter,
        client_time: now,
        next_due: now + 3600,
        grace: 600,
        sealed_hash: aman_protocol::alert::sealed_hash(&m.sealed),
    }
    .sign(&m.identity)
}

#[tokio::test]
async fn a_check_in_costs_exactly_one_verification_and_none_when_the_proof_does_not_open() {
    let app = TestApp::new();
    let mut m = app.member().await;
    let id = app.info().server_id;
    let stranger = SigningKey::generate().unwrap();
    let wrong_transport = ProofKey::generate().unwrap();
    let now = app.now();
    // (heartbeat, proof, verifications expected, accepted, what)
    type Case = (Vec<u8>, Vec<u8>, u64, bool, &'static str);
    let mut cases: Vec<Case> = Vec::new();
    let ph = heartbeat_for(&mut m, id, 1, now);
    cases.push((ph.clone(), make_proof(&ph, &m.normal, &m.transport).unwrap(), 1, true, "normal"));
    let ph = heartbeat_for(&mut m, id, 2, now);
    cases.push((ph.clone(), make_proof(&ph, &m.duress, &m.transport).unwrap(), 1, true, "duress"));
    let ph = heartbeat_for(&mut m, id, 2, now + 1);
    cases.push((ph.clone(), make_proof(&ph, &m.normal, &m.transport).unwrap(), 1, false, "stale counter"));
    let ph = heartbeat_for(&mut m, id, 3, now);
    cases.push((ph.clone(), make_proof(&ph, &stranger, &m.transport).unwrap(), 1, false, "a stranger's key"));
    let normal_pk = m.normal.verifying_key().0;
    cases.push((
        ph.clone(),
        forged_proof(&ph, &normal_pk, &m.duress, &m.transport),
        1,
        false,
        "key of one, signature of the other",
    ));
    cases.push((ph.clone(), forged_proof(&ph, &normal_pk, &stranger, &m.transport), 1, false, "bad signature"));
    cases.push((ph.clone(), make_proof(&ph, &m.normal, &wrong_transport).unwrap(), 0, false, "another K_tr"));
    let other_ph = heartbeat_for(&mut m, id, 4, now);
    cases.push((other_ph, make_proof(&ph, &m.normal, &m.transport).unwrap(), 0, false, "proof moved to another PH"));
    let elsewhere = heartbeat_for(&mut m, ServerId::from_bytes([1; 16]), 3, now);
    cases.push((
        elsewhere.clone(),
        make_proof(&elsewhere, &m.normal, &m.transport).unwrap(),
        0,
        false,
        "another server",
    ));
    let mut nobody = TestMember::new(&app.info());
    let ph = heartbeat_for(&mut nobody, id, 1, now);
    cases.push((ph.clone(), make_proof(&ph, &nobody.normal, &nobody.transport).unwrap(), 0, false, "unknown account"));

    for (ph, proof, expected, accepted, what) in cases {
        // The engine runs on this thread, so the thread's count is the check-in's.
        let before = verifications_on_this_thread();
        let result = app.engine.checkin(&ph, &proof, Some(&m.sealed), &|_| true);
        assert_eq!(verifications_on_this_thread() - before, expected, "{what}");
        assert_eq!(result.is_ok(), accepted, "{what}");
        if let Ok((_, durable)) = result {
            durable.wait().await.unwrap();
        }
    }
}

#[tokio::test]
async fn every_authentication_failure_is_one_identical_401_even_with_a_stale_counter() {
    let app = TestApp::new();
    let mut m = app.member().await;
    let (s, _) = app.call(m.checkin_request(false, 3600, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    let id = app.info().server_id;
    let now = app.now();
    let stranger = SigningKey::generate().unwrap();
    let normal_pk = m.normal.verifying_key().0;
    let sealed = m.sealed.clone();
    let ph = heartbeat_for(&mut m, id, 5, now);
    let low = heartbeat_for(&mut m, id, 1, now);
    let elsewhere = heartbeat_for(&mut m, ServerId::from_bytes([1; 16]), 5, now);
    let mut nobody = TestMember::new(&app.info());
    let unknown = heartbeat_for(&mut nobody, id, 1, now);
    let cases = [
        ("unknown account", body(&unknown, &make_proof(&unknown, &nobody.normal, &nobody.transport).unwrap(), &sealed)),
        ("wrong K_tr", body(&ph, &make_proof(&ph, &m.normal, &ProofKey::generate().unwrap()).unwrap(), &sealed)),
        ("proof moved to another PH", body(&ph, &make_proof(&low, &m.normal, &m.transport).unwrap(), &sealed)),
        ("a stranger's key", body(&ph, &make_proof(&ph, &stranger, &m.transport).unwrap(), &sealed)),
        (
            "key in the set, signed by the other",
            body(&ph, &forged_proof(&ph, &normal_pk, &m.duress, &m.transport), &sealed),
        ),
        ("bad signature", body(&ph, &forged_proof(&ph, &normal_pk, &stranger, &m.transport), &sealed)),
        ("another server's id", body(&elsewhere, &make_proof(&elsewhere, &m.normal, &m.transport).unwrap(), &sealed)),
        ("a low counter with a bad proof", body(&low, &make_proof(&low, &stranger, &m.transport).unwrap(), &sealed)),
        ("no proof at all (a relayed heartbeat)", body(&ph, &[], &sealed)),
    ];
    let mut answers = Vec::new();
    for (what, bytes) in cases {
        let (s, b) = app.send(unsigned("POST", "/v2/checkin", bytes)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{what}: {}", String::from_utf8_lossy(&b));
        answers.push((what, b));
    }
    for (what, b) in &answers {
        assert_eq!(b, &answers[0].1, "{what} reads like {}", answers[0].0);
    }
    assert_eq!(app.engine.account(&m.account).unwrap().unwrap().live.counter, 1, "nothing changed");
}

#[tokio::test]
async fn a_retried_check_in_gets_the_same_reply_and_fires_once_and_replays_are_refused() {
    let app = TestApp::new();
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    let first = serde_json::to_vec(&m.checkin_body(true, 3600, 600, app.now())).unwrap();
    let (s1, b1) = app.send(unsigned("POST", "/v2/checkin", first.clone())).await;
    let stored = app.store.account(&m.account).unwrap();
    app.clock.advance(5);
    let (s2, b2) = app.send(unsigned("POST", "/v2/checkin", first.clone())).await;
    assert_eq!((s1, &b1), (StatusCode::OK, &b2), "a lost reply is answered again, the same");
    assert_eq!(s2, StatusCode::OK);
    assert_eq!(app.store.account(&m.account).unwrap(), stored, "and nothing is written");
    app.tick();
    assert_eq!(app.mailbox(&m.contacts[0]).await["alerts"].as_array().unwrap().len(), 1, "one alert");
    // Once a later check-in is in, the old duress body replayed (from a log,
    // say) is stale: refused with no trace, and nobody is alerted again.
    let (s, _) = app.call(m.checkin_request(false, 3600, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    let stored = app.stats();
    let (s, b) = app.call(unsigned("POST", "/v2/checkin", first.clone())).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::CONFLICT, Some("stale_counter")));
    assert_eq!(app.tick().duress, Vec::new());
    assert_eq!(app.stats(), stored, "a replay stores nothing");
    assert_eq!(app.mailbox(&m.contacts[0]).await["alerts"].as_array().unwrap().len(), 1);

    // A new heartbeat with a counter already used, one too far ahead, one out of the clock window.
    let used = m.counter;
    m.counter = 0;
    let (s, b) = app.call(m.checkin_request(false, 3600, 600, app.now())).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::CONFLICT, Some("stale_counter")));
    m.counter = used + (1u64 << 32);
    let (s, b) = app.call(m.checkin_request(false, 3600, 600, app.now())).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::CONFLICT, Some("counter_jump")));
    m.counter = used;
    let skewed = app.now() - app.engine.config.clock_window - 1;
    let (s, b) = app.call(m.checkin_request(false, 3600 + 400, 600, skewed)).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::BAD_REQUEST, Some("clock_skew")));
    m.counter = used;
    let (s, _) = app.call(m.checkin_request(false, 3600, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK, "the counter is durable state, not a cache: the next one goes through");
}

#[tokio::test]
async fn contacts_read_the_same_heartbeat_for_normal_and_duress_and_never_a_proof() {
    let app = TestApp::new();
    let mut m = app.member().await;
    app.add_contacts(&mut m, &[1, 2]).await;
    let poll =
        |app: &TestApp, c: &common::TestContact| c.request("GET", "/v2/mailbox/heartbeats", Vec::new(), app.now());
    let (s, b) = app.call(poll(&app, &m.contacts[1])).await;
    assert_eq!((s, &b), (StatusCode::OK, &json!({ "heartbeat": null })));

    let body = m.checkin_body(true, 3600, 600, app.now());
    let (s, _) = app.call(unsigned("POST", "/v2/checkin", serde_json::to_vec(&body).unwrap())).await;
    assert_eq!(s, StatusCode::OK);
    let (s, b) = app.call(poll(&app, &m.contacts[1])).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(b["heartbeat"], body["heartbeat"], "the heartbeat as sent, the proof left behind");
    let ph = aman_protocol::text::b64_decode(b["heartbeat"].as_str().unwrap(), 1024).unwrap();
    let hb = Heartbeat::verify(&ph, &m.identity.verifying_key()).unwrap();
    assert_eq!((hb.account, hb.counter), (m.account, 1));
    // A relayed heartbeat is not a check-in credential.
    let (s, _) = app.send(unsigned("POST", "/v2/checkin", body_without_proof(&ph))).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);

    // A contact linked beside others waits out the cooling-off for the schedule too.
    app.pair_contact(&mut m, 1).await;
    app.link_contacts(&mut m).await;
    let (_, b) = app.call(poll(&app, &m.contacts[2])).await;
    assert_eq!(b, json!({ "heartbeat": null }));
    app.clock.advance(3601);
    let (_, b) = app.call(poll(&app, &m.contacts[2])).await;
    assert!(b["heartbeat"].is_string());
}

fn body_without_proof(ph: &[u8]) -> Vec<u8> {
    serde_json::to_vec(&json!({ "heartbeat": B64(ph.to_vec()), "proof": b64_encode(&[0u8; 136]) })).unwrap()
}

/// Everything a check-in stores has one shape whichever passphrase: the
/// same keys of the same lengths, the account record with the same fields
/// and sizes, a sealed signal of the same size. The database holds no proof
/// bytes. Only when the scheduler reads the signal does the duress one
/// become an alert.
#[tokio::test]
async fn the_database_holds_no_proof_and_the_same_shape_for_normal_and_duress() {
    let mut views = Vec::new();
    let mut proofs = Vec::new();
    for is_duress in [false, true] {
        let app = TestApp::new();
        let mut m = app.member().await;
        app.add_contact(&mut m, 1).await;
        let body = m.checkin_body(is_duress, 3600, 600, app.now());
        let (s, _) = app.call(unsigned("POST", "/v2/checkin", serde_json::to_vec(&body).unwrap())).await;
        assert_eq!(s, StatusCode::OK);
        proofs.push(aman_protocol::text::b64_decode(body["proof"].as_str().unwrap(), 1024).unwrap());
        let record = serde_json::to_value(app.store.account(&m.account).unwrap().unwrap()).unwrap();
        // Every key in the store by kind and length, with its value's length.
        let mut keys: Vec<(u8, usize, usize)> = app
            .store
            .raw_entries()
            .unwrap()
            .into_iter()
            .filter(|(k, _)| k[0] != b'a')
            .map(|(k, v)| (k[0], k.len(), v.len()))
            .collect();
        keys.sort();
        views.push((mask(record), keys));
        app.engine.store.durable().wait().await.unwrap();
        let mut bytes = Vec::new();
        for entry in walk(&app.dir.path().join("db")) {
            bytes.extend(std::fs::read(entry).unwrap());
        }
        let proof = proofs.last().unwrap();
        for needle in [proof.clone(), b64_encode(proof).into_bytes(), proof[24..60].to_vec()] {
            assert!(!bytes.windows(needle.len()).any(|w| w == needle.as_slice()), "proof bytes stored");
        }
        // The scheduler reads the signal: only now does a duress check-in become an alert.
        let report = app.tick();
        assert_eq!(report.duress.len(), usize::from(is_duress));
        assert_eq!(app.stats().alerts, u64::from(is_duress));
    }
    assert_eq!(views[0], views[1], "one shape whichever passphrase");
}

/// Replaces every string and number with its kind, keeping the structure.
fn mask(v: Value) -> Value {
    match v {
        Value::String(s) => json!(format!("string/{}", s.len())),
        Value::Number(_) => json!("number"),
        Value::Array(a) => Value::Array(a.into_iter().map(mask).collect()),
        Value::Object(o) => Value::Object(o.into_iter().map(|(k, v)| (k, mask(v))).collect()),
        other => other,
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn one_server_key_and_database_plus_one_slot_never_make_a_normal_check_in_anywhere() {
    let a = TestApp::new();
    let b = TestApp::new();
    // The member registered on both servers, with a K_tr for each.
    let mut at_a = a.member().await;
    a.add_contact(&mut at_a, 1).await;
    let mut at_b = TestMember::new(&b.info());
    at_b.account = at_a.account;
    at_b.identity = SigningKey::from_seed(at_a.identity.seed_bytes()).unwrap();
    at_b.normal = SigningKey::from_seed(at_a.normal.seed_bytes()).unwrap();
    at_b.duress = SigningKey::from_seed(at_a.duress.seed_bytes()).unwrap();
    let (s, _) = b.call(at_b.register_request(None, b.now())).await;
    assert_eq!(s, StatusCode::CREATED);
    b.add_contact(&mut at_b, 1).await;

    // The captor: slot D (ID, CK_D, every K_tr) and server A's key file and database.
    let key_file = std::fs::read(a.dir.path().join("server.key")).unwrap();
    let a_key = aman_protocol::at_rest::ServerKey::from_bytes(Zeroizing::new(key_file[..32].try_into().unwrap()));
    let record = a.store.account(&at_a.account).unwrap().unwrap();
    let mut context = at_a.account.as_bytes().to_vec();
    context.extend_from_slice(b"/k-tr");
    let k_tr_a = ProofKey::from_bytes(Zeroizing::new(
        a_key.decrypt(&context, &record.transport_sealed.0).unwrap().as_slice().try_into().unwrap(),
    ));
    // The tag tells them which stored key is the normal one, but not how to sign with it.
    let tag = a_key.tag(
        aman_protocol::at_rest::DURESS_TAG_LABEL,
        &[at_a.account.as_bytes(), at_a.duress.verifying_key().as_bytes()],
    );
    assert_eq!(tag.to_vec(), record.duress_tag.0);
    let normal_pk = *record.checkin_keys.iter().find(|k| **k != at_a.duress.verifying_key()).unwrap();

    let k_tr_b = ProofKey::from_bytes(at_b.transport.to_bytes());
    let mut counter = 10;
    for (app, member, transports) in [(&a, &mut at_a, [&k_tr_a, &k_tr_b]), (&b, &mut at_b, [&k_tr_a, &k_tr_b])] {
        let id = app.info().server_id;
        for transport in transports {
            counter += 1;
            let ph = heartbeat_for(member, id, counter, app.now());
            let sealed = member.sealed.clone();
            let attempts = [
                make_proof(&ph, &member.duress, transport).unwrap(),
                forged_proof(&ph, &normal_pk.0, &member.duress, transport),
                forged_proof(&ph, &normal_pk.0, &member.identity, transport),
                make_proof(&ph, &member.identity, transport).unwrap(),
            ];
            for proof in attempts {
                let before = app.stats().alerts;
                let (s, _) = app.send(unsigned("POST", "/v2/checkin", body(&ph, &proof, &sealed))).await;
                // Refused, or accepted as duress (an alert): never a quiet normal check-in.
                if s == StatusCode::OK {
                    app.engine.tick(app.now());
                    assert_eq!(app.stats().alerts, before + 1, "accepted only as a duress check-in");
                } else {
                    assert_eq!(s, StatusCode::UNAUTHORIZED);
                }
            }
        }
    }
}

#[tokio::test]
async fn a_captor_with_one_slot_cannot_rotate_and_a_pending_rotation_is_sealed_and_overlaps() {
    let app = TestApp::new();
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    let (s, _) = app.call(m.checkin_request(false, 1000, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    let (x, y) = (SigningKey::generate().unwrap(), SigningKey::generate().unwrap());
    let seal = |signed: Vec<u8>| {
        let label = labels::KEY_ROTATION.as_bytes();
        json!({ "rotation": B64(aman_protocol::seal_to_server(&m.server.server_key, label, &signed).unwrap()) })
    };
    // Slot D alone: the duress key signs its successor, and a key the captor
    // made up stands in for the normal key they cannot sign with. (Two
    // successions from one old key do not even parse: the protocol refuses
    // repeated keys.)
    let made_up = SigningKey::generate().unwrap();
    let one_slot = aman_protocol::KeyRotation::build(
        m.server.server_id,
        m.account,
        1,
        1,
        [(&m.duress, &x.verifying_key()), (&made_up, &y.verifying_key())],
    )
    .sign(&m.identity)
    .unwrap();
    let (s, b) = app.call(m.request("PUT", "/v2/account/keys", seal(one_slot), app.now())).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::BAD_REQUEST, Some("rotation_mismatch")));
    // The wrong generation.
    let wrong_generation = aman_protocol::KeyRotation::build(
        m.server.server_id,
        m.account,
        5,
        1,
        [(&m.duress, &x.verifying_key()), (&m.normal, &y.verifying_key())],
    )
    .sign(&m.identity)
    .unwrap();
    let (s, b) = app.call(m.request("PUT", "/v2/account/keys", seal(wrong_generation), app.now())).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::CONFLICT, Some("stale_generation")));

    // A real rotation: the new keys are sealed at rest and not shown.
    let status_before = app.status_of(&m).await;
    let body = m.rotation_body(&x.verifying_key(), &y.verifying_key(), 1);
    let (s, first) = app.call(m.request("PUT", "/v2/account/keys", body, app.now())).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    // Its reply lost, the client sends the same rotation again: the same answer.
    let again = m.rotation_body(&x.verifying_key(), &y.verifying_key(), 2);
    let (s, b) = app.call(m.request("PUT", "/v2/account/keys", again, app.now())).await;
    assert_eq!((s, &b), (StatusCode::ACCEPTED, &first));
    // A different one waits its turn.
    let z = SigningKey::generate().unwrap();
    let other = m.rotation_body(&z.verifying_key(), &x.verifying_key(), 3);
    let (s, b) = app.call(m.request("PUT", "/v2/account/keys", other, app.now())).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::CONFLICT, Some("rotation_pending")));
    let status = app.status_of(&m).await;
    assert_eq!(status["pending"][0], json!({ "kind": "checkin_keys_rotation", "effective_at": app.now() + 3600 }));
    assert_eq!(status["key_generation"], status_before["key_generation"]);
    let record = serde_json::to_vec(&app.store.account(&m.account).unwrap().unwrap()).unwrap();
    for k in [x.verifying_key(), y.verifying_key()] {
        let text = b64_encode(&k.0);
        assert!(!record.windows(text.len()).any(|w| w == text.as_bytes()), "a pending key in clear");
    }

    // Overlap: shortly before it takes over the new keys already work (a
    // client's clock may run ahead); shortly after, the old ones still do.
    let window = app.engine.config.clock_window + aman_server::engine::KEY_OVERLAP;
    app.clock.advance(3600 - window);
    let mut ahead = TestMember { normal: SigningKey::from_seed(x.seed_bytes()).unwrap(), ..clone_member(&m) };
    ahead.counter = m.counter;
    let (s, _) = app.call(ahead.checkin_request(false, 1000, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    m.counter = ahead.counter;
    app.clock.advance(window);
    app.tick();
    let (s, _) = app.call(m.checkin_request(false, 1000, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK, "the old normal key in the overlap");
    app.clock.advance(window + 1);
    let (s, b) = app.call(m.checkin_request(false, 1000, 600, app.now())).await;
    assert_eq!((s, b["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")), "and not after it");
    m.counter -= 1;
    m.take_keys(x, y);
    let (s, _) = app.call(m.checkin_request(false, 1000, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(app.status_of(&m).await["key_generation"], json!(1));
    app.tick();
    assert_eq!(app.mailbox(&m.contacts[0]).await["alerts"], json!([]), "every normal check-in stayed normal");
}

fn clone_member(m: &TestMember) -> TestMember {
    TestMember {
        server: m.server.clone(),
        account: m.account,
        identity: SigningKey::from_seed(m.identity.seed_bytes()).unwrap(),
        normal: SigningKey::from_seed(m.normal.seed_bytes()).unwrap(),
        duress: SigningKey::from_seed(m.duress.seed_bytes()).unwrap(),
        transport: ProofKey::from_bytes(m.transport.to_bytes()),
        generation: m.generation,
        counter: m.counter,
        sealed: m.sealed.clone(),
        contacts: Vec::new(),
    }
}

#[tokio::test]
async fn a_late_check_in_writes_what_any_check_in_writes_and_the_notice_comes_with_its_signal() {
    let mut deltas = Vec::new();
    for alert_open in [false, true] {
        let app = TestApp::new();
        let mut m = app.member().await;
        app.add_contact(&mut m, 1).await;
        let (s, _) = app.call(m.checkin_request(false, 3600, 600, app.now())).await;
        assert_eq!(s, StatusCode::OK);
        app.tick();
        if alert_open {
            let (s, _) = app.call(m.request("POST", "/v1/panic", Value::Null, app.now())).await;
            assert_eq!(s, StatusCode::OK);
            app.tick();
        }
        app.clock.advance(10);
        let before = app.store.raw_entries().unwrap();
        let (s, _) = app.call(m.checkin_request(false, 3600, 600, app.now())).await;
        assert_eq!(s, StatusCode::OK);
        deltas.push(delta(&before, &app.store.raw_entries().unwrap()));
        let report = app.tick();
        let notices = app.mailbox(&m.contacts[0]).await["alerts"][0]["notices"].clone();
        if alert_open {
            assert_eq!(notices[0]["kind"], "checked_in_late", "the notice, once the signal is read");
            assert!(report.duress.is_empty());
        } else {
            assert_eq!(notices, Value::Null);
        }
    }
    assert_eq!(deltas[0], deltas[1], "the same writes whether or not an alert was open");
}

#[tokio::test]
async fn a_refused_duress_check_in_replayed_in_the_window_alerts_once() {
    let app = TestApp::new();
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    // A schedule the server refuses (longer than its maximum interval).
    let body = serde_json::to_vec(&m.checkin_body(true, 400 * 86_400, 600, app.now())).unwrap();
    let (s1, b1) = app.send(unsigned("POST", "/v2/checkin", body.clone())).await;
    let (s2, b2) = app.send(unsigned("POST", "/v2/checkin", body)).await;
    assert_eq!(s1, StatusCode::BAD_REQUEST);
    assert_eq!((s1, b1), (s2, b2));
    app.tick();
    assert_eq!(app.mailbox(&m.contacts[0]).await["alerts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_refused_check_in_and_its_corrected_retry_lose_neither_signal() {
    // The client resends the same heartbeat (same counter) with the note
    // after `alert_hash_mismatch`: the refusal's signal (saying nothing)
    // must not take the accepted one's (a late check-in) with it, whichever
    // due time each draws (eight tries).
    let app = TestApp::with_config(|c| c.dispatch_delay = 20);
    let tick_through = |secs: u64| {
        for _ in 0..secs {
            app.clock.advance(1);
            app.tick();
        }
    };
    for _ in 0..8 {
        let mut m = app.member().await;
        app.add_contact(&mut m, 1).await;
        let (s, _) = app.call(m.checkin_request(false, 3600, 600, app.now())).await;
        assert_eq!(s, StatusCode::OK);
        drop(app.engine.panic(&m.account, None).unwrap());
        tick_through(25);
        m.reseal("a new note", app.now());
        let full = m.checkin_body(false, 3600, 600, app.now());
        let mut bare = full.clone();
        bare.as_object_mut().unwrap().remove("sealed_alert");
        let (s, b) = app.call(unsigned("POST", "/v2/checkin", serde_json::to_vec(&bare).unwrap())).await;
        assert_eq!((s, b["code"].as_str()), (StatusCode::BAD_REQUEST, Some("alert_hash_mismatch")), "{b}");
        let (s, b) = app.call(unsigned("POST", "/v2/checkin", serde_json::to_vec(&full).unwrap())).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        tick_through(25);
        let seen = app.mailbox(&m.contacts[0]).await;
        assert_eq!(seen["alerts"][0]["notices"][0]["kind"], "checked_in_late", "{seen}");
    }
}

#[tokio::test]
async fn a_late_check_in_is_noted_on_the_alert_it_was_late_for_not_on_a_newer_one() {
    let app = TestApp::with_config(|c| c.dispatch_delay = 20);
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    let (s, _) = app.call(m.checkin_request(false, 3600, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    let (first, _) = app.engine.panic(&m.account, None).unwrap();
    for _ in 0..25 {
        app.clock.advance(1);
        app.tick();
    }
    // Late check-in; a second panic comes while its signal waits out the delay.
    let (s, _) = app.call(m.checkin_request(false, 3600, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    app.clock.advance(1);
    let (second, _) = app.engine.panic(&m.account, None).unwrap();
    for _ in 0..25 {
        app.clock.advance(1);
        app.tick();
    }
    let seen = app.mailbox(&m.contacts[0]).await;
    let alerts = seen["alerts"].as_array().unwrap();
    let of = |id: aman_protocol::AlertId| alerts.iter().find(|a| a["alert"] == id.to_string()).unwrap().clone();
    assert_eq!(of(first)["notices"][0]["kind"], "checked_in_late", "{seen}");
    assert_eq!(of(second)["notices"], json!([]), "{seen}");
}

#[tokio::test]
async fn a_corrupt_duress_tag_is_an_internal_error_never_a_normal_check_in() {
    let app = TestApp::new();
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    let mut record = app.store.account(&m.account).unwrap().unwrap();
    record.duress_tag.0.pop();
    app.store.apply(vec![aman_server::store::Op::PutAccount(m.account, record)]).unwrap();
    let before = app.stats();
    for duress in [true, false] {
        let (s, b) = app.call(m.checkin_request(duress, 3600, 600, app.now())).await;
        assert_eq!((s, b["code"].as_str()), (StatusCode::INTERNAL_SERVER_ERROR, Some("internal")), "duress: {duress}");
    }
    assert_eq!(app.stats(), before, "nothing written");
    assert_eq!(app.tick().duress, Vec::new());
}

/// What a check-in reads through the memos (ARCHITECTURE.md, invariant 37)
/// is exactly what decoding the stored bytes gives, after each kind of
/// write on the way: check-ins in both modes, the scheduler reading a
/// duress signal, a late check-in, a note replaced, a panic.
#[tokio::test]
async fn what_a_check_in_reads_through_the_memos_is_what_the_stored_bytes_say() {
    use aman_server::engine::open_live;
    use aman_server::store::{keys, AccountRecord};
    let app = TestApp::new();
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    let key = aman_server::keyfile::load_or_create(&app.dir.path().join("server.key")).unwrap();
    let check = |what: &str, account: &aman_protocol::AccountId| {
        let read = app.engine.account(account).unwrap().unwrap();
        let entries = app.store.raw_entries().unwrap();
        let stored = |k: Vec<u8>| entries.iter().find(|(key, _)| *key == k).map(|(_, v)| v.clone()).unwrap();
        let record: AccountRecord = serde_json::from_slice(&stored(keys::account(account))).unwrap();
        let live = open_live(&key, account, &stored(keys::live(account))).unwrap();
        assert_eq!(read.record, record, "{what}: the account record");
        assert_eq!(read.live, live, "{what}: the live state");
    };
    for (duress, what) in [(false, "normal"), (true, "duress"), (false, "normal again")] {
        let (s, _) = app.call(m.checkin_request(duress, 3600, 600, app.now())).await;
        assert_eq!(s, StatusCode::OK, "{what}");
        check(what, &m.account);
        app.clock.advance(1);
    }
    app.tick();
    check("after the scheduler read the duress signal", &m.account);
    // Overdue: the deadline fires, then a late check-in.
    app.clock.advance(3600 + 601);
    app.tick();
    check("after the deadline fired", &m.account);
    let (s, _) = app.call(m.checkin_request(false, 3600, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    app.tick();
    check("after a late check-in", &m.account);
    m.reseal("a new note", app.now());
    let (s, _) = app
        .call(m.request("PUT", "/v1/account/sealed-alert", json!({ "sealed_alert": B64(m.sealed.clone()) }), app.now()))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    check("after the note was replaced", &m.account);
    let (s, _) = app.call(m.request("POST", "/v1/panic", json!({}), app.now())).await;
    assert_eq!(s, StatusCode::OK);
    app.tick();
    check("after a panic", &m.account);
    // A second member's reads are its own.
    let mut other = app.member().await;
    let (s, _) = app.call(other.checkin_request(false, 3600, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    check("the other member", &other.account);
    check("the first member still", &m.account);
    // Bytes changed behind the memos' back (as a migration writes them) are
    // read as they now are, never as they were remembered.
    let mut record = app.store.account(&m.account).unwrap().unwrap();
    record.key_generation += 7;
    app.store.raw_write(&keys::account(&m.account), Some(&serde_json::to_vec(&record).unwrap())).unwrap();
    let live = aman_server::store::LiveState { counter: 4242, ..Default::default() };
    let sealed = aman_server::engine::seal_live(&key, &m.account, &live).unwrap();
    app.store.raw_write(&keys::live(&m.account), Some(&sealed)).unwrap();
    check("after bytes written behind the memos", &m.account);
    let read = app.engine.account(&m.account).unwrap().unwrap();
    assert_eq!((read.record.key_generation, read.live.counter), (record.key_generation, 4242));
}

/// What the memos hold of an account follows the check-ins that arrived,
/// never what the scheduler did because of one: a duress signal's alert
/// reads and rewrites the account, a normal signal is deleted, and either
/// way an account the memos did not hold stays out and one they held is
/// held with its current bytes (a probe's reply time tells nothing).
#[tokio::test]
async fn what_the_memos_hold_does_not_depend_on_how_an_account_checked_in() {
    let mut app = TestApp::new();
    let mut normal = app.member().await;
    let mut duress = app.member().await;
    app.add_contact(&mut normal, 1).await;
    app.add_contact(&mut duress, 1).await;
    for (m, is_duress) in [(&mut normal, false), (&mut duress, true)] {
        let (s, _) = app.call(m.checkin_request(is_duress, 3600, 600, app.now())).await;
        assert_eq!(s, StatusCode::OK);
    }
    let held = |app: &TestApp, m: &TestMember| (app.store.memo_holds(&m.account), app.engine.memos_hold(&m.account));
    let after_checkins = held(&app, &normal);
    assert_eq!(after_checkins, ((true, true), (true, true)), "a check-in puts its account in the memos");
    assert_eq!(held(&app, &duress), after_checkins);
    assert_eq!(app.tick().duress.len(), 1, "the duress check-in's alert fired");
    assert_eq!(held(&app, &normal), after_checkins, "normal, once its signal was read");
    assert_eq!(held(&app, &duress), after_checkins, "duress, once its alert fired: held, with the bytes now stored");

    // A restarted engine holds nobody; the signals read by its scheduler add nobody.
    let (n, d) = (normal.checkin_body(false, 3600, 600, app.now()), duress.checkin_body(true, 3600, 600, app.now()));
    for body in [n, d] {
        let (s, _) = app.send(unsigned("POST", "/v2/checkin", serde_json::to_vec(&body).unwrap())).await;
        assert_eq!(s, StatusCode::OK);
    }
    app.restart_at(app.now());
    assert_eq!(app.tick().duress.len(), 1, "the second duress check-in's alert fired");
    assert_eq!(app.engine.memos_hold(&normal.account), (false, false));
    assert_eq!(
        app.engine.memos_hold(&duress.account),
        (false, false),
        "the duress alert's reads and writes add nothing"
    );
    assert_eq!(app.store.memo_holds(&normal.account), app.store.memo_holds(&duress.account));
}

#[tokio::test]
async fn check_ins_within_the_delay_merge_into_one_signal_that_alerts_once_at_the_first_duress_time_with_the_latest_duress_note(
) {
    let app = TestApp::with_config(|c| c.dispatch_delay = 20);
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    let (s, _) = app.call(m.checkin_request(false, 3600, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    for _ in 0..25 {
        app.clock.advance(1);
        assert_eq!(app.tick().duress, Vec::new(), "a normal check-in makes no alert");
    }
    // Under duress, then twice more before its signal is read: a normal
    // check-in with a new note, and a second duress one naming it.
    let first_note = m.sealed.clone();
    let duress_at = app.now();
    let before = app.store.raw_entries().unwrap();
    let (s, _) = app.call(m.checkin_request(true, 3600, 600, duress_at)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        delta(&before, &app.store.raw_entries().unwrap()),
        vec![(b't', 17, Some(320))],
        "a check-in writes its live state and nothing else"
    );
    app.clock.advance(2);
    m.reseal("a later note", app.now());
    let body = serde_json::to_vec(&m.checkin_body(false, 3600, 600, app.now())).unwrap();
    let (s, b) = app.call(unsigned("POST", "/v2/checkin", body)).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    app.clock.advance(2);
    let (s, _) = app.call(m.checkin_request(true, 3600, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK);

    let mut made = Vec::new();
    for _ in 0..50 {
        app.clock.advance(1);
        made.extend(app.tick().duress);
    }
    assert_eq!(made.len(), 1, "one duress alert for the signals merged: {made:?}");
    let alert = app.store.alert(&made[0]).unwrap().unwrap();
    let meta = app.engine.alert_meta(&made[0], &alert).unwrap();
    assert_eq!((meta.reason.as_str(), meta.fired_at), ("duress", duress_at), "the first duress check-in's time");
    assert_ne!(m.sealed, first_note);
    assert_eq!(alert.sealed_alert.0, m.sealed, "the note the latest duress check-in named");
    let live = app.engine.account(&m.account).unwrap().unwrap().live;
    assert_eq!(live.signal.flags, 0, "read, and cleared with the alert's write");
    assert_eq!(live.counter, m.counter, "the later check-ins stand");
}

#[tokio::test]
async fn a_duress_signal_read_in_the_same_batch_as_a_normal_one_of_the_same_account_still_alerts() {
    // No dispatch delay: both check-ins' signals fall due in the same tick.
    let app = TestApp::new();
    let mut m = app.member().await;
    app.add_contact(&mut m, 1).await;
    let (s, _) = app.call(m.checkin_request(false, 3600, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = app.call(m.checkin_request(true, 3600, 600, app.now())).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(app.tick().duress.len(), 1, "the normal check-in's entry must not hide the duress one's");
    assert_eq!(app.tick().duress.len(), 0, "and it alerts once");
}
