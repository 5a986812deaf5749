//! The view records the folds maintain, each stored in postcard under its key (see `kv::keys`).

use concierge_events::{Attachment, MessageType, Role, Status, Timestamp};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BookingView {
    pub booking_id: String,
    pub customer_id: String,
    pub title: Option<String>,
    pub conversation_id: Option<String>,
    pub registered_at: Timestamp,
}

impl BookingView {
    /// The conversation title: the booking's title when it has one, else `Booking <id>`.
    pub fn display_title(&self) -> String {
        self.title
            .clone()
            .unwrap_or_else(|| format!("Booking {}", self.booking_id))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantView {
    pub user_id: String,
    pub role: Role,
    pub name: String,
    pub joined_at: Timestamp,
}

/// A user's read point: everything up to `seq` is read, by the read at `at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadPoint {
    pub seq: u64,
    pub at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LastMessage {
    pub id: String,
    /// The first 100 Unicode scalar values of the message.
    pub content: String,
    pub sender: String,
    pub message_type: MessageType,
    pub timestamp: Timestamp,
    pub seq: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationView {
    pub id: String,
    pub booking_id: String,
    pub title: String,
    pub participants: Vec<ParticipantView>,
    pub status: Status,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_message: Option<LastMessage>,
    /// Messages ever sent, deleted ones included (they keep their place in pages).
    pub message_count: u64,
    /// Messages not deleted.
    pub live_count: u64,
    /// Per participant: non-deleted messages of others after their read point.
    pub unread: BTreeMap<String, u64>,
    pub read_points: BTreeMap<String, ReadPoint>,
    pub first_customer_message_at: Option<Timestamp>,
    pub first_admin_reply_at: Option<Timestamp>,
    /// The log sequence of the newest message, deleted or not (0 before the first).
    pub last_message_seq: u64,
    /// The log sequence of the last event folded into this conversation.
    pub last_seq: u64,
    /// The seq of the first message of the open chunk kept in the conversation's record.
    pub chunk_start: u64,
}

impl ConversationView {
    pub fn participant(&self, user_id: &str) -> Option<&ParticipantView> {
        self.participants.iter().find(|p| p.user_id == user_id)
    }

    pub fn is_participant(&self, user_id: &str) -> bool {
        self.participant(user_id).is_some()
    }

    /// The customer of the booking, the first participant by construction.
    pub fn customer_id(&self) -> Option<&str> {
        self.participants
            .iter()
            .find(|p| p.role == Role::Customer)
            .map(|p| p.user_id.as_str())
    }

    /// The caller's unread count; an admin who has not joined has read nothing.
    pub fn unread_for(&self, user_id: &str) -> u64 {
        match self.unread.get(user_id) {
            Some(n) => *n,
            None => self.live_count,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadReceipt {
    pub user: String,
    pub read_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReactionView {
    pub user: String,
    pub emoji: String,
    pub created_at: Timestamp,
}

/// An attachment as the API shows it. For an upload, `url` and `thumbnailUrl` are its paths here,
/// which the server signs whenever it hands a message out; the other fields are `null` for a file
/// outside Concierge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachmentView {
    pub id: Option<String>,
    pub url: String,
    pub filename: String,
    pub mimetype: String,
    pub size: u64,
    pub thumbnail_url: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<u64>,
}

impl From<&Attachment> for AttachmentView {
    fn from(a: &Attachment) -> AttachmentView {
        AttachmentView {
            id: a.id.clone(),
            url: a.url.clone(),
            filename: a.filename.clone(),
            mimetype: a.mimetype.clone(),
            size: a.size,
            thumbnail_url: a.thumbnail.then(|| format!("{}/thumbnail", a.url)),
            width: a.width,
            height: a.height,
            duration_ms: a.duration_ms,
        }
    }
}

/// A message as the API shows it (`Message` in API.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageView {
    pub id: String,
    pub conversation_id: String,
    pub seq: u64,
    pub sender: String,
    pub sender_role: Role,
    pub content: String,
    pub message_type: MessageType,
    pub attachments: Vec<AttachmentView>,
    pub reply_to: Option<String>,
    pub read_by: Vec<ReadReceipt>,
    pub reactions: Vec<ReactionView>,
    pub is_deleted: bool,
    pub deleted_at: Option<Timestamp>,
    pub is_edited: bool,
    pub edited_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub client_message_id: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsView {
    pub total_conversations: u64,
    pub active: u64,
    pub archived: u64,
    pub closed: u64,
    /// Non-deleted chat messages (broadcasts excluded).
    pub total_messages: u64,
    pub broadcasts: u64,
    /// Sum and count of first-response times, for the mean.
    pub first_response_ms_sum: i64,
    pub first_response_count: u64,
}

impl StatsView {
    pub fn by_status_mut(&mut self, status: Status) -> &mut u64 {
        match status {
            Status::Active => &mut self.active,
            Status::Archived => &mut self.archived,
            Status::Closed => &mut self.closed,
        }
    }
}
