//! Shared harness for the HTTP integration tests.
//!
//! Every test gets its own disposable `nats-server` (JetStream on, store in a tempdir, a free port)
//! and its own `concierge serve` process pointed at it, so tests run in parallel without sharing
//! state. Readiness is polled with deadlines, never assumed after a fixed sleep. Processes are
//! killed and their directories removed on `Drop`; when a test panics the server's log is printed.
#![allow(dead_code)]

pub mod cluster;
pub mod files;
pub mod fixtures;
pub mod log;
pub mod secure;
pub mod sio;
pub mod webhooks;
pub mod ws;

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;

/// The HS256 secret every test server is started with and every test token is signed with.
pub const JWT_SECRET: &str = "test-secret";
/// The origin the test servers allow for CORS.
pub const CLIENT_URL: &str = "http://localhost:5173";

const NATS_DEADLINE: Duration = Duration::from_secs(10);
const READY_DEADLINE: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(20);

/// A port that was free a moment ago, below Linux's ephemeral range (32768–60999): a port from
/// that range, released by a server a test restarts, can meanwhile become the local port of one
/// of the many client connections the tests make, and the restart then cannot bind it.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    let mut pick =
        nanos ^ (u64::from(std::process::id()) << 20) ^ CALLS.fetch_add(1, Ordering::Relaxed);
    loop {
        // 10000..32000: a step of 7919 (prime) walks the whole range.
        let port = 10_000 + (pick % 22_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
        pick = pick.wrapping_add(7919);
    }
}

fn log_file(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open log file")
}

fn read_log(path: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = File::open(path) {
        let _ = f.read_to_string(&mut s);
    }
    s
}

fn tail(s: &str, lines: usize) -> String {
    let all: Vec<&str> = s.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

// ---------------------------------------------------------------------------------------------
// NATS
// ---------------------------------------------------------------------------------------------

/// A disposable JetStream-enabled nats-server.
pub struct Nats {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
}

impl Nats {
    /// Starts `nats-server -js` on a free port with its store in a fresh tempdir and waits until
    /// the port accepts TCP connections.
    pub fn start() -> Nats {
        let dir = tempfile::Builder::new()
            .prefix("concierge-nats-")
            .tempdir()
            .expect("tempdir");
        let mut nats = Nats {
            child: None,
            port: free_port(),
            dir,
        };
        nats.spawn();
        nats
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "nats-server is already running");
        let log = self.dir.path().join("nats.log");
        let child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p"])
            .arg(self.port.to_string())
            .arg("-sd")
            .arg(self.dir.path().join("store"))
            .stdin(Stdio::null())
            .stdout(log_file(&log))
            .stderr(log_file(&log))
            .spawn()
            .expect("spawn nats-server (is it on PATH?)");
        self.child = Some(child);
        let deadline = Instant::now() + NATS_DEADLINE;
        loop {
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().expect("try_wait") {
                panic!(
                    "nats-server exited with {status} before accepting connections:\n{}",
                    read_log(&log)
                );
            }
            assert!(
                Instant::now() < deadline,
                "nats-server did not accept connections on port {} within {:?}:\n{}",
                self.port,
                NATS_DEADLINE,
                read_log(&log)
            );
            std::thread::sleep(POLL);
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Purges the `CONCIERGE` stream: the log keeps nothing of what was written before.
    pub async fn purge_log(&self) {
        let nats = async_nats::connect(self.url())
            .await
            .expect("connect to NATS");
        async_nats::jetstream::new(nats)
            .get_stream("CONCIERGE")
            .await
            .expect("the stream")
            .purge()
            .await
            .expect("purge");
    }

    /// Kills the server and waits for it; the store is kept for `start_again`.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same store.
    pub fn start_again(&mut self) {
        self.spawn();
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.stop();
    }
}

// ---------------------------------------------------------------------------------------------
// The server under test
// ---------------------------------------------------------------------------------------------

/// How to start the server under test.
#[derive(Clone, Debug, Default)]
pub struct AppOptions {
    /// Pass `--dev` (mounts the test routes).
    pub dev: bool,
    /// `SEND_RATE_LIMIT`; `None` means 0 (off).
    pub send_rate_limit: Option<u32>,
    /// Use this `DATA_DIR` instead of a fresh one inside the app's tempdir.
    pub data_dir: Option<PathBuf>,
    /// More environment variables, applied last (they override the defaults above).
    pub extra_env: Vec<(String, String)>,
}

/// A running `concierge serve` process.
pub struct App {
    child: Option<Child>,
    port: u16,
    nats_url: String,
    opts: AppOptions,
    data_dir: PathBuf,
    log: PathBuf,
    dir: TempDir,
}

impl App {
    /// Starts the server against `nats` with the default options and waits for `/ready`.
    pub async fn start(nats: &Nats) -> App {
        App::start_with(nats, AppOptions::default()).await
    }

    /// Starts the server against `nats` and waits until `GET /ready` answers 200.
    pub async fn start_with(nats: &Nats, opts: AppOptions) -> App {
        let mut app = App::spawn_with(&nats.url(), opts);
        app.wait_ready().await;
        app
    }

    /// Starts the server without waiting for readiness (for tests of start-up itself).
    pub fn spawn_with(nats_url: &str, opts: AppOptions) -> App {
        let dir = tempfile::Builder::new()
            .prefix("concierge-app-")
            .tempdir()
            .expect("tempdir");
        let data_dir = opts
            .data_dir
            .clone()
            .unwrap_or_else(|| dir.path().join("data"));
        let mut app = App {
            child: None,
            port: free_port(),
            nats_url: nats_url.to_string(),
            opts,
            data_dir,
            log: dir.path().join("concierge.log"),
            dir,
        };
        app.spawn();
        app
    }

    fn spawn(&mut self) {
        assert!(self.child.is_none(), "the server is already running");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_concierge"));
        cmd.arg("serve");
        if self.opts.dev {
            cmd.arg("--dev");
        }
        cmd.env("PORT", self.port.to_string())
            .env("DATA_DIR", &self.data_dir)
            .env("NATS_URL", &self.nats_url)
            .env("JWT_SECRET", JWT_SECRET)
            .env(
                "SEND_RATE_LIMIT",
                self.opts.send_rate_limit.unwrap_or(0).to_string(),
            )
            .env("CLIENT_URL", CLIENT_URL)
            .env("RUST_LOG", "warn");
        for (k, v) in &self.opts.extra_env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(log_file(&self.log))
            .stderr(log_file(&self.log))
            .spawn()
            .expect("spawn concierge");
        self.child = Some(child);
    }

    /// Polls `GET /ready` until it answers 200; panics with the log after 20 s or if the process exits.
    pub async fn wait_ready(&mut self) {
        self.wait_ready_within(READY_DEADLINE).await;
    }

    /// [`App::wait_ready`] with its own deadline, for a start that first folds a large log (`/ready`
    /// waits for every projection to catch up, which a debug build on a busy machine does slowly).
    pub async fn wait_ready_within(&mut self, limit: Duration) {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let url = self.url("/ready");
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(r) = client.get(&url).send().await {
                if r.status() == StatusCode::OK {
                    return;
                }
            }
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait().expect("try_wait") {
                    self.child = None;
                    panic!(
                        "concierge exited with {status} before it was ready:\n{}",
                        self.log()
                    );
                }
            }
            assert!(
                Instant::now() < deadline,
                "concierge was not ready within {limit:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The NATS this app uses, for tests that write to or read the log directly.
    pub fn nats_url(&self) -> &str {
        &self.nats_url
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `base()` followed by `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base(), path)
    }

    /// `GET /test/socket-status` of a dev server: its sockets and the users it holds online.
    pub async fn socket_status(&self) -> Value {
        let r = raw(
            reqwest::Method::GET,
            &self.url("/test/socket-status"),
            None,
            &[],
            None,
        )
        .await;
        data((r.status, r.body), 200)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Everything the process wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        read_log(&self.log)
    }

    /// SIGKILL, then reap.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then wait (up to 20 s, after which it is killed and the test fails).
    pub fn terminate(&mut self) -> ExitStatus {
        let mut child = self.child.take().expect("the server is not running");
        // SAFETY: plain kill(2) on a child we spawned and have not reaped yet.
        let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0, "kill(SIGTERM) failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "concierge did not exit within 20 s of SIGTERM:\n{}",
                    self.log()
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// SIGTERM, without waiting (the drain tests watch the node while it drains).
    pub fn sigterm(&self) {
        let child = self.child.as_ref().expect("the server is not running");
        // SAFETY: plain kill(2) on a child we spawned and have not reaped yet.
        let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        assert_eq!(rc, 0, "kill(SIGTERM) failed");
    }

    /// The exit status once the process exits within `within`; `None` if it still runs then.
    pub async fn exited_within(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            let child = self.child.as_mut().expect("the server is not running");
            if let Some(status) = child.try_wait().expect("try_wait") {
                self.child = None;
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Kills the process if it runs, starts it again with the same `DATA_DIR` and port, and waits
    /// for `/ready`.
    pub async fn restart(&mut self) {
        self.kill();
        self.spawn();
        self.wait_ready().await;
    }

    /// Kills the process if it runs and starts it again with the same `DATA_DIR` and port, without
    /// waiting for `/ready` (for tests of start-up itself).
    pub fn respawn(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Like `restart`, on a new port.
    pub async fn restart_on_new_port(&mut self) {
        self.kill();
        self.port = free_port();
        self.spawn();
        self.wait_ready().await;
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "----- concierge log ({}) -----\n{}\n----- end of log -----",
                self.dir.path().display(),
                tail(&self.log(), 200)
            );
        }
    }
}

/// One NATS and one server, dropped in that order (server first).
pub struct TestEnv {
    pub app: App,
    pub nats: Nats,
}

impl TestEnv {
    pub async fn start() -> TestEnv {
        TestEnv::start_with(AppOptions::default()).await
    }

    pub async fn start_with(opts: AppOptions) -> TestEnv {
        let nats = Nats::start();
        let app = App::start_with(&nats, opts).await;
        TestEnv { app, nats }
    }

    pub fn url(&self, path: &str) -> String {
        self.app.url(path)
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Signs arbitrary claims with the harness secret (HS256).
pub fn sign(claims: &Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .expect("encode token")
}

/// An HS256 token valid for an hour.
pub fn token(sub: &str, role: &str, name: Option<&str>, bookings: &[&str]) -> String {
    let mut claims = json!({ "sub": sub, "role": role, "exp": now_secs() + 3600 });
    if let Some(name) = name {
        claims["name"] = json!(name);
    }
    if !bookings.is_empty() {
        claims["bookings"] = json!(bookings);
    }
    sign(&claims)
}

pub fn customer(sub: &str, bookings: &[&str]) -> String {
    token(sub, "customer", None, bookings)
}

pub fn admin(sub: &str) -> String {
    token(sub, "admin", None, &[])
}

pub fn service() -> String {
    token("booking-platform", "service", None, &[])
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/// A full response, for tests that look at headers.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("reqwest client")
}

/// Sends one request. `body` is sent as-is with the given extra headers (set `content-type`
/// yourself). A body that is not JSON comes back as a JSON string.
pub async fn raw(
    method: Method,
    url: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Resp {
    let mut req = client().request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let resp = req
        .send()
        .await
        .unwrap_or_else(|e| panic!("request to {url} failed: {e}"));
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.bytes().await.expect("read body");
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    Resp {
        status,
        headers,
        body,
    }
}

async fn with_json(
    method: Method,
    url: &str,
    token: &str,
    body: Option<&Value>,
) -> (StatusCode, Value) {
    let (headers, bytes): (&[(&str, &str)], _) = match body {
        Some(b) => (
            &[("content-type", "application/json")],
            Some(serde_json::to_vec(b).unwrap()),
        ),
        None => (&[], None),
    };
    let r = raw(method, url, Some(token), headers, bytes).await;
    (r.status, r.body)
}

pub async fn get(url: &str, token: &str) -> (StatusCode, Value) {
    with_json(Method::GET, url, token, None).await
}

pub async fn post(url: &str, token: &str, body: &Value) -> (StatusCode, Value) {
    with_json(Method::POST, url, token, Some(body)).await
}

pub async fn put(url: &str, token: &str, body: &Value) -> (StatusCode, Value) {
    with_json(Method::PUT, url, token, Some(body)).await
}

/// A PUT without a body (route 5).
pub async fn put_empty(url: &str, token: &str) -> (StatusCode, Value) {
    with_json(Method::PUT, url, token, None).await
}

pub async fn patch(url: &str, token: &str, body: &Value) -> (StatusCode, Value) {
    with_json(Method::PATCH, url, token, Some(body)).await
}

pub async fn delete(url: &str, token: &str) -> (StatusCode, Value) {
    with_json(Method::DELETE, url, token, None).await
}

/// Asserts a success envelope with `status` and returns its `data`.
#[track_caller]
pub fn data(resp: (StatusCode, Value), status: u16) -> Value {
    let (got, body) = resp;
    assert_eq!(got.as_u16(), status, "unexpected status; body: {body}");
    assert_eq!(
        body["success"],
        json!(true),
        "not a success envelope: {body}"
    );
    assert!(
        body["message"].is_string(),
        "envelope without message: {body}"
    );
    body["data"].clone()
}

/// Asserts an error envelope with `status` and `error` code and returns its `message`.
#[track_caller]
pub fn error(resp: (StatusCode, Value), status: u16, code: &str) -> String {
    let (got, body) = resp;
    assert_eq!(got.as_u16(), status, "unexpected status; body: {body}");
    assert_eq!(
        body["success"],
        json!(false),
        "not an error envelope: {body}"
    );
    assert_eq!(body["error"], json!(code), "unexpected error code: {body}");
    let message = body["message"]
        .as_str()
        .unwrap_or_else(|| panic!("error envelope without message: {body}"))
        .to_string();
    assert!(!message.is_empty(), "empty error message: {body}");
    message
}

/// Asserts a 400 `validation_failed` whose message names `field` (compared case-insensitively).
#[track_caller]
pub fn invalid(resp: (StatusCode, Value), field: &str) {
    let message = error(resp, 400, "validation_failed");
    assert!(
        message.to_lowercase().contains(&field.to_lowercase()),
        "validation message {message:?} does not name the field {field:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Domain helpers
// ---------------------------------------------------------------------------------------------

/// `PUT /messaging/bookings/:id` with a service token; returns the raw response.
pub async fn register_booking(
    app: &App,
    booking: &str,
    customer_id: &str,
    title: Option<&str>,
) -> (StatusCode, Value) {
    let mut body = json!({ "customerId": customer_id });
    if let Some(t) = title {
        body["title"] = json!(t);
    }
    put(
        &app.url(&format!("/messaging/bookings/{booking}")),
        &service(),
        &body,
    )
    .await
}

/// `GET /messaging/conversations/booking/:id`.
pub async fn open(app: &App, token: &str, booking: &str) -> (StatusCode, Value) {
    get(
        &app.url(&format!("/messaging/conversations/booking/{booking}")),
        token,
    )
    .await
}

/// Opens a booking's conversation and asserts it was created (201); returns the Conversation.
#[track_caller]
pub fn created(resp: (StatusCode, Value)) -> Value {
    data(resp, 201)
}

/// The conversation id of a Conversation value.
pub fn id_of(v: &Value) -> String {
    v["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id in {v}"))
        .to_string()
}

pub fn conv_url(app: &App, conv: &str) -> String {
    app.url(&format!("/messaging/conversations/{conv}"))
}

pub fn messages_url(app: &App, conv: &str) -> String {
    app.url(&format!("/messaging/conversations/{conv}/messages"))
}

/// `GET /messaging/conversations/:id` expecting 200; returns the Conversation.
pub async fn conversation(app: &App, token: &str, conv: &str) -> Value {
    let r = get(&conv_url(app, conv), token).await;
    data(r, 200)
}

/// `POST …/messages` with a body.
pub async fn send_body(app: &App, token: &str, conv: &str, body: &Value) -> (StatusCode, Value) {
    post(&messages_url(app, conv), token, body).await
}

/// Sends a text message, asserts 201 and returns the Message.
pub async fn send(app: &App, token: &str, conv: &str, content: &str) -> Value {
    let r = send_body(app, token, conv, &json!({ "content": content })).await;
    data(r, 201)
}

/// `GET …/messages?<query>` expecting 200; returns `data`.
pub async fn list_messages(app: &App, token: &str, conv: &str, query: &str) -> Value {
    let r = get(&format!("{}?{}", messages_url(app, conv), query), token).await;
    data(r, 200)
}

/// The `id`s of an array of objects.
pub fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(id_of)
        .collect()
}

/// The `content`s of an array of messages.
pub fn contents(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not an array: {list}"))
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default().to_string())
        .collect()
}

/// Waits long enough that the next server timestamp (millisecond resolution) differs from the last.
/// Not a readiness wait: only used where tests assert an order by time.
pub async fn tick() {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

/// A server-generated id: 26 chars of Crockford base32.
#[track_caller]
pub fn assert_ulid(v: &Value) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("id is not a string: {v}"));
    assert_eq!(s.len(), 26, "not a ULID: {s:?}");
    assert!(
        s.chars()
            .all(|c| "0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(c)),
        "not a ULID: {s:?}"
    );
}

/// RFC 3339 UTC with milliseconds: `2026-11-24T10:15:00.123Z`.
#[track_caller]
pub fn assert_timestamp(v: &Value) {
    let s = v
        .as_str()
        .unwrap_or_else(|| panic!("timestamp is not a string: {v}"));
    let b = s.as_bytes();
    let ok = b.len() == 24
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            10 => *c == b'T',
            13 | 16 => *c == b':',
            19 => *c == b'.',
            23 => *c == b'Z',
            _ => c.is_ascii_digit(),
        });
    assert!(ok, "not an RFC 3339 UTC timestamp with milliseconds: {s:?}");
}

/// Milliseconds since the epoch of a timestamp in the contract's format.
pub fn millis(v: &Value) -> i64 {
    assert_timestamp(v);
    let s = v.as_str().unwrap();
    let n = |a: usize, b: usize| s[a..b].parse::<i64>().unwrap();
    let (y, mo, d) = (n(0, 4), n(5, 7), n(8, 10));
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if mo <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    ((days * 24 + n(11, 13)) * 60 + n(14, 16)) * 60 * 1000 + n(17, 19) * 1000 + n(20, 23)
}

/// Stops the app (SIGTERM), runs `concierge rebuild` on its `DATA_DIR`, and asserts the rebuilt
/// views equal, key for key, the ones the app had folded live.
pub fn assert_views_equal_a_rebuild(app: &mut App) {
    use concierge_projections::ViewStore;
    assert!(app.terminate().success(), "the app did not stop cleanly");
    let views = app.data_dir().join("views");
    let live = ViewStore::open(&views)
        .expect("open the views")
        .dump()
        .expect("read the views");
    let rebuild = Command::new(env!("CARGO_BIN_EXE_concierge"))
        .arg("rebuild")
        .env("DATA_DIR", app.data_dir())
        .env("NATS_URL", app.nats_url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("run concierge rebuild");
    assert!(rebuild.status.success(), "{rebuild:?}");
    let rebuilt = ViewStore::open(&views)
        .expect("open the views")
        .dump()
        .expect("read the views");
    assert_eq!(rebuilt.len(), live.len(), "key counts differ");
    assert!(
        rebuilt == live,
        "the views folded live differ from a fresh rebuild"
    );
}

/// Base64url without padding, as JWT segments are encoded: for tests that forge tokens by hand.
pub fn b64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Sockets of either codec, and a burst of sends
// ---------------------------------------------------------------------------------------------

/// What the tests read from a socket of either codec (`ws::Client`, `sio::Client`): what it has
/// received so far and what comes next.
#[allow(async_fn_in_trait)]
pub trait Events {
    fn seen(&self) -> &[Value];
    async fn next_within(&mut self, timeout: Duration) -> Option<Value>;
    async fn next_matching(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value;
}

impl Events for ws::Client {
    fn seen(&self) -> &[Value] {
        &self.seen
    }
    async fn next_within(&mut self, timeout: Duration) -> Option<Value> {
        ws::Client::next_within(self, timeout).await
    }
    async fn next_matching(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        ws::Client::next_matching(self, what, pred).await
    }
}

impl Events for sio::Client {
    fn seen(&self) -> &[Value] {
        &self.seen
    }
    async fn next_within(&mut self, timeout: Duration) -> Option<Value> {
        sio::Client::next_within(self, timeout).await
    }
    async fn next_matching(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        sio::Client::next_matching(self, what, pred).await
    }
}

/// Sends `n` messages of `content` to `conv` as `token` over HTTP, `in_flight` at a time, asserting
/// each answers 201; returns the Messages in the order they were answered.
pub async fn post_messages(
    app: &App,
    token: &str,
    conv: &str,
    n: usize,
    content: &str,
    in_flight: usize,
) -> Vec<Value> {
    use futures::stream::{self, StreamExt};
    let client = reqwest::Client::new();
    let url = messages_url(app, conv);
    let body = json!({ "content": content });
    stream::iter(0..n)
        .map(|_| {
            let (client, url, body) = (client.clone(), url.clone(), body.clone());
            async move {
                let resp = client
                    .post(url)
                    .bearer_auth(token)
                    .json(&body)
                    .send()
                    .await
                    .expect("send");
                assert_eq!(resp.status().as_u16(), 201);
                let body: Value = resp.json().await.expect("json body");
                body["data"].clone()
            }
        })
        .buffer_unordered(in_flight)
        .collect()
        .await
}

/// Sends `count` messages (`"burst 0"`, `"burst 1"`, …) to `conv` as `token` over HTTP from a
/// task, `in_flight` requests at a time, asserting each succeeds and counting it in `done`. The
/// task returns the Messages in the order they were answered.
pub fn send_burst(
    app: &App,
    token: &str,
    conv: &str,
    count: usize,
    in_flight: usize,
    done: std::sync::Arc<std::sync::atomic::AtomicUsize>,
) -> tokio::task::JoinHandle<Vec<Value>> {
    use futures::stream::{self, StreamExt};
    let (url, token) = (messages_url(app, conv), token.to_string());
    tokio::spawn(async move {
        let client = reqwest::Client::new();
        stream::iter(0..count)
            .map(|i| {
                let (client, url, token, done) =
                    (client.clone(), url.clone(), token.clone(), done.clone());
                async move {
                    let body: Value = client
                        .post(url)
                        .bearer_auth(token)
                        .json(&json!({ "content": format!("burst {i}") }))
                        .send()
                        .await
                        .expect("send")
                        .json()
                        .await
                        .expect("json body");
                    assert_eq!(body["success"], json!(true), "{body}");
                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    body["data"].clone()
                }
            })
            .buffer_unordered(in_flight)
            .collect::<Vec<Value>>()
            .await
    })
}

// ---------------------------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------------------------

/// The value of the series `series` (its name and labels exactly as `/metrics` writes them);
/// `None` while the app does not answer or the series is not there.
pub async fn metric(app: &App, series: &str) -> Option<f64> {
    let text = reqwest::get(app.url("/metrics"))
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .filter_map(|l| l.rsplit_once(' '))
        .find(|(s, _)| *s == series)
        .and_then(|(_, v)| v.trim().parse().ok())
}

/// Waits until the app's search index has committed everything in the log up to now, so that a
/// search's answer is exact.
pub async fn searchable(app: &App) {
    let last = log::last_seq(app.nats_url()).await;
    log::eventually("the search index catching up", || async {
        metric(
            app,
            r#"concierge_projection_checkpoint{projection="search"}"#,
        )
        .await
        .is_some_and(|c| c as u64 >= last)
    })
    .await;
}

/// `GET /messaging/search?<query>` as `token`: status and body.
pub async fn search(app: &App, token: &str, query: &str) -> (StatusCode, Value) {
    get(&app.url(&format!("/messaging/search?{query}")), token).await
}

/// A search's `q` parameter, encoded.
pub fn q(text: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("q", text)
        .finish()
}
