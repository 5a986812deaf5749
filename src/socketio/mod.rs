//! The Socket.IO codec of docs/socketio.md: Socket.IO v5 over Engine.IO v4 at `/socket.io/`, both
//! transports (long-polling, then the upgrade; or a WebSocket alone). It reads the token, decodes
//! event packets into client events and writes server events as event packets; everything else is
//! the real-time core's ([`crate::realtime`]), exactly as for `/ws`.
//!
//! # Layout
//! - [`packet`]: Engine.IO and Socket.IO packets as text.
//! - [`engine`]: one connection over either transport, the long-polling sessions, the upgrade.

pub mod engine;
pub mod packet;

use crate::auth::{bearer, AuthError, AuthRejection, Caller};
use crate::realtime::client::{ClientEvent, TAKE_BARE_CONVERSATION_ID};
use crate::realtime::event::{ServerEvent, Text, Wire};
use crate::realtime::session::{self, Close, Gone, Incoming, Reply, Transport};
use crate::realtime::{self as core, Refusal, AUTH_TIMEOUT, MAX_MESSAGE_BYTES};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::ws::{
    rejection::WebSocketUpgradeRejection, Message, WebSocket, WebSocketUpgrade,
};
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use engine::{Engine, PollError};
use http_body_util::{BodyExt, Limited};
use packet::SocketIo;
use serde_json::{json, Value};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// The `/socket.io/` routes, merged into the node's router at boot.
pub fn routes() -> Router<AppState> {
    Router::new().route("/socket.io/", get(get_request).post(post_request))
}

/// The query of an Engine.IO request.
struct Query {
    eio: Option<String>,
    transport: Option<String>,
    sid: Option<String>,
    token: Option<String>,
}

impl Query {
    fn parse(raw: Option<&str>) -> Query {
        let mut q = Query {
            eio: None,
            transport: None,
            sid: None,
            token: None,
        };
        for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
            let v = Some(v.into_owned());
            match &*k {
                "EIO" => q.eio = v,
                "transport" => q.transport = v,
                "sid" => q.sid = v,
                "token" => q.token = v,
                _ => {}
            }
        }
        q
    }

    /// Engine.IO's refusal of a request it cannot serve, `None` when the request is well formed.
    fn refusal(&self) -> Option<Response> {
        if self.eio.as_deref() != Some("4") {
            return Some(engine_error(5, "Unsupported protocol version"));
        }
        match self.transport.as_deref() {
            Some("polling" | "websocket") => None,
            _ => Some(engine_error(0, "Transport unknown")),
        }
    }
}

/// Engine.IO's error answer: 400 with `{code, message}` (codes of the Engine.IO protocol).
fn engine_error(code: u8, message: &str) -> Response {
    let body = json!({ "code": code, "message": message }).to_string();
    (
        StatusCode::BAD_REQUEST,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

fn text(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; charset=UTF-8")],
        body,
    )
        .into_response()
}

/// The token a client presented with the request that opened the connection.
struct Presented {
    header: Option<Result<String, AuthError>>,
    query: Option<String>,
}

impl Presented {
    fn of(headers: &HeaderMap, query: &Query) -> Presented {
        Presented {
            header: headers
                .get(header::AUTHORIZATION)
                .map(|h| bearer(Some(h)).map(str::to_string)),
            query: query.token.clone(),
        }
    }
}

/// `GET /socket.io/`: opens a long-polling session, polls one, opens a WebSocket, or upgrades a
/// long-polling session to a WebSocket.
async fn get_request(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Response {
    let query = Query::parse(raw.as_deref());
    if let Some(refused) = query.refusal() {
        return refused;
    }
    let websocket = query.transport.as_deref() == Some("websocket");
    match (&query.sid, websocket) {
        (Some(sid), false) => match app.engine_io.get(sid) {
            None => engine_error(1, "Session ID unknown"),
            Some(polling) => match polling.poll().await {
                Ok(body) => text(body),
                Err(PollError::Closed) => engine_error(1, "Session ID unknown"),
                Err(PollError::Overlapping) => engine_error(3, "Bad request"),
            },
        },
        (Some(sid), true) => {
            let Some(polling) = app.engine_io.get(sid) else {
                return engine_error(1, "Session ID unknown");
            };
            match ws {
                Ok(ws) => limits(ws).on_upgrade(move |socket| upgrade(socket, polling)),
                Err(_) => engine_error(3, "Bad request"),
            }
        }
        (None, _) => {
            if app.drain.is_draining() {
                return crate::http::error::ApiError::Draining.into_response();
            }
            if let Some(retry_after) = app.auth_failures.blocked(peer.ip()) {
                return AuthRejection::TooManyFailures { retry_after }.into_response();
            }
            let presented = Presented::of(&headers, &query);
            let sid = ulid::Ulid::new().to_string();
            if websocket {
                let Ok(ws) = ws else {
                    return engine_error(3, "Bad request");
                };
                let counted = app.drain.connection();
                limits(ws).on_upgrade(move |socket| async move {
                    let _counted = counted;
                    let mut engine = Engine::websocket(socket);
                    let open = packet::open(&sid, &[], MAX_MESSAGE_BYTES);
                    if engine.write(open.into()).await.is_ok() {
                        connection(&app, &mut engine, presented, peer.ip()).await;
                    }
                    engine.finish().await;
                })
            } else {
                let open = packet::open(&sid, &["websocket"], MAX_MESSAGE_BYTES);
                let mut engine = app.engine_io.open(sid);
                let counted = app.drain.connection();
                tokio::spawn(async move {
                    let _counted = counted;
                    connection(&app, &mut engine, presented, peer.ip()).await;
                    engine.finish().await;
                });
                text(open)
            }
        }
    }
}

fn limits(ws: WebSocketUpgrade) -> WebSocketUpgrade {
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        // Small initial buffers keep an idle socket cheap; they grow for large frames.
        .read_buffer_size(1024)
        .write_buffer_size(4 * 1024)
}

/// `POST /socket.io/?sid=`: packets from a long-polling client.
async fn post_request(
    State(app): State<AppState>,
    RawQuery(raw): RawQuery,
    body: Body,
) -> Response {
    let query = Query::parse(raw.as_deref());
    if let Some(refused) = query.refusal() {
        return refused;
    }
    let Some(polling) = query.sid.as_deref().and_then(|sid| app.engine_io.get(sid)) else {
        return engine_error(1, "Session ID unknown");
    };
    let Ok(body) = Limited::new(body, MAX_MESSAGE_BYTES).collect().await else {
        // Over maxPayload: the connection is closed, as docs/socketio.md says.
        polling.close();
        return (StatusCode::PAYLOAD_TOO_LARGE, "payload over 64 KiB").into_response();
    };
    let Ok(body) = String::from_utf8(body.to_bytes().to_vec()) else {
        return engine_error(3, "Bad request");
    };
    match polling.post(&body).await {
        Ok(()) => text("ok".into()),
        Err(_) => engine_error(1, "Session ID unknown"),
    }
}

/// Takes a long-polling session's client through the probe to its WebSocket.
async fn upgrade(mut socket: WebSocket, polling: Arc<engine::Polling>) {
    let deadline = tokio::time::Instant::now() + AUTH_TIMEOUT;
    let next = async |socket: &mut WebSocket| -> Option<String> {
        match tokio::time::timeout_at(deadline, socket.recv()).await {
            Ok(Some(Ok(Message::Text(t)))) => Some(t.to_string()),
            _ => None,
        }
    };
    if next(&mut socket).await.as_deref() != Some("2probe") {
        return;
    }
    if socket.send(Message::Text("3probe".into())).await.is_err() {
        return;
    }
    polling.pause();
    if next(&mut socket).await.as_deref() == Some("5") {
        polling.upgrade(socket).await;
    }
}

/// One Socket.IO connection: the handshake, then the core's session.
async fn connection(app: &AppState, engine: &mut Engine, presented: Presented, peer: IpAddr) {
    let mut sio = Sio { engine };
    let Some((caller, since)) = sio.handshake(app, presented, peer).await else {
        return;
    };
    let resume = since.map(|s| (s, Answer::event("resume")));
    session::serve(app, &caller, &mut sio, resume).await;
}

/// The core's view of a Socket.IO connection.
struct Sio<'a> {
    engine: &'a mut Engine,
}

/// Where the answer to a client event goes: its ack callback, else an `error` event naming it.
pub struct Answer {
    event: Option<String>,
    ack: Option<u64>,
}

impl Answer {
    fn event(name: &str) -> Answer {
        Answer {
            event: Some(name.chars().take(64).collect()),
            ack: None,
        }
    }
}

/// What the handshake read as the token and `since`.
enum Credentials {
    Token(Result<String, AuthError>, Option<u64>),
    /// No token anywhere: the client must send `authenticate`.
    Later(Option<u64>),
}

impl Sio<'_> {
    /// Waits for the client's `CONNECT` and authenticates it: by `auth.token`, the header,
    /// `?token=`, or an `authenticate` event within 10 s. `None` when the connection must end.
    async fn handshake(
        &mut self,
        app: &AppState,
        presented: Presented,
        peer: IpAddr,
    ) -> Option<(Caller, Option<u64>)> {
        let deadline = tokio::time::Instant::now() + AUTH_TIMEOUT;
        let mut presented = Some(presented);
        loop {
            let next = tokio::time::timeout_at(deadline, self.engine.next()).await;
            let (namespace, auth) = match next.ok()?? {
                Ok(SocketIo::Connect { namespace, auth }) => (namespace, auth),
                Ok(SocketIo::Disconnect { .. }) => return None,
                _ => continue,
            };
            if namespace != "/" {
                let refused = packet::connect_error(&namespace, "not_found", "no such namespace");
                self.engine.write(refused).await.ok()?;
                continue;
            }
            let credentials = match credentials(auth.as_ref(), presented.take()) {
                Ok(c) => c,
                Err(message) => {
                    let refused = packet::connect_error("/", "validation_failed", &message);
                    self.engine.write(refused).await.ok()?;
                    continue;
                }
            };
            let (token, since) = match credentials {
                Credentials::Token(token, since) => (token, since),
                Credentials::Later(since) => {
                    let sid = ulid::Ulid::new().to_string();
                    self.engine.write(packet::connected(&sid)).await.ok()?;
                    let caller = self.authenticate_by_event(app, peer, deadline).await?;
                    return Some((caller, since));
                }
            };
            let admitted = match token {
                Ok(t) => core::admit(app, Ok(&t), peer),
                Err(e) => core::admit(app, Err(e), peer),
            };
            match admitted {
                Ok(caller) => {
                    let sid = ulid::Ulid::new().to_string();
                    self.engine.write(packet::connected(&sid)).await.ok()?;
                    return Some((caller, since));
                }
                Err(refusal) => {
                    let (code, message) = refused(&refusal);
                    let refused = packet::connect_error("/", code, &message);
                    self.engine.write(refused).await.ok()?;
                }
            }
        }
    }

    /// After a `CONNECT` without a token: the first `authenticate` event decides; anything else
    /// before it is answered `unauthorized`.
    async fn authenticate_by_event(
        &mut self,
        app: &AppState,
        peer: IpAddr,
        deadline: tokio::time::Instant,
    ) -> Option<Caller> {
        loop {
            let Ok(next) = tokio::time::timeout_at(deadline, self.engine.next()).await else {
                let late = Reply::Error("unauthorized", "no authenticate event within 10 s".into());
                let _ = self.reply(Answer::event("authenticate"), late).await;
                let _ = self.engine.write(packet::DISCONNECT.into()).await;
                return None;
            };
            let (answer, decoded) = match next? {
                Ok(SocketIo::Event { ack, args, .. }) => {
                    let (name, decoded) = decode(args);
                    (Answer { event: name, ack }, decoded)
                }
                Ok(SocketIo::Disconnect { .. }) => return None,
                Ok(SocketIo::Binary { ack }) => (
                    Answer { event: None, ack },
                    Err("authenticate first".to_string()),
                ),
                Ok(_) => continue,
                Err(e) => (
                    Answer {
                        event: None,
                        ack: None,
                    },
                    Err(e),
                ),
            };
            let reply = match decoded {
                Ok(ClientEvent::Authenticate { token }) => {
                    match core::admit(app, Ok(&token), peer) {
                        Ok(caller) => {
                            self.reply(answer, Reply::Ack(json!({}))).await.ok()?;
                            return Some(caller);
                        }
                        Err(refusal) => {
                            let (code, message) = refused(&refusal);
                            let _ = self.reply(answer, Reply::Error(code, message)).await;
                            let _ = self.engine.write(packet::DISCONNECT.into()).await;
                            return None;
                        }
                    }
                }
                Err(message) if answer.event.as_deref() == Some("authenticate") => {
                    Reply::Error("validation_failed", message)
                }
                _ => Reply::Error("unauthorized", "authenticate first".into()),
            };
            self.reply(answer, reply).await.ok()?;
        }
    }
}

/// The `connect_error` code and message of a refusal.
fn refused(refusal: &Refusal) -> (&'static str, String) {
    match refusal {
        Refusal::Unauthorized(e) => ("unauthorized", e.to_string()),
        Refusal::ServiceToken => ("forbidden", refusal.to_string()),
    }
}

/// The token and `since` of a `CONNECT`: `auth.token` first, then the header, then `?token=`.
fn credentials(auth: Option<&Value>, presented: Option<Presented>) -> Result<Credentials, String> {
    let auth = match auth {
        None | Some(Value::Null) => None,
        Some(Value::Object(a)) => Some(a),
        Some(_) => return Err("auth must be an object".into()),
    };
    let since = match auth.and_then(|a| a.get("since")) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.as_u64().ok_or(SINCE)?),
        Some(Value::String(s)) => Some(s.parse::<u64>().map_err(|_| SINCE)?),
        Some(_) => return Err(SINCE.into()),
    };
    // A `token` field that is there but empty is a missing token, refused at the handshake; no
    // token field at all leaves the `authenticate` event.
    let token = match auth.and_then(|a| a.get("token")) {
        None => None,
        Some(Value::String(t)) if !t.is_empty() => Some(Ok(t.clone())),
        Some(Value::String(_) | Value::Null) => Some(Err(AuthError::Missing)),
        Some(_) => Some(Err(AuthError::BadClaim("auth.token must be a string"))),
    };
    let presented = presented.unwrap_or(Presented {
        header: None,
        query: None,
    });
    Ok(
        match token.or(presented.header).or(presented.query.map(Ok)) {
            Some(token) => Credentials::Token(token, since),
            None => Credentials::Later(since),
        },
    )
}

const SINCE: &str = "auth.since must be a non-negative integer (a number or a decimal string)";

/// An `EVENT`'s `[name, data]` as a client event, with the name for the answer.
fn decode(args: Value) -> (Option<String>, Result<ClientEvent, String>) {
    let Value::Array(mut items) = args else {
        return (None, Err("an event must be an array [name, data]".into()));
    };
    let Some(Value::String(name)) = items.first().cloned() else {
        return (None, Err("the event name must be a string".into()));
    };
    let data = match items.get_mut(1).map(Value::take) {
        Some(Value::String(id)) if TAKE_BARE_CONVERSATION_ID.contains(&name.as_str()) => {
            Some(json!({ "conversationId": id }))
        }
        other => other,
    };
    let shown: String = name.chars().take(64).collect();
    (Some(shown), ClientEvent::decode(&name, data.as_ref()))
}

/// The `message` of a successful ack, as the HTTP envelope would say it.
fn done(event: Option<&str>) -> &'static str {
    match event {
        Some("authenticate") => "Authenticated",
        Some("join_conversation") => "Joined the conversation",
        Some("leave_conversation") => "Left the conversation",
        Some("send_message") => "Message sent",
        Some("mark_read") => "Conversation marked as read",
        Some("typing_start" | "typing_stop") => "Typing indicator sent",
        Some("resume") => "Resumed",
        Some("ping") => "pong",
        _ => "OK",
    }
}

impl Sio<'_> {
    async fn disconnect(&mut self) {
        let _ = self.engine.write(packet::DISCONNECT.into()).await;
    }
}

impl Transport for Sio<'_> {
    type ReplyTo = Answer;
    const WIRE: Wire = Wire::SocketIo;

    fn encode(event: &ServerEvent) -> Text {
        packet::event(event)
    }

    async fn recv(&mut self) -> Incoming<Answer> {
        loop {
            let none = Answer {
                event: None,
                ack: None,
            };
            return match self.engine.next().await {
                None | Some(Ok(SocketIo::Disconnect { .. })) => Incoming::Closed,
                Some(Ok(SocketIo::Event {
                    namespace,
                    ack,
                    args,
                })) if namespace == "/" => {
                    let (event, decoded) = decode(args);
                    let answer = Answer { event, ack };
                    match decoded {
                        Ok(e) => Incoming::Event(e, answer),
                        Err(message) => Incoming::Invalid(answer, message),
                    }
                }
                Some(Ok(SocketIo::Binary { ack })) => Incoming::Invalid(
                    Answer { event: None, ack },
                    "binary payloads are not supported".into(),
                ),
                Some(Ok(_)) => continue,
                Some(Err(message)) => Incoming::Invalid(none, message),
            };
        }
    }

    async fn send(&mut self, event: &ServerEvent) -> Result<(), Gone> {
        self.engine.write(packet::event(event)).await
    }

    async fn send_batch(&mut self, events: &[Arc<ServerEvent>]) -> Result<(), Gone> {
        // A fn item, not a closure: the future must be `Send` for every lifetime of `events`.
        fn encoded(event: &Arc<ServerEvent>) -> Text {
            packet::event(event)
        }
        self.engine.write_all(events.iter().map(encoded)).await
    }

    async fn reply(&mut self, to: Answer, reply: Reply) -> Result<(), Gone> {
        let text = match (reply, to.ack) {
            (Reply::Ack(data), Some(id)) => packet::ack(
                id,
                &json!({ "success": true, "message": done(to.event.as_deref()), "data": data }),
            ),
            (Reply::Error(code, message), Some(id)) => packet::ack(
                id,
                &json!({ "success": false, "message": message, "error": code }),
            ),
            (Reply::Error(code, message), None) => packet::emit(
                "error",
                &json!({ "event": to.event, "code": code, "message": message }),
            ),
            (Reply::Ack(_), None) => return Ok(()),
        };
        self.engine.write(text).await
    }

    async fn close(&mut self, why: Close) {
        let (code, message) = match why {
            Close::Expired => ("unauthorized", "token expired"),
            Close::TooSlow(_) => return self.disconnect().await,
            Close::Draining => ("unavailable", crate::drain::DRAINING),
        };
        let told = packet::emit(
            "error",
            &json!({ "event": null, "code": code, "message": message }),
        );
        let _ = self.engine.write(told).await;
        if why == Close::Draining {
            // No `DISCONNECT`: socket.io-client would take it for a server's "go away" and not
            // reconnect. The Engine.IO transport closes instead (`Engine::finish`), which the
            // client takes for a lost connection: it reconnects, with its `auth` (and `since`).
            self.engine.closing_for(1012, crate::drain::DRAINING);
        } else {
            self.disconnect().await;
        }
    }

    fn beat_every(&self) -> Option<Duration> {
        Some(Duration::from_millis(packet::PING_INTERVAL_MS))
    }

    async fn beat(&mut self) -> Result<(), Gone> {
        self.engine.ping().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_strings_are_conversation_ids_for_five_events() {
        let (name, e) = decode(json!(["mark_read", "01J"]));
        assert_eq!(name.as_deref(), Some("mark_read"));
        assert_eq!(
            e,
            Ok(ClientEvent::MarkRead {
                conversation_id: "01J".into()
            })
        );
        let (_, e) = decode(json!(["send_message", "01J"]));
        assert_eq!(e, Err("data must be an object".into()));
        let (name, e) = decode(json!(["fly", {}]));
        assert_eq!(
            (name.as_deref(), e),
            (Some("fly"), Err(crate::realtime::client::unknown("fly")))
        );
        let (name, e) = decode(json!([1]));
        assert_eq!(
            (name, e),
            (None, Err("the event name must be a string".into()))
        );
    }

    #[test]
    fn the_token_comes_from_auth_then_header_then_query() {
        let presented = |h: Option<&str>, q: Option<&str>| Presented {
            header: h.map(|h| Ok(h.to_string())),
            query: q.map(str::to_string),
        };
        let token = |c: Credentials| match c {
            Credentials::Token(Ok(t), since) => (Some(t), since),
            Credentials::Token(Err(_), since) => (Some("<bad>".into()), since),
            Credentials::Later(since) => (None, since),
        };
        let auth = json!({"token": "a", "since": "42"});
        let c = credentials(Some(&auth), Some(presented(Some("h"), Some("q"))));
        assert_eq!(token(c.unwrap()), (Some("a".into()), Some(42)));
        let c = credentials(None, Some(presented(Some("h"), Some("q"))));
        assert_eq!(token(c.unwrap()), (Some("h".into()), None));
        let c = credentials(Some(&json!({"since": 7})), Some(presented(None, Some("q"))));
        assert_eq!(token(c.unwrap()), (Some("q".into()), Some(7)));
        let c = credentials(None, None);
        assert_eq!(token(c.unwrap()), (None, None));
        let c = credentials(Some(&json!({"token": ""})), None);
        assert_eq!(token(c.unwrap()), (Some("<bad>".into()), None));
        assert!(credentials(Some(&json!({"since": -1})), None).is_err());
        assert!(credentials(Some(&json!({"since": "x"})), None).is_err());
    }
}
