//! The zone's ledger audit: every game server's database, every player's
//! gold and items against its ledger. Safe while the zone runs (SQLite WAL
//! readers do not block the writers; PostgreSQL readers never block). A
//! zone file with a `[distributed]` section is audited in its PostgreSQL
//! player databases, any other in its SQLite files.

use ownership::Rules;
use routing::Srvno;
use store::audit::AuditReport;
use store_postgres::PostgresPlayerStore;
use store_sqlite::SqlitePlayerStore;

use crate::config::GameServerConfig;
use crate::{ZoneConfig, ZoneError};

/// One audit report per game server database, in zone order. Blocks (on
/// PostgreSQL too): call it off an async runtime.
pub fn audit(config: &ZoneConfig) -> Result<Vec<(String, AuditReport)>, ZoneError> {
    config
        .games
        .iter()
        .map(|game| Ok((game.name.clone(), audit_game(config, game)?)))
        .collect()
}

fn audit_game(config: &ZoneConfig, game: &GameServerConfig) -> Result<AuditReport, ZoneError> {
    let srvno = Srvno::new(game.srvno).expect("checked by ZoneConfig::check");
    let Some(distributed) = &config.distributed else {
        let path = config.data_dir.join(&game.db);
        return Ok(SqlitePlayerStore::open(path, &[srvno], Rules::default())?.audit()?);
    };
    let database = distributed.player_database(&game.name)?;
    Ok(PostgresPlayerStore::connect(database, &[srvno], Rules::default())?.audit()?)
}
