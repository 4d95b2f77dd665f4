//! [`AccountStore`]: the account center's database (`account.db`): accounts
//! by name and password hash or by device id, and the roles each account has
//! on the game servers, each with the level its game server last reported.
//!
//! A synchronous API over one SQLite connection; the account node calls it
//! from a blocking thread. Account ids are never reused.

use std::path::Path;

use routing::RoleId;
use rusqlite::{Connection, ErrorCode, OptionalExtension, TransactionBehavior, params};

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

/// Why an account operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    /// `register`: the account name is taken.
    #[error("account {0} exists")]
    Exists(String),
    /// No account has this id.
    #[error("unknown account {0}")]
    UnknownAccount(u64),
    /// The role belongs to another account, or to none.
    #[error("role {0} is not a role of this account")]
    RoleNotOfAccount(RoleId),
    /// The database failed.
    #[error("account store: {0}")]
    Backend(String),
}

impl From<Failure> for AccountError {
    fn from(failure: Failure) -> Self {
        Self::Backend(failure.0)
    }
}

impl From<rusqlite::Error> for AccountError {
    fn from(error: rusqlite::Error) -> Self {
        Failure::from(error).into()
    }
}

/// A role of an account, as the account center lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRole {
    /// The role.
    pub roleid: RoleId,
    /// The role's name when it was created.
    pub name: String,
    /// The game server the role was created on.
    pub srvname: String,
    /// The role's level as its game server last reported it.
    pub level: u32,
}

/// The account database.
pub struct AccountStore {
    connection: Connection,
}

impl AccountStore {
    /// Opens (or creates) the account database at `path` (WAL, full fsync,
    /// schema migrated).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, AccountError> {
        let connection = schema::open_file(path.as_ref(), &SCHEMA)?;
        Ok(Self { connection })
    }

    /// Checks, creating nothing, that the file at `path` is absent or an
    /// account database this build can open; the error names the file.
    pub fn check_file(path: impl AsRef<Path>) -> Result<(), AccountError> {
        Ok(schema::check_file(path.as_ref(), &SCHEMA)?)
    }

    /// Creates the account `account` with `password_hash` (a PHC string);
    /// returns its new id, or `Exists` when the name is taken.
    pub fn register(&mut self, account: &str, password_hash: &str) -> Result<u64, AccountError> {
        let inserted = self
            .connection
            .prepare_cached(INSERT_ACCOUNT)?
            .execute(params![account, password_hash]);
        match inserted {
            Ok(_) => Ok(from_column(self.connection.last_insert_rowid())),
            Err(error) if error.sqlite_error_code() == Some(ErrorCode::ConstraintViolation) => {
                Err(AccountError::Exists(account.to_owned()))
            }
            Err(error) => Err(error.into()),
        }
    }

    /// The id and password hash of the account named `account`, if any.
    pub fn find_password(&self, account: &str) -> Result<Option<(u64, String)>, AccountError> {
        let found = self
            .connection
            .prepare_cached(SELECT_PASSWORD)?
            .query_row([account], |row| {
                Ok((from_column(row.get(0)?), row.get::<_, String>(1)?))
            })
            .optional()?;
        Ok(found)
    }

    /// The account of device `device_id`, created on its first login.
    pub fn device_account(&mut self, device_id: &str) -> Result<u64, AccountError> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
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

    /// Records that `account_id` has `role` (its id, name, home server and
    /// level at creation), and makes it the account's last role. Adding the
    /// same role again changes nothing (the note may arrive twice); a role of
    /// another account is refused.
    pub fn add_role(&mut self, account_id: u64, role: &AccountRole) -> Result<(), AccountError> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
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

    /// Records `roleid`'s level as the server that held the row at `epoch`
    /// reported it. A report older than the stored one (a lower epoch), or
    /// for a role this database does not know, changes nothing.
    pub fn set_level(
        &mut self,
        roleid: RoleId,
        level: u32,
        epoch: u64,
    ) -> Result<(), AccountError> {
        self.connection
            .prepare_cached(UPDATE_LEVEL)?
            .execute(params![to_column(roleid.get()), level, to_column(epoch)])?;
        Ok(())
    }

    /// Makes `roleid`, a role of `account_id`, the account's last role (the
    /// one its next login enters).
    pub fn set_last_role(&mut self, account_id: u64, roleid: RoleId) -> Result<(), AccountError> {
        let transaction = self
            .connection
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        check_account(&transaction, account_id)?;
        check_role_of_account(&transaction, account_id, roleid)?;
        transaction
            .prepare_cached(UPDATE_LAST_ROLE)?
            .execute(params![to_column(account_id), to_column(roleid.get())])?;
        transaction.commit()?;
        Ok(())
    }

    /// The roles of `account_id`, ordered by role id.
    pub fn roles(&self, account_id: u64) -> Result<Vec<AccountRole>, AccountError> {
        let mut statement = self.connection.prepare_cached(SELECT_ROLES)?;
        let rows = statement.query_map([to_column(account_id)], StoredRole::read)?;
        rows.map(|row| Ok(row?.decode()?)).collect()
    }

    /// The role `account_id` entered last (or created last), if it has one.
    pub fn last_role(&self, account_id: u64) -> Result<Option<AccountRole>, AccountError> {
        let stored = self
            .connection
            .prepare_cached(SELECT_LAST_ROLE)?
            .query_row([to_column(account_id)], StoredRole::read)
            .optional()?;
        Ok(stored.map(StoredRole::decode).transpose()?)
    }
}

fn check_account(connection: &Connection, account_id: u64) -> Result<(), AccountError> {
    let known = connection
        .prepare_cached(SELECT_ACCOUNT)?
        .query_row([to_column(account_id)], |_| Ok(()))
        .optional()?;
    known.ok_or(AccountError::UnknownAccount(account_id))
}

fn check_role_of_account(
    connection: &Connection,
    account_id: u64,
    roleid: RoleId,
) -> Result<(), AccountError> {
    let owner: Option<i64> = connection
        .prepare_cached(SELECT_ROLE_ACCOUNT)?
        .query_row([to_column(roleid.get())], |row| row.get(0))
        .optional()?;
    if owner.map(from_column) == Some(account_id) {
        Ok(())
    } else {
        Err(AccountError::RoleNotOfAccount(roleid))
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
