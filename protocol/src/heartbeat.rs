//! Check-in v2: a public heartbeat and a mode proof for the server only.
//!
//! A check-in is two parts. The **public heartbeat** `PH = hb || sig_id` is
//! signed by the member identity `ID` and is the same bytes whichever
//! passphrase unlocked the phone: the server stores and relays it, and
//! contacts verify it themselves as proof of life. The **mode proof** is the
//! slot's check-in public key and its signature over `PH`, in a box under
//! the transport key `K_tr` that only the member and this server hold. The
//! server opens it, checks the key is one of the account's two, verifies
//! that one signature, decides duress by its stored tag, and discards it.
//!
//! ```text
//! hb     = "aman/v2/heartbeat" 0x00 0x02 || server_id[16] || account[16] || u64 counter
//!          || u64 client_time || u64 next_due || u64 grace || sealed_hash[32]     (115 B)
//! PH     = hb || Ed25519(ID, hb)                                                  (179 B)
//! sig_ck = Ed25519(CK_s, "aman/v2/mode-proof" 0x00 0x02 || PH)
//! proof  = nonce[24] || XChaCha20-Poly1305(K_tr, nonce,
//!          aad = "aman/v2/proof-box" 0x00 0x02 || SHA-256(PH), CK_s_pk || sig_ck)  (136 B)
//! ```

use crate::encoding::{labels, Reader, Writer};
use crate::error::{DecodeError, Error};
use crate::hash::sha256;
use crate::ids::{AccountId, ServerId};
use crate::keys::{split_signature, Signature, SigningKey, VerifyingKey, PUBLIC_KEY_LEN, SIGNATURE_LEN};
use crate::random::random_array;
use crate::secretbox;
use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};
use zeroize::Zeroizing;

/// Length of the signed fields `hb`.
pub const HEARTBEAT_LEN: usize = labels::HEARTBEAT.len() + 2 + 16 + 16 + 8 * 4 + 32;
/// Length of a public heartbeat `PH = hb || sig_id`.
pub const PUBLIC_HEARTBEAT_LEN: usize = HEARTBEAT_LEN + SIGNATURE_LEN;
/// Length of a mode proof box.
pub const PROOF_LEN: usize = secretbox::OVERHEAD + PUBLIC_KEY_LEN + SIGNATURE_LEN;

/// The signed fields of a heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heartbeat {
    /// The server this heartbeat is for.
    pub server: ServerId,
    /// The member's account.
    pub account: AccountId,
    /// Member-wide, increasing once per check-in round, the same at every server.
    pub counter: u64,
    /// The client's clock (unix seconds) when it signed.
    pub client_time: u64,
    /// The next deadline the member asks for (unix seconds); 0 with a
    /// grace of 0: a stand-down, no check-in due (see [`Heartbeat::stands_down`]).
    pub next_due: u64,
    /// Seconds of grace after `next_due` before the alert fires.
    pub grace: u64,
    /// SHA-256 of the sealed note in force, binding the note to this heartbeat.
    pub sealed_hash: [u8; 32],
}

impl Heartbeat {
    fn encode_unsigned(&self) -> Vec<u8> {
        Writer::v2(labels::HEARTBEAT)
            .fixed(self.server.as_bytes())
            .fixed(self.account.as_bytes())
            .u64(self.counter)
            .u64(self.client_time)
            .u64(self.next_due)
            .u64(self.grace)
            .fixed(&self.sealed_hash)
            .finish()
    }

    /// Signs with the member identity; returns `PH` ([`PUBLIC_HEARTBEAT_LEN`] bytes).
    pub fn sign(&self, identity: &SigningKey) -> Vec<u8> {
        identity.sign_appended(self.encode_unsigned())
    }

    /// The deadline this heartbeat asks for: `next_due + grace` (0 for a
    /// stand-down, which asks for none).
    pub fn deadline(&self) -> u64 {
        self.next_due.saturating_add(self.grace)
    }

    /// A stand-down: `next_due` and `grace` both 0, "no check-in is due
    /// until I arm again". Only an account whose schedule is trips only may
    /// send one (a member back from a trip); it is still a check-in, the same
    /// bytes whichever passphrase, so a duress stand-down alerts.
    pub fn stands_down(&self) -> bool {
        self.next_due == 0 && self.grace == 0
    }

    /// Parses `PH` strictly without verifying `sig_id` (the server does not
    /// verify it: the mode proof covers all of `PH`, so a `PH` with a bad
    /// `sig_id` is the member's own doing, and contacts refuse it).
    pub fn decode(ph: &[u8]) -> Result<Self, DecodeError> {
        if ph.len() != PUBLIC_HEARTBEAT_LEN {
            return Err(if ph.len() < PUBLIC_HEARTBEAT_LEN {
                DecodeError::Truncated
            } else {
                DecodeError::TrailingBytes
            });
        }
        let (body, _) = split_signature(ph)?;
        let mut r = Reader::v2(body, labels::HEARTBEAT)?;
        let hb = Heartbeat {
            server: ServerId::from_bytes(r.fixed()?),
            account: AccountId::from_bytes(r.fixed()?),
            counter: r.u64()?,
            client_time: r.u64()?,
            next_due: r.u64()?,
            grace: r.u64()?,
            sealed_hash: r.fixed()?,
        };
        r.finish()?;
        Ok(hb)
    }

    /// Parses `PH` and verifies `sig_id` with the member identity, as a
    /// contact does with the `ID` it learned at pairing.
    pub fn verify(ph: &[u8], identity: &VerifyingKey) -> Result<Self, Error> {
        let hb = Self::decode(ph)?;
        let (body, sig) = split_signature(ph)?;
        identity.verify(body, &sig)?;
        Ok(hb)
    }
}

/// `K_tr`: 32 random bytes per (account, server), known to the member's
/// keystore (both slots) and to that server (sealed at rest). It hides the
/// mode proof from everyone else. No `Debug`, `Clone` or `Serialize`.
pub struct ProofKey(Zeroizing<[u8; 32]>);

impl ProofKey {
    /// A fresh key.
    pub fn generate() -> Result<Self, Error> {
        Ok(ProofKey(Zeroizing::new(random_array()?)))
    }

    /// Rebuilds the key from stored bytes.
    pub fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Self {
        ProofKey(bytes)
    }

    /// The key bytes, for an encrypted keystore or an at-rest box.
    pub fn to_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(*self.0)
    }
}

/// What a check-in key signs: `"aman/v2/mode-proof" 0x00 0x02 || PH`.
fn mode_proof_message(ph: &[u8]) -> Vec<u8> {
    Writer::v2(labels::MODE_PROOF).fixed(ph).finish()
}

fn proof_aad(ph: &[u8]) -> Vec<u8> {
    Writer::v2(labels::PROOF_BOX).fixed(&sha256(ph)).finish()
}

/// Makes the mode proof for `ph` with the slot's check-in key ([`PROOF_LEN`] bytes).
pub fn make_proof(ph: &[u8], checkin_key: &SigningKey, transport: &ProofKey) -> Result<Vec<u8>, Error> {
    make_proof_with_nonce(ph, checkin_key, transport, random_array()?)
}

/// [`make_proof`] with a given nonce (known-answer tests).
pub(crate) fn make_proof_with_nonce(
    ph: &[u8],
    checkin_key: &SigningKey,
    transport: &ProofKey,
    nonce: [u8; 24],
) -> Result<Vec<u8>, Error> {
    let sig = checkin_key.sign(&mode_proof_message(ph));
    let mut inner = Zeroizing::new([0u8; PUBLIC_KEY_LEN + SIGNATURE_LEN]);
    inner[..PUBLIC_KEY_LEN].copy_from_slice(checkin_key.verifying_key().as_bytes());
    inner[PUBLIC_KEY_LEN..].copy_from_slice(&sig.0);
    secretbox::seal_with_nonce(&transport.0, &proof_aad(ph), inner.as_ref(), nonce)
}

/// Checks a mode proof against the account's active check-in keys (two, or
/// four while a rotation overlaps) and returns the index of the key that
/// signed. Exactly one Ed25519 verification happens once the box opens,
/// whether or not the key is one of `keys`; the key is found and selected in
/// constant time. A box that does not open costs no verification. Every
/// failure is [`Error::BadSignature`], so a caller cannot tell which step failed.
pub fn verify_proof(ph: &[u8], proof: &[u8], transport: &ProofKey, keys: &[VerifyingKey]) -> Result<usize, Error> {
    if proof.len() != PROOF_LEN || keys.is_empty() {
        return Err(Error::BadSignature);
    }
    let inner = secretbox::open(&transport.0, &proof_aad(ph), proof).map_err(|_| Error::BadSignature)?;
    let (pk, sig) = inner.split_at(PUBLIC_KEY_LEN);
    let mut found = Choice::from(0);
    let mut index = 0u8;
    let mut selected = keys[0].0;
    for (i, key) in keys.iter().enumerate() {
        let hit = key.0.ct_eq(pk);
        found |= hit;
        index.conditional_assign(&(i as u8), hit);
        for (s, k) in selected.iter_mut().zip(key.0.iter()) {
            s.conditional_assign(k, hit);
        }
    }
    let mut sig_bytes = [0u8; SIGNATURE_LEN];
    sig_bytes.copy_from_slice(sig);
    let verified = VerifyingKey(selected).verify(&mode_proof_message(ph), &Signature(sig_bytes)).is_ok();
    if bool::from(found) && verified {
        Ok(usize::from(index))
    } else {
        Err(Error::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::verifications_on_this_thread;

    fn sample() -> Heartbeat {
        Heartbeat {
            server: ServerId::from_bytes([5; 16]),
            account: AccountId::from_bytes([9; 16]),
            counter: 2,
            client_time: 100,
            next_due: 200,
            grace: 60,
            sealed_hash: [4; 32],
        }
    }

    #[test]
    fn lengths_and_round_trip() {
        let id = SigningKey::generate().unwrap();
        let ph = sample().sign(&id);
        assert_eq!(HEARTBEAT_LEN, 115);
        assert_eq!(ph.len(), PUBLIC_HEARTBEAT_LEN);
        assert_eq!(PUBLIC_HEARTBEAT_LEN, 179);
        assert_eq!(PROOF_LEN, 136);
        assert_eq!(Heartbeat::verify(&ph, &id.verifying_key()).unwrap(), sample());
        let other = SigningKey::generate().unwrap();
        assert_eq!(Heartbeat::verify(&ph, &other.verifying_key()).unwrap_err(), Error::BadSignature);
        let mut longer = ph.clone();
        longer.push(0);
        assert!(Heartbeat::decode(&longer).is_err());
        assert!(Heartbeat::decode(&ph[..178]).is_err());
    }

    #[test]
    fn proof_selects_the_signing_key_with_one_verification() {
        let id = SigningKey::generate().unwrap();
        let (a, b, x) =
            (SigningKey::generate().unwrap(), SigningKey::generate().unwrap(), SigningKey::generate().unwrap());
        let keys = [a.verifying_key(), b.verifying_key()];
        let k = ProofKey::generate().unwrap();
        let ph = sample().sign(&id);
        for (signer, want) in [(&a, Ok(0)), (&b, Ok(1)), (&x, Err(Error::BadSignature))] {
            let proof = make_proof(&ph, signer, &k).unwrap();
            assert_eq!(proof.len(), PROOF_LEN);
            let before = verifications_on_this_thread();
            assert_eq!(verify_proof(&ph, &proof, &k, &keys), want);
            assert_eq!(verifications_on_this_thread() - before, 1);
        }
        // Another K_tr, or the proof moved to another PH: the box does not open, no verification.
        let proof = make_proof(&ph, &a, &k).unwrap();
        let before = verifications_on_this_thread();
        assert!(verify_proof(&ph, &proof, &ProofKey::generate().unwrap(), &keys).is_err());
        let other_ph = Heartbeat { counter: 3, ..sample() }.sign(&id);
        assert!(verify_proof(&other_ph, &proof, &k, &keys).is_err());
        assert_eq!(verifications_on_this_thread(), before);
    }
}
