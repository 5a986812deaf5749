//! The projection worker: folds the log into this node's views, in order, from the checkpoint on,
//! and tells waiting writers how far it has folded (read-your-writes).

use crate::log::EventLog;
use concierge_events::{Envelope, Head};
use concierge_projections::{LogEntry, Outcome, ViewStore};
use futures::StreamExt;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// At most this many events are folded into one atomic sled batch. Catching up fills whole
/// batches, where a conversation's messages share one chunk write; live traffic folds what is there.
const BATCH: usize = 16384;

/// How far this node has folded, and whether it is ready to serve.
pub struct Progress {
    folded: watch::Sender<u64>,
    ready: AtomicBool,
    /// Raised by the monitor when the log is ahead and folding has not moved for a while.
    stalled: tokio::sync::Notify,
    /// The highest event schema level this node folds (EVENT_LEVEL).
    level: u32,
    /// The operator's `concierge skip` decisions (one seq per line).
    skip_file: PathBuf,
    /// The event this node stopped before because it cannot fold it; `None` while folding.
    blocked: Mutex<Option<Blocked>>,
    /// The last seq handed to live fan-out, and the last one fan-out has pushed to the sockets'
    /// queues: a draining socket waits for the second to reach the first (see [`Self::fanned_out`]).
    handed: AtomicU64,
    pushed: watch::Sender<u64>,
}

/// An event a node cannot fold: of a type or version this build does not know, or of a level above
/// the node's. The node folds nothing past it until it is upgraded or the event is skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub seq: u64,
    /// Its type and version; `None` when not even those could be read.
    pub head: Option<Head>,
    /// The level this node folds.
    pub level: u32,
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match &self.head {
            Some(head) => match head.level() {
                Some(needs) => format!("{head}, schema level {needs}"),
                None => format!("{head}, unknown to this build"),
            },
            None => "an event without a readable type".to_string(),
        };
        write!(
            f,
            "stopped before event {} ({what}): this node folds up to schema level {}; upgrade it, \
             or skip the event with `concierge skip --seq {}`",
            self.seq, self.level, self.seq
        )
    }
}

impl Progress {
    /// `level` is the highest schema level the node folds; `skip_file` holds the sequences the
    /// operator decided to skip ([`skip_file`]).
    pub fn new(checkpoint: u64, level: u32, skip_file: PathBuf) -> Arc<Progress> {
        Arc::new(Progress {
            folded: watch::Sender::new(checkpoint),
            ready: AtomicBool::new(false),
            stalled: tokio::sync::Notify::new(),
            level,
            skip_file,
            blocked: Mutex::new(None),
            handed: AtomicU64::new(0),
            pushed: watch::Sender::new(0),
        })
    }

    /// Live fan-out has pushed every event up to `seq` to the sockets' queues.
    pub fn pushed(&self, seq: u64) {
        self.pushed.send_if_modified(|p| {
            let moved = seq > *p;
            *p = (*p).max(seq);
            moved
        });
    }

    /// Waits until live fan-out has pushed every event folded so far (each to the queues of the
    /// sockets it reaches); `false` when `timeout` passed first.
    pub async fn fanned_out(&self, timeout: Duration) -> bool {
        let target = self.handed.load(Ordering::SeqCst);
        let mut rx = self.pushed.subscribe();
        let reached = tokio::time::timeout(timeout, rx.wait_for(|p| *p >= target)).await;
        matches!(reached, Ok(Ok(_)))
    }

    /// The highest event schema level this node folds.
    pub fn level(&self) -> u32 {
        self.level
    }

    /// The event folding stopped before, while it is stopped.
    pub fn blocked(&self) -> Option<Blocked> {
        self.blocked.lock().ok().and_then(|b| b.clone())
    }

    fn set_blocked(&self, blocked: Option<Blocked>) {
        if let Ok(mut b) = self.blocked.lock() {
            *b = blocked;
        }
    }

    /// Whether the node cannot fold the event at `seq` (given its decoding): `None` when it can.
    fn cannot_fold(&self, seq: u64, payload: &[u8], decoded: &Option<Envelope>) -> Option<Blocked> {
        let level = match decoded {
            Some(e) => concierge_events::level_of(e.event.event_type()),
            None => None,
        };
        match level {
            Some(needs) if needs <= self.level => None,
            _ => Some(Blocked {
                seq,
                head: Head::of(payload),
                level: self.level,
            }),
        }
    }

    pub fn folded(&self) -> u64 {
        *self.folded.borrow()
    }

    /// Changes each time a batch is folded; holds the checkpoint.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.folded.subscribe()
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Relaxed)
    }

    /// Waits until the event at `seq` is folded; `false` when `timeout` passed first.
    pub async fn wait_folded(&self, seq: u64, timeout: Duration) -> bool {
        let mut rx = self.folded.subscribe();
        let reached = tokio::time::timeout(timeout, rx.wait_for(|s| *s >= seq)).await;
        matches!(reached, Ok(Ok(_)))
    }
}

/// Folds the log forever: (re)creates the streams and an ordered consumer from the checkpoint,
/// and starts over from the checkpoint whenever the connection or the consumer fails.
pub async fn run(
    log: EventLog,
    store: ViewStore,
    progress: Arc<Progress>,
    folded: mpsc::Sender<Vec<(u64, Envelope)>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = fold_until_error(&log, &store, &progress, &folded) => {}
            _ = shutdown.changed() => return,
        }
        if let Some(blocked) = progress.blocked() {
            tracing::error!(seq = blocked.seq, "{blocked}");
            metrics::gauge!("concierge_projection_blocked_seq").set(blocked.seq as f64);
            // Nothing folds past it until the operator skips it (checked here) or the node is
            // replaced by a build that folds it.
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(SKIP_POLL) => {}
                    _ = shutdown.changed() => return,
                }
                if read_skips(&progress.skip_file).contains(&blocked.seq) {
                    progress.set_blocked(None);
                    metrics::gauge!("concierge_projection_blocked_seq").set(0.0);
                    break;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// How often a stopped node looks for the operator's decision to skip the event it stopped at.
const SKIP_POLL: Duration = Duration::from_secs(1);

/// The file of the operator's skip decisions in a node's data folder.
pub fn skip_file(data_dir: &Path) -> PathBuf {
    data_dir.join("skipped-events")
}

/// The sequences listed in a skip file: one per line, anything after the number is a note;
/// a missing file lists none.
pub fn read_skips(path: &Path) -> HashSet<u64> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_whitespace().next()?.parse().ok())
        .collect()
}

/// Folds until the consumer fails, the client reconnects (the server may have lost the consumer), or
/// the monitor reports a stall.
async fn fold_until_error(
    log: &EventLog,
    store: &ViewStore,
    progress: &Progress,
    folded: &mpsc::Sender<Vec<(u64, Envelope)>>,
) {
    let mut connections = log.connections();
    connections.mark_unchanged();
    if !log.is_connected() {
        return;
    }
    tokio::select! {
        _ = fold_stream(log, store, progress, folded) => {}
        _ = connections.changed() => tracing::info!("reconnected to NATS; reopening the log consumer"),
        _ = progress.stalled.notified() => tracing::warn!("folding stalled behind the log; reopening the log consumer"),
    }
}

/// Folds batches as they come and hands the applied events to fan-out, in log order.
async fn fold_stream(
    log: &EventLog,
    store: &ViewStore,
    progress: &Progress,
    fanout: &mpsc::Sender<Vec<(u64, Envelope)>>,
) {
    if let Err(e) = log.ensure_streams().await {
        tracing::warn!(error = %e, "cannot create the streams yet");
        return;
    }
    let start = match store.checkpoint() {
        Ok(checkpoint) => checkpoint + 1,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the checkpoint; retrying");
            return;
        }
    };
    let mut messages = match log.consume_from(start).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "cannot open the log consumer");
            return;
        }
    };
    tracing::info!(from = start, "folding the log");
    // Reading and decoding overlap with folding: while a batch folds, the next events queue up,
    // and the next batch takes all of them (up to BATCH). The consumer hands over events in bursts
    // of about a hundred, so batching by burst alone would leave little to share per batch.
    let (queue, mut to_fold) = mpsc::channel::<LogEntry>(2 * BATCH);
    let skips = read_skips(&progress.skip_file);
    let read = async move {
        while let Some(item) = messages.next().await {
            let msg = match item {
                Ok(msg) => msg,
                Err(e) => {
                    tracing::warn!(error = %e, "log consumer failed; resuming from the checkpoint");
                    return;
                }
            };
            let Ok(info) = msg.info() else { continue };
            let seq = info.stream_sequence;
            let event = match Envelope::decode(&msg.payload) {
                Ok(decoded) => match progress.cannot_fold(seq, &msg.payload, &decoded) {
                    None => decoded,
                    Some(_) if skips.contains(&seq) => {
                        let head = Head::of(&msg.payload);
                        tracing::warn!(seq, event = ?head, "passing over an event this node cannot fold: the operator skipped it");
                        metrics::counter!("concierge_events_skipped_by_operator_total")
                            .increment(1);
                        None
                    }
                    Some(blocked) => {
                        progress.set_blocked(Some(blocked));
                        return;
                    }
                },
                Err(e) => {
                    tracing::warn!(seq, error = %e, "skipping an undecodable event");
                    metrics::counter!("concierge_events_undecodable_total").increment(1);
                    None
                }
            };
            let entry = LogEntry { seq, event };
            if queue.send(entry).await.is_err() {
                return;
            }
        }
    };
    // Owns the receiving end: when folding stops, the reader's next send fails and it stops too.
    let fold = async move {
        let mut entries = Vec::new();
        while to_fold.recv_many(&mut entries, BATCH).await > 0 {
            if !fold_batch(store, progress, fanout, std::mem::take(&mut entries)).await {
                return;
            }
        }
    };
    // When reading stops, the events already read are still folded; when folding fails, reading stops.
    tokio::join!(read, fold);
}

/// Live batches of up to this many events fold on the worker's own task: their views are in
/// memory (or in sled's cache), so handing them to the blocking pool would cost more thread
/// wake-ups than the fold itself. Larger batches (catching up) fold on the blocking pool.
const INLINE_BATCH: usize = 64;

/// Folds one batch, then moves the progress and hands the applied events to fan-out; `false`
/// when the views cannot be read or written (nothing of the batch is then committed) or fan-out
/// is gone.
async fn fold_batch(
    store: &ViewStore,
    progress: &Progress,
    fanout: &mpsc::Sender<Vec<(u64, Envelope)>>,
    entries: Vec<LogEntry>,
) -> bool {
    let started = std::time::Instant::now();
    let folded = if entries.len() <= INLINE_BATCH
        && store.unpersisted_bytes() <= concierge_projections::store::PERSIST_AT_BYTES
    {
        Ok(fold_now(store, entries))
    } else {
        let store = store.clone();
        tokio::task::spawn_blocking(move || fold_now(&store, entries)).await
    };
    match folded {
        Ok(Ok((checkpoint, n, applied))) => {
            metrics::counter!("concierge_events_folded_total").increment(n as u64);
            metrics::histogram!("concierge_fold_batch_events").record(n as f64);
            metrics::histogram!("concierge_fold_batch_duration_seconds")
                .record(started.elapsed().as_secs_f64());
            progress.folded.send_replace(checkpoint);
            metrics::gauge!("concierge_projection_checkpoint").set(checkpoint as f64);
            if let Some((last, _)) = applied.last() {
                progress.handed.fetch_max(*last, Ordering::SeqCst);
            }
            applied.is_empty() || fanout.send(applied).await.is_ok()
        }
        Ok(Err(e)) => {
            // Nothing of the batch was committed: the checkpoint has not moved, the log stays
            // ahead of it (so `/ready` answers 503), and the loop folds the batch again.
            tracing::error!(error = %e, "cannot fold into the views; retrying from the checkpoint");
            false
        }
        Err(e) => {
            tracing::error!(error = %e, "fold task failed");
            false
        }
    }
}

/// The checkpoint after folding `entries`, how many were folded, and the applied events in log
/// order.
type Folded = (u64, usize, Vec<(u64, Envelope)>);

fn fold_now(
    store: &ViewStore,
    entries: Vec<LogEntry>,
) -> Result<Folded, concierge_projections::StoreError> {
    let outcomes = store.fold_batch(&entries)?;
    let applied_seqs: std::collections::HashSet<u64> = outcomes
        .iter()
        .filter(|(_, o)| *o == Outcome::Applied)
        .map(|(seq, _)| *seq)
        .collect();
    let applied: Vec<(u64, Envelope)> = entries
        .into_iter()
        .filter(|e| applied_seqs.contains(&e.seq))
        .filter_map(|e| e.event.map(|ev| (e.seq, ev)))
        .collect();
    Ok((store.checkpoint()?, outcomes.len(), applied))
}

/// Persists the views folded in memory every `every`, each time atomically with their checkpoint
/// (`ViewStore::persist`); the last persist happens at shutdown (`ViewStore::flush`). A failed persist keeps
/// the views in memory and is tried again at the next tick.
pub async fn persist(store: ViewStore, every: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        let bytes = store.unpersisted_bytes();
        metrics::gauge!("concierge_views_unpersisted_bytes").set(bytes as f64);
        if bytes == 0 {
            continue;
        }
        let store = store.clone();
        let started = std::time::Instant::now();
        match tokio::task::spawn_blocking(move || store.persist()).await {
            Ok(Ok(keys)) => {
                metrics::histogram!("concierge_views_persist_keys").record(keys as f64);
                metrics::histogram!("concierge_views_persist_duration_seconds")
                    .record(started.elapsed().as_secs_f64());
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "cannot persist the views; keeping them in memory and retrying")
            }
            Err(e) => tracing::error!(error = %e, "persist task failed"),
        }
    }
}

/// Keeps `ready` and the lag gauge current: ready when connected and folded up to the log's end.
/// When the log stays ahead and folding has not moved for [`STALL_AFTER`], it tells the worker.
pub async fn monitor(log: EventLog, progress: Arc<Progress>, mut shutdown: watch::Receiver<bool>) {
    let mut last_progress = (progress.folded(), tokio::time::Instant::now());
    loop {
        let ready = if log.is_connected() {
            match tokio::time::timeout(Duration::from_secs(2), log.last_seq()).await {
                Ok(Ok(last)) => {
                    let folded = progress.folded();
                    let lag = last.saturating_sub(folded);
                    metrics::gauge!("concierge_projection_lag").set(lag as f64);
                    if folded != last_progress.0 || lag == 0 {
                        last_progress = (folded, tokio::time::Instant::now());
                    } else if last_progress.1.elapsed() >= STALL_AFTER {
                        progress.stalled.notify_one();
                        last_progress.1 = tokio::time::Instant::now();
                    }
                    lag == 0
                }
                _ => false,
            }
        } else {
            false
        };
        progress.ready.store(ready, Ordering::Relaxed);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(if ready { 1000 } else { 200 })) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// How long the log may stay ahead of an unmoving fold before the consumer is reopened.
const STALL_AFTER: Duration = Duration::from_secs(2);
