//! The keystore file.
//!
//! ```text
//! file  = "aman/v1/keystore" 0x00 0x01 || u64 m_cost_kib || u64 t_cost || u64 p_cost
//!         || slot || slot || u32 len || state_box
//! slot  = salt[16] || secretbox(Argon2id(passphrase, salt), header,
//!                               data_key[32] || checkin_seed[32] || next_seed[32] || u64 next_at)
//! state_box = secretbox(data_key, header, state padded to a multiple of 4096)
//! ```
//!
//! Two slots, identically formatted, in random order: one opens with the
//! normal passphrase and holds the normal check-in key, the other opens with
//! the duress passphrase and holds the duress check-in key. Everything else
//! (identity keys, contacts, labels, server URL) is in the state box under a
//! data key both slots share. Unlocking always derives both Argon2id keys and
//! tries both slots, so timing does not say which passphrase matched, and the
//! program that unlocked does not know either: it signs with the key it got.

use crate::error::ClientError;
use crate::t;
use aman_protocol::encoding::{Reader, Writer};
use aman_protocol::random::{fill_random, random_array};
use aman_protocol::secretbox;
use aman_protocol::SigningKey;
use argon2::{Algorithm, Argon2, Params, Version};
use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use zeroize::Zeroizing;

const LABEL: &str = "aman/v1/keystore";
const SLOT_PLAIN: usize = 32 + 32 + 32 + 8;
const SLOT_LEN: usize = 16 + secretbox::OVERHEAD + SLOT_PLAIN;
const STATE_PAD: usize = 4096;
const MAX_STATE: usize = 16 * 1024 * 1024;

/// Argon2id cost parameters, stored in the file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub m_cost_kib: u32,
    /// Iterations.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl KdfParams {
    /// The default: 64 MiB, 3 passes, 1 lane. Tests may set
    /// `AMAN_INSECURE_TEST_KDF=1` for 1 MiB / 1 pass; never do that for real use.
    pub fn default_for_new() -> Self {
        if std::env::var_os("AMAN_INSECURE_TEST_KDF").is_some() {
            KdfParams { m_cost_kib: 1024, t_cost: 1, p_cost: 1 }
        } else {
            KdfParams { m_cost_kib: 64 * 1024, t_cost: 3, p_cost: 1 }
        }
    }

    fn header(&self) -> Vec<u8> {
        Writer::new(LABEL)
            .u64(u64::from(self.m_cost_kib))
            .u64(u64::from(self.t_cost))
            .u64(u64::from(self.p_cost))
            .finish()
    }

    fn derive(&self, passphrase: &[u8], salt: &[u8; 16]) -> Result<Zeroizing<[u8; 32]>, ClientError> {
        let params = Params::new(self.m_cost_kib, self.t_cost, self.p_cost, Some(32))
            .map_err(|e| ClientError::Keystore(t!("common-keystore-kdf-parameters", error = e.to_string())))?;
        let mut out = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into(passphrase, salt, out.as_mut())
            .map_err(|e| ClientError::Keystore(format!("argon2: {e}")))?;
        Ok(out)
    }
}

/// What one slot holds. No `Debug`, `Clone` or `Serialize`.
pub struct Unlocked {
    /// Encrypts the shared state.
    pub data_key: Zeroizing<[u8; 32]>,
    /// The check-in key of this slot (normal or duress: the holder cannot tell).
    pub checkin_key: SigningKey,
    /// A rotated check-in key and the unix time from which the server accepts it.
    pub next: Option<(SigningKey, u64)>,
    /// The file's KDF parameters and slots, kept to rewrite the file.
    params: KdfParams,
    slots: [[u8; SLOT_LEN]; 2],
}

fn seal_slot(
    params: &KdfParams,
    passphrase: &[u8],
    data_key: &[u8; 32],
    seed: &[u8; 32],
    next: Option<(&[u8; 32], u64)>,
) -> Result<[u8; SLOT_LEN], ClientError> {
    let salt: [u8; 16] = random_array()?;
    let key = params.derive(passphrase, &salt)?;
    let mut plain = Zeroizing::new([0u8; SLOT_PLAIN]);
    plain[..32].copy_from_slice(data_key);
    plain[32..64].copy_from_slice(seed);
    if let Some((next_seed, at)) = next {
        plain[64..96].copy_from_slice(next_seed);
        plain[96..].copy_from_slice(&at.to_be_bytes());
    }
    let sealed = secretbox::seal(&key, &params.header(), plain.as_ref())?;
    let mut slot = [0u8; SLOT_LEN];
    slot[..16].copy_from_slice(&salt);
    slot[16..].copy_from_slice(&sealed);
    Ok(slot)
}

/// Creates the two slots for a new keystore. Returns the normal slot's view.
pub fn create(
    normal_pass: &[u8],
    duress_pass: &[u8],
    normal_seed: &[u8; 32],
    duress_seed: &[u8; 32],
) -> Result<Unlocked, ClientError> {
    if normal_pass == duress_pass {
        return Err(ClientError::State(t!("common-duress-must-differ")));
    }
    let params = KdfParams::default_for_new();
    let data_key = Zeroizing::new(random_array::<32>()?);
    let normal = seal_slot(&params, normal_pass, &data_key, normal_seed, None)?;
    let duress = seal_slot(&params, duress_pass, &data_key, duress_seed, None)?;
    Ok(Unlocked {
        data_key,
        checkin_key: SigningKey::from_seed(Zeroizing::new(*normal_seed))?,
        next: None,
        params,
        slots: shuffled(normal, duress)?,
    })
}

/// The two slots in random order, so the file does not say which is which.
fn shuffled(a: [u8; SLOT_LEN], b: [u8; SLOT_LEN]) -> Result<[[u8; SLOT_LEN]; 2], ClientError> {
    let mut coin = [0u8; 1];
    fill_random(&mut coin)?;
    Ok(if coin[0] & 1 == 0 { [a, b] } else { [b, a] })
}

/// Reads a keystore file and unlocks it, returning the slot and the state plaintext.
pub fn unlock(path: &Path, passphrase: &[u8]) -> Result<(Unlocked, Zeroizing<Vec<u8>>), ClientError> {
    let bytes =
        std::fs::read(path).map_err(ClientError::io(t!("common-io-reading", path = path.display().to_string())))?;
    let corrupt = |_| ClientError::Keystore(t!("common-keystore-damaged"));
    let mut r = Reader::new(&bytes, LABEL).map_err(corrupt)?;
    let to_u32 = |v: u64| u32::try_from(v).map_err(|_| ClientError::Keystore(t!("common-keystore-bad-parameters")));
    let params = KdfParams {
        m_cost_kib: to_u32(r.u64().map_err(corrupt)?)?,
        t_cost: to_u32(r.u64().map_err(corrupt)?)?,
        p_cost: to_u32(r.u64().map_err(corrupt)?)?,
    };
    let slots = [r.fixed::<SLOT_LEN>().map_err(corrupt)?, r.fixed::<SLOT_LEN>().map_err(corrupt)?];
    let state_box = r.var(MAX_STATE).map_err(corrupt)?;
    r.finish().map_err(corrupt)?;

    let header = params.header();
    // Derive and try both, always: which one opened must not show in timing.
    let mut opened: Option<Zeroizing<Vec<u8>>> = None;
    for slot in &slots {
        let mut salt = [0u8; 16];
        salt.copy_from_slice(&slot[..16]);
        let key = params.derive(passphrase, &salt)?;
        if let Ok(plain) = secretbox::open(&key, &header, &slot[16..]) {
            if opened.is_none() && plain.len() == SLOT_PLAIN {
                opened = Some(plain);
            }
        }
    }
    let plain = opened.ok_or(ClientError::WrongPassphrase)?;
    let mut data_key = Zeroizing::new([0u8; 32]);
    data_key.copy_from_slice(&plain[..32]);
    let mut seed = Zeroizing::new([0u8; 32]);
    seed.copy_from_slice(&plain[32..64]);
    let mut next_seed = Zeroizing::new([0u8; 32]);
    next_seed.copy_from_slice(&plain[64..96]);
    let mut at = [0u8; 8];
    at.copy_from_slice(&plain[96..]);
    let next_at = u64::from_be_bytes(at);
    let next = if next_at == 0 { None } else { Some((SigningKey::from_seed(next_seed)?, next_at)) };
    let state = secretbox::open(&data_key, &header, state_box)
        .map_err(|_| ClientError::Keystore(t!("common-keystore-state-undecryptable")))?;
    let len = u32::from_be_bytes(
        state
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| ClientError::Keystore(t!("common-keystore-short-state")))?,
    ) as usize;
    let body = Zeroizing::new(
        state.get(4..4 + len).ok_or_else(|| ClientError::Keystore(t!("common-keystore-bad-state-length")))?.to_vec(),
    );
    Ok((Unlocked { data_key, checkin_key: SigningKey::from_seed(seed)?, next, params, slots }, body))
}

/// The check-in key a passphrase's slot signs with at `now` (a rotation
/// needs both slots' keys: each signs its own successor), and a successor
/// staged but never activated (a rotation whose reply was lost), if any.
pub fn slot_rotation_keys(
    path: &Path,
    passphrase: &[u8],
    now: u64,
) -> Result<(SigningKey, Option<SigningKey>), ClientError> {
    let (slot, _) = unlock(path, passphrase)?;
    let current = SigningKey::from_seed(slot.checkin_key_at(now).seed_bytes())?;
    let staged = match &slot.next {
        Some((key, u64::MAX)) => Some(SigningKey::from_seed(key.seed_bytes())?),
        _ => None,
    };
    Ok((current, staged))
}

/// Gives both slots a new check-in key that takes over at `at` (the server
/// applies a rotation only after its cooling-off period; until then the old
/// keys keep working). Needs both passphrases: each slot is re-sealed under
/// its own. `at = u64::MAX` stages keys that never activate.
pub fn stage_rotation(
    path: &Path,
    pass_a: &[u8],
    pass_b: &[u8],
    next_a: &[u8; 32],
    next_b: &[u8; 32],
    at: u64,
    now: u64,
) -> Result<(), ClientError> {
    let (a, state) = unlock(path, pass_a)?;
    let (b, _) = unlock(path, pass_b)?;
    let (key_a, key_b) = (a.checkin_key_at(now), b.checkin_key_at(now));
    if key_a.verifying_key() == key_b.verifying_key() || *a.data_key != *b.data_key {
        return Err(ClientError::State(t!("common-passphrases-not-a-pair")));
    }
    let slot_a = seal_slot(&a.params, pass_a, &a.data_key, &key_a.seed_bytes(), Some((next_a, at)))?;
    let slot_b = seal_slot(&a.params, pass_b, &a.data_key, &key_b.seed_bytes(), Some((next_b, at)))?;
    let rewritten = Unlocked {
        data_key: Zeroizing::new(*a.data_key),
        checkin_key: SigningKey::from_seed(key_a.seed_bytes())?,
        next: None,
        params: a.params,
        slots: shuffled(slot_a, slot_b)?,
    };
    rewritten.save(path, &state)
}

impl Unlocked {
    /// The check-in key to sign with at `now`: the rotated one once the
    /// server has applied the rotation (a second after its time), else the old.
    pub fn checkin_key_at(&self, now: u64) -> &SigningKey {
        match &self.next {
            Some((key, at)) if now > *at => key,
            _ => &self.checkin_key,
        }
    }

    /// Writes the keystore with `state` atomically: temp file (0600), fsync, rename.
    pub fn save(&self, path: &Path, state: &[u8]) -> Result<(), ClientError> {
        let header = self.params.header();
        let mut padded = Zeroizing::new(Vec::with_capacity(state.len() + STATE_PAD));
        padded.extend_from_slice(&(state.len() as u32).to_be_bytes());
        padded.extend_from_slice(state);
        let target = padded.len().div_ceil(STATE_PAD) * STATE_PAD;
        padded.resize(target, 0);
        let state_box = secretbox::seal(&self.data_key, &header, &padded)?;
        let bytes = Writer::new(LABEL)
            .u64(u64::from(self.params.m_cost_kib))
            .u64(u64::from(self.params.t_cost))
            .u64(u64::from(self.params.p_cost))
            .fixed(&self.slots[0])
            .fixed(&self.slots[1])
            .var(&state_box)
            .finish();
        write_atomically(path, &bytes)
    }
}

/// temp file in the same directory (mode 0600), fsync, rename, fsync the directory.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), ClientError> {
    let dir = path.parent().ok_or_else(|| ClientError::State(t!("common-keystore-no-directory")))?;
    std::fs::create_dir_all(dir)
        .map_err(ClientError::io(t!("common-io-creating", path = dir.display().to_string())))?;
    let suffix: [u8; 6] = random_array()?;
    let tmp = dir.join(format!(".keystore-{}.tmp", data_encoding::HEXLOWER.encode(&suffix)));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(ClientError::io(t!("common-io-writing", path = path.display().to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_slots_two_keys_same_state() {
        std::env::set_var("AMAN_INSECURE_TEST_KDF", "1");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keystore");
        let (n, d) = ([1u8; 32], [2u8; 32]);
        let ks = create(b"normal pass", b"duress pass", &n, &d).unwrap();
        ks.save(&path, b"{\"state\":1}").unwrap();
        let (a, state_a) = unlock(&path, b"normal pass").unwrap();
        let (b, state_b) = unlock(&path, b"duress pass").unwrap();
        assert_eq!(state_a.as_slice(), b"{\"state\":1}");
        assert_eq!(state_a, state_b);
        assert_eq!(a.checkin_key.verifying_key(), SigningKey::from_seed(Zeroizing::new(n)).unwrap().verifying_key());
        assert_eq!(b.checkin_key.verifying_key(), SigningKey::from_seed(Zeroizing::new(d)).unwrap().verifying_key());
        assert!(matches!(unlock(&path, b"wrong"), Err(ClientError::WrongPassphrase)));
        // Saving through the duress slot keeps both slots working.
        b.save(&path, b"{\"state\":2}").unwrap();
        assert_eq!(unlock(&path, b"normal pass").unwrap().1.as_slice(), b"{\"state\":2}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(create(b"same", b"same", &n, &d).is_err());

        // Rotation: both slots get their next key, active from `at`.
        let (n2, d2) = ([5u8; 32], [6u8; 32]);
        assert!(stage_rotation(&path, b"normal pass", b"normal pass", &n2, &d2, 100, 50).is_err());
        stage_rotation(&path, b"normal pass", b"duress pass", &n2, &d2, 100, 50).unwrap();
        let (a, state) = unlock(&path, b"normal pass").unwrap();
        assert_eq!(state.as_slice(), b"{\"state\":2}");
        let vk = |seed: [u8; 32]| SigningKey::from_seed(Zeroizing::new(seed)).unwrap().verifying_key();
        assert_eq!(a.checkin_key_at(100).verifying_key(), vk(n));
        assert_eq!(a.checkin_key_at(101).verifying_key(), vk(n2));
        let (b, _) = unlock(&path, b"duress pass").unwrap();
        assert_eq!(b.checkin_key_at(101).verifying_key(), vk(d2));
    }
}
