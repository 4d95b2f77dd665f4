//! The player rows as PostgreSQL reads and writes them inside a batch's
//! transaction (`store::backend::Rows`): the only SQL of the player store's
//! ops. The rows the batch locked at its start are read from what that
//! round trip returned, and written when it commits (`locked`,
//! `deferred`); any other statement sends the writes owed first.
//! Statements that do not depend on each other go out together, one round
//! trip (a write and its ledger lines, a new role and its sequence).

use std::collections::BTreeSet;

use ownership::Ownership;
use prost::Message;
use routing::{RoleId, Srvno};
use store::backend::{
    self, HoldersPage, Rows, WriteBasis, from_column, holder_columns, holder_from_columns,
    ledger_kind_columns, roleid_column, to_column,
};
use store::{FencedWrite, LedgerEntry, PlayerRecord, RoleExport, TransferMark, WrittenLine};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Row, Statement};
use wire::node::PlayerData;

use super::deferred::{Deferred, Param};
use super::locked::LockedRows;
use super::statements::Statements;
use crate::connection::{Connection, Failure};

mod transfers;

/// One batch's view of the open transaction.
pub(super) struct Batch<'a> {
    pub(super) connection: &'a Connection,
    pub(super) statements: &'a Statements,
    srvnos: &'a BTreeSet<Srvno>,
    locked: LockedRows,
    owed: Deferred,
}

impl<'a> Batch<'a> {
    /// The batch on its open transaction, holding `locked`.
    pub(super) fn new(
        connection: &'a Connection,
        statements: &'a Statements,
        srvnos: &'a BTreeSet<Srvno>,
        locked: LockedRows,
    ) -> Self {
        Self {
            connection,
            statements,
            srvnos,
            locked,
            owed: Deferred::default(),
        }
    }

    /// Commits: the writes owed and `COMMIT` in one round trip.
    pub(super) fn commit(self) -> Result<(), Failure> {
        self.owed.commit(self.connection)
    }

    /// Sends the writes owed, before a statement that must see them.
    fn flush(&mut self) -> Result<(), Failure> {
        self.owed.flush(self.connection)
    }

    /// Owes `statement`, an `UPDATE` of `roleid` (with `more`, statements
    /// that go with it); sent at once unless the row is locked.
    fn write_row(
        &mut self,
        roleid: RoleId,
        update: (&Statement, Vec<Param>),
        more: Option<(&Statement, Vec<Param>)>,
    ) -> Result<(), Failure> {
        self.owed.push(update.0, update.1, Some(roleid));
        if let Some((statement, params)) = more {
            self.owed.push(statement, params, None);
        }
        match self.locked.holds(roleid) {
            true => Ok(()),
            false => self.flush(),
        }
    }
}

impl Rows for Batch<'_> {
    type Failure = Failure;

    fn holds(&self, srvno: Srvno) -> bool {
        self.srvnos.contains(&srvno)
    }

    fn next_role_seq(&mut self, srvno: Srvno) -> Result<u64, Failure> {
        self.flush()?;
        let client = self.connection.client();
        let srvno = i64::from(srvno.get());
        let row = self
            .connection
            .run(client.query_one(&self.statements.select_next_seq, &[&srvno]))?;
        Ok(from_column(row.try_get(0)?))
    }

    fn insert_role(&mut self, record: &PlayerRecord) -> Result<(), Failure> {
        self.flush()?;
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
        if let Some(record) = self.locked.record(roleid) {
            return Ok(Some(record));
        }
        self.flush()?;
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
        if let Some(locked) = self.locked.ownership(roleid) {
            return Ok(Some(locked));
        }
        self.flush()?;
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
        if let Some(basis) = self.locked.write_basis(roleid) {
            return Ok(Some(basis));
        }
        self.flush()?;
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
        self.locked.store_ownership(roleid, ownership);
        let update = (
            &self.statements.update_ownership,
            ownership_params(roleid, ownership),
        );
        self.write_row(roleid, update, None)
    }

    fn store_write(
        &mut self,
        write: &FencedWrite,
        data_version: u64,
        ownership: &Ownership,
    ) -> Result<(), Failure> {
        self.locked.store_write(write, data_version, ownership);
        let statements = self.statements;
        let mut update = ownership_params(write.roleid, ownership);
        update.extend::<[Param; 3]>([
            Box::new(write.data.encode_to_vec()),
            Box::new(to_column(data_version)),
            Box::new(write.data.name.clone()),
        ]);
        let ledger =
            (!write.ledger.is_empty()).then(|| (&statements.insert_ledger, ledger_params(write)));
        self.write_row(write.roleid, (&statements.update_write, update), ledger)
    }

    fn roles_of_account(&mut self, account_id: u64) -> Result<Vec<(RoleId, PlayerData)>, Failure> {
        self.flush()?;
        let client = self.connection.client();
        let statement = &self.statements.select_roles_of_account;
        self.connection
            .run(client.query(statement, &[&to_column(account_id)]))?
            .iter()
            .map(decode_player)
            .collect()
    }

    fn held_by_node(&mut self, node: &str) -> Result<Vec<(RoleId, Ownership)>, Failure> {
        self.flush()?;
        let client = self.connection.client();
        let statement = &self.statements.select_held_by_node;
        owned_rows(&self.connection.run(client.query(statement, &[&node]))?)
    }

    fn held_elsewhere(
        &mut self,
        db_now_ms: u64,
        page: &HoldersPage<'_>,
    ) -> Result<Vec<(RoleId, Ownership)>, Failure> {
        self.flush()?;
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
        if self.locked.inbox_is_empty(roleid) {
            return Ok(Vec::new());
        }
        self.flush()?;
        self.read_inbox(roleid)
    }

    fn insert_inbox(&mut self, gift: &wire::node::Gift) -> Result<(), Failure> {
        self.flush()?;
        self.add_to_inbox(gift)?;
        if let Ok(to) = RoleId::from_raw(gift.to_roleid) {
            self.locked.note_inbox_gift(to);
        }
        Ok(())
    }

    fn remove_inbox(&mut self, roleid: RoleId, ids: &[wire::node::GiftId]) -> Result<(), Failure> {
        self.flush()?;
        self.take_from_inbox(roleid, ids)
    }

    fn transfer_mark(&mut self, roleid: RoleId) -> Result<Option<TransferMark>, Failure> {
        if let Some(mark) = self.locked.transfer_mark(roleid) {
            return Ok(mark);
        }
        self.flush()?;
        self.read_transfer_mark(roleid)
    }

    fn store_transfer_mark(&mut self, roleid: RoleId, mark: &TransferMark) -> Result<(), Failure> {
        self.flush()?;
        self.write_transfer_mark(roleid, mark)?;
        self.locked.store_transfer_mark(roleid, *mark);
        Ok(())
    }

    fn written_ledger(&mut self, roleid: RoleId) -> Result<Vec<WrittenLine>, Failure> {
        self.flush()?;
        self.read_written_ledger(roleid)
    }

    fn insert_imported(&mut self, export: &RoleExport) -> Result<(), Failure> {
        self.flush()?;
        self.insert_imported_role(export)
    }
}

/// The parameters of `UPDATE_OWNERSHIP`, the first five of `UPDATE_WRITE`.
fn ownership_params(roleid: RoleId, ownership: &Ownership) -> Vec<Param> {
    let (node, incarnation) = holder_columns(&ownership.holder);
    vec![
        Box::new(roleid_column(roleid)),
        Box::new(node.map(str::to_owned)),
        Box::new(incarnation),
        Box::new(to_column(ownership.epoch)),
        Box::new(to_column(ownership.lease_until_ms)),
    ]
}

/// The parameters of `INSERT_LEDGER`: the write's lines as the arrays it
/// unnests, and the writer they name.
fn ledger_params(write: &FencedWrite) -> Vec<Param> {
    let lines = &write.ledger;
    let (kinds, item_types): (Vec<&'static str>, Vec<Option<i64>>) = lines
        .iter()
        .map(|line| ledger_kind_columns(&line.kind))
        .unzip();
    let seqs: Vec<i64> = lines.iter().map(|line| to_column(line.seq)).collect();
    let deltas: Vec<i64> = lines.iter().map(|line| line.delta).collect();
    let reasons: Vec<String> = lines.iter().map(|line| line.reason.clone()).collect();
    vec![
        Box::new(roleid_column(write.roleid)),
        Box::new(seqs),
        Box::new(kinds),
        Box::new(item_types),
        Box::new(deltas),
        Box::new(reasons),
        Box::new(write.owner.node.clone()),
        Box::new(to_column(write.owner.incarnation)),
        Box::new(to_column(write.epoch)),
    ]
}

/// `(role, ownership)` of rows that hold the role id, then the ownership
/// columns.
fn owned_rows(rows: &[Row]) -> Result<Vec<(RoleId, Ownership)>, Failure> {
    rows.iter()
        .map(|row| Ok((decode_roleid(row.try_get(0)?)?, decode_ownership(row, 1)?)))
        .collect()
}

/// Reads `transferred_to, transfer_sealed` starting at column `first`: the
/// row's transfer mark, if a transfer marked it.
pub(super) fn decode_mark(row: &Row, first: usize) -> Result<Option<TransferMark>, Failure> {
    let Some(to) = row.try_get::<_, Option<i32>>(first)? else {
        return Ok(None);
    };
    let to = u32::try_from(to).map_err(|_| Failure(format!("stored srvno {to}")))?;
    let to = Srvno::new(to).map_err(|error| Failure(format!("stored srvno: {error}")))?;
    Ok(Some(TransferMark {
        to,
        sealed: row.try_get(first + 1)?,
    }))
}

/// Reads `owner_node, owner_incarnation, epoch, lease_until_ms` starting at
/// column `first`.
pub(super) fn decode_ownership(row: &Row, first: usize) -> Result<Ownership, Failure> {
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

pub(super) fn decode_roleid(stored: i64) -> Result<RoleId, Failure> {
    backend::roleid_from_column(stored).map_err(Failure)
}

pub(super) fn expect_one_row(changed: u64, roleid: RoleId) -> Result<(), Failure> {
    backend::expect_one_row(changed, roleid).map_err(Failure)
}
