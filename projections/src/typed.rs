//! Typed access to the views over any [`KvRead`]/[`Kv`]: what the folds and the read paths share.

use crate::kv::{keys, Kv, KvRead};
use crate::views::{BookingView, ConversationView, MessageView, StatsView};
use concierge_events::Timestamp;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The views over a key-value store. Reads work on any store; writes only where folds run.
#[derive(Clone, Debug, Default)]
pub struct Views<K> {
    pub kv: K,
}

/// Views are stored in postcard, a compact binary serde format: folding is mostly decoding and
/// encoding views, and JSON (with its RFC 3339 timestamps) cost several times more.
pub(crate) fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    postcard::from_bytes(bytes).ok()
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("views always serialize")
}

impl<K: KvRead> Views<K> {
    pub fn new(kv: K) -> Self {
        Views { kv }
    }

    fn get<T: DeserializeOwned>(&self, key: &[u8]) -> Option<T> {
        self.kv.get(key).and_then(|b| decode(&b))
    }

    pub fn booking(&self, id: &str) -> Option<BookingView> {
        self.get(&keys::booking(id))
    }

    pub fn conversation(&self, id: &str) -> Option<ConversationView> {
        self.get(&keys::conversation(id))
    }

    pub fn message(&self, conversation_id: &str, seq: u64) -> Option<MessageView> {
        self.get(&keys::message(conversation_id, seq))
    }

    /// Where a message lives: its conversation and seq.
    pub fn locate(&self, message_id: &str) -> Option<(String, u64)> {
        let raw = self.kv.get(&keys::message_index(message_id))?;
        if raw.len() < 8 {
            return None;
        }
        let seq = u64::from_be_bytes(raw[..8].try_into().ok()?);
        let conversation = String::from_utf8(raw[8..].to_vec()).ok()?;
        Some((conversation, seq))
    }

    pub fn message_by_id(&self, message_id: &str) -> Option<MessageView> {
        let (conversation, seq) = self.locate(message_id)?;
        self.message(&conversation, seq)
    }

    /// The message a sender's client key already produced in a conversation.
    pub fn client_key(&self, conversation_id: &str, sender: &str, key: &str) -> Option<String> {
        self.kv
            .get(&keys::client_key(conversation_id, sender, key))
            .and_then(|b| String::from_utf8(b).ok())
    }

    pub fn stats(&self) -> StatsView {
        self.get(keys::STATS).unwrap_or_default()
    }

    /// The log sequence of the last folded event (0 when nothing is folded).
    pub fn checkpoint(&self) -> u64 {
        self.kv
            .get(keys::CHECKPOINT)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_be_bytes)
            .unwrap_or(0)
    }

    pub fn conversations(&self) -> Vec<ConversationView> {
        let mut out = Vec::new();
        let (start, end) = keys::CONVERSATIONS;
        self.kv.scan(start, end, false, &mut |_, v| {
            if let Some(c) = decode(v) {
                out.push(c);
            }
            true
        });
        out
    }

    /// Up to `limit` messages with `after < seq < before`, oldest first, or newest first when `reverse`.
    pub fn messages(
        &self,
        conversation_id: &str,
        after: u64,
        before: u64,
        reverse: bool,
        limit: usize,
    ) -> Vec<MessageView> {
        let mut out = Vec::new();
        if limit == 0 || before <= after.saturating_add(1) {
            return out;
        }
        let (start, end) = keys::messages(conversation_id, after, before);
        self.kv.scan(&start, &end, reverse, &mut |_, v| {
            if let Some(m) = decode(v) {
                out.push(m);
            }
            out.len() < limit
        });
        out
    }

    /// The ids of the conversations `user_id` takes part in.
    pub fn conversations_of(&self, user_id: &str) -> Vec<String> {
        let (start, end) = keys::participations(user_id);
        let mut out = Vec::new();
        self.kv.scan(&start, &end, false, &mut |k, _| {
            if let Ok(id) = std::str::from_utf8(&k[start.len()..]) {
                out.push(id.to_string());
            }
            true
        });
        out
    }

    /// Non-deleted messages created at or after `since`.
    pub fn live_messages_since(&self, since: Timestamp) -> u64 {
        let mut n = 0;
        let start = keys::message_time_from(since.millis());
        self.kv
            .scan(&start, keys::MESSAGE_TIME_END, false, &mut |_, _| {
                n += 1;
                true
            });
        n
    }
}

impl<K: Kv> Views<K> {
    pub fn put_booking(&mut self, b: &BookingView) {
        self.kv.put(keys::booking(&b.booking_id), encode(b));
    }

    pub fn put_participation(&mut self, user_id: &str, conversation_id: &str) {
        self.kv
            .put(keys::participation(user_id, conversation_id), Vec::new());
    }

    pub fn put_conversation(&mut self, c: &ConversationView) {
        self.kv.put(keys::conversation(&c.id), encode(c));
    }

    /// Stores a message and its id index.
    pub fn put_message(&mut self, m: &MessageView) {
        self.kv
            .put(keys::message(&m.conversation_id, m.seq), encode(m));
        let mut loc = m.seq.to_be_bytes().to_vec();
        loc.extend_from_slice(m.conversation_id.as_bytes());
        self.kv.put(keys::message_index(&m.id), loc);
    }

    pub fn put_client_key(
        &mut self,
        conversation_id: &str,
        sender: &str,
        key: &str,
        message_id: &str,
    ) {
        self.kv.put(
            keys::client_key(conversation_id, sender, key),
            message_id.as_bytes().to_vec(),
        );
    }

    pub fn set_live_in_time_index(&mut self, m: &MessageView, live: bool) {
        let key = keys::message_time(m.created_at.millis(), m.seq);
        if live {
            self.kv.put(key, Vec::new());
        } else {
            self.kv.remove(&key);
        }
    }

    pub fn put_stats(&mut self, s: &StatsView) {
        self.kv.put(keys::STATS.to_vec(), encode(s));
    }

    pub fn set_checkpoint(&mut self, seq: u64) {
        self.kv
            .put(keys::CHECKPOINT.to_vec(), seq.to_be_bytes().to_vec());
    }
}
