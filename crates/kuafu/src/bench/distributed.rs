//! A zone in the distributed mode (DESIGN §3) for a benchmark or a test:
//! every node a process of a kuafu binary ([`ProcessZone`]) on NATS, every
//! database (each game server's player database, the account center's, the
//! data center's) a PostgreSQL database created for the run and dropped
//! after it. The zone file, written by [`write_zone_file`] from
//! a template zone, is in the run's data directory.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tokio_postgres::NoTls;
use zone::{DistributedConfig, ZoneConfig};

use crate::processes::ProcessZone;

/// The NATS server when not told.
pub const NATS_DEFAULT: &str = "nats://127.0.0.1:4222";
/// The PostgreSQL server when not told (a connection string without a
/// database name: each database the run creates is added to it).
pub const POSTGRES_DEFAULT: &str = "host=127.0.0.1 port=5432 user=postgres";
/// The database the run connects to while it creates and drops its own.
pub const ADMIN_DATABASE: &str = "postgres";

/// Where the distributed zone's services are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistributedSettings {
    /// The NATS server's URL.
    pub nats: String,
    /// A PostgreSQL connection string without `dbname`.
    pub postgres: String,
    /// The kuafu binary that runs the nodes.
    pub kuafu: PathBuf,
}

/// Why the distributed zone could not start or stop.
#[derive(Debug, thiserror::Error)]
pub enum DistributedError {
    /// PostgreSQL refused a step.
    #[error("postgresql: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The zone file could not be written.
    #[error("zone file: {0}")]
    ZoneFile(#[from] std::io::Error),
    /// A node process did not start.
    #[error("zone processes: {0}")]
    Processes(String),
}

/// A running distributed zone and the databases made for it.
pub struct DistributedZone {
    /// The node processes.
    pub processes: ProcessZone,
    /// The game servers' names, in srvno order.
    pub game_names: Vec<String>,
    /// The zone as its file says: names, fixed ports, databases, timings.
    pub config: ZoneConfig,
    zone_file: PathBuf,
    settings: DistributedSettings,
    /// The databases this zone made, dropped when it stops.
    databases: Vec<String>,
}

/// Starts of a zone's processes tried, each on new ports, before giving up.
pub const START_ATTEMPTS_MAX: u32 = 3;

/// The connection strings of a distributed zone's databases.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneDatabases {
    /// Each game server's player database, in the zone file's order.
    pub players: Vec<String>,
    /// The account center's.
    pub account: String,
    /// The data center's.
    pub datacenter: String,
    /// The rank server's; without it the zone runs no rank server.
    pub rank: Option<String>,
}

/// A benchmark run's unique name: the process id and the time.
pub fn run_name(purpose: &str) -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    format!("{purpose}_{}_{millis}", std::process::id())
}

impl DistributedZone {
    /// Creates one database per game server of `template`, one for the
    /// account center and one for the data center (named after `run`,
    /// which must be unique among the runs sharing the PostgreSQL server
    /// and NATS, and made of ASCII letters, digits and `_`), writes the
    /// zone file into `data_dir`, and starts every node as a process.
    pub async fn start(
        settings: &DistributedSettings,
        run: &str,
        template: ZoneConfig,
        data_dir: &Path,
    ) -> Result<Self, DistributedError> {
        let mut databases: Vec<String> = template
            .games
            .iter()
            .map(|game| format!("{run}_{}", game.name))
            .collect();
        let players = databases.len();
        databases.extend([
            format!("{run}_account"),
            format!("{run}_datacenter"),
            format!("{run}_rank"),
        ]);
        create_databases(settings, &databases).await?;
        let connection = |database: &String| database_config(settings, database);
        let zone_databases = ZoneDatabases {
            players: databases[..players].iter().map(connection).collect(),
            account: connection(&databases[players]),
            datacenter: connection(&databases[players + 1]),
            rank: Some(connection(&databases[players + 2])),
        };
        match Self::start_on(settings, run, template, &zone_databases, data_dir).await {
            Ok(zone) => Ok(Self { databases, ..zone }),
            Err(error) => {
                let _ = drop_databases(settings, &databases).await;
                Err(error)
            }
        }
    }

    /// Like [`DistributedZone::start`], on databases the caller made and
    /// drops, which [`DistributedZone::stop`] leaves.
    pub async fn start_on(
        settings: &DistributedSettings,
        run: &str,
        template: ZoneConfig,
        databases: &ZoneDatabases,
        data_dir: &Path,
    ) -> Result<Self, DistributedError> {
        let mut attempts = 0;
        let (config, zone_file, processes) = loop {
            attempts += 1;
            let config = distributed_config(settings, run, template.clone(), databases, data_dir)?;
            let zone_file = write_zone_file(&config, data_dir)?;
            match ProcessZone::start(&settings.kuafu, &zone_file).await {
                Ok(processes) => break (config, zone_file, processes),
                // A port picked free may be taken before its node binds it
                // (by another zone, or as a client connection's own port):
                // try again on new ports.
                Err(error) if attempts < START_ATTEMPTS_MAX => {
                    tracing::warn!(%error, attempts, "the zone did not start; new ports");
                }
                Err(error) => return Err(DistributedError::Processes(error.to_string())),
            }
        };
        Ok(Self {
            processes,
            game_names: config.games.iter().map(|game| game.name.clone()).collect(),
            config,
            zone_file,
            settings: settings.clone(),
            databases: Vec::new(),
        })
    }

    /// Stops every node gracefully and starts them all again on the same
    /// zone file and databases.
    pub async fn restart(self) -> Result<Self, DistributedError> {
        self.processes.stop().await;
        let processes = ProcessZone::start(&self.settings.kuafu, &self.zone_file)
            .await
            .map_err(|error| DistributedError::Processes(error.to_string()))?;
        Ok(Self { processes, ..self })
    }

    /// The connection string of game server `name`'s player database.
    pub fn player_database(&self, name: &str) -> Option<String> {
        let distributed = self.config.distributed.as_ref()?;
        distributed.player_databases.get(name).cloned()
    }

    /// Where the zone's services are.
    pub fn settings(&self) -> &DistributedSettings {
        &self.settings
    }

    /// Every player row's epoch, summed over the game servers' databases: a
    /// crossing raises its player's by exactly two (the handoff and the
    /// target's claim), so its rise counts the crossings that landed.
    pub async fn epochs_total(&self) -> Result<u64, DistributedError> {
        let mut total = 0_u64;
        let players = self.config.distributed.iter();
        for config in players.flat_map(|distributed| distributed.player_databases.values()) {
            let (client, connection) = tokio_postgres::connect(config, NoTls).await?;
            let connection = tokio::spawn(connection);
            let row = client
                .query_one("SELECT COALESCE(SUM(epoch), 0)::BIGINT FROM players", &[])
                .await?;
            total += u64::try_from(row.get::<_, i64>(0)).unwrap_or(0);
            drop(client);
            let _ = connection.await;
        }
        Ok(total)
    }

    /// Stops every node, then drops the run's databases.
    pub async fn stop(self) -> Result<(), DistributedError> {
        self.processes.stop().await;
        drop_databases(&self.settings, &self.databases).await
    }
}

fn database_config(settings: &DistributedSettings, database: &str) -> String {
    format!("{} dbname={database}", settings.postgres)
}

async fn admin(settings: &DistributedSettings) -> Result<tokio_postgres::Client, DistributedError> {
    let config = database_config(settings, ADMIN_DATABASE);
    let (client, connection) = tokio_postgres::connect(&config, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

async fn create_databases(
    settings: &DistributedSettings,
    databases: &[String],
) -> Result<(), DistributedError> {
    let client = admin(settings).await?;
    for database in databases {
        // The names are made here of ASCII letters, digits and '_'.
        client
            .batch_execute(&format!("CREATE DATABASE {database}"))
            .await?;
    }
    Ok(())
}

async fn drop_databases(
    settings: &DistributedSettings,
    databases: &[String],
) -> Result<(), DistributedError> {
    if databases.is_empty() {
        return Ok(());
    }
    let client = admin(settings).await?;
    for database in databases {
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            .await?;
    }
    Ok(())
}

/// A port free now on the loopback interface (the zone file needs fixed
/// ports: every node learns the others' addresses from it).
fn free_address() -> std::io::Result<SocketAddr> {
    std::net::TcpListener::bind(("127.0.0.1", 0))?.local_addr()
}

/// `template` as a distributed zone: named `run`, its data under
/// `data_dir`, every listener on a fixed free port (a WebSocket listener
/// only where the template has one), its databases `databases`, and
/// `settings`' NATS.
fn distributed_config(
    settings: &DistributedSettings,
    run: &str,
    mut template: ZoneConfig,
    databases: &ZoneDatabases,
    data_dir: &Path,
) -> std::io::Result<ZoneConfig> {
    template.zone = run.to_owned();
    template.data_dir = data_dir.join("data");
    fix_ports(&mut template.account)?;
    let mut player_databases = std::collections::BTreeMap::new();
    for (game, database) in template.games.iter_mut().zip(&databases.players) {
        fix_ports(&mut game.listen)?;
        player_databases.insert(game.name.clone(), database.clone());
    }
    template.distributed = Some(DistributedConfig {
        nats: settings.nats.clone(),
        player_databases,
        nats_keys: None,
        account_database: databases.account.clone(),
        datacenter_database: databases.datacenter.clone(),
        rank_database: databases.rank.clone(),
    });
    Ok(template)
}

fn fix_ports(listen: &mut zone::ListenConfig) -> std::io::Result<()> {
    listen.tcp = free_address()?;
    if listen.ws.is_some() {
        listen.ws = Some(free_address()?);
    }
    Ok(())
}

/// Writes `config` as `zone.toml` in `data_dir`.
fn write_zone_file(config: &ZoneConfig, data_dir: &Path) -> Result<PathBuf, DistributedError> {
    let text = config
        .to_toml()
        .map_err(|error| DistributedError::Processes(format!("zone file: {error}")))?;
    let path = data_dir.join("zone.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}
