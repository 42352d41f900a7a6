//! Start-up migration of the stored format.
//!
//! The database records its format version under the `format` metadata key.
//! A database without one was written by 0.2 or earlier (format 1). Each
//! step is idempotent and the version is written last, so a crash in the
//! middle makes the next start run the step again from the beginning.

use super::error::EngineError;
use super::Engine;
use crate::store::{Op, Store, StoreError};

/// Name of the format version in the store's metadata.
pub const FORMAT_KEY: &str = "format";

/// The format this build writes.
///
/// - 1: 0.2 and earlier.
/// - 2: mailbox entries carry a change stamp with a change index (`E`), so
///   polls read only what changed; what a check-in changes (counter,
///   deadline, heartbeat) moved out of the account record into a sealed
///   live state (`t`); the deadline index (`d`) is gone from disk.
/// - 3: a check-in's signal is kept in the sealed live state (live state
///   version 2) instead of on its own key (`S`). Nothing is rewritten:
///   version-1 live states and stored signals are read as they are. A
///   format-2 server must not open it: it cannot open a version-2 live
///   state, and would leave its deadline unarmed.
pub const FORMAT: u8 = 3;

/// Ops applied per write during a migration.
const MIGRATION_BATCH: usize = 4096;

/// The format version `store` records (1 when none is recorded, 0 when
/// the value is not one byte).
pub fn stored_format(store: &dyn Store) -> Result<u8, StoreError> {
    Ok(match store.meta(FORMAT_KEY)? {
        Some(v) if v.len() == 1 => v[0],
        Some(_) => 0,
        None => 1,
    })
}

impl Engine {
    /// The stored format version (1 when none is recorded).
    pub fn stored_format(&self) -> Result<u8, StoreError> {
        stored_format(self.store.as_ref())
    }

    /// Brings the database to [`FORMAT`]; refuses a database written by a
    /// newer version. Blocking; run before serving.
    pub fn migrate(&self) -> Result<u8, EngineError> {
        let found = self.stored_format()?;
        if found > FORMAT || found == 0 {
            return Err(EngineError::internal(format!(
                "the database has format {found}, this server reads up to {FORMAT}: run the newer server"
            )));
        }
        if found < 2 {
            self.index_mailbox_changes()?;
            self.seal_live_states()?;
        }
        if found < FORMAT {
            // A database with no format and no account is a new one, not 0.2's.
            let new = found == 1 && self.store.account_ids()?.is_empty() && self.store.mailboxes()?.is_empty();
            self.commit(vec![Op::PutMeta(FORMAT_KEY, vec![FORMAT])])?.wait_blocking()?;
            if new {
                tracing::info!(format = FORMAT, "new database");
            } else {
                tracing::info!(from = found, to = FORMAT, "database format migrated");
            }
        }
        Ok(found)
    }

    /// Format 2: each account's counter, deadline and heartbeat move from
    /// its record into a sealed live state; the deadline index goes.
    fn seal_live_states(&self) -> Result<(), EngineError> {
        let mut ops = Vec::new();
        // The mailboxes each member's pairings made, now counted in the record.
        let mut made: std::collections::HashMap<aman_protocol::AccountId, Vec<aman_protocol::MailboxId>> =
            std::collections::HashMap::new();
        for (mailbox, owner) in self.store.mailboxes()? {
            made.entry(owner).or_default().push(mailbox);
        }
        for id in self.store.account_ids()? {
            if self.store.live(&id)?.is_some() {
                continue;
            }
            let _guard = self.lock_account(&id);
            // Read through the engine: with no live state yet, it comes
            // from the record's 0.2 fields; the record is written back
            // without them.
            let Some(mut account) = self.account(&id)? else { continue };
            if account.mailboxes.is_empty() {
                account.mailboxes = made.remove(&id).unwrap_or_default();
            }
            self.account_ops(&id, account, &mut ops)?;
            if ops.len() >= MIGRATION_BATCH {
                self.commit(std::mem::take(&mut ops))?.wait_blocking()?;
            }
        }
        for (at, id) in self.store.legacy_deadlines()? {
            ops.push(Op::DeleteLegacyDeadline(at, id));
            if ops.len() >= MIGRATION_BATCH {
                self.commit(std::mem::take(&mut ops))?.wait_blocking()?;
            }
        }
        self.commit(ops)?.wait_blocking()?;
        Ok(())
    }

    /// Format 2: every mailbox entry gets a change stamp (its alert's last
    /// change) and a key in the mailbox's change index.
    fn index_mailbox_changes(&self) -> Result<(), EngineError> {
        let mut ops = Vec::new();
        for (mailbox, _) in self.store.mailboxes()? {
            let mut unstamped = Vec::new();
            for (alert, entry) in self.store.mailbox_entries(&mailbox)? {
                if entry.changed != 0 {
                    continue;
                }
                let record = self.store.alert(&alert)?;
                let ms = record.as_ref().map_or(entry.added.saturating_mul(1000), |a| a.updated_ms);
                let stamp = ms.saturating_mul(1000);
                let acknowledged = record.as_ref().is_none_or(|a| !a.acks.is_empty());
                unstamped.push((stamp, alert, acknowledged, entry));
            }
            // Stamps unique within the mailbox, in the order the alerts last
            // changed: a cursor between two equal stamps would skip one.
            unstamped.sort_by_key(|(stamp, alert, _, _)| (*stamp, *alert.as_bytes()));
            let mut last = 0u64;
            for (stamp, alert, acknowledged, entry) in unstamped {
                let stamp = stamp.max(last.saturating_add(1));
                last = stamp;
                ops.push(Op::PutMailboxEntry(
                    mailbox,
                    alert,
                    crate::store::MailboxEntry { changed: stamp, acknowledged, ..entry },
                ));
                if ops.len() >= MIGRATION_BATCH {
                    self.commit(std::mem::take(&mut ops))?.wait_blocking()?;
                }
            }
        }
        self.commit(ops)?.wait_blocking()?;
        Ok(())
    }
}
