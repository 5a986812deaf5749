//! The snooze waker: every node writes `conversation_woken` for the snoozed conversations of its
//! views whose `until` has come, once those views have caught up with the log.
//!
//! Derived from the views, so it survives restarts, and a node that was down at `until` wakes the
//! conversation when it is back; racing nodes write one event, as its id is derived from the
//! conversation and `until` and is its `Nats-Msg-Id` (docs/inbox.md, "Snooze").

use crate::command::{self, CommandError};
use crate::state::AppState;
use concierge_events::{
    subject, Actor, ConversationWoken, Envelope, Event, Role, Status, Timestamp,
};
use std::collections::HashSet;
use std::time::Duration;
use tokio::sync::watch;

/// How often the views are looked at for snoozes that are due.
const TICK: Duration = Duration::from_millis(500);
/// The longest pause after failed wake-ups (NATS down, a rolling upgrade), doubling up to it.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The actor of every wake-up.
pub fn actor() -> Actor {
    Actor {
        id: "concierge".to_string(),
        role: Role::Service,
        name: None,
    }
}

/// The id of the wake-up of `conversation_id`'s snooze until `until`: a ULID whose time is `until`
/// and whose random part is the start of SHA-256 of `wake:<conversationId>:<until ms>`, so every
/// node derives the same one.
pub fn wake_id(conversation_id: &str, until: Timestamp) -> String {
    let key = format!("wake:{conversation_id}:{}", until.millis());
    crate::log::derived_ulid(until.millis(), &key).to_string()
}

/// The wake-up of `conversation_id`'s snooze until `until`, stamped `at`.
pub fn wake_up(conversation_id: &str, until: Timestamp, at: Timestamp) -> Envelope {
    Envelope::new(
        wake_id(conversation_id, until),
        at,
        actor(),
        Some(conversation_id.to_string()),
        Event::ConversationWoken(ConversationWoken { until }),
    )
}

/// Wakes what is due every [`TICK`] (at once at start) until `shutdown`; after a failure, waits
/// longer each time, up to [`MAX_BACKOFF`].
pub async fn run(app: AppState, mut shutdown: watch::Receiver<bool>) {
    let mut written = HashSet::new();
    let mut failures: u32 = 0;
    loop {
        match wake_due(&app, &mut written).await {
            Ok(()) => failures = 0,
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::warn!(error = %e, failures, "cannot write a snooze's wake-up; retrying later");
            }
        }
        let pause = TICK.saturating_mul(1 << failures.min(5)).min(MAX_BACKOFF);
        tokio::select! {
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Writes the wake-up of every snooze due now, when the views have caught up with the log (else
/// they may still list a conversation another node or a customer already woke). `written` keeps
/// the wake-ups this node wrote while they are still listed, so that none is written twice.
///
/// # Errors
/// When the views cannot be read or the log does not take a wake-up; the rest wait for the next
/// turn.
async fn wake_due(
    app: &AppState,
    written: &mut HashSet<(String, Timestamp)>,
) -> Result<(), CommandError> {
    if !app.progress.is_ready() || app.progress.blocked().is_some() || !app.log.is_connected() {
        return Ok(());
    }
    let views = app.views.views();
    let due = views.snoozes_due(Timestamp::now())?;
    written.retain(|w| due.contains(w));
    for (id, until) in due {
        if written.contains(&(id.clone(), until)) {
            continue;
        }
        // The index and the conversation are folded together; read the conversation anyway, so
        // that nothing is written for a wake-up the fold would skip.
        let snoozed = views
            .conversation(&id)?
            .is_some_and(|c| c.status == Status::Snoozed && c.snoozed_until == Some(until));
        if !snoozed {
            continue;
        }
        let env = wake_up(&id, until, Timestamp::now());
        let ack = command::write(app, subject::conversation(&id), &env, &env.id).await?;
        tracing::info!(conversation = %id, until = %until, seq = ack.seq, duplicate = ack.duplicate, "snooze ended");
        written.insert((id, until));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ulid::Ulid;

    #[test]
    fn a_wake_up_id_is_a_ulid_at_until_and_the_same_on_every_node() {
        let until = Timestamp(1_796_000_000_123);
        let id = wake_id("01JDQ7X0S9G1W7V8M2K3Z4Y5AB", until);
        let ulid: Ulid = id.parse().expect("a ULID");
        assert_eq!(ulid.timestamp_ms(), 1_796_000_000_123);
        // Every build must derive the same id (a rolling upgrade mixes them): pinned.
        assert_eq!(id, "01M8MZ2A3VC0QRDHMRMJ2M5J6V");
        assert_eq!(id, wake_id("01JDQ7X0S9G1W7V8M2K3Z4Y5AB", until));
        assert_ne!(id, wake_id("01JDQ7X0S9G1W7V8M2K3Z4Y5AC", until));
        assert_ne!(
            id,
            wake_id("01JDQ7X0S9G1W7V8M2K3Z4Y5AB", Timestamp(until.0 + 1))
        );
    }

    #[test]
    fn a_wake_up_is_the_service_s_conversation_woken() {
        let env = wake_up("c1", Timestamp(5), Timestamp(9));
        assert_eq!(env.id, wake_id("c1", Timestamp(5)));
        assert_eq!(env.conversation_id.as_deref(), Some("c1"));
        assert_eq!(env.at, Timestamp(9));
        assert_eq!(env.actor, actor());
        assert_eq!(
            env.event,
            Event::ConversationWoken(ConversationWoken {
                until: Timestamp(5)
            })
        );
    }
}
