//! Metrics: per-stage wall-time accounting and latency histograms.

use hdrhistogram::Histogram;
use std::time::{Duration, Instant};

/// Accumulated wall time per named stage, in first-use order, for the end-of-run summary.
#[derive(Debug, Default, Clone)]
pub struct StageTimes {
    entries: Vec<(String, Duration)>,
}

impl StageTimes {
    pub fn add(&mut self, name: &str, d: Duration) {
        if let Some(e) = self.entries.iter_mut().find(|(n, _)| n == name) {
            e.1 += d;
        } else {
            self.entries.push((name.to_string(), d));
        }
    }
    /// Time a closure and charge it to `name`.
    pub fn time<T>(&mut self, name: &str, f: impl FnOnce() -> T) -> T {
        let t0 = Instant::now();
        let out = f();
        self.add(name, t0.elapsed());
        out
    }
    pub fn merge(&mut self, other: &StageTimes) {
        for (n, d) in &other.entries {
            self.add(n, *d);
        }
    }
    pub fn entries(&self) -> &[(String, Duration)] {
        &self.entries
    }
    pub fn total(&self) -> Duration {
        self.entries.iter().map(|(_, d)| *d).sum()
    }
    /// A small aligned table: stage, seconds, share of the total.
    pub fn table(&self) -> String {
        let total = self.total().as_secs_f64().max(1e-12);
        let width = self
            .entries
            .iter()
            .map(|(n, _)| n.len())
            .max()
            .unwrap_or(5)
            .max(5);
        let mut s = format!("{:<width$}  {:>9}  {:>6}\n", "stage", "seconds", "share");
        for (n, d) in &self.entries {
            let secs = d.as_secs_f64();
            s += &format!(
                "{:<width$}  {:>9.3}  {:>5.1}%\n",
                n,
                secs,
                100.0 * secs / total
            );
        }
        s
    }
}

/// Latency histogram in microseconds (1 µs .. 1 h, 3 significant digits).
pub struct Latency {
    hist: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency {
            hist: Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid histogram bounds"),
        }
    }
}

impl Latency {
    pub fn record(&mut self, d: Duration) {
        let us = (d.as_micros() as u64).clamp(1, 3_600_000_000);
        // Values are clamped into the histogram's range, so recording cannot fail.
        let _ = self.hist.record(us);
    }
    pub fn count(&self) -> u64 {
        self.hist.len()
    }
    /// Quantile in seconds (0 when empty).
    pub fn quantile_secs(&self, q: f64) -> f64 {
        if self.hist.is_empty() {
            0.0
        } else {
            self.hist.value_at_quantile(q) as f64 * 1e-6
        }
    }
    pub fn max_secs(&self) -> f64 {
        self.hist.max() as f64 * 1e-6
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_times_accumulate_in_order() {
        let mut t = StageTimes::default();
        t.add("read", Duration::from_millis(10));
        t.add("fit", Duration::from_millis(30));
        t.add("read", Duration::from_millis(10));
        assert_eq!(
            t.entries()[0],
            ("read".to_string(), Duration::from_millis(20))
        );
        assert_eq!(t.total(), Duration::from_millis(50));
        assert!(t.table().contains("fit"));
    }

    #[test]
    fn latency_quantiles() {
        let mut l = Latency::default();
        for ms in 1..=100 {
            l.record(Duration::from_millis(ms));
        }
        assert_eq!(l.count(), 100);
        assert!((l.quantile_secs(0.5) - 0.050).abs() < 0.001);
        assert!((l.max_secs() - 0.100).abs() < 0.001);
    }
}
