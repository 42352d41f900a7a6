//! Firing alerts, escalation, acknowledgements and what a mailbox shows.

use super::error::EngineError;
use super::live::Account;
use super::mailbox::Room;
use super::{lock, Engine};
use crate::store::{
    AckRecord, AlertMeta, AlertRecord, DeliveryRecord, NoticeRecord, Op, OutboxChannel, OutboxEntry, Purpose, Reason,
};
use aman_protocol::api::{DeliveryChannel, DeliveryLog, DeliveryOutcome, NoticeKind, B64};
use aman_protocol::hash::sha256;
use aman_protocol::random::random_array;
use aman_protocol::{AccountId, AlertId, MailboxId};
use std::sync::atomic::{AtomicU64, Ordering};

static LOG_SEQ: AtomicU64 = AtomicU64::new(0);

/// Alert ids an account record keeps, newest last.
pub const MAX_ALERTS_LISTED: usize = 16;

/// The idempotency key of one (alert, mailbox, endpoint) notification: the
/// same on every attempt and after every restart.
pub fn idempotency_key(alert: &AlertId, mailbox: &MailboxId, endpoint: u8) -> String {
    let mut input = Vec::with_capacity(33);
    input.extend_from_slice(alert.as_bytes());
    input.extend_from_slice(mailbox.as_bytes());
    input.push(endpoint);
    data_encoding::HEXLOWER.encode(&sha256(&input)[..16])
}

/// A delivery-log op with a unique key. It records no reason: a contact
/// reads this log, and the reason for a failure is the organizer's.
pub fn log_op(
    alert: &AlertId,
    mailbox: MailboxId,
    channel: DeliveryChannel,
    at_ms: u64,
    outcome: DeliveryOutcome,
) -> Op {
    Op::PutDeliveryLog(
        *alert,
        at_ms,
        LOG_SEQ.fetch_add(1, Ordering::Relaxed),
        DeliveryRecord { mailbox, channel, at: at_ms / 1000, outcome, detail: String::new() },
    )
}

impl Engine {
    /// Adds the ops that create an alert: the alert itself, with its reason
    /// and times sealed in a fixed-width value, and its dispatch entry. Its
    /// contacts are told later, by [`Engine::dispatch`], after a random delay
    /// that every kind of alert gets: nothing that wakes contacts or sends a
    /// notification happens inside the request that caused it. The caller
    /// arms the returned dispatch with [`Engine::schedule_dispatch`] once the
    /// ops are applied. `now` is when the alert fired (for a duress
    /// check-in: the check-in's time, read back from its signal); `dispatch`
    /// overrides the random delay (a signal already waited it out).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fire_ops(
        &self,
        account_id: &AccountId,
        account: &mut Account,
        reason: Reason,
        deadline: Option<u64>,
        sealed: Option<Vec<u8>>,
        now: u64,
        dispatch: Option<u64>,
        ops: &mut Vec<Op>,
    ) -> Result<(AlertId, u64), EngineError> {
        let id = AlertId::random().map_err(EngineError::internal)?;
        let meta = AlertMeta {
            reason,
            fired_at: now,
            deadline,
            server_was_down: reason == Reason::Missed && account.live.outage_extended,
        };
        let meta_sealed = self.server_key().encrypt(id.as_bytes(), &meta.encode()).map_err(EngineError::internal)?;
        let contacts: Vec<(MailboxId, u8)> =
            account.policy.contacts.iter().filter(|c| c.is_active(now)).map(|c| (c.mailbox, c.tier)).collect();
        let dispatch_at = match dispatch {
            Some(at) => at,
            None => self.dispatch_at()?.max(now),
        };
        let alert = AlertRecord {
            account: *account_id,
            meta_sealed: B64(meta_sealed),
            dispatched: false,
            legacy: Default::default(),
            sealed_alert: B64(sealed.unwrap_or_default()),
            note_received_sealed: account.note_received_sealed.clone(),
            earlier_notes: self.earlier_notes(account_id, ops)?,
            contacts,
            notified_tier: 0,
            escalation_delays: account.policy.escalation_delays.clone(),
            acks: Vec::new(),
            notices: Vec::new(),
            updated_ms: dispatch_at.saturating_mul(1000),
            drill: None,
        };
        // The dispatch entry first: a crash between the two leaves an entry
        // for a missing alert (deleted when due), never an alert nobody tells.
        ops.push(Op::PutDispatch(dispatch_at, id));
        ops.push(Op::PutAlert(id, alert));
        account.alerts.push(id);
        // Only the latest is ever read (a late check-in's notice); the list
        // must not grow without end for a member who presses panic daily.
        if account.alerts.len() > MAX_ALERTS_LISTED {
            let excess = account.alerts.len() - MAX_ALERTS_LISTED;
            account.alerts.drain(..excess);
        }
        account.live.alert_open = true;
        Ok((id, dispatch_at))
    }

    /// When a new alert's contacts are told (unix seconds): after a random
    /// delay between half of `dispatch_delay` and all of it, drawn in
    /// milliseconds and rounded up to the scheduler's whole seconds. Never
    /// zero (unless configured so), so nothing an alert causes can happen
    /// while the request that caused it is still being answered.
    pub(super) fn dispatch_at(&self) -> Result<u64, EngineError> {
        let max_ms = self.config.dispatch_delay.saturating_mul(1000);
        if max_ms == 0 {
            return Ok(self.clock.now()); // at once (tests and benchmarks only)
        }
        let min_ms = max_ms / 2;
        let r = u64::from_be_bytes(random_array::<8>().map_err(EngineError::internal)?);
        let delay_ms = min_ms + r % (max_ms - min_ms + 1);
        Ok(self.now_ms().saturating_add(delay_ms).div_ceil(1000))
    }

    /// Mirrors an applied dispatch entry so the scheduler acts on it.
    pub(super) fn schedule_dispatch(&self, at: u64, id: AlertId) {
        lock(&self.schedule).add_dispatch(at, id);
        self.scheduler_wake.notify_one();
    }

    /// Tells the first tier of every alert in `due`: mailbox entries,
    /// notifications, the escalation check. Runs from the scheduler when the
    /// dispatches fall due; alerts due together share one write and one flush.
    pub(super) fn dispatch_due(&self, due: &[(u64, AlertId)], now: u64) -> Result<Vec<AlertId>, EngineError> {
        let mut probes = Vec::with_capacity(due.len());
        for (at, id) in due {
            probes.push((*at, *id, self.store.alert(id)?));
        }
        let accounts: Vec<AccountId> = probes.iter().filter_map(|(_, _, a)| a.as_ref().map(|a| a.account)).collect();
        let mut ops = Vec::new();
        let mut told = Vec::new();
        let mut dispatched = Vec::new();
        let mut room = Room::default();
        let ticket = {
            let _guards = self.lock_accounts(accounts.iter());
            for (at, id, probe) in probes {
                ops.push(Op::DeleteDispatch(at, id));
                if probe.is_none() {
                    continue;
                }
                // Read again under the lock: a late check-in may have added a notice.
                let Some(mut alert) = self.store.alert(&id)? else { continue };
                if alert.dispatched {
                    // A later change to show (a late check-in): wake whoever
                    // holds the alert, after the same delay as any dispatch;
                    // their next poll returns it.
                    let stamp = self.change_stamp();
                    for (mailbox, tier) in told_so_far_tiers(&alert) {
                        self.stamp_entry_ops(&mailbox, &id, tier, false, stamp, &mut room, &mut ops)?;
                        told.push(mailbox);
                    }
                    continue;
                }
                alert.dispatched = true;
                told.extend(self.notify_next_tier(&id, &mut alert, now, &mut room, &mut ops)?);
                ops.push(Op::PutAlert(id, alert));
                dispatched.push(id);
            }
            self.commit(ops)?
        };
        ticket.wait_blocking()?;
        for id in &dispatched {
            self.metrics.inc(&self.metrics.alerts_fired);
            tracing::info!(alert = %id, "alert dispatched");
        }
        self.after_dispatch(told);
        Ok(dispatched)
    }

    /// Places the alert with the next tier up and schedules the escalation
    /// after it. Returns the mailboxes told (none when there is no higher tier).
    fn notify_next_tier(
        &self,
        id: &AlertId,
        alert: &mut AlertRecord,
        now: u64,
        room: &mut Room,
        ops: &mut Vec<Op>,
    ) -> Result<Vec<MailboxId>, EngineError> {
        // A drill tests every contact: all tiers at once, never escalated.
        let drill = self.alert_meta(id, alert)?.reason == Reason::Drill;
        let above = alert.contacts.iter().map(|(_, t)| *t).filter(|t| *t > alert.notified_tier);
        let Some(tier) = (if drill { above.max() } else { above.min() }) else {
            return Ok(Vec::new());
        };
        let now_ms = self.now_ms();
        let stamp = self.change_stamp();
        let mut told = Vec::new();
        let lowest = if drill { alert.notified_tier.saturating_add(1) } else { tier };
        for (mailbox, own_tier) in alert.contacts.iter().filter(|(_, t)| (lowest..=tier).contains(t)) {
            told.push(*mailbox);
            self.stamp_entry_ops(mailbox, id, *own_tier, false, stamp, room, ops)?;
            ops.push(log_op(id, *mailbox, DeliveryChannel::Mailbox, now_ms, DeliveryOutcome::Delivered));
            if let Some(mb) = self.store.mailbox(mailbox)? {
                for endpoint in &mb.endpoints {
                    let entry = OutboxEntry {
                        endpoint: endpoint.id,
                        attempts: 0,
                        idempotency_key: idempotency_key(id, mailbox, endpoint.id),
                        first_queued: now,
                    };
                    ops.push(Op::PutOutbox(now, *id, *mailbox, outbox_channel(endpoint.id, Purpose::Alert)?, entry));
                }
            }
        }
        alert.notified_tier = tier;
        if drill && alert.drill.is_none() {
            // The drill's window runs from its dispatch (§10, Drills).
            let window_closes = now.saturating_add(self.config.drill_window);
            alert.drill = Some(crate::store::DrillRecord { window_closes, fetched: Vec::new() });
        }
        if alert.contacts.iter().any(|(_, t)| *t > tier) {
            let delay = escalation_delay(&alert.escalation_delays, tier, self.config.escalation_delay);
            let at = now.saturating_add(delay);
            ops.push(Op::PutEscalation(at, *id));
            lock(&self.schedule).add_escalation(at, *id);
        }
        alert.updated_ms = self.now_ms();
        Ok(told)
    }

    /// After a dispatch or escalation is durable: wake the contacts told
    /// (only those) and the delivery worker.
    fn after_dispatch(&self, told: Vec<MailboxId>) {
        if told.is_empty() {
            return;
        }
        self.mailboxes_changed(told);
        self.delivery_wake.notify_one();
        self.scheduler_wake.notify_one();
    }

    /// Escalates `id` if nobody has acknowledged it.
    pub(super) fn escalate(&self, id: &AlertId, at: u64, now: u64) -> Result<bool, EngineError> {
        let Some(probe) = self.store.alert(id)? else {
            self.commit(vec![Op::DeleteEscalation(at, *id)])?.wait_blocking()?;
            return Ok(false);
        };
        let mut ops = vec![Op::DeleteEscalation(at, *id)];
        let (told, ticket) = {
            let _guard = self.lock_account(&probe.account);
            // Read again under the lock: an acknowledgement may have landed since.
            let mut alert = self.store.alert(id)?.unwrap_or(probe);
            let told = if alert.acks.is_empty() {
                self.notify_next_tier(id, &mut alert, now, &mut Room::default(), &mut ops)?
            } else {
                Vec::new()
            };
            ops.push(Op::PutAlert(*id, alert));
            (told, self.commit(ops)?)
        };
        ticket.wait_blocking()?;
        let escalated = !told.is_empty();
        if escalated {
            tracing::info!(alert = %id, "alert escalated");
            self.after_dispatch(told);
        }
        Ok(escalated)
    }

    /// Records a late check-in (received at `at`) on the latest alert. Runs
    /// when the check-in's signal is read, after the dispatch delay, never
    /// inside the check-in: neither the request's work nor a long-poll
    /// answered right after it may tell that an alert was open. Its contacts
    /// are woken at `wake_at`. Returns that dispatch, to arm once applied.
    pub(super) fn late_checkin_ops(
        &self,
        id: &AlertId,
        at: u64,
        wake_at: u64,
        ops: &mut Vec<Op>,
    ) -> Result<Option<(AlertId, u64)>, EngineError> {
        let Some(mut alert) = self.store.alert(id)? else {
            return Ok(None);
        };
        alert.notices.push(NoticeRecord::new(NoticeKind::CheckedInLate, at, None));
        let wake = if alert.dispatched {
            let at = wake_at;
            alert.updated_ms = self.now_ms();
            ops.push(Op::PutDispatch(at, *id));
            Some((*id, at))
        } else {
            None // shown with the alert when it is dispatched
        };
        ops.push(Op::PutAlert(*id, alert));
        Ok(wake)
    }

    /// An alert's sealed facts, decrypted with the server key.
    pub fn alert_meta(&self, id: &AlertId, alert: &AlertRecord) -> Result<AlertMeta, EngineError> {
        if alert.meta_sealed.0.is_empty() {
            return self.legacy_alert_meta(id, alert);
        }
        let bytes = self
            .server_key()
            .decrypt(id.as_bytes(), &alert.meta_sealed.0)
            .map_err(|_| EngineError::internal("alert facts do not decrypt: wrong server key file?"))?;
        AlertMeta::decode(&bytes).ok_or_else(|| EngineError::internal("corrupt alert facts"))
    }

    /// The facts of an alert written by v0.1.
    fn legacy_alert_meta(&self, id: &AlertId, alert: &AlertRecord) -> Result<AlertMeta, EngineError> {
        let old = &alert.legacy;
        let sealed = old.reason_sealed.as_ref().ok_or_else(|| EngineError::internal("an alert without its facts"))?;
        let text = self
            .server_key()
            .decrypt(id.as_bytes(), &sealed.0)
            .map_err(|_| EngineError::internal("alert reason does not decrypt: wrong server key file?"))?;
        let reason = std::str::from_utf8(&text)
            .ok()
            .and_then(Reason::parse)
            .ok_or_else(|| EngineError::internal("corrupt alert reason"))?;
        Ok(AlertMeta {
            reason,
            fired_at: old.fired_at.unwrap_or(0),
            deadline: old.deadline,
            server_was_down: old.server_was_down.unwrap_or(false),
        })
    }

    /// A contact acknowledges: escalation stops and the others are told.
    pub fn acknowledge(&self, mailbox: &MailboxId, id: &AlertId) -> Result<crate::store::Durable, EngineError> {
        let probe = self.alert_for_mailbox(mailbox, id)?;
        let _guard = self.lock_account(&probe.account);
        let mut alert = self.alert_for_mailbox(mailbox, id)?;
        let now = self.clock.now();
        if alert.acks.iter().any(|a| a.mailbox == *mailbox) {
            return self.commit(Vec::new());
        }
        alert.acks.push(AckRecord { mailbox: *mailbox, at: now });
        alert.notices.push(NoticeRecord::new(NoticeKind::Acknowledged, now, None));
        alert.updated_ms = self.now_ms();
        let mut ops = Vec::new();
        // Every contact holding the alert sees the acknowledgement, the one
        // who gave it too (on another device).
        let stamp = self.change_stamp();
        let mut room = Room::default();
        for (held, tier) in told_so_far_tiers(&alert) {
            self.stamp_entry_ops(&held, id, tier, true, stamp, &mut room, &mut ops)?;
        }
        let holders = told_so_far(&alert);
        let others: Vec<MailboxId> = holders.iter().filter(|m| *m != mailbox).copied().collect();
        // Tell every other contact already holding the alert, through their channels too.
        for other in &others {
            if let Some(mb) = self.store.mailbox(other)? {
                for endpoint in &mb.endpoints {
                    let entry = OutboxEntry {
                        endpoint: endpoint.id,
                        attempts: 0,
                        idempotency_key: format!("{}-ack", idempotency_key(id, other, endpoint.id)),
                        first_queued: now,
                    };
                    ops.push(Op::PutOutbox(now, *id, *other, outbox_channel(endpoint.id, Purpose::Ack)?, entry));
                }
            }
        }
        ops.push(Op::PutAlert(*id, alert));
        let ticket = self.commit(ops)?;
        // Every holder is woken, the acknowledging contact's other devices too.
        Ok(self.wake_when_durable(ticket, holders))
    }

    /// An alert's delivery log, for one of its contacts.
    pub fn delivery_log(&self, mailbox: &MailboxId, id: &AlertId) -> Result<DeliveryLog, EngineError> {
        self.alert_for_mailbox(mailbox, id)?;
        Ok(DeliveryLog { attempts: self.store.delivery_log(id)?.into_iter().map(Into::into).collect() })
    }
}

/// The outbox channel of a stored endpoint for `purpose` (a stored id
/// always fits: [`Engine::add_endpoint`] gives ids below the limit).
pub(super) fn outbox_channel(endpoint: u8, purpose: Purpose) -> Result<OutboxChannel, EngineError> {
    OutboxChannel::new(endpoint, purpose).ok_or_else(|| EngineError::internal("corrupt endpoint id"))
}

/// The idempotency key of the re-notification after the one keyed `key`:
/// the same shape as every other key, new each round, and the same on every
/// attempt of that round (derived, not drawn, so a crash resends it).
pub fn renotify_key(key: &str) -> String {
    let mut input = b"aman/v2/renotify\0".to_vec();
    input.extend_from_slice(key.as_bytes());
    data_encoding::HEXLOWER.encode(&sha256(&input)[..16])
}

/// The mailboxes an alert has been placed in so far.
fn told_so_far(alert: &AlertRecord) -> Vec<MailboxId> {
    told_so_far_tiers(alert).into_iter().map(|(m, _)| m).collect()
}

/// The mailboxes an alert has been placed in so far, with their tiers.
fn told_so_far_tiers(alert: &AlertRecord) -> Vec<(MailboxId, u8)> {
    if !alert.dispatched {
        return Vec::new();
    }
    alert.contacts.iter().filter(|(_, t)| *t <= alert.notified_tier).copied().collect()
}

/// Tier `tier`'s escalation delay: entry `tier - 1`, else the last entry, else the default.
pub fn escalation_delay(delays: &[u64], tier: u8, default: u64) -> u64 {
    let index = usize::from(tier.saturating_sub(1));
    delays.get(index).or(delays.last()).copied().unwrap_or(default)
}
