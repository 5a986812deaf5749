//! Webhooks (docs/webhooks.md): the booking platform hears of people who missed a message while
//! offline (`notification.unread`) and, if it asks, of chosen log events, by signed HTTP POSTs.
//!
//! Three durable consumers every node with `WEBHOOK_URL` shares, so that each step is taken by one
//! node and survives restarts:
//! - [`notify::watch_log`] reads the log once for the cluster: each message to a participant with
//!   no live socket queues an unread check, and each event of a type in `WEBHOOK_EVENTS` a delivery;
//! - [`notify::check`] takes each check when it is due and queues `notification.unread` to each
//!   endpoint if the person has still not read it and has not been told yet;
//! - [`deliver::attempt`] POSTs each delivery until a 2xx, retrying with backoff and jitter until
//!   `WEBHOOK_MAX_AGE`, then keeps it as a dead letter.
//!
//! Nothing here is on the path of a send or a socket: a slow or dead receiver only lengthens the
//! queues.

pub mod deliver;
pub mod notify;
pub mod queue;
pub mod sign;

use crate::state::AppState;
use async_nats::jetstream::{self, consumer::pull};
use futures::StreamExt;
use queue::Queues;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

/// The checked webhook settings (`WEBHOOK_*`, `NOTIFY_AFTER_SECS`); present only with `WEBHOOK_URL`.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub urls: Vec<String>,
    pub secret: sign::Secret,
    /// Log event types sent as they happen (`WEBHOOK_EVENTS`).
    pub events: Vec<String>,
    pub notify_after: Duration,
    pub max_age: Duration,
    /// The pause before the first retry; each next one doubles, up to [`deliver::LONGEST_PAUSE`].
    pub first_retry: Duration,
}

/// How long one attempt may wait for an answer.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a node may hold a taken message without an answer before JetStream gives it to another
/// node: longer than an attempt, short enough that a killed node's work resumes soon.
const ACK_WAIT: Duration = Duration::from_secs(30);
/// How often each node refreshes the queue gauges of `/metrics`.
const GAUGES_EVERY: Duration = Duration::from_secs(5);

/// The running webhooks of a node.
pub struct Webhooks {
    pub config: WebhookConfig,
    pub queues: Queues,
    pub client: reqwest::Client,
}

/// Creates the queues and runs the three consumers and the gauges until `shutdown`; returns at once
/// without `WEBHOOK_URL`, so that webhooks cost nothing unless set. Creating the queues is retried
/// while NATS is unreachable.
pub async fn run(app: AppState, mut shutdown: watch::Receiver<bool>) {
    let Some(config) = app.config.webhooks.clone() else {
        return;
    };
    let js = app.log.jetstream();
    let mut pause = Duration::from_millis(250);
    let queues = loop {
        match Queues::ensure(js.clone(), app.log.replicas()).await {
            Ok(q) => break q,
            Err(e) => {
                tracing::warn!(error = %e, "cannot create the webhook queues; trying again");
                tokio::select! {
                    _ = tokio::time::sleep(pause) => pause = (pause * 2).min(Duration::from_secs(10)),
                    _ = shutdown.changed() => return,
                }
            }
        }
    };
    let client = match reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .user_agent(concat!("Concierge/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook HTTP client: no webhooks are sent");
            return;
        }
    };
    register_metrics();
    let hooks = Arc::new(Webhooks {
        config,
        queues,
        client,
    });
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(consume(
        js.clone(),
        app.log.stream_name().to_string(),
        notify::log_consumer(),
        64,
        shutdown.clone(),
        {
            let (app, hooks) = (app.clone(), hooks.clone());
            move |msg, permit| notify::watch_log(app.clone(), hooks.clone(), msg, permit)
        },
    ));
    tasks.spawn(consume(
        js.clone(),
        queue::CHECKS.to_string(),
        notify::check_consumer(),
        256,
        shutdown.clone(),
        {
            let (app, hooks) = (app.clone(), hooks.clone());
            move |msg, permit| notify::check(app.clone(), hooks.clone(), msg, permit)
        },
    ));
    for url in hooks.config.urls.clone() {
        tasks.spawn(consume(
            js.clone(),
            queue::DELIVERIES.to_string(),
            deliver::consumer(&url),
            deliver::AT_ONCE,
            shutdown.clone(),
            {
                let hooks = hooks.clone();
                move |msg, permit| deliver::attempt(hooks.clone(), msg, permit)
            },
        ));
    }
    tasks.spawn(gauges(hooks.clone(), shutdown.clone()));
    let _ = shutdown.changed().await;
    tasks.shutdown().await;
}

/// Takes messages from the durable consumer `config` names on `stream`, never more at once than
/// `limit` are being handled, each by its own `work` task (which acknowledges it); no message waits
/// on this node unhandled, so none outlives its ack wait here. Recreates the consumer after errors.
async fn consume<W, Fut>(
    js: jetstream::Context,
    stream: String,
    config: pull::Config,
    limit: usize,
    mut shutdown: watch::Receiver<bool>,
    work: W,
) where
    W: Fn(jetstream::Message, OwnedSemaphorePermit) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let name = config.durable_name.clone().unwrap_or_default();
    let permits = Arc::new(Semaphore::new(limit));
    let mut failures: u32 = 0;
    loop {
        let taking = async {
            let consumer = js
                .get_stream(&stream)
                .await?
                .get_or_create_consumer::<pull::Config>(&name, config.clone())
                .await?;
            loop {
                let first = permits.clone().acquire_owned().await?;
                let mut held = vec![first];
                while let Ok(p) = permits.clone().try_acquire_owned() {
                    held.push(p);
                }
                let mut batch = consumer
                    .batch()
                    .max_messages(held.len())
                    .expires(Duration::from_secs(5))
                    .messages()
                    .await?;
                while let Some(msg) = batch.next().await {
                    let msg = msg?;
                    let Some(permit) = held.pop() else { break };
                    tokio::spawn(work(msg, permit));
                }
                failures = 0;
            }
            #[allow(unreachable_code)]
            Ok::<(), Box<dyn std::error::Error + Send + Sync>>(())
        };
        tokio::select! {
            result = taking => {
                if let Err(e) = result {
                    failures = failures.saturating_add(1);
                    tracing::warn!(consumer = %name, error = %e, failures, "webhook consumer failed; taking up again");
                }
            }
            _ = shutdown.changed() => return,
        }
        let pause = Duration::from_millis(250).saturating_mul(1 << failures.min(6));
        tokio::select! {
            _ = tokio::time::sleep(pause.min(Duration::from_secs(10))) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Every webhook series at zero, so that dashboards see them before the first delivery.
fn register_metrics() {
    for outcome in ["delivered", "dead_lettered"] {
        metrics::counter!("concierge_webhook_deliveries_total", "outcome" => outcome).absolute(0);
    }
    for result in ["2xx", "4xx", "other_status", "timeout", "unreachable"] {
        metrics::counter!("concierge_webhook_attempts_total", "result" => result).absolute(0);
    }
    metrics::counter!("concierge_webhook_notifications_total").absolute(0);
    metrics::gauge!("concierge_webhook_oldest_pending_seconds").set(0.0);
    metrics::gauge!("concierge_webhook_pending").set(0.0);
    metrics::gauge!("concierge_webhook_dead_letters").set(0.0);
}

/// A durable pull consumer with explicit acks that is never given up on.
fn durable(name: &str, filter: &str, max_ack_pending: i64) -> pull::Config {
    pull::Config {
        durable_name: Some(name.to_string()),
        filter_subject: filter.to_string(),
        ack_policy: jetstream::consumer::AckPolicy::Explicit,
        ack_wait: ACK_WAIT,
        max_deliver: -1,
        max_ack_pending,
        ..Default::default()
    }
}

/// Refreshes `concierge_webhook_oldest_pending_seconds`, `…_pending` and `…_dead_letters`.
async fn gauges(hooks: Arc<Webhooks>, mut shutdown: watch::Receiver<bool>) {
    loop {
        if let Ok(mut stream) = hooks.queues.js.get_stream(queue::DELIVERIES).await {
            if let Ok(info) = stream.info().await {
                let state = &info.state;
                let oldest = if state.messages == 0 {
                    0.0
                } else {
                    let first = state.first_timestamp.unix_timestamp_nanos() as f64 / 1e9;
                    let now = concierge_events::Timestamp::now().millis() as f64 / 1e3;
                    (now - first).max(0.0)
                };
                metrics::gauge!("concierge_webhook_oldest_pending_seconds").set(oldest);
                metrics::gauge!("concierge_webhook_pending").set(state.messages as f64);
            }
        }
        if let Ok(keys) = hooks.queues.dead_letters.keys().await {
            let count = keys.filter(|k| std::future::ready(k.is_ok())).count().await;
            metrics::gauge!("concierge_webhook_dead_letters").set(count as f64);
        }
        tokio::select! {
            _ = tokio::time::sleep(GAUGES_EVERY) => {}
            _ = shutdown.changed() => return,
        }
    }
}
