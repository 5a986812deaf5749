//! Message search (docs/search.md): `GET /messaging/search`, its parameters read and checked in
//! the order the contract lists them.

use super::extract::Params;
use super::{ok, ApiError};
use crate::auth::Caller;
use crate::command;
use crate::search::{query::Query, Filters, Page};
use crate::state::AppState;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use concierge_events::{ids, Timestamp};
use serde::Serialize;

/// The answer: results newest first, and the cursor of the next page.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Found {
    results: Vec<Result>,
    next_cursor: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Result {
    message_id: String,
    conversation_id: String,
    booking_id: String,
    sender: String,
    created_at: Timestamp,
    internal: bool,
    snippet: String,
    highlights: Vec<[usize; 2]>,
}

/// Finds messages by their words: a customer's own conversations', an admin's all (notes too).
#[utoipa::path(
    get,
    path = "/messaging/search",
    operation_id = "searchMessages",
    tag = "search",
    summary = "Messages found by their words, newest first",
    params(crate::http::openapi::SearchQuery),
    responses(
        (status = 200, description = "A page of messages found", body = crate::http::openapi::Envelope<crate::http::openapi::SearchResults>),
        (status = 400, response = crate::http::openapi::BadRequest),
        (status = 401, response = crate::http::openapi::Unauthorized),
        (status = 403, response = crate::http::openapi::Forbidden),
        (status = 404, response = crate::http::openapi::NotFound),
        (status = 429, response = crate::http::openapi::TooManyRequests),
        (status = 500, response = crate::http::openapi::Internal),
    ),
    security(("bearer" = []))
)]
pub async fn search(
    State(app): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> std::result::Result<Response, ApiError> {
    let filters = filters(&Params::parse(raw.as_deref()))?;
    let Page { hits, next } = command::search::search(&app, &caller, filters).await?;
    let results = hits
        .into_iter()
        .map(|h| Result {
            message_id: h.message_id,
            conversation_id: h.conversation_id,
            booking_id: h.booking_id,
            sender: h.sender,
            created_at: h.created_at,
            internal: h.internal,
            snippet: h.snippet,
            highlights: h.highlights,
        })
        .collect();
    Ok(ok(
        StatusCode::OK,
        "Search results",
        Found {
            results,
            next_cursor: next.map(cursor),
        },
    ))
}

/// What the parameters ask for, checked in the contract's order.
fn filters(q: &Params) -> std::result::Result<Filters, ApiError> {
    let query = Query::parse(q.get("q").unwrap_or_default())
        .map_err(|e| ApiError::Invalid(e.to_string()))?;
    let conversation = match q.get("conversationId") {
        None => None,
        Some(id) if ids::is_ulid(id) => Some(id.to_string()),
        Some(_) => {
            return Err(ApiError::Invalid(
                "conversationId must be a 26-character ULID".into(),
            ))
        }
    };
    let external = |name: &str| match q.get(name) {
        None => Ok(None),
        Some(id) if ids::is_external(id) => Ok(Some(id.to_string())),
        Some(_) => Err(ApiError::Invalid(format!(
            "{name} must be 1-128 characters of [A-Za-z0-9._:@-]"
        ))),
    };
    let booking = external("bookingId")?;
    let sender = external("sender")?;
    let time = |name: &str| match q.get(name) {
        None => Ok(None),
        Some(t) => Timestamp::parse(t)
            .map(Some)
            .ok_or_else(|| ApiError::Invalid(format!("{name} must be an RFC 3339 time"))),
    };
    let from = time("from")?;
    let to = time("to")?;
    if let (Some(from), Some(to)) = (from, to) {
        if from > to {
            return Err(ApiError::Invalid("from must not be after to".into()));
        }
    }
    let limit = q.int("limit", 20, 1, 100)?;
    let before = match q.get("cursor") {
        None => None,
        Some(c) => Some(seq_of(c).ok_or_else(|| {
            ApiError::Invalid("cursor must be a nextCursor this server gave".into())
        })?),
    };
    Ok(Filters {
        query,
        conversation,
        booking,
        sender,
        from,
        to,
        before,
        limit: usize::try_from(limit).unwrap_or(100),
    })
}

/// The cursor of the page after the message sent at `seq`: opaque to clients.
fn cursor(seq: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("s{seq}"))
}

fn seq_of(cursor: &str) -> Option<u64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let seq: u64 = std::str::from_utf8(&bytes)
        .ok()?
        .strip_prefix('s')?
        .parse()
        .ok()?;
    (seq > 0).then_some(seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_anything_else_is_refused() {
        assert_eq!(seq_of(&cursor(42)), Some(42));
        for bad in ["", "czA", "42", "!!", "cy0x", "cw"] {
            assert_eq!(seq_of(bad), None, "{bad}");
        }
    }
}
