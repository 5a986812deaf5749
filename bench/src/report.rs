//! The one table: each figure's median over the runs, its spread, its target and whether the median
//! meets it; ratio rows divide a median by the ceiling's median. Also `ratio`, which records one
//! run's quotient of two figures of that same run (Socket.IO's rate over `/ws`'s).

use crate::common::{Row, Rows};
use anyhow::{Context as _, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ReportArgs {
    /// JSON lines written by the scenarios (`--out`).
    #[arg(long)]
    pub input: PathBuf,
    /// Where the markdown table is written too.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct RatioArgs {
    /// The rows file (JSON lines) to read the two figures from.
    #[arg(long)]
    pub input: PathBuf,
    /// Only rows after this many lines count (the line count before this run's scenarios).
    #[arg(long, default_value_t = 0)]
    pub after_line: usize,
    /// `scenario|figure` of the numerator.
    #[arg(long)]
    pub num: String,
    /// `scenario|figure` of the denominator.
    #[arg(long)]
    pub den: String,
    #[arg(long)]
    pub scenario: String,
    #[arg(long)]
    pub figure: String,
    #[arg(long)]
    pub goal: Option<String>,
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// The last value of `key` (`scenario|figure`) among `rows`.
fn last_value(rows: &[Row], key: &str) -> Option<f64> {
    rows.iter()
        .rev()
        .find(|r| format!("{}|{}", r.scenario, r.figure) == key)
        .map(|r| r.value)
}

/// Records `num / den`, both taken from the rows after `--after-line`.
///
/// # Errors
/// When either figure is missing (its scenario failed in this run) or the denominator is 0.
pub fn ratio(a: RatioArgs) -> Result<()> {
    let text =
        std::fs::read_to_string(&a.input).with_context(|| format!("read {}", a.input.display()))?;
    let rows = text
        .lines()
        .skip(a.after_line)
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Row>(l).with_context(|| format!("bad row {l}")))
        .collect::<Result<Vec<_>>>()?;
    let num = last_value(&rows, &a.num).with_context(|| format!("no {} in this run", a.num))?;
    let den = last_value(&rows, &a.den).with_context(|| format!("no {} in this run", a.den))?;
    if den == 0.0 {
        anyhow::bail!("{} is 0 in this run", a.den);
    }
    Rows::new(a.out, &a.scenario).add(&a.figure, num / den, a.goal.as_deref())
}

/// Every run's value of one figure, in first-seen order.
struct Figure {
    scenario: String,
    figure: String,
    values: Vec<f64>,
    goal: Option<String>,
    ratio_to: Option<String>,
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn fmt(x: f64) -> String {
    if x.abs() >= 100.0 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// `Some(true)` when `value` meets `goal` (`<=N` or `>=N`).
fn meets(goal: &str, value: f64) -> Option<bool> {
    if let Some(n) = goal.strip_prefix("<=") {
        return n.parse::<f64>().ok().map(|n| value <= n);
    }
    if let Some(n) = goal.strip_prefix(">=") {
        return n.parse::<f64>().ok().map(|n| value >= n);
    }
    None
}

/// Builds the markdown table from result rows.
pub fn table(rows: Vec<Row>) -> String {
    let mut figures: Vec<Figure> = Vec::new();
    for row in rows {
        match figures
            .iter_mut()
            .find(|f| f.scenario == row.scenario && f.figure == row.figure)
        {
            Some(f) => f.values.push(row.value),
            None => figures.push(Figure {
                scenario: row.scenario,
                figure: row.figure,
                values: vec![row.value],
                goal: row.goal,
                ratio_to: row.ratio_to,
            }),
        }
    }
    let medians: Vec<(String, f64)> = figures
        .iter()
        .map(|f| (format!("{}|{}", f.scenario, f.figure), median(&f.values)))
        .collect();
    let mut out = String::from(
        "| scenario | figure | median | spread (min–max) | runs | target | met? |\n|---|---|---|---|---|---|---|\n",
    );
    for f in &figures {
        let med = median(&f.values);
        let min = f.values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = f.values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let (median_s, spread) = match &f.ratio_to {
            Some(to) => match medians.iter().find(|(k, _)| k == to) {
                Some((_, base)) if *base > 0.0 => (format!("{:.2}×", med / base), "–".to_string()),
                _ => ("n/a (no ceiling)".to_string(), "–".to_string()),
            },
            None => (fmt(med), format!("{}–{}", fmt(min), fmt(max))),
        };
        let (target, met) = match &f.goal {
            Some(g) => (
                g.replace("<=", "≤ ").replace(">=", "≥ "),
                match meets(g, med) {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "",
                },
            ),
            None => (String::new(), ""),
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            f.scenario,
            f.figure,
            median_s,
            spread,
            f.values.len(),
            target,
            met
        ));
    }
    out
}

/// # Errors
/// When the input cannot be read or parsed, or the output written.
pub fn report(a: ReportArgs) -> Result<()> {
    let text =
        std::fs::read_to_string(&a.input).with_context(|| format!("read {}", a.input.display()))?;
    let rows = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str::<Row>(l).with_context(|| format!("bad row {l}")))
        .collect::<Result<Vec<_>>>()?;
    let table = table(rows);
    print!("{table}");
    if let Some(path) = &a.output {
        std::fs::write(path, &table).with_context(|| format!("write {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(figure: &str, value: f64, goal: Option<&str>, ratio_to: Option<&str>) -> Row {
        Row {
            scenario: "s".into(),
            figure: figure.into(),
            value,
            goal: goal.map(str::to_string),
            ratio_to: ratio_to.map(str::to_string),
        }
    }

    #[test]
    fn medians_spreads_targets_and_ratios() {
        let t = table(vec![
            row("p99", 3.0, Some("<=5"), None),
            row("p99", 9.0, Some("<=5"), None),
            row("p99", 4.0, Some("<=5"), None),
            row("ceil", 1000.0, None, None),
            row("rate", 500.0, None, Some("s|ceil")),
        ]);
        assert!(
            t.contains("| s | p99 | 4.00 | 3.00–9.00 | 3 | ≤ 5 | yes |"),
            "{t}"
        );
        assert!(t.contains("| s | rate | 0.50× |"), "{t}");
    }

    #[test]
    fn a_ratio_takes_only_this_runs_rows() {
        let path = std::env::temp_dir().join(format!("loadgen-ratio-{}.jsonl", std::process::id()));
        let line = |scenario: &str, value: f64| {
            let mut r = row("max", value, None, None);
            r.scenario = scenario.into();
            serde_json::to_string(&r).unwrap() + "\n"
        };
        // Run 1 had both; run 2 (after line 2) only Socket.IO's.
        let text = line("ws", 10.0) + &line("sio", 9.0) + &line("sio", 8.0);
        std::fs::write(&path, text).unwrap();
        let args = |after_line| RatioArgs {
            input: path.clone(),
            after_line,
            num: "sio|max".into(),
            den: "ws|max".into(),
            scenario: "sio".into(),
            figure: "sio / ws".into(),
            goal: Some(">=0.8".into()),
            out: Some(path.clone()),
        };
        assert!(ratio(args(2)).is_err());
        ratio(args(0)).unwrap();
        let last = std::fs::read_to_string(&path).unwrap();
        let last: Row = serde_json::from_str(last.lines().last().unwrap()).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!((last.figure.as_str(), last.value), ("sio / ws", 0.8));
    }
}
