//! The JSON envelopes of the HTTP API, shared by server and client so the two
//! cannot drift. JSON is only ever the envelope: binary fields are base64url
//! ([`B64`]) and are decoded into the canonical formats of this crate, which
//! are what gets verified. PROTOCOL.md lists each route with its envelope.

pub use crate::error_code::ErrorCode;
use crate::ids::{AccountId, AlertId, InviteId, MailboxId, ServerId};
use crate::keys::{EncryptionPublic, VerifyingKey};
pub use crate::kinds::{AlertReason, ChannelKind, DeliveryChannel, DeliveryOutcome, NoticeKind};
use crate::text::{b64_decode, b64_encode};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The most bytes any single base64url field may decode to.
pub const MAX_B64_FIELD: usize = 32 * 1024;

/// Bytes carried as base64url without padding.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct B64(pub Vec<u8>);

impl Serialize for B64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&b64_encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for B64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        b64_decode(&s, MAX_B64_FIELD).map(B64).map_err(|e| serde::de::Error::custom(e.tagged()))
    }
}

/// Every 4xx/5xx body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ErrorBody {
    /// Stable, machine-readable code, e.g. `stale_counter`: an
    /// [`ErrorCode`], kept as a string so a newer server's code still parses.
    pub code: String,
    /// A sentence for humans.
    pub message: String,
}

impl ErrorBody {
    /// The body of a refusal with `code`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ErrorBody { code: code.as_str().to_owned(), message: message.into() }
    }

    /// The code, if this version knows it.
    pub fn known_code(&self) -> Option<ErrorCode> {
        ErrorCode::from_code(&self.code)
    }
}

/// `GET /v2/server`: who this server is. Unsigned; a member checks the id
/// against the registration invite when it carries one.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ServerInfo {
    /// The server id (32 hex digits).
    pub server_id: ServerId,
    /// `S_pk`, the key registrations and rotations are sealed to.
    pub server_key: EncryptionPublic,
}

/// `POST /v2/accounts`: register a member. Unsigned: the sealed
/// registration is signed by the identity it names.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterAccount {
    /// A registration invite from the organizer (absent on open servers).
    #[serde(default)]
    pub invite: Option<String>,
    /// A [`crate::Registration`] sealed to the server.
    pub registration: B64,
}

/// Reply to [`RegisterAccount`] (`201`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registered {
    /// The account registered.
    pub account: AccountId,
}

/// `POST /v2/checkin`: no request signature; the heartbeat and its mode
/// proof authenticate it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckinRequest {
    /// The public heartbeat `PH` (179 bytes), the same whichever passphrase.
    pub heartbeat: B64,
    /// The mode proof (136 bytes), for the server only.
    pub proof: B64,
    /// The new sealed alert; its SHA-256 must equal the heartbeat's `sealed_hash`.
    #[serde(default)]
    pub sealed_alert: Option<B64>,
}

/// `GET /v2/mailbox/heartbeats`: the member's latest public heartbeat, for
/// the contact to verify with the member's `ID`. Polled, never woken.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HeartbeatList {
    /// `PH` of the member's latest accepted check-in, once the contact's
    /// cooling-off has passed; absent before the first check-in.
    pub heartbeat: Option<B64>,
}

/// Reply to a check-in. Identical for normal and duress check-ins.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CheckinReply {
    /// The counter now on record.
    pub counter: u64,
    /// The next due time (unix seconds).
    pub next_due: u64,
    /// When the alert fires if there is no check-in: `next_due + grace`.
    pub deadline: u64,
}

/// `PUT /v1/account/sealed-alert`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SealedAlertUpdate {
    /// The sealed alert the server hands out if the alert fires.
    pub sealed_alert: B64,
}

/// `POST /v1/panic`.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PanicRequest {
    /// A fresh sealed alert to send (otherwise the latest one on record).
    #[serde(default)]
    pub sealed_alert: Option<B64>,
}

/// Reply to a panic.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PanicReply {
    /// The alert that fired.
    pub alert: AlertId,
}

/// `POST /v2/account/drills`: no fields (an empty body does as well); the
/// drill carries the sealed alert on record.
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DrillRequest {}

/// Reply to `POST /v2/account/drills`: the drill sent (an alert with reason
/// `drill`, told to every contact after the dispatch delay).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrillReply {
    /// The drill's alert id.
    pub drill: AlertId,
}

/// `GET /v2/account/drills/latest`: the member's latest drill, and nothing
/// about any real alert.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrillStatus {
    /// The latest drill, if one was sent (and the server still holds it).
    pub drill: Option<DrillReport>,
}

/// How one drill went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrillReport {
    /// The drill's alert id.
    pub drill: AlertId,
    /// When it was sent (unix seconds).
    pub sent_at: u64,
    /// Whether its contacts have been told yet (after the dispatch delay).
    pub dispatched: bool,
    /// When its window closes (unix seconds; absent until it is told):
    /// its dispatch plus the server's `drill_window`. The report counts
    /// only what happened before then, and no new drill is accepted until.
    #[serde(default)]
    pub window_closes: Option<u64>,
    /// Each contact it went to.
    pub contacts: Vec<DrillContact>,
}

/// One contact's side of a drill.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrillContact {
    /// The contact's mailbox (the member's client names it).
    pub mailbox: MailboxId,
    /// The drill is in the contact's mailbox.
    pub in_mailbox: bool,
    /// When the contact acknowledged it.
    pub acknowledged_at: Option<u64>,
    /// Each notification channel kind the contact has, with how the drill's
    /// notifications on it went.
    pub channels: Vec<DrillChannel>,
    /// The day the contact's client first fetched this drill, within its
    /// window, in days since 1970-01-01 (UTC); the server keeps no finer
    /// time, and nothing about the contact's other reads.
    pub first_fetch_day: Option<u64>,
}

/// How a drill's notifications went on one kind of channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DrillChannel {
    /// The channel's kind.
    pub kind: ChannelKind,
    /// What came of it.
    pub outcome: ChannelOutcome,
}

/// What came of a drill's notifications on a channel.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ChannelOutcome {
    /// At least one was delivered.
    Delivered,
    /// Every attempt so far failed.
    Failed,
    /// Not tried yet.
    Pending,
}

/// A linked contact mailbox.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ContactLink {
    /// The contact's mailbox (from its enrollment).
    pub mailbox: MailboxId,
    /// 1 is told first; tier N+1 only if nobody acknowledged in time.
    pub tier: u8,
    /// Set by the server: a contact linked while others exist receives
    /// nothing (no alert, no note, no acknowledgement power) before this time
    /// (unix seconds), the end of the cooling-off period. Ignored in requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_from: Option<u64>,
}

impl ContactLink {
    /// True when the contact takes part in alerts at `now`.
    pub fn is_active(&self, now: u64) -> bool {
        self.active_from.is_none_or(|t| t <= now)
    }
}

/// A member's protection policy.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Longest time between check-ins the member allows (seconds); `None` until set.
    #[serde(default)]
    pub interval: Option<u64>,
    /// Grace after a due time before the alert fires (seconds); `None` until set.
    #[serde(default)]
    pub grace: Option<u64>,
    /// A paused switch fires no missed-check-in alert.
    #[serde(default)]
    pub paused: bool,
    /// With `paused`: when the pause ends (unix seconds). A deadline that
    /// falls during the pause moves to this time plus the grace; after it
    /// the switch fires as if not paused. `None`: paused until resumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<u64>,
    /// Trips only: between trips no check-in is due, and a check-in may
    /// stand down (a heartbeat with `next_due` and `grace` 0) to arm
    /// nothing; `interval` then bounds how long one trip may last.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub trips_only: bool,
    /// The linked contacts.
    #[serde(default)]
    pub contacts: Vec<ContactLink>,
    /// Seconds to wait after tier N is told before telling tier N+1; entry
    /// N-1 is tier N's delay, the last entry covers higher tiers.
    #[serde(default)]
    pub escalation_delays: Vec<u64>,
}

/// Reply to a policy change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PolicyReply {
    /// True when the change applied at once (it strengthens protection).
    pub applied: bool,
    /// When it applies (now, or after the cooling-off period).
    pub effective_at: u64,
}

/// What kind of change waits out the cooling-off period. Each kind has its
/// own slot: a change of one kind never cancels a pending change of another.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum PendingKind {
    /// A weaker schedule, a pause, a removed or demoted contact, slower escalation.
    PolicyWeakening,
    /// New check-in keys.
    CheckinKeysRotation,
    /// Deleting the account.
    AccountDeletion,
}

/// A change that waits out the cooling-off period, as the member sees it.
/// It names the kind and the time (and, for a weaker policy, that policy)
/// only: never the keys of a rotation, whose order would tell which
/// passphrase is the duress one.
///
/// On the wire `{"kind": …, "effective_at": …}`, with `"policy"` for a
/// policy weakening and only then: the variants say which change carries
/// what. A kind this version does not know (from a newer server) reads as
/// [`PendingChange::Unknown`], so the rest of the status still reads.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PendingChange {
    /// A weaker schedule, a pause, a removed or demoted contact, slower escalation.
    PolicyWeakening {
        /// When it applies (unix seconds).
        effective_at: u64,
        /// The policy that will apply.
        policy: Policy,
    },
    /// New check-in keys.
    CheckinKeysRotation {
        /// When they take over (unix seconds).
        effective_at: u64,
    },
    /// Deleting the account.
    AccountDeletion {
        /// When the account is deleted (unix seconds).
        effective_at: u64,
    },
    /// A kind of change this version does not know (read only).
    #[serde(other)]
    Unknown,
}

impl PendingChange {
    /// Which kind of change; `None` for one this version does not know.
    pub fn kind(&self) -> Option<PendingKind> {
        match self {
            PendingChange::PolicyWeakening { .. } => Some(PendingKind::PolicyWeakening),
            PendingChange::CheckinKeysRotation { .. } => Some(PendingKind::CheckinKeysRotation),
            PendingChange::AccountDeletion { .. } => Some(PendingKind::AccountDeletion),
            PendingChange::Unknown => None,
        }
    }

    /// When it applies (unix seconds); `None` for a kind this version does
    /// not know.
    pub fn effective_at(&self) -> Option<u64> {
        match self {
            PendingChange::PolicyWeakening { effective_at, .. }
            | PendingChange::CheckinKeysRotation { effective_at }
            | PendingChange::AccountDeletion { effective_at } => Some(*effective_at),
            PendingChange::Unknown => None,
        }
    }
}

/// `PUT /v2/account/keys`: replace the check-in keys (after cooling-off).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateKeys {
    /// A signed [`crate::KeyRotation`] for the next generation, sealed to the
    /// server: each old key signs its successor, no roles named.
    pub rotation: B64,
}

/// `GET /v1/account`. Carries nothing that moves with a duress check-in: no
/// alert list, no alert count (whoever holds the phone can read it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountStatus {
    /// The account.
    pub account: AccountId,
    /// Last check-in counter.
    pub counter: u64,
    /// Next due time, if armed.
    pub next_due: Option<u64>,
    /// When the alert fires, if armed.
    pub deadline: Option<u64>,
    /// The policy in force.
    pub policy: Policy,
    /// Changes waiting out the cooling-off period (at most one of each kind).
    pub pending: Vec<PendingChange>,
    /// The generation of the check-in keys in force (0 at registration);
    /// a rotation names the next one.
    pub key_generation: u64,
    /// The server's clock, so the client can show time left.
    pub server_time: u64,
}

/// `POST /v1/pairings`: the member opens a pairing relay slot.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreatePairing {
    /// The invite id from the invite code.
    pub invite: InviteId,
    /// When the slot lapses (unix seconds).
    pub expires_at: u64,
}

/// `POST /v1/pairings/{invite}/reply`: the contact answers. Signed by the
/// contact identity with the new mailbox as caller; registers the mailbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PairingAnswer {
    /// The contact's new mailbox.
    pub mailbox: MailboxId,
    /// The contact identity `CID` (verifies the contact's requests).
    pub identity: VerifyingKey,
    /// The contact's encryption key `CX`, in clear as well as inside the
    /// enrollment: the server shows it (with `CID`) to the member's other
    /// contacts when this one is linked, so they can tell who joined by the
    /// safety number. The member's client uses the one in the enrollment.
    #[serde(default)]
    pub encryption: Option<EncryptionPublic>,
    /// The encrypted [`crate::Enrollment`].
    pub enrollment: B64,
}

/// `POST /v2/account/mailboxes`: the member registers, on this server, the
/// mailbox of a contact it paired with on another of its servers (the
/// contact keeps one mailbox id and key pair per member, the same on each
/// of the member's servers). Signed by the member. The keys are those the
/// member learnt in that pairing's authenticated enrollment, and the ones it
/// seals notes to: a server that swapped them would only make its own
/// alerts unreadable.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AddMailbox {
    /// The contact's mailbox id (the same on every server of the member).
    pub mailbox: MailboxId,
    /// The contact identity `CID_pk` (verifies the contact's requests here).
    pub identity: VerifyingKey,
    /// The contact's encryption key `CX_pk`.
    pub encryption: EncryptionPublic,
}

/// `PUT /v2/account/directory`: the member's sealed server directory
/// (`aman_protocol::directory`), opaque to the server.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DirectoryUpdate {
    /// The sealed directory.
    pub directory: B64,
}

/// `GET /v2/mailbox/directory`: the sealed server directory of the member a
/// mailbox watches over, for the contact to open with its `CX`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DirectoryReply {
    /// The sealed directory, once the contact's cooling-off has passed and
    /// the member has stored one; `null` otherwise.
    pub directory: Option<B64>,
}

/// `GET /v1/pairings/{invite}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairingState {
    /// The contact's encrypted enrollment, once it answered.
    pub enrollment: Option<B64>,
}

/// An acknowledgement of an alert by one of its contacts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Ack {
    /// Which mailbox acknowledged.
    pub mailbox: MailboxId,
    /// When (unix seconds).
    pub at: u64,
}

/// Something the server tells contacts besides the alert itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Notice {
    /// What it is about.
    pub kind: NoticeKind,
    /// When (unix seconds).
    pub at: u64,
    /// For pending changes and new contacts: when the change takes effect.
    #[serde(default)]
    pub effective_at: Option<u64>,
    /// For `contact_linked`: the new contact's identity key `CID`, so every
    /// existing contact can see who was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<VerifyingKey>,
    /// For `contact_linked`: the new contact's encryption key `CX`; with the
    /// member's identity and `contact` it gives the new contact's safety number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_encryption: Option<EncryptionPublic>,
}

impl Notice {
    /// A notice of `kind` at `at`, about a change effective at `effective_at`.
    pub fn new(kind: NoticeKind, at: u64, effective_at: Option<u64>) -> Self {
        Notice { kind, at, effective_at, contact: None, contact_encryption: None }
    }
}

/// A note (sealed alert) as the server received it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReceivedNote {
    /// When the server received it (unix seconds).
    pub received_at: u64,
    /// The sealed alert.
    pub sealed_alert: B64,
}

/// One alert as a contact's mailbox shows it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MailboxAlert {
    /// The alert.
    pub alert: AlertId,
    /// The member's account.
    pub account: AccountId,
    /// Why it fired.
    pub reason: AlertReason,
    /// When it fired (unix seconds).
    pub fired_at: u64,
    /// The missed deadline, for `missed`.
    pub deadline: Option<u64>,
    /// True when the deadline fell while the server was down.
    pub server_was_down: bool,
    /// The member's sealed alert in force when it fired.
    pub sealed_alert: B64,
    /// When the server received that sealed alert, if known.
    #[serde(default)]
    pub note_received_at: Option<u64>,
    /// Notes the latest one replaced (up to 16), newest first: a captor who
    /// replaced the note cannot erase the member's own words.
    #[serde(default)]
    pub earlier_notes: Vec<ReceivedNote>,
    /// Acknowledgements so far.
    pub acks: Vec<Ack>,
    /// Late check-ins and other notices about this alert.
    pub notices: Vec<Notice>,
    /// When this alert last changed for this mailbox (unix milliseconds).
    /// To wait for the next change, pass the reply's `cursor_ms`, not this.
    pub updated_ms: u64,
}

/// A notice for a mailbox that is not about a particular alert.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MailboxNotice {
    /// The member the notice is about.
    pub account: AccountId,
    /// The notice.
    pub notice: Notice,
}

/// `GET /v1/mailbox/alerts`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MailboxContents {
    /// Alerts delivered to this mailbox.
    pub alerts: Vec<MailboxAlert>,
    /// Account-level notices.
    pub notices: Vec<MailboxNotice>,
    /// Pass as `since` to wait for the next change (an opaque, increasing
    /// change stamp).
    pub cursor_ms: u64,
    /// More changes remain after this cursor: read again at once.
    #[serde(default)]
    pub more: bool,
}

/// One delivery attempt in an alert's log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryAttempt {
    /// Which mailbox's channel.
    pub mailbox: MailboxId,
    /// The mailbox, or which kind of channel.
    pub channel: DeliveryChannel,
    /// When (unix seconds).
    pub at: u64,
    /// `delivered` or `failed` (records written before 0.4 may say
    /// `transient_failure` or `permanent_failure`).
    pub outcome: DeliveryOutcome,
    /// Empty: the reason for a failure is in the organizer's log only
    /// (records written before 0.4 may carry a short reason).
    #[serde(default)]
    pub detail: String,
}

/// `GET /v1/mailbox/alerts/{id}/deliveries`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeliveryLog {
    /// Attempts, oldest first.
    pub attempts: Vec<DeliveryAttempt>,
}

/// `GET /healthz`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// Server time (unix seconds).
    pub time: u64,
}

/// `POST /v1/mailbox/endpoints`: a notification channel for a mailbox.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddEndpoint {
    /// `webhook`, `ntfy` or `email` (a server refuses any other word,
    /// [`ChannelKind::Unknown`], as `invalid_kind`).
    pub kind: ChannelKind,
    /// The URL (webhook, ntfy topic) or e-mail address.
    pub target: String,
}

/// Reply to [`AddEndpoint`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointAdded {
    /// Id for removal.
    pub id: u8,
    /// For webhooks: the HMAC-SHA256 secret, shown this once (base64url).
    pub secret: Option<String>,
}

/// One endpoint as its owner sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointInfo {
    /// Id for removal.
    pub id: u8,
    /// `webhook`, `ntfy` or `email` (`Unknown`: a word from a newer server).
    pub kind: ChannelKind,
    /// The URL or address.
    pub target: String,
}

/// `GET /v1/mailbox/endpoints`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndpointList {
    /// The endpoints.
    pub endpoints: Vec<EndpointInfo>,
}

/// `PUT /v2/account/reminders`: when the member is reminded, in seconds
/// before each due time and before each grace ends.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ReminderSettings {
    /// Offsets in seconds (at most 4, each at least the server's
    /// `min_reminder` and at most the member's interval; empty: none).
    pub before: Vec<u64>,
}

/// `GET /v2/account/reminders`: the member's reminder offsets and its own
/// notification targets (added with `POST /v2/account/reminders/targets`,
/// an [`AddEndpoint`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Reminders {
    /// Offsets in seconds, longest first.
    pub before: Vec<u64>,
    /// The targets.
    pub targets: Vec<EndpointInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pending_change_carries_a_policy_only_when_it_is_one() {
        let weaker = PendingChange::PolicyWeakening { effective_at: 7, policy: Policy::default() };
        let keys = PendingChange::CheckinKeysRotation { effective_at: 8 };
        let deletion = PendingChange::AccountDeletion { effective_at: 9 };
        // The bytes the struct with an optional policy wrote.
        let policy = r#"{"interval":null,"grace":null,"paused":false,"contacts":[],"escalation_delays":[]}"#;
        for (change, json) in [
            (&weaker, format!(r#"{{"kind":"policy_weakening","effective_at":7,"policy":{policy}}}"#)),
            (&keys, r#"{"kind":"checkin_keys_rotation","effective_at":8}"#.to_owned()),
            (&deletion, r#"{"kind":"account_deletion","effective_at":9}"#.to_owned()),
        ] {
            assert_eq!(serde_json::to_string(change).unwrap(), json);
            assert_eq!(&serde_json::from_str::<PendingChange>(&json).unwrap(), change);
        }
        assert_eq!(weaker.kind(), Some(PendingKind::PolicyWeakening));
        assert_eq!(deletion.effective_at(), Some(9));
        let newer: PendingChange = serde_json::from_str(r#"{"kind":"server_move","effective_at":1}"#).unwrap();
        assert_eq!((newer.kind(), newer.effective_at()), (None, None));
        assert!(serde_json::from_str::<PendingChange>(r#"{"kind":"policy_weakening","effective_at":1}"#).is_err());
    }
}
