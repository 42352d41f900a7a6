//! Pairing a trusted contact.
//!
//! The member's client makes an invite code, `aman1:` followed by lowercase
//! unpadded base32 of a canonical encoding of the invite id, the invite
//! secret, the member identity key and the server URL. The code travels out of
//! band (in person, or a channel the member trusts). The server learns the
//! invite id only.
//!
//! The contact answers with an enrollment reply — its identity key, its
//! encryption key and its mailbox id, signed by its identity key — encrypted
//! and authenticated under a key derived from the invite secret, and posts it
//! to the server's pairing relay. A server that does not know the secret can
//! neither read nor substitute the contact's keys.

use crate::encoding::{labels, Reader, Writer};
use crate::error::{DecodeError, Error};
use crate::hash::hkdf_sha256;
use crate::ids::{InviteId, MailboxId};
use crate::keys::{split_signature, EncryptionPublic, SigningKey, VerifyingKey};
use crate::random::random_array;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use data_encoding::BASE32_NOPAD;
use zeroize::Zeroizing;

/// Prefix of every invite code's text form.
pub const INVITE_PREFIX: &str = "aman1:";
/// Longest server URL an invite may carry.
pub const MAX_URL_LEN: usize = 512;
/// Length of an encrypted enrollment reply.
pub const ENROLLMENT_LEN: usize = 24 + ENROLL_PLAINTEXT_LEN + 16;
const ENROLL_PLAINTEXT_LEN: usize = labels::ENROLL.len() + 2 + 16 + 32 + 32 + 16 + 64;

/// A pairing invite. Holds the invite secret: no `Debug`, `Clone` or `Serialize`.
pub struct InviteCode {
    /// The id the server relays the reply under.
    pub id: InviteId,
    secret: Zeroizing<[u8; 32]>,
    /// The member identity `ID` the contact will trust.
    pub member: VerifyingKey,
    /// Where the member's server is (`https://…`, `http://….onion`).
    pub server_url: String,
}

impl InviteCode {
    /// A fresh invite for `member` on `server_url`.
    pub fn generate(member: VerifyingKey, server_url: &str) -> Result<Self, Error> {
        Self::from_parts(InviteId::random()?, Zeroizing::new(random_array()?), member, server_url)
    }

    /// Rebuilds an invite (for a member's keystore, which keeps pending invites).
    pub fn from_parts(
        id: InviteId,
        secret: Zeroizing<[u8; 32]>,
        member: VerifyingKey,
        server_url: &str,
    ) -> Result<Self, Error> {
        if server_url.is_empty() || server_url.len() > MAX_URL_LEN {
            return Err(Error::InvalidArgument("server URL length"));
        }
        Ok(InviteCode { id, secret, member, server_url: server_url.to_owned() })
    }

    /// The invite secret, for the member's keystore.
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(*self.secret)
    }

    /// The text form `aman1:…`.
    pub fn to_text(&self) -> Zeroizing<String> {
        let bytes = Zeroizing::new(
            Writer::new(labels::INVITE)
                .fixed(self.id.as_bytes())
                .fixed(self.secret.as_ref())
                .fixed(self.member.as_bytes())
                .var(self.server_url.as_bytes())
                .finish(),
        );
        let encoded = Zeroizing::new(BASE32_NOPAD.encode(&bytes));
        Zeroizing::new(format!("{INVITE_PREFIX}{}", encoded.to_ascii_lowercase()))
    }

    /// Parses the text form. Case-insensitive; surrounding whitespace ignored.
    pub fn parse(text: &str) -> Result<Self, DecodeError> {
        let text = text.trim();
        let rest = text
            .get(..INVITE_PREFIX.len())
            .filter(|p| p.eq_ignore_ascii_case(INVITE_PREFIX))
            .and_then(|_| text.get(INVITE_PREFIX.len()..))
            .ok_or(DecodeError::BadText)?;
        if rest.len() > 2 * MAX_URL_LEN + 256 {
            return Err(DecodeError::TooLong);
        }
        let upper = Zeroizing::new(rest.to_ascii_uppercase());
        let bytes = Zeroizing::new(BASE32_NOPAD.decode(upper.as_bytes()).map_err(|_| DecodeError::BadText)?);
        let mut r = Reader::new(&bytes, labels::INVITE)?;
        let id = InviteId::from_bytes(r.fixed()?);
        let secret = Zeroizing::new(r.fixed::<32>()?);
        let member = VerifyingKey(r.fixed()?);
        let url = std::str::from_utf8(r.var(MAX_URL_LEN)?).map_err(|_| DecodeError::InvalidValue)?;
        r.finish()?;
        Self::from_parts(id, secret, member, url).map_err(|_| DecodeError::InvalidValue)
    }

    fn pairing_key(&self) -> Zeroizing<[u8; 32]> {
        hkdf_sha256::<32>(self.id.as_bytes(), self.secret.as_ref(), labels::INVITE.as_bytes())
    }

    fn enrollment_aad(&self) -> Vec<u8> {
        Writer::new(labels::ENROLL).fixed(self.id.as_bytes()).finish()
    }
}

/// What a contact tells the member when it accepts an invite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Enrollment {
    /// The contact identity `CID`.
    pub identity: VerifyingKey,
    /// The contact encryption key `CX` alerts are sealed to.
    pub encryption: EncryptionPublic,
    /// The mailbox where alerts for this contact wait.
    pub mailbox: MailboxId,
}

impl Enrollment {
    fn encode_unsigned(&self, invite: &InviteId) -> Vec<u8> {
        Writer::new(labels::ENROLL)
            .fixed(invite.as_bytes())
            .fixed(self.identity.as_bytes())
            .fixed(self.encryption.as_bytes())
            .fixed(self.mailbox.as_bytes())
            .finish()
    }

    /// Signs with the contact identity and encrypts under the invite's pairing key.
    pub fn seal(&self, invite: &InviteCode, contact_identity: &SigningKey) -> Result<Vec<u8>, Error> {
        if contact_identity.verifying_key() != self.identity {
            return Err(Error::InvalidArgument("enrollment signed by another identity"));
        }
        let nonce: [u8; 24] = random_array()?;
        self.seal_with_nonce(invite, contact_identity, nonce)
    }

    pub(crate) fn seal_with_nonce(
        &self,
        invite: &InviteCode,
        contact_identity: &SigningKey,
        nonce: [u8; 24],
    ) -> Result<Vec<u8>, Error> {
        let mut plaintext = self.encode_unsigned(&invite.id);
        let sig = contact_identity.sign(&plaintext);
        plaintext.extend_from_slice(&sig.0);
        let key = invite.pairing_key();
        let ciphertext = XChaCha20Poly1305::new(key.as_ref().into())
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: &plaintext, aad: &invite.enrollment_aad() })
            .map_err(|_| Error::InvalidArgument("enrollment encryption"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        Ok(out)
    }

    /// Decrypts and verifies a reply to `invite`. Any failure is
    /// [`Error::DecryptionFailed`] except a bad contact signature.
    pub fn open(sealed: &[u8], invite: &InviteCode) -> Result<Self, Error> {
        if sealed.len() != ENROLLMENT_LEN {
            return Err(Error::DecryptionFailed);
        }
        let (nonce, ciphertext) = sealed.split_at(24);
        let key = invite.pairing_key();
        let plaintext = XChaCha20Poly1305::new(key.as_ref().into())
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: &invite.enrollment_aad() })
            .map_err(|_| Error::DecryptionFailed)?;
        let (body, sig) = split_signature(&plaintext).map_err(|_| Error::DecryptionFailed)?;
        let mut r = Reader::new(body, labels::ENROLL).map_err(|_| Error::DecryptionFailed)?;
        let invite_id = InviteId::from_bytes(r.fixed().map_err(|_| Error::DecryptionFailed)?);
        let enrollment = Enrollment {
            identity: VerifyingKey(r.fixed().map_err(|_| Error::DecryptionFailed)?),
            encryption: EncryptionPublic(r.fixed().map_err(|_| Error::DecryptionFailed)?),
            mailbox: MailboxId::from_bytes(r.fixed().map_err(|_| Error::DecryptionFailed)?),
        };
        r.finish().map_err(|_| Error::DecryptionFailed)?;
        if invite_id != invite.id {
            return Err(Error::DecryptionFailed);
        }
        enrollment.identity.verify(body, &sig)?;
        Ok(enrollment)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::EncryptionSecret;

    #[test]
    fn invite_text_round_trip_and_enrollment() {
        let member = SigningKey::generate().unwrap();
        let invite = InviteCode::generate(member.verifying_key(), "http://127.0.0.1:8700").unwrap();
        let text = invite.to_text();
        assert!(text.starts_with("aman1:"));
        let parsed = InviteCode::parse(&text.to_ascii_uppercase().replacen("AMAN1:", "aman1:", 1)).unwrap();
        assert_eq!(parsed.id, invite.id);
        assert_eq!(parsed.member, invite.member);
        assert_eq!(parsed.server_url, invite.server_url);
        assert_eq!(*parsed.secret_bytes(), *invite.secret_bytes());

        let cid = SigningKey::generate().unwrap();
        let cx = EncryptionSecret::generate().unwrap();
        let e = Enrollment {
            identity: cid.verifying_key(),
            encryption: cx.public(),
            mailbox: MailboxId::random().unwrap(),
        };
        let sealed = e.seal(&parsed, &cid).unwrap();
        assert_eq!(sealed.len(), ENROLLMENT_LEN);
        assert_eq!(Enrollment::open(&sealed, &invite).unwrap(), e);
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x80;
            assert!(Enrollment::open(&t, &invite).is_err(), "flip at {i}");
        }
        let other = InviteCode::generate(member.verifying_key(), "http://127.0.0.1:8700").unwrap();
        assert_eq!(Enrollment::open(&sealed, &other).unwrap_err(), Error::DecryptionFailed);
    }

    #[test]
    fn malformed_codes_are_rejected() {
        for bad in ["", "aman1:", "aman2:aaaa", "aman1:!!!!", "aman1:aaaaaaaa"] {
            assert!(InviteCode::parse(bad).is_err(), "{bad}");
        }
    }
}
