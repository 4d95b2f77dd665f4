//! The PostgreSQL srvno database: [`PostgresPlayerStore`], the
//! [`PlayerStore`] of the distributed mode (DESIGN §3, §5).
//!
//! A batch is one transaction. Its first round trip pipelines `BEGIN`, the
//! row locks of every row the batch writes (in role id order), the read of
//! those rows (`locked.rs`) and, for
//! [`PostgresPlayerStore::apply_at_db_now`], the database's clock read after
//! those locks; then the ops run through `store::backend::apply_in_transaction`,
//! the code the model and SQLite stores run (this crate only reads and
//! writes rows, `rows.rs`), on the rows read; then their writes and
//! `COMMIT` go out together (`deferred.rs`). A batch of claims, writes and
//! renewals of existing rows is two round trips. A refused op writes nothing and
//! the batch goes on; a PostgreSQL failure rolls the whole batch back, every
//! op answering `StoreError::Backend`. A failure at `COMMIT` leaves the
//! outcome unknown: the caller reads back before acting.
//!
//! Every commit waits for the disk (`synchronous_commit=on` in every
//! session): unlike the embedded mode, where the crash that loses a claim
//! also stops its claimant, a PostgreSQL server can restart under a node
//! that goes on serving, so no batch skips the wait (DESIGN §5).
//!
//! A session the server ended (a restart, an administrator) is replaced at
//! the next batch; when the batch's first round trip finds it ended, the
//! batch starts again once on a new session (nothing of it ran).

mod deferred;
mod inbox;
mod locked;
mod rows;
mod statements;

use std::collections::BTreeSet;
use std::fmt;

use ownership::Rules;
use routing::{ROLE_SEQ_MAX, RoleId, Srvno};
use store::audit::{AuditReport, EPOCHS_GOING_BACK, EPOCHS_WITH_TWO_WRITERS, LINES_WITHOUT_WRITER};
use store::backend::{self, from_column, roleid_column, to_column};
use store::{ClockedPlayerStore, LedgerEntry, OpOutcome, PlayerOp, PlayerStore, StoreError};
use tokio_postgres::types::ToSql;

use crate::connection::{Connection, Failure};
use crate::schema::{self, Schema};
use locked::LockedRows;
use rows::{Batch, decode_ledger_line, decode_player};
use statements::Statements;

/// The player database: its migrations, in order.
const SCHEMA: Schema = Schema {
    kind: "Kuafu player (srvno) database",
    migrations: &[
        include_str!("../migrations/player/0001_players.sql"),
        include_str!("../migrations/player/0002_ledger_writer.sql"),
        include_str!("../migrations/player/0003_node_locks.sql"),
        include_str!("../migrations/player/0004_inbox.sql"),
        include_str!("../migrations/player/0005_transfers.sql"),
    ],
};

const SELECT_ALL_PLAYERS: &str = "SELECT roleid, data FROM players ORDER BY roleid";
const INSERT_ROLE_SEQ: &str =
    "INSERT INTO role_seq (srvno, next_seq) VALUES ($1, 1) ON CONFLICT (srvno) DO NOTHING";

/// One srvno database (or a merged group of srvnos) in PostgreSQL.
///
/// Its methods block; call them off the async runtime (a store writer
/// thread, or `spawn_blocking`), and drop the store there too.
pub struct PostgresPlayerStore {
    connection: Connection,
    statements: Statements,
    rules: Rules,
    srvnos: BTreeSet<Srvno>,
}

impl PostgresPlayerStore {
    /// Connects to the database `config` names (a libpq-style `key=value`
    /// string or a `postgresql://` URL) holding `srvnos`: schema migrated; a
    /// srvno seen for the first time starts its role sequence at 1, one seen
    /// before keeps its own. Every error names the database.
    pub fn connect(config: &str, srvnos: &[Srvno], rules: Rules) -> Result<Self, StoreError> {
        let connection = Connection::open(config).map_err(backend_error)?;
        let name = connection.name().to_owned();
        Self::prepare(connection, srvnos, rules)
            .map_err(|failure| backend_error(failure.naming(&name)))
    }

    fn prepare(connection: Connection, srvnos: &[Srvno], rules: Rules) -> Result<Self, Failure> {
        schema::migrate(&connection, &SCHEMA)?;
        let client = connection.client();
        for srvno in srvnos {
            let srvno = i64::from(srvno.get());
            connection.run(client.execute(INSERT_ROLE_SEQ, &[&srvno]))?;
        }
        let statements = connection.run(Statements::prepare(client))?;
        Ok(Self {
            connection,
            statements,
            rules,
            srvnos: srvnos.iter().copied().collect(),
        })
    }

    /// Applies `ops` like [`PlayerStore::apply`], at the database's own
    /// clock: `clock_timestamp()` read inside the batch's transaction once
    /// its rows are locked. The production entry: every node then judges
    /// leases by one clock, the database's (DESIGN §5).
    pub fn apply_at_db_now(&mut self, ops: &[PlayerOp]) -> Vec<Result<OpOutcome, StoreError>> {
        self.apply_batch(None, ops)
    }

    /// How many round trips to the database this store has made: what a
    /// batch costs beyond its commit's wait for the disk.
    pub fn round_trips(&self) -> u64 {
        self.connection.round_trips()
    }

    /// The ledger of `roleid` in sequence order (empty for an unknown role).
    pub fn ledger(&self, roleid: RoleId) -> Result<Vec<LedgerEntry>, StoreError> {
        let client = self.connection.client();
        let statement = &self.statements.select_ledger;
        let lines = self
            .connection
            .run(client.query(statement, &[&roleid_column(roleid)]))
            .map_err(|failure| self.error(failure))?;
        lines
            .iter()
            .map(decode_ledger_line)
            .collect::<Result<_, _>>()
            .map_err(|failure| self.error(failure))
    }

    /// Audits every player of this database against its ledger
    /// (`store::audit::audit_player`); returns how many roles and ledger
    /// lines were read, and every mismatch found.
    pub fn audit(&self) -> Result<AuditReport, StoreError> {
        let client = self.connection.client();
        let rows = self
            .connection
            .run(client.query(SELECT_ALL_PLAYERS, &[]))
            .map_err(|failure| self.error(failure))?;
        let mut report = AuditReport::default();
        for row in &rows {
            let (roleid, data) = decode_player(row).map_err(|failure| self.error(failure))?;
            report.add(roleid, &data, &self.ledger(roleid)?);
        }
        self.audit_writers(&mut report)
            .map_err(|failure| self.error(failure))?;
        Ok(report)
    }

    /// Adds the ledger lines that name no writer, the epochs with two
    /// writers and the lines going back to `report`.
    fn audit_writers(&self, report: &mut AuditReport) -> Result<(), Failure> {
        let client = self.connection.client();
        let (unnamed, two_writers, going_back) = self.connection.run(async {
            tokio::try_join!(
                client.query_one(LINES_WITHOUT_WRITER, &[]),
                client.query(EPOCHS_WITH_TWO_WRITERS, &[]),
                client.query(EPOCHS_GOING_BACK, &[]),
            )
        })?;
        report.lines_without_writer = from_column(unnamed.try_get(0)?);
        report.epochs_with_two_writers = role_numbers(&two_writers)?;
        report.epochs_going_back = role_numbers(&going_back)?;
        Ok(())
    }

    /// Moves the role sequence of `srvno` up to `next_seq` (never down, and
    /// at most to exhaustion); returns the sequence now in force. The
    /// operators' tool after restoring an older copy of the database: it
    /// skips the ids handed out after the copy was taken, so none is reused.
    pub fn advance_role_seq(&mut self, srvno: Srvno, next_seq: u64) -> Result<u64, StoreError> {
        if !self.srvnos.contains(&srvno) {
            return Err(StoreError::WrongDatabase(srvno));
        }
        let target = to_column(next_seq.min(ROLE_SEQ_MAX + 1));
        let client = self.connection.client();
        let statement = &self.statements.advance_next_seq;
        let srvno = i64::from(srvno.get());
        let advanced = self
            .connection
            .run(client.query_one(statement, &[&srvno, &target]))
            .and_then(|row| {
                let next_seq: i64 = row.try_get(0)?;
                Ok(from_column(next_seq))
            });
        advanced.map_err(|failure| self.error(failure))
    }

    /// Runs the batch at `db_now_ms`, or at the database's clock when `None`.
    fn apply_batch(
        &mut self,
        db_now_ms: Option<u64>,
        ops: &[PlayerOp],
    ) -> Vec<Result<OpOutcome, StoreError>> {
        backend::answer_batch(ops, || {
            self.transaction(db_now_ms, ops)
                .map_err(|failure| self.error(failure))
        })
    }

    /// The batch's transaction; `Err` fails every op.
    fn transaction(
        &mut self,
        db_now_ms: Option<u64>,
        ops: &[PlayerOp],
    ) -> Result<Vec<Result<OpOutcome, StoreError>>, Failure> {
        let locks = Locks::of(ops);
        let (db_now_ms, locked) = self.begin(&locks, db_now_ms)?;
        let mut batch = Batch::new(&self.connection, &self.statements, &self.srvnos, locked);
        match backend::apply_in_transaction(&mut batch, self.rules, db_now_ms, ops) {
            Ok(results) => batch.commit().map(|()| results),
            Err(failure) => {
                self.connection.rollback();
                Err(failure)
            }
        }
    }

    /// Opens the batch's transaction and locks its rows; returns the batch's
    /// database time (`db_now_ms`, or the database's clock) and the rows
    /// locked. Replaces an ended session first, and once more when the
    /// first round trip finds the session ended.
    fn begin(
        &mut self,
        locks: &Locks,
        db_now_ms: Option<u64>,
    ) -> Result<(u64, LockedRows), Failure> {
        if self.connection.is_closed() {
            self.reconnect()?;
        }
        match self.begin_on_session(locks, db_now_ms) {
            Err(_) if self.connection.is_closed() => {
                self.reconnect()?;
                self.begin_on_session(locks, db_now_ms)
            }
            begun => begun,
        }
    }

    fn begin_on_session(
        &self,
        locks: &Locks,
        db_now_ms: Option<u64>,
    ) -> Result<(u64, LockedRows), Failure> {
        let client = self.connection.client();
        let statements = &self.statements;
        let clock = async {
            match db_now_ms {
                Some(given) => Ok::<_, tokio_postgres::Error>(given),
                None => {
                    let now = client.query_one(&statements.db_now, &[]).await?;
                    Ok(from_column(now.try_get::<_, i64>(0)?.max(0)))
                }
            }
        };
        // One round trip: the requests go out in this order, so the locks
        // are taken inside the transaction, and the rows and the clock read
        // after them.
        let (roleids, srvnos): ([&(dyn ToSql + Sync); 1], [&(dyn ToSql + Sync); 1]) =
            ([&locks.roleids], [&locks.srvnos]);
        let locked: [&(dyn ToSql + Sync); 2] = [&locks.roleids, &locks.loaded];
        let begin = async {
            let (_, _, _, rows, db_now_ms) = tokio::try_join!(
                client.batch_execute("BEGIN"),
                client.query(&statements.lock_players, &roleids),
                client.query(&statements.lock_role_seqs, &srvnos),
                client.query(&statements.select_locked, &locked),
                clock,
            )?;
            Ok::<_, tokio_postgres::Error>((db_now_ms, rows))
        };
        let begun = self
            .connection
            .run(begin)
            .and_then(|(db_now_ms, rows)| Ok((db_now_ms, LockedRows::decode(&rows)?)));
        if begun.is_err() {
            self.connection.rollback();
        }
        begun
    }

    fn reconnect(&mut self) -> Result<(), Failure> {
        self.connection.reopen()?;
        self.statements = self
            .connection
            .run(Statements::prepare(self.connection.client()))?;
        Ok(())
    }

    fn error(&self, failure: Failure) -> StoreError {
        backend_error(failure.naming(self.connection.name()))
    }
}

impl fmt::Debug for PostgresPlayerStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresPlayerStore")
            .field("database", &self.connection.name())
            .field("srvnos", &self.srvnos)
            .finish_non_exhaustive()
    }
}

impl PlayerStore for PostgresPlayerStore {
    fn apply(&mut self, db_now_ms: u64, ops: &[PlayerOp]) -> Vec<Result<OpOutcome, StoreError>> {
        self.apply_batch(Some(db_now_ms), ops)
    }
}

/// A node's writer thread runs the store at the database's clock.
impl ClockedPlayerStore for PostgresPlayerStore {
    fn apply_now(&mut self, ops: &[PlayerOp]) -> Vec<Result<OpOutcome, StoreError>> {
        self.apply_at_db_now(ops)
    }
}

/// The rows and role sequences a batch writes, each in ascending order, to
/// lock at its start; and the rows whose data it loads (its claims').
struct Locks {
    roleids: Vec<i64>,
    srvnos: Vec<i64>,
    loaded: Vec<i64>,
}

impl Locks {
    fn of(ops: &[PlayerOp]) -> Self {
        let mut roleids = BTreeSet::new();
        let mut srvnos = BTreeSet::new();
        let mut loaded = BTreeSet::new();
        for op in ops {
            match op {
                PlayerOp::CreateRole { srvno, .. } => {
                    srvnos.insert(i64::from(srvno.get()));
                }
                PlayerOp::Claim { roleid, .. } => {
                    roleids.insert(roleid_column(*roleid));
                    loaded.insert(roleid_column(*roleid));
                }
                PlayerOp::Save(write)
                | PlayerOp::Release(write)
                | PlayerOp::Handoff { write, .. } => {
                    roleids.insert(roleid_column(write.roleid));
                }
                PlayerOp::InboxGift { to, .. } => {
                    roleids.insert(roleid_column(*to));
                }
                PlayerOp::ExportRole { roleid, .. } | PlayerOp::SealTransfer { roleid, .. } => {
                    roleids.insert(roleid_column(*roleid));
                }
                PlayerOp::ImportRole(export) => {
                    roleids.insert(roleid_column(export.record.roleid));
                }
                PlayerOp::RenewLeases { leases, .. } => {
                    roleids.extend(leases.iter().map(|(roleid, _)| roleid_column(*roleid)));
                }
                // Take-back locks the rows it finds as it reads them; the
                // reads lock nothing.
                PlayerOp::TakeBack { .. }
                | PlayerOp::ReadOwnership { .. }
                | PlayerOp::LoadReadOnly { .. }
                | PlayerOp::RolesOfAccount { .. }
                | PlayerOp::ListHeldElsewhere { .. }
                | PlayerOp::ReadHolder { .. } => {}
            }
        }
        Self {
            roleids: roleids.into_iter().collect(),
            srvnos: srvnos.into_iter().collect(),
            loaded: loaded.into_iter().collect(),
        }
    }
}

/// `(role, number)` rows.
fn role_numbers(rows: &[tokio_postgres::Row]) -> Result<Vec<(RoleId, u64)>, Failure> {
    rows.iter()
        .map(|row| {
            let roleid = backend::roleid_from_column(row.try_get(0)?).map_err(Failure)?;
            Ok((roleid, from_column(row.try_get(1)?)))
        })
        .collect()
}

fn backend_error(failure: Failure) -> StoreError {
    StoreError::Backend(failure.0)
}
