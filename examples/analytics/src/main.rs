//! `concierge-analytics`: reads Concierge's event stream with a durable consumer of its own and prints
//! per-conversation first-response and resolution times with their averages (docs/events.md).

use anyhow::{bail, Context};
use clap::{Parser, ValueEnum};
use concierge_analytics_example::{
    consume_available, consume_batch, durable_consumer, ResponseTimes, Row, Summary,
};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one `--follow` fetch waits for a full batch before folding what came.
const FOLLOW_WAIT: Duration = Duration::from_secs(2);

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Aligned columns and a summary line.
    Table,
    /// One JSON object per conversation, then `{"summary": …}`.
    Json,
}

/// Per-conversation first-response and resolution times from Concierge's event stream.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// The NATS server holding the stream.
    #[arg(long, env = "NATS_URL", default_value = "nats://127.0.0.1:4222")]
    nats: String,
    /// The event log's stream.
    #[arg(long, env = "STREAM_NAME", default_value = "CONCIERGE")]
    stream: String,
    /// The durable consumer's name: NATS remembers how far it has read.
    #[arg(long, default_value = "concierge-analytics")]
    durable: String,
    /// The results so far and the last folded seq, written before each batch is acked.
    #[arg(long, default_value = "concierge-analytics.json")]
    state: PathBuf,
    /// Keep reading after the backlog, printing each conversation whose record changes.
    #[arg(long)]
    follow: bool,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut times = load(&args.state)?;
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(5))
        .connect(args.nats.as_str())
        .await
        .with_context(|| format!("connecting to {}", args.nats))?;
    let js = async_nats::jetstream::new(client);
    let consumer = durable_consumer(&js, &args.stream, &args.durable).await?;

    let acked = consumer.cached_info().ack_floor.stream_sequence;
    if acked > times.last_seq() {
        bail!(
            "the durable consumer {durable} has acked up to seq {acked}, but {state} only holds \
             events up to seq {last}: the state of an earlier run is missing, and counting from \
             here would give wrong times. Restore that file, or start over with another --durable \
             (or after deleting this consumer).",
            durable = args.durable,
            state = args.state.display(),
            last = times.last_seq(),
        );
    }

    let state = args.state.clone();
    let mut persist = move |times: &ResponseTimes| save(&state, times);
    let consumed = consume_available(&consumer, &mut times, &mut persist).await?;
    eprintln!(
        "folded {} new events ({} undecodable), last seq {}",
        consumed.folded,
        consumed.undecodable,
        times.last_seq()
    );
    print_report(&times, args.format)?;

    if !args.follow {
        return Ok(());
    }
    loop {
        let consumed = tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(()),
            consumed = consume_batch(&consumer, &mut times, Some(FOLLOW_WAIT), &mut persist) => consumed?,
        };
        for id in &consumed.changed {
            if let Some(row) = times.row(id) {
                print_row(&row, args.format)?;
            }
        }
    }
}

fn load(path: &Path) -> anyhow::Result<ResponseTimes> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a state file of this program", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ResponseTimes::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes the state to a temporary file beside `path` and renames it over `path`, so that a crash
/// leaves the old state or the new one, never half of one.
fn save(path: &Path, times: &ResponseTimes) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let json = serde_json::to_vec(times).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, json)?;
    std::fs::rename(&tmp, path)
}

fn print_report(times: &ResponseTimes, format: Format) -> anyhow::Result<()> {
    let rows = times.rows();
    let summary = times.summary();
    match format {
        Format::Json => {
            for row in &rows {
                println!("{}", serde_json::to_string(row)?);
            }
            println!("{}", serde_json::json!({ "summary": summary }));
        }
        Format::Table => {
            println!(
                "{:<26}  {:<20}  {:<8}  {:>14}  {:>14}",
                "conversation", "booking", "status", "first response", "resolution"
            );
            for row in &rows {
                print_row(row, format)?;
            }
            println!("{}", summary_line(&summary));
        }
    }
    Ok(())
}

fn print_row(row: &Row, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => println!("{}", serde_json::to_string(row)?),
        Format::Table => println!(
            "{:<26}  {:<20}  {:<8}  {:>14}  {:>14}",
            row.conversation_id,
            row.booking_id,
            row.status.as_str(),
            seconds(row.first_response_seconds),
            seconds(row.resolution_seconds),
        ),
    }
    Ok(())
}

fn seconds(value: Option<f64>) -> String {
    value.map_or_else(|| "-".to_string(), |s| format!("{s:.3} s"))
}

fn summary_line(s: &Summary) -> String {
    format!(
        "{} conversations; first response: {} of them, mean {}; resolved: {}, mean {}",
        s.conversations,
        s.first_responses,
        seconds(s.avg_first_response_seconds),
        s.resolved,
        seconds(s.avg_resolution_seconds),
    )
}
