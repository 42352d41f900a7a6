//! The account's check-in keys and transport key, as the check-in path
//! needs them: the generations accepted now, the tag test that tells a
//! duress key, and `K_tr` opened from its at-rest box.

use super::error::EngineError;
use super::Engine;
use crate::store::memo::Remember;
use crate::store::{AccountRecord, SealedKeys};
use aman_protocol::api::B64;
use aman_protocol::at_rest::DURESS_TAG_LABEL;
use aman_protocol::{AccountId, ProofKey, VerifyingKey};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Domain of a retired account id's tag.
const RETIRED_LABEL: &str = "aman/v1/retired-account";

/// Seconds after a rotation takes over during which the previous keys are
/// still accepted (on top of the clock window), and before it during which
/// the new ones already are: a client switches by its own clock.
pub const KEY_OVERLAP: u64 = 60;

/// The check-in keys a heartbeat may be proven with right now, and the
/// duress tags of their generations.
pub(super) struct AcceptedKeys {
    pub keys: Vec<VerifyingKey>,
    tags: Vec<[u8; 32]>,
}

fn keys_context(id: &AccountId, generation: u64) -> Vec<u8> {
    let mut c = id.as_bytes().to_vec();
    c.extend_from_slice(b"/keys/");
    c.extend_from_slice(&generation.to_be_bytes());
    c
}

fn transport_context(id: &AccountId) -> Vec<u8> {
    let mut c = id.as_bytes().to_vec();
    c.extend_from_slice(b"/k-tr");
    c
}

impl Engine {
    /// The tag that marks `key` as the account's duress key.
    /// The keyed tag a deleted account's id is retired under.
    pub(super) fn retired_tag(&self, id: &AccountId) -> [u8; 32] {
        self.server_key().tag(RETIRED_LABEL, &[id.as_bytes()])
    }

    pub(super) fn duress_tag(&self, id: &AccountId, key: &VerifyingKey) -> [u8; 32] {
        self.server_key().tag(DURESS_TAG_LABEL, &[id.as_bytes(), key.as_bytes()])
    }

    /// Seals `K_tr` for the account record.
    pub(super) fn seal_transport(&self, id: &AccountId, key: &ProofKey) -> Result<B64, EngineError> {
        let sealed = self
            .server_key()
            .encrypt(&transport_context(id), key.to_bytes().as_ref())
            .map_err(EngineError::internal)?;
        Ok(B64(sealed))
    }

    /// Opens the account's `K_tr`. An account without one (registered by a
    /// v0.1 client) cannot check in: it answers as an unknown caller.
    pub(super) fn transport_key(
        &self,
        id: &AccountId,
        account: &AccountRecord,
    ) -> Result<std::sync::Arc<ProofKey>, EngineError> {
        if account.transport_sealed.0.is_empty() {
            return Err(EngineError::unauthorized());
        }
        // Read only for a check-in request (and the stand-in's), under the lock.
        self.transport_keys.decode(id, &account.transport_sealed.0, Remember::Yes, |sealed| {
            let plain = self
                .server_key()
                .decrypt(&transport_context(id), sealed)
                .map_err(|_| EngineError::internal("an account's transport key does not open"))?;
            let bytes = <[u8; 32]>::try_from(plain.as_slice())
                .map_err(|_| EngineError::internal("an account's transport key has the wrong length"))?;
            Ok(ProofKey::from_bytes(Zeroizing::new(bytes)))
        })
    }

    /// Seals one generation of keys (sorted) with its duress tag.
    pub(super) fn seal_keys(
        &self,
        id: &AccountId,
        generation: u64,
        mut keys: [VerifyingKey; 2],
        duress_tag: &[u8; 32],
        until: u64,
    ) -> Result<SealedKeys, EngineError> {
        keys.sort_by_key(|k| k.0);
        let mut plain = Zeroizing::new(Vec::with_capacity(96));
        plain.extend_from_slice(keys[0].as_bytes());
        plain.extend_from_slice(keys[1].as_bytes());
        plain.extend_from_slice(duress_tag);
        let sealed = self.server_key().encrypt(&keys_context(id, generation), &plain).map_err(EngineError::internal)?;
        Ok(SealedKeys { generation, until, sealed: B64(sealed) })
    }

    /// Opens a sealed generation: its keys (sorted) and duress tag.
    pub(super) fn open_keys(
        &self,
        id: &AccountId,
        sealed: &SealedKeys,
    ) -> Result<([VerifyingKey; 2], [u8; 32]), EngineError> {
        let corrupt = || EngineError::internal("sealed check-in keys do not open");
        let plain =
            self.server_key().decrypt(&keys_context(id, sealed.generation), &sealed.sealed.0).map_err(|_| corrupt())?;
        if plain.len() != 96 {
            return Err(corrupt());
        }
        let key = |at: usize| {
            let mut k = [0u8; 32];
            k.copy_from_slice(&plain[at..at + 32]);
            VerifyingKey(k)
        };
        let mut tag = [0u8; 32];
        tag.copy_from_slice(&plain[64..]);
        Ok(([key(0), key(32)], tag))
    }

    /// The keys accepted at `now`: the generation in force; the previous
    /// one until its overlap ends; a pending one from shortly before it
    /// takes over (a client switches by its own clock, which may run ahead).
    pub(super) fn accepted_keys(
        &self,
        id: &AccountId,
        account: &AccountRecord,
        now: u64,
    ) -> Result<AcceptedKeys, EngineError> {
        let tag = <[u8; 32]>::try_from(account.duress_tag.0.as_slice())
            .map_err(|_| EngineError::internal("corrupt duress tag in an account record"))?;
        let mut accepted = AcceptedKeys { keys: account.checkin_keys.to_vec(), tags: vec![tag] };
        let window = self.config.clock_window + KEY_OVERLAP;
        let previous = account.previous_keys.as_ref().filter(|p| now <= p.until);
        let upcoming =
            account.pending_keys.as_ref().filter(|p| now.saturating_add(window) >= p.effective_at).map(|p| &p.keys);
        for other in previous.into_iter().chain(upcoming) {
            let (keys, tag) = self.open_keys(id, other)?;
            accepted.keys.extend(keys);
            accepted.tags.push(tag);
        }
        Ok(accepted)
    }

    /// Whether `key` is a duress key of any accepted generation: its tag is
    /// computed and compared with every generation's, in constant time.
    pub(super) fn is_duress(&self, id: &AccountId, accepted: &AcceptedKeys, key: &VerifyingKey) -> bool {
        let tag = self.duress_tag(id, key);
        let mut hit = subtle::Choice::from(0);
        for t in &accepted.tags {
            hit |= t.ct_eq(&tag);
        }
        hit.into()
    }
}
