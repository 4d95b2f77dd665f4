//! The zone suite (`zone_suite`) on the distributed mode: every node of
//! each test's zone is a process of this package's kuafu binary
//! (`kuafu::processes::ProcessZone`), on the shared NATS (127.0.0.1:4222)
//! and PostgreSQL (127.0.0.1:5432), with a zone name and player databases
//! of its own (`TestDatabase`s, dropped however the test ends), started by
//! `kuafu::bench::distributed`. A crash is a
//! SIGKILL of a node's process; the data center is asked over NATS; a
//! read-only copy is loaded from the home's PostgreSQL database; a stall is
//! SIGSTOP of the node's process, and SIGCONT when it ends. The same suite
//! runs embedded in `crates/zone/tests/suite.rs`.
//!
//! Under `CI=true` every test fails when NATS or PostgreSQL is unreachable;
//! elsewhere it skips, saying why.

use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bus::{Bus, BusError};
use bus_nats::{NatsBus, NatsBusConfig};
use kuafu::bench::distributed::{
    DistributedSettings, DistributedZone, NATS_DEFAULT, POSTGRES_DEFAULT, ZoneDatabases,
};
use routing::RoleId;
use store::{OpOutcome, PlayerOp, ReadOnlyPlayer, StoreError};
use store_postgres::test_support::TestDatabase;
use tempfile::TempDir;
use tokio::task::JoinHandle;
use wire::node::RankPage;
use zone::ZoneConfig;
use zone_suite::TestZone;

/// NATS's address, checked before a zone starts (a node started while NATS
/// is down waits for it).
const NATS_ADDRESS: &str = "127.0.0.1:4222";
/// How long the reachability check waits for NATS.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// A distributed zone of processes with its data directory and a NATS
/// connection of the test's own, to ask the data center as an operator.
struct ProcessZone {
    zone: DistributedZone,
    operator: Arc<dyn Bus>,
    /// The tasks that end the stalls begun, each sending SIGCONT.
    stalls: Mutex<Vec<(String, JoinHandle<()>)>>,
    _dir: TempDir,
    /// The game servers' databases, dropped with the zone however the test
    /// ends.
    _databases: Vec<TestDatabase>,
}

impl ProcessZone {
    /// The live board `board` of the zone's rank server.
    fn ranking<'a>(&'a self, board: &'a str) -> zone::rank_query::Ranking<'a> {
        zone::rank_query::Ranking {
            node: &self.zone.config.rank.name,
            board,
            snapshot: false,
        }
    }
}

/// Says so (failing under CI) if NATS is unreachable.
fn nats_missing() -> Option<()> {
    let socket: SocketAddr = NATS_ADDRESS.parse().expect("an address");
    if TcpStream::connect_timeout(&socket, CONNECT_TIMEOUT).is_err() {
        return test_support::service_missing(&format!("NATS unreachable at {NATS_ADDRESS}"));
    }
    Some(())
}

/// A database of its own for each game server of `config`, then the
/// account center's, the data center's and the rank server's; `None` (after saying why,
/// failing under CI) when PostgreSQL is unreachable.
async fn zone_databases(config: &ZoneConfig) -> Option<Vec<TestDatabase>> {
    let mut names: Vec<String> = config.games.iter().map(|game| game.name.clone()).collect();
    names.extend(["account", "datacenter", "rank"].map(str::to_owned));
    let creating = tokio::task::spawn_blocking(move || {
        let create = |name: &String| TestDatabase::create(&format!("suite_{name}"));
        names.iter().map(create).collect::<Option<Vec<_>>>()
    });
    creating.await.expect("the databases are made")
}

/// The connection strings of `databases`, made by [`zone_databases`].
fn connections(databases: &[TestDatabase]) -> ZoneDatabases {
    let mut strings: Vec<String> = databases.iter().map(TestDatabase::config).collect();
    let rank = strings.pop().expect("the rank server's database");
    let datacenter = strings.pop().expect("the data center's database");
    let account = strings.pop().expect("the account center's database");
    ZoneDatabases {
        players: strings,
        account,
        datacenter,
        rank: Some(rank),
    }
}

/// Sends `signal` (`-STOP`, `-CONT`) to process `pid` with kill(1).
async fn signal(signal: &str, pid: u32) {
    let sent = tokio::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .await;
    assert!(sent.expect("kill(1) runs").success(), "kill {signal} {pid}");
}

fn settings() -> DistributedSettings {
    DistributedSettings {
        nats: NATS_DEFAULT.to_owned(),
        postgres: POSTGRES_DEFAULT.to_owned(),
        kuafu: PathBuf::from(env!("CARGO_BIN_EXE_kuafu")),
    }
}

impl TestZone for ProcessZone {
    async fn start(config: ZoneConfig) -> Option<Self> {
        nats_missing()?;
        let databases = zone_databases(&config).await?;
        let connections = connections(&databases);
        let dir = tempfile::tempdir().expect("a temporary directory");
        let run = test_support::unique_name("suite");
        let zone = DistributedZone::start_on(&settings(), &run, config, &connections, dir.path())
            .await
            .expect("the zone's processes start");
        let operator = NatsBusConfig::new(NATS_DEFAULT, &run, zone::OPERATOR_NODE);
        let operator = NatsBus::connect(&operator).await.expect("NATS");
        Some(Self {
            zone,
            operator: Arc::new(operator),
            stalls: Mutex::new(Vec::new()),
            _dir: dir,
            _databases: databases,
        })
    }

    fn account(&self) -> String {
        self.zone.processes.account_addr.clone()
    }

    fn account_ws(&self) -> String {
        let ws = self.zone.config.account.ws.expect("a WebSocket listener");
        ws.to_string()
    }

    fn game_addr(&self, name: &str) -> String {
        let games = &self.zone.config.games;
        let game = games.iter().find(|game| game.name == name);
        game.expect("a game server").listen.tcp.to_string()
    }

    async fn kill_game(&mut self, name: &str) {
        self.zone.processes.kill(name).await.expect("killed");
    }

    async fn restart_game(&mut self, name: &str) {
        let restarted = self.zone.processes.restart(name).await;
        restarted.expect("the game server restarts");
    }

    async fn stall(&self, name: &str, duration: Duration) {
        let pid = self.zone.processes.pid(name).expect("a running node");
        signal("-STOP", pid).await;
        let waking = tokio::spawn(async move {
            tokio::time::sleep(duration).await;
            signal("-CONT", pid).await;
        });
        self.stalls.lock().unwrap().push((name.to_owned(), waking));
    }

    async fn awake(&self, name: &str) {
        let waking: Vec<_> = {
            let mut stalls = self.stalls.lock().unwrap();
            let (waking, others) = stalls.drain(..).partition(|(node, _)| node == name);
            *stalls = others;
            waking
        };
        for (_, task) in waking {
            task.await.expect("the stall ends");
        }
    }

    async fn restart(self) -> Self {
        let zone = self.zone.restart().await.expect("the zone restarts");
        Self { zone, ..self }
    }

    async fn current_server(&self, roleid: u64) -> Result<Option<(String, bool)>, bus::BusError> {
        let roleid = RoleId::from_raw(roleid).expect("a role id");
        let deadline = Duration::from_millis(self.zone.config.timing.request_deadline_ms);
        zone::current_server(self.operator.as_ref(), deadline, roleid).await
    }

    fn players(&self) -> game::Players {
        zone::players(self.operator.clone(), &self.zone.config)
    }

    async fn rank_top(&self, board: &str, limit: u32) -> Result<RankPage, BusError> {
        let deadline = Duration::from_millis(self.zone.config.timing.request_deadline_ms);
        let ranking = self.ranking(board);
        let bus = self.operator.as_ref();
        zone::rank_query::top(bus, zone::OPERATOR_NODE, deadline, &ranking, limit).await
    }

    async fn rank_around(
        &self,
        board: &str,
        roleid: u64,
        radius: u32,
    ) -> Result<RankPage, BusError> {
        let roleid = RoleId::from_raw(roleid).expect("a role id");
        let deadline = Duration::from_millis(self.zone.config.timing.request_deadline_ms);
        let ranking = self.ranking(board);
        let bus = self.operator.as_ref();
        zone::rank_query::around(bus, zone::OPERATOR_NODE, deadline, &ranking, roleid, radius).await
    }

    async fn load_readonly(&self, roleid: u64) -> Result<ReadOnlyPlayer, StoreError> {
        let roleid = RoleId::from_raw(roleid).expect("a role id");
        let deadline = Duration::from_millis(self.zone.config.timing.request_deadline_ms);
        let table = zone::transfer_table(self.operator.as_ref(), deadline).await;
        let srvno = table.expect("the transfer table").home_of(roleid);
        let home = self
            .zone
            .config
            .games
            .iter()
            .find(|game| game.srvno == srvno.get());
        let database = self
            .zone
            .player_database(&home.expect("a home server").name);
        let database = database.ok_or(StoreError::WrongDatabase(srvno))?;
        let loading = tokio::task::spawn_blocking(move || {
            let rules = ownership::Rules::default();
            let mut store =
                store_postgres::PostgresPlayerStore::connect(&database, &[srvno], rules)?;
            store
                .apply_at_db_now(&[PlayerOp::LoadReadOnly { roleid }])
                .remove(0)
        });
        match loading.await.expect("the load runs")? {
            OpOutcome::Loaded(player) => Ok(player),
            other => Err(StoreError::Backend(format!(
                "read-only load answered {other:?}"
            ))),
        }
    }

    async fn transfer(
        &self,
        roleid: u64,
        to: u32,
        until: Option<zone::TransferStep>,
    ) -> Result<zone::Transferred, zone::TransferError> {
        let roleid = RoleId::from_raw(roleid).expect("a role id");
        let databases = zone::open_player_databases(&self.zone.config).await;
        let databases = databases.expect("the player databases open");
        let deadline = Duration::from_millis(self.zone.config.timing.request_deadline_ms);
        let bus = self.operator.as_ref();
        zone::transfer(bus, &databases, deadline, (roleid, to), until).await
    }

    async fn audit_problems(&self) -> usize {
        let config = self.zone.config.clone();
        let audit = tokio::task::spawn_blocking(move || zone::audit(&config));
        let reports = audit
            .await
            .unwrap()
            .expect("the audit reads every database");
        reports.iter().map(|(_, report)| report.problems()).sum()
    }

    async fn shutdown(self) {
        self.zone.stop().await.expect("the zone stops");
    }
}

zone_suite::zone_suite!(ProcessZone);
