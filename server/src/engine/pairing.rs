//! The pairing relay: the member opens a slot for an invite id, the contact
//! posts its encrypted enrollment (registering its mailbox), the member
//! fetches it. The server cannot read or alter the enrollment. A member on
//! several servers registers a contact paired on one of them on the others
//! itself (`add_mailbox`).

use super::error::{EngineError, ErrorKind};
use super::{lock, Engine};
use crate::store::{AccountRecord, Durable, MailboxRecord, Op, PairingRecord};
use aman_protocol::api::ErrorCode;
use aman_protocol::api::{AddMailbox, PairingAnswer, PairingState, B64};
use aman_protocol::invite::ENROLLMENT_LEN;
use aman_protocol::{AccountId, InviteId, MailboxId};

/// Longest a pairing slot may stay open.
pub const MAX_PAIRING_LIFETIME: u64 = 7 * 86_400;

/// How long a lapsed slot is kept (so a late member still reads a clear
/// "expired"), before the retention sweep removes it.
pub const PAIRING_KEPT_AFTER: u64 = 7 * 86_400;

impl Engine {
    /// The member opens a relay slot.
    pub fn create_pairing(
        &self,
        caller: &AccountId,
        invite: InviteId,
        expires_at: u64,
    ) -> Result<Durable, EngineError> {
        let _one_at_a_time = lock(&self.registration);
        let _guard = self.lock_account(caller);
        let now = self.clock.now();
        let mut account = self.account_or_unauthorized(caller)?;
        if expires_at <= now || expires_at > now + MAX_PAIRING_LIFETIME {
            return Err(EngineError::bad_request(ErrorCode::InvalidExpiry, "a pairing lasts between now and 7 days"));
        }
        if self.store.pairing(&invite)?.is_some() {
            return Err(EngineError::new(
                ErrorKind::Conflict,
                ErrorCode::PairingExists,
                "this invite id is already in use",
            ));
        }
        // Each answered slot is a mailbox the server keeps: a member (or a
        // captor with the phone) must not be able to make the server hold
        // mailboxes and long-polls without end. The counts live in the
        // account record, so checking them reads nothing else.
        account.open_pairings.retain(|(_, lapses)| *lapses > now);
        if account.open_pairings.len() >= self.config.max_open_pairings {
            return Err(EngineError::busy(
                ErrorCode::TooManyPairings,
                format!("at most {} invites may wait for an answer at once", self.config.max_open_pairings),
                3600,
            ));
        }
        self.check_mailbox_room(&account)?;
        account.open_pairings.push((invite, expires_at));
        let record = PairingRecord { account: *caller, expires_at, enrollment: None, mailbox: None };
        self.commit(vec![Op::PutPairing(invite, record), Op::PutAccount(*caller, account.record)])
    }

    /// The member reads the slot.
    pub fn pairing_state(&self, caller: &AccountId, invite: &InviteId) -> Result<PairingState, EngineError> {
        match self.store.pairing(invite)? {
            Some(p) if p.account == *caller => Ok(PairingState { enrollment: p.enrollment }),
            _ => Err(EngineError::not_found("pairing")),
        }
    }

    /// Whether `invite` has a slot waiting for an answer: checked before an
    /// answer's signature is verified or its nonce remembered, so answers
    /// to nothing cost a read and no memory.
    pub fn pairing_waits(&self, invite: &InviteId) -> Result<(), EngineError> {
        let Some(pairing) = self.store.pairing(invite)? else {
            return Err(EngineError::not_found("pairing"));
        };
        Self::check_waiting(&pairing, self.clock.now())
    }

    fn check_waiting(pairing: &PairingRecord, now: u64) -> Result<(), EngineError> {
        if pairing.expires_at <= now {
            return Err(EngineError::new(ErrorKind::Gone, ErrorCode::PairingExpired, "this invite has expired"));
        }
        if pairing.enrollment.is_some() {
            return Err(EngineError::new(
                ErrorKind::Conflict,
                ErrorCode::PairingAnswered,
                "this invite was already used",
            ));
        }
        Ok(())
    }

    /// The contact answers, registering its mailbox. The request was signed
    /// by `answer.identity` with `answer.mailbox` as caller.
    pub fn answer_pairing(&self, invite: &InviteId, answer: &PairingAnswer) -> Result<Durable, EngineError> {
        let _one_at_a_time = lock(&self.registration);
        let now = self.clock.now();
        if answer.enrollment.0.len() != ENROLLMENT_LEN {
            return Err(EngineError::bad_request(
                ErrorCode::WrongLength,
                format!("enrollment must be {ENROLLMENT_LEN} bytes"),
            ));
        }
        let Some(mut pairing) = self.store.pairing(invite)? else {
            return Err(EngineError::not_found("pairing"));
        };
        Self::check_waiting(&pairing, now)?;
        if self.store.mailbox(&answer.mailbox)?.is_some() {
            return Err(EngineError::new(ErrorKind::Conflict, ErrorCode::MailboxExists, "this mailbox id is taken"));
        }
        let owner = pairing.account;
        let _guard = self.lock_account(&owner);
        let Some(mut account) = self.account(&pairing.account)? else {
            return Err(EngineError::not_found("pairing"));
        };
        self.check_mailbox_room(&account)?;
        account.open_pairings.retain(|(id, _)| id != invite);
        account.mailboxes.push(answer.mailbox);
        let mailbox = MailboxRecord {
            identity: answer.identity,
            account: pairing.account,
            encryption: answer.encryption,
            created: now,
            endpoints: Vec::new(),
        };
        pairing.enrollment = Some(B64(answer.enrollment.0.clone()));
        pairing.mailbox = Some(answer.mailbox);
        self.commit(vec![
            Op::PutMailbox(answer.mailbox, mailbox),
            Op::PutPairing(*invite, pairing),
            Op::PutAccount(owner, account.record),
        ])
    }

    /// The member registers the mailbox of a contact it paired with on
    /// another of its servers: the record a pairing answer makes (mailbox →
    /// account, `CID_pk`, `CX_pk`), without a relay slot, and without
    /// linking it in the policy (the member does that as for any contact).
    /// The same mailbox with the same keys, already the caller's, changes
    /// nothing; a mailbox id on record otherwise is a conflict.
    pub fn add_mailbox(&self, caller: &AccountId, request: &AddMailbox) -> Result<Durable, EngineError> {
        // As for a pairing answer: mailbox ids are taken one at a time.
        let _one_at_a_time = lock(&self.registration);
        let _guard = self.lock_account(caller);
        let mut account = self.account_or_unauthorized(caller)?;
        if let Some(existing) = self.store.mailbox(&request.mailbox)? {
            let same = existing.account == *caller
                && existing.identity == request.identity
                && existing.encryption == Some(request.encryption);
            if same {
                // A retry: nothing to write, but the reply still waits for
                // the flush in progress, so it never runs ahead of the first.
                return Ok(self.store.durable());
            }
            return Err(EngineError::new(ErrorKind::Conflict, ErrorCode::MailboxExists, "this mailbox id is taken"));
        }
        self.check_mailbox_room(&account)?;
        account.mailboxes.push(request.mailbox);
        let mailbox = MailboxRecord {
            identity: request.identity,
            account: *caller,
            encryption: Some(request.encryption),
            created: self.clock.now(),
            endpoints: Vec::new(),
        };
        self.commit(vec![Op::PutMailbox(request.mailbox, mailbox), Op::PutAccount(*caller, account.record)])
    }

    /// Refuses a pairing that would give the member more than
    /// `max_mailboxes` contact mailboxes.
    fn check_mailbox_room(&self, account: &AccountRecord) -> Result<(), EngineError> {
        if account.mailboxes.len() >= self.config.max_mailboxes {
            return Err(EngineError::busy(
                ErrorCode::TooManyMailboxes,
                format!("a member may pair at most {} contact mailboxes", self.config.max_mailboxes),
                86_400,
            ));
        }
        Ok(())
    }

    /// The identity key of a mailbox, for request verification, and the
    /// member whose contact it is.
    pub fn mailbox_identity(
        &self,
        id: &MailboxId,
    ) -> Result<Option<(aman_protocol::VerifyingKey, AccountId)>, EngineError> {
        Ok(self.store.mailbox(id)?.map(|m| (m.identity, m.account)))
    }
}
