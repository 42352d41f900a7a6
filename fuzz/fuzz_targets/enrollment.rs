#![no_main]
//! See `aman_fuzz::enrollment`: the body is there, shared with the stable smoke test.
libfuzzer_sys::fuzz_target!(|data: &[u8]| aman_fuzz::enrollment(data));
