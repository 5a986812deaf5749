//! The JetStream event log: connecting, creating the streams, publishing events and reading them back.
//!
//! # Layout
//! - [`EventLog`]: publish an [`Envelope`] with its `Nats-Msg-Id` and wait for the ack; read a range.
//! - [`local_nats`]: a supervised local `nats-server` for a node started without `NATS_URL`.
//! - [`connect`]: credentials and TLS for NATS, and the first attempt that refuses bad ones.
//! - [`Connection`]: the log as the settings ([`LogConfig`]) name it, for `serve` and every
//!   operator command alike.

pub mod connect;
pub mod local_nats;

use crate::config::LogConfig;
use async_nats::jetstream::{
    self,
    context::{Publish, PublishErrorKind},
    stream,
};
use concierge_events::{subject, Envelope};
use local_nats::{LocalNats, LocalNatsError};
use std::time::{Duration, Instant};

/// The key-value bucket of `lastSeen` times (keys: user ids, hex-encoded).
pub const LAST_SEEN_BUCKET: &str = "CONCIERGE_LAST_SEEN";

/// How long a publish may wait for JetStream's ack before the write is reported as not taken.
const ACK_TIMEOUT: Duration = Duration::from_secs(5);

/// The pause before a publish that no server took (no responders) is made again, within
/// [`ACK_TIMEOUT`].
const NO_RESPONDERS_PAUSE: Duration = Duration::from_millis(50);

/// How long one attempt to create a consumer may take before it is abandoned and made again, and how
/// many attempts a read makes. On a 3-node nats-server 2.9.10 cluster that lost a node to SIGKILL,
/// 8 of 18 consumer creations over the next 95 s were never answered while the others took ~2 ms:
/// the single-replica consumer is placed on one of the stream's peers, the lost one included, and
/// each new request is placed anew.
const CONSUMER_ATTEMPT: Duration = Duration::from_secs(1);
const CONSUMER_ATTEMPTS: usize = 8;

/// Why the log did not take or give an event: one variant per kind, each keeping its source.
/// Writes that fail with any variant have no effect the client can observe (see `publish`), so
/// clients may retry them.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// Not connected to NATS right now; nothing was sent.
    #[error("not connected to NATS")]
    Disconnected,
    /// JetStream did not take a published event.
    #[error("JetStream did not take the event: {0}")]
    Publish(#[source] async_nats::jetstream::context::PublishError),
    /// A request to NATS or JetStream failed; `what` names the request.
    #[error("{what} failed: {source}")]
    Request {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A request got no answer in time; `what` names it.
    #[error("{what} timed out")]
    TimedOut { what: &'static str },
    /// This node's views have not folded everything in the log yet.
    #[error("the views are still catching up with the log")]
    CatchingUp,
}

/// Wraps a failed request's error as [`LogError::Request`] naming it.
pub(crate) fn failed<E: std::error::Error + Send + Sync + 'static>(
    what: &'static str,
) -> impl FnOnce(E) -> LogError {
    move |e| LogError::Request {
        what,
        source: Box::new(e),
    }
}

/// The ack of a published event: its log sequence, and whether JetStream had it already (a retry
/// with the same `Nats-Msg-Id` inside the duplicate window; `seq` is then the original's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ack {
    pub seq: u64,
    pub duplicate: bool,
}

/// A handle on the event log. Cheap to clone.
#[derive(Clone)]
pub struct EventLog {
    client: async_nats::Client,
    js: jetstream::Context,
    stream: String,
    typing_stream: String,
    /// Replicas of every stream `ensure_streams` and `last_seen_bucket` create (1 on one server).
    replicas: usize,
    /// Counts connections made; a consumer opened before the latest one may be stale.
    connections: tokio::sync::watch::Receiver<u64>,
}

impl EventLog {
    /// Connects with `security`'s credentials and TLS. A NATS that is down at start is retried
    /// forever in the background, and the handle is usable at once (writes answer
    /// [`LogError::Disconnected`] until the connection is up); a NATS that refuses the credentials
    /// or the TLS handshake at start is an error. `url` (without credentials: see
    /// [`connect::NatsArgs::check`]) may list several servers of one cluster separated by commas;
    /// the client connects to one of them and moves to another when it is lost.
    ///
    /// # Errors
    /// [`connect::NatsRejected`] when NATS refused the credentials or TLS, or the URL is not one.
    pub async fn connect(
        url: &str,
        security: &connect::NatsSecurity,
        stream: &str,
        typing_stream: &str,
    ) -> Result<EventLog, connect::NatsRejected> {
        let servers: Vec<&str> = url
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        let (connected, connections) = tokio::sync::watch::channel(0u64);
        let connected = std::sync::Arc::new(connected);
        let configure = |options: async_nats::ConnectOptions| {
            let connected = connected.clone();
            options
                .event_callback(move |event| {
                    if matches!(event, async_nats::Event::Connected) {
                        connected.send_modify(|n| *n += 1);
                    }
                    async {}
                })
                .max_reconnects(None)
                .connection_timeout(Duration::from_secs(2))
                .reconnect_delay_callback(|attempt| {
                    Duration::from_millis((100 * attempt as u64).clamp(100, 1000))
                })
        };
        let client = security.connect(&servers, configure).await?;
        let mut js = jetstream::new(client.clone());
        js.set_timeout(ACK_TIMEOUT);
        Ok(EventLog {
            client,
            js,
            stream: stream.to_string(),
            typing_stream: typing_stream.to_string(),
            replicas: 1,
            connections,
        })
    }

    /// The same log with its streams created at `replicas` replicas (`STREAM_REPLICAS`). With 3 on
    /// a 3-node cluster JetStream acknowledges an event only once a majority of the nodes stored it,
    /// so losing one node loses no acknowledged event.
    pub fn with_replicas(mut self, replicas: u8) -> EventLog {
        self.replicas = usize::from(replicas.max(1));
        self
    }

    /// Changes each time the client (re)connects: a server that restarted has lost its ephemeral
    /// consumers, so a reader must open a new one.
    pub fn connections(&self) -> tokio::sync::watch::Receiver<u64> {
        self.connections.clone()
    }

    pub fn is_connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    /// Creates the streams, or updates them to the configuration this version expects.
    ///
    /// # Errors
    /// When JetStream is unreachable or refuses the configuration.
    pub async fn ensure_streams(&self) -> Result<(), LogError> {
        for config in stream_configs(&self.stream, &self.typing_stream, self.replicas) {
            self.js
                .create_or_update_stream(config)
                .await
                .map_err(failed("creating a stream"))?;
        }
        Ok(())
    }

    /// Publishes one event and waits for JetStream's ack. Refuses at once while disconnected, so that
    /// a refused write is never buffered by the client and delivered later. A publish that no server
    /// took (no responders: nothing was stored) is made again for up to [`ACK_TIMEOUT`]; a cluster
    /// answers so while it elects a stream leader, and for a moment after it created a stream.
    ///
    /// # Errors
    /// A [`LogError`]; the event was not stored (a timed-out ack is the one case where it may have
    /// been: its `Nats-Msg-Id` makes a retry of it harmless).
    pub async fn publish(
        &self,
        subject: String,
        event: &Envelope,
        msg_id: &str,
    ) -> Result<Ack, LogError> {
        if !self.is_connected() {
            return Err(LogError::Disconnected);
        }
        let started = Instant::now();
        let publish = Publish::build()
            .payload(event.encode().into())
            .message_id(msg_id);
        let ack = loop {
            let attempt = async {
                self.js
                    .send_publish(subject.clone(), publish.clone())
                    .await?
                    .await
            };
            match attempt.await {
                Ok(ack) => break ack,
                Err(e)
                    if e.kind() == PublishErrorKind::StreamNotFound
                        && started.elapsed() + NO_RESPONDERS_PAUSE < ACK_TIMEOUT
                        && self.is_connected() =>
                {
                    tokio::time::sleep(NO_RESPONDERS_PAUSE).await;
                }
                Err(e) => return Err(LogError::Publish(e)),
            }
        };
        metrics::histogram!("concierge_publish_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        Ok(Ack {
            seq: ack.sequence,
            duplicate: ack.duplicate,
        })
    }

    /// The sequence of the newest event in the log.
    ///
    /// # Errors
    /// When JetStream is unreachable.
    pub async fn last_seq(&self) -> Result<u64, LogError> {
        Ok(self.bounds().await?.1)
    }

    /// The key-value bucket that keeps each user's `lastSeen` across restarts (created if missing).
    ///
    /// # Errors
    /// When JetStream is unreachable.
    pub async fn last_seen_bucket(&self) -> Result<jetstream::kv::Store, LogError> {
        // The bucket's stream is created as a plain stream: the client's own bucket creation does not
        // understand nats-server 2.9's answer.
        let config = last_seen_config(self.replicas);
        self.js
            .create_or_update_stream(config)
            .await
            .map_err(failed("creating the lastSeen stream"))?;
        self.js
            .get_key_value(LAST_SEEN_BUCKET)
            .await
            .map_err(failed("opening the lastSeen bucket"))
    }

    pub fn client(&self) -> async_nats::Client {
        self.client.clone()
    }

    /// The JetStream context, for the streams beside the log (webhooks).
    pub fn jetstream(&self) -> jetstream::Context {
        self.js.clone()
    }

    /// Replicas of the streams this log creates (STREAM_REPLICAS).
    pub fn replicas(&self) -> usize {
        self.replicas
    }

    /// The name of the event log's stream (STREAM_NAME).
    pub fn stream_name(&self) -> &str {
        &self.stream
    }

    /// Publishes a typing event on the typing stream's subject without waiting for an ack: typing
    /// is ephemeral and best effort.
    ///
    /// # Errors
    /// [`LogError::Disconnected`] while not connected.
    pub async fn publish_typing(&self, subject: String, event: &Envelope) -> Result<(), LogError> {
        if !self.is_connected() {
            return Err(LogError::Disconnected);
        }
        self.client
            .publish(subject, event.encode().into())
            .await
            .map_err(failed("publishing a typing event"))
    }

    /// The first and last sequence the log still holds.
    ///
    /// # Errors
    /// When JetStream is unreachable.
    pub async fn bounds(&self) -> Result<(u64, u64), LogError> {
        let stream = self
            .js
            .get_stream(&self.stream)
            .await
            .map_err(failed("looking up the log stream"))?;
        let info = stream
            .get_info()
            .await
            .map_err(failed("reading the log's bounds"))?;
        Ok((info.state.first_sequence, info.state.last_sequence))
    }

    /// The events with `from <= seq <= to`, in order (events this schema does not know are left out).
    ///
    /// # Errors
    /// When JetStream is unreachable or the read takes longer than 30 s.
    pub async fn read_range(&self, from: u64, to: u64) -> Result<Vec<(u64, Envelope)>, LogError> {
        self.read_events("", from.saturating_sub(1), to).await
    }

    /// The events on `subject` (every subject when empty) with `after < seq <= upto`, in order;
    /// events this schema does not know are left out.
    ///
    /// # Errors
    /// When JetStream is unreachable or the read takes longer than 30 s.
    pub async fn read_events(
        &self,
        subject: &str,
        after: u64,
        upto: u64,
    ) -> Result<Vec<(u64, Envelope)>, LogError> {
        let stored = self.read_subject(subject, after, upto, usize::MAX).await?;
        Ok(stored
            .into_iter()
            .filter_map(|(seq, payload)| Some((seq, Envelope::decode(&payload).ok().flatten()?)))
            .collect())
    }

    /// The stored payloads on `subject` (every subject when empty) with `after < seq <= upto`, oldest
    /// first, at most `limit` of them. Reads what the log holds now and returns; it never waits for
    /// new events.
    ///
    /// # Errors
    /// When JetStream is unreachable or the read takes longer than 30 s.
    pub async fn read_subject(
        &self,
        subject: &str,
        after: u64,
        upto: u64,
        limit: usize,
    ) -> Result<Vec<(u64, bytes::Bytes)>, LogError> {
        use futures::StreamExt;
        let mut out = Vec::new();
        if upto <= after || limit == 0 {
            return Ok(out);
        }
        let consumer = self
            .ordered_consumer(jetstream::consumer::pull::OrderedConfig {
                filter_subject: subject.to_string(),
                deliver_policy: jetstream::consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: after.saturating_add(1),
                },
                ..Default::default()
            })
            .await?;
        if consumer.cached_info().num_pending == 0 {
            return Ok(out);
        }
        let mut messages = consumer
            .messages()
            .await
            .map_err(failed("reading the log"))?;
        let read = async {
            while let Some(msg) = messages.next().await {
                let msg = msg.map_err(failed("reading the log"))?;
                let info = msg.info().map_err(|e| LogError::Request {
                    what: "reading a message's metadata",
                    source: e,
                })?;
                let (seq, pending) = (info.stream_sequence, info.pending);
                if seq > upto {
                    break;
                }
                out.push((seq, msg.payload.clone()));
                if pending == 0 || out.len() >= limit || seq >= upto {
                    break;
                }
            }
            Ok::<_, LogError>(())
        };
        tokio::time::timeout(Duration::from_secs(30), read)
            .await
            .map_err(|_| LogError::TimedOut {
                what: "reading the log",
            })??;
        Ok(out)
    }

    /// An ordered consumer over the whole log from `start_seq` on.
    ///
    /// # Errors
    /// When JetStream is unreachable or the stream is missing.
    pub async fn consume_from(
        &self,
        start_seq: u64,
    ) -> Result<jetstream::consumer::pull::Ordered, LogError> {
        let consumer = self
            .ordered_consumer(jetstream::consumer::pull::OrderedConfig {
                deliver_policy: jetstream::consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: start_seq.max(1),
                },
                ..Default::default()
            })
            .await?;
        consumer
            .messages()
            .await
            .map_err(failed("consuming the log"))
    }

    /// Creates an ordered consumer on the log, making the request again when JetStream does not
    /// answer one within [`CONSUMER_ATTEMPT`] (see there why a cluster may not).
    ///
    /// # Errors
    /// When the stream is missing, JetStream refuses the consumer, or no attempt was answered.
    async fn ordered_consumer(
        &self,
        config: jetstream::consumer::pull::OrderedConfig,
    ) -> Result<jetstream::consumer::Consumer<jetstream::consumer::pull::OrderedConfig>, LogError>
    {
        let stream = self
            .js
            .get_stream(&self.stream)
            .await
            .map_err(failed("looking up the log stream"))?;
        for _ in 0..CONSUMER_ATTEMPTS {
            let attempt = stream.create_consumer(config.clone());
            if let Ok(created) = tokio::time::timeout(CONSUMER_ATTEMPT, attempt).await {
                return created.map_err(failed("creating a consumer"));
            }
        }
        Err(LogError::TimedOut {
            what: "every request for a consumer",
        })
    }
}

/// The event log's and the typing stream's configuration, as [`EventLog::ensure_streams`] creates
/// them (and `concierge doctor` expects them).
pub fn stream_configs(stream: &str, typing_stream: &str, replicas: usize) -> [stream::Config; 2] {
    let log = stream::Config {
        name: stream.to_string(),
        subjects: subject::LOG_SUBJECTS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        duplicate_window: Duration::from_secs(120),
        num_replicas: replicas,
        ..Default::default()
    };
    let typing = stream::Config {
        name: typing_stream.to_string(),
        subjects: subject::TYPING_SUBJECTS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        storage: stream::StorageType::Memory,
        retention: stream::RetentionPolicy::Limits,
        max_age: Duration::from_secs(30),
        duplicate_window: Duration::from_secs(30),
        num_replicas: replicas,
        ..Default::default()
    };
    [log, typing]
}

/// A ULID every node derives alike, for a `Nats-Msg-Id` that makes a repeat a duplicate: its time
/// is `ms` and its random part the start of SHA-256 of `key`.
pub fn derived_ulid(ms: i64, key: &str) -> ulid::Ulid {
    let digest = ring::digest::digest(&ring::digest::SHA256, key.as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest.as_ref()[..16]);
    ulid::Ulid::from_parts(u64::try_from(ms).unwrap_or(0), u128::from_be_bytes(first))
}

/// The first `bytes` bytes of SHA-256 of `text`, in hex: a short name for what may hold characters
/// a subject or key may not.
pub fn hex_digest(text: &str, bytes: usize) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest.as_ref()[..bytes.min(32)]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The configuration of the lastSeen bucket's stream, as [`EventLog::last_seen_bucket`] creates it.
pub fn last_seen_config(replicas: usize) -> stream::Config {
    bucket_config(LAST_SEEN_BUCKET, Duration::ZERO, replicas)
}

/// The stream of key-value bucket `name` (values kept `max_age`, zero: forever), made by hand: the
/// client's own bucket creation does not understand nats-server 2.9's answer.
pub fn bucket_config(name: &str, max_age: Duration, replicas: usize) -> stream::Config {
    stream::Config {
        name: format!("KV_{name}"),
        subjects: vec![format!("$KV.{name}.>")],
        storage: stream::StorageType::File,
        max_messages_per_subject: 1,
        max_age,
        discard: stream::DiscardPolicy::New,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        num_replicas: replicas,
        ..Default::default()
    }
}

/// The log a node or an operator command uses: `NATS_URL`, or the node's own nats-server started
/// on `DATA_DIR` (see [`local_nats`]) until [`Connection::close`].
pub struct Connection {
    pub log: EventLog,
    /// Where the client connects: `NATS_URL`, or the local server's URL.
    pub url: String,
    local: Option<LocalNats>,
}

/// Why [`Connection::open`] failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error(transparent)]
    LocalNats(#[from] LocalNatsError),
    /// NATS refused the credentials or TLS: a setting to fix (exit status 2).
    #[error(transparent)]
    Rejected(#[from] connect::NatsRejected),
}

impl Connection {
    /// Starts the local nats-server when `NATS_URL` is unset (with `NATS_STORE_KEY`), and connects
    /// with the configured credentials and TLS (see [`EventLog::connect`]), stream names and
    /// replicas.
    ///
    /// # Errors
    /// When the local nats-server cannot start, or NATS refused the credentials or TLS.
    pub async fn open(settings: &LogConfig) -> Result<Connection, OpenError> {
        let local = match &settings.nats_url {
            Some(_) => None,
            None => {
                let store_key = settings.nats.store_key.as_deref();
                Some(
                    LocalNats::start(&settings.data_dir, settings.nats_conf.as_deref(), store_key)
                        .await?,
                )
            }
        };
        let url = match (&settings.nats_url, &local) {
            (Some(url), _) => url.clone(),
            (None, Some(local)) => local.url(),
            (None, None) => unreachable!("a local nats-server is started when NATS_URL is unset"),
        };
        let log = EventLog::connect(
            &url,
            &settings.nats,
            &settings.stream_name,
            &settings.typing_stream_name,
        )
        .await?
        .with_replicas(settings.stream_replicas);
        Ok(Connection { log, url, local })
    }

    /// Stops the local nats-server, if this connection started one.
    pub async fn close(self) {
        if let Some(local) = self.local {
            local.stop().await;
        }
    }
}

/// `url` (one or several NATS URLs, comma separated) with any user, password or token replaced by
/// `***`, for logs and messages: credentials in `NATS_URL` are never printed.
pub fn redacted_url(url: &str) -> String {
    url.split(',')
        .map(|one| {
            let one = one.trim();
            let (scheme, rest) = match one.find("://") {
                Some(i) => one.split_at(i + 3),
                None => ("", one),
            };
            let host_end = rest.find('/').unwrap_or(rest.len());
            match rest[..host_end].rfind('@') {
                Some(at) => format!("{scheme}***{}", &rest[at..]),
                None => one.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A stored event with `"seq"` added as its first field, the rest byte for byte as stored: how
/// route 14 and `concierge tail` show events. `None` for a payload that is not a JSON object with
/// at least one field.
pub fn with_seq(seq: u64, payload: &[u8]) -> Option<Box<serde_json::value::RawValue>> {
    let fields: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(payload).ok()?;
    if fields.is_empty() {
        return None;
    }
    let text = std::str::from_utf8(payload).ok()?.trim_start();
    let rest = text.strip_prefix('{')?;
    serde_json::value::RawValue::from_string(format!("{{\"seq\":{seq},{rest}")).ok()
}

#[cfg(test)]
mod tests {
    use super::{redacted_url, with_seq};

    #[test]
    fn credentials_in_nats_urls_are_redacted() {
        assert_eq!(
            redacted_url("nats://ann:s3cret@n1:4222,nats://tok@n2:4222/x,nats://n3:4222"),
            "nats://***@n1:4222,nats://***@n2:4222/x,nats://n3:4222"
        );
        assert_eq!(redacted_url("u:p@localhost"), "***@localhost");
        assert_eq!(
            redacted_url("nats://127.0.0.1:4222"),
            "nats://127.0.0.1:4222"
        );
    }

    #[test]
    fn seq_comes_first_and_the_rest_is_as_stored() {
        let stored = br#"{"v":1,"id":"x","data":{"a":[1, 2]}}"#;
        assert_eq!(
            with_seq(7, stored).unwrap().get(),
            r#"{"seq":7,"v":1,"id":"x","data":{"a":[1, 2]}}"#
        );
        assert_eq!(
            with_seq(8, b"  {\"v\":1}").unwrap().get(),
            r#"{"seq":8,"v":1}"#
        );
    }

    #[test]
    fn payloads_that_are_not_objects_with_fields_are_left_out() {
        assert!(with_seq(1, b"{}").is_none());
        assert!(with_seq(1, b"[1]").is_none());
        assert!(with_seq(1, b"not json").is_none());
    }
}
