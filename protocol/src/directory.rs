//! A member's server directory (PROTOCOL.md §6.1): every server the member
//! is registered on, sealed to its contacts like an alert (§6), so that
//! each of the member's servers can hold it without learning the others: a
//! seized server must not say where else the member is protected.
//!
//! ```text
//! body = "aman/v2/directory" 0x00 0x02 || account[16] || u64 sequence || u64 created
//!        || u8 count (1..=8) || count × ( server_id[16] || u32 len || url (UTF-8, 1..=512 bytes) )
//! sig  = Ed25519(ID, "aman/v2/directory-sig" 0x00 0x02 || SHA-256(header)[32] || u32 len || body)
//! ```
//!
//! The header is labelled `aman/v2/sealed-directory`, and the padded
//! plaintext always fills the one bucket of [`BUCKET`] bytes, so a sealed
//! directory's length tells only how many contacts it is sealed to.

use crate::encoding::{labels, Reader, Writer, VERSION_2};
use crate::envelope::{self, Format, TAG_LEN};
use crate::error::{DecodeError, Error};
use crate::ids::{AccountId, ServerId, ID_LEN};
use crate::keys::{EncryptionPublic, EncryptionSecret, SigningKey, VerifyingKey, SIGNATURE_LEN};

/// Most servers one directory lists.
pub const MAX_SERVERS: usize = 8;
/// Longest server URL, in bytes of UTF-8 (as in an invite, §7.1).
pub const MAX_URL_LEN: usize = 512;
/// Most recipients (contacts) one sealed directory can have.
pub const MAX_RECIPIENTS: usize = 16;
/// Longest body: 8 servers with URLs of 512 bytes.
pub const MAX_BODY_LEN: usize =
    labels::DIRECTORY_BODY.len() + 2 + ID_LEN + 8 + 8 + 1 + MAX_SERVERS * (ID_LEN + 4 + MAX_URL_LEN);
/// The one size the padded plaintext has: the longest body with its length
/// prefix and signature (4376 bytes) fits, rounded up to 4.5 KiB.
pub const BUCKET: usize = 4608;
/// Largest sealed directory (16 recipients).
pub const MAX_SEALED_LEN: usize = FORMAT.header_len(MAX_RECIPIENTS) + BUCKET + TAG_LEN;

/// The labels and size of a sealed directory: its own header and signature
/// labels, so that neither an alert nor its signature can pass for one.
const FORMAT: Format = Format {
    header: labels::DIRECTORY,
    signature: labels::DIRECTORY_SIGNATURE,
    version: VERSION_2,
    buckets: &[BUCKET],
    max_recipients: MAX_RECIPIENTS,
};

// The bucket must hold the longest body (checked at compile time).
const _: () = assert!(4 + MAX_BODY_LEN + SIGNATURE_LEN <= BUCKET);

/// Every server of a member, for its contacts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerDirectory {
    /// The member's account (the same on each of its servers).
    pub account: AccountId,
    /// Increases with each directory the member makes; contacts keep the highest.
    pub sequence: u64,
    /// When the member sealed it (unix seconds).
    pub created: u64,
    /// Each server's id and base URL, 1 to [`MAX_SERVERS`], no id twice.
    pub servers: Vec<(ServerId, String)>,
}

impl ServerDirectory {
    fn check_servers(servers: &[(ServerId, String)]) -> bool {
        (1..=MAX_SERVERS).contains(&servers.len())
            && servers.iter().all(|(_, url)| (1..=MAX_URL_LEN).contains(&url.len()))
            && servers.iter().enumerate().all(|(i, (id, _))| servers[..i].iter().all(|(other, _)| other != id))
    }

    fn encode(&self) -> Result<Vec<u8>, Error> {
        if !Self::check_servers(&self.servers) {
            return Err(Error::InvalidArgument("1 to 8 servers, distinct ids, URLs of 1 to 512 bytes"));
        }
        let mut w = Writer::v2(labels::DIRECTORY_BODY)
            .fixed(self.account.as_bytes())
            .u64(self.sequence)
            .u64(self.created)
            .fixed(&[self.servers.len() as u8]);
        for (id, url) in &self.servers {
            w = w.fixed(id.as_bytes()).var(url.as_bytes());
        }
        Ok(w.finish())
    }

    fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::v2(bytes, labels::DIRECTORY_BODY)?;
        let account = AccountId::from_bytes(r.fixed()?);
        let sequence = r.u64()?;
        let created = r.u64()?;
        let [count] = r.fixed::<1>()?;
        if !(1..=MAX_SERVERS).contains(&usize::from(count)) {
            return Err(DecodeError::InvalidValue);
        }
        let mut servers = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let id = ServerId::from_bytes(r.fixed()?);
            let url = std::str::from_utf8(r.var(MAX_URL_LEN)?).map_err(|_| DecodeError::BadText)?;
            servers.push((id, url.to_owned()));
        }
        r.finish()?;
        // One encoding per value: an empty URL or an id twice is never written.
        if !Self::check_servers(&servers) {
            return Err(DecodeError::InvalidValue);
        }
        Ok(ServerDirectory { account, sequence, created, servers })
    }
}

/// Seals `dir` to every recipient (1 to [`MAX_RECIPIENTS`] contacts'
/// `CX_pk`), signed by the member `identity`.
pub fn seal(dir: &ServerDirectory, identity: &SigningKey, recipients: &[EncryptionPublic]) -> Result<Vec<u8>, Error> {
    seal_with(dir, identity, recipients, &mut crate::random::fill_random)
}

/// Sealing with an explicit entropy source, so known-answer tests can pin the bytes.
pub(crate) fn seal_with(
    dir: &ServerDirectory,
    identity: &SigningKey,
    recipients: &[EncryptionPublic],
    entropy: &mut dyn FnMut(&mut [u8]) -> Result<(), Error>,
) -> Result<Vec<u8>, Error> {
    envelope::seal_with(&FORMAT, &dir.encode()?, identity, recipients, entropy)
}

/// Opens a sealed directory with a contact's encryption key and checks the
/// member's signature. Any decryption or decoding problem is
/// [`Error::DecryptionFailed`]; a body that decrypts but is not signed by
/// `member` is [`Error::BadSignature`] (a forgery).
pub fn open(sealed: &[u8], recipient: &EncryptionSecret, member: &VerifyingKey) -> Result<ServerDirectory, Error> {
    let body = envelope::open(&FORMAT, sealed, recipient, member)?;
    ServerDirectory::decode(&body).map_err(|_| Error::DecryptionFailed)
}

/// Checks that `sealed` is structurally a sealed directory: all a server,
/// which cannot open it, can check.
pub fn validate_sealed(sealed: &[u8]) -> Result<(), DecodeError> {
    envelope::parse(&FORMAT, sealed).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn member() -> SigningKey {
        SigningKey::from_seed(Zeroizing::new([1; 32])).unwrap()
    }

    fn contact(n: u8) -> EncryptionSecret {
        EncryptionSecret::from_bytes(Zeroizing::new([n; 32]))
    }

    fn directory() -> ServerDirectory {
        ServerDirectory {
            account: AccountId::from_bytes([0x11; 16]),
            sequence: 2,
            created: 1_800_000_000,
            servers: vec![
                (ServerId::from_bytes([0xa1; 16]), "https://aman.example.org".into()),
                (ServerId::from_bytes([0xa2; 16]), "http://amanxyz.onion".into()),
            ],
        }
    }

    #[test]
    fn round_trip_for_every_recipient() {
        let recipients = [contact(2), contact(3), contact(4)];
        let publics: Vec<_> = recipients.iter().map(EncryptionSecret::public).collect();
        let sealed = seal(&directory(), &member(), &publics).unwrap();
        validate_sealed(&sealed).unwrap();
        for r in &recipients {
            assert_eq!(open(&sealed, r, &member().verifying_key()).unwrap(), directory());
        }
        assert_eq!(sealed.len(), FORMAT.header_len(3) + BUCKET + TAG_LEN);
    }

    #[test]
    fn wrong_recipient_and_wrong_member_key() {
        let sealed = seal(&directory(), &member(), &[contact(2).public()]).unwrap();
        assert_eq!(open(&sealed, &contact(9), &member().verifying_key()).unwrap_err(), Error::DecryptionFailed);
        let other = SigningKey::from_seed(Zeroizing::new([7; 32])).unwrap();
        assert_eq!(open(&sealed, &contact(2), &other.verifying_key()).unwrap_err(), Error::BadSignature);
    }

    #[test]
    fn every_flipped_byte_is_refused() {
        let sealed = seal(&directory(), &member(), &[contact(2).public()]).unwrap();
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert!(open(&tampered, &contact(2), &member().verifying_key()).is_err(), "byte {i}");
        }
        assert!(open(&sealed[..sealed.len() - 1], &contact(2), &member().verifying_key()).is_err());
        let mut longer = sealed.clone();
        longer.push(0);
        assert!(validate_sealed(&longer).is_err());
        assert!(open(&longer, &contact(2), &member().verifying_key()).is_err());
    }

    #[test]
    fn an_alert_is_not_a_directory() {
        let body = crate::alert::AlertBody {
            account: AccountId::from_bytes([0x11; 16]),
            sequence: 1,
            created: 1,
            note: "n".into(),
            location: String::new(),
            contacts: Vec::new(),
            plan: String::new(),
        };
        let alert = crate::alert::seal(&body, &member(), &[contact(2).public()]).unwrap();
        assert_eq!(validate_sealed(&alert), Err(DecodeError::WrongLabel));
        assert_eq!(open(&alert, &contact(2), &member().verifying_key()).unwrap_err(), Error::DecryptionFailed);
    }

    #[test]
    fn the_length_says_only_the_recipient_count() {
        let mut largest = directory();
        largest.servers =
            (0..MAX_SERVERS as u8).map(|i| (ServerId::from_bytes([i; 16]), "u".repeat(MAX_URL_LEN))).collect();
        let small = seal(&directory(), &member(), &[contact(2).public()]).unwrap();
        let large = seal(&largest, &member(), &[contact(2).public()]).unwrap();
        assert_eq!(small.len(), large.len());
        assert_eq!(open(&large, &contact(2), &member().verifying_key()).unwrap(), largest);
        assert_eq!(MAX_BODY_LEN, 4308, "PROTOCOL.md §6.1 names this size");
        let publics: Vec<_> = (0..MAX_RECIPIENTS as u8).map(|i| contact(i + 10).public()).collect();
        assert_eq!(seal(&largest, &member(), &publics).unwrap().len(), MAX_SEALED_LEN);
        assert_eq!(MAX_SEALED_LEN, 5962, "PROTOCOL.md §6.1 names this size");
        assert!(seal(&largest, &member(), &[]).is_err());
        let many: Vec<_> = (0..=MAX_RECIPIENTS as u8).map(|i| contact(i + 10).public()).collect();
        assert!(seal(&largest, &member(), &many).is_err());
    }

    #[test]
    fn bounds_are_refused_when_sealing_and_when_read() {
        let mut none = directory();
        none.servers.clear();
        let mut nine = directory();
        nine.servers = (0..=MAX_SERVERS as u8).map(|i| (ServerId::from_bytes([i; 16]), "u".into())).collect();
        let mut twice = directory();
        twice.servers[1].0 = twice.servers[0].0;
        let mut empty_url = directory();
        empty_url.servers[0].1.clear();
        let mut long_url = directory();
        long_url.servers[0].1 = "u".repeat(MAX_URL_LEN + 1);
        for bad in [&none, &nine, &twice, &empty_url, &long_url] {
            assert!(bad.encode().is_err(), "{bad:?}");
        }

        let good = directory().encode().unwrap();
        assert_eq!(ServerDirectory::decode(&good).unwrap(), directory());
        // Offsets in the body: label (17) + 2, account, sequence, created, then the count.
        let count_at = labels::DIRECTORY_BODY.len() + 2 + 16 + 8 + 8;
        let first_id = count_at + 1;
        let second_id = first_id + 16 + 4 + "https://aman.example.org".len();
        let mut zero = good.clone();
        zero[count_at] = 0;
        assert!(ServerDirectory::decode(&zero).is_err());
        let mut dup = good.clone();
        dup.copy_within(first_id..first_id + 16, second_id);
        assert_eq!(ServerDirectory::decode(&dup), Err(DecodeError::InvalidValue));
        let mut bad_text = good.clone();
        bad_text[first_id + 16 + 4] = 0xff;
        assert_eq!(ServerDirectory::decode(&bad_text), Err(DecodeError::BadText));
        let mut trailing = good.clone();
        trailing.push(0);
        assert_eq!(ServerDirectory::decode(&trailing), Err(DecodeError::TrailingBytes));
        let mut v1 = good;
        v1[labels::DIRECTORY_BODY.len() + 1] = 1;
        assert_eq!(ServerDirectory::decode(&v1), Err(DecodeError::UnknownVersion(1)));
    }

    #[test]
    fn a_signed_but_malformed_body_does_not_open() {
        // Signed by the member, but with a body no encoder writes: refused as
        // undecryptable, never handed out half-checked.
        let mut body = directory().encode().unwrap();
        body.push(0);
        let sealed =
            envelope::seal_with(&FORMAT, &body, &member(), &[contact(2).public()], &mut crate::random::fill_random)
                .unwrap();
        assert_eq!(open(&sealed, &contact(2), &member().verifying_key()).unwrap_err(), Error::DecryptionFailed);
    }
}
