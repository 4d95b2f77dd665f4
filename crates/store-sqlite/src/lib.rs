//! Kuafu's SQLite stores, the embedded mode's databases (DESIGN §3, §5):
//!
//! - [`SqlitePlayerStore`]: a srvno database implementing
//!   `store::PlayerStore`, one transaction per batch;
//! - [`PlayerStoreWriter`]: the async handle of a player store (this one,
//!   or any `store::ClockedPlayerStore`, PostgreSQL's too), a thread that
//!   group-commits the ops submitted concurrently;
//! - [`SqliteAccountStore`] (`account.db`) and [`SqliteRoutingStore`]
//!   (`datacenter.db`), implementing `store::AccountStore` and
//!   `store::RoutingStore`;
//! - [`SqliteRankStore`] (`rank.db`), implementing `store::RankStore`.
//!
//! Every database runs in WAL mode with `synchronous=FULL`, and its schema is
//! a list of migrations (`migrations/*/*.sql`) recorded in `user_version`.
//! The one exception: a player-store batch holding only claims, lease
//! renewals and reads commits with `synchronous=NORMAL` (see
//! `store::PlayerOp::must_be_durable_before_answer`), so a crossing waits for
//! one fsync, the handoff's, not two.
//!
//! Architecture invariant: no ownership rule is written here; the player
//! store applies `ownership::Rules` through `store::backend`, as the model
//! store does.

mod account_store;
mod player_store;
mod rank_store;
mod routing_store;
mod routing_transfers;
mod schema;
mod writer;

pub use account_store::{ACCOUNT_DB_FILE, SqliteAccountStore};
pub use player_store::SqlitePlayerStore;
pub use rank_store::{RANK_DB_FILE, SqliteRankStore};
pub use routing_store::{ROUTING_DB_FILE, SqliteRoutingStore};
pub use store::audit::AuditReport;
pub use writer::{OnSystemClock, PlayerStoreWriter, WRITER_QUEUE_OPS_MAX, WriterMetrics};
