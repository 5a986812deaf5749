//! Response times and time travel (docs/inbox.md): histories are written straight into the log
//! with scripted `at` times, so `waitingSince`, `firstResponseMs`, `resolutionMs`, the stats'
//! percentiles and route 15's moments are checked to the millisecond.

mod common;

use common::*;
use concierge_events::{
    ConversationAssigned, ConversationLabeled, ConversationPrioritized, ConversationSnoozed, Event,
    MessageDeleted, MessageEdited, MessageSent, MessageType, NoteAdded, Priority, Status,
    StatusChanged, Timestamp,
};
use serde_json::{json, Value};

const S: i64 = 1000;
const MIN: i64 = 60 * S;
const HOUR: i64 = 60 * MIN;
const DAY: i64 = 24 * HOUR;

fn bo() -> String {
    admin("adm_bo")
}

fn time(ms: i64) -> String {
    Timestamp(ms).to_rfc3339()
}

fn new_id() -> String {
    ulid::Ulid::new().to_string()
}

/// One step of a scripted history, at an offset (ms) from the conversation's creation.
#[derive(Clone, Copy)]
enum Step {
    /// The customer sends.
    Customer,
    /// `adm_bo` sends.
    Admin,
    /// `adm_bo` writes a note.
    Note,
    Close,
    Reopen,
}

/// A conversation of `customer_id` on `booking` created at `t0` (ms since the epoch), then `steps`
/// at their offsets, written to the log. Waits until the app has folded all of it (its
/// `updatedAt` is the time of the last step that is not a note). Returns the conversation id.
async fn scripted(
    app: &App,
    booking: &str,
    customer_id: &str,
    t0: i64,
    steps: &[(i64, Step)],
) -> String {
    let nats = app.nats_url();
    let conv = log::create_conversation_at(nats, booking, customer_id, Timestamp(t0)).await;
    let mut updated = t0;
    let mut status = Status::Active;
    for (i, (offset, step)) in steps.iter().enumerate() {
        let at = Timestamp(t0 + offset);
        let sent = |content: String| {
            Event::MessageSent(MessageSent {
                message_id: new_id(),
                content,
                message_type: MessageType::Text,
                attachments: Vec::new(),
                reply_to: None,
                client_message_id: None,
            })
        };
        let (actor, event) = match step {
            Step::Customer => (log::customer(customer_id), sent(format!("question {i}"))),
            Step::Admin => (log::admin("adm_bo"), sent(format!("answer {i}"))),
            Step::Note => (
                log::admin("adm_bo"),
                Event::NoteAdded(NoteAdded {
                    message_id: new_id(),
                    content: format!("note {i}"),
                    reply_to: None,
                    client_message_id: None,
                    mentions: Vec::new(),
                }),
            ),
            Step::Close | Step::Reopen => {
                let to = if matches!(step, Step::Close) {
                    Status::Closed
                } else {
                    Status::Active
                };
                let e = Event::ConversationStatusChanged(StatusChanged { from: status, to });
                status = to;
                (log::admin("adm_bo"), e)
            }
        };
        if !matches!(step, Step::Note) {
            updated = at.millis();
        }
        log::append_at(nats, &conv, actor, event, at).await;
    }
    let url = conv_url(app, &conv);
    let want = json!(time(updated));
    log::eventually("the scripted history to be folded", || async {
        let (status, body) = get(&url, &bo()).await;
        status == 200 && body["data"]["updatedAt"] == want
    })
    .await;
    conv
}

async fn history(app: &App, conv: &str, at: &str) -> Value {
    data(
        get(&format!("{}/history?at={at}", conv_url(app, conv)), &bo()).await,
        200,
    )
}

/// The inbox's timing fields of a Conversation.
fn timing(c: &Value) -> Value {
    json!({
        "waitingSince": c["waitingSince"],
        "firstResponseMs": c["firstResponseMs"],
        "resolutionMs": c["resolutionMs"],
        "status": c["status"],
    })
}

fn want(waiting: Option<i64>, first: Option<i64>, resolution: Option<i64>, status: &str) -> Value {
    json!({
        "waitingSince": waiting.map(time),
        "firstResponseMs": first,
        "resolutionMs": resolution,
        "status": status,
    })
}

async fn timing_now(app: &App, conv: &str) -> Value {
    timing(&conversation(app, &bo(), conv).await)
}

#[tokio::test]
async fn waiting_first_response_and_resolution_are_exact() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let t = Timestamp::now().millis() - 2 * HOUR;

    // Live, step by step where the views can be read.
    let conv = scripted(app, "bk_a", "cus_a", t, &[]).await;
    assert_eq!(
        timing_now(app, &conv).await,
        want(None, None, None, "active")
    );
    let nats = app.nats_url();
    let say = |who: &'static str, content: &'static str| {
        let actor = if who == "customer" {
            log::customer("cus_a")
        } else {
            log::admin("adm_bo")
        };
        let id = new_id();
        (
            actor,
            Event::MessageSent(MessageSent {
                message_id: id,
                content: content.into(),
                message_type: MessageType::Text,
                attachments: Vec::new(),
                reply_to: None,
                client_message_id: None,
            }),
        )
    };
    let step = |offset: i64, (actor, event): (concierge_events::Actor, Event)| {
        let conv = conv.clone();
        async move {
            let content = match &event {
                Event::MessageSent(m) => Some(m.content.clone()),
                _ => None,
            };
            log::append_at(nats, &conv, actor, event, Timestamp(t + offset)).await;
            if let Some(content) = content {
                let url = conv_url(app, &conv);
                log::eventually("the message to be folded", || async {
                    get(&url, &bo()).await.1["data"]["lastMessage"]["content"] == json!(content)
                })
                .await;
            }
        }
    };
    step(10 * S, say("customer", "first question")).await;
    assert_eq!(
        timing_now(app, &conv).await,
        want(Some(t + 10 * S), None, None, "active")
    );
    // A note is no answer.
    step(
        20 * S,
        (
            log::admin("adm_bo"),
            Event::NoteAdded(NoteAdded {
                message_id: new_id(),
                content: "looking into it".into(),
                reply_to: None,
                client_message_id: None,
                mentions: Vec::new(),
            }),
        ),
    )
    .await;
    step(70 * S, say("admin", "first answer")).await;
    assert_eq!(
        timing_now(app, &conv).await,
        want(None, Some(60_000), None, "active")
    );
    step(100 * S, say("customer", "second question")).await;
    assert_eq!(
        timing_now(app, &conv).await,
        want(Some(t + 100 * S), Some(60_000), None, "active")
    );
    step(130 * S, say("customer", "third question")).await;
    assert_eq!(
        timing_now(app, &conv).await,
        want(Some(t + 100 * S), Some(60_000), None, "active")
    );
    step(200 * S, say("admin", "second answer")).await;
    assert_eq!(
        timing_now(app, &conv).await,
        want(None, Some(60_000), None, "active")
    );
    log::append_at(
        nats,
        &conv,
        log::admin("adm_bo"),
        Event::ConversationStatusChanged(StatusChanged {
            from: Status::Active,
            to: Status::Closed,
        }),
        Timestamp(t + 300 * S),
    )
    .await;
    let url = conv_url(app, &conv);
    log::eventually("the close to be folded", || async {
        get(&url, &bo()).await.1["data"]["status"] == "closed"
    })
    .await;
    let c = conversation(app, &bo(), &conv).await;
    assert_eq!(
        timing(&c),
        want(None, Some(60_000), Some(300_000), "closed")
    );
    assert_eq!(c["updatedAt"], json!(time(t + 300 * S)));
    assert_eq!(c["createdAt"], json!(time(t)));

    // The same moments through history (route 15).
    for (offset, w) in [
        (0, want(None, None, None, "active")),
        (10 * S - 1, want(None, None, None, "active")),
        (10 * S, want(Some(t + 10 * S), None, None, "active")),
        (25 * S, want(Some(t + 10 * S), None, None, "active")),
        (70 * S, want(None, Some(60_000), None, "active")),
        (
            135 * S,
            want(Some(t + 100 * S), Some(60_000), None, "active"),
        ),
        (299_999, want(None, Some(60_000), None, "active")),
        (300 * S, want(None, Some(60_000), Some(300_000), "closed")),
    ] {
        let h = history(app, &conv, &time(t + offset)).await;
        assert_eq!(timing(&h["conversation"]), w, "at T+{offset} ms");
    }
    error(
        get(
            &format!("{}/history?at={}", conv_url(app, &conv), time(t - 1)),
            &bo(),
        )
        .await,
        404,
        "not_found",
    );

    // Reopened it keeps its resolution until it is closed again; then from creation.
    step(400 * S, {
        (
            log::admin("adm_bo"),
            Event::ConversationStatusChanged(StatusChanged {
                from: Status::Closed,
                to: Status::Active,
            }),
        )
    })
    .await;
    step(450 * S, say("customer", "one more thing")).await;
    assert_eq!(
        timing_now(app, &conv).await,
        want(Some(t + 450 * S), Some(60_000), Some(300_000), "active")
    );
    log::append_at(
        nats,
        &conv,
        log::admin("adm_bo"),
        Event::ConversationStatusChanged(StatusChanged {
            from: Status::Active,
            to: Status::Closed,
        }),
        Timestamp(t + 1000 * S),
    )
    .await;
    log::eventually("the second close to be folded", || async {
        get(&url, &bo()).await.1["data"]["status"] == "closed"
    })
    .await;
    // Closed is resolved: the customer no longer waits.
    assert_eq!(
        timing_now(app, &conv).await,
        want(None, Some(60_000), Some(1_000_000), "closed")
    );
}

#[tokio::test]
async fn stats_give_nearest_rank_percentiles_over_both_windows() {
    let env = TestEnv::start_with(AppOptions {
        extra_env: vec![("SLA_FIRST_RESPONSE_SECS".into(), "240".into())],
        ..AppOptions::default()
    })
    .await;
    let app = &env.app;
    let n = Timestamp::now().millis();
    use Step::*;

    // First responses in the last 24 h: 60, 30, 270.5, 400, 900 s; three days ago: 10, 2000 s.
    // Closes in the last 24 h: 300, 600, 1200 and 1500 s (one conversation closed twice); three
    // days ago: 5000 s.
    let a = scripted(
        app,
        "bk_a",
        "cus_a",
        n - 2 * HOUR,
        &[
            (10 * S, Customer),
            (20 * S, Note),
            (70 * S, Admin),
            (100 * S, Customer),
            (130 * S, Customer),
            (200 * S, Admin),
            (300 * S, Close),
        ],
    )
    .await;
    let b = scripted(
        app,
        "bk_b",
        "cus_b",
        n - 3 * HOUR,
        &[(0, Customer), (30 * S, Admin), (600 * S, Close)],
    )
    .await;
    let c = scripted(
        app,
        "bk_c",
        "cus_c",
        n - 4 * HOUR,
        &[
            (10 * S, Customer),
            (280_500, Admin),
            (1200 * S, Close),
            (1300 * S, Reopen),
            (1500 * S, Close),
        ],
    )
    .await;
    let d = scripted(
        app,
        "bk_d",
        "cus_d",
        n - 5 * HOUR,
        &[
            (0, Customer),
            (400 * S, Admin),
            (4 * HOUR + 30 * MIN, Customer),
        ],
    )
    .await;
    let e = scripted(
        app,
        "bk_e",
        "cus_e",
        n - 6 * HOUR,
        &[(0, Customer), (900 * S, Admin)],
    )
    .await;
    let f = scripted(
        app,
        "bk_f",
        "cus_f",
        n - 3 * DAY,
        &[(5 * S, Customer), (15 * S, Admin), (5000 * S, Close)],
    )
    .await;
    let g = scripted(
        app,
        "bk_g",
        "cus_g",
        n - 3 * DAY - HOUR,
        &[(0, Customer), (2000 * S, Admin)],
    )
    .await;
    // Waiting without an answer: 10 minutes (over the target) and 1 minute (under it).
    let h = scripted(app, "bk_h", "cus_h", n - HOUR, &[(50 * MIN, Customer)]).await;
    let i = scripted(app, "bk_i", "cus_i", n - HOUR, &[(59 * MIN, Customer)]).await;

    let firsts = [
        (&a, 60_000),
        (&b, 30_000),
        (&c, 270_500),
        (&d, 400_000),
        (&e, 900_000),
        (&f, 10_000),
        (&g, 2_000_000),
    ];
    for (conv, ms) in firsts {
        assert_eq!(
            conversation(app, &bo(), conv).await["firstResponseMs"],
            json!(ms)
        );
    }
    assert_eq!(
        conversation(app, &bo(), &c).await["resolutionMs"],
        json!(1_500_000)
    );
    assert_eq!(
        conversation(app, &bo(), &d).await["waitingSince"],
        json!(time(n - 30 * MIN))
    );

    let s = data(get(&app.url("/messaging/stats"), &bo()).await, 200);
    assert_eq!(
        s["responseTimes"],
        json!({
            "firstResponseTargetSeconds": 240,
            "last24h": {
                "firstResponse": { "count": 5, "medianSeconds": 270.5, "p90Seconds": 900.0 },
                "resolution": { "count": 4, "medianSeconds": 600.0, "p90Seconds": 1500.0 },
                "overFirstResponseTarget": 4,
            },
            "last7d": {
                "firstResponse": { "count": 7, "medianSeconds": 270.5, "p90Seconds": 2000.0 },
                "resolution": { "count": 5, "medianSeconds": 1200.0, "p90Seconds": 5000.0 },
                "overFirstResponseTarget": 5,
            },
            "waitingOverTarget": 1,
        })
    );
    assert_eq!(s["totalConversations"], 9);
    assert_eq!(
        s["conversationsByStatus"],
        json!({ "active": 5, "archived": 0, "closed": 4, "snoozed": 0 })
    );
    // 20 messages (the note is none), 16 of them in the last 24 h.
    assert_eq!(s["totalMessages"], 20);
    assert_eq!(s["messagesLast24h"], 16);
    let avg = s["avgFirstResponseSeconds"].as_f64().unwrap();
    assert!((avg - 3670.5 / 7.0).abs() < 1e-9, "{avg}");
    assert_eq!(s["satisfaction"], json!({ "average": null, "count": 0 }));
    // A service token reads the same.
    assert_eq!(
        data(get(&app.url("/messaging/stats"), &service()).await, 200)["responseTimes"],
        s["responseTimes"]
    );

    // Waiting longest first, then the others by newest activity.
    let waiting = data(
        get(&app.url("/messaging/conversations?sort=waiting"), &bo()).await,
        200,
    );
    let all = [&d, &h, &i, &a, &b, &c, &e, &f, &g].map(|x| x.to_string());
    assert_eq!(ids(&waiting["conversations"]), all.to_vec());
    let updated = data(
        get(&app.url("/messaging/conversations?sort=updated"), &bo()).await,
        200,
    );
    let by_update = [&i, &h, &d, &a, &b, &c, &e, &f, &g].map(|x| x.to_string());
    assert_eq!(ids(&updated["conversations"]), by_update.to_vec());
    let default = data(get(&app.url("/messaging/conversations"), &bo()).await, 200);
    assert_eq!(default, updated);
    // Filters and paging apply to the waiting order too.
    let page = data(
        get(
            &app.url("/messaging/conversations?sort=waiting&limit=2&page=2"),
            &bo(),
        )
        .await,
        200,
    );
    assert_eq!(ids(&page["conversations"]), vec![i.clone(), a.clone()]);
    let closed = data(
        get(
            &app.url("/messaging/conversations?sort=waiting&status=closed"),
            &bo(),
        )
        .await,
        200,
    );
    assert_eq!(ids(&closed["conversations"]), vec![a, b, c, f]);
}

#[tokio::test]
async fn stats_default_target_is_300_seconds_and_empty_windows_are_null() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let s = data(get(&app.url("/messaging/stats"), &bo()).await, 200);
    let empty = json!({
        "firstResponse": { "count": 0, "medianSeconds": null, "p90Seconds": null },
        "resolution": { "count": 0, "medianSeconds": null, "p90Seconds": null },
        "overFirstResponseTarget": 0,
    });
    assert_eq!(
        s["responseTimes"],
        json!({
            "firstResponseTargetSeconds": 300,
            "last24h": empty,
            "last7d": empty,
            "waitingOverTarget": 0,
        })
    );
    // A customer who has waited 301 s, unanswered, is over the default target in both windows.
    let n = Timestamp::now().millis();
    scripted(
        app,
        "bk_w",
        "cus_w",
        n - HOUR,
        &[(HOUR - 301 * S, Step::Customer)],
    )
    .await;
    scripted(
        app,
        "bk_v",
        "cus_v",
        n - HOUR,
        &[(HOUR - 200 * S, Step::Customer)],
    )
    .await;
    let s = data(get(&app.url("/messaging/stats"), &bo()).await, 200);
    assert_eq!(s["responseTimes"]["waitingOverTarget"], 1);
    assert_eq!(s["responseTimes"]["last24h"]["overFirstResponseTarget"], 1);
    assert_eq!(s["responseTimes"]["last7d"]["overFirstResponseTarget"], 1);
    assert_eq!(s["responseTimes"]["last24h"]["firstResponse"]["count"], 0);

    // Exactly the target is not over it; a millisecond more is. An admin's greeting before the
    // customer's first message is no response.
    let exact = scripted(
        app,
        "bk_x",
        "cus_x",
        n - 2 * HOUR,
        &[
            (0, Step::Admin),
            (10 * S, Step::Customer),
            (310 * S, Step::Admin),
        ],
    )
    .await;
    let over = scripted(
        app,
        "bk_y",
        "cus_y",
        n - 2 * HOUR,
        &[(10 * S, Step::Customer), (310 * S + 1, Step::Admin)],
    )
    .await;
    assert_eq!(
        conversation(app, &bo(), &exact).await["firstResponseMs"],
        300_000
    );
    assert_eq!(
        conversation(app, &bo(), &over).await["firstResponseMs"],
        300_001
    );
    let s = data(get(&app.url("/messaging/stats"), &bo()).await, 200);
    let day = &s["responseTimes"]["last24h"];
    assert_eq!(
        day["firstResponse"],
        json!({ "count": 2, "medianSeconds": 300.0, "p90Seconds": 300.001 })
    );
    // The one over the target, and the customer still waiting since 301 s.
    assert_eq!(day["overFirstResponseTarget"], 2);
    assert_eq!(s["responseTimes"]["last7d"]["overFirstResponseTarget"], 2);
}

// ---------------------------------------------------------------------------------------------
// Replay and time travel
// ---------------------------------------------------------------------------------------------

/// A message as history shows it: content, internal, isEdited, isDeleted.
type Shown = (&'static str, bool, bool, bool);

#[tokio::test]
async fn history_shows_the_inbox_as_it_stood_and_events_list_it() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let nats = app.nats_url();
    let t0 = Timestamp::now().millis() - HOUR;
    let conv = log::create_conversation_at(nats, "bk_r", "cus_r", Timestamp(t0)).await;
    let lead = || log::admin("adm_lead");
    let question = new_id();
    let note = new_id();
    let answer = new_id();
    let until = time(Timestamp::now().millis() + DAY);
    let sent = |id: &str, content: &str| {
        Event::MessageSent(MessageSent {
            message_id: id.into(),
            content: content.into(),
            message_type: MessageType::Text,
            attachments: Vec::new(),
            reply_to: None,
            client_message_id: None,
        })
    };
    let script: Vec<(i64, concierge_events::Actor, Event)> = vec![
        (60 * S, log::customer("cus_r"), sent(&question, "question")),
        (
            120 * S,
            lead(),
            Event::ConversationAssigned(ConversationAssigned {
                from: None,
                to: Some("adm_1".into()),
            }),
        ),
        (
            180 * S,
            lead(),
            Event::ConversationLabeled(ConversationLabeled {
                labels: vec!["vip".into()],
            }),
        ),
        (
            240 * S,
            lead(),
            Event::ConversationPrioritized(ConversationPrioritized {
                from: Priority::Normal,
                to: Priority::High,
            }),
        ),
        (
            300 * S,
            log::admin("adm_1"),
            Event::NoteAdded(NoteAdded {
                message_id: note.clone(),
                content: "first note @adm_2".into(),
                reply_to: Some(question.clone()),
                client_message_id: None,
                mentions: vec!["adm_2".into()],
            }),
        ),
        (
            360 * S,
            lead(),
            Event::ConversationLabeled(ConversationLabeled {
                labels: vec!["vip".into(), "late".into()],
            }),
        ),
        (
            420 * S,
            lead(),
            Event::ConversationAssigned(ConversationAssigned {
                from: Some("adm_1".into()),
                to: Some("adm_2".into()),
            }),
        ),
        (
            480 * S,
            log::admin("adm_1"),
            Event::NoteEdited(MessageEdited {
                message_id: note.clone(),
                content: "edited note".into(),
            }),
        ),
        (
            540 * S,
            lead(),
            Event::ConversationPrioritized(ConversationPrioritized {
                from: Priority::High,
                to: Priority::Urgent,
            }),
        ),
        (600 * S, log::admin("adm_2"), sent(&answer, "answer")),
        (
            660 * S,
            log::admin("adm_1"),
            Event::NoteDeleted(MessageDeleted {
                message_id: note.clone(),
            }),
        ),
        (
            720 * S,
            lead(),
            Event::ConversationSnoozed(ConversationSnoozed {
                from: Status::Active,
                until: Timestamp::parse(&until).unwrap(),
            }),
        ),
    ];
    let mut seqs = Vec::new();
    for (offset, actor, event) in script {
        seqs.push(log::append_at(nats, &conv, actor, event, Timestamp(t0 + offset)).await);
    }
    let url = conv_url(app, &conv);
    log::eventually("the history to be folded", || async {
        get(&url, &bo()).await.1["data"]["status"] == "snoozed"
    })
    .await;

    let inbox = |c: &Value| {
        json!({
            "assignee": c["assignee"], "labels": c["labels"], "priority": c["priority"],
            "status": c["status"], "snoozedUntil": c["snoozedUntil"],
        })
    };
    let state = |assignee: Value, labels: Value, priority: &str| {
        json!({
            "assignee": assignee, "labels": labels, "priority": priority,
            "status": "active", "snoozedUntil": null,
        })
    };
    // Moments: (offset, inbox fields, the messages as (content, internal, isEdited, isDeleted)).
    let moments: Vec<(i64, Value, Vec<Shown>)> = vec![
        (
            90 * S,
            state(json!(null), json!([]), "normal"),
            vec![("question", false, false, false)],
        ),
        (
            150 * S,
            state(json!("adm_1"), json!([]), "normal"),
            vec![("question", false, false, false)],
        ),
        (
            330 * S,
            state(json!("adm_1"), json!(["vip"]), "high"),
            vec![
                ("question", false, false, false),
                ("first note @adm_2", true, false, false),
            ],
        ),
        (
            500 * S,
            state(json!("adm_2"), json!(["vip", "late"]), "high"),
            vec![
                ("question", false, false, false),
                ("edited note", true, true, false),
            ],
        ),
        (
            630 * S,
            state(json!("adm_2"), json!(["vip", "late"]), "urgent"),
            vec![
                ("question", false, false, false),
                ("edited note", true, true, false),
                ("answer", false, false, false),
            ],
        ),
        (
            690 * S,
            state(json!("adm_2"), json!(["vip", "late"]), "urgent"),
            vec![
                ("question", false, false, false),
                ("", true, true, true),
                ("answer", false, false, false),
            ],
        ),
    ];
    for (offset, fields, messages) in moments {
        let h = history(app, &conv, &time(t0 + offset)).await;
        assert_eq!(inbox(&h["conversation"]), fields, "at T0+{offset} ms");
        let got: Vec<(String, bool, bool, bool)> = h["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["content"].as_str().unwrap().to_string(),
                    m["internal"].as_bool().unwrap(),
                    m["isEdited"].as_bool().unwrap(),
                    m["isDeleted"].as_bool().unwrap(),
                )
            })
            .collect();
        let want: Vec<(String, bool, bool, bool)> = messages
            .into_iter()
            .map(|(c, i, e, d)| (c.to_string(), i, e, d))
            .collect();
        assert_eq!(got, want, "at T0+{offset} ms");
    }
    // The note as it stood, by seq: its reply and its author.
    let h = history(app, &conv, &seqs[4].to_string()).await;
    assert_eq!(h["asOfSeq"], seqs[4]);
    let n = &h["messages"][1];
    assert_eq!(n["id"], json!(note));
    assert_eq!(n["replyTo"], json!(question));
    assert_eq!(n["sender"], "adm_1");
    assert_eq!(n["internal"], json!(true));
    // The answer after the note is the first response: 540 s after the question.
    let h = history(app, &conv, &time(t0 + 630 * S)).await;
    assert_eq!(h["conversation"]["firstResponseMs"], 540_000);
    assert_eq!(h["conversation"]["waitingSince"], json!(null));
    // The present: snoozed, as the live view has it.
    let h = history(app, &conv, &time(t0 + 730 * S)).await;
    let live = conversation(app, &bo(), &conv).await;
    assert_eq!(inbox(&h["conversation"]), inbox(&live));
    assert_eq!(live["snoozedUntil"], json!(until));
    assert_eq!(live["status"], "snoozed");

    // Route 14: every event of the inbox, in order, as stored.
    let ev = data(get(&format!("{url}/events?limit=1000"), &bo()).await, 200);
    let types: Vec<&str> = ev["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        vec![
            "conversation_created",
            "message_sent",
            "conversation_assigned",
            "conversation_labeled",
            "conversation_prioritized",
            "note_added",
            "conversation_labeled",
            "conversation_assigned",
            "note_edited",
            "conversation_prioritized",
            "message_sent",
            "note_deleted",
            "conversation_snoozed",
        ]
    );
    let events = ev["events"].as_array().unwrap();
    assert_eq!(
        events[5]["data"],
        json!({ "messageId": note, "content": "first note @adm_2", "replyTo": question,
                "clientMessageId": null, "mentions": ["adm_2"] })
    );
    assert_eq!(events[7]["data"], json!({ "from": "adm_1", "to": "adm_2" }));
    assert_eq!(events[9]["data"], json!({ "from": "high", "to": "urgent" }));
    assert_eq!(
        events[12]["data"],
        json!({ "from": "active", "until": until })
    );
    assert_eq!(events[12]["at"], json!(time(t0 + 720 * S)));
    let evseqs: Vec<u64> = events[1..]
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(evseqs, seqs);
    assert_eq!(ev["nextAfter"], json!(seqs[11]));
    // Paged with after.
    let ev = data(
        get(&format!("{url}/events?after={}&limit=2", seqs[4]), &bo()).await,
        200,
    );
    let types: Vec<&str> = ev["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, vec!["conversation_labeled", "conversation_assigned"]);
    // The booking platform reads them too.
    data(get(&format!("{url}/events"), &service()).await, 200);
}
