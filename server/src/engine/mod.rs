//! The server's core: every state change goes through here, whether it comes
//! from an HTTP handler, the scheduler or an admin command.
//!
//! Methods return the [`Op`]s they applied as a durability [`Durable`]
//! ticket; callers reply only after the ticket resolves. Read-modify-write of
//! an account happens under that account's lock stripe so concurrent
//! check-ins for one account are serialised (and different accounts are not).

mod accounts;
mod alerts;
mod directory;
mod drills;
mod endpoints;
mod error;
mod keys;
mod live;
mod mailbox;
mod migrate;
mod notes;
mod pairing;
mod policy;
mod proof_of_life;
mod reminders;
mod schedule;
mod signals;
mod stand_in;
mod wake;

pub use crate::target_policy::TargetReach;
pub use alerts::{escalation_delay, idempotency_key, log_op, renotify_key};
pub use endpoints::{secret_context, target_context, EndpointKind};
pub use error::{EngineError, ErrorKind};
pub use keys::KEY_OVERLAP;
pub use live::{open_live, seal_live, Account};
pub use mailbox::{SweepReport, READ_BYTES, READ_LIMIT};
pub use migrate::{stored_format, FORMAT, FORMAT_KEY};
pub use reminders::{reminder_times, ReminderTarget, MAX_REMINDER_OFFSETS, MAX_REMINDER_TARGETS};
pub use schedule::{Schedule, TickReport};
pub use wake::{MailboxWakes, Waiter, WaiterLimits};

use crate::clock::Clock;
use crate::config::Config;

use crate::metrics::Metrics;
use crate::store::memo::Memo;
use crate::store::{Durable, LiveState, Op, SignalSlot, Store, StoreError};
use aman_protocol::api::ServerInfo;
use aman_protocol::at_rest::ServerKey;
use aman_protocol::heartbeat::ProofKey;
use aman_protocol::{AccountId, MailboxId, ServerId, ServerIdentity};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

const LOCK_STRIPES: usize = 256;

/// Shared server state.
pub struct Engine {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// Time.
    pub clock: Arc<dyn Clock>,
    /// Settings.
    pub config: Arc<Config>,
    key: ServerKey,
    /// `S`, derived from the key file: registrations and rotations are sealed to it.
    identity: ServerIdentity,
    stripes: Vec<Mutex<()>>,
    /// Registrations consume invites: one at a time.
    registration: Mutex<()>,
    /// The heartbeat last refused per account (hash), so a replay of it
    /// within the clock window leaves no second signal.
    refused: Mutex<std::collections::HashMap<AccountId, [u8; 32]>>,
    /// In-memory mirror of deadlines, escalations and cooling-off changes.
    pub schedule: Mutex<Schedule>,
    /// Wakes the scheduler when something earlier than its sleep was armed.
    pub scheduler_wake: Notify,
    /// Wakes the delivery worker when the outbox grew.
    pub delivery_wake: Arc<Notify>,
    /// Per-mailbox wake-ups for long-polling contacts.
    pub mailbox_wakes: MailboxWakes,
    /// Counters for `/metrics`.
    pub metrics: Metrics,
    /// Requests signed before this time are refused: the replay cache does
    /// not survive a restart, so nothing from before it may be accepted.
    pub boot_time: u64,
    /// Set once the schedule mirror holds every stored entry.
    schedule_loaded: std::sync::atomic::AtomicBool,
    /// The last mailbox change stamp given (unix µs, strictly increasing).
    pub(super) last_stamp: std::sync::atomic::AtomicU64,
    /// (last seen up, started) when this start followed an outage: the
    /// deadlines that fell between are moved as the schedule loads.
    outage: Mutex<Option<(u64, u64)>>,
    /// What a check-in for no account is checked against (made on first use).
    stand_in: std::sync::OnceLock<Option<stand_in::StandIn>>,
    /// Live states as last opened or sealed, by their sealed bytes.
    lives: Memo<LiveState>,
    /// Transport keys `K_tr` as last opened, by their sealed bytes (the
    /// server key that opens them is in memory anyway).
    transport_keys: Memo<ProofKey>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Engine {
    /// Builds the engine and loads the schedule from the store.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: Arc<Config>,
        key: ServerKey,
    ) -> Result<Arc<Self>, StoreError> {
        let engine = Self::build(store, clock, config, key, Schedule::default());
        engine.migrate().map_err(|e| StoreError::Backend(e.to_string()))?;
        engine.recover_from_outage(engine.clock.now()).map_err(|e| StoreError::Backend(e.to_string()))?;
        engine.load_schedule()?;
        Ok(engine)
    }

    /// Builds the engine with an empty schedule; [`Engine::load_schedule`]
    /// fills it. The server starts answering meanwhile (with a million armed
    /// deadlines the scan takes seconds); the scheduler waits for the load.
    pub fn new_deferred(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: Arc<Config>,
        key: ServerKey,
    ) -> Arc<Self> {
        Self::build(store, clock, config, key, Schedule::default())
    }

    /// Loads the schedule from the store into a deferred engine. Blocking.
    pub fn load_schedule(&self) -> Result<usize, StoreError> {
        let mut loaded = Schedule::load(self.store.as_ref())?;
        // Before the deadlines, so requests meanwhile arm reminders too.
        self.load_reminder_offsets().map_err(|e| StoreError::Backend(e.to_string()))?;
        let mut unreadable = 0usize;
        let mut armed = Vec::new();
        self.store.scan_lives(&mut |id, sealed| match self.open_live(&id, sealed) {
            Ok(live) => {
                armed.extend(live.deadline.map(|at| (at, id, live.next_due)));
                // A signal not read yet (a duress or late one, say): read it
                // when due, late or not.
                if live.signal.flags != 0 {
                    let entry = (id, live.signal.counter, SignalSlot::Live(id), schedule::SignalMode::Unknown);
                    loaded.add_signal(live.signal.due, entry);
                }
            }
            Err(_) => unreadable += 1,
        })?;
        if unreadable > 0 {
            tracing::error!(
                unreadable,
                "account live states that do not open: their deadlines are not armed, their signals not read"
            );
        }
        let mut outage_failed = false;
        let now = self.clock.now();
        for (at, id, next_due) in armed {
            let at = self.apply_outage(&id, at).unwrap_or_else(|_| {
                outage_failed = true;
                at
            });
            loaded.set_deadline(id, at);
            if let Some(offsets) = lock(&self.schedule).reminders.offsets(&id) {
                for (when, deadline) in reminders::reminder_times(offsets, next_due, at, now) {
                    loaded.reminders.add(id, when, deadline);
                }
            }
        }
        if !outage_failed {
            // Kept for the next start otherwise, which applies it again.
            self.outage_applied().map_err(|e| StoreError::Backend(e.to_string()))?;
        }

        for slot in self.store.signals()? {
            // The due time, account and counter are sealed inside: open it.
            match self.open_signal(&slot) {
                Ok(Some(s)) => loaded.add_signal(s.due, (s.account, s.counter, slot, schedule::SignalMode::Unknown)),
                Ok(None) => {} // gone, or unreadable (logged): nothing to act on
                // Never skip a signal that may be a duress one: fail the load.
                Err(e) => return Err(StoreError::Backend(e.to_string())),
            }
        }
        let count = loaded.armed();
        lock(&self.schedule).merge(loaded);
        self.schedule_loaded.store(true, std::sync::atomic::Ordering::SeqCst);
        self.scheduler_wake.notify_one();
        Ok(count)
    }

    /// Deadlines armed in the schedule.
    pub fn armed_deadlines(&self) -> u64 {
        lock(&self.schedule).armed() as u64
    }

    /// True once the schedule reflects everything in the store.
    pub fn schedule_ready(&self) -> bool {
        self.schedule_loaded.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn build(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        config: Arc<Config>,
        key: ServerKey,
        schedule: Schedule,
    ) -> Arc<Self> {
        let boot_time = clock.now();
        Arc::new(Engine {
            store,
            clock,
            config,
            identity: ServerIdentity::derive(&key),
            key,
            stripes: (0..LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            registration: Mutex::new(()),
            refused: Mutex::new(std::collections::HashMap::new()),
            schedule: Mutex::new(schedule),
            scheduler_wake: Notify::new(),
            delivery_wake: Arc::new(Notify::new()),
            mailbox_wakes: MailboxWakes::default(),
            metrics: Metrics::default(),
            boot_time,
            schedule_loaded: std::sync::atomic::AtomicBool::new(false),
            last_stamp: std::sync::atomic::AtomicU64::new(0),
            outage: Mutex::new(None),
            stand_in: std::sync::OnceLock::new(),
            lives: Memo::default(),
            transport_keys: Memo::default(),
        })
    }

    /// The at-rest key.
    pub fn server_key(&self) -> &ServerKey {
        &self.key
    }

    /// This server's id, bound into every heartbeat and request signature.
    pub fn server_id(&self) -> ServerId {
        self.identity.id()
    }

    /// What `GET /v2/server` publishes.
    pub fn server_info(&self) -> ServerInfo {
        ServerInfo { server_id: self.identity.id(), server_key: self.identity.public() }
    }

    /// Which lock stripe guards an account.
    fn stripe_of(id: &AccountId) -> usize {
        let b = id.as_bytes();
        (usize::from(b[0]) | (usize::from(b[1]) << 8)) % LOCK_STRIPES
    }

    /// Serialises read-modify-write of one account.
    fn lock_account(&self, id: &AccountId) -> MutexGuard<'_, ()> {
        lock(&self.stripes[Self::stripe_of(id)])
    }

    /// Locks the stripes of several accounts at once, each once, in
    /// ascending order (only the scheduler holds more than one stripe, so
    /// this cannot deadlock with the one-stripe paths).
    fn lock_accounts<'a>(&self, ids: impl Iterator<Item = &'a AccountId>) -> Vec<MutexGuard<'_, ()>> {
        let mut stripes: Vec<usize> = ids.map(Self::stripe_of).collect();
        stripes.sort_unstable();
        stripes.dedup();
        stripes.into_iter().map(|s| lock(&self.stripes[s])).collect()
    }

    /// Applies `ops` atomically and returns the durability ticket.
    fn commit(&self, ops: Vec<Op>) -> Result<Durable, EngineError> {
        self.store.apply(ops)?;
        Ok(self.store.durable())
    }

    /// Tells the long-polling contacts of these mailboxes to look again.
    fn mailboxes_changed(&self, mailboxes: impl IntoIterator<Item = aman_protocol::MailboxId>) {
        self.mailbox_wakes.wake(mailboxes);
    }

    /// The ticket of a write that changed these mailboxes (and queued
    /// notifications): their long-polls and the delivery worker are woken
    /// once it is durable, never before.
    fn wake_when_durable(&self, ticket: Durable, mailboxes: Vec<aman_protocol::MailboxId>) -> Durable {
        let (wakes, delivery) = (self.mailbox_wakes.clone(), self.delivery_wake.clone());
        ticket.then(move || {
            wakes.wake(mailboxes);
            delivery.notify_one();
        })
    }

    /// A place for a long-poll on `mailbox` (a contact of `account`), or a
    /// 429/503 refusal when the caps are reached.
    pub fn wait_on_mailbox(&self, mailbox: MailboxId, account: AccountId) -> Result<Waiter, EngineError> {
        let c = &self.config;
        let limits = WaiterLimits {
            total: c.max_waiters,
            per_account: c.max_waiters_per_account,
            per_mailbox: c.max_waiters_per_mailbox,
        };
        self.mailbox_wakes.wait_on(mailbox, account, limits)
    }

    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }
}

/// Locks a mutex, recovering from poisoning: the guarded data is `()` or
/// state that every writer leaves consistent before it can panic.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
