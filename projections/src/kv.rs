//! The key-value surface the folds read and write, with an in-memory implementation for tests and
//! history, and the key layout shared by every implementation.

use std::collections::BTreeMap;
use std::ops::Bound;

/// Reads the views. Implemented by the live sled tree, by a fold transaction, and by [`MemKv`].
pub trait KvRead {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>>;
    /// Visits the value at `key` (`None` when absent) without copying it out of the store.
    fn read(&self, key: &[u8], visit: &mut dyn FnMut(Option<&[u8]>)) {
        visit(self.get(key).as_deref());
    }
    /// Visits keys in `[start, end)` in order (or reverse order) until `visit` returns `false`.
    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        reverse: bool,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    );
}

/// Writes the views. Only folds write.
pub trait Kv: KvRead {
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>);
    fn remove(&mut self, key: &[u8]);
    /// Changes the value at `key` in place (`None`: absent; leaving `None` removes it). Packed
    /// values grow by one record per event, so stores override this to avoid copying them.
    fn update(&mut self, key: &[u8], change: &mut dyn FnMut(&mut Option<Vec<u8>>)) {
        let mut value = self.get(key);
        change(&mut value);
        match value {
            Some(v) => self.put(key.to_vec(), v),
            None => self.remove(key),
        }
    }
}

/// Views held in memory: the unit tests' store, and the scratch space of a history fold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemKv {
    pub map: BTreeMap<Vec<u8>, Vec<u8>>,
}

impl KvRead for MemKv {
    fn get(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.map.get(key).cloned()
    }

    fn read(&self, key: &[u8], visit: &mut dyn FnMut(Option<&[u8]>)) {
        visit(self.map.get(key).map(Vec::as_slice));
    }

    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        reverse: bool,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) {
        let range = self
            .map
            .range::<[u8], _>((Bound::Included(start), Bound::Excluded(end)));
        if reverse {
            for (k, v) in range.rev() {
                if !visit(k, v) {
                    return;
                }
            }
        } else {
            for (k, v) in range {
                if !visit(k, v) {
                    return;
                }
            }
        }
    }
}

impl Kv for MemKv {
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.map.insert(key, value);
    }

    fn remove(&mut self, key: &[u8]) {
        self.map.remove(key);
    }

    fn update(&mut self, key: &[u8], change: &mut dyn FnMut(&mut Option<Vec<u8>>)) {
        let mut value = self.map.remove(key);
        change(&mut value);
        if let Some(v) = value {
            self.map.insert(key.to_vec(), v);
        }
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
    /// `s` → `StatsView`
    pub const STATS: &[u8] = b"s";
    /// `x/format` → the encoding of the views; a store in another one is rebuilt from the log.
    pub const FORMAT: &[u8] = b"x/format";
    /// `x/checkpoint` → the log sequence of the last folded event, big-endian.
    pub const CHECKPOINT: &[u8] = b"x/checkpoint";
}
