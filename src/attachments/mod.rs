//! Attachments: uploads kept in JetStream's object store beside the event log.
//!
//! # Layout
//! - [`media`]: what a file is, from its bytes (pure): type, safe name, image size and thumbnail,
//!   audio duration.
//! - [`intake`]: an upload's bytes on their way into the store, counted and inspected.
//! - [`files`]: the object store bucket (the only I/O here).
//! - [`sign`]: the signed URLs the views hand out.
//! - [`sweep`]: removing the files of deleted messages, orphaned uploads and cut-off chunks.

pub mod files;
pub mod intake;
pub mod media;
pub mod sign;
pub mod sweep;

/// Everything a node needs for attachments, built once in `AppState`.
pub struct Attachments {
    pub files: files::Files,
    pub signer: sign::UrlSigner,
    /// Images decoded at once: each holds its pixels while its thumbnail is made.
    pub decode: tokio::sync::Semaphore,
    /// Chunk subjects no object refers to, with when the sweeper first saw each.
    pub unreferenced: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
}

/// Images decoded at once, whatever the number of uploads in flight.
pub const DECODES_AT_ONCE: usize = 2;
