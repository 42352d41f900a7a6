//! Check-in signals: how a duress check-in becomes an alert without the
//! request that carried it doing anything a normal check-in does not.
//!
//! Every check-in (and every fresh one refused for what it asks) writes one
//! signal: a fixed-size value sealed under the server key, the same size
//! whichever passphrase, under a key with a random due time within the
//! dispatch delay. The scheduler reads each signal when it falls due: a
//! normal one is deleted; a duress one becomes the duress alert, dispatched
//! at once (it has waited out the delay). So the request's writes, their
//! sizes and its reply are the same in both modes, and so is everything
//! stored until the signal is read.

use super::error::EngineError;
use super::schedule::{SignalEntry, SignalMode};
use super::{lock, Engine};
use crate::store::{AccountRecord, Op, Reason};
use aman_protocol::{AccountId, AlertId};
use std::collections::HashMap;

/// Plaintext of a signal: mode byte (1 = duress), then when the check-in
/// was received (u64 BE).
const SIGNAL_LEN: usize = 9;

fn signal_context(due: u64, id: &AccountId, counter: u64) -> Vec<u8> {
    crate::store::keys::signal(due, id, counter)
}

impl Engine {
    /// Adds the ops of one check-in's signal; returns its due time, to arm
    /// with [`Engine::schedule_signal`] once the ops are applied.
    pub(super) fn signal_ops(
        &self,
        id: &AccountId,
        counter: u64,
        duress: bool,
        now: u64,
        ops: &mut Vec<Op>,
    ) -> Result<u64, EngineError> {
        let due = self.dispatch_at()?.max(now);
        let mut plain = [0u8; SIGNAL_LEN];
        plain[0] = u8::from(duress);
        plain[1..].copy_from_slice(&now.to_be_bytes());
        let sealed =
            self.server_key().encrypt(&signal_context(due, id, counter), &plain).map_err(EngineError::internal)?;
        ops.push(Op::PutSignal(due, *id, counter, sealed));
        Ok(due)
    }

    /// Mirrors an applied signal so the scheduler reads it when due. The
    /// mirror, in memory only, remembers the mode, so a normal signal is
    /// deleted without being read back.
    pub(super) fn schedule_signal(&self, due: u64, id: &AccountId, counter: u64, duress: bool) {
        let mode = if duress { SignalMode::Duress } else { SignalMode::Normal };
        let earlier = {
            let mut s = lock(&self.schedule);
            let earlier = s.next_wake().is_none_or(|w| due < w);
            s.add_signal(due, (*id, counter, due, mode));
            earlier
        };
        // Wake the scheduler only when this is now the first thing due.
        if earlier {
            self.scheduler_wake.notify_one();
        }
    }

    /// Reads the signals in `due`: deletes every one, and turns each duress
    /// one into its alert, to be dispatched at `now`. One write for the batch.
    pub(super) fn read_signals(&self, due: &[(u64, SignalEntry)], now: u64) -> Result<Vec<AlertId>, EngineError> {
        let ids: Vec<AccountId> = due.iter().map(|(_, (id, _, _, _))| *id).collect();
        let mut ops = Vec::new();
        let mut fired = Vec::new();
        let ticket = {
            let _guards = self.lock_accounts(ids.iter());
            let mut accounts: HashMap<AccountId, AccountRecord> = HashMap::new();
            for (_, (id, counter, at, mode)) in due {
                ops.push(Op::DeleteSignal(*at, *id, *counter));
                if *mode == SignalMode::Normal {
                    continue;
                }
                let Some(sealed) = self.store.signal(*at, id, *counter)? else { continue };
                // A signal that does not open (a damaged disk) cannot say its
                // mode; it must not hold up the others behind it.
                let Ok(plain) = self.server_key().decrypt(&signal_context(*at, id, *counter), &sealed) else {
                    tracing::error!("a check-in signal does not open; dropped");
                    continue;
                };
                let (Some(&mode), Some(time)) = (plain.first(), plain.get(1..SIGNAL_LEN)) else {
                    tracing::error!("a check-in signal has the wrong length; dropped");
                    continue;
                };
                if mode != 1 {
                    continue;
                }
                let received = u64::from_be_bytes(time.try_into().map_err(EngineError::internal)?);
                let account = match accounts.entry(*id) {
                    std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                    std::collections::hash_map::Entry::Vacant(v) => match self.store.account(id)? {
                        Some(record) => v.insert(record),
                        None => continue, // deleted since
                    },
                };
                let on_record = self.store.sealed(id)?;
                let (alert, _) =
                    self.fire_ops(id, account, Reason::Duress, None, on_record, received, Some(now), &mut ops)?;
                fired.push(alert);
            }
            if fired.is_empty() {
                // Only normal signals: deleting them need not be atomic or
                // waited for (one left behind by a crash is read again and
                // deleted again), and must not hold up check-ins, which a
                // batch's exclusive lock would.
                self.store.apply_ordered(ops)?;
                return Ok(fired);
            }
            for (id, record) in accounts {
                ops.push(Op::PutAccount(id, record));
            }
            self.commit(ops)?
        };
        ticket.wait_blocking()?;
        for alert in &fired {
            self.schedule_dispatch(now, *alert);
        }
        Ok(fired)
    }
}
