//! The member's sealed server directory: the member replaces it, its
//! contacts read it.

use super::{parse_json, AppState, Confirmed, Contact, Member};
use crate::error::ApiError;
use aman_protocol::api::{DirectoryReply, DirectoryUpdate};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

/// `PUT /v2/account/directory` (member).
pub async fn put(State(state): State<AppState>, member: Member) -> Confirmed<StatusCode> {
    let body: DirectoryUpdate = parse_json(&member.body)?;
    Ok(state.engine.set_directory(&member.account, &body.directory.0)?.confirmed(StatusCode::NO_CONTENT).await?)
}

/// `GET /v2/mailbox/directory` (contact). Answers at once, like heartbeats.
pub async fn get(State(state): State<AppState>, contact: Contact) -> Result<Json<DirectoryReply>, ApiError> {
    Ok(Json(state.engine.directory_for(&contact.mailbox)?))
}
