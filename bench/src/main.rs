//! `loadgen`: the load generator of Concierge's benchmark suite (`bench/run.sh` drives it; see
//! `docs/performance.md`). It talks only to 127.0.0.x.
//!
//! # Layout
//! - `common`: server address, tokens, set-up calls, client sockets connected from a chosen
//!   loopback source address, histograms, result rows.
//! - `codec`: what client sockets speak: `/ws` frames or Socket.IO over the WebSocket transport.
//! - `sends`: scenarios 1 (WebSocket sends at fixed rates, either codec) and 2 (HTTP sends).
//! - `sockets`: scenarios 3 (idle sockets: memory, accept rate) and 4 (broadcast fan-out).
//! - `log`: straight to JetStream: seeding the log (5, 7, 10), the broadcast (4), the ceiling (8).
//! - `reads`: scenario 7 (read path).
//! - `text`: scenario 10's message texts (a vocabulary of a few thousand words, several scripts)
//!   and its mix of search queries.
//! - `search`: scenario 10 (search: indexing while catching up, `rebuild --search`, queries).
//! - `uploads`: scenario 9 (concurrent attachment uploads: throughput, the server's memory).
//! - `report`: the one markdown table from every run's rows; one run's ratio of two figures.

mod codec;
mod common;
mod log;
mod reads;
mod report;
mod search;
mod sends;
mod sockets;
mod text;
mod uploads;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Parser)]
#[command(
    name = "loadgen",
    about = "Load generator for the Concierge benchmark suite"
)]
struct Cli {
    /// Tokio worker threads.
    #[arg(long, global = true, default_value_t = 2)]
    workers: usize,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Prints a free TCP port on 127.0.0.1.
    FreePort,
    /// Waits for GET /ready 200 and records the time since `--started-ns`.
    WaitReady(WaitReadyArgs),
    /// Appends one result row.
    Record(RecordArgs),
    /// Scenario 1: WebSocket sends (`/ws`, or Socket.IO with `--codec socketio`).
    WsSends(sends::WsArgs),
    /// Scenario 2: HTTP sends.
    HttpSends(sends::HttpArgs),
    /// Scenario 3: idle sockets (`/ws`, or Socket.IO with `--codec socketio`).
    Connections(sockets::ConnArgs),
    /// Scenario 4: broadcast fan-out.
    Fanout(sockets::FanoutArgs),
    /// Scenarios 5, 7 and 10: put valid events straight into the log.
    Seed(log::SeedArgs),
    /// Scenario 7: read path.
    Reads(reads::ReadArgs),
    /// Scenario 8: JetStream publish ceiling.
    Ceiling(log::CeilingArgs),
    /// Scenario 9: concurrent attachment uploads, with the server's RSS.
    Uploads(uploads::UploadArgs),
    /// Scenario 10: time from a node's start until its search index holds the whole log.
    SearchCatchUp(search::CatchUpArgs),
    /// Scenario 10: times `concierge rebuild --search` on a stopped node's DATA_DIR.
    SearchRebuild(search::RebuildArgs),
    /// Scenario 10: search queries from concurrent keep-alive clients, admins and customers.
    SearchQueries(search::QueryArgs),
    /// Prints the table of all rows and writes it to a file.
    Report(report::ReportArgs),
    /// Records the quotient of two figures of the same run.
    Ratio(report::RatioArgs),
}

#[derive(clap::Args)]
struct WaitReadyArgs {
    #[arg(long, default_value = "127.0.0.1:3000")]
    addr: SocketAddr,
    /// When the server process was started, in ns since the Unix epoch (`date +%s%N`).
    #[arg(long)]
    started_ns: u128,
    #[arg(long)]
    scenario: String,
    #[arg(long)]
    figure: String,
    #[arg(long)]
    goal: Option<String>,
    /// When set, also records `events / seconds` as "events/s".
    #[arg(long)]
    events: Option<u64>,
    #[arg(long)]
    events_goal: Option<String>,
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(clap::Args)]
struct RecordArgs {
    #[arg(long)]
    scenario: String,
    #[arg(long)]
    figure: String,
    #[arg(long)]
    value: f64,
    #[arg(long)]
    goal: Option<String>,
    #[arg(long)]
    out: Option<PathBuf>,
}

async fn wait_ready(a: WaitReadyArgs) -> Result<()> {
    let target = common::Target {
        addr: a.addr,
        secret: String::new(),
        sources: 1,
        out: None,
        codec: codec::Codec::Ws,
    };
    target.check()?;
    common::wait_ready(&target, Duration::from_secs(a.timeout_secs)).await?;
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let secs = now.saturating_sub(a.started_ns) as f64 / 1e9;
    let rows = common::Rows::new(a.out, &a.scenario);
    rows.add(&a.figure, secs, a.goal.as_deref())?;
    if let Some(n) = a.events {
        rows.add("events/s", n as f64 / secs, a.events_goal.as_deref())?;
    }
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.workers.max(1))
        .enable_all()
        .build()?;
    common::base();
    runtime.block_on(async move {
        match cli.cmd {
            Cmd::FreePort => {
                let l = std::net::TcpListener::bind("127.0.0.1:0")?;
                println!("{}", l.local_addr()?.port());
                Ok(())
            }
            Cmd::WaitReady(a) => wait_ready(a).await,
            Cmd::Record(a) => {
                common::Rows::new(a.out, &a.scenario).add(&a.figure, a.value, a.goal.as_deref())
            }
            Cmd::WsSends(a) => sends::ws_sends(a).await,
            Cmd::HttpSends(a) => sends::http_sends(a).await,
            Cmd::Connections(a) => sockets::connections(a).await,
            Cmd::Fanout(a) => sockets::fanout(a).await,
            Cmd::Seed(a) => log::seed(a).await,
            Cmd::Reads(a) => reads::reads(a).await,
            Cmd::Ceiling(a) => log::ceiling(a).await,
            Cmd::Uploads(a) => uploads::uploads(a).await,
            Cmd::SearchCatchUp(a) => search::catch_up(a).await,
            Cmd::SearchRebuild(a) => search::rebuild(a).await,
            Cmd::SearchQueries(a) => search::queries(a).await,
            Cmd::Report(a) => report::report(a),
            Cmd::Ratio(a) => report::ratio(a),
        }
    })
}
