//! What Kuafu's tests share, in one place instead of a copy per crate:
//!
//! - [`service_missing`]: the rule for a test whose service (NATS,
//!   PostgreSQL, a binary) is unreachable: under `CI=true` the test fails;
//!   elsewhere it says why it skips, past the test harness's capture.
//! - [`unique_name`]: a database, zone or subject name no other test run
//!   uses, so parallel runs never see each other's data.
//! - [`free_port`]: a loopback port nothing listens on now.
//! - [`eventually`] (and [`eventually_within`], with a bound of the
//!   caller's): waits for an event by checking, with a bound, instead of
//!   sleeping for a guessed time.
//! - [`at_once`]: two pieces of blocking work run at the same time, each on
//!   a thread of its own (for the store contract suites, whose crate starts
//!   no thread).
//! - [`http::get`] and [`http::parse_prometheus`]: an admin listener's
//!   answer, and its metrics read strictly.
//! - [`PrivateNats`]: a nats-server of the test's own, which it may stop,
//!   restart and configure.

pub mod http;
mod nats;

pub use nats::{NATS_SERVER, PrivateNats};

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

/// Runs `first` and `second` at the same time, each on a thread of its
/// own, and answers both results; a panic in either is resumed here.
pub fn at_once<A: Send, B: Send>(
    first: impl FnOnce() -> A + Send,
    second: impl FnOnce() -> B + Send,
) -> (A, B) {
    std::thread::scope(|scope| {
        let first = scope.spawn(first);
        let second = scope.spawn(second);
        (joined(first.join()), joined(second.join()))
    })
}

/// A joined thread's result, its panic resumed.
fn joined<T>(done: std::thread::Result<T>) -> T {
    done.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

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
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    eventually_within(what, EVENTUALLY_WAIT, check).await
}

/// Checks `check` until it returns `Some`, or panics after `wait` naming
/// `what`: for conditions that wait on a timer of the system under test
/// (a lease, a reconnection backoff).
pub async fn eventually_within<T, F, Fut>(what: &str, wait: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + wait;
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
    fn at_once_runs_both_at_the_same_time() {
        // Each waits for the other's message: run one after the other, the
        // first would wait in vain and fail.
        let (to_second, from_first) = std::sync::mpsc::channel();
        let (to_first, from_second) = std::sync::mpsc::channel();
        let answers = at_once(
            move || {
                to_second.send(1).unwrap();
                from_second.recv_timeout(EVENTUALLY_WAIT)
            },
            move || {
                to_first.send(2).unwrap();
                from_first.recv_timeout(EVENTUALLY_WAIT)
            },
        );
        assert_eq!(answers, (Ok(2), Ok(1)));
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

    #[tokio::test]
    #[should_panic(expected = "timed out waiting for a condition that never holds")]
    async fn eventually_within_gives_up_after_its_wait() {
        let never = || async { None::<()> };
        eventually_within(
            "a condition that never holds",
            Duration::from_millis(50),
            never,
        )
        .await;
    }
}
