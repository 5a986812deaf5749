//! Route 6: counts for the support dashboard (admins and the booking platform), with the inbox's
//! response times and satisfaction (docs/inbox.md).

use super::{ok, ApiError};
use crate::auth::Caller;
use crate::command::{inbox, CommandError};
use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use concierge_events::{Role, Timestamp};
use serde_json::json;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// `{count, medianSeconds, p90Seconds}` of durations in ms (nearest rank; `null` when none).
fn durations(ms: &mut [i64]) -> serde_json::Value {
    ms.sort_unstable();
    let secs = |p| inbox::percentile(ms, p).map(|v| v as f64 / 1000.0);
    json!({ "count": ms.len(), "medianSeconds": secs(50), "p90Seconds": secs(90) })
}

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
    let now = Timestamp::now();
    let target_ms = app.config.sla_first_response.as_millis() as i64;
    let waiting_over = views
        .unanswered()?
        .iter()
        .filter(|asked| now.millis() - asked.millis() > target_ms)
        .count() as u64;
    let window = |days: i64| -> Result<serde_json::Value, ApiError> {
        let since = Timestamp(now.millis() - days * DAY_MS);
        let mut first = views.durations_since(true, since)?;
        let mut resolved = views.durations_since(false, since)?;
        let over = first.iter().filter(|ms| **ms > target_ms).count() as u64;
        Ok(json!({
            "firstResponse": durations(&mut first),
            "resolution": durations(&mut resolved),
            "overFirstResponseTarget": over + waiting_over,
        }))
    };
    let satisfaction = (s.rating_count > 0).then(|| s.rating_sum as f64 / s.rating_count as f64);
    Ok(ok(
        StatusCode::OK,
        "Stats retrieved",
        json!({
            "totalConversations": s.total_conversations,
            "conversationsByStatus": {
                "active": s.active, "archived": s.archived, "closed": s.closed, "snoozed": s.snoozed,
            },
            "totalMessages": s.total_messages,
            "messagesLast24h": last_24h,
            "onlineUsers": online.len(),
            "onlineCustomers": online.values().filter(|r| **r == Role::Customer).count(),
            "onlineAdmins": online.values().filter(|r| **r == Role::Admin).count(),
            "avgFirstResponseSeconds": avg,
            "responseTimes": {
                "firstResponseTargetSeconds": app.config.sla_first_response.as_secs(),
                "last24h": window(1)?,
                "last7d": window(7)?,
                "waitingOverTarget": waiting_over,
            },
            "satisfaction": { "average": satisfaction, "count": s.rating_count },
        }),
    ))
}
