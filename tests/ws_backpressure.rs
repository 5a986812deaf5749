//! A slow consumer: each socket's queue is bounded in bytes, so a client that stops reading is
//! closed with 1008 and never delays anyone else; a client that keeps reading gets every frame.
//! (tests/realtime_slow_consumer.rs tests the bound and the grace themselves.)

mod common;

use common::ws::{connect, Auth, Client};
use common::*;
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

/// Messages sent while the slow socket does not read. Each reaches an admin socket as `new_message`
/// and `conversation_updated` (about 9.5 KB together): far more than the 4 MiB hard cap of the
/// default 1 MiB queue bound and the TCP buffers between the server and a client that does not read.
const MESSAGES: usize = 2_000;
const CONCURRENCY: usize = 8;
/// A message of 2000 four-byte characters, the largest content there is.
const EMOJI: &str = "\u{1F600}";
/// How late a frame may reach the fast socket after its send was answered.
const MAX_DELAY: Duration = Duration::from_secs(3);
/// How long the server may keep a socket it found too slow once the flood is over.
const RELEASE: Duration = Duration::from_secs(10);

/// Reads `client` until it has `n` `new_message` frames; returns each message's id, seq and when it
/// arrived, in arrival order.
async fn read_new_messages(mut client: Client, n: usize) -> (Client, Vec<(String, u64, Instant)>) {
    let mut got = Vec::new();
    while got.len() < n {
        let f = client
            .next_within(Duration::from_secs(20))
            .await
            .unwrap_or_else(|| panic!("the fast socket stalled after {} messages", got.len()));
        if f["event"] == "new_message" {
            let m = &f["data"]["message"];
            assert_eq!(f["seq"], m["seq"], "{f}");
            got.push((id_of(m), m["seq"].as_u64().unwrap(), Instant::now()));
        }
    }
    (client, got)
}

/// A dev server with booking bk_1 of cus_ann opened; returns it, the customer's token and the
/// conversation id.
async fn setup() -> (TestEnv, String, String) {
    let env = TestEnv::start_with(AppOptions {
        dev: true,
        ..AppOptions::default()
    })
    .await;
    let ann = customer("cus_ann", &[]);
    let conv = fixtures::conversation_of(&env.app, "cus_ann", "bk_1").await;
    (env, ann, conv)
}

/// Sends `MESSAGES` of the largest content over HTTP, `CONCURRENCY` at a time; returns each
/// Message with when its 201 came back.
async fn flood(app: &App, token: &str, conv: &str) -> Vec<(Value, Instant)> {
    let content: String = EMOJI.repeat(2000);
    let client = reqwest::Client::new();
    let url = messages_url(app, conv);
    stream::iter(0..MESSAGES)
        .map(|_| {
            let (client, url) = (client.clone(), url.clone());
            let body = json!({ "content": content });
            async move {
                let resp = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .expect("send");
                assert_eq!(resp.status().as_u16(), 201);
                let body: Value = resp.json().await.expect("json body");
                (body["data"].clone(), Instant::now())
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await
}

/// An admin socket that has sent a first frame, so live frames flow to it at once.
async fn fast_socket(app: &App) -> Client {
    let mut fast = connect(&app.base(), Auth::Header(&admin("adm_fast"))).await;
    let pong = fast.request("ping", json!({}), "p-1").await;
    assert_eq!(pong["event"], json!("ack"), "{pong}");
    fast
}

/// Waits until the server has closed a socket as too slow, for whatever reason.
async fn wait_for_a_kick(base: String) {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let metrics = client
            .get(format!("{base}/metrics"))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .expect("metrics text");
        if metrics
            .lines()
            .any(|l| l.starts_with("concierge_slow_consumer_closes_total{") && !l.ends_with(" 0"))
        {
            return;
        }
        assert!(Instant::now() < deadline, "no socket was found too slow");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_with_1008_and_delays_no_one() {
    let (env, ann, conv) = setup().await;
    let app = &env.app;
    // Both admin sockets are in the admin room; the slow one reads nothing until the server has
    // found it too slow, then reads on to see how it was closed (a close frame can only reach a
    // client that reads: one that never does is let go without it, see the next test).
    let mut slow = connect(&app.base(), Auth::Header(&admin("adm_slow"))).await;
    let fast = fast_socket(app).await;
    let reader = tokio::spawn(read_new_messages(fast, MESSAGES));
    let base = app.base();
    let slow_closed = tokio::spawn(async move {
        wait_for_a_kick(base).await;
        let code = slow.close_code().await;
        (slow, code)
    });
    let sent = flood(app, &ann, &conv).await;

    let (_fast, got) = reader.await.expect("reader task");
    let ids: HashSet<&str> = got.iter().map(|(id, _, _)| id.as_str()).collect();
    assert_eq!(ids.len(), MESSAGES, "the fast socket got a message twice");
    let answered: HashMap<String, Instant> = sent.iter().map(|(m, at)| (id_of(m), *at)).collect();
    assert!(
        got.iter().all(|(id, _, _)| answered.contains_key(id)),
        "the fast socket got a message that was not sent"
    );
    let seqs: Vec<u64> = got.iter().map(|(_, s, _)| *s).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "out of seq order");
    let worst = got
        .iter()
        .map(|(id, _, at)| at.saturating_duration_since(answered[id]))
        .max()
        .unwrap();
    assert!(
        worst <= MAX_DELAY,
        "the fast socket got a message {worst:?} after its send was answered"
    );

    let (slow, code) = slow_closed.await.expect("slow socket task");
    assert_eq!(
        code,
        Some(1008),
        "the slow socket was not closed as too slow"
    );
    let slow_messages = slow
        .seen
        .iter()
        .filter(|f| f["event"] == "new_message")
        .count();
    assert!(slow_messages < MESSAGES, "the slow socket got everything");
}

#[tokio::test]
async fn a_client_that_never_reads_again_is_let_go_and_goes_offline() {
    let (env, ann, conv) = setup().await;
    let app = &env.app;
    let slow = connect(&app.base(), Auth::Header(&admin("adm_slow"))).await;
    let fast = fast_socket(app).await;
    let reader = tokio::spawn(read_new_messages(fast, MESSAGES));
    flood(app, &ann, &conv).await;
    let (mut fast, _) = reader.await.expect("reader task");

    // The slow client still reads nothing: the server must not hold its socket for ever.
    let deadline = Instant::now() + RELEASE;
    loop {
        let s = app.socket_status().await;
        if s["connections"] == json!(1) && s["onlineUsers"] == json!(["adm_fast"]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{RELEASE:?} after the flood the server still holds the socket it found too slow: {s}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // It may have gone offline while the fast socket was still reading the flood.
    let offline = |f: &Value| f["event"] == "user_offline" && f["data"]["userId"] == "adm_slow";
    if !fast.seen.iter().any(offline) {
        fast.next_matching("user_offline for adm_slow", offline)
            .await;
    }
    drop(slow);
}
