//! How a node reaches NATS: credentials (a user and password or a token in `NATS_URL`, a creds file,
//! an nkey seed), TLS (a CA, a client certificate for mutual TLS) and a first, bounded attempt that
//! tells a NATS that refused us (fatal at start) from one that is not there yet (retried forever).
//!
//! Credentials never reach a log line: they are taken out of `NATS_URL` when the settings are
//! checked, and only the URL without them is logged or handed to the client.

use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long the first attempt at start may take before NATS counts as not reachable yet.
const FIRST_ATTEMPT: Duration = Duration::from_secs(5);

/// The NATS settings beside `NATS_URL`, shared by `serve` and the operator commands.
#[derive(Debug, Clone, Default, Args)]
pub struct NatsArgs {
    /// A NATS credentials file (a user JWT and its nkey seed, as `nsc` writes it).
    #[arg(long, env = "NATS_CREDS")]
    pub nats_creds: Option<PathBuf>,
    /// A file holding the nkey seed (`SU…`) of a NATS user configured by its public key.
    #[arg(long, env = "NATS_NKEY_SEED")]
    pub nats_nkey_seed: Option<PathBuf>,
    /// CA certificates (PEM) NATS's certificate must chain to; setting it makes TLS required.
    #[arg(long, env = "NATS_TLS_CA")]
    pub nats_tls_ca: Option<PathBuf>,
    /// Client certificate (PEM) for a NATS that verifies clients (mutual TLS); needs NATS_TLS_KEY.
    #[arg(long, env = "NATS_TLS_CERT")]
    pub nats_tls_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM); needs NATS_TLS_CERT.
    #[arg(long, env = "NATS_TLS_KEY")]
    pub nats_tls_key: Option<PathBuf>,
    /// Encrypts the local nats-server's JetStream store (ChaCha20-Poly1305) with this key; only
    /// without NATS_URL. Prefer the environment: a flag is visible in the process list.
    #[arg(long, env = "NATS_STORE_KEY", hide_env_values = true)]
    pub nats_store_key: Option<String>,
}

/// A NATS setting that makes the node refuse to start; the message names the setting.
#[derive(Debug, thiserror::Error)]
pub enum NatsConfigError {
    #[error("{setting}: cannot read {}: {source}", path.display())]
    Unreadable {
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
    #[error(
        "{0} is set without {1}: a client certificate needs both NATS_TLS_CERT and NATS_TLS_KEY"
    )]
    HalfClientCertificate(&'static str, &'static str),
    #[error("{0} and {1} are both set: use one way of authenticating to NATS")]
    TwoCredentials(&'static str, &'static str),
    #[error("NATS_URL: every server must carry the same user and password or token, or none")]
    MixedUrlCredentials,
    #[error("NATS_STORE_KEY is empty or holds control characters")]
    BadStoreKey,
    #[error("NATS_STORE_KEY applies to the local nats-server only (NATS_URL unset): with NATS_URL, configure `cipher` and `key` in that NATS's jetstream block")]
    StoreKeyWithUrl,
    #[error("NATS_STORE_KEY is set but NATS_CONF {} does not use it: put `key: $NATS_STORE_KEY` (and `cipher: chachapoly`) in its jetstream block", .0.display())]
    StoreKeyNotInConf(PathBuf),
}

/// How the node authenticates to NATS.
#[derive(Clone, Default)]
enum Auth {
    #[default]
    None,
    UserPassword(String, String),
    Token(String),
    /// The contents of a creds file.
    Creds(String),
    NkeySeed(String),
}

impl Auth {
    /// The setting a refusal of these credentials is blamed on.
    fn setting(&self) -> &'static str {
        match self {
            Auth::None => "none were given: set NATS_CREDS, NATS_NKEY_SEED, or a user and password or a token in NATS_URL",
            Auth::UserPassword(..) => "the user and password in NATS_URL",
            Auth::Token(_) => "the token in NATS_URL",
            Auth::Creds(_) => "NATS_CREDS",
            Auth::NkeySeed(_) => "NATS_NKEY_SEED",
        }
    }
}

/// The checked NATS settings: read and parsed at start, so a broken file stops the node there.
#[derive(Clone, Default)]
pub struct NatsSecurity {
    auth: Auth,
    tls_ca: Option<PathBuf>,
    client_cert: Option<(PathBuf, PathBuf)>,
    /// The key of the local nats-server's store (`NATS_STORE_KEY`).
    pub store_key: Option<String>,
}

impl std::fmt::Debug for NatsSecurity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsSecurity")
            .field("auth", &self.auth.setting())
            .field("tls_ca", &self.tls_ca)
            .field("client_cert", &self.client_cert)
            .field("store_key", &self.store_key.as_ref().map(|_| "(set)"))
            .finish()
    }
}

impl NatsArgs {
    /// Checks the settings with `NATS_URL` (`None`: the local nats-server) and reads their files.
    /// Returns `NATS_URL` without its credentials, which move into the [`NatsSecurity`].
    ///
    /// # Errors
    /// A [`NatsConfigError`] naming the setting that is missing, unreadable or wrong.
    pub fn check(
        self,
        nats_url: Option<&str>,
        nats_conf: Option<&Path>,
    ) -> Result<(Option<String>, NatsSecurity), NatsConfigError> {
        let (url, url_auth) = match nats_url {
            Some(url) => {
                let (url, auth) = split_credentials(url)?;
                (Some(url), auth)
            }
            None => (None, Auth::None),
        };
        let mut auth = url_auth;
        let mut take = |new: Auth, setting: &'static str| {
            if !matches!(auth, Auth::None) {
                let old = match auth {
                    Auth::Creds(_) => "NATS_CREDS",
                    _ => "NATS_URL's credentials",
                };
                return Err(NatsConfigError::TwoCredentials(old, setting));
            }
            auth = new;
            Ok(())
        };
        if let Some(path) = &self.nats_creds {
            let creds = read("NATS_CREDS", path)?;
            async_nats::ConnectOptions::with_credentials(&creds).map_err(|e| {
                NatsConfigError::Invalid {
                    setting: "NATS_CREDS",
                    path: path.clone(),
                    why: format!("is not a NATS credentials file: {e}"),
                }
            })?;
            take(Auth::Creds(creds), "NATS_CREDS")?;
        }
        if let Some(path) = &self.nats_nkey_seed {
            let seed = read("NATS_NKEY_SEED", path)?.trim().to_string();
            nkeys::KeyPair::from_seed(&seed).map_err(|e| NatsConfigError::Invalid {
                setting: "NATS_NKEY_SEED",
                path: path.clone(),
                why: format!("does not hold an nkey seed: {e}"),
            })?;
            take(Auth::NkeySeed(seed), "NATS_NKEY_SEED")?;
        }
        if let Some(path) = &self.nats_tls_ca {
            if pem_certificates("NATS_TLS_CA", path)? == 0 {
                return Err(NatsConfigError::Invalid {
                    setting: "NATS_TLS_CA",
                    path: path.clone(),
                    why: "holds no PEM certificate".into(),
                });
            }
        }
        let client_cert = match (self.nats_tls_cert, self.nats_tls_key) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(NatsConfigError::HalfClientCertificate(
                    "NATS_TLS_CERT",
                    "NATS_TLS_KEY",
                ))
            }
            (None, Some(_)) => {
                return Err(NatsConfigError::HalfClientCertificate(
                    "NATS_TLS_KEY",
                    "NATS_TLS_CERT",
                ))
            }
            (Some(cert), Some(key)) => {
                if pem_certificates("NATS_TLS_CERT", &cert)? == 0 {
                    return Err(NatsConfigError::Invalid {
                        setting: "NATS_TLS_CERT",
                        path: cert,
                        why: "holds no PEM certificate".into(),
                    });
                }
                pem_private_key("NATS_TLS_KEY", &key)?;
                Some((cert, key))
            }
        };
        let store_key = self.nats_store_key;
        if let Some(key) = &store_key {
            if key.is_empty() || key.chars().any(char::is_control) {
                return Err(NatsConfigError::BadStoreKey);
            }
            if url.is_some() {
                return Err(NatsConfigError::StoreKeyWithUrl);
            }
            if let Some(conf) = nats_conf {
                if !read("NATS_CONF", conf)?.contains("$NATS_STORE_KEY") {
                    return Err(NatsConfigError::StoreKeyNotInConf(conf.to_path_buf()));
                }
            }
        }
        Ok((
            url,
            NatsSecurity {
                auth,
                tls_ca: self.nats_tls_ca,
                client_cert,
                store_key,
            },
        ))
    }
}

fn read(setting: &'static str, path: &Path) -> Result<String, NatsConfigError> {
    std::fs::read_to_string(path).map_err(|source| NatsConfigError::Unreadable {
        setting,
        path: path.to_path_buf(),
        source,
    })
}

/// How many PEM certificates the file holds.
pub(crate) fn pem_certificates(
    setting: &'static str,
    path: &Path,
) -> Result<usize, NatsConfigError> {
    let text = read(setting, path)?;
    rustls_pemfile::certs(&mut text.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map(|certs| certs.len())
        .map_err(|e| NatsConfigError::Invalid {
            setting,
            path: path.to_path_buf(),
            why: format!("is not PEM: {e}"),
        })
}

fn pem_private_key(setting: &'static str, path: &Path) -> Result<(), NatsConfigError> {
    let text = read(setting, path)?;
    match rustls_pemfile::private_key(&mut text.as_bytes()) {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(NatsConfigError::Invalid {
            setting,
            path: path.to_path_buf(),
            why: "holds no PEM private key".into(),
        }),
        Err(e) => Err(NatsConfigError::Invalid {
            setting,
            path: path.to_path_buf(),
            why: format!("is not PEM: {e}"),
        }),
    }
}

/// `NATS_URL` without the credentials of its servers, and those credentials: `user:password@` or
/// `token@` (percent-encoded as in any URL).
fn split_credentials(url: &str) -> Result<(String, Auth), NatsConfigError> {
    let mut servers = Vec::new();
    let mut found: Option<String> = None;
    let mut without = 0;
    for server in url.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (scheme, rest) = match server.find("://") {
            Some(i) => (&server[..i + 3], &server[i + 3..]),
            None => ("", server),
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        match rest[..authority_end].rfind('@') {
            Some(at) => {
                let userinfo = &rest[..at];
                if found.as_deref().is_some_and(|f| f != userinfo) {
                    return Err(NatsConfigError::MixedUrlCredentials);
                }
                found = Some(userinfo.to_string());
                servers.push(format!("{scheme}{}", &rest[at + 1..]));
            }
            None => {
                without += 1;
                servers.push(server.to_string());
            }
        }
    }
    let auth = match found {
        None => Auth::None,
        Some(_) if without > 0 => return Err(NatsConfigError::MixedUrlCredentials),
        Some(userinfo) => match userinfo.split_once(':') {
            Some((user, pass)) => Auth::UserPassword(percent_decode(user), percent_decode(pass)),
            None => Auth::Token(percent_decode(&userinfo)),
        },
    };
    Ok((servers.join(","), auth))
}

/// Decodes `%XX` escapes; anything else is kept as written.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// NATS refused this node at start: its credentials or TLS. The node exits with status 2.
#[derive(Debug, thiserror::Error)]
pub enum NatsRejected {
    /// NATS refused the credentials; `setting` names where they came from.
    #[error("NATS refused to authenticate this node; credentials: {setting}")]
    Credentials {
        setting: &'static str,
        #[source]
        source: async_nats::ConnectError,
    },
    /// The TLS handshake with NATS failed, or TLS could not be set up; `hint` says which setting
    /// to look at.
    #[error("TLS with NATS failed: {hint}")]
    Tls {
        hint: &'static str,
        #[source]
        source: async_nats::ConnectError,
    },
    /// `NATS_URL` is not a list of NATS addresses.
    #[error("NATS_URL is not a valid NATS address")]
    Url(#[source] async_nats::ConnectError),
}

/// What a failed first attempt means.
enum Failure {
    Rejected(NatsRejected),
    /// Refused, unreachable, timed out: NATS may come up later.
    Unreachable(async_nats::ConnectError),
}

/// If `e` is a failure of TLS, which settings to look at.
fn tls_failure(e: &async_nats::ConnectError) -> Option<&'static str> {
    let mut rustls_error = None;
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<rustls::Error>() {
            rustls_error = Some(r);
            break;
        }
        if let Some(r) = s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            rustls_error = Some(r);
            break;
        }
        source = s.source();
    }
    use rustls::AlertDescription as Alert;
    match rustls_error {
        Some(rustls::Error::InvalidCertificate(_)) => Some(
            "NATS's certificate is not trusted: set NATS_TLS_CA to the CA certificate that signed it",
        ),
        Some(rustls::Error::AlertReceived(
            Alert::BadCertificate
            | Alert::CertificateRequired
            | Alert::UnknownCA
            | Alert::CertificateUnknown,
        )) => Some(
            "NATS did not accept this node's client certificate, or wants one: set NATS_TLS_CERT and NATS_TLS_KEY to a certificate signed by a CA NATS trusts",
        ),
        Some(_) => Some(TLS_SETTINGS),
        None if e.kind() == async_nats::ConnectErrorKind::Tls => Some(TLS_SETTINGS),
        None => None,
    }
}

const TLS_SETTINGS: &str =
    "check NATS_TLS_CA, and NATS_TLS_CERT and NATS_TLS_KEY if NATS verifies clients";

/// `e` and its causes, as one line (`a: b: c`).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl NatsSecurity {
    /// Client options with these credentials and TLS settings.
    pub(crate) fn options(&self) -> async_nats::ConnectOptions {
        let mut options = async_nats::ConnectOptions::new();
        options = match &self.auth {
            Auth::None => options,
            Auth::UserPassword(user, pass) => options.user_and_password(user.clone(), pass.clone()),
            Auth::Token(token) => options.token(token.clone()),
            Auth::Creds(creds) => match options.credentials(creds) {
                Ok(o) => o,
                // Parsed when the settings were checked; a file cannot change in memory.
                Err(_) => async_nats::ConnectOptions::new(),
            },
            Auth::NkeySeed(seed) => options.nkey(seed.clone()),
        };
        if let Some(ca) = &self.tls_ca {
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let Some((cert, key)) = &self.client_cert {
            options = options.add_client_certificate(cert.clone(), key.clone());
        }
        options
    }

    /// Connects to `servers` (already without credentials): one bounded attempt first, which
    /// fails when NATS refuses the credentials or TLS; if NATS is merely not reachable, a client
    /// that keeps trying in the background. `configure` adds the caller's options (events,
    /// reconnect policy) to both.
    ///
    /// # Errors
    /// [`NatsRejected`] when NATS refused the credentials or TLS failed.
    pub(crate) async fn connect(
        &self,
        servers: &[&str],
        configure: impl Fn(async_nats::ConnectOptions) -> async_nats::ConnectOptions,
    ) -> Result<async_nats::Client, NatsRejected> {
        let first = tokio::time::timeout(
            FIRST_ATTEMPT,
            configure(self.options()).connect(servers.to_vec()),
        )
        .await;
        let failure = match first {
            Ok(Ok(client)) => return Ok(client),
            Ok(Err(e)) => self.classify(e),
            Err(_) => {
                tracing::warn!(
                    "NATS did not answer within {FIRST_ATTEMPT:?}; retrying in the background"
                );
                return self.connect_later(servers, &configure).await;
            }
        };
        match failure {
            Failure::Rejected(r) => Err(r),
            Failure::Unreachable(e) => {
                tracing::warn!(error = %chain(&e), servers = %servers.join(","), "NATS is not reachable yet; retrying in the background");
                self.connect_later(servers, &configure).await
            }
        }
    }

    async fn connect_later(
        &self,
        servers: &[&str],
        configure: &impl Fn(async_nats::ConnectOptions) -> async_nats::ConnectOptions,
    ) -> Result<async_nats::Client, NatsRejected> {
        configure(self.options())
            .retry_on_initial_connect()
            .connect(servers.to_vec())
            .await
            // With retry_on_initial_connect, connect only fails on an address it cannot parse,
            // which the first attempt has reported already.
            .map_err(NatsRejected::Url)
    }

    fn classify(&self, e: async_nats::ConnectError) -> Failure {
        use async_nats::ConnectErrorKind as Kind;
        if let Some(hint) = tls_failure(&e) {
            return Failure::Rejected(NatsRejected::Tls { hint, source: e });
        }
        match e.kind() {
            Kind::Authentication | Kind::AuthorizationViolation => {
                Failure::Rejected(NatsRejected::Credentials {
                    setting: self.auth.setting(),
                    source: e,
                })
            }
            Kind::ServerParse => Failure::Rejected(NatsRejected::Url(e)),
            _ => Failure::Unreachable(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(url: &str) -> (String, String) {
        let (url, auth) = split_credentials(url).unwrap();
        let auth = match auth {
            Auth::None => "none".to_string(),
            Auth::UserPassword(u, p) => format!("user {u} pass {p}"),
            Auth::Token(t) => format!("token {t}"),
            _ => unreachable!(),
        };
        (url, auth)
    }

    #[test]
    fn credentials_are_taken_out_of_the_url() {
        assert_eq!(
            split("nats://alice:s%40cret@127.0.0.1:4222"),
            (
                "nats://127.0.0.1:4222".into(),
                "user alice pass s@cret".into()
            )
        );
        assert_eq!(
            split("tls://t0ken@a:1, tls://t0ken@b:2"),
            ("tls://a:1,tls://b:2".into(), "token t0ken".into())
        );
        assert_eq!(
            split("nats://127.0.0.1:4222"),
            ("nats://127.0.0.1:4222".into(), "none".into())
        );
        assert_eq!(split("a@h:1"), ("h:1".into(), "token a".into()));
    }

    #[test]
    fn servers_with_different_credentials_are_refused() {
        assert!(matches!(
            split_credentials("nats://a:b@h:1,nats://h:2"),
            Err(NatsConfigError::MixedUrlCredentials)
        ));
        assert!(matches!(
            split_credentials("nats://a:b@h:1,nats://a:c@h:2"),
            Err(NatsConfigError::MixedUrlCredentials)
        ));
    }

    #[test]
    fn percent_escapes_are_decoded() {
        assert_eq!(percent_decode("a%3Ab%2"), "a:b%2");
        assert_eq!(percent_decode("%"), "%");
    }
}
