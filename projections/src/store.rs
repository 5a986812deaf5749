//! The store that keeps the views and the checkpoint together: in memory first, in sled behind.
//!
//! A batch of events is folded into an overlay over the views and committed, with its checkpoint,
//! to memory (the unpersisted layer), where reads see it at once. [`ViewStore::persist`] writes
//! everything committed so far to sled, with the checkpoint of the last folded event, atomically
//! (a redo record, see there), so sled always holds the views exactly at some checkpoint, never
//! between two: a crash loses only what the log still holds, and the worker folds it again. Many
//! writes of one key between two persists (a busy conversation's record) reach sled as one.

use crate::error::StoreError;
use crate::fold::{apply, Outcome};
use crate::kv::{keys, Change, Kv, KvRead, Visit, VisitEntry};
use crate::seal::Cipher;
use crate::typed::Views;
use concierge_events::Envelope;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

const TREE: &str = "views";
/// The encoding of the stored views (see `typed::encode`). Changing it rebuilds every node's views.
const FORMAT: &[u8] = b"postcard-5";
/// A fold that finds more than this many unpersisted bytes persists them first, so catching up and
/// rebuilding hold a bounded amount in memory whatever the persist timer does.
pub const PERSIST_AT_BYTES: usize = 32 * 1024 * 1024;

/// A value as the unpersisted layer holds it: `None` is a removal still to reach sled.
type Slot = Option<Arc<Vec<u8>>>;

/// The views of one node. Cheap to clone; one folder per node.
#[derive(Clone)]
pub struct ViewStore {
    db: sled::Db,
    tree: sled::Tree,
    /// Held from reading the checkpoint to committing a batch: a fold abandoned by a restarted
    /// worker may still be running, and the next one must start from what it committed.
    folding: Arc<Mutex<()>>,
    /// Held by one persist at a time, so batches reach sled in the order they were folded.
    persisting: Arc<Mutex<()>>,
    mem: Arc<RwLock<Unpersisted>>,
    /// A fold finding more unpersisted bytes than this persists first ([`PERSIST_AT_BYTES`]).
    persist_at: usize,
    /// Seals every value written to sled and opens every value read from it (`VIEWS_KEY`).
    cipher: Option<Arc<Cipher>>,
    /// Whether opening wiped views sealed otherwise (another key, or none): they fold again.
    resealed: bool,
}

/// The views in memory, newest first: `dirty` (folded since the last persist began) over
/// `writing` (taken by the persist under way, read until sled has it) over `cache` (values as sled
/// holds them, opened when sealed). Reads that find a key here never touch sled, so they never wait for a persist.
#[derive(Default)]
struct Unpersisted {
    dirty: BTreeMap<Vec<u8>, Slot>,
    dirty_bytes: usize,
    writing: Arc<BTreeMap<Vec<u8>, Slot>>,
    writing_bytes: usize,
    cache: Cache,
    /// Counts completed persists and wipes: a value read from sled may enter the cache only if
    /// sled has not changed since the read began.
    generation: u64,
}

/// Persisted values (and absences) recently written or read: two generations by insertion, the
/// older dropped whole when the newer fills half of [`CACHE_BYTES`]. Never stale: only a persist
/// changes sled, and it puts what it wrote here.
#[derive(Default)]
struct Cache {
    recent: std::collections::HashMap<Vec<u8>, Slot>,
    recent_bytes: usize,
    older: std::collections::HashMap<Vec<u8>, Slot>,
}

/// What the cache of persisted views may hold, keys and values, across its two generations.
pub const CACHE_BYTES: usize = 64 * 1024 * 1024;

impl Cache {
    fn get(&self, key: &[u8]) -> Option<&Slot> {
        self.recent.get(key).or_else(|| self.older.get(key))
    }

    fn insert(&mut self, key: Vec<u8>, value: Slot) {
        let key_len = key.len();
        let size = key_len + value.as_ref().map_or(0, |v| v.len());
        if self.recent_bytes + size > CACHE_BYTES / 2 {
            self.older = std::mem::take(&mut self.recent);
            self.recent_bytes = 0;
        }
        self.recent_bytes += size;
        if let Some(old) = self.recent.insert(key, value) {
            self.recent_bytes -= key_len + old.map_or(0, |v| v.len());
        }
    }
}

impl Unpersisted {
    fn get(&self, key: &[u8]) -> Option<Slot> {
        self.unpersisted(key)
            .or_else(|| self.cache.get(key))
            .cloned()
    }

    fn unpersisted(&self, key: &[u8]) -> Option<&Slot> {
        self.dirty.get(key).or_else(|| self.writing.get(key))
    }

    /// The entries in `[start, end)`, ascending, `dirty` winning over `writing`.
    fn range(&self, start: &[u8], end: &[u8]) -> Vec<(Vec<u8>, Slot)> {
        let bounds = (Bound::Included(start), Bound::Excluded(end));
        let mut dirty = self.dirty.range::<[u8], _>(bounds).peekable();
        let mut writing = self.writing.range::<[u8], _>(bounds).peekable();
        let mut out = Vec::new();
        loop {
            let order = match (dirty.peek(), writing.peek()) {
                (None, None) => return out,
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some((d, _)), Some((w, _))) => d.cmp(w),
            };
            if order == std::cmp::Ordering::Equal {
                writing.next();
            }
            let from_dirty = order != std::cmp::Ordering::Greater;
            let (k, v) = if from_dirty {
                dirty.next()
            } else {
                writing.next()
            }
            .expect("peeked");
            out.push((k.clone(), v.clone()));
        }
    }
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
        ViewStore::open_sealed(dir, None)
    }

    /// Opens (or creates) the store in `dir`, its values sealed under `cipher` when given. Views
    /// sealed otherwise (under another key, or not at all) are wiped, to be folded again from the
    /// log: [`ViewStore::resealed`] says so.
    ///
    /// # Errors
    /// When sled cannot open the folder (missing permissions, another process holds it).
    pub fn open_sealed(dir: &Path, cipher: Option<Cipher>) -> Result<ViewStore, StoreError> {
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
        let sealing = cipher
            .as_ref()
            .map_or_else(|| b"none".to_vec(), Cipher::fingerprint);
        // A store from before sealing existed has no record of it: it is unsealed.
        let sealed_as = tree
            .get(keys::SEALED)?
            .map_or_else(|| b"none".to_vec(), |v| v.to_vec());
        // Only views that exist are wiped: a new store just records how it seals.
        let resealed = sealed_as != sealing && tree.contains_key(keys::CHECKPOINT)?;
        if resealed {
            tree.clear()?;
            tree.insert(keys::FORMAT, FORMAT)?;
        }
        if tree.get(keys::SEALED)?.as_deref() != Some(sealing.as_slice()) {
            tree.insert(keys::SEALED, sealing)?;
            db.flush()?;
        }
        if let Some(redo) = tree.get(keys::REDO)? {
            // A persist was cut off after its redo record: finish it before anything reads.
            let entries: Vec<(Vec<u8>, Option<Vec<u8>>)> =
                postcard::from_bytes(&redo).map_err(|e| StoreError::corrupt(keys::REDO, e))?;
            let mut batch = sled::Batch::default();
            for (k, v) in entries {
                match v {
                    Some(v) => batch.insert(k, v),
                    None => batch.remove(k),
                }
            }
            batch.remove(keys::REDO);
            tree.apply_batch(batch)?;
            db.flush()?;
        }
        Ok(ViewStore {
            db,
            tree,
            folding: Default::default(),
            persisting: Default::default(),
            mem: Default::default(),
            persist_at: PERSIST_AT_BYTES,
            cipher: cipher.map(Arc::new),
            resealed,
        })
    }

    /// Whether opening wiped views sealed otherwise than asked (`VIEWS_KEY` set, changed or
    /// removed): they are folded again from the log.
    pub fn resealed(&self) -> bool {
        self.resealed
    }

    /// The sled tree as this store reads it: values opened when sealed.
    fn disk(&self) -> Disk<'_> {
        Disk {
            tree: &self.tree,
            cipher: self.cipher.as_deref(),
        }
    }

    /// The same store with another bound on unpersisted views (tests use a small one so that
    /// folds persist as catching up does).
    pub fn with_persist_at(mut self, bytes: usize) -> ViewStore {
        self.persist_at = bytes;
        self
    }

    /// Read access to the views as folded so far (persisted or not).
    pub fn views(&self) -> Views<Live<'_>> {
        Views::new(Live { store: self })
    }

    /// The log sequence of the last folded event (0 when nothing is folded).
    ///
    /// # Errors
    /// When the checkpoint cannot be read.
    pub fn checkpoint(&self) -> Result<u64, StoreError> {
        self.views().checkpoint()
    }

    /// The checkpoint sled holds: where a node that crashed now would start folding again.
    ///
    /// # Errors
    /// When sled cannot read it.
    pub fn persisted_checkpoint(&self) -> Result<u64, StoreError> {
        Views::new(self.disk()).checkpoint()
    }

    /// Folds `entries` (in log order) and commits them, with the checkpoint of the last one, to the
    /// views in memory. Entries at or below the checkpoint are skipped, so a batch may be
    /// re-delivered safely.
    ///
    /// # Errors
    /// When a view cannot be read (or does not decode) while folding, or the unpersisted views
    /// are over their bound and cannot be persisted first. Either way nothing of the batch is
    /// visible and the checkpoint has not moved, so the same batch may be folded again.
    pub fn fold_batch(&self, entries: &[LogEntry]) -> Result<Vec<(u64, Outcome)>, StoreError> {
        let _folding = self.folding.lock().unwrap_or_else(|e| e.into_inner());
        if self.unpersisted_bytes() > self.persist_at {
            self.persist_as(Write::OneBatch)?;
        }
        let checkpoint = self.checkpoint()?;
        let mut views = Views::new(Overlay::new(Live { store: self }));
        let mut outcomes = Vec::with_capacity(entries.len());
        let mut last = checkpoint;
        for entry in entries.iter().filter(|e| e.seq > checkpoint) {
            // A failed read drops the overlay: nothing of this batch is written.
            let outcome = match &entry.event {
                Some(event) => apply(&mut views, entry.seq, event)?,
                None => Outcome::Skipped("not an event of this schema"),
            };
            outcomes.push((entry.seq, outcome));
            last = last.max(entry.seq);
        }
        if last == checkpoint {
            return Ok(outcomes);
        }
        views.set_checkpoint(last);
        let pending = views.kv.pending;
        let mut mem = self.mem.write().unwrap_or_else(|e| e.into_inner());
        for (k, v) in pending {
            let key_len = k.len();
            let added = key_len + v.as_ref().map_or(0, Vec::len);
            let replaced = mem
                .dirty
                .insert(k, v.map(Arc::new))
                .map_or(0, |old| key_len + old.map_or(0, |o| o.len()));
            mem.dirty_bytes = mem.dirty_bytes + added - replaced;
        }
        Ok(outcomes)
    }

    /// Bytes of keys and values folded and not yet in sled: since the last persist began, and
    /// what that persist writes or failed to write (a key written twice counts once, at its
    /// newest size, within each).
    pub fn unpersisted_bytes(&self) -> usize {
        let mem = self.mem.read().unwrap_or_else(|e| e.into_inner());
        mem.dirty_bytes + mem.writing_bytes
    }

    /// Writes every view folded so far, with its checkpoint, to sled; returns how many keys it
    /// wrote. Folds and reads go on meanwhile.
    ///
    /// Atomic by a redo record: the whole batch is first written as one value (`x/redo`, one sled
    /// write, so after a crash it is there whole or not at all), then key by key, then the record
    /// is removed; opening a store that still has it writes it again. Not `apply_batch`: sled holds
    /// every read of the tree while a batch applies, which stalled sends for the length of a persist.
    /// (A fold over the memory bound persists with `apply_batch`: `Write::OneBatch`.)
    ///
    /// # Errors
    /// When sled cannot write: the views stay in memory (still read, still unpersisted) and the
    /// next persist writes them with whatever was folded since.
    pub fn persist(&self) -> Result<usize, StoreError> {
        self.persist_as(Write::KeyByKey)
    }

    fn persist_as(&self, how: Write) -> Result<usize, StoreError> {
        let _persisting = self.persisting.lock().unwrap_or_else(|e| e.into_inner());
        let writing = {
            let mut mem = self.mem.write().unwrap_or_else(|e| e.into_inner());
            if mem.dirty.is_empty() && mem.writing.is_empty() {
                return Ok(0);
            }
            let mut dirty = std::mem::take(&mut mem.dirty);
            mem.writing_bytes += std::mem::take(&mut mem.dirty_bytes);
            if !mem.writing.is_empty() {
                // A persist failed: its views go out again, under what was folded since.
                let mut older = (*mem.writing).clone();
                older.append(&mut dirty);
                dirty = older;
            }
            mem.writing = Arc::new(dirty);
            mem.writing.clone()
        };
        // What sled gets: the values sealed when a key is set (the redo record holds them so).
        let on_disk = match &self.cipher {
            None => writing.clone(),
            Some(cipher) => Arc::new(
                writing
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_ref().map(|v| Arc::new(cipher.seal(k, v)))))
                    .collect(),
            ),
        };
        match how {
            Write::KeyByKey => {
                self.tree.insert(keys::REDO, redo_record(&on_disk))?;
                for (k, v) in on_disk.iter() {
                    match v {
                        Some(v) => self.tree.insert(k.as_slice(), v.as_slice())?,
                        None => self.tree.remove(k.as_slice())?,
                    };
                }
                self.tree.remove(keys::REDO)?;
            }
            Write::OneBatch => {
                let mut batch = sled::Batch::default();
                for (k, v) in on_disk.iter() {
                    match v {
                        Some(v) => batch.insert(k.as_slice(), v.as_slice()),
                        None => batch.remove(k.as_slice()),
                    }
                }
                self.tree.apply_batch(batch)?;
            }
        }
        let mut mem = self.mem.write().unwrap_or_else(|e| e.into_inner());
        mem.writing = Arc::default();
        mem.writing_bytes = 0;
        mem.generation += 1;
        for (k, v) in writing.iter() {
            mem.cache.insert(k.clone(), v.clone());
        }
        Ok(writing.len())
    }

    /// Drops every view and the checkpoint, for a rebuild from the start of the log.
    ///
    /// # Errors
    /// When sled cannot clear the tree.
    pub fn wipe(&self) -> Result<(), StoreError> {
        let _folding = self.folding.lock().unwrap_or_else(|e| e.into_inner());
        let _persisting = self.persisting.lock().unwrap_or_else(|e| e.into_inner());
        {
            let mut mem = self.mem.write().unwrap_or_else(|e| e.into_inner());
            let generation = mem.generation + 1;
            *mem = Unpersisted {
                generation,
                ..Unpersisted::default()
            };
        }
        self.tree.clear()?;
        self.tree.insert(keys::FORMAT, FORMAT)?;
        let sealing = self
            .cipher
            .as_deref()
            .map_or_else(|| b"none".to_vec(), Cipher::fingerprint);
        self.tree.insert(keys::SEALED, sealing)?;
        self.db.flush()?;
        Ok(())
    }

    /// Persists everything folded so far and makes it durable on disk.
    ///
    /// # Errors
    /// When sled cannot write or flush.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.persist()?;
        self.db.flush()?;
        Ok(())
    }

    /// Every key and value as folded so far, for tests that compare whole stores.
    ///
    /// # Errors
    /// When sled cannot read an entry.
    pub fn dump(&self) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, StoreError> {
        let mut all = BTreeMap::new();
        Live { store: self }.scan(b"", &[0xff], false, &mut |k, v| {
            all.insert(k.to_vec(), v.to_vec());
            Ok(true)
        })?;
        Ok(all)
    }

    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

/// How a persist makes its write atomic.
#[derive(Clone, Copy)]
enum Write {
    /// A redo record, then key by key: reads of sled wait only per key. The persister's way.
    KeyByKey,
    /// One sled batch: every read of sled waits until it is applied, but nothing is written twice.
    /// A fold's way when the views in memory are over their bound (catching up, rebuilding),
    /// when nothing is served yet or the node is behind anyway.
    OneBatch,
}

/// A persist's batch as one value, what [`ViewStore::open`] reads back when a persist was cut
/// off: postcard's encoding of a list of key and value or removal, written here byte string by
/// byte string (serde would write them byte by byte, and the record is a whole persist).
fn redo_record(entries: &BTreeMap<Vec<u8>, Slot>) -> Vec<u8> {
    let size: usize = entries
        .iter()
        .map(|(k, v)| k.len() + v.as_ref().map_or(0, |v| v.len()) + 21)
        .sum();
    let mut out = Vec::with_capacity(size + 10);
    push_varint(&mut out, entries.len());
    for (k, v) in entries {
        push_varint(&mut out, k.len());
        out.extend_from_slice(k);
        match v {
            Some(v) => {
                out.push(1);
                push_varint(&mut out, v.len());
                out.extend_from_slice(v);
            }
            None => out.push(0),
        }
    }
    out
}

/// Postcard's unsigned varint: seven bits a byte, low bits first, the high bit set on all but the
/// last.
fn push_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// The views as folded so far: the unpersisted layer over the sled tree. Each read sees every
/// batch committed before it began.
#[derive(Clone, Copy)]
pub struct Live<'a> {
    store: &'a ViewStore,
}

impl Live<'_> {
    /// The value at `key`: from memory when it is there, else from sled, then cached.
    fn slot(&self, key: &[u8]) -> Result<Slot, StoreError> {
        let generation = {
            let mem = self.store.mem.read().unwrap_or_else(|e| e.into_inner());
            if let Some(slot) = mem.get(key) {
                return Ok(slot);
            }
            mem.generation
        };
        let slot = self.store.disk().get(key)?.map(Arc::new);
        let mut mem = self.store.mem.write().unwrap_or_else(|e| e.into_inner());
        // A persist since the read may have changed the key; a fold since may have folded it.
        if mem.generation == generation && mem.unpersisted(key).is_none() {
            mem.cache.insert(key.to_vec(), slot.clone());
        }
        Ok(slot)
    }
}

/// Memory first, then sled. A key leaves the unpersisted layers only after sled has it, so a read
/// that misses them finds the same value (or a newer one) in sled. Scans read the unpersisted
/// layers and sled, not the cache.
impl KvRead for Live<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.slot(key)?.map(|v| v.to_vec()))
    }

    fn read(&self, key: &[u8], visit: &mut Visit<'_>) -> Result<(), StoreError> {
        visit(self.slot(key)?.as_deref().map(Vec::as_slice))
    }

    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        reverse: bool,
        visit: &mut VisitEntry<'_>,
    ) -> Result<(), StoreError> {
        let over = self
            .store
            .mem
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .range(start, end);
        let disk = self.store.disk();
        let base = |v: &mut VisitEntry<'_>| disk.scan(start, end, reverse, v);
        let entries = over
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_deref().map(Vec::as_slice)));
        if reverse {
            merge(entries.rev(), base, true, visit)
        } else {
            merge(entries, base, false, visit)
        }
    }
}

/// The store's own records, kept unsealed: its format, how it seals, and a persist's redo record
/// (which holds values already sealed).
fn is_bookkeeping(key: &[u8]) -> bool {
    key == keys::FORMAT || key == keys::SEALED || key == keys::REDO
}

/// The sled tree, its values opened when the store is sealed.
#[derive(Clone, Copy)]
struct Disk<'a> {
    tree: &'a sled::Tree,
    cipher: Option<&'a Cipher>,
}

/// The sled tree alone. A sled error, or a sealed value that does not open, is returned, never
/// taken for an absent key.
impl KvRead for Disk<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let Some(value) = self.tree.get(key)? else {
            return Ok(None);
        };
        match self.cipher {
            Some(c) if !is_bookkeeping(key) => c.open(key, &value).map(Some),
            _ => Ok(Some(value.to_vec())),
        }
    }

    fn read(&self, key: &[u8], visit: &mut Visit<'_>) -> Result<(), StoreError> {
        match self.cipher {
            Some(_) => visit(self.get(key)?.as_deref()),
            None => (&self.tree).read(key, visit),
        }
    }

    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        reverse: bool,
        visit: &mut VisitEntry<'_>,
    ) -> Result<(), StoreError> {
        match self.cipher {
            Some(c) => (&self.tree).scan(start, end, reverse, &mut |k, v| {
                if is_bookkeeping(k) {
                    visit(k, v)
                } else {
                    visit(k, &c.open(k, v)?)
                }
            }),
            None => (&self.tree).scan(start, end, reverse, visit),
        }
    }
}

/// The sled tree alone. A sled error is returned, never taken for an absent key.
impl KvRead for &sled::Tree {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(sled::Tree::get(self, key)?.map(|v| v.to_vec()))
    }

    fn read(&self, key: &[u8], visit: &mut Visit<'_>) -> Result<(), StoreError> {
        let value = sled::Tree::get(self, key)?;
        visit(value.as_deref())
    }

    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        reverse: bool,
        visit: &mut VisitEntry<'_>,
    ) -> Result<(), StoreError> {
        let range = self.range::<&[u8], _>(start..end);
        if reverse {
            for item in range.rev() {
                let (k, v) = item?;
                if !visit(&k, &v)? {
                    break;
                }
            }
        } else {
            for item in range {
                let (k, v) = item?;
                if !visit(&k, &v)? {
                    break;
                }
            }
        }
        Ok(())
    }
}

/// Writes of one batch, held over the live views until commit; reads see them on top.
struct Overlay<'a> {
    base: Live<'a>,
    pending: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
}

impl<'a> Overlay<'a> {
    fn new(base: Live<'a>) -> Self {
        Overlay {
            base,
            pending: BTreeMap::new(),
        }
    }
}

impl KvRead for Overlay<'_> {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.pending.get(key) {
            Some(v) => Ok(v.clone()),
            None => self.base.get(key),
        }
    }

    fn read(&self, key: &[u8], visit: &mut Visit<'_>) -> Result<(), StoreError> {
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
        visit: &mut VisitEntry<'_>,
    ) -> Result<(), StoreError> {
        let bounds = (Bound::Included(start), Bound::Excluded(end));
        let pending = self
            .pending
            .range::<[u8], _>(bounds)
            .map(|(k, v)| (k.as_slice(), v.as_deref()));
        let base = |v: &mut VisitEntry<'_>| self.base.scan(start, end, reverse, v);
        if reverse {
            merge(pending.rev(), base, true, visit)
        } else {
            merge(pending, base, false, visit)
        }
    }
}

/// Visits the union of `over` (entries in scan order) and what `base` scans, in key order
/// (reversed when `reverse`); on equal keys `over` wins, and its `None` hides the key. Stops at the
/// first `Ok(false)` or error of `visit`, and at the first error of `base`.
fn merge<'o>(
    over: impl Iterator<Item = (&'o [u8], Option<&'o [u8]>)>,
    base: impl FnOnce(&mut VisitEntry<'_>) -> Result<(), StoreError>,
    reverse: bool,
    visit: &mut VisitEntry<'_>,
) -> Result<(), StoreError> {
    let mut over = over.peekable();
    let mut stopped = false;
    let before = |o: &[u8], b: &[u8]| if reverse { o > b } else { o < b };
    base(&mut |bk, bv| {
        while let Some(&(ok, ov)) = over.peek() {
            if !before(ok, bk) {
                break;
            }
            over.next();
            if let Some(v) = ov {
                if !visit(ok, v)? {
                    stopped = true;
                    return Ok(false);
                }
            }
        }
        let value = match over.peek() {
            Some(&(ok, ov)) if ok == bk => {
                over.next();
                ov
            }
            _ => Some(bv),
        };
        if let Some(v) = value {
            if !visit(bk, v)? {
                stopped = true;
                return Ok(false);
            }
        }
        Ok(true)
    })?;
    if !stopped {
        for (k, v) in over {
            if let Some(v) = v {
                if !visit(k, v)? {
                    break;
                }
            }
        }
    }
    Ok(())
}

impl Kv for Overlay<'_> {
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.pending.insert(key, Some(value));
    }

    fn remove(&mut self, key: &[u8]) {
        self.pending.insert(key.to_vec(), None);
    }

    fn update(&mut self, key: &[u8], change: &mut Change<'_>) -> Result<(), StoreError> {
        if let Some(value) = self.pending.get_mut(key) {
            return change(value);
        }
        let mut value = self.base.get(key)?;
        let changed = change(&mut value);
        self.pending.insert(key.to_vec(), value);
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Corruption;
    use concierge_events::{
        Actor, AdminBroadcast, Audience, BookingRegistered, BookingSource, ConversationCreated,
        Event, MessageSent, MessageType, ParticipantJoined, Role, Timestamp,
    };

    fn entry(seq: u64, conversation: Option<&str>, event: Event) -> LogEntry {
        let actor = Actor {
            id: "cus1".into(),
            role: Role::Customer,
            name: None,
        };
        let at = Timestamp(1_790_000_000_000 + seq as i64 * 1000);
        let env = Envelope::new(
            format!("ev{seq}"),
            at,
            actor,
            conversation.map(Into::into),
            event,
        );
        LogEntry {
            seq,
            event: Some(env),
        }
    }

    /// Opens the store in `dir` again, waiting for sled to release the lock of the dropped one.
    fn reopen(dir: &Path) -> ViewStore {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            match ViewStore::open(dir) {
                Ok(s) => return s,
                Err(_) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn a_batch_that_cannot_read_a_view_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = ViewStore::open(dir.path()).unwrap();
        // A booking and its conversation, without the message.
        let mut opened = chat("");
        opened.truncate(2);
        store.fold_batch(&opened).unwrap();
        store.persist().unwrap();
        // The conversation's record announces a 9-byte open chunk it does not hold.
        store
            .tree
            .insert(keys::conversation("c1"), &[0u8, 0, 0, 9][..])
            .unwrap();
        // As after a restart: nothing cached.
        store.mem.write().unwrap().cache = Cache::default();
        let before = store.dump().unwrap();

        // The broadcast folds (its stats sit in the overlay); the send cannot read its conversation.
        let batch = [
            entry(
                3,
                None,
                Event::AdminBroadcast(AdminBroadcast {
                    content: "hello".into(),
                    audience: Audience::All,
                }),
            ),
            entry(
                4,
                Some("c1"),
                Event::MessageSent(MessageSent {
                    message_id: "m1".into(),
                    content: "hi".into(),
                    message_type: MessageType::Text,
                    attachments: Vec::new(),
                    reply_to: None,
                    client_message_id: None,
                }),
            ),
        ];
        match store.fold_batch(&batch) {
            Err(StoreError::Corrupt {
                key,
                source: Corruption::Layout(_),
            }) => assert_eq!(key, "c/c1"),
            other => panic!("expected the corrupt record, got {:?}", other.map(|_| ())),
        }
        assert_eq!(
            store.checkpoint().unwrap(),
            2,
            "the checkpoint did not move"
        );
        assert_eq!(
            store.dump().unwrap(),
            before,
            "nothing of the batch was committed"
        );
    }

    /// Sled holds a, b, c, d; a persist under way is writing b (new) and c (removed); folds
    /// since wrote b again, e, and removed d. Every read sees the newest layer that has the key.
    #[test]
    fn reads_see_memory_over_the_persist_under_way_over_sled() {
        let dir = tempfile::tempdir().unwrap();
        let store = ViewStore::open(dir.path()).unwrap();
        for k in ["k/a", "k/b", "k/c", "k/d"] {
            store.tree.insert(k, "sled").unwrap();
        }
        let slot = |v: &str| Some(Arc::new(v.as_bytes().to_vec()));
        {
            let mut mem = store.mem.write().unwrap();
            mem.writing = Arc::new(BTreeMap::from([
                (b"k/b".to_vec(), slot("writing")),
                (b"k/c".to_vec(), None),
            ]));
            mem.dirty = BTreeMap::from([
                (b"k/b".to_vec(), slot("dirty")),
                (b"k/d".to_vec(), None),
                (b"k/e".to_vec(), slot("dirty")),
            ]);
        }
        let live = Live { store: &store };
        let scan = |reverse: bool, limit: usize| {
            let mut seen = Vec::new();
            live.scan(b"k/", b"k0", reverse, &mut |k, v| {
                seen.push(format!(
                    "{}={}",
                    String::from_utf8_lossy(k),
                    String::from_utf8_lossy(v)
                ));
                Ok(seen.len() < limit)
            })
            .unwrap();
            seen
        };
        assert_eq!(
            scan(false, 10),
            ["k/a=sled", "k/b=dirty", "k/e=dirty"],
            "forward"
        );
        assert_eq!(
            scan(true, 10),
            ["k/e=dirty", "k/b=dirty", "k/a=sled"],
            "reverse"
        );
        assert_eq!(scan(false, 2), ["k/a=sled", "k/b=dirty"], "stops when told");
        assert_eq!(live.get(b"k/b").unwrap(), Some(b"dirty".to_vec()));
        assert_eq!(
            live.get(b"k/c").unwrap(),
            None,
            "removed by the persist under way"
        );
        assert_eq!(live.get(b"k/d").unwrap(), None, "removed since");
        assert_eq!(live.get(b"k/a").unwrap(), Some(b"sled".to_vec()));

        // The next persist writes both layers, the newer winning, and empties memory.
        assert_eq!(store.persist().unwrap(), 4);
        assert!(store.mem.read().unwrap().dirty.is_empty());
        assert!(store.mem.read().unwrap().writing.is_empty());
        let sled: Vec<_> = store
            .tree
            .scan_prefix("k/")
            .map(|e| {
                let (k, v) = e.unwrap();
                format!(
                    "{}={}",
                    String::from_utf8_lossy(&k),
                    String::from_utf8_lossy(&v)
                )
            })
            .collect();
        assert_eq!(sled, ["k/a=sled", "k/b=dirty", "k/e=dirty"]);
    }

    /// A persist cut off after its redo record and half of its keys: opening the store again
    /// finishes it, and sled holds the whole batch with its checkpoint.
    #[test]
    fn a_persist_cut_off_midway_is_finished_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let whole = {
            let store = ViewStore::open(dir.path()).unwrap();
            store.tree.insert("k/old", "sled").unwrap();
            store.mem.write().unwrap().dirty = BTreeMap::from([
                (b"k/a".to_vec(), Some(Arc::new(b"new".to_vec()))),
                (b"k/b".to_vec(), Some(Arc::new(b"new".to_vec()))),
                (b"k/old".to_vec(), None),
                (
                    keys::CHECKPOINT.to_vec(),
                    Some(Arc::new(9u64.to_be_bytes().to_vec())),
                ),
            ]);
            let whole = store.dump().unwrap();
            // What persist writes first, then only the first key of four.
            let dirty = std::mem::take(&mut store.mem.write().unwrap().dirty);
            store.tree.insert(keys::REDO, redo_record(&dirty)).unwrap();
            store.tree.insert("k/a", "new").unwrap();
            store.db.flush().unwrap();
            assert_eq!(store.persisted_checkpoint().unwrap(), 0);
            whole
        };
        let store = reopen(dir.path());
        assert_eq!(store.persisted_checkpoint().unwrap(), 9);
        assert_eq!(
            store.tree.get(keys::REDO).unwrap(),
            None,
            "the record is gone"
        );
        assert_eq!(store.dump().unwrap(), whole);
        assert_eq!(store.tree.get("k/old").unwrap(), None);
    }

    /// A conversation with one message whose text is `words`.
    fn chat(words: &str) -> Vec<LogEntry> {
        vec![
            entry(
                1,
                None,
                Event::BookingRegistered(BookingRegistered {
                    booking_id: "bk1".into(),
                    customer_id: "cus1".into(),
                    title: None,
                    source: BookingSource::Api,
                }),
            ),
            entry(
                2,
                Some("c1"),
                Event::ConversationCreated(ConversationCreated {
                    booking_id: "bk1".into(),
                    title: "Booking bk1".into(),
                    participants: vec![ParticipantJoined {
                        user_id: "cus1".into(),
                        role: Role::Customer,
                        name: "Ann".into(),
                    }],
                }),
            ),
            entry(
                3,
                Some("c1"),
                Event::MessageSent(MessageSent {
                    message_id: "01JDQ80000000000000000000A".into(),
                    content: words.into(),
                    message_type: MessageType::Text,
                    attachments: Vec::new(),
                    reply_to: None,
                    client_message_id: None,
                }),
            ),
        ]
    }

    /// Every byte sled holds for the tree, keys and values.
    fn raw_bytes(store: &ViewStore) -> Vec<u8> {
        let mut all = Vec::new();
        for item in store.tree.iter() {
            let (k, v) = item.unwrap();
            all.extend_from_slice(&k);
            all.extend_from_slice(&v);
        }
        all
    }

    #[test]
    fn sealed_views_hold_no_words_on_disk_and_read_back_whole() {
        let words = b"the door code is 4711";
        let contains = |hay: &[u8]| hay.windows(words.len()).any(|w| w == words);
        let plain_dir = tempfile::tempdir().unwrap();
        let plain = ViewStore::open(plain_dir.path()).unwrap();
        plain.fold_batch(&chat("the door code is 4711")).unwrap();
        plain.flush().unwrap();
        assert!(
            contains(&raw_bytes(&plain)),
            "unsealed, the words are on disk"
        );

        let dir = tempfile::tempdir().unwrap();
        let key = [42u8; 32];
        let store = ViewStore::open_sealed(dir.path(), Some(Cipher::new(&key))).unwrap();
        assert!(!store.resealed(), "a new store has nothing to wipe");
        store.fold_batch(&chat("the door code is 4711")).unwrap();
        store.flush().unwrap();
        assert!(!contains(&raw_bytes(&store)), "sealed, they are not");
        let views = |store: &ViewStore| {
            let mut all = store.dump().unwrap();
            all.remove(keys::SEALED);
            all
        };
        let folded = views(&store);
        assert_eq!(folded, views(&plain), "the same views, read back");
        drop(store);

        // As after a restart: the same key reads them from sled.
        let again = loop {
            match ViewStore::open_sealed(dir.path(), Some(Cipher::new(&key))) {
                Ok(s) => break s,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        };
        assert!(!again.resealed());
        assert_eq!(again.checkpoint().unwrap(), 3);
        assert_eq!(again.persisted_checkpoint().unwrap(), 3);
        assert_eq!(views(&again), folded);
        drop(again);

        // Another key, or none: the views are wiped, to fold again from the log.
        let rekeyed = loop {
            match ViewStore::open_sealed(dir.path(), Some(Cipher::new(&[43; 32]))) {
                Ok(s) => break s,
                Err(_) => std::thread::sleep(std::time::Duration::from_millis(20)),
            }
        };
        assert!(rekeyed.resealed());
        assert_eq!(rekeyed.checkpoint().unwrap(), 0);
        rekeyed.fold_batch(&chat("again")).unwrap();
        rekeyed.flush().unwrap();
        drop(rekeyed);
        let unsealed = reopen(dir.path());
        assert!(unsealed.resealed());
        assert_eq!(unsealed.checkpoint().unwrap(), 0);
    }

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
        let store = reopen(dir.path());
        assert_eq!(store.checkpoint().unwrap(), 0);
        let left: Vec<Vec<u8>> = store.dump().unwrap().into_keys().collect();
        assert_eq!(left, vec![keys::FORMAT.to_vec(), keys::SEALED.to_vec()]);
    }

    /// The hand-written redo record is postcard's encoding, which `open` decodes: long keys and
    /// values (varints of two and three bytes), removals and empty values included.
    #[test]
    fn the_redo_record_is_postcards_encoding() {
        let entries: BTreeMap<Vec<u8>, Slot> = BTreeMap::from([
            (b"c/one".to_vec(), Some(Arc::new(vec![7; 200]))),
            (vec![b'k'; 130], None),
            (b"m/two".to_vec(), Some(Arc::new(vec![9; 70_000]))),
            (b"u/empty".to_vec(), Some(Arc::new(Vec::new()))),
        ]);
        let by_serde: Vec<(&[u8], Option<&[u8]>)> = entries
            .iter()
            .map(|(k, v)| (k.as_slice(), v.as_deref().map(Vec::as_slice)))
            .collect();
        assert_eq!(
            redo_record(&entries),
            postcard::to_allocvec(&by_serde).unwrap()
        );
    }
}
