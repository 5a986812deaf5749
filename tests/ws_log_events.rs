//! Server events whose HTTP routes (8–10, 13) are not served yet: `message_edited`,
//! `reaction_added`/`reaction_removed` and `admin_broadcast`, written into the log directly (as
//! those routes or another node would) and checked on the sockets they must reach, and only those.

mod common;

use common::log as event_log;
use common::ws::{connect, Auth, Client};
use common::*;
use concierge_events::{Actor, Audience, Event, MessageEdited, Reaction};
use serde_json::{json, Value};
use std::time::Duration;

/// Long enough for a frame that is coming to arrive, for asserting one is not.
const QUIET: Duration = Duration::from_millis(400);

async fn socket(app: &App, token: &str) -> Client {
    connect(&app.base(), Auth::Header(token)).await
}

async fn join(c: &mut Client, conv: &str) {
    let reply = c
        .request("join_conversation", json!({ "conversationId": conv }), "j")
        .await;
    assert_eq!(reply["event"], json!("ack"), "{reply}");
}

/// `cus_ann`'s conversation with one message of hers; returns (conversation id, message).
async fn conversation_with_message(app: &App) -> (String, Value) {
    let ann = customer("cus_ann", &["bk_1"]);
    let conv = id_of(&created(open(app, &ann, "bk_1").await));
    let message = data(
        post(
            &messages_url(app, &conv),
            &ann,
            &json!({ "content": "first" }),
        )
        .await,
        201,
    );
    (conv, message)
}

async fn next_of(c: &mut Client, event: &str) -> Value {
    c.next_event(event).await
}

/// Reads for `QUIET` and asserts no frame of `event` arrives.
async fn none_of(c: &mut Client, event: &str) {
    while let Some(frame) = c.next_within(QUIET).await {
        assert_ne!(frame["event"], json!(event), "unexpected {frame}");
    }
}

#[tokio::test]
async fn an_edit_reaches_the_room_the_participants_and_the_admins_the_editor_included() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let (conv, message) = conversation_with_message(app).await;
    let mut ann = socket(app, &customer("cus_ann", &[])).await;
    let mut bo = socket(app, &admin("adm_bo")).await;
    let mut dan = socket(app, &customer("cus_dan", &[])).await;

    let seq = event_log::append(
        app.nats_url(),
        &conv,
        event_log::customer("cus_ann"),
        Event::MessageEdited(MessageEdited {
            message_id: id_of(&message),
            content: "first, edited".into(),
        }),
    )
    .await;

    for c in [&mut ann, &mut bo] {
        let frame = next_of(c, "message_edited").await;
        assert_eq!(frame["seq"], json!(seq));
        assert_eq!(frame["data"]["conversationId"], json!(conv));
        assert_eq!(frame["data"]["message"]["id"], message["id"]);
        assert_eq!(frame["data"]["message"]["content"], json!("first, edited"));
        assert_eq!(frame["data"]["message"]["isEdited"], json!(true));
        let updated = next_of(c, "conversation_updated").await;
        assert_eq!(updated["seq"], json!(seq));
        assert_eq!(
            updated["data"]["conversation"]["lastMessage"]["content"],
            json!("first, edited")
        );
    }
    none_of(&mut dan, "message_edited").await;
}

#[tokio::test]
async fn reactions_reach_the_conversation_room_only() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let (conv, message) = conversation_with_message(app).await;
    let mut in_room = socket(app, &admin("adm_bo")).await;
    join(&mut in_room, &conv).await;
    let mut outside = socket(app, &admin("adm_cy")).await;
    let mut ann = socket(app, &customer("cus_ann", &[])).await;

    let reaction = || Reaction {
        message_id: id_of(&message),
        emoji: "👍".into(),
    };
    let bo: Actor = event_log::admin("adm_bo");
    let added = event_log::append(
        app.nats_url(),
        &conv,
        bo.clone(),
        Event::ReactionAdded(reaction()),
    )
    .await;
    let frame = next_of(&mut in_room, "reaction_added").await;
    assert_eq!(frame["seq"], json!(added));
    assert_eq!(
        frame["data"],
        json!({ "conversationId": conv, "messageId": message["id"], "user": "adm_bo", "emoji": "👍" })
    );
    let removed = event_log::append(
        app.nats_url(),
        &conv,
        bo,
        Event::ReactionRemoved(reaction()),
    )
    .await;
    let frame = next_of(&mut in_room, "reaction_removed").await;
    assert_eq!(frame["seq"], json!(removed));
    assert_eq!(frame["data"]["emoji"], json!("👍"));

    // Neither an admin outside the room nor the author's own (un-joined) socket hears of it.
    none_of(&mut outside, "reaction_added").await;
    none_of(&mut ann, "reaction_added").await;
}

/// The `admin_broadcast` frames a socket gets within a quiet period, as (seq, content).
async fn broadcasts(c: &mut Client) -> Vec<(u64, String)> {
    let mut out = Vec::new();
    while let Some(f) = c.next_within(QUIET * 2).await {
        if f["event"] != json!("admin_broadcast") {
            continue;
        }
        assert_eq!(f["data"]["from"], json!("adm_bo"), "{f}");
        assert!(
            f["data"]["id"].is_string() && f["data"]["at"].is_string(),
            "{f}"
        );
        let content = f["data"]["content"].as_str().unwrap().to_string();
        out.push((f["seq"].as_u64().unwrap(), content));
    }
    out
}

#[tokio::test]
async fn a_broadcast_reaches_exactly_its_audience() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let mut ann = socket(app, &customer("cus_ann", &[])).await;
    let mut bo = socket(app, &admin("adm_bo")).await;

    let nats = app.nats_url();
    let to_admins = event_log::broadcast(nats, "adm_bo", "admins only", Audience::Admins).await;
    let to_customers =
        event_log::broadcast(nats, "adm_bo", "customers only", Audience::Customers).await;
    let to_all = event_log::broadcast(nats, "adm_bo", "everyone", Audience::All).await;

    assert_eq!(
        broadcasts(&mut bo).await,
        vec![
            (to_admins, "admins only".into()),
            (to_all, "everyone".into())
        ]
    );
    assert_eq!(
        broadcasts(&mut ann).await,
        vec![
            (to_customers, "customers only".into()),
            (to_all, "everyone".into())
        ]
    );
}
