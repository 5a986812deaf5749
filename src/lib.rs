//! Concierge: real-time messaging about bookings on an event log. The library holds everything
//! the `concierge` binary runs; it is a library so that fuzz targets and benchmarks can reach the
//! validators and parsers directly.
//!
//! # Layout
//! - [`config`]: flags and environment, checked once.
//! - [`auth`]: JWT verification (the `Caller` extractor) and minting (`concierge token`).
//! - [`log`]: the JetStream event log, NATS credentials and TLS, and the supervised local
//!   nats-server.
//! - [`projection`]: the one worker that folds the log into each projection of a node: its sled
//!   views and its [`search`] index (message search, docs/search.md).
//! - [`command`]: the write rules (check against the views, publish, wait for the fold), shared by
//!   every transport.
//! - [`http`]: the REST API, one file per resource, and the embedded web UI (`ui/`);
//!   [`render`]: views as a caller sees them.
//! - [`history`]: a conversation as it stood at a moment, folded from the log.
//! - [`realtime`]: the real-time core, no wire format: sockets and rooms, delivery plans, presence,
//!   typing, resume, per-socket queues.
//! - [`ws`]: the `/ws` codec (docs/websocket.md) and [`socketio`]: the Socket.IO codec (docs/socketio.md),
//!   both thin, over the core.
//! - [`ratelimit`]: the per-user send budget; [`state`]: the one `AppState`.
//! - [`cli`]: the operator commands `rebuild`, `replay` and `tail`; [`doctor`]: `concierge doctor`'s
//!   checks of the settings, NATS, the streams, the clock and the disk.
//! - [`drain`]: draining a node on SIGTERM: readiness, refused and closed sockets, the wait.
//! - [`tls`]: HTTPS with `TLS_CERT` and `TLS_KEY`, reloading the certificate when it changes.
//! - [`attachments`]: uploads in JetStream's object store: what a file is from its bytes, streaming
//!   it in, signed URLs, the sweeper.
//! - [`snooze`]: the snooze waker, which writes `conversation_woken` when a snooze's time comes.

pub mod attachments;
pub mod auth;
pub mod cli;
pub mod command;
pub mod config;
pub mod doctor;
pub mod drain;
pub mod history;
pub mod http;
pub mod log;
pub mod projection;
pub mod ratelimit;
pub mod realtime;
pub mod render;
pub mod search;
pub mod snooze;
pub mod socketio;
pub mod state;
pub mod tls;
pub mod webhooks;
pub mod ws;

/// Everything a node serves over HTTP: the REST API, `/ws` and Socket.IO, side by side.
pub fn app(state: state::AppState) -> axum::Router {
    http::app(state, ws::routes().merge(socketio::routes()))
}
