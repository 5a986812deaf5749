//! Rolling upgrades (docs/operations.md, "Rolling upgrades"): a node never folds past an event it
//! cannot fold (it stops before it, `/ready` names it, reads still answer, and an upgraded node
//! folds on from there, or the operator skips it); writers emit no event of a level some live node
//! does not fold. An "old" node is one started with `EVENT_LEVEL=1`: it folds and announces level 1
//! only, as a build from before the lifecycle events would.

mod common;

use common::log::eventually;
use common::*;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A node as the build from before the upgrade: it folds up to level 1 only.
fn old(data_dir: &Path) -> AppOptions {
    AppOptions {
        data_dir: Some(data_dir.to_path_buf()),
        extra_env: vec![("EVENT_LEVEL".into(), "1".into())],
        ..AppOptions::default()
    }
}

/// A node of this build: it folds every level.
fn new(data_dir: &Path) -> AppOptions {
    AppOptions {
        data_dir: Some(data_dir.to_path_buf()),
        ..AppOptions::default()
    }
}

fn dirs() -> (tempfile::TempDir, PathBuf, PathBuf) {
    let root = tempfile::tempdir().expect("tempdir");
    let (a, b) = (root.path().join("a"), root.path().join("b"));
    (root, a, b)
}

/// `/ready`'s status and body; `(0, null)` while the node does not listen yet.
async fn ready(app: &App) -> (u16, Value) {
    match reqwest::get(app.url("/ready")).await {
        Ok(r) => (r.status().as_u16(), r.json().await.unwrap_or(Value::Null)),
        Err(_) => (0, Value::Null),
    }
}

/// Polls `/ready` until its body satisfies `want`; returns it.
async fn ready_until(app: &App, what: &str, want: impl Fn(u16, &Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = ready(app).await;
        if want(status, &body) {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: /ready still answers {status} {body}\n{}",
            app.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn edit(app: &App, token: &str, conv: &str, message: &str, content: &str) -> (u16, Value) {
    let url = app.url(&format!(
        "/messaging/conversations/{conv}/messages/{message}"
    ));
    let (status, body) = patch(&url, token, &json!({ "content": content })).await;
    (status.as_u16(), body)
}

/// The conversation and its messages as a node shows them to `token`.
async fn state(app: &App, token: &str, conv: &str) -> (Value, Value) {
    let mut conversation = data(get(&conv_url(app, conv), token).await, 200);
    // Presence is per node and moment, not folded from the log.
    for p in conversation["participants"].as_array_mut().unwrap() {
        p.as_object_mut().unwrap().remove("online");
        p.as_object_mut().unwrap().remove("lastSeen");
    }
    let messages = data(
        get(&format!("{}?limit=100", messages_url(app, conv)), token).await,
        200,
    )["messages"]
        .clone();
    (conversation, messages)
}

/// The state both nodes show once they agree (reading marks messages read, which is a write each
/// node folds in its own time); fails after 10 s.
async fn converged(a: &App, b: &App, token: &str, conv: &str) -> (Value, Value) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (on_a, on_b) = (state(a, token, conv).await, state(b, token, conv).await);
        if on_a == on_b {
            return on_a;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the nodes disagree:\n{on_a:#?}\n{on_b:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The `seq` of the conversation's one event of `event_type`, from route 14.
async fn seq_of(app: &App, conv: &str, event_type: &str) -> u64 {
    let page = data(
        get(
            &app.url(&format!("/messaging/conversations/{conv}/events")),
            &admin("adm_bo"),
        )
        .await,
        200,
    );
    let found: Vec<u64> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == event_type)
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert_eq!(found.len(), 1, "{page}");
    found[0]
}

/// What a node of this build wrote before an old node joined.
struct Written {
    conv: String,
    m1: Value,
    m2: Value,
    /// The seq of the `message_edited` (level 2) between them.
    edit_seq: u64,
}

/// Ann's conversation on `b`: "first", edited to "first, edited", then "second".
async fn first_edited_then_second(b: &App, ann: &str) -> Written {
    data(register_booking(b, "bk_1", "cus_ann", None).await, 201);
    let conv = id_of(&created(open(b, ann, "bk_1").await));
    let m1 = send(b, ann, &conv, "first").await;
    assert_eq!(
        edit(b, ann, &conv, &id_of(&m1), "first, edited").await.0,
        200
    );
    let m2 = send(b, ann, &conv, "second").await;
    let edit_seq = seq_of(b, &conv, "message_edited").await;
    Written {
        conv,
        m1,
        m2,
        edit_seq,
    }
}

fn blocked_message(seq: u64) -> String {
    format!(
        "not ready: stopped before event {seq} (message_edited v1, schema level 2): this node \
         folds up to schema level 1; upgrade it, or skip the event with `concierge skip --seq {seq}`"
    )
}

#[tokio::test]
async fn a_rolling_upgrade_refuses_new_events_until_every_node_folds_them_and_loses_nothing() {
    let nats = Nats::start();
    let (_root, dir_a, dir_b) = dirs();
    let ann = customer("cus_ann", &[]);
    let bo = admin("adm_bo");

    // Before: both nodes on the old build.
    let mut a = App::start_with(&nats, old(&dir_a)).await;
    let mut b = App::start_with(&nats, old(&dir_b)).await;
    data(register_booking(&a, "bk_1", "cus_ann", None).await, 201);
    let conv = id_of(&created(open(&a, &ann, "bk_1").await));
    let m1 = send(&a, &ann, &conv, "Can I check in early?").await;
    let (status, body) = edit(&b, &ann, &conv, &id_of(&m1), "Can I check in at 10?").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "unavailable");
    assert!(
        body["message"].as_str().unwrap().starts_with(
            "a rolling upgrade is in progress: message_edited needs event schema level 2"
        ),
        "{body}"
    );

    // Upgrade B. While A (old) is live, B takes level-1 writes and refuses level-2 ones.
    assert!(b.terminate().success());
    let b = App::start_with(&nats, new(&dir_b)).await;
    let (status, body) = ready(&b).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            &body["data"]["eventLevel"],
            &body["data"]["clusterEventLevel"]
        ),
        (&json!(concierge_events::EVENT_LEVEL), &json!(1))
    );
    let (status, body) = edit(&b, &ann, &conv, &id_of(&m1), "Can I check in at 10?").await;
    assert_eq!(status, 503, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains(
            "folds only up to level 1; retry when every node is upgraded; nothing was written"
        ),
        "{body}"
    );
    let m2 = send(&b, &bo, &conv, "Yes, from 10:00.").await;
    eventually("A to fold B's level-1 write", || async {
        state(&a, &bo, &conv).await.1.as_array().unwrap().len() == 2
    })
    .await;

    // Upgrade A: once it has left, B takes level-2 writes at once.
    assert!(a.terminate().success());
    let body = ready_until(&b, "B to see A leave", |s, b| {
        s == 200 && b["data"]["clusterEventLevel"] == concierge_events::EVENT_LEVEL
    })
    .await;
    assert_eq!(body["data"]["eventLevel"], concierge_events::EVENT_LEVEL);
    let (status, edited) = edit(&b, &ann, &conv, &id_of(&m1), "Can I check in at 10?").await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["data"]["isEdited"], true);
    let a = App::start_with(&nats, new(&dir_a)).await;

    // Afterwards every view on both nodes holds every event.
    let (_, messages) = converged(&a, &b, &bo, &conv).await;
    let messages = messages.as_array().unwrap();
    assert_eq!(
        messages
            .iter()
            .map(|m| (&m["id"], &m["content"], &m["isEdited"]))
            .collect::<Vec<_>>(),
        vec![
            (&m1["id"], &json!("Can I check in at 10?"), &json!(true)),
            (&m2["id"], &json!("Yes, from 10:00."), &json!(false)),
        ]
    );
}

#[tokio::test]
async fn a_node_stops_before_an_event_it_cannot_fold_and_folds_on_once_upgraded() {
    let nats = Nats::start();
    let (_root, dir_a, dir_b) = dirs();
    let ann = customer("cus_ann", &[]);
    let bo = admin("adm_bo");
    let b = App::start_with(&nats, new(&dir_b)).await;
    let Written {
        conv,
        m1,
        m2,
        edit_seq,
    } = first_edited_then_second(&b, &ann).await;

    // An old node joins late: it folds up to the edit and stops there.
    let mut a = App::spawn_with(&nats.url(), old(&dir_a));
    let body = ready_until(&a, "A to stop before the edit", |s, b| {
        s == 503
            && b["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("not ready: stopped before"))
    })
    .await;
    assert_eq!(
        body,
        json!({ "success": false, "error": "unavailable", "message": blocked_message(edit_seq) })
    );
    // Reads answer, from the views as of the event before the edit.
    let (_, messages) = state(&a, &bo, &conv).await;
    assert_eq!(
        messages
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (&m["id"], &m["content"]))
            .collect::<Vec<_>>(),
        vec![(&m1["id"], &json!("first"))]
    );
    // Writes do not: the node would never see them folded.
    let r = post(
        &messages_url(&a, &conv),
        &ann,
        &json!({ "content": "third" }),
    )
    .await;
    assert_eq!(
        error(r, 503, "unavailable"),
        format!(
            "this node has {}; nothing was written",
            blocked_message(edit_seq).trim_start_matches("not ready: ")
        )
    );
    // B refuses level-2 writes while the old node is live, even stopped.
    assert_eq!(edit(&b, &ann, &conv, &id_of(&m2), "no").await.0, 503);

    // The upgrade: the same data folder, this build. It folds on from the edit.
    assert!(a.terminate().success());
    let a = App::start_with(&nats, new(&dir_a)).await;
    let (_, messages) = converged(&a, &b, &bo, &conv).await;
    assert_eq!(
        messages
            .as_array()
            .unwrap()
            .iter()
            .map(|m| &m["content"])
            .collect::<Vec<_>>(),
        vec![&json!("first, edited"), &json!("second")]
    );
}

#[tokio::test]
async fn the_operator_may_skip_the_event_a_node_stopped_at() {
    let nats = Nats::start();
    let (_root, dir_a, dir_b) = dirs();
    let ann = customer("cus_ann", &[]);
    let bo = admin("adm_bo");
    let b = App::start_with(&nats, new(&dir_b)).await;
    let Written {
        conv,
        m1,
        m2,
        edit_seq,
    } = first_edited_then_second(&b, &ann).await;

    let a = App::spawn_with(&nats.url(), old(&dir_a));
    ready_until(&a, "A to stop before the edit", |s, b| {
        s == 503 && b["message"] == blocked_message(edit_seq)
    })
    .await;

    // The running node picks the decision up; its views lack the edit from then on.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_concierge"))
        .args(["skip", "--seq", &edit_seq.to_string()])
        .env("DATA_DIR", &dir_a)
        .output()
        .expect("run concierge skip");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!(
            "event {edit_seq} will be passed over if this node cannot fold it ({}); its views will lack it\n",
            dir_a.join("skipped-events").display()
        )
    );
    let body = ready_until(&a, "A to fold on past the skipped event", |s, _| s == 200).await;
    assert_eq!(body["data"]["eventLevel"], 1);
    let (_, messages) = state(&a, &bo, &conv).await;
    assert_eq!(
        messages
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (&m["id"], &m["content"], &m["isEdited"]))
            .collect::<Vec<_>>(),
        vec![
            (&m1["id"], &json!("first"), &json!(false)),
            (&m2["id"], &json!("second"), &json!(false)),
        ]
    );
    assert!(
        a.log().contains("the operator skipped it"),
        "the node logs the skip:\n{}",
        a.log()
    );
}
