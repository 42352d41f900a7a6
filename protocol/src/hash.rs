//! SHA-256 / SHA-512 and HKDF-SHA256, wrapped so no other module names ring's digest API.

use ring::{digest, hkdf};
use zeroize::Zeroizing;

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, data).as_ref());
    out
}

/// SHA-512 over the concatenation of `parts`.
pub(crate) fn sha512(parts: &[&[u8]]) -> [u8; 64] {
    let mut ctx = digest::Context::new(&digest::SHA512);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 64];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// HKDF-SHA256 (RFC 5869) with output length `N` (at most 255 × 32).
pub fn hkdf_sha256<const N: usize>(salt: &[u8], ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; N]> {
    let mut out = Zeroizing::new([0u8; N]);
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(ikm);
    let info = [info];
    // `expand` and `fill` only fail when N exceeds 255 × 32, which no caller in
    // this crate asks for; the tests pin every N we use.
    if let Ok(okm) = prk.expand(&info, Len(N)) {
        let _ = okm.fill(out.as_mut());
    }
    out
}
