//! The body of every fuzz target, as a plain function of the input bytes.
//!
//! The libFuzzer binaries in `fuzz_targets/` call these (cargo-fuzz, nightly),
//! and the stable smoke test (`tests/smoke.rs`) replays them over the corpus,
//! valid seeds and pseudo-random inputs from a fixed seed, so CI exercises
//! every target with neither nightly nor cargo-fuzz. A target panics when a
//! property fails; an input it refuses is fine.
//!
//! The fixed keys are those of the frozen known answers
//! (`protocol/src/known_answers.rs`): identity seed 0x01, check-in key seeds
//! 0x02 and 0x03, `K_tr` of 0x77 bytes, a server key file of 0x99 bytes.

use aman_protocol::alert::{open, validate_sealed};
use aman_protocol::at_rest::ServerKey;
use aman_protocol::encoding::{labels, Writer};
use aman_protocol::hash::sha256;
use aman_protocol::heartbeat::{verify_proof, HEARTBEAT_LEN, PUBLIC_HEARTBEAT_LEN};
use aman_protocol::keys::{verifications_on_this_thread, PUBLIC_KEY_LEN, SIGNATURE_LEN};
use aman_protocol::{
    seal_to_server, secretbox, EncryptionSecret, Enrollment, Heartbeat, InviteCode, InviteId, KeyRotation, ProofKey,
    Registration, RequestAuth, ServerIdentity, SigningKey, VerifyingKey,
};
use std::sync::OnceLock;

/// A target's body: panics when a property fails.
pub type Target = fn(&[u8]);

/// Every target, by the name of its binary and corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("heartbeat", heartbeat),
    ("proof", proof),
    ("registration", registration),
    ("key_rotation", key_rotation),
    ("request", request),
    ("server_seal", server_seal),
    ("sealed_alert", sealed_alert),
    ("directory", directory),
    ("invite", invite),
    ("enrollment", enrollment),
];

/// The mode proof's `K_tr`.
pub const K_TR: [u8; 32] = [0x77; 32];

/// The key from a known-answer seed (identity 1, check-in keys 2 and 3).
pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed(zeroize::Zeroizing::new([seed; 32])).expect("fixed seed")
}

/// The member identity the heartbeat and rotation targets verify with.
pub fn identity() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| key(1))
}

/// The check-in keys the proof target accepts.
pub fn checkin_keys() -> &'static [VerifyingKey; 2] {
    static KEYS: OnceLock<[VerifyingKey; 2]> = OnceLock::new();
    KEYS.get_or_init(|| [2, 3].map(|n| key(n).verifying_key()))
}

/// The server registrations and seals are opened at.
pub fn server() -> &'static ServerIdentity {
    static SERVER: OnceLock<ServerIdentity> = OnceLock::new();
    SERVER.get_or_init(|| ServerIdentity::derive(&ServerKey::from_bytes(zeroize::Zeroizing::new([0x99; 32]))))
}

/// The invite enrollments are opened with.
pub fn fixed_invite() -> InviteCode {
    InviteCode::from_parts(
        InviteId::from_bytes([1; 16]),
        zeroize::Zeroizing::new([2; 32]),
        VerifyingKey([3; 32]),
        "http://127.0.0.1:8700",
    )
    .expect("fixed invite")
}

/// The public heartbeat `PH`: strict parsing, and verification with a fixed
/// member identity. A `PH` that parses is canonical: signing the parsed
/// fields again gives back the same signed bytes.
pub fn heartbeat(data: &[u8]) {
    if let Ok(hb) = Heartbeat::decode(data) {
        assert_eq!(data.len(), PUBLIC_HEARTBEAT_LEN);
        assert_eq!(hb.sign(identity())[..HEARTBEAT_LEN], data[..HEARTBEAT_LEN]);
    }
    if let Ok(hb) = Heartbeat::verify(data, &identity().verifying_key()) {
        assert_eq!(hb.sign(identity()), data);
    }
}

/// The mode proof: `verify_proof` with a fixed `K_tr` and key pair. The first
/// byte chooses how the rest, `PH[179] || tail`, is used: even, `tail` is the
/// proof straight off the wire (refused at the box, at no verification); odd,
/// `tail` is sealed here under `K_tr` with the right AAD, so the fuzzer
/// reaches the key selection and the signature check behind the box. Either
/// way a proof costs at most one Ed25519 verification, and exactly one when
/// the box opens to the right length.
pub fn proof(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (ph, tail) = rest.split_at(rest.len().min(PUBLIC_HEARTBEAT_LEN));
    let transport = ProofKey::from_bytes(zeroize::Zeroizing::new(K_TR));
    let before = verifications_on_this_thread();
    let result = if mode & 1 == 0 {
        verify_proof(ph, tail, &transport, checkin_keys())
    } else {
        let aad = Writer::v2(labels::PROOF_BOX).fixed(&sha256(ph)).finish();
        let boxed = secretbox::seal(&K_TR, &aad, tail).expect("seal");
        let result = verify_proof(ph, &boxed, &transport, checkin_keys());
        let opens = tail.len() == PUBLIC_KEY_LEN + SIGNATURE_LEN;
        assert_eq!(verifications_on_this_thread() - before, u64::from(opens));
        if let Ok(i) = result {
            assert_eq!(checkin_keys()[i].as_bytes()[..], tail[..PUBLIC_KEY_LEN]);
        }
        result
    };
    assert!(verifications_on_this_thread() - before <= 1);
    if let Ok(i) = result {
        assert!(i < 2);
    }
}

/// A sealed registration at a fixed server. The first byte chooses how the
/// rest is used: even, as a sealed registration straight off the wire
/// (refused at the seal); odd, as the signed registration, sealed here to the
/// server, so the fuzzer reaches the strict parser and the checks behind the
/// seal (server id, distinct keys, the identity's signature).
pub fn registration(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let result = if mode & 1 == 0 {
        Registration::open(server(), rest)
    } else {
        let sealed = seal_to_server(&server().public(), labels::REGISTER.as_bytes(), rest).expect("seal");
        Registration::open(server(), &sealed)
    };
    if let Ok(reg) = result {
        assert_eq!(reg.server, server().id());
        assert!(reg.identity != reg.normal && reg.identity != reg.duress && reg.normal != reg.duress);
    }
}

/// A key rotation by succession, verified against a fixed member identity:
/// strict parsing, the order and distinctness of the keys, then three
/// signatures (the identity's and one succession per old key).
pub fn key_rotation(data: &[u8]) {
    let before = verifications_on_this_thread();
    if let Ok(rotation) = KeyRotation::verify(data, &identity().verifying_key()) {
        assert_eq!(rotation.sign(identity()).expect("verified keys are distinct"), data);
    }
    assert!(verifications_on_this_thread() - before <= 3);
}

/// The canonical encoding of a signed request (version 2, naming the
/// server): a parsed encoding re-encodes to the same bytes.
pub fn request(data: &[u8]) {
    if let Ok(auth) = RequestAuth::decode(data) {
        assert_eq!(auth.encode(), data);
    }
}

/// Opening what was sealed to a fixed server. The first byte is the length
/// of the context (mod 33) that follows it; the rest is opened as a sealed
/// message, and sealed and opened again, which must give it back.
pub fn server_seal(data: &[u8]) {
    let Some((&len, rest)) = data.split_first() else {
        return;
    };
    let (context, sealed) = rest.split_at(rest.len().min(usize::from(len % 33)));
    let _ = server().open(context, sealed);
    let again = seal_to_server(&server().public(), context, sealed).expect("seal");
    assert_eq!(server().open(context, &again).expect("opens").as_slice(), sealed);
}

/// `validate_sealed` and `alert::open`, for a fixed recipient and the
/// member key seed 7 (so a valid seed opens all the way).
pub fn sealed_alert(data: &[u8]) {
    let _ = validate_sealed(data);
    let _ = open(data, &alert_recipient(), alert_signer());
}

/// `directory::validate_sealed` and `directory::open` (with the sealed
/// alert target's keys): whatever opens passed the server's structural
/// check too, and keeps the format's bounds.
pub fn directory(data: &[u8]) {
    use aman_protocol::directory::{self, MAX_SERVERS, MAX_URL_LEN};
    let valid = directory::validate_sealed(data).is_ok();
    if let Ok(dir) = directory::open(data, &alert_recipient(), alert_signer()) {
        assert!(valid, "an opened directory passes validate_sealed");
        assert!((1..=MAX_SERVERS).contains(&dir.servers.len()));
        for (i, (id, url)) in dir.servers.iter().enumerate() {
            assert!((1..=MAX_URL_LEN).contains(&url.len()));
            assert!(dir.servers[..i].iter().all(|(other, _)| other != id), "no server id twice");
        }
    }
}

/// The contact a sealed alert is opened by.
pub fn alert_recipient() -> EncryptionSecret {
    EncryptionSecret::from_bytes(zeroize::Zeroizing::new([9; 32]))
}

/// The member key a sealed alert is verified with.
pub fn alert_signer() -> &'static VerifyingKey {
    static KEY: OnceLock<VerifyingKey> = OnceLock::new();
    KEY.get_or_init(|| key(7).verifying_key())
}

/// `InviteCode::parse`; an invite's own text form parses back to it.
pub fn invite(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(code) = InviteCode::parse(text) {
            let again = InviteCode::parse(&code.to_text()).expect("own text form parses");
            assert_eq!(again.id, code.id);
        }
    }
}

/// `Enrollment::open` under a fixed invite.
pub fn enrollment(data: &[u8]) {
    let _ = Enrollment::open(data, &fixed_invite());
}
