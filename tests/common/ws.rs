//! A WebSocket test client speaking WEBSOCKET.md: connect (header, query or first frame), send
//! frames, and wait for the next frame matching a predicate with a deadline.

#![allow(dead_code)]
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How a test client authenticates.
pub enum Auth<'a> {
    Header(&'a str),
    Query(&'a str),
    Frame(&'a str),
    None,
}

pub struct Client {
    pub ws: Ws,
    /// Every frame received so far, in order (the ones `next_matching` skipped included).
    pub seen: Vec<Value>,
}

/// `ws://…/ws` of an app whose HTTP base is `base` (`http://127.0.0.1:PORT`).
pub fn ws_url(base: &str) -> String {
    format!("{}/ws", base.replacen("http://", "ws://", 1))
}

/// Opens a socket; with `Auth::Header`/`Query`/`Frame`, waits for `authenticated`.
pub async fn connect(base: &str, auth: Auth<'_>) -> Client {
    let mut client = open(base, &auth).await;
    if let Auth::Frame(token) = auth {
        client
            .send(json!({ "event": "authenticate", "data": { "token": token } }))
            .await;
    }
    if !matches!(auth, Auth::None) {
        let hello = client.next_event("authenticated").await;
        assert!(hello["data"]["connectionId"].is_string(), "{hello}");
    }
    client
}

/// Opens a socket without waiting for anything.
pub async fn open(base: &str, auth: &Auth<'_>) -> Client {
    let url = match auth {
        Auth::Query(t) => format!("{}?token={}", ws_url(base), t),
        _ => ws_url(base),
    };
    let mut request = url.into_client_request().expect("ws request");
    if let Auth::Header(t) = auth {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("ws connect");
    Client {
        ws,
        seen: Vec::new(),
    }
}

impl Client {
    pub async fn send(&mut self, frame: Value) {
        self.ws
            .send(Message::Text(frame.to_string().into()))
            .await
            .expect("ws send");
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.ws
            .send(Message::Text(text.to_string().into()))
            .await
            .expect("ws send");
    }

    /// The next JSON frame within `timeout`, or `None` (timeout, close or error).
    pub async fn next_within(&mut self, timeout: Duration) -> Option<Value> {
        loop {
            let msg = tokio::time::timeout(timeout, self.ws.next())
                .await
                .ok()??
                .ok()?;
            match msg {
                Message::Text(t) => {
                    let v: Value = serde_json::from_str(&t).expect("server frames are JSON");
                    self.seen.push(v.clone());
                    return Some(v);
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// The next frame satisfying `pred` within 10 s (panics otherwise); frames before it are skipped.
    pub async fn next_matching(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Some(v) if pred(&v) => return v,
                Some(_) => continue,
                None => panic!("no {what} within 10 s; seen: {:#?}", self.seen),
            }
        }
    }

    pub async fn next_event(&mut self, event: &str) -> Value {
        self.next_matching(event, |v| v["event"] == event).await
    }

    /// Sends a frame with `ref` and returns its reply (`ack` or `error`).
    pub async fn request(&mut self, event: &str, data: Value, reference: &str) -> Value {
        self.send(json!({ "event": event, "data": data, "ref": reference }))
            .await;
        self.next_matching("reply", |v| v["ref"] == reference).await
    }

    /// Asserts nothing arrives for `quiet` (frames that do arrive are returned for the message).
    pub async fn expect_silence(&mut self, quiet: Duration) {
        if let Some(v) = self.next_within(quiet).await {
            panic!("expected silence, got {v}");
        }
    }

    /// Waits for the server to close the socket and returns the close code.
    pub async fn close_code(&mut self) -> Option<u16> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.ws.next()).await {
                Err(_) => return None,
                Ok(None) => return None,
                Ok(Some(Err(_))) => return None,
                Ok(Some(Ok(Message::Close(frame)))) => {
                    return frame
                        .map(|f| u16::from(f.code))
                        .or(Some(u16::from(CloseCode::Status)))
                }
                Ok(Some(Ok(Message::Text(t)))) => {
                    if let Ok(v) = serde_json::from_str::<Value>(&t) {
                        self.seen.push(v);
                    }
                }
                Ok(Some(Ok(_))) => {}
            }
        }
    }
}
