#![no_main]
//! The canonical encoding of a signed request (version 2, naming the server).
use aman_protocol::RequestAuth;
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(auth) = RequestAuth::decode(data) {
        // Canonical: a parsed encoding re-encodes to the same bytes.
        assert_eq!(auth.encode(), data);
    }
});
