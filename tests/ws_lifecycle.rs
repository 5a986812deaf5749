//! The server events of routes 8–11 and 13: `message_edited`, `message_deleted`,
//! `reaction_added`/`reaction_removed`, `conversation_updated` on a status change and
//! `admin_broadcast`, each checked on the sockets it must reach, and only those.

mod common;

use common::ws::{connect, Auth, Client};
use common::*;
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

/// The seq of the newest event of the conversation (route 14).
async fn last_seq(app: &App, conv: &str) -> u64 {
    let url = app.url(&format!(
        "/messaging/conversations/{conv}/events?limit=1000"
    ));
    let page = data(get(&url, &admin("adm_ops")).await, 200);
    page["nextAfter"].as_u64().unwrap()
}

fn msg_url(app: &App, conv: &str, message: &Value) -> String {
    app.url(&format!(
        "/messaging/conversations/{conv}/messages/{}",
        id_of(message)
    ))
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

    data(
        patch(
            &msg_url(app, &conv, &message),
            &customer("cus_ann", &[]),
            &json!({ "content": "first, edited" }),
        )
        .await,
        200,
    );
    let seq = last_seq(app, &conv).await;

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

    let url = format!("{}/reactions", msg_url(app, &conv, &message));
    data(
        post(&url, &admin("adm_bo"), &json!({ "emoji": "👍" })).await,
        200,
    );
    let added = last_seq(app, &conv).await;
    let frame = next_of(&mut in_room, "reaction_added").await;
    assert_eq!(frame["seq"], json!(added));
    assert_eq!(
        frame["data"],
        json!({ "conversationId": conv, "messageId": message["id"], "user": "adm_bo", "emoji": "👍" })
    );
    data(
        delete(&format!("{url}/%F0%9F%91%8D"), &admin("adm_bo")).await,
        200,
    );
    let removed = last_seq(app, &conv).await;
    let frame = next_of(&mut in_room, "reaction_removed").await;
    assert_eq!(frame["seq"], json!(removed));
    assert_eq!(frame["data"]["emoji"], json!("👍"));

    // Neither an admin outside the room nor the author's own (un-joined) socket hears of it.
    none_of(&mut outside, "reaction_added").await;
    none_of(&mut ann, "reaction_added").await;
}

/// The `admin_broadcast` frames a socket gets within a quiet period, as (seq, data).
async fn broadcasts(c: &mut Client) -> Vec<(u64, Value)> {
    let mut out = Vec::new();
    while let Some(f) = c.next_within(QUIET * 2).await {
        if f["event"] == json!("admin_broadcast") {
            out.push((f["seq"].as_u64().unwrap(), f["data"].clone()));
        }
    }
    out
}

#[tokio::test]
async fn a_broadcast_reaches_exactly_its_audience_as_the_route_answered_it() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let mut ann = socket(app, &customer("cus_ann", &[])).await;
    let mut bo = socket(app, &admin("adm_bo")).await;

    let url = app.url("/messaging/admin/broadcast");
    let mut sent = Vec::new();
    for (content, audience) in [
        ("admins only", "admins"),
        ("customers only", "customers"),
        ("everyone", "all"),
    ] {
        let body = json!({ "content": content, "audience": audience });
        sent.push(data(post(&url, &admin("adm_bo"), &body).await, 200));
    }

    let to_bo = broadcasts(&mut bo).await;
    let to_ann = broadcasts(&mut ann).await;
    let data_of = |frames: &[(u64, Value)]| frames.iter().map(|f| f.1.clone()).collect::<Vec<_>>();
    assert_eq!(data_of(&to_bo), vec![sent[0].clone(), sent[2].clone()]);
    assert_eq!(data_of(&to_ann), vec![sent[1].clone(), sent[2].clone()]);
    // One log, one order: the seqs follow the order of the writes, and "everyone" is one event.
    assert!(to_bo[0].0 < to_ann[0].0 && to_ann[0].0 < to_bo[1].0);
    assert_eq!(to_bo[1].0, to_ann[1].0);
}

#[tokio::test]
async fn a_delete_reaches_everyone_an_edit_does_without_the_text() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let (conv, message) = conversation_with_message(app).await;
    let mut ann = socket(app, &customer("cus_ann", &[])).await;
    let mut bo = socket(app, &admin("adm_bo")).await;
    let mut dan = socket(app, &customer("cus_dan", &[])).await;

    data(
        delete(&msg_url(app, &conv, &message), &admin("adm_bo")).await,
        200,
    );
    let seq = last_seq(app, &conv).await;
    for c in [&mut ann, &mut bo] {
        let frame = next_of(c, "message_deleted").await;
        assert_eq!(frame["seq"], json!(seq));
        assert_eq!(frame["data"]["message"]["id"], message["id"]);
        assert_eq!(frame["data"]["message"]["isDeleted"], json!(true));
        assert_eq!(frame["data"]["message"]["content"], json!(""));
        assert!(!frame.to_string().contains("first"), "{frame}");
        let updated = next_of(c, "conversation_updated").await;
        assert_eq!(updated["data"]["conversation"]["lastMessage"], Value::Null);
    }
    none_of(&mut dan, "message_deleted").await;
}

#[tokio::test]
async fn a_status_change_updates_the_participants_and_the_admins() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let (conv, _) = conversation_with_message(app).await;
    let mut ann = socket(app, &customer("cus_ann", &[])).await;
    let mut cy = socket(app, &admin("adm_cy")).await;
    let mut dan = socket(app, &customer("cus_dan", &[])).await;

    let url = app.url(&format!("/messaging/conversations/{conv}/status"));
    data(
        put(&url, &admin("adm_bo"), &json!({ "status": "closed" })).await,
        200,
    );
    let seq = last_seq(app, &conv).await;
    for c in [&mut ann, &mut cy] {
        let frame = next_of(c, "conversation_updated").await;
        assert_eq!(frame["seq"], json!(seq));
        assert_eq!(frame["data"]["conversation"]["id"], json!(conv));
        assert_eq!(frame["data"]["conversation"]["status"], json!("closed"));
    }
    none_of(&mut dan, "conversation_updated").await;
}
