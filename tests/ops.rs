//! Operations (API.md "Operations" and "Running the server"): `/health`, `/ready`, `/metrics`, the
//! `--dev` routes, start-up refusals, `concierge token`, a NATS that is down at start, graceful
//! SIGTERM, and the node's own local nats-server.

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::fs::File;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const EXIT_DEADLINE: Duration = Duration::from_secs(20);
const STATE_DEADLINE: Duration = Duration::from_secs(15);
const POLL: Duration = Duration::from_millis(50);

/// What a finished `concierge` process left behind.
struct Exited {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

fn concierge() -> Command {
    Command::new(env!("CARGO_BIN_EXE_concierge"))
}

/// Runs `cmd` to completion with stdout and stderr captured in files; kills it and fails the test
/// when it is still running after [`EXIT_DEADLINE`].
fn run_to_exit(mut cmd: Command) -> Exited {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("stdout");
    let err = dir.path().join("stderr");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(File::create(&out).expect("stdout file"))
        .stderr(File::create(&err).expect("stderr file"))
        .spawn()
        .expect("spawn concierge");
    let deadline = Instant::now() + EXIT_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "concierge did not exit within {EXIT_DEADLINE:?}; stderr:\n{}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(POLL);
    };
    Exited {
        status,
        stdout: std::fs::read_to_string(&out).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err).unwrap_or_default(),
    }
}

/// `concierge serve` with the environment of a test server except what the caller changes.
fn serve_cmd(data_dir: &Path) -> Command {
    let mut cmd = concierge();
    cmd.arg("serve")
        .env("PORT", free_port().to_string())
        .env("DATA_DIR", data_dir)
        .env("JWT_SECRET", JWT_SECRET)
        .env("RUST_LOG", "warn");
    cmd
}

/// A GET that reports a refused connection as `None` instead of failing the test.
async fn try_get(url: &str, token: Option<&str>) -> Option<(StatusCode, Value)> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut req = client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.ok()?;
    let status = resp.status();
    let bytes = resp.bytes().await.ok()?;
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Some((status, body))
}

/// Polls `GET path` until it answers `want`, and returns that answer; fails after `STATE_DEADLINE`.
async fn poll_until(app: &App, path: &str, want: u16) -> (StatusCode, Value) {
    let deadline = Instant::now() + STATE_DEADLINE;
    let mut last = None;
    loop {
        if let Some(r) = try_get(&app.url(path), None).await {
            if r.0.as_u16() == want {
                return r;
            }
            last = Some(r);
        }
        assert!(
            Instant::now() < deadline,
            "GET {path} did not answer {want} within {STATE_DEADLINE:?}; last answer: {last:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

#[tokio::test]
async fn health_answers_ok_without_a_token() {
    let env = TestEnv::start().await;
    let r = raw(Method::GET, &env.url("/health"), None, &[], None).await;
    assert_eq!(data((r.status, r.body), 200), json!({ "status": "ok" }));
}

#[tokio::test]
async fn ready_follows_the_event_store() {
    let mut env = TestEnv::start().await;
    let r = raw(Method::GET, &env.url("/ready"), None, &[], None).await;
    data((r.status, r.body), 200);

    env.nats.stop();
    let r = poll_until(&env.app, "/ready", 503).await;
    assert_eq!(
        error(r, 503, "unavailable"),
        "not ready: not connected to NATS"
    );
    let r = raw(Method::GET, &env.url("/health"), None, &[], None).await;
    data((r.status, r.body), 200);

    env.nats.start_again();
    let r = poll_until(&env.app, "/ready", 200).await;
    data(r, 200);
}

#[tokio::test]
async fn metrics_expose_requests_publishes_and_folding() {
    let env = TestEnv::start().await;
    let app = &env.app;
    data(register_booking(app, "bk_1", "cus_ann", None).await, 201);
    let ann = customer("cus_ann", &[]);
    let conv = id_of(&created(open(app, &ann, "bk_1").await));
    send(app, &ann, &conv, "hello").await;
    for _ in 0..3 {
        let r = get(&app.url("/messaging/conversations"), &admin("adm_1")).await;
        data(r, 200);
    }

    let r = raw(Method::GET, &app.url("/metrics"), None, &[], None).await;
    assert_eq!(r.status, StatusCode::OK);
    let content_type = r.headers["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/plain"),
        "content-type {content_type}"
    );
    let text = r.body.as_str().expect("metrics are text, not JSON");
    for name in [
        "concierge_http_requests_total",
        "concierge_http_request_duration_seconds",
        "concierge_publish_duration_seconds",
        "concierge_events_folded_total",
        "concierge_projection_lag",
    ] {
        assert!(text.contains(name), "{name} missing from /metrics:\n{text}");
    }
    let listed = text.lines().find(|l| {
        l.starts_with("concierge_http_requests_total{")
            && l.contains(r#"route="/messaging/conversations""#)
            && l.contains(r#"method="GET""#)
            && l.contains(r#"status="200""#)
    });
    let listed = listed.unwrap_or_else(|| {
        panic!("no request counter for GET /messaging/conversations 200:\n{text}")
    });
    let count: f64 = listed.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 3.0, "counted {count}: {listed}");
}

#[tokio::test]
async fn dev_routes_exist_only_in_dev_mode() {
    let nats = Nats::start();
    let dev = App::start_with(
        &nats,
        AppOptions {
            dev: true,
            ..Default::default()
        },
    )
    .await;
    let r = raw(
        Method::POST,
        &dev.url("/test/test-messaging"),
        None,
        &[],
        None,
    )
    .await;
    let d = data((r.status, r.body), 201);
    let booking = d["booking"]["bookingId"].as_str().expect("bookingId");
    assert_eq!(d["conversation"]["relatedBooking"], json!(booking));
    assert_eq!(d["message"]["conversationId"], d["conversation"]["id"]);
    assert_ulid(&d["message"]["id"]);
    // It went through the log like any write: an admin sees the conversation.
    let listed = data(
        get(&dev.url("/messaging/conversations"), &admin("adm_1")).await,
        200,
    );
    assert_eq!(
        ids(&listed["conversations"]),
        vec![id_of(&d["conversation"])]
    );
    let r = raw(
        Method::GET,
        &dev.url("/test/socket-status"),
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(
        data((r.status, r.body), 200),
        json!({ "initialized": true, "connections": 0, "onlineUsers": [] })
    );

    let prod = App::start(&nats).await;
    let r = raw(
        Method::POST,
        &prod.url("/test/test-messaging"),
        None,
        &[],
        None,
    )
    .await;
    error((r.status, r.body), 404, "not_found");
    let r = raw(
        Method::GET,
        &prod.url("/test/socket-status"),
        None,
        &[],
        None,
    )
    .await;
    error((r.status, r.body), 404, "not_found");
}

#[test]
fn serve_without_jwt_secret_exits_2_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = serve_cmd(&dir.path().join("data"));
    cmd.env_remove("JWT_SECRET")
        .env("NATS_URL", "nats://127.0.0.1:1");
    let out = run_to_exit(cmd);
    assert_eq!(out.status.code(), Some(2), "stderr: {}", out.stderr);
    assert!(out.stderr.contains("JWT_SECRET"), "stderr: {}", out.stderr);
}

#[test]
fn token_command_signs_with_jwt_secret() {
    let mut cmd = concierge();
    cmd.args([
        "token",
        "--sub",
        "cus_7",
        "--role",
        "customer",
        "--name",
        "Ann",
        "--bookings",
        "bk_1,bk_2",
        "--ttl",
        "600",
    ])
    .env("JWT_SECRET", JWT_SECRET);
    let before = now_secs();
    let out = run_to_exit(cmd);
    assert!(out.status.success(), "stderr: {}", out.stderr);
    let token = out.stdout.trim();

    let validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    let decoded = jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(JWT_SECRET.as_bytes()),
        &validation,
    )
    .expect("the token verifies against JWT_SECRET");
    assert_eq!(decoded.header.alg, jsonwebtoken::Algorithm::HS256);
    let c = decoded.claims;
    assert_eq!(c["sub"], json!("cus_7"));
    assert_eq!(c["role"], json!("customer"));
    assert_eq!(c["name"], json!("Ann"));
    assert_eq!(c["bookings"], json!(["bk_1", "bk_2"]));
    let exp = c["exp"].as_u64().expect("exp");
    assert!(
        (before + 600..=now_secs() + 600).contains(&exp),
        "exp {exp}"
    );
    assert!(
        jsonwebtoken::decode::<Value>(
            token,
            &jsonwebtoken::DecodingKey::from_secret(b"another-secret"),
            &validation,
        )
        .is_err(),
        "the token must not verify against another secret"
    );

    let mut cmd = concierge();
    cmd.args(["token", "--sub", "cus_7", "--role", "root"])
        .env("JWT_SECRET", JWT_SECRET);
    let out = run_to_exit(cmd);
    assert!(!out.status.success(), "a bad role must fail");
    assert!(
        out.stdout.trim().is_empty(),
        "printed a token: {}",
        out.stdout
    );

    let mut cmd = concierge();
    cmd.args(["token", "--sub", "cus_7", "--role", "admin"])
        .env_remove("JWT_SECRET");
    let out = run_to_exit(cmd);
    assert!(!out.status.success(), "no secret must fail");
    assert!(out.stderr.contains("JWT_SECRET"), "stderr: {}", out.stderr);
}

#[tokio::test]
async fn a_node_whose_nats_is_down_at_start_starts_and_recovers_without_restart() {
    // A port that held a NATS a moment ago and now has nothing listening; the same NATS comes
    // back on it later.
    let mut nats = Nats::start();
    nats.stop();
    let app = App::spawn_with(&nats.url(), AppOptions::default());

    let r = poll_until(&app, "/health", 200).await;
    assert_eq!(data(r, 200), json!({ "status": "ok" }));
    let r = raw(Method::GET, &app.url("/ready"), None, &[], None).await;
    error((r.status, r.body), 503, "unavailable");
    let listed = data(
        get(&app.url("/messaging/conversations"), &admin("adm_1")).await,
        200,
    );
    assert_eq!(listed["conversations"], json!([]));
    assert_eq!(listed["pagination"]["total"], json!(0));
    error(
        register_booking(&app, "bk_1", "cus_ann", Some("Suite")).await,
        503,
        "unavailable",
    );

    nats.start_again();
    let r = poll_until(&app, "/ready", 200).await;
    data(r, 200);
    let d = data(
        register_booking(&app, "bk_1", "cus_ann", Some("Suite")).await,
        201,
    );
    assert_eq!(
        d,
        json!({ "bookingId": "bk_1", "customerId": "cus_ann", "title": "Suite" })
    );
    // The refused attempt wrote nothing: the registration above was the first.
    let c = created(open(&app, &customer("cus_ann", &[]), "bk_1").await);
    assert_eq!(c["title"], json!("Suite"));
}

#[tokio::test]
async fn sigterm_exits_zero() {
    let mut env = TestEnv::start().await;
    data(
        register_booking(&env.app, "bk_1", "cus_ann", None).await,
        201,
    );
    let status = env.app.terminate();
    assert!(status.success(), "exit status {status}");
}

/// The port of the local nats-server a node without `NATS_URL` logged (at `info`).
fn local_nats_port(log: &str) -> Option<u16> {
    let at = log.find("nats://127.0.0.1:")? + "nats://127.0.0.1:".len();
    let digits: String = log[at..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[tokio::test]
async fn without_nats_url_the_node_runs_its_own_persistent_nats() {
    let opts = AppOptions {
        extra_env: vec![("RUST_LOG".into(), "info".into())],
        ..Default::default()
    };
    // An empty NATS_URL is no NATS_URL.
    let mut app = App::spawn_with("", opts);
    app.wait_ready().await;
    let nats_port = local_nats_port(&app.log())
        .unwrap_or_else(|| panic!("no local nats URL in the log:\n{}", app.log()));

    // A token from `concierge token` works against the server.
    let mut cmd = concierge();
    cmd.args(["token", "--sub", "booking-platform", "--role", "service"])
        .env("JWT_SECRET", JWT_SECRET);
    let out = run_to_exit(cmd);
    assert!(out.status.success(), "stderr: {}", out.stderr);
    let service_token = out.stdout.trim().to_string();
    let url = app.url("/messaging/bookings/bk_1");
    let body = json!({ "customerId": "cus_ann", "title": "Suite" });
    data(put(&url, &service_token, &body).await, 201);
    let c = created(open(&app, &customer("cus_ann", &[]), "bk_1").await);
    send(&app, &customer("cus_ann", &[]), &id_of(&c), "hello").await;

    let status = app.terminate();
    assert!(status.success(), "exit status {status}");
    assert!(
        TcpStream::connect(("127.0.0.1", nats_port)).is_err(),
        "the local nats-server on port {nats_port} outlived the node"
    );

    // Throw the views away so that the next start can only know the booking from the log that
    // the local nats-server kept under DATA_DIR.
    std::fs::remove_dir_all(app.data_dir().join("views")).expect("remove the views");
    app.restart().await;
    data(put(&url, &service_token, &body).await, 200);
    let again = data(open(&app, &customer("cus_ann", &[]), "bk_1").await, 200);
    assert_eq!(again["id"], c["id"]);
    assert_eq!(again["lastMessage"]["content"], json!("hello"));
    let status = app.terminate();
    assert!(status.success(), "exit status {status}");
}

#[test]
fn without_nats_url_and_without_nats_server_on_path_it_exits_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let empty_bin = dir.path().join("bin");
    std::fs::create_dir(&empty_bin).unwrap();
    let mut cmd = serve_cmd(&dir.path().join("data"));
    cmd.env_remove("NATS_URL").env("PATH", &empty_bin);
    let out = run_to_exit(cmd);
    assert!(
        !out.status.success(),
        "started without nats-server: {}",
        out.status
    );
    assert!(out.stderr.contains("nats-server"), "stderr: {}", out.stderr);
    assert!(
        out.stderr.contains("apt-get install -y nats-server"),
        "stderr: {}",
        out.stderr
    );
}

#[tokio::test]
async fn log_format_json_writes_every_line_as_one_json_object_without_secrets() {
    let mut env = TestEnv::start_with(AppOptions {
        extra_env: vec![
            ("LOG_FORMAT".into(), "json".into()),
            ("RUST_LOG".into(), "info".into()),
        ],
        ..AppOptions::default()
    })
    .await;
    let ann = customer("cus_ann", &["bk_1"]);
    let conv = id_of(&created(open(&env.app, &ann, "bk_1").await));
    send(&env.app, &ann, &conv, "hello").await;
    assert!(env.app.terminate().success());

    let log = env.app.log();
    let mut messages = Vec::new();
    for line in log.lines().filter(|l| !l.trim().is_empty()) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"));
        assert!(v["level"].is_string(), "no level: {line}");
        assert!(
            v["timestamp"].as_str().is_some_and(|t| t.contains('T')),
            "no timestamp: {line}"
        );
        let message = v["fields"]["message"].as_str();
        messages.push(
            message
                .unwrap_or_else(|| panic!("no fields.message: {line}"))
                .to_string(),
        );
    }
    assert!(messages.iter().any(|m| m == "concierge listening"), "{log}");
    assert!(messages.iter().any(|m| m == "stopped cleanly"), "{log}");
    assert!(
        !log.contains(JWT_SECRET),
        "the secret is in the log:\n{log}"
    );
}

/// Every `concierge_…` name in the PromQL expressions of the dashboard.
fn dashboard_metrics() -> std::collections::BTreeSet<String> {
    fn exprs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("expr", Value::String(e)) => out.push(e.clone()),
                        _ => exprs(v, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| exprs(v, out)),
            _ => {}
        }
    }
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/grafana-dashboard.json");
    let dashboard: Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).expect("dashboard JSON");
    let mut all = Vec::new();
    exprs(&dashboard, &mut all);
    assert!(all.len() > 10, "{} expressions", all.len());
    let mut names = std::collections::BTreeSet::new();
    for e in &all {
        let mut rest = e.as_str();
        while let Some(i) = rest.find("concierge_") {
            let name: String = rest[i..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            rest = &rest[i + name.len()..];
            names.insert(name);
        }
    }
    names
}

#[tokio::test]
async fn the_dashboard_names_only_metrics_that_metrics_serves() {
    let wanted = dashboard_metrics();
    let env = TestEnv::start().await;
    let app = &env.app;
    let ann = customer("cus_ann", &["bk_1"]);
    let conv = id_of(&created(open(app, &ann, "bk_1").await));
    send(app, &ann, &conv, "hello").await;
    data(
        get(&app.url("/messaging/conversations"), &admin("adm_1")).await,
        200,
    );

    // Sample names as served, `_bucket`, `_sum` and `_count` included, with the type of each
    // family; the views are persisted a moment after the writes.
    let deadline = Instant::now() + STATE_DEADLINE;
    let (served, missing) = loop {
        let r = raw(Method::GET, &app.url("/metrics"), None, &[], None).await;
        let text = r.body.as_str().expect("metrics are text").to_string();
        let mut served = std::collections::BTreeMap::new();
        for line in text.lines() {
            if let Some(t) = line.strip_prefix("# TYPE ") {
                let mut parts = t.split(' ');
                let family = parts.next().unwrap().to_string();
                served.insert(family, parts.next().unwrap().to_string());
            }
        }
        let missing: Vec<String> = wanted
            .iter()
            .filter(|name| {
                let family = ["_bucket", "_sum", "_count"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s).filter(|f| served.contains_key(*f)));
                match family {
                    Some(f) if name.ends_with("_bucket") => served[f] != "histogram",
                    Some(_) => false,
                    None => !served.contains_key(name.as_str()),
                }
            })
            .cloned()
            .collect();
        if missing.is_empty() || Instant::now() >= deadline {
            break (served, missing);
        }
        tokio::time::sleep(POLL).await;
    };
    assert!(
        missing.is_empty(),
        "the dashboard names {missing:?}, which /metrics does not serve: {served:#?}"
    );
}

/// `deploy/concierge.service`'s `key=value` lines, in order.
fn unit_settings() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/concierge.service");
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('['))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[test]
fn the_systemd_unit_runs_serve_hardened_with_time_to_drain() {
    let settings = unit_settings();
    let get = |key: &str| -> Vec<&str> {
        settings
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    };
    let one = |key: &str| -> &str {
        let values = get(key);
        assert_eq!(values.len(), 1, "{key}: {values:?}");
        values[0]
    };
    assert_eq!(one("ExecStart"), "/usr/local/bin/concierge serve");
    assert_eq!(one("EnvironmentFile"), "/etc/concierge/env");
    assert_eq!(one("Restart"), "on-failure");
    assert_eq!(one("KillSignal"), "SIGTERM");
    assert!(!["", "root"].contains(&one("User")), "a dedicated user");
    // Longer than DRAIN_SECS (30 by default) plus flushing the views.
    let stop: u64 = one("TimeoutStopSec").parse().unwrap();
    assert!(stop > 30, "TimeoutStopSec={stop}");
    let files: u64 = one("LimitNOFILE").parse().unwrap();
    assert!(files >= 65_536, "LimitNOFILE={files}");
    for (key, want) in [
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
    ] {
        assert_eq!(one(key), want, "{key}");
    }
    let data_dir = get("Environment")
        .iter()
        .find_map(|v| v.strip_prefix("DATA_DIR="))
        .expect("Environment=DATA_DIR=…")
        .to_string();
    assert!(
        one("ReadWritePaths").split(' ').any(|p| p == data_dir),
        "ReadWritePaths must hold DATA_DIR {data_dir}"
    );

    // systemd's own check, where systemd is installed, with this build as the binary.
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/concierge.service"),
    )
    .unwrap()
    .replace("/usr/local/bin/concierge", env!("CARGO_BIN_EXE_concierge"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("concierge.service");
    std::fs::write(&path, unit).unwrap();
    match Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
    {
        Ok(out) => assert!(
            out.status.success() && out.stderr.is_empty(),
            "systemd-analyze verify: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => eprintln!("systemd-analyze is not available ({e}); only the keys were checked"),
    }
}
