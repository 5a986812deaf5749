//! A message after it was sent: edits, soft deletes and reactions (routes 8–10). Repeating a change
//! that is already in place answers 200 and writes nothing; a deleted message takes no further change.

use super::messages::check_content;
use super::{access, envelope, take_write, write, CommandError, Result};
use crate::auth::Caller;
use crate::state::AppState;
use concierge_events::{
    ids, subject, Event, MessageDeleted, MessageEdited, MessageType, Reaction, Role, Status,
    Timestamp,
};

const NOTE_REACTIONS: &str = "internal notes take no reactions";
use concierge_projections::views::{ConversationView, MessageView};
use serde_json::Value;

/// The most characters (Unicode scalar values) a reaction's emoji may have.
pub const MAX_EMOJI_CHARS: usize = 32;

const CLOSED: &str = "the conversation is closed";
const DELETED: &str = "the message is deleted";

/// Checks both path ids before anything is looked up.
///
/// # Errors
/// 400 naming the id that is not a ULID.
pub fn check_ids(conversation_id: &str, message_id: &str) -> Result<()> {
    access::conversation_id(conversation_id, "conversationId")?;
    if !ids::is_ulid(message_id) {
        return Err(CommandError::Invalid(
            "messageId must be a 26-character ULID".into(),
        ));
    }
    Ok(())
}

/// Checks an emoji: 1–32 characters, not blank, no control characters.
///
/// # Errors
/// 400 naming `emoji`.
pub fn check_emoji(emoji: &str) -> Result<()> {
    let n = emoji.chars().count();
    if n == 0
        || n > MAX_EMOJI_CHARS
        || emoji.trim().is_empty()
        || emoji.chars().any(char::is_control)
    {
        return Err(CommandError::Invalid(format!(
            "emoji must be 1-{MAX_EMOJI_CHARS} characters without control characters or only spaces"
        )));
    }
    Ok(())
}

/// The conversation the caller may see and one of its messages: 400 for a malformed id, 404 for an
/// unknown conversation or message (a message of another conversation included, and a note for
/// anyone but an admin: to them it does not exist), then 403 when the caller may not see the
/// conversation (API.md's check order: unknown resource before permission).
fn load(
    app: &AppState,
    caller: &Caller,
    conversation_id: &str,
    message_id: &str,
) -> Result<(ConversationView, MessageView)> {
    check_ids(conversation_id, message_id)?;
    let conv = access::known(app, conversation_id)?;
    let views = app.views.views();
    let message = match views.locate(message_id)? {
        Some((c, seq)) if c == conv.id => views.message_in(&conv, seq)?,
        _ => None,
    }
    .filter(|m| !m.internal || caller.role == Role::Admin)
    .ok_or_else(|| CommandError::NotFound("message not found".into()))?;
    access::allowed(caller, &conv)?;
    Ok((conv, message))
}

/// Publishes `event` about `conv` and reads the message back as folded, with the event's time.
async fn change(
    app: &AppState,
    caller: &Caller,
    conv: &ConversationView,
    message_id: &str,
    event: Event,
) -> Result<(MessageView, Timestamp)> {
    let event = envelope(caller, Some(&conv.id), event);
    let ack = write(app, subject::conversation(&conv.id), &event, &event.id).await?;
    let message = app
        .views
        .views()
        .message_by_id(message_id)?
        .ok_or(CommandError::NotFolded { seq: ack.seq })?;
    Ok((message, event.at))
}

/// Edits a message's content: the sender only, not deleted, not in a closed conversation, same
/// validation as sending. The same content again is 200 and writes nothing.
///
/// # Errors
/// 400/404/403 as [`load`], 403 not the sender, whatever `body` refuses, 400 bad content, 409
/// deleted or closed (also when the log ordered a delete or close first), 503 from the log.
pub async fn edit<E: From<CommandError>>(
    app: &AppState,
    caller: &Caller,
    conversation_id: &str,
    message_id: &str,
    body: impl FnOnce() -> std::result::Result<Value, E>,
) -> std::result::Result<MessageView, E> {
    let (conv, message) = load(app, caller, conversation_id, message_id)?;
    if message.sender != caller.user_id {
        let who = if message.internal {
            "only its author may edit an internal note"
        } else {
            "only the sender may edit a message"
        };
        return Err(CommandError::Forbidden(who.into()).into());
    }
    take_write(app, caller)?;
    let body = body()?;
    let obj = body
        .as_object()
        .ok_or_else(|| CommandError::Invalid("body must be a JSON object".into()))?;
    let blank_ok = matches!(message.message_type, MessageType::Image | MessageType::File)
        && !message.attachments.is_empty();
    let content = check_content(obj.get("content"), blank_ok)?;
    conflicts(&conv, &message)?;
    if content == message.content {
        return Ok(message);
    }
    let edit = MessageEdited {
        message_id: message.id.clone(),
        content,
    };
    let event = if message.internal {
        Event::NoteEdited(edit)
    } else {
        Event::MessageEdited(edit)
    };
    let (edited, at) = change(app, caller, &conv, &message.id, event).await?;
    if edited.is_deleted || edited.edited_at.is_none_or(|t| t < at) {
        return Err(if message.internal {
            CommandError::Conflict(DELETED.into())
        } else {
            settled_by_log(app, &conv.id)
        }
        .into());
    }
    Ok(edited)
}

/// Soft-deletes a message: the sender or an admin. Deleting it again is 200 and writes nothing.
///
/// # Errors
/// 400/404/403 as [`load`], 403 neither the sender nor an admin, 503 from the log.
pub async fn delete(
    app: &AppState,
    caller: &Caller,
    conversation_id: &str,
    message_id: &str,
) -> Result<MessageView> {
    let (conv, message) = load(app, caller, conversation_id, message_id)?;
    if message.internal && message.sender != caller.user_id {
        return Err(CommandError::Forbidden(
            "only its author may delete an internal note".into(),
        ));
    }
    if message.sender != caller.user_id && caller.role != Role::Admin {
        return Err(CommandError::Forbidden(
            "only the sender or an admin may delete a message".into(),
        ));
    }
    if message.is_deleted {
        return Ok(message);
    }
    take_write(app, caller)?;
    let delete = MessageDeleted {
        message_id: message.id.clone(),
    };
    let event = if message.internal {
        Event::NoteDeleted(delete)
    } else {
        Event::MessageDeleted(delete)
    };
    let (deleted, _) = change(app, caller, &conv, &message.id, event).await?;
    Ok(deleted)
}

/// Adds the caller's reaction `emoji` (read from the body by `body`) to a message. One that
/// exists already is 200 and writes nothing.
///
/// # Errors
/// 400/404/403 as [`load`], whatever `body` refuses, 400 bad emoji, 409 deleted message or closed
/// conversation, 503 from the log.
pub async fn react<E: From<CommandError>>(
    app: &AppState,
    caller: &Caller,
    conversation_id: &str,
    message_id: &str,
    body: impl FnOnce() -> std::result::Result<Value, E>,
) -> std::result::Result<MessageView, E> {
    let (conv, message) = load(app, caller, conversation_id, message_id)?;
    take_write(app, caller)?;
    let body = body()?;
    let obj = body
        .as_object()
        .ok_or_else(|| CommandError::Invalid("body must be a JSON object".into()))?;
    let emoji = match obj.get("emoji") {
        None | Some(Value::Null) => "",
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(CommandError::Invalid("emoji must be a string".into()).into()),
    };
    check_emoji(emoji)?;
    if message.internal {
        return Err(CommandError::Conflict(NOTE_REACTIONS.into()).into());
    }
    conflicts(&conv, &message)?;
    if has_reaction(&message, &caller.user_id, emoji) {
        return Ok(message);
    }
    let (reacted, _) = change(
        app,
        caller,
        &conv,
        &message.id,
        Event::ReactionAdded(Reaction {
            message_id: message.id.clone(),
            emoji: emoji.to_string(),
        }),
    )
    .await?;
    if !has_reaction(&reacted, &caller.user_id, emoji) {
        return Err(settled_by_log(app, &conv.id).into());
    }
    Ok(reacted)
}

/// Removes the caller's reaction `emoji`. One that does not exist is 200 and writes nothing.
///
/// # Errors
/// 400 bad ids or emoji, 404/403 as [`load`], 409 deleted message or closed conversation, 503
/// from the log.
pub async fn unreact(
    app: &AppState,
    caller: &Caller,
    conversation_id: &str,
    message_id: &str,
    emoji: &str,
) -> Result<MessageView> {
    check_ids(conversation_id, message_id)?;
    check_emoji(emoji)?;
    let (conv, message) = load(app, caller, conversation_id, message_id)?;
    take_write(app, caller)?;
    if message.internal {
        return Err(CommandError::Conflict(NOTE_REACTIONS.into()));
    }
    conflicts(&conv, &message)?;
    if !has_reaction(&message, &caller.user_id, emoji) {
        return Ok(message);
    }
    let (unreacted, _) = change(
        app,
        caller,
        &conv,
        &message.id,
        Event::ReactionRemoved(Reaction {
            message_id: message.id.clone(),
            emoji: emoji.to_string(),
        }),
    )
    .await?;
    if has_reaction(&unreacted, &caller.user_id, emoji) {
        return Err(settled_by_log(app, &conv.id));
    }
    Ok(unreacted)
}

fn has_reaction(message: &MessageView, user: &str, emoji: &str) -> bool {
    message
        .reactions
        .iter()
        .any(|r| r.user == user && r.emoji == emoji)
}

/// 409 for a change to a deleted message or in a closed conversation (notes may change whatever
/// the status).
fn conflicts(conv: &ConversationView, message: &MessageView) -> Result<()> {
    if message.is_deleted {
        return Err(CommandError::Conflict(DELETED.into()));
    }
    if conv.status == Status::Closed && !message.internal {
        return Err(CommandError::Conflict(CLOSED.into()));
    }
    Ok(())
}

/// Why a published change was skipped by the fold: the log ordered a delete or a close before it
/// (or, when the views cannot be read, a 500 that says so).
fn settled_by_log(app: &AppState, conversation_id: &str) -> CommandError {
    match app.views.views().conversation(conversation_id) {
        Ok(conv) => {
            let closed = conv.is_some_and(|c| c.status == Status::Closed);
            CommandError::Conflict(if closed { CLOSED } else { DELETED }.into())
        }
        Err(e) => e.into(),
    }
}
