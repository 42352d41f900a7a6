//! Operational routes: health, metrics, the OpenAPI document, 404s.

use super::AppState;
use crate::engine::lock;
use crate::error::ApiError;
use aman_protocol::api::ErrorCode;
use aman_protocol::api::Health;
use aman_protocol::routes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde_json::{json, Map, Value};

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
    for route in routes::ALL {
        let entry = paths.entry(route.path.to_string()).or_insert_with(|| json!({}));
        let security = if route.auth.signed() { json!([{ "aman-signature": [] }]) } else { json!([]) };
        entry[route.method.lowercase()] = json!({
            "summary": route.summary,
            "x-aman-signer": route.auth.as_str(),
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
