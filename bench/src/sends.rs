//! Scenarios 1 and 2: sustained sends over WebSocket at fixed aggregate rates, and over HTTP with
//! keep-alive clients, to conversations whose customers and admins are connected. The sockets speak
//! `/ws` or Socket.IO (`--codec`); everything else is the same for both.
//!
//! Every sent message carries its intended send time (`b:<ns since start>`) in `content`, so the
//! latency of each `message_sent` (at the sender) and `new_message` (at each admin) is measured from
//! when the send was due, not from when the generator got round to it.

use crate::codec::{Codec, Kind, PONG};
use crate::common::{self, histogram, ms, now_ns, Conv, Rows, Target, Ws};
use anyhow::{bail, Result};
use clap::Args;
use futures::stream::{SplitStream, StreamExt};
use futures::SinkExt;
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

#[derive(Args, Debug)]
pub struct WsArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long, default_value = "1 ws sends, 1 admin")]
    pub scenario: String,
    #[arg(long, default_value_t = 1000)]
    pub conversations: usize,
    /// Admin sockets; the first joins every conversation, all are in the admin room.
    #[arg(long, default_value_t = 1)]
    pub admins: usize,
    /// The fixed rate whose latency is reported (sends/s).
    #[arg(long, default_value_t = 2000)]
    pub fixed_rate: u64,
    #[arg(long, default_value_t = 5.0)]
    pub fixed_goal_ms: f64,
    /// Rates tried in order for the highest one with p99 within `--p99-limit-ms`.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "2000,5000,10000,15000,20000,25000,30000"
    )]
    pub rates: Vec<u64>,
    #[arg(long, default_value_t = 50.0)]
    pub p99_limit_ms: f64,
    /// Seconds per rate.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// The server's process id: when given, its CPU time per send at the fixed rate is recorded.
    #[arg(long)]
    pub server_pid: Option<u32>,
}

#[derive(Args, Debug)]
pub struct HttpArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long, default_value = "2 http sends")]
    pub scenario: String,
    #[arg(long, default_value_t = 1000)]
    pub conversations: usize,
    #[arg(long, default_value_t = 1)]
    pub admins: usize,
    /// Concurrent keep-alive clients, each waiting for its answer before the next request.
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
}

/// What one socket's reader saw since the last collection.
struct Seen {
    latency: Histogram<u64>,
    errors: u64,
}

/// Counters every reader bumps, for knowing when a phase has drained.
#[derive(Default)]
struct Totals {
    delivered: AtomicU64,
    closed: AtomicU64,
}

/// A customer's connected socket and the queue its writer task sends from.
struct Sender {
    conv: Conv,
    tx: mpsc::UnboundedSender<String>,
}

/// The connected world of scenarios 1 and 2.
struct World {
    convs: Vec<Conv>,
    senders: Vec<Sender>,
    seen: Vec<Arc<Mutex<Seen>>>,
    totals: Arc<Totals>,
    /// Sockets each send reaches: the sender and every admin.
    fanout: u64,
    codec: Codec,
    server_pid: Option<u32>,
    _admins: Vec<mpsc::UnboundedSender<String>>,
}

/// The `b:<ns>` send time in a frame's message content.
fn sent_at(text: &str) -> Option<u64> {
    let at = text.find("\"content\":\"b:")? + "\"content\":\"b:".len();
    let digits = &text[at..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// Reads one socket: records deliveries and errors, answers Engine.IO pings through `writer`.
async fn read_loop(
    mut rx: SplitStream<Ws>,
    codec: Codec,
    writer: mpsc::UnboundedSender<String>,
    seen: Arc<Mutex<Seen>>,
    totals: Arc<Totals>,
) {
    while let Some(Ok(msg)) = rx.next().await {
        let Message::Text(text) = msg else { continue };
        let text = text.as_str();
        let now = now_ns();
        match codec.kind(text) {
            Kind::Delivery => {
                if let Some(at) = sent_at(text) {
                    let us = now.saturating_sub(at) / 1000;
                    seen.lock()
                        .expect("reader lock")
                        .latency
                        .saturating_record(us.max(1));
                    totals.delivered.fetch_add(1, Ordering::Relaxed);
                }
            }
            Kind::Error => seen.lock().expect("reader lock").errors += 1,
            Kind::Ping => {
                let _ = writer.send(PONG.to_string());
            }
            Kind::Ack | Kind::Broadcast | Kind::Other => {}
        }
    }
    totals.closed.fetch_add(1, Ordering::Relaxed);
}

/// Splits a socket into a writer task fed by the returned queue and a reader task.
fn run_socket(
    ws: Ws,
    codec: Codec,
    totals: &Arc<Totals>,
) -> (mpsc::UnboundedSender<String>, Arc<Mutex<Seen>>) {
    let (mut sink, rx) = ws.split();
    let (tx, mut queue) = mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        while let Some(frame) = queue.recv().await {
            if sink.feed(Message::text(frame)).await.is_err() {
                return;
            }
            while let Ok(frame) = queue.try_recv() {
                if sink.feed(Message::text(frame)).await.is_err() {
                    return;
                }
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    let seen = Arc::new(Mutex::new(Seen {
        latency: histogram(),
        errors: 0,
    }));
    tokio::spawn(read_loop(
        rx,
        codec,
        tx.clone(),
        seen.clone(),
        totals.clone(),
    ));
    (tx, seen)
}

/// Creates the conversations, connects each customer and the admins, and has the first admin join
/// every conversation.
async fn connect_world(t: &Target, conversations: usize, admins: usize) -> Result<World> {
    let convs = common::setup_conversations(t, conversations).await?;
    let totals = Arc::new(Totals::default());
    let mut senders = Vec::new();
    let mut seen = Vec::new();
    for (i, conv) in convs.iter().enumerate() {
        let ws = common::connect(t, t.source(i), &conv.token).await?;
        let (tx, s) = run_socket(ws, t.codec, &totals);
        senders.push(Sender {
            conv: conv.clone(),
            tx,
        });
        seen.push(s);
    }
    let mut admin_txs = Vec::new();
    for a in 0..admins {
        let tok = common::token(&t.secret, &format!("adm{a}"), "admin");
        let mut ws = common::connect(t, t.source(a), &tok).await?;
        if a == 0 {
            join_all(&mut ws, t.codec, &convs).await?;
        }
        let (tx, s) = run_socket(ws, t.codec, &totals);
        admin_txs.push(tx);
        seen.push(s);
    }
    // Past the gateway's 300 ms hold of live frames for new sockets.
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(World {
        convs,
        senders,
        seen,
        totals,
        fanout: 1 + admins as u64,
        codec: t.codec,
        server_pid: None,
        _admins: admin_txs,
    })
}

/// Sends `join_conversation` for every conversation and waits for every ack.
async fn join_all(ws: &mut Ws, codec: Codec, convs: &[Conv]) -> Result<()> {
    for (i, c) in convs.iter().enumerate() {
        let frame = codec.event(
            "join_conversation",
            Some(i as u64),
            format_args!(r#"{{"conversationId":"{}"}}"#, c.id),
        );
        ws.feed(Message::text(frame)).await?;
    }
    ws.flush().await?;
    let mut acks = 0;
    while acks < convs.len() {
        let msg = tokio::time::timeout(Duration::from_secs(30), ws.next()).await;
        let Ok(Some(Ok(Message::Text(text)))) = msg else {
            if matches!(msg, Ok(Some(Ok(_)))) {
                continue;
            }
            bail!("admin socket closed or silent while joining ({acks} acks)");
        };
        match codec.kind(text.as_str()) {
            Kind::Ack => acks += 1,
            Kind::Error => bail!("join refused: {}", text.as_str()),
            Kind::Ping => ws.send(Message::text(PONG)).await?,
            Kind::Delivery | Kind::Broadcast | Kind::Other => {}
        }
    }
    Ok(())
}

/// The result of sending at one rate.
struct Phase {
    latency: Histogram<u64>,
    delivered: u64,
    expected: u64,
    per_sec: f64,
    errors: u64,
    closed: u64,
    /// Sends made.
    sent: u64,
    /// CPU seconds the server (when its pid is known) and this process used during the phase.
    server_cpu: Option<f64>,
    own_cpu: f64,
}

/// CPU seconds of the server (if known) and of this process so far.
fn cpu_now(server_pid: Option<u32>) -> (Option<f64>, f64) {
    let server = server_pid.and_then(|p| common::cpu_secs(Some(p)).ok());
    (server, common::cpu_secs(None).unwrap_or(0.0))
}

impl Phase {
    fn ok(&self, p99_limit_ms: f64) -> bool {
        ms(&self.latency, 0.99) <= p99_limit_ms
            && self.delivered as f64 >= 0.99 * self.expected as f64
            && self.closed == 0
            && self.errors == 0
    }
}

/// Sends at `rate` for `secs`, round-robin over the customers, then waits up to 5 s for the
/// deliveries, and collects what the readers saw.
async fn phase(world: &World, rate: u64, secs: f64) -> Phase {
    let before = world.totals.delivered.load(Ordering::Relaxed);
    let closed_before = world.totals.closed.load(Ordering::Relaxed);
    let total = (rate as f64 * secs) as u64;
    let cpu_before = cpu_now(world.server_pid);
    let start = now_ns();
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    let mut i = 0u64;
    let n = world.senders.len() as u64;
    while i < total {
        tick.tick().await;
        let elapsed = now_ns() - start;
        let due = ((elapsed as u128 * rate as u128 / 1_000_000_000) as u64 + 1).min(total);
        while i < due {
            let intended = start + (i as u128 * 1_000_000_000 / rate as u128) as u64;
            let s = &world.senders[(i % n) as usize];
            let frame = world.codec.event(
                "send_message",
                None,
                format_args!(
                    r#"{{"conversationId":"{}","content":"b:{intended}"}}"#,
                    s.conv.id
                ),
            );
            let _ = s.tx.send(frame);
            i += 1;
        }
    }
    let expected = total * world.fanout;
    let deadline = Instant::now() + Duration::from_secs(5);
    while world.totals.delivered.load(Ordering::Relaxed) - before < expected
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let cpu_after = cpu_now(world.server_pid);
    let delivered = world.totals.delivered.load(Ordering::Relaxed) - before;
    let mut latency = histogram();
    let mut errors = 0;
    for s in &world.seen {
        let mut s = s.lock().expect("reader lock");
        latency.add(&s.latency).expect("same bounds");
        s.latency.reset();
        errors += s.errors;
        s.errors = 0;
    }
    Phase {
        latency,
        delivered,
        expected,
        per_sec: delivered as f64 / elapsed,
        errors,
        closed: world.totals.closed.load(Ordering::Relaxed) - closed_before,
        sent: total,
        server_cpu: cpu_before.0.zip(cpu_after.0).map(|(b, a)| a - b),
        own_cpu: cpu_after.1 - cpu_before.1,
    }
}

/// Microseconds of CPU per send.
fn us_per_send(cpu_secs: f64, sent: u64) -> f64 {
    cpu_secs * 1e6 / sent.max(1) as f64
}

fn describe(rate: u64, p: &Phase) {
    let server = p
        .server_cpu
        .map(|c| format!(" server {:.0} µs/send", us_per_send(c, p.sent)))
        .unwrap_or_default();
    eprintln!(
        "rate {rate}/s: delivered {}/{} ({:.0}/s) p50 {:.2} ms p99 {:.2} ms max {:.2} ms errors {} closed {}; CPU{server} loadgen {:.0} µs/send",
        p.delivered,
        p.expected,
        p.per_sec,
        ms(&p.latency, 0.5),
        ms(&p.latency, 0.99),
        p.latency.max() as f64 / 1000.0,
        p.errors,
        p.closed,
        us_per_send(p.own_cpu, p.sent),
    );
}

/// Scenario 1.
///
/// # Errors
/// When set-up fails or results cannot be written.
pub async fn ws_sends(a: WsArgs) -> Result<()> {
    a.target.check()?;
    let rows = Rows::new(a.target.out.clone(), &a.scenario);
    let mut world = connect_world(&a.target, a.conversations, a.admins).await?;
    world.server_pid = a.server_pid;
    eprintln!(
        "connected {} customers and {} admins; warming up",
        world.senders.len(),
        a.admins
    );
    phase(&world, 1000, 1.0).await;

    let fixed = phase(&world, a.fixed_rate, a.duration).await;
    describe(a.fixed_rate, &fixed);
    let r = a.fixed_rate / 1000;
    let goal = format!("<={}", a.fixed_goal_ms);
    rows.add(&format!("p50 ms @{r}k/s"), ms(&fixed.latency, 0.5), None)?;
    rows.add(
        &format!("p99 ms @{r}k/s"),
        ms(&fixed.latency, 0.99),
        Some(&goal),
    )?;
    rows.add(
        &format!("max ms @{r}k/s"),
        fixed.latency.max() as f64 / 1000.0,
        None,
    )?;
    rows.add(&format!("delivered msg/s @{r}k/s"), fixed.per_sec, None)?;
    if let Some(cpu) = fixed.server_cpu {
        let figure = format!("server CPU µs/send @{r}k/s");
        rows.add(&figure, us_per_send(cpu, fixed.sent), None)?;
        let figure = format!("loadgen CPU µs/send @{r}k/s");
        rows.add(&figure, us_per_send(fixed.own_cpu, fixed.sent), None)?;
    }

    let mut best = (0u64, 0.0f64);
    for &rate in &a.rates {
        let p = phase(&world, rate, a.duration).await;
        describe(rate, &p);
        if !p.ok(a.p99_limit_ms) {
            break;
        }
        best = (rate, p.per_sec);
    }
    let figure = format!("max sends/s with p99<={}ms", a.p99_limit_ms);
    rows.add(&figure, best.0 as f64, Some(">=20000"))?;
    rows.add("delivered msg/s at that rate", best.1, None)?;
    if a.admins == 1 {
        rows.ratio(
            "max sends/s / ceiling (1000 in flight)",
            best.0 as f64,
            "8 ceiling|publishes/s, 1000 in flight",
        )?;
    }
    drop(world.convs);
    Ok(())
}

/// Scenario 2.
///
/// # Errors
/// When set-up fails or results cannot be written.
pub async fn http_sends(a: HttpArgs) -> Result<()> {
    a.target.check()?;
    let rows = Rows::new(a.target.out.clone(), &a.scenario);
    let world = connect_world(&a.target, a.conversations, a.admins).await?;
    let convs = Arc::new(world.convs.clone());
    let http = common::http_client();
    let run = |secs: f64| {
        let deadline = Instant::now() + Duration::from_secs_f64(secs);
        let tasks: Vec<_> = (0..a.clients)
            .map(|c| {
                let (convs, http, t) = (convs.clone(), http.clone(), a.target.clone());
                tokio::spawn(async move {
                    let mut h = histogram();
                    let mut errors = 0u64;
                    let mut k = 0usize;
                    while Instant::now() < deadline {
                        let conv = &convs[(c + k * a.clients) % convs.len()];
                        k += 1;
                        let started = Instant::now();
                        let res = http
                            .post(t.http(&format!("/messaging/conversations/{}/messages", conv.id)))
                            .bearer_auth(&conv.token)
                            .header("content-type", "application/json")
                            .body(format!(r#"{{"content":"b:{}"}}"#, now_ns()))
                            .send()
                            .await;
                        let ok = match res {
                            Ok(r) => r.status().as_u16() == 201 && r.bytes().await.is_ok(),
                            Err(_) => false,
                        };
                        if ok {
                            h.saturating_record((started.elapsed().as_micros() as u64).max(1));
                        } else {
                            errors += 1;
                        }
                    }
                    (h, errors)
                })
            })
            .collect();
        async move {
            let started = Instant::now();
            let mut h = histogram();
            let mut errors = 0;
            for task in tasks {
                let (th, te) = task.await.expect("client task");
                h.add(&th).expect("same bounds");
                errors += te;
            }
            (h, errors, started.elapsed().as_secs_f64())
        }
    };
    run(1.0).await;
    let (h, errors, secs) = run(a.duration).await;
    let per_sec = h.len() as f64 / secs;
    eprintln!(
        "http: {} ok ({per_sec:.0}/s), {errors} errors, p50 {:.2} ms p99 {:.2} ms max {:.2} ms",
        h.len(),
        ms(&h, 0.5),
        ms(&h, 0.99),
        h.max() as f64 / 1000.0
    );
    let c = a.clients;
    rows.add(&format!("requests/s, {c} clients"), per_sec, None)?;
    rows.add("p50 ms", ms(&h, 0.5), None)?;
    rows.add("p99 ms", ms(&h, 0.99), None)?;
    rows.add("errors", errors as f64, Some("<=0"))?;
    rows.ratio(
        &format!("requests/s / ceiling ({c} in flight)"),
        per_sec,
        &format!("8 ceiling|publishes/s, {c} in flight"),
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::sent_at;

    #[test]
    fn reads_the_send_time_from_content() {
        let frame = r#"{"event":"new_message","data":{"message":{"content":"b:12345","x":1}}}"#;
        assert_eq!(sent_at(frame), Some(12345));
        assert_eq!(sent_at(r#"{"content":"hello"}"#), None);
    }
}
