//! An example consumer of Concierge's event stream: per conversation, the first-response time and the
//! resolution time, as docs/events.md defines them.
//!
//! # Layout
//! - [`ResponseTimes`]: the pure computation. It is fed events in log order with their `seq`, skips
//!   what it has already folded, and serializes as the state a consumer keeps between runs.
//! - [`durable_consumer`], [`consume_available`], [`consume_batch`]: reading the `CONCIERGE` stream
//!   with a durable pull consumer, acking each batch only after the caller has stored the state.

use async_nats::jetstream::{self, consumer::PullConsumer};
use concierge_events::{DecodeError, Envelope, Event, Role, Status, Timestamp};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How many messages one fetch asks for.
const BATCH: usize = 512;

/// What the computation knows of one conversation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conversation {
    pub booking_id: String,
    pub created_at: Timestamp,
    pub status: Status,
    pub first_customer_message_at: Option<Timestamp>,
    /// The first admin message after the first customer message.
    pub first_admin_reply_at: Option<Timestamp>,
    /// The `at` of the close that resolved it; `None` while it is not closed (a reopen clears it).
    pub closed_at: Option<Timestamp>,
}

impl Conversation {
    /// Milliseconds from the first customer message to the first admin reply, when both exist.
    pub fn first_response_ms(&self) -> Option<i64> {
        let (asked, answered) = (self.first_customer_message_at?, self.first_admin_reply_at?);
        Some((answered.millis() - asked.millis()).max(0))
    }

    /// Milliseconds from creation to the close that resolved it, while it is closed.
    pub fn resolution_ms(&self) -> Option<i64> {
        Some((self.closed_at?.millis() - self.created_at.millis()).max(0))
    }
}

/// What folding one event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Folded {
    /// Its `seq` was already folded (a redelivery): nothing changed.
    Repeated,
    /// Nothing tracked changed: another kind of event, an unknown type or version, or a send the
    /// server skips.
    Nothing,
    /// This conversation's record changed.
    Conversation(String),
}

/// One conversation's times, as printed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub conversation_id: String,
    pub booking_id: String,
    pub status: Status,
    pub created_at: Timestamp,
    pub first_response_seconds: Option<f64>,
    pub resolution_seconds: Option<f64>,
}

/// The averages over all conversations folded so far.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub conversations: usize,
    /// Conversations with a first response, and the mean of their first-response times.
    pub first_responses: usize,
    pub avg_first_response_seconds: Option<f64>,
    /// Conversations closed now, and the mean of their resolution times.
    pub resolved: usize,
    pub avg_resolution_seconds: Option<f64>,
    pub last_seq: u64,
}

/// Per-conversation first-response and resolution times, folded from the log in order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseTimes {
    /// The `seq` of the last event folded; events at or below it are skipped, so a redelivery after
    /// a crash between storing the state and acking is not counted twice.
    last_seq: u64,
    conversations: BTreeMap<String, Conversation>,
    /// Bookings that have a conversation: the server skips a later `conversation_created` for them.
    bookings: BTreeSet<String>,
}

impl ResponseTimes {
    pub fn new() -> ResponseTimes {
        ResponseTimes::default()
    }

    /// The `seq` of the last event folded (0 before any).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    pub fn conversation(&self, id: &str) -> Option<&Conversation> {
        self.conversations.get(id)
    }

    /// Folds the payload of the message at `seq`. Events this schema does not know (another type
    /// or version) are skipped.
    ///
    /// # Errors
    /// A payload that is not an event; its `seq` still counts as folded, so it is skipped for good.
    pub fn fold_payload(&mut self, seq: u64, payload: &[u8]) -> Result<Folded, DecodeError> {
        if seq <= self.last_seq {
            return Ok(Folded::Repeated);
        }
        match Envelope::decode(payload) {
            Ok(Some(event)) => Ok(self.fold(seq, &event)),
            Ok(None) => {
                self.last_seq = seq;
                Ok(Folded::Nothing)
            }
            Err(e) => {
                self.last_seq = seq;
                Err(e)
            }
        }
    }

    /// Folds the event at `seq`; events must come in log order.
    pub fn fold(&mut self, seq: u64, event: &Envelope) -> Folded {
        if seq <= self.last_seq {
            return Folded::Repeated;
        }
        self.last_seq = seq;
        let Some(id) = event.conversation_id.as_deref() else {
            return Folded::Nothing;
        };
        let at = event.at;
        let changed = match &event.event {
            Event::ConversationCreated(created) => {
                if self.conversations.contains_key(id)
                    || !self.bookings.insert(created.booking_id.clone())
                {
                    return Folded::Nothing;
                }
                self.conversations.insert(
                    id.to_string(),
                    Conversation {
                        booking_id: created.booking_id.clone(),
                        created_at: at,
                        status: Status::Active,
                        first_customer_message_at: None,
                        first_admin_reply_at: None,
                        closed_at: None,
                    },
                );
                true
            }
            Event::MessageSent(_) => {
                let Some(conv) = self.conversations.get_mut(id) else {
                    return Folded::Nothing;
                };
                // The server skips a send the log ordered after a close; a send reactivates an
                // archived conversation.
                if conv.status == Status::Closed {
                    return Folded::Nothing;
                }
                let reactivated = conv.status == Status::Archived;
                conv.status = Status::Active;
                let timed = match event.actor.role {
                    Role::Customer if conv.first_customer_message_at.is_none() => {
                        conv.first_customer_message_at = Some(at);
                        true
                    }
                    Role::Admin
                        if conv.first_admin_reply_at.is_none()
                            && conv.first_customer_message_at.is_some() =>
                    {
                        conv.first_admin_reply_at = Some(at);
                        true
                    }
                    _ => false,
                };
                timed || reactivated
            }
            Event::ConversationStatusChanged(change) => {
                let Some(conv) = self.conversations.get_mut(id) else {
                    return Folded::Nothing;
                };
                if conv.status == change.to {
                    return Folded::Nothing;
                }
                conv.status = change.to;
                conv.closed_at = (change.to == Status::Closed).then_some(at);
                true
            }
            _ => false,
        };
        if changed {
            Folded::Conversation(id.to_string())
        } else {
            Folded::Nothing
        }
    }

    /// One row per conversation, in conversation id order (ULIDs: creation order).
    pub fn rows(&self) -> Vec<Row> {
        self.conversations
            .iter()
            .map(|(id, conv)| row(id, conv))
            .collect()
    }

    /// The row of one conversation.
    pub fn row(&self, id: &str) -> Option<Row> {
        self.conversations.get(id).map(|conv| row(id, conv))
    }

    pub fn summary(&self) -> Summary {
        let mean = |times: Vec<i64>| {
            (!times.is_empty()).then(|| times.iter().sum::<i64>() as f64 / times.len() as f64 / 1e3)
        };
        let first: Vec<i64> = self
            .conversations
            .values()
            .filter_map(Conversation::first_response_ms)
            .collect();
        let resolution: Vec<i64> = self
            .conversations
            .values()
            .filter_map(Conversation::resolution_ms)
            .collect();
        Summary {
            conversations: self.conversations.len(),
            first_responses: first.len(),
            avg_first_response_seconds: mean(first),
            resolved: resolution.len(),
            avg_resolution_seconds: mean(resolution),
            last_seq: self.last_seq,
        }
    }
}

fn row(id: &str, conv: &Conversation) -> Row {
    let seconds = |ms: i64| ms as f64 / 1e3;
    Row {
        conversation_id: id.to_string(),
        booking_id: conv.booking_id.clone(),
        status: conv.status,
        created_at: conv.created_at,
        first_response_seconds: conv.first_response_ms().map(seconds),
        resolution_seconds: conv.resolution_ms().map(seconds),
    }
}

/// Why reading the stream stopped. Every variant leaves the consumer where the last stored state
/// says, so running again is safe.
#[derive(Debug, thiserror::Error)]
pub enum ConsumeError {
    #[error("stream {stream} is not available: {source}")]
    Stream {
        stream: String,
        #[source]
        source: jetstream::context::GetStreamError,
    },
    #[error("cannot create or bind the durable consumer {durable}: {source}")]
    Consumer {
        durable: String,
        #[source]
        source: jetstream::stream::ConsumerError,
    },
    #[error("fetching events failed: {0}")]
    Fetch(#[source] async_nats::Error),
    #[error("storing the state failed: {0}")]
    Persist(#[source] std::io::Error),
    #[error("acknowledging events failed: {0}")]
    Ack(#[source] async_nats::Error),
}

/// What a read did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Consumed {
    /// Messages delivered, redeliveries included.
    pub delivered: usize,
    /// Messages whose `seq` was new (the undecodable among them included).
    pub folded: usize,
    /// Payloads that were not events.
    pub undecodable: usize,
    /// Conversations whose record changed.
    pub changed: BTreeSet<String>,
}

impl Consumed {
    fn add(&mut self, other: Consumed) {
        self.delivered += other.delivered;
        self.folded += other.folded;
        self.undecodable += other.undecodable;
        self.changed.extend(other.changed);
    }
}

/// The durable pull consumer `durable` on `stream`: created (from the first event, ack-all) when it
/// does not exist, else bound as it is, so that it goes on from where it was acked.
///
/// # Errors
/// When the stream does not exist or JetStream refuses the consumer.
pub async fn durable_consumer(
    js: &jetstream::Context,
    stream: &str,
    durable: &str,
) -> Result<PullConsumer, ConsumeError> {
    let log = js
        .get_stream(stream)
        .await
        .map_err(|source| ConsumeError::Stream {
            stream: stream.to_string(),
            source,
        })?;
    log.get_or_create_consumer(
        durable,
        jetstream::consumer::pull::Config {
            durable_name: Some(durable.to_string()),
            description: Some("concierge-analytics-example".into()),
            deliver_policy: jetstream::consumer::DeliverPolicy::All,
            ack_policy: jetstream::consumer::AckPolicy::All,
            ..Default::default()
        },
    )
    .await
    .map_err(|source| ConsumeError::Consumer {
        durable: durable.to_string(),
        source,
    })
}

/// Fetches one batch (at once with what is there, or waiting up to `wait` for a full one), folds it,
/// calls `persist` with the new state, then acks the batch.
///
/// # Errors
/// A [`ConsumeError`]; events folded before it are in `times` but were not acked, so they come again
/// and are skipped by `seq`.
pub async fn consume_batch(
    consumer: &PullConsumer,
    times: &mut ResponseTimes,
    wait: Option<Duration>,
    persist: &mut impl FnMut(&ResponseTimes) -> std::io::Result<()>,
) -> Result<Consumed, ConsumeError> {
    let fetched = match wait {
        None => consumer.fetch().max_messages(BATCH).messages().await,
        Some(wait) => {
            consumer
                .batch()
                .max_messages(BATCH)
                .expires(wait)
                .messages()
                .await
        }
    };
    let mut batch = fetched.map_err(|e| ConsumeError::Fetch(Box::new(e)))?;
    let mut consumed = Consumed::default();
    let mut last = None;
    while let Some(message) = batch.next().await {
        let message = message.map_err(ConsumeError::Fetch)?;
        let seq = message.info().map_err(ConsumeError::Fetch)?.stream_sequence;
        consumed.delivered += 1;
        match times.fold_payload(seq, &message.payload) {
            Ok(Folded::Repeated) => {}
            Ok(Folded::Nothing) => consumed.folded += 1,
            Ok(Folded::Conversation(id)) => {
                consumed.folded += 1;
                consumed.changed.insert(id);
            }
            Err(_) => {
                consumed.folded += 1;
                consumed.undecodable += 1;
            }
        }
        last = Some(message);
    }
    if let Some(last) = last {
        persist(times).map_err(ConsumeError::Persist)?;
        // Ack-all: acking the last message acks the batch. Waiting for the server's answer means a
        // consumer that exits right after does not get the batch again.
        last.double_ack().await.map_err(ConsumeError::Ack)?;
    }
    Ok(consumed)
}

/// Folds everything the consumer has not acked yet, batch by batch, and returns when nothing is left.
///
/// # Errors
/// As [`consume_batch`].
pub async fn consume_available(
    consumer: &PullConsumer,
    times: &mut ResponseTimes,
    mut persist: impl FnMut(&ResponseTimes) -> std::io::Result<()>,
) -> Result<Consumed, ConsumeError> {
    let mut total = Consumed::default();
    loop {
        let consumed = consume_batch(consumer, times, None, &mut persist).await?;
        if consumed.delivered == 0 {
            return Ok(total);
        }
        total.add(consumed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concierge_events::{
        Actor, ConversationCreated, Empty, MessageSent, MessageType, MessagesRead, StatusChanged,
    };

    /// `secs` seconds after 2026-11-24T10:00:00Z.
    fn t(secs: f64) -> Timestamp {
        Timestamp(1_795_514_400_000 + (secs * 1e3) as i64)
    }

    fn actor(id: &str, role: Role) -> Actor {
        Actor {
            id: id.into(),
            role,
            name: None,
        }
    }

    fn event(conv: &str, who: Actor, at: f64, event: Event) -> Envelope {
        Envelope::new(
            format!("ev-{conv}-{at}"),
            t(at),
            who,
            Some(conv.into()),
            event,
        )
    }

    fn created(conv: &str, booking: &str, at: f64) -> Envelope {
        event(
            conv,
            actor("cus_1", Role::Customer),
            at,
            Event::ConversationCreated(ConversationCreated {
                booking_id: booking.into(),
                title: format!("Booking {booking}"),
                participants: vec![],
            }),
        )
    }

    fn sent(conv: &str, who: &str, role: Role, at: f64) -> Envelope {
        event(
            conv,
            actor(who, role),
            at,
            Event::MessageSent(MessageSent {
                message_id: format!("m-{conv}-{at}"),
                content: "hello".into(),
                message_type: MessageType::Text,
                attachments: vec![],
                reply_to: None,
                client_message_id: None,
            }),
        )
    }

    fn customer(conv: &str, at: f64) -> Envelope {
        sent(conv, "cus_1", Role::Customer, at)
    }

    fn admin(conv: &str, at: f64) -> Envelope {
        sent(conv, "adm_1", Role::Admin, at)
    }

    fn status(conv: &str, from: Status, to: Status, at: f64) -> Envelope {
        event(
            conv,
            actor("adm_1", Role::Admin),
            at,
            Event::ConversationStatusChanged(StatusChanged { from, to }),
        )
    }

    /// Folds `events` as the log's seq 1, 2, 3, …
    fn given(events: &[Envelope]) -> ResponseTimes {
        let mut times = ResponseTimes::new();
        for (i, e) in events.iter().enumerate() {
            assert_ne!(times.fold(i as u64 + 1, e), Folded::Repeated);
        }
        times
    }

    fn ms(times: &ResponseTimes, conv: &str) -> (Option<i64>, Option<i64>) {
        let c = times.conversation(conv).expect("a known conversation");
        (c.first_response_ms(), c.resolution_ms())
    }

    #[test]
    fn several_conversations_have_their_own_exact_times() {
        let times = given(&[
            created("a", "bk_a", 10.0),
            created("b", "bk_b", 20.0),
            customer("a", 30.0),
            customer("b", 31.0),
            customer("a", 35.0),
            admin("b", 41.25),
            admin("a", 105.5),
            admin("a", 200.0),
            status("a", Status::Active, Status::Closed, 610.0),
        ]);
        assert_eq!(ms(&times, "a"), (Some(75_500), Some(600_000)));
        assert_eq!(ms(&times, "b"), (Some(10_250), None));
        assert_eq!(
            times.summary(),
            Summary {
                conversations: 2,
                first_responses: 2,
                avg_first_response_seconds: Some(42.875),
                resolved: 1,
                avg_resolution_seconds: Some(600.0),
                last_seq: 9,
            }
        );
        assert_eq!(
            times.rows(),
            vec![
                Row {
                    conversation_id: "a".into(),
                    booking_id: "bk_a".into(),
                    status: Status::Closed,
                    created_at: t(10.0),
                    first_response_seconds: Some(75.5),
                    resolution_seconds: Some(600.0),
                },
                Row {
                    conversation_id: "b".into(),
                    booking_id: "bk_b".into(),
                    status: Status::Active,
                    created_at: t(20.0),
                    first_response_seconds: Some(10.25),
                    resolution_seconds: None,
                },
            ]
        );
    }

    #[test]
    fn a_conversation_without_an_admin_reply_has_no_first_response_and_is_left_out_of_the_mean() {
        let times = given(&[
            created("a", "bk_a", 0.0),
            customer("a", 5.0),
            admin("a", 65.0),
            created("b", "bk_b", 100.0),
            customer("b", 110.0),
            customer("b", 120.0),
            status("b", Status::Active, Status::Closed, 400.0),
        ]);
        assert_eq!(ms(&times, "b"), (None, Some(300_000)));
        let summary = times.summary();
        assert_eq!(
            (summary.first_responses, summary.avg_first_response_seconds),
            (1, Some(60.0))
        );
    }

    #[test]
    fn admin_messages_before_the_first_customer_message_are_no_reply() {
        let times = given(&[
            created("a", "bk_a", 0.0),
            admin("a", 1.0),
            customer("a", 10.0),
            admin("a", 12.5),
        ]);
        assert_eq!(ms(&times, "a"), (Some(2_500), None));
    }

    #[test]
    fn a_reopened_conversation_is_unresolved_until_it_closes_again() {
        let mut times = given(&[
            created("a", "bk_a", 100.0),
            status("a", Status::Active, Status::Closed, 400.0),
        ]);
        assert_eq!(ms(&times, "a"), (None, Some(300_000)));

        times.fold(3, &status("a", Status::Closed, Status::Active, 500.0));
        assert_eq!(ms(&times, "a"), (None, None));
        assert_eq!(times.summary().resolved, 0);

        times.fold(4, &status("a", Status::Active, Status::Archived, 600.0));
        assert_eq!(ms(&times, "a"), (None, None));
        times.fold(5, &status("a", Status::Archived, Status::Closed, 1_000.0));
        assert_eq!(ms(&times, "a"), (None, Some(900_000)));
        // Closing what is closed changes nothing: the resolution stays at the first close.
        assert_eq!(
            times.fold(6, &status("a", Status::Closed, Status::Closed, 2_000.0)),
            Folded::Nothing
        );
        assert_eq!(ms(&times, "a"), (None, Some(900_000)));
    }

    #[test]
    fn a_send_after_the_close_is_not_a_message() {
        let times = given(&[
            created("a", "bk_a", 0.0),
            status("a", Status::Active, Status::Closed, 10.0),
            customer("a", 20.0),
            status("a", Status::Closed, Status::Active, 30.0),
            customer("a", 40.0),
            admin("a", 45.0),
        ]);
        assert_eq!(
            times.conversation("a").unwrap().first_customer_message_at,
            Some(t(40.0))
        );
        assert_eq!(ms(&times, "a"), (Some(5_000), None));
    }

    #[test]
    fn a_second_conversation_for_a_booking_is_skipped_with_its_messages() {
        let times = given(&[
            created("a", "bk_a", 0.0),
            created("a2", "bk_a", 1.0),
            customer("a2", 2.0),
            customer("a", 3.0),
            admin("a", 4.0),
        ]);
        assert!(times.conversation("a2").is_none());
        assert_eq!(times.summary().conversations, 1);
        assert_eq!(ms(&times, "a"), (Some(1_000), None));
    }

    #[test]
    fn unknown_types_versions_and_other_events_are_ignored_but_move_the_seq() {
        let mut times = given(&[created("a", "bk_a", 0.0), customer("a", 10.0)]);
        let unknown = br#"{"v":1,"id":"x","type":"conversation_escalated","at":"2026-11-24T10:00:20.000Z","actor":{"id":"adm_1","role":"admin"},"conversationId":"a","data":{"stars":5}}"#;
        let newer = br#"{"v":2,"id":"y","type":"message_sent","at":"2026-11-24T10:00:21.000Z","actor":{"id":"adm_1","role":"admin"},"conversationId":"a","data":{}}"#;
        assert_eq!(times.fold_payload(3, unknown).unwrap(), Folded::Nothing);
        assert_eq!(times.fold_payload(4, newer).unwrap(), Folded::Nothing);
        assert!(times.fold_payload(5, b"not an event").is_err());
        let read = event(
            "a",
            actor("adm_1", Role::Admin),
            22.0,
            Event::MessagesRead(MessagesRead { up_to_seq: 2 }),
        );
        assert_eq!(
            times.fold_payload(6, &read.encode()).unwrap(),
            Folded::Nothing
        );
        let typing = event(
            "a",
            actor("adm_1", Role::Admin),
            23.0,
            Event::TypingStarted(Empty {}),
        );
        assert_eq!(times.fold(7, &typing), Folded::Nothing);
        assert_eq!(times.last_seq(), 7);
        assert_eq!(ms(&times, "a"), (None, None));

        assert_eq!(
            times.fold_payload(8, &admin("a", 30.0).encode()).unwrap(),
            Folded::Conversation("a".into())
        );
        assert_eq!(ms(&times, "a"), (Some(20_000), None));
    }

    #[test]
    fn redelivered_events_are_not_counted_twice() {
        let mut times = given(&[created("a", "bk_a", 0.0), customer("a", 10.0)]);
        assert_eq!(
            times.fold(3, &admin("a", 20.0)),
            Folded::Conversation("a".into())
        );
        let before = times.clone();
        assert_eq!(times.fold(2, &customer("a", 10.0)), Folded::Repeated);
        assert_eq!(
            times.fold_payload(3, &admin("a", 20.0).encode()).unwrap(),
            Folded::Repeated
        );
        assert_eq!(times, before);
    }

    #[test]
    fn the_state_survives_a_round_trip_through_json() {
        let times = given(&[
            created("a", "bk_a", 0.0),
            customer("a", 10.0),
            admin("a", 20.0),
            status("a", Status::Active, Status::Closed, 30.0),
        ]);
        let json = serde_json::to_string(&times).unwrap();
        let back: ResponseTimes = serde_json::from_str(&json).unwrap();
        assert_eq!(back, times);
        assert_eq!(back.last_seq(), 4);
    }
}
