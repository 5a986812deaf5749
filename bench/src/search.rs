//! Scenario 10 (issue 19): full-text search. The log is seeded by `loadgen seed --text sentences`
//! (src/text.rs); then how fast a node makes it searchable while catching up (`search-catch-up`),
//! how fast `concierge rebuild --search` indexes it (`search-rebuild`), and queries from 64
//! keep-alive clients, admins and customers, with each answer checked (`search-queries`).

use crate::common::{self, histogram, ms, Rows, Target};
use crate::log;
use crate::text::{self, Expect};
use anyhow::{bail, Context as _, Result};
use clap::Args;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, BufReader};

/// The label of the search index's projection figures in `/metrics`.
const SEARCH: &str = "projection=\"search\"";

#[derive(Args, Debug)]
pub struct CatchUpArgs {
    /// The node's HTTP address (127.0.0.x only).
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// When the node was started, in ns since the Unix epoch (`date +%s%N`).
    #[arg(long)]
    pub started_ns: u128,
    /// The node's NATS, to read the log's last sequence from.
    #[arg(long)]
    pub nats: String,
    #[arg(long, default_value = "CONCIERGE")]
    pub stream: String,
    /// `message_sent` events in the log (for messages/s).
    #[arg(long)]
    pub messages: u64,
    #[arg(long, default_value = "10 search")]
    pub scenario: String,
    /// Target of messages/s.
    #[arg(long)]
    pub goal: Option<String>,
    #[arg(long, default_value_t = 900)]
    pub timeout_secs: u64,
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct RebuildArgs {
    /// The `concierge` binary.
    #[arg(long)]
    pub server: PathBuf,
    /// The stopped node's DATA_DIR.
    #[arg(long)]
    pub data_dir: PathBuf,
    /// The node's NATS_URL (127.0.0.x only).
    #[arg(long)]
    pub nats: String,
    /// The node's STREAM_REPLICAS.
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
    /// `message_sent` events in the log (for messages/s).
    #[arg(long)]
    pub messages: u64,
    #[arg(long, default_value = "10 search")]
    pub scenario: String,
    /// Target of messages/s.
    #[arg(long)]
    pub goal: Option<String>,
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct QueryArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long, default_value = "10 search")]
    pub scenario: String,
    /// Customers `cus0..cusN`, each with one conversation (as `loadgen seed` makes them).
    #[arg(long, default_value_t = 1000)]
    pub conversations: usize,
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    /// How many of the clients search as admins (each its own admin); the others as customers,
    /// each request as the next customer.
    #[arg(long, default_value_t = 16)]
    pub admin_clients: usize,
    /// Measured seconds, after a 1 s warm-up.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Target of the p99 latency, ms.
    #[arg(long, default_value_t = 20.0)]
    pub p99_goal_ms: f64,
    /// The server's process id: when given, its CPU time per query is recorded (and this
    /// process's share of the two cores printed).
    #[arg(long)]
    pub server_pid: Option<u32>,
}

/// The value of the first sample of `name` whose labels include `label` (`key="value"`) in a
/// Prometheus text exposition.
fn sample(text: &str, name: &str, label: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let labels = line.strip_prefix(name)?.strip_prefix('{')?;
        let (labels, value) = labels.split_once('}')?;
        if !labels.split(',').any(|l| l.trim() == label) {
            return None;
        }
        value.split_whitespace().next()?.parse().ok()
    })
}

fn since_ns(started_ns: u128) -> Result<f64> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    Ok(now.saturating_sub(started_ns) as f64 / 1e9)
}

/// Polls `/ready` and `/metrics` every 20 ms from a node's start until the search index has every
/// event of the log (`concierge_projection_checkpoint{projection="search"}` at the log's last
/// sequence and `concierge_projection_lag{projection="search"}` 0) and `/ready` is 200; records the
/// seconds from the node's exec to each, and messages/s to the first.
///
/// # Errors
/// When either has not happened within the timeout, or rows cannot be written.
pub async fn catch_up(a: CatchUpArgs) -> Result<()> {
    common::check_loopback(a.addr.ip())?;
    let last = log::last_seq(&a.nats, &a.stream).await?;
    let http = common::http_client();
    let url = |path: &str| format!("http://{}{path}", a.addr);
    let deadline = Instant::now() + Duration::from_secs(a.timeout_secs);
    let (mut ready, mut searchable) = (None, None);
    let mut seen = None;
    let mut last_print = Instant::now();
    while ready.is_none() || searchable.is_none() {
        if ready.is_none() {
            if let Ok(res) = http.get(url("/ready")).send().await {
                if res.status().as_u16() == 200 {
                    ready = Some(since_ns(a.started_ns)?);
                }
            }
        }
        if searchable.is_none() {
            if let Ok(res) = http.get(url("/metrics")).send().await {
                let text = res.text().await.unwrap_or_default();
                let checkpoint = sample(&text, "concierge_projection_checkpoint", SEARCH);
                let lag = sample(&text, "concierge_projection_lag", SEARCH);
                if let (Some(checkpoint), Some(lag)) = (checkpoint, lag) {
                    seen = Some(checkpoint);
                    if checkpoint >= last as f64 && lag == 0.0 {
                        searchable = Some(since_ns(a.started_ns)?);
                    }
                }
            }
        }
        if last_print.elapsed() >= Duration::from_secs(2) {
            eprintln!(
                "catching up: search checkpoint {} of {last}, ready {}",
                seen.map_or("(not in /metrics)".into(), |s| format!("{s:.0}")),
                ready.is_some()
            );
            last_print = Instant::now();
        }
        if let (Some(at), None) = (ready, seen) {
            if since_ns(a.started_ns)? > at + 10.0 {
                bail!("/ready is 200, but /metrics has no concierge_projection_checkpoint{{{SEARCH}}} and _lag 10 s later");
            }
        }
        if Instant::now() > deadline {
            bail!(
                "within {} s: /ready 200 {:?}, search checkpoint {seen:?} of {last} with lag 0 {:?}",
                a.timeout_secs,
                ready,
                searchable
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (ready, searchable) = (ready.expect("ready"), searchable.expect("searchable"));
    eprintln!(
        "live: {last} events searchable {searchable:.2} s after exec ({:.0} messages/s), /ready at {ready:.2} s",
        a.messages as f64 / searchable
    );
    let rows = Rows::new(a.out, &a.scenario);
    rows.add("live: s from exec to search lag 0", searchable, None)?;
    rows.add(
        "live: messages/s indexed",
        a.messages as f64 / searchable,
        a.goal.as_deref(),
    )?;
    rows.add("live: s from exec to /ready", ready, None)
}

/// What `concierge rebuild --search` says at the end: events, seconds, index bytes.
fn parse_rebuilt(line: &str) -> Option<(u64, f64, u64)> {
    let rest = line.strip_prefix("rebuilt the search index from ")?;
    let (events, rest) = rest.split_once(" events in ")?;
    let (secs, rest) = rest.split_once(" s")?;
    let (_, bytes) = rest.rsplit_once("; index ")?;
    let bytes = bytes.trim().strip_suffix(" bytes")?;
    Some((
        events.parse().ok()?,
        secs.parse().ok()?,
        bytes.parse().ok()?,
    ))
}

/// Runs `concierge rebuild --search` on the stopped node's DATA_DIR, its progress lines passed on
/// to stderr; records its wall time (exec to exit) and messages/s over it.
///
/// # Errors
/// When it fails, or does not end with its `rebuilt the search index …` line.
pub async fn rebuild(a: RebuildArgs) -> Result<()> {
    for server in a.nats.split(',') {
        common::check_nats_url(server.trim())?;
    }
    let started = Instant::now();
    let mut child = tokio::process::Command::new(&a.server)
        .args(["rebuild", "--search"])
        .env("DATA_DIR", &a.data_dir)
        .env("NATS_URL", &a.nats)
        .env("STREAM_REPLICAS", a.replicas.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("run {}", a.server.display()))?;
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let mut rebuilt = None;
    while let Some(line) = lines.next_line().await? {
        eprintln!("  {line}");
        if let Some(r) = parse_rebuilt(&line) {
            rebuilt = Some(r);
        }
    }
    let status = child.wait().await?;
    let secs = started.elapsed().as_secs_f64();
    if !status.success() {
        bail!("concierge rebuild --search: {status}");
    }
    let Some((events, own_secs, bytes)) = rebuilt else {
        bail!("concierge rebuild --search printed no `rebuilt the search index from …` line");
    };
    eprintln!(
        "rebuild --search: {events} events, {secs:.2} s wall ({own_secs:.2} s its own), {:.0} messages/s, index {bytes} bytes",
        a.messages as f64 / secs
    );
    let rows = Rows::new(a.out, &a.scenario);
    rows.add("rebuild --search s (wall)", secs, None)?;
    rows.add(
        "rebuild --search messages/s",
        a.messages as f64 / secs,
        a.goal.as_deref(),
    )
}

/// One page of results, as far as the checks go.
#[derive(Deserialize)]
struct Page {
    results: Vec<Hit>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Hit {
    #[serde(default)]
    booking_id: Option<String>,
    #[serde(default)]
    internal: bool,
    #[serde(default)]
    snippet: String,
    #[serde(default)]
    highlights: Vec<(usize, usize)>,
}

/// The answer bare (as the contract shows it) or in the `data` envelope of the other routes.
#[derive(Deserialize)]
#[serde(untagged)]
enum Answer {
    Bare(Page),
    Wrapped { data: Page },
}

/// What was wrong with a 200.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Wrong {
    /// Not a page of results, or highlights outside the snippet or out of order.
    Malformed,
    /// No result for a query that has some for everyone.
    Empty,
    /// Results for a query that matches nothing.
    Unexpected,
    /// A customer got another booking's message, or a note.
    Foreign,
}

const WRONG: [Wrong; 4] = [
    Wrong::Malformed,
    Wrong::Empty,
    Wrong::Unexpected,
    Wrong::Foreign,
];

impl Wrong {
    fn figure(self) -> &'static str {
        match self {
            Wrong::Malformed => "malformed answers",
            Wrong::Empty => "no results where every caller has some",
            Wrong::Unexpected => "results for a query matching nothing",
            Wrong::Foreign => "results outside the customer's booking, or notes",
        }
    }
}

/// Checks a 200's body against what the query should find; `booking` is a customer's.
fn judge(body: &[u8], expect: Expect, booking: Option<&str>) -> Result<usize, Wrong> {
    let page = match serde_json::from_slice::<Answer>(body) {
        Ok(Answer::Bare(p)) | Ok(Answer::Wrapped { data: p }) => p,
        Err(_) => return Err(Wrong::Malformed),
    };
    for hit in &page.results {
        let chars = hit.snippet.chars().count();
        let mut end = 0;
        for &(s, e) in &hit.highlights {
            if s < end || s >= e || e > chars {
                return Err(Wrong::Malformed);
            }
            end = e;
        }
        if let Some(booking) = booking {
            if hit.internal || hit.booking_id.as_deref() != Some(booking) {
                return Err(Wrong::Foreign);
            }
        }
    }
    match (expect, page.results.is_empty()) {
        (Expect::Results, true) => Err(Wrong::Empty),
        (Expect::Nothing, false) => Err(Wrong::Unexpected),
        _ => Ok(page.results.len()),
    }
}

/// The failures of a run, counted, with the first of each kind kept to show.
#[derive(Default)]
struct Tally {
    wrong: [AtomicU64; 4],
    sample: Mutex<Vec<String>>,
}

impl Tally {
    fn note(&self, index: usize, what: String) {
        if let Some(n) = self.wrong.get(index) {
            n.fetch_add(1, Ordering::Relaxed);
        }
        let mut sample = self.sample.lock().expect("not poisoned");
        if sample.len() < 8 {
            sample.push(what);
        }
    }
}

/// The callers: admins' tokens, and customers' with their booking ids.
struct Callers {
    admins: Vec<String>,
    customers: Vec<(String, String)>,
}

/// One search as `client` (its `k`th request): the lane its latency is counted in (kind × role),
/// or `None` when the answer is not a 200 (or never came).
fn search(
    http: &reqwest::Client,
    t: &Target,
    callers: &Callers,
    tally: &Arc<Tally>,
    client: usize,
    k: usize,
    clients: usize,
) -> impl std::future::Future<Output = Option<usize>> + Send + 'static {
    let query = text::query(client, k);
    let kind = text::kinds()
        .iter()
        .position(|&x| x == query.kind)
        .expect("a kind of the mix");
    let (token, booking, role) = if client < callers.admins.len() {
        (&callers.admins[client], None, 0)
    } else {
        let (token, booking) = &callers.customers[(client + k * clients) % callers.customers.len()];
        (token, Some(booking.clone()), 1)
    };
    let req = http
        .get(t.http("/messaging/search"))
        .query(&[("q", query.q.as_str())])
        .bearer_auth(token);
    let tally = tally.clone();
    async move {
        let res = match req.send().await {
            Ok(res) => res,
            Err(e) => {
                tally.note(usize::MAX, format!("{:?}: {e}", query.q));
                return None;
            }
        };
        let status = res.status().as_u16();
        let body = res.bytes().await.ok()?;
        if status != 200 {
            let body = String::from_utf8_lossy(&body);
            tally.note(usize::MAX, format!("{:?}: {status} {body}", query.q));
            return None;
        }
        if let Err(w) = judge(&body, query.expect, booking.as_deref()) {
            let who = booking.as_deref().unwrap_or("an admin");
            let body = String::from_utf8_lossy(&body);
            let body: String = body.chars().take(300).collect();
            let index = WRONG.iter().position(|&x| x == w).expect("listed");
            tally.note(index, format!("{w:?} {:?} as {who}: {body}", query.q));
        }
        Some(kind * 2 + role)
    }
}

/// Scenario 10's queries: first each query of the mix once as an admin and once as `cus0` (shown),
/// then `clients` keep-alive loops for 1 s (warm-up) and `--duration` s: queries/s, latency over all
/// the 200s, per role and per kind (kinds on stderr), and the failures.
///
/// # Errors
/// When rows cannot be written.
pub async fn queries(a: QueryArgs) -> Result<()> {
    a.target.check()?;
    let t = &a.target;
    let rows = Rows::new(t.out.clone(), &a.scenario);
    let http = common::http_client();
    let callers = Arc::new(Callers {
        admins: (0..a.admin_clients.min(a.clients))
            .map(|i| common::token(&t.secret, &format!("adm_search{i}"), "admin"))
            .collect(),
        customers: (0..a.conversations.max(1))
            .map(|i| {
                let token = common::token(&t.secret, &format!("cus{i}"), "customer");
                (token, format!("bk{i}"))
            })
            .collect(),
    });
    // Each query of the mix once as an admin and once as cus0, shown (client 0's first 20
    // requests are the 20 slots of the mix).
    for k in 0..20 {
        let q = text::query(0, k);
        let mut line = format!("  {:<14} {:<22}", q.kind, q.q);
        let admin = &common::token(&t.secret, "adm_search0", "admin");
        let (customer, booking) = &callers.customers[0];
        for (who, token, booking) in [("admin", admin, None), ("cus0", customer, Some(booking))] {
            let at = Instant::now();
            let res = http
                .get(t.http("/messaging/search"))
                .query(&[("q", q.q.as_str())])
                .bearer_auth(token)
                .send()
                .await;
            let shown = match res {
                Ok(res) => {
                    let status = res.status().as_u16();
                    let body = res.bytes().await.unwrap_or_default();
                    match (status, judge(&body, q.expect, booking.map(String::as_str))) {
                        (200, Ok(n)) => format!("{n:>2} results"),
                        (200, Err(w)) => format!("{w:?}"),
                        (status, _) => format!("{status} {}", String::from_utf8_lossy(&body)),
                    }
                }
                Err(e) => format!("{e}"),
            };
            let took = at.elapsed().as_secs_f64() * 1e3;
            line.push_str(&format!("  {who}: {shown} {took:.1} ms"));
        }
        eprintln!("{line}");
    }

    let kinds = text::kinds();
    let lanes = kinds.len() * 2;
    let c = a.clients;
    let mut run = None;
    let mut cpu = (None, 0.0);
    for secs in [1.0, a.duration] {
        cpu = (
            a.server_pid.and_then(|p| common::cpu_secs(Some(p)).ok()),
            common::cpu_secs(None)?,
        );
        let tally = Arc::new(Tally::default());
        let closed = common::closed_loop(c, lanes, secs, |client| {
            let (http, t, callers, tally) =
                (http.clone(), t.clone(), callers.clone(), tally.clone());
            move |k| search(&http, &t, &callers, &tally, client, k, c)
        })
        .await;
        run = Some((closed, tally));
    }
    let (run, tally) = run.expect("a measured run");
    let own_cpu = common::cpu_secs(None)? - cpu.1;
    let server_cpu = cpu
        .0
        .zip(a.server_pid)
        .and_then(|(before, p)| Some(common::cpu_secs(Some(p)).ok()? - before));
    let all = run.all();
    let per_role = |role: usize| {
        let mut h = histogram();
        for lane in run.lanes.iter().skip(role).step_by(2) {
            h.add(lane).expect("same bounds");
        }
        h
    };
    let (admins, customers) = (per_role(0), per_role(1));
    for (i, kind) in kinds.iter().enumerate() {
        let mut h = run.lanes[2 * i].clone();
        h.add(&run.lanes[2 * i + 1]).expect("same bounds");
        eprintln!(
            "  {kind:<14} {:>7} queries p50 {:>6.2} ms p99 {:>6.2} ms (admins p99 {:.2}, customers p99 {:.2})",
            h.len(),
            ms(&h, 0.5),
            ms(&h, 0.99),
            ms(&run.lanes[2 * i], 0.99),
            ms(&run.lanes[2 * i + 1], 0.99)
        );
    }
    let wrong: Vec<u64> = tally
        .wrong
        .iter()
        .map(|n| n.load(Ordering::Relaxed))
        .collect();
    let failed = run.errors + wrong.iter().sum::<u64>();
    eprintln!(
        "search: {:.0} queries/s, p50 {:.2} ms p99 {:.2} ms max {:.2} ms (admins p99 {:.2}, customers p99 {:.2}); {} not 200, {failed} failed in all",
        run.per_sec(),
        ms(&all, 0.5),
        ms(&all, 0.99),
        ms(&all, 1.0),
        ms(&admins, 0.99),
        ms(&customers, 0.99),
        run.errors
    );
    for s in tally.sample.lock().expect("not poisoned").iter() {
        eprintln!("  ! {s}");
    }
    let queries = all.len().max(1) as f64;
    eprintln!(
        "CPU: loadgen {:.0} % of a core{}",
        100.0 * own_cpu / run.secs,
        server_cpu.map_or(String::new(), |c| format!(
            ", server {:.0} % ({:.3} ms per query)",
            100.0 * c / run.secs,
            1e3 * c / queries
        ))
    );
    let goal = format!("<={}", a.p99_goal_ms);
    rows.add(&format!("queries/s, {c} clients"), run.per_sec(), None)?;
    rows.add("query p50 ms", ms(&all, 0.5), None)?;
    rows.add("query p99 ms", ms(&all, 0.99), Some(&goal))?;
    rows.add("query max ms", ms(&all, 1.0), None)?;
    rows.add(
        &format!("query p99 ms, {} admin clients", callers.admins.len()),
        ms(&admins, 0.99),
        None,
    )?;
    rows.add(
        &format!(
            "query p99 ms, {} customer clients",
            c - callers.admins.len()
        ),
        ms(&customers, 0.99),
        None,
    )?;
    if let Some(c) = server_cpu {
        rows.add("server CPU ms per query", 1e3 * c / queries, None)?;
    }
    rows.add("failed queries", failed as f64, Some("<=0"))?;
    if run.errors > 0 {
        rows.add("answers not 200", run.errors as f64, Some("<=0"))?;
    }
    for (w, n) in WRONG.iter().zip(&wrong) {
        if *n > 0 {
            rows.add(w.figure(), *n as f64, Some("<=0"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_search_projection_from_metrics() {
        let text = "# TYPE concierge_projection_lag gauge\n\
            concierge_projection_lag{projection=\"views\"} 3\n\
            concierge_projection_lag{projection=\"search\"} 12\n\
            concierge_projection_checkpoint{node=\"a\",projection=\"search\"} 1000000\n\
            concierge_projection_lag_total{projection=\"search\"} 9\n";
        assert_eq!(sample(text, "concierge_projection_lag", SEARCH), Some(12.0));
        assert_eq!(
            sample(text, "concierge_projection_checkpoint", SEARCH),
            Some(1e6)
        );
        assert_eq!(sample(text, "concierge_search_index_bytes", SEARCH), None);
    }

    #[test]
    fn reads_the_rebuilds_last_line() {
        let line = "rebuilt the search index from 1003000 events in 14.2 s (70634 events/s); \
                    checkpoint 1003000; index 123456789 bytes";
        assert_eq!(parse_rebuilt(line), Some((1_003_000, 14.2, 123_456_789)));
        assert_eq!(parse_rebuilt("indexed 10/20 (50%), 10 events/s"), None);
    }

    #[test]
    fn judges_answers() {
        let hit = |booking: &str, internal: bool, hl: &str| {
            format!(
                r#"{{"messageId":"01J","conversationId":"01K","bookingId":"{booking}","sender":"ann",
                "createdAt":"2026-12-03T10:00:00.123Z","internal":{internal},
                "snippet":"… the Café on the rooftop …","highlights":{hl}}}"#
            )
        };
        let page =
            |hits: &[String]| format!(r#"{{"results":[{}],"nextCursor":null}}"#, hits.join(","));
        let good = page(&[hit("bk1", false, "[[6,10],[18,25]]")]);
        assert_eq!(judge(good.as_bytes(), Expect::Results, Some("bk1")), Ok(1));
        assert_eq!(judge(good.as_bytes(), Expect::Unknown, None), Ok(1));
        let wrapped = format!(r#"{{"data":{good}}}"#);
        assert_eq!(judge(wrapped.as_bytes(), Expect::Results, None), Ok(1));
        assert_eq!(
            judge(good.as_bytes(), Expect::Nothing, None),
            Err(Wrong::Unexpected)
        );
        assert_eq!(
            judge(good.as_bytes(), Expect::Results, Some("bk2")),
            Err(Wrong::Foreign)
        );
        let note = page(&[hit("bk1", true, "[]")]);
        assert_eq!(
            judge(note.as_bytes(), Expect::Results, Some("bk1")),
            Err(Wrong::Foreign)
        );
        assert_eq!(judge(note.as_bytes(), Expect::Results, None), Ok(1));
        let empty = page(&[]);
        assert_eq!(
            judge(empty.as_bytes(), Expect::Results, None),
            Err(Wrong::Empty)
        );
        assert_eq!(judge(empty.as_bytes(), Expect::Nothing, None), Ok(0));
        // The snippet is 27 code points (the `…` are one each, three bytes each).
        let past = page(&[hit("bk1", false, "[[20,28]]")]);
        assert_eq!(
            judge(past.as_bytes(), Expect::Results, None),
            Err(Wrong::Malformed)
        );
        let last = page(&[hit("bk1", false, "[[20,27]]")]);
        assert_eq!(judge(last.as_bytes(), Expect::Results, None), Ok(1));
        let overlapping = page(&[hit("bk1", false, "[[6,10],[8,12]]")]);
        assert_eq!(
            judge(overlapping.as_bytes(), Expect::Results, None),
            Err(Wrong::Malformed)
        );
        assert_eq!(
            judge(b"{\"error\":{}}", Expect::Unknown, None),
            Err(Wrong::Malformed)
        );
    }
}
