//! The support inbox's routes (docs/inbox.md): a conversation's assignee, labels, priority and the
//! customer's rating; the admins' canned replies.

use super::extract::RawBody;
use super::{ok, path_param, ApiError};
use crate::auth::Caller;
use crate::command::inbox;
use crate::render;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use concierge_events::Timestamp;
use concierge_projections::views::{CannedReplyView, ConversationView};
use serde::Serialize;

fn conversation(
    app: &AppState,
    caller: &Caller,
    conv: &ConversationView,
    message: &str,
) -> Response {
    ok(
        StatusCode::OK,
        message,
        render::conversation(conv, &caller.user_id, &app.realtime.presence),
    )
}

/// Gives the conversation to an admin, or to nobody.
#[utoipa::path(
    put,
    path = "/messaging/conversations/{conversationId}/assignee",
    operation_id = "setAssignee",
    tag = "inbox",
    summary = "Assign the conversation to an admin, or to nobody (admins)",
    params(("conversationId" = crate::http::openapi::Ulid, Path, description = "The conversation")),
    request_body(content = crate::http::openapi::SetAssignee, content_type = "application/json"),
    responses(
        (status = 200, description = "The conversation with its assignee", body = crate::http::openapi::Envelope<crate::http::openapi::Conversation>),
        (status = 400, response = crate::http::openapi::BadRequest),
        (status = 401, response = crate::http::openapi::Unauthorized),
        (status = 403, response = crate::http::openapi::Forbidden),
        (status = 404, response = crate::http::openapi::NotFound),
        (status = 413, response = crate::http::openapi::PayloadTooLarge),
        (status = 415, response = crate::http::openapi::UnsupportedMediaType),
        (status = 429, response = crate::http::openapi::TooManyRequests),
        (status = 500, response = crate::http::openapi::Internal),
        (status = 503, response = crate::http::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
pub async fn set_assignee(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let id = path_param(path, "conversationId")?;
    let body = RawBody::read(&headers, body).await;
    let conv = inbox::assign(&app, &caller, &id, || body.json()).await?;
    Ok(conversation(&app, &caller, &conv, "Conversation assigned"))
}

/// Replaces the conversation's labels.
#[utoipa::path(
    put,
    path = "/messaging/conversations/{conversationId}/labels",
    operation_id = "setLabels",
    tag = "inbox",
    summary = "Replace the conversation's labels (admins)",
    params(("conversationId" = crate::http::openapi::Ulid, Path, description = "The conversation")),
    request_body(content = crate::http::openapi::SetLabels, content_type = "application/json"),
    responses(
        (status = 200, description = "The conversation with its labels", body = crate::http::openapi::Envelope<crate::http::openapi::Conversation>),
        (status = 400, response = crate::http::openapi::BadRequest),
        (status = 401, response = crate::http::openapi::Unauthorized),
        (status = 403, response = crate::http::openapi::Forbidden),
        (status = 404, response = crate::http::openapi::NotFound),
        (status = 413, response = crate::http::openapi::PayloadTooLarge),
        (status = 415, response = crate::http::openapi::UnsupportedMediaType),
        (status = 429, response = crate::http::openapi::TooManyRequests),
        (status = 500, response = crate::http::openapi::Internal),
        (status = 503, response = crate::http::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
pub async fn set_labels(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let id = path_param(path, "conversationId")?;
    let body = RawBody::read(&headers, body).await;
    let conv = inbox::set_labels(&app, &caller, &id, || body.json()).await?;
    Ok(conversation(
        &app,
        &caller,
        &conv,
        "Conversation labels updated",
    ))
}

/// Sets the conversation's priority.
#[utoipa::path(
    put,
    path = "/messaging/conversations/{conversationId}/priority",
    operation_id = "setPriority",
    tag = "inbox",
    summary = "Set the conversation's priority (admins)",
    params(("conversationId" = crate::http::openapi::Ulid, Path, description = "The conversation")),
    request_body(content = crate::http::openapi::SetPriority, content_type = "application/json"),
    responses(
        (status = 200, description = "The conversation with its priority", body = crate::http::openapi::Envelope<crate::http::openapi::Conversation>),
        (status = 400, response = crate::http::openapi::BadRequest),
        (status = 401, response = crate::http::openapi::Unauthorized),
        (status = 403, response = crate::http::openapi::Forbidden),
        (status = 404, response = crate::http::openapi::NotFound),
        (status = 413, response = crate::http::openapi::PayloadTooLarge),
        (status = 415, response = crate::http::openapi::UnsupportedMediaType),
        (status = 429, response = crate::http::openapi::TooManyRequests),
        (status = 500, response = crate::http::openapi::Internal),
        (status = 503, response = crate::http::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
pub async fn set_priority(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let id = path_param(path, "conversationId")?;
    let body = RawBody::read(&headers, body).await;
    let conv = inbox::set_priority(&app, &caller, &id, || body.json()).await?;
    Ok(conversation(
        &app,
        &caller,
        &conv,
        "Conversation priority updated",
    ))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rated {
    conversation_id: String,
    score: u8,
    comment: Option<String>,
    rated_at: Timestamp,
}

/// The customer rates their closed conversation, once.
#[utoipa::path(
    post,
    path = "/messaging/conversations/{conversationId}/rating",
    operation_id = "rateConversation",
    tag = "inbox",
    summary = "Rate a closed conversation, once (its customer)",
    params(("conversationId" = crate::http::openapi::Ulid, Path, description = "The conversation")),
    request_body(content = crate::http::openapi::RateConversation, content_type = "application/json"),
    responses(
        (status = 201, description = "The rating, written to the log", body = crate::http::openapi::Envelope<crate::http::openapi::Rating>),
        (status = 400, response = crate::http::openapi::BadRequest),
        (status = 401, response = crate::http::openapi::Unauthorized),
        (status = 403, response = crate::http::openapi::Forbidden),
        (status = 404, response = crate::http::openapi::NotFound),
        (status = 409, response = crate::http::openapi::Conflict),
        (status = 413, response = crate::http::openapi::PayloadTooLarge),
        (status = 415, response = crate::http::openapi::UnsupportedMediaType),
        (status = 429, response = crate::http::openapi::TooManyRequests),
        (status = 500, response = crate::http::openapi::Internal),
        (status = 503, response = crate::http::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
pub async fn rate(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let id = path_param(path, "conversationId")?;
    let body = RawBody::read(&headers, body).await;
    let (conversation_id, r) = inbox::rate(&app, &caller, &id, || body.json()).await?;
    Ok(ok(
        StatusCode::CREATED,
        "Thanks for your rating",
        Rated {
            conversation_id,
            score: r.score,
            comment: r.comment,
            rated_at: r.rated_at,
        },
    ))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CannedReplies {
    canned_replies: Vec<CannedReplyView>,
}

/// Every canned reply, by shortcut.
#[utoipa::path(
    get,
    path = "/messaging/canned-replies",
    operation_id = "listCannedReplies",
    tag = "inbox",
    summary = "Every canned reply, by shortcut (admins)",
    responses(
        (status = 200, description = "The canned replies", body = crate::http::openapi::Envelope<crate::http::openapi::CannedReplyList>),
        (status = 401, response = crate::http::openapi::Unauthorized),
        (status = 403, response = crate::http::openapi::Forbidden),
        (status = 429, response = crate::http::openapi::TooManyRequests),
        (status = 500, response = crate::http::openapi::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn list_canned(
    State(app): State<AppState>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let canned_replies = inbox::canned_replies(&app, &caller)?;
    Ok(ok(
        StatusCode::OK,
        "Canned replies retrieved",
        CannedReplies { canned_replies },
    ))
}

/// One canned reply.
#[utoipa::path(
    get,
    path = "/messaging/canned-replies/{shortcut}",
    operation_id = "getCannedReply",
    tag = "inbox",
    summary = "One canned reply (admins)",
    params(("shortcut" = crate::http::openapi::Shortcut, Path, description = "The reply's shortcut")),
    responses(
        (status = 200, description = "The canned reply", body = crate::http::openapi::Envelope<crate::http::openapi::CannedReply>),
        (status = 400, response = crate::http::openapi::BadRequest),
        (status = 401, response = crate::http::openapi::Unauthorized),
        (status = 403, response = crate::http::openapi::Forbidden),
        (status = 404, response = crate::http::openapi::NotFound),
        (status = 429, response = crate::http::openapi::TooManyRequests),
        (status = 500, response = crate::http::openapi::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn get_canned(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let shortcut = path_param(path, "shortcut")?;
    let reply = inbox::canned_reply(&app, &caller, &shortcut)?;
    Ok(ok(StatusCode::OK, "Canned reply retrieved", reply))
}

/// Creates or replaces a canned reply.
#[utoipa::path(
    put,
    path = "/messaging/canned-replies/{shortcut}",
    operation_id = "putCannedReply",
    tag = "inbox",
    summary = "Create or replace a canned reply (admins)",
    params(("shortcut" = crate::http::openapi::Shortcut, Path, description = "The reply's shortcut")),
    request_body(content = crate::http::openapi::SaveCannedReply, content_type = "application/json"),
    responses(
        (status = 201, description = "The canned reply, created", body = crate::http::openapi::Envelope<crate::http::openapi::CannedReply>),
        (status = 200, description = "The canned reply, replaced (or unchanged: nothing written)", body = crate::http::openapi::Envelope<crate::http::openapi::CannedReply>),
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
pub async fn put_canned(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let shortcut = path_param(path, "shortcut")?;
    let body = RawBody::read(&headers, body).await;
    let (reply, created) =
        inbox::save_canned_reply(&app, &caller, &shortcut, || body.json()).await?;
    Ok(if created {
        ok(StatusCode::CREATED, "Canned reply created", reply)
    } else {
        ok(StatusCode::OK, "Canned reply saved", reply)
    })
}

/// Deletes a canned reply.
#[utoipa::path(
    delete,
    path = "/messaging/canned-replies/{shortcut}",
    operation_id = "deleteCannedReply",
    tag = "inbox",
    summary = "Delete a canned reply (admins)",
    params(("shortcut" = crate::http::openapi::Shortcut, Path, description = "The reply's shortcut")),
    responses(
        (status = 200, description = "The deleted canned reply", body = crate::http::openapi::Envelope<crate::http::openapi::CannedReply>),
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
pub async fn delete_canned(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let shortcut = path_param(path, "shortcut")?;
    let reply = inbox::delete_canned_reply(&app, &caller, &shortcut).await?;
    Ok(ok(StatusCode::OK, "Canned reply deleted", reply))
}
