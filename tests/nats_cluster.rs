//! Concierge on a 3-node NATS JetStream cluster with its streams at 3 replicas (issue 6): the
//! stream's leader is SIGKILLed in the middle of a load of sends, and still every acknowledged send
//! is in the log and the views exactly once, nothing else is, and the node keeps serving.
//!
//! The cluster runs from the repo's `nats/cluster/node.conf`, three servers on free loopback ports
//! with their stores in temporary folders, as docs/operations.md describes for running one by hand.

mod common;

use async_nats::jetstream::{self, stream};
use common::*;
use futures::future::join_all;
use serde_json::{json, Value};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tempfile::TempDir;

const NODE_CONF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/nats/cluster/node.conf");
const STREAMS: [&str; 3] = ["CONCIERGE", "CONCIERGE_TYPING", "KV_CONCIERGE_LAST_SEEN"];
/// Ample on a loaded 2-core machine: JetStream elects a new stream leader within seconds.
const DEADLINE: Duration = Duration::from_secs(40);
const CLIENTS: usize = 4;
const SENDS: usize = 50;

/// One nats-server of the cluster.
struct Node {
    name: String,
    port: u16,
    cluster_port: u16,
    child: Option<Child>,
    dir: TempDir,
}

/// Three clustered nats-servers on loopback, each from `nats/cluster/node.conf`, killed on drop.
struct Cluster {
    nodes: Vec<Node>,
}

impl Cluster {
    /// Starts the three servers and waits until each accepts connections (JetStream may still be
    /// electing its meta leader; the node under test retries until it can create its streams).
    fn start() -> Cluster {
        let mut nodes: Vec<Node> = (1..=3)
            .map(|i| Node {
                name: format!("n{i}"),
                port: free_port(),
                cluster_port: free_port(),
                child: None,
                dir: tempfile::Builder::new()
                    .prefix("concierge-nats-cluster-")
                    .tempdir()
                    .expect("tempdir"),
            })
            .collect();
        let routes: Vec<String> = nodes
            .iter()
            .map(|n| format!("nats-route://127.0.0.1:{}", n.cluster_port))
            .collect();
        for node in &mut nodes {
            let log = std::fs::File::create(node.dir.path().join("nats.log")).expect("log file");
            let child = Command::new("nats-server")
                .args(["-c", NODE_CONF])
                .env("NATS_NAME", &node.name)
                .env("NATS_PORT", node.port.to_string())
                .env("NATS_CLUSTER_PORT", node.cluster_port.to_string())
                .env("NATS_ROUTE_1", &routes[0])
                .env("NATS_ROUTE_2", &routes[1])
                .env("NATS_ROUTE_3", &routes[2])
                .env("NATS_STORE", node.dir.path().join("store"))
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("log file"))
                .stderr(log)
                .spawn()
                .expect("spawn nats-server (is it on PATH?)");
            node.child = Some(child);
        }
        let cluster = Cluster { nodes };
        let deadline = Instant::now() + Duration::from_secs(10);
        for node in &cluster.nodes {
            while TcpStream::connect(("127.0.0.1", node.port)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "nats-server {} did not accept connections:\n{}",
                    node.name,
                    cluster.logs()
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        cluster
    }

    /// The client URLs of the servers still running, comma separated (`NATS_URL`).
    fn url(&self) -> String {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| format!("nats://127.0.0.1:{}", n.port))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// SIGKILL the server named `name`, then reap it.
    fn kill(&mut self, name: &str) {
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.name == name)
            .unwrap_or_else(|| panic!("no node {name}"));
        let mut child = node.child.take().expect("the node is running");
        child.kill().expect("SIGKILL nats-server");
        child.wait().expect("reap nats-server");
    }

    /// The last lines of every server's log, for failure messages.
    fn logs(&self) -> String {
        self.nodes
            .iter()
            .map(|n| {
                let log =
                    std::fs::read_to_string(n.dir.path().join("nats.log")).unwrap_or_default();
                let lines: Vec<&str> = log.lines().collect();
                let tail = lines[lines.len().saturating_sub(30)..].join("\n");
                format!("----- {} -----\n{tail}", n.name)
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
        for node in &mut self.nodes {
            if let Some(mut child) = node.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// A JetStream context on the servers still running.
async fn jetstream_on(cluster: &Cluster) -> jetstream::Context {
    let urls: Vec<String> = cluster.url().split(',').map(str::to_string).collect();
    let client = async_nats::connect(urls)
        .await
        .expect("connect to the cluster");
    jetstream::new(client)
}

/// The stream's info once `check` accepts it; panics with the servers' logs after the deadline.
async fn stream_info_when(
    js: &jetstream::Context,
    cluster: &Cluster,
    name: &str,
    what: &str,
    check: impl Fn(&stream::Info) -> bool,
) -> stream::Info {
    let deadline = Instant::now() + DEADLINE;
    let mut last = None;
    loop {
        if let Ok(s) = js.get_stream(name).await {
            if let Ok(info) = s.get_info().await {
                if check(&info) {
                    return info;
                }
                last = Some(info);
            }
        }
        assert!(
            Instant::now() < deadline,
            "stream {name}: {what} not seen within {DEADLINE:?}; last info: {last:?}\n{}",
            cluster.logs()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A stream at 3 replicas with a leader and both other peers caught up.
fn fully_replicated(info: &stream::Info) -> bool {
    let Some(cluster) = &info.cluster else {
        return false;
    };
    info.config.num_replicas == 3
        && cluster.leader.is_some()
        && cluster.replicas.len() == 2
        && cluster.replicas.iter().all(|p| p.current && !p.offline)
}

/// Sends `SENDS` messages with client keys into `conv`. A 503 (the log did not take it) or a 500
/// (the log took it, the node had not folded it within 10 s: a write acknowledged just before the
/// kill waits for the new stream leader, 4 to 9 s here, and then for folding to resume) is retried
/// with the same key until it is answered 200 or 201; these are the two answers the contract
/// allows to retry unchanged. After the `SENDS / 2`-th it waits until `killed` is set, so
/// that half of the load comes after the kill whatever the timing.
async fn client(
    app_url: String,
    token: String,
    client: usize,
    answered: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
    mut killed: tokio::sync::watch::Receiver<bool>,
) {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let deadline = Instant::now() + DEADLINE;
    for n in 0..SENDS {
        if n == SENDS / 2 {
            killed.wait_for(|k| *k).await.expect("the test is running");
        }
        let body = json!({ "content": format!("c{client}-{n}"), "clientMessageId": format!("k{client}-{n}") });
        loop {
            assert!(
                Instant::now() < deadline,
                "client {client} stuck at send {n}"
            );
            let r = http
                .post(&app_url)
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("client {client} send {n}: {e}"));
            match r.status().as_u16() {
                200 | 201 => break,
                500 | 503 => {
                    refused.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                other => panic!(
                    "client {client} send {n}: {other} {}",
                    r.text().await.unwrap_or_default()
                ),
            }
        }
        answered.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn killing_the_stream_leader_under_load_loses_no_acknowledged_send() {
    let mut cluster = Cluster::start();
    let mut app = App::spawn_with(
        &cluster.url(),
        AppOptions {
            extra_env: vec![("STREAM_REPLICAS".into(), "3".into())],
            ..Default::default()
        },
    );
    app.wait_ready().await;
    let js = jetstream_on(&cluster).await;
    for name in STREAMS {
        stream_info_when(
            &js,
            &cluster,
            name,
            "3 replicas, all current",
            fully_replicated,
        )
        .await;
    }

    let mut convs = Vec::new();
    for c in 0..CLIENTS {
        let (booking, user) = (format!("bk_{c}"), format!("cus_{c}"));
        data(register_booking(&app, &booking, &user, None).await, 201);
        let token = customer(&user, &[]);
        let conv = id_of(&created(open(&app, &token, &booking).await));
        convs.push((token, conv));
    }

    let answered = Arc::new(AtomicUsize::new(0));
    let refused = Arc::new(AtomicUsize::new(0));
    let (kill, killed) = tokio::sync::watch::channel(false);
    let clients: Vec<_> = convs
        .iter()
        .enumerate()
        .map(|(c, (token, conv))| {
            tokio::spawn(client(
                messages_url(&app, conv),
                token.clone(),
                c,
                answered.clone(),
                refused.clone(),
                killed.clone(),
            ))
        })
        .collect();

    // In the middle of the load (a fifth taken, the clients still sending), the leader goes.
    let deadline = Instant::now() + DEADLINE;
    while answered.load(Ordering::SeqCst) < CLIENTS * SENDS / 5 {
        assert!(
            Instant::now() < deadline,
            "the first sends did not go through"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before = stream_info_when(&js, &cluster, "CONCIERGE", "a leader", |i| {
        i.cluster.as_ref().is_some_and(|c| c.leader.is_some())
    })
    .await;
    let leader = before.cluster.unwrap().leader.unwrap();
    cluster.kill(&leader);
    kill.send(true).expect("clients are waiting");

    for c in join_all(clients).await {
        c.expect("a client failed");
    }
    assert_eq!(answered.load(Ordering::SeqCst), CLIENTS * SENDS);
    eprintln!(
        "killed {leader}; {} attempts answered 500 or 503 and were retried",
        refused.load(Ordering::SeqCst)
    );

    // The node keeps serving: ready, and a new send is created at once.
    app.wait_ready().await;
    let (token, conv) = &convs[0];
    let after = send(&app, token, conv, "after the kill").await;
    assert_eq!(after["content"], "after the kill");

    // Another node leads the stream, still at 3 replicas (one of them offline).
    let js = jetstream_on(&cluster).await;
    let info = stream_info_when(&js, &cluster, "CONCIERGE", "a new leader", |i| {
        i.cluster
            .as_ref()
            .and_then(|c| c.leader.as_ref())
            .is_some_and(|l| *l != leader)
    })
    .await;
    assert_eq!(info.config.num_replicas, 3);

    // Every acknowledged send exactly once in the views and in the log, and nothing else.
    let audit = admin("adm_audit");
    let listed = data(
        get(&app.url("/messaging/conversations?limit=100"), &audit).await,
        200,
    );
    assert_eq!(listed["pagination"]["total"], json!(CLIENTS));
    for (c, (token, conv)) in convs.iter().enumerate() {
        let mut want: Vec<String> = (0..SENDS).map(|n| format!("c{c}-{n}")).collect();
        if c == 0 {
            want.push("after the kill".into());
        }
        want.sort();

        let page = list_messages(&app, token, conv, "page=1&limit=100").await;
        assert_eq!(page["pagination"]["total"], json!(want.len()));
        let mut got = contents(&page["messages"]);
        got.sort();
        assert_eq!(got, want, "conversation {c}: every send exactly once");

        let events = data(
            get(
                &app.url(&format!(
                    "/messaging/conversations/{conv}/events?after=0&limit=1000"
                )),
                &audit,
            )
            .await,
            200,
        );
        let mut logged: Vec<String> = events["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["type"] == "message_sent")
            .map(|e: &Value| e["data"]["content"].as_str().unwrap().to_string())
            .collect();
        logged.sort();
        assert_eq!(logged, want, "conversation {c}: one message_sent per send");
    }
}
