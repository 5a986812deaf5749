//! Commands: check a request against the views, publish its event, wait until this node has folded
//! it, answer from the views. HTTP handlers and both real-time codecs call these, so the rules live
//! in one place.
//!
//! # Layout
//! - [`access`]: loading a conversation the caller may see (404, then 403).
//! - [`conversations`]: get-or-create of a booking's conversation, and its status.
//! - [`messages`]: sending (validation, idempotent retries, rate limit) and marking read.
//! - [`lifecycle`]: a message after it was sent: edits, soft deletes, reactions.
//! - [`bookings`]: registering a booking for a customer.
//! - [`broadcast`]: admin broadcasts.
//! - [`typing`]: typing indicators, on the typing stream.
//! - [`inbox`]: the support inbox: assignment, labels, priority, ratings, canned replies.
//! - [`attachments`]: uploads into the object store, and the uploads a send may carry.

pub mod access;
pub mod attachments;
pub mod bookings;
pub mod broadcast;
pub mod conversations;
pub mod inbox;
pub mod lifecycle;
pub mod messages;
pub mod search;
pub mod typing;

use crate::auth::Caller;
use crate::log::{Ack, LogError};
use crate::state::AppState;
use concierge_events::{Envelope, Event, Timestamp};
use concierge_projections::StoreError;
use std::time::Duration;

/// How long a writer waits for its own event to be folded before giving up on the answer.
const FOLD_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a command was refused. Each variant documents its status; only `Unavailable`, `NotFolded`
/// and `Store` are worth retrying unchanged.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// 400 `validation_failed`: the message names the field or parameter.
    #[error("{0}")]
    Invalid(String),
    /// 403 `forbidden`.
    #[error("{0}")]
    Forbidden(String),
    /// 404 `not_found`.
    #[error("{0}")]
    NotFound(String),
    /// 409 `conflict`: the action contradicts the current state.
    #[error("{0}")]
    Conflict(String),
    /// 413 `payload_too_large`: an upload over `MAX_ATTACHMENT_BYTES`; nothing was kept.
    #[error("{0}")]
    TooLarge(String),
    /// 415 `unsupported_media_type`: an upload of a type not allowed, or not the type it claims.
    #[error("{0}")]
    Unsupported(String),
    /// 429 `rate_limited`, with the wait until the next one is allowed; `what` names the budget.
    #[error("too many {what}: at most {limit} per 10 seconds")]
    RateLimited {
        retry_after: Duration,
        limit: u32,
        what: &'static str,
    },
    /// 503 `unavailable`: the log did not take the event; nothing was written. Retry later.
    #[error("the event store cannot take the write right now; nothing was written")]
    Unavailable(#[source] LogError),
    /// 503 `unavailable`: the write cannot be made now for the reason given (an upgrade in
    /// progress); nothing was written. Retry later.
    #[error("{0}; nothing was written")]
    NotNow(String),
    /// 503 `unavailable`: the attachment store did not take or give the file; nothing was kept.
    #[error("the attachment store cannot take the upload right now; nothing was kept")]
    FilesUnavailable(#[source] crate::attachments::files::FilesError),
    /// 500 `internal`: the event is in the log (seq) but this node has not folded it in time.
    #[error("internal error")]
    NotFolded { seq: u64 },
    /// 500 `internal`: this node's views could not be read (a disk fault or a corrupt value), so
    /// nothing about the resource is known, not even that it is absent. Its text says nothing of
    /// the cause; the cause is logged where it is made (see the `From` impl). A retry may reach a
    /// healthy node.
    #[error("internal error")]
    Store(#[source] StoreError),
    /// 500 `internal`: this node's search index could not be read; logged where it is made.
    #[error("internal error")]
    Search(#[source] crate::search::SearchError),
}

/// Every read of the views a command (or an HTTP read path) makes goes through here, so each
/// failure is logged once, with its source, before it becomes a generic 500.
impl From<StoreError> for CommandError {
    fn from(e: StoreError) -> CommandError {
        tracing::error!(error = %e, "cannot read the views");
        CommandError::Store(e)
    }
}

impl CommandError {
    /// The `error` code of API.md's table.
    pub fn code(&self) -> &'static str {
        match self {
            CommandError::Invalid(_) => "validation_failed",
            CommandError::Forbidden(_) => "forbidden",
            CommandError::NotFound(_) => "not_found",
            CommandError::Conflict(_) => "conflict",
            CommandError::RateLimited { .. } => "rate_limited",
            CommandError::TooLarge(_) => "payload_too_large",
            CommandError::Unsupported(_) => "unsupported_media_type",
            CommandError::Unavailable(_)
            | CommandError::NotNow(_)
            | CommandError::FilesUnavailable(_) => "unavailable",
            CommandError::NotFolded { .. } | CommandError::Store(_) | CommandError::Search(_) => {
                "internal"
            }
        }
    }
}

pub type Result<T> = std::result::Result<T, CommandError>;

/// Takes one message send from the caller's budget (`SEND_RATE_LIMIT`, shared by HTTP and
/// WebSocket).
///
/// # Errors
/// 429 when the budget is spent.
pub fn take_send(app: &AppState, caller: &Caller) -> Result<()> {
    app.send_limiter
        .check(&caller.user_id)
        .map_err(|retry_after| CommandError::RateLimited {
            retry_after,
            limit: app.config.send_rate_limit,
            what: "messages",
        })
}

/// Takes one other write (edit, delete, reaction, status, typing) from the caller's budget
/// (`WRITE_RATE_LIMIT`). Service tokens, the booking platform's back end, have no such budget.
///
/// # Errors
/// 429 when the budget is spent.
pub fn take_write(app: &AppState, caller: &Caller) -> Result<()> {
    if caller.role == concierge_events::Role::Service {
        return Ok(());
    }
    app.write_limiter
        .check(&caller.user_id)
        .map_err(|retry_after| CommandError::RateLimited {
            retry_after,
            limit: app.config.write_rate_limit,
            what: "writes",
        })
}

/// A new event by `caller` about `conversation_id`, stamped now.
pub fn envelope(caller: &Caller, conversation_id: Option<&str>, event: Event) -> Envelope {
    Envelope::new(
        ulid::Ulid::new().to_string(),
        Timestamp::now(),
        caller.actor(),
        conversation_id.map(str::to_string),
        event,
    )
}

/// Refuses a write this cluster cannot take yet: this node has stopped folding (it would never see
/// its own write), or the event's schema level is above what some live node folds, which would
/// stop that node (docs/operations.md, "Rolling upgrades").
///
/// # Errors
/// [`CommandError::NotNow`] naming the reason.
fn may_write(app: &AppState, event: &Envelope) -> Result<()> {
    if let Some(blocked) = app.progress.blocked() {
        return Err(CommandError::NotNow(format!("this node has {blocked}")));
    }
    let event_type = event.event.event_type();
    let needs = concierge_events::level_of(event_type).unwrap_or(concierge_events::EVENT_LEVEL);
    let (lowest, node) = app.realtime.presence.lowest_level(app.progress.level());
    if needs > lowest {
        return Err(CommandError::NotNow(format!(
            "a rolling upgrade is in progress: {event_type} needs event schema level {needs}, \
             and node {node} folds only up to level {lowest}; retry when every node is upgraded"
        )));
    }
    Ok(())
}

/// Publishes `event` with `msg_id` and waits until this node has folded it (read-your-writes).
///
/// # Errors
/// [`CommandError::Unavailable`] when the log does not take it; [`CommandError::NotFolded`] when it
/// was taken but not folded within the timeout.
pub async fn write(app: &AppState, subject: String, event: &Envelope, msg_id: &str) -> Result<Ack> {
    may_write(app, event)?;
    let ack = app.log.publish(subject, event, msg_id).await.map_err(|e| {
        tracing::warn!(error = %e, "write refused: the event store did not take it");
        CommandError::Unavailable(e)
    })?;
    if !app.progress.wait_folded(ack.seq, FOLD_TIMEOUT).await {
        tracing::error!(seq = ack.seq, "published event not folded in time");
        return Err(CommandError::NotFolded { seq: ack.seq });
    }
    Ok(ack)
}
