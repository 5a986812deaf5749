//! The admins' view of webhook dead letters (docs/webhooks.md, "Dead letters"): the list, and
//! queuing one again, as `concierge webhooks failed|redeliver` do.

use super::{ok, path_param, ApiError};
use crate::auth::Caller;
use crate::command::{access, CommandError};
use crate::state::AppState;
use crate::webhooks::queue::{DeadLetter, QueueError, Queues};
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use concierge_events::Timestamp;
use serde::Serialize;

impl From<QueueError> for ApiError {
    fn from(e: QueueError) -> ApiError {
        match e {
            QueueError::Log(reason) => ApiError::LogUnavailable {
                what: "the webhook queues cannot be reached",
                reason,
            },
            QueueError::NotSetUp => QueueError::UnknownDeadLetter(String::new()).into(),
            QueueError::UnknownDeadLetter(_) => {
                ApiError::Command(CommandError::NotFound("dead letter not found".into()))
            }
        }
    }
}

/// The queues, or `None` when webhooks were never turned on for this log.
async fn queues(app: &AppState) -> Result<Option<Queues>, ApiError> {
    Ok(Queues::open(app.log.jetstream())
        .await
        .map_err(QueueError::Log)?)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DeadLetters {
    dead_letters: Vec<DeadLetter>,
}

/// Every dead letter, oldest failure first.
#[utoipa::path(
    get,
    path = "/messaging/webhooks/failed",
    operation_id = "listFailedWebhooks",
    tag = "webhooks",
    summary = "The webhook deliveries that failed until WEBHOOK_MAX_AGE (admins)",
    responses(
        (status = 200, description = "The dead letters, oldest failure first (none when webhooks are off)", body = crate::http::openapi::Envelope<crate::http::openapi::DeadLetterList>),
        (status = 401, response = crate::http::openapi::Unauthorized),
        (status = 403, response = crate::http::openapi::Forbidden),
        (status = 429, response = crate::http::openapi::TooManyRequests),
        (status = 500, response = crate::http::openapi::Internal),
        (status = 503, response = crate::http::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
pub async fn list_failed(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    access::admin_only(&caller, "see failed webhooks")?;
    let dead_letters = match queues(&app).await? {
        Some(q) => q.dead_letters().await.map_err(QueueError::Log)?,
        None => Vec::new(),
    };
    Ok(ok(
        StatusCode::OK,
        "Failed webhooks retrieved",
        DeadLetters { dead_letters },
    ))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Redelivered {
    id: String,
    url: String,
    #[serde(rename = "type")]
    kind: String,
    created_at: Timestamp,
}

/// Queues a dead letter again: same `webhook-id` and body, a new `WEBHOOK_MAX_AGE` from now.
#[utoipa::path(
    post,
    path = "/messaging/webhooks/failed/{deliveryId}/redeliver",
    operation_id = "redeliverWebhook",
    tag = "webhooks",
    summary = "Queue a failed webhook delivery again (admins)",
    params(("deliveryId" = crate::http::openapi::DeliveryId, Path, description = "The delivery's webhook-id")),
    responses(
        (status = 202, description = "Queued again; a node delivers it", body = crate::http::openapi::Envelope<crate::http::openapi::Redelivered>),
        (status = 401, response = crate::http::openapi::Unauthorized),
        (status = 403, response = crate::http::openapi::Forbidden),
        (status = 404, response = crate::http::openapi::NotFound),
        (status = 429, response = crate::http::openapi::TooManyRequests),
        (status = 500, response = crate::http::openapi::Internal),
        (status = 503, response = crate::http::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
pub async fn redeliver(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_param(path, "deliveryId")?;
    access::admin_only(&caller, "redeliver webhooks")?;
    let queues = queues(&app).await?.ok_or(QueueError::NotSetUp)?;
    let d = queues.redeliver(&id).await?;
    Ok(ok(
        StatusCode::ACCEPTED,
        "Webhook queued again",
        Redelivered {
            id: d.id,
            url: d.url,
            kind: d.kind,
            created_at: d.created_at,
        },
    ))
}
