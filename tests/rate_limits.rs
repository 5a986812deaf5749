//! Budgets beyond message sends over HTTP alone (those are in tests/http_cross_cutting.rs): message
//! sends per user shared by HTTP, `/ws` and Socket.IO (`SEND_RATE_LIMIT`), other writes per user
//! over HTTP and WebSocket (`WRITE_RATE_LIMIT`), and failed authentications per client address
//! (`AUTH_FAILURE_LIMIT`), each answered 429 `rate_limited` with `Retry-After` (or, on a socket,
//! an error with code `rate_limited`).

mod common;

use common::sio;
use common::ws::{connect, ws_url, Auth};
use common::*;
use reqwest::Method;
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr};

async fn start(env: &[(&str, &str)]) -> TestEnv {
    TestEnv::start_with(AppOptions {
        extra_env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    })
    .await
}

/// Asserts a 429 `rate_limited` whose `Retry-After` is whole seconds in `1..=max`; returns the
/// message.
#[track_caller]
fn rate_limited(r: Resp, max: u64) -> String {
    let retry_after: u64 = r
        .headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("429 without Retry-After: {:?}", r.headers))
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=max).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    error((r.status, r.body), 429, "rate_limited")
}

#[tokio::test]
async fn other_writes_share_one_budget_per_user_over_http_and_websocket() {
    let env = start(&[("WRITE_RATE_LIMIT", "3")]).await;
    let app = &env.app;
    let ann = customer("cus_ann", &["bk_1"]);
    let conv = id_of(&created(open(app, &ann, "bk_1").await));
    let msg = id_of(&send(app, &ann, &conv, "hello").await);
    let reactions = app.url(&format!(
        "/messaging/conversations/{conv}/messages/{msg}/reactions"
    ));
    let react = |emoji: &str| {
        let body = serde_json::to_vec(&json!({ "emoji": emoji })).unwrap();
        let (url, ann) = (reactions.clone(), ann.clone());
        async move {
            raw(
                Method::POST,
                &url,
                Some(&ann),
                &[("content-type", "application/json")],
                Some(body),
            )
            .await
        }
    };
    for emoji in ["👍", "🎉"] {
        assert_eq!(react(emoji).await.status, 200);
    }
    // The third write goes over the WebSocket: typing shares the budget.
    let mut socket = connect(&app.base(), Auth::Header(&ann)).await;
    let reply = socket
        .request("typing_start", json!({ "conversationId": conv }), "t1")
        .await;
    assert_eq!(reply["event"], json!("ack"), "{reply}");
    let reply = socket
        .request("typing_stop", json!({ "conversationId": conv }), "t2")
        .await;
    assert_eq!(reply["event"], json!("error"), "{reply}");
    assert_eq!(reply["error"]["code"], json!("rate_limited"));

    let message = rate_limited(react("🙏").await, 10);
    assert_eq!(message, "too many writes: at most 3 per 10 seconds");
    let now = data(
        get(
            &app.url(&format!("/messaging/conversations/{conv}/messages")),
            &ann,
        )
        .await,
        200,
    );
    assert_eq!(now["messages"][0]["reactions"].as_array().unwrap().len(), 2);

    // Sends have their own budget, other users their own, and the platform none.
    send(app, &ann, &conv, "still allowed").await;
    let bo = admin("adm_bo");
    assert_eq!(
        data(post(&reactions, &bo, &json!({ "emoji": "👍" })).await, 200)["reactions"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    for i in 0..5 {
        let booking = format!("bk_bulk_{i}");
        data(register_booking(app, &booking, "cus_zed", None).await, 201);
    }
}

#[tokio::test]
async fn sends_over_http_ws_and_socket_io_draw_from_one_budget_per_user() {
    let env = TestEnv::start_with(AppOptions {
        send_rate_limit: Some(3),
        ..AppOptions::default()
    })
    .await;
    let app = &env.app;
    let ann = customer("cus_ann", &["bk_1"]);
    let conv = id_of(&created(open(app, &ann, "bk_1").await));
    let mut ws = connect(&app.base(), Auth::Header(&ann)).await;
    let mut io = sio::connect(&app.base(), sio::Auth::Token(&ann)).await;
    let body = |content: &str| json!({ "conversationId": conv, "content": content });

    // One send each way: the budget of 3 is spent.
    send(app, &ann, &conv, "over HTTP").await;
    let reply = ws.request("send_message", body("over /ws"), "w1").await;
    assert_eq!(reply["event"], json!("ack"), "{reply}");
    let ack = io.request("send_message", body("over Socket.IO")).await;
    assert_eq!(ack["success"], json!(true), "{ack}");

    // The next one over Socket.IO is refused in the ack's envelope…
    let ack = io.request("send_message", body("one too many")).await;
    assert_eq!(
        (&ack["success"], &ack["error"]),
        (&json!(false), &json!("rate_limited")),
        "{ack}"
    );
    let message = ack["message"].as_str().expect("a message").to_string();
    assert_eq!(message, "too many messages: at most 3 per 10 seconds");
    // …without an ack, as an `error` event naming the event…
    io.emit("send_message", body("one too many, no ack")).await;
    let e = io.next_event("error").await;
    assert_eq!(
        e["data"],
        json!({ "event": "send_message", "code": "rate_limited", "message": message }),
        "{e}"
    );
    // …and over /ws and HTTP alike.
    let reply = ws.request("send_message", body("one too many"), "w2").await;
    assert_eq!(reply["error"]["code"], json!("rate_limited"), "{reply}");
    assert_eq!(reply["error"]["message"], json!(message), "{reply}");
    let r = raw(
        Method::POST,
        &messages_url(app, &conv),
        Some(&ann),
        &[("content-type", "application/json")],
        Some(br#"{"content":"one too many"}"#.to_vec()),
    )
    .await;
    assert_eq!(rate_limited(r, 10), message);

    // Another user has their own budget, over Socket.IO too.
    let mut bo = sio::connect(&app.base(), sio::Auth::Token(&admin("adm_bo"))).await;
    let ack = bo.request("send_message", body("the admin's")).await;
    assert_eq!(ack["success"], json!(true), "{ack}");
    let all = list_messages(app, &admin("adm_audit"), &conv, "").await;
    assert_eq!(all["pagination"]["total"], json!(4), "{all}");
    assert!(
        !contents(&all["messages"])
            .iter()
            .any(|c| c.starts_with("one too many")),
        "a refused send was written: {all}"
    );
}

/// A client whose requests come from `ip` (an address of 127.0.0.0/8).
fn client_from(ip: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(ip))
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_address_that_keeps_failing_to_authenticate_is_refused_for_a_while() {
    let env = start(&[("AUTH_FAILURE_LIMIT", "3")]).await;
    let app = &env.app;
    let url = app.url("/messaging/conversations");
    let good = customer("cus_ann", &[]);
    let bad = format!("{good}x");
    let from = |ip: Ipv4Addr, token: String| {
        let url = url.clone();
        async move {
            let r = client_from(ip)
                .get(&url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let retry_after = r
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_string());
            let body: serde_json::Value = r.json().await.unwrap();
            (status, retry_after, body)
        }
    };
    let attacker = Ipv4Addr::new(127, 0, 0, 2);
    let neighbour = Ipv4Addr::new(127, 0, 0, 3);

    // Requests without a token are not attempts: they never count.
    for _ in 0..10 {
        let r = client_from(attacker).get(&url).send().await.unwrap();
        assert_eq!(r.status().as_u16(), 401);
    }
    // Three failures fit the budget, the fourth is still judged (401) and trips it.
    for _ in 0..4 {
        assert_eq!(from(attacker, bad.clone()).await.0, 401);
    }
    let (status, retry_after, body) = from(attacker, good.clone()).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], json!("rate_limited"));
    assert_eq!(
        body["message"],
        json!("too many failed authentications from this address: try again later")
    );
    let secs: u64 = retry_after.expect("Retry-After").parse().unwrap();
    assert!((1..=20).contains(&secs), "Retry-After {secs}");
    // The WebSocket upgrade is refused the same way, before any token is read.
    let request = format!("{}?token={good}", ws_url(&app.base()));
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind((IpAddr::V4(attacker), 0).into()).unwrap();
    let stream = socket
        .connect(format!("127.0.0.1:{}", app.port()).parse().unwrap())
        .await
        .unwrap();
    match tokio_tungstenite::client_async(request, stream).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            assert_eq!(resp.status().as_u16(), 429)
        }
        other => panic!(
            "the upgrade was not refused: {:?}",
            other.map(|(_, r)| r.status())
        ),
    }

    // Another address is not affected.
    assert_eq!(from(neighbour, bad).await.0, 401);
    assert_eq!(from(neighbour, good).await.0, 200);
}
