//! Contact routes: the mailbox (with long-poll), acknowledgements, delivery
//! logs and notification endpoints.

use super::{parse_json, AppState, Confirmed, Contact};
use crate::delivery::target::vet;
use crate::engine::TargetReach;
use crate::error::ApiError;
use crate::net::RequestProgress;
use aman_protocol::api::ErrorCode;
use aman_protocol::api::{
    AddEndpoint, ChannelKind, DeliveryLog, EndpointAdded, EndpointList, HeartbeatList, MailboxContents,
};
use aman_protocol::{AccountId, AlertId, MailboxId};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Extension;
use axum::Json;
use std::time::Duration;

/// Longest a long-poll waits.
pub const MAX_WAIT_S: u64 = crate::config::LONGEST_POLL;

fn query_u64(query: Option<&str>, name: &str) -> Result<u64, ApiError> {
    let Some(q) = query else { return Ok(0) };
    for pair in q.split('&') {
        if let Some((k, v)) = pair.split_once('=') {
            if k == name {
                return v.parse().map_err(|_| {
                    ApiError::bad_request(ErrorCode::InvalidQuery, format!("{name} must be a whole number"))
                });
            }
        }
    }
    Ok(0)
}

fn alert_id(text: &str) -> Result<AlertId, ApiError> {
    text.parse().map_err(|e| ApiError::decode("alert id", e))
}

/// `GET /v2/mailbox/heartbeats`: the member's latest public heartbeat.
/// Answers at once: a check-in never wakes a waiting contact.
pub async fn heartbeats(State(state): State<AppState>, contact: Contact) -> Result<Json<HeartbeatList>, ApiError> {
    Ok(Json(state.engine.latest_heartbeat(&contact.mailbox)?))
}

/// `GET /v1/mailbox/alerts?since=CURSOR&wait=S`: returns at once what
/// changed after `since` if anything did, else waits up to `wait` seconds
/// for a change. While it waits it holds a place among the capped waiters
/// and nothing else; every read runs off the async workers.
pub async fn alerts(
    State(state): State<AppState>,
    progress: Option<Extension<RequestProgress>>,
    contact: Contact,
) -> Result<Json<MailboxContents>, ApiError> {
    let since = query_u64(contact.query.as_deref(), "since")?;
    let wait = query_u64(contact.query.as_deref(), "wait")?.min(MAX_WAIT_S);
    let (mailbox, owner) = (contact.mailbox, contact.member);
    let contents = read_changes(&state, mailbox, owner, since).await?;
    if wait == 0 || news(&contents, since) {
        return Ok(Json(contents));
    }
    drop(contents);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    let mut waiter = state.engine.wait_on_mailbox(mailbox, owner)?;
    // A change between the read above and the subscription would be missed:
    // look once more now that the waiter is in place.
    let contents = read_changes(&state, mailbox, owner, since).await?;
    if news(&contents, since) {
        return Ok(Json(contents));
    }
    drop(contents);
    // While it waits, the connection may be shed to make room for others.
    let progress = progress.as_ref().map(|Extension(p)| p);
    loop {
        progress.inspect(|p| p.waiting());
        let woken = tokio::time::timeout_at(deadline, waiter.changed()).await;
        progress.inspect(|p| p.answering());
        if woken.is_err() {
            drop(waiter);
            let nothing = MailboxContents { alerts: Vec::new(), notices: Vec::new(), cursor_ms: since, more: false };
            return Ok(Json(nothing));
        }
        let contents = read_changes(&state, mailbox, owner, since).await?;
        if news(&contents, since) {
            return Ok(Json(contents));
        }
    }
}

/// Whether a read has anything for the caller: contents, a cursor that
/// moved (past entries that are gone), or more to read.
fn news(contents: &MailboxContents, since: u64) -> bool {
    !contents.alerts.is_empty() || !contents.notices.is_empty() || contents.more || contents.cursor_ms != since
}

/// One incremental mailbox read, on a blocking thread, a few at a time.
async fn read_changes(
    state: &AppState,
    mailbox: MailboxId,
    owner: AccountId,
    since: u64,
) -> Result<MailboxContents, ApiError> {
    let engine = state.engine.clone();
    let turn = state.mailbox_reads.clone().acquire_owned().await.map_err(ApiError::internal)?;
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        engine.mailbox_changes(&mailbox, &owner, since)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::from)
}

/// `POST /v1/mailbox/alerts/{alert}/ack`.
pub async fn ack(State(state): State<AppState>, Path(alert): Path<String>, contact: Contact) -> Confirmed<StatusCode> {
    Ok(state.engine.acknowledge(&contact.mailbox, &alert_id(&alert)?)?.confirmed(StatusCode::NO_CONTENT).await?)
}

/// `GET /v1/mailbox/alerts/{alert}/deliveries`.
pub async fn deliveries(
    State(state): State<AppState>,
    Path(alert): Path<String>,
    contact: Contact,
) -> Result<Json<DeliveryLog>, ApiError> {
    Ok(Json(state.engine.delivery_log(&contact.mailbox, &alert_id(&alert)?)?))
}

/// `POST /v1/mailbox/endpoints`.
pub async fn add_endpoint(
    State(state): State<AppState>,
    contact: Contact,
) -> Confirmed<(StatusCode, Json<EndpointAdded>)> {
    let body: AddEndpoint = parse_json(&contact.body)?;
    let reach = target_reach(&state, &body).await;
    let (added, durable) = state.engine.add_endpoint(&contact.mailbox, &body, &reach)?;
    Ok(durable.confirmed((StatusCode::CREATED, Json(added))).await?)
}

/// Where a new notification target reaches (a contact's endpoint, a
/// member's reminder target). The DNS look-up happens here, not in the
/// engine; an e-mail address (or a kind the engine will refuse) is public.
pub(super) async fn target_reach(state: &AppState, add: &AddEndpoint) -> TargetReach {
    match add.kind {
        ChannelKind::Webhook | ChannelKind::Ntfy => match vet(state.resolver.as_ref(), &add.target).await {
            Ok(vetted) => vetted.reach,
            Err(why) => TargetReach::Internal(why),
        },
        ChannelKind::Email | ChannelKind::Unknown => TargetReach::Public,
    }
}

/// `GET /v1/mailbox/endpoints`.
pub async fn list_endpoints(State(state): State<AppState>, contact: Contact) -> Result<Json<EndpointList>, ApiError> {
    Ok(Json(EndpointList { endpoints: state.engine.list_endpoints(&contact.mailbox)? }))
}

/// `DELETE /v1/mailbox/endpoints/{id}`.
pub async fn remove_endpoint(
    State(state): State<AppState>,
    Path(id): Path<String>,
    contact: Contact,
) -> Confirmed<StatusCode> {
    let id: u8 = id.parse().map_err(|_| ApiError::bad_request(ErrorCode::InvalidValue, "endpoint id is a number"))?;
    Ok(state.engine.remove_endpoint(&contact.mailbox, id)?.confirmed(StatusCode::NO_CONTENT).await?)
}
