#![no_main]
//! A sealed registration at a fixed server. The first byte chooses how the
//! rest is used: even, as a sealed registration straight off the wire
//! (refused at the seal); odd, as the signed registration, sealed here to the
//! server, so the fuzzer reaches the strict parser and the checks behind the
//! seal (server id, distinct keys, the identity's signature).
use aman_protocol::at_rest::ServerKey;
use aman_protocol::encoding::labels;
use aman_protocol::{seal_to_server, Registration, ServerIdentity};
use std::sync::OnceLock;

fn server() -> &'static ServerIdentity {
    static SERVER: OnceLock<ServerIdentity> = OnceLock::new();
    SERVER.get_or_init(|| ServerIdentity::derive(&ServerKey::from_bytes(zeroize::Zeroizing::new([0x99; 32]))))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let result = if mode & 1 == 0 {
        Registration::open(server(), rest)
    } else {
        let sealed = seal_to_server(&server().public(), labels::REGISTER.as_bytes(), rest).expect("seal");
        Registration::open(server(), &sealed)
    };
    if let Ok(reg) = result {
        assert_eq!(reg.server, server().id());
        assert!(reg.identity != reg.normal && reg.identity != reg.duress && reg.normal != reg.duress);
    }
});
