//! HTTPS without a proxy: with `TLS_CERT` and `TLS_KEY` the node's listener speaks TLS (rustls)
//! for HTTP, `/ws` and Socket.IO alike, and reads the certificate again when its files change, so
//! a renewed certificate needs no restart. A new certificate that cannot be used is logged and the
//! one in use is kept.

use clap::Args;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, Semaphore};
use tokio_rustls::server::TlsStream;

/// How often the certificate's files are checked for a change.
pub const RELOAD_POLL: Duration = Duration::from_secs(2);

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS handshakes in progress at once; more connections wait to be accepted.
const MAX_HANDSHAKES: usize = 1024;

/// The HTTPS settings of `serve`.
#[derive(Debug, Clone, Default, Args)]
pub struct TlsArgs {
    /// Certificate chain (PEM) to serve HTTPS with; needs TLS_KEY. Read again when it changes.
    #[arg(long, env = "TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM); needs TLS_CERT. Read again when it changes.
    #[arg(long, env = "TLS_KEY")]
    pub tls_key: Option<PathBuf>,
}

/// An HTTPS setting that makes the node refuse to start.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("{0} is set without {1}: HTTPS needs both TLS_CERT and TLS_KEY")]
    Half(&'static str, &'static str),
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// Why a certificate and key could not be used; the message names the setting.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{setting}: cannot read {}: {source}", path.display())]
    Read {
        setting: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{setting}: {} {why}", path.display())]
    Invalid {
        setting: &'static str,
        path: PathBuf,
        why: String,
    },
    #[error("TLS_CERT and TLS_KEY cannot be used together: {0}")]
    Mismatch(#[source] rustls::Error),
}

/// The certificate and key files HTTPS is served with.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TlsArgs {
    /// `None` for plain HTTP; the files when both are set and usable.
    ///
    /// # Errors
    /// When only one is set, or they cannot be read or used together.
    pub fn check(self) -> Result<Option<TlsFiles>, TlsConfigError> {
        match (self.tls_cert, self.tls_key) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(TlsConfigError::Half("TLS_CERT", "TLS_KEY")),
            (None, Some(_)) => Err(TlsConfigError::Half("TLS_KEY", "TLS_CERT")),
            (Some(cert), Some(key)) => {
                let files = TlsFiles { cert, key };
                files.load()?;
                Ok(Some(files))
            }
        }
    }
}

impl TlsFiles {
    /// Reads and checks the certificate chain and its key.
    ///
    /// # Errors
    /// A [`LoadError`] naming the file that cannot be read or used.
    pub fn load(&self) -> Result<CertifiedKey, LoadError> {
        let read = |setting, path: &Path| {
            std::fs::read(path).map_err(|source| LoadError::Read {
                setting,
                path: path.to_path_buf(),
                source,
            })
        };
        let invalid = |setting, path: &Path, why: String| LoadError::Invalid {
            setting,
            path: path.to_path_buf(),
            why,
        };
        let cert_pem = read("TLS_CERT", &self.cert)?;
        let certs = rustls_pemfile::certs(&mut cert_pem.as_slice())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| invalid("TLS_CERT", &self.cert, format!("is not PEM: {e}")))?;
        if certs.is_empty() {
            return Err(invalid(
                "TLS_CERT",
                &self.cert,
                "holds no PEM certificate".into(),
            ));
        }
        let key_pem = read("TLS_KEY", &self.key)?;
        let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
            .map_err(|e| invalid("TLS_KEY", &self.key, format!("is not PEM: {e}")))?
            .ok_or_else(|| invalid("TLS_KEY", &self.key, "holds no PEM private key".into()))?;
        let provider = rustls::crypto::ring::default_provider();
        CertifiedKey::from_der(certs, key, &provider).map_err(LoadError::Mismatch)
    }

    /// What changes when either file is replaced or rewritten.
    fn stamp(&self) -> Option<[(SystemTime, u64); 2]> {
        let of = |path: &Path| {
            let meta = std::fs::metadata(path).ok()?;
            Some((meta.modified().ok()?, meta.len()))
        };
        Some([of(&self.cert)?, of(&self.key)?])
    }
}

/// The certificate handed to every new connection; replaced when the files change.
#[derive(Debug)]
struct Current(RwLock<Arc<CertifiedKey>>);

impl ResolvesServerCert for Current {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.read().unwrap_or_else(|e| e.into_inner()).clone())
    }
}

/// A listener that accepts TCP connections, completes their TLS handshakes in tasks of their own
/// (a slow client holds up no one else) and hands axum the finished ones.
pub struct TlsListener {
    incoming: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Serves TLS with `files` on `listener`, checking the files every [`RELOAD_POLL`]. The
    /// accepting task ends when the listener is dropped.
    ///
    /// # Errors
    /// When the files cannot be used (they were checked at start, but may have changed since).
    pub fn new(listener: TcpListener, files: TlsFiles) -> std::io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let stamp = files.stamp();
        let first = files.load().map_err(std::io::Error::other)?;
        let current = Arc::new(Current(RwLock::new(Arc::new(first))));
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_cert_resolver(current.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let (tx, incoming) = mpsc::channel(64);
        tokio::spawn(accept(listener, acceptor, tx, files, stamp, current));
        Ok(TlsListener { incoming, local })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.incoming.recv().await {
            Some(accepted) => accepted,
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}

async fn accept(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
    files: TlsFiles,
    mut stamp: Option<[(SystemTime, u64); 2]>,
    current: Arc<Current>,
) {
    let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    let mut poll = tokio::time::interval(RELOAD_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tx.closed() => return,
            _ = poll.tick() => reload(&files, &mut stamp, &current),
            accepted = listener.accept() => {
                let (tcp, addr) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::debug!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let Ok(permit) = handshakes.clone().acquire_owned().await else { return };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let _permit = permit;
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, addr)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                    }
                });
            }
        }
    }
}

/// Loads the files again if they changed since `stamp`; a certificate that cannot be used is
/// logged and the one in use kept.
fn reload(files: &TlsFiles, stamp: &mut Option<[(SystemTime, u64); 2]>, current: &Current) {
    let now = files.stamp();
    if now == *stamp {
        return;
    }
    // Taken before reading: a write after it is seen at the next poll.
    *stamp = now;
    match files.load() {
        Ok(key) => {
            *current.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
            tracing::info!(cert = %files.cert.display(), "HTTPS certificate reloaded");
        }
        Err(e) => tracing::error!(
            error = %e,
            "the changed HTTPS certificate cannot be used; keeping the one in use"
        ),
    }
}
