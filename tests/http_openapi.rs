//! The OpenAPI document: `/openapi.json` is what the code generates and what `docs/openapi.json`
//! holds; every operation it lists is served and every other method on its paths is 405; every
//! route of the contract is in it; `/docs` serves its reference page from the binary.
//! Regenerate the checked-in copy with `UPDATE_OPENAPI=1 cargo test --test http_openapi` (or
//! `concierge openapi > docs/openapi.json`).

mod common;

use common::*;
use reqwest::Method;
use serde_json::Value;
use std::path::PathBuf;

const REGENERATE: &str = "UPDATE_OPENAPI=1 cargo test --test http_openapi";

fn generated() -> Value {
    serde_json::to_value(concierge::http::openapi_document()).expect("the document encodes")
}

/// The document's operations as `(METHOD, path template)`, in its order.
fn operations(doc: &Value) -> Vec<(String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            ops.push((method.to_uppercase(), path.clone()));
        }
    }
    ops
}

/// A concrete path for a template: ids of the right shape that name nothing.
fn concrete(template: &str) -> String {
    template
        .replace("{conversationId}", "01KBKXF1V7Q6ZB4Y6X1J5V0Y9G")
        .replace("{messageId}", "01KBKXF1V7Q6ZB4Y6X1J5V0Y9H")
        .replace("{bookingId}", "bk_openapi")
        .replace("{emoji}", "%F0%9F%91%8D")
        .replace("{shortcut}", "late-checkout")
        .replace("{deliveryId}", "msg_01KBKXF1V7Q6ZB4Y6X1J5V0Y9J")
}

#[test]
fn checked_in_document_matches_the_code() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json");
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    if serde_json::from_str::<Value>(&checked_in).ok() == Some(generated()) {
        return;
    }
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        let text = concierge::http::openapi_document()
            .to_pretty_json()
            .expect("the document encodes");
        std::fs::write(&path, text + "\n").expect("write docs/openapi.json");
        return;
    }
    panic!("docs/openapi.json differs from the document the code generates; regenerate it with `{REGENERATE}`");
}

#[test]
fn every_route_of_the_contract_is_documented_once() {
    let doc = generated();
    assert_eq!(doc["openapi"], "3.1.0");
    let mut documented = operations(&doc);
    documented.sort();
    let mut contract: Vec<(String, String)> = [
        ("GET", "/messaging/conversations"),
        ("GET", "/messaging/conversations/booking/{bookingId}"),
        ("GET", "/messaging/conversations/{conversationId}/messages"),
        ("POST", "/messaging/conversations/{conversationId}/messages"),
        ("PUT", "/messaging/conversations/{conversationId}/read"),
        ("GET", "/messaging/stats"),
        ("GET", "/messaging/conversations/{conversationId}"),
        (
            "PATCH",
            "/messaging/conversations/{conversationId}/messages/{messageId}",
        ),
        (
            "DELETE",
            "/messaging/conversations/{conversationId}/messages/{messageId}",
        ),
        (
            "POST",
            "/messaging/conversations/{conversationId}/messages/{messageId}/reactions",
        ),
        (
            "DELETE",
            "/messaging/conversations/{conversationId}/messages/{messageId}/reactions/{emoji}",
        ),
        ("PUT", "/messaging/conversations/{conversationId}/status"),
        ("PUT", "/messaging/bookings/{bookingId}"),
        ("POST", "/messaging/admin/broadcast"),
        ("GET", "/messaging/conversations/{conversationId}/events"),
        ("GET", "/messaging/conversations/{conversationId}/history"),
        ("GET", "/health"),
        ("GET", "/ready"),
        ("GET", "/metrics"),
        (
            "POST",
            "/messaging/conversations/{conversationId}/attachments",
        ),
        ("GET", "/messaging/attachments/{attachmentId}"),
        ("GET", "/messaging/attachments/{attachmentId}/thumbnail"),
        ("PUT", "/messaging/conversations/{conversationId}/assignee"),
        ("PUT", "/messaging/conversations/{conversationId}/labels"),
        ("PUT", "/messaging/conversations/{conversationId}/priority"),
        ("POST", "/messaging/conversations/{conversationId}/rating"),
        ("GET", "/messaging/canned-replies"),
        ("GET", "/messaging/canned-replies/{shortcut}"),
        ("PUT", "/messaging/canned-replies/{shortcut}"),
        ("DELETE", "/messaging/canned-replies/{shortcut}"),
        ("GET", "/messaging/webhooks/failed"),
        ("POST", "/messaging/webhooks/failed/{deliveryId}/redeliver"),
        ("GET", "/messaging/search"),
    ]
    .iter()
    .map(|(m, p)| (m.to_string(), p.to_string()))
    .collect();
    contract.sort();
    assert_eq!(documented, contract);

    let mut ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .map(|op| {
            op["operationId"]
                .as_str()
                .expect("every operation has an id")
        })
        .collect();
    let count = ids.len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), count, "operation ids are unique");
}

#[test]
fn every_error_status_names_its_code_and_every_messaging_route_needs_a_token() {
    let doc = generated();
    let codes = [
        ("400", "validation_failed"),
        ("401", "unauthorized"),
        ("403", "forbidden"),
        ("404", "not_found"),
        ("409", "conflict"),
        ("413", "payload_too_large"),
        ("415", "unsupported_media_type"),
        ("416", "range_not_satisfiable"),
        ("429", "rate_limited"),
        ("500", "internal"),
        ("503", "unavailable"),
    ];
    let responses = &doc["components"]["responses"];
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            // A file is read with a token or with the signed URL a message hands out.
            let signed = path.starts_with("/messaging/attachments/") && method == "get";
            let security = if signed {
                serde_json::json!([{ "bearer": [] }, {}])
            } else {
                serde_json::json!([{ "bearer": [] }])
            };
            let secured = op["security"] == security;
            assert_eq!(secured, path.starts_with("/messaging/"), "{method} {path}");
            if secured {
                assert!(op["responses"].get("401").is_some(), "{method} {path}: 401");
            }
            for (status, answer) in op["responses"].as_object().unwrap() {
                let Some((_, code)) = codes.iter().find(|(s, _)| s == status) else {
                    let not_modified = signed && status == "304";
                    assert!(
                        status.starts_with('2') || not_modified,
                        "{method} {path}: {status}"
                    );
                    continue;
                };
                let name = answer["$ref"]
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/components/responses/"))
                    .unwrap_or_else(|| panic!("{method} {path} {status}: {answer}"));
                let example = &responses[name]["content"]["application/json"]["example"];
                assert_eq!(example["error"], *code, "{method} {path} {status}");
                assert_eq!(example["success"], false);
            }
        }
    }
}

#[tokio::test]
async fn the_served_document_is_the_generated_one_and_every_operation_is_served() {
    let env = TestEnv::start().await;
    let served = raw(Method::GET, &env.url("/openapi.json"), None, &[], None).await;
    assert_eq!(served.status, 200);
    assert_eq!(
        served.headers["content-type"], "application/json",
        "{:?}",
        served.headers
    );
    assert_eq!(served.body, generated());

    let doc = served.body;
    let all = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    for (path, item) in doc["paths"].as_object().unwrap() {
        let url = env.url(&concrete(path));
        for method in all {
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            let r = raw(m, &url, None, &[], None).await;
            let answer = (r.status, r.body);
            match item.get(method.to_lowercase()) {
                // Documented: served. Without a token a /messaging route stops at the token
                // check, which comes after the route checks (404, 405).
                Some(op) if op.get("security").is_some() => {
                    error(answer, 401, "unauthorized");
                }
                Some(_) => assert!(
                    answer.0 == 200 || (path == "/ready" && answer.0 == 503),
                    "{method} {path}: {answer:?}"
                ),
                None => {
                    error(answer, 405, "method_not_allowed");
                }
            }
        }
    }
}

#[tokio::test]
async fn docs_serves_the_reference_page_from_the_binary() {
    let env = TestEnv::start().await;
    let page = raw(Method::GET, &env.url("/docs/"), None, &[], None).await;
    assert_eq!(page.status, 200);
    assert!(page.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.body.as_str().expect("an HTML page").to_string();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "no asset from another host: {html}"
    );

    let init = raw(
        Method::GET,
        &env.url("/docs/swagger-initializer.js"),
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(init.status, 200);
    assert!(
        init.body.as_str().unwrap().contains("\"/openapi.json\""),
        "{}",
        init.body
    );
    for asset in ["swagger-ui-bundle.js", "swagger-ui.css"] {
        let r = raw(
            Method::GET,
            &env.url(&format!("/docs/{asset}")),
            None,
            &[],
            None,
        )
        .await;
        assert_eq!(r.status, 200, "{asset}");
        assert!(r.body.as_str().unwrap().len() > 10_000, "{asset} is whole");
    }
}
