//! Routes 3 (list messages, auto-read), 4 (send) and 5 (mark read) (API.md "Message", routes 3–5,
//! "Cross-cutting").

mod common;

use std::collections::BTreeSet;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const UNKNOWN_ULID: &str = "01JDQ7X0S9G1W7V8M2K3Z4Y5AB";

/// A conversation for `cus_ann` on `booking`; returns its id.
async fn ann_conversation(app: &App, booking: &str) -> String {
    id_of(&created(
        open(app, &customer("cus_ann", &[booking]), booking).await,
    ))
}

fn ann() -> String {
    customer("cus_ann", &[])
}

fn read_url(app: &App, conv: &str) -> String {
    format!("{}/read", conv_url(app, conv))
}

/// `pagination.total` of the conversation's messages, read by its customer `cus_ann` (so that no
/// admin joins as a side effect).
async fn message_total(app: &App, conv: &str) -> u64 {
    list_messages(app, &ann(), conv, "limit=1").await["pagination"]["total"]
        .as_u64()
        .unwrap()
}

/// The conversation's raw events, read from the log itself.
async fn events(app: &App, conv: &str) -> Vec<Value> {
    common::log::events(app.nats_url(), conv).await
}

async fn reads_by(app: &App, conv: &str, user: &str) -> usize {
    events(app, conv)
        .await
        .iter()
        .filter(|e| e["type"] == json!("messages_read") && e["actor"]["id"] == json!(user))
        .count()
}

fn seqs(list: &Value) -> Vec<u64> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap_or_else(|| panic!("seq: {m}")))
        .collect()
}

#[track_caller]
fn assert_message_shape(m: &Value) {
    assert_ulid(&m["id"]);
    assert_ulid(&m["conversationId"]);
    assert!(m["seq"].is_u64(), "seq: {m}");
    assert!(m["sender"].is_string(), "sender: {m}");
    assert!(
        m["senderRole"] == json!("customer") || m["senderRole"] == json!("admin"),
        "senderRole: {m}"
    );
    assert!(m["content"].is_string(), "content: {m}");
    assert!(m["messageType"].is_string(), "messageType: {m}");
    assert!(m["attachments"].is_array(), "attachments: {m}");
    assert!(
        m["replyTo"].is_null() || m["replyTo"].is_string(),
        "replyTo: {m}"
    );
    for r in m["readBy"].as_array().expect("readBy array") {
        assert!(r["user"].is_string(), "readBy.user: {m}");
        assert_timestamp(&r["readAt"]);
    }
    assert!(m["reactions"].is_array(), "reactions: {m}");
    assert!(m["isDeleted"].is_boolean(), "isDeleted: {m}");
    assert!(m["isEdited"].is_boolean(), "isEdited: {m}");
    assert_timestamp(&m["createdAt"]);
    assert_timestamp(&m["updatedAt"]);
}

// ---------------------------------------------------------------------------------------------
// Route 4: sending
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn send_answers_201_with_the_message() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;

    let m = send(app, &ann(), &conv, "Can I check in early?").await;
    assert_message_shape(&m);
    assert_eq!(m["conversationId"], json!(conv));
    assert_eq!(m["sender"], json!("cus_ann"));
    assert_eq!(m["senderRole"], json!("customer"));
    assert_eq!(m["content"], json!("Can I check in early?"));
    assert_eq!(m["messageType"], json!("text"));
    assert_eq!(m["attachments"], json!([]));
    assert_eq!(m["replyTo"], Value::Null);
    assert_eq!(m["readBy"], json!([]));
    assert_eq!(m["reactions"], json!([]));
    assert_eq!(m["isDeleted"], json!(false));
    assert_eq!(m["deletedAt"], Value::Null);
    assert_eq!(m["isEdited"], json!(false));
    assert_eq!(m["editedAt"], Value::Null);

    let bo = admin("adm_bo");
    let a = send(app, &bo, &conv, "Yes, from noon.").await;
    assert_message_shape(&a);
    assert_eq!(a["sender"], json!("adm_bo"));
    assert_eq!(a["senderRole"], json!("admin"));
    let m3 = send(app, &ann(), &conv, "Thanks!").await;
    let s = [&m, &a, &m3].map(|x| x["seq"].as_u64().unwrap());
    assert!(s[0] < s[1] && s[1] < s[2], "seq strictly increases: {s:?}");
    let all: BTreeSet<String> = [&m, &a, &m3].iter().map(|x| id_of(x)).collect();
    assert_eq!(all.len(), 3);

    // The same message as listed.
    let page = list_messages(app, &ann(), &conv, "").await;
    assert_eq!(
        ids(&page["messages"]),
        vec![id_of(&m), id_of(&a), id_of(&m3)]
    );
    assert_eq!(page["messages"][0]["seq"], m["seq"]);
    assert_eq!(page["messages"][0]["createdAt"], m["createdAt"]);

    // lastMessage: the newest, its content cut to 100 scalar values.
    let c = conversation(app, &ann(), &conv).await;
    assert_eq!(c["lastMessage"]["id"], m3["id"]);
    assert_eq!(c["lastMessage"]["content"], json!("Thanks!"));
    assert_eq!(c["lastMessage"]["sender"], json!("cus_ann"));
    assert_eq!(c["lastMessage"]["messageType"], json!("text"));
    assert_timestamp(&c["lastMessage"]["timestamp"]);
    let long = "é".repeat(60) + &"ü".repeat(60);
    send(app, &ann(), &conv, &long).await;
    let c = conversation(app, &ann(), &conv).await;
    let expected: String = long.chars().take(100).collect();
    assert_eq!(c["lastMessage"]["content"], json!(expected));
}

#[tokio::test]
async fn content_length_counts_unicode_scalar_values() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;
    let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}"; // 5 scalar values
    assert_eq!(family.chars().count(), 5);

    let mut accepted = 0;
    for ok in [
        "a".repeat(2000),
        "é".repeat(2000),
        "👍".repeat(2000),
        "a".repeat(1995) + family,
        "👍".to_string(),
        family.to_string(),
    ] {
        let m = send(app, &ann(), &conv, &ok).await;
        assert_eq!(m["content"], json!(ok), "stored as given");
        accepted += 1;
    }
    for too_long in [
        "a".repeat(2001),
        "é".repeat(2001),
        "👍".repeat(2001),
        "a".repeat(1996) + family,
    ] {
        let r = send_body(app, &ann(), &conv, &json!({ "content": too_long })).await;
        invalid(r, "content");
    }
    assert_eq!(message_total(app, &conv).await, accepted);
}

#[tokio::test]
async fn content_must_not_be_blank_or_hold_control_characters() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;

    for bad in [
        json!({ "content": "" }),
        json!({ "content": "   " }),
        json!({ "content": " \n\t\r " }),
        json!({ "content": "\u{3000}\u{00A0}\u{2003}" }),
        json!({ "content": "a\u{0001}b" }),
        json!({ "content": "a\u{0000}b" }),
        json!({ "content": "a\u{001B}[31mred" }),
        json!({ "content": "a\u{007F}b" }),
        json!({ "content": "a\u{0085}b" }),
        json!({ "content": "a\u{009F}b" }),
        json!({ "content": 5 }),
        json!({ "content": null }),
        json!({ "content": ["a"] }),
        json!({}),
    ] {
        let r = send_body(app, &ann(), &conv, &bad).await;
        assert_eq!(r.0, StatusCode::BAD_REQUEST, "{bad}: {}", r.1);
        invalid(r, "content");
    }
    assert_eq!(message_total(app, &conv).await, 0, "errors write nothing");

    for ok in [
        "line one\nline two",
        "crlf\r\nand\ttab",
        "zero\u{200B}width\u{200E}marks\u{FEFF}",
        "<script>alert('x')</script> &amp; \"quotes\"",
        "  padded  ",
    ] {
        let m = send(app, &ann(), &conv, ok).await;
        assert_eq!(m["content"], json!(ok), "stored as given");
    }
    let page = list_messages(app, &ann(), &conv, "").await;
    assert_eq!(
        contents(&page["messages"]),
        vec![
            "line one\nline two",
            "crlf\r\nand\ttab",
            "zero\u{200B}width\u{200E}marks\u{FEFF}",
            "<script>alert('x')</script> &amp; \"quotes\"",
            "  padded  ",
        ]
    );
}

fn attachment(i: usize) -> Value {
    json!({
        "url": format!("https://files.example.com/{i}.pdf"),
        "filename": format!("ticket-{i}.pdf"),
        "mimetype": "application/pdf",
        "size": 48213 + i,
    })
}

#[tokio::test]
async fn message_types() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;
    let bo = admin("adm_bo");

    let r = send_body(
        app,
        &ann(),
        &conv,
        &json!({ "content": "hi", "messageType": "bogus" }),
    )
    .await;
    invalid(r, "messageType");
    let r = send_body(
        app,
        &ann(),
        &conv,
        &json!({ "content": "hi", "messageType": 1 }),
    )
    .await;
    invalid(r, "messageType");
    let r = send_body(
        app,
        &ann(),
        &conv,
        &json!({ "content": "hi", "messageType": "system" }),
    )
    .await;
    error(r, 403, "forbidden");

    let m = data(
        send_body(
            app,
            &bo,
            &conv,
            &json!({ "content": "Agent joined", "messageType": "system" }),
        )
        .await,
        201,
    );
    assert_eq!(m["messageType"], json!("system"));
    assert_eq!(m["senderRole"], json!("admin"));

    let m = data(
        send_body(
            app,
            &ann(),
            &conv,
            &json!({ "content": "hi", "messageType": "text" }),
        )
        .await,
        201,
    );
    assert_eq!(m["messageType"], json!("text"));

    // image and file may go without content when they carry an attachment; text may not.
    for t in ["image", "file"] {
        let m = data(
            send_body(
                app,
                &ann(),
                &conv,
                &json!({ "content": "", "messageType": t, "attachments": [attachment(1)] }),
            )
            .await,
            201,
        );
        assert_eq!(m["messageType"], json!(t));
        assert_eq!(m["content"], json!(""));
        assert_eq!(m["attachments"], json!([attachment(1)]));
        let r = send_body(
            app,
            &ann(),
            &conv,
            &json!({ "content": " ", "messageType": t, "attachments": [] }),
        )
        .await;
        invalid(r, "content");
    }
    let r = send_body(
        app,
        &ann(),
        &conv,
        &json!({ "content": "", "messageType": "text", "attachments": [attachment(1)] }),
    )
    .await;
    invalid(r, "content");
    assert_eq!(message_total(app, &conv).await, 4);
}

#[tokio::test]
async fn reply_to_must_be_a_message_of_the_same_conversation() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv_a = ann_conversation(app, "bk_a").await;
    let conv_b = ann_conversation(app, "bk_b").await;
    let a1 = send(app, &ann(), &conv_a, "in A").await;
    let b1 = send(app, &ann(), &conv_b, "in B").await;

    for bad in [
        json!(id_of(&b1)),
        json!(UNKNOWN_ULID),
        json!("not-a-ulid"),
        json!(7),
    ] {
        let r = send_body(
            app,
            &ann(),
            &conv_a,
            &json!({ "content": "re", "replyTo": bad }),
        )
        .await;
        assert_eq!(r.0, StatusCode::BAD_REQUEST, "replyTo {bad}: {}", r.1);
        invalid(r, "replyTo");
    }
    let m = data(
        send_body(
            app,
            &admin("adm_bo"),
            &conv_a,
            &json!({ "content": "re", "replyTo": id_of(&a1) }),
        )
        .await,
        201,
    );
    assert_eq!(m["replyTo"], json!(id_of(&a1)));
    let m = data(
        send_body(
            app,
            &ann(),
            &conv_a,
            &json!({ "content": "new", "replyTo": null }),
        )
        .await,
        201,
    );
    assert_eq!(m["replyTo"], Value::Null);
    assert_eq!(message_total(app, &conv_a).await, 3);
}

#[tokio::test]
async fn attachments_are_validated() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;

    let ten: Vec<Value> = (0..10).map(attachment).collect();
    let m = data(
        send_body(
            app,
            &ann(),
            &conv,
            &json!({ "content": "ten", "attachments": ten }),
        )
        .await,
        201,
    );
    assert_eq!(m["attachments"], json!(ten));
    let eleven: Vec<Value> = (0..11).map(attachment).collect();
    invalid(
        send_body(
            app,
            &ann(),
            &conv,
            &json!({ "content": "eleven", "attachments": eleven }),
        )
        .await,
        "attachments",
    );

    let with = |f: &dyn Fn(&mut Value)| {
        let mut a = attachment(0);
        f(&mut a);
        json!({ "content": "x", "attachments": [a] })
    };
    for (body, field) in [
        (
            with(&|a| a["url"] = json!("ftp://files.example.com/a.pdf")),
            "url",
        ),
        (with(&|a| a["url"] = json!("javascript:alert(1)")), "url"),
        (with(&|a| a["url"] = json!("not a url")), "url"),
        (
            with(&|a| a["filename"] = json!("f".repeat(256))),
            "filename",
        ),
        (with(&|a| a["size"] = json!(-1)), "size"),
        (
            json!({ "content": "x", "attachments": "none" }),
            "attachments",
        ),
    ] {
        let r = send_body(app, &ann(), &conv, &body).await;
        assert_eq!(r.0, StatusCode::BAD_REQUEST, "{body}: {}", r.1);
        invalid(r, field);
    }
    for body in [
        with(&|a| a["url"] = json!("http://files.example.com/a.pdf")),
        with(&|a| a["filename"] = json!("f".repeat(255))),
        with(&|a| a["size"] = json!(0)),
    ] {
        let m = data(send_body(app, &ann(), &conv, &body).await, 201);
        assert_eq!(m["attachments"], body["attachments"]);
    }
    assert_eq!(message_total(app, &conv).await, 4);
}

#[tokio::test]
async fn bodies_are_checked_415_then_413_then_400() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;
    let url = messages_url(app, &conv);
    let t = ann();
    let json_ct = [("content-type", "application/json")];
    let send_raw = |headers: &'static [(&'static str, &'static str)], body: Vec<u8>| {
        let (url, t) = (url.clone(), t.clone());
        async move {
            let r = raw(Method::POST, &url, Some(&t), headers, Some(body)).await;
            (r.status, r.body)
        }
    };
    const JSON: &[(&str, &str)] = &[("content-type", "application/json")];
    const TEXT: &[(&str, &str)] = &[("content-type", "text/plain")];
    const NONE: &[(&str, &str)] = &[];

    error(
        send_raw(JSON, b"{\"content\": ".to_vec()).await,
        400,
        "validation_failed",
    );
    error(
        send_raw(JSON, b"[\"content\"]".to_vec()).await,
        400,
        "validation_failed",
    );
    error(send_raw(JSON, b"".to_vec()).await, 400, "validation_failed");
    let ok_body = br#"{"content":"hi"}"#.to_vec();
    error(
        send_raw(TEXT, ok_body.clone()).await,
        415,
        "unsupported_media_type",
    );
    error(
        send_raw(NONE, ok_body.clone()).await,
        415,
        "unsupported_media_type",
    );
    let r = raw(
        Method::POST,
        &url,
        Some(&t),
        &[("content-type", "application/json; charset=utf-8")],
        Some(ok_body.clone()),
    )
    .await;
    data((r.status, r.body), 201);
    // Unknown fields are ignored.
    data(
        send_raw(
            JSON,
            br#"{"content":"hi","colour":"blue","x":{"y":[1]}}"#.to_vec(),
        )
        .await,
        201,
    );

    // 65,536 bytes is the largest body taken.
    let padded = |len: usize| {
        let head = r#"{"content":"padded","pad":""#;
        let tail = r#""}"#;
        let pad = "p".repeat(len - head.len() - tail.len());
        format!("{head}{pad}{tail}").into_bytes()
    };
    assert_eq!(padded(65536).len(), 65536);
    let m = data(send_raw(JSON, padded(65536)).await, 201);
    assert_eq!(m["content"], json!("padded"));
    error(
        send_raw(JSON, padded(65537)).await,
        413,
        "payload_too_large",
    );
    error(
        send_raw(JSON, padded(200_000)).await,
        413,
        "payload_too_large",
    );
    // 415 before 413, 413 before 400.
    error(
        send_raw(TEXT, padded(65537)).await,
        415,
        "unsupported_media_type",
    );
    let mut broken = padded(65537);
    broken.truncate(65537 - 2);
    broken.extend_from_slice(b"xx");
    error(send_raw(JSON, broken).await, 413, "payload_too_large");
    // Permission before the body.
    let r = raw(
        Method::POST,
        &url,
        Some(&customer("cus_ben", &[])),
        &json_ct,
        Some(b"{oops".to_vec()),
    )
    .await;
    error((r.status, r.body), 403, "forbidden");

    assert_eq!(message_total(app, &conv).await, 3);
}

#[tokio::test]
async fn sending_needs_access() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;
    let body = json!({ "content": "hi" });
    error(
        send_body(app, &customer("cus_ben", &["bk_2"]), &conv, &body).await,
        403,
        "forbidden",
    );
    error(
        send_body(app, &service(), &conv, &body).await,
        403,
        "forbidden",
    );
    error(
        send_body(app, &ann(), UNKNOWN_ULID, &body).await,
        404,
        "not_found",
    );
    error(
        send_body(app, &ann(), "not-a-ulid", &body).await,
        400,
        "validation_failed",
    );
    let r = raw(
        Method::POST,
        &messages_url(app, &conv),
        None,
        &[("content-type", "application/json")],
        Some(body.to_string().into_bytes()),
    )
    .await;
    error((r.status, r.body), 401, "unauthorized");
    error(
        get(&messages_url(app, &conv), &customer("cus_ben", &[])).await,
        403,
        "forbidden",
    );
    error(
        get(&messages_url(app, &conv), &service()).await,
        403,
        "forbidden",
    );
    error(
        get(&messages_url(app, UNKNOWN_ULID), &admin("adm_1")).await,
        404,
        "not_found",
    );
    error(
        put_empty(&read_url(app, &conv), &customer("cus_ben", &[])).await,
        403,
        "forbidden",
    );
    error(
        put_empty(&read_url(app, &conv), &service()).await,
        403,
        "forbidden",
    );
    error(
        put_empty(&read_url(app, UNKNOWN_ULID), &admin("adm_1")).await,
        404,
        "not_found",
    );
    assert_eq!(message_total(app, &conv).await, 0);
}

// ---------------------------------------------------------------------------------------------
// Idempotency
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_retried_client_message_id_returns_the_original() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;
    let other = ann_conversation(app, "bk_2").await;

    let first = data(
        send_body(
            app,
            &ann(),
            &conv,
            &json!({ "content": "hello", "clientMessageId": "c-1" }),
        )
        .await,
        201,
    );
    // Whatever the retry's body, even an invalid one.
    for retry in [
        json!({ "content": "hello", "clientMessageId": "c-1" }),
        json!({ "content": "different", "clientMessageId": "c-1" }),
        json!({ "content": "   ", "clientMessageId": "c-1" }),
        json!({ "content": "x", "messageType": "bogus", "clientMessageId": "c-1" }),
    ] {
        let again = data(send_body(app, &ann(), &conv, &retry).await, 200);
        assert_eq!(again["id"], first["id"], "retry {retry}");
        assert_eq!(again["content"], json!("hello"));
        assert_eq!(again["seq"], first["seq"]);
    }
    assert_eq!(message_total(app, &conv).await, 1);

    // Same key, other sender or other conversation: a new message.
    let by_admin = data(
        send_body(
            app,
            &admin("adm_bo"),
            &conv,
            &json!({ "content": "hi", "clientMessageId": "c-1" }),
        )
        .await,
        201,
    );
    assert_ne!(by_admin["id"], first["id"]);
    let elsewhere = data(
        send_body(
            app,
            &ann(),
            &other,
            &json!({ "content": "hi", "clientMessageId": "c-1" }),
        )
        .await,
        201,
    );
    assert_ne!(elsewhere["id"], first["id"]);
    // A new key: a new message.
    data(
        send_body(
            app,
            &ann(),
            &conv,
            &json!({ "content": "hello", "clientMessageId": "c-2" }),
        )
        .await,
        201,
    );
    assert_eq!(message_total(app, &conv).await, 3);
    assert_eq!(message_total(app, &other).await, 1);
}

#[tokio::test]
async fn a_retried_idempotency_key_header_returns_the_original() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;
    let url = messages_url(app, &conv);
    let t = ann();
    let post_with_key = |key: &'static str, content: &'static str| {
        let (url, t) = (url.clone(), t.clone());
        async move {
            let r = raw(
                Method::POST,
                &url,
                Some(&t),
                &[
                    ("content-type", "application/json"),
                    ("idempotency-key", key),
                ],
                Some(json!({ "content": content }).to_string().into_bytes()),
            )
            .await;
            (r.status, r.body)
        }
    };
    let first = data(post_with_key("k-1", "hello").await, 201);
    let again = data(post_with_key("k-1", "changed").await, 200);
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["content"], json!("hello"));
    let again = data(post_with_key("k-1", "").await, 200);
    assert_eq!(again["id"], first["id"]);
    // The header and the field name one key.
    let via_field = data(
        send_body(
            app,
            &t,
            &conv,
            &json!({ "content": "other", "clientMessageId": "k-1" }),
        )
        .await,
        200,
    );
    assert_eq!(via_field["id"], first["id"]);
    data(post_with_key("k-2", "second").await, 201);
    assert_eq!(message_total(app, &conv).await, 2);

    // A malformed header is refused even when the body carries its own key.
    let too_long = "k".repeat(129);
    for body in [
        json!({ "content": "third" }),
        json!({ "content": "third", "clientMessageId": "k-3" }),
    ] {
        let r = raw(
            Method::POST,
            &url,
            Some(&t),
            &[
                ("content-type", "application/json"),
                ("idempotency-key", &too_long),
            ],
            Some(body.to_string().into_bytes()),
        )
        .await;
        assert_eq!(
            error((r.status, r.body), 400, "validation_failed"),
            "Idempotency-Key must be 1-128 characters without control characters",
            "{body}"
        );
    }
    assert_eq!(message_total(app, &conv).await, 2);
}

#[tokio::test]
async fn concurrent_retries_of_one_key_write_one_message() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;
    let body = json!({ "content": "once", "clientMessageId": "race-1" });
    let t = ann();
    let results =
        futures::future::join_all((0..10).map(|_| send_body(app, &t, &conv, &body))).await;
    let created_count = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    for (s, b) in &results {
        assert!(
            *s == StatusCode::CREATED || *s == StatusCode::OK,
            "{s}: {b}"
        );
    }
    assert_eq!(created_count, 1);
    let ids: BTreeSet<String> = results.iter().map(|(_, b)| id_of(&b["data"])).collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(message_total(app, &conv).await, 1);
}

// ---------------------------------------------------------------------------------------------
// Route 3: listing
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn messages_page_newest_first_each_page_in_chronological_order() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;
    let mut sent = Vec::new();
    for i in 1..=7 {
        sent.push(id_of(&send(app, &ann(), &conv, &format!("m{i}")).await));
    }
    let t = ann();

    let all = list_messages(app, &t, &conv, "").await;
    assert_eq!(
        contents(&all["messages"]),
        ["m1", "m2", "m3", "m4", "m5", "m6", "m7"]
    );
    assert_eq!(ids(&all["messages"]), sent);
    assert_eq!(
        all["pagination"],
        json!({ "page": 1, "limit": 50, "total": 7, "pages": 1, "hasMore": false })
    );
    let s = seqs(&all["messages"]);
    assert!(s.windows(2).all(|w| w[0] < w[1]), "{s:?}");
    for m in all["messages"].as_array().unwrap() {
        assert_message_shape(m);
    }

    let p1 = list_messages(app, &t, &conv, "limit=3").await;
    assert_eq!(contents(&p1["messages"]), ["m5", "m6", "m7"]);
    assert_eq!(
        p1["pagination"],
        json!({ "page": 1, "limit": 3, "total": 7, "pages": 3, "hasMore": true })
    );
    let p2 = list_messages(app, &t, &conv, "limit=3&page=2").await;
    assert_eq!(contents(&p2["messages"]), ["m2", "m3", "m4"]);
    assert_eq!(
        p2["pagination"],
        json!({ "page": 2, "limit": 3, "total": 7, "pages": 3, "hasMore": true })
    );
    let p3 = list_messages(app, &t, &conv, "page=3&limit=3").await;
    assert_eq!(contents(&p3["messages"]), ["m1"]);
    assert_eq!(
        p3["pagination"],
        json!({ "page": 3, "limit": 3, "total": 7, "pages": 3, "hasMore": false })
    );

    // The cursor: the `limit` messages just older than `before`.
    let c = list_messages(app, &t, &conv, &format!("before={}&limit=3", sent[4])).await;
    assert_eq!(contents(&c["messages"]), ["m2", "m3", "m4"]);
    assert_eq!(c["pagination"]["hasMore"], json!(true));
    assert_eq!(c["pagination"]["limit"], json!(3));
    let c = list_messages(app, &t, &conv, &format!("before={}&limit=3", sent[1])).await;
    assert_eq!(contents(&c["messages"]), ["m1"]);
    assert_eq!(c["pagination"]["hasMore"], json!(false));
    let c = list_messages(app, &t, &conv, &format!("before={}&limit=3", sent[3])).await;
    assert_eq!(contents(&c["messages"]), ["m1", "m2", "m3"]);
    assert_eq!(c["pagination"]["hasMore"], json!(false));
    let c = list_messages(app, &t, &conv, &format!("before={}", sent[0])).await;
    assert_eq!(c["messages"], json!([]));
    assert_eq!(c["pagination"]["hasMore"], json!(false));

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("page=0", "page"),
        ("page=x", "page"),
        ("before=not-a-ulid", "before"),
    ] {
        let r = get(&format!("{}?{query}", messages_url(app, &conv)), &t).await;
        assert_eq!(r.0, StatusCode::BAD_REQUEST, "{query}: {}", r.1);
        invalid(r, field);
    }
    let p = list_messages(app, &t, &conv, "limit=100").await;
    assert_eq!(p["pagination"]["pages"], json!(1));
}

#[tokio::test]
async fn fetching_messages_marks_them_read_once() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;
    for i in 1..=3 {
        send(app, &ann(), &conv, &format!("m{i}")).await;
    }
    let bo = admin("adm_bo");

    // An admin who has not joined has read nothing.
    let c = conversation(app, &bo, &conv).await;
    assert_eq!(c["unreadCount"], json!(3));
    assert_eq!(c["unreadCounts"], json!({ "cus_ann": 0 }));
    assert_eq!(
        conversation(app, &ann(), &conv).await["unreadCount"],
        json!(0)
    );

    let page = list_messages(app, &bo, &conv, "").await;
    assert_eq!(contents(&page["messages"]), ["m1", "m2", "m3"]);
    let c = conversation(app, &bo, &conv).await;
    assert_eq!(c["unreadCount"], json!(0));
    assert_eq!(c["unreadCounts"], json!({ "cus_ann": 0, "adm_bo": 0 }));

    let seen = list_messages(app, &ann(), &conv, "").await;
    let mut read_at = Vec::new();
    for m in seen["messages"].as_array().unwrap() {
        let by = m["readBy"].as_array().unwrap();
        assert_eq!(by.len(), 1, "{m}");
        assert_eq!(by[0]["user"], json!("adm_bo"));
        assert_timestamp(&by[0]["readAt"]);
        read_at.push(by[0]["readAt"].clone());
    }

    // Fetching again writes no new read.
    list_messages(app, &bo, &conv, "").await;
    assert_eq!(conversation(app, &bo, &conv).await["unreadCount"], json!(0));
    let seen = list_messages(app, &ann(), &conv, "").await;
    let again: Vec<Value> = seen["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["readBy"][0]["readAt"].clone())
        .collect();
    assert_eq!(again, read_at);

    // Another admin still has read nothing.
    let c = conversation(app, &admin("adm_cy"), &conv).await;
    assert_eq!(c["unreadCount"], json!(3));
}

#[tokio::test]
async fn reads_write_one_event_only_when_something_was_unread() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;
    let bo = admin("adm_bo");
    list_messages(app, &bo, &conv, "").await; // nothing to read yet
    for i in 1..=3 {
        send(app, &ann(), &conv, &format!("m{i}")).await;
    }
    list_messages(app, &bo, &conv, "").await;
    list_messages(app, &bo, &conv, "").await;
    data(put_empty(&read_url(app, &conv), &bo).await, 200);
    assert_eq!(reads_by(app, &conv, "adm_bo").await, 1);
    // The customer has nothing of others unread: fetching writes no read.
    let before = reads_by(app, &conv, "cus_ann").await;
    list_messages(app, &ann(), &conv, "").await;
    assert_eq!(reads_by(app, &conv, "cus_ann").await, before);
    assert_eq!(reads_by(app, &conv, "adm_bo").await, 1);
    // Something new to read: one more event.
    send(app, &ann(), &conv, "m4").await;
    let r = data(put_empty(&read_url(app, &conv), &bo).await, 200);
    assert_eq!(r["marked"], json!(1));
    assert_eq!(reads_by(app, &conv, "adm_bo").await, 2);
    data(put_empty(&read_url(app, &conv), &bo).await, 200);
    list_messages(app, &bo, &conv, "").await;
    assert_eq!(reads_by(app, &conv, "adm_bo").await, 2);
}

// ---------------------------------------------------------------------------------------------
// Route 5 and unread counts
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn put_read_marks_everything_and_says_how_many() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;
    let bo = admin("adm_bo");
    for i in 1..=3 {
        send(app, &ann(), &conv, &format!("m{i}")).await;
    }

    let r = data(put_empty(&read_url(app, &conv), &bo).await, 200);
    assert_eq!(r["conversationId"], json!(conv));
    assert_timestamp(&r["readAt"]);
    assert_eq!(r["unreadCount"], json!(0));
    assert_eq!(r["marked"], json!(3));
    let c = conversation(app, &bo, &conv).await;
    assert_eq!(c["unreadCounts"], json!({ "cus_ann": 0, "adm_bo": 0 }));
    assert_eq!(c["unreadCount"], json!(0));

    // Nothing unread: 200, marked 0 (that it writes no event is checked with route 14 below).
    let r = data(put_empty(&read_url(app, &conv), &bo).await, 200);
    assert_eq!(r["marked"], json!(0));
    assert_eq!(r["unreadCount"], json!(0));

    send(app, &ann(), &conv, "m4").await;
    send(app, &ann(), &conv, "m5").await;
    assert_eq!(conversation(app, &bo, &conv).await["unreadCount"], json!(2));
    let r = data(put_empty(&read_url(app, &conv), &bo).await, 200);
    assert_eq!(r["marked"], json!(2));

    // The customer has nothing of others to read until the admin writes.
    let r = data(put_empty(&read_url(app, &conv), &ann()).await, 200);
    assert_eq!(r["marked"], json!(0));
    send(app, &bo, &conv, "a1").await;
    assert_eq!(
        conversation(app, &ann(), &conv).await["unreadCount"],
        json!(1)
    );
    let r = data(put_empty(&read_url(app, &conv), &ann()).await, 200);
    assert_eq!(r["marked"], json!(1));
    assert_eq!(
        conversation(app, &ann(), &conv).await["unreadCount"],
        json!(0)
    );

    // An admin who reads joins, having read nothing before: every message of others.
    let cy = admin("adm_cy");
    let r = data(put_empty(&read_url(app, &conv), &cy).await, 200);
    assert_eq!(r["marked"], json!(6));
    let c = conversation(app, &cy, &conv).await;
    assert_eq!(
        c["unreadCounts"],
        json!({ "cus_ann": 0, "adm_bo": 0, "adm_cy": 0 })
    );
}

#[tokio::test]
async fn sending_clears_the_senders_unread_and_admins_who_send_join() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;
    let bo = admin("adm_bo");
    send(app, &ann(), &conv, "m1").await;

    let a1 = send(app, &bo, &conv, "a1").await;
    let a2 = send(app, &bo, &conv, "a2").await;
    let c = conversation(app, &ann(), &conv).await;
    assert_eq!(c["unreadCount"], json!(2));
    assert_eq!(c["unreadCounts"], json!({ "cus_ann": 2, "adm_bo": 0 }));
    let ids_of_participants: Vec<&Value> = c["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["userId"])
        .collect();
    assert_eq!(ids_of_participants, [&json!("cus_ann"), &json!("adm_bo")]);

    send(app, &ann(), &conv, "m2").await;
    let c = conversation(app, &ann(), &conv).await;
    assert_eq!(c["unreadCount"], json!(0));
    assert_eq!(c["unreadCounts"], json!({ "cus_ann": 0, "adm_bo": 1 }));
    assert_eq!(conversation(app, &bo, &conv).await["unreadCount"], json!(1));

    // Ann's read point now covers a1 and a2.
    let page = list_messages(app, &ann(), &conv, "").await;
    for m in page["messages"].as_array().unwrap() {
        if m["id"] == a1["id"] || m["id"] == a2["id"] {
            let by: Vec<&Value> = m["readBy"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| &r["user"])
                .collect();
            assert_eq!(by, [&json!("cus_ann")], "{m}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Joining: every admin's join is a `participant_joined` in the log, before what relies on it
// ---------------------------------------------------------------------------------------------

/// The types of the conversation's events in the log, oldest first.
async fn types(app: &App, conv: &str) -> Vec<String> {
    events(app, conv)
        .await
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

/// The `participant_joined` events of the conversation.
async fn joins(app: &App, conv: &str) -> Vec<Value> {
    events(app, conv)
        .await
        .into_iter()
        .filter(|e| e["type"] == json!("participant_joined"))
        .collect()
}

#[tokio::test]
async fn an_admin_who_replies_first_joins_by_an_event_before_the_send() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;
    let bo = token("adm_bo", "admin", Some("Bo"), &[]);
    send(app, &ann(), &conv, "m1").await;

    let a1 = send(app, &bo, &conv, "a1").await;
    assert_eq!(
        types(app, &conv).await,
        [
            "conversation_created",
            "message_sent",
            "participant_joined",
            "message_sent"
        ]
    );
    let log = events(app, &conv).await;
    let joined = &log[2];
    assert_eq!(
        joined["data"],
        json!({ "userId": "adm_bo", "role": "admin", "name": "Bo" })
    );
    assert_eq!(joined["actor"]["id"], json!("adm_bo"));
    assert_eq!(joined["conversationId"], json!(conv));
    assert_eq!(log[3]["data"]["messageId"], a1["id"]);
    let c = conversation(app, &ann(), &conv).await;
    let bo_in = &c["participants"][1];
    assert_eq!(bo_in["userId"], json!("adm_bo"));
    assert_eq!(bo_in["name"], json!("Bo"));
    assert_eq!(bo_in["joinedAt"], joined["at"]);
    assert_eq!(c["unreadCounts"], json!({ "cus_ann": 1, "adm_bo": 0 }));

    // A participant's second send adds no second join, and neither do a read and a keyed retry.
    send(app, &bo, &conv, "a2").await;
    let keyed = json!({ "content": "a3", "clientMessageId": "k-1" });
    data(send_body(app, &bo, &conv, &keyed).await, 201);
    data(send_body(app, &bo, &conv, &keyed).await, 200);
    data(put_empty(&read_url(app, &conv), &bo).await, 200);
    list_messages(app, &bo, &conv, "").await;
    assert_eq!(
        types(app, &conv).await,
        [
            "conversation_created",
            "message_sent",
            "participant_joined",
            "message_sent",
            "message_sent",
            "message_sent"
        ]
    );
    // The customer, a participant from the creation, never joins by an event.
    assert_eq!(joins(app, &conv).await.len(), 1);
}

#[tokio::test]
async fn an_admin_who_reads_first_joins_by_an_event_before_the_read() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;
    send(app, &ann(), &conv, "m1").await;
    let m2 = send(app, &ann(), &conv, "m2").await;

    // Route 3 with something unread: the join, then the read.
    list_messages(app, &admin("adm_bo"), &conv, "").await;
    // Route 5 with something unread, by another admin: the same.
    let r = data(
        put_empty(&read_url(app, &conv), &admin("adm_cy")).await,
        200,
    );
    assert_eq!(r["marked"], json!(2));
    let log = events(app, &conv).await;
    let typed: Vec<(&Value, &Value)> = log
        .iter()
        .map(|e| (&e["type"], &e["actor"]["id"]))
        .collect();
    assert_eq!(
        typed,
        [
            (&json!("conversation_created"), &json!("cus_ann")),
            (&json!("message_sent"), &json!("cus_ann")),
            (&json!("message_sent"), &json!("cus_ann")),
            (&json!("participant_joined"), &json!("adm_bo")),
            (&json!("messages_read"), &json!("adm_bo")),
            (&json!("participant_joined"), &json!("adm_cy")),
            (&json!("messages_read"), &json!("adm_cy")),
        ]
    );
    for read in [&log[4], &log[6]] {
        assert_eq!(read["data"], json!({ "upToSeq": m2["seq"] }));
    }

    // Reading again, by either route, writes nothing: they are participants with nothing unread.
    list_messages(app, &admin("adm_bo"), &conv, "").await;
    data(
        put_empty(&read_url(app, &conv), &admin("adm_cy")).await,
        200,
    );
    assert_eq!(events(app, &conv).await.len(), 7);
}

#[tokio::test]
async fn an_admin_who_reads_with_nothing_unread_joins_by_the_event_alone() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;
    list_messages(app, &admin("adm_bo"), &conv, "").await;
    let r = data(
        put_empty(&read_url(app, &conv), &admin("adm_cy")).await,
        200,
    );
    assert_eq!(r["marked"], json!(0));
    assert_eq!(
        types(app, &conv).await,
        [
            "conversation_created",
            "participant_joined",
            "participant_joined"
        ]
    );
    let who: Vec<Value> = joins(app, &conv)
        .await
        .iter()
        .map(|e| e["data"]["userId"].clone())
        .collect();
    assert_eq!(who, [json!("adm_bo"), json!("adm_cy")]);
    assert_eq!(
        conversation(app, &ann(), &conv).await["unreadCounts"],
        json!({ "cus_ann": 0, "adm_bo": 0, "adm_cy": 0 })
    );
}

#[tokio::test]
async fn concurrent_first_sends_by_one_admin_write_one_join() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;
    let bo = admin("adm_bo");
    let bodies: Vec<Value> = (0..5)
        .map(|i| json!({ "content": format!("a{i}") }))
        .collect();
    let results =
        futures::future::join_all(bodies.iter().map(|b| send_body(app, &bo, &conv, b))).await;
    for r in results {
        data(r, 201);
    }
    let mut t = types(app, &conv).await;
    assert_eq!(t.remove(0), "conversation_created");
    assert_eq!(t.remove(0), "participant_joined");
    assert_eq!(t, vec!["message_sent"; 5]);
}

#[tokio::test]
async fn a_refused_send_writes_no_join() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;
    let bo = admin("adm_bo");
    // Refused before the join: a bad body, a bad replyTo, a closed conversation.
    invalid(
        send_body(app, &bo, &conv, &json!({ "content": " " })).await,
        "content",
    );
    invalid(
        send_body(
            app,
            &bo,
            &conv,
            &json!({ "content": "x", "replyTo": UNKNOWN_ULID }),
        )
        .await,
        "replyTo",
    );
    common::log::change_status(app, &conv, "closed").await;
    error(
        send_body(app, &bo, &conv, &json!({ "content": "x" })).await,
        409,
        "conflict",
    );
    assert_eq!(
        types(app, &conv).await,
        ["conversation_created", "conversation_status_changed"]
    );
    let c = conversation(app, &ann(), &conv).await;
    assert_eq!(c["participants"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn closed_conversations_refuse_sends_and_archived_ones_wake_up() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;
    let bo = admin("adm_bo");
    let keyed = data(
        send_body(
            app,
            &ann(),
            &conv,
            &json!({ "content": "k", "clientMessageId": "k-1" }),
        )
        .await,
        201,
    );

    common::log::change_status(app, &conv, "closed").await;
    let r = send_body(app, &ann(), &conv, &json!({ "content": "anyone?" })).await;
    error(r, 409, "conflict");
    let r = send_body(app, &bo, &conv, &json!({ "content": "admin too" })).await;
    error(r, 409, "conflict");
    // An idempotent retry answers before the state check.
    let again = data(
        send_body(
            app,
            &ann(),
            &conv,
            &json!({ "content": "k", "clientMessageId": "k-1" }),
        )
        .await,
        200,
    );
    assert_eq!(again["id"], keyed["id"]);
    assert_eq!(message_total(app, &conv).await, 1);

    common::log::change_status(app, &conv, "archived").await;
    send(app, &ann(), &conv, "back again").await;
    let c = conversation(app, &ann(), &conv).await;
    assert_eq!(c["status"], json!("active"));
    assert_eq!(message_total(app, &conv).await, 2);
}

#[tokio::test]
async fn sends_are_rate_limited_per_user() {
    let env = TestEnv::start_with(AppOptions {
        send_rate_limit: Some(3),
        ..AppOptions::default()
    })
    .await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;
    let first = data(
        send_body(
            app,
            &ann(),
            &conv,
            &json!({ "content": "1", "clientMessageId": "r-1" }),
        )
        .await,
        201,
    );
    send(app, &ann(), &conv, "2").await;
    send(app, &ann(), &conv, "3").await;
    let r = raw(
        Method::POST,
        &messages_url(app, &conv),
        Some(&ann()),
        &[("content-type", "application/json")],
        Some(br#"{"content":"4"}"#.to_vec()),
    )
    .await;
    let retry_after = r
        .headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("429 without Retry-After: {:?}", r.headers))
        .to_str()
        .unwrap()
        .to_string();
    error((r.status, r.body), 429, "rate_limited");
    let secs: u64 = retry_after.parse().expect("Retry-After in seconds");
    assert!((1..=10).contains(&secs), "Retry-After {secs}");
    // A retry is answered before the rate limit; another user has their own budget.
    let again = data(
        send_body(
            app,
            &ann(),
            &conv,
            &json!({ "content": "1", "clientMessageId": "r-1" }),
        )
        .await,
        200,
    );
    assert_eq!(again["id"], first["id"]);
    send(app, &admin("adm_bo"), &conv, "admin").await;
    assert_eq!(message_total(app, &conv).await, 4);
}

// ---------------------------------------------------------------------------------------------
// When the event log is down
// ---------------------------------------------------------------------------------------------

/// Polls `GET /ready` until it answers `want`, failing after `secs` seconds.
async fn wait_for_ready_status(app: &App, want: u16, secs: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let r = raw(Method::GET, &app.url("/ready"), None, &[], None).await;
        if r.status.as_u16() == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "/ready did not answer {want} within {secs} s (last: {} {})",
            r.status,
            r.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn with_the_log_down_pages_are_returned_unmarked_and_writes_are_503() {
    let mut env = TestEnv::start().await;
    let conv = ann_conversation(&env.app, "bk_1").await;
    for i in 1..=3 {
        send(&env.app, &ann(), &conv, &format!("m{i}")).await;
    }
    let bo = admin("adm_bo");

    env.nats.stop();
    let app = &env.app;
    // Route 3 still answers from the views; the read it would write is lost, not faked.
    let page = list_messages(app, &bo, &conv, "").await;
    assert_eq!(contents(&page["messages"]), ["m1", "m2", "m3"]);
    // Writes are refused with 503 and have no effect.
    let r = send_body(app, &ann(), &conv, &json!({ "content": "lost" })).await;
    error(r, 503, "unavailable");
    error(
        put_empty(&read_url(app, &conv), &bo).await,
        503,
        "unavailable",
    );
    wait_for_ready_status(app, 503, 15).await;
    // Reads of the views keep working.
    assert_eq!(conversation(app, &bo, &conv).await["unreadCount"], json!(3));

    env.nats.start_again();
    env.app.wait_ready().await;
    let app = &env.app;
    // A new write goes through, and nothing refused earlier shows up behind it.
    send(app, &ann(), &conv, "m4").await;
    let page = list_messages(app, &ann(), &conv, "").await;
    assert_eq!(contents(&page["messages"]), ["m1", "m2", "m3", "m4"]);
    assert_eq!(conversation(app, &bo, &conv).await["unreadCount"], json!(4));
}

/// Found by the API fuzzer: JSON Schema's `integer` takes `12.0`, which the server refused; a
/// `size` past `int64` was taken; URL and MIME type lengths counted bytes, not characters.
#[tokio::test]
async fn attachments_follow_their_schema() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app, "bk_1").await;
    let with = |f: &dyn Fn(&mut Value)| {
        let mut a = attachment(0);
        f(&mut a);
        json!({ "content": "x", "attachments": [a] })
    };
    let whole = with(&|a| a["size"] = json!(12.0));
    let m = data(send_body(app, &ann(), &conv, &whole).await, 201);
    assert_eq!(m["attachments"][0]["size"], json!(12));
    let url = format!("https://example.com/{}", "é".repeat(2048 - 20));
    let long = with(&|a| a["url"] = json!(url));
    let m = data(send_body(app, &ann(), &conv, &long).await, 201);
    assert_eq!(m["attachments"][0]["url"], json!(url));
    let biggest = with(&|a| a["size"] = json!(9_223_372_036_854_775_807_u64));
    data(send_body(app, &ann(), &conv, &biggest).await, 201);
    for (body, field) in [
        (
            with(&|a| a["size"] = json!(9_223_372_036_854_775_808_u64)),
            "size",
        ),
        (with(&|a| a["size"] = json!(1.5)), "size"),
        (with(&|a| a["url"] = json!(format!("{url}é"))), "url"),
    ] {
        invalid(send_body(app, &ann(), &conv, &body).await, field);
    }
    assert_eq!(message_total(app, &conv).await, 3);
}
