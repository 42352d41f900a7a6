//! Check-in v2 against its documented byte layouts: the public heartbeat
//! `PH`, the mode proof, registration, key rotation by succession and sealing
//! to the server. Each format is also built here by hand from the layout
//! (shared/checkin-v2.md, "The construction"), so the crate and the document
//! cannot drift apart unnoticed. Then: every single-byte flip, truncation and
//! trailing byte rejected; wrong label and version rejected even under a valid
//! signature; the signatures one key makes for different formats never
//! verify as each other (domain separation); fixed sizes whatever the mode;
//! and a mode proof costs exactly one Ed25519 verification once its box opens
//! and none before.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aman_protocol::alert::{open as open_alert, AlertBody};
use aman_protocol::at_rest::ServerKey;
use aman_protocol::encoding::{labels, Writer, VERSION, VERSION_2};
use aman_protocol::hash::{hkdf_sha256, sha256};
use aman_protocol::heartbeat::{make_proof, verify_proof, HEARTBEAT_LEN, PROOF_LEN, PUBLIC_HEARTBEAT_LEN};
use aman_protocol::keys::verifications_on_this_thread;
use aman_protocol::registration::{REGISTRATION_LEN, SEALED_REGISTRATION_LEN};
use aman_protocol::rotation::{Succession, ROTATION_LEN};
use aman_protocol::secretbox;
use aman_protocol::server::{server_id, SEAL_OVERHEAD};
use aman_protocol::text::b64_encode;
use aman_protocol::{
    seal_to_server, AccountId, DecodeError, EncryptionPublic, EncryptionSecret, Error, Heartbeat, KeyRotation,
    ProofKey, Registration, RequestAuth, ServerId, ServerIdentity, Signature, SigningKey, VerifyingKey,
};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

const TRANSPORT: [u8; 32] = [0x77; 32];

fn key() -> SigningKey {
    SigningKey::generate().unwrap()
}

fn transport() -> ProofKey {
    ProofKey::from_bytes(Zeroizing::new(TRANSPORT))
}

fn server() -> ServerIdentity {
    ServerIdentity::derive(&ServerKey::from_bytes(Zeroizing::new([0x99; 32])))
}

fn account() -> AccountId {
    AccountId::from_bytes([0x11; 16])
}

fn heartbeat() -> Heartbeat {
    Heartbeat {
        server: server().id(),
        account: account(),
        counter: 42,
        client_time: 1_800_000_000,
        next_due: 1_800_003_600,
        grace: 900,
        sealed_hash: sha256(b"sealed"),
    }
}

/// Runs `f` and counts the Ed25519 verifications it made on this thread.
fn counted<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = verifications_on_this_thread();
    let out = f();
    (out, verifications_on_this_thread() - before)
}

/// `label 0x00 version`, the head of every encoding.
fn head(label: &str, version: u8) -> Vec<u8> {
    let mut out = label.as_bytes().to_vec();
    out.push(0);
    out.push(version);
    out
}

/// `hb` by hand, with any label and version.
fn hb_by_hand(label: &str, version: u8, hb: &Heartbeat) -> Vec<u8> {
    let mut out = head(label, version);
    out.extend_from_slice(hb.server.as_bytes());
    out.extend_from_slice(hb.account.as_bytes());
    for v in [hb.counter, hb.client_time, hb.next_due, hb.grace] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&hb.sealed_hash);
    out
}

fn signed(key: &SigningKey, mut body: Vec<u8>) -> Vec<u8> {
    let sig = key.sign(&body);
    body.extend_from_slice(&sig.0);
    body
}

/// `"aman/v2/mode-proof" 0x00 0x02 || PH`.
fn mode_proof_message(ph: &[u8]) -> Vec<u8> {
    let mut out = head("aman/v2/mode-proof", 2);
    out.extend_from_slice(ph);
    out
}

/// A mode proof box by hand around any key and signature:
/// `nonce || XChaCha20-Poly1305(K_tr, nonce, "aman/v2/proof-box" 0x00 0x02 || SHA-256(PH), pk || sig)`.
fn proof_by_hand(ph: &[u8], pk: &VerifyingKey, sig: &Signature) -> Vec<u8> {
    let mut aad = head("aman/v2/proof-box", 2);
    aad.extend_from_slice(&sha256(ph));
    let mut inner = pk.0.to_vec();
    inner.extend_from_slice(&sig.0);
    secretbox::seal(&TRANSPORT, &aad, &inner).unwrap()
}

fn sig_of(ph: &[u8]) -> Signature {
    Signature(ph[HEARTBEAT_LEN..].try_into().unwrap())
}

// ---------------------------------------------------------------- layouts

#[test]
fn labels_and_versions_are_the_documented_ones() {
    assert_eq!(VERSION_2, 2);
    assert_eq!(labels::HEARTBEAT, "aman/v2/heartbeat");
    assert_eq!(labels::MODE_PROOF, "aman/v2/mode-proof");
    assert_eq!(labels::PROOF_BOX, "aman/v2/proof-box");
    assert_eq!(labels::REQUEST, "aman/v2/request");
    assert_eq!(labels::REGISTER, "aman/v2/register");
    assert_eq!(labels::KEY_SUCCESSION, "aman/v2/key-succession");
    assert_eq!(labels::KEY_ROTATION, "aman/v2/key-rotation");
    assert_eq!(labels::SEAL_TO_SERVER, "aman/v2/seal");
    assert_eq!(labels::SERVER_ID, "aman/v2/server-id");
    assert_eq!(labels::SERVER_X25519, "aman/v2/server-x25519");
    assert_eq!(labels::TRANSPORT_KEY, "aman/v2/transport-key");
}

#[test]
fn server_identity_and_seal_by_hand() {
    let file = ServerKey::from_bytes(Zeroizing::new([0x99; 32]));
    let secret = hkdf_sha256::<32>(&[], &[0x99; 32], b"aman/v2/server-x25519");
    assert_eq!(file.subkey(labels::SERVER_X25519).as_ref(), secret.as_ref());
    let s = EncryptionSecret::from_bytes(secret);
    let server = server();
    assert_eq!(server.public(), s.public());
    let mut id_input = head("aman/v2/server-id", 2);
    id_input.extend_from_slice(s.public().as_bytes());
    assert_eq!(server.id().as_bytes()[..], sha256(&id_input)[..16]);
    assert_eq!(server_id(&server.public()), server.id());

    // seal_to_server by hand with a fixed ephemeral key: the server opens it.
    let e = EncryptionSecret::from_bytes(Zeroizing::new([8; 32]));
    let ss = e.diffie_hellman(&server.public()).unwrap();
    let mut salt = e.public().0.to_vec();
    salt.extend_from_slice(server.public().as_bytes());
    let k = hkdf_sha256::<32>(&salt, ss.as_ref(), b"aman/v2/seal");
    let mut aad = head("aman/v2/seal", 2);
    aad.extend_from_slice(server.id().as_bytes());
    aad.extend_from_slice(b"ctx");
    let ct = XChaCha20Poly1305::new(k.as_ref().into())
        .encrypt(XNonce::from_slice(&[0; 24]), Payload { msg: b"to the server", aad: &aad })
        .unwrap();
    let mut sealed = e.public().0.to_vec();
    sealed.extend_from_slice(&ct);
    assert_eq!(sealed.len(), 13 + SEAL_OVERHEAD);
    assert_eq!(server.open(b"ctx", &sealed).unwrap().as_slice(), b"to the server");
    assert_eq!(server.open(b"ctx2", &sealed).unwrap_err(), Error::DecryptionFailed);
}

#[test]
fn heartbeat_and_proof_by_hand() {
    let (id, n) = (key(), key());
    let ph = heartbeat().sign(&id);
    // Ed25519 is deterministic: the hand-built hb signs to the same PH.
    assert_eq!(signed(&id, hb_by_hand("aman/v2/heartbeat", 2, &heartbeat())), ph);
    assert_eq!(HEARTBEAT_LEN, 115);
    // A hand-built proof over the hand-built mode-proof message is accepted.
    let proof = proof_by_hand(&ph, &n.verifying_key(), &n.sign(&mode_proof_message(&ph)));
    assert_eq!(proof.len(), PROOF_LEN);
    assert_eq!(verify_proof(&ph, &proof, &transport(), &[key().verifying_key(), n.verifying_key()]), Ok(1));
}

// ------------------------------------------------------- public heartbeat

#[test]
fn public_heartbeat_every_byte_flip_is_rejected() {
    let id = key();
    let pk = id.verifying_key();
    let ph = heartbeat().sign(&id);
    assert_eq!(Heartbeat::verify(&ph, &pk).unwrap(), heartbeat());
    for i in 0..ph.len() {
        for bit in [0x01, 0x80] {
            let mut t = ph.clone();
            t[i] ^= bit;
            assert!(Heartbeat::verify(&t, &pk).is_err(), "flip {bit:#x} at {i}");
        }
    }
}

#[test]
fn public_heartbeat_truncation_and_trailing_bytes() {
    let id = key();
    let pk = id.verifying_key();
    let ph = heartbeat().sign(&id);
    for len in 0..ph.len() {
        assert_eq!(Heartbeat::decode(&ph[..len]).unwrap_err(), DecodeError::Truncated, "len {len}");
        assert!(Heartbeat::verify(&ph[..len], &pk).is_err(), "len {len}");
    }
    for extra in [1, 64] {
        let mut longer = ph.clone();
        longer.resize(ph.len() + extra, 0);
        assert_eq!(Heartbeat::decode(&longer).unwrap_err(), DecodeError::TrailingBytes);
        assert!(Heartbeat::verify(&longer, &pk).is_err());
    }
    // hb re-signed with a trailing byte inside the signed part: one byte too long.
    let mut body = hb_by_hand("aman/v2/heartbeat", 2, &heartbeat());
    body.push(0);
    assert_eq!(Heartbeat::decode(&signed(&id, body)).unwrap_err(), DecodeError::TrailingBytes);
}

#[test]
fn heartbeat_with_wrong_label_or_version_is_rejected_under_a_valid_signature() {
    let id = key();
    let pk = id.verifying_key();
    let hb = heartbeat();
    let cases: [(&str, u8, DecodeError); 5] = [
        ("aman/v2/heartbeat", VERSION, DecodeError::UnknownVersion(1)),
        ("aman/v2/heartbeat", 0, DecodeError::UnknownVersion(0)),
        ("aman/v2/heartbeat", 3, DecodeError::UnknownVersion(3)),
        ("aman/v1/heartbeat", 2, DecodeError::WrongLabel),
        ("aman/v2/heartbeaT", 2, DecodeError::WrongLabel),
    ];
    for (label, version, want) in cases {
        let ph = signed(&id, hb_by_hand(label, version, &hb));
        assert_eq!(ph.len(), PUBLIC_HEARTBEAT_LEN);
        assert_eq!(Heartbeat::decode(&ph).unwrap_err(), want, "{label} v{version}");
        assert_eq!(Heartbeat::verify(&ph, &pk).unwrap_err(), Error::Decode(want));
    }
    // The separator byte must be zero.
    let mut ph = hb_by_hand("aman/v2/heartbeat", 2, &hb);
    ph[labels::HEARTBEAT.len()] = b'/';
    assert_eq!(Heartbeat::decode(&signed(&id, ph)).unwrap_err(), DecodeError::WrongLabel);
}

// ------------------------------------------------------------- mode proof

#[test]
fn mode_proof_every_byte_flip_is_rejected_without_a_verification() {
    let (id, n, d) = (key(), key(), key());
    let keys = [n.verifying_key(), d.verifying_key()];
    let ph = heartbeat().sign(&id);
    let proof = make_proof(&ph, &n, &transport()).unwrap();
    assert_eq!(verify_proof(&ph, &proof, &transport(), &keys), Ok(0));
    for i in 0..proof.len() {
        for bit in [0x01, 0x80] {
            let mut t = proof.clone();
            t[i] ^= bit;
            let (r, cost) = counted(|| verify_proof(&ph, &t, &transport(), &keys));
            assert_eq!(r, Err(Error::BadSignature), "flip {bit:#x} at {i}");
            assert_eq!(cost, 0, "flip at {i}: the box must not open");
        }
    }
    // The proof covers all of PH, sig_id included.
    for i in 0..ph.len() {
        let mut t = ph.clone();
        t[i] ^= 0x01;
        let (r, cost) = counted(|| verify_proof(&t, &proof, &transport(), &keys));
        assert_eq!((r, cost), (Err(Error::BadSignature), 0), "PH flip at {i}");
    }
}

#[test]
fn mode_proof_truncation_and_trailing_bytes() {
    let (id, n) = (key(), key());
    let keys = [n.verifying_key(), key().verifying_key()];
    let ph = heartbeat().sign(&id);
    let proof = make_proof(&ph, &n, &transport()).unwrap();
    for len in 0..proof.len() {
        let (r, cost) = counted(|| verify_proof(&ph, &proof[..len], &transport(), &keys));
        assert_eq!((r, cost), (Err(Error::BadSignature), 0), "len {len}");
    }
    for extra in [1, 64] {
        let mut longer = proof.clone();
        longer.resize(proof.len() + extra, 0);
        let (r, cost) = counted(|| verify_proof(&ph, &longer, &transport(), &keys));
        assert_eq!((r, cost), (Err(Error::BadSignature), 0));
    }
    // A box with one byte more or less inside, sealed correctly, is refused too.
    let sig = n.sign(&mode_proof_message(&ph));
    let mut aad = head("aman/v2/proof-box", 2);
    aad.extend_from_slice(&sha256(&ph));
    for inner_len in [95, 97] {
        let mut inner = n.verifying_key().0.to_vec();
        inner.extend_from_slice(&sig.0);
        inner.resize(inner_len, 0);
        let boxed = secretbox::seal(&TRANSPORT, &aad, &inner).unwrap();
        assert_eq!(verify_proof(&ph, &boxed, &transport(), &keys), Err(Error::BadSignature));
    }
}

#[test]
fn verify_proof_costs_one_verification_once_the_box_opens_and_none_before() {
    let (id, n, d, stranger) = (key(), key(), key(), key());
    let (npk, dpk) = (n.verifying_key(), d.verifying_key());
    let keys = [npk, dpk];
    let ph = heartbeat().sign(&id);
    let other_ph = Heartbeat { counter: 43, ..heartbeat() }.sign(&id);
    let t = transport();

    // Accepted, normal and duress: one verification each.
    for (signer, want) in [(&n, 0), (&d, 1)] {
        let proof = make_proof(&ph, signer, &t).unwrap();
        assert_eq!(counted(|| verify_proof(&ph, &proof, &t, &keys)), (Ok(want), 1));
    }
    // During a rotation overlap: four keys, still one verification.
    let (n2, d2) = (key(), key());
    let four = [npk, dpk, n2.verifying_key(), d2.verifying_key()];
    for (signer, want) in [(&n, 0), (&d, 1), (&n2, 2), (&d2, 3)] {
        let proof = make_proof(&ph, signer, &t).unwrap();
        assert_eq!(counted(|| verify_proof(&ph, &proof, &t, &four)), (Ok(want), 1));
    }

    let rejected_after_one = [
        ("stranger's key", make_proof(&ph, &stranger, &t).unwrap()),
        ("normal key named, duress key signed", proof_by_hand(&ph, &npk, &d.sign(&mode_proof_message(&ph)))),
        ("duress key named, normal key signed", proof_by_hand(&ph, &dpk, &n.sign(&mode_proof_message(&ph)))),
        ("sig_ck over another PH", proof_by_hand(&ph, &npk, &n.sign(&mode_proof_message(&other_ph)))),
        ("sig_ck over PH without its label", proof_by_hand(&ph, &npk, &n.sign(&ph))),
        ("sig_ck of zeros", proof_by_hand(&ph, &npk, &Signature([0; 64]))),
        ("identity key named, sig_id inside", proof_by_hand(&ph, &id.verifying_key(), &sig_of(&ph))),
    ];
    for (what, proof) in rejected_after_one {
        assert_eq!(proof.len(), PROOF_LEN, "{what}");
        assert_eq!(counted(|| verify_proof(&ph, &proof, &t, &keys)), (Err(Error::BadSignature), 1), "{what}");
    }

    // The box does not open: no verification at all.
    let proof = make_proof(&ph, &n, &t).unwrap();
    let wrong_ktr = ProofKey::from_bytes(Zeroizing::new([0x78; 32]));
    assert_eq!(counted(|| verify_proof(&ph, &proof, &wrong_ktr, &keys)), (Err(Error::BadSignature), 0));
    assert_eq!(counted(|| verify_proof(&other_ph, &proof, &t, &keys)), (Err(Error::BadSignature), 0));
    // Same hb with another sig_id (an on-path swap): the proof does not move.
    let mut swapped = ph[..HEARTBEAT_LEN].to_vec();
    swapped.extend_from_slice(&[0x42; 64]);
    assert_eq!(counted(|| verify_proof(&swapped, &proof, &t, &keys)), (Err(Error::BadSignature), 0));
    // No keys: refused before anything.
    assert_eq!(counted(|| verify_proof(&ph, &proof, &t, &[])), (Err(Error::BadSignature), 0));
}

#[test]
fn sizes_do_not_depend_on_the_check_in_key() {
    let (id, n, d) = (key(), key(), key());
    let t = transport();
    assert_eq!((HEARTBEAT_LEN, PUBLIC_HEARTBEAT_LEN, PROOF_LEN), (115, 179, 136));
    let extremes = [
        heartbeat(),
        Heartbeat { counter: 0, client_time: 0, next_due: 0, grace: 0, ..heartbeat() },
        Heartbeat { counter: u64::MAX, client_time: u64::MAX, next_due: u64::MAX, grace: u64::MAX, ..heartbeat() },
    ];
    let mut lengths = Vec::new();
    for hb in extremes {
        let ph = hb.sign(&id);
        assert_eq!(ph.len(), 179);
        let pn = make_proof(&ph, &n, &t).unwrap();
        let pd = make_proof(&ph, &d, &t).unwrap();
        assert_eq!((pn.len(), pd.len()), (136, 136));
        let body =
            |proof: &[u8]| serde_json::json!({"heartbeat": b64_encode(&ph), "proof": b64_encode(proof)}).to_string();
        let (bn, bd) = (body(&pn), body(&pd));
        assert_eq!(bn.len(), bd.len());
        assert!(bn.starts_with("{\"heartbeat\":\""), "{bn}");
        lengths.push(bn.len());
    }
    assert!(lengths.windows(2).all(|w| w[0] == w[1]), "{lengths:?}");
}

// ---------------------------------------------------- domain separation

/// A sealed alert for one recipient, by hand from the v1 layout, so a test
/// can put any signature inside: `(header, payload key)` first, since the
/// signature covers SHA-256 of the header.
fn alert_header(recipient: &EncryptionPublic) -> (Vec<u8>, [u8; 32]) {
    let payload_key = [0x32; 32];
    let eph = EncryptionSecret::from_bytes(Zeroizing::new([0x33; 32]));
    let shared = eph.diffie_hellman(recipient).unwrap();
    let mut salt = eph.public().0.to_vec();
    salt.extend_from_slice(recipient.as_bytes());
    let wrap = hkdf_sha256::<32>(&salt, shared.as_ref(), labels::X25519_WRAP.as_bytes());
    let wrapped = XChaCha20Poly1305::new(wrap.as_ref().into())
        .encrypt(&XNonce::default(), Payload { msg: &payload_key, aad: labels::X25519_WRAP.as_bytes() })
        .unwrap();
    let header = Writer::new(labels::ALERT).fixed(&[0x31; 24]).u64(1).fixed(eph.public().as_bytes()).fixed(&wrapped);
    (header.finish(), payload_key)
}

fn alert_body_bytes(body: &AlertBody) -> Vec<u8> {
    Writer::new(labels::ALERT_BODY)
        .fixed(body.account.as_bytes())
        .u64(body.sequence)
        .u64(body.created)
        .var(body.note.as_bytes())
        .var(body.location.as_bytes())
        .finish()
}

fn alert_signature_message(header: &[u8], body: &[u8]) -> Vec<u8> {
    Writer::new(labels::ALERT_SIGNATURE).fixed(&sha256(header)).var(body).finish()
}

fn alert_sealed(header: &[u8], payload_key: &[u8; 32], body: &[u8], sig: &Signature) -> Vec<u8> {
    let mut plaintext = (body.len() as u32).to_be_bytes().to_vec();
    plaintext.extend_from_slice(body);
    plaintext.extend_from_slice(&sig.0);
    plaintext.resize(1024, 0);
    let ct = XChaCha20Poly1305::new(payload_key.into())
        .encrypt(XNonce::from_slice(&[0x31; 24]), Payload { msg: &plaintext, aad: header })
        .unwrap();
    let mut out = header.to_vec();
    out.extend_from_slice(&ct);
    out
}

#[test]
fn signatures_of_one_key_never_verify_as_another_format() {
    // One key makes every signature, so only the signed message differs.
    let k = key();
    let pk = k.verifying_key();
    let other = key().verifying_key();
    let t = transport();
    let ph = heartbeat().sign(&k);
    let hb = ph[..HEARTBEAT_LEN].to_vec();
    let mode_proof = mode_proof_message(&ph);
    let request = RequestAuth {
        server: server().id(),
        method: "POST".into(),
        path: "/v2/account/keys".into(),
        body_sha256: sha256(b"{}"),
        caller: *account().as_bytes(),
        time: 1_800_000_000,
        nonce: [0x22; 16],
    };
    let contact = EncryptionSecret::from_bytes(Zeroizing::new([0x44; 32]));
    let body = AlertBody {
        contacts: Vec::new(),
        plan: String::new(),
        account: account(),
        sequence: 1,
        created: 1_800_000_000,
        note: "note".into(),
        location: "here".into(),
    };
    let body_bytes = alert_body_bytes(&body);
    let (header, payload_key) = alert_header(&contact.public());

    let sigs = [
        ("sig_id over hb", sig_of(&ph)),
        ("sig_ck over the mode-proof message", k.sign(&mode_proof)),
        ("request signature", k.sign(&request.encode())),
        ("alert signature", k.sign(&alert_signature_message(&header, &body_bytes))),
    ];
    type Accepts<'a> = Box<dyn Fn(&Signature) -> bool + 'a>;
    let accepts: [(&str, Accepts); 4] = [
        (
            "heartbeat",
            Box::new(|s| {
                let mut candidate = hb.clone();
                candidate.extend_from_slice(&s.0);
                Heartbeat::verify(&candidate, &pk).is_ok()
            }),
        ),
        ("mode proof", Box::new(|s| verify_proof(&ph, &proof_by_hand(&ph, &pk, s), &t, &[other, pk]).is_ok())),
        (
            "request",
            Box::new(|s| {
                let mut headers = request.sign(&k);
                headers.signature = b64_encode(&s.0);
                let (auth, sig) =
                    RequestAuth::from_headers(server().id(), "POST", "/v2/account/keys", b"{}", &headers).unwrap();
                auth.verify(&pk, &sig).is_ok()
            }),
        ),
        (
            "sealed alert",
            Box::new(|s| match open_alert(&alert_sealed(&header, &payload_key, &body_bytes, s), &contact, &pk) {
                Ok(opened) => opened == body,
                Err(e) => {
                    assert_eq!(e, Error::BadSignature, "the hand-built alert must open and fail on its signature");
                    false
                }
            }),
        ),
    ];
    for (i, (format, accept)) in accepts.iter().enumerate() {
        for (j, (what, sig)) in sigs.iter().enumerate() {
            assert_eq!(accept(sig), i == j, "{what} presented as a {format} signature");
        }
    }

    // Nor does any format's signed bytes parse as another's.
    let rotation = KeyRotation::build(
        server().id(),
        account(),
        1,
        1_800_000_000,
        [(&key(), &key().verifying_key()), (&key(), &key().verifying_key())],
    )
    .sign(&k)
    .unwrap();
    let all: [(&str, Vec<u8>); 5] = [
        ("PH", ph.clone()),
        ("mode proof", signed(&k, mode_proof)),
        ("request", signed(&k, request.encode())),
        ("alert signature", signed(&k, alert_signature_message(&header, &body_bytes))),
        ("rotation", rotation),
    ];
    let s = server();
    for (what, bytes) in &all {
        if *what != "PH" {
            assert!(Heartbeat::decode(bytes).is_err(), "{what} as PH");
        }
        if *what != "rotation" {
            assert!(KeyRotation::verify(bytes, &pk).is_err(), "{what} as rotation");
        }
        let sealed = seal_to_server(&s.public(), labels::REGISTER.as_bytes(), bytes).unwrap();
        assert!(Registration::open(&s, &sealed).is_err(), "{what} as registration");
        // A request encoding is what precedes its signature.
        let unsigned = &bytes[..bytes.len() - 64];
        if *what != "request" {
            assert!(RequestAuth::decode(unsigned).is_err(), "{what} as request");
        } else {
            assert_eq!(RequestAuth::decode(unsigned).unwrap(), request);
        }
    }
}

// ----------------------------------------------------------- registration

#[allow(clippy::too_many_arguments)]
fn registration_by_hand(
    label: &str,
    version: u8,
    server: ServerId,
    ids: [&VerifyingKey; 3],
    ktr: [u8; 32],
    created: u64,
    signer: &SigningKey,
) -> Vec<u8> {
    let mut out = head(label, version);
    out.extend_from_slice(server.as_bytes());
    out.extend_from_slice(account().as_bytes());
    for k in ids {
        out.extend_from_slice(k.as_bytes());
    }
    out.extend_from_slice(&ktr);
    out.extend_from_slice(&created.to_be_bytes());
    signed(signer, out)
}

#[test]
fn registration_by_hand_opens_and_strict_parsing_refuses_the_rest() {
    let s = server();
    let elsewhere = ServerIdentity::derive(&ServerKey::from_bytes(Zeroizing::new([0x98; 32])));
    let (id, n, d) = (key(), key(), key());
    let (ipk, npk, dpk) = (id.verifying_key(), n.verifying_key(), d.verifying_key());
    let seal = |bytes: &[u8]| seal_to_server(&s.public(), labels::REGISTER.as_bytes(), bytes).unwrap();

    let good = registration_by_hand("aman/v2/register", 2, s.id(), [&ipk, &npk, &dpk], [0x55; 32], 7, &id);
    assert_eq!(good.len(), REGISTRATION_LEN);
    assert_eq!(seal(&good).len(), SEALED_REGISTRATION_LEN);
    let back = Registration::open(&s, &seal(&good)).unwrap();
    assert_eq!(
        (back.server, back.account, back.identity, back.normal, back.duress),
        (s.id(), account(), ipk, npk, dpk)
    );
    assert_eq!((*back.transport.to_bytes(), back.created), ([0x55; 32], 7));
    // The crate's own registration is the same bytes inside the seal.
    let reg = Registration {
        server: s.id(),
        account: account(),
        identity: ipk,
        normal: npk,
        duress: dpk,
        transport: ProofKey::from_bytes(Zeroizing::new([0x55; 32])),
        created: 7,
    };
    let theirs = reg.seal(&id, &s.public()).unwrap();
    assert_eq!(theirs.len(), SEALED_REGISTRATION_LEN);
    assert!(Registration::open(&s, &theirs).is_ok());

    let bad: Vec<(&str, Vec<u8>, Option<Error>)> = vec![
        (
            "v1 version byte",
            registration_by_hand("aman/v2/register", VERSION, s.id(), [&ipk, &npk, &dpk], [0x55; 32], 7, &id),
            Some(Error::Decode(DecodeError::UnknownVersion(1))),
        ),
        (
            "v1 label",
            registration_by_hand("aman/v1/register", 2, s.id(), [&ipk, &npk, &dpk], [0x55; 32], 7, &id),
            Some(Error::Decode(DecodeError::WrongLabel)),
        ),
        (
            "another server",
            registration_by_hand("aman/v2/register", 2, elsewhere.id(), [&ipk, &npk, &dpk], [0x55; 32], 7, &id),
            Some(Error::Decode(DecodeError::InvalidValue)),
        ),
        (
            "normal = duress",
            registration_by_hand("aman/v2/register", 2, s.id(), [&ipk, &npk, &npk], [0x55; 32], 7, &id),
            Some(Error::Decode(DecodeError::InvalidValue)),
        ),
        (
            "identity = normal",
            registration_by_hand("aman/v2/register", 2, s.id(), [&ipk, &ipk, &dpk], [0x55; 32], 7, &id),
            Some(Error::Decode(DecodeError::InvalidValue)),
        ),
        (
            "identity = duress",
            registration_by_hand("aman/v2/register", 2, s.id(), [&ipk, &npk, &ipk], [0x55; 32], 7, &id),
            Some(Error::Decode(DecodeError::InvalidValue)),
        ),
        (
            "signed by the normal key",
            registration_by_hand("aman/v2/register", 2, s.id(), [&ipk, &npk, &dpk], [0x55; 32], 7, &n),
            Some(Error::BadSignature),
        ),
        ("truncated", good[..good.len() - 1].to_vec(), None),
        ("trailing byte", [good.clone(), vec![0]].concat(), Some(Error::Decode(DecodeError::TrailingBytes))),
        ("empty", Vec::new(), None),
    ];
    for (what, bytes, want) in bad {
        let r = Registration::open(&s, &seal(&bytes));
        assert!(r.is_err(), "{what}");
        if let Some(want) = want {
            assert_eq!(r.err(), Some(want), "{what}");
        }
    }
    for len in 0..good.len() {
        assert!(Registration::open(&s, &seal(&good[..len])).is_err(), "truncated to {len}");
    }
    // Sealed under another context, or to another server.
    let rotation_ctx = seal_to_server(&s.public(), labels::KEY_ROTATION.as_bytes(), &good).unwrap();
    assert_eq!(Registration::open(&s, &rotation_ctx).err(), Some(Error::DecryptionFailed));
    assert_eq!(Registration::open(&elsewhere, &seal(&good)).err(), Some(Error::DecryptionFailed));
    let sealed = seal(&good);
    for i in 0..sealed.len() {
        let mut t = sealed.clone();
        t[i] ^= 0x80;
        assert!(Registration::open(&s, &t).is_err(), "sealed flip at {i}");
    }
}

// ----------------------------------------------------------- key rotation

fn succession_by_hand(
    server: ServerId,
    generation: u64,
    signer: &SigningKey,
    old: &VerifyingKey,
    new: &VerifyingKey,
) -> Signature {
    let mut m = head("aman/v2/key-succession", 2);
    m.extend_from_slice(server.as_bytes());
    m.extend_from_slice(account().as_bytes());
    m.extend_from_slice(&generation.to_be_bytes());
    m.extend_from_slice(old.as_bytes());
    m.extend_from_slice(new.as_bytes());
    signer.sign(&m)
}

/// A rotation encoded and signed by hand, with the pairs in exactly the
/// order given and no checks, as a buggy or hostile client might.
fn rotation_by_hand(version: u8, server: ServerId, generation: u64, pairs: &[Succession], id: &SigningKey) -> Vec<u8> {
    let mut out = head("aman/v2/key-rotation", version);
    out.extend_from_slice(server.as_bytes());
    out.extend_from_slice(account().as_bytes());
    out.extend_from_slice(&generation.to_be_bytes());
    out.extend_from_slice(&1_800_086_400u64.to_be_bytes());
    for s in pairs {
        out.extend_from_slice(s.old.as_bytes());
        out.extend_from_slice(s.new.as_bytes());
        out.extend_from_slice(&s.signature.0);
    }
    signed(id, out)
}

struct Slots {
    id: SigningKey,
    old: [SigningKey; 2],
    new: [SigningKey; 2],
}

/// Fresh keys, with `new[0] < new[1]` so pairs given as (0, 1) are in order.
fn slots() -> Slots {
    let (a, b) = (key(), key());
    let new = if a.verifying_key().0 < b.verifying_key().0 { [a, b] } else { [b, a] };
    Slots { id: key(), old: [key(), key()], new }
}

fn succession(server: ServerId, old: &SigningKey, new: &VerifyingKey) -> Succession {
    Succession {
        old: old.verifying_key(),
        new: *new,
        signature: succession_by_hand(server, 1, old, &old.verifying_key(), new),
    }
}

#[test]
fn key_rotation_by_hand_matches_and_every_damage_is_refused() {
    let k = slots();
    let sid = server().id();
    let ipk = k.id.verifying_key();
    let pairs =
        [succession(sid, &k.old[0], &k.new[0].verifying_key()), succession(sid, &k.old[1], &k.new[1].verifying_key())];
    let by_hand = rotation_by_hand(2, sid, 1, &pairs, &k.id);
    assert_eq!(by_hand.len(), ROTATION_LEN);
    let built = KeyRotation::build(
        sid,
        account(),
        1,
        1_800_086_400,
        [(&k.old[1], &k.new[1].verifying_key()), (&k.old[0], &k.new[0].verifying_key())],
    );
    assert_eq!(built.successions, pairs);
    assert_eq!(built.sign(&k.id).unwrap(), by_hand);
    assert_eq!(KeyRotation::verify(&by_hand, &ipk).unwrap(), built);

    for len in 0..by_hand.len() {
        assert!(KeyRotation::verify(&by_hand[..len], &ipk).is_err(), "truncated to {len}");
    }
    for i in 0..by_hand.len() {
        let mut t = by_hand.clone();
        t[i] ^= 0x80;
        assert!(KeyRotation::verify(&t, &ipk).is_err(), "flip at {i}");
    }
    let mut longer = by_hand.clone();
    longer.push(0);
    assert_eq!(KeyRotation::verify(&longer, &ipk).unwrap_err(), Error::Decode(DecodeError::TrailingBytes));
    assert_eq!(
        KeyRotation::verify(&rotation_by_hand(VERSION, sid, 1, &pairs, &k.id), &ipk).unwrap_err(),
        Error::Decode(DecodeError::UnknownVersion(1))
    );
    // Pairs in descending order of the new key.
    assert_eq!(
        KeyRotation::verify(&rotation_by_hand(2, sid, 1, &[pairs[1], pairs[0]], &k.id), &ipk).unwrap_err(),
        Error::Decode(DecodeError::InvalidValue)
    );
    // Signed by another identity.
    assert_eq!(
        KeyRotation::verify(&rotation_by_hand(2, sid, 1, &pairs, &k.old[0]), &ipk).unwrap_err(),
        Error::BadSignature
    );

    let n0 = k.new[0].verifying_key();
    let n1 = k.new[1].verifying_key();
    let stranger = key();
    let forged: [(&str, [Succession; 2]); 6] = [
        (
            "a stranger signs the succession",
            [
                Succession {
                    signature: succession_by_hand(sid, 1, &stranger, &k.old[0].verifying_key(), &n0),
                    ..pairs[0]
                },
                pairs[1],
            ],
        ),
        (
            "the other old key signs the succession",
            [
                Succession {
                    signature: succession_by_hand(sid, 1, &k.old[1], &k.old[0].verifying_key(), &n0),
                    ..pairs[0]
                },
                pairs[1],
            ],
        ),
        (
            "succession for another generation",
            [
                Succession {
                    signature: succession_by_hand(sid, 2, &k.old[0], &k.old[0].verifying_key(), &n0),
                    ..pairs[0]
                },
                pairs[1],
            ],
        ),
        (
            "succession for another server",
            [
                Succession {
                    signature: succession_by_hand(
                        ServerId::from_bytes([1; 16]),
                        1,
                        &k.old[0],
                        &k.old[0].verifying_key(),
                        &n0,
                    ),
                    ..pairs[0]
                },
                pairs[1],
            ],
        ),
        (
            "succession naming another successor",
            [
                Succession {
                    signature: succession_by_hand(sid, 1, &k.old[0], &k.old[0].verifying_key(), &n1),
                    ..pairs[0]
                },
                pairs[1],
            ],
        ),
        (
            "signatures swapped between the pairs",
            [
                Succession { signature: pairs[1].signature, ..pairs[0] },
                Succession { signature: pairs[0].signature, ..pairs[1] },
            ],
        ),
    ];
    for (what, forged) in forged {
        assert_eq!(
            KeyRotation::verify(&rotation_by_hand(2, sid, 1, &forged, &k.id), &ipk).unwrap_err(),
            Error::BadSignature,
            "{what}"
        );
    }
}

#[test]
fn key_rotation_with_any_two_keys_equal_is_refused() {
    let k = slots();
    let sid = server().id();
    let i = k.id.verifying_key();
    let (o0, o1) = (k.old[0].verifying_key(), k.old[1].verifying_key());
    let (n0, n1) = (k.new[0].verifying_key(), k.new[1].verifying_key());
    // Every way two of the five keys can coincide (identity, old 0, new 0, old 1, new 1).
    let cases: [(VerifyingKey, [(VerifyingKey, VerifyingKey); 2]); 10] = [
        (o0, [(o0, n0), (o1, n1)]),
        (n0, [(o0, n0), (o1, n1)]),
        (o1, [(o0, n0), (o1, n1)]),
        (n1, [(o0, n0), (o1, n1)]),
        (i, [(o0, n0), (o0, n1)]),
        (i, [(o0, o0), (o1, n1)]),
        (i, [(o0, o1), (o1, n1)]),
        (i, [(o0, n0), (o1, n0)]),
        (i, [(o0, n0), (o1, o0)]),
        (i, [(o0, n0), (o1, o1)]),
    ];
    let signer_of = |pk: &VerifyingKey| {
        [&k.old[0], &k.old[1], &k.new[0], &k.new[1], &k.id].into_iter().find(|s| s.verifying_key() == *pk).unwrap()
    };
    for (case, (identity, pairs)) in cases.into_iter().enumerate() {
        let mut successions = pairs.map(|(old, new)| Succession {
            old,
            new,
            signature: succession_by_hand(sid, 1, signer_of(&old), &old, &new),
        });
        successions.sort_by_key(|s| s.new.0);
        // Signed with the real identity key, and every succession by its old
        // key: the keys, not a signature, are what is wrong.
        let bytes = rotation_by_hand(2, sid, 1, &successions, &k.id);
        assert_eq!(
            KeyRotation::verify(&bytes, &identity).unwrap_err(),
            Error::Decode(DecodeError::InvalidValue),
            "case {case}"
        );
        // The crate refuses to sign such a rotation.
        if identity == i {
            let r = KeyRotation { server: sid, account: account(), generation: 1, created: 1_800_086_400, successions };
            assert!(matches!(r.sign(&k.id), Err(Error::InvalidArgument(_))), "case {case}");
        }
    }
}
