//! The event decoder, `concierge_events::Envelope::decode`: every payload read from the log (by the
//! projection worker, resume, history, replay, tail and analytics consumers) goes through it.
//!
//! The input is a payload's bytes. Checked, besides never panicking:
//! - a decoded envelope is of schema v1 and of a known type;
//! - it encodes and decodes again to an equal envelope, so what the server writes from what it
//!   reads (history, replay) is readable in turn, and its time is written in the schema's form;
//! - a payload skipped as unknown (`Ok(None)`) is one whose head names another version or an
//!   unknown type, never a v1 event of a known type that failed to parse.

#![no_main]

use concierge_events::{Envelope, KNOWN_TYPES, SCHEMA_VERSION};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    match Envelope::decode(data) {
        Ok(Some(envelope)) => {
            assert_eq!(envelope.v, SCHEMA_VERSION);
            assert!(KNOWN_TYPES.contains(&envelope.event.event_type()));
            let bytes = envelope.encode();
            let again = Envelope::decode(&bytes).unwrap_or_else(|e| {
                panic!(
                    "{envelope:?} re-encodes as {} which does not decode: {e}",
                    String::from_utf8_lossy(&bytes)
                )
            });
            assert_eq!(again.as_ref(), Some(&envelope));
            let json: Value = serde_json::from_slice(&bytes).expect("an envelope is JSON");
            assert_eq!(json["type"], envelope.event.event_type());
            let at = json["at"].as_str().expect("at is a string");
            assert!(is_schema_time(at), "at is written as {at:?}");
        }
        Ok(None) => {
            // Payloads written as JSON arrays are read by field order; only objects have a head
            // to look at by name.
            if let Ok(Value::Object(head)) = serde_json::from_slice::<Value>(data) {
                let known = head.get("v").and_then(Value::as_u64) == Some(SCHEMA_VERSION.into())
                    && head
                        .get("type")
                        .and_then(Value::as_str)
                        .is_some_and(|t| KNOWN_TYPES.contains(&t));
                assert!(!known, "a v1 event of a known type was skipped");
            }
        }
        Err(_) => {}
    }
});

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, the pattern of the event schema.
fn is_schema_time(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}
