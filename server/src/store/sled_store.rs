//! The sled implementation of [`Store`].

use super::commit::{GroupCommit, Ticket};
use super::keys::{self, prefix};
use super::memo::{Memo, Remember};
use super::*;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock};

/// sled-backed storage: one tree, one key space (see [`keys`]).
#[derive(Debug)]
pub struct SledStore {
    db: sled::Db,
    tree: sled::Tree,
    commit: GroupCommit,
    /// Writers hold it shared; an export takes it alone only to open and to
    /// close its journal, so no write is half in and half out of one.
    gate: RwLock<()>,
    /// Whether an export is running: its journal then takes every write.
    exporting: AtomicBool,
    /// The writes made while an export reads the tree, in the order they
    /// were applied (a write and its journal entry happen under this lock).
    journal: Mutex<Option<Journal>>,
    /// Writes an export's journal takes before its read holds writes off.
    journal_max: usize,
    /// Account records as last decoded, by their stored bytes (every
    /// check-in reads its account's).
    accounts: Memo<AccountRecord>,
}

/// Writes an export's journal takes, by default, before its read holds
/// writes off.
const JOURNAL_MAX: usize = 100_000;

/// What was written while an export ran.
#[derive(Debug, Default)]
struct Journal {
    /// The keys written (their values are read again when it closes).
    keys: std::collections::BTreeSet<Vec<u8>>,
}

/// Closes an export's journal if the export ends early (an error, a panic
/// in its visitor), so writes stop being journaled and the next export can run.
struct ExportOpen<'a>(&'a SledStore);

impl Drop for ExportOpen<'_> {
    fn drop(&mut self) {
        if self.0.exporting.load(Ordering::Acquire) {
            let _closed = self.0.gate.write().unwrap_or_else(|e| e.into_inner());
            self.0.exporting.store(false, Ordering::Release);
            *self.0.lock_journal() = None;
        }
    }
}

fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value).map_err(|e| StoreError::Backend(format!("encode: {e}")))
}

fn decode<T: DeserializeOwned>(prefix: u8, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|_| StoreError::Corrupt(char::from(prefix)))
}

impl SledStore {
    /// Opens (or creates) the database in `dir`. sled admits one process at a
    /// time; a second open fails with a clear error.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        let db = open_waiting_for_lock(|| sled::Config::new().path(dir).cache_capacity(64 * 1024 * 1024).open())?;
        let tree = db.open_tree("aman")?;
        let commit = GroupCommit::start(db.clone())?;
        Ok(SledStore {
            db,
            tree,
            commit,
            gate: RwLock::new(()),
            exporting: AtomicBool::new(false),
            journal: Mutex::new(None),
            journal_max: JOURNAL_MAX,
            accounts: Memo::default(),
        })
    }

    /// The same store with another bound on an export's journal (tests of
    /// an export under more writes than it can read past).
    pub fn with_journal_max(mut self, writes: usize) -> Self {
        self.journal_max = writes;
        self
    }

    /// The export's journal while one runs (the caller holds the gate
    /// shared, so an export cannot start or end meanwhile).
    fn lock_journal(&self) -> MutexGuard<'_, Option<Journal>> {
        self.journal.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `write` (the tree writes `writes` describes) so that an export
    /// running meanwhile sees it: its keys go to the export's journal
    /// first, whether or not the write then succeeds in full.
    fn gated(
        &self,
        writes: Vec<KeyWrite>,
        write: impl FnOnce(&[KeyWrite]) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let _open = self.gate.read().unwrap_or_else(|e| e.into_inner());
        // Journaled before the write: a write that fails or panics part way
        // has its keys read again at the close all the same.
        if self.exporting.load(Ordering::Acquire) {
            if let Some(journal) = self.lock_journal().as_mut() {
                journal.keys.extend(writes.iter().map(|(k, _)| k.clone()));
            }
        }
        write(&writes)
    }

    /// Whether the account-record memo holds this account, and with the
    /// bytes stored now (for tests: what a memo holds must not depend on
    /// how the account last checked in).
    pub fn memo_holds(&self, id: &AccountId) -> (bool, bool) {
        let current = self.tree.get(keys::account(id)).ok().flatten();
        (self.accounts.holds(id), current.is_some_and(|b| self.accounts.get(id, &b).is_some()))
    }

    /// An account record, through the memo.
    fn read_account(&self, id: &AccountId, remember: Remember) -> Result<Option<AccountRecord>, StoreError> {
        let Some(stored) = self.tree.get(keys::account(id))? else { return Ok(None) };
        let record = self.accounts.decode(id, &stored, remember, |b| decode::<AccountRecord>(prefix::ACCOUNT, b))?;
        Ok(Some((*record).clone()))
    }

    /// The account records just written replace what the memo holds of
    /// them (an account not in it stays out), and deleted ones leave it.
    /// Refreshed on write, not only on read: a record rewritten in the
    /// background (an alert fired by a duress signal) must not make the next
    /// request's read of it slower than a read after a normal check-in,
    /// which leaves the record as it was.
    fn remember_written(&self, writes: &[KeyWrite]) {
        for (key, value) in writes {
            let id = match key.split_first() {
                Some((&prefix::ACCOUNT, id)) => match AccountId::from_slice(id) {
                    Ok(id) => id,
                    Err(_) => continue,
                },
                _ => continue,
            };
            if value.is_some() && !self.accounts.holds(&id) {
                continue; // nothing to refresh, so nothing to decode
            }
            match value.as_deref().map(|v| (v, decode::<AccountRecord>(prefix::ACCOUNT, v))) {
                Some((v, Ok(record))) => self.accounts.refresh(id, v.to_vec(), std::sync::Arc::new(record)),
                _ => self.accounts.forget(&id),
            }
        }
    }

    fn get<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, StoreError> {
        match self.tree.get(key)? {
            Some(v) => decode(key[0], &v).map(Some),
            None => Ok(None),
        }
    }

    fn scan_values<T: DeserializeOwned>(&self, prefix: &[u8]) -> Result<Vec<(sled::IVec, T)>, StoreError> {
        self.tree
            .scan_prefix(prefix)
            .map(|kv| {
                let (k, v) = kv?;
                Ok((k, decode(prefix[0], &v)?))
            })
            .collect()
    }

    fn scan_keys<T>(&self, prefix: u8, parse: fn(&[u8]) -> Option<T>) -> Result<Vec<T>, StoreError> {
        self.tree
            .scan_prefix([prefix])
            .keys()
            .map(|k| parse(&k?).ok_or(StoreError::Corrupt(char::from(prefix))))
            .collect()
    }

    fn count(&self, prefix: u8) -> u64 {
        self.tree.scan_prefix([prefix]).keys().count() as u64
    }

    /// Every key and value, in key order: for tests that compare what two
    /// runs stored, byte for byte or by shape.
    pub fn raw_entries(&self) -> Result<Vec<KeyValue>, StoreError> {
        self.tree.iter().map(|kv| kv.map(|(k, v)| (k.to_vec(), v.to_vec())).map_err(StoreError::from)).collect()
    }

    /// Writes one raw key (`None`: removes it): for tests that lay out a
    /// database as an older version wrote it, to test its migration.
    pub fn raw_write(&self, key: &[u8], value: Option<&[u8]>) -> Result<(), StoreError> {
        self.gated(vec![(key.to_vec(), value.map(<[u8]>::to_vec))], |w| self.insert_each(w))
    }

    fn insert_each(&self, writes: &[KeyWrite]) -> Result<(), StoreError> {
        for (key, value) in writes {
            match value {
                Some(v) => self.tree.insert(key.as_slice(), v.as_slice())?,
                None => self.tree.remove(key.as_slice())?,
            };
        }
        Ok(())
    }

    /// Runs `f` whenever a flush fails ([`GroupCommit::on_failure`]).
    pub fn on_flush_failure(&self, f: impl Fn(&str) + Send + Sync + 'static) {
        self.commit.on_failure(f);
    }

    /// Flushes synchronously (shutdown).
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

/// How long opening a database waits for another handle in this process
/// to let go of sled's file lock.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// Opens a database, trying again while sled's file lock is held: a
/// handle this process just closed (a restore's, a store's whose flusher
/// is finishing its last flush) lets go of it a moment after it is dropped,
/// as sled's own I/O threads finish. A lock another process holds is still
/// refused, after [`LOCK_WAIT`].
fn open_waiting_for_lock(open: impl Fn() -> sled::Result<sled::Db>) -> Result<sled::Db, StoreError> {
    let deadline = std::time::Instant::now() + LOCK_WAIT;
    loop {
        match open() {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock") && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return Ok(other?),
        }
    }
}

/// A new database filled by a restore: raw keys written a batch at a time,
/// with no group commit (nothing is acknowledged), flushed and closed by
/// [`Import::finish`], after which the directory can be opened at once.
#[derive(Debug)]
pub struct Import {
    db: sled::Db,
    tree: sled::Tree,
}

impl Import {
    /// Creates the database in `dir`.
    pub fn create(dir: &Path) -> Result<Self, StoreError> {
        // No background flusher thread: it would hold the database (and its
        // lock) for a moment after `finish`, and `finish` flushes anyway.
        let db = sled::Config::new().path(dir).cache_capacity(64 * 1024 * 1024).flush_every_ms(None).open()?;
        let tree = db.open_tree("aman")?;
        Ok(Import { db, tree })
    }

    /// Writes raw keys in one atomic batch (`None`: removes one).
    pub fn write(&self, writes: &[KeyWrite]) -> Result<(), StoreError> {
        self.tree.apply_batch(batch_of(writes))?;
        Ok(())
    }

    /// Flushes and closes it.
    pub fn finish(self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }
}

/// The big-endian u64 at `at` in a key of the record kind `kind`.
fn u64_in(key: &[u8], at: usize, kind: char) -> Result<u64, StoreError> {
    key.get(at..at + 8)
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .ok_or(StoreError::Corrupt(kind))
}

/// A stored key and its value.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// A key and its new value (`None`: remove it).
pub type KeyWrite = (Vec<u8>, Option<Vec<u8>>);

/// One atomic sled batch of key writes (a later write of a key wins).
fn batch_of(writes: &[KeyWrite]) -> sled::Batch {
    let mut batch = sled::Batch::default();
    for (key, value) in writes {
        match value {
            Some(v) => batch.insert(key.as_slice(), v.as_slice()),
            None => batch.remove(key.as_slice()),
        }
    }
    batch
}

/// The key writes and removals of a list of ops, in order.
fn all_writes(ops: Vec<Op>) -> Result<Vec<KeyWrite>, StoreError> {
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        out.extend(writes(op)?);
    }
    Ok(out)
}

/// The key writes and removals of one op, in order.
fn writes(op: Op) -> Result<Vec<KeyWrite>, StoreError> {
    let put = |k: Vec<u8>, v: Vec<u8>| vec![(k, Some(v))];
    let del = |k: Vec<u8>| vec![(k, None)];
    Ok(match op {
        Op::PutAccount(id, rec) => put(keys::account(&id), encode(&rec)?),
        Op::DeleteAccount(id) => {
            vec![
                (keys::account(&id), None),
                (keys::live(&id), None),
                (keys::sealed(&id), None),
                (keys::note_history(&id), None),
                (keys::reminders(&id), None),
                (keys::directory(&id), None),
            ]
        }
        Op::PutLive(id, sealed) => put(keys::live(&id), sealed),
        Op::DeleteLive(id) => del(keys::live(&id)),
        Op::DeleteLegacyDeadline(at, id) => del(keys::legacy_deadline(at, &id)),
        Op::PutSealed(id, bytes) => put(keys::sealed(&id), bytes),
        Op::PutDirectory(id, bytes) => put(keys::directory(&id), bytes),
        Op::PutInvite(hash, rec) => put(keys::invite(&hash), encode(&rec)?),
        Op::PutMailbox(id, rec) => put(keys::mailbox(&id), encode(&rec)?),
        Op::DeleteMailbox(id) => del(keys::mailbox(&id)),
        Op::PutPairing(id, rec) => put(keys::pairing(&id), encode(&rec)?),
        Op::DeletePairing(id) => del(keys::pairing(&id)),
        Op::PutAlert(id, rec) => put(keys::alert(&id), encode(&rec)?),
        Op::PutMailboxEntry(mb, alert, entry) => vec![
            (keys::mailbox_change(&mb, entry.changed, &alert), Some(Vec::new())),
            (keys::mailbox_entry(&mb, &alert), Some(encode(&entry)?)),
        ],
        Op::DeleteMailboxEntry(mb, alert, changed) => {
            vec![(keys::mailbox_change(&mb, changed, &alert), None), (keys::mailbox_entry(&mb, &alert), None)]
        }
        Op::DeleteMailboxChange(mb, changed, alert) => del(keys::mailbox_change(&mb, changed, &alert)),
        Op::DeleteMailboxNotice(mb, at, seq) => del(keys::mailbox_notice(&mb, at, seq)),
        Op::DeleteAlert(alert) => del(keys::alert(&alert)),
        Op::DeleteDeliveryLog(alert, at, seq) => del(keys::delivery_log(&alert, at, seq)),
        Op::DeleteMeta(name) => del(keys::meta(name)),
        Op::PutMailboxNotice(mb, at, seq, notice) => put(keys::mailbox_notice(&mb, at, seq), encode(&notice)?),
        Op::PutOutbox(due, alert, mb, ch, entry) => put(keys::outbox(due, &alert, &mb, ch), encode(&entry)?),
        Op::DeleteOutbox(due, alert, mb, ch) => del(keys::outbox(due, &alert, &mb, ch)),
        Op::PutEscalation(at, alert) => put(keys::escalation(at, &alert), Vec::new()),
        Op::DeleteEscalation(at, alert) => del(keys::escalation(at, &alert)),
        Op::PutCooling(at, id) => put(keys::cooling(at, &id), Vec::new()),
        Op::DeleteCooling(at, id) => del(keys::cooling(at, &id)),
        Op::PutDeliveryLog(alert, at, seq, rec) => put(keys::delivery_log(&alert, at, seq), encode(&rec)?),
        Op::PutMeta(name, value) => put(keys::meta(name), value),
        Op::PutRetired(tag) => put(keys::retired(&tag), Vec::new()),
        Op::PutDispatch(at, alert) => put(keys::dispatch(at, &alert), Vec::new()),
        Op::DeleteDispatch(at, alert) => del(keys::dispatch(at, &alert)),
        Op::PutNoteHistory(id, notes) => put(keys::note_history(&id), encode(&notes)?),
        // A signal in a live state has no key: it is cleared with the live state.
        Op::DeleteSignal(slot) => slot.key().map_or_else(Vec::new, del),
        Op::PutReminders(id, rec) => put(keys::reminders(&id), encode(&rec)?),
        Op::DeleteReminders(id) => del(keys::reminders(&id)),
    })
}

impl Store for SledStore {
    fn apply(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        let all = all_writes(ops)?;
        self.gated(all, |all| {
            self.tree.apply_batch(batch_of(all))?;
            self.remember_written(all);
            Ok(())
        })
    }

    fn apply_ordered(&self, ops: Vec<Op>) -> Result<(), StoreError> {
        // Single-key writes take sled's shared lock only, so they run
        // alongside a flush; a batch takes the exclusive lock and waits.
        let all = all_writes(ops)?;
        self.gated(all, |all| {
            self.insert_each(all)?;
            self.remember_written(all);
            Ok(())
        })
    }

    fn export(&self, visit: &mut ExportVisit<'_>) -> Result<(), StoreError> {
        let end = {
            let _closed = self.gate.write().unwrap_or_else(|e| e.into_inner());
            let end = self.tree.last()?.map(|(k, _)| k);
            let mut journal = self.lock_journal();
            if journal.is_some() {
                return Err(StoreError::Backend("a backup is already being taken".into()));
            }
            *journal = Some(Journal::default());
            self.exporting.store(true, Ordering::Release);
            end
        };
        let open = ExportOpen(self);
        // The tree is read while writes go on, and every key written
        // meanwhile is journaled; when the journal closes (writes held off
        // for that moment) each journaled key's value is read again. So the
        // tree as read, with the journaled keys as they are at the close, is
        // the store at that moment. A key already journaled is skipped, and
        // keys past the last one at the start are left to the journal. If
        // writes come faster than the read can pass them, so that the
        // journal outgrows `journal_max` keys, the read holds writes off for
        // the rest of its way: it always ends, and the journal stays bounded.
        let mut holding = None;
        let read = match end {
            None => Ok(()),
            Some(end) => self.tree.range(..=end).try_for_each(|kv| {
                let (k, v) = kv?;
                let (written, crowded) = match self.lock_journal().as_ref() {
                    Some(j) => (j.keys.contains(k.as_ref()), j.keys.len() > self.journal_max),
                    None => (false, false),
                };
                if crowded && holding.is_none() {
                    holding = Some(self.gate.write().unwrap_or_else(|e| e.into_inner()));
                }
                if written {
                    return Ok(());
                }
                visit(&k, Some(&v))
            }),
        };
        let _closed = holding.unwrap_or_else(|| self.gate.write().unwrap_or_else(|e| e.into_inner()));
        self.exporting.store(false, Ordering::Release);
        let journal = self.lock_journal().take().unwrap_or_default();
        std::mem::forget(open); // closed here, under the gate
        read?;
        // In key order, with their values now: the backup keeps no record
        // of the order writes came in.
        for key in &journal.keys {
            let value = self.tree.get(key)?;
            visit(key, value.as_deref())?;
        }
        Ok(())
    }

    fn durable(&self) -> Ticket {
        self.commit.ticket()
    }

    fn account(&self, id: &AccountId) -> Result<Option<AccountRecord>, StoreError> {
        self.read_account(id, Remember::No)
    }

    fn account_for_checkin(&self, id: &AccountId) -> Result<Option<AccountRecord>, StoreError> {
        self.read_account(id, Remember::Yes)
    }

    fn reminders(&self, id: &AccountId) -> Result<Option<ReminderRecord>, StoreError> {
        self.get(&keys::reminders(id))
    }

    fn all_reminders(&self) -> Result<Vec<(AccountId, ReminderRecord)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.tree.scan_prefix([prefix::REMINDERS]) {
            let (k, v) = kv?;
            let id = k.get(1..).and_then(|b| AccountId::from_slice(b).ok()).ok_or(StoreError::Corrupt('r'))?;
            out.push((id, decode(prefix::REMINDERS, &v)?));
        }
        Ok(out)
    }

    fn sealed(&self, id: &AccountId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(keys::sealed(id))?.map(|v| v.to_vec()))
    }

    fn directory(&self, id: &AccountId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(keys::directory(id))?.map(|v| v.to_vec()))
    }

    fn live(&self, id: &AccountId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(keys::live(id))?.map(|v| v.to_vec()))
    }

    fn scan_lives(&self, visit: &mut dyn FnMut(AccountId, &[u8])) -> Result<(), StoreError> {
        for kv in self.tree.scan_prefix([prefix::LIVE]) {
            let (k, v) = kv?;
            let id = k.get(1..).and_then(|b| AccountId::from_slice(b).ok()).ok_or(StoreError::Corrupt('t'))?;
            visit(id, &v);
        }
        Ok(())
    }

    fn account_ids(&self) -> Result<Vec<AccountId>, StoreError> {
        self.scan_keys(prefix::ACCOUNT, |k| k.get(1..).and_then(|b| AccountId::from_slice(b).ok()))
    }

    fn legacy_deadlines(&self) -> Result<Vec<(u64, AccountId)>, StoreError> {
        self.scan_keys(prefix::LEGACY_DEADLINE, keys::parse_legacy_deadline)
    }

    fn escalations(&self) -> Result<Vec<(u64, AlertId)>, StoreError> {
        self.scan_keys(prefix::ESCALATION, keys::parse_escalation)
    }

    fn cooling(&self) -> Result<Vec<(u64, AccountId)>, StoreError> {
        self.scan_keys(prefix::COOLING, keys::parse_cooling)
    }

    fn dispatches(&self) -> Result<Vec<(u64, AlertId)>, StoreError> {
        self.scan_keys(prefix::DISPATCH, keys::parse_dispatch)
    }

    fn signals(&self) -> Result<Vec<SignalSlot>, StoreError> {
        self.scan_keys(prefix::SIGNAL, keys::parse_signal)
    }

    fn signal(&self, slot: &SignalSlot) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(key) = slot.key() else { return Ok(None) };
        Ok(self.tree.get(key)?.map(|v| v.to_vec()))
    }

    fn note_history(&self, id: &AccountId) -> Result<Vec<StoredNote>, StoreError> {
        Ok(self.get(&keys::note_history(id))?.unwrap_or_default())
    }

    fn invite(&self, code_hash: &[u8; 32]) -> Result<Option<InviteRecord>, StoreError> {
        self.get(&keys::invite(code_hash))
    }

    fn retired(&self, tag: &[u8; 32]) -> Result<bool, StoreError> {
        Ok(self.tree.contains_key(keys::retired(tag))?)
    }

    fn invites(&self) -> Result<Vec<([u8; 32], InviteRecord)>, StoreError> {
        self.scan_values::<InviteRecord>(&[prefix::INVITE])?
            .into_iter()
            .map(|(k, rec)| {
                let hash = k.get(1..).and_then(|h| <[u8; 32]>::try_from(h).ok()).ok_or(StoreError::Corrupt('i'))?;
                Ok((hash, rec))
            })
            .collect()
    }

    fn mailbox(&self, id: &MailboxId) -> Result<Option<MailboxRecord>, StoreError> {
        self.get(&keys::mailbox(id))
    }

    fn pairing(&self, id: &InviteId) -> Result<Option<PairingRecord>, StoreError> {
        self.get(&keys::pairing(id))
    }

    fn alert(&self, id: &AlertId) -> Result<Option<AlertRecord>, StoreError> {
        self.get(&keys::alert(id))
    }

    fn mailbox_entries(&self, mailbox: &MailboxId) -> Result<Vec<(AlertId, MailboxEntry)>, StoreError> {
        self.scan_values::<MailboxEntry>(&keys::mailbox_entries(mailbox))?
            .into_iter()
            .map(|(k, entry)| {
                let id = k.get(17..33).ok_or(StoreError::Corrupt('e'))?;
                Ok((AlertId::from_slice(id).map_err(|_| StoreError::Corrupt('e'))?, entry))
            })
            .collect()
    }

    fn mailbox_entry(&self, mailbox: &MailboxId, alert: &AlertId) -> Result<Option<MailboxEntry>, StoreError> {
        self.get(&keys::mailbox_entry(mailbox, alert))
    }

    fn mailbox_changes_since(
        &self,
        mailbox: &MailboxId,
        since_ms: u64,
        limit: usize,
    ) -> Result<Vec<(u64, AlertId)>, StoreError> {
        let start = keys::mailbox_change(mailbox, since_ms.saturating_add(1), &AlertId::from_bytes([0; 16]));
        let end = keys::mailbox_change(mailbox, u64::MAX, &AlertId::from_bytes([0xff; 16]));
        self.tree
            .range(start..=end)
            .keys()
            .take(limit)
            .map(|k| keys::parse_mailbox_change(&k?).map(|(_, at, alert)| (at, alert)).ok_or(StoreError::Corrupt('E')))
            .collect()
    }

    fn mailbox_changes(&self, mailbox: &MailboxId) -> Result<Vec<(u64, AlertId)>, StoreError> {
        self.tree
            .scan_prefix(keys::mailbox_changes(mailbox))
            .keys()
            .map(|k| keys::parse_mailbox_change(&k?).map(|(_, at, alert)| (at, alert)).ok_or(StoreError::Corrupt('E')))
            .collect()
    }

    fn all_mailbox_changes(&self) -> Result<Vec<(MailboxId, u64, AlertId)>, StoreError> {
        self.scan_keys(prefix::MAILBOX_CHANGE, keys::parse_mailbox_change)
    }

    fn mailbox_notices(&self, mailbox: &MailboxId) -> Result<Vec<(u64, u64, MailboxNoticeRecord)>, StoreError> {
        self.scan_values::<MailboxNoticeRecord>(&keys::mailbox_notices(mailbox))?
            .into_iter()
            .map(|(k, n)| Ok((u64_in(&k, 17, 'n')?, u64_in(&k, 25, 'n')?, n)))
            .collect()
    }

    fn mailbox_notices_after(
        &self,
        mailbox: &MailboxId,
        since_ms: u64,
        limit: usize,
    ) -> Result<Vec<(u64, MailboxNoticeRecord)>, StoreError> {
        let start = keys::mailbox_notice(mailbox, since_ms.saturating_add(1), 0);
        let end = keys::mailbox_notice(mailbox, u64::MAX, u64::MAX);
        self.tree
            .range(start..=end)
            .take(limit)
            .map(|kv| {
                let (k, v) = kv?;
                Ok((u64_in(&k, 17, 'n')?, decode(prefix::MAILBOX_NOTICE, &v)?))
            })
            .collect()
    }

    fn max_change_stamp(&self) -> Result<u64, StoreError> {
        let mut high = 0u64;
        for prefix in [prefix::MAILBOX_CHANGE, prefix::MAILBOX_NOTICE] {
            for k in self.tree.scan_prefix([prefix]).keys() {
                let k = k?;
                high = high.max(u64_in(&k, 17, 'E').unwrap_or(0));
            }
        }
        Ok(high)
    }

    fn alert_summaries(&self) -> Result<Vec<(AlertId, AccountId, bool, u64)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.tree.scan_prefix([prefix::ALERT]) {
            let (k, v) = kv?;
            let id = k.get(1..).and_then(|b| AlertId::from_slice(b).ok()).ok_or(StoreError::Corrupt('A'))?;
            let alert: AlertRecord = decode(prefix::ALERT, &v)?;
            out.push((id, alert.account, alert.dispatched, alert.updated_ms));
        }
        Ok(out)
    }

    fn delivery_log_keys(&self, alert: &AlertId) -> Result<Vec<(u64, u64)>, StoreError> {
        self.tree
            .scan_prefix(keys::delivery_logs(alert))
            .keys()
            .map(|k| {
                let k = k?;
                Ok((u64_in(&k, 17, 'l')?, u64_in(&k, 25, 'l')?))
            })
            .collect()
    }

    fn mailboxes(&self) -> Result<Vec<(MailboxId, AccountId)>, StoreError> {
        self.scan_values::<MailboxRecord>(&[prefix::MAILBOX])?
            .into_iter()
            .map(|(k, rec)| {
                let id = k.get(1..17).ok_or(StoreError::Corrupt('m'))?;
                Ok((MailboxId::from_slice(id).map_err(|_| StoreError::Corrupt('m'))?, rec.account))
            })
            .collect()
    }

    fn pairings(&self) -> Result<Vec<(InviteId, PairingRecord)>, StoreError> {
        self.scan_values::<PairingRecord>(&[prefix::PAIRING])?
            .into_iter()
            .map(|(k, rec)| {
                let id = k.get(1..).ok_or(StoreError::Corrupt('p'))?;
                Ok((InviteId::from_slice(id).map_err(|_| StoreError::Corrupt('p'))?, rec))
            })
            .collect()
    }

    fn scan_due(&self, now: u64, visit: &mut dyn FnMut(QueuedDelivery) -> bool) -> Result<(), StoreError> {
        for kv in self.tree.range(
            keys::outbox(0, &AlertId::from_bytes([0; 16]), &MailboxId::from_bytes([0; 16]), OutboxChannel::MIN)..,
        ) {
            let (k, v) = kv?;
            if k.first() != Some(&prefix::OUTBOX) {
                break;
            }
            if k.len() != 1 + 8 + 16 + 16 + 1 {
                return Err(StoreError::Corrupt('o'));
            }
            let due = u64::from_be_bytes(k[1..9].try_into().map_err(|_| StoreError::Corrupt('o'))?);
            if due > now {
                break;
            }
            let queued = QueuedDelivery {
                due,
                alert: AlertId::from_slice(&k[9..25]).map_err(|_| StoreError::Corrupt('o'))?,
                mailbox: MailboxId::from_slice(&k[25..41]).map_err(|_| StoreError::Corrupt('o'))?,
                channel: OutboxChannel::from_byte(k[41]).ok_or(StoreError::Corrupt('o'))?,
                entry: decode(prefix::OUTBOX, &v)?,
            };
            if !visit(queued) {
                break;
            }
        }
        Ok(())
    }

    fn next_delivery_due(&self) -> Result<Option<u64>, StoreError> {
        match self.tree.scan_prefix([prefix::OUTBOX]).keys().next() {
            Some(k) => {
                let k = k?;
                let due = k.get(1..9).and_then(|b| <[u8; 8]>::try_from(b).ok()).ok_or(StoreError::Corrupt('o'))?;
                Ok(Some(u64::from_be_bytes(due)))
            }
            None => Ok(None),
        }
    }

    fn delivery_log(&self, alert: &AlertId) -> Result<Vec<DeliveryRecord>, StoreError> {
        Ok(self.scan_values::<DeliveryRecord>(&keys::delivery_logs(alert))?.into_iter().map(|(_, r)| r).collect())
    }

    fn meta(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree.get(keys::meta(name))?.map(|v| v.to_vec()))
    }

    fn stats(&self) -> Result<Stats, StoreError> {
        let alerts = self.scan_values::<AlertRecord>(&[prefix::ALERT])?;
        Ok(Stats {
            accounts: self.count(prefix::ACCOUNT),
            armed_deadlines: 0, // sealed: the running server's schedule knows
            open_alerts: alerts.iter().filter(|(_, a)| a.acks.is_empty()).count() as u64,
            alerts: alerts.len() as u64,
            deliveries_pending: self.count(prefix::OUTBOX),
            mailboxes: self.count(prefix::MAILBOX),
        })
    }
}
