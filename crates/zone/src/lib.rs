//! A zone (DESIGN §1, §3): its configuration ([`ZoneConfig`], TOML); the
//! embedded mode ([`Zone`]), which runs the account center, the data center
//! and every game server of the zone with its battle server in one process:
//! nodes are tasks on the in-process bus, each srvno database is a SQLite
//! file under the data directory, and every game server listens on its own
//! ports; and the distributed mode's node ([`ZoneNode`]): one of those nodes
//! in its own process, on NATS, with PostgreSQL player databases, each
//! process its own NATS user with the permissions of its role
//! ([`bus_access`], [`nats_authorization`]).

mod access;
mod admin;
mod audit;
mod config;
mod distributed;
mod embedded;
mod homes;
mod limits;
mod node_lock;
mod takeover;
mod transfer;

pub use access::{AccessError, bus_access, create_missing_keys, nats_authorization, node_key};
pub use audit::audit;
pub use config::{
    ConfigError, DataCenterConfig, DistributedConfig, GameServerConfig, ListenConfig, RankConfig,
    TestingConfig, ZoneConfig,
};
pub use distributed::ZoneNode;
pub use embedded::{
    ACCOUNT_NODE, DATACENTER_NODE, OPERATOR_NODE, Zone, ZoneError, current_server, players,
};
pub use limits::LimitsConfig;
pub use node_lock::{NODE_LOCK_CHECK_MS, NODE_LOCK_RETRY_MS, NODE_LOCK_WAIT_MS};
/// Reading the rank server over any bus (top N, a role's rank and
/// neighbours): what an operator tool calls.
pub use rank::query as rank_query;
pub use takeover::{DataDirLock, LOCK_FILE, LockError};
pub use transfer::{
    PlayerDatabases, TransferError, TransferStep, Transferred, open_player_databases, transfer,
    transfer_in_distributed_zone, transfer_table,
};
