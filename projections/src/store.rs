//! The sled store that keeps the views and the checkpoint together. A batch of events is folded into
//! an overlay over the tree and committed with the new checkpoint in one atomic sled batch, so a crash
//! leaves the views exactly at some checkpoint, never between two.

use crate::error::StoreError;
use crate::fold::{apply, Outcome};
use crate::kv::{keys, Change, Kv, KvRead, Visit, VisitEntry};
use crate::typed::Views;
use concierge_events::Envelope;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;

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

    /// The log sequence of the last folded event (0 when nothing is folded).
    ///
    /// # Errors
    /// When the checkpoint cannot be read.
    pub fn checkpoint(&self) -> Result<u64, StoreError> {
        self.views().checkpoint()
    }

    /// Folds `entries` (in log order) and commits them with the checkpoint of the last one.
    /// Entries at or below the checkpoint are skipped, so a batch may be re-delivered safely.
    ///
    /// # Errors
    /// When a view cannot be read (or does not decode) while folding, or sled cannot write the
    /// batch. Either way nothing of the batch is visible and the checkpoint has not moved, so the
    /// same batch may be folded again.
    pub fn fold_batch(&self, entries: &[LogEntry]) -> Result<Vec<(u64, Outcome)>, StoreError> {
        let _folding = self.folding.lock().unwrap_or_else(|e| e.into_inner());
        let checkpoint = self.checkpoint()?;
        let mut views = Views::new(Overlay::new(&self.tree));
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
    ///
    /// # Errors
    /// When sled cannot read an entry.
    pub fn dump(&self) -> Result<BTreeMap<Vec<u8>, Vec<u8>>, StoreError> {
        self.tree
            .iter()
            .map(|item| {
                let (k, v) = item?;
                Ok((k.to_vec(), v.to_vec()))
            })
            .collect()
    }

    pub fn size_on_disk(&self) -> u64 {
        self.db.size_on_disk().unwrap_or(0)
    }
}

/// The live tree. A sled error is returned, never taken for an absent key.
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
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.pending.get(key) {
            Some(v) => Ok(v.clone()),
            None => KvRead::get(&self.base, key),
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
        let pending = self.pending.range::<[u8], _>(bounds);
        let base = self.base.range::<&[u8], _>(start..end);
        if reverse {
            merge(pending.rev().peekable(), base.rev(), true, visit)
        } else {
            merge(pending.peekable(), base, false, visit)
        }
    }
}

/// Visits the union of the overlay's and the tree's entries in key order (reversed when `reverse`);
/// on equal keys the overlay wins, and its `None` hides the key. Stops at the tree's first error.
fn merge<'p>(
    mut over: std::iter::Peekable<impl Iterator<Item = (&'p Vec<u8>, &'p Option<Vec<u8>>)>>,
    mut base: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
    reverse: bool,
    visit: &mut VisitEntry<'_>,
) -> Result<(), StoreError> {
    let mut next_base = base.next().transpose()?;
    loop {
        let take_over = match (&next_base, over.peek()) {
            (None, None) => return Ok(()),
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
                next_base = base.next().transpose()?;
            }
            if let Some(v) = v {
                if !visit(k, v)? {
                    return Ok(());
                }
            }
        } else {
            let (k, v) = next_base.take().expect("checked");
            if !visit(&k, &v)? {
                return Ok(());
            }
            next_base = base.next().transpose()?;
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

    fn update(&mut self, key: &[u8], change: &mut Change<'_>) -> Result<(), StoreError> {
        if let Some(value) = self.pending.get_mut(key) {
            return change(value);
        }
        let mut value = KvRead::get(&self.base, key)?;
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

    #[test]
    fn a_batch_that_cannot_read_a_view_commits_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = ViewStore::open(dir.path()).unwrap();
        let opened = [
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
        ];
        store.fold_batch(&opened).unwrap();
        // The conversation's record announces a 9-byte open chunk it does not hold.
        store
            .tree
            .insert(keys::conversation("c1"), &[0u8, 0, 0, 9][..])
            .unwrap();
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
        assert_eq!(store.checkpoint().unwrap(), 0);
        assert_eq!(store.dump().unwrap().len(), 1);
    }
}
