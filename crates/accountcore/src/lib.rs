//! The account center's login decisions (DESIGN §6, §11), as a state machine
//! in the shape of quinn-proto: inputs are `handle_*(now_ms, …)`, outputs are
//! drained with [`AccountCore::poll_output`].
//!
//! A login comes in after the shell has checked the credential (passwords,
//! the account database and the client connection stay in the shell): the
//! account, its roles and its last role. The core asks the data center where
//! that role is online (`GetCurrent`), lists the candidate servers (see
//! [`candidates`]), and grants each candidate in turn a **fresh** one-time
//! login token (`GrantLogin`), moving on when a grant is not acknowledged.
//! The client gets the token of the server that acknowledged, and only then.
//!
//! A server at its player cap refuses the grant `SERVER_FULL`; the core
//! remembers it for `server_full_memory_ms`, moves the login to the next
//! candidate, and leaves that server out of new logins' candidates. When
//! every server is known full, [`AccountCore::zone_full_retry_after_ms`]
//! says so, and the shell refuses a login before it queues for a hash.
//! A grant that timed out may still reach its server later, but its token was
//! never given to anyone, so it admits nobody: a login token is valid only at
//! the server `LoginOk` names.
//!
//! The core never does I/O, never reads a clock and never draws randomness:
//! time comes in as `now_ms`, tokens from an [`Entropy`] the caller passes,
//! answers to its requests as inputs. It keeps no timers: every request gets
//! exactly one answer from the shell's bus (the reply, or a failure such as
//! the bus deadline passing). So the same code runs in the `account` node and
//! in the deterministic simulator.

pub mod candidates;
pub mod limiter;
pub mod limits;
pub mod queue;

mod core;

pub use crate::core::AccountCore;

use std::collections::BTreeMap;

use routing::RoleId;
use wire::client::{ErrorCode, LoginOk, RoleSummary, ServerAddress};
use wire::node::NodeMessage;

pub use limits::{LOGIN_CANDIDATES_MAX, LOGINS_MAX, SERVER_FULL_MEMORY_MS};

/// A login in progress, numbered by the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LoginId(pub u64);

/// A request this core sent to a peer, numbered by the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CallId(pub u64);

/// Where randomness comes from: the OS in production, the seeded PRNG in the
/// simulator.
pub trait Entropy {
    /// 128 unpredictable bits for a one-time token.
    fn token(&mut self) -> u128;
}

/// A request that brought no usable answer: the peer was unreachable,
/// answered with an error, or did not answer before the deadline (the
/// outcome is unknown). The core treats them alike; the text is for logs
/// and the client's error message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CallFailed(pub String);

/// How the account center decides logins.
#[derive(Clone, Debug)]
pub struct Config {
    /// The data center's node name.
    pub datacenter_node: String,
    /// Every game server's client address, by name (its node name).
    pub servers: BTreeMap<String, ServerAddress>,
    /// Where new accounts start (seed "Optimisations" 2).
    pub recommended_server: String,
    /// How long a login token stays valid.
    pub login_token_ttl_ms: u64,
    /// Most servers one login grants a token at before it gives up.
    pub login_candidates_max: usize,
    /// Most logins in progress; more are refused `OVERLOADED`.
    pub logins_max: usize,
    /// How long a server that refused a grant `SERVER_FULL` is skipped by
    /// new logins (and, when every server is, the retry-after of the
    /// `SERVER_FULL` refusal).
    pub server_full_memory_ms: u64,
    /// Deliberate bugs for the simulator; all off in production.
    pub mutations: Mutations,
}

/// Deliberate bugs, each off in production, so the simulator can prove it
/// catches them. The zone config cannot set them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Mutations {
    /// One login token for every candidate of a login (the bug the fresh
    /// token per candidate fixed): a grant that reaches a stalled server
    /// late makes the client's token valid there too.
    pub shared_login_token: bool,
}

impl Config {
    /// A config with production defaults.
    pub fn new(
        datacenter_node: &str,
        servers: BTreeMap<String, ServerAddress>,
        recommended_server: &str,
    ) -> Self {
        Self {
            datacenter_node: datacenter_node.to_owned(),
            servers,
            recommended_server: recommended_server.to_owned(),
            login_token_ttl_ms: 30_000,
            login_candidates_max: LOGIN_CANDIDATES_MAX,
            logins_max: LOGINS_MAX,
            server_full_memory_ms: SERVER_FULL_MEMORY_MS,
            mutations: Mutations::default(),
        }
    }
}

/// A login whose credential the shell has checked.
#[derive(Clone, Debug, PartialEq)]
pub struct LoginRequest {
    /// The account.
    pub account_id: u64,
    /// Every role of the account, for `LoginOk`.
    pub roles: Vec<RoleSummary>,
    /// The role played last, if any: where the player goes.
    pub last_role: Option<LastRole>,
}

/// The role an account played last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LastRole {
    /// The role.
    pub roleid: RoleId,
    /// Its home server's name.
    pub home_srvname: String,
}

/// Why a login was refused: the code and message the client gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The typed code.
    pub code: ErrorCode,
    /// Human-readable detail.
    pub message: String,
    /// When the same login may succeed (`SERVER_FULL`): the client gets a
    /// `RetryLater` instead of an `Error`.
    pub retry_after_ms: Option<u64>,
}

/// What the core asks its shell to do, drained by [`AccountCore::poll_output`].
#[derive(Clone, Debug, PartialEq)]
pub enum Output {
    /// Send a request to a peer; answer with `handle_call_answer(call, …)`.
    Request {
        /// Names the answer.
        call: CallId,
        /// The peer's node name.
        to: String,
        /// The request.
        message: NodeMessage,
    },
    /// Answer the client of a login; the login is finished.
    Answer {
        /// The login.
        login: LoginId,
        /// `LoginOk` with the server and its token, or the refusal.
        answer: Result<LoginOk, Refusal>,
    },
    /// A server did not acknowledge its grant; the login moves on.
    GrantFailed {
        /// The login.
        login: LoginId,
        /// The server.
        srvname: String,
        /// Why.
        failure: CallFailed,
    },
}
