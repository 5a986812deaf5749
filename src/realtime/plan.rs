//! Delivery plans: which sockets each folded event goes to, and as what typed event. The same plan
//! serves live delivery (every node pushes to its own sockets) and `resume` (filtered to one socket),
//! so a replay shows exactly what the live stream would have.

use super::event::{
    BroadcastData, ConversationData, Data, MessageData, ReactionData, ReadData, ServerEvent,
};
use super::presence::Presence;
use super::registry::{Registry, Socket, Target};
use crate::attachments::sign::UrlSigner;
use crate::render;
use concierge_events::{Audience, Envelope, Event};
use concierge_projections::kv::KvRead;
use concierge_projections::views::{ConversationView, MessageView};
use concierge_projections::{StoreError, Views};
use std::collections::HashMap;
use std::sync::Arc;

/// What a delivery carries.
pub enum Payload {
    /// One event, the same for every socket.
    Shared(Arc<ServerEvent>),
    /// `conversation_updated`, which each receiving user sees with their own `unreadCount`.
    PerViewer(Box<ConversationView>),
}

/// One event for every socket that `targets` reach, except those of `except`.
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

fn shared(name: &'static str, seq: u64, data: Data) -> Payload {
    Payload::Shared(Arc::new(ServerEvent::new(name, Some(seq), data)))
}

fn message(
    name: &'static str,
    seq: u64,
    conv: &ConversationView,
    m: MessageView,
    signer: &UrlSigner,
) -> Payload {
    shared(
        name,
        seq,
        Data::Message(MessageData {
            conversation_id: conv.id.clone(),
            message: signer.message(m),
            client_message_id: None,
        }),
    )
}

fn updated(conv: &ConversationView) -> Delivery {
    Delivery {
        targets: participants(conv).chain([Target::Admins]).collect(),
        except: None,
        payload: Payload::PerViewer(Box::new(conv.clone())),
    }
}

fn room_and_users(conv: &ConversationView, admins: bool) -> Vec<Target> {
    let mut t: Vec<Target> = vec![Target::Conversation(conv.id.clone())];
    t.extend(participants(conv));
    if admins {
        t.push(Target::Admins);
    }
    t
}

/// The deliveries of one folded event, from the views as they are now.
///
/// # Errors
/// When the views cannot be read: who the event reaches, and with what, is then unknown, so live
/// fan-out logs it and skips the event's deliveries, and `resume` refuses with `internal`.
pub fn plan<K: KvRead>(
    seq: u64,
    env: &Envelope,
    views: &Views<K>,
    signer: &UrlSigner,
) -> Result<Vec<Delivery>, StoreError> {
    let conv = match env.conversation_id.as_deref() {
        Some(id) => views.conversation(id)?,
        None => None,
    };
    Ok(match (&env.event, conv) {
        (Event::MessageSent(m), Some(conv)) => {
            let Some(sent) = views.message_in(&conv, seq)? else {
                return Ok(Vec::new());
            };
            let sent = signer.message(sent);
            let own = shared(
                "message_sent",
                seq,
                Data::Message(MessageData {
                    conversation_id: conv.id.clone(),
                    message: sent.clone(),
                    client_message_id: Some(m.client_message_id.clone()),
                }),
            );
            vec![
                Delivery {
                    targets: vec![Target::User(env.actor.id.clone())],
                    except: None,
                    payload: own,
                },
                Delivery {
                    targets: room_and_users(&conv, true),
                    except: Some(env.actor.id.clone()),
                    payload: shared(
                        "new_message",
                        seq,
                        Data::Message(MessageData {
                            conversation_id: conv.id.clone(),
                            message: sent,
                            client_message_id: None,
                        }),
                    ),
                },
                updated(&conv),
            ]
        }
        (Event::MessageEdited(e), Some(conv)) => {
            message_changed("message_edited", seq, &e.message_id, conv, views, signer)?
        }
        (Event::MessageDeleted(d), Some(conv)) => {
            message_changed("message_deleted", seq, &d.message_id, conv, views, signer)?
        }
        (Event::ReactionAdded(r) | Event::ReactionRemoved(r), Some(conv)) => vec![Delivery {
            targets: vec![Target::Conversation(conv.id.clone())],
            except: None,
            payload: shared(
                env.event.event_type(),
                seq,
                Data::Reaction(ReactionData {
                    conversation_id: conv.id.clone(),
                    message_id: r.message_id.clone(),
                    user: env.actor.id.clone(),
                    emoji: r.emoji.clone(),
                }),
            ),
        }],
        (Event::MessagesRead(r), Some(conv)) => {
            // The time of this read, not the reader's latest: a resume replays it long after.
            let read_at = env.at;
            vec![
                Delivery {
                    targets: room_and_users(&conv, false),
                    except: None,
                    payload: shared(
                        "messages_read",
                        seq,
                        Data::Read(ReadData {
                            conversation_id: conv.id.clone(),
                            user_id: env.actor.id.clone(),
                            read_at,
                            up_to_seq: r.up_to_seq,
                        }),
                    ),
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
                Audience::All => vec![Target::Everyone],
                Audience::Customers => vec![Target::Customers],
                Audience::Admins => vec![Target::Admins],
            };
            vec![Delivery {
                targets,
                except: None,
                payload: shared(
                    "admin_broadcast",
                    seq,
                    Data::Broadcast(BroadcastData {
                        id: env.id.clone(),
                        content: b.content.clone(),
                        from: env.actor.id.clone(),
                        audience: b.audience,
                        at: env.at,
                    }),
                ),
            }]
        }
        _ => Vec::new(),
    })
}

fn message_changed<K: KvRead>(
    name: &'static str,
    seq: u64,
    message_id: &str,
    conv: ConversationView,
    views: &Views<K>,
    signer: &UrlSigner,
) -> Result<Vec<Delivery>, StoreError> {
    let changed = match views.locate(message_id)? {
        Some((c, seq)) if c == conv.id => views.message_in(&conv, seq)?,
        _ => None,
    };
    let Some(changed) = changed else {
        return Ok(Vec::new());
    };
    let mut targets = vec![Target::Conversation(conv.id.clone()), Target::Admins];
    targets.extend(participants(&conv));
    Ok(vec![
        Delivery {
            targets,
            except: None,
            payload: message(name, seq, &conv, changed, signer),
        },
        updated(&conv),
    ])
}

/// `conversation_updated` as `viewer` sees it.
pub fn conversation_updated(
    seq: u64,
    conv: &ConversationView,
    viewer: &str,
    presence: &Presence,
) -> Arc<ServerEvent> {
    Arc::new(ServerEvent::new(
        "conversation_updated",
        Some(seq),
        Data::Conversation(ConversationData {
            conversation: render::conversation(conv, viewer, presence),
        }),
    ))
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
            Payload::Shared(event) => registry.send_to(&d.targets, d.except.as_deref(), &event),
            Payload::PerViewer(conv) => {
                let sockets = registry.resolve(&d.targets, d.except.as_deref());
                let mut per_user: HashMap<String, Arc<ServerEvent>> = HashMap::new();
                for s in sockets {
                    let event = per_user
                        .entry(s.user_id.clone())
                        .or_insert_with(|| conversation_updated(seq, &conv, &s.user_id, presence))
                        .clone();
                    registry.push(&s, event);
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
        if app.realtime.registry.connections() == 0 {
            continue;
        }
        let views = app.views.views();
        for (seq, env) in batch {
            match plan(seq, &env, &views, &app.attachments.signer) {
                Ok(deliveries) => deliver(
                    &app.realtime.registry,
                    &app.realtime.presence,
                    seq,
                    deliveries,
                ),
                // The event is folded; only its live push is lost. Clients that resume from an
                // earlier seq get it once the views read again.
                Err(e) => tracing::error!(
                    seq,
                    error = %e,
                    "cannot read the views to plan deliveries; skipping this event's"
                ),
            }
        }
    }
}
