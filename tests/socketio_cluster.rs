//! Two server nodes on one NATS with sockets of both codecs (SOCKETIO.md, Transport: "Events reach
//! every node's sockets through the log, as for `/ws`"; WEBSOCKET.md, Guarantees): a Socket.IO
//! client on node A receives what `/ws` and HTTP wrote through node B, with the same `seq` a `/ws`
//! client sees; presence counts the sockets of both kinds on both nodes and converges within 2 s.

mod common;

use common::cluster::*;
use common::sio::{self, Auth as SioAuth};
use common::ws::{self, Auth as WsAuth};
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

/// Closes a Socket.IO client as `socket.disconnect()` does (a `DISCONNECT` packet, then the
/// WebSocket's close) and waits for the server's end of it.
async fn close_sio(mut c: sio::Client) {
    c.send_raw("41").await;
    let _ = c.ws.close(None).await;
    while c.next_within(Duration::from_secs(5)).await.is_some() {}
}

/// Sends a close frame and waits for the server's answer (or the end of the stream).
async fn close_ws(mut c: ws::Client) {
    c.ws.close(None).await.expect("close the socket");
    while c.next_within(Duration::from_secs(5)).await.is_some() {}
}

/// Fails when anything about `user`'s presence arrives within `quiet`.
async fn no_offline_for(c: &mut sio::Client, user: &str, quiet: Duration) {
    let until = tokio::time::Instant::now() + quiet;
    loop {
        let left = until.saturating_duration_since(tokio::time::Instant::now());
        match c.next_within(left).await {
            Some(v) => assert!(
                !presence_of(&v, "user_offline", user),
                "user_offline while another socket of {user} is open: {v}"
            ),
            None => return,
        }
    }
}

#[tokio::test]
async fn what_ws_and_http_write_through_one_node_reaches_socket_io_on_the_other() {
    let c = Cluster::start(false).await;
    let conv = conversation_on_both(&c, "cus_ann", "bk_1").await;
    let ann = customer("cus_ann", &[]);
    let mut bo_a = sio::connect(&c.a.base(), SioAuth::Token(&admin("adm_bo"))).await;
    let mut ann_a = sio::connect(&c.a.base(), SioAuth::Token(&ann)).await;
    let mut cy_b = ws::connect(&c.b.base(), WsAuth::Header(&admin("adm_cy"))).await;

    // Over HTTP through B.
    let m1 = send(&c.b, &ann, &conv, "through B over HTTP").await;
    let got = bo_a.next_event("new_message").await;
    assert_eq!(got["data"]["seq"], m1["seq"], "{got}");
    assert_eq!(got["data"]["conversationId"], json!(conv));
    assert_eq!(got["data"]["message"]["id"], m1["id"]);
    assert_eq!(
        got["data"]["message"]["content"],
        json!("through B over HTTP")
    );
    let on_b = cy_b.next_event("new_message").await;
    assert_eq!(on_b["seq"], m1["seq"], "{on_b}");
    assert_eq!(on_b["data"]["message"], got["data"]["message"]);
    let own = ann_a.next_event("message_sent").await;
    assert_eq!(own["data"]["seq"], m1["seq"], "{own}");
    assert_eq!(own["data"]["message"]["id"], m1["id"]);

    // Over /ws on B.
    let mut ann_b = ws::connect(&c.b.base(), WsAuth::Header(&ann)).await;
    let ack = ann_b
        .request(
            "send_message",
            json!({ "conversationId": conv, "content": "through B over /ws" }),
            "s-1",
        )
        .await;
    assert_eq!(ack["event"], json!("ack"), "{ack}");
    let m2 = ack["data"]["message"].clone();
    assert!(m2["seq"].as_u64().unwrap() > m1["seq"].as_u64().unwrap());
    let got = bo_a.next_event("new_message").await;
    assert_eq!(got["data"]["seq"], m2["seq"], "{got}");
    assert_eq!(got["data"]["message"]["id"], m2["id"]);
    assert_eq!(
        got["data"]["message"]["content"],
        json!("through B over /ws")
    );
    let on_b = cy_b.next_event("new_message").await;
    assert_eq!(on_b["seq"], m2["seq"], "{on_b}");
    // The sender's Socket.IO socket on the other node gets it as its own.
    let own = ann_a.next_event("message_sent").await;
    assert_eq!(own["data"]["seq"], m2["seq"], "{own}");

    // And back: over Socket.IO on A, to /ws on B.
    let ack = ann_a
        .request(
            "send_message",
            json!({ "conversationId": conv, "content": "through A over Socket.IO" }),
        )
        .await;
    assert_eq!(ack["success"], json!(true), "{ack}");
    let m3 = ack["data"]["message"].clone();
    let on_b = cy_b.next_event("new_message").await;
    assert_eq!(on_b["seq"], m3["seq"], "{on_b}");
    assert_eq!(on_b["data"]["message"]["id"], m3["id"]);
    // (The /ws socket on B got message_sent for its own m2 first.)
    let own = ann_b
        .next_matching("message_sent of m3", |v| {
            v["event"] == "message_sent" && v["data"]["message"]["id"] == m3["id"]
        })
        .await;
    assert_eq!(own["seq"], m3["seq"], "{own}");
    let own_ws: Vec<&Value> = ann_b
        .seen
        .iter()
        .filter(|v| v["event"] == "message_sent")
        .collect();
    assert_eq!(own_ws.len(), 2, "m2 and m3, once each: {own_ws:#?}");
    assert_eq!(own_ws[0]["seq"], m2["seq"]);
    let got = bo_a.next_event("new_message").await;
    assert_eq!(got["data"]["seq"], m3["seq"], "{got}");

    for seen in [&ann_a.seen, &ann_b.seen] {
        assert!(
            !seen.iter().any(|v| v["event"] == "new_message"),
            "the sender got new_message for its own message: {seen:#?}"
        );
    }
    // Each socket got each message once.
    let ids = |seen: &[Value]| -> Vec<Value> {
        seen.iter()
            .filter(|v| v["event"] == "new_message")
            .map(|v| v["data"]["message"]["id"].clone())
            .collect()
    };
    let want = vec![m1["id"].clone(), m2["id"].clone(), m3["id"].clone()];
    assert_eq!(ids(&bo_a.seen), want);
    assert_eq!(ids(&cy_b.seen), want);
}

#[tokio::test]
async fn presence_counts_sockets_of_both_codecs_on_both_nodes() {
    let c = Cluster::start(true).await;
    let conv = conversation_on_both(&c, "cus_ann", "bk_1").await;
    let ann = customer("cus_ann", &[]);
    let mut bo_a = sio::connect(&c.a.base(), SioAuth::Token(&admin("adm_bo"))).await;
    let mut cy_b = ws::connect(&c.b.base(), WsAuth::Header(&admin("adm_cy"))).await;
    wait_status(&c.b, CONVERGENCE, |s| {
        s["onlineUsers"] == json!(["adm_bo", "adm_cy"])
    })
    .await;

    // A Socket.IO socket on B: online for the admin on A (Socket.IO) and on B (/ws).
    let ann_b = sio::connect(&c.b.base(), SioAuth::Token(&ann)).await;
    let on = next_presence(&mut bo_a, "user_online", "cus_ann", CONVERGENCE).await;
    assert_eq!(on["data"]["role"], json!("customer"), "{on}");
    assert_timestamp(&on["data"]["at"]);
    assert!(
        on["data"].get("seq").is_none(),
        "presence is not from the log: {on}"
    );
    let on_b = next_presence(&mut cy_b, "user_online", "cus_ann", CONVERGENCE).await;
    assert_eq!(on_b["data"]["role"], json!("customer"), "{on_b}");
    wait_online(&c.a, &conv, "cus_ann", true, CONVERGENCE).await;

    // A /ws socket on A as well: still one stretch online.
    let ann_a = ws::connect(&c.a.base(), WsAuth::Header(&ann)).await;
    let users = json!(["adm_bo", "adm_cy", "cus_ann"]);
    for (app, local) in [(&c.a, 2), (&c.b, 2)] {
        let s = wait_status(app, CONVERGENCE, |s| {
            s["onlineUsers"] == users && s["connections"] == json!(local)
        })
        .await;
        assert_eq!(s["initialized"], json!(true), "{s}");
    }

    // The Socket.IO socket on B closes: the /ws one on A keeps the customer online.
    close_sio(ann_b).await;
    wait_status(&c.b, CONVERGENCE, |s| s["connections"] == json!(1)).await;
    // Long enough for node B's next heartbeat (every 2 s) to have reached node A.
    no_offline_for(&mut bo_a, "cus_ann", Duration::from_millis(2_500)).await;
    for app in [&c.a, &c.b] {
        let p = participant(
            &conversation(app, &admin("adm_probe"), &conv).await,
            "cus_ann",
        );
        assert_eq!(p["online"], json!(true), "on {}: {p}", app.base());
        let s = app.socket_status().await;
        assert_eq!(s["onlineUsers"], users, "{s}");
    }

    // The last socket, /ws on A, closes: offline everywhere within 2 s.
    close_ws(ann_a).await;
    let off = next_presence(&mut bo_a, "user_offline", "cus_ann", CONVERGENCE).await;
    assert_eq!(off["data"]["role"], json!("customer"), "{off}");
    assert_timestamp(&off["data"]["at"]);
    next_presence(&mut cy_b, "user_offline", "cus_ann", CONVERGENCE).await;
    for app in [&c.a, &c.b] {
        let p = wait_online(app, &conv, "cus_ann", false, CONVERGENCE).await;
        assert!(p["lastSeen"].is_string(), "{p}");
        wait_status(app, CONVERGENCE, |s| {
            s["onlineUsers"] == json!(["adm_bo", "adm_cy"])
        })
        .await;
    }
    let count = |seen: &[Value], event: &str| {
        seen.iter()
            .filter(|v| presence_of(v, event, "cus_ann"))
            .count()
    };
    assert_eq!(
        (
            count(&bo_a.seen, "user_online"),
            count(&bo_a.seen, "user_offline")
        ),
        (1, 1),
        "one user_online and one user_offline for one stretch online: {:#?}",
        bo_a.seen
    );
    assert_eq!(
        (
            count(&cy_b.seen, "user_online"),
            count(&cy_b.seen, "user_offline")
        ),
        (1, 1),
        "{:#?}",
        cy_b.seen
    );
}

#[tokio::test]
async fn a_socket_io_client_that_reconnects_to_the_other_node_resumes_without_a_gap() {
    let c = Cluster::start(false).await;
    let conv = conversation_on_both(&c, "cus_ann", "bk_1").await;
    let ann = customer("cus_ann", &[]);
    let bo = admin("adm_bo");
    let mut on_a = sio::connect(&c.a.base(), SioAuth::Token(&bo)).await;
    let m1 = send(&c.a, &ann, &conv, "seen on A").await;
    on_a.next_matching("conversation_updated", |v| {
        v["event"] == "conversation_updated" && v["data"]["seq"] == m1["seq"]
    })
    .await;
    let cursor = on_a
        .seen
        .iter()
        .filter_map(|v| v["data"]["seq"].as_u64())
        .max()
        .unwrap();
    drop(on_a);

    let mut missed = Vec::new();
    for i in 0..5 {
        missed.push(send(&c.a, &ann, &conv, &format!("missed {i}")).await["id"].clone());
    }
    let mut on_b = sio::connect_with(
        &c.b.base(),
        SioAuth::Token(&bo),
        Some(json!({ "since": cursor })),
    )
    .await;
    let done = on_b.next_event("resume_complete").await;
    let replayed: Vec<Value> = on_b
        .seen
        .iter()
        .filter(|v| v["event"] == "new_message")
        .map(|v| v["data"]["message"]["id"].clone())
        .collect();
    assert_eq!(replayed, missed, "the gap, once and in order");
    assert!(done["data"]["upTo"].as_u64().unwrap() > cursor, "{done}");
    // Live on B after the replay.
    let m = send(&c.a, &ann, &conv, "live on B").await;
    let got = on_b.next_event("new_message").await;
    assert_eq!(got["data"]["seq"], m["seq"], "{got}");
}
