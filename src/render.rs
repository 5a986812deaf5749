//! How views are shown to one caller: the API's `Conversation` with the caller's own unread count.
//! A conversation as it stood in the past (route 15) carries no presence.

use crate::realtime::presence::Presence;
use concierge_events::{MessageType, Role, Status, Timestamp};
use concierge_projections::views::ConversationView;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantOut {
    pub user_id: String,
    pub role: Role,
    pub name: String,
    pub joined_at: Timestamp,
    /// Absent from history, which has no presence.
    #[serde(flatten)]
    pub presence: Option<PresenceOut>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PresenceOut {
    pub last_seen: Option<Timestamp>,
    pub online: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LastMessageOut {
    pub id: String,
    pub content: String,
    pub sender: String,
    pub message_type: MessageType,
    pub timestamp: Timestamp,
}

/// The API's `Conversation`, as `viewer` sees it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationOut {
    pub id: String,
    pub related_booking: String,
    pub title: String,
    pub participants: Vec<ParticipantOut>,
    pub last_message: Option<LastMessageOut>,
    pub unread_count: u64,
    pub unread_counts: BTreeMap<String, u64>,
    pub status: Status,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The conversation as `viewer` sees it, with each participant's presence.
pub fn conversation(conv: &ConversationView, viewer: &str, presence: &Presence) -> ConversationOut {
    shown(conv, viewer, Some(presence))
}

/// The conversation as `viewer` sees it, without presence: for history.
pub fn conversation_then(conv: &ConversationView, viewer: &str) -> ConversationOut {
    shown(conv, viewer, None)
}

fn shown(conv: &ConversationView, viewer: &str, presence: Option<&Presence>) -> ConversationOut {
    ConversationOut {
        id: conv.id.clone(),
        related_booking: conv.booking_id.clone(),
        title: conv.title.clone(),
        participants: conv
            .participants
            .iter()
            .map(|p| ParticipantOut {
                user_id: p.user_id.clone(),
                role: p.role,
                name: p.name.clone(),
                joined_at: p.joined_at,
                presence: presence.map(|presence| PresenceOut {
                    last_seen: presence.last_seen(&p.user_id),
                    online: presence.is_online(&p.user_id),
                }),
            })
            .collect(),
        last_message: conv.last_message.as_ref().map(|m| LastMessageOut {
            id: m.id.clone(),
            content: m.content.clone(),
            sender: m.sender.clone(),
            message_type: m.message_type,
            timestamp: m.timestamp,
        }),
        unread_count: conv.unread_for(viewer),
        unread_counts: conv
            .participants
            .iter()
            .map(|p| (p.user_id.clone(), conv.unread_for(&p.user_id)))
            .collect(),
        status: conv.status,
        created_at: conv.created_at,
        updated_at: conv.updated_at,
    }
}
