//! [`SqliteRankStore`]: the embedded mode's [`RankStore`], the rank
//! server's leaderboards (`rank.db`): every role's entry on every board and
//! each board's latest snapshot. The rank core (`rankcore`) decides every
//! change; this store writes one batch per transaction and loads it all
//! back at start.
//!
//! One SQLite connection; the rank node calls it from a blocking thread.

use std::path::Path;

use rankcore::{BoardEntry, BoardSnapshot, Entry, Placed, RankState, RankWrite, Snapshot, Version};
use routing::RoleId;
use rusqlite::{Connection, Row, Transaction, TransactionBehavior, params};
use store::{RankStore, RankStoreError};

use crate::schema::{self, Failure, Schema, from_column, to_column};

/// The rank database's file name in a data directory.
pub const RANK_DB_FILE: &str = "rank.db";

/// The rank database: its migrations, in order, and its marker table.
const SCHEMA: Schema = Schema {
    kind: "Kuafu rank database",
    migrations: &[include_str!("../migrations/rank/0001_boards.sql")],
    marker_table: "rank_entry",
};

const UPSERT_ENTRY: &str = "INSERT INTO rank_entry (board, roleid, score, arrival, epoch, seq) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
     ON CONFLICT (board, roleid) DO UPDATE SET score = excluded.score, \
     arrival = excluded.arrival, epoch = excluded.epoch, seq = excluded.seq";
const DELETE_SNAPSHOT_ROWS: &str = "DELETE FROM rank_snapshot_row WHERE board = ?1";
const INSERT_SNAPSHOT_ROW: &str =
    "INSERT INTO rank_snapshot_row (board, rank, roleid, score) VALUES (?1, ?2, ?3, ?4)";
const UPSERT_SNAPSHOT: &str = "INSERT INTO rank_snapshot (board, number) VALUES (?1, ?2) \
     ON CONFLICT (board) DO UPDATE SET number = excluded.number";
const SELECT_ENTRIES: &str =
    "SELECT board, roleid, score, arrival, epoch, seq FROM rank_entry ORDER BY board, roleid";
const SELECT_SNAPSHOTS: &str = "SELECT board, number FROM rank_snapshot ORDER BY board";
const SELECT_SNAPSHOT_ROWS: &str =
    "SELECT rank, roleid, score FROM rank_snapshot_row WHERE board = ?1 ORDER BY rank";

/// The leaderboards of the rank server, in SQLite.
pub struct SqliteRankStore {
    connection: Connection,
}

impl SqliteRankStore {
    /// Opens (or creates) the rank database at `path` (WAL, full fsync,
    /// schema migrated).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, RankStoreError> {
        let connection = schema::open_file(path.as_ref(), &SCHEMA).map_err(backend)?;
        Ok(Self { connection })
    }

    /// Checks, creating nothing, that the file at `path` is absent or a
    /// rank database this build can open; the error names the file.
    pub fn check_file(path: impl AsRef<Path>) -> Result<(), RankStoreError> {
        schema::check_file(path.as_ref(), &SCHEMA).map_err(backend)
    }
}

impl RankStore for SqliteRankStore {
    fn write(&mut self, write: &RankWrite) -> Result<(), RankStoreError> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|error| backend(error.into()))?;
        write_entries(&transaction, &write.entries)
            .and_then(|()| write_snapshots(&transaction, &write.snapshots))
            .and_then(|()| Ok(transaction.commit()?))
            .map_err(backend)
    }

    fn load(&mut self) -> Result<RankState, RankStoreError> {
        load(&self.connection).map_err(backend)
    }
}

fn backend(failure: Failure) -> RankStoreError {
    RankStoreError::Backend(failure.0)
}

fn write_entries(transaction: &Transaction, entries: &[BoardEntry]) -> Result<(), Failure> {
    let mut upsert = transaction.prepare_cached(UPSERT_ENTRY)?;
    for BoardEntry { board, entry } in entries {
        upsert.execute(params![
            board,
            to_column(entry.roleid.get()),
            entry.score,
            to_column(entry.arrival),
            to_column(entry.version.epoch),
            to_column(entry.version.seq),
        ])?;
    }
    Ok(())
}

fn write_snapshots(transaction: &Transaction, snapshots: &[BoardSnapshot]) -> Result<(), Failure> {
    let mut insert = transaction.prepare_cached(INSERT_SNAPSHOT_ROW)?;
    for BoardSnapshot { board, snapshot } in snapshots {
        transaction.execute(DELETE_SNAPSHOT_ROWS, params![board])?;
        for placed in snapshot.placed() {
            insert.execute(params![
                board,
                to_column(placed.rank),
                to_column(placed.roleid.get()),
                placed.score,
            ])?;
        }
        transaction.execute(
            UPSERT_SNAPSHOT,
            params![board, to_column(snapshot.number())],
        )?;
    }
    Ok(())
}

fn load(connection: &Connection) -> Result<RankState, Failure> {
    let mut select = connection.prepare_cached(SELECT_ENTRIES)?;
    let entries = select
        .query_map([], |row| Ok(decode_entry(row)))?
        .map(|row| row?)
        .collect::<Result<Vec<_>, Failure>>()?;
    let mut select = connection.prepare_cached(SELECT_SNAPSHOTS)?;
    let boards = select
        .query_map([], |row| {
            Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)?))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let mut snapshots = Vec::with_capacity(boards.len());
    for (board, number) in boards {
        let snapshot = load_snapshot(connection, &board, from_column(number))?;
        snapshots.push(BoardSnapshot { board, snapshot });
    }
    Ok(RankState { entries, snapshots })
}

fn load_snapshot(connection: &Connection, board: &str, number: u64) -> Result<Snapshot, Failure> {
    let mut select = connection.prepare_cached(SELECT_SNAPSHOT_ROWS)?;
    let placed = select
        .query_map(params![board], |row| {
            Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?, row.get(2)?))
        })?
        .map(|row| {
            let (rank, roleid, score) = row?;
            Ok(Placed {
                rank: from_column(rank),
                roleid: role(roleid)?,
                score,
            })
        })
        .collect::<Result<Vec<_>, Failure>>()?;
    Snapshot::from_ranks(number, placed)
        .map_err(|error| Failure(format!("snapshot of board {board}: {error}")))
}

fn decode_entry(row: &Row) -> Result<BoardEntry, Failure> {
    let entry = Entry {
        roleid: role(row.get(1)?)?,
        score: row.get(2)?,
        arrival: from_column(row.get(3)?),
        version: Version {
            epoch: from_column(row.get(4)?),
            seq: from_column(row.get(5)?),
        },
    };
    Ok(BoardEntry {
        board: row.get(0)?,
        entry,
    })
}

fn role(stored: i64) -> Result<RoleId, Failure> {
    RoleId::from_raw(from_column(stored)).map_err(|bad| Failure(format!("stored role id: {bad}")))
}
