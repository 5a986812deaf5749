//! What a client may ask of the real-time core, one variant per client event of docs/websocket.md, decoded
//! from an event name and its `data` object. Each codec finds the name and the data in its own
//! framing and hands them here, so both codecs take exactly the same events with the same checks.

use serde_json::Value;

/// A client event, decoded.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientEvent {
    Authenticate {
        token: String,
    },
    JoinConversation {
        conversation_id: String,
    },
    LeaveConversation {
        conversation_id: String,
    },
    SendMessage {
        conversation_id: String,
        data: Value,
    },
    MarkRead {
        conversation_id: String,
    },
    TypingStart {
        conversation_id: String,
    },
    TypingStop {
        conversation_id: String,
    },
    Resume {
        since: u64,
    },
    Ping,
}

/// The client event names of docs/websocket.md.
pub const NAMES: [&str; 9] = [
    "authenticate",
    "join_conversation",
    "leave_conversation",
    "send_message",
    "mark_read",
    "typing_start",
    "typing_stop",
    "resume",
    "ping",
];

/// Events whose `data` may be a bare conversation id where a codec allows it (Socket.IO).
pub const TAKE_BARE_CONVERSATION_ID: [&str; 5] = [
    "join_conversation",
    "leave_conversation",
    "typing_start",
    "typing_stop",
    "mark_read",
];

impl ClientEvent {
    /// Decodes event `name` with `data` (`None` when the client sent none: taken as `{}`).
    ///
    /// # Errors
    /// A message naming what is wrong: an unknown event, data that is not an object, a bad field.
    pub fn decode(name: &str, data: Option<&Value>) -> Result<ClientEvent, String> {
        let empty = Value::Object(Default::default());
        let data = data.unwrap_or(&empty);
        if !data.is_object() {
            return Err("data must be an object".into());
        }
        let text = |field: &str| {
            data.get(field)
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| format!("data.{field} is required"))
        };
        let conversation_id = || text("conversationId");
        Ok(match name {
            "authenticate" => ClientEvent::Authenticate {
                token: text("token")?,
            },
            "join_conversation" => ClientEvent::JoinConversation {
                conversation_id: conversation_id()?,
            },
            "leave_conversation" => ClientEvent::LeaveConversation {
                conversation_id: conversation_id()?,
            },
            "send_message" => ClientEvent::SendMessage {
                conversation_id: conversation_id()?,
                data: data.clone(),
            },
            "mark_read" => ClientEvent::MarkRead {
                conversation_id: conversation_id()?,
            },
            "typing_start" => ClientEvent::TypingStart {
                conversation_id: conversation_id()?,
            },
            "typing_stop" => ClientEvent::TypingStop {
                conversation_id: conversation_id()?,
            },
            "resume" => ClientEvent::Resume {
                since: data
                    .get("since")
                    .and_then(Value::as_u64)
                    .ok_or("data.since must be a non-negative integer")?,
            },
            "ping" => ClientEvent::Ping,
            other => return Err(unknown(other)),
        })
    }
}

/// The refusal of an event name no one knows, shown cut to 64 characters.
pub fn unknown(name: &str) -> String {
    let shown: String = name.chars().take(64).collect();
    format!("unknown event: {shown}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_every_event_name() {
        let data = json!({"conversationId": "c", "token": "t", "since": 3, "content": "hi"});
        for name in NAMES {
            assert!(ClientEvent::decode(name, Some(&data)).is_ok(), "{name}");
        }
        assert_eq!(ClientEvent::decode("ping", None), Ok(ClientEvent::Ping));
    }

    #[test]
    fn refusals_name_the_problem() {
        let no_id = ClientEvent::decode("join_conversation", Some(&json!({})));
        assert_eq!(no_id, Err("data.conversationId is required".into()));
        let since = ClientEvent::decode("resume", Some(&json!({"since": -1})));
        assert_eq!(
            since,
            Err("data.since must be a non-negative integer".into())
        );
        let bare = ClientEvent::decode("mark_read", Some(&json!("c")));
        assert_eq!(bare, Err("data must be an object".into()));
        assert_eq!(
            ClientEvent::decode("fly", None),
            Err("unknown event: fly".into())
        );
    }
}
