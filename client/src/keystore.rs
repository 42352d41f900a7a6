//! The keystore file.
//!
//! ```text
//! file  = "aman/v1/keystore" 0x00 0x01 || u64 m_cost_kib || u64 t_cost || u64 p_cost
//!         || slot || slot || u32 len || state_box
//! slot  = salt[16] || secretbox(Argon2id(passphrase, salt), header, data_key[32] || checkin_seed[32])
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
const SLOT_LEN: usize = 16 + secretbox::OVERHEAD + 64;
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
            .map_err(|e| ClientError::Keystore(format!("argon2 parameters: {e}")))?;
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
    /// The file's KDF parameters and slots, kept to rewrite the file.
    params: KdfParams,
    slots: [[u8; SLOT_LEN]; 2],
}

fn seal_slot(
    params: &KdfParams,
    passphrase: &[u8],
    data_key: &[u8; 32],
    seed: &[u8; 32],
) -> Result<[u8; SLOT_LEN], ClientError> {
    let salt: [u8; 16] = random_array()?;
    let key = params.derive(passphrase, &salt)?;
    let mut plain = Zeroizing::new([0u8; 64]);
    plain[..32].copy_from_slice(data_key);
    plain[32..].copy_from_slice(seed);
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
        return Err(ClientError::State("the duress passphrase must differ from the normal one".into()));
    }
    let params = KdfParams::default_for_new();
    let data_key = Zeroizing::new(random_array::<32>()?);
    let normal = seal_slot(&params, normal_pass, &data_key, normal_seed)?;
    let duress = seal_slot(&params, duress_pass, &data_key, duress_seed)?;
    let mut coin = [0u8; 1];
    fill_random(&mut coin)?;
    let slots = if coin[0] & 1 == 0 { [normal, duress] } else { [duress, normal] };
    Ok(Unlocked { data_key, checkin_key: SigningKey::from_seed(Zeroizing::new(*normal_seed))?, params, slots })
}

/// Reads a keystore file and unlocks it, returning the slot and the state plaintext.
pub fn unlock(path: &Path, passphrase: &[u8]) -> Result<(Unlocked, Zeroizing<Vec<u8>>), ClientError> {
    let bytes = std::fs::read(path).map_err(ClientError::io(format!("reading {}", path.display())))?;
    let corrupt = |_| ClientError::Keystore("the file is damaged or not an Aman keystore".into());
    let mut r = Reader::new(&bytes, LABEL).map_err(corrupt)?;
    let to_u32 = |v: u64| u32::try_from(v).map_err(|_| ClientError::Keystore("bad parameters".into()));
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
            if opened.is_none() && plain.len() == 64 {
                opened = Some(plain);
            }
        }
    }
    let plain = opened.ok_or(ClientError::WrongPassphrase)?;
    let mut data_key = Zeroizing::new([0u8; 32]);
    data_key.copy_from_slice(&plain[..32]);
    let mut seed = Zeroizing::new([0u8; 32]);
    seed.copy_from_slice(&plain[32..]);
    let state = secretbox::open(&data_key, &header, state_box)
        .map_err(|_| ClientError::Keystore("state does not decrypt".into()))?;
    let len = u32::from_be_bytes(
        state.get(..4).and_then(|b| b.try_into().ok()).ok_or_else(|| ClientError::Keystore("short state".into()))?,
    ) as usize;
    let body =
        Zeroizing::new(state.get(4..4 + len).ok_or_else(|| ClientError::Keystore("bad state length".into()))?.to_vec());
    Ok((Unlocked { data_key, checkin_key: SigningKey::from_seed(seed)?, params, slots }, body))
}

impl Unlocked {
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
    let dir = path.parent().ok_or_else(|| ClientError::State("keystore path has no directory".into()))?;
    std::fs::create_dir_all(dir).map_err(ClientError::io(format!("creating {}", dir.display())))?;
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
    result.map_err(ClientError::io(format!("writing {}", path.display())))
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
    }
}
