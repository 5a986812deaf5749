//! The sled store that keeps the views and the checkpoint together. A batch of events is folded into
//! an overlay over the tree and committed with the new checkpoint in one atomic sled batch, so a crash
//! leaves the views exactly at some checkpoint, never between two.

use crate::fold::{apply, Outcome};
use crate::kv::{keys, Kv, KvRead};
use crate::typed::Views;
use concierge_events::Envelope;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

/// Why the view store failed. Every variant is an I/O fault of the local disk; none is a client's.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("view store: {0}")]
    Sled(#[from] sled::Error),
}

const TREE: &str = "views";
/// The encoding of the stored views (see `typed::encode`). Changing it rebuilds every node's views.
const FORMAT: &[u8] = b"postcard-3";

/// The views of one node, in sled. Cheap to clone; one folder per node.
#[derive(Clone)]
pub struct ViewStore {
    db: sled::Db,
    tree: sled::Tree,
    /// Held from reading the checkpoint to committing a batch: a fold abandoned by a restarted
    /// worker may still be running, and the next one must start from what it committed.
    folding: std::sync::Arc<std::sync::Mutex<()>>,
}

/// One event to fold: its log sequence and, when it decoded as a known event, the event.
pub struct LogEntry {
    pub seq: u64,
    pub event: Option<Envelope>,
}

impl ViewStore {
    /// Opens (or creates) the store in `dir`.
    ///
    /// # Errors
    /// When sled cannot open the folder (missing permissions, another process holds it).
    pub fn open(dir: &Path) -> Result<ViewStore, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(256 * 1024 * 1024)
            .open()?;
        let tree = db.open_tree(TREE)?;
        if tree.get(keys::FORMAT)?.as_deref() != Some(FORMAT) {
            // Views written in another encoding cannot be read: start over and fold the log again.
            tree.clear()?;
            tree.insert(keys::FORMAT, FORMAT)?;
            db.flush()?;
        }
        Ok(ViewStore {
            db,
            tree,
            folding: Default::default(),
        })
    }

    /// Read access to the views as they are now.
    pub fn views(&self) -> Views<&sled::Tree> {
        Views::new(&self.tree)
    }

    pub fn checkpoint(&self) -> u64 {
        self.views().checkpoint()
    }

    /// Folds `entries` (in log order) and commits them with the checkpoint of the last one.
    /// Entries at or below the checkpoint are skipped, so a batch may be re-delivered safely.
    ///
    /// # Errors
    /// When sled cannot write the batch; nothing of it is then visible.
    pub fn fold_batch(&self, entries: &[LogEntry]) -> Result<Vec<(u64, Outcome)>, StoreError> {
        let _folding = self.folding.lock().unwrap_or_else(|e| e.into_inner());
        let checkpoint = self.checkpoint();
        let mut views = Views::new(Overlay::new(&self.tree));
        let mut outcomes = Vec::with_capacity(entries.len());
        let mut last = checkpoint;
        for entry in entries.iter().filter(|e| e.seq > checkpoint) {
            let outcome = match &entry.event {
                Some(event) => apply(&mut views, entry.seq, event),
                None => Outcome::Skipped("not an event of this schema"),
            };
            outcomes.push((entry.seq, outcome));
            last = last.max(entry.seq);
        }
        if last == checkpoint {
            return Ok(outcomes);
        }
        views.set_checkpoint(last);
        let mut batch = sled::Batch::default();
        for (k, v) in views.kv.pending {
            match v {
                Some(v) => batch.insert(k, v),
                None => batch.remove(k),
            }
        }
        self.tree.apply_batch(batch)?;
        Ok(outcomes)
    }

    /// Drops every view and the checkpoint, for a rebuild from the start of the log.
    ///
    /// # Errors
    /// When sled cannot clear the tree.
    pub fn wipe(&self) -> Result<(), StoreError> {
        let _folding = self.folding.lock().unwrap_or_else(|e| e.into_inner());
        self.tree.clear()?;
        self.tree.insert(keys::FORMAT, FORMAT)?;
        self.db.flush()?;
        Ok(())
    }

    /// Makes everything committed so far durable on disk.
    ///
    /// # Errors
    /// When sled cannot flush.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.db.flush()?;
        Ok(())
    }

    /// Every key and value, for tests that compare whole stores.
    pub fn dump(&self) -> BTreeMap<Vec<u8>, Vec<u8>> {
        self.tree
            .iter()
            .filter_map(Result::ok)
            .map(|(k, v)| (k.to_vec(), v.to_vec()))
            .collect()
    }

    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

impl KvRead for &sled::Tree {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        sled::Tree::get(self, key)
            .ok()
            .flatten()
            .map(|v| v.to_vec())
    }

    fn read(&self, key: &[u8], visit: &mut dyn FnMut(Option<&[u8]>)) {
        let value = sled::Tree::get(self, key).ok().flatten();
        visit(value.as_deref());
    }

    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        reverse: bool,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) {
        let range = self.range::<&[u8], _>(start..end);
        let mut go = |item: sled::Result<(sled::IVec, sled::IVec)>| match item {
            Ok((k, v)) => visit(&k, &v),
            Err(_) => false,
        };
        if reverse {
            for item in range.rev() {
                if !go(item) {
                    return;
                }
            }
        } else {
            for item in range {
                if !go(item) {
                    return;
                }
            }
        }
    }
}

/// Writes of one batch, held over the tree until commit; reads see them on top of the tree.
struct Overlay<'a> {
    base: &'a sled::Tree,
    pending: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a> Overlay<'a> {
    fn new(base: &'a sled::Tree) -> Self {
        Overlay {
            base,
            pending: BTreeMap::new(),
        }
    }
}

impl KvRead for Overlay<'_> {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        match self.pending.get(key) {
            Some(v) => v.clone(),
            None => KvRead::get(&self.base, key),
        }
    }

    fn read(&self, key: &[u8], visit: &mut dyn FnMut(Option<&[u8]>)) {
        match self.pending.get(key) {
            Some(v) => visit(v.as_deref()),
            None => self.base.read(key, visit),
        }
    }

    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        reverse: bool,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) {
        let bounds = (Bound::Included(start), Bound::Excluded(end));
        let pending = self.pending.range::<[u8], _>(bounds);
        let base = self
            .base
            .range::<&[u8], _>(start..end)
            .filter_map(Result::ok);
        if reverse {
            merge(pending.rev().peekable(), base.rev(), true, visit);
        } else {
            merge(pending.peekable(), base, false, visit);
        }
    }
}

/// Visits the union of the overlay's and the tree's entries in key order (reversed when `reverse`);
/// on equal keys the overlay wins, and its `None` hides the key.
fn merge<'p>(
    mut over: std::iter::Peekable<impl Iterator<Item = (&'p Vec<u8>, &'p Option<Vec<u8>>)>>,
    mut base: impl Iterator<Item = (sled::IVec, sled::IVec)>,
    reverse: bool,
    visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) {
    let mut next_base = base.next();
    loop {
        let take_over = match (&next_base, over.peek()) {
            (None, None) => return,
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (Some((bk, _)), Some((ok, _))) => {
                if reverse {
                    ok.as_slice() >= bk.as_ref()
                } else {
                    ok.as_slice() <= bk.as_ref()
                }
            }
        };
        if take_over {
            let (k, v) = over.next().expect("peeked");
            if next_base
                .as_ref()
                .is_some_and(|(bk, _)| bk.as_ref() == k.as_slice())
            {
                next_base = base.next();
            }
            if let Some(v) = v {
                if !visit(k, v) {
                    return;
                }
            }
        } else {
            let (k, v) = next_base.take().expect("checked");
            if !visit(&k, &v) {
                return;
            }
            next_base = base.next();
        }
    }
}

impl Kv for Overlay<'_> {
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.pending.insert(key, Some(value));
    }

    fn remove(&mut self, key: &[u8]) {
        self.pending.insert(key.to_vec(), None);
    }

    fn update(&mut self, key: &[u8], change: &mut dyn FnMut(&mut Option<Vec<u8>>)) {
        if let Some(value) = self.pending.get_mut(key) {
            change(value);
            return;
        }
        let mut value = KvRead::get(&self.base, key);
        change(&mut value);
        self.pending.insert(key.to_vec(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_in_another_format_are_dropped_for_a_rebuild() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = ViewStore::open(dir.path()).unwrap();
            store
                .tree
                .insert(keys::CHECKPOINT, &7u64.to_be_bytes())
                .unwrap();
            store.tree.insert(keys::FORMAT, b"json-0").unwrap();
            store.flush().unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let store = loop {
            match ViewStore::open(dir.path()) {
                Ok(s) => break s,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                Err(e) => panic!("{e}"),
            }
        };
        assert_eq!(store.checkpoint(), 0);
        assert_eq!(store.dump().len(), 1);
    }
}
