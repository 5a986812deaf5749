//! The WebSocket gateway of WEBSOCKET.md: `GET /ws`, authentication, client events, and live delivery
//! from the log.
//!
//! # Layout
//! - [`frame`]: client frames (one variant per event) and server frame writers.
//! - [`registry`]: this node's sockets and rooms, with bounded per-socket queues.
//! - [`fanout`]: which sockets each folded event reaches, shared by live delivery and `resume`.
//! - [`presence`]: who is online across nodes; [`typing`]: typing indicators via the typing stream.

pub mod frame;

use crate::auth::{bearer, AuthError, Caller, LEEWAY_SECS};
use crate::command::{access, messages, CommandError};
use crate::state::AppState;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use concierge_events::{subject, Empty, Event, Role};
use frame::ClientEvent;
use futures::{SinkExt, StreamExt};
use crate::realtime::plan as fanout;
use crate::realtime::registry::Socket;
pub use crate::realtime::Gateway;
use serde_json::{json, Value};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Frames (after reassembly) larger than this close the socket with 1009.
pub const MAX_FRAME_BYTES: usize = 64 * 1024;
/// How long an unauthenticated socket may wait before its `authenticate` frame.
const AUTH_TIMEOUT: Duration = Duration::from_secs(10);
/// Live frames wait this long after authentication for a first client frame, so that a `resume`
/// sent at once is answered in log order before them.
const RESUME_GRACE: Duration = Duration::from_millis(300);
/// A write that cannot finish in this time means the client stopped reading.
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a dropped client gets to take its close frame before the connection is cut.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);
/// A `resume` replays at most this many events; further behind, the client refetches over HTTP.
const MAX_REPLAY: u64 = 100_000;


/// `GET /ws`: upgrades, then authenticates by header, `?token=` or a first `authenticate` frame.
pub async fn upgrade(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    if let Some(retry_after) = app.auth_failures.blocked(peer.ip()) {
        return crate::http::ApiError::TooManyAuthFailures { retry_after }.into_response();
    }
    let from_query = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned());
    let presented = match (headers.get(axum::http::header::AUTHORIZATION), from_query) {
        (Some(h), _) => Some(bearer(Some(h)).map(str::to_string)),
        (None, Some(t)) => Some(Ok(t)),
        (None, None) => None,
    };
    ws.max_message_size(MAX_FRAME_BYTES)
        .max_frame_size(MAX_FRAME_BYTES)
        // Small initial buffers keep an idle socket cheap; they grow for large frames.
        .read_buffer_size(1024)
        .write_buffer_size(4 * 1024)
        .on_upgrade(move |socket| connection(socket, app, presented, peer.ip()))
}

fn close(code: u16, reason: &str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: Utf8Bytes::from(reason.to_string()),
    }))
}

async fn connection(
    socket: WebSocket,
    app: AppState,
    presented: Option<Result<String, AuthError>>,
    peer: IpAddr,
) {
    let (mut sink, mut stream) = socket.split();
    let verified = match presented {
        Some(token) => token.and_then(|t| app.keys.verify(&t)),
        None => authenticate_by_frame(&app, &mut sink, &mut stream).await,
    };
    let caller = match verified {
        Ok(c) => c,
        Err(e) => {
            if e.counts_as_failure() {
                app.auth_failures.failed(peer);
            }
            let _ = sink.send(close(4401, &short(&e.to_string()))).await;
            return;
        }
    };
    if caller.role == Role::Service {
        let _ = sink
            .send(close(4403, "service tokens cannot open sockets"))
            .await;
        return;
    }
    let gateway = app.gateway.clone();
    let socket = gateway.registry.register(&caller.user_id, caller.role);
    gateway.presence.local_changed.notify_one();
    metrics::gauge!("concierge_ws_connections").set(gateway.registry.connections() as f64);
    let connection_id = format!("{}-{}", gateway.presence.node, socket.id);
    let hello = frame::event(
        "authenticated",
        None,
        json!({ "userId": caller.user_id, "role": caller.role, "connectionId": connection_id }),
    );
    let mut session = Session {
        app: &app,
        caller: &caller,
        socket: &socket,
        skip_through: 0,
        live_sent: None,
    };
    if sink.send(Message::Text(hello)).await.is_ok() {
        session.serve(&mut sink, &mut stream).await;
    }
    gateway.registry.unregister(&socket);
    gateway.presence.local_changed.notify_one();
    metrics::gauge!("concierge_ws_connections").set(gateway.registry.connections() as f64);
}

fn short(reason: &str) -> String {
    // A close reason must fit in 123 bytes.
    let mut s: String = reason.chars().take(100).collect();
    while s.len() > 120 {
        s.pop();
    }
    s
}

type Sink = futures::stream::SplitSink<WebSocket, Message>;
type Stream = futures::stream::SplitStream<WebSocket>;

async fn authenticate_by_frame(
    app: &AppState,
    sink: &mut Sink,
    stream: &mut Stream,
) -> Result<Caller, AuthError> {
    let deadline = tokio::time::Instant::now() + AUTH_TIMEOUT;
    loop {
        let next = tokio::time::timeout_at(deadline, stream.next()).await;
        let text = match next {
            Err(_) => return Err(AuthError::BadClaim("no authenticate frame within 10 s")),
            Ok(Some(Err(e))) => {
                // Closed as after authenticating (1009, 1007); no token was read.
                if let Some((code, reason)) = read_failure(&e) {
                    let _ = sink.send(close(code, reason)).await;
                }
                return Err(AuthError::Missing);
            }
            Ok(None) => return Err(AuthError::Missing),
            Ok(Some(Ok(Message::Text(t)))) => t,
            Ok(Some(Ok(Message::Close(_)))) => return Err(AuthError::Missing),
            Ok(Some(Ok(_))) => continue,
        };
        match frame::parse(&text) {
            Ok((ClientEvent::Authenticate { token }, reference)) => {
                let verified = app.keys.verify(&token);
                if verified.is_ok() {
                    if let Some(r) = reference {
                        let _ = sink.send(Message::Text(frame::ack(&r, json!({})))).await;
                    }
                }
                return verified;
            }
            Ok((_, reference)) => {
                let reply = frame::error(reference.as_ref(), "unauthorized", "authenticate first");
                let _ = sink.send(Message::Text(reply)).await;
            }
            // Only an `authenticate` frame is judged on its fields; anything else is unauthorized.
            Err(e) if frame::names_event(&text, "authenticate") => {
                let reply = frame::error(e.reference.as_ref(), "validation_failed", &e.message);
                let _ = sink.send(Message::Text(reply)).await;
            }
            Err(e) => {
                let reply =
                    frame::error(e.reference.as_ref(), "unauthorized", "authenticate first");
                let _ = sink.send(Message::Text(reply)).await;
            }
        }
    }
}

/// The close a failed read calls for: 1009 for a message over [`MAX_FRAME_BYTES`], 1007 for a
/// text frame that is not UTF-8; `None` when the connection itself broke.
fn read_failure(e: &axum::Error) -> Option<(u16, &'static str)> {
    let text = e.to_string().to_lowercase();
    if text.contains("too long") || text.contains("size") {
        Some((1009, "frame over 64 KiB"))
    } else if text.contains("utf-8") || text.contains("utf8") {
        Some((1007, "text frame is not UTF-8"))
    } else {
        None
    }
}

/// Subscribes to a core NATS subject, retrying each second until it works or shutdown (`None`).
pub async fn subscribe(
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

/// One authenticated socket's loop.
struct Session<'a> {
    app: &'a AppState,
    caller: &'a Caller,
    socket: &'a Arc<Socket>,
    /// Live frames with a `seq` up to this were already replayed by `resume`.
    skip_through: u64,
    /// The first and last `seq` delivered live so far: a replay skips what lies between.
    live_sent: Option<(u64, u64)>,
}

enum Reply {
    Ack(Value),
    Error(&'static str, String),
}

impl Session<'_> {
    async fn serve(&mut self, sink: &mut Sink, stream: &mut Stream) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let expires_in = Duration::from_secs((self.caller.exp + LEEWAY_SECS).saturating_sub(now));
        let expiry = tokio::time::sleep(expires_in);
        tokio::pin!(expiry);
        let grace = tokio::time::sleep(RESUME_GRACE);
        tokio::pin!(grace);
        let mut holding = true;
        loop {
            tokio::select! {
                biased;
                _ = &mut expiry => {
                    let _ = sink.send(close(4401, "token expired")).await;
                    return;
                }
                _ = self.socket.kicked.notified() => {
                    let closing = sink.send(close(1008, "too slow: send queue full"));
                    let _ = tokio::time::timeout(CLOSE_TIMEOUT, closing).await;
                    return;
                }
                incoming = stream.next() => {
                    let text = match incoming {
                        Some(Ok(Message::Text(t))) => t,
                        Some(Ok(Message::Close(_))) | None => return,
                        Some(Ok(Message::Binary(_))) => {
                            let reply = frame::error(None, "validation_failed", "frames must be text");
                            if sink.send(Message::Text(reply)).await.is_err() { return; }
                            continue;
                        }
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => {
                            if let Some((code, reason)) = read_failure(&e) {
                                let _ = sink.send(close(code, reason)).await;
                            }
                            return;
                        }
                    };
                    holding = false;
                    // Boxed: an idle socket's task then holds no room for a command in flight.
                    if Box::pin(self.handle(&text, sink)).await.is_err() {
                        return;
                    }
                }
                _ = &mut grace, if holding => holding = false,
                out = self.socket.next_frame(), if !holding => {
                    if let Some(seq) = out.seq {
                        if seq <= self.skip_through {
                            continue;
                        }
                        self.live_sent = Some(match self.live_sent {
                            Some((first, _)) => (first, seq),
                            None => (seq, seq),
                        });
                    }
                    if !self.push_live(sink, out.text).await {
                        return;
                    }
                }
            }
        }
    }

    /// Writes one live frame; `false` when the socket is gone or was let go: a client that stops
    /// reading is closed with 1008 once its queue overflows (or a write stalls for
    /// [`WRITE_TIMEOUT`]), even while the write itself is blocked.
    async fn push_live(&self, sink: &mut Sink, text: Utf8Bytes) -> bool {
        let stalled = tokio::select! {
            sent = sink.send(Message::Text(text)) => return sent.is_ok(),
            _ = self.socket.kicked.notified() => "too slow: send queue full",
            _ = tokio::time::sleep(WRITE_TIMEOUT) => "too slow: write stalled",
        };
        metrics::counter!("concierge_ws_dropped_total").increment(1);
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, sink.send(close(1008, stalled))).await;
        false
    }

    /// Handles one client frame; `Err` when the socket is gone.
    async fn handle(&mut self, text: &str, sink: &mut Sink) -> Result<(), ()> {
        let (event, reference) = match frame::parse(text) {
            Ok(p) => p,
            Err(e) => {
                let reply = frame::error(e.reference.as_ref(), "validation_failed", &e.message);
                return sink.send(Message::Text(reply)).await.map_err(|_| ());
            }
        };
        let reply = match event {
            ClientEvent::Resume { since } => self.resume(since, sink).await?,
            other => self.command(other).await,
        };
        let frame = match (reply, &reference) {
            (Reply::Ack(data), Some(r)) => frame::ack(r, data),
            (Reply::Error(code, message), r) => frame::error(r.as_ref(), code, &message),
            _ => return Ok(()),
        };
        sink.send(Message::Text(frame)).await.map_err(|_| ())
    }

    async fn command(&mut self, event: ClientEvent) -> Reply {
        let app = self.app;
        let caller = self.caller;
        let result: Result<Value, CommandError> = async {
            match event {
                ClientEvent::Authenticate { .. } => Ok(json!({ "userId": caller.user_id })),
                ClientEvent::Ping => Ok(json!({ "serverTime": concierge_events::Timestamp::now() })),
                ClientEvent::JoinConversation { conversation_id } => {
                    let conv = access::conversation(app, caller, &conversation_id)?;
                    app.gateway.registry.join(self.socket, &conv.id);
                    Ok(json!({ "conversation": crate::render::conversation(&conv, &caller.user_id, &app.gateway.presence) }))
                }
                ClientEvent::LeaveConversation { conversation_id } => {
                    access::conversation_id(&conversation_id, "conversationId")?;
                    app.gateway.registry.leave(self.socket, &conversation_id);
                    Ok(json!({}))
                }
                ClientEvent::SendMessage { conversation_id, data } => {
                    let key = messages::client_key_of(&data);
                    let (message, _) = messages::send(app, caller, &conversation_id, key.as_deref(), || {
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
                    self.typing(&conversation_id, true).await?;
                    Ok(json!({}))
                }
                ClientEvent::TypingStop { conversation_id } => {
                    self.typing(&conversation_id, false).await?;
                    Ok(json!({}))
                }
                ClientEvent::Resume { .. } => Ok(json!({})),
            }
        }
        .await;
        match result {
            Ok(data) => Reply::Ack(data),
            Err(e) => Reply::Error(frame::code(&e), e.to_string()),
        }
    }

    async fn typing(&self, conversation_id: &str, started: bool) -> Result<(), CommandError> {
        let conv = access::conversation(self.app, self.caller, conversation_id)?;
        crate::command::take_write(self.app, self.caller)?;
        let event = if started {
            Event::TypingStarted(Empty {})
        } else {
            Event::TypingStopped(Empty {})
        };
        let env = crate::command::envelope(self.caller, Some(&conv.id), event);
        self.app
            .log
            .publish_typing(subject::typing(&conv.id), &env)
            .await
            .map_err(CommandError::Unavailable)
    }

    /// Replays every event this socket may see with `seq > since`, in order, then `resume_complete`.
    async fn resume(&mut self, since: u64, sink: &mut Sink) -> Result<Reply, ()> {
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
            let text = frame::event("resume_failed", None, json!({ "reason": reason }));
            sink.send(Message::Text(text)).await.map_err(|_| ())?;
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
            let views = self.app.views.views();
            let already_sent =
                |seq: u64| self.live_sent.is_some_and(|(a, b)| (a..=b).contains(&seq));
            for (seq, env) in events {
                if already_sent(seq) {
                    continue;
                }
                for d in fanout::plan(seq, &env, &views) {
                    if !fanout::reaches(&d, self.socket) {
                        continue;
                    }
                    let text = match d.payload {
                        fanout::Payload::Frame(t) => t,
                        fanout::Payload::ConversationUpdated(conv) => fanout::conversation_updated(
                            seq,
                            &conv,
                            &self.caller.user_id,
                            &self.app.gateway.presence,
                        ),
                    };
                    sink.send(Message::Text(text)).await.map_err(|_| ())?;
                }
            }
        }
        self.skip_through = self.skip_through.max(last);
        let done = frame::event("resume_complete", None, json!({ "upTo": last }));
        sink.send(Message::Text(done)).await.map_err(|_| ())?;
        Ok(Reply::Ack(json!({ "upTo": last })))
    }
}
