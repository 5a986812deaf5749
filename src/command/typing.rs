//! Typing indicators: a write like any other (checked, budgeted, published), but on the typing
//! stream, which is not folded: indicators are not history.

use super::{access, take_write, CommandError, Result};
use crate::auth::Caller;
use crate::state::AppState;
use concierge_events::{subject, Empty, Event};

/// Publishes that `caller` started (`true`) or stopped typing in a conversation they may see.
///
/// # Errors
/// 400/404/403 for the conversation, 429 when the write budget is spent, 503 when the typing
/// stream does not take it.
pub async fn set(
    app: &AppState,
    caller: &Caller,
    conversation_id: &str,
    started: bool,
) -> Result<()> {
    let conv = access::conversation(app, caller, conversation_id)?;
    take_write(app, caller)?;
    let event = if started {
        Event::TypingStarted(Empty {})
    } else {
        Event::TypingStopped(Empty {})
    };
    let env = super::envelope(caller, Some(&conv.id), event);
    app.log
        .publish_typing(subject::typing(&conv.id), &env)
        .await
        .map_err(CommandError::Unavailable)
}
