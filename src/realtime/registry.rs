//! The sockets of this node, whatever their transport, and their rooms. Cheap per socket: an id, the
//! user, a bounded queue and the rooms it joined; rooms index socket ids. No guard is held across an
//! `.await`.
//!
//! # The slow-consumer rule
//! Fan-out never waits on a socket, so each socket's queue is bounded by the bytes of what it holds,
//! each event counted as encoded for that socket's wire format (the shared per-wire encoding, so an
//! event is still serialized once per format, not per socket). A socket may go over the bound
//! ([`QueueLimits::bound`], `SOCKET_QUEUE_BYTES`) for a moment: it keeps queueing, and is let go only
//! when an event comes for it after it has stayed over the bound for [`QueueLimits::grace`]
//! (`SLOW_CONSUMER_GRACE_MS`), or at once when an event would take it past the hard cap
//! ([`HARD_CAP_FACTOR`] times the bound), which bounds memory. The rule is judged when an event is
//! queued: a socket that gets no new event is falling no further behind (and one whose writes stop
//! altogether is let go by the session's write timeout). A socket let go queues nothing more and its
//! queue is dropped; its client reconnects and resumes with `since`, so nothing is lost silently.

use super::event::{ServerEvent, Text, Wire};
use concierge_events::Role;
use dashmap::{DashMap, DashSet};
use std::collections::HashSet;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The hard cap on a socket's queue, as a multiple of [`QueueLimits::bound`]: past it the socket is
/// let go at once, whatever the grace.
pub const HARD_CAP_FACTOR: usize = 4;

/// How much may wait for one socket, and for how long it may stay over that.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueueLimits {
    /// Bytes of encoded events a socket may have queued and still count as keeping up.
    pub bound: usize,
    /// How long a socket may stay over `bound` before it is let go.
    pub grace: Duration,
}

impl QueueLimits {
    /// `SOCKET_QUEUE_BYTES`'s default: 1 MiB, as Centrifugo's client queue.
    pub const DEFAULT_BOUND: usize = 1 << 20;
    /// `SLOW_CONSUMER_GRACE_MS`'s default.
    pub const DEFAULT_GRACE: Duration = Duration::from_secs(5);

    /// The queued bytes past which a socket is let go at once.
    pub fn hard_cap(&self) -> usize {
        self.bound.saturating_mul(HARD_CAP_FACTOR)
    }
}

impl Default for QueueLimits {
    fn default() -> QueueLimits {
        QueueLimits {
            bound: QueueLimits::DEFAULT_BOUND,
            grace: QueueLimits::DEFAULT_GRACE,
        }
    }
}

/// Why a socket was let go as too slow: the `reason` label of
/// `concierge_slow_consumer_closes_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slow {
    /// Its queue stayed over the bound for the grace.
    OverBytes,
    /// Its queue would have passed the hard cap.
    HardCap,
    /// One write did not finish within the session's write timeout.
    WriteStalled,
}

impl Slow {
    /// The metric label.
    pub fn label(self) -> &'static str {
        match self {
            Slow::OverBytes => "over_bytes",
            Slow::HardCap => "hard_cap",
            Slow::WriteStalled => "write_stalled",
        }
    }

    /// The close reason the client is told.
    pub fn message(self) -> &'static str {
        match self {
            Slow::OverBytes => "too slow: send queue over its bound",
            Slow::HardCap => "too slow: send queue full",
            Slow::WriteStalled => "too slow: write stalled",
        }
    }
}

/// How a socket was let go: why, and how far behind it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kick {
    pub why: Slow,
    /// Bytes queued for it when it was let go.
    pub queued_bytes: usize,
    /// How long its queue had been over the bound (zero when it was not).
    pub over_for: Duration,
}

/// A socket's queue and its accounting, under one lock.
#[derive(Default)]
struct Queue {
    /// Events waiting to be written, each with its encoded size; unallocated while the socket
    /// keeps up.
    events: VecDeque<(Arc<ServerEvent>, usize)>,
    /// The sum of the sizes in `events`.
    bytes: usize,
    /// Since when `bytes` has been over the bound; `None` while at or under it.
    over_since: Option<Instant>,
    /// The most `bytes` reached since `over_since`.
    peak: usize,
    /// Set once the socket is let go: nothing more is queued.
    kick: Option<Kick>,
}

/// What became of an event offered to a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Offered {
    Queued,
    /// Not queued: the socket was already let go and is closing.
    Closing,
    /// The socket is let go by this event (its queue is dropped); `peak` is the most it held.
    LetGo {
        kick: Kick,
        peak: usize,
    },
}

/// One connected, authenticated socket.
pub struct Socket {
    pub id: u64,
    pub user_id: String,
    pub role: Role,
    /// The wire format its events are written in.
    pub wire: Wire,
    /// Its codec's shared encoding of an event, for the size it takes in the queue.
    encode: fn(&ServerEvent) -> Text,
    limits: QueueLimits,
    queue: Mutex<Queue>,
    queued: Notify,
    /// Raised when the socket is let go as too slow; see [`Socket::let_go_notice`].
    kicked: Notify,
    rooms: Mutex<HashSet<String>>,
}

impl Socket {
    /// Every critical section leaves the queue consistent, so a poisoned lock is still usable.
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until something is queued (or returns at once when something is). Cancel safe.
    pub async fn ready(&self) {
        loop {
            if !self.lock().events.is_empty() {
                return;
            }
            self.queued.notified().await;
        }
    }

    /// Takes the next queued event if `take` says so, without waiting.
    pub fn pop_if(&self, take: impl Fn(&ServerEvent) -> bool) -> Option<Arc<ServerEvent>> {
        let mut queue = self.lock();
        if !take(&queue.events.front()?.0) {
            return None;
        }
        let (event, size) = queue.events.pop_front()?;
        queue.bytes -= size;
        self.popped(queue);
        Some(event)
    }

    /// Moves queued events into `into`, oldest first, without waiting: at most `max_events`, and no
    /// more once `max_bytes` of their encodings are taken (the first is always taken, however
    /// large), so that one wake-up of the socket's writer writes them all with one flush. Returns
    /// how many were taken.
    pub fn pop_batch(
        &self,
        into: &mut Vec<Arc<ServerEvent>>,
        max_events: usize,
        max_bytes: usize,
    ) -> usize {
        let mut queue = self.lock();
        let mut taken = 0;
        let mut bytes = 0;
        while taken < max_events {
            match queue.events.front() {
                Some((_, size)) if taken == 0 || bytes + size <= max_bytes => bytes += size,
                _ => break,
            }
            let Some((event, _)) = queue.events.pop_front() else {
                break;
            };
            into.push(event);
            taken += 1;
        }
        if taken > 0 {
            queue.bytes -= bytes;
            self.popped(queue);
        }
        taken
    }

    /// After events were taken: a queue back at or under its bound ends its episode over it, and
    /// the peak it reached is recorded.
    fn popped(&self, mut queue: MutexGuard<'_, Queue>) {
        let caught_up =
            (queue.bytes <= self.limits.bound && queue.over_since.is_some()).then(|| {
                queue.over_since = None;
                std::mem::take(&mut queue.peak)
            });
        drop(queue);
        if let Some(peak) = caught_up {
            metrics::histogram!("concierge_socket_queue_peak_bytes", "transport" => self.wire.label())
                .record(peak as f64);
        }
    }

    /// Bytes queued for this socket now.
    pub fn queued_bytes(&self) -> usize {
        self.lock().bytes
    }

    /// Why the socket was let go, once it was.
    pub fn kick(&self) -> Option<Kick> {
        self.lock().kick
    }

    /// Waits until the socket is let go as too slow, and says why. Cancel safe.
    pub async fn let_go_notice(&self) -> Kick {
        loop {
            if let Some(kick) = self.kick() {
                return kick;
            }
            self.kicked.notified().await;
        }
    }

    /// Queues an event at `now`, applying the slow-consumer rule.
    fn offer(&self, event: Arc<ServerEvent>, now: Instant) -> Offered {
        // Outside the lock: the first socket of a format to see an event serializes it.
        let size = (self.encode)(&event).len();
        let mut queue = self.lock();
        if queue.kick.is_some() {
            return Offered::Closing;
        }
        let bytes = queue.bytes + size;
        // An empty queue always takes one event, however large.
        if bytes > self.limits.hard_cap() && !queue.events.is_empty() {
            let peak = queue.peak.max(queue.bytes);
            let kick = Self::let_go_locked(&mut queue, Slow::HardCap, now);
            return Offered::LetGo { kick, peak };
        }
        // The writer waits only after finding the queue empty, so only the first event after that
        // needs to wake it; the rest would only leave a stale permit for a spurious turn.
        let wake = queue.events.is_empty();
        queue.events.push_back((event, size));
        queue.bytes = bytes;
        if bytes > self.limits.bound {
            queue.peak = queue.peak.max(bytes);
            match queue.over_since {
                None => queue.over_since = Some(now),
                Some(since) if now.saturating_duration_since(since) >= self.limits.grace => {
                    let peak = queue.peak;
                    let kick = Self::let_go_locked(&mut queue, Slow::OverBytes, now);
                    return Offered::LetGo { kick, peak };
                }
                Some(_) => {}
            }
        }
        drop(queue);
        if wake {
            self.queued.notify_one();
        }
        Offered::Queued
    }

    /// Marks the socket let go and drops its queue; the kick says how far behind it was.
    fn let_go_locked(queue: &mut Queue, why: Slow, now: Instant) -> Kick {
        let kick = Kick {
            why,
            queued_bytes: queue.bytes,
            over_for: queue
                .over_since
                .map_or(Duration::ZERO, |since| now.saturating_duration_since(since)),
        };
        queue.kick = Some(kick);
        queue.events = VecDeque::new();
        queue.bytes = 0;
        queue.over_since = None;
        queue.peak = 0;
        kick
    }

    /// Lets the socket go as too slow for `why` (unless it already was, for whatever reason):
    /// logs it, counts it in `concierge_slow_consumer_closes_total{transport, reason}` and wakes
    /// its task. Returns the kick that stands.
    pub fn let_go(&self, why: Slow) -> Kick {
        let mut queue = self.lock();
        if let Some(kick) = queue.kick {
            return kick;
        }
        let peak = queue.peak;
        let kick = Self::let_go_locked(&mut queue, why, Instant::now());
        drop(queue);
        self.report(kick, peak);
        kick
    }

    /// Logs and counts a socket let go, then wakes its task to close it.
    fn report(&self, kick: Kick, peak: usize) {
        let transport = self.wire.label();
        tracing::warn!(
            user = %self.user_id,
            transport,
            reason = kick.why.label(),
            queued_bytes = kick.queued_bytes,
            over_ms = kick.over_for.as_millis() as u64,
            "closing a slow consumer"
        );
        metrics::counter!(
            "concierge_slow_consumer_closes_total",
            "transport" => transport,
            "reason" => kick.why.label()
        )
        .increment(1);
        if peak > 0 {
            metrics::histogram!("concierge_socket_queue_peak_bytes", "transport" => transport)
                .record(peak as f64);
        }
        self.kicked.notify_one();
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
    /// Every socket of the user that is an admin socket: what only admins may see (a note, a
    /// mention, an assignment) reaches a user id only while it is an admin's.
    AdminUser(String),
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
            Target::AdminUser(u) => socket.user_id == *u && socket.role == Role::Admin,
            Target::Admins => socket.role == Role::Admin,
            Target::Customers => socket.role == Role::Customer,
            Target::Everyone => true,
        }
    }
}

/// This node's sockets, indexed by user, room and role.
#[derive(Default)]
pub struct Registry {
    limits: QueueLimits,
    sockets: DashMap<u64, Arc<Socket>>,
    users: DashMap<String, HashSet<u64>>,
    rooms: DashMap<String, HashSet<u64>>,
    admins: DashSet<u64>,
    next_id: AtomicU64,
}

impl Registry {
    /// A registry whose sockets' queues have `limits`.
    pub fn new(limits: QueueLimits) -> Registry {
        Registry {
            limits,
            ..Registry::default()
        }
    }

    /// Adds a socket whose events are written in `wire` by `encode` (the codec's shared
    /// per-wire encoding, which also sizes them in its queue).
    pub fn register(
        &self,
        user_id: &str,
        role: Role,
        wire: Wire,
        encode: fn(&ServerEvent) -> Text,
    ) -> Arc<Socket> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let socket = Arc::new(Socket {
            id,
            user_id: user_id.to_string(),
            role,
            wire,
            encode,
            limits: self.limits,
            queue: Mutex::new(Queue::default()),
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
                Target::AdminUser(u) => {
                    if let Some(room) = self.users.get(u) {
                        ids.extend(room.iter().copied().filter(|id| self.admins.contains(id)));
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

    /// Queues an event for a socket, never waiting; a socket that stayed over its bound for the
    /// grace, or reaches the hard cap, is let go (see the module's slow-consumer rule).
    pub fn push(&self, socket: &Socket, event: Arc<ServerEvent>) {
        if let Offered::LetGo { kick, peak } = socket.offer(event, Instant::now()) {
            socket.report(kick, peak);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::event::{Data, ResumeFailed};
    use std::sync::atomic::AtomicUsize;

    const LIMITS: QueueLimits = QueueLimits {
        bound: 1000,
        grace: Duration::from_secs(5),
    };

    /// An encoding as long as the event's reason, through the shared per-wire cache.
    fn encode(event: &ServerEvent) -> Text {
        event.encoded(Wire::WebSocket, |e| match &e.data {
            Data::ResumeFailed(r) => Text::from(r.reason.clone()),
            _ => Text::from(""),
        })
    }

    /// How often [`counted`] serialized an event (only one test uses it).
    static SERIALIZED: AtomicUsize = AtomicUsize::new(0);

    /// [`encode`]'s encoding in the Socket.IO slot, counting each serialization.
    fn counted(event: &ServerEvent) -> Text {
        event.encoded(Wire::SocketIo, |e| {
            SERIALIZED.fetch_add(1, Ordering::Relaxed);
            match &e.data {
                Data::ResumeFailed(r) => Text::from(r.reason.clone()),
                _ => Text::from(""),
            }
        })
    }

    /// An event whose encoding is `bytes` long.
    fn event(bytes: usize) -> Arc<ServerEvent> {
        let reason = "x".repeat(bytes);
        Arc::new(ServerEvent::new(
            "resume_failed",
            None,
            Data::ResumeFailed(ResumeFailed { reason }),
        ))
    }

    fn socket(registry: &Registry) -> Arc<Socket> {
        registry.register("adm_1", Role::Admin, Wire::WebSocket, encode)
    }

    fn pop(socket: &Socket) -> Option<usize> {
        socket.pop_if(|_| true).map(|e| encode(&e).len())
    }

    #[test]
    fn push_and_pop_keep_the_bytes_exact() {
        let registry = Registry::new(LIMITS);
        let s = socket(&registry);
        let t0 = Instant::now();
        for bytes in [100, 250, 50] {
            assert_eq!(s.offer(event(bytes), t0), Offered::Queued);
        }
        assert_eq!(s.queued_bytes(), 400);
        assert_eq!(pop(&s), Some(100));
        assert_eq!(s.queued_bytes(), 300);
        assert!(s.pop_if(|_| false).is_none());
        assert_eq!(s.queued_bytes(), 300);
        assert_eq!(pop(&s), Some(250));
        assert_eq!(pop(&s), Some(50));
        assert_eq!((pop(&s), s.queued_bytes()), (None, 0));
        assert_eq!(s.kick(), None);
    }

    /// The sizes of what one `pop_batch` took, in order, and the bytes still queued.
    fn batch(s: &Socket, max_events: usize, max_bytes: usize) -> (Vec<usize>, usize) {
        let mut into = Vec::new();
        let taken = s.pop_batch(&mut into, max_events, max_bytes);
        assert_eq!(taken, into.len());
        let sizes = into.iter().map(|e| encode(e).len()).collect();
        (sizes, s.queued_bytes())
    }

    #[test]
    fn a_batch_keeps_the_order_and_the_bytes_exact_and_stops_at_its_limits() {
        let registry = Registry::new(LIMITS);
        let s = socket(&registry);
        let t0 = Instant::now();
        for bytes in [100, 200, 300, 50, 10, 20, 30] {
            assert_eq!(s.offer(event(bytes), t0), Offered::Queued);
        }
        assert_eq!(s.queued_bytes(), 710);
        // By bytes: the next one would pass 350.
        assert_eq!(batch(&s, 64, 350), (vec![100, 200], 410));
        // The first is always taken, however large.
        assert_eq!(batch(&s, 64, 10), (vec![300], 110));
        // By count.
        assert_eq!(batch(&s, 2, 1000), (vec![50, 10], 50));
        assert_eq!(batch(&s, 64, 1000), (vec![20, 30], 0));
        assert_eq!(batch(&s, 64, 1000), (vec![], 0));
        assert_eq!(s.kick(), None);
    }

    #[test]
    fn a_batch_that_brings_the_queue_back_under_the_bound_ends_its_episode() {
        let registry = Registry::new(LIMITS);
        let s = socket(&registry);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(s.offer(event(500), t0), Offered::Queued);
        }
        assert_eq!(batch(&s, 2, usize::MAX), (vec![500, 500], 500));
        // Over the bound again long after: a new episode, so the grace starts again.
        let later = t0 + 2 * LIMITS.grace;
        assert_eq!(s.offer(event(600), later), Offered::Queued);
        assert_eq!(s.offer(event(1), later + LIMITS.grace / 2), Offered::Queued);
        assert_eq!((s.queued_bytes(), s.kick()), (1101, None));
    }

    #[tokio::test]
    async fn only_the_first_event_into_an_empty_queue_wakes_the_writer() {
        let registry = Registry::new(LIMITS);
        let s = socket(&registry);
        s.offer(event(1), Instant::now());
        s.offer(event(2), Instant::now());
        s.ready().await;
        assert_eq!(batch(&s, 64, 1000), (vec![1, 2], 0));
        // One wake for the two events: no permit is left over for a spurious turn.
        let spurious = tokio::time::timeout(Duration::from_millis(10), s.ready()).await;
        assert!(spurious.is_err());
        let waiting = tokio::spawn({
            let s = s.clone();
            async move { s.ready().await }
        });
        tokio::task::yield_now().await;
        s.offer(event(3), Instant::now());
        waiting.await.unwrap();
        assert_eq!(batch(&s, 64, 1000), (vec![3], 0));
    }

    #[test]
    fn a_socket_over_the_bound_within_the_grace_keeps_every_event() {
        let registry = Registry::new(LIMITS);
        let s = socket(&registry);
        let t0 = Instant::now();
        assert_eq!(s.offer(event(600), t0), Offered::Queued);
        assert_eq!(s.offer(event(600), t0), Offered::Queued);
        let almost = t0 + LIMITS.grace - Duration::from_millis(1);
        assert_eq!(s.offer(event(100), almost), Offered::Queued);
        assert_eq!((s.queued_bytes(), s.kick()), (1300, None));
        // Back at the bound ends the episode: the grace starts again at the next one.
        assert_eq!(pop(&s), Some(600));
        assert_eq!(s.queued_bytes(), 700);
        let later = t0 + 2 * LIMITS.grace;
        assert_eq!(s.offer(event(400), later), Offered::Queued);
        assert_eq!(
            s.offer(event(10), later + LIMITS.grace / 2),
            Offered::Queued
        );
        assert_eq!((s.queued_bytes(), s.kick()), (1110, None));
    }

    #[test]
    fn a_socket_still_over_the_bound_after_the_grace_is_let_go() {
        let registry = Registry::new(LIMITS);
        let s = socket(&registry);
        let t0 = Instant::now();
        assert_eq!(s.offer(event(900), t0), Offered::Queued);
        let over_at = t0 + Duration::from_millis(10);
        assert_eq!(s.offer(event(200), over_at), Offered::Queued);
        let kick = Kick {
            why: Slow::OverBytes,
            queued_bytes: 1150,
            over_for: LIMITS.grace,
        };
        assert_eq!(
            s.offer(event(50), over_at + LIMITS.grace),
            Offered::LetGo { kick, peak: 1150 }
        );
        assert_eq!((s.kick(), s.queued_bytes(), pop(&s)), (Some(kick), 0, None));
        // Nothing more is queued for a socket that is closing; its client resumes with `since`.
        assert_eq!(s.offer(event(1), over_at), Offered::Closing);
        assert_eq!(s.queued_bytes(), 0);
    }

    #[test]
    fn the_hard_cap_lets_go_at_once() {
        let registry = Registry::new(LIMITS);
        let s = socket(&registry);
        let t0 = Instant::now();
        for _ in 0..4 {
            assert_eq!(s.offer(event(900), t0), Offered::Queued);
        }
        assert_eq!(s.queued_bytes(), 3600);
        let kick = Kick {
            why: Slow::HardCap,
            queued_bytes: 3600,
            over_for: Duration::from_millis(1),
        };
        let next = t0 + Duration::from_millis(1);
        assert_eq!(
            s.offer(event(401), next),
            Offered::LetGo { kick, peak: 3600 }
        );
        assert_eq!((s.kick(), s.queued_bytes()), (Some(kick), 0));
    }

    #[test]
    fn an_empty_queue_takes_one_event_however_large() {
        let registry = Registry::new(LIMITS);
        let s = socket(&registry);
        let t0 = Instant::now();
        assert_eq!(s.offer(event(5000), t0), Offered::Queued);
        assert_eq!(pop(&s), Some(5000));
        assert_eq!((s.queued_bytes(), s.kick()), (0, None));
    }

    #[test]
    fn the_first_reason_to_let_go_stands() {
        let registry = Registry::new(LIMITS);
        let s = socket(&registry);
        assert_eq!(s.offer(event(10), Instant::now()), Offered::Queued);
        let first = s.let_go(Slow::WriteStalled);
        assert_eq!((first.why, first.queued_bytes), (Slow::WriteStalled, 10));
        assert_eq!(s.let_go(Slow::OverBytes), first);
        assert_eq!(s.kick(), Some(first));
    }

    #[tokio::test]
    async fn a_socket_let_go_wakes_its_task_with_the_reason() {
        let registry = Registry::new(LIMITS);
        let s = socket(&registry);
        let waiting = tokio::spawn({
            let s = s.clone();
            async move { s.let_go_notice().await }
        });
        tokio::task::yield_now().await;
        let kick = s.let_go(Slow::WriteStalled);
        assert_eq!(waiting.await.unwrap(), kick);
    }

    #[test]
    fn an_event_is_encoded_once_for_every_socket_of_a_wire() {
        let registry = Registry::new(LIMITS);
        let sockets: Vec<_> = (0..3)
            .map(|_| registry.register("adm_1", Role::Admin, Wire::SocketIo, counted))
            .collect();
        let e = event(123);
        registry.send_to(&[Target::Admins], None, &e);
        assert_eq!(SERIALIZED.load(Ordering::Relaxed), 1);
        for s in &sockets {
            assert_eq!(s.queued_bytes(), 123);
            assert!(Arc::ptr_eq(&s.pop_if(|_| true).unwrap(), &e));
        }
    }
}
