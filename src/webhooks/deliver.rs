//! Attempts: POST a delivery, signed anew each time; a 2xx is delivered, anything else is taken
//! again after a pause that doubles with each attempt (with jitter) until `WEBHOOK_MAX_AGE`, and
//! then kept as a dead letter.

use super::queue::{self, DeadLetter, Delivery};
use super::{durable, Webhooks};
use async_nats::jetstream::{self, consumer::pull, AckKind};
use concierge_events::Timestamp;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;

/// Attempts one node makes at once to one endpoint.
pub const AT_ONCE: usize = 16;
/// The longest pause between two attempts.
pub const LONGEST_PAUSE: Duration = Duration::from_secs(3600);

/// The consumer of the deliveries to `url`. Deliveries waiting for their next attempt count as
/// pending, so the limit is high; how many are attempted at once is [`AT_ONCE`] per node.
pub fn consumer(url: &str) -> pull::Config {
    durable(
        &format!("{}-{}", queue::DELIVER_CONSUMER, queue::endpoint_key(url)),
        &queue::deliver_subject(url),
        1_000_000,
    )
}

/// The pause after failed attempt number `attempt` (1 for the first): `first` doubled for each
/// attempt before, capped at [`LONGEST_PAUSE`], of which a random part up to half is taken off
/// (`jitter` in 0..=1), so that deliveries failed together do not come back together.
pub fn pause(first: Duration, attempt: u64, jitter: f64) -> Duration {
    let doublings = u32::try_from(attempt.saturating_sub(1))
        .unwrap_or(u32::MAX)
        .min(30);
    let full = first.saturating_mul(1 << doublings).min(LONGEST_PAUSE);
    full.mul_f64(1.0 - 0.5 * jitter.clamp(0.0, 1.0))
}

/// What an attempt got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    Delivered(u16),
    Refused(String),
}

/// Makes one attempt at the delivery `msg` holds and acknowledges it accordingly.
pub async fn attempt(hooks: Arc<Webhooks>, msg: jetstream::Message, _permit: OwnedSemaphorePermit) {
    let Ok(delivery) = serde_json::from_slice::<Delivery>(&msg.payload) else {
        tracing::warn!("webhooks: a queued delivery does not decode; dropped");
        return finish(&msg, AckKind::Term).await;
    };
    let attempts = msg
        .info()
        .map(|i| u64::try_from(i.delivered).unwrap_or(1))
        .unwrap_or(1);
    let answer = post(&hooks, &delivery).await;
    metrics::counter!("concierge_webhook_attempts_total", "result" => result_label(&answer))
        .increment(1);
    let failure = match answer {
        Answer::Delivered(status) => {
            tracing::debug!(id = %delivery.id, status, attempts, "webhook delivered");
            metrics::counter!("concierge_webhook_deliveries_total", "outcome" => "delivered")
                .increment(1);
            // Waits for JetStream to take the acknowledgement: one not taken means a duplicate.
            if let Err(e) = msg.double_ack().await {
                tracing::warn!(id = %delivery.id, error = %e, "webhook delivered but not acknowledged; it may be sent again");
            }
            return;
        }
        Answer::Refused(why) => why,
    };
    let now = Timestamp::now();
    let age = Duration::from_millis(
        u64::try_from(now.millis() - delivery.created_at.millis()).unwrap_or(0),
    );
    let max_age = hooks.config.max_age;
    if age >= max_age {
        let letter = DeadLetter {
            id: delivery.id.clone(),
            url: delivery.url,
            kind: delivery.kind,
            created_at: delivery.created_at,
            failed_at: now,
            attempts,
            last_error: failure,
            body: delivery.body,
        };
        match hooks.queues.keep_dead_letter(&letter).await {
            Ok(()) => {
                tracing::warn!(id = %letter.id, url = %letter.url, attempts, error = %letter.last_error, "webhook dead-lettered after WEBHOOK_MAX_AGE");
                metrics::counter!("concierge_webhook_deliveries_total", "outcome" => "dead_lettered")
                    .increment(1);
                finish(&msg, AckKind::Ack).await;
            }
            Err(e) => {
                tracing::warn!(id = %letter.id, error = %e, "cannot keep a dead letter; trying again");
                finish(&msg, AckKind::Nak(Some(Duration::from_secs(1)))).await;
            }
        }
        return;
    }
    let wait = pause(hooks.config.first_retry, attempts, jitter()).min(max_age - age);
    tracing::debug!(id = %delivery.id, attempts, error = %failure, wait_ms = wait.as_millis() as u64, "webhook attempt failed; retrying");
    finish(&msg, AckKind::Nak(Some(wait))).await;
}

/// POSTs `delivery` with its Standard Webhooks headers, signed for this attempt.
async fn post(hooks: &Webhooks, delivery: &Delivery) -> Answer {
    let timestamp = Timestamp::now().millis() / 1000;
    let body = delivery.body.get().as_bytes().to_vec();
    let signature = hooks.config.secret.sign(&delivery.id, timestamp, &body);
    let sent = hooks
        .client
        .post(&delivery.url)
        .header("content-type", "application/json")
        .header("webhook-id", &delivery.id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await;
    match sent {
        Ok(r) if r.status().is_success() => Answer::Delivered(r.status().as_u16()),
        Ok(r) => Answer::Refused(format!("HTTP {}", r.status().as_u16())),
        Err(e) if e.is_timeout() => Answer::Refused(format!(
            "no answer within {} s",
            super::ATTEMPT_TIMEOUT.as_secs()
        )),
        // reqwest's own message alone says little: its causes name the failure.
        Err(e) => Answer::Refused(crate::log::connect::chain(&e)),
    }
}

fn result_label(answer: &Answer) -> &'static str {
    match answer {
        Answer::Delivered(_) => "2xx",
        Answer::Refused(why) if why.starts_with("HTTP 4") => "4xx",
        Answer::Refused(why) if why.starts_with("HTTP") => "other_status",
        Answer::Refused(why) if why.starts_with("no answer") => "timeout",
        Answer::Refused(_) => "unreachable",
    }
}

/// A random number in 0..=1.
fn jitter() -> f64 {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 4];
    match ring::rand::SystemRandom::new().fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_be_bytes(bytes)) / f64::from(u32::MAX),
        Err(_) => 0.5,
    }
}

async fn finish(msg: &jetstream::Message, kind: AckKind) {
    if let Err(e) = msg.ack_with(kind).await {
        tracing::debug!(error = %e, "webhooks: cannot acknowledge a delivery");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_from_the_first_up_to_an_hour_less_up_to_half_for_jitter() {
        let first = Duration::from_secs(5);
        assert_eq!(pause(first, 1, 0.0), Duration::from_secs(5));
        assert_eq!(pause(first, 2, 0.0), Duration::from_secs(10));
        assert_eq!(pause(first, 4, 0.0), Duration::from_secs(40));
        assert_eq!(pause(first, 4, 1.0), Duration::from_secs(20));
        assert_eq!(pause(first, 11, 0.0), Duration::from_secs(3600));
        assert_eq!(pause(first, 10_000, 0.0), LONGEST_PAUSE);
        assert_eq!(pause(first, 0, 0.0), Duration::from_secs(5));
    }

    #[test]
    fn jitter_is_between_nought_and_one() {
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..=1.0).contains(&j), "{j}");
        }
    }

    #[test]
    fn attempts_are_counted_by_what_they_got() {
        assert_eq!(result_label(&Answer::Delivered(204)), "2xx");
        assert_eq!(result_label(&Answer::Refused("HTTP 404".into())), "4xx");
        assert_eq!(
            result_label(&Answer::Refused("HTTP 503".into())),
            "other_status"
        );
        assert_eq!(
            result_label(&Answer::Refused("no answer within 10 s".into())),
            "timeout"
        );
        assert_eq!(
            result_label(&Answer::Refused("connection refused".into())),
            "unreachable"
        );
    }
}
