//! Route 12: the booking platform registers whose booking is whose.

use super::extract::RawBody;
use super::{ok, path_param, ApiError};
use crate::auth::Caller;
use crate::command::bookings;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

/// Route 12: 201 for a new booking, 200 otherwise (idempotent).
#[utoipa::path(
    put,
    path = "/messaging/bookings/{bookingId}",
    operation_id = "registerBooking",
    tag = "bookings",
    summary = "Register whose booking it is (admins and service tokens)",
    params(("bookingId" = crate::http::openapi::ExternalId, Path, description = "The booking, as the booking platform names it")),
    request_body(content = crate::http::openapi::RegisterBooking, content_type = "application/json"),
    responses(
        (status = 201, description = "A new booking", body = crate::http::openapi::Envelope<crate::http::openapi::Booking>),
        (status = 200, description = "A known booking, updated or unchanged", body = crate::http::openapi::Envelope<crate::http::openapi::Booking>),
        (status = 400, response = crate::http::openapi::BadRequest),
        (status = 401, response = crate::http::openapi::Unauthorized),
        (status = 403, response = crate::http::openapi::Forbidden),
        (status = 409, response = crate::http::openapi::Conflict),
        (status = 413, response = crate::http::openapi::PayloadTooLarge),
        (status = 415, response = crate::http::openapi::UnsupportedMediaType),
        (status = 429, response = crate::http::openapi::TooManyRequests),
        (status = 500, response = crate::http::openapi::Internal),
        (status = 503, response = crate::http::openapi::Unavailable),
    ),
    security(("bearer" = []))
)]
pub async fn register(
    State(app): State<AppState>,
    caller: Caller,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let booking_id = path_param(path, "bookingId")?;
    let body = RawBody::read(&headers, body).await;
    let (booking, created) = bookings::register(&app, &caller, &booking_id, || {
        let json = body.json()?;
        Ok::<_, ApiError>(bookings::parse_register(&json)?)
    })
    .await?;
    let data = json!({
        "bookingId": booking.booking_id,
        "customerId": booking.customer_id,
        "title": booking.display_title(),
    });
    Ok(if created {
        ok(StatusCode::CREATED, "Booking registered", data)
    } else {
        ok(StatusCode::OK, "Booking updated", data)
    })
}
