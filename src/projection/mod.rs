//! The projection worker: one reading and decoding path over the log for every projection of a
//! node (its views, its search index), each folding in order from its own checkpoint and telling
//! waiters how far it has folded.
//!
//! # Layout
//! - [`Projection`]: what a projection provides (its checkpoint, folding a batch, settling);
//!   [`run`] drives one, [`monitor`] keeps their readiness and lag current.
//! - [`decode_entry`]: the one decoding of a log message, which the webhooks' log consumer shares.
//! - [`views`]: the views in sled, with live fan-out and periodic persistence.

pub mod views;

use crate::log::EventLog;
use concierge_events::{Envelope, Head};
use concierge_projections::LogEntry;
use futures::StreamExt;
use std::collections::HashSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// At most this many events are handed to a projection at once. Catching up fills whole batches
/// (where the views share chunk writes); live traffic folds what is there.
const BATCH: usize = 16384;

/// Why a projection could not fold a batch; reading resumes from its checkpoint.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FoldError(pub String);

/// A fold of the log kept by this node, with a checkpoint of its own.
pub trait Projection: Send + Sync + 'static {
    /// Names it in logs and in the `projection` label of the metrics.
    const NAME: &'static str;

    /// The seq reading (re)starts after: everything up to it is folded, and nothing past it is
    /// (a projection that folded more than it kept settles or discards it here).
    fn resume(&self) -> impl Future<Output = Result<u64, FoldError>> + Send;

    /// Folds `entries` (in log order, with no gap after the previous batch); returns the seq up to
    /// which the projection now answers, which may trail the batch until it settles.
    fn fold(&self, entries: Vec<LogEntry>) -> impl Future<Output = Result<u64, FoldError>> + Send;

    /// Called when no event came for [`IDLE`] after a fold: makes anything folded answerable and
    /// returns the seq it answers to then.
    fn settle(&self) -> impl Future<Output = Result<u64, FoldError>> + Send;
}

/// How long the log must be quiet before the worker asks a projection to settle.
pub const IDLE: Duration = Duration::from_millis(100);

/// How far one projection of this node has folded, and whether it is ready to serve.
pub struct Progress {
    /// The projection's name, for logs and metric labels.
    name: &'static str,
    folded: watch::Sender<u64>,
    ready: AtomicBool,
    /// Set the first time the projection caught up with the log after start.
    caught_up: AtomicBool,
    /// Raised by the monitor when the log is ahead and folding has not moved for a while.
    stalled: tokio::sync::Notify,
    /// Batches folded since start, and whether one is being folded: a projection whose checkpoint
    /// moves only now and then (search, catching up), or whose batch takes long (a debug build
    /// catching up), is not stalled; the stall watch is for a consumer that stopped delivering.
    batches: AtomicU64,
    folding: AtomicBool,
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
    pub fn new(
        name: &'static str,
        checkpoint: u64,
        level: u32,
        skip_file: PathBuf,
    ) -> Arc<Progress> {
        Arc::new(Progress {
            name,
            folded: watch::Sender::new(checkpoint),
            ready: AtomicBool::new(false),
            caught_up: AtomicBool::new(false),
            stalled: tokio::sync::Notify::new(),
            batches: AtomicU64::new(0),
            folding: AtomicBool::new(false),
            level,
            skip_file,
            blocked: Mutex::new(None),
            handed: AtomicU64::new(0),
            pushed: watch::Sender::new(0),
        })
    }

    /// Events up to `seq` were handed to live fan-out.
    pub fn handed(&self, seq: u64) {
        self.handed.fetch_max(seq, Ordering::SeqCst);
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

    /// Whether the projection has caught up with the log at least once since the node started.
    pub fn has_caught_up(&self) -> bool {
        self.caught_up.load(Ordering::Relaxed)
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// Waits until the event at `seq` is folded; `false` when `timeout` passed first.
    pub async fn wait_folded(&self, seq: u64, timeout: Duration) -> bool {
        let mut rx = self.folded.subscribe();
        let reached = tokio::time::timeout(timeout, rx.wait_for(|s| *s >= seq)).await;
        matches!(reached, Ok(Ok(_)))
    }
}

/// Folds the log into `projection` forever: (re)creates the streams and an ordered consumer from
/// its checkpoint, and starts over from the checkpoint whenever the connection or the consumer
/// fails. An event the node cannot fold stops it there until the operator skips it.
pub async fn run<P: Projection>(
    log: EventLog,
    projection: Arc<P>,
    progress: Arc<Progress>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = fold_until_error(&log, &projection, &progress) => {}
            _ = shutdown.changed() => return,
        }
        if let Some(blocked) = progress.blocked() {
            tracing::error!(projection = P::NAME, seq = blocked.seq, "{blocked}");
            metrics::gauge!("concierge_projection_blocked_seq", "projection" => P::NAME)
                .set(blocked.seq as f64);
            // Nothing folds past it until the operator skips it (checked here) or the node is
            // replaced by a build that folds it.
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(SKIP_POLL) => {}
                    _ = shutdown.changed() => return,
                }
                if read_skips(&progress.skip_file).contains(&blocked.seq) {
                    progress.set_blocked(None);
                    metrics::gauge!("concierge_projection_blocked_seq", "projection" => P::NAME)
                        .set(0.0);
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
async fn fold_until_error<P: Projection>(log: &EventLog, projection: &Arc<P>, progress: &Progress) {
    let mut connections = log.connections();
    connections.mark_unchanged();
    if !log.is_connected() {
        return;
    }
    tokio::select! {
        _ = fold_stream(log, projection, progress) => {}
        _ = connections.changed() => tracing::info!(projection = P::NAME, "reconnected to NATS; reopening the log consumer"),
        _ = progress.stalled.notified() => tracing::warn!(projection = P::NAME, "folding stalled behind the log; reopening the log consumer"),
    }
}

/// Reads the log from the projection's checkpoint and folds batches as they come, in log order.
async fn fold_stream<P: Projection>(log: &EventLog, projection: &Arc<P>, progress: &Progress) {
    if let Err(e) = log.ensure_streams().await {
        tracing::warn!(error = %e, "cannot create the streams yet");
        return;
    }
    let start = match projection.resume().await {
        Ok(checkpoint) => {
            progress.moved(checkpoint);
            checkpoint + 1
        }
        Err(e) => {
            tracing::error!(projection = P::NAME, error = %e, "cannot read the checkpoint; retrying");
            return;
        }
    };
    let mut messages = match log.consume_from(start).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(projection = P::NAME, error = %e, "cannot open the log consumer");
            return;
        }
    };
    tracing::info!(projection = P::NAME, from = start, "folding the log");
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
                    tracing::warn!(projection = P::NAME, error = %e, "log consumer failed; resuming from the checkpoint");
                    return;
                }
            };
            let Ok(info) = msg.info() else { continue };
            let entry =
                match decode_entry(info.stream_sequence, &msg.payload, progress.level, &skips) {
                    Ok(entry) => entry,
                    Err(blocked) => {
                        progress.set_blocked(Some(blocked));
                        return;
                    }
                };
            if queue.send(entry).await.is_err() {
                return;
            }
        }
    };
    // Owns the receiving end: when folding stops, the reader's next send fails and it stops too.
    let fold = async move {
        let mut entries = Vec::new();
        let mut unsettled = false;
        loop {
            let next = if unsettled {
                match tokio::time::timeout(IDLE, to_fold.recv_many(&mut entries, BATCH)).await {
                    Ok(n) => n,
                    Err(_) => {
                        unsettled = false;
                        progress.folding.store(true, Ordering::Relaxed);
                        let settled = projection.settle().await;
                        progress.folding.store(false, Ordering::Relaxed);
                        match settled {
                            Ok(checkpoint) => progress.moved(checkpoint),
                            Err(e) => {
                                tracing::error!(projection = P::NAME, error = %e, "cannot settle; retrying from the checkpoint");
                                return;
                            }
                        }
                        continue;
                    }
                }
            } else {
                to_fold.recv_many(&mut entries, BATCH).await
            };
            if next == 0 {
                return;
            }
            let batch = std::mem::take(&mut entries);
            let (n, last) = (batch.len(), batch.last().map_or(0, |e| e.seq));
            let started = std::time::Instant::now();
            progress.folding.store(true, Ordering::Relaxed);
            let folded = projection.fold(batch).await;
            progress.folding.store(false, Ordering::Relaxed);
            match folded {
                Ok(checkpoint) => {
                    metrics::counter!("concierge_events_folded_total", "projection" => P::NAME)
                        .increment(n as u64);
                    metrics::histogram!("concierge_fold_batch_events", "projection" => P::NAME)
                        .record(n as f64);
                    metrics::histogram!("concierge_fold_batch_duration_seconds", "projection" => P::NAME)
                        .record(started.elapsed().as_secs_f64());
                    progress.moved(checkpoint);
                    progress.batches.fetch_add(1, Ordering::Relaxed);
                    unsettled = checkpoint < last;
                }
                Err(e) => {
                    // Nothing of the batch is kept past the checkpoint: the log stays ahead of
                    // it (so `/ready` answers 503), and the loop folds the batch again.
                    tracing::error!(projection = P::NAME, error = %e, "cannot fold; retrying from the checkpoint");
                    return;
                }
            }
        }
    };
    // When reading stops, the events already read are still folded; when folding fails, reading stops.
    tokio::join!(read, fold);
}

impl Progress {
    /// The projection answers up to `checkpoint` now.
    pub fn moved(&self, checkpoint: u64) {
        self.folded.send_if_modified(|f| {
            let moved = checkpoint > *f;
            *f = (*f).max(checkpoint);
            moved
        });
        metrics::gauge!("concierge_projection_checkpoint", "projection" => self.name)
            .set(checkpoint as f64);
    }
}

/// Decodes the message at `seq` as every reader of the log does: an event this node folds, `None`
/// for one it passes over (undecodable, or skipped by the operator), or the [`Blocked`] it must
/// stop before (a type or level above `level`).
///
/// # Errors
/// [`Blocked`] for an event the node cannot fold and the operator has not skipped.
pub fn decode_entry(
    seq: u64,
    payload: &[u8],
    level: u32,
    skips: &HashSet<u64>,
) -> Result<LogEntry, Blocked> {
    let event = match Envelope::decode(payload) {
        Ok(decoded) => {
            let needs = decoded
                .as_ref()
                .and_then(|e| concierge_events::level_of(e.event.event_type()));
            match needs {
                Some(needs) if needs <= level => decoded,
                _ if skips.contains(&seq) => {
                    let head = Head::of(payload);
                    tracing::warn!(seq, event = ?head, "passing over an event this node cannot fold: the operator skipped it");
                    metrics::counter!("concierge_events_skipped_by_operator_total").increment(1);
                    None
                }
                _ => {
                    return Err(Blocked {
                        seq,
                        head: Head::of(payload),
                        level,
                    })
                }
            }
        }
        Err(e) => {
            tracing::warn!(seq, error = %e, "skipping an undecodable event");
            metrics::counter!("concierge_events_undecodable_total").increment(1);
            None
        }
    };
    Ok(LogEntry { seq, event })
}

/// Keeps each projection's `ready` and lag gauge current: ready when connected and folded up to the
/// log's end. When the log stays ahead of one that has neither moved its checkpoint nor folded a
/// batch for [`STALL_AFTER`], it tells its worker.
pub async fn monitor(
    log: EventLog,
    progresses: Vec<Arc<Progress>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let now = tokio::time::Instant::now();
    let moving = |p: &Progress| (p.folded(), p.batches.load(Ordering::Relaxed));
    let mut last_progress: Vec<((u64, u64), tokio::time::Instant)> =
        progresses.iter().map(|p| (moving(p), now)).collect();
    loop {
        let last = if log.is_connected() {
            match tokio::time::timeout(Duration::from_secs(2), log.last_seq()).await {
                Ok(Ok(last)) => Some(last),
                _ => None,
            }
        } else {
            None
        };
        let mut all_ready = true;
        for (progress, seen) in progresses.iter().zip(last_progress.iter_mut()) {
            let ready = match last {
                Some(last) => {
                    let folded = progress.folded();
                    let lag = last.saturating_sub(folded);
                    metrics::gauge!("concierge_projection_lag", "projection" => progress.name)
                        .set(lag as f64);
                    let busy = progress.folding.load(Ordering::Relaxed);
                    if busy || moving(progress) != seen.0 || lag == 0 {
                        *seen = (moving(progress), tokio::time::Instant::now());
                    } else if seen.1.elapsed() >= STALL_AFTER {
                        progress.stalled.notify_one();
                        seen.1 = tokio::time::Instant::now();
                    }
                    lag == 0
                }
                None => false,
            };
            progress.ready.store(ready, Ordering::Relaxed);
            if ready {
                progress.caught_up.store(true, Ordering::Relaxed);
            }
            all_ready &= ready;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(if all_ready { 1000 } else { 200 })) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// How long the log may stay ahead of an unmoving fold before the consumer is reopened.
const STALL_AFTER: Duration = Duration::from_secs(2);
