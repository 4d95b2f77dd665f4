//! The transfer table in the data center's SQLite database (DESIGN §7):
//! one row per transferred role, with the table version that recorded it.

use datacentercore::TransferWrite;
use routing::{RoleId, Router, Srvno, Transfer};
use rusqlite::{Connection, OptionalExtension, params};

use crate::schema::{Failure, from_column, to_column};

const UPSERT_TRANSFER: &str = "INSERT INTO transfers (roleid, to_srvno, from_srvno, version) \
     VALUES (?1, ?2, ?3, ?4) \
     ON CONFLICT (roleid) DO UPDATE SET to_srvno = excluded.to_srvno, \
     from_srvno = excluded.from_srvno, version = excluded.version";
const SELECT_TRANSFERS: &str = "SELECT roleid, to_srvno, from_srvno FROM transfers ORDER BY roleid";
const SELECT_VERSION: &str = "SELECT MAX(version) FROM transfers";

/// Writes `write` in one durable transaction.
pub(crate) fn record(connection: &mut Connection, write: &TransferWrite) -> Result<(), Failure> {
    let transaction = connection.transaction()?;
    let transfer = write.transfer;
    transaction
        .prepare_cached(UPSERT_TRANSFER)?
        .execute(params![
            to_column(transfer.roleid.get()),
            transfer.to.get(),
            transfer.from.get(),
            to_column(write.version)
        ])?;
    transaction.commit()?;
    Ok(())
}

/// The whole table.
pub(crate) fn load(connection: &Connection) -> Result<Router, Failure> {
    let version: Option<i64> = connection
        .prepare_cached(SELECT_VERSION)?
        .query_row([], |row| row.get(0))
        .optional()?
        .flatten();
    let mut select = connection.prepare_cached(SELECT_TRANSFERS)?;
    let rows = select.query_map([], |row| {
        let raw: i64 = row.get(0)?;
        Ok((raw, row.get::<_, u32>(1)?, row.get::<_, u32>(2)?))
    })?;
    let mut transfers = Vec::new();
    for row in rows {
        let (raw, to, from) = row?;
        let bad = |what: &str, error: routing::IdError| Failure(format!("stored {what}: {error}"));
        transfers.push(Transfer {
            roleid: RoleId::from_raw(from_column(raw)).map_err(|e| bad("role id", e))?,
            to: Srvno::new(to).map_err(|e| bad("srvno", e))?,
            from: Srvno::new(from).map_err(|e| bad("srvno", e))?,
        });
    }
    let version = version.map_or(0, from_column);
    Router::from_snapshot(version, transfers).map_err(|error| Failure(error.to_string()))
}
