//! Draining a node on SIGTERM (docs/operations.md, "Draining a node"), on two nodes sharing one
//! NATS under a steady load of sends through both: `/ready` on the draining node answers 503 before
//! its sockets close, new sockets are refused with 503 (`/ws`, Socket.IO over a WebSocket and its
//! long-polling handshake), HTTP writes are still served, each `/ws` socket is closed with 1012 and
//! each Socket.IO socket is told `unavailable` and then loses its transport (no `DISCONNECT`), the
//! node exits 0 within `DRAIN_SECS`, and the clients reconnect to the other node and `resume` from
//! the last `seq` they saw: every message sent during the test reaches every client exactly once.
//!
//! A long-polling Socket.IO client that stops polling holds the drain open for the few seconds
//! the node gives it to fetch its last packets (docs/socketio.md): the refusals are checked then.
//!
//! Then the official JavaScript `socket.io-client` (`tests/socketio-js/drain.mjs`) behind a small
//! balancer: it reconnects by itself to the other node and resumes, because the node closes its
//! transport rather than sending Socket.IO's `DISCONNECT`.

mod common;

use common::cluster::{conversation_on_both, Cluster};
use common::sio::{decode_packet, polling_url, seq_of, sio_url};
use common::ws::ws_url;
use common::*;
use futures::{SinkExt, StreamExt};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

const DRAIN_SECS: u64 = 10;
const CUSTOMER: &str = "cus_drain";
const BOOKING: &str = "bk_drain";
/// Sends of the steady load are this far apart (alternately through A and B).
const LOAD_EVERY: Duration = Duration::from_millis(15);
/// How long the clients are given to receive everything once the load stops.
const SETTLE: Duration = Duration::from_secs(20);

/// What one client received: message ids (of `message_sent` and `new_message`), in order, and the
/// highest `seq` it saw, which it resumes from.
#[derive(Default)]
struct Tally {
    ids: Mutex<Vec<String>>,
    last_seq: AtomicU64,
}

impl Tally {
    fn starting_at(seq: u64) -> Arc<Tally> {
        let t = Tally::default();
        t.last_seq.store(seq, Ordering::SeqCst);
        Arc::new(t)
    }

    /// Counts an event `{"event", "data", "seq"?}` (the `seq` may be in `data`, as Socket.IO's).
    fn record(&self, v: &Value) {
        if let Some(seq) = seq_of(v) {
            self.last_seq.fetch_max(seq, Ordering::SeqCst);
        }
        if v["event"] == "message_sent" || v["event"] == "new_message" {
            let id = v["data"]["message"]["id"].as_str().expect("a message id");
            self.ids.lock().unwrap().push(id.to_string());
        }
    }

    fn since(&self) -> u64 {
        self.last_seq.load(Ordering::SeqCst)
    }

    fn ids(&self) -> Vec<String> {
        self.ids.lock().unwrap().clone()
    }
}

/// How a socket on A ended, and what `/ready` on A said right after.
#[derive(Debug)]
struct Ended {
    client: String,
    /// The close frame's code and reason (a WebSocket's own close, for both codecs).
    close: Option<(u16, String)>,
    /// Socket.IO: the `error` event received before the transport closed.
    told: Option<Value>,
    /// Socket.IO: a `DISCONNECT` packet came (it must not: the client would not reconnect).
    disconnect_packet: bool,
    /// `GET /ready` on A sent once the close was seen: status and body.
    ready: (u16, Value),
}

async fn ready_of(base: &str) -> (u16, Value) {
    let r = raw(
        reqwest::Method::GET,
        &format!("{base}/ready"),
        None,
        &[],
        None,
    )
    .await;
    (r.status.as_u16(), r.body)
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn ws_open(url: String, token: &str) -> Ws {
    let mut request = url.into_client_request().expect("ws request");
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(request)
        .await
        .expect("ws connect")
        .0
}

/// A `/ws` client: authenticates on A, counts what it gets until A closes it, reports how, then
/// connects to B, resumes from its last `seq` and counts on until `stop`.
async fn ws_client(
    name: String,
    token: String,
    (a, b): (String, String),
    tally: Arc<Tally>,
    connected: mpsc::Sender<()>,
    ended: mpsc::Sender<Ended>,
    stop: Arc<AtomicBool>,
) {
    let mut ws = ws_open(ws_url(&a), &token).await;
    let mut close = None;
    while let Some(msg) = ws.next().await {
        match msg.expect("a frame") {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["event"] == "authenticated" {
                    connected.send(()).await.unwrap();
                }
                tally.record(&v);
            }
            Message::Close(frame) => {
                close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                break;
            }
            _ => {}
        }
    }
    let ready = ready_of(&a).await;
    let report = Ended {
        client: name,
        close,
        told: None,
        disconnect_packet: false,
        ready,
    };
    ended.send(report).await.unwrap();

    let mut ws = ws_open(ws_url(&b), &token).await;
    let resume = json!({ "event": "resume", "data": { "since": tally.since() }, "ref": "r" });
    ws.send(Message::Text(resume.to_string().into()))
        .await
        .unwrap();
    while !stop.load(Ordering::SeqCst) {
        let Ok(msg) = tokio::time::timeout(Duration::from_millis(100), ws.next()).await else {
            continue;
        };
        match msg.expect("B keeps the socket").expect("a frame") {
            Message::Text(t) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["ref"] == "r" {
                    assert_eq!(v["event"], "ack", "resume on B: {v}");
                }
                tally.record(&v);
            }
            Message::Close(frame) => panic!("B closed a resumed socket: {frame:?}"),
            _ => {}
        }
    }
}

/// Reads a Socket.IO WebSocket until it closes: events are counted, pings answered; returns the
/// `error` event, whether a `DISCONNECT` came, and the close frame.
async fn sio_read_until_closed(
    ws: &mut Ws,
    tally: &Tally,
) -> (Option<Value>, bool, Option<(u16, String)>) {
    let (mut told, mut disconnect) = (None, false);
    while let Some(msg) = ws.next().await {
        match msg {
            Ok(Message::Text(t)) if t.as_str() == "2" => {
                let _ = ws.send(Message::Text("3".into())).await;
            }
            Ok(Message::Text(t)) => {
                let v = decode_packet(&t);
                if v["event"] == "error" {
                    told = Some(v["data"].clone());
                }
                disconnect |= v["disconnect"] == json!(true);
                tally.record(&v);
            }
            Ok(Message::Close(frame)) => {
                let close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                return (told, disconnect, close);
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    (told, disconnect, None)
}

/// Connects a Socket.IO client over a WebSocket with `auth`; returns once `authenticated` came.
async fn sio_connect(base: &str, auth: Value, tally: &Tally) -> Ws {
    let mut ws = ws_open(sio_url(base, ""), "").await;
    let open = ws.next().await.unwrap().unwrap();
    assert!(open.to_text().unwrap().starts_with("0{"), "{open:?}");
    ws.send(Message::Text(format!("40{auth}").into()))
        .await
        .unwrap();
    loop {
        let msg = ws.next().await.expect("an answer").expect("a frame");
        let Message::Text(t) = msg else { continue };
        if t.as_str() == "2" {
            ws.send(Message::Text("3".into())).await.unwrap();
            continue;
        }
        assert!(!t.starts_with("44"), "CONNECT refused: {t}");
        let v = decode_packet(&t);
        tally.record(&v);
        if v["event"] == "authenticated" {
            return ws;
        }
    }
}

/// Counts what a Socket.IO WebSocket on B receives until `stop`.
async fn sio_on_b(mut ws: Ws, tally: Arc<Tally>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        let Ok(msg) = tokio::time::timeout(Duration::from_millis(100), ws.next()).await else {
            continue;
        };
        match msg.expect("B keeps the socket").expect("a frame") {
            Message::Text(t) if t.as_str() == "2" => {
                ws.send(Message::Text("3".into())).await.unwrap();
            }
            Message::Text(t) => {
                let v = decode_packet(&t);
                assert_ne!(v["event"], "error", "on B: {v}");
                tally.record(&v);
            }
            Message::Close(frame) => panic!("B closed a resumed socket: {frame:?}"),
            _ => {}
        }
    }
}

/// A Socket.IO client over a WebSocket: on A until its transport closes, then on B with `since`.
async fn sio_client(
    name: String,
    token: String,
    (a, b): (String, String),
    tally: Arc<Tally>,
    connected: mpsc::Sender<()>,
    ended: mpsc::Sender<Ended>,
    stop: Arc<AtomicBool>,
) {
    let mut ws = sio_connect(&a, json!({ "token": token }), &tally).await;
    connected.send(()).await.unwrap();
    let (told, disconnect_packet, close) = sio_read_until_closed(&mut ws, &tally).await;
    let ready = ready_of(&a).await;
    let report = Ended {
        client: name,
        close,
        told,
        disconnect_packet,
        ready,
    };
    ended.send(report).await.unwrap();
    let auth = json!({ "token": token, "since": tally.since() });
    let ws = sio_connect(&b, auth, &tally).await;
    sio_on_b(ws, tally, stop).await;
}

/// A long-polling Socket.IO session driven by hand, so that the test decides when it polls.
struct Polling {
    http: reqwest::Client,
    url: String,
}

impl Polling {
    /// Opens a session on `base` and connects with `token`; returns once `authenticated` came.
    async fn connect(base: &str, token: &str, tally: &Tally) -> Polling {
        let http = reqwest::Client::new();
        let open = http.get(polling_url(base)).send().await.unwrap();
        assert_eq!(open.status().as_u16(), 200);
        let open = open.text().await.unwrap();
        let handshake: Value = serde_json::from_str(open.strip_prefix('0').unwrap()).unwrap();
        let url = format!(
            "{}&sid={}",
            polling_url(base),
            handshake["sid"].as_str().unwrap()
        );
        let p = Polling { http, url };
        let connect = format!("40{}", json!({ "token": token }));
        let posted = p.http.post(&p.url).body(connect).send().await.unwrap();
        assert_eq!(posted.status().as_u16(), 200);
        loop {
            let (packets, closed) = p.poll(tally).await;
            assert!(!closed, "closed while connecting");
            if packets.iter().any(|v| v["event"] == "authenticated") {
                return p;
            }
        }
    }

    /// One GET: the packets it answered (pings answered), and whether it was Engine.IO's `close`.
    async fn poll(&self, tally: &Tally) -> (Vec<Value>, bool) {
        let resp = self.http.get(&self.url).send().await.unwrap();
        if resp.status().as_u16() != 200 {
            return (Vec::new(), true);
        }
        let body = resp.text().await.unwrap();
        let (mut packets, mut closed) = (Vec::new(), false);
        for p in body.split('\u{1e}') {
            match p {
                "2" => {
                    self.http.post(&self.url).body("3").send().await.unwrap();
                }
                "1" => closed = true,
                _ => {
                    let v = decode_packet(p);
                    tally.record(&v);
                    packets.push(v);
                }
            }
        }
        (packets, closed)
    }
}

/// Sends messages through A and B in turn until `stop`, as the customer and an admin in turn, each
/// with a `clientMessageId`; a send A cannot take is made again through B with the same key, as a
/// client behind a load balancer would. Returns the ids of the messages sent.
async fn load(
    (a, b): (String, String),
    conv: String,
    stop: Arc<AtomicBool>,
    through_a_while_draining: Arc<AtomicU64>,
    draining: Arc<AtomicBool>,
) -> Vec<String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let tokens = [customer(CUSTOMER, &[]), admin("adm_drain_sender")];
    let mut sent = Vec::new();
    let mut i = 0usize;
    while !stop.load(Ordering::SeqCst) {
        let body =
            json!({ "content": format!("load {i}"), "clientMessageId": format!("load-{i}") });
        let token = &tokens[i % 2];
        let first = if i.is_multiple_of(2) { &a } else { &b };
        let mut id = None;
        for base in [first, &b, &b, &b] {
            let was_draining = draining.load(Ordering::SeqCst);
            let url = format!("{base}/messaging/conversations/{conv}/messages");
            let Ok(resp) = http.post(&url).bearer_auth(token).json(&body).send().await else {
                continue;
            };
            if resp.status().as_u16() != 201 {
                continue;
            }
            let v: Value = resp.json().await.unwrap();
            if base == &a && was_draining {
                through_a_while_draining.fetch_add(1, Ordering::SeqCst);
            }
            id = Some(v["data"]["id"].as_str().unwrap().to_string());
            break;
        }
        sent.push(id.unwrap_or_else(|| panic!("load {i} was taken by neither node")));
        i += 1;
        tokio::time::sleep(LOAD_EVERY).await;
    }
    sent
}

/// How many times each id occurs.
fn counts(ids: &[String]) -> BTreeMap<String, usize> {
    let mut c = BTreeMap::new();
    for id in ids {
        *c.entry(id.clone()).or_default() += 1;
    }
    c
}

/// The status and body of a WebSocket upgrade the server refused.
async fn refused_upgrade(url: String) -> (u16, String) {
    match tokio_tungstenite::connect_async(url).await {
        Ok(_) => panic!("a socket was opened on a draining node"),
        Err(WsError::Http(resp)) => {
            let body = resp.body().as_deref().map(String::from_utf8_lossy);
            (
                resp.status().as_u16(),
                body.unwrap_or_default().into_owned(),
            )
        }
        Err(e) => panic!("not an HTTP refusal: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draining_node_hands_its_clients_to_another_with_nothing_lost_or_repeated() {
    let opts = AppOptions {
        extra_env: vec![
            ("DRAIN_SECS".into(), DRAIN_SECS.to_string()),
            (
                "RUST_LOG".into(),
                "warn,concierge=info,concierge::http=warn".into(),
            ),
        ],
        ..AppOptions::default()
    };
    let mut c = Cluster::start_with(opts).await;
    let conv = conversation_on_both(&c, CUSTOMER, BOOKING).await;
    let (base_a, base_b) = (c.a.base(), c.b.base());
    let nodes = (base_a.clone(), base_b.clone());

    // Everything after this seq is what the test sends.
    let (status, ready) = ready_of(&base_a).await;
    assert_eq!(status, 200, "{ready}");
    let start = ready["data"]["folded"].as_u64().expect("folded");

    let stop = Arc::new(AtomicBool::new(false));
    let (connected_tx, mut connected) = mpsc::channel(8);
    let (ended_tx, mut ended) = mpsc::channel(8);
    let mut tallies: Vec<(String, Arc<Tally>)> = Vec::new();
    let mut clients = Vec::new();
    let ws_users = [
        ("ws customer", customer(CUSTOMER, &[])),
        ("ws admin 1", admin("adm_drain_1")),
        ("ws admin 2", admin("adm_drain_2")),
    ];
    for (name, token) in ws_users {
        let tally = Tally::starting_at(start);
        tallies.push((name.to_string(), tally.clone()));
        clients.push(tokio::spawn(ws_client(
            name.into(),
            token,
            nodes.clone(),
            tally,
            connected_tx.clone(),
            ended_tx.clone(),
            stop.clone(),
        )));
    }
    let sio_users = [
        ("socket.io customer", customer(CUSTOMER, &[])),
        ("socket.io admin", admin("adm_drain_3")),
    ];
    for (name, token) in sio_users {
        let tally = Tally::starting_at(start);
        tallies.push((name.to_string(), tally.clone()));
        clients.push(tokio::spawn(sio_client(
            name.into(),
            token,
            nodes.clone(),
            tally,
            connected_tx.clone(),
            ended_tx.clone(),
            stop.clone(),
        )));
    }
    let on_a = clients.len();
    for _ in 0..on_a {
        connected.recv().await.unwrap();
    }
    let polling_token = admin("adm_drain_polling");
    let polling_tally = Tally::starting_at(start);
    tallies.push(("socket.io long-polling admin".into(), polling_tally.clone()));
    let polling = Polling::connect(&base_a, &polling_token, &polling_tally).await;

    let draining = Arc::new(AtomicBool::new(false));
    let through_a_while_draining = Arc::new(AtomicU64::new(0));
    let load = tokio::spawn(load(
        nodes.clone(),
        conv.clone(),
        stop.clone(),
        through_a_while_draining.clone(),
        draining.clone(),
    ));
    tokio::time::sleep(Duration::from_millis(1500)).await;

    draining.store(true, Ordering::SeqCst);
    let signalled = Instant::now();
    c.a.sigterm();

    // Each socket on A: closed as the codec says, and `/ready` was 503 by then.
    for _ in 0..on_a {
        let e = tokio::time::timeout(Duration::from_secs(DRAIN_SECS), ended.recv())
            .await
            .expect("every socket on A is closed while it drains")
            .unwrap();
        assert_eq!(e.ready.0, 503, "{e:?}");
        assert_eq!(e.ready.1["error"], "unavailable", "{e:?}");
        assert_eq!(
            e.ready.1["message"], "server is draining: reconnect",
            "{e:?}"
        );
        assert_eq!(
            e.close,
            Some((1012, "server is draining: reconnect".into())),
            "{e:?}"
        );
        assert!(!e.disconnect_packet, "no DISCONNECT: {e:?}");
        if e.client.starts_with("socket.io") {
            let told = e
                .told
                .as_ref()
                .unwrap_or_else(|| panic!("no error event: {e:?}"));
            assert_eq!(told["code"], "unavailable", "{e:?}");
            assert_eq!(told["message"], "server is draining: reconnect", "{e:?}");
        }
    }

    // While the long-polling client has not fetched its last packets, A still listens: new
    // sockets are refused, HTTP writes are served.
    let (status, body) = refused_upgrade(ws_url(&base_a)).await;
    assert_eq!(status, 503, "/ws during the drain: {body}");
    if !body.is_empty() {
        assert!(body.contains("\"unavailable\""), "{body}");
    }
    let (status, body) = refused_upgrade(sio_url(&base_a, "")).await;
    assert_eq!(status, 503, "Socket.IO WebSocket during the drain: {body}");
    let r = raw(reqwest::Method::GET, &polling_url(&base_a), None, &[], None).await;
    assert_eq!(r.status.as_u16(), 503, "{:?}", r.body);
    assert_eq!(r.body["error"], "unavailable", "{:?}", r.body);
    assert_eq!(r.body["message"], "server is draining: reconnect");
    let written = data(
        send_body(
            &c.a,
            &customer(CUSTOMER, &[]),
            &conv,
            &json!({ "content": "during the drain", "clientMessageId": "during-drain" }),
        )
        .await,
        201,
    );
    let during_drain = written["id"].as_str().unwrap().to_string();

    // The long-polling client gets what was queued, the `error` event, then Engine.IO's close.
    let mut told = None;
    loop {
        let (packets, closed) = polling.poll(&polling_tally).await;
        for v in packets {
            assert_ne!(
                v["disconnect"],
                json!(true),
                "no DISCONNECT over long-polling"
            );
            if v["event"] == "error" {
                told = Some(v["data"].clone());
            }
        }
        if closed {
            break;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(DRAIN_SECS),
            "the long-polling session was not closed"
        );
    }
    let told = told.expect("an error event before the close");
    assert_eq!(told["code"], "unavailable", "{told}");
    let auth = json!({ "token": polling_token, "since": polling_tally.since() });
    let resumed = sio_connect(&base_b, auth, &polling_tally).await;
    clients.push(tokio::spawn(sio_on_b(
        resumed,
        polling_tally.clone(),
        stop.clone(),
    )));

    let left = Duration::from_secs(DRAIN_SECS).saturating_sub(signalled.elapsed());
    let status =
        c.a.exited_within(left)
            .await
            .unwrap_or_else(|| panic!("A did not exit within DRAIN_SECS={DRAIN_SECS}"));
    assert!(status.success(), "A exited with {status}");
    let log = c.a.log();
    assert!(!log.contains("drain cut"), "{log}");
    // A's views were written with their checkpoint: at least up to the last write A answered.
    let views = concierge_projections::ViewStore::open(&c.a.data_dir().join("views")).unwrap();
    let checkpoint = views.checkpoint().unwrap();
    let last_answered = written["seq"].as_u64().unwrap();
    assert!(
        checkpoint >= last_answered,
        "{checkpoint} < {last_answered}"
    );
    drop(views);

    // The load goes on through B alone for a moment, then stops.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    stop.store(true, Ordering::SeqCst);
    let mut sent = load.await.unwrap();
    sent.push(during_drain);
    let expected = counts(&sent);
    assert_eq!(expected.len(), sent.len(), "each send made one message");

    // Every client gets every message exactly once: wait for all of them, then a moment more for
    // any duplicate to show.
    let deadline = Instant::now() + SETTLE;
    loop {
        let missing: Vec<(&str, usize)> = tallies
            .iter()
            .map(|(n, t)| {
                let got = counts(&t.ids());
                let missing = expected.keys().filter(|id| !got.contains_key(*id)).count();
                (n.as_str(), missing)
            })
            .filter(|(_, m)| *m > 0)
            .collect();
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "messages missing after {SETTLE:?}: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (name, tally) in &tallies {
        let got = counts(&tally.ids());
        let repeated: Vec<_> = got.iter().filter(|(_, n)| **n > 1).collect();
        assert!(
            repeated.is_empty(),
            "{name} got these more than once: {repeated:?}"
        );
        assert_eq!(got, expected, "{name} got exactly the messages sent");
    }
    eprintln!(
        "{} messages, {} clients, {} sent through A while it drained",
        sent.len(),
        tallies.len(),
        through_a_while_draining.load(Ordering::SeqCst)
    );
    for client in clients {
        client.await.unwrap();
    }
}

/// A balancer in front of two nodes: each new TCP connection goes to the first while `first` is
/// set, else to the second (as a balancer stops routing to a node whose `/ready` is 503).
async fn balancer(first: u16, second: u16, to_first: Arc<AtomicBool>) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let Ok((mut inbound, _)) = listener.accept().await else {
                return;
            };
            let to = if to_first.load(Ordering::SeqCst) {
                first
            } else {
                second
            };
            tokio::spawn(async move {
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(("127.0.0.1", to)).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    port
}

/// The official JavaScript `socket.io-client` (`tests/socketio-js/drain.mjs`, under Node.js) behind
/// a balancer: when its node drains it reconnects by itself, to the other node, and resumes with
/// nothing lost or repeated, over a WebSocket and over long-polling upgraded to one. Needs `node`
/// and `npm` on PATH, as `tests/socketio_js.rs`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_client_reconnects_by_itself_when_its_node_drains() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/socketio-js");
    if !dir
        .join("node_modules/socket.io-client/package.json")
        .exists()
    {
        let out = std::process::Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .expect("npm ci in tests/socketio-js (install Node.js and npm)");
        assert!(out.status.success(), "npm ci failed: {out:?}");
    }
    let opts = AppOptions {
        extra_env: vec![("DRAIN_SECS".into(), DRAIN_SECS.to_string())],
        ..AppOptions::default()
    };
    let mut c = Cluster::start_with(opts).await;
    let conv = conversation_on_both(&c, CUSTOMER, BOOKING).await;
    let to_a = Arc::new(AtomicBool::new(true));
    let port = balancer(c.a.port(), c.b.port(), to_a.clone()).await;

    let mut script = tokio::process::Command::new("node")
        .arg(dir.join("drain.mjs"))
        .current_dir(&dir)
        .env("CONCIERGE_URL", format!("http://127.0.0.1:{port}"))
        .env("ADMIN_TOKEN", admin("adm_drain_js"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn node");
    let mut stdin = script.stdin.take().unwrap();
    let mut lines = BufReader::new(script.stdout.take().unwrap()).lines();
    let mut transcript = Vec::new();
    let run = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            transcript.push(line.clone());
            if !line.starts_with("CONNECTED") {
                continue;
            }
            let token = customer(CUSTOMER, &[]);
            let mut ids = Vec::new();
            for i in 0..5 {
                ids.push(send(&c.a, &token, &conv, &format!("before {i}")).await["id"].clone());
            }
            // The balancer sees A's /ready go 503 and routes new connections to B.
            to_a.store(false, Ordering::SeqCst);
            c.a.sigterm();
            for i in 0..10 {
                ids.push(send(&c.b, &token, &conv, &format!("during {i}")).await["id"].clone());
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let status = c.a.exited_within(Duration::from_secs(DRAIN_SECS)).await;
            assert!(status.is_some_and(|s| s.success()), "A: {status:?}");
            let answer = format!("SENT {}\n", Value::from(ids));
            stdin.write_all(answer.as_bytes()).await.unwrap();
            stdin.flush().await.unwrap();
        }
        script.wait().await.unwrap()
    };
    let status = tokio::time::timeout(Duration::from_secs(90), run)
        .await
        .expect("drain.mjs ended within 90 s");
    let transcript = transcript.join("\n");
    assert!(status.success(), "drain.mjs: {status}\n{transcript}");
    assert!(transcript.ends_with("PASS"), "{transcript}");
}

/// A drain that outlasts `DRAIN_SECS` (here a long-polling client that never fetches its last
/// packets, which the node would wait 5 s for) is cut: the node logs what it cut, flushes its views
/// and exits 0 in time.
#[tokio::test]
async fn a_drain_longer_than_drain_secs_is_cut_and_the_node_still_exits() {
    let mut env = TestEnv::start_with(AppOptions {
        extra_env: vec![("DRAIN_SECS".into(), "2".into())],
        ..AppOptions::default()
    })
    .await;
    let tally = Tally::default();
    let _stalled = Polling::connect(&env.app.base(), &admin("adm_stalled"), &tally).await;
    let signalled = Instant::now();
    env.app.sigterm();
    let status = env
        .app
        .exited_within(Duration::from_secs(4))
        .await
        .expect("the node exits after DRAIN_SECS");
    assert!(status.success(), "{status}");
    assert!(
        signalled.elapsed() < Duration::from_millis(2500),
        "exited {:?} after SIGTERM, DRAIN_SECS=2",
        signalled.elapsed()
    );
    let log = env.app.log();
    assert!(
        log.contains("drain cut after DRAIN_SECS=2: closing 1 connection(s) still open"),
        "{log}"
    );
}
