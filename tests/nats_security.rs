//! Secured NATS (issue 15): TLS with a CA, mutual TLS, users with a password, a token or an nkey,
//! each against a real nats-server configured by the test; settings that cannot work stop the node
//! at start with exit status 2 and a message naming the setting; and the local nats-server's store
//! encrypted with NATS_STORE_KEY.

mod common;

use common::secure::{files_under, run_to_exit, ConfNats, Pki};
use common::*;
use std::path::Path;

/// A nats-server with JetStream whose client port serves TLS with `server`'s certificate;
/// `verify` makes it require a client certificate signed by the CA (mutual TLS).
fn tls_nats(pki: &Pki, verify: bool) -> ConfNats {
    let server = pki.server("nats", 1);
    ConfNats::start(&format!(
        r#"
listen: 127.0.0.1:{{port}}
jetstream {{ store_dir: "{{store}}" }}
tls {{
  cert_file: "{}"
  key_file: "{}"
  ca_file: "{}"
  verify: {verify}
  timeout: 2
}}
"#,
        server.cert.display(),
        server.key.display(),
        pki.ca().display()
    ))
}

/// A nats-server with JetStream and `authorization`'s block.
fn auth_nats(authorization: &str) -> ConfNats {
    ConfNats::start(&format!(
        "listen: 127.0.0.1:{{port}}\njetstream {{ store_dir: \"{{store}}\" }}\nauthorization {{ {authorization} }}\n"
    ))
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

/// Sends a message over HTTP and reads it back from the views: the node works end to end.
async fn round_trip(app: &App, content: &str) {
    let conv = fixtures::conversation_of(app, "cus_ann", "bk_1").await;
    let ann = customer("cus_ann", &[]);
    send(app, &ann, &conv, content).await;
    let page = list_messages(app, &ann, &conv, "page=1&limit=10").await;
    assert_eq!(contents(&page["messages"]), vec![content.to_string()]);
}

/// Asserts `concierge serve` exited with status 2 and said `expected`.
#[track_caller]
fn assert_refused(outcome: (std::process::ExitStatus, String), expected: &str) {
    let (status, out) = outcome;
    assert_eq!(status.code(), Some(2), "{out}");
    assert!(out.contains(expected), "expected {expected:?} in:\n{out}");
}

#[tokio::test]
async fn tls_with_nats_tls_ca_works_end_to_end_and_without_it_the_node_exits_2() {
    let pki = Pki::new();
    let nats = tls_nats(&pki, false);
    let mut app = App::spawn_with(
        &nats.url(None),
        AppOptions {
            extra_env: env(&[("NATS_TLS_CA", path(&pki.ca()))]),
            ..Default::default()
        },
    );
    app.wait_ready().await;
    round_trip(&app, "over TLS").await;

    // Without the CA the server's certificate is not trusted.
    let refused = run_to_exit(&["serve"], &[("NATS_URL", &nats.url(None))]);
    assert_refused(
        refused,
        "TLS with NATS failed: NATS's certificate is not trusted: set NATS_TLS_CA",
    );
}

#[tokio::test]
async fn mutual_tls_works_with_a_client_certificate_and_without_one_the_node_exits_2() {
    let pki = Pki::new();
    let nats = tls_nats(&pki, true);
    let client = pki.client("concierge");
    let mut app = App::spawn_with(
        &nats.url(None),
        AppOptions {
            extra_env: env(&[
                ("NATS_TLS_CA", path(&pki.ca())),
                ("NATS_TLS_CERT", path(&client.cert)),
                ("NATS_TLS_KEY", path(&client.key)),
            ]),
            ..Default::default()
        },
    );
    app.wait_ready().await;
    round_trip(&app, "over mutual TLS").await;

    let refused = run_to_exit(
        &["serve"],
        &[
            ("NATS_URL", &nats.url(None)),
            ("NATS_TLS_CA", path(&pki.ca())),
        ],
    );
    assert_refused(
        refused,
        "TLS with NATS failed: NATS did not accept this node's client certificate, or wants one: set NATS_TLS_CERT and NATS_TLS_KEY",
    );
}

#[tokio::test]
async fn a_user_and_password_in_nats_url_work_a_wrong_one_exits_2_and_neither_is_logged() {
    let nats = auth_nats(r#"users = [ { user: "concierge", password: "pa55-right" } ]"#);
    let mut app = App::spawn_with(
        &nats.url(Some("concierge:pa55-right")),
        AppOptions {
            // The client's debug lines name the server it connects to: without the password.
            extra_env: env(&[("RUST_LOG", "debug")]),
            ..Default::default()
        },
    );
    app.wait_ready().await;
    round_trip(&app, "with a password").await;
    assert!(!app.log().contains("pa55-right"), "{}", app.log());

    let refused = run_to_exit(
        &["serve"],
        &[
            ("NATS_URL", &nats.url(Some("concierge:pa55-wrong"))),
            ("RUST_LOG", "debug"),
        ],
    );
    assert!(!refused.1.contains("pa55-wrong"), "{}", refused.1);
    assert_refused(
        refused,
        "NATS refused to authenticate this node; credentials: the user and password in NATS_URL",
    );

    // The operator commands read the same settings and refuse the same way.
    let tail = run_to_exit(
        &["tail"],
        &[("NATS_URL", &nats.url(Some("concierge:pa55-wrong")))],
    );
    assert_refused(tail, "the user and password in NATS_URL");
}

#[tokio::test]
async fn a_token_in_nats_url_works_and_a_wrong_one_exits_2() {
    let nats = auth_nats(r#"token: "t0ken-right""#);
    let mut app = App::spawn_with(&nats.url(Some("t0ken-right")), AppOptions::default());
    app.wait_ready().await;
    round_trip(&app, "with a token").await;

    let refused = run_to_exit(&["serve"], &[("NATS_URL", &nats.url(Some("t0ken-wrong")))]);
    assert_refused(
        refused,
        "NATS refused to authenticate this node; credentials: the token in NATS_URL",
    );
    let none = run_to_exit(&["serve"], &[("NATS_URL", &nats.url(None))]);
    assert_refused(
        none,
        "credentials: none were given: set NATS_CREDS, NATS_NKEY_SEED",
    );
}

#[tokio::test]
async fn an_nkey_seed_works_and_another_users_seed_exits_2() {
    let user = nkeys::KeyPair::new_user();
    let stranger = nkeys::KeyPair::new_user();
    let nats = auth_nats(&format!(
        r#"users = [ {{ nkey: "{}" }} ]"#,
        user.public_key()
    ));
    let dir = tempfile::tempdir().expect("tempdir");
    let seed = dir.path().join("concierge.nk");
    std::fs::write(&seed, user.seed().expect("seed")).expect("write the seed");
    let mut app = App::spawn_with(
        &nats.url(None),
        AppOptions {
            extra_env: env(&[("NATS_NKEY_SEED", path(&seed))]),
            ..Default::default()
        },
    );
    app.wait_ready().await;
    round_trip(&app, "with an nkey").await;

    let other = dir.path().join("stranger.nk");
    std::fs::write(&other, stranger.seed().expect("seed")).expect("write the seed");
    let refused = run_to_exit(
        &["serve"],
        &[
            ("NATS_URL", &nats.url(None)),
            ("NATS_NKEY_SEED", path(&other)),
        ],
    );
    assert_refused(
        refused,
        "NATS refused to authenticate this node; credentials: NATS_NKEY_SEED",
    );
}

#[test]
fn unusable_nats_settings_exit_2_naming_the_setting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing.pem");
    let not_a_seed = dir.path().join("seed.nk");
    std::fs::write(&not_a_seed, "not a seed").unwrap();
    let url = "nats://127.0.0.1:1";
    let cases: [(&[(&str, &str)], &str); 6] = [
        (
            &[("NATS_TLS_CERT", path(&missing))],
            "NATS_TLS_CERT is set without NATS_TLS_KEY",
        ),
        (
            &[("NATS_TLS_KEY", path(&missing))],
            "NATS_TLS_KEY is set without NATS_TLS_CERT",
        ),
        (
            &[("NATS_TLS_CA", path(&missing))],
            "NATS_TLS_CA: cannot read",
        ),
        (&[("NATS_NKEY_SEED", path(&not_a_seed))], "NATS_NKEY_SEED: "),
        (&[("NATS_CREDS", path(&missing))], "NATS_CREDS: cannot read"),
        (
            &[("NATS_STORE_KEY", "k")],
            "NATS_STORE_KEY applies to the local nats-server only",
        ),
    ];
    for (settings, expected) in cases {
        let mut all = vec![("NATS_URL", url)];
        all.extend_from_slice(settings);
        assert_refused(run_to_exit(&["serve"], &all), expected);
        assert_refused(run_to_exit(&["tail"], &all), expected);
    }
}

/// Sends a message through a node with its own nats-server (no NATS_URL) and returns whether its
/// text is anywhere in the files under DATA_DIR/nats.
async fn text_in_local_store(store_key: Option<&str>) -> bool {
    let mut extra = vec![];
    if let Some(key) = store_key {
        extra.push(("NATS_STORE_KEY".to_string(), key.to_string()));
    }
    let mut app = App::spawn_with(
        "",
        AppOptions {
            extra_env: extra,
            ..Default::default()
        },
    );
    app.wait_ready().await;
    let text = format!("findable-{}", ulid::Ulid::new());
    round_trip(&app, &text).await;
    assert!(app.terminate().success(), "{}", app.log());
    let files = files_under(&app.data_dir().join("nats"));
    assert!(
        files
            .iter()
            .any(|f| f.to_string_lossy().contains("CONCIERGE")),
        "no stream files under DATA_DIR/nats: {files:?}"
    );
    files.iter().any(|f| {
        std::fs::read(f)
            .map(|bytes| bytes.windows(text.len()).any(|w| w == text.as_bytes()))
            .unwrap_or(false)
    })
}

#[tokio::test]
async fn nats_store_key_encrypts_the_local_store() {
    assert!(
        text_in_local_store(None).await,
        "without NATS_STORE_KEY the message should be in the store in clear"
    );
    assert!(
        // Quotes, `#` and digits: nats-server reads the key as a value of its configuration
        // language, so the node must quote it.
        !text_in_local_store(Some(r#"12345 "store key" # not a comment"#)).await,
        "with NATS_STORE_KEY the message is in the store in clear"
    );
}
