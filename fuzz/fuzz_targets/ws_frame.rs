//! The WebSocket frame parser: `concierge::ws::frame::parse`, which every text frame a client sends
//! goes through before anything else reads it (authenticated or not), and the replies built from
//! its result.
//!
//! The input is the frame's text (bytes read lossily as UTF-8: a WebSocket text frame is UTF-8).
//! Checked, besides never panicking:
//! - an accepted frame is a JSON object whose `event` names the parsed variant, whose fields are
//!   the ones the variant carries, and whose `ref` (if any) is a string or a number;
//! - a refused frame keeps the frame's `ref`, and its message stays short whatever the frame holds
//!   (the socket echoes it to the client);
//! - the `ack` or `error` reply carries the client's `ref` back unchanged: the same string, or a
//!   number that reads as the same `f64` as the one the client wrote (WEBSOCKET.md: "the same
//!   `ref`");
//! - a `send_message` frame's `data` goes through the send validator as the socket does.

#![no_main]

use concierge::command::messages;
use concierge::realtime::client::ClientEvent;
use concierge::ws::frame;
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use serde_json::{json, Value};

/// The longest error message a refused frame may produce: a serde_json error with its position,
/// or an unknown event cut to 64 characters (4 bytes each at most), with their prefixes.
const MAX_ERROR_BYTES: usize = 512;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    check(&text);
});

fn check(text: &str) {
    match frame::parse(text) {
        Ok((event, reference)) => {
            let value: Value = serde_json::from_str(text).expect("an accepted frame is JSON");
            let obj = value.as_object().expect("an accepted frame is an object");
            assert_eq!(reference.as_ref(), obj.get("ref").filter(|r| !r.is_null()));
            if let Some(r) = &reference {
                assert!(r.is_string() || r.is_number(), "ref {r} accepted");
                check_reply_ref(text, &frame::ack(r, json!({})));
            }
            let name = obj["event"].as_str().expect("event is a string");
            assert_eq!(name, event_name(&event));
            assert!(frame::names_event(text, name));
            let empty = json!({});
            let data = obj.get("data").unwrap_or(&empty);
            let field = |f: &str| data[f].as_str().expect("a required field is a string");
            match &event {
                ClientEvent::Authenticate { token } => assert_eq!(token, field("token")),
                ClientEvent::JoinConversation { conversation_id }
                | ClientEvent::LeaveConversation { conversation_id }
                | ClientEvent::MarkRead { conversation_id }
                | ClientEvent::TypingStart { conversation_id }
                | ClientEvent::TypingStop { conversation_id } => {
                    assert_eq!(conversation_id, field("conversationId"));
                }
                ClientEvent::SendMessage {
                    conversation_id,
                    data: sent,
                } => {
                    assert_eq!(conversation_id, field("conversationId"));
                    assert_eq!(sent, data);
                    let _ = messages::parse_send(sent, None);
                }
                ClientEvent::Resume { since } => assert_eq!(Some(*since), data["since"].as_u64()),
                ClientEvent::Ping => {}
            }
        }
        Err(e) => {
            assert!(
                e.message.len() <= MAX_ERROR_BYTES,
                "an error of {} bytes",
                e.message.len()
            );
            if let Some(r) = &e.reference {
                let value: Value = serde_json::from_str(text).expect("a frame with a ref is JSON");
                assert_eq!(Some(r), value.get("ref"));
            }
            let reply = frame::error(e.reference.as_ref(), "validation_failed", &e.message);
            let parsed: Value = serde_json::from_str(&reply).expect("an error frame is JSON");
            assert_eq!(parsed["event"], "error");
            assert_eq!(parsed["error"]["message"], e.message.as_str());
            if e.reference
                .as_ref()
                .is_some_and(|r| r.is_string() || r.is_number())
            {
                check_reply_ref(text, &reply);
            }
        }
    }
}

fn event_name(event: &ClientEvent) -> &'static str {
    match event {
        ClientEvent::Authenticate { .. } => "authenticate",
        ClientEvent::JoinConversation { .. } => "join_conversation",
        ClientEvent::LeaveConversation { .. } => "leave_conversation",
        ClientEvent::SendMessage { .. } => "send_message",
        ClientEvent::MarkRead { .. } => "mark_read",
        ClientEvent::TypingStart { .. } => "typing_start",
        ClientEvent::TypingStop { .. } => "typing_stop",
        ClientEvent::Resume { .. } => "resume",
        ClientEvent::Ping => "ping",
    }
}

/// The `ref` of `reply` is the one `frame` carried, compared as a client compares it: a string
/// exactly; a number by the value its text denotes (read with Rust's correctly rounded parser,
/// as a browser's `JSON.parse` reads it), not by serde_json's reading of it.
fn check_reply_ref(frame: &str, reply: &str) {
    let sent = raw_ref(frame);
    let echoed = raw_ref(reply).expect("the reply carries a ref");
    let Some(sent) = sent else {
        // The frame has several `ref` keys (serde_json's `Value` keeps the last; the raw reader
        // refuses duplicates): compare the values instead.
        let sent: Value = serde_json::from_str(frame).expect("frame is JSON");
        let echoed: Value = serde_json::from_str(reply).expect("reply is JSON");
        assert_eq!(sent.get("ref"), echoed.get("ref"));
        return;
    };
    match (sent.get().parse::<f64>(), echoed.get().parse::<f64>()) {
        (Ok(a), Ok(b)) => assert_eq!(a, b, "ref {} came back as {}", sent.get(), echoed.get()),
        _ => {
            let a: Value = serde_json::from_str(sent.get()).expect("ref is JSON");
            let b: Value = serde_json::from_str(echoed.get()).expect("ref is JSON");
            assert_eq!(a, b);
        }
    }
}

/// The text of a frame's `ref`, as written; `None` when it cannot be read that way.
fn raw_ref(text: &str) -> Option<Box<RawValue>> {
    #[derive(serde::Deserialize)]
    struct Ref {
        #[serde(rename = "ref")]
        reference: Box<RawValue>,
    }
    serde_json::from_str::<Ref>(text).ok().map(|r| r.reference)
}
