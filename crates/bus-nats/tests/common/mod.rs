//! What the NATS bus's tests share: the shared NATS server (SERVICES.md: a
//! test fails under `CI=true` when it is unreachable, and elsewhere skips
//! with a printed reason), unique zone names, and waiting for a condition.
//! A private nats-server a test may stop and restart is
//! `test_support::PrivateNats`.

#![allow(dead_code)]

use std::time::Duration;

use bus_nats::{Backoff, NatsBus, NatsBusConfig};

/// The shared NATS server of the development and CI machines.
pub const SHARED_NATS_URL: &str = "nats://127.0.0.1:4222";
/// How long a test step may take before it counts as a hang.
pub const HANG_GUARD: Duration = Duration::from_secs(30);
/// Checks of a condition a test waits for.
pub const WAIT_CHECKS_MAX: u32 = 600;
/// The pause between two checks.
pub const WAIT_CHECK_INTERVAL: Duration = Duration::from_millis(50);

/// A zone name no other test run uses.
pub fn unique_zone(test: &str) -> String {
    test_support::unique_name(test)
}

/// A configuration that tries `url` at most `attempts` times, quickly.
pub fn config(url: &str, zone: &str, client_name: &str, attempts: u64) -> NatsBusConfig {
    NatsBusConfig {
        connect_attempts_max: attempts,
        backoff: Backoff {
            initial_ms: 20,
            max_ms: 200,
        },
        ..NatsBusConfig::new(url, zone, client_name)
    }
}

/// A bus of `zone` on the shared server, or `None` (after saying why) when
/// the server is unreachable outside CI.
pub async fn shared_bus(zone: &str, client_name: &str) -> Option<NatsBus> {
    match NatsBus::connect(&config(SHARED_NATS_URL, zone, client_name, 3)).await {
        Ok(bus) => Some(bus),
        Err(error) => test_support::service_missing(&format!("NATS unreachable: {error}")),
    }
}

/// Waits until `check` holds, checking at most [`WAIT_CHECKS_MAX`] times.
pub async fn wait_until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..WAIT_CHECKS_MAX {
        if check().await {
            return;
        }
        tokio::time::sleep(WAIT_CHECK_INTERVAL).await;
    }
    panic!("{what}: not after {WAIT_CHECKS_MAX} checks");
}
