//! A zone (DESIGN §1, §3): its configuration ([`ZoneConfig`], TOML) and the
//! embedded mode ([`Zone`]), which runs the account center, the data center
//! and every game server of the zone with its battle server in one process: nodes are tasks on the
//! in-process bus, each srvno database is a SQLite file under the data
//! directory, and every game server listens on its own ports.

mod audit;
mod config;
mod embedded;
mod limits;
mod takeover;

pub use audit::audit;
pub use config::{ConfigError, GameServerConfig, ListenConfig, ZoneConfig};
pub use embedded::{Zone, ZoneError};
pub use limits::LimitsConfig;
pub use takeover::{DataDirLock, LOCK_FILE, LockError};
