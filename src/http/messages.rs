//! Routes 3, 4 and 5: a conversation's messages (which marks it read), sending, marking read; and
//! routes 8–10: editing, deleting and reacting to a message.

use super::extract::{Params, RawBody};
use super::openapi::MAX_INT;
use super::Pagination;
use super::{ok, path_param, ApiError};
use crate::auth::Caller;
use crate::command::{access, lifecycle, messages};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use concierge_events::{ids, Role};
use concierge_projections::views::MessageView;
use serde::Serialize;

/// Route 3: a page of messages, each page oldest first; page 1 is the newest. `before=<id>` pages by
/// cursor instead. Marks the conversation read for the caller; if the log cannot take that, the page
/// is still returned, unmarked.
#[utoipa::path(
    get,
    path = "/messaging/conversations/{conversationId}/messages",
    operation_id = "listMessages",
    tag = "messages",
    summary = "A page of messages, oldest first; marks the conversation read",
    params(("conversationId" = crate::http::openapi::Ulid, Path, description = "The conversation"), crate::http::openapi::MessageQuery),
    responses(
        (status = 200, description = "A page of messages", body = crate::http::openapi::Envelope<crate::http::openapi::MessageList>),
        (status = 400, response = crate::http::openapi::BadRequest),
        (status = 401, response = crate::http::openapi::Unauthorized),
        (status = 403, response = crate::http::openapi::Forbidden),
        (status = 404, response = crate::http::openapi::NotFound),
        (status = 429, response = crate::http::openapi::TooManyRequests),
        (status = 500, response = crate::http::openapi::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let id = path_param(path, "conversationId")?;
    access::conversation_id(&id, "conversationId")?;
    let q = Params::parse(q.as_deref());
    let limit = q.int("limit", 50, 1, 100)?;
    let before = match q.get("before") {
        None => None,
        Some(b) if ids::is_ulid(b) => Some(b.to_string()),
        Some(_) => return Err(ApiError::Invalid("before must be a message id".into())),
    };
    let page = match before {
        Some(_) => None,
        None => Some(q.int("page", 1, 1, MAX_INT)?),
    };
    let conv = access::conversation(&app, &caller, &id)?;
    // Admins see internal notes among the messages; to anyone else a note does not exist.
    let with_notes = caller.role == Role::Admin;
    let before_seq = match &before {
        None => None,
        Some(b) => match app.views.views().locate(b)? {
            Some((c, seq))
                if c == conv.id
                    && (with_notes
                        || app
                            .views
                            .views()
                            .message_in(&conv, seq)?
                            .is_some_and(|m| !m.internal)) =>
            {
                Some(seq)
            }
            _ => {
                return Err(ApiError::Invalid(
                    "before must be a message of this conversation".into(),
                ))
            }
        },
    };
    if let Err(e) = messages::mark_loaded_read(&app, &caller, conv.clone()).await {
        tracing::warn!(error = %e, conversation = %conv.id, "returning messages unmarked");
    }

    let views = app.views.views();
    let now = views.conversation(&conv.id)?.unwrap_or(conv);
    let total = if with_notes {
        now.message_count
    } else {
        now.message_count.saturating_sub(now.note_count)
    };
    let conv = now;
    let pages = total.div_ceil(limit);
    let (mut items, has_more) = match (page, before_seq) {
        (_, Some(seq)) => {
            let mut items =
                views.messages_seen(&conv.id, 0, seq, true, limit as usize + 1, with_notes)?;
            let more = items.len() > limit as usize;
            items.truncate(limit as usize);
            (items, more)
        }
        (Some(page), None) => {
            let end = usize::try_from(page.saturating_mul(limit)).unwrap_or(usize::MAX);
            let skip = usize::try_from((page - 1).saturating_mul(limit)).unwrap_or(usize::MAX);
            let newest = if skip as u64 >= total {
                Vec::new()
            } else {
                views.messages_seen(&conv.id, 0, u64::MAX, true, end, with_notes)?
            };
            (newest.into_iter().skip(skip).collect(), page < pages)
        }
        (None, None) => (Vec::new(), false),
    };
    items.reverse();
    Ok(ok(
        StatusCode::OK,
        "Messages retrieved",
        MessagePage {
            messages: app.attachments.signer.messages(items),
            pagination: Pagination {
                page,
                limit,
                total,
                pages,
                has_more: Some(has_more),
            },
        },
    ))
}

#[derive(Serialize)]
struct MessagePage {
    messages: Vec<MessageView>,
    pagination: Pagination,
}

/// Route 4: send a message. A retry with the same client key answers 200 with the original.
#[utoipa::path(
    post,
    path = "/messaging/conversations/{conversationId}/messages",
    operation_id = "sendMessage",
    tag = "messages",
    summary = "Send a message",
    params(("conversationId" = crate::http::openapi::Ulid, Path, description = "The conversation"), ("Idempotency-Key" = Option<crate::http::openapi::IdempotencyKey>, Header, description = "An idempotency key, as `clientMessageId`")),
    request_body(content = crate::http::openapi::SendMessage, content_type = "application/json"),
    responses(
        (status = 201, description = "The message, written to the log", body = crate::http::openapi::Envelope<crate::http::openapi::Message>),
        (status = 200, description = "A retry with a known key: the original message; nothing written", body = crate::http::openapi::Envelope<crate::http::openapi::Message>),
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
pub async fn send(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let id = path_param(path, "conversationId")?;
    let body = RawBody::read(&headers, body).await;
    let header_key = headers
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_string).unwrap_or_default());
    let key_hint = body
        .peek_json()
        .as_ref()
        .and_then(messages::client_key_of)
        .or_else(|| header_key.clone());
    let (message, created) = messages::send(&app, &caller, &id, key_hint.as_deref(), || {
        let json = body.json()?;
        Ok::<_, ApiError>(messages::parse_send(&json, header_key.as_deref())?)
    })
    .await?;
    let message = app.attachments.signer.message(message);
    Ok(if created {
        ok(StatusCode::CREATED, "Message sent", message)
    } else {
        ok(StatusCode::OK, "Message already sent", message)
    })
}

/// Route 5: mark everything read for the caller.
#[utoipa::path(
    put,
    path = "/messaging/conversations/{conversationId}/read",
    operation_id = "markRead",
    tag = "messages",
    summary = "Mark everything read for the caller",
    params(("conversationId" = crate::http::openapi::Ulid, Path, description = "The conversation")),
    responses(
        (status = 200, description = "Read", body = crate::http::openapi::Envelope<crate::http::openapi::ReadOutcome>),
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
pub async fn mark_read(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_param(path, "conversationId")?;
    let outcome = messages::mark_read(&app, &caller, &id).await?;
    Ok(ok(StatusCode::OK, "Conversation marked as read", outcome))
}

/// Route 8: the sender edits a message's content.
#[utoipa::path(
    patch,
    path = "/messaging/conversations/{conversationId}/messages/{messageId}",
    operation_id = "editMessage",
    tag = "messages",
    summary = "Edit a message (its sender)",
    params(("conversationId" = crate::http::openapi::Ulid, Path, description = "The conversation"), ("messageId" = crate::http::openapi::Ulid, Path, description = "The message")),
    request_body(content = crate::http::openapi::EditMessage, content_type = "application/json"),
    responses(
        (status = 200, description = "The edited message", body = crate::http::openapi::Envelope<crate::http::openapi::Message>),
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
pub async fn edit(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (id, message_id) = path_pair(path)?;
    let body = RawBody::read(&headers, body).await;
    let message = lifecycle::edit(&app, &caller, &id, &message_id, || body.json()).await?;
    let message = app.attachments.signer.message(message);
    Ok(ok(StatusCode::OK, "Message edited", message))
}

/// Route 9: the sender or an admin deletes a message (soft: it keeps its place, without content).
#[utoipa::path(
    delete,
    path = "/messaging/conversations/{conversationId}/messages/{messageId}",
    operation_id = "deleteMessage",
    tag = "messages",
    summary = "Delete a message (its sender or an admin)",
    params(("conversationId" = crate::http::openapi::Ulid, Path, description = "The conversation"), ("messageId" = crate::http::openapi::Ulid, Path, description = "The message")),
    responses(
        (status = 200, description = "The deleted message (repeating is 200 and writes nothing)", body = crate::http::openapi::Envelope<crate::http::openapi::Message>),
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
pub async fn delete(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let (id, message_id) = path_pair(path)?;
    let message = lifecycle::delete(&app, &caller, &id, &message_id).await?;
    let message = app.attachments.signer.message(message);
    Ok(ok(StatusCode::OK, "Message deleted", message))
}

/// Route 10: the caller's reaction to a message.
#[utoipa::path(
    post,
    path = "/messaging/conversations/{conversationId}/messages/{messageId}/reactions",
    operation_id = "addReaction",
    tag = "messages",
    summary = "Add the caller's reaction",
    params(("conversationId" = crate::http::openapi::Ulid, Path, description = "The conversation"), ("messageId" = crate::http::openapi::Ulid, Path, description = "The message")),
    request_body(content = crate::http::openapi::AddReaction, content_type = "application/json"),
    responses(
        (status = 200, description = "The message with its reactions", body = crate::http::openapi::Envelope<crate::http::openapi::Message>),
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
pub async fn react(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (id, message_id) = path_pair(path)?;
    let body = RawBody::read(&headers, body).await;
    let message = lifecycle::react(&app, &caller, &id, &message_id, || body.json()).await?;
    let message = app.attachments.signer.message(message);
    Ok(ok(StatusCode::OK, "Reaction added", message))
}

/// Route 10: removing the caller's reaction (the emoji percent-encoded in the path).
#[utoipa::path(
    delete,
    path = "/messaging/conversations/{conversationId}/messages/{messageId}/reactions/{emoji}",
    operation_id = "removeReaction",
    tag = "messages",
    summary = "Remove the caller's reaction",
    params(("conversationId" = crate::http::openapi::Ulid, Path, description = "The conversation"), ("messageId" = crate::http::openapi::Ulid, Path, description = "The message"), ("emoji" = crate::http::openapi::Emoji, Path, description = "The emoji, percent-encoded")),
    responses(
        (status = 200, description = "The message with its reactions", body = crate::http::openapi::Envelope<crate::http::openapi::Message>),
        (status = 400, response = crate::http::openapi::BadRequest),
        (status = 401, response = crate::http::openapi::Unauthorized),
        (status = 403, response = crate::http::openapi::Forbidden),
        (status = 404, response = crate::http::openapi::NotFound),
        (status = 409, response = crate::http::openapi::Conflict),
        (status = 429, response = crate::http::openapi::TooManyRequests),
        (status = 500, response = crate::http::openapi::Internal),
        (status = 503, response = crate::http::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
pub async fn unreact(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((id, message_id, emoji)) =
        path.map_err(|_| ApiError::Invalid("the path is not valid UTF-8 after decoding".into()))?;
    let message = lifecycle::unreact(&app, &caller, &id, &message_id, &emoji).await?;
    let message = app.attachments.signer.message(message);
    Ok(ok(StatusCode::OK, "Reaction removed", message))
}

fn path_pair(
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(String, String), ApiError> {
    path.map(|p| p.0)
        .map_err(|_| ApiError::Invalid("the path is not valid UTF-8 after decoding".into()))
}
