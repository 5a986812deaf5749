//! The views at rest under `VIEWS_KEY` (docs/security.md, "What is encrypted where"): no message's
//! words in the views' files, everything read back after a restart, a changed key refolds the views
//! from the log, and a malformed key stops the server at start with exit status 2.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const KEY: &str = "6f1c2a9d0b4e8f7a3c5d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b";
const OTHER_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fn sealed(data_dir: &Path, key: &str) -> AppOptions {
    AppOptions {
        data_dir: Some(data_dir.to_path_buf()),
        extra_env: vec![("VIEWS_KEY".into(), key.into())],
        ..AppOptions::default()
    }
}

/// Every file under `dir`, read whole.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((path.clone(), std::fs::read(&path).unwrap_or_default()));
            }
        }
    }
    out
}

fn holding(dir: &Path, words: &str) -> Vec<PathBuf> {
    files(dir)
        .into_iter()
        .filter(|(_, bytes)| bytes.windows(words.len()).any(|w| w == words.as_bytes()))
        .map(|(p, _)| p)
        .collect()
}

async fn messages(app: &App, token: &str, conv: &str) -> Vec<String> {
    data(get(&messages_url(app, conv), token).await, 200)["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn sealed_views_keep_no_words_on_disk_and_read_back_after_restarts() {
    let nats = Nats::start();
    let root = tempfile::tempdir().unwrap();
    let (plain_dir, sealed_dir) = (root.path().join("plain"), root.path().join("sealed"));
    let ann = customer("cus_ann", &[]);
    let words = "the door code is 4711";

    let mut plain = App::start_with(
        &nats,
        AppOptions {
            data_dir: Some(plain_dir.clone()),
            ..AppOptions::default()
        },
    )
    .await;
    let mut app = App::start_with(&nats, sealed(&sealed_dir, KEY)).await;
    data(register_booking(&app, "bk_1", "cus_ann", None).await, 201);
    let conv = id_of(&created(open(&app, &ann, "bk_1").await));
    send(&app, &ann, &conv, words).await;
    common::log::eventually("the plain node to fold the message", || async {
        messages(&plain, &ann, &conv).await == [words]
    })
    .await;
    // A clean stop writes every view to disk.
    assert!(plain.terminate().success());
    assert!(app.terminate().success());
    assert!(
        !holding(&plain_dir.join("views"), words).is_empty(),
        "without VIEWS_KEY the views hold the words"
    );
    assert_eq!(
        holding(&sealed_dir.join("views"), words),
        Vec::<PathBuf>::new()
    );

    // The same key reads the views back as they were.
    let mut app = App::start_with(&nats, sealed(&sealed_dir, KEY)).await;
    assert_eq!(messages(&app, &ann, &conv).await, [words]);
    assert!(!app.log().contains("were wiped"), "{}", app.log());
    assert!(app.terminate().success());

    // Another key: the views are wiped and folded again from the log, so nothing is lost.
    let app = App::start_with(&nats, sealed(&sealed_dir, OTHER_KEY)).await;
    assert_eq!(messages(&app, &ann, &conv).await, [words]);
    assert!(
        app.log()
            .contains("VIEWS_KEY was set, changed or removed: the views were wiped"),
        "{}",
        app.log()
    );
}

#[test]
fn a_malformed_views_key_stops_the_server_at_start() {
    let dir = tempfile::tempdir().unwrap();
    for key in ["abc", &"g".repeat(64), &format!("{KEY}00")] {
        let out = Command::new(env!("CARGO_BIN_EXE_concierge"))
            .arg("serve")
            .env("PORT", free_port().to_string())
            .env("DATA_DIR", dir.path())
            .env("JWT_SECRET", JWT_SECRET)
            .env("NATS_URL", "nats://127.0.0.1:1")
            .env("VIEWS_KEY", key)
            .stdin(Stdio::null())
            .output()
            .expect("run concierge serve");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}: {stderr}");
        assert_eq!(
            stderr.trim(),
            "error: VIEWS_KEY must be 64 hex digits (32 bytes, e.g. `openssl rand -hex 32`)"
        );
        assert!(!stderr.contains(key), "the value is not echoed");
    }
}
