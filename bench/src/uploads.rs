//! Scenario 9: concurrent attachment uploads (`POST /messaging/conversations/:id/attachments`) into
//! one conversation: throughput, latency, and the server's RSS while they stream (issue 16's target:
//! at most 64 MiB above idle, since nothing but an image is held whole).

use crate::common::{self, histogram, ms, vm_kib, Rows, Target};
use anyhow::{bail, Context as _, Result};
use bytes::Bytes;
use clap::{Args, ValueEnum};
use serde::Deserialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What each upload is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FileKind {
    /// `%PDF-1.4\n` and random bytes: typed from its first bytes and streamed through untouched.
    Pdf,
    /// A photo-sized JPEG (`--image-width` × `--image-height`), which the server holds whole and
    /// decodes for its thumbnail (at most 2 at a time).
    Jpeg,
}

#[derive(Args, Debug)]
pub struct UploadArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long, default_value = "9 uploads")]
    pub scenario: String,
    #[arg(long, value_enum, default_value_t = FileKind::Pdf)]
    pub kind: FileKind,
    /// Uploads in flight at once: each client uploads, waits for the answer, uploads again.
    #[arg(long, default_value_t = 20)]
    pub clients: usize,
    /// Uploads by each client.
    #[arg(long, default_value_t = 3)]
    pub per_client: usize,
    /// The file's size in bytes (a PDF exactly; a JPEG about, by its noise).
    #[arg(long, default_value_t = 10 * 1024 * 1024)]
    pub bytes: usize,
    #[arg(long, default_value_t = 4000)]
    pub image_width: u32,
    #[arg(long, default_value_t = 3000)]
    pub image_height: u32,
    /// The server's process id, for its VmRSS and VmHWM.
    #[arg(long)]
    pub server_pid: u32,
    /// nats-server's process id, for its VmRSS too.
    #[arg(long)]
    pub nats_pid: Option<u32>,
    /// How often the RSS of both is sampled during the uploads, ms.
    #[arg(long, default_value_t = 20)]
    pub sample_ms: u64,
    /// The target for the server's peak RSS above idle, MiB (issue 16: 64, for files streamed
    /// through; none for images, which are held whole and decoded by design).
    #[arg(long)]
    pub rss_goal_mib: Option<f64>,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// xorshift64*: random enough that no layer can compress the bytes, and no dependency.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// `%PDF-1.4\n` then random bytes, `bytes` in all.
fn pdf(bytes: usize) -> Vec<u8> {
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    let mut file = b"%PDF-1.4\n".to_vec();
    while file.len() < bytes {
        file.extend_from_slice(&noise.next().to_le_bytes());
    }
    file.truncate(bytes);
    file
}

/// A `width` × `height` JPEG (quality 90): a smooth gradient under noise of amplitude `amp`.
fn jpeg_with(width: u32, height: u32, amp: u32) -> Result<Vec<u8>> {
    let mut noise = Noise(0xD1B5_4A32_D192_ED03);
    let mut pixels = Vec::with_capacity(width as usize * height as usize * 3);
    for y in 0..height {
        for x in 0..width {
            let base = [
                x * 255 / width.max(1),
                y * 255 / height.max(1),
                (x + y) * 255 / (width + height).max(1),
            ];
            for b in base {
                let n = if amp == 0 {
                    0
                } else {
                    (noise.next() % (2 * amp as u64 + 1)) as i64 - amp as i64
                };
                pixels.push((b as i64 + n).clamp(0, 255) as u8);
            }
        }
    }
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
        .encode(&pixels, width, height, image::ExtendedColorType::Rgb8)
        .context("encode the JPEG")?;
    Ok(out)
}

/// A JPEG of the given dimensions whose noise is chosen (by bisection) to make it about `bytes`.
fn jpeg(width: u32, height: u32, bytes: usize) -> Result<Vec<u8>> {
    let (mut lo, mut hi) = (0u32, 64u32);
    let mut best = jpeg_with(width, height, hi)?;
    for _ in 0..6 {
        let mid = (lo + hi) / 2;
        let file = jpeg_with(width, height, mid)?;
        if file.len() > bytes {
            hi = mid;
        } else {
            lo = mid;
        }
        if file.len().abs_diff(bytes) < best.len().abs_diff(bytes) {
            best = file;
        }
    }
    Ok(best)
}

/// The whole multipart body of one upload: one part named `file`.
fn multipart(boundary: &str, filename: &str, mimetype: &str, file: &[u8]) -> Bytes {
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {mimetype}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Bytes::from(body)
}

#[derive(Deserialize)]
struct Envelope {
    data: Uploaded,
}

#[derive(Deserialize)]
struct Uploaded {
    attachment: Attachment,
}

#[derive(Deserialize)]
struct Attachment {
    id: Option<String>,
    size: u64,
}

/// The highest VmRSS of each process seen while sampling, KiB.
#[derive(Default, Clone, Copy)]
struct Peaks {
    server: u64,
    nats: u64,
    samples: u64,
}

/// Samples both processes' VmRSS every `every` on its own thread (so that busy tokio workers do
/// not delay it) until `stop`.
fn sampler(
    server: u32,
    nats: Option<u32>,
    every: Duration,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Peaks> {
    std::thread::spawn(move || {
        let mut peaks = Peaks::default();
        while !stop.load(Ordering::Relaxed) {
            if let Ok(kib) = vm_kib(server, "VmRSS") {
                peaks.server = peaks.server.max(kib);
            }
            if let Some(Ok(kib)) = nats.map(|p| vm_kib(p, "VmRSS")) {
                peaks.nats = peaks.nats.max(kib);
            }
            peaks.samples += 1;
            std::thread::sleep(every);
        }
        peaks
    })
}

/// One upload: its latency when it answered 201 with the whole file stored.
async fn upload(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    content_type: &str,
    body: Bytes,
    size: u64,
) -> Result<Duration> {
    let at = Instant::now();
    let res = http
        .post(url)
        .bearer_auth(token)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await?;
    let status = res.status();
    let text = res.text().await?;
    let took = at.elapsed();
    if status.as_u16() != 201 {
        bail!("{status}: {text}");
    }
    let got: Envelope = serde_json::from_str(&text).with_context(|| format!("answer {text}"))?;
    if got.data.attachment.id.is_none() || got.data.attachment.size != size {
        bail!("201 but not the file stored: {text}");
    }
    Ok(took)
}

/// Scenario 9.
///
/// # Errors
/// When the conversation cannot be opened, the processes' memory cannot be read or results cannot
/// be written. Failed uploads are counted, not errors.
pub async fn uploads(a: UploadArgs) -> Result<()> {
    a.target.check()?;
    let rows = Rows::new(a.target.out.clone(), &a.scenario);
    let conv = common::setup_conversations(&a.target, 1)
        .await?
        .pop()
        .context("no conversation")?;
    let (file, filename, mimetype) = match a.kind {
        FileKind::Pdf => (pdf(a.bytes), "bench.pdf", "application/pdf"),
        FileKind::Jpeg => {
            let (w, h, n) = (a.image_width, a.image_height, a.bytes);
            let file = tokio::task::spawn_blocking(move || jpeg(w, h, n)).await??;
            (file, "bench.jpg", "image/jpeg")
        }
    };
    let size = file.len() as u64;
    let boundary = "concierge-bench-7d3f0a91c2";
    let body = multipart(boundary, filename, mimetype, &file);
    drop(file);
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let url = a
        .target
        .http(&format!("/messaging/conversations/{}/attachments", conv.id));
    let http = reqwest::Client::builder()
        .tcp_nodelay(true)
        .timeout(Duration::from_secs(300))
        .build()?;

    // Idle: the node ready, one conversation open, no upload yet.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle = vm_kib(a.server_pid, "VmRSS")?;
    let nats_idle = a.nats_pid.map(|p| vm_kib(p, "VmRSS")).transpose()?;
    let stop = Arc::new(AtomicBool::new(false));
    let sampling = sampler(
        a.server_pid,
        a.nats_pid,
        Duration::from_millis(a.sample_ms),
        stop.clone(),
    );

    let started = Instant::now();
    let tasks: Vec<_> = (0..a.clients)
        .map(|_| {
            let (http, url, token) = (http.clone(), url.clone(), conv.token.clone());
            let (content_type, body) = (content_type.clone(), body.clone());
            let n = a.per_client;
            tokio::spawn(async move {
                let mut h = histogram();
                let mut errors = Vec::new();
                for _ in 0..n {
                    match upload(&http, &url, &token, &content_type, body.clone(), size).await {
                        Ok(took) => {
                            h.saturating_record((took.as_micros() as u64).max(1));
                        }
                        Err(e) => errors.push(format!("{e:#}")),
                    }
                }
                (h, errors)
            })
        })
        .collect();
    let mut h = histogram();
    let mut errors = Vec::new();
    for task in tasks {
        let (th, te) = task.await.context("upload task")?;
        h.add(&th).expect("same bounds");
        errors.extend(te);
    }
    let secs = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let peaks = sampling.join().expect("sampler thread");
    let hwm = vm_kib(a.server_pid, "VmHWM")?;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let after = vm_kib(a.server_pid, "VmRSS")?;

    let ok = h.len();
    let total = (a.clients * a.per_client) as u64;
    for e in errors.iter().take(3) {
        eprintln!("upload failed: {e}");
    }
    let peak = peaks.server.max(idle);
    eprintln!(
        "{ok}/{total} uploads of {size} bytes ({} failed) in {secs:.1} s by {} clients; server RSS idle {idle}, peak {peak} ({} samples), VmHWM {hwm}, 3 s after {after} KiB; nats-server RSS {nats_idle:?} -> peak {} KiB",
        errors.len(),
        a.clients,
        peaks.samples,
        peaks.nats,
    );
    rows.add(
        "uploads answered 201",
        ok as f64,
        Some(&format!(">={total}")),
    )?;
    rows.add("failed uploads", errors.len() as f64, Some("<=0"))?;
    rows.add("uploads/s", ok as f64 / secs, None)?;
    rows.add(
        "MB/s (10^6 bytes)",
        ok as f64 * size as f64 / 1e6 / secs,
        None,
    )?;
    rows.add("p50 ms", ms(&h, 0.5), None)?;
    rows.add("p99 ms", ms(&h, 0.99), None)?;
    rows.add("max ms", h.max() as f64 / 1000.0, None)?;
    rows.add("server idle RSS MiB", mib(idle), None)?;
    rows.add("server peak RSS MiB (20 ms samples)", mib(peak), None)?;
    let goal = a.rss_goal_mib.map(|g| format!("<={g}"));
    rows.add(
        "server RSS growth MiB (peak - idle)",
        mib(peak - idle),
        goal.as_deref(),
    )?;
    rows.add("server VmHWM MiB", mib(hwm), None)?;
    rows.add("server RSS 3 s after MiB", mib(after), None)?;
    if let Some(nats_idle) = nats_idle {
        rows.add("nats-server idle RSS MiB", mib(nats_idle), None)?;
        rows.add(
            "nats-server peak RSS MiB",
            mib(peaks.nats.max(nats_idle)),
            None,
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_pdf_is_the_size_asked_and_typed_by_its_head() {
        let f = super::pdf(10 * 1024 * 1024);
        assert_eq!(f.len(), 10 * 1024 * 1024);
        assert!(f.starts_with(b"%PDF-1.4\n"));
    }

    #[test]
    fn the_body_is_one_file_part() {
        let b = super::multipart("xyz", "a.pdf", "application/pdf", b"%PDF-1");
        let s = String::from_utf8(b.to_vec()).unwrap();
        assert!(s.starts_with("--xyz\r\nContent-Disposition: form-data; name=\"file\""));
        assert!(s.ends_with("\r\n\r\n%PDF-1\r\n--xyz--\r\n"));
    }

    #[test]
    fn reads_this_process_memory() {
        assert!(super::vm_kib(std::process::id(), "VmRSS").unwrap() > 0);
        assert!(super::vm_kib(std::process::id(), "VmHWM").unwrap() > 0);
    }
}
