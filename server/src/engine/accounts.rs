//! Registration, check-ins, sealed-alert updates, panic and account status.

use super::error::{EngineError, ErrorKind};
use super::live::Account;
use super::signals::merge_signal;
use super::{lock, Engine};
use crate::config::Registration;
use crate::store::{AccountRecord, Durable, InviteRecord, LiveState, Op, Reason};
use aman_protocol::alert::{sealed_hash, validate_sealed, MAX_SEALED_LEN};
use aman_protocol::api::ErrorCode;
use aman_protocol::api::{AccountStatus, CheckinReply, PendingChange, Policy, B64};
use aman_protocol::hash::sha256;
use aman_protocol::heartbeat::verify_proof;
use aman_protocol::{AccountId, AlertId, Heartbeat};

impl Engine {
    /// Checks a registration invite; returns its record to consume.
    fn check_invite(&self, code: Option<&str>, now: u64) -> Result<Option<([u8; 32], InviteRecord)>, EngineError> {
        if self.config.registration == Registration::Open {
            return Ok(None);
        }
        let code = code.ok_or_else(|| {
            EngineError::new(
                ErrorKind::Forbidden,
                ErrorCode::InviteRequired,
                "this server registers members by invite only",
            )
        })?;
        let hash = sha256(code.trim().as_bytes());
        let Some(invite) = self.store.invite(&hash)? else {
            return Err(EngineError::new(ErrorKind::Forbidden, ErrorCode::InviteUnknown, "no such invite"));
        };
        if invite.revoked {
            return Err(EngineError::new(ErrorKind::Forbidden, ErrorCode::InviteRevoked, "this invite was revoked"));
        }
        if invite.uses_left == 0 {
            return Err(EngineError::new(
                ErrorKind::Forbidden,
                ErrorCode::InviteUsedUp,
                "this invite has no uses left",
            ));
        }
        if invite.expires_at.is_some_and(|t| t <= now) {
            return Err(EngineError::new(ErrorKind::Forbidden, ErrorCode::InviteExpired, "this invite has expired"));
        }
        Ok(Some((hash, invite)))
    }

    /// Registers a member from a registration sealed to this server.
    /// The invite is checked first: without a usable one nothing is
    /// decrypted or verified (junk registrations cost a hash and a read).
    pub fn register(&self, invite: Option<&str>, sealed: &[u8]) -> Result<(AccountId, Durable), EngineError> {
        self.check_invite(invite, self.clock.now())?;
        let reg = aman_protocol::Registration::open(&self.identity, sealed).map_err(|e| match e {
            aman_protocol::Error::DecryptionFailed => EngineError::bad_request(
                ErrorCode::NotSealedToThisServer,
                "the registration does not open with this server's key: seal it to the key GET /v2/server names",
            ),
            other => EngineError::protocol("registration", other),
        })?;
        let _one_at_a_time = lock(&self.registration);
        let now = self.clock.now();
        // Again under the lock, for the record to consume: another
        // registration may have used the invite up since the check above.
        let consumed = self.check_invite(invite, now)?;
        // A deleted account's id is never given out again: whoever
        // registered it would inherit its contacts' trust.
        if self.store.account(&reg.account)?.is_some() || self.store.retired(&self.retired_tag(&reg.account))? {
            return Err(EngineError::new(ErrorKind::Conflict, ErrorCode::AccountExists, "this account id is taken"));
        }
        let mut record = AccountRecord::new(reg.identity, self.seal_transport(&reg.account, &reg.transport)?, now);
        let mut keys = [reg.normal, reg.duress];
        keys.sort_by_key(|k| k.0);
        record.checkin_keys = keys;
        record.duress_tag = B64(self.duress_tag(&reg.account, &reg.duress).to_vec());
        let mut ops = Vec::new();
        self.account_ops(&reg.account, Account { record, live: LiveState::default() }, &mut ops)?;
        if let Some((hash, mut invite)) = consumed {
            invite.uses_left -= 1;
            ops.push(Op::PutInvite(hash, invite));
        }
        self.metrics.inc(&self.metrics.registrations);
        Ok((reg.account, self.commit(ops)?))
    }

    fn check_sealed(&self, sealed: &[u8]) -> Result<(), EngineError> {
        if sealed.len() > MAX_SEALED_LEN {
            return Err(EngineError::new(ErrorKind::TooLarge, ErrorCode::AlertTooLarge, "sealed alert too large"));
        }
        validate_sealed(sealed).map_err(|e| EngineError::decode("sealed_alert", e))
    }

    /// Accepts a check-in: a public heartbeat `PH` and its mode proof.
    /// Replies identically for normal and duress. Authentication comes
    /// first and fails as one 401 whatever the step (unknown account, a
    /// proof that does not open, a key not the account's, a bad signature,
    /// another server's heartbeat): exactly one Ed25519 verification once
    /// the proof opens, none before. Whether it is a duress check-in is
    /// decided right then, before any check that could refuse it: a refused
    /// duress check-in still alerts, and its refusal reads exactly as a
    /// normal one's. The proof, the key and the mode are never stored.
    ///
    /// `admit` is asked once the check-in has authenticated and is fresh,
    /// before anything is written (the caller's rate limit); a check-in it
    /// refuses writes nothing and is answered `rate_limited`, in both modes
    /// alike (so a rate-limited duress check-in alerts nobody: only the
    /// phone's holder can spend the budget).
    pub fn checkin(
        &self,
        ph: &[u8],
        proof: &[u8],
        sealed: Option<&[u8]>,
        admit: &dyn Fn(&AccountId) -> bool,
    ) -> Result<(CheckinReply, Durable), EngineError> {
        let now = self.clock.now();
        let checkin = Heartbeat::decode(ph).map_err(|_| EngineError::unauthorized())?;
        if checkin.server != self.identity.id() {
            return Err(EngineError::unauthorized());
        }
        let caller = &checkin.account;
        let _guard = self.lock_account(caller);
        let Some(mut account) = self.account_for_checkin(caller)? else {
            return Err(self.refuse_unknown_checkin(ph, proof, now));
        };
        let transport = self.transport_key(caller, &account)?;
        let accepted = self.accepted_keys(caller, &account, now)?;
        let index = verify_proof(ph, proof, &transport, &accepted.keys).map_err(|_| EngineError::unauthorized())?;
        let key = accepted.keys.get(index).ok_or_else(|| EngineError::internal("check-in key index"))?;
        let duress = self.is_duress(caller, &accepted, key);
        let reply = CheckinReply { counter: checkin.counter, next_due: checkin.next_due, deadline: checkin.deadline() };
        if account.live.last_heartbeat.as_deref() == Some(ph) {
            // A retry of the check-in last accepted (its reply was lost):
            // the same reply, no new write, no second alert.
            return Ok((reply, self.store.durable()));
        }
        // A replayed or stale heartbeat is refused with no trace in either
        // mode: an old duress check-in replayed from a log alerts nobody.
        self.check_fresh(&account.live, &checkin, now)?;
        // Only a fresh check-in spends the member's budget: an old one
        // replayed (anyone who captured it can) must not lock them out.
        if !admit(caller) {
            return Err(EngineError::busy(ErrorCode::RateLimited, "too many requests; slow down", 60));
        }
        if let Err(refusal) = self.check_request(&account, &checkin, sealed, now) {
            // A fresh check-in refused for what it asks (a schedule the
            // policy does not allow, a note that does not match) still
            // leaves its signal, in both modes alike: a refused duress
            // check-in still alerts, and its refusal does the same work and
            // reads exactly as a normal one's. The same refused heartbeat
            // again (replayed within the clock window) leaves no second one.
            if self.repeat_refusal(caller, ph) {
                return Err(refusal);
            }
            let flags = u8::from(duress) * super::signals::DURESS;
            let signal = self.new_signal(checkin.counter, flags, &checkin.sealed_hash, now)?;
            let mut live = account.live.clone();
            live.signal = merge_signal(live.signal, signal);
            self.store.apply_ordered(vec![self.live_op(caller, &live)?])?;
            self.schedule_live_signal(caller, &live.signal);
            // Start the flush without waiting for it, as for any refusal.
            drop(self.store.durable());
            return Err(refusal);
        }

        // A stand-down (trips only, back from a trip) disarms: no deadline.
        let armed = (!checkin.stands_down()).then(|| (checkin.next_due, checkin.deadline()));
        let late = account.live.alert_open;
        // What the check-in causes (a duress alert; a late-check-in notice
        // on the open alert) is only said in its signal: flags, not work.
        let flags = (u8::from(duress) * super::signals::DURESS) | (u8::from(late) * super::signals::LATE);
        let signal = self.new_signal(checkin.counter, flags, &checkin.sealed_hash, now)?;
        let live = LiveState {
            counter: checkin.counter,
            next_due: armed.map(|(due, _)| due),
            deadline: armed.map(|(_, deadline)| deadline),
            outage_extended: false,
            alert_open: false,
            last_heartbeat: Some(ph.to_vec()),
            signal: merge_signal(account.live.signal, signal),
        };

        // One write path for every check-in, the same ops of the same sizes
        // whichever passphrase and whether or not an alert was open: a duress
        // or late check-in writes no alert or notice here, only its signal in
        // the sealed live state, which every check-in sets; the scheduler
        // reads it after the dispatch delay and only then makes the alert or
        // the notice. The writes are ordered so that every prefix a crash can
        // leave is safe: the sealed alert, the notes it replaces and the
        // account record naming it; then the sealed live state, which holds
        // the signal with the heartbeat (so a retry, answered without
        // writing, always finds its signal written) and the deadline the
        // scheduler's in-memory index is rebuilt from. Nothing else: no index
        // entry on disk, and nothing in clear that says when.
        let mut ops = Vec::new();
        if let Some(sealed) = sealed {
            self.replace_note_ops(caller, &mut account, sealed, now, &mut ops)?;
            ops.push(Op::PutAccount(*caller, account.record));
        }
        ops.push(self.live_op(caller, &live)?);
        self.store.apply_ordered(ops)?;
        let ticket = self.store.durable();
        match armed {
            Some((_, deadline)) => self.schedule_deadline(caller, deadline),
            None => self.disarm_deadline(caller),
        }
        self.schedule_live_signal(caller, &live.signal);
        self.metrics.inc(&self.metrics.checkins);
        Ok((reply, ticket))
    }

    /// Whether this refused heartbeat is the one last refused for the
    /// account (remembered in memory, the same way in both modes).
    fn repeat_refusal(&self, id: &AccountId, ph: &[u8]) -> bool {
        let hash = sha256(ph);
        let mut refused = lock(&self.refused);
        if refused.len() > 100_000 {
            refused.clear(); // bounded; a repeat after this costs one more signal
        }
        refused.insert(*id, hash) == Some(hash)
    }

    /// Whether a verified heartbeat is new: its counter above the last
    /// (within bounds) and its time within the clock window.
    fn check_fresh(&self, account: &LiveState, checkin: &Heartbeat, now: u64) -> Result<(), EngineError> {
        if checkin.counter <= account.counter {
            return Err(EngineError::protocol("checkin", aman_protocol::Error::StaleCounter));
        }
        if checkin.counter - account.counter > MAX_COUNTER_STEP {
            // A counter near u64::MAX would make every later check-in stale.
            return Err(EngineError::new(
                ErrorKind::Conflict,
                ErrorCode::CounterJump,
                format!("check-in counter may rise by at most {MAX_COUNTER_STEP} at a time"),
            ));
        }
        if checkin.client_time.abs_diff(now) > self.config.clock_window {
            return Err(EngineError::bad_request(
                ErrorCode::ClockSkew,
                "check-in time is too far from the server's clock",
            ));
        }
        Ok(())
    }

    /// Whether a fresh check-in asks for what the account allows: a
    /// schedule within the policy, the sealed note it names.
    fn check_request(
        &self,
        account: &AccountRecord,
        checkin: &Heartbeat,
        sealed: Option<&[u8]>,
        now: u64,
    ) -> Result<(), EngineError> {
        self.check_schedule(&account.policy, checkin, now)?;
        match sealed {
            Some(sealed) => {
                self.check_sealed(sealed)?;
                if sealed_hash(sealed) != checkin.sealed_hash {
                    return Err(EngineError::bad_request(
                        ErrorCode::AlertHashMismatch,
                        "sealed alert does not match the check-in's hash",
                    ));
                }
            }
            None => {
                if account.alert_hash.as_ref().map(|h| h.0.as_slice()) != Some(&checkin.sealed_hash[..]) {
                    return Err(EngineError::bad_request(
                        ErrorCode::AlertHashMismatch,
                        "check-in does not reference the sealed alert on record; send it with the check-in",
                    ));
                }
            }
        }
        Ok(())
    }

    /// A check-in's schedule must respect the policy in force and the server's bounds.
    fn check_schedule(&self, policy: &Policy, checkin: &Heartbeat, now: u64) -> Result<(), EngineError> {
        let c = &self.config;
        let max_interval = policy.interval.unwrap_or(c.max_interval);
        let max_grace = policy.grace.unwrap_or(c.max_grace);
        if checkin.stands_down() {
            // Whichever key: a refused duress stand-down still alerts.
            return match policy.trips_only {
                true => Ok(()),
                false => Err(EngineError::bad_request(
                    ErrorCode::StandDownRefused,
                    "only a trips-only schedule lets a check-in arm nothing; this account's schedule is regular",
                )),
            };
        }
        if checkin.next_due <= now || checkin.next_due > now.saturating_add(max_interval).saturating_add(c.clock_window)
        {
            return Err(EngineError::bad_request(
                ErrorCode::IntervalOutOfRange,
                format!("next due time must be in the future and at most {max_interval}s away"),
            ));
        }
        if checkin.grace < c.min_grace || checkin.grace > max_grace {
            return Err(EngineError::bad_request(
                ErrorCode::GraceOutOfRange,
                format!("grace must be between {}s and {max_grace}s", c.min_grace),
            ));
        }
        Ok(())
    }

    /// Replaces the sealed alert on record.
    pub fn update_sealed(&self, caller: &AccountId, sealed: &[u8]) -> Result<Durable, EngineError> {
        self.check_sealed(sealed)?;
        let now = self.clock.now();
        let _guard = self.lock_account(caller);
        let mut account = self.account_or_unauthorized(caller)?;
        let mut ops = Vec::new();
        self.replace_note_ops(caller, &mut account, sealed, now, &mut ops)?;
        ops.push(Op::PutAccount(*caller, account.record));
        self.commit(ops)
    }

    /// Fires a panic alert; its contacts are told after the dispatch delay
    /// every alert gets.
    pub fn panic(&self, caller: &AccountId, sealed: Option<&[u8]>) -> Result<(AlertId, Durable), EngineError> {
        if let Some(s) = sealed {
            self.check_sealed(s)?;
        }
        let now = self.clock.now();
        let _guard = self.lock_account(caller);
        let mut account = self.account_or_unauthorized(caller)?;
        let mut ops = Vec::new();
        if let Some(s) = sealed {
            self.replace_note_ops(caller, &mut account, s, now, &mut ops)?;
        }
        let sealed_now = sealed.map(<[u8]>::to_vec).or(self.store.sealed(caller)?);
        let (id, at) = self.fire_ops(caller, &mut account, Reason::Panic, None, sealed_now, now, None, &mut ops)?;
        self.account_ops(caller, account, &mut ops)?;
        let ticket = self.commit(ops)?;
        self.schedule_dispatch(at, id);
        Ok((id, ticket))
    }

    /// What `aman status` shows: nothing that a duress check-in changes.
    pub fn status(&self, caller: &AccountId) -> Result<AccountStatus, EngineError> {
        let account = self.account_or_unauthorized(caller)?;
        let mut pending = Vec::new();
        if let Some(p) = &account.pending_policy {
            pending.push(PendingChange::PolicyWeakening { effective_at: p.effective_at, policy: p.policy.clone() });
        }
        if let Some(k) = &account.pending_keys {
            pending.push(PendingChange::CheckinKeysRotation { effective_at: k.effective_at });
        }
        if let Some(at) = account.pending_deletion {
            pending.push(PendingChange::AccountDeletion { effective_at: at });
        }
        Ok(AccountStatus {
            account: *caller,
            counter: account.live.counter,
            next_due: account.live.next_due,
            deadline: account.live.deadline,
            key_generation: account.record.key_generation,
            policy: account.record.policy,
            pending,
            server_time: self.clock.now(),
        })
    }
}

/// The most a check-in counter may rise at once: the counter is member-wide,
/// so a server the member rarely uses sees jumps; the bound stops a captor
/// burning the counter space.
pub const MAX_COUNTER_STEP: u64 = 1 << 32;
