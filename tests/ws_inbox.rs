//! The support inbox over `/ws` and Socket.IO (docs/inbox.md, "Internal notes" and "Assignment";
//! WEBSOCKET.md and SOCKETIO.md, Server events): a note reaches admin sockets only, as
//! `new_message` (its author: `message_sent`) with `internal: true`, its edits and deletes as
//! `message_edited`/`message_deleted`; `mentioned` reaches the mentioned admins; the new assignee
//! gets `conversation_assigned`. A customer's sockets, joined to the room, get nothing of a note,
//! live or on `resume`.
//!
//! "Nothing" needs a barrier: a public message written after the note. Events of one conversation
//! reach a socket in `seq` order, so once its events have come, everything of the note that could
//! have come has; the customer's events since the mark must then be exactly the public message's.

mod common;

use common::fixtures::*;
use common::sio::{Answer, Codec, Socket};
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const CODECS: [Codec; 2] = [Codec::Ws, Codec::SocketIo];

fn dee() -> String {
    admin("adm_dee")
}

async fn socket(app: &App, codec: Codec, token: &str) -> Socket {
    Socket::connect(codec, &app.base(), token).await
}

/// A socket of `codec` for `token`, joined to `conv`'s room.
async fn joined(app: &App, codec: Codec, token: &str, conv: &str) -> Socket {
    let mut s = socket(app, codec, token).await;
    let answer = s
        .request("join_conversation", json!({ "conversationId": conv }))
        .await;
    assert!(matches!(answer, Answer::Ack(_)), "join: {answer:?}");
    s
}

/// Reads until an event satisfying `pred` (10 s at most).
async fn until(s: &mut Socket, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match s.next_within(left).await {
            Some(v) if pred(&v) => return v,
            Some(_) => continue,
            None => panic!(
                "no {what} on {:?} within 10 s; seen: {:#?}",
                s.codec(),
                s.seen()
            ),
        }
    }
}

/// Reads through the barrier: `event` of message `id`, then the `conversation_updated` after it.
async fn through(s: &mut Socket, event: &str, id: &Value) {
    until(s, &format!("{event} of {id}"), |v| {
        v["event"] == event && v["data"]["message"]["id"] == *id
    })
    .await;
    until(s, "conversation_updated", |v| {
        v["event"] == "conversation_updated"
    })
    .await;
}

/// The server events a socket received from `mark` on (an earlier `seen().len()`), without the
/// replies to its own requests, presence (which says nothing of a note) and `resume_complete`.
fn events_since(s: &Socket, mark: usize) -> Vec<Value> {
    s.seen()[mark..]
        .iter()
        .filter(|v| {
            let name = v["event"].as_str().unwrap_or("ack");
            !matches!(
                name,
                "ack" | "error" | "user_online" | "user_offline" | "resume_complete"
            )
        })
        .cloned()
        .collect()
}

/// `event:messageId` (or just `event`) of each event, to compare with what is expected.
fn names(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|v| {
            let event = v["event"].as_str().unwrap_or_default();
            match v["data"]["message"]["id"].as_str() {
                Some(id) => format!("{event}:{id}"),
                None => event.to_string(),
            }
        })
        .collect()
}

fn id(m: &Value) -> String {
    m["id"].as_str().expect("a message id").to_string()
}

fn note_url(app: &App, conv: &str, note: &Value) -> String {
    format!("{}/{}", messages_url(app, conv), id(note))
}

/// Writes a note over HTTP and asserts it is answered as one.
async fn note(app: &App, token: &str, conv: &str, content: &str, key: &str) -> Value {
    let body = json!({ "content": content, "internal": true, "clientMessageId": key });
    let note = data(send_body(app, token, conv, &body).await, 201);
    assert_eq!(note["internal"], json!(true), "{note}");
    note
}

#[track_caller]
fn assert_all_internal(events: &[Value], note: &Value) {
    for e in events
        .iter()
        .filter(|e| e["data"]["message"]["id"] == note["id"])
    {
        assert_eq!(e["data"]["message"]["internal"], json!(true), "{e}");
        assert_eq!(e["data"]["conversationId"], note["conversationId"], "{e}");
    }
}

#[tokio::test]
async fn a_note_its_edit_and_delete_reach_admins_on_both_codecs_and_no_customer_socket() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    // The author joins by writing to the customer; a note alone would not make them a participant.
    send(app, &bo(), &conv, "Hello Ann").await;
    let mut customers = Vec::new();
    let mut mentioned = Vec::new();
    let mut admins = Vec::new();
    let mut author = Vec::new();
    for codec in CODECS {
        customers.push(joined(app, codec, &ann(), &conv).await);
        mentioned.push(socket(app, codec, &cy()).await);
        admins.push(socket(app, codec, &dee()).await);
        author.push(joined(app, codec, &bo(), &conv).await);
    }
    let all = || {
        customers
            .iter()
            .chain(&mentioned)
            .chain(&admins)
            .chain(&author)
    };
    let marks: Vec<usize> = all().map(|s| s.seen().len()).collect();

    let n = note(
        app,
        &bo(),
        &conv,
        "VIP guest: @adm_cy please call; @cus_ann must not know",
        "note-1",
    )
    .await;
    let url = note_url(app, &conv, &n);
    let edited = data(
        patch(&url, &bo(), &json!({ "content": "VIP guest" })).await,
        200,
    );
    assert_eq!(edited["internal"], json!(true), "{edited}");
    data(delete(&url, &bo()).await, 200);
    let public = send(app, &bo(), &conv, "Welcome to the hotel!").await;

    let (note_id, public_id) = (id(&n), id(&public));
    let sent = |e: &str, m: &str| format!("{e}:{m}");
    let expected_customer = vec![
        sent("new_message", &public_id),
        "conversation_updated".into(),
    ];
    let mut expected_admin = vec![
        sent("new_message", &note_id),
        sent("message_edited", &note_id),
        sent("message_deleted", &note_id),
    ];
    expected_admin.extend(expected_customer.clone());
    let mut expected_mentioned = expected_admin.clone();
    expected_mentioned.insert(1, sent("mentioned", &note_id));
    let expected_author = vec![
        sent("message_sent", &note_id),
        sent("message_edited", &note_id),
        sent("message_deleted", &note_id),
        sent("message_sent", &public_id),
        "conversation_updated".into(),
    ];

    let groups = [
        (&mut customers, "new_message", &expected_customer),
        (&mut mentioned, "new_message", &expected_mentioned),
        (&mut admins, "new_message", &expected_admin),
        (&mut author, "message_sent", &expected_author),
    ];
    let mut mark = marks.into_iter();
    for (sockets, barrier, expected) in groups {
        for s in sockets.iter_mut() {
            let from = mark.next().unwrap();
            through(s, barrier, &public["id"]).await;
            let got = events_since(s, from);
            assert_eq!(&names(&got), expected, "{:?}: {got:#?}", s.codec());
            assert_all_internal(&got, &n);
            if let Some(sent) = got.iter().find(|e| e["event"] == "message_sent") {
                assert_eq!(sent["data"]["clientMessageId"], json!("note-1"), "{sent}");
            }
            if let Some(m) = got.iter().find(|e| e["event"] == "mentioned") {
                assert_eq!(m["data"]["by"], json!("adm_bo"), "{m}");
                assert_eq!(m["data"]["conversationId"], json!(conv), "{m}");
            }
            if let Some(d) = got.iter().find(|e| e["event"] == "message_deleted") {
                assert_eq!(d["data"]["message"]["isDeleted"], json!(true), "{d}");
            }
        }
    }
}

#[tokio::test]
async fn a_note_sent_over_either_codec_reaches_admins_only() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    send(app, &bo(), &conv, "Hello Ann").await;
    let mut customer = joined(app, Codec::Ws, &ann(), &conv).await;
    let mut customer_sio = joined(app, Codec::SocketIo, &ann(), &conv).await;
    let mut other = socket(app, Codec::Ws, &cy()).await;
    let marks = [
        customer.seen().len(),
        customer_sio.seen().len(),
        other.seen().len(),
    ];

    let mut notes = Vec::new();
    for codec in CODECS {
        let mut s = socket(app, codec, &bo()).await;
        let body = json!({
            "conversationId": conv,
            "content": format!("note over {codec:?}"),
            "internal": true,
        });
        let Answer::Ack(ack) = s.request("send_message", body).await else {
            panic!("send_message with internal refused over {codec:?}");
        };
        assert_eq!(ack["message"]["internal"], json!(true), "{ack}");
        notes.push(ack["message"].clone());
        // A customer may not write one.
        let mut c = socket(app, codec, &ann()).await;
        let body = json!({ "conversationId": conv, "content": "mine", "internal": true });
        let answer = c.request("send_message", body).await;
        assert_eq!(answer.outcome(), "forbidden", "{answer:?}");
    }
    let public = send(app, &bo(), &conv, "public").await;

    for (s, mark) in [&mut customer, &mut customer_sio].into_iter().zip(marks) {
        through(s, "new_message", &public["id"]).await;
        let got = events_since(s, mark);
        let expected = vec![
            format!("new_message:{}", id(&public)),
            "conversation_updated".into(),
        ];
        assert_eq!(names(&got), expected, "{:?}: {got:#?}", s.codec());
    }
    through(&mut other, "new_message", &public["id"]).await;
    let got = events_since(&other, marks[2]);
    let expected: Vec<String> = notes
        .iter()
        .map(|n| format!("new_message:{}", id(n)))
        .chain([
            format!("new_message:{}", id(&public)),
            "conversation_updated".into(),
        ])
        .collect();
    assert_eq!(names(&got), expected, "{got:#?}");
    for n in &notes {
        assert_all_internal(&got, n);
    }
}

#[tokio::test]
async fn resume_from_before_a_note_gives_it_to_admins_and_nothing_of_it_to_the_customer() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    send(app, &bo(), &conv, "Hello Ann").await;
    let before = send(app, &ann(), &conv, "is late check-out possible?").await;
    let since = before["seq"].as_u64().expect("a seq");
    let n = note(app, &bo(), &conv, "@adm_cy ask housekeeping", "note-r").await;
    let url = note_url(app, &conv, &n);
    data(
        patch(&url, &bo(), &json!({ "content": "@adm_cy ask them" })).await,
        200,
    );
    let public = send(app, &bo(), &conv, "Yes, until 2 pm").await;
    let (note_id, public_id) = (id(&n), id(&public));

    for codec in CODECS {
        for (token, expected) in [
            (
                ann(),
                vec![
                    format!("new_message:{public_id}"),
                    "conversation_updated".into(),
                ],
            ),
            (
                cy(),
                vec![
                    format!("new_message:{note_id}"),
                    format!("mentioned:{note_id}"),
                    format!("message_edited:{note_id}"),
                    format!("new_message:{public_id}"),
                    "conversation_updated".into(),
                ],
            ),
        ] {
            let mut s = socket(app, codec, &token).await;
            let mark = s.seen().len();
            let answer = s.request("resume", json!({ "since": since })).await;
            assert!(matches!(answer, Answer::Ack(_)), "{answer:?}");
            let got = events_since(&s, mark);
            assert_eq!(names(&got), expected, "{codec:?}: {got:#?}");
            assert_all_internal(&got, &n);
        }
    }
}

#[tokio::test]
async fn the_new_assignee_is_told_on_their_admin_sockets_and_the_customer_nothing() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let mut customer = socket(app, Codec::Ws, &ann()).await;
    let (mut cys, mut dees) = (Vec::new(), Vec::new());
    for codec in CODECS {
        cys.push(socket(app, codec, &cy()).await);
        dees.push(socket(app, codec, &dee()).await);
    }
    let assignee_url = format!("{}/assignee", conv_url(app, &conv));

    let mark_customer = customer.seen().len();
    let marks_cy: Vec<usize> = cys.iter().map(|s| s.seen().len()).collect();
    let marks_dee: Vec<usize> = dees.iter().map(|s| s.seen().len()).collect();
    let c = data(
        put(&assignee_url, &bo(), &json!({ "userId": "adm_cy" })).await,
        200,
    );
    assert_eq!(c["assignee"], json!("adm_cy"), "{c}");
    let c = data(
        put(&assignee_url, &bo(), &json!({ "userId": "adm_dee" })).await,
        200,
    );
    assert_eq!(c["assignee"], json!("adm_dee"), "{c}");
    let public = send(app, &ann(), &conv, "anyone there?").await;

    // Without the `seq` Socket.IO adds to `data`.
    let assigned = |from: Value, to: &str| json!({ "conversationId": conv, "from": from, "to": to, "by": "adm_bo" });
    let without_seq = |e: &Value| {
        let mut d = e["data"].clone();
        d.as_object_mut().expect("an object").remove("seq");
        d
    };
    let updated = "conversation_updated".to_string();
    let barrier = vec![format!("new_message:{}", id(&public)), updated.clone()];
    for (s, mark) in cys.iter_mut().zip(marks_cy) {
        through(s, "new_message", &public["id"]).await;
        let got = events_since(s, mark);
        let mut expected = vec![
            updated.clone(),
            "conversation_assigned".into(),
            updated.clone(),
        ];
        expected.extend(barrier.clone());
        assert_eq!(names(&got), expected, "{:?}: {got:#?}", s.codec());
        assert_eq!(
            without_seq(&got[1]),
            assigned(Value::Null, "adm_cy"),
            "{got:#?}"
        );
        assert_eq!(got[0]["data"]["conversation"]["assignee"], json!("adm_cy"));
    }
    for (s, mark) in dees.iter_mut().zip(marks_dee) {
        through(s, "new_message", &public["id"]).await;
        let got = events_since(s, mark);
        let mut expected = vec![
            updated.clone(),
            updated.clone(),
            "conversation_assigned".into(),
        ];
        expected.extend(barrier.clone());
        assert_eq!(names(&got), expected, "{:?}: {got:#?}", s.codec());
        assert_eq!(
            without_seq(&got[2]),
            assigned(json!("adm_cy"), "adm_dee"),
            "{got:#?}"
        );
    }
    // The customer's Conversation did not change: nothing of the assignments reaches them.
    through(&mut customer, "message_sent", &public["id"]).await;
    let got = events_since(&customer, mark_customer);
    let expected = vec![format!("message_sent:{}", id(&public)), updated];
    assert_eq!(names(&got), expected, "{got:#?}");
    let c = &got[1]["data"]["conversation"];
    assert!(
        c.get("assignee").is_none(),
        "a customer sees no assignee: {c}"
    );
}
