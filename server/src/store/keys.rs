//! Every sled key the server writes, encoded in one place.
//!
//! All records live in one sled tree so that a single `Batch` is atomic across
//! record kinds (an account, its deadline and an alert commit together). The
//! first byte of each key names the kind; integers are big-endian so that
//! sled's byte order is time order.

use aman_protocol::{AccountId, AlertId, InviteId, MailboxId};

/// Key prefixes, one per record kind.
pub mod prefix {
    /// account id → account record
    pub const ACCOUNT: u8 = b'a';
    /// fire_at u64 || account id → (empty): the deadline index of 0.2,
    /// removed by the start-up migration (deadlines now live sealed in `t`
    /// and the index only in memory)
    pub const LEGACY_DEADLINE: u8 = b'd';
    /// account id → the account's sealed live state (counter, deadline,
    /// latest heartbeat): the one record a check-in rewrites
    pub const LIVE: u8 = b't';
    /// account id → latest sealed alert bytes
    pub const SEALED: u8 = b's';
    /// sha256(invite code) → registration invite record
    pub const INVITE: u8 = b'i';
    /// mailbox id → mailbox record
    pub const MAILBOX: u8 = b'm';
    /// invite id → pairing relay slot
    pub const PAIRING: u8 = b'p';
    /// alert id → alert record
    pub const ALERT: u8 = b'A';
    /// mailbox id || alert id → mailbox entry
    pub const MAILBOX_ENTRY: u8 = b'e';
    /// mailbox id || change stamp u64 (µs; seconds in notices written
    /// before 0.3) || seq u64 → account-level notice
    pub const MAILBOX_NOTICE: u8 = b'n';
    /// due u64 || alert id || mailbox id || channel u8 → outbox entry
    pub const OUTBOX: u8 = b'o';
    /// at u64 || alert id → pending escalation
    pub const ESCALATION: u8 = b'x';
    /// effective_at u64 || account id → pending weakening change
    pub const COOLING: u8 = b'c';
    /// alert id || at u64 || seq u64 → delivery attempt
    pub const DELIVERY_LOG: u8 = b'l';
    /// name → server metadata (heartbeat, ...)
    pub const META: u8 = b'M';
    /// at u64 || alert id → alert whose contacts are told at `at`
    pub const DISPATCH: u8 = b'D';
    /// account id → notes the latest one replaced (for alerts)
    pub const NOTE_HISTORY: u8 = b'h';
    /// random id (16) → sealed check-in signal: one per check-in whichever
    /// passphrase, read by the scheduler at the due time sealed inside with
    /// the account and counter (0.2 wrote `due u64 || account id || counter
    /// u64`, in clear)
    pub const SIGNAL: u8 = b'S';
    /// mailbox id || changed u64 || alert id → (empty): the mailbox's
    /// alerts in the order they last changed for it, so a poll reads only
    /// what changed after its cursor
    pub const MAILBOX_CHANGE: u8 = b'E';
    /// keyed tag of a deleted account's id (32) → (empty): ids that may
    /// never be registered again (the tag, not the id, so a copy of the
    /// data without the key file does not list who left)
    pub const RETIRED: u8 = b'R';
    /// account id → the member's own reminder settings: "before" offsets
    /// and notification targets (sealed under the server key). Nothing in
    /// it changes with a check-in: reminder times live in memory only.
    pub const REMINDERS: u8 = b'r';
    /// account id → the member's sealed server directory (PROTOCOL.md
    /// §6.1), as the member sent it: opaque, sealed to its contacts
    pub const DIRECTORY: u8 = b'y';
}

fn key(prefix: u8, parts: &[&[u8]]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
    k.push(prefix);
    for p in parts {
        k.extend_from_slice(p);
    }
    k
}

/// Key of a retired account id's tag.
pub fn retired(tag: &[u8; 32]) -> Vec<u8> {
    key(prefix::RETIRED, &[tag])
}

/// Key of an account record.
pub fn account(id: &AccountId) -> Vec<u8> {
    key(prefix::ACCOUNT, &[id.as_bytes()])
}

/// Key of a 0.2 deadline index entry.
pub fn legacy_deadline(fire_at: u64, id: &AccountId) -> Vec<u8> {
    key(prefix::LEGACY_DEADLINE, &[&fire_at.to_be_bytes(), id.as_bytes()])
}

/// Parses a 0.2 deadline index key.
pub fn parse_legacy_deadline(k: &[u8]) -> Option<(u64, AccountId)> {
    let (at, id) = parse_time_id(k, prefix::LEGACY_DEADLINE)?;
    Some((at, AccountId::from_bytes(id)))
}

/// Key of an account's sealed live state.
pub fn live(id: &AccountId) -> Vec<u8> {
    key(prefix::LIVE, &[id.as_bytes()])
}

/// Key of a member's reminder settings.
pub fn reminders(id: &AccountId) -> Vec<u8> {
    key(prefix::REMINDERS, &[id.as_bytes()])
}

/// Key of a member's sealed server directory.
pub fn directory(id: &AccountId) -> Vec<u8> {
    key(prefix::DIRECTORY, &[id.as_bytes()])
}

/// Key of an account's latest sealed alert.
pub fn sealed(id: &AccountId) -> Vec<u8> {
    key(prefix::SEALED, &[id.as_bytes()])
}

/// Key of a registration invite.
pub fn invite(code_hash: &[u8; 32]) -> Vec<u8> {
    key(prefix::INVITE, &[code_hash])
}

/// Key of a mailbox.
pub fn mailbox(id: &MailboxId) -> Vec<u8> {
    key(prefix::MAILBOX, &[id.as_bytes()])
}

/// Key of a pairing relay slot.
pub fn pairing(id: &InviteId) -> Vec<u8> {
    key(prefix::PAIRING, &[id.as_bytes()])
}

/// Key of an alert.
pub fn alert(id: &AlertId) -> Vec<u8> {
    key(prefix::ALERT, &[id.as_bytes()])
}

/// Key of a mailbox entry.
pub fn mailbox_entry(mailbox: &MailboxId, alert: &AlertId) -> Vec<u8> {
    key(prefix::MAILBOX_ENTRY, &[mailbox.as_bytes(), alert.as_bytes()])
}

/// Prefix of all entries of one mailbox.
pub fn mailbox_entries(mailbox: &MailboxId) -> Vec<u8> {
    key(prefix::MAILBOX_ENTRY, &[mailbox.as_bytes()])
}

/// Key of a mailbox change index entry.
pub fn mailbox_change(mailbox: &MailboxId, changed: u64, alert: &AlertId) -> Vec<u8> {
    key(prefix::MAILBOX_CHANGE, &[mailbox.as_bytes(), &changed.to_be_bytes(), alert.as_bytes()])
}

/// Prefix of one mailbox's change index.
pub fn mailbox_changes(mailbox: &MailboxId) -> Vec<u8> {
    key(prefix::MAILBOX_CHANGE, &[mailbox.as_bytes()])
}

/// Parses a mailbox change key: (mailbox, changed, alert).
pub fn parse_mailbox_change(k: &[u8]) -> Option<(MailboxId, u64, AlertId)> {
    if k.len() != 1 + 16 + 8 + 16 || k[0] != prefix::MAILBOX_CHANGE {
        return None;
    }
    let mailbox = MailboxId::from_slice(&k[1..17]).ok()?;
    let at = u64::from_be_bytes(k[17..25].try_into().ok()?);
    let alert = AlertId::from_slice(&k[25..41]).ok()?;
    Some((mailbox, at, alert))
}

/// Key of an account-level notice in a mailbox.
pub fn mailbox_notice(mailbox: &MailboxId, at: u64, seq: u64) -> Vec<u8> {
    key(prefix::MAILBOX_NOTICE, &[mailbox.as_bytes(), &at.to_be_bytes(), &seq.to_be_bytes()])
}

/// Prefix of all notices of one mailbox.
pub fn mailbox_notices(mailbox: &MailboxId) -> Vec<u8> {
    key(prefix::MAILBOX_NOTICE, &[mailbox.as_bytes()])
}

/// Key of an outbox entry.
pub fn outbox(due: u64, alert: &AlertId, mailbox: &MailboxId, channel: OutboxChannel) -> Vec<u8> {
    key(prefix::OUTBOX, &[&due.to_be_bytes(), alert.as_bytes(), mailbox.as_bytes(), &[channel.to_byte()]])
}

/// What an outbox entry sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// The alert itself, the first time.
    Alert,
    /// "Another contact acknowledged the alert".
    Ack,
    /// An account-level notice (a pending change, a new contact); the
    /// entry's "alert id" is the notice's own random id.
    Notice,
    /// A re-notification of an alert nobody has acknowledged yet
    /// (`renotify_interval`), sent exactly as the first.
    Renotify,
}

/// The last byte of an outbox key: which endpoint of the mailbox, and what
/// for. The byte is the endpoint id (below [`OutboxChannel::ENDPOINT_LIMIT`])
/// with one bit for the purpose (an alert has none): `0x80` an
/// acknowledgement, `0x40` a notice, `0x20` a re-notification. Stored keys
/// hold this byte, so the encoding never changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OutboxChannel {
    endpoint: u8,
    purpose: Purpose,
}

impl OutboxChannel {
    /// Endpoint ids are below this (they share the byte with the purpose).
    pub const ENDPOINT_LIMIT: u8 = 0x20;
    /// The lowest key byte (0): where a scan of the outbox starts.
    pub const MIN: OutboxChannel = OutboxChannel { endpoint: 0, purpose: Purpose::Alert };
    const ACK: u8 = 0x80;
    const NOTICE: u8 = 0x40;
    const RENOTIFY: u8 = 0x20;

    /// The channel of `endpoint` for `purpose`; `None` for an endpoint id
    /// that does not fit.
    pub fn new(endpoint: u8, purpose: Purpose) -> Option<Self> {
        (endpoint < Self::ENDPOINT_LIMIT).then_some(OutboxChannel { endpoint, purpose })
    }

    /// The endpoint id within the mailbox.
    pub fn endpoint(self) -> u8 {
        self.endpoint
    }

    /// What the entry sends.
    pub fn purpose(self) -> Purpose {
        self.purpose
    }

    /// The same endpoint for another purpose.
    pub fn with_purpose(self, purpose: Purpose) -> Self {
        OutboxChannel { purpose, ..self }
    }

    /// The key byte.
    pub fn to_byte(self) -> u8 {
        self.endpoint
            | match self.purpose {
                Purpose::Alert => 0,
                Purpose::Ack => Self::ACK,
                Purpose::Notice => Self::NOTICE,
                Purpose::Renotify => Self::RENOTIFY,
            }
    }

    /// Reads a key byte; `None` for a byte this server never writes (more
    /// than one purpose bit).
    pub fn from_byte(byte: u8) -> Option<Self> {
        let purpose = match byte & !(Self::ENDPOINT_LIMIT - 1) {
            0 => Purpose::Alert,
            Self::ACK => Purpose::Ack,
            Self::NOTICE => Purpose::Notice,
            Self::RENOTIFY => Purpose::Renotify,
            _ => return None,
        };
        Some(OutboxChannel { endpoint: byte & (Self::ENDPOINT_LIMIT - 1), purpose })
    }
}

/// Key of a pending escalation.
pub fn escalation(at: u64, alert: &AlertId) -> Vec<u8> {
    key(prefix::ESCALATION, &[&at.to_be_bytes(), alert.as_bytes()])
}

/// Parses an escalation key.
pub fn parse_escalation(k: &[u8]) -> Option<(u64, AlertId)> {
    let (at, id) = parse_time_id(k, prefix::ESCALATION)?;
    Some((at, AlertId::from_bytes(id)))
}

/// Key of a pending weakening change.
pub fn cooling(effective_at: u64, id: &AccountId) -> Vec<u8> {
    key(prefix::COOLING, &[&effective_at.to_be_bytes(), id.as_bytes()])
}

/// Parses a cooling-off key.
pub fn parse_cooling(k: &[u8]) -> Option<(u64, AccountId)> {
    let (at, id) = parse_time_id(k, prefix::COOLING)?;
    Some((at, AccountId::from_bytes(id)))
}

/// Key of a pending dispatch.
pub fn dispatch(at: u64, alert: &AlertId) -> Vec<u8> {
    key(prefix::DISPATCH, &[&at.to_be_bytes(), alert.as_bytes()])
}

/// Parses a dispatch key.
pub fn parse_dispatch(k: &[u8]) -> Option<(u64, AlertId)> {
    let (at, id) = parse_time_id(k, prefix::DISPATCH)?;
    Some((at, AlertId::from_bytes(id)))
}

/// Key of a check-in signal.
pub fn signal(id: &[u8; 16]) -> Vec<u8> {
    key(prefix::SIGNAL, &[id])
}

/// Key of a check-in signal written by 0.2.
pub fn legacy_signal(due: u64, id: &AccountId, counter: u64) -> Vec<u8> {
    key(prefix::SIGNAL, &[&due.to_be_bytes(), id.as_bytes(), &counter.to_be_bytes()])
}

/// Parses a check-in signal key (either form).
pub fn parse_signal(k: &[u8]) -> Option<super::SignalSlot> {
    if k.first() != Some(&prefix::SIGNAL) {
        return None;
    }
    let u64_at = |i: usize| k.get(i..i + 8).and_then(|b| <[u8; 8]>::try_from(b).ok()).map(u64::from_be_bytes);
    match k.len() {
        17 => Some(super::SignalSlot::Id(k[1..17].try_into().ok()?)),
        33 => Some(super::SignalSlot::Legacy {
            due: u64_at(1)?,
            account: AccountId::from_slice(&k[9..25]).ok()?,
            counter: u64_at(25)?,
        }),
        _ => None,
    }
}

/// Key of an account's note history.
pub fn note_history(id: &AccountId) -> Vec<u8> {
    key(prefix::NOTE_HISTORY, &[id.as_bytes()])
}

/// Key of one delivery attempt.
pub fn delivery_log(alert: &AlertId, at_ms: u64, seq: u64) -> Vec<u8> {
    key(prefix::DELIVERY_LOG, &[alert.as_bytes(), &at_ms.to_be_bytes(), &seq.to_be_bytes()])
}

/// Prefix of one alert's delivery log.
pub fn delivery_logs(alert: &AlertId) -> Vec<u8> {
    key(prefix::DELIVERY_LOG, &[alert.as_bytes()])
}

/// Key of a metadata value.
pub fn meta(name: &str) -> Vec<u8> {
    key(prefix::META, &[name.as_bytes()])
}

/// `prefix || u64 BE || 16-byte id`.
fn parse_time_id(k: &[u8], expected: u8) -> Option<(u64, [u8; 16])> {
    if k.len() != 1 + 8 + 16 || k[0] != expected {
        return None;
    }
    let at = u64::from_be_bytes(k[1..9].try_into().ok()?);
    let id = k[9..25].try_into().ok()?;
    Some((at, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_keys_sort_by_time_and_parse_back() {
        let a = AlertId::from_bytes([0xff; 16]);
        let b = AlertId::from_bytes([0x00; 16]);
        assert!(escalation(1, &a) < escalation(2, &b));
        assert!(escalation(255, &a) < escalation(256, &b));
        assert_eq!(parse_escalation(&escalation(77, &a)), Some((77, a)));
        assert_eq!(parse_escalation(&dispatch(77, &a)), None);
        let id = AccountId::from_bytes([7; 16]);
        assert_eq!(parse_legacy_deadline(&legacy_deadline(5, &id)), Some((5, id)));
    }

    #[test]
    fn signal_keys_say_nothing_and_old_ones_still_parse() {
        use super::super::SignalSlot;
        assert_eq!(signal(&[5; 16]).len(), 17);
        assert_eq!(parse_signal(&signal(&[5; 16])), Some(SignalSlot::Id([5; 16])));
        let account = AccountId::from_bytes([3; 16]);
        let old = SignalSlot::Legacy { due: 1_800_000_000, account, counter: 9 };
        assert_eq!(parse_signal(&old.key().unwrap_or_default()), Some(old));
        assert_eq!(SignalSlot::Live(account).key(), None, "a live state's signal has no key of its own");
    }

    #[test]
    fn outbox_channel_bytes_are_those_stored_before() {
        // The bytes 0.3 wrote: endpoint id, | 0x80 ack, | 0x40 notice, | 0x20 renotify.
        for (byte, endpoint, purpose) in [
            (0x03, 3, Purpose::Alert),
            (0x83, 3, Purpose::Ack),
            (0x45, 5, Purpose::Notice),
            (0x21, 1, Purpose::Renotify),
            (0x1f, 31, Purpose::Alert),
        ] {
            let channel = OutboxChannel::new(endpoint, purpose).unwrap();
            assert_eq!(channel.to_byte(), byte);
            assert_eq!(OutboxChannel::from_byte(byte), Some(channel));
        }
        assert_eq!(OutboxChannel::new(OutboxChannel::ENDPOINT_LIMIT, Purpose::Alert), None);
        assert_eq!(OutboxChannel::from_byte(0xc1), None);
        assert_eq!(OutboxChannel::from_byte(0xa1), None);
        for byte in 0..=u8::MAX {
            if let Some(channel) = OutboxChannel::from_byte(byte) {
                assert_eq!(channel.to_byte(), byte);
            }
        }
    }
}
