//! Two server nodes on one NATS, for the cluster tests of both codecs (`ws_cluster`,
//! `socketio_cluster`): starting them, waiting for node B to catch up with node A, and polling
//! presence until it converges.

use super::{admin, conv_url, conversation, created, customer, data, get, id_of, open};
use super::{register_booking, App, AppOptions, Events, Nats};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Presence converges across nodes within this (WEBSOCKET.md, Guarantees).
pub const CONVERGENCE: Duration = Duration::from_secs(2);
/// How long a node may take to fold what another node wrote (a readiness wait, not an assertion).
pub const CATCH_UP: Duration = Duration::from_secs(10);

/// Two nodes sharing one NATS; dropped nodes first.
pub struct Cluster {
    pub a: App,
    pub b: App,
    _nats: Nats,
}

impl Cluster {
    pub async fn start(dev: bool) -> Cluster {
        let opts = AppOptions {
            dev,
            ..AppOptions::default()
        };
        Cluster::start_with(opts).await
    }

    /// Both nodes with `opts`.
    pub async fn start_with(opts: AppOptions) -> Cluster {
        let nats = Nats::start();
        let a = App::start_with(&nats, opts.clone()).await;
        let b = App::start_with(&nats, opts).await;
        Cluster { a, b, _nats: nats }
    }
}

/// Registers `booking` for `customer_id`, opens its conversation on node A and waits until node B
/// has folded it; returns the conversation id.
pub async fn conversation_on_both(c: &Cluster, customer_id: &str, booking: &str) -> String {
    data(
        register_booking(&c.a, booking, customer_id, None).await,
        201,
    );
    let conv = id_of(&created(
        open(&c.a, &customer(customer_id, &[]), booking).await,
    ));
    let token = admin("adm_probe");
    let deadline = Instant::now() + CATCH_UP;
    loop {
        let (status, _) = get(&conv_url(&c.b, &conv), &token).await;
        if status.as_u16() == 200 {
            return conv;
        }
        assert!(
            Instant::now() < deadline,
            "node B did not fold the conversation within {CATCH_UP:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The participant `user` of a Conversation.
pub fn participant(conv: &Value, user: &str) -> Value {
    conv["participants"]
        .as_array()
        .unwrap_or_else(|| panic!("no participants in {conv}"))
        .iter()
        .find(|p| p["userId"] == user)
        .unwrap_or_else(|| panic!("{user} is not a participant of {conv}"))
        .clone()
}

/// Polls GET conversation on `app` until `user`'s `online` is `online`; panics after `within`.
/// Returns the participant as last read.
pub async fn wait_online(
    app: &App,
    conv: &str,
    user: &str,
    online: bool,
    within: Duration,
) -> Value {
    let token = admin("adm_probe");
    let deadline = Instant::now() + within;
    loop {
        let p = participant(&conversation(app, &token, conv).await, user);
        if p["online"] == json!(online) {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "{user} not online={online} on {} within {within:?}: {p}",
            app.base()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Polls `/test/socket-status` until `pred` holds; panics after `within`.
pub async fn wait_status(app: &App, within: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let s = app.socket_status().await;
        if pred(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "socket status of {} did not converge within {within:?}: {s}",
            app.base()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether `v` is the presence event `event` about `user`.
pub fn presence_of(v: &Value, event: &str, user: &str) -> bool {
    v["event"] == event && v["data"]["userId"] == user
}

/// The next `event` (`user_online`/`user_offline`) about `user` within `within`, however long.
pub async fn next_presence(
    c: &mut impl Events,
    event: &str,
    user: &str,
    within: Duration,
) -> Value {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match c.next_within(left).await {
            Some(v) if presence_of(&v, event, user) => return v,
            Some(_) => continue,
            None => panic!(
                "no {event} for {user} within {within:?}; seen: {:#?}",
                c.seen()
            ),
        }
    }
}
