//! Frozen known-answer tests for Aman's own formats: fixed seeds and fixed
//! entropy in, fixed bytes out. If one of these fails, the wire format has
//! changed and old clients would break: bump the version instead.

use crate::alert::{open, seal_with, AlertBody};
use crate::at_rest::ServerKey;
use crate::hash::sha256;
use crate::heartbeat::{make_proof_with_nonce, verify_proof, Heartbeat, ProofKey};
use crate::ids::{AccountId, InviteId, MailboxId};
use crate::invite::{Enrollment, InviteCode};
use crate::keys::{EncryptionSecret, SigningKey};
use crate::registration::Registration;
use crate::request::RequestAuth;
use crate::rotation::KeyRotation;
use crate::safety::safety_number;
use crate::server::{seal_to_server_with, ServerIdentity};
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

/// Looks up `name = value` in the frozen data file; a name it does not
/// hold fails the test (there is nothing to compare with).
fn frozen(name: &str) -> String {
    KAT.lines()
        .filter_map(|l| l.split_once(" = "))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_else(|| panic!("{name} is not in tests/data/known-answers.txt: freeze it first"))
}

/// Compares with the frozen value. `AMAN_PRINT_KAT` also prints the value
/// (to freeze a deliberate, versioned change), but never skips the check:
/// a test that printed instead of comparing would pass whatever the bytes.
fn check(name: &str, actual: &str) {
    if std::env::var_os("AMAN_PRINT_KAT").is_some() {
        println!("{name} = {actual}");
    }
    assert_eq!(actual, frozen(name), "format drift in {name}");
}

fn account() -> AccountId {
    AccountId::from_bytes([0x11; 16])
}

/// The server of the version-2 known answers: key file of 0x99 bytes.
fn server() -> ServerIdentity {
    ServerIdentity::derive(&ServerKey::from_bytes(Zeroizing::new([0x99; 32])))
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

#[test]
fn kat_server_identity() {
    let key = ServerKey::from_bytes(Zeroizing::new([0x99; 32]));
    check("server.x25519_secret", &hex(key.subkey(crate::encoding::labels::SERVER_X25519).as_ref()));
    check("server.public", &hex(server().public().as_bytes()));
    check("server.id", &server().id().to_string());
    let sealed = seal_to_server_with(enc(8), &server().public(), b"ctx", b"to the server").unwrap();
    check("server.sealed", &hex(&sealed));
    assert_eq!(server().open(b"ctx", &sealed).unwrap().as_slice(), b"to the server");
}

#[test]
fn kat_transport_key() {
    let k = crate::derive::transport_key(&key(1), &server().id());
    check("transport_key", &hex(k.to_bytes().as_ref()));
}

#[test]
fn kat_heartbeat_and_proof() {
    let ph = heartbeat().sign(&key(1));
    check("heartbeat.public", &hex(&ph));
    assert_eq!(Heartbeat::verify(&ph, &key(1).verifying_key()).unwrap(), heartbeat());
    let transport = ProofKey::from_bytes(Zeroizing::new([0x77; 32]));
    let normal = make_proof_with_nonce(&ph, &key(2), &transport, [0x66; 24]).unwrap();
    let duress = make_proof_with_nonce(&ph, &key(3), &transport, [0x66; 24]).unwrap();
    check("heartbeat.proof.normal", &hex(&normal));
    check("heartbeat.proof.duress", &hex(&duress));
    let keys = [key(2).verifying_key(), key(3).verifying_key()];
    assert_eq!(verify_proof(&ph, &normal, &transport, &keys), Ok(0));
    assert_eq!(verify_proof(&ph, &duress, &transport, &keys), Ok(1));
}

#[test]
fn kat_registration() {
    let reg = Registration {
        server: server().id(),
        account: account(),
        identity: key(1).verifying_key(),
        normal: key(2).verifying_key(),
        duress: key(3).verifying_key(),
        transport: ProofKey::from_bytes(Zeroizing::new([0x77; 32])),
        created: 1_800_000_000,
    };
    let signed = reg.sign(&key(1)).unwrap();
    check("registration.signed", &hex(&signed));
    let sealed =
        seal_to_server_with(enc(8), &server().public(), crate::encoding::labels::REGISTER.as_bytes(), &signed).unwrap();
    check("registration.sealed", &hex(&sealed));
    let back = Registration::open(&server(), &sealed).unwrap();
    assert_eq!((back.normal, back.duress), (reg.normal, reg.duress));
}

#[test]
fn kat_request() {
    let auth = RequestAuth {
        server: server().id(),
        method: "POST".into(),
        path: "/v1/panic".into(),
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
fn kat_key_rotation() {
    // key(2) and key(3) are the registration's check-in keys; each signs its
    // successor, given here in the order the passphrases might be typed.
    let r = KeyRotation::build(
        server().id(),
        account(),
        1,
        1_800_086_400,
        [(&key(3), &key(5).verifying_key()), (&key(2), &key(4).verifying_key())],
    );
    let signed = r.sign(&key(1)).unwrap();
    check("rotation.signed", &hex(&signed));
    assert_eq!(KeyRotation::verify(&signed, &key(1).verifying_key()).unwrap(), r);
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
        contacts: Vec::new(),
        plan: String::new(),
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
fn kat_server_directory() {
    use crate::directory::{self, ServerDirectory};
    use crate::ids::ServerId;
    let dir = ServerDirectory {
        account: account(),
        sequence: 3,
        created: 1_800_000_000,
        servers: vec![
            (server().id(), "https://aman.example.org".into()),
            (ServerId::from_bytes([0x22; 16]), "http://aman2.example.onion".into()),
        ],
    };
    let recipients = [enc(4).public(), enc(5).public()];
    let sealed = directory::seal_with(&dir, &key(1), &recipients, &mut counter_entropy()).unwrap();
    check("directory.sealed.sha256", &hex(&sha256(&sealed)));
    check("directory.sealed.len", &sealed.len().to_string());
    check("directory.sealed.head", &hex(&sealed[..200]));
    // Frozen bytes must keep opening for both recipients.
    for r in [enc(4), enc(5)] {
        assert_eq!(directory::open(&sealed, &r, &key(1).verifying_key()).unwrap(), dir);
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
