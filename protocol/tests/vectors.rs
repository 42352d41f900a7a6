//! Published known-answer vectors for every primitive the protocol uses, read
//! from this crate's own copy in `tests/data/crypto-vectors.toml`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use aman_protocol::hash::hkdf_sha256;
use aman_protocol::keys::{EncryptionPublic, EncryptionSecret, Signature, SigningKey, VerifyingKey};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};
use toml::Value;
use zeroize::Zeroizing;

fn vectors() -> toml::Table {
    include_str!("data/crypto-vectors.toml").parse().unwrap()
}

fn hex_of(v: &Value, key: &str) -> Vec<u8> {
    hex::decode(v[key].as_str().unwrap()).unwrap()
}

fn arr32(v: &[u8]) -> [u8; 32] {
    v.try_into().unwrap()
}

#[test]
fn rfc7748_section5_2_x25519() {
    let t = vectors();
    let cases = t["x25519"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    for case in cases {
        let out = x25519_dalek::x25519(arr32(&hex_of(case, "scalar")), arr32(&hex_of(case, "u")));
        assert_eq!(out.to_vec(), hex_of(case, "out"));
    }
}

#[test]
fn rfc7748_section5_2_iterated_1_and_1000() {
    let t = vectors();
    let it = &t["x25519_iterated"];
    let mut k = [0u8; 32];
    k[0] = 9;
    let mut u = k;
    for i in 1..=1000 {
        let r = x25519_dalek::x25519(k, u);
        u = k;
        k = r;
        if i == 1 {
            assert_eq!(k.to_vec(), hex_of(it, "after_1"));
        }
    }
    assert_eq!(k.to_vec(), hex_of(it, "after_1000"));
}

#[test]
fn rfc7748_section6_1_diffie_hellman_through_our_key_type() {
    let t = vectors();
    let dh = &t["x25519_dh"];
    let alice = EncryptionSecret::from_bytes(Zeroizing::new(arr32(&hex_of(dh, "alice_private"))));
    let bob = EncryptionSecret::from_bytes(Zeroizing::new(arr32(&hex_of(dh, "bob_private"))));
    assert_eq!(alice.public().0.to_vec(), hex_of(dh, "alice_public"));
    assert_eq!(bob.public().0.to_vec(), hex_of(dh, "bob_public"));
    let shared = hex_of(dh, "shared");
    assert_eq!(alice.diffie_hellman(&bob.public()).unwrap().to_vec(), shared);
    assert_eq!(bob.diffie_hellman(&alice.public()).unwrap().to_vec(), shared);
    // Low-order points give an all-zero secret: rejected, not used.
    let mut one = [0u8; 32];
    one[0] = 1;
    assert!(alice.diffie_hellman(&EncryptionPublic([0; 32])).is_err());
    assert!(alice.diffie_hellman(&EncryptionPublic(one)).is_err());
}

struct AeadCase {
    key: Vec<u8>,
    nonce: Vec<u8>,
    aad: Vec<u8>,
    plaintext: Vec<u8>,
    /// ciphertext || tag
    sealed: Vec<u8>,
}

fn aead_case(v: &Value) -> AeadCase {
    let mut sealed = hex_of(v, "ciphertext");
    sealed.extend(hex_of(v, "tag"));
    AeadCase {
        key: hex_of(v, "key"),
        nonce: hex_of(v, "nonce"),
        aad: hex_of(v, "aad"),
        plaintext: hex_of(v, "plaintext"),
        sealed,
    }
}

#[test]
fn rfc8439_section2_8_2_chacha20poly1305() {
    let t = vectors();
    let AeadCase { key, nonce, aad, plaintext: pt, sealed } = aead_case(&t["chacha20poly1305"]);
    let cipher = ChaCha20Poly1305::new(key.as_slice().into());
    let out = cipher.encrypt(nonce.as_slice().into(), Payload { msg: &pt, aad: &aad }).unwrap();
    assert_eq!(out, sealed);
    let mut bad = sealed.clone();
    bad[0] ^= 1;
    assert!(cipher.decrypt(nonce.as_slice().into(), Payload { msg: &bad, aad: &aad }).is_err());
}

#[test]
fn xchacha_draft_a3_1_xchacha20poly1305() {
    let t = vectors();
    let AeadCase { key, nonce, aad, plaintext: pt, sealed } = aead_case(&t["xchacha20poly1305"]);
    let cipher = XChaCha20Poly1305::new(key.as_slice().into());
    let out = cipher.encrypt(nonce.as_slice().into(), Payload { msg: &pt, aad: &aad }).unwrap();
    assert_eq!(out, sealed);
    let back = cipher.decrypt(nonce.as_slice().into(), Payload { msg: &sealed, aad: &aad }).unwrap();
    assert_eq!(back, pt);
    let mut bad_tag = sealed.clone();
    *bad_tag.last_mut().unwrap() ^= 1;
    assert!(cipher.decrypt(nonce.as_slice().into(), Payload { msg: &bad_tag, aad: &aad }).is_err());
}

#[test]
fn rfc8032_tests_1_to_3_through_our_key_type() {
    let t = vectors();
    let cases = t["ed25519"].as_array().unwrap();
    assert_eq!(cases.len(), 3);
    for case in cases {
        let key = SigningKey::from_seed(Zeroizing::new(arr32(&hex_of(case, "secret")))).unwrap();
        assert_eq!(key.verifying_key().0.to_vec(), hex_of(case, "public"));
        let msg = hex_of(case, "message");
        let sig = key.sign(&msg);
        assert_eq!(sig.0.to_vec(), hex_of(case, "signature"));
        key.verifying_key().verify(&msg, &sig).unwrap();
    }
}

#[test]
fn rfc8032_signature_with_s_plus_l_is_rejected() {
    let t = vectors();
    let case = &t["ed25519"].as_array().unwrap()[0];
    let public = VerifyingKey(arr32(&hex_of(case, "public")));
    let mut sig: [u8; 64] = hex_of(case, "signature").try_into().unwrap();
    // Add L (little-endian) to S = sig[32..]: same point equation, non-canonical scalar.
    let l = hex::decode("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010").unwrap();
    let mut carry = 0u16;
    for i in 0..32 {
        let sum = u16::from(sig[32 + i]) + u16::from(l[i]) + carry;
        sig[32 + i] = (sum & 0xff) as u8;
        carry = sum >> 8;
    }
    assert!(public.verify(b"", &Signature(sig)).is_err());
}

#[test]
fn rfc5869_a1_hkdf_sha256() {
    let t = vectors();
    let v = &t["hkdf_sha256"];
    assert_eq!(v["L"].as_integer().unwrap(), 42);
    let okm = hkdf_sha256::<42>(&hex_of(v, "salt"), &hex_of(v, "ikm"), &hex_of(v, "info"));
    assert_eq!(okm.to_vec(), hex_of(v, "okm"));
    // The PRK is HMAC-SHA256(salt, ikm).
    let prk = ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &hex_of(v, "salt")), &hex_of(v, "ikm"));
    assert_eq!(prk.as_ref().to_vec(), hex_of(v, "prk"));
}
