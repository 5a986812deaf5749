//! Routes 1, 2, 7 and 11: listing conversations, get-or-create by booking, one conversation, its
//! status.

use super::extract::{Params, RawBody};
use super::openapi::MAX_INT;
use super::Pagination;
use super::{ok, path_param, ApiError};
use crate::auth::Caller;
use crate::command::{access, conversations, inbox};
use crate::render;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use concierge_events::{ids, Role, Status};
use concierge_projections::views::ConversationView;
use serde::Serialize;

/// Route 1: the caller's conversations (a customer's own; an admin's all, or joined with `mine`),
/// newest activity first; admins may filter by assignee, label and priority and sort by waiting.
#[utoipa::path(
    get,
    path = "/messaging/conversations",
    operation_id = "listConversations",
    tag = "conversations",
    summary = "The caller's conversations, newest activity first",
    params(crate::http::openapi::ConversationQuery),
    responses(
        (status = 200, description = "A page of conversations", body = crate::http::openapi::Envelope<crate::http::openapi::ConversationList>),
        (status = 400, response = crate::http::openapi::BadRequest),
        (status = 401, response = crate::http::openapi::Unauthorized),
        (status = 403, response = crate::http::openapi::Forbidden),
        (status = 429, response = crate::http::openapi::TooManyRequests),
        (status = 500, response = crate::http::openapi::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn list(
    State(app): State<AppState>,
    caller: Caller,
    RawQuery(q): RawQuery,
) -> Result<Response, ApiError> {
    let q = Params::parse(q.as_deref());
    let page = q.int("page", 1, 1, MAX_INT)?;
    let limit = q.int("limit", 20, 1, 100)?;
    let status = match q.get("status") {
        None => None,
        Some(s) => Some(
            Status::parse(s)
                .ok_or_else(|| ApiError::Invalid(conversations::STATUS_VALUES.into()))?,
        ),
    };
    let mine = q.flag("mine")?;
    let assignee = match q.get("assignee") {
        None => None,
        Some("me") => Some(Some(caller.user_id.clone())),
        Some("none") => Some(None),
        Some(id) if ids::is_external(id) => Some(Some(id.to_string())),
        Some(_) => {
            return Err(ApiError::Invalid(
                "assignee must be me, none or a user id".into(),
            ))
        }
    };
    let label = match q.get("label") {
        Some(l) if !inbox::check_label(l) => {
            return Err(ApiError::Invalid(
                "label must be 1-32 characters, not blank, without control characters".into(),
            ))
        }
        l => l.map(str::to_string),
    };
    let priority = match q.get("priority") {
        None => None,
        p => Some(inbox::parse_priority(p, "priority")?),
    };
    let by_waiting = match q.get("sort") {
        None | Some("updated") => false,
        Some("waiting") => true,
        Some(_) => return Err(ApiError::Invalid("sort must be updated or waiting".into())),
    };
    access::not_service(&caller)?;
    let inbox_filter = assignee.is_some() || label.is_some() || priority.is_some() || by_waiting;
    if inbox_filter {
        access::admin_only(
            &caller,
            "filter by assignee, label or priority, or sort by waiting",
        )?;
    }

    let views = app.views.views();
    // A customer's, or an admin's own, come from the participation index; only "all" scans.
    let candidates = if caller.role == Role::Customer || mine {
        let mut convs = Vec::new();
        for id in views.conversations_of(&caller.user_id)? {
            // A participation folds with its conversation, so none is missing; skip one if it were.
            convs.extend(views.conversation(&id)?);
        }
        convs
    } else {
        views.conversations()?
    };
    let mut convs: Vec<_> = candidates
        .into_iter()
        .filter(|c| access::may_see(&caller, c))
        .filter(|c| status.is_none_or(|s| c.status == s))
        .filter(|c| !mine || caller.role != Role::Admin || c.is_participant(&caller.user_id))
        .filter(|c| assignee.as_ref().is_none_or(|a| &c.assignee == a))
        .filter(|c| label.as_ref().is_none_or(|l| c.labels.contains(l)))
        .filter(|c| priority.is_none_or(|p| c.priority == p))
        .collect();
    convs.sort_by(|a, b| {
        // Waiting longest first (`None` after every time), then newest activity first.
        let waiting = |c: &ConversationView| (c.waiting_since.is_none(), c.waiting_since);
        let by_wait = if by_waiting {
            waiting(a).cmp(&waiting(b))
        } else {
            std::cmp::Ordering::Equal
        };
        by_wait.then_with(|| {
            b.updated_at
                .cmp(&a.updated_at)
                .then_with(|| b.id.cmp(&a.id))
        })
    });
    let total = convs.len() as u64;
    let skip = usize::try_from((page - 1).saturating_mul(limit)).unwrap_or(usize::MAX);
    let items: Vec<_> = convs
        .iter()
        .skip(skip)
        .take(limit as usize)
        .map(|c| render::conversation(c, &caller.user_id, &app.realtime.presence))
        .collect();
    Ok(ok(
        StatusCode::OK,
        "Conversations retrieved",
        ConversationPage {
            conversations: items,
            pagination: Pagination {
                page: Some(page),
                limit,
                total,
                pages: total.div_ceil(limit),
                has_more: None,
            },
        },
    ))
}

#[derive(Serialize)]
struct ConversationPage {
    conversations: Vec<render::ConversationOut>,
    pagination: Pagination,
}

/// Route 2: the booking's one conversation, created on first use (201) or existing (200).
#[utoipa::path(
    get,
    path = "/messaging/conversations/booking/{bookingId}",
    operation_id = "openBookingConversation",
    tag = "conversations",
    summary = "Get or create the booking's one conversation",
    params(("bookingId" = crate::http::openapi::ExternalId, Path, description = "The booking, as the booking platform names it")),
    responses(
        (status = 200, description = "The existing conversation", body = crate::http::openapi::Envelope<crate::http::openapi::Conversation>),
        (status = 201, description = "The conversation, created by this call", body = crate::http::openapi::Envelope<crate::http::openapi::Conversation>),
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
pub async fn by_booking(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let booking_id = path_param(path, "bookingId")?;
    let (conv, created) = conversations::get_or_create(&app, &caller, &booking_id).await?;
    let (status, message) = if created {
        (StatusCode::CREATED, "Conversation created")
    } else {
        (StatusCode::OK, "Conversation retrieved")
    };
    Ok(ok(
        status,
        message,
        render::conversation(&conv, &caller.user_id, &app.realtime.presence),
    ))
}

/// Route 7: one conversation.
#[utoipa::path(
    get,
    path = "/messaging/conversations/{conversationId}",
    operation_id = "getConversation",
    tag = "conversations",
    summary = "One conversation",
    params(("conversationId" = crate::http::openapi::Ulid, Path, description = "The conversation")),
    responses(
        (status = 200, description = "The conversation", body = crate::http::openapi::Envelope<crate::http::openapi::Conversation>),
        (status = 400, response = crate::http::openapi::BadRequest),
        (status = 401, response = crate::http::openapi::Unauthorized),
        (status = 403, response = crate::http::openapi::Forbidden),
        (status = 404, response = crate::http::openapi::NotFound),
        (status = 429, response = crate::http::openapi::TooManyRequests),
        (status = 500, response = crate::http::openapi::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn one(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = path_param(path, "conversationId")?;
    let conv = access::conversation(&app, &caller, &id)?;
    Ok(ok(
        StatusCode::OK,
        "Conversation retrieved",
        render::conversation(&conv, &caller.user_id, &app.realtime.presence),
    ))
}

/// Route 11: an admin sets the conversation's status.
#[utoipa::path(
    put,
    path = "/messaging/conversations/{conversationId}/status",
    operation_id = "setConversationStatus",
    tag = "conversations",
    summary = "Set the conversation's status (admins)",
    params(("conversationId" = crate::http::openapi::Ulid, Path, description = "The conversation")),
    request_body(content = crate::http::openapi::SetStatus, content_type = "application/json"),
    responses(
        (status = 200, description = "The conversation with its status", body = crate::http::openapi::Envelope<crate::http::openapi::Conversation>),
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
pub async fn set_status(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let id = path_param(path, "conversationId")?;
    let body = RawBody::read(&headers, body).await;
    let conv = conversations::set_status(&app, &caller, &id, || body.json()).await?;
    Ok(ok(
        StatusCode::OK,
        "Conversation status updated",
        render::conversation(&conv, &caller.user_id, &app.realtime.presence),
    ))
}
