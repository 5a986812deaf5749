//! File attachments: what a file is, decided from its bytes, and what may be shown of it.

pub mod media;
