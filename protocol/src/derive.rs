//! Keys derived rather than stored: a contact's keys for one membership,
//! and a member's transport key `K_tr` for one server.
//!
//! A contact who protects several members (or the same member on several
//! servers) must not be linkable across them by key: the server sees each
//! mailbox's `CID`, and each member sees its contact's `CID` and `CX`. So
//! every membership gets its own pair, derived rather than stored so that the
//! keystore format does not change and nothing secret lands in the address
//! book.

use crate::encoding::labels;
use crate::error::Error;
use crate::hash::hkdf_sha256;
use crate::heartbeat::ProofKey;
use crate::ids::{MailboxId, ServerId};
use crate::keys::{EncryptionSecret, SigningKey};
use zeroize::Zeroizing;

/// `CID` and `CX` for the membership whose mailbox is `mailbox`:
/// `HKDF-SHA256(salt = mailbox, ikm = CID_master_seed || CX_master_secret,
/// info = "aman/v1/contact-keys")`, 64 bytes: the Ed25519 seed, then the
/// X25519 secret.
pub fn membership_keys(
    identity: &SigningKey,
    encryption: &EncryptionSecret,
    mailbox: &MailboxId,
) -> Result<(SigningKey, EncryptionSecret), Error> {
    let mut ikm = Zeroizing::new([0u8; 64]);
    ikm[..32].copy_from_slice(identity.seed_bytes().as_ref());
    ikm[32..].copy_from_slice(encryption.secret_bytes().as_ref());
    let okm = hkdf_sha256::<64>(mailbox.as_bytes(), ikm.as_ref(), labels::CONTACT_KEYS.as_bytes());
    let mut seed = Zeroizing::new([0u8; 32]);
    seed.copy_from_slice(&okm[..32]);
    let mut secret = Zeroizing::new([0u8; 32]);
    secret.copy_from_slice(&okm[32..]);
    Ok((SigningKey::from_seed(seed)?, EncryptionSecret::from_bytes(secret)))
}

/// `K_tr` for one server: `HKDF-SHA256(salt = server_id, ikm = ID seed,
/// info = "aman/v2/transport-key")`. One key per (account, server), as the
/// identity is per account; both keystore slots hold `ID`, so both can make
/// the mode proof, and nothing new is stored. The server learns `K_tr` and
/// cannot go back from it to `ID`.
pub fn transport_key(identity: &SigningKey, server: &ServerId) -> ProofKey {
    let okm = hkdf_sha256::<32>(server.as_bytes(), identity.seed_bytes().as_ref(), labels::TRANSPORT_KEY.as_bytes());
    ProofKey::from_bytes(okm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_pair_per_mailbox_stable_and_unlinkable() {
        let id = SigningKey::from_seed(Zeroizing::new([1; 32])).unwrap();
        let cx = EncryptionSecret::from_bytes(Zeroizing::new([2; 32]));
        let (a1, ax1) = membership_keys(&id, &cx, &MailboxId::from_bytes([3; 16])).unwrap();
        let (a2, ax2) = membership_keys(&id, &cx, &MailboxId::from_bytes([3; 16])).unwrap();
        let (b, bx) = membership_keys(&id, &cx, &MailboxId::from_bytes([4; 16])).unwrap();
        assert_eq!(a1.verifying_key(), a2.verifying_key());
        assert_eq!(ax1.public(), ax2.public());
        assert_ne!(a1.verifying_key(), b.verifying_key());
        assert_ne!(ax1.public(), bx.public());
        assert_ne!(a1.verifying_key(), id.verifying_key());
        assert_ne!(ax1.public(), cx.public());
    }

    #[test]
    fn one_transport_key_per_server() {
        let id = SigningKey::from_seed(Zeroizing::new([1; 32])).unwrap();
        let a = transport_key(&id, &ServerId::from_bytes([3; 16]));
        let again = transport_key(&id, &ServerId::from_bytes([3; 16]));
        let b = transport_key(&id, &ServerId::from_bytes([4; 16]));
        assert_eq!(a.to_bytes(), again.to_bytes());
        assert_ne!(a.to_bytes(), b.to_bytes());
        assert_ne!(a.to_bytes().as_ref(), id.seed_bytes().as_ref());
    }
}
