//! Drills: the member tests their safety net. A drill is an alert with the
//! reason `drill` (sealed in its facts like every reason), sent through the
//! real path: after the same random dispatch delay it is placed in every
//! contact's mailbox at once (all tiers: a drill tests everyone, so it
//! never escalates) and notified on every channel, with notifications
//! byte for byte an alert's. Contacts acknowledge it like an alert.
//!
//! The member sees how it went (`GET /v2/account/drills/latest`): per
//! contact, whether it is in their mailbox, their acknowledgement, how each
//! kind of channel fared, and the day their client last read its mailbox.
//! That view is built from the drill's own record only: a drill never
//! touches the account's alert list or its open-alert mark, and no real
//! alert (a duress one above all) can enter it.

use super::error::EngineError;
use super::Engine;
use crate::store::{Durable, Op, Reason};
use aman_protocol::api::{ChannelOutcome, DrillChannel, DrillContact, DrillReport, DrillStatus};
use aman_protocol::{AccountId, AlertId, MailboxId};

/// Seconds in a day: the last-fetch time is kept to the day only.
const DAY: u64 = 86_400;

fn fetched_context(mailbox: &MailboxId) -> Vec<u8> {
    let mut context = mailbox.as_bytes().to_vec();
    context.extend_from_slice(b"/fetched");
    context
}

impl Engine {
    /// Sends a drill: written now, told after the dispatch delay. The note
    /// it carries is the sealed alert on record (what a real alert would
    /// carry), with the note history.
    pub fn drill(&self, caller: &AccountId) -> Result<(AlertId, Durable), EngineError> {
        let now = self.clock.now();
        let _guard = self.lock_account(caller);
        let mut account = self.account_or_unauthorized(caller)?;
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

    /// How the member's latest drill went: from the drill's own record, its
    /// delivery log and its contacts' mailboxes, nothing else.
    pub fn drill_status(&self, caller: &AccountId) -> Result<DrillStatus, EngineError> {
        let account = self.account_or_unauthorized(caller)?;
        let none = DrillStatus { drill: None };
        let Some(id) = account.record.drill else { return Ok(none) };
        let Some(alert) = self.store.alert(&id)? else { return Ok(none) };
        // Only ever a drill of this member.
        let meta = self.alert_meta(&id, &alert)?;
        if alert.account != *caller || meta.reason != Reason::Drill {
            return Ok(none);
        }
        let log = self.store.delivery_log(&id)?;
        let mut contacts = Vec::with_capacity(alert.contacts.len());
        for (mailbox, _) in &alert.contacts {
            let record = self.store.mailbox(mailbox)?;
            let mut kinds: Vec<String> = Vec::new();
            for kind in record.iter().flat_map(|m| m.endpoints.iter().map(|e| e.kind.clone())) {
                if !kinds.contains(&kind) {
                    kinds.push(kind);
                }
            }
            let attempts: Vec<_> = log.iter().filter(|a| a.mailbox == *mailbox).collect();
            for a in &attempts {
                if a.channel != "mailbox" && !kinds.contains(&a.channel) {
                    kinds.push(a.channel.clone()); // a channel since removed
                }
            }
            let channels = kinds
                .into_iter()
                .map(|kind| {
                    let tried: Vec<_> = attempts.iter().filter(|a| a.channel == kind).collect();
                    let outcome = if tried.iter().any(|a| a.outcome == "delivered") {
                        ChannelOutcome::Delivered
                    } else if tried.is_empty() {
                        ChannelOutcome::Pending
                    } else {
                        ChannelOutcome::Failed
                    };
                    DrillChannel { kind, outcome }
                })
                .collect();
            contacts.push(DrillContact {
                mailbox: *mailbox,
                in_mailbox: self.store.mailbox_entry(mailbox, &id)?.is_some(),
                acknowledged_at: alert.acks.iter().find(|a| a.mailbox == *mailbox).map(|a| a.at),
                channels,
                last_fetch_day: record.as_ref().and_then(|m| self.fetched_day(mailbox, m.fetched_sealed.as_ref())),
            });
        }
        Ok(DrillStatus {
            drill: Some(DrillReport { drill: id, sent_at: meta.fired_at, dispatched: alert.dispatched, contacts }),
        })
    }

    /// The day a mailbox was last read, from its sealed value.
    fn fetched_day(&self, mailbox: &MailboxId, sealed: Option<&aman_protocol::api::B64>) -> Option<u64> {
        let bytes = self.server_key().decrypt(&fetched_context(mailbox), &sealed?.0).ok()?;
        <[u8; 8]>::try_from(bytes.as_slice()).ok().map(u64::from_be_bytes)
    }

    /// Notes that a contact's client read its mailbox today. The day only,
    /// sealed, and written only when it changes (at most once a day per
    /// mailbox); not waited for: losing it to a crash costs nothing.
    /// Best effort: a failure is logged and the read goes on.
    pub(super) fn record_fetch(&self, mailbox: &MailboxId) {
        let today = self.clock.now() / DAY;
        let current = |m: &crate::store::MailboxRecord| self.fetched_day(mailbox, m.fetched_sealed.as_ref());
        let result = (|| -> Result<(), EngineError> {
            match self.store.mailbox(mailbox)? {
                Some(m) if current(&m) != Some(today) => {}
                _ => return Ok(()),
            }
            // Mailbox records are rewritten under the registration lock.
            let _guard = super::lock(&self.registration);
            let Some(mut m) = self.store.mailbox(mailbox)? else { return Ok(()) };
            if current(&m) == Some(today) {
                return Ok(());
            }
            let sealed = self
                .server_key()
                .encrypt(&fetched_context(mailbox), &today.to_be_bytes())
                .map_err(EngineError::internal)?;
            m.fetched_sealed = Some(aman_protocol::api::B64(sealed));
            self.store.apply(vec![Op::PutMailbox(*mailbox, m)])?;
            Ok(())
        })();
        if let Err(e) = result {
            tracing::warn!(error = %e, "could not record a mailbox's last read");
        }
    }
}
