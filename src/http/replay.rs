//! Routes 14 and 15: a conversation's raw events from the log, and the conversation as it stood
//! at a moment, folded from the log by the live views' own folds.

use super::extract::Params;
use super::openapi::MAX_INT;
use super::{ok, path_param, ApiError};
use crate::auth::Caller;
use crate::command::{access, CommandError};
use crate::history::{self, Moment};
use crate::log;
use crate::render;
use crate::state::AppState;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use concierge_events::{subject, Role};
use concierge_projections::views::{ConversationView, MessageView};
use serde::Serialize;
use serde_json::value::RawValue;

/// Route 14: the conversation's events as stored, each with its `seq`, oldest first after `after`.
#[utoipa::path(
    get,
    path = "/messaging/conversations/{conversationId}/events",
    operation_id = "listEvents",
    tag = "replay",
    summary = "The conversation's events as stored, oldest first (admins and service tokens)",
    params(("conversationId" = crate::http::openapi::Ulid, Path, description = "The conversation"), crate::http::openapi::EventQuery),
    responses(
        (status = 200, description = "A page of events", body = crate::http::openapi::Envelope<crate::http::openapi::EventPage>),
        (status = 400, response = crate::http::openapi::BadRequest),
        (status = 401, response = crate::http::openapi::Unauthorized),
        (status = 403, response = crate::http::openapi::Forbidden),
        (status = 404, response = crate::http::openapi::NotFound),
        (status = 429, response = crate::http::openapi::TooManyRequests),
        (status = 500, response = crate::http::openapi::Internal),
        (status = 503, response = crate::http::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
pub async fn events(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let id = path_param(path, "conversationId")?;
    access::conversation_id(&id, "conversationId")?;
    let q = Params::parse(q.as_deref());
    let after = q.int("after", 0, 0, MAX_INT)?;
    let limit = q.int("limit", 100, 1, 1000)?;
    known(&app, &id)?;
    if !matches!(caller.role, Role::Admin | Role::Service) {
        return Err(CommandError::Forbidden(
            "only admins and service tokens may replay a conversation's events".into(),
        )
        .into());
    }
    let stored = app
        .log
        .read_subject(&subject::conversation(&id), after, u64::MAX, limit as usize)
        .await
        .map_err(|reason| ApiError::LogUnavailable {
            what: "cannot read the event log",
            reason,
        })?;
    let next_after = stored.last().map(|(seq, _)| *seq);
    let events = stored
        .iter()
        .filter_map(|(seq, payload)| log::with_seq(*seq, payload))
        .collect();
    Ok(ok(
        StatusCode::OK,
        "Events retrieved",
        EventPage { events, next_after },
    ))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EventPage {
    events: Vec<Box<RawValue>>,
    next_after: Option<u64>,
}

/// Route 15: the conversation and its messages as they stood at `at` (a time or a `seq`).
#[utoipa::path(
    get,
    path = "/messaging/conversations/{conversationId}/history",
    operation_id = "getHistory",
    tag = "replay",
    summary = "The conversation and its messages as they stood at a moment (admins)",
    params(("conversationId" = crate::http::openapi::Ulid, Path, description = "The conversation"), crate::http::openapi::HistoryQuery),
    responses(
        (status = 200, description = "The conversation then", body = crate::http::openapi::Envelope<crate::http::openapi::History>),
        (status = 400, response = crate::http::openapi::BadRequest),
        (status = 401, response = crate::http::openapi::Unauthorized),
        (status = 403, response = crate::http::openapi::Forbidden),
        (status = 404, response = crate::http::openapi::NotFound),
        (status = 429, response = crate::http::openapi::TooManyRequests),
        (status = 500, response = crate::http::openapi::Internal),
        (status = 503, response = crate::http::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
pub async fn history(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let id = path_param(path, "conversationId")?;
    access::conversation_id(&id, "conversationId")?;
    let q = Params::parse(q.as_deref());
    let moment = q.get("at").and_then(Moment::parse).ok_or_else(|| {
        ApiError::Invalid("at must be an RFC 3339 time or a log sequence number".into())
    })?;
    known(&app, &id)?;
    crate::command::access::admin_only(&caller, "read a conversation's history")?;
    let then = history::at(&app.log, &id, moment)
        .await
        .map_err(|e| match e {
            history::HistoryError::Log(reason) => ApiError::LogUnavailable {
                what: "cannot read the event log",
                reason,
            },
            history::HistoryError::Store(e) => ApiError::from(e),
        })?
        .ok_or_else(|| {
            CommandError::NotFound("the conversation did not exist at that moment".into())
        })?;
    Ok(ok(
        StatusCode::OK,
        "Conversation history retrieved",
        HistoryOut {
            conversation: render::conversation_then(
                &then.conversation,
                &caller.user_id,
                &app.realtime.presence,
                then.held_at,
            ),
            messages: app.attachments.signer.messages(then.messages),
            as_of_seq: then.as_of_seq,
        },
    ))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HistoryOut {
    conversation: render::ConversationOut,
    messages: Vec<MessageView>,
    as_of_seq: u64,
}

/// The conversation's current view, or 404.
fn known(app: &AppState, id: &str) -> Result<ConversationView, ApiError> {
    app.views
        .views()
        .conversation(id)?
        .ok_or_else(|| CommandError::NotFound("conversation not found".into()).into())
}
