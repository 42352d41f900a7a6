//! Operational routes: health, metrics, the OpenAPI document, 404s.

use super::AppState;
use crate::engine::lock;
use crate::error::ApiError;
use aman_protocol::api::ErrorCode;
use aman_protocol::api::Health;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Map, Value};

/// Every route: method, path, who signs it, what it does. The OpenAPI
/// document is built from this table and a test checks the router serves
/// every entry.
pub const ROUTES: &[(&str, &str, &str, &str)] = &[
    ("get", "/v2/server", "none", "The server id and the X25519 key registrations and rotations are sealed to."),
    ("post", "/v2/accounts", "none", "Register a member: a registration sealed to the server (and an invite)."),
    (
        "post",
        "/v2/checkin",
        "heartbeat",
        "Check in: public heartbeat and mode proof (normal or duress; identical replies).",
    ),
    ("put", "/v2/account/keys", "member", "Replace the check-in keys by succession (after the cooling-off period)."),
    ("get", "/v2/account/reminders", "member", "The member's reminder offsets and targets."),
    (
        "put",
        "/v2/account/reminders",
        "member",
        "Set when the member is reminded: seconds before each due time and grace end.",
    ),
    ("get", "/v2/account/reminders/targets", "member", "List the member's own reminder targets."),
    (
        "post",
        "/v2/account/reminders/targets",
        "member",
        "Add a webhook, ntfy or e-mail target for the member's reminders.",
    ),
    ("delete", "/v2/account/reminders/targets/{id}", "member", "Remove a reminder target."),
    ("post", "/v2/account/drills", "member", "Send a drill to every contact (after the dispatch delay)."),
    ("get", "/v2/account/drills/latest", "member", "The latest drill, per contact."),
    ("get", "/v2/mailbox/heartbeats", "contact", "The member's latest public heartbeat (proof of life). Polled."),
    ("post", "/v1/accounts", "none", "Retired: 400 protocol_v1_unsupported."),
    ("get", "/v1/account", "member", "Status: counter, next deadline, policy, pending changes."),
    ("delete", "/v1/account", "member", "Delete the account after the cooling-off period."),
    ("put", "/v1/account/policy", "member", "Set interval, grace, pause, contacts and escalation delays."),
    ("delete", "/v1/account/policy/pending", "member", "Drop the policy change waiting out its cooling-off."),
    ("put", "/v1/account/sealed-alert", "member", "Replace the sealed alert on record."),
    ("put", "/v1/account/keys", "none", "Retired: 400 protocol_v1_unsupported."),
    ("post", "/v1/checkin", "none", "Retired: 400 protocol_v1_unsupported."),
    ("post", "/v1/panic", "member", "Fire a panic alert now."),
    ("post", "/v1/pairings", "member", "Open a pairing relay slot for an invite id."),
    ("get", "/v1/pairings/{invite}", "member", "Fetch the contact's encrypted enrollment."),
    ("post", "/v1/pairings/{invite}/reply", "new-mailbox", "Answer an invite; registers the contact's mailbox."),
    ("get", "/v1/mailbox/alerts", "contact", "Alerts and notices; long-poll with since= and wait=."),
    ("post", "/v1/mailbox/alerts/{alert}/ack", "contact", "Acknowledge an alert; stops escalation."),
    ("get", "/v1/mailbox/alerts/{alert}/deliveries", "contact", "An alert's delivery log."),
    ("get", "/v1/mailbox/endpoints", "contact", "List notification endpoints."),
    ("post", "/v1/mailbox/endpoints", "contact", "Add a webhook, ntfy or e-mail endpoint."),
    ("delete", "/v1/mailbox/endpoints/{id}", "contact", "Remove a notification endpoint."),
    ("get", "/healthz", "none", "Liveness."),
    ("get", "/openapi.json", "none", "This document."),
];

/// `GET /healthz`.
pub async fn healthz(State(state): State<AppState>) -> Json<Health> {
    Json(Health { status: "ok".into(), time: state.engine.clock.now() })
}

/// `GET /metrics`, on the metrics listener only.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let armed = lock(&state.engine.schedule).armed();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.engine.metrics.render(armed, state.engine.mailbox_wakes.waiting(), state.connections.counts()),
    )
}

/// `GET /openapi.json`.
pub async fn openapi() -> Json<Value> {
    let mut paths = Map::new();
    for (method, path, auth, summary) in ROUTES {
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        let security =
            if matches!(*auth, "none" | "heartbeat") { json!([]) } else { json!([{ "aman-signature": [] }]) };
        entry[*method] = json!({
            "summary": summary,
            "x-aman-signer": auth,
            "security": security,
            "responses": {
                "2XX": { "description": "success" },
                "4XX": { "description": "rejected", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            }
        });
    }
    Json(json!({
        "openapi": "3.0.3",
        "info": { "title": "Aman API", "version": env!("CARGO_PKG_VERSION"),
                  "description": "See PROTOCOL.md for the signed request format and every envelope." },
        "paths": paths,
        "components": {
            "schemas": { "Error": { "type": "object", "required": ["code", "message"],
                "properties": { "code": { "type": "string" }, "message": { "type": "string" } } } },
            "securitySchemes": { "aman-signature": { "type": "apiKey", "in": "header", "name": "aman-signature",
                "description": "Ed25519 over the canonical request encoding; with aman-caller, aman-time, aman-nonce." } }
        }
    }))
}

/// Anything else.
pub async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, ErrorCode::NoRoute, "no such route")
}
