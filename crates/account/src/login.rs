//! Register and log in: credentials, the server choice, and the login token.

use std::sync::{Arc, Mutex};

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};
use bus::Bus;
use routing::RoleId;
use store_sqlite::{AccountError, AccountRole, AccountStore};
use wire::client::{
    ErrorCode, Login, LoginOk, Register, RoleSummary, ServerAddress, login::Credential,
};
use wire::node::node_message::Body;
use wire::node::{GetCurrent, GrantLogin, NodeMessage};

use crate::{ACCOUNT_CHARS_MAX, AccountConfig, SECRET_BYTES_MAX};

/// What a login step failed with: the code and message the client gets.
pub(crate) type Refusal = (ErrorCode, String);

/// Everything a login needs, shared by the node's tasks.
pub(crate) struct Logins {
    pub(crate) config: AccountConfig,
    pub(crate) store: Arc<Mutex<AccountStore>>,
    pub(crate) bus: Arc<dyn Bus>,
}

impl Logins {
    /// Creates the account and logs it in.
    pub(crate) async fn register(&self, register: Register) -> Result<LoginOk, Refusal> {
        check_account_name(&register.account)?;
        check_secret(&register.password)?;
        let store = self.store.clone();
        let account_id = blocking(move || {
            let hash = hash_password(&register.password)?;
            let mut store = lock(&store);
            store
                .register(&register.account, &hash)
                .map_err(account_refusal)
        })
        .await?;
        self.log_in(account_id).await
    }

    /// Checks the credential and logs the account in.
    pub(crate) async fn login(&self, login: Login) -> Result<LoginOk, Refusal> {
        let store = self.store.clone();
        let account_id = match login.credential {
            Some(Credential::Password(password)) => {
                check_secret(&password.password)?;
                blocking(move || {
                    let found = lock(&store)
                        .find_password(&password.account)
                        .map_err(account_refusal)?;
                    let (account_id, hash) = found.ok_or_else(bad_credentials)?;
                    verify_password(&password.password, &hash)?;
                    Ok(account_id)
                })
                .await?
            }
            Some(Credential::DeviceId(device_id)) => {
                check_secret(&device_id)?;
                blocking(move || {
                    lock(&store)
                        .device_account(&device_id)
                        .map_err(account_refusal)
                })
                .await?
            }
            None => {
                return Err((
                    ErrorCode::BadArgument,
                    "a login needs a password or a device id".into(),
                ));
            }
        };
        self.log_in(account_id).await
    }

    /// Picks the server, grants it a token, and builds the answer.
    async fn log_in(&self, account_id: u64) -> Result<LoginOk, Refusal> {
        let store = self.store.clone();
        let (roles, last) = blocking(move || {
            let store = lock(&store);
            Ok((
                store.roles(account_id).map_err(account_refusal)?,
                store.last_role(account_id).map_err(account_refusal)?,
            ))
        })
        .await?;
        let chosen = self.choose_server(last.as_ref()).await;
        let home = last
            .as_ref()
            .map_or(chosen.as_str(), |role| role.srvname.as_str());
        let token: u128 = rand::random();
        let server = self
            .grant_first_reachable(&[&chosen, home], token, account_id)
            .await?;
        Ok(LoginOk {
            account_id,
            roles: roles.iter().map(summary).collect(),
            server: Some(server),
            login_token: token.to_be_bytes().to_vec(),
            token_ttl_ms: duration_ms(self.config.login_token_ttl),
        })
    }

    /// The server to enter (DESIGN §11): where the last role is online now,
    /// else its home, else the recommended server.
    async fn choose_server(&self, last: Option<&AccountRole>) -> String {
        let Some(role) = last else {
            return self.config.recommended_server.clone();
        };
        match self.current_server(role.roleid).await {
            Some(online_at) => online_at,
            None => role.srvname.clone(),
        }
    }

    /// Where the role is online now, per the data center; `None` when offline
    /// or when the data center cannot say (the home server then decides).
    async fn current_server(&self, roleid: RoleId) -> Option<String> {
        let query = NodeMessage {
            body: Some(Body::GetCurrent(GetCurrent {
                roleid: roleid.get(),
            })),
        };
        let answer = self.bus.request(
            &self.config.name,
            &self.config.datacenter_node,
            query,
            self.config.request_deadline,
        );
        match answer.await {
            Ok(NodeMessage {
                body: Some(Body::CurrentAnswer(current)),
            }) if current.known && current.online => Some(current.srvname),
            _ => None,
        }
    }

    /// Grants the token on the first of `preferred` that answers (the chosen
    /// server, then the role's home), then the recommended server, then
    /// every other server in name order: any game server can load any
    /// player from its home database (DESIGN §7), so a dead server does not
    /// lock its players out.
    async fn grant_first_reachable(
        &self,
        preferred: &[&str],
        token: u128,
        account_id: u64,
    ) -> Result<ServerAddress, Refusal> {
        let recommended = self.config.recommended_server.as_str();
        let everyone = self.config.servers.keys().map(String::as_str);
        let candidates = preferred
            .iter()
            .copied()
            .chain([recommended])
            .chain(everyone);
        let mut last_refusal = (
            ErrorCode::UnknownServer,
            "no game server in this zone".to_owned(),
        );
        let mut tried = std::collections::BTreeSet::new();
        for srvname in candidates.filter(|name| tried.insert(*name)) {
            let Some(server) = self.config.servers.get(srvname) else {
                continue;
            };
            match self.grant(srvname, token, account_id).await {
                Ok(()) => return Ok(server.clone()),
                Err(refusal) => {
                    tracing::warn!(
                        srvname,
                        message = refusal.1,
                        "login token not granted; trying the next server"
                    );
                    last_refusal = refusal;
                }
            }
        }
        Err(last_refusal)
    }

    async fn grant(&self, srvname: &str, token: u128, account_id: u64) -> Result<(), Refusal> {
        let grant = GrantLogin {
            token: token.to_be_bytes().to_vec(),
            account_id,
            ttl_ms: duration_ms(self.config.login_token_ttl),
        };
        let message = NodeMessage {
            body: Some(Body::GrantLogin(grant)),
        };
        let answer = self.bus.request(
            &self.config.name,
            srvname,
            message,
            self.config.request_deadline,
        );
        answer
            .await
            .map(drop)
            .map_err(|error| (ErrorCode::ServerDown, format!("{srvname}: {error}")))
    }
}

fn summary(role: &AccountRole) -> RoleSummary {
    RoleSummary {
        roleid: role.roleid.get(),
        name: role.name.clone(),
        level: role.level,
        home_srvname: role.srvname.clone(),
    }
}

fn hash_password(password: &str) -> Result<String, Refusal> {
    let hash = Argon2::default().hash_password(password.as_bytes());
    hash.map(|hash| hash.to_string())
        .map_err(|error| (ErrorCode::Internal, error.to_string()))
}

fn verify_password(password: &str, hash: &str) -> Result<(), Refusal> {
    let parsed =
        PasswordHash::new(hash).map_err(|error| (ErrorCode::Internal, error.to_string()))?;
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .map_err(|_| bad_credentials())
}

fn bad_credentials() -> Refusal {
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

pub(crate) fn lock(store: &Mutex<AccountStore>) -> std::sync::MutexGuard<'_, AccountStore> {
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

fn duration_ms(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
