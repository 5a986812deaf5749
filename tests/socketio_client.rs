//! A real Socket.IO client in Rust, `rust_socketio`'s async client, against `/socket.io/`
//! (SOCKETIO.md) over each transport it offers: long-polling alone, a WebSocket alone, and
//! polling upgraded to a WebSocket (its default). It authenticates with `auth: {token}`, joins and
//! sends with ack callbacks, and receives another client's `new_message`, as a Rust service of the
//! booking platform would.

mod common;

use common::*;
use futures::FutureExt;
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Payload, TransportType};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::mpsc;

const BOOKING: &str = "bk_1";
const WAIT: Duration = Duration::from_secs(10);

/// The first argument of an event's payload.
fn first_arg(p: Payload) -> Value {
    match p {
        Payload::Text(mut args) if !args.is_empty() => args.swap_remove(0),
        other => panic!("a JSON payload expected, got {other:?}"),
    }
}

/// An ack's payload: the client hands it over as the array of the ack's arguments.
fn ack_arg(p: Payload) -> Value {
    match first_arg(p) {
        Value::Array(mut args) if !args.is_empty() => args.swap_remove(0),
        other => other,
    }
}

/// A connected client and the events it received, as `(name, data)`.
struct Real {
    client: Client,
    events: mpsc::UnboundedReceiver<(String, Value)>,
    seen: Vec<(String, Value)>,
}

impl Real {
    async fn connect(base: &str, token: &str, transport: TransportType) -> Real {
        let (tx, events) = mpsc::unbounded_channel();
        let client = ClientBuilder::new(base)
            .auth(json!({ "token": token }))
            .transport_type(transport)
            .reconnect(false)
            .on_any(move |event, payload, _: Client| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send((String::from(event), first_arg(payload)));
                }
                .boxed()
            })
            .connect()
            .await
            .expect("connect");
        let mut real = Real {
            client,
            events,
            seen: Vec::new(),
        };
        let hello = real.next().await;
        assert_eq!(hello.0, "authenticated", "the first event: {hello:?}");
        real
    }

    async fn next(&mut self) -> (String, Value) {
        let e = tokio::time::timeout(WAIT, self.events.recv())
            .await
            .unwrap_or_else(|_| panic!("no event within 10 s; seen: {:#?}", self.seen))
            .expect("the client is gone");
        self.seen.push(e.clone());
        e
    }

    /// The next event `name` whose data satisfies `pred`.
    async fn next_matching(&mut self, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
        loop {
            let (event, data) = self.next().await;
            if event == name && pred(&data) {
                return data;
            }
        }
    }

    /// Emits with an ack callback and returns the ack's payload.
    async fn request(&self, event: &str, data: Value) -> Value {
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.client
            .emit_with_ack(event, data, WAIT, move |p, _: Client| {
                let tx = tx.clone();
                async move {
                    let _ = tx.send(ack_arg(p));
                }
                .boxed()
            })
            .await
            .expect("emit_with_ack");
        tokio::time::timeout(WAIT, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no ack to {event} within 10 s"))
            .expect("ack")
    }
}

/// Asserts the success envelope and returns its `data`.
#[track_caller]
fn success(ack: &Value) -> Value {
    let message = ack["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{ack}");
    assert_eq!(
        ack,
        &json!({ "success": true, "message": message, "data": ack["data"] })
    );
    ack["data"].clone()
}

fn transport(what: &str) -> TransportType {
    match what {
        "polling" => TransportType::Polling,
        "websocket" => TransportType::Websocket,
        "upgrade" => TransportType::WebsocketUpgrade,
        other => panic!("unknown transport {other}"),
    }
}

async fn converse(what: &str) {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = id_of(&created(
        open(app, &customer("cus_ann", &[BOOKING]), BOOKING).await,
    ));
    let base = app.base();
    let mut ann = Real::connect(&base, &customer("cus_ann", &[]), transport(what)).await;
    assert_eq!(ann.seen[0].1["userId"], json!("cus_ann"), "{what}");
    assert_eq!(ann.seen[0].1["role"], json!("customer"), "{what}");

    let joined = success(
        &ann.request("join_conversation", json!({ "conversationId": conv }))
            .await,
    );
    assert_eq!(joined["conversation"]["id"], json!(conv), "{what}");
    let sent = success(
        &ann.request(
            "send_message",
            json!({ "conversationId": conv, "content": "from a Rust client" }),
        )
        .await,
    )["message"]
        .clone();
    assert_eq!(sent["content"], json!("from a Rust client"), "{what}");
    let own = ann
        .next_matching("message_sent", |d| d["message"]["id"] == sent["id"])
        .await;
    assert_eq!(own["seq"], sent["seq"], "{what}: {own}");

    // Another client of the same kind, an admin, answers in the conversation.
    let mut bo = Real::connect(&base, &admin("adm_bo"), transport(what)).await;
    success(&bo.request("join_conversation", json!(conv)).await);
    let reply = success(
        &bo.request(
            "send_message",
            json!({ "conversationId": conv, "content": "hello from bo" }),
        )
        .await,
    )["message"]
        .clone();
    let news = ann
        .next_matching("new_message", |d| d["message"]["id"] == reply["id"])
        .await;
    assert_eq!(news["seq"], reply["seq"], "{what}: {news}");
    assert_eq!(news["conversationId"], json!(conv), "{what}");
    assert_eq!(news["message"]["content"], json!("hello from bo"), "{what}");
    assert_eq!(news["message"]["sender"], json!("adm_bo"), "{what}");
    // Each once.
    let count = |name: &str, id: &Value| {
        ann.seen
            .iter()
            .filter(|(e, d)| e == name && d["message"]["id"] == *id)
            .count()
    };
    assert_eq!(count("message_sent", &sent["id"]), 1, "{what}");
    assert_eq!(count("new_message", &reply["id"]), 1, "{what}");

    // Ann leaves: Bo, in the admin room, hears she went offline. (Over long-polling the client's
    // last step, its Engine.IO close POST, finds the session already ended by the Socket.IO
    // DISCONNECT just before it and reports an error; the disconnect itself went through.)
    let _ = ann.client.disconnect().await;
    let gone = bo
        .next_matching("user_offline", |d| d["userId"] == "cus_ann")
        .await;
    assert_eq!(gone["role"], json!("customer"), "{what}");
    let _ = bo.client.disconnect().await;
}

#[tokio::test]
async fn a_rust_client_converses_over_long_polling() {
    converse("polling").await;
}

#[tokio::test]
async fn a_rust_client_converses_over_a_websocket() {
    converse("websocket").await;
}

#[tokio::test]
async fn a_rust_client_converses_after_upgrading_from_polling() {
    converse("upgrade").await;
}
