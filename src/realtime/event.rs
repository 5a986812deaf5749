//! Server events as the core plans them: a name, the log `seq` when the event comes from the log,
//! and typed data. No wire format lives here: each codec writes an event once, on first use, and
//! every socket of that format shares the same bytes.

use crate::render::ConversationOut;
use concierge_events::{Audience, Role, Timestamp};
use concierge_projections::views::MessageView;
use serde::Serialize;
use std::sync::OnceLock;

/// Shared, immutable UTF-8 text: an encoded event, cloned per socket without copying.
pub type Text = axum::extract::ws::Utf8Bytes;

/// The wire formats an event may be written in; one cached encoding each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wire {
    /// `/ws` frames (docs/websocket.md).
    WebSocket = 0,
    /// Socket.IO event packets (docs/socketio.md).
    SocketIo = 1,
}

impl Wire {
    /// The `transport` label of the metrics and logs that name a socket's wire format.
    pub fn label(self) -> &'static str {
        match self {
            Wire::WebSocket => "ws",
            Wire::SocketIo => "socketio",
        }
    }
}

/// One server event on its way to one or more sockets.
#[derive(Debug)]
pub struct ServerEvent {
    pub name: &'static str,
    /// The log sequence, for events that come from the log.
    pub seq: Option<u64>,
    pub data: Data,
    encoded: [OnceLock<Text>; 2],
}

impl ServerEvent {
    pub fn new(name: &'static str, seq: Option<u64>, data: Data) -> ServerEvent {
        ServerEvent {
            name,
            seq,
            data,
            encoded: Default::default(),
        }
    }

    /// The event in `wire`'s format, written by `encode` the first time it is asked for.
    pub fn encoded(&self, wire: Wire, encode: fn(&ServerEvent) -> Text) -> Text {
        self.encoded[wire as usize]
            .get_or_init(|| encode(self))
            .clone()
    }
}

/// The `data` of every server event of docs/websocket.md's table.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Data {
    Authenticated(Authenticated),
    Message(MessageData),
    Conversation(ConversationData),
    Reaction(ReactionData),
    Read(ReadData),
    Typing(TypingData),
    Presence(PresenceData),
    Broadcast(BroadcastData),
    Mentioned(MentionedData),
    Assigned(AssignedData),
    ResumeComplete(ResumeComplete),
    ResumeFailed(ResumeFailed),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Authenticated {
    pub user_id: String,
    pub role: Role,
    pub connection_id: String,
}

/// `{conversationId, message, clientMessageId?}` of the message events.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageData {
    pub conversation_id: String,
    pub message: MessageView,
    /// Only `message_sent` carries it (`null` when the sender gave none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_message_id: Option<Option<String>>,
}

#[derive(Debug, Serialize)]
pub struct ConversationData {
    pub conversation: ConversationOut,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionData {
    pub conversation_id: String,
    pub message_id: String,
    pub user: String,
    pub emoji: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadData {
    pub conversation_id: String,
    pub user_id: String,
    pub read_at: Timestamp,
    pub up_to_seq: u64,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TypingData {
    pub conversation_id: String,
    pub user_id: String,
    pub is_typing: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceData {
    pub user_id: String,
    pub role: Role,
    pub at: Timestamp,
}

#[derive(Debug, Serialize)]
pub struct BroadcastData {
    pub id: String,
    pub content: String,
    pub from: String,
    pub audience: Audience,
    pub at: Timestamp,
}

/// `mentioned`: a note that names the receiving admin (docs/inbox.md, "Internal notes").
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MentionedData {
    pub conversation_id: String,
    /// The note, `internal: true`.
    pub message: MessageView,
    /// Its author.
    pub by: String,
}

/// `conversation_assigned`, to the new assignee (docs/inbox.md, "Assignment").
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignedData {
    pub conversation_id: String,
    /// The previous assignee; `null` for nobody.
    pub from: Option<String>,
    pub to: Option<String>,
    /// The admin who assigned it.
    pub by: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResumeComplete {
    pub up_to: u64,
}

#[derive(Debug, Serialize)]
pub struct ResumeFailed {
    pub reason: String,
}
