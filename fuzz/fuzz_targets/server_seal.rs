#![no_main]
//! Opening what was sealed to a fixed server. The first byte is the length
//! of the context (mod 33) that follows it; the rest is opened as a sealed
//! message, and sealed and opened again, which must give it back.
use aman_protocol::at_rest::ServerKey;
use aman_protocol::{seal_to_server, ServerIdentity};
use std::sync::OnceLock;

fn server() -> &'static ServerIdentity {
    static SERVER: OnceLock<ServerIdentity> = OnceLock::new();
    SERVER.get_or_init(|| ServerIdentity::derive(&ServerKey::from_bytes(zeroize::Zeroizing::new([0x99; 32]))))
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&len, rest)) = data.split_first() else {
        return;
    };
    let (context, sealed) = rest.split_at(rest.len().min(usize::from(len % 33)));
    let _ = server().open(context, sealed);
    let again = seal_to_server(&server().public(), context, sealed).expect("seal");
    assert_eq!(server().open(context, &again).expect("opens").as_slice(), sealed);
});
