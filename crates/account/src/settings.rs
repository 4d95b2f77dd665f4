//! The account center's login settings (the zone file's `[login]` table):
//! the hashing pool and its argon2 costs, the login queue, and the attempt
//! limits. Every default is in `zone.example.toml`.

use accountcore::limiter::{LIMITER_ENTRIES_MAX, LimitConfig};
use accountcore::queue::{
    HASH_ESTIMATE_MS, HASH_JOBS_PER_WORKER, LOGIN_QUEUE_MAX, POSITION_UPDATE_INTERVAL_MS,
    QUEUE_GRACE_MS, QueueConfig,
};
use serde::{Deserialize, Serialize};

use crate::HashCost;
use crate::limits::DEVICE_LOGINS_INFLIGHT_MAX;

/// argon2id memory per hash, KiB, by default: 12 MiB with
/// [`ARGON2_ITERATIONS`] passes is one of OWASP's equivalent minimum
/// settings (19 MiB × 2, 12 MiB × 3, 9 MiB × 4, 7 MiB × 5, one lane each).
/// Of those, two workers' blocks at 12 MiB fit together in a 32 MiB shared
/// cache, where two at 19 MiB evict each other, so a pool of one worker per
/// core comes closer to workers ÷ one hash's time (BENCHMARKS.md, login).
pub const ARGON2_MEMORY_KIB: u32 = 12_288;
/// argon2id passes by default (OWASP's minimum at [`ARGON2_MEMORY_KIB`]).
pub const ARGON2_ITERATIONS: u32 = 3;

/// How the account center admits logins.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LoginSettings {
    /// Hashing workers; 0 means one per core.
    pub hash_workers: usize,
    /// Logins started per hashing worker at once: the one it hashes and
    /// the ones ready behind it, so it never idles between two hashes.
    pub hash_jobs_per_worker: usize,
    /// argon2id memory per hash, KiB (OWASP's minimum: 19 456).
    pub argon2_memory_kib: u32,
    /// argon2id passes (OWASP's minimum: 2).
    pub argon2_iterations: u32,
    /// argon2id lanes (OWASP's minimum: 1).
    pub argon2_parallelism: u32,
    /// Password logins and registrations waiting for a worker; one more is
    /// answered `BUSY`.
    pub queue_max: usize,
    /// Least time between two `LoginQueued` updates to one client.
    pub position_update_interval_ms: u64,
    /// The hash time assumed for the expected wait before one is measured.
    pub hash_estimate_ms: u64,
    /// How long a waiting login whose connection dropped keeps its place
    /// for its client to resume with the queue ticket; 0 drops it at once.
    pub queue_grace_ms: u64,
    /// Device-id logins (no hash) checked at once; one more is `BUSY`.
    pub device_logins_inflight_max: usize,
    /// Failed passwords per account in one window before `RATE_LIMITED`.
    pub failures_per_account_max: u32,
    /// Failed passwords per client address in one window.
    pub failures_per_address_max: u32,
    /// How long a failure window lasts (and so the longest lockout).
    pub failure_window_ms: u64,
    /// Registrations per client address in one window.
    pub registrations_per_address_max: u32,
    /// How long a registration window lasts.
    pub registration_window_ms: u64,
    /// Accounts or addresses each limit remembers at most.
    pub limiter_entries_max: usize,
}

impl Default for LoginSettings {
    fn default() -> Self {
        Self {
            hash_workers: 0,
            hash_jobs_per_worker: HASH_JOBS_PER_WORKER,
            argon2_memory_kib: ARGON2_MEMORY_KIB,
            argon2_iterations: ARGON2_ITERATIONS,
            argon2_parallelism: 1,
            queue_max: LOGIN_QUEUE_MAX,
            position_update_interval_ms: POSITION_UPDATE_INTERVAL_MS,
            hash_estimate_ms: HASH_ESTIMATE_MS,
            queue_grace_ms: QUEUE_GRACE_MS,
            device_logins_inflight_max: DEVICE_LOGINS_INFLIGHT_MAX,
            failures_per_account_max: 10,
            failures_per_address_max: 100,
            failure_window_ms: 900_000,
            registrations_per_address_max: 100,
            registration_window_ms: 3_600_000,
            limiter_entries_max: LIMITER_ENTRIES_MAX,
        }
    }
}

impl LoginSettings {
    /// Hashing workers: the setting, or one per core.
    pub fn workers(&self) -> usize {
        match self.hash_workers {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            workers => workers,
        }
    }

    /// The argon2id costs.
    pub fn cost(&self) -> HashCost {
        HashCost {
            memory_kib: self.argon2_memory_kib,
            iterations: self.argon2_iterations,
            parallelism: self.argon2_parallelism,
        }
    }

    /// The login queue's limits.
    pub fn queue(&self) -> QueueConfig {
        QueueConfig {
            hash_workers: self.workers(),
            jobs_per_worker: self.hash_jobs_per_worker,
            waiting_max: self.queue_max,
            position_update_interval_ms: self.position_update_interval_ms,
            hash_estimate_ms: self.hash_estimate_ms,
            grace_ms: self.queue_grace_ms,
        }
    }

    /// The limits on failed passwords per account, per address, and on
    /// registrations per address.
    pub fn limits(&self) -> [LimitConfig; 3] {
        let limit = |events_max, window_ms| LimitConfig {
            events_max,
            window_ms,
            entries_max: self.limiter_entries_max,
        };
        [
            limit(self.failures_per_account_max, self.failure_window_ms),
            limit(self.failures_per_address_max, self.failure_window_ms),
            limit(
                self.registrations_per_address_max,
                self.registration_window_ms,
            ),
        ]
    }
}
