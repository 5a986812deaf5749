//! Resume over Socket.IO (SOCKETIO.md, Server events; WEBSOCKET.md, Guarantees): a client that keeps
//! the largest `data.seq` it has seen and reconnects with `auth.since` gets every event it missed
//! exactly once, in `seq` order, then `resume_complete`; the `resume` event does the same with its
//! ack after `resume_complete`; a cursor older than the log keeps gets `resume_failed`.

mod common;

use common::fixtures::conversation_of;
use common::sio::{connect, connect_with, Auth, Client};
use common::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const BURST: usize = 500;
const BURST_CONCURRENCY: usize = 8;

/// The `data.seq` of an event that comes from the log.
fn seq(v: &Value) -> u64 {
    v["data"]["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("no data.seq in {v}"))
}

fn has_seq(v: &Value) -> bool {
    v["data"]["seq"].is_u64()
}

/// Events of `name` among `seen`.
fn of<'a>(seen: &'a [Value], name: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    seen.iter().filter(move |v| v["event"] == name)
}

/// Reads until `resume_complete` or `resume_failed` (included); returns what came.
async fn until_resume_end(c: &mut Client) -> Vec<Value> {
    let mut got = Vec::new();
    loop {
        let Some(v) = c.next_within(Duration::from_secs(10)).await else {
            panic!("no resume_complete within 10 s; so far: {got:#?}");
        };
        let end = v["event"] == "resume_complete" || v["event"] == "resume_failed";
        got.push(v);
        if end {
            return got;
        }
    }
}

/// Emits `resume {since}` with ack id `id`; returns the events up to `resume_complete` or
/// `resume_failed` (included) and the ack, which must be the very next packet.
async fn resume(c: &mut Client, since: Value, id: u64) -> (Vec<Value>, Value) {
    c.send_raw(&format!("42{id}{}", json!(["resume", { "since": since }])))
        .await;
    let got = until_resume_end(c).await;
    let ack = c
        .next_within(Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("no ack after {}", got.last().unwrap()));
    assert_eq!(
        ack["ack"],
        json!(id),
        "the packet after the end of the replay: {ack}"
    );
    (got, ack["data"].clone())
}

fn up_to(end: &Value) -> u64 {
    assert_eq!(end["event"], json!("resume_complete"), "{end}");
    end["data"]["upTo"]
        .as_u64()
        .unwrap_or_else(|| panic!("no upTo in {end}"))
}

#[track_caller]
fn assert_seq_order(events: &[Value]) {
    let seqs: Vec<u64> = events.iter().filter(|v| has_seq(v)).map(seq).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] <= w[1]),
        "events out of seq order: {seqs:?}"
    );
}

#[tokio::test]
async fn a_reconnect_mid_burst_with_auth_since_loses_and_repeats_nothing() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = conversation_of(app, "cus_ann", "bk_1").await;
    let ann = customer("cus_ann", &[]);
    let bo = admin("adm_bo");
    let mut first = connect(&app.base(), Auth::Token(&ann)).await;
    // In the conversation's room as well as her user room: still each event once.
    let joined = first
        .request("join_conversation", json!({ "conversationId": conv }))
        .await;
    assert_eq!(joined["success"], json!(true), "{joined}");

    // The admin answers 500 times over HTTP, 8 requests in flight.
    let done = Arc::new(AtomicUsize::new(0));
    let burst = send_burst(app, &bo, &conv, BURST, BURST_CONCURRENCY, done.clone());

    // Drop the first connection a third of the way in, without a close handshake.
    let mut cursor = 0;
    while of(&first.seen, "new_message").count() < BURST / 3 {
        let v = first
            .next_within(Duration::from_secs(10))
            .await
            .expect("events during the burst");
        if has_seq(&v) {
            cursor = cursor.max(seq(&v));
        }
    }
    let before_drop = first.seen.clone();
    let done_at_drop = done.load(Ordering::SeqCst);
    drop(first);
    // Let the burst go on without a socket, so that there is a gap to close.
    while done.load(Ordering::SeqCst) < done_at_drop + 50 {
        assert!(!burst.is_finished(), "the burst ended before the gap");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let mut second = connect_with(
        &app.base(),
        Auth::Token(&ann),
        Some(json!({ "since": cursor })),
    )
    .await;
    assert_eq!(
        second.seen[0]["event"],
        json!("authenticated"),
        "{:?}",
        second.seen
    );
    let replayed = until_resume_end(&mut second).await;
    let upto = up_to(replayed.last().unwrap());
    assert_seq_order(&replayed);
    assert!(
        of(&replayed, "new_message").count() >= 50,
        "the gap was not replayed: {replayed:#?}"
    );
    for v in replayed.iter().filter(|v| has_seq(v)) {
        assert!(
            seq(v) > cursor && seq(v) <= upto,
            "replayed outside ({cursor}, {upto}]: {v}"
        );
    }

    let sent = burst.await.expect("burst task");
    assert_eq!(sent.len(), BURST);
    // One more message: whatever was queued before it has arrived once it has.
    let last = send(app, &bo, &conv, "after the burst").await;
    second
        .next_matching("the last message", |v| {
            v["event"] == "new_message" && v["data"]["message"]["id"] == last["id"]
        })
        .await;
    let after_resume = second.seen.clone();
    let live: Vec<&Value> = after_resume
        .iter()
        .skip_while(|v| v["event"] != "resume_complete")
        .skip(1)
        .collect();
    for v in live.iter().filter(|v| has_seq(v)) {
        assert!(seq(v) > upto, "a live event repeats the replay: {v}");
    }
    assert_seq_order(&after_resume);

    let all: Vec<Value> = before_drop.into_iter().chain(after_resume).collect();
    let new_messages: Vec<&Value> = of(&all, "new_message").collect();
    let seqs: Vec<u64> = new_messages.iter().map(|v| seq(v)).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "new_message seqs not strictly increasing: {seqs:?}"
    );
    let mut count: HashMap<String, usize> = HashMap::new();
    for v in &new_messages {
        let m = &v["data"]["message"];
        assert_eq!(v["data"]["seq"], m["seq"], "{v}");
        assert_eq!(v["data"]["conversationId"], json!(conv), "{v}");
        *count.entry(id_of(m)).or_default() += 1;
    }
    for m in &sent {
        assert_eq!(
            count.remove(&id_of(m)),
            Some(1),
            "message {} (seq {}) not received exactly once",
            m["content"],
            m["seq"]
        );
    }
    assert_eq!(count.len(), 1, "unexpected messages: {count:?}");
    assert!(count.contains_key(&id_of(&last)));
    assert!(
        !all.iter().any(|v| v["event"] == "message_sent"),
        "the customer sent nothing"
    );
}

#[tokio::test]
async fn the_resume_event_replays_in_order_and_acks_after_resume_complete() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = conversation_of(app, "cus_ann", "bk_1").await;
    let ann = customer("cus_ann", &[]);
    let bo = admin("adm_bo");
    let m1 = send(app, &ann, &conv, "first").await;
    let m2 = data(
        send_body(
            app,
            &ann,
            &conv,
            &json!({ "content": "second", "clientMessageId": "cm-2" }),
        )
        .await,
        201,
    );
    let reply = send(app, &bo, &conv, "an answer").await;

    let mut c = connect(&app.base(), Auth::Token(&ann)).await;
    let (events, ack) = resume(&mut c, json!(0), 901).await;
    let upto = up_to(events.last().unwrap());
    assert_eq!(ack["success"], json!(true), "{ack}");
    assert!(ack["message"].is_string(), "{ack}");
    assert_eq!(ack["data"]["upTo"], json!(upto), "{ack}");
    assert!(upto >= reply["seq"].as_u64().unwrap());
    assert_seq_order(&events);
    // Own messages as message_sent (with the clientMessageId), the admin's as new_message.
    let own: Vec<&Value> = of(&events, "message_sent").collect();
    assert_eq!(own.len(), 2, "{events:#?}");
    for (v, m) in own.iter().zip([&m1, &m2]) {
        assert_eq!(v["data"]["message"]["id"], m["id"], "{v}");
        assert_eq!(v["data"]["seq"], m["seq"], "{v}");
    }
    assert_eq!(own[1]["data"]["clientMessageId"], json!("cm-2"));
    let others: Vec<&Value> = of(&events, "new_message").collect();
    assert_eq!(others.len(), 1, "{events:#?}");
    assert_eq!(others[0]["data"]["seq"], reply["seq"]);

    // From the end of the log: nothing but resume_complete, then the ack.
    let (events, ack) = resume(&mut c, json!(upto), 902).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(up_to(&events[0]), upto);
    assert_eq!(ack["data"]["upTo"], json!(upto), "{ack}");

    // `auth.since` as a number or a decimal string, whichever way the token comes (the
    // `authenticate` event included: the resume follows `authenticated`).
    let since = m2["seq"].as_u64().unwrap();
    for (n, (auth, cursor)) in [
        (Auth::Token(&ann), json!(since.to_string())),
        (Auth::Header(&ann), json!(since)),
        (Auth::Query(&ann), json!(since.to_string())),
        (Auth::Event(&ann), json!(since)),
    ]
    .into_iter()
    .enumerate()
    {
        let mut d = connect_with(&app.base(), auth, Some(json!({ "since": cursor }))).await;
        let events = until_resume_end(&mut d).await;
        assert_eq!(up_to(events.last().unwrap()), upto, "way {n}");
        let replayed: Vec<&Value> = events.iter().filter(|v| has_seq(v)).collect();
        assert!(!replayed.is_empty(), "way {n}: {events:#?}");
        for v in &replayed {
            assert!(seq(v) > since, "way {n}: {v}");
        }
        assert_eq!(
            of(&events, "new_message")
                .map(|v| v["data"]["message"]["id"].clone())
                .collect::<Vec<_>>(),
            vec![reply["id"].clone()],
            "way {n}"
        );
        assert!(
            of(&events, "message_sent").next().is_none(),
            "way {n}: {events:#?}"
        );
    }
}

#[tokio::test]
async fn resume_from_before_a_purge_fails_and_from_the_end_of_the_log_succeeds() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = conversation_of(app, "cus_ann", "bk_1").await;
    let ann = customer("cus_ann", &[]);
    let mut last = 0;
    for i in 0..3 {
        last = send(app, &ann, &conv, &format!("m{i}")).await["seq"]
            .as_u64()
            .unwrap();
    }
    env.nats.purge_log().await;

    // At the handshake: resume_failed right after authenticated, and nothing else.
    let mut c = connect_with(&app.base(), Auth::Token(&ann), Some(json!({ "since": 0 }))).await;
    let events = until_resume_end(&mut c).await;
    assert_eq!(
        events.len(),
        1,
        "nothing replayed after a purge: {events:#?}"
    );
    assert_eq!(events[0]["event"], json!("resume_failed"), "{events:#?}");
    let reason = events[0]["data"]["reason"].as_str().unwrap_or_default();
    assert!(!reason.is_empty(), "{}", events[0]);
    assert_eq!(c.seen[0]["event"], json!("authenticated"));

    // The event, with an ack after resume_failed.
    for (id, since) in [(1001, 0), (1002, last - 1)] {
        let (events, ack) = resume(&mut c, json!(since), id).await;
        assert_eq!(events.len(), 1, "{events:#?}");
        assert_eq!(events[0]["event"], json!("resume_failed"), "{events:#?}");
        assert!(events[0]["data"]["reason"].is_string(), "{}", events[0]);
        assert_eq!(ack["success"], json!(true), "{ack}");
    }
    // Nothing after `last` is missing: that cursor resumes.
    let (events, _) = resume(&mut c, json!(last), 1003).await;
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(up_to(&events[0]), last);

    // The socket stays live.
    let m = send(app, &ann, &conv, "after the purge").await;
    let got = c.next_event("message_sent").await;
    assert_eq!(got["data"]["seq"], m["seq"]);
    assert!(seq(&got) > last);
}

/// Counts each `(event, seq)` received; returns what differs from exactly once for the
/// `new_message` and `conversation_updated` of each message in `sent`, with what was received.
fn not_exactly_once(seen: &[Value], sent: &[Value]) -> Option<String> {
    let mut count: HashMap<(String, u64), usize> = HashMap::new();
    for v in seen.iter().filter(|v| has_seq(v)) {
        *count
            .entry((v["event"].as_str().unwrap().to_string(), seq(v)))
            .or_default() += 1;
    }
    let mut wrong = Vec::new();
    for m in sent {
        let s = m["seq"].as_u64().unwrap();
        for event in ["new_message", "conversation_updated"] {
            let n = count.get(&(event.to_string(), s)).copied().unwrap_or(0);
            if n != 1 {
                wrong.push(format!("{event} seq {s}: {n} times"));
            }
        }
    }
    if wrong.is_empty() {
        return None;
    }
    let received: Vec<String> = seen
        .iter()
        .map(|v| match v["event"].as_str() {
            Some(e) => format!("{e}@{}", v["data"]["seq"]),
            None => format!("ack{}{}", v["ack"], v["data"]["data"]),
        })
        .collect();
    Some(format!(
        "{}; received: {}",
        wrong.join(", "),
        received.join(" ")
    ))
}

#[tokio::test]
async fn resume_events_on_a_live_socket_mid_burst_lose_nothing() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = conversation_of(app, "cus_ann", "bk_1").await;
    let ann = customer("cus_ann", &[]);
    let mut bo = connect(&app.base(), Auth::Token(&admin("adm_bo"))).await;
    let pong = bo.request("ping", json!({})).await;
    assert_eq!(pong["success"], json!(true), "{pong}");

    let burst = send_burst(app, &ann, &conv, BURST, BURST_CONCURRENCY, Arc::default());

    // While messages keep coming, the client asks for a resume from its cursor, one at a time:
    // the next only after the previous one's ack.
    let (mut cursor, mut resumes, mut pending) = (0, 0u64, None::<u64>);
    while !burst.is_finished() {
        let Some(v) = bo.next_within(Duration::from_secs(10)).await else {
            panic!("no event within 10 s");
        };
        if has_seq(&v) {
            cursor = cursor.max(seq(&v));
        }
        if v["event"] == "resume_complete" {
            cursor = cursor.max(up_to(&v));
        }
        if pending.is_some() && v["ack"] == json!(pending) {
            pending = None;
        }
        if pending.is_none() {
            resumes += 1;
            let id = 2000 + resumes;
            bo.send_raw(&format!("42{id}{}", json!(["resume", { "since": cursor }])))
                .await;
            pending = Some(id);
        }
    }
    let mut sent = burst.await.expect("burst task");
    sent.push(send(app, &ann, &conv, "after the burst").await);
    let last = sent.last().unwrap().clone();
    bo.next_matching("the last conversation_updated", |v| {
        v["event"] == "conversation_updated" && v["data"]["seq"] == last["seq"]
    })
    .await;
    assert!(resumes >= 3, "only {resumes} resumes during the burst");
    assert_seq_order(&bo.seen);
    if let Some(wrong) = not_exactly_once(&bo.seen, &sent) {
        panic!("after {resumes} resumes: {wrong}");
    }
}

#[tokio::test]
async fn a_resume_event_right_after_auth_since_replays_nothing_twice() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = conversation_of(app, "cus_ann", "bk_1").await;
    let ann = customer("cus_ann", &[]);
    let mut sent = Vec::new();
    for i in 0..3 {
        sent.push(send(app, &ann, &conv, &format!("m{i}")).await);
    }
    // A front end that reconnects with `auth.since` and also emits `resume` on connect.
    let mut bo = connect_with(
        &app.base(),
        Auth::Token(&admin("adm_bo")),
        Some(json!({ "since": 0 })),
    )
    .await;
    bo.send_raw(&format!("427{}", json!(["resume", { "since": 0 }])))
        .await;
    let ack = bo.next_matching("the ack", |v| v["ack"] == 7).await;
    assert_eq!(ack["data"]["success"], json!(true), "{ack}");
    let upto = ack["data"]["data"]["upTo"].clone();
    assert_eq!(of(&bo.seen, "resume_complete").count(), 2, "{:#?}", bo.seen);
    assert_seq_order(&bo.seen);
    if let Some(wrong) = not_exactly_once(&bo.seen, &sent) {
        panic!("upTo {upto}: {wrong}");
    }
}
