//! Retrying what the server says can succeed later (docs/protocol.md,
//! section 7, the "retry" column): capped exponential backoff with full
//! jitter, never sooner than the server's `retry_after_ms`.
//!
//! Attempt `n` (from 0) waits a uniformly random time in
//! `0..=min(cap, base × 2ⁿ)` (full jitter, so clients refused together do
//! not come back together), added to the server's `retry_after` when it gave
//! one; at most [`RetryPolicy::attempts_max`] attempts in all.

use std::time::Duration;

use wire::client::ErrorCode;

use crate::ClientError;

/// Default of [`RetryPolicy::attempts_max`].
pub const RETRY_ATTEMPTS_MAX: u32 = 8;

/// How often and how patiently to retry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The first backoff's ceiling.
    pub base: Duration,
    /// No backoff's ceiling exceeds this.
    pub cap: Duration,
    /// Attempts in all, the first included.
    pub attempts_max: u32,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(5),
            attempts_max: RETRY_ATTEMPTS_MAX,
        }
    }
}

/// The error codes the protocol marks retryable: the same request can
/// succeed later unchanged.
pub const RETRYABLE_CODES: [ErrorCode; 7] = [
    ErrorCode::Busy,
    ErrorCode::ServerFull,
    ErrorCode::PlayerBusy,
    ErrorCode::Overloaded,
    ErrorCode::RateLimited,
    ErrorCode::ServerDown,
    ErrorCode::Unavailable,
];

impl ClientError {
    /// Whether the same request can succeed later: a server error whose code
    /// the protocol marks retryable.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ClientError::Server { code, .. } if RETRYABLE_CODES.contains(code))
    }
}

/// The wait before retry number `attempt` (0 for the first retry); `unit`
/// is a uniform random number in `0.0..=1.0`.
pub fn backoff(
    policy: &RetryPolicy,
    attempt: u32,
    retry_after: Option<Duration>,
    unit: f64,
) -> Duration {
    let doubling = 2u32.saturating_pow(attempt.min(31));
    let ceiling = policy.base.saturating_mul(doubling).min(policy.cap);
    let jitter = ceiling.mul_f64(unit.clamp(0.0, 1.0));
    retry_after.unwrap_or(Duration::ZERO).saturating_add(jitter)
}

/// Runs `operation` until it succeeds, fails in a way that is not
/// retryable, or has been tried `policy.attempts_max` times; waits
/// [`backoff`] between attempts.
pub async fn with_retry<T, F, Fut>(policy: &RetryPolicy, mut operation: F) -> Result<T, ClientError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ClientError>>,
{
    let mut attempt = 0;
    loop {
        match operation().await {
            Err(error) if error.is_retryable() && attempt + 1 < policy.attempts_max => {
                let retry_after = match &error {
                    ClientError::Server { retry_after, .. } => *retry_after,
                    _ => None,
                };
                let wait = backoff(policy, attempt, retry_after, rand::random::<f64>());
                tracing::debug!(%error, ?wait, attempt, "retrying");
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}
