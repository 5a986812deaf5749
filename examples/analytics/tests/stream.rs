//! The example against a real nats-server: a scripted history on the `CONCIERGE` stream, read with a
//! durable consumer, gives exact first-response and resolution times; a second read with the same
//! durable folds only the events published since.

mod nats;

use async_nats::jetstream::{self, context::Publish};
use concierge_analytics_example::{
    consume_available, durable_consumer, ResponseTimes, Row, Summary,
};
use concierge_events::{
    subject, Actor, AdminBroadcast, Audience, BookingRegistered, BookingSource,
    ConversationCreated, Envelope, Event, MessageSent, MessageType, Role, Status, StatusChanged,
    Timestamp,
};
use nats::Nats;
use std::process::Command;
use std::time::Duration;

const A: &str = "01JDQ7X0S9G1W7V8M2K3Z4Y5A1";
const B: &str = "01JDQ7X0S9G1W7V8M2K3Z4Y5B1";
const C: &str = "01JDQ7X0S9G1W7V8M2K3Z4Y5C1";

/// `secs` seconds after 2026-11-24T10:00:00Z.
fn t(secs: f64) -> Timestamp {
    Timestamp(1_795_514_400_000 + (secs * 1e3) as i64)
}

fn customer() -> Actor {
    Actor {
        id: "cus_7".into(),
        role: Role::Customer,
        name: Some("Ann".into()),
    }
}

fn admin() -> Actor {
    Actor {
        id: "adm_2".into(),
        role: Role::Admin,
        name: Some("Bo".into()),
    }
}

/// What the test publishes: an event, or a raw payload (with its `Nats-Msg-Id`) on a conversation's
/// subject.
enum Entry {
    Event(Envelope),
    Raw(&'static str, &'static [u8], String),
}

/// Builds the entries of a history; ids are numbered from `next`, so that the `Nats-Msg-Id`s of two
/// histories never collide.
struct Script {
    entries: Vec<Entry>,
    next: usize,
}

impl Script {
    fn starting_at(next: usize) -> Script {
        Script {
            entries: Vec::new(),
            next,
        }
    }

    fn number(&mut self) -> usize {
        self.next += 1;
        self.next
    }

    fn push(&mut self, secs: f64, actor: Actor, conv: Option<&str>, event: Event) -> &mut Self {
        let id = format!("01JDQ80000000000000000{:04}", self.number());
        let envelope = Envelope::new(id, t(secs), actor, conv.map(str::to_string), event);
        self.entries.push(Entry::Event(envelope));
        self
    }

    fn booking(&mut self, secs: f64, booking: &str) -> &mut Self {
        let platform = Actor {
            id: "platform".into(),
            role: Role::Service,
            name: None,
        };
        self.push(
            secs,
            platform,
            None,
            Event::BookingRegistered(BookingRegistered {
                booking_id: booking.into(),
                customer_id: "cus_7".into(),
                title: None,
                source: BookingSource::Api,
            }),
        )
    }

    fn created(&mut self, secs: f64, conv: &str, booking: &str) -> &mut Self {
        self.push(
            secs,
            customer(),
            Some(conv),
            Event::ConversationCreated(ConversationCreated {
                booking_id: booking.into(),
                title: format!("Booking {booking}"),
                participants: vec![],
            }),
        )
    }

    fn sent(&mut self, secs: f64, conv: &str, actor: Actor) -> &mut Self {
        let n = self.number();
        self.push(
            secs,
            actor,
            Some(conv),
            Event::MessageSent(MessageSent {
                message_id: format!("01JDQ8M000000000000000{n:04}"),
                content: "hello".into(),
                message_type: MessageType::Text,
                attachments: vec![],
                reply_to: None,
                client_message_id: None,
            }),
        )
    }

    fn status(&mut self, secs: f64, conv: &str, from: Status, to: Status) -> &mut Self {
        self.push(
            secs,
            admin(),
            Some(conv),
            Event::ConversationStatusChanged(StatusChanged { from, to }),
        )
    }

    fn raw(&mut self, conv: &'static str, payload: &'static [u8]) -> &mut Self {
        let id = format!("raw-{}", self.number());
        self.entries.push(Entry::Raw(conv, payload, id));
        self
    }
}

/// Three conversations: A answered and closed, B unanswered and reopened, C answered; plus bookings,
/// a broadcast, an event of an unknown type and a payload that is no event. 18 messages.
fn first_history() -> Script {
    let mut s = Script::starting_at(0);
    s.booking(0.0, "bk_a")
        .created(10.0, A, "bk_a")
        .sent(12.0, A, admin())
        .sent(20.0, A, customer())
        .sent(25.0, A, customer())
        .sent(95.5, A, admin())
        .booking(90.0, "bk_b")
        .created(100.0, B, "bk_b")
        .sent(130.0, B, customer())
        .raw(
            B,
            br#"{"v":1,"id":"x","type":"conversation_escalated","at":"2026-11-24T10:02:15.000Z","actor":{"id":"cus_7","role":"customer"},"conversationId":"01JDQ7X0S9G1W7V8M2K3Z4Y5B1","data":{"stars":5}}"#,
        )
        .push(
            140.0,
            admin(),
            None,
            Event::AdminBroadcast(AdminBroadcast {
                content: "Maintenance tonight".into(),
                audience: Audience::All,
            }),
        )
        .status(310.0, A, Status::Active, Status::Closed)
        .status(400.0, B, Status::Active, Status::Closed)
        .status(450.0, B, Status::Closed, Status::Active)
        .created(200.0, C, "bk_c")
        .sent(205.0, C, customer())
        .sent(215.0, C, admin())
        .raw(C, b"not an event");
    s
}

/// B answered and closed, C closed, then a send to closed C that does not count. 4 messages.
fn second_history(after: &Script) -> Script {
    let mut s = Script::starting_at(after.next);
    s.sent(500.0, B, admin())
        .status(900.0, B, Status::Active, Status::Closed)
        .status(1_200.0, C, Status::Active, Status::Closed)
        .sent(1_300.0, C, customer());
    s
}

async fn concierge_stream(nats: &Nats) -> jetstream::Context {
    let client = async_nats::connect(nats.url()).await.expect("connect");
    let js = jetstream::new(client);
    js.create_stream(jetstream::stream::Config {
        name: "CONCIERGE".into(),
        subjects: subject::LOG_SUBJECTS
            .iter()
            .map(|s| s.to_string())
            .collect(),
        storage: jetstream::stream::StorageType::File,
        duplicate_window: Duration::from_secs(120),
        ..Default::default()
    })
    .await
    .expect("create the CONCIERGE stream");
    js
}

/// Publishes the script as the server would (subject by event, `Nats-Msg-Id`) and returns the last seq.
async fn publish(js: &jetstream::Context, script: &Script) -> u64 {
    let mut last = 0;
    for entry in &script.entries {
        let (subject, payload, id) = match entry {
            Entry::Event(e) => {
                let subject = match (&e.event, &e.conversation_id) {
                    (Event::BookingRegistered(b), _) => subject::booking(&b.booking_id),
                    (Event::AdminBroadcast(_), _) => subject::BROADCAST.to_string(),
                    (_, Some(conv)) => subject::conversation(conv),
                    (_, None) => panic!("a conversation event without a conversation"),
                };
                (subject, e.encode(), e.id.clone())
            }
            Entry::Raw(conv, payload, id) => {
                (subject::conversation(conv), payload.to_vec(), id.clone())
            }
        };
        let ack = js
            .send_publish(
                subject,
                Publish::build().payload(payload.into()).message_id(id),
            )
            .await
            .expect("publish")
            .await
            .expect("ack");
        assert!(!ack.duplicate);
        last = ack.sequence;
    }
    last
}

fn row(
    conversation_id: &str,
    booking_id: &str,
    status: Status,
    created: f64,
    first_response_seconds: Option<f64>,
    resolution_seconds: Option<f64>,
) -> Row {
    Row {
        conversation_id: conversation_id.into(),
        booking_id: booking_id.into(),
        status,
        created_at: t(created),
        first_response_seconds,
        resolution_seconds,
    }
}

fn rows_after_first() -> Vec<Row> {
    vec![
        row(A, "bk_a", Status::Closed, 10.0, Some(75.5), Some(300.0)),
        row(B, "bk_b", Status::Active, 100.0, None, None),
        row(C, "bk_c", Status::Active, 200.0, Some(10.0), None),
    ]
}

fn summary_after_first() -> Summary {
    Summary {
        conversations: 3,
        first_responses: 2,
        avg_first_response_seconds: Some(42.75),
        resolved: 1,
        avg_resolution_seconds: Some(300.0),
        last_seq: 18,
    }
}

fn rows_after_second() -> Vec<Row> {
    vec![
        row(A, "bk_a", Status::Closed, 10.0, Some(75.5), Some(300.0)),
        row(B, "bk_b", Status::Closed, 100.0, Some(370.0), Some(800.0)),
        row(C, "bk_c", Status::Closed, 200.0, Some(10.0), Some(1_000.0)),
    ]
}

fn summary_after_second() -> Summary {
    Summary {
        conversations: 3,
        first_responses: 3,
        avg_first_response_seconds: Some(455_500.0 / 3.0 / 1e3),
        resolved: 3,
        avg_resolution_seconds: Some(700.0),
        last_seq: 22,
    }
}

#[tokio::test]
async fn a_durable_consumer_folds_the_history_then_only_what_is_new() {
    let nats = Nats::start();
    let js = concierge_stream(&nats).await;
    let first = first_history();
    assert_eq!(publish(&js, &first).await, 18);

    let consumer = durable_consumer(&js, "CONCIERGE", "analytics-test")
        .await
        .unwrap();
    let mut times = ResponseTimes::new();
    let mut stored = String::new();
    let consumed = consume_available(&consumer, &mut times, |t| {
        stored = serde_json::to_string(t).unwrap();
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(
        (consumed.delivered, consumed.folded, consumed.undecodable),
        (18, 18, 1)
    );
    assert_eq!(times.rows(), rows_after_first());
    assert_eq!(times.summary(), summary_after_first());

    assert_eq!(publish(&js, &second_history(&first)).await, 22);

    // A new run: the state as stored, the durable consumer bound again by name.
    let mut times: ResponseTimes = serde_json::from_str(&stored).unwrap();
    let consumer = durable_consumer(&js, "CONCIERGE", "analytics-test")
        .await
        .unwrap();
    let consumed = consume_available(&consumer, &mut times, |_| Ok(()))
        .await
        .unwrap();
    assert_eq!((consumed.delivered, consumed.folded), (4, 4));
    assert_eq!(
        consumed
            .changed
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        [B, C]
    );
    assert_eq!(times.rows(), rows_after_second());
    assert_eq!(times.summary(), summary_after_second());

    let consumed = consume_available(&consumer, &mut times, |_| Ok(()))
        .await
        .unwrap();
    assert_eq!((consumed.delivered, consumed.folded), (0, 0));

    // Another durable starts from the first event and reaches the same results in one read.
    let fresh = durable_consumer(&js, "CONCIERGE", "analytics-other")
        .await
        .unwrap();
    let mut all = ResponseTimes::new();
    let consumed = consume_available(&fresh, &mut all, |_| Ok(()))
        .await
        .unwrap();
    assert_eq!((consumed.delivered, consumed.folded), (22, 22));
    assert_eq!(all, times);
}

/// Runs the binary and returns its stdout lines as JSON, or its stderr when it fails.
fn run(
    nats: &Nats,
    durable: &str,
    state: &std::path::Path,
) -> Result<(Vec<serde_json::Value>, String), String> {
    let out = Command::new(env!("CARGO_BIN_EXE_concierge-analytics"))
        .args([
            "--nats",
            &nats.url(),
            "--stream",
            "CONCIERGE",
            "--durable",
            durable,
        ])
        .arg("--state")
        .arg(state)
        .args(["--format", "json"])
        .output()
        .expect("run concierge-analytics");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        return Err(stderr);
    }
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    Ok((lines, stderr))
}

fn expected_lines(rows: Vec<Row>, summary: Summary) -> Vec<serde_json::Value> {
    let mut lines: Vec<serde_json::Value> = rows
        .into_iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect();
    lines.push(serde_json::json!({ "summary": summary }));
    lines
}

#[tokio::test(flavor = "multi_thread")]
async fn the_binary_resumes_from_its_durable_and_its_state_file() {
    let nats = Nats::start();
    let js = concierge_stream(&nats).await;
    let first = first_history();
    publish(&js, &first).await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");

    let (lines, stderr) = run(&nats, "analytics-bin", &state).unwrap();
    assert_eq!(
        lines,
        expected_lines(rows_after_first(), summary_after_first())
    );
    assert!(
        stderr.contains("folded 18 new events (1 undecodable), last seq 18"),
        "{stderr}"
    );

    publish(&js, &second_history(&first)).await;
    let (lines, stderr) = run(&nats, "analytics-bin", &state).unwrap();
    assert_eq!(
        lines,
        expected_lines(rows_after_second(), summary_after_second())
    );
    assert!(
        stderr.contains("folded 4 new events (0 undecodable), last seq 22"),
        "{stderr}"
    );

    // The same durable without its state would count from the middle: refused.
    let stderr = run(&nats, "analytics-bin", &dir.path().join("lost.json")).unwrap_err();
    assert!(
        stderr.contains("has acked up to seq 22")
            && stderr.contains("only holds events up to seq 0"),
        "{stderr}"
    );
}
