//! Drills: the member tests their safety net. A drill is an alert with the
//! reason `drill` (sealed in its facts like every reason), sent through the
//! real path: after the same random dispatch delay it is placed in every
//! contact's mailbox at once (all tiers: a drill tests everyone, so it
//! never escalates) and notified on every channel, with notifications
//! byte for byte an alert's. Contacts acknowledge it like an alert.
//!
//! A drill has a window: `drill_window` from its dispatch. The member sees
//! how it went (`GET /v2/account/drills/latest`): per contact, whether it
//! reached their mailbox, their acknowledgement, how each kind of channel
//! fared, and the day their client first fetched the drill. After the
//! window that view is frozen: only what happened before it closed counts,
//! so a duress alert that later sends every contact to their mailbox (and
//! to acknowledge what they find there) cannot move it. The first-fetch day
//! is recorded on the drill's own record, only by a mailbox read that
//! returns the drill, and only within the window; no read of a mailbox is
//! recorded anywhere else. One drill at a time: a new one is refused (409
//! `drill_open`) while the latest one's window is open.
//!
//! The view is built from the drill's own record only: a drill never
//! touches the account's alert list or its open-alert mark, and no real
//! alert (a duress one above all) can enter it.

use super::error::{EngineError, ErrorKind};
use super::Engine;
use crate::store::{AccountRecord, AlertMeta, AlertRecord, DrillFetch, Durable, Op, Reason};
use aman_protocol::api::ErrorCode;
use aman_protocol::api::{
    ChannelKind, ChannelOutcome, DeliveryChannel, DeliveryOutcome, DrillChannel, DrillContact, DrillReport,
    DrillStatus, B64,
};
use aman_protocol::{AccountId, AlertId, MailboxId};

/// Seconds in a day: a first fetch is kept to the day only.
const DAY: u64 = 86_400;

fn fetched_context(drill: &AlertId, mailbox: &MailboxId) -> Vec<u8> {
    let mut context = drill.as_bytes().to_vec();
    context.extend_from_slice(b"/fetched/");
    context.extend_from_slice(mailbox.as_bytes());
    context
}

impl Engine {
    /// Sends a drill: written now, told after the dispatch delay. The note
    /// it carries is the sealed alert on record (what a real alert would
    /// carry), with the note history. Refused while the latest drill's
    /// window is open.
    pub fn drill(&self, caller: &AccountId) -> Result<(AlertId, Durable), EngineError> {
        let now = self.clock.now();
        let _guard = self.lock_account(caller);
        let mut account = self.account_or_unauthorized(caller)?;
        if let Some((_, alert, meta)) = self.latest_drill(caller, &account.record)? {
            if now < self.window_closes(&alert, &meta) {
                return Err(EngineError::new(
                    ErrorKind::Conflict,
                    ErrorCode::DrillOpen,
                    "the latest drill is still open: one drill at a time, until its window closes",
                ));
            }
        }
        let mut ops = Vec::new();
        let sealed = self.store.sealed(caller)?;
        // The alert's ops from a copy: a drill changes neither the account's
        // list of alerts (a late check-in's notice goes to the latest real
        // one) nor its live state (nothing a check-in or status shows).
        let mut scratch = account.clone();
        let (id, at) = self.fire_ops(caller, &mut scratch, Reason::Drill, None, sealed, now, None, &mut ops)?;
        account.record.drill = Some(id);
        ops.push(Op::PutAccount(*caller, account.record));
        let ticket = self.commit(ops)?;
        self.schedule_dispatch(at, id);
        Ok((id, ticket))
    }

    /// The member's latest drill, if the server still holds it and it is a
    /// drill of this member.
    fn latest_drill(
        &self,
        caller: &AccountId,
        record: &AccountRecord,
    ) -> Result<Option<(AlertId, AlertRecord, AlertMeta)>, EngineError> {
        let Some(id) = record.drill else { return Ok(None) };
        let Some(alert) = self.store.alert(&id)? else { return Ok(None) };
        let meta = self.alert_meta(&id, &alert)?;
        if alert.account != *caller || meta.reason != Reason::Drill {
            return Ok(None);
        }
        Ok(Some((id, alert, meta)))
    }

    /// When a drill's window closes: fixed at its dispatch. Before that (or
    /// for a drill written before windows), the latest it can close: its
    /// sending, the longest dispatch delay and the window.
    fn window_closes(&self, alert: &AlertRecord, meta: &AlertMeta) -> u64 {
        match &alert.drill {
            Some(d) => d.window_closes,
            None => meta.fired_at.saturating_add(self.config.dispatch_delay).saturating_add(self.config.drill_window),
        }
    }

    /// How the member's latest drill went: from the drill's own record and
    /// its delivery log, nothing else; once its window has closed, only what
    /// happened before it counts.
    pub fn drill_status(&self, caller: &AccountId) -> Result<DrillStatus, EngineError> {
        let account = self.account_or_unauthorized(caller)?;
        let Some((id, alert, meta)) = self.latest_drill(caller, &account.record)? else {
            return Ok(DrillStatus { drill: None });
        };
        let closes = self.window_closes(&alert, &meta);
        let closed = alert.dispatched && self.clock.now() >= closes;
        let counts = |at: u64| !closed || at < closes;
        let log: Vec<_> = self.store.delivery_log(&id)?.into_iter().filter(|a| counts(a.at)).collect();
        let mut contacts = Vec::with_capacity(alert.contacts.len());
        for (mailbox, _) in &alert.contacts {
            let attempts: Vec<_> = log.iter().filter(|a| a.mailbox == *mailbox).collect();
            let mut kinds: Vec<ChannelKind> = Vec::new();
            if !closed {
                // While it is open: every channel the contact has, tried or not.
                let record = self.store.mailbox(mailbox)?;
                for kind in record.iter().flat_map(|m| m.endpoints.iter().map(|e| ChannelKind::from(e.kind))) {
                    if !kinds.contains(&kind) {
                        kinds.push(kind);
                    }
                }
            }
            for a in &attempts {
                match a.channel.kind() {
                    Some(kind) if !kinds.contains(&kind) => kinds.push(kind), // tried (a channel since removed, or the window closed)
                    _ => {}
                }
            }
            let channels = kinds
                .into_iter()
                .map(|kind| {
                    let tried: Vec<_> = attempts.iter().filter(|a| a.channel.kind() == Some(kind)).collect();
                    let outcome = if tried.iter().any(|a| a.outcome == DeliveryOutcome::Delivered) {
                        ChannelOutcome::Delivered
                    } else if tried.is_empty() {
                        ChannelOutcome::Pending
                    } else {
                        ChannelOutcome::Failed
                    };
                    DrillChannel { kind, outcome }
                })
                .collect();
            let first_fetch = alert.drill.as_ref().and_then(|d| d.fetched.iter().find(|f| f.mailbox == *mailbox));
            contacts.push(DrillContact {
                mailbox: *mailbox,
                in_mailbox: attempts.iter().any(|a| a.channel == DeliveryChannel::Mailbox),
                acknowledged_at: alert.acks.iter().find(|a| a.mailbox == *mailbox && counts(a.at)).map(|a| a.at),
                channels,
                first_fetch_day: first_fetch.and_then(|f| self.fetched_day(&id, f)),
            });
        }
        Ok(DrillStatus {
            drill: Some(DrillReport {
                drill: id,
                sent_at: meta.fired_at,
                dispatched: alert.dispatched,
                window_closes: alert.dispatched.then_some(closes),
                contacts,
            }),
        })
    }

    /// The day of a contact's first fetch, from its sealed value.
    fn fetched_day(&self, drill: &AlertId, fetch: &DrillFetch) -> Option<u64> {
        let bytes = self.server_key().decrypt(&fetched_context(drill, &fetch.mailbox), &fetch.day_sealed.0).ok()?;
        <[u8; 8]>::try_from(bytes.as_slice()).ok().map(u64::from_be_bytes)
    }

    /// Whether a mailbox read that returns this alert should record the
    /// contact's first fetch of it: a drill in its window that this mailbox
    /// has not fetched yet (checked again under the lock when written).
    pub(super) fn drill_fetch_due(&self, mailbox: &MailboxId, alert: &AlertRecord) -> bool {
        alert
            .drill
            .as_ref()
            .is_some_and(|d| self.clock.now() < d.window_closes && !d.fetched.iter().any(|f| f.mailbox == *mailbox))
    }

    /// Records that a contact's client fetched these drills (a mailbox read
    /// returned them): the day only, sealed, on each drill's own record,
    /// once per contact and only within the window. Not waited for: losing
    /// it to a crash costs nothing. Best effort: a failure is logged and the
    /// read goes on.
    pub(super) fn record_drill_fetches(&self, mailbox: &MailboxId, drills: &[(AlertId, AccountId)]) {
        for (id, account) in drills {
            let result = (|| -> Result<(), EngineError> {
                // Alert records are rewritten under their member's lock.
                let _guard = self.lock_account(account);
                let Some(mut alert) = self.store.alert(id)? else { return Ok(()) };
                if !self.drill_fetch_due(mailbox, &alert) {
                    return Ok(());
                }
                let today = self.clock.now() / DAY;
                let sealed = self
                    .server_key()
                    .encrypt(&fetched_context(id, mailbox), &today.to_be_bytes())
                    .map_err(EngineError::internal)?;
                let Some(drill) = alert.drill.as_mut() else { return Ok(()) };
                drill.fetched.push(DrillFetch { mailbox: *mailbox, day_sealed: B64(sealed) });
                self.store.apply(vec![Op::PutAlert(*id, alert)])?;
                Ok(())
            })();
            if let Err(e) = result {
                tracing::warn!(error = %e, "could not record a drill's first fetch");
            }
        }
    }
}
