//! A webhook receiver for the tests: an HTTP server in the test process that keeps every request
//! and answers as the test says (fail the next N, or fail until told otherwise), and the settings
//! that point a node at it.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The signing secret of every test node: the Standard Webhooks specification's example (24 bytes).
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub content_type: String,
    pub body: String,
    pub json: Value,
    /// What the receiver answered.
    pub status: u16,
    pub at: Instant,
}

#[derive(Default)]
struct Script {
    requests: Mutex<Vec<Received>>,
    fail_next: AtomicUsize,
    fail_all: AtomicBool,
    hang_next: AtomicUsize,
}

pub struct Receiver {
    pub url: String,
    script: Arc<Script>,
    task: tokio::task::JoinHandle<()>,
}

async fn take(State(script): State<Arc<Script>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let header = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let failing = script.fail_all.load(Ordering::SeqCst)
        || script
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
    let status = if failing {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    };
    let hanging = script
        .hang_next
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let text = String::from_utf8_lossy(&body).to_string();
    script.requests.lock().unwrap().push(Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        content_type: header("content-type"),
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
        body: text,
        status: status.as_u16(),
        at: Instant::now(),
    });
    if hanging {
        tokio::time::sleep(HANG).await;
    }
    status
}

/// How long a hanging answer takes: longer than the 10 s an attempt may wait.
pub const HANG: Duration = Duration::from_secs(12);

impl Receiver {
    /// Listens on a free port of 127.0.0.1; answers 204 until told otherwise.
    pub async fn start() -> Receiver {
        let script = Arc::new(Script::default());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", super::free_port()))
            .await
            .expect("bind the receiver");
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/hooks", axum::routing::post(take))
            .with_state(script.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("the receiver");
        });
        Receiver { url, script, task }
    }

    /// The next `n` requests are answered 500.
    pub fn fail_next(&self, n: usize) {
        self.script.fail_next.store(n, Ordering::SeqCst);
    }

    /// The next `n` requests are answered only after [`HANG`].
    pub fn hang_next(&self, n: usize) {
        self.script.hang_next.store(n, Ordering::SeqCst);
    }

    /// Every request is answered 500 while `on`.
    pub fn fail_all(&self, on: bool) {
        self.script.fail_all.store(on, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.script.requests.lock().unwrap().clone()
    }

    /// The requests whose body's `type` is `kind`.
    pub fn of_type(&self, kind: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.json["type"] == kind)
            .collect()
    }

    /// Waits until `pred` holds of what was received; panics with it after `within`.
    pub async fn until(&self, what: &str, within: Duration, pred: impl Fn(&[Received]) -> bool) {
        let deadline = Instant::now() + within;
        loop {
            let got = self.received();
            if pred(&got) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver did not get {what} within {within:?}; it got:\n{:#?}",
                got.iter()
                    .map(|r| (&r.id, r.status, &r.json))
                    .collect::<Vec<_>>()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The environment of a node that sends webhooks to `url`: unread notifications after
/// `notify_after_secs`, a first retry after 200 ms, and `extra` last.
pub fn env(url: &str, notify_after_secs: u64, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = vec![
        ("WEBHOOK_URL".to_string(), url.to_string()),
        ("WEBHOOK_SECRET".to_string(), SECRET.to_string()),
        (
            "NOTIFY_AFTER_SECS".to_string(),
            notify_after_secs.to_string(),
        ),
        ("WEBHOOK_FIRST_RETRY_MS".to_string(), "200".to_string()),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

/// Whether `r`'s signature is HMAC-SHA256 under [`SECRET`]'s key of `id.timestamp.body`.
pub fn signed(r: &Received) -> bool {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = b64.decode(SECRET.trim_start_matches("whsec_")).unwrap();
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let Some(sig) = r.signature.strip_prefix("v1,") else {
        return false;
    };
    let Ok(sig) = b64.decode(sig) else {
        return false;
    };
    let signed = format!("{}.{}.{}", r.id, r.timestamp, r.body);
    ring::hmac::verify(&key, signed.as_bytes(), &sig).is_ok()
}

/// The Python of a venv holding the Standard Webhooks reference library, made once from
/// tests/webhooks/requirements.lock (hash-pinned) in `target/webhooks-venv`, again when the lock
/// changes. Needs `python3` with venv and PyPI (`.ci/run` installs python3-venv).
pub fn reference_python(root: &std::path::Path) -> std::path::PathBuf {
    // The tests of one binary run at once in one process: one of them makes the venv.
    static MAKING: Mutex<()> = Mutex::new(());
    let _making = MAKING.lock().unwrap_or_else(|p| p.into_inner());
    let lock = root.join("tests/webhooks/requirements.lock");
    let venv = root.join("target/webhooks-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join(".lock");
    let want = std::fs::read(&lock).expect("tests/webhooks/requirements.lock");
    if python.exists() && std::fs::read(&stamp).ok().as_deref() == Some(&want[..]) {
        return python;
    }
    let _ = std::fs::remove_dir_all(&venv);
    let run = |cmd: &mut std::process::Command| {
        let out = cmd.output().expect("run python3");
        assert!(
            out.status.success(),
            "{cmd:?}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(std::process::Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv));
    run(std::process::Command::new(venv.join("bin/pip"))
        .args([
            "install",
            "-q",
            "--disable-pip-version-check",
            "--require-hashes",
            "-r",
        ])
        .arg(&lock));
    std::fs::write(&stamp, want).expect("write the venv's stamp");
    python
}
