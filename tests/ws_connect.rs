//! `GET /ws`: authenticating (header, query, first frame), refusing bad and service tokens, token
//! expiry while connected, and the frame rules: one reply per `ref`, malformed frames answered with
//! `validation_failed`, messages over 64 KiB closed with 1009 (WEBSOCKET.md "Connecting", "Frames").

mod common;
#[path = "common/tokens.rs"]
mod tokens;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::ws::{connect, open, Auth, Client};
use common::*;
use futures::SinkExt;
use serde_json::{json, Value};
use tokens::{bad_tokens, token_exp};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

const KIB_64: usize = 64 * 1024;

/// Opens a socket presenting `token` the given way (`"header"`, `"query"`, `"frame"`) without
/// waiting for `authenticated`.
async fn present(app: &App, how: &str, token: &str) -> Client {
    match how {
        "header" => open(&app.base(), &Auth::Header(token)).await,
        "query" => open(&app.base(), &Auth::Query(token)).await,
        "frame" => {
            let mut c = open(&app.base(), &Auth::None).await;
            c.send(json!({ "event": "authenticate", "data": { "token": token } }))
                .await;
            c
        }
        other => panic!("unknown way {other}"),
    }
}

const WAYS: [&str; 3] = ["header", "query", "frame"];

/// Sends a `ping` with `reference` and asserts its ack carries a `serverTime`.
async fn assert_alive(c: &mut Client, reference: &str) {
    let reply = c.request("ping", json!({}), reference).await;
    assert_eq!(reply["event"], json!("ack"), "{reply}");
    assert_timestamp(&reply["data"]["serverTime"]);
}

#[track_caller]
fn assert_error(reply: &Value, reference: Option<&str>, code: &str) {
    assert_eq!(reply["event"], json!("error"), "{reply}");
    assert_eq!(reply["error"]["code"], json!(code), "{reply}");
    assert!(
        reply["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "error without message: {reply}"
    );
    match reference {
        Some(r) => assert_eq!(reply["ref"], json!(r), "{reply}"),
        None => assert!(reply.get("ref").is_none(), "unexpected ref: {reply}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Connecting
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn each_way_of_authenticating_says_who_you_are() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let mut connection_ids = Vec::new();
    for (i, how) in WAYS.iter().enumerate() {
        for (sub, role) in [("cus_ann", "customer"), ("adm_bo", "admin")] {
            let mut c = present(app, how, &token(sub, role, None, &[])).await;
            let hello = c.next_event("authenticated").await;
            assert_eq!(hello["data"]["userId"], json!(sub), "{how}: {hello}");
            assert_eq!(hello["data"]["role"], json!(role), "{how}: {hello}");
            let id = hello["data"]["connectionId"]
                .as_str()
                .unwrap_or_else(|| panic!("{how}: connectionId: {hello}"))
                .to_string();
            assert!(!id.is_empty());
            connection_ids.push(id);
            assert!(hello.get("seq").is_none(), "not a log event: {hello}");
            assert_alive(&mut c, &format!("p-{i}")).await;
        }
    }
    let distinct: std::collections::BTreeSet<_> = connection_ids.iter().collect();
    assert_eq!(distinct.len(), connection_ids.len(), "{connection_ids:?}");
}

#[tokio::test]
async fn an_authenticate_frame_with_a_ref_gets_one_ack() {
    let env = TestEnv::start().await;
    let mut c = open(&env.app.base(), &Auth::None).await;
    c.send(json!({ "event": "authenticate", "data": { "token": customer("cus_ann", &[]) }, "ref": "auth-1" }))
        .await;
    c.next_event("authenticated").await;
    assert_alive(&mut c, "after").await;
    let replies: Vec<&Value> = c.seen.iter().filter(|f| f["ref"] == "auth-1").collect();
    assert_eq!(replies.len(), 1, "{:#?}", c.seen);
    assert_eq!(replies[0]["event"], json!("ack"), "{}", replies[0]);
}

#[tokio::test]
async fn bad_tokens_are_closed_with_4401() {
    let env = TestEnv::start().await;
    let app = &env.app;
    for how in WAYS {
        for (what, bad) in bad_tokens() {
            let mut c = present(app, how, &bad).await;
            assert_eq!(c.close_code().await, Some(4401), "{how}, {what}");
            assert!(
                !c.seen.iter().any(|f| f["event"] == "authenticated"),
                "{how}, {what}: {:#?}",
                c.seen
            );
        }
    }
}

#[tokio::test]
async fn service_tokens_are_closed_with_4403() {
    let env = TestEnv::start().await;
    for how in WAYS {
        let mut c = present(&env.app, how, &service()).await;
        assert_eq!(c.close_code().await, Some(4403), "{how}");
        assert!(
            !c.seen.iter().any(|f| f["event"] == "authenticated"),
            "{how}: {:#?}",
            c.seen
        );
    }
}

#[tokio::test]
async fn before_authenticating_other_frames_get_unauthorized() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = id_of(&created(
        common::open(app, &customer("cus_ann", &["bk_1"]), "bk_1").await,
    ));
    let mut c = open(&app.base(), &Auth::None).await;

    let reply = c.request("ping", json!({}), "p-1").await;
    assert_error(&reply, Some("p-1"), "unauthorized");
    let reply = c
        .request(
            "join_conversation",
            json!({ "conversationId": conv }),
            "j-1",
        )
        .await;
    assert_error(&reply, Some("j-1"), "unauthorized");
    let reply = c
        .request(
            "send_message",
            json!({ "conversationId": conv, "content": "hi" }),
            "s-1",
        )
        .await;
    assert_error(&reply, Some("s-1"), "unauthorized");
    // Without a ref the error carries none.
    c.send(json!({ "event": "mark_read", "data": { "conversationId": conv } }))
        .await;
    let reply = c.next_event("error").await;
    assert_error(&reply, None, "unauthorized");

    // The socket is still open and may authenticate now; nothing was written meanwhile.
    c.send(json!({ "event": "authenticate", "data": { "token": customer("cus_ann", &[]) } }))
        .await;
    let hello = c.next_event("authenticated").await;
    assert_eq!(hello["data"]["userId"], json!("cus_ann"));
    assert_alive(&mut c, "p-2").await;
    let page = list_messages(app, &customer("cus_ann", &[]), &conv, "").await;
    assert_eq!(page["messages"], json!([]));
}

#[tokio::test]
async fn before_authenticating_even_malformed_frames_of_known_events_are_unauthorized() {
    let env = TestEnv::start().await;
    let mut c = open(&env.app.base(), &Auth::None).await;
    // "Until authenticated, any frame other than `authenticate` gets an error with code
    // `unauthorized`": a client must not learn how its frame would be judged before it is known.
    let reply = c.request("send_message", json!({}), "s-1").await;
    assert_error(&reply, Some("s-1"), "unauthorized");
    let reply = c.request("join_conversation", json!({}), "j-1").await;
    assert_error(&reply, Some("j-1"), "unauthorized");
}

#[tokio::test]
async fn a_socket_that_never_authenticates_is_closed_with_4401_after_10_s() {
    let env = TestEnv::start().await;
    let started = Instant::now();
    let mut c = open(&env.app.base(), &Auth::None).await;
    // Frames other than authenticate do not extend the wait.
    let reply = c.request("ping", json!({}), "p-1").await;
    assert_error(&reply, Some("p-1"), "unauthorized");
    assert_eq!(c.close_code().await, Some(4401));
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(9_500) && waited <= Duration::from_secs(12),
        "closed after {waited:?}"
    );
}

#[tokio::test]
async fn a_token_that_expires_while_connected_closes_the_socket_with_4401() {
    let env = TestEnv::start().await;
    let app = &env.app;
    // exp 27 s ago: inside the 30 s leeway, so accepted; past it 3 s after minting (2–4 s given
    // whole-second `exp`). Closing before the leeway ends is as wrong as not closing.
    let runs = WAYS.map(|how| async move {
        let started = Instant::now();
        let mut c = present(app, how, &token_exp("cus_ann", "customer", -27)).await;
        let hello = c.next_event("authenticated").await;
        assert_eq!(hello["data"]["userId"], json!("cus_ann"), "{how}");
        assert_alive(&mut c, "p-1").await;
        assert_eq!(c.close_code().await, Some(4401), "{how}");
        let lived = started.elapsed();
        assert!(
            lived >= Duration::from_millis(1_500) && lived <= Duration::from_secs(6),
            "{how}: closed after {lived:?}"
        );
    });
    futures::future::join_all(runs).await;
}

// ---------------------------------------------------------------------------------------------
// Frames
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_frame_with_a_ref_gets_exactly_one_reply() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = id_of(&created(
        common::open(app, &customer("cus_ann", &["bk_1"]), "bk_1").await,
    ));
    let other = id_of(&created(
        common::open(app, &customer("cus_dan", &["bk_2"]), "bk_2").await,
    ));
    let mut c = connect(&app.base(), Auth::Header(&customer("cus_ann", &[]))).await;
    let frames: Vec<(&str, Value, &str)> = vec![
        ("r-ping", json!({ "event": "ping", "data": {} }), "ack"),
        (
            "r-join",
            json!({ "event": "join_conversation", "data": { "conversationId": conv } }),
            "ack",
        ),
        (
            "r-join-other",
            json!({ "event": "join_conversation", "data": { "conversationId": other } }),
            "error",
        ),
        (
            "r-send",
            json!({ "event": "send_message", "data": { "conversationId": conv, "content": "hi" } }),
            "ack",
        ),
        (
            "r-send-blank",
            json!({ "event": "send_message", "data": { "conversationId": conv, "content": " " } }),
            "error",
        ),
        (
            "r-typing",
            json!({ "event": "typing_start", "data": { "conversationId": conv } }),
            "ack",
        ),
        (
            "r-typing-stop",
            json!({ "event": "typing_stop", "data": { "conversationId": conv } }),
            "ack",
        ),
        (
            "r-read",
            json!({ "event": "mark_read", "data": { "conversationId": conv } }),
            "ack",
        ),
        (
            "r-leave",
            json!({ "event": "leave_conversation", "data": { "conversationId": conv } }),
            "ack",
        ),
        ("r-unknown", json!({ "event": "fly", "data": {} }), "error"),
        ("r-no-event", json!({ "data": {} }), "error"),
    ];
    for (reference, frame, _) in &frames {
        let mut frame = frame.clone();
        frame["ref"] = json!(reference);
        c.send(frame).await;
    }
    c.request("ping", json!({}), "barrier-1").await;
    c.request("ping", json!({}), "barrier-2").await;

    let mut replies: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for f in &c.seen {
        if let Some(r) = f["ref"].as_str() {
            replies.entry(r.to_string()).or_default().push(f);
        }
    }
    for (reference, _, kind) in &frames {
        let got = replies.get(*reference).cloned().unwrap_or_default();
        assert_eq!(got.len(), 1, "{reference}: {got:#?}");
        assert_eq!(got[0]["event"], json!(kind), "{reference}: {}", got[0]);
    }
    assert_eq!(replies.len(), frames.len() + 2, "{replies:#?}");
}

#[tokio::test]
async fn malformed_frames_get_validation_failed_and_the_socket_stays_open() {
    let env = TestEnv::start().await;
    let mut c = connect(&env.app.base(), Auth::Header(&customer("cus_ann", &[]))).await;

    let cases: Vec<(&str, Option<&str>)> = vec![
        ("this is not json", None),
        ("{\"event\":\"ping\"", None),
        ("[1,2,3]", None),
        (r#"{"data":{},"ref":"no-event"}"#, Some("no-event")),
        (r#"{"event":null,"ref":"null-event"}"#, Some("null-event")),
        (
            r#"{"event":"fly","data":{},"ref":"unknown"}"#,
            Some("unknown"),
        ),
        (r#"{"event":"fly"}"#, None),
        (
            r#"{"event":"join_conversation","data":{},"ref":"no-conv"}"#,
            Some("no-conv"),
        ),
    ];
    for (i, (text, reference)) in cases.iter().enumerate() {
        c.send_raw(text).await;
        let reply = c.next_event("error").await;
        assert_error(&reply, *reference, "validation_failed");
        assert_alive(&mut c, &format!("alive-{i}")).await;
    }
}

/// A `ping` frame with a `ref` and padding, exactly `len` bytes long.
fn ping_of_len(reference: &str, len: usize) -> String {
    let empty = json!({ "event": "ping", "ref": reference, "data": { "pad": "" } }).to_string();
    assert!(len >= empty.len());
    let frame = json!({ "event": "ping", "ref": reference, "data": { "pad": "x".repeat(len - empty.len()) } })
        .to_string();
    assert_eq!(frame.len(), len);
    frame
}

#[tokio::test]
async fn a_message_of_64_kib_is_served_and_one_byte_more_closes_with_1009() {
    let env = TestEnv::start().await;
    let mut c = connect(&env.app.base(), Auth::Header(&customer("cus_ann", &[]))).await;
    c.send_raw(&ping_of_len("exact", KIB_64)).await;
    let reply = c.next_matching("ack exact", |f| f["ref"] == "exact").await;
    assert_eq!(reply["event"], json!("ack"), "{reply}");

    c.send_raw(&ping_of_len("over", KIB_64 + 1)).await;
    assert_eq!(c.close_code().await, Some(1009));
    assert!(!c.seen.iter().any(|f| f["ref"] == "over"), "{:#?}", c.seen);
}

/// Sends `text` as a fragmented text message of `parts` frames.
async fn send_fragmented(c: &mut Client, text: &str, parts: usize) {
    let bytes = text.as_bytes();
    let size = bytes.len().div_ceil(parts);
    let chunks: Vec<&[u8]> = bytes.chunks(size).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let opcode = if i == 0 {
            OpCode::Data(Data::Text)
        } else {
            OpCode::Data(Data::Continue)
        };
        let last = i + 1 == chunks.len();
        c.ws.send(Message::Frame(Frame::message(chunk.to_vec(), opcode, last)))
            .await
            .expect("send fragment");
    }
}

#[tokio::test]
async fn fragments_count_together_toward_64_kib() {
    let env = TestEnv::start().await;
    let mut c = connect(&env.app.base(), Auth::Header(&customer("cus_ann", &[]))).await;
    // 60 KiB in three fragments: reassembled and served.
    send_fragmented(&mut c, &ping_of_len("small", 60 * 1024), 3).await;
    let reply = c.next_matching("ack small", |f| f["ref"] == "small").await;
    assert_eq!(reply["event"], json!("ack"), "{reply}");

    // 80 KiB in two fragments of 40 KiB, each under the limit alone: closed with 1009.
    send_fragmented(&mut c, &ping_of_len("big", 80 * 1024), 2).await;
    assert_eq!(c.close_code().await, Some(1009));
    assert!(!c.seen.iter().any(|f| f["ref"] == "big"), "{:#?}", c.seen);
}
