#![no_main]
//! A key rotation by succession, verified against a fixed member identity:
//! strict parsing, the order and distinctness of the keys, then three
//! signatures (the identity's and one succession per old key).
use aman_protocol::keys::verifications_on_this_thread;
use aman_protocol::{KeyRotation, SigningKey};
use std::sync::OnceLock;

fn identity() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::from_seed(zeroize::Zeroizing::new([1; 32])).expect("fixed seed"))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let before = verifications_on_this_thread();
    if let Ok(rotation) = KeyRotation::verify(data, &identity().verifying_key()) {
        assert_eq!(rotation.sign(identity()).expect("verified keys are distinct"), data);
    }
    assert!(verifications_on_this_thread() - before <= 3);
});
