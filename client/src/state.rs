//! What the keystore holds besides the slots: the identity keys and the
//! address book of a member and/or a contact. All of it lives only inside
//! the encrypted state box.

use crate::error::ClientError;
use crate::keystore::{self, Unlocked};
use crate::t;
use aman_protocol::api::ChannelKind;
use aman_protocol::{
    AccountId, EncryptionPublic, EncryptionSecret, InviteId, MailboxId, ServerId, SigningKey, VerifyingKey,
};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use zeroize::Zeroizing;

/// A linked trusted contact, as the member sees it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ContactEntry {
    /// The member's name for them.
    pub label: String,
    /// 1 is told first.
    pub tier: u8,
    /// Their mailbox.
    pub mailbox: MailboxId,
    /// Their identity key.
    pub identity: VerifyingKey,
    /// Their encryption key.
    pub encryption: EncryptionPublic,
    /// The safety number to compare.
    pub safety_number: String,
    /// Being removed: the server keeps alerting them until this time, so
    /// the note stays sealed to them until then too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removing_at: Option<u64>,
}

/// An invite the member made that no contact has answered yet.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingInvite {
    /// The invite id.
    pub id: InviteId,
    /// The invite secret (hex).
    pub secret: String,
    /// Label for the contact.
    pub label: String,
    /// Tier for the contact.
    pub tier: u8,
    /// When it lapses.
    pub expires_at: u64,
}

/// The member's book.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MemberBook {
    /// The server.
    pub server: String,
    /// The account.
    pub account: AccountId,
    /// A name for the member's own use.
    pub name: Option<String>,
    /// Last check-in counter sent.
    pub counter: u64,
    /// Last sealed-alert sequence.
    pub sequence: u64,
    /// Check-in interval (seconds).
    pub every: Option<u64>,
    /// Grace (seconds).
    pub grace: Option<u64>,
    /// The standing "if you read this" note.
    pub note: String,
    /// The last location given.
    pub location: String,
    /// Linked contacts.
    pub contacts: Vec<ContactEntry>,
    /// Unanswered invites.
    pub pending: Vec<PendingInvite>,
    /// A weaker schedule the server holds back until its cooling-off ends.
    #[serde(default)]
    pub pending_schedule: Option<PendingSchedule>,
    /// The server's id, from `GET /v2/server` at `init` (absent in a book
    /// made by aman 0.1, whose account cannot check in with version 2).
    #[serde(default)]
    pub server_id: Option<ServerId>,
    /// `S_pk`, the key registrations and rotations are sealed to.
    #[serde(default)]
    pub server_key: Option<EncryptionPublic>,
    /// What the sealed alert on the server holds, so that a check-in re-seals
    /// only when the note, the location or the recipients changed: every
    /// re-seal is a new note in the server's history, and a flood of
    /// identical ones would crowd out the member's own words.
    #[serde(default)]
    pub sealed: Option<SealedRef>,
    /// The deadline the server last reported.
    #[serde(default)]
    pub last_known: Option<LastKnown>,
    /// Fixed daily check-in times (`schedule set --at`), instead of "every
    /// `every`"; `every` then holds the interval the server enforces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<FixedTimes>,
    /// Trips only (`schedule set --trips-only`): no check-in is due
    /// between trips, and `every` bounds how long one trip may last.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub trips_only: bool,
    /// A trip under way (`aman trip start`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trip: Option<Trip>,
    /// The response plan sealed with the note: what contacts should do
    /// when an alert comes (`aman plan set`). Empty when there is none.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub plan: String,
    /// A pause asked for (`aman schedule pause`): in force from `effective_at`
    /// (after the server's cooling-off), until `until` or until resumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause: Option<Pause>,
    /// The other servers the account is registered with (`aman server
    /// add`): every check-in, trip, panic and note goes to each of them too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mirrors: Vec<MirrorServer>,
    /// Since when `server` (the first) could not be reached, if it could not last time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreachable_since: Option<u64>,
    /// The sealed alert on record (base64), kept to send again, byte for
    /// byte, to a server that lacks it: every server must hold the same
    /// sealed note, so that contacts can tell its alerts for one event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_bytes: Option<String>,
    /// The sequence of the server directory last sealed to the contacts.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub directory_sequence: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Another server a member's account is registered with.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MirrorServer {
    /// Its URL.
    pub url: String,
    /// Its id (a check-in names it, so it cannot be replayed elsewhere).
    pub server_id: ServerId,
    /// `S_pk`, the registration was sealed to.
    pub server_key: EncryptionPublic,
    /// The deadline it last reported.
    #[serde(default)]
    pub last_known: Option<LastKnown>,
    /// Since when it could not be reached, if it could not last time.
    #[serde(default)]
    pub unreachable_since: Option<u64>,
    /// `aman server remove`: the server deletes the account at this time
    /// (its cooling-off), and this device stops using it then.
    #[serde(default)]
    pub removing_at: Option<u64>,
    /// Contacts' mailboxes registered there.
    #[serde(default)]
    pub mailboxes: Vec<MailboxId>,
}

/// One server of a member, as the member's commands address it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerRef {
    /// Its URL.
    pub url: String,
    /// Its id.
    pub id: ServerId,
    /// Its key.
    pub key: EncryptionPublic,
    /// The first server (`init`'s), or a mirror.
    pub first: bool,
}

/// A pause of the switch.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct Pause {
    /// When it ends (`None`: when resumed).
    pub until: Option<u64>,
    /// When the server applies it.
    pub effective_at: u64,
}

/// Check-in times of day in a time zone.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FixedTimes {
    /// Hours and minutes, sorted.
    pub times: Vec<(i8, i8)>,
    /// The IANA time zone name.
    pub tz: String,
}

/// A trip: "I'm going out, I'll be back by …".
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Trip {
    /// When the member said they would be back (unix seconds).
    pub back_by: u64,
    /// The grace after it.
    pub grace: u64,
    /// The standing note and location before the trip, put back when it ends.
    pub standing_note: String,
    /// See `standing_note`.
    pub standing_location: String,
}

/// The sealed alert last sent.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SealedRef {
    /// SHA-256 (hex) of what it was sealed from: note, location, recipients.
    pub digest: String,
    /// Its hash as the check-in signs it (hex).
    pub alert_hash: String,
}

/// A schedule change waiting out the server's cooling-off period.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingSchedule {
    /// Interval (seconds).
    pub every: u64,
    /// Grace (seconds).
    pub grace: u64,
    /// When the server applies it.
    pub effective_at: u64,
    /// The fixed times it brings, if it is an `--at` schedule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<FixedTimes>,
    /// Whether it is trips only.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub trips_only: bool,
}

impl MemberBook {
    /// Every server the account is registered with, the first one first
    /// (a book made before protocol version 2 names no server id: none).
    pub fn servers(&self) -> Vec<ServerRef> {
        let mut out = Vec::new();
        if let (Some(id), Some(key)) = (self.server_id, self.server_key) {
            out.push(ServerRef { url: self.server.clone(), id, key, first: true });
        }
        out.extend(self.mirrors.iter().map(|m| ServerRef {
            url: m.url.clone(),
            id: m.server_id,
            key: m.server_key,
            first: false,
        }));
        out
    }

    /// Records whether a server answered: since when it has not.
    pub fn mark_reached(&mut self, url: &str, reached: bool, now: u64) {
        let since = if url == self.server {
            &mut self.unreachable_since
        } else if let Some(m) = self.mirrors.iter_mut().find(|m| m.url == url) {
            &mut m.unreachable_since
        } else {
            return;
        };
        match reached {
            true => *since = None,
            false => {
                since.get_or_insert(now);
            }
        }
    }

    /// Since when each server has not answered, for those that did not last time.
    pub fn unreachable(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> =
            self.unreachable_since.map(|s| (self.server.clone(), s)).into_iter().collect();
        out.extend(self.mirrors.iter().filter_map(|m| m.unreachable_since.map(|s| (m.url.clone(), s))));
        out
    }

    /// Contacts the server alerts now (a contact being removed still counts
    /// until its removal applies).
    pub fn linked_contacts(&self) -> usize {
        self.contacts.len()
    }

    /// Drops contacts whose removal the server has applied (a second after
    /// its time, as for the schedule).
    pub fn promote_removals(&mut self, now: u64) {
        self.contacts.retain(|c| c.removing_at.is_none_or(|at| now <= at));
    }

    /// Adopts a pending schedule once the server has applied it (a second
    /// after its effective time, so the server's own tick has run).
    pub fn promote_pending_schedule(&mut self, now: u64) {
        if let Some(p) = self.pending_schedule.take() {
            if now > p.effective_at {
                self.every = Some(p.every);
                self.grace = Some(p.grace);
                self.at = p.at;
                self.trips_only = p.trips_only;
            } else {
                self.pending_schedule = Some(p);
            }
        }
    }
}

/// One member this device is a trusted contact of.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Membership {
    /// The contact's name for the member.
    pub label: String,
    /// The member's server.
    pub server: String,
    /// Our mailbox there.
    pub mailbox: MailboxId,
    /// The member identity that signs alerts.
    pub member: VerifyingKey,
    /// The member's account, learnt from the first verified alert.
    #[serde(default)]
    pub account: Option<AccountId>,
    /// The safety number to compare.
    pub safety_number: String,
    /// Highest alert body sequence seen (older ones are flagged).
    #[serde(default)]
    pub highest_sequence: u64,
    /// This membership uses its own keys, derived from the master keys and
    /// the mailbox id (false for memberships made by older versions, which
    /// use the master keys themselves).
    #[serde(default)]
    pub own_keys: bool,
    /// The server's id, bound into every request signature (asked of the
    /// server when absent, for memberships made by aman 0.1).
    #[serde(default)]
    pub server_id: Option<ServerId>,
    /// The member's newest heartbeat this device verified itself: proof of
    /// life that does not depend on the server's word.
    #[serde(default)]
    pub proof_of_life: Option<ProofOfLife>,
    /// The alerts this device has read, newest last (at most
    /// [`HISTORY_KEPT`]), kept in the encrypted keystore: the server lets
    /// acknowledged alerts go after its retention time, this device keeps
    /// them.
    #[serde(default)]
    pub history: Vec<aman_protocol::api::MailboxAlert>,
    /// The member's other servers, learnt from the directory the member
    /// sealed to its contacts: the same mailbox and keys on each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mirrors: Vec<MemberMirror>,
    /// The sequence of the newest directory taken.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub directory_sequence: u64,
    /// When the member's device made it (its clock): directories are
    /// ordered by this, then by sequence.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub directory_created: u64,
    /// Since when `server` has not answered, if it did not last time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unreachable_since: Option<u64>,
    /// The alerts this device acknowledged on a member with several servers
    /// (newest last, at most [`ACKED_KEPT`]): only an event holding one of
    /// these is acknowledged on the member's other servers, so a server
    /// claiming "you acknowledged" cannot stop another's escalation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acked: Vec<AckRecord>,
}

/// An alert this device acknowledged, as the server showed it then: its id
/// alone would not do (a server chooses its ids, and could give a new
/// alert the id of one acknowledged before).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AckRecord {
    /// The server it was acknowledged on.
    pub server: String,
    /// Its id there.
    pub alert: aman_protocol::AlertId,
    /// When it fired.
    pub fired_at: u64,
    /// SHA-256 (hex) of its sealed note.
    pub note: String,
    /// When this device acknowledged it (its clock).
    #[serde(default)]
    pub at: u64,
}

impl AckRecord {
    /// The record of `alert`, read from `server`, acknowledged at `at`.
    pub fn of(server: &str, alert: &aman_protocol::api::MailboxAlert, at: u64) -> AckRecord {
        AckRecord {
            server: server.to_owned(),
            alert: alert.alert,
            fired_at: alert.fired_at,
            note: Self::note_of(alert),
            at,
        }
    }

    /// Whether this records `alert` as read from `server`.
    pub fn is_of(&self, server: &str, alert: &aman_protocol::api::MailboxAlert) -> bool {
        self.server == server
            && self.alert == alert.alert
            && self.fired_at == alert.fired_at
            && self.note == Self::note_of(alert)
    }

    fn note_of(alert: &aman_protocol::api::MailboxAlert) -> String {
        data_encoding::HEXLOWER.encode(&aman_protocol::alert::sealed_hash(&alert.sealed_alert.0))
    }
}

/// Acknowledgements a contact's keystore remembers per member.
pub const ACKED_KEPT: usize = 200;

impl Membership {
    /// Remembers that this device acknowledged `record`.
    pub fn remember_ack(&mut self, record: AckRecord) {
        if !self
            .acked
            .iter()
            .any(|r| r.server == record.server && r.alert == record.alert && r.fired_at == record.fired_at)
        {
            self.acked.push(record);
        }
        let excess = self.acked.len().saturating_sub(ACKED_KEPT);
        self.acked.drain(..excess);
    }
}

/// Another server of a member's, as a contact reads it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MemberMirror {
    /// Its URL.
    pub server: String,
    /// Its id.
    pub server_id: ServerId,
    /// The alerts read there (as [`Membership::history`]).
    #[serde(default)]
    pub history: Vec<aman_protocol::api::MailboxAlert>,
    /// Since when it has not answered, if it did not last time.
    #[serde(default)]
    pub unreachable_since: Option<u64>,
    /// When a directory first listed it: it is read from
    /// [`new_server_wait`] later (a server the member adds is announced to
    /// the contacts first, as a contact the member links is).
    #[serde(default)]
    pub listed_at: u64,
    /// Whether the newest directory lists it. One that no longer does is
    /// still read until it no longer knows this mailbox (the account's
    /// deletion waits out that server's cooling-off, and its contacts are
    /// told there): a directory alone never takes a server away.
    #[serde(default = "yes")]
    pub listed: bool,
    /// It answered the id the directory names (asked only once its wait
    /// is over: before, this device does not connect to it at all).
    #[serde(default)]
    pub verified: bool,
    /// The contact's channels were added there (once it came into use).
    #[serde(default)]
    pub channels_added: bool,
}

fn yes() -> bool {
    true
}

/// How long after a directory lists a server a contact's client starts
/// reading it and gives it its channels: a day, or `AMAN_NEW_SERVER_WAIT`
/// seconds (for tests).
pub fn new_server_wait() -> u64 {
    std::env::var("AMAN_NEW_SERVER_WAIT").ok().and_then(|v| v.parse().ok()).unwrap_or(86_400)
}

impl MemberMirror {
    /// Whether its wait is over at `now`.
    pub fn waited(&self, now: u64) -> bool {
        now >= self.listed_at.saturating_add(new_server_wait())
    }

    /// Whether it is read at `now`: its wait is over and it answered the id
    /// the directory names.
    pub fn in_use(&self, now: u64) -> bool {
        self.waited(now) && self.verified
    }
}

impl Membership {
    /// One view of this membership per server of the member in use (the
    /// first one first): each names that server, its id and the alerts read
    /// there.
    pub fn feeds(&self) -> Vec<Membership> {
        let mut out = vec![Membership { mirrors: Vec::new(), ..self.clone() }];
        let now = crate::api::unix_now();
        for mirror in self.mirrors.iter().filter(|m| m.in_use(now)) {
            out.push(Membership {
                server: mirror.server.clone(),
                server_id: Some(mirror.server_id),
                history: mirror.history.clone(),
                unreachable_since: mirror.unreachable_since,
                mirrors: Vec::new(),
                ..self.clone()
            });
        }
        out
    }

    /// Keeps what was read through one feed: its history and whether it answered.
    pub fn absorb(
        &mut self,
        server: &str,
        history: Option<Vec<aman_protocol::api::MailboxAlert>>,
        reached: bool,
        now: u64,
    ) {
        let (kept, since) = if server == self.server {
            (&mut self.history, &mut self.unreachable_since)
        } else if let Some(m) = self.mirrors.iter_mut().find(|m| m.server == server) {
            (&mut m.history, &mut m.unreachable_since)
        } else {
            return;
        };
        if let Some(h) = history {
            *kept = h;
        }
        match reached {
            true => *since = None,
            false => {
                since.get_or_insert(now);
            }
        }
    }
}

/// Alerts a contact's keystore keeps per member.
pub const HISTORY_KEPT: usize = 50;

/// What a contact keeps of the newest verified heartbeat.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProofOfLife {
    /// The member-wide counter (a heartbeat must raise it to be taken).
    pub counter: u64,
    /// When the member's device signed it (the member's clock).
    pub signed_at: u64,
    /// The deadline it announced: `next_due + grace` (for a stand-down, the
    /// longest interval and grace any server accepts, from its signing).
    pub deadline: u64,
    /// A stand-down: the member said no check-in is due (trips only, back
    /// from a trip).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub stood_down: bool,
    /// The sealed note it vouched for (hex SHA-256).
    pub sealed_hash: String,
}

/// A contact's keys for one membership. No `Debug`, `Clone` or `Serialize`.
pub struct ContactKeys {
    /// `CID` for this membership.
    pub identity: SigningKey,
    /// `CX` for this membership.
    pub encryption: EncryptionSecret,
}

/// A notification channel the contact added to its mailboxes.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct NotifyEntry {
    /// Local id for `notify remove`.
    pub id: u32,
    /// webhook, ntfy or email.
    pub kind: ChannelKind,
    /// The URL or address.
    pub target: String,
    /// The endpoint id in each mailbox.
    pub endpoints: Vec<(MailboxId, u8)>,
    /// The endpoint id in each mailbox on a member's other servers
    /// (mailbox, server URL, id): the channel wakes the contact whichever
    /// server alerts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mirror_endpoints: Vec<(MailboxId, String, u8)>,
}

/// The contact's book.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct ContactBook {
    /// Members who trust this device.
    pub memberships: Vec<Membership>,
    /// Notification channels.
    pub notify: Vec<NotifyEntry>,
}

/// How this device reaches servers, kept in the encrypted keystore (a
/// captor holding the file learns nothing of it; both passphrases see the same).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct DeviceSettings {
    /// A proxy for every request, e.g. Tor's `socks5h://127.0.0.1:9050`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<String>,
    /// A certificate authority (PEM) to trust besides the public ones, for
    /// a server with a private or self-signed certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
}

/// What the member last heard from the server about the deadline, shown
/// by `aman status` when the server cannot be reached.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct LastKnown {
    /// When the server said it (this device's clock).
    pub at: u64,
    /// The next check-in due time.
    pub next_due: Option<u64>,
    /// When the contacts are alerted.
    pub deadline: Option<u64>,
}

/// Everything non-secret in the keystore.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct Book {
    /// How to reach servers.
    #[serde(default)]
    pub settings: DeviceSettings,
    /// Present once `aman init` ran.
    pub member: Option<MemberBook>,
    /// Present once `aman contact accept` ran.
    pub contact: Option<ContactBook>,
}

/// The identity keys. No `Debug`, `Clone` or `Serialize`.
#[derive(Default)]
pub struct Secrets {
    /// Member identity `ID`.
    pub identity: Option<SigningKey>,
    /// Contact identity `CID`.
    pub contact_identity: Option<SigningKey>,
    /// Contact encryption key `CX`.
    pub contact_encryption: Option<EncryptionSecret>,
}

const SECRETS_LEN: usize = 1 + 3 * 32;

impl Secrets {
    fn encode(&self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(vec![0u8; SECRETS_LEN]);
        let mut flags = 0u8;
        if let Some(k) = &self.identity {
            flags |= 1;
            out[1..33].copy_from_slice(k.seed_bytes().as_ref());
        }
        if let Some(k) = &self.contact_identity {
            flags |= 2;
            out[33..65].copy_from_slice(k.seed_bytes().as_ref());
        }
        if let Some(k) = &self.contact_encryption {
            flags |= 4;
            out[65..97].copy_from_slice(k.secret_bytes().as_ref());
        }
        out[0] = flags;
        out
    }

    fn decode(bytes: &[u8]) -> Result<Self, ClientError> {
        let bad = || ClientError::Keystore(t!("common-keystore-damaged-secrets"));
        let b = bytes.get(..SECRETS_LEN).ok_or_else(bad)?;
        let seed = |range: std::ops::Range<usize>| -> Result<Zeroizing<[u8; 32]>, ClientError> {
            let mut s = Zeroizing::new([0u8; 32]);
            s.copy_from_slice(b.get(range).ok_or_else(bad)?);
            Ok(s)
        };
        let flags = b[0];
        Ok(Secrets {
            identity: if flags & 1 != 0 { Some(SigningKey::from_seed(seed(1..33)?)?) } else { None },
            contact_identity: if flags & 2 != 0 { Some(SigningKey::from_seed(seed(33..65)?)?) } else { None },
            contact_encryption: if flags & 4 != 0 { Some(EncryptionSecret::from_bytes(seed(65..97)?)) } else { None },
        })
    }
}

/// An unlocked keystore.
pub struct Vault {
    path: PathBuf,
    slot: Unlocked,
    /// Identity keys.
    pub secrets: Secrets,
    /// Address books.
    pub book: Book,
    /// When set, how the file looked when this copy was read: `save`
    /// refuses to write over a file another `aman` changed since (a process
    /// that keeps a keystore open, `aman ui`, sets it).
    guard: std::cell::Cell<Option<FileStamp>>,
}

/// How a file looked: its length, modification time and inode. Another
/// write (an atomic rename among them) changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    len: u64,
    modified_ns: i128,
    inode: u64,
}

impl FileStamp {
    /// How the file at `path` looks now, if it is there.
    pub fn of(path: &Path) -> Option<FileStamp> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(FileStamp {
            len: m.len(),
            modified_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
            inode: m.ino(),
        })
    }
}

impl Vault {
    /// Where the keystore lives in `home`.
    pub fn path_in(home: &Path) -> PathBuf {
        home.join("keystore")
    }

    /// Creates a new keystore (does not write it; call [`Vault::save`]).
    pub fn create(
        home: &Path,
        normal_pass: &[u8],
        duress_pass: &[u8],
        normal_seed: &[u8; 32],
        duress_seed: &[u8; 32],
    ) -> Result<Self, ClientError> {
        let path = Self::path_in(home);
        if path.exists() {
            return Err(ClientError::State(t!("common-keystore-exists", path = path.display().to_string())));
        }
        let slot = keystore::create(normal_pass, duress_pass, normal_seed, duress_seed)?;
        Ok(Vault { path, slot, secrets: Secrets::default(), book: Book::default(), guard: Default::default() })
    }

    /// Unlocks the keystore in `home` with a passphrase.
    pub fn open(home: &Path, passphrase: &[u8]) -> Result<Self, ClientError> {
        let path = Self::path_in(home);
        if !path.exists() {
            return Err(ClientError::State(t!("common-keystore-missing", path = path.display().to_string())));
        }
        let (slot, plain) = keystore::unlock(&path, passphrase)?;
        let secrets = Secrets::decode(&plain)?;
        let book = serde_json::from_slice(&plain[SECRETS_LEN..])
            .map_err(|e| ClientError::Keystore(t!("common-keystore-state-unreadable", error = e.to_string())))?;
        Ok(Vault { path, slot, secrets, book, guard: Default::default() })
    }

    /// The check-in key this passphrase unlocked, as in force at `now`.
    pub fn checkin_key(&self, now: u64) -> &SigningKey {
        self.slot.checkin_key_at(now)
    }

    /// Where the keystore file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes everything back atomically.
    pub fn save(&self) -> Result<(), ClientError> {
        if let Some(read_as) = self.guard.get() {
            if FileStamp::of(&self.path) != Some(read_as) {
                return Err(ClientError::State(t!("common-keystore-changed")));
            }
        }
        let mut plain = self.secrets.encode();
        let json = Zeroizing::new(serde_json::to_vec(&self.book).map_err(|e| ClientError::State(e.to_string()))?);
        plain.extend_from_slice(&json);
        self.slot.save(&self.path, &plain)?;
        if self.guard.get().is_some() {
            self.guard.set(FileStamp::of(&self.path));
        }
        Ok(())
    }

    /// Opens the keystore as [`Vault::open`] does, guarded: this copy will
    /// never be saved over a file another `aman` wrote after it was read.
    /// The file is looked at before it is read, so a write in between makes
    /// a save refuse rather than slip through.
    pub fn open_guarded(home: &Path, passphrase: &[u8]) -> Result<Self, ClientError> {
        let before = FileStamp::of(&Self::path_in(home));
        let vault = Self::open(home, passphrase)?;
        vault.guard.set(before);
        Ok(vault)
    }

    /// Whether the file still looks as this guarded copy last read or wrote
    /// it (false for an unguarded copy).
    pub fn unchanged_on_disk(&self) -> bool {
        self.guard.get().is_some_and(|g| FileStamp::of(&self.path) == Some(g))
    }

    /// The server a member book talks to: its id and key, or a clear error
    /// for a book made before protocol version 2.
    pub fn member_server(&self) -> Result<(ServerId, EncryptionPublic), ClientError> {
        let (book, _) = self.member()?;
        match (book.server_id, book.server_key) {
            (Some(id), Some(key)) => Ok((id, key)),
            _ => Err(ClientError::State(t!("common-account-too-old"))),
        }
    }

    /// The member book, or a clear error.
    pub fn member(&self) -> Result<(&MemberBook, &SigningKey), ClientError> {
        match (&self.book.member, &self.secrets.identity) {
            (Some(b), Some(k)) => Ok((b, k)),
            _ => Err(ClientError::State(t!("common-not-a-member"))),
        }
    }

    /// The contact book and keys, or a clear error.
    /// The keys one membership uses: its own (derived), or for an older
    /// membership the master keys.
    pub fn membership_keys(&self, m: &Membership) -> Result<ContactKeys, ClientError> {
        let (_, identity, encryption) = self.contact()?;
        Ok(if m.own_keys {
            let (identity, encryption) = aman_protocol::derive::membership_keys(identity, encryption, &m.mailbox)?;
            ContactKeys { identity, encryption }
        } else {
            ContactKeys {
                identity: SigningKey::from_seed(identity.seed_bytes())?,
                encryption: EncryptionSecret::from_bytes(encryption.secret_bytes()),
            }
        })
    }

    pub fn contact(&self) -> Result<(&ContactBook, &SigningKey, &EncryptionSecret), ClientError> {
        match (&self.book.contact, &self.secrets.contact_identity, &self.secrets.contact_encryption) {
            (Some(b), Some(i), Some(e)) => Ok((b, i, e)),
            _ => Err(ClientError::State(t!("common-not-a-contact"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A guarded copy never saves over what another process wrote after the
    /// copy was read; an unguarded one (the CLI, which reads and writes in
    /// one command) saves as before.
    #[test]
    fn a_guarded_copy_does_not_save_over_a_newer_file() {
        std::env::set_var("AMAN_INSECURE_TEST_KDF", "1");
        let dir = tempfile::tempdir().unwrap();
        let made = Vault::create(dir.path(), b"normal pass", b"duress pass", &[1; 32], &[2; 32]).unwrap();
        made.save().unwrap();
        let mut ui = Vault::open_guarded(dir.path(), b"normal pass").unwrap();
        assert!(ui.unchanged_on_disk());
        // Another aman command stores a proxy meanwhile.
        std::thread::sleep(std::time::Duration::from_millis(10));
        let mut cli = Vault::open(dir.path(), b"duress pass").unwrap();
        cli.book.settings.proxy = Some("socks5h://127.0.0.1:9050".into());
        cli.save().unwrap();
        assert!(!ui.unchanged_on_disk());
        ui.book.settings.ca_pem = Some("old copy".into());
        assert!(matches!(ui.save(), Err(ClientError::State(_))), "the old copy is not written");
        let now = Vault::open(dir.path(), b"normal pass").unwrap();
        assert_eq!(now.book.settings.proxy.as_deref(), Some("socks5h://127.0.0.1:9050"), "the proxy is kept");
        // Read again, the copy saves, and its own save keeps it current.
        let mut ui = Vault::open_guarded(dir.path(), b"normal pass").unwrap();
        ui.book.settings.ca_pem = Some("new".into());
        ui.save().unwrap();
        assert!(ui.unchanged_on_disk());
        ui.save().unwrap();
        // The unguarded copy of before still saves (the CLI's behaviour).
        cli.save().unwrap();
    }
}
