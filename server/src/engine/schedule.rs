//! The scheduler: an in-memory mirror of the deadline, escalation and
//! cooling-off indexes, `tick(now)` to act on everything due, and the outage
//! rule applied at start-up.

use super::error::EngineError;
use super::{lock, Engine};
use crate::store::{Op, Reason, SignalSlot, Store, StoreError};
use aman_protocol::{AccountId, AlertId};
use std::collections::{BTreeSet, HashMap};

/// Missed deadlines fired per atomic write.
pub const FIRE_BATCH: usize = 256;

/// Name of the heartbeat in the store's metadata.
pub const HEARTBEAT: &str = "heartbeat";

/// Name of the outage window being applied (last seen up, started again).
pub const OUTAGE: &str = "outage";

/// What is due when.
#[derive(Debug, Default)]
pub struct Schedule {
    deadlines: BTreeSet<(u64, AccountId)>,
    by_account: HashMap<AccountId, u64>,
    escalations: BTreeSet<(u64, AlertId)>,
    cooling: BTreeSet<(u64, AccountId)>,
    dispatches: BTreeSet<(u64, AlertId)>,
    /// (when to read, (account, counter, the due time in its key, what it holds))
    signals: BTreeSet<(u64, SignalEntry)>,
    /// The member's reminders, beside the deadlines they belong to.
    pub(super) reminders: super::reminders::ReminderIndex,
}

/// What a check-in signal in the schedule mirror holds. The request that
/// wrote it knows; the memory of it is lost with a restart, and then the
/// stored signal is opened to find out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SignalMode {
    /// Set in a live state by this process: its flags (`0`: dropped from the
    /// mirror without being read).
    Known(u8),
    /// Loaded from the store at start-up: read to find out.
    Unknown,
}

/// A signal in the mirror: account, counter, where it is stored, its mode.
pub type SignalEntry = (AccountId, u64, SignalSlot, SignalMode);

/// What one tick did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TickReport {
    /// Alerts fired for missed deadlines.
    pub fired: Vec<AlertId>,
    /// Alerts whose contacts were told.
    pub dispatched: Vec<AlertId>,
    /// Duress alerts made from check-in signals.
    pub duress: Vec<AlertId>,
    /// Alerts escalated to a further tier.
    pub escalated: Vec<AlertId>,
    /// Accounts whose pending change applied.
    pub applied: Vec<AccountId>,
}

impl Schedule {
    /// Rebuilds the mirror's stored indexes (escalations, cooling-off,
    /// dispatches) from the store. Deadlines and check-in signals are sealed
    /// and are added by the engine, which can open them.
    pub fn load(store: &dyn Store) -> Result<Self, StoreError> {
        Ok(Schedule {
            escalations: store.escalations()?.into_iter().collect(),
            cooling: store.cooling()?.into_iter().collect(),
            dispatches: store.dispatches()?.into_iter().collect(),
            ..Schedule::default()
        })
    }

    /// Adds entries loaded from the store after start-up to what requests
    /// have armed meanwhile. A request's newer deadline stays the one
    /// `by_account` points at; an older loaded entry for the same account is
    /// kept too and resolved (as stale) when it comes due.
    pub fn merge(&mut self, loaded: Schedule) {
        for (at, id) in loaded.deadlines {
            // A request's newer deadline wins; a loaded one for an account a
            // request has re-armed since is stale and not kept.
            if let std::collections::hash_map::Entry::Vacant(v) = self.by_account.entry(id) {
                v.insert(at);
                self.deadlines.insert((at, id));
            }
        }
        // A loaded reminder counts only for the deadline now armed.
        for (at, id, deadline) in loaded.reminders.entries() {
            if self.by_account.get(id) == Some(deadline) {
                self.reminders.add(*id, *at, *deadline);
            }
        }
        self.escalations.extend(loaded.escalations);
        self.cooling.extend(loaded.cooling);
        self.dispatches.extend(loaded.dispatches);
        // A signal written by a request while the store was being scanned
        // may be in both: keep one, or it would be read twice.
        let known: std::collections::HashSet<SignalSlot> =
            self.signals.iter().map(|(_, (_, _, slot, _))| *slot).collect();
        self.signals.extend(loaded.signals.into_iter().filter(|(_, (_, _, slot, _))| !known.contains(slot)));
    }

    /// Arms (or moves) an account's deadline.
    pub fn set_deadline(&mut self, id: AccountId, at: u64) {
        if let Some(old) = self.by_account.insert(id, at) {
            self.deadlines.remove(&(old, id));
        }
        self.deadlines.insert((at, id));
    }

    /// Disarms an account's deadline.
    pub fn remove_deadline(&mut self, id: &AccountId) {
        if let Some(old) = self.by_account.remove(id) {
            self.deadlines.remove(&(old, *id));
        }
        self.reminders.cancel(id);
    }

    /// Adds an escalation check.
    pub fn add_escalation(&mut self, at: u64, id: AlertId) {
        self.escalations.insert((at, id));
    }

    /// Adds an alert dispatch.
    pub fn add_dispatch(&mut self, at: u64, id: AlertId) {
        self.dispatches.insert((at, id));
    }

    /// Adds a check-in signal to read.
    pub fn add_signal(&mut self, at: u64, entry: SignalEntry) {
        self.signals.insert((at, entry));
    }

    /// Adds a cooling-off expiry.
    pub fn add_cooling(&mut self, at: u64, id: AccountId) {
        self.cooling.insert((at, id));
    }

    /// The earliest time anything is due.
    pub fn next_wake(&self) -> Option<u64> {
        [
            self.deadlines.first().map(|d| d.0),
            self.escalations.first().map(|d| d.0),
            self.cooling.first().map(|d| d.0),
            self.dispatches.first().map(|d| d.0),
            self.signals.first().map(|d| d.0),
            self.reminders.next(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Armed deadlines.
    pub fn armed(&self) -> usize {
        self.deadlines.len()
    }

    fn take_due<T: Ord + Copy>(set: &mut BTreeSet<(u64, T)>, now: u64) -> Vec<(u64, T)> {
        let mut due = Vec::new();
        while let Some(first) = set.first().copied() {
            if first.0 > now {
                break;
            }
            set.remove(&first);
            due.push(first);
        }
        due
    }
}

impl Engine {
    /// Mirrors a newly armed deadline and wakes the scheduler if it is the earliest.
    pub(super) fn schedule_deadline(&self, id: &AccountId, at: u64) {
        let earlier = {
            let mut s = lock(&self.schedule);
            let earlier = s.next_wake().is_none_or(|w| at < w);
            s.set_deadline(*id, at);
            earlier
        };
        if earlier {
            self.scheduler_wake.notify_one();
        }
        // The old deadline's reminders go with it; the new one's are armed.
        if let Err(e) = self.arm_reminders(id) {
            tracing::error!(error = %e, "arming reminders failed");
        }
    }

    /// Drops an account's armed deadline and its reminders (a stand-down).
    pub(super) fn disarm_deadline(&self, id: &AccountId) {
        lock(&self.schedule).remove_deadline(id);
    }

    /// Acts on everything due at `now`: missed deadlines fire, escalations
    /// run, cooling-off changes apply. Each action is durable before the
    /// next. Blocking: call from a blocking context.
    pub fn tick(&self, now: u64) -> TickReport {
        let (deadlines, escalations, cooling) = {
            let mut s = lock(&self.schedule);
            // Reminders first: each only while its deadline is still the armed one.
            let mut reminded = false;
            for (_, id, deadline) in s.reminders.take_due(now) {
                if s.by_account.get(&id) == Some(&deadline) {
                    s.reminders.ready(id);
                    reminded = true;
                }
            }
            if reminded {
                self.delivery_wake.notify_one();
            }
            let deadlines = Schedule::take_due(&mut s.deadlines, now);
            for (_, id) in &deadlines {
                s.by_account.remove(id);
            }
            (deadlines, Schedule::take_due(&mut s.escalations, now), Schedule::take_due(&mut s.cooling, now))
        };
        let mut report = TickReport::default();
        for chunk in deadlines.chunks(FIRE_BATCH) {
            match self.fire_missed(chunk, now) {
                Ok(fired) => report.fired.extend(fired),
                Err(e) => {
                    // Never drop a deadline: try again shortly.
                    tracing::error!(error = %e, "firing missed deadlines failed; retrying");
                    let mut s = lock(&self.schedule);
                    for (_, id) in chunk {
                        s.set_deadline(*id, now + 1);
                    }
                }
            }
        }
        for (at, id) in escalations {
            match self.escalate(&id, at, now) {
                Ok(true) => report.escalated.push(id),
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, "escalating an alert failed; retrying");
                    lock(&self.schedule).add_escalation(now + 1, id)
                }
            }
        }
        for (at, id) in cooling {
            match self.apply_cooling(&id, at) {
                Ok(()) => report.applied.push(id),
                Err(e) => {
                    tracing::error!(error = %e, "applying a change after its cooling-off failed; retrying");
                    lock(&self.schedule).add_cooling(now + 1, id)
                }
            }
        }
        let signals = Schedule::take_due(&mut lock(&self.schedule).signals, now);
        for chunk in signals.chunks(FIRE_BATCH) {
            match self.read_signals(chunk, now) {
                Ok(read) => {
                    report.duress.extend(read.duress);
                    let mut s = lock(&self.schedule);
                    for entry in read.failed {
                        s.add_signal(now + 1, entry);
                    }
                }
                Err(e) => {
                    // Never drop a signal: it may be a duress one. Try again shortly.
                    tracing::error!(error = %e, "reading check-in signals failed; retrying");
                    let mut s = lock(&self.schedule);
                    for (_, entry) in chunk {
                        s.add_signal(now + 1, *entry);
                    }
                }
            }
        }
        // Last, so alerts fired above with no delay are dispatched in this tick.
        let dispatches = Schedule::take_due(&mut lock(&self.schedule).dispatches, now);
        for chunk in dispatches.chunks(FIRE_BATCH) {
            match self.dispatch_due(chunk, now) {
                Ok(done) => report.dispatched.extend(done),
                Err(e) => {
                    tracing::error!(error = %e, "dispatching alerts failed; retrying");
                    let mut s = lock(&self.schedule);
                    for (_, id) in chunk {
                        s.add_dispatch(now + 1, *id);
                    }
                }
            }
        }
        report
    }

    /// Fires the alerts for missed deadlines, each exactly once: a deadline
    /// is disarmed in the same atomic write that creates its alert. Many
    /// deadlines falling due together share one write and one flush.
    fn fire_missed(&self, due: &[(u64, AccountId)], now: u64) -> Result<Vec<AlertId>, EngineError> {
        let mut ops = Vec::with_capacity(due.len() * 6);
        let mut fired = Vec::new();
        let mut dispatches = Vec::new();
        let mut postponed = Vec::new();
        let ticket = {
            let _guards = self.lock_accounts(due.iter().map(|(_, id)| id));
            for (at, id) in due {
                let Some(mut account) = self.account(id)? else { continue };
                // The armed deadline fires when an entry at or after it comes
                // due: its own entry, or a retry after a failed write (which is
                // re-queued a second later). An entry before it is stale.
                let Some(armed) = account.live.deadline.filter(|d| d <= at) else { continue };
                account.live.deadline = None;
                let policy = &account.policy;
                // A deadline inside a pause with an end moves to that end
                // plus the grace: the member is due when the pause ends.
                if let Some(until) = policy.paused_until.filter(|until| policy.paused && *until > now) {
                    let grace = policy.grace.unwrap_or(self.config.max_grace);
                    let deadline = until.saturating_add(grace);
                    account.live.next_due = Some(until);
                    account.live.deadline = Some(deadline);
                    postponed.push((*id, deadline));
                    self.account_ops(id, account, &mut ops)?;
                    continue;
                }
                // Paused with no end: nothing fires until resumed.
                let paused = account.policy.paused && account.policy.paused_until.is_none();
                if !paused {
                    let sealed = self.store.sealed(id)?;
                    let (alert, dispatch_at) =
                        self.fire_ops(id, &mut account, Reason::Missed, Some(armed), sealed, now, None, &mut ops)?;
                    fired.push(alert);
                    dispatches.push((dispatch_at, alert));
                }
                self.account_ops(id, account, &mut ops)?;
            }
            // Applied (and visible) under the locks; the flush wait is outside them.
            let ticket = self.commit(ops)?;
            // A deadline moved by a pause is armed under its account's lock,
            // as a check-in arms one: a check-in right after must not have
            // its newer deadline overwritten in the index by this one.
            for (id, deadline) in postponed {
                self.schedule_deadline(&id, deadline); // its reminders follow it
            }
            ticket
        };
        // Armed as soon as applied: a failed flush wait must not leave an
        // alert that nobody dispatches until the next restart.
        for (at, alert) in dispatches {
            self.schedule_dispatch(at, alert);
        }
        ticket.wait_blocking()?;
        Ok(fired)
    }

    /// Records that the server is up at `now`: sealed, like every time a
    /// seized disk could line up with a member's check-ins.
    pub fn heartbeat(&self, now: u64) -> Result<(), EngineError> {
        let sealed =
            self.server_key().encrypt(HEARTBEAT.as_bytes(), &now.to_be_bytes()).map_err(EngineError::internal)?;
        Ok(self.store.apply(vec![Op::PutMeta(HEARTBEAT, sealed)])?)
    }

    /// When the server was last recorded up (an 8-byte value in clear was
    /// written by 0.2).
    fn last_seen(&self) -> Result<Option<u64>, EngineError> {
        let Some(bytes) = self.store.meta(HEARTBEAT)? else { return Ok(None) };
        let plain = match <[u8; 8]>::try_from(bytes.as_slice()) {
            Ok(old) => old,
            Err(_) => {
                let opened = self.server_key().decrypt(HEARTBEAT.as_bytes(), &bytes).map_err(EngineError::internal)?;
                <[u8; 8]>::try_from(opened.as_slice()).map_err(EngineError::internal)?
            }
        };
        Ok(Some(u64::from_be_bytes(plain)))
    }

    /// The outage rule, part one, run once at start-up before serving: notes
    /// when the server was last up, so that loading the schedule
    /// ([`Engine::load_schedule`]) moves the deadlines that fell while it was
    /// down to `now + outage_grace`. Members get a chance to check in instead
    /// of a storm of backdated alerts; if they still miss, the alert says the
    /// server had been down. Each deadline is moved at most once, however
    /// many restarts follow (a crash loop must not defer alerts for ever).
    ///
    /// The window is kept (sealed) until the load has moved every deadline
    /// in it and that is on disk: a start that dies before then leaves it,
    /// and the next start uses it again, from the same last-seen time, so no
    /// deadline of the real outage counts as "due while we were up".
    pub fn recover_from_outage(&self, now: u64) -> Result<(), EngineError> {
        let window = match self.sealed_meta_pair(OUTAGE)? {
            Some((last_seen, _)) => Some((last_seen, now)),
            None => self.last_seen()?.map(|seen| (seen, now)),
        };
        if let Some((last_seen, started)) = window {
            self.store.apply(vec![self.sealed_meta_op(OUTAGE, &[last_seen, started])?])?;
        }
        *lock(&self.outage) = window;
        // Change stamps continue above every stamp already stored, whatever
        // the clock did while the server was down: before anything is served.
        self.last_stamp.fetch_max(self.store.max_change_stamp()?, std::sync::atomic::Ordering::SeqCst);
        self.heartbeat(now)?;
        self.store.durable().wait_blocking()?;
        Ok(())
    }

    /// After the load has applied the outage rule: makes the moves durable,
    /// then forgets the window.
    pub(super) fn outage_applied(&self) -> Result<(), EngineError> {
        if lock(&self.outage).take().is_some() {
            self.store.durable().wait_blocking()?;
            self.store.apply(vec![Op::DeleteMeta(OUTAGE)])?;
            self.store.durable().wait_blocking()?;
        }
        Ok(())
    }

    /// A metadata value of u64s sealed under the server key (context: its name).
    fn sealed_meta_op(&self, name: &'static str, values: &[u64]) -> Result<Op, EngineError> {
        let plain: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
        let sealed = self.server_key().encrypt(name.as_bytes(), &plain).map_err(EngineError::internal)?;
        Ok(Op::PutMeta(name, sealed))
    }

    /// Reads a two-value sealed metadata value.
    fn sealed_meta_pair(&self, name: &'static str) -> Result<Option<(u64, u64)>, EngineError> {
        let Some(bytes) = self.store.meta(name)? else { return Ok(None) };
        let plain = self.server_key().decrypt(name.as_bytes(), &bytes).map_err(EngineError::internal)?;
        let value = |i: usize| plain.get(i..i + 8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes);
        match (value(0), value(8)) {
            (Some(a), Some(b)) => Ok(Some((a, b))),
            _ => Err(EngineError::internal("a sealed metadata value has the wrong length")),
        }
    }

    /// The outage rule, part two: the deadline `at` of account `id`, loaded
    /// from the store, moved if it fell inside the outage. Returns the
    /// deadline to arm.
    pub(super) fn apply_outage(&self, id: &AccountId, at: u64) -> Result<u64, EngineError> {
        let Some((last_seen, started)) = *lock(&self.outage) else { return Ok(at) };
        if at <= last_seen || at > started {
            return Ok(at); // due while we were up (fires on the first tick), or still ahead
        }
        let _guard = self.lock_account(id);
        let Some(mut account) = self.account(id)? else { return Ok(at) };
        if account.live.deadline != Some(at) || account.live.outage_extended {
            return Ok(at);
        }
        let moved_to = started.saturating_add(self.config.outage_grace);
        account.live.deadline = Some(moved_to);
        account.live.outage_extended = true;
        self.store.apply(vec![self.live_op(id, &account.live)?])?;
        Ok(moved_to)
    }
}
