//! Fan-out from the log: which sockets each folded event goes to, and as what frame. The same plan
//! serves live delivery (every node pushes to its own sockets) and `resume` (filtered to one socket),
//! so a replay shows exactly what the live stream would have.

use crate::ws::frame;
use super::registry::{Outbound, Registry, Socket, Target};
use crate::render;
use crate::realtime::presence::Presence;
use axum::extract::ws::Utf8Bytes;
use concierge_events::{Envelope, Event};
use concierge_projections::kv::KvRead;
use concierge_projections::views::{ConversationView, MessageView};
use concierge_projections::Views;
use serde::Serialize;
use serde_json::json;
use std::collections::HashMap;

/// `{conversationId, message, clientMessageId?}` of the message events.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MessagePayload<'a> {
    conversation_id: &'a str,
    message: &'a MessageView,
    /// Only `message_sent` carries it (`null` when the sender gave none).
    #[serde(skip_serializing_if = "Option::is_none")]
    client_message_id: Option<&'a Option<String>>,
}

#[derive(Serialize)]
struct ConversationPayload {
    conversation: render::ConversationOut,
}

/// What a delivery carries.
pub enum Payload {
    /// One frame, the same bytes for every socket.
    Frame(Utf8Bytes),
    /// `conversation_updated`, written per receiving user (their own `unreadCount`).
    ConversationUpdated(Box<ConversationView>),
}

/// One frame for every socket that `targets` reach, except those of `except`.
pub struct Delivery {
    pub targets: Vec<Target>,
    pub except: Option<String>,
    pub payload: Payload,
}

fn participants(conv: &ConversationView) -> impl Iterator<Item = Target> + '_ {
    conv.participants
        .iter()
        .map(|p| Target::User(p.user_id.clone()))
}

/// The deliveries of one folded event, from the views as they are now.
pub fn plan<K: KvRead>(seq: u64, env: &Envelope, views: &Views<K>) -> Vec<Delivery> {
    let conv = env
        .conversation_id
        .as_deref()
        .and_then(|id| views.conversation(id));
    let updated = |conv: &ConversationView| Delivery {
        targets: participants(conv).chain([Target::Admins]).collect(),
        except: None,
        payload: Payload::ConversationUpdated(Box::new(conv.clone())),
    };
    let room_and_users = |conv: &ConversationView, admins: bool| -> Vec<Target> {
        let mut t: Vec<Target> = vec![Target::Conversation(conv.id.clone())];
        t.extend(participants(conv));
        if admins {
            t.push(Target::Admins);
        }
        t
    };
    match (&env.event, conv) {
        (Event::MessageSent(m), Some(conv)) => {
            let Some(message) = views.message_in(&conv, seq) else {
                return Vec::new();
            };
            vec![
                Delivery {
                    targets: vec![Target::User(env.actor.id.clone())],
                    except: None,
                    payload: Payload::Frame(frame::event(
                        "message_sent",
                        Some(seq),
                        MessagePayload {
                            conversation_id: &conv.id,
                            message: &message,
                            client_message_id: Some(&m.client_message_id),
                        },
                    )),
                },
                Delivery {
                    targets: room_and_users(&conv, true),
                    except: Some(env.actor.id.clone()),
                    payload: Payload::Frame(frame::event(
                        "new_message",
                        Some(seq),
                        MessagePayload {
                            conversation_id: &conv.id,
                            message: &message,
                            client_message_id: None,
                        },
                    )),
                },
                updated(&conv),
            ]
        }
        (Event::MessageEdited(e), Some(conv)) => {
            message_changed("message_edited", seq, &e.message_id, conv, views)
        }
        (Event::MessageDeleted(d), Some(conv)) => {
            message_changed("message_deleted", seq, &d.message_id, conv, views)
        }
        (Event::ReactionAdded(r) | Event::ReactionRemoved(r), Some(conv)) => vec![Delivery {
            targets: vec![Target::Conversation(conv.id.clone())],
            except: None,
            payload: Payload::Frame(frame::event(
                env.event.event_type(),
                Some(seq),
                json!({ "conversationId": conv.id, "messageId": r.message_id, "user": env.actor.id, "emoji": r.emoji }),
            )),
        }],
        (Event::MessagesRead(r), Some(conv)) => {
            let read_at = conv.read_points.get(&env.actor.id).map_or(env.at, |p| p.at);
            vec![
                Delivery {
                    targets: room_and_users(&conv, false),
                    except: None,
                    payload: Payload::Frame(frame::event(
                        "messages_read",
                        Some(seq),
                        json!({ "conversationId": conv.id, "userId": env.actor.id, "readAt": read_at, "upToSeq": r.up_to_seq }),
                    )),
                },
                updated(&conv),
            ]
        }
        (
            Event::ConversationCreated(_)
            | Event::ParticipantJoined(_)
            | Event::ConversationStatusChanged(_),
            Some(conv),
        ) => vec![updated(&conv)],
        (Event::AdminBroadcast(b), _) => {
            let targets = match b.audience {
                concierge_events::Audience::All => vec![Target::Everyone],
                concierge_events::Audience::Customers => vec![Target::Customers],
                concierge_events::Audience::Admins => vec![Target::Admins],
            };
            vec![Delivery {
                targets,
                except: None,
                payload: Payload::Frame(frame::event(
                    "admin_broadcast",
                    Some(seq),
                    json!({ "id": env.id, "content": b.content, "from": env.actor.id, "audience": b.audience, "at": env.at }),
                )),
            }]
        }
        _ => Vec::new(),
    }
}

fn message_changed<K: KvRead>(
    name: &str,
    seq: u64,
    message_id: &str,
    conv: ConversationView,
    views: &Views<K>,
) -> Vec<Delivery> {
    let Some(message) = views
        .locate(message_id)
        .filter(|(c, _)| *c == conv.id)
        .and_then(|(_, seq)| views.message_in(&conv, seq))
    else {
        return Vec::new();
    };
    let mut targets = vec![Target::Conversation(conv.id.clone()), Target::Admins];
    targets.extend(participants(&conv));
    vec![
        Delivery {
            targets,
            except: None,
            payload: Payload::Frame(frame::event(
                name,
                Some(seq),
                MessagePayload {
                    conversation_id: &conv.id,
                    message: &message,
                    client_message_id: None,
                },
            )),
        },
        Delivery {
            targets: participants(&conv).chain([Target::Admins]).collect(),
            except: None,
            payload: Payload::ConversationUpdated(Box::new(conv)),
        },
    ]
}

/// `conversation_updated` as `viewer` sees it.
pub fn conversation_updated(
    seq: u64,
    conv: &ConversationView,
    viewer: &str,
    presence: &Presence,
) -> Utf8Bytes {
    frame::event(
        "conversation_updated",
        Some(seq),
        ConversationPayload {
            conversation: render::conversation(conv, viewer, presence),
        },
    )
}

/// Whether a delivery reaches this socket (for `resume`).
pub fn reaches(d: &Delivery, socket: &Socket) -> bool {
    d.except.as_deref() != Some(socket.user_id.as_str())
        && d.targets.iter().any(|t| t.matches(socket))
}

/// Pushes the deliveries of one event to this node's sockets.
pub fn deliver(registry: &Registry, presence: &Presence, seq: u64, deliveries: Vec<Delivery>) {
    for d in deliveries {
        match d.payload {
            Payload::Frame(text) => {
                registry.send_to(&d.targets, d.except.as_deref(), Some(seq), &text)
            }
            Payload::ConversationUpdated(conv) => {
                let sockets = registry.resolve(&d.targets, d.except.as_deref());
                let mut per_user: HashMap<String, Utf8Bytes> = HashMap::new();
                for s in sockets {
                    let text = per_user
                        .entry(s.user_id.clone())
                        .or_insert_with(|| conversation_updated(seq, &conv, &s.user_id, presence))
                        .clone();
                    registry.push(
                        &s,
                        Outbound {
                            seq: Some(seq),
                            text,
                        },
                    );
                }
            }
        }
    }
}

/// Runs live fan-out: every batch the projection folded, in log order.
pub async fn run(
    app: crate::state::AppState,
    mut folded: tokio::sync::mpsc::Receiver<Vec<(u64, Envelope)>>,
) {
    while let Some(batch) = folded.recv().await {
        // Nobody to reach on this node (a node catching up before any socket, a node without
        // sockets): planning would read a message view per event for nothing.
        if app.gateway.registry.connections() == 0 {
            continue;
        }
        let views = app.views.views();
        for (seq, env) in batch {
            let deliveries = plan(seq, &env, &views);
            deliver(
                &app.gateway.registry,
                &app.gateway.presence,
                seq,
                deliveries,
            );
        }
    }
}
