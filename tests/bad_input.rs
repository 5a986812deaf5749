//! Bad input of every kind the hardening issue names, over HTTP and WebSocket: each gets the
//! documented status (or `error` frame) and a message naming the problem; never a 500, never a
//! dropped connection, and nothing is written.

mod common;

use common::ws::{connect, Auth, Client};
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
    // A page far past the end is empty, not an error.
    let far = data(
        get(&format!("{list}?page=18446744073709551615"), &admin).await,
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
    ] {
        let r = get(&format!("{msgs}?{query}"), &admin).await;
        assert_eq!(r.0.as_u16(), 400, "{query}: {}", r.1);
    }
    let far = data(
        get(&format!("{msgs}?page=18446744073709551615"), &admin).await,
        200,
    );
    assert_eq!(far["messages"], json!([]));
}

/// Sends `text` and returns the `error` frame it gets; the socket must answer a ping after it.
async fn refused(c: &mut Client, text: &str, n: usize) -> Value {
    c.send_raw(text).await;
    let reply = c.next_event("error").await;
    let ping = c.request("ping", json!({}), &format!("alive-{n}")).await;
    assert_eq!(
        ping["event"],
        json!("ack"),
        "the socket died after {text:.60}"
    );
    reply
}

#[tokio::test]
async fn bad_frames_get_errors_naming_the_problem_and_the_socket_stays_open() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = conversation_of_ann(app).await;
    let mut c = connect(&app.base(), Auth::Header(&ann())).await;
    let send_frame =
        |data: Value| json!({ "event": "send_message", "ref": "s", "data": data }).to_string();
    let over = format!("{}x", "e\u{301}".repeat(1000));
    let cases: Vec<(String, &str, &str)> = vec![
        (
            send_frame(json!({ "conversationId": conv, "content": over })),
            "validation_failed",
            "2000",
        ),
        (
            send_frame(json!({ "conversationId": conv, "content": "a\u{0}b" })),
            "validation_failed",
            "control",
        ),
        (
            send_frame(json!({ "conversationId": conv, "content": "  " })),
            "validation_failed",
            "blank",
        ),
        (
            send_frame(json!({ "conversationId": conv, "content": 5 })),
            "validation_failed",
            "content",
        ),
        (
            send_frame(json!({ "conversationId": conv })),
            "validation_failed",
            "content",
        ),
        (
            send_frame(json!({ "conversationId": 5, "content": "hi" })),
            "validation_failed",
            "conversationId",
        ),
        (
            send_frame(json!({ "conversationId": "../../x", "content": "hi" })),
            "validation_failed",
            "conversationId",
        ),
        (
            send_frame(json!({ "conversationId": "A".repeat(10 * 1024), "content": "hi" })),
            "validation_failed",
            "conversationId",
        ),
        (
            send_frame(json!({ "conversationId": "01JDQ80000000000000000000A", "content": "hi" })),
            "not_found",
            "not found",
        ),
        (
            json!({ "event": "resume", "ref": "r", "data": { "since": -1 } }).to_string(),
            "validation_failed",
            "since",
        ),
        (
            json!({ "event": "resume", "ref": "r", "data": { "since": "0" } }).to_string(),
            "validation_failed",
            "since",
        ),
        (
            json!({ "event": "mark_read", "ref": "m", "data": [] }).to_string(),
            "validation_failed",
            "data",
        ),
    ];
    for (n, (text, code, names)) in cases.iter().enumerate() {
        let reply = refused(&mut c, text, n).await;
        assert_eq!(reply["error"]["code"], json!(code), "{text:.80}: {reply}");
        let message = reply["error"]["message"].as_str().unwrap().to_lowercase();
        assert!(
            message.contains(&names.to_lowercase()),
            "{text:.80}: {message}"
        );
    }
    assert_eq!(total(app, &conv).await, 0);

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
