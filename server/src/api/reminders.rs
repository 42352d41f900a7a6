//! The member's reminders: its own notification targets and when, before
//! each due time and grace end, it is reminded.

use super::{parse_json, AppState, Confirmed, Member};
use crate::error::ApiError;
use aman_protocol::api::ErrorCode;
use aman_protocol::api::{AddEndpoint, EndpointAdded, EndpointList, ReminderSettings, Reminders};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

/// `GET /v2/account/reminders`.
pub async fn show(State(state): State<AppState>, member: Member) -> Result<Json<Reminders>, ApiError> {
    Ok(Json(state.engine.reminders(&member.account)?))
}

/// `PUT /v2/account/reminders`.
pub async fn set(State(state): State<AppState>, member: Member) -> Confirmed<StatusCode> {
    let body: ReminderSettings = parse_json(&member.body)?;
    Ok(state.engine.set_reminders(&member.account, &body.before)?.confirmed(StatusCode::NO_CONTENT).await?)
}

/// `GET /v2/account/reminders/targets`.
pub async fn list_targets(State(state): State<AppState>, member: Member) -> Result<Json<EndpointList>, ApiError> {
    Ok(Json(EndpointList { endpoints: state.engine.reminders(&member.account)?.targets }))
}

/// `POST /v2/account/reminders/targets`: vetted as a contact's endpoint.
pub async fn add_target(State(state): State<AppState>, member: Member) -> Confirmed<(StatusCode, Json<EndpointAdded>)> {
    let body: AddEndpoint = parse_json(&member.body)?;
    let reach = super::mailbox::target_reach(&state, &body).await;
    let (added, durable) = state.engine.add_reminder_target(&member.account, &body, &reach)?;
    Ok(durable.confirmed((StatusCode::CREATED, Json(added))).await?)
}

/// `DELETE /v2/account/reminders/targets/{id}`.
pub async fn remove_target(
    State(state): State<AppState>,
    Path(id): Path<String>,
    member: Member,
) -> Confirmed<StatusCode> {
    let id: u8 = id.parse().map_err(|_| ApiError::bad_request(ErrorCode::InvalidValue, "target id is a number"))?;
    Ok(state.engine.remove_reminder_target(&member.account, id)?.confirmed(StatusCode::NO_CONTENT).await?)
}
