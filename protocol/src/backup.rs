//! The encrypted backup stream of a server's database.
//!
//! A backup is a header followed by frames. Each frame seals up to
//! [`CHUNK_MAX`] bytes of the record stream with XChaCha20-Poly1305 under
//! `HKDF-SHA256(server key, info = "aman/v1/backup")`, in the STREAM
//! construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015): the nonce is the
//! header's random 15-byte prefix, the frame's 8-byte big-endian index and a
//! last-frame flag, and every frame's AAD is the whole header. So a frame
//! cannot be reordered, dropped, repeated, moved to another backup or made
//! the last one, and a backup cut short has no last frame.
//!
//! ```text
//! header  = "AMANBAK" 0x01 | version u8 (1) | store format u8 | created u64
//!         | server id [16] | nonce prefix [15]                     (49 bytes)
//! frame   = flag u8 (0 more, 1 last) | length u32 | ciphertext[length]
//! ```
//!
//! The header is in clear: it says which server made the backup (its id is
//! public: invite codes carry it), when, and in which storage format, so a
//! restore can refuse the wrong key before decrypting anything. Everything
//! stored is inside the frames. This module does no I/O: the server reads and
//! writes the bytes.

use crate::at_rest::ServerKey;
use crate::error::{DecodeError, Error};
use crate::ids::ServerId;
use crate::random::random_array;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroizing;

/// The first eight bytes of every backup.
pub const MAGIC: [u8; 8] = *b"AMANBAK\x01";
/// The version of this layout.
pub const VERSION: u8 = 1;
/// Bytes in a header.
pub const HEADER_LEN: usize = 8 + 1 + 1 + 8 + 16 + 15;
/// Bytes of a frame before its ciphertext.
pub const FRAME_HEAD: usize = 1 + 4;
/// Most plaintext bytes one frame carries.
pub const CHUNK_MAX: usize = 64 * 1024;
/// The tag each frame adds.
pub const TAG_LEN: usize = 16;
pub use crate::encoding::labels::BACKUP as KEY_LABEL;

/// What a backup's header says, in clear.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The storage format of the records inside.
    pub format: u8,
    /// When the backup was taken (unix seconds).
    pub created: u64,
    /// The server whose key seals it.
    pub server: ServerId,
    /// The nonce prefix of its frames.
    pub prefix: [u8; 15],
}

impl Header {
    /// A header with a fresh nonce prefix.
    pub fn new(format: u8, created: u64, server: ServerId) -> Result<Self, Error> {
        Ok(Header { format, created, server, prefix: random_array()? })
    }

    /// The header's bytes.
    pub fn encode(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[..8].copy_from_slice(&MAGIC);
        out[8] = VERSION;
        out[9] = self.format;
        out[10..18].copy_from_slice(&self.created.to_be_bytes());
        out[18..34].copy_from_slice(self.server.as_bytes());
        out[34..].copy_from_slice(&self.prefix);
        out
    }

    /// Parses a header; [`DecodeError::WrongLabel`] when the bytes are not a
    /// backup at all, [`DecodeError::UnknownVersion`] for a newer layout.
    pub fn decode(bytes: &[u8; HEADER_LEN]) -> Result<Self, DecodeError> {
        if bytes[..8] != MAGIC {
            return Err(DecodeError::WrongLabel);
        }
        if bytes[8] != VERSION {
            return Err(DecodeError::UnknownVersion(bytes[8]));
        }
        let mut created = [0u8; 8];
        created.copy_from_slice(&bytes[10..18]);
        let mut server = [0u8; 16];
        server.copy_from_slice(&bytes[18..34]);
        let mut prefix = [0u8; 15];
        prefix.copy_from_slice(&bytes[34..]);
        Ok(Header {
            format: bytes[9],
            created: u64::from_be_bytes(created),
            server: ServerId::from_bytes(server),
            prefix,
        })
    }
}

fn nonce(prefix: &[u8; 15], index: u64, last: bool) -> [u8; 24] {
    let mut n = [0u8; 24];
    n[..15].copy_from_slice(prefix);
    n[15..23].copy_from_slice(&index.to_be_bytes());
    n[23] = u8::from(last);
    n
}

fn cipher(key: &ServerKey) -> XChaCha20Poly1305 {
    let subkey = key.subkey(KEY_LABEL);
    XChaCha20Poly1305::new(subkey.as_ref().into())
}

/// Seals a backup's frames in order. No `Debug`: it holds a key.
pub struct Sealer {
    cipher: XChaCha20Poly1305,
    header: [u8; HEADER_LEN],
    prefix: [u8; 15],
    index: u64,
    finished: bool,
}

impl Sealer {
    /// A sealer for the backup that `header` starts.
    pub fn new(key: &ServerKey, header: &Header) -> Self {
        Sealer { cipher: cipher(key), header: header.encode(), prefix: header.prefix, index: 0, finished: false }
    }

    /// One frame of at most [`CHUNK_MAX`] plaintext bytes; `last` for the
    /// final one, after which nothing more can be sealed.
    pub fn frame(&mut self, plaintext: &[u8], last: bool) -> Result<Vec<u8>, Error> {
        if self.finished {
            return Err(Error::InvalidArgument("backup frame after the last one"));
        }
        if plaintext.len() > CHUNK_MAX {
            return Err(Error::InvalidArgument("backup frame too long"));
        }
        let n = nonce(&self.prefix, self.index, last);
        let ct = self
            .cipher
            .encrypt(XNonce::from_slice(&n), Payload { msg: plaintext, aad: &self.header })
            .map_err(|_| Error::InvalidArgument("backup encryption"))?;
        let len = u32::try_from(ct.len()).map_err(|_| Error::InvalidArgument("backup frame too long"))?;
        let mut out = Vec::with_capacity(FRAME_HEAD + ct.len());
        out.push(u8::from(last));
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&ct);
        self.index += 1;
        self.finished = last;
        Ok(out)
    }
}

/// A frame's head: whether it is the last, and its ciphertext length.
/// [`DecodeError`] for a flag other than 0 or 1 or a length no sealer makes.
pub fn frame_head(bytes: &[u8; FRAME_HEAD]) -> Result<(bool, usize), DecodeError> {
    let last = match bytes[0] {
        0 => false,
        1 => true,
        _ => return Err(DecodeError::InvalidValue),
    };
    let len = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
    if !(TAG_LEN..=CHUNK_MAX + TAG_LEN).contains(&len) {
        return Err(DecodeError::InvalidValue);
    }
    Ok((last, len))
}

/// Opens a backup's frames in order. No `Debug`: it holds a key.
pub struct Opener {
    cipher: XChaCha20Poly1305,
    header: [u8; HEADER_LEN],
    prefix: [u8; 15],
    index: u64,
    finished: bool,
}

impl Opener {
    /// An opener for the backup that `header` starts, with the key of the
    /// server it names.
    pub fn new(key: &ServerKey, header: &Header) -> Self {
        Opener { cipher: cipher(key), header: header.encode(), prefix: header.prefix, index: 0, finished: false }
    }

    /// The next frame's plaintext. [`Error::DecryptionFailed`] when the
    /// frame was changed, is out of place, or the key is not the one that
    /// sealed it.
    pub fn frame(&mut self, last: bool, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
        if self.finished {
            return Err(Error::DecryptionFailed);
        }
        let n = nonce(&self.prefix, self.index, last);
        let plain = self
            .cipher
            .decrypt(XNonce::from_slice(&n), Payload { msg: ciphertext, aad: &self.header })
            .map_err(|_| Error::DecryptionFailed)?;
        self.index += 1;
        self.finished = last;
        Ok(Zeroizing::new(plain))
    }

    /// Whether the last frame has been opened: a backup without one was cut short.
    pub fn finished(&self) -> bool {
        self.finished
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> ServerKey {
        ServerKey::from_bytes(Zeroizing::new([byte; 32]))
    }

    fn header() -> Header {
        Header { format: 2, created: 1_800_000_000, server: ServerId::from_bytes([9; 16]), prefix: [3; 15] }
    }

    fn split(frame: &[u8]) -> (bool, &[u8]) {
        let head: [u8; FRAME_HEAD] = frame[..FRAME_HEAD].try_into().unwrap();
        let (last, len) = frame_head(&head).unwrap();
        assert_eq!(len, frame.len() - FRAME_HEAD);
        (last, &frame[FRAME_HEAD..])
    }

    #[test]
    fn header_round_trips_and_refuses_other_bytes() {
        let h = header();
        let bytes = h.encode();
        assert_eq!(Header::decode(&bytes).unwrap(), h);
        let mut other = bytes;
        other[0] = b'X';
        assert_eq!(Header::decode(&other).unwrap_err(), DecodeError::WrongLabel);
        let mut newer = bytes;
        newer[8] = 2;
        assert_eq!(Header::decode(&newer).unwrap_err(), DecodeError::UnknownVersion(2));
    }

    #[test]
    fn frames_open_in_order_and_only_in_order() {
        let k = key(1);
        let h = header();
        let mut s = Sealer::new(&k, &h);
        let a = s.frame(b"first", false).unwrap();
        let b = s.frame(b"second", false).unwrap();
        let c = s.frame(b"", true).unwrap();
        assert!(s.frame(b"more", true).is_err(), "nothing after the last frame");

        let mut o = Opener::new(&k, &h);
        for (frame, want) in [(&a, &b"first"[..]), (&b, b"second"), (&c, b"")] {
            let (last, ct) = split(frame);
            assert_eq!(o.frame(last, ct).unwrap().as_slice(), want);
        }
        assert!(o.finished());

        // Swapped, skipped or repeated frames, a flipped last flag, a
        // changed byte, another header or another key: all refused.
        let (_, ct_b) = split(&b);
        assert!(Opener::new(&k, &h).frame(false, ct_b).is_err(), "out of order");
        let (_, ct_a) = split(&a);
        assert!(Opener::new(&k, &h).frame(true, ct_a).is_err(), "made the last");
        let mut o = Opener::new(&k, &h);
        o.frame(false, ct_a).unwrap();
        assert!(o.frame(false, ct_a).is_err(), "repeated");
        let mut bad = ct_a.to_vec();
        bad[0] ^= 1;
        assert!(Opener::new(&k, &h).frame(false, &bad).is_err(), "changed");
        let other = Header { created: h.created + 1, ..h };
        assert!(Opener::new(&k, &other).frame(false, ct_a).is_err(), "other header");
        assert!(Opener::new(&key(2), &h).frame(false, ct_a).is_err(), "other key");
    }

    #[test]
    fn frame_heads_are_bounded() {
        assert!(frame_head(&[2, 0, 0, 0, 16]).is_err());
        assert!(frame_head(&[0, 0, 0, 0, 15]).is_err());
        assert!(frame_head(&[0, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert_eq!(frame_head(&[1, 0, 0, 0, 16]).unwrap(), (true, 16));
        let mut s = Sealer::new(&key(1), &header());
        assert!(s.frame(&vec![0; CHUNK_MAX + 1], false).is_err());
        let big = s.frame(&vec![0; CHUNK_MAX], false).unwrap();
        assert_eq!(big.len(), FRAME_HEAD + CHUNK_MAX + TAG_LEN);
    }
}
