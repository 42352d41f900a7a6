//! The one place in the crate that produces randomness.
//!
//! Every key, nonce and id comes from `ring::rand::SystemRandom` through
//! [`fill_random`]. It fails closed: if the operating system cannot give us
//! randomness we return an error instead of anything predictable.

use crate::error::Error;
use ring::rand::{SecureRandom, SystemRandom};

/// Fills `out` with bytes from the operating system's CSPRNG.
pub fn fill_random(out: &mut [u8]) -> Result<(), Error> {
    SystemRandom::new().fill(out).map_err(|_| Error::Randomness)
}

/// Returns `N` random bytes.
pub fn random_array<const N: usize>() -> Result<[u8; N], Error> {
    let mut out = [0u8; N];
    fill_random(&mut out)?;
    Ok(out)
}
