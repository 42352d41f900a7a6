//! Storage: a backend-neutral [`Store`] trait and its sled implementation.
//!
//! Writes are expressed as a list of [`Op`]s applied atomically by
//! [`Store::apply`]. An applied write is visible at once but durable only
//! after [`Store::durable`] resolves; a handler replies only after that.

pub mod commit;
pub mod keys;
pub mod memo;
mod policy_record;
pub mod records;
mod sled_store;

use aman_protocol::{AccountId, AlertId, InviteId, MailboxId};
pub use keys::{OutboxChannel, Purpose};
pub use records::*;
pub use sled_store::{Import, KeyWrite, SledStore};
use thiserror::Error;

/// Storage failures. Details are logged, never sent to clients.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The backend failed.
    #[error("storage backend: {0}")]
    Backend(String),
    /// A stored record did not parse.
    #[error("corrupt record under prefix {0:?}")]
    Corrupt(char),
    /// The flusher thread is gone (shutting down).
    #[error("durability flusher stopped")]
    FlusherGone,
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

/// One write in an atomic group.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // short-lived, built a handful at a time
pub enum Op {
    /// Insert or replace an account.
    PutAccount(AccountId, AccountRecord),
    /// Delete an account, its live state, its sealed alert and directory.
    DeleteAccount(AccountId),
    /// Replace an account's sealed live state.
    PutLive(AccountId, Vec<u8>),
    /// Remove an account's live state (its deadline and heartbeat).
    DeleteLive(AccountId),
    /// Remove a 0.2 deadline index entry (migration).
    DeleteLegacyDeadline(u64, AccountId),
    /// Replace an account's sealed alert.
    PutSealed(AccountId, Vec<u8>),
    /// Replace a member's sealed server directory.
    PutDirectory(AccountId, Vec<u8>),
    /// Insert or replace a registration invite (by code hash).
    PutInvite([u8; 32], InviteRecord),
    /// Insert or replace a mailbox.
    PutMailbox(MailboxId, MailboxRecord),
    /// Remove a mailbox.
    DeleteMailbox(MailboxId),
    /// Insert or replace a pairing slot.
    PutPairing(InviteId, PairingRecord),
    /// Remove a pairing slot.
    DeletePairing(InviteId),
    /// Insert or replace an alert.
    PutAlert(AlertId, AlertRecord),
    /// Place an alert in a mailbox, or record that it changed there: the
    /// entry and its change-index key (the previous key, if any, is removed
    /// with [`Op::DeleteMailboxChange`]).
    PutMailboxEntry(MailboxId, AlertId, MailboxEntry),
    /// Remove an alert's entry from a mailbox (with its change-index key).
    DeleteMailboxEntry(MailboxId, AlertId, u64),
    /// Remove a stale change-index key.
    DeleteMailboxChange(MailboxId, u64, AlertId),
    /// Remove an account-level notice from a mailbox.
    DeleteMailboxNotice(MailboxId, u64, u64),
    /// Remove an alert record (retention).
    DeleteAlert(AlertId),
    /// Remove one delivery attempt from an alert's log (retention).
    DeleteDeliveryLog(AlertId, u64, u64),
    /// Remove a metadata value.
    DeleteMeta(&'static str),
    /// An account-level notice for a mailbox (mailbox, change stamp, seq, notice).
    PutMailboxNotice(MailboxId, u64, u64, MailboxNoticeRecord),
    /// Queue a notification.
    PutOutbox(u64, AlertId, MailboxId, OutboxChannel, OutboxEntry),
    /// Remove a queued notification.
    DeleteOutbox(u64, AlertId, MailboxId, OutboxChannel),
    /// Schedule an escalation check.
    PutEscalation(u64, AlertId),
    /// Remove an escalation check.
    DeleteEscalation(u64, AlertId),
    /// Schedule a weakening change.
    PutCooling(u64, AccountId),
    /// Remove a scheduled weakening change.
    DeleteCooling(u64, AccountId),
    /// Record a delivery attempt.
    PutDeliveryLog(AlertId, u64, u64, DeliveryRecord),
    /// Set a metadata value.
    PutMeta(&'static str, Vec<u8>),
    /// Retire a deleted account's id (its keyed tag) for good.
    PutRetired([u8; 32]),
    /// Schedule the moment an alert's contacts are told.
    PutDispatch(u64, AlertId),
    /// Remove a dispatch entry.
    DeleteDispatch(u64, AlertId),
    /// Replace an account's note history.
    PutNoteHistory(AccountId, Vec<StoredNote>),
    /// Remove a check-in signal stored on its own key (format 2 and
    /// earlier) once the scheduler has read it.
    DeleteSignal(SignalSlot),
    /// Replace a member's reminder settings.
    PutReminders(AccountId, ReminderRecord),
    /// Remove a member's reminder settings.
    DeleteReminders(AccountId),
}

/// A queued outbox entry with its key fields.
#[derive(Debug, Clone)]
pub struct QueuedDelivery {
    /// When it is due (unix seconds).
    pub due: u64,
    /// The alert.
    pub alert: AlertId,
    /// The mailbox.
    pub mailbox: MailboxId,
    /// Which endpoint, and what for.
    pub channel: OutboxChannel,
    /// The entry.
    pub entry: OutboxEntry,
}

/// Counts for `aman-server stats`.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Stats {
    /// Registered accounts.
    pub accounts: u64,
    /// Armed deadlines.
    pub armed_deadlines: u64,
    /// Alerts that have fired and not been acknowledged.
    pub open_alerts: u64,
    /// All alerts.
    pub alerts: u64,
    /// Notifications waiting for delivery.
    pub deliveries_pending: u64,
    /// Contact mailboxes.
    pub mailboxes: u64,
}

/// Where a check-in signal is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SignalSlot {
    /// In the account's sealed live state ([`LiveState::signal`]): where
    /// every check-in keeps its signal. Read and cleared with the
    /// account; never deleted on its own.
    Live(AccountId),
    /// A signal on its own key, as written before the live state held it
    /// (still read, then deleted): a random id: the key says nothing of whose signal it is, which
    /// check-in or when it is due (all sealed inside), and two signals
    /// never share a key.
    Id([u8; 16]),
    /// A signal written by 0.2, keyed by its due time, account and counter.
    Legacy {
        /// When the scheduler reads it.
        due: u64,
        /// Whose.
        account: AccountId,
        /// The check-in's counter.
        counter: u64,
    },
}

impl SignalSlot {
    /// The sled key of a signal stored on its own; `None` for one in a live
    /// state, which has no key of its own (the live state's is not its: it
    /// is never read or deleted as a signal).
    pub fn key(&self) -> Option<Vec<u8>> {
        match self {
            SignalSlot::Live(_) => None,
            SignalSlot::Id(id) => Some(keys::signal(id)),
            SignalSlot::Legacy { due, account, counter } => Some(keys::legacy_signal(*due, account, *counter)),
        }
    }
}

/// Resolves once everything applied before it is on disk. `#[must_use]`;
/// an API handler turns it and its reply into a [`Confirmed`] reply, the
/// only kind a writing handler can return.
pub type Durable = commit::Ticket;
pub use commit::Confirmed;

/// What [`Store::export`] hands each key and value to (`None`: a removal).
pub type ExportVisit<'a> = dyn FnMut(&[u8], Option<&[u8]>) -> Result<(), StoreError> + 'a;

/// The storage backend.
pub trait Store: Send + Sync + 'static {
    /// Applies `ops` atomically (all or nothing).
    fn apply(&self, ops: Vec<Op>) -> Result<(), StoreError>;
    /// Applies `ops` one at a time, in order, without atomicity: a crash
    /// keeps a prefix of them. Callers order the ops so that every prefix is
    /// a safe state (the check-in hot path; see ARCHITECTURE.md). In sled
    /// this avoids the exclusive lock a batch takes, which waits for flushes.
    fn apply_ordered(&self, ops: Vec<Op>) -> Result<(), StoreError>;
    /// A ticket that resolves when everything applied so far is durable.
    fn durable(&self) -> Durable;
    /// A consistent copy of every stored key, for a backup: `visit` gets
    /// every key and value as read while writes go on, then each key
    /// written during the read with its last value, in key order (`None`: a
    /// removal). Replayed in that order they give the store as it was at
    /// one moment. Writes are held up only if they outrun the read; one
    /// export runs at a time.
    fn export(&self, visit: &mut ExportVisit<'_>) -> Result<(), StoreError>;

    /// An account.
    fn account(&self, id: &AccountId) -> Result<Option<AccountRecord>, StoreError>;
    /// An account, read for a check-in request under its lock: the one
    /// read that may add it to a memo (`memo::Remember`).
    fn account_for_checkin(&self, id: &AccountId) -> Result<Option<AccountRecord>, StoreError> {
        self.account(id)
    }
    /// An account's latest sealed alert.
    fn sealed(&self, id: &AccountId) -> Result<Option<Vec<u8>>, StoreError>;
    /// A member's sealed server directory.
    fn directory(&self, id: &AccountId) -> Result<Option<Vec<u8>>, StoreError>;
    /// An account's sealed live state.
    fn live(&self, id: &AccountId) -> Result<Option<Vec<u8>>, StoreError>;
    /// Visits every account's sealed live state (the start-up scan),
    /// without collecting them.
    fn scan_lives(&self, visit: &mut dyn FnMut(AccountId, &[u8])) -> Result<(), StoreError>;
    /// Every account id.
    fn account_ids(&self) -> Result<Vec<AccountId>, StoreError>;
    /// Every 0.2 deadline index entry (migration).
    fn legacy_deadlines(&self) -> Result<Vec<(u64, AccountId)>, StoreError>;
    /// Every pending escalation, ascending.
    fn escalations(&self) -> Result<Vec<(u64, AlertId)>, StoreError>;
    /// Every pending weakening change, ascending.
    fn cooling(&self) -> Result<Vec<(u64, AccountId)>, StoreError>;
    /// Every alert not yet dispatched to its contacts, ascending.
    fn dispatches(&self) -> Result<Vec<(u64, AlertId)>, StoreError>;
    /// Every check-in signal not yet read by the scheduler.
    fn signals(&self) -> Result<Vec<SignalSlot>, StoreError>;
    /// One check-in signal's sealed value.
    fn signal(&self, slot: &SignalSlot) -> Result<Option<Vec<u8>>, StoreError>;
    /// The notes an account's latest sealed alert replaced, newest first.
    fn note_history(&self, id: &AccountId) -> Result<Vec<StoredNote>, StoreError>;

    /// A registration invite by code hash.
    fn invite(&self, code_hash: &[u8; 32]) -> Result<Option<InviteRecord>, StoreError>;
    /// All registration invites with their code hashes.
    fn invites(&self) -> Result<Vec<([u8; 32], InviteRecord)>, StoreError>;

    /// Whether an account id (its keyed tag) was retired by a deletion.
    fn retired(&self, tag: &[u8; 32]) -> Result<bool, StoreError>;

    /// A mailbox.
    fn mailbox(&self, id: &MailboxId) -> Result<Option<MailboxRecord>, StoreError>;
    /// A pairing slot.
    fn pairing(&self, id: &InviteId) -> Result<Option<PairingRecord>, StoreError>;
    /// An alert.
    fn alert(&self, id: &AlertId) -> Result<Option<AlertRecord>, StoreError>;
    /// The alerts placed in a mailbox.
    fn mailbox_entries(&self, mailbox: &MailboxId) -> Result<Vec<(AlertId, MailboxEntry)>, StoreError>;
    /// One alert's entry in a mailbox.
    fn mailbox_entry(&self, mailbox: &MailboxId, alert: &AlertId) -> Result<Option<MailboxEntry>, StoreError>;
    /// The alerts that changed for a mailbox after `since_ms`, in change
    /// order, at most `limit` (reads only that range of the change index).
    fn mailbox_changes_since(
        &self,
        mailbox: &MailboxId,
        since_ms: u64,
        limit: usize,
    ) -> Result<Vec<(u64, AlertId)>, StoreError>;
    /// Every change-index key of a mailbox, oldest change first.
    fn mailbox_changes(&self, mailbox: &MailboxId) -> Result<Vec<(u64, AlertId)>, StoreError>;
    /// Every mailbox change-index key on the server: (mailbox, changed, alert).
    fn all_mailbox_changes(&self) -> Result<Vec<(MailboxId, u64, AlertId)>, StoreError>;
    /// The account-level notices of a mailbox, oldest first, with their key fields (at, seq).
    fn mailbox_notices(&self, mailbox: &MailboxId) -> Result<Vec<(u64, u64, MailboxNoticeRecord)>, StoreError>;
    /// The account-level notices of a mailbox stamped after `since_ms`,
    /// with their stamps, oldest first, at most `limit`.
    fn mailbox_notices_after(
        &self,
        mailbox: &MailboxId,
        since_ms: u64,
        limit: usize,
    ) -> Result<Vec<(u64, MailboxNoticeRecord)>, StoreError>;
    /// The highest change stamp in any mailbox's change index or notices.
    fn max_change_stamp(&self) -> Result<u64, StoreError>;
    /// Every alert's id, account, whether it was dispatched and when it last changed (ms).
    fn alert_summaries(&self) -> Result<Vec<(AlertId, AccountId, bool, u64)>, StoreError>;
    /// The key fields (at, seq) of one alert's delivery log.
    fn delivery_log_keys(&self, alert: &AlertId) -> Result<Vec<(u64, u64)>, StoreError>;
    /// Every mailbox id with its record's owning account.
    fn mailboxes(&self) -> Result<Vec<(MailboxId, AccountId)>, StoreError>;
    /// Every pairing slot.
    fn pairings(&self) -> Result<Vec<(InviteId, PairingRecord)>, StoreError>;
    /// Visits the outbox entries due at or before `now`, oldest first,
    /// until `visit` returns false.
    fn scan_due(&self, now: u64, visit: &mut dyn FnMut(QueuedDelivery) -> bool) -> Result<(), StoreError>;
    /// Earliest outbox due time.
    fn next_delivery_due(&self) -> Result<Option<u64>, StoreError>;
    /// One alert's delivery log, oldest first.
    fn delivery_log(&self, alert: &AlertId) -> Result<Vec<DeliveryRecord>, StoreError>;
    /// A metadata value.
    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError>;
    /// Counts for the organizer.
    fn stats(&self) -> Result<Stats, StoreError>;
    /// A member's reminder settings.
    fn reminders(&self, id: &AccountId) -> Result<Option<ReminderRecord>, StoreError>;
    /// Every member's reminder settings (start-up).
    fn all_reminders(&self) -> Result<Vec<(AccountId, ReminderRecord)>, StoreError>;
}
