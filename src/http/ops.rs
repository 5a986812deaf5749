//! Liveness, readiness and Prometheus metrics; no authentication.

use super::ok;
use crate::command::CommandError;
use crate::log::LogError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

pub async fn health() -> Response {
    ok(StatusCode::OK, "ok", json!({ "status": "ok" }))
}

/// 200 only while the log is connected and this node has folded everything in it.
pub async fn ready(State(app): State<AppState>) -> Response {
    if app.progress.is_ready() {
        ok(
            StatusCode::OK,
            "ready",
            json!({ "status": "ready", "folded": app.progress.folded() }),
        )
    } else {
        let reason = if app.log.is_connected() {
            LogError::CatchingUp
        } else {
            LogError::Disconnected
        };
        super::ApiError::Command(CommandError::Unavailable(reason)).into_response()
    }
}

pub async fn metrics(State(app): State<AppState>) -> Response {
    let body = app.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}
