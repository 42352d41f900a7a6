//! Long-poll wake-ups, one channel per mailbox, and the bounds on how many
//! long-polls may wait at once.
//!
//! A change wakes only the contacts it concerns: a duress alert of one
//! member must not wake every long-polling contact on the server (a watcher
//! of the server's network would see that burst follow the check-in). A
//! waiter holds a [`Waiter`] and nothing else while it waits (no mailbox
//! contents), and the number of waiters is capped per mailbox, per member
//! (across that member's contacts) and in total, so idle long-polls cost a
//! few hundred bytes each and one member cannot pin the server's memory.

use super::error::EngineError;
use super::lock;
use aman_protocol::api::ErrorCode;
use aman_protocol::{AccountId, MailboxId};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Seconds a refused long-poll is told to wait before trying again.
pub const WAITER_RETRY_AFTER: u64 = 5;

/// The caps on waiting long-polls.
#[derive(Debug, Clone, Copy)]
pub struct WaiterLimits {
    /// On the whole server.
    pub total: usize,
    /// Across one member's contact mailboxes.
    pub per_account: usize,
    /// On one mailbox.
    pub per_mailbox: usize,
}

#[derive(Debug, Default)]
struct Waiting {
    senders: HashMap<MailboxId, (watch::Sender<u64>, usize)>,
    per_account: HashMap<AccountId, usize>,
    total: usize,
}

/// The wake-up channels of the mailboxes someone is waiting on (a handle:
/// clones share them).
#[derive(Debug, Default, Clone)]
pub struct MailboxWakes {
    waiting: Arc<Mutex<Waiting>>,
}

/// One waiting long-poll: a receiver that changes whenever its mailbox
/// changes. Dropping it gives its place back.
#[derive(Debug)]
pub struct Waiter {
    receiver: watch::Receiver<u64>,
    mailbox: MailboxId,
    account: AccountId,
    waiting: Arc<Mutex<Waiting>>,
}

impl Waiter {
    /// Resolves at the next change of the mailbox (or if the channel closes).
    pub async fn changed(&mut self) {
        let _ = self.receiver.changed().await;
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        let mut w = lock(&self.waiting);
        w.total = w.total.saturating_sub(1);
        if let Some(n) = w.per_account.get_mut(&self.account) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                w.per_account.remove(&self.account);
            }
        }
        if let Some((_, n)) = w.senders.get_mut(&self.mailbox) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                w.senders.remove(&self.mailbox);
            }
        }
    }
}

impl MailboxWakes {
    /// A place to wait on `mailbox` (a contact of `account`), within the limits.
    pub fn wait_on(&self, mailbox: MailboxId, account: AccountId, limits: WaiterLimits) -> Result<Waiter, EngineError> {
        let mut w = lock(&self.waiting);
        if w.total >= limits.total {
            return Err(EngineError::overloaded(
                ErrorCode::TooManyWaiters,
                "the server holds as many long-polls as it allows; poll again shortly",
                WAITER_RETRY_AFTER,
            ));
        }
        if w.per_account.get(&account).copied().unwrap_or(0) >= limits.per_account {
            return Err(EngineError::busy(
                ErrorCode::TooManyWaiters,
                "this member's contacts hold as many long-polls as the server allows; poll again shortly",
                WAITER_RETRY_AFTER,
            ));
        }
        if w.senders.get(&mailbox).map_or(0, |(_, n)| *n) >= limits.per_mailbox {
            return Err(EngineError::busy(
                ErrorCode::TooManyWaiters,
                "this mailbox holds as many long-polls as the server allows; poll again shortly",
                WAITER_RETRY_AFTER,
            ));
        }
        w.total += 1;
        *w.per_account.entry(account).or_insert(0) += 1;
        let slot = w.senders.entry(mailbox).or_insert_with(|| (watch::channel(0).0, 0));
        slot.1 += 1;
        let receiver = slot.0.subscribe();
        drop(w);
        Ok(Waiter { receiver, mailbox, account, waiting: self.waiting.clone() })
    }

    /// Wakes the waiters of these mailboxes (and no one else).
    pub fn wake(&self, mailboxes: impl IntoIterator<Item = MailboxId>) {
        let w = lock(&self.waiting);
        for mailbox in mailboxes {
            if let Some((sender, _)) = w.senders.get(&mailbox) {
                sender.send_modify(|v| *v = v.wrapping_add(1));
            }
        }
    }

    /// Long-polls waiting now.
    pub fn waiting(&self) -> usize {
        lock(&self.waiting).total
    }

    /// Mailboxes with a channel (for tests).
    pub fn mailboxes_waited_on(&self) -> usize {
        lock(&self.waiting).senders.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROOMY: WaiterLimits = WaiterLimits { total: 100, per_account: 100, per_mailbox: 100 };

    #[test]
    fn wakes_only_the_mailboxes_concerned() {
        let wakes = MailboxWakes::default();
        let (a, b) = (MailboxId::from_bytes([1; 16]), MailboxId::from_bytes([2; 16]));
        let owner = AccountId::from_bytes([9; 16]);
        let ra = wakes.wait_on(a, owner, ROOMY).unwrap();
        let rb = wakes.wait_on(b, owner, ROOMY).unwrap();
        wakes.wake([a]);
        assert!(ra.receiver.has_changed().unwrap_or(false));
        assert!(!rb.receiver.has_changed().unwrap_or(true));
        drop(ra);
        assert_eq!(wakes.mailboxes_waited_on(), 1);
        assert_eq!(wakes.waiting(), 1);
        drop(rb);
        assert_eq!((wakes.mailboxes_waited_on(), wakes.waiting()), (0, 0));
    }

    #[test]
    fn every_cap_refuses_and_a_dropped_waiter_gives_its_place_back() {
        let wakes = MailboxWakes::default();
        let limits = WaiterLimits { total: 5, per_account: 3, per_mailbox: 2 };
        let (alice, bob) = (AccountId::from_bytes([1; 16]), AccountId::from_bytes([2; 16]));
        let mb = |n: u8| MailboxId::from_bytes([n; 16]);
        let first = wakes.wait_on(mb(1), alice, limits).unwrap();
        let _second = wakes.wait_on(mb(1), alice, limits).unwrap();
        let per_mailbox = wakes.wait_on(mb(1), alice, limits).unwrap_err();
        assert_eq!((per_mailbox.kind, per_mailbox.retry_after), (super::super::ErrorKind::Busy, Some(5)));
        let _third = wakes.wait_on(mb(2), alice, limits).unwrap();
        assert_eq!(wakes.wait_on(mb(3), alice, limits).unwrap_err().kind, super::super::ErrorKind::Busy);
        let _b1 = wakes.wait_on(mb(4), bob, limits).unwrap();
        let _b2 = wakes.wait_on(mb(5), bob, limits).unwrap();
        assert_eq!(wakes.wait_on(mb(6), bob, limits).unwrap_err().kind, super::super::ErrorKind::Overloaded);
        drop(first);
        assert!(wakes.wait_on(mb(1), alice, limits).is_ok());
    }
}
