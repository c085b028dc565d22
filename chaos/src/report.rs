//! Figures of a run, as JSON files and as one table over several runs.

use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Value, json};

/// The figures of one run, in print order.
pub struct Report {
    /// `r3` or `r4`.
    pub kind: &'static str,
    /// Column heading, e.g. "R3 sqlite seed 1".
    pub label: String,
    /// (figure, value) pairs.
    pub figures: Vec<(String, String)>,
    /// Invariant violations (empty: passed).
    pub violations: Vec<String>,
}

impl Report {
    /// A figure.
    pub fn add(&mut self, name: &str, value: impl ToString) {
        self.figures.push((name.to_owned(), value.to_string()));
    }

    /// Writes the JSON file.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let v = json!({
            "kind": self.kind,
            "label": self.label,
            "figures": self.figures.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
            "violations": self.violations,
            "pass": self.violations.is_empty(),
        });
        std::fs::write(path, serde_json::to_string_pretty(&v)? + "\n").with_context(|| format!("writing {}", path.display()))
    }

    /// Prints this run's figures, one per line.
    pub fn print(&self) {
        println!();
        println!("== {} ==", self.label);
        let w = self.figures.iter().map(|f| f.0.chars().count()).max().unwrap_or(0);
        for (k, v) in &self.figures {
            println!("  {k:<w$}  {v}");
        }
        if self.violations.is_empty() {
            println!("  PASS: every invariant holds");
        } else {
            for v in &self.violations {
                println!("  FAIL: {v}");
            }
        }
    }
}

/// Milliseconds, e.g. "812 ms" or "1.42 s".
pub fn ms(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    if ms < 1_000.0 { format!("{ms:.0} ms") } else { format!("{:.2} s", ms / 1e3) }
}

/// Nearest-rank percentile.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let k = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted.get(k).copied().unwrap_or_default()
}

/// One run in the table: label, figures, passed.
type Column = (String, Vec<(String, String)>, bool);

/// Prints one table of several runs' JSON files, with a section for each extra file (another
/// script's figures: a flat JSON object, or the same format as ours). Returns whether every run
/// file passed.
pub fn table(runs: &[String], extras: &[String]) -> anyhow::Result<bool> {
    let mut cols: Vec<Column> = Vec::new();
    let mut missing = Vec::new();
    for path in runs {
        let Ok(text) = std::fs::read_to_string(path) else {
            missing.push(path.clone());
            continue;
        };
        let v: Value = serde_json::from_str(&text).with_context(|| format!("parsing {path}"))?;
        let figures = v["figures"]
            .as_array()
            .map(|a| a.iter().map(|p| (p[0].as_str().unwrap_or("").to_owned(), p[1].as_str().unwrap_or("").to_owned())).collect())
            .unwrap_or_default();
        cols.push((v["label"].as_str().unwrap_or(path).to_owned(), figures, v["pass"].as_bool().unwrap_or(false)));
    }
    let mut names: Vec<String> = Vec::new();
    for (_, figs, _) in &cols {
        for (k, _) in figs {
            if !names.contains(k) {
                names.push(k.clone());
            }
        }
    }
    let name_w = names.iter().map(|n| n.chars().count()).max().unwrap_or(0).max(6);
    let widths: Vec<usize> = cols
        .iter()
        .map(|(label, figs, _)| figs.iter().map(|f| f.1.chars().count()).chain([label.chars().count(), 4]).max().unwrap_or(4))
        .collect();
    let line = |name: &str, vals: Vec<String>| {
        let mut s = format!("  {name:<name_w$}");
        for (v, w) in vals.iter().zip(&widths) {
            s.push_str(&format!(" | {v:>w$}"));
        }
        println!("{s}");
    };
    println!();
    println!("== Reliability figures ==");
    line("", cols.iter().map(|c| c.0.clone()).collect());
    println!("  {}", "-".repeat(name_w + widths.iter().map(|w| w + 3).sum::<usize>()));
    for n in &names {
        line(n, cols.iter().map(|(_, figs, _)| figs.iter().find(|f| &f.0 == n).map_or("-".to_owned(), |f| f.1.clone())).collect());
    }
    line("result", cols.iter().map(|c| if c.2 { "PASS" } else { "FAIL" }.to_owned()).collect());
    for m in &missing {
        println!("  (no figures: {m} is missing; that run did not finish)");
    }
    for spec in extras {
        let (title, path) = spec.split_once('=').unwrap_or((spec.as_str(), spec.as_str()));
        println!();
        println!("== {title} ==");
        match std::fs::read_to_string(path) {
            Err(_) => println!("  not run (no {path})"),
            Ok(text) => match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(map)) if map.contains_key("figures") => {
                    for p in map["figures"].as_array().into_iter().flatten() {
                        println!("  {:<name_w$}  {}", p[0].as_str().unwrap_or(""), p[1].as_str().unwrap_or(""));
                    }
                }
                Ok(Value::Object(map)) => {
                    for (k, v) in map {
                        println!("  {k:<name_w$}  {}", v.as_str().map(str::to_owned).unwrap_or_else(|| v.to_string()));
                    }
                }
                _ => {
                    for l in text.lines().take(40) {
                        println!("  {l}");
                    }
                }
            },
        }
    }
    Ok(missing.is_empty() && cols.iter().all(|c| c.2))
}
