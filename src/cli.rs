//! Operator commands beside `serve`: `rebuild` the views from the log, `replay` a conversation as a
//! transcript as of a moment, `tail` the live stream as JSON lines, `skip` an event a node cannot fold,
//! `webhooks failed|redeliver` the dead letters.

use crate::config::{LogConfig, ReplayArgs, SkipArgs, TailArgs};
use crate::history::{self, Moment};
use crate::log::{self, Connection};
use crate::projection::{self, Progress};
use crate::search::{writer::Indexer, SearchIndex};
use crate::webhooks::queue::{QueueError, Queues};
use anyhow::{bail, Context};
use concierge_events::MessageType;
use concierge_projections::views::{ConversationView, MessageView};
use concierge_projections::ViewStore;
use futures::StreamExt;
use std::io::Write;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// The log an operator command reads, from the same settings as `serve`: NATS_URL, or the node's
/// local nats-server started for the duration of the command (the node itself must be stopped: it
/// owns that server). Waits up to 10 s for the connection.
async fn open(settings: &LogConfig) -> anyhow::Result<Connection> {
    let conn = Connection::open(settings).await?;
    let connected = async {
        while !conn.log.is_connected() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    if tokio::time::timeout(Duration::from_secs(10), connected)
        .await
        .is_err()
    {
        let url = log::redacted_url(&conn.url);
        conn.close().await;
        bail!("cannot reach NATS at {url}");
    }
    Ok(conn)
}

/// `concierge skip --seq N`: records the operator's decision that this node passes over event N
/// if it cannot fold it. The decision is kept in the node's data folder (`skipped-events`, one
/// line per event, with when it was taken) and logged by the node when it acts on it.
pub fn skip(args: &SkipArgs) -> anyhow::Result<()> {
    let path = projection::skip_file(&args.log.data_dir);
    if projection::read_skips(&path).contains(&args.seq) {
        println!("event {} is already skipped ({})", args.seq, path.display());
        return Ok(());
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    writeln!(
        file,
        "{} skipped by the operator at {}",
        args.seq,
        concierge_events::Timestamp::now()
    )
    .and_then(|()| file.sync_all())
    .with_context(|| format!("cannot write {}", path.display()))?;
    println!(
        "event {} will be passed over if this node cannot fold it ({}); its views will lack it",
        args.seq,
        path.display()
    );
    Ok(())
}

/// `concierge rebuild`: wipes this node's views and folds the whole log into them with the node's
/// own projection worker, printing progress and the rate. The node must be stopped.
pub async fn rebuild(settings: LogConfig) -> anyhow::Result<()> {
    let dir = settings.data_dir.join("views");
    let cipher = settings
        .views_key
        .as_ref()
        .map(|k| concierge_projections::Cipher::new(&k.0));
    let views = ViewStore::open_sealed(&dir, cipher).with_context(|| {
        format!(
            "cannot open the views in {} (is a node still running on this DATA_DIR? stop it first)",
            dir.display()
        )
    })?;
    let log = open(&settings).await?;
    let last = log_end(&log).await?;
    views.wipe().context("cannot wipe the views")?;
    println!("wiped the views in {}", dir.display());
    println!("folding {last} events from {}", settings.stream_name);

    let progress = Progress::new(
        "views",
        0,
        concierge_events::EVENT_LEVEL,
        projection::skip_file(&settings.data_dir),
    );
    let (fanout, mut no_sockets) = mpsc::channel(16);
    let drain = tokio::spawn(async move { while no_sockets.recv().await.is_some() {} });
    let projection = projection::views::Views {
        store: views.clone(),
        progress: progress.clone(),
        fanout,
    };
    let driven = drive(&log, projection, &progress, last, "folded").await;
    drain.abort();
    views.flush().context("cannot flush the views")?;
    let secs = match driven {
        Ok(secs) => secs,
        Err(e) => {
            log.close().await;
            return Err(e);
        }
    };
    let n = views.checkpoint().context("cannot read the checkpoint")?;
    println!(
        "rebuilt the views from {n} events in {secs:.1} s ({:.0} events/s); checkpoint {n}",
        n as f64 / secs.max(1e-9)
    );
    log.close().await;
    Ok(())
}

/// `concierge rebuild --search`: wipes this node's search index and indexes the whole log with the
/// node's own projection worker, printing progress, the rate and the index's size. The node must be
/// stopped.
pub async fn rebuild_search(settings: LogConfig) -> anyhow::Result<()> {
    let dir = settings.data_dir.join("search");
    let index = std::sync::Arc::new(
        SearchIndex::open(&dir)
            .with_context(|| format!("cannot open the search index in {}", dir.display()))?,
    );
    let indexer = Indexer::new(index.clone(), crate::search::writer::COMMIT_EVENTS).with_context(|| {
        format!(
            "cannot write the search index in {} (is a node still running on this DATA_DIR? stop it first)",
            dir.display()
        )
    })?;
    let log = open(&settings).await?;
    let last = log_end(&log).await?;
    indexer
        .wipe()
        .await
        .context("cannot wipe the search index")?;
    println!("wiped the search index in {}", dir.display());
    println!("indexing {last} events from {}", settings.stream_name);
    let progress = Progress::new(
        "search",
        0,
        concierge_events::EVENT_LEVEL,
        projection::skip_file(&settings.data_dir),
    );
    let secs = match drive(&log, indexer, &progress, last, "indexed").await {
        Ok(secs) => secs,
        Err(e) => {
            log.close().await;
            return Err(e);
        }
    };
    let n = index.checkpoint().context("cannot read the checkpoint")?;
    println!(
        "rebuilt the search index from {n} events in {secs:.1} s ({:.0} events/s); checkpoint {n}; index {} bytes",
        n as f64 / secs.max(1e-9),
        index.size_on_disk()
    );
    log.close().await;
    Ok(())
}

/// The seq of the log's last event.
async fn log_end(log: &Connection) -> anyhow::Result<u64> {
    let (_, last) = log
        .log
        .bounds()
        .await
        .context("cannot read the log's bounds")?;
    Ok(last)
}

/// Runs `projection` over the log until it has folded up to `last`, printing `<verb> n/last` each
/// second; the seconds it took.
async fn drive<P: projection::Projection>(
    log: &Connection,
    projection: P,
    progress: &std::sync::Arc<Progress>,
    last: u64,
    verb: &str,
) -> anyhow::Result<f64> {
    let projection = std::sync::Arc::new(projection);
    let (stop, stopped) = watch::channel(false);
    let worker = tokio::spawn(projection::run(
        log.log.clone(),
        projection.clone(),
        progress.clone(),
        stopped,
    ));
    let started = Instant::now();
    let mut folded = progress.subscribe();
    let mut last_print = Instant::now();
    while *folded.borrow_and_update() < last {
        if let Some(blocked) = progress.blocked() {
            let _ = stop.send(true);
            let _ = worker.await;
            bail!("the rebuild {blocked}");
        }
        tokio::select! {
            changed = folded.changed() => if changed.is_err() { break },
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
        if last_print.elapsed() >= Duration::from_secs(1) {
            let n = progress.folded();
            let secs = started.elapsed().as_secs_f64();
            println!(
                "{verb} {n}/{last} ({:.0}%), {:.0} events/s",
                100.0 * n as f64 / last.max(1) as f64,
                n as f64 / secs.max(1e-9)
            );
            last_print = Instant::now();
        }
    }
    let _ = stop.send(true);
    let _ = worker.await;
    Ok(started.elapsed().as_secs_f64())
}

/// `concierge replay`: the conversation as of `--at` (default: now), as a readable transcript.
pub async fn replay(args: ReplayArgs, settings: LogConfig) -> anyhow::Result<()> {
    let moment = match &args.at {
        None => Moment::Seq(u64::MAX),
        Some(at) => Moment::parse(at)
            .with_context(|| format!("--at {at:?} is neither an RFC 3339 time nor a seq"))?,
    };
    if !concierge_events::ids::is_ulid(&args.conversation) {
        bail!("--conversation must be a 26-character ULID");
    }
    let log = open(&settings).await?;
    let then = history::at(&log.log, &args.conversation, moment)
        .await
        .context("cannot read the log")?;
    log.close().await;
    let Some(then) = then else {
        bail!(
            "conversation {} did not exist at that moment",
            args.conversation
        );
    };
    let mut out = std::io::stdout().lock();
    out.write_all(transcript(&then.conversation, &then.messages, then.as_of_seq).as_bytes())?;
    Ok(())
}

/// A conversation and its messages as plain text, one line per message.
pub fn transcript(conv: &ConversationView, messages: &[MessageView], as_of_seq: u64) -> String {
    let mut s = format!(
        "conversation {} · {} · booking {} · {} · as of seq {as_of_seq}\n",
        conv.id,
        conv.title,
        conv.booking_id,
        conv.status.as_str()
    );
    let people: Vec<String> = conv
        .participants
        .iter()
        .map(|p| {
            format!(
                "{} ({}, {}, {} unread)",
                p.name,
                p.user_id,
                p.role.as_str(),
                conv.unread_for(&p.user_id)
            )
        })
        .collect();
    s.push_str(&format!("participants: {}\n", people.join(", ")));
    for m in messages {
        let name = conv
            .participants
            .iter()
            .find(|p| p.user_id == m.sender)
            .map_or(m.sender.as_str(), |p| p.name.as_str());
        let body = if m.is_deleted {
            "[deleted]".to_string()
        } else {
            let mut body = m.content.replace('\n', "\n    ");
            if m.message_type != MessageType::Text {
                body = format!("[{}] {body}", message_type(m.message_type));
            }
            for a in &m.attachments {
                body.push_str(&format!(" <{}>", a.filename));
            }
            body
        };
        s.push_str(&format!(
            "{} #{} {name}: {body}",
            m.created_at.to_rfc3339(),
            m.seq
        ));
        if m.is_edited && !m.is_deleted {
            s.push_str(" (edited)");
        }
        if !m.reactions.is_empty() {
            let r: Vec<String> = m
                .reactions
                .iter()
                .map(|r| format!("{} {}", r.emoji, r.user))
                .collect();
            s.push_str(&format!(" [{}]", r.join(", ")));
        }
        if !m.read_by.is_empty() {
            let r: Vec<&str> = m.read_by.iter().map(|r| r.user.as_str()).collect();
            s.push_str(&format!(" (read by {})", r.join(", ")));
        }
        s.push('\n');
    }
    s
}

fn message_type(t: MessageType) -> &'static str {
    match t {
        MessageType::Text => "text",
        MessageType::Image => "image",
        MessageType::File => "file",
        MessageType::System => "system",
    }
}

/// `concierge tail`: the log as JSON lines (each event as stored, with its `seq`), from `--since`
/// on or from now, until interrupted.
pub async fn tail(args: TailArgs, settings: LogConfig) -> anyhow::Result<()> {
    let log = open(&settings).await?;
    let start = match args.since {
        Some(since) => since.saturating_add(1),
        None => {
            log.log
                .bounds()
                .await
                .context("cannot read the log's bounds")?
                .1
                + 1
        }
    };
    let mut events = log
        .log
        .consume_from(start)
        .await
        .context("cannot open a consumer on the log")?;
    let stop = tokio::signal::ctrl_c();
    tokio::pin!(stop);
    let mut out = std::io::stdout();
    loop {
        let msg = tokio::select! {
            msg = events.next() => msg,
            _ = &mut stop => break,
        };
        let Some(msg) = msg else { break };
        let msg = msg.context("the log consumer failed")?;
        let seq = msg
            .info()
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .stream_sequence;
        if !args.types.is_empty() {
            let wanted = event_type(&msg.payload).is_some_and(|t| args.types.contains(&t));
            if !wanted {
                continue;
            }
        }
        if let Some(line) = log::with_seq(seq, &msg.payload) {
            writeln!(out, "{}", line.get())?;
            out.flush()?;
        }
    }
    log.close().await;
    Ok(())
}

/// The `type` of a stored event, read without decoding the rest.
fn event_type(payload: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Head {
        #[serde(rename = "type")]
        kind: String,
    }
    serde_json::from_slice::<Head>(payload).ok().map(|h| h.kind)
}

/// `concierge webhooks failed`: the dead letters, as JSON lines or a table.
pub async fn webhooks_failed(table: bool, settings: LogConfig) -> anyhow::Result<()> {
    let conn = open(&settings).await?;
    let listed = async {
        let Some(queues) = Queues::open(conn.log.jetstream()).await? else {
            return Ok::<_, anyhow::Error>(None);
        };
        Ok(Some(queues.dead_letters().await?))
    }
    .await;
    conn.close().await;
    let Some(letters) = listed? else {
        eprintln!("{}", QueueError::NotSetUp);
        return Ok(());
    };
    let mut out = std::io::stdout().lock();
    for l in &letters {
        if table {
            writeln!(
                out,
                "{}  {}  {:>3}  {:<24}  {}  {}",
                l.id, l.failed_at, l.attempts, l.kind, l.url, l.last_error
            )?;
        } else {
            writeln!(out, "{}", serde_json::to_string(l)?)?;
        }
    }
    if table {
        writeln!(out, "{} dead letter(s)", letters.len())?;
    }
    Ok(())
}

/// `concierge webhooks redeliver ID`: queues a dead letter again.
pub async fn webhooks_redeliver(id: String, settings: LogConfig) -> anyhow::Result<()> {
    let conn = open(&settings).await?;
    let queued = async {
        let queues = Queues::open(conn.log.jetstream())
            .await?
            .ok_or(QueueError::NotSetUp)?;
        queues.redeliver(&id).await
    }
    .await;
    conn.close().await;
    let delivery = queued?;
    println!(
        "queued {} to {} again ({}); a node with WEBHOOK_URL delivers it",
        delivery.id, delivery.url, delivery.kind
    );
    Ok(())
}
