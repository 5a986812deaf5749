//! One authenticated socket, whatever carries it: its registration, the commands it may send, live
//! delivery from its queue with the slow-consumer rule, `resume`, and token expiry. A codec supplies a
//! [`Transport`] (decoding client events, encoding server events, closing in its own way) and this
//! loop does the rest, so `/ws` and Socket.IO keep exactly the same rules.

use super::client::ClientEvent;
use super::event::{Authenticated, Data, ResumeComplete, ResumeFailed, ServerEvent, Text, Wire};
use super::plan::{self, Payload};
use super::registry::{Slow, Socket};
use crate::auth::{Caller, LEEWAY_SECS};
use crate::command::{access, messages, CommandError};
use crate::render;
use crate::state::AppState;
use serde_json::{json, Value};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Live events wait this long after authentication for a first client event, so that a `resume`
/// sent at once is answered in log order before them.
const RESUME_GRACE: Duration = Duration::from_millis(300);
/// A write that cannot finish in this time means the client stopped reading.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// A `resume` replays at most this many events; further behind, the client refetches over HTTP.
const MAX_REPLAY: u64 = 100_000;
/// How long a draining socket waits for live fan-out to push what was folded before the drain.
const DRAIN_FLUSH: Duration = Duration::from_secs(2);
/// One wake-up of a socket's writer takes at most this many queued events...
const BATCH_EVENTS: usize = 64;
/// ...and no more once this many bytes of them are taken, then writes them with one flush.
const BATCH_BYTES: usize = 64 * 1024;

/// The connection is gone: nothing more can be written to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gone;

/// The answer to one client event.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// Done; the ack's `data`.
    Ack(Value),
    /// Refused with an `error` code of docs/api.md's table and a message naming the problem.
    Error(&'static str, String),
}

/// What a transport read from its client.
pub enum Incoming<R> {
    /// A client event and where its answer goes.
    Event(ClientEvent, R),
    /// Something that could not be read as a client event; answered with `validation_failed`.
    Invalid(R, String),
    /// The connection ended (the transport already closed it as its protocol says).
    Closed,
}

/// Why the core ends a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Close {
    /// The token expired while connected.
    Expired,
    /// The client did not read fast enough: its queue stayed over its bound or reached the hard
    /// cap, or a write stalled (the registry's slow-consumer rule).
    TooSlow(Slow),
    /// The node is draining: the client should reconnect, to another node, and `resume`.
    Draining,
}

/// One wire format's side of a connection.
pub trait Transport: Send {
    /// Where the answer to a client event goes: a `/ws` `ref`, a Socket.IO ack id.
    type ReplyTo: Send;
    /// The wire format it writes.
    const WIRE: Wire;
    /// An event in [`Transport::WIRE`]'s format: the event's shared encoding, written once per
    /// format. The socket's queue counts events by this size.
    fn encode(event: &ServerEvent) -> Text;
    /// The next client event. Must be cancel safe: the loop drops it when a live event is ready.
    fn recv(&mut self) -> impl Future<Output = Incoming<Self::ReplyTo>> + Send;
    /// Writes one server event.
    fn send(&mut self, event: &ServerEvent) -> impl Future<Output = Result<(), Gone>> + Send;
    /// Writes server events in order, flushing once at the end where the transport can (one
    /// syscall for a batch instead of one per event). By default, one [`Transport::send`] each.
    fn send_batch(
        &mut self,
        events: &[Arc<ServerEvent>],
    ) -> impl Future<Output = Result<(), Gone>> + Send {
        async move {
            for event in events {
                self.send(event).await?;
            }
            Ok(())
        }
    }
    /// Answers a client event.
    fn reply(
        &mut self,
        to: Self::ReplyTo,
        reply: Reply,
    ) -> impl Future<Output = Result<(), Gone>> + Send;
    /// Ends the connection for `why`, telling the client as the protocol says.
    fn close(&mut self, why: Close) -> impl Future<Output = ()> + Send;
    /// How often the transport needs [`Transport::beat`] (Engine.IO's ping), if at all.
    fn beat_every(&self) -> Option<Duration> {
        None
    }
    /// A heartbeat; `Err` when the client missed the previous one.
    fn beat(&mut self) -> impl Future<Output = Result<(), Gone>> + Send {
        async { Ok(()) }
    }
}

/// Unregisters the socket however the connection ends.
struct Registration<'a> {
    app: &'a AppState,
    socket: Arc<Socket>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let core = &self.app.realtime;
        core.registry.unregister(&self.socket);
        core.presence.local_changed.notify_one();
        metrics::gauge!("concierge_ws_connections").set(core.registry.connections() as f64);
    }
}

/// Serves one authenticated caller over `transport` until either side ends it: says `authenticated`,
/// resumes from `resume` when the handshake asked for it, then runs commands and live delivery.
pub async fn serve<T: Transport>(
    app: &AppState,
    caller: &Caller,
    transport: &mut T,
    resume: Option<(u64, T::ReplyTo)>,
) {
    let core = &app.realtime;
    let registration = Registration {
        app,
        socket: core
            .registry
            .register(&caller.user_id, caller.role, T::WIRE, T::encode),
    };
    core.presence.local_changed.notify_one();
    metrics::gauge!("concierge_ws_connections").set(core.registry.connections() as f64);
    let socket = &registration.socket;
    let hello = ServerEvent::new(
        "authenticated",
        None,
        Data::Authenticated(Authenticated {
            user_id: caller.user_id.clone(),
            role: caller.role,
            connection_id: format!("{}-{}", core.presence.node, socket.id),
        }),
    );
    if transport.send(&hello).await.is_err() {
        return;
    }
    let mut session = Session {
        app,
        caller,
        socket,
        skip_through: 0,
        covered: None,
    };
    if let Some((since, to)) = resume {
        // Boxed: the serving future of every socket would otherwise hold room for a replay.
        let Ok(reply) = Box::pin(session.resume(since, transport)).await else {
            return;
        };
        if transport.reply(to, reply).await.is_err() {
            return;
        }
    }
    session.run(transport).await;
}

struct Session<'a> {
    app: &'a AppState,
    caller: &'a Caller,
    socket: &'a Arc<Socket>,
    /// Live events with a `seq` up to this were already replayed by `resume`.
    skip_through: u64,
    /// The `seq`s whose events for this socket were all delivered, live or by a replay: one range,
    /// since live delivery goes on in order from where a replay ends. A replay skips it.
    covered: Option<(u64, u64)>,
}

impl Session<'_> {
    async fn run<T: Transport>(&mut self, transport: &mut T) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let expires_in = Duration::from_secs((self.caller.exp + LEEWAY_SECS).saturating_sub(now));
        let expiry = tokio::time::sleep(expires_in);
        tokio::pin!(expiry);
        let grace = tokio::time::sleep(RESUME_GRACE);
        tokio::pin!(grace);
        let beat_every = transport.beat_every();
        let beat = tokio::time::sleep(beat_every.unwrap_or(Duration::from_secs(3600)));
        tokio::pin!(beat);
        let mut holding = true;
        // Reused across wake-ups: at most BATCH_EVENTS pointers.
        let mut batch: Vec<Arc<ServerEvent>> = Vec::new();
        loop {
            tokio::select! {
                biased;
                _ = &mut expiry => {
                    transport.close(Close::Expired).await;
                    return;
                }
                kick = self.socket.let_go_notice() => {
                    transport.close(Close::TooSlow(kick.why)).await;
                    return;
                }
                // Checked between client events only: a command under way answers first.
                _ = self.app.drain.began() => {
                    // Every event folded before the drain goes out first, a client that has seen
                    // none has no `since` to resume from; then the last `seq` delivered goes
                    // whole, so that `resume` from it misses nothing.
                    self.app.progress.fanned_out(DRAIN_FLUSH).await;
                    loop {
                        let queued = self.socket.queued_bytes();
                        if queued == 0 {
                            break;
                        }
                        if !self.push_queued(transport, &mut batch).await {
                            return;
                        }
                        if self.socket.queued_bytes() >= queued {
                            break;
                        }
                    }
                    if self.complete_covered(transport).await.is_ok() {
                        transport.close(Close::Draining).await;
                    }
                    return;
                }
                _ = &mut beat, if beat_every.is_some() => {
                    if transport.beat().await.is_err() {
                        return;
                    }
                    let next = tokio::time::Instant::now() + beat_every.unwrap_or_default();
                    beat.as_mut().reset(next);
                }
                incoming = transport.recv() => {
                    holding = false;
                    let (reply, to) = match incoming {
                        Incoming::Closed => return,
                        Incoming::Invalid(to, message) => {
                            (Reply::Error("validation_failed", message), to)
                        }
                        // Boxed: an idle socket's task then holds no room for a command in flight.
                        Incoming::Event(event, to) => match Box::pin(self.handle(event, transport)).await {
                            Ok(reply) => (reply, to),
                            Err(Gone) => return,
                        },
                    };
                    if transport.reply(to, reply).await.is_err() {
                        return;
                    }
                }
                _ = &mut grace, if holding => holding = false,
                _ = self.socket.ready(), if !holding => {
                    if !self.push_queued(transport, &mut batch).await {
                        return;
                    }
                }
            }
        }
    }

    /// Pushes one batch of the socket's queued live events (those a replay did not already
    /// send); `false` when the socket is gone or was let go.
    async fn push_queued<T: Transport>(
        &mut self,
        transport: &mut T,
        batch: &mut Vec<Arc<ServerEvent>>,
    ) -> bool {
        batch.clear();
        self.socket.pop_batch(batch, BATCH_EVENTS, BATCH_BYTES);
        let skip_through = self.skip_through;
        batch.retain(|e| e.seq.is_none_or(|seq| seq > skip_through));
        for seq in batch.iter().filter_map(|e| e.seq) {
            self.covered = Some(match self.covered {
                Some((first, last)) => (first, last.max(seq)),
                None => (seq, seq),
            });
        }
        let pushed = batch.is_empty() || self.push_live(transport, batch).await;
        batch.clear();
        pushed
    }

    /// Writes a batch of live events with one flush; `false` when the socket is gone or was let
    /// go: a client that stops reading is closed by the registry's slow-consumer rule (or when a
    /// batch's write stalls for [`WRITE_TIMEOUT`]), even while the write itself is blocked.
    async fn push_live<T: Transport>(
        &self,
        transport: &mut T,
        events: &[Arc<ServerEvent>],
    ) -> bool {
        let kick = tokio::select! {
            sent = transport.send_batch(events) => return sent.is_ok(),
            kick = self.socket.let_go_notice() => kick,
            _ = tokio::time::sleep(WRITE_TIMEOUT) => self.socket.let_go(Slow::WriteStalled),
        };
        transport.close(Close::TooSlow(kick.why)).await;
        false
    }

    async fn handle<T: Transport>(
        &mut self,
        event: ClientEvent,
        transport: &mut T,
    ) -> Result<Reply, Gone> {
        if let ClientEvent::Resume { since } = event {
            return self.resume(since, transport).await;
        }
        Ok(match self.command(event).await {
            Ok(data) => Reply::Ack(data),
            Err(e) => Reply::Error(e.code(), e.to_string()),
        })
    }

    async fn command(&mut self, event: ClientEvent) -> Result<Value, CommandError> {
        let app = self.app;
        let caller = self.caller;
        let core = &app.realtime;
        match event {
            ClientEvent::Authenticate { .. } => Ok(json!({ "userId": caller.user_id })),
            ClientEvent::Ping => Ok(json!({ "serverTime": concierge_events::Timestamp::now() })),
            ClientEvent::JoinConversation { conversation_id } => {
                let conv = access::conversation(app, caller, &conversation_id)?;
                core.registry.join(self.socket, &conv.id);
                let shown = render::conversation(&conv, &caller.user_id, &core.presence);
                Ok(json!({ "conversation": shown }))
            }
            ClientEvent::LeaveConversation { conversation_id } => {
                access::conversation_id(&conversation_id, "conversationId")?;
                core.registry.leave(self.socket, &conversation_id);
                Ok(json!({}))
            }
            ClientEvent::SendMessage {
                conversation_id,
                data,
            } => {
                let key = messages::client_key_of(&data);
                let (message, _) =
                    messages::send(app, caller, &conversation_id, key.as_deref(), || {
                        messages::parse_send(&data, None)
                    })
                    .await?;
                Ok(json!({ "message": message }))
            }
            ClientEvent::MarkRead { conversation_id } => {
                let outcome = messages::mark_read(app, caller, &conversation_id).await?;
                Ok(serde_json::to_value(outcome).unwrap_or_default())
            }
            ClientEvent::TypingStart { conversation_id } => {
                crate::command::typing::set(app, caller, &conversation_id, true).await?;
                Ok(json!({}))
            }
            ClientEvent::TypingStop { conversation_id } => {
                crate::command::typing::set(app, caller, &conversation_id, false).await?;
                Ok(json!({}))
            }
            ClientEvent::Resume { .. } => Ok(json!({})),
        }
    }

    /// Sends what is still queued of the last `seq` delivered live (one log event may make several
    /// events, the others waiting behind it), so that every `seq` in `covered` is whole.
    async fn complete_covered<T: Transport>(&mut self, transport: &mut T) -> Result<(), Gone> {
        let Some((_, last)) = self.covered else {
            return Ok(());
        };
        while let Some(event) = self.socket.pop_if(|e| e.seq.is_none_or(|s| s <= last)) {
            if event.seq.is_none_or(|s| s > self.skip_through) {
                transport.send(&event).await?;
            }
        }
        Ok(())
    }

    /// Replays every event this socket may see with `seq > since`, in order, then
    /// `resume_complete` (or `resume_failed` when the log no longer reaches back that far).
    async fn resume<T: Transport>(&mut self, since: u64, transport: &mut T) -> Result<Reply, Gone> {
        let log = &self.app.log;
        let (first, last) = match log.bounds().await {
            Ok(b) => b,
            Err(e) => return Ok(Reply::Error("unavailable", e.to_string())),
        };
        let kept_from = first.max(1);
        if since + 1 < kept_from || last.saturating_sub(since) > MAX_REPLAY {
            let reason = if since + 1 < kept_from {
                format!("events after {since} are no longer in the log (it starts at {kept_from})")
            } else {
                format!("more than {MAX_REPLAY} events behind; refetch over HTTP")
            };
            let failed = ServerEvent::new(
                "resume_failed",
                None,
                Data::ResumeFailed(ResumeFailed { reason }),
            );
            transport.send(&failed).await?;
            return Ok(Reply::Ack(json!({ "resumed": false })));
        }
        if last > since {
            if !self
                .app
                .progress
                .wait_folded(last, Duration::from_secs(10))
                .await
            {
                return Ok(Reply::Error(
                    "unavailable",
                    "this node is still catching up".into(),
                ));
            }
            let events = match log.read_range(since + 1, last).await {
                Ok(e) => e,
                Err(e) => return Ok(Reply::Error("unavailable", e.to_string())),
            };
            self.complete_covered(transport).await?;
            let views = self.app.views.views();
            let covered = self.covered;
            let already_sent = |seq: u64| covered.is_some_and(|(a, b)| (a..=b).contains(&seq));
            for (seq, env) in events {
                if already_sent(seq) {
                    continue;
                }
                let deliveries = match plan::plan(seq, &env, &views, &self.app.attachments.signer) {
                    Ok(d) => d,
                    Err(e) => {
                        let e = CommandError::from(e);
                        return Ok(Reply::Error(e.code(), e.to_string()));
                    }
                };
                for d in deliveries {
                    if !plan::reaches(&d, self.socket) {
                        continue;
                    }
                    let event = match d.payload {
                        Payload::Shared(event) => event,
                        Payload::PerViewer(conv) => plan::conversation_updated(
                            seq,
                            &conv,
                            &self.caller.user_id,
                            &self.app.realtime.presence,
                        ),
                    };
                    transport.send(&event).await?;
                }
            }
        }
        self.skip_through = self.skip_through.max(last);
        self.covered = Some(match self.covered {
            Some((first, covered_to)) if since < covered_to.saturating_add(1) => {
                (first.min(since + 1), covered_to.max(last))
            }
            _ => (since + 1, last),
        });
        let done = ServerEvent::new(
            "resume_complete",
            None,
            Data::ResumeComplete(ResumeComplete { up_to: last }),
        );
        transport.send(&done).await?;
        Ok(Reply::Ack(json!({ "upTo": last })))
    }
}
