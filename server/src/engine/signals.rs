//! Check-in signals: how a check-in's consequences (a duress alert, a
//! late-check-in notice) happen without the request that carried it doing
//! anything another check-in does not.
//!
//! Every check-in (and every fresh one refused for what it asks) sets the
//! signal in the account's sealed live state: a fixed-size block holding
//! what it causes, a random due time within the dispatch delay, the time it
//! arrived and the note it named. A signal that says nothing is replaced by
//! the next check-in; one that says something absorbs the next ones' (their
//! bits or'ed in, its own times kept, a later duress check-in's note taken),
//! so no check-in's consequence
//! is lost, and it is read by the scheduler when it falls due: a duress one
//! becomes the duress alert and a late one the late-check-in notice, both
//! dispatched at once (the signal has waited out the delay), written in one
//! atomic write with the live state that clears it. So the request's write,
//! its size and its reply are the same whichever passphrase, and whether or
//! not an alert was open; and so is everything stored until the signal is
//! read. Signals stored on their own key by earlier builds are still read
//! and deleted.

use super::error::EngineError;
use super::live::Account;
use super::schedule::{SignalEntry, SignalMode};
use super::{lock, Engine};
use crate::store::{Op, PendingSignal, Reason, SignalSlot};
use aman_protocol::alert::sealed_hash;
use aman_protocol::{AccountId, AlertId};
use std::collections::HashMap;

/// Flag: a duress check-in.
pub const DURESS: u8 = 1;
/// Flag: a check-in after an alert (the alert stays; its contacts are told).
pub const LATE: u8 = 2;

/// Plaintext of a signal: flags (u8), when the check-in was received (u64
/// BE), the hash of the sealed note it named (32 bytes), so a duress alert
/// carries the note of its own check-in even if the note on record was
/// replaced during the delay, when the scheduler reads it (u64 BE), the
/// account (16 bytes) and the check-in's counter (u64 BE). The key is a
/// random id: it says none of this.
const SIGNAL_LEN: usize = 1 + 8 + 32 + 8 + 16 + 8;

/// A signal written by 0.2: flags, received and note hash only (due,
/// account and counter were its key).
const LEGACY_SIGNAL_LEN: usize = 1 + 8 + 32;

/// What a stored signal says.
#[derive(Debug, Clone, Copy)]
pub(super) struct OpenedSignal {
    pub flags: u8,
    pub received: u64,
    pub note_hash: [u8; 32],
    pub due: u64,
    pub account: AccountId,
    pub counter: u64,
}

/// What one signal caused: the duress alert made, if any, the dispatches
/// to arm, and whether its late part is left (with its bit) to try again.
type SignalEffects = (Option<AlertId>, Vec<(AlertId, u64)>, bool);

/// One late-check-in notice: its writes, and the dispatch to arm if its
/// alert was already told.
type LateNotice = (Vec<Op>, Option<(AlertId, u64)>);

/// What reading one batch of signals did.
#[derive(Debug, Default)]
pub(super) struct SignalsRead {
    /// Duress alerts made.
    pub duress: Vec<AlertId>,
    /// Signals that could not be read now (a store error): to try again.
    pub failed: Vec<SignalEntry>,
}

impl Engine {
    /// The signal of one check-in, with its random due time, before it is
    /// merged into the live state's ([`merge_signal`]). Drawn the same way
    /// whatever it says.
    pub(super) fn new_signal(
        &self,
        counter: u64,
        flags: u8,
        note_hash: &[u8; 32],
        now: u64,
    ) -> Result<PendingSignal, EngineError> {
        let due = self.dispatch_at()?.max(now);
        let late_received = if flags & LATE != 0 { now } else { 0 };
        Ok(PendingSignal { flags, received: now, note_hash: *note_hash, late_received, late_last: 0, due, counter })
    }

    /// Opens a stored signal; `None` if it is gone, does not open (a
    /// damaged disk) or has the wrong length.
    pub(super) fn open_signal(&self, slot: &SignalSlot) -> Result<Option<OpenedSignal>, EngineError> {
        let Some(sealed) = self.store.signal(slot)? else { return Ok(None) };
        let Ok(plain) = self.server_key().decrypt(&slot.key().unwrap_or_default(), &sealed) else {
            tracing::error!("a check-in signal does not open; dropped");
            return Ok(None);
        };
        let u64_at = |i: usize| plain.get(i..i + 8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes);
        let Some(note_hash) = plain.get(9..41).and_then(|b| <[u8; 32]>::try_from(b).ok()) else {
            tracing::error!("a check-in signal has the wrong length; dropped");
            return Ok(None);
        };
        let opened = match (slot, plain.len()) {
            (SignalSlot::Id(_), SIGNAL_LEN) => OpenedSignal {
                flags: plain[0],
                received: u64_at(1).unwrap_or(0),
                note_hash,
                due: u64_at(41).unwrap_or(0),
                account: AccountId::from_slice(&plain[49..65]).map_err(EngineError::internal)?,
                counter: u64_at(65).unwrap_or(0),
            },
            (SignalSlot::Legacy { due, account, counter }, LEGACY_SIGNAL_LEN) => OpenedSignal {
                flags: plain[0],
                received: u64_at(1).unwrap_or(0),
                note_hash,
                due: *due,
                account: *account,
                counter: *counter,
            },
            _ => {
                tracing::error!("a check-in signal has the wrong length; dropped");
                return Ok(None);
            }
        };
        Ok(Some(opened))
    }

    /// Mirrors a live state's signal, once written, so the scheduler reads
    /// it when due. Every signal is mirrored, whatever it says, so the
    /// request does the same work in every mode; one that says nothing is
    /// dropped from the mirror when due, unread and with no write.
    pub(super) fn schedule_live_signal(&self, id: &AccountId, signal: &PendingSignal) {
        let earlier = {
            let mut s = lock(&self.schedule);
            let earlier = s.next_wake().is_none_or(|w| signal.due < w);
            let entry = (*id, signal.counter, SignalSlot::Live(*id), SignalMode::Known(signal.flags));
            s.add_signal(signal.due, entry);
            earlier
        };
        // Wake the scheduler only when this is now the first thing due.
        if earlier {
            self.scheduler_wake.notify_one();
        }
    }

    /// Reads the signals in `due`: deletes each, and acts on what it says.
    /// One write for the batch; a signal whose reading fails is left for a
    /// retry without holding up the others.
    pub(super) fn read_signals(&self, due: &[(u64, SignalEntry)], now: u64) -> Result<SignalsRead, EngineError> {
        // A signal known to say nothing (only a live state's is known: this
        // process wrote it) needs no lock, no read and no write: it leaves
        // the mirror here, and the next check-in replaces it. (Every
        // check-in is mirrored; taking their accounts' locks for nothing
        // would hold up check-ins, and filtering here means it cannot mark
        // its slot seen and hide an entry that says something.)
        let due: Vec<(u64, SignalEntry)> =
            due.iter().filter(|(_, (_, _, _, mode))| *mode != SignalMode::Known(0)).copied().collect();
        if due.is_empty() {
            return Ok(SignalsRead::default());
        }
        let ids: Vec<AccountId> = due.iter().map(|(_, (id, _, _, _))| *id).collect();
        let mut ops = Vec::new();
        let mut read = SignalsRead::default();
        let mut wakes = Vec::new();
        let ticket = {
            let _guards = self.lock_accounts(ids.iter());
            let mut accounts: HashMap<AccountId, Account> = HashMap::new();
            // A signal written while the store was scanned at start-up can
            // be in the mirror twice (as written and as loaded): read once.
            let mut seen = std::collections::HashSet::new();
            for (_, entry) in &due {
                let (id, _, slot, _) = *entry;
                if !seen.insert(slot) {
                    continue;
                }
                let before = accounts.get(&id).cloned();
                // A signal in a live state is cleared by rewriting the live
                // state; one on its own key is deleted.
                let mut one = match slot {
                    SignalSlot::Live(_) => Vec::new(),
                    _ => vec![Op::DeleteSignal(slot)],
                };
                match self.read_signal(entry, now, &mut accounts, &mut one) {
                    Ok((duress, wake, late_left)) => {
                        ops.extend(one);
                        read.duress.extend(duress);
                        wakes.extend(wake);
                        if late_left {
                            let (id, counter, slot, _) = *entry;
                            read.failed.push((id, counter, slot, SignalMode::Known(LATE)));
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "reading a check-in signal failed; retrying");
                        match before {
                            Some(record) => accounts.insert(id, record),
                            None => accounts.remove(&id),
                        };
                        read.failed.push(*entry);
                    }
                }
            }
            if accounts.is_empty() {
                // Nothing to act on: deleting signals need not be atomic or
                // waited for (one left behind by a crash is read again and
                // deleted again), and must not hold up check-ins, which a
                // batch's exclusive lock would.
                self.store.apply_ordered(ops)?;
                return Ok(read);
            }
            for (id, account) in accounts {
                self.account_ops(&id, account, &mut ops)?;
            }
            self.commit(ops)?
        };
        // Armed before the flush wait: if the wait fails, what was written is
        // still dispatched (and a restart reloads it from the store anyway).
        for (alert, at) in wakes {
            self.schedule_dispatch(at, alert);
        }
        ticket.wait_blocking()?;
        Ok(read)
    }

    /// Reads one signal and adds what it causes to `ops`. Returns the duress
    /// alert made, if any, and the dispatches to arm.
    fn read_signal(
        &self,
        entry: &SignalEntry,
        now: u64,
        accounts: &mut HashMap<AccountId, Account>,
        ops: &mut Vec<Op>,
    ) -> Result<SignalEffects, EngineError> {
        let (id, _, slot, _) = *entry;
        let (flags, received, note_hash, late_times) = match slot {
            SignalSlot::Live(_) => {
                let signal = match accounts.get(&id) {
                    Some(account) => account.live.signal,
                    None => match self.account(&id)? {
                        Some(account) => {
                            let signal = account.live.signal;
                            if signal.flags != 0 && signal.due <= now {
                                accounts.insert(id, account);
                            }
                            signal
                        }
                        None => return Ok((None, Vec::new(), false)), // deleted since
                    },
                };
                // Read already, or replaced by one due later (mirrored on
                // its own): nothing to do now.
                if signal.flags == 0 || signal.due > now {
                    return Ok((None, Vec::new(), false));
                }
                // Read now: cleared (its flags only: nothing is left to do)
                // in the live state written with what it causes, in one
                // atomic write.
                if let Some(account) = accounts.get_mut(&id) {
                    account.live.signal.flags = 0;
                }
                (signal.flags, signal.received, signal.note_hash, [signal.late_received, signal.late_last])
            }
            _ => {
                // A signal that does not open (a damaged disk) cannot say
                // what it holds; it is dropped rather than retried for ever.
                let Some(OpenedSignal { flags, received, note_hash, account: whose, .. }) = self.open_signal(&slot)?
                else {
                    return Ok((None, Vec::new(), false));
                };
                if whose != id {
                    tracing::error!("a check-in signal names another account than its mirror; dropped");
                    return Ok((None, Vec::new(), false));
                }
                (flags, received, note_hash, [received, 0])
            }
        };
        if flags == 0 {
            return Ok((None, Vec::new(), false));
        }
        let account = match accounts.entry(id) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => match self.account(&id)? {
                Some(record) => v.insert(record),
                None => return Ok((None, Vec::new(), false)), // deleted since
            },
        };
        let mut wakes = Vec::new();
        // A check-in after an alert is news for the contacts, not an
        // all-clear: it may have been coerced, so the alert stays. The alert
        // it was late for: the newest that fired before it (an alert that
        // fired during the delay is not the one it answers); a later late
        // check-in merged in may answer a newer one. Found before the duress
        // alert is made, which must not be mistaken for one of them.
        let late = if flags & LATE != 0 { self.late_notices(account, late_times, now) } else { Ok(Vec::new()) };
        let mut late_left = false;
        let late = match late {
            Ok(late) => late,
            // Nothing else to make: the whole signal is tried again.
            Err(e) if flags & DURESS == 0 => return Err(e),
            Err(e) if matches!(slot, SignalSlot::Live(_)) => {
                // The duress alert must not wait on a notice: it is made
                // now, and the late part is left in the live state, with
                // its bit, to try again.
                tracing::error!(error = %e, "a late check-in's notice cannot be made; trying again");
                account.live.signal.flags = LATE;
                late_left = true;
                Vec::new()
            }
            // A signal on its own key is deleted once read: its late part
            // cannot be kept, and must not hold up its duress alert.
            Err(e) => {
                tracing::error!(error = %e, "a late check-in's notice cannot be made; dropped");
                Vec::new()
            }
        };
        let mut duress = None;
        if flags & DURESS != 0 {
            let note = self.note_named(&id, &note_hash)?;
            let (alert, at) = self.fire_ops(&id, account, Reason::Duress, None, note, received, Some(now), ops)?;
            duress = Some(alert);
            wakes.push((alert, at));
        }
        for (notice, wake) in late {
            ops.extend(notice);
            wakes.extend(wake);
        }
        Ok((duress, wakes, late_left))
    }

    /// The late-check-in notices of a signal's late times, all or none: on
    /// the newest alert that fired at or before each time (an alert that
    /// fired during the delay is not the one it answers), once per alert.
    /// Found before a duress alert is made, which must not be taken for one.
    fn late_notices(&self, account: &Account, late_times: [u64; 2], now: u64) -> Result<Vec<LateNotice>, EngineError> {
        let mut answered: Vec<AlertId> = Vec::new();
        let mut notices = Vec::new();
        for at in late_times.into_iter().filter(|at| *at != 0) {
            let Some(open) = self.alert_before(account, at)? else { continue };
            if answered.contains(&open) {
                continue;
            }
            answered.push(open);
            let mut ops = Vec::new();
            let wake = self.late_checkin_ops(&open, at, now, &mut ops)?;
            notices.push((ops, wake));
        }
        Ok(notices)
    }

    /// The member's newest alert that fired at or before `at`.
    fn alert_before(&self, account: &Account, at: u64) -> Result<Option<AlertId>, EngineError> {
        for id in account.alerts.iter().rev() {
            if let Some(alert) = self.store.alert(id)? {
                if self.alert_meta(id, &alert)?.fired_at <= at {
                    return Ok(Some(*id));
                }
            }
        }
        Ok(None)
    }

    /// The sealed note a check-in named: the one on record, or one it
    /// replaced since (a captor may have replaced it during the delay).
    fn note_named(&self, id: &AccountId, hash: &[u8; 32]) -> Result<Option<Vec<u8>>, EngineError> {
        let current = self.store.sealed(id)?;
        if current.as_deref().is_some_and(|s| sealed_hash(s) == *hash) {
            return Ok(current);
        }
        let earlier = self.store.note_history(id)?;
        if let Some(n) = earlier.into_iter().find(|n| sealed_hash(&n.sealed_alert.0) == *hash) {
            return Ok(Some(n.sealed_alert.0));
        }
        Ok(current)
    }
}

/// A check-in's signal merged into the one its live state holds: a signal
/// that says nothing is replaced; one that says something keeps its own
/// times and counter, takes the new bits, the new duress or late time it
/// did not have (or, late again, the new time as the last late one), a
/// new duress check-in's note, and the earlier due time. Nothing one check-in
/// caused is lost to the next, and the merged signal is the same size.
pub(super) fn merge_signal(held: PendingSignal, new: PendingSignal) -> PendingSignal {
    if held.flags == 0 {
        return new;
    }
    let mut merged = held;
    merged.flags |= new.flags;
    if new.flags & DURESS != 0 {
        // The duress alert's time is the first duress check-in's; its note
        // the latest one a duress check-in named (where the member last said
        // they were).
        if held.flags & DURESS == 0 {
            merged.received = new.received;
        }
        merged.note_hash = new.note_hash;
    }
    if new.flags & LATE != 0 {
        if held.flags & LATE == 0 {
            merged.late_received = new.late_received;
        } else {
            merged.late_last = new.late_received;
        }
    }
    merged.due = held.due.min(new.due);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signal(flags: u8, at: u64, note: u8, due: u64, counter: u64) -> PendingSignal {
        let late_received = if flags & LATE != 0 { at } else { 0 };
        PendingSignal { flags, received: at, note_hash: [note; 32], late_received, late_last: 0, due, counter }
    }

    #[test]
    fn a_signal_that_says_nothing_is_replaced_whatever_comes() {
        let held = signal(0, 100, 1, 115, 7);
        for flags in [0, DURESS, LATE, DURESS | LATE] {
            let new = signal(flags, 110, 2, 122, 8);
            assert_eq!(merge_signal(held, new), new, "flags {flags}");
        }
    }

    #[test]
    fn a_signal_that_says_something_loses_nothing_to_the_next() {
        for held_flags in [DURESS, LATE, DURESS | LATE] {
            for new_flags in [0, DURESS, LATE, DURESS | LATE] {
                let (held, new) = (signal(held_flags, 100, 1, 118, 7), signal(new_flags, 110, 2, 113, 8));
                let merged = merge_signal(held, new);
                let what = format!("held {held_flags}, new {new_flags}");
                assert_eq!(merged.flags, held_flags | new_flags, "{what}: every bit kept");
                assert_eq!(merged.due, 113, "{what}: the earlier due time");
                assert_eq!(merged.counter, 7, "{what}: the first check-in that said something");
                // The duress alert's time: the first duress check-in's; its
                // note: the latest duress check-in's.
                let first = if held_flags & DURESS != 0 { held } else { new };
                let latest = if new_flags & DURESS != 0 { new } else { held };
                if merged.flags & DURESS != 0 {
                    assert_eq!((merged.received, merged.note_hash), (first.received, latest.note_hash), "{what}");
                }
                // The late notices' times: the first late check-in's, and
                // the last one's if it came later.
                let late_from = if held_flags & LATE != 0 { held } else { new };
                if merged.flags & LATE != 0 {
                    assert_eq!(merged.late_received, late_from.late_received, "{what}");
                }
                let last = if held_flags & LATE != 0 && new_flags & LATE != 0 { 110 } else { 0 };
                assert_eq!(merged.late_last, last, "{what}");
            }
        }
        // A later due time never postpones a held one.
        let merged = merge_signal(signal(DURESS, 100, 1, 113, 7), signal(0, 110, 2, 130, 8));
        assert_eq!(merged.due, 113);
    }

    #[test]
    fn a_live_state_holds_its_signal_in_the_same_number_of_bytes_whatever_it_says() {
        use crate::store::LiveState;
        let sizes: std::collections::BTreeSet<usize> = [0, DURESS, LATE, DURESS | LATE]
            .into_iter()
            .map(|flags| {
                let live = LiveState {
                    counter: 9,
                    last_heartbeat: Some(vec![7; 179]),
                    signal: signal(flags, 100, 1, 113, 9),
                    ..LiveState::default()
                };
                let encoded = live.encode();
                assert_eq!(LiveState::decode(&encoded), Some(live), "flags {flags} read back");
                encoded.len()
            })
            .collect();
        assert_eq!(sizes.len(), 1, "{sizes:?}");
    }
}
