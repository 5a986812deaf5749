//! The versioned schema of the Concierge event log: what analytics consumers and the projections read.
//!
//! # Layout
//! - [`Envelope`]: the versioned wrapper every event travels in (`v`, `id`, `type`, `at`, `actor`,
//!   `conversationId`, `data`), and [`Envelope::decode`], which tolerates unknown types and fields.
//! - [`Event`]: one variant per event type of `EVENTS.md`, each with its `data` struct.
//! - [`subject`]: the NATS subject names events are published on.
//! - [`Timestamp`]: milliseconds since the epoch, written as RFC 3339 UTC with milliseconds.
//! - [`schema`]: the JSON Schema of the wire format, generated from these types (checked in as
//!   `events/schema/events.schema.json`).
//!
//! This crate does no I/O; it is safe to depend on from any consumer.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

pub mod schema;
mod time;
pub use time::Timestamp;

/// The schema version this crate writes. A change that breaks a consumer bumps it.
pub const SCHEMA_VERSION: u32 = 1;

/// Who a user is in a conversation, as carried by the token's `role` claim.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Admin,
    /// The booking platform's back end; never a chat participant.
    Service,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Admin => "admin",
            Role::Service => "service",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The user who caused an event, as their token named them. `name` is kept so that a fold that makes
/// the actor a participant can record the name they joined with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Actor {
    /// The user id from the booking platform (the token's `sub`).
    pub id: String,
    pub role: Role,
    /// The token's display name; absent when the token had none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A conversation's lifecycle status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Active,
    Archived,
    Closed,
    /// Set aside until a time or the customer's next message (schema level 3).
    Snoozed,
}

impl Status {
    pub const ALL: [Status; 4] = [
        Status::Active,
        Status::Archived,
        Status::Closed,
        Status::Snoozed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Archived => "archived",
            Status::Closed => "closed",
            Status::Snoozed => "snoozed",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }
}

/// The kind of a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    Text,
    Image,
    File,
    /// Only admins may send system messages.
    System,
}

impl MessageType {
    pub fn parse(s: &str) -> Option<MessageType> {
        match s {
            "text" => Some(MessageType::Text),
            "image" => Some(MessageType::Image),
            "file" => Some(MessageType::File),
            "system" => Some(MessageType::System),
            _ => None,
        }
    }
}

/// How urgent a conversation is, as the admins rank it.
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    Low,
    #[default]
    Normal,
    High,
    Urgent,
}

impl Priority {
    pub const ALL: [Priority; 4] = [
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Normal => "normal",
            Priority::High => "high",
            Priority::Urgent => "urgent",
        }
    }

    pub fn parse(s: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Who an admin broadcast is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Audience {
    All,
    Customers,
    Admins,
}

/// How a booking came to be registered: by the platform through the API, or by a customer's token claim.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BookingSource {
    Api,
    Token,
}

/// A file attached to a message, never its bytes. Either a file outside Concierge at `url`, or an
/// upload kept in the object store (`id` set, `url` its path `/messaging/attachments/<id>` on any
/// node, which the views hand out signed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub url: String,
    pub filename: String,
    pub mimetype: String,
    pub size: u64,
    /// The upload's ULID; absent for a file outside Concierge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// An image's size in pixels, as displayed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    /// An audio file's duration, where its container states it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Whether the upload has a thumbnail (images do), at `url` + `/thumbnail`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub thumbnail: bool,
}

impl Attachment {
    /// A file outside Concierge, as the seed's clients give it.
    pub fn external(url: String, filename: String, mimetype: String, size: u64) -> Attachment {
        Attachment {
            url,
            filename,
            mimetype,
            size,
            id: None,
            width: None,
            height: None,
            duration_ms: None,
            thumbnail: false,
        }
    }
}

/// A booking was given to a customer (or its title changed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookingRegistered {
    pub booking_id: String,
    pub customer_id: String,
    /// `null` (or absent) keeps the booking's current title.
    #[serde(default)]
    pub title: Option<String>,
    pub source: BookingSource,
}

/// A user who takes part in a conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParticipantJoined {
    pub user_id: String,
    pub role: Role,
    /// The token's display name when they joined, else their user id.
    pub name: String,
}

/// A booking's conversation was opened; its id is the envelope's `conversationId`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConversationCreated {
    pub booking_id: String,
    /// The booking's display title when the conversation was opened.
    pub title: String,
    /// The booking's customer, and the admin who opened it if an admin did.
    pub participants: Vec<ParticipantJoined>,
}

/// A message sent by the envelope's actor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageSent {
    /// The message's ULID, generated by the server.
    pub message_id: String,
    pub content: String,
    pub message_type: MessageType,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    /// The id of an earlier message of the same conversation this one answers.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// The sender's idempotency key, when the client gave one.
    #[serde(default)]
    pub client_message_id: Option<String>,
}

/// The new content of a message, written by its sender.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageEdited {
    pub message_id: String,
    pub content: String,
}

/// A message removed by its sender or an admin.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageDeleted {
    pub message_id: String,
}

/// One user's emoji on a message (the user is the envelope's actor).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reaction {
    pub message_id: String,
    pub emoji: String,
}

/// The envelope's actor read the conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessagesRead {
    /// Everything in the conversation up to and including this log sequence is read.
    pub up_to_seq: u64,
}

/// A conversation's status changed; any status may follow any other.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StatusChanged {
    pub from: Status,
    pub to: Status,
}

/// A message from an admin to every connected user of the audience; not part of any conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct AdminBroadcast {
    pub content: String,
    pub audience: Audience,
}

/// An internal note by an admin: a message only admins ever see. Its own type, so that a consumer
/// that does not know it shows nothing.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoteAdded {
    /// The note's ULID, generated by the server; notes and messages share one id space.
    pub message_id: String,
    pub content: String,
    /// The message or note this one answers.
    #[serde(default)]
    pub reply_to: Option<String>,
    #[serde(default)]
    pub client_message_id: Option<String>,
    /// The user ids the note `@mentions`.
    #[serde(default)]
    pub mentions: Vec<String>,
}

/// The conversation's owner changed; `null` is nobody.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConversationAssigned {
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The conversation is set aside until `until` or its customer's next message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConversationSnoozed {
    pub from: Status,
    pub until: Timestamp,
}

/// The snooze that was to end at `until` ended at its time: the conversation is active again.
/// Written by a node (actor `concierge`, role `service`) with an id derived from the conversation
/// and `until`, so that racing nodes write it once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConversationWoken {
    pub until: Timestamp,
}

/// The conversation's labels, all of them, replacing the previous set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConversationLabeled {
    pub labels: Vec<String>,
}

/// The conversation's priority changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConversationPrioritized {
    pub from: Priority,
    pub to: Priority,
}

/// The customer's rating of a closed conversation, given once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ConversationRated {
    /// 1 to 5.
    pub score: u8,
    #[serde(default)]
    pub comment: Option<String>,
}

/// A saved reply the admins share, created or replaced. On `concierge.canned.<shortcut>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CannedReplySaved {
    pub shortcut: String,
    pub title: String,
    pub content: String,
}

/// A saved reply removed. On `concierge.canned.<shortcut>`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CannedReplyDeleted {
    pub shortcut: String,
}

/// No data: the event's type and envelope say everything.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Empty {}

/// Every event type of schema v1. Serialized as `"type": "<snake_case>", "data": {…}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "type", content = "data", rename_all = "snake_case")]
pub enum Event {
    /// On `concierge.booking.<bookingId>`; no `conversationId`.
    BookingRegistered(BookingRegistered),
    /// On `concierge.conv.<conversationId>`, as are all the conversation's events in the log.
    ConversationCreated(ConversationCreated),
    ParticipantJoined(ParticipantJoined),
    MessageSent(MessageSent),
    MessageEdited(MessageEdited),
    MessageDeleted(MessageDeleted),
    ReactionAdded(Reaction),
    ReactionRemoved(Reaction),
    MessagesRead(MessagesRead),
    ConversationStatusChanged(StatusChanged),
    /// On `concierge.broadcast`; no `conversationId`.
    AdminBroadcast(AdminBroadcast),
    /// On the typing stream only (`concierge.typing.<conversationId>`), never on the log.
    TypingStarted(Empty),
    /// On the typing stream only (`concierge.typing.<conversationId>`), never on the log.
    TypingStopped(Empty),
    NoteAdded(NoteAdded),
    /// A note's new content, written by its author.
    NoteEdited(MessageEdited),
    /// A note removed by its author.
    NoteDeleted(MessageDeleted),
    ConversationAssigned(ConversationAssigned),
    ConversationSnoozed(ConversationSnoozed),
    ConversationWoken(ConversationWoken),
    ConversationLabeled(ConversationLabeled),
    ConversationPrioritized(ConversationPrioritized),
    ConversationRated(ConversationRated),
    /// On `concierge.canned.<shortcut>`; no `conversationId`.
    CannedReplySaved(CannedReplySaved),
    /// On `concierge.canned.<shortcut>`; no `conversationId`.
    CannedReplyDeleted(CannedReplyDeleted),
}

impl Event {
    /// The event of type `event_type` (one of [`KNOWN_TYPES`]) from its `data` JSON.
    fn from_parts(event_type: &str, data: &str) -> Result<Event, serde_json::Error> {
        use serde_json::from_str as parse;
        Ok(match event_type {
            "booking_registered" => Event::BookingRegistered(parse(data)?),
            "conversation_created" => Event::ConversationCreated(parse(data)?),
            "participant_joined" => Event::ParticipantJoined(parse(data)?),
            "message_sent" => Event::MessageSent(parse(data)?),
            "message_edited" => Event::MessageEdited(parse(data)?),
            "message_deleted" => Event::MessageDeleted(parse(data)?),
            "reaction_added" => Event::ReactionAdded(parse(data)?),
            "reaction_removed" => Event::ReactionRemoved(parse(data)?),
            "messages_read" => Event::MessagesRead(parse(data)?),
            "conversation_status_changed" => Event::ConversationStatusChanged(parse(data)?),
            "admin_broadcast" => Event::AdminBroadcast(parse(data)?),
            "typing_started" => Event::TypingStarted(parse(data)?),
            "typing_stopped" => Event::TypingStopped(parse(data)?),
            "note_added" => Event::NoteAdded(parse(data)?),
            "note_edited" => Event::NoteEdited(parse(data)?),
            "note_deleted" => Event::NoteDeleted(parse(data)?),
            "conversation_assigned" => Event::ConversationAssigned(parse(data)?),
            "conversation_snoozed" => Event::ConversationSnoozed(parse(data)?),
            "conversation_woken" => Event::ConversationWoken(parse(data)?),
            "conversation_labeled" => Event::ConversationLabeled(parse(data)?),
            "conversation_prioritized" => Event::ConversationPrioritized(parse(data)?),
            "conversation_rated" => Event::ConversationRated(parse(data)?),
            "canned_reply_saved" => Event::CannedReplySaved(parse(data)?),
            "canned_reply_deleted" => Event::CannedReplyDeleted(parse(data)?),
            other => {
                return Err(serde::de::Error::unknown_variant(other, &KNOWN_TYPES));
            }
        })
    }

    /// The `type` string this event is written with.
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::BookingRegistered(_) => "booking_registered",
            Event::ConversationCreated(_) => "conversation_created",
            Event::ParticipantJoined(_) => "participant_joined",
            Event::MessageSent(_) => "message_sent",
            Event::MessageEdited(_) => "message_edited",
            Event::MessageDeleted(_) => "message_deleted",
            Event::ReactionAdded(_) => "reaction_added",
            Event::ReactionRemoved(_) => "reaction_removed",
            Event::MessagesRead(_) => "messages_read",
            Event::ConversationStatusChanged(_) => "conversation_status_changed",
            Event::AdminBroadcast(_) => "admin_broadcast",
            Event::TypingStarted(_) => "typing_started",
            Event::TypingStopped(_) => "typing_stopped",
            Event::NoteAdded(_) => "note_added",
            Event::NoteEdited(_) => "note_edited",
            Event::NoteDeleted(_) => "note_deleted",
            Event::ConversationAssigned(_) => "conversation_assigned",
            Event::ConversationSnoozed(_) => "conversation_snoozed",
            Event::ConversationWoken(_) => "conversation_woken",
            Event::ConversationLabeled(_) => "conversation_labeled",
            Event::ConversationPrioritized(_) => "conversation_prioritized",
            Event::ConversationRated(_) => "conversation_rated",
            Event::CannedReplySaved(_) => "canned_reply_saved",
            Event::CannedReplyDeleted(_) => "canned_reply_deleted",
        }
    }
}

/// One event as stored in the log: `type` names the event and `data` holds its fields. Readers
/// ignore fields they do not know; a change that breaks them bumps `v`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Envelope {
    /// The schema version; readers skip events of a version they do not know.
    #[schemars(schema_with = "schema::version")]
    pub v: u32,
    /// The event's ULID, unique in the log.
    pub id: String,
    #[serde(flatten)]
    pub event: Event,
    /// When the server accepted the command that caused the event.
    pub at: Timestamp,
    pub actor: Actor,
    /// The conversation the event belongs to; absent on bookings and broadcasts.
    #[serde(
        rename = "conversationId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub conversation_id: Option<String>,
}

/// Why a payload from the log could not be read as an event this crate knows.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// Not JSON, or a known type whose `data` does not match its schema.
    #[error("malformed event: {0}")]
    Malformed(#[source] serde_json::Error),
}

/// An envelope of this version with `data` left unparsed: read in one pass, then `data` is parsed as
/// its type says (serde's own adjacently tagged decoding buffers every event first).
#[derive(Deserialize)]
struct RawEnvelope<'a> {
    v: u32,
    id: String,
    #[serde(rename = "type", borrow)]
    event_type: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    data: Option<&'a serde_json::value::RawValue>,
    at: Timestamp,
    actor: Actor,
    #[serde(rename = "conversationId", default)]
    conversation_id: Option<String>,
}

/// The parts every version shares, so that an event of an unknown type or version can be named.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Head {
    pub v: u32,
    #[serde(rename = "type")]
    pub event_type: String,
}

impl Head {
    /// The type and version of an encoded event, whatever its type and version; `None` when even
    /// those do not parse.
    pub fn of(bytes: &[u8]) -> Option<Head> {
        serde_json::from_slice(bytes).ok()
    }

    /// The schema level this event needs (see [`level_of`]); `None` for a type or version this
    /// build does not know.
    pub fn level(&self) -> Option<u32> {
        if self.v == SCHEMA_VERSION {
            level_of(&self.event_type)
        } else {
            None
        }
    }
}

impl fmt::Display for Head {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} v{}", self.event_type, self.v)
    }
}

impl Envelope {
    pub fn new(
        id: String,
        at: Timestamp,
        actor: Actor,
        conversation_id: Option<String>,
        event: Event,
    ) -> Self {
        Envelope {
            v: SCHEMA_VERSION,
            id,
            event,
            at,
            actor,
            conversation_id,
        }
    }

    /// Reads an event from its JSON bytes. `Ok(None)` is an event this schema does not know (a newer
    /// `v` or an unknown `type`), which consumers skip; unknown fields are ignored.
    ///
    /// # Errors
    /// [`DecodeError::Malformed`] when the bytes are not an event of a known type and version.
    pub fn decode(bytes: &[u8]) -> Result<Option<Envelope>, DecodeError> {
        let knows =
            |v: u32, event_type: &str| v == SCHEMA_VERSION && KNOWN_TYPES.contains(&event_type);
        let raw: RawEnvelope = match serde_json::from_slice(bytes) {
            Ok(raw) => raw,
            // Another version or type may lack this version's fields: only its head must parse.
            Err(e) => {
                return match serde_json::from_slice::<Head>(bytes) {
                    Ok(head) if !knows(head.v, &head.event_type) => Ok(None),
                    _ => Err(DecodeError::Malformed(e)),
                }
            }
        };
        if !knows(raw.v, &raw.event_type) {
            return Ok(None);
        }
        let Some(data) = raw.data else {
            return Err(DecodeError::Malformed(serde::de::Error::missing_field(
                "data",
            )));
        };
        let event =
            Event::from_parts(&raw.event_type, data.get()).map_err(DecodeError::Malformed)?;
        Ok(Some(Envelope {
            v: raw.v,
            id: raw.id,
            event,
            at: raw.at,
            actor: raw.actor,
            conversation_id: raw.conversation_id,
        }))
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("an envelope always serializes")
    }
}

/// Every `type` of schema v1.
pub const KNOWN_TYPES: [&str; 24] = [
    "booking_registered",
    "conversation_created",
    "participant_joined",
    "message_sent",
    "message_edited",
    "message_deleted",
    "reaction_added",
    "reaction_removed",
    "messages_read",
    "conversation_status_changed",
    "admin_broadcast",
    "typing_started",
    "typing_stopped",
    "note_added",
    "note_edited",
    "note_deleted",
    "conversation_assigned",
    "conversation_snoozed",
    "conversation_woken",
    "conversation_labeled",
    "conversation_prioritized",
    "conversation_rated",
    "canned_reply_saved",
    "canned_reply_deleted",
];

/// The highest event schema level this build folds. A level groups the event types a reader must
/// know: a node folds an event only when its level is at or below the node's, and writers emit an
/// event only when every live node folds its level (docs/operations.md, "Rolling upgrades"). A
/// release that adds event types raises it; types never change level.
pub const EVENT_LEVEL: u32 = 3;

/// The schema level of an event type (`None` for a type this build does not know): level 1 is the
/// chat itself (bookings, conversations, participants, messages, reads, typing), level 2 the
/// lifecycle (edits, deletes, reactions, status changes, broadcasts), level 3 the support inbox
/// (notes, assignment, snooze, labels, priority, ratings, canned replies; and the `snoozed` status,
/// which appears in a status change only after a level-3 `conversation_snoozed`).
pub fn level_of(event_type: &str) -> Option<u32> {
    match event_type {
        "booking_registered"
        | "conversation_created"
        | "participant_joined"
        | "message_sent"
        | "messages_read"
        | "typing_started"
        | "typing_stopped" => Some(1),
        "message_edited"
        | "message_deleted"
        | "reaction_added"
        | "reaction_removed"
        | "conversation_status_changed"
        | "admin_broadcast" => Some(2),
        "note_added"
        | "note_edited"
        | "note_deleted"
        | "conversation_assigned"
        | "conversation_snoozed"
        | "conversation_woken"
        | "conversation_labeled"
        | "conversation_prioritized"
        | "conversation_rated"
        | "canned_reply_saved"
        | "canned_reply_deleted" => Some(3),
        _ => None,
    }
}

/// Subject names. Ids are ULIDs or the booking platform's ids (`[A-Za-z0-9._:@-]`); a `.` in an id
/// would split a subject token, so [`token`] escapes it.
pub mod subject {
    pub const PREFIX: &str = "concierge";
    pub const BROADCAST: &str = "concierge.broadcast";
    /// Subjects of the `CONCIERGE` stream.
    pub const LOG_SUBJECTS: [&str; 4] = [
        "concierge.conv.*",
        "concierge.booking.*",
        "concierge.broadcast",
        "concierge.canned.*",
    ];
    /// Subjects of the `CONCIERGE_TYPING` stream.
    pub const TYPING_SUBJECTS: [&str; 1] = ["concierge.typing.*"];

    /// Escapes an id into one subject token: `.` becomes `%2E` (`%` is outside the id alphabet).
    pub fn token(id: &str) -> String {
        id.replace('.', "%2E")
    }

    pub fn conversation(conversation_id: &str) -> String {
        format!("{PREFIX}.conv.{}", token(conversation_id))
    }

    pub fn booking(booking_id: &str) -> String {
        format!("{PREFIX}.booking.{}", token(booking_id))
    }

    pub fn canned(shortcut: &str) -> String {
        format!("{PREFIX}.canned.{}", token(shortcut))
    }

    pub fn typing(conversation_id: &str) -> String {
        format!("{PREFIX}.typing.{}", token(conversation_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Envelope {
        Envelope::new(
            "01JDQ80000000000000000000A".into(),
            Timestamp::parse("2026-11-24T10:15:00.123Z").unwrap(),
            Actor {
                id: "cus_7".into(),
                role: Role::Customer,
                name: None,
            },
            Some("01JDQ7X0S9G1W7V8M2K3Z4Y5AB".into()),
            Event::MessageSent(MessageSent {
                message_id: "01JDQ80000000000000000000B".into(),
                content: "Can I check in early?".into(),
                message_type: MessageType::Text,
                attachments: vec![],
                reply_to: None,
                client_message_id: Some("c-1".into()),
            }),
        )
    }

    #[test]
    fn envelope_has_the_documented_shape() {
        let json: serde_json::Value = serde_json::from_slice(&sample().encode()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "v": 1,
                "id": "01JDQ80000000000000000000A",
                "type": "message_sent",
                "at": "2026-11-24T10:15:00.123Z",
                "actor": { "id": "cus_7", "role": "customer" },
                "conversationId": "01JDQ7X0S9G1W7V8M2K3Z4Y5AB",
                "data": {
                    "messageId": "01JDQ80000000000000000000B",
                    "content": "Can I check in early?",
                    "messageType": "text",
                    "attachments": [],
                    "replyTo": null,
                    "clientMessageId": "c-1"
                }
            })
        );
    }

    #[test]
    fn decode_round_trips() {
        let e = sample();
        assert_eq!(Envelope::decode(&e.encode()).unwrap(), Some(e));
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let bytes = br#"{"v":1,"id":"x","type":"messages_read","at":"2026-11-24T10:15:00.000Z",
            "actor":{"id":"a","role":"admin","extra":1},"conversationId":"c","data":{"upToSeq":7,"more":true},"new":0}"#;
        let e = Envelope::decode(bytes).unwrap().unwrap();
        assert_eq!(e.event, Event::MessagesRead(MessagesRead { up_to_seq: 7 }));
    }

    #[test]
    fn unknown_types_and_newer_versions_are_skipped() {
        let unknown = br#"{"v":1,"id":"x","type":"made_up","at":"2026-11-24T10:15:00.000Z","actor":{"id":"a","role":"admin"},"data":{}}"#;
        assert_eq!(Envelope::decode(unknown).unwrap(), None);
        let newer = br#"{"v":2,"id":"x","type":"messages_read","at":"2026-11-24T10:15:00.000Z","actor":{"id":"a","role":"admin"},"data":{}}"#;
        assert_eq!(Envelope::decode(newer).unwrap(), None);
    }

    #[test]
    fn malformed_known_events_are_errors() {
        assert!(Envelope::decode(b"not json").is_err());
        let bad = br#"{"v":1,"id":"x","type":"messages_read","at":"2026-11-24T10:15:00.000Z","actor":{"id":"a","role":"admin"},"data":{"upToSeq":"x"}}"#;
        assert!(Envelope::decode(bad).is_err());
    }

    #[test]
    fn every_known_type_decodes_as_serde_reads_it() {
        let data = [
            (
                "booking_registered",
                r#"{"bookingId":"b","customerId":"c","title":"T","source":"api"}"#,
            ),
            (
                "conversation_created",
                r#"{"bookingId":"b","title":"T","participants":[{"userId":"c","role":"customer","name":"C"}]}"#,
            ),
            (
                "participant_joined",
                r#"{"userId":"a","role":"admin","name":"A"}"#,
            ),
            (
                "message_sent",
                r#"{"messageId":"m","content":"hi","messageType":"text"}"#,
            ),
            ("message_edited", r#"{"messageId":"m","content":"hey"}"#),
            ("message_deleted", r#"{"messageId":"m"}"#),
            ("reaction_added", r#"{"messageId":"m","emoji":"👍"}"#),
            ("reaction_removed", r#"{"messageId":"m","emoji":"👍"}"#),
            ("messages_read", r#"{"upToSeq":3}"#),
            (
                "conversation_status_changed",
                r#"{"from":"active","to":"closed"}"#,
            ),
            ("admin_broadcast", r#"{"content":"hello","audience":"all"}"#),
            ("typing_started", r#"{}"#),
            ("typing_stopped", r#"{}"#),
            (
                "note_added",
                r#"{"messageId":"m","content":"for @adm_3","mentions":["adm_3"]}"#,
            ),
            ("note_edited", r#"{"messageId":"m","content":"hey"}"#),
            ("note_deleted", r#"{"messageId":"m"}"#),
            ("conversation_assigned", r#"{"from":null,"to":"adm_2"}"#),
            (
                "conversation_snoozed",
                r#"{"from":"active","until":"2026-11-25T09:00:00.000Z"}"#,
            ),
            (
                "conversation_woken",
                r#"{"until":"2026-11-25T09:00:00.000Z"}"#,
            ),
            ("conversation_labeled", r#"{"labels":["vip"]}"#),
            (
                "conversation_prioritized",
                r#"{"from":"normal","to":"urgent"}"#,
            ),
            ("conversation_rated", r#"{"score":5,"comment":null}"#),
            (
                "canned_reply_saved",
                r#"{"shortcut":"hi","title":"Hello","content":"Hello!"}"#,
            ),
            ("canned_reply_deleted", r#"{"shortcut":"hi"}"#),
        ];
        assert_eq!(data.len(), KNOWN_TYPES.len());
        for (event_type, data) in data {
            let bytes = format!(
                r#"{{"v":1,"id":"x","type":"{event_type}","at":"2026-11-24T10:15:00.000Z","actor":{{"id":"a","role":"admin"}},"conversationId":"c","data":{data}}}"#
            );
            let decoded = Envelope::decode(bytes.as_bytes()).unwrap().unwrap();
            assert_eq!(decoded.event.event_type(), event_type);
            let by_serde: Envelope = serde_json::from_str(&bytes).unwrap();
            assert_eq!(decoded, by_serde);
        }
    }

    #[test]
    fn newer_versions_need_only_a_head_and_known_types_need_data() {
        let newer = br#"{"v":2,"type":"message_sent","payload":[]}"#;
        assert_eq!(Envelope::decode(newer).unwrap(), None);
        let no_data = br#"{"v":1,"id":"x","type":"message_deleted","at":"2026-11-24T10:15:00.000Z","actor":{"id":"a","role":"admin"}}"#;
        let err = Envelope::decode(no_data).unwrap_err().to_string();
        assert!(err.contains("missing field `data`"), "{err}");
    }

    /// Found by the `event_decode` fuzz target (input as found): the event decoded, but its time,
    /// a leap second of the year 9999, is written `+10000-01-01T00:00:00.999Z`, which no reader
    /// reads. Such a time is now malformed, so every decoded event encodes into a readable one.
    #[test]
    fn decoded_events_encode_readably() {
        let found = br#"{"v":1,"id":"0100000000000000A","type":"messages_read","at":"9999-12-31T23:59:60.999Z","actor":{"id":"adm[2","role":"admin"},"nversationId":"01JDQ7X0S9G1W7V8M2K3Z4Y5AB","data":{"upToSeq":3}}"#;
        assert!(Envelope::decode(found).is_err());
        let latest = String::from_utf8_lossy(found).replace(":60.999Z", ":59.999Z");
        let e = Envelope::decode(latest.as_bytes()).unwrap().unwrap();
        assert_eq!(Envelope::decode(&e.encode()).unwrap(), Some(e));
    }

    #[test]
    fn every_variant_names_a_known_type() {
        let e = Event::TypingStarted(Empty {});
        assert!(KNOWN_TYPES.contains(&e.event_type()));
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["type"], "typing_started");
    }

    #[test]
    fn subjects_escape_dots() {
        assert_eq!(subject::booking("bk.1"), "concierge.booking.bk%2E1");
        assert_eq!(subject::conversation("01J"), "concierge.conv.01J");
    }
}

/// The id alphabets of the contract.
pub mod ids {
    /// A booking or user id from the booking platform: 1–128 chars of `[A-Za-z0-9._:@-]`.
    pub fn is_external(id: &str) -> bool {
        (1..=128).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'@' | b'-'))
    }

    /// A server-generated id: a 26-char ULID in Crockford base32.
    pub fn is_ulid(id: &str) -> bool {
        id.len() == 26
            && id.bytes().all(|b| {
                b.is_ascii_digit()
                    || (b.is_ascii_uppercase() && !matches!(b, b'I' | b'L' | b'O' | b'U'))
            })
            && id.as_bytes()[0] <= b'7'
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn external_ids() {
            assert!(is_external("bk_1042"));
            assert!(is_external("a.b:c@d-e_f"));
            assert!(!is_external(""));
            assert!(!is_external(&"a".repeat(129)));
            assert!(is_external(&"a".repeat(128)));
            assert!(!is_external("../etc"));
            assert!(!is_external("a b"));
            assert!(!is_external("é"));
        }

        #[test]
        fn ulids() {
            assert!(is_ulid("01JDQ7X0S9G1W7V8M2K3Z4Y5AB"));
            assert!(!is_ulid("01JDQ7X0S9G1W7V8M2K3Z4Y5A"));
            assert!(!is_ulid("01jdq7x0s9g1w7v8m2k3z4y5ab"));
            assert!(!is_ulid("81JDQ7X0S9G1W7V8M2K3Z4Y5AB"));
        }
    }
}

#[cfg(test)]
mod level_tests {
    use super::*;

    #[test]
    fn every_known_type_has_a_level_within_this_builds() {
        for t in KNOWN_TYPES {
            let level = level_of(t).unwrap_or_else(|| panic!("{t} has no level"));
            assert!((1..=EVENT_LEVEL).contains(&level), "{t}: {level}");
        }
        assert_eq!(level_of("note_added"), Some(3));
        assert_eq!(level_of("made_up"), None);
    }

    #[test]
    fn a_head_names_any_event_and_its_level() {
        let newer = br#"{"v":2,"id":"x","type":"message_sent","data":{"whatever":1}}"#;
        let head = Head::of(newer).unwrap();
        assert_eq!(head.to_string(), "message_sent v2");
        assert_eq!(head.level(), None);
        let edit = br#"{"v":1,"type":"message_edited"}"#;
        assert_eq!(Head::of(edit).unwrap().level(), Some(2));
        assert_eq!(Head::of(b"not json"), None);
    }
}
