//! `concierge doctor`: checks a node's settings and what it depends on (NATS, JetStream, the
//! streams, the clock, the disk) and prints one line per check: `ok`, `warn` or `FAIL`, with what to
//! fix. It never changes the log: its publishes carry a header that makes JetStream refuse them, and
//! the clock probe goes to a stream of its own that it deletes.

use crate::config::{Config, LogConfig};
use crate::log::{self, local_nats::LocalNats, redacted_url};
use crate::webhooks::WebhookConfig;
use async_nats::jetstream::{self, stream, ErrorCode};
use concierge_events::subject;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A JWT_SECRET shorter than this is warned about: HS256 wants at least 256 bits.
const MIN_SECRET_BYTES: usize = 32;
/// How long doctor waits for NATS to accept a connection, and for each request.
const NATS_TIMEOUT: Duration = Duration::from_secs(3);
/// Clock skew against NATS above which doctor warns, and above which it fails.
const SKEW_WARN: Duration = Duration::from_secs(1);
const SKEW_FAIL: Duration = Duration::from_secs(60);
/// JetStream's answer to a publish whose `Nats-Expected-Stream` names another stream: nothing stored.
const STREAM_NOT_MATCH: u64 = 10060;
/// The name no stream has, which the probes expect, so that JetStream refuses them.
const NO_STREAM: &str = "CONCIERGE_DOCTOR_NO_SUCH_STREAM";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Ok,
    Warn,
    Fail,
}

/// The lines printed so far and the worst status among them.
pub struct Report {
    worst: Status,
}

impl Report {
    fn line(&mut self, status: Status, check: &str, detail: impl std::fmt::Display) {
        let label = match status {
            Status::Ok => "ok",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
        };
        println!("{label:<4} {check}: {detail}");
        self.worst = self.worst.max(status);
    }
    fn ok(&mut self, check: &str, detail: impl std::fmt::Display) {
        self.line(Status::Ok, check, detail);
    }
    fn warn(&mut self, check: &str, detail: impl std::fmt::Display) {
        self.line(Status::Warn, check, detail);
    }
    fn fail(&mut self, check: &str, detail: impl std::fmt::Display) {
        self.line(Status::Fail, check, detail);
    }
}

/// Runs every check against checked settings and returns the worst status (the settings'
/// own errors are the caller's: exit 2 before anything is checked).
pub async fn run(config: &Config, min_free_bytes: u64) -> Status {
    let mut r = Report { worst: Status::Ok };
    let log = &config.log;
    r.ok(
        "settings",
        format_args!(
            "as serve reads them: PORT {}, DATA_DIR {}, streams {} and {} at {} replica(s)",
            config.port,
            log.data_dir.display(),
            log.stream_name,
            log.typing_stream_name,
            log.stream_replicas
        ),
    );
    secret(&mut r, config);
    disk(&mut r, &log.data_dir, min_free_bytes);
    let hooks = config.webhooks.as_ref();
    match &log.nats_url {
        Some(url) => nats(&mut r, log, hooks, url).await,
        None => local_nats(&mut r, log, hooks).await,
    }
    r.worst
}

fn secret(r: &mut Report, config: &Config) {
    let n = config.jwt_secret.len();
    if config.jwt_secret_generated {
        r.warn(
            "JWT_SECRET",
            "unset: --dev generates one at each start, so tokens die with the process; set JWT_SECRET",
        );
    } else if n < MIN_SECRET_BYTES {
        r.warn(
            "JWT_SECRET",
            format_args!(
                "only {n} bytes: use at least {MIN_SECRET_BYTES} random bytes, shared with the booking platform"
            ),
        );
    } else {
        r.ok("JWT_SECRET", format_args!("set ({n} bytes)"));
    }
}

/// DATA_DIR: a writable folder (or one serve can create) on a file system with room to spare.
fn disk(r: &mut Report, dir: &Path, min_free: u64) {
    let shown = dir.display();
    let existing = match dir.try_exists() {
        Ok(true) if !dir.is_dir() => {
            r.fail("DATA_DIR", format_args!("{shown} is not a folder"));
            return;
        }
        Ok(true) => dir.to_path_buf(),
        _ => match dir.ancestors().skip(1).find(|a| a.is_dir()) {
            Some(parent) if parent.as_os_str().is_empty() => PathBuf::from("."),
            Some(parent) => parent.to_path_buf(),
            None => PathBuf::from("."),
        },
    };
    if !writable(&existing) {
        r.fail(
            "DATA_DIR",
            format_args!(
                "{} is not writable by this user: give the node's user write access",
                existing.display()
            ),
        );
        return;
    }
    if existing == dir {
        r.ok("DATA_DIR", format_args!("{shown} is a writable folder"));
    } else {
        r.warn(
            "DATA_DIR",
            format_args!(
                "{shown} does not exist yet (serve creates it in {})",
                existing.display()
            ),
        );
    }
    match free_bytes(&existing) {
        Ok(free) if free < min_free => r.warn(
            "disk",
            format_args!(
                "{} MiB free for DATA_DIR, under {} MiB: free space or move DATA_DIR (the views and a local nats-server's store grow with the log)",
                free >> 20,
                min_free >> 20
            ),
        ),
        Ok(free) => r.ok("disk", format_args!("{} MiB free for DATA_DIR", free >> 20)),
        Err(e) => r.warn("disk", format_args!("cannot read the free space of {}: {e}", existing.display())),
    }
}

fn c_path(path: &Path) -> Option<std::ffi::CString> {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::CString::new(path.as_os_str().as_bytes()).ok()
}

fn writable(path: &Path) -> bool {
    let Some(p) = c_path(path) else { return false };
    // SAFETY: access(2) reads the NUL-terminated path and touches no other memory.
    unsafe { libc::access(p.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

/// Bytes an unprivileged user may still write on `path`'s file system.
fn free_bytes(path: &Path) -> std::io::Result<u64> {
    let p = c_path(path).ok_or_else(|| std::io::Error::other("a NUL in the path"))?;
    // SAFETY: statvfs(2) writes only into the zeroed struct we pass; the path is NUL-terminated.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(p.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    #[allow(clippy::unnecessary_cast)]
    Ok(st.f_bavail as u64 * st.f_frsize as u64)
}

/// True when a process holds the views' lock: a node (or a rebuild) is running on DATA_DIR.
fn views_in_use(data_dir: &Path) -> bool {
    let Ok(file) = std::fs::File::open(data_dir.join("views").join("db")) else {
        return false;
    };
    use std::os::fd::AsRawFd;
    // SAFETY: flock(2) on a descriptor we own; the shared lock is released when `file` closes.
    unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) != 0 }
}

/// Without NATS_URL the node runs its own nats-server: check that it can, and check that server
/// (started here for the check) unless the node is running and owns it.
async fn local_nats(r: &mut Report, log: &LogConfig, hooks: Option<&WebhookConfig>) {
    let on_path = std::env::var_os("PATH").is_some_and(|path| {
        std::env::split_paths(&path).any(|dir| dir.join("nats-server").is_file())
    });
    if !on_path {
        r.fail(
            "nats-server",
            "NATS_URL is unset and nats-server is not on PATH: install nats-server or set NATS_URL",
        );
        return;
    }
    if let Some(conf) = &log.nats_conf {
        if std::fs::File::open(conf).is_err() {
            r.fail(
                "NATS_CONF",
                format_args!(
                    "cannot read {}: point NATS_CONF at a readable nats.conf",
                    conf.display()
                ),
            );
            return;
        }
    }
    if views_in_use(&log.data_dir) {
        r.warn(
            "NATS",
            "NATS_URL is unset and a node is running on DATA_DIR with its own nats-server: its streams were not checked (stop the node, or give it a NATS_URL)",
        );
        return;
    }
    let store_key = log.nats.store_key.as_deref();
    match LocalNats::start(&log.data_dir, log.nats_conf.as_deref(), store_key).await {
        Ok(local) => {
            r.ok(
                "nats-server",
                "NATS_URL is unset: started the node's own nats-server, as serve would, to check it",
            );
            nats(r, log, hooks, &local.url()).await;
            local.stop().await;
        }
        Err(e) => r.fail("nats-server", format_args!("NATS_URL is unset and {e}")),
    }
}

async fn nats(r: &mut Report, log: &LogConfig, hooks: Option<&WebhookConfig>, url: &str) {
    let shown = redacted_url(url);
    let servers: Vec<&str> = url
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let server_errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let errors = server_errors.clone();
    let connect = log
        .nats
        .options()
        .connection_timeout(NATS_TIMEOUT)
        .request_timeout(Some(NATS_TIMEOUT))
        .event_callback(move |event| {
            if let async_nats::Event::ServerError(e) = event {
                errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(e.to_string());
            }
            async {}
        })
        .connect(servers);
    let client = match tokio::time::timeout(NATS_TIMEOUT * 2, connect).await {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => {
            r.fail(
                "NATS",
                format_args!("cannot connect to NATS_URL={shown}: {e}: check NATS_URL, that nats-server runs there and the credentials"),
            );
            return;
        }
        Err(_) => {
            r.fail(
                "NATS",
                format_args!("no connection to NATS_URL={shown} within {} s: check NATS_URL and that nats-server runs there", (NATS_TIMEOUT * 2).as_secs()),
            );
            return;
        }
    };
    let info = client.server_info();
    r.ok(
        "NATS",
        format_args!(
            "connected to {shown} (server {}, nats-server {})",
            info.server_name, info.version
        ),
    );
    let js = jetstream::new(client.clone());
    // Read by hand: the client's own account query does not parse nats-server 2.9's answer.
    match account(&client).await {
        Ok(account) => r.ok(
            "JetStream",
            format_args!(
                "enabled: {} streams, {} MiB stored",
                account["streams"].as_u64().unwrap_or(0),
                account["storage"].as_u64().unwrap_or(0) >> 20
            ),
        ),
        Err(e) => {
            r.fail(
                "JetStream",
                format_args!("not available at NATS_URL={shown}: {e}: enable JetStream on the server (nats-server -js, or a jetstream block in its configuration) and let this user use it"),
            );
            return;
        }
    }
    let replicas = usize::from(log.stream_replicas);
    let [events, typing] = log::stream_configs(&log.stream_name, &log.typing_stream_name, replicas);
    let setting = |name: &str| {
        if name == log.stream_name {
            Some("STREAM_NAME")
        } else if name == log.typing_stream_name {
            Some("TYPING_STREAM_NAME")
        } else {
            None
        }
    };
    let mut present = Vec::new();
    for want in [events, typing, log::last_seen_config(replicas)] {
        if streams(r, &js, &want, setting(&want.name)).await {
            present.push(want.name.clone());
        }
    }
    publish(r, &client, log, &present, &server_errors).await;
    subscribe(r, &client, &server_errors).await;
    clock(r, &js).await;
    if let Some(hooks) = hooks {
        webhooks(r, &js, hooks, replicas).await;
    }
}

/// With WEBHOOK_URL: the webhooks' queues and buckets as serve creates them, what is pending and
/// the dead letters (a warning: deliveries that failed until WEBHOOK_MAX_AGE).
async fn webhooks(r: &mut Report, js: &jetstream::Context, hooks: &WebhookConfig, replicas: usize) {
    let mut present = 0;
    for want in crate::webhooks::queue::stream_configs(replicas) {
        if streams(r, js, &want, None).await {
            present += 1;
        }
    }
    if present < 4 {
        return;
    }
    let pending = match js.get_stream(crate::webhooks::queue::DELIVERIES).await {
        Ok(mut s) => s.info().await.map(|i| i.state.messages).ok(),
        Err(_) => None,
    };
    let queues = crate::webhooks::queue::Queues::open(js.clone()).await;
    let dead = match &queues {
        Ok(Some(q)) => q.dead_letters().await.map(|d| d.len()).ok(),
        _ => None,
    };
    match (pending, dead) {
        (Some(pending), Some(0)) => r.ok(
            "webhooks",
            format_args!(
                "{} endpoint(s); {pending} delivery(ies) pending; no dead letters",
                hooks.urls.len()
            ),
        ),
        (Some(pending), Some(dead)) => r.warn(
            "webhooks",
            format_args!(
                "{} endpoint(s); {pending} delivery(ies) pending; {dead} dead letter(s): deliveries that failed until WEBHOOK_MAX_AGE (`concierge webhooks failed` lists them, `concierge webhooks redeliver ID` sends one again)",
                hooks.urls.len()
            ),
        ),
        _ => r.fail("webhooks", "cannot read the webhook queues"),
    }
}

/// JetStream's account information (`$JS.API.INFO`).
///
/// # Errors
/// No answer (JetStream is off, or this user may not use it), or an error answer.
async fn account(client: &async_nats::Client) -> Result<serde_json::Value, String> {
    let answer = client
        .request("$JS.API.INFO", bytes::Bytes::new())
        .await
        .map_err(|e| match e.kind() {
            async_nats::RequestErrorKind::NoResponders => "no JetStream answers".to_string(),
            _ => e.to_string(),
        })?;
    let info: serde_json::Value =
        serde_json::from_slice(&answer.payload).map_err(|e| format!("unreadable answer: {e}"))?;
    match info["error"]["description"].as_str() {
        Some(error) => Err(error.to_string()),
        None => Ok(info),
    }
}

/// Compares one stream with the configuration serve creates; true when it exists.
async fn streams(
    r: &mut Report,
    js: &jetstream::Context,
    want: &stream::Config,
    setting: Option<&str>,
) -> bool {
    let check = format!("stream {}", want.name);
    let found = match js.get_stream(&want.name).await {
        Ok(found) => found,
        Err(e) => {
            if let jetstream::context::GetStreamErrorKind::JetStream(j) = e.kind() {
                if j.error_code() == ErrorCode::STREAM_NOT_FOUND {
                    r.warn(
                        &check,
                        "does not exist yet: serve creates it when it starts",
                    );
                    return false;
                }
            }
            r.fail(&check, format_args!("cannot read it: {e}"));
            return false;
        }
    };
    let have = &found.cached_info().config;
    let mut wrong = Vec::new();
    let subjects = |c: &stream::Config| c.subjects.iter().cloned().collect::<BTreeSet<_>>();
    if subjects(have) != subjects(want) {
        wrong.push(format!(
            "subjects {:?}, expected {:?}",
            have.subjects, want.subjects
        ));
    }
    if have.storage != want.storage {
        wrong.push(format!(
            "storage {:?}, expected {:?}",
            have.storage, want.storage
        ));
    }
    if have.retention != want.retention {
        wrong.push(format!(
            "retention {:?}, expected {:?}",
            have.retention, want.retention
        ));
    }
    if have.num_replicas.max(1) != want.num_replicas {
        wrong.push(format!(
            "{} replica(s), expected STREAM_REPLICAS={}",
            have.num_replicas.max(1),
            want.num_replicas
        ));
    }
    if wrong.is_empty() {
        r.ok(
            &check,
            format_args!(
                "{:?} storage, {} replica(s), subjects {}",
                have.storage,
                want.num_replicas,
                want.subjects.join(" ")
            ),
        );
    } else {
        r.fail(
            &check,
            format_args!(
                "{}: run every node and command with the same {}STREAM_REPLICAS (serve updates the subjects and replicas when it starts); a stream of another storage or retention must be deleted and created again",
                wrong.join("; "),
                setting.map(|s| format!("{s} and ")).unwrap_or_default()
            ),
        );
    }
    true
}

/// May this user publish to the streams' subjects, and does the configured stream take them? Each
/// probe expects a stream that does not exist, so JetStream answers "wrong stream" and stores
/// nothing; the answer names the stream that would have taken it.
async fn publish(
    r: &mut Report,
    client: &async_nats::Client,
    log: &LogConfig,
    present: &[String],
    server_errors: &Mutex<Vec<String>>,
) {
    let probes = [
        (subject::conversation("doctor-probe"), &log.stream_name),
        (subject::booking("doctor-probe"), &log.stream_name),
        (subject::BROADCAST.to_string(), &log.stream_name),
        (subject::typing("doctor-probe"), &log.typing_stream_name),
    ];
    let mut problems = Vec::new();
    for (subject, stream) in &probes {
        if !present.contains(stream) {
            continue;
        }
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Expected-Stream", NO_STREAM);
        let answer = client
            .request_with_headers(subject.clone(), headers, bytes::Bytes::new())
            .await;
        match answer {
            Ok(msg) => {
                let reply: serde_json::Value =
                    serde_json::from_slice(&msg.payload).unwrap_or_default();
                let code = reply["error"]["err_code"].as_u64();
                let by = reply["stream"].as_str();
                if code != Some(STREAM_NOT_MATCH) {
                    problems.push(format!(
                        "{subject}: unexpected answer {}",
                        String::from_utf8_lossy(&msg.payload)
                    ));
                } else if let Some(by) = by.filter(|by| by != stream) {
                    problems.push(format!("{subject} is taken by stream {by}, not {stream}"));
                }
            }
            Err(e) if e.kind() == async_nats::RequestErrorKind::NoResponders => {
                problems.push(format!("no stream takes {subject} (expected {stream})"))
            }
            Err(e) => {
                let violation = format!("publish to \"{subject}\"");
                let refused = server_errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .iter()
                    .any(|err| err.to_lowercase().contains(&violation));
                problems.push(if refused {
                    format!("{subject}: NATS refused it (permissions violation): allow this user to publish to it")
                } else {
                    format!("{subject}: {e}: check that this user may publish to it")
                })
            }
        }
    }
    if present.is_empty() {
        return;
    }
    if problems.is_empty() {
        r.ok(
            "publish",
            "may publish to the streams' subjects and the configured streams take them (probes refused by JetStream: nothing stored)",
        );
    } else {
        r.fail("publish", problems.join("; "));
    }
}

/// May this user subscribe to the core subjects nodes share (typing and presence)? A refused
/// subscription comes back as an asynchronous permissions error, before the answer to a later
/// request.
async fn subscribe(
    r: &mut Report,
    client: &async_nats::Client,
    server_errors: &Mutex<Vec<String>>,
) {
    let subjects = ["concierge.typing.*", "concierge.presence"];
    let mut subs = Vec::new();
    for s in subjects {
        match client.subscribe(s).await {
            Ok(sub) => subs.push(sub),
            Err(e) => {
                r.fail("subscribe", format_args!("cannot subscribe to {s}: {e}"));
                return;
            }
        }
    }
    let _ = account(client).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(subs);
    let errors = server_errors
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let refused: Vec<&String> = errors
        .iter()
        .filter(|e| {
            e.to_lowercase()
                .contains("permissions violation for subscription")
        })
        .collect();
    if refused.is_empty() {
        r.ok(
            "subscribe",
            format_args!("may subscribe to {}", subjects.join(" and ")),
        );
    } else {
        r.fail(
            "subscribe",
            format_args!(
                "NATS refused: {}: allow this user to subscribe to {} and to _INBOX.>",
                refused
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join("; "),
                subjects.join(", ")
            ),
        );
    }
}

/// The local clock against the time JetStream stamps on a stored message: a probe stored in a
/// stream of doctor's own (memory, one replica, deleted afterwards).
async fn clock(r: &mut Report, js: &jetstream::Context) {
    let id = ulid::Ulid::new();
    let name = format!("CONCIERGE_DOCTOR_{id}");
    let probe = format!("{}.doctor.{id}", subject::PREFIX);
    let created = js
        .create_stream(stream::Config {
            name: name.clone(),
            subjects: vec![probe.clone()],
            storage: stream::StorageType::Memory,
            max_age: Duration::from_secs(300),
            num_replicas: 1,
            ..Default::default()
        })
        .await;
    let stream = match created {
        Ok(s) => s,
        Err(e) => {
            r.warn(
                "clock",
                format_args!("cannot measure the skew (creating a probe stream was refused: {e})"),
            );
            return;
        }
    };
    let measured = async {
        let sent = SystemTime::now();
        let started = Instant::now();
        let ack = js.publish(probe, "clock probe".into()).await?.await?;
        let rtt = started.elapsed();
        let stored = stream.get_raw_message(ack.sequence).await?;
        let local_mid =
            sent.duration_since(UNIX_EPOCH)?.as_nanos() as i128 + (rtt / 2).as_nanos() as i128;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((
            stored.time.unix_timestamp_nanos() - local_mid,
            rtt,
        ))
    }
    .await;
    let _ = js.delete_stream(&name).await;
    match measured {
        Ok((skew_ns, rtt)) => {
            let skew = Duration::from_nanos(skew_ns.unsigned_abs() as u64);
            let ahead = if skew_ns >= 0 { "behind" } else { "ahead of" };
            let detail = format!(
                "this machine is {} ms {ahead} NATS (±{} ms)",
                skew.as_millis(),
                (rtt / 2).as_millis()
            );
            if skew > SKEW_FAIL {
                r.fail("clock", format_args!("{detail}: synchronise the clocks (NTP); message times and token expiry depend on them"));
            } else if skew > SKEW_WARN {
                r.warn(
                    "clock",
                    format_args!("{detail}: synchronise the clocks (NTP)"),
                );
            } else {
                r.ok("clock", detail);
            }
        }
        Err(e) => r.warn("clock", format_args!("cannot measure the skew: {e}")),
    }
}
