//! The OpenAPI 3.1 document of the HTTP API, generated from the handlers' `#[utoipa::path]`
//! attributes (the same attributes register the routes, so a route cannot be served without being
//! documented), with the schemas of the contract's bodies and the error statuses each route answers.
//!
//! The schemas below describe the JSON the handlers write; the API fuzzer (`scripts/api-fuzz.sh`)
//! checks every answer against them, and `docs/openapi.json` is this document checked in.

use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::openapi::schema::{
    AllOfBuilder, AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder, Schema,
    SchemaFormat, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, RefOr};
use utoipa::{IntoParams, Modify, OpenApi, PartialSchema, ToResponse, ToSchema};

/// The document's fixed part: title, security scheme, tags. Paths come from the router.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Concierge",
        description = "Messaging between customers and support admins about bookings. Every \
            /messaging route takes `Authorization: Bearer <JWT>` (HS256). Every answer is the \
            envelope `{success, message, data}` or `{success: false, message, error}`. The \
            WebSocket (`/ws`) and Socket.IO (`/socket.io/`) protocols are described in \
            docs/websocket.md and docs/socketio.md.",
        license(name = "MIT", identifier = "MIT"),
    ),
    components(
        schemas(Error, ErrorCode, Emoji, Moment, IdempotencyKey),
        responses(
            BadRequest,
            Unauthorized,
            Forbidden,
            NotFound,
            Conflict,
            PayloadTooLarge,
            UnsupportedMediaType,
            TooManyRequests,
            Unavailable,
            Internal,
            RangeNotSatisfiable
        )
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "conversations", description = "Conversations of bookings and their status"),
        (name = "messages", description = "Messages, reads, edits, deletes and reactions"),
        (name = "attachments", description = "Files uploaded for messages to carry, and reading them by token or signed URL"),
        (name = "bookings", description = "The booking platform registers its bookings"),
        (name = "admin", description = "Broadcasts and stats"),
        (name = "replay", description = "A conversation's events from the log, and its history"),
        (name = "inbox", description = "The support inbox: assignment, labels, priority, canned replies and the customer's rating"),
        (name = "search", description = "Messages found by their words"),
        (name = "webhooks", description = "Webhook deliveries that failed until WEBHOOK_MAX_AGE, and sending them again"),
        (name = "operations", description = "Liveness, readiness and metrics; no token"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An HS256 JWT signed with JWT_SECRET: `sub`, `role` (customer, admin or \
                         service), `exp`, optional `name` and `bookings`. `concierge token` prints one.",
                    ))
                    .build(),
            ),
        );
    }
}

/// The served document: the paths the router registered, with the fixed part.
pub fn document(paths: Document) -> Document {
    let mut doc = ApiDoc::openapi();
    doc.merge(paths);
    doc
}

// --- Shared pieces -------------------------------------------------------------------------------

// Patterns of the text fields, the server's own rules written as regular expressions (each is
// valid ECMA-262, Python and Rust syntax). `char::is_control` is Unicode's Cc (U+0000–U+001F,
// U+007F–U+009F); `trim` strips Unicode White_Space.

/// No control characters at all (titles, emoji, file names, client keys).
const NO_CONTROL: &str = r"^[^\u0000-\u001f\u007f-\u009f]*$";
/// Message content: no control characters other than tab, LF and CR.
const CONTENT: &str = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$";
/// Message content that is not blank: at least one character that is neither white space nor a
/// control character.
const CONTENT_NOT_BLANK: &str = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$";
/// Not blank and no control characters (titles, emoji).
const NOT_BLANK: &str = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$";
/// An http(s) URL without white space or control characters.
const URL: &str =
    r"^https?://[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$";
/// A MIME type: `type/subtype`, without white space or control characters.
const MIME: &str = r"^[^/\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$";
/// The largest integer the API takes (`page`, `after`, a log `seq`, an attachment's `size`): the
/// largest `int64`.
pub const MAX_INT: u64 = i64::MAX as u64;

/// A string schema with a pattern or format and an example, for the id and time types below.
fn string(pattern: Option<&str>, format: Option<KnownFormat>, example: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(pattern.map(str::to_string))
        .format(format.map(SchemaFormat::KnownFormat))
        .examples([serde_json::Value::from(example)])
        .into()
}

/// A server-generated id: a ULID, 26 characters of Crockford base32.
pub struct Ulid;

impl PartialSchema for Ulid {
    fn schema() -> RefOr<Schema> {
        string(
            Some("^[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
            None,
            "01KBKXF1V7Q6ZB4Y6X1J5V0Y9G",
        )
    }
}
impl ToSchema for Ulid {}

/// A booking or user id from the booking platform: 1–128 characters of `[A-Za-z0-9._:@-]`.
pub struct ExternalId;

impl PartialSchema for ExternalId {
    fn schema() -> RefOr<Schema> {
        string(Some("^[A-Za-z0-9._:@-]{1,128}$"), None, "bk_1042")
    }
}
impl ToSchema for ExternalId {}

/// RFC 3339 UTC with milliseconds.
pub struct Timestamp;

impl PartialSchema for Timestamp {
    fn schema() -> RefOr<Schema> {
        string(
            None,
            Some(KnownFormat::DateTime),
            "2026-12-03T10:15:00.123Z",
        )
    }
}
impl ToSchema for Timestamp {}

#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Admin,
    Service,
}

#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
pub enum Status {
    Active,
    Archived,
    Closed,
    /// Set aside until `snoozedUntil` or the customer's next message.
    Snoozed,
}

#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

/// `system` only for admins.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
pub enum MessageType {
    Text,
    Image,
    File,
    System,
}

// --- Resources -----------------------------------------------------------------------------------

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Participant {
    user_id: ExternalId,
    role: Role,
    /// The token's `name` when the user joined, else the user id.
    name: String,
    joined_at: Timestamp,
    /// When the user's last socket closed; `null` when never (or, in history, not known then).
    #[schema(required = true)]
    last_seen: Option<Timestamp>,
    /// Whether the user has a live socket on any node; absent from history.
    #[schema(required = false)]
    online: bool,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct LastMessage {
    id: Ulid,
    /// The first 100 characters of the newest non-deleted message.
    #[schema(max_length = 100)]
    content: String,
    sender: ExternalId,
    message_type: MessageType,
    timestamp: Timestamp,
}

/// A conversation as the caller sees it (`unreadCount` is the caller's).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Conversation {
    id: Ulid,
    related_booking: ExternalId,
    title: String,
    participants: Vec<Participant>,
    #[schema(required = true)]
    last_message: Option<LastMessage>,
    #[schema(minimum = 0)]
    unread_count: u64,
    /// One key per participant.
    unread_counts: BTreeMap<String, u64>,
    status: Status,
    created_at: Timestamp,
    updated_at: Timestamp,
    /// The customer's rating, once given; `null` before.
    #[schema(required = true)]
    rating: Option<Rating>,
    /// Admins only: the admin who owns the conversation, or `null`.
    #[schema(required = false)]
    assignee: Option<ExternalId>,
    /// Admins only.
    #[schema(required = false, max_items = 20)]
    labels: Vec<String>,
    /// Admins only.
    #[schema(required = false)]
    priority: Priority,
    /// Admins only: while snoozed, when it wakes.
    #[schema(required = false)]
    snoozed_until: Option<Timestamp>,
    /// Admins only: the customer's oldest message not yet answered by an admin.
    #[schema(required = false)]
    waiting_since: Option<Timestamp>,
    /// Admins only: from the customer's first message to the first admin message after it.
    #[schema(required = false, minimum = 0)]
    first_response_ms: Option<i64>,
    /// Admins only: from creation to the latest close.
    #[schema(required = false, minimum = 0)]
    resolution_ms: Option<i64>,
}

/// The customer's rating of a closed conversation.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Rating {
    /// Only in the answer to the rating route.
    #[schema(required = false)]
    conversation_id: Ulid,
    #[schema(minimum = 1, maximum = 5)]
    score: u8,
    #[schema(required = true, max_length = 1000)]
    comment: Option<String>,
    rated_at: Timestamp,
}

/// A saved reply the admins share.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct CannedReply {
    shortcut: Shortcut,
    title: String,
    content: String,
    updated_at: Timestamp,
    updated_by: ExternalId,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct CannedReplyList {
    canned_replies: Vec<CannedReply>,
}

/// A message found by a search.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct SearchResult {
    message_id: Ulid,
    conversation_id: Ulid,
    booking_id: ExternalId,
    /// The sender's user id.
    sender: ExternalId,
    created_at: Timestamp,
    /// An internal note (found by admins only).
    internal: bool,
    /// The text, whole when at most 160 characters, else about 160 around the first match with
    /// `…` where it was cut.
    snippet: String,
    /// `[start, end)` ranges of `snippet` the query matched, in Unicode code points; never markup.
    highlights: Vec<[u64; 2]>,
}

/// A page of messages found, newest first.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct SearchResults {
    results: Vec<SearchResult>,
    /// The `cursor` of the next page; `null` on the last.
    next_cursor: Option<String>,
}

/// A webhook delivery that failed until `WEBHOOK_MAX_AGE` (docs/webhooks.md).
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct DeadLetter {
    /// Its `webhook-id`, the same on every attempt.
    id: DeliveryId,
    /// The endpoint it was for.
    url: String,
    /// `notification.unread` or `event.<log type>`.
    r#type: String,
    created_at: Timestamp,
    failed_at: Timestamp,
    attempts: u64,
    /// What the last attempt got: `HTTP <status>`, `no answer within 10 s` or the connection error.
    last_error: String,
    /// The body every attempt sent: `{type, timestamp, data}`.
    body: serde_json::Value,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct DeadLetterList {
    dead_letters: Vec<DeadLetter>,
}

/// A dead letter queued again.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Redelivered {
    id: DeliveryId,
    url: String,
    r#type: String,
    /// When it was queued again: `WEBHOOK_MAX_AGE` counts from here.
    created_at: Timestamp,
}

/// A webhook delivery's id: `msg_` and a ULID.
pub struct DeliveryId;

impl PartialSchema for DeliveryId {
    fn schema() -> RefOr<Schema> {
        string(
            Some("^msg_[0-9A-HJKMNP-TV-Z]{26}$"),
            None,
            "msg_01KBK6Y3J7Q0ZQ3V6W4F2N8D5A",
        )
    }
}
impl ToSchema for DeliveryId {}

/// A canned reply's shortcut: 1–32 characters of `a-z 0-9 _ -`.
pub struct Shortcut;

impl PartialSchema for Shortcut {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .pattern(Some(r"^[a-z0-9_-]{1,32}$"))
            .examples([serde_json::Value::from("late-checkout")])
            .into()
    }
}
impl ToSchema for Shortcut {}

/// The assignee route's body.
pub struct SetAssignee;

impl PartialSchema for SetAssignee {
    fn schema() -> RefOr<Schema> {
        body(
            "An admin's user id, or null for nobody; not the conversation's customer.",
            &["userId"],
            vec![("userId", nullable(ExternalId::schema()))],
        )
        .into()
    }
}
impl ToSchema for SetAssignee {}

/// The labels route's body.
pub struct SetLabels;

impl PartialSchema for SetLabels {
    fn schema() -> RefOr<Schema> {
        body(
            "Every label of the conversation; repeats are kept once.",
            &["labels"],
            vec![(
                "labels",
                ArrayBuilder::new()
                    .items(text(
                        NOT_BLANK,
                        Some(1),
                        Some(32),
                        "1–32 characters, not blank, no control characters.",
                    ))
                    .max_items(Some(20))
                    .into(),
            )],
        )
        .into()
    }
}
impl ToSchema for SetLabels {}

/// The priority route's body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SetPriority {
    priority: Priority,
}

/// The rating route's body.
pub struct RateConversation;

impl PartialSchema for RateConversation {
    fn schema() -> RefOr<Schema> {
        body(
            "A score from 1 to 5 and an optional comment.",
            &["score"],
            vec![
                (
                    "score",
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1))
                        .maximum(Some(5))
                        .into(),
                ),
                (
                    "comment",
                    nullable(text(
                        CONTENT,
                        None,
                        Some(1000),
                        "At most 1000 characters, no control characters other than tab, LF and CR.",
                    )),
                ),
            ],
        )
        .into()
    }
}
impl ToSchema for RateConversation {}

/// The canned reply route's body.
pub struct SaveCannedReply;

impl PartialSchema for SaveCannedReply {
    fn schema() -> RefOr<Schema> {
        body(
            "A title and the text the reply inserts.",
            &["title", "content"],
            vec![
                (
                    "title",
                    text(
                        NOT_BLANK,
                        Some(1),
                        Some(100),
                        "1–100 characters, not blank, no control characters.",
                    )
                    .into(),
                ),
                (
                    "content",
                    message_content(
                        CONTENT_NOT_BLANK,
                        "A message's content: at most 2000 characters, not blank.",
                    ),
                ),
            ],
        )
        .into()
    }
}
impl ToSchema for SaveCannedReply {}

/// A file outside Concierge a send points at; its fields follow the server's rules exactly.
pub struct ExternalAttachment;

impl PartialSchema for ExternalAttachment {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property(
                "url",
                text(
                    URL,
                    Some(9),
                    Some(2048),
                    "An http(s) URL, at most 2048 characters.",
                ),
            )
            .required("url")
            .property(
                "filename",
                text(NO_CONTROL, Some(1), Some(255), "1–255 characters."),
            )
            .required("filename")
            .property(
                "mimetype",
                text(
                    MIME,
                    Some(3),
                    Some(255),
                    "A MIME type such as application/pdf.",
                ),
            )
            .required("mimetype")
            .property(
                "size",
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
                    .minimum(Some(0))
                    .maximum(Some(MAX_INT)),
            )
            .required("size")
            .into()
    }
}
impl ToSchema for ExternalAttachment {}

/// An upload a send carries, by the id its upload answered.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadRef {
    /// Uploaded to this conversation by the sender, and not used by another message yet.
    id: Ulid,
}

/// An attachment as messages show it. For an upload, `url` and `thumbnailUrl` are signed paths on
/// this server, valid for `ATTACHMENT_URL_TTL` (signed anew at every read), and every field is
/// present; a file outside Concierge has `url`, `filename`, `mimetype` and `size` only.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Attachment {
    /// The upload's id; absent for a file outside Concierge.
    id: Option<Ulid>,
    url: String,
    /// A safe display name.
    filename: String,
    /// Taken from the bytes for an upload.
    mimetype: String,
    #[schema(minimum = 0, maximum = 9_223_372_036_854_775_807_u64)]
    size: u64,
    /// An image's thumbnail, at most 320 pixels on its long side; `null` for other uploads.
    thumbnail_url: Option<String>,
    /// An image's size in pixels, as displayed; `null` for other uploads.
    width: Option<u32>,
    height: Option<u32>,
    /// An audio file's duration where its container states it, else `null`.
    #[schema(minimum = 0)]
    duration_ms: Option<u64>,
}

/// The answer to an upload.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadedAttachment {
    attachment: Attachment,
}

/// An upload's body: `multipart/form-data` with one part named `file`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UploadForm {
    /// The file. Its type is taken from its bytes: JPEG, PNG, GIF, WebP, PDF, UTF-8 text, Ogg, WebM,
    /// MP4/M4A or MP3; a part `Content-Type` that disagrees is refused (415).
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// The signed query of an attachment URL (instead of a token).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SignedQuery {
    /// Expiry, Unix seconds, as the signed URL gives it (ignored with a token).
    exp: Option<String>,
    /// The signature the views handed out with `exp`.
    sig: Option<String>,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ReadReceipt {
    user: ExternalId,
    read_at: Timestamp,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Reaction {
    user: ExternalId,
    emoji: String,
    created_at: Timestamp,
}

/// A message; a deleted one keeps its place with empty `content` and `attachments`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Message {
    id: Ulid,
    conversation_id: Ulid,
    /// The log sequence of its `message_sent` event.
    #[schema(minimum = 1)]
    seq: u64,
    sender: ExternalId,
    sender_role: Role,
    content: String,
    message_type: MessageType,
    attachments: Vec<Attachment>,
    #[schema(required = true)]
    reply_to: Option<Ulid>,
    read_by: Vec<ReadReceipt>,
    reactions: Vec<Reaction>,
    is_deleted: bool,
    #[schema(required = true)]
    deleted_at: Option<Timestamp>,
    is_edited: bool,
    #[schema(required = true)]
    edited_at: Option<Timestamp>,
    created_at: Timestamp,
    updated_at: Timestamp,
    /// The sender's idempotency key, when the send had one.
    #[schema(required = true)]
    client_message_id: Option<String>,
    /// An internal note: only admins ever see one.
    internal: bool,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Pagination {
    /// `null` for a `before` cursor page.
    #[schema(required = true)]
    page: Option<u64>,
    limit: u64,
    total: u64,
    pages: u64,
    /// Message pages only: whether older messages exist.
    #[schema(required = false)]
    has_more: bool,
}

// --- Route bodies ------------------------------------------------------------------------------------

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ConversationList {
    conversations: Vec<Conversation>,
    pagination: Pagination,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct MessageList {
    messages: Vec<Message>,
    pagination: Pagination,
}

#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
pub enum Audience {
    All,
    Customers,
    Admins,
}

/// A string schema with a pattern, lengths (in characters) and a description.
fn text(pattern: &str, min: Option<usize>, max: Option<usize>, description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .min_length(min)
        .max_length(max)
        .description(Some(description))
}

/// A `$ref` to the component schema `name`.
fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(name))
}

/// `schema`, or `null` (which the server takes as absent).
fn nullable(schema: impl Into<RefOr<Schema>>) -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::Null))
        .item(schema)
        .into()
}

/// A JSON object body with these properties, the `required` ones first in `props`.
fn body(description: &str, required: &[&str], props: Vec<(&str, RefOr<Schema>)>) -> ObjectBuilder {
    let mut object = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description));
    for (name, schema) in props {
        object = object.property(name, schema);
    }
    for name in required {
        object = object.required(*name);
    }
    object
}

fn message_content(pattern: &str, description: &str) -> RefOr<Schema> {
    text(pattern, None, Some(2000), description).into()
}

/// An attachment of a send: an upload by its id, or a file outside Concierge.
fn attachment_input() -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(reference("UploadRef"))
        .item(reference("ExternalAttachment"))
        .into()
}

/// Route 4's body. Unknown fields are ignored. `content` may be blank only in an `image` or
/// `file` message with attachments.
pub struct SendMessage;

impl PartialSchema for SendMessage {
    fn schema() -> RefOr<Schema> {
        let fields = body(
            "Route 4's body. Unknown fields are ignored. `content` may be blank (empty or only white \
             space) only in an `image` or `file` message with at least one attachment. A note \
             (`internal: true`) is text without attachments.",
            &["content"],
            vec![
                (
                    "content",
                    message_content(
                        CONTENT,
                        "At most 2000 characters (Unicode scalar values), no control characters \
                         other than tab, LF and CR.",
                    ),
                ),
                ("messageType", nullable(reference("MessageType"))),
                ("replyTo", nullable(Ulid::schema())),
                (
                    "attachments",
                    nullable(ArrayBuilder::new().items(attachment_input()).max_items(Some(10))),
                ),
                (
                    "clientMessageId",
                    nullable(text(
                        NO_CONTROL,
                        Some(1),
                        Some(128),
                        "An idempotency key, 1–128 characters without control characters: a retry \
                         with the same key returns the original message (200).",
                    )),
                ),
                (
                    "internal",
                    nullable(ObjectBuilder::new().schema_type(Type::Boolean).description(Some(
                        "true: an internal note (admins only), text without attachments, that only \
                         admins ever see.",
                    ))),
                ),
            ],
        );
        let not_blank = ObjectBuilder::new()
            .property("content", message_content(CONTENT_NOT_BLANK, "Not blank."));
        // Typed (a bare ObjectBuilder is `type: object`, which no `false` or `null` is, and which
        // openapi-typescript cannot read), nullable as the fields above.
        let not_a_note = ObjectBuilder::new().property(
            "internal",
            nullable(
                ObjectBuilder::new()
                    .schema_type(Type::Boolean)
                    .enum_values(Some([false])),
            ),
        );
        let plain_note = ObjectBuilder::new()
            .property(
                "messageType",
                nullable(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(["text"])),
                ),
            )
            .property(
                "attachments",
                nullable(
                    ArrayBuilder::new()
                        .items(attachment_input())
                        .max_items(Some(0)),
                ),
            );
        let with_attachments = ObjectBuilder::new()
            .property(
                "messageType",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["image", "file"])),
            )
            .required("messageType")
            .property(
                "attachments",
                ArrayBuilder::new()
                    .items(attachment_input())
                    .min_items(Some(1))
                    .max_items(Some(10)),
            )
            .required("attachments");
        AllOfBuilder::new()
            .item(fields)
            .item(AnyOfBuilder::new().item(not_blank).item(with_attachments))
            .item(AnyOfBuilder::new().item(not_a_note).item(plain_note))
            .into()
    }
}

impl ToSchema for SendMessage {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("MessageType".into(), MessageType::schema()));
        schemas.push(("ExternalAttachment".into(), ExternalAttachment::schema()));
        schemas.push(("UploadRef".into(), UploadRef::schema()));
    }
}

/// Route 8's body.
pub struct EditMessage;

impl PartialSchema for EditMessage {
    fn schema() -> RefOr<Schema> {
        body(
            "Route 8's body. Unknown fields are ignored.",
            &["content"],
            vec![(
                "content",
                message_content(
                    CONTENT_NOT_BLANK,
                    "As when sending: at most 2000 characters, no control characters other than \
                     tab, LF and CR, not blank (blank is taken only for an `image` or `file` \
                     message with attachments).",
                ),
            )],
        )
        .into()
    }
}
impl ToSchema for EditMessage {}

/// An emoji: 1–32 characters, not blank, no control characters.
pub struct Emoji;

impl PartialSchema for Emoji {
    fn schema() -> RefOr<Schema> {
        text(
            NOT_BLANK,
            Some(1),
            Some(32),
            "1–32 characters (Unicode scalar values), not only white space, no control characters.",
        )
        .examples(["👍"])
        .into()
    }
}
impl ToSchema for Emoji {}

/// Route 10's body.
pub struct AddReaction;

impl PartialSchema for AddReaction {
    fn schema() -> RefOr<Schema> {
        body(
            "Route 10's body. Unknown fields are ignored.",
            &["emoji"],
            vec![("emoji", Emoji::schema())],
        )
        .into()
    }
}
impl ToSchema for AddReaction {}

/// Route 11's body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct SetStatus {
    status: Status,
    /// Required with `snoozed`, refused with any other status: when the conversation wakes, after
    /// now and at most 365 days ahead.
    #[schema(required = false)]
    until: Option<Timestamp>,
}

/// Route 12's body.
pub struct RegisterBooking;

impl PartialSchema for RegisterBooking {
    fn schema() -> RefOr<Schema> {
        body(
            "Route 12's body. Unknown fields are ignored.",
            &["customerId"],
            vec![
                ("customerId", ExternalId::schema()),
                (
                    "title",
                    nullable(text(
                        NOT_BLANK,
                        Some(1),
                        Some(200),
                        "At most 200 characters, not blank, no control characters. Left out (or \
                         null): the booking keeps its current title.",
                    )),
                ),
            ],
        )
        .into()
    }
}
impl ToSchema for RegisterBooking {}

/// Route 13's body.
pub struct BroadcastBody;

impl PartialSchema for BroadcastBody {
    fn schema() -> RefOr<Schema> {
        body(
            "Route 13's body. Unknown fields are ignored.",
            &["content", "audience"],
            vec![
                (
                    "content",
                    message_content(
                        CONTENT_NOT_BLANK,
                        "At most 2000 characters, no control characters other than tab, LF and \
                         CR, not blank.",
                    ),
                ),
                ("audience", reference("Audience")),
            ],
        )
        .into()
    }
}

impl ToSchema for BroadcastBody {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push(("Audience".into(), Audience::schema()));
    }
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ReadOutcome {
    conversation_id: Ulid,
    read_at: Timestamp,
    #[schema(minimum = 0, maximum = 0)]
    unread_count: u64,
    /// How many messages this call marked read.
    marked: u64,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ConversationsByStatus {
    active: u64,
    archived: u64,
    closed: u64,
    snoozed: u64,
}

/// Nearest-rank percentiles of the durations in a window; `null` when `count` is 0.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Durations {
    count: u64,
    #[schema(required = true)]
    median_seconds: Option<f64>,
    #[schema(required = true)]
    p90_seconds: Option<f64>,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ResponseWindow {
    /// First responses made in the window.
    first_response: Durations,
    /// Closes made in the window.
    resolution: Durations,
    /// First responses in the window over the target, plus `waitingOverTarget`.
    over_first_response_target: u64,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct ResponseTimes {
    /// `SLA_FIRST_RESPONSE_SECS`.
    first_response_target_seconds: u64,
    last24h: ResponseWindow,
    last7d: ResponseWindow,
    /// Conversations still without a first response whose customer has waited longer than the target.
    waiting_over_target: u64,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Satisfaction {
    /// The mean score; `null` without ratings.
    #[schema(required = true)]
    average: Option<f64>,
    count: u64,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Stats {
    total_conversations: u64,
    conversations_by_status: ConversationsByStatus,
    /// Non-deleted chat messages (broadcasts excluded).
    total_messages: u64,
    messages_last24h: u64,
    /// Cluster-wide.
    online_users: u64,
    online_customers: u64,
    online_admins: u64,
    /// Mean time from a conversation's first customer message to the first admin reply; `null`
    /// when no conversation has one.
    #[schema(required = true)]
    avg_first_response_seconds: Option<f64>,
    response_times: ResponseTimes,
    satisfaction: Satisfaction,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Booking {
    booking_id: ExternalId,
    customer_id: ExternalId,
    title: String,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct BroadcastSent {
    id: Ulid,
    content: String,
    audience: Audience,
    from: ExternalId,
    at: Timestamp,
}

/// An event as stored in the log (docs/events.md), with its `seq`.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct StoredEvent {
    seq: u64,
    v: u32,
    id: Ulid,
    /// The event type, e.g. `message_sent`.
    r#type: String,
    at: Timestamp,
    /// `{id, role}` of who caused it.
    actor: serde_json::Value,
    conversation_id: Ulid,
    /// The type's own fields (docs/events.md).
    data: serde_json::Value,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct EventPage {
    events: Vec<StoredEvent>,
    /// The last `seq` returned, `null` when the page is empty.
    #[schema(required = true)]
    next_after: Option<u64>,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct History {
    conversation: Conversation,
    messages: Vec<Message>,
    /// The `seq` of the conversation's last event folded into the answer.
    as_of_seq: u64,
}

#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Health {
    /// Always `ok`.
    status: String,
}

#[derive(ToSchema)]
#[schema(rename_all = "camelCase")]
#[allow(dead_code)]
pub struct Ready {
    /// Always `ready`.
    status: String,
    /// The log sequence this node has folded up to.
    folded: u64,
    /// The highest event schema level this node folds.
    event_level: u32,
    /// The lowest level among the live nodes: writes that need more are refused until every
    /// node is upgraded.
    cluster_event_level: u32,
}

// --- The envelope --------------------------------------------------------------------------------

/// A success: `data` is the route's own body.
#[derive(Serialize, ToSchema)]
#[schema(bound = "T: ToSchema")]
pub struct Envelope<T> {
    /// Always `true`.
    pub success: bool,
    /// A short sentence, e.g. "Message sent".
    pub message: String,
    pub data: T,
}

/// Every `error` code of the API.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
pub enum ErrorCode {
    ValidationFailed,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    Conflict,
    PayloadTooLarge,
    UnsupportedMediaType,
    RateLimited,
    RangeNotSatisfiable,
    Unavailable,
    Internal,
}

/// A refusal: nothing was written. `message` names the problem.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Error {
    /// Always `false`.
    success: bool,
    message: String,
    error: ErrorCode,
}

macro_rules! error_response {
    ($name:ident, $code:literal, $description:literal, $example:literal) => {
        #[doc = $description]
        #[derive(ToResponse)]
        #[response(
                            description = $description,
                            content_type = "application/json",
                            example = json!({"success": false, "message": $example, "error": $code})
                        )]
        #[allow(dead_code)]
        pub struct $name(Error);
    };
}

error_response!(
    BadRequest,
    "validation_failed",
    "`validation_failed`: a bad field, query parameter, path id or malformed JSON; the message names it.",
    "limit must be an integer from 1 to 100"
);
error_response!(
    Unauthorized,
    "unauthorized",
    "`unauthorized`: the token is missing, malformed, expired or wrongly signed.",
    "missing bearer token"
);
error_response!(
    Forbidden,
    "forbidden",
    "`forbidden`: authenticated but not allowed (not a participant, not an admin, a service token).",
    "You are not a participant in this conversation"
);
error_response!(
    NotFound,
    "not_found",
    "`not_found`: an unknown conversation, message or booking.",
    "conversation not found"
);
error_response!(
    Conflict,
    "conflict",
    "`conflict`: the action contradicts the current state (a closed conversation, a deleted message).",
    "the conversation is closed"
);
error_response!(
    PayloadTooLarge,
    "payload_too_large",
    "`payload_too_large`: the body is over 65,536 bytes.",
    "body must be at most 65536 bytes"
);
error_response!(
    UnsupportedMediaType,
    "unsupported_media_type",
    "`unsupported_media_type`: the body is not `application/json`.",
    "body must be application/json"
);
error_response!(
    TooManyRequests,
    "rate_limited",
    "`rate_limited`: over the per-user send budget, or too many failed authentications from this \
     address; `Retry-After` says how many seconds to wait.",
    "too many messages: try again in 3 s"
);
error_response!(
    RangeNotSatisfiable,
    "range_not_satisfiable",
    "`range_not_satisfiable`: the `Range` asked for is outside the file; `Content-Range: bytes */<size>` gives its size.",
    "the range is outside the file (10284 bytes)"
);
error_response!(
    Unavailable,
    "unavailable",
    "`unavailable`: the event log cannot take a write (nothing was written) or be read right now; on /ready, the node has not caught up with the log.",
    "the event store cannot take the write right now; nothing was written"
);
error_response!(
    Internal,
    "internal",
    "`internal`: a bug, or the views could not be read; the message names nothing internal.",
    "internal error"
);

// --- Query parameters ----------------------------------------------------------------------------

/// Route 1's query.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ConversationQuery {
    /// 1 when absent.
    #[param(minimum = 1, maximum = 9_223_372_036_854_775_807_u64)]
    page: Option<u64>,
    /// 20 when absent.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u64>,
    status: Option<Status>,
    /// Admins: only the conversations the caller has joined.
    mine: Option<bool>,
    /// Admins: `me`, `none`, or a user id: only the conversations assigned so.
    #[param(pattern = r"^[A-Za-z0-9._:@-]{1,128}$")]
    assignee: Option<String>,
    /// Admins: only the conversations with this label.
    #[param(
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$",
        min_length = 1,
        max_length = 32
    )]
    label: Option<String>,
    /// Admins: only the conversations of this priority.
    priority: Option<Priority>,
    /// `updated` (the default): newest activity first. `waiting` (admins): the longest waiting
    /// first, then the rest newest activity first.
    #[param(inline)]
    sort: Option<ConversationSort>,
}

#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "lowercase")]
pub enum ConversationSort {
    Updated,
    Waiting,
}

/// Route 3's query: `page`, or `before` a message (a cursor).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct MessageQuery {
    /// 1 when absent; ignored with `before`.
    #[param(minimum = 1, maximum = 9_223_372_036_854_775_807_u64)]
    page: Option<u64>,
    /// 50 when absent.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u64>,
    /// The `limit` messages just older than this one, of the same conversation.
    before: Option<Ulid>,
}

/// The search's query (docs/search.md).
#[derive(IntoParams)]
#[into_params(parameter_in = Query, rename_all = "camelCase")]
#[allow(dead_code)]
pub struct SearchQuery {
    /// Words that must all match, `"exact phrases"`, `prefix*`; case and accents folded. At most
    /// 200 characters, with at least one word.
    #[param(required = true, min_length = 1, max_length = 200)]
    q: Option<String>,
    /// Only this conversation's messages (one the caller may see).
    conversation_id: Option<Ulid>,
    /// Only this booking's messages.
    booking_id: Option<ExternalId>,
    /// Only messages by this user.
    sender: Option<ExternalId>,
    /// Messages created at or after this time.
    from: Option<Timestamp>,
    /// Messages created before this time.
    to: Option<Timestamp>,
    /// 20 when absent.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u64>,
    /// The `nextCursor` of the previous page.
    cursor: Option<String>,
}

/// Route 14's query.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct EventQuery {
    /// Events with a greater `seq`; 0 when absent.
    #[param(minimum = 0, maximum = 9_223_372_036_854_775_807_u64)]
    after: Option<u64>,
    /// 100 when absent.
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<u64>,
}

/// Route 15's query.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct HistoryQuery {
    /// A log `seq` (digits, at most 19 after leading zeros), or an RFC 3339 time (years 0000 to
    /// 9999 in UTC): every event at or before it is folded.
    #[param(value_type = Moment, example = "2026-12-03T10:15:00.123Z")]
    at: String,
}

/// Route 15's `at`: a log `seq` or an RFC 3339 time.
pub struct Moment;

impl PartialSchema for Moment {
    fn schema() -> RefOr<Schema> {
        AnyOfBuilder::new()
            .item(text(r"^0*[0-9]{1,19}$", None, None, "A log seq."))
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
            )
            .into()
    }
}
impl ToSchema for Moment {}

/// Route 4's `Idempotency-Key` header: 1–128 visible ASCII characters (spaces inside).
pub struct IdempotencyKey;

impl PartialSchema for IdempotencyKey {
    fn schema() -> RefOr<Schema> {
        text(
            r"^[!-~]([ -~]*[!-~])?$",
            Some(1),
            Some(128),
            "An idempotency key, as `clientMessageId` (which wins when both are given).",
        )
        .into()
    }
}
impl ToSchema for IdempotencyKey {}
