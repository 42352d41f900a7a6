//! A mailbox's notification endpoints, encrypted at rest under the server key.

use super::error::EngineError;
use super::Engine;
use crate::store::{Durable, EndpointRecord, Op, OutboxChannel};
use crate::target_policy::{Refusal, TargetPolicy, TargetReach};
use aman_protocol::api::{AddEndpoint, EndpointAdded, EndpointInfo, B64};
use aman_protocol::api::{ChannelKind, ErrorCode};
use aman_protocol::random::random_array;
use aman_protocol::text::b64_encode;
use aman_protocol::MailboxId;
use zeroize::Zeroizing;

/// Most endpoints per mailbox.
pub const MAX_ENDPOINTS: usize = 8;

/// The at-rest context of an endpoint's target.
pub fn target_context(mailbox: &MailboxId, id: u8) -> Vec<u8> {
    let mut c = mailbox.as_bytes().to_vec();
    c.extend_from_slice(b"/target/");
    c.push(id);
    c
}

/// The at-rest context of a webhook secret.
pub fn secret_context(mailbox: &MailboxId, id: u8) -> Vec<u8> {
    let mut c = mailbox.as_bytes().to_vec();
    c.extend_from_slice(b"/secret/");
    c.push(id);
    c
}

pub use crate::store::EndpointKind;

/// Reads the `kind` of a new endpoint: a word this server does not know is
/// `invalid_kind`.
fn endpoint_kind(kind: ChannelKind) -> Result<EndpointKind, EngineError> {
    EndpointKind::known(kind)
        .ok_or_else(|| EngineError::bad_request(ErrorCode::InvalidKind, "kind is webhook, ntfy or email"))
}

fn validate(kind: EndpointKind, target: &str) -> Result<(), EngineError> {
    if target.len() > 512 || target.chars().any(char::is_control) {
        return Err(EngineError::bad_request(ErrorCode::InvalidTarget, "target is too long or has control characters"));
    }
    match kind {
        EndpointKind::Webhook | EndpointKind::Ntfy => {
            let ok = (target.starts_with("https://") || target.starts_with("http://"))
                && crate::urls::host_of(target).is_some();
            if !ok {
                return Err(EngineError::bad_request(
                    ErrorCode::InvalidTarget,
                    "webhook and ntfy targets are http(s) URLs",
                ));
            }
        }
        EndpointKind::Email => {
            let parts: Vec<&str> = target.split('@').collect();
            if parts.len() != 2
                || parts[0].is_empty()
                || !parts[1].contains('.')
                || target.contains(char::is_whitespace)
            {
                return Err(EngineError::bad_request(ErrorCode::InvalidTarget, "not an e-mail address"));
            }
        }
    }
    Ok(())
}

impl Engine {
    /// The organizer's rules for notification targets, from the configuration.
    pub fn target_policy(&self) -> TargetPolicy<'_> {
        TargetPolicy { allow_private: self.config.allow_private_targets, ports: &self.config.target_ports }
    }

    /// The checks every new notification target passes (a contact's
    /// endpoint, a member's reminder target): its form, e-mail only with a
    /// relay, https unless private and allowed, no internal address unless
    /// allowed, the allowed ports.
    pub(super) fn check_new_target(&self, add: &AddEndpoint, reach: &TargetReach) -> Result<EndpointKind, EngineError> {
        let kind = endpoint_kind(add.kind)?;
        validate(kind, &add.target)?;
        if kind == EndpointKind::Email && self.config.smtp_url.is_none() {
            // Stored, it would be retried for two days and reach nobody.
            return Err(EngineError::bad_request(
                ErrorCode::EmailUnavailable,
                "this server's organizer has not configured e-mail (smtp_url): use a webhook or ntfy instead",
            ));
        }
        let web = matches!(kind, EndpointKind::Webhook | EndpointKind::Ntfy);
        // An e-mail address's reach is public and its "port" none: only the
        // plain-http rule can refuse one.
        match self.target_policy().check(&add.target, reach) {
            Err(Refusal::PlainHttp) => Err(EngineError::bad_request(
                ErrorCode::InsecureTarget,
                "webhook and ntfy targets must be https:// (plain http:// only for private targets the organizer allowed)",
            )),
            Err(Refusal::Internal(why)) if web => Err(EngineError::bad_request(ErrorCode::PrivateTarget, why)),
            Err(Refusal::Port) if web => Err(EngineError::bad_request(
                ErrorCode::TargetPort,
                format!("targets on public addresses may use ports {:?} only on this server", self.config.target_ports),
            )),
            _ => Ok(kind),
        }
    }

    /// Adds an endpoint; a webhook's secret is returned this once.
    pub fn add_endpoint(
        &self,
        mailbox_id: &MailboxId,
        add: &AddEndpoint,
        reach: &TargetReach,
    ) -> Result<(EndpointAdded, Durable), EngineError> {
        let kind = self.check_new_target(add, reach)?;
        let _guard = super::lock(&self.registration);
        let mut mailbox = self.store.mailbox(mailbox_id)?.ok_or_else(EngineError::unauthorized)?;
        if mailbox.endpoints.len() >= MAX_ENDPOINTS {
            return Err(EngineError::bad_request(ErrorCode::TooManyEndpoints, "at most 8 endpoints per mailbox"));
        }
        let id = (1..OutboxChannel::ENDPOINT_LIMIT)
            .find(|i| mailbox.endpoints.iter().all(|e| e.id != *i))
            .ok_or_else(|| EngineError::bad_request(ErrorCode::TooManyEndpoints, "no endpoint ids left"))?;
        let key = self.server_key();
        let target_sealed =
            key.encrypt(&target_context(mailbox_id, id), add.target.as_bytes()).map_err(EngineError::internal)?;
        let secret = webhook_secret(kind)?;
        let secret_sealed = match &secret {
            Some(s) => {
                Some(B64(key.encrypt(&secret_context(mailbox_id, id), s.as_bytes()).map_err(EngineError::internal)?))
            }
            None => None,
        };
        mailbox.endpoints.push(EndpointRecord { id, kind, target_sealed: B64(target_sealed), secret_sealed });
        let ticket = self.commit(vec![Op::PutMailbox(*mailbox_id, mailbox)])?;
        Ok((EndpointAdded { id, secret: secret.map(|s| s.to_string()) }, ticket))
    }

    /// The endpoints, decrypted for their owner.
    pub fn list_endpoints(&self, mailbox_id: &MailboxId) -> Result<Vec<EndpointInfo>, EngineError> {
        let mailbox = self.store.mailbox(mailbox_id)?.ok_or_else(EngineError::unauthorized)?;
        mailbox
            .endpoints
            .iter()
            .map(|e| {
                let target = self
                    .server_key()
                    .decrypt(&target_context(mailbox_id, e.id), &e.target_sealed.0)
                    .map_err(|_| EngineError::internal("endpoint does not decrypt: wrong server key file?"))?;
                Ok(EndpointInfo {
                    id: e.id,
                    kind: e.kind.into(),
                    target: String::from_utf8_lossy(&target).into_owned(),
                })
            })
            .collect()
    }

    /// Removes an endpoint.
    pub fn remove_endpoint(&self, mailbox_id: &MailboxId, id: u8) -> Result<Durable, EngineError> {
        let _guard = super::lock(&self.registration);
        let mut mailbox = self.store.mailbox(mailbox_id)?.ok_or_else(EngineError::unauthorized)?;
        let before = mailbox.endpoints.len();
        mailbox.endpoints.retain(|e| e.id != id);
        if mailbox.endpoints.len() == before {
            return Err(EngineError::not_found("endpoint"));
        }
        self.commit(vec![Op::PutMailbox(*mailbox_id, mailbox)])
    }
}

/// A new signing secret for a webhook (shown once to whoever adds it), or
/// none for the other kinds.
pub(super) fn webhook_secret(kind: EndpointKind) -> Result<Option<Zeroizing<String>>, EngineError> {
    if kind != EndpointKind::Webhook {
        return Ok(None);
    }
    let raw = Zeroizing::new(random_array::<32>().map_err(EngineError::internal)?);
    Ok(Some(Zeroizing::new(b64_encode(raw.as_ref()))))
}
