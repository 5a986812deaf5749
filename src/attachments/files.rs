//! The uploads' bytes in JetStream's object store: one bucket beside the event log, so one NATS
//! cluster holds all state and nodes stay stateless.
//!
//! An upload is the object `<id>` (its thumbnail `<id>.thumb`), written in the object store's own
//! format so NATS's tools read it. Its metadata says which conversation and sender it belongs to and
//! what it is; `ready` is set last, once the thumbnail and the derived sizes are stored, so an upload
//! cut off in the middle is never served nor sent, and the sweeper removes it.

use async_nats::jetstream::{
    self,
    consumer::push::OrderedConfig,
    object_store::{ObjectInfo, ObjectMetadata, ObjectStore},
    stream,
};
use base64::Engine;
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::sync::Mutex;

/// How long one request to the object store may take before the write or read is given up.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The size of the object store's chunks (its default): a read's unit.
pub const CHUNK_BYTES: usize = 128 * 1024;

/// Why the object store did not take or give an upload.
#[derive(Debug, thiserror::Error)]
pub enum FilesError {
    #[error("not connected to NATS")]
    Disconnected,
    #[error("{what} failed: {source}")]
    Request {
        what: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("{what} timed out")]
    TimedOut { what: &'static str },
}

fn failed<E: std::error::Error + Send + Sync + 'static>(
    what: &'static str,
) -> impl FnOnce(E) -> FilesError {
    move |e| FilesError::Request {
        what,
        source: Box::new(e),
    }
}

async fn timed<T>(
    what: &'static str,
    f: impl std::future::Future<Output = Result<T, FilesError>>,
) -> Result<T, FilesError> {
    tokio::time::timeout(REQUEST_TIMEOUT, f)
        .await
        .map_err(|_| FilesError::TimedOut { what })?
}

/// What the metadata of an upload says, as written at upload time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub id: String,
    pub conversation_id: String,
    pub uploader: String,
    pub filename: String,
    pub mimetype: String,
    pub size: u64,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_ms: Option<u64>,
    /// The thumbnail's type, when the upload has one.
    pub thumbnail: Option<String>,
    /// The object store's `SHA-256=<base64>` digest, the ETag.
    pub digest: Option<String>,
    pub nuid: String,
    /// Unix milliseconds of the last write of the object.
    pub modified_ms: i64,
    /// All steps of the upload are stored.
    pub ready: bool,
}

impl Upload {
    /// The metadata map the object carries.
    pub fn metadata(&self) -> HashMap<String, String> {
        let mut m = HashMap::new();
        m.insert("conversation".into(), self.conversation_id.clone());
        m.insert("uploader".into(), self.uploader.clone());
        m.insert("filename".into(), self.filename.clone());
        m.insert("mimetype".into(), self.mimetype.clone());
        let mut opt = |k: &str, v: Option<String>| {
            if let Some(v) = v {
                m.insert(k.to_string(), v);
            }
        };
        opt("width", self.width.map(|v| v.to_string()));
        opt("height", self.height.map(|v| v.to_string()));
        opt("durationMs", self.duration_ms.map(|v| v.to_string()));
        opt("thumbnail", self.thumbnail.clone());
        opt("ready", self.ready.then(|| "1".to_string()));
        m
    }

    /// The upload an object's info describes; `None` for an object that is not one (or deleted).
    pub fn from_info(info: &ObjectInfo) -> Option<Upload> {
        if info.deleted || info.name.ends_with(THUMB_SUFFIX) {
            return None;
        }
        let m = &info.metadata;
        let text = |k: &str| m.get(k).cloned();
        Some(Upload {
            id: info.name.clone(),
            conversation_id: text("conversation")?,
            uploader: text("uploader")?,
            filename: text("filename")?,
            mimetype: text("mimetype")?,
            size: info.size as u64,
            width: m.get("width").and_then(|v| v.parse().ok()),
            height: m.get("height").and_then(|v| v.parse().ok()),
            duration_ms: m.get("durationMs").and_then(|v| v.parse().ok()),
            thumbnail: text("thumbnail"),
            digest: info.digest.clone(),
            nuid: info.nuid.clone(),
            modified_ms: info
                .modified
                .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
                .unwrap_or(0),
            ready: m.get("ready").is_some_and(|v| v == "1"),
        })
    }
}

/// The suffix of a thumbnail's object name.
pub const THUMB_SUFFIX: &str = ".thumb";

/// A stored object's facts needed to serve it.
#[derive(Debug, Clone)]
pub struct Stored {
    pub size: u64,
    pub nuid: String,
    pub digest: Option<String>,
}

/// The bucket of uploads. Cheap to clone; the bucket is created (or its replicas updated) on first
/// use once NATS answers.
#[derive(Clone)]
pub struct Files {
    client: async_nats::Client,
    js: jetstream::Context,
    bucket: String,
    replicas: usize,
    opened: std::sync::Arc<Mutex<Option<(ObjectStore, stream::Stream)>>>,
}

impl Files {
    pub fn new(client: async_nats::Client, bucket: &str, replicas: u8) -> Files {
        let mut js = jetstream::new(client.clone());
        js.set_timeout(REQUEST_TIMEOUT);
        Files {
            client,
            js,
            bucket: bucket.to_string(),
            replicas: usize::from(replicas.max(1)),
            opened: Default::default(),
        }
    }

    pub fn bucket_name(&self) -> &str {
        &self.bucket
    }

    /// The name of the bucket's stream.
    pub fn stream_name(&self) -> String {
        format!("OBJ_{}", self.bucket)
    }

    fn connected(&self) -> Result<(), FilesError> {
        if self.client.connection_state() == async_nats::connection::State::Connected {
            Ok(())
        } else {
            Err(FilesError::Disconnected)
        }
    }

    /// The bucket's stream configuration, as the object store's own creation makes it.
    pub fn stream_config(&self) -> stream::Config {
        stream::Config {
            name: self.stream_name(),
            description: Some("Concierge attachments".into()),
            subjects: vec![
                format!("$O.{}.C.>", self.bucket),
                format!("$O.{}.M.>", self.bucket),
            ],
            storage: stream::StorageType::File,
            num_replicas: self.replicas,
            discard: stream::DiscardPolicy::New,
            allow_rollup: true,
            allow_direct: true,
            ..Default::default()
        }
    }

    /// The bucket and its stream, created or updated to this node's replicas the first time.
    async fn open(&self) -> Result<(ObjectStore, stream::Stream), FilesError> {
        self.connected()?;
        let mut opened = self.opened.lock().await;
        if let Some(o) = &*opened {
            return Ok(o.clone());
        }
        let o = timed("opening the attachments bucket", async {
            // Created as a plain stream: the client's own bucket creation does not understand
            // nats-server 2.9's answer.
            self.js
                .create_or_update_stream(self.stream_config())
                .await
                .map_err(failed("creating the attachments bucket"))?;
            let stream = self
                .js
                .get_stream(self.stream_name())
                .await
                .map_err(failed("opening the attachments bucket"))?;
            let store = self
                .js
                .get_object_store(&self.bucket)
                .await
                .map_err(failed("opening the attachments bucket"))?;
            Ok((store, stream))
        })
        .await?;
        *opened = Some(o.clone());
        Ok(o)
    }

    /// Creates the bucket now (at start, so that the first upload does not wait for it).
    ///
    /// # Errors
    /// When NATS is unreachable or refuses the bucket.
    pub async fn ensure(&self) -> Result<(), FilesError> {
        self.open().await.map(|_| ())
    }

    /// Stores `data` as the object `name`, streaming it in chunks; the object exists only once the
    /// whole of it is stored. A reader error stops the write; the chunks already stored belong to
    /// no object and the sweeper purges them.
    ///
    /// # Errors
    /// [`FilesError`]; `reader_error` tells whether the reader failed rather than NATS.
    pub async fn put(
        &self,
        name: &str,
        metadata: HashMap<String, String>,
        data: &mut (impl tokio::io::AsyncRead + Unpin),
    ) -> Result<Stored, PutFailure> {
        let (store, _) = self.open().await.map_err(PutFailure::Files)?;
        let meta = ObjectMetadata {
            name: name.to_string(),
            metadata,
            ..Default::default()
        };
        match store.put(meta, data).await {
            Ok(info) => Ok(Stored {
                size: info.size as u64,
                nuid: info.nuid,
                digest: info.digest,
            }),
            Err(e) if e.kind() == async_nats::jetstream::object_store::PutErrorKind::ReadChunks => {
                Err(PutFailure::Reader)
            }
            Err(e) => Err(PutFailure::Files(failed("storing an attachment")(e))),
        }
    }

    /// Replaces the metadata of the object `name` (the chunks stay), by publishing its info anew
    /// as the object store does (the client's `update_metadata` keeps the old metadata map).
    ///
    /// # Errors
    /// When NATS is unreachable or the object is gone.
    pub async fn set_metadata(
        &self,
        name: &str,
        metadata: HashMap<String, String>,
    ) -> Result<(), FilesError> {
        let mut info = self.info(name).await?.ok_or_else(|| FilesError::Request {
            what: "describing an attachment",
            source: "the object is gone".into(),
        })?;
        info.metadata = metadata;
        let payload = serde_json::to_vec(&info).map_err(failed("describing an attachment"))?;
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Rollup", "sub");
        let subject = format!(
            "$O.{}.M.{}",
            self.bucket,
            base64::engine::general_purpose::URL_SAFE.encode(name)
        );
        timed("describing an attachment", async {
            self.js
                .publish_with_headers(subject, headers, payload.into())
                .await
                .map_err(failed("describing an attachment"))?
                .await
                .map(|_| ())
                .map_err(failed("describing an attachment"))
        })
        .await
    }

    /// The object `name`'s info; `None` when there is none (or it was deleted).
    ///
    /// # Errors
    /// When NATS is unreachable.
    pub async fn info(&self, name: &str) -> Result<Option<ObjectInfo>, FilesError> {
        let (store, _) = self.open().await?;
        timed("reading an attachment's metadata", async {
            match store.info(name).await {
                Ok(info) if !info.deleted => Ok(Some(info)),
                Ok(_) => Ok(None),
                Err(e)
                    if matches!(
                        e.kind(),
                        async_nats::jetstream::object_store::InfoErrorKind::NotFound
                            | async_nats::jetstream::object_store::InfoErrorKind::InvalidName
                    ) =>
                {
                    Ok(None)
                }
                Err(e) => Err(failed("reading an attachment's metadata")(e)),
            }
        })
        .await
    }

    /// The upload `id`, whether ready or not; `None` when there is none.
    ///
    /// # Errors
    /// When NATS is unreachable.
    pub async fn upload(&self, id: &str) -> Result<Option<Upload>, FilesError> {
        Ok(self.info(id).await?.as_ref().and_then(Upload::from_info))
    }

    /// Removes the object `name` (its metadata says deleted, its chunks are purged). Removing one that
    /// is not there is not an error.
    ///
    /// # Errors
    /// When NATS is unreachable.
    pub async fn delete(&self, name: &str) -> Result<(), FilesError> {
        let (store, _) = self.open().await?;
        timed("removing an attachment", async {
            match store.delete(name).await {
                Ok(()) => Ok(()),
                Err(e)
                    if e.kind()
                        == async_nats::jetstream::object_store::DeleteErrorKind::NotFound =>
                {
                    Ok(())
                }
                Err(e) => Err(failed("removing an attachment")(e)),
            }
        })
        .await
    }

    /// The bytes of a stored object from `skip` for `take` bytes, chunk by chunk as NATS delivers them.
    ///
    /// # Errors
    /// When the read cannot start; an error while it runs ends the stream with that error.
    pub async fn read(
        &self,
        stored: &Stored,
        skip: u64,
        take: u64,
    ) -> Result<impl Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static, FilesError>
    {
        let (_, stream) = self.open().await?;
        let messages = if stored.size == 0 || take == 0 {
            None
        } else {
            let consumer = timed("reading an attachment", async {
                stream
                    .create_consumer(OrderedConfig {
                        deliver_subject: self.client.new_inbox(),
                        filter_subject: format!("$O.{}.C.{}", self.bucket, stored.nuid),
                        ..Default::default()
                    })
                    .await
                    .map_err(failed("reading an attachment"))?
                    .messages()
                    .await
                    .map_err(failed("reading an attachment"))
            })
            .await?;
            Some(consumer)
        };
        let end = skip.saturating_add(take).min(stored.size);
        let chunks = futures::stream::iter(messages).flatten();
        let mut at = 0u64;
        Ok(chunks
            .map_err(|e| std::io::Error::other(format!("reading an attachment: {e}")))
            .try_filter_map(move |message| {
                let payload = message.payload.clone();
                let from = at;
                at += payload.len() as u64;
                let lo = skip.saturating_sub(from).min(payload.len() as u64) as usize;
                let hi = end.saturating_sub(from).min(payload.len() as u64) as usize;
                let part = (lo < hi).then(|| payload.slice(lo..hi));
                let done = at >= end;
                futures::future::ready(Ok(Some((part, done))))
            })
            .scan(false, |finished, item| {
                if *finished {
                    return futures::future::ready(None);
                }
                let out = match item {
                    Ok((part, done)) => {
                        *finished = done;
                        Ok(part)
                    }
                    Err(e) => {
                        *finished = true;
                        Err(e)
                    }
                };
                futures::future::ready(Some(out))
            })
            .try_filter_map(|part| futures::future::ready(Ok(part))))
    }

    /// Every object's info (deleted ones left out), by reading the last metadata record of each.
    ///
    /// # Errors
    /// When NATS is unreachable.
    pub async fn list(&self) -> Result<Vec<ObjectInfo>, FilesError> {
        let (_, mut stream) = self.open().await?;
        let subjects = self
            .subjects(&mut stream, &format!("$O.{}.M.>", self.bucket))
            .await?;
        let mut infos = Vec::new();
        for subject in subjects.keys() {
            let message = timed("listing attachments", async {
                stream
                    .get_last_raw_message_by_subject(subject)
                    .await
                    .map_err(failed("listing attachments"))
            })
            .await?;
            if let Ok(info) = serde_json::from_slice::<ObjectInfo>(&message.payload) {
                if !info.deleted {
                    infos.push(info);
                }
            }
        }
        Ok(infos)
    }

    /// The chunk subjects of the bucket and their message counts.
    ///
    /// # Errors
    /// When NATS is unreachable.
    pub async fn chunk_subjects(&self) -> Result<BTreeMap<String, u64>, FilesError> {
        let (_, mut stream) = self.open().await?;
        self.subjects(&mut stream, &format!("$O.{}.C.>", self.bucket))
            .await
    }

    async fn subjects(
        &self,
        stream: &mut stream::Stream,
        filter: &str,
    ) -> Result<BTreeMap<String, u64>, FilesError> {
        timed("listing attachments", async {
            let mut subjects = BTreeMap::new();
            let mut info = stream
                .info_with_subjects(filter)
                .await
                .map_err(failed("listing attachments"))?;
            while let Some(item) = info.next().await {
                let (subject, count) = item.map_err(failed("listing attachments"))?;
                subjects.insert(subject, u64::try_from(count).unwrap_or(0));
            }
            Ok(subjects)
        })
        .await
    }

    /// Purges the chunks of a subject that no object refers to.
    ///
    /// # Errors
    /// When NATS is unreachable.
    pub async fn purge_subject(&self, subject: &str) -> Result<(), FilesError> {
        let (_, stream) = self.open().await?;
        timed("purging attachment chunks", async {
            stream
                .purge()
                .filter(subject)
                .await
                .map(|_| ())
                .map_err(failed("purging attachment chunks"))
        })
        .await
    }
}

/// Why a put failed: the data given to it, or NATS.
#[derive(Debug)]
pub enum PutFailure {
    /// The reader returned an error (the upload was refused or cut off).
    Reader,
    Files(FilesError),
}
