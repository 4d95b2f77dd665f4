//! The distributed mode (DESIGN §3): one node of a zone in this process —
//! a game server with its battle server, the account center or the data
//! center — on the NATS bus, with every database in PostgreSQL: the srvno
//! databases, the account center's and the data center's, each named by a
//! connection string in the zone file's `[distributed]` section. With
//! `[distributed] nats_keys` it authenticates with its own nkey (`access`).
//!
//! The nodes are the embedded mode's own (`GameNode`, `AccountCenter`,
//! `DataCenter`, `BattleServer`, started by the same functions); only the
//! bus and the stores differ. Nothing is kept in `data_dir`. A store's
//! session blocks, so each store is connected on a blocking thread and used
//! only from one (a writer thread, or `spawn_blocking`).
//!
//! A game server holds its node lock (`node_lock`, DESIGN §5) in its own
//! srvno database for its whole life, taken before it binds anything: a
//! restarted one that gets it has proven its predecessor dead and takes
//! back the predecessor's players at once; one that cannot get it within
//! `NODE_LOCK_WAIT_MS` (a live node of its name) refuses to start, naming
//! the holder. A running game server that loses the lock to another
//! incarnation must stop: [`ZoneNode::lost`] says so, and `kuafu node` then
//! exits with an error.
//!
//! The node owns its own metrics registry, served with its health on its
//! admin address from the zone file, if it has one (`admin`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use account::AccountCenter;
use bus::Bus;
use bus_nats::{NatsBus, NatsBusConfig};
use datacenter::DataCenter;
use game::{GameNode, StoreRoutes};
use ownership::{OwnerId, Rules};
use routing::Srvno;
use store::StoreError;
use store_postgres::{
    PostgresAccountStore, PostgresPlayerStore, PostgresRankStore, PostgresRoutingStore,
};
use store_sqlite::PlayerStoreWriter;
use telemetry::admin::{Admin, AdminServer, Phase};
use telemetry::{MeteredBus, Registry};

use crate::admin::{ConnectionsProbe, GameProbe, NatsProbe};
use crate::config::{DistributedConfig, GameServerConfig, ZoneConfig};
use crate::embedded::{
    ACCOUNT_NODE, DATACENTER_NODE, ZoneError, account_config, listen, start_game, zone_map,
};
use crate::node_lock::{HeldNodeLock, LockSpec};
use crate::takeover::take_back_logged;

/// One node of a distributed zone, running in this process.
pub struct ZoneNode {
    name: String,
    running: Running,
    /// Where its TCP clients connect (none for the data center).
    pub tcp_addr: Option<SocketAddr>,
    /// Where its WebSocket clients connect, if anywhere.
    pub ws_addr: Option<SocketAddr>,
    /// Where its admin listener (`/metrics`, `/healthz`) is, if anywhere.
    pub admin_addr: Option<SocketAddr>,
    admin: Arc<Admin>,
    _admin_server: Vec<AdminServer>,
    /// Kept so the connection outlives the nodes bound through it.
    _bus: NatsBus,
}

/// What the node runs.
enum Running {
    Game {
        node: GameNode,
        battle: battle::BattleServer,
        stores: StoreRoutes,
        lock: HeldNodeLock,
    },
    Account(AccountCenter),
    DataCenter(DataCenter),
    Rank(rank::RankServer),
}

impl ZoneNode {
    /// Starts node `name` of `config` (whose `[distributed]` section names
    /// NATS and the databases) and returns once NATS has its
    /// bindings, so the other nodes' requests reach it; an error if NATS
    /// refused its key or (as reported by then) one of its bindings. Its
    /// admin listener answers `/healthz` with 503 until then, and while its
    /// NATS connection is down.
    pub async fn start(config: ZoneConfig, name: &str) -> Result<Self, ZoneError> {
        let distributed = config
            .distributed
            .as_ref()
            .ok_or(ZoneError::NotDistributed)?;
        let admin = Admin::new(Registry::new());
        let mut admin_addr = config.admin_address(name);
        let admin_server = crate::admin::serve(std::iter::once(&mut admin_addr), &admin).await?;
        let mut bus_config = NatsBusConfig::new(&distributed.nats, &config.zone, name);
        bus_config.key = crate::node_key(&config, name)?;
        let nats = NatsBus::connect(&bus_config)
            .await
            .map_err(|error| ZoneError::Nats(error.to_string()))?;
        admin.set_probe(NATS_PROBE, Arc::new(NatsProbe(nats.clone())));
        let bus: Arc<dyn Bus> = Arc::new(MeteredBus::new(
            Arc::new(nats.clone()),
            admin.registry().clone(),
        ));
        let (running, tcp_addr, ws_addr) =
            start_running(&config, distributed, name, bus, &admin).await?;
        nats.flush()
            .await
            .map_err(|error| ZoneError::Nats(error.to_string()))?;
        admin.set_phase(Phase::Serving);
        Ok(Self {
            name: name.to_owned(),
            running,
            tcp_addr,
            ws_addr,
            admin_addr,
            admin,
            _admin_server: admin_server,
            _bus: nats,
        })
    }

    /// The node's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Resolves, with the reason, once this node must stop serving: a game
    /// server whose node lock another incarnation took (its players may
    /// have been taken back). Never for the other nodes.
    pub async fn lost(&mut self) -> String {
        match &mut self.running {
            Running::Game { lock, .. } => lock.lost().await,
            _ => std::future::pending().await,
        }
    }

    /// Stops the node gracefully: a game server releases its players (final
    /// saves) before its stores close, then frees its node lock.
    pub async fn shutdown(self) {
        self.admin.set_phase(Phase::Stopping);
        match self.running {
            Running::Game {
                node,
                battle,
                stores,
                lock,
            } => {
                node.shutdown().await;
                battle.stop();
                // Dropping the last store handles joins the writer threads.
                drop(stores);
                lock.release().await;
            }
            Running::Account(account) => account.stop(),
            Running::DataCenter(datacenter) => datacenter.stop(),
            Running::Rank(rank) => rank.stop(),
        }
    }
}

/// The name of the NATS connection's probe (`/healthz` says `bus: …`).
const NATS_PROBE: &str = "bus";

type Started = (Running, Option<SocketAddr>, Option<SocketAddr>);

async fn start_running(
    config: &ZoneConfig,
    distributed: &DistributedConfig,
    name: &str,
    bus: Arc<dyn Bus>,
    admin: &Admin,
) -> Result<Started, ZoneError> {
    if name == DATACENTER_NODE {
        let database = distributed.datacenter_database.clone();
        let store = off_runtime(move || PostgresRoutingStore::connect(&database))
            .await
            .unwrap_or_else(|failed| Err(store::RoutingError::Backend(failed)))
            .map_err(datacenter::StartError::from)?;
        let datacenter = DataCenter::start(DATACENTER_NODE, Box::new(store), bus).await?;
        return Ok((Running::DataCenter(datacenter), None, None));
    }
    if name == ACCOUNT_NODE {
        let database = distributed.account_database.clone();
        let store = off_runtime(move || PostgresAccountStore::connect(&database))
            .await
            .unwrap_or_else(|failed| Err(store::AccountError::Backend(failed)))
            .map_err(account::StartError::from)?;
        let mut listen_config = config.account.clone();
        let gateway = listen(ACCOUNT_NODE, &mut listen_config, &config.limits).await?;
        let probe = ConnectionsProbe::new(admin.registry(), ACCOUNT_NODE, &gateway);
        admin.set_probe(ACCOUNT_NODE, probe);
        let logins = account_config(config, &zone_map(config), admin.registry());
        let homes = crate::homes::role_homes(&bus, config).await?;
        let account = AccountCenter::start(logins, gateway, bus, Box::new(store), homes)?;
        let (tcp_addr, ws_addr) = (Some(account.tcp_addr), account.ws_addr);
        return Ok((Running::Account(account), tcp_addr, ws_addr));
    }
    if config.rank_process().as_deref() == Some(name) {
        return start_rank_node(config, distributed, bus).await;
    }
    let game = config.games.iter().find(|game| game.name == name);
    let game = game.ok_or_else(|| ZoneError::UnknownNode(name.to_owned()))?;
    start_game_node(config, game, bus, admin).await
}

/// The rank server on its PostgreSQL database (`rank_database`).
async fn start_rank_node(
    config: &ZoneConfig,
    distributed: &DistributedConfig,
    bus: Arc<dyn Bus>,
) -> Result<Started, ZoneError> {
    let database = distributed.rank_database.clone().unwrap_or_default();
    let store = off_runtime(move || PostgresRankStore::connect(&database))
        .await
        .unwrap_or_else(|failed| Err(store::RankStoreError::Backend(failed)))
        .map_err(rank::StartError::from)?;
    let every = config.rank.snapshot_every_ms.map(Duration::from_millis);
    let node = rank::RankServer::start(&config.rank.name, Box::new(store), bus, every).await?;
    Ok((Running::Rank(node), None, None))
}

/// A game server and its battle server, with a writer on every srvno's
/// PostgreSQL database (a game server loads any role from its home).
async fn start_game_node(
    config: &ZoneConfig,
    game: &GameServerConfig,
    bus: Arc<dyn Bus>,
    admin: &Admin,
) -> Result<Started, ZoneError> {
    let registry = admin.registry();
    let stores = open_player_stores(config, registry, &game.name).await?;
    let owner = OwnerId {
        node: game.name.clone(),
        incarnation: rand::random::<u64>().max(1),
    };
    let (lock, previous) = HeldNodeLock::acquire(lock_spec(config, &owner)?).await?;
    // The lock proves every earlier incarnation dead: free its rows now.
    let rows = take_back_logged(&stores, &owner).await?;
    tracing::info!(node = %owner.node, ?previous, rows, "holds its node lock");
    let battle = battle::BattleServer::start(&game.battle_node(), bus.clone())?;
    let mut listen_config = game.listen.clone();
    let gateway = listen(&game.name, &mut listen_config, &config.limits).await?;
    let node = start_game(
        config,
        game,
        owner.incarnation,
        gateway,
        bus,
        stores.clone(),
        registry,
    )
    .await?;
    admin.set_probe(
        &game.name,
        GameProbe::new(registry, &game.name, node.handle()),
    );
    let (tcp_addr, ws_addr) = (Some(node.tcp_addr), node.ws_addr);
    let running = Running::Game {
        node,
        battle,
        stores,
        lock,
    };
    Ok((running, tcp_addr, ws_addr))
}

/// Where `owner`'s node lock is: its own srvno database.
fn lock_spec(config: &ZoneConfig, owner: &OwnerId) -> Result<LockSpec, ZoneError> {
    let distributed = config
        .distributed
        .as_ref()
        .ok_or(ZoneError::NotDistributed)?;
    Ok(LockSpec {
        database: distributed.player_database(&owner.node)?.to_owned(),
        zone: config.zone.clone(),
        node: owner.node.clone(),
        incarnation: owner.incarnation,
    })
}

/// Connects to every game server's PostgreSQL database, each behind its own
/// writer thread that applies batches at the database's clock, recording
/// into `registry` as node `node`'s.
pub(crate) async fn open_player_stores(
    config: &ZoneConfig,
    registry: &Registry,
    node: &str,
) -> Result<StoreRoutes, ZoneError> {
    let distributed = config
        .distributed
        .as_ref()
        .ok_or(ZoneError::NotDistributed)?;
    let mut stores = BTreeMap::new();
    for game in &config.games {
        let srvno = Srvno::new(game.srvno).expect("checked by ZoneConfig::check");
        let database = distributed.player_database(&game.name)?.to_owned();
        let metrics = crate::admin::writer_metrics(registry, node, &game.name);
        let writer = off_runtime(move || {
            let store = PostgresPlayerStore::connect(&database, &[srvno], Rules::default())?;
            PlayerStoreWriter::spawn_metered(store, metrics)
        })
        .await
        .map_err(StoreError::Backend)??;
        stores.insert(srvno, Arc::new(writer));
    }
    Ok(Arc::new(stores))
}

/// Runs `connect` on a blocking thread: a PostgreSQL store blocks on its own
/// session from the start. `Err` says why the thread failed.
async fn off_runtime<T: Send + 'static>(
    connect: impl FnOnce() -> T + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(connect)
        .await
        .map_err(|error| format!("opening the store: {error}"))
}
