//! Attachments (docs/attachments.md): uploads into the object store, sends that carry them, reads
//! by token or signed URL, and the ways each is refused; what is left in NATS after refusals,
//! deletes, a NATS outage and a crash.

mod common;

use common::files::*;
use common::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

fn ann() -> String {
    customer("cus_ann", &["bk_1", "bk_2"])
}

fn dan() -> String {
    customer("cus_dan", &["bk_9"])
}

fn bo() -> String {
    admin("adm_bo")
}

async fn ann_conv(app: &App) -> String {
    id_of(&created(open(app, &ann(), "bk_1").await))
}

/// Sends a message carrying the uploads `ids`.
async fn send_with(app: &App, token: &str, conv: &str, ids: &[&str]) -> (StatusCode, Value) {
    let attachments: Vec<Value> = ids.iter().map(|id| json!({ "id": id })).collect();
    send_body(
        app,
        token,
        conv,
        &json!({ "content": "", "messageType": "file", "attachments": attachments }),
    )
    .await
}

/// The harness's options with these settings.
fn with_env(vars: &[(&str, &str)]) -> AppOptions {
    AppOptions {
        extra_env: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..Default::default()
    }
}

fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    h.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

/// A fixture and what it must be stored as: type, image size, audio duration.
type Expected = (&'static str, &'static str, Option<(u64, u64)>, Option<u64>);

const ALLOWED: [Expected; 13] = [
    ("photo.jpg", "image/jpeg", Some((640, 480)), None),
    ("alpha.png", "image/png", Some((100, 50)), None),
    ("anim.gif", "image/gif", Some((120, 90)), None),
    ("photo.webp", "image/webp", Some((200, 150)), None),
    ("doc.pdf", "application/pdf", None, None),
    ("note.txt", "text/plain", None, None),
    ("voice.ogg", "audio/ogg", None, Some(2000)),
    ("voice.webm", "audio/webm", None, None),
    ("voice-duration.webm", "audio/webm", None, Some(2008)),
    ("voice.m4a", "audio/mp4", None, Some(2000)),
    ("voice.mp3", "audio/mpeg", None, Some(2038)),
    ("voice-vbr.mp3", "audio/mpeg", None, Some(2038)),
    ("voice-vorbis.ogg", "audio/ogg", None, Some(2000)),
];

#[tokio::test]
async fn every_allowed_type_round_trips_byte_for_byte_with_its_derived_facts() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conv(app).await;
    for (name, mimetype, size, duration) in ALLOWED {
        let bytes = fixture(name);
        let a = uploaded(app, &ann(), &conv, name).await;
        assert_ulid(&a["id"]);
        assert_eq!(a["filename"], name);
        assert_eq!(a["mimetype"], mimetype, "{name}");
        assert_eq!(a["size"], bytes.len() as u64, "{name}");
        assert_eq!(a["durationMs"], json!(duration), "{name}");
        assert_eq!(
            (a["width"].as_u64(), a["height"].as_u64()),
            (size.map(|s| s.0), size.map(|s| s.1)),
            "{name}"
        );
        let url = a["url"].as_str().unwrap();
        assert!(url.starts_with(&format!(
            "/messaging/attachments/{}?exp=",
            a["id"].as_str().unwrap()
        )));

        // The signed URL needs no token; a token of someone who may see the conversation needs
        // no signature.
        for (token, path) in [
            (None, url.to_string()),
            (Some(ann()), unsigned(url)),
            (Some(bo()), unsigned(url)),
        ] {
            let (status, h, body) = fetch(app, &path, token.as_deref(), &[]).await;
            assert_eq!(status, 200, "{name} {path}");
            assert_eq!(sha256(&body), sha256(&bytes), "{name}");
            let expected_type = if mimetype == "text/plain" {
                "text/plain; charset=utf-8"
            } else {
                mimetype
            };
            assert_eq!(header(&h, "content-type"), expected_type);
            assert_eq!(header(&h, "x-content-type-options"), "nosniff");
            assert_eq!(
                header(&h, "content-security-policy"),
                "default-src 'none'; sandbox"
            );
            assert_eq!(header(&h, "accept-ranges"), "bytes");
            assert!(header(&h, "etag").starts_with('"'), "{name}");
            let inline = mimetype.starts_with("image/") || mimetype.starts_with("audio/");
            let disposition = header(&h, "content-disposition");
            assert!(
                disposition.starts_with(if inline { "inline;" } else { "attachment;" }),
                "{name}: {disposition}"
            );
            assert!(
                disposition.contains(&format!("filename=\"{name}\"")),
                "{disposition}"
            );
        }

        // Images have a thumbnail no larger than 320 pixels on the long side; nothing else has.
        match size {
            Some((w, h)) => {
                let thumb = a["thumbnailUrl"].as_str().unwrap();
                let (status, headers, body) = fetch(app, thumb, None, &[]).await;
                assert_eq!(status, 200, "{name}");
                let t = image::load_from_memory(&body).unwrap();
                let scale = (320.0 / w.max(h) as f64).min(1.0);
                assert_eq!(
                    (t.width() as u64, t.height() as u64),
                    (
                        (w as f64 * scale).round() as u64,
                        (h as f64 * scale).round() as u64
                    ),
                    "{name}"
                );
                let kind = header(&headers, "content-type");
                assert!(kind == "image/jpeg" || kind == "image/png", "{kind}");
            }
            None => {
                assert_eq!(a["thumbnailUrl"], Value::Null, "{name}");
                let thumb = format!("{}/thumbnail", unsigned(url));
                let (status, _, _) = fetch(app, &thumb, Some(&ann()), &[]).await;
                assert_eq!(status, 404, "{name}");
            }
        }
    }

    // A message carries the uploads' metadata, never bytes; its page hands the URLs out signed.
    let photo = uploaded(app, &ann(), &conv, "photo.jpg").await;
    let voice = uploaded(app, &ann(), &conv, "voice.ogg").await;
    let (status, sent) = send_with(
        app,
        &ann(),
        &conv,
        &[photo["id"].as_str().unwrap(), voice["id"].as_str().unwrap()],
    )
    .await;
    assert_eq!(status, 201, "{sent}");
    let carried = &sent["data"]["attachments"];
    assert_eq!(carried.as_array().unwrap().len(), 2);
    assert_eq!(carried[0]["id"], photo["id"]);
    assert_eq!(carried[0]["width"], 640);
    assert_eq!(carried[1]["durationMs"], 2000);
    let page = list_messages(app, &bo(), &conv, "").await;
    let shown = &page["messages"][0]["attachments"][0];
    let (status, _, body) = fetch(app, shown["url"].as_str().unwrap(), None, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(sha256(&body), sha256(&fixture("photo.jpg")));
    let (status, _, _) = fetch(app, shown["thumbnailUrl"].as_str().unwrap(), None, &[]).await;
    assert_eq!(status, 200);
    let events = common::log::events(app.nats_url(), &conv).await;
    let stored = events.iter().find(|e| e["type"] == "message_sent").unwrap();
    assert_eq!(
        stored["data"]["attachments"][0],
        json!({
            "url": format!("/messaging/attachments/{}", photo["id"].as_str().unwrap()),
            "filename": "photo.jpg", "mimetype": "image/jpeg", "size": fixture("photo.jpg").len(),
            "id": photo["id"], "width": 640, "height": 480, "thumbnail": true
        })
    );
}

#[tokio::test]
async fn ranges_etags_and_file_names_are_served_as_browsers_need() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conv(app).await;
    let bytes = fixture("voice.ogg");
    let (status, body) = upload(
        app,
        &ann(),
        &conv,
        "../../etc/Voix d'été\u{202e}.ogg",
        bytes.clone(),
        Some("audio/ogg; codecs=opus"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let a = &body["data"]["attachment"];
    assert_eq!(a["filename"], "Voix d'été.ogg");
    let url = a["url"].as_str().unwrap();

    let (status, h, part) = fetch(app, url, None, &[("range", "bytes=100-199")]).await;
    assert_eq!(status, 206);
    assert_eq!(
        header(&h, "content-range"),
        format!("bytes 100-199/{}", bytes.len())
    );
    assert_eq!(part, bytes[100..200]);
    let (status, _, part) = fetch(app, url, None, &[("range", "bytes=-10")]).await;
    assert_eq!(status, 206);
    assert_eq!(part, bytes[bytes.len() - 10..]);
    let (status, _, part) = fetch(app, url, None, &[("range", "bytes=10000-")]).await;
    assert_eq!(status, 206);
    assert_eq!(part, bytes[10000..]);
    let (status, h, _) = fetch(app, url, None, &[("range", "bytes=99999-")]).await;
    assert_eq!(status, 416);
    // A Range that does not parse is ignored: the whole file.
    let (status, _, whole) = fetch(app, url, None, &[("range", "bytes=oops")]).await;
    assert_eq!(status, 200);
    assert_eq!(whole, bytes);
    assert_eq!(
        header(&h, "content-range"),
        format!("bytes */{}", bytes.len())
    );

    let (_, h, _) = fetch(app, url, None, &[]).await;
    let etag = header(&h, "etag").to_string();
    assert_eq!(
        header(&h, "content-disposition"),
        "inline; filename=\"Voix d'_t_.ogg\"; filename*=UTF-8''Voix%20d%27%C3%A9t%C3%A9.ogg"
    );
    let (status, _, body) = fetch(app, url, None, &[("if-none-match", &etag)]).await;
    assert_eq!(status, 304);
    assert!(body.is_empty());
}

#[tokio::test]
async fn each_refusal_answers_its_status_and_keeps_nothing() {
    let env = TestEnv::start_with(with_env(&[("MAX_ATTACHMENT_BYTES", "200000")])).await;
    let app = &env.app;
    let conv = ann_conv(app).await;

    // At the limit is taken; one byte more is 413, also when it is found only while streaming.
    let text = |n: usize| "a".repeat(n).into_bytes();
    let (status, _) = upload(app, &ann(), &conv, "a.txt", text(200_000), None).await;
    assert_eq!(status, 201);
    let before = objects(app.nats_url()).await;
    assert_eq!(before.len(), 1);
    let msg = error(
        upload(app, &ann(), &conv, "a.txt", text(200_001), None).await,
        413,
        "payload_too_large",
    );
    assert_eq!(msg, "file must be at most 200000 bytes");

    // The type comes from the bytes: a type not allowed, or declared otherwise, is 415.
    let msg = error(
        upload(
            app,
            &ann(),
            &conv,
            "photo.png",
            fixture("photo.jpg"),
            Some("image/png"),
        )
        .await,
        415,
        "unsupported_media_type",
    );
    assert_eq!(msg, "the file is image/jpeg but was sent as image/png");
    let exe = [b"MZ\x90\x00\x03".as_slice(), &[0u8; 200]].concat();
    let msg = error(
        upload(app, &ann(), &conv, "setup.exe", exe, None).await,
        415,
        "unsupported_media_type",
    );
    assert!(
        msg.starts_with("file type not allowed: only images"),
        "{msg}"
    );
    error(
        upload(
            app,
            &ann(),
            &conv,
            "page.html",
            b"<html><script>alert(1)</script>".to_vec(),
            Some("text/html"),
        )
        .await,
        415,
        "unsupported_media_type",
    );
    // Text is checked to its end: a NUL far beyond the first bytes is found while streaming.
    let mut binary = text(150_000);
    binary[140_000] = 0;
    let msg = error(
        upload(app, &ann(), &conv, "b.txt", binary, None).await,
        415,
        "unsupported_media_type",
    );
    assert!(msg.starts_with("the file is not UTF-8 text"), "{msg}");

    // Images that claim too many pixels (a decompression bomb) or do not decode are 400.
    let msg = error(
        upload(app, &ann(), &conv, "bomb.png", fixture("bomb.png"), None).await,
        400,
        "validation_failed",
    );
    assert_eq!(
        msg,
        "the image is 100000x100000 pixels, more than 40 megapixels"
    );
    let msg = error(
        upload(
            app,
            &ann(),
            &conv,
            "broken.jpg",
            fixture("broken.jpg"),
            None,
        )
        .await,
        400,
        "validation_failed",
    );
    assert!(msg.starts_with("the image could not be decoded"), "{msg}");

    // Not multipart, or without a part named `file`.
    let r = reqwest::Client::new()
        .post(attachments_url(app, &conv))
        .bearer_auth(ann())
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let form = reqwest::multipart::Form::new().text("note", "hello");
    let r = reqwest::Client::new()
        .post(attachments_url(app, &conv))
        .bearer_auth(ann())
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["message"], "body must have a part named file");

    // Nothing refused was kept.
    assert_eq!(objects(app.nats_url()).await, before);

    // A stranger may neither upload nor read; a service token may do neither either.
    let (status, _) = upload(app, &dan(), &conv, "note.txt", fixture("note.txt"), None).await;
    assert_eq!(status, 403);
    let (status, _) = upload(
        app,
        &service(),
        &conv,
        "note.txt",
        fixture("note.txt"),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let a = uploaded(app, &ann(), &conv, "note.txt").await;
    let path = unsigned(a["url"].as_str().unwrap());
    assert_eq!(fetch(app, &path, Some(&dan()), &[]).await.0, 403);
    assert_eq!(fetch(app, &path, Some(&service()), &[]).await.0, 403);
    assert_eq!(fetch(app, &path, None, &[]).await.0, 401);
    assert_eq!(
        fetch(app, "/messaging/attachments/nope", Some(&ann()), &[])
            .await
            .0,
        400
    );
    assert_eq!(
        fetch(
            app,
            "/messaging/attachments/01JDQ7X0S9G1W7V8M2K3Z4Y5AB",
            Some(&ann()),
            &[]
        )
        .await
        .0,
        404
    );

    // A tampered signature, or one moved to another upload, is 401.
    let signed = a["url"].as_str().unwrap();
    let tampered = format!("{}x", signed);
    let (status, _, body) = fetch(app, &tampered, None, &[]).await;
    assert_eq!(status, 401);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body["message"],
        "a token or a signed link is needed: the link has no valid signature"
    );
    let other = uploaded(app, &ann(), &conv, "doc.pdf").await;
    let query = signed.split_once('?').unwrap().1;
    let moved = format!("{}?{query}", unsigned(other["url"].as_str().unwrap()));
    assert_eq!(fetch(app, &moved, None, &[]).await.0, 401);
    // The thumbnail's signature is not the file's.
    let photo = uploaded(app, &ann(), &conv, "photo.jpg").await;
    let thumb_query = photo["thumbnailUrl"]
        .as_str()
        .unwrap()
        .split_once('?')
        .unwrap()
        .1
        .to_string();
    let swapped = format!("{}?{thumb_query}", unsigned(photo["url"].as_str().unwrap()));
    assert_eq!(fetch(app, &swapped, None, &[]).await.0, 401);
}

#[tokio::test]
async fn a_signed_url_expires_after_its_ttl() {
    let env = TestEnv::start_with(with_env(&[("ATTACHMENT_URL_TTL", "1")])).await;
    let app = &env.app;
    let conv = ann_conv(app).await;
    let a = uploaded(app, &ann(), &conv, "note.txt").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, _, body) = fetch(app, a["url"].as_str().unwrap(), None, &[]).await;
    assert_eq!(status, 401);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        body["message"],
        "a token or a signed link is needed: the link has expired: read the message again for a fresh one"
    );
    // A token still reads it.
    assert_eq!(
        fetch(
            app,
            &unsigned(a["url"].as_str().unwrap()),
            Some(&ann()),
            &[]
        )
        .await
        .0,
        200
    );
}

#[tokio::test]
async fn a_send_takes_only_its_senders_unused_uploads_of_that_conversation() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conv(app).await;
    let other_conv = id_of(&created(open(app, &ann(), "bk_2").await));
    let mine = uploaded(app, &ann(), &conv, "note.txt").await;
    let mine = mine["id"].as_str().unwrap();
    let elsewhere = uploaded(app, &ann(), &other_conv, "note.txt").await;
    let elsewhere = elsewhere["id"].as_str().unwrap();
    let admins = uploaded(app, &bo(), &conv, "doc.pdf").await;
    let admins = admins["id"].as_str().unwrap();

    let msg = error(
        send_with(app, &ann(), &conv, &[elsewhere]).await,
        404,
        "not_found",
    );
    assert_eq!(
        msg,
        format!("attachment {elsewhere} not found in this conversation")
    );
    error(
        send_with(app, &ann(), &conv, &["01JDQ7X0S9G1W7V8M2K3Z4Y5AB"]).await,
        404,
        "not_found",
    );
    let msg = error(
        send_with(app, &ann(), &conv, &[admins]).await,
        403,
        "forbidden",
    );
    assert_eq!(
        msg,
        format!("attachment {admins} was uploaded by someone else")
    );
    invalid(
        send_with(app, &ann(), &conv, &["not-an-id"]).await,
        "attachments[0].id",
    );
    invalid(
        send_with(app, &ann(), &conv, &[mine, mine]).await,
        "attachments",
    );
    let eleven: Vec<&str> = std::iter::repeat_n(mine, 11).collect();
    invalid(send_with(app, &ann(), &conv, &eleven).await, "attachments");

    let (status, sent) = send_with(app, &ann(), &conv, &[mine]).await;
    assert_eq!(status, 201, "{sent}");
    let msg = error(
        send_with(app, &ann(), &conv, &[mine]).await,
        409,
        "conflict",
    );
    assert_eq!(
        msg,
        format!("attachment {mine} is already used by a message")
    );
    // Nothing refused reached the log: one message_sent.
    let sent_events = common::log::events(app.nats_url(), &conv)
        .await
        .into_iter()
        .filter(|e| e["type"] == "message_sent")
        .count();
    assert_eq!(sent_events, 1);
    // An upload to a closed conversation is 409.
    common::log::change_status(app, &conv, "closed").await;
    error(
        upload(app, &ann(), &conv, "note.txt", fixture("note.txt"), None).await,
        409,
        "conflict",
    );
}

#[tokio::test]
async fn deleting_a_message_makes_its_attachments_404_at_once_and_the_sweeper_removes_them() {
    let env = TestEnv::start_with(with_env(&[("ATTACHMENT_SWEEP_SECS", "1")])).await;
    let app = &env.app;
    let conv = ann_conv(app).await;
    let photo = uploaded(app, &ann(), &conv, "photo.jpg").await;
    let id = photo["id"].as_str().unwrap().to_string();
    let (_, sent) = send_with(app, &ann(), &conv, &[&id]).await;
    let msg = sent["data"]["id"].as_str().unwrap().to_string();
    assert_eq!(
        objects(app.nats_url()).await,
        vec![id.clone(), format!("{id}.thumb")]
    );

    let url = app.url(&format!("/messaging/conversations/{conv}/messages/{msg}"));
    let deleted = data(delete(&url, &bo()).await, 200);
    assert_eq!(deleted["attachments"], json!([]));
    for (path, token) in [
        (photo["url"].as_str().unwrap().to_string(), None),
        (photo["thumbnailUrl"].as_str().unwrap().to_string(), None),
        (unsigned(photo["url"].as_str().unwrap()), Some(bo())),
    ] {
        assert_eq!(
            fetch(app, &path, token.as_deref(), &[]).await.0,
            404,
            "{path}"
        );
    }
    until(
        "the sweeper removes the deleted message's files",
        Duration::from_secs(15),
        || async {
            objects(app.nats_url()).await.is_empty() && chunk_subjects(app.nats_url()).await == 0
        },
    )
    .await;
}

#[tokio::test]
async fn an_upload_no_message_uses_is_removed_after_the_orphan_ttl() {
    let env = TestEnv::start_with(with_env(&[
        ("ATTACHMENT_SWEEP_SECS", "1"),
        ("ATTACHMENT_ORPHAN_TTL", "3"),
    ]))
    .await;
    let app = &env.app;
    let conv = ann_conv(app).await;
    let used = uploaded(app, &ann(), &conv, "note.txt").await;
    let used = used["id"].as_str().unwrap().to_string();
    data(send_with(app, &ann(), &conv, &[&used]).await, 201);
    let orphan = uploaded(app, &ann(), &conv, "doc.pdf").await;
    let orphan = orphan["id"].as_str().unwrap().to_string();
    assert_eq!(objects(app.nats_url()).await.len(), 2);
    until("the orphan is swept", Duration::from_secs(15), || async {
        objects(app.nats_url()).await == vec![used.clone()]
    })
    .await;
    assert_eq!(chunk_subjects(app.nats_url()).await, 1);
    error(
        send_with(app, &ann(), &conv, &[&orphan]).await,
        404,
        "not_found",
    );
    assert_eq!(
        fetch(
            app,
            &format!("/messaging/attachments/{used}"),
            Some(&ann()),
            &[]
        )
        .await
        .0,
        200
    );
}

#[tokio::test]
async fn an_upload_to_one_node_is_read_on_another() {
    let nats = Nats::start();
    let a = App::start(&nats).await;
    let b = App::start(&nats).await;
    let conv = ann_conv(&a).await;
    let photo = uploaded(&a, &ann(), &conv, "photo.jpg").await;
    let (status, sent) = send_with(&b, &ann(), &conv, &[photo["id"].as_str().unwrap()]).await;
    assert_eq!(status, 201, "{sent}");
    let (status, _, body) = fetch(&b, photo["url"].as_str().unwrap(), None, &[]).await;
    assert_eq!(status, 200);
    assert_eq!(sha256(&body), sha256(&fixture("photo.jpg")));
    let page = list_messages(&b, &bo(), &conv, "").await;
    let thumb = page["messages"][0]["attachments"][0]["thumbnailUrl"]
        .as_str()
        .unwrap();
    assert_eq!(fetch(&a, thumb, None, &[]).await.0, 200);
}

/// An upload whose body arrives in two halves, with `between` run after the first.
async fn upload_in_halves(
    app: &App,
    conv: &str,
    bytes: Vec<u8>,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(StatusCode, Value), String>>,
) {
    let (go_on, wait) = tokio::sync::oneshot::channel::<()>();
    let half = bytes.len() / 2;
    let first = bytes::Bytes::copy_from_slice(&bytes[..half]);
    let second = bytes::Bytes::copy_from_slice(&bytes[half..]);
    let body = futures::stream::once(async move { Ok::<_, std::io::Error>(first) }).chain(
        futures::stream::once(async move {
            let _ = wait.await;
            Ok::<_, std::io::Error>(second)
        }),
    );
    let part = reqwest::multipart::Part::stream(reqwest::Body::wrap_stream(body))
        .file_name("big.txt")
        .mime_str("text/plain")
        .unwrap();
    let form = reqwest::multipart::Form::new().part("file", part);
    let request = reqwest::Client::new()
        .post(attachments_url(app, conv))
        .bearer_auth(ann())
        .multipart(form);
    let task = tokio::spawn(async move {
        let r = request.send().await.map_err(|e| e.to_string())?;
        let status = r.status();
        Ok((status, r.json().await.unwrap_or(Value::Null)))
    });
    (go_on, task)
}

use futures::StreamExt;

/// Sweeps every second, and takes uploads and chunks unused for a second as orphans.
fn sweeping_every_second() -> AppOptions {
    with_env(&[
        ("ATTACHMENT_SWEEP_SECS", "1"),
        ("ATTACHMENT_ORPHAN_TTL", "1"),
    ])
}

/// A 4 MiB upload whose first half is stored (its chunks are in the bucket) and whose second half
/// waits for `go_on`.
async fn half_uploaded(
    app: &App,
    conv: &str,
) -> (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(StatusCode, Value), String>>,
) {
    let halves = upload_in_halves(app, conv, "x".repeat(4 << 20).into_bytes()).await;
    until(
        "the first chunks are stored",
        Duration::from_secs(10),
        || async { chunk_subjects(app.nats_url()).await == 1 },
    )
    .await;
    halves
}

#[tokio::test]
async fn nats_lost_during_an_upload_is_503_and_leaves_no_object() {
    let mut nats = Nats::start();
    let app = App::start_with(&nats, sweeping_every_second()).await;
    let conv = ann_conv(&app).await;
    let (go_on, task) = half_uploaded(&app, &conv).await;
    nats.stop();
    let _ = go_on.send(());
    let (status, body) = task.await.unwrap().expect("an answer");
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body["message"],
        "the attachment store cannot take the upload right now; nothing was kept"
    );
    nats.start_again();
    let mut app = app;
    app.wait_ready().await;
    assert_eq!(objects(app.nats_url()).await, Vec::<String>::new());
    // The chunks the cut-off write left are purged by the sweeper.
    until(
        "the cut-off chunks are purged",
        Duration::from_secs(20),
        || async { chunk_subjects(app.nats_url()).await == 0 },
    )
    .await;
    // And uploads work again.
    uploaded(&app, &ann(), &conv, "note.txt").await;
}

#[tokio::test]
async fn a_node_killed_during_an_upload_leaves_no_message_and_no_object() {
    let nats = Nats::start();
    let mut app = App::start_with(&nats, sweeping_every_second()).await;
    let conv = ann_conv(&app).await;
    let (go_on, task) = half_uploaded(&app, &conv).await;
    app.kill();
    let _ = go_on.send(());
    assert!(task.await.unwrap().is_err(), "the killed node answered");
    app.restart().await;
    assert_eq!(objects(app.nats_url()).await, Vec::<String>::new());
    let page = list_messages(&app, &ann(), &conv, "").await;
    assert_eq!(page["messages"], json!([]));
    until(
        "the cut-off chunks are purged",
        Duration::from_secs(20),
        || async { chunk_subjects(app.nats_url()).await == 0 },
    )
    .await;
}

#[tokio::test]
async fn a_rebuild_keeps_every_attachment_reachable() {
    let env = TestEnv::start().await;
    let mut app = env.app;
    let conv = ann_conv(&app).await;
    let photo = uploaded(&app, &ann(), &conv, "photo.jpg").await;
    let voice = uploaded(&app, &ann(), &conv, "voice.m4a").await;
    let ids = [photo["id"].as_str().unwrap(), voice["id"].as_str().unwrap()];
    data(send_with(&app, &ann(), &conv, &ids).await, 201);
    let before = list_messages(&app, &ann(), &conv, "").await["messages"][0]["attachments"].clone();
    assert!(app.terminate().success());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_concierge"))
        .arg("rebuild")
        .env("DATA_DIR", app.data_dir())
        .env("NATS_URL", app.nats_url())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    app.restart().await;
    let after = list_messages(&app, &ann(), &conv, "").await["messages"][0]["attachments"].clone();
    let strip = |v: &Value| {
        let mut v = v.clone();
        for a in v.as_array_mut().unwrap() {
            a["url"] = json!(unsigned(a["url"].as_str().unwrap()));
            if let Some(t) = a["thumbnailUrl"].as_str() {
                a["thumbnailUrl"] = json!(unsigned(t));
            }
        }
        v
    };
    assert_eq!(strip(&after), strip(&before));
    for (a, name) in after
        .as_array()
        .unwrap()
        .iter()
        .zip(["photo.jpg", "voice.m4a"])
    {
        let (status, _, body) = fetch(&app, a["url"].as_str().unwrap(), None, &[]).await;
        assert_eq!(status, 200);
        assert_eq!(sha256(&body), sha256(&fixture(name)));
    }
}

#[tokio::test]
async fn sockets_receive_the_message_with_urls_they_can_fetch() {
    let env = TestEnv::start().await;
    let app = &env.app;
    let conv = ann_conv(app).await;
    let bo_token = bo();
    let mut admin = common::ws::connect(&app.base(), common::ws::Auth::Header(&bo_token)).await;
    let photo = uploaded(app, &ann(), &conv, "photo.jpg").await;
    data(
        send_with(app, &ann(), &conv, &[photo["id"].as_str().unwrap()]).await,
        201,
    );
    let frame = admin.next_event("new_message").await;
    let a = &frame["data"]["message"]["attachments"][0];
    assert_eq!(a["id"], photo["id"]);
    let (status, _, body) = fetch(app, a["thumbnailUrl"].as_str().unwrap(), None, &[]).await;
    assert_eq!(status, 200);
    assert!(!body.is_empty());
}
