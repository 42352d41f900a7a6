//! A stand-in account for check-ins that name no account. The check-in
//! path does the same work for them as for a known account whose proof is
//! wrong (an account record, its sealed live state and transport key
//! opened, the proof tried), so that how long the refusal takes does not
//! say whether an id is registered, or was deleted.

use super::error::EngineError;
use super::live::Account;
use super::Engine;
use crate::store::memo::Remember;
use crate::store::{AccountRecord, LiveState};
use aman_protocol::heartbeat::verify_proof;
use aman_protocol::{AccountId, ProofKey, SigningKey};

/// The stand-in: an account of random keys that exists nowhere but here.
pub(super) struct StandIn {
    id: AccountId,
    record: AccountRecord,
    live: Vec<u8>,
}

impl StandIn {
    pub(super) fn new(engine: &Engine) -> Result<Self, EngineError> {
        let random = |e: aman_protocol::Error| EngineError::internal(format!("stand-in keys: {e}"));
        let id = AccountId::random().map_err(random)?;
        let identity = SigningKey::generate().map_err(random)?.verifying_key();
        let transport = ProofKey::generate().map_err(random)?;
        let mut record = AccountRecord::new(identity, engine.seal_transport(&id, &transport)?, 0);
        let keys = [SigningKey::generate().map_err(random)?, SigningKey::generate().map_err(random)?];
        record.checkin_keys = [keys[0].verifying_key(), keys[1].verifying_key()];
        record.duress_tag = aman_protocol::api::B64(engine.duress_tag(&id, &record.checkin_keys[1]).to_vec());
        let live =
            crate::engine::seal_live(engine.server_key(), &id, &LiveState::default()).map_err(EngineError::internal)?;
        Ok(StandIn { id, record, live })
    }
}

impl Engine {
    /// Refuses a check-in for an account that does not exist, after the
    /// work a known account's wrong proof costs.
    pub(super) fn refuse_unknown_checkin(&self, ph: &[u8], proof: &[u8], now: u64) -> EngineError {
        if let Some(s) = self.stand_in.get_or_init(|| {
            StandIn::new(self).map_err(|e| tracing::error!(error = %e, "no stand-in for unknown check-ins")).ok()
        }) {
            let record = s.record.clone();
            // Through the memo, as a known account's live state is read.
            let live =
                self.lives.decode(&s.id, &s.live, Remember::Yes, |l| self.open_live(&s.id, l)).map(|l| (*l).clone());
            let live = live.unwrap_or_default();
            let account = Account { record, live };
            if let (Ok(transport), Ok(accepted)) =
                (self.transport_key(&s.id, &account), self.accepted_keys(&s.id, &account, now))
            {
                let _ = verify_proof(ph, proof, &transport, &accepted.keys);
            }
        }
        EngineError::unauthorized()
    }
}
