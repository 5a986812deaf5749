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
