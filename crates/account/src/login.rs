//! Register and log in: the credential check against the account database,
//! ending in the [`LoginRequest`] the login core decides on.

use std::sync::{Arc, Mutex};

use accountcore::{LastRole, LoginRequest};
use store::{AccountError, AccountRole, AccountStore};
use wire::client::{ErrorCode, Login, Password, Register, RoleSummary, login::Credential};

use crate::hashing::HashPool;
use crate::homes::RoleHomes;
use crate::{ACCOUNT_CHARS_MAX, SECRET_BYTES_MAX};

/// What a login step failed with: the code and message the client gets.
pub(crate) type Refusal = (ErrorCode, String);

/// The account database and the hashing pool, shared by the node's tasks.
pub(crate) struct Logins {
    pub(crate) store: Arc<Mutex<Box<dyn AccountStore>>>,
    pub(crate) pool: HashPool,
    /// Each role's home server by the transfer table.
    pub(crate) homes: RoleHomes,
}

/// Checks a `Register`'s arguments (before it may wait for a hash).
pub(crate) fn check_register(register: &Register) -> Result<(), Refusal> {
    check_account_name(&register.account)?;
    check_secret(&register.password)
}

/// Checks a `Login`'s arguments: the credential, whose secret is checked
/// only for its length.
pub(crate) fn check_login(login: Login) -> Result<Credential, Refusal> {
    let credential = login.credential.ok_or_else(|| {
        (
            ErrorCode::BadArgument,
            "a login needs a password or a device id".to_owned(),
        )
    })?;
    match &credential {
        Credential::Password(password) => check_secret(&password.password)?,
        Credential::DeviceId(device_id) => check_secret(device_id)?,
    }
    Ok(credential)
}

impl Logins {
    /// Creates the account (its arguments checked); it logs in at once.
    pub(crate) async fn register(&self, register: Register) -> Result<LoginRequest, Refusal> {
        let hash = self.pool.hash(register.password).await?;
        let store = self.store.clone();
        let account_id = blocking(move || {
            let mut store = lock(&store);
            store
                .register(&register.account, &hash)
                .map_err(account_refusal)
        })
        .await?;
        self.checked(account_id).await
    }

    /// Checks an account's password.
    pub(crate) async fn login_password(&self, password: Password) -> Result<LoginRequest, Refusal> {
        let store = self.store.clone();
        let account = password.account;
        let found = blocking(move || {
            lock(&store)
                .find_password(&account)
                .map_err(account_refusal)
        })
        .await?;
        let (account_id, hash) = found.ok_or_else(bad_credentials)?;
        if !self.pool.verify(password.password, hash).await? {
            return Err(bad_credentials());
        }
        self.checked(account_id).await
    }

    /// Finds (or creates) a device's account.
    pub(crate) async fn login_device(&self, device_id: String) -> Result<LoginRequest, Refusal> {
        let store = self.store.clone();
        let account_id = blocking(move || {
            lock(&store)
                .device_account(&device_id)
                .map_err(account_refusal)
        })
        .await?;
        self.checked(account_id).await
    }

    /// What the login core needs of a checked account: its roles and the
    /// role it played last.
    async fn checked(&self, account_id: u64) -> Result<LoginRequest, Refusal> {
        let store = self.store.clone();
        let (roles, last) = blocking(move || {
            let mut store = lock(&store);
            Ok((
                store.roles(account_id).map_err(account_refusal)?,
                store.last_role(account_id).map_err(account_refusal)?,
            ))
        })
        .await?;
        Ok(LoginRequest {
            account_id,
            roles: roles.iter().map(|role| self.summary(role)).collect(),
            last_role: last.map(|role| LastRole {
                roleid: role.roleid,
                home_srvname: self.homes.home_srvname(role.roleid, role.srvname),
            }),
        })
    }

    fn summary(&self, role: &AccountRole) -> RoleSummary {
        RoleSummary {
            roleid: role.roleid.get(),
            name: role.name.clone(),
            level: role.level,
            home_srvname: self.homes.home_srvname(role.roleid, role.srvname.clone()),
        }
    }
}

pub(crate) fn bad_credentials() -> Refusal {
    (
        ErrorCode::BadCredentials,
        "unknown account or wrong password".into(),
    )
}

fn account_refusal(error: AccountError) -> Refusal {
    match error {
        AccountError::Exists(account) => (
            ErrorCode::AccountExists,
            format!("account {account} exists"),
        ),
        other => (ErrorCode::Unavailable, other.to_string()),
    }
}

fn check_account_name(account: &str) -> Result<(), Refusal> {
    let chars = account.chars().count();
    if chars == 0 || chars > ACCOUNT_CHARS_MAX || account.chars().any(char::is_control) {
        return Err((
            ErrorCode::BadArgument,
            format!("an account name is 1..={ACCOUNT_CHARS_MAX} printable characters"),
        ));
    }
    Ok(())
}

fn check_secret(secret: &str) -> Result<(), Refusal> {
    if secret.is_empty() || secret.len() > SECRET_BYTES_MAX {
        return Err((
            ErrorCode::BadArgument,
            format!("a password or device id is 1..={SECRET_BYTES_MAX} bytes"),
        ));
    }
    Ok(())
}

pub(crate) fn lock(
    store: &Mutex<Box<dyn AccountStore>>,
) -> std::sync::MutexGuard<'_, Box<dyn AccountStore>> {
    store
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs store and hashing work off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Refusal> + Send + 'static,
) -> Result<T, Refusal> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|error| Err((ErrorCode::Internal, format!("login task failed: {error}"))))
}
