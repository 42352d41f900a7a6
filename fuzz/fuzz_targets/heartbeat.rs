#![no_main]
//! The public heartbeat `PH`: strict parsing, and verification with a fixed
//! member identity. A `PH` that parses is canonical: signing the parsed
//! fields again gives back the same signed bytes.
use aman_protocol::heartbeat::{HEARTBEAT_LEN, PUBLIC_HEARTBEAT_LEN};
use aman_protocol::{Heartbeat, SigningKey};
use std::sync::OnceLock;

fn identity() -> &'static SigningKey {
    static KEY: OnceLock<SigningKey> = OnceLock::new();
    KEY.get_or_init(|| SigningKey::from_seed(zeroize::Zeroizing::new([1; 32])).expect("fixed seed"))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(hb) = Heartbeat::decode(data) {
        assert_eq!(data.len(), PUBLIC_HEARTBEAT_LEN);
        assert_eq!(hb.sign(identity())[..HEARTBEAT_LEN], data[..HEARTBEAT_LEN]);
    }
    if let Ok(hb) = Heartbeat::verify(data, &identity().verifying_key()) {
        assert_eq!(hb.sign(identity()), data);
    }
});
