//! The HTTP layer's one error type and its one mapping to the envelope.

use crate::auth::{AuthError, AuthRejection};
use crate::command::CommandError;
use crate::log::LogError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use concierge_projections::StoreError;
use serde_json::json;

/// Everything an HTTP request can fail with. Each maps to one status and `error` code of API.md.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 `unauthorized`.
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    /// 404 `not_found` for a path no route has.
    #[error("route not found")]
    RouteNotFound,
    /// 405 `method_not_allowed`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 415 `unsupported_media_type`.
    #[error("body must be application/json")]
    UnsupportedMediaType,
    /// 413 `payload_too_large`.
    #[error("body must be at most 65536 bytes")]
    PayloadTooLarge,
    /// 416 `range_not_satisfiable`: a `Range` outside the file; the file's size is sent back.
    #[error("the range is outside the file ({size} bytes)")]
    RangeNotSatisfiable { size: u64 },
    /// 400 `validation_failed` found by the HTTP layer (query, path, JSON syntax).
    #[error("{0}")]
    Invalid(String),
    /// 429 `rate_limited`: this client address failed to authenticate too often; the wait until
    /// it may try again.
    #[error("too many failed authentications from this address: try again later")]
    TooManyAuthFailures { retry_after: std::time::Duration },
    /// 503 `unavailable` for a read of the log, or `/ready`: the log cannot be read now, or this
    /// node has not caught up; nothing was asked to be written.
    #[error("{what}: {reason}")]
    LogUnavailable {
        what: &'static str,
        #[source]
        reason: LogError,
    },
    /// 503 `unavailable` from `/ready` for a reason of its own (the message says it).
    #[error("{0}")]
    NotReady(String),
    /// 503 `unavailable` for `/ready` and for a socket opened while the node drains on SIGTERM;
    /// the client retries, on another node.
    #[error("{}", crate::drain::DRAINING)]
    Draining,
    /// Whatever a command refused; see [`CommandError`] for the statuses.
    #[error(transparent)]
    Command(#[from] CommandError),
}

impl ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::RouteNotFound => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            ApiError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            ApiError::Invalid(_) => (StatusCode::BAD_REQUEST, "validation_failed"),
            ApiError::RangeNotSatisfiable { .. } => {
                (StatusCode::RANGE_NOT_SATISFIABLE, "range_not_satisfiable")
            }
            ApiError::TooManyAuthFailures { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::LogUnavailable { .. } | ApiError::NotReady(_) | ApiError::Draining => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            ApiError::Command(c) => match c {
                CommandError::Invalid(_) => (StatusCode::BAD_REQUEST, "validation_failed"),
                CommandError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
                CommandError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
                CommandError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
                CommandError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
                CommandError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
                CommandError::Unsupported(_) => {
                    (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
                }
                CommandError::Unavailable(_)
                | CommandError::NotNow(_)
                | CommandError::FilesUnavailable(_) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
                }
                CommandError::NotFolded { .. }
                | CommandError::Store(_)
                | CommandError::Search(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
            },
        }
    }
}

/// A read of the views by an HTTP handler fails like one by a command: logged with its source
/// there, answered 500 `internal` with a message that names nothing of it.
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        ApiError::Command(CommandError::from(e))
    }
}

impl From<AuthRejection> for ApiError {
    fn from(r: AuthRejection) -> ApiError {
        match r {
            AuthRejection::Unauthorized(e) => ApiError::Unauthorized(e),
            AuthRejection::TooManyFailures { retry_after } => {
                ApiError::TooManyAuthFailures { retry_after }
            }
        }
    }
}

/// The extractor's refusals, and the WebSocket and Socket.IO upgrades' 429, in the envelope.
impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let body = Json(json!({ "success": false, "message": self.to_string(), "error": code }));
        let mut response = (status, body).into_response();
        let retry_after = match &self {
            ApiError::Command(CommandError::RateLimited { retry_after, .. })
            | ApiError::TooManyAuthFailures { retry_after } => Some(*retry_after),
            _ => None,
        };
        if let ApiError::RangeNotSatisfiable { size } = &self {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{size}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
        }
        if let Some(retry_after) = retry_after {
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        response
    }
}
