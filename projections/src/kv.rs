//! The key-value surface the folds read and write, with an in-memory implementation for tests and
//! history, and the key layout shared by every implementation.

use crate::error::StoreError;
use std::collections::BTreeMap;
use std::ops::Bound;

/// Visits one value in place (`None` when absent); an error it returns ends the read with it.
pub type Visit<'a> = dyn FnMut(Option<&[u8]>) -> Result<(), StoreError> + 'a;
/// Visits one entry of a scan, key and value; `Ok(false)` ends the scan, an error ends it with it.
pub type VisitEntry<'a> = dyn FnMut(&[u8], &[u8]) -> Result<bool, StoreError> + 'a;
/// Changes a value in place (see [`Kv::update`]); an error ends the update with it.
pub type Change<'a> = dyn FnMut(&mut Option<Vec<u8>>) -> Result<(), StoreError> + 'a;

/// Reads the views. Implemented by the live sled tree, by a fold transaction, and by [`MemKv`].
///
/// Every read can fail with a [`StoreError`]; `Ok(None)` (or a scan that visits nothing) means the
/// key is truly absent. Visitors return a `Result` too, so a value that does not decode stops the
/// read with its error.
pub trait KvRead {
    /// A copy of the value at `key`.
    ///
    /// # Errors
    /// When the store cannot read.
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Visits the value at `key` (`None` when absent) without copying it out of the store.
    ///
    /// # Errors
    /// When the store cannot read, or whatever `visit` returns.
    fn read(&self, key: &[u8], visit: &mut Visit<'_>) -> Result<(), StoreError> {
        visit(self.get(key)?.as_deref())
    }
    /// Visits keys in `[start, end)` in order (or reverse order) until `visit` returns `Ok(false)`.
    ///
    /// # Errors
    /// When the store cannot read an entry (the scan stops there), or the first error of `visit`.
    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        reverse: bool,
        visit: &mut VisitEntry<'_>,
    ) -> Result<(), StoreError>;
}

/// Writes the views. Only folds write. Writes are held by the implementation until it commits (or
/// are in memory), so only reads, and changes computed from them, can fail.
pub trait Kv: KvRead {
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>);
    fn remove(&mut self, key: &[u8]);
    /// Changes the value at `key` in place (`None`: absent; leaving `None` removes it). Packed
    /// values grow by one record per event, so stores override this to avoid copying them.
    ///
    /// # Errors
    /// When the value cannot be read, or whatever `change` returns; the value may then be changed
    /// in part, so a fold that fails must discard its writes (the store's overlay does).
    fn update(&mut self, key: &[u8], change: &mut Change<'_>) -> Result<(), StoreError> {
        let mut value = self.get(key)?;
        change(&mut value)?;
        match value {
            Some(v) => self.put(key.to_vec(), v),
            None => self.remove(key),
        }
        Ok(())
    }
}

/// Views held in memory: the unit tests' store, and the scratch space of a history fold. Its own
/// reads never fail; only a value that does not decode does.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemKv {
    pub map: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl KvRead for MemKv {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.map.get(key).cloned())
    }

    fn read(&self, key: &[u8], visit: &mut Visit<'_>) -> Result<(), StoreError> {
        visit(self.map.get(key).map(Vec::as_slice))
    }

    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        reverse: bool,
        visit: &mut VisitEntry<'_>,
    ) -> Result<(), StoreError> {
        let range = self
            .map
            .range::<[u8], _>((Bound::Included(start), Bound::Excluded(end)));
        if reverse {
            for (k, v) in range.rev() {
                if !visit(k, v)? {
                    break;
                }
            }
        } else {
            for (k, v) in range {
                if !visit(k, v)? {
                    break;
                }
            }
        }
        Ok(())
    }
}

impl Kv for MemKv {
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.map.insert(key, value);
    }

    fn remove(&mut self, key: &[u8]) {
        self.map.remove(key);
    }

    fn update(&mut self, key: &[u8], change: &mut Change<'_>) -> Result<(), StoreError> {
        let mut value = self.map.remove(key);
        let changed = change(&mut value);
        if let Some(v) = value {
            self.map.insert(key.to_vec(), v);
        }
        changed
    }
}

/// Key layout. Every view lives in one keyspace so that views and checkpoint commit in one batch.
pub mod keys {
    /// `b/<bookingId>` → `BookingView`
    pub fn booking(id: &str) -> Vec<u8> {
        [b"b/", id.as_bytes()].concat()
    }
    /// `c/<conversationId>` → the conversation's record (see `chunk::split_record`): its open chunk
    /// of newest messages, then its `ConversationView`, so a live send writes one key.
    pub fn conversation(id: &str) -> Vec<u8> {
        [b"c/", id.as_bytes()].concat()
    }
    pub const CONVERSATIONS: (&[u8], &[u8]) = (b"c/", b"c0");
    /// `m/<conversationId>/<seq, big-endian>` → a sealed chunk of consecutive `MessageView`s (see
    /// [`chunk::is_full`](crate::chunk::is_full)), keyed by the seq of its first message, so a
    /// conversation's messages scan in order. The newest, open chunk lives in the conversation's record.
    pub fn message_chunk(conversation_id: &str, first_seq: u64) -> Vec<u8> {
        [
            b"m/",
            conversation_id.as_bytes(),
            b"/",
            &first_seq.to_be_bytes(),
        ]
        .concat()
    }
    /// The bounds of every chunk of a conversation.
    pub fn message_chunks(conversation_id: &str) -> (Vec<u8>, Vec<u8>) {
        (
            [b"m/", conversation_id.as_bytes(), b"/"].concat(),
            [b"m/", conversation_id.as_bytes(), b"0"].concat(),
        )
    }
    /// `i/<first 10 chars of a ULID>` → the id bucket of the messages whose ids share that
    /// millisecond (`i/~<id>` for an id that is not a ULID): one key per millisecond, not per message.
    pub fn message_index(message_id: &str) -> Vec<u8> {
        if concierge_events::ids::is_ulid(message_id) {
            [b"i/", &message_id.as_bytes()[..10]].concat()
        } else {
            [b"i/~", message_id.as_bytes()].concat()
        }
    }
    /// `k/<conversationId>\0<sender>\0<clientMessageId>` → messageId
    pub fn client_key(conversation_id: &str, sender: &str, key: &str) -> Vec<u8> {
        [
            b"k/",
            conversation_id.as_bytes(),
            b"\0",
            sender.as_bytes(),
            b"\0",
            key.as_bytes(),
        ]
        .concat()
    }
    /// `a/<attachmentId>` → the id of the message that carries the upload (deleted or not).
    pub fn attachment(id: &str) -> Vec<u8> {
        [b"a/", id.as_bytes()].concat()
    }
    /// `t/<createdAt in whole seconds, big-endian>` → how many live (non-deleted) messages were
    /// created in that second, as a big-endian u64.
    pub fn message_second(created_ms: i64) -> Vec<u8> {
        [
            b"t/",
            &((created_ms.max(0) / 1000) as u64).to_be_bytes()[..],
        ]
        .concat()
    }
    pub const MESSAGE_SECONDS_END: &[u8] = b"t0";
    /// `p/<userId>/<conversationId>` → empty: the conversations a user takes part in.
    pub fn participation(user_id: &str, conversation_id: &str) -> Vec<u8> {
        [b"p/", user_id.as_bytes(), b"/", conversation_id.as_bytes()].concat()
    }
    /// The bounds of a user's participations.
    pub fn participations(user_id: &str) -> (Vec<u8>, Vec<u8>) {
        (
            [b"p/", user_id.as_bytes(), b"/"].concat(),
            [b"p/", user_id.as_bytes(), b"0"].concat(),
        )
    }
    /// `r/<shortcut>` → `CannedReplyView`
    pub fn canned_reply(shortcut: &str) -> Vec<u8> {
        [b"r/", shortcut.as_bytes()].concat()
    }
    pub const CANNED_REPLIES: (&[u8], &[u8]) = (b"r/", b"r0");
    /// `z/<until ms, big-endian><conversationId>` → empty: the snoozed conversations, soonest first.
    pub fn snooze(until_ms: i64, conversation_id: &str) -> Vec<u8> {
        timed(b"z/", until_ms, conversation_id)
    }
    pub const SNOOZES: (&[u8], &[u8]) = (b"z/", b"z0");
    /// `f/<first response ms, big-endian><conversationId>` → the first response time in ms
    /// (big-endian): one per conversation answered, in the order they were answered.
    pub fn first_response(at_ms: i64, conversation_id: &str) -> Vec<u8> {
        timed(b"f/", at_ms, conversation_id)
    }
    pub const FIRST_RESPONSES_END: &[u8] = b"f0";
    /// `q/<close ms, big-endian><conversationId>` → the resolution time in ms (big-endian): one per close.
    pub fn resolution(at_ms: i64, conversation_id: &str) -> Vec<u8> {
        timed(b"q/", at_ms, conversation_id)
    }
    pub const RESOLUTIONS_END: &[u8] = b"q0";
    /// `u/<first customer message ms, big-endian><conversationId>` → empty: the conversations whose
    /// customer has written and no admin has answered yet, longest waiting first.
    pub fn unanswered(asked_ms: i64, conversation_id: &str) -> Vec<u8> {
        timed(b"u/", asked_ms, conversation_id)
    }
    pub const UNANSWERED: (&[u8], &[u8]) = (b"u/", b"u0");
    fn timed(prefix: &[u8], ms: i64, conversation_id: &str) -> Vec<u8> {
        [
            prefix,
            &(ms.max(0) as u64).to_be_bytes()[..],
            conversation_id.as_bytes(),
        ]
        .concat()
    }
    /// The milliseconds a timed key (`z/`, `f/`, `q/`, `u/`) starts with; `None` when it is too short.
    pub fn time_of(key: &[u8]) -> Option<i64> {
        let ms: [u8; 8] = key.get(2..10)?.try_into().ok()?;
        Some(u64::from_be_bytes(ms) as i64)
    }
    /// The conversation a timed key names.
    pub fn conversation_of(key: &[u8]) -> Option<&str> {
        std::str::from_utf8(key.get(10..)?).ok()
    }
    /// `s` → `StatsView`
    pub const STATS: &[u8] = b"s";
    /// `x/format` → the encoding of the views; a store in another one is rebuilt from the log.
    pub const FORMAT: &[u8] = b"x/format";
    /// `x/sealed` → how the values are sealed (`Cipher::fingerprint`, or `none`); a store sealed
    /// otherwise than the node asks is rebuilt from the log.
    pub const SEALED: &[u8] = b"x/sealed";
    /// `x/redo` → the batch a persist is writing key by key (see `store::ViewStore::persist`);
    /// present only while it writes, or after a crash in the middle, when opening finishes it.
    pub const REDO: &[u8] = b"x/redo";
    /// `x/checkpoint` → the log sequence of the last folded event, big-endian.
    pub const CHECKPOINT: &[u8] = b"x/checkpoint";
}
