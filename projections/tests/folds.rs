//! Unit tests of every fold, read as `given(events)` then the views, against [`Views<MemKv>`].
//!
//! `given` folds its events at log sequences 1, 2, 3… and leaves the checkpoint on the last one, so
//! `when` and `then_skipped` fold the next event at the next sequence. Times are seconds after `T0`.

use concierge_events::{
    Actor, AdminBroadcast, Attachment, Audience, BookingRegistered, BookingSource,
    ConversationCreated, Empty, Envelope, Event, MessageDeleted, MessageEdited, MessageSent,
    MessageType, MessagesRead, ParticipantJoined, Priority, Reaction, Role, Status, StatusChanged,
    Timestamp,
};
use concierge_projections::kv::{Kv, KvRead, Visit, VisitEntry};
use concierge_projections::views::{
    AttachmentView, BookingView, ConversationView, LastMessage, MessageView, ParticipantView,
    ReactionView, ReadPoint, ReadReceipt, StatsView,
};
use concierge_projections::{apply, Corruption, MemKv, Outcome, StoreError, Views};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

// ---------------------------------------------------------------------------------------------
// given / when / then
// ---------------------------------------------------------------------------------------------

/// Folds `events` at sequences 1, 2, 3… into fresh in-memory views.
fn given(events: &[Envelope]) -> Views<MemKv> {
    let mut views = Views::new(MemKv::default());
    for env in events {
        when(&mut views, env);
    }
    views
}

/// Folds `env` at the sequence after the last folded one.
fn when(views: &mut Views<MemKv>, env: &Envelope) -> Outcome {
    let seq = views.checkpoint().unwrap() + 1;
    let outcome = apply(views, seq, env).unwrap();
    views.set_checkpoint(seq);
    outcome
}

/// Folds `env` next and asserts that it applied.
#[track_caller]
fn then_applied(views: &mut Views<MemKv>, env: &Envelope) {
    assert_eq!(when(views, env), Outcome::Applied, "{env:?}");
}

/// Folds `env` next and asserts that it was skipped and left no trace in the views.
#[track_caller]
fn then_skipped(views: &mut Views<MemKv>, env: &Envelope) -> &'static str {
    let before = views.kv.clone();
    let seq = views.checkpoint().unwrap() + 1;
    let outcome = apply(views, seq, env).unwrap();
    let Outcome::Skipped(reason) = outcome else {
        panic!("expected {env:?} to be skipped, it applied");
    };
    assert_eq!(views.kv, before, "skipped ({reason}) but left a trace");
    views.set_checkpoint(seq);
    reason
}

fn conv(views: &Views<MemKv>, id: &str) -> ConversationView {
    views
        .conversation(id)
        .unwrap()
        .unwrap_or_else(|| panic!("no conversation {id}"))
}

fn msg(views: &Views<MemKv>, id: &str) -> MessageView {
    views
        .message_by_id(id)
        .unwrap()
        .unwrap_or_else(|| panic!("no message {id}"))
}

fn booking(views: &Views<MemKv>, id: &str) -> BookingView {
    views
        .booking(id)
        .unwrap()
        .unwrap_or_else(|| panic!("no booking {id}"))
}

fn unread(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(u, n)| (u.to_string(), *n)).collect()
}

fn receipts(pairs: &[(&str, i64)]) -> Vec<ReadReceipt> {
    pairs
        .iter()
        .map(|(u, s)| ReadReceipt {
            user: u.to_string(),
            read_at: t(*s),
        })
        .collect()
}

fn ids(messages: &[MessageView]) -> Vec<&str> {
    messages.iter().map(|m| m.id.as_str()).collect()
}

// ---------------------------------------------------------------------------------------------
// Actors, times and envelopes
// ---------------------------------------------------------------------------------------------

/// 2026-09-21T…: any fixed point will do.
const T0: i64 = 1_790_000_000_000;

fn t(secs: i64) -> Timestamp {
    Timestamp(T0 + secs * 1000)
}

fn customer(id: &str) -> Actor {
    Actor {
        id: id.into(),
        role: Role::Customer,
        name: None,
    }
}

fn admin(id: &str, name: Option<&str>) -> Actor {
    Actor {
        id: id.into(),
        role: Role::Admin,
        name: name.map(Into::into),
    }
}

fn platform() -> Actor {
    Actor {
        id: "platform".into(),
        role: Role::Service,
        name: None,
    }
}

/// Ann, the customer of `bk1`.
fn ann() -> Actor {
    customer("cus1")
}

/// Bo, an admin.
fn bo() -> Actor {
    admin("adm1", Some("Bo"))
}

/// Cy, another admin.
fn cy() -> Actor {
    admin("adm2", Some("Cy"))
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn envelope(actor: Actor, conversation: Option<&str>, event: Event) -> Envelope {
    let id = format!("ev{:06}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
    Envelope::new(id, t(0), actor, conversation.map(Into::into), event)
}

/// Builder methods on envelopes, for the details a test cares about.
trait Build {
    /// At `secs` seconds after `T0`.
    fn at(self, secs: i64) -> Envelope;
    /// A send with a client message id.
    fn key(self, key: &str) -> Envelope;
    /// A send of another message type with attachments.
    fn attach(self, kind: MessageType, attachments: Vec<Attachment>) -> Envelope;
    /// A send that replies to another message.
    fn reply_to(self, message_id: &str) -> Envelope;
}

impl Build for Envelope {
    fn at(mut self, secs: i64) -> Envelope {
        self.at = t(secs);
        self
    }

    fn key(mut self, key: &str) -> Envelope {
        sent(&mut self).client_message_id = Some(key.into());
        self
    }

    fn attach(mut self, kind: MessageType, attachments: Vec<Attachment>) -> Envelope {
        let m = sent(&mut self);
        m.message_type = kind;
        m.attachments = attachments;
        self
    }

    fn reply_to(mut self, message_id: &str) -> Envelope {
        sent(&mut self).reply_to = Some(message_id.into());
        self
    }
}

fn sent(env: &mut Envelope) -> &mut MessageSent {
    match &mut env.event {
        Event::MessageSent(m) => m,
        other => panic!("not a send: {other:?}"),
    }
}

fn ticket() -> Attachment {
    Attachment::external(
        "https://files.example/ticket.pdf".into(),
        "ticket.pdf".into(),
        "application/pdf".into(),
        48213,
    )
}

/// `api` registrations come from the platform, `token` ones from the customer.
fn register(
    booking: &str,
    customer_id: &str,
    title: Option<&str>,
    source: BookingSource,
) -> Envelope {
    let actor = match source {
        BookingSource::Api => platform(),
        BookingSource::Token => customer(customer_id),
    };
    envelope(
        actor,
        None,
        Event::BookingRegistered(BookingRegistered {
            booking_id: booking.into(),
            customer_id: customer_id.into(),
            title: title.map(Into::into),
            source,
        }),
    )
}

fn create(conversation: &str, booking: &str, title: &str, participants: &[&Actor]) -> Envelope {
    let actor = participants.first().map_or_else(platform, |a| (*a).clone());
    envelope(
        actor,
        Some(conversation),
        Event::ConversationCreated(ConversationCreated {
            booking_id: booking.into(),
            title: title.into(),
            participants: participants.iter().map(|a| joined_as(a)).collect(),
        }),
    )
}

fn joined_as(a: &Actor) -> ParticipantJoined {
    ParticipantJoined {
        user_id: a.id.clone(),
        role: a.role,
        name: a.name.clone().unwrap_or_else(|| a.id.clone()),
    }
}

fn join(conversation: &str, who: &Actor) -> Envelope {
    envelope(
        who.clone(),
        Some(conversation),
        Event::ParticipantJoined(joined_as(who)),
    )
}

fn send(conversation: &str, by: &Actor, message_id: &str, content: &str) -> Envelope {
    envelope(
        by.clone(),
        Some(conversation),
        Event::MessageSent(MessageSent {
            message_id: message_id.into(),
            content: content.into(),
            message_type: MessageType::Text,
            attachments: vec![],
            reply_to: None,
            client_message_id: None,
        }),
    )
}

fn edit(conversation: &str, by: &Actor, message_id: &str, content: &str) -> Envelope {
    envelope(
        by.clone(),
        Some(conversation),
        Event::MessageEdited(MessageEdited {
            message_id: message_id.into(),
            content: content.into(),
        }),
    )
}

fn delete(conversation: &str, by: &Actor, message_id: &str) -> Envelope {
    envelope(
        by.clone(),
        Some(conversation),
        Event::MessageDeleted(MessageDeleted {
            message_id: message_id.into(),
        }),
    )
}

fn react(conversation: &str, by: &Actor, message_id: &str, emoji: &str) -> Envelope {
    envelope(
        by.clone(),
        Some(conversation),
        Event::ReactionAdded(Reaction {
            message_id: message_id.into(),
            emoji: emoji.into(),
        }),
    )
}

fn unreact(conversation: &str, by: &Actor, message_id: &str, emoji: &str) -> Envelope {
    envelope(
        by.clone(),
        Some(conversation),
        Event::ReactionRemoved(Reaction {
            message_id: message_id.into(),
            emoji: emoji.into(),
        }),
    )
}

fn read(conversation: &str, by: &Actor, up_to_seq: u64) -> Envelope {
    envelope(
        by.clone(),
        Some(conversation),
        Event::MessagesRead(MessagesRead { up_to_seq }),
    )
}

fn status(conversation: &str, by: &Actor, from: Status, to: Status) -> Envelope {
    envelope(
        by.clone(),
        Some(conversation),
        Event::ConversationStatusChanged(StatusChanged { from, to }),
    )
}

fn broadcast(by: &Actor, content: &str, audience: Audience) -> Envelope {
    envelope(
        by.clone(),
        None,
        Event::AdminBroadcast(AdminBroadcast {
            content: content.into(),
            audience,
        }),
    )
}

fn typing(conversation: &str, by: &Actor, started: bool) -> Envelope {
    let event = if started {
        Event::TypingStarted(Empty {})
    } else {
        Event::TypingStopped(Empty {})
    };
    envelope(by.clone(), Some(conversation), event)
}

/// `bk1` registered to Ann as "Villa Rosa" (seq 1, at 0 s) and its conversation `c1` with Ann
/// (seq 2, at 1 s). Events after these start at seq 3.
fn opened() -> Vec<Envelope> {
    vec![
        register("bk1", "cus1", Some("Villa Rosa"), BookingSource::Api).at(0),
        create("c1", "bk1", "Villa Rosa", &[&ann()]).at(1),
    ]
}

fn opened_then(more: Vec<Envelope>) -> Vec<Envelope> {
    let mut events = opened();
    events.extend(more);
    events
}

fn ann_joined_at_1() -> ParticipantView {
    ParticipantView {
        user_id: "cus1".into(),
        role: Role::Customer,
        name: "cus1".into(),
        joined_at: t(1),
    }
}

// ---------------------------------------------------------------------------------------------
// booking_registered
// ---------------------------------------------------------------------------------------------

#[test]
fn booking_registered_by_the_api_creates_the_booking() {
    let views = given(&[register("bk1", "cus1", Some("Villa Rosa"), BookingSource::Api).at(5)]);
    assert_eq!(
        booking(&views, "bk1"),
        BookingView {
            booking_id: "bk1".into(),
            customer_id: "cus1".into(),
            title: Some("Villa Rosa".into()),
            conversation_id: None,
            registered_at: t(5),
        }
    );
    assert_eq!(views.stats().unwrap(), StatsView::default());
}

#[test]
fn booking_registered_by_token_creates_a_new_booking_without_title() {
    let views = given(&[register("bk1", "cus1", None, BookingSource::Token).at(5)]);
    let b = booking(&views, "bk1");
    assert_eq!(b.customer_id, "cus1");
    assert_eq!(b.title, None);
    assert_eq!(b.display_title(), "Booking bk1");
}

#[test]
fn booking_registered_by_token_for_a_registered_booking_is_skipped() {
    let mut views = given(&[register(
        "bk1",
        "cus1",
        Some("Villa Rosa"),
        BookingSource::Api,
    )]);
    then_skipped(
        &mut views,
        &register("bk1", "cus2", Some("Other"), BookingSource::Token),
    );
    then_skipped(
        &mut views,
        &register("bk1", "cus1", None, BookingSource::Token),
    );
    assert_eq!(booking(&views, "bk1").customer_id, "cus1");
}

#[test]
fn booking_registered_by_the_api_to_another_customer_is_allowed_before_a_conversation() {
    let views = given(&[
        register("bk1", "cus1", Some("Villa Rosa"), BookingSource::Api).at(0),
        register("bk1", "cus2", None, BookingSource::Api).at(9),
    ]);
    assert_eq!(
        booking(&views, "bk1"),
        BookingView {
            booking_id: "bk1".into(),
            customer_id: "cus2".into(),
            title: Some("Villa Rosa".into()),
            conversation_id: None,
            registered_at: t(0),
        }
    );
}

#[test]
fn booking_registered_by_the_api_to_another_customer_is_skipped_once_it_has_a_conversation() {
    let mut views = given(&opened());
    let reason = then_skipped(
        &mut views,
        &register("bk1", "cus2", Some("Stolen"), BookingSource::Api),
    );
    assert!(reason.contains("another customer"), "{reason}");
    assert_eq!(booking(&views, "bk1").customer_id, "cus1");
    assert_eq!(conv(&views, "c1").title, "Villa Rosa");
}

#[test]
fn booking_registered_without_title_keeps_the_title() {
    let mut views = given(&opened());
    then_applied(
        &mut views,
        &register("bk1", "cus1", None, BookingSource::Api),
    );
    assert_eq!(booking(&views, "bk1").title, Some("Villa Rosa".into()));
    assert_eq!(conv(&views, "c1").title, "Villa Rosa");
}

#[test]
fn conversation_title_follows_the_booking_title() {
    let mut views = given(&[
        register("bk1", "cus1", None, BookingSource::Token).at(0),
        create("c1", "bk1", "Booking bk1", &[&ann()]).at(1),
    ]);
    assert_eq!(conv(&views, "c1").title, "Booking bk1");
    then_applied(
        &mut views,
        &register("bk1", "cus1", Some("Villa Rosa"), BookingSource::Api).at(50),
    );
    let c = conv(&views, "c1");
    assert_eq!(c.title, "Villa Rosa");
    assert_eq!(booking(&views, "bk1").title, Some("Villa Rosa".into()));
    // A title is not activity: updatedAt moves only with messages and status.
    assert_eq!(c.updated_at, t(1));
}

// ---------------------------------------------------------------------------------------------
// conversation_created
// ---------------------------------------------------------------------------------------------

#[test]
fn conversation_created_opens_the_conversation_of_the_booking() {
    let views = given(&opened());
    assert_eq!(
        conv(&views, "c1"),
        ConversationView {
            id: "c1".into(),
            booking_id: "bk1".into(),
            title: "Villa Rosa".into(),
            participants: vec![ann_joined_at_1()],
            status: Status::Active,
            created_at: t(1),
            updated_at: t(1),
            last_message: None,
            message_count: 0,
            live_count: 0,
            unread: unread(&[("cus1", 0)]),
            read_points: BTreeMap::new(),
            first_customer_message_at: None,
            first_admin_reply_at: None,
            last_message_seq: 0,
            last_seq: 2,
            chunk_start: 0,
            assignee: None,
            labels: vec![],
            priority: Priority::Normal,
            snoozed_until: None,
            waiting_since: None,
            resolution_ms: None,
            rating: None,
            note_count: 0,
        }
    );
    assert_eq!(booking(&views, "bk1").conversation_id, Some("c1".into()));
    assert_eq!(
        views.stats().unwrap(),
        StatsView {
            total_conversations: 1,
            active: 1,
            ..StatsView::default()
        }
    );
    assert_eq!(views.conversations().unwrap().len(), 1);
}

#[test]
fn conversation_created_with_an_admin_participant_uses_their_name() {
    let views = given(&[
        register("bk1", "cus1", None, BookingSource::Api),
        create("c1", "bk1", "Booking bk1", &[&ann(), &bo()]).at(3),
    ]);
    let c = conv(&views, "c1");
    assert_eq!(
        c.participants[1],
        ParticipantView {
            user_id: "adm1".into(),
            role: Role::Admin,
            name: "Bo".into(),
            joined_at: t(3),
        }
    );
    assert_eq!(c.unread, unread(&[("adm1", 0), ("cus1", 0)]));
    assert_eq!(c.customer_id(), Some("cus1"));
}

#[test]
fn a_second_conversation_for_a_booking_is_skipped() {
    let mut views = given(&opened());
    then_skipped(&mut views, &create("c2", "bk1", "Villa Rosa", &[&ann()]));
    assert_eq!(views.conversation("c2").unwrap(), None);
    assert_eq!(booking(&views, "bk1").conversation_id, Some("c1".into()));
    assert_eq!(views.stats().unwrap().total_conversations, 1);
}

#[test]
fn conversation_created_with_a_used_id_or_an_unknown_booking_is_skipped() {
    let mut views = given(&opened_then(vec![register(
        "bk2",
        "cus2",
        None,
        BookingSource::Api,
    )]));
    then_skipped(
        &mut views,
        &create("c1", "bk2", "Booking bk2", &[&customer("cus2")]),
    );
    then_skipped(&mut views, &create("c9", "bk9", "Booking bk9", &[&ann()]));
    assert_eq!(booking(&views, "bk2").conversation_id, None);
    assert_eq!(views.stats().unwrap().total_conversations, 1);
}

// ---------------------------------------------------------------------------------------------
// participant_joined
// ---------------------------------------------------------------------------------------------

#[test]
fn participant_joined_has_read_nothing_yet() {
    let views = given(&opened_then(vec![
        send("c1", &ann(), "m1", "one").at(10),
        send("c1", &ann(), "m2", "two").at(11),
        delete("c1", &ann(), "m2").at(12),
        join("c1", &bo()).at(20),
    ]));
    let c = conv(&views, "c1");
    assert_eq!(
        c.participants,
        vec![
            ann_joined_at_1(),
            ParticipantView {
                user_id: "adm1".into(),
                role: Role::Admin,
                name: "Bo".into(),
                joined_at: t(20),
            }
        ]
    );
    // Only the live message of others counts.
    assert_eq!(c.unread, unread(&[("adm1", 1), ("cus1", 0)]));
    assert!(!c.read_points.contains_key("adm1"));
    // Joining is not activity.
    assert_eq!(c.updated_at, t(12));
    assert_eq!(c.last_seq, 6);
}

#[test]
fn participant_joined_twice_or_as_a_service_is_skipped() {
    let mut views = given(&opened_then(vec![join("c1", &bo())]));
    then_skipped(&mut views, &join("c1", &bo()));
    then_skipped(&mut views, &join("c1", &ann()));
    then_skipped(&mut views, &join("c1", &platform()));
    then_skipped(&mut views, &join("c9", &cy()));
    assert_eq!(conv(&views, "c1").participants.len(), 2);
}

// ---------------------------------------------------------------------------------------------
// message_sent
// ---------------------------------------------------------------------------------------------

#[test]
fn message_sent_stores_the_message_and_counts_it_unread_for_the_others() {
    let views = given(&opened_then(vec![
        join("c1", &bo()).at(5),
        send("c1", &ann(), "m1", "Can I check in early?").at(10),
    ]));
    assert_eq!(
        msg(&views, "m1"),
        MessageView {
            id: "m1".into(),
            conversation_id: "c1".into(),
            seq: 4,
            sender: "cus1".into(),
            sender_role: Role::Customer,
            content: "Can I check in early?".into(),
            message_type: MessageType::Text,
            attachments: vec![],
            reply_to: None,
            read_by: vec![],
            reactions: vec![],
            is_deleted: false,
            deleted_at: None,
            is_edited: false,
            edited_at: None,
            created_at: t(10),
            updated_at: t(10),
            client_message_id: None,
            internal: false,
        }
    );
    assert_eq!(views.locate("m1").unwrap(), Some(("c1".into(), 4)));
    let c = conv(&views, "c1");
    assert_eq!(c.unread, unread(&[("adm1", 1), ("cus1", 0)]));
    assert_eq!(
        c.read_points,
        BTreeMap::from([("cus1".to_string(), ReadPoint { seq: 4, at: t(10) })])
    );
    assert_eq!(
        c.last_message,
        Some(LastMessage {
            id: "m1".into(),
            content: "Can I check in early?".into(),
            sender: "cus1".into(),
            message_type: MessageType::Text,
            timestamp: t(10),
            seq: 4,
        })
    );
    assert_eq!((c.message_count, c.live_count), (1, 1));
    assert_eq!((c.last_message_seq, c.last_seq), (4, 4));
    assert_eq!(c.updated_at, t(10));
    assert_eq!(c.first_customer_message_at, Some(t(10)));
    assert_eq!(c.first_admin_reply_at, None);
    assert_eq!(
        c.unread_for("adm9"),
        1,
        "an admin who has not joined has read nothing"
    );
    assert_eq!(
        views.stats().unwrap(),
        StatsView {
            total_conversations: 1,
            active: 1,
            total_messages: 1,
            ..StatsView::default()
        }
    );
    assert_eq!(views.live_messages_since(t(10)).unwrap(), 1);
}

fn upload(id: &str) -> Attachment {
    Attachment {
        url: format!("/messaging/attachments/{id}"),
        filename: "door.jpg".into(),
        mimetype: "image/jpeg".into(),
        size: 18079,
        id: Some(id.into()),
        width: Some(640),
        height: Some(480),
        duration_ms: None,
        thumbnail: true,
    }
}

#[test]
fn an_upload_is_carried_by_the_first_message_that_names_it_and_no_other() {
    let views = given(&opened_then(vec![
        send("c1", &ann(), "m1", "")
            .attach(MessageType::Image, vec![upload("u1")])
            .at(10),
        send("c1", &ann(), "m2", "again")
            .attach(MessageType::Image, vec![upload("u1")])
            .at(11),
    ]));
    let m = msg(&views, "m1");
    assert_eq!(m.attachments.len(), 1);
    assert_eq!(m.attachments[0].id.as_deref(), Some("u1"));
    assert_eq!(
        m.attachments[0].thumbnail_url.as_deref(),
        Some("/messaging/attachments/u1/thumbnail")
    );
    assert_eq!(
        (m.attachments[0].width, m.attachments[0].height),
        (Some(640), Some(480))
    );
    assert_eq!(views.attachment_use("u1").unwrap(), Some("m1".to_string()));
    assert_eq!(views.message_by_id("m2").unwrap(), None);
    assert_eq!(views.attachment_use("u2").unwrap(), None);
}

#[test]
fn message_sent_keeps_type_attachments_reply_and_client_key_as_given() {
    let views = given(&opened_then(vec![
        send("c1", &ann(), "m1", "hi").at(10),
        send("c1", &ann(), "m2", "")
            .attach(MessageType::File, vec![ticket()])
            .reply_to("m1")
            .key("k-1")
            .at(11),
    ]));
    let m = msg(&views, "m2");
    assert_eq!(m.message_type, MessageType::File);
    assert_eq!(m.attachments, vec![AttachmentView::from(&ticket())]);
    assert_eq!(m.reply_to, Some("m1".into()));
    assert_eq!(m.client_message_id, Some("k-1".into()));
    assert_eq!(m.content, "");
    assert_eq!(
        views.client_key("c1", "cus1", "k-1").unwrap(),
        Some("m2".into())
    );
    let last = conv(&views, "c1").last_message.unwrap();
    assert_eq!(
        (last.id.as_str(), last.message_type),
        ("m2", MessageType::File)
    );
}

#[test]
fn message_sent_counts_unread_per_participant_and_the_sender_reads_what_came_before() {
    let mut views = given(&opened_then(vec![
        join("c1", &bo()).at(3),
        join("c1", &cy()).at(4),
        send("c1", &ann(), "m1", "one").at(10),
        send("c1", &ann(), "m2", "two").at(20),
        send("c1", &bo(), "m3", "three").at(30),
    ]));
    let c = conv(&views, "c1");
    assert_eq!(c.unread, unread(&[("adm1", 0), ("adm2", 3), ("cus1", 1)]));
    assert_eq!(c.read_points["adm1"], ReadPoint { seq: 7, at: t(30) });
    assert_eq!(msg(&views, "m1").read_by, receipts(&[("adm1", 30)]));
    assert_eq!(msg(&views, "m2").read_by, receipts(&[("adm1", 30)]));
    assert_eq!(msg(&views, "m3").read_by, vec![]);

    then_applied(&mut views, &send("c1", &cy(), "m4", "four").at(40));
    let c = conv(&views, "c1");
    assert_eq!(c.unread, unread(&[("adm1", 1), ("adm2", 0), ("cus1", 2)]));
    assert_eq!(
        msg(&views, "m1").read_by,
        receipts(&[("adm1", 30), ("adm2", 40)])
    );
    assert_eq!(msg(&views, "m3").read_by, receipts(&[("adm2", 40)]));
    assert_eq!(msg(&views, "m4").read_by, vec![]);

    // Ann's read point jumps to just before her send: m3 and m4 are read by her then.
    then_applied(&mut views, &send("c1", &ann(), "m5", "five").at(50));
    assert_eq!(
        msg(&views, "m3").read_by,
        receipts(&[("adm2", 40), ("cus1", 50)])
    );
    assert_eq!(msg(&views, "m4").read_by, receipts(&[("cus1", 50)]));
    assert_eq!(
        msg(&views, "m1").read_by,
        receipts(&[("adm1", 30), ("adm2", 40)])
    );
    assert_eq!(
        conv(&views, "c1").unread,
        unread(&[("adm1", 2), ("adm2", 1), ("cus1", 0)])
    );
}

#[test]
fn an_admin_who_sends_joins_with_the_name_of_the_token() {
    let views = given(&opened_then(vec![
        send("c1", &ann(), "m1", "hello?").at(10),
        send("c1", &admin("adm2", Some("Cy")), "m2", "hi Ann").at(20),
    ]));
    let c = conv(&views, "c1");
    assert_eq!(
        c.participants,
        vec![
            ann_joined_at_1(),
            ParticipantView {
                user_id: "adm2".into(),
                role: Role::Admin,
                name: "Cy".into(),
                joined_at: t(20),
            }
        ]
    );
    assert_eq!(c.unread, unread(&[("adm2", 0), ("cus1", 1)]));
    assert_eq!(msg(&views, "m1").read_by, receipts(&[("adm2", 20)]));
    assert_eq!(msg(&views, "m2").sender_role, Role::Admin);
}

#[test]
fn an_admin_without_a_name_who_sends_joins_with_their_id() {
    let views = given(&opened_then(vec![send(
        "c1",
        &admin("adm3", None),
        "m1",
        "hi",
    )
    .at(10)]));
    let c = conv(&views, "c1");
    assert_eq!(c.participants[1].name, "adm3");
    assert_eq!(c.participants[1].joined_at, t(10));
    assert_eq!(c.unread, unread(&[("adm3", 0), ("cus1", 1)]));
}

#[test]
fn message_sent_by_a_customer_who_is_not_a_participant_is_skipped() {
    let mut views = given(&opened());
    then_skipped(
        &mut views,
        &send("c1", &customer("cus2"), "m1", "let me in"),
    );
    then_skipped(&mut views, &send("c1", &platform(), "m1", "service"));
    then_skipped(
        &mut views,
        &send("c9", &ann(), "m1", "unknown conversation"),
    );
    assert_eq!(views.message_by_id("m1").unwrap(), None);
}

#[test]
fn message_sent_to_a_closed_conversation_is_skipped() {
    let mut views = given(&opened_then(vec![status(
        "c1",
        &bo(),
        Status::Active,
        Status::Closed,
    )
    .at(5)]));
    let reason = then_skipped(&mut views, &send("c1", &ann(), "m1", "anyone?").at(10));
    assert!(reason.contains("closed"), "{reason}");
    then_skipped(&mut views, &send("c1", &bo(), "m2", "admin too").at(11));
    assert_eq!(views.stats().unwrap().total_messages, 0);
}

#[test]
fn a_closed_conversation_takes_no_edits_or_reactions_but_deletes() {
    let mut views = given(&opened_then(vec![
        send("c1", &ann(), "m1", "my card number is ...").at(2),
        react("c1", &ann(), "m1", "👍").at(3),
        status("c1", &bo(), Status::Active, Status::Closed).at(5),
    ]));
    for late in [
        edit("c1", &ann(), "m1", "too late").at(6),
        react("c1", &bo(), "m1", "🎉").at(7),
        unreact("c1", &ann(), "m1", "👍").at(8),
    ] {
        assert_eq!(then_skipped(&mut views, &late), "conversation is closed");
    }
    let m = msg(&views, "m1");
    assert_eq!(m.content, "my card number is ...");
    assert_eq!(m.reactions.len(), 1);
    then_applied(&mut views, &delete("c1", &ann(), "m1").at(9));
    assert!(msg(&views, "m1").is_deleted);
    assert_eq!(msg(&views, "m1").content, "");
}

#[test]
fn message_sent_to_an_archived_conversation_makes_it_active() {
    let mut views = given(&opened_then(vec![status(
        "c1",
        &bo(),
        Status::Active,
        Status::Archived,
    )
    .at(5)]));
    assert_eq!(
        (
            views.stats().unwrap().active,
            views.stats().unwrap().archived
        ),
        (0, 1)
    );
    then_applied(&mut views, &send("c1", &ann(), "m1", "back again").at(10));
    let c = conv(&views, "c1");
    assert_eq!(c.status, Status::Active);
    assert_eq!(c.updated_at, t(10));
    assert_eq!(
        views.stats().unwrap(),
        StatsView {
            total_conversations: 1,
            active: 1,
            archived: 0,
            closed: 0,
            total_messages: 1,
            ..StatsView::default()
        }
    );
}

#[test]
fn message_sent_with_a_used_client_key_by_the_same_sender_is_skipped() {
    let mut views = given(&opened_then(vec![
        register("bk2", "cus1", None, BookingSource::Api),
        create("c2", "bk2", "Booking bk2", &[&ann()]),
        send("c1", &ann(), "m1", "hi").key("k1").at(10),
    ]));
    let reason = then_skipped(&mut views, &send("c1", &ann(), "m2", "whatever").key("k1"));
    assert!(reason.contains("client key"), "{reason}");
    // Another sender, or another conversation, may use the same key.
    then_applied(&mut views, &send("c1", &bo(), "m3", "hi").key("k1"));
    then_applied(&mut views, &send("c2", &ann(), "m4", "hi").key("k1"));
    assert_eq!(
        views.client_key("c1", "cus1", "k1").unwrap(),
        Some("m1".into())
    );
    assert_eq!(
        views.client_key("c1", "adm1", "k1").unwrap(),
        Some("m3".into())
    );
    assert_eq!(
        views.client_key("c2", "cus1", "k1").unwrap(),
        Some("m4".into())
    );
    assert_eq!(views.message_by_id("m2").unwrap(), None);
    assert_eq!(views.stats().unwrap().total_messages, 3);
}

#[test]
fn message_sent_with_a_used_message_id_is_skipped() {
    let mut views = given(&opened_then(vec![send("c1", &ann(), "m1", "hi").at(10)]));
    then_skipped(&mut views, &send("c1", &ann(), "m1", "again").at(11));
    then_skipped(&mut views, &send("c1", &bo(), "m1", "again").at(11));
    assert_eq!(msg(&views, "m1").content, "hi");
}

#[test]
fn last_message_keeps_the_first_100_scalar_values() {
    let content = format!("{}{}", "é".repeat(60), "👍".repeat(60));
    let views = given(&opened_then(
        vec![send("c1", &ann(), "m1", &content).at(10)],
    ));
    assert_eq!(msg(&views, "m1").content, content);
    let last = conv(&views, "c1").last_message.unwrap();
    assert_eq!(
        last.content,
        format!("{}{}", "é".repeat(60), "👍".repeat(40))
    );
    assert_eq!(last.content.chars().count(), 100);
}

#[test]
fn first_response_time_runs_from_the_first_customer_message_to_the_first_admin_reply() {
    let mut views = given(&opened_then(vec![
        // An admin message before any customer message is no reply.
        send("c1", &bo(), "m0", "welcome").at(5),
        send("c1", &ann(), "m1", "question").at(10),
        send("c1", &ann(), "m2", "hello?").at(20),
        send("c1", &bo(), "m3", "answer").at(70),
        send("c1", &ann(), "m4", "thanks").at(80),
        send("c1", &cy(), "m5", "another admin").at(90),
    ]));
    let c = conv(&views, "c1");
    assert_eq!(c.first_customer_message_at, Some(t(10)));
    assert_eq!(c.first_admin_reply_at, Some(t(70)));
    let stats = views.stats().unwrap();
    assert_eq!(
        (stats.first_response_ms_sum, stats.first_response_count),
        (60_000, 1)
    );

    for env in [
        register("bk2", "cus2", None, BookingSource::Api).at(100),
        create("c2", "bk2", "Booking bk2", &[&customer("cus2")]).at(100),
        send("c2", &customer("cus2"), "n1", "hi").at(100),
        send("c2", &cy(), "n2", "hello").at(125),
    ] {
        then_applied(&mut views, &env);
    }
    let stats = views.stats().unwrap();
    assert_eq!(
        (stats.first_response_ms_sum, stats.first_response_count),
        (85_000, 2)
    );
    assert_eq!(stats.total_messages, 8);
}

// ---------------------------------------------------------------------------------------------
// message_edited
// ---------------------------------------------------------------------------------------------

#[test]
fn message_edited_by_its_sender_changes_content_and_last_message() {
    let mut views = given(&opened_then(vec![
        join("c1", &bo()),
        send("c1", &ann(), "m1", "one").at(10),
        send("c1", &ann(), "m2", "two").at(20),
        edit("c1", &ann(), "m2", "two, edited").at(30),
    ]));
    let m2 = msg(&views, "m2");
    assert_eq!(m2.content, "two, edited");
    assert!(m2.is_edited);
    assert_eq!(m2.edited_at, Some(t(30)));
    assert_eq!((m2.created_at, m2.updated_at), (t(20), t(30)));
    let c = conv(&views, "c1");
    assert_eq!(
        c.last_message,
        Some(LastMessage {
            id: "m2".into(),
            content: "two, edited".into(),
            sender: "cus1".into(),
            message_type: MessageType::Text,
            timestamp: t(20),
            seq: 5,
        })
    );
    assert_eq!(c.updated_at, t(30));
    assert_eq!(c.unread, unread(&[("adm1", 2), ("cus1", 0)]));

    // Editing an older message leaves lastMessage alone.
    then_applied(&mut views, &edit("c1", &ann(), "m1", "one, edited").at(40));
    assert_eq!(msg(&views, "m1").content, "one, edited");
    let c = conv(&views, "c1");
    assert_eq!(c.last_message.unwrap().content, "two, edited");
    assert_eq!(c.updated_at, t(40));
    assert_eq!(views.stats().unwrap().total_messages, 2);
}

#[test]
fn message_edited_long_content_is_cut_in_last_message() {
    let long = "x".repeat(150);
    let views = given(&opened_then(vec![
        send("c1", &ann(), "m1", "short").at(10),
        edit("c1", &ann(), "m1", &long).at(20),
    ]));
    assert_eq!(msg(&views, "m1").content, long);
    assert_eq!(
        conv(&views, "c1").last_message.unwrap().content,
        "x".repeat(100)
    );
}

#[test]
fn message_edited_by_another_user_of_a_deleted_or_unknown_message_is_skipped() {
    let mut views = given(&opened_then(vec![
        register("bk2", "cus2", None, BookingSource::Api),
        create("c2", "bk2", "Booking bk2", &[&customer("cus2")]),
        send("c2", &customer("cus2"), "n1", "elsewhere").at(5),
        send("c1", &ann(), "m1", "one").at(10),
        send("c1", &bo(), "m2", "two").at(20),
    ]));
    then_skipped(
        &mut views,
        &edit("c1", &bo(), "m1", "admins cannot edit others"),
    );
    then_skipped(&mut views, &edit("c1", &ann(), "m2", "nor customers"));
    then_skipped(&mut views, &edit("c1", &ann(), "m9", "unknown"));
    let reason = then_skipped(
        &mut views,
        &edit("c1", &customer("cus2"), "n1", "elsewhere"),
    );
    assert_eq!(
        reason, "unknown message",
        "a message of another conversation"
    );
    then_applied(&mut views, &delete("c1", &ann(), "m1").at(30));
    then_skipped(&mut views, &edit("c1", &ann(), "m1", "deleted").at(40));
    assert_eq!(msg(&views, "m1").content, "");
    assert!(!msg(&views, "m1").is_edited);
}

// ---------------------------------------------------------------------------------------------
// message_deleted
// ---------------------------------------------------------------------------------------------

#[test]
fn message_deleted_blanks_the_message_and_drops_it_from_unread_counts() {
    let mut views = given(&opened_then(vec![
        join("c1", &bo()).at(3),
        join("c1", &cy()).at(4),
        send("c1", &ann(), "m1", "ticket attached")
            .attach(MessageType::File, vec![ticket()])
            .at(10),
        send("c1", &ann(), "m2", "two").at(20),
        read("c1", &bo(), 5).at(25),
    ]));
    assert_eq!(
        conv(&views, "c1").unread,
        unread(&[("adm1", 1), ("adm2", 2), ("cus1", 0)])
    );

    then_applied(&mut views, &delete("c1", &ann(), "m1").at(30));
    let m1 = msg(&views, "m1");
    assert_eq!(m1.content, "");
    assert_eq!(m1.attachments, vec![]);
    assert!(m1.is_deleted);
    assert_eq!(m1.deleted_at, Some(t(30)));
    assert_eq!(m1.updated_at, t(30));
    assert_eq!(m1.seq, 5, "a deleted message keeps its place");
    assert_eq!(m1.message_type, MessageType::File);

    let c = conv(&views, "c1");
    // Bo had read m1: his count stays; Cy had not: hers drops.
    assert_eq!(c.unread, unread(&[("adm1", 1), ("adm2", 1), ("cus1", 0)]));
    assert_eq!((c.message_count, c.live_count), (2, 1));
    assert_eq!(c.last_message.as_ref().map(|l| l.id.as_str()), Some("m2"));
    assert_eq!(c.updated_at, t(30));
    assert_eq!(views.stats().unwrap().total_messages, 1);
    assert_eq!(views.live_messages_since(t(0)).unwrap(), 1);
    assert_eq!(c.unread_for("adm9"), 1);
}

#[test]
fn message_deleted_last_message_falls_back_to_the_newest_live_message() {
    let mut views = given(&opened_then(vec![
        send("c1", &ann(), "m1", "one").at(10),
        send("c1", &ann(), "m2", "two").at(20),
        send("c1", &ann(), "m3", "three").at(30),
        delete("c1", &ann(), "m2").at(40),
    ]));
    assert_eq!(conv(&views, "c1").last_message.unwrap().id, "m3");

    // An admin who is no participant may delete, and does not join by it.
    then_applied(&mut views, &delete("c1", &bo(), "m3").at(50));
    let c = conv(&views, "c1");
    assert_eq!(
        c.last_message,
        Some(LastMessage {
            id: "m1".into(),
            content: "one".into(),
            sender: "cus1".into(),
            message_type: MessageType::Text,
            timestamp: t(10),
            seq: 3,
        })
    );
    assert_eq!(c.participants, vec![ann_joined_at_1()]);

    then_applied(&mut views, &delete("c1", &ann(), "m1").at(60));
    let c = conv(&views, "c1");
    assert_eq!(c.last_message, None);
    assert_eq!((c.message_count, c.live_count), (3, 0));
    assert_eq!(c.last_message_seq, 5);
    assert_eq!(c.updated_at, t(60));
    assert_eq!(views.stats().unwrap().total_messages, 0);
    assert_eq!(views.live_messages_since(t(0)).unwrap(), 0);
}

#[test]
fn message_deleted_twice_by_another_customer_or_unknown_is_skipped() {
    let mut views = given(&opened_then(vec![
        send("c1", &ann(), "m1", "one").at(10),
        send("c1", &ann(), "m2", "two").at(20),
        delete("c1", &ann(), "m2").at(30),
    ]));
    let reason = then_skipped(&mut views, &delete("c1", &ann(), "m2").at(40));
    assert!(reason.contains("already deleted"), "{reason}");
    then_skipped(&mut views, &delete("c1", &customer("cus2"), "m1"));
    then_skipped(&mut views, &delete("c1", &ann(), "m9"));
    then_skipped(&mut views, &delete("c9", &ann(), "m1"));
    assert_eq!(views.stats().unwrap().total_messages, 1);
    assert_eq!(conv(&views, "c1").updated_at, t(30));
}

// ---------------------------------------------------------------------------------------------
// reaction_added / reaction_removed
// ---------------------------------------------------------------------------------------------

#[test]
fn reactions_are_one_per_user_and_emoji() {
    let mut views = given(&opened_then(vec![
        send("c1", &ann(), "m1", "one").at(10),
        react("c1", &bo(), "m1", "👍").at(20),
    ]));
    assert_eq!(
        msg(&views, "m1").reactions,
        vec![ReactionView {
            user: "adm1".into(),
            emoji: "👍".into(),
            created_at: t(20),
        }]
    );
    then_skipped(&mut views, &react("c1", &bo(), "m1", "👍").at(25));
    then_applied(&mut views, &react("c1", &ann(), "m1", "👍").at(30));
    then_applied(&mut views, &react("c1", &bo(), "m1", "🎉").at(40));
    then_applied(&mut views, &unreact("c1", &bo(), "m1", "👍").at(50));
    then_skipped(&mut views, &unreact("c1", &bo(), "m1", "👍").at(55));
    then_skipped(&mut views, &unreact("c1", &cy(), "m1", "🎉").at(55));
    then_skipped(&mut views, &react("c1", &bo(), "m9", "👍"));
    then_skipped(&mut views, &react("c9", &bo(), "m1", "👍"));
    assert_eq!(
        msg(&views, "m1").reactions,
        vec![
            ReactionView {
                user: "cus1".into(),
                emoji: "👍".into(),
                created_at: t(30),
            },
            ReactionView {
                user: "adm1".into(),
                emoji: "🎉".into(),
                created_at: t(40),
            },
        ]
    );
    let c = conv(&views, "c1");
    assert_eq!(
        c.updated_at,
        t(10),
        "reactions are not conversation activity"
    );
    assert_eq!(c.participants, vec![ann_joined_at_1()]);
}

#[test]
fn a_deleted_message_takes_no_reactions_and_loses_none() {
    let mut views = given(&opened_then(vec![
        send("c1", &ann(), "m1", "one").at(10),
        react("c1", &bo(), "m1", "👍").at(20),
        delete("c1", &ann(), "m1").at(30),
    ]));
    then_skipped(&mut views, &react("c1", &ann(), "m1", "👀"));
    then_skipped(&mut views, &unreact("c1", &bo(), "m1", "👍"));
    assert_eq!(
        msg(&views, "m1").reactions,
        vec![ReactionView {
            user: "adm1".into(),
            emoji: "👍".into(),
            created_at: t(20),
        }]
    );
}

// ---------------------------------------------------------------------------------------------
// messages_read
// ---------------------------------------------------------------------------------------------

#[test]
fn messages_read_gives_receipts_and_recounts_unread() {
    // seq: 3 join, 4 m1, 5 m2 (Bo), 6 m3, 7 m4, 8 m5, 9 delete m4.
    let mut views = given(&opened_then(vec![
        join("c1", &bo()).at(3),
        send("c1", &ann(), "m1", "one").at(10),
        send("c1", &bo(), "m2", "two").at(20),
        send("c1", &ann(), "m3", "three").at(30),
        send("c1", &ann(), "m4", "four").at(40),
        send("c1", &ann(), "m5", "five").at(50),
        delete("c1", &ann(), "m4").at(55),
    ]));
    assert_eq!(conv(&views, "c1").unread["adm1"], 2);

    then_applied(&mut views, &read("c1", &bo(), 6).at(60));
    let c = conv(&views, "c1");
    assert_eq!(c.read_points["adm1"], ReadPoint { seq: 6, at: t(60) });
    // After seq 6: m4 (deleted) and m5: one unread.
    assert_eq!(c.unread, unread(&[("adm1", 1), ("cus1", 0)]));
    assert_eq!(msg(&views, "m1").read_by, receipts(&[("adm1", 20)]));
    assert_eq!(msg(&views, "m2").read_by, receipts(&[("cus1", 30)]));
    assert_eq!(msg(&views, "m3").read_by, receipts(&[("adm1", 60)]));
    assert_eq!(msg(&views, "m5").read_by, vec![]);
    // Reading is not activity.
    assert_eq!(c.updated_at, t(55));

    then_applied(&mut views, &read("c1", &bo(), 9).at(70));
    let c = conv(&views, "c1");
    assert_eq!(c.unread, unread(&[("adm1", 0), ("cus1", 0)]));
    assert_eq!(c.read_points["adm1"], ReadPoint { seq: 9, at: t(70) });
    assert_eq!(msg(&views, "m3").read_by, receipts(&[("adm1", 60)]));
    assert_eq!(msg(&views, "m5").read_by, receipts(&[("adm1", 70)]));
}

#[test]
fn messages_read_below_the_current_read_point_changes_nothing() {
    let mut views = given(&opened_then(vec![
        join("c1", &bo()).at(3),
        send("c1", &ann(), "m1", "one").at(10),
        send("c1", &ann(), "m2", "two").at(20),
        read("c1", &bo(), 5).at(30),
    ]));
    let conv_before = conv(&views, "c1");
    let messages_before = views
        .messages("c1", 0, u64::MAX, false, usize::MAX)
        .unwrap();
    for up_to in [5, 4, 0] {
        assert_eq!(
            then_skipped(&mut views, &read("c1", &bo(), up_to).at(40)),
            "already read"
        );
        assert_eq!(conv(&views, "c1"), conv_before, "read up to {up_to}");
        assert_eq!(
            views
                .messages("c1", 0, u64::MAX, false, usize::MAX)
                .unwrap(),
            messages_before
        );
    }
    assert_eq!(
        conv_before.read_points["adm1"],
        ReadPoint { seq: 5, at: t(30) }
    );
    assert_eq!(msg(&views, "m2").read_by, receipts(&[("adm1", 30)]));
}

#[test]
fn messages_read_by_an_admin_who_is_no_participant_joins_them() {
    let mut views = given(&opened_then(vec![
        send("c1", &ann(), "m1", "one").at(10),
        send("c1", &ann(), "m2", "two").at(20),
    ]));
    then_applied(&mut views, &read("c1", &cy(), 3).at(30));
    let c = conv(&views, "c1");
    assert_eq!(
        c.participants[1],
        ParticipantView {
            user_id: "adm2".into(),
            role: Role::Admin,
            name: "Cy".into(),
            joined_at: t(30),
        }
    );
    assert_eq!(c.unread, unread(&[("adm2", 1), ("cus1", 0)]));
    assert_eq!(msg(&views, "m1").read_by, receipts(&[("adm2", 30)]));
    assert_eq!(msg(&views, "m2").read_by, vec![]);

    then_applied(&mut views, &read("c1", &admin("adm3", None), 4).at(40));
    let c = conv(&views, "c1");
    assert_eq!(c.participants[2].name, "adm3");
    assert_eq!(c.unread["adm3"], 0);
}

#[test]
fn messages_read_by_a_customer_who_is_no_participant_is_skipped() {
    let mut views = given(&opened_then(vec![send("c1", &ann(), "m1", "one").at(10)]));
    then_skipped(&mut views, &read("c1", &customer("cus2"), 3));
    then_skipped(&mut views, &read("c1", &platform(), 3));
    then_skipped(&mut views, &read("c9", &bo(), 3));
}

// ---------------------------------------------------------------------------------------------
// conversation_status_changed
// ---------------------------------------------------------------------------------------------

#[test]
fn conversation_status_changed_moves_the_stats_between_statuses() {
    let mut views = given(&opened_then(vec![status(
        "c1",
        &bo(),
        Status::Active,
        Status::Archived,
    )
    .at(10)]));
    let c = conv(&views, "c1");
    assert_eq!(
        (c.status, c.updated_at, c.last_seq),
        (Status::Archived, t(10), 3)
    );
    assert_eq!(c.participants, vec![ann_joined_at_1()]);
    assert_eq!(
        views.stats().unwrap(),
        StatsView {
            total_conversations: 1,
            archived: 1,
            ..StatsView::default()
        }
    );

    then_skipped(
        &mut views,
        &status("c1", &bo(), Status::Archived, Status::Archived).at(15),
    );

    then_applied(
        &mut views,
        &status("c1", &bo(), Status::Archived, Status::Closed).at(20),
    );
    assert_eq!(
        views.stats().unwrap(),
        StatsView {
            total_conversations: 1,
            closed: 1,
            ..StatsView::default()
        }
    );
    // A closed conversation can be reopened.
    then_applied(
        &mut views,
        &status("c1", &bo(), Status::Closed, Status::Active).at(30),
    );
    let c = conv(&views, "c1");
    assert_eq!((c.status, c.updated_at), (Status::Active, t(30)));
    assert_eq!(
        views.stats().unwrap(),
        StatsView {
            total_conversations: 1,
            active: 1,
            ..StatsView::default()
        }
    );
    then_skipped(
        &mut views,
        &status("c9", &bo(), Status::Active, Status::Closed),
    );
}

#[test]
fn stats_count_conversations_by_status_across_conversations() {
    let views = given(&opened_then(vec![
        register("bk2", "cus2", None, BookingSource::Api),
        create("c2", "bk2", "Booking bk2", &[&customer("cus2")]),
        register("bk3", "cus3", None, BookingSource::Api),
        create("c3", "bk3", "Booking bk3", &[&customer("cus3")]),
        status("c2", &bo(), Status::Active, Status::Closed),
        status("c3", &bo(), Status::Active, Status::Archived),
    ]));
    assert_eq!(
        views.stats().unwrap(),
        StatsView {
            total_conversations: 3,
            active: 1,
            archived: 1,
            closed: 1,
            ..StatsView::default()
        }
    );
}

// ---------------------------------------------------------------------------------------------
// admin_broadcast, typing, unknown events
// ---------------------------------------------------------------------------------------------

#[test]
fn admin_broadcast_counts_a_broadcast_and_nothing_else() {
    let mut views = given(&opened_then(vec![send("c1", &ann(), "m1", "one").at(10)]));
    let mut before = views.kv.map.clone();
    then_applied(
        &mut views,
        &broadcast(&bo(), "Maintenance at noon", Audience::All).at(20),
    );
    assert_eq!(
        views.stats().unwrap(),
        StatsView {
            total_conversations: 1,
            active: 1,
            total_messages: 1,
            broadcasts: 1,
            ..StatsView::default()
        }
    );
    let mut after = views.kv.map.clone();
    for map in [&mut before, &mut after] {
        map.remove(b"s".as_slice());
        map.remove(b"x/checkpoint".as_slice());
    }
    assert_eq!(after, before, "a broadcast changes only the stats");
}

#[test]
fn typing_is_not_folded() {
    let mut views = given(&opened());
    then_skipped(&mut views, &typing("c1", &ann(), true));
    then_skipped(&mut views, &typing("c1", &ann(), false));
}

#[test]
fn unknown_event_types_and_versions_do_not_decode_to_anything_to_fold() {
    let unknown = br#"{"v":1,"id":"x","type":"made_up","at":"2026-11-24T10:15:00.000Z","actor":{"id":"a","role":"admin"},"conversationId":"c1","data":{}}"#;
    assert_eq!(Envelope::decode(unknown).unwrap(), None);
    let newer = br#"{"v":2,"id":"x","type":"message_sent","at":"2026-11-24T10:15:00.000Z","actor":{"id":"a","role":"admin"},"conversationId":"c1","data":{}}"#;
    assert_eq!(Envelope::decode(newer).unwrap(), None);
}

#[test]
fn every_event_of_an_unknown_conversation_is_skipped() {
    let mut views = given(&opened_then(vec![send("c1", &ann(), "m1", "one")]));
    for env in [
        join("c9", &bo()),
        send("c9", &bo(), "m2", "x"),
        edit("c9", &ann(), "m1", "x"),
        delete("c9", &ann(), "m1"),
        react("c9", &ann(), "m1", "👍"),
        unreact("c9", &ann(), "m1", "👍"),
        read("c9", &bo(), 3),
        status("c9", &bo(), Status::Active, Status::Closed),
    ] {
        let reason = then_skipped(&mut views, &env);
        assert_eq!(reason, "unknown conversation", "{env:?}");
    }
    // Events with no conversation id at all.
    let mut orphan = send("c1", &ann(), "m2", "x");
    orphan.conversation_id = None;
    then_skipped(&mut views, &orphan);
    let mut orphan = create("c1", "bk1", "x", &[&ann()]);
    orphan.conversation_id = None;
    then_skipped(&mut views, &orphan);
}

// ---------------------------------------------------------------------------------------------
// Views::messages and live_messages_since
// ---------------------------------------------------------------------------------------------

/// Five messages m1..m5 at seqs 3..7, sent at 10, 20, … 50 s; `c2` holds n1 at seq 10.
fn five_messages() -> Views<MemKv> {
    given(&opened_then(vec![
        send("c1", &ann(), "m1", "one").at(10),
        send("c1", &ann(), "m2", "two").at(20),
        send("c1", &ann(), "m3", "three").at(30),
        send("c1", &ann(), "m4", "four").at(40),
        send("c1", &ann(), "m5", "five").at(50),
        register("bk2", "cus2", None, BookingSource::Api),
        create("c2", "bk2", "Booking bk2", &[&customer("cus2")]),
        send("c2", &customer("cus2"), "n1", "elsewhere").at(60),
    ]))
}

#[test]
fn views_messages_pages_by_seq_bounds_direction_and_limit() {
    let views = five_messages();
    let all = |after, before, reverse, limit| {
        views.messages("c1", after, before, reverse, limit).unwrap()
    };
    assert_eq!(
        ids(&all(0, u64::MAX, false, 100)),
        ["m1", "m2", "m3", "m4", "m5"]
    );
    assert_eq!(ids(&all(0, u64::MAX, false, 2)), ["m1", "m2"]);
    assert_eq!(ids(&all(0, u64::MAX, true, 2)), ["m5", "m4"]);
    // Both bounds are exclusive.
    assert_eq!(ids(&all(4, 7, false, 100)), ["m3", "m4"]);
    assert_eq!(ids(&all(3, 6, true, 100)), ["m3", "m2"]);
    assert_eq!(ids(&all(7, u64::MAX, false, 100)), Vec::<&str>::new());
    assert_eq!(ids(&all(4, 5, false, 100)), Vec::<&str>::new());
    assert_eq!(ids(&all(5, 4, false, 100)), Vec::<&str>::new());
    assert_eq!(ids(&all(0, u64::MAX, false, 0)), Vec::<&str>::new());
    assert_eq!(
        ids(&views.messages("c2", 0, u64::MAX, false, 100).unwrap()),
        ["n1"]
    );
    assert_eq!(
        views.messages("c9", 0, u64::MAX, false, 100).unwrap(),
        vec![]
    );
    assert_eq!(all(0, u64::MAX, false, 100)[2].seq, 5);
}

#[test]
fn views_messages_keep_deleted_messages_in_place() {
    let mut views = five_messages();
    then_applied(&mut views, &delete("c1", &ann(), "m3"));
    let page = views.messages("c1", 0, u64::MAX, false, 100).unwrap();
    assert_eq!(ids(&page), ["m1", "m2", "m3", "m4", "m5"]);
    assert!(page[2].is_deleted);
}

#[test]
fn live_messages_since_counts_live_messages_created_in_its_second_or_after() {
    let mut views = five_messages();
    assert_eq!(views.live_messages_since(t(0)).unwrap(), 6);
    then_applied(&mut views, &delete("c1", &ann(), "m2").at(70));
    assert_eq!(views.live_messages_since(t(0)).unwrap(), 5);
    assert_eq!(views.live_messages_since(t(20)).unwrap(), 4);
    assert_eq!(views.live_messages_since(t(30)).unwrap(), 4);
    // Counted by whole seconds of creation: the message at t(30) is in the second of t(30) + 999 ms.
    assert_eq!(
        views
            .live_messages_since(Timestamp(t(30).millis() + 999))
            .unwrap(),
        4
    );
    assert_eq!(views.live_messages_since(t(31)).unwrap(), 3);
    assert_eq!(views.live_messages_since(t(60)).unwrap(), 1);
    assert_eq!(views.live_messages_since(t(61)).unwrap(), 0);
}

// ---------------------------------------------------------------------------------------------
// many messages: chunks of MESSAGES_PER_CHUNK and id buckets
// ---------------------------------------------------------------------------------------------

/// `c1` (Ann and Bo) and `c2` (Cus2) with 100 messages each, interleaved, so every page and
/// change below crosses chunk boundaries. `c1`'s ids are ULIDs, ten per millisecond; `c2`'s are
/// plain. Returns the views and `c1`'s `(seq, id, sender)` in order.
fn two_long_conversations() -> (Views<MemKv>, Vec<(u64, String, String)>) {
    let mut events = opened_then(vec![
        join("c1", &bo()),
        register("bk2", "cus2", None, BookingSource::Api),
        create("c2", "bk2", "Booking bk2", &[&customer("cus2")]),
    ]);
    let mut c1 = Vec::new();
    for i in 0..100u64 {
        let id = format!("01JD{:06}{:016}", i / 10, i);
        let by = if i % 3 == 0 { bo() } else { ann() };
        c1.push((events.len() as u64 + 1, id.clone(), by.id.clone()));
        events.push(send("c1", &by, &id, &format!("c1 #{i}")).at(10 + i as i64));
        events.push(send("c2", &customer("cus2"), &format!("n{i}"), "elsewhere"));
    }
    (given(&events), c1)
}

#[test]
fn long_conversations_page_exactly_as_their_log_across_chunks() {
    assert_eq!(concierge_projections::chunk::MESSAGES_PER_CHUNK, 8);
    let (views, c1) = two_long_conversations();
    let seqs = |page: &[MessageView]| page.iter().map(|m| m.seq).collect::<Vec<_>>();
    let all: Vec<u64> = c1.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(
        seqs(&views.messages("c1", 0, u64::MAX, false, 1000).unwrap()),
        all
    );
    assert_eq!(conv(&views, "c1").message_count, 100);
    assert_eq!(
        views.messages("c2", 0, u64::MAX, true, 1000).unwrap().len(),
        100
    );
    // Every window, both directions, with and without a limit.
    for (after, before) in [
        (0, 40),
        (35, 80),
        (70, 71),
        (70, 72),
        (71, 150),
        (64, 200),
        (199, 300),
    ] {
        let inside: Vec<u64> = all
            .iter()
            .copied()
            .filter(|s| *s > after && *s < before)
            .collect();
        assert_eq!(
            seqs(&views.messages("c1", after, before, false, 1000).unwrap()),
            inside
        );
        let newest_first: Vec<u64> = inside.iter().rev().copied().collect();
        assert_eq!(
            seqs(&views.messages("c1", after, before, true, 1000).unwrap()),
            newest_first
        );
        let first_five: Vec<u64> = inside.iter().take(5).copied().collect();
        assert_eq!(
            seqs(&views.messages("c1", after, before, false, 5).unwrap()),
            first_five
        );
        let last_five: Vec<u64> = newest_first.iter().take(5).copied().collect();
        assert_eq!(
            seqs(&views.messages("c1", after, before, true, 5).unwrap()),
            last_five
        );
    }
    for (seq, id, sender) in &c1 {
        assert_eq!(views.locate(id).unwrap(), Some(("c1".to_string(), *seq)));
        let m = views.message("c1", *seq).unwrap().unwrap();
        assert_eq!((&m.id, &m.sender), (id, sender));
    }
    assert_eq!(
        views.message("c1", c1[5].0 + 1).unwrap(),
        None,
        "that seq is c2's"
    );
    assert_eq!(
        views.locate("n99").unwrap().map(|(c, _)| c),
        Some("c2".to_string())
    );
    assert_eq!(views.locate("01JD000000ZZZZZZZZZZZZZZZZ").unwrap(), None);
}

#[test]
fn long_messages_start_chunks_early_so_no_chunk_is_a_large_write() {
    use concierge_projections::chunk::CHUNK_BYTES;
    let long = "x".repeat(7_000);
    let mut events = opened();
    for i in 0..12 {
        events.push(send("c1", &ann(), &format!("m{i}"), &long));
        events.push(send("c1", &ann(), &format!("s{i}"), "short"));
    }
    let views = given(&events);
    let page = views.messages("c1", 0, u64::MAX, false, 100).unwrap();
    assert_eq!(page.len(), 24);
    assert_eq!(page[23].id, "s11");
    for m in &page {
        assert_eq!(
            views.message_by_id(&m.id).unwrap().as_ref(),
            Some(m),
            "{}",
            m.id
        );
    }
    let chunks: Vec<usize> = views
        .kv
        .map
        .iter()
        .filter(|(k, _)| k.starts_with(b"m/c1/"))
        .map(|(_, v)| v.len())
        .collect();
    // A chunk takes messages until it has reached CHUNK_BYTES: three long ones (~21 KB) each; the
    // last short one is the open chunk, kept with the conversation's view.
    assert_eq!(chunks.len(), 4, "{chunks:?}");
    assert!(
        chunks.iter().all(|n| *n < CHUNK_BYTES + 7_500),
        "{chunks:?}"
    );
}

#[test]
fn changes_to_old_messages_land_in_their_chunk_only() {
    let (mut views, c1) = two_long_conversations();
    let (_, first_bo, _) = &c1[0];
    let (_, later_bo, _) = &c1[33];
    let (mid_seq, mid_ann, _) = &c1[50];
    then_applied(&mut views, &edit("c1", &bo(), first_bo, "edited"));
    then_applied(&mut views, &react("c1", &ann(), later_bo, "👍"));
    then_applied(&mut views, &delete("c1", &ann(), mid_ann));
    assert_eq!(msg(&views, first_bo).content, "edited");
    assert!(msg(&views, first_bo).is_edited);
    assert_eq!(msg(&views, later_bo).reactions.len(), 1);
    assert!(msg(&views, mid_ann).is_deleted);
    let page = views.messages("c1", 0, u64::MAX, false, 1000).unwrap();
    assert_eq!(page.len(), 100);
    assert_eq!(page.iter().filter(|m| m.is_edited).count(), 1);
    assert_eq!(page.iter().filter(|m| m.is_deleted).count(), 1);
    assert_eq!(page.iter().filter(|m| !m.reactions.is_empty()).count(), 1);
    assert_eq!(page[50].seq, *mid_seq);

    // Cy joins having read nothing, then reads through #70 (the bound is a seq of c2's):
    // receipts land on exactly #0..=#70, across three chunks, and 29 live messages stay unread.
    then_applied(&mut views, &join("c1", &cy()));
    assert_eq!(conv(&views, "c1").unread_for("adm2"), 99);
    let (up_to, _, _) = &c1[70];
    then_applied(&mut views, &read("c1", &cy(), *up_to + 1));
    let receipted: Vec<String> = views
        .messages("c1", 0, u64::MAX, false, 1000)
        .unwrap()
        .into_iter()
        .filter(|m| m.read_by.iter().any(|r| r.user == "adm2"))
        .map(|m| m.id)
        .collect();
    let expected: Vec<String> = c1[..=70].iter().map(|(_, id, _)| id.clone()).collect();
    assert_eq!(receipted, expected);
    assert_eq!(conv(&views, "c1").unread_for("adm2"), 29);
}

/// Serves its first read from `before` and everything after from `after`: a fold committed between
/// two reads of a reader that does not see a snapshot (sled's reads are not one).
struct CommitBetweenReads {
    before: MemKv,
    after: MemKv,
    reads: std::cell::Cell<usize>,
}

impl CommitBetweenReads {
    fn now(&self) -> &MemKv {
        let n = self.reads.get();
        self.reads.set(n + 1);
        if n == 0 {
            &self.before
        } else {
            &self.after
        }
    }
}

impl KvRead for CommitBetweenReads {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.now().get(key)
    }

    fn read(&self, key: &[u8], visit: &mut Visit<'_>) -> Result<(), StoreError> {
        self.now().read(key, visit)
    }

    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        reverse: bool,
        visit: &mut VisitEntry<'_>,
    ) -> Result<(), StoreError> {
        self.now().scan(start, end, reverse, visit)
    }
}

#[test]
fn a_reader_racing_the_fold_that_seals_a_chunk_sees_each_message_once() {
    use concierge_projections::chunk::MESSAGES_PER_CHUNK;
    let mut events = opened();
    for i in 0..MESSAGES_PER_CHUNK {
        events.push(send("c1", &ann(), &format!("m{i}"), "hi"));
    }
    let full = given(&events);
    let conv_before = conv(&full, "c1");
    assert!(!full.kv.map.keys().any(|k| k.starts_with(b"m/c1/")));
    let mut sealed = full.clone();
    let sealing = format!("m{MESSAGES_PER_CHUNK}");
    then_applied(&mut sealed, &send("c1", &ann(), &sealing, "sealing"));
    assert!(
        sealed.kv.map.keys().any(|k| k.starts_with(b"m/c1/")),
        "the message after a full chunk seals it"
    );
    let racing = |read_first: &MemKv| {
        Views::new(CommitBetweenReads {
            before: read_first.clone(),
            after: sealed.kv.clone(),
            reads: Default::default(),
        })
    };
    let expected: Vec<String> = (0..MESSAGES_PER_CHUNK).map(|i| format!("m{i}")).collect();
    let forward = racing(&full.kv)
        .messages("c1", 0, u64::MAX, false, 1000)
        .unwrap();
    assert_eq!(
        forward.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
        expected
    );
    let mut newest_first = expected.clone();
    newest_first.reverse();
    let backward = racing(&full.kv)
        .messages("c1", 0, u64::MAX, true, 1000)
        .unwrap();
    assert_eq!(
        backward.iter().map(|m| m.id.clone()).collect::<Vec<_>>(),
        newest_first
    );
    // A conversation view read before the sealing still finds a message that has moved.
    let moved = conv_before.chunk_start + 4;
    let found = racing(&sealed.kv).message_in(&conv_before, moved).unwrap();
    assert_eq!(found.map(|m| m.id), Some("m4".to_string()));
}

// ---------------------------------------------------------------------------------------------
// A store that cannot read: an error, never an absent view
// ---------------------------------------------------------------------------------------------

/// A store over [`MemKv`] whose reads of the chosen keys fail as a disk fault would (a sled I/O
/// error), whether the key holds a value or not; a scan over a range that holds one fails.
struct FailingKv {
    inner: MemKv,
    fail: Vec<Vec<u8>>,
}

impl FailingKv {
    fn new(inner: &MemKv, fail: &[&[u8]]) -> Views<FailingKv> {
        Views::new(FailingKv {
            inner: inner.clone(),
            fail: fail.iter().map(|k| k.to_vec()).collect(),
        })
    }

    fn check(&self, key: &[u8]) -> Result<(), StoreError> {
        if self.fail.iter().any(|f| f == key) {
            let fault = std::io::Error::other("injected disk fault");
            return Err(StoreError::Sled(sled::Error::Io(fault)));
        }
        Ok(())
    }
}

impl KvRead for FailingKv {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.check(key)?;
        self.inner.get(key)
    }

    fn read(&self, key: &[u8], visit: &mut Visit<'_>) -> Result<(), StoreError> {
        self.check(key)?;
        self.inner.read(key, visit)
    }

    fn scan(
        &self,
        start: &[u8],
        end: &[u8],
        reverse: bool,
        visit: &mut VisitEntry<'_>,
    ) -> Result<(), StoreError> {
        if let Some(f) = self
            .fail
            .iter()
            .find(|f| start <= f.as_slice() && f.as_slice() < end)
        {
            self.check(f)?;
        }
        self.inner.scan(start, end, reverse, visit)
    }
}

impl Kv for FailingKv {
    fn put(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.inner.put(key, value);
    }

    fn remove(&mut self, key: &[u8]) {
        self.inner.remove(key);
    }
}

#[track_caller]
fn assert_disk_fault<T: std::fmt::Debug>(read: Result<T, StoreError>) {
    match read {
        Err(StoreError::Sled(sled::Error::Io(e))) => {
            assert_eq!(e.to_string(), "injected disk fault")
        }
        other => panic!("expected the injected disk fault, got {other:?}"),
    }
}

#[test]
fn a_read_that_fails_is_an_error_not_an_absent_view() {
    let views = given(&opened_then(vec![send("c1", &ann(), "m1", "hi").at(2)]));
    // Without a fault: present views are there, absent ones are Ok(None).
    assert_eq!(views.conversation("c9").unwrap(), None);
    assert_eq!(views.booking("bk9").unwrap(), None);

    let failing = FailingKv::new(
        &views.kv,
        &[b"c/c1", b"c/c9", b"b/bk1", b"s", b"x/checkpoint"],
    );
    // A present view and an absent one fail alike: neither is taken for `None`.
    assert_disk_fault(failing.conversation("c1"));
    assert_disk_fault(failing.conversation("c9"));
    assert_disk_fault(failing.booking("bk1"));
    // Nor for a default: no stats of zero, no checkpoint 0 (a rebuild from the start).
    assert_disk_fault(failing.stats());
    assert_disk_fault(failing.checkpoint());
    // Reads that go through the record fail too: the message in the open chunk, pages, lists.
    assert_disk_fault(failing.message_by_id("m1"));
    assert_disk_fault(failing.messages("c1", 0, u64::MAX, false, 10));
    assert_disk_fault(failing.conversations());
    // Reads that touch no failing key still answer.
    assert_eq!(failing.locate("m1").unwrap(), Some(("c1".to_string(), 3)));
    assert_eq!(failing.conversations_of("cus1").unwrap(), ["c1"]);
}

#[test]
fn a_fold_that_cannot_read_fails_instead_of_skipping() {
    let views = given(&opened());
    // The conversation cannot be read: the send must fail, not be skipped as "unknown
    // conversation" (which would fold a different log than the other nodes).
    let mut failing = FailingKv::new(&views.kv, &[b"c/c1"]);
    assert_disk_fault(apply(
        &mut failing,
        3,
        &send("c1", &ann(), "m1", "hi").at(2),
    ));
    assert_eq!(failing.kv.inner, views.kv, "nothing was written");
    // The id bucket cannot be read: the send fails after its first reads, before any write.
    let bucket = concierge_projections::kv::keys::message_index("m1");
    let mut failing = FailingKv::new(&views.kv, &[&bucket]);
    assert_disk_fault(apply(
        &mut failing,
        3,
        &send("c1", &ann(), "m1", "hi").at(2),
    ));
    assert_eq!(failing.kv.inner, views.kv, "nothing was written");
}

#[test]
fn a_value_that_does_not_decode_is_corrupt_not_absent() {
    let mut views = given(&opened_then(vec![send("c1", &ann(), "m1", "hi").at(2)]));
    views.kv.map.insert(b"b/bk1".to_vec(), vec![0xff]);
    match views.booking("bk1") {
        Err(StoreError::Corrupt {
            key,
            source: Corruption::Decode(_),
        }) => assert_eq!(key, "b/bk1"),
        other => panic!("expected a corrupt booking, got {other:?}"),
    }
    // A record shorter than the open chunk it announces.
    views.kv.map.insert(b"c/c1".to_vec(), vec![0, 0, 0, 9]);
    match views.conversation("c1") {
        Err(StoreError::Corrupt {
            key,
            source: Corruption::Layout(_),
        }) => assert_eq!(key, "c/c1"),
        other => panic!("expected a corrupt record, got {other:?}"),
    }
    // A fold that reads it fails rather than overwriting it.
    let before = views.kv.clone();
    assert!(matches!(
        apply(&mut views, 4, &send("c1", &ann(), "m2", "again").at(3)),
        Err(StoreError::Corrupt { .. })
    ));
    assert_eq!(views.kv, before);
}

// ---------------------------------------------------------------------------------------------
// The support inbox (level 3): notes, assignment, snooze, labels, priority, ratings, replies
// ---------------------------------------------------------------------------------------------

fn note(conversation: &str, by: &Actor, message_id: &str, content: &str) -> Envelope {
    envelope(
        by.clone(),
        Some(conversation),
        Event::NoteAdded(concierge_events::NoteAdded {
            message_id: message_id.into(),
            content: content.into(),
            reply_to: None,
            client_message_id: None,
            mentions: vec![],
        }),
    )
}

fn inbox_event(conversation: Option<&str>, by: &Actor, event: Event) -> Envelope {
    envelope(by.clone(), conversation, event)
}

fn snooze(by: &Actor, from: Status, until: i64) -> Envelope {
    inbox_event(
        Some("c1"),
        by,
        Event::ConversationSnoozed(concierge_events::ConversationSnoozed {
            from,
            until: t(until),
        }),
    )
}

fn wake(until: i64) -> Envelope {
    inbox_event(
        Some("c1"),
        &platform(),
        Event::ConversationWoken(concierge_events::ConversationWoken { until: t(until) }),
    )
}

/// What a customer sees of `c1`: the conversation's shown fields and their messages' ids.
fn customer_sight(
    views: &Views<MemKv>,
) -> (
    Vec<String>,
    u64,
    Option<LastMessage>,
    Timestamp,
    Status,
    usize,
) {
    let c = conv(views, "c1");
    let seen = views
        .messages_seen("c1", 0, u64::MAX, false, 100, false)
        .unwrap();
    (
        seen.iter().map(|m| m.id.clone()).collect(),
        c.unread_for("cus1"),
        c.last_message.clone(),
        c.updated_at,
        c.status,
        c.participants.len(),
    )
}

#[test]
fn a_note_changes_nothing_a_customer_sees_and_admins_see_it_in_order() {
    let mut views = given(&opened_then(vec![
        send("c1", &ann(), "m1", "Can I check in early?").at(10),
        send("c1", &bo(), "m2", "Let me check.").at(20),
        status("c1", &bo(), Status::Active, Status::Archived).at(25),
    ]));
    let before = customer_sight(&views);
    let unread_bo = conv(&views, "c1").unread_for("adm1");
    then_applied(&mut views, &note("c1", &cy(), "n1", "VIP, say yes").at(30));
    assert_eq!(customer_sight(&views), before);
    let c = conv(&views, "c1");
    assert_eq!(
        c.unread_for("adm1"),
        unread_bo,
        "a note is unread for nobody"
    );
    assert_eq!((c.message_count, c.note_count, c.live_count), (3, 1, 2));
    assert!(!c.is_participant("adm2"), "writing a note joins nobody");
    assert_eq!(c.status, Status::Archived, "a note does not unarchive");
    let all = views
        .messages_seen("c1", 0, u64::MAX, false, 100, true)
        .unwrap();
    assert_eq!(ids(&all), vec!["m1", "m2", "n1"]);
    assert!(all[2].internal && !all[0].internal && !all[1].internal);
    assert_eq!(views.stats().unwrap().total_messages, 2);
    assert_eq!(views.live_messages_since(t(0)).unwrap(), 2);

    // Reading over the note gives nobody a receipt on it: a note is unread for nobody.
    then_applied(
        &mut views,
        &inbox_event(
            Some("c1"),
            &ann(),
            Event::MessagesRead(MessagesRead { up_to_seq: 7 }),
        )
        .at(40),
    );
    assert_eq!(msg(&views, "n1").read_by, vec![]);
    then_applied(
        &mut views,
        &inbox_event(
            Some("c1"),
            &bo(),
            Event::MessagesRead(MessagesRead { up_to_seq: 7 }),
        )
        .at(41),
    );
    assert_eq!(msg(&views, "n1").read_by, vec![]);
    assert_eq!(conv(&views, "c1").unread_for("cus1"), 0);

    // Deleting the newest message finds the last message among messages, never the note.
    then_applied(&mut views, &delete("c1", &bo(), "m2").at(50));
    assert_eq!(conv(&views, "c1").last_message.unwrap().id, "m1");
}

#[test]
fn only_its_author_edits_or_deletes_a_note_and_it_takes_no_reaction_nor_message_change() {
    let mut views = given(&opened_then(vec![
        send("c1", &ann(), "m1", "Hello").at(10),
        note("c1", &bo(), "n1", "first").at(20),
    ]));
    let edit_note = |by: &Actor, content: &str| {
        inbox_event(
            Some("c1"),
            by,
            Event::NoteEdited(MessageEdited {
                message_id: "n1".into(),
                content: content.into(),
            }),
        )
    };
    let delete_note = |by: &Actor, id: &str| {
        inbox_event(
            Some("c1"),
            by,
            Event::NoteDeleted(MessageDeleted {
                message_id: id.into(),
            }),
        )
    };
    then_skipped(&mut views, &edit_note(&cy(), "not mine"));
    then_skipped(&mut views, &edit("c1", &bo(), "n1", "as a message"));
    then_skipped(&mut views, &delete("c1", &bo(), "n1"));
    then_skipped(&mut views, &react("c1", &bo(), "n1", "👍"));
    then_skipped(&mut views, &delete_note(&bo(), "m1"));
    then_skipped(&mut views, &note("c1", &ann(), "n2", "a customer's note"));
    then_applied(&mut views, &edit_note(&bo(), "second").at(30));
    let n = msg(&views, "n1");
    assert_eq!(
        (n.content.as_str(), n.is_edited, n.edited_at),
        ("second", true, Some(t(30)))
    );
    then_skipped(&mut views, &delete_note(&cy(), "n1"));
    then_applied(&mut views, &delete_note(&bo(), "n1").at(40));
    let n = msg(&views, "n1");
    assert_eq!(
        (n.content.as_str(), n.is_deleted, n.internal),
        ("", true, true)
    );
    then_skipped(&mut views, &delete_note(&bo(), "n1"));
    assert_eq!(
        conv(&views, "c1").updated_at,
        t(10),
        "notes never move updatedAt"
    );
}

#[test]
fn a_snooze_wakes_at_its_time_once_or_on_the_customers_message() {
    let mut views = given(&opened_then(vec![send("c1", &ann(), "m1", "Hello").at(10)]));
    then_skipped(&mut views, &snooze(&ann(), Status::Active, 100));
    then_applied(&mut views, &snooze(&bo(), Status::Active, 100).at(20));
    let c = conv(&views, "c1");
    assert_eq!(
        (c.status, c.snoozed_until, c.updated_at),
        (Status::Snoozed, Some(t(100)), t(20))
    );
    assert_eq!(views.stats().unwrap().snoozed, 1);
    assert_eq!(views.snoozes_due(t(99)).unwrap(), vec![]);
    assert_eq!(
        views.snoozes_due(t(100)).unwrap(),
        vec![("c1".to_string(), t(100))]
    );
    then_skipped(&mut views, &snooze(&bo(), Status::Snoozed, 100));

    // Moved to 200: a wake-up for 100 is stale, one for 200 wakes it, a second one is skipped.
    then_applied(&mut views, &snooze(&bo(), Status::Snoozed, 200).at(30));
    assert_eq!(views.snoozes_due(t(150)).unwrap(), vec![]);
    then_skipped(&mut views, &wake(100));
    then_applied(&mut views, &wake(200).at(200));
    let c = conv(&views, "c1");
    assert_eq!(
        (c.status, c.snoozed_until, c.updated_at),
        (Status::Active, None, t(200))
    );
    assert_eq!(views.snoozes_due(t(1000)).unwrap(), vec![]);
    then_skipped(&mut views, &wake(200));
    assert_eq!(
        (
            views.stats().unwrap().snoozed,
            views.stats().unwrap().active
        ),
        (0, 1)
    );

    // An admin's message keeps it snoozed; the customer's wakes it, and no wake-up is due.
    then_applied(&mut views, &snooze(&bo(), Status::Active, 500).at(300));
    then_applied(
        &mut views,
        &send("c1", &bo(), "m2", "We will get back to you").at(310),
    );
    assert_eq!(conv(&views, "c1").status, Status::Snoozed);
    then_applied(&mut views, &send("c1", &ann(), "m3", "Any news?").at(320));
    let c = conv(&views, "c1");
    assert_eq!((c.status, c.snoozed_until), (Status::Active, None));
    assert_eq!(views.snoozes_due(t(1000)).unwrap(), vec![]);
    then_skipped(&mut views, &wake(500));

    // Closing a snoozed conversation ends its snooze too.
    then_applied(&mut views, &snooze(&bo(), Status::Active, 900).at(330));
    then_applied(
        &mut views,
        &status("c1", &bo(), Status::Snoozed, Status::Closed).at(340),
    );
    assert_eq!(views.snoozes_due(t(1000)).unwrap(), vec![]);
}

#[test]
fn response_times_are_those_of_the_events() {
    // Created at 1 s; Ann asks at 10, a note at 20 is no answer, Bo answers at 70, Ann writes at
    // 100 and 130, Bo answers at 200, Bo closes at 300.
    let mut views = given(&opened_then(vec![send("c1", &ann(), "m1", "Hi").at(10)]));
    assert_eq!(conv(&views, "c1").waiting_since, Some(t(10)));
    assert_eq!(views.unanswered().unwrap(), vec![t(10)]);
    then_applied(&mut views, &note("c1", &bo(), "n1", "hm").at(20));
    assert_eq!(conv(&views, "c1").waiting_since, Some(t(10)));
    assert_eq!(conv(&views, "c1").first_response_ms(), None);
    then_applied(&mut views, &send("c1", &bo(), "m2", "Hello").at(70));
    let c = conv(&views, "c1");
    assert_eq!(
        (c.waiting_since, c.first_response_ms()),
        (None, Some(60_000))
    );
    assert_eq!(views.unanswered().unwrap(), vec![]);
    then_applied(&mut views, &send("c1", &ann(), "m3", "One more").at(100));
    then_applied(&mut views, &send("c1", &ann(), "m4", "And another").at(130));
    assert_eq!(conv(&views, "c1").waiting_since, Some(t(100)));
    then_applied(&mut views, &send("c1", &bo(), "m5", "Sure").at(200));
    assert_eq!(conv(&views, "c1").waiting_since, None);
    assert_eq!(conv(&views, "c1").first_response_ms(), Some(60_000));
    assert_eq!(conv(&views, "c1").resolution_ms, None);
    then_applied(
        &mut views,
        &status("c1", &bo(), Status::Active, Status::Closed).at(300),
    );
    assert_eq!(conv(&views, "c1").resolution_ms, Some(299_000));
    assert_eq!(views.durations_since(true, t(0)).unwrap(), vec![60_000]);
    assert_eq!(
        views.durations_since(true, t(71)).unwrap(),
        Vec::<i64>::new()
    );
    assert_eq!(views.durations_since(false, t(0)).unwrap(), vec![299_000]);

    // Reopened and closed again: a second resolution, the latest kept on the conversation.
    then_applied(
        &mut views,
        &status("c1", &bo(), Status::Closed, Status::Active).at(400),
    );
    assert_eq!(conv(&views, "c1").resolution_ms, Some(299_000));
    then_applied(
        &mut views,
        &status("c1", &bo(), Status::Active, Status::Closed).at(500),
    );
    assert_eq!(conv(&views, "c1").resolution_ms, Some(499_000));
    assert_eq!(
        views.durations_since(false, t(0)).unwrap(),
        vec![299_000, 499_000]
    );
}

#[test]
fn assignment_labels_priority_and_a_single_rating_by_the_customer_of_a_closed_conversation() {
    use concierge_events::{
        ConversationAssigned, ConversationLabeled, ConversationPrioritized, ConversationRated,
    };
    let mut views = given(&opened());
    let assign = |to: Option<&str>| {
        inbox_event(
            Some("c1"),
            &bo(),
            Event::ConversationAssigned(ConversationAssigned {
                from: None,
                to: to.map(Into::into),
            }),
        )
    };
    then_skipped(&mut views, &assign(None));
    then_applied(&mut views, &assign(Some("adm2")));
    then_skipped(&mut views, &assign(Some("adm2")));
    assert_eq!(conv(&views, "c1").assignee.as_deref(), Some("adm2"));
    let labels = inbox_event(
        Some("c1"),
        &bo(),
        Event::ConversationLabeled(ConversationLabeled {
            labels: vec!["vip".into(), "late".into()],
        }),
    );
    then_applied(&mut views, &labels);
    then_skipped(&mut views, &labels);
    let urgent = inbox_event(
        Some("c1"),
        &bo(),
        Event::ConversationPrioritized(ConversationPrioritized {
            from: Priority::Normal,
            to: Priority::Urgent,
        }),
    );
    then_applied(&mut views, &urgent);
    then_skipped(&mut views, &urgent);
    let c = conv(&views, "c1");
    assert_eq!(
        (c.labels, c.priority),
        (
            vec!["vip".to_string(), "late".to_string()],
            Priority::Urgent
        )
    );

    let rate = |by: &Actor, score: u8| {
        inbox_event(
            Some("c1"),
            by,
            Event::ConversationRated(ConversationRated {
                score,
                comment: None,
            }),
        )
    };
    then_skipped(&mut views, &rate(&ann(), 5));
    then_applied(
        &mut views,
        &status("c1", &bo(), Status::Active, Status::Closed).at(50),
    );
    then_skipped(&mut views, &rate(&bo(), 5));
    then_skipped(&mut views, &rate(&ann(), 6));
    then_applied(&mut views, &rate(&ann(), 4).at(60));
    then_skipped(&mut views, &rate(&ann(), 5));
    assert_eq!(
        conv(&views, "c1")
            .rating
            .as_ref()
            .map(|r| (r.score, r.rated_at)),
        Some((4, t(60)))
    );
    let s = views.stats().unwrap();
    assert_eq!((s.rating_sum, s.rating_count), (4, 1));
}

#[test]
fn canned_replies_are_saved_replaced_and_deleted_by_admins() {
    use concierge_events::{CannedReplyDeleted, CannedReplySaved};
    let save = |by: &Actor, content: &str| {
        inbox_event(
            None,
            by,
            Event::CannedReplySaved(CannedReplySaved {
                shortcut: "hi".into(),
                title: "Hello".into(),
                content: content.into(),
            }),
        )
    };
    let remove = inbox_event(
        None,
        &bo(),
        Event::CannedReplyDeleted(CannedReplyDeleted {
            shortcut: "hi".into(),
        }),
    );
    let mut views = given(&[]);
    then_skipped(&mut views, &save(&ann(), "x"));
    then_skipped(&mut views, &remove);
    then_applied(&mut views, &save(&bo(), "Hello!").at(5));
    then_applied(&mut views, &save(&cy(), "Hello there!").at(6));
    let r = views.canned_reply("hi").unwrap().unwrap();
    assert_eq!(
        (r.content.as_str(), r.updated_by.as_str(), r.updated_at),
        ("Hello there!", "adm2", t(6))
    );
    assert_eq!(views.canned_replies().unwrap().len(), 1);
    then_applied(&mut views, &remove);
    assert_eq!(views.canned_replies().unwrap(), vec![]);
}

#[test]
fn closing_ends_the_wait_and_takes_an_unanswered_conversation_out_of_the_unanswered() {
    let mut views = given(&opened_then(
        vec![send("c1", &ann(), "m1", "Hello?").at(10)],
    ));
    assert_eq!(views.unanswered().unwrap(), vec![t(10)]);
    then_applied(
        &mut views,
        &status("c1", &bo(), Status::Active, Status::Closed).at(20),
    );
    let c = conv(&views, "c1");
    assert_eq!((c.waiting_since, c.first_response_ms()), (None, None));
    assert_eq!(views.unanswered().unwrap(), vec![]);
    // Reopened, the customer's next message waits again, counted from their first message.
    then_applied(
        &mut views,
        &status("c1", &bo(), Status::Closed, Status::Active).at(30),
    );
    then_applied(&mut views, &send("c1", &ann(), "m2", "Still there?").at(40));
    assert_eq!(conv(&views, "c1").waiting_since, Some(t(40)));
    assert_eq!(views.unanswered().unwrap(), vec![t(10)]);
    then_applied(&mut views, &send("c1", &bo(), "m3", "Yes!").at(50));
    assert_eq!(conv(&views, "c1").first_response_ms(), Some(40_000));
    assert_eq!(views.unanswered().unwrap(), vec![]);
}
