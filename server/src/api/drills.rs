//! Member routes for drills: send one, see how the latest went.

use super::{parse_json, AppState, Confirmed, Member};
use crate::error::ApiError;
use aman_protocol::api::{DrillReply, DrillRequest, DrillStatus};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;

/// `POST /v2/account/drills`: a drill to every contact, after the dispatch delay.
pub async fn send(State(state): State<AppState>, member: Member) -> Confirmed<(StatusCode, Json<DrillReply>)> {
    if !member.body.is_empty() {
        let _: DrillRequest = parse_json(&member.body)?;
    }
    let (drill, durable) = state.engine.drill(&member.account)?;
    Ok(durable.confirmed((StatusCode::CREATED, Json(DrillReply { drill }))).await?)
}

/// `GET /v2/account/drills/latest`: the latest drill, per contact.
pub async fn latest(State(state): State<AppState>, member: Member) -> Result<Json<DrillStatus>, ApiError> {
    Ok(Json(state.engine.drill_status(&member.account)?))
}
