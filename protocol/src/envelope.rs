//! Sealing a signed body to contacts' X25519 keys, in the manner of age:
//! the construction of sealed alerts (PROTOCOL.md §6), shared with sealed
//! server directories. A [`Format`] names the labels (so a header of one
//! format never opens as the other: the header is the payload's AAD) and the
//! padding buckets.
//!
//! ```text
//! sealed = header || ciphertext
//! header = label 0x00 version || nonce[24] || u64 count || count × (ephemeral_pk[32] || wrapped_key[48])
//! P      = u32 len || body || Ed25519(ID, sig_label 0x00 version || SHA-256(header) || u32 len || body) || zeros
//! ```

use crate::encoding::{labels, Reader, Writer};
use crate::error::{DecodeError, Error};
use crate::hash::{hkdf_sha256, sha256};
use crate::keys::{split_signature, EncryptionPublic, EncryptionSecret, SigningKey, VerifyingKey, SIGNATURE_LEN};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

pub(crate) const NONCE_LEN: usize = 24;
pub(crate) const TAG_LEN: usize = 16;
const WRAPPED_LEN: usize = 32 + TAG_LEN;
/// One recipient's stanza: ephemeral key and wrapped payload key.
pub(crate) const STANZA_LEN: usize = 32 + WRAPPED_LEN;

/// The labels and sizes of one sealed format.
#[derive(Debug)]
pub(crate) struct Format {
    /// The header's label (the header is the payload's AAD).
    pub header: &'static str,
    /// What the member's signature is over.
    pub signature: &'static str,
    /// The version byte of both.
    pub version: u8,
    /// Sizes the padded plaintext may have, ascending.
    pub buckets: &'static [usize],
    /// Most recipients.
    pub max_recipients: usize,
}

impl Format {
    /// The header's length with `count` stanzas.
    pub(crate) const fn header_len(&self, count: usize) -> usize {
        self.header.len() + 2 + NONCE_LEN + 8 + count * STANZA_LEN
    }
}

fn signature_message(format: &Format, header: &[u8], body: &[u8]) -> Vec<u8> {
    Writer::versioned(format.signature, format.version).fixed(&sha256(header)).var(body).finish()
}

fn wrap_key(shared: &[u8; 32], ephemeral: &EncryptionPublic, recipient: &EncryptionPublic) -> Zeroizing<[u8; 32]> {
    let mut salt = [0u8; 64];
    salt[..32].copy_from_slice(ephemeral.as_bytes());
    salt[32..].copy_from_slice(recipient.as_bytes());
    hkdf_sha256::<32>(&salt, shared, labels::X25519_WRAP.as_bytes())
}

/// A parsed (not yet opened) sealed message.
pub(crate) struct Parsed<'a> {
    header: &'a [u8],
    nonce: [u8; NONCE_LEN],
    stanzas: Vec<([u8; 32], [u8; WRAPPED_LEN])>,
    ciphertext: &'a [u8],
}

/// Parses strictly: the label, 1 to `max_recipients` stanzas, and a
/// ciphertext of exactly a bucket plus the tag.
pub(crate) fn parse<'a>(format: &Format, sealed: &'a [u8]) -> Result<Parsed<'a>, DecodeError> {
    let mut r = Reader::versioned(sealed, format.header, format.version)?;
    let nonce = r.fixed()?;
    let count = r.u64()?;
    if count == 0 || count > format.max_recipients as u64 {
        return Err(DecodeError::InvalidValue);
    }
    let mut stanzas = Vec::with_capacity(count as usize);
    for _ in 0..count {
        stanzas.push((r.fixed()?, r.fixed()?));
    }
    let ciphertext = r.rest();
    if !format.buckets.iter().any(|b| b + TAG_LEN == ciphertext.len()) {
        return Err(DecodeError::InvalidValue);
    }
    let header = &sealed[..format.header_len(stanzas.len())];
    Ok(Parsed { header, nonce, stanzas, ciphertext })
}

/// Seals `body` to every recipient, signed by `identity`, drawing its
/// randomness from `entropy` (fixed in known-answer tests).
pub(crate) fn seal_with(
    format: &Format,
    body: &[u8],
    identity: &SigningKey,
    recipients: &[EncryptionPublic],
    entropy: &mut dyn FnMut(&mut [u8]) -> Result<(), Error>,
) -> Result<Vec<u8>, Error> {
    if recipients.is_empty() || recipients.len() > format.max_recipients {
        return Err(Error::InvalidArgument("too few or too many recipients"));
    }
    let mut payload_key = Zeroizing::new([0u8; 32]);
    entropy(payload_key.as_mut())?;
    let mut nonce = [0u8; NONCE_LEN];
    entropy(&mut nonce)?;

    let mut header = Writer::versioned(format.header, format.version).fixed(&nonce).u64(recipients.len() as u64);
    for recipient in recipients {
        let mut eph_bytes = Zeroizing::new([0u8; 32]);
        entropy(eph_bytes.as_mut())?;
        let ephemeral = EncryptionSecret::from_bytes(eph_bytes);
        let shared = ephemeral.diffie_hellman(recipient)?;
        let key = wrap_key(&shared, &ephemeral.public(), recipient);
        // Each wrap key is used exactly once (fresh ephemeral), so a zero nonce is safe, as in age.
        let wrapped = XChaCha20Poly1305::new(key.as_ref().into())
            .encrypt(&XNonce::default(), Payload { msg: payload_key.as_ref(), aad: labels::X25519_WRAP.as_bytes() })
            .map_err(|_| Error::InvalidArgument("key wrap"))?;
        header = header.fixed(ephemeral.public().as_bytes()).fixed(&wrapped);
    }
    let header = header.finish();

    let signature = identity.sign(&signature_message(format, &header, body));
    let content_len = 4 + body.len() + SIGNATURE_LEN;
    let bucket =
        format.buckets.iter().copied().find(|b| *b >= content_len).ok_or(Error::InvalidArgument("body too large"))?;
    let mut plaintext = Zeroizing::new(Vec::with_capacity(bucket));
    plaintext.extend_from_slice(&(body.len() as u32).to_be_bytes());
    plaintext.extend_from_slice(body);
    plaintext.extend_from_slice(&signature.0);
    plaintext.resize(bucket, 0);

    let ciphertext = XChaCha20Poly1305::new(payload_key.as_ref().into())
        .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext.as_slice(), aad: &header })
        .map_err(|_| Error::InvalidArgument("payload encryption"))?;
    let mut sealed = header;
    sealed.extend_from_slice(&ciphertext);
    Ok(sealed)
}

/// Opens a sealed message with a contact's encryption key and checks the
/// member's signature, returning the signed body. Every stanza is tried,
/// whether or not an earlier one matched. Any decryption problem is
/// [`Error::DecryptionFailed`]; a body that decrypts but is not signed by
/// `member` is [`Error::BadSignature`]. The caller decodes the body, and
/// reports a body that does not decode as a decryption failure too.
pub(crate) fn open(
    format: &Format,
    sealed: &[u8],
    recipient: &EncryptionSecret,
    member: &VerifyingKey,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let parsed = parse(format, sealed).map_err(|_| Error::DecryptionFailed)?;
    let mut payload_key: Option<Zeroizing<[u8; 32]>> = None;
    for (eph, wrapped) in &parsed.stanzas {
        let ephemeral = EncryptionPublic(*eph);
        let Ok(shared) = recipient.diffie_hellman(&ephemeral) else {
            continue;
        };
        let key = wrap_key(&shared, &ephemeral, &recipient.public());
        let unwrapped = XChaCha20Poly1305::new(key.as_ref().into())
            .decrypt(&XNonce::default(), Payload { msg: wrapped, aad: labels::X25519_WRAP.as_bytes() });
        if let Ok(k) = unwrapped {
            let k = Zeroizing::new(k);
            if payload_key.is_none() && k.len() == 32 {
                let mut arr = Zeroizing::new([0u8; 32]);
                arr.copy_from_slice(&k);
                payload_key = Some(arr);
            }
        }
    }
    let payload_key = payload_key.ok_or(Error::DecryptionFailed)?;
    let plaintext = Zeroizing::new(
        XChaCha20Poly1305::new(payload_key.as_ref().into())
            .decrypt(XNonce::from_slice(&parsed.nonce), Payload { msg: parsed.ciphertext, aad: parsed.header })
            .map_err(|_| Error::DecryptionFailed)?,
    );
    let (len_bytes, rest) = plaintext.split_at_checked(4).ok_or(Error::DecryptionFailed)?;
    let mut len = [0u8; 4];
    len.copy_from_slice(len_bytes);
    let body_len = u32::from_be_bytes(len) as usize;
    let signed_len = body_len.checked_add(SIGNATURE_LEN).ok_or(Error::DecryptionFailed)?;
    let (signed, padding) = rest.split_at_checked(signed_len).ok_or(Error::DecryptionFailed)?;
    if padding.iter().any(|b| *b != 0) {
        return Err(Error::DecryptionFailed);
    }
    let (body, signature) = split_signature(signed).map_err(|_| Error::DecryptionFailed)?;
    member.verify(&signature_message(format, parsed.header, body), &signature)?;
    Ok(Zeroizing::new(body.to_vec()))
}
