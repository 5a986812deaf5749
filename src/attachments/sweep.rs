//! The sweeper: removes the files of deleted messages, uploads no message used within
//! `ATTACHMENT_ORPHAN_TTL`, and the chunks of uploads cut off midway (a crash, NATS lost during the
//! write). Every node runs it; removals are idempotent, so nodes sweeping at once do no harm. It
//! sweeps only while this node's views have caught up with the log, so a message the node has not
//! folded yet never makes its upload look unused.

use super::files::{FilesError, Upload, THUMB_SUFFIX};
use crate::state::AppState;
use std::collections::HashSet;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// What one sweep removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Uploads of deleted messages.
    pub deleted: u64,
    /// Uploads no message used in time.
    pub orphaned: u64,
    /// Chunk subjects of no object.
    pub chunks: u64,
}

/// Creates the bucket, then sweeps every `ATTACHMENT_SWEEP_SECS` until `shutdown`.
pub async fn run(app: AppState, mut shutdown: watch::Receiver<bool>) {
    let every = app.config.attachments.sweep_every;
    // The bucket is made at start, so the first upload does not wait for it; until NATS answers,
    // every upload and sweep makes it on first use instead.
    if let Err(e) = app.attachments.files.ensure().await {
        tracing::warn!(error = %e, "the attachments bucket is made on first use");
    }
    loop {
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
        if !app.progress.is_ready() || !app.log.is_connected() {
            continue;
        }
        match sweep(&app).await {
            Ok(s) => {
                metrics::counter!("concierge_attachments_swept_total", "why" => "deleted")
                    .increment(s.deleted);
                metrics::counter!("concierge_attachments_swept_total", "why" => "orphaned")
                    .increment(s.orphaned);
                metrics::counter!("concierge_attachments_swept_total", "why" => "chunks")
                    .increment(s.chunks);
                if s != Swept::default() {
                    tracing::info!(?s, "attachments swept");
                }
            }
            Err(e) => tracing::warn!(error = %e, "attachment sweep failed; retried at the next"),
        }
    }
}

/// One sweep.
///
/// # Errors
/// When the object store cannot be listed or an object cannot be removed.
pub async fn sweep(app: &AppState) -> Result<Swept, FilesError> {
    let files = &app.attachments.files;
    let config = &app.config.attachments;
    let infos = files.list().await?;
    let names: HashSet<&str> = infos.iter().map(|i| i.name.as_str()).collect();
    let mut swept = Swept::default();
    let now_ms = concierge_events::Timestamp::now().millis();
    let orphan_ms = i64::try_from(config.orphan_ttl.as_millis()).unwrap_or(i64::MAX);
    let mut removed = HashSet::new();
    for info in &infos {
        if let Some(main) = info.name.strip_suffix(THUMB_SUFFIX) {
            if !names.contains(main) {
                files.delete(&info.name).await?;
            }
            continue;
        }
        let Some(upload) = Upload::from_info(info) else {
            continue;
        };
        let views = app.views.views();
        let used_by = views.attachment_use(&upload.id).unwrap_or(None);
        let why = match used_by {
            Some(message_id) => {
                let gone = views
                    .message_by_id(&message_id)
                    .ok()
                    .flatten()
                    .is_none_or(|m| m.is_deleted);
                gone.then_some(&mut swept.deleted)
            }
            None => (now_ms.saturating_sub(upload.modified_ms) >= orphan_ms)
                .then_some(&mut swept.orphaned),
        };
        if let Some(count) = why {
            files
                .delete(&format!("{}{THUMB_SUFFIX}", upload.id))
                .await?;
            files.delete(&upload.id).await?;
            *count += 1;
            removed.insert(info.nuid.clone());
        }
    }
    // Chunks of no object: an upload cut off midway. One in progress has none either, so a subject
    // is purged only once it has stayed unreferenced for the orphan grace.
    let live: HashSet<&str> = infos
        .iter()
        .filter(|i| !removed.contains(&i.nuid))
        .map(|i| i.nuid.as_str())
        .collect();
    let prefix = format!("$O.{}.C.", files.bucket_name());
    let grace = config.orphan_ttl.min(Duration::from_secs(3600));
    let subjects = files.chunk_subjects().await?;
    let mut due = Vec::new();
    {
        let mut seen = app
            .attachments
            .unreferenced
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        seen.retain(|subject, _| subjects.contains_key(subject));
        for subject in subjects.keys() {
            let nuid = subject.strip_prefix(&prefix).unwrap_or(subject);
            if live.contains(nuid) {
                seen.remove(subject);
                continue;
            }
            let first = *seen.entry(subject.clone()).or_insert_with(Instant::now);
            if first.elapsed() >= grace {
                due.push(subject.clone());
            }
        }
    }
    for subject in due {
        files.purge_subject(&subject).await?;
        app.attachments
            .unreferenced
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&subject);
        swept.chunks += 1;
    }
    Ok(swept)
}
