//! Opening a SQLite database the way every Kuafu store does (WAL, full
//! fsync on commit, a busy timeout), applying its migrations, and the column
//! conventions the stores share.
//!
//! Migrations are `.sql` files under `migrations/`, applied in order, each in
//! its own transaction that also records it in `PRAGMA user_version`; a
//! database already at the latest version is left alone, so reopening is
//! idempotent.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, TransactionBehavior};

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

/// Opens (or creates) the database file at `path` in WAL mode and brings its
/// schema up to `migrations`.
pub(crate) fn open_file(path: &Path, migrations: &[&str]) -> Result<Connection, Failure> {
    let mut connection = Connection::open(path)?;
    configure(&connection)?;
    let mode: String =
        connection.pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Failure(format!(
            "{}: journal mode is {mode}, not WAL",
            path.display()
        )));
    }
    migrate(&mut connection, migrations)?;
    Ok(connection)
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
        let version: i64 =
            transaction.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let applied = usize::try_from(version)
            .map_err(|_| Failure(format!("schema version {version} is negative")))?;
        let Some(migration) = migrations.get(applied) else {
            return check_not_newer(applied, migrations.len());
        };
        transaction.execute_batch(migration)?;
        transaction.pragma_update(None, "user_version", version + 1)?;
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

/// An unsigned value as stored in a signed INTEGER column: its bit pattern
/// (values below 2^63 read as themselves in SQL; larger ones, such as a
/// random incarnation, round-trip through [`from_column`]).
pub(crate) fn to_column(value: u64) -> i64 {
    value.cast_signed()
}

/// The unsigned value [`to_column`] stored.
pub(crate) fn from_column(stored: i64) -> u64 {
    stored.cast_unsigned()
}
