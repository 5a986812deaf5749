//! One sample event of each type (their times tell one story: a booking, its conversation, a message
//! and what happened to it): the examples of docs/events.md are these, encoded, and the schema tests
//! validate them.

use concierge_events::{
    Actor, AdminBroadcast, Attachment, Audience, BookingRegistered, BookingSource,
    CannedReplyDeleted, CannedReplySaved, ConversationAssigned, ConversationCreated,
    ConversationLabeled, ConversationPrioritized, ConversationRated, ConversationSnoozed,
    ConversationWoken, Empty, Envelope, Event, MessageDeleted, MessageEdited, MessageSent,
    MessageType, MessagesRead, NoteAdded, ParticipantJoined, Priority, Reaction, Role, Status,
    StatusChanged, Timestamp,
};

const CONVERSATION: &str = "01JDQ7X0S9G1W7V8M2K3Z4Y5AB";
const MESSAGE: &str = "01JDQ80AHS2Z6M4VB8Y1RT3KM1";
const NOTE: &str = "01JDQ81B0C5D7E9F1G3H5J7K9M";

/// The node that writes a snooze's wake-up.
fn concierge() -> Actor {
    Actor {
        id: "concierge".into(),
        role: Role::Service,
        name: None,
    }
}

fn ann() -> Actor {
    Actor {
        id: "cus_7".into(),
        role: Role::Customer,
        name: Some("Ann".into()),
    }
}

fn bo() -> Actor {
    Actor {
        id: "adm_2".into(),
        role: Role::Admin,
        name: Some("Bo".into()),
    }
}

fn platform() -> Actor {
    Actor {
        id: "platform".into(),
        role: Role::Service,
        name: None,
    }
}

fn at(time: &str) -> Timestamp {
    Timestamp::parse(&format!("2026-11-24T{time}Z")).expect("a sample time")
}

fn sample(n: u32, time: &str, actor: Actor, in_conversation: bool, event: Event) -> Envelope {
    Envelope::new(
        format!("01JDQ80AHR7N3B5TQK9W2XG4{n:02}"),
        at(time),
        actor,
        in_conversation.then(|| CONVERSATION.to_string()),
        event,
    )
}

fn on_message(emoji: &str) -> Reaction {
    Reaction {
        message_id: MESSAGE.into(),
        emoji: emoji.into(),
    }
}

/// Every event type once, in the order of `KNOWN_TYPES`.
pub fn samples() -> Vec<Envelope> {
    vec![
        sample(
            1,
            "10:14:58.000",
            platform(),
            false,
            Event::BookingRegistered(BookingRegistered {
                booking_id: "bk_1042".into(),
                customer_id: "cus_7".into(),
                title: Some("Hotel Aurora, 3 nights".into()),
                source: BookingSource::Api,
            }),
        ),
        sample(
            2,
            "10:15:00.000",
            ann(),
            true,
            Event::ConversationCreated(ConversationCreated {
                booking_id: "bk_1042".into(),
                title: "Hotel Aurora, 3 nights".into(),
                participants: vec![ParticipantJoined {
                    user_id: "cus_7".into(),
                    role: Role::Customer,
                    name: "Ann".into(),
                }],
            }),
        ),
        sample(
            3,
            "10:16:02.480",
            bo(),
            true,
            Event::ParticipantJoined(ParticipantJoined {
                user_id: "adm_2".into(),
                role: Role::Admin,
                name: "Bo".into(),
            }),
        ),
        sample(
            4,
            "10:15:00.123",
            ann(),
            true,
            Event::MessageSent(MessageSent {
                message_id: MESSAGE.into(),
                content: "Can I check in early? Our confirmation:".into(),
                message_type: MessageType::Image,
                attachments: vec![
                    Attachment::external(
                        "https://files.example.com/bk_1042/confirmation.png".into(),
                        "confirmation.png".into(),
                        "image/png".into(),
                        48213,
                    ),
                    Attachment {
                        url: "/messaging/attachments/01JDQ7ZC4N8B2W5F0K3M6P9RTV".into(),
                        filename: "entrance.jpg".into(),
                        mimetype: "image/jpeg".into(),
                        size: 182_044,
                        id: Some("01JDQ7ZC4N8B2W5F0K3M6P9RTV".into()),
                        width: Some(1600),
                        height: Some(1200),
                        duration_ms: None,
                        thumbnail: true,
                    },
                ],
                reply_to: None,
                client_message_id: Some("m-1".into()),
            }),
        ),
        sample(
            5,
            "10:16:40.000",
            ann(),
            true,
            Event::MessageEdited(MessageEdited {
                message_id: MESSAGE.into(),
                content: "Can I check in early, around 11:00? Our confirmation:".into(),
            }),
        ),
        sample(
            6,
            "10:17:05.250",
            ann(),
            true,
            Event::MessageDeleted(MessageDeleted {
                message_id: MESSAGE.into(),
            }),
        ),
        sample(
            7,
            "10:16:10.004",
            bo(),
            true,
            Event::ReactionAdded(on_message("👍")),
        ),
        sample(
            8,
            "10:16:12.310",
            bo(),
            true,
            Event::ReactionRemoved(on_message("👍")),
        ),
        sample(
            9,
            "10:16:02.517",
            bo(),
            true,
            Event::MessagesRead(MessagesRead { up_to_seq: 4 }),
        ),
        sample(
            10,
            "10:20:31.900",
            bo(),
            true,
            Event::ConversationStatusChanged(StatusChanged {
                from: Status::Active,
                to: Status::Closed,
            }),
        ),
        sample(
            11,
            "10:30:00.000",
            bo(),
            false,
            Event::AdminBroadcast(AdminBroadcast {
                content: "Maintenance tonight from 23:00 UTC.".into(),
                audience: Audience::All,
            }),
        ),
        sample(
            12,
            "10:16:20.000",
            bo(),
            true,
            Event::TypingStarted(Empty {}),
        ),
        sample(
            13,
            "10:16:24.500",
            bo(),
            true,
            Event::TypingStopped(Empty {}),
        ),
        sample(
            14,
            "10:15:40.000",
            bo(),
            true,
            Event::NoteAdded(NoteAdded {
                message_id: NOTE.into(),
                content: "@adm_3 she is a returning guest, room 12 is free from 10:00".into(),
                reply_to: Some(MESSAGE.into()),
                client_message_id: Some("n-1".into()),
                mentions: vec!["adm_3".into()],
            }),
        ),
        sample(
            15,
            "10:15:52.000",
            bo(),
            true,
            Event::NoteEdited(MessageEdited {
                message_id: NOTE.into(),
                content: "@adm_3 she is a returning guest, room 12 is free from 11:00".into(),
            }),
        ),
        sample(
            16,
            "10:21:00.000",
            bo(),
            true,
            Event::NoteDeleted(MessageDeleted {
                message_id: NOTE.into(),
            }),
        ),
        sample(
            17,
            "10:16:05.000",
            bo(),
            true,
            Event::ConversationAssigned(ConversationAssigned {
                from: None,
                to: Some("adm_2".into()),
            }),
        ),
        sample(
            18,
            "10:18:00.000",
            bo(),
            true,
            Event::ConversationSnoozed(ConversationSnoozed {
                from: Status::Active,
                until: at("10:19:00.000"),
            }),
        ),
        sample(
            19,
            "10:19:00.212",
            concierge(),
            true,
            Event::ConversationWoken(ConversationWoken {
                until: at("10:19:00.000"),
            }),
        ),
        sample(
            20,
            "10:16:07.000",
            bo(),
            true,
            Event::ConversationLabeled(ConversationLabeled {
                labels: vec!["early check-in".into(), "returning guest".into()],
            }),
        ),
        sample(
            21,
            "10:16:08.000",
            bo(),
            true,
            Event::ConversationPrioritized(ConversationPrioritized {
                from: Priority::Normal,
                to: Priority::High,
            }),
        ),
        sample(
            22,
            "10:22:10.000",
            ann(),
            true,
            Event::ConversationRated(ConversationRated {
                score: 5,
                comment: Some("Quick and kind, thank you!".into()),
            }),
        ),
        sample(
            23,
            "09:00:00.000",
            bo(),
            false,
            Event::CannedReplySaved(CannedReplySaved {
                shortcut: "early-checkin".into(),
                title: "Early check-in".into(),
                content: "Early check-in is possible from 11:00 when the room is ready.".into(),
            }),
        ),
        sample(
            24,
            "10:40:00.000",
            bo(),
            false,
            Event::CannedReplyDeleted(CannedReplyDeleted {
                shortcut: "early-checkin".into(),
            }),
        ),
    ]
}
