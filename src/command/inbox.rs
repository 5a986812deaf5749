//! The support inbox's commands (docs/inbox.md): assignment, labels, priority, the customer's
//! rating, canned replies, and the response-time statistics read from the views. Snoozing is a
//! status ([`super::conversations::set_status`]); notes are sends ([`super::messages::send`]).

use super::messages::{check_content, is_forbidden_control};
use super::{access, envelope, take_write, write, CommandError, Result};
use crate::auth::Caller;
use crate::state::AppState;
use concierge_events::{
    ids, subject, CannedReplyDeleted, CannedReplySaved, ConversationAssigned, ConversationLabeled,
    ConversationPrioritized, ConversationRated, Event, Priority, Role, Status, Timestamp,
};
use concierge_projections::views::{CannedReplyView, ConversationView, RatingView};
use serde_json::{Map, Value};

pub const MAX_LABELS: usize = 20;
pub const MAX_LABEL_CHARS: usize = 32;
pub const MAX_SHORTCUT_CHARS: usize = 32;
pub const MAX_TITLE_CHARS: usize = 100;
pub const MAX_COMMENT_CHARS: usize = 1000;

fn invalid(msg: impl Into<String>) -> CommandError {
    CommandError::Invalid(msg.into())
}

fn object(body: &Value) -> Result<&Map<String, Value>> {
    body.as_object()
        .ok_or_else(|| invalid("body must be a JSON object"))
}

/// The conversation of an admin-only change, checked in API.md's order (400 id, 404, 403), with
/// one write taken from the caller's budget (429).
fn admin_conversation(
    app: &AppState,
    caller: &Caller,
    conversation_id: &str,
    what: &str,
) -> Result<ConversationView> {
    let conv = access::conversation(app, caller, conversation_id)?;
    access::admin_only(caller, what)?;
    take_write(app, caller)?;
    Ok(conv)
}

/// Publishes a change of `conv` and answers the conversation as folded.
async fn change(
    app: &AppState,
    caller: &Caller,
    conv: &ConversationView,
    event: Event,
) -> Result<ConversationView> {
    let event = envelope(caller, Some(&conv.id), event);
    let ack = write(app, subject::conversation(&conv.id), &event, &event.id).await?;
    app.views
        .views()
        .conversation(&conv.id)?
        .ok_or(CommandError::NotFolded { seq: ack.seq })
}

/// Gives the conversation to an admin, or to nobody. The current assignee again writes nothing.
///
/// # Errors
/// 400/404/403 for the conversation, 403 not an admin, 429, whatever `body` refuses, 400 a
/// `userId` that is not a user id or is the conversation's customer, 503 from the log.
pub async fn assign<E: From<CommandError>>(
    app: &AppState,
    caller: &Caller,
    conversation_id: &str,
    body: impl FnOnce() -> std::result::Result<Value, E>,
) -> std::result::Result<ConversationView, E> {
    let conv = admin_conversation(app, caller, conversation_id, "assign conversations")?;
    let body = body()?;
    let obj = object(&body)?;
    let to = match obj.get("userId") {
        Some(Value::Null) => None,
        Some(Value::String(id)) if ids::is_external(id) => Some(id.clone()),
        _ => {
            return Err(invalid(
                "userId must be a user id (1-128 characters of A-Z a-z 0-9 . _ : @ -) or null",
            )
            .into())
        }
    };
    if to.is_some() && to.as_deref() == conv.customer_id() {
        return Err(invalid("userId must be an admin, not the conversation's customer").into());
    }
    if to == conv.assignee {
        return Ok(conv);
    }
    let event = Event::ConversationAssigned(ConversationAssigned {
        from: conv.assignee.clone(),
        to,
    });
    Ok(change(app, caller, &conv, event).await?)
}

/// Validates a label list: at most 20, each 1–32 characters, not blank, no control characters;
/// repeats kept once, in order.
///
/// # Errors
/// 400 naming the first bad label.
pub fn parse_labels(value: Option<&Value>) -> Result<Vec<String>> {
    let Some(Value::Array(items)) = value else {
        return Err(invalid("labels must be an array of strings"));
    };
    if items.len() > MAX_LABELS {
        return Err(invalid(format!(
            "labels must have at most {MAX_LABELS} items"
        )));
    }
    let mut labels: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let ok = item.as_str().filter(|l| check_label(l));
        let Some(label) = ok else {
            return Err(invalid(format!(
                "labels[{i}] must be 1-{MAX_LABEL_CHARS} characters, not blank, without control characters"
            )));
        };
        if !labels.iter().any(|l| l == label) {
            labels.push(label.to_string());
        }
    }
    Ok(labels)
}

/// Whether `label` is a label: 1–32 characters, not blank, no control characters.
pub fn check_label(label: &str) -> bool {
    (1..=MAX_LABEL_CHARS).contains(&label.chars().count())
        && !label.trim().is_empty()
        && !label.chars().any(char::is_control)
}

/// Replaces the conversation's labels. The same list again writes nothing.
///
/// # Errors
/// As [`assign`], with 400 for a bad label list.
pub async fn set_labels<E: From<CommandError>>(
    app: &AppState,
    caller: &Caller,
    conversation_id: &str,
    body: impl FnOnce() -> std::result::Result<Value, E>,
) -> std::result::Result<ConversationView, E> {
    let conv = admin_conversation(app, caller, conversation_id, "label conversations")?;
    let body = body()?;
    let labels = parse_labels(object(&body)?.get("labels"))?;
    if labels == conv.labels {
        return Ok(conv);
    }
    let event = Event::ConversationLabeled(ConversationLabeled { labels });
    Ok(change(app, caller, &conv, event).await?)
}

/// The priority a body or query names.
///
/// # Errors
/// 400 naming `field`.
pub fn parse_priority(value: Option<&str>, field: &str) -> Result<Priority> {
    value
        .and_then(Priority::parse)
        .ok_or_else(|| invalid(format!("{field} must be one of low, normal, high, urgent")))
}

/// Sets the conversation's priority. The current one again writes nothing.
///
/// # Errors
/// As [`assign`], with 400 for a bad priority.
pub async fn set_priority<E: From<CommandError>>(
    app: &AppState,
    caller: &Caller,
    conversation_id: &str,
    body: impl FnOnce() -> std::result::Result<Value, E>,
) -> std::result::Result<ConversationView, E> {
    let conv = admin_conversation(
        app,
        caller,
        conversation_id,
        "set a conversation's priority",
    )?;
    let body = body()?;
    let to = parse_priority(
        object(&body)?.get("priority").and_then(Value::as_str),
        "priority",
    )?;
    if to == conv.priority {
        return Ok(conv);
    }
    let event = Event::ConversationPrioritized(ConversationPrioritized {
        from: conv.priority,
        to,
    });
    Ok(change(app, caller, &conv, event).await?)
}

/// The customer's rating of their closed conversation, given once.
///
/// # Errors
/// 400/404 for the conversation, 403 anyone but its customer, 429, whatever `body` refuses, 400
/// bad score or comment, 409 not closed or already rated (also when the log ordered a reopening
/// or another rating first), 503 from the log.
pub async fn rate<E: From<CommandError>>(
    app: &AppState,
    caller: &Caller,
    conversation_id: &str,
    body: impl FnOnce() -> std::result::Result<Value, E>,
) -> std::result::Result<(String, RatingView), E> {
    let conv = access::known(app, conversation_id)?;
    if conv.customer_id() != Some(caller.user_id.as_str()) || caller.role != Role::Customer {
        return Err(
            CommandError::Forbidden("only the conversation's customer may rate it".into()).into(),
        );
    }
    take_write(app, caller)?;
    let body = body()?;
    let obj = object(&body)?;
    let score = obj
        .get("score")
        .and_then(super::messages::whole_number)
        .filter(|s| (1..=5).contains(s))
        .ok_or_else(|| invalid("score must be an integer from 1 to 5"))? as u8;
    let comment = match obj.get("comment") {
        None | Some(Value::Null) => None,
        Some(Value::String(c))
            if c.chars().count() <= MAX_COMMENT_CHARS
                && !c.chars().any(is_forbidden_control) =>
        {
            Some(c.clone())
        }
        Some(_) => {
            return Err(invalid(format!(
                "comment must be a string of at most {MAX_COMMENT_CHARS} characters without control characters"
            ))
            .into())
        }
    };
    rateable(&conv)?;
    let event = envelope(
        caller,
        Some(&conv.id),
        Event::ConversationRated(ConversationRated { score, comment }),
    );
    let ack = write(app, subject::conversation(&conv.id), &event, &event.id).await?;
    let rated = app
        .views
        .views()
        .conversation(&conv.id)
        .map_err(CommandError::from)?
        .ok_or(CommandError::NotFolded { seq: ack.seq })?;
    match rated.rating.clone() {
        Some(r) if r.rated_at == event.at && r.score == score => Ok((rated.id, r)),
        // The fold skipped it: the log ordered another rating or a reopening first.
        _ => Err(rateable(&rated)
            .err()
            .unwrap_or(CommandError::NotFolded { seq: ack.seq })
            .into()),
    }
}

/// 409 unless the conversation is closed and not rated yet.
fn rateable(conv: &ConversationView) -> Result<()> {
    if conv.rating.is_some() {
        return Err(CommandError::Conflict(
            "the conversation is already rated".into(),
        ));
    }
    if conv.status != Status::Closed {
        return Err(CommandError::Conflict(
            "only a closed conversation can be rated".into(),
        ));
    }
    Ok(())
}

/// Checks a canned reply's shortcut from the path.
///
/// # Errors
/// 400 naming `shortcut`.
pub fn check_shortcut(shortcut: &str) -> Result<()> {
    let ok = (1..=MAX_SHORTCUT_CHARS).contains(&shortcut.len())
        && shortcut
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "shortcut must be 1-{MAX_SHORTCUT_CHARS} characters of a-z 0-9 _ -"
        )))
    }
}

/// Every canned reply, by shortcut (admins).
///
/// # Errors
/// 403 not an admin; 500 when the views cannot be read.
pub fn canned_replies(app: &AppState, caller: &Caller) -> Result<Vec<CannedReplyView>> {
    access::admin_only(caller, "read canned replies")?;
    Ok(app.views.views().canned_replies()?)
}

/// One canned reply (admins).
///
/// # Errors
/// 400 bad shortcut, 403 not an admin, 404 unknown.
pub fn canned_reply(app: &AppState, caller: &Caller, shortcut: &str) -> Result<CannedReplyView> {
    check_shortcut(shortcut)?;
    access::admin_only(caller, "read canned replies")?;
    app.views
        .views()
        .canned_reply(shortcut)?
        .ok_or_else(|| CommandError::NotFound("canned reply not found".into()))
}

/// Creates or replaces a canned reply; `true` when it is new. The same title and content again
/// write nothing.
///
/// # Errors
/// 400 bad shortcut, 403 not an admin, 429, whatever `body` refuses, 400 bad title or content,
/// 503 from the log.
pub async fn save_canned_reply<E: From<CommandError>>(
    app: &AppState,
    caller: &Caller,
    shortcut: &str,
    body: impl FnOnce() -> std::result::Result<Value, E>,
) -> std::result::Result<(CannedReplyView, bool), E> {
    check_shortcut(shortcut)?;
    access::admin_only(caller, "change canned replies")?;
    take_write(app, caller)?;
    let body = body()?;
    let obj = object(&body)?;
    let title = obj
        .get("title")
        .and_then(Value::as_str)
        .filter(|t| {
            (1..=MAX_TITLE_CHARS).contains(&t.chars().count())
                && !t.trim().is_empty()
                && !t.chars().any(char::is_control)
        })
        .ok_or_else(|| {
            invalid(format!(
                "title must be 1-{MAX_TITLE_CHARS} characters, not blank, without control characters"
            ))
        })?
        .to_string();
    let content = check_content(obj.get("content"), false)?;
    let existing = app
        .views
        .views()
        .canned_reply(shortcut)
        .map_err(CommandError::from)?;
    if let Some(cur) = &existing {
        if cur.title == title && cur.content == content {
            return Ok((cur.clone(), false));
        }
    }
    let event = envelope(
        caller,
        None,
        Event::CannedReplySaved(CannedReplySaved {
            shortcut: shortcut.to_string(),
            title,
            content,
        }),
    );
    let ack = write(app, subject::canned(shortcut), &event, &event.id).await?;
    let saved = app
        .views
        .views()
        .canned_reply(shortcut)
        .map_err(CommandError::from)?
        .ok_or(CommandError::NotFolded { seq: ack.seq })?;
    Ok((saved, existing.is_none()))
}

/// Deletes a canned reply and answers it as it was.
///
/// # Errors
/// 400 bad shortcut, 403 not an admin, 404 unknown, 429, 503 from the log.
pub async fn delete_canned_reply(
    app: &AppState,
    caller: &Caller,
    shortcut: &str,
) -> Result<CannedReplyView> {
    let existing = canned_reply(app, caller, shortcut)?;
    take_write(app, caller)?;
    let event = envelope(
        caller,
        None,
        Event::CannedReplyDeleted(CannedReplyDeleted {
            shortcut: shortcut.to_string(),
        }),
    );
    write(app, subject::canned(shortcut), &event, &event.id).await?;
    Ok(existing)
}

/// The `until` of a snooze: an RFC 3339 time after `now` and at most 365 days ahead.
///
/// # Errors
/// 400 naming `until`.
pub fn parse_until(value: Option<&Value>, now: Timestamp) -> Result<Timestamp> {
    const YEAR_MS: i64 = 365 * 24 * 60 * 60 * 1000;
    let until = match value {
        None | Some(Value::Null) => {
            return Err(invalid("until is required with status snoozed"));
        }
        Some(Value::String(s)) => Timestamp::parse(s).ok_or_else(|| {
            invalid("until must be an RFC 3339 time such as 2026-12-04T09:00:00.000Z")
        })?,
        Some(_) => return Err(invalid("until must be an RFC 3339 time string")),
    };
    if until <= now {
        return Err(invalid("until must be in the future"));
    }
    if until.millis() - now.millis() > YEAR_MS {
        return Err(invalid("until must be at most 365 days ahead"));
    }
    Ok(until)
}

/// Nearest-rank percentile `p` (0–100) of sorted values.
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (u64::from(p) * sorted.len() as u64).div_ceil(100).max(1);
    sorted.get(rank as usize - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&v, 50), Some(5));
        assert_eq!(percentile(&v, 90), Some(9));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[1, 2], 50), Some(1));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn labels_are_checked_and_kept_once_in_order() {
        let v = serde_json::json!(["vip", "late check-out", "vip"]);
        assert_eq!(
            parse_labels(Some(&v)).unwrap(),
            vec!["vip", "late check-out"]
        );
        for bad in [
            serde_json::json!([""]),
            serde_json::json!(["  "]),
            serde_json::json!(["a".repeat(33)]),
            serde_json::json!(["a\u{7}"]),
            serde_json::json!([1]),
            serde_json::json!("vip"),
        ] {
            assert!(parse_labels(Some(&bad)).is_err(), "{bad}");
        }
        let many: Vec<String> = (0..21).map(|i| format!("l{i}")).collect();
        assert!(parse_labels(Some(&serde_json::json!(many))).is_err());
        assert_eq!(
            parse_labels(Some(&serde_json::json!(["é".repeat(32)])))
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn shortcuts_and_snooze_times() {
        assert!(check_shortcut("late-checkout_2").is_ok());
        for bad in ["", "Hi", "a b", "a.b", &"a".repeat(33)] {
            assert!(check_shortcut(bad).is_err(), "{bad}");
        }
        let now = Timestamp::parse("2026-12-03T10:00:00.000Z").unwrap();
        let at = |s: &str| serde_json::json!(s);
        assert!(parse_until(Some(&at("2026-12-03T10:00:00.001Z")), now).is_ok());
        assert!(parse_until(Some(&at("2026-12-03T10:00:00.000Z")), now).is_err());
        assert!(parse_until(Some(&at("2027-12-03T10:00:00.000Z")), now).is_ok());
        assert!(parse_until(Some(&at("2027-12-03T10:00:00.001Z")), now).is_err());
        assert!(parse_until(None, now).is_err());
        assert!(parse_until(Some(&at("tomorrow")), now).is_err());
    }
}
