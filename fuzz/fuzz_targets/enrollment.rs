#![no_main]
use aman_protocol::{Enrollment, InviteCode, InviteId, VerifyingKey};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let invite = InviteCode::from_parts(
        InviteId::from_bytes([1; 16]),
        zeroize::Zeroizing::new([2; 32]),
        VerifyingKey([3; 32]),
        "http://127.0.0.1:8700",
    )
    .expect("fixed invite");
    let _ = Enrollment::open(data, &invite);
});
