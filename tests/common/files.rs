//! Uploads for the attachment tests: the fixtures, uploading and fetching, and what the object
//! store holds (read straight from NATS, as an operator would).

use super::App;
use futures::StreamExt;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The bucket every test server uses (the default `ATTACHMENT_BUCKET`).
pub const BUCKET: &str = "CONCIERGE_FILES";

/// A file of `tests/fixtures/attachments` (how each was made: its README).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/attachments/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn attachments_url(app: &App, conv: &str) -> String {
    app.url(&format!("/messaging/conversations/{conv}/attachments"))
}

/// Uploads `bytes` as the part `file` named `filename`, with the part type `declared` if given.
pub async fn upload(
    app: &App,
    token: &str,
    conv: &str,
    filename: &str,
    bytes: Vec<u8>,
    declared: Option<&str>,
) -> (StatusCode, Value) {
    let mut part = reqwest::multipart::Part::bytes(bytes).file_name(filename.to_string());
    if let Some(mime) = declared {
        part = part.mime_str(mime).unwrap();
    }
    let form = reqwest::multipart::Form::new().part("file", part);
    let r = reqwest::Client::new()
        .post(attachments_url(app, conv))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .expect("upload request");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Uploads a fixture and returns the stored attachment (201 expected).
pub async fn uploaded(app: &App, token: &str, conv: &str, fixture_name: &str) -> Value {
    let (status, body) = upload(app, token, conv, fixture_name, fixture(fixture_name), None).await;
    assert_eq!(status, 201, "{fixture_name}: {body}");
    body["data"]["attachment"].clone()
}

/// A GET of an attachment URL (a signed path as handed out, or a bare one) with an optional token
/// and headers: status, headers, body bytes.
pub async fn fetch(
    app: &App,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = reqwest::Client::new().get(app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let r = req.send().await.expect("fetch");
    let status = r.status();
    let headers = r.headers().clone();
    (
        status,
        headers,
        r.bytes().await.unwrap_or_default().to_vec(),
    )
}

/// The path of an attachment URL, without its signature.
pub fn unsigned(url: &str) -> String {
    url.split('?').next().unwrap().to_string()
}

/// The bucket's stream; `None` before the first upload created it.
async fn bucket_stream(nats_url: &str) -> Option<async_nats::jetstream::stream::Stream> {
    let client = async_nats::connect(nats_url)
        .await
        .expect("connect to nats");
    let js = async_nats::jetstream::new(client);
    js.get_stream(format!("OBJ_{BUCKET}")).await.ok()
}

async fn subjects(nats_url: &str, filter: &str) -> Vec<String> {
    let Some(stream) = bucket_stream(nats_url).await else {
        return Vec::new();
    };
    let mut info = stream.info_with_subjects(filter).await.expect("subjects");
    let mut out = Vec::new();
    while let Some(item) = info.next().await {
        out.push(item.expect("subject").0);
    }
    out
}

/// The names of the objects in the bucket (deleted ones left out).
pub async fn objects(nats_url: &str) -> Vec<String> {
    let Some(stream) = bucket_stream(nats_url).await else {
        return Vec::new();
    };
    let mut names = Vec::new();
    for subject in subjects(nats_url, &format!("$O.{BUCKET}.M.>")).await {
        let msg = stream
            .get_last_raw_message_by_subject(&subject)
            .await
            .expect("object info");
        let info: Value = serde_json::from_slice(&msg.payload).expect("object info is JSON");
        if info["deleted"] != Value::Bool(true) {
            names.push(info["name"].as_str().unwrap().to_string());
        }
    }
    names.sort();
    names
}

/// How many chunk subjects (one per object written, complete or not) the bucket holds.
pub async fn chunk_subjects(nats_url: &str) -> usize {
    subjects(nats_url, &format!("$O.{BUCKET}.C.>")).await.len()
}

/// Polls `check` every 100 ms until it returns true, or fails after `within`.
pub async fn until<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
