//! The official JavaScript `socket.io-client` 4.x against `/socket.io/` (SOCKETIO.md), driven by
//! `tests/socketio-js/e2e.mjs` under Node.js: the booking platform's front-end code, unchanged,
//! authenticates, joins, types, sends and receives, is refused with the spec's `connect_error`s,
//! and resumes after a server restart with nothing lost or repeated.
//!
//! The restart: the script prints `RESTART`; this side kills the server, sends messages as the
//! customer through a second node that shares the log (so they are written while the script's
//! sockets are disconnected), starts the server again on the same port, and answers
//! `RESTARTED {"missed": [Message, …]}` on the script's stdin.
//!
//! Needs `node` and `npm` on PATH (Debian: `apt-get install nodejs npm`); runs `npm ci` in
//! `tests/socketio-js` first when its `node_modules` is missing.

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

const BOOKING: &str = "bk_socketio_js";
const CUSTOMER: &str = "cus_socketio_js";
const ADMIN: &str = "adm_socketio_js";
/// Messages sent while the script's sockets are disconnected.
const MISSED: usize = 3;
/// The script bounds itself at 60 s; this is the backstop if it hangs anyway.
const NODE_DEADLINE: Duration = Duration::from_secs(120);

fn script_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/socketio-js")
}

/// Fails (never skips) without `node`; installs the locked `socket.io-client` when missing.
fn ensure_node_and_client(dir: &Path) {
    const INSTALL: &str = "install Node.js and npm to run this test (Debian: \
        `apt-get install -y nodejs npm`; the README's first command does it)";
    match std::process::Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => {}
        Ok(out) => panic!("`node --version` failed ({}): {INSTALL}", out.status),
        Err(e) if e.kind() == ErrorKind::NotFound => panic!("`node` is not on PATH: {INSTALL}"),
        Err(e) => panic!("cannot run `node`: {e}: {INSTALL}"),
    }
    if dir
        .join("node_modules/socket.io-client/package.json")
        .exists()
    {
        return;
    }
    let out = std::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `npm ci` in {}: {e}: {INSTALL}", dir.display()));
    assert!(
        out.status.success(),
        "`npm ci` in {} failed ({}):\n{}\n{}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What the script printed, for the failure message.
fn transcript(stdout: &[String], stderr: &Mutex<String>) -> String {
    format!(
        "----- e2e.mjs stdout -----\n{}\n----- e2e.mjs stderr -----\n{}\n----- end -----",
        stdout.join("\n"),
        stderr.lock().unwrap()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_javascript_client_chats_is_refused_and_resumes_after_a_restart() {
    let dir = script_dir();
    ensure_node_and_client(&dir);

    let nats = Nats::start();
    let mut app = App::start(&nats).await;
    // The node that takes the customer's sends while `app` is down.
    let other = App::start(&nats).await;
    data(
        register_booking(&app, BOOKING, CUSTOMER, Some("Hotel Aurora, 3 nights")).await,
        201,
    );
    let customer_token = customer(CUSTOMER, &[]);
    let conv = id_of(&created(open(&app, &customer_token, BOOKING).await));

    let mut node = Command::new("node")
        .arg(dir.join("e2e.mjs"))
        .current_dir(&dir)
        .env("CONCIERGE_URL", app.base())
        .env("CUSTOMER_TOKEN", &customer_token)
        .env("ADMIN_TOKEN", admin(ADMIN))
        .env("SERVICE_TOKEN", service())
        .env("CONVERSATION_ID", &conv)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn node");
    let mut stdin = node.stdin.take().unwrap();
    let mut lines = BufReader::new(node.stdout.take().unwrap()).lines();
    let stderr = Arc::new(Mutex::new(String::new()));
    let mut err_pipe = node.stderr.take().unwrap();
    let err_sink = stderr.clone();
    let err_task = tokio::spawn(async move {
        let mut buf = String::new();
        let _ = err_pipe.read_to_string(&mut buf).await;
        err_sink.lock().unwrap().push_str(&buf);
    });

    let mut stdout = Vec::new();
    let run = async {
        while let Some(line) = lines.next_line().await.expect("read the script's stdout") {
            let restart = line == "RESTART";
            stdout.push(line);
            if !restart {
                continue;
            }
            app.kill();
            let mut missed = Vec::new();
            for i in 1..=MISSED {
                let content = format!("sent while you were away {i}");
                missed.push(send(&other, &customer_token, &conv, &content).await);
            }
            app.restart().await;
            let answer = format!("RESTARTED {}\n", json!({ "missed": Value::from(missed) }));
            stdin
                .write_all(answer.as_bytes())
                .await
                .expect("write RESTARTED to the script");
            stdin.flush().await.unwrap();
        }
        node.wait().await.expect("wait for node")
    };
    let status = tokio::time::timeout(NODE_DEADLINE, run).await;
    let _ = node.start_kill();
    let _ = tokio::time::timeout(Duration::from_secs(5), err_task).await;
    let status = status.unwrap_or_else(|_| {
        panic!(
            "e2e.mjs did not end within {NODE_DEADLINE:?}\n{}",
            transcript(&stdout, &stderr)
        )
    });
    println!("{}", transcript(&stdout, &stderr));
    assert!(
        status.success(),
        "e2e.mjs exited with {status}\n{}",
        transcript(&stdout, &stderr)
    );
    assert_eq!(
        stdout.last().map(String::as_str),
        Some("PASS"),
        "e2e.mjs exited 0 without PASS"
    );
}
