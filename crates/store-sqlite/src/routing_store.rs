//! [`RoutingStore`]: the data center's routing records (`datacenter.db`):
//! the server each role is on now, whether it is online there, and the owner's
//! epoch of that record. The data center core (`datacentercore`) decides which
//! note wins; this store writes what it decided and loads it back at start.
//!
//! A synchronous API over one SQLite connection; the data center node calls
//! it from a blocking thread.

use std::path::Path;

use datacentercore::{Current, CurrentNote};
use routing::RoleId;
use rusqlite::{Connection, TransactionBehavior, params};

use crate::schema::{self, Failure, Schema, from_column, to_column};

/// The data center database's file name in a data directory.
pub const ROUTING_DB_FILE: &str = "datacenter.db";

/// The routing database: its migrations, in order, and its marker table.
const SCHEMA: Schema = Schema {
    kind: "Kuafu data center database",
    migrations: &[
        include_str!("../migrations/routing/0001_current.sql"),
        include_str!("../migrations/routing/0002_epoch.sql"),
    ],
    marker_table: "current_server",
};

const UPSERT_CURRENT: &str = "INSERT INTO current_server (roleid, srvname, online, epoch) \
     VALUES (?1, ?2, ?3, ?4) \
     ON CONFLICT (roleid) DO UPDATE SET srvname = excluded.srvname, online = excluded.online, \
     epoch = excluded.epoch";
const SELECT_ALL: &str =
    "SELECT roleid, srvname, online, epoch FROM current_server ORDER BY roleid";

/// Why a routing operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RoutingError {
    /// The database failed.
    #[error("routing store: {0}")]
    Backend(String),
}

impl From<Failure> for RoutingError {
    fn from(failure: Failure) -> Self {
        Self::Backend(failure.0)
    }
}

impl From<rusqlite::Error> for RoutingError {
    fn from(error: rusqlite::Error) -> Self {
        Failure::from(error).into()
    }
}

/// The routing records of the data center.
pub struct RoutingStore {
    connection: Connection,
}

impl RoutingStore {
    /// Opens (or creates) the routing database at `path` (WAL, full fsync,
    /// schema migrated).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, RoutingError> {
        let connection = schema::open_file(path.as_ref(), &SCHEMA)?;
        Ok(Self { connection })
    }

    /// Checks, creating nothing, that the file at `path` is absent or a
    /// data center database this build can open; the error names the file.
    pub fn check_file(path: impl AsRef<Path>) -> Result<(), RoutingError> {
        Ok(schema::check_file(path.as_ref(), &SCHEMA)?)
    }

    /// Writes `records` in one transaction, each replacing its role's
    /// record. Which notes win is the data center core's decision
    /// (`datacentercore`, ordered by the owner's epoch), not this store's.
    pub fn record(&mut self, records: &[CurrentNote]) -> Result<(), RoutingError> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut upsert = transaction.prepare_cached(UPSERT_CURRENT)?;
            for record in records {
                upsert.execute(params![
                    to_column(record.roleid.get()),
                    record.current.srvname,
                    record.current.online,
                    to_column(record.current.epoch)
                ])?;
            }
        }
        transaction.commit()?;
        Ok(())
    }

    /// Every record, ordered by role id: the data center core's state at
    /// start.
    pub fn load(&self) -> Result<Vec<CurrentNote>, RoutingError> {
        let mut select = self.connection.prepare_cached(SELECT_ALL)?;
        let rows = select.query_map([], |row| {
            let raw: i64 = row.get(0)?;
            let epoch: i64 = row.get(3)?;
            Ok((raw, row.get(1)?, row.get(2)?, epoch))
        })?;
        let mut records = Vec::new();
        for row in rows {
            let (raw, srvname, online, epoch) = row?;
            let roleid = RoleId::from_raw(from_column(raw))
                .map_err(|bad| RoutingError::Backend(format!("stored role id: {bad}")))?;
            let current = Current {
                srvname,
                online,
                epoch: from_column(epoch),
            };
            records.push(CurrentNote { roleid, current });
        }
        Ok(records)
    }
}
