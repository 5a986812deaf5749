//! Scenarios 3 and 4: many idle authenticated sockets on one node (memory per socket, accept
//! rate), and one admin broadcast fanned out to all of them; over `/ws` or Socket.IO (`--codec`).

use crate::codec::{Kind, PONG};
use crate::common::{self, now_ns, Rows, Target};
use crate::log;
use anyhow::Result;
use clap::Args;
use futures::{stream, SinkExt, StreamExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[derive(Args, Debug)]
pub struct ConnArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long, default_value = "3 connections")]
    pub scenario: String,
    #[arg(long, default_value_t = 19_500)]
    pub count: usize,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// The server's process id, for its VmRSS.
    #[arg(long)]
    pub server_pid: u32,
    /// The target for the server's RSS growth per socket, KiB.
    #[arg(long, default_value_t = 10.0)]
    pub rss_goal_kib: f64,
}

#[derive(Args, Debug)]
pub struct FanoutArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long)]
    pub nats: String,
    #[arg(long, default_value = "4 fan-out")]
    pub scenario: String,
    #[arg(long, default_value_t = 10_000)]
    pub count: usize,
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
}

/// Broadcast arrivals counted by the readers.
#[derive(Default)]
struct Arrivals {
    count: AtomicU64,
    last_ns: AtomicU64,
}

/// Opens `count` customer sockets (`idle0..`), each drained by its own task (which answers
/// Engine.IO pings); returns how many opened and how long that took.
async fn open(
    t: &Target,
    count: usize,
    concurrency: usize,
    arrivals: &Arc<Arrivals>,
) -> (usize, u64, f64) {
    let started = Instant::now();
    let results: Vec<Result<()>> = stream::iter(0..count)
        .map(|i| {
            let arrivals = arrivals.clone();
            async move {
                let tok = common::token(&t.secret, &format!("idle{i}"), "customer");
                let mut ws = common::connect(t, t.source(i), &tok).await?;
                let codec = t.codec;
                tokio::spawn(async move {
                    while let Some(Ok(msg)) = ws.next().await {
                        let Message::Text(text) = msg else { continue };
                        let kind = codec.kind(text.as_str());
                        if kind == Kind::Broadcast {
                            arrivals.last_ns.fetch_max(now_ns(), Ordering::Relaxed);
                            arrivals.count.fetch_add(1, Ordering::Relaxed);
                        } else if kind == Kind::Ping && ws.send(Message::text(PONG)).await.is_err()
                        {
                            return;
                        }
                    }
                });
                Ok(())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let secs = started.elapsed().as_secs_f64();
    let mut failed = 0u64;
    for r in &results {
        if let Err(e) = r {
            if failed < 3 {
                eprintln!("connect failed: {e:#}");
            }
            failed += 1;
        }
    }
    (count - failed as usize, failed, secs)
}

/// Scenario 3.
///
/// # Errors
/// When the server's memory cannot be read or results cannot be written.
pub async fn connections(a: ConnArgs) -> Result<()> {
    a.target.check()?;
    let rows = Rows::new(a.target.out.clone(), &a.scenario);
    let before = common::vm_kib(a.server_pid, "VmRSS")?;
    let arrivals = Arc::new(Arrivals::default());
    let (held, failed, secs) = open(&a.target, a.count, a.concurrency, &arrivals).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = common::vm_kib(a.server_pid, "VmRSS")?;
    let per_socket = (after as f64 - before as f64) / held.max(1) as f64;
    eprintln!(
        "held {held} sockets ({failed} failed) in {secs:.1} s; server RSS {before} -> {after} KiB ({per_socket:.2} KiB/socket)"
    );
    rows.add("sockets held", held as f64, Some(&format!(">={}", a.count)))?;
    rows.add("accept rate sockets/s", held as f64 / secs, None)?;
    let goal = format!("<={}", a.rss_goal_kib);
    rows.add("server RSS growth KiB/socket", per_socket, Some(&goal))?;
    Ok(())
}

/// Scenario 4.
///
/// # Errors
/// When NATS refuses the broadcast or results cannot be written.
pub async fn fanout(a: FanoutArgs) -> Result<()> {
    a.target.check()?;
    let rows = Rows::new(a.target.out.clone(), &a.scenario);
    let arrivals = Arc::new(Arrivals::default());
    let (held, failed, secs) = open(&a.target, a.count, a.concurrency, &arrivals).await;
    eprintln!("opened {held} sockets ({failed} failed) in {secs:.1} s");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let t0 = now_ns();
    log::broadcast(&a.nats, "Benchmark broadcast").await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while (arrivals.count.load(Ordering::Relaxed) as usize) < held && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let got = arrivals.count.load(Ordering::Relaxed);
    let last_ms = arrivals.last_ns.load(Ordering::Relaxed).saturating_sub(t0) as f64 / 1e6;
    eprintln!("{got}/{held} sockets had the broadcast; last after {last_ms:.1} ms");
    rows.add(
        "sockets reached",
        got as f64,
        Some(&format!(">={}", a.count)),
    )?;
    rows.add("publish to last delivery ms", last_ms, Some("<=200"))?;
    Ok(())
}
