//! A Kuafu database's schema in PostgreSQL: its migrations (`.sql` files
//! under `migrations/`) applied in order, and which kind of Kuafu database
//! it is, both recorded in the table `kuafu_schema`.
//!
//! Migrating is one transaction under an advisory lock, so nodes that open
//! the same new database at once apply each migration once, and a failed
//! migration leaves nothing behind (PostgreSQL's DDL is transactional). A
//! database that is not empty and has no `kuafu_schema` (another
//! application's), one of another kind, or one from a newer build is refused.

use crate::connection::{Connection, Failure};

/// The advisory lock key every migration holds ("kuafu" in ASCII).
const MIGRATION_LOCK: i64 = 0x6b_7561_6675;

/// A kind of Kuafu database: its name for messages and `kuafu_schema`, and
/// its migrations in order.
pub struct Schema {
    /// What the database is, e.g. "Kuafu player (srvno) database".
    pub kind: &'static str,
    /// The migrations, in order.
    pub migrations: &'static [&'static str],
}

/// Brings the database's schema up to `schema`'s migrations, or refuses a
/// database that is not of `schema`'s kind.
pub fn migrate(connection: &Connection, schema: &Schema) -> Result<(), Failure> {
    let client = connection.client();
    connection.run(client.batch_execute("BEGIN"))?;
    let migrated = migrate_in_transaction(connection, schema);
    let end = if migrated.is_ok() {
        "COMMIT"
    } else {
        "ROLLBACK"
    };
    let ended = connection.run(client.batch_execute(end));
    migrated.and(ended)
}

fn migrate_in_transaction(connection: &Connection, schema: &Schema) -> Result<(), Failure> {
    let client = connection.client();
    connection.run(client.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]))?;
    let applied = applied_migrations(connection, schema)?;
    if applied > schema.migrations.len() {
        return Err(Failure(format!(
            "schema version {applied} is newer than this build's {}",
            schema.migrations.len()
        )));
    }
    if applied == schema.migrations.len() {
        return Ok(());
    }
    for migration in &schema.migrations[applied..] {
        connection.run(client.batch_execute(migration))?;
    }
    let version = i32::try_from(schema.migrations.len())
        .map_err(|_| Failure("too many migrations".to_owned()))?;
    connection.run(client.execute("UPDATE kuafu_schema SET version = $1", &[&version]))?;
    Ok(())
}

/// How many migrations the database has had; records `schema`'s kind in a
/// new, empty database.
fn applied_migrations(connection: &Connection, schema: &Schema) -> Result<usize, Failure> {
    let client = connection.client();
    let found = connection.run(client.query_one(
        "SELECT to_regclass('kuafu_schema') IS NOT NULL, \
         (SELECT count(*) FROM pg_tables WHERE schemaname = current_schema())",
        &[],
    ))?;
    let (recorded, tables): (bool, i64) = (found.try_get(0)?, found.try_get(1)?);
    if !recorded && tables > 0 {
        return Err(Failure(format!(
            "not a {}: {tables} table(s), none named kuafu_schema",
            schema.kind
        )));
    }
    if !recorded {
        connection.run(client.batch_execute(
            "CREATE TABLE kuafu_schema (kind TEXT NOT NULL, version INTEGER NOT NULL)",
        ))?;
        connection.run(client.execute(
            "INSERT INTO kuafu_schema (kind, version) VALUES ($1, 0)",
            &[&schema.kind],
        ))?;
        return Ok(0);
    }
    let row = connection.run(client.query_one("SELECT kind, version FROM kuafu_schema", &[]))?;
    let (kind, version): (String, i32) = (row.try_get(0)?, row.try_get(1)?);
    if kind != schema.kind {
        return Err(Failure(format!("not a {}: it is a {kind}", schema.kind)));
    }
    usize::try_from(version).map_err(|_| Failure(format!("schema version {version} is negative")))
}
