//! Socket.IO client and server events (SOCKETIO.md "Client events", "Server events"; WEBSOCKET.md's
//! tables): every client event with an ack (the HTTP envelope) and without (an `error` event when
//! refused), bare-string conversation ids, every server event with `data.seq` equal to the log's
//! sequence, the three kinds of room, isolation between customers, the same stream as `/ws`, and
//! at most once per socket.
//!
//! Counting "exactly once" needs a barrier: a later event that the same socket must receive after
//! everything it is being checked for. Events of one conversation arrive in `seq` order, so a later
//! message of that conversation is one.

mod common;

use common::fixtures::*;
use common::sio::{connect, Auth, Client};
use common::ws;
use common::*;
use concierge_events::Audience;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

/// Long enough for an event that is coming to arrive, for asserting one is not.
const QUIET: Duration = Duration::from_millis(400);

async fn socket(app: &App, token: &str) -> Client {
    connect(&app.base(), Auth::Token(token)).await
}

/// Asserts an ack payload is the success envelope `{success: true, message, data}`; returns `data`.
#[track_caller]
fn success(ack: &Value, what: &str) -> Value {
    let message = ack["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{what}: {ack}");
    assert_eq!(
        ack,
        &json!({ "success": true, "message": message, "data": ack["data"] }),
        "{what}"
    );
    assert!(ack["data"].is_object(), "{what}: {ack}");
    ack["data"].clone()
}

/// Asserts an ack payload is the error envelope `{success: false, message, error: code}`; returns
/// the message.
#[track_caller]
fn failure(ack: &Value, code: &str, what: &str) -> String {
    let message = ack["message"].as_str().unwrap_or_default().to_string();
    assert!(!message.is_empty(), "{what}: {ack}");
    assert_eq!(
        ack,
        &json!({ "success": false, "message": message, "error": code }),
        "{what}"
    );
    message
}

/// Emits with an ack callback and asserts success; returns the ack's `data`.
async fn ack(c: &mut Client, event: &str, data: Value) -> Value {
    let a = c.request(event, data).await;
    success(&a, event)
}

/// Emits with an ack callback and asserts a refusal with `code`; returns its message.
async fn refused(c: &mut Client, event: &str, data: Value, code: &str) -> String {
    let a = c.request(event, data).await;
    failure(&a, code, event)
}

async fn join(c: &mut Client, conv: &str) -> Value {
    ack(c, "join_conversation", json!({ "conversationId": conv })).await
}

/// Sends over the socket, asserts the ack and returns the Message.
async fn sio_send(c: &mut Client, conv: &str, content: &str) -> Value {
    let d = ack(
        c,
        "send_message",
        json!({ "conversationId": conv, "content": content }),
    )
    .await;
    d["message"].clone()
}

/// The `data.seq` of a Socket.IO event, or of a Message (`seq`).
fn seq(v: &Value) -> u64 {
    v["data"]["seq"]
        .as_u64()
        .or_else(|| v["seq"].as_u64())
        .unwrap_or_else(|| panic!("no seq in {v}"))
}

/// Reads for `QUIET` and asserts no event of `event` arrives.
async fn none_of(c: &mut Client, event: &str) {
    while let Some(frame) = c.next_within(QUIET).await {
        assert_ne!(frame["event"], json!(event), "unexpected {frame}");
    }
}

/// The conversation's events in the log (route 14) as seq → type.
async fn log_types(app: &App, conv: &str) -> BTreeMap<u64, String> {
    let url = app.url(&format!(
        "/messaging/conversations/{conv}/events?limit=1000"
    ));
    let page = data(get(&url, &admin("adm_ops")).await, 200);
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["seq"].as_u64().unwrap(),
                e["type"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// The seq of the newest event of the conversation (route 14).
async fn last_seq(app: &App, conv: &str) -> u64 {
    *log_types(app, conv).await.keys().last().unwrap()
}

/// Every event about `conv` among `frames` carries `data.seq`, a number, which is the sequence of
/// a log event of the type it reports; and they never go back.
async fn assert_seqs_from_the_log(app: &App, conv: &str, frames: &[Value]) {
    let log = log_types(app, conv).await;
    let mut last = 0;
    for f in frames {
        let d = &f["data"];
        if d["conversationId"] != json!(conv) && d["conversation"]["id"] != json!(conv) {
            continue;
        }
        let event = f["event"].as_str().unwrap();
        if event == "user_typing" {
            assert!(d.get("seq").is_none(), "typing is not a log event: {f}");
            continue;
        }
        let s = d["seq"]
            .as_u64()
            .unwrap_or_else(|| panic!("no numeric data.seq: {f}"));
        let logged = log
            .get(&s)
            .unwrap_or_else(|| panic!("seq {s} is no event of the conversation: {f}"));
        let fits = match event {
            "new_message" | "message_sent" => logged == "message_sent",
            "message_edited" | "message_deleted" | "reaction_added" | "reaction_removed"
            | "messages_read" => logged == event,
            "conversation_updated" => [
                "conversation_created",
                "participant_joined",
                "message_sent",
                "message_edited",
                "message_deleted",
                "messages_read",
                "conversation_status_changed",
            ]
            .contains(&logged.as_str()),
            other => panic!("unexpected event {other}: {f}"),
        };
        assert!(fits, "{event} with the seq of a {logged}: {f}");
        assert!(s >= last, "seq went back from {last}: {f}");
        last = s;
    }
}

/// Asserts `frame` carries `message` (as answered when it was sent) with the log's `seq`.
#[track_caller]
fn assert_carries(frame: &Value, conv: &str, message: &Value) {
    let m = &frame["data"]["message"];
    assert_eq!(frame["data"]["conversationId"], json!(conv), "{frame}");
    for field in ["id", "seq", "sender", "senderRole", "content", "createdAt"] {
        assert_eq!(m[field], message[field], "{field} of {frame}");
    }
    assert_eq!(frame["data"]["seq"], message["seq"], "data.seq: {frame}");
}

fn msg_url(app: &App, conv: &str, message: &Value) -> String {
    app.url(&format!(
        "/messaging/conversations/{conv}/messages/{}",
        id_of(message)
    ))
}

// ---------------------------------------------------------------------------------------------
// Client events: acks and errors
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_client_event_with_an_ack_is_answered_once_in_the_http_envelope() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let other = dan_conversation(app).await;
    let mut a = socket(app, &ann()).await;

    let events: Vec<(&str, Value, Result<(), &str>)> = vec![
        ("ping", json!({}), Ok(())),
        ("authenticate", json!({ "token": ann() }), Ok(())),
        (
            "join_conversation",
            json!({ "conversationId": conv }),
            Ok(()),
        ),
        (
            "join_conversation",
            json!({ "conversationId": other }),
            Err("forbidden"),
        ),
        (
            "send_message",
            json!({ "conversationId": conv, "content": "hi" }),
            Ok(()),
        ),
        (
            "send_message",
            json!({ "conversationId": conv, "content": " " }),
            Err("validation_failed"),
        ),
        ("typing_start", json!({ "conversationId": conv }), Ok(())),
        ("typing_stop", json!({ "conversationId": conv }), Ok(())),
        ("mark_read", json!({ "conversationId": conv }), Ok(())),
        (
            "leave_conversation",
            json!({ "conversationId": conv }),
            Ok(()),
        ),
        ("resume", json!({ "since": 0 }), Ok(())),
        ("fly", json!({}), Err("validation_failed")),
        ("send_message", json!(conv), Err("validation_failed")),
    ];
    let mut ids = Vec::new();
    for (event, data, _) in &events {
        ids.push(a.emit_with_ack(event, data.clone()).await);
    }
    // Barriers: answered after everything above.
    ack(&mut a, "ping", json!({})).await;
    ack(&mut a, "ping", json!({})).await;

    let mut acks: BTreeMap<u64, Vec<&Value>> = BTreeMap::new();
    for v in &a.seen {
        if let Some(id) = v["ack"].as_u64() {
            acks.entry(id).or_default().push(&v["data"]);
        }
    }
    assert_eq!(acks.len(), events.len() + 2, "{acks:#?}");
    let mut answer = BTreeMap::new();
    for ((event, _, want), id) in events.iter().zip(&ids) {
        let got = acks.get(id).cloned().unwrap_or_default();
        assert_eq!(got.len(), 1, "{event} (ack {id}): {got:#?}");
        match want {
            Ok(()) => {
                answer.insert(*event, success(got[0], event));
            }
            Err(code) => {
                failure(got[0], code, event);
            }
        }
    }
    // `data` is the /ws ack's.
    assert_timestamp(&answer["ping"]["serverTime"]);
    assert_eq!(answer["authenticate"], json!({ "userId": "cus_ann" }));
    assert_eq!(
        answer["join_conversation"]["conversation"]["id"],
        json!(conv)
    );
    let m = &answer["send_message"]["message"];
    assert_eq!(m["content"], json!("hi"));
    assert_eq!(m["sender"], json!("cus_ann"));
    assert_eq!(answer["typing_start"], json!({}));
    assert_eq!(answer["typing_stop"], json!({}));
    let r = &answer["mark_read"];
    assert_timestamp(&r["readAt"]);
    assert_eq!(
        r,
        &json!({ "conversationId": conv, "readAt": r["readAt"], "unreadCount": 0, "marked": 0 })
    );
    assert_eq!(answer["leave_conversation"], json!({}));
    // resume: `resume_complete {upTo}` first, then the ack with the same cursor.
    let up_to = answer["resume"]["upTo"].as_u64().expect("upTo");
    assert_eq!(answer["resume"], json!({ "upTo": up_to }));
    let resume_ack = ids[10];
    let done = a
        .seen
        .iter()
        .position(|v| v["event"] == "resume_complete")
        .expect("resume_complete");
    let acked = a.seen.iter().position(|v| v["ack"] == resume_ack).unwrap();
    assert!(done < acked, "{:#?}", a.seen);
    assert_eq!(a.seen[done]["data"], json!({ "upTo": up_to }));
    assert!(up_to >= seq(m), "{up_to} < {m}");
}

#[tokio::test]
async fn refused_events_without_an_ack_emit_error_and_the_socket_stays_open() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let other = dan_conversation(app).await;
    let mut a = socket(app, &ann()).await;

    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "join_conversation",
            json!({ "conversationId": other }),
            "forbidden",
        ),
        (
            "join_conversation",
            json!({ "conversationId": UNKNOWN_ULID }),
            "not_found",
        ),
        (
            "join_conversation",
            json!({ "conversationId": "not-an-id" }),
            "validation_failed",
        ),
        ("join_conversation", json!({}), "validation_failed"),
        (
            "send_message",
            json!({ "conversationId": conv, "content": "   " }),
            "validation_failed",
        ),
        (
            "send_message",
            json!({ "conversationId": other, "content": "x" }),
            "forbidden",
        ),
        ("send_message", json!(conv), "validation_failed"),
        ("mark_read", json!({ "conversationId": other }), "forbidden"),
        (
            "typing_start",
            json!({ "conversationId": other }),
            "forbidden",
        ),
        ("typing_stop", json!(other), "forbidden"),
        ("leave_conversation", json!("nope"), "validation_failed"),
        ("resume", json!({ "since": -1 }), "validation_failed"),
        ("fly", json!({}), "validation_failed"),
    ];
    for (event, data, code) in cases {
        a.emit(event, data.clone()).await;
        let err = a.next_within(Duration::from_secs(5)).await.unwrap();
        assert_eq!(err["event"], json!("error"), "{event} {data}: {err}");
        let message = err["data"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{err}");
        assert_eq!(
            err["data"],
            json!({ "event": event, "code": code, "message": message }),
            "{event} {data}"
        );
        // Still open: the next answer is the ping's.
        let pong = a.request("ping", json!({})).await;
        success(&pong, "ping");
    }
    // Packets that are no event at all: the error names no event.
    for raw in ["42[", r#"42{"a":1}"#, "42[1]", "42"] {
        a.send_raw(raw).await;
        let err = a.next_within(Duration::from_secs(5)).await.unwrap();
        assert_eq!(err["event"], json!("error"), "{raw}: {err}");
        assert_eq!(err["data"]["event"], Value::Null, "{raw}: {err}");
        assert_eq!(
            err["data"]["code"],
            json!("validation_failed"),
            "{raw}: {err}"
        );
        success(&a.request("ping", json!({})).await, "ping");
    }
    // An accepted event without an ack is answered by nothing: the ping's ack comes next.
    a.emit("typing_stop", json!({ "conversationId": conv }))
        .await;
    a.emit("leave_conversation", json!({ "conversationId": conv }))
        .await;
    let mark = a.seen.len();
    success(&a.request("ping", json!({})).await, "ping");
    assert_eq!(a.seen.len(), mark + 1, "{:#?}", &a.seen[mark..]);
}

#[tokio::test]
async fn a_bare_string_is_the_conversation_id_for_five_events() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let other = dan_conversation(app).await;
    let mut a = socket(app, &ann()).await;
    let mut b = socket(app, &bo()).await;
    join(&mut b, &conv).await;

    let d = ack(&mut a, "join_conversation", json!(conv)).await;
    assert_eq!(d["conversation"]["id"], json!(conv));
    assert_eq!(ack(&mut a, "typing_start", json!(conv)).await, json!({}));
    let f = b.next_event("user_typing").await;
    assert_eq!(
        f["data"],
        json!({ "conversationId": conv, "userId": "cus_ann", "isTyping": true })
    );
    assert_eq!(ack(&mut a, "typing_stop", json!(conv)).await, json!({}));
    let f = b.next_event("user_typing").await;
    assert_eq!(
        f["data"],
        json!({ "conversationId": conv, "userId": "cus_ann", "isTyping": false })
    );
    send(app, &bo(), &conv, "one").await;
    send(app, &bo(), &conv, "two").await;
    let r = ack(&mut a, "mark_read", json!(conv)).await;
    assert_eq!(r["marked"], json!(2), "{r}");
    assert_eq!(r["unreadCount"], json!(0), "{r}");
    assert_eq!(r["conversationId"], json!(conv), "{r}");
    assert_eq!(
        ack(&mut a, "leave_conversation", json!(conv)).await,
        json!({})
    );
    // Out of the room: Bo's typing no longer reaches `a`; a message still does (user room).
    ack(&mut b, "typing_start", json!(conv)).await;
    let m = send(app, &bo(), &conv, "three").await;
    let mark = a.seen.len();
    let frames = through(&mut a, mark, "new_message", &m["id"]).await;
    assert!(of_event(&frames, "user_typing").is_empty(), "{frames:#?}");

    // A bare id is judged as the id it is.
    for event in [
        "join_conversation",
        "typing_start",
        "typing_stop",
        "mark_read",
    ] {
        refused(&mut a, event, json!(other), "forbidden").await;
        refused(&mut a, event, json!(UNKNOWN_ULID), "not_found").await;
    }
    refused(
        &mut a,
        "leave_conversation",
        json!("bad id"),
        "validation_failed",
    )
    .await;
    // Other events take objects only.
    refused(&mut a, "send_message", json!(conv), "validation_failed").await;
    refused(&mut a, "resume", json!("5"), "validation_failed").await;
}

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
    )
    .await;
    assert_eq!(again["message"]["id"], m["id"]);
    assert_eq!(again["message"]["content"], json!("Can I check in early?"));

    let cases = refused_send_bodies(&other_msg["id"]);
    for (body, code, field) in &cases {
        let mut req = body.clone();
        req["conversationId"] = json!(conv);
        let message = refused(&mut a, "send_message", req, code).await;
        assert!(
            message.to_lowercase().contains(&field.to_lowercase()),
            "{body}: {message:?} does not name {field}"
        );
    }
    let req = json!({ "conversationId": other, "content": "x" });
    refused(&mut a, "send_message", req, "forbidden").await;
    let req = json!({ "conversationId": UNKNOWN_ULID, "content": "x" });
    refused(&mut a, "send_message", req, "not_found").await;
    let req = json!({ "conversationId": "nope", "content": "x" });
    refused(&mut a, "send_message", req, "validation_failed").await;

    // Exactly 2000 scalar values are fine.
    sio_send(&mut a, &conv, &"👍".repeat(2000)).await;
    let page = list_messages(app, &ann(), &conv, "").await;
    assert_eq!(page["pagination"]["total"], json!(2), "{page}");
}

// ---------------------------------------------------------------------------------------------
// Server events: messages and rooms
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn new_message_reaches_every_room_once_and_the_sender_gets_message_sent() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    data(open(app, &bo(), BOOKING).await, 200); // bo is a participant
    dan_conversation(app).await;

    // a1: conversation room + user room; a2: user room only; b: conversation room + user room +
    // admin room; c: admin room only; d: another customer.
    let mut a1 = socket(app, &ann()).await;
    let mut a2 = socket(app, &ann()).await;
    let mut b = socket(app, &bo()).await;
    let mut c = socket(app, &cy()).await;
    let mut d = socket(app, &dan()).await;
    join(&mut a1, &conv).await;
    join(&mut b, &conv).await;
    let (ma1, ma2, mb, mc) = (a1.seen.len(), a2.seen.len(), b.seen.len(), c.seen.len());

    let m1 = ack(
        &mut a1,
        "send_message",
        json!({ "conversationId": conv, "content": "from ann", "clientMessageId": "cm-1" }),
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
        assert_eq!(own.len(), 1, "{who}: {frames:#?}");
        assert_eq!(own[0]["data"]["clientMessageId"], Value::Null, "{who}");
        assert!(about(&frames, "new_message", &m3["id"]).is_empty(), "{who}");
        assert_seqs_from_the_log(app, &conv, &frames).await;
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
    assert_seqs_from_the_log(app, &conv, &frames).await;

    let frames = through(&mut c, mc, "new_message", &m3["id"]).await;
    for m in [&m1, &m2, &m3] {
        let news = about(&frames, "new_message", &m["id"]);
        assert_eq!(news.len(), 1, "c: {m}");
        assert_carries(news[0], &conv, m);
    }
    assert!(
        of_event(&frames, "message_sent").is_empty(),
        "c: {frames:#?}"
    );
    assert_seqs_from_the_log(app, &conv, &frames).await;

    d.expect_silence(Duration::from_millis(500)).await;
    assert_eq!(d.seen.len(), 1, "dan saw only authenticated: {:#?}", d.seen);
}

#[tokio::test]
async fn edits_and_deletes_reach_the_room_the_participants_and_the_admins_the_actor_included() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let message = send(app, &ann(), &conv, "first").await;
    let mut a = socket(app, &ann()).await; // user room
    let mut b = socket(app, &bo()).await; // admin room
    let mut e = socket(app, &admin("adm_ed")).await; // conversation room (and admin room)
    join(&mut e, &conv).await;
    let mut d = socket(app, &dan()).await;

    data(
        patch(
            &msg_url(app, &conv, &message),
            &ann(),
            &json!({ "content": "first, edited" }),
        )
        .await,
        200,
    );
    let edited = last_seq(app, &conv).await;
    for (c, who) in [(&mut a, "a"), (&mut b, "b"), (&mut e, "e")] {
        let f = c.next_event("message_edited").await;
        assert_eq!(f["data"]["seq"], json!(edited), "{who}: {f}");
        assert_eq!(f["data"]["conversationId"], json!(conv), "{who}");
        assert_eq!(f["data"]["message"]["id"], message["id"], "{who}");
        assert_eq!(f["data"]["message"]["content"], json!("first, edited"));
        assert_eq!(f["data"]["message"]["isEdited"], json!(true));
        let u = c.next_event("conversation_updated").await;
        assert_eq!(u["data"]["seq"], json!(edited), "{who}: {u}");
        assert_eq!(
            u["data"]["conversation"]["lastMessage"]["content"],
            json!("first, edited")
        );
    }

    data(
        delete(&msg_url(app, &conv, &message), &admin("adm_bo")).await,
        200,
    );
    let deleted = last_seq(app, &conv).await;
    assert!(deleted > edited);
    for (c, who) in [(&mut a, "a"), (&mut b, "b"), (&mut e, "e")] {
        let f = c.next_event("message_deleted").await;
        assert_eq!(f["data"]["seq"], json!(deleted), "{who}: {f}");
        assert_eq!(f["data"]["message"]["id"], message["id"]);
        assert_eq!(f["data"]["message"]["isDeleted"], json!(true));
        assert_eq!(f["data"]["message"]["content"], json!(""));
        assert!(!f.to_string().contains("first"), "{f}");
        let u = c.next_event("conversation_updated").await;
        assert_eq!(u["data"]["seq"], json!(deleted), "{who}: {u}");
        assert_eq!(u["data"]["conversation"]["lastMessage"], Value::Null);
        // Each once: the edit and the delete and their updates, nothing else about them.
        let counts = |name: &str| c.seen.iter().filter(|v| v["event"] == name).count();
        assert_eq!(counts("message_edited"), 1, "{who}: {:#?}", c.seen);
        assert_eq!(counts("message_deleted"), 1, "{who}: {:#?}", c.seen);
        assert_seqs_from_the_log(app, &conv, &c.seen).await;
    }
    none_of(&mut d, "message_deleted").await;
    assert_eq!(d.seen.len(), 1, "{:#?}", d.seen);
}

#[tokio::test]
async fn reactions_reach_the_conversation_room_only() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let message = send(app, &ann(), &conv, "first").await;
    let mut in_room = socket(app, &bo()).await;
    join(&mut in_room, &conv).await;
    let mut outside = socket(app, &cy()).await; // admin room only
    let mut a = socket(app, &ann()).await; // user room only

    let url = format!("{}/reactions", msg_url(app, &conv, &message));
    data(post(&url, &bo(), &json!({ "emoji": "👍" })).await, 200);
    let added = last_seq(app, &conv).await;
    let f = in_room.next_event("reaction_added").await;
    assert_eq!(
        f["data"],
        json!({ "seq": added, "conversationId": conv, "messageId": message["id"], "user": "adm_bo", "emoji": "👍" })
    );
    data(delete(&format!("{url}/%F0%9F%91%8D"), &bo()).await, 200);
    let removed = last_seq(app, &conv).await;
    let f = in_room.next_event("reaction_removed").await;
    assert_eq!(
        f["data"],
        json!({ "seq": removed, "conversationId": conv, "messageId": message["id"], "user": "adm_bo", "emoji": "👍" })
    );

    for c in [&mut outside, &mut a] {
        while let Some(f) = c.next_within(QUIET).await {
            let name = f["event"].as_str().unwrap_or_default();
            assert!(!name.starts_with("reaction_"), "unexpected {f}");
        }
    }
}

#[tokio::test]
async fn mark_read_tells_the_room_and_the_participants_with_each_ones_unread_count() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    data(open(app, &bo(), BOOKING).await, 200); // bo is a participant
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

    let r = ack(&mut b, "mark_read", json!({ "conversationId": conv })).await;
    assert_eq!(r["marked"], json!(3), "{r}");
    let read = last_seq(app, &conv).await;
    let f = a.next_event("messages_read").await;
    assert_eq!(
        f["data"],
        json!({ "seq": read, "conversationId": conv, "userId": "adm_bo", "readAt": r["readAt"], "upToSeq": last["seq"] })
    );
    // The read's conversation_updated: Ann's and Bo's own unread counts.
    let u = a
        .next_matching("ann's update", |v| {
            v["event"] == "conversation_updated" && v["data"]["seq"] == json!(read)
        })
        .await;
    assert_eq!(u["data"]["conversation"]["unreadCount"], json!(0), "{u}");
    let u = b
        .next_matching("bo's update", |v| {
            v["event"] == "conversation_updated" && v["data"]["seq"] == json!(read)
        })
        .await;
    assert_eq!(u["data"]["conversation"]["unreadCount"], json!(0), "{u}");
    assert_eq!(
        u["data"]["conversation"]["unreadCounts"],
        json!({ "cus_ann": 0, "adm_bo": 0 })
    );

    // Nothing unread: marked 0 and no event.
    let r2 = ack(&mut b, "mark_read", json!({ "conversationId": conv })).await;
    assert_eq!(r2["marked"], json!(0), "{r2}");

    let barrier = send(app, &ann(), &conv, "barrier").await;
    let frames = through(&mut a, ma, "message_sent", &barrier["id"]).await;
    assert_eq!(of_event(&frames, "messages_read").len(), 1, "{frames:#?}");
    assert_seqs_from_the_log(app, &conv, &frames).await;
    // Cy is neither in the room nor a participant: no read receipt, but the admin room's update.
    let frames = through(&mut c, mc, "new_message", &barrier["id"]).await;
    assert!(of_event(&frames, "messages_read").is_empty(), "{frames:#?}");
    let frames = through(&mut di, 0, "new_message", &barrier["id"]).await;
    assert_eq!(of_event(&frames, "messages_read").len(), 1, "{frames:#?}");
    assert_seqs_from_the_log(app, &conv, &frames).await;
    d.expect_silence(Duration::from_millis(300)).await;
    assert_eq!(d.seen.len(), 1, "{:#?}", d.seen);
}

#[tokio::test]
async fn a_status_change_updates_the_participants_and_the_admins() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let mut a = socket(app, &ann()).await;
    let mut c = socket(app, &cy()).await;
    let mut d = socket(app, &dan()).await;

    let url = app.url(&format!("/messaging/conversations/{conv}/status"));
    data(put(&url, &bo(), &json!({ "status": "closed" })).await, 200);
    let s = last_seq(app, &conv).await;
    for c in [&mut a, &mut c] {
        let f = c.next_event("conversation_updated").await;
        assert_eq!(f["data"]["seq"], json!(s), "{f}");
        assert_eq!(f["data"]["conversation"]["id"], json!(conv));
        assert_eq!(f["data"]["conversation"]["status"], json!("closed"));
    }
    none_of(&mut d, "conversation_updated").await;
}

#[tokio::test]
async fn a_broadcast_reaches_exactly_its_audience_with_the_logs_seq() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let mut a = socket(app, &ann()).await;
    let mut b = socket(app, &bo()).await;

    let url = app.url("/messaging/admin/broadcast");
    let mut sent = Vec::new();
    for (content, audience) in [
        ("admins only", "admins"),
        ("customers only", "customers"),
        ("everyone", "all"),
    ] {
        let body = json!({ "content": content, "audience": audience });
        sent.push(data(post(&url, &bo(), &body).await, 200));
    }
    // One more, written to the log directly so its sequence is known.
    let s = common::log::broadcast(app.nats_url(), "adm_bo", "from the log", Audience::All).await;

    let mut got = Vec::new();
    for c in [&mut b, &mut a] {
        let mut frames = Vec::new();
        loop {
            let f = c.next_event("admin_broadcast").await;
            let done = f["data"]["content"] == "from the log";
            frames.push(f);
            if done {
                break;
            }
        }
        none_of(c, "admin_broadcast").await;
        got.push(frames);
    }
    let without_seq = |frames: &[Value]| -> Vec<Value> {
        frames[..frames.len() - 1]
            .iter()
            .map(|f| {
                let mut d = f["data"].clone();
                d.as_object_mut().unwrap().remove("seq");
                d
            })
            .collect()
    };
    assert_eq!(without_seq(&got[0]), [sent[0].clone(), sent[2].clone()]);
    assert_eq!(without_seq(&got[1]), [sent[1].clone(), sent[2].clone()]);
    // One log, one order; "everyone" is one event; the last one's seq is the log's.
    let seqs: Vec<Vec<u64>> = got.iter().map(|fs| fs.iter().map(seq).collect()).collect();
    assert!(
        seqs[0][0] < seqs[1][0] && seqs[1][0] < seqs[0][1],
        "{seqs:?}"
    );
    assert_eq!(seqs[0][1], seqs[1][1]);
    assert_eq!(seqs[0][2], s);
    assert_eq!(seqs[1][2], s);
    let last = &got[0][2]["data"];
    assert_eq!(last["from"], json!("adm_bo"));
    assert_eq!(last["audience"], json!("all"));
}

// ---------------------------------------------------------------------------------------------
// Typing and presence (not from the log: no seq)
// ---------------------------------------------------------------------------------------------

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

    ack(&mut a1, "typing_start", json!({ "conversationId": conv })).await;
    let f = b.next_event("user_typing").await;
    assert_eq!(
        f["data"],
        json!({ "conversationId": conv, "userId": "cus_ann", "isTyping": true })
    );
    ack(&mut a1, "typing_stop", json!({ "conversationId": conv })).await;
    let f = b.next_event("user_typing").await;
    assert_eq!(
        f["data"],
        json!({ "conversationId": conv, "userId": "cus_ann", "isTyping": false })
    );
    // Barrier: bo types; Ann's sockets see bo's indicator and none of her own before it.
    ack(&mut b, "typing_start", json!({ "conversationId": conv })).await;
    for (a, who) in [(&mut a1, "a1"), (&mut a2, "a2")] {
        let f = a.next_event("user_typing").await;
        assert_eq!(
            f["data"],
            json!({ "conversationId": conv, "userId": "adm_bo", "isTyping": true }),
            "{who}: {:#?}",
            a.seen
        );
    }
    let m = send(app, &ann(), &conv, "after typing").await;
    let frames = through(&mut c, marks[1], "new_message", &m["id"]).await;
    assert!(of_event(&frames, "user_typing").is_empty(), "{frames:#?}");
    assert_eq!(
        of_event(&a2.seen[marks[0]..], "user_typing").len(),
        1,
        "{:#?}",
        a2.seen
    );
}

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
    assert_timestamp(&f["data"]["at"]);
    assert_eq!(
        f["data"],
        json!({ "userId": "cus_ann", "role": "customer", "at": f["data"]["at"] })
    );

    // bo comes online: Ann (shares a conversation) and cy (admin room) are told, dan is not.
    let mut b = socket(app, &bo()).await;
    let f = next_presence(&mut a, "user_online", "adm_bo").await;
    assert_eq!(
        f["data"],
        json!({ "userId": "adm_bo", "role": "admin", "at": f["data"]["at"] })
    );
    next_presence(&mut c, "user_online", "adm_bo").await;

    // Ann disconnects as socket.io-client does (`41`, then the close): bo and cy are told once.
    a.send_raw("41").await;
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
    assert_eq!(presence_of(&c.seen, "cus_ann").len(), 2, "{:#?}", c.seen);
}

// ---------------------------------------------------------------------------------------------
// Isolation, one stream for both codecs, at most once
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_customer_receives_nothing_of_another_customers_conversation() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let dans = dan_conversation(app).await;
    let mut d = socket(app, &dan()).await;
    join(&mut d, &dans).await;
    let mut c = socket(app, &cy()).await;
    join(&mut c, &conv).await;
    let mark = c.seen.len();

    let mut a = socket(app, &ann()).await;
    join(&mut a, &conv).await;
    let mut last = Value::Null;
    for i in 0..40 {
        last = if i % 4 == 0 {
            sio_send(&mut a, &conv, &format!("m{i}")).await
        } else {
            let who = if i % 2 == 0 { ann() } else { bo() };
            send(app, &who, &conv, &format!("m{i}")).await
        };
    }
    ack(&mut a, "typing_start", json!({ "conversationId": conv })).await;
    data(
        put_empty(&format!("{}/read", conv_url(app, &conv)), &bo()).await,
        200,
    );
    let barrier = send(app, &ann(), &conv, "barrier").await;
    let frames = through(&mut c, mark, "new_message", &barrier["id"]).await;
    assert_eq!(of_event(&frames, "new_message").len(), 41);
    assert_eq!(about(&frames, "new_message", &last["id"]).len(), 1);

    d.expect_silence(Duration::from_millis(500)).await;
    let about_ann = d
        .seen
        .iter()
        .filter(|v| v.to_string().contains(&conv) || v.to_string().contains("cus_ann"))
        .count();
    assert_eq!(about_ann, 0, "{:#?}", d.seen);
    assert_eq!(
        d.seen.len(),
        2,
        "authenticated and the join's ack: {:#?}",
        d.seen
    );
    // Nor can dan ask for it.
    refused(&mut d, "join_conversation", json!(conv), "forbidden").await;
}

/// A `/ws` frame as `(event, seq, data)`.
fn from_ws(f: &Value) -> (String, u64, Value) {
    (
        f["event"].as_str().unwrap().to_string(),
        f["seq"].as_u64().unwrap_or_else(|| panic!("no seq: {f}")),
        f["data"].clone(),
    )
}

/// A Socket.IO event as `(event, seq, data without seq)`.
fn from_sio(f: &Value) -> (String, u64, Value) {
    let mut d = f["data"].clone();
    let s = d
        .as_object_mut()
        .unwrap()
        .remove("seq")
        .and_then(|s| s.as_u64())
        .unwrap_or_else(|| panic!("no numeric data.seq: {f}"));
    (f["event"].as_str().unwrap().to_string(), s, d)
}

const LOG_EVENTS: [&str; 9] = [
    "new_message",
    "message_sent",
    "message_edited",
    "message_deleted",
    "reaction_added",
    "reaction_removed",
    "messages_read",
    "conversation_updated",
    "admin_broadcast",
];

fn is_log_event(f: &Value) -> bool {
    LOG_EVENTS.contains(&f["event"].as_str().unwrap_or_default())
}

#[tokio::test]
async fn a_ws_client_and_a_socketio_client_see_the_same_events_with_the_same_seq_in_order() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    // For each user, one socket of each codec, in the same rooms.
    let mut pairs = Vec::new();
    for (t, in_room) in [(ann(), true), (cy(), true), (admin("adm_di"), false)] {
        let mut w = ws::connect(&app.base(), ws::Auth::Header(&t)).await;
        let mut s = socket(app, &t).await;
        if in_room {
            let reply = w
                .request("join_conversation", json!({ "conversationId": conv }), "j")
                .await;
            assert_eq!(reply["event"], json!("ack"), "{reply}");
            join(&mut s, &conv).await;
        }
        pairs.push((w, s));
    }
    let (mw, ms): (Vec<usize>, Vec<usize>) = pairs
        .iter()
        .map(|(w, s)| (w.seen.len(), s.seen.len()))
        .unzip();

    // Every kind of log event, from both codecs and HTTP.
    let mut a = socket(app, &ann()).await;
    let m1 = sio_send(&mut a, &conv, "one").await;
    let m2 = send(app, &bo(), &conv, "two").await;
    let r = ack(&mut a, "mark_read", json!({ "conversationId": conv })).await;
    assert_eq!(r["marked"], json!(1), "{r}");
    let reply = pairs[0]
        .0
        .request(
            "send_message",
            json!({ "conversationId": conv, "content": "three" }),
            "s-3",
        )
        .await;
    let m3 = reply["data"]["message"].clone();
    data(
        patch(
            &msg_url(app, &conv, &m1),
            &ann(),
            &json!({ "content": "one!" }),
        )
        .await,
        200,
    );
    let reactions = format!("{}/reactions", msg_url(app, &conv, &m2));
    data(
        post(&reactions, &ann(), &json!({ "emoji": "🙂" })).await,
        200,
    );
    data(
        delete(&format!("{reactions}/%F0%9F%99%82"), &ann()).await,
        200,
    );
    data(delete(&msg_url(app, &conv, &m3), &bo()).await, 200);
    let status = app.url(&format!("/messaging/conversations/{conv}/status"));
    data(
        put(&status, &bo(), &json!({ "status": "archived" })).await,
        200,
    );
    data(
        put(&status, &bo(), &json!({ "status": "active" })).await,
        200,
    );
    let body = json!({ "content": "hello all", "audience": "all" });
    data(
        post(&app.url("/messaging/admin/broadcast"), &bo(), &body).await,
        200,
    );
    let barrier = send(app, &bo(), &conv, "barrier").await;

    for (i, (w, s)) in pairs.iter_mut().enumerate() {
        w.next_matching("the barrier", |f| {
            f["event"] == "new_message" && f["data"]["message"]["id"] == barrier["id"]
        })
        .await;
        let sio = through(s, ms[i], "new_message", &barrier["id"]).await;
        let over_ws: Vec<_> = w.seen[mw[i]..]
            .iter()
            .filter(|f| is_log_event(f))
            .map(from_ws)
            .collect();
        let over_sio: Vec<_> = sio
            .iter()
            .filter(|f| is_log_event(f))
            .map(from_sio)
            .collect();
        let who = &s.seen[0]["data"]["userId"];
        assert_eq!(over_sio, over_ws, "{who}");
        let kinds: BTreeMap<&str, usize> = over_sio.iter().fold(BTreeMap::new(), |mut m, e| {
            *m.entry(e.0.as_str()).or_default() += 1;
            m
        });
        // Nine updates: m1, Bo's join, m2, the read, m3, the edit, the delete, two status changes
        // (the barrier's own comes after its new_message).
        let want: BTreeMap<&str, usize> = match i {
            // Ann: her own two as message_sent, bo's two; the reactions in the room; her read.
            0 => [
                ("message_sent", 2),
                ("new_message", 2),
                ("message_edited", 1),
                ("message_deleted", 1),
                ("reaction_added", 1),
                ("reaction_removed", 1),
                ("messages_read", 1),
                ("conversation_updated", 9),
                ("admin_broadcast", 1),
            ]
            .into(),
            // Cy, in the room and the admin room.
            1 => [
                ("new_message", 4),
                ("message_edited", 1),
                ("message_deleted", 1),
                ("reaction_added", 1),
                ("reaction_removed", 1),
                ("messages_read", 1),
                ("conversation_updated", 9),
                ("admin_broadcast", 1),
            ]
            .into(),
            // Di, in the admin room only: no reactions, no read receipt.
            _ => [
                ("new_message", 4),
                ("message_edited", 1),
                ("message_deleted", 1),
                ("conversation_updated", 9),
                ("admin_broadcast", 1),
            ]
            .into(),
        };
        assert_eq!(kinds, want, "{who}: {sio:#?}");
        assert_seqs_from_the_log(app, &conv, &sio).await;
    }
}

#[tokio::test]
async fn a_socket_in_every_room_gets_each_event_once() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    data(open(app, &bo(), BOOKING).await, 200); // bo is a participant: his user room
                                                // Bo's socket: the conversation room (joined twice), his user room, the admin room.
    let mut b = socket(app, &bo()).await;
    join(&mut b, &conv).await;
    join(&mut b, &conv).await;
    ack(&mut b, "join_conversation", json!(conv)).await;
    let mark = b.seen.len();

    let mut sent = Vec::new();
    for i in 0..10 {
        sent.push(send(app, &ann(), &conv, &format!("m{i}")).await);
    }
    data(
        patch(
            &msg_url(app, &conv, &sent[0]),
            &ann(),
            &json!({ "content": "m0!" }),
        )
        .await,
        200,
    );
    let reactions = format!("{}/reactions", msg_url(app, &conv, &sent[1]));
    data(
        post(&reactions, &ann(), &json!({ "emoji": "🙂" })).await,
        200,
    );
    let r = ack(&mut b, "mark_read", json!(conv)).await;
    assert_eq!(r["marked"], json!(10), "{r}");
    data(delete(&msg_url(app, &conv, &sent[2]), &ann()).await, 200);
    let body = json!({ "content": "hello all", "audience": "all" });
    data(
        post(&app.url("/messaging/admin/broadcast"), &cy(), &body).await,
        200,
    );
    let barrier = send(app, &ann(), &conv, "barrier").await;
    let frames = through(&mut b, mark, "new_message", &barrier["id"]).await;

    let mut seen: BTreeMap<(String, u64), usize> = BTreeMap::new();
    for f in frames.iter().filter(|f| is_log_event(f)) {
        *seen
            .entry((f["event"].as_str().unwrap().to_string(), seq(f)))
            .or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(twice.is_empty(), "more than once: {twice:?}");
    let count = |name: &str| seen.keys().filter(|(e, _)| e == name).count();
    assert_eq!(count("new_message"), 11);
    assert_eq!(count("message_edited"), 1);
    assert_eq!(count("message_deleted"), 1);
    assert_eq!(count("reaction_added"), 1);
    assert_eq!(count("messages_read"), 1);
    assert_eq!(count("admin_broadcast"), 1);
    // 11 messages, the edit, the read, the delete; the barrier's own comes after its new_message.
    assert_eq!(count("conversation_updated"), 13);
    assert_seqs_from_the_log(app, &conv, &frames).await;
}

#[tokio::test]
async fn an_unrefreshed_typing_indicator_ends_after_5_s() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let mut a = socket(app, &ann()).await;
    let mut b = socket(app, &bo()).await;
    join(&mut b, &conv).await;

    let started = std::time::Instant::now();
    ack(&mut a, "typing_start", json!(conv)).await;
    let f = b.next_event("user_typing").await;
    assert_eq!(f["data"]["isTyping"], json!(true), "{f}");
    b.next_matching("isTyping false", |f| {
        f["event"] == "user_typing" && f["data"]["isTyping"] == false
    })
    .await;
    let after = started.elapsed();
    assert!(
        after >= Duration::from_millis(4_800) && after <= Duration::from_millis(6_500),
        "ended after {after:?}"
    );
}

#[tokio::test]
async fn admins_who_send_or_read_over_socketio_join_by_an_event_first() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    send(app, &ann(), &conv, "m1").await;
    let mut b = socket(app, &bo()).await;
    let mut c = socket(app, &cy()).await;
    // Entering the room is not joining: it writes nothing.
    join(&mut b, &conv).await;
    join(&mut c, &conv).await;
    sio_send(&mut b, &conv, "a1").await;
    sio_send(&mut b, &conv, "a2").await;
    let r = ack(&mut c, "mark_read", json!(conv)).await;
    assert_eq!(r["marked"], json!(3), "{r}");
    let r = ack(&mut c, "mark_read", json!(conv)).await;
    assert_eq!(r["marked"], json!(0), "{r}");
    let log: Vec<(String, String)> = common::log::events(app.nats_url(), &conv)
        .await
        .iter()
        .map(|e| {
            let s = |v: &Value| v.as_str().unwrap().to_string();
            (s(&e["type"]), s(&e["actor"]["id"]))
        })
        .collect();
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
    assert_eq!(log, want);
}

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
        assert_eq!(
            updates[1]["data"]["conversation"]["lastMessage"]["id"], m2["id"],
            "{who}"
        );
    }
}

#[tokio::test]
async fn a_users_sockets_of_both_codecs_count_as_one_presence() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let mut c = socket(app, &cy()).await;
    let mut over_sio = socket(app, &ann()).await;
    next_presence(&mut c, "user_online", "cus_ann").await;
    let mut over_ws = ws::connect(&app.base(), ws::Auth::Header(&ann())).await;
    // Ann closes her Socket.IO socket; her /ws socket keeps her online.
    over_sio.send_raw("41").await;
    over_sio.ws.close(None).await.expect("close");
    // Barrier: another user's transition comes after anything Ann's sockets caused.
    let _e = socket(app, &customer("cus_eve", &[])).await;
    next_presence(&mut c, "user_online", "cus_eve").await;
    assert_eq!(presence_of(&c.seen, "cus_ann").len(), 1, "{:#?}", c.seen);

    over_ws.ws.close(None).await.expect("close");
    let f = next_presence(&mut c, "user_offline", "cus_ann").await;
    assert_eq!(f["data"]["role"], json!("customer"), "{f}");
    assert_eq!(presence_of(&c.seen, "cus_ann").len(), 2, "{:#?}", c.seen);
}
