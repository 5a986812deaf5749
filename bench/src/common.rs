//! What every scenario shares: the server's address, tokens, HTTP set-up calls, client sockets
//! (`/ws` or Socket.IO) bound to a loopback source address, histograms, and result rows.

use crate::codec::Codec;
use anyhow::{bail, Context as _, Result};
use clap::Args;
use futures::{stream, StreamExt};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// A client WebSocket over a plain TCP stream.
pub type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Where the server is and how to talk to it. Only loopback addresses are accepted, so a mistyped
/// flag can never send load anywhere else.
#[derive(Args, Clone, Debug)]
pub struct Target {
    /// The server's HTTP address (127.0.0.x only).
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,
    /// The server's JWT_SECRET, for minting tokens.
    #[arg(long, env = "JWT_SECRET")]
    pub secret: String,
    /// Spread client sockets over this many source addresses 127.0.0.1, 127.0.0.2, ...
    #[arg(long, default_value_t = 1)]
    pub sources: u8,
    /// Append result rows (JSON lines) to this file; they are printed to stdout too.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The protocol of the client sockets the scenario opens (`ws`: `/ws`; `socketio`:
    /// `/socket.io/` over the WebSocket transport).
    #[arg(long, value_enum, default_value_t = Codec::Ws)]
    pub codec: Codec,
}

impl Target {
    /// # Errors
    /// When the address is not 127.0.0.x.
    pub fn check(&self) -> Result<()> {
        check_loopback(self.addr.ip())
    }

    pub fn http(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// The source address of the `i`th client socket.
    pub fn source(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(127, 0, 0, 1 + (i % self.sources.max(1) as usize) as u8)
    }
}

/// # Errors
/// When `ip` is not in 127.0.0.0/24.
pub fn check_loopback(ip: IpAddr) -> Result<()> {
    match ip {
        IpAddr::V4(v4) if v4.octets()[..3] == [127, 0, 0] => Ok(()),
        other => bail!("refusing to send traffic to {other}: only 127.0.0.x is allowed"),
    }
}

/// # Errors
/// When the URL does not point at 127.0.0.x or localhost.
pub fn check_nats_url(url: &str) -> Result<()> {
    let host = url
        .trim_start_matches("nats://")
        .split(':')
        .next()
        .unwrap_or_default();
    if host == "localhost" {
        return Ok(());
    }
    check_loopback(host.parse().with_context(|| format!("NATS host {host}"))?)
}

/// The instant all embedded send times are measured from (one process, one clock).
pub fn base() -> Instant {
    static BASE: OnceLock<Instant> = OnceLock::new();
    *BASE.get_or_init(Instant::now)
}

/// Nanoseconds since [`base`].
pub fn now_ns() -> u64 {
    base().elapsed().as_nanos() as u64
}

/// A histogram of microseconds, 1 µs to 10 min at 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

pub fn ms(h: &Histogram<u64>, q: f64) -> f64 {
    h.value_at_quantile(q) as f64 / 1000.0
}

#[derive(Serialize)]
struct Claims<'a> {
    sub: &'a str,
    role: &'a str,
    exp: u64,
    name: &'a str,
}

/// An HS256 token for `sub`, valid for a day.
pub fn token(secret: &str, sub: &str, role: &str) -> String {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
        + 86_400;
    let claims = Claims {
        sub,
        role,
        exp,
        name: sub,
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("HS256 signing cannot fail")
}

/// A keep-alive HTTP client.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(1024)
        .tcp_nodelay(true)
        .build()
        .expect("HTTP client")
}

/// What a closed loop measured: the latency of each request per lane (the request's own answer:
/// scenario 10 has admins and customers), and the requests that failed (not timed).
pub struct Closed {
    pub lanes: Vec<Histogram<u64>>,
    pub errors: u64,
    pub secs: f64,
}

impl Closed {
    /// Every lane's latencies together.
    pub fn all(&self) -> Histogram<u64> {
        let mut h = histogram();
        for lane in &self.lanes {
            h.add(lane).expect("same bounds");
        }
        h
    }

    /// Timed requests per second.
    pub fn per_sec(&self) -> f64 {
        self.all().len() as f64 / self.secs
    }
}

/// Runs `clients` loops for `secs`, each awaiting one request at a time. Client `c`'s requests are
/// made by `client(c)`, called with how many requests that client made before; a request answers
/// the lane (`< lanes`) its latency is counted in, or `None` when it failed.
pub async fn closed_loop<M, C, F>(clients: usize, lanes: usize, secs: f64, client: M) -> Closed
where
    M: Fn(usize) -> C,
    C: FnMut(usize) -> F + Send + 'static,
    F: Future<Output = Option<usize>> + Send + 'static,
{
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let mut request = client(c);
            tokio::spawn(async move {
                let mut hs: Vec<Histogram<u64>> = (0..lanes).map(|_| histogram()).collect();
                let mut errors = 0u64;
                let mut k = 0;
                while Instant::now() < deadline {
                    let at = Instant::now();
                    match request(k).await {
                        Some(lane) => {
                            hs[lane].saturating_record((at.elapsed().as_micros() as u64).max(1))
                        }
                        None => errors += 1,
                    }
                    k += 1;
                }
                (hs, errors)
            })
        })
        .collect();
    let mut closed = Closed {
        lanes: (0..lanes).map(|_| histogram()).collect(),
        errors: 0,
        secs: 0.0,
    };
    for task in tasks {
        let (hs, errors) = task.await.expect("client task");
        for (all, h) in closed.lanes.iter_mut().zip(&hs) {
            all.add(h).expect("same bounds");
        }
        closed.errors += errors;
    }
    closed.secs = started.elapsed().as_secs_f64();
    closed
}

/// A booking registered to a customer, with its conversation.
#[derive(Clone, Debug)]
pub struct Conv {
    pub token: String,
    pub id: String,
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

/// Registers `n` bookings (as the platform) and opens each one's conversation (as its customer),
/// 32 at a time.
///
/// # Errors
/// When the server answers anything but 2xx.
pub async fn setup_conversations(t: &Target, n: usize) -> Result<Vec<Conv>> {
    let http = http_client();
    let service = token(&t.secret, "platform", "service");
    let results: Vec<Result<Conv>> = stream::iter(0..n)
        .map(|i| {
            let (http, service) = (http.clone(), service.clone());
            async move {
                let booking = format!("bk{i}");
                let customer = format!("cus{i}");
                let res = http
                    .put(t.http(&format!("/messaging/bookings/{booking}")))
                    .bearer_auth(&service)
                    .json(
                        &serde_json::json!({"customerId": customer, "title": format!("Bench {i}")}),
                    )
                    .send()
                    .await?;
                if !res.status().is_success() {
                    bail!("register {booking}: {}", res.status());
                }
                let tok = token(&t.secret, &customer, "customer");
                let res = http
                    .get(t.http(&format!("/messaging/conversations/booking/{booking}")))
                    .bearer_auth(&tok)
                    .send()
                    .await?;
                if !res.status().is_success() {
                    bail!("open {booking}: {}", res.status());
                }
                let conv: Envelope<IdOnly> = res.json().await?;
                Ok(Conv {
                    token: tok,
                    id: conv.data.id,
                })
            }
        })
        .buffered(32)
        .collect()
        .await;
    results.into_iter().collect()
}

/// Opens an authenticated client socket (`t.codec`) from source address `source`, and waits for
/// `authenticated`.
///
/// # Errors
/// When the connection, the upgrade or the authentication fails.
pub async fn connect(t: &Target, source: Ipv4Addr, tok: &str) -> Result<Ws> {
    let socket = TcpSocket::new_v4()?;
    socket
        .bind(SocketAddr::new(IpAddr::V4(source), 0))
        .with_context(|| format!("bind {source}"))?;
    let tcp = socket
        .connect(t.addr)
        .await
        .with_context(|| format!("connect from {source}"))?;
    tcp.set_nodelay(true)?;
    let url = t.codec.url(t.addr, tok);
    let (mut ws, _) = tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp)).await?;
    t.codec.handshake(&mut ws, tok).await?;
    Ok(ws)
}

/// CPU time (user + system, all threads) of process `pid`, or of this process when `None`, in
/// seconds: fields 14 and 15 of `/proc/<pid>/stat`, in USER_HZ ticks (100 per second on Linux).
///
/// # Errors
/// When the file cannot be read or parsed.
pub fn cpu_secs(pid: Option<u32>) -> Result<f64> {
    let path = pid.map_or("/proc/self/stat".to_string(), |p| format!("/proc/{p}/stat"));
    let stat = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
    // The command name may hold spaces and parentheses: fields are counted after its last `)`,
    // from field 3 (`state`).
    let after = stat.rsplit_once(')').context("no ) in stat")?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let tick = |i: usize| -> Result<f64> {
        let v: u64 = fields.get(i).context("short stat")?.parse()?;
        Ok(v as f64 / 100.0)
    };
    Ok(tick(14 - 3)? + tick(15 - 3)?)
}

/// A `Vm…:` figure of `/proc/<pid>/status` (`VmRSS`, `VmHWM`), KiB.
///
/// # Errors
/// When the file cannot be read or has no such line.
pub fn vm_kib(pid: u32, field: &str) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("read /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// Polls `/ready` every 20 ms until it answers 200.
///
/// # Errors
/// When it has not within `timeout`.
pub async fn wait_ready(t: &Target, timeout: Duration) -> Result<()> {
    let http = http_client();
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(res) = http.get(t.http("/ready")).send().await {
            if res.status().as_u16() == 200 {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            bail!("/ready not 200 within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One figure of one run. `goal` is `<=N` or `>=N`; `ratio_to` names a `scenario|figure` whose
/// median this figure is divided by in the report.
#[derive(Serialize, Deserialize, Clone, Debug)]
pub struct Row {
    pub scenario: String,
    pub figure: String,
    pub value: f64,
    #[serde(default)]
    pub goal: Option<String>,
    #[serde(default)]
    pub ratio_to: Option<String>,
}

/// Collects rows and writes them to stdout and the `--out` file.
pub struct Rows {
    out: Option<PathBuf>,
    scenario: String,
}

impl Rows {
    pub fn new(out: Option<PathBuf>, scenario: &str) -> Rows {
        Rows {
            out,
            scenario: scenario.to_string(),
        }
    }

    pub fn add(&self, figure: &str, value: f64, goal: Option<&str>) -> Result<()> {
        self.push(Row {
            scenario: self.scenario.clone(),
            figure: figure.to_string(),
            value,
            goal: goal.map(str::to_string),
            ratio_to: None,
        })
    }

    pub fn ratio(&self, figure: &str, value: f64, ratio_to: &str) -> Result<()> {
        self.push(Row {
            scenario: self.scenario.clone(),
            figure: figure.to_string(),
            value,
            goal: None,
            ratio_to: Some(ratio_to.to_string()),
        })
    }

    /// # Errors
    /// When the output file cannot be written.
    pub fn push(&self, row: Row) -> Result<()> {
        let line = serde_json::to_string(&row)?;
        println!("{line}");
        if let Some(path) = &self.out {
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("open {}", path.display()))?;
            writeln!(f, "{line}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn reads_this_process_cpu_time() {
        let before = super::cpu_secs(None).unwrap();
        let mut x = 0u64;
        for i in 0..50_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        std::hint::black_box(x);
        assert!(super::cpu_secs(None).unwrap() >= before);
        assert!(super::cpu_secs(Some(std::process::id())).unwrap() >= before);
    }
}
