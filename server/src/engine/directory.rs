//! The member's server directory (PROTOCOL.md §6.1): every server it is
//! registered on, sealed to its contacts. This server stores it as sent and
//! hands it to the member's contacts; it can check only its structure, and
//! learns none of the servers it names.

use super::error::{EngineError, ErrorKind};
use super::Engine;
use crate::store::{Durable, Op};
use aman_protocol::api::{DirectoryReply, ErrorCode, B64};
use aman_protocol::directory::{validate_sealed, MAX_SEALED_LEN};
use aman_protocol::{AccountId, MailboxId};

impl Engine {
    /// Replaces the member's sealed directory. Nothing is stored unless it
    /// is a well-formed sealed directory of at most [`MAX_SEALED_LEN`] bytes.
    pub fn set_directory(&self, caller: &AccountId, sealed: &[u8]) -> Result<Durable, EngineError> {
        if sealed.len() > MAX_SEALED_LEN {
            return Err(EngineError::new(
                ErrorKind::TooLarge,
                ErrorCode::DirectoryTooLarge,
                format!("a sealed directory is at most {MAX_SEALED_LEN} bytes"),
            ));
        }
        validate_sealed(sealed).map_err(|e| {
            EngineError::bad_request(ErrorCode::InvalidDirectory, format!("not a sealed directory: {e}"))
        })?;
        let _guard = self.lock_account(caller);
        // The account must exist (a deletion may have raced the request).
        self.account_or_unauthorized(caller)?;
        self.commit(vec![Op::PutDirectory(*caller, sealed.to_vec())])
    }

    /// The sealed directory of the member a mailbox watches over, under the
    /// rule heartbeats follow (`sees_member`): none before the contact's
    /// cooling-off has passed.
    pub fn directory_for(&self, mailbox: &MailboxId) -> Result<DirectoryReply, EngineError> {
        let none = DirectoryReply { directory: None };
        let Some(record) = self.store.mailbox(mailbox)? else { return Ok(none) };
        let Some(account) = self.store.account(&record.account)? else { return Ok(none) };
        if !Self::sees_member(&account, mailbox, self.clock.now()) {
            return Ok(none);
        }
        Ok(DirectoryReply { directory: self.store.directory(&record.account)?.map(B64) })
    }
}
