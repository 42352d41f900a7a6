//! Members and contacts that speak the protocol through the client library.

use aman_client::api::{unix_now, ApiClient, Signer};
use aman_client::ClientError;
use aman_protocol::alert::{seal, sealed_hash, AlertBody};
use aman_protocol::api::{
    AccountStatus, AddEndpoint, CheckinReply, CheckinRequest, ContactLink, CreatePairing, EndpointAdded, HeartbeatList,
    MailboxContents, PairingAnswer, PanicRequest, Policy, RegisterAccount, ServerInfo, B64,
};
use aman_protocol::derive::transport_key;
use aman_protocol::heartbeat::make_proof;
use aman_protocol::routes::{self, NoBody};
use aman_protocol::{
    AccountId, AlertId, EncryptionSecret, Enrollment, Heartbeat, InviteCode, MailboxId, Registration, ServerId,
    SigningKey,
};

/// A trusted contact with one mailbox.
pub struct Contact {
    /// The member's server.
    pub server: ServerId,
    /// Its mailbox.
    pub mailbox: MailboxId,
    /// `CID`.
    pub identity: SigningKey,
    /// `CX`.
    pub encryption: EncryptionSecret,
    /// Its tier.
    pub tier: u8,
}

impl Contact {
    fn signer(&self) -> Signer<'_> {
        Signer { server: self.server, caller: *self.mailbox.as_bytes(), key: &self.identity }
    }

    /// The member's latest public heartbeat, as the server relays it.
    pub async fn heartbeat(&self, api: &ApiClient) -> Result<HeartbeatList, ClientError> {
        api.call(&routes::Heartbeats, &NoBody, &self.signer()).await
    }

    /// Adds a notification endpoint.
    pub async fn add_endpoint(&self, api: &ApiClient, kind: &str, target: &str) -> Result<EndpointAdded, ClientError> {
        let body = AddEndpoint { kind: kind.into(), target: target.into() };
        api.call(&routes::AddEndpoint, &body, &self.signer()).await
    }

    /// The mailbox's contents.
    pub async fn mailbox(&self, api: &ApiClient) -> Result<MailboxContents, ClientError> {
        api.call(&routes::MailboxAlerts::default(), &NoBody, &self.signer()).await
    }

    /// Long-polls the mailbox: returns when anything changed after `since`
    /// (unix ms), or after `wait` seconds.
    pub async fn poll(&self, api: &ApiClient, since: u64, wait: u64) -> Result<MailboxContents, ClientError> {
        api.call(&routes::MailboxAlerts { poll: Some((since, wait)) }, &NoBody, &self.signer()).await
    }

    /// Acknowledges an alert.
    pub async fn ack(&self, api: &ApiClient, alert: &AlertId) -> Result<(), ClientError> {
        api.call(&routes::AckAlert { alert: *alert }, &NoBody, &self.signer()).await.map(|_| ())
    }
}

/// A member with its keys and counter.
pub struct Member {
    /// The server it registered with (set by [`Member::register`]).
    pub server: Option<ServerInfo>,
    /// Its account.
    pub account: AccountId,
    /// `ID`.
    pub identity: SigningKey,
    /// `CK_N`.
    pub normal: SigningKey,
    /// `CK_D`.
    pub duress: SigningKey,
    /// Last counter used.
    pub counter: u64,
    /// Current sealed alert.
    pub sealed: Vec<u8>,
    /// Linked contacts.
    pub contacts: Vec<Contact>,
}

impl Member {
    /// Fresh keys.
    pub fn new() -> Self {
        Member {
            server: None,
            account: AccountId::random().unwrap(),
            identity: SigningKey::generate().unwrap(),
            normal: SigningKey::generate().unwrap(),
            duress: SigningKey::generate().unwrap(),
            counter: 0,
            sealed: Vec::new(),
            contacts: Vec::new(),
        }
    }

    /// The server's id (after [`Member::register`]).
    pub fn server_id(&self) -> ServerId {
        self.server.as_ref().map(|s| s.server_id).unwrap_or(ServerId::from_bytes([0; 16]))
    }

    /// Signs requests as this member.
    pub fn signer(&self) -> Signer<'_> {
        Signer { server: self.server_id(), caller: *self.account.as_bytes(), key: &self.identity }
    }

    /// Registers on an open server.
    pub async fn register(&mut self, api: &ApiClient) -> Result<(), ClientError> {
        let info = api.server_info().await?;
        let body = self.registration(&info, None)?;
        api.call_unsigned(&routes::Register, &body, 1).await?;
        self.server = Some(info);
        Ok(())
    }

    /// The body of a registration with `invite`, sealed to the server `info` describes.
    pub fn registration(&self, info: &ServerInfo, invite: Option<String>) -> Result<RegisterAccount, ClientError> {
        let registration = Registration {
            server: info.server_id,
            account: self.account,
            identity: self.identity.verifying_key(),
            normal: self.normal.verifying_key(),
            duress: self.duress.verifying_key(),
            transport: transport_key(&self.identity, &info.server_id),
            created: unix_now(),
        }
        .seal(&self.identity, &info.server_key)?;
        Ok(RegisterAccount { invite, registration: B64(registration) })
    }

    /// Pairs a new contact at `tier` and links every contact. A contact
    /// linked while others are already linked takes part only after the
    /// server's cooling-off period: pair several with [`Member::pair_contact`]
    /// and link them at once with [`Member::link_contacts`] to have them all now.
    pub async fn add_contact(&mut self, api: &ApiClient, tier: u8) -> Result<(), ClientError> {
        self.pair_contact(api, tier).await?;
        self.link_contacts(api).await
    }

    /// Pairs a new contact at `tier` without linking it.
    pub async fn pair_contact(&mut self, api: &ApiClient, tier: u8) -> Result<(), ClientError> {
        let invite = InviteCode::generate(self.identity.verifying_key(), api.base())?;
        let create = CreatePairing { invite: invite.id, expires_at: unix_now() + 3600 };
        api.call(&routes::CreatePairing, &create, &self.signer()).await?;
        let c = Contact {
            server: self.server_id(),
            mailbox: MailboxId::random()?,
            identity: SigningKey::generate()?,
            encryption: EncryptionSecret::generate()?,
            tier,
        };
        let e =
            Enrollment { identity: c.identity.verifying_key(), encryption: c.encryption.public(), mailbox: c.mailbox };
        let answer = PairingAnswer {
            mailbox: c.mailbox,
            identity: c.identity.verifying_key(),
            encryption: Some(c.encryption.public()),
            enrollment: B64(e.seal(&invite, &c.identity)?),
        };
        api.call(&routes::AnswerPairing { invite: invite.id }, &answer, &c.signer()).await?;
        self.contacts.push(c);
        Ok(())
    }

    /// Links every paired contact and re-seals the note to them.
    pub async fn link_contacts(&mut self, api: &ApiClient) -> Result<(), ClientError> {
        let policy = Policy {
            contacts: self
                .contacts
                .iter()
                .map(|c| ContactLink { mailbox: c.mailbox, tier: c.tier, active_from: None })
                .collect(),
            ..Policy::default()
        };
        api.call(&routes::SetPolicy, &policy, &self.signer()).await?;
        self.reseal("standing note")?;
        Ok(())
    }

    /// Seals a new standing note to the contacts.
    pub fn reseal(&mut self, note: &str) -> Result<(), ClientError> {
        let mut recipients: Vec<_> = self.contacts.iter().map(|c| c.encryption.public()).collect();
        if recipients.is_empty() {
            recipients.push(EncryptionSecret::generate()?.public());
        }
        let body = AlertBody {
            contacts: Vec::new(),
            plan: String::new(),
            account: self.account,
            sequence: self.counter + 1,
            created: unix_now(),
            note: note.into(),
            location: String::new(),
        };
        self.sealed = seal(&body, &self.identity, &recipients)?;
        Ok(())
    }

    /// The body of the next check-in (counter + 1): heartbeat and mode proof.
    pub fn next_checkin(&mut self, every: u64, grace: u64, duress: bool, with_sealed: bool) -> CheckinRequest {
        self.checkin_until(unix_now() + every, grace, duress, with_sealed)
    }

    /// The body of the next check-in, due at `next_due`.
    pub fn checkin_until(&mut self, next_due: u64, grace: u64, duress: bool, with_sealed: bool) -> CheckinRequest {
        if self.sealed.is_empty() {
            self.reseal("standing note").unwrap();
        }
        self.counter += 1;
        let ph = Heartbeat {
            server: self.server_id(),
            account: self.account,
            counter: self.counter,
            client_time: unix_now(),
            next_due,
            grace,
            sealed_hash: sealed_hash(&self.sealed),
        }
        .sign(&self.identity);
        let key = if duress { &self.duress } else { &self.normal };
        let proof = make_proof(&ph, key, &transport_key(&self.identity, &self.server_id())).unwrap();
        let sealed_alert = with_sealed.then(|| B64(self.sealed.clone()));
        CheckinRequest { heartbeat: B64(ph), proof: B64(proof), sealed_alert }
    }

    /// Checks in.
    pub async fn checkin(
        &mut self,
        api: &ApiClient,
        every: u64,
        grace: u64,
        duress: bool,
    ) -> Result<CheckinReply, ClientError> {
        let body = self.next_checkin(every, grace, duress, true);
        api.call_unsigned(&routes::Checkin, &body, 1).await
    }

    /// Fires a panic alert.
    pub async fn panic(&self, api: &ApiClient) -> Result<AlertId, ClientError> {
        let r = api.call(&routes::Panic, &PanicRequest::default(), &self.signer()).await?;
        Ok(r.alert)
    }

    /// The account's status.
    pub async fn status(&self, api: &ApiClient) -> Result<AccountStatus, ClientError> {
        api.call(&routes::GetAccount, &NoBody, &self.signer()).await
    }
}

impl Default for Member {
    fn default() -> Self {
        Self::new()
    }
}
