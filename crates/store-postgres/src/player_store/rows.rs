//! The player rows as PostgreSQL reads and writes them inside a batch's
//! transaction (`store::backend::Rows`): the only SQL of the player store's
//! ops. Statements that do not depend on each other go out together, one
//! round trip (a write and its ledger lines, a new role and its sequence).

use std::collections::BTreeSet;

use ownership::Ownership;
use prost::Message;
use routing::{RoleId, Srvno};
use store::backend::{
    self, HoldersPage, Rows, WriteBasis, from_column, holder_columns, holder_from_columns,
    ledger_kind_columns, roleid_column, to_column,
};
use store::{FencedWrite, LedgerEntry, PlayerRecord, RoleExport, TransferMark, WrittenLine};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use wire::node::PlayerData;

use super::statements::Statements;
use crate::connection::{Connection, Failure};

mod transfers;

/// One batch's view of the open transaction.
pub(super) struct Batch<'a> {
    pub(super) connection: &'a Connection,
    pub(super) statements: &'a Statements,
    srvnos: &'a BTreeSet<Srvno>,
}

impl<'a> Batch<'a> {
    pub(super) fn new(
        connection: &'a Connection,
        statements: &'a Statements,
        srvnos: &'a BTreeSet<Srvno>,
    ) -> Self {
        Self {
            connection,
            statements,
            srvnos,
        }
    }
}

impl Rows for Batch<'_> {
    type Failure = Failure;

    fn holds(&self, srvno: Srvno) -> bool {
        self.srvnos.contains(&srvno)
    }

    fn next_role_seq(&mut self, srvno: Srvno) -> Result<u64, Failure> {
        let client = self.connection.client();
        let srvno = i64::from(srvno.get());
        let row = self
            .connection
            .run(client.query_one(&self.statements.select_next_seq, &[&srvno]))?;
        Ok(from_column(row.try_get(0)?))
    }

    fn insert_role(&mut self, record: &PlayerRecord) -> Result<(), Failure> {
        let (client, statements) = (self.connection.client(), self.statements);
        let roleid = record.roleid;
        let sequence: [&(dyn ToSql + Sync); 2] = [
            &i64::from(roleid.home_srvno().get()),
            &to_column(roleid.seq() + 1),
        ];
        let data = record.data.encode_to_vec();
        let row: [&(dyn ToSql + Sync); 7] = [
            &roleid_column(roleid),
            &to_column(record.data.account_id),
            &record.data.name,
            &data,
            &to_column(record.data_version),
            &to_column(record.ownership.epoch),
            &to_column(record.ownership.lease_until_ms),
        ];
        self.connection.run(async {
            tokio::try_join!(
                client.execute(&statements.update_next_seq, &sequence),
                client.execute(&statements.insert_player, &row),
            )
        })?;
        Ok(())
    }

    fn record(&mut self, roleid: RoleId) -> Result<Option<PlayerRecord>, Failure> {
        let client = self.connection.client();
        let statement = &self.statements.select_record;
        let found = self
            .connection
            .run(client.query_opt(statement, &[&roleid_column(roleid)]))?;
        let Some(row) = found else {
            return Ok(None);
        };
        let data: Vec<u8> = row.try_get(0)?;
        Ok(Some(PlayerRecord {
            roleid,
            data: PlayerData::decode(data.as_slice())?,
            data_version: from_column(row.try_get(1)?),
            ownership: decode_ownership(&row, 2)?,
        }))
    }

    fn ownership(&mut self, roleid: RoleId) -> Result<Option<(Ownership, u64)>, Failure> {
        let client = self.connection.client();
        let statement = &self.statements.select_ownership;
        let found = self
            .connection
            .run(client.query_opt(statement, &[&roleid_column(roleid)]))?;
        let Some(row) = found else {
            return Ok(None);
        };
        Ok(Some((
            decode_ownership(&row, 0)?,
            from_column(row.try_get(4)?),
        )))
    }

    fn write_basis(&mut self, roleid: RoleId) -> Result<Option<WriteBasis>, Failure> {
        let client = self.connection.client();
        let statement = &self.statements.select_write_basis;
        let found = self
            .connection
            .run(client.query_opt(statement, &[&roleid_column(roleid)]))?;
        let Some(row) = found else {
            return Ok(None);
        };
        let last_ledger_seq: Option<i64> = row.try_get(5)?;
        Ok(Some(WriteBasis {
            ownership: decode_ownership(&row, 0)?,
            data_version: from_column(row.try_get(4)?),
            last_ledger_seq: last_ledger_seq.map(from_column),
        }))
    }

    fn store_ownership(&mut self, roleid: RoleId, ownership: &Ownership) -> Result<(), Failure> {
        let client = self.connection.client();
        let (node, incarnation) = holder_columns(&ownership.holder);
        let update: [&(dyn ToSql + Sync); 5] = [
            &roleid_column(roleid),
            &node,
            &incarnation,
            &to_column(ownership.epoch),
            &to_column(ownership.lease_until_ms),
        ];
        let changed = self
            .connection
            .run(client.execute(&self.statements.update_ownership, &update))?;
        expect_one_row(changed, roleid)
    }

    fn store_write(
        &mut self,
        write: &FencedWrite,
        data_version: u64,
        ownership: &Ownership,
    ) -> Result<(), Failure> {
        let (client, statements) = (self.connection.client(), self.statements);
        let (node, incarnation) = holder_columns(&ownership.holder);
        let data = write.data.encode_to_vec();
        let update: [&(dyn ToSql + Sync); 8] = [
            &roleid_column(write.roleid),
            &node,
            &incarnation,
            &to_column(ownership.epoch),
            &to_column(ownership.lease_until_ms),
            &data,
            &to_column(data_version),
            &write.data.name,
        ];
        let ledger = LedgerColumns::of(&write.ledger);
        let lines: [&(dyn ToSql + Sync); 9] = [
            &roleid_column(write.roleid),
            &ledger.seqs,
            &ledger.kinds,
            &ledger.item_types,
            &ledger.deltas,
            &ledger.reasons,
            &write.owner.node,
            &to_column(write.owner.incarnation),
            &to_column(write.epoch),
        ];
        let append = async {
            match write.ledger.is_empty() {
                true => Ok(0),
                false => client.execute(&statements.insert_ledger, &lines).await,
            }
        };
        let (changed, _) = self.connection.run(async {
            tokio::try_join!(client.execute(&statements.update_write, &update), append)
        })?;
        expect_one_row(changed, write.roleid)
    }

    fn roles_of_account(&mut self, account_id: u64) -> Result<Vec<(RoleId, PlayerData)>, Failure> {
        let client = self.connection.client();
        let statement = &self.statements.select_roles_of_account;
        self.connection
            .run(client.query(statement, &[&to_column(account_id)]))?
            .iter()
            .map(decode_player)
            .collect()
    }

    fn held_by_node(&mut self, node: &str) -> Result<Vec<(RoleId, Ownership)>, Failure> {
        let client = self.connection.client();
        let statement = &self.statements.select_held_by_node;
        owned_rows(&self.connection.run(client.query(statement, &[&node]))?)
    }

    fn held_elsewhere(
        &mut self,
        db_now_ms: u64,
        page: &HoldersPage<'_>,
    ) -> Result<Vec<(RoleId, Ownership)>, Failure> {
        let client = self.connection.client();
        let limit = i64::try_from(page.limit).unwrap_or(i64::MAX);
        let page: [&(dyn ToSql + Sync); 5] = [
            &to_column(page.first_roleid),
            &to_column(page.last_roleid),
            &page.except_node,
            &to_column(db_now_ms),
            &limit,
        ];
        let statement = &self.statements.select_held_elsewhere;
        owned_rows(&self.connection.run(client.query(statement, &page))?)
    }

    fn inbox(&mut self, roleid: RoleId) -> Result<Vec<wire::node::Gift>, Failure> {
        self.read_inbox(roleid)
    }

    fn insert_inbox(&mut self, gift: &wire::node::Gift) -> Result<(), Failure> {
        self.add_to_inbox(gift)
    }

    fn remove_inbox(&mut self, roleid: RoleId, ids: &[wire::node::GiftId]) -> Result<(), Failure> {
        self.take_from_inbox(roleid, ids)
    }

    fn transfer_mark(&mut self, roleid: RoleId) -> Result<Option<TransferMark>, Failure> {
        self.read_transfer_mark(roleid)
    }

    fn store_transfer_mark(&mut self, roleid: RoleId, mark: &TransferMark) -> Result<(), Failure> {
        self.write_transfer_mark(roleid, mark)
    }

    fn written_ledger(&mut self, roleid: RoleId) -> Result<Vec<WrittenLine>, Failure> {
        self.read_written_ledger(roleid)
    }

    fn insert_imported(&mut self, export: &RoleExport) -> Result<(), Failure> {
        self.insert_imported_role(export)
    }
}

/// The ledger lines of one write as the arrays `INSERT_LEDGER` unnests.
struct LedgerColumns<'a> {
    seqs: Vec<i64>,
    kinds: Vec<&'static str>,
    item_types: Vec<Option<i64>>,
    deltas: Vec<i64>,
    reasons: Vec<&'a str>,
}

impl<'a> LedgerColumns<'a> {
    fn of(lines: &'a [LedgerEntry]) -> Self {
        let (kinds, item_types) = lines
            .iter()
            .map(|line| ledger_kind_columns(&line.kind))
            .unzip();
        Self {
            seqs: lines.iter().map(|line| to_column(line.seq)).collect(),
            kinds,
            item_types,
            deltas: lines.iter().map(|line| line.delta).collect(),
            reasons: lines.iter().map(|line| line.reason.as_str()).collect(),
        }
    }
}

/// `(role, ownership)` of rows that hold the role id, then the ownership
/// columns.
fn owned_rows(rows: &[Row]) -> Result<Vec<(RoleId, Ownership)>, Failure> {
    rows.iter()
        .map(|row| Ok((decode_roleid(row.try_get(0)?)?, decode_ownership(row, 1)?)))
        .collect()
}

/// Reads `owner_node, owner_incarnation, epoch, lease_until_ms` starting at
/// column `first`.
fn decode_ownership(row: &Row, first: usize) -> Result<Ownership, Failure> {
    let node: Option<String> = row.try_get(first)?;
    let holder = holder_from_columns(node, row.try_get(first + 1)?).map_err(Failure)?;
    Ok(Ownership {
        holder,
        epoch: from_column(row.try_get(first + 2)?),
        lease_until_ms: from_column(row.try_get(first + 3)?),
    })
}

/// A row of `SELECT roleid, data FROM players`.
pub(super) fn decode_player(row: &Row) -> Result<(RoleId, PlayerData), Failure> {
    let data: Vec<u8> = row.try_get(1)?;
    let roleid = decode_roleid(row.try_get(0)?)?;
    Ok((roleid, PlayerData::decode(data.as_slice())?))
}

/// A row of `SELECT seq, kind, item_type, delta, reason FROM ledger`.
pub(super) fn decode_ledger_line(row: &Row) -> Result<LedgerEntry, Failure> {
    let kind: String = row.try_get(1)?;
    let kind = backend::ledger_kind_from_columns(&kind, row.try_get(2)?).map_err(Failure)?;
    Ok(LedgerEntry {
        seq: from_column(row.try_get(0)?),
        kind,
        delta: row.try_get(3)?,
        reason: row.try_get(4)?,
    })
}

fn decode_roleid(stored: i64) -> Result<RoleId, Failure> {
    backend::roleid_from_column(stored).map_err(Failure)
}

fn expect_one_row(changed: u64, roleid: RoleId) -> Result<(), Failure> {
    backend::expect_one_row(changed, roleid).map_err(Failure)
}
