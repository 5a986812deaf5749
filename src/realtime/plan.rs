//! Delivery plans: which sockets each folded event goes to, and as what typed event. The same plan
//! serves live delivery (every node pushes to its own sockets) and `resume` (filtered to one socket),
//! so a replay shows exactly what the live stream would have.
//!
//! Notes (`internal: true`) go to admin sockets only, by [`Target::Admins`] and
//! [`Target::AdminUser`], never to a conversation room or a participant: a customer is both. Every
//! arm checks what it sends against the views, so that an event the fold skipped (which `resume`
//! replays too) cannot carry a note to anyone else.

use super::event::{
    AssignedData, BroadcastData, ConversationData, Data, MentionedData, MessageData, ReactionData,
    ReadData, ServerEvent,
};
use super::presence::Presence;
use super::registry::{Registry, Socket, Target};
use crate::attachments::sign::UrlSigner;
use crate::render;
use concierge_events::{Audience, Envelope, Event, Role};
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

/// `conversation_updated` after a change of what only admins see (assignee, labels, priority).
fn admins_updated(conv: &ConversationView) -> Delivery {
    Delivery {
        targets: vec![Target::Admins],
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
        (Event::ReactionAdded(r) | Event::ReactionRemoved(r), Some(conv))
            if !is_note(&r.message_id, &conv, views)? =>
        {
            vec![Delivery {
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
            }]
        }
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
            | Event::ConversationStatusChanged(_)
            | Event::ConversationSnoozed(_)
            | Event::ConversationWoken(_)
            | Event::ConversationRated(_),
            Some(conv),
        ) => vec![updated(&conv)],
        // Fields only admins see: a customer's Conversation did not change.
        (Event::ConversationLabeled(_) | Event::ConversationPrioritized(_), Some(conv)) => {
            vec![admins_updated(&conv)]
        }
        (Event::NoteAdded(n), Some(conv)) => {
            let Some(note) = views.message_in(&conv, seq)?.filter(|m| m.internal) else {
                return Ok(Vec::new());
            };
            note_added(
                seq,
                env,
                &n.client_message_id,
                &n.mentions,
                &conv,
                signer.message(note),
            )
        }
        (Event::NoteEdited(e), Some(conv)) => {
            note_changed("message_edited", seq, &e.message_id, conv, views, signer)?
        }
        (Event::NoteDeleted(d), Some(conv)) => {
            note_changed("message_deleted", seq, &d.message_id, conv, views, signer)?
        }
        (Event::ConversationAssigned(a), Some(conv)) => {
            let mut deliveries = vec![admins_updated(&conv)];
            // Only an admin's assignment is folded; the new assignee hears of it on an admin socket.
            if let (Some(to), Role::Admin) = (&a.to, env.actor.role) {
                deliveries.push(Delivery {
                    targets: vec![Target::AdminUser(to.clone())],
                    except: None,
                    payload: shared(
                        "conversation_assigned",
                        seq,
                        Data::Assigned(AssignedData {
                            conversation_id: conv.id.clone(),
                            from: a.from.clone(),
                            to: a.to.clone(),
                            by: env.actor.id.clone(),
                        }),
                    ),
                });
            }
            deliveries
        }
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
    // A message event never applies to a note (the fold skips it): nothing of a note goes out here.
    let Some(changed) = changed.filter(|m| !m.internal) else {
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

/// A note's deliveries: `message_sent` to its author's admin sockets, `new_message` to every other
/// admin socket, `mentioned` to the admin sockets of each user it mentions. Nothing to a room or a
/// participant, and no `conversation_updated`: a note changes nothing of the Conversation.
fn note_added(
    seq: u64,
    env: &Envelope,
    client_message_id: &Option<String>,
    mentions: &[String],
    conv: &ConversationView,
    note: MessageView,
) -> Vec<Delivery> {
    let author = env.actor.id.clone();
    let data = |client_message_id| {
        Data::Message(MessageData {
            conversation_id: conv.id.clone(),
            message: note.clone(),
            client_message_id,
        })
    };
    let mut deliveries = vec![
        Delivery {
            targets: vec![Target::AdminUser(author.clone())],
            except: None,
            payload: shared("message_sent", seq, data(Some(client_message_id.clone()))),
        },
        Delivery {
            targets: vec![Target::Admins],
            except: Some(author.clone()),
            payload: shared("new_message", seq, data(None)),
        },
    ];
    if !mentions.is_empty() {
        // One delivery for them all: a socket is resolved once, so a repeated mention is one event.
        deliveries.push(Delivery {
            targets: mentions
                .iter()
                .map(|u| Target::AdminUser(u.clone()))
                .collect(),
            except: None,
            payload: shared(
                "mentioned",
                seq,
                Data::Mentioned(MentionedData {
                    conversation_id: conv.id.clone(),
                    message: note,
                    by: author,
                }),
            ),
        });
    }
    deliveries
}

/// `message_edited` or `message_deleted` of a note, to the admin sockets only, and only when the id
/// is a note of this conversation.
fn note_changed<K: KvRead>(
    name: &'static str,
    seq: u64,
    message_id: &str,
    conv: ConversationView,
    views: &Views<K>,
    signer: &UrlSigner,
) -> Result<Vec<Delivery>, StoreError> {
    let note = match views.locate(message_id)? {
        Some((c, seq)) if c == conv.id => views.message_in(&conv, seq)?,
        _ => None,
    };
    let Some(note) = note.filter(|m| m.internal) else {
        return Ok(Vec::new());
    };
    Ok(vec![Delivery {
        targets: vec![Target::Admins],
        except: None,
        payload: message(name, seq, &conv, note, signer),
    }])
}

/// Whether `message_id` is a note of `conv` (a reaction to one is never folded, and is never told).
fn is_note<K: KvRead>(
    message_id: &str,
    conv: &ConversationView,
    views: &Views<K>,
) -> Result<bool, StoreError> {
    Ok(match views.locate(message_id)? {
        Some((c, seq)) if c == conv.id => views.message_in(conv, seq)?.is_some_and(|m| m.internal),
        _ => false,
    })
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
        let last = batch.last().map_or(0, |(seq, _)| *seq);
        // Nobody to reach on this node (a node catching up before any socket, a node without
        // sockets): planning would read a message view per event for nothing.
        if app.realtime.registry.connections() == 0 {
            app.progress.pushed(last);
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
        app.progress.pushed(last);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::realtime::event::{Text, Wire};
    use concierge_events::{
        Actor, BookingRegistered, BookingSource, ConversationAssigned, ConversationCreated,
        ConversationSnoozed, MessageDeleted, MessageEdited, NoteAdded, ParticipantJoined, Reaction,
        Status, Timestamp,
    };
    use concierge_projections::MemKv;
    use std::collections::BTreeMap;
    use std::time::Duration;

    const CONV: &str = "01JDQ7X0S9G1W7V8M2K3Z4Y5AB";
    const NOTE: &str = "01JDQ7X0S9G1W7V8M2K3Z4Y5NT";

    fn encode(event: &ServerEvent) -> Text {
        event.encoded(Wire::WebSocket, |_| Text::from(""))
    }

    fn actor(id: &str, role: Role) -> Actor {
        Actor {
            id: id.into(),
            role,
            name: None,
        }
    }

    /// One conversation of `cus_ann`, folded in memory, and the sockets of one node: `cus_ann`
    /// and the author `adm_bo` in its room, the admins `adm_cy` and `adm_dee` outside it, and a
    /// customer socket `adm_eve` whose user id looks like an admin's.
    struct World {
        views: Views<MemKv>,
        registry: Registry,
        sockets: Vec<Arc<Socket>>,
        signer: UrlSigner,
        seq: u64,
    }

    impl World {
        fn new() -> World {
            let registry = Registry::default();
            let sockets: Vec<Arc<Socket>> = [
                ("cus_ann", Role::Customer),
                ("adm_bo", Role::Admin),
                ("adm_cy", Role::Admin),
                ("adm_dee", Role::Admin),
                ("adm_eve", Role::Customer),
            ]
            .into_iter()
            .map(|(u, r)| registry.register(u, r, Wire::WebSocket, encode))
            .collect();
            registry.join(&sockets[0], CONV);
            registry.join(&sockets[1], CONV);
            let mut w = World {
                views: Views::new(MemKv::default()),
                registry,
                sockets,
                signer: UrlSigner::new("secret", Duration::from_secs(60)),
                seq: 0,
            };
            let booking = Event::BookingRegistered(BookingRegistered {
                booking_id: "bk_1".into(),
                customer_id: "cus_ann".into(),
                title: None,
                source: BookingSource::Api,
            });
            w.fold(None, actor("svc", Role::Service), booking);
            let created = Event::ConversationCreated(ConversationCreated {
                booking_id: "bk_1".into(),
                title: "Booking bk_1".into(),
                participants: vec![ParticipantJoined {
                    user_id: "cus_ann".into(),
                    role: Role::Customer,
                    name: "Ann".into(),
                }],
            });
            w.fold(Some(CONV), actor("cus_ann", Role::Customer), created);
            w
        }

        /// Folds an event as the node would; returns its seq and envelope.
        fn fold(&mut self, conv: Option<&str>, by: Actor, event: Event) -> (u64, Envelope) {
            self.seq += 1;
            let env = Envelope::new(
                ulid::Ulid::new().to_string(),
                Timestamp::now(),
                by,
                conv.map(str::to_string),
                event,
            );
            concierge_projections::apply(&mut self.views, self.seq, &env).expect("fold");
            (self.seq, env)
        }

        /// Which socket (`user/role`) gets which events of `deliveries`, live; asserts `resume`'s
        /// filter agrees with live resolution for every socket.
        fn received(&self, deliveries: &[Delivery]) -> BTreeMap<String, Vec<&'static str>> {
            let mut got: BTreeMap<String, Vec<&'static str>> = BTreeMap::new();
            for d in deliveries {
                let name = match &d.payload {
                    Payload::Shared(e) => e.name,
                    Payload::PerViewer(_) => "conversation_updated",
                };
                let live = self.registry.resolve(&d.targets, d.except.as_deref());
                for s in &self.sockets {
                    let reached = live.iter().any(|l| l.id == s.id);
                    assert_eq!(reached, reaches(d, s), "{name} to {}", s.user_id);
                    if reached {
                        let who = format!("{}/{}", s.user_id, s.role);
                        got.entry(who).or_default().push(name);
                    }
                }
            }
            got
        }

        /// Folds `event` by `by` and plans it from the views as they are then (live fan-out).
        fn live(
            &mut self,
            by: Actor,
            event: Event,
        ) -> (Vec<Delivery>, BTreeMap<String, Vec<&'static str>>) {
            let (seq, env) = self.fold(Some(CONV), by, event);
            let deliveries = plan(seq, &env, &self.views, &self.signer).expect("plan");
            let got = self.received(&deliveries);
            (deliveries, got)
        }
    }

    fn expect(pairs: &[(&str, &[&'static str])]) -> BTreeMap<String, Vec<&'static str>> {
        pairs
            .iter()
            .map(|(who, names)| (who.to_string(), names.to_vec()))
            .collect()
    }

    fn note(mentions: &[&str]) -> Event {
        Event::NoteAdded(NoteAdded {
            message_id: NOTE.into(),
            content: "vip, be nice".into(),
            reply_to: None,
            client_message_id: Some("k1".into()),
            mentions: mentions.iter().map(|m| m.to_string()).collect(),
        })
    }

    fn shared_data(d: &Delivery) -> &Data {
        match &d.payload {
            Payload::Shared(e) => &e.data,
            Payload::PerViewer(_) => panic!("a shared event expected"),
        }
    }

    #[test]
    fn a_note_reaches_admin_sockets_only_and_its_mentions_the_mentioned_admins() {
        let mut w = World::new();
        let bo = actor("adm_bo", Role::Admin);
        let mentions = ["adm_cy", "cus_ann", "adm_eve", "adm_cy"];
        let (deliveries, got) = w.live(bo.clone(), note(&mentions));
        assert_eq!(
            got,
            expect(&[
                ("adm_bo/admin", &["message_sent"]),
                ("adm_cy/admin", &["new_message", "mentioned"]),
                ("adm_dee/admin", &["new_message"]),
            ])
        );
        for d in &deliveries {
            let m = match shared_data(d) {
                Data::Message(m) => &m.message,
                Data::Mentioned(m) => {
                    assert_eq!(
                        (m.by.as_str(), m.conversation_id.as_str()),
                        ("adm_bo", CONV)
                    );
                    &m.message
                }
                other => panic!("unexpected {other:?}"),
            };
            assert_eq!((m.id.as_str(), m.internal), (NOTE, true));
        }
        match shared_data(&deliveries[0]) {
            Data::Message(m) => assert_eq!(m.client_message_id, Some(Some("k1".into()))),
            other => panic!("unexpected {other:?}"),
        }

        let edited = Event::NoteEdited(MessageEdited {
            message_id: NOTE.into(),
            content: "vip".into(),
        });
        let admins = |name| {
            expect(&[
                ("adm_bo/admin", &[name]),
                ("adm_cy/admin", &[name]),
                ("adm_dee/admin", &[name]),
            ])
        };
        assert_eq!(w.live(bo.clone(), edited).1, admins("message_edited"));
        let deleted = Event::NoteDeleted(MessageDeleted {
            message_id: NOTE.into(),
        });
        assert_eq!(w.live(bo, deleted).1, admins("message_deleted"));
    }

    #[test]
    fn events_the_fold_skipped_carry_nothing_of_a_note() {
        let mut w = World::new();
        let bo = actor("adm_bo", Role::Admin);
        w.live(bo.clone(), note(&[]));
        // A message event naming a note, a reaction to it, a note by a customer: all skipped.
        let edit = Event::MessageEdited(MessageEdited {
            message_id: NOTE.into(),
            content: "leak".into(),
        });
        assert_eq!(w.live(bo.clone(), edit).1, expect(&[]));
        let delete = Event::MessageDeleted(MessageDeleted {
            message_id: NOTE.into(),
        });
        assert_eq!(w.live(bo.clone(), delete).1, expect(&[]));
        let react = Event::ReactionAdded(Reaction {
            message_id: NOTE.into(),
            emoji: "👍".into(),
        });
        assert_eq!(w.live(bo, react).1, expect(&[]));
        let mut by_customer = note(&["adm_cy"]);
        if let Event::NoteAdded(n) = &mut by_customer {
            n.message_id = "01JDQ7X0S9G1W7V8M2K3Z4Y5CU".into();
        }
        let ann = actor("cus_ann", Role::Customer);
        assert_eq!(w.live(ann, by_customer).1, expect(&[]));
    }

    #[test]
    fn an_assignment_updates_the_admins_and_tells_the_new_assignee() {
        let mut w = World::new();
        let bo = actor("adm_bo", Role::Admin);
        let updated = ["conversation_updated"];
        let assign = |to: &str| {
            Event::ConversationAssigned(ConversationAssigned {
                from: None,
                to: Some(to.into()),
            })
        };
        let (deliveries, got) = w.live(bo.clone(), assign("adm_cy"));
        assert_eq!(
            got,
            expect(&[
                ("adm_bo/admin", &updated),
                (
                    "adm_cy/admin",
                    &["conversation_updated", "conversation_assigned"]
                ),
                ("adm_dee/admin", &updated),
            ])
        );
        match shared_data(&deliveries[1]) {
            Data::Assigned(a) => {
                assert_eq!(a.conversation_id, CONV);
                assert_eq!((a.from.as_deref(), a.to.as_deref()), (None, Some("adm_cy")));
                assert_eq!(a.by, "adm_bo");
            }
            other => panic!("unexpected {other:?}"),
        }
        // A customer socket is never told, whatever its user id.
        let admins = expect(&[
            ("adm_bo/admin", &updated),
            ("adm_cy/admin", &updated),
            ("adm_dee/admin", &updated),
        ]);
        assert_eq!(w.live(bo.clone(), assign("adm_eve")).1, admins);
        let labeled = Event::ConversationLabeled(concierge_events::ConversationLabeled {
            labels: vec!["vip".into()],
        });
        assert_eq!(w.live(bo.clone(), labeled).1, admins);
        // A status the customer sees: the participants too.
        let everyone = expect(&[
            ("cus_ann/customer", &updated),
            ("adm_bo/admin", &updated),
            ("adm_cy/admin", &updated),
            ("adm_dee/admin", &updated),
        ]);
        let snoozed = Event::ConversationSnoozed(ConversationSnoozed {
            from: Status::Active,
            until: Timestamp(Timestamp::now().millis() + 60_000),
        });
        assert_eq!(w.live(bo, snoozed).1, everyone);
    }

    #[test]
    fn a_replay_from_the_views_at_the_end_gives_a_customer_nothing_of_a_note() {
        let mut w = World::new();
        let bo = actor("adm_bo", Role::Admin);
        let mut log = Vec::new();
        log.push(w.fold(Some(CONV), bo.clone(), note(&["cus_ann"])));
        let edited = Event::NoteEdited(MessageEdited {
            message_id: NOTE.into(),
            content: "v2".into(),
        });
        log.push(w.fold(Some(CONV), bo.clone(), edited));
        let edit = Event::MessageEdited(MessageEdited {
            message_id: NOTE.into(),
            content: "leak".into(),
        });
        log.push(w.fold(Some(CONV), bo, edit));
        let ann = &w.sockets[0];
        for (seq, env) in &log {
            for d in plan(*seq, env, &w.views, &w.signer).expect("plan") {
                assert!(!reaches(&d, ann), "seq {seq} reached the customer");
            }
        }
    }
}
