//! A disposable JetStream nats-server per test: a free port, its store in a tempdir, killed on drop
//! (the root package's tests/common does the same; that harness is not reachable from this crate).

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const DEADLINE: Duration = Duration::from_secs(10);

pub struct Nats {
    child: Child,
    port: u16,
    dir: TempDir,
}

/// `nats-server` from PATH, else from /usr/sbin where Debian puts it.
fn binary() -> PathBuf {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join("nats-server"))
        .find(|candidate| candidate.is_file());
    on_path.unwrap_or_else(|| PathBuf::from("/usr/sbin/nats-server"))
}

impl Nats {
    /// Starts `nats-server -js` and waits until its port accepts connections.
    pub fn start() -> Nats {
        let dir = tempfile::Builder::new()
            .prefix("concierge-analytics-nats-")
            .tempdir()
            .expect("tempdir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = File::create(dir.path().join("nats.log")).expect("log file");
        let child = Command::new(binary())
            .args(["-js", "-a", "127.0.0.1", "-p"])
            .arg(port.to_string())
            .arg("-sd")
            .arg(dir.path().join("store"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log file"))
            .stderr(log)
            .spawn()
            .expect("spawn nats-server (install it: apt-get install nats-server)");
        let mut nats = Nats { child, port, dir };
        let deadline = Instant::now() + DEADLINE;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = nats.child.try_wait().expect("try_wait") {
                panic!("nats-server exited with {status}:\n{}", nats.log());
            }
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen within {DEADLINE:?}:\n{}",
                nats.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        nats
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nats.log")).unwrap_or_default()
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
