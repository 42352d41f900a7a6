#![no_main]
//! See `aman_fuzz::directory`: the body is there, shared with the stable smoke test.
libfuzzer_sys::fuzz_target!(|data: &[u8]| aman_fuzz::directory(data));
