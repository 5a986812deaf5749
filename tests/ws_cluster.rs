//! Two server nodes on one NATS (WEBSOCKET.md, Guarantees): a client on node A receives what was sent
//! through node B, and presence is true across nodes: online while any node holds a socket of the
//! user, converging within 2 s, and a node that dies without closing its sockets has its users go
//! offline within 30 s.

mod common;

use common::cluster::*;
use common::ws::{connect, Auth, Client};
use common::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A dead node's users go offline within this.
const DEAD_NODE: Duration = Duration::from_secs(30);

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn stats(app: &App) -> Value {
    data(
        get(&app.url("/messaging/stats"), &admin("adm_probe")).await,
        200,
    )
}

/// Sends a close frame and waits for the server's answer (or the end of the stream).
async fn close(mut client: Client) {
    client.ws.close(None).await.expect("close the socket");
    while client.next_within(Duration::from_secs(5)).await.is_some() {}
}

#[tokio::test]
async fn a_message_sent_through_one_node_reaches_sockets_on_the_other() {
    let c = Cluster::start(false).await;
    let conv = conversation_on_both(&c, "cus_ann", "bk_1").await;
    let ann = customer("cus_ann", &[]);
    let bo = admin("adm_bo");
    let mut bo_a = connect(&c.a.base(), Auth::Header(&bo)).await;
    let mut ann_a = connect(&c.a.base(), Auth::Header(&ann)).await;

    // Over HTTP through B.
    let m1 = send(&c.b, &ann, &conv, "through B over HTTP").await;
    let got = bo_a.next_event("new_message").await;
    assert_eq!(got["seq"], m1["seq"], "{got}");
    assert_eq!(got["data"]["conversationId"], json!(conv));
    assert_eq!(got["data"]["message"]["id"], m1["id"]);
    assert_eq!(
        got["data"]["message"]["content"],
        json!("through B over HTTP")
    );
    let own = ann_a.next_event("message_sent").await;
    assert_eq!(own["seq"], m1["seq"], "{own}");
    assert_eq!(own["data"]["message"]["id"], m1["id"]);

    // Over WebSocket on B.
    let mut ann_b = connect(&c.b.base(), Auth::Header(&ann)).await;
    let ack = ann_b
        .request(
            "send_message",
            json!({ "conversationId": conv, "content": "through B over WebSocket" }),
            "s-1",
        )
        .await;
    assert_eq!(ack["event"], json!("ack"), "{ack}");
    let m2 = ack["data"]["message"].clone();
    assert!(m2["seq"].as_u64().unwrap() > m1["seq"].as_u64().unwrap());
    let got = bo_a.next_event("new_message").await;
    assert_eq!(got["seq"], m2["seq"], "{got}");
    assert_eq!(got["data"]["message"]["id"], m2["id"]);
    assert_eq!(
        got["data"]["message"]["content"],
        json!("through B over WebSocket")
    );
    // The sender's socket on the other node gets it as its own.
    let own = ann_a.next_event("message_sent").await;
    assert_eq!(own["seq"], m2["seq"], "{own}");
    assert!(
        !ann_a.seen.iter().any(|f| f["event"] == "new_message"),
        "the sender got new_message for its own message: {:#?}",
        ann_a.seen
    );
}

#[tokio::test]
async fn presence_is_cluster_wide_and_the_last_close_sets_last_seen() {
    let c = Cluster::start(true).await;
    let conv = conversation_on_both(&c, "cus_ann", "bk_1").await;
    let ann = customer("cus_ann", &[]);
    let bo = admin("adm_bo");
    let p = participant(&conversation(&c.b, &bo, &conv).await, "cus_ann");
    assert_eq!(p["online"], json!(false), "{p}");
    assert_eq!(p["lastSeen"], Value::Null, "never connected: {p}");

    let mut bo_b = connect(&c.b.base(), Auth::Header(&bo)).await;
    let ann_a = connect(&c.a.base(), Auth::Header(&ann)).await;
    wait_online(&c.b, &conv, "cus_ann", true, CONVERGENCE).await;
    let on = next_presence(&mut bo_b, "user_online", "cus_ann", CONVERGENCE).await;
    assert_eq!(on["data"]["role"], json!("customer"), "{on}");
    assert_timestamp(&on["data"]["at"]);

    let users = json!(["adm_bo", "cus_ann"]);
    for (app, local) in [(&c.a, 1), (&c.b, 1)] {
        let s = wait_status(app, CONVERGENCE, |s| s["onlineUsers"] == users).await;
        assert_eq!(s["initialized"], json!(true), "{s}");
        assert_eq!(s["connections"], json!(local), "{s}");
        let st = stats(app).await;
        assert_eq!(
            (
                &st["onlineUsers"],
                &st["onlineCustomers"],
                &st["onlineAdmins"]
            ),
            (&json!(2), &json!(1), &json!(1)),
            "{st}"
        );
    }

    let before_close = now_millis();
    close(ann_a).await;
    let off = next_presence(&mut bo_b, "user_offline", "cus_ann", CONVERGENCE).await;
    assert_eq!(off["data"]["role"], json!("customer"), "{off}");
    assert!(millis(&off["data"]["at"]) >= before_close, "{off}");
    for app in [&c.b, &c.a] {
        let p = wait_online(app, &conv, "cus_ann", false, CONVERGENCE).await;
        let last_seen = millis(&p["lastSeen"]);
        assert!(
            last_seen >= before_close && last_seen <= now_millis(),
            "lastSeen {} is not the time of the close (after {before_close})",
            p["lastSeen"]
        );
    }
    let st = stats(&c.b).await;
    assert_eq!(
        (st["onlineUsers"].clone(), st["onlineCustomers"].clone()),
        (json!(1), json!(0)),
        "{st}"
    );
    let s = c.b.socket_status().await;
    assert_eq!(s["onlineUsers"], json!(["adm_bo"]), "{s}");
}

#[tokio::test]
async fn a_user_with_sockets_on_both_nodes_stays_online_when_one_closes() {
    let c = Cluster::start(true).await;
    let conv = conversation_on_both(&c, "cus_ann", "bk_1").await;
    let ann = customer("cus_ann", &[]);
    let mut bo_b = connect(&c.b.base(), Auth::Header(&admin("adm_bo"))).await;
    let ann_a = connect(&c.a.base(), Auth::Header(&ann)).await;
    let ann_b = connect(&c.b.base(), Auth::Header(&ann)).await;
    next_presence(&mut bo_b, "user_online", "cus_ann", CONVERGENCE).await;

    close(ann_a).await;
    wait_status(&c.a, CONVERGENCE, |s| s["connections"] == json!(0)).await;
    // Long enough for node A's next heartbeat (every 2 s) to have reached node B.
    let quiet_until = tokio::time::Instant::now() + Duration::from_millis(2_500);
    loop {
        let left = quiet_until.saturating_duration_since(tokio::time::Instant::now());
        match bo_b.next_within(left).await {
            Some(f) => assert!(
                !presence_of(&f, "user_offline", "cus_ann"),
                "user_offline while a socket on node B is open: {f}"
            ),
            None => break,
        }
    }
    for app in [&c.a, &c.b] {
        let p = participant(
            &conversation(app, &admin("adm_probe"), &conv).await,
            "cus_ann",
        );
        assert_eq!(p["online"], json!(true), "on {}: {p}", app.base());
        let s = app.socket_status().await;
        assert_eq!(s["onlineUsers"], json!(["adm_bo", "cus_ann"]), "{s}");
    }

    close(ann_b).await;
    next_presence(&mut bo_b, "user_offline", "cus_ann", CONVERGENCE).await;
    wait_online(&c.a, &conv, "cus_ann", false, CONVERGENCE).await;
    let onlines = bo_b
        .seen
        .iter()
        .filter(|f| presence_of(f, "user_online", "cus_ann"))
        .count();
    assert_eq!(onlines, 1, "one user_online for one stretch online");
}

#[tokio::test]
async fn the_users_of_a_killed_node_go_offline_on_the_other_within_30_s() {
    let mut c = Cluster::start(true).await;
    let conv = conversation_on_both(&c, "cus_ann", "bk_1").await;
    let mut bo_b = connect(&c.b.base(), Auth::Header(&admin("adm_bo"))).await;
    let _ann_a = connect(&c.a.base(), Auth::Header(&customer("cus_ann", &[]))).await;
    next_presence(&mut bo_b, "user_online", "cus_ann", CONVERGENCE).await;
    wait_online(&c.b, &conv, "cus_ann", true, CONVERGENCE).await;

    let killed_at = now_millis();
    let started = Instant::now();
    c.a.kill();
    let off = next_presence(&mut bo_b, "user_offline", "cus_ann", DEAD_NODE).await;
    assert!(started.elapsed() <= DEAD_NODE);
    assert_eq!(off["data"]["role"], json!("customer"), "{off}");
    assert!(millis(&off["data"]["at"]) >= killed_at, "{off}");

    let p = participant(
        &conversation(&c.b, &admin("adm_probe"), &conv).await,
        "cus_ann",
    );
    assert_eq!(p["online"], json!(false), "{p}");
    let last_seen = millis(&p["lastSeen"]);
    assert!(
        last_seen >= killed_at && last_seen <= now_millis(),
        "lastSeen {} is not when the dead node's users were declared offline",
        p["lastSeen"]
    );
    let st = stats(&c.b).await;
    assert_eq!(
        (
            &st["onlineUsers"],
            &st["onlineCustomers"],
            &st["onlineAdmins"]
        ),
        (&json!(1), &json!(0), &json!(1)),
        "{st}"
    );
    let s = c.b.socket_status().await;
    assert_eq!(s["onlineUsers"], json!(["adm_bo"]), "{s}");
}

#[tokio::test]
async fn a_node_started_later_learns_who_is_online_within_2_s() {
    let nats = Nats::start();
    let opts = AppOptions {
        dev: true,
        ..AppOptions::default()
    };
    let a = App::start_with(&nats, opts.clone()).await;
    let _ann = connect(&a.base(), Auth::Header(&customer("cus_ann", &[]))).await;
    wait_status(&a, CONVERGENCE, |s| s["onlineUsers"] == json!(["cus_ann"])).await;

    let b = App::start_with(&nats, opts).await;
    let s = wait_status(&b, CONVERGENCE, |s| s["onlineUsers"] == json!(["cus_ann"])).await;
    assert_eq!(s["connections"], json!(0), "{s}");
    let st = stats(&b).await;
    assert_eq!(st["onlineCustomers"], json!(1), "{st}");
}

#[tokio::test]
async fn a_socket_that_reconnects_to_the_other_node_resumes_without_a_gap() {
    let c = Cluster::start(false).await;
    let conv = conversation_on_both(&c, "cus_ann", "bk_1").await;
    let ann = customer("cus_ann", &[]);
    let bo = admin("adm_bo");
    let mut on_a = connect(&c.a.base(), Auth::Header(&bo)).await;
    let m1 = send(&c.a, &ann, &conv, "seen on A").await;
    let got = on_a.next_event("conversation_updated").await;
    assert_eq!(got["seq"], m1["seq"], "{got}");
    let cursor = on_a
        .seen
        .iter()
        .filter_map(|f| f["seq"].as_u64())
        .max()
        .unwrap();
    drop(on_a);

    let mut missed = Vec::new();
    for i in 0..5 {
        missed.push(send(&c.a, &ann, &conv, &format!("missed {i}")).await["id"].clone());
    }
    let mut on_b = connect(&c.b.base(), Auth::Header(&bo)).await;
    let ack = on_b
        .request("resume", json!({ "since": cursor }), "r-1")
        .await;
    assert_eq!(ack["event"], json!("ack"), "{ack}");
    let replayed: Vec<Value> = on_b
        .seen
        .iter()
        .filter(|f| f["event"] == "new_message")
        .map(|f| f["data"]["message"]["id"].clone())
        .collect();
    assert_eq!(replayed, missed, "the gap, once and in order");
    let done = on_b
        .seen
        .iter()
        .find(|f| f["event"] == "resume_complete")
        .expect("resume_complete");
    assert_eq!(done["data"]["upTo"], ack["data"]["upTo"], "{done}");
}

#[tokio::test]
async fn last_seen_is_kept_across_a_restart_of_every_node() {
    let mut c = Cluster::start(false).await;
    let conv = conversation_on_both(&c, "cus_ann", "bk_seen").await;
    let ann = connect(&c.a.base(), Auth::Header(&customer("cus_ann", &[]))).await;
    wait_online(&c.b, &conv, "cus_ann", true, CONVERGENCE).await;
    close(ann).await;
    let seen = wait_online(&c.b, &conv, "cus_ann", false, CONVERGENCE).await["lastSeen"].clone();
    assert!(seen.is_string(), "lastSeen after the close: {seen}");

    // Both nodes restart: neither saw the close in this life, yet both still know it.
    c.a.restart().await;
    c.b.restart().await;
    let token = admin("adm_probe");
    for app in [&c.a, &c.b] {
        let deadline = Instant::now() + CATCH_UP;
        loop {
            let p = participant(&conversation(app, &token, &conv).await, "cus_ann");
            if p["lastSeen"] == seen {
                assert_eq!(p["online"], json!(false));
                break;
            }
            assert!(
                Instant::now() < deadline,
                "lastSeen not restored on {}: {p}",
                app.base()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
