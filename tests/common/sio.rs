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

// ---------------------------------------------------------------------------------------------
// Raw packets, closing, and the Engine.IO long-polling transport with its upgrade
// ---------------------------------------------------------------------------------------------

/// A Socket.IO packet (inside an Engine.IO message) as the `seen` entries of [`Client`]:
/// `{"event","data"}`, `{"ack","data"}`, `{"disconnect": true}`, else `{"packet"}` (the raw text).
pub fn decode_packet(p: &str) -> Value {
    if let Some(body) = p.strip_prefix("42") {
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
    }
}

/// Opens the Engine.IO connection over a WebSocket with `query` appended to the URL (`&token=…`)
/// and, when given, `Authorization: Bearer <header>`; reads the open packet and sends nothing.
pub async fn open_engine(base: &str, query: &str, header: Option<&str>) -> Client {
    let mut request = sio_url(base, query)
        .into_client_request()
        .expect("ws request");
    if let Some(t) = header {
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
    client
}

impl Client {
    /// The next raw Engine.IO packet within `timeout` (a ping is answered and skipped), not
    /// recorded in `seen`; `None` on timeout or close.
    pub async fn next_raw(&mut self, timeout: Duration) -> Option<String> {
        self.next_packet(timeout).await
    }

    /// Emits `event` with `data` and a fresh ack id, without waiting; returns the id.
    pub async fn emit_with_ack(&mut self, event: &str, data: Value) -> u64 {
        let id = self.next_ack;
        self.next_ack += 1;
        self.send_raw(&format!("42{id}{}", json!([event, data])))
            .await;
        id
    }

    /// The payload of the ack with `id` (waiting up to 10 s; panics otherwise).
    pub async fn ack_of(&mut self, id: u64) -> Value {
        self.next_matching("ack", |v| v["ack"] == id).await["data"].clone()
    }

    /// Reads (recording every packet in `seen`) until the server closes the WebSocket (a close
    /// frame, the stream's end, or an error); `false` when it is still open after `timeout`.
    pub async fn closed_within(&mut self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match tokio::time::timeout(left, self.ws.next()).await {
                Err(_) => return false,
                Ok(None | Some(Err(_)) | Some(Ok(Message::Close(_)))) => return true,
                Ok(Some(Ok(Message::Text(t)))) if t.as_str() == "2" => {
                    let _ = self.ws.send(Message::Text("3".into())).await;
                }
                Ok(Some(Ok(Message::Text(t)))) => self.seen.push(decode_packet(&t)),
                Ok(Some(Ok(_))) => {}
            }
        }
    }
}

/// An Engine.IO v4 client over HTTP long-polling: `GET …&transport=polling` opens a session,
/// `POST …&sid=` carries packets (joined by `\x1e`), and a background task keeps one `GET` waiting
/// at all times, as a browser does, answering pings. [`Polling::upgrade`] then moves the session
/// to a WebSocket the way `socket.io-client` does (`2probe`, `3probe`, the last poll ends, `5`).
pub struct Polling {
    http: reqwest::Client,
    base: String,
    pub sid: String,
    /// The open packet's JSON (`sid`, `upgrades`, `pingInterval`, `pingTimeout`, `maxPayload`).
    pub handshake: Value,
    /// Every event and ack received so far, as [`Client::seen`].
    pub seen: Vec<Value>,
    next_ack: u64,
    packets: tokio::sync::mpsc::UnboundedReceiver<String>,
    poller: tokio::task::JoinHandle<()>,
    /// Why the background poll stopped (a status and body), once it has.
    pub poll_ended: std::sync::Arc<std::sync::Mutex<Option<String>>>,
}

impl Drop for Polling {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

/// `http://…/socket.io/?EIO=4&transport=polling` of an app whose HTTP base is `base`.
pub fn polling_url(base: &str) -> String {
    format!("{base}/socket.io/?EIO=4&transport=polling")
}

impl Polling {
    /// `GET` a new session (with `query` appended and optional request headers); asserts the open
    /// packet and starts polling.
    pub async fn open(base: &str, query: &str, headers: &[(&str, &str)]) -> Polling {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .expect("reqwest client");
        let mut req = http.get(format!("{}{query}", polling_url(base)));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let resp = req.send().await.expect("open a polling session");
        assert_eq!(resp.status().as_u16(), 200, "open: {resp:?}");
        let body = resp.text().await.expect("open body");
        let handshake: Value = serde_json::from_str(
            body.strip_prefix('0')
                .unwrap_or_else(|| panic!("Engine.IO open expected, got {body:?}")),
        )
        .expect("open packet is JSON");
        let sid = handshake["sid"].as_str().expect("sid").to_string();
        let (tx, packets) = tokio::sync::mpsc::unbounded_channel();
        let poll_ended = std::sync::Arc::new(std::sync::Mutex::new(None));
        let url = format!("{}&sid={sid}", polling_url(base));
        let poller = tokio::spawn(poll_loop(http.clone(), url, tx, poll_ended.clone()));
        Polling {
            http,
            base: base.to_string(),
            sid,
            handshake,
            seen: Vec::new(),
            next_ack: 1,
            packets,
            poller,
            poll_ended,
        }
    }

    /// Opens a session, sends `CONNECT` with `auth: {token}` and waits for `authenticated`.
    pub async fn connect(base: &str, token: &str) -> Polling {
        let mut p = Polling::open(base, "", &[]).await;
        p.send_raw(&format!("40{}", json!({ "token": token })))
            .await;
        let answer = p.next_packet(Duration::from_secs(10)).await;
        let answer = answer.expect("an answer to CONNECT");
        assert!(answer.starts_with("40{"), "CONNECT refused: {answer}");
        let hello = p.next_event("authenticated").await;
        assert!(hello["data"]["connectionId"].is_string(), "{hello}");
        p
    }

    /// `POST`s `packets` as one payload; returns the status and body.
    pub async fn post(&self, packets: &[&str]) -> (u16, String) {
        post_packets(&self.http, &self.url(), &packets.join("\u{1e}")).await
    }

    /// `POST`s one packet and asserts the server took it.
    pub async fn send_raw(&mut self, packet: &str) {
        let (status, body) = self.post(&[packet]).await;
        assert_eq!((status, body.as_str()), (200, "ok"), "POST {packet}");
    }

    fn url(&self) -> String {
        format!("{}&sid={}", polling_url(&self.base), self.sid)
    }

    /// The next packet the background poll received, or `None` (timeout, or the poll ended).
    async fn next_packet(&mut self, timeout: Duration) -> Option<String> {
        tokio::time::timeout(timeout, self.packets.recv())
            .await
            .ok()?
    }

    pub async fn emit(&mut self, event: &str, data: Value) {
        self.send_raw(&format!("42{}", json!([event, data]))).await;
    }

    /// Emits `event` with an ack id and returns the ack's payload.
    pub async fn request(&mut self, event: &str, data: Value) -> Value {
        let id = self.next_ack;
        self.next_ack += 1;
        self.send_raw(&format!("42{id}{}", json!([event, data])))
            .await;
        self.next_matching("ack", |v| v["ack"] == id).await["data"].clone()
    }

    pub async fn next_within(&mut self, timeout: Duration) -> Option<Value> {
        let p = self.next_packet(timeout).await?;
        let v = decode_packet(&p);
        self.seen.push(v.clone());
        Some(v)
    }

    pub async fn next_matching(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_within(left).await {
                Some(v) if pred(&v) => return v,
                Some(_) => continue,
                None => panic!(
                    "no {what} within 10 s (poll ended: {:?}); seen: {:#?}",
                    self.poll_ended.lock().unwrap(),
                    self.seen
                ),
            }
        }
    }

    pub async fn next_event(&mut self, event: &str) -> Value {
        self.next_matching(event, |v| v["event"] == event).await
    }

    pub async fn expect_silence(&mut self, quiet: Duration) {
        if let Some(v) = self.next_within(quiet).await {
            panic!("expected silence, got {v}");
        }
    }

    /// Upgrades to a WebSocket as `socket.io-client` does: [`Polling::probe`], then `5`.
    /// Everything polled before the upgrade is in the returned client's `seen`; what comes after
    /// arrives over the WebSocket.
    pub async fn upgrade(mut self) -> Client {
        let mut client = self.probe().await;
        client.send_raw("5").await;
        client
    }

    /// The upgrade up to its confirmation: opens `transport=websocket&sid=`, sends `2probe`,
    /// expects `3probe` and lets the waiting poll end (the server answers it with a noop). The
    /// returned client's `seen` holds everything polled; sending `5` on it completes the upgrade.
    pub async fn probe(&mut self) -> Client {
        let url = sio_url(&self.base, &format!("&sid={}", self.sid));
        let (ws, _) = tokio_tungstenite::connect_async(url.into_client_request().unwrap())
            .await
            .expect("ws connect for the upgrade");
        let mut client = Client {
            ws,
            seen: Vec::new(),
            next_ack: self.next_ack,
        };
        client.send_raw("2probe").await;
        let probe = client.next_packet(Duration::from_secs(10)).await;
        assert_eq!(probe.as_deref(), Some("3probe"), "probe answer");
        let poller = std::mem::replace(&mut self.poller, tokio::spawn(async {}));
        tokio::time::timeout(Duration::from_secs(10), poller)
            .await
            .expect("the last poll ends with a noop once the probe is answered")
            .expect("poll task");
        let ended = self.poll_ended.lock().unwrap().clone();
        assert_eq!(ended.as_deref(), Some("noop"), "why the poll ended");
        while let Ok(p) = self.packets.try_recv() {
            self.seen.push(decode_packet(&p));
        }
        client.seen = std::mem::take(&mut self.seen);
        client
    }
}

async fn post_packets(http: &reqwest::Client, url: &str, body: &str) -> (u16, String) {
    let resp = http
        .post(url)
        .header("content-type", "text/plain;charset=UTF-8")
        .body(body.to_string())
        .send()
        .await
        .expect("POST to the polling session");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

/// Keeps one `GET` waiting; forwards packets, answers pings, stops at a noop (the server's
/// answer while a WebSocket probe is under way), a close packet, or an error answer.
async fn poll_loop(
    http: reqwest::Client,
    url: String,
    tx: tokio::sync::mpsc::UnboundedSender<String>,
    ended: std::sync::Arc<std::sync::Mutex<Option<String>>>,
) {
    let why = loop {
        let resp = match http.get(&url).send().await {
            Ok(r) => r,
            Err(e) => break format!("GET failed: {e}"),
        };
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        if status != 200 {
            break format!("{status} {body}");
        }
        let mut stop = None;
        for p in body.split('\u{1e}') {
            match p {
                "2" => {
                    post_packets(&http, &url, "3").await;
                }
                "6" => stop = Some("noop".to_string()),
                "1" => stop = Some("close".to_string()),
                _ => {
                    let _ = tx.send(p.to_string());
                }
            }
        }
        if let Some(why) = stop {
            break why;
        }
    };
    *ended.lock().unwrap() = Some(why);
}

// ---------------------------------------------------------------------------------------------
// Either codec: one adapter so that a table of client events runs against `/ws` and Socket.IO.
// ---------------------------------------------------------------------------------------------

/// The two wire formats of the real-time core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Codec {
    /// `/ws`, WEBSOCKET.md.
    Ws,
    /// `/socket.io/` over the WebSocket transport, SOCKETIO.md.
    SocketIo,
}

/// The answer to a client event sent with a reply id (a `/ws` `ref`, a Socket.IO ack id), in one
/// shape: the `/ws` ack's `data`, or the error's code and message.
#[derive(Clone, Debug, PartialEq)]
pub enum Answer {
    Ack(Value),
    Error { code: String, message: String },
}

impl Answer {
    /// `"ack"` or the error code, as the tables name outcomes.
    pub fn outcome(&self) -> &str {
        match self {
            Answer::Ack(_) => "ack",
            Answer::Error { code, .. } => code,
        }
    }
}

/// A client of either codec.
pub enum Side {
    Ws(super::ws::Client),
    Sio(Client),
}

/// A socket of either codec, with the reply ids it has used.
pub struct Socket {
    pub side: Side,
    next_ref: u64,
}

impl Socket {
    fn of(side: Side) -> Socket {
        Socket { side, next_ref: 1 }
    }

    pub fn codec(&self) -> Codec {
        match self.side {
            Side::Ws(_) => Codec::Ws,
            Side::Sio(_) => Codec::SocketIo,
        }
    }

    /// Connects with `token` (the `Authorization` header on `/ws`, `auth.token` on Socket.IO) and
    /// waits for `authenticated`.
    pub async fn connect(codec: Codec, base: &str, token: &str) -> Socket {
        Socket::of(match codec {
            Codec::Ws => Side::Ws(super::ws::connect(base, super::ws::Auth::Header(token)).await),
            Codec::SocketIo => Side::Sio(connect(base, Auth::Token(token)).await),
        })
    }

    /// Opens a socket without a token, which must then send `authenticate` (Socket.IO: the
    /// `CONNECT` is accepted first).
    pub async fn anonymous(codec: Codec, base: &str) -> Socket {
        Socket::of(match codec {
            Codec::Ws => Side::Ws(super::ws::open(base, &super::ws::Auth::None).await),
            Codec::SocketIo => {
                let mut c = open(base, &Auth::None, None).await;
                match c.connect_answer().await {
                    Connect::Connected(_) => {}
                    Connect::Refused(e) => panic!("CONNECT without a token refused: {e}"),
                }
                Side::Sio(c)
            }
        })
    }

    /// How the server refuses a socket for `token` at connect, as an API.md code: `/ws` closes
    /// with 4401 (`unauthorized`) or 4403 (`forbidden`), Socket.IO answers `connect_error` with
    /// `err.data.code`. Panics when the socket is accepted.
    pub async fn refusal(codec: Codec, base: &str, token: &str) -> String {
        match codec {
            Codec::Ws => {
                let mut c = super::ws::open(base, &super::ws::Auth::Header(token)).await;
                match c.close_code().await {
                    Some(4401) => "unauthorized".into(),
                    Some(4403) => "forbidden".into(),
                    other => panic!("a refusal close expected, got {other:?}: {:?}", c.seen),
                }
            }
            Codec::SocketIo => {
                let mut c = open(base, &Auth::Token(token), None).await;
                match c.connect_answer().await {
                    Connect::Refused(e) => {
                        assert_eq!(e["message"], e["data"]["code"], "{e}");
                        e["data"]["code"].as_str().expect("a code").to_string()
                    }
                    Connect::Connected(c) => panic!("a refusal expected, got CONNECT {c}"),
                }
            }
        }
    }

    /// Sends `event` with `data` and a reply id; returns the answer. On Socket.IO the ack must
    /// have the HTTP envelope's shape (SOCKETIO.md, Client events).
    pub async fn request(&mut self, event: &str, data: Value) -> Answer {
        let n = self.next_ref;
        self.next_ref += 1;
        match &mut self.side {
            Side::Ws(c) => {
                let reply = c.request(event, data, &format!("q{n}")).await;
                match reply["event"].as_str() {
                    Some("ack") => Answer::Ack(reply["data"].clone()),
                    Some("error") => Answer::Error {
                        code: reply["error"]["code"].as_str().expect("code").into(),
                        message: reply["error"]["message"].as_str().expect("message").into(),
                    },
                    _ => panic!("ack or error expected, got {reply}"),
                }
            }
            Side::Sio(c) => {
                let ack = c.request(event, data).await;
                let message = ack["message"]
                    .as_str()
                    .unwrap_or_else(|| panic!("ack without message: {ack}"))
                    .to_string();
                match ack["success"].as_bool() {
                    Some(true) => Answer::Ack(ack["data"].clone()),
                    Some(false) => Answer::Error {
                        code: ack["error"]
                            .as_str()
                            .unwrap_or_else(|| panic!("ack without error code: {ack}"))
                            .into(),
                        message,
                    },
                    None => panic!("ack is not an envelope: {ack}"),
                }
            }
        }
    }

    /// Everything received so far (`/ws` frames; Socket.IO events and acks).
    pub fn seen(&self) -> &[Value] {
        match &self.side {
            Side::Ws(c) => &c.seen,
            Side::Sio(c) => &c.seen,
        }
    }

    /// The next event or frame within `timeout`, or `None`.
    pub async fn next_within(&mut self, timeout: Duration) -> Option<Value> {
        match &mut self.side {
            Side::Ws(c) => c.next_within(timeout).await,
            Side::Sio(c) => c.next_within(timeout).await,
        }
    }

    /// The next `event` within 10 s (panics otherwise).
    pub async fn next_event(&mut self, event: &str) -> Value {
        match &mut self.side {
            Side::Ws(c) => c.next_event(event).await,
            Side::Sio(c) => c.next_event(event).await,
        }
    }

    /// The `/ws` client; panics on Socket.IO.
    pub fn ws(&mut self) -> &mut super::ws::Client {
        match &mut self.side {
            Side::Ws(c) => c,
            Side::Sio(_) => panic!("not a /ws socket"),
        }
    }

    /// The Socket.IO client; panics on `/ws`.
    pub fn sio(&mut self) -> &mut Client {
        match &mut self.side {
            Side::Sio(c) => c,
            Side::Ws(_) => panic!("not a Socket.IO socket"),
        }
    }
}

/// The log `seq` of a received event: the frame's `seq` on `/ws`, `data.seq` on Socket.IO.
pub fn seq_of(v: &Value) -> Option<u64> {
    v["seq"].as_u64().or_else(|| v["data"]["seq"].as_u64())
}
