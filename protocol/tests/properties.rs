//! Property tests and tampering: round trips for arbitrary values of every
//! format, and sealed alerts rejected after every kind of damage (single-byte
//! flips, truncation, trailing bytes, wrong recipient, swapped header,
//! low-order points). The check-in v2 formats' damage, strictness, domain
//! separation and verification counts are in `checkin_v2.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aman_protocol::alert::{open, seal, validate_sealed, AlertBody, MAX_LOCATION_LEN, MAX_NOTE_LEN};
use aman_protocol::at_rest::ServerKey;
use aman_protocol::heartbeat::{make_proof, verify_proof, PROOF_LEN, PUBLIC_HEARTBEAT_LEN};
use aman_protocol::registration::SEALED_REGISTRATION_LEN;
use aman_protocol::rotation::ROTATION_LEN;
use aman_protocol::server::SEAL_OVERHEAD;
use aman_protocol::{
    seal_to_server, AccountId, EncryptionPublic, EncryptionSecret, Enrollment, Error, Heartbeat, InviteCode,
    KeyRotation, MailboxId, ProofKey, Registration, RequestAuth, ServerId, ServerIdentity, SigningKey,
};
use proptest::prelude::*;
use zeroize::Zeroizing;

fn key() -> SigningKey {
    SigningKey::generate().unwrap()
}

fn server_from(file: [u8; 32]) -> ServerIdentity {
    ServerIdentity::derive(&ServerKey::from_bytes(Zeroizing::new(file)))
}

fn body(note: &str) -> AlertBody {
    AlertBody {
        contacts: Vec::new(),
        plan: String::new(),
        account: AccountId::from_bytes([1; 16]),
        sequence: 1,
        created: 1_800_000_000,
        note: note.into(),
        location: "Tahrir Square".into(),
    }
}

#[test]
fn sealed_alert_for_three_every_single_byte_flip_fails_for_all() {
    let id = SigningKey::generate().unwrap();
    let contacts: Vec<_> = (0..3).map(|_| EncryptionSecret::generate().unwrap()).collect();
    let publics: Vec<_> = contacts.iter().map(EncryptionSecret::public).collect();
    let sealed = seal(&body("note"), &id, &publics).unwrap();
    for c in &contacts {
        open(&sealed, c, &id.verifying_key()).unwrap();
    }
    for i in 0..sealed.len() {
        let mut t = sealed.clone();
        t[i] ^= 0x01;
        for c in &contacts {
            assert!(open(&t, c, &id.verifying_key()).is_err(), "byte {i} flipped still opens");
        }
    }
}

#[test]
fn sealed_alert_truncation_trailing_and_swapped_header() {
    let id = SigningKey::generate().unwrap();
    let c = EncryptionSecret::generate().unwrap();
    let a = seal(&body("a"), &id, &[c.public()]).unwrap();
    let b = seal(&body("b"), &id, &[c.public()]).unwrap();
    for len in [0, 1, 15, 16, 40, 120, a.len() / 2, a.len() - 16, a.len() - 1] {
        assert_eq!(open(&a[..len], &c, &id.verifying_key()).unwrap_err(), Error::DecryptionFailed, "len {len}");
        assert!(validate_sealed(&a[..len]).is_err());
    }
    let mut longer = a.clone();
    longer.push(0);
    assert_eq!(open(&longer, &c, &id.verifying_key()).unwrap_err(), Error::DecryptionFailed);
    assert!(validate_sealed(&longer).is_err());
    // Header of b (which opens for c) with the ciphertext of a: the AAD no longer matches.
    let header_len = a.len() - (1024 + 16);
    let mut swapped = b[..header_len].to_vec();
    swapped.extend_from_slice(&a[header_len..]);
    assert_eq!(open(&swapped, &c, &id.verifying_key()).unwrap_err(), Error::DecryptionFailed);
}

#[test]
fn sealed_alert_wrong_recipient_and_low_order_stanza() {
    let id = SigningKey::generate().unwrap();
    let c = EncryptionSecret::generate().unwrap();
    let stranger = EncryptionSecret::generate().unwrap();
    let sealed = seal(&body("x"), &id, &[c.public()]).unwrap();
    assert_eq!(open(&sealed, &stranger, &id.verifying_key()).unwrap_err(), Error::DecryptionFailed);
    // Replace the stanza's ephemeral key with a low-order point: nobody can open it.
    let eph_at = "aman/v1/alert".len() + 2 + 24 + 8;
    let mut low = sealed.clone();
    low[eph_at..eph_at + 32].copy_from_slice(&[0; 32]);
    assert_eq!(open(&low, &c, &id.verifying_key()).unwrap_err(), Error::DecryptionFailed);
    assert_eq!(seal(&body("x"), &id, &[EncryptionPublic([0; 32])]).unwrap_err(), Error::NonContributory);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn heartbeat_sign_verify_decode_round_trip(
        server: [u8; 16],
        acct: [u8; 16],
        counter: u64,
        client_time: u64,
        next_due: u64,
        grace: u64,
        hash: [u8; 32],
        duress: bool,
    ) {
        let (id, n, d, stranger) = (key(), key(), key(), key());
        let hb = Heartbeat {
            server: ServerId::from_bytes(server),
            account: AccountId::from_bytes(acct),
            counter,
            client_time,
            next_due,
            grace,
            sealed_hash: hash,
        };
        let ph = hb.sign(&id);
        prop_assert_eq!(ph.len(), PUBLIC_HEARTBEAT_LEN);
        prop_assert_eq!(&Heartbeat::decode(&ph).unwrap(), &hb);
        prop_assert_eq!(&Heartbeat::verify(&ph, &id.verifying_key()).unwrap(), &hb);
        prop_assert_eq!(Heartbeat::verify(&ph, &stranger.verifying_key()).unwrap_err(), Error::BadSignature);
        // The mode proof for either key opens and names the key that signed.
        let transport = ProofKey::generate().unwrap();
        let keys = [n.verifying_key(), d.verifying_key()];
        let (signer, index) = if duress { (&d, 1) } else { (&n, 0) };
        let proof = make_proof(&ph, signer, &transport).unwrap();
        prop_assert_eq!(proof.len(), PROOF_LEN);
        prop_assert_eq!(verify_proof(&ph, &proof, &transport, &keys), Ok(index));
    }

    #[test]
    fn registration_seal_open_round_trip(file: [u8; 32], acct: [u8; 16], transport: [u8; 32], created: u64) {
        let server = server_from(file);
        let (id, n, d) = (key(), key(), key());
        let reg = Registration {
            server: server.id(),
            account: AccountId::from_bytes(acct),
            identity: id.verifying_key(),
            normal: n.verifying_key(),
            duress: d.verifying_key(),
            transport: ProofKey::from_bytes(Zeroizing::new(transport)),
            created,
        };
        let sealed = reg.seal(&id, &server.public()).unwrap();
        prop_assert_eq!(sealed.len(), SEALED_REGISTRATION_LEN);
        let back = Registration::open(&server, &sealed).unwrap();
        prop_assert_eq!(
            (back.server, back.account, back.identity, back.normal, back.duress, back.created),
            (reg.server, reg.account, reg.identity, reg.normal, reg.duress, reg.created)
        );
        prop_assert_eq!(*back.transport.to_bytes(), transport);
        // Sealed to this server only, and signed by the identity only.
        let elsewhere = server_from(file.map(|b| b ^ 1));
        prop_assert!(Registration::open(&elsewhere, &sealed).is_err());
        prop_assert!(reg.seal(&n, &server.public()).is_err());
    }

    #[test]
    fn key_rotation_build_sign_verify_in_either_order(
        server: [u8; 16],
        acct: [u8; 16],
        generation: u64,
        created: u64,
    ) {
        let (id, old_a, old_b, new_a, new_b) = (key(), key(), key(), key(), key());
        let (server, account) = (ServerId::from_bytes(server), AccountId::from_bytes(acct));
        let (na, nb) = (new_a.verifying_key(), new_b.verifying_key());
        let r = KeyRotation::build(server, account, generation, created, [(&old_a, &na), (&old_b, &nb)]);
        let swapped = KeyRotation::build(server, account, generation, created, [(&old_b, &nb), (&old_a, &na)]);
        prop_assert_eq!(&swapped, &r);
        prop_assert!(r.successions[0].new.0 < r.successions[1].new.0);
        let signed = r.sign(&id).unwrap();
        prop_assert_eq!(signed.len(), ROTATION_LEN);
        prop_assert_eq!(&swapped.sign(&id).unwrap(), &signed);
        prop_assert_eq!(&KeyRotation::verify(&signed, &id.verifying_key()).unwrap(), &r);
        prop_assert_eq!(KeyRotation::verify(&signed, &key().verifying_key()).unwrap_err(), Error::BadSignature);
        // An old key named as the identity: refused for the repeat, before any signature.
        prop_assert!(KeyRotation::verify(&signed, &old_a.verifying_key()).is_err());
    }

    #[test]
    fn request_round_trip(
        server: [u8; 16],
        method in "[A-Z]{1,16}",
        path in "/[ -~]{0,200}",
        caller: [u8; 16],
        time: u64,
        body: Vec<u8>,
    ) {
        let key = key();
        let server = ServerId::from_bytes(server);
        let auth = RequestAuth::new(server, &method, &path, &body, caller, time).unwrap();
        let encoded = auth.encode();
        prop_assert_eq!(&RequestAuth::decode(&encoded).unwrap(), &auth);
        let mut longer = encoded.clone();
        longer.push(0);
        prop_assert!(RequestAuth::decode(&longer).is_err());
        prop_assert!(RequestAuth::decode(&encoded[..encoded.len() - 1]).is_err());
        let headers = auth.sign(&key);
        let (back, sig) = RequestAuth::from_headers(server, &method, &path, &body, &headers).unwrap();
        prop_assert_eq!(&back, &auth);
        prop_assert!(back.verify(&key.verifying_key(), &sig).is_ok());
        // Received by any other server, the same headers do not verify.
        let mut other = *server.as_bytes();
        other[0] ^= 1;
        let (there, sig) =
            RequestAuth::from_headers(ServerId::from_bytes(other), &method, &path, &body, &headers).unwrap();
        prop_assert_eq!(there.verify(&key.verifying_key(), &sig), Err(Error::BadSignature));
    }

    #[test]
    fn seal_to_server_round_trip(file: [u8; 32], context in proptest::collection::vec(any::<u8>(), 0..64), message in proptest::collection::vec(any::<u8>(), 0..600)) {
        let server = server_from(file);
        let sealed = seal_to_server(&server.public(), &context, &message).unwrap();
        prop_assert_eq!(sealed.len(), message.len() + SEAL_OVERHEAD);
        prop_assert_eq!(server.open(&context, &sealed).unwrap().to_vec(), message.clone());
        let mut other_context = context.clone();
        other_context.push(0);
        prop_assert_eq!(server.open(&other_context, &sealed).unwrap_err(), Error::DecryptionFailed);
        prop_assert_eq!(server_from(file.map(|b| b ^ 1)).open(&context, &sealed).unwrap_err(), Error::DecryptionFailed);
    }

    #[test]
    fn alert_round_trip(note in proptest::collection::vec(any::<char>(), 0..300), location in "\\PC{0,100}", seq: u64) {
        let note: String = note.into_iter().collect();
        prop_assume!(note.len() <= MAX_NOTE_LEN && location.len() <= MAX_LOCATION_LEN);
        let id = SigningKey::generate().unwrap();
        let c = EncryptionSecret::generate().unwrap();
        let b = AlertBody { contacts: Vec::new(), plan: String::new(), account: AccountId::from_bytes([3; 16]), sequence: seq, created: seq / 2, note, location };
        let sealed = seal(&b, &id, &[c.public()]).unwrap();
        prop_assert_eq!(open(&sealed, &c, &id.verifying_key()).unwrap(), b);
    }

    #[test]
    fn invite_and_enrollment_round_trip(url in "https://[a-z0-9.]{1,60}(:[0-9]{1,5})?") {
        let member = SigningKey::generate().unwrap();
        let invite = InviteCode::generate(member.verifying_key(), &url).unwrap();
        let parsed = InviteCode::parse(&invite.to_text()).unwrap();
        prop_assert_eq!(parsed.server_url.as_str(), url.as_str());
        let cid = SigningKey::generate().unwrap();
        let e = Enrollment { identity: cid.verifying_key(), encryption: EncryptionSecret::generate().unwrap().public(), mailbox: MailboxId::random().unwrap() };
        prop_assert_eq!(Enrollment::open(&e.seal(&parsed, &cid).unwrap(), &invite).unwrap(), e);
    }

    #[test]
    fn parsers_never_panic_on_garbage(bytes: Vec<u8>, text in "\\PC{0,200}") {
        let key = SigningKey::generate().unwrap().verifying_key();
        let c = EncryptionSecret::generate().unwrap();
        let server = server_from([5; 32]);
        let transport = ProofKey::from_bytes(Zeroizing::new([6; 32]));
        let _ = Heartbeat::decode(&bytes);
        let _ = Heartbeat::verify(&bytes, &key);
        let _ = verify_proof(&bytes, &bytes, &transport, &[key, key]);
        let _ = Registration::open(&server, &bytes);
        let _ = server.open(b"", &bytes);
        let _ = KeyRotation::verify(&bytes, &key);
        let _ = RequestAuth::decode(&bytes);
        let _ = validate_sealed(&bytes);
        let _ = open(&bytes, &c, &key);
        let _ = InviteCode::parse(&text);
        let _ = text.parse::<AccountId>();
    }
}
