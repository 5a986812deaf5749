//! Tokens for the socket tests of both codecs: one with a chosen `exp`, and the table of tokens
//! every socket endpoint must refuse as `unauthorized` (`/ws`: close 4401; Socket.IO:
//! `connect_error` `"unauthorized"`).
//!
//! Not declared in `common/mod.rs`: a test file that needs it adds
//! `#[path = "common/tokens.rs"] mod tokens;` beside `mod common;`.

#![allow(dead_code)]
use crate::common::{b64url, sign};
use serde_json::json;
use std::time::{SystemTime, UNIX_EPOCH};

pub fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A token for `sub`/`role` whose `exp` is `offset` seconds from now (negative: in the past).
pub fn token_exp(sub: &str, role: &str, offset: i64) -> String {
    sign(&json!({ "sub": sub, "role": role, "exp": now_secs() + offset }))
}

/// Tokens the server must refuse as `unauthorized`, each with a label for the failure message.
pub fn bad_tokens() -> Vec<(&'static str, String)> {
    let exp = now_secs() + 3600;
    let wrong_secret = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &json!({ "sub": "cus_ann", "role": "customer", "exp": exp }),
        &jsonwebtoken::EncodingKey::from_secret(b"not-the-secret"),
    )
    .unwrap();
    let alg_none = format!(
        "{}.{}.",
        b64url(br#"{"alg":"none","typ":"JWT"}"#),
        b64url(
            json!({ "sub": "cus_ann", "role": "customer", "exp": exp })
                .to_string()
                .as_bytes()
        )
    );
    vec![
        ("garbage", "not-a-jwt".to_string()),
        ("wrong secret", wrong_secret),
        ("alg none", alg_none),
        (
            "expired beyond the leeway",
            token_exp("cus_ann", "customer", -120),
        ),
        (
            "unknown role",
            sign(&json!({ "sub": "cus_ann", "role": "superuser", "exp": exp })),
        ),
        (
            "sub outside the id alphabet",
            sign(&json!({ "sub": "ann smith", "role": "customer", "exp": exp })),
        ),
        ("no sub", sign(&json!({ "role": "customer", "exp": exp }))),
    ]
}
