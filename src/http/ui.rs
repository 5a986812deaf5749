//! The web UI of UI.md: the build in `ui/dist`, embedded in the binary, served from the API's port.
//!
//! Pages (`/`, `/chat`, `/inbox`) are the one `index.html` under a strict Content-Security-Policy
//! that lets the page load and connect to this origin only; hashed assets are cached for good;
//! `/widget.js` keeps its name, so it is revalidated. Only these responses carry the CSP: the API's
//! are unchanged.

use super::ApiError;
use axum::extract::Path;
use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use std::borrow::Cow;

use crate::state::AppState;

/// `ui/dist` as built by `npm run build` and committed; embedded at compile time in every build
/// profile, so the tests serve exactly what ships.
#[derive(rust_embed::RustEmbed)]
#[folder = "ui/dist"]
struct Dist;

/// Hashed file names change with their content: a browser may keep them for a year.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// The CSP of every page, before its `frame-ancestors`.
const CSP: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
    media-src 'self' blob:; connect-src 'self'; font-src 'self'; manifest-src 'self'; \
    base-uri 'none'; form-action 'self'; frame-ancestors ";

/// The routes of the UI. `client_url` is CLIENT_URL: its origin may frame `/chat` (the widget
/// puts the chat in an iframe on the booking platform's pages); no one else may frame any page.
pub fn routes(client_url: &str) -> Router<AppState> {
    let framed_by = match origin(client_url) {
        Some(origin) => format!("'self' {origin}"),
        None => "'self'".to_string(),
    };
    let unframed = csp("'none'");
    let inbox = unframed.clone();
    let chat = csp(&framed_by);
    Router::new()
        .route("/", get(move || page(unframed.clone())))
        .route("/inbox", get(move || page(inbox.clone())))
        .route("/chat", get(move || page(chat.clone())))
        .route("/assets/{*path}", get(asset))
        .route("/widget.js", get(widget))
}

fn csp(frame_ancestors: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("{CSP}{frame_ancestors}"))
        .expect("the CSP is visible ASCII: origin() lets nothing else through")
}

/// The `scheme://host[:port]` of a URL, or `None` when it is not a plain http(s) origin that
/// can stand in a CSP source list (so a bad CLIENT_URL can never widen or break the policy).
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_chars =
        |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']');
    if authority.is_empty() || !authority.bytes().all(host_chars) {
        return None;
    }
    Some(format!("{}://{authority}", scheme.to_ascii_lowercase()))
}

/// `index.html` for a page; the SPA routes on the path itself.
async fn page(csp: HeaderValue) -> Response {
    let Some(index) = Dist::get("index.html") else {
        return ApiError::RouteNotFound.into_response();
    };
    let mut response = file(index.data, "text/html; charset=utf-8", "no-cache");
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// A file under `ui/dist/assets`; 404 in the envelope for any other name. The lookup is an exact
/// match on the embedded names, so no path reaches outside the build.
async fn asset(Path(path): Path<String>) -> Response {
    match Dist::get(&format!("assets/{path}")) {
        Some(f) => file(f.data, content_type(&path), IMMUTABLE),
        None => ApiError::RouteNotFound.into_response(),
    }
}

/// The embeddable widget, under a fixed name that host pages link to.
async fn widget() -> Response {
    match Dist::get("widget.js") {
        Some(f) => file(f.data, "text/javascript; charset=utf-8", "no-cache"),
        None => ApiError::RouteNotFound.into_response(),
    }
}

fn file(data: Cow<'static, [u8]>, content_type: &'static str, cache: &'static str) -> Response {
    let body = match data {
        Cow::Borrowed(b) => Bytes::from_static(b),
        Cow::Owned(v) => Bytes::from(v),
    };
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (
                HeaderName::from_static("x-content-type-options"),
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}

/// The content type of a build file, by extension (what Vite emits, and what `public/` may hold).
fn content_type(path: &str) -> &'static str {
    let ext = path.rsplit_once('.').map_or("", |(_, e)| e);
    match ext.to_ascii_lowercase().as_str() {
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "html" => "text/html; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "txt" => "text/plain; charset=utf-8",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_of_client_urls() {
        assert_eq!(
            origin("http://localhost:5173").as_deref(),
            Some("http://localhost:5173")
        );
        assert_eq!(
            origin("HTTPS://shop.example.com/bookings?x=1").as_deref(),
            Some("https://shop.example.com")
        );
        assert_eq!(
            origin("http://[::1]:8080/").as_deref(),
            Some("http://[::1]:8080")
        );
        assert_eq!(origin("*"), None);
        assert_eq!(origin("null"), None);
        assert_eq!(origin("ftp://example.com"), None);
        assert_eq!(origin("http://a.example; script-src *"), None);
        assert_eq!(origin("http://"), None);
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(
            content_type("app-1a2b.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(content_type("app-1a2b.CSS"), "text/css; charset=utf-8");
        assert_eq!(content_type("noext"), "application/octet-stream");
    }
}
