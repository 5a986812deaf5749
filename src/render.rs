//! How views are shown to one caller: the API's `Conversation` with the caller's own unread count,
//! and the inbox's fields only when the caller is not the conversation's customer (an admin).
//! A conversation as it stood in the past (route 15) carries no `online`, and a participant's
//! `lastSeen` only when it was already their `lastSeen` at that moment.

use crate::realtime::presence::Presence;
use concierge_events::{MessageType, Priority, Role, Status, Timestamp};
use concierge_projections::views::{ConversationView, RatingView};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantOut {
    pub user_id: String,
    pub role: Role,
    pub name: String,
    pub joined_at: Timestamp,
    /// When the user's last socket closed; `null` when never, or (in history) not known for then.
    pub last_seen: Option<Timestamp>,
    /// Absent from history: whether someone was connected at a past moment is not kept.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub online: Option<bool>,
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
    /// The customer's rating once given; shown to the customer and to admins.
    pub rating: Option<RatingView>,
    /// The support inbox's fields, for admins only (absent for the customer).
    #[serde(flatten)]
    pub inbox: Option<InboxOut>,
}

/// What only admins see of a conversation (docs/inbox.md).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InboxOut {
    pub assignee: Option<String>,
    pub labels: Vec<String>,
    pub priority: Priority,
    pub snoozed_until: Option<Timestamp>,
    pub waiting_since: Option<Timestamp>,
    pub first_response_ms: Option<i64>,
    pub resolution_ms: Option<i64>,
}

/// The conversation as `viewer` sees it, with each participant's presence.
pub fn conversation(conv: &ConversationView, viewer: &str, presence: &Presence) -> ConversationOut {
    shown(conv, viewer, |user| {
        (presence.last_seen(user), Some(presence.is_online(user)))
    })
}

/// The conversation as `viewer` sees it as it stood at `held_at` (history): no `online`, and a
/// `lastSeen` only when the user's current one is at or before `held_at`. `lastSeen` is the latest
/// time a user went offline, so one at or before the moment was already theirs then and still is
/// (no later one exists); a later one replaced an earlier value that is not kept, so it is `null`,
/// as is a user never seen.
pub fn conversation_then(
    conv: &ConversationView,
    viewer: &str,
    presence: &Presence,
    held_at: Timestamp,
) -> ConversationOut {
    shown(conv, viewer, |user| {
        let then = presence.last_seen(user).filter(|seen| *seen <= held_at);
        (then, None)
    })
}

/// `presence_of(user)` gives a participant's `lastSeen` and `online`.
fn shown(
    conv: &ConversationView,
    viewer: &str,
    presence_of: impl Fn(&str) -> (Option<Timestamp>, Option<bool>),
) -> ConversationOut {
    ConversationOut {
        id: conv.id.clone(),
        related_booking: conv.booking_id.clone(),
        title: conv.title.clone(),
        participants: conv
            .participants
            .iter()
            .map(|p| {
                let (last_seen, online) = presence_of(&p.user_id);
                ParticipantOut {
                    user_id: p.user_id.clone(),
                    role: p.role,
                    name: p.name.clone(),
                    joined_at: p.joined_at,
                    last_seen,
                    online,
                }
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
        rating: conv.rating.clone(),
        inbox: (conv.customer_id() != Some(viewer)).then(|| InboxOut {
            assignee: conv.assignee.clone(),
            labels: conv.labels.clone(),
            priority: conv.priority,
            snoozed_until: conv.snoozed_until,
            waiting_since: conv.waiting_since,
            first_response_ms: conv.first_response_ms(),
            resolution_ms: conv.resolution_ms,
        }),
    }
}
