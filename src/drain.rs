//! Draining a node on SIGTERM or SIGINT (docs/operations.md, "Draining a node"): from the moment
//! [`Drain::begin`] is called `/ready` answers 503, new sockets are refused, and every open socket is
//! told to reconnect elsewhere once the command it is running (if any) has answered. HTTP requests
//! go on being served until the listener closes, which is once every socket is gone.
//!
//! Every connection of either codec holds a [`Connection`] from its upgrade or Engine.IO handshake
//! until its task ends, so that the node waits for the sockets it told to go (a WebSocket's close
//! frame, a long-polling client's last fetch) and for handshakes still under way.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// What `/ready`, a refused socket and a drained Socket.IO socket are told.
pub const DRAINING: &str = "server is draining: reconnect";

/// This node's drain: when it began, and the connections still open.
pub struct Drain {
    began: watch::Sender<Option<Instant>>,
    open: AtomicUsize,
    /// The last connection ended.
    idle: Notify,
}

impl Default for Drain {
    fn default() -> Drain {
        Drain {
            began: watch::Sender::new(None),
            open: AtomicUsize::new(0),
            idle: Notify::new(),
        }
    }
}

impl Drain {
    /// Starts the drain; idempotent.
    pub fn begin(&self) {
        self.began.send_if_modified(|began| {
            let first = began.is_none();
            began.get_or_insert_with(Instant::now);
            first
        });
    }

    pub fn is_draining(&self) -> bool {
        self.began.borrow().is_some()
    }

    /// When the drain began, once it has: at once if it has. Cancel safe.
    pub async fn began(&self) -> Instant {
        let mut began = self.began.subscribe();
        let at = match began.wait_for(Option::is_some).await {
            Ok(at) => *at,
            // The sender lives as long as `self`.
            Err(_) => None,
        };
        at.unwrap_or_else(Instant::now)
    }

    /// Counts a connection as open until the returned guard drops.
    pub fn connection(self: &Arc<Self>) -> Connection {
        self.open.fetch_add(1, Ordering::SeqCst);
        Connection(self.clone())
    }

    /// Connections (sockets, and handshakes under way) still open.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Resolves once no connection is open. Cancel safe.
    pub async fn idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.open() == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// One open connection, counted by [`Drain::open`] until dropped.
pub struct Connection(Arc<Drain>);

impl Drop for Connection {
    fn drop(&mut self) {
        if self.0.open.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn idle_waits_for_the_last_connection() {
        let drain = Arc::new(Drain::default());
        assert!(!drain.is_draining());
        let (a, b) = (drain.connection(), drain.connection());
        drain.begin();
        drain.began().await;
        assert!(drain.is_draining());
        drop(a);
        let waiting = tokio::time::timeout(Duration::from_millis(50), drain.idle()).await;
        assert!(waiting.is_err(), "one connection is still open");
        let idle = tokio::spawn({
            let drain = drain.clone();
            async move { drain.idle().await }
        });
        drop(b);
        tokio::time::timeout(Duration::from_secs(1), idle)
            .await
            .expect("idle once the last connection ends")
            .unwrap();
    }
}
