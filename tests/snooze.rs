//! The snooze waker (docs/inbox.md, "Snooze"): a snoozed conversation becomes `active` by itself
//! at `until`, with exactly one `conversation_woken` in the log however many nodes race to write
//! it, written by a node that was down at `until` once it is back, never written for a snooze that
//! a customer's message ended or that was moved later.

mod common;

use common::cluster::{conversation_on_both, Cluster};
use common::fixtures::*;
use common::log::events;
use common::ws::{connect, Auth};
use common::*;
use concierge_events::Timestamp;
use serde_json::{json, Value};
use std::time::Duration;

/// How long after `until` a conversation may take to wake: the waker looks every 500 ms, once the
/// node has caught up (a readiness wait, not an assertion of the contract).
const WAKE_WITHIN: Duration = Duration::from_secs(10);

fn now_ms() -> i64 {
    Timestamp::now().millis()
}

/// Snoozes `conv` as the admin `adm_bo` until `until` (ms); returns the Conversation.
async fn snooze(app: &App, conv: &str, until: i64) -> Value {
    let body = json!({ "status": "snoozed", "until": Timestamp(until).to_string() });
    let c = data(
        put(&format!("{}/status", conv_url(app, conv)), &bo(), &body).await,
        200,
    );
    assert_eq!(c["status"], json!("snoozed"), "{c}");
    assert_eq!(millis(&c["snoozedUntil"]), until, "{c}");
    c
}

async fn status(app: &App, conv: &str) -> Value {
    conversation(app, &bo(), conv).await["status"].clone()
}

/// Waits until `conv` is `active` on `app`, and not before `until`; panics after `until` +
/// [`WAKE_WITHIN`]. "Before" is judged by when the answer arrived: the server read the view no
/// later than that, while a request sent just before `until` may well be read after it.
async fn wakes(app: &App, conv: &str, until: i64) {
    let deadline = until + WAKE_WITHIN.as_millis() as i64;
    loop {
        if status(app, conv).await == json!("active") {
            let answered = now_ms();
            assert!(answered >= until, "woke {} ms early", until - answered);
            return;
        }
        assert!(
            now_ms() < deadline,
            "{conv} still snoozed {WAKE_WITHIN:?} after until"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Sleeps until `ms` (since the epoch) has passed.
async fn sleep_until(ms: i64) {
    let left = ms - now_ms();
    if left > 0 {
        tokio::time::sleep(Duration::from_millis(left as u64)).await;
    }
}

/// The `conversation_woken` events of `conv` in the log.
async fn woken(nats_url: &str, conv: &str) -> Vec<Value> {
    events(nats_url, conv)
        .await
        .into_iter()
        .filter(|e| e["type"] == "conversation_woken")
        .collect()
}

/// Asserts the log holds exactly one wake-up of `conv`, for `until`, written by the service.
#[track_caller]
fn assert_one_wake_up(woken: &[Value], until: i64) {
    assert_eq!(woken.len(), 1, "{woken:#?}");
    let w = &woken[0];
    assert_eq!(millis(&w["data"]["until"]), until, "{w}");
    assert_eq!(w["actor"]["id"], json!("concierge"), "{w}");
    assert_eq!(w["actor"]["role"], json!("service"), "{w}");
    assert!(millis(&w["at"]) >= until, "written at until or later: {w}");
    let id: ulid::Ulid = w["id"].as_str().expect("an id").parse().expect("a ULID");
    assert_eq!(
        id.timestamp_ms() as i64,
        until,
        "the id's time is until: {w}"
    );
}

#[tokio::test]
async fn a_snoozed_conversation_wakes_by_itself_at_until_once() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let mut admin = connect(&app.base(), Auth::Header(&cy())).await;
    let until = now_ms() + 2000;
    snooze(app, &conv, until).await;
    assert_eq!(status(app, &conv).await, json!("snoozed"));

    wakes(app, &conv, until).await;
    let c = conversation(app, &bo(), &conv).await;
    assert_eq!(c["snoozedUntil"], Value::Null, "{c}");
    let updated = admin
        .next_matching("conversation_updated to active", |f| {
            f["event"] == "conversation_updated" && f["data"]["conversation"]["status"] == "active"
        })
        .await;
    assert_eq!(updated["data"]["conversation"]["id"], json!(conv));

    // The waker goes on looking: nothing more is written.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_one_wake_up(&woken(app.nats_url(), &conv).await, until);
}

#[tokio::test]
async fn two_nodes_write_one_wake_up() {
    let cluster = Cluster::start(false).await;
    let conv = conversation_on_both(&cluster, "cus_ann", "bk_1").await;
    let until = now_ms() + 2000;
    snooze(&cluster.a, &conv, until).await;

    wakes(&cluster.a, &conv, until).await;
    wakes(&cluster.b, &conv, until).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let nats_url = cluster.a.nats_url();
    let log = woken(nats_url, &conv).await;
    assert_one_wake_up(&log, until);

    // The nodes seldom tie; a node that loses the race writes the same wake-up a moment later, with
    // the event's id as its Nats-Msg-Id, which JetStream drops.
    let mut late = log[0].clone();
    late["at"] = json!(Timestamp::now().to_string());
    let id = late["id"].as_str().expect("an id").to_string();
    let js = async_nats::jetstream::new(async_nats::connect(nats_url).await.expect("NATS"));
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("Nats-Msg-Id", id.as_str());
    let subject = concierge_events::subject::conversation(&conv);
    let ack = js
        .publish_with_headers(subject, headers, late.to_string().into())
        .await
        .expect("publish")
        .await
        .expect("ack");
    assert!(ack.duplicate, "{ack:?}");
    assert_one_wake_up(&woken(nats_url, &conv).await, until);
}

#[tokio::test]
async fn a_node_down_at_until_wakes_the_conversation_when_it_is_back() {
    let mut env = TestEnv::start().await;
    let conv = ann_conversation(&env.app).await;
    let until = now_ms() + 1500;
    snooze(&env.app, &conv, until).await;
    env.app.kill();
    sleep_until(until + 1000).await;
    assert!(woken(env.nats.url().as_str(), &conv).await.is_empty());

    env.app.restart().await;
    wakes(&env.app, &conv, until).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_one_wake_up(&woken(env.app.nats_url(), &conv).await, until);
}

#[tokio::test]
async fn a_customer_message_wakes_it_and_no_wake_up_follows() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let until = now_ms() + 2000;
    snooze(app, &conv, until).await;
    send(app, &ann(), &conv, "are you there?").await;
    assert_eq!(status(app, &conv).await, json!("active"));

    sleep_until(until + 2000).await;
    assert_eq!(status(app, &conv).await, json!("active"));
    assert!(woken(app.nats_url(), &conv).await.is_empty());
}

#[tokio::test]
async fn snoozing_again_later_moves_the_wake_up() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conversation(app).await;
    let first = now_ms() + 1500;
    snooze(app, &conv, first).await;
    let later = now_ms() + 4000;
    snooze(app, &conv, later).await;

    sleep_until(first + 1500).await;
    assert_eq!(status(app, &conv).await, json!("snoozed"));
    assert!(woken(app.nats_url(), &conv).await.is_empty());

    wakes(app, &conv, later).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_one_wake_up(&woken(app.nats_url(), &conv).await, later);
}
