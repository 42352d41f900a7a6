//! Extractors for signed requests. The body is read with the configured
//! limit, the signature checked over the exact bytes received, and only then
//! is anything parsed as JSON.

use super::AppState;
use crate::auth::{authenticate, parse_request, NotRemembered, ReplayCache};
use crate::error::ApiError;
use crate::net::{AddressGroup, RequestProgress, TrustedProxies};
use aman_protocol::api::ErrorCode;
use aman_protocol::DecodeError;
use aman_protocol::{AccountId, MailboxId, RequestAuth, Signature, VerifyingKey};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;
use std::net::SocketAddr;
use std::time::Duration;

/// A request whose signature has been parsed but not yet verified (the key
/// comes from the body: pairing answers).
#[derive(Debug)]
pub struct Unverified {
    /// The signed fields.
    pub auth: RequestAuth,
    /// The signature.
    pub sig: Signature,
    /// The exact body bytes.
    pub body: Bytes,
    /// The query string, if any.
    pub query: Option<String>,
    /// Where it came from.
    pub peer: Peer,
}

impl Unverified {
    /// Verifies with `key` (`None`: unknown caller). A request that
    /// authenticates is counted against its caller's budget, and only
    /// then: a forged request naming a member spends nothing of theirs. One
    /// that does not is counted against its address only.
    pub fn verify(&self, state: &AppState, key: Option<VerifyingKey>) -> Result<(), ApiError> {
        let e = &state.engine;
        let now = e.clock.now();
        if let Err(refused) = authenticate(&self.auth, &self.sig, key, now, e.config.clock_window, e.boot_time) {
            return Err(self.peer.failed(state, refused));
        }
        // A replay of a captured request is refused before it can spend
        // the caller's budget.
        // (It is counted against its address instead: it cost a verification.)
        if state.replay.seen(self.auth.caller, self.auth.nonce) {
            return Err(self.peer.failed(state, ReplayCache::refusal(NotRemembered::Replayed)));
        }
        if !state.callers.allow(&caller_key(&self.auth.caller), e.config.rate_limit_account, now) {
            return Err(too_many());
        }
        self.remember(state)
    }

    /// Remembers the nonce (only for requests that authenticated and are
    /// within budget, so the cache holds nothing an outsider chose).
    fn remember(&self, state: &AppState) -> Result<(), ApiError> {
        let e = &state.engine;
        state
            .replay
            .remember(self.auth.caller, self.auth.nonce, e.clock.now(), e.config.clock_window)
            .map_err(ReplayCache::refusal)
    }

    /// Verifies with a key the request itself brings (a pairing answer,
    /// which registers the mailbox it names): that proves nothing about
    /// the caller id, so the request is never counted against the id it
    /// names. It is counted against `slot` (the pairing slot it answers,
    /// already known to be waiting: only those who hold the invite can name
    /// it), whatever the outcome, so junk from the members' shared address
    /// cannot stop a contact from answering.
    pub fn verify_self_keyed(&self, state: &AppState, key: VerifyingKey, slot: &[u8]) -> Result<(), ApiError> {
        let e = &state.engine;
        let now = e.clock.now();
        if !state.callers.allow(slot, e.config.rate_limit_account, now) {
            return Err(too_many());
        }
        authenticate(&self.auth, &self.sig, Some(key), now, e.config.clock_window, e.boot_time)?;
        self.remember(state)
    }
}

/// The limiter's key for an authenticated caller (account or mailbox id).
pub fn caller_key(caller: &[u8; 16]) -> [u8; 17] {
    let mut k = [0u8; 17];
    k[0] = b'c';
    k[1..].copy_from_slice(caller);
    k
}

/// The address group a request came from (behind a trusted proxy, the
/// client's as the proxy reports it), used for rate limiting only: never
/// stored, never logged.
#[derive(Debug, Clone, Default)]
pub struct Peer(Option<AddressGroup>);

impl Peer {
    fn of(req: &Request, proxies: &TrustedProxies) -> Self {
        Peer(req.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| {
            let forwarded = req.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok());
            AddressGroup::of(proxies.client(addr.ip(), forwarded))
        }))
    }

    /// Counts a failed authentication against the address. Within its
    /// budget the refusal stands as it is; beyond it the address is told
    /// to slow down. Requests that authenticate are never counted here, so
    /// junk from an address shared with members (a reverse proxy, Tor)
    /// cannot lock those members out.
    pub fn failed(&self, state: &AppState, refusal: ApiError) -> ApiError {
        match self.counted(state, Err(refusal)) {
            Err(e) => e,
            Ok(()) => too_many(), // unreachable: an error stays an error
        }
    }

    /// Counts the request against the address whatever its outcome; beyond
    /// the budget it is answered `rate_limited`.
    pub fn counted(&self, state: &AppState, outcome: Result<(), ApiError>) -> Result<(), ApiError> {
        let engine = &state.engine;
        let Some(group) = &self.0 else { return outcome };
        let (per_minute, now) = (engine.config.rate_limit_ip, engine.clock.now());
        // The group and its wider ranges are counted together or not at
        // all: a request one of them refuses spends nothing of the others'
        // (one busy /64 cannot use up its /48's budget with refused requests).
        let mut ranges = group.wider_keys();
        ranges.push((group.limiter_key(), 1));
        let budgets: Vec<(&[u8], u32)> =
            ranges.iter().map(|(key, times)| (key.as_slice(), per_minute.saturating_mul(*times))).collect();
        if state.addresses.allow_all(&budgets, now) {
            outcome
        } else {
            Err(too_many())
        }
    }
}

fn too_many() -> ApiError {
    // The limiter's window is a minute.
    ApiError::new(StatusCode::TOO_MANY_REQUESTS, ErrorCode::RateLimited, "too many requests; slow down").retry_after(60)
}

/// The body of a request that carries no request signature (registration,
/// check-in), read with the configured limit, and where it came from (a
/// failure is counted against the address by the handler).
#[derive(Debug)]
pub struct Unsigned(pub Bytes, pub Peer);

/// Reads the body within the size limit and the body timeout. A body too
/// large or too slow is counted against its address.
async fn limited_body(req: Request, state: &AppState) -> Result<(axum::http::request::Parts, Bytes, Peer), ApiError> {
    let config = &state.engine.config;
    let peer = Peer::of(&req, &config.trusted_proxies);
    let (parts, body) = req.into_parts();
    let progress = parts.extensions.get::<RequestProgress>().cloned();
    let read =
        tokio::time::timeout(Duration::from_secs(config.body_timeout), axum::body::to_bytes(body, config.body_limit));
    let body = match read.await {
        Ok(Ok(body)) => body,
        Ok(Err(_)) => {
            let large = ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::BodyTooLarge,
                format!("request body is over {} bytes", config.body_limit),
            );
            return Err(peer.failed(state, large.closing()));
        }
        Err(_) => {
            let slow = ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::BodyTimeout,
                format!("the request body did not arrive within {} s", config.body_timeout),
            );
            return Err(peer.failed(state, slow.closing()));
        }
    };
    if let Some(progress) = progress {
        progress.body_received();
    }
    Ok((parts, body, peer))
}

impl FromRequest<AppState> for Unsigned {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let (_, body, peer) = limited_body(req, state).await?;
        Ok(Unsigned(body, peer))
    }
}

impl FromRequest<AppState> for Unverified {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let engine = &state.engine;
        let (parts, body, peer) = limited_body(req, state).await?;
        let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/").to_owned();
        let (auth, sig) = parse_request(engine.server_id(), parts.method.as_str(), &path, &body, &parts.headers)
            .map_err(|refused| peer.failed(state, refused))?;
        Ok(Unverified { auth, sig, body, query: parts.uri.query().map(str::to_owned), peer })
    }
}

/// A request signed by a member's identity key.
#[derive(Debug)]
pub struct Member {
    /// The caller.
    pub account: AccountId,
    /// The exact body bytes.
    pub body: Bytes,
}

impl FromRequest<AppState> for Member {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let u = Unverified::from_request(req, state).await?;
        let account = AccountId::from_bytes(u.auth.caller);
        let key = state.engine.store.account(&account)?.map(|a| a.identity);
        u.verify(state, key)?;
        Ok(Member { account, body: u.body })
    }
}

/// A request signed by a contact's identity key for one of its mailboxes.
#[derive(Debug)]
pub struct Contact {
    /// The caller.
    pub mailbox: MailboxId,
    /// The member whose contact the mailbox is.
    pub member: AccountId,
    /// The exact body bytes.
    pub body: Bytes,
    /// The query string, if any.
    pub query: Option<String>,
}

impl FromRequest<AppState> for Contact {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, ApiError> {
        let u = Unverified::from_request(req, state).await?;
        let mailbox = MailboxId::from_bytes(u.auth.caller);
        let found = state.engine.mailbox_identity(&mailbox)?;
        u.verify(state, found.map(|(key, _)| key))?;
        let member = found.map(|(_, member)| member).ok_or_else(ApiError::unauthorized)?;
        Ok(Contact { mailbox, member, body: u.body, query: u.query })
    }
}

/// Parses a JSON envelope, mapping failures to stable codes.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    // Every envelope is an object; serde would otherwise accept `[a, b]` for a struct.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::bad_request(ErrorCode::MalformedJson, "the request body must be a JSON object"));
    }
    serde_json::from_slice(body).map_err(|e| {
        let text = e.to_string();
        // A field's own decoder names its code in the message it fails
        // with (`DecodeError::tagged`), so no wording is matched here.
        let code = match e.is_data() {
            false => ErrorCode::MalformedJson,
            true => DecodeError::code_in(&text).unwrap_or(ErrorCode::InvalidField),
        };
        ApiError::bad_request(code, format!("request body: {text}"))
    })
}
