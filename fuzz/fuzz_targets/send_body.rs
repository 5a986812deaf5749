//! The send validator, `concierge::command::messages::parse_send`: the body of `POST …/messages`
//! and the `data` of a `send_message` frame, with the optional `Idempotency-Key` header.
//!
//! The input is a JSON body, optionally preceded by one line `Idempotency-Key: <key>` (so seeds
//! stay readable). Checked, besides never panicking:
//! - an accepted send obeys every rule of API.md route 4: content (at most 2000 scalar values, no
//!   control characters of the contract, not blank unless an image or file with attachments),
//!   `messageType`, `replyTo` a ULID, at most 10 attachments with an http(s) URL, a 1–255
//!   character file name and a `type/subtype` MIME type, and the client key (from the body, else
//!   the header) 1–128 characters without control characters;
//! - the accepted fields are the body's own, unchanged;
//! - the `message_sent` event the command would publish from it encodes and decodes back equal,
//!   so nothing the validator lets through breaks the log's readers;
//! - a refusal's message stays short whatever the body holds (it is sent back to the client).

#![no_main]

use concierge::command::messages::{self, SendInput};
use concierge_events::{ids, Actor, Envelope, Event, MessageSent, MessageType, Role, Timestamp};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const HEADER: &[u8] = b"Idempotency-Key: ";
/// Field names and limits are the only variable parts of a refusal.
const MAX_ERROR_BYTES: usize = 200;

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.strip_prefix(HEADER) {
        Some(rest) => {
            let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
            let key = String::from_utf8_lossy(&rest[..end]).into_owned();
            (Some(key), rest.get(end + 1..).unwrap_or_default())
        }
        None => (None, data),
    };
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return;
    };
    match messages::parse_send(&body, header.as_deref()) {
        Ok(input) => {
            check_accepted(&body, header.as_deref(), &input);
            check_event(input);
        }
        Err(e) => {
            let message = e.to_string();
            assert!(message.len() <= MAX_ERROR_BYTES, "{message}");
        }
    }
});

/// API.md route 4: U+0000–U+001F other than `\n`, `\r`, `\t`; U+007F; U+0080–U+009F.
fn forbidden_by_contract(c: char) -> bool {
    matches!(u32::from(c), 0x00..=0x1f | 0x7f..=0x9f) && !matches!(c, '\n' | '\r' | '\t')
}

fn check_accepted(body: &Value, header: Option<&str>, input: &SendInput) {
    assert_eq!(body["content"].as_str(), Some(input.content.as_str()));
    assert!(input.content.chars().count() <= messages::MAX_CONTENT_CHARS);
    assert!(!input.content.chars().any(forbidden_by_contract));
    let with_files = matches!(input.message_type, MessageType::Image | MessageType::File)
        && !input.attachments.is_empty();
    assert!(
        with_files || !input.content.trim().is_empty(),
        "blank content"
    );
    let message_type = match &body["messageType"] {
        Value::Null => MessageType::Text,
        t => MessageType::parse(t.as_str().expect("a type is a string")).expect("a known type"),
    };
    assert_eq!(input.message_type, message_type);
    assert_eq!(input.reply_to.as_deref(), body["replyTo"].as_str());
    assert!(input.reply_to.as_deref().is_none_or(ids::is_ulid));

    assert!(input.attachments.len() <= messages::MAX_ATTACHMENTS);
    for (a, given) in input
        .attachments
        .iter()
        .zip(body["attachments"].as_array().into_iter().flatten())
    {
        assert_eq!(given["url"].as_str(), Some(a.url.as_str()));
        assert_eq!(given["filename"].as_str(), Some(a.filename.as_str()));
        assert_eq!(given["mimetype"].as_str(), Some(a.mimetype.as_str()));
        assert_eq!(given["size"].as_u64(), Some(a.size));
        let rest = a
            .url
            .strip_prefix("https://")
            .or_else(|| a.url.strip_prefix("http://"));
        assert!(rest.is_some_and(|r| !r.is_empty()), "url {:?}", a.url);
        assert!(!a.url.chars().any(|c| c.is_control() || c.is_whitespace()));
        let n = a.filename.chars().count();
        assert!((1..=messages::MAX_FILENAME_CHARS).contains(&n));
        assert!(!a.filename.chars().any(char::is_control));
        let (kind, sub) = a.mimetype.split_once('/').expect("a MIME type has a slash");
        assert!(!kind.is_empty() && !sub.is_empty());
    }
    assert_eq!(
        input.attachments.len(),
        body["attachments"].as_array().map_or(0, Vec::len)
    );

    let expected_key = match &body["clientMessageId"] {
        Value::Null => header,
        k => Some(k.as_str().expect("a client key is a string")),
    };
    assert_eq!(input.client_message_id.as_deref(), expected_key);
    if let Some(key) = &input.client_message_id {
        let n = key.chars().count();
        assert!((1..=messages::MAX_CLIENT_KEY_CHARS).contains(&n));
        assert!(!key.chars().any(char::is_control), "key {key:?}");
    }
}

/// The event `messages::send` builds from an accepted input survives the log.
fn check_event(input: SendInput) {
    let envelope = Envelope::new(
        "01JDQ80000000000000000000A".into(),
        Timestamp::parse("2026-11-24T10:15:00.123Z").expect("a time"),
        Actor {
            id: "cus_7".into(),
            role: Role::Customer,
            name: Some("Ann".into()),
        },
        Some("01JDQ7X0S9G1W7V8M2K3Z4Y5AB".into()),
        Event::MessageSent(MessageSent {
            message_id: "01JDQ80000000000000000000B".into(),
            content: input.content,
            message_type: input.message_type,
            attachments: input.attachments,
            reply_to: input.reply_to,
            client_message_id: input.client_message_id,
        }),
    );
    let decoded = Envelope::decode(&envelope.encode()).expect("the event decodes");
    assert_eq!(decoded, Some(envelope));
}
