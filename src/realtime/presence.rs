//! Presence across nodes, on NATS presence events: each node announces the users it holds sockets for
//! (at once on a change, and every [`HEARTBEAT`]); a user is online while any live node lists them. A
//! node silent for [`NODE_TIMEOUT`] is dead and its users go offline. Every node sees the same
//! transitions and tells its own sockets.

use super::event::{Data, PresenceData, ServerEvent};
use super::registry::{Registry, Target};
use crate::state::AppState;
use concierge_events::{Role, Timestamp};
use concierge_projections::kv::KvRead;
use concierge_projections::{StoreError, Views};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

pub const HEARTBEAT: Duration = Duration::from_secs(2);
pub const NODE_TIMEOUT: Duration = Duration::from_secs(10);
const SUBJECT: &str = "concierge.presence";

#[derive(Debug, Serialize, Deserialize)]
struct Announcement {
    node: String,
    users: Vec<(String, Role)>,
    /// The highest event schema level the node folds; builds before levels existed fold level 1.
    #[serde(default = "first_level")]
    level: u32,
    /// The node's last announcement: it is stopping, so it no longer counts.
    #[serde(default)]
    leaving: bool,
    /// The node's first announcement: every other node answers with its own at once.
    #[serde(default)]
    hello: bool,
}

/// How long a starting node listens for the other nodes' answers to its hello before it counts as
/// knowing the cluster (and may be ready).
const SYNC_WINDOW: Duration = Duration::from_millis(300);

fn first_level() -> u32 {
    1
}

struct NodeState {
    users: HashMap<String, Role>,
    heard: Instant,
    level: u32,
}

#[derive(Default)]
struct State {
    nodes: HashMap<String, NodeState>,
    last_seen: HashMap<String, Timestamp>,
}

/// A user coming online or going offline, cluster-wide.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub user_id: String,
    pub role: Role,
    pub online: bool,
    pub at: Timestamp,
}

pub struct Presence {
    pub node: String,
    state: Mutex<State>,
    /// Raised when this node's set of users changed.
    pub local_changed: Notify,
    /// Set once the other nodes had [`SYNC_WINDOW`] to answer this node's hello.
    synced: std::sync::atomic::AtomicBool,
}

impl Presence {
    pub fn new() -> Presence {
        Presence {
            node: ulid::Ulid::new().to_string(),
            state: Mutex::new(State::default()),
            synced: std::sync::atomic::AtomicBool::new(false),
            local_changed: Notify::new(),
        }
    }

    fn online_roles(state: &State) -> HashMap<String, Role> {
        let mut out = HashMap::new();
        for n in state.nodes.values() {
            for (u, r) in &n.users {
                out.insert(u.clone(), *r);
            }
        }
        out
    }

    pub fn is_online(&self, user_id: &str) -> bool {
        self.state
            .lock()
            .map(|s| s.nodes.values().any(|n| n.users.contains_key(user_id)))
            .unwrap_or(false)
    }

    pub fn last_seen(&self, user_id: &str) -> Option<Timestamp> {
        self.state.lock().ok()?.last_seen.get(user_id).copied()
    }

    /// Online users cluster-wide with their roles.
    pub fn online(&self) -> HashMap<String, Role> {
        self.state
            .lock()
            .map(|s| Self::online_roles(&s))
            .unwrap_or_default()
    }

    /// Applies what `node` holds now (`None`: the node is gone) and returns the transitions.
    /// Whether this node has heard the other live nodes (their answers to its hello), so that
    /// [`Presence::lowest_level`] covers the cluster.
    pub fn is_synced(&self) -> bool {
        self.synced.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The lowest event schema level among the live nodes that have announced themselves and
    /// this one (`own`), with the node that has it.
    pub fn lowest_level(&self, own: u32) -> (u32, String) {
        let mut lowest = (own, self.node.clone());
        if let Ok(state) = self.state.lock() {
            for (node, n) in &state.nodes {
                if n.level < lowest.0 {
                    lowest = (n.level, node.clone());
                }
            }
        }
        lowest
    }

    fn update(
        &self,
        node: &str,
        users: Option<(HashMap<String, Role>, u32)>,
        now: Instant,
    ) -> Vec<Transition> {
        let Ok(mut state) = self.state.lock() else {
            return Vec::new();
        };
        let before = Self::online_roles(&state);
        match users {
            Some((users, level)) => {
                state.nodes.insert(
                    node.to_string(),
                    NodeState {
                        users,
                        heard: now,
                        level,
                    },
                );
            }
            None => {
                state.nodes.remove(node);
            }
        }
        let after = Self::online_roles(&state);
        let at = Timestamp::now();
        let mut out = Vec::new();
        for (u, r) in &after {
            if !before.contains_key(u) {
                out.push(Transition {
                    user_id: u.clone(),
                    role: *r,
                    online: true,
                    at,
                });
            }
        }
        for (u, r) in &before {
            if !after.contains_key(u) {
                state.last_seen.insert(u.clone(), at);
                out.push(Transition {
                    user_id: u.clone(),
                    role: *r,
                    online: false,
                    at,
                });
            }
        }
        out
    }

    /// Takes `lastSeen` times kept from before this node started; newer ones it saw itself win.
    fn remember(&self, user_id: String, at: Timestamp) {
        if let Ok(mut state) = self.state.lock() {
            state.last_seen.entry(user_id).or_insert(at);
        }
    }

    /// Drops nodes not heard from within [`NODE_TIMEOUT`].
    fn sweep(&self, now: Instant) -> Vec<Transition> {
        let dead: Vec<String> = self
            .state
            .lock()
            .map(|s| {
                s.nodes
                    .iter()
                    .filter(|(_, n)| now.duration_since(n.heard) > NODE_TIMEOUT)
                    .map(|(k, _)| k.clone())
                    .collect()
            })
            .unwrap_or_default();
        dead.iter()
            .flat_map(|node| {
                tracing::info!(%node, "node silent: its users go offline");
                self.update(node, None, now)
            })
            .collect()
    }
}

impl Default for Presence {
    fn default() -> Self {
        Presence::new()
    }
}

/// Tells this node's sockets about transitions: the admin room, and everyone who shares a
/// conversation with the user.
fn announce(app: &AppState, registry: &Registry, transitions: Vec<Transition>) {
    let views = app.views.views();
    for t in transitions {
        let mut targets = vec![Target::Admins];
        if let Err(e) = add_peers(&views, &t.user_id, &mut targets) {
            tracing::error!(
                user = %t.user_id,
                error = %e,
                "cannot read the views to find who shares a conversation; announcing to those found"
            );
        }
        let name = if t.online {
            "user_online"
        } else {
            "user_offline"
        };
        let event = ServerEvent::new(
            name,
            None,
            Data::Presence(PresenceData {
                user_id: t.user_id.clone(),
                role: t.role,
                at: t.at,
            }),
        );
        registry.send_to(&targets, Some(&t.user_id), &std::sync::Arc::new(event));
    }
}

/// Adds everyone who shares a conversation with `user_id` to `targets`.
///
/// # Errors
/// When the views cannot be read; the peers found before it are added.
fn add_peers<K: KvRead>(
    views: &Views<K>,
    user_id: &str,
    targets: &mut Vec<Target>,
) -> Result<(), StoreError> {
    for conv_id in views.conversations_of(user_id)? {
        if let Some(conv) = views.conversation(&conv_id)? {
            targets.extend(
                conv.participants
                    .iter()
                    .filter(|p| p.user_id != user_id)
                    .map(|p| Target::User(p.user_id.clone())),
            );
        }
    }
    Ok(())
}

fn bucket_key(user_id: &str) -> String {
    user_id.bytes().map(|b| format!("{b:02x}")).collect()
}

fn user_of(key: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..key.len())
        .step_by(2)
        .map(|i| {
            key.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    String::from_utf8(bytes?).ok()
}

/// Opens the `lastSeen` bucket and loads what it keeps; `None` (retried later) while unreachable.
async fn open_last_seen(
    app: &AppState,
    presence: &Presence,
) -> Option<async_nats::jetstream::kv::Store> {
    let bucket = tokio::time::timeout(Duration::from_secs(2), app.log.last_seen_bucket())
        .await
        .ok()?
        .map_err(|e| tracing::warn!(error = %e, "cannot open the lastSeen bucket yet"))
        .ok()?;
    if let Ok(mut keys) = bucket.keys().await {
        while let Some(Ok(key)) = keys.next().await {
            let Some(user) = user_of(&key) else { continue };
            let Ok(Some(value)) = bucket.get(key.as_str()).await else {
                continue;
            };
            if let Some(ms) = std::str::from_utf8(&value)
                .ok()
                .and_then(|v| v.parse().ok())
            {
                presence.remember(user, Timestamp(ms));
            }
        }
    }
    Some(bucket)
}

/// Writes the `lastSeen` of users who went offline, so a restarted node still knows it.
async fn keep_last_seen(
    bucket: Option<&async_nats::jetstream::kv::Store>,
    transitions: &[Transition],
) {
    let Some(bucket) = bucket else { return };
    for t in transitions.iter().filter(|t| !t.online) {
        let value = t.at.millis().to_string();
        if let Err(e) = bucket.put(bucket_key(&t.user_id), value.into()).await {
            tracing::warn!(error = %e, user = %t.user_id, "cannot keep lastSeen");
        }
    }
}

/// Runs presence for this node until shutdown; says goodbye (an empty announcement) at the end.
pub async fn run(app: AppState, mut shutdown: watch::Receiver<bool>) {
    let client = app.log.client();
    let core = app.realtime.clone();
    let presence = &core.presence;
    let Some(mut subscription) = super::subscribe(&client, SUBJECT, &mut shutdown).await else {
        return;
    };
    let level = app.progress.level();
    let publish = |users: Vec<(String, Role)>, leaving: bool, hello: bool| {
        let client = client.clone();
        let body = serde_json::to_vec(&Announcement {
            node: presence.node.clone(),
            users,
            level,
            leaving,
            hello,
        })
        .unwrap_or_default();
        async move {
            let _ = client.publish(SUBJECT, body.into()).await;
        }
    };
    publish(core.registry.local_users(), false, true).await;
    let synced = tokio::time::sleep(SYNC_WINDOW);
    tokio::pin!(synced);
    let mut tick = tokio::time::interval(HEARTBEAT);
    let mut bucket: Option<async_nats::jetstream::kv::Store> = None;
    loop {
        if bucket.is_none() && app.log.is_connected() {
            bucket = open_last_seen(&app, presence).await;
        }
        tokio::select! {
            msg = subscription.next() => {
                let Some(msg) = msg else { break };
                let Ok(a) = serde_json::from_slice::<Announcement>(&msg.payload) else { continue };
                if a.node == presence.node {
                    continue;
                }
                let hello = a.hello;
                let heard = (!a.leaving).then(|| (a.users.into_iter().collect(), a.level));
                let t = presence.update(&a.node, heard, Instant::now());
                keep_last_seen(bucket.as_ref(), &t).await;
                announce(&app, &core.registry, t);
                if hello {
                    publish(core.registry.local_users(), false, false).await;
                }
            }
            _ = presence.local_changed.notified() => {
                let users = core.registry.local_users();
                let t = presence.update(&presence.node, Some((users.iter().cloned().collect(), level)), Instant::now());
                keep_last_seen(bucket.as_ref(), &t).await;
                announce(&app, &core.registry, t);
                publish(users, false, false).await;
            }
            _ = &mut synced, if !presence.is_synced() => {
                presence.synced.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            _ = tick.tick() => {
                let users = core.registry.local_users();
                presence.update(&presence.node, Some((users.iter().cloned().collect(), level)), Instant::now());
                publish(users, false, false).await;
                let t = presence.sweep(Instant::now());
                keep_last_seen(bucket.as_ref(), &t).await;
                announce(&app, &core.registry, t);
            }
            _ = shutdown.changed() => break,
        }
    }
    publish(Vec::new(), true, false).await;
    let _ = client.flush().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_keys_round_trip_any_user_id() {
        for id in ["cus_7", "a.b:c@d-e", "X"] {
            let key = bucket_key(id);
            assert!(key.bytes().all(|b| b.is_ascii_hexdigit()), "{key}");
            assert_eq!(user_of(&key).as_deref(), Some(id));
        }
        assert_eq!(user_of("zz"), None);
    }

    #[test]
    fn a_node_going_silent_takes_its_users_offline() {
        let p = Presence::new();
        let start = Instant::now();
        let t = p.update(
            "n1",
            Some(([("u".to_string(), Role::Customer)].into(), 2)),
            start,
        );
        assert_eq!((t.len(), t[0].online), (1, true));
        assert!(p.sweep(start + NODE_TIMEOUT / 2).is_empty());
        let t = p.sweep(start + NODE_TIMEOUT + Duration::from_millis(1));
        assert_eq!((t.len(), t[0].online), (1, false));
        assert!(!p.is_online("u"));
        assert_eq!(p.last_seen("u"), Some(t[0].at));
        p.remember("u".into(), Timestamp(1));
        assert_eq!(p.last_seen("u"), Some(t[0].at), "a newer lastSeen wins");
    }

    #[test]
    fn the_lowest_level_is_that_of_the_oldest_live_node() {
        let p = Presence::new();
        let start = Instant::now();
        assert_eq!(p.lowest_level(2), (2, p.node.clone()));
        p.update("old", Some((HashMap::new(), 1)), start);
        p.update("new", Some((HashMap::new(), 2)), start);
        assert_eq!(p.lowest_level(2), (1, "old".to_string()));
        p.update("old", None, start);
        assert_eq!(
            p.lowest_level(2),
            (2, p.node.clone()),
            "a node leaving no longer counts"
        );
        p.update("old", Some((HashMap::new(), 1)), start);
        p.sweep(start + NODE_TIMEOUT + Duration::from_millis(1));
        assert_eq!(
            p.lowest_level(2),
            (2, p.node.clone()),
            "nor does a silent one"
        );
    }

    #[test]
    fn an_announcement_from_a_build_before_levels_is_level_1() {
        let a: Announcement =
            serde_json::from_str(r#"{"node":"n","users":[["u","customer"]]}"#).unwrap();
        assert_eq!((a.level, a.leaving, a.hello), (1, false, false));
    }
}
