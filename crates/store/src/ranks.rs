//! [`RankStore`]: the rank server's leaderboards (DESIGN §10): every role's
//! entry on every board (score, arrival, the version that set it) and each
//! board's latest snapshot. The rank core (`rankcore`) decides every change;
//! this store writes what it decided, one durable transaction per batch,
//! and loads it back at start.
//!
//! The embedded mode keeps it in SQLite (`store-sqlite`), the distributed
//! mode in PostgreSQL (`store-postgres`); both pass the rank contract suite
//! (`contract::ranks`). The API is synchronous: the rank node calls it off
//! its async threads.

use rankcore::{RankState, RankWrite};

/// Why a rank store operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RankStoreError {
    /// The database failed (its message names the database), or what it
    /// holds is not a ranking.
    #[error("rank store: {0}")]
    Backend(String),
}

/// The leaderboards of the rank server.
pub trait RankStore: Send {
    /// Writes `write` in one durable transaction: each entry replaces its
    /// board and role's entry, each snapshot replaces its board's snapshot
    /// (when an entry or a board appears twice, the later one stays).
    fn write(&mut self, write: &RankWrite) -> Result<(), RankStoreError>;

    /// Everything: entries ordered by board then role id, and each board's
    /// latest snapshot ordered by board.
    fn load(&mut self) -> Result<RankState, RankStoreError>;
}
