//! Typed access to the views over any [`KvRead`]/[`Kv`]: what the folds and the read paths share.

use crate::chunk;
use crate::error::StoreError;
use crate::kv::{keys, Kv, KvRead};
use crate::views::{BookingView, CannedReplyView, ConversationView, MessageView, StatsView};
use concierge_events::Timestamp;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// The views over a key-value store. Reads work on any store; writes only where folds run.
///
/// Every read returns `Result`: `Ok(None)` (or an empty list) only when the view is truly absent,
/// [`StoreError::Sled`] when the store cannot read, [`StoreError::Corrupt`] when a stored value does
/// not decode. Reads visit values in place (see [`KvRead::read`]); they copy out only what they
/// return.
#[derive(Clone, Debug, Default)]
pub struct Views<K> {
    pub kv: K,
}

/// Views are stored in postcard, a compact binary serde format: folding is mostly decoding and
/// encoding views, and JSON (with its RFC 3339 timestamps) cost several times more.
///
/// # Errors
/// [`StoreError::Corrupt`] naming `key` when `bytes` is not a `T`.
pub(crate) fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    postcard::from_bytes(bytes).map_err(|e| StoreError::corrupt(key, e))
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    postcard::to_allocvec(value).expect("views always serialize")
}

/// A conversation's record as its open chunk and its view.
///
/// # Errors
/// [`StoreError::Corrupt`] when the record is shorter than the open chunk it announces.
fn split<'r>(key: &[u8], record: &'r [u8]) -> Result<(&'r [u8], &'r [u8]), StoreError> {
    chunk::split_record(record)
        .ok_or_else(|| StoreError::corrupt(key, "record shorter than its open chunk"))
}

/// A counter of the time index.
///
/// # Errors
/// [`StoreError::Corrupt`] when it is not 8 bytes.
fn count(key: &[u8], bytes: &[u8]) -> Result<u64, StoreError> {
    bytes
        .try_into()
        .map(u64::from_be_bytes)
        .map_err(|_| StoreError::corrupt(key, "counter is not 8 bytes"))
}

/// The time and conversation of a timed index key.
///
/// # Errors
/// [`StoreError::Corrupt`] when the key is too short or its id is not UTF-8.
fn timed_entry(key: &[u8]) -> Result<(i64, String), StoreError> {
    match (keys::time_of(key), keys::conversation_of(key)) {
        (Some(ms), Some(c)) => Ok((ms, c.to_string())),
        _ => Err(StoreError::corrupt(key, "malformed timed index key")),
    }
}

/// Visits a conversation's record key and its open chunk.
type VisitTail<'a> = dyn FnMut(&[u8], &[u8]) -> Result<(), StoreError> + 'a;

impl<K: KvRead> Views<K> {
    pub fn new(kv: K) -> Self {
        Views { kv }
    }

    fn get<T: DeserializeOwned>(&self, key: &[u8]) -> Result<Option<T>, StoreError> {
        let mut value = None;
        self.kv.read(key, &mut |b| {
            value = b.map(|b| decode(key, b)).transpose()?;
            Ok(())
        })?;
        Ok(value)
    }

    /// # Errors
    /// When the store cannot read the booking or it does not decode.
    pub fn booking(&self, id: &str) -> Result<Option<BookingView>, StoreError> {
        self.get(&keys::booking(id))
    }

    /// # Errors
    /// When the store cannot read the conversation's record or it does not decode.
    pub fn conversation(&self, id: &str) -> Result<Option<ConversationView>, StoreError> {
        let key = keys::conversation(id);
        let mut value = None;
        self.kv.read(&key, &mut |record| {
            if let Some(record) = record {
                value = Some(decode(&key, split(&key, record)?.1)?);
            }
            Ok(())
        })?;
        Ok(value)
    }

    /// Visits the conversation's record key and its open chunk of newest messages (empty when it
    /// has none).
    fn tail(&self, conversation_id: &str, visit: &mut VisitTail<'_>) -> Result<(), StoreError> {
        let key = keys::conversation(conversation_id);
        self.kv.read(&key, &mut |record| match record {
            Some(r) => visit(&key, split(&key, r)?.0),
            None => visit(&key, &[]),
        })
    }

    /// # Errors
    /// When the store cannot read the message's chunk or it does not decode.
    pub fn message(
        &self,
        conversation_id: &str,
        seq: u64,
    ) -> Result<Option<MessageView>, StoreError> {
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
        )?;
        Ok(found)
    }

    /// The message at `seq` of `conv`, read straight from the conversation's newest chunk when it
    /// is there (a new or recent message), else found by a scan.
    ///
    /// # Errors
    /// When the store cannot read the message's chunk or it does not decode.
    pub fn message_in(
        &self,
        conv: &ConversationView,
        seq: u64,
    ) -> Result<Option<MessageView>, StoreError> {
        if conv.chunk_start == 0 || seq < conv.chunk_start {
            return self.message(&conv.id, seq);
        }
        let mut found = None;
        self.tail(&conv.id, &mut |key, tail| {
            if let Some((_, raw)) = chunk::entries(tail).find(|(s, _)| *s == seq) {
                found = Some(decode(key, raw)?);
            }
            Ok(())
        })?;
        match found {
            Some(m) => Ok(Some(m)),
            // Sealed since `conv` was read.
            None => self.message(&conv.id, seq),
        }
    }

    /// Where a message lives: its conversation and seq.
    ///
    /// # Errors
    /// When the store cannot read the message's id bucket.
    pub fn locate(&self, message_id: &str) -> Result<Option<(String, u64)>, StoreError> {
        let mut found = None;
        self.kv
            .read(&keys::message_index(message_id), &mut |bucket| {
                found = bucket.and_then(|b| chunk::find_id(b, message_id));
                Ok(())
            })?;
        Ok(found)
    }

    /// # Errors
    /// As [`Views::locate`] and [`Views::message_in`].
    pub fn message_by_id(&self, message_id: &str) -> Result<Option<MessageView>, StoreError> {
        let Some((conversation, seq)) = self.locate(message_id)? else {
            return Ok(None);
        };
        match self.conversation(&conversation)? {
            Some(conv) => self.message_in(&conv, seq),
            None => self.message(&conversation, seq),
        }
    }

    /// The message a sender's client key already produced in a conversation.
    ///
    /// # Errors
    /// When the store cannot read the key, or its message id is not UTF-8.
    pub fn client_key(
        &self,
        conversation_id: &str,
        sender: &str,
        key: &str,
    ) -> Result<Option<String>, StoreError> {
        let key = keys::client_key(conversation_id, sender, key);
        match self.kv.get(&key)? {
            None => Ok(None),
            Some(b) => String::from_utf8(b)
                .map(Some)
                .map_err(|_| StoreError::corrupt(&key, "message id is not UTF-8")),
        }
    }

    /// The message that carries the upload `id`, deleted or not; `None` while no message used it.
    ///
    /// # Errors
    /// When the store cannot read the key, or its message id is not UTF-8.
    pub fn attachment_use(&self, id: &str) -> Result<Option<String>, StoreError> {
        let key = keys::attachment(id);
        match self.kv.get(&key)? {
            None => Ok(None),
            Some(b) => String::from_utf8(b)
                .map(Some)
                .map_err(|_| StoreError::corrupt(&key, "message id is not UTF-8")),
        }
    }

    /// The counters (all zero before the first event).
    ///
    /// # Errors
    /// When the store cannot read them or they do not decode.
    pub fn stats(&self) -> Result<StatsView, StoreError> {
        Ok(self.get(keys::STATS)?.unwrap_or_default())
    }

    /// The log sequence of the last folded event (0 when nothing is folded).
    ///
    /// # Errors
    /// When the store cannot read it or it is not 8 bytes.
    pub fn checkpoint(&self) -> Result<u64, StoreError> {
        let mut seq = 0;
        self.kv.read(keys::CHECKPOINT, &mut |b| {
            if let Some(b) = b {
                seq = u64::from_be_bytes(b.try_into().map_err(|_| {
                    StoreError::corrupt(keys::CHECKPOINT, "checkpoint is not 8 bytes")
                })?);
            }
            Ok(())
        })?;
        Ok(seq)
    }

    /// Every conversation, in id order.
    ///
    /// # Errors
    /// When the store cannot read a record or one does not decode.
    pub fn conversations(&self) -> Result<Vec<ConversationView>, StoreError> {
        let mut out = Vec::new();
        let (start, end) = keys::CONVERSATIONS;
        self.kv.scan(start, end, false, &mut |k, v| {
            out.push(decode(k, split(k, v)?.1)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// Up to `limit` messages with `after < seq < before`, oldest first, or newest first when
    /// `reverse`; internal notes included.
    ///
    /// # Errors
    /// As [`Views::visit_messages`].
    pub fn messages(
        &self,
        conversation_id: &str,
        after: u64,
        before: u64,
        reverse: bool,
        limit: usize,
    ) -> Result<Vec<MessageView>, StoreError> {
        self.messages_seen(conversation_id, after, before, reverse, limit, true)
    }

    /// Visits the messages with `after < seq < before` in order (newest first when `reverse`) until
    /// `visit` returns `false`.
    ///
    /// # Errors
    /// When the store cannot read a chunk or a message in range does not decode; the messages
    /// before it have been visited.
    pub fn visit_messages(
        &self,
        conversation_id: &str,
        after: u64,
        before: u64,
        reverse: bool,
        visit: &mut dyn FnMut(MessageView) -> bool,
    ) -> Result<(), StoreError> {
        if before <= after.saturating_add(1) {
            return Ok(());
        }
        // Visits one chunk's messages in range; `false` once past the range or told to stop.
        let mut last: Option<u64> = None;
        let mut go = |key: &[u8], chunk: &[u8]| -> Result<bool, StoreError> {
            let mut entries: Vec<(u64, &[u8])> = chunk::entries(chunk).collect();
            if reverse {
                entries.reverse();
            }
            for (seq, raw) in entries {
                // Past the range in the direction of travel: so is every later chunk.
                if (reverse && seq <= after) || (!reverse && seq >= before) {
                    return Ok(false);
                }
                let seen = last.is_some_and(|l| if reverse { seq >= l } else { seq <= l });
                if seq <= after || seq >= before || seen {
                    continue;
                }
                last = Some(seq);
                if !visit(decode(key, raw)?) {
                    return Ok(false);
                }
            }
            Ok(true)
        };
        // Sealed chunks hold every message before the tail's first. The tail is read first: a fold
        // committed between the two reads can only move messages from the tail into a sealed
        // chunk, so a message read twice is visited once (`last`) and none is missed.
        let end = keys::message_chunk(conversation_id, before);
        self.tail(conversation_id, &mut |tail_key, tail| {
            if reverse {
                if !go(tail_key, tail)? {
                    return Ok(());
                }
                let (start, _) = keys::message_chunks(conversation_id);
                self.kv
                    .scan(&start, &end, true, &mut |k, chunk| go(k, chunk))
            } else {
                let start = self.chunk_key_of(conversation_id, after.saturating_add(1))?;
                let mut more = true;
                self.kv.scan(&start, &end, false, &mut |k, chunk| {
                    more = go(k, chunk)?;
                    Ok(more)
                })?;
                if more {
                    go(tail_key, tail)?;
                }
                Ok(())
            }
        })
    }

    /// The key of the chunk that holds `seq` if any message of the conversation is at or before it
    /// (the chunk with the greatest first seq ≤ `seq`), else the key a chunk starting at `seq` would have.
    fn chunk_key_of(&self, conversation_id: &str, seq: u64) -> Result<Vec<u8>, StoreError> {
        let (start, _) = keys::message_chunks(conversation_id);
        let end = keys::message_chunk(conversation_id, seq.saturating_add(1));
        let mut found = None;
        self.kv.scan(&start, &end, true, &mut |k, _| {
            found = Some(k.to_vec());
            Ok(false)
        })?;
        Ok(found.unwrap_or_else(|| keys::message_chunk(conversation_id, seq)))
    }

    /// The ids of the conversations `user_id` takes part in.
    ///
    /// # Errors
    /// When the store cannot read the participation index, or a key in it is not UTF-8.
    pub fn conversations_of(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        let (start, end) = keys::participations(user_id);
        let mut out = Vec::new();
        self.kv.scan(&start, &end, false, &mut |k, _| {
            let id = std::str::from_utf8(&k[start.len()..])
                .map_err(|_| StoreError::corrupt(k, "conversation id is not UTF-8"))?;
            out.push(id.to_string());
            Ok(true)
        })?;
        Ok(out)
    }

    /// Up to `limit` messages with `after < seq < before` as a viewer sees them: with notes for
    /// admins, without for everyone else.
    ///
    /// # Errors
    /// As [`Views::visit_messages`].
    pub fn messages_seen(
        &self,
        conversation_id: &str,
        after: u64,
        before: u64,
        reverse: bool,
        limit: usize,
        with_notes: bool,
    ) -> Result<Vec<MessageView>, StoreError> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        self.visit_messages(conversation_id, after, before, reverse, &mut |m| {
            if with_notes || !m.internal {
                out.push(m);
            }
            out.len() < limit
        })?;
        Ok(out)
    }

    /// # Errors
    /// When the store cannot read the reply or it does not decode.
    pub fn canned_reply(&self, shortcut: &str) -> Result<Option<CannedReplyView>, StoreError> {
        self.get(&keys::canned_reply(shortcut))
    }

    /// Every canned reply, by shortcut.
    ///
    /// # Errors
    /// When the store cannot read one or it does not decode.
    pub fn canned_replies(&self) -> Result<Vec<CannedReplyView>, StoreError> {
        let mut out = Vec::new();
        let (start, end) = keys::CANNED_REPLIES;
        self.kv.scan(start, end, false, &mut |k, v| {
            out.push(decode(k, v)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// The snoozed conversations due at `now` or earlier, soonest first: `(conversationId, until)`.
    ///
    /// # Errors
    /// When the store cannot read the snooze index or a key in it is malformed.
    pub fn snoozes_due(&self, now: Timestamp) -> Result<Vec<(String, Timestamp)>, StoreError> {
        let (start, _) = keys::SNOOZES;
        let end = keys::snooze(now.millis().saturating_add(1), "");
        let mut out = Vec::new();
        self.kv.scan(start, &end, false, &mut |k, _| {
            out.push(timed_entry(k)?);
            Ok(true)
        })?;
        Ok(out.into_iter().map(|(ms, c)| (c, Timestamp(ms))).collect())
    }

    /// The times in ms of the first responses (`f/`) or closes (`q/`) made at `since` or later.
    ///
    /// # Errors
    /// When the store cannot read the index or a value in it is not 8 bytes.
    pub fn durations_since(
        &self,
        first_responses: bool,
        since: Timestamp,
    ) -> Result<Vec<i64>, StoreError> {
        let (start, end) = if first_responses {
            (
                keys::first_response(since.millis(), ""),
                keys::FIRST_RESPONSES_END,
            )
        } else {
            (keys::resolution(since.millis(), ""), keys::RESOLUTIONS_END)
        };
        let mut out = Vec::new();
        self.kv.scan(&start, end, false, &mut |k, v| {
            out.push(count(k, v)? as i64);
            Ok(true)
        })?;
        Ok(out)
    }

    /// When each conversation still without a first response got its customer's first message,
    /// longest waiting first.
    ///
    /// # Errors
    /// When the store cannot read the index or a key in it is malformed.
    pub fn unanswered(&self) -> Result<Vec<Timestamp>, StoreError> {
        let (start, end) = keys::UNANSWERED;
        let mut out = Vec::new();
        self.kv.scan(start, end, false, &mut |k, _| {
            out.push(Timestamp(timed_entry(k)?.0));
            Ok(true)
        })?;
        Ok(out)
    }

    /// Non-deleted messages created in the second of `since` or later.
    ///
    /// # Errors
    /// When the store cannot read the time index or a counter in it is not 8 bytes.
    pub fn live_messages_since(&self, since: Timestamp) -> Result<u64, StoreError> {
        let mut n = 0;
        let start = keys::message_second(since.millis());
        self.kv
            .scan(&start, keys::MESSAGE_SECONDS_END, false, &mut |k, v| {
                n += count(k, v)?;
                Ok(true)
            })?;
        Ok(n)
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

    /// Stores `c` in its record, after the open chunk that is already there.
    ///
    /// # Errors
    /// When the store cannot read the record, or it is corrupt.
    pub fn put_conversation(&mut self, c: &ConversationView) -> Result<(), StoreError> {
        let view = encode(c);
        let key = keys::conversation(&c.id);
        self.kv.update(&key, &mut |record| {
            match record {
                // The tail stays where it is; only the view after it changes.
                Some(r) => {
                    let tail_len = split(&key, r)?.0.len();
                    r.truncate(4 + tail_len);
                    r.extend_from_slice(&view);
                }
                None => *record = Some(chunk::record(&[], &view)),
            }
            Ok(())
        })
    }

    /// Appends `m` as the conversation's newest message, counts it in `message_count`, and indexes
    /// its id. A conversation's messages fill chunks in order (see [`chunk::is_full`]).
    ///
    /// # Errors
    /// When the store cannot read the record or the id bucket, or the record is corrupt.
    pub fn append_message(
        &mut self,
        conv: &mut ConversationView,
        m: &MessageView,
    ) -> Result<(), StoreError> {
        let mut entry = Vec::new();
        chunk::push(&mut entry, m.seq, &encode(m));
        let mut sealed = None;
        let mut starts_tail = false;
        let key = keys::conversation(&conv.id);
        self.kv.update(&key, &mut |record| {
            let Some(r) = record.as_mut() else {
                return Ok(());
            };
            let (tail, _) = split(&key, r)?;
            let mut tail_len = tail.len();
            if chunk::is_full(tail) {
                sealed = Some(r.drain(4..4 + tail_len).collect::<Vec<u8>>());
                tail_len = 0;
            }
            starts_tail = tail_len == 0;
            // In place: the entry goes between the tail and the view.
            r.splice(4 + tail_len..4 + tail_len, entry.iter().copied());
            r[..4].copy_from_slice(&((tail_len + entry.len()) as u32).to_be_bytes());
            Ok(())
        })?;
        if let Some(chunk) = sealed {
            self.kv
                .put(keys::message_chunk(&conv.id, conv.chunk_start), chunk);
        }
        if starts_tail {
            conv.chunk_start = m.seq;
        }
        conv.message_count += 1;
        self.kv.update(&keys::message_index(&m.id), &mut |value| {
            chunk::push_id(value.get_or_insert_with(Vec::new), &m.id, &conv.id, m.seq);
            Ok(())
        })
    }

    /// Rewrites the messages of `conv` with `after < seq < before` for which `change` returns `true`.
    ///
    /// # Errors
    /// When the store cannot read a chunk, or a message in range (or the record) is corrupt.
    pub fn update_messages(
        &mut self,
        conv: &ConversationView,
        after: u64,
        before: u64,
        change: &mut dyn FnMut(&mut MessageView) -> bool,
    ) -> Result<(), StoreError> {
        // A conversation without messages has no open chunk.
        if before <= after.saturating_add(1) || conv.chunk_start == 0 {
            return Ok(());
        }
        let rewrite = |key: &[u8],
                       chunk: &[u8],
                       change: &mut dyn FnMut(&mut MessageView) -> bool|
         -> Result<Option<Vec<u8>>, StoreError> {
            let mut rewritten = Vec::with_capacity(chunk.len());
            let mut changed = false;
            for (seq, raw) in chunk::entries(chunk) {
                if after < seq && seq < before {
                    let mut m: MessageView = decode(key, raw)?;
                    if change(&mut m) {
                        chunk::push(&mut rewritten, seq, &encode(&m));
                        changed = true;
                        continue;
                    }
                }
                chunk::push(&mut rewritten, seq, raw);
            }
            Ok(changed.then_some(rewritten))
        };
        let first = after.saturating_add(1);
        // Sealed chunks hold everything before the tail's first message.
        if first < conv.chunk_start {
            let start = self.chunk_key_of(&conv.id, first)?;
            let end = keys::message_chunk(&conv.id, before.min(conv.chunk_start));
            let mut chunk_keys = Vec::new();
            self.kv.scan(&start, &end, false, &mut |k, _| {
                chunk_keys.push(k.to_vec());
                Ok(true)
            })?;
            for key in chunk_keys {
                self.kv.update(&key, &mut |value| {
                    let new = match value.as_deref() {
                        Some(c) => rewrite(&key, c, change)?,
                        None => None,
                    };
                    if let Some(new) = new {
                        *value = Some(new);
                    }
                    Ok(())
                })?;
            }
        }
        if before > conv.chunk_start {
            let key = keys::conversation(&conv.id);
            self.kv.update(&key, &mut |record| {
                let Some(r) = record.as_deref() else {
                    return Ok(());
                };
                let (tail, view) = split(&key, r)?;
                if let Some(new) = rewrite(&key, tail, change)? {
                    *record = Some(chunk::record(&new, view));
                }
                Ok(())
            })?;
        }
        Ok(())
    }

    /// Stores a changed message of `conv` in place.
    ///
    /// # Errors
    /// As [`Views::update_messages`].
    pub fn put_message(
        &mut self,
        conv: &ConversationView,
        m: &MessageView,
    ) -> Result<(), StoreError> {
        self.update_messages(
            conv,
            m.seq.saturating_sub(1),
            m.seq.saturating_add(1),
            &mut |stored| {
                *stored = m.clone();
                true
            },
        )
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

    pub fn put_attachment_use(&mut self, id: &str, message_id: &str) {
        self.kv
            .put(keys::attachment(id), message_id.as_bytes().to_vec());
    }

    /// Counts `m` in (or out of) the live messages of its second of creation.
    ///
    /// # Errors
    /// When the store cannot read the counter or it is not 8 bytes.
    pub fn set_live_in_time_index(
        &mut self,
        m: &MessageView,
        live: bool,
    ) -> Result<(), StoreError> {
        let key = keys::message_second(m.created_at.millis());
        self.kv.update(&key, &mut |value| {
            let n = match value.as_deref() {
                Some(v) => count(&key, v)?,
                None => 0,
            };
            let n = if live { n + 1 } else { n.saturating_sub(1) };
            *value = (n > 0).then(|| n.to_be_bytes().to_vec());
            Ok(())
        })
    }

    pub fn put_canned_reply(&mut self, r: &CannedReplyView) {
        self.kv.put(keys::canned_reply(&r.shortcut), encode(r));
    }

    pub fn remove_canned_reply(&mut self, shortcut: &str) {
        self.kv.remove(&keys::canned_reply(shortcut));
    }

    /// Puts (or, with `on` false, removes) an entry of a timed index: `key` from [`keys::snooze`],
    /// [`keys::first_response`], [`keys::resolution`] or [`keys::unanswered`], with a duration in
    /// ms as its value where the index keeps one.
    pub fn set_timed(&mut self, key: Vec<u8>, on: bool, value_ms: Option<i64>) {
        if on {
            let value =
                value_ms.map_or_else(Vec::new, |ms| (ms.max(0) as u64).to_be_bytes().to_vec());
            self.kv.put(key, value);
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
