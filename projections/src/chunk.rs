//! Packed values: several records under one key, so that a fold writes one sled key per
//! conversation (or per millisecond of message ids) and batch, not one per message.
//!
//! A message chunk is a run of `[seq: u64 BE][len: u32 BE][len bytes]` entries in ascending `seq`;
//! an id bucket is a run of `[len: u16 BE][id][seq: u64 BE][len: u16 BE][conversation id]` entries.
//! Both only grow at the end; a changed message rewrites its chunk in the same order.

/// How many messages one chunk holds before the conversation starts a new one. Readers take
/// chunks of any length (a store written with another bound reads as it was), so this may change
/// without a rebuild.
pub const MESSAGES_PER_CHUNK: usize = 8;
/// A chunk this large takes no more messages: a live send rewrites its chunk, so long messages
/// must not make that a large write.
pub const CHUNK_BYTES: usize = 16 * 1024;

/// Whether the next message goes into a new chunk.
pub fn is_full(chunk: &[u8]) -> bool {
    chunk.len() >= CHUNK_BYTES || entries(chunk).count() >= MESSAGES_PER_CHUNK
}

const ENTRY_HEAD: usize = 12;

/// The entries of a message chunk, oldest first: `(seq, encoded message)`. Stops at the first
/// malformed entry (chunks are only written through [`push`], so there is none). Allocates
/// nothing: a send looks its message up here.
pub fn entries(chunk: &[u8]) -> Entries<'_> {
    Entries { chunk, at: 0 }
}

/// See [`entries`].
pub struct Entries<'a> {
    chunk: &'a [u8],
    at: usize,
}

impl<'a> Iterator for Entries<'a> {
    type Item = (u64, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (seq, start, end) = entry_at(self.chunk, self.at)?;
        self.at = end;
        Some((seq, &self.chunk[start..end]))
    }
}

fn entry_at(chunk: &[u8], at: usize) -> Option<(u64, usize, usize)> {
    let head = chunk.get(at..at + ENTRY_HEAD)?;
    let seq = u64::from_be_bytes(head[..8].try_into().ok()?);
    let len = u32::from_be_bytes(head[8..].try_into().ok()?) as usize;
    let start = at + ENTRY_HEAD;
    let end = start.checked_add(len).filter(|e| *e <= chunk.len())?;
    Some((seq, start, end))
}

/// Appends a message at `seq` (greater than every seq already in the chunk).
pub fn push(chunk: &mut Vec<u8>, seq: u64, message: &[u8]) {
    chunk.reserve(ENTRY_HEAD + message.len());
    chunk.extend_from_slice(&seq.to_be_bytes());
    chunk.extend_from_slice(&(message.len() as u32).to_be_bytes());
    chunk.extend_from_slice(message);
}

/// A conversation's record: `[tail length: u32 BE][tail chunk][encoded view]`. The tail is the
/// conversation's newest, still open chunk, kept under the view's key so a live send writes one key.
pub fn split_record(record: &[u8]) -> Option<(&[u8], &[u8])> {
    let len = u32::from_be_bytes(record.get(..4)?.try_into().ok()?) as usize;
    let tail = record.get(4..4 + len)?;
    Some((tail, &record[4 + len..]))
}

/// A record of `tail` and `view`.
pub fn record(tail: &[u8], view: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + tail.len() + view.len());
    out.extend_from_slice(&(tail.len() as u32).to_be_bytes());
    out.extend_from_slice(tail);
    out.extend_from_slice(view);
    out
}

/// Where an id bucket says `id` is: its conversation and seq.
pub fn find_id(bucket: &[u8], id: &str) -> Option<(String, u64)> {
    let mut at = 0;
    while let Some((found, seq, conversation, end)) = id_entry_at(bucket, at) {
        if found == id.as_bytes() {
            return Some((String::from_utf8(conversation.to_vec()).ok()?, seq));
        }
        at = end;
    }
    None
}

fn id_entry_at(bucket: &[u8], at: usize) -> Option<(&[u8], u64, &[u8], usize)> {
    let (id, pos) = field(bucket, at)?;
    let seq = u64::from_be_bytes(bucket.get(pos..pos + 8)?.try_into().ok()?);
    let (conversation, end) = field(bucket, pos + 8)?;
    Some((id, seq, conversation, end))
}

fn field(bytes: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let len = u16::from_be_bytes(bytes.get(at..at + 2)?.try_into().ok()?) as usize;
    let start = at + 2;
    Some((bytes.get(start..start + len)?, start + len))
}

/// Appends `id → (conversation, seq)` to a bucket. Both ids are ULIDs by the API; an id longer
/// than 65,535 bytes is cut there (and then not found).
pub fn push_id(bucket: &mut Vec<u8>, id: &str, conversation: &str, seq: u64) {
    push_field(bucket, id.as_bytes());
    bucket.extend_from_slice(&seq.to_be_bytes());
    push_field(bucket, conversation.as_bytes());
}

fn push_field(bytes: &mut Vec<u8>, field: &[u8]) {
    let field = &field[..field.len().min(u16::MAX as usize)];
    bytes.extend_from_slice(&(field.len() as u16).to_be_bytes());
    bytes.extend_from_slice(field);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_entries_in_order() {
        let mut chunk = Vec::new();
        push(&mut chunk, 3, b"three");
        push(&mut chunk, 7, b"seven");
        push(&mut chunk, 9, b"");
        let all: Vec<(u64, &[u8])> = entries(&chunk).collect();
        assert_eq!(
            all,
            vec![(3, &b"three"[..]), (7, &b"seven"[..]), (9, &b""[..])]
        );
        assert!(!is_full(&chunk));
        for seq in 10..10 + (MESSAGES_PER_CHUNK as u64 - 4) {
            push(&mut chunk, seq, b"more");
        }
        assert!(!is_full(&chunk), "one short of the bound");
        push(&mut chunk, 99, b"last");
        assert!(is_full(&chunk));
        assert_eq!(entries(&chunk).count(), MESSAGES_PER_CHUNK);
    }

    #[test]
    fn a_truncated_chunk_yields_its_whole_entries_only() {
        let mut chunk = Vec::new();
        push(&mut chunk, 1, b"one");
        push(&mut chunk, 2, b"two");
        chunk.truncate(chunk.len() - 1);
        assert_eq!(entries(&chunk).map(|(s, _)| s).collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn id_buckets_find_each_id() {
        let mut bucket = Vec::new();
        push_id(&mut bucket, "01JABC", "conv-1", 5);
        push_id(&mut bucket, "01JABD", "conv-2", 6);
        assert_eq!(find_id(&bucket, "01JABD"), Some(("conv-2".into(), 6)));
        assert_eq!(find_id(&bucket, "01JABC"), Some(("conv-1".into(), 5)));
        assert_eq!(find_id(&bucket, "01JAB"), None);
    }
}
