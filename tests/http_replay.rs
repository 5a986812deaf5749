//! Routes 14 and 15 of API.md: a conversation's raw events, paged by `after`, and the conversation
//! with its messages as they stood at a moment, checked at several points of a scripted history
//! with edits, deletes, reactions, reads and status changes.

mod common;

use common::*;
use serde_json::{json, Value};

fn ann() -> String {
    customer("cus_ann", &["bk_1"])
}

fn bo() -> String {
    admin("adm_bo")
}

fn msg_url(app: &App, conv: &str, msg: &str) -> String {
    app.url(&format!("/messaging/conversations/{conv}/messages/{msg}"))
}

fn events_url(app: &App, conv: &str, query: &str) -> String {
    app.url(&format!("/messaging/conversations/{conv}/events?{query}"))
}

fn history_url(app: &App, conv: &str, at: &str) -> String {
    app.url(&format!("/messaging/conversations/{conv}/history?at={at}"))
}

async fn events(app: &App, conv: &str, query: &str) -> Value {
    data(get(&events_url(app, conv, query), &bo()).await, 200)
}

async fn history(app: &App, conv: &str, at: &str) -> Value {
    data(get(&history_url(app, conv, at), &bo()).await, 200)
}

fn types(page: &Value) -> Vec<String> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

fn seqs(page: &Value) -> Vec<u64> {
    page["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Route 14
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn events_come_as_stored_with_their_seq_paged_by_after() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = id_of(&created(open(app, &ann(), "bk_1").await));
    // Another conversation's events interleave in the log and must not show up.
    let other = id_of(&created(
        open(app, &customer("cus_cy", &["bk_2"]), "bk_2").await,
    ));
    let first = send(app, &ann(), &conv, "one").await;
    send(app, &customer("cus_cy", &[]), &other, "not yours").await;
    send(app, &ann(), &conv, "two").await;
    send(app, &bo(), &conv, "three").await;

    let all = events(app, &conv, "").await;
    assert_eq!(
        types(&all),
        vec![
            "conversation_created",
            "message_sent",
            "message_sent",
            "participant_joined",
            "message_sent"
        ]
    );
    let s = seqs(&all);
    assert!(s.windows(2).all(|w| w[0] < w[1]), "{s:?}");
    assert_eq!(all["nextAfter"], json!(s[4]));
    assert_eq!(all["events"][1]["seq"], first["seq"]);
    let sent = &all["events"][1];
    assert_eq!(sent["v"], json!(1));
    assert_ulid(&sent["id"]);
    assert_timestamp(&sent["at"]);
    assert_eq!(sent["actor"]["id"], json!("cus_ann"));
    assert_eq!(sent["actor"]["role"], json!("customer"));
    assert_eq!(sent["conversationId"], json!(conv));
    assert_eq!(sent["data"]["messageId"], first["id"]);
    assert_eq!(sent["data"]["content"], json!("one"));

    // Pages of two: after each page's nextAfter comes the next, then an empty page.
    let page1 = events(app, &conv, "limit=2").await;
    assert_eq!(seqs(&page1), s[..2].to_vec());
    assert_eq!(page1["nextAfter"], json!(s[1]));
    let page2 = events(app, &conv, &format!("limit=2&after={}", s[1])).await;
    assert_eq!(seqs(&page2), s[2..4].to_vec());
    assert_eq!(page2["nextAfter"], json!(s[3]));
    let page3 = events(app, &conv, &format!("limit=2&after={}", s[3])).await;
    assert_eq!(seqs(&page3), s[4..].to_vec());
    let page4 = events(app, &conv, &format!("limit=2&after={}", s[4])).await;
    assert_eq!(page4["events"], json!([]));
    assert_eq!(page4["nextAfter"], Value::Null);

    // A service token may replay too.
    let by_service = data(get(&events_url(app, &conv, ""), &service()).await, 200);
    assert_eq!(seqs(&by_service), s);
}

#[tokio::test]
async fn event_paging_parameters_are_checked() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = id_of(&created(open(app, &ann(), "bk_1").await));
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=-1", "limit"),
        ("after=-1", "after"),
        ("after=x", "after"),
    ] {
        invalid(get(&events_url(app, &conv, query), &bo()).await, field);
    }
    assert_eq!(
        events(app, &conv, "limit=1000").await["events"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    invalid(
        get(&events_url(app, "not-a-ulid", ""), &bo()).await,
        "conversationId",
    );
    error(
        get(&events_url(app, "01JDQ80000000000000000000A", ""), &bo()).await,
        404,
        "not_found",
    );
    error(
        get(&events_url(app, &conv, ""), &ann()).await,
        403,
        "forbidden",
    );
}

// ---------------------------------------------------------------------------------------------
// Route 15
// ---------------------------------------------------------------------------------------------

/// A participant's keys in history: the live ones (route 7) but `online`.
const HISTORY_PARTICIPANT_KEYS: [&str; 5] = ["joinedAt", "lastSeen", "name", "role", "userId"];

/// An object's keys, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

/// One step of the scripted history: the seq of its last event and the time just after it.
struct Point {
    seq: u64,
    after: String,
}

async fn point(app: &App, conv: &str) -> Point {
    let page = events(app, conv, "limit=1000").await;
    let seq = *seqs(&page).last().unwrap();
    tick().await;
    let now = concierge_events::Timestamp::now().to_rfc3339();
    tick().await;
    Point { seq, after: now }
}

#[tokio::test]
async fn history_shows_the_conversation_exactly_as_it_stood() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let before_creation = concierge_events::Timestamp::now().to_rfc3339();
    tick().await;
    let conv = id_of(&created(open(app, &ann(), "bk_1").await));
    let hello = id_of(&send(app, &ann(), &conv, "hello").await);
    let early = id_of(&send(app, &ann(), &conv, "can I check in early?").await);
    let p1 = point(app, &conv).await;

    // Bo reads (joins), reacts and answers; Ann edits her question.
    let read_url = app.url(&format!("/messaging/conversations/{conv}/read"));
    data(put_empty(&read_url, &bo()).await, 200);
    data(
        post(
            &format!("{}/reactions", msg_url(app, &conv, &hello)),
            &bo(),
            &json!({ "emoji": "👋" }),
        )
        .await,
        200,
    );
    send(app, &bo(), &conv, "yes, from noon").await;
    data(
        patch(
            &msg_url(app, &conv, &early),
            &ann(),
            &json!({ "content": "can I check in at 10?" }),
        )
        .await,
        200,
    );
    let p2 = point(app, &conv).await;

    // Ann deletes her greeting, Bo closes the conversation.
    data(delete(&msg_url(app, &conv, &hello), &ann()).await, 200);
    data(
        put(
            &app.url(&format!("/messaging/conversations/{conv}/status")),
            &bo(),
            &json!({ "status": "closed" }),
        )
        .await,
        200,
    );
    let p3 = point(app, &conv).await;

    // At p1: two messages, nothing read by anyone but Ann, no admin participant yet.
    for at in [p1.seq.to_string(), p1.after.clone()] {
        let h = history(app, &conv, &at).await;
        assert_eq!(h["asOfSeq"], json!(p1.seq));
        assert_eq!(
            contents(&h["messages"]),
            vec!["hello", "can I check in early?"]
        );
        assert_eq!(h["messages"][0]["reactions"], json!([]));
        assert_eq!(h["messages"][0]["readBy"], json!([]));
        assert_eq!(h["messages"][1]["isEdited"], json!(false));
        let c = &h["conversation"];
        assert_eq!(c["status"], json!("active"));
        assert_eq!(c["participants"].as_array().unwrap().len(), 1);
        assert_eq!(c["unreadCounts"], json!({ "cus_ann": 0 }));
        assert_eq!(
            c["unreadCount"],
            json!(2),
            "an admin who has not joined has read nothing"
        );
        assert_eq!(c["lastMessage"]["content"], json!("can I check in early?"));
        // History carries `lastSeen` (null: Ann never connected) but no `online`.
        assert_eq!(keys(&c["participants"][0]), HISTORY_PARTICIPANT_KEYS);
        assert_eq!(c["participants"][0]["lastSeen"], Value::Null);
    }

    // At p2: the edit, the reaction, Bo's read receipts and reply; the greeting is still there.
    let h = history(app, &conv, &p2.after).await;
    assert_eq!(h["asOfSeq"], json!(p2.seq));
    assert_eq!(
        contents(&h["messages"]),
        vec!["hello", "can I check in at 10?", "yes, from noon"]
    );
    assert_eq!(h["messages"][0]["isDeleted"], json!(false));
    assert_eq!(h["messages"][0]["reactions"][0]["emoji"], json!("👋"));
    assert_eq!(h["messages"][0]["readBy"][0]["user"], json!("adm_bo"));
    assert_eq!(h["messages"][1]["isEdited"], json!(true));
    let c = &h["conversation"];
    assert_eq!(c["unreadCounts"], json!({ "cus_ann": 1, "adm_bo": 0 }));
    assert_eq!(c["status"], json!("active"));

    // At p3, and at any later moment: the present.
    for at in [
        p3.seq.to_string(),
        p3.after.clone(),
        "2999-01-01T00:00:00.000Z".into(),
    ] {
        let h = history(app, &conv, &at).await;
        assert_eq!(h["asOfSeq"], json!(p3.seq));
        assert_eq!(
            contents(&h["messages"]),
            vec!["", "can I check in at 10?", "yes, from noon"]
        );
        assert_eq!(h["messages"][0]["isDeleted"], json!(true));
        assert_eq!(h["conversation"]["status"], json!("closed"));
        let now = conversation(app, &bo(), &conv).await;
        assert_eq!(h["conversation"]["unreadCounts"], now["unreadCounts"]);
        assert_eq!(h["conversation"]["lastMessage"], now["lastMessage"]);
        let page = list_messages(app, &bo(), &conv, "").await;
        assert_eq!(h["messages"], page["messages"]);
    }

    // Before the conversation existed: 404.
    error(
        get(&history_url(app, &conv, &before_creation), &bo()).await,
        404,
        "not_found",
    );
}

#[tokio::test]
async fn history_takes_a_time_or_a_seq_and_only_admins_read_it() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = id_of(&created(open(app, &ann(), "bk_1").await));
    for at in ["", "yesterday", "-3", "2026-13-01T00:00:00Z"] {
        invalid(get(&history_url(app, &conv, at), &bo()).await, "at");
    }
    invalid(
        get(
            &app.url(&format!("/messaging/conversations/{conv}/history")),
            &bo(),
        )
        .await,
        "at",
    );
    error(
        get(&history_url(app, &conv, "0"), &bo()).await,
        404,
        "not_found",
    );
    for token in [ann(), service()] {
        error(
            get(&history_url(app, &conv, "1000"), &token).await,
            403,
            "forbidden",
        );
    }
}

/// Each participant's `lastSeen` in a history answer, by user id.
fn last_seen_in(h: &Value) -> Vec<(String, Value)> {
    h["conversation"]["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            assert_eq!(keys(p), HISTORY_PARTICIPANT_KEYS, "{p}");
            (
                p["userId"].as_str().unwrap().to_string(),
                p["lastSeen"].clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn history_shows_a_last_seen_only_when_it_was_already_true_then() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = id_of(&created(open(app, &ann(), "bk_1").await));
    send(app, &ann(), &conv, "hello").await;
    send(app, &bo(), &conv, "hi, how can I help?").await;
    let before = point(app, &conv).await;

    // Ann connects and leaves: her lastSeen is the time of the close, after `before`.
    let mut socket = common::ws::connect(&app.base(), common::ws::Auth::Header(&ann())).await;
    socket.ws.close(None).await.expect("close the socket");
    common::log::eventually("Ann's lastSeen", || async {
        !conversation(app, &bo(), &conv).await["participants"][0]["lastSeen"].is_null()
    })
    .await;
    let live = conversation(app, &bo(), &conv).await;
    let seen = live["participants"][0]["lastSeen"].clone();
    assert_eq!(
        keys(&live["participants"][0]),
        ["joinedAt", "lastSeen", "name", "online", "role", "userId"]
    );
    assert!(millis(&seen) > millis(&json!(before.after)), "{seen}");
    tick().await;
    let after_close = concierge_events::Timestamp::now().to_rfc3339();
    tick().await;
    send(app, &ann(), &conv, "one more thing").await;
    let end = point(app, &conv).await;

    let unknown = vec![
        ("cus_ann".to_string(), Value::Null),
        ("adm_bo".to_string(), Value::Null),
    ];
    let known = vec![
        ("cus_ann".to_string(), seen.clone()),
        ("adm_bo".to_string(), Value::Null),
    ];
    // (moment, want): before the close her lastSeen then is not known (an earlier one, if any, is
    // not kept); from the close on it is the one she still has. Bo never connected: null throughout.
    for (at, want) in [
        (before.seq.to_string(), &unknown),
        (before.after.clone(), &unknown),
        (after_close.clone(), &known),
        (end.seq.to_string(), &known),
        (end.after.clone(), &known),
        ("2999-01-01T00:00:00.000Z".to_string(), &known),
    ] {
        let h = history(app, &conv, &at).await;
        assert_eq!(&last_seen_in(&h), want, "at={at}");
    }
    // A seq whose last event came after the close, though the log has gone on since.
    let page = events(app, &conv, "limit=1000").await;
    let s = seqs(&page);
    let last_message_seq = s[s.len() - 1];
    send(app, &bo(), &conv, "later").await;
    let h = history(app, &conv, &last_message_seq.to_string()).await;
    assert_eq!(last_seen_in(&h), known);
    assert_eq!(
        contents(&h["messages"]),
        vec!["hello", "hi, how can I help?", "one more thing"]
    );
}

/// Found by the API fuzzer: integers past `int64` (the OpenAPI document's bound) were taken.
#[tokio::test]
async fn after_and_a_seq_stay_within_int64() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = id_of(&created(open(app, &ann(), "bk_1").await));
    let page = events(app, &conv, "after=9223372036854775807").await;
    assert_eq!(page["events"], json!([]));
    invalid(
        get(&events_url(app, &conv, "after=9223372036854775808"), &bo()).await,
        "after",
    );
    // A seq is at most 19 digits after leading zeros (`^0*[0-9]{1,19}$`).
    history(app, &conv, "00000000000000000000000009999999999999999999").await;
    for at in ["10000000000000000000", "18446744073709551615"] {
        invalid(get(&history_url(app, &conv, at), &bo()).await, "at");
    }
}
