//! The member's notes over time: the sealed alert on record, the ones it
//! replaced (up to [`MAX_NOTE_HISTORY`]), and when each arrived.
//!
//! A captor holding either passphrase can replace the note ("false alarm,
//! I'm safe") or seal it to a key no contact holds; alerts therefore carry
//! the replaced notes too, so nobody can erase the member's own words. The
//! arrival times are sealed under the server key: in clear, the time of the
//! note a duress check-in brought would pin its alert to that check-in.

use super::error::EngineError;
use super::Engine;
use crate::store::{AccountRecord, Op, StoredNote};
use aman_protocol::alert::sealed_hash;
use aman_protocol::api::{ReceivedNote, B64};
use aman_protocol::AccountId;

/// Most notes kept besides the latest.
pub const MAX_NOTE_HISTORY: usize = 16;

/// The at-rest context of a note's arrival time: the note's own hash, so
/// the sealed time travels with the note from account to history to alert.
fn time_context(sealed_hash: &[u8; 32]) -> Vec<u8> {
    let mut c = b"note-received/".to_vec();
    c.extend_from_slice(sealed_hash);
    c
}

impl Engine {
    /// Seals a note's arrival time.
    pub(super) fn seal_note_time(&self, sealed: &[u8], at: u64) -> Result<B64, EngineError> {
        let context = time_context(&sealed_hash(sealed));
        self.server_key().encrypt(&context, &at.to_be_bytes()).map(B64).map_err(EngineError::internal)
    }

    /// Opens a note's arrival time; 0 (unknown) when there is none, or when
    /// it does not open. A time is for the contacts' information only: a
    /// crash between a check-in's ordered writes can leave a new note beside
    /// the old note's time, and that must never stop a check-in or a mailbox.
    pub(super) fn open_note_time(&self, sealed: &[u8], time: Option<&B64>) -> Result<u64, EngineError> {
        let Some(time) = time else { return Ok(0) };
        let opened = self.server_key().decrypt(&time_context(&sealed_hash(sealed)), &time.0).ok();
        Ok(opened.and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok()).map_or(0, u64::from_be_bytes))
    }

    fn open_notes(&self, notes: Vec<StoredNote>) -> Result<Vec<(u64, StoredNote)>, EngineError> {
        notes.into_iter().map(|n| Ok((self.open_note_time(&n.sealed_alert.0, Some(&n.received_sealed))?, n))).collect()
    }

    /// Stored notes as a contact sees them.
    pub(super) fn received_notes(&self, notes: Vec<StoredNote>) -> Result<Vec<ReceivedNote>, EngineError> {
        Ok(self
            .open_notes(notes)?
            .into_iter()
            .map(|(received_at, n)| ReceivedNote { received_at, sealed_alert: n.sealed_alert })
            .collect())
    }

    /// Ops that make `sealed` the note on record, keeping the one it replaces
    /// (with when it arrived) for the alerts of the next cooling-off period.
    pub(super) fn replace_note_ops(
        &self,
        caller: &AccountId,
        account: &mut AccountRecord,
        sealed: &[u8],
        now: u64,
        ops: &mut Vec<Op>,
    ) -> Result<(), EngineError> {
        let hash = sealed_hash(sealed);
        if account.alert_hash.as_ref().map(|h| h.0.as_slice()) == Some(&hash[..]) {
            return Ok(()); // the same note again
        }
        if let Some(previous) = self.store.sealed(caller)? {
            let received = self.open_note_time(&previous, account.note_received_sealed.as_ref())?;
            let mut history = self.open_notes(self.store.note_history(caller)?)?;
            let replaced =
                StoredNote { received_sealed: self.seal_note_time(&previous, received)?, sealed_alert: B64(previous) };
            history.insert(0, (received, replaced));
            prune_history(&mut history);
            ops.push(Op::PutNoteHistory(*caller, history.into_iter().map(|(_, n)| n).collect()));
        }
        ops.push(Op::PutSealed(*caller, sealed.to_vec()));
        account.alert_hash = Some(B64(hash.to_vec()));
        account.note_received_sealed = Some(self.seal_note_time(sealed, now)?);
        Ok(())
    }

    /// The notes an alert carries besides the latest: the ones it replaced
    /// (see [`prune_history`]), read as the pending `ops` leave them (a
    /// check-in that brings a new note and fires in the same write).
    pub(super) fn earlier_notes(&self, account: &AccountId, ops: &[Op]) -> Result<Vec<StoredNote>, EngineError> {
        let pending = ops.iter().rev().find_map(|op| match op {
            Op::PutNoteHistory(id, notes) if id == account => Some(notes.clone()),
            _ => None,
        });
        let history = match pending {
            Some(notes) => notes,
            None => self.store.note_history(account)?,
        };
        Ok(history)
    }
}

/// Bounds the notes kept (newest first, each with its arrival time) to
/// [`MAX_NOTE_HISTORY`], by time alone and never by age: the note that stood
/// the shortest before the next one replaced it goes first, so a burst of
/// replacements (a captor pushing notes to flush the member's words out)
/// collapses onto itself, the newest and oldest notes stay, and waiting
/// erases nothing (a captor who replaced the note once and then checks in
/// for days still leaves the member's words in every alert).
fn prune_history<T>(history: &mut Vec<(u64, T)>) {
    while history.len() > MAX_NOTE_HISTORY {
        // Newest first: entry i stood until entry i - 1 replaced it.
        let stood = |i: usize| history[i - 1].0.saturating_sub(history[i].0);
        // Among equals the older goes: the note in force when someone began
        // replacing it is the newest of the member's own.
        let Some(shortest) = (1..history.len() - 1).min_by_key(|i| (stood(*i), std::cmp::Reverse(*i))) else { break };
        history.remove(shortest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(h: &[(u64, ())]) -> Vec<u64> {
        h.iter().map(|(t, _)| *t).collect()
    }

    #[test]
    fn history_is_bounded_by_size_not_age() {
        let mut h: Vec<(u64, ())> = [900, 800, 50, 40, 30].into_iter().map(|t| (t, ())).collect();
        prune_history(&mut h);
        assert_eq!(times(&h), vec![900, 800, 50, 40, 30], "old notes are not dropped for their age");
        let mut many: Vec<(u64, ())> = (0..40).rev().map(|i| (1000 + i, ())).collect();
        prune_history(&mut many);
        assert_eq!(many.len(), MAX_NOTE_HISTORY);
        assert_eq!(many.first().map(|n| n.0), Some(1039), "the newest stays");
        assert_eq!(many.last().map(|n| n.0), Some(1000), "the oldest in the window stays");
    }

    #[test]
    fn a_burst_of_replacements_cannot_flush_out_the_members_notes() {
        // Hourly notes over the last day (newest first), then a captor's burst
        // of 40 replacements a second apart.
        let day = 86_400;
        let captured = 100 * day;
        let mut h: Vec<(u64, ())> = Vec::new();
        for hour in 0..24 {
            h.insert(0, (captured - day + hour * 3600, ()));
            prune_history(&mut h);
        }
        let members = times(&h);
        for i in 1..=40 {
            h.insert(0, (captured + i, ()));
            prune_history(&mut h);
        }
        assert_eq!(h.len(), MAX_NOTE_HISTORY);
        let kept = times(&h);
        assert!(kept.contains(&members[0]), "the note in force at capture survives: {kept:?}");
        let members_kept = kept.iter().filter(|t| members.contains(t)).count();
        assert!(members_kept >= MAX_NOTE_HISTORY - 2, "the burst collapses onto itself: {kept:?}");
    }

    #[test]
    fn waiting_erases_nothing() {
        // A member who changed the note four times a day for three days (the
        // client re-seals only on a change) and last a day before capture,
        // then a captor who replaces it once a day for a month.
        let day = 86_400;
        let mut h: Vec<(u64, ())> = (0..12).rev().map(|i| (100 * day + i * day / 4, ())).collect();
        let in_force = h[0].0;
        for d in 1..=30 {
            h.insert(0, (in_force + day + d * day, ()));
            prune_history(&mut h);
        }
        assert!(times(&h).contains(&in_force), "{:?}", times(&h));
    }
}
