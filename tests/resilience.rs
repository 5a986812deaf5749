//! Failures around the server: NATS going away and coming back, the server killed in the middle of
//! a stream of sends, and racing retries of one idempotent send. The rule under test (API.md,
//! Envelope): a write that returns an error has no effect; one that returns 2xx is durable.

mod common;

use common::*;
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RECOVERY_DEADLINE: Duration = Duration::from_secs(20);

/// Every message of a conversation, oldest first, read page by page (100 a page).
async fn all_messages(app: &App, token: &str, conv: &str) -> Vec<Value> {
    let first = list_messages(app, token, conv, "page=1&limit=100").await;
    let total = first["pagination"]["total"].as_u64().expect("total");
    let pages = first["pagination"]["pages"].as_u64().expect("pages");
    assert_eq!(pages, total.div_ceil(100));
    let mut newest_first_pages = vec![first["messages"].as_array().unwrap().clone()];
    for page in 2..=pages {
        let d = list_messages(app, token, conv, &format!("page={page}&limit=100")).await;
        newest_first_pages.push(d["messages"].as_array().unwrap().clone());
    }
    let all: Vec<Value> = newest_first_pages.into_iter().rev().flatten().collect();
    assert_eq!(all.len() as u64, total, "pages do not add up to the total");
    let seqs: Vec<u64> = all.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "seq not strictly increasing across pages: {seqs:?}"
    );
    all
}

#[tokio::test]
async fn while_nats_is_down_writes_are_refused_reads_answer_and_nothing_is_half_written() {
    let mut env = TestEnv::start().await;
    data(
        register_booking(&env.app, "bk_1", "cus_ann", None).await,
        201,
    );
    let ann = customer("cus_ann", &[]);
    let conv = id_of(&created(open(&env.app, &ann, "bk_1").await));
    let mut sent = Vec::new();
    for i in 0..3 {
        let content = format!("before-{i}");
        send(&env.app, &ann, &conv, &content).await;
        sent.push(content);
    }

    env.nats.stop();
    for i in 0..3 {
        let r = send_body(
            &env.app,
            &ann,
            &conv,
            &json!({ "content": format!("refused-{i}") }),
        )
        .await;
        error(r, 503, "unavailable");
    }
    // Reads answer from the views, with the old data.
    let c = conversation(&env.app, &ann, &conv).await;
    assert_eq!(c["lastMessage"]["content"], json!("before-2"));
    let d = list_messages(&env.app, &ann, &conv, "").await;
    assert_eq!(contents(&d["messages"]), sent);
    // An admin's read would join and mark read: the page comes back unmarked.
    let adm = admin("adm_1");
    let d = list_messages(&env.app, &adm, &conv, "").await;
    assert_eq!(contents(&d["messages"]), sent);
    let c = conversation(&env.app, &ann, &conv).await;
    assert_eq!(
        c["participants"].as_array().unwrap().len(),
        1,
        "the refused join was written: {c}"
    );
    let listed = data(
        get(&env.app.url("/messaging/conversations"), &adm).await,
        200,
    );
    assert_eq!(ids(&listed["conversations"]), vec![conv.clone()]);

    env.nats.start_again();
    let deadline = Instant::now() + RECOVERY_DEADLINE;
    let mut attempt = 0;
    loop {
        let content = format!("after-{attempt}");
        attempt += 1;
        let (status, body) = send_body(&env.app, &ann, &conv, &json!({ "content": content })).await;
        match status.as_u16() {
            201 => {
                sent.push(content);
                break;
            }
            503 => assert_eq!(body["error"], json!("unavailable"), "{body}"),
            other => panic!("a send during recovery answered {other}: {body}"),
        }
        assert!(
            Instant::now() < deadline,
            "no send succeeded within {RECOVERY_DEADLINE:?} of NATS coming back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // And it keeps working.
    for i in 0..2 {
        let content = format!("later-{i}");
        send(&env.app, &ann, &conv, &content).await;
        sent.push(content);
    }
    env.app.wait_ready().await;

    let all = all_messages(&env.app, &ann, &conv).await;
    assert_eq!(
        contents(&Value::Array(all)),
        sent,
        "the log holds exactly the sends that answered 2xx"
    );
}

/// What one send of the killed stream came to.
enum Outcome {
    Created,
    /// No answer: the server died while it was in flight.
    Lost,
}

#[tokio::test]
async fn every_acknowledged_send_survives_a_sigkill_exactly_once() {
    let mut env = TestEnv::start().await;
    data(
        register_booking(&env.app, "bk_1", "cus_ann", None).await,
        201,
    );
    let ann = customer("cus_ann", &[]);
    let conv = id_of(&created(open(&env.app, &ann, "bk_1").await));

    let senders = [ann.clone(), admin("adm_1"), admin("adm_2"), admin("adm_3")];
    let url = messages_url(&env.app, &conv);
    let acked = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = senders
        .iter()
        .enumerate()
        .map(|(client, token)| {
            let (url, token, acked) = (url.clone(), token.clone(), acked.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(15))
                    .build()
                    .unwrap();
                let mut outcomes = Vec::new();
                for n in 0..500 {
                    let content = format!("c{client}-{n}");
                    let resp = http
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&json!({ "content": content }))
                        .send()
                        .await;
                    match resp {
                        Ok(r) if r.status() == StatusCode::CREATED => {
                            acked.fetch_add(1, Ordering::SeqCst);
                            outcomes.push((content, Outcome::Created));
                        }
                        Ok(r) => {
                            let status = r.status();
                            let body = r.text().await.unwrap_or_default();
                            panic!("client {client} send {n} answered {status}: {body}");
                        }
                        Err(_) => {
                            outcomes.push((content, Outcome::Lost));
                            break;
                        }
                    }
                }
                outcomes
            })
        })
        .collect();

    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.load(Ordering::SeqCst) < 60 {
        assert!(
            Instant::now() < deadline,
            "only {} sends acknowledged in 30 s",
            acked.load(Ordering::SeqCst)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    env.app.kill();
    let mut outcomes = Vec::new();
    for c in join_all(clients).await {
        outcomes.extend(c.expect("a client panicked"));
    }
    let created: Vec<&str> = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Created))
        .map(|(c, _)| c.as_str())
        .collect();
    let lost: Vec<&str> = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Lost))
        .map(|(c, _)| c.as_str())
        .collect();
    assert!(created.len() >= 60);

    env.app.restart().await;
    let all = all_messages(&env.app, &admin("adm_audit"), &conv).await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for m in &all {
        *seen
            .entry(m["content"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    let twice: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "contents stored more than once: {twice:?}"
    );
    let missing: Vec<_> = created.iter().filter(|c| !seen.contains_key(**c)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged sends are gone after the restart: {missing:?}",
        missing.len(),
        created.len()
    );
    // Whatever else is there was in flight when the server died; nothing was invented.
    for content in seen.keys() {
        assert!(
            created.contains(&content.as_str()) || lost.contains(&content.as_str()),
            "a message nobody sent: {content:?}"
        );
    }
    // Each client's messages are in the order it sent them.
    for client in 0..senders.len() {
        let prefix = format!("c{client}-");
        let mine: Vec<u64> = all
            .iter()
            .filter_map(|m| m["content"].as_str()?.strip_prefix(&prefix)?.parse().ok())
            .collect();
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "client {client}'s messages out of order: {mine:?}"
        );
    }
    // The restarted node takes writes again.
    send(&env.app, &ann, &conv, "after the crash").await;

    // The views the crashed-and-resumed node folded equal a fresh rebuild from the log.
    assert_views_equal_a_rebuild(&mut env.app);
}

#[tokio::test]
async fn concurrent_retries_of_one_send_create_exactly_one_message() {
    let env = TestEnv::start().await;
    let app = &env.app;
    data(register_booking(app, "bk_1", "cus_ann", None).await, 201);
    let ann = customer("cus_ann", &[]);
    let conv = id_of(&created(open(app, &ann, "bk_1").await));

    let answers = join_all((0..20).map(|i| {
        let body = json!({ "content": format!("try-{i}"), "clientMessageId": "same-key" });
        let (ann, conv) = (ann.clone(), conv.clone());
        async move { send_body(app, &ann, &conv, &body).await }
    }))
    .await;

    let mut statuses: Vec<u16> = answers.iter().map(|(s, _)| s.as_u16()).collect();
    statuses.sort();
    let mut want = vec![200; 19];
    want.push(201);
    assert_eq!(statuses, want, "one 201, nineteen 200");
    let messages: Vec<Value> = answers
        .into_iter()
        .map(|(s, b)| data((s, b), s.as_u16()))
        .collect();
    let first = &messages[0];
    for m in &messages {
        assert_eq!(m["id"], first["id"]);
        assert_eq!(m["content"], first["content"]);
        assert_eq!(m["seq"], first["seq"]);
    }

    let d = list_messages(app, &ann, &conv, "").await;
    assert_eq!(d["pagination"]["total"], json!(1));
    assert_eq!(ids(&d["messages"]), vec![id_of(first)]);
    let c = conversation(app, &ann, &conv).await;
    assert_eq!(c["lastMessage"]["id"], first["id"]);
}

#[tokio::test]
async fn sends_racing_a_nats_outage_are_refused_or_land_exactly_once() {
    let mut env = TestEnv::start().await;
    data(
        register_booking(&env.app, "bk_1", "cus_ann", None).await,
        201,
    );
    let ann = customer("cus_ann", &[]);
    let conv = id_of(&created(open(&env.app, &ann, "bk_1").await));
    let url = messages_url(&env.app, &conv);
    let senders = [ann.clone(), admin("adm_1"), admin("adm_2")];
    let answered = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    // Each client sends 40 messages with client keys; a 503 is retried with the same key until it
    // is taken (200 or 201), so each message must end up in the log exactly once.
    let clients: Vec<_> = senders
        .iter()
        .enumerate()
        .map(|(client, token)| {
            let (url, token) = (url.clone(), token.clone());
            let (answered, refused) = (answered.clone(), refused.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::builder()
                    .timeout(Duration::from_secs(15))
                    .build()
                    .unwrap();
                let deadline = Instant::now() + Duration::from_secs(60);
                for n in 0..40 {
                    let body = json!({ "content": format!("c{client}-{n}"), "clientMessageId": format!("k{client}-{n}") });
                    loop {
                        assert!(Instant::now() < deadline, "client {client} stuck at {n}");
                        let Ok(r) = http.post(&url).bearer_auth(&token).json(&body).send().await
                        else {
                            continue;
                        };
                        match r.status().as_u16() {
                            200 | 201 => break,
                            503 => {
                                refused.fetch_add(1, Ordering::SeqCst);
                                tokio::time::sleep(Duration::from_millis(50)).await;
                            }
                            other => panic!("client {client} send {n}: {other} {}", r.text().await.unwrap_or_default()),
                        }
                    }
                    answered.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();

    let wait_for = |n: usize| {
        let answered = answered.clone();
        async move {
            let deadline = Instant::now() + Duration::from_secs(30);
            while answered.load(Ordering::SeqCst) < n {
                assert!(Instant::now() < deadline, "sends stalled");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };
    wait_for(20).await;
    env.nats.stop();
    // Keep NATS down long enough that the clients see it.
    let deadline = Instant::now() + Duration::from_secs(10);
    while refused.load(Ordering::SeqCst) < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        refused.load(Ordering::SeqCst) >= 3,
        "no send was refused while NATS was down"
    );
    env.nats.start_again();
    for c in join_all(clients).await {
        c.expect("a client failed");
    }
    assert_eq!(answered.load(Ordering::SeqCst), 120);
    env.app.wait_ready().await;

    let all = all_messages(&env.app, &admin("adm_audit"), &conv).await;
    let mut got: Vec<String> = all
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_string())
        .collect();
    got.sort();
    let mut want: Vec<String> = (0..3)
        .flat_map(|c| (0..40).map(move |n| format!("c{c}-{n}")))
        .collect();
    want.sort();
    assert_eq!(got, want, "every send exactly once, nothing else");

    // No partial state: the views equal a fresh rebuild from the log.
    assert_views_equal_a_rebuild(&mut env.app);
}

/// Views are folded in memory and persisted behind (docs/architecture.md): a node killed before it
/// persisted anything starts from its persisted checkpoint (0 here) and folds the log again, so it
/// answers exactly what it answered before the kill.
#[tokio::test]
async fn a_node_killed_before_it_persists_folds_the_log_again_and_answers_the_same() {
    let mut env = TestEnv::start_with(AppOptions {
        extra_env: vec![("VIEWS_PERSIST_MS".into(), "60000".into())],
        ..AppOptions::default()
    })
    .await;
    let ann = customer("cus_ann", &[]);
    let conv = fixtures::conversation_of(&env.app, "cus_ann", "bk_1").await;
    for n in 0..40 {
        let token = if n % 3 == 0 {
            admin("adm_1")
        } else {
            ann.clone()
        };
        send(&env.app, &token, &conv, &format!("m{n}")).await;
    }
    let conversation_url = env.app.url(&format!("/messaging/conversations/{conv}"));
    let before_messages = all_messages(&env.app, &ann, &conv).await;
    let before_conversation = data(get(&conversation_url, &ann).await, 200);
    assert_eq!(before_messages.len(), 40);

    env.app.kill();
    let persisted = {
        let views = env.app.data_dir().join("views");
        concierge_projections::ViewStore::open(&views)
            .expect("open the views of the killed node")
            .persisted_checkpoint()
            .expect("read its checkpoint")
    };
    assert_eq!(persisted, 0, "nothing was persisted before the kill");

    env.app.restart().await;
    assert_eq!(all_messages(&env.app, &ann, &conv).await, before_messages);
    assert_eq!(
        data(get(&conversation_url, &ann).await, 200),
        before_conversation
    );
    assert_views_equal_a_rebuild(&mut env.app);
}
