//! [`SqliteRoutingStore`]: the embedded mode's [`RoutingStore`], the data
//! center's routing records (`datacenter.db`): the server each role is on
//! now, whether it is online there, and the owner's epoch of that record;
//! and the transfer table (`routing_transfers`).
//! The data center core (`datacentercore`) decides which note wins; this
//! store writes what it decided and loads it back at start.
//!
//! It keeps the player summaries too (`summaries`, migration 3): each
//! role's profile, the owner's order of it and the summary's version.
//!
//! One SQLite connection; the data center node calls it from a blocking
//! thread.

use std::path::Path;

use datacentercore::{Current, CurrentNote, Profile, TransferWrite};
use routing::{RoleId, Router};
use rusqlite::{Connection, Row, Transaction, TransactionBehavior, params};
use store::{RoutingError, RoutingStore, SummaryRecord};

use crate::schema::{self, Failure, Schema, from_column, to_column};

/// The data center database's file name in a data directory.
pub const ROUTING_DB_FILE: &str = "datacenter.db";

/// The routing database: its migrations, in order, and its marker table.
const SCHEMA: Schema = Schema {
    kind: "Kuafu data center database",
    migrations: &[
        include_str!("../migrations/routing/0001_current.sql"),
        include_str!("../migrations/routing/0002_epoch.sql"),
        include_str!("../migrations/routing/0003_summaries.sql"),
        include_str!("../migrations/routing/0004_transfers.sql"),
    ],
    marker_table: "current_server",
};

const UPSERT_CURRENT: &str = "INSERT INTO current_server (roleid, srvname, online, epoch) \
     VALUES (?1, ?2, ?3, ?4) \
     ON CONFLICT (roleid) DO UPDATE SET srvname = excluded.srvname, online = excluded.online, \
     epoch = excluded.epoch";
const SELECT_ALL: &str =
    "SELECT roleid, srvname, online, epoch FROM current_server ORDER BY roleid";
const UPSERT_SUMMARY: &str = "INSERT INTO summaries \
     (roleid, version, epoch, seq, name, level, home_srvno, fields) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
     ON CONFLICT (roleid) DO UPDATE SET version = excluded.version, epoch = excluded.epoch, \
     seq = excluded.seq, name = excluded.name, level = excluded.level, \
     home_srvno = excluded.home_srvno, fields = excluded.fields";
const SELECT_SUMMARIES: &str = "SELECT roleid, version, epoch, seq, name, level, home_srvno, \
     fields FROM summaries ORDER BY roleid";

/// The routing records of the data center, in SQLite.
pub struct SqliteRoutingStore {
    connection: Connection,
}

impl SqliteRoutingStore {
    /// Opens (or creates) the routing database at `path` (WAL, full fsync,
    /// schema migrated).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, RoutingError> {
        let connection = schema::open_file(path.as_ref(), &SCHEMA).map_err(backend)?;
        Ok(Self { connection })
    }

    /// Checks, creating nothing, that the file at `path` is absent or a
    /// data center database this build can open; the error names the file.
    pub fn check_file(path: impl AsRef<Path>) -> Result<(), RoutingError> {
        schema::check_file(path.as_ref(), &SCHEMA).map_err(backend)
    }
}

impl RoutingStore for SqliteRoutingStore {
    fn record_with_summaries(
        &mut self,
        records: &[CurrentNote],
        summaries: &[SummaryRecord],
    ) -> Result<(), RoutingError> {
        record(&mut self.connection, records, summaries).map_err(backend)
    }

    fn load(&mut self) -> Result<Vec<CurrentNote>, RoutingError> {
        load(&self.connection).map_err(backend)
    }

    fn load_summaries(&mut self) -> Result<Vec<SummaryRecord>, RoutingError> {
        load_summaries(&self.connection).map_err(backend)
    }

    fn record_transfer(&mut self, write: &TransferWrite) -> Result<(), RoutingError> {
        crate::routing_transfers::record(&mut self.connection, write).map_err(backend)
    }

    fn load_transfers(&mut self) -> Result<Router, RoutingError> {
        crate::routing_transfers::load(&self.connection).map_err(backend)
    }
}

fn backend(failure: Failure) -> RoutingError {
    RoutingError::Backend(failure.0)
}

/// Writes `records` and `summaries` in one transaction, each replacing its
/// role's record.
fn record(
    connection: &mut Connection,
    records: &[CurrentNote],
    summaries: &[SummaryRecord],
) -> Result<(), Failure> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
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
    record_summaries(&transaction, summaries)?;
    transaction.commit()?;
    Ok(())
}

fn record_summaries(transaction: &Transaction, summaries: &[SummaryRecord]) -> Result<(), Failure> {
    let mut upsert = transaction.prepare_cached(UPSERT_SUMMARY)?;
    for summary in summaries {
        let profile = &summary.profile;
        upsert.execute(params![
            to_column(summary.roleid.get()),
            to_column(summary.version),
            to_column(summary.epoch),
            to_column(summary.seq),
            profile.name,
            profile.level,
            profile.home_srvno,
            store::encode_fields(profile),
        ])?;
    }
    Ok(())
}

/// Every summary record, ordered by role id.
fn load_summaries(connection: &Connection) -> Result<Vec<SummaryRecord>, Failure> {
    let mut select = connection.prepare_cached(SELECT_SUMMARIES)?;
    let rows = select.query_map([], |row| Ok(decode_summary(row)))?;
    let mut summaries = Vec::new();
    for row in rows {
        summaries.push(row??);
    }
    Ok(summaries)
}

fn decode_summary(row: &Row) -> Result<SummaryRecord, Failure> {
    let raw: i64 = row.get(0)?;
    let roleid = RoleId::from_raw(from_column(raw))
        .map_err(|bad| Failure(format!("stored role id: {bad}")))?;
    let fields: Vec<u8> = row.get(7)?;
    let profile = Profile {
        name: row.get(4)?,
        level: row.get(5)?,
        home_srvno: row.get(6)?,
        fields: store::decode_fields(&fields).map_err(Failure)?,
    };
    Ok(SummaryRecord {
        roleid,
        version: from_column(row.get(1)?),
        epoch: from_column(row.get(2)?),
        seq: from_column(row.get(3)?),
        profile,
    })
}

/// Every record, ordered by role id.
fn load(connection: &Connection) -> Result<Vec<CurrentNote>, Failure> {
    let mut select = connection.prepare_cached(SELECT_ALL)?;
    let rows = select.query_map([], |row| {
        let raw: i64 = row.get(0)?;
        let epoch: i64 = row.get(3)?;
        Ok((raw, row.get(1)?, row.get(2)?, epoch))
    })?;
    let mut records = Vec::new();
    for row in rows {
        let (raw, srvname, online, epoch) = row?;
        let roleid = RoleId::from_raw(from_column(raw))
            .map_err(|bad| Failure(format!("stored role id: {bad}")))?;
        let current = Current {
            srvname,
            online,
            epoch: from_column(epoch),
        };
        records.push(CurrentNote { roleid, current });
    }
    Ok(records)
}
