//! [`SqliteAccountStore`]: the embedded mode's [`AccountStore`], the account
//! center's database (`account.db`): accounts by name and password hash or by
//! device id, and the roles each account has on the game servers, each with
//! the level its game server last reported.
//!
//! One SQLite connection; the account node calls it from a blocking thread.
//! Account ids are never reused (`AUTOINCREMENT`); every write transaction
//! takes the write lock at its start (`IMMEDIATE`), so two connections on one
//! file serialize.

use std::path::Path;

use routing::RoleId;
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};
use store::{AccountError, AccountRole, AccountStore};

use crate::schema::{self, Failure, Schema, from_column, to_column};

/// The account database's file name in a data directory.
pub const ACCOUNT_DB_FILE: &str = "account.db";

/// The account database: its migrations, in order, and its marker table.
const SCHEMA: Schema = Schema {
    kind: "Kuafu account database",
    migrations: &[
        include_str!("../migrations/account/0001_accounts.sql"),
        include_str!("../migrations/account/0002_role_level.sql"),
    ],
    marker_table: "accounts",
};

const INSERT_ACCOUNT: &str = "INSERT INTO accounts (account, password_hash) VALUES (?1, ?2)";
const SELECT_PASSWORD: &str =
    "SELECT account_id, password_hash FROM accounts WHERE account = ?1 AND password_hash NOT NULL";
const SELECT_DEVICE: &str = "SELECT account_id FROM devices WHERE device_id = ?1";
const INSERT_DEVICE_ACCOUNT: &str = "INSERT INTO accounts DEFAULT VALUES";
const INSERT_DEVICE: &str = "INSERT INTO devices (device_id, account_id) VALUES (?1, ?2)";
const SELECT_ACCOUNT: &str = "SELECT 1 FROM accounts WHERE account_id = ?1";
const INSERT_ROLE: &str = "INSERT INTO account_roles (roleid, account_id, name, srvname, level) \
     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (roleid) DO NOTHING";
const UPDATE_LEVEL: &str = "UPDATE account_roles SET level = ?2, level_epoch = ?3 \
     WHERE roleid = ?1 AND level_epoch <= ?3";
const SELECT_ROLE_ACCOUNT: &str = "SELECT account_id FROM account_roles WHERE roleid = ?1";
const UPDATE_LAST_ROLE: &str = "UPDATE accounts SET last_roleid = ?2 WHERE account_id = ?1";
const SELECT_ROLES: &str = "SELECT roleid, name, srvname, level FROM account_roles \
     WHERE account_id = ?1 ORDER BY roleid";
const SELECT_LAST_ROLE: &str = "SELECT r.roleid, r.name, r.srvname, r.level FROM accounts a \
     JOIN account_roles r ON r.roleid = a.last_roleid WHERE a.account_id = ?1";

/// What the account functions fail with: a typed refusal, or SQLite.
enum Fault {
    Refused(AccountError),
    Sqlite(Failure),
}

impl From<AccountError> for Fault {
    fn from(refused: AccountError) -> Self {
        Self::Refused(refused)
    }
}

impl From<Failure> for Fault {
    fn from(failure: Failure) -> Self {
        Self::Sqlite(failure)
    }
}

impl From<rusqlite::Error> for Fault {
    fn from(error: rusqlite::Error) -> Self {
        Self::Sqlite(error.into())
    }
}

impl From<Fault> for AccountError {
    fn from(fault: Fault) -> Self {
        match fault {
            Fault::Refused(refused) => refused,
            Fault::Sqlite(failure) => Self::Backend(failure.0),
        }
    }
}

/// The account database in SQLite.
pub struct SqliteAccountStore {
    connection: Connection,
}

impl SqliteAccountStore {
    /// Opens (or creates) the account database at `path` (WAL, full fsync,
    /// schema migrated).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, AccountError> {
        let connection = schema::open_file(path.as_ref(), &SCHEMA).map_err(Fault::from)?;
        Ok(Self { connection })
    }

    /// Checks, creating nothing, that the file at `path` is absent or an
    /// account database this build can open; the error names the file.
    pub fn check_file(path: impl AsRef<Path>) -> Result<(), AccountError> {
        Ok(schema::check_file(path.as_ref(), &SCHEMA).map_err(Fault::from)?)
    }
}

impl AccountStore for SqliteAccountStore {
    fn register(&mut self, account: &str, password_hash: &str) -> Result<u64, AccountError> {
        Ok(register(&self.connection, account, password_hash)?)
    }

    fn find_password(&mut self, account: &str) -> Result<Option<(u64, String)>, AccountError> {
        Ok(find_password(&self.connection, account)?)
    }

    fn device_account(&mut self, device_id: &str) -> Result<u64, AccountError> {
        Ok(device_account(&mut self.connection, device_id)?)
    }

    fn add_role(&mut self, account_id: u64, role: &AccountRole) -> Result<(), AccountError> {
        Ok(add_role(&mut self.connection, account_id, role)?)
    }

    fn set_level(&mut self, roleid: RoleId, level: u32, epoch: u64) -> Result<(), AccountError> {
        Ok(set_level(&self.connection, roleid, level, epoch)?)
    }

    fn set_last_role(&mut self, account_id: u64, roleid: RoleId) -> Result<(), AccountError> {
        Ok(set_last_role(&mut self.connection, account_id, roleid)?)
    }

    fn roles(&mut self, account_id: u64) -> Result<Vec<AccountRole>, AccountError> {
        Ok(roles(&self.connection, account_id)?)
    }

    fn last_role(&mut self, account_id: u64) -> Result<Option<AccountRole>, AccountError> {
        Ok(last_role(&self.connection, account_id)?)
    }
}

fn register(connection: &Connection, account: &str, hash: &str) -> Result<u64, Fault> {
    let inserted = connection
        .prepare_cached(INSERT_ACCOUNT)?
        .execute(params![account, hash]);
    match inserted {
        Ok(_) => Ok(from_column(connection.last_insert_rowid())),
        Err(error) if error.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
            Err(AccountError::Exists(account.to_owned()).into())
        }
        Err(error) => Err(error.into()),
    }
}

fn find_password(connection: &Connection, account: &str) -> Result<Option<(u64, String)>, Fault> {
    let found = connection
        .prepare_cached(SELECT_PASSWORD)?
        .query_row([account], |row| {
            Ok((from_column(row.get(0)?), row.get::<_, String>(1)?))
        })
        .optional()?;
    Ok(found)
}

fn device_account(connection: &mut Connection, device_id: &str) -> Result<u64, Fault> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let known: Option<i64> = transaction
        .prepare_cached(SELECT_DEVICE)?
        .query_row([device_id], |row| row.get(0))
        .optional()?;
    if let Some(account_id) = known {
        return Ok(from_column(account_id));
    }
    transaction
        .prepare_cached(INSERT_DEVICE_ACCOUNT)?
        .execute([])?;
    let account_id = transaction.last_insert_rowid();
    transaction
        .prepare_cached(INSERT_DEVICE)?
        .execute(params![device_id, account_id])?;
    transaction.commit()?;
    Ok(from_column(account_id))
}

fn add_role(connection: &mut Connection, account_id: u64, role: &AccountRole) -> Result<(), Fault> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    check_account(&transaction, account_id)?;
    let roleid = to_column(role.roleid.get());
    let account = to_column(account_id);
    let inserted = transaction.prepare_cached(INSERT_ROLE)?.execute(params![
        roleid,
        account,
        role.name,
        role.srvname,
        role.level
    ])?;
    if inserted == 0 {
        return check_role_of_account(&transaction, account_id, role.roleid);
    }
    transaction
        .prepare_cached(UPDATE_LAST_ROLE)?
        .execute(params![account, roleid])?;
    transaction.commit()?;
    Ok(())
}

fn set_level(connection: &Connection, roleid: RoleId, level: u32, epoch: u64) -> Result<(), Fault> {
    connection.prepare_cached(UPDATE_LEVEL)?.execute(params![
        to_column(roleid.get()),
        level,
        to_column(epoch)
    ])?;
    Ok(())
}

fn set_last_role(
    connection: &mut Connection,
    account_id: u64,
    roleid: RoleId,
) -> Result<(), Fault> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
    check_account(&transaction, account_id)?;
    check_role_of_account(&transaction, account_id, roleid)?;
    transaction
        .prepare_cached(UPDATE_LAST_ROLE)?
        .execute(params![to_column(account_id), to_column(roleid.get())])?;
    transaction.commit()?;
    Ok(())
}

fn roles(connection: &Connection, account_id: u64) -> Result<Vec<AccountRole>, Fault> {
    let mut statement = connection.prepare_cached(SELECT_ROLES)?;
    let rows = statement.query_map([to_column(account_id)], StoredRole::read)?;
    rows.map(|row| Ok(row?.decode()?)).collect()
}

fn last_role(connection: &Connection, account_id: u64) -> Result<Option<AccountRole>, Fault> {
    let stored = connection
        .prepare_cached(SELECT_LAST_ROLE)?
        .query_row([to_column(account_id)], StoredRole::read)
        .optional()?;
    Ok(stored.map(StoredRole::decode).transpose()?)
}

fn check_account(connection: &Connection, account_id: u64) -> Result<(), Fault> {
    let known = connection
        .prepare_cached(SELECT_ACCOUNT)?
        .query_row([to_column(account_id)], |_| Ok(()))
        .optional()?;
    Ok(known.ok_or(AccountError::UnknownAccount(account_id))?)
}

fn check_role_of_account(
    connection: &Connection,
    account_id: u64,
    roleid: RoleId,
) -> Result<(), Fault> {
    let owner: Option<i64> = connection
        .prepare_cached(SELECT_ROLE_ACCOUNT)?
        .query_row([to_column(roleid.get())], |row| row.get(0))
        .optional()?;
    if owner.map(from_column) == Some(account_id) {
        Ok(())
    } else {
        Err(AccountError::RoleNotOfAccount(roleid).into())
    }
}

/// A role row as stored.
struct StoredRole {
    roleid: i64,
    name: String,
    srvname: String,
    level: u32,
}

impl StoredRole {
    fn read(row: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            roleid: row.get(0)?,
            name: row.get(1)?,
            srvname: row.get(2)?,
            level: row.get(3)?,
        })
    }

    fn decode(self) -> Result<AccountRole, Failure> {
        let roleid = RoleId::from_raw(from_column(self.roleid))
            .map_err(|error| Failure(format!("stored role id {}: {error}", self.roleid)))?;
        Ok(AccountRole {
            roleid,
            name: self.name,
            srvname: self.srvname,
            level: self.level,
        })
    }
}
