//! The name, kind and help text of every metric a Kuafu node exports.

/// What a metric is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (`_total`).
    Counter,
    /// A value now.
    Gauge,
    /// A distribution, in buckets.
    Histogram,
}

/// One metric: its name, kind and help text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metric {
    /// The Prometheus name.
    pub name: &'static str,
    /// Its kind.
    pub kind: Kind,
    /// The `# HELP` text.
    pub help: &'static str,
}

const fn metric(name: &'static str, kind: Kind, help: &'static str) -> Metric {
    Metric { name, kind, help }
}

/// Players in the game on a game server now.
pub const PLAYERS_ONLINE: Metric = metric(
    "kuafu_players_online",
    Kind::Gauge,
    "Players in the game on this game server now.",
);
/// Client connections of a game server or the account center now.
pub const CONNECTIONS: Metric = metric(
    "kuafu_connections",
    Kind::Gauge,
    "Client connections of this node (a game server, the account center) now.",
);
/// Players that entered a game server by a login token.
pub const LOGINS: Metric = metric(
    "kuafu_logins_total",
    Kind::Counter,
    "Players that entered this game server by a login token.",
);
/// Players that entered a game server by a crossing token.
pub const CROSSINGS_IN: Metric = metric(
    "kuafu_crossings_in_total",
    Kind::Counter,
    "Players that entered this game server by a crossing.",
);
/// Crossings that left a game server (redirect sent).
pub const CROSSINGS_OUT: Metric = metric(
    "kuafu_crossings_out_total",
    Kind::Counter,
    "Crossings that left this game server (redirect sent).",
);
/// Seconds from a crossing's Prepare to the player entering, on the target.
pub const CROSSING_SECONDS: Metric = metric(
    "kuafu_crossing_seconds",
    Kind::Histogram,
    "Seconds from a crossing's Prepare arriving at this target to the player entering it.",
);
/// Writes of a game server refused by the fence.
pub const FENCED: Metric = metric(
    "kuafu_fenced_writes_total",
    Kind::Counter,
    "Writes of this game server refused by the fence (it was a zombie).",
);
/// Players dropped because their lease could have expired.
pub const LEASES_LOST: Metric = metric(
    "kuafu_leases_lost_total",
    Kind::Counter,
    "Players dropped because their lease could have expired.",
);
/// Batches a player store writer committed.
pub const STORE_BATCHES: Metric = metric(
    "kuafu_store_batches_total",
    Kind::Counter,
    "Batches (one transaction each) the player store writer applied.",
);
/// Ops per store batch.
pub const STORE_BATCH_OPS: Metric = metric(
    "kuafu_store_batch_ops",
    Kind::Histogram,
    "Ops in one batch of the player store writer (group commit).",
);
/// Seconds one store batch took to apply and commit.
pub const STORE_COMMIT_SECONDS: Metric = metric(
    "kuafu_store_commit_seconds",
    Kind::Histogram,
    "Seconds the player store writer took to apply and commit one batch.",
);
/// Bus requests a node made.
pub const BUS_REQUESTS: Metric = metric(
    "kuafu_bus_requests_total",
    Kind::Counter,
    "Bus requests this node made.",
);
/// Bus requests that failed other than by a timeout.
pub const BUS_ERRORS: Metric = metric(
    "kuafu_bus_request_errors_total",
    Kind::Counter,
    "Bus requests of this node that failed other than by a timeout (error replies included).",
);
/// Bus requests that got no answer before their deadline.
pub const BUS_TIMEOUTS: Metric = metric(
    "kuafu_bus_request_timeouts_total",
    Kind::Counter,
    "Bus requests of this node that got no answer before their deadline (outcome unknown).",
);
/// Seconds a bus request took, whatever its outcome.
pub const BUS_REQUEST_SECONDS: Metric = metric(
    "kuafu_bus_request_seconds",
    Kind::Histogram,
    "Seconds a bus request of this node took, whatever its outcome.",
);

/// Password logins and registrations waiting in the account center's queue.
pub const LOGIN_QUEUE_WAITING: Metric = metric(
    "kuafu_login_queue_waiting",
    Kind::Gauge,
    "Password logins and registrations waiting in this account center's queue now.",
);
/// Logins the account center admitted from its queue and has not finished.
pub const LOGIN_HASHING: Metric = metric(
    "kuafu_login_hashing",
    Kind::Gauge,
    "Logins this account center admitted from its queue and has not finished (hashing or ready for a worker).",
);
/// Seconds an admitted login waited in the account center's queue.
pub const LOGIN_QUEUE_SECONDS: Metric = metric(
    "kuafu_login_queue_seconds",
    Kind::Histogram,
    "Seconds each login this account center admitted had waited in its queue.",
);
/// `RetryLater` answers of the account center, labelled by `code`.
pub const LOGIN_REFUSALS: Metric = metric(
    "kuafu_login_refusals_total",
    Kind::Counter,
    "Logins and registrations this account center answered RetryLater, by code.",
);

/// Every metric, for the help texts.
pub const ALL: [Metric; 19] = [
    PLAYERS_ONLINE,
    CONNECTIONS,
    LOGINS,
    CROSSINGS_IN,
    CROSSINGS_OUT,
    CROSSING_SECONDS,
    FENCED,
    LEASES_LOST,
    STORE_BATCHES,
    STORE_BATCH_OPS,
    STORE_COMMIT_SECONDS,
    BUS_REQUESTS,
    BUS_ERRORS,
    BUS_TIMEOUTS,
    BUS_REQUEST_SECONDS,
    LOGIN_QUEUE_WAITING,
    LOGIN_HASHING,
    LOGIN_QUEUE_SECONDS,
    LOGIN_REFUSALS,
];
