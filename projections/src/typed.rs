//! Typed access to the views over any [`KvRead`]/[`Kv`]: what the folds and the read paths share.

use crate::chunk;
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
        let mut value = None;
        self.kv.read(key, &mut |b| value = b.and_then(decode));
        value
    }

    pub fn booking(&self, id: &str) -> Option<BookingView> {
        self.get(&keys::booking(id))
    }

    pub fn conversation(&self, id: &str) -> Option<ConversationView> {
        let mut value = None;
        self.kv.read(&keys::conversation(id), &mut |record| {
            value = record
                .and_then(chunk::split_record)
                .and_then(|(_, view)| decode(view));
        });
        value
    }

    /// The conversation's open chunk of newest messages (empty when it has none).
    fn tail(&self, conversation_id: &str, visit: &mut dyn FnMut(&[u8])) {
        self.kv
            .read(&keys::conversation(conversation_id), &mut |record| {
                visit(record.and_then(chunk::split_record).map_or(&[], |(t, _)| t));
            });
    }

    pub fn message(&self, conversation_id: &str, seq: u64) -> Option<MessageView> {
        let mut found = None;
        self.visit_messages(
            conversation_id,
            seq.saturating_sub(1),
            seq.saturating_add(1),
            false,
            &mut |m| {
                found = Some(m);
                false
            },
        );
        found
    }

    /// The message at `seq` of `conv`, read straight from the conversation's newest chunk when it
    /// is there (a new or recent message), else found by a scan.
    pub fn message_in(&self, conv: &ConversationView, seq: u64) -> Option<MessageView> {
        if conv.chunk_start == 0 || seq < conv.chunk_start {
            return self.message(&conv.id, seq);
        }
        let mut found = None;
        self.tail(&conv.id, &mut |tail| {
            found = chunk::entries(tail)
                .find(|(s, _)| *s == seq)
                .and_then(|(_, raw)| decode(raw));
        });
        // Sealed since `conv` was read.
        found.or_else(|| self.message(&conv.id, seq))
    }

    /// Where a message lives: its conversation and seq.
    pub fn locate(&self, message_id: &str) -> Option<(String, u64)> {
        let mut found = None;
        self.kv
            .read(&keys::message_index(message_id), &mut |bucket| {
                found = bucket.and_then(|b| chunk::find_id(b, message_id));
            });
        found
    }

    pub fn message_by_id(&self, message_id: &str) -> Option<MessageView> {
        let (conversation, seq) = self.locate(message_id)?;
        match self.conversation(&conversation) {
            Some(conv) => self.message_in(&conv, seq),
            None => self.message(&conversation, seq),
        }
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
            if let Some(c) = chunk::split_record(v).and_then(|(_, view)| decode(view)) {
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
        if limit == 0 {
            return out;
        }
        self.visit_messages(conversation_id, after, before, reverse, &mut |m| {
            out.push(m);
            out.len() < limit
        });
        out
    }

    /// Visits the messages with `after < seq < before` in order (newest first when `reverse`) until
    /// `visit` returns `false`.
    pub fn visit_messages(
        &self,
        conversation_id: &str,
        after: u64,
        before: u64,
        reverse: bool,
        visit: &mut dyn FnMut(MessageView) -> bool,
    ) {
        if before <= after.saturating_add(1) {
            return;
        }
        // Visits one chunk's messages in range; `false` once past the range or told to stop.
        let mut last: Option<u64> = None;
        let mut go = |chunk: &[u8]| -> bool {
            let mut entries: Vec<(u64, &[u8])> = chunk::entries(chunk).collect();
            if reverse {
                entries.reverse();
            }
            for (seq, raw) in entries {
                // Past the range in the direction of travel: so is every later chunk.
                if (reverse && seq <= after) || (!reverse && seq >= before) {
                    return false;
                }
                let seen = last.is_some_and(|l| if reverse { seq >= l } else { seq <= l });
                if seq <= after || seq >= before || seen {
                    continue;
                }
                last = Some(seq);
                if let Some(m) = decode(raw) {
                    if !visit(m) {
                        return false;
                    }
                }
            }
            true
        };
        // Sealed chunks hold every message before the tail's first. The tail is read first: a fold
        // committed between the two reads can only move messages from the tail into a sealed
        // chunk, so a message read twice is visited once (`last`) and none is missed.
        let end = keys::message_chunk(conversation_id, before);
        self.tail(conversation_id, &mut |tail| {
            if reverse {
                if !go(tail) {
                    return;
                }
                let (start, _) = keys::message_chunks(conversation_id);
                self.kv.scan(&start, &end, true, &mut |_, chunk| go(chunk));
            } else {
                let start = self.chunk_key_of(conversation_id, after.saturating_add(1));
                let mut more = true;
                self.kv.scan(&start, &end, false, &mut |_, chunk| {
                    more = go(chunk);
                    more
                });
                if more {
                    go(tail);
                }
            }
        });
    }

    /// The key of the chunk that holds `seq` if any message of the conversation is at or before it
    /// (the chunk with the greatest first seq ≤ `seq`), else the key a chunk starting at `seq` would have.
    fn chunk_key_of(&self, conversation_id: &str, seq: u64) -> Vec<u8> {
        let (start, _) = keys::message_chunks(conversation_id);
        let end = keys::message_chunk(conversation_id, seq.saturating_add(1));
        let mut found = None;
        self.kv.scan(&start, &end, true, &mut |k, _| {
            found = Some(k.to_vec());
            false
        });
        found.unwrap_or_else(|| keys::message_chunk(conversation_id, seq))
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

    /// Non-deleted messages created in the second of `since` or later.
    pub fn live_messages_since(&self, since: Timestamp) -> u64 {
        let mut n = 0;
        let start = keys::message_second(since.millis());
        self.kv
            .scan(&start, keys::MESSAGE_SECONDS_END, false, &mut |_, v| {
                n += count(v);
                true
            });
        n
    }
}

fn count(bytes: &[u8]) -> u64 {
    bytes.try_into().map(u64::from_be_bytes).unwrap_or(0)
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
        let view = encode(c);
        self.kv.update(&keys::conversation(&c.id), &mut |record| {
            match record
                .as_mut()
                .and_then(|r| Some((chunk::split_record(r)?.0.len(), r)))
            {
                // The tail stays where it is; only the view after it changes.
                Some((tail_len, r)) => {
                    r.truncate(4 + tail_len);
                    r.extend_from_slice(&view);
                }
                None => *record = Some(chunk::record(&[], &view)),
            }
        });
    }

    /// Appends `m` as the conversation's newest message, counts it in `message_count`, and indexes
    /// its id. A conversation's messages fill chunks in order (see [`chunk::is_full`]).
    pub fn append_message(&mut self, conv: &mut ConversationView, m: &MessageView) {
        let mut entry = Vec::new();
        chunk::push(&mut entry, m.seq, &encode(m));
        let mut sealed = None;
        let mut starts_tail = false;
        self.kv
            .update(&keys::conversation(&conv.id), &mut |record| {
                let Some(r) = record.as_mut() else { return };
                let Some((tail, _)) = chunk::split_record(r) else {
                    return;
                };
                let mut tail_len = tail.len();
                if chunk::is_full(tail) {
                    sealed = Some(r.drain(4..4 + tail_len).collect::<Vec<u8>>());
                    tail_len = 0;
                }
                starts_tail = tail_len == 0;
                // In place: the entry goes between the tail and the view.
                r.splice(4 + tail_len..4 + tail_len, entry.iter().copied());
                r[..4].copy_from_slice(&((tail_len + entry.len()) as u32).to_be_bytes());
            });
        if let Some(chunk) = sealed {
            self.kv
                .put(keys::message_chunk(&conv.id, conv.chunk_start), chunk);
        }
        if starts_tail {
            conv.chunk_start = m.seq;
        }
        conv.message_count += 1;
        self.kv.update(&keys::message_index(&m.id), &mut |value| {
            chunk::push_id(value.get_or_insert_with(Vec::new), &m.id, &conv.id, m.seq)
        });
    }

    /// Rewrites the messages of `conv` with `after < seq < before` for which `change` returns `true`.
    pub fn update_messages(
        &mut self,
        conv: &ConversationView,
        after: u64,
        before: u64,
        change: &mut dyn FnMut(&mut MessageView) -> bool,
    ) {
        // A conversation without messages has no open chunk.
        if before <= after.saturating_add(1) || conv.chunk_start == 0 {
            return;
        }
        let rewrite = |chunk: &[u8], change: &mut dyn FnMut(&mut MessageView) -> bool| {
            let mut rewritten = Vec::with_capacity(chunk.len());
            let mut changed = false;
            for (seq, raw) in chunk::entries(chunk) {
                if after < seq && seq < before {
                    if let Some(mut m) = decode::<MessageView>(raw) {
                        if change(&mut m) {
                            chunk::push(&mut rewritten, seq, &encode(&m));
                            changed = true;
                            continue;
                        }
                    }
                }
                chunk::push(&mut rewritten, seq, raw);
            }
            changed.then_some(rewritten)
        };
        let first = after.saturating_add(1);
        // Sealed chunks hold everything before the tail's first message.
        if first < conv.chunk_start {
            let start = self.chunk_key_of(&conv.id, first);
            let end = keys::message_chunk(&conv.id, before.min(conv.chunk_start));
            let mut chunk_keys = Vec::new();
            self.kv.scan(&start, &end, false, &mut |k, _| {
                chunk_keys.push(k.to_vec());
                true
            });
            for key in chunk_keys {
                self.kv.update(&key, &mut |value| {
                    if let Some(new) = value.as_deref().and_then(|c| rewrite(c, change)) {
                        *value = Some(new);
                    }
                });
            }
        }
        if before > conv.chunk_start {
            self.kv
                .update(&keys::conversation(&conv.id), &mut |record| {
                    let Some((tail, view)) = record.as_deref().and_then(chunk::split_record) else {
                        return;
                    };
                    if let Some(new) = rewrite(tail, change) {
                        *record = Some(chunk::record(&new, view));
                    }
                });
        }
    }

    /// Stores a changed message of `conv` in place.
    pub fn put_message(&mut self, conv: &ConversationView, m: &MessageView) {
        self.update_messages(
            conv,
            m.seq.saturating_sub(1),
            m.seq.saturating_add(1),
            &mut |stored| {
                *stored = m.clone();
                true
            },
        );
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

    /// Counts `m` in (or out of) the live messages of its second of creation.
    pub fn set_live_in_time_index(&mut self, m: &MessageView, live: bool) {
        self.kv
            .update(&keys::message_second(m.created_at.millis()), &mut |value| {
                let n = value.as_deref().map_or(0, count);
                let n = if live { n + 1 } else { n.saturating_sub(1) };
                *value = (n > 0).then(|| n.to_be_bytes().to_vec());
            });
    }

    pub fn put_stats(&mut self, s: &StatsView) {
        self.kv.put(keys::STATS.to_vec(), encode(s));
    }

    pub fn set_checkpoint(&mut self, seq: u64) {
        self.kv
            .put(keys::CHECKPOINT.to_vec(), seq.to_be_bytes().to_vec());
    }
}
