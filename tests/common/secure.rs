//! For the tests of secured NATS and HTTPS: a certificate authority made up by the test (rcgen), a
//! nats-server started from a configuration the test writes, and running `concierge` to its exit.

use super::{free_port, log_file, read_log, POLL};
use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// A CA of the test's own, and the folder its files are written to.
pub struct Pki {
    pub dir: TempDir,
    ca: rcgen::Certificate,
    ca_key: KeyPair,
}

/// A certificate and its key, as PEM files.
#[derive(Clone, Debug)]
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
    pub serial: u64,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::Builder::new()
            .prefix("concierge-pki-")
            .tempdir()
            .expect("tempdir");
        let ca_key = KeyPair::generate().expect("CA key");
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "Concierge test CA");
        let ca = params.self_signed(&ca_key).expect("self-sign the CA");
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).expect("write ca.pem");
        Pki { dir, ca, ca_key }
    }

    /// The CA certificate's file.
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A server certificate for 127.0.0.1 and localhost named `name`, written as `name.pem` and
    /// `name.key`.
    pub fn server(&self, name: &str, serial: u64) -> Issued {
        self.issue(name, serial, ExtendedKeyUsagePurpose::ServerAuth)
    }

    /// A client certificate (for mutual TLS) named `name`.
    pub fn client(&self, name: &str) -> Issued {
        self.issue(name, 1, ExtendedKeyUsagePurpose::ClientAuth)
    }

    fn issue(&self, name: &str, serial: u64, usage: ExtendedKeyUsagePurpose) -> Issued {
        let key = KeyPair::generate().expect("key");
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
                .expect("params");
        params.distinguished_name.push(DnType::CommonName, name);
        params.serial_number = Some(serial.into());
        params.extended_key_usages = vec![usage];
        let cert = params
            .signed_by(&key, &self.ca, &self.ca_key)
            .expect("sign");
        let issued = Issued {
            cert: self.dir.path().join(format!("{name}.pem")),
            key: self.dir.path().join(format!("{name}.key")),
            serial,
        };
        std::fs::write(&issued.cert, cert.pem()).expect("write cert");
        std::fs::write(&issued.key, key.serialize_pem()).expect("write key");
        issued
    }
}

/// A nats-server (JetStream on) started with a configuration the test writes; `{port}` and
/// `{store}` in it are filled in.
pub struct ConfNats {
    child: Option<Child>,
    port: u16,
    dir: TempDir,
}

impl ConfNats {
    pub fn start(conf: &str) -> ConfNats {
        let dir = tempfile::Builder::new()
            .prefix("concierge-nats-")
            .tempdir()
            .expect("tempdir");
        let port = free_port();
        let store = dir.path().join("store");
        let conf = conf
            .replace("{port}", &port.to_string())
            .replace("{store}", &store.display().to_string());
        let conf_path = dir.path().join("nats.conf");
        std::fs::write(&conf_path, conf).expect("write nats.conf");
        let log = dir.path().join("nats.log");
        let child = Command::new("nats-server")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(log_file(&log))
            .stderr(log_file(&log))
            .spawn()
            .expect("spawn nats-server (is it on PATH?)");
        let mut nats = ConfNats {
            child: Some(child),
            port,
            dir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = nats.child.as_mut().unwrap().try_wait().expect("try_wait") {
                panic!("nats-server exited with {status}:\n{}", read_log(&log));
            }
            assert!(
                Instant::now() < deadline,
                "nats-server did not listen:\n{}",
                read_log(&log)
            );
            std::thread::sleep(POLL);
        }
        nats
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `nats://127.0.0.1:<port>`, with `userinfo@` when given.
    pub fn url(&self, userinfo: Option<&str>) -> String {
        match userinfo {
            Some(u) => format!("nats://{u}@127.0.0.1:{}", self.port),
            None => format!("nats://127.0.0.1:{}", self.port),
        }
    }

    pub fn log(&self) -> String {
        read_log(&self.dir.path().join("nats.log"))
    }
}

impl Drop for ConfNats {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs `concierge <args>` with `env` (and a JWT secret, a free port and a fresh DATA_DIR) until
/// it exits, at most 30 s; returns its status and everything it wrote.
pub fn run_to_exit(args: &[&str], env: &[(&str, &str)]) -> (ExitStatus, String) {
    let dir = tempfile::Builder::new()
        .prefix("concierge-run-")
        .tempdir()
        .expect("tempdir");
    let out = dir.path().join("out.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_concierge"));
    cmd.args(args)
        .env("PORT", free_port().to_string())
        .env("DATA_DIR", dir.path().join("data"))
        .env("JWT_SECRET", super::JWT_SECRET)
        .env("RUST_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(log_file(&out))
        .stderr(log_file(&out))
        .spawn()
        .expect("spawn concierge");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return (status, read_log(&out));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("concierge did not exit within 30 s:\n{}", read_log(&out));
        }
        std::thread::sleep(POLL);
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out
}
