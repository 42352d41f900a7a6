//! Frozen known-answer tests for Aman's own formats: fixed seeds and fixed
//! entropy in, fixed bytes out. If one of these fails, the wire format has
//! changed and old clients would break: bump the version instead.

use crate::alert::{open, seal_with, AlertBody};
use crate::checkin::{Checkin, CheckinKind};
use crate::hash::sha256;
use crate::ids::{AccountId, InviteId, MailboxId};
use crate::invite::{Enrollment, InviteCode};
use crate::keys::{EncryptionSecret, KeyBinding, KeyRotation, SigningKey};
use crate::request::RequestAuth;
use crate::safety::safety_number;
use crate::Error;
use zeroize::Zeroizing;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed(Zeroizing::new([seed; 32])).unwrap()
}

fn enc(seed: u8) -> EncryptionSecret {
    EncryptionSecret::from_bytes(Zeroizing::new([seed; 32]))
}

/// Deterministic "entropy": byte i of the stream is i mod 251.
fn counter_entropy() -> impl FnMut(&mut [u8]) -> Result<(), Error> {
    let mut next = 0u32;
    move |out: &mut [u8]| {
        for b in out.iter_mut() {
            *b = (next % 251) as u8;
            next += 1;
        }
        Ok(())
    }
}

fn hex(bytes: &[u8]) -> String {
    data_encoding::HEXLOWER.encode(bytes)
}

const KAT: &str = include_str!("../tests/data/known-answers.txt");

/// Looks up `name = value` in the frozen data file.
fn frozen(name: &str) -> String {
    KAT.lines()
        .filter_map(|l| l.split_once(" = "))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| panic!("no frozen value for {name}"))
}

fn check(name: &str, actual: &str) {
    if std::env::var_os("AMAN_PRINT_KAT").is_some() {
        println!("{name} = {actual}");
        return;
    }
    assert_eq!(actual, frozen(name), "format drift in {name}");
}

fn account() -> AccountId {
    AccountId::from_bytes([0x11; 16])
}

#[test]
fn kat_checkin() {
    let c = Checkin {
        account: account(),
        counter: 42,
        client_time: 1_800_000_000,
        next_due: 1_800_003_600,
        grace: 900,
        alert_hash: sha256(b"sealed"),
    };
    let signed = c.sign(&key(2));
    check("checkin.normal", &hex(&signed));
    check("checkin.duress", &hex(&c.sign(&key(3))));
    let (back, kind) = Checkin::verify(&signed, &key(2).verifying_key(), &key(3).verifying_key()).unwrap();
    assert_eq!((back, kind), (c, CheckinKind::Normal));
}

#[test]
fn kat_request() {
    let auth = RequestAuth {
        method: "POST".into(),
        path: "/v1/checkin".into(),
        body_sha256: sha256(b"{}"),
        caller: [0x11; 16],
        time: 1_800_000_000,
        nonce: [0x22; 16],
    };
    check("request.encoding", &hex(&auth.encode()));
    let h = auth.sign(&key(1));
    check("request.signature", &h.signature);
}

#[test]
fn kat_key_binding() {
    let b = KeyBinding {
        account: account(),
        identity: key(1).verifying_key(),
        normal: key(2).verifying_key(),
        duress: key(3).verifying_key(),
        created: 1_800_000_000,
    };
    let signed = b.sign(&key(1)).unwrap();
    check("binding.signed", &hex(&signed));
    assert_eq!(KeyBinding::verify(&signed).unwrap(), b);
}

#[test]
fn kat_key_rotation() {
    // key(2) and key(3) are the check-in keys of the binding above; key(2)'s
    // public key sorts first, so the pairs are given here in the other order.
    let r = KeyRotation {
        account: account(),
        identity: key(1).verifying_key(),
        successors: [
            (key(3).verifying_key(), key(5).verifying_key()),
            (key(2).verifying_key(), key(4).verifying_key()),
        ],
        created: 1_800_086_400,
    };
    let signed = r.sign(&key(1)).unwrap();
    check("rotation.signed", &hex(&signed));
    let canonical = KeyRotation { successors: [r.successors[1], r.successors[0]], ..r };
    assert_eq!(KeyRotation::verify(&signed).unwrap(), canonical);
}

#[test]
fn kat_contact_keys() {
    let master = key(6);
    let cx = EncryptionSecret::from_bytes(Zeroizing::new([0x77; 32]));
    let (cid, cx_m) = crate::derive::membership_keys(&master, &cx, &MailboxId::from_bytes([0x22; 16])).unwrap();
    check("contact_keys.cid", &hex(cid.verifying_key().as_bytes()));
    check("contact_keys.cx", &hex(&cx_m.public().0));
}

#[test]
fn kat_sealed_alert() {
    let body = AlertBody {
        account: account(),
        sequence: 7,
        created: 1_800_000_000,
        note: "If you read this: I went to meet K. at the bridge.".into(),
        location: "33.3152,44.3661".into(),
    };
    let recipients = [enc(4).public(), enc(5).public()];
    let sealed = seal_with(&body, &key(1), &recipients, &mut counter_entropy()).unwrap();
    check("alert.sealed.sha256", &hex(&sha256(&sealed)));
    check("alert.sealed.len", &sealed.len().to_string());
    check("alert.sealed.head", &hex(&sealed[..200]));
    // Frozen bytes must keep opening for both recipients.
    for r in [enc(4), enc(5)] {
        assert_eq!(open(&sealed, &r, &key(1).verifying_key()).unwrap(), body);
    }
}

#[test]
fn kat_invite_and_enrollment() {
    let invite = InviteCode::from_parts(
        InviteId::from_bytes([0x33; 16]),
        Zeroizing::new([0x44; 32]),
        key(1).verifying_key(),
        "https://aman.example.org",
    )
    .unwrap();
    check("invite.text", &invite.to_text());
    let e = Enrollment {
        identity: key(6).verifying_key(),
        encryption: enc(7).public(),
        mailbox: MailboxId::from_bytes([0x55; 16]),
    };
    let sealed = e.seal_with_nonce(&invite, &key(6), [0x66; 24]).unwrap();
    check("enrollment.sealed", &hex(&sealed));
    assert_eq!(Enrollment::open(&sealed, &invite).unwrap(), e);
}

#[test]
fn kat_safety_number() {
    let n = safety_number(&key(1).verifying_key(), &key(6).verifying_key(), &enc(7).public());
    check("safety.number", &n);
}
