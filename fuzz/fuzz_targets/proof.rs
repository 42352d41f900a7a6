#![no_main]
//! The mode proof: `verify_proof` with a fixed `K_tr` and key pair. The first
//! byte chooses how the rest, `PH[179] || tail`, is used: even, `tail` is the
//! proof straight off the wire (refused at the box, at no verification); odd,
//! `tail` is sealed here under `K_tr` with the right AAD, so the fuzzer
//! reaches the key selection and the signature check behind the box. Either
//! way a proof costs at most one Ed25519 verification, and exactly one when
//! the box opens to the right length.
use aman_protocol::encoding::{labels, Writer};
use aman_protocol::hash::sha256;
use aman_protocol::heartbeat::{verify_proof, PUBLIC_HEARTBEAT_LEN};
use aman_protocol::keys::{verifications_on_this_thread, PUBLIC_KEY_LEN, SIGNATURE_LEN};
use aman_protocol::{secretbox, ProofKey, SigningKey, VerifyingKey};
use std::sync::OnceLock;

const K_TR: [u8; 32] = [0x77; 32];

fn keys() -> &'static [VerifyingKey; 2] {
    static KEYS: OnceLock<[VerifyingKey; 2]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [2, 3].map(|n| SigningKey::from_seed(zeroize::Zeroizing::new([n; 32])).expect("fixed seed").verifying_key())
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let (ph, tail) = rest.split_at(rest.len().min(PUBLIC_HEARTBEAT_LEN));
    let transport = ProofKey::from_bytes(zeroize::Zeroizing::new(K_TR));
    let before = verifications_on_this_thread();
    let result = if mode & 1 == 0 {
        verify_proof(ph, tail, &transport, keys())
    } else {
        let aad = Writer::v2(labels::PROOF_BOX).fixed(&sha256(ph)).finish();
        let boxed = secretbox::seal(&K_TR, &aad, tail).expect("seal");
        let result = verify_proof(ph, &boxed, &transport, keys());
        let opens = tail.len() == PUBLIC_KEY_LEN + SIGNATURE_LEN;
        assert_eq!(verifications_on_this_thread() - before, u64::from(opens));
        if let Ok(i) = result {
            assert_eq!(keys()[i].as_bytes()[..], tail[..PUBLIC_KEY_LEN]);
        }
        result
    };
    assert!(verifications_on_this_thread() - before <= 1);
    if let Ok(i) = result {
        assert!(i < 2);
    }
});
