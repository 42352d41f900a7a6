//! The pairing relay: the member opens a slot for an invite id, the contact
//! posts its encrypted enrollment (registering its mailbox), the member
//! fetches it. The server cannot read or alter the enrollment.

use super::error::{EngineError, ErrorKind};
use super::{lock, Engine};
use crate::store::{Durable, MailboxRecord, Op, PairingRecord};
use aman_protocol::api::{PairingAnswer, PairingState, B64};
use aman_protocol::invite::ENROLLMENT_LEN;
use aman_protocol::{AccountId, InviteId, MailboxId};

/// Longest a pairing slot may stay open.
pub const MAX_PAIRING_LIFETIME: u64 = 7 * 86_400;

impl Engine {
    /// The member opens a relay slot.
    pub fn create_pairing(
        &self,
        caller: &AccountId,
        invite: InviteId,
        expires_at: u64,
    ) -> Result<Durable, EngineError> {
        let _one_at_a_time = lock(&self.registration);
        let now = self.clock.now();
        self.account_or_unauthorized(caller)?;
        if expires_at <= now || expires_at > now + MAX_PAIRING_LIFETIME {
            return Err(EngineError::bad_request("invalid_expiry", "a pairing lasts between now and 7 days"));
        }
        if self.store.pairing(&invite)?.is_some() {
            return Err(EngineError::new(ErrorKind::Conflict, "pairing_exists", "this invite id is already in use"));
        }
        let record = PairingRecord { account: *caller, expires_at, enrollment: None, mailbox: None };
        self.commit(vec![Op::PutPairing(invite, record)])
    }

    /// The member reads the slot.
    pub fn pairing_state(&self, caller: &AccountId, invite: &InviteId) -> Result<PairingState, EngineError> {
        match self.store.pairing(invite)? {
            Some(p) if p.account == *caller => Ok(PairingState { enrollment: p.enrollment }),
            _ => Err(EngineError::not_found("pairing")),
        }
    }

    /// The contact answers, registering its mailbox. The request was signed
    /// by `answer.identity` with `answer.mailbox` as caller.
    pub fn answer_pairing(&self, invite: &InviteId, answer: &PairingAnswer) -> Result<Durable, EngineError> {
        let _one_at_a_time = lock(&self.registration);
        let now = self.clock.now();
        if answer.enrollment.0.len() != ENROLLMENT_LEN {
            return Err(EngineError::bad_request("wrong_length", format!("enrollment must be {ENROLLMENT_LEN} bytes")));
        }
        let Some(mut pairing) = self.store.pairing(invite)? else {
            return Err(EngineError::not_found("pairing"));
        };
        if pairing.expires_at <= now {
            return Err(EngineError::new(ErrorKind::Gone, "pairing_expired", "this invite has expired"));
        }
        if pairing.enrollment.is_some() {
            return Err(EngineError::new(ErrorKind::Conflict, "pairing_answered", "this invite was already used"));
        }
        if self.store.mailbox(&answer.mailbox)?.is_some() {
            return Err(EngineError::new(ErrorKind::Conflict, "mailbox_exists", "this mailbox id is taken"));
        }
        let mailbox = MailboxRecord {
            identity: answer.identity,
            account: pairing.account,
            encryption: answer.encryption,
            created: now,
            endpoints: Vec::new(),
        };
        pairing.enrollment = Some(B64(answer.enrollment.0.clone()));
        pairing.mailbox = Some(answer.mailbox);
        self.commit(vec![Op::PutMailbox(answer.mailbox, mailbox), Op::PutPairing(*invite, pairing)])
    }

    /// The identity key of a mailbox, for request verification.
    pub fn mailbox_identity(&self, id: &MailboxId) -> Result<Option<aman_protocol::VerifyingKey>, EngineError> {
        Ok(self.store.mailbox(id)?.map(|m| m.identity))
    }
}
