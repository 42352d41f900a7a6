//! Long-poll wake-ups, one channel per mailbox. A change wakes only the
//! contacts it concerns: a duress alert of one member must not wake every
//! long-polling contact on the server (a watcher of the server's network
//! would see that burst follow the check-in).

use super::lock;
use aman_protocol::MailboxId;
use std::collections::HashMap;
use std::sync::Mutex;
use tokio::sync::watch;

/// The wake-up channels of the mailboxes someone is waiting on.
#[derive(Debug, Default)]
pub struct MailboxWakes {
    senders: Mutex<HashMap<MailboxId, watch::Sender<u64>>>,
}

impl MailboxWakes {
    /// A receiver that changes whenever `mailbox` changes.
    pub fn subscribe(&self, mailbox: MailboxId) -> watch::Receiver<u64> {
        lock(&self.senders).entry(mailbox).or_insert_with(|| watch::channel(0).0).subscribe()
    }

    /// Wakes the waiters of these mailboxes (and no one else).
    pub fn wake(&self, mailboxes: impl IntoIterator<Item = MailboxId>) {
        let mut senders = lock(&self.senders);
        for mailbox in mailboxes {
            if let Some(sender) = senders.get(&mailbox) {
                if sender.receiver_count() == 0 {
                    senders.remove(&mailbox);
                } else {
                    sender.send_modify(|v| *v = v.wrapping_add(1));
                }
            }
        }
    }

    /// Forgets a mailbox's channel once nobody waits on it (call after
    /// dropping the receiver).
    pub fn release(&self, mailbox: &MailboxId) {
        let mut senders = lock(&self.senders);
        if senders.get(mailbox).is_some_and(|s| s.receiver_count() == 0) {
            senders.remove(mailbox);
        }
    }

    /// Mailboxes with a channel (for tests).
    pub fn waiting(&self) -> usize {
        lock(&self.senders).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_only_the_mailboxes_concerned() {
        let wakes = MailboxWakes::default();
        let (a, b) = (MailboxId::from_bytes([1; 16]), MailboxId::from_bytes([2; 16]));
        let mut ra = wakes.subscribe(a);
        let mut rb = wakes.subscribe(b);
        wakes.wake([a]);
        assert!(ra.has_changed().unwrap_or(false));
        assert!(!rb.has_changed().unwrap_or(true));
        ra.mark_unchanged();
        rb.mark_unchanged();
        drop(ra);
        wakes.release(&a);
        assert_eq!(wakes.waiting(), 1);
    }
}
