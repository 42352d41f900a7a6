#![no_main]
use aman_protocol::KeyBinding;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = KeyBinding::verify(data);
});
