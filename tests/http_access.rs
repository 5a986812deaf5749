//! The access matrix of API.md: every route × {owning customer, other customer, admin, service,
//! no token}, generated from one table so that no route can be left out. Routes the server does
//! not serve yet are in the table too, marked `live: false`: they must still be unknown (404), and
//! the day one of them answers, this test fails until it is marked live and its row is checked.

mod common;

use common::*;
use reqwest::Method;
use serde_json::{json, Value};

/// The callers of the matrix, in the order of [`Route::want`].
const CALLERS: [&str; 5] = [
    "owning customer",
    "other customer",
    "admin",
    "service",
    "no token",
];

/// One route of API.md with the status each caller gets.
struct Route {
    /// The route's number in API.md ("10+" is the reaction removal of route 10).
    n: &'static str,
    method: Method,
    /// With `{conv}`, `{msg}` (a message of the owner's), `{doomed}` (another one, for deletes).
    path: &'static str,
    body: Option<Value>,
    /// Statuses for the callers of [`CALLERS`], in that order.
    want: [u16; 5],
    /// Served by this version; `false`: still a 404 for everyone.
    live: bool,
}

fn route(
    n: &'static str,
    method: Method,
    path: &'static str,
    body: Option<Value>,
    want: [u16; 5],
    live: bool,
) -> Route {
    Route {
        n,
        method,
        path,
        body,
        want,
        live,
    }
}

/// Every route of API.md. Customers reach only their own booking's conversation; admins all;
/// service tokens only routes 6, 12 and 14; no token is always 401.
fn routes() -> Vec<Route> {
    use Method as M;
    vec![
        route(
            "1",
            M::GET,
            "/messaging/conversations",
            None,
            [200, 200, 200, 403, 401],
            true,
        ),
        route(
            "2",
            M::GET,
            "/messaging/conversations/booking/bk_own",
            None,
            [200, 403, 200, 403, 401],
            true,
        ),
        route(
            "3",
            M::GET,
            "/messaging/conversations/{conv}/messages",
            None,
            [200, 403, 200, 403, 401],
            true,
        ),
        route(
            "4",
            M::POST,
            "/messaging/conversations/{conv}/messages",
            Some(json!({ "content": "hello" })),
            [201, 403, 201, 403, 401],
            true,
        ),
        route(
            "5",
            M::PUT,
            "/messaging/conversations/{conv}/read",
            None,
            [200, 403, 200, 403, 401],
            true,
        ),
        route(
            "6",
            M::GET,
            "/messaging/stats",
            None,
            [403, 403, 200, 200, 401],
            true,
        ),
        route(
            "7",
            M::GET,
            "/messaging/conversations/{conv}",
            None,
            [200, 403, 200, 403, 401],
            true,
        ),
        route(
            "8",
            M::PATCH,
            "/messaging/conversations/{conv}/messages/{msg}",
            Some(json!({ "content": "edited" })),
            [200, 403, 403, 403, 401],
            true,
        ),
        route(
            "9",
            M::DELETE,
            "/messaging/conversations/{conv}/messages/{doomed}",
            None,
            [200, 403, 200, 403, 401],
            true,
        ),
        route(
            "10",
            M::POST,
            "/messaging/conversations/{conv}/messages/{msg}/reactions",
            Some(json!({ "emoji": "👍" })),
            [200, 403, 200, 403, 401],
            true,
        ),
        route(
            "10+",
            M::DELETE,
            "/messaging/conversations/{conv}/messages/{msg}/reactions/%F0%9F%91%8D",
            None,
            [200, 403, 200, 403, 401],
            true,
        ),
        route(
            "11",
            M::PUT,
            "/messaging/conversations/{conv}/status",
            Some(json!({ "status": "active" })),
            [403, 403, 200, 403, 401],
            true,
        ),
        route(
            "12",
            M::PUT,
            "/messaging/bookings/bk_own",
            Some(json!({ "customerId": "cus_own" })),
            [403, 403, 200, 200, 401],
            true,
        ),
        route(
            "13",
            M::POST,
            "/messaging/admin/broadcast",
            Some(json!({ "content": "maintenance tonight", "audience": "all" })),
            [403, 403, 200, 403, 401],
            true,
        ),
        route(
            "14",
            M::GET,
            "/messaging/conversations/{conv}/events",
            None,
            [403, 403, 200, 200, 401],
            true,
        ),
        route(
            "15",
            M::GET,
            "/messaging/conversations/{conv}/history?at=2999-01-01T00:00:00.000Z",
            None,
            [403, 403, 200, 403, 401],
            true,
        ),
    ]
}

/// The fifteen numbered routes of API.md.
const SPEC_ROUTES: [&str; 15] = [
    "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15",
];

#[test]
fn the_table_covers_every_route_of_the_contract() {
    let table = routes();
    for n in SPEC_ROUTES {
        assert!(
            table.iter().any(|r| r.n == n),
            "route {n} of API.md has no row in the access table"
        );
    }
    for r in &table {
        let base = r.n.trim_end_matches('+');
        assert!(
            SPEC_ROUTES.contains(&base),
            "row {} is not a route of API.md",
            r.n
        );
        assert_eq!(r.want[4], 401, "route {}: no token is always 401", r.n);
    }
}

#[tokio::test]
async fn every_route_answers_every_caller_as_the_contract_says() {
    let env = TestEnv::start().await;
    let app = &env.app;

    // cus_own owns bk_own (registered) and its conversation with two messages; cus_other has a
    // conversation of their own.
    data(register_booking(app, "bk_own", "cus_own", None).await, 201);
    data(
        register_booking(app, "bk_other", "cus_other", None).await,
        201,
    );
    let owner = customer("cus_own", &[]);
    let other = customer("cus_other", &[]);
    let conv = id_of(&created(open(app, &owner, "bk_own").await));
    let other_conv = id_of(&created(open(app, &other, "bk_other").await));
    let msg = id_of(&send(app, &owner, &conv, "first").await);
    let doomed = id_of(&send(app, &owner, &conv, "to be deleted").await);

    let tokens = [
        Some(owner.clone()),
        Some(other.clone()),
        Some(admin("adm_1")),
        Some(service()),
        None,
    ];
    let mut failures = Vec::new();
    let mut checked = 0;
    for r in routes() {
        let path = r
            .path
            .replace("{conv}", &conv)
            .replace("{msg}", &msg)
            .replace("{doomed}", &doomed);
        let (headers, body): (&[(&str, &str)], _) = match &r.body {
            Some(b) => (
                &[("content-type", "application/json")],
                Some(serde_json::to_vec(b).unwrap()),
            ),
            None => (&[], None),
        };
        if !r.live {
            let got = raw(
                r.method.clone(),
                &app.url(&path),
                tokens[2].as_deref(),
                headers,
                body,
            )
            .await;
            if got.status.as_u16() != 404 {
                failures.push(format!(
                    "route {} ({} {}) answers {} now: mark it live in routes() so its row is checked",
                    r.n, r.method, r.path, got.status
                ));
            }
            continue;
        }
        for (i, token) in tokens.iter().enumerate() {
            let got = raw(
                r.method.clone(),
                &app.url(&path),
                token.as_deref(),
                headers,
                body.clone(),
            )
            .await;
            checked += 1;
            let status = got.status.as_u16();
            let want = r.want[i];
            let envelope_ok = got.body["success"] == json!((200..300).contains(&status))
                && got.body["message"].is_string()
                && match status {
                    401 => got.body["error"] == json!("unauthorized"),
                    403 => got.body["error"] == json!("forbidden"),
                    _ => true,
                };
            if status != want || !envelope_ok {
                failures.push(format!(
                    "route {} {} {} as {}: want {want}, got {status}: {}",
                    r.n, r.method, r.path, CALLERS[i], got.body
                ));
            }
            // No answer to the other customer ever carries the owner's conversation.
            if i == 1 && got.body.to_string().contains(&conv) {
                failures.push(format!(
                    "route {} {} {} leaks the owner's conversation to another customer: {}",
                    r.n, r.method, r.path, got.body
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} checks failed:\n{}",
        failures.len(),
        failures.join("\n")
    );

    // Route 1 lists exactly what each caller may see.
    let list = |token: String| {
        let url = app.url("/messaging/conversations");
        async move { data(get(&url, &token).await, 200)["conversations"].clone() }
    };
    assert_eq!(ids(&list(owner).await), vec![conv.clone()]);
    assert_eq!(ids(&list(other).await), vec![other_conv.clone()]);
    let mut all = ids(&list(admin("adm_1")).await);
    all.sort();
    let mut want = vec![conv, other_conv];
    want.sort();
    assert_eq!(all, want);
}
