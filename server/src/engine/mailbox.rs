//! What a contact's mailbox holds and how it is read: change stamps, the
//! incremental read a long-poll makes, and the bounds that keep a mailbox
//! small (retention of acknowledged and old entries, a size cap).
//!
//! Every alert placed in a mailbox has an entry there and a key in the
//! mailbox's change index (`mailbox ‖ changed_ms ‖ alert`). A change a
//! contact should see (the alert placed, an acknowledgement, a late
//! check-in) gives the entry a new stamp, so a poll reads only the index
//! range after its cursor and the alerts in it: a mailbox with thousands of
//! old entries answers a poll with only the new ones.

use super::error::EngineError;
use super::Engine;
use crate::store::{AlertRecord, MailboxEntry, Op};
use aman_protocol::api::{MailboxAlert, MailboxContents};
use aman_protocol::{AlertId, MailboxId};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;

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
}

impl Engine {
    /// A change stamp: the time in milliseconds, strictly above every stamp
    /// given before (two changes in one millisecond must not share a cursor).
    pub(super) fn change_stamp(&self) -> u64 {
        let now = self.now_ms();
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
        let entry = match self.store.mailbox_entry(mailbox, alert)? {
            Some(old) => {
                ops.push(Op::DeleteMailboxChange(*mailbox, old.changed_ms, *alert));
                MailboxEntry { changed_ms: stamp, acknowledged: old.acknowledged || acknowledged, ..old }
            }
            None => {
                self.make_room_ops(mailbox, room, ops)?;
                MailboxEntry { added: stamp / 1000, tier, changed_ms: stamp, acknowledged }
            }
        };
        ops.push(Op::PutMailboxEntry(*mailbox, *alert, entry));
        Ok(())
    }

    /// Keeps a mailbox within `mailbox_max_entries`: before a new entry is
    /// placed, the entries that changed longest ago beyond the cap go,
    /// acknowledged ones first. (The contact's client keeps its own copy.)
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
    /// at most [`READ_LIMIT`] alerts in change order, the notices after the
    /// cursor, and the cursor to pass next time. Blocking (store reads and
    /// decryption): call off the async workers.
    pub fn mailbox_changes(&self, mailbox: &MailboxId, since_ms: u64) -> Result<MailboxContents, EngineError> {
        let changes = self.store.mailbox_changes_since(mailbox, since_ms, READ_LIMIT + 1)?;
        let mut more = changes.len() > READ_LIMIT;
        let mut alerts = Vec::new();
        let mut cursor = since_ms;
        let mut bytes = 0usize;
        for (changed_ms, id) in changes.into_iter().take(READ_LIMIT) {
            if bytes >= READ_BYTES {
                more = true;
                break;
            }
            cursor = cursor.max(changed_ms);
            let Some(alert) = self.store.alert(&id)? else { continue };
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
                reason: meta.reason.as_str().to_owned(),
                fired_at: meta.fired_at,
                deadline: meta.deadline,
                server_was_down: meta.server_was_down,
                sealed_alert: alert.sealed_alert,
                note_received_at,
                earlier_notes: self.received_notes(alert.earlier_notes)?,
                acks: alert.acks,
                notices: alert.notices,
                updated_ms: changed_ms,
            });
        }
        alerts.sort_by_key(|a| a.fired_at);
        // Notices are keyed by their change stamp too; while more alerts
        // remain, only the notices up to the cursor are included (the rest
        // come with the next read, so none is skipped).
        let notices: Vec<_> = self
            .store
            .mailbox_notices_after(mailbox, since_ms)?
            .into_iter()
            .filter(|(stamp, _)| !more || *stamp <= cursor)
            .collect();
        for (stamp, _) in &notices {
            cursor = cursor.max(*stamp);
        }
        let notices = notices.into_iter().map(|(_, n)| n).collect();
        Ok(MailboxContents { alerts, notices, cursor_ms: cursor, more })
    }

    /// Removes what mailboxes no longer need to hold: entries of
    /// acknowledged alerts unchanged for `mailbox_retention`, any entry
    /// unchanged for `mailbox_max_age`, notices older than
    /// `mailbox_max_age` (or beyond `mailbox_max_notices`), alert records
    /// no mailbox holds any more (once dispatched and older than the
    /// retention), and pairing slots that lapsed a week ago. Blocking.
    pub fn sweep_mailboxes(&self, now: u64) -> Result<SweepReport, EngineError> {
        let now_ms = now.saturating_mul(1000);
        let retention_ms = self.config.mailbox_retention.saturating_mul(1000);
        let max_age_ms = self.config.mailbox_max_age.saturating_mul(1000);
        let mut report = SweepReport::default();
        let mut ops = Vec::new();
        let mut still_held: HashSet<AlertId> = HashSet::new();
        let mut dropped: HashSet<AlertId> = HashSet::new();
        let mut acknowledged: std::collections::HashMap<AlertId, bool> = std::collections::HashMap::new();
        for (mailbox, changed_ms, id) in self.store.all_mailbox_changes()? {
            let age = now_ms.saturating_sub(changed_ms);
            let acked = match acknowledged.get(&id) {
                Some(a) => *a,
                None => {
                    let a = self.store.alert(&id)?.is_none_or(|a| !a.acks.is_empty());
                    acknowledged.insert(id, a);
                    a
                }
            };
            if age > max_age_ms || (acked && age > retention_ms) {
                ops.push(Op::DeleteMailboxEntry(mailbox, id, changed_ms));
                dropped.insert(id);
                report.entries += 1;
            } else {
                still_held.insert(id);
            }
        }
        for id in dropped.difference(&still_held) {
            if let Some(alert) = self.store.alert(id)? {
                if alert.dispatched {
                    ops.push(Op::DeleteAlert(*id));
                    report.alerts += 1;
                }
            }
        }
        for (mailbox, _) in self.store.mailboxes()? {
            let notices = self.store.mailbox_notices(&mailbox)?;
            let cap = self.config.mailbox_max_notices;
            let excess = notices.len().saturating_sub(cap);
            for (i, (stamp, seq, notice)) in notices.into_iter().enumerate() {
                let old = now.saturating_sub(notice.notice.at) > self.config.mailbox_max_age;
                if i < excess || old {
                    ops.push(Op::DeleteMailboxNotice(mailbox, stamp, seq));
                    report.notices += 1;
                }
            }
        }
        for (invite, pairing) in self.store.pairings()? {
            if pairing.expires_at.saturating_add(super::pairing::PAIRING_KEPT_AFTER) < now {
                ops.push(Op::DeletePairing(invite));
                report.pairings += 1;
            }
        }
        if !ops.is_empty() {
            for chunk in chunks(ops, 4096) {
                self.commit(chunk)?.wait_blocking()?;
            }
        }
        Ok(report)
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
