//! The web UI over HTTP (UI.md): the pages are the embedded `ui/dist/index.html` under the exact
//! Content-Security-Policy, `/chat` may be framed by CLIENT_URL's origin and nothing else may frame
//! a page, hashed assets are immutable, `/widget.js` is revalidated, unknown assets and routes are
//! 404 in the envelope, the API carries no CSP, and `--dev`'s `POST /test/token` mints tokens the
//! API accepts.

mod common;

use common::*;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Every page's CSP up to its `frame-ancestors`.
const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
    media-src 'self' blob:; connect-src 'self'; font-src 'self'; manifest-src 'self'; \
    base-uri 'none'; form-action 'self'; frame-ancestors ";
const PAGES: [&str; 3] = ["/", "/chat", "/inbox"];

fn dist() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/dist")
}

fn dist_file(name: &str) -> Vec<u8> {
    let path = dist().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The files under `dir`, as paths relative to it with `/` separators.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap();
                found.push(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found.sort();
    found
}

/// One response with its body as bytes (pages and assets are not JSON).
struct Fetched {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Fetched {
    #[track_caller]
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
            .to_str()
            .expect("visible ASCII header")
    }

    fn json(&self) -> (StatusCode, Value) {
        let body = serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "not JSON: {:?}",
                String::from_utf8_lossy(&self.body)
                    .chars()
                    .take(200)
                    .collect::<String>()
            )
        });
        (self.status, body)
    }
}

async fn fetch(method: Method, url: &str) -> Fetched {
    let resp = reqwest::Client::new()
        .request(method, url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("request to {url} failed: {e}"));
    Fetched {
        status: resp.status(),
        headers: resp.headers().clone(),
        body: resp.bytes().await.expect("read body").to_vec(),
    }
}

#[track_caller]
fn assert_page(r: &Fetched, frame_ancestors: &str) {
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
    assert_eq!(r.header("cache-control"), "no-cache");
    assert_eq!(
        r.header("content-security-policy"),
        format!("{CSP}{frame_ancestors}")
    );
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    assert_eq!(r.header("referrer-policy"), "no-referrer");
}

#[tokio::test]
async fn pages_are_the_embedded_index_under_the_exact_csp() {
    let env = TestEnv::start().await;
    let index = dist_file("index.html");
    for path in PAGES {
        let r = fetch(Method::GET, &env.url(path)).await;
        let framed_by = if path == "/chat" {
            "'self' http://localhost:5173"
        } else {
            "'none'"
        };
        assert_page(&r, framed_by);
        assert!(r.body == index, "GET {path} is not ui/dist/index.html");
    }
    // The SPA reads its query itself.
    let r = fetch(Method::GET, &env.url("/chat?booking=bk_1&embed=1")).await;
    assert_page(&r, "'self' http://localhost:5173");
    assert!(r.body == index);
    let r = fetch(Method::GET, &env.url("/inbox?c=01JDQ7X0S9G1W7V8M2K3Z4Y5AB")).await;
    assert_page(&r, "'none'");

    for path in PAGES {
        let r = fetch(Method::HEAD, &env.url(path)).await;
        assert_page(
            &r,
            if path == "/chat" {
                "'self' http://localhost:5173"
            } else {
                "'none'"
            },
        );
        assert!(r.body.is_empty(), "HEAD {path} has a body");
    }
}

#[tokio::test]
async fn chat_may_be_framed_by_client_urls_origin_and_no_page_by_another() {
    let env = TestEnv::start_with(AppOptions {
        extra_env: vec![(
            "CLIENT_URL".into(),
            "https://shop.example.com:8443/bookings?from=ui".into(),
        )],
        ..Default::default()
    })
    .await;
    let chat = fetch(Method::GET, &env.url("/chat")).await;
    assert_page(&chat, "'self' https://shop.example.com:8443");
    for path in ["/", "/inbox"] {
        assert_page(&fetch(Method::GET, &env.url(path)).await, "'none'");
    }
}

#[tokio::test]
async fn assets_and_the_widget_are_served_as_built() {
    let env = TestEnv::start().await;
    let assets = files_under(&dist().join("assets"));
    assert!(
        !assets.is_empty(),
        "ui/dist/assets is empty: run `cd ui && npm run build`"
    );
    for name in &assets {
        let r = fetch(Method::GET, &env.url(&format!("/assets/{name}"))).await;
        assert_eq!(r.status, StatusCode::OK, "/assets/{name}");
        let expected_type = match name.rsplit_once('.').map(|(_, e)| e) {
            Some("js") => Some("text/javascript; charset=utf-8"),
            Some("css") => Some("text/css; charset=utf-8"),
            Some("svg") => Some("image/svg+xml"),
            Some("woff2") => Some("font/woff2"),
            _ => None,
        };
        if let Some(t) = expected_type {
            assert_eq!(r.header("content-type"), t, "/assets/{name}");
        }
        assert_eq!(
            r.header("cache-control"),
            "public, max-age=31536000, immutable",
            "/assets/{name}"
        );
        assert_eq!(r.header("x-content-type-options"), "nosniff");
        assert!(r.headers.get("content-security-policy").is_none());
        assert!(
            r.body == dist_file(&format!("assets/{name}")),
            "/assets/{name} differs from ui/dist"
        );
        let head = fetch(Method::HEAD, &env.url(&format!("/assets/{name}"))).await;
        assert_eq!(head.status, StatusCode::OK);
        assert_eq!(
            head.header("cache-control"),
            "public, max-age=31536000, immutable"
        );
        assert!(head.body.is_empty());
    }

    let widget = fetch(Method::GET, &env.url("/widget.js")).await;
    assert_eq!(widget.status, StatusCode::OK);
    assert_eq!(
        widget.header("content-type"),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(widget.header("cache-control"), "no-cache");
    assert_eq!(widget.header("x-content-type-options"), "nosniff");
    assert!(
        widget.body == dist_file("widget.js"),
        "/widget.js differs from ui/dist"
    );
}

#[tokio::test]
async fn unknown_assets_and_routes_are_404_envelopes_and_the_api_has_no_csp() {
    let env = TestEnv::start().await;
    for path in [
        "/assets/nope.js",
        "/assets/..%2Findex.html",
        "/assets/",
        "/index.html",
        "/chat/",
        "/inbox/x",
        "/nope",
    ] {
        let r = fetch(Method::GET, &env.url(path)).await;
        error(r.json(), 404, "not_found");
        assert!(
            r.headers.get("content-security-policy").is_none(),
            "{path} has a CSP"
        );
    }
    for path in ["/", "/chat", "/widget.js"] {
        let r = fetch(Method::POST, &env.url(path)).await;
        error(r.json(), 405, "method_not_allowed");
    }
    for (path, status) in [("/health", 200), ("/messaging/conversations", 401)] {
        let r = fetch(Method::GET, &env.url(path)).await;
        assert_eq!(r.status.as_u16(), status, "{path}");
        assert!(
            r.headers.get("content-security-policy").is_none(),
            "{path} has a CSP"
        );
    }
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn mint(app: &App, body: &Value) -> (StatusCode, Value) {
    let r = raw(
        Method::POST,
        &app.url("/test/token"),
        None,
        &[("content-type", "application/json")],
        Some(serde_json::to_vec(body).unwrap()),
    )
    .await;
    (r.status, r.body)
}

/// The claims of a token the harness secret signed; fails when the signature does not verify.
fn claims(token: &str) -> Value {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "sub"]);
    jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(JWT_SECRET.as_bytes()),
        &validation,
    )
    .unwrap_or_else(|e| panic!("the minted token does not verify with JWT_SECRET: {e}"))
    .claims
}

#[tokio::test]
async fn test_token_exists_only_in_dev_mode() {
    let env = TestEnv::start().await;
    let body = json!({ "sub": "cus_1", "role": "customer" });
    error(mint(&env.app, &body).await, 404, "not_found");
}

#[tokio::test]
async fn test_token_mints_tokens_the_api_accepts() {
    let env = TestEnv::start_with(AppOptions {
        dev: true,
        ..Default::default()
    })
    .await;
    let app = &env.app;

    let before = now_secs();
    let d = data(
        mint(
            app,
            &json!({ "sub": "cus_ui", "role": "customer", "name": "Ann",
                     "bookings": ["bk_ui_1", "bk_ui_2"], "ttl": 120 }),
        )
        .await,
        201,
    );
    let token = d["token"].as_str().expect("token").to_string();
    let c = claims(&token);
    assert_eq!(c["sub"], json!("cus_ui"));
    assert_eq!(c["role"], json!("customer"));
    assert_eq!(c["name"], json!("Ann"));
    assert_eq!(c["bookings"], json!(["bk_ui_1", "bk_ui_2"]));
    let exp = c["exp"].as_u64().expect("exp");
    assert!(
        (before + 120..=now_secs() + 120).contains(&exp),
        "exp {exp} is not 120 s from now"
    );
    assert_eq!(
        d,
        json!({ "token": token, "sub": "cus_ui", "role": "customer", "name": "Ann",
                "bookings": ["bk_ui_1", "bk_ui_2"], "exp": exp })
    );
    // The token's bookings claim is honoured: the customer opens a booking the platform registered.
    data(
        register_booking(app, "bk_ui_1", "cus_ui", Some("Hotel Aurora")).await,
        201,
    );
    let conv = created(open(app, &token, "bk_ui_1").await);
    assert_eq!(conv["relatedBooking"], json!("bk_ui_1"));

    // The defaults: a day, no name, no bookings.
    let before = now_secs();
    let d = data(
        mint(app, &json!({ "sub": "adm_ui", "role": "admin" })).await,
        201,
    );
    let admin_token = d["token"].as_str().expect("token").to_string();
    let c = claims(&admin_token);
    assert_eq!(c.get("name"), None, "{c}");
    assert_eq!(c.get("bookings"), None, "{c}");
    let exp = c["exp"].as_u64().unwrap();
    assert!((before + 86_400..=now_secs() + 86_400).contains(&exp));
    assert_eq!(
        (&d["name"], &d["bookings"], &d["exp"]),
        (&json!(null), &json!([]), &json!(exp))
    );
    let listed = data(
        get(&app.url("/messaging/conversations"), &admin_token).await,
        200,
    );
    assert_eq!(ids(&listed["conversations"]), vec![id_of(&conv)]);
}

#[tokio::test]
async fn test_token_refusals_name_the_field() {
    let env = TestEnv::start_with(AppOptions {
        dev: true,
        ..Default::default()
    })
    .await;
    let app = &env.app;
    let long_name = "n".repeat(101);
    let many: Vec<String> = (0..21).map(|i| format!("bk_{i}")).collect();
    for (body, field) in [
        (json!([]), "body"),
        (json!({ "role": "admin" }), "sub"),
        (json!({ "sub": "ann smith", "role": "admin" }), "sub"),
        (json!({ "sub": "x".repeat(129), "role": "admin" }), "sub"),
        (json!({ "sub": "cus_1" }), "role"),
        (json!({ "sub": "cus_1", "role": "root" }), "role"),
        (
            json!({ "sub": "cus_1", "role": "admin", "name": 7 }),
            "name",
        ),
        (
            json!({ "sub": "cus_1", "role": "admin", "name": long_name }),
            "name",
        ),
        (
            json!({ "sub": "cus_1", "role": "customer", "bookings": "bk_1" }),
            "bookings",
        ),
        (
            json!({ "sub": "cus_1", "role": "customer", "bookings": many }),
            "bookings",
        ),
        (
            json!({ "sub": "cus_1", "role": "customer", "bookings": ["bk_1", 2] }),
            "bookings[1]",
        ),
        (json!({ "sub": "cus_1", "role": "admin", "ttl": 0 }), "ttl"),
        (
            json!({ "sub": "cus_1", "role": "admin", "ttl": 604_801 }),
            "ttl",
        ),
        (
            json!({ "sub": "cus_1", "role": "admin", "ttl": "60" }),
            "ttl",
        ),
    ] {
        invalid(mint(app, &body).await, field);
    }

    let url = app.url("/test/token");
    let json_type = [("content-type", "application/json")];
    let r = raw(
        Method::POST,
        &url,
        None,
        &json_type,
        Some(b"{\"sub\":".to_vec()),
    )
    .await;
    invalid((r.status, r.body), "JSON");
    let r = raw(
        Method::POST,
        &url,
        None,
        &[("content-type", "text/plain")],
        Some(br#"{"sub":"cus_1","role":"admin"}"#.to_vec()),
    )
    .await;
    error((r.status, r.body), 415, "unsupported_media_type");
    let r = raw(
        Method::POST,
        &url,
        None,
        &json_type,
        Some(vec![b' '; 70_000]),
    )
    .await;
    error((r.status, r.body), 413, "payload_too_large");
    let r = raw(Method::GET, &url, None, &[], None).await;
    error((r.status, r.body), 405, "method_not_allowed");
}
