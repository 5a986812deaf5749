//! One sample event of each type (their times tell one story: a booking, its conversation, a message
//! and what happened to it): the examples of docs/events.md are these, encoded, and the schema tests
//! validate them.

use concierge_events::{
    Actor, AdminBroadcast, Attachment, Audience, BookingRegistered, BookingSource,
    ConversationCreated, Empty, Envelope, Event, MessageDeleted, MessageEdited, MessageSent,
    MessageType, MessagesRead, ParticipantJoined, Reaction, Role, Status, StatusChanged, Timestamp,
};

const CONVERSATION: &str = "01JDQ7X0S9G1W7V8M2K3Z4Y5AB";
const MESSAGE: &str = "01JDQ80AHS2Z6M4VB8Y1RT3KM1";

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
    ]
}
