//! The request validators that read strings from clients: message content, client keys, emoji,
//! path ids, query parameters, `history?at=` moments and timestamps.
//!
//! Each is held to what API.md (or its own doc comment, where the contract is silent) says it
//! accepts, in both directions, besides never panicking:
//! - `check_content` accepts exactly the strings of at most 2000 scalar values without the
//!   contract's control characters, not blank unless allowed, and returns them unchanged; the
//!   2000-character boundary is tried with repetitions of the input;
//! - `check_client_key` accepts exactly 1–128 characters without control characters (the key goes
//!   into a `Nats-Msg-Id` header and a `\0`-separated view key);
//! - `check_emoji` accepts exactly 1–32 characters, not all white space, without control characters;
//! - `check_ids` accepts exactly two ULIDs; `ids::is_ulid` agrees with the `ulid` crate on
//!   canonical ULIDs; an `ids::is_external` id makes subjects of exactly one token, reversibly;
//! - `Params`: the last value of a name wins, `int` answers the default when absent and otherwise
//!   only values in the range asked, `flag` only `true`/`false`;
//! - `Timestamp::parse`: what it reads writes back in the schema's form and reads back equal;
//! - `Moment::parse`: digits are a sequence, anything else a time, as `Timestamp::parse` reads it.

#![no_main]

use concierge::command::{lifecycle, messages};
use concierge::history::Moment;
use concierge::http::extract::Params;
use concierge_events::{ids, subject, Timestamp};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use std::collections::HashMap;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    /// A field value: content, key, emoji, id, time or moment.
    text: &'a str,
    /// A second id, for the checks that take two.
    other: &'a str,
    blank_ok: bool,
    /// A query string, and the range asked of an integer parameter in it.
    query: &'a str,
    default: u64,
    min: u64,
    max: u64,
}

fuzz_target!(|input: Input<'_>| {
    content(input.text, input.blank_ok);
    client_key(input.text);
    emoji(input.text);
    path_ids(input.text, input.other);
    timestamp(input.text);
    moment(input.text);
    params(&input);
});

/// API.md route 4: U+0000–U+001F other than `\n`, `\r`, `\t`; U+007F; U+0080–U+009F.
fn forbidden_by_contract(c: char) -> bool {
    matches!(u32::from(c), 0x00..=0x1f | 0x7f..=0x9f) && !matches!(c, '\n' | '\r' | '\t')
}

fn content(text: &str, blank_ok: bool) {
    let n = text.chars().count();
    check_one_content(text, blank_ok);
    if (1..=messages::MAX_CONTENT_CHARS).contains(&n) {
        let k = messages::MAX_CONTENT_CHARS / n;
        check_one_content(&text.repeat(k), blank_ok);
        check_one_content(&text.repeat(k + 1), blank_ok);
    }
    assert!(messages::check_content(None, true).is_err());
    assert!(messages::check_content(Some(&Value::Null), true).is_err());
    assert!(messages::check_content(Some(&json!(n)), true).is_err());
    assert!(messages::check_content(Some(&json!([text])), true).is_err());
}

fn check_one_content(text: &str, blank_ok: bool) {
    let valid = text.chars().count() <= messages::MAX_CONTENT_CHARS
        && !text.chars().any(forbidden_by_contract)
        && (blank_ok || !text.trim().is_empty());
    match messages::check_content(Some(&Value::String(text.to_string())), blank_ok) {
        Ok(kept) => {
            assert!(valid, "accepted content {text:?}");
            assert_eq!(kept, text, "content is stored as given");
        }
        Err(_) => assert!(!valid, "refused content {text:?}"),
    }
}

fn client_key(text: &str) {
    let valid = (1..=messages::MAX_CLIENT_KEY_CHARS).contains(&text.chars().count())
        && !text.chars().any(char::is_control);
    let got = messages::check_client_key(text, "clientMessageId");
    assert_eq!(got.is_ok(), valid, "client key {text:?}: {got:?}");
}

fn emoji(text: &str) {
    let valid = (1..=lifecycle::MAX_EMOJI_CHARS).contains(&text.chars().count())
        && !text.trim().is_empty()
        && !text.chars().any(char::is_control);
    let got = lifecycle::check_emoji(text);
    assert_eq!(got.is_ok(), valid, "emoji {text:?}: {got:?}");
}

fn path_ids(a: &str, b: &str) {
    let got = lifecycle::check_ids(a, b);
    assert_eq!(
        got.is_ok(),
        ids::is_ulid(a) && ids::is_ulid(b),
        "{a:?} {b:?}"
    );
    for id in [a, b] {
        let canonical = ulid::Ulid::from_string(id).map(|u| u.to_string());
        if ids::is_ulid(id) {
            assert_eq!(
                canonical.as_deref(),
                Ok(id),
                "{id:?} is a ULID by ids::is_ulid"
            );
        } else {
            assert!(canonical.as_deref() != Ok(id), "{id:?} is a canonical ULID");
        }
        let external = (1..=128).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._:@-".contains(&b));
        assert_eq!(ids::is_external(id), external, "{id:?}");
        if external {
            let token = subject::token(id);
            assert!(
                !token.contains(['.', '*', '>']) && !token.chars().any(char::is_whitespace),
                "{id:?} makes the subject token {token:?}"
            );
            assert_eq!(token.replace("%2E", "."), id, "escaping is reversible");
            assert_eq!(subject::booking(id).split('.').count(), 3);
        }
    }
}

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

fn timestamp(text: &str) {
    let Some(t) = Timestamp::parse(text) else {
        return;
    };
    let written = t.to_rfc3339();
    assert!(
        is_schema_time(&written),
        "{text:?} is written as {written:?}"
    );
    assert_eq!(
        Timestamp::parse(&written),
        Some(t),
        "{text:?} is written as {written:?}"
    );
}

fn moment(text: &str) {
    let digits = !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    match Moment::parse(text) {
        Some(Moment::Seq(n)) => {
            assert!(digits, "{text:?} read as seq {n}");
            assert_eq!(text.parse::<u64>(), Ok(n));
        }
        Some(Moment::Time(t)) => {
            assert!(!digits, "{text:?} read as a time");
            assert_eq!(Timestamp::parse(text), Some(t));
        }
        None if digits => assert!(text.parse::<u64>().is_err(), "{text:?} refused"),
        None => assert_eq!(Timestamp::parse(text), None, "{text:?} refused"),
    }
}

fn params(input: &Input<'_>) {
    let params = Params::parse(Some(input.query));
    let mut last: HashMap<String, String> = HashMap::new();
    for (k, v) in form_urlencoded::parse(input.query.as_bytes()) {
        last.insert(k.into_owned(), v.into_owned());
    }
    let (min, max) = if input.min <= input.max {
        (input.min, input.max)
    } else {
        (input.max, input.min)
    };
    let default = input.default.clamp(min, max);
    let fixed = ["page", "limit", "after", "before", "status", "mine", "at"];
    for name in fixed.iter().copied().chain(last.keys().map(String::as_str)) {
        let raw = last.get(name).map(String::as_str);
        assert_eq!(params.get(name), raw, "the last value of {name:?} wins");
        match (params.int(name, default, min, max), raw) {
            (Ok(n), None) => assert_eq!(n, default),
            (Ok(n), Some(raw)) => {
                assert!((min..=max).contains(&n), "{n} outside {min}..={max}");
                assert_eq!(raw.parse::<u64>(), Ok(n));
            }
            (Err(_), None) => panic!("{name:?} is absent but refused"),
            (Err(_), Some(raw)) => assert!(
                !raw.parse::<u64>().is_ok_and(|n| (min..=max).contains(&n)),
                "{raw:?} refused for {min}..={max}"
            ),
        }
        match (params.flag(name), raw) {
            (Ok(b), r) => assert_eq!(r.unwrap_or("false"), if b { "true" } else { "false" }),
            (Err(_), r) => assert!(!matches!(r, None | Some("true" | "false"))),
        }
    }
}
