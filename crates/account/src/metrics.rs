//! What the account center records for its `/metrics` (DESIGN §15): the
//! login queue's depth, how long logins waited in it, and every login the
//! account center answered `RetryLater`, by code. The handles come from
//! whoever runs the node (the zone registers them on its registry); the
//! default records nothing.

use metrics::{Counter, Gauge, Histogram};
use wire::client::ErrorCode;

/// The `RetryLater` codes counted each under its own label; any other code
/// is counted under [`OTHER_REFUSAL`].
pub const COUNTED_REFUSALS: [ErrorCode; 5] = [
    ErrorCode::Busy,
    ErrorCode::RateLimited,
    ErrorCode::ServerFull,
    ErrorCode::PlayerBusy,
    ErrorCode::Unavailable,
];
/// The label of a `RetryLater` code not in [`COUNTED_REFUSALS`].
pub const OTHER_REFUSAL: &str = "OTHER";

/// Where the account center records its login admission.
#[derive(Clone, Debug)]
pub struct LoginMetrics {
    /// Password logins and registrations waiting in the queue now.
    pub waiting: Gauge,
    /// Logins admitted from the queue and not yet done (hashing, or ready
    /// for a worker).
    pub hashing: Gauge,
    /// Seconds each admitted login waited in the queue.
    pub queue_seconds: Histogram,
    /// `RetryLater` answers, one counter per code of [`COUNTED_REFUSALS`]
    /// (in that order) and a last one for the others.
    pub refusals: [Counter; COUNTED_REFUSALS.len() + 1],
}

impl Default for LoginMetrics {
    /// Records nothing.
    fn default() -> Self {
        Self {
            waiting: Gauge::noop(),
            hashing: Gauge::noop(),
            queue_seconds: Histogram::noop(),
            refusals: std::array::from_fn(|_| Counter::noop()),
        }
    }
}

impl LoginMetrics {
    /// Counts a `RetryLater` of code `code`.
    pub(crate) fn refused(&self, code: i32) {
        let index = COUNTED_REFUSALS
            .iter()
            .position(|counted| *counted as i32 == code)
            .unwrap_or(COUNTED_REFUSALS.len());
        self.refusals[index].increment(1);
    }

    /// The queue holds `waiting` logins and has admitted `hashing`.
    pub(crate) fn queue_depth(&self, waiting: usize, hashing: usize) {
        self.waiting.set(waiting as f64);
        self.hashing.set(hashing as f64);
    }

    /// A login admitted after `waited_ms` in the queue.
    pub(crate) fn admitted(&self, waited_ms: u64) {
        self.queue_seconds.record(waited_ms as f64 / 1000.0);
    }
}
