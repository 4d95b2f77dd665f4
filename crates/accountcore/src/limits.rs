//! Every named limit of the account center's core in one place (issue 11,
//! "limits as data"): the defaults of [`crate::Config`], of the login queue
//! ([`crate::queue::QueueConfig`]) and of the attempt limiter
//! ([`crate::limiter::LimitConfig`]). Relations between them are checked
//! below at compile time.

/// Default of [`crate::Config::login_candidates_max`]: the role's server,
/// the recommended one and one more. Each candidate may cost a bus
/// deadline, so `(1 + candidates) × deadline` should stay under the
/// clients' request timeout.
pub const LOGIN_CANDIDATES_MAX: usize = 3;
/// Default of [`crate::Config::logins_max`]: logins the core decides at
/// once. Each has at most one request to a peer in flight, so this bounds
/// the core's calls and the shell's request tasks too.
pub const LOGINS_MAX: usize = 4_096;
/// Default of [`crate::Config::server_full_memory_ms`].
pub const SERVER_FULL_MEMORY_MS: u64 = 5_000;

/// Default of [`crate::queue::QueueConfig::waiting_max`].
pub const LOGIN_QUEUE_MAX: usize = 10_000;
/// Default of [`crate::queue::QueueConfig::position_update_interval_ms`].
pub const POSITION_UPDATE_INTERVAL_MS: u64 = 1_000;
/// Default of [`crate::queue::QueueConfig::hash_estimate_ms`]: one argon2id
/// hash at OWASP's minimum parameters on a current core, roughly.
pub const HASH_ESTIMATE_MS: u64 = 50;
/// Default of [`crate::queue::QueueConfig::grace_ms`]: long enough for a
/// phone to find its network again and reconnect, short enough that a place
/// nobody comes back for is soon given up.
pub const QUEUE_GRACE_MS: u64 = 30_000;

/// Default of [`crate::limiter::LimitConfig::entries_max`].
pub const LIMITER_ENTRIES_MAX: usize = 100_000;

// ----- Relations, checked when the crate compiles -----

// A login tries at least one server, and the core takes at least one login.
const _: () = assert!(LOGIN_CANDIDATES_MAX > 0 && LOGINS_MAX > 0);
// The queue and the limiter hold something; an estimate is never zero.
const _: () = assert!(LOGIN_QUEUE_MAX > 0 && LIMITER_ENTRIES_MAX > 0 && HASH_ESTIMATE_MS > 0);
