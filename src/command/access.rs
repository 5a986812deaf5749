//! Who may reach which conversation: a customer only their own booking's, an admin any, a service
//! token none (it may only register bookings, read stats and replay events).

use super::{CommandError, Result};
use crate::auth::Caller;
use crate::state::AppState;
use concierge_events::{ids, Role};
use concierge_projections::views::ConversationView;

pub const NOT_PARTICIPANT: &str = "You are not a participant in this conversation";
pub const SERVICE_FORBIDDEN: &str =
    "service tokens may only register bookings, read stats and replay events";

/// Checks a conversation id from a path or a frame.
///
/// # Errors
/// 400 naming `field` when it is not a ULID.
pub fn conversation_id(id: &str, field: &str) -> Result<()> {
    if ids::is_ulid(id) {
        Ok(())
    } else {
        Err(CommandError::Invalid(format!(
            "{field} must be a 26-character ULID"
        )))
    }
}

/// Loads a conversation the caller may see.
///
/// # Errors
/// 400 for a malformed id, 404 for an unknown one, 403 when the caller may not see it.
pub fn conversation(app: &AppState, caller: &Caller, id: &str) -> Result<ConversationView> {
    let conv = known(app, id)?;
    allowed(caller, &conv)?;
    Ok(conv)
}

/// Loads a conversation whoever asks, for routes that must look up more before the permission
/// check (a message of it: an unknown message is 404 before a forbidden caller's 403). Call
/// [`allowed`] before using it.
///
/// # Errors
/// 400 for a malformed id, 404 for an unknown one.
pub fn known(app: &AppState, id: &str) -> Result<ConversationView> {
    conversation_id(id, "conversationId")?;
    app.views
        .views()
        .conversation(id)?
        .ok_or_else(|| CommandError::NotFound("conversation not found".into()))
}

/// Checks that the caller may see the conversation.
///
/// # Errors
/// 403 when they may not.
pub fn allowed(caller: &Caller, conv: &ConversationView) -> Result<()> {
    if may_see(caller, conv) {
        return Ok(());
    }
    Err(CommandError::Forbidden(match caller.role {
        Role::Service => SERVICE_FORBIDDEN.into(),
        _ => NOT_PARTICIPANT.into(),
    }))
}

pub fn may_see(caller: &Caller, conv: &ConversationView) -> bool {
    match caller.role {
        Role::Admin => true,
        Role::Customer => conv.customer_id() == Some(caller.user_id.as_str()),
        Role::Service => false,
    }
}

/// 403 for anyone but an admin.
///
/// # Errors
/// [`CommandError::Forbidden`] naming what only admins may do.
pub fn admin_only(caller: &Caller, what: &str) -> Result<()> {
    if caller.role == Role::Admin {
        Ok(())
    } else {
        Err(CommandError::Forbidden(format!("only admins may {what}")))
    }
}

/// Refuses service tokens on chat routes.
///
/// # Errors
/// 403 for a service token.
pub fn not_service(caller: &Caller) -> Result<()> {
    if caller.role == Role::Service {
        Err(CommandError::Forbidden(SERVICE_FORBIDDEN.into()))
    } else {
        Ok(())
    }
}
