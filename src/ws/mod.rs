//! The `/ws` codec of docs/websocket.md: JSON text frames over one WebSocket. It reads the token, decodes
//! frames into client events and writes server events as frames; everything else is the real-time
//! core's ([`crate::realtime`]).
//!
//! # Layout
//! - [`frame`]: reading client frames and writing server frames, acks and errors.

pub mod frame;

use crate::auth::{bearer, AuthError, AuthRejection, Caller};
use crate::realtime::client::ClientEvent;
use crate::realtime::event::{ServerEvent, Text, Wire};
use crate::realtime::session::{self, Close, Gone, Incoming, Reply, Transport};
use crate::realtime::{self as core, Refusal, AUTH_TIMEOUT, MAX_MESSAGE_BYTES};
use crate::state::AppState;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures::SinkExt;
use serde_json::{json, Value};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// How long a dropped client gets to take its close frame before the connection is cut.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The `/ws` route, merged into the node's router at boot.
pub fn routes() -> Router<AppState> {
    Router::new().route("/ws", get(upgrade))
}

/// `GET /ws`: upgrades, then authenticates by header, `?token=` or a first `authenticate` frame.
async fn upgrade(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    ws: WebSocketUpgrade,
) -> Response {
    if app.drain.is_draining() {
        return crate::http::error::ApiError::Draining.into_response();
    }
    if let Some(retry_after) = app.auth_failures.blocked(peer.ip()) {
        return AuthRejection::TooManyFailures { retry_after }.into_response();
    }
    let from_query = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned());
    let presented = match (headers.get(axum::http::header::AUTHORIZATION), from_query) {
        (Some(h), _) => Some(bearer(Some(h)).map(str::to_string)),
        (None, Some(t)) => Some(Ok(t)),
        (None, None) => None,
    };
    // Counted from here, so that a drain beginning now waits for this socket too.
    let counted = app.drain.connection();
    ws.max_message_size(MAX_MESSAGE_BYTES)
        .max_frame_size(MAX_MESSAGE_BYTES)
        // Small initial buffers keep an idle socket cheap; they grow for large frames.
        .read_buffer_size(1024)
        .write_buffer_size(4 * 1024)
        .on_upgrade(move |socket| async move {
            connection(socket, app, presented, peer.ip()).await;
            drop(counted);
        })
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
    let mut ws = Ws { socket };
    let admitted = match presented {
        Some(Ok(token)) => core::admit(&app, Ok(&token), peer),
        Some(Err(e)) => core::admit(&app, Err(e), peer),
        None => ws.authenticate_by_frame(&app, peer).await,
    };
    let caller: Caller = match admitted {
        Ok(c) => c,
        Err(Refusal::ServiceToken) => {
            let _ = ws
                .socket
                .send(close(4403, &Refusal::ServiceToken.to_string()))
                .await;
            return;
        }
        Err(Refusal::Unauthorized(e)) => {
            let _ = ws.socket.send(close(4401, &short(&e.to_string()))).await;
            return;
        }
    };
    session::serve(&app, &caller, &mut ws, None).await;
}

fn short(reason: &str) -> String {
    // A close reason must fit in 123 bytes.
    let mut s: String = reason.chars().take(100).collect();
    while s.len() > 120 {
        s.pop();
    }
    s
}

/// One `/ws` connection: the WebSocket and nothing else.
struct Ws {
    socket: WebSocket,
}

/// What reading a frame gave.
enum Read {
    Text(Utf8Bytes),
    Binary,
    /// The connection ended; a close the protocol calls for was sent.
    Ended,
}

impl Ws {
    /// The next text frame; a frame over 64 KiB or a text frame that is not UTF-8 closes the
    /// socket with 1009 or 1007. Cancel safe up to the close it may send.
    async fn read(&mut self) -> Read {
        loop {
            match self.socket.recv().await {
                Some(Ok(Message::Text(t))) => return Read::Text(t),
                Some(Ok(Message::Binary(_))) => return Read::Binary,
                Some(Ok(Message::Close(_))) | None => return Read::Ended,
                Some(Ok(_)) => continue,
                Some(Err(e)) => {
                    if let Some((code, reason)) = read_failure(e) {
                        let _ = self.socket.send(close(code, reason)).await;
                    }
                    return Read::Ended;
                }
            }
        }
    }

    async fn write(&mut self, text: Utf8Bytes) -> Result<(), Gone> {
        self.socket
            .send(Message::Text(text))
            .await
            .map_err(|_| Gone)
    }

    /// Waits up to 10 s for an `authenticate` frame; other frames are answered `unauthorized`.
    async fn authenticate_by_frame(
        &mut self,
        app: &AppState,
        peer: IpAddr,
    ) -> Result<Caller, Refusal> {
        let deadline = tokio::time::Instant::now() + AUTH_TIMEOUT;
        loop {
            let text = match tokio::time::timeout_at(deadline, self.read()).await {
                Err(_) => {
                    return Err(AuthError::BadClaim("no authenticate frame within 10 s").into())
                }
                Ok(Read::Ended) => return Err(AuthError::Missing.into()),
                Ok(Read::Binary) => {
                    let reply = frame::error(None, "unauthorized", "authenticate first");
                    let _ = self.write(reply).await;
                    continue;
                }
                Ok(Read::Text(t)) => t,
            };
            let reply = match frame::parse(&text) {
                Ok((ClientEvent::Authenticate { token }, reference)) => {
                    let admitted = core::admit(app, Ok(&token), peer);
                    if let (Ok(_), Some(r)) = (&admitted, reference) {
                        let _ = self.write(frame::ack(&r, json!({}))).await;
                    }
                    return admitted;
                }
                Ok((_, reference)) => {
                    frame::error(reference.as_ref(), "unauthorized", "authenticate first")
                }
                // Only an `authenticate` frame is judged on its fields; anything else is unauthorized.
                Err(e) if frame::names_event(&text, "authenticate") => {
                    frame::error(e.reference.as_ref(), "validation_failed", &e.message)
                }
                Err(e) => frame::error(e.reference.as_ref(), "unauthorized", "authenticate first"),
            };
            let _ = self.write(reply).await;
        }
    }
}

impl Transport for Ws {
    /// The frame's `ref`, when it had one.
    type ReplyTo = Option<Value>;
    const WIRE: Wire = Wire::WebSocket;

    fn encode(event: &ServerEvent) -> Text {
        frame::event(event)
    }

    async fn recv(&mut self) -> Incoming<Option<Value>> {
        match self.read().await {
            Read::Ended => Incoming::Closed,
            Read::Binary => Incoming::Invalid(None, "frames must be text".into()),
            Read::Text(text) => match frame::parse(&text) {
                Ok((event, reference)) => Incoming::Event(event, reference),
                Err(e) => Incoming::Invalid(e.reference, e.message),
            },
        }
    }

    async fn send(&mut self, event: &ServerEvent) -> Result<(), Gone> {
        self.write(frame::event(event)).await
    }

    /// Frames are fed into the WebSocket's write buffer and flushed once: one `write` for a batch
    /// under the buffer's size (4 KiB, then one per 4 KiB or so), not one per frame.
    async fn send_batch(&mut self, events: &[Arc<ServerEvent>]) -> Result<(), Gone> {
        for event in events {
            let frame = Message::Text(frame::event(event));
            self.socket.feed(frame).await.map_err(|_| Gone)?;
        }
        self.socket.flush().await.map_err(|_| Gone)
    }

    async fn reply(&mut self, to: Option<Value>, reply: Reply) -> Result<(), Gone> {
        let text = match (reply, &to) {
            (Reply::Ack(data), Some(r)) => frame::ack(r, data),
            (Reply::Error(code, message), r) => frame::error(r.as_ref(), code, &message),
            (Reply::Ack(_), None) => return Ok(()),
        };
        self.write(text).await
    }

    async fn close(&mut self, why: Close) {
        let frame = match why {
            Close::Expired => close(4401, "token expired"),
            Close::TooSlow(why) => close(1008, why.message()),
            // 1012, "service restart": the client reconnects (docs/websocket.md).
            Close::Draining => close(1012, crate::drain::DRAINING),
        };
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.socket.send(frame)).await;
    }
}

/// The close a failed read calls for: 1009 for a message over [`MAX_MESSAGE_BYTES`], 1007 for a
/// text frame that is not UTF-8; `None` when the connection itself broke.
fn read_failure(e: axum::Error) -> Option<(u16, &'static str)> {
    use tungstenite::error::{CapacityError, Error};
    match e.into_inner().downcast::<Error>().map(|e| *e) {
        Ok(Error::Capacity(CapacityError::MessageTooLong { .. })) => {
            Some((1009, "frame over 64 KiB"))
        }
        Ok(Error::Utf8(_)) => Some((1007, "text frame is not UTF-8")),
        _ => None,
    }
}
