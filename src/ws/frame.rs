//! The frames of docs/websocket.md: reading a client frame (`{event, data, ref}`) and writing server
//! frames, acks and errors.

use crate::realtime::client::ClientEvent;
use crate::realtime::event::{ServerEvent, Text, Wire};
use serde::Serialize;
use serde_json::{json, Value};

/// A frame that could not be read; answered with an `error` (carrying `ref` when there was one).
#[derive(Debug, Clone, PartialEq)]
pub struct FrameError {
    pub reference: Option<Value>,
    pub message: String,
}

/// Parses one text frame into its event and `ref`.
///
/// # Errors
/// A [`FrameError`] naming what is wrong: not JSON, no `event`, an unknown event, a bad field.
pub fn parse(text: &str) -> Result<(ClientEvent, Option<Value>), FrameError> {
    let value: Value = serde_json::from_str(text).map_err(|e| FrameError {
        reference: None,
        message: format!("frame is not valid JSON: {e}"),
    })?;
    let reference = value.get("ref").filter(|r| !r.is_null()).cloned();
    let fail = |message: String| FrameError {
        reference: reference.clone(),
        message,
    };
    let obj = value
        .as_object()
        .ok_or_else(|| fail("frame must be a JSON object".into()))?;
    if let Some(r) = &reference {
        if !(r.is_string() || r.is_number()) {
            return Err(fail("ref must be a string or a number".into()));
        }
    }
    let event = obj
        .get("event")
        .and_then(Value::as_str)
        .ok_or_else(|| fail("event is required".into()))?;
    let parsed = ClientEvent::decode(event, obj.get("data")).map_err(fail)?;
    Ok((parsed, reference))
}

/// Whether a frame, however malformed otherwise, is a JSON object naming `event`.
pub fn names_event(text: &str, event: &str) -> bool {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("event").and_then(Value::as_str).map(|e| e == event))
        .unwrap_or(false)
}

#[derive(Serialize)]
struct Frame<'a, T> {
    event: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(rename = "ref", skip_serializing_if = "Option::is_none")]
    reference: Option<&'a Value>,
    data: T,
}

/// Writes a frame straight from typed data (no intermediate `Value` tree: this is the hot path).
fn write<T: Serialize>(frame: &Frame<'_, T>) -> Text {
    Text::from(serde_json::to_string(frame).expect("frames always serialize"))
}

/// A server event as a frame, `{"event", "seq"?, "data"}`: written once per event, shared by every
/// `/ws` socket it goes to.
pub fn event(event: &ServerEvent) -> Text {
    event.encoded(Wire::WebSocket, |e| {
        write(&Frame {
            event: e.name,
            seq: e.seq,
            reference: None,
            data: &e.data,
        })
    })
}

/// The reply to a frame that carried `ref`.
pub fn ack(reference: &Value, data: impl Serialize) -> Text {
    write(&Frame {
        event: "ack",
        seq: None,
        reference: Some(reference),
        data,
    })
}

/// An `error` frame, with the contract's error code.
pub fn error(reference: Option<&Value>, code: &str, message: &str) -> Text {
    let mut frame = json!({ "event": "error", "error": { "code": code, "message": message } });
    if let Some(r) = reference {
        frame["ref"] = r.clone();
    }
    Text::from(frame.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_events_with_ref() {
        let (e, r) = parse(
            r#"{"event":"send_message","data":{"conversationId":"c","content":"hi"},"ref":"c-17"}"#,
        )
        .unwrap();
        assert_eq!(r, Some(json!("c-17")));
        assert!(
            matches!(e, ClientEvent::SendMessage { conversation_id, .. } if conversation_id == "c")
        );
        assert_eq!(parse(r#"{"event":"ping"}"#).unwrap().0, ClientEvent::Ping);
    }

    #[test]
    fn refuses_bad_frames_keeping_ref() {
        assert!(parse("not json").unwrap_err().message.contains("JSON"));
        let e = parse(r#"{"ref":5}"#).unwrap_err();
        assert_eq!(
            (e.reference, e.message.as_str()),
            (Some(json!(5)), "event is required")
        );
        let e = parse(r#"{"event":"fly","ref":"x"}"#).unwrap_err();
        assert_eq!(e.message, "unknown event: fly");
        let e = parse(r#"{"event":"resume","data":{"since":-1}}"#).unwrap_err();
        assert!(e.message.contains("since"));
        let e = parse(r#"{"event":"join_conversation","data":{}}"#).unwrap_err();
        assert!(e.message.contains("conversationId"));
    }

    /// Found by the `ws_frame` fuzz target: serde_json's default reading of floats is not
    /// correctly rounded, so a number `ref` came back as another number than the client's
    /// (`184444760737095116160` as `1.844447607370951e20`). The workspace enables serde_json's
    /// `float_roundtrip`.
    #[test]
    fn a_number_ref_comes_back_as_the_number_sent() {
        // As a browser reads the client's `ref` (Rust's own parser is correctly rounded).
        let sent: f64 = "184444760737095116160".parse().unwrap();
        let echoed = format!(r#""ref":{}"#, serde_json::to_string(&sent).unwrap());
        for frame in [
            "{\"event\":{\"c3c\u{fffd}cc\":\"0AB\"},\"ref\":184444760737095116160}",
            r#"{"event":"ping","ref":184444760737095116160}"#,
        ] {
            let reference = match parse(frame) {
                Ok((_, r)) => r,
                Err(e) => e.reference,
            }
            .unwrap();
            assert_eq!(reference.as_f64(), Some(sent), "{frame}");
            let replies = [
                ack(&reference, json!({})),
                error(Some(&reference), "validation_failed", "x"),
            ];
            for reply in replies {
                assert!(reply.contains(&echoed), "{reply} for {frame}");
            }
        }
    }
}
