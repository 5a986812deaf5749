//! `/socket.io/` over HTTP long-polling, the Engine.IO v4 transport `socket.io-client` starts with
//! (SOCKETIO.md "Transport"): the open packet, `CONNECT` and events both ways through `POST` and
//! `GET`, the 64 KiB limit on a `POST`, Engine.IO's own refusals, and the upgrade to a WebSocket
//! (`2probe`, `3probe`, `5`) with nothing lost or repeated across it; a client that goes away
//! mid-poll is gone at once.

mod common;

use common::fixtures::next_presence;
use common::sio::{connect, polling_url, Auth, Polling};
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const BOOKING: &str = "bk_1";

fn ann() -> String {
    customer("cus_ann", &[])
}

fn bo() -> String {
    admin("adm_bo")
}

async fn ann_conversation(app: &App) -> String {
    id_of(&created(
        open(app, &customer("cus_ann", &[BOOKING]), BOOKING).await,
    ))
}

/// Asserts the success envelope and returns its `data`.
#[track_caller]
fn success(ack: &Value) -> Value {
    assert_eq!(ack["success"], json!(true), "{ack}");
    assert!(ack["message"].is_string(), "{ack}");
    ack["data"].clone()
}

/// The message events (`new_message`, `message_sent`) among `seen`, as (event, message id, seq).
fn messages(seen: &[Value]) -> Vec<(String, Value, u64)> {
    seen.iter()
        .filter(|v| v["event"] == "new_message" || v["event"] == "message_sent")
        .map(|v| {
            (
                v["event"].as_str().unwrap().to_string(),
                v["data"]["message"]["id"].clone(),
                v["data"]["seq"].as_u64().expect("data.seq"),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_open_packet_offers_the_websocket_upgrade_and_a_64_kib_max_payload() {
    let env = TestEnv::start().await;
    let p = Polling::open(&env.app.base(), "", &[]).await;
    let h = &p.handshake;
    let sid = h["sid"].as_str().expect("sid");
    assert!(!sid.is_empty());
    assert_eq!(h["upgrades"], json!(["websocket"]), "{h}");
    assert_eq!(h["maxPayload"], json!(65536), "{h}");
    assert!(h["pingInterval"].as_u64().is_some_and(|n| n > 0), "{h}");
    assert!(h["pingTimeout"].as_u64().is_some_and(|n| n > 0), "{h}");
    assert_eq!(
        h.as_object().unwrap().len(),
        5,
        "sid, upgrades, pingInterval, pingTimeout, maxPayload: {h}"
    );
}

#[tokio::test]
async fn over_polling_alone_events_go_both_ways() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let mut p = Polling::connect(&app.base(), &ann()).await;
    assert_eq!(p.seen[0]["event"], json!("authenticated"), "{:#?}", p.seen);
    assert_eq!(p.seen[0]["data"]["userId"], json!("cus_ann"));

    let joined = success(&p.request("join_conversation", json!(conv)).await);
    assert_eq!(joined["conversation"]["id"], json!(conv));
    // Two events with acks in one POST: both answered, in order.
    let (status, body) = p
        .post(&[
            &format!("421{}", json!(["ping", {}])),
            &format!(
                "422{}",
                json!(["send_message", { "conversationId": conv, "content": "hi" }])
            ),
        ])
        .await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    let first = p.next_matching("an ack", |v| v.get("ack").is_some()).await;
    assert_eq!(first["ack"], json!(1), "{first}");
    assert_timestamp(&success(&first["data"])["serverTime"]);
    let second = p.next_matching("an ack", |v| v.get("ack").is_some()).await;
    assert_eq!(second["ack"], json!(2), "{second}");
    let mine = success(&second["data"])["message"].clone();

    let theirs = send(app, &bo(), &conv, "hello from bo").await;
    p.next_matching("bo's message", |v| {
        v["event"] == "new_message" && v["data"]["message"]["id"] == theirs["id"]
    })
    .await;
    assert_eq!(
        messages(&p.seen),
        [
            (
                "message_sent".to_string(),
                mine["id"].clone(),
                mine["seq"].as_u64().unwrap()
            ),
            (
                "new_message".to_string(),
                theirs["id"].clone(),
                theirs["seq"].as_u64().unwrap()
            ),
        ]
    );
    // A refused event without an ack: an error event, and the session goes on.
    p.emit("fly", json!({})).await;
    let err = p.next_event("error").await;
    assert_eq!(err["data"]["event"], json!("fly"), "{err}");
    assert_eq!(err["data"]["code"], json!("validation_failed"), "{err}");
    success(&p.request("ping", json!({})).await);
}

#[tokio::test]
async fn header_and_query_tokens_work_over_polling_and_bad_ones_get_connect_error() {
    let env = TestEnv::start().await;
    let base = env.app.base();
    let (t, auth) = (ann(), format!("Bearer {}", ann()));
    // (query, headers, accepted or the refusal's code)
    type Case<'a> = (String, Vec<(&'a str, &'a str)>, Result<(), &'a str>);
    let cases: Vec<Case> = vec![
        (format!("&token={t}"), vec![], Ok(())),
        (
            String::new(),
            vec![("authorization", auth.as_str())],
            Ok(()),
        ),
        ("&token=not-a-jwt".into(), vec![], Err("unauthorized")),
        (format!("&token={}", service()), vec![], Err("forbidden")),
    ];
    for (query, headers, want) in cases {
        let mut p = Polling::open(&base, &query, &headers).await;
        p.send_raw("40").await;
        let answer = p.next_within(Duration::from_secs(10)).await.unwrap();
        let answer = answer["packet"].as_str().unwrap_or_default().to_string();
        match want {
            Ok(()) => {
                assert!(answer.starts_with("40{"), "{query}: {answer}");
                let hello = p.next_event("authenticated").await;
                assert_eq!(hello["data"]["userId"], json!("cus_ann"));
            }
            Err(code) => {
                let e: Value = serde_json::from_str(
                    answer
                        .strip_prefix("44")
                        .unwrap_or_else(|| panic!("{query}: {answer}")),
                )
                .unwrap();
                assert_eq!(e["message"], json!(code), "{e}");
                assert_eq!(e["data"]["code"], json!(code), "{e}");
            }
        }
    }
}

#[tokio::test]
async fn a_post_of_64_kib_is_served_and_one_byte_more_closes_the_session() {
    let env = TestEnv::start().await;
    let conv = ann_conversation(&env.app).await;
    let mut watcher =
        common::sio::connect(&env.app.base(), common::sio::Auth::Token(&admin("adm_cy"))).await;
    let mut p = Polling::connect(&env.app.base(), &ann()).await;
    watcher
        .next_matching("ann online", |v| {
            v["event"] == "user_online" && v["data"]["userId"] == "cus_ann"
        })
        .await;
    let ping = |id: u64, len: usize| {
        let empty = format!("42{id}{}", json!(["ping", { "pad": "" }]));
        let p = format!(
            "42{id}{}",
            json!(["ping", { "pad": "x".repeat(len - empty.len()) }])
        );
        assert_eq!(p.len(), len);
        p
    };
    p.send_raw(&ping(7, 64 * 1024)).await;
    let ack = p.next_matching("ack 7", |v| v["ack"] == 7).await;
    success(&ack["data"]);

    let (status, _) = p.post(&[&ping(8, 64 * 1024 + 1)]).await;
    assert_eq!(status, 413);
    // The connection is over: the waiting poll ends with a close packet, the socket is gone
    // (Ann goes offline), and the session takes nothing more.
    assert!(p.next_within(Duration::from_secs(10)).await.is_none());
    assert_eq!(
        p.poll_ended.lock().unwrap().as_deref(),
        Some("close"),
        "the poll ends with a close packet"
    );
    assert!(!p.seen.iter().any(|v| v["ack"] == 8), "{:#?}", p.seen);
    let started = std::time::Instant::now();
    watcher
        .next_matching("ann offline", |v| {
            v["event"] == "user_offline" && v["data"]["userId"] == "cus_ann"
        })
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "offline after {:?}",
        started.elapsed()
    );
    // A POST after the close is refused and does nothing.
    let late = format!(
        "42{}",
        json!(["send_message", { "conversationId": conv, "content": "after the close" }])
    );
    let (status, body) = p.post(&[&late]).await;
    assert_eq!(status, 400, "{body}");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let page = list_messages(&env.app, &ann(), &conv, "").await;
    assert_eq!(page["messages"], json!([]));
}

#[tokio::test]
async fn engine_io_refuses_an_unknown_session_version_or_transport() {
    let env = TestEnv::start().await;
    let http = reqwest::Client::new();
    let base = env.app.base();
    let cases = [
        (format!("{}&sid=nope", polling_url(&base)), 1, "GET"),
        (format!("{}&sid=nope", polling_url(&base)), 1, "POST"),
        (
            format!("{base}/socket.io/?EIO=3&transport=polling"),
            5,
            "GET",
        ),
        (
            format!("{base}/socket.io/?EIO=4&transport=carrier-pigeon"),
            0,
            "GET",
        ),
    ];
    for (url, code, method) in cases {
        let req = if method == "GET" {
            http.get(&url)
        } else {
            http.post(&url).body("40")
        };
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{method} {url}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["code"], json!(code), "{method} {url}: {body}");
        assert!(body["message"].is_string(), "{body}");
    }
}

/// `n` messages from Bo over HTTP, a few milliseconds apart; returns them in order.
async fn bo_sends(app: &App, conv: &str, n: usize, prefix: &str) -> Vec<Value> {
    let mut out = Vec::new();
    for i in 0..n {
        out.push(send(app, &bo(), conv, &format!("{prefix} {i}")).await);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    out
}

#[tokio::test]
async fn an_upgrade_from_polling_to_websocket_loses_and_repeats_nothing() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    data(open(app, &bo(), BOOKING).await, 200);

    // Before the upgrade, over polling: join, send, receive.
    let mut p = Polling::connect(&app.base(), &ann()).await;
    success(
        &p.request("join_conversation", json!({ "conversationId": conv }))
            .await,
    );
    let before = success(
        &p.request(
            "send_message",
            json!({ "conversationId": conv, "content": "before" }),
        )
        .await,
    )["message"]
        .clone();
    let from_bo = send(app, &bo(), &conv, "bo before").await;
    p.next_matching("bo's message", |v| {
        v["event"] == "new_message" && v["data"]["message"]["id"] == from_bo["id"]
    })
    .await;

    let sid = p.sid.clone();
    // Bo keeps sending while the client upgrades.
    let during = bo_sends(app, &conv, 40, "during");
    // The upgrade starts once the first of them came over polling, and ends while Bo still sends.
    let upgrading = async {
        p.next_matching("during 0", |v| {
            v["event"] == "new_message" && v["data"]["message"]["content"] == "during 0"
        })
        .await;
        let c = p.upgrade().await;
        let polled = c.seen.len();
        (c, polled)
    };
    let (during, (mut c, polled)) = tokio::join!(during, upgrading);

    // After the upgrade, over the WebSocket: send with an ack, receive.
    let ack = c
        .request(
            "send_message",
            json!({ "conversationId": conv, "content": "after" }),
        )
        .await;
    let after = success(&ack)["message"].clone();
    let barrier = send(app, &bo(), &conv, "barrier").await;
    c.next_matching("the barrier", |v| {
        v["event"] == "new_message" && v["data"]["message"]["id"] == barrier["id"]
    })
    .await;

    let mut want = vec![("message_sent", &before), ("new_message", &from_bo)];
    want.extend(during.iter().map(|m| ("new_message", m)));
    want.push(("message_sent", &after));
    want.push(("new_message", &barrier));
    let want: Vec<(String, Value, u64)> = want
        .into_iter()
        .map(|(e, m)| (e.to_string(), m["id"].clone(), m["seq"].as_u64().unwrap()))
        .collect();
    assert_eq!(messages(&c.seen), want, "{:#?}", c.seen);
    // The upgrade happened in the middle of Bo's messages: some came over each transport.
    let of_bo = |seen: &[Value]| {
        messages(seen)
            .iter()
            .filter(|m| during.iter().any(|d| d["id"] == m.1))
            .count()
    };
    let (over_polling, over_ws) = (of_bo(&c.seen[..polled]), of_bo(&c.seen[polled..]));
    assert!(
        over_polling >= 1 && over_ws >= 1,
        "{over_polling} + {over_ws}"
    );
    // Events of the conversation in seq order, across both transports.
    let seqs: Vec<u64> = c
        .seen
        .iter()
        .filter_map(|v| v["data"]["seq"].as_u64())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] <= w[1]), "{seqs:?}");
    // The session lives on the WebSocket; its long-polling side is gone.
    success(&c.request("ping", json!({})).await);
    let url = format!("{}&sid={sid}", polling_url(&app.base()));
    let resp = reqwest::Client::new().get(&url).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], json!(1), "{body}");
}

#[tokio::test]
async fn packets_posted_before_the_upgrade_are_all_read_before_the_websocket_takes_over() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let mut p = Polling::connect(&app.base(), &ann()).await;
    let mut c = p.probe().await;
    // Sixteen sends in one POST keep the connection's task busy while `5` arrives: the ones it has
    // not read yet must not be dropped when it moves to the WebSocket.
    let sends: Vec<String> = (1..=16)
        .map(|i| {
            format!(
                "42{i}{}",
                json!(["send_message", { "conversationId": conv, "content": format!("m{i}") }])
            )
        })
        .collect();
    let payload: Vec<&str> = sends.iter().map(String::as_str).collect();
    assert_eq!(p.post(&payload).await, (200, "ok".to_string()));
    c.send_raw("5").await;
    let mut sent = Vec::new();
    for i in 1..=16u64 {
        let ack = c.ack_of(i).await;
        sent.push(success(&ack)["message"]["content"].clone());
    }
    let want: Vec<Value> = (1..=16).map(|i| json!(format!("m{i}"))).collect();
    assert_eq!(sent, want);
    let page = list_messages(app, &ann(), &conv, "limit=50").await;
    assert_eq!(
        page["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["content"].clone())
            .collect::<Vec<_>>(),
        want,
        "the log holds each once, in order"
    );
}

#[tokio::test]
async fn a_client_that_drops_its_waiting_poll_goes_offline_at_once_not_at_the_ping_timeout() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let mut watcher = connect(&app.base(), Auth::Token(&bo())).await;
    let p = Polling::connect(&app.base(), &ann()).await;
    next_presence(&mut watcher, "user_online", "cus_ann").await;
    // The background poll has asked again and waits for the next packet.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ping_timeout = p.handshake["pingInterval"].as_u64().unwrap()
        + p.handshake["pingTimeout"].as_u64().unwrap();
    assert_eq!(ping_timeout, 45_000, "{}", p.handshake);
    // The page closes: its waiting GET's connection goes with it.
    drop(p);
    let offline = next_presence(&mut watcher, "user_offline", "cus_ann").await;
    assert_eq!(offline["data"]["role"], json!("customer"), "{offline}");
}
