//! Native HTTPS (issue 15): with TLS_CERT and TLS_KEY the node serves HTTP, WebSocket and
//! Socket.IO over TLS, picks up a replaced certificate within the reload interval, keeps the one
//! in use when the replacement is broken, and refuses to start with only one of the settings.

mod common;

use common::secure::{run_to_exit, Issued, Pki};
use common::*;
use futures::StreamExt;
use rustls::pki_types::{CertificateDer, ServerName};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The interval the node polls the files at (`RELOAD_POLL` in src/tls.rs) and a margin.
const RELOAD_DEADLINE: Duration = Duration::from_secs(2 * 2 + 1);

fn der_of(cert: &Path) -> CertificateDer<'static> {
    let pem = std::fs::read(cert).expect("read cert");
    let first = rustls_pemfile::certs(&mut pem.as_slice())
        .next()
        .expect("a certificate")
        .expect("PEM");
    first
}

fn client_config(ca: &Path) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(der_of(ca)).expect("add the CA");
    Arc::new(
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth(),
    )
}

/// A new TLS connection to the node, trusting only `ca`.
async fn tls_connect(
    port: u16,
    ca: &Path,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    tokio_rustls::TlsConnector::from(client_config(ca))
        .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
        .await
        .expect("TLS handshake")
}

/// The certificate a new connection is served.
async fn served_certificate(port: u16, ca: &Path) -> CertificateDer<'static> {
    let tls = tls_connect(port, ca).await;
    tls.get_ref().1.peer_certificates().expect("a certificate")[0].clone()
}

fn https_client(ca: &Path) -> reqwest::Client {
    let pem = std::fs::read(ca).expect("read CA");
    reqwest::Client::builder()
        .use_rustls_tls()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).expect("CA"))
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

/// Installs `issued` as the node's certificate files (key first, then certificate).
fn install(issued: &Issued, cert: &Path, key: &Path) {
    std::fs::copy(&issued.key, key).expect("copy key");
    std::fs::copy(&issued.cert, cert).expect("copy cert");
}

struct Node {
    app: App,
    _nats: Nats,
    pki: Pki,
    cert: PathBuf,
    key: PathBuf,
}

async fn start_https_node() -> Node {
    let pki = Pki::new();
    let first = pki.server("node-1", 1);
    let (cert, key) = (
        pki.dir.path().join("tls.pem"),
        pki.dir.path().join("tls.key"),
    );
    install(&first, &cert, &key);
    let nats = Nats::start();
    let app = App::spawn_with(
        &nats.url(),
        AppOptions {
            extra_env: vec![
                ("TLS_CERT".into(), cert.display().to_string()),
                ("TLS_KEY".into(), key.display().to_string()),
            ],
            ..Default::default()
        },
    );
    let client = https_client(&pki.ca());
    let ready = format!("https://127.0.0.1:{}/ready", app.port());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = client.get(&ready).send().await {
            if r.status() == 200 {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "not ready over HTTPS:\n{}",
            app.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Node {
        app,
        _nats: nats,
        pki,
        cert,
        key,
    }
}

#[tokio::test]
async fn https_serves_http_websocket_and_socketio_and_reloads_a_replaced_certificate() {
    let node = start_https_node().await;
    let (port, ca) = (node.app.port(), node.pki.ca());

    // HTTP over TLS: a write and a read.
    let client = https_client(&ca);
    let base = format!("https://127.0.0.1:{port}");
    let r = client
        .put(format!("{base}/messaging/bookings/bk_1"))
        .bearer_auth(service())
        .json(&serde_json::json!({ "customerId": "cus_ann" }))
        .send()
        .await
        .expect("register a booking");
    assert_eq!(r.status(), 201);
    let ann = customer("cus_ann", &[]);
    let r = client
        .get(format!("{base}/messaging/conversations/booking/bk_1"))
        .bearer_auth(&ann)
        .send()
        .await
        .expect("open the conversation");
    assert_eq!(r.status(), 201);
    let conv: serde_json::Value = r.json().await.expect("json");
    let conv = id_of(&conv["data"]);
    let messages = format!("{base}/messaging/conversations/{conv}/messages");
    let r = client
        .post(&messages)
        .bearer_auth(&ann)
        .json(&serde_json::json!({ "content": "over HTTPS" }))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 201);
    let r = client
        .get(&messages)
        .bearer_auth(&ann)
        .send()
        .await
        .expect("read");
    let page: serde_json::Value = r.json().await.expect("json");
    assert_eq!(
        contents(&page["data"]["messages"]),
        vec!["over HTTPS".to_string()]
    );

    // Plain HTTP on the same port is not served.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/health"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(
        plain.map(|r| !r.status().is_success()).unwrap_or(true),
        "plain HTTP answered on the HTTPS port"
    );

    // A WebSocket upgrade over TLS, authenticated, receives its first frame.
    let tls = tls_connect(port, &ca).await;
    let token = customer("cus_ann", &[]);
    let request = format!("wss://127.0.0.1:{port}/ws?token={token}")
        .into_client_request()
        .expect("request");
    let (mut ws, response) = tokio_tungstenite::client_async(request, tls)
        .await
        .expect("WebSocket upgrade over TLS");
    assert_eq!(response.status(), 101);
    let first = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .expect("a frame within 10 s")
        .expect("a frame")
        .expect("a message");
    assert!(
        first.to_text().expect("text").contains("authenticated"),
        "{first:?}"
    );

    // Socket.IO's long-polling handshake over TLS opens an Engine.IO session.
    let r = client
        .get(format!("{base}/socket.io/?EIO=4&transport=polling"))
        .send()
        .await
        .expect("Socket.IO handshake");
    assert_eq!(r.status(), 200);
    let open = r.text().await.expect("text");
    assert!(open.starts_with("0{") && open.contains("\"sid\""), "{open}");

    // The first certificate is served; a replacement is served to new connections within the
    // reload interval.
    let first_cert = der_of(&node.cert);
    assert_eq!(served_certificate(port, &ca).await, first_cert);
    let second = node.pki.server("node-2", 2);
    install(&second, &node.cert, &node.key);
    let second_cert = der_of(&second.cert);
    assert_ne!(first_cert, second_cert);
    let replaced = Instant::now();
    while served_certificate(port, &ca).await != second_cert {
        assert!(
            replaced.elapsed() < RELOAD_DEADLINE,
            "the new certificate was not served within {RELOAD_DEADLINE:?}:\n{}",
            node.app.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A broken replacement is logged and the certificate in use kept.
    std::fs::write(&node.cert, "not a certificate").expect("break the cert");
    let broken = Instant::now();
    while !node.app.log().contains("keeping the one in use") {
        assert!(
            broken.elapsed() < RELOAD_DEADLINE,
            "no error logged for the broken certificate:\n{}",
            node.app.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(node.app.log().contains("TLS_CERT:"), "{}", node.app.log());
    assert_eq!(served_certificate(port, &ca).await, second_cert);
}

#[test]
fn one_of_tls_cert_and_tls_key_without_the_other_exits_2() {
    let pki = Pki::new();
    let issued = pki.server("node", 1);
    let (cert, key) = (
        issued.cert.display().to_string(),
        issued.key.display().to_string(),
    );
    let cases = [
        (
            ("TLS_CERT", cert.as_str()),
            "TLS_CERT is set without TLS_KEY",
        ),
        (("TLS_KEY", key.as_str()), "TLS_KEY is set without TLS_CERT"),
    ];
    for ((name, value), expected) in cases {
        let (status, out) = run_to_exit(
            &["serve"],
            &[("NATS_URL", "nats://127.0.0.1:1"), (name, value)],
        );
        assert_eq!(status.code(), Some(2), "{out}");
        assert!(out.contains(expected), "expected {expected:?} in:\n{out}");
    }
    let (status, out) = run_to_exit(
        &["serve"],
        &[
            ("NATS_URL", "nats://127.0.0.1:1"),
            ("TLS_CERT", &key),
            ("TLS_KEY", &key),
        ],
    );
    assert_eq!(status.code(), Some(2), "{out}");
    assert!(out.contains("TLS_CERT: "), "{out}");
}
