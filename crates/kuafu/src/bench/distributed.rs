//! A benchmark's zone in the distributed mode (DESIGN §3): every node a
//! process of this binary ([`ProcessZone`]) on NATS, every database (each
//! game server's player database, the account center's, the data center's)
//! a PostgreSQL database created for the run and dropped after it. The zone
//! file is written into the run's data directory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use tokio_postgres::NoTls;

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
    settings: DistributedSettings,
    /// The player databases, in srvno order, then the account center's and
    /// the data center's.
    databases: Vec<String>,
}

/// The account and data center databases after the player databases.
const OTHER_DATABASES: usize = 2;

impl DistributedZone {
    /// Creates one database per game server, writes the zone file into
    /// `data_dir`, and starts every node as a process.
    pub async fn start(
        settings: &DistributedSettings,
        game_servers: u32,
        data_dir: &Path,
    ) -> Result<Self, DistributedError> {
        let run = format!(
            "kuafu_bench_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis()
        );
        let mut databases: Vec<String> = (1..=game_servers)
            .map(|srvno| format!("{run}_srv{srvno}"))
            .collect();
        databases.extend([format!("{run}_account"), format!("{run}_datacenter")]);
        create_databases(settings, &databases).await?;
        let zone_file = write_zone_file(settings, &run, &databases, data_dir)?;
        let game_names = (1..=game_servers)
            .map(|srvno| format!("gs{srvno}"))
            .collect();
        match ProcessZone::start(&settings.kuafu, &zone_file).await {
            Ok(processes) => Ok(Self {
                processes,
                game_names,
                settings: settings.clone(),
                databases,
            }),
            Err(error) => {
                let _ = drop_databases(settings, &databases).await;
                Err(DistributedError::Processes(error.to_string()))
            }
        }
    }

    /// Where the zone's services are.
    pub fn settings(&self) -> &DistributedSettings {
        &self.settings
    }

    /// The connection string of the first game server's database.
    pub fn first_database(&self) -> String {
        database_config(&self.settings, &self.databases[0])
    }

    /// Every player row's epoch, summed over the game servers' databases: a
    /// crossing raises its player's by exactly two (the handoff and the
    /// target's claim), so its rise counts the crossings that landed.
    pub async fn epochs_total(&self) -> Result<u64, DistributedError> {
        let mut total = 0_u64;
        let players = self.databases.len() - OTHER_DATABASES;
        for database in &self.databases[..players] {
            let config = database_config(&self.settings, database);
            let (client, connection) = tokio_postgres::connect(&config, NoTls).await?;
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
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

fn write_zone_file(
    settings: &DistributedSettings,
    run: &str,
    databases: &[String],
    data_dir: &Path,
) -> Result<PathBuf, DistributedError> {
    let (players, others) = databases.split_at(databases.len() - OTHER_DATABASES);
    let mut text = format!(
        "zone = \"{run}\"\ndata_dir = \"{}\"\nrecommended_server = \"gs1\"\n\n\
         [account]\ntcp = \"127.0.0.1:{}\"\n\n\
         # The bench's players all register from this one address.\n\
         [login]\nregistrations_per_address_max = {}\n",
        data_dir.join("data").display(),
        free_port()?,
        u32::MAX
    );
    for srvno in 1..=players.len() {
        let _ = write!(
            text,
            "\n[[game]]\nname = \"gs{srvno}\"\nsrvno = {srvno}\ntcp = \"127.0.0.1:{}\"\n\
             db = \"srv{srvno}.db\"\n",
            free_port()?
        );
    }
    let _ = write!(
        text,
        "\n[distributed]\nnats = \"{}\"\naccount_database = \"{}\"\n\
         datacenter_database = \"{}\"\n\n[distributed.player_databases]\n",
        settings.nats,
        database_config(settings, &others[0]),
        database_config(settings, &others[1])
    );
    for (index, database) in players.iter().enumerate() {
        let config = database_config(settings, database);
        let _ = writeln!(text, "gs{} = \"{config}\"", index + 1);
    }
    let path = data_dir.join("zone.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}
