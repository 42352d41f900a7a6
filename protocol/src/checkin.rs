//! Check-ins.
//!
//! A check-in is signed by one of the member's two check-in keys: `CK_N`
//! (normal) or `CK_D` (duress). The verifier always checks against both keys,
//! so the work done does not depend on which one signed, and reports which.

use crate::encoding::{labels, Reader, Writer};
use crate::error::{DecodeError, Error};
use crate::ids::AccountId;
use crate::keys::{split_signature, SigningKey, VerifyingKey};
use subtle::{Choice, ConditionallySelectable};

/// Length of a signed check-in: label, separator, version, fields, signature.
pub const SIGNED_CHECKIN_LEN: usize = labels::CHECKIN.len() + 2 + 16 + 8 * 4 + 32 + 64;

/// The signed fields of a check-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkin {
    /// The member's account.
    pub account: AccountId,
    /// Strictly increasing per account; replays and stale check-ins are refused.
    pub counter: u64,
    /// The client's clock (unix seconds) when it signed.
    pub client_time: u64,
    /// The next deadline the member asks for (unix seconds).
    pub next_due: u64,
    /// Seconds of grace after `next_due` before the alert fires.
    pub grace: u64,
    /// SHA-256 of the latest sealed alert, binding the alert to this check-in.
    pub alert_hash: [u8; 32],
}

/// Which check-in key signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckinKind {
    /// `CK_N`: everything is fine.
    Normal,
    /// `CK_D`: the member is under duress; reply identically, then alert.
    Duress,
}

impl Checkin {
    fn encode_unsigned(&self) -> Vec<u8> {
        Writer::new(labels::CHECKIN)
            .fixed(self.account.as_bytes())
            .u64(self.counter)
            .u64(self.client_time)
            .u64(self.next_due)
            .u64(self.grace)
            .fixed(&self.alert_hash)
            .finish()
    }

    /// Signs with a check-in key; returns `encoding || signature`
    /// ([`SIGNED_CHECKIN_LEN`] bytes, the same for both keys).
    pub fn sign(&self, key: &SigningKey) -> Vec<u8> {
        key.sign_appended(self.encode_unsigned())
    }

    /// Parses a signed check-in without verifying it.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (body, _) = split_signature(bytes)?;
        let mut r = Reader::new(body, labels::CHECKIN)?;
        let checkin = Checkin {
            account: AccountId::from_bytes(r.fixed()?),
            counter: r.u64()?,
            client_time: r.u64()?,
            next_due: r.u64()?,
            grace: r.u64()?,
            alert_hash: r.fixed()?,
        };
        r.finish()?;
        Ok(checkin)
    }

    /// Parses and verifies against both check-in keys, always both.
    pub fn verify(bytes: &[u8], normal: &VerifyingKey, duress: &VerifyingKey) -> Result<(Self, CheckinKind), Error> {
        let (checkin, index) = Self::verify_either(bytes, &[*normal, *duress])?;
        let kind = if index == 1 { CheckinKind::Duress } else { CheckinKind::Normal };
        Ok((checkin, kind))
    }

    /// Parses and verifies against two keys in whatever order the caller
    /// keeps them (a server stores them sorted, so its database does not say
    /// which is the duress key); returns the index of the key that signed.
    /// Both signatures are always checked.
    pub fn verify_either(bytes: &[u8], keys: &[VerifyingKey; 2]) -> Result<(Self, usize), Error> {
        let checkin = Self::decode(bytes)?;
        let (body, sig) = split_signature(bytes)?;
        let by_first = Choice::from(u8::from(keys[0].verify(body, &sig).is_ok()));
        let by_second = Choice::from(u8::from(keys[1].verify(body, &sig).is_ok()));
        if !bool::from(by_first | by_second) {
            return Err(Error::BadSignature);
        }
        // A binding never holds the same key twice, so at most one matched.
        let index = u8::conditional_select(&0, &1, by_second);
        Ok((checkin, usize::from(index)))
    }

    /// Fails with [`Error::StaleCounter`] unless this counter is above `last`.
    pub fn check_counter(&self, last: u64) -> Result<(), Error> {
        if self.counter > last {
            Ok(())
        } else {
            Err(Error::StaleCounter)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Checkin {
        Checkin {
            account: AccountId::from_bytes([9; 16]),
            counter: 2,
            client_time: 100,
            next_due: 200,
            grace: 60,
            alert_hash: [4; 32],
        }
    }

    #[test]
    fn normal_duress_and_stranger() {
        let n = SigningKey::generate().unwrap();
        let d = SigningKey::generate().unwrap();
        let x = SigningKey::generate().unwrap();
        let (nk, dk) = (n.verifying_key(), d.verifying_key());
        let c = sample();
        let signed_n = c.sign(&n);
        let signed_d = c.sign(&d);
        assert_eq!(signed_n.len(), SIGNED_CHECKIN_LEN);
        assert_eq!(signed_d.len(), SIGNED_CHECKIN_LEN);
        assert_eq!(Checkin::verify(&signed_n, &nk, &dk).unwrap(), (c.clone(), CheckinKind::Normal));
        assert_eq!(Checkin::verify(&signed_d, &nk, &dk).unwrap(), (c.clone(), CheckinKind::Duress));
        assert_eq!(Checkin::verify(&c.sign(&x), &nk, &dk).unwrap_err(), Error::BadSignature);
    }

    #[test]
    fn counters_must_increase() {
        let c = sample();
        assert!(c.check_counter(1).is_ok());
        assert_eq!(c.check_counter(2), Err(Error::StaleCounter));
        assert_eq!(c.check_counter(3), Err(Error::StaleCounter));
    }
}
