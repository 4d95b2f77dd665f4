//! [`RoutingStore`]: the data center's routing records (`datacenter.db`):
//! the server each role is on now and whether it is online there.
//!
//! A synchronous API over one SQLite connection; the data center node calls
//! it from a blocking thread.

use std::path::Path;

use routing::RoleId;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::schema::{self, Failure, Schema, to_column};

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
     epoch = excluded.epoch WHERE excluded.epoch >= current_server.epoch";
const SELECT_CURRENT: &str = "SELECT srvname, online FROM current_server WHERE roleid = ?1";

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

/// Where a role is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Current {
    /// The server it is on (or was on last).
    pub srvname: String,
    /// Whether it is online there.
    pub online: bool,
}

/// A note from a player's owner: where the player is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentNote {
    /// The role.
    pub roleid: RoleId,
    /// The server it is on.
    pub srvname: String,
    /// Whether it is online there.
    pub online: bool,
    /// The owner's epoch for the role's row when it wrote the note.
    pub epoch: u64,
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

    /// Records where roles are now, in one transaction. A note older than the
    /// stored one (a lower owner epoch) is ignored, so a late logoff note
    /// never hides a newer arrival; notes of one epoch apply in order.
    pub fn record(&mut self, notes: &[CurrentNote]) -> Result<(), RoutingError> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut upsert = transaction.prepare_cached(UPSERT_CURRENT)?;
            for note in notes {
                upsert.execute(params![
                    to_column(note.roleid.get()),
                    note.srvname,
                    note.online,
                    to_column(note.epoch)
                ])?;
            }
        }
        transaction.commit()?;
        Ok(())
    }

    /// Where `roleid` is now, if it was ever recorded.
    pub fn current(&self, roleid: RoleId) -> Result<Option<Current>, RoutingError> {
        let current = self
            .connection
            .prepare_cached(SELECT_CURRENT)?
            .query_row([to_column(roleid.get())], |row| {
                Ok(Current {
                    srvname: row.get(0)?,
                    online: row.get(1)?,
                })
            })
            .optional()?;
        Ok(current)
    }
}
