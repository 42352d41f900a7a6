//! An account as the engine works with it: the stored record plus its
//! sealed live state (counter, deadline, latest heartbeat).
//!
//! The live state is the only part a check-in changes. It is sealed under
//! the server key on its own key, so a check-in rewrites one small sealed
//! value and nothing in clear: no value on a seized disk, current or an old
//! version sled left in its files, says when a member checked in or is due
//! (where a write sits in sled's log is another matter: PROTOCOL.md §1).
//! The scheduler's deadline index exists only in memory and is rebuilt from
//! these values at start-up.

use super::error::EngineError;
use super::Engine;
use crate::store::memo::Remember;
use crate::store::{AccountRecord, LiveState, Op};
use aman_protocol::at_rest::ServerKey;
use aman_protocol::AccountId;
use std::ops::{Deref, DerefMut};

/// An account record with its opened live state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// What the account record stores.
    pub record: AccountRecord,
    /// What the sealed live state holds.
    pub live: LiveState,
}

impl Deref for Account {
    type Target = AccountRecord;
    fn deref(&self) -> &AccountRecord {
        &self.record
    }
}

impl DerefMut for Account {
    fn deref_mut(&mut self) -> &mut AccountRecord {
        &mut self.record
    }
}

fn live_context(id: &AccountId) -> Vec<u8> {
    let mut c = id.as_bytes().to_vec();
    c.extend_from_slice(b"/live");
    c
}

/// Opens a stored live state (for tools reading a stopped server's
/// database, such as `aman-server stats`).
pub fn open_live(key: &ServerKey, id: &AccountId, sealed: &[u8]) -> Option<LiveState> {
    LiveState::decode(&key.decrypt(&live_context(id), sealed).ok()?)
}

/// Seals a live state as it is stored (for tools that fill a database
/// directly, such as the benchmark).
pub fn seal_live(key: &ServerKey, id: &AccountId, live: &LiveState) -> Result<Vec<u8>, aman_protocol::Error> {
    key.encrypt(&live_context(id), &live.encode())
}

impl Engine {
    /// An account with its live state.
    pub fn account(&self, id: &AccountId) -> Result<Option<Account>, EngineError> {
        self.read_account(id, Remember::No)
    }

    /// Whether the live-state and transport-key memos hold this account
    /// (for tests: what a memo holds must not depend on how the account
    /// last checked in).
    pub fn memos_hold(&self, id: &AccountId) -> (bool, bool) {
        (self.lives.holds(id), self.transport_keys.holds(id))
    }

    /// An account read for a check-in request, under its lock: the one
    /// read that may add it to the memos (`memo::Remember`).
    pub(super) fn account_for_checkin(&self, id: &AccountId) -> Result<Option<Account>, EngineError> {
        self.read_account(id, Remember::Yes)
    }

    fn read_account(&self, id: &AccountId, remember: Remember) -> Result<Option<Account>, EngineError> {
        let record = match remember {
            Remember::Yes => self.store.account_for_checkin(id)?,
            Remember::No => self.store.account(id)?,
        };
        let Some(record) = record else { return Ok(None) };
        let live = match self.store.live(id)? {
            Some(sealed) => (*self.lives.decode(id, &sealed, remember, |s| self.open_live(id, s))?).clone(),
            // Written by 0.2 and not migrated yet: the fields are in the record.
            None => LiveState::from_legacy(&record),
        };
        Ok(Some(Account { record, live }))
    }

    /// Loads an account or answers as for an unknown caller.
    pub(super) fn account_or_unauthorized(&self, id: &AccountId) -> Result<Account, EngineError> {
        self.account(id)?.ok_or_else(EngineError::unauthorized)
    }

    /// Opens a sealed live state.
    pub(super) fn open_live(&self, id: &AccountId, sealed: &[u8]) -> Result<LiveState, EngineError> {
        open_live(self.server_key(), id, sealed)
            .ok_or_else(|| EngineError::internal("an account's live state does not open or is corrupt"))
    }

    /// The op that stores a live state, sealed.
    pub(super) fn live_op(&self, id: &AccountId, live: &LiveState) -> Result<Op, EngineError> {
        let sealed = seal_live(self.server_key(), id, live).map_err(EngineError::internal)?;
        // The next check-in reads these bytes back: it need not open them.
        // (What it remembers is what opening them would give, which for a
        // zero time or an empty heartbeat is not quite `live`.) Only an
        // account the memo holds is refreshed, as `remember_written` does.
        if self.lives.holds(id) {
            if let Some(as_read) = LiveState::decode(&live.encode()) {
                self.lives.refresh(*id, sealed.clone(), std::sync::Arc::new(as_read));
            }
        }
        Ok(Op::PutLive(*id, sealed))
    }

    /// A deleted account's opened values leave memory with it.
    pub(super) fn forget_opened(&self, id: &AccountId) {
        self.lives.forget(id);
        self.transport_keys.forget(id);
    }

    /// The ops that store a whole account: the record and its live state.
    pub(super) fn account_ops(&self, id: &AccountId, account: Account, ops: &mut Vec<Op>) -> Result<(), EngineError> {
        ops.push(self.live_op(id, &account.live)?);
        ops.push(Op::PutAccount(*id, account.record));
        Ok(())
    }
}
