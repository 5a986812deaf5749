//! The one error of the view store: a read or write of the views that failed. A view that is absent
//! is `Ok(None)`, never an error; an error is never an absent view, so a disk fault cannot pass for a
//! missing conversation (a 404) or a skipped event.

/// Why the views could not be read or written. Both variants are faults of this node's disk or
/// store, never a client's: callers answer them as internal errors (500 `internal`) and log them with
/// their source; a client may retry later (another node, or this one once the fault is repaired).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// sled could not read or write: an I/O fault of the local disk, or sled's own integrity checks.
    #[error("view store: {0}")]
    Sled(#[from] sled::Error),
    /// A stored value is not what its key holds: it does not decode as that view, or its packing
    /// (record, counter, checkpoint) is broken. `key` is printable (non-ASCII bytes escaped).
    #[error("view store: the value at {key} is corrupt: {source}")]
    Corrupt { key: String, source: Corruption },
}

/// What is wrong with a corrupt value.
#[derive(Debug, thiserror::Error)]
pub enum Corruption {
    /// It does not decode (postcard) as the view its key holds.
    #[error(transparent)]
    Decode(#[from] postcard::Error),
    /// Its packing is broken; the text says which part.
    #[error("{0}")]
    Layout(&'static str),
}

impl StoreError {
    /// A corrupt value at `key`. Only built on the error path, so naming the key may allocate.
    #[cold]
    pub fn corrupt(key: &[u8], source: impl Into<Corruption>) -> StoreError {
        StoreError::Corrupt {
            key: key.escape_ascii().to_string(),
            source: source.into(),
        }
    }
}

impl From<&'static str> for Corruption {
    fn from(what: &'static str) -> Corruption {
        Corruption::Layout(what)
    }
}
