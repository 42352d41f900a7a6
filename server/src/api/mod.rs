//! The HTTP API: `fn app(state) -> Router`, the signed-request extractors,
//! and one module per resource.

mod accounts;
mod drills;
mod extract;
mod mailbox;
mod ops;
mod pairing;
mod reminders;

pub use extract::{caller_key, parse_json, Contact, Member, Unsigned, Unverified};
pub use ops::ROUTES;

use crate::auth::{RateLimiter, ReplayCache};
use crate::delivery::target::{Resolve, SystemResolver};
use crate::engine::Engine;
use crate::error::ApiError;
use crate::net::{Caps, Connections};
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The core.
    pub engine: Arc<Engine>,
    /// Nonces seen in the time window.
    pub replay: Arc<ReplayCache>,
    /// Requests counted against authenticated callers.
    pub callers: Arc<RateLimiter>,
    /// Failed or unauthenticated requests counted against address groups.
    pub addresses: Arc<RateLimiter>,
    /// Mailbox reads (store reads and decryption) running at once: the
    /// rest wait their turn holding nothing, so a burst of polls cannot
    /// hold a burst of mailbox contents in memory.
    pub mailbox_reads: Arc<tokio::sync::Semaphore>,
    /// The public listener's open connections, capped.
    pub connections: Arc<Connections>,
    /// Resolves notification targets when they are added.
    pub resolver: Arc<dyn Resolve>,
}

/// What a handler that writes returns: its reply, built by
/// `Durable::confirmed` once the write is on disk, so that a reply before
/// the flush does not compile (ARCHITECTURE.md, invariant 7).
pub type Confirmed<R> = Result<crate::store::Confirmed<R>, ApiError>;

impl<R: IntoResponse> IntoResponse for crate::store::Confirmed<R> {
    fn into_response(self) -> Response {
        self.into_inner().into_response()
    }
}

/// Keys each rate limiter counts in one minute (a few tens of bytes each):
/// beyond, new address groups are refused for the rest of the minute; only
/// an account's or mailbox's own requests can fill the callers'.
pub const LIMITER_CAPACITY: usize = 200_000;

/// Mailbox reads that run at once.
pub const CONCURRENT_MAILBOX_READS: usize = 4;

impl AppState {
    /// State around an engine, with the connection caps as configured.
    pub fn new(engine: Arc<Engine>) -> Self {
        let caps = Caps { total: engine.config.max_connections, per_group: engine.config.max_connections_per_address };
        Self::with_caps(engine, caps)
    }

    /// State around an engine, with these connection caps.
    pub fn with_caps(engine: Arc<Engine>, caps: Caps) -> Self {
        AppState {
            replay: Arc::new(ReplayCache::default()),
            callers: Arc::new(RateLimiter::new(LIMITER_CAPACITY)),
            addresses: Arc::new(RateLimiter::new(LIMITER_CAPACITY)),
            mailbox_reads: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_MAILBOX_READS)),
            connections: Connections::new(caps, engine.config.trusted_proxies.clone()),
            resolver: Arc::new(SystemResolver),
            engine,
        }
    }
}

/// The router. Handlers answer only after their writes are durable.
pub fn app(state: AppState) -> Router {
    Router::new()
        .route("/v2/server", get(accounts::server_info))
        .route("/v2/accounts", post(accounts::register))
        .route("/v2/checkin", post(accounts::checkin))
        .route("/v2/account/keys", put(accounts::rotate_keys))
        .route("/v2/account/reminders", get(reminders::show).put(reminders::set))
        .route("/v2/account/reminders/targets", get(reminders::list_targets).post(reminders::add_target))
        .route("/v2/account/reminders/targets/{id}", axum::routing::delete(reminders::remove_target))
        .route("/v2/account/drills", post(drills::send))
        .route("/v2/account/drills/latest", get(drills::latest))
        .route("/v2/mailbox/heartbeats", get(mailbox::heartbeats))
        .route("/v1/accounts", post(accounts::v1_retired))
        .route("/v1/account", get(accounts::status).delete(accounts::delete))
        .route("/v1/account/policy", put(accounts::set_policy))
        .route("/v1/account/policy/pending", axum::routing::delete(accounts::cancel_pending_policy))
        .route("/v1/account/sealed-alert", put(accounts::update_sealed))
        .route("/v1/account/keys", put(accounts::v1_retired))
        .route("/v1/checkin", post(accounts::v1_retired))
        .route("/v1/panic", post(accounts::panic))
        .route("/v1/pairings", post(pairing::create))
        .route("/v1/pairings/{invite}", get(pairing::state))
        .route("/v1/pairings/{invite}/reply", post(pairing::answer))
        .route("/v1/mailbox/alerts", get(mailbox::alerts))
        .route("/v1/mailbox/alerts/{alert}/ack", post(mailbox::ack))
        .route("/v1/mailbox/alerts/{alert}/deliveries", get(mailbox::deliveries))
        .route("/v1/mailbox/endpoints", get(mailbox::list_endpoints).post(mailbox::add_endpoint))
        .route("/v1/mailbox/endpoints/{id}", axum::routing::delete(mailbox::remove_endpoint))
        .route("/healthz", get(ops::healthz))
        .route("/openapi.json", get(ops::openapi))
        .fallback(ops::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), count_rejections))
        .with_state(state)
}

/// The metrics router, for its own listener (`metrics_listen`, loopback by
/// default): never on the public API, where anyone could watch counters move.
pub fn metrics_app(state: AppState) -> Router {
    Router::new().route("/metrics", get(ops::metrics)).with_state(state)
}

async fn count_rejections(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    if response.status().is_client_error() {
        state.engine.metrics.inc(&state.engine.metrics.rejected);
    }
    response
}
