//! What a contact's mailbox holds and how it is read: change stamps, the
//! incremental read a long-poll makes, and the bounds that keep a mailbox
//! small (retention of acknowledged and old entries, a size cap).
//!
//! Every alert placed in a mailbox has an entry there and a key in the
//! mailbox's change index (`mailbox ‖ changed ‖ alert`). A change a
//! contact should see (the alert placed, an acknowledgement, a late
//! check-in) gives the entry a new stamp, so a poll reads only the index
//! range after its cursor and the alerts in it: a mailbox with thousands of
//! old entries answers a poll with only the new ones.

use super::error::EngineError;
use super::{lock, Engine};
use crate::store::{AlertRecord, MailboxEntry, Op};
use aman_protocol::api::{Ack, MailboxAlert, MailboxContents, Notice};
use aman_protocol::{AccountId, AlertId, MailboxId};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

/// Change stamps are microseconds.
pub const STAMPS_PER_SECOND: u64 = 1_000_000;

/// Most alerts one mailbox read returns; `more` says to read again.
pub const READ_LIMIT: usize = 64;

/// A read stops adding alerts once their sealed notes reach this many
/// bytes (it always returns at least one): a response stays small however
/// large the notes, and `more` says to read again.
pub const READ_BYTES: usize = 256 * 1024;

/// What one write holds in each mailbox it places alerts in (so alerts
/// placed together in one write count against the cap together).
#[derive(Debug, Default)]
pub(super) struct Room {
    held: HashMap<MailboxId, Vec<(u64, AlertId, bool)>>,
    /// Entries this write has already put (a second change to the same
    /// alert in one write must replace the first one's index key).
    written: HashMap<(MailboxId, AlertId), MailboxEntry>,
}

/// What one retention sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    /// Mailbox entries removed.
    pub entries: usize,
    /// Account-level notices removed.
    pub notices: usize,
    /// Alert records removed (no mailbox holds them any more).
    pub alerts: usize,
    /// Lapsed pairing slots removed.
    pub pairings: usize,
    /// Empty, unlinked mailboxes removed.
    pub mailboxes: usize,
}

impl Engine {
    /// A change stamp: the time in microseconds, strictly above every stamp
    /// given before (two changes must never share a cursor; a burst of a
    /// thousand changes in one millisecond runs a millisecond ahead).
    pub(super) fn change_stamp(&self) -> u64 {
        let now = self.now_ms().saturating_mul(1000);
        let previous = self
            .last_stamp
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| Some(now.max(last.saturating_add(1))))
            .unwrap_or(now);
        now.max(previous.saturating_add(1))
    }

    /// Ops that place `alert` in `mailbox` (tier `tier`), or restamp it
    /// there if it is already placed, so the next poll returns it.
    /// `acknowledged` marks that the alert has been acknowledged (the mark
    /// stays). `room` tracks what this write holds in each mailbox.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn stamp_entry_ops(
        &self,
        mailbox: &MailboxId,
        alert: &AlertId,
        tier: u8,
        acknowledged: bool,
        stamp: u64,
        room: &mut Room,
        ops: &mut Vec<Op>,
    ) -> Result<(), EngineError> {
        let existing = match room.written.get(&(*mailbox, *alert)) {
            Some(entry) => Some(entry.clone()),
            None => self.store.mailbox_entry(mailbox, alert)?,
        };
        let entry = match existing {
            Some(old) => {
                ops.push(Op::DeleteMailboxChange(*mailbox, old.changed, *alert));
                MailboxEntry { changed: stamp, acknowledged: old.acknowledged || acknowledged, ..old }
            }
            None => {
                self.make_room_ops(mailbox, room, ops)?;
                MailboxEntry { added: stamp / STAMPS_PER_SECOND, tier, changed: stamp, acknowledged }
            }
        };
        room.written.insert((*mailbox, *alert), entry.clone());
        ops.push(Op::PutMailboxEntry(*mailbox, *alert, entry));
        Ok(())
    }

    /// Keeps a mailbox within `mailbox_max_entries`: before a new entry is
    /// placed, the entries that changed longest ago beyond the cap go,
    /// acknowledged ones first. (The contact's `aman alerts` keeps its own
    /// copy of each member's 50 most recent alerts.)
    fn make_room_ops(&self, mailbox: &MailboxId, room: &mut Room, ops: &mut Vec<Op>) -> Result<(), EngineError> {
        let cap = self.config.mailbox_max_entries.max(1);
        let held = match room.held.entry(*mailbox) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(v) => {
                // Read once per mailbox per write: the change order and each
                // entry's mark.
                let marks: HashMap<AlertId, bool> =
                    self.store.mailbox_entries(mailbox)?.into_iter().map(|(id, e)| (id, e.acknowledged)).collect();
                let held = self
                    .store
                    .mailbox_changes(mailbox)?
                    .into_iter()
                    .map(|(at, id)| (at, id, marks.get(&id).copied().unwrap_or(true)))
                    .collect();
                v.insert(held)
            }
        };
        if held.len() >= cap {
            let excess = held.len() + 1 - cap;
            let mut order: Vec<usize> = (0..held.len()).collect();
            // Acknowledged first, then by the order they last changed.
            order.sort_by_key(|&i| (!held[i].2, held[i].0));
            let victims: HashSet<usize> = order.into_iter().take(excess).collect();
            for &i in &victims {
                let (at, id, _) = held[i];
                ops.push(Op::DeleteMailboxEntry(*mailbox, id, at));
            }
            let mut i = 0;
            held.retain(|_| {
                let keep = !victims.contains(&i);
                i += 1;
                keep
            });
        }
        // The new entry (its stamp is the newest).
        held.push((u64::MAX, AlertId::from_bytes([0; 16]), false));
        Ok(())
    }

    /// The alert `id` if it is placed in `mailbox`.
    pub(super) fn alert_for_mailbox(&self, mailbox: &MailboxId, id: &AlertId) -> Result<AlertRecord, EngineError> {
        if self.store.mailbox_entry(mailbox, id)?.is_none() {
            return Err(EngineError::not_found("alert"));
        }
        self.store.alert(id)?.ok_or_else(|| EngineError::not_found("alert"))
    }

    /// What changed in a mailbox after `since_ms` (0: everything it holds):
    /// alerts and notices in change order, at most [`READ_LIMIT`] of each
    /// and about [`READ_BYTES`] of notes, and the cursor to pass next time;
    /// `more` when the read stopped short. `owner` is the member whose
    /// contact the mailbox is. Blocking (store reads and decryption): call
    /// off the async workers.
    pub fn mailbox_changes(
        &self,
        mailbox: &MailboxId,
        owner: &AccountId,
        since_ms: u64,
    ) -> Result<MailboxContents, EngineError> {
        // Both indexes are read under the member's lock, which every change
        // to its contacts' mailboxes holds from taking its stamp to applying
        // it: the two reads see the same moment, and stamps appear in order,
        // so a cursor never passes over a change not yet visible.
        let (changes, notices) = {
            let _guard = self.lock_account(owner);
            (
                self.store.mailbox_changes_since(mailbox, since_ms, READ_LIMIT + 1)?,
                self.store.mailbox_notices_after(mailbox, since_ms, READ_LIMIT + 1)?,
            )
        };
        // Where this read stops: before the first alert or notice it cannot
        // include (over a count, or the byte budget).
        let mut stop = u64::MAX;
        if let Some((stamp, _)) = changes.get(READ_LIMIT) {
            stop = stop.min(*stamp);
        }
        if let Some((stamp, _)) = notices.get(READ_LIMIT) {
            stop = stop.min(*stamp);
        }
        let mut alerts = Vec::new();
        let mut cursor = since_ms;
        let mut bytes = 0usize;
        // Drills this read returns in their window, fetched for the first time.
        let mut drills = Vec::new();
        for (changed, id) in changes.into_iter().take(READ_LIMIT) {
            if changed >= stop {
                break;
            }
            if bytes >= READ_BYTES {
                stop = stop.min(changed);
                break;
            }
            cursor = cursor.max(changed);
            let Some(alert) = self.store.alert(&id)? else { continue };
            if self.drill_fetch_due(mailbox, &alert) {
                drills.push((id, alert.account));
            }
            bytes +=
                alert.sealed_alert.0.len() + alert.earlier_notes.iter().map(|n| n.sealed_alert.0.len()).sum::<usize>();
            let meta = self.alert_meta(&id, &alert)?;
            let note_received_at = match &alert.note_received_sealed {
                Some(t) => Some(self.open_note_time(&alert.sealed_alert.0, Some(t))?),
                None => None,
            };
            alerts.push(MailboxAlert {
                alert: id,
                account: alert.account,
                reason: meta.reason.into(),
                fired_at: meta.fired_at,
                deadline: meta.deadline,
                server_was_down: meta.server_was_down,
                sealed_alert: alert.sealed_alert,
                note_received_at,
                earlier_notes: self.received_notes(alert.earlier_notes)?,
                acks: alert.acks.iter().map(Ack::from).collect(),
                notices: alert.notices.iter().map(Notice::from).collect(),
                updated_ms: changed / 1000,
            });
        }
        alerts.sort_by_key(|a| a.fired_at);
        let notices: Vec<_> = notices.into_iter().take(READ_LIMIT).filter(|(stamp, _)| *stamp < stop).collect();
        for (stamp, _) in &notices {
            cursor = cursor.max(*stamp);
        }
        let notices = notices.into_iter().map(|(_, n)| n.into()).collect();
        // Outside the member's lock taken above (this takes it again).
        self.record_drill_fetches(mailbox, &drills);
        Ok(MailboxContents { alerts, notices, cursor_ms: cursor, more: stop != u64::MAX })
    }

    /// Removes what mailboxes no longer need to hold: entries of
    /// acknowledged alerts unchanged for `mailbox_retention` and any entry
    /// unchanged for `mailbox_max_age`; notices older than `mailbox_max_age`
    /// or beyond `mailbox_max_notices` (never one announcing a change still
    /// to come); alert records no mailbox holds any more once dispatched and
    /// unchanged for the retention, with their delivery logs; pairing slots
    /// that lapsed a week ago. Each mailbox is swept under its member's
    /// lock, re-checking what it removes. Blocking.
    pub fn sweep_mailboxes(&self, now: u64) -> Result<SweepReport, EngineError> {
        let now_stamp = now.saturating_mul(STAMPS_PER_SECOND);
        let retention = self.config.mailbox_retention.saturating_mul(STAMPS_PER_SECOND);
        let max_age = self.config.mailbox_max_age.saturating_mul(STAMPS_PER_SECOND);
        let mut report = SweepReport::default();
        // Index keys of mailboxes that no longer exist.
        let mailboxes = self.store.mailboxes()?;
        let existing: HashSet<MailboxId> = mailboxes.iter().map(|(m, _)| *m).collect();
        let orphans: Vec<Op> = self
            .store
            .all_mailbox_changes()?
            .into_iter()
            .filter(|(mb, _, _)| !existing.contains(mb))
            .map(|(mb, at, id)| Op::DeleteMailboxEntry(mb, id, at))
            .collect();
        for chunk in chunks(orphans, 4096) {
            self.commit(chunk)?.wait_blocking()?;
        }
        let mut pending = Vec::new();
        for (mailbox, owner) in mailboxes {
            // The registration lock first (the order every path takes): a
            // mailbox removed here must not be brought back by a concurrent
            // endpoint change.
            let _registration = lock(&self.registration);
            let _guard = self.lock_account(&owner);
            let mut ops = Vec::new();
            let mut kept = 0usize;
            // Read again under the lock: what changed since is seen as it is now.
            for (changed, id) in self.store.mailbox_changes(&mailbox)? {
                let Some(entry) = self.store.mailbox_entry(&mailbox, &id)? else {
                    ops.push(Op::DeleteMailboxChange(mailbox, changed, id)); // an orphaned index key
                    continue;
                };
                if entry.changed != changed {
                    kept += 1;
                    continue; // changed since the scan
                }
                let age = now_stamp.saturating_sub(changed);
                if age > max_age || (entry.acknowledged && age > retention) {
                    ops.push(Op::DeleteMailboxEntry(mailbox, id, changed));
                    report.entries += 1;
                } else {
                    kept += 1;
                }
            }
            let notices = self.store.mailbox_notices(&mailbox)?;
            let excess = notices.len().saturating_sub(self.config.mailbox_max_notices);
            // Only a notice announcing the change still pending is spared
            // (one per kind of change): the contact must see it before it applies.
            let still_pending = match self.account(&owner)? {
                Some(a) => [
                    a.pending_policy.as_ref().map(|p| p.effective_at),
                    a.pending_keys.as_ref().map(|k| k.effective_at),
                    a.pending_deletion,
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<u64>>(),
                None => Vec::new(),
            };
            for (i, (stamp, seq, notice)) in notices.into_iter().enumerate() {
                let announced = notice.notice.effective_at.is_some_and(|at| at > now && still_pending.contains(&at));
                let old = now.saturating_sub(notice.notice.at) > self.config.mailbox_max_age;
                if !announced && (i < excess || old) {
                    ops.push(Op::DeleteMailboxNotice(mailbox, stamp, seq));
                    report.notices += 1;
                } else {
                    kept += 1;
                }
            }
            if kept == 0 && self.unused_mailbox(&mailbox, &owner, now, &mut ops)? {
                report.mailboxes += 1;
            }
            if !ops.is_empty() {
                // Applied under the locks; the flush is waited for after them.
                pending.push(self.commit(ops)?);
            }
        }
        for ticket in pending {
            ticket.wait_blocking()?;
        }
        let retention_ms = self.config.mailbox_retention.saturating_mul(1000);
        report.alerts = self.sweep_alerts(now.saturating_mul(1000).saturating_sub(retention_ms))?;
        let mut ops = Vec::new();
        for (invite, pairing) in self.store.pairings()? {
            if pairing.expires_at.saturating_add(super::pairing::PAIRING_KEPT_AFTER) < now {
                ops.push(Op::DeletePairing(invite));
                report.pairings += 1;
            }
        }
        for chunk in chunks(ops, 4096) {
            self.commit(chunk)?.wait_blocking()?;
        }
        Ok(report)
    }

    /// Adds the ops that remove an empty mailbox nobody uses: not linked
    /// (nor about to be) by its member, created longer than the retention
    /// ago, or left by a deleted account. It frees the member's pairing
    /// allowance, so a captor who paired mailboxes of their own cannot use
    /// it up for good. Returns whether it is removed.
    fn unused_mailbox(
        &self,
        mailbox: &MailboxId,
        owner: &AccountId,
        now: u64,
        ops: &mut Vec<Op>,
    ) -> Result<bool, EngineError> {
        let Some(record) = self.store.mailbox(mailbox)? else { return Ok(false) };
        let Some(mut account) = self.account(owner)? else {
            ops.push(Op::DeleteMailbox(*mailbox));
            return Ok(true);
        };
        let linked = |p: &aman_protocol::api::Policy| p.contacts.iter().any(|c| c.mailbox == *mailbox);
        let pending = account.pending_policy.as_ref().is_some_and(|p| linked(&p.policy));
        if linked(&account.policy) || pending || record.created.saturating_add(self.config.mailbox_retention) > now {
            return Ok(false);
        }
        ops.push(Op::DeleteMailbox(*mailbox));
        account.mailboxes.retain(|m| m != mailbox);
        ops.push(Op::PutAccount(*owner, account.record));
        Ok(true)
    }

    /// Whether a mailbox of the alert's contacts still holds it.
    fn alert_held(&self, alert: &AlertRecord, id: &AlertId) -> Result<bool, EngineError> {
        for (mailbox, _) in &alert.contacts {
            if self.store.mailbox_entry(mailbox, id)?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Removes alert records (and their delivery logs) that no mailbox
    /// holds, that were dispatched and that have not changed since
    /// `before_ms`: evicted by a full mailbox, swept, or never placed (a
    /// member without contacts). Returns how many went.
    fn sweep_alerts(&self, before_ms: u64) -> Result<usize, EngineError> {
        let held: HashSet<AlertId> = self.store.all_mailbox_changes()?.into_iter().map(|(_, _, id)| id).collect();
        let mut removed = 0;
        let mut pending = Vec::new();
        for (id, account, dispatched, updated_ms) in self.store.alert_summaries()? {
            if held.contains(&id) || !dispatched || updated_ms >= before_ms {
                continue;
            }
            let _guard = self.lock_account(&account);
            // Re-read under the lock: placed or changed since the scan? The
            // member's latest alert stays whatever its age: a late check-in,
            // however late, is noted on it and told to its contacts.
            let Some(alert) = self.store.alert(&id)? else { continue };
            let latest = self.account(&account)?.is_some_and(|a| a.alerts.last() == Some(&id));
            if latest || alert.updated_ms >= before_ms || self.alert_held(&alert, &id)? {
                continue;
            }
            let mut ops = vec![Op::DeleteAlert(id)];
            for (at, seq) in self.store.delivery_log_keys(&id)? {
                ops.push(Op::DeleteDeliveryLog(id, at, seq));
            }
            pending.push(self.commit(ops)?);
            removed += 1;
        }
        for ticket in pending {
            ticket.wait_blocking()?;
        }
        Ok(removed)
    }
}

fn chunks(mut ops: Vec<Op>, size: usize) -> Vec<Vec<Op>> {
    let mut out = Vec::new();
    while ops.len() > size {
        let rest = ops.split_off(size);
        out.push(std::mem::replace(&mut ops, rest));
    }
    out.push(ops);
    out
}
