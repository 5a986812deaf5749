//! The access matrix of WEBSOCKET.md: every client event × {owning customer, other customer,
//! admin, service, no token}, generated from one table so that no event can be left out. Service
//! tokens cannot open a socket (4403); a socket without a token gets `unauthorized` for every
//! frame; the others get the `ack` or `error` the table says, on a socket that stays open.

mod common;

use common::ws::{connect, open, Auth, Client};
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

/// What a caller gets for a frame with a `ref`: `"ack"`, an error code, or (service) a close code.
type Want = &'static str;

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
            ["ack", "ack", "ack", "4403", "ack"],
        ),
        row(
            "join_conversation",
            json!({ "conversationId": conv }),
            ["ack", "forbidden", "ack", "4403", "unauthorized"],
        ),
        row(
            "leave_conversation",
            json!({ "conversationId": conv }),
            ["ack", "ack", "ack", "4403", "unauthorized"],
        ),
        row(
            "send_message",
            json!({ "conversationId": conv, "content": "hello" }),
            ["ack", "forbidden", "ack", "4403", "unauthorized"],
        ),
        row(
            "mark_read",
            json!({ "conversationId": conv }),
            ["ack", "forbidden", "ack", "4403", "unauthorized"],
        ),
        row(
            "typing_start",
            json!({ "conversationId": conv }),
            ["ack", "forbidden", "ack", "4403", "unauthorized"],
        ),
        row(
            "typing_stop",
            json!({ "conversationId": conv }),
            ["ack", "forbidden", "ack", "4403", "unauthorized"],
        ),
        row(
            "resume",
            json!({ "since": 0 }),
            ["ack", "ack", "ack", "4403", "unauthorized"],
        ),
        row(
            "ping",
            json!({}),
            ["ack", "ack", "ack", "4403", "unauthorized"],
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
            r.want[3], "4403",
            "{}: service tokens never get a socket",
            r.event
        );
    }
}

/// Fills `{conv}` and `{token}` into a row's data.
fn fill(data: &Value, conv: &str, token: &str) -> Value {
    let text = data
        .to_string()
        .replace("{conv}", conv)
        .replace("{token}", token);
    serde_json::from_str(&text).unwrap()
}

/// The reply to `frame` as the table names it: `"ack"` or the error code.
async fn outcome(c: &mut Client, event: &str, data: Value, reference: &str) -> String {
    let reply = c.request(event, data, reference).await;
    match reply["event"].as_str() {
        Some("ack") => "ack".into(),
        Some("error") => reply["error"]["code"].as_str().unwrap_or("?").to_string(),
        _ => format!("unexpected {reply}"),
    }
}

#[tokio::test]
async fn every_client_event_answers_every_caller_as_the_contract_says() {
    let env = TestEnv::start().await;
    let app = &env.app;
    data(register_booking(app, "bk_own", "cus_own", None).await, 201);
    let owner = customer("cus_own", &[]);
    let conv = id_of(&created(open_conv(app, &owner).await));
    let tokens = [
        Some(owner.clone()),
        Some(customer("cus_other", &[])),
        Some(admin("adm_1")),
        Some(service()),
        None,
    ];

    let mut failures = Vec::new();
    for (i, token) in tokens.iter().enumerate() {
        // One socket per caller for the whole table: every frame is answered and it stays open.
        let mut socket = match (i, token) {
            (3, Some(t)) => {
                let mut c = open(&app.base(), &Auth::Header(t)).await;
                let code = c.close_code().await;
                if code != Some(4403) {
                    failures.push(format!("service: want close 4403, got {code:?}"));
                }
                continue;
            }
            (_, Some(t)) => connect(&app.base(), Auth::Header(t)).await,
            (_, None) => open(&app.base(), &Auth::None).await,
        };
        for (n, r) in rows().iter().enumerate() {
            let frame_token = token.clone().unwrap_or_else(|| "not-a-token".into());
            // Without a token, `authenticate` with a good one is what the socket is for.
            let frame_token = if i == 4 { owner.clone() } else { frame_token };
            let data = fill(&r.data, &conv, &frame_token);
            let got = outcome(&mut socket, r.event, data, &format!("r{n}")).await;
            if got != r.want[i] {
                failures.push(format!(
                    "{} as {}: want {}, got {got}",
                    r.event, CALLERS[i], r.want[i]
                ));
            }
            if i == 4 && r.event == "authenticate" {
                // Authenticated now: start over without a token for the rest of the rows.
                socket = open(&app.base(), &Auth::None).await;
            }
        }
        // No answer to the other customer ever carries the owner's conversation.
        if i == 1 {
            let leaked: Vec<_> = socket
                .seen
                .iter()
                .filter(|f| f.to_string().contains(&conv))
                .collect();
            if !leaked.is_empty() {
                failures.push(format!(
                    "the other customer saw the owner's conversation: {leaked:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

async fn open_conv(app: &App, token: &str) -> (reqwest::StatusCode, Value) {
    common::open(app, token, "bk_own").await
}
