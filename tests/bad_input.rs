//! Bad input of every kind the hardening issue names, over HTTP and the real-time API: each gets
//! the documented status (or error answer) and a message naming the problem; never a 500, never a
//! dropped connection, and nothing is written. The table of bad client events runs against both
//! codecs (`/ws` and Socket.IO); each codec then gets the malformed input of its own framing.

mod common;

use common::sio::{Answer, Codec, Socket};
use common::*;
use futures::SinkExt;
use reqwest::Method;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

const JSON: (&str, &str) = ("content-type", "application/json");

fn ann() -> String {
    customer("cus_ann", &["bk_1"])
}

async fn conversation_of_ann(app: &App) -> String {
    id_of(&created(open(app, &ann(), "bk_1").await))
}

async fn post_bytes(app: &App, conv: &str, body: Vec<u8>) -> (reqwest::StatusCode, Value) {
    let r = raw(
        Method::POST,
        &messages_url(app, conv),
        Some(&ann()),
        &[JSON],
        Some(body),
    )
    .await;
    (r.status, r.body)
}

async fn total(app: &App, conv: &str) -> u64 {
    list_messages(app, &admin("adm_audit"), conv, "").await["pagination"]["total"]
        .as_u64()
        .unwrap()
}

/// Content at the limit of 2000 Unicode scalar values, counted as the contract says.
fn contents_at_the_limit() -> Vec<(&'static str, String)> {
    vec![
        ("ascii", "a".repeat(2000)),
        ("two-byte letters", "é".repeat(2000)),
        ("emoji", "👍".repeat(2000)),
        // e + U+0301 is one glyph of two scalar values.
        ("combining marks", "e\u{301}".repeat(1000)),
        // A family emoji is five scalar values joined by U+200D.
        ("joined emoji", "👨\u{200d}👩\u{200d}👧".repeat(400)),
    ]
}

#[tokio::test]
async fn message_bodies_are_judged_field_by_field_and_nothing_is_written() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = conversation_of_ann(app).await;

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("malformed JSON", br#"{"content": "hi""#.to_vec(), "json"),
        ("a JSON array", br#"["hi"]"#.to_vec(), "object"),
        ("no content", br#"{}"#.to_vec(), "content"),
        ("content null", br#"{"content":null}"#.to_vec(), "content"),
        ("content a number", br#"{"content":5}"#.to_vec(), "content"),
        (
            "content an object",
            br#"{"content":{"text":"hi"}}"#.to_vec(),
            "content",
        ),
        (
            "blank content",
            br#"{"content":" \n\t\u3000 "}"#.to_vec(),
            "content",
        ),
        ("NUL", br#"{"content":"a\u0000b"}"#.to_vec(), "content"),
        (
            "unit separator",
            br#"{"content":"a\u001fb"}"#.to_vec(),
            "content",
        ),
        ("DEL", br#"{"content":"a\u007fb"}"#.to_vec(), "content"),
        (
            "C1 control",
            br#"{"content":"a\u0085b"}"#.to_vec(),
            "content",
        ),
        (
            "messageType a number",
            br#"{"content":"hi","messageType":7}"#.to_vec(),
            "messageType",
        ),
        (
            "unknown messageType",
            br#"{"content":"hi","messageType":"video"}"#.to_vec(),
            "messageType",
        ),
        (
            "attachments a string",
            br#"{"content":"hi","attachments":"x"}"#.to_vec(),
            "attachments",
        ),
        (
            "replyTo a number",
            br#"{"content":"hi","replyTo":5}"#.to_vec(),
            "replyTo",
        ),
        (
            "replyTo of ../",
            br#"{"content":"hi","replyTo":"../../etc/passwd"}"#.to_vec(),
            "replyTo",
        ),
        (
            "clientMessageId a number",
            br#"{"content":"hi","clientMessageId":5}"#.to_vec(),
            "clientMessageId",
        ),
        (
            "invalid UTF-8",
            b"{\"content\":\"caf\xe9\"}".to_vec(),
            "json",
        ),
    ];
    for (what, body, field) in cases {
        let r = post_bytes(app, &conv, body).await;
        assert_eq!(r.0.as_u16(), 400, "{what}: {}", r.1);
        invalid(r, field);
    }
    for (what, content) in contents_at_the_limit() {
        let over = format!("{content}x");
        let r = post_bytes(
            app,
            &conv,
            serde_json::to_vec(&json!({ "content": over })).unwrap(),
        )
        .await;
        assert_eq!(r.0.as_u16(), 400, "{what} + 1: {}", r.1);
        let m = error(r, 400, "validation_failed");
        assert_eq!(m, "content must be at most 2000 characters", "{what}");
    }
    assert_eq!(
        total(app, &conv).await,
        0,
        "a refused write wrote something"
    );

    // Exactly at the limit, and characters the contract keeps, are accepted and stored as given.
    for (what, content) in contents_at_the_limit() {
        let sent = send(app, &ann(), &conv, &content).await;
        assert_eq!(sent["content"], json!(content), "{what}");
    }
    let kept = "<b>tab\there</b>\r\nzero\u{200b}width &amp; \u{202e}rtl";
    assert_eq!(send(app, &ann(), &conv, kept).await["content"], json!(kept));
    assert_eq!(total(app, &conv).await, 6);
}

#[tokio::test]
async fn bodies_over_64_kib_are_413_and_at_64_kib_are_judged() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = conversation_of_ann(app).await;
    let body_of = |len: usize| {
        let empty = json!({ "content": "hi", "pad": "" }).to_string();
        json!({ "content": "hi", "pad": "p".repeat(len - empty.len()) })
            .to_string()
            .into_bytes()
    };
    assert_eq!(body_of(65_536).len(), 65_536);
    assert_eq!(
        post_bytes(app, &conv, body_of(65_536)).await.0.as_u16(),
        201
    );
    error(
        post_bytes(app, &conv, body_of(65_537)).await,
        413,
        "payload_too_large",
    );
    error(
        post_bytes(app, &conv, vec![b'x'; 1 << 20]).await,
        413,
        "payload_too_large",
    );
    assert_eq!(total(app, &conv).await, 1);
}

#[tokio::test]
async fn ids_and_query_parameters_are_checked_before_anything_is_looked_up() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = conversation_of_ann(app).await;
    let admin = admin("adm_1");
    let long = "A".repeat(10 * 1024);
    for bad in [
        "abc",
        "..%2F..%2Fetc%2Fpasswd",
        "01JDQ80000000000000000000A%00",
        "%00",
        "01jdq80000000000000000000a",
        "01JDQ80000000000000000000U",
        long.as_str(),
    ] {
        let url = app.url(&format!("/messaging/conversations/{bad}/messages"));
        let r = get(&url, &admin).await;
        assert_eq!(r.0.as_u16(), 400, "{bad:.40}: {}", r.1);
        invalid(r, "conversationId");
        let r = get(&app.url(&format!("/messaging/conversations/{bad}")), &admin).await;
        invalid(r, "conversationId");
    }
    for bad in [
        "..%2F..%2Fetc",
        "bk%00",
        "bk%20one",
        "bk%2Fone",
        long.as_str(),
    ] {
        let url = app.url(&format!("/messaging/conversations/booking/{bad}"));
        invalid(get(&url, &admin).await, "bookingId");
    }
    // A raw slash makes another path: no route has it.
    let r = get(&app.url("/messaging/conversations/booking/b/k"), &admin).await;
    assert_eq!(error(r, 404, "not_found"), "route not found");
    // A well-formed id nobody has is 404, for a conversation and for a message.
    error(
        get(&conv_url(app, "01JDQ80000000000000000000A"), &admin).await,
        404,
        "not_found",
    );
    let unknown_msg = app.url(&format!(
        "/messaging/conversations/{conv}/messages/01JDQ80000000000000000000A"
    ));
    error(delete(&unknown_msg, &admin).await, 404, "not_found");
    let bad_msg = app.url(&format!(
        "/messaging/conversations/{conv}/messages/..%2F..%2Fx"
    ));
    invalid(delete(&bad_msg, &admin).await, "messageId");

    let list = app.url("/messaging/conversations");
    for (query, field) in [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=1.5", "page"),
        ("page=99999999999999999999999", "page"),
        ("page=9223372036854775808", "page"),
        ("page=", "page"),
        ("limit=0", "limit"),
        ("limit=-5", "limit"),
        ("limit=101", "limit"),
        ("limit=1e2", "limit"),
        ("limit=18446744073709551616", "limit"),
        ("status=open", "status"),
        ("mine=yes", "mine"),
    ] {
        let r = get(&format!("{list}?{query}"), &admin).await;
        assert_eq!(r.0.as_u16(), 400, "{query}: {}", r.1);
        invalid(r, field);
    }
    // A page far past the end is empty, not an error, up to the largest int64 (the document's
    // maximum, what every JSON client holds exactly).
    let far = data(
        get(&format!("{list}?page=9223372036854775807"), &admin).await,
        200,
    );
    assert_eq!(far["conversations"], json!([]));
    let msgs = messages_url(app, &conv);
    for query in [
        "page=0",
        "limit=0",
        "limit=101",
        "before=not-an-id",
        "before=..%2F",
        "page=9223372036854775808",
    ] {
        let r = get(&format!("{msgs}?{query}"), &admin).await;
        assert_eq!(r.0.as_u16(), 400, "{query}: {}", r.1);
    }
    let far = data(
        get(&format!("{msgs}?page=9223372036854775807"), &admin).await,
        200,
    );
    assert_eq!(far["messages"], json!([]));
}

/// A refused client event, the table's row: (event, data, code, what the message names).
type Bad = (&'static str, Value, &'static str, &'static str);

/// Bad client events of every kind, the same for both codecs (SOCKETIO.md: "the same events with
/// the same rules").
fn bad_events(conv: &str) -> Vec<Bad> {
    let over = format!("{}x", "e\u{301}".repeat(1000));
    vec![
        (
            "send_message",
            json!({ "conversationId": conv, "content": over }),
            "validation_failed",
            "2000",
        ),
        (
            "send_message",
            json!({ "conversationId": conv, "content": "a\u{0}b" }),
            "validation_failed",
            "control",
        ),
        (
            "send_message",
            json!({ "conversationId": conv, "content": "  " }),
            "validation_failed",
            "blank",
        ),
        (
            "send_message",
            json!({ "conversationId": conv, "content": 5 }),
            "validation_failed",
            "content",
        ),
        (
            "send_message",
            json!({ "conversationId": conv }),
            "validation_failed",
            "content",
        ),
        (
            "send_message",
            json!({ "conversationId": 5, "content": "hi" }),
            "validation_failed",
            "conversationId",
        ),
        (
            "send_message",
            json!({ "conversationId": "../../x", "content": "hi" }),
            "validation_failed",
            "conversationId",
        ),
        (
            "send_message",
            json!({ "conversationId": "A".repeat(10 * 1024), "content": "hi" }),
            "validation_failed",
            "conversationId",
        ),
        (
            "send_message",
            json!({ "conversationId": "01JDQ80000000000000000000A", "content": "hi" }),
            "not_found",
            "not found",
        ),
        (
            "resume",
            json!({ "since": -1 }),
            "validation_failed",
            "since",
        ),
        (
            "resume",
            json!({ "since": "0" }),
            "validation_failed",
            "since",
        ),
        ("mark_read", json!([]), "validation_failed", "data"),
        ("fly", json!({}), "validation_failed", "unknown event"),
    ]
}

/// Sends every bad event of the table over a socket of `codec` and checks each answer: the code,
/// a message naming the problem, and a socket that still answers a ping; nothing is written.
async fn bad_events_are_refused(codec: Codec) -> (TestEnv, Socket) {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = conversation_of_ann(app).await;
    let mut c = Socket::connect(codec, &app.base(), &ann()).await;
    for (event, data, code, names) in bad_events(&conv) {
        let what = format!("{codec:?} {event} {:.80}", data.to_string());
        match c.request(event, data).await {
            Answer::Error { code: got, message } => {
                assert_eq!(got, code, "{what}: {message}");
                assert!(
                    message.to_lowercase().contains(&names.to_lowercase()),
                    "{what}: {message}"
                );
            }
            other => panic!("{what}: an error expected, got {other:?}"),
        }
        let ping = c.request("ping", json!({})).await;
        assert_eq!(ping.outcome(), "ack", "the socket died after {what}");
    }
    assert_eq!(total(app, &conv).await, 0);
    (env, c)
}

#[tokio::test]
async fn bad_frames_get_errors_naming_the_problem_and_the_socket_stays_open() {
    let (_env, mut c) = bad_events_are_refused(Codec::Ws).await;
    let c = c.ws();

    // Not JSON: an `error` without `ref`.
    c.send_raw(r#"{"event":"ping","ref":"x""#).await;
    let reply = c.next_event("error").await;
    assert_eq!(
        reply["error"]["code"],
        json!("validation_failed"),
        "{reply}"
    );
    // A binary frame is answered; a text frame that is not UTF-8 breaks the protocol: 1007.
    c.ws.send(Message::Binary(vec![0xff, 0xfe].into()))
        .await
        .unwrap();
    let reply = c.next_event("error").await;
    assert_eq!(reply["error"]["code"], json!("validation_failed"));
    let mut raw_frame = tokio_tungstenite::tungstenite::protocol::frame::Frame::message(
        vec![b'{', 0xff, b'}'],
        tokio_tungstenite::tungstenite::protocol::frame::coding::OpCode::Data(
            tokio_tungstenite::tungstenite::protocol::frame::coding::Data::Text,
        ),
        true,
    );
    raw_frame.header_mut().is_final = true;
    c.ws.send(Message::Frame(raw_frame)).await.unwrap();
    assert_eq!(c.close_code().await, Some(1007));
}

#[tokio::test]
async fn bad_socket_io_events_get_errors_naming_the_problem_and_the_socket_stays_open() {
    let (_env, mut c) = bad_events_are_refused(Codec::SocketIo).await;
    let c = c.sio();
    let error_event = |v: &Value| v["event"] == "error";

    // Without an ack id, a refusal is an `error` event naming the event.
    c.emit("send_message", json!({ "content": "no conversation" }))
        .await;
    let e = c.next_matching("error", error_event).await;
    assert_eq!(
        (&e["data"]["event"], &e["data"]["code"]),
        (&json!("send_message"), &json!("validation_failed")),
        "{e}"
    );
    assert!(
        e["data"]["message"]
            .as_str()
            .unwrap()
            .contains("conversationId"),
        "{e}"
    );
    // A packet whose payload is not JSON, a binary packet, a binary WebSocket frame: each answered
    // `validation_failed`, and the connection stays open.
    c.send_raw(r#"42["send_message",{"#).await;
    let e = c.next_matching("error", error_event).await;
    assert_eq!(e["data"]["code"], json!("validation_failed"), "{e}");
    assert!(
        e["data"]["message"].as_str().unwrap().contains("JSON"),
        "{e}"
    );
    c.send_raw(r#"451-18["send_message",{"_placeholder":true,"num":0}]"#)
        .await;
    let ack = c.next_matching("ack 18", |v| v["ack"] == 18).await;
    assert_eq!(
        (&ack["data"]["success"], &ack["data"]["error"]),
        (&json!(false), &json!("validation_failed")),
        "{ack}"
    );
    c.ws.send(Message::Binary(vec![0xff, 0xfe].into()))
        .await
        .unwrap();
    let e = c.next_matching("error", error_event).await;
    assert_eq!(e["data"]["code"], json!("validation_failed"), "{e}");
    let pong = c.request("ping", json!({})).await;
    assert_eq!(pong["success"], json!(true), "{pong}");

    // A packet over 64 KiB (Engine.IO maxPayload) closes the connection.
    let big = format!("42{}", json!(["ping", { "pad": "p".repeat(64 * 1024) }]));
    c.send_raw(&big).await;
    assert!(c.ended().await, "still open after a packet over 64 KiB");
}
