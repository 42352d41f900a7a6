//! The records the server stores. Stored as JSON values inside sled.
//!
//! There is no field here that could hold a plaintext note or location: the
//! server only ever has sealed alert bytes. What a seized database must not
//! reveal (which check-in key is the duress key, an alert's reason,
//! notification addresses) is kept encrypted or tagged under the server key.
//!
//! Records are types of their own, not the API's envelopes: an alert's
//! acknowledgements and notices, a mailbox's notices and a delivery log are
//! stored as [`AckRecord`], [`NoticeRecord`], [`MailboxNoticeRecord`] and
//! [`DeliveryRecord`] and turned into the API's types (`From`) when a reply
//! is built, so a change to the API does not change what is on disk. Their
//! JSON is the bytes the envelopes wrote before, so stored data reads as it
//! is; a change to these bytes is a new `format` (`engine/migrate.rs`). They
//! hold the API's closed sets of words (`NoticeKind`, `DeliveryChannel`,
//! `DeliveryOutcome`) as they are: the words are fixed by PROTOCOL.md. The
//! member's [`Policy`] is stored as a record of its own through
//! `policy_record::as_record`.

use aman_protocol::api::{
    Ack, AlertReason, ChannelKind, DeliveryAttempt, DeliveryChannel, DeliveryOutcome, MailboxNotice, Notice,
    NoticeKind, Policy, B64,
};
use aman_protocol::{AccountId, AlertId, MailboxId, VerifyingKey};

use serde::{Deserialize, Serialize};

/// A member account.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AccountRecord {
    /// The member identity `ID`: verifies requests (never check-ins: the
    /// server leaves a heartbeat's `ID` signature to the contacts).
    pub identity: VerifyingKey,
    /// The two check-in keys in sorted byte order: the order says nothing.
    pub checkin_keys: [VerifyingKey; 2],
    /// HMAC under the server key of the duress key: tells the running server
    /// which key is which, and a seized database (without the key file) nothing.
    pub duress_tag: B64,
    /// The generation of the check-in keys (0 at registration, one more per rotation).
    #[serde(default)]
    pub key_generation: u64,
    /// The previous generation's keys, accepted for a short overlap after a
    /// rotation takes over so a client whose clock is a little off is not refused.
    #[serde(default)]
    pub previous_keys: Option<SealedKeys>,
    /// `K_tr`, the key of the mode-proof box, sealed under the server key
    /// (context `account || "/k-tr"`). Empty for a v0.1 account: it must register again.
    #[serde(default)]
    pub transport_sealed: B64,
    /// Registration time.
    pub created: u64,
    /// What 0.2 kept in clear here and now lives in the sealed
    /// [`LiveState`]: read by the start-up migration, never written.
    /// Every check-in rewrote these, so old versions left in the data file
    /// showed each member's check-in history.
    #[serde(default, rename = "last_heartbeat", skip_serializing)]
    pub legacy_last_heartbeat: Option<B64>,
    /// See `legacy_last_heartbeat`.
    #[serde(default, rename = "counter", skip_serializing)]
    pub legacy_counter: u64,
    /// See `legacy_last_heartbeat`.
    #[serde(default, rename = "next_due", skip_serializing)]
    pub legacy_next_due: Option<u64>,
    /// See `legacy_last_heartbeat`.
    #[serde(default, rename = "deadline", skip_serializing)]
    pub legacy_deadline: Option<u64>,
    /// See `legacy_last_heartbeat`.
    #[serde(default, rename = "outage_extended", skip_serializing)]
    pub legacy_outage_extended: bool,
    /// See `legacy_last_heartbeat`.
    #[serde(default, rename = "alert_open", skip_serializing)]
    pub legacy_alert_open: bool,
    /// SHA-256 of the latest sealed alert.
    pub alert_hash: Option<B64>,
    /// When the latest sealed alert was received, sealed under the server
    /// key (a time in clear could pin an alert to a check-in).
    #[serde(default)]
    pub note_received_sealed: Option<B64>,
    /// The policy in force (stored as a `PolicyRecord`).
    #[serde(with = "super::policy_record::as_record")]
    pub policy: Policy,
    /// A weaker policy waiting out the cooling-off period.
    #[serde(default)]
    pub pending_policy: Option<PendingPolicy>,
    /// New check-in keys waiting out the cooling-off period.
    #[serde(default)]
    pub pending_keys: Option<PendingKeys>,
    /// When the account is deleted, if the member asked.
    #[serde(default)]
    pub pending_deletion: Option<u64>,
    /// The latest alerts fired for this account, oldest first.
    pub alerts: Vec<AlertId>,
    /// The contact mailboxes this member's pairings created (bounded by
    /// `max_mailboxes`; the retention sweep removes unlinked, empty ones).
    #[serde(default)]
    pub mailboxes: Vec<MailboxId>,
    /// Pairing slots waiting for an answer, with when they lapse.
    #[serde(default)]
    pub open_pairings: Vec<(aman_protocol::InviteId, u64)>,
    /// The member's latest drill (`aman drill status` reads it; never a real
    /// alert, which stays out of every member-facing view).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<AlertId>,
}

/// What every check-in changes about an account, kept apart from the
/// account record and sealed under the server key (key `t`, context
/// `account || "/live"`): a check-in writes only this, and no value of it,
/// current or old, says when a member checked in or is next due, or whether
/// a check-in was a duress or late one (where the write sits in sled's log
/// is another matter: PROTOCOL.md §1). The scheduler's in-memory index of
/// deadlines and of signals to read is rebuilt from these at start-up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveState {
    /// Last accepted check-in counter (0 before the first).
    pub counter: u64,
    /// The due time of the armed deadline.
    pub next_due: Option<u64>,
    /// The armed deadline (`next_due + grace`); the scheduler's in-memory
    /// index is rebuilt from these at start-up.
    pub deadline: Option<u64>,
    /// The armed deadline was moved after an outage (at most once).
    pub outage_extended: bool,
    /// The latest alert has not yet been followed by a check-in.
    pub alert_open: bool,
    /// The latest accepted public heartbeat `PH`: the same bytes for a
    /// normal and a duress check-in, relayed to contacts as proof of life.
    pub last_heartbeat: Option<Vec<u8>>,
    /// The check-in signal the scheduler has yet to read (PROTOCOL.md §5.4):
    /// every check-in sets it, so it is stored whatever it says, in the same
    /// number of bytes.
    pub signal: PendingSignal,
}

/// What the latest check-ins cause, kept in the sealed live state until the
/// scheduler reads it (PROTOCOL.md §5.4). A check-in replaces a signal that
/// says nothing and merges into one that says something, so nothing a
/// check-in caused is lost to the next. The engine gives the flags their
/// meaning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PendingSignal {
    /// What to do: duress and late bits, or'ed; 0 for nothing.
    pub flags: u8,
    /// When the check-in that set the duress bit arrived (without it: the
    /// latest check-in's time).
    pub received: u64,
    /// The sealed note the latest check-in with the duress bit named
    /// (`sealed_hash`; without the bit, the check-in's).
    pub note_hash: [u8; 32],
    /// When the check-in that set the late bit arrived (0 without it).
    pub late_received: u64,
    /// When the last later check-in with the late bit arrived, if one was
    /// merged in (0 otherwise): it may answer a newer alert than the first.
    pub late_last: u64,
    /// When the scheduler reads it: a random time within the dispatch delay.
    pub due: u64,
    /// The counter of the check-in it came from (the first that said
    /// something, once merged).
    pub counter: u64,
}

impl PendingSignal {
    /// Its encoded size: the same whatever it says.
    pub const LEN: usize = 1 + 8 + 32 + 8 + 8 + 8 + 8;

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(self.flags);
        out.extend_from_slice(&self.received.to_be_bytes());
        out.extend_from_slice(&self.note_hash);
        out.extend_from_slice(&self.late_received.to_be_bytes());
        out.extend_from_slice(&self.late_last.to_be_bytes());
        out.extend_from_slice(&self.due.to_be_bytes());
        out.extend_from_slice(&self.counter.to_be_bytes());
    }

    fn decode(b: &[u8]) -> Option<Self> {
        let u64_at = |i: usize| b.get(i..i + 8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes);
        if b.len() != Self::LEN {
            return None;
        }
        Some(PendingSignal {
            flags: *b.first()?,
            received: u64_at(1)?,
            note_hash: b.get(9..41)?.try_into().ok()?,
            late_received: u64_at(41)?,
            late_last: u64_at(49)?,
            due: u64_at(57)?,
            counter: u64_at(65)?,
        })
    }
}

impl LiveState {
    /// Version 1 (0.3) had no signal block.
    const VERSION_1: u8 = 1;
    const VERSION: u8 = 2;
    const FIXED_1: usize = 1 + 8 + 8 + 8 + 1 + 2;
    const FIXED: usize = Self::FIXED_1 + PendingSignal::LEN;

    /// The binary form sealed at rest: version (2), counter, next due and
    /// deadline (u64 BE, 0 for none), flags (1: outage-extended, 2: alert
    /// open), heartbeat length (u16 BE), the pending signal (flags, received,
    /// note hash, late received, last late, due, counter: 73 bytes), then the
    /// heartbeat.
    pub fn encode(&self) -> Vec<u8> {
        let hb = self.last_heartbeat.as_deref().unwrap_or_default();
        let mut out = Vec::with_capacity(Self::FIXED + hb.len());
        out.push(Self::VERSION);
        out.extend_from_slice(&self.counter.to_be_bytes());
        out.extend_from_slice(&self.next_due.unwrap_or(0).to_be_bytes());
        out.extend_from_slice(&self.deadline.unwrap_or(0).to_be_bytes());
        out.push(u8::from(self.outage_extended) | (u8::from(self.alert_open) << 1));
        out.extend_from_slice(&u16::try_from(hb.len()).unwrap_or(0).to_be_bytes());
        self.signal.encode_into(&mut out);
        if hb.len() <= usize::from(u16::MAX) {
            out.extend_from_slice(hb);
        }
        out
    }

    /// Parses [`LiveState::encode`] (or version 1, which had no signal);
    /// `None` for anything else.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let u64_at = |i: usize| bytes.get(i..i + 8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes);
        let (signal, hb) = match bytes.first() {
            Some(&Self::VERSION) => {
                (PendingSignal::decode(bytes.get(Self::FIXED_1..Self::FIXED)?)?, bytes.get(Self::FIXED..)?)
            }
            Some(&Self::VERSION_1) => (PendingSignal::default(), bytes.get(Self::FIXED_1..)?),
            _ => return None,
        };
        let flags = *bytes.get(25)?;
        if flags > 3 {
            return None;
        }
        let hb_len = usize::from(u16::from_be_bytes(bytes.get(26..28)?.try_into().ok()?));
        if hb.len() != hb_len {
            return None;
        }
        let some = |v: u64| (v != 0).then_some(v);
        Some(LiveState {
            counter: u64_at(1)?,
            next_due: some(u64_at(9)?),
            deadline: some(u64_at(17)?),
            outage_extended: flags & 1 != 0,
            alert_open: flags & 2 != 0,
            last_heartbeat: (hb_len > 0).then(|| hb.to_vec()),
            signal,
        })
    }

    /// The state 0.2 kept in the account record.
    pub fn from_legacy(old: &AccountRecord) -> Self {
        LiveState {
            counter: old.legacy_counter,
            next_due: old.legacy_next_due,
            deadline: old.legacy_deadline,
            outage_extended: old.legacy_outage_extended,
            alert_open: old.legacy_alert_open,
            last_heartbeat: old.legacy_last_heartbeat.as_ref().map(|h| h.0.clone()),
            signal: PendingSignal::default(),
        }
    }
}

impl AccountRecord {
    /// A just-registered account: nothing armed yet.
    /// The check-in keys are installed by the engine (sorted, with the duress tag).
    pub fn new(identity: VerifyingKey, transport_sealed: B64, now: u64) -> Self {
        AccountRecord {
            identity,
            checkin_keys: [identity, identity],
            duress_tag: B64(Vec::new()),
            key_generation: 0,
            previous_keys: None,
            transport_sealed,
            created: now,
            legacy_last_heartbeat: None,
            legacy_counter: 0,
            legacy_next_due: None,
            legacy_deadline: None,
            legacy_outage_extended: false,
            legacy_alert_open: false,
            alert_hash: None,
            note_received_sealed: None,
            policy: Policy::default(),
            pending_policy: None,
            pending_keys: None,
            pending_deletion: None,
            alerts: Vec::new(),
            mailboxes: Vec::new(),
            open_pairings: Vec::new(),
            drill: None,
        }
    }
}

/// A weaker policy held for the cooling-off period.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingPolicy {
    /// The policy that applies then (stored as a `PolicyRecord`).
    #[serde(with = "super::policy_record::as_record")]
    pub policy: Policy,
    /// When (unix seconds).
    pub effective_at: u64,
}

/// New check-in keys held for the cooling-off period, sealed under the
/// server key: a seized database does not even show which keys are coming
/// (the signed rotation that asked for them is not kept).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingKeys {
    /// The new generation's keys.
    pub keys: SealedKeys,
    /// When they take over (unix seconds).
    pub effective_at: u64,
}

/// One generation of check-in keys, sealed under the server key with the
/// context `account || "/keys/" || generation`: both keys in sorted byte
/// order, then the duress tag (96 bytes before sealing).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SealedKeys {
    /// The generation these keys have.
    pub generation: u64,
    /// Accepted until this time (for previous keys; 0 for pending ones).
    #[serde(default)]
    pub until: u64,
    /// `secretbox(sorted keys || duress tag)`.
    pub sealed: B64,
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
    /// The member tests their safety net (`aman drill`): delivered like an
    /// alert, to every contact at once, and marked as a drill.
    Drill,
}

impl Reason {
    /// The stable text form (the API's word).
    pub fn as_str(self) -> &'static str {
        AlertReason::from(self).as_str()
    }

    fn code(self) -> u8 {
        match self {
            Reason::Missed => 1,
            Reason::Duress => 2,
            Reason::Panic => 3,
            Reason::Drill => 4,
        }
    }

    /// Parses the v0.1 text form.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "missed" => Some(Reason::Missed),
            "duress" => Some(Reason::Duress),
            "panic" => Some(Reason::Panic),
            _ => None,
        }
    }

    fn from_code(code: u8) -> Option<Self> {
        match code {
            1 => Some(Reason::Missed),
            2 => Some(Reason::Duress),
            3 => Some(Reason::Panic),
            4 => Some(Reason::Drill),
            _ => None,
        }
    }
}

impl From<Reason> for AlertReason {
    fn from(reason: Reason) -> Self {
        match reason {
            Reason::Missed => AlertReason::Missed,
            Reason::Duress => AlertReason::Duress,
            Reason::Panic => AlertReason::Panic,
            Reason::Drill => AlertReason::Drill,
        }
    }
}

/// What a seized database must not show about an alert: why and when it
/// fired, the deadline it missed, whether the server had been down. Sealed
/// under the server key as one fixed-width value ([`AlertMeta::LEN`] bytes
/// whatever the reason), so neither presence nor length tells a duress
/// alert from a panic or a missed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertMeta {
    /// Why it fired.
    pub reason: Reason,
    /// When it fired (unix seconds).
    pub fired_at: u64,
    /// The missed deadline, for missed alerts.
    pub deadline: Option<u64>,
    /// The deadline had been moved after an outage.
    pub server_was_down: bool,
}

impl AlertMeta {
    /// Encoded length: reason u8, fired_at u64, deadline u64 (0 = none), flag u8.
    pub const LEN: usize = 18;

    /// The fixed-width encoding.
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        out[0] = self.reason.code();
        out[1..9].copy_from_slice(&self.fired_at.to_be_bytes());
        out[9..17].copy_from_slice(&self.deadline.unwrap_or(0).to_be_bytes());
        out[17] = u8::from(self.server_was_down);
        out
    }

    /// Parses [`AlertMeta::encode`]; `None` for anything else.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let bytes: &[u8; Self::LEN] = bytes.try_into().ok()?;
        let u64_at = |i: usize| bytes.get(i..i + 8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes);
        let deadline = u64_at(9)?;
        Some(AlertMeta {
            reason: Reason::from_code(bytes[0])?,
            fired_at: u64_at(1)?,
            deadline: (deadline != 0).then_some(deadline),
            server_was_down: match bytes[17] {
                0 => false,
                1 => true,
                _ => return None,
            },
        })
    }
}

/// A fired alert.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AlertRecord {
    /// The member.
    pub account: AccountId,
    /// [`AlertMeta`] encrypted under the server key: a fixed-width value, so
    /// a seized database cannot tell a duress alert from a panic or a missed
    /// one by what is stored, or pin it to a check-in by a time. Empty in a
    /// record written by v0.1, which has [`LegacyAlertFacts`] instead.
    #[serde(default)]
    pub meta_sealed: B64,
    /// Contacts have been told (after the dispatch delay every alert gets).
    /// Records written by v0.1 lack the field: they were told at once.
    #[serde(default = "told_at_once")]
    pub dispatched: bool,
    /// What a v0.1 record kept in its own fields.
    #[serde(flatten)]
    pub legacy: LegacyAlertFacts,
    /// The sealed alert at the time it fired.
    pub sealed_alert: B64,
    /// When the server received it, sealed under the server key.
    #[serde(default)]
    pub note_received_sealed: Option<B64>,
    /// Notes the latest one replaced (up to 16), newest first.
    #[serde(default)]
    pub earlier_notes: Vec<StoredNote>,
    /// Contacts with their tiers, fixed at firing time.
    pub contacts: Vec<(MailboxId, u8)>,
    /// The highest tier told so far.
    pub notified_tier: u8,
    /// Escalation delays in force when it fired.
    pub escalation_delays: Vec<u64>,
    /// Acknowledgements.
    pub acks: Vec<AckRecord>,
    /// Late check-ins and acknowledgements, for the contacts.
    pub notices: Vec<NoticeRecord>,
    /// Last change visible to contacts (unix ms).
    pub updated_ms: u64,
    /// What only a drill holds, from its dispatch on (absent on every other
    /// alert, and on a drill not yet told or written before windows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<DrillRecord>,
}

/// A drill's own record: its window, and which contacts fetched it in it.
/// The member's drill view counts only what happened before the window
/// closed, so nothing later (a duress alert that sends every contact to
/// their mailbox) can move it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DrillRecord {
    /// When the window closes (unix seconds): the drill's dispatch plus
    /// `drill_window`, fixed at dispatch.
    pub window_closes: u64,
    /// Each contact whose client fetched the drill within the window.
    #[serde(default)]
    pub fetched: Vec<DrillFetch>,
}

/// A contact's first fetch of a drill, within its window.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DrillFetch {
    /// The contact's mailbox.
    pub mailbox: MailboxId,
    /// The day of the first fetch (u64 BE, days since 1970-01-01 UTC),
    /// sealed under the server key (context alert || `/fetched/` || mailbox).
    pub day_sealed: B64,
}

fn told_at_once() -> bool {
    true
}

/// The facts of an alert written by v0.1 (reason sealed on its own, times in
/// clear); read, never written.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LegacyAlertFacts {
    /// The reason text, encrypted under the server key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_sealed: Option<B64>,
    /// When it fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fired_at: Option<u64>,
    /// The missed deadline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline: Option<u64>,
    /// The deadline had been moved after an outage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_was_down: Option<bool>,
}

/// A note (sealed alert) kept because a newer one replaced it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct StoredNote {
    /// When the server received it: a u64, sealed under the server key.
    pub received_sealed: B64,
    /// The sealed alert.
    pub sealed_alert: B64,
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
    /// The contact's encryption key as it declared it (shown to the other
    /// contacts when it is linked).
    #[serde(default)]
    pub encryption: Option<aman_protocol::EncryptionPublic>,
    /// Creation time.
    pub created: u64,
    /// Notification endpoints, each encrypted under the server key.
    #[serde(default)]
    pub endpoints: Vec<EndpointRecord>,
    // A mailbox keeps no read time: the `fetched_sealed` day an earlier
    // version wrote is ignored when read and dropped when rewritten.
}

/// The kind of a stored notification endpoint: the channels a contact (or a
/// member, for its reminders) may be woken on. A closed set, unlike the
/// API's [`ChannelKind`], which reads words from newer servers too: the
/// server stores only kinds it checked, so a stored word it does not know is
/// a corrupt record.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    /// A signed JSON `POST` to an https URL.
    Webhook,
    /// An ntfy topic URL.
    Ntfy,
    /// An e-mail address, through the organizer's SMTP relay.
    Email,
}

impl EndpointKind {
    /// The kind an API word names, if this server knows it.
    pub fn known(kind: ChannelKind) -> Option<Self> {
        match kind {
            ChannelKind::Webhook => Some(EndpointKind::Webhook),
            ChannelKind::Ntfy => Some(EndpointKind::Ntfy),
            ChannelKind::Email => Some(EndpointKind::Email),
            ChannelKind::Unknown => None,
        }
    }
}

impl From<EndpointKind> for ChannelKind {
    fn from(kind: EndpointKind) -> Self {
        match kind {
            EndpointKind::Webhook => ChannelKind::Webhook,
            EndpointKind::Ntfy => ChannelKind::Ntfy,
            EndpointKind::Email => ChannelKind::Email,
        }
    }
}

impl From<EndpointKind> for DeliveryChannel {
    fn from(kind: EndpointKind) -> Self {
        ChannelKind::from(kind).into()
    }
}

/// One notification endpoint of a mailbox (webhook, ntfy or e-mail).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EndpointRecord {
    /// Short id the contact uses to remove it.
    pub id: u8,
    /// Its kind (stored as the word: `webhook`, `ntfy` or `email`).
    pub kind: EndpointKind,
    /// The URL or address, encrypted under the server key.
    pub target_sealed: B64,
    /// For webhooks: the HMAC secret, encrypted under the server key.
    #[serde(default)]
    pub secret_sealed: Option<B64>,
}

/// A member's reminders: when before each due time and grace end, and
/// where (its own channels, sealed as a contact's endpoints are, under
/// contexts of their own).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReminderRecord {
    /// Seconds before the due time and before the grace ends, longest first.
    pub before: Vec<u64>,
    /// The member's own notification targets.
    pub targets: Vec<EndpointRecord>,
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
    /// When the alert last changed for this mailbox: a change stamp (unix
    /// microseconds, strictly increasing server-wide), its key in the
    /// change index.
    #[serde(default)]
    pub changed: u64,
    /// The alert has been acknowledged (by any contact): it leaves first
    /// when the mailbox is full, and after the retention time.
    #[serde(default)]
    pub acknowledged: bool,
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

/// One recorded delivery attempt, as a contact's delivery log shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// Which mailbox's channel.
    pub mailbox: MailboxId,
    /// The mailbox itself, or which kind of channel (`unknown` for an
    /// endpoint removed before the attempt).
    pub channel: DeliveryChannel,
    /// When (unix seconds).
    pub at: u64,
    /// `delivered` or `failed` (before 0.4 also `transient_failure` or
    /// `permanent_failure`).
    pub outcome: DeliveryOutcome,
    /// Empty since 0.4 (records written before may carry a short reason).
    #[serde(default)]
    pub detail: String,
}

impl From<DeliveryRecord> for DeliveryAttempt {
    fn from(r: DeliveryRecord) -> Self {
        DeliveryAttempt { mailbox: r.mailbox, channel: r.channel, at: r.at, outcome: r.outcome, detail: r.detail }
    }
}

/// An acknowledgement of an alert, as stored on the alert.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AckRecord {
    /// Which mailbox acknowledged.
    pub mailbox: MailboxId,
    /// When (unix seconds).
    pub at: u64,
}

impl From<&AckRecord> for Ack {
    fn from(r: &AckRecord) -> Self {
        Ack { mailbox: r.mailbox, at: r.at }
    }
}

/// A notice for contacts, as stored: on an alert (a late check-in, an
/// acknowledgement) or in a mailbox ([`MailboxNoticeRecord`]).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NoticeRecord {
    /// What it is about (the words PROTOCOL.md gives, stored as they are sent).
    pub kind: NoticeKind,
    /// When (unix seconds).
    pub at: u64,
    /// For pending changes and new contacts: when the change takes effect.
    #[serde(default)]
    pub effective_at: Option<u64>,
    /// For `contact_linked`: the new contact's identity key `CID`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<VerifyingKey>,
    /// For `contact_linked`: the new contact's encryption key `CX`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_encryption: Option<aman_protocol::EncryptionPublic>,
}

impl NoticeRecord {
    /// A notice of `kind` at `at`, about a change effective at `effective_at`.
    pub fn new(kind: NoticeKind, at: u64, effective_at: Option<u64>) -> Self {
        NoticeRecord { kind, at, effective_at, contact: None, contact_encryption: None }
    }
}

impl From<&NoticeRecord> for Notice {
    fn from(r: &NoticeRecord) -> Self {
        Notice {
            kind: r.kind,
            at: r.at,
            effective_at: r.effective_at,
            contact: r.contact,
            contact_encryption: r.contact_encryption,
        }
    }
}

/// An account-level notice in a mailbox (key `n`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MailboxNoticeRecord {
    /// The member the notice is about.
    pub account: AccountId,
    /// The notice.
    pub notice: NoticeRecord,
}

impl From<MailboxNoticeRecord> for MailboxNotice {
    fn from(r: MailboxNoticeRecord) -> Self {
        MailboxNotice { account: r.account, notice: Notice::from(&r.notice) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// These records used to be the API's envelopes: they must write the
    /// same bytes, so what earlier versions stored reads as it is.
    #[test]
    fn records_write_the_bytes_the_envelopes_they_replace_wrote() {
        fn same<R: Serialize, A: Serialize>(record: &R, api: &A) {
            assert_eq!(serde_json::to_string(record).unwrap(), serde_json::to_string(api).unwrap());
        }
        let mailbox = MailboxId::from_bytes([4; 16]);
        let ack = AckRecord { mailbox, at: 5 };
        same(&ack, &Ack::from(&ack));
        let mut notice = NoticeRecord::new(NoticeKind::ContactLinked, 6, Some(7));
        same(&notice, &Notice::from(&notice));
        notice.contact = Some(VerifyingKey([8; 32]));
        same(&notice, &Notice::from(&notice));
        let in_mailbox = MailboxNoticeRecord { account: AccountId::from_bytes([9; 16]), notice };
        same(&in_mailbox, &MailboxNotice::from(in_mailbox.clone()));
        let log = DeliveryRecord {
            mailbox,
            channel: DeliveryChannel::Ntfy,
            at: 10,
            outcome: DeliveryOutcome::Failed,
            detail: String::new(),
        };
        same(&log, &DeliveryAttempt::from(log.clone()));
        let id = serde_json::to_string(&mailbox).unwrap();
        let old =
            format!(r#"{{"mailbox":{id},"channel":"webhook","at":1,"outcome":"transient_failure","detail":"503"}}"#);
        let read: DeliveryRecord = serde_json::from_str(&old).unwrap();
        assert_eq!((read.channel, read.outcome), (DeliveryChannel::Webhook, DeliveryOutcome::TransientFailure));
    }
}
