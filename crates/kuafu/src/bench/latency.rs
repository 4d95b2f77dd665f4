//! Latency summaries: samples go into an HDR histogram (nanoseconds, three
//! significant digits) and come out as count, p50, p90, p99 and max.

use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Largest latency the histogram tells apart; longer samples count as this.
pub const LATENCY_RECORDABLE_MAX: Duration = Duration::from_secs(60);
/// Significant decimal digits the histogram keeps.
const SIGNIFICANT_DIGITS: u8 = 3;

/// Collects samples of one measurement.
pub struct Recorder {
    histogram: Histogram<u64>,
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Recorder {
    /// An empty recorder.
    pub fn new() -> Self {
        let high = u64::try_from(LATENCY_RECORDABLE_MAX.as_nanos()).unwrap_or(u64::MAX);
        let histogram = Histogram::new_with_bounds(1, high, SIGNIFICANT_DIGITS)
            .expect("the bounds are constants that hdrhistogram accepts");
        Self { histogram }
    }

    /// Records one sample (clamped to `1 ns..=LATENCY_RECORDABLE_MAX`).
    pub fn record(&mut self, sample: Duration) {
        let nanos = u64::try_from(sample.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.histogram.saturating_record(nanos);
    }

    /// Records every sample.
    pub fn record_all(&mut self, samples: impl IntoIterator<Item = Duration>) {
        for sample in samples {
            self.record(sample);
        }
    }

    /// The summary of what was recorded (all zero when nothing was).
    pub fn latency(&self) -> Latency {
        let at = |quantile| Duration::from_nanos(self.histogram.value_at_quantile(quantile));
        Latency {
            count: self.histogram.len(),
            p50: at(0.50),
            p90: at(0.90),
            p99: at(0.99),
            max: Duration::from_nanos(self.histogram.max()),
        }
    }
}

/// A latency distribution, summarised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Latency {
    /// Samples recorded.
    pub count: u64,
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Largest sample.
    pub max: Duration,
}

impl Latency {
    /// Summarises `samples`.
    pub fn of(samples: impl IntoIterator<Item = Duration>) -> Self {
        let mut recorder = Recorder::new();
        recorder.record_all(samples);
        recorder.latency()
    }
}

impl fmt::Display for Latency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {} ms, p90 {} ms, p99 {} ms, max {} ms ({} samples)",
            ms(self.p50),
            ms(self.p90),
            ms(self.p99),
            ms(self.max),
            self.count
        )
    }
}

/// A duration in milliseconds with three decimals (microsecond resolution).
pub fn ms(duration: Duration) -> String {
    format!("{:.3}", duration.as_secs_f64() * 1_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_samples() {
        let samples = (1..=100).map(Duration::from_millis);
        let latency = Latency::of(samples);
        assert_eq!(latency.count, 100);
        let close = |got: Duration, want_ms: u64| {
            let want = Duration::from_millis(want_ms).as_secs_f64();
            (got.as_secs_f64() - want).abs() <= want * 0.001
        };
        assert!(close(latency.p50, 50), "{latency:?}");
        assert!(close(latency.p99, 99), "{latency:?}");
        assert!(close(latency.max, 100), "{latency:?}");
    }

    #[test]
    fn nothing_recorded_is_all_zero() {
        assert_eq!(Latency::of([]), Latency::default());
    }
}
