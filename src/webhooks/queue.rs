//! The streams beside the log that make webhooks durable and shared by every node: the unread checks
//! waiting for their time, the deliveries waiting for an answer, the dead letters and the record of
//! notifications sent. Each is created by the first node with `WEBHOOK_URL`; the operator commands
//! and the admin routes only open them.

use crate::log::{bucket_config, failed, LogError};
use async_nats::jetstream::{self, kv, stream};
use concierge_events::Timestamp;
use futures::TryStreamExt;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::time::Duration;

/// Work queue of unread checks, each delivered when it is due (`NOTIFY_AFTER_SECS` after its message).
pub const CHECKS: &str = "CONCIERGE_NOTIFY";
pub const CHECK_SUBJECT: &str = "concierge.notify.due";
/// Work queue of deliveries: one message per delivery to one endpoint, until a 2xx or dead-lettered.
pub const DELIVERIES: &str = "CONCIERGE_WEBHOOKS";
pub const DELIVER_SUBJECTS: &str = "concierge.webhooks.deliver.*";
/// Key-value bucket of dead letters, keyed by delivery id.
pub const DEAD_LETTERS: &str = "CONCIERGE_WEBHOOKS_FAILED";
/// Key-value bucket of the last notification sent per user and conversation.
pub const NOTIFIED: &str = "CONCIERGE_NOTIFIED";
/// How long the record of a notification is kept: a user who neither reads nor comes back for this
/// long may be notified once more.
pub const NOTIFIED_FOR: Duration = Duration::from_secs(30 * 86_400);

/// The durable consumers every node shares.
pub const LOG_CONSUMER: &str = "concierge-webhooks";
pub const CHECK_CONSUMER: &str = "concierge-notify";
pub const DELIVER_CONSUMER: &str = "concierge-deliver";

/// One delivery to one endpoint, as queued: its body is fixed when queued, so that every attempt
/// sends the same bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    /// The `webhook-id`, the same on every attempt.
    pub id: String,
    pub url: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// When it was queued (or queued again by a redelivery): its age counts from here.
    pub created_at: Timestamp,
    pub body: Box<RawValue>,
}

/// A delivery that was not answered with a 2xx before `WEBHOOK_MAX_AGE`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// The delivery's `webhook-id`; `redeliver` takes it.
    pub id: String,
    /// The endpoint it was for.
    pub url: String,
    /// `notification.unread` or `event.<log type>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub created_at: Timestamp,
    pub failed_at: Timestamp,
    /// Attempts made.
    pub attempts: u64,
    /// What the last attempt got: `HTTP <status>`, `no answer within 10 s` or the connection error.
    pub last_error: String,
    /// The body every attempt sent.
    pub body: Box<RawValue>,
}

/// Why the queues refused a request.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error(transparent)]
    Log(#[from] LogError),
    /// No node with `WEBHOOK_URL` has ever run on this log.
    #[error("webhooks were never turned on for this log (no node has run with WEBHOOK_URL)")]
    NotSetUp,
    #[error("no dead letter has the id {0:?}")]
    UnknownDeadLetter(String),
}

fn work_queue(name: &str, subject: &str, replicas: usize) -> stream::Config {
    stream::Config {
        name: name.to_string(),
        subjects: vec![subject.to_string()],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::WorkQueue,
        duplicate_window: Duration::from_secs(120),
        num_replicas: replicas,
        ..Default::default()
    }
}

/// Every stream [`Queues::ensure`] creates, as `concierge doctor` may expect them.
pub fn stream_configs(replicas: usize) -> [stream::Config; 4] {
    [
        work_queue(CHECKS, CHECK_SUBJECT, replicas),
        work_queue(DELIVERIES, DELIVER_SUBJECTS, replicas),
        bucket_config(DEAD_LETTERS, Duration::ZERO, replicas),
        bucket_config(NOTIFIED, NOTIFIED_FOR, replicas),
    ]
}

/// The webhook streams of one log.
#[derive(Clone)]
pub struct Queues {
    pub js: jetstream::Context,
    pub dead_letters: kv::Store,
    pub notified: kv::Store,
}

impl Queues {
    /// Creates the streams and buckets, or updates them to this version's configuration.
    ///
    /// # Errors
    /// When JetStream is unreachable or refuses a configuration.
    pub async fn ensure(js: jetstream::Context, replicas: usize) -> Result<Queues, LogError> {
        for config in stream_configs(replicas) {
            js.create_or_update_stream(config)
                .await
                .map_err(failed("creating a webhook stream"))?;
        }
        Queues::open(js).await?.ok_or(LogError::Request {
            what: "opening the webhook buckets",
            source: "the buckets were created but cannot be opened".into(),
        })
    }

    /// The streams as they are; `None` when no node with `WEBHOOK_URL` ever created them.
    ///
    /// # Errors
    /// When JetStream is unreachable.
    pub async fn open(js: jetstream::Context) -> Result<Option<Queues>, LogError> {
        for name in [DEAD_LETTERS, NOTIFIED] {
            match js.get_stream(format!("KV_{name}")).await {
                Ok(_) => {}
                Err(e) if is_missing(&e) => return Ok(None),
                Err(e) => return Err(failed("looking up a webhook bucket")(e)),
            }
        }
        let dead_letters = js
            .get_key_value(DEAD_LETTERS)
            .await
            .map_err(failed("opening the dead letters"))?;
        let notified = js
            .get_key_value(NOTIFIED)
            .await
            .map_err(failed("opening the notification records"))?;
        Ok(Some(Queues {
            js,
            dead_letters,
            notified,
        }))
    }

    /// Queues `delivery`; `msg_id` makes a repeat inside the duplicate window harmless.
    ///
    /// # Errors
    /// When JetStream does not take it.
    pub async fn enqueue(&self, delivery: &Delivery, msg_id: &str) -> Result<(), LogError> {
        let payload = serde_json::to_vec(delivery).expect("a delivery always serializes");
        publish(&self.js, deliver_subject(&delivery.url), payload, msg_id).await
    }

    /// Every dead letter, oldest failure first.
    ///
    /// # Errors
    /// When JetStream is unreachable.
    pub async fn dead_letters(&self) -> Result<Vec<DeadLetter>, LogError> {
        let keys: Vec<String> = self
            .dead_letters
            .keys()
            .await
            .map_err(failed("listing the dead letters"))?
            .try_collect()
            .await
            .map_err(failed("listing the dead letters"))?;
        let mut out = Vec::with_capacity(keys.len());
        for key in keys {
            if let Some(letter) = self.dead_letter(&key).await? {
                out.push(letter);
            }
        }
        out.sort_by(|a, b| (a.failed_at, &a.id).cmp(&(b.failed_at, &b.id)));
        Ok(out)
    }

    /// The dead letter `id`, if there is one.
    ///
    /// # Errors
    /// When JetStream is unreachable.
    pub async fn dead_letter(&self, id: &str) -> Result<Option<DeadLetter>, LogError> {
        if !is_delivery_id(id) {
            return Ok(None);
        }
        let value = self
            .dead_letters
            .get(id)
            .await
            .map_err(failed("reading a dead letter"))?;
        Ok(value.and_then(|v| serde_json::from_slice(&v).ok()))
    }

    /// Keeps `letter` (its delivery is then acknowledged and no longer retried).
    ///
    /// # Errors
    /// When JetStream does not take it.
    pub async fn keep_dead_letter(&self, letter: &DeadLetter) -> Result<(), LogError> {
        let value = serde_json::to_vec(letter).expect("a dead letter always serializes");
        self.dead_letters
            .put(&letter.id, value.into())
            .await
            .map_err(failed("keeping a dead letter"))?;
        Ok(())
    }

    /// Queues dead letter `id` again, with a new age and the same `webhook-id` and body, and removes
    /// it from the dead letters. Returns the delivery as queued.
    ///
    /// # Errors
    /// [`QueueError::UnknownDeadLetter`], or when JetStream does not take it (the dead letter stays).
    pub async fn redeliver(&self, id: &str) -> Result<Delivery, QueueError> {
        let letter = self
            .dead_letter(id)
            .await?
            .ok_or_else(|| QueueError::UnknownDeadLetter(id.to_string()))?;
        let now = Timestamp::now();
        let delivery = Delivery {
            id: letter.id.clone(),
            url: letter.url,
            kind: letter.kind,
            created_at: now,
            body: letter.body,
        };
        self.enqueue(
            &delivery,
            &format!("{}.again.{}", delivery.id, now.millis()),
        )
        .await?;
        self.dead_letters
            .purge(&delivery.id)
            .await
            .map_err(failed("removing a dead letter"))?;
        Ok(delivery)
    }
}

/// The subject of the deliveries to `url`: each endpoint has its own, and its own consumer, so that
/// a dead endpoint never holds back another.
pub fn deliver_subject(url: &str) -> String {
    format!("concierge.webhooks.deliver.{}", endpoint_key(url))
}

/// 16 hex digits of SHA-256 of the endpoint's URL.
pub fn endpoint_key(url: &str) -> String {
    crate::log::hex_digest(url, 8)
}

/// The id of the delivery of `source` (what is told, the same on every node that derives it) to
/// `url`: `msg_` and a ULID whose time is `ms` and whose random part is the start of SHA-256 of
/// both, so that queuing it again is a duplicate JetStream drops.
pub fn delivery_id(source: &str, url: &str, ms: i64) -> String {
    format!(
        "msg_{}",
        crate::log::derived_ulid(ms, &format!("{source}\n{url}"))
    )
}

/// Whether JetStream answered that the stream does not exist.
fn is_missing(e: &jetstream::context::GetStreamError) -> bool {
    matches!(
        e.kind(),
        jetstream::context::GetStreamErrorKind::JetStream(j)
            if j.error_code() == jetstream::ErrorCode::STREAM_NOT_FOUND
    )
}

/// Whether `id` can be a delivery id (and a bucket key): `msg_` and a ULID.
pub fn is_delivery_id(id: &str) -> bool {
    id.strip_prefix("msg_")
        .is_some_and(|u| u.len() == 26 && u.parse::<ulid::Ulid>().is_ok())
}

/// Publishes `payload` with `msg_id` and waits for JetStream's ack.
///
/// # Errors
/// When JetStream does not take it.
pub async fn publish(
    js: &jetstream::Context,
    subject: String,
    payload: Vec<u8>,
    msg_id: &str,
) -> Result<(), LogError> {
    let publish = jetstream::context::Publish::build()
        .payload(payload.into())
        .message_id(msg_id);
    js.send_publish(subject, publish)
        .await
        .map_err(LogError::Publish)?
        .await
        .map_err(LogError::Publish)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_id_depends_on_what_is_told_and_where_only() {
        let id = delivery_id("event:01J", "https://a.example/hook", 1_796_000_000_000);
        assert!(is_delivery_id(&id), "{id}");
        assert_eq!(
            id,
            delivery_id("event:01J", "https://a.example/hook", 1_796_000_000_000)
        );
        assert_ne!(
            id,
            delivery_id("event:01J", "https://b.example/hook", 1_796_000_000_000)
        );
        assert_ne!(
            id,
            delivery_id("event:01K", "https://a.example/hook", 1_796_000_000_000)
        );
        assert_ne!(
            deliver_subject("https://a.example/hook"),
            deliver_subject("https://b.example/hook")
        );
    }

    #[test]
    fn delivery_ids_are_msg_and_a_ulid() {
        assert!(is_delivery_id("msg_01JDQ7X0S9G1W7V8M2K3Z4Y5AB"));
        assert!(!is_delivery_id("01JDQ7X0S9G1W7V8M2K3Z4Y5AB"));
        assert!(!is_delivery_id("msg_01JDQ7X0S9G1W7V8M2K3Z4Y5A"));
        assert!(!is_delivery_id("msg_../../etc"));
    }

    #[test]
    fn the_queues_are_work_queues_and_the_buckets_keep_one_value_a_key() {
        let [checks, deliveries, dead, notified] = stream_configs(3);
        assert_eq!(checks.retention, stream::RetentionPolicy::WorkQueue);
        assert_eq!(deliveries.retention, stream::RetentionPolicy::WorkQueue);
        assert_eq!(deliveries.subjects, vec![DELIVER_SUBJECTS.to_string()]);
        assert_eq!(dead.name, "KV_CONCIERGE_WEBHOOKS_FAILED");
        assert_eq!(
            dead.max_age,
            Duration::ZERO,
            "dead letters are kept until redelivered"
        );
        assert_eq!(notified.max_messages_per_subject, 1);
        assert!([checks, deliveries, dead, notified]
            .iter()
            .all(|c| c.num_replicas == 3));
    }
}
