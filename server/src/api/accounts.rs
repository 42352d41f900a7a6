//! Member routes: register, check in, update the sealed alert, panic,
//! policy, status, delete.

use super::{caller_key, parse_json, AppState, Confirmed, Member, Unsigned};
use crate::error::ApiError;
use aman_protocol::api::ErrorCode;
use aman_protocol::api::{
    CheckinReply, CheckinRequest, PanicReply, PanicRequest, Policy, PolicyReply, RegisterAccount, Registered,
    RotateKeys, SealedAlertUpdate, ServerInfo,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// `GET /v2/server`: the server id and `S_pk`. Unsigned.
pub async fn server_info(State(state): State<AppState>) -> Json<ServerInfo> {
    Json(state.engine.server_info())
}

/// `POST /v2/accounts`: unsigned; the sealed registration is signed by the
/// identity it names.
/// Every attempt is counted against its address, before any work: members
/// register once, and opening a registration is the costliest thing an
/// unauthenticated caller can ask for.
pub async fn register(
    State(state): State<AppState>,
    Unsigned(body, peer): Unsigned,
) -> Confirmed<(StatusCode, Json<Registered>)> {
    peer.counted(&state, Ok(()))?;
    let body: RegisterAccount = parse_json(&body)?;
    let (account, durable) = state.engine.register(body.invite.as_deref(), &body.registration.0)?;
    Ok(durable.confirmed((StatusCode::CREATED, Json(Registered { account }))).await?)
}

/// `POST /v2/checkin`: no request signature (the heartbeat and its mode
/// proof authenticate it); the reply is byte-identical for normal and duress.
/// A check-in that authenticates is counted against its account (before
/// anything is written, the same in both modes); one that does not, against
/// its address only.
pub async fn checkin(State(state): State<AppState>, Unsigned(body, peer): Unsigned) -> Confirmed<Json<CheckinReply>> {
    let body: CheckinRequest = parse_json(&body).map_err(|e| peer.failed(&state, e))?;
    let sealed = body.sealed_alert.as_ref().map(|s| s.0.as_slice());
    let (limiter, per_minute, now) = (&state.callers, state.engine.config.rate_limit_account, state.engine.clock.now());
    let admit = |account: &aman_protocol::AccountId| limiter.allow(&caller_key(account.as_bytes()), per_minute, now);
    let (reply, durable) =
        state.engine.checkin(&body.heartbeat.0, &body.proof.0, sealed, &admit).map_err(|e| match e.code {
            // What anyone holding an old check-in can send: its address pays.
            ErrorCode::Unauthorized | ErrorCode::StaleCounter | ErrorCode::ClockSkew => peer.failed(&state, e.into()),
            _ => e.into(),
        })?;
    Ok(durable.confirmed(Json(reply)).await?)
}

/// The version-1 routes whose formats version 2 replaced: a clear 400 with
/// one stable code, so an old client says "update" instead of guessing.
pub async fn v1_retired() -> ApiError {
    ApiError::bad_request(
        ErrorCode::ProtocolV1Unsupported,
        "this server speaks Aman protocol version 2 (POST /v2/checkin, /v2/accounts, PUT /v2/account/keys); update the aman client",
    )
}

/// `PUT /v1/account/sealed-alert`.
pub async fn update_sealed(State(state): State<AppState>, member: Member) -> Confirmed<StatusCode> {
    let body: SealedAlertUpdate = parse_json(&member.body)?;
    Ok(state.engine.update_sealed(&member.account, &body.sealed_alert.0)?.confirmed(StatusCode::NO_CONTENT).await?)
}

/// `POST /v1/panic`.
pub async fn panic(State(state): State<AppState>, member: Member) -> Confirmed<Json<PanicReply>> {
    let body: PanicRequest = if member.body.is_empty() { PanicRequest::default() } else { parse_json(&member.body)? };
    let sealed = body.sealed_alert.as_ref().map(|s| s.0.as_slice());
    let (alert, durable) = state.engine.panic(&member.account, sealed)?;
    Ok(durable.confirmed(Json(PanicReply { alert })).await?)
}

/// `PUT /v1/account/policy`.
pub async fn set_policy(State(state): State<AppState>, member: Member) -> Confirmed<(StatusCode, Json<PolicyReply>)> {
    let policy: Policy = parse_json(&member.body)?;
    let (reply, durable) = state.engine.set_policy(&member.account, policy)?;
    let status = if reply.applied { StatusCode::OK } else { StatusCode::ACCEPTED };
    Ok(durable.confirmed((status, Json(reply))).await?)
}

/// `DELETE /v1/account/policy/pending`: drops the policy change waiting
/// out its cooling-off (it strengthens, so it applies at once).
pub async fn cancel_pending_policy(State(state): State<AppState>, member: Member) -> Confirmed<Json<PolicyReply>> {
    let (reply, durable) = state.engine.cancel_pending_policy(&member.account)?;
    Ok(durable.confirmed(Json(reply)).await?)
}

/// `PUT /v2/account/keys`: new check-in keys, after the cooling-off period.
pub async fn rotate_keys(State(state): State<AppState>, member: Member) -> Confirmed<(StatusCode, Json<PolicyReply>)> {
    let body: RotateKeys = parse_json(&member.body)?;
    let (reply, durable) = state.engine.rotate_keys(&member.account, &body.rotation.0)?;
    Ok(durable.confirmed((StatusCode::ACCEPTED, Json(reply))).await?)
}

/// `GET /v1/account`.
pub async fn status(State(state): State<AppState>, member: Member) -> Result<Response, ApiError> {
    Ok(Json(state.engine.status(&member.account)?).into_response())
}

/// `DELETE /v1/account`: applies after the cooling-off period.
pub async fn delete(State(state): State<AppState>, member: Member) -> Confirmed<(StatusCode, Json<PolicyReply>)> {
    let (reply, durable) = state.engine.request_delete(&member.account)?;
    Ok(durable.confirmed((StatusCode::ACCEPTED, Json(reply))).await?)
}
