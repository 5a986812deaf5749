//! Scenario 7: the read path under concurrent keep-alive clients, as customers (whose reads of
//! their own messages write nothing), and an admin's inbox reads (the queue sorted by waiting over
//! every conversation, and the stats).

use crate::common::{self, ms, Closed, Rows, Target};
use anyhow::{bail, Result};
use clap::Args;
use futures::{stream, StreamExt};
use std::sync::Arc;

#[derive(Args, Debug)]
pub struct ReadArgs {
    #[command(flatten)]
    pub target: Target,
    #[arg(long, default_value = "7 reads")]
    pub scenario: String,
    /// Customers `cus0..cusN`, each with one conversation (as `loadgen seed` makes them).
    #[arg(long, default_value_t = 1000)]
    pub conversations: usize,
    #[arg(long, default_value_t = 64)]
    pub clients: usize,
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
}

/// A customer's token and conversation.
struct Reader {
    token: String,
    conv: String,
}

/// Runs `clients` loops of GET `path(reader)` for `secs`: the latency of each 200, and the count of
/// the others.
async fn closed_loop(
    t: &Target,
    readers: &Arc<Vec<Reader>>,
    clients: usize,
    secs: f64,
    path: fn(&Reader) -> String,
) -> Closed {
    let http = common::http_client();
    common::closed_loop(clients, 1, secs, |c| {
        let (http, readers, t) = (http.clone(), readers.clone(), t.clone());
        move |k| {
            let r = &readers[(c + k * clients) % readers.len()];
            let req = http.get(t.http(&path(r))).bearer_auth(&r.token);
            async move {
                match req.send().await {
                    Ok(res) if res.status().as_u16() == 200 => res.bytes().await.ok().map(|_| 0),
                    _ => None,
                }
            }
        }
    })
    .await
}

/// # Errors
/// When a customer has no conversation or results cannot be written.
pub async fn reads(a: ReadArgs) -> Result<()> {
    a.target.check()?;
    let rows = Rows::new(a.target.out.clone(), &a.scenario);
    let http = common::http_client();
    let found: Vec<Result<Reader>> = stream::iter(0..a.conversations)
        .map(|i| {
            let (http, t) = (http.clone(), &a.target);
            async move {
                let token = common::token(&t.secret, &format!("cus{i}"), "customer");
                let res: serde_json::Value = http
                    .get(t.http("/messaging/conversations?limit=20"))
                    .bearer_auth(&token)
                    .send()
                    .await?
                    .json()
                    .await?;
                let Some(conv) = res["data"]["conversations"][0]["id"].as_str() else {
                    bail!("cus{i} has no conversation: {res}");
                };
                Ok(Reader {
                    token,
                    conv: conv.to_string(),
                })
            }
        })
        .buffered(32)
        .collect()
        .await;
    let readers = Arc::new(found.into_iter().collect::<Result<Vec<_>>>()?);
    // The support inbox's reads (issue 17): an admin's queue sorted by waiting over every
    // conversation, and the stats with their response-time percentiles.
    let admins = Arc::new(vec![Reader {
        token: common::token(&a.target.secret, "adm_bench", "admin"),
        conv: String::new(),
    }]);
    let c = a.clients;
    let list = |_: &Reader| "/messaging/conversations?limit=20".to_string();
    let messages = |r: &Reader| format!("/messaging/conversations/{}/messages?limit=50", r.conv);
    let waiting = |_: &Reader| "/messaging/conversations?sort=waiting&limit=20".to_string();
    let stats = |_: &Reader| "/messaging/stats".to_string();
    for (name, who, path) in [
        ("list", &readers, list as fn(&Reader) -> String),
        ("messages", &readers, messages as fn(&Reader) -> String),
        (
            "inbox waiting list (admin)",
            &admins,
            waiting as fn(&Reader) -> String,
        ),
        ("stats (admin)", &admins, stats as fn(&Reader) -> String),
    ] {
        closed_loop(&a.target, who, c, 1.0, path).await;
        let run = closed_loop(&a.target, who, c, a.duration, path).await;
        let (h, errors, per_sec) = (run.all(), run.errors, run.per_sec());
        eprintln!(
            "{name}: {per_sec:.0}/s p50 {:.2} ms p99 {:.2} ms, {errors} errors",
            ms(&h, 0.5),
            ms(&h, 0.99)
        );
        rows.add(&format!("{name} requests/s, {c} clients"), per_sec, None)?;
        rows.add(&format!("{name} p99 ms"), ms(&h, 0.99), None)?;
        if errors > 0 {
            rows.add(&format!("{name} errors"), errors as f64, Some("<=0"))?;
        }
    }
    Ok(())
}
