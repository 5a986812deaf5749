//! Route 6: `GET /messaging/stats` (admin or service; customer 403).

mod common;

use common::*;
use serde_json::{json, Value};

async fn stats(app: &App, token: &str) -> Value {
    data(get(&app.url("/messaging/stats"), token).await, 200)
}

fn empty_stats() -> Value {
    json!({
        "totalConversations": 0,
        "conversationsByStatus": { "active": 0, "archived": 0, "closed": 0, "snoozed": 0 },
        "totalMessages": 0,
        "messagesLast24h": 0,
        "onlineUsers": 0,
        "onlineCustomers": 0,
        "onlineAdmins": 0,
        "avgFirstResponseSeconds": null,
        "responseTimes": {
            "firstResponseTargetSeconds": 300,
            "last24h": empty_window(),
            "last7d": empty_window(),
            "waitingOverTarget": 0,
        },
        "satisfaction": { "average": null, "count": 0 },
    })
}

fn empty_window() -> Value {
    let none = json!({ "count": 0, "medianSeconds": null, "p90Seconds": null });
    json!({ "firstResponse": none, "resolution": none, "overFirstResponseTarget": 0 })
}

async fn conv_for(app: &App, customer_id: &str, booking: &str) -> String {
    id_of(&created(
        open(app, &customer(customer_id, &[booking]), booking).await,
    ))
}

#[tokio::test]
async fn stats_are_for_admins_and_services_only() {
    let env = TestEnv::start().await;
    let app = &env.app;
    assert_eq!(stats(app, &admin("adm_1")).await, empty_stats());
    assert_eq!(stats(app, &service()).await, empty_stats());
    error(
        get(&app.url("/messaging/stats"), &customer("cus_ann", &[])).await,
        403,
        "forbidden",
    );
    let r = raw(
        reqwest::Method::GET,
        &app.url("/messaging/stats"),
        None,
        &[],
        None,
    )
    .await;
    error((r.status, r.body), 401, "unauthorized");
}

#[tokio::test]
async fn stats_count_conversations_messages_and_first_responses() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let (ann, ben) = (customer("cus_ann", &[]), customer("cus_ben", &[]));
    let bo = admin("adm_bo");
    let c1 = conv_for(app, "cus_ann", "bk_1").await;
    let c2 = conv_for(app, "cus_ann", "bk_2").await;
    let c3 = conv_for(app, "cus_ben", "bk_3").await;

    let q1 = send(app, &ann, &c1, "first question").await;
    send(app, &ann, &c1, "second question").await;
    let q2 = send(app, &ann, &c2, "other question").await;
    send(app, &ben, &c3, "ben's question").await;

    let mut want = empty_stats();
    want["totalConversations"] = json!(3);
    want["conversationsByStatus"] =
        json!({ "active": 3, "archived": 0, "closed": 0, "snoozed": 0 });
    want["totalMessages"] = json!(4);
    want["messagesLast24h"] = json!(4);
    assert_eq!(stats(app, &bo).await, want);
    assert_eq!(stats(app, &service()).await, want);

    // The first admin reply in c1; later replies in c1 do not change its response time.
    tick().await;
    let r1 = send(app, &bo, &c1, "answer").await;
    send(app, &admin("adm_cy"), &c1, "another answer").await;
    let s = stats(app, &bo).await;
    assert_eq!(s["totalMessages"], json!(6));
    assert_eq!(s["messagesLast24h"], json!(6));
    let expected1 = (millis(&r1["createdAt"]) - millis(&q1["createdAt"])) as f64 / 1000.0;
    let avg = s["avgFirstResponseSeconds"]
        .as_f64()
        .unwrap_or_else(|| panic!("avgFirstResponseSeconds is a number after a reply: {s}"));
    assert!(
        (avg - expected1).abs() <= 1.0 && avg >= 0.0,
        "avgFirstResponseSeconds {avg}, expected about {expected1}"
    );

    // A second conversation answered: the mean of both.
    tick().await;
    let r2 = send(app, &bo, &c2, "answer 2").await;
    let expected2 = (millis(&r2["createdAt"]) - millis(&q2["createdAt"])) as f64 / 1000.0;
    let s = stats(app, &service()).await;
    let avg = s["avgFirstResponseSeconds"].as_f64().unwrap();
    let mean = (expected1 + expected2) / 2.0;
    assert!(
        (avg - mean).abs() <= 1.0,
        "avgFirstResponseSeconds {avg}, expected about {mean}"
    );
    assert_eq!(s["totalMessages"], json!(7));
    assert_eq!(s["totalConversations"], json!(3));
    assert_eq!(s["onlineUsers"], json!(0));
}

#[tokio::test]
async fn stats_count_conversations_by_status() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let bo = admin("adm_bo");
    let c1 = conv_for(app, "cus_ann", "bk_1").await;
    let c2 = conv_for(app, "cus_ann", "bk_2").await;
    conv_for(app, "cus_ben", "bk_3").await;
    conv_for(app, "cus_ben", "bk_4").await;
    // Route 11 is not served yet: status changes go through the log as it would write them.
    let set = |conv: String, status: &'static str| async move {
        common::log::change_status(app, &conv, status).await
    };
    set(c1.clone(), "archived").await;
    set(c2.clone(), "closed").await;
    let s = stats(app, &bo).await;
    assert_eq!(s["totalConversations"], json!(4));
    assert_eq!(
        s["conversationsByStatus"],
        json!({ "active": 2, "archived": 1, "closed": 1, "snoozed": 0 })
    );
    set(c2, "active").await;
    set(c1, "closed").await;
    let s = stats(app, &service()).await;
    assert_eq!(
        s["conversationsByStatus"],
        json!({ "active": 3, "archived": 0, "closed": 1, "snoozed": 0 })
    );
}

#[tokio::test]
async fn deleted_messages_and_broadcasts_are_not_counted() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let ann = customer("cus_ann", &[]);
    let bo = admin("adm_bo");
    let c1 = conv_for(app, "cus_ann", "bk_1").await;
    let m1 = send(app, &ann, &c1, "one").await;
    send(app, &ann, &c1, "two").await;
    send(app, &bo, &c1, "three").await;
    assert_eq!(stats(app, &bo).await["totalMessages"], json!(3));

    // Routes 9 and 13 are not served yet: their events go through the log as they would write them.
    let nats = app.nats_url();
    let deleted = common::log::customer("cus_ann");
    common::log::delete_message(nats, &c1, deleted.clone(), &id_of(&m1)).await;
    common::log::eventually("the deletion to be folded", || async {
        stats(app, &bo).await["totalMessages"] == json!(2)
    })
    .await;
    // A second deletion of the same message changes nothing.
    let again =
        common::log::delete_message(nats, &c1, common::log::admin("adm_bo"), &id_of(&m1)).await;
    common::log::broadcast(
        nats,
        "adm_bo",
        "Maintenance tonight",
        concierge_events::Audience::All,
    )
    .await;
    common::log::eventually("the broadcast to be folded", || async {
        get(&app.url("/ready"), &bo).await.1["data"]["folded"].as_u64() >= Some(again + 1)
    })
    .await;
    let s = stats(app, &service()).await;
    assert_eq!(s["totalMessages"], json!(2));
    assert_eq!(s["totalConversations"], json!(1));
}
