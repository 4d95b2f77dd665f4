//! Times crossings on their target: from a Prepare's arrival to the player
//! entering with its token (the `kuafu_crossing_seconds` histogram). The
//! shell reads the clock; the core knows nothing of it.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use metrics::Histogram;

/// Prepares timed at once; past it, expired ones are dropped, and a Prepare
/// that still finds no room is not timed.
pub const TIMED_PREPARES_MAX: usize = 16_384;

/// Crossings prepared here and not yet entered, by roleid.
pub(crate) struct CrossingTimer {
    prepared: HashMap<u64, Instant>,
    /// How long a Prepare's token lives: an older one cannot be entered.
    token_ttl: Duration,
    seconds: Histogram,
}

impl CrossingTimer {
    pub(crate) fn new(token_ttl: Duration, seconds: Histogram) -> Self {
        Self {
            prepared: HashMap::new(),
            token_ttl,
            seconds,
        }
    }

    /// A Prepare for `roleid` arrived at `now`.
    pub(crate) fn prepared(&mut self, roleid: u64, now: Instant) {
        if self.prepared.len() >= TIMED_PREPARES_MAX && !self.prepared.contains_key(&roleid) {
            let ttl = self.token_ttl;
            self.prepared
                .retain(|_, started| now.saturating_duration_since(*started) <= ttl);
            if self.prepared.len() >= TIMED_PREPARES_MAX {
                return;
            }
        }
        self.prepared.insert(roleid, now);
    }

    /// `roleid` entered at `now`; a crossing's latency is recorded.
    pub(crate) fn entered(&mut self, roleid: u64, by_crossing: bool, now: Instant) {
        if let Some(started) = self.prepared.remove(&roleid)
            && by_crossing
        {
            self.seconds.record(now.saturating_duration_since(started));
        }
    }

    #[cfg(test)]
    fn timed(&self) -> usize {
        self.prepared.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use metrics::HistogramFn;

    use super::*;

    #[derive(Default)]
    struct Recorded(Mutex<Vec<f64>>);

    impl HistogramFn for Recorded {
        fn record(&self, value: f64) {
            self.0.lock().unwrap().push(value);
        }
    }

    fn timer(ttl: Duration) -> (CrossingTimer, Arc<Recorded>) {
        let recorded = Arc::new(Recorded::default());
        let histogram = Histogram::from_arc(recorded.clone());
        (CrossingTimer::new(ttl, histogram), recorded)
    }

    #[test]
    fn a_crossing_records_the_time_from_prepare_to_entered() {
        let (mut timer, recorded) = timer(Duration::from_secs(30));
        let start = Instant::now();
        timer.prepared(7, start);
        timer.entered(7, true, start + Duration::from_millis(250));
        assert_eq!(*recorded.0.lock().unwrap(), vec![0.25]);
        assert_eq!(timer.timed(), 0);
    }

    #[test]
    fn a_login_records_nothing_and_forgets_the_prepare() {
        let (mut timer, recorded) = timer(Duration::from_secs(30));
        let start = Instant::now();
        timer.prepared(7, start);
        timer.entered(7, false, start);
        timer.entered(8, true, start);
        assert!(recorded.0.lock().unwrap().is_empty());
        assert_eq!(timer.timed(), 0);
    }

    #[test]
    fn a_full_timer_drops_expired_prepares_and_never_grows_past_its_bound() {
        let ttl = Duration::from_secs(30);
        let (mut timer, _) = timer(ttl);
        let start = Instant::now();
        for roleid in 0..TIMED_PREPARES_MAX as u64 {
            timer.prepared(roleid, start);
        }
        // None expired: the new Prepare is not timed.
        timer.prepared(u64::MAX, start + ttl);
        assert_eq!(timer.timed(), TIMED_PREPARES_MAX);
        // All expired: they are dropped and the new one is timed.
        timer.prepared(u64::MAX, start + ttl + Duration::from_millis(1));
        assert_eq!(timer.timed(), 1);
    }
}
