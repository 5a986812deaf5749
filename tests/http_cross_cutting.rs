//! Cross-cutting rules of API.md: CORS, the 64 KiB body limit, media types, unknown routes and
//! methods, the order in which checks answer (Envelope section), the per-user send rate limit, and
//! token verification (Identity section).

mod common;

use common::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};

const LIMIT: usize = 64 * 1024;
const JSON: (&str, &str) = ("content-type", "application/json");
const TEXT: (&str, &str) = ("content-type", "text/plain");

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A send body of exactly `len` bytes: `{"content": …, "padding": "xxx…"}` (unknown fields are
/// ignored, so only the size matters).
fn padded_body(content: &str, len: usize) -> Vec<u8> {
    let head = format!(r#"{{"content":{},"padding":""#, json!(content));
    let tail = r#""}"#;
    let pad = len - head.len() - tail.len();
    let body = format!("{head}{}{tail}", "x".repeat(pad));
    assert_eq!(body.len(), len);
    serde_json::from_str::<Value>(&body).expect("the padded body is valid JSON");
    body.into_bytes()
}

fn to_pair(r: Resp) -> (StatusCode, Value) {
    (r.status, r.body)
}

/// A 429 `rate_limited` with a `Retry-After` of whole seconds, at least 1 and at most the window.
#[track_caller]
fn rate_limited(r: Resp) {
    let retry_after = r
        .headers
        .get("retry-after")
        .unwrap_or_else(|| panic!("429 without Retry-After: {:?}", r.headers))
        .to_str()
        .unwrap()
        .to_string();
    error(to_pair(r), 429, "rate_limited");
    let secs: u64 = retry_after
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After is not whole seconds: {retry_after:?}"));
    assert!((1..=10).contains(&secs), "Retry-After {secs}");
}

/// A POST of raw bytes to a conversation's messages.
async fn post_raw(
    app: &App,
    token: Option<&str>,
    conv: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Resp {
    raw(
        Method::POST,
        &messages_url(app, conv),
        token,
        headers,
        Some(body),
    )
    .await
}

/// Starts a server and gives `cus_ann` the conversation of `bk_1` and `cus_ben` that of `bk_2`.
async fn two_customers(send_rate_limit: u32) -> (TestEnv, String, String) {
    let env = TestEnv::start_with(AppOptions {
        send_rate_limit: Some(send_rate_limit),
        ..Default::default()
    })
    .await;
    let ann = customer("cus_ann", &["bk_1"]);
    let ben = customer("cus_ben", &["bk_2"]);
    let ann_conv = id_of(&created(open(&env.app, &ann, "bk_1").await));
    let ben_conv = id_of(&created(open(&env.app, &ben, "bk_2").await));
    (env, ann_conv, ben_conv)
}

async fn message_total(app: &App, conv: &str) -> u64 {
    let d = list_messages(app, &admin("adm_audit"), conv, "limit=100").await;
    d["pagination"]["total"].as_u64().expect("total")
}

// ---------------------------------------------------------------------------------------------
// CORS
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn cors_allows_client_url_with_credentials_and_no_other_origin() {
    let env = TestEnv::start().await;
    let url = env.url("/messaging/conversations");
    let preflight = |origin: &'static str| {
        let url = url.clone();
        async move {
            raw(
                Method::OPTIONS,
                &url,
                None,
                &[
                    ("origin", origin),
                    ("access-control-request-method", "POST"),
                    (
                        "access-control-request-headers",
                        "authorization,content-type",
                    ),
                ],
                None,
            )
            .await
        }
    };

    let r = preflight(CLIENT_URL).await;
    assert!(r.status.is_success(), "preflight answered {}", r.status);
    assert_eq!(
        r.headers
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some(CLIENT_URL)
    );
    assert_eq!(
        r.headers
            .get("access-control-allow-credentials")
            .map(|v| v.to_str().unwrap()),
        Some("true")
    );
    let methods = r.headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_uppercase();
    assert!(methods.contains("POST"), "allowed methods: {methods}");
    let headers = r.headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(
        headers.contains("authorization") && headers.contains("content-type"),
        "allowed headers: {headers}"
    );

    // Another origin is not granted: the server either omits the header or names only
    // CLIENT_URL (tower-http's exact-origin mode), which a browser refuses for another origin.
    let r = preflight("http://evil.example").await;
    let granted = r
        .headers
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_string());
    assert!(
        granted.is_none() || granted.as_deref() == Some(CLIENT_URL),
        "another origin was allowed: {:?}",
        r.headers
    );

    // A plain request from the client's origin carries the same grant.
    let r = raw(
        Method::GET,
        &url,
        Some(&admin("adm_1")),
        &[("origin", CLIENT_URL)],
        None,
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["access-control-allow-origin"], CLIENT_URL);
    assert_eq!(r.headers["access-control-allow-credentials"], "true");
}

// ---------------------------------------------------------------------------------------------
// Bodies, methods, routes
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn bodies_are_judged_415_then_413_then_400() {
    let (env, conv, _) = two_customers(0).await;
    let app = &env.app;
    let ann = customer("cus_ann", &["bk_1"]);

    // Exactly 64 KiB is taken; one byte more is not.
    let r = post_raw(
        app,
        Some(&ann),
        &conv,
        &[JSON],
        padded_body("at the limit", LIMIT),
    )
    .await;
    let m = data(to_pair(r), 201);
    assert_eq!(m["content"], json!("at the limit"));
    let r = post_raw(
        app,
        Some(&ann),
        &conv,
        &[JSON],
        padded_body("over", LIMIT + 1),
    )
    .await;
    error(to_pair(r), 413, "payload_too_large");

    // Not JSON by its media type, whatever the bytes.
    let ok_json = br#"{"content":"hi"}"#.to_vec();
    let r = post_raw(app, Some(&ann), &conv, &[TEXT], ok_json.clone()).await;
    error(to_pair(r), 415, "unsupported_media_type");
    let r = post_raw(app, Some(&ann), &conv, &[], ok_json.clone()).await;
    error(to_pair(r), 415, "unsupported_media_type");
    let r = post_raw(
        app,
        Some(&ann),
        &conv,
        &[("content-type", "application/json; charset=utf-8")],
        ok_json,
    )
    .await;
    data(to_pair(r), 201);

    // 415 before 413 before 400.
    let r = post_raw(app, Some(&ann), &conv, &[TEXT], vec![b'{'; LIMIT + 1]).await;
    error(to_pair(r), 415, "unsupported_media_type");
    let r = post_raw(app, Some(&ann), &conv, &[JSON], vec![b'{'; LIMIT + 1]).await;
    error(to_pair(r), 413, "payload_too_large");
    let r = post_raw(app, Some(&ann), &conv, &[JSON], b"{\"content\":".to_vec()).await;
    error(to_pair(r), 400, "validation_failed");
    let r = post_raw(app, Some(&ann), &conv, &[JSON], b"{}".to_vec()).await;
    invalid(to_pair(r), "content");

    // The same limit holds on route 12.
    let mut big = json!({ "customerId": "cus_cy", "padding": "" });
    big["padding"] = json!("x".repeat(LIMIT));
    let r = raw(
        Method::PUT,
        &app.url("/messaging/bookings/bk_9"),
        Some(&service()),
        &[JSON],
        Some(serde_json::to_vec(&big).unwrap()),
    )
    .await;
    error(to_pair(r), 413, "payload_too_large");

    // Only the two 2xx sends were written.
    assert_eq!(message_total(app, &conv).await, 2);
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405_with_or_without_a_token() {
    let (env, conv, _) = two_customers(0).await;
    let app = &env.app;
    let adm = admin("adm_1");
    for path in [
        "/nope".to_string(),
        "/messaging".to_string(),
        "/messaging/nope".to_string(),
        format!("/messaging/conversations/{conv}/nope"),
        format!("/messaging/conversations/{conv}/messages/x/y/z"),
    ] {
        for token in [None, Some(adm.as_str())] {
            let r = raw(Method::GET, &app.url(&path), token, &[], None).await;
            error(to_pair(r), 404, "not_found");
        }
    }
    for (method, path) in [
        (Method::DELETE, "/messaging/conversations".to_string()),
        (Method::POST, "/messaging/conversations".to_string()),
        (Method::POST, "/messaging/stats".to_string()),
        (Method::GET, "/messaging/bookings/bk_1".to_string()),
        (Method::GET, format!("/messaging/conversations/{conv}/read")),
        (
            Method::DELETE,
            format!("/messaging/conversations/{conv}/messages"),
        ),
        (Method::POST, "/health".to_string()),
    ] {
        for token in [None, Some(adm.as_str())] {
            let r = raw(method.clone(), &app.url(&path), token, &[], None).await;
            let msg = format!("{method} {path} with token: {}", token.is_some());
            assert_eq!(r.status.as_u16(), 405, "{msg}: {}", r.body);
            error(to_pair(r), 405, "method_not_allowed");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Check order (API.md, Envelope)
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn checks_answer_in_the_contract_order_up_to_permission() {
    let (env, conv, _) = two_customers(0).await;
    let app = &env.app;
    let ann = customer("cus_ann", &["bk_1"]);
    let ben = customer("cus_ben", &["bk_2"]);
    let adm = admin("adm_1");
    let original = data(
        send_body(
            app,
            &ann,
            &conv,
            &json!({ "content": "mine", "clientMessageId": "k1" }),
        )
        .await,
        201,
    );
    let unknown = "01JDQ7X0S9G1W7V8M2K3Z4Y5AB";

    // Unknown route beats 401; wrong method beats 401.
    let r = raw(Method::GET, &app.url("/messaging/nope"), None, &[], None).await;
    error(to_pair(r), 404, "not_found");
    let r = raw(
        Method::DELETE,
        &app.url("/messaging/conversations"),
        None,
        &[],
        None,
    )
    .await;
    error(to_pair(r), 405, "method_not_allowed");

    // 401 beats a malformed id.
    let r = raw(
        Method::GET,
        &app.url("/messaging/conversations/not-a-ulid"),
        None,
        &[],
        None,
    )
    .await;
    error(to_pair(r), 401, "unauthorized");
    let r = post_raw(app, None, "not-a-ulid", &[TEXT], b"x".to_vec()).await;
    error(to_pair(r), 401, "unauthorized");

    // A malformed id or query beats 404 (and the body).
    error(
        get(&conv_url(app, "not-a-ulid"), &adm).await,
        400,
        "validation_failed",
    );
    let r = post_raw(app, Some(&ann), "not-a-ulid", &[TEXT], b"x".to_vec()).await;
    error(to_pair(r), 400, "validation_failed");
    invalid(
        get(&format!("{}?limit=0", messages_url(app, unknown)), &adm).await,
        "limit",
    );

    // An unknown conversation is 404 before any permission question.
    error(get(&conv_url(app, unknown), &ben).await, 404, "not_found");
    error(
        get(&conv_url(app, unknown), &service()).await,
        404,
        "not_found",
    );
    let r = post_raw(app, Some(&ben), unknown, &[TEXT], b"x".to_vec()).await;
    error(to_pair(r), 404, "not_found");

    // 403 beats an idempotent retry, the rate limit and the body.
    let r = post_raw(
        app,
        Some(&ben),
        &conv,
        &[JSON],
        serde_json::to_vec(&json!({ "content": "mine", "clientMessageId": "k1" })).unwrap(),
    )
    .await;
    error(to_pair(r), 403, "forbidden");
    let r = post_raw(app, Some(&ben), &conv, &[TEXT], b"x".to_vec()).await;
    error(to_pair(r), 403, "forbidden");
    let r = post_raw(app, Some(&ben), &conv, &[JSON], vec![b'{'; LIMIT + 1]).await;
    error(to_pair(r), 403, "forbidden");
    let r = post_raw(app, Some(&ben), &conv, &[JSON], b"{".to_vec()).await;
    error(to_pair(r), 403, "forbidden");
    let r = post_raw(
        app,
        Some(&service()),
        &conv,
        &[JSON],
        b"{\"content\":\"hi\"}".to_vec(),
    )
    .await;
    error(to_pair(r), 403, "forbidden");

    // Nothing but the one send was written.
    let d = list_messages(app, &adm, &conv, "").await;
    assert_eq!(ids(&d["messages"]), vec![id_of(&original)]);
}

#[tokio::test]
async fn an_idempotent_retry_beats_the_rate_limit_and_the_body_which_beats_nothing_else() {
    let (env, conv, ben_conv) = two_customers(2).await;
    let app = &env.app;
    let ann = customer("cus_ann", &["bk_1"]);
    let ben = customer("cus_ben", &["bk_2"]);

    // 404 and 403 come before the rate limit: Ben spends his budget, then is told about
    // conversations, not about his rate.
    send(app, &ben, &ben_conv, "b1").await;
    send(app, &ben, &ben_conv, "b2").await;
    rate_limited(
        post_raw(
            app,
            Some(&ben),
            &ben_conv,
            &[JSON],
            br#"{"content":"b3"}"#.to_vec(),
        )
        .await,
    );
    let r = post_raw(
        app,
        Some(&ben),
        "01JDQ7X0S9G1W7V8M2K3Z4Y5AB",
        &[JSON],
        br#"{"content":"b3"}"#.to_vec(),
    )
    .await;
    error(to_pair(r), 404, "not_found");
    let r = post_raw(
        app,
        Some(&ben),
        &conv,
        &[JSON],
        br#"{"content":"b3"}"#.to_vec(),
    )
    .await;
    error(to_pair(r), 403, "forbidden");

    let first = data(
        send_body(
            app,
            &ann,
            &conv,
            &json!({ "content": "first", "clientMessageId": "k1" }),
        )
        .await,
        201,
    );
    let r = raw(
        Method::POST,
        &messages_url(app, &conv),
        Some(&ann),
        &[JSON, ("idempotency-key", "k2")],
        Some(br#"{"content":"second"}"#.to_vec()),
    )
    .await;
    let second = data(to_pair(r), 201);

    // The budget of 2 is spent.
    rate_limited(
        post_raw(
            app,
            Some(&ann),
            &conv,
            &[JSON],
            br#"{"content":"third"}"#.to_vec(),
        )
        .await,
    );
    // 429 beats 415, 413 and 400.
    rate_limited(post_raw(app, Some(&ann), &conv, &[TEXT], b"x".to_vec()).await);
    rate_limited(
        post_raw(
            app,
            Some(&ann),
            &conv,
            &[JSON],
            padded_body("big", LIMIT + 1),
        )
        .await,
    );
    rate_limited(post_raw(app, Some(&ann), &conv, &[JSON], b"{".to_vec()).await);
    rate_limited(
        post_raw(
            app,
            Some(&ann),
            &conv,
            &[JSON],
            br#"{"content":"   "}"#.to_vec(),
        )
        .await,
    );

    // A retry answers 200 with the original, over the limit and whatever its body.
    for body in [
        json!({ "content": "first", "clientMessageId": "k1" }),
        json!({ "content": "changed", "clientMessageId": "k1" }),
        json!({ "content": 42, "clientMessageId": "k1" }),
        json!({ "content": "x".repeat(2001), "clientMessageId": "k1", "messageType": "bogus" }),
    ] {
        let got = data(send_body(app, &ann, &conv, &body).await, 200);
        assert_eq!(got, first, "retry with {body}");
    }
    let r = raw(
        Method::POST,
        &messages_url(app, &conv),
        Some(&ann),
        &[TEXT, ("idempotency-key", "k2")],
        Some(b"not json at all".to_vec()),
    )
    .await;
    assert_eq!(data(to_pair(r), 200), second);

    assert_eq!(message_total(app, &conv).await, 2);
}

// ---------------------------------------------------------------------------------------------
// Rate limit
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sends_are_limited_per_user() {
    let (env, conv, ben_conv) = two_customers(3).await;
    let app = &env.app;
    let ann = customer("cus_ann", &["bk_1", "bk_3"]);
    let ben = customer("cus_ben", &["bk_2"]);
    let other_conv = id_of(&created(open(app, &ann, "bk_3").await));

    for i in 0..3 {
        send(app, &ann, &conv, &format!("m{i}")).await;
    }
    let r = post_raw(
        app,
        Some(&ann),
        &conv,
        &[JSON],
        br#"{"content":"m3"}"#.to_vec(),
    )
    .await;
    rate_limited(r);
    // The budget is the user's, not the conversation's.
    let r = post_raw(
        app,
        Some(&ann),
        &other_conv,
        &[JSON],
        br#"{"content":"elsewhere"}"#.to_vec(),
    )
    .await;
    rate_limited(r);
    // Other users are unaffected.
    send(app, &ben, &ben_conv, "ben's").await;
    send(app, &admin("adm_1"), &conv, "admin's").await;

    assert_eq!(message_total(app, &conv).await, 4);
    assert_eq!(message_total(app, &other_conv).await, 0);
}

#[tokio::test]
async fn a_zero_rate_limit_turns_the_limit_off() {
    let (env, conv, _) = two_customers(0).await;
    let app = &env.app;
    let ann = customer("cus_ann", &["bk_1"]);
    for i in 0..30 {
        send(app, &ann, &conv, &format!("m{i}")).await;
    }
    assert_eq!(message_total(app, &conv).await, 30);
}

// ---------------------------------------------------------------------------------------------
// Tokens (API.md, Identity)
// ---------------------------------------------------------------------------------------------

fn signed_with(claims: &Value, alg: jsonwebtoken::Algorithm, secret: &str) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

#[tokio::test]
async fn tokens_are_verified_strictly_with_thirty_seconds_of_leeway() {
    let env = TestEnv::start().await;
    let url = env.url("/messaging/conversations");
    let now = now_secs();
    let claims = |exp: u64| json!({ "sub": "adm_1", "role": "admin", "exp": exp });

    // Baselines that pass.
    data(get(&url, &sign(&claims(now + 600))).await, 200);
    data(get(&url, &sign(&claims(now - 10))).await, 200);

    let alg_none = format!(
        "{}.{}.",
        b64url(br#"{"alg":"none","typ":"JWT"}"#),
        b64url(claims(now + 600).to_string().as_bytes())
    );
    let bad: Vec<(&str, String)> = vec![
        ("expired 120 s ago", sign(&claims(now - 120))),
        ("alg none", alg_none),
        (
            "wrong secret",
            signed_with(
                &claims(now + 600),
                jsonwebtoken::Algorithm::HS256,
                "not-the-secret",
            ),
        ),
        (
            "HS512",
            signed_with(
                &claims(now + 600),
                jsonwebtoken::Algorithm::HS512,
                JWT_SECRET,
            ),
        ),
        (
            "unknown role",
            sign(&json!({ "sub": "adm_1", "role": "root", "exp": now + 600 })),
        ),
        (
            "missing role",
            sign(&json!({ "sub": "adm_1", "exp": now + 600 })),
        ),
        (
            "missing sub",
            sign(&json!({ "role": "admin", "exp": now + 600 })),
        ),
        (
            "missing exp",
            sign(&json!({ "sub": "adm_1", "role": "admin" })),
        ),
        (
            "sub with a space",
            sign(&json!({ "sub": "adm 1", "role": "admin", "exp": now + 600 })),
        ),
        (
            "sub with a slash",
            sign(&json!({ "sub": "adm/1", "role": "admin", "exp": now + 600 })),
        ),
        (
            "empty sub",
            sign(&json!({ "sub": "", "role": "admin", "exp": now + 600 })),
        ),
        (
            "sub of 129 chars",
            sign(&json!({ "sub": "a".repeat(129), "role": "admin", "exp": now + 600 })),
        ),
        ("garbage", "not.a.token".to_string()),
    ];
    for (why, token) in &bad {
        let r = raw(Method::GET, &url, Some(token), &[], None).await;
        assert_eq!(r.status.as_u16(), 401, "{why}: {}", r.body);
        error(to_pair(r), 401, "unauthorized");
    }

    for header in ["Basic YWRtOnB3", "Bearer", "Bearer "] {
        let r = raw(Method::GET, &url, None, &[("authorization", header)], None).await;
        assert_eq!(r.status.as_u16(), 401, "{header:?}: {}", r.body);
        error(to_pair(r), 401, "unauthorized");
    }
    let r = raw(Method::GET, &url, None, &[], None).await;
    error(to_pair(r), 401, "unauthorized");

    // A 128-char sub of the full alphabet is fine.
    let long = format!("{}{}", "aZ09._:@-", "x".repeat(119));
    assert_eq!(long.len(), 128);
    let t = sign(&json!({ "sub": long, "role": "admin", "exp": now + 600 }));
    data(get(&url, &t).await, 200);
}
