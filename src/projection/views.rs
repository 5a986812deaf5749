//! The views projection: folds the log into this node's sled views, hands what it applied to live
//! fan-out, and persists the views folded in memory.

use super::{FoldError, Progress, Projection};
use concierge_events::Envelope;
use concierge_projections::{LogEntry, Outcome, ViewStore};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The views of a node as a projection of the log.
pub struct Views {
    pub store: ViewStore,
    pub progress: Arc<Progress>,
    /// Applied events, in log order, for live fan-out.
    pub fanout: mpsc::Sender<Vec<(u64, Envelope)>>,
}

/// Live batches of up to this many events fold on the worker's own task: their views are in
/// memory (or in sled's cache), so handing them to the blocking pool would cost more thread
/// wake-ups than the fold itself. Larger batches (catching up) fold on the blocking pool.
const INLINE_BATCH: usize = 64;

impl Projection for Views {
    const NAME: &'static str = "views";

    async fn resume(&self) -> Result<u64, FoldError> {
        self.store
            .checkpoint()
            .map_err(|e| FoldError(e.to_string()))
    }

    /// Folds one batch into one atomic sled batch, moves the progress (so that waiting writers
    /// answer), then hands the applied events to fan-out. On an error nothing of the batch is
    /// committed.
    async fn fold(&self, entries: Vec<LogEntry>) -> Result<u64, FoldError> {
        let folded = if entries.len() <= INLINE_BATCH
            && self.store.unpersisted_bytes() <= concierge_projections::store::PERSIST_AT_BYTES
        {
            fold_now(&self.store, entries)
        } else {
            let store = self.store.clone();
            tokio::task::spawn_blocking(move || fold_now(&store, entries))
                .await
                .map_err(|e| FoldError(format!("fold task failed: {e}")))?
        };
        let (checkpoint, applied) =
            folded.map_err(|e| FoldError(format!("cannot fold into the views: {e}")))?;
        self.progress.moved(checkpoint);
        if let Some((last, _)) = applied.last() {
            self.progress.handed(*last);
        }
        if !applied.is_empty() && self.fanout.send(applied).await.is_err() {
            return Err(FoldError("live fan-out has stopped".into()));
        }
        Ok(checkpoint)
    }

    /// Every fold is answerable at once: nothing to settle.
    async fn settle(&self) -> Result<u64, FoldError> {
        self.resume().await
    }
}

/// The checkpoint after folding `entries`, and the applied events in log order.
type Folded = (u64, Vec<(u64, Envelope)>);

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
    Ok((store.checkpoint()?, applied))
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
