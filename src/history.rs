//! A conversation as it stood at a moment: its events and its booking's, read from the log and
//! folded by the same pure folds as the live views, into a scratch store in memory. Route 15 and
//! `concierge replay` answer from it.

use crate::log::{EventLog, LogError};
use concierge_events::{subject, Envelope, Event, Timestamp};
use concierge_projections::views::{ConversationView, MessageView};
use concierge_projections::{apply, MemKv, StoreError, Views};

/// Why a conversation's history could not be made.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// The log could not be read: the answer is 503 `unavailable`, worth retrying later.
    #[error(transparent)]
    Log(#[from] LogError),
    /// The scratch views in memory did not fold or read back (a value the fold itself wrote did not
    /// decode): 500 `internal`, a fault of this build, not of the request.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The moment to look at: a log sequence, or a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    /// Every event with `seq` at or below this one.
    Seq(u64),
    /// The log up to its first event stamped after this time (a prefix of the log, so the answer
    /// is a state the views really passed through, even when nodes' clocks disagree a little).
    Time(Timestamp),
}

impl Moment {
    /// Reads `at`: all digits is a sequence (at most 19 digits after leading zeros, the OpenAPI
    /// document's `^0*[0-9]{1,19}$`), anything else an RFC 3339 time.
    pub fn parse(at: &str) -> Option<Moment> {
        if !at.is_empty() && at.bytes().all(|b| b.is_ascii_digit()) {
            if at.trim_start_matches('0').len() > 19 {
                return None;
            }
            return at.parse().ok().map(Moment::Seq);
        }
        Timestamp::parse(at).map(Moment::Time)
    }
}

/// The folded state of one conversation at a moment.
pub struct History {
    pub conversation: ConversationView,
    /// Every message as it was then, oldest first.
    pub messages: Vec<MessageView>,
    /// The `seq` of the last event of this conversation that was folded.
    pub as_of_seq: u64,
    /// A time at which the answer held: `at` itself for a time; for a seq, the time of the last
    /// event folded (the earliest the state held; it lasted until the next event), or the time of
    /// reading when the seq was at or past the log's end. What was true of the users then (their
    /// `lastSeen`) is checked against it.
    pub held_at: Timestamp,
}

/// Folds the conversation's events (and its booking's, which set its title) up to `moment`.
/// `None` when the conversation did not exist yet at that moment.
///
/// # Errors
/// [`HistoryError::Log`] when the log cannot be read, [`HistoryError::Store`] as [`fold`].
pub async fn at(
    log: &EventLog,
    conversation_id: &str,
    moment: Moment,
) -> Result<Option<History>, HistoryError> {
    let upto = match moment {
        Moment::Seq(seq) => seq,
        Moment::Time(_) => u64::MAX,
    };
    // A seq at or past the log's end (read before the events) is the present: the state still holds.
    let present = match moment {
        Moment::Seq(seq) => {
            let now = Timestamp::now();
            (seq >= log.last_seq().await?).then_some(now)
        }
        Moment::Time(_) => None,
    };
    let own = log
        .read_events(&subject::conversation(conversation_id), 0, upto)
        .await?;
    let booking_id = own.iter().find_map(|(_, env)| match &env.event {
        Event::ConversationCreated(c) => Some(c.booking_id.clone()),
        _ => None,
    });
    let booking = match booking_id {
        Some(b) => log.read_events(&subject::booking(&b), 0, upto).await?,
        None => Vec::new(),
    };
    let mut events: Vec<(u64, bool, Envelope)> = own
        .into_iter()
        .map(|(seq, env)| (seq, true, env))
        .chain(booking.into_iter().map(|(seq, env)| (seq, false, env)))
        .collect();
    events.sort_by_key(|(seq, _, _)| *seq);
    let mut history = fold(conversation_id, events, moment)?;
    if let (Some(h), Some(now)) = (history.as_mut(), present) {
        h.held_at = h.held_at.max(now);
    }
    Ok(history)
}

/// The pure part of [`at`]: folds `events` (in log order; `true` marks the conversation's own)
/// until `moment`.
///
/// # Errors
/// When a view in the scratch store does not decode. Reads of memory cannot fail otherwise, and the
/// fold wrote every value itself, so this is a fault of the build, never of the log.
pub fn fold(
    conversation_id: &str,
    events: impl IntoIterator<Item = (u64, bool, Envelope)>,
    moment: Moment,
) -> Result<Option<History>, StoreError> {
    let mut views = Views::new(MemKv::default());
    let mut as_of_seq = 0;
    let mut last_at = None;
    for (seq, own, env) in events {
        let past = match moment {
            Moment::Seq(upto) => seq > upto,
            Moment::Time(t) => env.at > t,
        };
        if past {
            break;
        }
        apply(&mut views, seq, &env)?;
        if own {
            as_of_seq = seq;
        }
        last_at = Some(env.at);
    }
    let Some(conversation) = views.conversation(conversation_id)? else {
        return Ok(None);
    };
    let messages = views.messages(conversation_id, 0, u64::MAX, false, usize::MAX)?;
    let held_at = match moment {
        Moment::Time(t) => t,
        Moment::Seq(_) => last_at.unwrap_or(conversation.created_at),
    };
    Ok(Some(History {
        conversation,
        messages,
        as_of_seq,
        held_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_moment_is_a_sequence_or_a_time() {
        assert_eq!(Moment::parse("42"), Some(Moment::Seq(42)));
        assert_eq!(Moment::parse("0"), Some(Moment::Seq(0)));
        assert_eq!(
            Moment::parse("2026-11-24T10:15:00.123Z"),
            Some(Moment::Time(
                Timestamp::parse("2026-11-24T10:15:00.123Z").unwrap()
            ))
        );
        assert_eq!(Moment::parse(""), None);
        assert_eq!(Moment::parse("-1"), None);
        assert_eq!(Moment::parse("99999999999999999999999"), None);
        assert_eq!(Moment::parse("yesterday"), None);
    }
}
