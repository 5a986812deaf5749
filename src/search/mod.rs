//! Message search (docs/search.md): a second projection of the log into a tantivy index in
//! `DATA_DIR/search`, with its checkpoint in each commit's payload, so that a crash resumes exactly
//! after the last commit; and the queries customers and admins run against it.
//!
//! # Layout
//! - [`text`]: the analyzer (Unicode words, case and accents folded) shared by indexing, queries
//!   and highlights.
//! - [`query`]: the query language; [`snippet`]: snippets and highlights.
//! - [`writer`]: the projection, the one task writing the index.
//! - [`SearchIndex`]: the index, opened once per node; [`SearchIndex::search`] runs a request.

pub mod query;
pub mod snippet;
pub mod text;
pub mod writer;

use concierge_events::Timestamp;
use query::Query;
use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use tantivy::columnar::Column;
use tantivy::index::SegmentId;
use tantivy::query::{BooleanQuery, Occur, PhrasePrefixQuery, PhraseQuery, RangeQuery, TermQuery};
use tantivy::schema::{
    Field, IndexRecordOption, Schema, TextFieldIndexing, TextOptions, Value, FAST, STORED, STRING,
};
use tantivy::{DocAddress, Index, IndexReader, Order, ReloadPolicy, TantivyDocument, Term};

/// The stored documents are compressed in blocks of this many bytes. A result reads its whole
/// block, and a page's results are rarely neighbours (a customer's messages are spread among
/// everyone's), so small blocks cost less per page than tantivy's 16 KiB for a little more disk.
const DOC_STORE_BLOCK: usize = 2048;
/// Decompressed blocks kept per segment for queries: results come newest first, so most pages
/// read recent blocks.
const DOC_STORE_CACHE_BLOCKS: usize = 64;

/// The analyzer's name in the index.
const ANALYZER: &str = "concierge_folded";

/// The schema's version, kept beside the index: an index of another version is wiped and rebuilt
/// from the log at start.
const SCHEMA_VERSION: &str = "3";

/// The kind of a document: a message, an internal note, or a conversation (its booking and
/// customer, for the messages that follow it).
pub(crate) const MESSAGE: &str = "m";
pub(crate) const NOTE: &str = "n";
pub(crate) const CONVERSATION: &str = "c";

/// Why the index could not be opened, written or read.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search index: {0}")]
    Index(#[from] tantivy::TantivyError),
    #[error("search index folder {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("search task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The index's fields.
#[derive(Clone, Copy)]
pub(crate) struct Fields {
    pub kind: Field,
    /// The message's (or the conversation's) id.
    pub id: Field,
    pub conversation: Field,
    pub booking: Field,
    /// The customer of the message's conversation: a customer's queries keep only their own.
    pub customer: Field,
    pub sender: Field,
    /// Milliseconds since the epoch.
    pub created: Field,
    /// The log seq of the message's send: results come newest first, and cursors page by it.
    pub seq: Field,
    pub text: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let text = TextOptions::default()
        .set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer(ANALYZER)
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        )
        .set_stored();
    let fields = Fields {
        kind: b.add_text_field("kind", STRING | STORED),
        id: b.add_text_field("id", STRING | STORED),
        conversation: b.add_text_field("conversation", STRING | STORED),
        booking: b.add_text_field("booking", STRING | STORED),
        customer: b.add_text_field("customer", STRING | STORED),
        sender: b.add_text_field("sender", STRING | STORED),
        // Fast fields alone: their ranges are read from the columns (tantivy's `RangeQuery` on a
        // fast field), so a term per document for each would only cost writing and merging.
        created: b.add_i64_field("created", STORED | FAST),
        seq: b.add_u64_field("seq", STORED | FAST),
        text: b.add_text_field("text", text),
    };
    (b.build(), fields)
}

/// Who asks: an admin sees every message and note, a customer their own conversations' messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Admin,
    Customer(String),
}

/// One search: who asks, and what.
#[derive(Debug, Clone)]
pub struct Request {
    pub scope: Scope,
    pub filters: Filters,
}

/// What a search asks for: the query, the filters, and where the page starts.
#[derive(Debug, Clone)]
pub struct Filters {
    pub query: Query,
    pub conversation: Option<String>,
    pub booking: Option<String>,
    pub sender: Option<String>,
    /// `createdAt` from (inclusive) and to (exclusive).
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    /// Only messages sent before this log seq (the cursor).
    pub before: Option<u64>,
    pub limit: usize,
}

/// One message found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub message_id: String,
    pub conversation_id: String,
    pub booking_id: String,
    pub sender: String,
    pub created_at: Timestamp,
    pub internal: bool,
    pub snippet: String,
    pub highlights: Vec<[usize; 2]>,
}

/// A page of hits, newest first, and the seq the next page starts before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub hits: Vec<Hit>,
    pub next: Option<u64>,
}

/// Search on a node: the index queries read, and how far its projection has folded the log.
pub struct Search {
    pub index: std::sync::Arc<SearchIndex>,
    pub progress: std::sync::Arc<crate::projection::Progress>,
}

/// A node's search index: read by queries, written only by its [`writer::Indexer`].
pub struct SearchIndex {
    index: Index,
    reader: IndexReader,
    fields: Fields,
    dir: PathBuf,
    /// Searches running at once: one per core.
    turns: tokio::sync::Semaphore,
    /// Each segment's `seq` column, opened once: opening one reads its block index anew.
    seqs: SeqColumns,
}

/// The `seq` columns of the segments searched lately, by segment.
type SeqColumns = std::sync::Mutex<HashMap<SegmentId, Column<u64>>>;

impl SearchIndex {
    /// Opens the index in `dir`, creating it (or recreating it, empty, when it was written by
    /// another schema version, so that it is rebuilt from the log).
    ///
    /// # Errors
    /// When the folder or the index cannot be read or created.
    pub fn open(dir: &Path) -> Result<SearchIndex, SearchError> {
        let io = |source| SearchError::Io {
            path: dir.to_path_buf(),
            source,
        };
        let version_file = dir.join("schema-version");
        let version = std::fs::read_to_string(&version_file).ok();
        if version.as_deref().map(str::trim) != Some(SCHEMA_VERSION) && dir.exists() {
            std::fs::remove_dir_all(dir).map_err(io)?;
        }
        std::fs::create_dir_all(dir).map_err(io)?;
        let (schema, fields) = schema();
        let directory = tantivy::directory::MmapDirectory::open(dir)
            .map_err(|e| SearchError::Index(e.into()))?;
        // Newest first inside every segment (tantivy keeps it so through merges): a search reads
        // each segment's first matches and stops (`newest`), whatever the number of matches.
        let settings = tantivy::IndexSettings {
            docstore_blocksize: DOC_STORE_BLOCK,
            sort_by_field: Some(tantivy::IndexSortByField {
                field: "seq".into(),
                order: Order::Desc,
            }),
            ..Default::default()
        };
        let index = Index::builder()
            .schema(schema)
            .settings(settings)
            .open_or_create(directory)?;
        std::fs::write(&version_file, SCHEMA_VERSION).map_err(io)?;
        index
            .tokenizers()
            .register(ANALYZER, text::Tokenizer::default());
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .doc_store_cache_num_blocks(DOC_STORE_CACHE_BLOCKS)
            .try_into()?;
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(SearchIndex {
            index,
            reader,
            fields,
            dir: dir.to_path_buf(),
            turns: tokio::sync::Semaphore::new(2 * cores),
            seqs: SeqColumns::default(),
        })
    }

    /// The log seq of the last commit: everything up to it is searchable, nothing past it.
    ///
    /// # Errors
    /// When the index's metadata cannot be read.
    pub fn checkpoint(&self) -> Result<u64, SearchError> {
        let metas = self.index.load_metas()?;
        Ok(metas
            .payload
            .as_deref()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0))
    }

    /// The index's size on disk, in bytes.
    pub fn size_on_disk(&self) -> u64 {
        std::fs::read_dir(&self.dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|e| e.metadata().ok())
                    .filter(|m| m.is_file())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0)
    }

    /// Runs `request` against the last commit, on the blocking pool, at most one per core at a
    /// time: more would only share the cores, and each would take longer.
    ///
    /// # Errors
    /// When the index cannot be read.
    pub async fn search(
        self: &std::sync::Arc<Self>,
        request: Request,
    ) -> Result<Page, SearchError> {
        let turn = self.turns.acquire().await;
        let me = self.clone();
        let page = tokio::task::spawn_blocking(move || me.search_now(&request)).await?;
        drop(turn);
        page
    }

    fn search_now(&self, request: &Request) -> Result<Page, SearchError> {
        let (f, r) = (&self.fields, &request.filters);
        let mut must: Vec<Box<dyn tantivy::query::Query>> = Vec::new();
        for term in &r.query.terms {
            must.push(text_query(f.text, term));
        }
        let exact = |field: Field, value: &str| -> Box<dyn tantivy::query::Query> {
            Box::new(TermQuery::new(
                Term::from_field_text(field, value),
                IndexRecordOption::Basic,
            ))
        };
        match &request.scope {
            Scope::Customer(id) => {
                must.push(exact(f.kind, MESSAGE));
                must.push(exact(f.customer, id));
            }
            // Only messages and notes hold words, and every query has one: an admin's needs no
            // kind clause (a union of both kinds would be read, in part, by every search).
            Scope::Admin => {}
        }
        if let Some(c) = &r.conversation {
            must.push(exact(f.conversation, c));
        }
        if let Some(b) = &r.booking {
            must.push(exact(f.booking, b));
        }
        if let Some(s) = &r.sender {
            must.push(exact(f.sender, s));
        }
        if r.from.is_some() || r.to.is_some() {
            let bound = |t: Option<Timestamp>, inclusive: bool| match t {
                None => Bound::Unbounded,
                Some(t) if inclusive => {
                    Bound::Included(Term::from_field_i64(f.created, t.millis()))
                }
                Some(t) => Bound::Excluded(Term::from_field_i64(f.created, t.millis())),
            };
            must.push(Box::new(RangeQuery::new(
                bound(r.from, true),
                bound(r.to, false),
            )));
        }
        if let Some(before) = r.before {
            must.push(Box::new(RangeQuery::new(
                Bound::Unbounded,
                Bound::Excluded(Term::from_field_u64(f.seq, before)),
            )));
        }
        let query = BooleanQuery::new(must.into_iter().map(|q| (Occur::Must, q)).collect());
        let searcher = self.reader.searcher();
        let found = newest(&searcher, &query, r.limit + 1, &self.seqs)?;
        let more = found.len() > r.limit;
        let mut hits = Vec::with_capacity(found.len().min(r.limit));
        let mut last_seq = None;
        for (seq, address) in found.into_iter().take(r.limit) {
            let seq = Some(seq);
            let doc: TantivyDocument = searcher.doc(address)?;
            let text = stored_str(&doc, f.text);
            let (snippet, highlights) = snippet::snippet(text, &r.query.matches(text));
            last_seq = seq;
            hits.push(Hit {
                message_id: stored_str(&doc, f.id).to_string(),
                conversation_id: stored_str(&doc, f.conversation).to_string(),
                booking_id: stored_str(&doc, f.booking).to_string(),
                sender: stored_str(&doc, f.sender).to_string(),
                created_at: Timestamp(
                    doc.get_first(f.created)
                        .and_then(|v| v.as_i64())
                        .unwrap_or(0),
                ),
                internal: is_note(&doc, f),
                snippet,
                highlights,
            });
        }
        Ok(Page {
            hits,
            next: if more { last_seq } else { None },
        })
    }
}

/// The `n` newest documents `query` matches, newest first, with their seq. Each segment holds its
/// documents newest first, so its first `n` live matches are its newest and the rest are not read;
/// a segment found out of order (which tantivy's index sorting rules out) is read whole.
fn newest(
    searcher: &tantivy::Searcher,
    query: &dyn tantivy::query::Query,
    n: usize,
    cache: &SeqColumns,
) -> Result<Vec<(u64, DocAddress)>, SearchError> {
    use tantivy::{DocSet, TERMINATED};
    let weight = query.weight(tantivy::query::EnableScoring::disabled_from_searcher(
        searcher,
    ))?;
    let segments = searcher.segment_readers();
    let columns = {
        let mut cache = cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.len() > segments.len() {
            let live: HashSet<SegmentId> = segments.iter().map(|s| s.segment_id()).collect();
            cache.retain(|id, _| live.contains(id));
        }
        let mut columns = Vec::with_capacity(segments.len());
        for segment in segments {
            let column = match cache.get(&segment.segment_id()) {
                Some(c) => c.clone(),
                None => {
                    let c = segment.fast_fields().u64("seq")?;
                    cache.insert(segment.segment_id(), c.clone());
                    c
                }
            };
            columns.push(column);
        }
        columns
    };
    let mut found: Vec<(u64, DocAddress)> = Vec::new();
    for (ord, (segment, seqs)) in segments.iter().zip(columns).enumerate() {
        let alive = segment.alive_bitset();
        let mut scorer = weight.scorer(segment, 1.0)?;
        let (mut taken, mut previous, mut sorted) = (0, u64::MAX, true);
        let mut doc = scorer.doc();
        while doc != TERMINATED && (taken < n || !sorted) {
            if alive.is_none_or(|a| a.is_alive(doc)) {
                if let Some(seq) = seqs.first(doc) {
                    sorted &= seq < previous;
                    previous = seq;
                    found.push((seq, DocAddress::new(ord as u32, doc)));
                    taken += 1;
                }
            }
            doc = scorer.advance();
        }
    }
    found.sort_unstable_by_key(|&(seq, _)| std::cmp::Reverse(seq));
    found.truncate(n);
    Ok(found)
}

/// The stored text of `field`, empty when absent.
pub(crate) fn stored_str(doc: &TantivyDocument, field: Field) -> &str {
    doc.get_first(field).and_then(|v| v.as_str()).unwrap_or("")
}

/// Whether a document is an internal note.
fn is_note(doc: &TantivyDocument, f: &Fields) -> bool {
    doc.get_first(f.kind).and_then(|v| v.as_str()) == Some(NOTE)
}

/// The tantivy query of one term: a word, a phrase, or either ending in a prefix. A term has at
/// least one word ([`Query::parse`]).
fn text_query(field: Field, term: &query::Term) -> Box<dyn tantivy::query::Query> {
    let mut terms: Vec<Term> = term
        .words
        .iter()
        .map(|w| Term::from_field_text(field, w))
        .collect();
    if term.prefix {
        return Box::new(PhrasePrefixQuery::new(terms));
    }
    match terms.pop() {
        Some(only) if terms.is_empty() => {
            Box::new(TermQuery::new(only, IndexRecordOption::WithFreqs))
        }
        Some(last) => {
            terms.push(last);
            Box::new(PhraseQuery::new(terms))
        }
        None => Box::new(BooleanQuery::new(Vec::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::doc;

    /// An index written without the sorting (as no index of this schema version is) is still
    /// read newest first: the out-of-order segment is read whole.
    #[test]
    fn a_segment_out_of_order_is_read_whole() {
        let (schema, f) = schema();
        let index = Index::create_in_ram(schema);
        index
            .tokenizers()
            .register(ANALYZER, text::Tokenizer::default());
        let mut writer: tantivy::IndexWriter<TantivyDocument> =
            index.writer_with_num_threads(1, 15_000_000).unwrap();
        for seq in [5u64, 9, 1, 7, 3] {
            writer
                .add_document(doc!(f.kind => MESSAGE, f.seq => seq, f.text => "same words"))
                .unwrap();
        }
        writer.commit().unwrap();
        let searcher = index.reader().unwrap().searcher();
        let query = text_query(
            f.text,
            &query::Term {
                words: vec!["same".into()],
                prefix: false,
            },
        );
        let seqs: Vec<u64> = newest(&searcher, query.as_ref(), 3, &SeqColumns::default())
            .unwrap()
            .into_iter()
            .map(|(seq, _)| seq)
            .collect();
        assert_eq!(seqs, [9, 7, 5]);
    }
}
