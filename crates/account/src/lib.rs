//! The account center node (seed "Server architecture" 5; DESIGN §11).
//!
//! Clients connect here first (TCP or WebSocket, the client protocol) to
//! register or log in, by account and password (argon2id hash) or by device
//! id. The answer names the server to connect to, with no selection step
//! (seed "Optimisations" 2): the server where the player is now if it is
//! online somewhere (asked of the data center), else its home server, else
//! the recommended server for a new account. Before answering, the account
//! center hands that server a one-time login token over the bus, so the token
//! is valid by the time the client presents it; a server that does not
//! acknowledge is skipped, and the next one gets a token of its own.
//!
//! Those decisions are the pure [`accountcore::AccountCore`]; this crate is
//! its tokio shell: the credential check and the account database
//! (`login`), the client connections, and the core's bus requests (`node`).
//!
//! Game servers report new roles here (`RoleCreatedNote`), so a login lists
//! every role of the account, and each role's level whenever a server lets
//! the role go (`RoleLevelNote`, at logoff and at a crossing's handoff), so
//! the listed level is the one the role's row had then.

mod admission;
mod hashing;
mod homes;
pub mod limits;
mod login;
mod metrics;
mod node;
mod settings;

use std::time::Duration;

pub use hashing::{HASH_THREAD_PREFIX, HashCost, hash_rate, hash_time};
pub use homes::RoleHomes;
pub use limits::{ACCOUNT_CHARS_MAX, SECRET_BYTES_MAX};
pub use metrics::{COUNTED_REFUSALS, LoginMetrics, OTHER_REFUSAL};
pub use node::{AccountCenter, StartError};
pub use settings::LoginSettings;

/// How to run the account center.
#[derive(Clone, Debug)]
pub struct AccountConfig {
    /// The node's name on the bus.
    pub name: String,
    /// Deadline of the account center's bus requests.
    pub request_deadline: Duration,
    /// The login decisions: the data center, the game servers, the
    /// recommended server, the token's validity and the bounds.
    pub logins: accountcore::Config,
    /// The login queue, the hashing pool and the attempt limits.
    pub login: LoginSettings,
    /// Where the login queue and the refusals are recorded.
    pub metrics: LoginMetrics,
}
