//! Liveness, readiness and Prometheus metrics; no authentication.

use super::ok;
use crate::log::LogError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

#[utoipa::path(
    get,
    path = "/health",
    operation_id = "health",
    tag = "operations",
    summary = "Liveness",
    responses(
        (status = 200, description = "Alive", body = crate::http::openapi::Envelope<crate::http::openapi::Health>),
    ),
)]
pub async fn health() -> Response {
    ok(StatusCode::OK, "ok", json!({ "status": "ok" }))
}

/// 200 only while the log is connected, this node has folded everything in it and is not draining;
/// at start-up, also not before the search index first caught up with the log.
#[utoipa::path(
    get,
    path = "/ready",
    operation_id = "ready",
    tag = "operations",
    summary = "Readiness: connected to the log and caught up",
    responses(
        (status = 200, description = "Ready", body = crate::http::openapi::Envelope<crate::http::openapi::Ready>),
        (status = 503, response = crate::http::openapi::Unavailable),
    ),
)]
pub async fn ready(State(app): State<AppState>) -> Response {
    if app.drain.is_draining() {
        return super::ApiError::Draining.into_response();
    }
    if let Some(blocked) = app.progress.blocked() {
        return super::ApiError::NotReady(format!("not ready: {blocked}")).into_response();
    }
    let presence = &app.realtime.presence;
    if app.progress.is_ready() && !app.search.progress.has_caught_up() {
        return super::ApiError::NotReady(
            "not ready: the search index is still catching up with the log".into(),
        )
        .into_response();
    }
    if app.progress.is_ready() && presence.is_synced() {
        let level = app.progress.level();
        ok(
            StatusCode::OK,
            "ready",
            json!({
                "status": "ready",
                "folded": app.progress.folded(),
                "eventLevel": level,
                "clusterEventLevel": presence.lowest_level(level).0,
            }),
        )
    } else if app.progress.is_ready() {
        super::ApiError::NotReady("not ready: still learning the other nodes".into())
            .into_response()
    } else {
        let reason = if app.log.is_connected() {
            LogError::CatchingUp
        } else {
            LogError::Disconnected
        };
        super::ApiError::LogUnavailable {
            what: "not ready",
            reason,
        }
        .into_response()
    }
}

#[utoipa::path(
    get,
    path = "/metrics",
    operation_id = "metrics",
    tag = "operations",
    summary = "Prometheus metrics",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
    ),
)]
pub async fn metrics(State(app): State<AppState>) -> Response {
    let body = app.metrics.as_ref().map(|h| h.render()).unwrap_or_default();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// Registers the counters, gauges and summaries that only move on rare events (undecodable or
/// skipped events, a fold blocked on an event, slow consumers, attachments) at zero, for every label they take, so that `/metrics` serves them from the
/// start and a dashboard's or an alert's `rate()` over them has a series before the first event.
pub fn register_metrics() {
    use crate::realtime::{event::Wire, registry::Slow};
    metrics::counter!("concierge_events_undecodable_total").absolute(0);
    metrics::counter!("concierge_events_skipped_by_operator_total").absolute(0);
    for projection in ["views", "search"] {
        metrics::counter!("concierge_events_folded_total", "projection" => projection).absolute(0);
        metrics::gauge!("concierge_projection_blocked_seq", "projection" => projection).set(0.0);
    }
    metrics::gauge!("concierge_ws_connections").set(0.0);
    metrics::counter!("concierge_attachments_uploaded_total").absolute(0);
    metrics::counter!("concierge_attachments_uploaded_bytes_total").absolute(0);
    metrics::counter!("concierge_attachments_served_total").absolute(0);
    for why in ["deleted", "orphaned", "chunks"] {
        metrics::counter!("concierge_attachments_swept_total", "why" => why).absolute(0);
    }
    for wire in [Wire::WebSocket, Wire::SocketIo] {
        let _registered =
            metrics::histogram!("concierge_socket_queue_peak_bytes", "transport" => wire.label());
        for why in [Slow::OverBytes, Slow::HardCap, Slow::WriteStalled] {
            metrics::counter!(
                "concierge_slow_consumer_closes_total",
                "transport" => wire.label(),
                "reason" => why.label()
            )
            .absolute(0);
        }
    }
}
