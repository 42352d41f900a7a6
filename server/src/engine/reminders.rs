//! Reminders to the member: on its own channels, before each check-in is
//! due and before each grace ends, so that a forgotten check-in does not
//! become a false alarm.
//!
//! What is stored is the member's settings only (the "before" offsets, and
//! its targets sealed under the server key as contacts' endpoints are): a
//! check-in writes nothing for reminders (invariant 18). The reminder
//! times live in memory, in the scheduler's mirror beside the deadline
//! they belong to, armed whenever a deadline is (a check-in, a tightened
//! schedule, the start-up load from the sealed live states) and dropped
//! when it moves: a reminder fires only while the deadline it was computed
//! for is still the armed one. A duress check-in arms its deadline exactly
//! as a normal one, so its reminders are the same. A reminder is sent from
//! memory and never written, so a seized disk holds no time of one.

use super::error::EngineError;
use super::{lock, EndpointKind, Engine, TargetReach};
use crate::store::{Durable, EndpointRecord, Op, ReminderRecord};
use aman_protocol::api::ErrorCode;
use aman_protocol::api::{AddEndpoint, EndpointAdded, EndpointInfo, Reminders, B64};
use aman_protocol::AccountId;
use std::collections::{BTreeSet, HashMap};
use zeroize::Zeroizing;

/// Most "before" offsets a member may set.
pub const MAX_REMINDER_OFFSETS: usize = 4;

/// Most reminder targets a member may add.
pub const MAX_REMINDER_TARGETS: usize = 4;

/// The at-rest context of a reminder target.
fn reminder_target_context(account: &AccountId, id: u8) -> Vec<u8> {
    let mut c = account.as_bytes().to_vec();
    c.extend_from_slice(b"/reminder-target/");
    c.push(id);
    c
}

/// The at-rest context of a reminder webhook's secret.
fn reminder_secret_context(account: &AccountId, id: u8) -> Vec<u8> {
    let mut c = account.as_bytes().to_vec();
    c.extend_from_slice(b"/reminder-secret/");
    c.push(id);
    c
}

/// The reminder times in the scheduler's memory.
#[derive(Debug, Default)]
pub struct ReminderIndex {
    /// Accounts with reminders (offsets and at least one target): offsets.
    offsets: HashMap<AccountId, Vec<u64>>,
    /// (when, account, the deadline it is for).
    due: BTreeSet<(u64, AccountId, u64)>,
    by_account: HashMap<AccountId, Vec<(u64, u64)>>,
    /// Accounts with a reminder to send now, for the delivery worker.
    ready: Vec<AccountId>,
}

impl ReminderIndex {
    /// The offsets of an account with reminders.
    pub fn offsets(&self, id: &AccountId) -> Option<&[u64]> {
        self.offsets.get(id).map(Vec::as_slice)
    }

    /// Sets (or, empty, forgets) an account's offsets; its armed times go.
    pub fn set_offsets(&mut self, id: AccountId, offsets: Vec<u64>) {
        self.cancel(&id);
        if offsets.is_empty() {
            self.offsets.remove(&id);
        } else {
            self.offsets.insert(id, offsets);
        }
    }

    /// Replaces an account's armed reminder times.
    pub fn arm(&mut self, id: AccountId, times: Vec<(u64, u64)>) {
        self.cancel(&id);
        for (at, deadline) in &times {
            self.due.insert((*at, id, *deadline));
        }
        if !times.is_empty() {
            self.by_account.insert(id, times);
        }
    }

    /// Adds times loaded at start-up (kept if still for the armed deadline).
    pub fn add(&mut self, id: AccountId, at: u64, deadline: u64) {
        if self.due.insert((at, id, deadline)) {
            self.by_account.entry(id).or_default().push((at, deadline));
        }
    }

    /// Drops an account's armed reminder times.
    pub fn cancel(&mut self, id: &AccountId) {
        for (at, deadline) in self.by_account.remove(id).unwrap_or_default() {
            self.due.remove(&(at, *id, deadline));
        }
    }

    /// The earliest armed reminder.
    pub fn next(&self) -> Option<u64> {
        self.due.first().map(|d| d.0)
    }

    /// Every armed reminder (at, account, deadline).
    pub fn entries(&self) -> impl Iterator<Item = &(u64, AccountId, u64)> {
        self.due.iter()
    }

    /// Takes the reminders due at `now`.
    pub fn take_due(&mut self, now: u64) -> Vec<(u64, AccountId, u64)> {
        let mut out = Vec::new();
        while let Some(first) = self.due.first().copied() {
            if first.0 > now {
                break;
            }
            self.due.remove(&first);
            if let Some(list) = self.by_account.get_mut(&first.1) {
                list.retain(|e| *e != (first.0, first.2));
                if list.is_empty() {
                    self.by_account.remove(&first.1);
                }
            }
            out.push(first);
        }
        out
    }

    /// Queues an account's reminder for the delivery worker.
    pub fn ready(&mut self, id: AccountId) {
        self.ready.push(id);
    }

    /// The queued reminders.
    pub fn take_ready(&mut self) -> Vec<AccountId> {
        std::mem::take(&mut self.ready)
    }
}

/// The reminder times (at, deadline) for one armed deadline: each offset
/// before the due time and before the deadline, only those still ahead.
pub fn reminder_times(offsets: &[u64], next_due: Option<u64>, deadline: u64, now: u64) -> Vec<(u64, u64)> {
    let mut times: Vec<(u64, u64)> = offsets
        .iter()
        .flat_map(|off| [next_due, Some(deadline)].into_iter().flatten().filter_map(move |t| t.checked_sub(*off)))
        .filter(|at| *at > now)
        .map(|at| (at, deadline))
        .collect();
    times.sort_unstable();
    times.dedup();
    times
}

/// One of a member's reminder targets, opened for sending.
pub struct ReminderTarget {
    /// Its kind.
    pub kind: EndpointKind,
    /// The URL or address.
    pub target: String,
    /// A webhook's signing secret (the text shown when it was added).
    pub secret: Option<Zeroizing<Vec<u8>>>,
}

impl Engine {
    /// Adds a target for the member's reminders; a webhook's secret is
    /// returned this once. The same checks as a contact's endpoint.
    pub fn add_reminder_target(
        &self,
        account: &AccountId,
        add: &AddEndpoint,
        reach: &TargetReach,
    ) -> Result<(EndpointAdded, Durable), EngineError> {
        let kind = self.check_new_target(add, reach)?;
        let _guard = self.lock_account(account);
        self.store.account(account)?.ok_or_else(EngineError::unauthorized)?;
        let mut record = self.store.reminders(account)?.unwrap_or_default();
        if record.targets.len() >= MAX_REMINDER_TARGETS {
            return Err(EngineError::bad_request(ErrorCode::TooManyTargets, "at most 4 reminder targets"));
        }
        let id = (1..=u8::MAX)
            .find(|i| record.targets.iter().all(|t| t.id != *i))
            .ok_or_else(|| EngineError::bad_request(ErrorCode::TooManyTargets, "no target ids left"))?;
        let key = self.server_key();
        let target_sealed =
            key.encrypt(&reminder_target_context(account, id), add.target.as_bytes()).map_err(EngineError::internal)?;
        let secret = super::endpoints::webhook_secret(kind)?;
        let secret_sealed = match &secret {
            Some(s) => Some(B64(key
                .encrypt(&reminder_secret_context(account, id), s.as_bytes())
                .map_err(EngineError::internal)?)),
            None => None,
        };
        record.targets.push(EndpointRecord { id, kind, target_sealed: B64(target_sealed), secret_sealed });
        let ticket = self.put_reminders(account, record)?;
        Ok((EndpointAdded { id, secret: secret.map(|s| s.to_string()) }, ticket))
    }

    /// Removes one of the member's reminder targets.
    pub fn remove_reminder_target(&self, account: &AccountId, id: u8) -> Result<Durable, EngineError> {
        let _guard = self.lock_account(account);
        self.store.account(account)?.ok_or_else(EngineError::unauthorized)?;
        let mut record = self.store.reminders(account)?.unwrap_or_default();
        let before = record.targets.len();
        record.targets.retain(|t| t.id != id);
        if record.targets.len() == before {
            return Err(EngineError::not_found("reminder target"));
        }
        self.put_reminders(account, record)
    }

    /// Sets when the member is reminded: at most 4 offsets, each at least
    /// `min_reminder` and at most the member's interval. Bad input stores
    /// nothing.
    pub fn set_reminders(&self, account: &AccountId, before: &[u64]) -> Result<Durable, EngineError> {
        let _guard = self.lock_account(account);
        let found = self.account(account)?.ok_or_else(EngineError::unauthorized)?;
        if before.len() > MAX_REMINDER_OFFSETS {
            return Err(EngineError::bad_request(ErrorCode::InvalidReminders, "at most 4 reminder offsets"));
        }
        let longest = found.policy.interval.unwrap_or(self.config.max_interval);
        let min = self.config.min_reminder;
        if let Some(bad) = before.iter().find(|b| **b < min || **b > longest) {
            return Err(EngineError::bad_request(
                ErrorCode::InvalidReminders,
                format!("{bad} s: a reminder offset is between {min} s and the check-in interval ({longest} s)"),
            ));
        }
        let mut before = before.to_vec();
        before.sort_unstable_by(|a, b| b.cmp(a));
        before.dedup();
        let mut record = self.store.reminders(account)?.unwrap_or_default();
        record.before = before;
        self.put_reminders(account, record)
    }

    /// The member's reminder settings, targets decrypted for their owner.
    pub fn reminders(&self, account: &AccountId) -> Result<Reminders, EngineError> {
        self.store.account(account)?.ok_or_else(EngineError::unauthorized)?;
        let record = self.store.reminders(account)?.unwrap_or_default();
        let targets = record
            .targets
            .iter()
            .map(|t| {
                let target = self
                    .server_key()
                    .decrypt(&reminder_target_context(account, t.id), &t.target_sealed.0)
                    .map_err(|_| EngineError::internal("reminder target does not decrypt: wrong server key file?"))?;
                Ok(EndpointInfo {
                    id: t.id,
                    kind: t.kind.into(),
                    target: String::from_utf8_lossy(&target).into_owned(),
                })
            })
            .collect::<Result<_, EngineError>>()?;
        Ok(Reminders { before: record.before, targets })
    }

    /// Stores the settings and re-arms the account's reminders from its
    /// live state. Called under the account's lock.
    fn put_reminders(&self, account: &AccountId, record: ReminderRecord) -> Result<Durable, EngineError> {
        let offsets = if record.targets.is_empty() { Vec::new() } else { record.before.clone() };
        let op = if record.targets.is_empty() && record.before.is_empty() {
            Op::DeleteReminders(*account)
        } else {
            Op::PutReminders(*account, record)
        };
        let ticket = self.commit(vec![op])?;
        lock(&self.schedule).reminders.set_offsets(*account, offsets);
        self.arm_reminders(account)?;
        Ok(ticket)
    }

    /// Arms the account's reminders for the deadline in its live state, if
    /// it has reminders. Runs after every deadline is armed (under the
    /// account's lock, as the deadline is).
    pub(super) fn arm_reminders(&self, account: &AccountId) -> Result<(), EngineError> {
        let Some(offsets) = lock(&self.schedule).reminders.offsets(account).map(<[u64]>::to_vec) else {
            return Ok(());
        };
        let Some(sealed) = self.store.live(account)? else { return Ok(()) };
        let live = self.open_live(account, &sealed)?;
        let times = match live.deadline {
            Some(deadline) => reminder_times(&offsets, live.next_due, deadline, self.clock.now()),
            None => Vec::new(),
        };
        let earliest = times.first().map(|t| t.0);
        let wake = {
            let mut s = lock(&self.schedule);
            let wake = earliest.is_some_and(|at| s.next_wake().is_none_or(|w| at < w));
            s.reminders.arm(*account, times);
            wake
        };
        if wake {
            self.scheduler_wake.notify_one();
        }
        Ok(())
    }

    /// Loads every member's reminder offsets (start-up, before the deadlines).
    pub(super) fn load_reminder_offsets(&self) -> Result<(), EngineError> {
        let all = self.store.all_reminders()?;
        let mut s = lock(&self.schedule);
        for (id, record) in all {
            if !record.targets.is_empty() {
                s.reminders.set_offsets(id, record.before);
            }
        }
        Ok(())
    }

    /// The reminders due now, for the delivery worker.
    pub fn take_due_reminders(&self) -> Vec<AccountId> {
        lock(&self.schedule).reminders.take_ready()
    }

    /// A member's reminder targets, opened to send a reminder; none when
    /// the account is gone or its switch is paused with no end (a pause
    /// with an end moves the deadline to it: the member is then due, and
    /// reminded, as usual).
    pub fn reminder_targets(&self, account: &AccountId) -> Result<Vec<ReminderTarget>, EngineError> {
        match self.store.account(account)? {
            Some(a) if !a.policy.paused || a.policy.paused_until.is_some() => {}
            _ => return Ok(Vec::new()),
        }
        let record = self.store.reminders(account)?.unwrap_or_default();
        let key = self.server_key();
        let mut out = Vec::new();
        for t in &record.targets {
            let target = key
                .decrypt(&reminder_target_context(account, t.id), &t.target_sealed.0)
                .map_err(|_| EngineError::internal("reminder target does not decrypt: wrong server key file?"))?;
            let secret = match &t.secret_sealed {
                Some(s) => Some(Zeroizing::new(
                    key.decrypt(&reminder_secret_context(account, t.id), &s.0)
                        .map_err(|_| EngineError::internal("reminder secret does not decrypt"))?
                        .to_vec(),
                )),
                None => None,
            };
            out.push(ReminderTarget { kind: t.kind, target: String::from_utf8_lossy(&target).into_owned(), secret });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reminder_times_are_each_offset_before_due_and_deadline_still_ahead() {
        // Due at 1000, grace 300: deadline 1300.
        assert_eq!(
            reminder_times(&[600, 60], Some(1000), 1300, 0),
            [(400, 1300), (700, 1300), (940, 1300), (1240, 1300)]
        );
        // Only those ahead of now.
        assert_eq!(reminder_times(&[600, 60], Some(1000), 1300, 800), [(940, 1300), (1240, 1300)]);
        // An offset equal to the grace: one reminder at the due time's.
        assert_eq!(reminder_times(&[300], Some(1000), 1300, 0), [(700, 1300), (1000, 1300)]);
        // A deadline moved after an outage keeps no due time ahead.
        assert_eq!(reminder_times(&[60], Some(100), 5000, 1000), [(4940, 5000)]);
    }

    #[test]
    fn a_moved_deadline_cancels_the_old_times() {
        let id = AccountId::from_bytes([1; 16]);
        let mut index = ReminderIndex::default();
        index.set_offsets(id, vec![60]);
        index.arm(id, vec![(100, 200), (140, 200)]);
        index.arm(id, vec![(300, 400)]);
        assert_eq!(index.entries().copied().collect::<Vec<_>>(), [(300, id, 400)]);
        assert_eq!(index.take_due(350), [(300, id, 400)]);
        assert_eq!(index.next(), None);
    }
}
