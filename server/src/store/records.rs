//! The records the server stores. Stored as JSON values inside sled.
//!
//! There is no field here that could hold a plaintext note or location: the
//! server only ever has sealed alert bytes. What a seized database must not
//! reveal (which check-in key is the duress key, an alert's reason,
//! notification addresses) is kept encrypted or tagged under the server key.

use aman_protocol::api::{Ack, Notice, PendingChange, Policy, B64};
use aman_protocol::{AccountId, AlertId, MailboxId, VerifyingKey};
use serde::{Deserialize, Serialize};

/// A member account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccountRecord {
    /// The member identity `ID`: verifies requests.
    pub identity: VerifyingKey,
    /// The two check-in keys in sorted byte order: the order says nothing.
    pub checkin_keys: [VerifyingKey; 2],
    /// HMAC under the server key of the duress key: tells the running server
    /// which key is which, and a seized database (without the key file) nothing.
    pub duress_tag: B64,
    /// When the binding was made (client clock).
    pub binding_created: u64,
    /// Registration time.
    pub created: u64,
    /// Last accepted check-in counter (0 before the first).
    pub counter: u64,
    /// Server time of the last check-in.
    pub last_checkin: Option<u64>,
    /// The due time of the armed deadline.
    pub next_due: Option<u64>,
    /// The armed deadline (`next_due + grace`) present in the deadline index.
    pub deadline: Option<u64>,
    /// The armed deadline was moved after an outage.
    #[serde(default)]
    pub outage_extended: bool,
    /// SHA-256 of the latest sealed alert.
    pub alert_hash: Option<B64>,
    /// The policy in force.
    pub policy: Policy,
    /// A weakening change waiting out the cooling-off period.
    pub pending: Option<PendingChange>,
    /// Alerts fired for this account, oldest first.
    pub alerts: Vec<AlertId>,
    /// The latest alert has not yet been followed by a check-in.
    pub alert_open: bool,
}

impl AccountRecord {
    /// A just-registered account: keys from a binding, nothing armed yet.
    /// The check-in keys are installed by the engine (sorted, with the duress tag).
    pub fn new(identity: VerifyingKey, binding_created: u64, now: u64) -> Self {
        AccountRecord {
            identity,
            checkin_keys: [identity, identity],
            duress_tag: B64(Vec::new()),
            binding_created,
            created: now,
            counter: 0,
            last_checkin: None,
            next_due: None,
            deadline: None,
            outage_extended: false,
            alert_hash: None,
            policy: Policy::default(),
            pending: None,
            alerts: Vec::new(),
            alert_open: false,
        }
    }
}

/// Why an alert fired.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The deadline passed without a check-in.
    Missed,
    /// A check-in signed with the duress key.
    Duress,
    /// The member pressed panic.
    Panic,
}

impl Reason {
    /// The stable text form.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Missed => "missed",
            Reason::Duress => "duress",
            Reason::Panic => "panic",
        }
    }

    /// Parses the text form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "missed" => Some(Reason::Missed),
            "duress" => Some(Reason::Duress),
            "panic" => Some(Reason::Panic),
            _ => None,
        }
    }
}

/// A fired alert.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AlertRecord {
    /// The member.
    pub account: AccountId,
    /// The reason, encrypted under the server key (a duress alert must not be
    /// told from a panic in a seized database).
    pub reason_sealed: B64,
    /// When it fired.
    pub fired_at: u64,
    /// The missed deadline, for missed alerts.
    pub deadline: Option<u64>,
    /// The deadline had been moved after an outage.
    pub server_was_down: bool,
    /// The sealed alert at the time it fired.
    pub sealed_alert: B64,
    /// Contacts with their tiers, fixed at firing time.
    pub contacts: Vec<(MailboxId, u8)>,
    /// The highest tier told so far.
    pub notified_tier: u8,
    /// Escalation delays in force when it fired.
    pub escalation_delays: Vec<u64>,
    /// Acknowledgements.
    pub acks: Vec<Ack>,
    /// Late check-ins and acknowledgements, for the contacts.
    pub notices: Vec<Notice>,
    /// Last change (unix ms).
    pub updated_ms: u64,
}

/// A registration invite created by the organizer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InviteRecord {
    /// Short public id for `invite list` / `invite revoke`.
    pub id: String,
    /// Creation time.
    pub created: u64,
    /// Expiry time, if any.
    pub expires_at: Option<u64>,
    /// Registrations left.
    pub uses_left: u32,
    /// Revoked by the organizer.
    pub revoked: bool,
}

/// A contact's mailbox.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MailboxRecord {
    /// The contact identity `CID`: verifies the contact's requests.
    pub identity: VerifyingKey,
    /// The account whose pairing created it (the only account that may link it).
    pub account: AccountId,
    /// Creation time.
    pub created: u64,
    /// Notification endpoints, each encrypted under the server key.
    #[serde(default)]
    pub endpoints: Vec<EndpointRecord>,
}

/// One notification endpoint of a mailbox (webhook, ntfy or e-mail).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EndpointRecord {
    /// Short id the contact uses to remove it.
    pub id: u8,
    /// `webhook`, `ntfy` or `email`.
    pub kind: String,
    /// The URL or address, encrypted under the server key.
    pub target_sealed: B64,
    /// For webhooks: the HMAC secret, encrypted under the server key.
    #[serde(default)]
    pub secret_sealed: Option<B64>,
}

/// A pairing relay slot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PairingRecord {
    /// The member who opened it.
    pub account: AccountId,
    /// When it lapses.
    pub expires_at: u64,
    /// The contact's encrypted enrollment, once it answered.
    pub enrollment: Option<B64>,
    /// The mailbox the answer registered.
    pub mailbox: Option<MailboxId>,
}

/// One mailbox's view of an alert.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MailboxEntry {
    /// When it was placed (unix seconds).
    pub added: u64,
    /// The contact's tier.
    pub tier: u8,
}

/// A notification waiting to be sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The endpoint id within the mailbox.
    pub endpoint: u8,
    /// Attempts so far.
    pub attempts: u32,
    /// Stable across retries and restarts; sent to the receiver.
    pub idempotency_key: String,
    /// First time it was queued (retries stop after the retry horizon).
    pub first_queued: u64,
}

/// One recorded delivery attempt.
pub type DeliveryRecord = aman_protocol::api::DeliveryAttempt;
