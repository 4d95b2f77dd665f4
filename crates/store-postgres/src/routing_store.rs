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
//!
//! It keeps the player summaries too (`summaries`, migration 2), written
//! in the same transaction as the batch's current-server records.

use std::collections::BTreeMap;
use std::fmt;

use datacentercore::{Current, CurrentNote, Profile, TransferWrite};
use routing::Router;
use store::backend::{from_column, roleid_column, roleid_from_column, to_column};
use store::{RoutingError, RoutingStore, SummaryRecord};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::connection::{Connection, Failure};
use crate::schema::{self, Schema};

/// The data center database: its migrations, in order.
const SCHEMA: Schema = Schema {
    kind: "Kuafu data center database",
    migrations: &[
        include_str!("../migrations/routing/0001_current.sql"),
        include_str!("../migrations/routing/0002_summaries.sql"),
        include_str!("../migrations/routing/0003_transfers.sql"),
    ],
};

const UPSERT_CURRENT: &str = "INSERT INTO current_server (roleid, srvname, online, epoch) \
     SELECT * FROM unnest($1::BIGINT[], $2::TEXT[], $3::BOOLEAN[], $4::BIGINT[]) \
     ON CONFLICT (roleid) DO UPDATE SET srvname = excluded.srvname, online = excluded.online, \
     epoch = excluded.epoch";
const SELECT_ALL: &str =
    "SELECT roleid, srvname, online, epoch FROM current_server ORDER BY roleid";
const UPSERT_SUMMARIES: &str = "INSERT INTO summaries \
     (roleid, version, epoch, seq, name, level, home_srvno, fields) \
     SELECT * FROM unnest($1::BIGINT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], \
     $5::TEXT[], $6::BIGINT[], $7::BIGINT[], $8::BYTEA[]) \
     ON CONFLICT (roleid) DO UPDATE SET version = excluded.version, epoch = excluded.epoch, \
     seq = excluded.seq, name = excluded.name, level = excluded.level, \
     home_srvno = excluded.home_srvno, fields = excluded.fields";
const SELECT_SUMMARIES: &str = "SELECT roleid, version, epoch, seq, name, level, home_srvno, \
     fields FROM summaries ORDER BY roleid";

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
    fn record_with_summaries(
        &mut self,
        records: &[CurrentNote],
        summaries: &[SummaryRecord],
    ) -> Result<(), RoutingError> {
        if records.is_empty() && summaries.is_empty() {
            return Ok(());
        }
        let current = CurrentColumns::new(records);
        let summaries = SummaryColumns::new(summaries);
        let written = self.connection.ensure_open().and_then(|()| {
            let connection = &self.connection;
            let client = connection.client();
            let upsert_current =
                || connection.run(client.execute(UPSERT_CURRENT, &current.params()));
            let upsert_summaries =
                || connection.run(client.execute(UPSERT_SUMMARIES, &summaries.params()));
            // One statement is a transaction of its own; both need one.
            match (current.roleids.is_empty(), summaries.roleids.is_empty()) {
                (false, true) => upsert_current(),
                (true, false) => upsert_summaries(),
                _ => {
                    connection.in_transaction(|| upsert_current().and_then(|_| upsert_summaries()))
                }
            }
        });
        written.map(drop).map_err(|failure| self.error(failure))
    }

    fn load(&mut self) -> Result<Vec<CurrentNote>, RoutingError> {
        self.load_all(SELECT_ALL, decode_record)
    }

    fn load_summaries(&mut self) -> Result<Vec<SummaryRecord>, RoutingError> {
        self.load_all(SELECT_SUMMARIES, decode_summary)
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

impl PostgresRoutingStore {
    /// Every row `select` reads, decoded.
    fn load_all<T>(
        &mut self,
        select: &str,
        decode: fn(&Row) -> Result<T, Failure>,
    ) -> Result<Vec<T>, RoutingError> {
        let loaded = self.connection.ensure_open().and_then(|()| {
            let rows = self
                .connection
                .run(self.connection.client().query(select, &[]))?;
            rows.iter().map(decode).collect()
        });
        loaded.map_err(|failure| self.error(failure))
    }
}

/// A batch's current-server records as the upsert's arrays. One upsert may
/// not touch a row twice: the later record of a role stays, as when each
/// is written in turn.
struct CurrentColumns {
    roleids: Vec<i64>,
    srvnames: Vec<String>,
    online: Vec<bool>,
    epochs: Vec<i64>,
}

impl CurrentColumns {
    fn new(records: &[CurrentNote]) -> Self {
        let last: BTreeMap<i64, &Current> = records
            .iter()
            .map(|note| (roleid_column(note.roleid), &note.current))
            .collect();
        Self {
            roleids: last.keys().copied().collect(),
            srvnames: last
                .values()
                .map(|current| current.srvname.clone())
                .collect(),
            online: last.values().map(|current| current.online).collect(),
            epochs: last
                .values()
                .map(|current| to_column(current.epoch))
                .collect(),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 4] {
        [&self.roleids, &self.srvnames, &self.online, &self.epochs]
    }
}

/// A batch's summary records as the upsert's arrays, the later of a role's
/// kept.
struct SummaryColumns {
    roleids: Vec<i64>,
    versions: Vec<i64>,
    epochs: Vec<i64>,
    seqs: Vec<i64>,
    names: Vec<String>,
    levels: Vec<i64>,
    home_srvnos: Vec<i64>,
    fields: Vec<Vec<u8>>,
}

impl SummaryColumns {
    fn new(summaries: &[SummaryRecord]) -> Self {
        let last: BTreeMap<i64, &SummaryRecord> = summaries
            .iter()
            .map(|summary| (roleid_column(summary.roleid), summary))
            .collect();
        let column = |value: fn(&SummaryRecord) -> u64| -> Vec<i64> {
            last.values()
                .map(|summary| to_column(value(summary)))
                .collect()
        };
        Self {
            roleids: last.keys().copied().collect(),
            versions: column(|summary| summary.version),
            epochs: column(|summary| summary.epoch),
            seqs: column(|summary| summary.seq),
            names: last
                .values()
                .map(|summary| summary.profile.name.clone())
                .collect(),
            levels: column(|summary| u64::from(summary.profile.level)),
            home_srvnos: column(|summary| u64::from(summary.profile.home_srvno)),
            fields: last
                .values()
                .map(|summary| store::encode_fields(&summary.profile))
                .collect(),
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 8] {
        [
            &self.roleids,
            &self.versions,
            &self.epochs,
            &self.seqs,
            &self.names,
            &self.levels,
            &self.home_srvnos,
            &self.fields,
        ]
    }
}

fn decode_summary(row: &Row) -> Result<SummaryRecord, Failure> {
    let fields: Vec<u8> = row.try_get(7)?;
    let small = |index: usize| -> Result<u32, Failure> {
        let stored: i64 = row.try_get(index)?;
        u32::try_from(stored)
            .map_err(|_| Failure(format!("stored summary column {index}: {stored}")))
    };
    Ok(SummaryRecord {
        roleid: roleid_from_column(row.try_get(0)?).map_err(Failure)?,
        version: from_column(row.try_get(1)?),
        epoch: from_column(row.try_get(2)?),
        seq: from_column(row.try_get(3)?),
        profile: Profile {
            name: row.try_get(4)?,
            level: small(5)?,
            home_srvno: small(6)?,
            fields: store::decode_fields(&fields).map_err(Failure)?,
        },
    })
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
