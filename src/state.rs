//! The one shared state of a node, built in one place and handed to every handler.

use crate::auth::JwtKeys;
use crate::config::Config;
use crate::log::EventLog;
use crate::projection::Progress;
use crate::ratelimit::{AuthFailures, UserBudget};
use crate::realtime::registry::Registry;
use crate::realtime::Realtime;
use concierge_projections::ViewStore;
use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub keys: Arc<JwtKeys>,
    pub log: EventLog,
    pub views: ViewStore,
    pub progress: Arc<Progress>,
    pub send_limiter: Arc<UserBudget>,
    pub write_limiter: Arc<UserBudget>,
    pub auth_failures: Arc<AuthFailures>,
    pub metrics: Option<PrometheusHandle>,
    pub realtime: Arc<Realtime>,
    /// The Socket.IO codec's long-polling sessions.
    pub engine_io: Arc<crate::socketio::engine::Sessions>,
    /// Uploads: their bucket, URL signer and decoding bound.
    pub attachments: Arc<crate::attachments::Attachments>,
    /// Message search: its index and its projection's progress.
    pub search: Arc<crate::search::Search>,
    /// The drain on SIGTERM: `/ready`, socket refusals and the sockets told to go read it.
    pub drain: Arc<crate::drain::Drain>,
}

impl AppState {
    pub fn new(
        config: Config,
        log: EventLog,
        views: ViewStore,
        progress: Arc<Progress>,
        search: crate::search::Search,
        metrics: Option<PrometheusHandle>,
    ) -> AppState {
        AppState {
            keys: Arc::new(JwtKeys::new(&config.jwt_secret)),
            send_limiter: Arc::new(UserBudget::per_user(config.send_rate_limit)),
            write_limiter: Arc::new(UserBudget::per_user(config.write_rate_limit)),
            auth_failures: Arc::new(AuthFailures::new(config.auth_failure_limit)),
            attachments: Arc::new(crate::attachments::Attachments {
                files: crate::attachments::files::Files::new(
                    log.client(),
                    &config.attachments.bucket,
                    config.log.stream_replicas,
                ),
                signer: crate::attachments::sign::UrlSigner::new(
                    &config.jwt_secret,
                    config.attachments.url_ttl,
                ),
                decode: tokio::sync::Semaphore::new(crate::attachments::DECODES_AT_ONCE),
                unreferenced: Default::default(),
            }),
            realtime: Arc::new(Realtime {
                registry: Registry::new(config.socket_queue),
                presence: Default::default(),
            }),
            config: Arc::new(config),
            log,
            views,
            progress,
            search: Arc::new(search),
            metrics,
            engine_io: Arc::default(),
            drain: Arc::default(),
        }
    }
}
