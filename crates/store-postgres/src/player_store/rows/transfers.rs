//! A transfer's rows in PostgreSQL (DESIGN §7, 转服): the mark on a role's
//! old row, the ledger with its writers for the copy, and the copied row
//! inserted as it was exported (the role id kept, no srvno sequence
//! moved). Transfers are rare operator steps, so these statements are not
//! prepared ahead.

use ownership::OwnerId;
use prost::Message;
use routing::RoleId;
use store::backend::{from_column, holder_columns, ledger_kind_columns, roleid_column, to_column};
use store::{RoleExport, TransferMark, WrittenLine};
use tokio_postgres::types::ToSql;

use super::{Batch, decode_ledger_line, decode_mark, expect_one_row};
use crate::connection::Failure;

const SELECT_MARK: &str = "SELECT transferred_to, transfer_sealed FROM players WHERE roleid = $1";
const UPDATE_MARK: &str =
    "UPDATE players SET transferred_to = $2, transfer_sealed = $3 WHERE roleid = $1";
const SELECT_WRITTEN_LEDGER: &str = "SELECT seq, kind, item_type, delta, reason, writer_node, \
     writer_incarnation, writer_epoch FROM ledger WHERE roleid = $1 ORDER BY seq";
const INSERT_IMPORTED: &str = "INSERT INTO players (roleid, account_id, name, data, \
     data_version, owner_node, owner_incarnation, epoch, lease_until_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";
const INSERT_LINE: &str = "INSERT INTO ledger (roleid, seq, kind, item_type, delta, reason, \
     writer_node, writer_incarnation, writer_epoch) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)";

impl Batch<'_> {
    pub(super) fn read_transfer_mark(
        &self,
        roleid: RoleId,
    ) -> Result<Option<TransferMark>, Failure> {
        let client = self.connection.client();
        let roleid = roleid_column(roleid);
        let row = self
            .connection
            .run(client.query_opt(SELECT_MARK, &[&roleid]))?;
        match row {
            Some(row) => decode_mark(&row, 0),
            None => Ok(None),
        }
    }

    pub(super) fn write_transfer_mark(
        &self,
        roleid: RoleId,
        mark: &TransferMark,
    ) -> Result<(), Failure> {
        let client = self.connection.client();
        let to = i32::try_from(mark.to.get()).expect("a srvno is at most SRVNO_MAX");
        let columns: [&(dyn ToSql + Sync); 3] = [&roleid_column(roleid), &to, &mark.sealed];
        let changed = self.connection.run(client.execute(UPDATE_MARK, &columns))?;
        expect_one_row(changed, roleid)
    }

    pub(super) fn read_written_ledger(&self, roleid: RoleId) -> Result<Vec<WrittenLine>, Failure> {
        let client = self.connection.client();
        let rows = self
            .connection
            .run(client.query(SELECT_WRITTEN_LEDGER, &[&roleid_column(roleid)]))?;
        rows.iter()
            .map(|row| {
                let node: Option<String> = row.try_get(5)?;
                let incarnation: Option<i64> = row.try_get(6)?;
                let epoch: Option<i64> = row.try_get(7)?;
                let writer = match (node, incarnation, epoch) {
                    (Some(node), Some(incarnation), Some(epoch)) => {
                        let incarnation = from_column(incarnation);
                        Some((OwnerId { node, incarnation }, from_column(epoch)))
                    }
                    _ => None,
                };
                Ok(WrittenLine {
                    entry: decode_ledger_line(row)?,
                    writer,
                })
            })
            .collect()
    }

    pub(super) fn insert_imported_role(&self, export: &RoleExport) -> Result<(), Failure> {
        let client = self.connection.client();
        let record = &export.record;
        let (node, incarnation) = holder_columns(&record.ownership.holder);
        let data = record.data.encode_to_vec();
        let row: [&(dyn ToSql + Sync); 9] = [
            &roleid_column(record.roleid),
            &to_column(record.data.account_id),
            &record.data.name,
            &data,
            &to_column(record.data_version),
            &node,
            &incarnation,
            &to_column(record.ownership.epoch),
            &to_column(record.ownership.lease_until_ms),
        ];
        self.connection.run(client.execute(INSERT_IMPORTED, &row))?;
        for line in &export.ledger {
            let (kind, item_type) = ledger_kind_columns(&line.entry.kind);
            let writer = line.writer.as_ref();
            let writer_node = writer.map(|(owner, _)| owner.node.as_str());
            let writer_incarnation = writer.map(|(owner, _)| to_column(owner.incarnation));
            let writer_epoch = writer.map(|(_, epoch)| to_column(*epoch));
            let columns: [&(dyn ToSql + Sync); 9] = [
                &roleid_column(record.roleid),
                &to_column(line.entry.seq),
                &kind,
                &item_type,
                &line.entry.delta,
                &line.entry.reason,
                &writer_node,
                &writer_incarnation,
                &writer_epoch,
            ];
            self.connection.run(client.execute(INSERT_LINE, &columns))?;
        }
        Ok(())
    }
}
