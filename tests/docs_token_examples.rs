//! The token-minting examples of docs/api.md ("Minting tokens in the booking platform's back end"):
//! the Node.js and Python blocks are taken from the doc as written, run with `node` and `python3`,
//! and the tokens they print are used against a real server. Both interpreters are required: a
//! missing one fails the test (the doc would otherwise go unchecked).

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::Path;
use std::process::Command;

/// The marker line that opens each example's fenced block in docs/api.md.
const JS_FENCE: &str = "```js title=\"mint-token.js\"";
const PY_FENCE: &str = "```python title=\"mint_token.py\"";

/// The body of the one fenced block opened by `fence` in docs/api.md.
fn block(fence: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/api.md");
    let doc = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let opened: Vec<_> = doc.match_indices(fence).collect();
    assert_eq!(
        opened.len(),
        1,
        "docs/api.md must have exactly one block opened by {fence}"
    );
    let rest = &doc[opened[0].0 + fence.len()..];
    let rest = rest.strip_prefix('\n').expect("the fence line ends there");
    let end = rest
        .find("\n```")
        .unwrap_or_else(|| panic!("the block opened by {fence} is not closed"));
    rest[..=end].to_string()
}

/// Panics with a clear message unless `tool` runs.
fn require(tool: &str) {
    let ran = Command::new(tool).arg("--version").output();
    assert!(
        ran.as_ref().is_ok_and(|o| o.status.success()),
        "`{tool}` is required to check the token examples of docs/api.md, and it did not run \
         ({ran:?}); install it and put it on PATH"
    );
}

/// An example program, written out from the doc, run by its interpreter.
struct Example {
    interpreter: &'static str,
    file: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl Example {
    fn from_doc(fence: &str, interpreter: &'static str, name: &str) -> Example {
        require(interpreter);
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join(name);
        std::fs::write(&file, block(fence)).expect("write the example");
        Example {
            interpreter,
            file,
            _dir: dir,
        }
    }

    /// Runs the example with only `vars` (and PATH) in its environment; returns the token it printed.
    fn mint(&self, vars: &[(&str, &str)]) -> String {
        let mut cmd = Command::new(self.interpreter);
        cmd.arg(&self.file).env_clear();
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", self.interpreter));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{} {} failed ({}):\n{}{}",
            self.interpreter,
            self.file.display(),
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
        let token = stdout.trim().to_string();
        assert_eq!(
            token.split('.').count(),
            3,
            "{} printed {stdout:?}, not one JWT",
            self.interpreter
        );
        token
    }
}

/// The claims of a token signed with the harness secret (the signature is checked too).
fn claims(token: &str) -> Value {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.set_required_spec_claims(&["exp", "sub"]);
    jsonwebtoken::decode::<Value>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(JWT_SECRET.as_bytes()),
        &validation,
    )
    .expect("a valid HS256 token signed with the secret")
    .claims
}

/// The claims `concierge token` signs for the same user.
fn cli_claims(args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_concierge"))
        .arg("token")
        .args(args)
        .env("JWT_SECRET", JWT_SECRET)
        .output()
        .expect("run concierge token");
    assert!(out.status.success(), "concierge token failed: {out:?}");
    claims(String::from_utf8_lossy(&out.stdout).trim())
}

/// `claims` without `exp`, which differs by the seconds between two mints.
fn without_exp(mut claims: Value) -> Value {
    let exp = claims["exp"].as_u64().expect("exp is an integer");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        (now + 3590..=now + 3610).contains(&exp),
        "exp {exp} is not an hour from now ({now}): {claims}"
    );
    claims.as_object_mut().unwrap().remove("exp");
    claims
}

async fn check(example: &Example) {
    let env = TestEnv::start().await;
    let app = &env.app;

    // A customer token: the claims `concierge token` signs, accepted by the server.
    let ann = example.mint(&[
        ("JWT_SECRET", JWT_SECRET),
        ("CONCIERGE_SUB", "cus_7"),
        ("CONCIERGE_NAME", "Ann"),
        ("CONCIERGE_BOOKINGS", "bk_1042,bk_1043"),
    ]);
    assert_eq!(
        without_exp(claims(&ann)),
        without_exp(cli_claims(&[
            "--sub",
            "cus_7",
            "--role",
            "customer",
            "--name",
            "Ann",
            "--bookings",
            "bk_1042,bk_1043",
        ]))
    );
    let list = data(get(&app.url("/messaging/conversations"), &ann).await, 200);
    assert_eq!(list["conversations"], json!([]));
    // Its `bookings` claim makes bk_1042 Ann's, and its `name` is the one she joins with.
    let conv = data(
        get(&app.url("/messaging/conversations/booking/bk_1042"), &ann).await,
        201,
    );
    assert_eq!(conv["participants"][0]["userId"], json!("cus_7"));
    assert_eq!(conv["participants"][0]["name"], json!("Ann"));
    // A customer token has no admin access.
    error(
        get(&app.url("/messaging/stats"), &ann).await,
        403,
        "forbidden",
    );

    // An admin token: admin access (stats are admins' and services' only).
    let bo = example.mint(&[
        ("JWT_SECRET", JWT_SECRET),
        ("CONCIERGE_SUB", "adm_2"),
        ("CONCIERGE_ROLE", "admin"),
    ]);
    assert_eq!(
        without_exp(claims(&bo)),
        without_exp(cli_claims(&["--sub", "adm_2", "--role", "admin"]))
    );
    let stats = data(get(&app.url("/messaging/stats"), &bo).await, 200);
    assert_eq!(stats["totalConversations"], json!(1));

    // Signed with another secret: exactly 401 `unauthorized`.
    let forged = example.mint(&[
        ("JWT_SECRET", "not-the-secret"),
        ("CONCIERGE_SUB", "adm_2"),
        ("CONCIERGE_ROLE", "admin"),
    ]);
    let message = error(
        get(&app.url("/messaging/stats"), &forged).await,
        401,
        "unauthorized",
    );
    assert!(message.contains("invalid token"), "{message}");
}

#[tokio::test]
async fn the_node_example_mints_tokens_the_server_accepts() {
    check(&Example::from_doc(JS_FENCE, "node", "mint-token.js")).await;
}

#[tokio::test]
async fn the_python_example_mints_tokens_the_server_accepts() {
    check(&Example::from_doc(PY_FENCE, "python3", "mint_token.py")).await;
}
