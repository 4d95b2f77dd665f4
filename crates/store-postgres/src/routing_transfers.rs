//! The transfer table in the data center's PostgreSQL database (DESIGN §7):
//! one row per transferred role, with the table version that recorded it;
//! the same table as the SQLite backend's.

use datacentercore::TransferWrite;
use routing::{Router, Srvno, Transfer};
use store::backend::{from_column, roleid_column, roleid_from_column, to_column};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::connection::{Connection, Failure};

const UPSERT_TRANSFER: &str = "INSERT INTO transfers (roleid, to_srvno, from_srvno, version) \
     VALUES ($1, $2, $3, $4) \
     ON CONFLICT (roleid) DO UPDATE SET to_srvno = excluded.to_srvno, \
     from_srvno = excluded.from_srvno, version = excluded.version";
const SELECT_TRANSFERS: &str = "SELECT roleid, to_srvno, from_srvno FROM transfers ORDER BY roleid";
const SELECT_VERSION: &str = "SELECT COALESCE(MAX(version), 0) FROM transfers";

/// Writes `write` (one statement: its own transaction, waiting for the disk).
pub(crate) fn record(connection: &mut Connection, write: &TransferWrite) -> Result<(), Failure> {
    connection.ensure_open()?;
    let transfer = write.transfer;
    let (to, from) = (srvno_column(transfer.to), srvno_column(transfer.from));
    let columns: [&(dyn ToSql + Sync); 4] = [
        &roleid_column(transfer.roleid),
        &to,
        &from,
        &to_column(write.version),
    ];
    let client = connection.client();
    connection.run(client.execute(UPSERT_TRANSFER, &columns))?;
    Ok(())
}

/// The whole table.
pub(crate) fn load(connection: &mut Connection) -> Result<Router, Failure> {
    connection.ensure_open()?;
    let client = connection.client();
    let version = connection.run(client.query_one(SELECT_VERSION, &[]))?;
    let version: i64 = version.try_get(0)?;
    let rows = connection.run(client.query(SELECT_TRANSFERS, &[]))?;
    let transfers = rows.iter().map(decode).collect::<Result<Vec<_>, _>>()?;
    Router::from_snapshot(from_column(version), transfers)
        .map_err(|error| Failure(error.to_string()))
}

fn decode(row: &Row) -> Result<Transfer, Failure> {
    let srvno = |index: usize| -> Result<Srvno, Failure> {
        let raw: i32 = row.try_get(index)?;
        let raw = u32::try_from(raw).map_err(|_| Failure(format!("stored srvno {raw}")))?;
        Srvno::new(raw).map_err(|error| Failure(format!("stored srvno: {error}")))
    };
    Ok(Transfer {
        roleid: roleid_from_column(row.try_get(0)?).map_err(Failure)?,
        to: srvno(1)?,
        from: srvno(2)?,
    })
}

fn srvno_column(srvno: Srvno) -> i32 {
    i32::try_from(srvno.get()).expect("a srvno is at most SRVNO_MAX")
}
