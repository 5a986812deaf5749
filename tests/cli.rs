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
    let expected = vec![
        "KV_CONCIERGE_LAST_SEEN",
        "OBJ_CONCIERGE_FILES",
        "OPS_LOG",
        "OPS_TYPING",
    ];
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

/// The event log's message count and last sequence.
async fn log_state(nats_url: &str) -> (u64, u64) {
    let client = async_nats::connect(nats_url)
        .await
        .expect("connect to NATS");
    let info = async_nats::jetstream::new(client)
        .get_stream("CONCIERGE")
        .await
        .expect("the log stream")
        .get_info()
        .await
        .expect("its info");
    (info.state.messages, info.state.last_sequence)
}

/// A secret long enough that doctor does not warn about it.
const LONG_SECRET: &str = "a-secret-of-forty-bytes-for-doctor-tests";

fn doctor(data_dir: &std::path::Path, env: &[(&str, &str)]) -> (Option<i32>, Vec<String>) {
    let out = Command::new(env!("CARGO_BIN_EXE_concierge"))
        .arg("doctor")
        .env("DATA_DIR", data_dir)
        .env("JWT_SECRET", LONG_SECRET)
        .env("DOCTOR_MIN_FREE_MB", "1")
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .output()
        .expect("run concierge doctor");
    let printed = stdout(&out);
    assert!(!printed.contains(LONG_SECRET), "the secret was printed");
    (
        out.status.code(),
        printed.lines().map(str::to_string).collect(),
    )
}

/// The line of `check` (what precedes the first `: `).
fn line_of<'a>(lines: &'a [String], check: &str) -> &'a str {
    lines
        .iter()
        .find(|l| l[5..].split(": ").next() == Some(check))
        .unwrap_or_else(|| panic!("no line for {check}: {lines:#?}"))
}

#[tokio::test]
async fn doctor_beside_a_healthy_node_prints_ok_for_every_check_and_changes_nothing() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = id_of(&created(open(app, &ann(), "bk_1").await));
    send(app, &ann(), &conv, "hello").await;
    // The lastSeen bucket's stream is created once presence starts, just after /ready.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !stream_names(app.nats_url())
        .await
        .contains(&"KV_CONCIERGE_LAST_SEEN".to_string())
    {
        assert!(std::time::Instant::now() < deadline, "no lastSeen stream");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let before = stream_names(app.nats_url()).await;
    let log = log_state(app.nats_url()).await;

    let (code, lines) = doctor(app.data_dir(), &[("NATS_URL", app.nats_url())]);
    assert_eq!(code, Some(0), "{lines:#?}");
    let checks: Vec<&str> = lines
        .iter()
        .map(|l| {
            assert!(l.starts_with("ok   "), "{l}");
            l[5..].split(": ").next().unwrap()
        })
        .collect();
    assert_eq!(
        checks,
        [
            "settings",
            "JWT_SECRET",
            "DATA_DIR",
            "disk",
            "NATS",
            "JetStream",
            "stream CONCIERGE",
            "stream CONCIERGE_TYPING",
            "stream KV_CONCIERGE_LAST_SEEN",
            "publish",
            "subscribe",
            "clock",
        ]
    );
    assert!(
        line_of(&lines, "stream CONCIERGE").contains("File storage, 1 replica(s)"),
        "{lines:#?}"
    );
    assert!(line_of(&lines, "clock").contains(" ms "), "{lines:#?}");
    // Nothing was written: the same streams, the same last event.
    assert_eq!(stream_names(app.nats_url()).await, before);
    assert_eq!(log_state(app.nats_url()).await, log);
}

#[tokio::test]
async fn doctor_with_nats_down_fails_naming_nats_url_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("nats://ann:hunter2@127.0.0.1:{}", free_port());
    let (code, lines) = doctor(dir.path(), &[("NATS_URL", &url)]);
    assert_eq!(code, Some(1), "{lines:#?}");
    let nats = line_of(&lines, "NATS");
    assert!(nats.starts_with("FAIL NATS: "), "{nats}");
    let shown = url.replace("ann:hunter2@", "");
    assert!(nats.contains(&format!("NATS_URL={shown}")), "{nats}");
    assert!(!lines.concat().contains("hunter2"), "{lines:#?}");
}

#[tokio::test]
async fn doctor_fails_naming_a_stream_with_wrong_subjects_or_replicas() {
    let nats = Nats::start();
    let js = async_nats::jetstream::new(async_nats::connect(nats.url()).await.unwrap());
    use async_nats::jetstream::stream;
    js.create_stream(stream::Config {
        name: "CONCIERGE".into(),
        subjects: vec!["concierge.conv.*".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    js.create_stream(stream::Config {
        name: "CONCIERGE_TYPING".into(),
        subjects: vec!["concierge.typing.*".into()],
        storage: stream::StorageType::Memory,
        ..Default::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();

    let (code, lines) = doctor(dir.path(), &[("NATS_URL", &nats.url())]);
    assert_eq!(code, Some(1), "{lines:#?}");
    let log = line_of(&lines, "stream CONCIERGE");
    assert!(log.starts_with("FAIL "), "{log}");
    assert!(
        log.contains("subjects [\"concierge.conv.*\"], expected"),
        "{log}"
    );
    assert!(line_of(&lines, "stream CONCIERGE_TYPING").starts_with("ok   "));
    assert!(line_of(&lines, "stream KV_CONCIERGE_LAST_SEEN").starts_with("warn "));
    let publish = line_of(&lines, "publish");
    assert!(
        publish.starts_with("FAIL ") && publish.contains("no stream takes concierge.booking."),
        "{publish}"
    );

    let (code, lines) = doctor(
        dir.path(),
        &[("NATS_URL", &nats.url()), ("STREAM_REPLICAS", "3")],
    );
    assert_eq!(code, Some(1), "{lines:#?}");
    let typing = line_of(&lines, "stream CONCIERGE_TYPING");
    assert!(
        typing.starts_with("FAIL ") && typing.contains("1 replica(s), expected STREAM_REPLICAS=3"),
        "{typing}"
    );
}

#[test]
fn doctor_with_unusable_settings_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let (code, lines) = doctor(dir.path(), &[("TYPING_STREAM_NAME", "no spaces")]);
    assert_eq!(code, Some(2), "{lines:#?}");
    assert_eq!(
        lines,
        ["FAIL settings: TYPING_STREAM_NAME must be a NATS stream name (letters, digits, - and _)"]
    );
}

/// A nats-server with JetStream and two users of one account: `node`, who may do anything, and
/// `limited`, who may use the JetStream API and publish to conversation subjects only.
struct PermissionedNats {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl PermissionedNats {
    fn start() -> PermissionedNats {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let conf = dir.path().join("nats.conf");
        std::fs::write(
            &conf,
            format!(
                r#"listen: "127.0.0.1:{port}"
jetstream {{ store_dir: "{store}" }}
accounts {{
  APP {{
    jetstream: enabled
    users: [
      {{ user: "node", password: "node-pw" }}
      {{ user: "limited", password: "limited-pw", permissions: {{
          publish: {{ allow: ["$JS.API.>", "concierge.conv.*"] }}
          subscribe: {{ allow: ["_INBOX.>"] }}
      }} }}
    ]
  }}
}}
"#,
                store = dir.path().join("store").display()
            ),
        )
        .unwrap();
        let child = Command::new("nats-server")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn nats-server");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "nats-server is not up"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        PermissionedNats {
            child,
            port,
            _dir: dir,
        }
    }

    fn url(&self, user: &str) -> String {
        format!("nats://{user}:{user}-pw@127.0.0.1:{}", self.port)
    }
}

impl Drop for PermissionedNats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn doctor_fails_naming_the_subjects_a_user_may_not_publish_or_subscribe_to() {
    let nats = PermissionedNats::start();
    let node = async_nats::ConnectOptions::with_user_and_password("node".into(), "node-pw".into())
        .connect(nats.url("node"))
        .await
        .unwrap();
    let js = async_nats::jetstream::new(node);
    let [events, typing] = concierge::log::stream_configs("CONCIERGE", "CONCIERGE_TYPING", 1);
    for config in [events, typing, concierge::log::last_seen_config(1)] {
        js.create_stream(config).await.unwrap();
    }
    let dir = tempfile::tempdir().unwrap();

    let (code, lines) = doctor(dir.path(), &[("NATS_URL", &nats.url("node"))]);
    assert_eq!(code, Some(0), "{lines:#?}");

    let (code, lines) = doctor(dir.path(), &[("NATS_URL", &nats.url("limited"))]);
    assert_eq!(code, Some(1), "{lines:#?}");
    for check in ["stream CONCIERGE", "stream CONCIERGE_TYPING"] {
        assert!(line_of(&lines, check).starts_with("ok   "), "{lines:#?}");
    }
    let publish = line_of(&lines, "publish");
    assert!(publish.starts_with("FAIL "), "{publish}");
    assert!(!publish.contains("concierge.conv."), "{publish}");
    for subject in [
        "concierge.booking.doctor-probe",
        "concierge.broadcast",
        "concierge.typing.doctor-probe",
    ] {
        assert!(
            publish.contains(&format!(
                "{subject}: NATS refused it (permissions violation)"
            )),
            "{subject}: {publish}"
        );
    }
    let subscribe = line_of(&lines, "subscribe");
    assert!(
        subscribe.starts_with("FAIL ")
            && subscribe.to_lowercase().contains("permissions violation"),
        "{subscribe}"
    );
    assert!(!lines.concat().contains("limited-pw"), "{lines:#?}");
}
