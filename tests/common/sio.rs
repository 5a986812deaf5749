//! A Socket.IO test client speaking SOCKETIO.md over the WebSocket transport, packet by packet:
//! Engine.IO open, `CONNECT` with an auth payload, events with and without ack ids, and the
//! heartbeat. Received events are kept as `{"event", "data"}` objects, the shape `/ws` tests read,
//! so one table can check both codecs.

#![allow(dead_code)]
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// How a test client authenticates.
pub enum Auth<'a> {
    /// `auth: { token }` in the `CONNECT` packet.
    Token(&'a str),
    /// `Authorization: Bearer` on the upgrade request.
    Header(&'a str),
    /// `?token=` on the URL.
    Query(&'a str),
    /// An `authenticate` event after connecting.
    Event(&'a str),
    /// No token at all.
    None,
}

/// What the server answered to `CONNECT`.
#[derive(Debug)]
pub enum Connect {
    /// `40{"sid"}`.
    Connected(Value),
    /// `44{"message", "data"}`: the client's `connect_error`.
    Refused(Value),
}

pub struct Client {
    pub ws: Ws,
    /// Every event received so far as `{"event", "data"}`, in order, and every ack as
    /// `{"ack": id, "data": payload}`.
    pub seen: Vec<Value>,
    next_ack: u64,
}

/// `ws://…/socket.io/?EIO=4&transport=websocket` of an app whose HTTP base is `base`.
pub fn sio_url(base: &str, query: &str) -> String {
    format!(
        "{}/socket.io/?EIO=4&transport=websocket{query}",
        base.replacen("http://", "ws://", 1)
    )
}

/// Opens the Engine.IO connection and sends `CONNECT` (with `auth` when given); no waiting for the
/// answer.
pub async fn open(base: &str, auth: &Auth<'_>, extra_auth: Option<Value>) -> Client {
    let query = match auth {
        Auth::Query(t) => format!("&token={t}"),
        _ => String::new(),
    };
    let mut request = sio_url(base, &query)
        .into_client_request()
        .expect("ws request");
    if let Auth::Header(t) = auth {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("ws connect");
    let mut client = Client {
        ws,
        seen: Vec::new(),
        next_ack: 1,
    };
    let open = client
        .next_packet(Duration::from_secs(10))
        .await
        .expect("open packet");
    assert!(
        open.starts_with("0{"),
        "Engine.IO open expected, got {open}"
    );
    let mut payload = extra_auth.unwrap_or_else(|| json!({}));
    if let Auth::Token(t) = auth {
        payload["token"] = json!(t);
    }
    let connect = if payload.as_object().is_some_and(|o| o.is_empty()) {
        "40".to_string()
    } else {
        format!("40{payload}")
    };
    client.send_raw(&connect).await;
    client
}

/// Connects and, for every way with a token, waits for `authenticated`.
pub async fn connect(base: &str, auth: Auth<'_>) -> Client {
    connect_with(base, auth, None).await
}

/// [`connect`] with more fields in the `CONNECT` auth payload (`since`).
pub async fn connect_with(base: &str, auth: Auth<'_>, extra_auth: Option<Value>) -> Client {
    let mut client = open(base, &auth, extra_auth).await;
    match client.connect_answer().await {
        Connect::Connected(_) => {}
        Connect::Refused(e) => panic!("connect refused: {e}"),
    }
    if let Auth::Event(token) = auth {
        client.emit("authenticate", json!({ "token": token })).await;
    }
    if !matches!(auth, Auth::None) {
        let hello = client.next_event("authenticated").await;
        assert!(hello["data"]["connectionId"].is_string(), "{hello}");
    }
    client
}

impl Client {
    pub async fn send_raw(&mut self, packet: &str) {
        self.ws
            .send(Message::Text(packet.to_string().into()))
            .await
            .expect("ws send");
    }

    /// The next Engine.IO packet (a ping is answered and skipped), or `None` on timeout or close.
    async fn next_packet(&mut self, timeout: Duration) -> Option<String> {
        loop {
            let msg = tokio::time::timeout(timeout, self.ws.next())
                .await
                .ok()??
                .ok()?;
            match msg {
                Message::Text(t) if t.as_str() == "2" => self.send_raw("3").await,
                Message::Text(t) => return Some(t.to_string()),
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// The server's answer to `CONNECT`.
    pub async fn connect_answer(&mut self) -> Connect {
        let p = self
            .next_packet(Duration::from_secs(10))
            .await
            .expect("an answer to CONNECT");
        if let Some(body) = p.strip_prefix("40") {
            Connect::Connected(serde_json::from_str(body).expect("CONNECT answer is JSON"))
        } else if let Some(body) = p.strip_prefix("44") {
            Connect::Refused(serde_json::from_str(body).expect("CONNECT_ERROR is JSON"))
        } else {
            panic!("CONNECT or CONNECT_ERROR expected, got {p}")
        }
    }

    /// Emits `event` with `data` and no ack id.
    pub async fn emit(&mut self, event: &str, data: Value) {
        self.send_raw(&format!("42{}", json!([event, data]))).await;
    }

    /// Emits `event` with `data` and an ack id, and returns the ack's payload.
    pub async fn request(&mut self, event: &str, data: Value) -> Value {
        let id = self.next_ack;
        self.next_ack += 1;
        self.send_raw(&format!("42{id}{}", json!([event, data])))
            .await;
        let ack = self.next_matching("ack", |v| v["ack"] == id).await;
        ack["data"].clone()
    }

    /// The next event or ack within `timeout` (`{"event","data"}` or `{"ack","data"}`), or `None`
    /// (timeout, disconnect, close). A `DISCONNECT` packet is kept as `{"disconnect": true}`.
    pub async fn next_within(&mut self, timeout: Duration) -> Option<Value> {
        let p = self.next_packet(timeout).await?;
        let v = if let Some(body) = p.strip_prefix("42") {
            let args: Value = serde_json::from_str(body).expect("event payload is JSON");
            json!({ "event": args[0], "data": args[1] })
        } else if let Some(body) = p.strip_prefix("43") {
            let digits = body.bytes().take_while(u8::is_ascii_digit).count();
            let id: u64 = body[..digits].parse().expect("ack id");
            let args: Value = serde_json::from_str(&body[digits..]).expect("ack payload is JSON");
            json!({ "ack": id, "data": args[0] })
        } else if p == "41" {
            json!({ "disconnect": true })
        } else {
            json!({ "packet": p })
        };
        self.seen.push(v.clone());
        Some(v)
    }

    /// The next event or ack satisfying `pred` within 10 s (panics otherwise).
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

    /// Asserts nothing arrives for `quiet`.
    pub async fn expect_silence(&mut self, quiet: Duration) {
        if let Some(v) = self.next_within(quiet).await {
            panic!("expected silence, got {v}");
        }
    }

    /// Waits (up to 45 s) until the server ends the connection; true when it did.
    pub async fn ended(&mut self) -> bool {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                None => return tokio::time::Instant::now() < deadline,
                Some(v) if v["disconnect"] == true => return true,
                Some(_) => continue,
            }
        }
    }
}
