//! Pure folds from Concierge events to the views the API serves, and the sled store that keeps those
//! views and the fold checkpoint together.
//!
//! # Layout
//! - [`fold`]: `apply(views, seq, event)`, the only code that changes a view. Bookings, conversations
//!   (participants, unread counts, read points, last message), messages (read receipts, reactions,
//!   edits, soft deletes) and stats are all folded here; no I/O.
//! - [`views`]: the view records, shaped as the API shows them.
//! - [`typed`]: typed reads and writes of the views over any key-value store.
//! - [`chunk`]: the packed values that hold many messages (or message ids) under one key.
//! - [`error`]: [`StoreError`], the one error of a read or write of the views: a disk fault or a
//!   corrupt value, never taken for an absent view.
//! - [`kv`]: the key-value surface and key layout; [`kv::MemKv`] keeps views in memory (tests, history).
//! - [`store`]: [`store::ViewStore`], which commits each folded batch with its checkpoint to memory
//!   and persists them to sled together, atomically, behind.

pub mod chunk;
pub mod error;
pub mod fold;
pub mod inbox;
pub mod kv;
pub mod seal;
pub mod store;
pub mod typed;
pub mod views;

pub use error::{Corruption, StoreError};
pub use fold::{apply, Outcome};
pub use kv::MemKv;
pub use seal::Cipher;
pub use store::{Live, LogEntry, ViewStore};
pub use typed::Views;
