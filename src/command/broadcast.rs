//! Admin broadcasts (route 13): one event on the broadcast subject, delivered live to the
//! audience's sockets. A broadcast counts against the sender's send budget like a message.

use super::messages::check_content;
use super::{envelope, write, CommandError, Result};
use crate::auth::Caller;
use crate::state::AppState;
use concierge_events::{subject, AdminBroadcast, Audience, Event, Timestamp};
use serde::Serialize;
use serde_json::Value;

/// The answer to a broadcast, shaped as the `admin_broadcast` socket event.
#[derive(Debug, Clone, Serialize)]
pub struct Broadcast {
    pub id: String,
    pub content: String,
    pub audience: Audience,
    pub from: String,
    pub at: Timestamp,
}

/// Publishes an admin broadcast.
///
/// # Errors
/// 403 not an admin, 429 over the send budget, whatever `body` refuses, 400 bad content or
/// audience, 503 when the log cannot take the write.
pub async fn broadcast<E: From<CommandError>>(
    app: &AppState,
    caller: &Caller,
    body: impl FnOnce() -> std::result::Result<Value, E>,
) -> std::result::Result<Broadcast, E> {
    super::access::admin_only(caller, "broadcast")?;
    super::take_send(app, caller)?;
    let body = body()?;
    let obj = body
        .as_object()
        .ok_or_else(|| CommandError::Invalid("body must be a JSON object".into()))?;
    let content = check_content(obj.get("content"), false)?;
    let audience = parse_audience(obj.get("audience"))?;
    let event = envelope(
        caller,
        None,
        Event::AdminBroadcast(AdminBroadcast {
            content: content.clone(),
            audience,
        }),
    );
    write(app, subject::BROADCAST.to_string(), &event, &event.id).await?;
    Ok(Broadcast {
        id: event.id,
        content,
        audience,
        from: caller.user_id.clone(),
        at: event.at,
    })
}

fn parse_audience(value: Option<&Value>) -> Result<Audience> {
    match value.and_then(Value::as_str) {
        Some("all") => Ok(Audience::All),
        Some("customers") => Ok(Audience::Customers),
        Some("admins") => Ok(Audience::Admins),
        _ => Err(CommandError::Invalid(
            "audience must be one of all, customers, admins".into(),
        )),
    }
}
