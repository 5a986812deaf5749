//! The access matrix of WEBSOCKET.md: every client event × {owning customer, other customer,
//! admin, service, no token}, generated from one table so that no event can be left out, and run
//! against both codecs (`/ws` and Socket.IO, SOCKETIO.md: "the same events with the same rules").
//! Service tokens cannot open a socket (`/ws` closes with 4403, Socket.IO answers `connect_error`
//! `forbidden`); a socket without a token gets `unauthorized` for every event but `authenticate`;
//! the others get the ack or error the table says, on a socket that stays open. On Socket.IO, the
//! five events that take a bare conversation id answer it as they answer `{conversationId}`.

mod common;

use common::sio::{Codec, Socket};
use common::*;
use serde_json::{json, Value};

/// The callers of the matrix, in the order of [`Row::want`].
const CALLERS: [&str; 5] = [
    "owning customer",
    "other customer",
    "admin",
    "service",
    "no token",
];

/// What a caller gets for an event with a reply id: `"ack"`, an error code, or (service)
/// [`NO_SOCKET`].
type Want = &'static str;

/// The socket itself is refused with `forbidden`.
const NO_SOCKET: Want = "no socket: forbidden";

struct Row {
    event: &'static str,
    /// With `{conv}`: the owner's conversation.
    data: Value,
    want: [Want; 5],
}

/// Every client event of WEBSOCKET.md. Customers reach only their own booking's conversation;
/// admins all; service tokens no socket at all.
fn rows() -> Vec<Row> {
    let conv = json!("{conv}");
    let row = |event, data, want| Row { event, data, want };
    vec![
        row(
            "authenticate",
            json!({ "token": "{token}" }),
            ["ack", "ack", "ack", NO_SOCKET, "ack"],
        ),
        row(
            "join_conversation",
            json!({ "conversationId": conv }),
            ["ack", "forbidden", "ack", NO_SOCKET, "unauthorized"],
        ),
        row(
            "leave_conversation",
            json!({ "conversationId": conv }),
            ["ack", "ack", "ack", NO_SOCKET, "unauthorized"],
        ),
        row(
            "send_message",
            json!({ "conversationId": conv, "content": "hello" }),
            ["ack", "forbidden", "ack", NO_SOCKET, "unauthorized"],
        ),
        row(
            "mark_read",
            json!({ "conversationId": conv }),
            ["ack", "forbidden", "ack", NO_SOCKET, "unauthorized"],
        ),
        row(
            "typing_start",
            json!({ "conversationId": conv }),
            ["ack", "forbidden", "ack", NO_SOCKET, "unauthorized"],
        ),
        row(
            "typing_stop",
            json!({ "conversationId": conv }),
            ["ack", "forbidden", "ack", NO_SOCKET, "unauthorized"],
        ),
        row(
            "resume",
            json!({ "since": 0 }),
            ["ack", "ack", "ack", NO_SOCKET, "unauthorized"],
        ),
        row(
            "ping",
            json!({}),
            ["ack", "ack", "ack", NO_SOCKET, "unauthorized"],
        ),
    ]
}

/// The client events of WEBSOCKET.md.
const SPEC_EVENTS: [&str; 9] = [
    "authenticate",
    "join_conversation",
    "leave_conversation",
    "send_message",
    "mark_read",
    "typing_start",
    "typing_stop",
    "resume",
    "ping",
];

#[test]
fn the_table_covers_every_client_event_of_the_contract() {
    let table: Vec<_> = rows().iter().map(|r| r.event).collect();
    assert_eq!(table, SPEC_EVENTS.to_vec());
    for r in rows() {
        assert_eq!(
            r.want[3], NO_SOCKET,
            "{}: service tokens never get a socket",
            r.event
        );
    }
}

/// The events whose `data` Socket.IO also takes as a bare conversation id (SOCKETIO.md).
const BARE_ID: [&str; 5] = [
    "join_conversation",
    "leave_conversation",
    "typing_start",
    "typing_stop",
    "mark_read",
];

/// Fills `{conv}` and `{token}` into a row's data.
fn fill(data: &Value, conv: &str, token: &str) -> Value {
    let text = data
        .to_string()
        .replace("{conv}", conv)
        .replace("{token}", token);
    serde_json::from_str(&text).unwrap()
}

/// Runs the whole matrix over `codec`; returns what differs from the table.
async fn matrix(codec: Codec) -> Vec<String> {
    let env = TestEnv::start().await;
    let app = &env.app;
    data(register_booking(app, "bk_own", "cus_own", None).await, 201);
    let owner = customer("cus_own", &[]);
    let conv = id_of(&created(open(app, &owner, "bk_own").await));
    let tokens = [
        Some(owner.clone()),
        Some(customer("cus_other", &[])),
        Some(admin("adm_1")),
        Some(service()),
        None,
    ];

    let mut failures = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        // One socket per caller for the whole table: every event is answered and it stays open.
        let mut socket = match (i, token) {
            (3, Some(t)) => {
                let got = format!(
                    "no socket: {}",
                    Socket::refusal(codec, &app.base(), t).await
                );
                for r in rows() {
                    if got != r.want[i] {
                        failures.push(format!(
                            "{codec:?} {} as {}: want {}, got {got}",
                            r.event, CALLERS[i], r.want[i]
                        ));
                    }
                }
                continue;
            }
            (_, Some(t)) => Socket::connect(codec, &app.base(), t).await,
            (_, None) => Socket::anonymous(codec, &app.base()).await,
        };
        for r in rows() {
            // Without a token, `authenticate` with a good one is what the socket is for.
            let event_token = match (i, token) {
                (4, _) => owner.clone(),
                (_, Some(t)) => t.clone(),
                (_, None) => unreachable!(),
            };
            let answer = socket
                .request(r.event, fill(&r.data, &conv, &event_token))
                .await;
            let got = answer.outcome();
            if got != r.want[i] {
                failures.push(format!(
                    "{codec:?} {} as {}: want {}, got {answer:?}",
                    r.event, CALLERS[i], r.want[i]
                ));
            }
            // Socket.IO also takes a bare string as the conversationId of five events: the same
            // answer.
            if codec == Codec::SocketIo && BARE_ID.contains(&r.event) {
                let bare = socket.request(r.event, json!(conv)).await;
                if bare.outcome() != r.want[i] {
                    failures.push(format!(
                        "{codec:?} {} with a bare id as {}: want {}, got {bare:?}",
                        r.event, CALLERS[i], r.want[i]
                    ));
                }
            }
            if i == 4 && r.event == "authenticate" {
                socket.next_event("authenticated").await;
                // Authenticated now: start over without a token for the rest of the rows.
                socket = Socket::anonymous(codec, &app.base()).await;
            }
        }
        // No answer to the other customer ever carries the owner's conversation.
        if i == 1 {
            let leaked: Vec<_> = socket
                .seen()
                .iter()
                .filter(|f| f.to_string().contains(&conv))
                .collect();
            if !leaked.is_empty() {
                failures.push(format!(
                    "{codec:?}: the other customer saw the owner's conversation: {leaked:?}"
                ));
            }
        }
    }
    failures
}

#[tokio::test]
async fn every_client_event_answers_every_caller_as_the_contract_says_over_ws() {
    let failures = matrix(Codec::Ws).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn every_client_event_answers_every_caller_as_the_contract_says_over_socket_io() {
    let failures = matrix(Codec::SocketIo).await;
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
