//! [`PostgresAccountStore`]: the distributed mode's [`AccountStore`], the
//! account center's database in PostgreSQL, with the same tables and
//! meaning as the SQLite one (`store-sqlite`).
//!
//! Every method is one statement or one transaction on the store's own
//! session (see `connection`), so it blocks: the account center calls it off
//! its async threads. Account ids come from an identity sequence, never
//! reused. Several account centers' sessions may share the database: a name
//! is taken by one `INSERT … ON CONFLICT DO NOTHING`, and a device's first
//! login, when another session creates the same device's account at once,
//! rolls its own new account back and answers the other's. A session the
//! server ended is replaced at the next call.

use std::fmt;

use routing::RoleId;
use store::backend::{from_column, roleid_from_column, to_column};
use store::{AccountError, AccountRole, AccountStore};
use tokio_postgres::Row;

use crate::connection::{Connection, Failure};
use crate::schema::{self, Schema};

/// The account database: its migrations, in order.
const SCHEMA: Schema = Schema {
    kind: "Kuafu account database",
    migrations: &[include_str!("../migrations/account/0001_accounts.sql")],
};

const INSERT_ACCOUNT: &str = "INSERT INTO accounts (account, password_hash) VALUES ($1, $2) \
     ON CONFLICT (account) DO NOTHING RETURNING account_id";
const SELECT_PASSWORD: &str = "SELECT account_id, password_hash FROM accounts \
     WHERE account = $1 AND password_hash IS NOT NULL";
const SELECT_DEVICE: &str = "SELECT account_id FROM devices WHERE device_id = $1";
const INSERT_DEVICE_ACCOUNT: &str = "INSERT INTO accounts DEFAULT VALUES RETURNING account_id";
/// Waits for another session inserting the same device, then does nothing.
const INSERT_DEVICE: &str = "INSERT INTO devices (device_id, account_id) VALUES ($1, $2) \
     ON CONFLICT (device_id) DO NOTHING";
const SELECT_ACCOUNT: &str = "SELECT 1 FROM accounts WHERE account_id = $1";
const INSERT_ROLE: &str = "INSERT INTO account_roles (roleid, account_id, name, srvname, level) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (roleid) DO NOTHING";
const UPDATE_LEVEL: &str = "UPDATE account_roles SET level = $2, level_epoch = $3 \
     WHERE roleid = $1 AND level_epoch <= $3";
const SELECT_ROLE_ACCOUNT: &str = "SELECT account_id FROM account_roles WHERE roleid = $1";
const UPDATE_LAST_ROLE: &str = "UPDATE accounts SET last_roleid = $2 WHERE account_id = $1";
const SELECT_ROLES: &str = "SELECT roleid, name, srvname, level FROM account_roles \
     WHERE account_id = $1 ORDER BY roleid";
const SELECT_LAST_ROLE: &str = "SELECT r.roleid, r.name, r.srvname, r.level FROM accounts a \
     JOIN account_roles r ON r.roleid = a.last_roleid WHERE a.account_id = $1";

impl From<Failure> for AccountError {
    fn from(failure: Failure) -> Self {
        Self::Backend(failure.0)
    }
}

/// The account database in PostgreSQL.
///
/// Its methods block; call them off the async runtime (`spawn_blocking`).
/// It may be dropped anywhere.
pub struct PostgresAccountStore {
    connection: Connection,
}

impl PostgresAccountStore {
    /// Connects to the database `config` names (a libpq-style `key=value`
    /// string or a `postgresql://` URL), its schema migrated. Every error
    /// names the database.
    pub fn connect(config: &str) -> Result<Self, AccountError> {
        let connection = Connection::open(config)?;
        schema::migrate(&connection, &SCHEMA)
            .map_err(|failure| failure.naming(connection.name()))?;
        Ok(Self { connection })
    }

    /// Runs `work` on a live session; a backend error names the database.
    fn with<T>(
        &mut self,
        work: impl FnOnce(&Connection) -> Result<T, AccountError>,
    ) -> Result<T, AccountError> {
        let done = self
            .connection
            .ensure_open()
            .map_err(AccountError::from)
            .and_then(|()| work(&self.connection));
        done.map_err(|error| match error {
            AccountError::Backend(message) => {
                AccountError::Backend(format!("{}: {message}", self.connection.name()))
            }
            refused => refused,
        })
    }
}

impl fmt::Debug for PostgresAccountStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresAccountStore")
            .field("database", &self.connection.name())
            .finish_non_exhaustive()
    }
}

impl AccountStore for PostgresAccountStore {
    fn register(&mut self, account: &str, password_hash: &str) -> Result<u64, AccountError> {
        self.with(|connection| {
            let client = connection.client();
            let row =
                connection.run(client.query_opt(INSERT_ACCOUNT, &[&account, &password_hash]))?;
            let row = row.ok_or_else(|| AccountError::Exists(account.to_owned()))?;
            Ok(stored_account_id(&row)?)
        })
    }

    fn find_password(&mut self, account: &str) -> Result<Option<(u64, String)>, AccountError> {
        self.with(|connection| {
            let client = connection.client();
            let row = connection.run(client.query_opt(SELECT_PASSWORD, &[&account]))?;
            let found =
                row.map(|row| Ok::<_, Failure>((stored_account_id(&row)?, row.try_get(1)?)));
            Ok(found.transpose()?)
        })
    }

    fn device_account(&mut self, device_id: &str) -> Result<u64, AccountError> {
        self.with(|connection| {
            if let Some(known) = find_device(connection, device_id)? {
                return Ok(known);
            }
            match connection.in_transaction(|| create_device_account(connection, device_id)) {
                Err(DeviceFault::Taken) => {
                    let found = find_device(connection, device_id)?;
                    found.ok_or_else(|| Failure(format!("device {device_id} vanished")).into())
                }
                Err(DeviceFault::Failed(failure)) => Err(failure.into()),
                Ok(created) => Ok(created),
            }
        })
    }

    fn add_role(&mut self, account_id: u64, role: &AccountRole) -> Result<(), AccountError> {
        self.with(|connection| {
            connection.in_transaction(|| {
                check_account(connection, account_id)?;
                let client = connection.client();
                let (roleid, account) = (to_column(role.roleid.get()), to_column(account_id));
                let level = i64::from(role.level);
                let values: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
                    [&roleid, &account, &role.name, &role.srvname, &level];
                let inserted = connection.run(client.execute(INSERT_ROLE, &values))?;
                if inserted == 0 {
                    return check_role_of_account(connection, account_id, role.roleid);
                }
                connection.run(client.execute(UPDATE_LAST_ROLE, &[&account, &roleid]))?;
                Ok(())
            })
        })
    }

    fn set_level(&mut self, roleid: RoleId, level: u32, epoch: u64) -> Result<(), AccountError> {
        self.with(|connection| {
            let (roleid, level, epoch) =
                (to_column(roleid.get()), i64::from(level), to_column(epoch));
            let client = connection.client();
            connection.run(client.execute(UPDATE_LEVEL, &[&roleid, &level, &epoch]))?;
            Ok(())
        })
    }

    fn set_last_role(&mut self, account_id: u64, roleid: RoleId) -> Result<(), AccountError> {
        self.with(|connection| {
            connection.in_transaction(|| {
                check_account(connection, account_id)?;
                check_role_of_account(connection, account_id, roleid)?;
                let (account, roleid) = (to_column(account_id), to_column(roleid.get()));
                let client = connection.client();
                connection.run(client.execute(UPDATE_LAST_ROLE, &[&account, &roleid]))?;
                Ok(())
            })
        })
    }

    fn roles(&mut self, account_id: u64) -> Result<Vec<AccountRole>, AccountError> {
        self.with(|connection| {
            let client = connection.client();
            let rows = connection.run(client.query(SELECT_ROLES, &[&to_column(account_id)]))?;
            Ok(rows.iter().map(decode_role).collect::<Result<_, _>>()?)
        })
    }

    fn last_role(&mut self, account_id: u64) -> Result<Option<AccountRole>, AccountError> {
        self.with(|connection| {
            let client = connection.client();
            let row =
                connection.run(client.query_opt(SELECT_LAST_ROLE, &[&to_column(account_id)]))?;
            Ok(row.as_ref().map(decode_role).transpose()?)
        })
    }
}

/// Why a device's new account was not created.
enum DeviceFault {
    /// Another session created the device's account meanwhile.
    Taken,
    /// The database failed.
    Failed(Failure),
}

impl From<Failure> for DeviceFault {
    fn from(failure: Failure) -> Self {
        Self::Failed(failure)
    }
}

fn find_device(connection: &Connection, device_id: &str) -> Result<Option<u64>, Failure> {
    let row = connection.run(connection.client().query_opt(SELECT_DEVICE, &[&device_id]))?;
    row.as_ref().map(stored_account_id).transpose()
}

/// A new account for `device_id`, in the caller's transaction; `Taken` (the
/// caller rolls back) when another session gave the device one meanwhile.
fn create_device_account(connection: &Connection, device_id: &str) -> Result<u64, DeviceFault> {
    let client = connection.client();
    let created = connection.run(client.query_one(INSERT_DEVICE_ACCOUNT, &[]))?;
    let account_id = stored_account_id(&created)?;
    let account = to_column(account_id);
    let inserted = connection.run(client.execute(INSERT_DEVICE, &[&device_id, &account]))?;
    if inserted == 0 {
        return Err(DeviceFault::Taken);
    }
    Ok(account_id)
}

fn check_account(connection: &Connection, account_id: u64) -> Result<(), AccountError> {
    let client = connection.client();
    let known = connection.run(client.query_opt(SELECT_ACCOUNT, &[&to_column(account_id)]))?;
    known
        .map(drop)
        .ok_or(AccountError::UnknownAccount(account_id))
}

fn check_role_of_account(
    connection: &Connection,
    account_id: u64,
    roleid: RoleId,
) -> Result<(), AccountError> {
    let client = connection.client();
    let owner =
        connection.run(client.query_opt(SELECT_ROLE_ACCOUNT, &[&to_column(roleid.get())]))?;
    let owner = owner.as_ref().map(stored_account_id).transpose()?;
    if owner == Some(account_id) {
        Ok(())
    } else {
        Err(AccountError::RoleNotOfAccount(roleid))
    }
}

/// The account id in a row's first column.
fn stored_account_id(row: &Row) -> Result<u64, Failure> {
    Ok(from_column(row.try_get(0)?))
}

fn decode_role(row: &Row) -> Result<AccountRole, Failure> {
    let level: i64 = row.try_get(3)?;
    Ok(AccountRole {
        roleid: roleid_from_column(row.try_get(0)?).map_err(Failure)?,
        name: row.try_get(1)?,
        srvname: row.try_get(2)?,
        level: u32::try_from(level)
            .map_err(|_| Failure(format!("stored level {level} is not a level")))?,
    })
}
