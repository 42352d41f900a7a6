//! Pairing relay routes.

use super::{parse_json, AppState, Confirmed, Member, Unverified};
use crate::error::ApiError;
use aman_protocol::api::{AddMailbox, CreatePairing, PairingAnswer, PairingState};
use aman_protocol::InviteId;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

fn invite_id(text: &str) -> Result<InviteId, ApiError> {
    text.parse().map_err(|e| ApiError::decode("invite id", e))
}

/// `POST /v1/pairings` (member).
pub async fn create(State(state): State<AppState>, member: Member) -> Confirmed<StatusCode> {
    let body: CreatePairing = parse_json(&member.body)?;
    let durable = state.engine.create_pairing(&member.account, body.invite, body.expires_at)?;
    Ok(durable.confirmed(StatusCode::CREATED).await?)
}

/// `POST /v2/account/mailboxes` (member): registers a contact's mailbox
/// paired on another of the member's servers.
pub async fn add_mailbox(State(state): State<AppState>, member: Member) -> Confirmed<StatusCode> {
    let body: AddMailbox = parse_json(&member.body)?;
    Ok(state.engine.add_mailbox(&member.account, &body)?.confirmed(StatusCode::NO_CONTENT).await?)
}

/// `GET /v1/pairings/{invite}` (member).
pub async fn state(
    State(state): State<AppState>,
    Path(invite): Path<String>,
    member: Member,
) -> Result<Json<PairingState>, ApiError> {
    Ok(Json(state.engine.pairing_state(&member.account, &invite_id(&invite)?)?))
}

/// `POST /v1/pairings/{invite}/reply` (contact; registers its mailbox).
pub async fn answer(
    State(state): State<AppState>,
    Path(invite): Path<String>,
    req: Unverified,
) -> Confirmed<StatusCode> {
    // An answer to no waiting slot is counted against its address (it
    // cost a read); one to a waiting slot against that slot (see
    // `verify_self_keyed`).
    let checked = (|| {
        let invite = invite_id(&invite)?;
        let body: PairingAnswer = parse_json(&req.body)?;
        if body.mailbox.as_bytes() != &req.auth.caller {
            return Err(ApiError::unauthorized());
        }
        // Cheap before costly: no signature check, no nonce remembered,
        // for an answer to a slot that is not waiting.
        state.engine.pairing_waits(&invite)?;
        Ok((invite, body))
    })();
    let (invite, body) = match checked {
        Ok(found) => found,
        Err(e) => return Err(req.peer.failed(&state, e)),
    };
    let mut slot = vec![b'p'];
    slot.extend_from_slice(invite.as_bytes());
    req.verify_self_keyed(&state, body.identity, &slot)?;
    Ok(state.engine.answer_pairing(&invite, &body)?.confirmed(StatusCode::CREATED).await?)
}
