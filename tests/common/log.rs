//! Writing events straight into the log, as another node would: for races the log must settle (a
//! send ordered after a close) and for state set up without going through the node under test.

#![allow(dead_code)]
use concierge_events::{
    subject, Actor, AdminBroadcast, Audience, Envelope, Event, MessageDeleted, Role, Status,
    StatusChanged, Timestamp,
};
use std::time::Duration;

/// Publishes `event` about a conversation to the log and returns its sequence.
pub async fn append(nats_url: &str, conversation_id: &str, actor: Actor, event: Event) -> u64 {
    let subject = subject::conversation(conversation_id);
    publish(nats_url, subject, Some(conversation_id), actor, event).await
}

/// Publishes an admin broadcast (route 13's event) and returns its sequence.
pub async fn broadcast(nats_url: &str, admin_id: &str, content: &str, audience: Audience) -> u64 {
    let event = Event::AdminBroadcast(AdminBroadcast {
        content: content.into(),
        audience,
    });
    let subject = subject::BROADCAST.to_string();
    publish(nats_url, subject, None, admin(admin_id), event).await
}

/// Publishes `event` about a conversation with the given `at` (a scripted history) and returns its
/// sequence.
pub async fn append_at(
    nats_url: &str,
    conversation_id: &str,
    actor: Actor,
    event: Event,
    at: Timestamp,
) -> u64 {
    let subject = subject::conversation(conversation_id);
    publish_at(nats_url, subject, Some(conversation_id), actor, event, at).await
}

/// Writes a `booking_registered` of `booking` for `customer_id` (by the platform, 1 ms before `at`)
/// and the `conversation_created` of its conversation at `at`, with a new conversation id; returns
/// that id. Both carry scripted times, so history (route 15) at any moment from `at` on finds them.
pub async fn create_conversation_at(
    nats_url: &str,
    booking: &str,
    customer_id: &str,
    at: Timestamp,
) -> String {
    let registered = Event::BookingRegistered(concierge_events::BookingRegistered {
        booking_id: booking.into(),
        customer_id: customer_id.into(),
        title: None,
        source: concierge_events::BookingSource::Api,
    });
    let platform = Actor {
        id: "booking-platform".into(),
        role: Role::Service,
        name: None,
    };
    publish_at(
        nats_url,
        subject::booking(booking),
        None,
        platform,
        registered,
        Timestamp(at.millis() - 1),
    )
    .await;
    let id = ulid::Ulid::new().to_string();
    let event = Event::ConversationCreated(concierge_events::ConversationCreated {
        booking_id: booking.into(),
        title: format!("Booking {booking}"),
        participants: vec![concierge_events::ParticipantJoined {
            user_id: customer_id.into(),
            role: Role::Customer,
            name: customer_id.into(),
        }],
    });
    append_at(nats_url, &id, customer(customer_id), event, at).await;
    id
}

/// The sequence of the last event in the whole log (0 when empty): for checks that a request
/// wrote nothing anywhere.
pub async fn last_seq(nats_url: &str) -> u64 {
    let client = async_nats::connect(nats_url)
        .await
        .expect("connect to nats");
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream("CONCIERGE").await.expect("stream");
    stream
        .info()
        .await
        .expect("stream info")
        .state
        .last_sequence
}

async fn publish(
    nats_url: &str,
    subject: String,
    conversation_id: Option<&str>,
    actor: Actor,
    event: Event,
) -> u64 {
    publish_at(
        nats_url,
        subject,
        conversation_id,
        actor,
        event,
        Timestamp::now(),
    )
    .await
}

async fn publish_at(
    nats_url: &str,
    subject: String,
    conversation_id: Option<&str>,
    actor: Actor,
    event: Event,
    at: Timestamp,
) -> u64 {
    let client = async_nats::connect(nats_url)
        .await
        .expect("connect to nats");
    let js = async_nats::jetstream::new(client);
    let env = Envelope::new(
        ulid::Ulid::new().to_string(),
        at,
        actor,
        conversation_id.map(str::to_string),
        event,
    );
    let ack = js
        .publish(subject, env.encode().into())
        .await
        .expect("publish")
        .await
        .expect("ack");
    ack.sequence
}

/// Every event of a conversation in the log, oldest first, as stored (JSON).
pub async fn events(nats_url: &str, conversation_id: &str) -> Vec<serde_json::Value> {
    let client = async_nats::connect(nats_url)
        .await
        .expect("connect to nats");
    let js = async_nats::jetstream::new(client);
    let stream = js.get_stream("CONCIERGE").await.expect("stream");
    let info = stream.get_info().await.expect("stream info");
    let wanted = subject::conversation(conversation_id);
    let mut out = Vec::new();
    for seq in info.state.first_sequence.max(1)..=info.state.last_sequence {
        let Ok(msg) = stream.get_raw_message(seq).await else {
            continue;
        };
        if msg.subject.as_str() == wanted {
            out.push(serde_json::from_slice(&msg.payload).expect("events are JSON"));
        }
    }
    out
}

pub fn admin(id: &str) -> Actor {
    Actor {
        id: id.into(),
        role: Role::Admin,
        name: None,
    }
}

pub fn customer(id: &str) -> Actor {
    Actor {
        id: id.into(),
        role: Role::Customer,
        name: None,
    }
}

/// An admin changes a conversation's status (route 11's event).
pub async fn set_status(
    nats_url: &str,
    conversation_id: &str,
    admin_id: &str,
    from: Status,
    to: Status,
) -> u64 {
    append(
        nats_url,
        conversation_id,
        admin(admin_id),
        Event::ConversationStatusChanged(StatusChanged { from, to }),
    )
    .await
}

/// `actor` soft-deletes a message (route 9's event).
pub async fn delete_message(
    nats_url: &str,
    conversation_id: &str,
    actor: Actor,
    message_id: &str,
) -> u64 {
    append(
        nats_url,
        conversation_id,
        actor,
        Event::MessageDeleted(MessageDeleted {
            message_id: message_id.into(),
        }),
    )
    .await
}

/// Polls `check` until it holds (10 s at most).
pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not happen within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Changes a conversation's status through the log as route 11 would (an admin `adm_status`), and
/// waits until the app has folded it.
pub async fn change_status(app: &super::App, conversation_id: &str, to: &str) {
    let url = super::conv_url(app, conversation_id);
    let current = super::get(&url, &super::admin("adm_status")).await.1["data"]["status"].clone();
    let from = Status::parse(current.as_str().expect("a status")).expect("a known status");
    let to_status = Status::parse(to).expect("a known status");
    set_status(
        app.nats_url(),
        conversation_id,
        "adm_status",
        from,
        to_status,
    )
    .await;
    eventually("the status change to be folded", || async {
        super::get(&url, &super::admin("adm_status")).await.1["data"]["status"] == to
    })
    .await;
}
