//! Sealed alerts, in the manner of age.
//!
//! The member seals "if you read this, here is where I was" to each trusted
//! contact ahead of time; the server stores only the ciphertext and hands it
//! out when the alert fires.
//!
//! ```text
//! sealed = header || ciphertext
//! header = "aman/v1/alert" 0x00 0x01 || nonce[24] || u64 count || count × (ephemeral_pk[32] || wrapped_key[48])
//! ```
//!
//! The payload key `K` is wrapped for each recipient under a key derived by
//! HKDF-SHA256 from a fresh ephemeral X25519 exchange; stanzas carry no
//! recipient ids, so a stanza tells nobody whom it is for. The body is signed
//! by the member identity (over the header hash and the body, inside the
//! encryption), padded to a size bucket, and encrypted with XChaCha20-Poly1305
//! under `K` with the whole header as AAD.

use crate::encoding::{labels, Reader, Writer, VERSION};
use crate::envelope::{self, Format, TAG_LEN};
use crate::error::{DecodeError, Error};
use crate::hash::sha256;
use crate::ids::{AccountId, MailboxId};
use crate::keys::{EncryptionPublic, EncryptionSecret, SigningKey, VerifyingKey};

/// Most recipients one sealed alert can have.
pub const MAX_RECIPIENTS: usize = 16;
/// Longest note, in bytes of UTF-8.
pub const MAX_NOTE_LEN: usize = 4096;
/// Longest location, in bytes of UTF-8.
pub const MAX_LOCATION_LEN: usize = 1024;
/// Sizes the padded plaintext is rounded up to; a sealed alert reveals only its bucket.
/// (Only a body with a response plan can need the largest.)
pub const PAD_BUCKETS: [usize; 5] = [1024, 2048, 4096, 8192, 16384];
/// Longest contact name in a body's roster, in bytes of UTF-8.
pub const MAX_CONTACT_NAME_LEN: usize = 64;
/// Longest response plan, in bytes of UTF-8.
pub const MAX_PLAN_LEN: usize = 4096;
/// Largest sealed alert this format can produce.
pub const MAX_SEALED_LEN: usize = FORMAT.header_len(MAX_RECIPIENTS) + 16384 + TAG_LEN;

/// The tag byte before a response plan in a body (after the roster), so
/// that whatever trailing part comes later can be told from it.
const PLAN_TAG: u8 = 1;

/// What the member wants contacts to read when the alert fires.
#[derive(Clone, PartialEq, Eq)]
pub struct AlertBody {
    /// The member's account.
    pub account: AccountId,
    /// Increases with each sealed alert the member makes; contacts keep the highest.
    pub sequence: u64,
    /// When the member sealed it (unix seconds).
    pub created: u64,
    /// Free text: "I went to meet X at Y".
    pub note: String,
    /// Free text location.
    pub location: String,
    /// The member's names for the contacts it is sealed to, by mailbox: so
    /// that a contact can tell who acknowledged an alert (the server sees
    /// only mailbox ids). Empty in bodies made before 0.4, and then not
    /// encoded at all.
    pub contacts: Vec<(MailboxId, String)>,
    /// What the member asks contacts to do when an alert comes ("call my
    /// lawyer on …, do not call my family's landline"). Empty when there is
    /// none, and then not encoded at all; a plan needs a roster before it.
    pub plan: String,
}

// The body is plaintext a contact reads; its Debug must not leak into logs.
impl std::fmt::Debug for AlertBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertBody")
            .field("account", &self.account)
            .field("sequence", &self.sequence)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

impl AlertBody {
    fn encode(&self) -> Result<Vec<u8>, Error> {
        if self.note.len() > MAX_NOTE_LEN {
            return Err(Error::InvalidArgument("note too long"));
        }
        if self.location.len() > MAX_LOCATION_LEN {
            return Err(Error::InvalidArgument("location too long"));
        }
        if self.contacts.len() > MAX_RECIPIENTS {
            return Err(Error::InvalidArgument("too many contacts"));
        }
        if self.contacts.iter().any(|(_, name)| name.len() > MAX_CONTACT_NAME_LEN) {
            return Err(Error::InvalidArgument("contact name too long"));
        }
        if self.plan.len() > MAX_PLAN_LEN {
            return Err(Error::InvalidArgument("plan too long"));
        }
        if !self.plan.is_empty() && self.contacts.is_empty() {
            return Err(Error::InvalidArgument("a plan is sealed only with a roster"));
        }
        let mut w = Writer::new(labels::ALERT_BODY)
            .fixed(self.account.as_bytes())
            .u64(self.sequence)
            .u64(self.created)
            .var(self.note.as_bytes())
            .var(self.location.as_bytes());
        // The roster is a trailing, optional part: a body without one is
        // byte for byte what earlier versions made.
        if !self.contacts.is_empty() {
            w = w.u64(self.contacts.len() as u64);
            for (mailbox, name) in &self.contacts {
                w = w.fixed(mailbox.as_bytes()).var(name.as_bytes());
            }
        }
        // The plan follows the roster, behind its tag; a body without one
        // ends where it did before.
        if !self.plan.is_empty() {
            w = w.fixed(&[PLAN_TAG]).var(self.plan.as_bytes());
        }
        Ok(w.finish())
    }

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes, labels::ALERT_BODY)?;
        let text = |b: &[u8]| std::str::from_utf8(b).map(str::to_owned).map_err(|_| DecodeError::InvalidValue);
        let mut body = AlertBody {
            account: AccountId::from_bytes(r.fixed()?),
            sequence: r.u64()?,
            created: r.u64()?,
            note: text(r.var(MAX_NOTE_LEN)?)?,
            location: text(r.var(MAX_LOCATION_LEN)?)?,
            contacts: Vec::new(),
            plan: String::new(),
        };
        if !r.is_empty() {
            let count = r.u64()?;
            if count == 0 || count > MAX_RECIPIENTS as u64 {
                return Err(DecodeError::InvalidValue);
            }
            for _ in 0..count {
                let mailbox = MailboxId::from_bytes(r.fixed()?);
                body.contacts.push((mailbox, text(r.var(MAX_CONTACT_NAME_LEN)?)?));
            }
            if !r.is_empty() {
                let [tag] = r.fixed::<1>()?;
                if tag != PLAN_TAG {
                    return Err(DecodeError::InvalidValue);
                }
                body.plan = text(r.var(MAX_PLAN_LEN)?)?;
                // An empty plan is never written, so one is refused.
                if body.plan.is_empty() {
                    return Err(DecodeError::InvalidValue);
                }
            }
        }
        r.finish()?;
        Ok(body)
    }
}

/// The labels and sizes of a sealed alert.
const FORMAT: Format = Format {
    header: labels::ALERT,
    signature: labels::ALERT_SIGNATURE,
    version: VERSION,
    buckets: &PAD_BUCKETS,
    max_recipients: MAX_RECIPIENTS,
};

/// Checks that `sealed` is structurally a sealed alert (what the server can check).
pub fn validate_sealed(sealed: &[u8]) -> Result<(), DecodeError> {
    envelope::parse(&FORMAT, sealed).map(|_| ())
}

/// SHA-256 of a sealed alert, as carried in a check-in.
pub fn sealed_hash(sealed: &[u8]) -> [u8; 32] {
    sha256(sealed)
}

/// Seals `body` to every recipient, signed by the member `identity`.
pub fn seal(body: &AlertBody, identity: &SigningKey, recipients: &[EncryptionPublic]) -> Result<Vec<u8>, Error> {
    seal_with(body, identity, recipients, &mut crate::random::fill_random)
}

/// Sealing with an explicit entropy source, so known-answer tests can pin the bytes.
pub(crate) fn seal_with(
    body: &AlertBody,
    identity: &SigningKey,
    recipients: &[EncryptionPublic],
    entropy: &mut dyn FnMut(&mut [u8]) -> Result<(), Error>,
) -> Result<Vec<u8>, Error> {
    if recipients.is_empty() || recipients.len() > MAX_RECIPIENTS {
        return Err(Error::InvalidArgument("1 to 16 recipients"));
    }
    envelope::seal_with(&FORMAT, &body.encode()?, identity, recipients, entropy)
}

/// Opens a sealed alert with a contact's encryption key and checks the
/// member's signature. Every stanza is tried, whether or not an earlier one
/// matched. Any decryption problem is [`Error::DecryptionFailed`]; a body that
/// decrypts but is not signed by `member` is [`Error::BadSignature`].
pub fn open(sealed: &[u8], recipient: &EncryptionSecret, member: &VerifyingKey) -> Result<AlertBody, Error> {
    let body = envelope::open(&FORMAT, sealed, recipient, member)?;
    AlertBody::decode(&body).map_err(|_| Error::DecryptionFailed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    pub(crate) fn body() -> AlertBody {
        AlertBody {
            contacts: Vec::new(),
            plan: String::new(),
            account: AccountId::from_bytes([5; 16]),
            sequence: 3,
            created: 1_700_000_000,
            note: "Meeting a journalist at the café on Rasheed St.".into(),
            location: "33.3152,44.3661".into(),
        }
    }

    #[test]
    fn a_roster_of_contact_names_travels_sealed_and_a_body_without_one_is_unchanged() {
        let member = SigningKey::from_seed(Zeroizing::new([1; 32])).unwrap();
        let cx = EncryptionSecret::from_bytes(Zeroizing::new([2; 32]));
        let plain = body();
        let bare = plain.encode().unwrap();
        let mut named = body();
        named.contacts =
            vec![(MailboxId::from_bytes([7; 16]), "Alice".into()), (MailboxId::from_bytes([8; 16]), "سارة".into())];
        let encoded = named.encode().unwrap();
        assert_eq!(&encoded[..bare.len()], &bare[..], "the roster only follows the old fields");
        assert_eq!(AlertBody::decode(&encoded).unwrap(), named);
        assert_eq!(AlertBody::decode(&bare).unwrap(), plain);
        let sealed = seal(&named, &member, &[cx.public()]).unwrap();
        assert_eq!(open(&sealed, &cx, &member.verifying_key()).unwrap().contacts, named.contacts);
        // An empty roster is never written as a count of zero, so one is refused.
        let mut zero = bare.clone();
        zero.extend_from_slice(&0u64.to_be_bytes());
        assert!(AlertBody::decode(&zero).is_err());
        named.contacts[0].1 = "x".repeat(MAX_CONTACT_NAME_LEN + 1);
        assert!(named.encode().is_err(), "a name over the limit");
    }

    #[test]
    fn three_recipients_open_and_a_stranger_cannot() {
        let id = SigningKey::generate().unwrap();
        let contacts: Vec<_> = (0..3).map(|_| EncryptionSecret::generate().unwrap()).collect();
        let stranger = EncryptionSecret::generate().unwrap();
        let publics: Vec<_> = contacts.iter().map(EncryptionSecret::public).collect();
        let sealed = seal(&body(), &id, &publics).unwrap();
        for c in &contacts {
            assert_eq!(open(&sealed, c, &id.verifying_key()).unwrap(), body());
        }
        assert_eq!(open(&sealed, &stranger, &id.verifying_key()).unwrap_err(), Error::DecryptionFailed);
        let other_member = SigningKey::generate().unwrap();
        assert_eq!(open(&sealed, &contacts[0], &other_member.verifying_key()).unwrap_err(), Error::BadSignature);
        validate_sealed(&sealed).unwrap();
    }

    #[test]
    fn sizes_reveal_only_the_bucket() {
        let id = SigningKey::generate().unwrap();
        let c = EncryptionSecret::generate().unwrap();
        let mut short = body();
        short.note = "a".into();
        let mut longer = body();
        longer.note = "b".repeat(500);
        let a = seal(&short, &id, &[c.public()]).unwrap();
        let b = seal(&longer, &id, &[c.public()]).unwrap();
        assert_eq!(a.len(), b.len());
        let mut max = body();
        max.note = "n".repeat(MAX_NOTE_LEN);
        max.location = "l".repeat(MAX_LOCATION_LEN);
        let publics: Vec<_> = (0..16).map(|_| EncryptionSecret::generate().unwrap().public()).collect();
        // Without a plan the largest body still fits the 8192 bucket, as before plans.
        assert_eq!(seal(&max, &id, &publics).unwrap().len(), MAX_SEALED_LEN - 8192);
        max.contacts = (0..16u8).map(|i| (MailboxId::from_bytes([i; 16]), "c".repeat(MAX_CONTACT_NAME_LEN))).collect();
        assert_eq!(seal(&max, &id, &publics).unwrap().len(), MAX_SEALED_LEN - 8192);
        max.plan = "p".repeat(MAX_PLAN_LEN);
        assert_eq!(seal(&max, &id, &publics).unwrap().len(), MAX_SEALED_LEN);
        assert_eq!(MAX_SEALED_LEN, 17727, "PROTOCOL.md §6 names this size");
        max.note.push('x');
        assert!(seal(&max, &id, &publics).is_err());
    }

    #[test]
    fn a_plan_follows_the_roster_behind_its_tag_and_a_body_without_one_is_unchanged() {
        let member = SigningKey::from_seed(Zeroizing::new([1; 32])).unwrap();
        let cx = EncryptionSecret::from_bytes(Zeroizing::new([2; 32]));
        let mut named = body();
        named.contacts = vec![(MailboxId::from_bytes([7; 16]), "Bashir".into())];
        let without = named.encode().unwrap();
        let mut planned = named.clone();
        planned.plan = "اتصل بالمحامي أولاً.\nDo not call the family landline.".into();
        let encoded = planned.encode().unwrap();
        assert_eq!(&encoded[..without.len()], &without[..], "the plan only follows the roster");
        let tail = &encoded[without.len()..];
        assert_eq!(tail[0], PLAN_TAG);
        assert_eq!(&tail[1..5], &(planned.plan.len() as u32).to_be_bytes());
        assert_eq!(&tail[5..], planned.plan.as_bytes());
        assert_eq!(AlertBody::decode(&encoded).unwrap(), planned);
        assert_eq!(AlertBody::decode(&without).unwrap(), named);
        let sealed = seal(&planned, &member, &[cx.public()]).unwrap();
        assert_eq!(open(&sealed, &cx, &member.verifying_key()).unwrap().plan, planned.plan);

        // Bounds: at most MAX_PLAN_LEN bytes, never empty on the wire, never
        // without a roster, and no unknown tag.
        planned.plan = "p".repeat(MAX_PLAN_LEN);
        assert_eq!(AlertBody::decode(&planned.encode().unwrap()).unwrap(), planned);
        planned.plan.push('p');
        assert!(planned.encode().is_err(), "a plan over the limit");
        let mut over = without.clone();
        over.push(PLAN_TAG);
        over.extend_from_slice(&((MAX_PLAN_LEN + 1) as u32).to_be_bytes());
        over.extend_from_slice(&vec![b'p'; MAX_PLAN_LEN + 1]);
        assert!(AlertBody::decode(&over).is_err(), "an over-long plan is refused when read");
        let mut empty = without.clone();
        empty.push(PLAN_TAG);
        empty.extend_from_slice(&0u32.to_be_bytes());
        assert!(AlertBody::decode(&empty).is_err(), "an empty plan is never written");
        let mut unknown = without.clone();
        unknown.push(2);
        unknown.extend_from_slice(&1u32.to_be_bytes());
        unknown.push(b'x');
        assert!(AlertBody::decode(&unknown).is_err(), "an unknown tag");
        let mut bare = body();
        bare.plan = "plan".into();
        assert!(bare.encode().is_err(), "a plan needs a roster before it");
        let mut bad_utf8 = without;
        bad_utf8.push(PLAN_TAG);
        bad_utf8.extend_from_slice(&1u32.to_be_bytes());
        bad_utf8.push(0xff);
        assert!(AlertBody::decode(&bad_utf8).is_err());
    }

    #[test]
    fn recipient_count_bounds_and_low_order_keys() {
        let id = SigningKey::generate().unwrap();
        assert!(seal(&body(), &id, &[]).is_err());
        let many: Vec<_> = (0..17).map(|_| EncryptionSecret::generate().unwrap().public()).collect();
        assert!(seal(&body(), &id, &many).is_err());
        assert_eq!(seal(&body(), &id, &[EncryptionPublic([0; 32])]).unwrap_err(), Error::NonContributory);
    }
}
