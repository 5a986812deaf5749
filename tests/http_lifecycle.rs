//! Routes 8–11 and 13 of API.md: editing, deleting and reacting to messages, a conversation's
//! status, admin broadcasts. Who may, what is a conflict, and repeats that write nothing (counted
//! in the log through route 14).

mod common;

use common::*;
use serde_json::{json, Value};

const ANN: &str = "cus_ann";

fn ann() -> String {
    customer(ANN, &["bk_1"])
}

fn bo() -> String {
    admin("adm_bo")
}

fn msg_url(app: &App, conv: &str, msg: &str) -> String {
    app.url(&format!("/messaging/conversations/{conv}/messages/{msg}"))
}

fn reactions_url(app: &App, conv: &str, msg: &str) -> String {
    format!("{}/reactions", msg_url(app, conv, msg))
}

fn status_url(app: &App, conv: &str) -> String {
    app.url(&format!("/messaging/conversations/{conv}/status"))
}

/// How many events the conversation has in the log.
async fn event_count(app: &App, conv: &str) -> usize {
    let url = app.url(&format!(
        "/messaging/conversations/{conv}/events?limit=1000"
    ));
    data(get(&url, &bo()).await, 200)["events"]
        .as_array()
        .unwrap()
        .len()
}

/// Ann's conversation with one message of hers; returns (conversation id, message id).
async fn with_message(app: &App, content: &str) -> (String, String) {
    let conv = id_of(&created(open(app, &ann(), "bk_1").await));
    let msg = id_of(&send(app, &ann(), &conv, content).await);
    (conv, msg)
}

async fn set_status(app: &App, conv: &str, status: &str) -> (reqwest::StatusCode, Value) {
    put(&status_url(app, conv), &bo(), &json!({ "status": status })).await
}

// ---------------------------------------------------------------------------------------------
// Route 8: edit
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_sender_edits_and_every_view_shows_the_new_text() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let (conv, msg) = with_message(app, "check in at 3?").await;

    let edited = data(
        patch(
            &msg_url(app, &conv, &msg),
            &ann(),
            &json!({ "content": "check in at 2?" }),
        )
        .await,
        200,
    );
    assert_eq!(edited["id"], json!(msg));
    assert_eq!(edited["content"], json!("check in at 2?"));
    assert_eq!(edited["isEdited"], json!(true));
    assert_timestamp(&edited["editedAt"]);
    assert_eq!(edited["updatedAt"], edited["editedAt"]);

    let page = list_messages(app, &ann(), &conv, "").await;
    assert_eq!(contents(&page["messages"]), vec!["check in at 2?"]);
    let c = conversation(app, &bo(), &conv).await;
    assert_eq!(c["lastMessage"]["content"], json!("check in at 2?"));
    assert_eq!(c["updatedAt"], edited["editedAt"]);
}

#[tokio::test]
async fn only_the_sender_may_edit_and_the_content_is_checked_as_for_sending() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let (conv, msg) = with_message(app, "hello").await;
    let url = msg_url(app, &conv, &msg);

    let forbidden = error(
        patch(&url, &bo(), &json!({ "content": "x" })).await,
        403,
        "forbidden",
    );
    assert_eq!(forbidden, "only the sender may edit a message");
    error(
        patch(&url, &customer("cus_dan", &[]), &json!({ "content": "x" })).await,
        403,
        "forbidden",
    );
    invalid(
        patch(&url, &ann(), &json!({ "content": "  \n" })).await,
        "content",
    );
    invalid(patch(&url, &ann(), &json!({})).await, "content");
    invalid(
        patch(&url, &ann(), &json!({ "content": "é".repeat(2001) })).await,
        "content",
    );
    invalid(
        patch(&url, &ann(), &json!({ "content": "a\u{0007}b" })).await,
        "content",
    );
    let at_limit = data(
        patch(&url, &ann(), &json!({ "content": "👍".repeat(2000) })).await,
        200,
    );
    assert_eq!(at_limit["content"].as_str().unwrap().chars().count(), 2000);

    // 400 for malformed ids, 404 for unknown ones, a message of another conversation included.
    invalid(
        patch(
            &msg_url(app, &conv, "nope"),
            &ann(),
            &json!({ "content": "x" }),
        )
        .await,
        "messageId",
    );
    let unknown = msg_url(app, &conv, "01JDQ80000000000000000000A");
    error(
        patch(&unknown, &ann(), &json!({ "content": "x" })).await,
        404,
        "not_found",
    );
    let other = id_of(&created(
        open(app, &customer("cus_cy", &["bk_2"]), "bk_2").await,
    ));
    let theirs = id_of(&send(app, &customer("cus_cy", &[]), &other, "mine").await);
    error(
        patch(
            &msg_url(app, &conv, &theirs),
            &ann(),
            &json!({ "content": "x" }),
        )
        .await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn the_same_text_again_writes_nothing_and_a_deleted_or_closed_message_is_a_conflict() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let (conv, msg) = with_message(app, "hello").await;
    let url = msg_url(app, &conv, &msg);
    data(
        patch(&url, &ann(), &json!({ "content": "hello!" })).await,
        200,
    );
    let before = event_count(app, &conv).await;
    let same = data(
        patch(&url, &ann(), &json!({ "content": "hello!" })).await,
        200,
    );
    assert_eq!(same["content"], json!("hello!"));
    assert_eq!(event_count(app, &conv).await, before);

    data(set_status(app, &conv, "closed").await, 200);
    let closed = error(
        patch(&url, &ann(), &json!({ "content": "again" })).await,
        409,
        "conflict",
    );
    assert_eq!(closed, "the conversation is closed");
    data(set_status(app, &conv, "active").await, 200);

    data(delete(&url, &ann()).await, 200);
    let deleted = error(
        patch(&url, &ann(), &json!({ "content": "again" })).await,
        409,
        "conflict",
    );
    assert_eq!(deleted, "the message is deleted");
}

// ---------------------------------------------------------------------------------------------
// Routes 8–10: an unknown message (404) answers before permission (403)
// ---------------------------------------------------------------------------------------------

/// One request on a message route, by `who`, of message `msg` in `conv`.
async fn on_message(
    app: &App,
    route: &str,
    conv: &str,
    msg: &str,
    who: &str,
) -> (reqwest::StatusCode, Value) {
    let url = msg_url(app, conv, msg);
    match route {
        "8" => patch(&url, who, &json!({ "content": "x" })).await,
        "9" => delete(&url, who).await,
        "10" => {
            post(
                &reactions_url(app, conv, msg),
                who,
                &json!({ "emoji": "👍" }),
            )
            .await
        }
        "10+" => {
            let url = format!("{}/%F0%9F%91%8D", reactions_url(app, conv, msg));
            delete(&url, who).await
        }
        _ => unreachable!("route {route}"),
    }
}

#[tokio::test]
async fn an_unknown_message_is_404_before_a_forbidden_callers_403() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let (conv, anns) = with_message(app, "hello").await;
    let bos = id_of(&send(app, &bo(), &conv, "from bo").await);
    let unknown = "01JDQ80000000000000000000A";
    // A message of another conversation is unknown in this one.
    let other = id_of(&created(
        open(app, &customer("cus_cy", &["bk_2"]), "bk_2").await,
    ));
    let theirs = id_of(&send(app, &customer("cus_cy", &[]), &other, "mine").await);
    let dan = customer("cus_dan", &[]);
    let before = event_count(app, &conv).await;

    // (route, caller, message, status): a caller who may not see the conversation (another
    // customer, a service token) gets 404 for an unknown message and 403 for a known one; within
    // the conversation, an admin may not edit Ann's message and Ann may not delete Bo's.
    let outsiders = [("cus_dan", dan), ("service", service())];
    let messages = [
        ("unknown", unknown, 404),
        ("another conversation's", theirs.as_str(), 404),
        ("Ann's", anns.as_str(), 403),
    ];
    let mut rows: Vec<(&str, &str, &str, &str, &str, u16)> = Vec::new();
    for route in ["8", "9", "10", "10+"] {
        for (name, who) in &outsiders {
            for (what, msg, want) in messages {
                rows.push((route, name, who, what, msg, want));
            }
        }
    }
    let (bo, ann) = (bo(), ann());
    rows.extend([
        ("8", "adm_bo", bo.as_str(), "unknown", unknown, 404),
        ("8", "adm_bo", bo.as_str(), "Ann's", anns.as_str(), 403),
        ("9", "cus_ann", ann.as_str(), "unknown", unknown, 404),
        ("9", "cus_ann", ann.as_str(), "Bo's", bos.as_str(), 403),
    ]);
    let mut failures = Vec::new();
    for (route, name, who, what, msg, want) in rows {
        let (status, body) = on_message(app, route, &conv, msg, who).await;
        let code = if want == 404 {
            "not_found"
        } else {
            "forbidden"
        };
        if status.as_u16() != want || body["error"] != json!(code) {
            failures.push(format!(
                "route {route} by {name}, {what} message: want {want}, got {status} {body}"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    // None of them wrote anything.
    assert_eq!(event_count(app, &conv).await, before);
}

// ---------------------------------------------------------------------------------------------
// Route 9: delete
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_deleted_message_keeps_its_place_without_content_and_leaves_the_counts() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let (conv, first) = with_message(app, "first").await;
    let attached = data(
        send_body(
            app,
            &ann(),
            &conv,
            &json!({ "content": "the ticket", "messageType": "file", "attachments": [
                { "url": "https://x.test/t.pdf", "filename": "t.pdf", "mimetype": "application/pdf", "size": 10 }
            ] }),
        )
        .await,
        201,
    );
    let second = id_of(&attached);
    let stats_url = app.url("/messaging/stats");
    assert_eq!(
        data(get(&stats_url, &bo()).await, 200)["totalMessages"],
        json!(2)
    );
    assert_eq!(
        conversation(app, &bo(), &conv).await["unreadCount"],
        json!(2)
    );

    let deleted = data(delete(&msg_url(app, &conv, &second), &ann()).await, 200);
    assert_eq!(deleted["id"], json!(second));
    assert_eq!(deleted["isDeleted"], json!(true));
    assert_eq!(deleted["content"], json!(""));
    assert_eq!(deleted["attachments"], json!([]));
    assert_timestamp(&deleted["deletedAt"]);

    let c = conversation(app, &bo(), &conv).await;
    assert_eq!(c["unreadCount"], json!(1));
    assert_eq!(c["lastMessage"]["id"], json!(first));
    assert_eq!(
        data(get(&stats_url, &bo()).await, 200)["totalMessages"],
        json!(1)
    );
    let page = list_messages(app, &ann(), &conv, "").await;
    assert_eq!(ids(&page["messages"]), vec![first.clone(), second.clone()]);
    assert_eq!(contents(&page["messages"]), vec!["first", ""]);

    // Again: 200 with the deleted message, nothing written.
    let before = event_count(app, &conv).await;
    let again = data(delete(&msg_url(app, &conv, &second), &ann()).await, 200);
    assert_eq!(again["deletedAt"], deleted["deletedAt"]);
    assert_eq!(event_count(app, &conv).await, before);

    // An admin may delete anyone's; when every message is gone there is no last message.
    data(delete(&msg_url(app, &conv, &first), &bo()).await, 200);
    let c = conversation(app, &bo(), &conv).await;
    assert_eq!(c["lastMessage"], Value::Null);
    assert_eq!(c["unreadCount"], json!(0));
}

#[tokio::test]
async fn only_the_sender_or_an_admin_may_delete_and_a_closed_conversation_still_allows_it() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = id_of(&created(open(app, &ann(), "bk_1").await));
    let from_bo = id_of(&send(app, &bo(), &conv, "from the desk").await);
    let from_ann = id_of(&send(app, &ann(), &conv, "my phone number is ...").await);
    let forbidden = error(
        delete(&msg_url(app, &conv, &from_bo), &ann()).await,
        403,
        "forbidden",
    );
    assert_eq!(
        forbidden,
        "only the sender or an admin may delete a message"
    );
    error(
        delete(&msg_url(app, &conv, &from_ann), &customer("cus_dan", &[])).await,
        403,
        "forbidden",
    );

    // Removing content stays possible after a close (moderation, privacy).
    data(set_status(app, &conv, "closed").await, 200);
    let gone = data(delete(&msg_url(app, &conv, &from_ann), &ann()).await, 200);
    assert_eq!(gone["isDeleted"], json!(true));
    let by_other_admin = data(
        delete(&msg_url(app, &conv, &from_bo), &admin("adm_cy")).await,
        200,
    );
    assert_eq!(by_other_admin["isDeleted"], json!(true));
}

// ---------------------------------------------------------------------------------------------
// Route 10: reactions
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn one_reaction_per_user_and_emoji_and_repeats_write_nothing() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let (conv, msg) = with_message(app, "hello").await;
    let url = reactions_url(app, &conv, &msg);

    let one = data(post(&url, &bo(), &json!({ "emoji": "👍" })).await, 200);
    let reactions = one["reactions"].as_array().unwrap();
    assert_eq!(reactions.len(), 1);
    assert_eq!(reactions[0]["user"], json!("adm_bo"));
    assert_eq!(reactions[0]["emoji"], json!("👍"));
    assert_timestamp(&reactions[0]["createdAt"]);

    let before = event_count(app, &conv).await;
    let again = data(post(&url, &bo(), &json!({ "emoji": "👍" })).await, 200);
    assert_eq!(again["reactions"], one["reactions"]);
    assert_eq!(event_count(app, &conv).await, before);

    let both = data(post(&url, &ann(), &json!({ "emoji": "👍" })).await, 200);
    let users: Vec<_> = both["reactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["user"].clone())
        .collect();
    assert_eq!(users, vec![json!("adm_bo"), json!(ANN)]);

    // Removal: the emoji percent-encoded in the path; a missing one is 200 and writes nothing.
    let remove = format!("{url}/%F0%9F%91%8D");
    let removed = data(delete(&remove, &bo()).await, 200);
    assert_eq!(removed["reactions"].as_array().unwrap().len(), 1);
    assert_eq!(removed["reactions"][0]["user"], json!(ANN));
    let before = event_count(app, &conv).await;
    data(delete(&remove, &bo()).await, 200);
    assert_eq!(event_count(app, &conv).await, before);
}

#[tokio::test]
async fn an_emoji_is_one_to_32_characters_and_a_deleted_message_takes_and_loses_none() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let (conv, msg) = with_message(app, "hello").await;
    let url = reactions_url(app, &conv, &msg);
    invalid(post(&url, &ann(), &json!({ "emoji": "" })).await, "emoji");
    invalid(post(&url, &ann(), &json!({})).await, "emoji");
    invalid(post(&url, &ann(), &json!({ "emoji": 7 })).await, "emoji");
    invalid(
        post(&url, &ann(), &json!({ "emoji": "x".repeat(33) })).await,
        "emoji",
    );
    // A family emoji is 5 scalar values, well inside the limit; 32 is the most.
    data(
        post(&url, &ann(), &json!({ "emoji": "👨\u{200d}👩\u{200d}👧" })).await,
        200,
    );
    data(
        post(&url, &ann(), &json!({ "emoji": "x".repeat(32) })).await,
        200,
    );
    invalid(
        delete(&format!("{url}/{}", "x".repeat(33)), &ann()).await,
        "emoji",
    );

    data(delete(&msg_url(app, &conv, &msg), &ann()).await, 200);
    let add = error(
        post(&url, &ann(), &json!({ "emoji": "🎉" })).await,
        409,
        "conflict",
    );
    assert_eq!(add, "the message is deleted");
    error(
        delete(&format!("{url}/{}", "x".repeat(32)), &ann()).await,
        409,
        "conflict",
    );
}

// ---------------------------------------------------------------------------------------------
// Route 11: status
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn admins_set_any_status_and_a_closed_conversation_takes_no_messages_or_reactions() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let (conv, msg) = with_message(app, "hello").await;
    let stats_url = app.url("/messaging/stats");

    let closed = data(set_status(app, &conv, "closed").await, 200);
    assert_eq!(closed["id"], json!(conv));
    assert_eq!(closed["status"], json!("closed"));
    assert_eq!(closed["participants"][0]["online"], json!(false));
    let by_status = &data(get(&stats_url, &bo()).await, 200)["conversationsByStatus"];
    assert_eq!(
        *by_status,
        json!({ "active": 0, "archived": 0, "closed": 1, "snoozed": 0 })
    );
    error(
        send_body(app, &ann(), &conv, &json!({ "content": "hi" })).await,
        409,
        "conflict",
    );
    let reaction = error(
        post(
            &reactions_url(app, &conv, &msg),
            &ann(),
            &json!({ "emoji": "👍" }),
        )
        .await,
        409,
        "conflict",
    );
    assert_eq!(reaction, "the conversation is closed");

    // The same status again writes nothing; a closed conversation can be reopened.
    let before = event_count(app, &conv).await;
    data(set_status(app, &conv, "closed").await, 200);
    assert_eq!(event_count(app, &conv).await, before);
    let reopened = data(set_status(app, &conv, "active").await, 200);
    assert_eq!(reopened["status"], json!("active"));
    assert!(millis(&reopened["updatedAt"]) >= millis(&closed["updatedAt"]));
    send(app, &ann(), &conv, "thanks").await;

    // A customer's send makes an archived conversation active again.
    data(set_status(app, &conv, "archived").await, 200);
    send(app, &ann(), &conv, "one more thing").await;
    assert_eq!(
        conversation(app, &ann(), &conv).await["status"],
        json!("active")
    );
}

#[tokio::test]
async fn only_admins_set_a_status_and_it_must_be_one_of_the_three() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let (conv, _) = with_message(app, "hello").await;
    let url = status_url(app, &conv);
    let forbidden = error(
        put(&url, &ann(), &json!({ "status": "closed" })).await,
        403,
        "forbidden",
    );
    assert_eq!(forbidden, "only admins may change a conversation's status");
    invalid(
        put(&url, &bo(), &json!({ "status": "done" })).await,
        "status",
    );
    invalid(put(&url, &bo(), &json!({})).await, "status");
    invalid(put(&url, &bo(), &json!(["closed"])).await, "body");
    error(
        put(
            &status_url(app, "01JDQ80000000000000000000A"),
            &bo(),
            &json!({ "status": "closed" }),
        )
        .await,
        404,
        "not_found",
    );
}

// ---------------------------------------------------------------------------------------------
// Route 13: broadcast
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn an_admin_broadcasts_and_gets_the_broadcast_back() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let url = app.url("/messaging/admin/broadcast");
    let sent = data(
        post(
            &url,
            &bo(),
            &json!({ "content": "maintenance at 2am", "audience": "customers" }),
        )
        .await,
        200,
    );
    assert_ulid(&sent["id"]);
    assert_eq!(sent["content"], json!("maintenance at 2am"));
    assert_eq!(sent["audience"], json!("customers"));
    assert_eq!(sent["from"], json!("adm_bo"));
    assert_timestamp(&sent["at"]);
    // Broadcasts are not chat messages.
    assert_eq!(
        data(get(&app.url("/messaging/stats"), &bo()).await, 200)["totalMessages"],
        json!(0)
    );

    for token in [ann(), service()] {
        let m = error(
            post(&url, &token, &json!({ "content": "x", "audience": "all" })).await,
            403,
            "forbidden",
        );
        assert!(m.contains("admin"), "{m}");
    }
    invalid(
        post(
            &url,
            &bo(),
            &json!({ "content": "x", "audience": "everyone" }),
        )
        .await,
        "audience",
    );
    invalid(
        post(&url, &bo(), &json!({ "content": "x" })).await,
        "audience",
    );
    invalid(
        post(&url, &bo(), &json!({ "content": " ", "audience": "all" })).await,
        "content",
    );
}
