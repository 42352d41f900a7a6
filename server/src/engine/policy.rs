//! Policy changes with coercion resistance: a change that weakens protection
//! waits out `cooling_off` (and every contact is told at once); a change that
//! strengthens it applies at once.

use super::alerts::outbox_channel;
use super::error::{EngineError, ErrorKind};
use super::idempotency_key;
use super::{lock, Engine};
use crate::store::{
    AccountRecord, Durable, LiveState, MailboxNoticeRecord, NoticeRecord, Op, OutboxEntry, PendingKeys, PendingPolicy,
    Purpose,
};
use aman_protocol::alert::MAX_RECIPIENTS;
use aman_protocol::api::ErrorCode;
use aman_protocol::api::{ContactLink, NoticeKind, Policy, PolicyReply, B64};
use aman_protocol::{AccountId, AlertId, KeyRotation};
use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

static NOTICE_SEQ: AtomicU64 = AtomicU64::new(0);

/// True when `new` protects the member less than `old` in any respect at
/// `now`. Removing or demoting a contact that is not yet active (linked
/// during the cooling-off) weakens nothing: it has no power yet.
pub fn weakens(old: &Policy, new: &Policy, now: u64, max_interval: u64, max_grace: u64, default_delay: u64) -> bool {
    let interval = |p: &Policy| p.interval.unwrap_or(max_interval);
    let grace = |p: &Policy| p.grace.unwrap_or(max_grace);
    let tier_of = |p: &Policy, m| p.contacts.iter().find(|c| c.mailbox == m).map(|c| c.tier);
    let delay = |p: &Policy, tier: u8| super::alerts::escalation_delay(&p.escalation_delays, tier, default_delay);
    interval(new) > interval(old)
        || grace(new) > grace(old)
        || (new.paused && (!old.paused || pause_end(new) > pause_end(old)))
        || (new.trips_only && !old.trips_only)
        || old.contacts.iter().filter(|c| c.is_active(now)).any(|c| match tier_of(new, c.mailbox) {
            None => true,
            Some(t) => t > c.tier,
        })
        || (1..=9).any(|t| delay(new, t) > delay(old, t))
}

/// The longest pause with an end.
const MAX_PAUSE: u64 = 366 * 86_400;

/// When a pause ends, for comparing two pauses (`None`: never).
fn pause_end(p: &Policy) -> u64 {
    p.paused_until.unwrap_or(u64::MAX)
}

impl Engine {
    fn validate_policy(&self, account: &AccountId, policy: &Policy) -> Result<(), EngineError> {
        let c = &self.config;
        if let Some(i) = policy.interval {
            if i < c.min_interval || i > c.max_interval {
                return Err(EngineError::bad_request(
                    ErrorCode::IntervalOutOfRange,
                    format!("interval must be between {}s and {}s", c.min_interval, c.max_interval),
                ));
            }
        }
        if let Some(g) = policy.grace {
            if g < c.min_grace || g > c.max_grace {
                return Err(EngineError::bad_request(
                    ErrorCode::GraceOutOfRange,
                    format!("grace must be between {}s and {}s", c.min_grace, c.max_grace),
                ));
            }
        }
        if let Some(until) = policy.paused_until {
            let now = self.clock.now();
            if !policy.paused || until <= now || until > now.saturating_add(MAX_PAUSE) {
                return Err(EngineError::bad_request(
                    ErrorCode::InvalidPause,
                    "paused_until needs paused, and a time in the future at most 366 days away",
                ));
            }
        }
        if policy.contacts.len() > MAX_RECIPIENTS {
            return Err(EngineError::bad_request(ErrorCode::TooManyContacts, "at most 16 contacts"));
        }
        if policy.escalation_delays.len() > 9 || policy.escalation_delays.iter().any(|d| *d > 7 * 86_400) {
            return Err(EngineError::bad_request(ErrorCode::InvalidEscalation, "at most 9 delays of at most 7 days"));
        }
        let mut seen = HashSet::new();
        for link in &policy.contacts {
            if !(1..=9).contains(&link.tier) {
                return Err(EngineError::bad_request(ErrorCode::InvalidTier, "tiers run from 1 to 9"));
            }
            if !seen.insert(link.mailbox) {
                return Err(EngineError::bad_request(ErrorCode::DuplicateContact, "a mailbox is linked twice"));
            }
            match self.store.mailbox(&link.mailbox)? {
                Some(mb) if mb.account == *account => {}
                _ => {
                    return Err(EngineError::bad_request(
                        ErrorCode::UnknownMailbox,
                        "a linked mailbox did not pair with this account",
                    ))
                }
            }
        }
        Ok(())
    }

    /// Ops that tell every contact in `contacts` about something now: a
    /// mailbox notice, and a content-free notification on each of its
    /// channels (a contact who relies on push must hear of it too), queued
    /// in the same write, in the same outbox as an alert's, due after the
    /// same random delay and worded as an alert's is: nothing delivered
    /// tells a notice from an alert.
    fn notice_ops(
        &self,
        account_id: &AccountId,
        contacts: &[ContactLink],
        notice: &NoticeRecord,
    ) -> Result<Vec<Op>, EngineError> {
        let id = AlertId::random().map_err(EngineError::internal)?;
        // Channels are told after the random delay an alert's contacts get
        // after its cause: no timing tells a notice from an alert either.
        let due = self.dispatch_at()?;
        let stamp = self.change_stamp();
        let mut ops = Vec::new();
        for c in contacts {
            ops.push(Op::PutMailboxNotice(
                c.mailbox,
                stamp,
                NOTICE_SEQ.fetch_add(1, Ordering::Relaxed),
                MailboxNoticeRecord { account: *account_id, notice: notice.clone() },
            ));
            for endpoint in self.store.mailbox(&c.mailbox)?.map(|m| m.endpoints).unwrap_or_default() {
                let entry = OutboxEntry {
                    endpoint: endpoint.id,
                    attempts: 0,
                    // Derived as an alert's is, from the notice's own random
                    // id: nothing in the key tells the two apart.
                    idempotency_key: idempotency_key(&id, &c.mailbox, endpoint.id),
                    first_queued: due,
                };
                ops.push(Op::PutOutbox(due, id, c.mailbox, outbox_channel(endpoint.id, Purpose::Notice)?, entry));
            }
        }
        Ok(ops)
    }

    /// Applies or schedules a policy change. A weakening change waits out
    /// the cooling-off period (every contact told now); any other applies at
    /// once. A contact linked while others exist is told to all of them at
    /// once and takes part only after the cooling-off period. Pending key
    /// rotations and deletions are never touched by a policy change.
    pub fn set_policy(&self, caller: &AccountId, mut policy: Policy) -> Result<(PolicyReply, Durable), EngineError> {
        self.validate_policy(caller, &policy)?;
        let now = self.clock.now();
        let _guard = self.lock_account(caller);
        let mut account = self.account_or_unauthorized(caller)?;
        let c = &self.config;
        let effective_at = now.saturating_add(c.cooling_off);
        let existing = account.policy.contacts.clone();
        let mut ops = Vec::new();
        let mut rearmed = None;
        for link in &mut policy.contacts {
            link.active_from = match existing.iter().find(|old| old.mailbox == link.mailbox) {
                Some(old) => old.active_from,
                None if existing.is_empty() => None, // a member's first contacts count at once
                None => {
                    let mailbox = self.store.mailbox(&link.mailbox)?;
                    let notice = NoticeRecord {
                        kind: NoticeKind::ContactLinked,
                        at: now,
                        effective_at: Some(effective_at),
                        contact: mailbox.as_ref().map(|m| m.identity),
                        contact_encryption: mailbox.and_then(|m| m.encryption),
                    };
                    ops.extend(self.notice_ops(caller, &existing, &notice)?);
                    Some(effective_at)
                }
            };
        }
        let reply = if weakens(&account.policy, &policy, now, c.max_interval, c.max_grace, c.escalation_delay) {
            let notice = NoticeRecord::new(NoticeKind::PolicyWeakening, now, Some(effective_at));
            ops.extend(self.notice_ops(caller, &existing, &notice)?);
            ops.push(Op::PutCooling(effective_at, *caller));
            account.pending_policy = Some(PendingPolicy { policy, effective_at });
            PolicyReply { applied: false, effective_at }
        } else {
            if let Some(pending) = account.pending_policy.take() {
                if same_settings(&account.policy, &policy) {
                    // Only contacts changed: the pending change survives, on top of them.
                    let rebased = rebase(&pending.policy, &account.policy, &policy);
                    account.pending_policy = Some(PendingPolicy { policy: rebased, ..pending });
                } else {
                    // The member chose other settings: the pending weakening is
                    // dropped (protection stays stronger), and everyone is told.
                    let notice = NoticeRecord::new(NoticeKind::PendingChangeCancelled, now, None);
                    ops.extend(self.notice_ops(caller, &existing, &notice)?);
                }
            }
            // A shorter interval or grace holds from now, not from the next
            // check-in: the armed deadline moves up, in this same write (the
            // sealed live state, from which the schedule is rebuilt at
            // start-up). Whichever passphrase armed it: the live state is the
            // same either way.
            if shortens(&account.policy, &policy, c.max_interval, c.max_grace) {
                let (interval, grace) =
                    (policy.interval.unwrap_or(c.max_interval), policy.grace.unwrap_or(c.max_grace));
                if let Some((next_due, deadline)) = tightened(&account.live, interval, grace, now) {
                    account.live.next_due = Some(next_due);
                    account.live.deadline = Some(deadline);
                    ops.push(self.live_op(caller, &account.live)?);
                    rearmed = Some(deadline);
                }
            }
            // Back to a regular schedule from trips only: a member who stood
            // down is due again from now.
            if let Some((next_due, deadline)) =
                due_again(&account.live, &account.policy, &policy, c.max_interval, c.max_grace, now)
            {
                account.live.next_due = Some(next_due);
                account.live.deadline = Some(deadline);
                ops.push(self.live_op(caller, &account.live)?);
                rearmed = Some(deadline);
            }
            // An end given to a pause (or an earlier one): the member is due
            // at it, even if the open pause had let the deadline go.
            if let Some((next_due, deadline)) = due_at_pause_end(&account.live, &policy, c.max_grace) {
                account.live.next_due = Some(next_due);
                account.live.deadline = Some(deadline);
                ops.push(self.live_op(caller, &account.live)?);
                rearmed = Some(deadline);
            }
            account.policy = policy;
            PolicyReply { applied: true, effective_at: now }
        };
        ops.push(Op::PutAccount(*caller, account.record));
        let ticket = self.commit(ops)?;
        if !reply.applied {
            self.schedule_cooling(effective_at, caller);
        }
        if let Some(at) = rearmed {
            // Under the account's lock, as a check-in arms its deadline.
            self.schedule_deadline(caller, at);
        }
        let ticket = self.wake_when_durable(ticket, existing.iter().map(|c| c.mailbox).collect());
        Ok((reply, ticket))
    }

    fn schedule_cooling(&self, at: u64, id: &AccountId) {
        lock(&self.schedule).add_cooling(at, *id);
        self.scheduler_wake.notify_one();
    }

    /// Schedules the account's deletion after the cooling-off period (asking
    /// again does not move it).
    /// Drops the policy change waiting out its cooling-off (a pause asked
    /// for, a weaker schedule): protection stays as it is, so it applies at
    /// once, and every contact is told. Nothing waiting: nothing changes.
    pub fn cancel_pending_policy(&self, caller: &AccountId) -> Result<(PolicyReply, Durable), EngineError> {
        let now = self.clock.now();
        let _guard = self.lock_account(caller);
        let mut account = self.account_or_unauthorized(caller)?;
        let mut ops = Vec::new();
        let existing = account.policy.contacts.clone();
        if account.pending_policy.take().is_some() {
            let notice = NoticeRecord::new(NoticeKind::PendingChangeCancelled, now, None);
            ops.extend(self.notice_ops(caller, &existing, &notice)?);
            ops.push(Op::PutAccount(*caller, account.record));
        }
        let ticket = self.commit(ops)?;
        let ticket = self.wake_when_durable(ticket, existing.iter().map(|c| c.mailbox).collect());
        Ok((PolicyReply { applied: true, effective_at: now }, ticket))
    }

    pub fn request_delete(&self, caller: &AccountId) -> Result<(PolicyReply, Durable), EngineError> {
        let now = self.clock.now();
        let _guard = self.lock_account(caller);
        let mut account = self.account_or_unauthorized(caller)?;
        if let Some(at) = account.pending_deletion {
            return Ok((PolicyReply { applied: false, effective_at: at }, self.commit(Vec::new())?));
        }
        let effective_at = now.saturating_add(self.config.cooling_off);
        account.pending_deletion = Some(effective_at);
        self.hold(caller, account.record, NoticeKind::AccountDeletion, effective_at, now)
    }

    /// Writes `account` with a change held until `effective_at`: every
    /// contact is told now (mailbox and channels) and the cooling-off entry
    /// is armed.
    fn hold(
        &self,
        caller: &AccountId,
        account: AccountRecord,
        kind: NoticeKind,
        effective_at: u64,
        now: u64,
    ) -> Result<(PolicyReply, Durable), EngineError> {
        let contacts = account.policy.contacts.clone();
        let mut ops = self.notice_ops(caller, &contacts, &NoticeRecord::new(kind, now, Some(effective_at)))?;
        ops.push(Op::PutCooling(effective_at, *caller));
        ops.push(Op::PutAccount(*caller, account));
        let ticket = self.commit(ops)?;
        self.schedule_cooling(effective_at, caller);
        let ticket = self.wake_when_durable(ticket, contacts.iter().map(|c| c.mailbox).collect());
        Ok((PolicyReply { applied: false, effective_at }, ticket))
    }

    /// Schedules new check-in keys. The rotation arrives sealed to this
    /// server; each current key signs its own successor, and a new key takes
    /// the role of the key it succeeds (known by its tag), so the order the
    /// passphrases were typed in cannot swap them, nothing stored or returned
    /// says which is which, and a captor who holds one slot cannot rotate at
    /// all. The new keys are sealed at rest, wait out the cooling-off period,
    /// and every contact is told at once, like any other weakening change.
    pub fn rotate_keys(&self, caller: &AccountId, sealed: &[u8]) -> Result<(PolicyReply, Durable), EngineError> {
        let signed =
            self.identity.open(aman_protocol::encoding::labels::KEY_ROTATION.as_bytes(), sealed).map_err(|_| {
                EngineError::bad_request(
                    ErrorCode::NotSealedToThisServer,
                    "the rotation does not open with this server's key: seal it to the key GET /v2/server names",
                )
            })?;
        let now = self.clock.now();
        let _guard = self.lock_account(caller);
        let mut account = self.account_or_unauthorized(caller)?;
        let rotation =
            KeyRotation::verify(&signed, &account.identity).map_err(|e| EngineError::protocol("rotation", e))?;
        if rotation.account != *caller || rotation.server != self.identity.id() {
            return Err(EngineError::bad_request(
                ErrorCode::RotationMismatch,
                "the rotation is for another account or another server",
            ));
        }
        // Both keys in force, each naming its successor, before anything
        // that depends on which is which: a captor holding one slot gets the
        // same refusal whichever slot it is.
        let olds: Vec<_> = rotation.successions.iter().map(|s| s.old).collect();
        if !account.checkin_keys.iter().all(|k| olds.contains(k)) {
            return Err(EngineError::bad_request(
                ErrorCode::RotationMismatch,
                "each check-in key in use must sign its own successor",
            ));
        }
        let current = self.accepted_keys(caller, &account, now)?;
        let new_duress =
            rotation.successions.iter().find(|s| self.is_duress(caller, &current, &s.old)).map(|s| s.new).ok_or_else(
                || {
                    EngineError::bad_request(
                        ErrorCode::RotationMismatch,
                        "each check-in key in use must sign its own successor",
                    )
                },
            )?;
        if let Some(pending) = &account.pending_keys {
            // The same rotation again (its reply was lost): the same answer.
            // The same keys in the same roles, that is: each succeeding the
            // same old key.
            let (staged, staged_tag) = self.open_keys(caller, &pending.keys)?;
            let mut asked = [rotation.successions[0].new, rotation.successions[1].new];
            asked.sort_by_key(|k| k.0);
            let same_roles = self.duress_tag(caller, &new_duress) == staged_tag;
            if staged == asked && same_roles && rotation.generation == pending.keys.generation {
                let reply = PolicyReply { applied: false, effective_at: pending.effective_at };
                return Ok((reply, self.store.durable()));
            }
            // A different one would replace keys the member's keystore has
            // already staged: if its reply were lost, neither passphrase
            // would verify once the server switched. One at a time.
            return Err(EngineError::new(
                ErrorKind::Conflict,
                ErrorCode::RotationPending,
                format!("a key rotation is already waiting until {}", pending.effective_at),
            ));
        }
        if rotation.generation != account.key_generation + 1 {
            return Err(EngineError::new(
                ErrorKind::Conflict,
                ErrorCode::StaleGeneration,
                format!("the rotation must be for key generation {}", account.key_generation + 1),
            ));
        }
        let new_keys = [rotation.successions[0].new, rotation.successions[1].new];
        let effective_at = now.saturating_add(self.config.cooling_off);
        let tag = self.duress_tag(caller, &new_duress);
        let keys = self.seal_keys(caller, rotation.generation, new_keys, &tag, 0)?;
        account.pending_keys = Some(PendingKeys { keys, effective_at });
        self.hold(caller, account.record, NoticeKind::CheckinKeysRotation, effective_at, now)
    }

    /// Applies every pending change whose cooling-off has passed by `at`.
    pub(super) fn apply_cooling(&self, id: &AccountId, at: u64) -> Result<(), EngineError> {
        // Applied late (the server was down at `at`): a re-armed member is
        // due from now, not from a moment already past.
        let now = self.clock.now();
        let guard = self.lock_account(id);
        let mut ops = vec![Op::DeleteCooling(at, *id)];
        let mut rearm = None;
        let mut deleted = false;
        if let Some(mut account) = self.store.account(id)? {
            let due = |t: u64| t <= at;
            if account.pending_deletion.is_some_and(due) {
                deleted = true;
                lock(&self.schedule).remove_deadline(id);
                ops.push(Op::DeleteAccount(*id));
                ops.push(Op::PutRetired(self.retired_tag(id)));
                tracing::info!("account deleted after cooling-off");
            } else {
                let mut changed = false;
                if let Some(pending) = account.pending_keys.take_if(|k| due(k.effective_at)) {
                    let (keys, tag) = self.open_keys(id, &pending.keys)?;
                    // The old generation stays accepted for a short overlap.
                    let until = pending.effective_at + self.config.clock_window + super::KEY_OVERLAP;
                    let old_tag = std::mem::replace(&mut account.duress_tag, B64(tag.to_vec()));
                    let old_tag = <[u8; 32]>::try_from(old_tag.0.as_slice())
                        .map_err(|_| EngineError::internal("corrupt duress tag in an account record"))?;
                    let old = std::mem::replace(&mut account.checkin_keys, keys);
                    account.previous_keys = Some(self.seal_keys(id, account.key_generation, old, &old_tag, until)?);
                    account.key_generation = pending.keys.generation;
                    changed = true;
                    tracing::info!("check-in keys rotated after cooling-off");
                }
                if let Some(pending) = account.pending_policy.take_if(|p| due(p.effective_at)) {
                    let before = std::mem::replace(&mut account.policy, pending.policy);
                    changed = true;
                    if let Some(sealed) = self.store.live(id)? {
                        let mut live = self.open_live(id, &sealed)?;
                        let c = &self.config;
                        // Out of trips only (to a longer schedule, so it was
                        // held): a member who stood down is due again from
                        // now. Else a pause's end may arm the deadline.
                        if let Some((next_due, deadline)) =
                            due_again(&live, &before, &account.policy, c.max_interval, c.max_grace, at.max(now))
                                .or_else(|| due_at_pause_end(&live, &account.policy, c.max_grace))
                        {
                            live.next_due = Some(next_due);
                            live.deadline = Some(deadline);
                            ops.push(self.live_op(id, &live)?);
                            rearm = Some(deadline);
                        }
                    }
                }
                if changed {
                    ops.push(Op::PutAccount(*id, account));
                }
            }
        }
        let ticket = self.commit(ops)?;
        if deleted {
            // After the write: a read before it could have put them back.
            self.forget_opened(id);
        }
        if let Some(deadline) = rearm {
            // Under the account's lock, as a check-in arms its deadline.
            self.schedule_deadline(id, deadline);
        }
        drop(guard); // the flush wait happens outside the lock
        ticket.wait_blocking()?;
        Ok(())
    }
}

/// True when `new` allows a shorter interval or a shorter grace than `old`
/// (a policy that sets none allows the server's longest).
fn shortens(old: &Policy, new: &Policy, max_interval: u64, max_grace: u64) -> bool {
    let interval = |p: &Policy| p.interval.unwrap_or(max_interval);
    let grace = |p: &Policy| p.grace.unwrap_or(max_grace);
    interval(new) < interval(old) || grace(new) < grace(old)
}

/// The armed next due time and deadline under a schedule of `interval` and
/// `grace` that applies at `now`: the next check-in is due no later than
/// `now + interval`, and the deadline is no later than that due time (or
/// `now`, if it has passed) plus `grace`. Never later than what was armed,
/// and `None` when nothing is armed or nothing moves. The deadline may come
/// before the one in the member's last signed heartbeat: the server alerts
/// earlier, never later, than that heartbeat tells the contacts.
fn tightened(live: &LiveState, interval: u64, grace: u64, now: u64) -> Option<(u64, u64)> {
    let deadline = live.deadline?;
    let next_due = live.next_due.unwrap_or(deadline);
    let new_due = next_due.min(now.saturating_add(interval));
    let new_deadline = deadline.min(new_due.max(now).saturating_add(grace));
    (new_due != next_due || new_deadline != deadline).then_some((new_due, new_deadline))
}

/// Under a pause with an end: the member is due at the end, and the
/// deadline is no later than the end plus the grace (`None` when nothing
/// moves). A deadline before the end stays: when it falls, the pause moves
/// it (`fire_missed`).
fn due_at_pause_end(live: &LiveState, policy: &Policy, max_grace: u64) -> Option<(u64, u64)> {
    let until = policy.paused_until.filter(|_| policy.paused)?;
    let at_end = until.saturating_add(policy.grace.unwrap_or(max_grace));
    match live.deadline {
        Some(d) if d <= at_end => None,
        // A trips-only member who stood down owes nothing at the end.
        None if policy.trips_only => None,
        _ => Some((until, at_end)),
    }
}

/// Leaving trips only with nothing armed (the member stood down after a
/// check-in): due within the interval from `now`, as after a check-in.
fn due_again(
    live: &LiveState,
    old: &Policy,
    new: &Policy,
    max_interval: u64,
    max_grace: u64,
    now: u64,
) -> Option<(u64, u64)> {
    if !old.trips_only || new.trips_only || live.deadline.is_some() || live.counter == 0 {
        return None;
    }
    let next_due = now.saturating_add(new.interval.unwrap_or(max_interval));
    Some((next_due, next_due.saturating_add(new.grace.unwrap_or(max_grace))))
}

/// Interval, grace, pause, trips only and escalation delays are the same.
fn same_settings(a: &Policy, b: &Policy) -> bool {
    a.trips_only == b.trips_only
        && a.interval == b.interval
        && a.grace == b.grace
        && a.paused == b.paused
        && a.paused_until == b.paused_until
        && a.escalation_delays == b.escalation_delays
}

/// A pending policy carried over a contacts-only change: the new contact
/// list, less the contacts the pending change removes, with the tiers it sets.
fn rebase(pending: &Policy, before: &Policy, now: &Policy) -> Policy {
    let removed: HashSet<_> = before
        .contacts
        .iter()
        .filter(|c| !pending.contacts.iter().any(|p| p.mailbox == c.mailbox))
        .map(|c| c.mailbox)
        .collect();
    let contacts = now
        .contacts
        .iter()
        .filter(|c| !removed.contains(&c.mailbox))
        .map(|c| ContactLink {
            tier: pending.contacts.iter().find(|p| p.mailbox == c.mailbox).map_or(c.tier, |p| p.tier),
            ..c.clone()
        })
        .collect();
    Policy { contacts, ..pending.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aman_protocol::MailboxId;

    fn p(interval: u64, grace: u64, contacts: &[(u8, u8)]) -> Policy {
        Policy {
            interval: Some(interval),
            grace: Some(grace),
            paused: false,
            paused_until: None,
            trips_only: false,
            contacts: contacts
                .iter()
                .map(|(m, t)| ContactLink { mailbox: MailboxId::from_bytes([*m; 16]), tier: *t, active_from: None })
                .collect(),
            escalation_delays: vec![],
        }
    }

    #[test]
    fn a_shorter_schedule_moves_the_armed_deadline_up_never_back() {
        let live =
            |next_due: Option<u64>, deadline: Option<u64>| LiveState { next_due, deadline, ..LiveState::default() };
        // Checked in at 1000 for 6 h with 30 min of grace; 20 s and 5 s from 1100.
        let armed = live(Some(1000 + 21_600), Some(1000 + 23_400));
        assert_eq!(tightened(&armed, 20, 5, 1100), Some((1120, 1125)));
        // Only the grace is shorter: the member's due time stays.
        assert_eq!(tightened(&armed, 86_400, 600, 1100), Some((1000 + 21_600, 1000 + 22_200)));
        // Nothing shorter than what is armed: nothing moves.
        assert_eq!(tightened(&armed, 86_400, 3600, 1100), None);
        // Due already (inside the grace): the new grace counts from now.
        assert_eq!(tightened(&live(Some(1000), Some(2800)), 20, 5, 1100), Some((1000, 1105)));
        assert_eq!(tightened(&live(None, None), 20, 5, 1100), None, "nothing armed");
        let p = |interval, grace| Policy { interval, grace, ..Policy::default() };
        assert!(shortens(&p(None, None), &p(Some(3600), None), 86_400, 86_400), "a first schedule");
        assert!(shortens(&p(Some(3600), Some(600)), &p(Some(3600), Some(60)), 86_400, 86_400));
        assert!(!shortens(&p(Some(3600), Some(600)), &p(Some(3600), Some(600)), 86_400, 86_400));
        assert!(!shortens(&p(Some(60), Some(60)), &p(None, None), 86_400, 86_400));
    }

    #[test]
    fn leaving_trips_only_arms_a_member_who_stood_down_and_nobody_else() {
        let trips = Policy { trips_only: true, ..p(3600, 600, &[]) };
        let regular = p(7200, 900, &[]);
        let stood_down = LiveState { counter: 4, ..LiveState::default() };
        assert_eq!(due_again(&stood_down, &trips, &regular, 86_400, 86_400, 1000), Some((8200, 9100)));
        let armed = LiveState { next_due: Some(5000), deadline: Some(5600), ..stood_down.clone() };
        assert_eq!(due_again(&armed, &trips, &regular, 86_400, 86_400, 1000), None, "on a trip: its deadline holds");
        assert_eq!(due_again(&LiveState::default(), &trips, &regular, 86_400, 86_400, 1000), None, "never checked in");
        assert_eq!(due_again(&stood_down, &regular, &regular, 86_400, 86_400, 1000), None, "was not trips only");
        assert_eq!(due_again(&stood_down, &trips, &trips, 86_400, 86_400, 1000), None, "still trips only");
        let paused = Policy { paused: true, paused_until: Some(5000), ..trips.clone() };
        assert_eq!(due_at_pause_end(&stood_down, &paused, 86_400), None, "a pause's end arms no stood-down member");
    }

    #[test]
    fn what_weakens() {
        let base = p(3600, 600, &[(1, 1), (2, 2)]);
        let w = |new: &Policy| weakens(&base, new, 0, 86_400, 86_400, 900);
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
        // A pause with an end: a later end (or none) weakens; an earlier one, or resuming, does not.
        let until = |at: Option<u64>| Policy { paused: true, paused_until: at, ..base.clone() };
        let wp = |old: &Policy, new: &Policy| weakens(old, new, 0, 86_400, 86_400, 900);
        assert!(w(&until(Some(500))), "pausing at all");
        assert!(wp(&until(Some(500)), &until(Some(900))), "a longer pause");
        assert!(wp(&until(Some(500)), &until(None)), "a pause with no end");
        assert!(!wp(&until(Some(900)), &until(Some(500))), "a shorter pause");
        assert!(!wp(&until(None), &until(Some(500))), "an end given to an open pause");
        assert!(!wp(&until(Some(500)), &base), "resuming");
        let mut slower = base.clone();
        slower.escalation_delays = vec![3600];
        assert!(w(&slower));
        let trips_only = Policy { trips_only: true, ..base.clone() };
        assert!(w(&trips_only), "trips only weakens");
        assert!(!wp(&trips_only, &base), "leaving trips only strengthens");
        assert!(!same_settings(&trips_only, &base), "trips only is never a contacts-only change");
        assert!(!weakens(&Policy::default(), &base, 0, 86_400, 86_400, 900), "first schedule strengthens");
        let mut linking = p(3600, 600, &[(1, 1), (2, 2), (3, 1)]);
        linking.contacts[2].active_from = Some(500);
        let unlinked = p(3600, 600, &[(1, 1), (2, 2)]);
        assert!(!weakens(&linking, &unlinked, 100, 86_400, 86_400, 900), "dropping a contact not yet active");
        assert!(weakens(&linking, &unlinked, 500, 86_400, 86_400, 900), "dropping it once active");
    }
}
