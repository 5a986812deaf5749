//! The server's settings: read once from flags and the environment, checked before anything starts.

use crate::realtime::registry::QueueLimits;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// The least `SOCKET_QUEUE_BYTES` may be: a few of the largest events a socket may be sent.
pub const MIN_SOCKET_QUEUE_BYTES: usize = 64 * 1024;

#[derive(Debug, Parser)]
#[command(
    name = "concierge",
    version,
    about = "Real-time messaging about bookings, on an event log"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server and the projection worker.
    Serve(ServeArgs),
    /// Print a JWT signed with JWT_SECRET, to try the API by hand.
    Token(TokenArgs),
    /// Wipe this node's views (or, with --search, its search index) and fold the whole log into
    /// them again (stop the node first).
    Rebuild(RebuildArgs),
    /// Print a conversation as a transcript, as it stood at a moment.
    Replay(ReplayArgs),
    /// Print the event log as JSON lines (one event per line, with its seq) as it grows.
    Tail(TailArgs),
    /// Print the HTTP API's OpenAPI 3.1 document (what a node serves at /openapi.json).
    Openapi,
    /// Let a node that stopped before an event it cannot fold pass over it (its views will lack
    /// that event); the node picks the decision up within a second, running or not.
    Skip(SkipArgs),
    /// Check the settings, NATS, the streams, the clock and the disk; one line per check.
    Doctor(DoctorArgs),
    /// List the webhook deliveries that failed until WEBHOOK_MAX_AGE, or send one again.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
}

/// `concierge webhooks …` (docs/webhooks.md, "Dead letters").
#[derive(Debug, Clone, Subcommand)]
pub enum WebhooksCommand {
    /// Print the dead letters, oldest failure first: one JSON object a line (`--table` for people).
    Failed {
        /// One line per dead letter in columns: id, failed at, attempts, type, endpoint, last error.
        #[arg(long)]
        table: bool,
        #[command(flatten)]
        log: LogArgs,
    },
    /// Queue the dead letter ID again: same webhook-id and body, a new WEBHOOK_MAX_AGE from now.
    Redeliver {
        /// The delivery's id (`msg_…`), as `failed` prints it.
        id: String,
        #[command(flatten)]
        log: LogArgs,
    },
}

/// `concierge doctor`: every setting `serve` reads, and its own thresholds.
#[derive(Debug, Clone, Args)]
pub struct DoctorArgs {
    /// Free space on DATA_DIR's file system under which doctor warns, in MiB.
    #[arg(long, env = "DOCTOR_MIN_FREE_MB", default_value_t = 1024)]
    pub min_free_mb: u64,
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// Where the log and the views are: the settings `serve` and every operator command share, so that a
/// command run beside a node with the node's environment uses the node's streams.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// The node's data folder: its views and, without NATS_URL, its local nats-server's store.
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// NATS to use (a cluster's servers comma separated); unset: the node's local nats-server from
    /// PATH (an operator command starts it for its duration: the node must be stopped).
    #[arg(long, env = "NATS_URL")]
    pub nats_url: Option<String>,
    /// NATS credentials, TLS and the local store's key (src/log/connect.rs).
    #[command(flatten)]
    pub nats: crate::log::connect::NatsArgs,
    /// Name of the event log stream.
    #[arg(long, env = "STREAM_NAME", default_value = "CONCIERGE")]
    pub stream_name: String,
    /// Name of the typing stream.
    #[arg(long, env = "TYPING_STREAM_NAME", default_value = "CONCIERGE_TYPING")]
    pub typing_stream_name: String,
    /// Replicas of each stream Concierge creates (1 to 5): 1 for a single nats-server, 3 on a
    /// 3-node cluster so that losing one node loses no acknowledged write. Every node and operator
    /// command on one log must use the same value: creating the streams also updates them to it.
    #[arg(long, env = "STREAM_REPLICAS", default_value_t = 1,
          value_parser = clap::value_parser!(u8).range(1..=5))]
    pub stream_replicas: u8,
    /// nats.conf for the local nats-server (default: the repo's, built in).
    #[arg(long, env = "NATS_CONF")]
    pub nats_conf: Option<PathBuf>,
    /// Seal the views on disk (they hold the messages' words) under this key: 64 hex digits (32
    /// bytes, e.g. `openssl rand -hex 32`). Setting, changing or removing it refolds the views from
    /// the log at the next start.
    #[arg(long, env = "VIEWS_KEY", hide_env_values = true)]
    pub views_key: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct RebuildArgs {
    /// Rebuild the search index (DATA_DIR/search) instead of the views.
    #[arg(long)]
    pub search: bool,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ReplayArgs {
    /// The conversation's id.
    #[arg(long)]
    pub conversation: String,
    /// An RFC 3339 time or a log seq; default: now.
    #[arg(long)]
    pub at: Option<String>,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    /// Only events of these types (repeat the flag, or separate with commas).
    #[arg(long = "type", value_delimiter = ',')]
    pub types: Vec<String>,
    /// Start after this seq (0: from the beginning); default: only new events.
    #[arg(long)]
    pub since: Option<u64>,
    #[command(flatten)]
    pub log: LogArgs,
}

/// Settings of `concierge serve`; each flag may also come from the environment variable it names.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// TCP port of the HTTP and WebSocket listener.
    #[arg(long, env = "PORT", default_value_t = 3000)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    pub host: String,
    /// HTTPS: TLS_CERT and TLS_KEY (src/tls.rs).
    #[command(flatten)]
    pub tls: crate::tls::TlsArgs,
    /// HS256 secret for tokens; required unless --dev.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// The browser origin allowed by CORS.
    #[arg(long, env = "CLIENT_URL", default_value = "http://localhost:5173")]
    pub client_url: String,
    /// Message sends per user per 10 s on this node; 0 turns the limit off.
    #[arg(long, env = "SEND_RATE_LIMIT", default_value_t = 20)]
    pub send_rate_limit: u32,
    /// Other writes (edits, deletes, reactions, status changes, typing) per user per 10 s on this
    /// node; 0 turns the limit off. Default: three times SEND_RATE_LIMIT (60; off when sends are).
    #[arg(long, env = "WRITE_RATE_LIMIT")]
    pub write_rate_limit: Option<u32>,
    /// Failed authentications per client address per minute before it is refused for a while
    /// (429); 0 turns the limit off.
    #[arg(long, env = "AUTH_FAILURE_LIMIT", default_value_t = 10)]
    pub auth_failure_limit: u32,
    /// Bytes of encoded events one socket may have queued and still count as keeping up (at least
    /// 65536). A socket that stays over it for SLOW_CONSUMER_GRACE_MS is closed as too slow, and
    /// one that reaches four times it is closed at once.
    #[arg(long, env = "SOCKET_QUEUE_BYTES", default_value_t = QueueLimits::DEFAULT_BOUND)]
    pub socket_queue_bytes: usize,
    /// How long, in milliseconds, a socket's queue may stay over SOCKET_QUEUE_BYTES before the
    /// socket is closed as too slow.
    #[arg(long, env = "SLOW_CONSUMER_GRACE_MS", default_value_t = 5000)]
    pub slow_consumer_grace_ms: u64,
    /// How often, in milliseconds (1 to 60000), the views folded in memory are written to disk,
    /// atomically with their checkpoint. A crash loses at most this much of the views, which the
    /// node folds again from the log when it starts.
    #[arg(long, env = "VIEWS_PERSIST_MS", default_value_t = 200,
          value_parser = clap::value_parser!(u64).range(1..=60_000))]
    pub views_persist_ms: u64,
    /// While the search index catches up with the log, it commits after this many events (100 to
    /// 10000000) or 5 s, whichever comes first: fewer means less to index again after a crash, and
    /// more, smaller segments to merge (docs/search.md).
    #[arg(long, env = "SEARCH_COMMIT_EVENTS", default_value_t = 200_000,
          value_parser = clap::value_parser!(u64).range(100..=10_000_000))]
    pub search_commit_events: u64,
    /// The highest event schema level this node folds and announces (default: every level this
    /// build knows). Set lower only to rehearse a rolling upgrade: the node then acts as a build
    /// that knows only that level (docs/operations.md, "Rolling upgrades").
    #[arg(long, env = "EVENT_LEVEL", default_value_t = concierge_events::EVENT_LEVEL,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(concierge_events::EVENT_LEVEL)))]
    pub event_level: u32,
    /// Seconds (1 to 3600) a node drains on SIGTERM or SIGINT before it exits anyway, cutting
    /// what is left (docs/operations.md, "Draining a node").
    #[arg(long, env = "DRAIN_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub drain_secs: u64,
    /// The first-response target in seconds (1 to 2592000): `/messaging/stats` counts the
    /// conversations whose first response took, or has been waiting, longer.
    #[arg(long, env = "SLA_FIRST_RESPONSE_SECS", default_value_t = 300,
          value_parser = clap::value_parser!(u64).range(1..=2_592_000))]
    pub sla_first_response_secs: u64,
    /// Development mode: generates a JWT secret when none is set and mounts the /test routes.
    #[arg(long)]
    pub dev: bool,
    /// How log lines are written: `text` for people, `json` (one object a line) for collectors.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Uploads: their bucket, size limit, URL lifetime and sweeper.
    #[command(flatten)]
    pub attachments: AttachmentArgs,
    /// Webhooks to the booking platform (docs/webhooks.md).
    #[command(flatten)]
    pub webhooks: WebhookArgs,
    #[command(flatten)]
    pub log: LogArgs,
}

/// Settings of webhooks (docs/webhooks.md); none are read without WEBHOOK_URL.
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Endpoints that receive the webhooks (http or https URLs, comma separated); unset: no
    /// webhooks, at no cost.
    #[arg(long, env = "WEBHOOK_URL", value_delimiter = ',')]
    pub webhook_url: Vec<String>,
    /// The signing secret, `whsec_` and the base64 of at least 24 random bytes (e.g.
    /// `echo whsec_$(openssl rand -base64 32)`); required with WEBHOOK_URL.
    #[arg(long, env = "WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
    /// Log event types also sent as they happen, comma separated (e.g. `message_sent`); default none.
    #[arg(long, env = "WEBHOOK_EVENTS", value_delimiter = ',')]
    pub webhook_events: Vec<String>,
    /// Seconds (1 to 86400) after a message reached someone offline before `notification.unread`
    /// tells the platform, if they have still not read it.
    #[arg(long, env = "NOTIFY_AFTER_SECS", default_value_t = 60,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub notify_after_secs: u64,
    /// Seconds (1 to 30 days) a delivery is retried before it becomes a dead letter.
    #[arg(long, env = "WEBHOOK_MAX_AGE", default_value_t = 86_400,
          value_parser = clap::value_parser!(u64).range(1..=30 * 86_400))]
    pub webhook_max_age: u64,
    /// Milliseconds (10 to 3600000) before the first retry of a failed delivery; each next pause
    /// doubles, up to an hour, less a random part of up to half.
    #[arg(long, env = "WEBHOOK_FIRST_RETRY_MS", default_value_t = 5000,
          value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    pub webhook_first_retry_ms: u64,
}

impl WebhookArgs {
    /// The checked settings; `None` without WEBHOOK_URL.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the setting.
    pub fn check(self) -> Result<Option<crate::webhooks::WebhookConfig>, ConfigError> {
        let urls: Vec<String> = self
            .webhook_url
            .iter()
            .map(|u| u.trim().to_string())
            .filter(|u| !u.is_empty())
            .collect();
        if urls.is_empty() {
            return Ok(None);
        }
        for url in &urls {
            let parsed =
                reqwest::Url::parse(url).map_err(|_| ConfigError::BadWebhookUrl(url.clone()))?;
            if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
                return Err(ConfigError::BadWebhookUrl(url.clone()));
            }
        }
        let mut unique = urls.clone();
        unique.sort();
        unique.dedup();
        if unique.len() != urls.len() {
            return Err(ConfigError::RepeatedWebhookUrl);
        }
        let secret = self
            .webhook_secret
            .filter(|s| !s.trim().is_empty())
            .ok_or(ConfigError::MissingWebhookSecret)?;
        let secret = crate::webhooks::sign::Secret::parse(&secret)?;
        let mut events = Vec::new();
        for t in self
            .webhook_events
            .iter()
            .map(|t| t.trim())
            .filter(|t| !t.is_empty())
        {
            if !concierge_events::KNOWN_TYPES.contains(&t) || t.starts_with("typing_") {
                return Err(ConfigError::UnknownWebhookEvent(t.to_string()));
            }
            events.push(t.to_string());
        }
        Ok(Some(crate::webhooks::WebhookConfig {
            urls,
            secret,
            events,
            notify_after: Duration::from_secs(self.notify_after_secs),
            max_age: Duration::from_secs(self.webhook_max_age),
            first_retry: Duration::from_millis(self.webhook_first_retry_ms),
        }))
    }
}

/// Settings of uploaded attachments (docs/attachments.md).
#[derive(Debug, Clone, Args)]
pub struct AttachmentArgs {
    /// The largest upload, in bytes (1 to 1 GiB); one byte more is refused with 413.
    #[arg(long, env = "MAX_ATTACHMENT_BYTES", default_value_t = 10 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1..=1024 * 1024 * 1024))]
    pub max_attachment_bytes: u64,
    /// How long a signed attachment URL stays valid, in seconds (1 to 7 days); every read of a
    /// message signs its URLs anew.
    #[arg(long, env = "ATTACHMENT_URL_TTL", default_value_t = 3600,
          value_parser = clap::value_parser!(u64).range(1..=7 * 86_400))]
    pub attachment_url_ttl: u64,
    /// Seconds after which an upload no message uses is removed (1 to 30 days).
    #[arg(long, env = "ATTACHMENT_ORPHAN_TTL", default_value_t = 86_400,
          value_parser = clap::value_parser!(u64).range(1..=30 * 86_400))]
    pub attachment_orphan_ttl: u64,
    /// How often, in seconds (1 to 86400), the sweeper removes the files of deleted messages,
    /// orphaned uploads and the chunks of uploads cut off midway.
    #[arg(long, env = "ATTACHMENT_SWEEP_SECS", default_value_t = 600,
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub attachment_sweep_secs: u64,
    /// Name of the object store bucket of uploads (its stream is `OBJ_<name>`).
    #[arg(long, env = "ATTACHMENT_BUCKET", default_value = "CONCIERGE_FILES")]
    pub attachment_bucket: String,
}

/// The checked [`AttachmentArgs`].
#[derive(Debug, Clone)]
pub struct AttachmentConfig {
    pub max_bytes: u64,
    pub url_ttl: Duration,
    pub orphan_ttl: Duration,
    pub sweep_every: Duration,
    pub bucket: String,
}

#[derive(Debug, Clone, Args)]
pub struct SkipArgs {
    /// The log sequence of the event to pass over (the one `/ready` names).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub seq: u64,
    /// The node's settings; skip uses DATA_DIR.
    #[command(flatten)]
    pub log: LogArgs,
}

/// `LOG_FORMAT`: the format of `serve`'s log lines (on stdout; `RUST_LOG` filters them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    /// The user id (`sub`).
    #[arg(long)]
    pub sub: String,
    /// customer, admin or service.
    #[arg(long)]
    pub role: String,
    /// Display name.
    #[arg(long)]
    pub name: Option<String>,
    /// Booking ids the customer owns, comma separated.
    #[arg(long, value_delimiter = ',')]
    pub bookings: Vec<String>,
    /// Lifetime in seconds.
    #[arg(long, default_value_t = 3600)]
    pub ttl: u64,
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
}

/// A setting that makes the server refuse to start; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("JWT_SECRET is not set: set JWT_SECRET to the HS256 secret shared with the booking platform (or run with --dev)")]
    MissingJwtSecret,
    #[error("JWT_SECRET is empty")]
    EmptyJwtSecret,
    #[error("CLIENT_URL is not a valid origin: {0}")]
    BadClientUrl(String),
    #[error("{0} must be a NATS stream name (letters, digits, - and _)")]
    BadStreamName(&'static str),
    #[error("STREAM_NAME and TYPING_STREAM_NAME must differ")]
    SameStreamNames,
    #[error("ATTACHMENT_BUCKET must be a bucket name (letters, digits, - and _)")]
    BadBucketName,
    #[error("SOCKET_QUEUE_BYTES must be at least {MIN_SOCKET_QUEUE_BYTES}, not {0}")]
    SocketQueueTooSmall(usize),
    #[error("VIEWS_KEY must be 64 hex digits (32 bytes, e.g. `openssl rand -hex 32`)")]
    BadViewsKey,
    #[error("WEBHOOK_SECRET is not set: it is required with WEBHOOK_URL (`whsec_` and the base64 of at least 24 random bytes, e.g. `echo whsec_$(openssl rand -base64 32)`)")]
    MissingWebhookSecret,
    #[error(transparent)]
    BadWebhookSecret(#[from] crate::webhooks::sign::SecretError),
    #[error("WEBHOOK_URL holds {0:?}, which is not an http or https URL")]
    BadWebhookUrl(String),
    #[error("WEBHOOK_URL names one endpoint twice")]
    RepeatedWebhookUrl,
    #[error("WEBHOOK_EVENTS holds {0:?}, which is not a log event type (docs/events.md lists them; typing is not in the log)")]
    UnknownWebhookEvent(String),
    #[error(transparent)]
    Nats(#[from] crate::log::connect::NatsConfigError),
    #[error(transparent)]
    Tls(#[from] crate::tls::TlsConfigError),
}

/// VIEWS_KEY: the 32-byte key the views are sealed under. Never printed.
#[derive(Clone)]
pub struct ViewsKey(pub [u8; 32]);

impl std::fmt::Debug for ViewsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ViewsKey(..)")
    }
}

impl ViewsKey {
    /// The key from 64 hex digits; an empty setting is no key.
    ///
    /// # Errors
    /// [`ConfigError::BadViewsKey`], which does not repeat the value.
    pub fn parse(setting: Option<&str>) -> Result<Option<ViewsKey>, ConfigError> {
        let Some(hex) = setting.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ConfigError::BadViewsKey);
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                .map_err(|_| ConfigError::BadViewsKey)?;
        }
        Ok(Some(ViewsKey(key)))
    }
}

/// The checked settings the server runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub port: u16,
    pub host: String,
    /// HTTPS's certificate and key files (TLS_CERT, TLS_KEY); `None`: plain HTTP.
    pub tls: Option<crate::tls::TlsFiles>,
    pub jwt_secret: String,
    /// True when the secret was generated because --dev ran without one.
    pub jwt_secret_generated: bool,
    pub client_url: String,
    pub send_rate_limit: u32,
    pub write_rate_limit: u32,
    pub auth_failure_limit: u32,
    /// Each socket's queue bound and grace (SOCKET_QUEUE_BYTES, SLOW_CONSUMER_GRACE_MS).
    pub socket_queue: QueueLimits,
    /// How often the views folded in memory are persisted (VIEWS_PERSIST_MS).
    pub views_persist: Duration,
    /// The search index's commit bound while catching up (SEARCH_COMMIT_EVENTS).
    pub search_commit_events: u64,
    /// The event schema level this node folds (EVENT_LEVEL).
    pub event_level: u32,
    /// The longest a drain may take (DRAIN_SECS).
    pub drain: Duration,
    /// The first-response target of the stats (SLA_FIRST_RESPONSE_SECS).
    pub sla_first_response: Duration,
    pub dev: bool,
    /// Uploads (MAX_ATTACHMENT_BYTES, ATTACHMENT_*).
    pub attachments: AttachmentConfig,
    /// Webhooks (WEBHOOK_*, NOTIFY_AFTER_SECS); `None` without WEBHOOK_URL.
    pub webhooks: Option<crate::webhooks::WebhookConfig>,
    /// Where the log and the views are.
    pub log: LogConfig,
}

/// The checked [`LogArgs`]: what `serve` and every operator command connect to.
#[derive(Debug, Clone)]
pub struct LogConfig {
    pub data_dir: PathBuf,
    /// NATS_URL without its credentials, which are in `nats`; `None` when unset or empty: the
    /// node's local nats-server.
    pub nats_url: Option<String>,
    /// NATS credentials, TLS and the local store's key.
    pub nats: crate::log::connect::NatsSecurity,
    pub stream_name: String,
    pub typing_stream_name: String,
    /// Replicas of the streams (1..=5, checked by the flag's parser).
    pub stream_replicas: u8,
    pub nats_conf: Option<PathBuf>,
    /// The key the views are sealed under (VIEWS_KEY), if any.
    pub views_key: Option<ViewsKey>,
}

impl LogArgs {
    /// Checks the stream names, the views' key and the NATS settings (reading their files).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the setting.
    pub fn check(self) -> Result<LogConfig, ConfigError> {
        let valid_stream = |s: &str| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        };
        if !valid_stream(&self.stream_name) {
            return Err(ConfigError::BadStreamName("STREAM_NAME"));
        }
        if !valid_stream(&self.typing_stream_name) {
            return Err(ConfigError::BadStreamName("TYPING_STREAM_NAME"));
        }
        if self.stream_name == self.typing_stream_name {
            return Err(ConfigError::SameStreamNames);
        }
        let views_key = ViewsKey::parse(self.views_key.as_deref())?;
        let nats_url = self.nats_url.filter(|u| !u.trim().is_empty());
        let (nats_url, nats) = self
            .nats
            .check(nats_url.as_deref(), self.nats_conf.as_deref())?;
        Ok(LogConfig {
            data_dir: self.data_dir,
            nats_url,
            nats,
            stream_name: self.stream_name,
            typing_stream_name: self.typing_stream_name,
            stream_replicas: self.stream_replicas,
            nats_conf: self.nats_conf,
            views_key,
        })
    }
}

impl ServeArgs {
    /// Checks the settings and fills in what `--dev` may generate.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the setting that is missing or wrong.
    pub fn check(self) -> Result<Config, ConfigError> {
        let (jwt_secret, generated) = match (self.jwt_secret, self.dev) {
            (Some(s), _) if s.is_empty() => return Err(ConfigError::EmptyJwtSecret),
            (Some(s), _) => (s, false),
            (None, true) => (format!("dev-{}", ulid::Ulid::new()), true),
            (None, false) => return Err(ConfigError::MissingJwtSecret),
        };
        if axum::http::HeaderValue::from_str(&self.client_url).is_err()
            || self.client_url.is_empty()
        {
            return Err(ConfigError::BadClientUrl(self.client_url));
        }
        let log = self.log.check()?;
        let tls = self.tls.check()?;
        let webhooks = self.webhooks.check()?;
        let a = self.attachments;
        if a.attachment_bucket.is_empty()
            || !a
                .attachment_bucket
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(ConfigError::BadBucketName);
        }
        let attachments = AttachmentConfig {
            max_bytes: a.max_attachment_bytes,
            url_ttl: Duration::from_secs(a.attachment_url_ttl),
            orphan_ttl: Duration::from_secs(a.attachment_orphan_ttl),
            sweep_every: Duration::from_secs(a.attachment_sweep_secs),
            bucket: a.attachment_bucket,
        };
        if self.socket_queue_bytes < MIN_SOCKET_QUEUE_BYTES {
            return Err(ConfigError::SocketQueueTooSmall(self.socket_queue_bytes));
        }
        Ok(Config {
            port: self.port,
            host: self.host,
            tls,
            jwt_secret,
            jwt_secret_generated: generated,
            client_url: self.client_url,
            send_rate_limit: self.send_rate_limit,
            write_rate_limit: self
                .write_rate_limit
                .unwrap_or(self.send_rate_limit.saturating_mul(3)),
            auth_failure_limit: self.auth_failure_limit,
            socket_queue: QueueLimits {
                bound: self.socket_queue_bytes,
                grace: Duration::from_millis(self.slow_consumer_grace_ms),
            },
            views_persist: Duration::from_millis(self.views_persist_ms),
            search_commit_events: self.search_commit_events,
            event_level: self.event_level,
            drain: Duration::from_secs(self.drain_secs),
            sla_first_response: Duration::from_secs(self.sla_first_response_secs),
            dev: self.dev,
            attachments,
            webhooks,
            log,
        })
    }
}
