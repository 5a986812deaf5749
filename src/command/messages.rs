//! Sending a message and marking a conversation read: the rules of routes 3–5, shared with the
//! WebSocket `send_message` and `mark_read` frames.

use super::{access, envelope, write, CommandError, Result};
use crate::auth::Caller;
use crate::log::Ack;
use crate::state::AppState;
use concierge_events::{
    ids, subject, Attachment, Envelope, Event, MessageSent, MessageType, MessagesRead, NoteAdded,
    Role, Status, Timestamp,
};
use concierge_projections::views::{ConversationView, MessageView};
use serde_json::{Map, Value};

pub const MAX_CONTENT_CHARS: usize = 2000;
pub const MAX_ATTACHMENTS: usize = 10;
pub const MAX_FILENAME_CHARS: usize = 255;
pub const MAX_CLIENT_KEY_CHARS: usize = 128;
/// The longest attachment URL, in characters (Unicode scalar values, like every length).
pub const MAX_URL_CHARS: usize = 2048;
pub const MAX_MIMETYPE_CHARS: usize = 255;
/// The largest attachment `size`: the largest `int64`, what JSON clients can hold exactly enough.
pub const MAX_ATTACHMENT_SIZE: u64 = i64::MAX as u64;

/// A validated send.
#[derive(Debug, Clone)]
pub struct SendInput {
    pub content: String,
    pub message_type: MessageType,
    pub reply_to: Option<String>,
    pub attachments: Vec<AttachmentInput>,
    pub client_message_id: Option<String>,
    /// An internal note (admins only): `note_added` instead of `message_sent`.
    pub internal: bool,
}

/// An attachment as a send names it: a file outside Concierge, or an upload by its id.
#[derive(Debug, Clone)]
pub enum AttachmentInput {
    External(Attachment),
    Upload(String),
}

impl SendInput {
    /// The ids of the uploads the send names.
    pub fn upload_ids(&self) -> Vec<String> {
        self.attachments
            .iter()
            .filter_map(|a| match a {
                AttachmentInput::Upload(id) => Some(id.clone()),
                AttachmentInput::External(_) => None,
            })
            .collect()
    }
}

/// Control characters the contract rejects: C0 except `\n`, `\r`, `\t`; DEL; C1.
pub fn is_forbidden_control(c: char) -> bool {
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}') && !matches!(c, '\n' | '\r' | '\t')
}

fn invalid(msg: impl Into<String>) -> CommandError {
    CommandError::Invalid(msg.into())
}

/// Checks message content: a string of at most 2000 scalar values without forbidden control
/// characters; blank only when `blank_ok`.
///
/// # Errors
/// 400 naming `content`.
pub fn check_content(value: Option<&Value>, blank_ok: bool) -> Result<String> {
    let content = match value {
        None | Some(Value::Null) => return Err(invalid("content is required")),
        Some(Value::String(s)) => s,
        Some(_) => return Err(invalid("content must be a string")),
    };
    if content.chars().count() > MAX_CONTENT_CHARS {
        return Err(invalid(format!(
            "content must be at most {MAX_CONTENT_CHARS} characters"
        )));
    }
    if content.chars().any(is_forbidden_control) {
        return Err(invalid("content must not contain control characters"));
    }
    if !blank_ok && content.trim().is_empty() {
        return Err(invalid("content must not be blank"));
    }
    Ok(content.clone())
}

/// The client key of a body, if it carries one as a string (used before the body is validated, to
/// answer an idempotent retry first).
pub fn client_key_of(body: &Value) -> Option<String> {
    body.get("clientMessageId")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Checks a client key (`clientMessageId` or `Idempotency-Key`).
///
/// # Errors
/// 400 naming `field`.
pub fn check_client_key(key: &str, field: &str) -> Result<()> {
    let n = key.chars().count();
    if n == 0 || n > MAX_CLIENT_KEY_CHARS || key.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{field} must be 1-{MAX_CLIENT_KEY_CHARS} characters without control characters"
        )));
    }
    Ok(())
}

/// Validates a send body (the POST body, or a `send_message` frame's `data`).
///
/// # Errors
/// 400 naming the first bad field.
pub fn parse_send(body: &Value, header_key: Option<&str>) -> Result<SendInput> {
    let obj = body
        .as_object()
        .ok_or_else(|| invalid("body must be a JSON object"))?;
    let message_type = match obj.get("messageType") {
        None | Some(Value::Null) => MessageType::Text,
        Some(Value::String(s)) => MessageType::parse(s)
            .ok_or_else(|| invalid("messageType must be one of text, image, file, system"))?,
        Some(_) => {
            return Err(invalid(
                "messageType must be one of text, image, file, system",
            ))
        }
    };
    let attachments = parse_attachments(obj)?;
    let blank_ok =
        matches!(message_type, MessageType::Image | MessageType::File) && !attachments.is_empty();
    let content = check_content(obj.get("content"), blank_ok)?;
    let reply_to = match obj.get("replyTo") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if ids::is_ulid(s) => Some(s.clone()),
        Some(_) => return Err(invalid("replyTo must be a message id or null")),
    };
    if let Some(k) = header_key {
        check_client_key(k, "Idempotency-Key")?;
    }
    let client_message_id = match obj.get("clientMessageId") {
        None | Some(Value::Null) => header_key.map(str::to_string),
        Some(Value::String(s)) => {
            check_client_key(s, "clientMessageId")?;
            Some(s.clone())
        }
        Some(_) => return Err(invalid("clientMessageId must be a string or null")),
    };
    let internal = match obj.get("internal") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(invalid("internal must be true or false")),
    };
    if internal && message_type != MessageType::Text {
        return Err(invalid(
            "an internal note is text: messageType must be text",
        ));
    }
    if internal && !attachments.is_empty() {
        return Err(invalid("an internal note takes no attachments"));
    }
    Ok(SendInput {
        content,
        message_type,
        reply_to,
        attachments,
        client_message_id,
        internal,
    })
}

/// A JSON number that is a whole number of at least 0, written as an integer or not (`12.0`, as
/// JSON Schema's `integer` allows).
pub fn whole_number(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..9.223_372_036_854_776e18).contains(f))
            .map(|f| f as u64)
    })
}

fn parse_attachments(obj: &Map<String, Value>) -> Result<Vec<AttachmentInput>> {
    let items = match obj.get("attachments") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid("attachments must be an array")),
    };
    if items.len() > MAX_ATTACHMENTS {
        return Err(invalid(format!(
            "attachments must have at most {MAX_ATTACHMENTS} items"
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let field = |name: &str| format!("attachments[{i}].{name}");
            let a = item
                .as_object()
                .ok_or_else(|| invalid(format!("attachments[{i}] must be an object")))?;
            if let Some(id) = a.get("id").filter(|v| !v.is_null()) {
                return match id.as_str() {
                    Some(id) if ids::is_ulid(id) => Ok(AttachmentInput::Upload(id.to_string())),
                    _ => Err(invalid(format!(
                        "{} must be the 26-character id of an upload",
                        field("id")
                    ))),
                };
            }
            let text = |name: &str| a.get(name).and_then(Value::as_str);
            let url = text("url")
                .filter(|u| {
                    let rest = u
                        .strip_prefix("https://")
                        .or_else(|| u.strip_prefix("http://"));
                    rest.is_some_and(|r| !r.is_empty())
                        && u.chars().count() <= MAX_URL_CHARS
                        && !u.chars().any(|c| c.is_control() || c.is_whitespace())
                })
                .ok_or_else(|| invalid(format!("{} must be an http(s) URL", field("url"))))?;
            let filename = text("filename")
                .filter(|f| {
                    let n = f.chars().count();
                    (1..=MAX_FILENAME_CHARS).contains(&n) && !f.chars().any(char::is_control)
                })
                .ok_or_else(|| {
                    invalid(format!(
                        "{} must be 1-{MAX_FILENAME_CHARS} characters",
                        field("filename")
                    ))
                })?;
            let mimetype = text("mimetype")
                .filter(|m| {
                    m.chars().count() <= MAX_MIMETYPE_CHARS
                        && m.split_once('/')
                            .is_some_and(|(t, s)| !t.is_empty() && !s.is_empty())
                        && !m.chars().any(|c| c.is_control() || c.is_whitespace())
                })
                .ok_or_else(|| {
                    invalid(format!(
                        "{} must be a MIME type such as application/pdf",
                        field("mimetype")
                    ))
                })?;
            let size = a
                .get("size")
                .and_then(whole_number)
                .filter(|&n| n <= MAX_ATTACHMENT_SIZE)
                .ok_or_else(|| {
                    invalid(format!(
                        "{} must be an integer from 0 to {MAX_ATTACHMENT_SIZE}",
                        field("size")
                    ))
                })?;
            Ok(AttachmentInput::External(Attachment::external(
                url.to_string(),
                filename.to_string(),
                mimetype.to_string(),
                size,
            )))
        })
        .collect()
}

/// Sends a message. `key_hint` is the client key as first seen (body or header), so that a retry
/// is answered before anything else about it is checked; `body` validates the rest when needed.
/// Returns the message and `true` when this call created it (`false`: an idempotent retry).
/// An admin who is not a participant joins (`participant_joined`) after every check, just before
/// the `message_sent`.
///
/// # Errors
/// 404/403 for the conversation, 429 over the rate, whatever `body` refuses, 403 `system` by a
/// customer, 400 bad `replyTo`, 409 closed conversation, 503 when the log cannot take it.
pub async fn send<E: From<CommandError>>(
    app: &AppState,
    caller: &Caller,
    conversation_id: &str,
    key_hint: Option<&str>,
    body: impl FnOnce() -> std::result::Result<SendInput, E>,
) -> std::result::Result<(MessageView, bool), E> {
    let conv = access::conversation(app, caller, conversation_id)?;
    if let Some(key) = key_hint {
        if let Some(original) = original(app, &conv, caller, key)? {
            return Ok((original, false));
        }
    }
    super::take_send(app, caller)?;
    let input = body()?;
    if input.message_type == MessageType::System {
        access::admin_only(caller, "send system messages")?;
    }
    if input.internal {
        access::admin_only(caller, "write internal notes")?;
    }
    if let Some(reply_to) = &input.reply_to {
        check_reply_to(app, caller, &conv, reply_to, input.internal)?;
    }
    if input.internal {
        return add_note(app, caller, &conv, input).await.map_err(E::from);
    }
    if conv.status == Status::Closed {
        return Err(CommandError::Conflict("the conversation is closed".into()).into());
    }
    let upload_ids = input.upload_ids();
    let mut uploads = super::attachments::resolve(app, caller, &conv, &upload_ids)
        .await?
        .into_iter();
    let attachments = input
        .attachments
        .into_iter()
        .map(|a| match a {
            AttachmentInput::External(a) => a,
            AttachmentInput::Upload(_) => uploads.next().expect("one resolved per upload"),
        })
        .collect();
    // An admin who sends joins, by its own event before the send.
    let conv = super::conversations::join_if_admin(app, caller, conv).await?;
    let message_id = ulid::Ulid::new().to_string();
    let event = envelope(
        caller,
        Some(&conv.id),
        Event::MessageSent(MessageSent {
            message_id: message_id.clone(),
            content: input.content,
            message_type: input.message_type,
            attachments,
            reply_to: input.reply_to,
            client_message_id: input.client_message_id.clone(),
        }),
    );
    let key = input.client_message_id.as_deref();
    let (stored, ack) = publish_send(app, caller, &conv, &event, &message_id, key).await?;
    let views = app.views.views();
    match stored {
        Some(m) => {
            let created = !ack.duplicate && m.id == message_id;
            Ok((m, created))
        }
        // The fold skipped it: the log ordered a close before this send.
        None => match views.conversation(&conv.id).map_err(CommandError::from)? {
            Some(c) if c.status == Status::Closed => {
                Err(CommandError::Conflict("the conversation is closed".into()).into())
            }
            _ if super::attachments::taken_by_other(app, &upload_ids, &message_id)? => Err(
                CommandError::Conflict("an attachment is already used by another message".into())
                    .into(),
            ),
            _ => Err(CommandError::NotFolded { seq: ack.seq }.into()),
        },
    }
}

/// A reply must answer a message of the same conversation that its readers see: a customer sees no
/// note (one is answered as an unknown id), and a message to the customer may not answer one.
///
/// # Errors
/// 400 naming `replyTo`.
fn check_reply_to(
    app: &AppState,
    caller: &Caller,
    conv: &ConversationView,
    reply_to: &str,
    internal: bool,
) -> Result<()> {
    let target = match app.views.views().locate(reply_to)? {
        Some((c, seq)) if c == conv.id => app.views.views().message_in(conv, seq)?,
        _ => None,
    };
    match target {
        Some(m) if m.internal && caller.role != Role::Admin => {
            Err(invalid("replyTo must be a message of this conversation"))
        }
        Some(m) if m.internal && !internal => Err(invalid(
            "replyTo must not be an internal note: the customer cannot see it",
        )),
        Some(_) => Ok(()),
        None => Err(invalid("replyTo must be a message of this conversation")),
    }
}

/// The user ids a note `@mentions`, in order, each once: an `@` at the start or after a character
/// that is not part of an id, followed by an id that starts with a letter or digit (a trailing
/// `.`, `:` or `-` is punctuation).
pub fn mentions(content: &str) -> Vec<String> {
    let is_id = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '@' | '-');
    let mut out: Vec<String> = Vec::new();
    let mut prev: Option<char> = None;
    for (i, c) in content.char_indices() {
        if c == '@' && !prev.is_some_and(is_id) {
            let rest = &content[i + 1..];
            let end = rest.find(|c: char| !is_id(c)).unwrap_or(rest.len());
            let id = rest[..end].trim_end_matches(['.', ':', '-']);
            let starts_well = id.starts_with(|c: char| c.is_ascii_alphanumeric());
            if starts_well && ids::is_external(id) && !out.iter().any(|m| m == id) {
                out.push(id.to_string());
            }
        }
        prev = Some(c);
    }
    out
}

/// Writes an internal note: `note_added`, no join, whatever the status.
///
/// # Errors
/// 503 when the log cannot take it; 500 when it was not folded in time.
async fn add_note(
    app: &AppState,
    caller: &Caller,
    conv: &ConversationView,
    input: SendInput,
) -> Result<(MessageView, bool)> {
    let message_id = ulid::Ulid::new().to_string();
    let event = envelope(
        caller,
        Some(&conv.id),
        Event::NoteAdded(NoteAdded {
            message_id: message_id.clone(),
            mentions: mentions(&input.content),
            content: input.content,
            reply_to: input.reply_to,
            client_message_id: input.client_message_id.clone(),
        }),
    );
    let key = input.client_message_id.as_deref();
    let (stored, ack) = publish_send(app, caller, conv, &event, &message_id, key).await?;
    match stored {
        Some(m) => {
            let created = !ack.duplicate && m.id == message_id;
            Ok((m, created))
        }
        None => Err(CommandError::NotFolded { seq: ack.seq }),
    }
}

/// Publishes a send (a message or a note) and reads back what the log kept: the message its client
/// key names (a retry's original, when the log had it already) or the new one; `None` when the
/// fold skipped it.
///
/// # Errors
/// 503 when the log cannot take it; 500 when it was not folded in time or the views cannot be read.
async fn publish_send(
    app: &AppState,
    caller: &Caller,
    conv: &ConversationView,
    event: &Envelope,
    message_id: &str,
    key: Option<&str>,
) -> Result<(Option<MessageView>, Ack)> {
    let msg_id = match key {
        Some(key) => client_msg_id(&conv.id, &caller.user_id, key),
        None => event.id.clone(),
    };
    let ack = write(app, subject::conversation(&conv.id), event, &msg_id).await?;
    let stored = match key {
        Some(key) => original(app, conv, caller, key)?,
        None => app.views.views().message_by_id(message_id)?,
    };
    Ok((stored, ack))
}

/// The `Nats-Msg-Id` of a send with a client key. User ids may contain `:`, so the sender's id is
/// preceded by its length: `a` with key `b:c` and `a:b` with key `c` must not collide.
pub fn client_msg_id(conversation_id: &str, sender: &str, key: &str) -> String {
    format!(
        "message_sent:{conversation_id}:{}:{sender}:{key}",
        sender.len()
    )
}

/// The message the caller's client key already produced in `conv`, if any.
///
/// # Errors
/// 500 when the views cannot be read.
fn original(
    app: &AppState,
    conv: &ConversationView,
    caller: &Caller,
    key: &str,
) -> Result<Option<MessageView>> {
    let views = app.views.views();
    match views.client_key(&conv.id, &caller.user_id, key)? {
        Some(id) => Ok(views.message_by_id(&id)?),
        None => Ok(None),
    }
}

/// The answer to marking a conversation read.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadOutcome {
    pub conversation_id: String,
    pub read_at: Timestamp,
    pub unread_count: u64,
    pub marked: u64,
}

/// Marks everything in the conversation read for the caller. An admin who has not joined joins
/// first (`participant_joined`); then one `messages_read` is written, only when something was
/// unread.
///
/// # Errors
/// 404/403 for the conversation; 503 when the log cannot take the write.
pub async fn mark_read(
    app: &AppState,
    caller: &Caller,
    conversation_id: &str,
) -> Result<ReadOutcome> {
    let conv = access::conversation(app, caller, conversation_id)?;
    mark_loaded_read(app, caller, conv).await
}

/// [`mark_read`] for a conversation the caller was already allowed to load.
///
/// # Errors
/// 503 when the log cannot take the write.
pub async fn mark_loaded_read(
    app: &AppState,
    caller: &Caller,
    conv: ConversationView,
) -> Result<ReadOutcome> {
    // An admin who reads joins, by its own event before the read.
    let conv = super::conversations::join_if_admin(app, caller, conv).await?;
    let marked = conv.unread_for(&caller.user_id);
    if marked == 0 {
        // Nothing to mark, so no `messages_read`.
        let read_at = conv
            .read_points
            .get(&caller.user_id)
            .map(|r| r.at)
            .unwrap_or_else(Timestamp::now);
        return Ok(ReadOutcome {
            conversation_id: conv.id,
            read_at,
            unread_count: 0,
            marked: 0,
        });
    }
    let event = envelope(
        caller,
        Some(&conv.id),
        Event::MessagesRead(MessagesRead {
            up_to_seq: conv.last_message_seq,
        }),
    );
    let ack = write(app, subject::conversation(&conv.id), &event, &event.id).await?;
    let now = app
        .views
        .views()
        .conversation(&conv.id)?
        .ok_or(CommandError::NotFolded { seq: ack.seq })?;
    Ok(ReadOutcome {
        unread_count: now.unread_for(&caller.user_id),
        conversation_id: now.id,
        read_at: event.at,
        marked,
    })
}

#[cfg(test)]
mod tests {
    use super::{client_msg_id, mentions};

    #[test]
    fn mentions_are_ids_after_an_at_sign_each_once() {
        assert_eq!(
            mentions("@adm_3 please look, cc @adm.4: and @adm_3 again"),
            vec!["adm_3".to_string(), "adm.4".to_string()]
        );
        assert_eq!(
            mentions("mail bo@example.com, or @ alone, or @@x"),
            Vec::<String>::new()
        );
        assert_eq!(mentions("(@cy)"), vec!["cy".to_string()]);
    }

    #[test]
    fn client_message_ids_of_different_senders_never_collide() {
        let conv = "01JDQ7X0S9G1W7V8M2K3Z4Y5AB";
        assert_ne!(
            client_msg_id(conv, "a", "b:c"),
            client_msg_id(conv, "a:b", "c")
        );
        assert_eq!(
            client_msg_id(conv, "cus:7", "k1"),
            "message_sent:01JDQ7X0S9G1W7V8M2K3Z4Y5AB:5:cus:7:k1"
        );
    }
}
