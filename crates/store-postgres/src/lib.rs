//! Kuafu's PostgreSQL stores, the distributed mode's databases (DESIGN §3,
//! §5):
//!
//! - [`PostgresPlayerStore`]: a srvno database implementing
//!   `store::PlayerStore`, one transaction per batch, every commit durable,
//!   and [`PostgresPlayerStore::apply_at_db_now`], which judges leases by the
//!   database's own clock;
//! - [`PostgresAccountStore`] and [`PostgresRoutingStore`]: the account
//!   center's and the data center's databases, implementing
//!   `store::AccountStore` and `store::RoutingStore`;
//! - [`PostgresRankStore`]: the rank server's leaderboards, implementing
//!   `store::RankStore`;
//! - [`NodeLock`]: a game server's node lock, a session-level advisory lock
//!   in its srvno database that proves a restarted node's predecessor dead
//!   (`node_lock`);
//! - with the `test-support` feature, `test_support::TestDatabase`: a
//!   uniquely named database for one test, dropped after it.
//!
//! Each database's schema is a list of migrations (`migrations/*/*.sql`)
//! recorded in its `kuafu_schema` table, with the same tables and meaning as
//! the SQLite stores' (the player database adds `node_locks`, the node
//! lock's marker, which the embedded mode does not need). Every store
//! blocks on its own session (see `connection`): it runs on a writer
//! thread or in `spawn_blocking`, like the SQLite stores, and may be
//! dropped anywhere.
//!
//! Architecture invariant: no ownership rule is written here; the player
//! store applies `ownership::Rules` through `store::backend`, as the model
//! and SQLite stores do.

mod account_store;
mod connection;
mod node_lock;
mod player_store;
mod rank_store;
mod routing_store;
mod routing_transfers;
mod schema;
#[cfg(feature = "test-support")]
pub mod test_support;

pub use account_store::PostgresAccountStore;
pub use connection::{
    APPLICATION_NAME, CONNECT_TIMEOUT_MS, DEAD_CLIENT_DETECTED_S, IDLE_IN_TRANSACTION_TIMEOUT_MS,
    KEEPALIVE_IDLE_S, KEEPALIVE_INTERVAL_S, KEEPALIVE_PROBES, ROUND_TRIP_TIMEOUT_MS,
};
pub use node_lock::{
    NODE_LOCK_CLASS, NodeLock, NodeLockError, Probe, StopReason, Verdict, Watch, lock_key,
};
pub use player_store::PostgresPlayerStore;
pub use rank_store::PostgresRankStore;
pub use routing_store::PostgresRoutingStore;
