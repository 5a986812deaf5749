//! The one shared state of a node, built in one place and handed to every handler.

use crate::auth::JwtKeys;
use crate::config::Config;
use crate::projection::Progress;
use crate::ratelimit::SendLimiter;
use crate::store::EventLog;
use crate::ws::Gateway;
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
    pub send_limiter: Arc<SendLimiter>,
    pub metrics: Option<PrometheusHandle>,
    pub gateway: Arc<Gateway>,
}

impl AppState {
    pub fn new(
        config: Config,
        log: EventLog,
        views: ViewStore,
        progress: Arc<Progress>,
        metrics: Option<PrometheusHandle>,
    ) -> AppState {
        AppState {
            keys: Arc::new(JwtKeys::new(&config.jwt_secret)),
            send_limiter: Arc::new(SendLimiter::new(config.send_rate_limit)),
            config: Arc::new(config),
            log,
            views,
            progress,
            metrics,
            gateway: Arc::new(Gateway::default()),
        }
    }
}
