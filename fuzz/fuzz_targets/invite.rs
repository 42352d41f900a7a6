#![no_main]
use aman_protocol::InviteCode;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(code) = InviteCode::parse(text) {
            let again = InviteCode::parse(&code.to_text()).expect("own text form parses");
            assert_eq!(again.id, code.id);
        }
    }
});
