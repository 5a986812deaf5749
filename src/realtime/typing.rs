//! Typing indicators through the typing stream: a `typing_started`/`typing_stopped` event on
//! `concierge.typing.<conversationId>` reaches every node, which tells the conversation room on its
//! own sockets (the typist's excepted). An indicator not refreshed within [`EXPIRY`] ends with
//! `isTyping: false`.

use super::event::{Data, ServerEvent, TypingData};
use super::registry::Target;
use crate::state::AppState;
use concierge_events::{Envelope, Event};
use futures::StreamExt;
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

pub const EXPIRY: Duration = Duration::from_secs(5);

fn tell(app: &AppState, conversation_id: &str, user_id: &str, is_typing: bool) {
    let event = ServerEvent::new(
        "user_typing",
        None,
        Data::Typing(TypingData {
            conversation_id: conversation_id.to_string(),
            user_id: user_id.to_string(),
            is_typing,
        }),
    );
    let room = [Target::Conversation(conversation_id.to_string())];
    app.realtime
        .registry
        .send_to(&room, Some(user_id), &std::sync::Arc::new(event));
}

/// Relays typing events to this node's sockets until shutdown.
pub async fn run(app: AppState, mut shutdown: watch::Receiver<bool>) {
    let client = app.log.client();
    let Some(mut subscription) =
        super::subscribe(&client, "concierge.typing.*", &mut shutdown).await
    else {
        return;
    };
    let mut typing: HashMap<(String, String), Instant> = HashMap::new();
    let mut sweep = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            msg = subscription.next() => {
                let Some(msg) = msg else { return };
                let Ok(Some(env)) = Envelope::decode(&msg.payload) else { continue };
                let Some(conv) = env.conversation_id.clone() else { continue };
                let key = (conv.clone(), env.actor.id.clone());
                let is_typing = matches!(env.event, Event::TypingStarted(_));
                let changed = match env.event {
                    Event::TypingStarted(_) => typing.insert(key, Instant::now() + EXPIRY).is_none(),
                    Event::TypingStopped(_) => typing.remove(&key).is_some(),
                    _ => false,
                };
                if changed {
                    tell(&app, &conv, &env.actor.id, is_typing);
                }
            }
            _ = sweep.tick() => {
                let now = Instant::now();
                let expired: Vec<_> = typing.iter().filter(|(_, t)| **t <= now).map(|(k, _)| k.clone()).collect();
                for key in expired {
                    typing.remove(&key);
                    tell(&app, &key.0, &key.1, false);
                }
            }
            _ = shutdown.changed() => return,
        }
    }
}
