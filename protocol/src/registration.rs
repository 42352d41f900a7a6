//! Registration (version 2): the member's keys and transport key, signed by
//! `ID` and sealed to the server.
//!
//! ```text
//! reg = "aman/v2/register" 0x00 0x02 || server_id[16] || account[16] || ID_pk[32]
//!       || CK_N_pk[32] || CK_D_pk[32] || K_tr[32] || u64 created || Ed25519(ID, all of the above)[64]
//! sent as seal_to_server(S_pk, context = "aman/v2/register", reg)
//! ```
//!
//! This is the one message that names the roles (normal first). Sealed to
//! the server, nobody on the path (a TLS-terminating proxy, a captured log)
//! learns them or `K_tr`; the server keeps the keys sorted with a tag.

use crate::encoding::{labels, Reader, Writer};
use crate::error::{DecodeError, Error};
use crate::heartbeat::ProofKey;
use crate::ids::{AccountId, ServerId};
use crate::keys::{split_signature, EncryptionPublic, SigningKey, VerifyingKey, SIGNATURE_LEN};
use crate::server::{seal_to_server, server_id, ServerIdentity, SEAL_OVERHEAD};
use zeroize::Zeroizing;

/// Length of a signed registration before sealing.
pub const REGISTRATION_LEN: usize = labels::REGISTER.len() + 2 + 16 + 16 + 32 * 4 + 8 + SIGNATURE_LEN;
/// Length of a sealed registration.
pub const SEALED_REGISTRATION_LEN: usize = REGISTRATION_LEN + SEAL_OVERHEAD;

/// A member's registration. Holds `K_tr`: no `Debug`, `Clone` or `Serialize`.
pub struct Registration {
    /// The server registered with.
    pub server: ServerId,
    /// The new account.
    pub account: AccountId,
    /// The member identity `ID`.
    pub identity: VerifyingKey,
    /// `CK_N`, the normal check-in key.
    pub normal: VerifyingKey,
    /// `CK_D`, the duress check-in key.
    pub duress: VerifyingKey,
    /// `K_tr`, the key of the mode-proof box.
    pub transport: ProofKey,
    /// When the member made it (unix seconds).
    pub created: u64,
}

impl Registration {
    fn encode_unsigned(&self) -> Zeroizing<Vec<u8>> {
        Zeroizing::new(
            Writer::v2(labels::REGISTER)
                .fixed(self.server.as_bytes())
                .fixed(self.account.as_bytes())
                .fixed(self.identity.as_bytes())
                .fixed(self.normal.as_bytes())
                .fixed(self.duress.as_bytes())
                .fixed(self.transport.to_bytes().as_ref())
                .u64(self.created)
                .finish(),
        )
    }

    /// The signed registration, before sealing.
    pub(crate) fn sign(&self, identity: &SigningKey) -> Result<Zeroizing<Vec<u8>>, Error> {
        if identity.verifying_key() != self.identity {
            return Err(Error::InvalidArgument("registration signed by another identity"));
        }
        if self.keys_repeat() {
            return Err(Error::InvalidArgument("identity and check-in keys must be pairwise different"));
        }
        let body = self.encode_unsigned();
        let sig = identity.sign(&body);
        let mut out = Zeroizing::new(body.to_vec());
        out.extend_from_slice(&sig.0);
        Ok(out)
    }

    /// Signs with `ID` and seals to the server whose key is `server_key`,
    /// which must be the server named in [`Self::server`].
    pub fn seal(&self, identity: &SigningKey, server_key: &EncryptionPublic) -> Result<Vec<u8>, Error> {
        if server_id(server_key) != self.server {
            return Err(Error::InvalidArgument("registration names another server"));
        }
        seal_to_server(server_key, labels::REGISTER.as_bytes(), &self.sign(identity)?)
    }

    fn keys_repeat(&self) -> bool {
        self.identity == self.normal || self.identity == self.duress || self.normal == self.duress
    }

    /// Opens a sealed registration at `server`, parses it strictly, and
    /// verifies its signature. It must name this server, and its three
    /// public keys must be pairwise different.
    pub fn open(server: &ServerIdentity, sealed: &[u8]) -> Result<Self, Error> {
        let signed = server.open(labels::REGISTER.as_bytes(), sealed)?;
        Self::verify(&signed, server.id())
    }

    /// Parses and verifies a signed registration for server `expected`.
    pub(crate) fn verify(signed: &[u8], expected: ServerId) -> Result<Self, Error> {
        let (body, sig) = split_signature(signed)?;
        let mut r = Reader::v2(body, labels::REGISTER)?;
        let reg = Registration {
            server: ServerId::from_bytes(r.fixed()?),
            account: AccountId::from_bytes(r.fixed()?),
            identity: VerifyingKey(r.fixed()?),
            normal: VerifyingKey(r.fixed()?),
            duress: VerifyingKey(r.fixed()?),
            transport: ProofKey::from_bytes(Zeroizing::new(r.fixed()?)),
            created: r.u64()?,
        };
        r.finish()?;
        if reg.server != expected || reg.keys_repeat() {
            return Err(DecodeError::InvalidValue.into());
        }
        reg.identity.verify(body, &sig)?;
        Ok(reg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::at_rest::ServerKey;

    fn registration(server: ServerId, id: &SigningKey, n: &SigningKey, d: &SigningKey) -> Registration {
        Registration {
            server,
            account: AccountId::from_bytes([1; 16]),
            identity: id.verifying_key(),
            normal: n.verifying_key(),
            duress: d.verifying_key(),
            transport: ProofKey::from_bytes(Zeroizing::new([3; 32])),
            created: 5,
        }
    }

    #[test]
    fn opens_at_its_server_only_and_refuses_forgery() {
        let a = ServerIdentity::derive(&ServerKey::generate().unwrap());
        let b = ServerIdentity::derive(&ServerKey::generate().unwrap());
        let (id, n, d) =
            (SigningKey::generate().unwrap(), SigningKey::generate().unwrap(), SigningKey::generate().unwrap());
        let reg = registration(a.id(), &id, &n, &d);
        let sealed = reg.seal(&id, &a.public()).unwrap();
        assert_eq!(sealed.len(), SEALED_REGISTRATION_LEN);
        let back = Registration::open(&a, &sealed).unwrap();
        assert_eq!((back.normal, back.duress, back.created), (n.verifying_key(), d.verifying_key(), 5));
        assert_eq!(back.transport.to_bytes().as_ref(), &[3; 32]);
        assert!(Registration::open(&b, &sealed).is_err());
        assert!(reg.seal(&id, &b.public()).is_err(), "sealing names the server it is for");
        assert!(reg.seal(&n, &a.public()).is_err(), "signed by the identity only");

        let signed = reg.sign(&id).unwrap();
        assert_eq!(signed.len(), REGISTRATION_LEN);
        for i in 0..signed.len() {
            let mut t = signed.to_vec();
            t[i] ^= 1;
            assert!(Registration::verify(&t, a.id()).is_err(), "flip at {i}");
        }
        assert!(Registration::verify(&signed, b.id()).is_err());
        let same = registration(a.id(), &id, &n, &n);
        assert!(same.sign(&id).is_err());
    }
}
