//! Proof of life for contacts: the member's latest public heartbeat, which
//! a contact verifies with the member's `ID` and so knows the deadline
//! without trusting this server.

use super::error::EngineError;
use super::Engine;
use crate::store::AccountRecord;
use aman_protocol::api::HeartbeatList;
use aman_protocol::MailboxId;

impl Engine {
    /// The latest `PH` of the member a mailbox watches over, once the
    /// contact's own cooling-off has passed (a contact linked by a captor
    /// learns the schedule no sooner than it could be alerted). Read from the
    /// account record as it is: a check-in never wakes this.
    pub fn latest_heartbeat(&self, mailbox: &MailboxId) -> Result<HeartbeatList, EngineError> {
        let now = self.clock.now();
        let Some(record) = self.store.mailbox(mailbox)? else {
            return Ok(HeartbeatList { heartbeat: None });
        };
        let Some(account) = self.account(&record.account)? else {
            return Ok(HeartbeatList { heartbeat: None });
        };
        let linked = Self::sees_member(&account.record, mailbox, now);
        Ok(HeartbeatList { heartbeat: account.live.last_heartbeat.filter(|_| linked).map(aman_protocol::api::B64) })
    }

    /// Whether a mailbox may see what the member shares with its contacts
    /// (heartbeats, the server directory): it is linked in the policy and
    /// its own cooling-off has passed, so a contact linked by a captor
    /// learns nothing sooner than it could be alerted.
    pub(super) fn sees_member(account: &AccountRecord, mailbox: &MailboxId, now: u64) -> bool {
        account.policy.contacts.iter().any(|c| c.mailbox == *mailbox && c.is_active(now))
    }
}
