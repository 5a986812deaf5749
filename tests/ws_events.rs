//! Client events (join, leave, send, mark read, typing) and server events (`new_message`,
//! `message_sent`, `messages_read`, `conversation_updated`, `user_typing`, presence): who receives
//! each, how often and in which order (WEBSOCKET.md "Rooms", "Client events", "Server events",
//! "Guarantees"; API.md routes 3–5 and the shared rate limit).
//!
//! Counting "exactly once" needs a barrier: a later event that the same socket must receive after
//! everything it is being checked for. Events of one conversation arrive in `seq` order, so a later
//! message of that conversation is one.

mod common;

use concierge_events::Status;

use std::time::{Duration, Instant};

use common::fixtures::*;
use common::ws::{connect, Auth, Client};
use common::*;
use reqwest::Method;
use serde_json::{json, Value};

async fn socket(app: &App, token: &str) -> Client {
    connect(&app.base(), Auth::Header(token)).await
}

/// Sends a frame with `ref` and asserts an `ack`; returns its `data`.
async fn ack(c: &mut Client, event: &str, data: Value, reference: &str) -> Value {
    let reply = c.request(event, data, reference).await;
    assert_eq!(reply["event"], json!("ack"), "{event}: {reply}");
    assert_eq!(reply["ref"], json!(reference), "{reply}");
    reply["data"].clone()
}

/// Sends a frame with `ref` and asserts an `error` with `code`; returns its message.
async fn refused(c: &mut Client, event: &str, data: Value, reference: &str, code: &str) -> String {
    let reply = c.request(event, data, reference).await;
    assert_eq!(reply["event"], json!("error"), "{event}: {reply}");
    assert_eq!(reply["ref"], json!(reference), "{reply}");
    assert_eq!(reply["error"]["code"], json!(code), "{event}: {reply}");
    reply["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("error without message: {reply}"))
        .to_string()
}

async fn join(c: &mut Client, conv: &str) -> Value {
    ack(
        c,
        "join_conversation",
        json!({ "conversationId": conv }),
        &format!("join-{conv}"),
    )
    .await
}

/// Sends over the socket, asserts the ack and returns the Message.
async fn ws_send(c: &mut Client, conv: &str, content: &str, reference: &str) -> Value {
    let d = ack(
        c,
        "send_message",
        json!({ "conversationId": conv, "content": content }),
        reference,
    )
    .await;
    d["message"].clone()
}

fn seq(v: &Value) -> u64 {
    v["seq"].as_u64().unwrap_or_else(|| panic!("no seq in {v}"))
}

/// Asserts `frame` carries `message` (as answered when it was sent) with the log's `seq`.
#[track_caller]
fn assert_carries(frame: &Value, conv: &str, message: &Value) {
    let m = &frame["data"]["message"];
    assert_eq!(frame["data"]["conversationId"], json!(conv), "{frame}");
    for field in ["id", "seq", "sender", "senderRole", "content", "createdAt"] {
        assert_eq!(m[field], message[field], "{field} of {frame}");
    }
    assert_eq!(frame["seq"], message["seq"], "frame seq: {frame}");
}

// ---------------------------------------------------------------------------------------------
// join_conversation / leave_conversation
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn join_conversation_needs_a_participant_or_an_admin() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    send(app, &ann(), &conv, "hello").await;

    let mut a = socket(app, &ann()).await;
    let d = join(&mut a, &conv).await;
    assert_eq!(d["conversation"]["id"], json!(conv), "{d}");
    assert_eq!(d["conversation"]["relatedBooking"], json!(BOOKING), "{d}");
    assert_eq!(d["conversation"]["unreadCount"], json!(0), "{d}");

    // An admin who never opened it may join; the unread count is the admin's own.
    let mut c = socket(app, &cy()).await;
    let d = join(&mut c, &conv).await;
    assert_eq!(d["conversation"]["id"], json!(conv), "{d}");
    assert_eq!(d["conversation"]["unreadCount"], json!(1), "{d}");

    // Another customer may not; unknown and malformed ids are answered as over HTTP.
    dan_conversation(app).await;
    let mut d = socket(app, &dan()).await;
    let req = json!({ "conversationId": conv });
    refused(&mut d, "join_conversation", req, "j-1", "forbidden").await;
    let req = json!({ "conversationId": UNKNOWN_ULID });
    refused(&mut d, "join_conversation", req, "j-2", "not_found").await;
    let req = json!({ "conversationId": "not-an-id" });
    refused(&mut d, "join_conversation", req, "j-3", "validation_failed").await;
    let req = json!({});
    refused(&mut d, "join_conversation", req, "j-4", "validation_failed").await;

    let left = ack(
        &mut a,
        "leave_conversation",
        json!({ "conversationId": conv }),
        "l-1",
    )
    .await;
    assert_eq!(left, json!({}));
}

#[tokio::test]
async fn typing_reaches_the_room_but_not_the_typist_nor_sockets_outside_it() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let mut a1 = socket(app, &ann()).await;
    let mut a2 = socket(app, &ann()).await;
    let mut b = socket(app, &bo()).await;
    let mut c = socket(app, &cy()).await; // admin room only
    join(&mut a1, &conv).await;
    join(&mut a2, &conv).await;
    join(&mut b, &conv).await;
    let marks = [a2.seen.len(), c.seen.len()];

    let d = ack(
        &mut a1,
        "typing_start",
        json!({ "conversationId": conv }),
        "t-1",
    )
    .await;
    assert_eq!(d, json!({}));
    let f = b.next_event("user_typing").await;
    assert_eq!(
        f["data"],
        json!({ "conversationId": conv, "userId": "cus_ann", "isTyping": true })
    );
    assert!(f.get("seq").is_none(), "typing is not a log event: {f}");
    ack(
        &mut a1,
        "typing_stop",
        json!({ "conversationId": conv }),
        "t-2",
    )
    .await;
    let f = b.next_event("user_typing").await;
    assert_eq!(
        f["data"],
        json!({ "conversationId": conv, "userId": "cus_ann", "isTyping": false })
    );

    // Barrier: bo types; Ann's sockets see bo's indicator and none of her own before it.
    ack(
        &mut b,
        "typing_start",
        json!({ "conversationId": conv }),
        "t-3",
    )
    .await;
    for (a, who) in [(&mut a1, "a1"), (&mut a2, "a2")] {
        let f = a.next_event("user_typing").await;
        assert_eq!(
            f["data"],
            json!({ "conversationId": conv, "userId": "adm_bo", "isTyping": true }),
            "{who}: {:#?}",
            a.seen
        );
    }
    // Cy is not in the room: her first frame about the conversation is the next message.
    let m = send(app, &ann(), &conv, "after typing").await;
    let frames = through(&mut c, marks[1], "new_message", &m["id"]).await;
    assert!(of_event(&frames, "user_typing").is_empty(), "{frames:#?}");
    assert_eq!(
        of_event(&a2.seen[marks[0]..], "user_typing").len(),
        1,
        "{:#?}",
        a2.seen
    );

    // After leaving, bo gets no more indicators; cy, who joined now, does.
    ack(
        &mut b,
        "typing_stop",
        json!({ "conversationId": conv }),
        "t-4",
    )
    .await;
    ack(
        &mut b,
        "leave_conversation",
        json!({ "conversationId": conv }),
        "l-1",
    )
    .await;
    join(&mut c, &conv).await;
    let mark_b = b.seen.len();
    ack(
        &mut a1,
        "typing_start",
        json!({ "conversationId": conv }),
        "t-5",
    )
    .await;
    let f = c
        .next_matching("ann typing", |f| {
            f["event"] == "user_typing" && f["data"]["userId"] == "cus_ann"
        })
        .await;
    assert_eq!(f["data"]["isTyping"], json!(true));
    let m = send(app, &ann(), &conv, "after leaving").await;
    let frames = through(&mut b, mark_b, "new_message", &m["id"]).await;
    assert!(of_event(&frames, "user_typing").is_empty(), "{frames:#?}");
}

#[tokio::test]
async fn typing_in_a_conversation_one_may_not_see_is_forbidden() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let mut d = socket(app, &dan()).await;
    for (i, event) in ["typing_start", "typing_stop", "mark_read"]
        .iter()
        .enumerate()
    {
        let req = json!({ "conversationId": conv });
        refused(&mut d, event, req, &format!("f-{i}"), "forbidden").await;
    }
}

/// Waits for `isTyping: false` from `user` on `c`; returns how long after `since` it came.
async fn typing_ended(c: &mut Client, user: &str, since: Instant) -> Duration {
    c.next_matching("isTyping false", |f| {
        f["event"] == "user_typing" && f["data"]["userId"] == user && f["data"]["isTyping"] == false
    })
    .await;
    since.elapsed()
}

#[tokio::test]
async fn an_unrefreshed_typing_indicator_ends_after_5_s() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let mut a = socket(app, &ann()).await;
    let mut b = socket(app, &bo()).await;
    join(&mut b, &conv).await;

    let started = Instant::now();
    ack(
        &mut a,
        "typing_start",
        json!({ "conversationId": conv }),
        "t-1",
    )
    .await;
    let f = b.next_event("user_typing").await;
    assert_eq!(f["data"]["isTyping"], json!(true), "{f}");
    let after = typing_ended(&mut b, "cus_ann", started).await;
    assert!(
        after >= Duration::from_millis(4_800) && after <= Duration::from_millis(6_500),
        "ended after {after:?}"
    );
}

#[tokio::test]
async fn refreshing_a_typing_indicator_keeps_it_alive() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let mut a = socket(app, &ann()).await;
    let mut b = socket(app, &bo()).await;
    join(&mut b, &conv).await;

    ack(
        &mut a,
        "typing_start",
        json!({ "conversationId": conv }),
        "t-1",
    )
    .await;
    b.next_event("user_typing").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let refreshed = Instant::now();
    ack(
        &mut a,
        "typing_start",
        json!({ "conversationId": conv }),
        "t-2",
    )
    .await;
    let after = typing_ended(&mut b, "cus_ann", refreshed).await;
    assert!(
        after >= Duration::from_millis(4_800) && after <= Duration::from_millis(6_500),
        "ended {after:?} after the refresh"
    );
    let ends = b
        .seen
        .iter()
        .filter(|f| f["event"] == "user_typing" && f["data"]["isTyping"] == false)
        .count();
    assert_eq!(ends, 1, "{:#?}", b.seen);
}

// ---------------------------------------------------------------------------------------------
// send_message
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn send_message_follows_the_rules_of_the_http_route() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let other = dan_conversation(app).await;
    let other_msg = send(app, &dan(), &other, "dan's").await;
    let mut a = socket(app, &ann()).await;

    let d = ack(
        &mut a,
        "send_message",
        json!({ "conversationId": conv, "content": "Can I check in early?", "clientMessageId": "k-1" }),
        "s-1",
    )
    .await;
    let m = &d["message"];
    assert_ulid(&m["id"]);
    assert_eq!(m["conversationId"], json!(conv));
    assert_eq!(m["sender"], json!("cus_ann"));
    assert_eq!(m["senderRole"], json!("customer"));
    assert_eq!(m["content"], json!("Can I check in early?"));
    assert_eq!(m["messageType"], json!("text"));
    assert!(m["seq"].is_u64(), "{m}");
    assert_timestamp(&m["createdAt"]);

    // The same key again: the original, nothing written.
    let again = ack(
        &mut a,
        "send_message",
        json!({ "conversationId": conv, "content": "other body", "clientMessageId": "k-1" }),
        "s-2",
    )
    .await;
    assert_eq!(again["message"]["id"], m["id"]);
    assert_eq!(again["message"]["content"], json!("Can I check in early?"));

    let cases = refused_send_bodies(&other_msg["id"]);
    for (i, (body, code, field)) in cases.iter().enumerate() {
        let mut req = body.clone();
        req["conversationId"] = json!(conv);
        let message = refused(&mut a, "send_message", req, &format!("bad-{i}"), code).await;
        assert!(
            message.to_lowercase().contains(&field.to_lowercase()),
            "{body}: {message:?} does not name {field}"
        );
    }
    let req = json!({ "conversationId": other, "content": "x" });
    refused(&mut a, "send_message", req, "other", "forbidden").await;
    let req = json!({ "conversationId": UNKNOWN_ULID, "content": "x" });
    refused(&mut a, "send_message", req, "unknown", "not_found").await;
    let req = json!({ "conversationId": "nope", "content": "x" });
    refused(&mut a, "send_message", req, "bad-id", "validation_failed").await;

    // Exactly 2000 scalar values are fine.
    ws_send(&mut a, &conv, &"👍".repeat(2000), "s-2000").await;

    let page = list_messages(app, &ann(), &conv, "").await;
    assert_eq!(page["pagination"]["total"], json!(2), "{page}");
}

#[tokio::test]
async fn send_message_is_refused_in_a_closed_conversation_and_wakes_an_archived_one() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let mut a = socket(app, &ann()).await;
    // Closed: 409; archived wakes up. The status changes are written to the log directly, as
    // route 11 (not served yet) would write them.
    let nats = env.nats.url();
    common::log::set_status(&nats, &conv, "adm_bo", Status::Active, Status::Closed).await;
    common::log::eventually("the close to be folded", || async {
        conversation(app, &ann(), &conv).await["status"] == json!("closed")
    })
    .await;
    let data_closed = json!({ "conversationId": conv, "content": "anyone?" });
    refused(&mut a, "send_message", data_closed, "closed", "conflict").await;
    common::log::set_status(&nats, &conv, "adm_bo", Status::Closed, Status::Archived).await;
    common::log::eventually("the archiving to be folded", || async {
        conversation(app, &ann(), &conv).await["status"] == json!("archived")
    })
    .await;
    ws_send(&mut a, &conv, "back again", "s-archived").await;
    assert_eq!(
        conversation(app, &ann(), &conv).await["status"],
        json!("active")
    );

    let page = list_messages(app, &ann(), &conv, "").await;
    assert_eq!(contents(&page["messages"]), ["back again"]);
}

#[tokio::test]
async fn socket_and_http_sends_share_one_rate_budget() {
    let env = TestEnv::start_with(AppOptions {
        send_rate_limit: Some(3),
        ..AppOptions::default()
    })
    .await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let mut a = socket(app, &ann()).await;
    let mut b = socket(app, &bo()).await;

    // Ann: two over HTTP, one over the socket; the fourth is refused either way.
    send(app, &ann(), &conv, "h1").await;
    send(app, &ann(), &conv, "h2").await;
    ws_send(&mut a, &conv, "w1", "a-1").await;
    let req = json!({ "conversationId": conv, "content": "w2" });
    refused(&mut a, "send_message", req, "a-2", "rate_limited").await;
    let r = raw(
        Method::POST,
        &messages_url(app, &conv),
        Some(&ann()),
        &[("content-type", "application/json")],
        Some(br#"{"content":"h3"}"#.to_vec()),
    )
    .await;
    assert!(
        r.headers.contains_key("retry-after"),
        "429 without Retry-After"
    );
    error((r.status, r.body), 429, "rate_limited");

    // Bo: three over the socket; then HTTP and the socket refuse.
    for i in 1..=3 {
        ws_send(&mut b, &conv, &format!("b{i}"), &format!("b-{i}")).await;
    }
    let r = send_body(app, &bo(), &conv, &json!({ "content": "b4" })).await;
    error(r, 429, "rate_limited");
    let req = json!({ "conversationId": conv, "content": "b5" });
    refused(&mut b, "send_message", req, "b-5", "rate_limited").await;

    let page = list_messages(app, &ann(), &conv, "").await;
    assert_eq!(
        contents(&page["messages"]),
        ["h1", "h2", "w1", "b1", "b2", "b3"]
    );
}

// ---------------------------------------------------------------------------------------------
// new_message / message_sent
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn new_message_reaches_every_receiver_once_and_the_sender_gets_message_sent() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    data(open(app, &bo(), BOOKING).await, 200); // bo is a participant
    dan_conversation(app).await;

    // a1: room + user room; a2: user room only; b: room + user room + admin room; c: admin room.
    let mut a1 = socket(app, &ann()).await;
    let mut a2 = socket(app, &ann()).await;
    let mut b = socket(app, &bo()).await;
    let mut c = socket(app, &cy()).await;
    let mut d = socket(app, &dan()).await;
    join(&mut a1, &conv).await;
    join(&mut b, &conv).await;
    let ma1 = a1.seen.len();
    let ma2 = a2.seen.len();
    let mb = b.seen.len();
    let mc = c.seen.len();

    let m1 = ack(
        &mut a1,
        "send_message",
        json!({ "conversationId": conv, "content": "from ann", "clientMessageId": "cm-1" }),
        "s-1",
    )
    .await["message"]
        .clone();
    let m2 = send(app, &bo(), &conv, "from bo over http").await;
    let m3 = send(app, &ann(), &conv, "barrier").await;

    for (client, mark, who) in [(&mut a1, ma1, "a1"), (&mut a2, ma2, "a2")] {
        let frames = through(client, mark, "message_sent", &m3["id"]).await;
        let sent = about(&frames, "message_sent", &m1["id"]);
        assert_eq!(sent.len(), 1, "{who}: {frames:#?}");
        assert_carries(sent[0], &conv, &m1);
        assert_eq!(sent[0]["data"]["clientMessageId"], json!("cm-1"), "{who}");
        assert!(about(&frames, "new_message", &m1["id"]).is_empty(), "{who}");
        let news = about(&frames, "new_message", &m2["id"]);
        assert_eq!(news.len(), 1, "{who}: {frames:#?}");
        assert_carries(news[0], &conv, &m2);
        assert!(
            about(&frames, "message_sent", &m2["id"]).is_empty(),
            "{who}"
        );
        let own = about(&frames, "message_sent", &m3["id"]);
        assert_eq!(own[0]["data"]["clientMessageId"], Value::Null, "{who}");
        assert!(about(&frames, "new_message", &m3["id"]).is_empty(), "{who}");
    }

    let frames = through(&mut b, mb, "new_message", &m3["id"]).await;
    let news = about(&frames, "new_message", &m1["id"]);
    assert_eq!(news.len(), 1, "b: {frames:#?}");
    assert_carries(news[0], &conv, &m1);
    let sent = about(&frames, "message_sent", &m2["id"]);
    assert_eq!(sent.len(), 1, "b: {frames:#?}");
    assert_carries(sent[0], &conv, &m2);
    assert_eq!(sent[0]["data"]["clientMessageId"], Value::Null);
    assert!(about(&frames, "new_message", &m2["id"]).is_empty(), "b");
    assert!(about(&frames, "message_sent", &m1["id"]).is_empty(), "b");
    assert_eq!(about(&frames, "new_message", &m3["id"]).len(), 1, "b");

    let frames = through(&mut c, mc, "new_message", &m3["id"]).await;
    for m in [&m1, &m2, &m3] {
        assert_eq!(about(&frames, "new_message", &m["id"]).len(), 1, "c: {m}");
    }
    assert!(
        of_event(&frames, "message_sent").is_empty(),
        "c: {frames:#?}"
    );

    d.expect_silence(Duration::from_millis(500)).await;
    assert_eq!(d.seen.len(), 1, "dan saw only authenticated: {:#?}", d.seen);
}

#[tokio::test]
async fn events_carry_seq_in_strictly_increasing_order() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let mut a = socket(app, &ann()).await;
    let mut c = socket(app, &cy()).await;
    join(&mut c, &conv).await;
    let mark = c.seen.len();

    let mark_a = a.seen.len();
    let mut sent = Vec::new();
    for i in 0..12 {
        let m = match i % 3 {
            0 => ws_send(&mut a, &conv, &format!("ws {i}"), &format!("s-{i}")).await,
            1 => send(app, &ann(), &conv, &format!("http {i}")).await,
            _ => send(app, &bo(), &conv, &format!("bo {i}")).await,
        };
        sent.push(m);
    }
    let last = sent.last().unwrap().clone();
    let seqs: Vec<u64> = sent.iter().map(seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");

    // An observer in the room and the admin room: every message once, in order, with its seq.
    let frames = through(&mut c, mark, "new_message", &last["id"]).await;
    let news = of_event(&frames, "new_message");
    assert_eq!(news.len(), sent.len(), "{frames:#?}");
    for (f, m) in news.iter().zip(&sent) {
        assert_carries(f, &conv, m);
    }
    assert_log_order(&frames, &conv);

    // The sender: her own as message_sent, the others' as new_message, one stream in seq order.
    let frames = through(&mut a, mark_a, "new_message", &last["id"]).await;
    let messages: Vec<&Value> = frames
        .iter()
        .filter(|f| f["event"] == "new_message" || f["event"] == "message_sent")
        .collect();
    assert_eq!(messages.len(), sent.len(), "{frames:#?}");
    for (f, m) in messages.iter().zip(&sent) {
        let expected = if m["sender"] == "cus_ann" {
            "message_sent"
        } else {
            "new_message"
        };
        assert_eq!(f["event"], json!(expected), "{f}");
        assert_carries(f, &conv, m);
    }
    assert_log_order(&frames, &conv);
}

/// Every log event among `frames` carries a `seq`, and those about `conv` never go back.
#[track_caller]
fn assert_log_order(frames: &[Value], conv: &str) {
    const LOG_EVENTS: [&str; 4] = [
        "new_message",
        "message_sent",
        "conversation_updated",
        "messages_read",
    ];
    let mut seqs = Vec::new();
    for f in frames {
        if !LOG_EVENTS.contains(&f["event"].as_str().unwrap_or_default()) {
            continue;
        }
        let s = seq(f);
        let about = f["data"]["conversationId"] == json!(conv)
            || f["data"]["conversation"]["id"] == json!(conv);
        if about {
            seqs.push(s);
        }
    }
    assert!(seqs.windows(2).all(|w| w[0] <= w[1]), "{seqs:?}");
}

// ---------------------------------------------------------------------------------------------
// mark_read / messages_read
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn mark_read_answers_like_put_read_and_tells_participants() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    dan_conversation(app).await;
    let mut a = socket(app, &ann()).await; // user room only
    let mut b = socket(app, &bo()).await;
    let mut c = socket(app, &cy()).await; // admin room only, never a participant
    let mut di = socket(app, &admin("adm_di")).await; // the conversation room
    join(&mut di, &conv).await;
    let mut d = socket(app, &dan()).await;
    let mut last = Value::Null;
    for i in 1..=3 {
        last = send(app, &ann(), &conv, &format!("m{i}")).await;
    }
    let (ma, mc) = (a.seen.len(), c.seen.len());

    let r = ack(
        &mut b,
        "mark_read",
        json!({ "conversationId": conv }),
        "r-1",
    )
    .await;
    assert_eq!(r["conversationId"], json!(conv), "{r}");
    assert_timestamp(&r["readAt"]);
    assert_eq!(r["unreadCount"], json!(0), "{r}");
    assert_eq!(r["marked"], json!(3), "{r}");

    let f = a
        .next_matching("messages_read", |f| f["event"] == "messages_read")
        .await;
    assert_eq!(
        f["data"],
        json!({ "conversationId": conv, "userId": "adm_bo", "readAt": r["readAt"], "upToSeq": last["seq"] })
    );
    assert!(seq(&f) > seq(&last), "{f}");

    // Nothing unread: marked 0 and no event.
    let r2 = ack(
        &mut b,
        "mark_read",
        json!({ "conversationId": conv }),
        "r-2",
    )
    .await;
    assert_eq!(r2["marked"], json!(0), "{r2}");
    assert_eq!(r2["unreadCount"], json!(0), "{r2}");

    // Over HTTP too: Ann reads bo's reply; bo's socket is told.
    let reply = send(app, &bo(), &conv, "a1").await;
    let r3 = data(
        put_empty(&format!("{}/read", conv_url(app, &conv)), &ann()).await,
        200,
    );
    assert_eq!(r3["marked"], json!(1));
    let f = b
        .next_matching("ann's read", |f| {
            f["event"] == "messages_read" && f["data"]["userId"] == "cus_ann"
        })
        .await;
    assert_eq!(
        f["data"],
        json!({ "conversationId": conv, "userId": "cus_ann", "readAt": r3["readAt"], "upToSeq": reply["seq"] })
    );

    let barrier = send(app, &ann(), &conv, "barrier").await;
    let frames = through(&mut a, ma, "message_sent", &barrier["id"]).await;
    let reads = of_event(&frames, "messages_read");
    assert_eq!(reads.len(), 2, "bo's read and Ann's own: {frames:#?}");
    assert_eq!(reads[0]["data"]["userId"], json!("adm_bo"));
    assert_eq!(reads[1]["data"]["userId"], json!("cus_ann"));
    // bo, the reader, is a participant too: each read reaches him once.
    let frames = through(&mut b, 0, "new_message", &barrier["id"]).await;
    for user in ["adm_bo", "cus_ann"] {
        let reads: Vec<&Value> = of_event(&frames, "messages_read")
            .into_iter()
            .filter(|f| f["data"]["userId"] == user)
            .collect();
        assert_eq!(reads.len(), 1, "{user}: {frames:#?}");
    }
    // Cy is neither in the room nor a participant.
    let frames = through(&mut c, mc, "new_message", &barrier["id"]).await;
    assert!(of_event(&frames, "messages_read").is_empty(), "{frames:#?}");
    let frames = through(&mut di, 0, "new_message", &barrier["id"]).await;
    let readers: Vec<&Value> = of_event(&frames, "messages_read")
        .iter()
        .map(|f| &f["data"]["userId"])
        .collect();
    assert_eq!(
        readers,
        [&json!("adm_bo"), &json!("cus_ann")],
        "{frames:#?}"
    );
    d.expect_silence(Duration::from_millis(300)).await;
    assert_eq!(d.seen.len(), 1, "{:#?}", d.seen);
}

/// The conversation's events in the log as (type, actor id), oldest first.
async fn log_of(app: &App, conv: &str) -> Vec<(String, String)> {
    common::log::events(app.nats_url(), conv)
        .await
        .iter()
        .map(|e| {
            let s = |v: &Value| v.as_str().unwrap().to_string();
            (s(&e["type"]), s(&e["actor"]["id"]))
        })
        .collect()
}

#[tokio::test]
async fn admins_who_send_or_read_over_the_socket_join_by_an_event_first() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    send(app, &ann(), &conv, "m1").await;
    let mut a = socket(app, &ann()).await; // user room only
    let mut b = socket(app, &bo()).await;
    let mut c = socket(app, &cy()).await;

    // Entering the room is not joining: it writes nothing.
    join(&mut b, &conv).await;
    join(&mut c, &conv).await;
    // Bo replies first, twice: one join, before his first message only.
    let a1 = ws_send(&mut b, &conv, "a1", "s-1").await;
    ws_send(&mut b, &conv, "a2", "s-2").await;
    // Cy marks read first (something unread): the join, then the read; again: nothing.
    let r = ack(
        &mut c,
        "mark_read",
        json!({ "conversationId": conv }),
        "r-1",
    )
    .await;
    assert_eq!(r["marked"], json!(3), "{r}");
    let r = ack(
        &mut c,
        "mark_read",
        json!({ "conversationId": conv }),
        "r-2",
    )
    .await;
    assert_eq!(r["marked"], json!(0), "{r}");
    let want: Vec<(String, String)> = [
        ("conversation_created", "cus_ann"),
        ("message_sent", "cus_ann"),
        ("participant_joined", "adm_bo"),
        ("message_sent", "adm_bo"),
        ("message_sent", "adm_bo"),
        ("participant_joined", "adm_cy"),
        ("messages_read", "adm_cy"),
    ]
    .iter()
    .map(|(t, a)| (t.to_string(), a.to_string()))
    .collect();
    assert_eq!(log_of(app, &conv).await, want);

    // The join is a change of the Conversation: Ann hears of Bo as a participant (the join's
    // `conversation_updated`, with a seq before his message's) before his message arrives.
    let frames = through(&mut a, 0, "new_message", &a1["id"]).await;
    let first_with_bo = frames
        .iter()
        .position(|f| {
            f["event"] == "conversation_updated"
                && f["data"]["conversation"]["participants"][1]["userId"] == "adm_bo"
        })
        .unwrap_or_else(|| panic!("no update with Bo: {frames:#?}"));
    assert!(seq(&frames[first_with_bo]) < seq(&a1), "{frames:#?}");
    assert_eq!(
        frames.last().unwrap()["data"]["message"]["id"],
        a1["id"],
        "{frames:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// conversation_updated
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn conversation_updated_carries_each_receivers_own_unread_count() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    data(open(app, &bo(), BOOKING).await, 200); // bo is a participant
    let mut a = socket(app, &ann()).await;
    let mut b = socket(app, &bo()).await;
    let mut c = socket(app, &cy()).await;
    let marks = [a.seen.len(), b.seen.len(), c.seen.len()];

    let m1 = send(app, &ann(), &conv, "one").await;
    let m2 = send(app, &ann(), &conv, "two").await;
    let barrier = send(app, &bo(), &conv, "barrier").await;
    let range = seq(&m1)..seq(&barrier);

    let cases = [
        (&mut a, marks[0], "new_message", [0, 0]),
        (&mut b, marks[1], "message_sent", [1, 2]),
        (&mut c, marks[2], "new_message", [1, 2]),
    ];
    for (client, mark, barrier_event, unread) in cases {
        let frames = through(client, mark, barrier_event, &barrier["id"]).await;
        let updates: Vec<&Value> = of_event(&frames, "conversation_updated")
            .into_iter()
            .filter(|f| f["data"]["conversation"]["id"] == json!(conv))
            .filter(|f| range.contains(&seq(f)))
            .collect();
        let who = &client.seen[0]["data"]["userId"];
        assert_eq!(updates.len(), 2, "{who}: {frames:#?}");
        assert_eq!(seq(updates[0]), seq(&m1), "{who}");
        assert_eq!(seq(updates[1]), seq(&m2), "{who}");
        for (i, (u, n)) in updates.iter().zip(unread).enumerate() {
            let conversation = &u["data"]["conversation"];
            assert_eq!(conversation["unreadCount"], json!(n), "{who}: {u}");
            assert_eq!(
                conversation["unreadCounts"],
                json!({ "cus_ann": 0, "adm_bo": i + 1 }),
                "{who}: {u}"
            );
        }
        let last = &updates[1]["data"]["conversation"]["lastMessage"];
        assert_eq!(last["id"], m2["id"], "{who}");
        assert_eq!(last["content"], json!("two"), "{who}");
    }
}

// ---------------------------------------------------------------------------------------------
// Presence
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn presence_reaches_admins_and_conversation_partners_only() {
    let env = TestEnv::start().await;
    let app = &env.app;
    ann_conversation(app).await;
    data(open(app, &bo(), BOOKING).await, 200); // bo shares Ann's conversation
    dan_conversation(app).await;
    let mut c = socket(app, &cy()).await;
    let mut d = socket(app, &dan()).await;
    next_presence(&mut c, "user_online", "cus_dan").await;

    let mut a = socket(app, &ann()).await;
    let f = next_presence(&mut c, "user_online", "cus_ann").await;
    assert_eq!(f["data"]["role"], json!("customer"), "{f}");
    assert_timestamp(&f["data"]["at"]);
    assert!(f.get("seq").is_none(), "presence is not a log event: {f}");

    // bo comes online: Ann (shares a conversation) and cy (admin room) are told, dan is not.
    let mut b = socket(app, &bo()).await;
    let f = next_presence(&mut a, "user_online", "adm_bo").await;
    assert_eq!(f["data"]["role"], json!("admin"), "{f}");
    assert_timestamp(&f["data"]["at"]);
    next_presence(&mut c, "user_online", "adm_bo").await;

    // Ann leaves: bo (partner and admin) and cy are told once, dan is not.
    a.ws.close(None).await.expect("close");
    let f = next_presence(&mut b, "user_offline", "cus_ann").await;
    assert_eq!(f["data"]["role"], json!("customer"), "{f}");
    assert_timestamp(&f["data"]["at"]);
    next_presence(&mut c, "user_offline", "cus_ann").await;

    d.expect_silence(Duration::from_millis(500)).await;
    assert!(
        presence_of(&d.seen, "cus_ann").is_empty() && presence_of(&d.seen, "adm_bo").is_empty(),
        "{:#?}",
        d.seen
    );
    assert_eq!(presence_of(&b.seen, "cus_ann").len(), 1, "{:#?}", b.seen);
    let cy_saw: Vec<&Value> = presence_of(&c.seen, "cus_ann");
    assert_eq!(cy_saw.len(), 2, "{cy_saw:#?}");
}

#[tokio::test]
async fn a_second_socket_does_not_change_presence() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let mut c = socket(app, &cy()).await;
    let mut a1 = socket(app, &ann()).await;
    next_presence(&mut c, "user_online", "cus_ann").await;
    let mut a2 = socket(app, &ann()).await;
    a1.ws.close(None).await.expect("close");
    // Barrier: another user's transition comes after anything Ann's sockets caused.
    let _e = socket(app, &customer("cus_eve", &[])).await;
    next_presence(&mut c, "user_online", "cus_eve").await;
    assert_eq!(presence_of(&c.seen, "cus_ann").len(), 1, "{:#?}", c.seen);

    a2.ws.close(None).await.expect("close");
    next_presence(&mut c, "user_offline", "cus_ann").await;
    assert_eq!(presence_of(&c.seen, "cus_ann").len(), 2, "{:#?}", c.seen);
}

// ---------------------------------------------------------------------------------------------
// Isolation
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_customer_receives_nothing_of_another_customers_conversation() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    dan_conversation(app).await;
    let mut d = socket(app, &dan()).await;
    let mut c = socket(app, &cy()).await;
    join(&mut c, &conv).await;
    let mark = c.seen.len();

    let mut last = Value::Null;
    for i in 0..100 {
        let who = if i % 2 == 0 { ann() } else { bo() };
        last = send(app, &who, &conv, &format!("m{i}")).await;
    }
    data(
        put_empty(&format!("{}/read", conv_url(app, &conv)), &bo()).await,
        200,
    );
    let barrier = send(app, &ann(), &conv, "barrier").await;
    let frames = through(&mut c, mark, "new_message", &barrier["id"]).await;
    assert_eq!(of_event(&frames, "new_message").len(), 101);
    assert_eq!(about(&frames, "new_message", &last["id"]).len(), 1);

    d.expect_silence(Duration::from_millis(500)).await;
    assert_eq!(d.seen.len(), 1, "dan saw only authenticated: {:#?}", d.seen);
    // Nor can dan ask for it.
    let req = json!({ "conversationId": conv });
    refused(&mut d, "join_conversation", req, "j-1", "forbidden").await;
}
