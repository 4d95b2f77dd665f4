//! [`PostgresRoutingStore`]: the distributed mode's [`RoutingStore`], the
//! data center's routing records in PostgreSQL, with the same table and
//! meaning as the SQLite one (`store-sqlite`), and the transfer table
//! (`routing_transfers`).
//!
//! A batch of records is one statement (the batch's columns as arrays,
//! `unnest`ed into an upsert), so it is one transaction and one round trip
//! whatever its size. It blocks on the store's own session (see
//! `connection`): the data center calls it off its async threads. A session
//! the server ended is replaced at the next call.

use std::collections::BTreeMap;
use std::fmt;

use datacentercore::{Current, CurrentNote, TransferWrite};
use routing::Router;
use store::backend::{from_column, roleid_column, roleid_from_column, to_column};
use store::{RoutingError, RoutingStore};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::connection::{Connection, Failure};
use crate::schema::{self, Schema};

/// The data center database: its migrations, in order.
const SCHEMA: Schema = Schema {
    kind: "Kuafu data center database",
    migrations: &[
        include_str!("../migrations/routing/0001_current.sql"),
        include_str!("../migrations/routing/0003_transfers.sql"),
    ],
};

const UPSERT_CURRENT: &str = "INSERT INTO current_server (roleid, srvname, online, epoch) \
     SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::BOOLEAN[], $4::BIGINT[]) \
     ON CONFLICT (roleid) DO UPDATE SET srvname = excluded.srvname, online = excluded.online, \
     epoch = excluded.epoch";
const SELECT_ALL: &str =
    "SELECT roleid, srvname, online, epoch FROM current_server ORDER BY roleid";

/// The routing records of the data center, in PostgreSQL.
///
/// Its methods block; call them off the async runtime (`spawn_blocking`).
/// It may be dropped anywhere.
pub struct PostgresRoutingStore {
    connection: Connection,
}

impl PostgresRoutingStore {
    /// Connects to the database `config` names (a libpq-style `key=value`
    /// string or a `postgresql://` URL), its schema migrated. Every error
    /// names the database.
    pub fn connect(config: &str) -> Result<Self, RoutingError> {
        let connection = Connection::open(config).map_err(backend)?;
        schema::migrate(&connection, &SCHEMA)
            .map_err(|failure| backend(failure.naming(connection.name())))?;
        Ok(Self { connection })
    }

    fn error(&self, failure: Failure) -> RoutingError {
        backend(failure.naming(self.connection.name()))
    }
}

impl fmt::Debug for PostgresRoutingStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresRoutingStore")
            .field("database", &self.connection.name())
            .finish_non_exhaustive()
    }
}

impl RoutingStore for PostgresRoutingStore {
    fn record(&mut self, records: &[CurrentNote]) -> Result<(), RoutingError> {
        if records.is_empty() {
            return Ok(());
        }
        // One upsert may not touch a row twice: the later record of a role
        // stays, as when each is written in turn.
        let last: BTreeMap<i64, &Current> = records
            .iter()
            .map(|note| (roleid_column(note.roleid), &note.current))
            .collect();
        let roleids: Vec<i64> = last.keys().copied().collect();
        let srvnames: Vec<&str> = last
            .values()
            .map(|current| current.srvname.as_str())
            .collect();
        let online: Vec<bool> = last.values().map(|current| current.online).collect();
        let epochs: Vec<i64> = last
            .values()
            .map(|current| to_column(current.epoch))
            .collect();
        let written = self.connection.ensure_open().and_then(|()| {
            let client = self.connection.client();
            let columns: [&(dyn ToSql + Sync); 4] = [&roleids, &srvnames, &online, &epochs];
            self.connection
                .run(client.execute(UPSERT_CURRENT, &columns))
        });
        written.map(drop).map_err(|failure| self.error(failure))
    }

    fn load(&mut self) -> Result<Vec<CurrentNote>, RoutingError> {
        let loaded = self.connection.ensure_open().and_then(|()| {
            let rows = self
                .connection
                .run(self.connection.client().query(SELECT_ALL, &[]))?;
            rows.iter().map(decode_record).collect()
        });
        loaded.map_err(|failure| self.error(failure))
    }

    fn record_transfer(&mut self, write: &TransferWrite) -> Result<(), RoutingError> {
        let written = crate::routing_transfers::record(&mut self.connection, write);
        written.map_err(|failure| self.error(failure))
    }

    fn load_transfers(&mut self) -> Result<Router, RoutingError> {
        let loaded = crate::routing_transfers::load(&mut self.connection);
        loaded.map_err(|failure| self.error(failure))
    }
}

fn decode_record(row: &Row) -> Result<CurrentNote, Failure> {
    Ok(CurrentNote {
        roleid: roleid_from_column(row.try_get(0)?).map_err(Failure)?,
        current: Current {
            srvname: row.try_get(1)?,
            online: row.try_get(2)?,
            epoch: from_column(row.try_get(3)?),
        },
    })
}

fn backend(failure: Failure) -> RoutingError {
    RoutingError::Backend(failure.0)
}
