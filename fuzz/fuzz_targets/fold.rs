//! The fold, `concierge_projections::apply`: the only code that changes a view, run by every node
//! over the whole log (and by history over a scratch store).
//!
//! The input is a structured log: a sequence of events of every type over a few bookings,
//! conversations, users and many message ids, so that the events meet each other (sends to
//! closed conversations, reactions on deleted messages, reads by admins who never joined, reused
//! ids and client keys, clocks that go backwards between nodes, gaps in `seq`). Each event is
//! encoded and decoded as the projection worker reads it, then folded into `Views<MemKv>` (views
//! stored as postcard bytes, as in sled). Checked, besides never panicking, after every event:
//! - each conversation's messages come in strictly increasing `seq`, and its counts agree with
//!   them (`message_count`, `live_count`, `lastMessage` the newest live message cut to 100
//!   characters);
//! - `unreadCounts` has exactly one key per participant, and each count is the number of live
//!   messages of others after that participant's read point (API.md's definition);
//! - every participant finds the conversation among their own (`conversations_of`);
//! - the stats agree with the conversations: statuses add up to the total, `totalMessages` is
//!   the number of live messages.
//!
//! Reads only go back to a `seq` already in the log (the server marks read up to the newest message
//! it has folded), so the generated logs are ones the server could have written.

#![no_main]

use concierge_events::{
    Actor, AdminBroadcast, Attachment, Audience, BookingRegistered, BookingSource,
    ConversationCreated, Empty, Envelope, Event, MessageDeleted, MessageEdited, MessageSent,
    MessageType, MessagesRead, ParticipantJoined, Reaction, Role, Status, StatusChanged, Timestamp,
};
use concierge_projections::fold::LAST_MESSAGE_CHARS;
use concierge_projections::{apply, MemKv, Views};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;

const USERS: [(&str, Role, Option<&str>); 5] = [
    ("cus_1", Role::Customer, Some("Ann")),
    ("cus_2", Role::Customer, None),
    ("adm_1", Role::Admin, Some("Bo")),
    ("adm_2", Role::Admin, None),
    ("platform", Role::Service, None),
];
const BOOKINGS: [&str; 3] = ["bk_1", "bk_2", "bk.3"];
const CONVERSATIONS: [&str; 3] = [
    "01JDQ7X0S9G1W7V8M2K3Z4Y5AB",
    "01JDQ7X0S9G1W7V8M2K3Z4Y5AC",
    "01JDQ7X0S9G1W7V8M2K3Z4Y5AD",
];
const EMOJI: [&str; 4] = ["👍", "❤️", "a", "👨‍👩‍👧"];
const STATUSES: [Status; 3] = [Status::Active, Status::Archived, Status::Closed];
const TYPES: [MessageType; 4] = [
    MessageType::Text,
    MessageType::Image,
    MessageType::File,
    MessageType::System,
];
/// 2026-11-24T10:15:00Z: where the log's clock starts.
const START_MS: i64 = 1_795_601_700_000;

#[derive(Arbitrary, Debug)]
struct Step {
    actor: u8,
    conversation: u8,
    /// Milliseconds since the previous event; negative when nodes' clocks disagree.
    at_delta: i16,
    /// Log entries between the previous event and this one that are not folded here.
    seq_gap: u8,
    op: Op,
}

#[derive(Arbitrary, Debug)]
enum Op {
    Register {
        booking: u8,
        customer: u8,
        title: Option<String>,
        by_token: bool,
    },
    Create {
        booking: u8,
        title: String,
        participants: Vec<u8>,
    },
    Join {
        user: u8,
    },
    Send {
        message: u8,
        content: String,
        message_type: u8,
        attachments: u8,
        reply_to: Option<u8>,
        client_key: Option<u8>,
    },
    /// `count` sends in a row from the same sender (fills and seals message chunks).
    Burst {
        first: u8,
        count: u8,
        content: String,
    },
    Edit {
        message: u8,
        content: String,
    },
    Delete {
        message: u8,
    },
    React {
        message: u8,
        emoji: u8,
        add: bool,
    },
    /// Reads up to `back` entries before this event.
    Read {
        back: u8,
    },
    Status {
        from: u8,
        to: u8,
    },
    Broadcast {
        content: String,
    },
    Typing {
        start: bool,
    },
}

fn pick<T: Copy>(items: &[T], i: impl Into<usize>) -> T {
    items[i.into() % items.len()]
}

/// One of 64 message ids (few enough that edits, deletes, reactions and replies find the sends),
/// each a ULID; they share their first 10 characters (one id bucket) in groups.
fn message_id(i: u8) -> String {
    let i = i % 64;
    format!("01JDQ{:05}{:016}", i % 7, i)
}

/// The events of one step: one, or several for a burst.
fn events(op: Op, sent: &[String]) -> Vec<Event> {
    // Edits, deletes, reactions and replies mostly name a message sent before (0: the newest).
    let earlier = |i: u8| match sent.len() {
        0 => message_id(i),
        n => sent[n - 1 - usize::from(i) % n].clone(),
    };
    let one = match op {
        Op::Burst {
            first,
            count,
            content,
        } => {
            return (0..count % 48 + 1)
                .map(|i| {
                    Event::MessageSent(MessageSent {
                        message_id: message_id(first.wrapping_add(i)),
                        content: content.repeat(usize::from(i % 3)),
                        message_type: MessageType::Text,
                        attachments: Vec::new(),
                        reply_to: None,
                        client_message_id: None,
                    })
                })
                .collect()
        }
        Op::Register {
            booking,
            customer,
            title,
            by_token,
        } => Event::BookingRegistered(BookingRegistered {
            booking_id: pick(&BOOKINGS, booking).into(),
            customer_id: pick(&USERS, customer).0.into(),
            title,
            source: if by_token {
                BookingSource::Token
            } else {
                BookingSource::Api
            },
        }),
        Op::Create {
            booking,
            title,
            participants,
        } => Event::ConversationCreated(ConversationCreated {
            booking_id: pick(&BOOKINGS, booking).into(),
            title,
            participants: participants
                .into_iter()
                .map(|u| participant(pick(&USERS, u)))
                .collect(),
        }),
        Op::Join { user } => Event::ParticipantJoined(participant(pick(&USERS, user))),
        Op::Send {
            message,
            content,
            message_type,
            attachments,
            reply_to,
            client_key,
        } => Event::MessageSent(MessageSent {
            message_id: message_id(message),
            content,
            message_type: pick(&TYPES, message_type),
            attachments: (0..attachments % 3)
                .map(|i| Attachment {
                    url: format!("https://files.example/{i}"),
                    filename: format!("f{i}.pdf"),
                    mimetype: "application/pdf".into(),
                    size: u64::from(i) * 1000,
                })
                .collect(),
            reply_to: reply_to.map(earlier),
            client_message_id: client_key.map(|k| format!("k-{}", k % 4)),
        }),
        Op::Edit { message, content } => Event::MessageEdited(MessageEdited {
            message_id: earlier(message),
            content,
        }),
        Op::Delete { message } => Event::MessageDeleted(MessageDeleted {
            message_id: earlier(message),
        }),
        Op::React {
            message,
            emoji,
            add,
        } => {
            let r = Reaction {
                message_id: earlier(message),
                emoji: pick(&EMOJI, emoji).into(),
            };
            if add {
                Event::ReactionAdded(r)
            } else {
                Event::ReactionRemoved(r)
            }
        }
        // Filled in by the caller, which knows the log's sequence.
        Op::Read { .. } => Event::MessagesRead(MessagesRead { up_to_seq: 0 }),
        Op::Status { from, to } => Event::ConversationStatusChanged(StatusChanged {
            from: pick(&STATUSES, from),
            to: pick(&STATUSES, to),
        }),
        Op::Broadcast { content } => Event::AdminBroadcast(AdminBroadcast {
            content,
            audience: Audience::All,
        }),
        Op::Typing { start: true } => Event::TypingStarted(Empty {}),
        Op::Typing { start: false } => Event::TypingStopped(Empty {}),
    };
    vec![one]
}

fn participant((id, role, name): (&str, Role, Option<&str>)) -> ParticipantJoined {
    ParticipantJoined {
        user_id: id.into(),
        role,
        name: name.unwrap_or(id).into(),
    }
}

fuzz_target!(|steps: Vec<Step>| {
    let mut views = Views::new(MemKv::default());
    let mut seq = 0u64;
    let mut at = START_MS;
    let mut n = 0u64;
    let mut sent = Vec::new();
    for step in steps {
        let (id, role, name) = pick(&USERS, step.actor);
        let back = match step.op {
            Op::Read { back } => Some(u64::from(back)),
            _ => None,
        };
        seq += u64::from(step.seq_gap % 4);
        at += i64::from(step.at_delta);
        for mut e in events(step.op, &sent) {
            seq += 1;
            at += 1;
            n += 1;
            match (&mut e, back) {
                (Event::MessagesRead(r), Some(back)) => {
                    r.up_to_seq = (seq - 1).saturating_sub(back);
                }
                (Event::MessageSent(m), _) => sent.push(m.message_id.clone()),
                _ => {}
            }
            let in_conversation =
                !matches!(e, Event::BookingRegistered(_) | Event::AdminBroadcast(_));
            let envelope = Envelope::new(
                format!("01JDQ9{n:020}"),
                Timestamp(at),
                Actor {
                    id: id.into(),
                    role,
                    name: name.map(Into::into),
                },
                in_conversation.then(|| pick(&CONVERSATIONS, step.conversation).into()),
                e,
            );
            let read = Envelope::decode(&envelope.encode())
                .expect("an event the server writes decodes")
                .expect("an event of this version is known");
            apply(&mut views, seq, &read).expect("reads of memory do not fail");
            check(&views);
        }
    }
});

fn check(views: &Views<MemKv>) {
    let mut live_total = 0;
    for id in CONVERSATIONS {
        let Some(conv) = views.conversation(id).expect("views decode") else {
            continue;
        };
        let messages = views
            .messages(id, 0, u64::MAX, false, usize::MAX)
            .expect("messages decode");
        assert!(
            messages.windows(2).all(|w| w[0].seq < w[1].seq),
            "messages out of order"
        );
        assert!(messages.iter().all(|m| m.conversation_id == id));
        let live: Vec<_> = messages.iter().filter(|m| !m.is_deleted).collect();
        assert_eq!(conv.message_count, messages.len() as u64);
        assert_eq!(conv.live_count, live.len() as u64);
        live_total += conv.live_count;
        match (&conv.last_message, live.last()) {
            (None, None) => {}
            (Some(last), Some(newest)) => {
                assert_eq!(last.id, newest.id);
                let cut: String = newest.content.chars().take(LAST_MESSAGE_CHARS).collect();
                assert_eq!(last.content, cut);
            }
            (last, newest) => panic!("lastMessage {last:?}, newest live message {newest:?}"),
        }
        let participants: BTreeSet<&str> = conv
            .participants
            .iter()
            .map(|p| p.user_id.as_str())
            .collect();
        assert_eq!(
            participants.len(),
            conv.participants.len(),
            "a participant twice"
        );
        let keys: BTreeSet<&str> = conv.unread.keys().map(String::as_str).collect();
        assert_eq!(keys, participants, "unreadCounts keys");
        for user in participants {
            let read = conv.read_points.get(user).map_or(0, |r| r.seq);
            let unread = live
                .iter()
                .filter(|m| m.sender != user && m.seq > read)
                .count() as u64;
            assert_eq!(conv.unread[user], unread, "unread count of {user}");
            assert!(
                views
                    .conversations_of(user)
                    .expect("participations read")
                    .iter()
                    .any(|c| c == id),
                "{user} does not find {id}"
            );
        }
    }
    let stats = views.stats().expect("stats decode");
    assert_eq!(
        stats.active + stats.archived + stats.closed,
        stats.total_conversations
    );
    assert_eq!(stats.total_messages, live_total, "totalMessages");
}
