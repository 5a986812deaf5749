//! The real-time core: everything about live connections that is not a wire format. `ws/` and
//! `socketio/` decode their frames into [`client::ClientEvent`]s and encode [`event::ServerEvent`]s;
//! the rest is here, shared by both.
//!
//! # Layout
//! - [`client`]: the client events, decoded from a name and a `data` object.
//! - [`event`]: typed server events, each encoded once per wire format.
//! - [`session`]: one authenticated socket: commands, live delivery, `resume`, expiry, the
//!   slow-consumer rule, over a codec's [`session::Transport`].
//! - [`registry`]: this node's sockets, rooms and bounded per-socket queues.
//! - [`plan`]: which sockets each folded event reaches (live and on `resume`).
//! - [`presence`]: who is online across nodes; [`typing`]: typing indicators from the typing stream.

pub mod client;
pub mod event;
pub mod plan;
pub mod presence;
pub mod registry;
pub mod session;
pub mod typing;

use crate::auth::{AuthError, Caller};
use crate::state::AppState;
use concierge_events::Role;
use presence::Presence;
use registry::Registry;
use std::net::IpAddr;
use std::time::Duration;

/// The largest client message either codec takes (a `/ws` frame, an Engine.IO packet).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// How long a connection may stay unauthenticated before its `authenticate` event.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(10);

/// The core's shared parts: this node's sockets and the cluster's presence.
#[derive(Default)]
pub struct Realtime {
    pub registry: Registry,
    pub presence: Presence,
}

/// Why a connection may not be served.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// No token, or a bad one.
    #[error(transparent)]
    Unauthorized(#[from] AuthError),
    /// A service token: the platform's back end has no socket.
    #[error("service tokens cannot open sockets")]
    ServiceToken,
}

/// Judges the token a connection presented; a refused token counts toward `peer`'s failed
/// authentications.
///
/// # Errors
/// [`Refusal::Unauthorized`] for a missing or bad token, [`Refusal::ServiceToken`].
pub fn admit(
    app: &AppState,
    presented: Result<&str, AuthError>,
    peer: IpAddr,
) -> Result<Caller, Refusal> {
    let verified = presented.and_then(|t| app.keys.verify(t));
    match verified {
        Ok(c) if c.role == Role::Service => Err(Refusal::ServiceToken),
        Ok(c) => Ok(c),
        Err(e) => {
            if e.counts_as_failure() {
                app.auth_failures.failed(peer);
            }
            Err(Refusal::Unauthorized(e))
        }
    }
}

/// Subscribes to a core NATS subject, retrying each second until it works or shutdown (`None`).
pub(crate) async fn subscribe(
    client: &async_nats::Client,
    subject: &'static str,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> Option<async_nats::Subscriber> {
    loop {
        match client.subscribe(subject).await {
            Ok(s) => return Some(s),
            Err(e) => {
                tracing::warn!(error = %e, subject, "cannot subscribe yet");
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = shutdown.changed() => return None,
                }
            }
        }
    }
}
