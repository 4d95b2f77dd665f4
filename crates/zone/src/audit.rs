//! The zone's ledger audit: every game server's database, every player's
//! gold and items against its ledger. Safe while the zone runs (SQLite WAL
//! readers do not block the writers).

use routing::Srvno;
use store_sqlite::{AuditReport, SqlitePlayerStore};

use crate::{ZoneConfig, ZoneError};

/// One audit report per game server database, in zone order.
pub fn audit(config: &ZoneConfig) -> Result<Vec<(String, AuditReport)>, ZoneError> {
    config
        .games
        .iter()
        .map(|game| {
            let srvno = Srvno::new(game.srvno).expect("checked by ZoneConfig::check");
            let rules = ownership::Rules::default();
            let store = SqlitePlayerStore::open(config.data_dir.join(&game.db), &[srvno], rules)?;
            Ok((game.name.clone(), store.audit()?))
        })
        .collect()
}
