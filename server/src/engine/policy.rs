//! Policy changes with coercion resistance: a change that weakens protection
//! waits out `cooling_off` (and every contact is told at once); a change that
//! strengthens it applies at once.

use super::{lock, Engine};
use crate::error::ApiError;
use crate::store::{AccountRecord, Durable, Op};
use aman_protocol::alert::MAX_RECIPIENTS;
use aman_protocol::api::{MailboxNotice, Notice, PendingChange, Policy, PolicyReply, B64};
use aman_protocol::{AccountId, KeyBinding};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

static NOTICE_SEQ: AtomicU64 = AtomicU64::new(0);

/// True when `new` protects the member less than `old` in any respect.
pub fn weakens(old: &Policy, new: &Policy, max_interval: u64, max_grace: u64, default_delay: u64) -> bool {
    let interval = |p: &Policy| p.interval.unwrap_or(max_interval);
    let grace = |p: &Policy| p.grace.unwrap_or(max_grace);
    let tier_of = |p: &Policy, m| p.contacts.iter().find(|c| c.mailbox == m).map(|c| c.tier);
    let delay = |p: &Policy, tier: u8| super::alerts::escalation_delay(&p.escalation_delays, tier, default_delay);
    interval(new) > interval(old)
        || grace(new) > grace(old)
        || (new.paused && !old.paused)
        || old.contacts.iter().any(|c| match tier_of(new, c.mailbox) {
            None => true,
            Some(t) => t > c.tier,
        })
        || (1..=9).any(|t| delay(new, t) > delay(old, t))
}

impl Engine {
    fn validate_policy(&self, account: &AccountId, policy: &Policy) -> Result<(), ApiError> {
        let c = &self.config;
        if let Some(i) = policy.interval {
            if i < c.min_interval || i > c.max_interval {
                return Err(ApiError::bad_request(
                    "interval_out_of_range",
                    format!("interval must be between {}s and {}s", c.min_interval, c.max_interval),
                ));
            }
        }
        if let Some(g) = policy.grace {
            if g < c.min_grace || g > c.max_grace {
                return Err(ApiError::bad_request(
                    "grace_out_of_range",
                    format!("grace must be between {}s and {}s", c.min_grace, c.max_grace),
                ));
            }
        }
        if policy.contacts.len() > MAX_RECIPIENTS {
            return Err(ApiError::bad_request("too_many_contacts", "at most 16 contacts"));
        }
        if policy.escalation_delays.len() > 9 || policy.escalation_delays.iter().any(|d| *d > 7 * 86_400) {
            return Err(ApiError::bad_request("invalid_escalation", "at most 9 delays of at most 7 days"));
        }
        let mut seen = HashSet::new();
        for link in &policy.contacts {
            if !(1..=9).contains(&link.tier) {
                return Err(ApiError::bad_request("invalid_tier", "tiers run from 1 to 9"));
            }
            if !seen.insert(link.mailbox) {
                return Err(ApiError::bad_request("duplicate_contact", "a mailbox is linked twice"));
            }
            match self.store.mailbox(&link.mailbox)? {
                Some(mb) if mb.account == *account => {}
                _ => {
                    return Err(ApiError::bad_request(
                        "unknown_mailbox",
                        "a linked mailbox did not pair with this account",
                    ))
                }
            }
        }
        Ok(())
    }

    /// Ops that tell every contact of `account` about a pending change.
    fn notice_ops(
        &self,
        account_id: &AccountId,
        account: &AccountRecord,
        kind: &str,
        effective_at: u64,
        now: u64,
    ) -> Vec<Op> {
        account
            .policy
            .contacts
            .iter()
            .map(|c| {
                Op::PutMailboxNotice(
                    c.mailbox,
                    now,
                    NOTICE_SEQ.fetch_add(1, Ordering::Relaxed),
                    MailboxNotice {
                        account: *account_id,
                        notice: Notice { kind: kind.to_owned(), at: now, effective_at: Some(effective_at) },
                    },
                )
            })
            .collect()
    }

    /// Applies or schedules a policy change.
    pub fn set_policy(&self, caller: &AccountId, policy: Policy) -> Result<(PolicyReply, Durable), ApiError> {
        self.validate_policy(caller, &policy)?;
        let now = self.clock.now();
        let _guard = self.lock_account(caller);
        let mut account = self.account_or_unauthorized(caller)?;
        let c = &self.config;
        if weakens(&account.policy, &policy, c.max_interval, c.max_grace, c.escalation_delay) {
            let held = PendingChange { policy: Some(policy), binding: None, effective_at: 0 };
            self.commit_change(caller, account, Some(("policy_weakening", held)), now)
        } else {
            account.policy = policy;
            self.commit_change(caller, account, None, now)
        }
    }

    /// Schedules the account's deletion after the cooling-off period.
    pub fn request_delete(&self, caller: &AccountId) -> Result<(PolicyReply, Durable), ApiError> {
        let now = self.clock.now();
        let _guard = self.lock_account(caller);
        let account = self.account_or_unauthorized(caller)?;
        let held = PendingChange { policy: None, binding: None, effective_at: 0 };
        self.commit_change(caller, account, Some(("account_deletion", held)), now)
    }

    /// Schedules new check-in keys. Whoever holds either keystore slot holds
    /// the identity key, so a rotation could be a captor's way around the
    /// duress key: it waits out the cooling-off period and every contact is
    /// told at once, like any other weakening change.
    pub fn rotate_keys(&self, caller: &AccountId, signed: &[u8]) -> Result<(PolicyReply, Durable), ApiError> {
        let binding = KeyBinding::verify(signed).map_err(|e| ApiError::protocol("binding", e))?;
        let now = self.clock.now();
        let _guard = self.lock_account(caller);
        let account = self.account_or_unauthorized(caller)?;
        if binding.account != *caller || binding.identity != account.identity {
            return Err(ApiError::bad_request("binding_mismatch", "the binding is for another account or identity"));
        }
        if binding.created <= account.binding_created {
            return Err(ApiError::bad_request("stale_binding", "the binding is not newer than the keys in use"));
        }
        let held = PendingChange { policy: None, binding: Some(B64(signed.to_vec())), effective_at: 0 };
        self.commit_change(caller, account, Some(("checkin_keys_rotation", held)), now)
    }

    /// Writes `account`, replacing any pending change. With `held`, that
    /// change waits out the cooling-off period and every current contact gets
    /// a notice of `kind` now; without, the account as given applies at once.
    fn commit_change(
        &self,
        caller: &AccountId,
        mut account: AccountRecord,
        held: Option<(&str, PendingChange)>,
        now: u64,
    ) -> Result<(PolicyReply, Durable), ApiError> {
        let mut ops = Vec::new();
        if let Some(old) = account.pending.take() {
            ops.push(Op::DeleteCooling(old.effective_at, *caller));
        }
        let reply = match held {
            Some((kind, change)) => {
                let effective_at = now.saturating_add(self.config.cooling_off);
                ops.extend(self.notice_ops(caller, &account, kind, effective_at, now));
                ops.push(Op::PutCooling(effective_at, *caller));
                account.pending = Some(PendingChange { effective_at, ..change });
                PolicyReply { applied: false, effective_at }
            }
            None => PolicyReply { applied: true, effective_at: now },
        };
        ops.push(Op::PutAccount(*caller, account));
        let ticket = self.commit(ops)?;
        if !reply.applied {
            lock(&self.schedule).add_cooling(reply.effective_at, *caller);
        }
        self.mailboxes_changed();
        self.scheduler_wake.notify_one();
        Ok((reply, ticket))
    }

    /// Applies a pending change whose cooling-off has passed.
    pub(super) fn apply_cooling(&self, id: &AccountId, at: u64) -> Result<(), ApiError> {
        let guard = self.lock_account(id);
        let mut ops = vec![Op::DeleteCooling(at, *id)];
        if let Some(mut account) = self.store.account(id)? {
            match account.pending.take() {
                Some(PendingChange { effective_at, policy, binding }) if effective_at == at => {
                    match (policy, binding) {
                        (_, Some(binding)) => {
                            // Verified when requested; verified again: it is the stored copy.
                            let binding = KeyBinding::verify(&binding.0).map_err(ApiError::internal)?;
                            self.install_keys(id, &mut account, &binding);
                            ops.push(Op::PutAccount(*id, account));
                            tracing::info!("check-in keys rotated after cooling-off");
                        }
                        (Some(policy), None) => {
                            account.policy = policy;
                            ops.push(Op::PutAccount(*id, account));
                        }
                        (None, None) => {
                            if let Some(d) = account.deadline {
                                ops.push(Op::DeleteDeadline(d, *id));
                                lock(&self.schedule).remove_deadline(id);
                            }
                            ops.push(Op::DeleteAccount(*id));
                            tracing::info!("account deleted after cooling-off");
                        }
                    }
                }
                // Superseded by a later change: only the index entry goes.
                _ => {}
            }
        }
        let ticket = self.commit(ops)?;
        drop(guard); // the flush wait happens outside the lock
        ticket.wait_blocking()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aman_protocol::api::ContactLink;
    use aman_protocol::MailboxId;

    fn p(interval: u64, grace: u64, contacts: &[(u8, u8)]) -> Policy {
        Policy {
            interval: Some(interval),
            grace: Some(grace),
            paused: false,
            contacts: contacts
                .iter()
                .map(|(m, t)| ContactLink { mailbox: MailboxId::from_bytes([*m; 16]), tier: *t })
                .collect(),
            escalation_delays: vec![],
        }
    }

    #[test]
    fn what_weakens() {
        let base = p(3600, 600, &[(1, 1), (2, 2)]);
        let w = |new: &Policy| weakens(&base, new, 86_400, 86_400, 900);
        assert!(!w(&base));
        assert!(!w(&p(1800, 600, &[(1, 1), (2, 2)])), "shorter interval strengthens");
        assert!(!w(&p(3600, 600, &[(1, 1), (2, 1), (3, 1)])), "adding, promoting strengthens");
        assert!(w(&p(7200, 600, &[(1, 1), (2, 2)])), "longer interval");
        assert!(w(&p(3600, 601, &[(1, 1), (2, 2)])), "longer grace");
        assert!(w(&p(3600, 600, &[(1, 1)])), "removing a contact");
        assert!(w(&p(3600, 600, &[(1, 2), (2, 2)])), "demoting a contact");
        let mut paused = base.clone();
        paused.paused = true;
        assert!(w(&paused));
        let mut slower = base.clone();
        slower.escalation_delays = vec![3600];
        assert!(w(&slower));
        assert!(!weakens(&Policy::default(), &base, 86_400, 86_400, 900), "first schedule strengthens");
    }
}
