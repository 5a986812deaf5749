//! The search projection: the one task that writes the index. It adds, replaces and removes
//! message documents as the log says, and commits every [`COMMIT_EVERY`] (or [`COMMIT_EVENTS`]
//! events) with the log seq folded in the commit's payload, so that a crash loses nothing and
//! repeats nothing: reading resumes after the last commit.

use super::{stored_str, SearchError, SearchIndex, CONVERSATION, MESSAGE, NOTE};
use crate::projection::{FoldError, Projection};
use concierge_events::{Envelope, Event, Role};
use concierge_projections::LogEntry;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tantivy::query::TermQuery;
use tantivy::schema::IndexRecordOption;
use tantivy::{doc, IndexWriter, TantivyDocument, Term};

/// Commits at least this often while live events arrive: a message is searchable within about
/// this long of being folded (docs/search.md, "Freshness and readiness"). Every commit writes a
/// segment per indexing thread, which costs nearly as much small as large and is merged again
/// later, so this interval sets most of what search adds to a send.
pub const COMMIT_EVERY: Duration = Duration::from_millis(500);
/// While catching up (batches of at least [`CATCHING_UP`] events), commits this often instead, so
/// that the index is written in fewer, larger segments that need less merging.
pub const COMMIT_CATCHING_UP: Duration = Duration::from_secs(5);
const CATCHING_UP: usize = 4096;
/// Commits after this many events even sooner (`SEARCH_COMMIT_EVENTS`), so that catching up keeps
/// commits large but bounded.
pub const COMMIT_EVENTS: u64 = 200_000;
/// The indexing threads' memory budget while catching up, shared by them.
pub const WRITER_HEAP: usize = 96 * 1024 * 1024;
/// The one indexing thread's budget while live (tantivy's least is 15 MB): a commit's few hundred
/// messages need little, and a smaller budget is a smaller table to set up for each segment.
pub const LIVE_WRITER_HEAP: usize = 16 * 1024 * 1024;
/// Small batches for this long after the last large one before the writer goes back to [`Pace::Live`].
const LIVE_AFTER: Duration = Duration::from_secs(5);

/// How the writer indexes. Catching up, two threads and a large budget make few large segments
/// fast; live, each thread would write a segment of its own at every commit, so one does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pace {
    CatchingUp,
    Live,
}

impl Pace {
    fn writer(self, index: &SearchIndex) -> Result<IndexWriter<TantivyDocument>, SearchError> {
        let writer = match self {
            Pace::CatchingUp => {
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(2));
                index.index.writer_with_num_threads(threads, WRITER_HEAP)?
            }
            Pace::Live => index.index.writer_with_num_threads(1, LIVE_WRITER_HEAP)?,
        };
        Ok(writer)
    }
}

/// A message document's fields besides its text, to write it again when it is edited.
#[derive(Debug, Clone)]
struct Meta {
    kind: &'static str,
    conversation: Arc<Conversation>,
    sender: String,
    created: i64,
    seq: u64,
}

/// A conversation's id, booking and customer, which each of its messages carries.
#[derive(Debug, Clone, Default)]
struct Conversation {
    id: String,
    booking: String,
    customer: String,
}

/// The writing side of the index, owned by the projection worker.
struct State {
    /// `None` between dropping one writer and opening the next (at most one holds the index).
    writer: Option<IndexWriter<TantivyDocument>>,
    pace: Pace,
    /// When the last batch of a catch-up was folded.
    last_large_batch: Instant,
    /// Message documents added (`Some`) or removed (`None`) since the last commit, which a
    /// searcher does not see yet.
    pending: HashMap<String, Option<Meta>>,
    conversations: HashMap<String, Arc<Conversation>>,
    /// The last seq folded, and the last committed.
    folded: u64,
    committed: u64,
    last_commit: Instant,
    /// A fold failed part way: what was not committed is dropped, not committed.
    failed: bool,
}

/// The search index as a projection of the log.
pub struct Indexer {
    index: Arc<SearchIndex>,
    state: Arc<Mutex<State>>,
    /// Commits after this many events folded since the last commit.
    commit_events: u64,
}

impl Indexer {
    /// The writer of `index`, from its last commit, committing after `commit_events` events at
    /// the latest.
    ///
    /// # Errors
    /// When the index cannot be locked for writing (another process holds it) or read.
    pub fn new(index: Arc<SearchIndex>, commit_events: u64) -> Result<Indexer, SearchError> {
        let writer = Pace::Live.writer(&index)?;
        let committed = index.checkpoint()?;
        Ok(Indexer {
            index,
            state: Arc::new(Mutex::new(State {
                writer: Some(writer),
                pace: Pace::Live,
                last_large_batch: Instant::now(),
                pending: HashMap::new(),
                conversations: HashMap::new(),
                folded: committed,
                committed,
                last_commit: Instant::now(),
                failed: false,
            })),
            commit_events,
        })
    }

    /// Removes every document (`concierge rebuild --search`): the checkpoint goes back to 0.
    ///
    /// # Errors
    /// When the index cannot be written.
    pub async fn wipe(&self) -> Result<(), FoldError> {
        self.with_state(|index, state| {
            state.writer(index)?.delete_all_documents()?;
            state.pending.clear();
            state.conversations.clear();
            state.folded = 0;
            state.commit(index)
        })
        .await
    }

    /// Runs `work` on the writer, on the blocking pool.
    fn with_state<T: Send + 'static>(
        &self,
        work: impl FnOnce(&SearchIndex, &mut State) -> Result<T, SearchError> + Send + 'static,
    ) -> impl std::future::Future<Output = Result<T, FoldError>> + Send {
        let (index, state) = (self.index.clone(), self.state.clone());
        async move {
            tokio::task::spawn_blocking(move || {
                let mut state = state
                    .lock()
                    .map_err(|_| FoldError("the search writer was poisoned".into()))?;
                work(&index, &mut state).map_err(|e| FoldError(e.to_string()))
            })
            .await
            .map_err(|e| FoldError(format!("search task failed: {e}")))?
        }
    }
}

impl Projection for Indexer {
    const NAME: &'static str = "search";

    /// Commits what was folded whole (or drops it, after a failed fold or commit) and resumes
    /// after the last commit.
    async fn resume(&self) -> Result<u64, FoldError> {
        self.with_state(|index, state| {
            if state.folded > state.committed && !state.failed {
                if let Err(e) = state.commit(index) {
                    tracing::warn!(error = %e, "cannot commit the search index; dropping what was not committed");
                    state.failed = true;
                }
            }
            if state.failed {
                if let Some(writer) = state.writer.as_mut() {
                    writer.rollback()?;
                }
                state.pending.clear();
                state.conversations.clear();
                state.folded = state.committed;
                state.failed = false;
            }
            Ok(state.committed)
        })
        .await
    }

    async fn fold(&self, entries: Vec<LogEntry>) -> Result<u64, FoldError> {
        let large = entries.len() >= CATCHING_UP;
        let every = if large {
            COMMIT_CATCHING_UP
        } else {
            COMMIT_EVERY
        };
        let commit_events = self.commit_events;
        self.with_state(move |index, state| {
            state.pace_for(index, large)?;
            for entry in &entries {
                if let Some(event) = &entry.event {
                    if let Err(e) = state.apply(index, entry.seq, event) {
                        state.failed = true;
                        return Err(e);
                    }
                }
                state.folded = entry.seq;
            }
            if state.folded - state.committed >= commit_events
                || state.last_commit.elapsed() >= every
            {
                state.commit(index)?;
            }
            Ok(state.committed)
        })
        .await
    }

    /// Commits what was folded, unless a fold failed part way (then [`Self::resume`] drops it).
    async fn settle(&self) -> Result<u64, FoldError> {
        self.with_state(|index, state| {
            if state.folded > state.committed && !state.failed {
                state.commit(index)?;
            }
            Ok(state.committed)
        })
        .await
    }
}

impl State {
    /// The writer, opened at the current pace if the last one was closed.
    fn writer(
        &mut self,
        index: &SearchIndex,
    ) -> Result<&mut IndexWriter<TantivyDocument>, SearchError> {
        let writer = match self.writer.take() {
            Some(writer) => writer,
            None => self.pace.writer(index)?,
        };
        Ok(self.writer.insert(writer))
    }

    /// Changes the writer's [`Pace`] when a batch of `large` size calls for it: at once for a
    /// catch-up, after [`LIVE_AFTER`] of small batches back to live. What was folded is committed
    /// first, and the old writer's merges are waited for: a merge it left running would rewrite
    /// the index's list of segments behind the new writer.
    fn pace_for(&mut self, index: &SearchIndex, large: bool) -> Result<(), SearchError> {
        if large {
            self.last_large_batch = Instant::now();
        }
        let pace = match (self.pace, large) {
            (_, true) => Pace::CatchingUp,
            (Pace::CatchingUp, false) if self.last_large_batch.elapsed() >= LIVE_AFTER => {
                Pace::Live
            }
            (pace, false) => pace,
        };
        if pace == self.pace {
            return Ok(());
        }
        if self.folded > self.committed {
            self.commit(index)?;
        }
        let started = Instant::now();
        if let Some(writer) = self.writer.take() {
            writer.wait_merging_threads()?;
        }
        self.pace = pace;
        self.writer(index)?;
        tracing::debug!(
            ?pace,
            waited_ms = started.elapsed().as_millis(),
            "search writer pace changed"
        );
        Ok(())
    }

    /// Writes the documents `event` changes.
    fn apply(&mut self, index: &SearchIndex, seq: u64, e: &Envelope) -> Result<(), SearchError> {
        let f = &index.fields;
        let conversation = e.conversation_id.as_deref().unwrap_or_default();
        match &e.event {
            Event::ConversationCreated(c) => {
                let customer = c
                    .participants
                    .iter()
                    .find(|p| p.role == Role::Customer)
                    .map(|p| p.user_id.clone())
                    .unwrap_or_default();
                self.writer(index)?.add_document(doc!(
                    f.kind => CONVERSATION,
                    f.id => conversation,
                    f.booking => c.booking_id.as_str(),
                    f.customer => customer.as_str(),
                ))?;
                self.conversations.insert(
                    conversation.to_string(),
                    Arc::new(Conversation {
                        id: conversation.to_string(),
                        booking: c.booking_id.clone(),
                        customer,
                    }),
                );
            }
            Event::MessageSent(m) => {
                self.add(index, seq, e, MESSAGE, &m.message_id, &m.content)?;
            }
            Event::NoteAdded(n) => {
                self.add(index, seq, e, NOTE, &n.message_id, &n.content)?;
            }
            Event::MessageEdited(m) | Event::NoteEdited(m) => {
                if let Some(meta) = self.message(index, &m.message_id)? {
                    self.writer(index)?
                        .delete_term(Term::from_field_text(f.id, &m.message_id));
                    self.write(index, &m.message_id, &meta, &m.content)?;
                }
            }
            Event::MessageDeleted(m) | Event::NoteDeleted(m) => {
                self.writer(index)?
                    .delete_term(Term::from_field_text(f.id, &m.message_id));
                self.pending.insert(m.message_id.clone(), None);
            }
            _ => {}
        }
        Ok(())
    }

    /// Adds a message or note sent at `seq`.
    fn add(
        &mut self,
        index: &SearchIndex,
        seq: u64,
        e: &Envelope,
        kind: &'static str,
        id: &str,
        content: &str,
    ) -> Result<(), SearchError> {
        let conversation = e.conversation_id.as_deref().unwrap_or_default();
        let meta = Meta {
            kind,
            conversation: self.conversation(index, conversation)?,
            sender: e.actor.id.clone(),
            created: e.at.millis(),
            seq,
        };
        self.write(index, id, &meta, content)
    }

    fn write(
        &mut self,
        index: &SearchIndex,
        id: &str,
        meta: &Meta,
        text: &str,
    ) -> Result<(), SearchError> {
        let f = &index.fields;
        self.writer(index)?.add_document(doc!(
            f.kind => meta.kind,
            f.id => id,
            f.conversation => meta.conversation.id.as_str(),
            f.booking => meta.conversation.booking.as_str(),
            f.customer => meta.conversation.customer.as_str(),
            f.sender => meta.sender.as_str(),
            f.created => meta.created,
            f.seq => meta.seq,
            f.text => text,
        ))?;
        self.pending.insert(id.to_string(), Some(meta.clone()));
        Ok(())
    }

    /// A conversation's booking and customer: from this writer's memory, else from the last
    /// commit; empty (found by admins only) for a conversation the log never opened.
    fn conversation(
        &mut self,
        index: &SearchIndex,
        id: &str,
    ) -> Result<Arc<Conversation>, SearchError> {
        if let Some(c) = self.conversations.get(id) {
            return Ok(c.clone());
        }
        let found = Arc::new(
            committed(index, id, CONVERSATION)?
                .map(|doc| Conversation {
                    id: id.to_string(),
                    booking: stored_str(&doc, index.fields.booking).to_string(),
                    customer: stored_str(&doc, index.fields.customer).to_string(),
                })
                .unwrap_or_else(|| Conversation {
                    id: id.to_string(),
                    ..Default::default()
                }),
        );
        self.conversations.insert(id.to_string(), found.clone());
        Ok(found)
    }

    /// A message's document fields: from what was added or removed since the last commit, else
    /// from the last commit; `None` for one not indexed or removed.
    fn message(&self, index: &SearchIndex, id: &str) -> Result<Option<Meta>, SearchError> {
        if let Some(meta) = self.pending.get(id) {
            return Ok(meta.clone());
        }
        let f = &index.fields;
        let Some(doc) = committed(index, id, "")? else {
            return Ok(None);
        };
        let kind = match doc
            .get_first(f.kind)
            .and_then(|v| tantivy::schema::Value::as_str(&v))
        {
            Some(MESSAGE) => MESSAGE,
            Some(NOTE) => NOTE,
            _ => return Ok(None),
        };
        Ok(Some(Meta {
            kind,
            conversation: Arc::new(Conversation {
                id: stored_str(&doc, f.conversation).to_string(),
                booking: stored_str(&doc, f.booking).to_string(),
                customer: stored_str(&doc, f.customer).to_string(),
            }),
            sender: stored_str(&doc, f.sender).to_string(),
            created: doc
                .get_first(f.created)
                .and_then(|v| tantivy::schema::Value::as_i64(&v))
                .unwrap_or(0),
            seq: doc
                .get_first(f.seq)
                .and_then(|v| tantivy::schema::Value::as_u64(&v))
                .unwrap_or(0),
        }))
    }

    /// Commits with the folded seq as the payload, then lets queries see it.
    fn commit(&mut self, index: &SearchIndex) -> Result<(), SearchError> {
        let started = Instant::now();
        let payload = self.folded.to_string();
        let mut commit = self.writer(index)?.prepare_commit()?;
        commit.set_payload(&payload);
        commit.commit()?;
        self.committed = self.folded;
        self.pending.clear();
        index.reader.reload()?;
        self.last_commit = Instant::now();
        metrics::histogram!("concierge_search_commit_duration_seconds")
            .record(started.elapsed().as_secs_f64());
        metrics::gauge!("concierge_search_index_bytes").set(index.size_on_disk() as f64);
        Ok(())
    }
}

/// The committed document with `id` (of `kind` when not empty).
fn committed(
    index: &SearchIndex,
    id: &str,
    kind: &str,
) -> Result<Option<TantivyDocument>, SearchError> {
    let f = &index.fields;
    let searcher = index.reader.searcher();
    let query = TermQuery::new(Term::from_field_text(f.id, id), IndexRecordOption::Basic);
    let found = searcher.search(
        &query,
        &tantivy::collector::TopDocs::with_limit(4).order_by_score(),
    )?;
    for (_, address) in found {
        let doc: TantivyDocument = searcher.doc(address)?;
        let doc_kind = doc
            .get_first(f.kind)
            .and_then(|v| tantivy::schema::Value::as_str(&v));
        if kind.is_empty() || doc_kind == Some(kind) {
            return Ok(Some(doc));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{query::Query, Filters, Request, Scope};
    use concierge_events::{
        Actor, ConversationCreated, MessageDeleted, MessageEdited, MessageSent, MessageType,
        ParticipantJoined, Timestamp,
    };

    const CONV: &str = "01JDQ7X0S9G1W7V8M2K3Z4Y5AB";

    fn entry(seq: u64, event: Event) -> LogEntry {
        let actor = Actor {
            id: "cus_ann".into(),
            role: Role::Customer,
            name: None,
        };
        let env = Envelope::new(
            format!("e{seq}"),
            Timestamp(seq as i64),
            actor,
            Some(CONV.into()),
            event,
        );
        LogEntry {
            seq,
            event: Some(env),
        }
    }

    fn created(seq: u64) -> LogEntry {
        entry(
            seq,
            Event::ConversationCreated(ConversationCreated {
                booking_id: "bk_1".into(),
                title: "t".into(),
                participants: vec![ParticipantJoined {
                    user_id: "cus_ann".into(),
                    role: Role::Customer,
                    name: "Ann".into(),
                }],
            }),
        )
    }

    fn sent(seq: u64, id: &str, content: &str) -> LogEntry {
        entry(
            seq,
            Event::MessageSent(MessageSent {
                message_id: id.into(),
                content: content.into(),
                message_type: MessageType::Text,
                attachments: vec![],
                reply_to: None,
                client_message_id: None,
            }),
        )
    }

    fn edited(seq: u64, id: &str, content: &str) -> LogEntry {
        entry(
            seq,
            Event::MessageEdited(MessageEdited {
                message_id: id.into(),
                content: content.into(),
            }),
        )
    }

    fn deleted(seq: u64, id: &str) -> LogEntry {
        entry(
            seq,
            Event::MessageDeleted(MessageDeleted {
                message_id: id.into(),
            }),
        )
    }

    async fn found(index: &Arc<SearchIndex>, q: &str, scope: Scope) -> Vec<String> {
        let filters = Filters {
            query: Query::parse(q).unwrap(),
            conversation: None,
            booking: None,
            sender: None,
            from: None,
            to: None,
            before: None,
            limit: 100,
        };
        let page = index.search(Request { scope, filters }).await.unwrap();
        page.hits.into_iter().map(|h| h.message_id).collect()
    }

    #[tokio::test]
    async fn edits_and_deletes_apply_within_and_across_commits() {
        let dir = tempfile::tempdir().unwrap();
        let index = Arc::new(SearchIndex::open(dir.path()).unwrap());
        let indexer = Indexer::new(index.clone(), COMMIT_EVENTS).unwrap();
        // Within one uncommitted window: sent, edited, deleted, then an edit of the deleted one.
        let batch = vec![
            created(1),
            sent(2, "m1", "alpha"),
            sent(3, "m2", "bravo"),
            edited(4, "m2", "charlie"),
            deleted(5, "m1"),
            edited(6, "m1", "delta"),
        ];
        indexer.fold(batch).await.unwrap();
        assert_eq!(indexer.settle().await.unwrap(), 6);
        assert_eq!(index.checkpoint().unwrap(), 6);
        let ann = || Scope::Customer("cus_ann".into());
        assert_eq!(
            found(&index, "alpha", Scope::Admin).await,
            Vec::<String>::new()
        );
        assert_eq!(
            found(&index, "delta", Scope::Admin).await,
            Vec::<String>::new()
        );
        assert_eq!(
            found(&index, "bravo", Scope::Admin).await,
            Vec::<String>::new()
        );
        assert_eq!(found(&index, "charlie", ann()).await, ["m2"]);
        // Across a commit: the committed document is found, replaced and removed.
        indexer
            .fold(vec![edited(7, "m2", "echo"), sent(8, "m3", "foxtrot")])
            .await
            .unwrap();
        indexer.settle().await.unwrap();
        assert_eq!(found(&index, "echo", ann()).await, ["m2"]);
        assert_eq!(found(&index, "charlie", ann()).await, Vec::<String>::new());
        indexer
            .fold(vec![deleted(9, "m2"), edited(10, "m2", "golf")])
            .await
            .unwrap();
        indexer.settle().await.unwrap();
        assert_eq!(
            found(&index, "echo", Scope::Admin).await,
            Vec::<String>::new()
        );
        assert_eq!(
            found(&index, "golf", Scope::Admin).await,
            Vec::<String>::new()
        );
        assert_eq!(
            found(&index, "foxtrot", Scope::Customer("cus_dan".into())).await,
            Vec::<String>::new()
        );
    }

    #[tokio::test]
    async fn the_writer_changes_pace_without_losing_a_document() {
        let dir = tempfile::tempdir().unwrap();
        let index = Arc::new(SearchIndex::open(dir.path()).unwrap());
        let indexer = Indexer::new(index.clone(), COMMIT_EVENTS).unwrap();
        let pace = || indexer.state.lock().unwrap().pace;
        assert_eq!(pace(), Pace::Live);
        indexer
            .fold(vec![created(1), sent(2, "m1", "alpha")])
            .await
            .unwrap();
        // A catch-up: the small batch's message is committed before the writer changes.
        let large: Vec<LogEntry> = (3..3 + CATCHING_UP as u64)
            .map(|seq| sent(seq, &format!("c{seq}"), "bulk"))
            .collect();
        let last = 2 + CATCHING_UP as u64;
        indexer.fold(large).await.unwrap();
        assert_eq!(pace(), Pace::CatchingUp);
        assert_eq!(index.checkpoint().unwrap(), 2);
        // Small batches soon after stay at the catch-up pace, later ones go back to live.
        indexer
            .fold(vec![sent(last + 1, "m2", "bravo")])
            .await
            .unwrap();
        assert_eq!(pace(), Pace::CatchingUp);
        indexer.state.lock().unwrap().last_large_batch -= LIVE_AFTER;
        indexer
            .fold(vec![edited(last + 2, "m1", "charlie")])
            .await
            .unwrap();
        assert_eq!(pace(), Pace::Live);
        assert_eq!(index.checkpoint().unwrap(), last + 1);
        assert_eq!(indexer.settle().await.unwrap(), last + 2);
        assert_eq!(found(&index, "charlie", Scope::Admin).await, ["m1"]);
        assert_eq!(
            found(&index, "alpha", Scope::Admin).await,
            Vec::<String>::new()
        );
        assert_eq!(found(&index, "bravo", Scope::Admin).await, ["m2"]);
        let searcher = index.reader.searcher();
        assert_eq!(
            searcher
                .search(
                    &TermQuery::new(
                        Term::from_field_text(index.fields.text, "bulk"),
                        IndexRecordOption::Basic
                    ),
                    &tantivy::collector::Count
                )
                .unwrap(),
            CATCHING_UP
        );
    }

    #[tokio::test]
    async fn what_was_not_committed_is_read_again_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        {
            let index = Arc::new(SearchIndex::open(dir.path()).unwrap());
            let indexer = Indexer::new(index.clone(), COMMIT_EVENTS).unwrap();
            indexer
                .fold(vec![created(1), sent(2, "m1", "alpha")])
                .await
                .unwrap();
            indexer.settle().await.unwrap();
            // Folded, never committed: as if the node died here.
            indexer.fold(vec![sent(3, "m2", "bravo")]).await.unwrap();
        }
        let index = Arc::new(SearchIndex::open(dir.path()).unwrap());
        let indexer = Indexer::new(index.clone(), COMMIT_EVENTS).unwrap();
        assert_eq!(indexer.resume().await.unwrap(), 2);
        assert_eq!(
            found(&index, "bravo", Scope::Admin).await,
            Vec::<String>::new()
        );
        indexer.fold(vec![sent(3, "m2", "bravo")]).await.unwrap();
        indexer.settle().await.unwrap();
        assert_eq!(found(&index, "bravo", Scope::Admin).await, ["m2"]);
        assert_eq!(found(&index, "alpha", Scope::Admin).await, ["m1"]);
    }

    #[tokio::test]
    async fn an_index_of_another_schema_version_is_wiped_and_read_again_from_the_start() {
        let dir = tempfile::tempdir().unwrap();
        {
            let index = Arc::new(SearchIndex::open(dir.path()).unwrap());
            let indexer = Indexer::new(index.clone(), COMMIT_EVENTS).unwrap();
            indexer
                .fold(vec![created(1), sent(2, "m1", "alpha")])
                .await
                .unwrap();
            assert_eq!(indexer.settle().await.unwrap(), 2);
        }
        // As written by the schema before created and seq became fast fields alone.
        std::fs::write(dir.path().join("schema-version"), "2").unwrap();
        let index = Arc::new(SearchIndex::open(dir.path()).unwrap());
        let indexer = Indexer::new(index.clone(), COMMIT_EVENTS).unwrap();
        assert_eq!(indexer.resume().await.unwrap(), 0);
        assert_eq!(
            found(&index, "alpha", Scope::Admin).await,
            Vec::<String>::new()
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("schema-version")).unwrap(),
            crate::search::SCHEMA_VERSION
        );
        indexer
            .fold(vec![created(1), sent(2, "m1", "alpha")])
            .await
            .unwrap();
        indexer.settle().await.unwrap();
        assert_eq!(found(&index, "alpha", Scope::Admin).await, ["m1"]);
    }
}
