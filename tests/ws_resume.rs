//! `resume` (WEBSOCKET.md, Client events and Guarantees): after a reconnect it closes the gap, with
//! no event the user may see lost and none repeated, in `seq` order, messages as they are now, own
//! messages as `message_sent`; a customer never gets another customer's conversation; a cursor older
//! than the log keeps gets `resume_failed`.

mod common;

use common::fixtures::conversation_of;
use common::ws::{connect, Auth, Client};
use common::*;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

const BURST: usize = 500;
const BURST_CONCURRENCY: usize = 8;

/// Sends `resume {since}` with `ref` and returns the frames up to `resume_complete` or
/// `resume_failed` (included) and the ack that must follow at once.
async fn resume(client: &mut Client, since: u64, reference: &str) -> (Vec<Value>, Value) {
    client
        .send(json!({ "event": "resume", "data": { "since": since }, "ref": reference }))
        .await;
    let mut frames = Vec::new();
    loop {
        let Some(f) = client.next_within(Duration::from_secs(10)).await else {
            panic!("no resume_complete within 10 s; replayed so far: {frames:#?}");
        };
        let end = f["event"] == "resume_complete" || f["event"] == "resume_failed";
        frames.push(f);
        if end {
            break;
        }
    }
    let ack = client
        .next_within(Duration::from_secs(10))
        .await
        .unwrap_or_else(|| panic!("no ack after {}", frames.last().unwrap()));
    assert_eq!(
        ack["event"],
        json!("ack"),
        "the frame after the end of the replay: {ack}"
    );
    assert_eq!(ack["ref"], json!(reference), "{ack}");
    (frames, ack)
}

fn seq(frame: &Value) -> u64 {
    frame["seq"]
        .as_u64()
        .unwrap_or_else(|| panic!("no seq in {frame}"))
}

fn up_to(end: &Value) -> u64 {
    assert_eq!(end["event"], json!("resume_complete"), "{end}");
    end["data"]["upTo"]
        .as_u64()
        .unwrap_or_else(|| panic!("no upTo in {end}"))
}

/// Frames of `event` among `frames`.
fn of<'a>(frames: &'a [Value], event: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    frames.iter().filter(move |f| f["event"] == event)
}

#[track_caller]
fn assert_seq_order(frames: &[Value]) {
    let seqs: Vec<u64> = frames
        .iter()
        .filter(|f| f.get("seq").is_some())
        .map(seq)
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[0] <= w[1]),
        "frames out of seq order: {seqs:?}"
    );
}

#[tokio::test]
async fn a_reconnect_mid_burst_with_resume_loses_and_repeats_nothing() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = conversation_of(app, "cus_ann", "bk_1").await;
    let ann = customer("cus_ann", &[]);
    let bo = admin("adm_bo");
    let mut first = connect(&app.base(), Auth::Header(&bo)).await;
    // A first frame ends the hold on live frames at once (it would queue a slice of the burst).
    assert_eq!(
        first.request("ping", json!({}), "p-1").await["event"],
        json!("ack")
    );

    let done = Arc::new(AtomicUsize::new(0));
    let burst = send_burst(app, &ann, &conv, BURST, BURST_CONCURRENCY, done.clone());

    // Drop the first socket a third of the way in, without a close handshake.
    let mut max_seq = 0;
    while of(&first.seen, "new_message").count() < BURST / 3 {
        let f = first
            .next_within(Duration::from_secs(10))
            .await
            .expect("frames during the burst");
        if let Some(s) = f["seq"].as_u64() {
            max_seq = max_seq.max(s);
        }
    }
    let before_drop: Vec<Value> = first.seen.clone();
    let done_at_drop = done.load(Ordering::SeqCst);
    drop(first);
    // Let the burst go on without a socket, so that there is a gap to close.
    while done.load(Ordering::SeqCst) < done_at_drop + 50 {
        assert!(!burst.is_finished(), "the burst ended before the gap");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let mut second = connect(&app.base(), Auth::Header(&bo)).await;
    let (replayed, ack) = resume(&mut second, max_seq, "r-1").await;
    let upto = up_to(replayed.last().unwrap());
    assert_eq!(ack["data"]["upTo"], json!(upto), "{ack}");
    assert!(
        of(&replayed, "new_message").count() >= 1,
        "nothing was replayed"
    );
    for f in replayed.iter().filter(|f| f.get("seq").is_some()) {
        assert!(
            seq(f) > max_seq && seq(f) <= upto,
            "replayed outside ({max_seq}, {upto}]: {f}"
        );
    }

    let sent = burst.await.expect("burst task");
    assert_eq!(sent.len(), BURST);
    // One more message: whatever was queued before it has arrived once it has.
    let last = send(app, &ann, &conv, "after the burst").await;
    second
        .next_matching("the last message", |f| {
            f["event"] == "new_message" && f["data"]["message"]["id"] == last["id"]
        })
        .await;
    let after_resume: Vec<Value> = second.seen.clone();
    for f in after_resume
        .iter()
        .skip_while(|f| f["event"] != "ack")
        .filter(|f| f.get("seq").is_some())
    {
        assert!(seq(f) > upto, "a live frame repeats the replay: {f}");
    }

    let all: Vec<Value> = before_drop.into_iter().chain(after_resume).collect();
    let new_messages: Vec<&Value> = of(&all, "new_message").collect();
    let seqs: Vec<u64> = new_messages.iter().map(|f| seq(f)).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "new_message seqs not strictly increasing: {seqs:?}"
    );
    let mut count: HashMap<String, usize> = HashMap::new();
    for f in &new_messages {
        let m = &f["data"]["message"];
        assert_eq!(f["seq"], m["seq"], "{f}");
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
}

#[tokio::test]
async fn resume_replays_own_messages_as_message_sent() {
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
    let m3 = send(app, &ann, &conv, "third").await;
    let mut client = connect(&app.base(), Auth::Header(&ann)).await;
    let (frames, ack) = resume(&mut client, 0, "r-own").await;
    let upto = up_to(frames.last().unwrap());
    assert_eq!(ack["data"]["upTo"], json!(upto));
    assert_seq_order(&frames);

    let own: Vec<&Value> = of(&frames, "message_sent").collect();
    assert_eq!(
        own.iter()
            .map(|f| f["data"]["message"]["id"].clone())
            .collect::<Vec<_>>(),
        vec![m1["id"].clone(), m2["id"].clone(), m3["id"].clone()],
        "own messages, in order, as message_sent"
    );
    for (f, m) in own.iter().zip([&m1, &m2, &m3]) {
        assert_eq!(f["seq"], m["seq"], "{f}");
        assert_eq!(f["data"]["conversationId"], json!(conv));
    }
    assert_eq!(own[1]["data"]["clientMessageId"], json!("cm-2"));
    assert_eq!(own[0]["data"]["message"]["content"], json!("first"));

    let others: Vec<&Value> = of(&frames, "new_message").collect();
    assert_eq!(others.len(), 1, "{others:#?}");
    assert_eq!(others[0]["seq"], reply["seq"]);
    assert_eq!(others[0]["data"]["message"]["id"], reply["id"]);
    assert!(
        of(&frames, "conversation_updated").count() >= 4,
        "conversation_updated after every change: {frames:#?}"
    );
    for f in of(&frames, "conversation_updated") {
        assert_eq!(f["data"]["conversation"]["id"], json!(conv));
    }
}

#[tokio::test]
async fn resume_replays_a_message_deleted_since_without_its_content() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = conversation_of(app, "cus_ann", "bk_1").await;
    let ann = customer("cus_ann", &[]);
    let kept = send(app, &ann, &conv, "kept").await;
    let gone = send(app, &ann, &conv, "deleted later").await;
    // Route 9 is not served yet: the deletion is written to the log as it would write it.
    common::log::delete_message(
        &env.nats.url(),
        &conv,
        common::log::customer("cus_ann"),
        &id_of(&gone),
    )
    .await;
    common::log::eventually("the deletion to be folded", || async {
        let conversation = get(&conv_url(app, &conv), &ann).await;
        conversation.1["data"]["lastMessage"]["id"] == kept["id"]
    })
    .await;

    let mut client = connect(&app.base(), Auth::Header(&admin("adm_bo"))).await;
    let (frames, _) = resume(&mut client, 0, "r-del").await;
    assert_seq_order(&frames);
    let replayed: Vec<&Value> = of(&frames, "new_message").collect();
    assert_eq!(replayed.len(), 2, "{frames:#?}");
    assert_eq!(replayed[0]["data"]["message"]["content"], json!("kept"));
    assert_eq!(replayed[0]["seq"], kept["seq"]);
    let m = &replayed[1]["data"]["message"];
    assert_eq!(replayed[1]["seq"], gone["seq"]);
    assert_eq!(m["id"], gone["id"]);
    assert_eq!(
        (&m["content"], &m["isDeleted"], &m["attachments"]),
        (&json!(""), &json!(true), &json!([])),
        "{m}"
    );
    let deleted: Vec<&Value> = of(&frames, "message_deleted").collect();
    assert_eq!(deleted.len(), 1, "{frames:#?}");
    assert_eq!(deleted[0]["data"]["message"]["id"], gone["id"]);
    assert!(seq(deleted[0]) > seq(replayed[1]));
}

/// Each replayed read carries the time of that read, not the reader's latest one.
#[tokio::test]
async fn resume_replays_each_read_with_its_own_time() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = conversation_of(app, "cus_ann", "bk_1").await;
    let ann = customer("cus_ann", &[]);
    let bo = admin("adm_bo");
    let read_url = app.url(&format!("/messaging/conversations/{conv}/read"));
    send(app, &ann, &conv, "first").await;
    let first = data(put_empty(&read_url, &bo).await, 200);
    tokio::time::sleep(Duration::from_millis(20)).await;
    send(app, &ann, &conv, "second").await;
    let second = data(put_empty(&read_url, &bo).await, 200);
    assert_ne!(first["readAt"], second["readAt"]);

    let mut client = connect(&app.base(), Auth::Header(&ann)).await;
    let (frames, _) = resume(&mut client, 0, "r-reads").await;
    let reads: Vec<&Value> = of(&frames, "messages_read").map(|f| &f["data"]).collect();
    assert_eq!(
        reads
            .iter()
            .map(|r| (&r["userId"], &r["readAt"]))
            .collect::<Vec<_>>(),
        vec![
            (&json!("adm_bo"), &first["readAt"]),
            (&json!("adm_bo"), &second["readAt"]),
        ],
        "{frames:#?}"
    );
}

#[tokio::test]
async fn a_customers_resume_never_includes_another_customers_conversation() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let ann_conv = conversation_of(app, "cus_ann", "bk_1").await;
    let ben_conv = conversation_of(app, "cus_ben", "bk_2").await;
    let (ann, ben, bo) = (
        customer("cus_ann", &[]),
        customer("cus_ben", &[]),
        admin("adm_bo"),
    );
    for (token, conv) in [(&ann, &ann_conv), (&ben, &ben_conv)] {
        send(app, token, conv, "a question").await;
        send(app, &bo, conv, "an answer").await;
        list_messages(app, token, conv, "").await; // marks read
        data(
            put_empty(&format!("{}/read", conv_url(app, conv)), &bo).await,
            200,
        );
    }

    for (token, mine, theirs, other_user) in [
        (&ann, &ann_conv, &ben_conv, "cus_ben"),
        (&ben, &ben_conv, &ann_conv, "cus_ann"),
    ] {
        let mut client = connect(&app.base(), Auth::Header(token)).await;
        let (frames, _) = resume(&mut client, 0, "r-1").await;
        assert_seq_order(&frames);
        for f in &frames {
            let text = f.to_string();
            assert!(
                !text.contains(theirs.as_str()) && !text.contains(other_user),
                "a customer got another customer's conversation: {f}"
            );
            if let Some(conv) = f["data"]["conversationId"].as_str() {
                assert_eq!(conv, mine, "{f}");
            }
        }
        assert_eq!(of(&frames, "message_sent").count(), 1, "{frames:#?}");
        assert_eq!(of(&frames, "new_message").count(), 1, "{frames:#?}");
        assert!(of(&frames, "messages_read").count() >= 1, "{frames:#?}");
        assert!(
            of(&frames, "conversation_updated").count() >= 1,
            "{frames:#?}"
        );
    }
}

#[tokio::test]
async fn resume_from_0_right_after_connect_comes_before_live_frames() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = conversation_of(app, "cus_ann", "bk_1").await;
    let ann = customer("cus_ann", &[]);
    let bo = admin("adm_bo");
    let mut before = Vec::new();
    for i in 0..5 {
        before.push(send(app, &ann, &conv, &format!("before {i}")).await);
    }

    // Messages keep coming while the admin connects.
    let during = {
        let (base, ann, conv) = (app.base(), ann.clone(), conv.clone());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut sent = Vec::new();
            for i in 0..30 {
                let body: Value = client
                    .post(format!("{base}/messaging/conversations/{conv}/messages"))
                    .bearer_auth(&ann)
                    .json(&json!({ "content": format!("during {i}") }))
                    .send()
                    .await
                    .expect("send")
                    .json()
                    .await
                    .expect("json body");
                sent.push(body["data"].clone());
            }
            sent
        })
    };
    let mut client = connect(&app.base(), Auth::Header(&bo)).await;
    let (replayed, _) = resume(&mut client, 0, "r-0").await;
    let upto = up_to(replayed.last().unwrap());
    assert_seq_order(&replayed);
    let replayed_ids: Vec<Value> = of(&replayed, "new_message")
        .map(|f| f["data"]["message"]["id"].clone())
        .collect();
    assert!(
        replayed_ids.len() >= before.len(),
        "the messages sent before the connect were not replayed: {replayed:#?}"
    );
    assert_eq!(
        replayed_ids[..before.len()],
        before.iter().map(|m| m["id"].clone()).collect::<Vec<_>>()[..]
    );

    let during = during.await.expect("sender task");
    let last = during.last().unwrap().clone();
    client
        .next_matching("the last message", |f| {
            f["event"] == "new_message" && f["data"]["message"]["id"] == last["id"]
        })
        .await;
    // `seen` starts with `authenticated`, then the replay: no live frame came before it.
    assert_eq!(client.seen[0]["event"], json!("authenticated"));
    assert_eq!(client.seen[1..=replayed.len()], replayed[..]);
    let live = &client.seen[replayed.len() + 2..];
    for f in live.iter().filter(|f| f.get("seq").is_some()) {
        assert!(seq(f) > upto, "a live frame repeats the replay: {f}");
    }
    let all: Vec<Value> = of(&client.seen, "new_message").cloned().collect();
    let ids: Vec<Value> = all
        .iter()
        .map(|f| f["data"]["message"]["id"].clone())
        .collect();
    let want: Vec<Value> = before
        .iter()
        .chain(during.iter())
        .map(|m| m["id"].clone())
        .collect();
    assert_eq!(ids, want, "every message once, in order");
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

    let mut client = connect(&app.base(), Auth::Header(&ann)).await;
    for since in [0, last - 1] {
        let (frames, _) = resume(&mut client, since, &format!("r-{since}")).await;
        assert_eq!(
            frames.len(),
            1,
            "nothing replayed after a purge: {frames:#?}"
        );
        assert_eq!(frames[0]["event"], json!("resume_failed"), "{frames:#?}");
        let reason = frames[0]["data"]["reason"].as_str().unwrap_or_default();
        assert!(!reason.is_empty(), "{}", frames[0]);
    }
    // Nothing after `last` is missing: that cursor resumes.
    let (frames, _) = resume(&mut client, last, "r-last").await;
    assert_eq!(frames.len(), 1, "{frames:#?}");
    assert_eq!(up_to(&frames[0]), last);

    // The socket stays live.
    let m = send(app, &ann, &conv, "after the purge").await;
    let got = client.next_event("message_sent").await;
    assert_eq!(got["seq"], m["seq"]);
    assert!(seq(&got) > last);
}
