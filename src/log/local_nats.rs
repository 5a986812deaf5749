//! A `nats-server` of the node's own, for `concierge serve` without `NATS_URL`: started from PATH with
//! the repo's `nats.conf`, on a free port, with its store under `DATA_DIR`; restarted if it dies;
//! stopped (SIGTERM, then SIGKILL) when the node exits. With `NATS_STORE_KEY` its JetStream store
//! is encrypted: the key reaches nats-server through its environment (the configuration says
//! `key: $NATS_STORE_KEY`), never through a file or the command line.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The repo's `nats.conf`, built in so the binary runs from any directory.
const NATS_CONF: &str = include_str!("../../nats.conf");

#[derive(Debug, thiserror::Error)]
pub enum LocalNatsError {
    #[error(
        "NATS_URL is not set and nats-server is not on PATH: install it (Debian/Ubuntu: `sudo apt-get install -y nats-server`, which puts it in /usr/sbin: add that to PATH if it is not there) or set NATS_URL to a NATS server with JetStream"
    )]
    Missing,
    #[error("could not prepare the local nats-server: {0}")]
    Io(#[from] std::io::Error),
    #[error("the local nats-server did not accept connections on port {0} within 10 s")]
    NotListening(u16),
}

/// A running, supervised local nats-server.
pub struct LocalNats {
    port: u16,
    stop: watch::Sender<bool>,
    supervisor: JoinHandle<()>,
}

struct Launch {
    conf: PathBuf,
    store: PathBuf,
    port: u16,
    log: PathBuf,
    store_key: Option<String>,
}

/// `value` as a quoted string of nats-server's configuration language. nats-server parses an
/// environment variable's value as a value of that language: unquoted, a key like `12345` would be
/// a number, and one with `#` would be cut at it as a comment.
fn conf_string(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The built-in configuration, with JetStream's encryption when the store has a key: the key
/// itself stays in the environment.
fn built_in_conf(encrypted: bool) -> String {
    if encrypted {
        NATS_CONF.replacen(
            "jetstream {\n",
            "jetstream {\n  cipher: chachapoly\n  key: $NATS_STORE_KEY\n",
            1,
        )
    } else {
        NATS_CONF.to_string()
    }
}

impl Launch {
    fn spawn(&self) -> std::io::Result<Child> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)?;
        let mut command = Command::new("nats-server");
        match &self.store_key {
            Some(key) => command.env("NATS_STORE_KEY", conf_string(key)),
            None => command.env_remove("NATS_STORE_KEY"),
        };
        command
            .arg("-c")
            .arg(&self.conf)
            .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-sd"])
            .arg(&self.store)
            .stdout(std::process::Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
    }
}

impl LocalNats {
    /// Starts nats-server and waits until it accepts connections.
    ///
    /// # Errors
    /// [`LocalNatsError::Missing`] when nats-server is not installed; I/O errors preparing its folder.
    pub async fn start(
        data_dir: &Path,
        conf: Option<&Path>,
        store_key: Option<&str>,
    ) -> Result<LocalNats, LocalNatsError> {
        let dir = data_dir.join("nats");
        std::fs::create_dir_all(&dir)?;
        let conf = match conf {
            Some(c) => c.to_path_buf(),
            None => {
                let path = dir.join("nats.conf");
                std::fs::write(&path, built_in_conf(store_key.is_some()))?;
                path
            }
        };
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let launch = Launch {
            conf,
            store: dir.join("jetstream"),
            port,
            log: dir.join("nats-server.log"),
            store_key: store_key.map(str::to_string),
        };
        let mut child = launch.spawn().map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => LocalNatsError::Missing,
            _ => LocalNatsError::Io(e),
        })?;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            if tokio::time::Instant::now() > deadline || child.try_wait()?.is_some() {
                return Err(LocalNatsError::NotListening(port));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (stop, stopped) = watch::channel(false);
        let supervisor = tokio::spawn(supervise(launch, child, stopped));
        tracing::info!(
            port,
            encrypted = store_key.is_some(),
            "started local nats-server"
        );
        Ok(LocalNats {
            port,
            stop,
            supervisor,
        })
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops the server gracefully (SIGTERM, at most 5 s, then SIGKILL).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.supervisor.await;
    }
}

async fn supervise(launch: Launch, mut child: Child, mut stopped: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            status = child.wait() => {
                tracing::warn!(?status, "local nats-server exited; restarting it");
                tokio::time::sleep(Duration::from_millis(500)).await;
                match launch.spawn() {
                    Ok(c) => child = c,
                    Err(e) => {
                        tracing::error!(error = %e, "could not restart the local nats-server");
                        tokio::time::sleep(Duration::from_secs(2)).await;
                    }
                }
            }
            _ = stopped.changed() => {
                terminate(&mut child).await;
                return;
            }
        }
    }
}

async fn terminate(child: &mut Child) {
    if let Some(pid) = child.id() {
        // SAFETY: kill(2) with a pid we spawned and still own; no memory is touched.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGTERM);
        }
        if tokio::time::timeout(Duration::from_secs(5), child.wait())
            .await
            .is_ok()
        {
            return;
        }
    }
    let _ = child.kill().await;
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_encrypted_conf_names_the_key_by_its_variable() {
        let conf = super::built_in_conf(true);
        assert!(conf.contains("jetstream {\n  cipher: chachapoly\n  key: $NATS_STORE_KEY\n"));
        assert!(!super::built_in_conf(false).contains("\n  cipher:"));
    }

    #[test]
    fn the_key_is_passed_as_a_quoted_string() {
        assert_eq!(super::conf_string(r#"a "b" \ # 1"#), r#""a \"b\" \\ # 1""#);
    }
}
