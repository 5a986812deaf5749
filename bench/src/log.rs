//! Straight to JetStream: seeding the log with valid events (scenarios 5, 7 and 10), publishing an
//! admin broadcast (scenario 4), and the ceiling (scenario 8), a plain publish loop of the payloads
//! the server writes, with the same `Nats-Msg-Id` and one awaited ack per publish.

use crate::common::{self, histogram, ms, Rows};
use crate::text::{self, Sender};
use anyhow::{Context as _, Result};
use async_nats::jetstream::{self, context::Publish, stream};
use clap::Args;
use concierge_events::{
    subject, Actor, BookingRegistered, BookingSource, ConversationCreated, Envelope, Event,
    MessageSent, MessageType, ParticipantJoined, Role, Timestamp,
};
use futures::stream::{FuturesUnordered, StreamExt};
use std::future::IntoFuture;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Args, Debug)]
pub struct SeedArgs {
    /// A NATS with JetStream (127.0.0.x only).
    #[arg(long)]
    pub nats: String,
    #[arg(long, default_value = "CONCIERGE")]
    pub stream: String,
    #[arg(long, default_value_t = 1000)]
    pub conversations: usize,
    /// `message_sent` events per conversation.
    #[arg(long, default_value_t = 998)]
    pub messages: usize,
    /// Publishes awaiting their ack at once.
    #[arg(long, default_value_t = 4096)]
    pub inflight: usize,
    /// When set, a row with the publish rate is written under this scenario.
    #[arg(long)]
    pub scenario: Option<String>,
    /// Replicas of the stream when this command creates it (the server's STREAM_REPLICAS).
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
    /// What the messages say: `fixed`, one short line each, all the customer's (scenarios 5 and
    /// 7); `sentences`, varied texts of which about a third are an admin's answers, the admin
    /// joining each conversation first (scenario 10: src/text.rs).
    #[arg(long, value_enum, default_value_t = Texts::Fixed)]
    pub text: Texts,
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// What seeded messages say.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Texts {
    Fixed,
    Sentences,
}

#[derive(Args, Debug)]
pub struct CeilingArgs {
    #[arg(long)]
    pub nats: String,
    #[arg(long, default_value = "8 ceiling")]
    pub scenario: String,
    /// Publish loops running at once, each awaiting its ack before the next publish.
    #[arg(long, value_delimiter = ',', default_value = "64,1000")]
    pub concurrency: Vec<usize>,
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Replicas of the ceiling's stream (3 on a 3-node cluster, as the log there).
    #[arg(long, default_value_t = 1)]
    pub replicas: usize,
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// A client of NATS at `url` (a cluster's servers comma separated, each on 127.0.0.x).
async fn client(url: &str) -> Result<async_nats::Client> {
    let servers: Vec<&str> = url.split(',').map(str::trim).collect();
    for server in &servers {
        common::check_nats_url(server)?;
    }
    async_nats::connect(servers)
        .await
        .with_context(|| format!("connect {url}"))
}

/// Connects to NATS (`url` may list a cluster's servers, comma separated) and makes sure the log
/// stream exists with the server's configuration at `replicas` replicas.
async fn connect(
    url: &str,
    stream_name: &str,
    subjects: Vec<String>,
    replicas: usize,
) -> Result<jetstream::Context> {
    let js = jetstream::new(client(url).await?);
    js.get_or_create_stream(stream::Config {
        name: stream_name.to_string(),
        subjects,
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        duplicate_window: Duration::from_secs(120),
        num_replicas: replicas,
        ..Default::default()
    })
    .await
    .map_err(|e| anyhow::anyhow!("stream {stream_name}: {e}"))?;
    Ok(js)
}

fn log_subjects() -> Vec<String> {
    subject::LOG_SUBJECTS
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn envelope(actor: &Actor, conversation_id: Option<&str>, event: Event) -> Envelope {
    Envelope::new(
        ulid::Ulid::new().to_string(),
        Timestamp::now(),
        actor.clone(),
        conversation_id.map(str::to_string),
        event,
    )
}

fn customer(i: usize) -> Actor {
    Actor {
        id: format!("cus{i}"),
        role: Role::Customer,
        name: Some(format!("cus{i}")),
    }
}

fn message(actor: &Actor, conv: &str, content: String) -> Envelope {
    envelope(
        actor,
        Some(conv),
        Event::MessageSent(MessageSent {
            message_id: ulid::Ulid::new().to_string(),
            content,
            message_type: MessageType::Text,
            attachments: vec![],
            reply_to: None,
            client_message_id: None,
        }),
    )
}

/// The admin who answers in scenario 10's conversations.
fn admin() -> Actor {
    Actor {
        id: "adm0".into(),
        role: Role::Admin,
        name: Some("adm0".into()),
    }
}

/// The `Nats-Msg-Id` the server gives an event: a join's is one per user and conversation
/// (`participant_joined:<conversation>:<user>`), any other's is the event's id.
fn msg_id(env: &Envelope) -> String {
    match (&env.event, &env.conversation_id) {
        (Event::ParticipantJoined(p), Some(conv)) => {
            format!("participant_joined:{conv}:{}", p.user_id)
        }
        _ => env.id.clone(),
    }
}

/// Publishes every event with up to `inflight` acks outstanding, and waits for all of them.
async fn publish_all(
    js: &jetstream::Context,
    events: impl Iterator<Item = (String, Envelope)>,
    inflight: usize,
) -> Result<u64> {
    let mut pending = FuturesUnordered::new();
    let mut n = 0;
    for (subj, env) in events {
        let publish = Publish::build()
            .payload(env.encode().into())
            .message_id(msg_id(&env));
        let ack = js.send_publish(subj, publish).await?;
        pending.push(ack.into_future());
        n += 1;
        if pending.len() >= inflight {
            pending.next().await.expect("one pending")?;
        }
    }
    while let Some(ack) = pending.next().await {
        ack?;
    }
    Ok(n)
}

/// Puts `conversations × (2 + messages)` valid events in the log: each booking registered by the
/// platform, its conversation created by its customer, then the customers' messages, round-robin.
/// With `--text sentences`, `conversations × (3 + messages)`: `adm0` joins each conversation before
/// the messages, as the server has an admin do before its first send, and sends about a third of
/// them; the total bytes of the texts are printed and recorded ("message text MiB").
///
/// # Errors
/// When NATS refuses a publish.
pub async fn seed(a: SeedArgs) -> Result<()> {
    if a.text == Texts::Sentences && a.messages < text::ANCHORS.len() {
        anyhow::bail!(
            "--text sentences needs at least {} messages per conversation",
            text::ANCHORS.len()
        );
    }
    let js = connect(&a.nats, &a.stream, log_subjects(), a.replicas).await?;
    let started = Instant::now();
    let platform = Actor {
        id: "platform".into(),
        role: Role::Service,
        name: None,
    };
    let convs: Vec<String> = (0..a.conversations)
        .map(|_| ulid::Ulid::new().to_string())
        .collect();
    let bookings = (0..a.conversations).map(|i| {
        let env = envelope(
            &platform,
            None,
            Event::BookingRegistered(BookingRegistered {
                booking_id: format!("bk{i}"),
                customer_id: format!("cus{i}"),
                title: Some(format!("Bench {i}")),
                source: BookingSource::Api,
            }),
        );
        (subject::booking(&format!("bk{i}")), env)
    });
    let mut n = publish_all(&js, bookings, a.inflight).await?;
    let created = convs.iter().enumerate().map(|(i, c)| {
        let env = envelope(
            &customer(i),
            Some(c),
            Event::ConversationCreated(ConversationCreated {
                booking_id: format!("bk{i}"),
                title: format!("Bench {i}"),
                participants: vec![ParticipantJoined {
                    user_id: format!("cus{i}"),
                    role: Role::Customer,
                    name: format!("cus{i}"),
                }],
            }),
        );
        (subject::conversation(c), env)
    });
    n += publish_all(&js, created, a.inflight).await?;
    let adm = admin();
    if a.text == Texts::Sentences {
        let joins = convs.iter().map(|c| {
            let env = envelope(
                &adm,
                Some(c),
                Event::ParticipantJoined(ParticipantJoined {
                    user_id: adm.id.clone(),
                    role: Role::Admin,
                    name: adm.id.clone(),
                }),
            );
            (subject::conversation(c), env)
        });
        n += publish_all(&js, joins, a.inflight).await?;
    }
    let actors: Vec<Actor> = (0..a.conversations).map(customer).collect();
    let text_bytes = std::cell::Cell::new(0u64);
    let messages = (0..a.messages).flat_map(|k| {
        let (convs, actors, adm, text_bytes) = (&convs, &actors, &adm, &text_bytes);
        (0..convs.len()).map(move |i| {
            let (sender, content) = match a.text {
                Texts::Fixed => (
                    Sender::Customer,
                    format!("Seeded message {k} of a benchmark conversation"),
                ),
                Texts::Sentences => text::message(i, k, a.messages),
            };
            text_bytes.set(text_bytes.get() + content.len() as u64);
            let actor = match sender {
                Sender::Customer => &actors[i],
                Sender::Admin => adm,
            };
            let env = message(actor, &convs[i], content);
            (subject::conversation(&convs[i]), env)
        })
    });
    n += publish_all(&js, messages, a.inflight).await?;
    let secs = started.elapsed().as_secs_f64();
    let text_mib = text_bytes.get() as f64 / (1024.0 * 1024.0);
    eprintln!(
        "seeded {n} events in {secs:.1} s ({:.0}/s); {} messages, {} bytes of text ({text_mib:.1} MiB)",
        n as f64 / secs,
        a.conversations * a.messages,
        text_bytes.get()
    );
    if let Some(scenario) = &a.scenario {
        let rows = Rows::new(a.out.clone(), scenario);
        rows.add("seed publish events/s (pipelined)", n as f64 / secs, None)?;
        if a.text == Texts::Sentences {
            rows.add("message text MiB", text_mib, None)?;
        }
    }
    Ok(())
}

/// The sequence of the newest event in the log stream `stream_name`.
///
/// # Errors
/// When NATS is unreachable or the stream does not exist.
pub async fn last_seq(url: &str, stream_name: &str) -> Result<u64> {
    let mut stream = jetstream::new(client(url).await?)
        .get_stream(stream_name)
        .await
        .map_err(|e| anyhow::anyhow!("stream {stream_name}: {e}"))?;
    let info = stream
        .info()
        .await
        .map_err(|e| anyhow::anyhow!("stream {stream_name}: {e}"))?;
    Ok(info.state.last_sequence)
}

/// Publishes one `admin_broadcast` to everyone and returns when JetStream acked it.
///
/// # Errors
/// When NATS refuses the publish.
pub async fn broadcast(nats: &str, content: &str) -> Result<()> {
    let js = connect(nats, "CONCIERGE", log_subjects(), 1).await?;
    let env = envelope(
        &Actor {
            id: "adm0".into(),
            role: Role::Admin,
            name: None,
        },
        None,
        Event::AdminBroadcast(concierge_events::AdminBroadcast {
            content: content.to_string(),
            audience: concierge_events::Audience::All,
        }),
    );
    let publish = Publish::build()
        .payload(env.encode().into())
        .message_id(env.id.as_str());
    js.send_publish(subject::BROADCAST.to_string(), publish)
        .await?
        .await?;
    Ok(())
}

/// Scenario 8: publish loops of `message_sent` payloads into a stream of the same configuration.
///
/// # Errors
/// When NATS refuses a publish or results cannot be written.
pub async fn ceiling(a: CeilingArgs) -> Result<()> {
    let js = connect(
        &a.nats,
        "BENCH_CEILING",
        vec!["bench.conv.*".into()],
        a.replicas,
    )
    .await?;
    let rows = Rows::new(a.out.clone(), &a.scenario);
    for &c in &a.concurrency {
        for (secs, record) in [(1.0, false), (a.duration, true)] {
            let deadline = Instant::now() + Duration::from_secs_f64(secs);
            let started = Instant::now();
            let tasks: Vec<_> = (0..c)
                .map(|i| {
                    let js = js.clone();
                    tokio::spawn(async move {
                        let conv = ulid::Ulid::new().to_string();
                        let subj = format!("bench.conv.{conv}");
                        let actor = customer(i);
                        let mut h = histogram();
                        while Instant::now() < deadline {
                            let env = message(&actor, &conv, format!("b:{}", common::now_ns()));
                            let t = Instant::now();
                            let publish = Publish::build()
                                .payload(env.encode().into())
                                .message_id(env.id.as_str());
                            js.send_publish(subj.clone(), publish).await?.await?;
                            h.saturating_record((t.elapsed().as_micros() as u64).max(1));
                        }
                        anyhow::Ok(h)
                    })
                })
                .collect();
            let mut h = histogram();
            for t in tasks {
                h.add(&t.await??).expect("same bounds");
            }
            let secs = started.elapsed().as_secs_f64();
            if record {
                let per_sec = h.len() as f64 / secs;
                eprintln!(
                    "ceiling {c} in flight: {per_sec:.0}/s p99 {:.2} ms",
                    ms(&h, 0.99)
                );
                rows.add(&format!("publishes/s, {c} in flight"), per_sec, None)?;
                rows.add(&format!("p99 ms, {c} in flight"), ms(&h, 0.99), None)?;
            }
        }
    }
    Ok(())
}
