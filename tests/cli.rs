//! The operator commands: `concierge rebuild` reproduces the views exactly, `replay` prints a
//! conversation as it stood, `tail` prints the stream as JSON lines for analytics pipelines.

mod common;

use common::*;
use concierge_projections::ViewStore;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

fn concierge(app: &App, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_concierge"))
        .args(args)
        .env("DATA_DIR", app.data_dir())
        .env("NATS_URL", app.nats_url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run concierge")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ann() -> String {
    customer("cus_ann", &["bk_1"])
}

fn bo() -> String {
    admin_named("adm_bo", "Bo")
}

fn admin_named(sub: &str, name: &str) -> String {
    token(sub, "admin", Some(name), &[])
}

fn msg_url(app: &App, conv: &str, msg: &str) -> String {
    app.url(&format!("/messaging/conversations/{conv}/messages/{msg}"))
}

/// A conversation with edits, a delete, reactions, reads, a status change, a broadcast and a
/// retitled booking; returns (conversation id, the seq of the last event before the edit).
async fn scripted_history(app: &App) -> (String, u64) {
    data(
        register_booking(app, "bk_1", "cus_ann", Some("Villa Rosa")).await,
        201,
    );
    let conv = id_of(&created(open(app, &ann(), "bk_1").await));
    let question = id_of(&send(app, &ann(), &conv, "can I check in early?").await);
    let typo = id_of(&send(app, &ann(), &conv, "and parkng?").await);
    let read = app.url(&format!("/messaging/conversations/{conv}/read"));
    data(put_empty(&read, &bo()).await, 200);
    let answer = id_of(&send(app, &bo(), &conv, "yes, from noon").await);
    let events = app.url(&format!("/messaging/conversations/{conv}/events"));
    let before_edit = data(get(&events, &bo()).await, 200)["nextAfter"]
        .as_u64()
        .unwrap();
    data(
        patch(
            &msg_url(app, &conv, &question),
            &ann(),
            &json!({ "content": "can I check in at 10?" }),
        )
        .await,
        200,
    );
    data(delete(&msg_url(app, &conv, &typo), &ann()).await, 200);
    let react = format!("{}/reactions", msg_url(app, &conv, &answer));
    data(post(&react, &ann(), &json!({ "emoji": "🙏" })).await, 200);
    data(post(&react, &bo(), &json!({ "emoji": "👍" })).await, 200);
    data(delete(&format!("{react}/%F0%9F%91%8D"), &bo()).await, 200);
    data(put_empty(&read, &ann()).await, 200);
    let status = app.url(&format!("/messaging/conversations/{conv}/status"));
    data(
        put(&status, &bo(), &json!({ "status": "archived" })).await,
        200,
    );
    data(
        post(
            &app.url("/messaging/admin/broadcast"),
            &bo(),
            &json!({ "content": "maintenance at 2am", "audience": "all" }),
        )
        .await,
        200,
    );
    data(
        register_booking(app, "bk_1", "cus_ann", Some("Villa Rosa, room 4")).await,
        200,
    );
    (conv, before_edit)
}

#[tokio::test]
async fn rebuild_wipes_the_views_and_folds_the_same_views_from_the_log() {
    let env = TestEnv::start().await;
    let mut app = env.app;
    scripted_history(&app).await;
    assert!(app.terminate().success());
    let views = app.data_dir().join("views");
    let before = ViewStore::open(&views).unwrap().dump().unwrap();
    assert!(before.len() > 10, "{} keys", before.len());

    // A stray key the log does not explain must not survive a rebuild.
    {
        let db = sled::open(&views).unwrap();
        db.open_tree("views")
            .unwrap()
            .insert(b"c/stray", b"junk".as_slice())
            .unwrap();
        db.flush().unwrap();
    }
    let out = concierge(&app, &["rebuild"]);
    assert!(out.status.success(), "{out:?}");
    let printed = stdout(&out);
    assert!(printed.contains("wiped the views"), "{printed}");
    let last = printed.lines().last().unwrap_or_default().to_string();
    assert!(last.starts_with("rebuilt the views from "), "{printed}");
    assert!(last.contains(" events/s); checkpoint "), "{printed}");

    let after = ViewStore::open(&views).unwrap().dump().unwrap();
    assert_eq!(after.len(), before.len());
    assert!(
        after == before,
        "the rebuilt views differ from the ones folded live"
    );
}

#[tokio::test]
async fn rebuild_refuses_while_a_node_holds_the_views() {
    let env = TestEnv::start().await;
    let out = concierge(&env.app, &["rebuild"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is a node still running on this DATA_DIR"),
        "{err}"
    );
}

#[tokio::test]
async fn replay_prints_the_transcript_as_of_a_moment() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let (conv, before_edit) = scripted_history(app).await;

    let then = concierge(
        app,
        &[
            "replay",
            "--conversation",
            &conv,
            "--at",
            &before_edit.to_string(),
        ],
    );
    assert!(then.status.success(), "{then:?}");
    let lines: Vec<String> = stdout(&then).lines().map(str::to_string).collect();
    assert_eq!(lines.len(), 5, "{lines:#?}");
    assert!(
        lines[0].starts_with(&format!(
            "conversation {conv} · Villa Rosa · booking bk_1 · active · as of seq {before_edit}"
        )),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[1],
        "participants: cus_ann (cus_ann, customer, 1 unread), Bo (adm_bo, admin, 0 unread)"
    );
    assert!(
        lines[2].ends_with(" cus_ann: can I check in early? (read by adm_bo)"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].ends_with(" cus_ann: and parkng? (read by adm_bo)"),
        "{}",
        lines[3]
    );
    assert!(lines[4].ends_with(" Bo: yes, from noon"), "{}", lines[4]);

    let now = concierge(app, &["replay", "--conversation", &conv]);
    assert!(now.status.success(), "{now:?}");
    let lines: Vec<String> = stdout(&now).lines().map(str::to_string).collect();
    assert!(
        lines[0].contains(" · Villa Rosa, room 4 · booking bk_1 · archived · "),
        "{}",
        lines[0]
    );
    assert_eq!(
        lines[1],
        "participants: cus_ann (cus_ann, customer, 0 unread), Bo (adm_bo, admin, 0 unread)"
    );
    assert!(
        lines[2].ends_with(" cus_ann: can I check in at 10? (edited) (read by adm_bo)"),
        "{}",
        lines[2]
    );
    assert!(
        lines[3].ends_with(" cus_ann: [deleted] (read by adm_bo)"),
        "{}",
        lines[3]
    );
    assert!(
        lines[4].ends_with(" Bo: yes, from noon [🙏 cus_ann] (read by cus_ann)"),
        "{}",
        lines[4]
    );

    let before = concierge(
        app,
        &[
            "replay",
            "--conversation",
            &conv,
            "--at",
            "2020-01-01T00:00:00.000Z",
        ],
    );
    assert_eq!(before.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&before.stderr).contains("did not exist at that moment"));
    let bad = concierge(app, &["replay", "--conversation", &conv, "--at", "soon"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--at \"soon\""));
}

#[tokio::test]
async fn tail_prints_each_event_as_stored_with_its_seq_filtered_by_type() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = id_of(&created(open(app, &ann(), "bk_1").await));
    send(app, &ann(), &conv, "one").await;
    send(app, &ann(), &conv, "two").await;

    let mut tail = Command::new(env!("CARGO_BIN_EXE_concierge"))
        .args([
            "tail",
            "--since",
            "0",
            "--type",
            "message_sent,admin_broadcast",
        ])
        .env("NATS_URL", app.nats_url())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (lines_tx, lines_rx) = std::sync::mpsc::channel::<Value>();
    let out = tail.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines() {
            let Ok(line) = line else { return };
            let _ = lines_tx.send(serde_json::from_str(&line).expect("a JSON line"));
        }
    });
    let next = || {
        lines_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a line from tail")
    };
    let (first, second) = (next(), next());
    // Live: what is written after tail started comes too; other types do not.
    data(
        put_empty(
            &app.url(&format!("/messaging/conversations/{conv}/read")),
            &admin("adm_bo"),
        )
        .await,
        200,
    );
    send(app, &ann(), &conv, "three").await;
    let third = next();
    let _ = tail.kill();
    let _ = tail.wait();

    let contents: Vec<_> = [&first, &second, &third]
        .iter()
        .map(|e| e["data"]["content"].clone())
        .collect();
    assert_eq!(contents, vec![json!("one"), json!("two"), json!("three")]);
    for e in [&first, &second, &third] {
        assert_eq!(e["type"], json!("message_sent"));
        assert_eq!(e["conversationId"], json!(conv));
        assert_eq!(e["v"], json!(1));
    }
    let seqs: Vec<u64> = [&first, &second, &third]
        .iter()
        .map(|e| e["seq"].as_u64().unwrap())
        .collect();
    assert!(seqs[0] < seqs[1] && seqs[1] + 1 < seqs[2], "{seqs:?}");
    assert!(lines_rx.try_recv().is_err(), "no other line");
}

/// The names of the streams a NATS holds, sorted.
async fn stream_names(nats_url: &str) -> Vec<String> {
    use futures::TryStreamExt;
    let client = async_nats::connect(nats_url)
        .await
        .expect("connect to NATS");
    let mut names: Vec<String> = async_nats::jetstream::new(client)
        .stream_names()
        .try_collect()
        .await
        .expect("list the streams");
    names.sort();
    names
}

#[tokio::test]
async fn rebuild_uses_the_stream_names_serve_was_configured_with() {
    let names = [
        ("STREAM_NAME", "OPS_LOG"),
        ("TYPING_STREAM_NAME", "OPS_TYPING"),
    ];
    let env = TestEnv::start_with(AppOptions {
        extra_env: names
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..AppOptions::default()
    })
    .await;
    let mut app = env.app;
    let conv = id_of(&created(open(&app, &ann(), "bk_1").await));
    send(&app, &ann(), &conv, "hello").await;
    assert!(app.terminate().success());
    let expected = vec!["KV_CONCIERGE_LAST_SEEN", "OPS_LOG", "OPS_TYPING"];
    assert_eq!(stream_names(app.nats_url()).await, expected);

    let out = Command::new(env!("CARGO_BIN_EXE_concierge"))
        .arg("rebuild")
        .env("DATA_DIR", app.data_dir())
        .env("NATS_URL", app.nats_url())
        .env("RUST_LOG", "warn")
        .envs(names)
        .output()
        .expect("run concierge");
    assert!(out.status.success(), "{out:?}");
    let printed = stdout(&out);
    assert!(printed.contains(" events from OPS_LOG"), "{printed}");
    assert!(printed.contains("rebuilt the views from "), "{printed}");
    // Neither CONCIERGE nor CONCIERGE_TYPING was created beside the node's streams.
    assert_eq!(stream_names(app.nats_url()).await, expected);
}
