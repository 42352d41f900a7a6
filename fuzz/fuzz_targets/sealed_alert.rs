#![no_main]
//! See `aman_fuzz::sealed_alert`: the body is there, shared with the stable smoke test.
libfuzzer_sys::fuzz_target!(|data: &[u8]| aman_fuzz::sealed_alert(data));
