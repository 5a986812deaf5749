//! The pure fold: `(views, seq, event) -> views`. No business decision is taken here that the command
//! side did not already check; what the fold does decide is how to settle races the log has ordered
//! (a second `conversation_created` for a booking, a send, edit or reaction after a close, a
//! retried client key): the later event is skipped and leaves no trace in the views.

use crate::error::StoreError;
use crate::inbox;
use crate::kv::keys;
use crate::kv::Kv;
use crate::typed::Views;
use crate::views::{
    AttachmentView, BookingView, ConversationView, LastMessage, MessageView, ParticipantView,
    ReactionView, ReadPoint, ReadReceipt,
};
use concierge_events::{Actor, BookingSource, Envelope, Event, Priority, Role, Status, Timestamp};

/// What folding one event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// The event changed nothing; the reason is for logs and tests.
    Skipped(&'static str),
}

/// How many scalar values of a message the conversation's `lastMessage` keeps.
pub const LAST_MESSAGE_CHARS: usize = 100;

/// Folds one event at log sequence `seq` into the views. Does not move the checkpoint.
///
/// # Errors
/// When a view the event touches cannot be read or does not decode. The views may then hold part
/// of the event's writes: the caller discards them (the store folds into an overlay it drops) and
/// folds the event again later, never skips it, since a skip would be a fold of a different log.
pub fn apply<K: Kv>(views: &mut Views<K>, seq: u64, env: &Envelope) -> Result<Outcome, StoreError> {
    let at = env.at;
    Ok(match &env.event {
        Event::BookingRegistered(b) => {
            let existing = views.booking(&b.booking_id)?;
            let booking = match (existing, b.source) {
                (Some(_), BookingSource::Token) => {
                    return Ok(Outcome::Skipped("booking already registered"))
                }
                (Some(mut cur), BookingSource::Api) => {
                    if cur.conversation_id.is_some() && cur.customer_id != b.customer_id {
                        return Ok(Outcome::Skipped(
                            "booking has a conversation with another customer",
                        ));
                    }
                    cur.customer_id = b.customer_id.clone();
                    if b.title.is_some() {
                        cur.title = b.title.clone();
                    }
                    cur
                }
                (None, _) => BookingView {
                    booking_id: b.booking_id.clone(),
                    customer_id: b.customer_id.clone(),
                    title: b.title.clone(),
                    conversation_id: None,
                    registered_at: at,
                },
            };
            if let Some(cid) = &booking.conversation_id {
                if let Some(mut conv) = views.conversation(cid)? {
                    conv.title = booking.display_title();
                    views.put_conversation(&conv)?;
                }
            }
            views.put_booking(&booking);
            Outcome::Applied
        }
        Event::ConversationCreated(c) => {
            let Some(id) = env.conversation_id.as_deref() else {
                return Ok(Outcome::Skipped("no conversation id"));
            };
            let Some(mut booking) = views.booking(&c.booking_id)? else {
                return Ok(Outcome::Skipped("unknown booking"));
            };
            if booking.conversation_id.is_some() || views.conversation(id)?.is_some() {
                return Ok(Outcome::Skipped("booking already has a conversation"));
            }
            let mut conv = ConversationView {
                id: id.to_string(),
                booking_id: c.booking_id.clone(),
                title: c.title.clone(),
                participants: Vec::new(),
                status: Status::Active,
                created_at: at,
                updated_at: at,
                last_message: None,
                message_count: 0,
                live_count: 0,
                unread: Default::default(),
                read_points: Default::default(),
                first_customer_message_at: None,
                first_admin_reply_at: None,
                last_message_seq: 0,
                last_seq: seq,
                chunk_start: 0,
                assignee: None,
                labels: Vec::new(),
                priority: Priority::Normal,
                snoozed_until: None,
                waiting_since: None,
                resolution_ms: None,
                rating: None,
                note_count: 0,
            };
            for p in c.participants.iter().filter(|p| p.role != Role::Service) {
                join(&mut conv, &p.user_id, p.role, &p.name, at);
            }
            booking.conversation_id = Some(id.to_string());
            views.put_booking(&booking);
            for p in &conv.participants {
                views.put_participation(&p.user_id, &conv.id);
            }
            views.put_conversation(&conv)?;
            let mut stats = views.stats()?;
            stats.total_conversations += 1;
            stats.active += 1;
            views.put_stats(&stats);
            Outcome::Applied
        }
        Event::ParticipantJoined(p) => with_conversation(views, env, seq, |_, conv| {
            if conv.is_participant(&p.user_id) || p.role == Role::Service {
                return Ok(Outcome::Skipped("already a participant"));
            }
            join(conv, &p.user_id, p.role, &p.name, at);
            Ok(Outcome::Applied)
        })?,
        Event::MessageSent(m) => with_conversation(views, env, seq, |views, conv| {
            if conv.status == Status::Closed {
                return Ok(Outcome::Skipped("conversation is closed"));
            }
            if let Some(key) = &m.client_message_id {
                if views.client_key(&conv.id, &env.actor.id, key)?.is_some() {
                    return Ok(Outcome::Skipped("client key already used"));
                }
            }
            if views.locate(&m.message_id)?.is_some() {
                return Ok(Outcome::Skipped("message id already used"));
            }
            for id in m.attachments.iter().filter_map(|a| a.id.as_deref()) {
                if views.attachment_use(id)?.is_some() {
                    return Ok(Outcome::Skipped("attachment already used"));
                }
            }
            if !admit_actor(conv, &env.actor, at) {
                return Ok(Outcome::Skipped("sender is not a participant"));
            }
            let wakes = conv.status == Status::Snoozed && env.actor.role == Role::Customer;
            if conv.status == Status::Archived || wakes {
                set_status(views, conv, Status::Active, at)?;
            }
            // Everything before this message is now read by its sender.
            advance_read(views, conv, &env.actor.id, seq.saturating_sub(1), at)?;
            let msg = MessageView {
                id: m.message_id.clone(),
                conversation_id: conv.id.clone(),
                seq,
                sender: env.actor.id.clone(),
                sender_role: env.actor.role,
                content: m.content.clone(),
                message_type: m.message_type,
                attachments: m.attachments.iter().map(AttachmentView::from).collect(),
                reply_to: m.reply_to.clone(),
                read_by: Vec::new(),
                reactions: Vec::new(),
                is_deleted: false,
                deleted_at: None,
                is_edited: false,
                edited_at: None,
                created_at: at,
                updated_at: at,
                client_message_id: m.client_message_id.clone(),
                internal: false,
            };
            for p in &conv.participants {
                if p.user_id != msg.sender {
                    *conv.unread.entry(p.user_id.clone()).or_insert(0) += 1;
                }
            }
            conv.unread.insert(msg.sender.clone(), 0);
            conv.read_points
                .insert(msg.sender.clone(), ReadPoint { seq, at });
            conv.live_count += 1;
            conv.last_message_seq = seq;
            conv.last_message = Some(last_message(&msg));
            conv.updated_at = at;

            let mut stats = views.stats()?;
            stats.total_messages += 1;
            match env.actor.role {
                Role::Customer => {
                    let asked = *conv.first_customer_message_at.get_or_insert(at);
                    // When a wait starts (the first message, or the first after a close took the
                    // conversation out of the unanswered); not on every send of a wait.
                    if conv.first_admin_reply_at.is_none() && conv.waiting_since.is_none() {
                        views.set_timed(keys::unanswered(asked.millis(), &conv.id), true, None);
                    }
                    conv.waiting_since.get_or_insert(at);
                }
                Role::Admin => {
                    conv.waiting_since = None;
                    if let (None, Some(first)) =
                        (conv.first_admin_reply_at, conv.first_customer_message_at)
                    {
                        conv.first_admin_reply_at = Some(at);
                        let ms = (at.millis() - first.millis()).max(0);
                        stats.first_response_ms_sum += ms;
                        stats.first_response_count += 1;
                        views.set_timed(keys::unanswered(first.millis(), &conv.id), false, None);
                        views.set_timed(
                            keys::first_response(at.millis(), &conv.id),
                            true,
                            Some(ms),
                        );
                    }
                }
                Role::Service => {}
            }
            views.put_stats(&stats);
            if let Some(key) = &m.client_message_id {
                views.put_client_key(&conv.id, &msg.sender, key, &msg.id);
            }
            for id in m.attachments.iter().filter_map(|a| a.id.as_deref()) {
                views.put_attachment_use(id, &msg.id);
            }
            views.set_live_in_time_index(&msg, true)?;
            views.append_message(conv, &msg)?;
            Ok(Outcome::Applied)
        })?,
        Event::MessageEdited(e) => with_conversation(views, env, seq, |views, conv| {
            if conv.status == Status::Closed {
                return Ok(Outcome::Skipped("conversation is closed"));
            }
            let Some(mut msg) = message_in(views, conv, &e.message_id)? else {
                return Ok(Outcome::Skipped("unknown message"));
            };
            if msg.is_deleted || msg.sender != env.actor.id || msg.internal {
                return Ok(Outcome::Skipped(
                    "message deleted, a note or not the sender's",
                ));
            }
            msg.content = e.content.clone();
            msg.is_edited = true;
            msg.edited_at = Some(at);
            msg.updated_at = at;
            if conv.last_message.as_ref().map(|l| l.id.as_str()) == Some(msg.id.as_str()) {
                conv.last_message = Some(last_message(&msg));
            }
            conv.updated_at = at;
            views.put_message(conv, &msg)?;
            Ok(Outcome::Applied)
        })?,
        Event::MessageDeleted(d) => with_conversation(views, env, seq, |views, conv| {
            let Some(mut msg) = message_in(views, conv, &d.message_id)? else {
                return Ok(Outcome::Skipped("unknown message"));
            };
            if msg.is_deleted || msg.internal {
                return Ok(Outcome::Skipped("already deleted, or a note"));
            }
            if msg.sender != env.actor.id && env.actor.role != Role::Admin {
                return Ok(Outcome::Skipped("neither the sender nor an admin"));
            }
            msg.is_deleted = true;
            msg.deleted_at = Some(at);
            msg.updated_at = at;
            msg.content = String::new();
            msg.attachments.clear();
            for p in &conv.participants {
                let read = conv.read_points.get(&p.user_id).map_or(0, |r| r.seq);
                if p.user_id != msg.sender && read < msg.seq {
                    if let Some(n) = conv.unread.get_mut(&p.user_id) {
                        *n = n.saturating_sub(1);
                    }
                }
            }
            conv.live_count = conv.live_count.saturating_sub(1);
            conv.updated_at = at;
            views.set_live_in_time_index(&msg, false)?;
            views.put_message(conv, &msg)?;
            if conv.last_message.as_ref().map(|l| l.id.as_str()) == Some(msg.id.as_str()) {
                conv.last_message = newest_live_message(views, &conv.id, msg.seq)?;
            }
            let mut stats = views.stats()?;
            stats.total_messages = stats.total_messages.saturating_sub(1);
            views.put_stats(&stats);
            Ok(Outcome::Applied)
        })?,
        Event::ReactionAdded(r) => with_conversation(views, env, seq, |views, conv| {
            if conv.status == Status::Closed {
                return Ok(Outcome::Skipped("conversation is closed"));
            }
            let Some(mut msg) = message_in(views, conv, &r.message_id)? else {
                return Ok(Outcome::Skipped("unknown message"));
            };
            if msg.is_deleted || msg.internal {
                return Ok(Outcome::Skipped("message deleted, or a note"));
            }
            if msg
                .reactions
                .iter()
                .any(|x| x.user == env.actor.id && x.emoji == r.emoji)
            {
                return Ok(Outcome::Skipped("reaction exists"));
            }
            msg.reactions.push(ReactionView {
                user: env.actor.id.clone(),
                emoji: r.emoji.clone(),
                created_at: at,
            });
            views.put_message(conv, &msg)?;
            Ok(Outcome::Applied)
        })?,
        Event::ReactionRemoved(r) => with_conversation(views, env, seq, |views, conv| {
            if conv.status == Status::Closed {
                return Ok(Outcome::Skipped("conversation is closed"));
            }
            let Some(mut msg) = message_in(views, conv, &r.message_id)? else {
                return Ok(Outcome::Skipped("unknown message"));
            };
            let before = msg.reactions.len();
            msg.reactions
                .retain(|x| !(x.user == env.actor.id && x.emoji == r.emoji));
            if msg.is_deleted || msg.internal || msg.reactions.len() == before {
                return Ok(Outcome::Skipped("no such reaction"));
            }
            views.put_message(conv, &msg)?;
            Ok(Outcome::Applied)
        })?,
        Event::MessagesRead(r) => with_conversation(views, env, seq, |views, conv| {
            let joined_before = conv.is_participant(&env.actor.id);
            let read_before = conv.read_points.get(&env.actor.id).map_or(0, |p| p.seq);
            if joined_before && r.up_to_seq <= read_before {
                return Ok(Outcome::Skipped("already read"));
            }
            if !admit_actor(conv, &env.actor, at) {
                return Ok(Outcome::Skipped("reader is not a participant"));
            }
            advance_read(views, conv, &env.actor.id, r.up_to_seq, at)?;
            Ok(Outcome::Applied)
        })?,
        Event::ConversationStatusChanged(s) => {
            with_conversation(views, env, seq, |views, conv| {
                if conv.status == s.to {
                    return Ok(Outcome::Skipped("status unchanged"));
                }
                set_status(views, conv, s.to, at)?;
                conv.updated_at = at;
                Ok(Outcome::Applied)
            })?
        }
        Event::AdminBroadcast(_) => {
            let mut stats = views.stats()?;
            stats.broadcasts += 1;
            views.put_stats(&stats);
            Outcome::Applied
        }
        Event::TypingStarted(_) | Event::TypingStopped(_) => {
            Outcome::Skipped("typing is not folded")
        }
        Event::NoteAdded(_)
        | Event::NoteEdited(_)
        | Event::NoteDeleted(_)
        | Event::ConversationAssigned(_)
        | Event::ConversationSnoozed(_)
        | Event::ConversationWoken(_)
        | Event::ConversationLabeled(_)
        | Event::ConversationPrioritized(_)
        | Event::ConversationRated(_)
        | Event::CannedReplySaved(_)
        | Event::CannedReplyDeleted(_) => inbox::apply(views, seq, env)?,
    })
}

/// Runs `f` on the event's conversation and stores it (with `last_seq`) when `f` applied something.
pub(crate) fn with_conversation<K: Kv>(
    views: &mut Views<K>,
    env: &Envelope,
    seq: u64,
    f: impl FnOnce(&mut Views<K>, &mut ConversationView) -> Result<Outcome, StoreError>,
) -> Result<Outcome, StoreError> {
    let conv = match env.conversation_id.as_deref() {
        Some(id) => views.conversation(id)?,
        None => None,
    };
    let Some(mut conv) = conv else {
        return Ok(Outcome::Skipped("unknown conversation"));
    };
    let participants_before = conv.participants.len();
    let outcome = f(views, &mut conv)?;
    if outcome == Outcome::Applied {
        for p in &conv.participants[participants_before..] {
            views.put_participation(&p.user_id, &conv.id);
        }
        conv.last_seq = seq;
        views.put_conversation(&conv)?;
    }
    Ok(outcome)
}

fn join(conv: &mut ConversationView, user_id: &str, role: Role, name: &str, at: Timestamp) {
    if conv.is_participant(user_id) {
        return;
    }
    // Nothing is read yet: every live message of others is unread (a new participant has sent none).
    conv.unread.insert(user_id.to_string(), conv.live_count);
    conv.participants.push(ParticipantView {
        user_id: user_id.to_string(),
        role,
        name: name.to_string(),
        joined_at: at,
    });
}

/// Admits the actor of a send or read: participants are in, an admin joins, anyone else is out.
fn admit_actor(conv: &mut ConversationView, actor: &Actor, at: Timestamp) -> bool {
    if conv.is_participant(&actor.id) {
        return true;
    }
    if actor.role != Role::Admin {
        return false;
    }
    let name = actor.name.clone().unwrap_or_else(|| actor.id.clone());
    join(conv, &actor.id, actor.role, &name, at);
    true
}

/// Moves the conversation to `to` at `at`: counts it, ends its snooze, and times a close (which
/// also ends the customer's wait).
pub(crate) fn set_status<K: Kv>(
    views: &mut Views<K>,
    conv: &mut ConversationView,
    to: Status,
    at: Timestamp,
) -> Result<(), StoreError> {
    let mut stats = views.stats()?;
    let from = stats.by_status_mut(conv.status);
    *from = from.saturating_sub(1);
    *stats.by_status_mut(to) += 1;
    views.put_stats(&stats);
    if let Some(until) = conv.snoozed_until.take() {
        views.set_timed(keys::snooze(until.millis(), &conv.id), false, None);
    }
    if to == Status::Closed && conv.status != Status::Closed {
        let ms = (at.millis() - conv.created_at.millis()).max(0);
        conv.resolution_ms = Some(ms);
        views.set_timed(keys::resolution(at.millis(), &conv.id), true, Some(ms));
        // Closed is resolved: nobody waits any more, answered or not.
        conv.waiting_since = None;
        if let (None, Some(asked)) = (conv.first_admin_reply_at, conv.first_customer_message_at) {
            views.set_timed(keys::unanswered(asked.millis(), &conv.id), false, None);
        }
    }
    conv.status = to;
    Ok(())
}

/// Moves `user`'s read point up to `up_to`: each newly covered message of others gets a receipt,
/// and the unread count becomes the live messages of others after the new point.
fn advance_read<K: Kv>(
    views: &mut Views<K>,
    conv: &mut ConversationView,
    user: &str,
    up_to: u64,
    at: Timestamp,
) -> Result<(), StoreError> {
    let old = conv.read_points.get(user).map_or(0, |r| r.seq);
    if up_to <= old {
        return Ok(());
    }
    // Messages after the old point get receipts; there are none when it was already at the end.
    if old < conv.last_message_seq {
        views.update_messages(conv, old, up_to.saturating_add(1), &mut |m| {
            // A note is unread for nobody, so nobody's read covers it: it takes no receipts.
            if m.sender == user || m.internal || m.read_by.iter().any(|r| r.user == user) {
                return false;
            }
            m.read_by.push(ReadReceipt {
                user: user.to_string(),
                read_at: at,
            });
            true
        })?;
    }
    conv.read_points
        .insert(user.to_string(), ReadPoint { seq: up_to, at });
    let mut unread = 0;
    if up_to < conv.last_message_seq {
        views.visit_messages(&conv.id, up_to, u64::MAX, false, &mut |m| {
            if !m.is_deleted && !m.internal && m.sender != user {
                unread += 1;
            }
            true
        })?;
    }
    conv.unread.insert(user.to_string(), unread);
    Ok(())
}

pub(crate) fn message_in<K: Kv>(
    views: &Views<K>,
    conv: &ConversationView,
    message_id: &str,
) -> Result<Option<MessageView>, StoreError> {
    match views.locate(message_id)? {
        Some((cid, seq)) if cid == conv.id => views.message_in(conv, seq),
        _ => Ok(None),
    }
}

fn newest_live_message<K: Kv>(
    views: &Views<K>,
    conversation_id: &str,
    before: u64,
) -> Result<Option<LastMessage>, StoreError> {
    let mut found = None;
    views.visit_messages(conversation_id, 0, before, true, &mut |m| {
        if m.is_deleted || m.internal {
            return true;
        }
        found = Some(last_message(&m));
        false
    })?;
    Ok(found)
}

pub(crate) fn last_message(m: &MessageView) -> LastMessage {
    LastMessage {
        id: m.id.clone(),
        content: m.content.chars().take(LAST_MESSAGE_CHARS).collect(),
        sender: m.sender.clone(),
        message_type: m.message_type,
        timestamp: m.created_at,
        seq: m.seq,
    }
}
