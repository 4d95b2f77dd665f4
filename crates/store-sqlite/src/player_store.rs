//! The SQLite srvno database: [`SqlitePlayerStore`], the production
//! [`PlayerStore`] of the embedded mode (DESIGN §3, §5).
//!
//! [`PlayerStore::apply`] runs the whole batch in one `BEGIN IMMEDIATE`
//! transaction, so one fsync commits every op of the batch (group commit).
//! The ops run through `store::backend::apply_in_transaction` (the same
//! code as the model store's): this file only reads and writes rows
//! (`store::backend::Rows`). A
//! refused op writes nothing and the batch goes on; a SQLite failure fails the
//! whole batch, every op answering `StoreError::Backend`. A failure at
//! `COMMIT` leaves the outcome unknown: the caller reads back before acting.
//!
//! Unsigned columns (incarnation, epoch, versions, times) hold the bit pattern
//! of the `u64` in SQLite's signed INTEGER (see `schema::to_column`).

use std::collections::BTreeSet;
use std::path::Path;

use ownership::{Ownership, Rules};
use prost::Message;
use routing::{ROLE_SEQ_MAX, RoleId, Srvno};
use rusqlite::{Connection, OptionalExtension, Row, TransactionBehavior, params};
use store::audit::{AuditReport, EPOCHS_GOING_BACK, EPOCHS_WITH_TWO_WRITERS, LINES_WITHOUT_WRITER};
use store::backend::{self, HoldersPage, Rows, WriteBasis, roleid_column};
use store::{
    FencedWrite, LedgerEntry, OpOutcome, PlayerOp, PlayerRecord, PlayerStore, RoleExport,
    StoreError, TransferMark, WrittenLine,
};
use wire::node::PlayerData;

use crate::schema::{self, Failure, Schema, from_column, to_column};

mod holders;
mod inbox;
mod transfers;

/// The player database: its migrations, in order, and its marker table.
const SCHEMA: Schema = Schema {
    kind: "Kuafu player (srvno) database",
    migrations: &[
        include_str!("../migrations/player/0001_players.sql"),
        include_str!("../migrations/player/0002_ledger_writer.sql"),
        include_str!("../migrations/player/0003_inbox.sql"),
        include_str!("../migrations/player/0004_transfers.sql"),
    ],
    marker_table: "players",
};

const INSERT_ROLE_SEQ: &str =
    "INSERT INTO role_seq (srvno, next_seq) VALUES (?1, 1) ON CONFLICT (srvno) DO NOTHING";
const SELECT_NEXT_SEQ: &str = "SELECT next_seq FROM role_seq WHERE srvno = ?1";
const UPDATE_NEXT_SEQ: &str = "UPDATE role_seq SET next_seq = ?2 WHERE srvno = ?1";
const ADVANCE_NEXT_SEQ: &str = "UPDATE role_seq SET next_seq = MAX(next_seq, ?2) \
     WHERE srvno = ?1 RETURNING next_seq";
const INSERT_PLAYER: &str = "INSERT INTO players (roleid, account_id, name, data, \
     data_version, owner_node, owner_incarnation, epoch, lease_until_ms) \
     VALUES (?1, ?2, ?3, ?4, ?5, NULL, NULL, ?6, ?7)";
const SELECT_OWNERSHIP: &str = "SELECT owner_node, owner_incarnation, epoch, lease_until_ms, \
     data_version FROM players WHERE roleid = ?1";
const SELECT_WRITE_BASIS: &str = "SELECT owner_node, owner_incarnation, epoch, lease_until_ms, \
     data_version, (SELECT MAX(seq) FROM ledger WHERE roleid = ?1) FROM players WHERE roleid = ?1";
const SELECT_RECORD: &str = "SELECT data, data_version, owner_node, owner_incarnation, epoch, \
     lease_until_ms FROM players WHERE roleid = ?1";
const UPDATE_OWNERSHIP: &str = "UPDATE players SET owner_node = ?2, owner_incarnation = ?3, \
     epoch = ?4, lease_until_ms = ?5 WHERE roleid = ?1";
const UPDATE_WRITE: &str = "UPDATE players SET owner_node = ?2, owner_incarnation = ?3, \
     epoch = ?4, lease_until_ms = ?5, data = ?6, data_version = ?7, name = ?8 WHERE roleid = ?1";
const SELECT_ROLES_OF_ACCOUNT: &str =
    "SELECT roleid, data FROM players WHERE account_id = ?1 ORDER BY roleid";
const INSERT_LEDGER: &str = "INSERT INTO ledger (roleid, seq, kind, item_type, delta, reason, \
     writer_node, writer_incarnation, writer_epoch) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
const SELECT_ALL_PLAYERS: &str = "SELECT roleid, data FROM players ORDER BY roleid";
const SELECT_LEDGER: &str =
    "SELECT seq, kind, item_type, delta, reason FROM ledger WHERE roleid = ?1 ORDER BY seq";

/// One srvno database (or a merged group of srvnos) in a SQLite file.
pub struct SqlitePlayerStore {
    connection: Connection,
    rules: Rules,
    srvnos: BTreeSet<Srvno>,
    /// Whether commits wait for the disk now (`synchronous=FULL`, as opened).
    synchronous_full: bool,
}

impl SqlitePlayerStore {
    /// Opens (or creates) the database file at `path` holding `srvnos`:
    /// WAL, `synchronous=FULL`, schema migrated; a srvno seen for the first
    /// time starts its role sequence at 1, one seen before keeps its own.
    pub fn open(
        path: impl AsRef<Path>,
        srvnos: &[Srvno],
        rules: Rules,
    ) -> Result<Self, StoreError> {
        let connection = schema::open_file(path.as_ref(), &SCHEMA).map_err(backend_error)?;
        Self::with_connection(connection, srvnos, rules)
    }

    /// Checks, creating nothing, that the file at `path` is absent or a
    /// player database this build can open; the error names the file.
    pub fn check_file(path: impl AsRef<Path>) -> Result<(), StoreError> {
        schema::check_file(path.as_ref(), &SCHEMA).map_err(backend_error)
    }

    /// A private in-memory database holding `srvnos` (for the simulator's
    /// comparison with the model store); it is gone when dropped.
    pub fn open_in_memory(srvnos: &[Srvno], rules: Rules) -> Result<Self, StoreError> {
        let connection = schema::open_memory(SCHEMA.migrations).map_err(backend_error)?;
        Self::with_connection(connection, srvnos, rules)
    }

    fn with_connection(
        connection: Connection,
        srvnos: &[Srvno],
        rules: Rules,
    ) -> Result<Self, StoreError> {
        for srvno in srvnos {
            connection
                .execute(INSERT_ROLE_SEQ, [i64::from(srvno.get())])
                .map_err(|error| backend_error(error.into()))?;
        }
        Ok(Self {
            connection,
            rules,
            srvnos: srvnos.iter().copied().collect(),
            synchronous_full: true,
        })
    }

    /// The ledger of `roleid` in sequence order (empty for an unknown role).
    pub fn ledger(&self, roleid: RoleId) -> Result<Vec<LedgerEntry>, StoreError> {
        self.read_ledger(roleid).map_err(backend_error)
    }

    fn read_ledger(&self, roleid: RoleId) -> Result<Vec<LedgerEntry>, Failure> {
        let mut statement = self.connection.prepare_cached(SELECT_LEDGER)?;
        let rows = statement.query_map([roleid_column(roleid)], StoredLedgerLine::read)?;
        rows.map(|line| line?.decode()).collect()
    }

    /// Audits every player of this database against its ledger
    /// (`store::audit::audit_player`); returns how many roles and ledger
    /// lines were read, and every mismatch found.
    pub fn audit(&self) -> Result<AuditReport, StoreError> {
        self.audit_rows().map_err(backend_error)
    }

    fn audit_rows(&self) -> Result<AuditReport, Failure> {
        let mut report = AuditReport::default();
        let mut statement = self.connection.prepare_cached(SELECT_ALL_PLAYERS)?;
        let rows = statement.query_map([], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
        })?;
        for row in rows {
            let (roleid, data) = row?;
            let roleid = decode_roleid(roleid)?;
            let data = PlayerData::decode(data.as_slice())?;
            report.add(roleid, &data, &self.read_ledger(roleid)?);
        }
        report.lines_without_writer = from_column(self.connection.query_row(
            LINES_WITHOUT_WRITER,
            [],
            |row| row.get(0),
        )?);
        report.epochs_with_two_writers = self.role_numbers(EPOCHS_WITH_TWO_WRITERS)?;
        report.epochs_going_back = self.role_numbers(EPOCHS_GOING_BACK)?;
        Ok(report)
    }

    /// The `(role, number)` rows `sql` answers.
    fn role_numbers(&self, sql: &str) -> Result<Vec<(RoleId, u64)>, Failure> {
        let mut statement = self.connection.prepare(sql)?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        rows.map(|row| {
            let (roleid, number): (i64, i64) = row?;
            Ok((decode_roleid(roleid)?, from_column(number)))
        })
        .collect()
    }

    /// Moves the role sequence of `srvno` up to `next_seq` (never down, and at
    /// most to exhaustion); returns the sequence now in force. The operators'
    /// tool after restoring an older copy of the database: it skips the ids
    /// handed out after the copy was taken, so none is reused.
    pub fn advance_role_seq(&mut self, srvno: Srvno, next_seq: u64) -> Result<u64, StoreError> {
        if !self.srvnos.contains(&srvno) {
            return Err(StoreError::WrongDatabase(srvno));
        }
        let target = to_column(next_seq.min(ROLE_SEQ_MAX + 1));
        let advanced =
            self.connection
                .prepare_cached(ADVANCE_NEXT_SEQ)
                .and_then(|mut statement| {
                    statement.query_row(params![i64::from(srvno.get()), target], |row| row.get(0))
                });
        advanced
            .map(from_column)
            .map_err(|error| backend_error(error.into()))
    }

    /// Runs the batch in one write transaction; `Err` fails every op.
    fn apply_batch(
        &mut self,
        db_now_ms: u64,
        ops: &[PlayerOp],
    ) -> Result<Vec<Result<OpOutcome, StoreError>>, Failure> {
        self.wait_for_disk(ops.iter().any(PlayerOp::must_be_durable_before_answer))?;
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut batch = Batch {
            sql: &transaction,
            srvnos: &self.srvnos,
        };
        let results = backend::apply_in_transaction(&mut batch, self.rules, db_now_ms, ops)?;
        transaction
            .commit()
            .map_err(|error| Failure(format!("commit failed, outcome unknown: {error}")))?;
        Ok(results)
    }
}

impl SqlitePlayerStore {
    /// Sets whether the next commit waits for the disk (`synchronous=FULL`)
    /// or not (`NORMAL`: in WAL mode, durable against a process crash and
    /// made durable by the next FULL commit). Changed only when it differs.
    fn wait_for_disk(&mut self, full: bool) -> Result<(), Failure> {
        if self.synchronous_full != full {
            let level = if full { "FULL" } else { "NORMAL" };
            self.connection.pragma_update(None, "synchronous", level)?;
            self.synchronous_full = full;
        }
        Ok(())
    }
}

impl PlayerStore for SqlitePlayerStore {
    fn apply(&mut self, db_now_ms: u64, ops: &[PlayerOp]) -> Vec<Result<OpOutcome, StoreError>> {
        backend::answer_batch(ops, || {
            self.apply_batch(db_now_ms, ops).map_err(backend_error)
        })
    }
}

/// One batch's view of the open transaction.
struct Batch<'a> {
    sql: &'a Connection,
    srvnos: &'a BTreeSet<Srvno>,
}

impl Rows for Batch<'_> {
    type Failure = Failure;

    fn holds(&self, srvno: Srvno) -> bool {
        self.srvnos.contains(&srvno)
    }

    fn next_role_seq(&mut self, srvno: Srvno) -> Result<u64, Failure> {
        let next_seq: i64 = self
            .sql
            .prepare_cached(SELECT_NEXT_SEQ)?
            .query_row([i64::from(srvno.get())], |row| row.get(0))?;
        Ok(from_column(next_seq))
    }

    fn insert_role(&mut self, record: &PlayerRecord) -> Result<(), Failure> {
        let roleid = record.roleid;
        self.sql.prepare_cached(UPDATE_NEXT_SEQ)?.execute(params![
            i64::from(roleid.home_srvno().get()),
            to_column(roleid.seq() + 1)
        ])?;
        self.sql.prepare_cached(INSERT_PLAYER)?.execute(params![
            roleid_column(roleid),
            to_column(record.data.account_id),
            record.data.name,
            record.data.encode_to_vec(),
            to_column(record.data_version),
            to_column(record.ownership.epoch),
            to_column(record.ownership.lease_until_ms),
        ])?;
        Ok(())
    }

    fn record(&mut self, roleid: RoleId) -> Result<Option<PlayerRecord>, Failure> {
        let stored = self
            .sql
            .prepare_cached(SELECT_RECORD)?
            .query_row([roleid_column(roleid)], |row| {
                let data = row.get::<_, Vec<u8>>(0)?;
                Ok((data, row.get::<_, i64>(1)?, StoredOwnership::read(row, 2)?))
            })
            .optional()?;
        let Some((data, data_version, ownership)) = stored else {
            return Ok(None);
        };
        Ok(Some(PlayerRecord {
            roleid,
            data: PlayerData::decode(data.as_slice())?,
            data_version: from_column(data_version),
            ownership: ownership.decode()?,
        }))
    }

    fn ownership(&mut self, roleid: RoleId) -> Result<Option<(Ownership, u64)>, Failure> {
        let stored = self
            .sql
            .prepare_cached(SELECT_OWNERSHIP)?
            .query_row([roleid_column(roleid)], |row| {
                Ok((StoredOwnership::read(row, 0)?, row.get::<_, i64>(4)?))
            })
            .optional()?;
        stored
            .map(|(ownership, data_version)| Ok((ownership.decode()?, from_column(data_version))))
            .transpose()
    }

    fn write_basis(&mut self, roleid: RoleId) -> Result<Option<WriteBasis>, Failure> {
        let stored = self
            .sql
            .prepare_cached(SELECT_WRITE_BASIS)?
            .query_row([roleid_column(roleid)], |row| {
                let ownership = StoredOwnership::read(row, 0)?;
                Ok((
                    ownership,
                    row.get::<_, i64>(4)?,
                    row.get::<_, Option<i64>>(5)?,
                ))
            })
            .optional()?;
        let Some((ownership, data_version, last_ledger_seq)) = stored else {
            return Ok(None);
        };
        Ok(Some(WriteBasis {
            ownership: ownership.decode()?,
            data_version: from_column(data_version),
            last_ledger_seq: last_ledger_seq.map(from_column),
        }))
    }

    fn store_ownership(&mut self, roleid: RoleId, ownership: &Ownership) -> Result<(), Failure> {
        let (node, incarnation) = backend::holder_columns(&ownership.holder);
        let changed = self.sql.prepare_cached(UPDATE_OWNERSHIP)?.execute(params![
            roleid_column(roleid),
            node,
            incarnation,
            to_column(ownership.epoch),
            to_column(ownership.lease_until_ms),
        ])?;
        expect_one_row(changed, roleid)
    }

    fn store_write(
        &mut self,
        write: &FencedWrite,
        data_version: u64,
        ownership: &Ownership,
    ) -> Result<(), Failure> {
        let (node, incarnation) = backend::holder_columns(&ownership.holder);
        let changed = self.sql.prepare_cached(UPDATE_WRITE)?.execute(params![
            roleid_column(write.roleid),
            node,
            incarnation,
            to_column(ownership.epoch),
            to_column(ownership.lease_until_ms),
            write.data.encode_to_vec(),
            to_column(data_version),
            write.data.name,
        ])?;
        expect_one_row(changed, write.roleid)?;
        self.append_ledger(write)
    }

    fn roles_of_account(&mut self, account_id: u64) -> Result<Vec<(RoleId, PlayerData)>, Failure> {
        let mut statement = self.sql.prepare_cached(SELECT_ROLES_OF_ACCOUNT)?;
        let rows = statement.query_map([to_column(account_id)], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
        })?;
        rows.map(|row| {
            let (roleid, data) = row?;
            Ok((decode_roleid(roleid)?, PlayerData::decode(data.as_slice())?))
        })
        .collect()
    }

    fn held_by_node(&mut self, node: &str) -> Result<Vec<(RoleId, Ownership)>, Failure> {
        self.rows_held_by_node(node)
    }

    fn held_elsewhere(
        &mut self,
        db_now_ms: u64,
        page: &HoldersPage<'_>,
    ) -> Result<Vec<(RoleId, Ownership)>, Failure> {
        self.rows_held_elsewhere(db_now_ms, page)
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

impl Batch<'_> {
    /// Appends the write's ledger lines, each naming the write's owner and
    /// epoch.
    fn append_ledger(&self, write: &FencedWrite) -> Result<(), Failure> {
        if write.ledger.is_empty() {
            return Ok(());
        }
        let mut statement = self.sql.prepare_cached(INSERT_LEDGER)?;
        for line in &write.ledger {
            let (kind, item_type) = backend::ledger_kind_columns(&line.kind);
            statement.execute(params![
                roleid_column(write.roleid),
                to_column(line.seq),
                kind,
                item_type,
                line.delta,
                line.reason,
                write.owner.node,
                to_column(write.owner.incarnation),
                to_column(write.epoch),
            ])?;
        }
        Ok(())
    }
}

/// The ownership columns of a row as stored.
struct StoredOwnership {
    node: Option<String>,
    incarnation: Option<i64>,
    epoch: i64,
    lease_until_ms: i64,
}

impl StoredOwnership {
    /// Reads `owner_node, owner_incarnation, epoch, lease_until_ms` starting
    /// at column `first`.
    fn read(row: &Row<'_>, first: usize) -> rusqlite::Result<Self> {
        Ok(Self {
            node: row.get(first)?,
            incarnation: row.get(first + 1)?,
            epoch: row.get(first + 2)?,
            lease_until_ms: row.get(first + 3)?,
        })
    }

    fn decode(self) -> Result<Ownership, Failure> {
        let holder = backend::holder_from_columns(self.node, self.incarnation).map_err(Failure)?;
        Ok(Ownership {
            holder,
            epoch: from_column(self.epoch),
            lease_until_ms: from_column(self.lease_until_ms),
        })
    }
}

/// A ledger line as stored.
struct StoredLedgerLine {
    seq: i64,
    kind: String,
    item_type: Option<i64>,
    delta: i64,
    reason: String,
}

impl StoredLedgerLine {
    fn read(row: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            seq: row.get(0)?,
            kind: row.get(1)?,
            item_type: row.get(2)?,
            delta: row.get(3)?,
            reason: row.get(4)?,
        })
    }

    fn decode(self) -> Result<LedgerEntry, Failure> {
        let kind =
            backend::ledger_kind_from_columns(&self.kind, self.item_type).map_err(Failure)?;
        Ok(LedgerEntry {
            seq: from_column(self.seq),
            kind,
            delta: self.delta,
            reason: self.reason,
        })
    }
}

fn decode_roleid(stored: i64) -> Result<RoleId, Failure> {
    backend::roleid_from_column(stored).map_err(Failure)
}

fn expect_one_row(changed: usize, roleid: RoleId) -> Result<(), Failure> {
    let changed = u64::try_from(changed).unwrap_or(u64::MAX);
    backend::expect_one_row(changed, roleid).map_err(Failure)
}

fn backend_error(failure: Failure) -> StoreError {
    StoreError::Backend(failure.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synchronous(store: &SqlitePlayerStore) -> i64 {
        store
            .connection
            .pragma_query_value(None, "synchronous", |row| row.get(0))
            .unwrap()
    }

    /// SQLite's `synchronous` levels.
    const NORMAL: i64 = 1;
    const FULL: i64 = 2;

    #[test]
    fn only_batches_of_claims_renewals_and_reads_skip_waiting_for_the_disk() {
        let directory = tempfile::tempdir().unwrap();
        let srvno = Srvno::new(1).unwrap();
        let mut store =
            SqlitePlayerStore::open(directory.path().join("srv1.db"), &[srvno], Rules::default())
                .unwrap();
        assert_eq!(synchronous(&store), FULL, "as opened");
        let create = PlayerOp::CreateRole {
            srvno,
            account_id: 1,
            name: "a".into(),
        };
        let Ok(OpOutcome::Created(record)) = store.apply(0, &[create]).remove(0) else {
            panic!("created")
        };
        assert_eq!(synchronous(&store), FULL);
        let owner = ownership::OwnerId {
            node: "gs1".into(),
            incarnation: 1,
        };
        let claim = PlayerOp::Claim {
            roleid: record.roleid,
            owner: owner.clone(),
            lease_ttl_ms: 1_000,
        };
        assert!(store.apply(0, &[claim]).remove(0).is_ok());
        assert_eq!(synchronous(&store), NORMAL, "a claim alone need not wait");
        let save = PlayerOp::Save(store::FencedWrite {
            roleid: record.roleid,
            owner,
            epoch: 1,
            base_version: record.data_version,
            data: record.data,
            ledger: Vec::new(),
        });
        assert!(store.apply(0, &[save]).remove(0).is_ok());
        assert_eq!(synchronous(&store), FULL, "a save waits for the disk");
    }
}
