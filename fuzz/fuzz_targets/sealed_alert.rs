#![no_main]
use aman_protocol::alert::{open, validate_sealed};
use aman_protocol::{EncryptionSecret, VerifyingKey};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = validate_sealed(data);
    let recipient = EncryptionSecret::from_bytes(zeroize::Zeroizing::new([9; 32]));
    let _ = open(data, &recipient, &VerifyingKey([7; 32]));
});
