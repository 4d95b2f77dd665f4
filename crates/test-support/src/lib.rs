//! What Kuafu's tests share, in one place instead of a copy per crate:
//!
//! - [`service_missing`]: the rule for a test whose service (NATS,
//!   PostgreSQL, a binary) is unreachable: under `CI=true` the test fails;
//!   elsewhere it says why it skips, past the test harness's capture.
//! - [`unique_name`]: a database, zone or subject name no other test run
//!   uses, so parallel runs never see each other's data.
//! - [`free_port`]: a loopback port nothing listens on now.
//! - [`eventually`]: waits for an event by checking, with a bound, instead
//!   of sleeping for a guessed time.
//! - [`http::get`] and [`http::parse_prometheus`]: an admin listener's
//!   answer, and its metrics read strictly.
//! - [`nats::PrivateNats`]: a nats-server of the test's own, which it may
//!   stop, restart and configure.

pub mod http;
pub mod nats;

use std::io::Write;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Longest a test waits for an eventual condition.
pub const EVENTUALLY_WAIT: Duration = Duration::from_secs(10);
/// The pause between two checks of an eventual condition.
pub const EVENTUALLY_CHECK_INTERVAL: Duration = Duration::from_millis(20);
/// Characters of the caller's purpose kept in a unique name.
pub const PURPOSE_CHARS_MAX: usize = 24;

/// Whether this run is CI's (`CI=true`), where a missing service fails.
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|ci| ci == "true")
}

/// A service a test needs is missing (`what` says which and why): under CI
/// this panics, failing the test; elsewhere it prints why the test skips
/// and answers `None`, which the test returns on.
pub fn service_missing<T>(what: &str) -> Option<T> {
    assert!(
        !under_ci(),
        "{what} (CI=true: a test that needs a service fails without it)"
    );
    let _ = writeln!(
        std::io::stderr(),
        "skipped: {what}; under CI=true this test fails instead"
    );
    None
}

/// `<purpose>_<process>_<count>_<time>`: lower-case ASCII letters, digits
/// and underscores, unique across test runs and within one.
pub fn unique_name(purpose: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let purpose: String = purpose
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(PURPOSE_CHARS_MAX)
        .collect();
    let count = NEXT.fetch_add(1, Ordering::Relaxed);
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros()
        % 1_000_000_000_000;
    format!("{purpose}_{}_{count}_{micros}", std::process::id())
}

/// A loopback port nothing listens on now (another process may take it
/// before the caller binds it; tests that can use port 0 should).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    listener.local_addr().expect("a bound address").port()
}

/// Checks `check` until it returns `Some`, or panics after
/// [`EVENTUALLY_WAIT`] naming `what`.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + EVENTUALLY_WAIT;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(EVENTUALLY_CHECK_INTERVAL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_names_differ_and_keep_to_safe_characters() {
        let first = unique_name("Zone Test-1");
        let second = unique_name("Zone Test-1");
        assert_ne!(first, second);
        assert!(first.starts_with("zone_test_1_"), "{first}");
        assert!(
            first
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{first}"
        );
    }

    #[test]
    fn a_free_port_can_be_bound() {
        let port = free_port();
        assert!(TcpListener::bind(("127.0.0.1", port)).is_ok());
    }

    #[tokio::test]
    async fn eventually_returns_the_first_value_found() {
        let mut checks = 0;
        let found = eventually("the third check", || {
            checks += 1;
            let now = checks;
            async move { (now == 3).then_some(now) }
        })
        .await;
        assert_eq!(found, 3);
    }
}
