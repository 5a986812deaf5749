//! Webhooks (docs/webhooks.md): `notification.unread` for a person who missed a message while
//! offline, once, after NOTIFY_AFTER_SECS; the event feed; Standard Webhooks signatures checked by
//! the reference library; retries with one `webhook-id`; deliveries that survive a SIGKILLed node
//! and a NATS restart; dead letters listed and sent again by the CLI and the admin route; two
//! nodes telling one notification once; and nothing at all without WEBHOOK_URL.

mod common;

use common::fixtures::*;
use common::log::change_status;
use common::webhooks::{self as hooks, Received, Receiver};
use common::ws::{connect, Auth};
use common::*;
use serde_json::{json, Value};
use std::process::Command;
use std::time::Duration;

/// Long enough for a check or a delivery to be taken, tried and answered on a loaded machine.
const WITHIN: Duration = Duration::from_secs(20);

async fn node(nats: &Nats, env: Vec<(String, String)>) -> App {
    App::start_with(
        nats,
        AppOptions {
            extra_env: env,
            ..Default::default()
        },
    )
    .await
}

/// The `notification.unread` deliveries to `user`.
fn told(receiver: &Receiver, user: &str) -> Vec<Received> {
    receiver
        .of_type("notification.unread")
        .into_iter()
        .filter(|r| r.json["data"]["userId"] == user)
        .collect()
}

/// The deliveries that got a 2xx, one per `webhook-id`, in the order they were first received.
fn delivered_ids(received: &[Received]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for r in received.iter().filter(|r| r.status < 300) {
        if !ids.contains(&r.id) {
            ids.push(r.id.clone());
        }
    }
    ids
}

#[tokio::test]
async fn an_offline_customer_is_told_once_after_the_delay_and_never_while_online_or_after_reading()
{
    let nats = Nats::start();
    let receiver = Receiver::start().await;
    let app = node(&nats, hooks::env(&receiver.url, 2, &[])).await;
    let conv = ann_conversation(&app).await;

    // An internal note is never a message to the customer: nothing, even long after the delay.
    let note = send_body(
        &app,
        &bo(),
        &conv,
        &json!({ "content": "VIP, upgrade her", "internal": true }),
    )
    .await;
    data(note, 201);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(receiver.received().len(), 0, "{:#?}", receiver.received());

    // Bo answers twice while Ann has no socket: one notification, after the delay, about both.
    let sent_at = std::time::Instant::now();
    let first = send(&app, &bo(), &conv, "Your room is ready").await;
    let second = send(&app, &bo(), &conv, "Late check-out is fine too").await;
    // A note after them is neither the last message nor counted.
    let later_note = json!({ "content": "She asked twice, comp the breakfast", "internal": true });
    data(send_body(&app, &bo(), &conv, &later_note).await, 201);
    receiver
        .until("Ann's notification", WITHIN, |r| !r.is_empty())
        .await;
    let notice = &told(&receiver, "cus_ann")[0];
    assert!(
        notice.at.duration_since(sent_at) >= Duration::from_millis(1900),
        "told after {:?}, before NOTIFY_AFTER_SECS=2",
        notice.at.duration_since(sent_at)
    );
    assert_eq!(notice.content_type, "application/json");
    assert!(hooks::signed(notice), "{notice:#?}");
    assert_eq!(notice.json["type"], "notification.unread");
    assert_timestamp(&notice.json["timestamp"]);
    let d = &notice.json["data"];
    let bo_name = common::cluster::participant(&conversation(&app, &bo(), &conv).await, "adm_bo")
        ["name"]
        .clone();
    assert_eq!(
        d,
        &json!({
            "userId": "cus_ann",
            "role": "customer",
            "conversationId": conv,
            "bookingId": BOOKING,
            "unreadCount": 2,
            "firstUnreadAt": first["createdAt"],
            "lastMessage": {
                "id": second["id"],
                "sender": "adm_bo",
                "senderName": bo_name,
                "preview": "Late check-out is fine too",
                "timestamp": second["createdAt"],
            }
        })
    );
    assert!(
        !notice.body.contains("VIP"),
        "a note leaked: {}",
        notice.body
    );

    // A third message of the same absence, unread: nothing more.
    send(&app, &bo(), &conv, "Breakfast is from 7").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        told(&receiver, "cus_ann").len(),
        1,
        "{:#?}",
        receiver.received()
    );

    // Ann reads everything, then reads the next message before the delay: nothing.
    data(
        put_empty(&format!("{}/read", conv_url(&app, &conv)), &ann()).await,
        200,
    );
    send(&app, &bo(), &conv, "Your taxi is booked").await;
    data(
        put_empty(&format!("{}/read", conv_url(&app, &conv)), &ann()).await,
        200,
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        told(&receiver, "cus_ann").len(),
        1,
        "{:#?}",
        receiver.received()
    );

    // Online, she is not told, however long the message stays unread.
    let mut socket = connect(&app.base(), Auth::Header(&ann())).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let while_online = send(&app, &bo(), &conv, "The spa is open").await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(
        told(&receiver, "cus_ann").len(),
        1,
        "{:#?}",
        receiver.received()
    );

    // Gone again, a new message is a new absence: told once more, about both unread.
    socket.ws.close(None).await.ok();
    drop(socket);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = send(&app, &bo(), &conv, "See you tomorrow").await;
    receiver
        .until("Ann's second notification", WITHIN, |_| {
            told(&receiver, "cus_ann").len() == 2
        })
        .await;
    let again = &told(&receiver, "cus_ann")[1];
    assert_ne!(again.id, notice.id);
    assert_eq!(again.json["data"]["unreadCount"], 2);
    assert_eq!(
        again.json["data"]["firstUnreadAt"],
        while_online["createdAt"]
    );
    assert_eq!(again.json["data"]["lastMessage"]["id"], after["id"]);

    // Bo, an admin with no socket, is told of Ann's message like anyone else.
    assert_eq!(told(&receiver, "adm_bo").len(), 0);
    let asked = send(&app, &ann(), &conv, "Thank you!").await;
    receiver
        .until("Bo's notification", WITHIN, |_| {
            told(&receiver, "adm_bo").len() == 1
        })
        .await;
    let bo_view = conversation(&app, &bo(), &conv).await;
    let to_bo = &told(&receiver, "adm_bo")[0].json["data"];
    assert_eq!(to_bo["role"], "admin");
    assert_eq!(to_bo["unreadCount"], bo_view["unreadCount"]);
    assert_eq!(to_bo["lastMessage"]["id"], asked["id"]);
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        receiver.received().len(),
        3,
        "one delivery each, no retries: {:#?}",
        receiver.received()
    );
    assert!(receiver.received().iter().all(|r| r.status == 204));
}

#[tokio::test]
async fn a_receiver_failing_three_times_gets_one_webhook_id_four_times_each_signed_for_the_reference_library(
) {
    let nats = Nats::start();
    let receiver = Receiver::start().await;
    receiver.fail_next(3);
    let app = node(
        &nats,
        hooks::env(
            &receiver.url,
            60,
            &[("WEBHOOK_EVENTS", "message_sent,conversation_status_changed")],
        ),
    )
    .await;
    let conv = ann_conversation(&app).await;
    let sent = send(&app, &ann(), &conv, "Is parking free?").await;
    receiver
        .until("four attempts", WITHIN, |r| r.len() == 4)
        .await;
    let got = receiver.received();
    assert_eq!(
        got.iter().map(|r| r.status).collect::<Vec<_>>(),
        vec![500, 500, 500, 204]
    );
    assert!(
        got.iter().all(|r| r.id == got[0].id),
        "one webhook-id: {got:#?}"
    );
    assert!(
        got[0].id.starts_with("msg_") && got[0].id.len() == 30,
        "{}",
        got[0].id
    );
    assert!(
        got.iter().all(|r| r.body == got[0].body),
        "the same body every time"
    );
    // The pauses grow: 200 ms doubled each time, less up to half for jitter.
    let gaps: Vec<Duration> = got.windows(2).map(|w| w[1].at - w[0].at).collect();
    assert!(gaps[0] >= Duration::from_millis(100), "{gaps:?}");
    assert!(gaps[2] >= Duration::from_millis(400), "{gaps:?}");
    assert!(got.iter().all(hooks::signed));

    // The feed: the stored envelope with its seq.
    let body = &got[0].json;
    assert_eq!(body["type"], "event.message_sent");
    let envelope = &body["data"];
    assert!(envelope["seq"].as_u64().unwrap() > 0, "{envelope}");
    assert_eq!(envelope["type"], "message_sent");
    assert_eq!(envelope["conversationId"], conv);
    assert_eq!(envelope["data"]["messageId"], sent["id"]);
    assert_eq!(envelope["actor"]["id"], "cus_ann");

    // Only the types asked for: a note and a read are not sent; a status change is.
    data(
        send_body(
            &app,
            &bo(),
            &conv,
            &json!({ "content": "checking", "internal": true }),
        )
        .await,
        201,
    );
    change_status(&app, &conv, "closed").await;
    receiver
        .until("the status change", WITHIN, |r| r.len() == 5)
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let types: Vec<Value> = receiver
        .received()
        .iter()
        .map(|r| r.json["type"].clone())
        .collect();
    assert_eq!(
        types,
        vec![
            json!("event.message_sent"),
            json!("event.message_sent"),
            json!("event.message_sent"),
            json!("event.message_sent"),
            json!("event.conversation_status_changed"),
        ]
    );
    assert!(!receiver
        .received()
        .iter()
        .any(|r| r.body.contains("checking")));

    // Every attempt verifies with the Standard Webhooks reference library (PyPI).
    verify_with_reference_library(&receiver.received());
}

/// Runs tests/webhooks/verify.py, in a venv made from tests/webhooks/requirements.lock, over
/// `received`; panics unless every one verifies.
fn verify_with_reference_library(received: &[Received]) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = common::webhooks::reference_python(root);
    let lines: String = received
        .iter()
        .map(|r| {
            json!({
                "headers": {
                    "webhook-id": r.id,
                    "webhook-timestamp": r.timestamp,
                    "webhook-signature": r.signature,
                },
                "body": r.body,
            })
            .to_string()
                + "\n"
        })
        .collect();
    let mut child = Command::new(&python)
        .arg(root.join("tests/webhooks/verify.py"))
        .env("WEBHOOK_SECRET", hooks::SECRET)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run verify.py");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "verify.py: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        received.len(),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_receiver_that_does_not_answer_within_ten_seconds_is_tried_again() {
    let nats = Nats::start();
    let receiver = Receiver::start().await;
    receiver.hang_next(1);
    let app = node(
        &nats,
        hooks::env(&receiver.url, 60, &[("WEBHOOK_EVENTS", "message_sent")]),
    )
    .await;
    let conv = ann_conversation(&app).await;
    send(&app, &ann(), &conv, "Hello?").await;
    // While the first attempt hangs, the delivery is pending (the gauges refresh every 5 s).
    receiver
        .until("the first attempt", WITHIN, |r| r.len() == 1)
        .await;
    let mut oldest_pending_seen = 0.0;
    while receiver.received().len() < 2 {
        let pending = gauge(&app, "concierge_webhook_pending").await;
        let oldest = gauge(&app, "concierge_webhook_oldest_pending_seconds").await;
        if pending == 1.0 && oldest > 0.0 {
            oldest_pending_seen = oldest;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    receiver
        .until("a second attempt", Duration::from_secs(30), |r| {
            r.len() == 2
        })
        .await;
    let got = receiver.received();
    assert_eq!(got[0].id, got[1].id);
    let waited = got[1].at - got[0].at;
    assert!(
        oldest_pending_seen > 0.0,
        "the hanging delivery showed in concierge_webhook_oldest_pending_seconds"
    );
    assert!(
        waited >= Duration::from_secs(10) && waited < common::webhooks::HANG,
        "the first attempt was given up after 10 s, not waited out: {waited:?}"
    );
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("concierge_webhook_attempts_total{result=\"timeout\"} 1"),
        "{metrics}"
    );
}

/// The value of the unlabelled series `name` in the node's `/metrics`.
async fn gauge(app: &App, name: &str) -> f64 {
    common::metric(app, name)
        .await
        .unwrap_or_else(|| panic!("{name} missing from /metrics"))
}

/// The distinct `webhook-id`s among `received`.
fn ids_of(received: &[Received]) -> Vec<String> {
    let mut ids: Vec<String> = received.iter().map(|r| r.id.clone()).collect();
    ids.sort();
    ids.dedup();
    ids
}

#[tokio::test]
async fn each_endpoint_gets_every_delivery_and_a_dead_one_holds_no_other_back() {
    let nats = Nats::start();
    let up = Receiver::start().await;
    let down = Receiver::start().await;
    down.fail_all(true);
    let urls = format!("{},{}", up.url, down.url);
    let app = node(
        &nats,
        hooks::env(&urls, 1, &[("WEBHOOK_EVENTS", "message_sent")]),
    )
    .await;
    let conv = ann_conversation(&app).await;
    let a = send(&app, &bo(), &conv, "Your room is 412").await;
    let b = send(&app, &bo(), &conv, "Breakfast is from 7").await;
    // The live endpoint gets both events and Ann's one notification while the other keeps failing.
    up.until("two events and a notification", WITHIN, |r| r.len() == 3)
        .await;
    down.until("retries", WITHIN, |r| r.len() >= 6).await;
    let got = up.received();
    assert!(got.iter().all(|r| r.status == 204 && hooks::signed(r)));
    let mut events: Vec<String> = got
        .iter()
        .filter(|r| r.json["type"] == "event.message_sent")
        .map(|r| {
            r.json["data"]["data"]["messageId"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    events.sort();
    let mut want = vec![
        a["id"].as_str().unwrap().to_string(),
        b["id"].as_str().unwrap().to_string(),
    ];
    want.sort();
    assert_eq!(events, want);
    assert_eq!(told(&up, "cus_ann").len(), 1);
    // The other endpoint is sent the same three, under ids of its own.
    let down_ids = ids_of(&down.received());
    assert_eq!(down_ids.len(), 3, "{:#?}", down.received());
    let up_ids = ids_of(&got);
    assert_eq!(up_ids.len(), 3);
    assert!(down_ids.iter().all(|id| !up_ids.contains(id)));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(up.received().len(), 3, "each once: {:#?}", up.received());
}

#[tokio::test]
async fn a_node_killed_between_attempts_leaves_the_delivery_to_another_node() {
    let nats = Nats::start();
    let receiver = Receiver::start().await;
    receiver.fail_all(true);
    let env = hooks::env(
        &receiver.url,
        60,
        &[
            ("WEBHOOK_EVENTS", "message_sent"),
            ("WEBHOOK_FIRST_RETRY_MS", "1500"),
        ],
    );
    let mut a = node(&nats, env.clone()).await;
    let conv = ann_conversation(&a).await;
    send(&a, &ann(), &conv, "Can I bring my dog?").await;
    receiver
        .until("two failed attempts", WITHIN, |r| r.len() >= 2)
        .await;
    a.kill();
    let before = receiver.received().len();
    receiver.fail_all(false);
    let b = node(&nats, env).await;
    receiver
        .until("the delivery by node B", Duration::from_secs(45), |r| {
            r.iter().any(|r| r.status == 204)
        })
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = receiver.received();
    assert!(got.len() > before, "{got:#?}");
    assert!(
        got.iter().all(|r| r.id == got[0].id),
        "one delivery: {got:#?}"
    );
    assert_eq!(
        got.iter().filter(|r| r.status == 204).count(),
        1,
        "delivered once: {got:#?}"
    );
    assert_eq!(
        got.last().unwrap().status,
        204,
        "nothing after it was delivered"
    );
    drop(b);
}

#[tokio::test]
async fn nats_restarted_mid_backoff_and_mid_delay_loses_neither_the_delivery_nor_the_notification()
{
    let mut nats = Nats::start();
    let receiver = Receiver::start().await;
    receiver.fail_all(true);
    let app = node(
        &nats,
        hooks::env(
            &receiver.url,
            4,
            &[
                ("WEBHOOK_EVENTS", "message_sent"),
                ("WEBHOOK_FIRST_RETRY_MS", "3000"),
            ],
        ),
    )
    .await;
    let conv = ann_conversation(&app).await;
    // A feed delivery that fails once and waits 1.5–3 s; a notification check due in 4 s.
    let answer = send(&app, &bo(), &conv, "We have a cot for the baby").await;
    receiver
        .until("the first failed attempt", WITHIN, |r| r.len() == 1)
        .await;
    nats.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
    nats.start_again();
    receiver.fail_all(false);
    receiver
        .until(
            "the feed delivery and the notification",
            Duration::from_secs(60),
            |r| {
                r.iter()
                    .any(|r| r.status == 204 && r.json["type"] == "event.message_sent")
                    && r.iter()
                        .any(|r| r.status == 204 && r.json["type"] == "notification.unread")
            },
        )
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let got = receiver.received();
    assert_eq!(delivered_ids(&got).len(), 2, "{got:#?}");
    let notice = &told(&receiver, "cus_ann")[0];
    assert_eq!(notice.json["data"]["lastMessage"]["id"], answer["id"]);
    assert_eq!(
        got.iter()
            .filter(|r| r.json["type"] == "event.message_sent")
            .filter(|r| r.json["data"]["data"]["messageId"] == answer["id"])
            .count(),
        got.iter()
            .filter(|r| r.json["type"] == "event.message_sent")
            .count(),
        "only the one event: {got:#?}"
    );
    drop(app);
}

#[tokio::test]
async fn two_nodes_tell_each_missed_message_once() {
    let nats = Nats::start();
    let receiver = Receiver::start().await;
    let env = hooks::env(&receiver.url, 2, &[]);
    let a = node(&nats, env.clone()).await;
    let b = node(&nats, env).await;
    let mut convs = Vec::new();
    for i in 0..6 {
        let customer = format!("cus_{i}");
        let conv = conversation_of(&a, &customer, &format!("bk_{i}")).await;
        // Bo answers each, half through each node.
        let via = if i % 2 == 0 { &a } else { &b };
        send(via, &bo(), &conv, &format!("Answer {i}")).await;
        convs.push((customer, conv));
    }
    receiver
        .until("six notifications", WITHIN, |r| r.len() >= 6)
        .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = receiver.received();
    assert_eq!(got.len(), 6, "{got:#?}");
    for (customer, conv) in &convs {
        let to = told(&receiver, customer);
        assert_eq!(to.len(), 1, "{customer}: {got:#?}");
        assert_eq!(to[0].json["data"]["conversationId"], json!(conv));
    }
}

#[tokio::test]
async fn dead_letters_are_listed_and_sent_again_by_the_cli_and_the_admin_route() {
    let nats = Nats::start();
    let receiver = Receiver::start().await;
    receiver.fail_all(true);
    let app = node(
        &nats,
        hooks::env(
            &receiver.url,
            60,
            &[("WEBHOOK_EVENTS", "message_sent"), ("WEBHOOK_MAX_AGE", "2")],
        ),
    )
    .await;
    let failed_url = app.url("/messaging/webhooks/failed");
    assert_eq!(
        data(get(&failed_url, &bo()).await, 200),
        json!({ "deadLetters": [] })
    );
    let conv = ann_conversation(&app).await;
    send(&app, &ann(), &conv, "First").await;
    send(&app, &ann(), &conv, "Second").await;
    let mut letters = Value::Null;
    for _ in 0..200 {
        letters = data(get(&failed_url, &bo()).await, 200);
        if letters["deadLetters"].as_array().unwrap().len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let list = letters["deadLetters"].as_array().unwrap().clone();
    assert_eq!(list.len(), 2, "{letters}");
    let attempts = receiver.received();
    for l in &list {
        assert_eq!(l["url"], json!(receiver.url));
        assert_eq!(l["type"], "event.message_sent");
        assert_eq!(l["lastError"], "HTTP 500");
        let tried = attempts.iter().filter(|r| r.id == l["id"]).count() as u64;
        assert_eq!(l["attempts"].as_u64().unwrap(), tried, "{l}");
        assert!(tried >= 2, "retried before giving up: {l}");
        assert_eq!(l["body"]["type"], "event.message_sent");
    }
    // `/metrics`: deliveries by outcome and attempts by result, as counted.
    let metrics = reqwest::get(app.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let series = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| {
                l.strip_prefix(name)
                    .map(|v| v.trim().parse::<f64>().unwrap() as u64)
            })
            .unwrap_or_else(|| panic!("{name} missing from:\n{metrics}"))
    };
    assert_eq!(
        series("concierge_webhook_deliveries_total{outcome=\"dead_lettered\"} "),
        2
    );
    assert_eq!(
        series("concierge_webhook_deliveries_total{outcome=\"delivered\"} "),
        0
    );
    assert_eq!(
        series("concierge_webhook_attempts_total{result=\"other_status\"} "),
        attempts.len() as u64
    );
    assert!(
        metrics.contains("concierge_webhook_oldest_pending_seconds"),
        "{metrics}"
    );
    let first_id = list[0]["id"].as_str().unwrap().to_string();
    let second_id = list[1]["id"].as_str().unwrap().to_string();

    // Customers may not see or resend them; unknown ids are 404.
    error(get(&failed_url, &ann()).await, 403, "forbidden");
    let redeliver = |id: &str| app.url(&format!("/messaging/webhooks/failed/{id}/redeliver"));
    error(
        post(&redeliver(&first_id), &ann(), &json!({})).await,
        403,
        "forbidden",
    );
    error(
        post(
            &redeliver("msg_01JDQ7X0S9G1W7V8M2K3Z4Y5AB"),
            &bo(),
            &json!({}),
        )
        .await,
        404,
        "not_found",
    );
    error(
        post(&redeliver("nonsense"), &bo(), &json!({})).await,
        404,
        "not_found",
    );

    // The CLI lists both, as JSON lines, oldest failure first.
    let cli = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_concierge"))
            .args(args)
            .env("NATS_URL", nats.url())
            .env("DATA_DIR", app.data_dir())
            .output()
            .expect("run concierge")
    };
    let out = cli(&["webhooks", "failed"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines, list);

    // doctor, run with the node's settings, warns of them.
    let doctor = Command::new(env!("CARGO_BIN_EXE_concierge"))
        .arg("doctor")
        .env("NATS_URL", nats.url())
        .env("DATA_DIR", app.data_dir())
        .env("JWT_SECRET", "a-secret-of-forty-bytes-for-doctor-tests")
        .envs(hooks::env(&receiver.url, 60, &[]))
        .output()
        .expect("run concierge doctor");
    let report = String::from_utf8_lossy(&doctor.stdout);
    let line = report
        .lines()
        .find(|l| l.contains(" webhooks"))
        .unwrap_or_else(|| panic!("no webhooks line in:\n{report}"));
    assert!(
        line.starts_with("warn") && line.contains("; 0 delivery(ies) pending; 2 dead letter(s)"),
        "{report}"
    );
    assert_eq!(
        report
            .lines()
            .filter(|l| l.contains("stream CONCIERGE_WEBHOOKS:")
                || l.contains("stream KV_CONCIERGE_NOTIFIED:"))
            .filter(|l| l.starts_with("ok"))
            .count(),
        2,
        "{report}"
    );

    // Sent again once the receiver is back: by the route, then by the CLI; same id and body.
    receiver.fail_all(false);
    let queued = data(post(&redeliver(&first_id), &bo(), &json!({})).await, 202);
    assert_eq!(queued["id"], json!(first_id));
    let out = cli(&["webhooks", "redeliver", &second_id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    receiver
        .until("both delivered", WITHIN, |r| {
            r.iter().filter(|r| r.status == 204).count() == 2
        })
        .await;
    let ok: Vec<Received> = receiver
        .received()
        .into_iter()
        .filter(|r| r.status == 204)
        .collect();
    let mut ids: Vec<&str> = ok.iter().map(|r| r.id.as_str()).collect();
    ids.sort();
    let mut want = vec![first_id.as_str(), second_id.as_str()];
    want.sort();
    assert_eq!(ids, want);
    for r in &ok {
        let letter = list.iter().find(|l| l["id"] == r.id.as_str()).unwrap();
        assert_eq!(r.json, letter["body"], "the same body");
        assert!(hooks::signed(r));
    }
    assert_eq!(
        data(get(&failed_url, &bo()).await, 200),
        json!({ "deadLetters": [] })
    );
    let out = cli(&["webhooks", "redeliver", &first_id]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no dead letter has the id"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn without_webhook_url_nothing_is_created_and_nothing_reads_the_log() {
    let nats = Nats::start();
    let app = App::start(&nats).await;
    let conv = ann_conversation(&app).await;
    send(&app, &bo(), &conv, "Hello").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    for stream in [
        "CONCIERGE_NOTIFY",
        "CONCIERGE_WEBHOOKS",
        "KV_CONCIERGE_WEBHOOKS_FAILED",
        "KV_CONCIERGE_NOTIFIED",
    ] {
        assert!(js.get_stream(stream).await.is_err(), "{stream} exists");
    }
    let log = js.get_stream("CONCIERGE").await.unwrap();
    assert!(
        log.get_consumer::<async_nats::jetstream::consumer::pull::Config>("concierge-webhooks")
            .await
            .is_err(),
        "no webhook consumer on the log"
    );
    assert_eq!(
        data(
            get(&app.url("/messaging/webhooks/failed"), &bo()).await,
            200
        ),
        json!({ "deadLetters": [] })
    );
}

#[tokio::test]
async fn webhook_settings_that_cannot_work_stop_the_server_naming_them() {
    let nats = Nats::start();
    let refused = |env: &[(&str, &str)]| {
        let mut app = App::spawn_with(
            &nats.url(),
            AppOptions {
                extra_env: env
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Default::default()
            },
        );
        async move {
            let status = app
                .exited_within(Duration::from_secs(10))
                .await
                .expect("the server refused to start");
            (status.code(), app.log())
        }
    };
    let url = ("WEBHOOK_URL", "http://127.0.0.1:9/hooks");
    for (env, names) in [
        (vec![url], "WEBHOOK_SECRET is not set"),
        (
            vec![url, ("WEBHOOK_SECRET", "s3cret")],
            "WEBHOOK_SECRET must start with `whsec_`",
        ),
        (
            vec![url, ("WEBHOOK_SECRET", "whsec_c2hvcnQ=")],
            "WEBHOOK_SECRET holds 5 bytes",
        ),
        (
            vec![
                ("WEBHOOK_URL", "ftp://x/y"),
                ("WEBHOOK_SECRET", hooks::SECRET),
            ],
            "WEBHOOK_URL holds \"ftp://x/y\"",
        ),
        (
            vec![
                url,
                ("WEBHOOK_SECRET", hooks::SECRET),
                ("WEBHOOK_EVENTS", "message_sent,mesage_edited"),
            ],
            "WEBHOOK_EVENTS holds \"mesage_edited\"",
        ),
    ] {
        let (code, log) = refused(&env).await;
        assert_eq!(code, Some(2), "{env:?}: {log}");
        assert!(log.contains(names), "{env:?} should name {names:?}: {log}");
        assert!(
            !log.contains("c2hvcnQ") && !log.contains("s3cret"),
            "the secret is never printed: {log}"
        );
    }
}

#[tokio::test]
async fn the_readme_s_ten_line_receiver_takes_signed_deliveries_and_refuses_forged_ones() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let receiver_py = std::fs::read_to_string(root.join("tests/webhooks/receiver.py")).unwrap();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    assert!(
        readme.contains(&receiver_py),
        "README.md shows tests/webhooks/receiver.py as it is"
    );
    assert!(receiver_py.lines().count() <= 10, "{receiver_py}");

    let port = free_port();
    let mut child = Command::new(common::webhooks::reference_python(root))
        .arg(root.join("tests/webhooks/receiver.py"))
        .env("WEBHOOK_SECRET", hooks::SECRET)
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("run receiver.py");
    let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines_tx.send(line);
        }
    });
    let url = format!("http://127.0.0.1:{port}/");
    let client = reqwest::Client::new();
    let mut forged = None;
    for _ in 0..100 {
        let r = client
            .post(&url)
            .header("webhook-id", "msg_01JDQ7X0S9G1W7V8M2K3Z4Y5AB")
            .header("webhook-timestamp", (concierge_events::Timestamp::now().millis() / 1000).to_string())
            .header("webhook-signature", "v1,bm90IHRoZSBzaWduYXR1cmU=")
            .body(r#"{"type":"notification.unread","timestamp":"2026-12-03T10:00:00.000Z","data":{}}"#)
            .send()
            .await;
        if let Ok(r) = r {
            forged = Some(r.status().as_u16());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(forged, Some(400), "a forged delivery is refused");

    let nats = Nats::start();
    let app = node(
        &nats,
        hooks::env(&url, 1, &[("WEBHOOK_EVENTS", "message_sent")]),
    )
    .await;
    let conv = ann_conversation(&app).await;
    let sent = send(&app, &bo(), &conv, "Your key card is at the desk").await;
    let mut printed = Vec::new();
    while printed.len() < 2 {
        let line = lines
            .recv_timeout(WITHIN)
            .unwrap_or_else(|_| panic!("receiver.py printed only {printed:#?}"));
        printed.push(serde_json::from_str::<Value>(&line).unwrap());
    }
    let _ = child.kill();
    let _ = child.wait();
    printed.sort_by_key(|p| p["type"].as_str().unwrap_or_default().to_string());
    assert_eq!(printed[0]["type"], "event.message_sent");
    assert_eq!(printed[0]["data"]["data"]["messageId"], sent["id"]);
    assert_eq!(printed[1]["type"], "notification.unread");
    assert_eq!(printed[1]["data"]["userId"], "cus_ann");
    assert_eq!(printed[1]["data"]["lastMessage"]["id"], sent["id"]);
}
