//! The web UI's own checks, run from `cargo test` so that nothing lands untested: its unit tests
//! (vitest, among them the check that `ui/src/api/schema.d.ts` is what `npm run gen:api` generates
//! from `docs/openapi.json`), a fresh build compared byte for byte with the committed `ui/dist`
//! (which the binary embeds; its `tsc` checks the UI against those generated types), and the
//! browser suite (`ui/e2e/`, playwright-core driving Chromium against real `concierge serve`
//! processes).
//!
//! Needs `node` and `npm` on PATH and, for the browser suite, `/usr/bin/chromium` (Debian:
//! `apt-get install -y nodejs npm chromium`); runs `npm ci` in `ui/` first when its
//! `node_modules` is missing or predates a dependency. A missing tool fails the test with the
//! command that installs it. The three tests run one at a time: each of them keeps both cores of a
//! small machine busy.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::ErrorKind;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

const NODE_HINT: &str = "install Node.js and npm to run this test (Debian: \
    `apt-get install -y nodejs npm`; the README's first command does it)";
const CHROMIUM: &str = "/usr/bin/chromium";
const UNIT_DEADLINE: Duration = Duration::from_secs(5 * 60);
const BUILD_DEADLINE: Duration = Duration::from_secs(5 * 60);
const BROWSER_DEADLINE: Duration = Duration::from_secs(10 * 60);
const NPM_CI_DEADLINE: Duration = Duration::from_secs(10 * 60);

fn ui_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("ui")
}

/// Held by each test for its whole run: the first to take it also installs the dependencies.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Fails (never skips) without `node`; installs the locked dependencies when missing.
fn ensure_node_and_deps(dir: &Path) {
    let version = match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        Ok(out) => panic!("`node --version` failed ({}): {NODE_HINT}", out.status),
        Err(e) if e.kind() == ErrorKind::NotFound => panic!("`node` is not on PATH: {NODE_HINT}"),
        Err(e) => panic!("cannot run `node`: {e}: {NODE_HINT}"),
    };
    assert!(
        node_runs_vite(&version),
        "Node.js {version} is too old for ui/'s Vite (it needs 20.19+ or 22.12+): {NODE_HINT}"
    );
    // A file of each dependency added since the first: a `node_modules` installed before one was
    // lacks it and is installed again. openapi-typescript (the generator of src/api/schema.d.ts) is
    // nested in tools/openapi with the TypeScript 5 it needs; ui/ itself builds with TypeScript 7.
    let installed = [
        "node_modules/vite/package.json",
        "node_modules/openapi-fetch/package.json",
        "tools/openapi/node_modules/openapi-typescript/package.json",
    ];
    if installed.iter().all(|file| dir.join(file).exists()) {
        return;
    }
    let mut npm = Command::new("npm");
    npm.args(["ci", "--no-audit", "--no-fund"]).current_dir(dir);
    let run = run(npm, NPM_CI_DEADLINE, "npm ci");
    assert!(
        run.status.success(),
        "`npm ci` in {} failed ({}):\n{}",
        dir.display(),
        run.status,
        run.transcript()
    );
}

/// Vite's `engines`: `^20.19.0 || >=22.12.0`, from `node --version`'s `v20.19.0`.
fn node_runs_vite(version: &str) -> bool {
    let mut parts = version.trim_start_matches('v').split('.');
    let mut next = || {
        parts
            .next()
            .and_then(|p| p.parse::<u32>().ok())
            .unwrap_or(0)
    };
    let (major, minor) = (next(), next());
    (major == 20 && minor >= 19) || (major == 22 && minor >= 12) || major > 22
}

/// What a finished command printed.
struct Ran {
    status: ExitStatus,
    what: &'static str,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn transcript(&self) -> String {
        format!(
            "----- {0} stdout -----\n{1}\n----- {0} stderr -----\n{2}\n----- end -----",
            self.what, self.stdout, self.stderr
        )
    }
}

/// Runs `cmd` in a process group of its own with its output in files; past `deadline` the whole
/// group (npm, its shell and the Node processes under it) is killed and the test fails.
fn run(mut cmd: Command, deadline: Duration, what: &'static str) -> Ran {
    let out_dir = tempfile::tempdir().expect("tempdir");
    let (out, err) = (out_dir.path().join("stdout"), out_dir.path().join("stderr"));
    let mut child = cmd
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(File::create(&out).expect("stdout file"))
        .stderr(File::create(&err).expect("stderr file"))
        .spawn()
        .unwrap_or_else(|e| match e.kind() {
            ErrorKind::NotFound => panic!("cannot run {what}: not on PATH: {NODE_HINT}"),
            _ => panic!("cannot run {what}: {e}"),
        });
    let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Ran {
                status,
                what,
                stdout: read(&out),
                stderr: read(&err),
            };
        }
        if started.elapsed() > deadline {
            // SAFETY: kill(2) on the process group of a child we spawned and have not reaped.
            unsafe { libc::kill(-(child.id() as libc::pid_t), libc::SIGKILL) };
            let _ = child.wait();
            panic!(
                "{what} did not finish within {deadline:?}; killed.\n----- stdout -----\n{}\n----- stderr -----\n{}",
                read(&out),
                read(&err)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The files under `dir`, relative to it, with `/` separators.
fn files_under(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display()));
        for entry in entries {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap();
                found.insert(rel.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    found
}

/// `nats-server` on PATH, else Debian's `/usr/sbin/nats-server`.
fn nats_server() -> PathBuf {
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("nats-server"))
            .find(|p| p.is_file())
    });
    on_path
        .or_else(|| Some(PathBuf::from("/usr/sbin/nats-server")).filter(|p| p.is_file()))
        .unwrap_or_else(|| {
            panic!(
                "nats-server is neither on PATH nor in /usr/sbin: `apt-get install -y nats-server`"
            )
        })
}

#[test]
fn ui_unit_tests_pass() {
    let _turn = one_at_a_time();
    let dir = ui_dir();
    ensure_node_and_deps(&dir);
    let mut npm = Command::new("npm");
    npm.arg("test").current_dir(&dir);
    let ran = run(npm, UNIT_DEADLINE, "npm test");
    assert!(
        ran.status.success(),
        "the UI's unit tests failed ({}):\n{}",
        ran.status,
        ran.transcript()
    );
}

#[test]
fn built_assets_are_in_step_with_their_sources() {
    let _turn = one_at_a_time();
    let dir = ui_dir();
    ensure_node_and_deps(&dir);
    let out = tempfile::Builder::new()
        .prefix("concierge-ui-build-")
        .tempdir()
        .expect("tempdir");
    let mut npm = Command::new("npm");
    npm.args(["run", "build"])
        .env("UI_OUT_DIR", out.path())
        .current_dir(&dir);
    let ran = run(npm, BUILD_DEADLINE, "npm run build");
    assert!(
        ran.status.success(),
        "`npm run build` failed ({}):\n{}",
        ran.status,
        ran.transcript()
    );

    let committed_dir = dir.join("dist");
    let built = files_under(out.path());
    let committed = files_under(&committed_dir);
    assert!(
        !built.is_empty(),
        "`npm run build` wrote nothing to UI_OUT_DIR"
    );
    let mut problems = Vec::new();
    for name in built.difference(&committed) {
        problems.push(format!("missing from ui/dist: {name}"));
    }
    for name in committed.difference(&built) {
        problems.push(format!("in ui/dist but no longer built: {name}"));
    }
    for name in built.intersection(&committed) {
        let a = std::fs::read(out.path().join(name)).expect("read the fresh build");
        let b = std::fs::read(committed_dir.join(name)).expect("read ui/dist");
        if a != b {
            problems.push(format!("differs from a fresh build: ui/dist/{name}"));
        }
    }
    assert!(
        problems.is_empty(),
        "ui/dist (embedded in the binary) is not what ui/'s sources build:\n  {}\n\
         Fix: `cd ui && npm run build`, then commit ui/dist.",
        problems.join("\n  ")
    );
}

#[test]
fn browser_suite_passes() {
    let _turn = one_at_a_time();
    let dir = ui_dir();
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: the browser tests drive Chromium (Debian: \
         `apt-get install -y chromium`; the README's first command does it)"
    );
    ensure_node_and_deps(&dir);
    // Each file by name: from Node.js 21 on, a folder argument to `--test` is read as a file pattern.
    let mut files: Vec<String> = std::fs::read_dir(dir.join("e2e"))
        .expect("ui/e2e is there")
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".test.mjs"))
        .map(|name| format!("e2e/{name}"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "ui/e2e holds no *.test.mjs");
    let mut node = Command::new("node");
    node.args(["--test", "--test-concurrency=1"])
        .args(&files)
        .env("CONCIERGE_BIN", env!("CARGO_BIN_EXE_concierge"))
        .env("NATS_SERVER", nats_server())
        .env("CHROMIUM", CHROMIUM)
        .current_dir(&dir);
    let ran = run(node, BROWSER_DEADLINE, "node --test e2e/");
    assert!(
        ran.status.success(),
        "the browser suite failed ({}):\n{}",
        ran.status,
        ran.transcript()
    );
}
