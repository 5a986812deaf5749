//! An upload's bytes on their way into the object store: counted against the limit, checked as text
//! when they claim to be text, and with what the derived facts need kept aside (an image whole, for
//! its thumbnail; an audio file's first and last bytes, for its duration). Everything else passes
//! through chunk by chunk, so a file is never held whole unless it is an image.

use super::media::{Format, TextCheck, HEAD_BYTES, TAIL_BYTES};
use bytes::Bytes;
use futures::Stream;
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Why an intake stopped the write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// More than the limit arrived.
    TooLarge,
    /// A text file that is not valid UTF-8 text.
    NotText,
    /// The body could not be read (malformed multipart, or the client went away).
    Body(String),
}

/// Wraps the part's remaining chunks, after the `head` already read to tell the format.
pub struct Intake<S> {
    pending: Bytes,
    rest: S,
    ended: bool,
    limit: u64,
    pub total: u64,
    text: Option<TextCheck>,
    /// The whole file, for an image.
    pub whole: Option<Vec<u8>>,
    /// The first bytes, for an audio file.
    pub head: Vec<u8>,
    /// The last bytes, for an audio file.
    pub tail: VecDeque<u8>,
    audio: bool,
    pub refusal: Option<Refusal>,
}

impl<S, E> Intake<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    pub fn new(format: Format, head: Bytes, rest: S, limit: u64) -> Intake<S> {
        let mut intake = Intake {
            pending: Bytes::new(),
            rest,
            ended: false,
            limit,
            total: 0,
            text: (format == Format::Text).then(TextCheck::default),
            whole: format.is_image().then(Vec::new),
            head: Vec::new(),
            tail: VecDeque::new(),
            audio: format.is_audio(),
            refusal: None,
        };
        if let Err(r) = intake.inspect(&head) {
            intake.refusal = Some(r);
        }
        intake.pending = head;
        intake
    }

    /// The last bytes kept, in order.
    pub fn tail_bytes(&self) -> Vec<u8> {
        self.tail.iter().copied().collect()
    }

    fn inspect(&mut self, chunk: &[u8]) -> Result<(), Refusal> {
        self.total += chunk.len() as u64;
        if self.total > self.limit {
            return Err(Refusal::TooLarge);
        }
        if let Some(text) = &mut self.text {
            if !text.feed(chunk) {
                return Err(Refusal::NotText);
            }
        }
        if let Some(whole) = &mut self.whole {
            whole.extend_from_slice(chunk);
        }
        if self.audio {
            let room = HEAD_BYTES.saturating_sub(self.head.len());
            self.head.extend_from_slice(&chunk[..room.min(chunk.len())]);
            self.tail.extend(chunk.iter().copied());
            let over = self.tail.len().saturating_sub(TAIL_BYTES);
            self.tail.drain(..over);
        }
        Ok(())
    }

    fn refuse(&mut self, r: Refusal) -> std::io::Error {
        let e = std::io::Error::other(format!("{r:?}"));
        self.refusal = Some(r);
        e
    }
}

impl<S, E> tokio::io::AsyncRead for Intake<S>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if let Some(r) = this.refusal.clone() {
            return Poll::Ready(Err(std::io::Error::other(format!("{r:?}"))));
        }
        loop {
            if !this.pending.is_empty() {
                let n = this.pending.len().min(buf.remaining());
                buf.put_slice(&this.pending.split_to(n));
                return Poll::Ready(Ok(()));
            }
            if this.ended {
                return Poll::Ready(Ok(()));
            }
            match Pin::new(&mut this.rest).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => {
                    this.ended = true;
                    if let Some(text) = this.text.take() {
                        if !text.finish() {
                            return Poll::Ready(Err(this.refuse(Refusal::NotText)));
                        }
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    return Poll::Ready(Err(this.refuse(Refusal::Body(e.to_string()))));
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    if let Err(r) = this.inspect(&chunk) {
                        return Poll::Ready(Err(this.refuse(r)));
                    }
                    this.pending = chunk;
                }
            }
        }
    }
}
