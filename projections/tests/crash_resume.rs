//! The store's promise, as a property: however a log is split into batches, however often the
//! node persists, stops cleanly or crashes (losing what it had folded in memory and not persisted)
//! and reopens its store between them, re-delivering what it had already folded, the views end up
//! byte for byte what one batch makes, and what folding event by event in memory makes.
//!
//! The logs are random but shaped like real ones: a few bookings, customers and admins, many sends,
//! edits, deletes, reads, reactions, joins and status changes, some of them duplicates or stale
//! (which the folds must skip), typing events and events of unknown types.

use concierge_events::{
    Actor, AdminBroadcast, Audience, BookingRegistered, BookingSource, ConversationCreated, Empty,
    Envelope, Event, MessageDeleted, MessageEdited, MessageSent, MessageType, MessagesRead,
    ParticipantJoined, Reaction, Role, Status, StatusChanged, Timestamp,
};
use concierge_events::{
    ConversationAssigned, ConversationRated, ConversationSnoozed, ConversationWoken, NoteAdded,
};
use concierge_projections::kv::keys;
use concierge_projections::views::MessageView;
use concierge_projections::{apply, LogEntry, MemKv, Outcome, ViewStore, Views};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

const BOOKINGS: usize = 3;
const CUSTOMERS: usize = 3;
const ADMINS: usize = 3;
const EMOJI: [&str; 3] = ["👍", "🎉", "👀"];
const T0: i64 = 1_790_000_000_000;

/// Who acts, relative to the conversation or message an operation aims at.
#[derive(Clone, Debug)]
enum Who {
    /// The customer the conversation was opened for.
    OwnCustomer,
    /// Any customer, usually not a participant.
    Customer(usize),
    Admin(usize),
    /// The sender of the message aimed at (else the conversation's customer).
    Sender,
}

/// One step of a log, in indices that the builder resolves against what the log holds so far.
#[derive(Clone, Debug)]
enum Op {
    Register {
        booking: usize,
        customer: usize,
        title: Option<usize>,
        token: bool,
    },
    Create {
        booking: usize,
        with_admin: Option<usize>,
    },
    Join {
        conv: usize,
        admin: usize,
    },
    Send {
        conv: usize,
        who: Who,
        key: Option<usize>,
        len: usize,
        reply: bool,
    },
    Edit {
        conv: usize,
        msg: usize,
        who: Who,
        len: usize,
    },
    Delete {
        conv: usize,
        msg: usize,
        who: Who,
    },
    React {
        conv: usize,
        msg: usize,
        who: Who,
        emoji: usize,
        add: bool,
    },
    Read {
        conv: usize,
        who: Who,
        back: u64,
    },
    Status {
        conv: usize,
        to: usize,
    },
    Broadcast,
    Typing {
        conv: usize,
    },
    /// An internal note, which later edits, deletes and reactions of messages may aim at.
    Note {
        conv: usize,
        who: Who,
        len: usize,
    },
    Snooze {
        conv: usize,
        until: i64,
    },
    Wake {
        conv: usize,
        until: i64,
    },
    Assign {
        conv: usize,
        admin: Option<usize>,
    },
    Rate {
        conv: usize,
        score: u8,
    },
    /// An event of a type this schema does not know: a `None` entry.
    Unknown,
    /// The same event again, later in the log.
    Replay {
        back: usize,
    },
}

fn who() -> impl Strategy<Value = Who> {
    prop_oneof![
        4 => Just(Who::OwnCustomer),
        1 => (0..CUSTOMERS).prop_map(Who::Customer),
        3 => (0..ADMINS).prop_map(Who::Admin),
        3 => Just(Who::Sender),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let conv = 0..8usize;
    let msg = 0..64usize;
    prop_oneof![
        2 => (0..BOOKINGS, 0..CUSTOMERS, prop::option::of(0..3usize), any::<bool>()).prop_map(
            |(booking, customer, title, token)| Op::Register { booking, customer, title, token }
        ),
        2 => (0..BOOKINGS, prop::option::of(0..ADMINS))
            .prop_map(|(booking, with_admin)| Op::Create { booking, with_admin }),
        1 => (conv.clone(), 0..ADMINS).prop_map(|(conv, admin)| Op::Join { conv, admin }),
        12 => (conv.clone(), who(), prop::option::weighted(0.3, 0..3usize), 0..140usize, any::<bool>())
            .prop_map(|(conv, who, key, len, reply)| Op::Send { conv, who, key, len, reply }),
        3 => (conv.clone(), msg.clone(), who(), 0..140usize)
            .prop_map(|(conv, msg, who, len)| Op::Edit { conv, msg, who, len }),
        3 => (conv.clone(), msg.clone(), who())
            .prop_map(|(conv, msg, who)| Op::Delete { conv, msg, who }),
        3 => (conv.clone(), msg, who(), 0..EMOJI.len(), any::<bool>())
            .prop_map(|(conv, msg, who, emoji, add)| Op::React { conv, msg, who, emoji, add }),
        5 => (conv.clone(), who(), 0..6u64).prop_map(|(conv, who, back)| Op::Read { conv, who, back }),
        2 => (conv.clone(), prop_oneof![3 => Just(0usize), 2 => Just(1), 1 => Just(2)])
            .prop_map(|(conv, to)| Op::Status { conv, to }),
        1 => Just(Op::Broadcast),
        1 => conv.clone().prop_map(|conv| Op::Typing { conv }),
        3 => (conv.clone(), who(), 0..140usize).prop_map(|(conv, who, len)| Op::Note { conv, who, len }),
        1 => (conv.clone(), 0..4i64).prop_map(|(conv, until)| Op::Snooze { conv, until }),
        1 => (conv.clone(), 0..4i64).prop_map(|(conv, until)| Op::Wake { conv, until }),
        1 => (conv.clone(), prop::option::of(0..ADMINS)).prop_map(|(conv, admin)| Op::Assign { conv, admin }),
        1 => (conv.clone(), 0..7u8).prop_map(|(conv, score)| Op::Rate { conv, score }),
        1 => Just(Op::Unknown),
        2 => (0..16usize).prop_map(|back| Op::Replay { back }),
    ]
}

/// What the builder remembers of the log it has written, to aim operations at real things.
#[derive(Default)]
struct Model {
    /// Booking index → its customer and whether it has a conversation.
    bookings: BTreeMap<usize, (String, bool)>,
    /// Conversations created: id and customer.
    convs: Vec<(String, String)>,
    /// Conversation ids whose creation lost (the booking had one, or was unknown).
    lost: Vec<String>,
    /// Messages sent: conversation, id, sender, seq.
    msgs: Vec<(String, String, Actor, u64)>,
    /// Events written so far, for replays.
    written: Vec<Envelope>,
}

/// One of four snooze times, so that wake-ups now and then match a snooze and apply.
fn wake_time(i: i64) -> Timestamp {
    Timestamp(1_790_000_000_000 + i * 60_000)
}

fn customer(i: usize) -> Actor {
    Actor {
        id: format!("cus{i}"),
        role: Role::Customer,
        name: None,
    }
}

fn admin(i: usize) -> Actor {
    Actor {
        id: format!("adm{i}"),
        role: Role::Admin,
        // Some admins' tokens carry a name, some do not.
        name: i.is_multiple_of(2).then(|| format!("Admin {i}")),
    }
}

fn platform() -> Actor {
    Actor {
        id: "platform".into(),
        role: Role::Service,
        name: None,
    }
}

/// Text of `len` scalar values, some of them outside ASCII, so `lastMessage` cuts matter.
fn text(len: usize, salt: usize) -> String {
    "aé👍 zü".chars().cycle().skip(salt % 6).take(len).collect()
}

impl Model {
    /// A conversation to aim at; now and then one that was never created.
    fn conv(&self, i: usize) -> (String, String) {
        if i == 7 || self.convs.is_empty() {
            let id = self.lost.last().cloned().unwrap_or_else(|| "c-none".into());
            return (id, "cus0".into());
        }
        self.convs[i % self.convs.len()].clone()
    }

    /// A message of `conv` when it has any, else any message at all (usually skipped then).
    fn msg(&self, conv: &str, i: usize) -> Option<(String, Actor)> {
        let own: Vec<_> = self.msgs.iter().filter(|(c, ..)| c == conv).collect();
        let pool = if own.is_empty() {
            self.msgs.iter().collect()
        } else {
            own
        };
        (!pool.is_empty()).then(|| {
            let (_, id, sender, _) = pool[i % pool.len()];
            (id.clone(), sender.clone())
        })
    }

    fn actor(&self, who: &Who, conv_customer: &str, sender: Option<&Actor>) -> Actor {
        match who {
            Who::OwnCustomer => Actor {
                id: conv_customer.into(),
                role: Role::Customer,
                name: None,
            },
            Who::Customer(i) => customer(*i),
            Who::Admin(i) => admin(*i),
            Who::Sender => sender.cloned().unwrap_or_else(|| Actor {
                id: conv_customer.into(),
                role: Role::Customer,
                name: None,
            }),
        }
    }

    /// The event `op` stands for at `seq`, or `None` for an event of an unknown type.
    fn build(&mut self, op: &Op, seq: u64, at: Timestamp) -> Option<Envelope> {
        let n = self.written.len();
        let env = |actor: Actor, conv: Option<&str>, event: Event| {
            Envelope::new(format!("ev{seq}"), at, actor, conv.map(Into::into), event)
        };
        let built = match op {
            Op::Register {
                booking,
                customer: c,
                title,
                token,
            } => {
                let booking_id = format!("bk.{booking}");
                let customer = customer(*c);
                match self.bookings.get_mut(booking) {
                    None => {
                        self.bookings.insert(*booking, (customer.id.clone(), false));
                    }
                    Some((owner, false)) if !*token => *owner = customer.id.clone(),
                    Some(_) => {}
                }
                let (actor, source) = if *token {
                    (customer.clone(), BookingSource::Token)
                } else {
                    (platform(), BookingSource::Api)
                };
                env(
                    actor,
                    None,
                    Event::BookingRegistered(BookingRegistered {
                        booking_id,
                        customer_id: customer.id,
                        title: title.map(|t| format!("Stay {t}")),
                        source,
                    }),
                )
            }
            Op::Create {
                booking,
                with_admin,
            } => {
                let id = format!("c{}", self.convs.len() + self.lost.len());
                let owner = match self.bookings.get_mut(booking) {
                    Some((owner, has_conv @ false)) => {
                        *has_conv = true;
                        self.convs.push((id.clone(), owner.clone()));
                        owner.clone()
                    }
                    Some((owner, true)) => {
                        self.lost.push(id.clone());
                        owner.clone()
                    }
                    None => {
                        self.lost.push(id.clone());
                        "cus0".into()
                    }
                };
                let mut participants = vec![ParticipantJoined {
                    user_id: owner.clone(),
                    role: Role::Customer,
                    name: format!("Customer {owner}"),
                }];
                if let Some(a) = with_admin {
                    let a = admin(*a);
                    participants.push(ParticipantJoined {
                        name: a.name.clone().unwrap_or_else(|| a.id.clone()),
                        user_id: a.id,
                        role: Role::Admin,
                    });
                }
                env(
                    customer(0),
                    Some(&id),
                    Event::ConversationCreated(ConversationCreated {
                        booking_id: format!("bk.{booking}"),
                        title: format!("Booking bk.{booking}"),
                        participants,
                    }),
                )
            }
            Op::Join { conv, admin: a } => {
                let (cid, _) = self.conv(*conv);
                let a = admin(*a);
                env(
                    a.clone(),
                    Some(&cid),
                    Event::ParticipantJoined(ParticipantJoined {
                        name: a.name.clone().unwrap_or_else(|| a.id.clone()),
                        user_id: a.id,
                        role: Role::Admin,
                    }),
                )
            }
            Op::Send {
                conv,
                who,
                key,
                len,
                reply,
            } => {
                let (cid, owner) = self.conv(*conv);
                let actor = self.actor(who, &owner, None);
                let message_id = format!("m{seq}");
                let reply_to = if *reply {
                    self.msg(&cid, *len).map(|(id, _)| id)
                } else {
                    None
                };
                self.msgs
                    .push((cid.clone(), message_id.clone(), actor.clone(), seq));
                env(
                    actor,
                    Some(&cid),
                    Event::MessageSent(MessageSent {
                        message_id,
                        content: text(*len, seq as usize),
                        message_type: if *len % 7 == 0 {
                            MessageType::Image
                        } else {
                            MessageType::Text
                        },
                        attachments: vec![],
                        reply_to,
                        client_message_id: key.map(|k| format!("key{k}")),
                    }),
                )
            }
            Op::Edit {
                conv,
                msg,
                who,
                len,
            } => {
                let (cid, owner) = self.conv(*conv);
                let (message_id, sender) = self.msg(&cid, *msg)?;
                let actor = self.actor(who, &owner, Some(&sender));
                env(
                    actor,
                    Some(&cid),
                    Event::MessageEdited(MessageEdited {
                        message_id,
                        content: text(*len, seq as usize + 1),
                    }),
                )
            }
            Op::Delete { conv, msg, who } => {
                let (cid, owner) = self.conv(*conv);
                let (message_id, sender) = self.msg(&cid, *msg)?;
                let actor = self.actor(who, &owner, Some(&sender));
                env(
                    actor,
                    Some(&cid),
                    Event::MessageDeleted(MessageDeleted { message_id }),
                )
            }
            Op::React {
                conv,
                msg,
                who,
                emoji,
                add,
            } => {
                let (cid, owner) = self.conv(*conv);
                let (message_id, sender) = self.msg(&cid, *msg)?;
                let actor = self.actor(who, &owner, Some(&sender));
                let reaction = Reaction {
                    message_id,
                    emoji: EMOJI[*emoji].into(),
                };
                let event = if *add {
                    Event::ReactionAdded(reaction)
                } else {
                    Event::ReactionRemoved(reaction)
                };
                env(actor, Some(&cid), event)
            }
            Op::Read { conv, who, back } => {
                let (cid, owner) = self.conv(*conv);
                let actor = self.actor(who, &owner, None);
                // Mostly up to one of the newest messages, as clients read; else any point.
                let seqs: Vec<u64> = self
                    .msgs
                    .iter()
                    .filter(|(c, ..)| *c == cid)
                    .map(|m| m.3)
                    .collect();
                let up_to_seq = match seqs.len().checked_sub(1 + *back as usize) {
                    Some(i) if *back < 4 => seqs[i],
                    _ => seq.saturating_sub(1 + back),
                };
                env(
                    actor,
                    Some(&cid),
                    Event::MessagesRead(MessagesRead { up_to_seq }),
                )
            }
            Op::Status { conv, to } => {
                let (cid, _) = self.conv(*conv);
                let to = Status::ALL[*to];
                env(
                    admin(0),
                    Some(&cid),
                    Event::ConversationStatusChanged(StatusChanged {
                        from: Status::Active,
                        to,
                    }),
                )
            }
            Op::Broadcast => env(
                admin(1),
                None,
                Event::AdminBroadcast(AdminBroadcast {
                    content: format!("notice {seq}"),
                    audience: Audience::All,
                }),
            ),
            Op::Typing { conv } => {
                let (cid, owner) = self.conv(*conv);
                let event = if seq.is_multiple_of(2) {
                    Event::TypingStarted(Empty {})
                } else {
                    Event::TypingStopped(Empty {})
                };
                env(
                    self.actor(&Who::OwnCustomer, &owner, None),
                    Some(&cid),
                    event,
                )
            }
            Op::Note { conv, who, len } => {
                let (cid, owner) = self.conv(*conv);
                let actor = self.actor(who, &owner, None);
                let message_id = format!("m{seq}");
                self.msgs
                    .push((cid.clone(), message_id.clone(), actor.clone(), seq));
                env(
                    actor,
                    Some(&cid),
                    Event::NoteAdded(NoteAdded {
                        message_id,
                        content: text(*len, seq as usize),
                        reply_to: None,
                        client_message_id: None,
                        mentions: vec![],
                    }),
                )
            }
            Op::Snooze { conv, until } => {
                let (cid, _) = self.conv(*conv);
                env(
                    admin(0),
                    Some(&cid),
                    Event::ConversationSnoozed(ConversationSnoozed {
                        from: Status::Active,
                        until: wake_time(*until),
                    }),
                )
            }
            Op::Wake { conv, until } => {
                let (cid, _) = self.conv(*conv);
                env(
                    admin(1),
                    Some(&cid),
                    Event::ConversationWoken(ConversationWoken {
                        until: wake_time(*until),
                    }),
                )
            }
            Op::Assign { conv, admin: a } => {
                let (cid, _) = self.conv(*conv);
                env(
                    admin(0),
                    Some(&cid),
                    Event::ConversationAssigned(ConversationAssigned {
                        from: None,
                        to: a.map(|a| admin(a).id),
                    }),
                )
            }
            Op::Rate { conv, score } => {
                let (cid, owner) = self.conv(*conv);
                env(
                    self.actor(&Who::OwnCustomer, &owner, None),
                    Some(&cid),
                    Event::ConversationRated(ConversationRated {
                        score: *score,
                        comment: None,
                    }),
                )
            }
            Op::Unknown => return None,
            Op::Replay { back } => {
                if n == 0 {
                    return None;
                }
                self.written[n - 1 - back % n].clone()
            }
        };
        self.written.push(built.clone());
        Some(built)
    }
}

/// A log: sequences start at 1 and now and then skip a number, as a filtered or purged stream does.
fn log() -> impl Strategy<Value = Vec<LogEntryData>> {
    prop::collection::vec((op(), 0..3000i64, prop::bool::weighted(0.1)), 20..160).prop_map(
        |steps| {
            let mut model = Model::default();
            let mut seq = 0;
            let mut at = T0;
            // Every booking registered and given a conversation first, as a live system would have.
            let prologue = (0..BOOKINGS).flat_map(|b| {
                [
                    (
                        Op::Register {
                            booking: b,
                            customer: b % CUSTOMERS,
                            title: None,
                            token: b == 0,
                        },
                        0,
                        false,
                    ),
                    (
                        Op::Create {
                            booking: b,
                            with_admin: None,
                        },
                        0,
                        false,
                    ),
                ]
            });
            prologue
                .chain(steps)
                .map(|(op, dt, gap)| {
                    seq += if gap { 2 } else { 1 };
                    at += dt;
                    LogEntryData {
                        seq,
                        event: model.build(&op, seq, Timestamp(at)),
                    }
                })
                .collect()
        },
    )
}

/// [`LogEntry`] is not `Clone`; proptest values must be.
#[derive(Clone, Debug)]
struct LogEntryData {
    seq: u64,
    event: Option<Envelope>,
}

fn entries(log: &[LogEntryData]) -> Vec<LogEntry> {
    log.iter()
        .map(|e| LogEntry {
            seq: e.seq,
            event: e.event.clone(),
        })
        .collect()
}

/// The reference: every event folded one at a time into memory.
fn fold_in_memory(log: &[LogEntry]) -> (Views<MemKv>, Vec<(u64, Outcome)>) {
    let mut views = Views::new(MemKv::default());
    let mut outcomes = Vec::new();
    for e in log {
        let outcome = match &e.event {
            Some(env) => apply(&mut views, e.seq, env).unwrap(),
            None => Outcome::Skipped("not an event of this schema"),
        };
        outcomes.push((e.seq, outcome));
    }
    if let Some(last) = log.last() {
        views.set_checkpoint(last.seq);
    }
    (views, outcomes)
}

/// Opens the store in `dir`. sled releases a dropped database's file lock from its background
/// threads a moment after the drop, so a reopen in the same process polls until it may take it
/// (a restarted node is a new process and never waits).
fn open(dir: &std::path::Path) -> ViewStore {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match ViewStore::open(dir) {
            Ok(store) => return store,
            Err(e) if Instant::now() > deadline => panic!("the view store does not open: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

/// What the node does after a batch.
#[derive(Clone, Copy, Debug)]
enum After {
    /// Goes on folding; the views stay in memory.
    Continue,
    /// Persists the views to sled and goes on.
    Persist,
    /// Stops cleanly (flush) and starts again on the same folder.
    Restart,
    /// Dies without persisting and starts again: what was folded since the last persist is lost.
    Crash,
}

/// How store B is fed: batch sizes, how many already-folded entries each batch re-delivers at its
/// front, what the node does after each batch, and after which batch a whole already-folded batch
/// is delivered again.
#[derive(Clone, Debug)]
struct Delivery {
    /// The store's bound on unpersisted views: small ones make folds persist first, in one batch.
    persist_at: usize,
    sizes: Vec<usize>,
    overlaps: Vec<usize>,
    after: Vec<After>,
    redeliver_after: usize,
}

fn delivery() -> impl Strategy<Value = Delivery> {
    (
        prop::collection::vec(1..60usize, 1..6),
        prop::collection::vec(0..4usize, 6),
        prop::collection::vec(
            prop_oneof![
                Just(After::Continue),
                Just(After::Persist),
                Just(After::Restart),
                Just(After::Crash)
            ],
            6,
        ),
        0..6usize,
        prop_oneof![Just(usize::MAX), 0..20_000usize],
    )
        .prop_map(
            |(sizes, overlaps, after, redeliver_after, persist_at)| Delivery {
                persist_at,
                sizes,
                overlaps,
                after,
                redeliver_after,
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn batches_and_restarts_fold_to_the_same_views(log in log(), delivery in delivery()) {
        let log = entries(&log);
        let (memory, reference) = fold_in_memory(&log);
        let last_seq = log.last().map_or(0, |e| e.seq);

        // A: the whole log in one batch.
        let dir_a = tempfile::tempdir().unwrap();
        let a = open(dir_a.path());
        prop_assert_eq!(a.fold_batch(&log).unwrap(), reference.clone());
        prop_assert_eq!(a.checkpoint().unwrap(), last_seq);

        // B: batches of random sizes, persisting, restarting or crashing after each, with
        // re-deliveries. A crash takes the node back to its persisted checkpoint, and the log is
        // delivered again from there, as the worker does.
        let dir_b = tempfile::tempdir().unwrap();
        let mut b = open(dir_b.path()).with_persist_at(delivery.persist_at);
        let mut start = 0;
        let mut batch = 0;
        let mut redelivered = false;
        let mut crashes = 0;
        while start < log.len() {
            let size = match delivery.sizes.get(batch) {
                Some(size) if crashes < 8 => *size,
                _ => log.len() - start,
            };
            let end = (start + size).min(log.len());
            let from = start.saturating_sub(delivery.overlaps[batch % delivery.overlaps.len()]);
            let outcomes = b.fold_batch(&log[from..end]).unwrap();
            // The re-delivered front is skipped; the rest folds as in the reference.
            prop_assert_eq!(&outcomes[..], &reference[start..end]);
            prop_assert_eq!(b.checkpoint().unwrap(), log[end - 1].seq);

            match delivery.after[batch % delivery.after.len()] {
                After::Continue => {}
                After::Persist => {
                    b.persist().unwrap();
                    prop_assert_eq!(b.persisted_checkpoint().unwrap(), log[end - 1].seq);
                }
                After::Restart => {
                    b.flush().unwrap();
                    drop(b);
                    b = open(dir_b.path()).with_persist_at(delivery.persist_at);
                    prop_assert_eq!(b.checkpoint().unwrap(), log[end - 1].seq, "the checkpoint survives a restart");
                }
                // Past eight crashes the node stops crashing, so that a run always ends.
                After::Crash if crashes >= 8 => {}
                After::Crash => {
                    let persisted = b.persisted_checkpoint().unwrap();
                    drop(b);
                    b = open(dir_b.path()).with_persist_at(delivery.persist_at);
                    prop_assert_eq!(b.checkpoint().unwrap(), persisted, "a crash goes back to the persisted checkpoint");
                    crashes += 1;
                    start = log.partition_point(|e| e.seq <= persisted);
                    batch += 1;
                    continue;
                }
            }

            if batch == delivery.redeliver_after || (end == log.len() && !redelivered) {
                let before = b.dump().unwrap();
                let outcomes = b.fold_batch(&log[from..end]).unwrap();
                prop_assert!(outcomes.is_empty(), "a re-delivered batch folds nothing: {:?}", outcomes);
                prop_assert_eq!(b.dump().unwrap(), before);
                redelivered = true;
            }
            start = end;
            batch += 1;
        }
        // What sled holds after a clean stop is what was folded.
        let folded = b.dump().unwrap();
        b.flush().unwrap();
        drop(b);
        let b = open(dir_b.path());
        prop_assert!(b.dump().unwrap() == folded, "a clean stop persists every folded view");

        let mut dump_a = a.dump().unwrap();
        prop_assert!(dump_a == b.dump().unwrap(), "one batch and many batches disagree");
        // The store's own format and sealing markers are not views.
        prop_assert_eq!(dump_a.remove(keys::FORMAT), Some(b"postcard-5".to_vec()));
        prop_assert_eq!(dump_a.remove(keys::SEALED), Some(b"none".to_vec()));
        prop_assert!(
            memory.kv.map == dump_a,
            "the store disagrees with folding in memory: {:?}",
            diff(&memory.kv.map, &dump_a)
        );
        prop_assert_eq!(dump_a.get(keys::CHECKPOINT), Some(&last_seq.to_be_bytes().to_vec()));
    }

    #[test]
    fn folded_views_keep_their_invariants(log in log()) {
        let log = entries(&log);
        let (views, outcomes) = fold_in_memory(&log);
        check_invariants(&views)?;
        // The generator must produce logs that mostly fold, or the property above says little.
        let applied = outcomes.iter().filter(|(_, o)| *o == Outcome::Applied).count();
        prop_assert!(applied * 4 >= outcomes.len(), "only {} of {} events applied", applied, outcomes.len());
    }
}

/// The keys whose values differ, for a readable failure.
fn diff(
    left: &BTreeMap<Vec<u8>, Vec<u8>>,
    right: &BTreeMap<Vec<u8>, Vec<u8>>,
) -> Vec<(String, Option<String>, Option<String>)> {
    let keys: BTreeSet<_> = left.keys().chain(right.keys()).collect();
    keys.into_iter()
        .filter(|k| left.get(*k) != right.get(*k))
        .map(|k| {
            let show = |v: Option<&Vec<u8>>| v.map(|v| String::from_utf8_lossy(v).into_owned());
            (
                String::from_utf8_lossy(k).into_owned(),
                show(left.get(k)),
                show(right.get(k)),
            )
        })
        .collect()
}

/// What API.md says of the views, checked on the whole folded state.
fn check_invariants(views: &Views<MemKv>) -> Result<(), TestCaseError> {
    let stats = views.stats().unwrap();
    let convs = views.conversations().unwrap();
    let mut live_total = 0;
    let mut by_status = BTreeMap::new();
    for c in &convs {
        *by_status.entry(c.status.as_str()).or_insert(0u64) += 1;
        let messages: Vec<MessageView> = views
            .messages(&c.id, 0, u64::MAX, false, usize::MAX)
            .unwrap();
        // Notes are unread for nobody and not counted live (docs/inbox.md).
        let live: Vec<&MessageView> = messages
            .iter()
            .filter(|m| !m.is_deleted && !m.internal)
            .collect();
        let notes = messages.iter().filter(|m| m.internal).count() as u64;
        prop_assert_eq!(c.note_count, notes, "{}: note count", c.id);
        live_total += live.len() as u64;
        prop_assert_eq!(
            c.message_count,
            messages.len() as u64,
            "{}: message count",
            c.id
        );
        prop_assert_eq!(c.live_count, live.len() as u64, "{}: live count", c.id);

        // unreadCounts has exactly one key per participant.
        let participants: BTreeSet<&str> =
            c.participants.iter().map(|p| p.user_id.as_str()).collect();
        prop_assert_eq!(
            participants.len(),
            c.participants.len(),
            "{}: participants repeat",
            c.id
        );
        let unread_keys: BTreeSet<&str> = c.unread.keys().map(String::as_str).collect();
        prop_assert_eq!(&unread_keys, &participants, "{}: unread keys", c.id);

        for p in &c.participants {
            let point = c.read_points.get(&p.user_id).map_or(0, |r| r.seq);
            // Non-deleted messages of others after the read point.
            let expected = live
                .iter()
                .filter(|m| m.sender != p.user_id && m.seq > point)
                .count() as u64;
            prop_assert_eq!(
                c.unread[&p.user_id],
                expected,
                "{}: unread of {}",
                c.id,
                &p.user_id
            );
        }

        for m in &messages {
            // Writing a note joins nobody.
            prop_assert!(
                m.internal || participants.contains(m.sender.as_str()),
                "{}: sender {} is no participant",
                m.id,
                &m.sender
            );
            // readBy: every participant but the sender whose read point covers the message.
            let readers: BTreeSet<&str> = m.read_by.iter().map(|r| r.user.as_str()).collect();
            prop_assert_eq!(readers.len(), m.read_by.len(), "{}: receipts repeat", m.id);
            // A note takes no receipts.
            let covered: BTreeSet<&str> = c
                .participants
                .iter()
                .filter(|p| p.user_id != m.sender && !m.internal)
                .filter(|p| {
                    c.read_points
                        .get(&p.user_id)
                        .is_some_and(|r| r.seq >= m.seq)
                })
                .map(|p| p.user_id.as_str())
                .collect();
            prop_assert_eq!(&readers, &covered, "{}: readBy", m.id);
            if m.is_deleted {
                prop_assert!(
                    m.content.is_empty() && m.attachments.is_empty(),
                    "{}: deleted content kept",
                    m.id
                );
            }
            let reactions: BTreeSet<(&str, &str)> = m
                .reactions
                .iter()
                .map(|r| (r.user.as_str(), r.emoji.as_str()))
                .collect();
            prop_assert_eq!(
                reactions.len(),
                m.reactions.len(),
                "{}: reactions repeat",
                m.id
            );
        }

        // lastMessage: the newest non-deleted message, cut to 100 scalar values.
        let newest = live.last().map(|m| {
            (
                m.id.clone(),
                m.content.chars().take(100).collect::<String>(),
            )
        });
        let last = c
            .last_message
            .as_ref()
            .map(|l| (l.id.clone(), l.content.clone()));
        prop_assert_eq!(last, newest, "{}: lastMessage", c.id);
        // The newest message, deleted or not; notes are not messages here.
        prop_assert_eq!(
            c.last_message_seq,
            messages
                .iter()
                .rev()
                .find(|m| !m.internal)
                .map_or(0, |m| m.seq),
            "{}: last message seq",
            c.id
        );
    }
    prop_assert_eq!(stats.total_conversations, convs.len() as u64);
    for status in Status::ALL {
        let mut s = stats.clone();
        prop_assert_eq!(
            *s.by_status_mut(status),
            by_status.get(status.as_str()).copied().unwrap_or(0),
            "stats {}",
            status.as_str()
        );
    }
    prop_assert_eq!(stats.total_messages, live_total, "stats total messages");
    prop_assert_eq!(
        views.live_messages_since(Timestamp(0)).unwrap(),
        live_total,
        "time index"
    );
    Ok(())
}
