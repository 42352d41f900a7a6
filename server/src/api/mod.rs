//! The HTTP API: `fn app(state) -> Router`, the signed-request extractors,
//! and one module per resource.

mod accounts;
mod directory;
mod drills;
mod extract;
mod mailbox;
mod ops;
mod pairing;
mod reminders;

pub use extract::{caller_key, parse_json, Contact, Member, Unsigned, Unverified};

use crate::auth::{RateLimiter, ReplayCache};
use crate::delivery::target::{Resolve, SystemResolver};
use crate::engine::Engine;
use crate::error::ApiError;
use crate::net::{Caps, Connections};
use aman_protocol::routes::{self, Route, RouteInfo};
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on, MethodFilter};
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

/// Registers each handler at its route's path and method from the route
/// table ([`aman_protocol::routes`]): the router names no path of its own.
macro_rules! serve {
    ($router:expr, $($route:ty => $handler:expr,)*) => {{
        let router = $router;
        $(
            debug_assert!(routes::ALL.contains(&RouteInfo::of::<$route>()), "{} is not in routes::ALL", <$route>::PATH);
            let router = router.route(<$route>::PATH, on(method_filter(<$route>::METHOD), $handler));
        )*
        router
    }};
}

/// The router. Handlers answer only after their writes are durable. Every
/// route is one of [`aman_protocol::routes::ALL`] (the router test checks
/// that it serves that table, no more and no less).
pub fn app(state: AppState) -> Router {
    serve!(Router::new(),
        routes::GetServer => accounts::server_info,
        routes::Register => accounts::register,
        routes::Checkin => accounts::checkin,
        routes::RotateKeys => accounts::rotate_keys,
        routes::GetReminders => reminders::show,
        routes::SetReminders => reminders::set,
        routes::ListReminderTargets => reminders::list_targets,
        routes::AddReminderTarget => reminders::add_target,
        routes::RemoveReminderTarget => reminders::remove_target,
        routes::SendDrill => drills::send,
        routes::LatestDrill => drills::latest,
        routes::AddMailbox => pairing::add_mailbox,
        routes::PutDirectory => directory::put,
        routes::Heartbeats => mailbox::heartbeats,
        routes::GetDirectory => directory::get,
        routes::RetiredRegister => accounts::v1_retired,
        routes::GetAccount => accounts::status,
        routes::DeleteAccount => accounts::delete,
        routes::SetPolicy => accounts::set_policy,
        routes::CancelPendingPolicy => accounts::cancel_pending_policy,
        routes::UpdateSealedAlert => accounts::update_sealed,
        routes::RetiredRotateKeys => accounts::v1_retired,
        routes::RetiredCheckin => accounts::v1_retired,
        routes::Panic => accounts::panic,
        routes::CreatePairing => pairing::create,
        routes::GetPairing => pairing::state,
        routes::AnswerPairing => pairing::answer,
        routes::MailboxAlerts => mailbox::alerts,
        routes::AckAlert => mailbox::ack,
        routes::AlertDeliveries => mailbox::deliveries,
        routes::ListEndpoints => mailbox::list_endpoints,
        routes::AddEndpoint => mailbox::add_endpoint,
        routes::RemoveEndpoint => mailbox::remove_endpoint,
        routes::Healthz => ops::healthz,
        routes::OpenApi => ops::openapi,
    )
    .fallback(ops::not_found)
    .layer(middleware::from_fn_with_state(state.clone(), count_rejections))
    .with_state(state)
}

/// The router's filter for a method of the table.
fn method_filter(method: routes::Method) -> MethodFilter {
    match method {
        routes::Method::Get => MethodFilter::GET,
        routes::Method::Put => MethodFilter::PUT,
        routes::Method::Post => MethodFilter::POST,
        routes::Method::Delete => MethodFilter::DELETE,
    }
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
