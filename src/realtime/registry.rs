//! The sockets of this node, whatever their transport, and their rooms. Cheap per socket: an id, the
//! user, a bounded queue and the rooms it joined; rooms index socket ids. No guard is held across an
//! `.await`.

use super::event::ServerEvent;
use concierge_events::Role;
use dashmap::{DashMap, DashSet};
use std::collections::HashSet;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;

/// How many events may wait for one socket before it counts as too slow and is dropped.
pub const QUEUE_EVENTS: usize = 1024;

/// One connected, authenticated socket.
pub struct Socket {
    pub id: u64,
    pub user_id: String,
    pub role: Role,
    /// Events waiting to be written; empty (and unallocated) while the socket keeps up.
    queue: Mutex<VecDeque<Arc<ServerEvent>>>,
    queued: Notify,
    /// Raised when the socket fell too far behind; its task closes it.
    pub kicked: Notify,
    rooms: Mutex<HashSet<String>>,
}

impl Socket {
    /// The next queued event, waiting for one.
    pub async fn next_event(&self) -> Arc<ServerEvent> {
        loop {
            if let Some(frame) = self.queue.lock().ok().and_then(|mut q| q.pop_front()) {
                return frame;
            }
            self.queued.notified().await;
        }
    }

    /// Takes the next queued event if `take` says so, without waiting.
    pub fn pop_if(&self, take: impl Fn(&ServerEvent) -> bool) -> Option<Arc<ServerEvent>> {
        let mut queue = self.queue.lock().ok()?;
        if take(queue.front()?) {
            queue.pop_front()
        } else {
            None
        }
    }

    /// Queues an event; `false` when the queue is full.
    fn offer(&self, event: Arc<ServerEvent>) -> bool {
        let Ok(mut queue) = self.queue.lock() else {
            return false;
        };
        if queue.len() >= QUEUE_EVENTS {
            return false;
        }
        queue.push_back(event);
        drop(queue);
        self.queued.notify_one();
        true
    }

    pub fn in_room(&self, conversation_id: &str) -> bool {
        self.rooms
            .lock()
            .map(|r| r.contains(conversation_id))
            .unwrap_or(false)
    }
}

/// Where an event goes; a socket in several matching rooms still gets it once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Sockets that joined the conversation's room.
    Conversation(String),
    /// Every socket of the user.
    User(String),
    /// Every admin socket.
    Admins,
    /// Every customer socket.
    Customers,
    /// Every socket.
    Everyone,
}

impl Target {
    pub fn matches(&self, socket: &Socket) -> bool {
        match self {
            Target::Conversation(c) => socket.in_room(c),
            Target::User(u) => socket.user_id == *u,
            Target::Admins => socket.role == Role::Admin,
            Target::Customers => socket.role == Role::Customer,
            Target::Everyone => true,
        }
    }
}

#[derive(Default)]
pub struct Registry {
    sockets: DashMap<u64, Arc<Socket>>,
    users: DashMap<String, HashSet<u64>>,
    rooms: DashMap<String, HashSet<u64>>,
    admins: DashSet<u64>,
    next_id: AtomicU64,
}

impl Registry {
    /// Adds a socket.
    pub fn register(&self, user_id: &str, role: Role) -> Arc<Socket> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let socket = Arc::new(Socket {
            id,
            user_id: user_id.to_string(),
            role,
            queue: Mutex::new(VecDeque::new()),
            queued: Notify::new(),
            kicked: Notify::new(),
            rooms: Mutex::new(HashSet::new()),
        });
        self.sockets.insert(id, socket.clone());
        self.users
            .entry(user_id.to_string())
            .or_default()
            .insert(id);
        if role == Role::Admin {
            self.admins.insert(id);
        }
        socket
    }

    /// Removes a socket and its memberships; `true` when it was the user's last socket here.
    pub fn unregister(&self, socket: &Socket) -> bool {
        self.sockets.remove(&socket.id);
        self.admins.remove(&socket.id);
        let rooms: Vec<String> = socket
            .rooms
            .lock()
            .map(|r| r.iter().cloned().collect())
            .unwrap_or_default();
        for room in rooms {
            self.rooms.remove_if_mut(&room, |_, ids| {
                ids.remove(&socket.id);
                ids.is_empty()
            });
        }
        let mut last = false;
        self.users.remove_if_mut(&socket.user_id, |_, ids| {
            ids.remove(&socket.id);
            last = ids.is_empty();
            last
        });
        last
    }

    pub fn join(&self, socket: &Socket, conversation_id: &str) {
        if let Ok(mut rooms) = socket.rooms.lock() {
            rooms.insert(conversation_id.to_string());
        }
        self.rooms
            .entry(conversation_id.to_string())
            .or_default()
            .insert(socket.id);
    }

    pub fn leave(&self, socket: &Socket, conversation_id: &str) {
        if let Ok(mut rooms) = socket.rooms.lock() {
            rooms.remove(conversation_id);
        }
        self.rooms.remove_if_mut(conversation_id, |_, ids| {
            ids.remove(&socket.id);
            ids.is_empty()
        });
    }

    pub fn connections(&self) -> usize {
        self.sockets.len()
    }

    /// Users with at least one socket on this node, with their role.
    pub fn local_users(&self) -> Vec<(String, Role)> {
        self.users
            .iter()
            .filter_map(|e| {
                let id = e.value().iter().next()?;
                let role = self.sockets.get(id)?.role;
                Some((e.key().clone(), role))
            })
            .collect()
    }

    /// The sockets any of `targets` reaches, each once, without those of `except`.
    pub fn resolve(&self, targets: &[Target], except: Option<&str>) -> Vec<Arc<Socket>> {
        let mut ids: HashSet<u64> = HashSet::new();
        for t in targets {
            match t {
                Target::Conversation(c) => {
                    if let Some(room) = self.rooms.get(c) {
                        ids.extend(room.iter().copied());
                    }
                }
                Target::User(u) => {
                    if let Some(room) = self.users.get(u) {
                        ids.extend(room.iter().copied());
                    }
                }
                Target::Admins => ids.extend(self.admins.iter().map(|id| *id)),
                Target::Customers | Target::Everyone => ids.extend(
                    self.sockets
                        .iter()
                        .filter(|s| t.matches(s.value()))
                        .map(|s| *s.key()),
                ),
            }
        }
        ids.into_iter()
            .filter_map(|id| self.sockets.get(&id).map(|s| s.value().clone()))
            .filter(|s| except != Some(s.user_id.as_str()))
            .collect()
    }

    /// Queues the same event for every socket `targets` reach, except those of `except`.
    pub fn send_to(&self, targets: &[Target], except: Option<&str>, event: &Arc<ServerEvent>) {
        for s in self.resolve(targets, except) {
            self.push(&s, event.clone());
        }
    }

    /// Queues an event for a socket; a full queue means the client is too slow: it is kicked.
    pub fn push(&self, socket: &Socket, event: Arc<ServerEvent>) {
        if !socket.offer(event) {
            metrics::counter!("concierge_ws_slow_consumers_total").increment(1);
            socket.kicked.notify_one();
        }
    }
}
