//! The slow-consumer rule by bytes and time (docs/realtime.md, "Slow clients"): a socket that stops
//! reading for a moment keeps every event, whether its queue stayed under `SOCKET_QUEUE_BYTES` or
//! went over it for less than `SLOW_CONSUMER_GRACE_MS`; one that stays over it is closed with 1008
//! and the reason, counted in `/metrics` and logged, and its client resumes with `since` and loses
//! nothing.
//!
//! The slow client's TCP receive buffer is fixed small, so what it does not read waits in the
//! server's queue rather than in the kernel's buffers.

mod common;

use common::ws::{ws_url, Client, Ws};
use common::*;
use futures::stream::StreamExt;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::net::TcpSocket;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::MaybeTlsStream;

/// The slow client's receive buffer (the kernel doubles it, and stops tuning it).
const RECV_BUFFER: u32 = 4096;
/// The events of a burst over the bound, in bytes as the server encodes them.
const BIG_BURST_BYTES: usize = 14 << 20;
/// `SOCKET_QUEUE_BYTES` here, and the hard cap of four times it.
const BOUND: f64 = 4_194_304.0;
const HARD_CAP: f64 = 4.0 * BOUND;
/// Short messages in a burst under the bound: 1,200 events (more than the 1,024 events a socket
/// could once hold), well under 1 MB.
const SMALL_BURST: usize = 600;

/// A dev server with `env`, booking bk_1 of cus_ann opened; returns it, the customer's token and
/// the conversation id.
async fn setup(env: &[(&str, &str)]) -> (TestEnv, String, String) {
    let env = TestEnv::start_with(AppOptions {
        dev: true,
        extra_env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..AppOptions::default()
    })
    .await;
    let ann = customer("cus_ann", &[]);
    let conv = fixtures::conversation_of(&env.app, "cus_ann", "bk_1").await;
    (env, ann, conv)
}

/// An admin socket with a small receive buffer, past the hold of live events (it has pinged).
async fn slow_admin(app: &App, sub: &str) -> Client {
    let socket = TcpSocket::new_v4().expect("tcp socket");
    socket.set_recv_buffer_size(RECV_BUFFER).expect("SO_RCVBUF");
    let stream = socket
        .connect(format!("127.0.0.1:{}", app.port()).parse().unwrap())
        .await
        .expect("tcp connect");
    let mut request = ws_url(&app.base())
        .into_client_request()
        .expect("ws request");
    request.headers_mut().insert(
        "authorization",
        format!("Bearer {}", admin(sub)).parse().unwrap(),
    );
    let (ws, _): (Ws, _) = tokio_tungstenite::client_async(request, MaybeTlsStream::Plain(stream))
        .await
        .expect("ws handshake");
    let mut client = Client {
        ws,
        seen: Vec::new(),
    };
    client.next_event("authenticated").await;
    let pong = client.request("ping", json!({}), "p-0").await;
    assert_eq!(pong["event"], json!("ack"), "{pong}");
    client
}

/// Sends `n` messages of `content` over HTTP, 8 at a time; returns their seqs, ascending.
async fn burst(app: &App, token: &str, conv: &str, n: usize, content: &str) -> Vec<u64> {
    let mut seqs: Vec<u64> = post_messages(app, token, conv, n, content, 8)
        .await
        .iter()
        .map(|m| m["seq"].as_u64().expect("seq"))
        .collect();
    seqs.sort_unstable();
    seqs
}

/// The largest content there is: 2000 four-byte characters.
fn largest() -> String {
    "\u{1F600}".repeat(2000)
}

/// Sends one message of the largest content while `client` reads, and returns the bytes of the
/// frames it makes for `client` (`new_message` and `conversation_updated`, the content in both):
/// how many such messages make a burst of [`BIG_BURST_BYTES`].
async fn big_burst_len(app: &App, token: &str, conv: &str, client: &mut Client) -> usize {
    let seq = burst(app, token, conv, 1, &largest()).await[0];
    let mut bytes = 0;
    for event in ["new_message", "conversation_updated"] {
        let f = client
            .next_matching(event, |f| f["event"] == event && f["seq"] == seq)
            .await;
        bytes += f.to_string().len();
    }
    BIG_BURST_BYTES.div_ceil(bytes)
}

/// Reads `client` until it has `n` `new_message` frames (20 s at most between two); their seqs in
/// arrival order.
async fn read_new_messages(client: &mut Client, n: usize) -> Vec<u64> {
    let mut got = Vec::new();
    while got.len() < n {
        let f = client
            .next_within(Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("the socket stalled or closed after {} messages", got.len()));
        if f["event"] == "new_message" {
            got.push(f["seq"].as_u64().expect("seq"));
        }
    }
    got
}

/// Reads `client` to its close frame (45 s at most): the `new_message` seqs before it, and its
/// code and reason.
async fn read_to_close(client: &mut Client) -> (Vec<u64>, Option<(u16, String)>) {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(45);
    loop {
        let next = tokio::time::timeout_at(deadline, client.ws.next()).await;
        match next {
            Ok(Some(Ok(Message::Text(t)))) => {
                let f: Value = serde_json::from_str(&t).expect("server frames are JSON");
                if f["event"] == "new_message" {
                    got.push(f["seq"].as_u64().expect("seq"));
                }
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                let close = frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                return (got, close);
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_)) | None) | Err(_) => return (got, None),
        }
    }
}

/// `text` without its ANSI colour codes.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(|c| c.is_ascii_alphabetic());
        } else {
            out.push(c);
        }
    }
    out
}

/// `GET /metrics`.
async fn metrics(app: &App) -> String {
    reqwest::get(app.url("/metrics"))
        .await
        .expect("GET /metrics")
        .text()
        .await
        .expect("metrics text")
}

/// The value of the sample `name` whose labels include every one of `labels` (`k="v"`).
fn sample(metrics: &str, name: &str, labels: &[&str]) -> Option<f64> {
    metrics.lines().find_map(|l| {
        let rest = l.strip_prefix(name)?;
        let (labels_part, value) = rest.rsplit_once(' ')?;
        let matches = labels_part.starts_with('{')
            && labels.iter().all(|want| labels_part.contains(want))
            || labels_part.is_empty() && labels.is_empty();
        matches.then(|| value.parse().expect("a sample's value"))
    })
}

/// Sockets closed as too slow, summed over every transport and reason (each series is served from
/// the start, at 0).
fn closes(metrics: &str) -> f64 {
    metrics
        .lines()
        .filter(|l| l.starts_with("concierge_slow_consumer_closes_total{"))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}

/// Polls `/metrics` until `ready` holds of it (60 s at most: it may wait out a whole burst).
async fn wait_for_metrics(app: &App, what: &str, ready: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = metrics(app).await;
        if ready(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "no {what} in /metrics:\n{text}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_burst_under_the_bound_is_kept_however_many_events_it_is() {
    // No grace: the socket would be closed at the first event that took it over the bound.
    let (env, ann, conv) = setup(&[
        ("SOCKET_QUEUE_BYTES", "8388608"),
        ("SLOW_CONSUMER_GRACE_MS", "0"),
    ])
    .await;
    let app = &env.app;
    let mut slow = slow_admin(app, "adm_slow").await;
    let sent = burst(app, &ann, &conv, SMALL_BURST, "a short message").await;

    let got = read_new_messages(&mut slow, SMALL_BURST).await;
    assert_eq!(got, sent, "every message, once, in seq order");
    let pong = slow.request("ping", json!({}), "p-1").await;
    assert_eq!(pong["event"], json!("ack"), "still open: {pong}");
    let text = metrics(app).await;
    assert_eq!(closes(&text), 0.0, "{text}");
    assert_eq!(
        sample(
            &text,
            "concierge_socket_queue_peak_bytes_count",
            &["transport=\"ws\""]
        ),
        Some(0.0),
        "never over the bound: {text}"
    );
}

#[tokio::test]
async fn a_burst_over_the_bound_shorter_than_the_grace_is_kept() {
    let (env, ann, conv) = setup(&[
        ("SOCKET_QUEUE_BYTES", "4194304"),
        ("SLOW_CONSUMER_GRACE_MS", "30000"),
    ])
    .await;
    let app = &env.app;
    let mut slow = slow_admin(app, "adm_slow").await;
    let n = big_burst_len(app, &ann, &conv, &mut slow).await;
    let started = Instant::now();
    let sent = burst(app, &ann, &conv, n, &largest()).await;

    let got = read_new_messages(&mut slow, n).await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the burst outlasted the grace: {:?}",
        started.elapsed()
    );
    assert_eq!(got, sent, "every message, once, in seq order");
    let pong = slow.request("ping", json!({}), "p-1").await;
    assert_eq!(pong["event"], json!("ack"), "still open: {pong}");
    // The socket went over the bound once, stayed under the hard cap, and caught up.
    let text = metrics(app).await;
    let ws = ["transport=\"ws\""];
    assert_eq!(closes(&text), 0.0, "{text}");
    assert_eq!(
        sample(&text, "concierge_socket_queue_peak_bytes_count", &ws),
        Some(1.0),
        "{text}"
    );
    let peak = sample(&text, "concierge_socket_queue_peak_bytes_sum", &ws).unwrap();
    assert!(BOUND < peak && peak <= HARD_CAP, "peak {peak}: {text}");
}

#[tokio::test]
async fn a_socket_that_stays_over_the_bound_is_closed_then_resumes_without_loss() {
    let (env, ann, conv) = setup(&[
        ("SOCKET_QUEUE_BYTES", "4194304"),
        ("SLOW_CONSUMER_GRACE_MS", "1000"),
    ])
    .await;
    let app = &env.app;
    let mut slow = slow_admin(app, "adm_slow").await;
    let n = big_burst_len(app, &ann, &conv, &mut slow).await;
    // The first event for it once it has been over the bound for the grace closes it: one late in
    // the burst, or the one after it.
    let sending = async {
        let mut sent = burst(app, &ann, &conv, n, &largest()).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        sent.extend(burst(app, &ann, &conv, 1, "one more").await);
        sent
    };
    // The client reads again as soon as the close is counted: the server gives the close frame
    // a few seconds to get past what is still queued for a client that does not read.
    let reading = async {
        let text = wait_for_metrics(app, "slow consumer close", |m| closes(m) >= 1.0).await;
        (text, read_to_close(&mut slow).await)
    };
    let (sent, (text, (got, close))) = tokio::join!(sending, reading);
    assert_eq!(
        sample(
            &text,
            "concierge_slow_consumer_closes_total",
            &["transport=\"ws\"", "reason=\"over_bytes\""]
        ),
        Some(1.0),
        "{text}"
    );
    let nonzero: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("concierge_slow_consumer_closes_total") && !l.ends_with(" 0"))
        .collect();
    assert_eq!(nonzero.len(), 1, "one close, for over_bytes: {nonzero:?}");
    let peak = sample(
        &text,
        "concierge_socket_queue_peak_bytes_sum",
        &["transport=\"ws\""],
    )
    .unwrap();
    assert!(BOUND < peak && peak <= HARD_CAP, "peak {peak}: {text}");

    assert_eq!(
        close,
        Some((1008, "too slow: send queue over its bound".to_string()))
    );
    assert!(got.len() < sent.len(), "the closed socket got everything");
    assert_eq!(got, sent[..got.len()], "what it got came in seq order");
    let warned = plain(&app.log());
    let line = warned
        .lines()
        .find(|l| l.contains("closing a slow consumer"))
        .unwrap_or_else(|| panic!("no warning logged:\n{warned}"));
    for field in [
        "WARN",
        "user=adm_slow",
        "transport=\"ws\"",
        "reason=\"over_bytes\"",
    ] {
        assert!(line.contains(field), "{field} missing from {line}");
    }
    assert!(
        line.contains("queued_bytes=") && line.contains("over_ms="),
        "{line}"
    );

    // Its client reconnects and resumes from the last seq it got: nothing is lost.
    drop(slow);
    let mut again = slow_admin(app, "adm_slow").await;
    let since = got.last().copied().unwrap_or(0);
    again
        .send(json!({ "event": "resume", "data": { "since": since }, "ref": "r-1" }))
        .await;
    let mut replayed = Vec::new();
    loop {
        let f = again
            .next_within(Duration::from_secs(20))
            .await
            .expect("the replay stalled");
        match f["event"].as_str() {
            Some("new_message") => replayed.push(f["seq"].as_u64().expect("seq")),
            Some("ack") if f["ref"] == "r-1" => break,
            _ => {}
        }
    }
    let mut all = got.clone();
    all.extend(replayed);
    assert_eq!(
        all, sent,
        "live then replayed: every message once, in order"
    );
}
