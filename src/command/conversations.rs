//! Get-or-create of a booking's one conversation. Concurrent callers race in the log: every creator
//! publishes `conversation_created` with the same `Nats-Msg-Id`, JetStream keeps the first, and the
//! fold skips any later one, so exactly one conversation exists and exactly one caller created it.

use super::{access, envelope, write, CommandError, Result};
use crate::auth::Caller;
use crate::state::AppState;
use concierge_events::{
    ids, subject, BookingRegistered, BookingSource, ConversationCreated, ConversationSnoozed,
    Event, ParticipantJoined, Role, Status, StatusChanged,
};
use concierge_projections::views::{BookingView, ConversationView};

/// The conversation of `booking_id`, created if it has none; `true` when this call created it.
///
/// # Errors
/// 400 bad booking id; 404 unknown booking; 403 not the caller's booking, or a service token;
/// 503 when the log cannot take the write.
pub async fn get_or_create(
    app: &AppState,
    caller: &Caller,
    booking_id: &str,
) -> Result<(ConversationView, bool)> {
    if !ids::is_external(booking_id) {
        return Err(CommandError::Invalid(
            "bookingId must be 1-128 characters of [A-Za-z0-9._:@-]".into(),
        ));
    }
    let booking = owned_booking(app, caller, booking_id).await?;
    let existing = match booking.conversation_id.as_deref() {
        Some(id) => app.views.views().conversation(id)?,
        None => None,
    };
    if let Some(conv) = existing {
        let conv = join_if_admin(app, caller, conv).await?;
        return Ok((conv, false));
    }

    let conversation_id = ulid::Ulid::new().to_string();
    let mut participants = vec![ParticipantJoined {
        user_id: booking.customer_id.clone(),
        role: Role::Customer,
        name: if caller.user_id == booking.customer_id {
            caller.display_name()
        } else {
            booking.customer_id.clone()
        },
    }];
    if caller.role == Role::Admin {
        participants.push(ParticipantJoined {
            user_id: caller.user_id.clone(),
            role: Role::Admin,
            name: caller.display_name(),
        });
    }
    let event = envelope(
        caller,
        Some(&conversation_id),
        Event::ConversationCreated(ConversationCreated {
            booking_id: booking_id.to_string(),
            title: booking.display_title(),
            participants,
        }),
    );
    let msg_id = format!("conversation_created:{booking_id}");
    let ack = write(
        app,
        subject::conversation(&conversation_id),
        &event,
        &msg_id,
    )
    .await?;
    let views = app.views.views();
    let conv = match views.booking(booking_id)?.and_then(|b| b.conversation_id) {
        Some(id) => views.conversation(&id)?,
        None => None,
    }
    .ok_or(CommandError::NotFolded { seq: ack.seq })?;
    let created = !ack.duplicate && conv.id == conversation_id;
    if created {
        return Ok((conv, true));
    }
    let conv = join_if_admin(app, caller, conv).await?;
    Ok((conv, false))
}

/// The booking, registered to the caller (a customer) or any registered booking (an admin). A customer
/// whose token lists an unregistered booking registers it.
async fn owned_booking(app: &AppState, caller: &Caller, booking_id: &str) -> Result<BookingView> {
    let not_found = || CommandError::NotFound("booking not found".into());
    let forbidden = || CommandError::Forbidden("This booking belongs to another customer".into());
    let existing = app.views.views().booking(booking_id)?;
    match caller.role {
        Role::Service => {
            existing.ok_or_else(not_found)?;
            Err(CommandError::Forbidden(access::SERVICE_FORBIDDEN.into()))
        }
        Role::Admin => existing.ok_or_else(not_found),
        Role::Customer => {
            let booking = match existing {
                Some(b) => b,
                None if caller.claims_booking(booking_id) => {
                    register_by_token(app, caller, booking_id).await?
                }
                None => return Err(not_found()),
            };
            if booking.customer_id == caller.user_id {
                Ok(booking)
            } else {
                Err(forbidden())
            }
        }
    }
}

async fn register_by_token(
    app: &AppState,
    caller: &Caller,
    booking_id: &str,
) -> Result<BookingView> {
    let event = envelope(
        caller,
        None,
        Event::BookingRegistered(BookingRegistered {
            booking_id: booking_id.to_string(),
            customer_id: caller.user_id.clone(),
            title: None,
            source: BookingSource::Token,
        }),
    );
    let ack = write(
        app,
        subject::booking(booking_id),
        &event,
        &format!("booking_registered_by_token:{booking_id}"),
    )
    .await?;
    app.views
        .views()
        .booking(booking_id)?
        .ok_or(CommandError::NotFolded { seq: ack.seq })
}

/// An admin who opens (route 2), reads (routes 3, 5) or sends to a conversation joins it: a
/// `participant_joined` in the log before the event that relies on it, so every join is in the
/// stream. Returns the conversation as folded after the join (unchanged when there was none to do).
///
/// Joining is idempotent: concurrent joins by one admin share one `Nats-Msg-Id`, so JetStream keeps
/// one of them, and the fold skips a join of a participant. A join that lands when the write it
/// precedes then fails is harmless: the admin would have joined by retrying it.
///
/// # Errors
/// 503 when the log cannot take the join (then nothing was written).
pub(crate) async fn join_if_admin(
    app: &AppState,
    caller: &Caller,
    conv: ConversationView,
) -> Result<ConversationView> {
    if caller.role != Role::Admin || conv.is_participant(&caller.user_id) {
        return Ok(conv);
    }
    let event = envelope(
        caller,
        Some(&conv.id),
        Event::ParticipantJoined(ParticipantJoined {
            user_id: caller.user_id.clone(),
            role: Role::Admin,
            name: caller.display_name(),
        }),
    );
    let msg_id = join_msg_id(&conv.id, &caller.user_id);
    let ack = write(app, subject::conversation(&conv.id), &event, &msg_id).await?;
    app.views
        .views()
        .conversation(&conv.id)?
        .ok_or(CommandError::NotFolded { seq: ack.seq })
}

/// The `Nats-Msg-Id` of a user's join: one per user and conversation (the conversation id is a
/// fixed-length ULID, so user ids with `:` cannot collide).
pub fn join_msg_id(conversation_id: &str, user_id: &str) -> String {
    format!("participant_joined:{conversation_id}:{user_id}")
}

/// The refusal of a status that is not one of the four.
pub const STATUS_VALUES: &str = "status must be one of active, archived, closed, snoozed";

/// Sets a conversation's status: admins only; `snoozed` takes an `until` (docs/inbox.md); any status may follow any other, and setting the
/// current one is 200 and writes nothing.
///
/// # Errors
/// 400/404/403 for the conversation, 403 not an admin, whatever `body` refuses, 400 bad status,
/// 503 when the log cannot take the write.
pub async fn set_status<E: From<CommandError>>(
    app: &AppState,
    caller: &Caller,
    conversation_id: &str,
    body: impl FnOnce() -> std::result::Result<serde_json::Value, E>,
) -> std::result::Result<ConversationView, E> {
    let conv = access::conversation(app, caller, conversation_id)?;
    access::admin_only(caller, "change a conversation's status")?;
    super::take_write(app, caller)?;
    let body = body()?;
    let obj = body
        .as_object()
        .ok_or_else(|| CommandError::Invalid("body must be a JSON object".into()))?;
    let to = obj
        .get("status")
        .and_then(serde_json::Value::as_str)
        .and_then(Status::parse)
        .ok_or_else(|| CommandError::Invalid(STATUS_VALUES.into()))?;
    let until = obj.get("until").filter(|u| !u.is_null());
    let event = if to == Status::Snoozed {
        let until = super::inbox::parse_until(until, concierge_events::Timestamp::now())?;
        if conv.status == to && conv.snoozed_until == Some(until) {
            return Ok(conv);
        }
        Event::ConversationSnoozed(ConversationSnoozed {
            from: conv.status,
            until,
        })
    } else {
        if until.is_some() {
            return Err(CommandError::Invalid("until is only for status snoozed".into()).into());
        }
        if conv.status == to {
            return Ok(conv);
        }
        Event::ConversationStatusChanged(StatusChanged {
            from: conv.status,
            to,
        })
    };
    let event = envelope(caller, Some(&conv.id), event);
    let ack = write(app, subject::conversation(&conv.id), &event, &event.id).await?;
    Ok(app
        .views
        .views()
        .conversation(&conv.id)
        .map_err(CommandError::from)?
        .ok_or(CommandError::NotFolded { seq: ack.seq })?)
}
