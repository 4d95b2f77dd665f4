//! [`AccountStore`]: the account center's database (DESIGN §3, §8): accounts
//! by name and password hash or by device id, and the roles each account has
//! on the game servers, each with the level its game server last reported.
//!
//! The embedded mode keeps it in SQLite (`store-sqlite`), the distributed
//! mode in PostgreSQL (`store-postgres`); both pass the account contract
//! suite (`contract::accounts`). The API is synchronous: the account center
//! calls it off its async threads.

use routing::RoleId;

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
    /// The database failed (its message names the database).
    #[error("account store: {0}")]
    Backend(String),
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

/// The account database. Every method is one transaction, durable when it
/// returns. Account ids are never reused, whichever session allocates them.
pub trait AccountStore: Send {
    /// Creates the account `account` with `password_hash` (a PHC string,
    /// stored as given); returns its new id, or `Exists` when the name is
    /// taken.
    fn register(&mut self, account: &str, password_hash: &str) -> Result<u64, AccountError>;

    /// The id and password hash of the account named `account`, if any.
    fn find_password(&mut self, account: &str) -> Result<Option<(u64, String)>, AccountError>;

    /// The account of device `device_id`, created on its first login: one
    /// account per device, even when two sessions log the device in at once.
    fn device_account(&mut self, device_id: &str) -> Result<u64, AccountError>;

    /// Records that `account_id` has `role` (its id, name, home server and
    /// level at creation), and makes it the account's last role. Adding the
    /// same role again changes nothing (the note may arrive twice); a role
    /// of another account is refused (`RoleNotOfAccount`), as is an unknown
    /// account (`UnknownAccount`).
    fn add_role(&mut self, account_id: u64, role: &AccountRole) -> Result<(), AccountError>;

    /// Records `roleid`'s level as the server that held the row at `epoch`
    /// reported it. A report older than the stored one (a lower epoch), or
    /// for a role this database does not know, changes nothing.
    fn set_level(&mut self, roleid: RoleId, level: u32, epoch: u64) -> Result<(), AccountError>;

    /// Makes `roleid`, a role of `account_id`, the account's last role (the
    /// one its next login enters).
    fn set_last_role(&mut self, account_id: u64, roleid: RoleId) -> Result<(), AccountError>;

    /// The roles of `account_id`, ordered by role id.
    fn roles(&mut self, account_id: u64) -> Result<Vec<AccountRole>, AccountError>;

    /// The role `account_id` entered last (or created last), if it has one.
    fn last_role(&mut self, account_id: u64) -> Result<Option<AccountRole>, AccountError>;
}
