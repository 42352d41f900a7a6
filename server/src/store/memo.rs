//! Decoded copies of per-account values, each kept with the exact stored
//! bytes it was decoded from.
//!
//! Every check-in reads its account's record (JSON), opens its sealed live
//! state and its sealed transport key, and most of the time those bytes are
//! the ones the last check-in left. A memo answers only when the bytes read
//! now are equal to the bytes it was given, so it can never hand out a value
//! the store no longer holds: a changed record is a miss and is decoded
//! again. It is a cache of work, not of state; losing it (a restart, the
//! bound below) costs a decode, nothing else.

use aman_protocol::AccountId;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// At most this many accounts are remembered per memo: the members checking
/// in right now, not the whole database (a million accounts must not cost
/// their records twice in memory). When full it starts again empty.
const MEMO_ACCOUNTS: usize = 4096;

/// Stored bytes and what they decode to.
type Remembered<V> = (Vec<u8>, Arc<V>);

/// One memo: account → what its stored bytes were and decode to.
pub struct Memo<V> {
    entries: Mutex<HashMap<AccountId, Remembered<V>>>,
}

impl<V> Default for Memo<V> {
    fn default() -> Self {
        Memo { entries: Mutex::new(HashMap::new()) }
    }
}

// Values may be secrets (a transport key): never printed.
impl<V> std::fmt::Debug for Memo<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Memo")
    }
}

impl<V> Memo<V> {
    /// What `stored` decodes to, if it is exactly what was remembered.
    pub fn get(&self, id: &AccountId, stored: &[u8]) -> Option<Arc<V>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.get(id).filter(|(bytes, _)| bytes.as_slice() == stored).map(|(_, v)| v.clone())
    }

    /// Remembers that `stored` decodes to `value`, making room if full.
    /// Only a check-in request does this (see [`Remember`]).
    pub fn put(&self, id: AccountId, stored: Vec<u8>, value: Arc<V>) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MEMO_ACCOUNTS && !entries.contains_key(&id) {
            entries.clear();
        }
        entries.insert(id, (stored, value));
    }

    /// Replaces what is remembered of an account that is in the memo (a
    /// write the server just made); an account that is not stays out, and
    /// nothing is evicted.
    pub fn refresh(&self, id: AccountId, stored: Vec<u8>, value: Arc<V>) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(entry) = entries.get_mut(&id) {
            *entry = (stored, value);
        }
    }

    /// Whether the account is in the memo (a write need not decode what it
    /// would not refresh).
    pub fn holds(&self, id: &AccountId) -> bool {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).contains_key(id)
    }

    /// Forgets an account (deleted: its memory goes with it).
    pub fn forget(&self, id: &AccountId) {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).remove(id);
    }

    /// Decodes `stored` with `decode`, or answers from the memo. Only
    /// [`Remember::Yes`] puts what it decoded in the memo.
    pub fn decode<E>(
        &self,
        id: &AccountId,
        stored: &[u8],
        remember: Remember,
        decode: impl FnOnce(&[u8]) -> Result<V, E>,
    ) -> Result<Arc<V>, E> {
        if let Some(hit) = self.get(id, stored) {
            return Ok(hit);
        }
        let value = Arc::new(decode(stored)?);
        if remember == Remember::Yes {
            self.put(*id, stored.to_vec(), value.clone());
        }
        Ok(value)
    }
}

/// Whether a read may put what it decoded in a memo. Only a check-in
/// request does (`Yes`): what is in a memo, and what a full memo evicts,
/// then follows the check-ins that arrived (the same whichever passphrase
/// sent them, and an unknown account's through the stand-in), never what the
/// scheduler did later because of one (a duress alert reads and rewrites
/// the account; a normal check-in's signal is dropped unread). Any other
/// read, and any read by a path without the account's lock (which may hold
/// older bytes than the memo), leaves the memo as it was (`No`); the
/// server's own writes refresh an account already in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remember {
    /// A check-in request, under the account's lock.
    Yes,
    /// Anything else.
    No,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> AccountId {
        AccountId::from_bytes([n; 16])
    }

    #[test]
    fn answers_only_for_the_very_bytes_it_was_given() {
        let memo: Memo<String> = Memo::default();
        let mut decodes = 0;
        let mut read = |bytes: &[u8]| {
            memo.decode(&id(1), bytes, Remember::Yes, |b| {
                decodes += 1;
                Ok::<_, ()>(String::from_utf8_lossy(b).into_owned())
            })
            .map(|v| (*v).clone())
        };
        assert_eq!(read(b"one"), Ok("one".to_owned()));
        assert_eq!(read(b"one"), Ok("one".to_owned()));
        assert_eq!(read(b"two"), Ok("two".to_owned()), "changed bytes are decoded again");
        assert_eq!(read(b"one"), Ok("one".to_owned()));
        assert_eq!(decodes, 3);
    }

    #[test]
    fn a_failed_decode_is_not_remembered_and_accounts_do_not_mix() {
        let memo: Memo<u8> = Memo::default();
        assert_eq!(memo.decode(&id(1), b"x", Remember::Yes, |_| Err::<u8, _>("corrupt")), Err("corrupt"));
        assert!(memo.get(&id(1), b"x").is_none());
        memo.put(id(1), b"x".to_vec(), Arc::new(1));
        assert!(memo.get(&id(2), b"x").is_none(), "another account's equal bytes are not its");
        memo.forget(&id(1));
        assert!(memo.get(&id(1), b"x").is_none());
    }

    #[test]
    fn only_a_remembering_read_adds_an_account_and_a_refresh_never_does() {
        let memo: Memo<u8> = Memo::default();
        assert_eq!(memo.decode(&id(1), b"x", Remember::No, |_| Ok::<u8, ()>(1)), Ok(Arc::new(1)));
        assert!(memo.get(&id(1), b"x").is_none(), "a read that does not remember leaves no trace");
        memo.refresh(id(1), b"x".to_vec(), Arc::new(1));
        assert!(memo.get(&id(1), b"x").is_none(), "a write refreshes only an account already there");
        memo.put(id(1), b"x".to_vec(), Arc::new(1));
        memo.refresh(id(1), b"y".to_vec(), Arc::new(2));
        assert_eq!(memo.get(&id(1), b"y"), Some(Arc::new(2)));
        // An older read (without the lock) does not put its bytes back.
        assert_eq!(memo.decode(&id(1), b"x", Remember::No, |_| Ok::<u8, ()>(1)), Ok(Arc::new(1)));
        assert_eq!(memo.get(&id(1), b"y"), Some(Arc::new(2)));
    }

    #[test]
    fn it_stays_bounded() {
        let memo: Memo<u32> = Memo::default();
        for n in 0..(MEMO_ACCOUNTS as u32 + 10) {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&n.to_be_bytes());
            memo.put(AccountId::from_bytes(b), vec![1], Arc::new(n));
        }
        assert!(memo.entries.lock().unwrap().len() <= MEMO_ACCOUNTS);
    }
}
