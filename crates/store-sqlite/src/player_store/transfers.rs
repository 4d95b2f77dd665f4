//! A transfer's rows (DESIGN §7, 转服): the mark on a role's old row, the
//! ledger with its writers for the copy, and the copied row inserted as it
//! was exported (the role id kept, no srvno sequence moved).

use ownership::OwnerId;
use prost::Message;
use routing::{RoleId, Srvno};
use rusqlite::{OptionalExtension, params};
use store::backend::{self, roleid_column};
use store::{RoleExport, TransferMark, WrittenLine};

use super::{Batch, StoredLedgerLine, expect_one_row};
use crate::schema::{Failure, from_column, to_column};

const SELECT_MARK: &str = "SELECT transferred_to, transfer_sealed FROM players WHERE roleid = ?1";
const UPDATE_MARK: &str =
    "UPDATE players SET transferred_to = ?2, transfer_sealed = ?3 WHERE roleid = ?1";
const SELECT_WRITTEN_LEDGER: &str = "SELECT seq, kind, item_type, delta, reason, writer_node, \
     writer_incarnation, writer_epoch FROM ledger WHERE roleid = ?1 ORDER BY seq";
const INSERT_IMPORTED: &str = "INSERT INTO players (roleid, account_id, name, data, \
     data_version, owner_node, owner_incarnation, epoch, lease_until_ms) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
const INSERT_LINE: &str = "INSERT INTO ledger (roleid, seq, kind, item_type, delta, reason, \
     writer_node, writer_incarnation, writer_epoch) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

impl Batch<'_> {
    pub(super) fn read_transfer_mark(
        &self,
        roleid: RoleId,
    ) -> Result<Option<TransferMark>, Failure> {
        let stored = self
            .sql
            .prepare_cached(SELECT_MARK)?
            .query_row([roleid_column(roleid)], |row| {
                Ok((row.get::<_, Option<u32>>(0)?, row.get::<_, bool>(1)?))
            })
            .optional()?;
        let Some((Some(to), sealed)) = stored else {
            return Ok(None);
        };
        let to = Srvno::new(to).map_err(|error| Failure(format!("stored srvno: {error}")))?;
        Ok(Some(TransferMark { to, sealed }))
    }

    pub(super) fn write_transfer_mark(
        &self,
        roleid: RoleId,
        mark: &TransferMark,
    ) -> Result<(), Failure> {
        let changed = self.sql.prepare_cached(UPDATE_MARK)?.execute(params![
            roleid_column(roleid),
            mark.to.get(),
            mark.sealed
        ])?;
        expect_one_row(changed, roleid)
    }

    pub(super) fn read_written_ledger(&self, roleid: RoleId) -> Result<Vec<WrittenLine>, Failure> {
        let mut statement = self.sql.prepare_cached(SELECT_WRITTEN_LEDGER)?;
        let rows = statement.query_map([roleid_column(roleid)], |row| {
            let line = StoredLedgerLine::read(row)?;
            let writer: (Option<String>, Option<i64>, Option<i64>) =
                (row.get(5)?, row.get(6)?, row.get(7)?);
            Ok((line, writer))
        })?;
        rows.map(|row| {
            let (line, writer) = row?;
            let writer = match writer {
                (Some(node), Some(incarnation), Some(epoch)) => {
                    let incarnation = from_column(incarnation);
                    Some((OwnerId { node, incarnation }, from_column(epoch)))
                }
                _ => None,
            };
            Ok(WrittenLine {
                entry: line.decode()?,
                writer,
            })
        })
        .collect()
    }

    pub(super) fn insert_imported_role(&self, export: &RoleExport) -> Result<(), Failure> {
        let record = &export.record;
        let (node, incarnation) = backend::holder_columns(&record.ownership.holder);
        self.sql.prepare_cached(INSERT_IMPORTED)?.execute(params![
            roleid_column(record.roleid),
            to_column(record.data.account_id),
            record.data.name,
            record.data.encode_to_vec(),
            to_column(record.data_version),
            node,
            incarnation,
            to_column(record.ownership.epoch),
            to_column(record.ownership.lease_until_ms),
        ])?;
        let mut insert = self.sql.prepare_cached(INSERT_LINE)?;
        for line in &export.ledger {
            let (kind, item_type) = backend::ledger_kind_columns(&line.entry.kind);
            let writer = line.writer.as_ref();
            insert.execute(params![
                roleid_column(record.roleid),
                to_column(line.entry.seq),
                kind,
                item_type,
                line.entry.delta,
                line.entry.reason,
                writer.map(|(owner, _)| owner.node.as_str()),
                writer.map(|(owner, _)| to_column(owner.incarnation)),
                writer.map(|(_, epoch)| to_column(*epoch)),
            ])?;
        }
        Ok(())
    }
}
