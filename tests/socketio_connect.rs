//! `/socket.io/`: connecting with each way of authenticating (auth.token, header, query, the
//! `authenticate` event), refusals as `connect_error`, and the rules of SOCKETIO.md "Connecting" and
//! "Transport": the 10 s wait for `authenticate`, token expiry while connected, the 64 KiB packet
//! limit, namespaces, and `auth.since`.

mod common;
#[path = "common/tokens.rs"]
mod tokens;

use common::sio::{connect, connect_with, open, open_engine, Auth, Client, Connect};
use common::ws;
use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokens::{bad_tokens, token_exp};

/// The four ways of SOCKETIO.md, by name, for failure messages.
const WAYS: [&str; 4] = ["auth.token", "header", "query", "event"];

fn auth<'a>(how: &str, token: &'a str) -> Auth<'a> {
    match how {
        "auth.token" => Auth::Token(token),
        "header" => Auth::Header(token),
        "query" => Auth::Query(token),
        "event" => Auth::Event(token),
        other => panic!("unknown way {other}"),
    }
}

/// Asserts `packet` is `CONNECT_ERROR` on `/` with `code`: `44{"message": code, "data": {code,
/// message}}`, the client's `connect_error` with `err.message` and `err.data`.
#[track_caller]
fn assert_connect_error(answer: Connect, code: &str, what: &str) {
    let Connect::Refused(e) = answer else {
        panic!("{what}: connect_error {code} expected, got {answer:?}");
    };
    assert_eq!(e["message"], json!(code), "{what}: {e}");
    assert_eq!(e["data"]["code"], json!(code), "{what}: {e}");
    let message = e["data"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{what}: {e}");
    assert_eq!(
        e,
        json!({ "message": code, "data": { "code": code, "message": message } }),
        "{what}"
    );
}

/// Asserts an ack payload is the error envelope `{success: false, message, error: code}`.
#[track_caller]
fn assert_refused(ack: &Value, code: &str) {
    let message = ack["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{ack}");
    assert_eq!(
        ack,
        &json!({ "success": false, "message": message, "error": code })
    );
}

/// Asserts an `error` event `{event, code, message}` about `event`.
#[track_caller]
fn assert_error_event(v: &Value, event: Value, code: &str) {
    assert_eq!(v["event"], json!("error"), "{v}");
    let message = v["data"]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{v}");
    assert_eq!(
        v["data"],
        json!({ "event": event, "code": code, "message": message })
    );
}

/// Presents `token` the way `how` and returns the client with the server's answer: for the three
/// handshake ways the answer to `CONNECT`; for `event`, `CONNECT` is accepted and `authenticate`
/// is emitted with an ack id, whose payload is returned.
async fn present(app: &App, how: &str, token: &str) -> (Client, Result<Connect, Value>) {
    if how == "event" {
        let mut c = open(&app.base(), &Auth::None, None).await;
        let answer = c.connect_answer().await;
        assert!(matches!(answer, Connect::Connected(_)), "{answer:?}");
        let ack = c.request("authenticate", json!({ "token": token })).await;
        return (c, Err(ack));
    }
    let mut c = open(&app.base(), &auth(how, token), None).await;
    let answer = c.connect_answer().await;
    (c, Ok(answer))
}

/// A `ping` with an ack succeeds (the envelope with `serverTime`).
async fn assert_alive(c: &mut Client) {
    let pong = c.request("ping", json!({})).await;
    assert_eq!(pong["success"], json!(true), "{pong}");
    assert_eq!(pong["message"], json!("pong"), "{pong}");
    assert_timestamp(&pong["data"]["serverTime"]);
}

// ---------------------------------------------------------------------------------------------
// Authenticating
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_way_of_authenticating_says_authenticated_first() {
    let env = TestEnv::start().await;
    let mut connection_ids = Vec::new();
    for how in WAYS {
        for (sub, role) in [("cus_ann", "customer"), ("adm_bo", "admin")] {
            let t = token(sub, role, None, &[]);
            let mut c = connect(&env.app.base(), auth(how, &t)).await;
            // The first thing after `40` is `authenticated`, with no `seq`.
            let hello = &c.seen[0];
            assert_eq!(
                hello["event"],
                json!("authenticated"),
                "{how}: {:?}",
                c.seen
            );
            assert_eq!(c.seen.len(), 1, "{how}: {:?}", c.seen);
            let id = hello["data"]["connectionId"].as_str().unwrap().to_string();
            assert!(!id.is_empty());
            assert_eq!(
                hello["data"],
                json!({ "userId": sub, "role": role, "connectionId": id }),
                "{how}"
            );
            connection_ids.push(id);
            assert_alive(&mut c).await;
        }
    }
    let distinct: std::collections::BTreeSet<_> = connection_ids.iter().collect();
    assert_eq!(distinct.len(), connection_ids.len(), "{connection_ids:?}");
}

#[tokio::test]
async fn the_handshake_answers_connect_with_a_sid() {
    let env = TestEnv::start().await;
    let mut c = open(
        &env.app.base(),
        &Auth::Token(&customer("cus_ann", &[])),
        None,
    )
    .await;
    let Connect::Connected(hello) = c.connect_answer().await else {
        panic!("refused");
    };
    let sid = hello["sid"].as_str().expect("sid");
    assert!(!sid.is_empty());
    assert_eq!(hello, json!({ "sid": sid }));
    let first = c.next_within(Duration::from_secs(5)).await.unwrap();
    assert_eq!(first["event"], json!("authenticated"), "{first}");
}

#[tokio::test]
async fn an_authenticate_event_with_an_ack_gets_one_ack_then_authenticated() {
    let env = TestEnv::start().await;
    let mut c = open(&env.app.base(), &Auth::None, None).await;
    assert!(matches!(c.connect_answer().await, Connect::Connected(_)));
    let ack = c
        .request("authenticate", json!({ "token": customer("cus_ann", &[]) }))
        .await;
    assert_eq!(
        ack,
        json!({ "success": true, "message": "Authenticated", "data": {} })
    );
    let hello = c.next_within(Duration::from_secs(5)).await.unwrap();
    assert_eq!(hello["event"], json!("authenticated"), "{hello}");
    assert_eq!(hello["data"]["userId"], json!("cus_ann"));
    assert_alive(&mut c).await;
    let acks = c.seen.iter().filter(|v| v["ack"] == 1).count();
    assert_eq!(acks, 1, "{:#?}", c.seen);
}

#[tokio::test]
async fn the_token_is_taken_from_auth_then_the_header_then_the_query() {
    let env = TestEnv::start().await;
    let base = env.app.base();
    let (ann, bo, dan) = (
        customer("cus_ann", &[]),
        admin("adm_bo"),
        customer("cus_dan", &[]),
    );
    let query = format!("&token={dan}");
    // (auth.token, header, ?token= or not) → who is authenticated, or the refusal.
    type Case<'a> = (
        Option<&'a str>,
        Option<&'a str>,
        bool,
        Result<&'a str, &'a str>,
    );
    let cases: Vec<Case> = vec![
        (Some(&ann), None, false, Ok("cus_ann")),
        (Some(&ann), Some(&bo), true, Ok("cus_ann")),
        (None, Some(&bo), true, Ok("adm_bo")),
        (None, None, true, Ok("cus_dan")),
        // The first one found decides, good or bad.
        (Some("not-a-jwt"), Some(&bo), true, Err("unauthorized")),
        (None, Some("not-a-jwt"), true, Err("unauthorized")),
        (Some(&bo), Some("not-a-jwt"), true, Ok("adm_bo")),
    ];
    for (i, (in_auth, header, with_query, want)) in cases.into_iter().enumerate() {
        let q = if with_query { query.as_str() } else { "" };
        let mut c = open_engine(&base, q, header).await;
        match in_auth {
            Some(t) => c.send_raw(&format!("40{}", json!({ "token": t }))).await,
            None => c.send_raw("40").await,
        }
        match want {
            Ok(user) => {
                assert!(
                    matches!(c.connect_answer().await, Connect::Connected(_)),
                    "case {i}"
                );
                let hello = c.next_event("authenticated").await;
                assert_eq!(hello["data"]["userId"], json!(user), "case {i}");
            }
            Err(code) => assert_connect_error(c.connect_answer().await, code, &format!("case {i}")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Refusals
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn bad_tokens_get_connect_error_unauthorized_or_an_unauthorized_ack_and_disconnect() {
    let env = TestEnv::start().await;
    for how in WAYS {
        for (what, bad) in bad_tokens() {
            let what = format!("{what} by {how}");
            let (mut c, answer) = present(&env.app, how, &bad).await;
            match answer {
                Ok(answer) => assert_connect_error(answer, "unauthorized", &what),
                Err(ack) => {
                    assert_refused(&ack, "unauthorized");
                    let next = c.next_within(Duration::from_secs(5)).await;
                    assert_eq!(next, Some(json!({ "disconnect": true })), "{what}");
                    assert!(c.closed_within(Duration::from_secs(10)).await, "{what}");
                }
            }
            assert!(
                !c.seen.iter().any(|f| f["event"] == "authenticated"),
                "{what}: {:#?}",
                c.seen
            );
        }
    }
    // A token that is not a string.
    let mut c = open_engine(&env.app.base(), "", None).await;
    c.send_raw(r#"40{"token":42}"#).await;
    assert_connect_error(c.connect_answer().await, "unauthorized", "auth.token 42");
}

#[tokio::test]
async fn service_tokens_get_connect_error_forbidden() {
    let env = TestEnv::start().await;
    for how in WAYS {
        let (mut c, answer) = present(&env.app, how, &service()).await;
        match answer {
            Ok(answer) => assert_connect_error(answer, "forbidden", how),
            Err(ack) => {
                assert_refused(&ack, "forbidden");
                let next = c.next_within(Duration::from_secs(5)).await;
                assert_eq!(next, Some(json!({ "disconnect": true })), "{how}");
                assert!(c.closed_within(Duration::from_secs(10)).await, "{how}");
            }
        }
        assert!(
            !c.seen.iter().any(|f| f["event"] == "authenticated"),
            "{how}: {:#?}",
            c.seen
        );
    }
}

#[tokio::test]
async fn a_bad_authenticate_event_without_an_ack_gets_an_error_event_and_disconnect() {
    let env = TestEnv::start().await;
    let mut c = open(&env.app.base(), &Auth::None, None).await;
    assert!(matches!(c.connect_answer().await, Connect::Connected(_)));
    c.emit("authenticate", json!({ "token": "not-a-jwt" }))
        .await;
    let err = c.next_within(Duration::from_secs(5)).await.unwrap();
    assert_error_event(&err, json!("authenticate"), "unauthorized");
    let next = c.next_within(Duration::from_secs(5)).await;
    assert_eq!(next, Some(json!({ "disconnect": true })));
    assert!(c.closed_within(Duration::from_secs(10)).await);
    assert_eq!(c.seen.len(), 2, "{:#?}", c.seen);
}

#[tokio::test]
async fn before_authenticating_other_events_get_unauthorized() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = id_of(&created(
        common::open(app, &customer("cus_ann", &["bk_1"]), "bk_1").await,
    ));
    let mut c = open(&app.base(), &Auth::None, None).await;
    assert!(matches!(c.connect_answer().await, Connect::Connected(_)));

    for (event, data) in [
        ("ping", json!({})),
        ("join_conversation", json!({ "conversationId": conv })),
        (
            "send_message",
            json!({ "conversationId": conv, "content": "hi" }),
        ),
        // Malformed or unknown: still unauthorized, so a client learns nothing before it is known.
        ("send_message", json!({})),
        ("join_conversation", json!(conv)),
        ("fly", json!({})),
    ] {
        let ack = c.request(event, data.clone()).await;
        assert_refused(&ack, "unauthorized");
    }
    // Without an ack: an `error` event naming the event.
    c.emit("mark_read", json!({ "conversationId": conv })).await;
    let err = c.next_event("error").await;
    assert_error_event(&err, json!("mark_read"), "unauthorized");
    // A malformed `authenticate` is a validation error, and the socket may try again.
    let ack = c.request("authenticate", json!({})).await;
    assert_refused(&ack, "validation_failed");

    let ack = c
        .request("authenticate", json!({ "token": customer("cus_ann", &[]) }))
        .await;
    assert_eq!(ack["success"], json!(true), "{ack}");
    let hello = c.next_event("authenticated").await;
    assert_eq!(hello["data"]["userId"], json!("cus_ann"));
    assert_alive(&mut c).await;
    let page = list_messages(app, &customer("cus_ann", &[]), &conv, "").await;
    assert_eq!(page["messages"], json!([]));
}

#[tokio::test]
async fn without_authenticate_within_10_s_the_server_says_unauthorized_and_disconnects() {
    let env = TestEnv::start().await;
    let base = env.app.base();
    // Connected without a token: events other than authenticate do not extend the wait.
    let connected = async {
        let started = Instant::now();
        let mut c = open(&base, &Auth::None, None).await;
        assert!(matches!(c.connect_answer().await, Connect::Connected(_)));
        let ack = c.request("ping", json!({})).await;
        assert_refused(&ack, "unauthorized");
        let mark = c.seen.len();
        assert!(c.closed_within(Duration::from_secs(15)).await, "not closed");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(9_500) && waited <= Duration::from_secs(12),
            "closed after {waited:?}"
        );
        let after = &c.seen[mark..];
        assert_eq!(after.len(), 2, "{after:#?}");
        assert_error_event(&after[0], json!("authenticate"), "unauthorized");
        assert_eq!(after[1], json!({ "disconnect": true }));
    };
    // Never sent CONNECT at all: closed as well.
    let silent = async {
        let started = Instant::now();
        let mut c = open_engine(&base, "", None).await;
        assert!(c.closed_within(Duration::from_secs(15)).await, "not closed");
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(9_500) && waited <= Duration::from_secs(12),
            "closed after {waited:?}"
        );
        assert!(
            !c.seen.iter().any(|v| v["event"] == "authenticated"),
            "{:#?}",
            c.seen
        );
    };
    futures::join!(connected, silent);
}

#[tokio::test]
async fn a_token_that_expires_while_connected_gets_an_error_event_then_disconnect() {
    let env = TestEnv::start().await;
    let app = &env.app;
    // exp 28 s ago: inside the 30 s leeway, so accepted; past it about 2 s after minting.
    let runs = WAYS.map(|how| async move {
        let started = Instant::now();
        let t = token_exp("cus_ann", "customer", -28);
        let mut c = connect(&app.base(), auth(how, &t)).await;
        assert_eq!(c.seen[0]["data"]["userId"], json!("cus_ann"), "{how}");
        assert_alive(&mut c).await;
        let mark = c.seen.len();
        assert!(c.closed_within(Duration::from_secs(10)).await, "{how}");
        let lived = started.elapsed();
        assert!(
            lived >= Duration::from_millis(900) && lived <= Duration::from_secs(5),
            "{how}: closed after {lived:?}"
        );
        let after = &c.seen[mark..];
        assert_eq!(after.len(), 2, "{how}: {after:#?}");
        assert_error_event(&after[0], Value::Null, "unauthorized");
        assert_eq!(after[1], json!({ "disconnect": true }), "{how}");
    });
    futures::future::join_all(runs).await;
}

// ---------------------------------------------------------------------------------------------
// Transport rules
// ---------------------------------------------------------------------------------------------

/// `42<id>["ping",{"pad":"x…"}]` (an Engine.IO message) exactly `len` bytes long.
fn ping_of_len(id: u64, len: usize) -> String {
    let empty = format!("42{id}{}", json!(["ping", { "pad": "" }]));
    assert!(len >= empty.len());
    let p = format!(
        "42{id}{}",
        json!(["ping", { "pad": "x".repeat(len - empty.len()) }])
    );
    assert_eq!(p.len(), len);
    p
}

#[tokio::test]
async fn a_packet_of_64_kib_is_served_and_one_byte_more_closes_the_connection() {
    let env = TestEnv::start().await;
    let mut c = connect(&env.app.base(), Auth::Token(&customer("cus_ann", &[]))).await;
    c.send_raw(&ping_of_len(7, 64 * 1024)).await;
    let ack = c.ack_of(7).await;
    assert_eq!(ack["success"], json!(true), "{ack}");

    c.send_raw(&ping_of_len(8, 64 * 1024 + 1)).await;
    assert!(c.closed_within(Duration::from_secs(10)).await);
    assert!(!c.seen.iter().any(|v| v["ack"] == 8), "{:#?}", c.seen);
}

#[tokio::test]
async fn a_namespace_other_than_the_default_gets_connect_error() {
    let env = TestEnv::start().await;
    let ann = customer("cus_ann", &[]);
    let mut c = open_engine(&env.app.base(), "", None).await;
    for connect in [
        "40/admin,".to_string(),
        format!("40/admin,{}", json!({ "token": ann })),
    ] {
        c.send_raw(&connect).await;
        let answer = c.next_raw(Duration::from_secs(5)).await.expect("an answer");
        let body = answer
            .strip_prefix("44/admin,")
            .unwrap_or_else(|| panic!("{connect}: connect_error on /admin expected, got {answer}"));
        let e: Value = serde_json::from_str(body).unwrap();
        let message = e["data"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{e}");
        assert_eq!(
            e,
            json!({ "message": "not_found", "data": { "code": "not_found", "message": message } })
        );
    }
    // The default namespace still connects on the same connection.
    c.send_raw(&format!("40{}", json!({ "token": ann }))).await;
    assert!(matches!(c.connect_answer().await, Connect::Connected(_)));
    let hello = c.next_event("authenticated").await;
    assert_eq!(hello["data"]["userId"], json!("cus_ann"));
}

// ---------------------------------------------------------------------------------------------
// auth.since
// ---------------------------------------------------------------------------------------------

/// A log event as `(event, seq, data without seq)` for comparing the two codecs.
fn comparable(event: &str, seq: u64, data: &Value) -> (String, u64, Value) {
    let mut data = data.clone();
    if let Some(o) = data.as_object_mut() {
        o.remove("seq");
    }
    // Presence inside a Conversation moves with the sockets these tests open; the rest must match.
    if let Some(ps) = data["conversation"]["participants"].as_array_mut() {
        for p in ps {
            p.as_object_mut().unwrap().remove("online");
            p.as_object_mut().unwrap().remove("lastSeen");
        }
    }
    (event.to_string(), seq, data)
}

/// The events after `authenticated` up to `resume_complete` (included) of a Socket.IO client.
async fn sio_resumed(c: &mut Client) -> Vec<Value> {
    c.next_event("resume_complete").await;
    assert_eq!(c.seen[0]["event"], json!("authenticated"), "{:#?}", c.seen);
    c.seen[1..].to_vec()
}

#[tokio::test]
async fn auth_since_as_a_number_or_a_decimal_string_resumes_right_after_authenticated() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let ann = customer("cus_ann", &["bk_1"]);
    let conv = id_of(&created(common::open(app, &ann, "bk_1").await));
    let m1 = send(app, &admin("adm_bo"), &conv, "one").await;
    let m2 = send(app, &admin("adm_bo"), &conv, "two").await;
    let m3 = send(app, &admin("adm_bo"), &conv, "three").await;
    let since = m1["seq"].as_u64().unwrap();
    let (s2, s3) = (m2["seq"].as_u64().unwrap(), m3["seq"].as_u64().unwrap());

    // The same replay over /ws, by the resume event.
    let mut w = ws::connect(&app.base(), ws::Auth::Header(&ann)).await;
    let reply = w.request("resume", json!({ "since": since }), "r-1").await;
    assert_eq!(reply["event"], json!("ack"), "{reply}");
    let frames: Vec<Value> = w.seen[1..].to_vec();
    let done = frames
        .iter()
        .position(|f| f["event"] == "resume_complete")
        .expect("resume_complete");
    let over_ws: Vec<_> = frames[..done]
        .iter()
        .map(|f| {
            comparable(
                f["event"].as_str().unwrap(),
                f["seq"].as_u64().unwrap(),
                &f["data"],
            )
        })
        .collect();

    let mut clients = Vec::new();
    for since_value in [json!(since), json!(since.to_string())] {
        let mut c = connect_with(
            &app.base(),
            Auth::Token(&ann),
            Some(json!({ "since": since_value })),
        )
        .await;
        let events = sio_resumed(&mut c).await;
        let (replayed, done) = events.split_at(events.len() - 1);
        assert_eq!(
            done[0]["data"],
            json!({ "upTo": s3 }),
            "since {since_value}: {events:#?}"
        );
        let names: Vec<(&str, u64)> = replayed
            .iter()
            .map(|e| {
                (
                    e["event"].as_str().unwrap(),
                    e["data"]["seq"].as_u64().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            names,
            [
                ("new_message", s2),
                ("conversation_updated", s2),
                ("new_message", s3),
                ("conversation_updated", s3)
            ],
            "since {since_value}"
        );
        let over_sio: Vec<_> = replayed
            .iter()
            .map(|e| {
                comparable(
                    e["event"].as_str().unwrap(),
                    e["data"]["seq"].as_u64().unwrap(),
                    &e["data"],
                )
            })
            .collect();
        assert_eq!(over_sio, over_ws, "since {since_value}");
        clients.push(c);
    }

    // Live from here: the next message once, after the replay, nothing repeated.
    let m4 = send(app, &admin("adm_bo"), &conv, "four").await;
    for c in &mut clients {
        let live = c
            .next_matching("m4", |v| {
                v["event"] == "new_message" && v["data"]["message"]["id"] == m4["id"]
            })
            .await;
        assert_eq!(live["data"]["seq"], m4["seq"]);
        let ids: Vec<&Value> = c
            .seen
            .iter()
            .filter(|v| v["event"] == "new_message")
            .map(|v| &v["data"]["message"]["id"])
            .collect();
        assert_eq!(ids, [&m2["id"], &m3["id"], &m4["id"]]);
    }
}

#[tokio::test]
async fn a_malformed_auth_since_gets_connect_error_validation_failed() {
    let env = TestEnv::start().await;
    let ann = customer("cus_ann", &[]);
    for since in [
        json!(-1),
        json!(1.5),
        json!("x"),
        json!("-3"),
        json!(" 5"),
        json!(""),
        json!(true),
        json!({}),
        json!([1]),
    ] {
        let mut c = open(
            &env.app.base(),
            &Auth::Token(&ann),
            Some(json!({ "since": since })),
        )
        .await;
        assert_connect_error(
            c.connect_answer().await,
            "validation_failed",
            &format!("since {since}"),
        );
        let msg = c.seen.iter().any(|v| v["event"] == "authenticated");
        assert!(!msg, "since {since}: {:#?}", c.seen);
    }
    // An auth payload that is not an object.
    for auth in [r#"40"token""#, "40[1]"] {
        let mut c = open_engine(&env.app.base(), "", None).await;
        c.send_raw(auth).await;
        assert_connect_error(c.connect_answer().await, "validation_failed", auth);
    }
}
