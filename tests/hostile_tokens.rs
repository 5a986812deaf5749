//! Hostile tokens, one table for both transports: each is 401 `unauthorized` over HTTP and closes
//! a socket with 4401 however it is presented, and none ever authenticates anyone.

mod common;

use common::ws::{open, Auth};
use common::*;
use serde_json::{json, Value};
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token with this header and payload, signed HS256 with the server's secret whatever the
/// header claims (the signature itself is right; only what it vouches for is wrong).
fn forged(header: &Value, claims: &Value) -> String {
    let signing = format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(claims.to_string().as_bytes())
    );
    let key = jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes());
    let signature =
        jsonwebtoken::crypto::sign(signing.as_bytes(), &key, jsonwebtoken::Algorithm::HS256)
            .unwrap();
    format!("{signing}.{signature}")
}

fn claims() -> Value {
    json!({ "sub": "cus_ann", "role": "customer", "exp": now() + 600 })
}

/// Every kind of bad token of the hardening issue, labelled.
fn hostile() -> Vec<(&'static str, String)> {
    let good = sign(&claims());
    let mut parts: Vec<&str> = good.split('.').collect();
    let admin_payload = b64url(
        json!({ "sub": "cus_ann", "role": "admin", "exp": now() + 600 })
            .to_string()
            .as_bytes(),
    );
    parts[1] = &admin_payload;
    let tampered = parts.join(".");
    let with = |extra: Value| {
        let mut c = claims();
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        c
    };
    let without = |key: &str| {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(key);
        c
    };
    vec![
        (
            "alg none",
            format!(
                "{}.{}.",
                b64url(br#"{"alg":"none","typ":"JWT"}"#),
                b64url(claims().to_string().as_bytes())
            ),
        ),
        (
            "HS256 with another secret",
            jsonwebtoken::encode(
                &jsonwebtoken::Header::default(),
                &claims(),
                &jsonwebtoken::EncodingKey::from_secret(b"another secret"),
            )
            .unwrap(),
        ),
        (
            "an RS256 header",
            forged(&json!({ "alg": "RS256", "typ": "JWT" }), &claims()),
        ),
        ("expired", sign(&with(json!({ "exp": now() - 120 })))),
        ("not yet valid", sign(&with(json!({ "nbf": now() + 600 })))),
        ("missing sub", sign(&without("sub"))),
        ("missing role", sign(&without("role"))),
        ("unknown role", sign(&with(json!({ "role": "superuser" })))),
        ("tampered payload", tampered),
        (
            "100 KB",
            sign(&with(json!({ "name": "x".repeat(100 * 1024) }))),
        ),
    ]
}

#[test]
fn the_forged_rs256_token_is_signed_right_so_only_its_header_is_wrong() {
    let t = forged(&json!({ "alg": "HS256", "typ": "JWT" }), &claims());
    let key = jsonwebtoken::DecodingKey::from_secret(JWT_SECRET.as_bytes());
    let ok = jsonwebtoken::decode::<Value>(
        &t,
        &key,
        &jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256),
    );
    assert!(ok.is_ok(), "{ok:?}");
}

#[tokio::test]
async fn every_hostile_token_is_401_over_http() {
    let env = TestEnv::start().await;
    let url = env.url("/messaging/conversations");
    data(get(&url, &sign(&claims())).await, 200);
    let mut said = Vec::new();
    for (what, token) in hostile() {
        let r = get(&url, &token).await;
        said.push((what, error(r, 401, "unauthorized")));
    }
    // Each names the problem in words a client can act on, never the JWT library's names.
    const MALFORMED: &str = "invalid token: its header or claims are malformed \
        (expected alg HS256 and the claims sub, role and exp)";
    let expected = [
        ("alg none", MALFORMED),
        (
            "HS256 with another secret",
            "invalid token: the signature does not match JWT_SECRET",
        ),
        (
            "an RS256 header",
            "invalid token: the algorithm must be HS256",
        ),
        ("expired", "invalid token: it has expired"),
        ("not yet valid", "invalid token: it is not valid yet (nbf)"),
        ("missing sub", MALFORMED),
        ("missing role", MALFORMED),
        (
            "unknown role",
            "invalid token: role must be customer, admin or service",
        ),
        (
            "tampered payload",
            "invalid token: the signature does not match JWT_SECRET",
        ),
        ("100 KB", "token is too long"),
    ];
    let said: Vec<(&str, &str)> = said.iter().map(|(w, m)| (*w, m.as_str())).collect();
    assert_eq!(said, expected);
}

#[tokio::test]
async fn every_hostile_token_closes_a_socket_with_4401_however_presented() {
    let env = TestEnv::start().await;
    let app = &env.app;
    for (what, token) in hostile() {
        let ways: &[&str] = if what == "100 KB" {
            // Over the URL and frame limits: see the test below.
            &["header"]
        } else {
            &["header", "query", "frame"]
        };
        for how in ways {
            let mut c = match *how {
                "header" => open(&app.base(), &Auth::Header(&token)).await,
                "query" => open(&app.base(), &Auth::Query(&token)).await,
                _ => {
                    let mut c = open(&app.base(), &Auth::None).await;
                    c.send(json!({ "event": "authenticate", "data": { "token": token } }))
                        .await;
                    c
                }
            };
            assert_eq!(c.close_code().await, Some(4401), "{what} by {how}");
            assert!(
                !c.seen.iter().any(|f| f["event"] == "authenticated"),
                "{what} by {how}: {:?}",
                c.seen
            );
        }
    }
}

#[tokio::test]
async fn a_100_kb_token_in_the_url_or_a_frame_meets_those_limits_first() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let huge = hostile().pop().unwrap().1;
    // The URL: refused before any upgrade by the HTTP layer's URI limit (64 KiB). Written by hand:
    // client libraries refuse to build such a URL at all.
    let request = format!(
        "GET /ws?token={huge} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n\
         Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", app.port()))
        .await
        .unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = [0u8; 12];
    tcp.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 414");
    // The frame: over 64 KiB, so the socket closes with 1009 before the token is read.
    let mut c = open(&app.base(), &Auth::None).await;
    c.send(json!({ "event": "authenticate", "data": { "token": huge } }))
        .await;
    assert_eq!(c.close_code().await, Some(1009));
    // The node is fine.
    data(
        get(&app.url("/messaging/conversations"), &sign(&claims())).await,
        200,
    );
}
