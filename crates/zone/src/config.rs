//! The zone file: its nodes by role, their addresses, databases and timings.
//! See `zone.example.toml` at the repository root.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use routing::Srvno;
use serde::{Deserialize, Serialize};

/// A whole zone.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ZoneConfig {
    /// The zone's name.
    pub zone: String,
    /// Where the databases live (created if missing).
    pub data_dir: PathBuf,
    /// The game server new accounts start on (seed "Optimisations" 2).
    pub recommended_server: String,
    /// The account center's listeners.
    pub account: ListenConfig,
    /// The game servers, one per srvno.
    #[serde(rename = "game")]
    pub games: Vec<GameServerConfig>,
    /// The data center's settings.
    #[serde(default)]
    pub datacenter: DataCenterConfig,
    /// The rank server's settings (optional; default: a node named
    /// `rank`, no periodic snapshot).
    #[serde(default)]
    pub rank: RankConfig,
    /// Lease and timer settings, in milliseconds.
    #[serde(default)]
    pub timing: TimingConfig,
    /// The account center's login queue, hashing pool and attempt limits.
    #[serde(default)]
    pub login: account::LoginSettings,
    /// The player cap and the client listeners' limits.
    #[serde(default)]
    pub limits: crate::LimitsConfig,
    /// The distributed mode's bus and databases; without it the zone
    /// runs only embedded.
    #[serde(default)]
    pub distributed: Option<DistributedConfig>,
    /// Fault injection for tests only; absent (all off) in production.
    #[serde(default, skip_serializing_if = "TestingConfig::is_off")]
    pub testing: TestingConfig,
}

/// Faults a test switches on through the zone file, so they reach the
/// nodes of a distributed zone (separate processes) as well as an embedded
/// one. Never set in production: every field's default is off.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TestingConfig {
    /// Each game server drops every n-th summary push it receives before
    /// its core sees it (0: none), as a lossy bus would.
    pub drop_summary_pushes_every: u32,
}

impl TestingConfig {
    /// Whether every fault is off.
    pub fn is_off(&self) -> bool {
        *self == Self::default()
    }
}

/// The distributed mode (DESIGN §3): every node its own process, NATS the
/// bus, PostgreSQL every database: each game server's player database, the
/// account center's and the data center's.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DistributedConfig {
    /// The NATS server, e.g. `nats://127.0.0.1:4222`.
    pub nats: String,
    /// Each game server's player (srvno) database, by game server name: a
    /// PostgreSQL connection string (`key=value` pairs or a
    /// `postgresql://` URL).
    pub player_databases: BTreeMap<String, String>,
    /// The directory of the nodes' NATS keys (`<name>.nk`, one nkey seed
    /// per node process, see `kuafu nats-config`); without it the nodes
    /// connect without credentials.
    #[serde(default)]
    pub nats_keys: Option<PathBuf>,
    /// The account center's database: a PostgreSQL connection string.
    pub account_database: String,
    /// The data center's (routing) database: a PostgreSQL connection
    /// string.
    pub datacenter_database: String,
    /// The rank server's database: a PostgreSQL connection string; without
    /// it the distributed zone runs no rank server process.
    #[serde(default)]
    pub rank_database: Option<String>,
}

impl DistributedConfig {
    /// The connection string of game server `game`'s player database.
    pub fn player_database(&self, game: &str) -> Result<&str, store::StoreError> {
        self.player_databases
            .get(game)
            .map(String::as_str)
            .ok_or_else(|| {
                store::StoreError::Backend(format!("no player database for game server {game}"))
            })
    }
}

/// Where a node listens for clients; port 0 picks a free port at start.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ListenConfig {
    /// TCP listener.
    pub tcp: SocketAddr,
    /// WebSocket listener, if any.
    pub ws: Option<SocketAddr>,
    /// The admin listener (`/metrics`, `/healthz`, DESIGN §15), if any.
    #[serde(default)]
    pub admin: Option<SocketAddr>,
}

/// The data center (it has no client listeners).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DataCenterConfig {
    /// The admin listener (`/metrics`, `/healthz`, DESIGN §15), if any.
    #[serde(default)]
    pub admin: Option<SocketAddr>,
}

/// The rank server (DESIGN §10; it has no client listeners).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RankConfig {
    /// Its node name.
    #[serde(default = "default_rank_name")]
    pub name: String,
    /// How often every board is snapshotted (e.g. 86 400 000 for daily
    /// ranks); none when absent.
    #[serde(default)]
    pub snapshot_every_ms: Option<u64>,
}

impl Default for RankConfig {
    fn default() -> Self {
        Self {
            name: default_rank_name(),
            snapshot_every_ms: None,
        }
    }
}

fn default_rank_name() -> String {
    rank::RANK_NODE.to_owned()
}

/// One game server.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct GameServerConfig {
    /// Its name (also its node name), e.g. `gs1`.
    pub name: String,
    /// Its server number: its roles' ids are `srvno * 1_000_000 + seq`.
    pub srvno: u32,
    /// Its client listeners.
    #[serde(flatten)]
    pub listen: ListenConfig,
    /// Its database file, relative to `data_dir`.
    pub db: String,
    /// The server level sent with its players when they cross.
    #[serde(default = "default_level")]
    pub level: u32,
    /// Its battle server's node name (default `<name>.battle`); every game
    /// server has its own battle server.
    #[serde(default)]
    pub battle: Option<String>,
}

impl GameServerConfig {
    /// The battle server's node name.
    pub fn battle_node(&self) -> String {
        self.battle
            .clone()
            .unwrap_or_else(|| format!("{}.battle", self.name))
    }
}

/// Lease and timer settings, in milliseconds; defaults suit production.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct TimingConfig {
    /// Lease length of a claim or renewal.
    pub lease_ttl_ms: u64,
    /// How often leases are renewed.
    pub lease_renew_interval_ms: u64,
    /// How far a node's clock may lag the database's.
    pub skew_margin_ms: u64,
    /// How often dirty players are saved.
    pub save_interval_ms: u64,
    /// How often home servers check their kuafu marks.
    pub heartbeat_interval_ms: u64,
    /// How long crossing and login tokens stay valid.
    pub token_ttl_ms: u64,
    /// Deadline of node-to-node requests.
    pub request_deadline_ms: u64,
    /// How often a game server subscribes to its cached player summaries
    /// again (a snapshot repairs a lost last push).
    pub summary_refresh_interval_ms: u64,
}

impl Default for TimingConfig {
    fn default() -> Self {
        Self {
            lease_ttl_ms: 15_000,
            lease_renew_interval_ms: 3_000,
            skew_margin_ms: 2_000,
            save_interval_ms: 5_000,
            heartbeat_interval_ms: 10_000,
            token_ttl_ms: 30_000,
            request_deadline_ms: 3_000,
            summary_refresh_interval_ms: 5_000,
        }
    }
}

fn default_level() -> u32 {
    1
}

/// A zone file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The TOML is malformed or has unknown fields.
    #[error("bad zone file: {0}")]
    Parse(#[from] toml::de::Error),
    /// The zone is inconsistent.
    #[error("bad zone: {0}")]
    Invalid(String),
}

impl ZoneConfig {
    /// Reads and checks a zone file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_owned(),
            error,
        })?;
        Self::from_toml(&text)
    }

    /// The zone as a zone file's TOML text, which [`ZoneConfig::from_toml`]
    /// reads back as the same zone (how tests and benchmarks write the zone
    /// file of a zone they start as processes).
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        toml::to_string(self)
    }

    /// Parses and checks a zone from TOML text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text)?;
        config.check()?;
        Ok(config)
    }

    /// The built-in demo zone: `game_servers` servers gs1.. on free loopback
    /// ports, srvno = index, data under `data_dir`.
    pub fn demo(data_dir: &Path, game_servers: u32) -> Self {
        let any_port = |_| ListenConfig {
            tcp: loopback_any(),
            ws: Some(loopback_any()),
            admin: None,
        };
        let games = (1..=game_servers)
            .map(|srvno| GameServerConfig {
                name: format!("gs{srvno}"),
                srvno,
                listen: any_port(srvno),
                db: format!("srv{srvno}.db"),
                level: srvno * 10,
                battle: None,
            })
            .collect();
        Self {
            zone: "demo".to_owned(),
            data_dir: data_dir.to_owned(),
            recommended_server: "gs1".to_owned(),
            account: any_port(0),
            games,
            datacenter: DataCenterConfig::default(),
            rank: RankConfig::default(),
            timing: TimingConfig::default(),
            login: demo_login(),
            distributed: None,
            limits: crate::LimitsConfig::default(),
            testing: TestingConfig::default(),
        }
    }

    /// Checks names, srvnos and references; every error names the culprit.
    pub fn check(&self) -> Result<(), ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(message));
        if self.games.is_empty() {
            return invalid("a zone needs at least one [[game]] server".into());
        }
        let (mut names, mut srvnos, mut dbs) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
        let battles: BTreeSet<String> = self
            .games
            .iter()
            .map(GameServerConfig::battle_node)
            .collect();
        if battles.len() != self.games.len() {
            return invalid("two game servers share a battle server name".into());
        }
        for game in &self.games {
            let reserved = ["account", "datacenter", self.rank.name.as_str()];
            if game.name.is_empty() || reserved.contains(&game.name.as_str()) {
                return invalid(format!(
                    "game server name {:?} is empty or reserved",
                    game.name
                ));
            }
            if !names.insert(&game.name) {
                return invalid(format!("game server name {} is used twice", game.name));
            }
            if let Err(error) = Srvno::new(game.srvno) {
                return invalid(format!("game server {}: {error}", game.name));
            }
            if !srvnos.insert(game.srvno) {
                return invalid(format!("srvno {} is used twice", game.srvno));
            }
            if !dbs.insert(&game.db) {
                return invalid(format!("database {} is used twice", game.db));
            }
        }
        if !names.contains(&self.recommended_server) {
            return invalid(format!(
                "recommended_server {} is not a game server",
                self.recommended_server
            ));
        }
        if let Some(distributed) = &self.distributed {
            self.check_distributed(distributed)?;
        }
        let timing = &self.timing;
        if timing.lease_renew_interval_ms + timing.skew_margin_ms >= timing.lease_ttl_ms {
            return invalid(
                "timing: lease_renew_interval_ms + skew_margin_ms must be below lease_ttl_ms"
                    .into(),
            );
        }
        Ok(())
    }
}

impl ZoneConfig {
    /// The distributed section names a database for every game server and
    /// no other, and every game server listens on fixed ports (each node is
    /// its own process and knows the others' addresses from this file).
    fn check_distributed(&self, distributed: &DistributedConfig) -> Result<(), ConfigError> {
        let invalid = |message: String| Err(ConfigError::Invalid(message));
        for name in distributed.player_databases.keys() {
            if !self.games.iter().any(|game| &game.name == name) {
                return invalid(format!(
                    "[distributed.player_databases] names {name}, which is not a game server"
                ));
            }
        }
        for game in &self.games {
            if !distributed.player_databases.contains_key(&game.name) {
                return invalid(format!(
                    "[distributed.player_databases] has no database for game server {}",
                    game.name
                ));
            }
            let ports = std::iter::once(game.listen.tcp).chain(game.listen.ws);
            if ports.into_iter().any(|address| address.port() == 0) {
                return invalid(format!(
                    "game server {}: a distributed zone needs fixed ports, not port 0",
                    game.name
                ));
            }
        }
        Ok(())
    }

    /// Every admin address of the zone file, mutably: the account center's,
    /// every game server's, the data center's.
    pub fn admin_addresses_mut(&mut self) -> impl Iterator<Item = &mut Option<SocketAddr>> {
        let games = self.games.iter_mut().map(|game| &mut game.listen.admin);
        std::iter::once(&mut self.account.admin)
            .chain(games)
            .chain(std::iter::once(&mut self.datacenter.admin))
    }

    /// Node `name`'s admin address, if it has one.
    pub fn admin_address(&self, name: &str) -> Option<SocketAddr> {
        match name {
            crate::ACCOUNT_NODE => self.account.admin,
            crate::DATACENTER_NODE => self.datacenter.admin,
            _ => self
                .games
                .iter()
                .find(|game| game.name == name)
                .and_then(|game| game.listen.admin),
        }
    }

    /// The node names of the distributed mode's processes: the data center,
    /// every game server (each with its battle server), the account center,
    /// and the rank server when `[distributed]` names its database.
    pub fn node_names(&self) -> Vec<String> {
        let games = self.games.iter().map(|game| game.name.clone());
        std::iter::once(crate::DATACENTER_NODE.to_owned())
            .chain(games)
            .chain(std::iter::once(crate::ACCOUNT_NODE.to_owned()))
            .chain(self.rank_process())
            .collect()
    }

    /// Whether the zone runs a rank server: always embedded; distributed,
    /// when `[distributed]` names its database.
    pub fn runs_rank(&self) -> bool {
        self.distributed.is_none() || self.rank_process().is_some()
    }

    /// The rank server's node name, when the distributed mode runs it as a
    /// process of its own.
    pub fn rank_process(&self) -> Option<String> {
        let distributed = self.distributed.as_ref()?;
        distributed
            .rank_database
            .as_ref()
            .map(|_| self.rank.name.clone())
    }
}

/// The demo's login settings: its bots all come from one address, so that
/// address may register as many accounts as a demo has bots.
fn demo_login() -> account::LoginSettings {
    account::LoginSettings {
        registrations_per_address_max: u32::MAX,
        ..account::LoginSettings::default()
    }
}

fn loopback_any() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

#[cfg(test)]
mod tests;
