//! The one table: each figure's median over the runs, its spread, its target and whether the median
//! meets it; ratio rows divide a median by the ceiling's median.

use crate::common::Row;
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
}
