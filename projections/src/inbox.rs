//! The folds of the support inbox (schema level 3): internal notes, assignment, snooze, labels,
//! priority, ratings and canned replies. A note is stored as a message with `internal` set and
//! changes nothing a customer sees: no unread count, `lastMessage`, `updatedAt`, participant,
//! status or response time moves for it.

use crate::error::StoreError;
use crate::fold::{message_in, set_status, with_conversation, Outcome};
use crate::kv::{keys, Kv};
use crate::typed::Views;
use crate::views::{CannedReplyView, MessageView, RatingView};
use concierge_events::{Envelope, Event, MessageType, Role, Status};

/// Folds one inbox event (any other event is skipped).
///
/// # Errors
/// As [`crate::fold::apply`].
pub fn apply<K: Kv>(views: &mut Views<K>, seq: u64, env: &Envelope) -> Result<Outcome, StoreError> {
    let at = env.at;
    let admin = env.actor.role == Role::Admin;
    Ok(match &env.event {
        Event::NoteAdded(n) => with_conversation(views, env, seq, |views, conv| {
            if !admin {
                return Ok(Outcome::Skipped("only admins write notes"));
            }
            if let Some(key) = &n.client_message_id {
                if views.client_key(&conv.id, &env.actor.id, key)?.is_some() {
                    return Ok(Outcome::Skipped("client key already used"));
                }
            }
            if views.locate(&n.message_id)?.is_some() {
                return Ok(Outcome::Skipped("message id already used"));
            }
            let note = MessageView {
                id: n.message_id.clone(),
                conversation_id: conv.id.clone(),
                seq,
                sender: env.actor.id.clone(),
                sender_role: env.actor.role,
                content: n.content.clone(),
                message_type: MessageType::Text,
                attachments: Vec::new(),
                reply_to: n.reply_to.clone(),
                read_by: Vec::new(),
                reactions: Vec::new(),
                is_deleted: false,
                deleted_at: None,
                is_edited: false,
                edited_at: None,
                created_at: at,
                updated_at: at,
                client_message_id: n.client_message_id.clone(),
                internal: true,
            };
            if let Some(key) = &n.client_message_id {
                views.put_client_key(&conv.id, &note.sender, key, &note.id);
            }
            conv.note_count += 1;
            views.append_message(conv, &note)?;
            Ok(Outcome::Applied)
        })?,
        Event::NoteEdited(e) => with_conversation(views, env, seq, |views, conv| {
            let Some(mut note) = message_in(views, conv, &e.message_id)? else {
                return Ok(Outcome::Skipped("unknown note"));
            };
            if !note.internal || note.is_deleted || note.sender != env.actor.id {
                return Ok(Outcome::Skipped("not a live note of the actor"));
            }
            note.content = e.content.clone();
            note.is_edited = true;
            note.edited_at = Some(at);
            note.updated_at = at;
            views.put_message(conv, &note)?;
            Ok(Outcome::Applied)
        })?,
        Event::NoteDeleted(d) => with_conversation(views, env, seq, |views, conv| {
            let Some(mut note) = message_in(views, conv, &d.message_id)? else {
                return Ok(Outcome::Skipped("unknown note"));
            };
            if !note.internal || note.is_deleted || note.sender != env.actor.id {
                return Ok(Outcome::Skipped("not a live note of the actor"));
            }
            note.is_deleted = true;
            note.deleted_at = Some(at);
            note.updated_at = at;
            note.content = String::new();
            views.put_message(conv, &note)?;
            Ok(Outcome::Applied)
        })?,
        Event::ConversationAssigned(a) => with_conversation(views, env, seq, |_, conv| {
            if !admin || conv.assignee == a.to {
                return Ok(Outcome::Skipped("assignee unchanged, or not an admin's"));
            }
            conv.assignee = a.to.clone();
            Ok(Outcome::Applied)
        })?,
        Event::ConversationSnoozed(s) => with_conversation(views, env, seq, |views, conv| {
            if !admin || (conv.status == Status::Snoozed && conv.snoozed_until == Some(s.until)) {
                return Ok(Outcome::Skipped(
                    "snoozed until then already, or not an admin's",
                ));
            }
            if conv.status != Status::Snoozed {
                set_status(views, conv, Status::Snoozed, at)?;
            } else if let Some(old) = conv.snoozed_until {
                views.set_timed(keys::snooze(old.millis(), &conv.id), false, None);
            }
            conv.snoozed_until = Some(s.until);
            views.set_timed(keys::snooze(s.until.millis(), &conv.id), true, None);
            conv.updated_at = at;
            Ok(Outcome::Applied)
        })?,
        Event::ConversationWoken(w) => with_conversation(views, env, seq, |views, conv| {
            if conv.status != Status::Snoozed || conv.snoozed_until != Some(w.until) {
                return Ok(Outcome::Skipped("no longer snoozed until then"));
            }
            set_status(views, conv, Status::Active, at)?;
            conv.updated_at = at;
            Ok(Outcome::Applied)
        })?,
        Event::ConversationLabeled(l) => with_conversation(views, env, seq, |_, conv| {
            if !admin || conv.labels == l.labels {
                return Ok(Outcome::Skipped("labels unchanged, or not an admin's"));
            }
            conv.labels = l.labels.clone();
            Ok(Outcome::Applied)
        })?,
        Event::ConversationPrioritized(p) => with_conversation(views, env, seq, |_, conv| {
            if !admin || conv.priority == p.to {
                return Ok(Outcome::Skipped("priority unchanged, or not an admin's"));
            }
            conv.priority = p.to;
            Ok(Outcome::Applied)
        })?,
        Event::ConversationRated(r) => with_conversation(views, env, seq, |views, conv| {
            if conv.rating.is_some()
                || conv.status != Status::Closed
                || conv.customer_id() != Some(env.actor.id.as_str())
                || !(1..=5).contains(&r.score)
            {
                return Ok(Outcome::Skipped(
                    "rated already, not closed, or not its customer",
                ));
            }
            conv.rating = Some(RatingView {
                score: r.score,
                comment: r.comment.clone(),
                rated_at: at,
            });
            let mut stats = views.stats()?;
            stats.rating_sum += u64::from(r.score);
            stats.rating_count += 1;
            views.put_stats(&stats);
            Ok(Outcome::Applied)
        })?,
        Event::CannedReplySaved(c) => {
            if !admin {
                return Ok(Outcome::Skipped("only admins keep canned replies"));
            }
            views.put_canned_reply(&CannedReplyView {
                shortcut: c.shortcut.clone(),
                title: c.title.clone(),
                content: c.content.clone(),
                updated_at: at,
                updated_by: env.actor.id.clone(),
            });
            Outcome::Applied
        }
        Event::CannedReplyDeleted(c) => {
            if !admin || views.canned_reply(&c.shortcut)?.is_none() {
                return Ok(Outcome::Skipped("no such canned reply, or not an admin's"));
            }
            views.remove_canned_reply(&c.shortcut);
            Outcome::Applied
        }
        _ => Outcome::Skipped("not an inbox event"),
    })
}
