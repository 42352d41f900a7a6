#![no_main]
use aman_protocol::KeyRotation;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = KeyRotation::verify(data);
});
