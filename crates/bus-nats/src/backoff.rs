//! The wait between connection attempts: exponential, bounded, and jittered
//! so the nodes of a zone that lost NATS together do not come back in
//! lockstep. A pure function of the attempt and a random fraction; the caller
//! draws the randomness.

use std::time::Duration;

/// Exponential backoff with "equal jitter": attempt `n` waits between half
/// and all of `min(initial · 2^(n-1), max)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// The first attempt's full wait, in milliseconds.
    pub initial_ms: u64,
    /// The longest wait, in milliseconds: the bound of every wait.
    pub max_ms: u64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial_ms: 100,
            max_ms: 5_000,
        }
    }
}

impl Backoff {
    /// How long to wait before attempt `attempt` (counted from 1) after it
    /// failed, given `fraction` drawn uniformly from [0, 1).
    pub fn delay(&self, attempt: u64, fraction: f64) -> Duration {
        let doublings = u32::try_from(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
        let full_ms = self
            .initial_ms
            .saturating_mul(2_u64.saturating_pow(doublings))
            .min(self.max_ms);
        let half_ms = full_ms / 2;
        // An f64 holds every wait up to 2^53 ms exactly; a NaN fraction
        // casts to 0.
        let jitter_ms = ((full_ms - half_ms) as f64 * fraction.clamp(0.0, 1.0)) as u64;
        Duration::from_millis((half_ms + jitter_ms).min(full_ms))
    }

    /// [`Backoff::delay`] with a fraction from the thread's random generator.
    pub fn jittered_delay(&self, attempt: u64) -> Duration {
        self.delay(attempt, rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Backoff = Backoff {
        initial_ms: 100,
        max_ms: 5_000,
    };

    #[test]
    fn waits_double_with_each_attempt_up_to_the_bound() {
        let full: Vec<u64> = (1..=8)
            .map(|attempt| BACKOFF.delay(attempt, 1.0).as_millis() as u64)
            .collect();
        assert_eq!(full, [100, 200, 400, 800, 1600, 3200, 5000, 5000]);
        assert_eq!(BACKOFF.delay(u64::MAX, 1.0), Duration::from_secs(5));
    }

    #[test]
    fn jitter_spreads_a_wait_over_its_upper_half() {
        assert_eq!(BACKOFF.delay(3, 0.0), Duration::from_millis(200));
        assert_eq!(BACKOFF.delay(3, 0.5), Duration::from_millis(300));
        assert_eq!(BACKOFF.delay(3, 0.999), Duration::from_millis(399));
    }

    #[test]
    fn nodes_that_fail_together_retry_at_different_times() {
        let waits: std::collections::BTreeSet<Duration> =
            (0..20).map(|_| BACKOFF.jittered_delay(6)).collect();
        assert!(waits.len() > 1, "twenty draws gave one wait: {waits:?}");
        assert!(waits.iter().all(|wait| *wait <= Duration::from_secs(5)));
    }

    #[test]
    fn a_fraction_outside_zero_to_one_stays_within_the_bound() {
        assert_eq!(BACKOFF.delay(1, f64::NAN), Duration::from_millis(50));
        assert_eq!(BACKOFF.delay(1, 7.0), Duration::from_millis(100));
        assert_eq!(BACKOFF.delay(1, -1.0), Duration::from_millis(50));
    }
}
