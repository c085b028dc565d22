//! Percentiles, human-readable durations and sizes, and a log-scale ASCII bar chart.

use std::io::Write as _;

/// Latency percentiles of one series, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Number of samples.
    pub n: usize,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest sample.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Summary {
    /// Nearest-rank percentiles of `samples` (nanoseconds); all zero when empty.
    pub fn of(mut samples: Vec<u64>) -> Summary {
        samples.sort_unstable();
        let n = samples.len();
        let rank = |p: f64| -> f64 {
            if n == 0 {
                return 0.0;
            }
            let k = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
            samples.get(k).copied().unwrap_or(0) as f64
        };
        let sum: f64 = samples.iter().map(|&s| s as f64).sum();
        Summary {
            n,
            p50: rank(0.50),
            p90: rank(0.90),
            p99: rank(0.99),
            max: samples.last().copied().unwrap_or(0) as f64,
            mean: if n == 0 { 0.0 } else { sum / n as f64 },
        }
    }

    /// The percentiles in microseconds, for JSON.
    pub fn json_us(&self) -> serde_json::Value {
        serde_json::json!({
            "n": self.n,
            "p50": round2(self.p50 / 1e3),
            "p90": round2(self.p90 / 1e3),
            "p99": round2(self.p99 / 1e3),
            "max": round2(self.max / 1e3),
            "mean": round2(self.mean / 1e3),
        })
    }
}

/// `x` rounded to two decimals.
pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A duration given in nanoseconds, e.g. "850 ns", "97.3 µs", "12.4 ms", "1.23 s".
pub fn ns(v: f64) -> String {
    if v < 1e3 {
        format!("{v:.0} ns")
    } else if v < 1e6 {
        format!("{:.1} µs", v / 1e3)
    } else if v < 1e9 {
        format!("{:.2} ms", v / 1e6)
    } else {
        format!("{:.2} s", v / 1e9)
    }
}

/// A size in bytes, e.g. "84.2 MiB".
pub fn bytes(v: f64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if v.abs() >= 1024.0 * MIB { format!("{:.2} GiB", v / (1024.0 * MIB)) } else { format!("{:.1} MiB", v / MIB) }
}

/// A count with thousands separators, e.g. "1,584,716".
pub fn count(v: usize) -> String {
    let s = v.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Resident set size of this process in bytes, from /proc/self/statm (4 KiB pages).
pub fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// The 1, 5 and 15 minute load averages from /proc/loadavg, e.g. "0.52 0.61 0.80".
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "n/a".to_owned())
}

/// Prints " 10% 20% ..." progress for `done` of `total` whenever a new tenth is reached.
pub struct Progress {
    total: usize,
    shown: usize,
}

impl Progress {
    /// Progress over `total` steps.
    pub fn new(total: usize) -> Self {
        Self { total, shown: 0 }
    }

    /// Records that `done` steps are done.
    pub fn at(&mut self, done: usize) {
        let tenth = (done * 10).checked_div(self.total).unwrap_or(10);
        if tenth > self.shown {
            self.shown = tenth;
            print!(" {}%", tenth * 10);
            let _ = std::io::stdout().flush();
        }
    }
}

/// Horizontal bars on a log scale from 1 µs, ten characters per decade, with a decade axis.
pub fn log_bars(title: &str, rows: &[(String, f64)]) -> String {
    const PER_DECADE: f64 = 10.0;
    let max = rows.iter().map(|r| r.1).fold(1e3, f64::max);
    let decades = ((max / 1e3).log10().ceil() as usize).max(1);
    let label_w = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let names = ["1µs", "10µs", "100µs", "1ms", "10ms", "100ms", "1s", "10s", "100s"];
    let mut out = format!("{title}\n");
    let mut axis = String::new();
    let mut ticks = String::new();
    for d in 0..=decades {
        let name = names.get(d).copied().unwrap_or("");
        let col = d * PER_DECADE as usize;
        while axis.chars().count() < col {
            axis.push(' ');
        }
        axis.push_str(name);
        while ticks.chars().count() < col {
            ticks.push('-');
        }
        ticks.push('+');
    }
    out.push_str(&format!("{:label_w$}   {axis}\n", ""));
    out.push_str(&format!("{:label_w$}   {ticks}\n", ""));
    for (label, v) in rows {
        let len = ((v / 1e3).max(1.0).log10() * PER_DECADE).round().max(1.0) as usize;
        out.push_str(&format!("{label:label_w$}  |{} {}\n", "#".repeat(len), ns(*v)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let s = Summary::of((1..=100).collect());
        assert_eq!((s.p50, s.p90, s.p99, s.max), (50.0, 90.0, 99.0, 100.0));
        assert_eq!(Summary::of(vec![7]).p99, 7.0);
        assert_eq!(Summary::of(Vec::new()).p50, 0.0);
    }

    #[test]
    fn numbers_read_well() {
        assert_eq!(count(1_584_716), "1,584,716");
        assert_eq!(count(999), "999");
        assert_eq!(ns(97_250.0), "97.2 µs");
        assert_eq!(ns(25_100_000.0), "25.10 ms");
    }

    #[test]
    fn bars_grow_ten_characters_per_decade() {
        let chart = log_bars("t", &[("a".into(), 10_000.0), ("b".into(), 10_000_000.0)]);
        assert!(chart.contains(&format!("|{} 10.0 µs", "#".repeat(10))));
        assert!(chart.contains(&format!("|{} 10.00 ms", "#".repeat(40))));
    }
}
