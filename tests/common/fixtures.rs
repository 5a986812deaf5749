//! The people, bookings and conversations the socket tests of both codecs (`ws_*`, `socketio_*`)
//! share, and the reading of what a socket received.

use super::{admin, created, customer, data, id_of, open, register_booking, App, Events};
use serde_json::{json, Value};

pub const BOOKING: &str = "bk_1";
pub const UNKNOWN_ULID: &str = "01JDQ7X0S9G1W7V8M2K3Z4Y5AB";

pub fn ann() -> String {
    customer("cus_ann", &[])
}

pub fn dan() -> String {
    customer("cus_dan", &[])
}

pub fn bo() -> String {
    admin("adm_bo")
}

pub fn cy() -> String {
    admin("adm_cy")
}

/// `cus_ann`'s conversation on `bk_1`; returns its id.
pub async fn ann_conversation(app: &App) -> String {
    id_of(&created(
        open(app, &customer("cus_ann", &[BOOKING]), BOOKING).await,
    ))
}

/// `cus_dan`'s conversation on `bk_2`; returns its id.
pub async fn dan_conversation(app: &App) -> String {
    id_of(&created(
        open(app, &customer("cus_dan", &["bk_2"]), "bk_2").await,
    ))
}

/// Registers `booking` for `customer_id` and opens its conversation; returns its id.
pub async fn conversation_of(app: &App, customer_id: &str, booking: &str) -> String {
    data(register_booking(app, booking, customer_id, None).await, 201);
    id_of(&created(
        open(app, &customer(customer_id, &[]), booking).await,
    ))
}

/// Reads until an event of `event` about message `id` arrives; returns every event seen from
/// `mark` (an earlier `c.seen.len()`) on.
pub async fn through(c: &mut impl Events, mark: usize, event: &str, id: &Value) -> Vec<Value> {
    c.next_matching(&format!("{event} of {id}"), |f| {
        f["event"] == event && f["data"]["message"]["id"] == *id
    })
    .await;
    c.seen()[mark..].to_vec()
}

/// The events of `event` about message `id`.
pub fn about<'a>(frames: &'a [Value], event: &str, id: &Value) -> Vec<&'a Value> {
    frames
        .iter()
        .filter(|f| f["event"] == event && f["data"]["message"]["id"] == *id)
        .collect()
}

pub fn of_event<'a>(frames: &'a [Value], event: &str) -> Vec<&'a Value> {
    frames.iter().filter(|f| f["event"] == event).collect()
}

/// The next `event` (`user_online`/`user_offline`) about `user`, within 10 s.
pub async fn next_presence(c: &mut impl Events, event: &str, user: &str) -> Value {
    c.next_matching(&format!("{event} of {user}"), |f| {
        f["event"] == event && f["data"]["userId"] == user
    })
    .await
}

/// The presence events (`user_online`, `user_offline`) about `user` among `frames`.
pub fn presence_of<'a>(frames: &'a [Value], user: &str) -> Vec<&'a Value> {
    frames
        .iter()
        .filter(|f| {
            (f["event"] == "user_online" || f["event"] == "user_offline")
                && f["data"]["userId"] == user
        })
        .collect()
}

/// The `send_message` bodies (without `conversationId`) that the HTTP route refuses, as `(body,
/// error code, the field its message names)`; `reply_to_elsewhere` is the id of a message of
/// another conversation.
pub fn refused_send_bodies(reply_to_elsewhere: &Value) -> [(Value, &'static str, &'static str); 7] {
    [
        (
            json!({ "content": "a".repeat(2001) }),
            "validation_failed",
            "content",
        ),
        (json!({ "content": "   " }), "validation_failed", "content"),
        (json!({ "content": 5 }), "validation_failed", "content"),
        (
            json!({ "content": "a\u{0001}b" }),
            "validation_failed",
            "content",
        ),
        (
            json!({ "content": "x", "messageType": "video" }),
            "validation_failed",
            "messageType",
        ),
        (
            json!({ "content": "x", "replyTo": reply_to_elsewhere }),
            "validation_failed",
            "replyTo",
        ),
        (
            json!({ "content": "x", "messageType": "system" }),
            "forbidden",
            "",
        ),
    ]
}
