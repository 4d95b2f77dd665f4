//! `kuafu`: run a whole zone on this machine (`demo`, `zone`), one node of a
//! distributed zone (`node`), and more.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use kuafu::bench::{self, BenchCommand};
use kuafu::demo::{self, DemoOptions};
use zone::{Zone, ZoneConfig};

/// Kuafu (跨服): a world-server runtime where players cross between game servers.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a whole zone in this process (3 game servers) with bots playing in it.
    Demo {
        /// How many bots play.
        #[arg(long, default_value_t = 50)]
        bots: usize,
        /// Seconds to play; without it the demo runs until Ctrl-C.
        #[arg(long)]
        duration: Option<u64>,
        /// Where the zone keeps its databases.
        #[arg(long, default_value = "./kuafu-data")]
        data_dir: PathBuf,
        /// How many game servers.
        #[arg(long, default_value_t = 3)]
        servers: u32,
        /// How the bots log in: by device id (no password hash) or password.
        #[arg(long, value_enum, default_value_t = kuafu::bot::LoginKind::Device)]
        login: kuafu::bot::LoginKind,
        /// Play in the running zone of this zone file (e.g. one started by
        /// `kuafu zone --config FILE --processes`) instead of starting one;
        /// --data-dir and --servers are then unused.
        #[arg(long)]
        zone: Option<PathBuf>,
    },
    /// Run the zone of a zone file in this process until Ctrl-C, or each of
    /// its nodes as its own process with --processes.
    Zone {
        /// The zone file (see zone.example.toml).
        #[arg(long)]
        config: PathBuf,
        /// Run every node as its own process of this binary, over NATS and
        /// PostgreSQL (the file's [distributed] section, see
        /// zone.distributed.example.toml).
        #[arg(long)]
        processes: bool,
    },
    /// Run one node of a distributed zone (a game server with its battle
    /// server, `account` or `datacenter`) until Ctrl-C or SIGTERM.
    Node {
        /// The zone file, with a [distributed] section.
        #[arg(long)]
        config: PathBuf,
        /// The node's name.
        #[arg(long)]
        name: String,
        /// Also stop when standard input closes (how `kuafu zone
        /// --processes` stops its nodes).
        #[arg(long)]
        stop_when_stdin_closes: bool,
    },
    /// Print nats-server's authorization block for a distributed zone: one
    /// nkey user per node process, allowed only the subjects its role needs
    /// (see docs/deploy.md).
    NatsConfig {
        /// The zone file, whose [distributed] section names the nats_keys
        /// directory.
        #[arg(long)]
        config: PathBuf,
        /// First write a new key for every node that has none there.
        #[arg(long)]
        create_keys: bool,
    },
    /// Sweep the deterministic simulator over many seeds (see docs/crossing.md).
    Sim(kuafu::simulate::SimArgs),
    /// Check every player's gold and items against the ledger.
    Audit(kuafu::audit::AuditArgs),
    /// Move an offline role to another srvno's database (转服) in a
    /// distributed zone; run it again to finish one that stopped (see
    /// docs/deploy.md).
    Transfer(kuafu::transfer::TransferArgs),
    /// Measure a whole zone on this machine (see BENCHMARKS.md).
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
}

fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let command = Cli::parse().command;
    if let Command::Sim(args) = &command {
        return exit_code(kuafu::simulate::run(args).map_err(Into::into));
    }
    let runtime = match &command {
        Command::Bench { what } => what.runtime(),
        _ => tokio::runtime::Runtime::new(),
    };
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("kuafu: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    exit_code(runtime.block_on(run(command)))
}

fn exit_code(result: Result<(), Box<dyn std::error::Error>>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kuafu: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the demo and prints its last line; an error unless every bot
/// entered and none failed.
async fn run_demo(options: DemoOptions) -> Result<(), Box<dyn std::error::Error>> {
    let report = demo::run(options).await?;
    println!("{report}");
    if report.errors > 0 || report.entered < report.bots {
        return Err(format!(
            "{} errors, {} of {} bots entered",
            report.errors, report.entered, report.bots
        )
        .into());
    }
    Ok(())
}

async fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Sim(args) => Ok(kuafu::simulate::run(&args)?),
        Command::Audit(args) => kuafu::audit::run(&args),
        Command::Transfer(args) => kuafu::transfer::run(&args).await,
        Command::Demo {
            bots,
            duration,
            data_dir,
            servers,
            login,
            zone,
        } => {
            let options = DemoOptions {
                data_dir,
                bots,
                duration: duration.map(Duration::from_secs),
                game_servers: servers,
                status_line: true,
                login,
                zone_file: zone,
            };
            run_demo(options).await
        }
        Command::Zone {
            config,
            processes: true,
        } => kuafu::processes::run_zone(&config).await,
        Command::Node {
            config,
            name,
            stop_when_stdin_closes,
        } => kuafu::processes::run_node(&config, &name, stop_when_stdin_closes).await,
        Command::Zone {
            config,
            processes: false,
        } => {
            let zone = Zone::start(ZoneConfig::load(&config)?).await?;
            eprintln!(
                "zone {} running; account center at {}; Ctrl-C stops it",
                zone.config().zone,
                zone.account_addr()
            );
            tokio::signal::ctrl_c().await?;
            zone.shutdown().await;
            Ok(())
        }
        Command::NatsConfig {
            config,
            create_keys,
        } => {
            let config = ZoneConfig::load(&config)?;
            if create_keys {
                for written in zone::create_missing_keys(&config)? {
                    eprintln!("wrote a new key to {}", written.display());
                }
            }
            print!("{}", zone::nats_authorization(&config)?);
            Ok(())
        }
        Command::Bench { what } => bench::run(what).await,
    }
}
