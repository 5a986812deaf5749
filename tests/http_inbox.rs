//! The support inbox over HTTP (docs/inbox.md): assignment, labels, priority, snooze, canned
//! replies, the customer's rating and internal notes, each with its refusals. Writes that must
//! write nothing are checked against the raw log.

mod common;

use common::*;
use concierge_events::Timestamp;
use serde_json::{json, Value};

const DAY_MS: i64 = 24 * 60 * 60 * 1000;

fn ann() -> String {
    customer("cus_ann", &[])
}

fn bo() -> String {
    admin("adm_bo")
}

fn cy() -> String {
    admin("adm_cy")
}

/// `cus_ann`'s conversation on `bk_1`.
async fn ann_conv(app: &App) -> String {
    fixtures::conversation_of(app, "cus_ann", "bk_1").await
}

/// `/messaging/conversations/:conv/<tail>`.
fn sub(app: &App, conv: &str, tail: &str) -> String {
    format!("{}/{tail}", conv_url(app, conv))
}

/// How many events of `conv` the log holds.
async fn count(app: &App, conv: &str) -> usize {
    log::events(app.nats_url(), conv).await.len()
}

/// The newest event of `conv` in the log.
async fn last_event(app: &App, conv: &str) -> Value {
    log::events(app.nats_url(), conv)
        .await
        .pop()
        .expect("an event")
}

/// The ids of route 1's conversations for `query`.
async fn listed(app: &App, token: &str, query: &str) -> Vec<String> {
    let page = data(
        get(
            &app.url(&format!("/messaging/conversations?{query}")),
            token,
        )
        .await,
        200,
    );
    let list = ids(&page["conversations"]);
    assert_eq!(page["pagination"]["total"], json!(list.len()), "{page}");
    list
}

/// A time `ms` from now, as the API writes times.
fn from_now(ms: i64) -> String {
    Timestamp(Timestamp::now().millis() + ms).to_rfc3339()
}

async fn stats(app: &App) -> Value {
    data(get(&app.url("/messaging/stats"), &bo()).await, 200)
}

const INBOX_FIELDS: [&str; 7] = [
    "assignee",
    "labels",
    "priority",
    "snoozedUntil",
    "waitingSince",
    "firstResponseMs",
    "resolutionMs",
];

// ---------------------------------------------------------------------------------------------
// Assignment
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn assignment_writes_once_and_refuses_bad_user_ids_and_non_admins() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conv(app).await;
    let url = sub(app, &conv, "assignee");

    // A new conversation is nobody's; every admin field is there with its default.
    let c = conversation(app, &bo(), &conv).await;
    assert_eq!(c["assignee"], Value::Null);
    assert_eq!(c["labels"], json!([]));
    assert_eq!(c["priority"], "normal");
    assert_eq!(c["snoozedUntil"], Value::Null);
    assert_eq!(c["waitingSince"], Value::Null);
    assert_eq!(c["firstResponseMs"], Value::Null);
    assert_eq!(c["resolutionMs"], Value::Null);
    assert_eq!(c["rating"], Value::Null);

    let n0 = count(app, &conv).await;
    let c = data(put(&url, &bo(), &json!({ "userId": "adm_2" })).await, 200);
    assert_eq!(c["id"], json!(conv));
    assert_eq!(c["assignee"], "adm_2");
    assert_eq!(count(app, &conv).await, n0 + 1);
    let e = last_event(app, &conv).await;
    assert_eq!(e["type"], "conversation_assigned");
    assert_eq!(e["data"], json!({ "from": null, "to": "adm_2" }));
    assert_eq!(e["actor"]["id"], "adm_bo");

    // The same assignee again: 200, nothing written.
    let again = data(put(&url, &cy(), &json!({ "userId": "adm_2" })).await, 200);
    assert_eq!(again["assignee"], "adm_2");
    assert_eq!(count(app, &conv).await, n0 + 1);

    // Assigning joins nobody: neither the admin who assigns nor the assignee.
    let participants: Vec<Value> = c["participants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["userId"].clone())
        .collect();
    assert_eq!(participants, vec![json!("cus_ann")]);

    // Another admin, then nobody.
    let c = data(put(&url, &bo(), &json!({ "userId": "adm_3" })).await, 200);
    assert_eq!(c["assignee"], "adm_3");
    assert_eq!(
        last_event(app, &conv).await["data"],
        json!({ "from": "adm_2", "to": "adm_3" })
    );
    let c = data(put(&url, &bo(), &json!({ "userId": null })).await, 200);
    assert_eq!(c["assignee"], Value::Null);
    assert_eq!(
        last_event(app, &conv).await["data"],
        json!({ "from": "adm_3", "to": null })
    );
    let c = data(put(&url, &bo(), &json!({ "userId": null })).await, 200);
    assert_eq!(c["assignee"], Value::Null);
    let n1 = count(app, &conv).await;
    assert_eq!(n1, n0 + 3);

    // A user id of 128 characters is one.
    let long = "a".repeat(128);
    let c = data(put(&url, &bo(), &json!({ "userId": long })).await, 200);
    assert_eq!(c["assignee"], json!(long));
    let n1 = n1 + 1;

    // Refusals write nothing.
    for bad in [
        json!({ "userId": "adm 2" }),
        json!({ "userId": "" }),
        json!({ "userId": "a".repeat(129) }),
        json!({ "userId": "adm/2" }),
        json!({ "userId": 7 }),
        json!({ "userId": ["adm_2"] }),
        json!({}),
    ] {
        invalid(put(&url, &bo(), &bad).await, "userId");
    }
    let m = error(
        put(&url, &bo(), &json!({ "userId": "cus_ann" })).await,
        400,
        "validation_failed",
    );
    assert!(m.contains("userId") && m.contains("customer"), "{m}");
    let m = error(
        put(&url, &ann(), &json!({ "userId": "adm_2" })).await,
        403,
        "forbidden",
    );
    assert!(m.contains("admin"), "{m}");
    error(
        put(&url, &service(), &json!({ "userId": "adm_2" })).await,
        403,
        "forbidden",
    );
    // Unknown and malformed conversations.
    error(
        put(
            &sub(app, fixtures::UNKNOWN_ULID, "assignee"),
            &bo(),
            &json!({ "userId": "adm_2" }),
        )
        .await,
        404,
        "not_found",
    );
    invalid(
        put(
            &sub(app, "not-an-id", "assignee"),
            &bo(),
            &json!({ "userId": "adm_2" }),
        )
        .await,
        "conversationId",
    );
    // API.md's check order: permission (403) before the body (415, 400); 415 before 400.
    let body_of = |token: String, ctype: &'static str, body: &'static [u8]| {
        let url = url.clone();
        async move {
            let r = raw(
                reqwest::Method::PUT,
                &url,
                Some(&token),
                &[("content-type", ctype)],
                Some(body.to_vec()),
            )
            .await;
            (r.status, r.body)
        }
    };
    error(body_of(ann(), "text/plain", b"{").await, 403, "forbidden");
    error(
        body_of(bo(), "text/plain", b"{\"userId\":\"adm_2\"}").await,
        415,
        "unsupported_media_type",
    );
    error(
        body_of(bo(), "application/json", b"{\"userId\":").await,
        400,
        "validation_failed",
    );
    assert_eq!(count(app, &conv).await, n1);

    // The customer sees none of the admin fields.
    let mine = conversation(app, &ann(), &conv).await;
    for field in INBOX_FIELDS {
        assert!(
            mine.get(field).is_none(),
            "{field} shown to the customer: {mine}"
        );
    }
    assert_eq!(mine["rating"], Value::Null);
}

#[tokio::test]
async fn conversations_filter_by_assignee() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let c1 = fixtures::conversation_of(app, "cus_a", "bk_1").await;
    let c2 = fixtures::conversation_of(app, "cus_b", "bk_2").await;
    let c3 = fixtures::conversation_of(app, "cus_c", "bk_3").await;
    data(
        put(
            &sub(app, &c1, "assignee"),
            &cy(),
            &json!({ "userId": "adm_bo" }),
        )
        .await,
        200,
    );
    data(
        put(
            &sub(app, &c2, "assignee"),
            &bo(),
            &json!({ "userId": "adm_cy" }),
        )
        .await,
        200,
    );

    assert_eq!(listed(app, &bo(), "assignee=me").await, vec![c1.clone()]);
    assert_eq!(listed(app, &cy(), "assignee=me").await, vec![c2.clone()]);
    assert_eq!(listed(app, &bo(), "assignee=none").await, vec![c3.clone()]);
    assert_eq!(
        listed(app, &bo(), "assignee=adm_cy").await,
        vec![c2.clone()]
    );
    assert_eq!(
        listed(app, &bo(), "assignee=adm_bo").await,
        vec![c1.clone()]
    );
    assert!(listed(app, &bo(), "assignee=adm_zz").await.is_empty());
    assert!(listed(app, &admin("adm_zz"), "assignee=me")
        .await
        .is_empty());
    // Without the filter: all three.
    assert_eq!(listed(app, &bo(), "").await.len(), 3);
    // With another filter.
    assert!(listed(app, &bo(), "assignee=me&status=closed")
        .await
        .is_empty());

    for bad in ["assignee=", "assignee=a%20b", "assignee=a/b"] {
        invalid(
            get(&app.url(&format!("/messaging/conversations?{bad}")), &bo()).await,
            "assignee",
        );
    }
    // A bad value is 400 for anyone (the query is checked before the permission).
    invalid(
        get(
            &app.url("/messaging/conversations?assignee=a%20b"),
            &customer("cus_a", &[]),
        )
        .await,
        "assignee",
    );
    // A customer may not filter by the inbox's fields (their own list is theirs anyway).
    for q in [
        "assignee=me",
        "assignee=none",
        "label=vip",
        "priority=urgent",
        "sort=waiting",
    ] {
        error(
            get(
                &app.url(&format!("/messaging/conversations?{q}")),
                &customer("cus_a", &[]),
            )
            .await,
            403,
            "forbidden",
        );
    }
    error(
        get(&app.url("/messaging/conversations?assignee=me"), &service()).await,
        403,
        "forbidden",
    );
}

// ---------------------------------------------------------------------------------------------
// Labels and priority
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn labels_are_kept_once_in_order_and_checked() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conv(app).await;
    let url = sub(app, &conv, "labels");
    let n0 = count(app, &conv).await;

    let c = data(
        put(
            &url,
            &bo(),
            &json!({ "labels": ["vip", "late check-out", "vip"] }),
        )
        .await,
        200,
    );
    assert_eq!(c["labels"], json!(["vip", "late check-out"]));
    assert_eq!(count(app, &conv).await, n0 + 1);
    let e = last_event(app, &conv).await;
    assert_eq!(e["type"], "conversation_labeled");
    assert_eq!(e["data"], json!({ "labels": ["vip", "late check-out"] }));

    // The same list again (repeats or not): nothing written.
    for same in [
        json!({ "labels": ["vip", "late check-out"] }),
        json!({ "labels": ["vip", "vip", "late check-out", "late check-out"] }),
    ] {
        let c = data(put(&url, &cy(), &same).await, 200);
        assert_eq!(c["labels"], json!(["vip", "late check-out"]));
    }
    assert_eq!(count(app, &conv).await, n0 + 1);

    // Another order is another list: the order given is kept.
    let c = data(
        put(&url, &bo(), &json!({ "labels": ["late check-out", "vip"] })).await,
        200,
    );
    assert_eq!(c["labels"], json!(["late check-out", "vip"]));
    assert_eq!(count(app, &conv).await, n0 + 2);

    // 20 labels, 32 characters (scalar values, not bytes): allowed.
    let twenty: Vec<String> = (0..20).map(|i| format!("l{i}")).collect();
    let c = data(put(&url, &bo(), &json!({ "labels": twenty })).await, 200);
    assert_eq!(c["labels"], json!(twenty));
    let accents = "é".repeat(32);
    let c = data(
        put(&url, &bo(), &json!({ "labels": [accents, "👍"] })).await,
        200,
    );
    assert_eq!(c["labels"], json!([accents, "👍"]));
    let n1 = count(app, &conv).await;
    assert_eq!(n1, n0 + 4);

    let twenty_one: Vec<String> = (0..21).map(|i| format!("l{i}")).collect();
    let m = error(
        put(&url, &bo(), &json!({ "labels": twenty_one })).await,
        400,
        "validation_failed",
    );
    assert!(m.contains("labels") && m.contains("20"), "{m}");
    for (bad, field) in [
        (json!({ "labels": ["a".repeat(33)] }), "labels[0]"),
        (json!({ "labels": ["ok", "é".repeat(33)] }), "labels[1]"),
        (json!({ "labels": [""] }), "labels[0]"),
        (json!({ "labels": ["   "] }), "labels[0]"),
        (json!({ "labels": ["vip", "\t"] }), "labels[1]"),
        (json!({ "labels": ["a\u{7}b"] }), "labels[0]"),
        (json!({ "labels": [5] }), "labels[0]"),
        (json!({ "labels": "vip" }), "labels"),
        (json!({ "labels": null }), "labels"),
        (json!({}), "labels"),
    ] {
        invalid(put(&url, &bo(), &bad).await, field);
    }
    error(
        put(&url, &ann(), &json!({ "labels": ["vip"] })).await,
        403,
        "forbidden",
    );
    error(
        put(&url, &service(), &json!({ "labels": ["vip"] })).await,
        403,
        "forbidden",
    );
    assert_eq!(count(app, &conv).await, n1);

    // The empty list clears them.
    let c = data(put(&url, &bo(), &json!({ "labels": [] })).await, 200);
    assert_eq!(c["labels"], json!([]));
    assert_eq!(count(app, &conv).await, n1 + 1);
}

#[tokio::test]
async fn priority_is_one_of_four_and_lists_filter_by_label_and_priority() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let c1 = fixtures::conversation_of(app, "cus_a", "bk_1").await;
    let c2 = fixtures::conversation_of(app, "cus_b", "bk_2").await;
    let c3 = fixtures::conversation_of(app, "cus_c", "bk_3").await;
    let url = sub(app, &c1, "priority");
    let n0 = count(app, &c1).await;

    let c = data(
        put(&url, &bo(), &json!({ "priority": "urgent" })).await,
        200,
    );
    assert_eq!(c["priority"], "urgent");
    let e = last_event(app, &c1).await;
    assert_eq!(e["type"], "conversation_prioritized");
    assert_eq!(e["data"], json!({ "from": "normal", "to": "urgent" }));
    // The current priority again: nothing written.
    data(
        put(&url, &cy(), &json!({ "priority": "urgent" })).await,
        200,
    );
    assert_eq!(count(app, &c1).await, n0 + 1);
    for bad in [
        json!({ "priority": "critical" }),
        json!({ "priority": "URGENT" }),
        json!({ "priority": "" }),
        json!({ "priority": 3 }),
        json!({ "priority": null }),
        json!({}),
    ] {
        invalid(put(&url, &bo(), &bad).await, "priority");
    }
    error(
        put(&url, &ann(), &json!({ "priority": "low" })).await,
        403,
        "forbidden",
    );
    error(
        put(&url, &service(), &json!({ "priority": "low" })).await,
        403,
        "forbidden",
    );
    assert_eq!(count(app, &c1).await, n0 + 1);
    for p in ["low", "high", "normal", "urgent"] {
        let c = data(put(&url, &bo(), &json!({ "priority": p })).await, 200);
        assert_eq!(c["priority"], p);
    }
    assert_eq!(count(app, &c1).await, n0 + 5);

    // c1: urgent + vip; c2: urgent; c3: vip, low.
    data(
        put(
            &sub(app, &c2, "priority"),
            &bo(),
            &json!({ "priority": "urgent" }),
        )
        .await,
        200,
    );
    data(
        put(
            &sub(app, &c3, "priority"),
            &bo(),
            &json!({ "priority": "low" }),
        )
        .await,
        200,
    );
    data(
        put(
            &sub(app, &c1, "labels"),
            &bo(),
            &json!({ "labels": ["vip", "late"] }),
        )
        .await,
        200,
    );
    data(
        put(
            &sub(app, &c3, "labels"),
            &bo(),
            &json!({ "labels": ["vip"] }),
        )
        .await,
        200,
    );
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(
        sorted(listed(app, &bo(), "label=vip").await),
        sorted(vec![c1.clone(), c3.clone()])
    );
    assert_eq!(listed(app, &bo(), "label=late").await, vec![c1.clone()]);
    assert!(listed(app, &bo(), "label=VIP").await.is_empty());
    assert_eq!(
        sorted(listed(app, &bo(), "priority=urgent").await),
        sorted(vec![c1.clone(), c2.clone()])
    );
    assert_eq!(listed(app, &bo(), "priority=low").await, vec![c3.clone()]);
    assert!(listed(app, &bo(), "priority=high").await.is_empty());
    assert_eq!(
        listed(app, &bo(), "label=vip&priority=urgent").await,
        vec![c1.clone()]
    );
    assert_eq!(
        listed(app, &bo(), "label=late%20check-out").await,
        Vec::<String>::new()
    );
    for (bad, field) in [
        ("priority=critical", "priority"),
        ("priority=", "priority"),
        ("label=", "label"),
        (&*format!("label={}", "a".repeat(33)), "label"),
        ("sort=oldest", "sort"),
    ] {
        invalid(
            get(&app.url(&format!("/messaging/conversations?{bad}")), &bo()).await,
            field,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Snooze
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn snooze_takes_an_until_within_a_year_and_the_customer_wakes_it() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conv(app).await;
    let other = fixtures::conversation_of(app, "cus_ben", "bk_2").await;
    let url = sub(app, &conv, "status");
    let n0 = count(app, &conv).await;
    let in_1h = from_now(3_600_000);
    let in_2h = from_now(7_200_000);

    let m = error(
        put(&url, &bo(), &json!({ "status": "snoozed" })).await,
        400,
        "validation_failed",
    );
    assert!(m.contains("until") && m.contains("required"), "{m}");
    for until in [
        json!(from_now(-1000)),
        json!("2000-01-01T00:00:00.000Z"),
        json!(from_now(366 * DAY_MS)),
        json!("tomorrow"),
        json!(""),
        json!(1_900_000_000_000_i64),
    ] {
        invalid(
            put(&url, &bo(), &json!({ "status": "snoozed", "until": until })).await,
            "until",
        );
    }
    // `until` belongs to `snoozed` only, even with the current status (which alone writes nothing).
    for status in ["active", "archived", "closed"] {
        invalid(
            put(&url, &bo(), &json!({ "status": status, "until": in_1h })).await,
            "until",
        );
    }
    error(
        put(
            &url,
            &ann(),
            &json!({ "status": "snoozed", "until": in_1h }),
        )
        .await,
        403,
        "forbidden",
    );
    error(
        put(
            &url,
            &service(),
            &json!({ "status": "snoozed", "until": in_1h }),
        )
        .await,
        403,
        "forbidden",
    );
    assert_eq!(count(app, &conv).await, n0);

    let c = data(
        put(&url, &bo(), &json!({ "status": "snoozed", "until": in_1h })).await,
        200,
    );
    assert_eq!(c["status"], "snoozed");
    assert_eq!(c["snoozedUntil"], json!(in_1h));
    let e = last_event(app, &conv).await;
    assert_eq!(e["type"], "conversation_snoozed");
    assert_eq!(e["data"], json!({ "from": "active", "until": in_1h }));
    // The same until again: nothing written.
    let c = data(
        put(&url, &cy(), &json!({ "status": "snoozed", "until": in_1h })).await,
        200,
    );
    assert_eq!(c["snoozedUntil"], json!(in_1h));
    assert_eq!(count(app, &conv).await, n0 + 1);
    // Another until moves the wake-up.
    let c = data(
        put(&url, &bo(), &json!({ "status": "snoozed", "until": in_2h })).await,
        200,
    );
    assert_eq!(c["snoozedUntil"], json!(in_2h));
    assert_eq!(
        last_event(app, &conv).await["data"],
        json!({ "from": "snoozed", "until": in_2h })
    );
    assert_eq!(count(app, &conv).await, n0 + 2);
    // Up to 365 days ahead.
    let far = from_now(365 * DAY_MS - 60_000);
    let c = data(
        put(&url, &bo(), &json!({ "status": "snoozed", "until": far })).await,
        200,
    );
    assert_eq!(c["snoozedUntil"], json!(far));

    // Filters, stats, and what the customer sees.
    assert_eq!(
        listed(app, &bo(), "status=snoozed").await,
        vec![conv.clone()]
    );
    assert_eq!(
        listed(app, &bo(), "status=active").await,
        vec![other.clone()]
    );
    assert_eq!(
        listed(app, &ann(), "status=snoozed").await,
        vec![conv.clone()]
    );
    assert_eq!(
        stats(app).await["conversationsByStatus"],
        json!({ "active": 1, "archived": 0, "closed": 0, "snoozed": 1 })
    );
    let mine = conversation(app, &ann(), &conv).await;
    assert_eq!(mine["status"], "snoozed");
    assert!(mine.get("snoozedUntil").is_none(), "{mine}");

    // A note does not wake it; an admin's message does not either; the customer's does.
    data(
        send_body(
            app,
            &bo(),
            &conv,
            &json!({ "content": "wait for them", "internal": true }),
        )
        .await,
        201,
    );
    assert_eq!(conversation(app, &bo(), &conv).await["status"], "snoozed");
    send(app, &bo(), &conv, "still checking").await;
    assert_eq!(conversation(app, &bo(), &conv).await["status"], "snoozed");
    send(app, &ann(), &conv, "any news?").await;
    let c = conversation(app, &bo(), &conv).await;
    assert_eq!(c["status"], "active");
    assert_eq!(c["snoozedUntil"], Value::Null);
    assert_eq!(
        stats(app).await["conversationsByStatus"],
        json!({ "active": 2, "archived": 0, "closed": 0, "snoozed": 0 })
    );

    // An admin may end a snooze with any status.
    data(
        put(&url, &bo(), &json!({ "status": "snoozed", "until": in_1h })).await,
        200,
    );
    let c = data(put(&url, &bo(), &json!({ "status": "closed" })).await, 200);
    assert_eq!(c["status"], "closed");
    assert_eq!(c["snoozedUntil"], Value::Null);
    // A closed conversation may be snoozed too (any status may follow any other).
    let c = data(
        put(&url, &bo(), &json!({ "status": "snoozed", "until": in_1h })).await,
        200,
    );
    assert_eq!(c["status"], "snoozed");
    let c = data(put(&url, &bo(), &json!({ "status": "active" })).await, 200);
    assert_eq!(c["snoozedUntil"], Value::Null);
    assert_eq!(
        stats(app).await["conversationsByStatus"],
        json!({ "active": 2, "archived": 0, "closed": 0, "snoozed": 0 })
    );
}

// ---------------------------------------------------------------------------------------------
// Canned replies
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn canned_replies_are_created_replaced_listed_and_deleted_by_admins() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let url = |s: &str| app.url(&format!("/messaging/canned-replies/{s}"));
    let list_url = app.url("/messaging/canned-replies");
    let nats = app.nats_url();

    let empty = data(get(&list_url, &bo()).await, 200);
    assert_eq!(empty, json!({ "cannedReplies": [] }));
    error(get(&url("greet"), &bo()).await, 404, "not_found");
    error(delete(&url("greet"), &bo()).await, 404, "not_found");

    let s0 = log::last_seq(nats).await;
    let r = data(
        put(
            &url("greet"),
            &bo(),
            &json!({ "title": "Greeting", "content": "Hello! How can I help?" }),
        )
        .await,
        201,
    );
    assert_eq!(r["shortcut"], "greet");
    assert_eq!(r["title"], "Greeting");
    assert_eq!(r["content"], "Hello! How can I help?");
    assert_eq!(r["updatedBy"], "adm_bo");
    assert_timestamp(&r["updatedAt"]);
    assert_eq!(log::last_seq(nats).await, s0 + 1);

    // Unchanged: 200, nothing written, still adm_bo's.
    let same = data(
        put(
            &url("greet"),
            &cy(),
            &json!({ "title": "Greeting", "content": "Hello! How can I help?" }),
        )
        .await,
        200,
    );
    assert_eq!(same, r);
    assert_eq!(log::last_seq(nats).await, s0 + 1);

    // Replaced by another admin.
    tick().await;
    let r2 = data(
        put(
            &url("greet"),
            &cy(),
            &json!({ "title": "Greeting", "content": "Hi there!" }),
        )
        .await,
        200,
    );
    assert_eq!(r2["content"], "Hi there!");
    assert_eq!(r2["updatedBy"], "adm_cy");
    assert!(millis(&r2["updatedAt"]) > millis(&r["updatedAt"]));
    assert_eq!(log::last_seq(nats).await, s0 + 2);
    assert_eq!(data(get(&url("greet"), &bo()).await, 200), r2);

    let bye = data(
        put(
            &url("bye"),
            &bo(),
            &json!({ "title": "Goodbye", "content": "Have a nice stay.\nBye!" }),
        )
        .await,
        201,
    );
    let a = data(
        put(
            &url("a-1_x"),
            &bo(),
            &json!({ "title": "t".repeat(100), "content": "x".repeat(2000) }),
        )
        .await,
        201,
    );
    let all = data(get(&list_url, &cy()).await, 200);
    assert_eq!(all, json!({ "cannedReplies": [a, bye, r2] }));

    // Delete: 200 with the reply as it was, then 404.
    let s1 = log::last_seq(nats).await;
    assert_eq!(data(delete(&url("bye"), &cy()).await, 200), bye);
    assert_eq!(log::last_seq(nats).await, s1 + 1);
    error(get(&url("bye"), &bo()).await, 404, "not_found");
    error(delete(&url("bye"), &bo()).await, 404, "not_found");
    assert_eq!(log::last_seq(nats).await, s1 + 1);
    let all = data(get(&list_url, &bo()).await, 200);
    assert_eq!(ids_of_shortcuts(&all), vec!["a-1_x", "greet"]);
    // A deleted shortcut is new again.
    data(
        put(
            &url("bye"),
            &bo(),
            &json!({ "title": "Bye", "content": "Bye" }),
        )
        .await,
        201,
    );

    // Bad shortcuts: 400 on every method, whoever asks.
    let s2 = log::last_seq(nats).await;
    for bad in ["Hi", "a.b", "a%20b", "%C3%A9", &"a".repeat(33)] {
        for token in [bo(), ann()] {
            invalid(get(&url(bad), &token).await, "shortcut");
            invalid(
                put(&url(bad), &token, &json!({ "title": "t", "content": "c" })).await,
                "shortcut",
            );
            invalid(delete(&url(bad), &token).await, "shortcut");
        }
    }
    // Bad title or content.
    for (body, field) in [
        (json!({ "title": "", "content": "c" }), "title"),
        (json!({ "title": "   ", "content": "c" }), "title"),
        (json!({ "title": "t".repeat(101), "content": "c" }), "title"),
        (json!({ "title": "a\u{1}", "content": "c" }), "title"),
        (json!({ "content": "c" }), "title"),
        (json!({ "title": 5, "content": "c" }), "title"),
        (json!({ "title": "t", "content": "" }), "content"),
        (json!({ "title": "t", "content": " \n " }), "content"),
        (
            json!({ "title": "t", "content": "x".repeat(2001) }),
            "content",
        ),
        (json!({ "title": "t", "content": "a\u{0}b" }), "content"),
        (json!({ "title": "t" }), "content"),
    ] {
        invalid(put(&url("greet"), &bo(), &body).await, field);
    }
    // Customers and services: 403 on every route.
    for token in [ann(), service()] {
        error(get(&list_url, &token).await, 403, "forbidden");
        error(get(&url("greet"), &token).await, 403, "forbidden");
        error(
            put(
                &url("greet"),
                &token,
                &json!({ "title": "t", "content": "c" }),
            )
            .await,
            403,
            "forbidden",
        );
        error(
            put(
                &url("new"),
                &token,
                &json!({ "title": "t", "content": "c" }),
            )
            .await,
            403,
            "forbidden",
        );
        error(delete(&url("greet"), &token).await, 403, "forbidden");
    }
    assert_eq!(log::last_seq(nats).await, s2);
    assert_eq!(data(get(&url("greet"), &bo()).await, 200), r2);
}

fn ids_of_shortcuts(list: &Value) -> Vec<String> {
    list["cannedReplies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["shortcut"].as_str().unwrap().to_string())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Rating
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn the_customer_rates_a_closed_conversation_once() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conv(app).await;
    let ben_conv = fixtures::conversation_of(app, "cus_ben", "bk_2").await;
    let url = sub(app, &conv, "rating");
    let ben = customer("cus_ben", &[]);
    send(app, &ann(), &conv, "hello").await;

    let s = stats(app).await;
    assert_eq!(s["satisfaction"], json!({ "average": null, "count": 0 }));

    // Not closed: 409, after the body is checked (400 first).
    let m = error(
        post(&url, &ann(), &json!({ "score": 5 })).await,
        409,
        "conflict",
    );
    assert!(m.contains("closed"), "{m}");
    invalid(post(&url, &ann(), &json!({ "score": 0 })).await, "score");
    // Anyone but its customer: 403, closed or not.
    for token in [bo(), ben.clone(), service()] {
        error(
            post(&url, &token, &json!({ "score": 5 })).await,
            403,
            "forbidden",
        );
    }

    data(
        put(
            &sub(app, &conv, "status"),
            &bo(),
            &json!({ "status": "closed" }),
        )
        .await,
        200,
    );
    let n0 = count(app, &conv).await;
    for token in [bo(), ben.clone(), service()] {
        error(
            post(&url, &token, &json!({ "score": 5 })).await,
            403,
            "forbidden",
        );
    }
    for bad in [
        json!({ "score": 0 }),
        json!({ "score": 6 }),
        json!({ "score": 2.5 }),
        json!({ "score": -1 }),
        json!({ "score": "5" }),
        json!({ "score": null }),
        json!({}),
    ] {
        invalid(post(&url, &ann(), &bad).await, "score");
    }
    for bad in [
        json!({ "score": 4, "comment": "x".repeat(1001) }),
        json!({ "score": 4, "comment": "bad\u{1}char" }),
        json!({ "score": 4, "comment": 5 }),
    ] {
        invalid(post(&url, &ann(), &bad).await, "comment");
    }
    assert_eq!(count(app, &conv).await, n0);

    let comment = format!("Great help,\tthanks!\n{}", "x".repeat(980));
    assert_eq!(comment.chars().count(), 1000);
    let r = data(
        post(&url, &ann(), &json!({ "score": 4, "comment": comment })).await,
        201,
    );
    assert_eq!(r["conversationId"], json!(conv));
    assert_eq!(r["score"], 4);
    assert_eq!(r["comment"], json!(comment));
    assert_timestamp(&r["ratedAt"]);
    assert_eq!(r.as_object().unwrap().len(), 4, "{r}");
    assert_eq!(count(app, &conv).await, n0 + 1);
    let e = last_event(app, &conv).await;
    assert_eq!(e["type"], "conversation_rated");
    assert_eq!(e["data"], json!({ "score": 4, "comment": comment }));
    assert_eq!(e["actor"]["id"], "cus_ann");

    // Once.
    let m = error(
        post(&url, &ann(), &json!({ "score": 5 })).await,
        409,
        "conflict",
    );
    assert!(m.contains("already"), "{m}");
    assert_eq!(count(app, &conv).await, n0 + 1);

    // Both sides see it.
    let rating = json!({ "score": 4, "comment": comment, "ratedAt": r["ratedAt"] });
    assert_eq!(conversation(app, &ann(), &conv).await["rating"], rating);
    assert_eq!(conversation(app, &bo(), &conv).await["rating"], rating);

    // A second conversation rated 5 without a comment: the mean is 4.5.
    data(
        put(
            &sub(app, &ben_conv, "status"),
            &bo(),
            &json!({ "status": "closed" }),
        )
        .await,
        200,
    );
    let r = data(
        // 5.0 is the integer 5, as JSON Schema's `integer` allows.
        post(
            &sub(app, &ben_conv, "rating"),
            &ben,
            &json!({ "score": 5.0 }),
        )
        .await,
        201,
    );
    assert_eq!(r["comment"], Value::Null);
    assert_eq!(r["score"], 5);
    assert_eq!(
        stats(app).await["satisfaction"],
        json!({ "average": 4.5, "count": 2 })
    );
    // Reopened, it keeps its rating and still takes no other.
    data(
        put(
            &sub(app, &conv, "status"),
            &bo(),
            &json!({ "status": "active" }),
        )
        .await,
        200,
    );
    assert_eq!(conversation(app, &ann(), &conv).await["rating"], rating);
    error(
        post(&url, &ann(), &json!({ "score": 1 })).await,
        409,
        "conflict",
    );
    error(
        post(
            &sub(app, fixtures::UNKNOWN_ULID, "rating"),
            &ann(),
            &json!({ "score": 1 }),
        )
        .await,
        404,
        "not_found",
    );
}

// ---------------------------------------------------------------------------------------------
// Notes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn admins_write_text_notes_that_list_their_mentions() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conv(app).await;
    let question = send(app, &ann(), &conv, "Can I check in early?").await;
    assert_eq!(question["internal"], json!(false));
    let n0 = count(app, &conv).await;

    let note = data(
        send_body(
            app,
            &bo(),
            &conv,
            &json!({ "content": "VIP guest, ask @adm_cy and @adm_3. (@adm_cy again; mail a@b)", "internal": true }),
        )
        .await,
        201,
    );
    assert_ulid(&note["id"]);
    assert_eq!(note["internal"], json!(true));
    assert_eq!(note["sender"], "adm_bo");
    assert_eq!(note["senderRole"], "admin");
    assert_eq!(note["messageType"], "text");
    assert_eq!(note["attachments"], json!([]));
    assert_eq!(note["reactions"], json!([]));
    assert_eq!(note["conversationId"], json!(conv));
    assert!(note["seq"].as_u64().unwrap() > question["seq"].as_u64().unwrap());
    // One event, its own type, and the writer did not join.
    assert_eq!(count(app, &conv).await, n0 + 1);
    let e = last_event(app, &conv).await;
    assert_eq!(e["type"], "note_added");
    assert_eq!(e["data"]["messageId"], note["id"]);
    assert_eq!(e["data"]["content"], note["content"]);
    assert_eq!(e["data"]["mentions"], json!(["adm_cy", "adm_3"]));
    let c = conversation(app, &bo(), &conv).await;
    assert_eq!(c["participants"].as_array().unwrap().len(), 1, "{c}");
    // `internal: false` is a message.
    let msg = data(
        send_body(
            app,
            &bo(),
            &conv,
            &json!({ "content": "Yes, from noon.", "internal": false }),
        )
        .await,
        201,
    );
    assert_eq!(msg["internal"], json!(false));
    assert_eq!(last_event(app, &conv).await["type"], "message_sent");
    let n1 = count(app, &conv).await;

    // Refusals write nothing.
    error(
        send_body(
            app,
            &ann(),
            &conv,
            &json!({ "content": "x", "internal": true }),
        )
        .await,
        403,
        "forbidden",
    );
    error(
        send_body(
            app,
            &service(),
            &conv,
            &json!({ "content": "x", "internal": true }),
        )
        .await,
        403,
        "forbidden",
    );
    for (body, field) in [
        (
            json!({ "content": "x", "internal": true, "messageType": "image" }),
            "messageType",
        ),
        (
            json!({ "content": "x", "internal": true, "messageType": "file" }),
            "messageType",
        ),
        (
            json!({ "content": "x", "internal": true, "messageType": "system" }),
            "messageType",
        ),
        (
            json!({ "content": "x", "internal": true, "attachments": [
                { "url": "https://example.com/a.pdf", "filename": "a.pdf", "mimetype": "application/pdf", "size": 1 }
            ] }),
            "attachments",
        ),
        (json!({ "content": "x", "internal": "yes" }), "internal"),
        (json!({ "content": "x", "internal": "true" }), "internal"),
        (json!({ "content": "x", "internal": 1 }), "internal"),
        (json!({ "content": "", "internal": true }), "content"),
        (
            json!({ "content": "x".repeat(2001), "internal": true }),
            "content",
        ),
    ] {
        invalid(send_body(app, &bo(), &conv, &body).await, field);
    }
    assert_eq!(count(app, &conv).await, n1);
}

#[tokio::test]
async fn only_its_author_edits_or_deletes_a_note_and_notes_take_no_reactions() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conv(app).await;
    send(app, &ann(), &conv, "hello").await;
    let note = data(
        send_body(
            app,
            &bo(),
            &conv,
            &json!({ "content": "first draft", "internal": true }),
        )
        .await,
        201,
    );
    let id = note["id"].as_str().unwrap().to_string();
    let murl = format!("{}/{id}", messages_url(app, &conv));
    let n0 = count(app, &conv).await;

    let m = error(
        patch(&murl, &cy(), &json!({ "content": "hijacked" })).await,
        403,
        "forbidden",
    );
    assert!(m.contains("author"), "{m}");
    let m = error(delete(&murl, &cy()).await, 403, "forbidden");
    assert!(m.contains("author"), "{m}");
    // Reactions: 409 for anyone, author included, adding or removing.
    for token in [bo(), cy()] {
        error(
            post(
                &format!("{murl}/reactions"),
                &token,
                &json!({ "emoji": "👍" }),
            )
            .await,
            409,
            "conflict",
        );
        error(
            delete(&format!("{murl}/reactions/%F0%9F%91%8D"), &token).await,
            409,
            "conflict",
        );
    }
    assert_eq!(count(app, &conv).await, n0);

    let edited = data(
        patch(&murl, &bo(), &json!({ "content": "final text" })).await,
        200,
    );
    assert_eq!(edited["content"], "final text");
    assert_eq!(edited["internal"], json!(true));
    assert_eq!(edited["isEdited"], json!(true));
    let e = last_event(app, &conv).await;
    assert_eq!(e["type"], "note_edited");
    assert_eq!(
        e["data"],
        json!({ "messageId": id, "content": "final text" })
    );
    // The same content again writes nothing.
    data(
        patch(&murl, &bo(), &json!({ "content": "final text" })).await,
        200,
    );
    assert_eq!(count(app, &conv).await, n0 + 1);

    // Notes may change in a closed conversation; messages may not be sent there.
    data(
        put(
            &sub(app, &conv, "status"),
            &bo(),
            &json!({ "status": "closed" }),
        )
        .await,
        200,
    );
    let late = data(
        send_body(
            app,
            &cy(),
            &conv,
            &json!({ "content": "closed, but noted", "internal": true }),
        )
        .await,
        201,
    );
    assert_eq!(late["internal"], json!(true));
    error(
        send_body(app, &cy(), &conv, &json!({ "content": "to the customer" })).await,
        409,
        "conflict",
    );
    // Nor an archived one (a message would).
    data(
        put(
            &sub(app, &conv, "status"),
            &bo(),
            &json!({ "status": "archived" }),
        )
        .await,
        200,
    );
    data(
        send_body(
            app,
            &cy(),
            &conv,
            &json!({ "content": "archived, noted", "internal": true }),
        )
        .await,
        201,
    );
    assert_eq!(conversation(app, &bo(), &conv).await["status"], "archived");
    data(
        put(
            &sub(app, &conv, "status"),
            &bo(),
            &json!({ "status": "closed" }),
        )
        .await,
        200,
    );
    let edited = data(
        patch(&murl, &bo(), &json!({ "content": "edited while closed" })).await,
        200,
    );
    assert_eq!(edited["content"], "edited while closed");
    // The note did not reopen it.
    assert_eq!(conversation(app, &bo(), &conv).await["status"], "closed");

    let n1 = count(app, &conv).await;
    let deleted = data(delete(&murl, &bo()).await, 200);
    assert_eq!(deleted["isDeleted"], json!(true));
    assert_eq!(deleted["content"], "");
    assert_eq!(deleted["internal"], json!(true));
    let e = last_event(app, &conv).await;
    assert_eq!(e["type"], "note_deleted");
    assert_eq!(e["data"], json!({ "messageId": id }));
    // Again: 200, nothing written. A deleted note takes no edit.
    data(delete(&murl, &bo()).await, 200);
    assert_eq!(count(app, &conv).await, n1 + 1);
    error(
        patch(&murl, &bo(), &json!({ "content": "back" })).await,
        409,
        "conflict",
    );
    // To a customer a note does not exist at all.
    error(
        patch(&murl, &ann(), &json!({ "content": "x" })).await,
        404,
        "not_found",
    );
    error(delete(&murl, &ann()).await, 404, "not_found");
}

#[tokio::test]
async fn replies_notes_and_idempotent_retries() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conv(app).await;
    let question = send(app, &ann(), &conv, "Is breakfast included?").await;

    // A note may answer a message, and a note.
    let n1 = data(
        send_body(
            app,
            &bo(),
            &conv,
            &json!({ "content": "check the rate", "internal": true, "replyTo": question["id"] }),
        )
        .await,
        201,
    );
    assert_eq!(n1["replyTo"], question["id"]);
    let n2 = data(
        send_body(
            app,
            &cy(),
            &conv,
            &json!({ "content": "it is", "internal": true, "replyTo": n1["id"] }),
        )
        .await,
        201,
    );
    assert_eq!(n2["replyTo"], n1["id"]);
    // A message to the customer may not answer a note.
    let count0 = count(app, &conv).await;
    let m = error(
        send_body(
            app,
            &bo(),
            &conv,
            &json!({ "content": "Yes it is", "replyTo": n1["id"] }),
        )
        .await,
        400,
        "validation_failed",
    );
    assert!(m.contains("replyTo"), "{m}");
    assert_eq!(count(app, &conv).await, count0);
    let answer = data(
        send_body(
            app,
            &bo(),
            &conv,
            &json!({ "content": "Yes it is", "replyTo": question["id"] }),
        )
        .await,
        201,
    );
    assert_eq!(answer["replyTo"], question["id"]);

    // An idempotent retry of a note answers 200 with the same note, whatever its body.
    let first = post(
        &messages_url(app, &conv),
        &bo(),
        &json!({ "content": "once", "internal": true, "clientMessageId": "k-1" }),
    )
    .await;
    let first = data(first, 201);
    assert_eq!(first["internal"], json!(true));
    let count1 = count(app, &conv).await;
    for retry in [
        json!({ "content": "once", "internal": true, "clientMessageId": "k-1" }),
        json!({ "content": "twice?", "internal": true, "clientMessageId": "k-1" }),
        json!({ "content": "as a message?", "clientMessageId": "k-1" }),
    ] {
        let again = data(send_body(app, &bo(), &conv, &retry).await, 200);
        assert_eq!(again, first);
    }
    // Through the header too.
    let r = raw(
        reqwest::Method::POST,
        &messages_url(app, &conv),
        Some(&bo()),
        &[
            ("content-type", "application/json"),
            ("idempotency-key", "k-1"),
        ],
        Some(br#"{"content":"header","internal":true}"#.to_vec()),
    )
    .await;
    assert_eq!(data((r.status, r.body), 200), first);
    assert_eq!(count(app, &conv).await, count1);
    // The same key by another admin is another note.
    let other = data(
        send_body(
            app,
            &cy(),
            &conv,
            &json!({ "content": "mine", "internal": true, "clientMessageId": "k-1" }),
        )
        .await,
        201,
    );
    assert_ne!(other["id"], first["id"]);
    let e = last_event(app, &conv).await;
    assert_eq!(e["type"], "note_added");
    assert_eq!(e["data"]["clientMessageId"], "k-1");
    assert_eq!(e["data"]["mentions"], json!([]));

    // The admins' page: every message and note, by seq.
    let page = list_messages(app, &bo(), &conv, "limit=100").await;
    assert_eq!(
        contents(&page["messages"]),
        vec![
            "Is breakfast included?",
            "check the rate",
            "it is",
            "Yes it is",
            "once",
            "mine"
        ]
    );
    let internal: Vec<bool> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["internal"].as_bool().unwrap())
        .collect();
    assert_eq!(internal, vec![false, true, true, false, true, true]);
    assert_eq!(page["pagination"]["total"], 6);
}

#[tokio::test]
async fn a_snooze_wakes_at_until_once() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conv(app).await;
    let until = from_now(1500);
    data(
        put(
            &sub(app, &conv, "status"),
            &bo(),
            &json!({ "status": "snoozed", "until": until }),
        )
        .await,
        200,
    );
    let url = conv_url(app, &conv);
    log::eventually("the conversation to wake", || async {
        get(&url, &bo()).await.1["data"]["status"] == "active"
    })
    .await;
    let woken: Vec<Value> = log::events(app.nats_url(), &conv)
        .await
        .into_iter()
        .filter(|e| e["type"] == "conversation_woken")
        .collect();
    assert_eq!(woken.len(), 1, "{woken:?}");
    assert_eq!(woken[0]["data"], json!({ "until": until }));
    assert_eq!(woken[0]["actor"]["id"], "concierge");
    assert_eq!(woken[0]["actor"]["role"], "service");
    assert!(millis(&woken[0]["at"]) >= millis(&json!(until)));
    assert_eq!(
        conversation(app, &bo(), &conv).await["snoozedUntil"],
        Value::Null
    );
}
