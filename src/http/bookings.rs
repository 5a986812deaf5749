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
