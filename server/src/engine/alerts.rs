//! Firing alerts, escalation, acknowledgements and what a mailbox shows.

use super::{lock, Engine};
use crate::error::ApiError;
use crate::store::{AccountRecord, AlertRecord, DeliveryRecord, MailboxEntry, Op, OutboxEntry, Reason};
use aman_protocol::api::{Ack, DeliveryLog, MailboxAlert, MailboxContents, Notice, B64};
use aman_protocol::hash::sha256;
use aman_protocol::{AccountId, AlertId, MailboxId};
use std::sync::atomic::{AtomicU64, Ordering};

static LOG_SEQ: AtomicU64 = AtomicU64::new(0);

/// The idempotency key of one (alert, mailbox, endpoint) notification: the
/// same on every attempt and after every restart.
pub fn idempotency_key(alert: &AlertId, mailbox: &MailboxId, endpoint: u8) -> String {
    let mut input = Vec::with_capacity(33);
    input.extend_from_slice(alert.as_bytes());
    input.extend_from_slice(mailbox.as_bytes());
    input.push(endpoint);
    data_encoding::HEXLOWER.encode(&sha256(&input)[..16])
}

/// A delivery-log op with a unique key.
pub fn log_op(alert: &AlertId, mailbox: MailboxId, channel: &str, at_ms: u64, outcome: &str, detail: &str) -> Op {
    Op::PutDeliveryLog(
        *alert,
        at_ms,
        LOG_SEQ.fetch_add(1, Ordering::Relaxed),
        DeliveryRecord {
            mailbox,
            channel: channel.to_owned(),
            at: at_ms / 1000,
            outcome: outcome.to_owned(),
            detail: detail.to_owned(),
        },
    )
}

impl Engine {
    /// Adds the ops that create an alert: the alert, a mailbox entry and
    /// outbox entries for every tier-1 contact, and the escalation check.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fire_ops(
        &self,
        account_id: &AccountId,
        account: &mut AccountRecord,
        reason: Reason,
        deadline: Option<u64>,
        sealed: Option<Vec<u8>>,
        now: u64,
        ops: &mut Vec<Op>,
    ) -> Result<AlertId, ApiError> {
        let id = AlertId::random().map_err(ApiError::internal)?;
        let reason_sealed =
            self.server_key().encrypt(id.as_bytes(), reason.as_str().as_bytes()).map_err(ApiError::internal)?;
        let contacts: Vec<(MailboxId, u8)> = account.policy.contacts.iter().map(|c| (c.mailbox, c.tier)).collect();
        let mut alert = AlertRecord {
            account: *account_id,
            reason_sealed: B64(reason_sealed),
            fired_at: now,
            deadline,
            server_was_down: reason == Reason::Missed && account.outage_extended,
            sealed_alert: B64(sealed.unwrap_or_default()),
            contacts,
            notified_tier: 0,
            escalation_delays: account.policy.escalation_delays.clone(),
            acks: Vec::new(),
            notices: Vec::new(),
            updated_ms: self.now_ms(),
        };
        self.notify_next_tier(&id, &mut alert, now, ops)?;
        ops.push(Op::PutAlert(id, alert));
        account.alerts.push(id);
        account.alert_open = true;
        self.metrics.inc(&self.metrics.alerts_fired);
        tracing::info!(alert = %id, "alert fired");
        Ok(id)
    }

    /// Places the alert with the next tier up and schedules the escalation
    /// after it. Returns false when there is no higher tier.
    fn notify_next_tier(
        &self,
        id: &AlertId,
        alert: &mut AlertRecord,
        now: u64,
        ops: &mut Vec<Op>,
    ) -> Result<bool, ApiError> {
        let Some(tier) = alert.contacts.iter().map(|(_, t)| *t).filter(|t| *t > alert.notified_tier).min() else {
            return Ok(false);
        };
        let now_ms = self.now_ms();
        for (mailbox, _) in alert.contacts.iter().filter(|(_, t)| *t == tier) {
            ops.push(Op::PutMailboxEntry(*mailbox, *id, MailboxEntry { added: now, tier }));
            ops.push(log_op(id, *mailbox, "mailbox", now_ms, "delivered", ""));
            if let Some(mb) = self.store.mailbox(mailbox)? {
                for endpoint in &mb.endpoints {
                    let entry = OutboxEntry {
                        endpoint: endpoint.id,
                        attempts: 0,
                        idempotency_key: idempotency_key(id, mailbox, endpoint.id),
                        first_queued: now,
                    };
                    ops.push(Op::PutOutbox(now, *id, *mailbox, endpoint.id, entry));
                }
            }
        }
        alert.notified_tier = tier;
        if alert.contacts.iter().any(|(_, t)| *t > tier) {
            let delay = escalation_delay(&alert.escalation_delays, tier, self.config.escalation_delay);
            let at = now.saturating_add(delay);
            ops.push(Op::PutEscalation(at, *id));
            lock(&self.schedule).add_escalation(at, *id);
        }
        alert.updated_ms = self.now_ms();
        Ok(true)
    }

    /// After an alert's ops are durable: wake contacts and the delivery worker.
    pub(super) fn after_fire(&self) {
        self.mailboxes_changed();
        self.delivery_wake.notify_one();
        self.scheduler_wake.notify_one();
    }

    /// Escalates `id` if nobody has acknowledged it.
    pub(super) fn escalate(&self, id: &AlertId, at: u64, now: u64) -> Result<bool, ApiError> {
        let Some(probe) = self.store.alert(id)? else {
            self.commit(vec![Op::DeleteEscalation(at, *id)])?.wait_blocking()?;
            return Ok(false);
        };
        let mut ops = vec![Op::DeleteEscalation(at, *id)];
        let (escalated, ticket) = {
            let _guard = self.lock_account(&probe.account);
            // Read again under the lock: an acknowledgement may have landed since.
            let mut alert = self.store.alert(id)?.unwrap_or(probe);
            let escalated = alert.acks.is_empty() && self.notify_next_tier(id, &mut alert, now, &mut ops)?;
            ops.push(Op::PutAlert(*id, alert));
            (escalated, self.commit(ops)?)
        };
        ticket.wait_blocking()?;
        if escalated {
            tracing::info!(alert = %id, "alert escalated");
            self.after_fire();
        }
        Ok(escalated)
    }

    /// Records a late check-in on the latest alert.
    pub(super) fn late_checkin_ops(&self, id: &AlertId, now: u64, ops: &mut Vec<Op>) -> Result<(), ApiError> {
        if let Some(mut alert) = self.store.alert(id)? {
            alert.notices.push(Notice { kind: "checked_in_late".into(), at: now, effective_at: None });
            alert.updated_ms = self.now_ms();
            ops.push(Op::PutAlert(*id, alert));
        }
        Ok(())
    }

    /// An alert's reason, decrypted with the server key.
    pub fn reason(&self, id: &AlertId, alert: &AlertRecord) -> Result<Reason, ApiError> {
        let text = self
            .server_key()
            .decrypt(id.as_bytes(), &alert.reason_sealed.0)
            .map_err(|_| ApiError::internal("alert reason does not decrypt: wrong server key file?"))?;
        std::str::from_utf8(&text)
            .ok()
            .and_then(Reason::parse)
            .ok_or_else(|| ApiError::internal("corrupt alert reason"))
    }

    /// A contact's mailbox: its alerts and notices.
    pub fn mailbox_contents(&self, mailbox: &MailboxId) -> Result<MailboxContents, ApiError> {
        let mut alerts = Vec::new();
        let mut cursor = 0;
        for (id, _entry) in self.store.mailbox_entries(mailbox)? {
            let Some(alert) = self.store.alert(&id)? else {
                continue;
            };
            cursor = cursor.max(alert.updated_ms);
            alerts.push(MailboxAlert {
                alert: id,
                account: alert.account,
                reason: self.reason(&id, &alert)?.as_str().to_owned(),
                fired_at: alert.fired_at,
                deadline: alert.deadline,
                server_was_down: alert.server_was_down,
                sealed_alert: alert.sealed_alert,
                acks: alert.acks,
                notices: alert.notices,
                updated_ms: alert.updated_ms,
            });
        }
        alerts.sort_by_key(|a| a.fired_at);
        let notices = self.store.mailbox_notices(mailbox)?;
        for n in &notices {
            cursor = cursor.max(n.notice.at.saturating_mul(1000));
        }
        Ok(MailboxContents { alerts, notices, cursor_ms: cursor })
    }

    fn alert_for_mailbox(&self, mailbox: &MailboxId, id: &AlertId) -> Result<AlertRecord, ApiError> {
        let placed = self.store.mailbox_entries(mailbox)?.iter().any(|(a, _)| a == id);
        match self.store.alert(id)? {
            Some(alert) if placed => Ok(alert),
            _ => Err(ApiError::not_found("alert")),
        }
    }

    /// A contact acknowledges: escalation stops and the others are told.
    pub fn acknowledge(&self, mailbox: &MailboxId, id: &AlertId) -> Result<crate::store::Durable, ApiError> {
        let probe = self.alert_for_mailbox(mailbox, id)?;
        let _guard = self.lock_account(&probe.account);
        let mut alert = self.alert_for_mailbox(mailbox, id)?;
        let now = self.clock.now();
        if alert.acks.iter().any(|a| a.mailbox == *mailbox) {
            return self.commit(Vec::new());
        }
        alert.acks.push(Ack { mailbox: *mailbox, at: now });
        alert.notices.push(Notice { kind: "acknowledged".into(), at: now, effective_at: None });
        alert.updated_ms = self.now_ms();
        let mut ops = Vec::new();
        // Tell every other contact already holding the alert, through their channels too.
        for (other, tier) in &alert.contacts {
            if other == mailbox || *tier > alert.notified_tier {
                continue;
            }
            if let Some(mb) = self.store.mailbox(other)? {
                for endpoint in &mb.endpoints {
                    let entry = OutboxEntry {
                        endpoint: endpoint.id,
                        attempts: 0,
                        idempotency_key: format!("{}-ack", idempotency_key(id, other, endpoint.id)),
                        first_queued: now,
                    };
                    ops.push(Op::PutOutbox(now, *id, *other, endpoint.id | 0x80, entry));
                }
            }
        }
        ops.push(Op::PutAlert(*id, alert));
        let ticket = self.commit(ops)?;
        self.after_fire();
        Ok(ticket)
    }

    /// An alert's delivery log, for one of its contacts.
    pub fn delivery_log(&self, mailbox: &MailboxId, id: &AlertId) -> Result<DeliveryLog, ApiError> {
        self.alert_for_mailbox(mailbox, id)?;
        Ok(DeliveryLog { attempts: self.store.delivery_log(id)? })
    }
}

/// Tier `tier`'s escalation delay: entry `tier - 1`, else the last entry, else the default.
pub fn escalation_delay(delays: &[u64], tier: u8, default: u64) -> u64 {
    let index = usize::from(tier.saturating_sub(1));
    delays.get(index).or(delays.last()).copied().unwrap_or(default)
}
