//! [`PostgresRankStore`]: the distributed mode's [`RankStore`], the rank
//! server's leaderboards in PostgreSQL, with the same tables and meaning as
//! the SQLite one (`store-sqlite`).
//!
//! A write is one transaction: the entries are one `unnest`ed upsert, each
//! snapshot a delete of the board's rows, one `unnest`ed insert and its
//! number. Boards are ordered byte-wise (`COLLATE "C"`), as in SQLite. It
//! blocks on the store's own session (see `connection`): the rank node calls
//! it off its async threads. A session the server ended is replaced at the
//! next call.

use std::collections::BTreeMap;
use std::fmt;

use rankcore::{BoardEntry, BoardSnapshot, Entry, Placed, RankState, RankWrite, Snapshot, Version};
use store::backend::{from_column, roleid_column, roleid_from_column, to_column};
use store::{RankStore, RankStoreError};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::connection::{Connection, Failure};
use crate::schema::{self, Schema};

/// The rank database: its migrations, in order.
const SCHEMA: Schema = Schema {
    kind: "Kuafu rank database",
    migrations: &[include_str!("../migrations/rank/0001_boards.sql")],
};

const UPSERT_ENTRIES: &str = "INSERT INTO rank_entry (board, roleid, score, arrival, epoch, seq) \
     SELECT * FROM unnest($1::TEXT[], $2::BIGINT[], $3::BIGINT[], $4::BIGINT[], $5::BIGINT[], \
     $6::BIGINT[]) \
     ON CONFLICT (board, roleid) DO UPDATE SET score = excluded.score, \
     arrival = excluded.arrival, epoch = excluded.epoch, seq = excluded.seq";
const DELETE_SNAPSHOT_ROWS: &str = "DELETE FROM rank_snapshot_row WHERE board = $1";
const INSERT_SNAPSHOT_ROWS: &str = "INSERT INTO rank_snapshot_row (board, rank, roleid, score) \
     SELECT $1, * FROM unnest($2::BIGINT[], $3::BIGINT[], $4::BIGINT[])";
const UPSERT_SNAPSHOT: &str = "INSERT INTO rank_snapshot (board, number) VALUES ($1, $2) \
     ON CONFLICT (board) DO UPDATE SET number = excluded.number";
const SELECT_ENTRIES: &str = "SELECT board, roleid, score, arrival, epoch, seq FROM rank_entry \
     ORDER BY board COLLATE \"C\", roleid";
const SELECT_SNAPSHOTS: &str =
    "SELECT board, number FROM rank_snapshot ORDER BY board COLLATE \"C\"";
const SELECT_SNAPSHOT_ROWS: &str =
    "SELECT rank, roleid, score FROM rank_snapshot_row WHERE board = $1 ORDER BY rank";

/// The leaderboards of the rank server, in PostgreSQL.
///
/// Its methods block; call them off the async runtime (`spawn_blocking`).
/// It may be dropped anywhere.
pub struct PostgresRankStore {
    connection: Connection,
}

impl PostgresRankStore {
    /// Connects to the database `config` names (a libpq-style `key=value`
    /// string or a `postgresql://` URL), its schema migrated. Every error
    /// names the database.
    pub fn connect(config: &str) -> Result<Self, RankStoreError> {
        let connection = Connection::open(config).map_err(backend)?;
        schema::migrate(&connection, &SCHEMA)
            .map_err(|failure| backend(failure.naming(connection.name())))?;
        Ok(Self { connection })
    }

    fn error(&self, failure: Failure) -> RankStoreError {
        backend(failure.naming(self.connection.name()))
    }
}

impl fmt::Debug for PostgresRankStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresRankStore")
            .field("database", &self.connection.name())
            .finish_non_exhaustive()
    }
}

impl RankStore for PostgresRankStore {
    fn write(&mut self, write: &RankWrite) -> Result<(), RankStoreError> {
        let written = self.connection.ensure_open().and_then(|()| {
            let connection = &self.connection;
            connection.in_transaction(|| {
                write_entries(connection, &write.entries)?;
                write
                    .snapshots
                    .iter()
                    .try_for_each(|snapshot| write_snapshot(connection, snapshot))
            })
        });
        written.map_err(|failure| self.error(failure))
    }

    fn load(&mut self) -> Result<RankState, RankStoreError> {
        let loaded = self
            .connection
            .ensure_open()
            .and_then(|()| load(&self.connection));
        loaded.map_err(|failure| self.error(failure))
    }
}

/// One upsert of every entry; one upsert may not touch a row twice, so the
/// later entry of a board and role stays, as when each is written in turn.
fn write_entries(connection: &Connection, entries: &[BoardEntry]) -> Result<(), Failure> {
    if entries.is_empty() {
        return Ok(());
    }
    let last: BTreeMap<(&str, i64), &Entry> = entries
        .iter()
        .map(|item| {
            (
                (item.board.as_str(), roleid_column(item.entry.roleid)),
                &item.entry,
            )
        })
        .collect();
    let boards: Vec<&str> = last.keys().map(|(board, _)| *board).collect();
    let roleids: Vec<i64> = last.keys().map(|(_, roleid)| *roleid).collect();
    let scores: Vec<i64> = last.values().map(|entry| entry.score).collect();
    let arrivals: Vec<i64> = last
        .values()
        .map(|entry| to_column(entry.arrival))
        .collect();
    let epochs: Vec<i64> = last
        .values()
        .map(|entry| to_column(entry.version.epoch))
        .collect();
    let seqs: Vec<i64> = last
        .values()
        .map(|entry| to_column(entry.version.seq))
        .collect();
    let columns: [&(dyn ToSql + Sync); 6] = [&boards, &roleids, &scores, &arrivals, &epochs, &seqs];
    let client = connection.client();
    connection.run(client.execute(UPSERT_ENTRIES, &columns))?;
    Ok(())
}

/// Replaces the board's snapshot whole.
fn write_snapshot(connection: &Connection, item: &BoardSnapshot) -> Result<(), Failure> {
    let client = connection.client();
    let board = item.board.as_str();
    connection.run(client.execute(DELETE_SNAPSHOT_ROWS, &[&board]))?;
    let placed = item.snapshot.placed();
    let ranks: Vec<i64> = placed.iter().map(|entry| to_column(entry.rank)).collect();
    let roleids: Vec<i64> = placed
        .iter()
        .map(|entry| roleid_column(entry.roleid))
        .collect();
    let scores: Vec<i64> = placed.iter().map(|entry| entry.score).collect();
    let columns: [&(dyn ToSql + Sync); 4] = [&board, &ranks, &roleids, &scores];
    connection.run(client.execute(INSERT_SNAPSHOT_ROWS, &columns))?;
    let number = to_column(item.snapshot.number());
    connection.run(client.execute(UPSERT_SNAPSHOT, &[&board, &number]))?;
    Ok(())
}

fn load(connection: &Connection) -> Result<RankState, Failure> {
    let client = connection.client();
    let rows = connection.run(client.query(SELECT_ENTRIES, &[]))?;
    let entries = rows
        .iter()
        .map(decode_entry)
        .collect::<Result<Vec<_>, _>>()?;
    let boards = connection.run(client.query(SELECT_SNAPSHOTS, &[]))?;
    let mut snapshots = Vec::with_capacity(boards.len());
    for row in &boards {
        let board: String = row.try_get(0)?;
        let number = from_column(row.try_get(1)?);
        let rows = connection.run(client.query(SELECT_SNAPSHOT_ROWS, &[&board]))?;
        let placed = rows
            .iter()
            .map(decode_placed)
            .collect::<Result<Vec<_>, _>>()?;
        let snapshot = Snapshot::from_ranks(number, placed)
            .map_err(|error| Failure(format!("snapshot of board {board}: {error}")))?;
        snapshots.push(BoardSnapshot { board, snapshot });
    }
    Ok(RankState { entries, snapshots })
}

fn decode_entry(row: &Row) -> Result<BoardEntry, Failure> {
    let entry = Entry {
        roleid: roleid_from_column(row.try_get(1)?).map_err(Failure)?,
        score: row.try_get(2)?,
        arrival: from_column(row.try_get(3)?),
        version: Version {
            epoch: from_column(row.try_get(4)?),
            seq: from_column(row.try_get(5)?),
        },
    };
    Ok(BoardEntry {
        board: row.try_get(0)?,
        entry,
    })
}

fn decode_placed(row: &Row) -> Result<Placed, Failure> {
    Ok(Placed {
        rank: from_column(row.try_get(0)?),
        roleid: roleid_from_column(row.try_get(1)?).map_err(Failure)?,
        score: row.try_get(2)?,
    })
}

fn backend(failure: Failure) -> RankStoreError {
    RankStoreError::Backend(failure.0)
}
