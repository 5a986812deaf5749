//! The two wire formats a client socket may speak, and the little of each the scenarios need:
//! the URL and handshake, writing a client event, and telling what a server frame is.
//!
//! - `/ws` (WEBSOCKET.md): `{"event", "data", "ref"?}` text frames; the token on the URL.
//! - Socket.IO v5 over Engine.IO v4's WebSocket transport (SOCKETIO.md):
//!   `ws://HOST/socket.io/?EIO=4&transport=websocket`, the open packet `0{…}`, then
//!   `40{"token"}` answered by `40{"sid"}` and `42["authenticated",{…}]`; events are
//!   `42[name, data]` (`42<id>[…]` with an ack id, answered by `43<id>[{…}]`), and the server's
//!   ping `2` must be answered with `3`.

use crate::common::Ws;
use anyhow::{bail, Context as _, Result};
use futures::{SinkExt, StreamExt};
use std::fmt::{Arguments, Write as _};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;

/// The protocol of the client sockets a scenario opens.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Codec {
    /// `/ws` JSON frames.
    #[default]
    Ws,
    /// Socket.IO at `/socket.io/`, WebSocket transport only.
    Socketio,
}

/// What a server text frame is, as far as the scenarios care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `new_message` or `message_sent`: a delivery whose latency is measured.
    Delivery,
    /// A successful ack (`/ws` `ack` frame, Socket.IO `43<id>` without `"success":false`).
    Ack,
    /// An `error` event, or a Socket.IO ack with `"success":false`.
    Error,
    /// `admin_broadcast`.
    Broadcast,
    /// Engine.IO's ping, to be answered with [`PONG`].
    Ping,
    Other,
}

/// Engine.IO's pong.
pub const PONG: &str = "3";

/// How long the whole handshake may take.
const HANDSHAKE: Duration = Duration::from_secs(30);

impl Codec {
    /// The URL a socket opens; `/ws` carries the token, Socket.IO sends it in `CONNECT`.
    pub fn url(self, addr: SocketAddr, token: &str) -> String {
        match self {
            Codec::Ws => format!("ws://{addr}/ws?token={token}"),
            Codec::Socketio => format!("ws://{addr}/socket.io/?EIO=4&transport=websocket"),
        }
    }

    /// Takes a freshly opened socket to `authenticated`.
    ///
    /// # Errors
    /// When the server refuses, closes, answers something unexpected or is silent for 30 s.
    pub async fn handshake(self, ws: &mut Ws, token: &str) -> Result<()> {
        let deadline = Instant::now() + HANDSHAKE;
        match self {
            Codec::Ws => {
                let first = next_text(ws, deadline).await?;
                if !first.contains("\"authenticated\"") {
                    bail!("expected authenticated, got {first}");
                }
            }
            Codec::Socketio => {
                let open = next_text(ws, deadline).await?;
                if !open.starts_with("0{") {
                    bail!("expected the Engine.IO open packet, got {open}");
                }
                let connect = format!("40{}", serde_json::json!({ "token": token }));
                ws.send(Message::text(connect)).await?;
                let connected = next_text(ws, deadline).await?;
                if !connected.starts_with("40") {
                    bail!("CONNECT refused: {connected}");
                }
                let hello = next_text(ws, deadline).await?;
                if !hello.starts_with(r#"42["authenticated""#) {
                    bail!("expected authenticated, got {hello}");
                }
            }
        }
        Ok(())
    }

    /// Client event `name` with `data` (JSON text), asking for an answer when `ack` is set
    /// (`/ws` `ref`, Socket.IO ack id). One allocation.
    pub fn event(self, name: &str, ack: Option<u64>, data: Arguments<'_>) -> String {
        let mut s = String::with_capacity(160);
        // Writing to a String cannot fail.
        let _ = match (self, ack) {
            (Codec::Ws, None) => write!(s, r#"{{"event":"{name}","data":{data}}}"#),
            (Codec::Ws, Some(id)) => write!(s, r#"{{"event":"{name}","data":{data},"ref":{id}}}"#),
            (Codec::Socketio, None) => write!(s, r#"42["{name}",{data}]"#),
            (Codec::Socketio, Some(id)) => write!(s, r#"42{id}["{name}",{data}]"#),
        };
        s
    }

    /// What a server text frame is.
    pub fn kind(self, text: &str) -> Kind {
        match self {
            Codec::Ws => {
                if text.contains("\"event\":\"new_message\"")
                    || text.contains("\"event\":\"message_sent\"")
                {
                    Kind::Delivery
                } else if text.contains("\"event\":\"ack\"") {
                    Kind::Ack
                } else if text.contains("\"event\":\"error\"") {
                    Kind::Error
                } else if text.contains("\"event\":\"admin_broadcast\"") {
                    Kind::Broadcast
                } else {
                    Kind::Other
                }
            }
            Codec::Socketio => {
                if let Some(event) = text.strip_prefix("42[\"") {
                    if event.starts_with("new_message\"") || event.starts_with("message_sent\"") {
                        Kind::Delivery
                    } else if event.starts_with("error\"") {
                        Kind::Error
                    } else if event.starts_with("admin_broadcast\"") {
                        Kind::Broadcast
                    } else {
                        Kind::Other
                    }
                } else if text.starts_with("43") {
                    if text.contains("\"success\":false") {
                        Kind::Error
                    } else {
                        Kind::Ack
                    }
                } else if text == "2" {
                    Kind::Ping
                } else {
                    Kind::Other
                }
            }
        }
    }
}

/// The next text frame before `deadline`.
async fn next_text(ws: &mut Ws, deadline: Instant) -> Result<String> {
    loop {
        let msg = tokio::time::timeout_at(deadline, ws.next())
            .await
            .context("no answer within 30 s")?
            .context("closed during the handshake")??;
        match msg {
            Message::Text(t) => return Ok(t.as_str().to_string()),
            Message::Close(c) => bail!("closed during the handshake: {c:?}"),
            _ => continue,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_events_in_both_formats() {
        let join = |codec: Codec| {
            codec.event(
                "join_conversation",
                Some(7),
                format_args!(r#"{{"conversationId":"{}"}}"#, "c1"),
            )
        };
        assert_eq!(
            join(Codec::Ws),
            r#"{"event":"join_conversation","data":{"conversationId":"c1"},"ref":7}"#
        );
        assert_eq!(
            join(Codec::Socketio),
            r#"427["join_conversation",{"conversationId":"c1"}]"#
        );
        assert_eq!(
            Codec::Socketio.event("send_message", None, format_args!("{{}}")),
            r#"42["send_message",{}]"#
        );
        assert_eq!(
            Codec::Ws.event("send_message", None, format_args!("{{}}")),
            r#"{"event":"send_message","data":{}}"#
        );
    }

    #[test]
    fn tells_frames_apart() {
        let sio = Codec::Socketio;
        assert_eq!(
            sio.kind(r#"42["new_message",{"seq":4,"message":{"content":"b:1"}}]"#),
            Kind::Delivery
        );
        assert_eq!(sio.kind(r#"42["message_sent",{"seq":4}]"#), Kind::Delivery);
        assert_eq!(sio.kind(r#"42["new_messages",{}]"#), Kind::Other);
        assert_eq!(sio.kind(r#"42["error",{"code":"forbidden"}]"#), Kind::Error);
        assert_eq!(sio.kind(r#"433[{"success":true,"data":{}}]"#), Kind::Ack);
        assert_eq!(
            sio.kind(r#"433[{"success":false,"error":"not_found"}]"#),
            Kind::Error
        );
        assert_eq!(sio.kind("2"), Kind::Ping);
        assert_eq!(sio.kind(r#"42["admin_broadcast",{}]"#), Kind::Broadcast);
        assert_eq!(
            sio.kind(r#"42["conversation_updated",{"seq":5}]"#),
            Kind::Other
        );
        let ws = Codec::Ws;
        assert_eq!(
            ws.kind(r#"{"event":"new_message","seq":4,"data":{}}"#),
            Kind::Delivery
        );
        assert_eq!(ws.kind(r#"{"event":"ack","ref":1,"data":{}}"#), Kind::Ack);
        assert_eq!(ws.kind(r#"{"event":"error","error":{}}"#), Kind::Error);
        assert_eq!(ws.kind("2"), Kind::Other);
    }
}
