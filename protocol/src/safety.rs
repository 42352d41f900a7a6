//! Safety numbers, in the manner of Signal's fingerprints.
//!
//! Each side's keys are hashed with 5200 iterations of SHA-512; the first 30
//! bytes become 30 digits (six 5-byte chunks, each taken big-endian modulo
//! 100000). The member's 30 digits come first, then the contact's, so both
//! clients print the same 60 digits. Comparing them in person (or over a
//! channel the two already trust) proves that no server substituted a key.

use crate::encoding::{labels, Writer};
use crate::hash::sha512;
use crate::keys::{EncryptionPublic, VerifyingKey};

/// SHA-512 iterations per side, as in libsignal.
pub const ITERATIONS: usize = 5200;

fn party_digits(keys: &[u8]) -> String {
    let mut hash = sha512(&[&Writer::new(labels::FINGERPRINT).var(keys).finish()]);
    for _ in 0..ITERATIONS {
        hash = sha512(&[&hash, keys]);
    }
    let mut out = String::with_capacity(30);
    for chunk in hash[..30].chunks_exact(5) {
        let mut be = [0u8; 8];
        be[3..].copy_from_slice(chunk);
        out.push_str(&format!("{:05}", u64::from_be_bytes(be) % 100_000));
    }
    out
}

/// The 60-digit safety number of a member and one of its contacts.
pub fn safety_number(
    member: &VerifyingKey,
    contact_identity: &VerifyingKey,
    contact_encryption: &EncryptionPublic,
) -> String {
    let mut contact = [0u8; 64];
    contact[..32].copy_from_slice(contact_identity.as_bytes());
    contact[32..].copy_from_slice(contact_encryption.as_bytes());
    let mut digits = party_digits(member.as_bytes());
    digits.push_str(&party_digits(&contact));
    digits
}

/// Groups 60 digits as twelve blocks of five for reading aloud.
pub fn format_groups(digits: &str) -> String {
    digits.as_bytes().chunks(5).map(|c| String::from_utf8_lossy(c).into_owned()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sixty_digits_and_key_sensitive() {
        let a = safety_number(&VerifyingKey([1; 32]), &VerifyingKey([2; 32]), &EncryptionPublic([3; 32]));
        assert_eq!(a.len(), 60);
        assert!(a.bytes().all(|b| b.is_ascii_digit()));
        let b = safety_number(&VerifyingKey([1; 32]), &VerifyingKey([2; 32]), &EncryptionPublic([4; 32]));
        assert_ne!(a, b);
        assert_eq!(format_groups(&a).len(), 71);
    }
}
