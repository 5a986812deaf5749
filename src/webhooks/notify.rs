//! Who is told what: the log read once for the cluster queues unread checks and the event feed;
//! each check, when due, becomes `notification.unread` for a person who has still not read.

use super::queue::{self, Delivery};
use super::{durable, Webhooks};
use crate::state::AppState;
use async_nats::jetstream::{self, consumer::pull, AckKind};
use concierge_events::{Envelope, Event, Role, Timestamp};
use concierge_projections::views::ConversationView;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;

/// The pause before a message is taken again when this node cannot judge it yet (its views behind
/// the log, presence not yet heard from the other nodes, NATS refusing a publish).
const NOT_YET: Duration = Duration::from_secs(1);

/// The log consumer: from the events written after it was first created (a node turning webhooks
/// on for the first time does not notify about history).
pub fn log_consumer() -> pull::Config {
    pull::Config {
        deliver_policy: jetstream::consumer::DeliverPolicy::New,
        ..durable(queue::LOG_CONSUMER, "", 10_000)
    }
}

/// The checks' consumer: each check waits, unacknowledged, until it is due, so the limit is high.
pub fn check_consumer() -> pull::Config {
    durable(queue::CHECK_CONSUMER, queue::CHECK_SUBJECT, 1_000_000)
}

/// "Has `user_id` read the message at `seq` of `conversation_id` yet?", asked `NOTIFY_AFTER_SECS`
/// after `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub conversation_id: String,
    pub user_id: String,
    pub seq: u64,
    pub at: Timestamp,
}

/// Handles one log event: the event feed's deliveries, and a check for each participant without a
/// live socket when a message reached them (never for an internal note: it is its own type).
pub async fn watch_log(
    app: AppState,
    hooks: Arc<Webhooks>,
    msg: jetstream::Message,
    _permit: OwnedSemaphorePermit,
) {
    let seq = match msg.info() {
        Ok(info) => info.stream_sequence,
        Err(_) => return finish(&msg, AckKind::Term).await,
    };
    let outcome = async {
        let Some(event) = decoded(&app, seq, &msg.payload)? else {
            return Ok(());
        };
        let event_type = event.event.event_type();
        if hooks.config.events.iter().any(|t| t == event_type) {
            feed(&hooks, seq, event_type, &msg.payload).await?;
        }
        queue_checks(&app, &event, seq).await
    };
    match outcome.await {
        Ok(()) => finish(&msg, AckKind::Ack).await,
        Err(NotYet(why)) => {
            tracing::debug!(seq, why, "webhooks: event taken again later");
            finish(&msg, AckKind::Nak(Some(NOT_YET))).await;
        }
    }
}

/// Why a message is taken again later.
struct NotYet(&'static str);

/// The event at `seq`, decoded as the projections decode it: `None` for one every projection
/// passes over; not yet for one this node cannot fold (a newer node, or the operator's skip,
/// decides it).
fn decoded(app: &AppState, seq: u64, payload: &[u8]) -> Result<Option<Envelope>, NotYet> {
    let level = app.progress.level();
    let none = std::collections::HashSet::new();
    match crate::projection::decode_entry(seq, payload, level, &none) {
        Ok(entry) => Ok(entry.event),
        Err(_) => {
            let skips = crate::projection::read_skips(&crate::projection::skip_file(
                &app.config.log.data_dir,
            ));
            match crate::projection::decode_entry(seq, payload, level, &skips) {
                Ok(entry) => Ok(entry.event),
                Err(_) => Err(NotYet("this node cannot fold the event")),
            }
        }
    }
}

/// Queues the event at `seq` to every endpoint, as the stored envelope with `seq`.
async fn feed(hooks: &Webhooks, seq: u64, event_type: &str, payload: &[u8]) -> Result<(), NotYet> {
    let Some(data) = crate::log::with_seq(seq, payload) else {
        return Ok(());
    };
    let now = Timestamp::now();
    let kind = format!("event.{event_type}");
    let body = body(&kind, now, &data);
    for url in &hooks.config.urls {
        let id = queue::delivery_id(&format!("event:{seq}"), url, now.millis());
        let delivery = Delivery {
            id: id.clone(),
            url: url.clone(),
            kind: kind.clone(),
            created_at: now,
            body: body.clone(),
        };
        // The msg id is the seq's, not the (time-stamped) delivery id's: taken again, the
        // event is queued again under the same one and JetStream drops it.
        hooks
            .queues
            .enqueue(
                &delivery,
                &format!("event.{seq}.{}", queue::endpoint_key(url)),
            )
            .await
            .map_err(|_| NotYet("the event feed's delivery was not queued"))?;
    }
    Ok(())
}

/// The body of every delivery, in this order: `{type, timestamp, data}`.
#[derive(Serialize)]
struct Body<'a, D: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    timestamp: Timestamp,
    data: &'a D,
}

fn body(kind: &str, at: Timestamp, data: &impl Serialize) -> Box<RawValue> {
    let text = serde_json::to_string(&Body {
        kind,
        timestamp: at,
        data,
    })
    .expect("a body always serializes");
    RawValue::from_string(text).expect("JSON text is a JSON value")
}

/// A check for each participant of the message's conversation, its sender aside, with no live
/// socket on any node now.
async fn queue_checks(app: &AppState, env: &Envelope, seq: u64) -> Result<(), NotYet> {
    let Event::MessageSent(_) = env.event else {
        return Ok(());
    };
    let Some(conversation_id) = env.conversation_id.as_deref() else {
        return Ok(());
    };
    let presence = &app.realtime.presence;
    if !presence.is_synced() {
        return Err(NotYet("presence has not heard the other nodes yet"));
    }
    if !app.progress.wait_folded(seq, Duration::from_secs(5)).await {
        return Err(NotYet("the views have not folded the message yet"));
    }
    let conversation = app
        .views
        .views()
        .conversation(conversation_id)
        .map_err(|_| NotYet("the views cannot be read"))?;
    let Some(conversation) = conversation else {
        return Ok(());
    };
    for p in &conversation.participants {
        if p.user_id == env.actor.id || presence.is_online(&p.user_id) {
            continue;
        }
        let check = Check {
            conversation_id: conversation_id.to_string(),
            user_id: p.user_id.clone(),
            seq,
            at: env.at,
        };
        let payload = serde_json::to_vec(&check).expect("a check always serializes");
        queue::publish(
            &app.log.jetstream(),
            queue::CHECK_SUBJECT.to_string(),
            payload,
            &format!("check.{seq}.{}", p.user_id),
        )
        .await
        .map_err(|_| NotYet("the check was not queued"))?;
    }
    Ok(())
}

/// Handles one check: waits until it is due, then queues `notification.unread` to every endpoint
/// when the person still has not read the message, is not online, and was not told since they last
/// read or were online.
pub async fn check(
    app: AppState,
    hooks: Arc<Webhooks>,
    msg: jetstream::Message,
    _permit: OwnedSemaphorePermit,
) {
    let Ok(check) = serde_json::from_slice::<Check>(&msg.payload) else {
        return finish(&msg, AckKind::Term).await;
    };
    let due = check.at.millis() + i64::try_from(hooks.config.notify_after.as_millis()).unwrap_or(0);
    let wait = due - Timestamp::now().millis();
    if wait > 0 {
        let wait = Duration::from_millis(u64::try_from(wait).unwrap_or(0));
        return finish(&msg, AckKind::Nak(Some(wait))).await;
    }
    match notify(&app, &hooks, &check).await {
        Ok(told) => {
            if told {
                tracing::debug!(user = %check.user_id, conversation = %check.conversation_id, "notification.unread queued");
            }
            finish(&msg, AckKind::Ack).await;
        }
        Err(NotYet(why)) => {
            tracing::debug!(why, "webhooks: check taken again later");
            finish(&msg, AckKind::Nak(Some(NOT_YET))).await;
        }
    }
}

/// What a due check decides, from the views and presence as they stand.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Read, deleted, left, or online: nobody to tell.
    Nothing,
    /// Tell them, once for this `episode` (their read point and when they were last online).
    Tell { episode: String },
}

/// Whether `check` calls for a notification, given the conversation now, whether the person is
/// online, and when they were last online.
pub fn decide(
    check: &Check,
    conversation: &ConversationView,
    online: bool,
    last_seen: Option<Timestamp>,
) -> Decision {
    if online || !conversation.is_participant(&check.user_id) {
        return Decision::Nothing;
    }
    let read = conversation
        .read_points
        .get(&check.user_id)
        .map_or(0, |r| r.seq);
    if read >= check.seq || conversation.unread_for(&check.user_id) == 0 {
        return Decision::Nothing;
    }
    let seen = last_seen.map_or(0, Timestamp::millis);
    Decision::Tell {
        episode: format!("{read}.{seen}"),
    }
}

/// Queues the notification `check` calls for; `Ok(true)` when one was queued now.
async fn notify(app: &AppState, hooks: &Webhooks, check: &Check) -> Result<bool, NotYet> {
    let presence = &app.realtime.presence;
    if !presence.is_synced() || !app.progress.is_ready() {
        return Err(NotYet("this node has not caught up yet"));
    }
    let views = app.views.views();
    let conversation = views
        .conversation(&check.conversation_id)
        .map_err(|_| NotYet("the views cannot be read"))?;
    let Some(conversation) = conversation else {
        return Ok(false);
    };
    let decision = decide(
        check,
        &conversation,
        presence.is_online(&check.user_id),
        presence.last_seen(&check.user_id),
    );
    let Decision::Tell { episode } = decision else {
        return Ok(false);
    };
    let key = record_key(&check.conversation_id, &check.user_id);
    let told = hooks
        .queues
        .notified
        .get(&key)
        .await
        .map_err(|_| NotYet("the notification records cannot be read"))?;
    if told.as_deref() == Some(episode.as_bytes()) {
        return Ok(false);
    }
    let Some(data) = unread(app, &conversation, &check.user_id)? else {
        return Ok(false);
    };
    let now = Timestamp::now();
    let body = body("notification.unread", now, &data);
    let source = format!(
        "unread:{}:{}:{episode}",
        check.conversation_id, check.user_id
    );
    for url in &hooks.config.urls {
        let id = queue::delivery_id(&source, url, now.millis());
        let delivery = Delivery {
            id,
            url: url.clone(),
            kind: "notification.unread".to_string(),
            created_at: now,
            body: body.clone(),
        };
        // Two nodes deciding one episode at once queue it under one msg id: JetStream keeps one.
        let msg_id = format!("{}.unread", queue::delivery_id(&source, url, 0));
        hooks
            .queues
            .enqueue(&delivery, &msg_id)
            .await
            .map_err(|_| NotYet("the notification was not queued"))?;
    }
    hooks
        .queues
        .notified
        .put(&key, episode.into_bytes().into())
        .await
        .map_err(|_| NotYet("the notification was not recorded"))?;
    metrics::counter!("concierge_webhook_notifications_total").increment(1);
    Ok(true)
}

/// The bucket key of `user_id`'s record in `conversation_id`: 32 hex digits of SHA-256 of both
/// (user ids may hold characters a key may not).
fn record_key(conversation_id: &str, user_id: &str) -> String {
    crate::log::hex_digest(&format!("{conversation_id}\n{user_id}"), 16)
}

/// `notification.unread`'s data.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Unread {
    pub user_id: String,
    pub role: Role,
    pub conversation_id: String,
    pub booking_id: String,
    pub unread_count: u64,
    pub first_unread_at: Timestamp,
    pub last_message: Preview,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    pub id: String,
    pub sender: String,
    pub sender_name: String,
    /// The first 100 characters, as the conversation list shows it.
    pub preview: String,
    pub timestamp: Timestamp,
}

/// What `user_id` has not read in `conversation`: their count, their oldest unread message from
/// someone else, and the conversation's last message (never a note: notes are not messages to them).
fn unread(
    app: &AppState,
    conversation: &ConversationView,
    user_id: &str,
) -> Result<Option<Unread>, NotYet> {
    let Some(participant) = conversation.participant(user_id) else {
        return Ok(None);
    };
    let Some(last) = conversation.last_message.as_ref() else {
        return Ok(None);
    };
    let read = conversation.read_points.get(user_id).map_or(0, |r| r.seq);
    let mut first_unread_at = None;
    app.views
        .views()
        .visit_messages(&conversation.id, read, u64::MAX, false, &mut |m| {
            if m.sender != user_id && !m.is_deleted && !m.internal {
                first_unread_at = Some(m.created_at);
                return false;
            }
            true
        })
        .map_err(|_| NotYet("the views cannot be read"))?;
    let Some(first_unread_at) = first_unread_at else {
        return Ok(None);
    };
    let sender_name = conversation
        .participant(&last.sender)
        .map_or_else(|| last.sender.clone(), |p| p.name.clone());
    Ok(Some(Unread {
        user_id: user_id.to_string(),
        role: participant.role,
        conversation_id: conversation.id.clone(),
        booking_id: conversation.booking_id.clone(),
        unread_count: conversation.unread_for(user_id),
        first_unread_at,
        last_message: Preview {
            id: last.id.clone(),
            sender: last.sender.clone(),
            sender_name,
            preview: last.content.clone(),
            timestamp: last.timestamp,
        },
    }))
}

/// Acknowledges `msg` as `kind`; a lost acknowledgement only means the message comes again.
async fn finish(msg: &jetstream::Message, kind: AckKind) {
    if let Err(e) = msg.ack_with(kind).await {
        tracing::debug!(error = %e, "webhooks: cannot acknowledge a message");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concierge_projections::views::{ParticipantView, ReadPoint};

    fn conversation(read: Option<u64>, unread: u64) -> ConversationView {
        let mut c = ConversationView {
            id: "c1".into(),
            booking_id: "b1".into(),
            title: "t".into(),
            participants: vec![ParticipantView {
                user_id: "cus_1".into(),
                role: Role::Customer,
                name: "Ann".into(),
                joined_at: Timestamp(1),
            }],
            status: concierge_events::Status::Active,
            created_at: Timestamp(1),
            updated_at: Timestamp(1),
            last_message: None,
            message_count: 3,
            live_count: 3,
            unread: [("cus_1".to_string(), unread)].into(),
            read_points: Default::default(),
            first_customer_message_at: None,
            first_admin_reply_at: None,
            last_message_seq: 9,
            last_seq: 9,
            chunk_start: 1,
            assignee: None,
            labels: vec![],
            priority: Default::default(),
            snoozed_until: None,
            waiting_since: None,
            resolution_ms: None,
            rating: None,
            note_count: 0,
        };
        if let Some(seq) = read {
            c.read_points.insert(
                "cus_1".into(),
                ReadPoint {
                    seq,
                    at: Timestamp(2),
                },
            );
        }
        c
    }

    fn check(seq: u64) -> Check {
        Check {
            conversation_id: "c1".into(),
            user_id: "cus_1".into(),
            seq,
            at: Timestamp(5),
        }
    }

    #[test]
    fn an_offline_participant_who_has_not_read_is_told_once_per_read_point_and_absence() {
        let c = conversation(Some(4), 2);
        assert_eq!(
            decide(&check(7), &c, false, Some(Timestamp(3))),
            Decision::Tell {
                episode: "4.3".into()
            }
        );
        // A later message of the same absence is the same episode: told once.
        assert_eq!(
            decide(&check(9), &c, false, Some(Timestamp(3))),
            decide(&check(7), &c, false, Some(Timestamp(3)))
        );
        // Back online and gone again: a new episode.
        assert_eq!(
            decide(&check(9), &c, false, Some(Timestamp(8))),
            Decision::Tell {
                episode: "4.8".into()
            }
        );
        assert_eq!(
            decide(&check(7), &conversation(None, 3), false, None),
            Decision::Tell {
                episode: "0.0".into()
            }
        );
    }

    #[test]
    fn nobody_is_told_who_read_is_online_left_or_has_nothing_unread() {
        assert_eq!(
            decide(&check(7), &conversation(Some(7), 0), false, None),
            Decision::Nothing
        );
        assert_eq!(
            decide(&check(7), &conversation(Some(8), 1), false, None),
            Decision::Nothing
        );
        assert_eq!(
            decide(&check(7), &conversation(Some(4), 2), true, None),
            Decision::Nothing
        );
        assert_eq!(
            decide(&check(7), &conversation(Some(4), 0), false, None),
            Decision::Nothing
        );
        let mut other = check(7);
        other.user_id = "cus_2".into();
        assert_eq!(
            decide(&other, &conversation(Some(4), 2), false, None),
            Decision::Nothing
        );
    }

    #[test]
    fn a_body_is_type_timestamp_and_data_in_that_order() {
        let b = body(
            "event.message_sent",
            Timestamp(0),
            &serde_json::json!({"seq": 1}),
        );
        assert_eq!(
            b.get(),
            r#"{"type":"event.message_sent","timestamp":"1970-01-01T00:00:00.000Z","data":{"seq":1}}"#
        );
    }

    #[test]
    fn record_keys_are_bucket_keys_whatever_the_user_id() {
        let k = record_key("01JDQ7X0S9G1W7V8M2K3Z4Y5AB", "ann@example.com:7");
        assert_eq!(k.len(), 32);
        assert!(k.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(
            k,
            record_key("01JDQ7X0S9G1W7V8M2K3Z4Y5AB", "ann@example.com:8")
        );
    }
}
