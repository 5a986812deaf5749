//! Route 6: counts for the support dashboard (admins and the booking platform).

use super::{ok, ApiError};
use crate::auth::Caller;
use crate::command::CommandError;
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use concierge_events::{Role, Timestamp};
use serde_json::json;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

#[utoipa::path(
    get,
    path = "/messaging/stats",
    operation_id = "getStats",
    tag = "admin",
    summary = "Counts for the support dashboard (admins and service tokens)",
    responses(
        (status = 200, description = "The counts", body = crate::http::openapi::Envelope<crate::http::openapi::Stats>),
        (status = 401, response = crate::http::openapi::Unauthorized),
        (status = 403, response = crate::http::openapi::Forbidden),
        (status = 429, response = crate::http::openapi::TooManyRequests),
        (status = 500, response = crate::http::openapi::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn stats(State(app): State<AppState>, caller: Caller) -> Result<Response, ApiError> {
    if caller.role == Role::Customer {
        return Err(CommandError::Forbidden(
            "only admins and the booking platform may read stats".into(),
        )
        .into());
    }
    let views = app.views.views();
    let s = views.stats()?;
    let last_24h = views.live_messages_since(Timestamp(Timestamp::now().millis() - DAY_MS))?;
    let online = app.realtime.presence.online();
    let avg = (s.first_response_count > 0)
        .then(|| s.first_response_ms_sum as f64 / s.first_response_count as f64 / 1000.0);
    Ok(ok(
        StatusCode::OK,
        "Stats retrieved",
        json!({
            "totalConversations": s.total_conversations,
            "conversationsByStatus": { "active": s.active, "archived": s.archived, "closed": s.closed },
            "totalMessages": s.total_messages,
            "messagesLast24h": last_24h,
            "onlineUsers": online.len(),
            "onlineCustomers": online.values().filter(|r| **r == Role::Customer).count(),
            "onlineAdmins": online.values().filter(|r| **r == Role::Admin).count(),
            "avgFirstResponseSeconds": avg,
        }),
    ))
}
