//! Property tests and tampering: round trips for arbitrary values, and every
//! kind of damage (single-byte flips, truncation, trailing bytes, wrong
//! recipient, swapped header, stale counter, low-order points, out-of-order or
//! repeated keys) rejected.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aman_protocol::alert::{open, seal, validate_sealed, AlertBody, MAX_LOCATION_LEN, MAX_NOTE_LEN};
use aman_protocol::encoding::{labels, Writer};
use aman_protocol::{
    AccountId, Checkin, CheckinKind, DecodeError, EncryptionPublic, EncryptionSecret, Enrollment, Error, InviteCode,
    KeyRotation, MailboxId, RequestAuth, SigningKey, VerifyingKey,
};
use proptest::prelude::*;

fn body(note: &str) -> AlertBody {
    AlertBody {
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

#[test]
fn checkin_tampering_truncation_trailing_and_stale_counter() {
    let n = SigningKey::generate().unwrap();
    let d = SigningKey::generate().unwrap();
    let c = Checkin {
        account: AccountId::from_bytes([2; 16]),
        counter: 10,
        client_time: 5,
        next_due: 6,
        grace: 7,
        alert_hash: [8; 32],
    };
    let signed = c.sign(&d);
    let (nk, dk) = (n.verifying_key(), d.verifying_key());
    assert_eq!(Checkin::verify(&signed, &nk, &dk).unwrap().1, CheckinKind::Duress);
    for i in 0..signed.len() {
        let mut t = signed.clone();
        t[i] ^= 0x40;
        assert!(Checkin::verify(&t, &nk, &dk).is_err(), "flip at {i}");
    }
    for len in 0..signed.len() {
        assert!(Checkin::verify(&signed[..len], &nk, &dk).is_err());
    }
    let mut longer = signed.clone();
    longer.push(0);
    assert!(Checkin::verify(&longer, &nk, &dk).is_err());
    assert_eq!(c.check_counter(10), Err(Error::StaleCounter));
    assert_eq!(c.check_counter(11), Err(Error::StaleCounter));
}

/// A key rotation with fresh keys: `(identity, rotation)`.
fn rotation() -> (SigningKey, KeyRotation) {
    let id = SigningKey::generate().unwrap();
    let k = || SigningKey::generate().unwrap().verifying_key();
    let r = KeyRotation {
        account: AccountId::from_bytes([4; 16]),
        identity: id.verifying_key(),
        successors: [(k(), k()), (k(), k())],
        created: 1_800_000_000,
    };
    (id, r)
}

/// Encodes and signs a rotation by hand, with the pairs in exactly the order
/// given and no checks, as a buggy or hostile client might.
fn rotation_by_hand(id: &SigningKey, r: &KeyRotation) -> Vec<u8> {
    let [(o1, n1), (o2, n2)] = r.successors;
    let mut out = Writer::new(labels::KEY_ROTATION)
        .fixed(r.account.as_bytes())
        .fixed(r.identity.as_bytes())
        .fixed(o1.as_bytes())
        .fixed(n1.as_bytes())
        .fixed(o2.as_bytes())
        .fixed(n2.as_bytes())
        .u64(r.created)
        .finish();
    out.extend_from_slice(&id.sign(&out).0);
    out
}

/// `r` with its pairs in ascending order of the old key.
fn ascending(mut r: KeyRotation) -> KeyRotation {
    if r.successors[1].0.as_bytes() < r.successors[0].0.as_bytes() {
        r.successors.swap(0, 1);
    }
    r
}

#[test]
fn key_rotation_tampering_truncation_and_trailing() {
    let (id, r) = rotation();
    let signed = r.sign(&id).unwrap();
    assert_eq!(signed.len(), labels::KEY_ROTATION.len() + 2 + 16 + 5 * 32 + 8 + 64);
    assert_eq!(KeyRotation::verify(&signed).unwrap(), ascending(r.clone()));
    assert_eq!(rotation_by_hand(&id, &ascending(r)), signed);
    for i in 0..signed.len() {
        for bit in [0x01, 0x80] {
            let mut t = signed.clone();
            t[i] ^= bit;
            assert!(KeyRotation::verify(&t).is_err(), "flip {bit:#x} at {i}");
        }
    }
    for len in 0..signed.len() {
        assert!(KeyRotation::verify(&signed[..len]).is_err(), "truncated to {len}");
    }
    let mut longer = signed.clone();
    longer.push(0);
    assert!(KeyRotation::verify(&longer).is_err());
    // A key binding is not a rotation, even with a valid signature.
    let binding = aman_protocol::KeyBinding {
        account: AccountId::from_bytes([4; 16]),
        identity: id.verifying_key(),
        normal: SigningKey::generate().unwrap().verifying_key(),
        duress: SigningKey::generate().unwrap().verifying_key(),
        created: 1,
    };
    assert_eq!(KeyRotation::verify(&binding.sign(&id).unwrap()).unwrap_err(), Error::Decode(DecodeError::WrongLabel));
}

#[test]
fn key_rotation_pairs_in_descending_order_are_rejected() {
    let (id, r) = rotation();
    let asc = ascending(r);
    let desc = KeyRotation { successors: [asc.successors[1], asc.successors[0]], ..asc.clone() };
    assert_eq!(KeyRotation::verify(&rotation_by_hand(&id, &asc)).unwrap(), asc);
    assert_eq!(
        KeyRotation::verify(&rotation_by_hand(&id, &desc)).unwrap_err(),
        Error::Decode(DecodeError::InvalidValue)
    );
    // sign() never produces that order.
    assert_eq!(desc.sign(&id).unwrap(), asc.sign(&id).unwrap());
}

#[test]
fn key_rotation_equal_keys_are_rejected() {
    let (id, r) = rotation();
    let r = ascending(r);
    let [(o1, n1), (o2, n2)] = r.successors;
    let i = r.identity;
    // Every way two of the five keys can coincide; the ascending order of the
    // old keys is kept wherever it still can be.
    let cases: [(VerifyingKey, [(VerifyingKey, VerifyingKey); 2]); 10] = [
        (o1, [(o1, n1), (o2, n2)]),
        (n1, [(o1, n1), (o2, n2)]),
        (o2, [(o1, n1), (o2, n2)]),
        (n2, [(o1, n1), (o2, n2)]),
        (i, [(o1, n1), (o1, n2)]),
        (i, [(o1, o1), (o2, n2)]),
        (i, [(o1, o2), (o2, n2)]),
        (i, [(o1, n1), (o2, n1)]),
        (i, [(o1, n1), (o2, o1)]),
        (i, [(o1, n1), (o2, o2)]),
    ];
    for (n, (identity, successors)) in cases.into_iter().enumerate() {
        let bad = KeyRotation { identity, successors, ..r.clone() };
        // Signed with the real identity key: the keys, not the signature, are what is wrong.
        assert_eq!(
            KeyRotation::verify(&rotation_by_hand(&id, &bad)).unwrap_err(),
            Error::Decode(DecodeError::InvalidValue),
            "case {n}"
        );
        if identity == i {
            assert!(matches!(bad.sign(&id), Err(Error::InvalidArgument(_))), "case {n}");
        }
    }
}

#[test]
fn key_rotation_signed_by_another_identity_fails() {
    let (_, r) = rotation();
    let other = SigningKey::generate().unwrap();
    assert!(matches!(r.sign(&other), Err(Error::InvalidArgument(_))));
    // Claiming `id` but signed by `other`: the signature does not verify.
    assert_eq!(KeyRotation::verify(&rotation_by_hand(&other, &ascending(r.clone()))).unwrap_err(), Error::BadSignature);
    // Naming `other` as the identity and signed by it verifies, as `other`'s rotation.
    let theirs = KeyRotation { identity: other.verifying_key(), ..r };
    assert_eq!(KeyRotation::verify(&theirs.sign(&other).unwrap()).unwrap().identity, other.verifying_key());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn checkin_round_trip(counter: u64, client_time: u64, next_due: u64, grace: u64, hash: [u8; 32], acct: [u8; 16]) {
        let key = SigningKey::generate().unwrap();
        let other = SigningKey::generate().unwrap();
        let c = Checkin { account: AccountId::from_bytes(acct), counter, client_time, next_due, grace, alert_hash: hash };
        let signed = c.sign(&key);
        prop_assert_eq!(Checkin::decode(&signed).unwrap(), c.clone());
        prop_assert_eq!(Checkin::verify(&signed, &key.verifying_key(), &other.verifying_key()).unwrap(), (c, CheckinKind::Normal));
    }

    #[test]
    fn request_round_trip(method in "[A-Z]{1,16}", path in "/[ -~]{0,200}", caller: [u8; 16], time: u64, body: Vec<u8>) {
        let key = SigningKey::generate().unwrap();
        let auth = RequestAuth::new(&method, &path, &body, caller, time).unwrap();
        prop_assert_eq!(RequestAuth::decode(&auth.encode()).unwrap(), auth.clone());
        let headers = auth.sign(&key);
        let (back, sig) = RequestAuth::from_headers(&method, &path, &body, &headers).unwrap();
        prop_assert!(back.verify(&key.verifying_key(), &sig).is_ok());
    }

    #[test]
    fn alert_round_trip(note in proptest::collection::vec(any::<char>(), 0..300), location in "\\PC{0,100}", seq: u64) {
        let note: String = note.into_iter().collect();
        prop_assume!(note.len() <= MAX_NOTE_LEN && location.len() <= MAX_LOCATION_LEN);
        let id = SigningKey::generate().unwrap();
        let c = EncryptionSecret::generate().unwrap();
        let b = AlertBody { account: AccountId::from_bytes([3; 16]), sequence: seq, created: seq / 2, note, location };
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
    fn key_rotation_round_trip_in_either_order(acct: [u8; 16], created: u64) {
        let (id, r) = rotation();
        let r = KeyRotation { account: AccountId::from_bytes(acct), created, ..r };
        let swapped = KeyRotation { successors: [r.successors[1], r.successors[0]], ..r.clone() };
        let signed = r.sign(&id).unwrap();
        prop_assert_eq!(&swapped.sign(&id).unwrap(), &signed);
        prop_assert_eq!(KeyRotation::verify(&signed).unwrap(), ascending(r));
    }

    #[test]
    fn parsers_never_panic_on_garbage(bytes: Vec<u8>, text in "\\PC{0,200}") {
        let key = SigningKey::generate().unwrap().verifying_key();
        let c = EncryptionSecret::generate().unwrap();
        let _ = Checkin::verify(&bytes, &key, &key);
        let _ = RequestAuth::decode(&bytes);
        let _ = validate_sealed(&bytes);
        let _ = open(&bytes, &c, &key);
        let _ = aman_protocol::KeyBinding::verify(&bytes);
        let _ = KeyRotation::verify(&bytes);
        let _ = InviteCode::parse(&text);
        let _ = text.parse::<AccountId>();
    }
}
