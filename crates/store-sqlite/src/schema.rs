//! Opening a SQLite database the way every Kuafu store does (WAL, full
//! fsync on commit, a busy timeout), applying its migrations, and the column
//! conventions the stores share.
//!
//! Migrations are `.sql` files under `migrations/`, applied in order, each in
//! its own transaction that also records it in `PRAGMA user_version`; a
//! database already at the latest version is left alone, so reopening is
//! idempotent.
//!
//! A file is opened only if it is a database of the expected kind
//! ([`Schema`]): a file that is no SQLite database, one of another
//! application, another kind of Kuafu database or one from a newer build is
//! refused, and every failure names the file by its full path.
//! [`check_file`] runs the same check without creating anything, so a zone
//! can check all its files before it creates any.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, TransactionBehavior};

/// How long a statement waits for another connection's lock before failing.
const BUSY_TIMEOUT_MS: u64 = 5_000;
/// Prepared statements each connection keeps compiled.
const STATEMENT_CACHE_CAPACITY: usize = 32;

/// A SQLite failure or a malformed stored value, kept as text for the
/// stores' typed `Backend` errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Failure(pub(crate) String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Failure {
    /// The same failure, prefixed with the file it happened in.
    fn in_file(self, path: &Path) -> Self {
        Self(format!("{}: {}", path.display(), self.0))
    }
}

impl From<rusqlite::Error> for Failure {
    fn from(error: rusqlite::Error) -> Self {
        Self(format!("sqlite: {error}"))
    }
}

impl From<prost::DecodeError> for Failure {
    fn from(error: prost::DecodeError) -> Self {
        Self(format!("stored player data does not decode: {error}"))
    }
}

/// A kind of Kuafu database: its name for messages, its migrations in
/// order, and a table every version of it has, which tells it apart from
/// the other kinds.
pub(crate) struct Schema {
    /// What the database is, e.g. "Kuafu account database".
    pub(crate) kind: &'static str,
    /// The migrations, in order.
    pub(crate) migrations: &'static [&'static str],
    /// A table the first migration creates and no other kind has.
    pub(crate) marker_table: &'static str,
}

/// `path` as messages name it: absolute, so an operator finds the file
/// whatever the working directory.
pub(crate) fn full_path(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

/// Checks, creating nothing, that the file at `path` is absent (opening
/// will create it) or a database of `schema`'s kind this build can open.
pub(crate) fn check_file(path: &Path, schema: &Schema) -> Result<(), Failure> {
    let path = full_path(path);
    let checked = match path.try_exists() {
        Ok(false) => return Ok(()),
        Ok(true) => {
            let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
            Connection::open_with_flags(&path, flags)
                .map_err(Failure::from)
                .and_then(|connection| check_kind(&connection, schema))
        }
        Err(error) => Err(Failure(error.to_string())),
    };
    checked.map_err(|failure| failure.in_file(&path))
}

/// Opens (or creates) the database file at `path` in WAL mode and brings its
/// schema up to `schema`'s migrations; refuses a file of another kind.
pub(crate) fn open_file(path: &Path, schema: &Schema) -> Result<Connection, Failure> {
    let path = full_path(path);
    open_and_migrate(&path, schema).map_err(|failure| failure.in_file(&path))
}

fn open_and_migrate(path: &Path, schema: &Schema) -> Result<Connection, Failure> {
    let mut connection = Connection::open(path)?;
    configure(&connection)?;
    check_kind(&connection, schema)?;
    let mode: String =
        connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Failure(format!("journal mode is {mode}, not WAL")));
    }
    migrate(&mut connection, schema.migrations)?;
    Ok(connection)
}

/// Refuses a database that is not of `schema`'s kind: one at schema version
/// 0 must hold no table yet (else it belongs to another application), one at
/// a later version must have the kind's marker table and a version this
/// build knows.
fn check_kind(connection: &Connection, schema: &Schema) -> Result<(), Failure> {
    let applied = schema_version(connection)?;
    check_not_newer(applied, schema.migrations.len())?;
    let mut statement = connection.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'",
    )?;
    let tables = statement
        .query_map([], |row| row.get::<_, String>(0))?
        .collect::<Result<Vec<String>, _>>()?;
    let ours = if applied == 0 {
        tables.is_empty()
    } else {
        tables.iter().any(|table| table == schema.marker_table)
    };
    if ours {
        return Ok(());
    }
    Err(Failure(format!(
        "not a {}: schema version {applied}, {} table(s), none named {}",
        schema.kind,
        tables.len(),
        schema.marker_table
    )))
}

/// The migrations applied to the database, from `PRAGMA user_version`.
fn schema_version(connection: &Connection) -> Result<usize, Failure> {
    let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
    usize::try_from(version).map_err(|_| Failure(format!("schema version {version} is negative")))
}

/// Opens a private in-memory database with the schema of `migrations`; it
/// lives as long as the connection.
pub(crate) fn open_memory(migrations: &[&str]) -> Result<Connection, Failure> {
    let mut connection = Connection::open_in_memory()?;
    configure(&connection)?;
    migrate(&mut connection, migrations)?;
    Ok(connection)
}

fn configure(connection: &Connection) -> Result<(), Failure> {
    connection.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))?;
    // FULL: a commit is on disk before COMMIT returns, even in WAL mode.
    connection.pragma_update(None, "synchronous", "FULL")?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    Ok(())
}

/// Applies the migrations the database has not seen yet. The version is read
/// inside each step's write transaction, so two processes opening the same
/// new file cannot both apply a step.
fn migrate(connection: &mut Connection, migrations: &[&str]) -> Result<(), Failure> {
    loop {
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let applied = schema_version(&transaction)?;
        let Some(migration) = migrations.get(applied) else {
            return check_not_newer(applied, migrations.len());
        };
        transaction.execute_batch(migration)?;
        let version = i64::try_from(applied + 1)
            .map_err(|_| Failure(format!("schema version {applied} cannot advance")))?;
        transaction.pragma_update(None, "user_version", version)?;
        transaction.commit()?;
    }
}

fn check_not_newer(applied: usize, known: usize) -> Result<(), Failure> {
    if applied > known {
        return Err(Failure(format!(
            "schema version {applied} is newer than this build's {known}"
        )));
    }
    Ok(())
}

/// Unsigned values are stored as the bit pattern of a signed INTEGER, as in
/// every SQL backend.
pub(crate) use store::backend::{from_column, to_column};
