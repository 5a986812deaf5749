//! The view records the folds maintain, each stored in postcard under its key (see `kv::keys`).

use concierge_events::{Attachment, MessageType, Priority, Role, Status, Timestamp};

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
    /// The admin who owns the conversation.
    pub assignee: Option<String>,
    pub labels: Vec<String>,
    pub priority: Priority,
    /// While snoozed: when the conversation wakes.
    pub snoozed_until: Option<Timestamp>,
    /// The customer's oldest message no admin message has answered yet.
    pub waiting_since: Option<Timestamp>,
    /// From creation to the latest close.
    pub resolution_ms: Option<i64>,
    pub rating: Option<RatingView>,
    /// Internal notes ever written, deleted ones included (counted in `message_count` too).
    pub note_count: u64,
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

    /// From the customer's first message to the first admin message after it.
    pub fn first_response_ms(&self) -> Option<i64> {
        match (self.first_customer_message_at, self.first_admin_reply_at) {
            (Some(asked), Some(answered)) => Some((answered.millis() - asked.millis()).max(0)),
            _ => None,
        }
    }

    /// The caller's unread count; an admin who has not joined has read nothing.
    pub fn unread_for(&self, user_id: &str) -> u64 {
        match self.unread.get(user_id) {
            Some(n) => *n,
            None => self.live_count,
        }
    }
}

/// The customer's rating of a closed conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RatingView {
    pub score: u8,
    pub comment: Option<String>,
    pub rated_at: Timestamp,
}

/// A saved reply the admins share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CannedReplyView {
    pub shortcut: String,
    pub title: String,
    pub content: String,
    pub updated_at: Timestamp,
    pub updated_by: String,
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
/// which the server signs whenever it hands a message out. A file outside Concierge is shown with
/// the seed's four fields only (`url`, `filename`, `mimetype`, `size`); stored, it keeps them all.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
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

/// Every field in the stored (binary, positional) encoding; in JSON, an outside file's four only.
impl Serialize for AttachmentView {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let all = self.id.is_some() || !s.is_human_readable();
        let mut st = s.serialize_struct("AttachmentView", if all { 9 } else { 4 })?;
        if all {
            st.serialize_field("id", &self.id)?;
        }
        st.serialize_field("url", &self.url)?;
        st.serialize_field("filename", &self.filename)?;
        st.serialize_field("mimetype", &self.mimetype)?;
        st.serialize_field("size", &self.size)?;
        if all {
            st.serialize_field("thumbnailUrl", &self.thumbnail_url)?;
            st.serialize_field("width", &self.width)?;
            st.serialize_field("height", &self.height)?;
            st.serialize_field("durationMs", &self.duration_ms)?;
        }
        st.end()
    }
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
    /// An internal note: only admins ever see it.
    pub internal: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatsView {
    pub total_conversations: u64,
    pub active: u64,
    pub archived: u64,
    pub closed: u64,
    pub snoozed: u64,
    /// Non-deleted chat messages (broadcasts excluded).
    pub total_messages: u64,
    pub broadcasts: u64,
    /// Sum and count of first-response times, for the mean.
    pub first_response_ms_sum: i64,
    pub first_response_count: u64,
    /// Sum and count of the customers' ratings, for the mean.
    pub rating_sum: u64,
    pub rating_count: u64,
}

impl StatsView {
    pub fn by_status_mut(&mut self, status: Status) -> &mut u64 {
        match status {
            Status::Active => &mut self.active,
            Status::Archived => &mut self.archived,
            Status::Closed => &mut self.closed,
            Status::Snoozed => &mut self.snoozed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::AttachmentView;
    use concierge_events::Attachment;

    fn upload() -> AttachmentView {
        AttachmentView::from(&Attachment {
            url: "/messaging/attachments/01JDQ7ZC4N8B2W5F0K3M6P9RTV".into(),
            filename: "entrance.jpg".into(),
            mimetype: "image/jpeg".into(),
            size: 182_044,
            id: Some("01JDQ7ZC4N8B2W5F0K3M6P9RTV".into()),
            width: Some(1600),
            height: Some(1200),
            duration_ms: None,
            thumbnail: true,
        })
    }

    fn outside() -> AttachmentView {
        AttachmentView::from(&Attachment::external(
            "https://files.example.com/a.pdf".into(),
            "a.pdf".into(),
            "application/pdf".into(),
            48213,
        ))
    }

    #[test]
    fn an_outside_file_shows_the_seeds_four_fields_and_an_upload_all_of_its_own() {
        assert_eq!(
            serde_json::to_value(outside()).unwrap(),
            serde_json::json!({
                "url": "https://files.example.com/a.pdf", "filename": "a.pdf",
                "mimetype": "application/pdf", "size": 48213
            })
        );
        assert_eq!(
            serde_json::to_value(upload()).unwrap(),
            serde_json::json!({
                "id": "01JDQ7ZC4N8B2W5F0K3M6P9RTV",
                "url": "/messaging/attachments/01JDQ7ZC4N8B2W5F0K3M6P9RTV",
                "filename": "entrance.jpg", "mimetype": "image/jpeg", "size": 182044,
                "thumbnailUrl": "/messaging/attachments/01JDQ7ZC4N8B2W5F0K3M6P9RTV/thumbnail",
                "width": 1600, "height": 1200, "durationMs": null
            })
        );
    }

    #[test]
    fn both_kinds_are_stored_whole() {
        for a in [upload(), outside()] {
            let bytes = postcard::to_allocvec(&a).unwrap();
            assert_eq!(postcard::from_bytes::<AttachmentView>(&bytes).unwrap(), a);
        }
    }
}
