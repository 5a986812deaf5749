//! Registering a booking for a customer (route 12): the booking platform says whose it is.

use super::{envelope, write, CommandError, Result};
use crate::auth::Caller;
use crate::state::AppState;
use concierge_events::{ids, subject, BookingRegistered, BookingSource, Event, Role};
use concierge_projections::views::BookingView;
use serde_json::Value;

pub const MAX_TITLE_CHARS: usize = 200;

/// A validated registration.
#[derive(Debug, Clone)]
pub struct RegisterInput {
    pub customer_id: String,
    /// `None` keeps the current title.
    pub title: Option<String>,
}

/// Validates a registration body.
///
/// # Errors
/// 400 naming `customerId` or `title`.
pub fn parse_register(body: &Value) -> Result<RegisterInput> {
    let obj = body
        .as_object()
        .ok_or_else(|| CommandError::Invalid("body must be a JSON object".into()))?;
    let customer_id = match obj.get("customerId") {
        Some(Value::String(s)) if ids::is_external(s) => s.clone(),
        None | Some(Value::Null) => {
            return Err(CommandError::Invalid("customerId is required".into()))
        }
        Some(_) => {
            return Err(CommandError::Invalid(
                "customerId must be 1-128 characters of [A-Za-z0-9._:@-]".into(),
            ))
        }
    };
    let title = match obj.get("title") {
        None | Some(Value::Null) => None,
        Some(Value::String(s))
            if !s.trim().is_empty()
                && s.chars().count() <= MAX_TITLE_CHARS
                && !s.chars().any(char::is_control) =>
        {
            Some(s.clone())
        }
        Some(_) => {
            return Err(CommandError::Invalid(format!(
                "title must be a non-blank string of at most {MAX_TITLE_CHARS} characters without control characters"
            )))
        }
    };
    Ok(RegisterInput { customer_id, title })
}

/// Registers (or re-registers) a booking; `true` when the booking is new.
///
/// # Errors
/// 400 bad id or body, 403 unless admin or service, 409 when a booking that has a conversation would
/// change customer, 503 when the log cannot take it.
pub async fn register<E: From<CommandError>>(
    app: &AppState,
    caller: &Caller,
    booking_id: &str,
    body: impl FnOnce() -> std::result::Result<RegisterInput, E>,
) -> std::result::Result<(BookingView, bool), E> {
    if !ids::is_external(booking_id) {
        return Err(CommandError::Invalid(
            "bookingId must be 1-128 characters of [A-Za-z0-9._:@-]".into(),
        )
        .into());
    }
    if caller.role == Role::Customer {
        return Err(CommandError::Forbidden(
            "only admins and the booking platform may register bookings".into(),
        )
        .into());
    }
    super::take_write(app, caller)?;
    let input = body()?;
    let existing = app
        .views
        .views()
        .booking(booking_id)
        .map_err(CommandError::from)?;
    if let Some(b) = &existing {
        if b.conversation_id.is_some() && b.customer_id != input.customer_id {
            return Err(conflict().into());
        }
        let same_title = input.title.is_none() || input.title == b.title;
        if b.customer_id == input.customer_id && same_title {
            return Ok((b.clone(), false));
        }
    }
    let event = envelope(
        caller,
        None,
        Event::BookingRegistered(BookingRegistered {
            booking_id: booking_id.to_string(),
            customer_id: input.customer_id.clone(),
            title: input.title,
            source: BookingSource::Api,
        }),
    );
    let ack = write(app, subject::booking(booking_id), &event, &event.id).await?;
    let now = app
        .views
        .views()
        .booking(booking_id)
        .map_err(CommandError::from)?
        .ok_or(CommandError::NotFolded { seq: ack.seq })?;
    if now.customer_id != input.customer_id {
        // A conversation was created for the previous customer before this event was folded.
        return Err(conflict().into());
    }
    Ok((now, existing.is_none()))
}

fn conflict() -> CommandError {
    CommandError::Conflict("this booking already has a conversation with another customer".into())
}
