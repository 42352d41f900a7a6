#![no_main]
use aman_protocol::{Checkin, VerifyingKey};
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let k = VerifyingKey([7; 32]);
    if let Ok(c) = Checkin::decode(data) {
        let _ = c.check_counter(1);
    }
    let _ = Checkin::verify(data, &k, &k);
});
