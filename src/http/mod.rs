//! The HTTP API of API.md: one file per resource, the error envelope, and the router.
//!
//! # Layout
//! - [`error`]: [`ApiError`], the one mapping of every failure to the envelope.
//! - [`extract`]: query parameters and bodies, read in the contract's check order.
//! - [`conversations`] (routes 1, 2, 7, 11), [`messages`] (3, 4, 5, 8, 9, 10), [`stats`] (6),
//!   [`bookings`] (12), [`broadcast`] (13), [`replay`] (14, 15), [`attachments`] (uploads),
//!   [`inbox`] (assignee, labels, priority, rating, canned replies; docs/inbox.md), [`webhooks`]
//!   (dead letters; docs/webhooks.md), [`search`] (message search; docs/search.md).
//! - [`ops`]: `/health`, `/ready`, `/metrics`; [`dev`]: the `--dev` test routes.
//! - [`ui`]: the web UI (UI.md), embedded in the binary: its pages, assets and `/widget.js`.

pub mod attachments;
pub mod bookings;
pub mod broadcast;
pub mod conversations;
pub mod dev;
pub mod error;
pub mod extract;
pub mod inbox;
pub mod messages;
pub mod openapi;
pub mod ops;
pub mod replay;
pub mod search;
pub mod stats;
pub mod ui;
pub mod webhooks;

pub use error::ApiError;

use crate::state::AppState;
use axum::extract::{MatchedPath, Request};
use axum::http::{header, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use bytes::Bytes;
use serde::Serialize;
use std::time::{Duration, Instant};
use tower_http::cors::CorsLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

/// The whole HTTP surface of a node: the REST API with the real-time transports' routes and the web
/// UI merged in, behind one fallback, CORS and request metrics.
pub fn app(state: AppState, transports: Router<AppState>) -> Router {
    let (api, paths) = api().split_for_parts();
    let document = openapi::document(paths);
    let mut router = api
        .merge(reference(&document))
        .merge(ui::routes(&state.config.client_url));
    if state.config.dev {
        router = router.merge(dev::routes());
    }
    router = router.merge(transports);
    let cors = cors(&state.config.client_url);
    router
        .fallback(|| async { ApiError::RouteNotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(middleware::from_fn(record_metrics))
        .layer(cors)
        .with_state(state)
}

/// Every route of the REST API, each registered from its handler's `#[utoipa::path]`, so that
/// the router and the OpenAPI document list the same routes.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(conversations::list))
        .routes(routes!(conversations::by_booking))
        .routes(routes!(conversations::one))
        .routes(routes!(messages::list, messages::send))
        .routes(routes!(attachments::upload))
        .routes(routes!(attachments::download))
        .routes(routes!(attachments::thumbnail))
        .routes(routes!(messages::mark_read))
        .routes(routes!(messages::edit, messages::delete))
        .routes(routes!(messages::react))
        .routes(routes!(messages::unreact))
        .routes(routes!(conversations::set_status))
        .routes(routes!(broadcast::broadcast))
        .routes(routes!(replay::events))
        .routes(routes!(replay::history))
        .routes(routes!(stats::stats))
        .routes(routes!(search::search))
        .routes(routes!(bookings::register))
        .routes(routes!(inbox::set_assignee))
        .routes(routes!(inbox::set_labels))
        .routes(routes!(inbox::set_priority))
        .routes(routes!(inbox::rate))
        .routes(routes!(inbox::list_canned))
        .routes(routes!(
            inbox::get_canned,
            inbox::put_canned,
            inbox::delete_canned
        ))
        .routes(routes!(webhooks::list_failed))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(ops::health))
        .routes(routes!(ops::ready))
        .routes(routes!(ops::metrics))
}

/// The OpenAPI document a node serves at `/openapi.json` (checked in as `docs/openapi.json`).
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    openapi::document(api().split_for_parts().1)
}

/// `/openapi.json` (the document) and `/docs` (Swagger UI over it, its assets inside the binary).
fn reference(document: &utoipa::openapi::OpenApi) -> Router<AppState> {
    let json = Bytes::from(serde_json::to_vec(document).unwrap_or_default());
    Router::new()
        .route(
            "/openapi.json",
            get(move || {
                let json = json.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], json) }
            }),
        )
        .merge(SwaggerUi::new("/docs").config(utoipa_swagger_ui::Config::from("/openapi.json")))
}

fn cors(client_url: &str) -> CorsLayer {
    let origin = HeaderValue::from_str(client_url).unwrap_or(HeaderValue::from_static("null"));
    CorsLayer::new()
        .allow_origin(origin)
        .allow_credentials(true)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([header::RETRY_AFTER])
        .max_age(Duration::from_secs(600))
}

/// Counts requests and their latency by route template, method and status.
async fn record_metrics(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = request.method().to_string();
    let response = next.run(request).await;
    let labels = [
        ("route", route),
        ("method", method),
        ("status", response.status().as_u16().to_string()),
    ];
    metrics::counter!("concierge_http_requests_total", &labels).increment(1);
    metrics::histogram!("concierge_http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

#[derive(Serialize)]
struct Success<'a, T> {
    success: bool,
    message: &'a str,
    data: T,
}

/// A success in the envelope, serialized straight from typed data.
pub fn ok(status: StatusCode, message: &str, data: impl Serialize) -> Response {
    let body = Success {
        success: true,
        message,
        data,
    };
    (status, Json(body)).into_response()
}

/// The `pagination` of list answers; `page` is `null` for cursor pages, `hasMore` only on messages.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    pub page: Option<u64>,
    pub limit: u64,
    pub total: u64,
    pub pages: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_more: Option<bool>,
}

/// A path parameter, or 400 naming it when the path could not be decoded.
pub fn path_param(
    path: Result<axum::extract::Path<String>, axum::extract::rejection::PathRejection>,
    name: &str,
) -> Result<String, ApiError> {
    path.map(|p| p.0)
        .map_err(|_| ApiError::Invalid(format!("{name} is not a valid path segment")))
}
