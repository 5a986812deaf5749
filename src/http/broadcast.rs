//! Route 13: admin broadcasts.

use super::extract::RawBody;
use super::{ok, ApiError};
use crate::auth::Caller;
use crate::command::broadcast;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

/// Route 13: an admin's message to every customer, every admin, or both, on their sockets.
#[utoipa::path(
    post,
    path = "/messaging/admin/broadcast",
    operation_id = "broadcast",
    tag = "admin",
    summary = "Broadcast to every customer, admin, or both (admins)",
    request_body(content = crate::http::openapi::BroadcastBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Sent", body = crate::http::openapi::Envelope<crate::http::openapi::BroadcastSent>),
        (status = 400, response = crate::http::openapi::BadRequest),
        (status = 401, response = crate::http::openapi::Unauthorized),
        (status = 403, response = crate::http::openapi::Forbidden),
        (status = 413, response = crate::http::openapi::PayloadTooLarge),
        (status = 415, response = crate::http::openapi::UnsupportedMediaType),
        (status = 429, response = crate::http::openapi::TooManyRequests),
        (status = 500, response = crate::http::openapi::Internal),
        (status = 503, response = crate::http::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
pub async fn broadcast(
    State(app): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let body = RawBody::read(&headers, body).await;
    let sent = broadcast::broadcast(&app, &caller, || body.json()).await?;
    Ok(ok(StatusCode::OK, "Broadcast sent", sent))
}
