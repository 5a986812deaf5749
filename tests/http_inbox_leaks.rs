//! Internal notes never reach a customer (docs/inbox.md, "A customer never sees a note by any
//! path"). One conversation is scripted with notes (one edited, one deleted, one replying to a
//! message, one as the newest event) and a control conversation of the same customer is scripted
//! the same way without them. The customer then reads both through every HTTP route: the answers
//! must be the same modulo ids and times, carry no note's content or id, and every route that names
//! a note answers exactly as for an id that does not exist.

mod common;

use common::*;
use serde_json::{json, Value};

const NOTED: &str = "bk_noted";
const CONTROL: &str = "bk_control";
/// Every note's content carries it; no customer answer may.
const SECRET: &str = "SECRET";

fn ann() -> String {
    customer("cus_ann", &[NOTED, CONTROL])
}

fn bo() -> String {
    admin("adm_bo")
}

fn cy() -> String {
    admin("adm_cy")
}

struct Scripted {
    conv: String,
    /// The six messages the customer sees, oldest first.
    messages: Vec<Value>,
    /// The notes (empty in the control), as answered when written.
    notes: Vec<Value>,
}

async fn note(app: &App, token: &str, conv: &str, body: Value) -> Value {
    let mut body = body;
    body["internal"] = json!(true);
    let n = data(send_body(app, token, conv, &body).await, 201);
    assert_eq!(n["internal"], json!(true));
    n
}

/// The same conversation on `booking`, with the notes or without.
async fn script(app: &App, booking: &str, with_notes: bool) -> Scripted {
    let conv = id_of(&created(open(app, &ann(), booking).await));
    let mut messages = Vec::new();
    let mut notes = Vec::new();
    let m1 = send(app, &ann(), &conv, "hello").await;
    messages.push(m1.clone());
    let m2 = data(
        send_body(
            app,
            &bo(),
            &conv,
            &json!({ "content": "Hi, how can I help?", "replyTo": m1["id"] }),
        )
        .await,
        201,
    );
    messages.push(m2);
    if with_notes {
        notes.push(
            note(
                app,
                &bo(),
                &conv,
                json!({ "content": format!("{SECRET}-1 vip guest"), "replyTo": m1["id"] }),
            )
            .await,
        );
    }
    let m3 = send(app, &ann(), &conv, "Late check-out?").await;
    messages.push(m3.clone());
    if with_notes {
        let n2 = note(
            app,
            &cy(),
            &conv,
            json!({ "content": format!("{SECRET}-2 draft") }),
        )
        .await;
        let url = format!(
            "{}/{}",
            messages_url(app, &conv),
            n2["id"].as_str().unwrap()
        );
        let edited = data(
            patch(
                &url,
                &cy(),
                &json!({ "content": format!("{SECRET}-2 edited") }),
            )
            .await,
            200,
        );
        assert_eq!(edited["isEdited"], json!(true));
        notes.push(n2);
        let n3 = note(
            app,
            &bo(),
            &conv,
            json!({ "content": format!("{SECRET}-3 gone") }),
        )
        .await;
        let url = format!(
            "{}/{}",
            messages_url(app, &conv),
            n3["id"].as_str().unwrap()
        );
        data(delete(&url, &bo()).await, 200);
        notes.push(n3);
    }
    let m4 = data(
        send_body(
            app,
            &bo(),
            &conv,
            &json!({ "content": "Yes, until 2pm.", "replyTo": m3["id"] }),
        )
        .await,
        201,
    );
    messages.push(m4);
    messages.push(send(app, &ann(), &conv, "Thanks!").await);
    messages.push(send(app, &bo(), &conv, "You're welcome.").await);
    if with_notes {
        notes.push(
            note(
                app,
                &cy(),
                &conv,
                json!({ "content": format!("{SECRET}-4 newest, @adm_bo") }),
            )
            .await,
        );
    }
    Scripted {
        conv,
        messages,
        notes,
    }
}

fn is_ulid(s: &str) -> bool {
    s.len() == 26
        && s.chars()
            .all(|c| "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c))
}

fn is_time(s: &str) -> bool {
    s.len() == 24 && s.ends_with('Z') && s.as_bytes()[10] == b'T'
}

/// `v` with every id replaced by its rank of first appearance, every time and `seq` by a
/// placeholder, and the booking ids by one name: what must be equal between the noted
/// conversation and the control.
fn shape(v: &Value) -> Value {
    let text = v
        .to_string()
        .replace(NOTED, "bk_x")
        .replace(CONTROL, "bk_x");
    let v: Value = serde_json::from_str(&text).unwrap();
    let mut seen = Vec::new();
    shape_in(&v, &mut seen)
}

fn shape_in(v: &Value, seen: &mut Vec<String>) -> Value {
    match v {
        Value::String(s) if is_ulid(s) => {
            let k = seen.iter().position(|x| x == s).unwrap_or_else(|| {
                seen.push(s.clone());
                seen.len() - 1
            });
            json!(format!("<id {k}>"))
        }
        Value::String(s) if is_time(s) => json!("<time>"),
        Value::Array(a) => Value::Array(a.iter().map(|x| shape_in(x, seen)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    let x = if k == "seq" {
                        json!("<seq>")
                    } else {
                        shape_in(x, seen)
                    };
                    (k.clone(), x)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Asserts that nothing of the notes is in `body`: no content, no id.
#[track_caller]
fn clean(body: &Value, notes: &[Value], what: &str) {
    let text = body.to_string();
    assert!(
        !text.contains(SECRET),
        "{what} carries a note's content: {text}"
    );
    for n in notes {
        let id = n["id"].as_str().unwrap();
        assert!(!text.contains(id), "{what} carries note id {id}: {text}");
    }
}

/// The full answer (status and body) of a request, for comparing refusals byte for byte.
async fn answer(
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let (headers, bytes): (&[(&str, &str)], _) = match &body {
        Some(b) => (
            &[("content-type", "application/json")],
            Some(serde_json::to_vec(b).unwrap()),
        ),
        None => (&[], None),
    };
    let r = raw(method, url, Some(token), headers, bytes).await;
    (r.status.as_u16(), r.body)
}

#[tokio::test]
async fn a_customer_sees_nothing_of_the_notes_by_any_route() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let n = script(app, NOTED, true).await;
    let c = script(app, CONTROL, false).await;
    assert_eq!(n.notes.len(), 4);
    let last = n.messages.last().unwrap();

    // Route 1: the list. Both conversations, the same but for ids and times.
    let list = data(get(&app.url("/messaging/conversations"), &ann()).await, 200);
    clean(&list, &n.notes, "route 1");
    let of = |id: &str| -> Value {
        list["conversations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == id)
            .unwrap_or_else(|| panic!("{id} not listed: {list}"))
            .clone()
    };
    let (ln, lc) = (of(&n.conv), of(&c.conv));
    assert_eq!(shape(&ln), shape(&lc));
    assert_eq!(ln["lastMessage"]["id"], last["id"]);
    assert_eq!(ln["lastMessage"]["content"], "You're welcome.");
    assert_eq!(ln["updatedAt"], last["createdAt"], "a note moved updatedAt");
    assert_eq!(ln["unreadCount"], 1);
    assert_eq!(ln["unreadCounts"], json!({ "adm_bo": 0, "cus_ann": 1 }));
    assert_eq!(lc["unreadCounts"], json!({ "adm_bo": 0, "cus_ann": 1 }));
    assert_eq!(list["pagination"]["total"], 2);
    // The noted conversation is older than the control in both scripts' last message, so the
    // order is by the messages only.
    assert_eq!(
        ids(&list["conversations"]),
        vec![c.conv.clone(), n.conv.clone()]
    );

    // Route 7 and route 2: the same Conversation.
    let cn = conversation(app, &ann(), &n.conv).await;
    let cc = conversation(app, &ann(), &c.conv).await;
    clean(&cn, &n.notes, "route 7");
    assert_eq!(shape(&cn), shape(&cc));
    assert_eq!(cn, ln, "route 7 and route 1 differ");
    let on = data(open(app, &ann(), NOTED).await, 200);
    let oc = data(open(app, &ann(), CONTROL).await, 200);
    clean(&on, &n.notes, "route 2");
    assert_eq!(shape(&on), shape(&oc));
    assert_eq!(on, cn);

    // The admins see the same lastMessage, updatedAt and unread counts.
    let an = conversation(app, &bo(), &n.conv).await;
    let ac = conversation(app, &bo(), &c.conv).await;
    for field in ["lastMessage", "unreadCount", "unreadCounts", "participants"] {
        assert_eq!(shape(&an[field]), shape(&ac[field]), "{field}");
    }
    assert_eq!(an["updatedAt"], last["createdAt"]);
    assert_eq!(an["waitingSince"], json!(null));
    // An admin who never joined has read nothing: notes are not counted for them either.
    let (yn, yc) = (
        conversation(app, &cy(), &n.conv).await,
        conversation(app, &cy(), &c.conv).await,
    );
    assert_eq!(yn["unreadCount"], 6);
    assert_eq!(yc["unreadCount"], 6);

    // Routes 8, 9, 10 on a note's id: exactly as an id that does not exist.
    let unknown = fixtures::UNKNOWN_ULID;
    let murl = |id: &str| format!("{}/{id}", messages_url(app, &n.conv));
    let count0 = log::events(app.nats_url(), &n.conv).await.len();
    for note in &n.notes {
        let id = note["id"].as_str().unwrap();
        type Req = (reqwest::Method, String, Option<Value>);
        let requests: [(Req, Req); 4] = [
            (
                (
                    reqwest::Method::PATCH,
                    murl(id),
                    Some(json!({ "content": "x" })),
                ),
                (
                    reqwest::Method::PATCH,
                    murl(unknown),
                    Some(json!({ "content": "x" })),
                ),
            ),
            (
                (reqwest::Method::DELETE, murl(id), None),
                (reqwest::Method::DELETE, murl(unknown), None),
            ),
            (
                (
                    reqwest::Method::POST,
                    format!("{}/reactions", murl(id)),
                    Some(json!({ "emoji": "👍" })),
                ),
                (
                    reqwest::Method::POST,
                    format!("{}/reactions", murl(unknown)),
                    Some(json!({ "emoji": "👍" })),
                ),
            ),
            (
                (
                    reqwest::Method::DELETE,
                    format!("{}/reactions/%F0%9F%91%8D", murl(id)),
                    None,
                ),
                (
                    reqwest::Method::DELETE,
                    format!("{}/reactions/%F0%9F%91%8D", murl(unknown)),
                    None,
                ),
            ),
        ];
        for ((m1, u1, b1), (m2, u2, b2)) in requests {
            let got = answer(m1.clone(), &u1, &ann(), b1).await;
            let want = answer(m2, &u2, &ann(), b2).await;
            assert_eq!(got.0, 404, "{m1} {u1}: {got:?}");
            assert_eq!(got, want, "{m1} on a note differs from an unknown id");
            clean(&got.1, &n.notes, "routes 8-10");
        }
        // replyTo a note: 400 exactly as a random id; nothing written.
        let got = answer(
            reqwest::Method::POST,
            &messages_url(app, &n.conv),
            &ann(),
            Some(json!({ "content": "re", "replyTo": id })),
        )
        .await;
        let want = answer(
            reqwest::Method::POST,
            &messages_url(app, &n.conv),
            &ann(),
            Some(json!({ "content": "re", "replyTo": unknown })),
        )
        .await;
        assert_eq!(got.0, 400, "{got:?}");
        assert_eq!(got, want, "replyTo a note differs from an unknown id");
        // before=<note id>: 400 exactly as a random id (and nothing is marked read).
        let got = answer(
            reqwest::Method::GET,
            &format!("{}?before={id}", messages_url(app, &n.conv)),
            &ann(),
            None,
        )
        .await;
        let want = answer(
            reqwest::Method::GET,
            &format!("{}?before={unknown}", messages_url(app, &n.conv)),
            &ann(),
            None,
        )
        .await;
        assert_eq!(got.0, 400, "{got:?}");
        assert_eq!(got, want, "before=<note> differs from an unknown id");
    }
    assert_eq!(
        log::events(app.nats_url(), &n.conv).await.len(),
        count0,
        "a refused request wrote"
    );

    // Routes 14 and 15: admins only, the same refusal for both conversations.
    for tail in ["events", "history?at=1"] {
        let got = answer(
            reqwest::Method::GET,
            &format!("{}/{tail}", conv_url(app, &n.conv)),
            &ann(),
            None,
        )
        .await;
        let want = answer(
            reqwest::Method::GET,
            &format!("{}/{tail}", conv_url(app, &c.conv)),
            &ann(),
            None,
        )
        .await;
        assert_eq!(got.0, 403, "{tail}: {got:?}");
        assert_eq!(got, want);
    }

    // Route 5: the read answer counts the same.
    let rn = data(
        put_empty(&format!("{}/read", conv_url(app, &n.conv)), &ann()).await,
        200,
    );
    let rc = data(
        put_empty(&format!("{}/read", conv_url(app, &c.conv)), &ann()).await,
        200,
    );
    assert_eq!(rn["marked"], 1);
    assert_eq!(rn["unreadCount"], 0);
    assert_eq!(shape(&rn), shape(&rc));

    // Route 3: pages and cursors, the same six messages.
    let pn = list_messages(app, &ann(), &n.conv, "limit=50").await;
    let pc = list_messages(app, &ann(), &c.conv, "limit=50").await;
    clean(&pn, &n.notes, "route 3");
    assert_eq!(shape(&pn), shape(&pc));
    assert_eq!(ids(&pn["messages"]), ids(&json!(n.messages)));
    assert_eq!(
        pn["pagination"],
        json!({ "page": 1, "limit": 50, "total": 6, "pages": 1, "hasMore": false })
    );
    let seqs: Vec<u64> = pn["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    for page in 1..=4 {
        let q = format!("limit=2&page={page}");
        let pn = list_messages(app, &ann(), &n.conv, &q).await;
        let pc = list_messages(app, &ann(), &c.conv, &q).await;
        clean(&pn, &n.notes, "route 3 pages");
        assert_eq!(shape(&pn), shape(&pc), "{q}");
        assert_eq!(pn["pagination"]["total"], 6);
        assert_eq!(pn["pagination"]["pages"], 3);
    }
    let page2 = list_messages(app, &ann(), &n.conv, "limit=2&page=2").await;
    assert_eq!(
        contents(&page2["messages"]),
        vec!["Late check-out?", "Yes, until 2pm."]
    );
    for (i, limit) in [(2, 2), (4, 2), (5, 10), (1, 1)] {
        let qn = format!(
            "limit={limit}&before={}",
            n.messages[i]["id"].as_str().unwrap()
        );
        let qc = format!(
            "limit={limit}&before={}",
            c.messages[i]["id"].as_str().unwrap()
        );
        let pn = list_messages(app, &ann(), &n.conv, &qn).await;
        let pc = list_messages(app, &ann(), &c.conv, &qc).await;
        clean(&pn, &n.notes, "route 3 before");
        assert_eq!(shape(&pn), shape(&pc), "{qn}");
        let want: Vec<String> = n.messages[i.saturating_sub(limit)..i]
            .iter()
            .map(id_of)
            .collect();
        assert_eq!(ids(&pn["messages"]), want, "{qn}");
        assert_eq!(pn["pagination"]["hasMore"], json!(i > limit), "{qn}");
    }

    // After reading, both conversations are the same to the customer again.
    let cn = conversation(app, &ann(), &n.conv).await;
    let cc = conversation(app, &ann(), &c.conv).await;
    assert_eq!(shape(&cn), shape(&cc));
    assert_eq!(cn["unreadCount"], 0);

    // The admins' page: the ten messages and notes, by seq, notes as they stand now.
    let page = list_messages(app, &bo(), &n.conv, "limit=100").await;
    // The marker `clean` looks for is there for admins (so its absence above means something).
    assert!(page.to_string().contains(SECRET));
    assert!(page
        .to_string()
        .contains(n.notes[3]["id"].as_str().unwrap()));
    assert_eq!(
        contents(&page["messages"]),
        vec![
            "hello",
            "Hi, how can I help?",
            "SECRET-1 vip guest",
            "Late check-out?",
            "SECRET-2 edited",
            "",
            "Yes, until 2pm.",
            "Thanks!",
            "You're welcome.",
            "SECRET-4 newest, @adm_bo",
        ]
    );
    let msgs = page["messages"].as_array().unwrap();
    let internal: Vec<bool> = msgs
        .iter()
        .map(|m| m["internal"].as_bool().unwrap())
        .collect();
    assert_eq!(
        internal,
        vec![false, false, true, false, true, true, false, false, false, true]
    );
    let seqs: Vec<u64> = msgs.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert_eq!(msgs[2]["replyTo"], n.messages[0]["id"]);
    assert_eq!(msgs[4]["isEdited"], json!(true));
    assert_eq!(msgs[5]["isDeleted"], json!(true));
    // A note is unread for nobody, so nobody's read covers it: it has no receipts, although bo
    // and the customer have read past every one of them.
    for m in msgs.iter().filter(|m| m["internal"] == json!(true)) {
        assert_eq!(m["readBy"], json!([]), "{m}");
    }
    assert_eq!(
        msgs[6]["readBy"],
        json!([{ "user": "cus_ann", "readAt": msgs[6]["readBy"][0]["readAt"] }])
    );
    assert_eq!(page["pagination"]["total"], 10);
    let ns: Vec<String> = n.notes.iter().map(id_of).collect();
    assert_eq!(
        vec![
            id_of(&msgs[2]),
            id_of(&msgs[4]),
            id_of(&msgs[5]),
            id_of(&msgs[9])
        ],
        ns
    );
    // The newest note's mention is in its event.
    let events = log::events(app.nats_url(), &n.conv).await;
    let added: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "note_added")
        .collect();
    assert_eq!(added.len(), 4);
    assert_eq!(added[3]["data"]["mentions"], json!(["adm_bo"]));
    assert_eq!(added[0]["data"]["mentions"], json!([]));
    // A consumer that knows only messages finds none of the notes among them.
    for e in events.iter().filter(|e| e["type"] == "message_sent") {
        assert!(!e.to_string().contains(SECRET), "{e}");
    }

    // Search (docs/search.md): a note's words, old or current, find nothing for the customer, in
    // either conversation or in all; a message's words find the same in both.
    searchable(app).await;
    let none = json!({ "results": [], "nextCursor": null });
    for words in [
        "SECRET", "secret*", "vip", "guest", "draft", "edited", "gone", "newest", "adm_bo",
    ] {
        let all = data(search(app, &ann(), &q(words)).await, 200);
        assert_eq!(all, none, "{words}");
        for conv in [&n.conv, &c.conv] {
            let one = data(
                search(app, &ann(), &format!("{}&conversationId={conv}", q(words))).await,
                200,
            );
            assert_eq!(one, none, "{words} in {conv}");
        }
    }
    for (words, found) in [
        ("check", 1),
        ("welcome", 1),
        ("h*", 2),
        ("\"until 2pm\"", 1),
    ] {
        let rn = data(
            search(
                app,
                &ann(),
                &format!("{}&conversationId={}", q(words), n.conv),
            )
            .await,
            200,
        );
        let rc = data(
            search(
                app,
                &ann(),
                &format!("{}&conversationId={}", q(words), c.conv),
            )
            .await,
            200,
        );
        clean(&rn, &n.notes, "search");
        assert_eq!(
            rn["results"].as_array().unwrap().len(),
            found,
            "{words}: {rn}"
        );
        assert_eq!(shape(&rn), shape(&rc), "{words}");
    }
    // The marker is there for admins: the three notes standing, newest first, by current text.
    let found = data(
        search(
            app,
            &bo(),
            &format!("{}&conversationId={}", q("secret"), n.conv),
        )
        .await,
        200,
    );
    let snippets: Vec<&str> = found["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["snippet"].as_str().unwrap())
        .collect();
    assert_eq!(
        snippets,
        [
            "SECRET-4 newest, @adm_bo",
            "SECRET-2 edited",
            "SECRET-1 vip guest"
        ]
    );
    assert!(found["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["internal"] == json!(true)));
}

#[tokio::test]
async fn a_note_moves_nobodys_unread_count() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = id_of(&created(open(app, &ann(), NOTED).await));
    send(app, &ann(), &conv, "question").await;
    send(app, &bo(), &conv, "answer").await;
    send(app, &ann(), &conv, "follow-up").await;

    let counts = |c: &Value| (c["unreadCount"].clone(), c["unreadCounts"].clone());
    let before_customer = counts(&conversation(app, &ann(), &conv).await);
    let before_bo = counts(&conversation(app, &bo(), &conv).await);
    let before_cy = counts(&conversation(app, &cy(), &conv).await);
    assert_eq!(before_customer.0, 0);
    assert_eq!(before_bo.0, 1);
    assert_eq!(before_cy.0, 3);
    assert_eq!(before_bo.1, json!({ "adm_bo": 1, "cus_ann": 0 }));

    // A note by a participant admin, by one who never joined, and one replying to a note.
    let n1 = note(app, &bo(), &conv, json!({ "content": "SECRET by bo" })).await;
    note(
        app,
        &cy(),
        &conv,
        json!({ "content": "SECRET by cy", "replyTo": n1["id"] }),
    )
    .await;
    assert_eq!(
        counts(&conversation(app, &ann(), &conv).await),
        before_customer
    );
    assert_eq!(counts(&conversation(app, &bo(), &conv).await), before_bo);
    assert_eq!(counts(&conversation(app, &cy(), &conv).await), before_cy);
    // Writing notes did not make cy a participant: cy's own list is empty.
    let mine = data(
        get(&app.url("/messaging/conversations?mine=true"), &cy()).await,
        200,
    );
    assert_eq!(mine["pagination"]["total"], 0);

    // Writing a note is no read: bo's count stays 1 until bo reads, which marks one message.
    let r = data(
        put_empty(&format!("{}/read", conv_url(app, &conv)), &bo()).await,
        200,
    );
    assert_eq!(r["marked"], 1);
    send(app, &bo(), &conv, "reply").await;
    note(
        app,
        &cy(),
        &conv,
        json!({ "content": "SECRET after the reply" }),
    )
    .await;
    note(app, &bo(), &conv, json!({ "content": "SECRET newest" })).await;
    let c = conversation(app, &ann(), &conv).await;
    assert_eq!(c["unreadCount"], 1);
    assert_eq!(c["unreadCounts"], json!({ "adm_bo": 0, "cus_ann": 1 }));
    // The customer's list says the same.
    let list = data(get(&app.url("/messaging/conversations"), &ann()).await, 200);
    assert_eq!(counts(&list["conversations"][0]), counts(&c));
    clean(&list, std::slice::from_ref(&n1), "route 1");
    // The customer's read marks the one message, not the notes.
    let r = data(
        put_empty(&format!("{}/read", conv_url(app, &conv)), &ann()).await,
        200,
    );
    assert_eq!(r["marked"], 1);
    // A note after everything was read leaves every count at 0.
    note(app, &cy(), &conv, json!({ "content": "SECRET again" })).await;
    let c = conversation(app, &ann(), &conv).await;
    assert_eq!(c["unreadCount"], 0);
    assert_eq!(c["unreadCounts"], json!({ "adm_bo": 0, "cus_ann": 0 }));
    assert_eq!(conversation(app, &bo(), &conv).await["unreadCount"], 0);
    // Nothing is unread for the customer, so reading writes nothing.
    let n0 = log::events(app.nats_url(), &conv).await.len();
    let r = data(
        put_empty(&format!("{}/read", conv_url(app, &conv)), &ann()).await,
        200,
    );
    assert_eq!(r["marked"], 0);
    let page = list_messages(app, &ann(), &conv, "").await;
    assert_eq!(page["pagination"]["total"], 4);
    clean(&page, &[n1], "route 3");
    assert_eq!(log::events(app.nats_url(), &conv).await.len(), n0);
}

#[tokio::test]
async fn the_last_message_skips_notes_when_the_newest_message_is_deleted() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = id_of(&created(open(app, &ann(), NOTED).await));
    let one = send(app, &ann(), &conv, "one").await;
    let n1 = note(app, &bo(), &conv, json!({ "content": "SECRET between" })).await;
    let two = send(app, &ann(), &conv, "two").await;
    let n2 = note(app, &bo(), &conv, json!({ "content": "SECRET newest" })).await;
    let url = format!(
        "{}/{}",
        messages_url(app, &conv),
        two["id"].as_str().unwrap()
    );
    data(delete(&url, &ann()).await, 200);
    for token in [ann(), bo()] {
        let c = conversation(app, &token, &conv).await;
        assert_eq!(c["lastMessage"]["id"], one["id"], "{c}");
        assert_eq!(c["lastMessage"]["content"], "one");
        clean(&c, &[n1.clone(), n2.clone()], "route 7");
    }
    // Every message deleted: `null`, though notes remain.
    let url = format!(
        "{}/{}",
        messages_url(app, &conv),
        one["id"].as_str().unwrap()
    );
    data(delete(&url, &ann()).await, 200);
    let c = conversation(app, &ann(), &conv).await;
    assert_eq!(c["lastMessage"], Value::Null);
    let page = list_messages(app, &ann(), &conv, "").await;
    assert_eq!(page["pagination"]["total"], 2);
    clean(&page, &[n1, n2], "route 3");
}

#[tokio::test]
async fn the_raw_events_carry_notes_for_admins_and_the_platform_only() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = id_of(&created(open(app, &ann(), NOTED).await));
    send(app, &ann(), &conv, "hello").await;
    let n = note(
        app,
        &bo(),
        &conv,
        json!({ "content": "SECRET for the team" }),
    )
    .await;
    let url = format!("{}/events", conv_url(app, &conv));
    for token in [bo(), service()] {
        let ev = data(get(&url, &token).await, 200);
        let added: Vec<&Value> = ev["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "note_added")
            .collect();
        assert_eq!(added.len(), 1);
        assert_eq!(added[0]["data"]["messageId"], n["id"]);
    }
    let refused = get(&url, &ann()).await;
    clean(&refused.1, &[n], "route 14 refused");
    error(refused, 403, "forbidden");
}
