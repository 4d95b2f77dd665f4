//! The embedded mode: a whole zone in one process.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use account::{AccountCenter, AccountConfig};
use bus::{Bus, InProcessBus};
use datacenter::DataCenter;
use game::{GameHandle, GameNode, GameNodeConfig, NodeStatus, StoreRoutes};
use gamecore::{ServerInfo, ZoneMap};
use ownership::{OwnerId, Rules};
use routing::Srvno;
use store_sqlite::{
    ACCOUNT_DB_FILE, OnSystemClock, PlayerStoreWriter, RANK_DB_FILE, ROUTING_DB_FILE,
    SqliteAccountStore, SqlitePlayerStore, SqliteRankStore, SqliteRoutingStore,
};
use telemetry::admin::{Admin, AdminServer, Phase};
use telemetry::{MeteredBus, Registry, names};
use wire::client::ServerAddress;

use crate::admin::{ConnectionsProbe, GameProbe};
use crate::config::{GameServerConfig, ListenConfig, ZoneConfig};
use crate::homes::role_homes;
use crate::takeover::{DataDirLock, take_back_logged};

/// The account center's node name.
pub const ACCOUNT_NODE: &str = "account";
/// The data center's node name.
pub const DATACENTER_NODE: &str = "datacenter";
/// The name an operator's query (a test's, a tool's) is sent from.
pub const OPERATOR_NODE: &str = "operator";

/// Binds tried when a restarted game server's port is still held by the
/// incarnation that was killed.
pub const RESTART_BIND_ATTEMPTS_MAX: u32 = 100;
/// Pause between two such binds.
const RESTART_BIND_PAUSE: Duration = Duration::from_millis(20);

/// Why a zone could not start or change.
#[derive(Debug, thiserror::Error)]
pub enum ZoneError {
    /// The data directory could not be created.
    #[error("data directory {0}: {1}")]
    DataDir(std::path::PathBuf, std::io::Error),
    /// A listener could not bind.
    #[error("cannot listen: {0}")]
    Listen(std::io::Error),
    /// A player database could not be opened.
    #[error("player store: {0}")]
    Store(#[from] store::StoreError),
    /// The account center failed to start.
    #[error("account center: {0}")]
    Account(#[from] account::StartError),
    /// The data center failed to start.
    #[error("data center: {0}")]
    DataCenter(#[from] datacenter::StartError),
    /// The rank server failed to start.
    #[error("rank server: {0}")]
    Rank(#[from] rank::StartError),
    /// A battle server could not bind its name.
    #[error("battle server: {0}")]
    Battle(#[from] bus::BusError),
    /// A game server failed to start.
    #[error("game server: {0}")]
    Game(#[from] game::NodeError),
    /// No game server has that name.
    #[error("no game server named {0}")]
    UnknownServer(String),
    /// The data directory is in use or cannot be locked.
    #[error("data directory: {0}")]
    Lock(#[from] crate::takeover::LockError),
    /// The zone file has no `[distributed]` section.
    #[error("the zone file has no [distributed] section")]
    NotDistributed,
    /// The zone has no node of that name.
    #[error("no node named {0}")]
    UnknownNode(String),
    /// NATS could not be reached, or did not confirm the node's bindings.
    #[error("NATS: {0}")]
    Nats(String),
    /// The node's NATS key cannot be used.
    #[error("NATS credentials: {0}")]
    Credentials(#[from] crate::AccessError),
    /// A game server's node lock could not be taken (distributed mode).
    #[error("{0}")]
    NodeLock(#[from] store_postgres::NodeLockError),
    /// The transfer table could not be loaded from the data center.
    #[error("transfer table: {0}")]
    TransferTable(#[from] datacenter::table::TableError),
}

/// A running embedded zone.
pub struct Zone {
    config: ZoneConfig,
    bus: Arc<dyn Bus>,
    stores: StoreRoutes,
    account: AccountCenter,
    datacenter: DataCenter,
    rank: rank::RankServer,
    battles: Vec<battle::BattleServer>,
    games: BTreeMap<String, GameNode>,
    /// Every node's series and the zone's health, served on every admin
    /// address of the zone file.
    admin: Arc<Admin>,
    _admin_servers: Vec<AdminServer>,
    /// Held while the zone runs: proves the previous run's nodes are dead.
    _lock: DataDirLock,
}

impl Zone {
    /// Starts every node of `config`. Every listener binds first (port 0
    /// picks a free port), so every node knows every other's real address.
    /// The admin listeners answer `/healthz` with 503 (`starting`) until
    /// every node has started.
    pub async fn start(mut config: ZoneConfig) -> Result<Self, ZoneError> {
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|error| ZoneError::DataDir(config.data_dir.clone(), error))?;
        check_databases(&config)?;
        let lock = DataDirLock::acquire(&config.data_dir)?;
        let limits = config.limits;
        let admin = Admin::new(Registry::new());
        let admin_servers = crate::admin::serve(config.admin_addresses_mut(), &admin).await?;
        let registry = admin.registry().clone();
        let account_gateway = listen(ACCOUNT_NODE, &mut config.account, &limits).await?;
        let mut gateways = Vec::with_capacity(config.games.len());
        for game in &mut config.games {
            gateways.push(listen(&game.name, &mut game.listen, &limits).await?);
        }
        let bus: Arc<dyn Bus> = Arc::new(MeteredBus::new(
            Arc::new(InProcessBus::new()),
            registry.clone(),
        ));
        let stores = open_stores(&config, &registry)?;
        let zone_map = zone_map(&config);
        let datacenter = start_datacenter(&config, bus.clone()).await?;
        let rank = start_rank(&config, bus.clone()).await?;
        let battles = config
            .games
            .iter()
            .map(|game| battle::BattleServer::start(&game.battle_node(), bus.clone()))
            .collect::<Result<Vec<_>, _>>()?;
        let mut games = BTreeMap::new();
        for (game, gateway) in config.games.iter().zip(gateways) {
            let owner = take_back_for_successor(&game.name, &stores).await?;
            let node = start_game(
                &config,
                game,
                owner.incarnation,
                gateway,
                bus.clone(),
                stores.clone(),
                &registry,
            )
            .await?;
            admin.set_probe(
                &game.name,
                GameProbe::new(&registry, &game.name, node.handle()),
            );
            games.insert(game.name.clone(), node);
        }
        let probe = ConnectionsProbe::new(&registry, ACCOUNT_NODE, &account_gateway);
        admin.set_probe(ACCOUNT_NODE, probe);
        let logins = account_config(&config, &zone_map, &registry);
        let account = start_account(&config, logins, account_gateway, &bus).await?;
        admin.set_phase(Phase::Serving);
        Ok(Self {
            config,
            bus,
            stores,
            account,
            datacenter,
            rank,
            battles,
            games,
            admin,
            _admin_servers: admin_servers,
            _lock: lock,
        })
    }

    /// The bus every node of the zone talks through (a bench joins it as
    /// extra nodes).
    pub fn bus(&self) -> Arc<dyn Bus> {
        Arc::clone(&self.bus)
    }

    /// The zone's configuration, with every port resolved.
    pub fn config(&self) -> &ZoneConfig {
        &self.config
    }

    /// Where clients log in (TCP).
    pub fn account_addr(&self) -> SocketAddr {
        self.account.tcp_addr
    }

    /// Where clients log in (WebSocket).
    pub fn account_ws_addr(&self) -> Option<SocketAddr> {
        self.account.ws_addr
    }

    /// A running game server's handle.
    pub fn game(&self, name: &str) -> Option<GameHandle> {
        self.games.get(name).map(GameNode::handle)
    }

    /// A running game server's TCP address.
    pub fn game_addr(&self, name: &str) -> Option<SocketAddr> {
        self.games.get(name).map(|node| node.tcp_addr)
    }

    /// The names of the running game servers.
    pub fn game_names(&self) -> Vec<String> {
        self.games.keys().cloned().collect()
    }

    /// Every running game server's counters, by name.
    pub async fn status(&self) -> Vec<NodeStatus> {
        let mut statuses = Vec::with_capacity(self.games.len());
        for node in self.games.values() {
            if let Ok(status) = node.handle().status().await {
                statuses.push(status);
            }
        }
        statuses
    }

    /// Where the data center says `roleid` is now: `(srvname, online)`.
    pub async fn current_server(
        &self,
        roleid: routing::RoleId,
    ) -> Result<Option<(String, bool)>, bus::BusError> {
        let deadline = Duration::from_millis(self.config.timing.request_deadline_ms);
        current_server(self.bus.as_ref(), deadline, roleid).await
    }

    /// The zone's players, called as an operator (DESIGN §9):
    /// `zone.players().player(roleid).add_gold(10, "test:rpc")`.
    pub fn players(&self) -> game::Players {
        players(self.bus.clone(), &self.config)
    }

    /// Transfers offline role `roleid` to srvno `to` (转服, DESIGN §7),
    /// stopping after step `until` (`None`: the whole transfer); see
    /// [`crate::transfer`].
    pub async fn transfer(
        &self,
        roleid: routing::RoleId,
        to: u32,
        until: Option<crate::TransferStep>,
    ) -> Result<crate::Transferred, crate::TransferError> {
        let deadline = Duration::from_millis(self.config.timing.request_deadline_ms);
        let target = (roleid, to);
        crate::transfer(self.bus.as_ref(), &self.stores, deadline, target, until).await
    }

    /// The first `limit` roles of rank board `board` (top N), live or from
    /// its latest snapshot, asked over the zone's bus as [`OPERATOR_NODE`].
    pub async fn rank_top(
        &self,
        board: &str,
        snapshot: bool,
        limit: u32,
    ) -> Result<wire::node::RankPage, bus::BusError> {
        let deadline = Duration::from_millis(self.config.timing.request_deadline_ms);
        let ranking = rank::query::Ranking {
            node: &self.config.rank.name,
            board,
            snapshot,
        };
        rank::query::top(self.bus.as_ref(), OPERATOR_NODE, deadline, &ranking, limit).await
    }

    /// `roleid`'s rank on live board `board` and `radius` neighbours on
    /// each side.
    pub async fn rank_around(
        &self,
        board: &str,
        roleid: routing::RoleId,
        radius: u32,
    ) -> Result<wire::node::RankPage, bus::BusError> {
        let deadline = Duration::from_millis(self.config.timing.request_deadline_ms);
        let ranking = rank::query::Ranking {
            node: &self.config.rank.name,
            board,
            snapshot: false,
        };
        let bus = self.bus.as_ref();
        rank::query::around(bus, OPERATOR_NODE, deadline, &ranking, roleid, radius).await
    }

    /// Loads a read-only copy of `roleid` from its home database (seed
    /// "Points of care" 1), as the data center's transfer table routes it:
    /// what designers use to look at an offline or away player. Its type
    /// has no save; only the owner's copy is writable.
    pub async fn load_readonly(
        &self,
        roleid: routing::RoleId,
    ) -> Result<store::ReadOnlyPlayer, store::StoreError> {
        let deadline = Duration::from_millis(self.config.timing.request_deadline_ms);
        let table = crate::transfer_table(self.bus.as_ref(), deadline).await;
        let table = table.map_err(|error| store::StoreError::Backend(error.to_string()))?;
        let srvno = table.home_of(roleid);
        let writer = self
            .stores
            .get(&srvno)
            .ok_or(store::StoreError::WrongDatabase(srvno))?;
        match writer
            .submit(store::PlayerOp::LoadReadOnly { roleid })
            .await?
        {
            store::OpOutcome::Loaded(player) => Ok(player),
            other => Err(store::StoreError::Backend(format!(
                "read-only load answered {other:?}"
            ))),
        }
    }

    /// Crashes game server `name`: its in-memory players are lost without a
    /// save or release; the stores keep what was durable.
    pub fn kill_game(&mut self, name: &str) -> Result<(), ZoneError> {
        let node = self
            .games
            .remove(name)
            .ok_or_else(|| ZoneError::UnknownServer(name.to_owned()))?;
        node.kill();
        Ok(())
    }

    /// Starts game server `name` again (a new incarnation, same ports). The
    /// killed incarnation's listeners close asynchronously, so a port still
    /// in use is retried a bounded number of times.
    pub async fn restart_game(&mut self, name: &str) -> Result<(), ZoneError> {
        let game = self.config.games.iter().find(|game| game.name == name);
        let game = game
            .ok_or_else(|| ZoneError::UnknownServer(name.to_owned()))?
            .clone();
        let mut attempts = 0;
        let mut listen_config = game.listen.clone();
        let gateway = loop {
            attempts += 1;
            match listen(&game.name, &mut listen_config, &self.config.limits).await {
                Err(ZoneError::Listen(error))
                    if error.kind() == std::io::ErrorKind::AddrInUse
                        && attempts < RESTART_BIND_ATTEMPTS_MAX =>
                {
                    tokio::time::sleep(RESTART_BIND_PAUSE).await;
                }
                result => break result?,
            }
        };
        let owner = take_back_for_successor(&game.name, &self.stores).await?;
        let node = start_game(
            &self.config,
            &game,
            owner.incarnation,
            gateway,
            self.bus.clone(),
            self.stores.clone(),
            self.admin.registry(),
        )
        .await?;
        let probe = GameProbe::new(self.admin.registry(), name, node.handle());
        self.admin.set_probe(name, probe);
        self.games.insert(name.to_owned(), node);
        Ok(())
    }

    /// Stops the zone gracefully: every game server releases its players
    /// (final saves) before the stores close.
    pub async fn shutdown(self) {
        self.admin.set_phase(Phase::Stopping);
        self.account.stop();
        for node in self.games.into_values() {
            node.shutdown().await;
        }
        self.datacenter.stop();
        self.rank.stop();
        for battle in self.battles {
            battle.stop();
        }
        // Dropping the last store handles joins the writer threads.
        drop(self.stores);
    }
}

/// The players of the zone `config` describes, called on `bus` as node
/// [`OPERATOR_NODE`] (an operator tool, a test), each request waiting at
/// most the zone's request deadline: a call runs where the player is.
pub fn players(bus: Arc<dyn Bus>, config: &ZoneConfig) -> game::Players {
    let deadline = Duration::from_millis(config.timing.request_deadline_ms);
    game::Players::new(bus, OPERATOR_NODE, zone_map(config), deadline)
}

/// Asks the data center on `bus`, as node [`OPERATOR_NODE`], where
/// `roleid` is now: `(srvname, online)`, or `None` if it does not know.
pub async fn current_server(
    bus: &dyn Bus,
    deadline: Duration,
    roleid: routing::RoleId,
) -> Result<Option<(String, bool)>, bus::BusError> {
    use wire::node::node_message::Body;
    let query = wire::node::GetCurrent {
        roleid: roleid.get(),
    };
    let message = wire::node::NodeMessage {
        body: Some(Body::GetCurrent(query)),
    };
    let answer = bus
        .request(OPERATOR_NODE, DATACENTER_NODE, message, deadline)
        .await?;
    match answer.body {
        Some(Body::CurrentAnswer(current)) if current.known => {
            Ok(Some((current.srvname, current.online)))
        }
        _ => Ok(None),
    }
}

/// Binds a node's listeners and records the addresses they got.
pub(crate) async fn listen(
    name: &str,
    listen: &mut ListenConfig,
    limits: &crate::LimitsConfig,
) -> Result<gateway::Gateway, ZoneError> {
    let gateway = gateway::start(limits.gateway(name, listen.tcp, listen.ws))
        .await
        .map_err(ZoneError::Listen)?;
    listen.tcp = gateway.tcp_local_addr;
    listen.ws = gateway.ws_local_addr;
    Ok(gateway)
}

/// Checks every database file of the zone before any is created, so a file
/// that is not the database it should be stops the start with nothing
/// created beside it; the error names the file.
fn check_databases(config: &ZoneConfig) -> Result<(), ZoneError> {
    let data_dir = &config.data_dir;
    for game in &config.games {
        SqlitePlayerStore::check_file(data_dir.join(&game.db))?;
    }
    SqliteRoutingStore::check_file(data_dir.join(ROUTING_DB_FILE))
        .map_err(datacenter::StartError::from)?;
    SqliteAccountStore::check_file(data_dir.join(ACCOUNT_DB_FILE))
        .map_err(account::StartError::from)?;
    SqliteRankStore::check_file(data_dir.join(RANK_DB_FILE)).map_err(rank::StartError::from)?;
    Ok(())
}

/// Starts the data center on `datacenter.db`.
async fn start_datacenter(config: &ZoneConfig, bus: Arc<dyn Bus>) -> Result<DataCenter, ZoneError> {
    let routes = SqliteRoutingStore::open(config.data_dir.join(ROUTING_DB_FILE))
        .map_err(datacenter::StartError::from)?;
    Ok(DataCenter::start(DATACENTER_NODE, Box::new(routes), bus).await?)
}

/// Starts the rank server of the zone file's `[rank]` on `rank.db`.
async fn start_rank(config: &ZoneConfig, bus: Arc<dyn Bus>) -> Result<rank::RankServer, ZoneError> {
    let store = SqliteRankStore::open(config.data_dir.join(RANK_DB_FILE))
        .map_err(rank::StartError::from)?;
    let every = config.rank.snapshot_every_ms.map(Duration::from_millis);
    Ok(rank::RankServer::start(&config.rank.name, Box::new(store), bus, every).await?)
}

/// Opens every game server's database behind its writer; in one process,
/// each database's series belong to its game server.
fn open_stores(config: &ZoneConfig, registry: &Registry) -> Result<StoreRoutes, ZoneError> {
    let mut stores = BTreeMap::new();
    for game in &config.games {
        let srvno = Srvno::new(game.srvno).expect("checked by ZoneConfig::check");
        let store =
            SqlitePlayerStore::open(config.data_dir.join(&game.db), &[srvno], Rules::default())?;
        let metrics = crate::admin::writer_metrics(registry, &game.name, &game.name);
        let writer = PlayerStoreWriter::spawn_metered(OnSystemClock(store), metrics)?;
        stores.insert(srvno, Arc::new(writer));
    }
    Ok(Arc::new(stores))
}

fn server_address(game: &GameServerConfig) -> ServerAddress {
    ServerAddress {
        srvname: game.name.clone(),
        tcp_addr: game.listen.tcp.to_string(),
        ws_addr: game.listen.ws.map(|ws| ws.to_string()).unwrap_or_default(),
    }
}

pub(crate) fn zone_map(config: &ZoneConfig) -> ZoneMap {
    ZoneMap::new(config.games.iter().map(|game| ServerInfo {
        address: server_address(game),
        srvnos: vec![Srvno::new(game.srvno).expect("checked by ZoneConfig::check")],
    }))
}

/// Draws the incarnation of game server `name`'s next run and frees the
/// rows its dead predecessor held (the zone's data directory lock, or the
/// zone's own kill, proves it dead).
async fn take_back_for_successor(name: &str, stores: &StoreRoutes) -> Result<OwnerId, ZoneError> {
    let owner = OwnerId {
        node: name.to_owned(),
        incarnation: rand::random::<u64>().max(1),
    };
    take_back_logged(stores, &owner).await?;
    Ok(owner)
}

pub(crate) async fn start_game(
    config: &ZoneConfig,
    game: &GameServerConfig,
    incarnation: u64,
    gateway: gateway::Gateway,
    bus: Arc<dyn Bus>,
    stores: StoreRoutes,
    registry: &Registry,
) -> Result<GameNode, ZoneError> {
    let srvno = Srvno::new(game.srvno).expect("checked by ZoneConfig::check");
    let mut core = gamecore::Config::new(&game.name, incarnation, srvno, zone_map(config));
    let timing = &config.timing;
    core.server_level = game.level;
    core.account_node = ACCOUNT_NODE.to_owned();
    core.datacenter_node = DATACENTER_NODE.to_owned();
    core.rank_node = config.runs_rank().then(|| config.rank.name.clone());
    core.battle_node = game.battle_node();
    core.lease_ttl_ms = timing.lease_ttl_ms;
    core.lease_renew_interval_ms = timing.lease_renew_interval_ms;
    core.skew_margin_ms = timing.skew_margin_ms;
    core.save_interval_ms = timing.save_interval_ms;
    core.heartbeat_interval_ms = timing.heartbeat_interval_ms;
    core.token_ttl_ms = timing.token_ttl_ms;
    core.handoff_ttl_ms = timing.token_ttl_ms;
    core.players_max = config.limits.players_max;
    core.summary_refresh_interval_ms = timing.summary_refresh_interval_ms;
    let node_config = GameNodeConfig {
        drop_summary_pushes_every: config.testing.drop_summary_pushes_every,
        core,
        request_deadline: Duration::from_millis(timing.request_deadline_ms),
        crossing_seconds: registry.histogram(&names::CROSSING_SECONDS, &game.name, &[]),
    };
    let transfers = crate::homes::follow_transfers(&bus, &game.name, config).await?;
    Ok(GameNode::start(
        node_config,
        gateway,
        bus,
        stores,
        transfers,
    )?)
}

/// The embedded account center on its SQLite database, with its view of
/// each role's home.
async fn start_account(
    config: &ZoneConfig,
    logins: AccountConfig,
    gateway: gateway::Gateway,
    bus: &Arc<dyn Bus>,
) -> Result<AccountCenter, ZoneError> {
    let accounts = SqliteAccountStore::open(config.data_dir.join(ACCOUNT_DB_FILE))
        .map_err(account::StartError::from)?;
    let homes = role_homes(bus, config).await?;
    let store = Box::new(accounts);
    Ok(AccountCenter::start(
        logins,
        gateway,
        bus.clone(),
        store,
        homes,
    )?)
}

pub(crate) fn account_config(
    config: &ZoneConfig,
    zone_map: &ZoneMap,
    registry: &Registry,
) -> AccountConfig {
    let servers = zone_map
        .servers()
        .map(|server| (server.address.srvname.clone(), server.address.clone()))
        .collect();
    let mut logins = accountcore::Config::new(DATACENTER_NODE, servers, &config.recommended_server);
    logins.login_token_ttl_ms = config.timing.token_ttl_ms;
    logins.server_full_memory_ms = config.limits.server_full_memory_ms;
    AccountConfig {
        name: ACCOUNT_NODE.to_owned(),
        request_deadline: Duration::from_millis(config.timing.request_deadline_ms),
        logins,
        login: config.login,
        metrics: crate::admin::login_metrics(registry, ACCOUNT_NODE),
    }
}
