//! `kuafu bench`: benchmarks of a whole zone on this machine, over real
//! sockets and real databases, measured from the client's side.
//!
//! - `kuafu bench hop` ([`hop`]): a full crossing (`GoServer` sent on the
//!   source to `Entered` received on the target, with the durable handoff)
//!   for many players, serially and all at once, next to the floor of this
//!   machine ([`floor`]: one fsync'ed SQLite commit plus one new loopback
//!   TCP connection with one round trip); with `--backend distributed` the
//!   zone runs as processes on NATS and PostgreSQL ([`distributed`]) and the
//!   floor is one PostgreSQL commit, one NATS request/reply and the TCP part.
//! - `kuafu bench login` ([`login`]): device-id and password logins per
//!   second at the account center, their latency, the argon2 bound, the
//!   process's resident memory, and how the hashing workers spent their
//!   time ([`cpu`]).
//!
//! - `kuafu bench push` ([`push`]): a player summary change from its
//!   owner's update to the caches of N subscribing nodes, p50/p99, on
//!   either backend.
//!
//! Every report names the machine and the tokio runtime flavour it ran on
//! ([`machine`]); `--write-benchmarks-md` puts the figures in `BENCHMARKS.md`
//! ([`markdown`]). Nothing is written there unless asked, so a casual or
//! debug run never replaces the figures of a release run.

pub mod backend;
pub mod cpu;
pub mod distributed;
pub mod floor;
pub mod hop;
pub mod latency;
pub mod login;
pub mod machine;
pub mod markdown;
mod players;
pub mod push;
pub mod rpc;
pub mod steps;

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use hop::HopOptions;

/// The file `--write-benchmarks-md` updates when no path is given.
pub const BENCHMARKS_MD_DEFAULT: &str = "BENCHMARKS.md";

/// What to benchmark.
#[derive(Clone, Debug, Subcommand)]
pub enum BenchCommand {
    /// Crossing latency and throughput against this machine's floor.
    Hop(HopArgs),
    /// Logins per second at the account center against the argon2 bound.
    Login(LoginArgs),
    /// Summary-push latency from an owner's update to N subscribing nodes.
    Push(PushArgs),
    /// Proxy-player calls per second and their latency (and bare NATS's).
    Rpc(RpcArgs),
}

/// The options of `kuafu bench push`.
#[derive(Clone, Debug, Args)]
pub struct PushArgs {
    /// Subscribing nodes.
    #[arg(long, default_value_t = push::SUBSCRIBERS_DEFAULT)]
    pub subscribers: usize,
    /// Updates sent, one at a time.
    #[arg(long, default_value_t = push::UPDATES_DEFAULT)]
    pub updates: usize,
    /// Where the zone runs.
    #[command(flatten)]
    pub zone: BackendArgs,
}

/// The options of `kuafu bench rpc`.
#[derive(Clone, Debug, Args)]
pub struct RpcArgs {
    /// Calls in each phase.
    #[arg(long, default_value_t = rpc::CALLS_DEFAULT)]
    pub calls: usize,
    /// Callers at once in the concurrent phases (each with its own player).
    #[arg(long, default_value_t = rpc::CONCURRENCY_DEFAULT)]
    pub concurrency: usize,
    /// The tokio runtime the zone and the callers run on.
    #[arg(long, value_enum, default_value_t = RuntimeFlavour::MultiThread)]
    pub runtime: RuntimeFlavour,
    /// Where the zone runs.
    #[command(flatten)]
    pub zone: BackendArgs,
}

/// Where a benchmark's zone runs, as the command line says it.
#[derive(Clone, Debug, Args)]
pub struct BackendArgs {
    /// Where the zone runs: in this process on SQLite, or as processes on
    /// NATS and PostgreSQL.
    #[arg(long, value_enum, default_value_t = BackendName::Embedded)]
    pub backend: BackendName,
    /// The NATS server (distributed backend).
    #[arg(long, default_value = distributed::NATS_DEFAULT)]
    pub nats: String,
    /// The PostgreSQL server, a connection string without `dbname`
    /// (distributed backend; the run creates its databases and drops them).
    #[arg(long, default_value = distributed::POSTGRES_DEFAULT)]
    pub postgres: String,
}

/// The options of `kuafu bench login`.
#[derive(Clone, Debug, Args)]
pub struct LoginArgs {
    /// Clients logging in at once, each with its own account.
    #[arg(long, default_value_t = login::CLIENTS_DEFAULT)]
    pub clients: usize,
    /// Device-id logins in all.
    #[arg(long, default_value_t = login::DEVICE_LOGINS_DEFAULT)]
    pub device_logins: usize,
    /// Password logins in all (the memory target counts after 10,000).
    #[arg(long, default_value_t = login::PASSWORD_LOGINS_DEFAULT)]
    pub password_logins: usize,
    /// Logins started per hashing worker (default: the zone's setting,
    /// `[login] hash_jobs_per_worker`); 1 lets a worker idle between hashes.
    #[arg(long)]
    pub hash_jobs_per_worker: Option<usize>,
    /// The tokio runtime the zone and the clients run on.
    #[arg(long, value_enum, default_value_t = RuntimeFlavour::MultiThread)]
    pub runtime: RuntimeFlavour,
    /// Writes the figures into this Markdown file (`BENCHMARKS.md` when
    /// given without a path), replacing the previous figures of this bench.
    #[arg(long, num_args = 0..=1, default_missing_value = BENCHMARKS_MD_DEFAULT)]
    pub write_benchmarks_md: Option<PathBuf>,
}

/// The options of `kuafu bench hop`.
#[derive(Clone, Debug, Args)]
pub struct HopArgs {
    /// Players registered (not timed) and crossing.
    #[arg(long, default_value_t = hop::PLAYERS_DEFAULT)]
    pub players: usize,
    /// Crossings each player makes in each phase (serial, then concurrent).
    #[arg(long, default_value_t = hop::CROSSINGS_PER_PLAYER_DEFAULT)]
    pub crossings_per_player: usize,
    /// Crossings in flight at once in the concurrent phase (default: every player).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// Where the zone keeps its databases (default: a temporary directory,
    /// removed afterwards). Must be on the disk being measured.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Samples of each floor measurement.
    #[arg(long, default_value_t = hop::FLOOR_SAMPLES_DEFAULT)]
    pub floor_samples: usize,
    /// The tokio runtime the zone and the clients run on.
    #[arg(long, value_enum, default_value_t = RuntimeFlavour::CurrentThread)]
    pub runtime: RuntimeFlavour,
    /// Where the zone runs.
    #[command(flatten)]
    pub zone: BackendArgs,
    /// Writes the figures into this Markdown file (`BENCHMARKS.md` when
    /// given without a path), replacing the previous figures of this bench.
    #[arg(long, num_args = 0..=1, default_missing_value = BENCHMARKS_MD_DEFAULT)]
    pub write_benchmarks_md: Option<PathBuf>,
}

/// `--backend`: where a benchmark's zone runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendName {
    /// One process, SQLite.
    Embedded,
    /// A process per node, NATS and PostgreSQL.
    Distributed,
}

/// Which tokio runtime a benchmark runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum RuntimeFlavour {
    /// One thread runs every task (the store writers keep their own threads).
    CurrentThread,
    /// Tokio's work-stealing runtime, one worker per core.
    MultiThread,
}

impl RuntimeFlavour {
    /// The flavour's name, as `--runtime` takes it.
    pub fn name(self) -> &'static str {
        match self {
            RuntimeFlavour::CurrentThread => "current-thread",
            RuntimeFlavour::MultiThread => "multi-thread",
        }
    }
}

impl BenchCommand {
    /// Builds the runtime the benchmark asked for.
    pub fn runtime(&self) -> std::io::Result<tokio::runtime::Runtime> {
        let flavour = match self {
            BenchCommand::Hop(args) => args.runtime,
            BenchCommand::Login(args) => args.runtime,
            BenchCommand::Push(_) => RuntimeFlavour::MultiThread,
            BenchCommand::Rpc(args) => args.runtime,
        };
        let mut builder = match flavour {
            RuntimeFlavour::CurrentThread => tokio::runtime::Builder::new_current_thread(),
            RuntimeFlavour::MultiThread => tokio::runtime::Builder::new_multi_thread(),
        };
        builder.enable_all().build()
    }
}

/// Runs a benchmark on the current runtime, prints its report, and writes
/// `BENCHMARKS.md` if asked.
pub async fn run(command: BenchCommand) -> Result<(), Box<dyn std::error::Error>> {
    let args = match command {
        BenchCommand::Hop(args) => args,
        BenchCommand::Login(args) => return run_login(args).await,
        BenchCommand::Push(args) => return run_push(args).await,
        BenchCommand::Rpc(args) => return run_rpc(args).await,
    };
    let backend = args.zone.backend()?;
    let section = match backend {
        hop::Backend::Embedded => format!("{} {}", hop::BENCH_NAME, args.runtime.name()),
        hop::Backend::Distributed(_) => {
            format!("{} distributed {}", hop::BENCH_NAME, args.runtime.name())
        }
    };
    let options = HopOptions {
        players: args.players,
        crossings_per_player: args.crossings_per_player,
        concurrency: args.concurrency.unwrap_or(args.players),
        data_dir: args.data_dir,
        floor_samples: args.floor_samples,
        progress: true,
        backend,
    };
    let report = hop::run(options).await?;
    println!("{}", report.details());
    println!("{report}");
    if let Some(path) = args.write_benchmarks_md {
        markdown::update(&path, &section, &report.markdown(&command_line()))?;
        eprintln!("wrote the figures to {}", path.display());
    }
    Ok(())
}

/// Runs `kuafu bench push` and prints its report.
async fn run_push(args: PushArgs) -> Result<(), Box<dyn std::error::Error>> {
    let options = push::PushOptions {
        subscribers: args.subscribers,
        updates: args.updates,
        backend: args.zone.backend()?,
        progress: true,
    };
    println!("{}", push::run(options).await?);
    Ok(())
}

impl BackendArgs {
    /// The backend `--backend` names, with the distributed one's servers.
    fn backend(self) -> std::io::Result<hop::Backend> {
        Ok(match self.backend {
            BackendName::Embedded => hop::Backend::Embedded,
            BackendName::Distributed => {
                hop::Backend::Distributed(distributed::DistributedSettings {
                    nats: self.nats,
                    postgres: self.postgres,
                    kuafu: std::env::current_exe()?,
                })
            }
        })
    }
}

/// Runs `kuafu bench rpc` and prints its report.
async fn run_rpc(args: RpcArgs) -> Result<(), Box<dyn std::error::Error>> {
    let options = rpc::RpcOptions {
        calls: args.calls,
        concurrency: args.concurrency,
        progress: true,
        backend: args.zone.backend()?,
    };
    let report = rpc::run(options).await?;
    println!("{report}");
    Ok(())
}

/// Runs `kuafu bench login`, prints its report, and writes `BENCHMARKS.md`
/// if asked.
async fn run_login(args: LoginArgs) -> Result<(), Box<dyn std::error::Error>> {
    let options = login::LoginOptions {
        clients: args.clients,
        device_logins: args.device_logins,
        password_logins: args.password_logins,
        hash_jobs_per_worker: args.hash_jobs_per_worker,
        progress: true,
    };
    let report = login::run(options).await?;
    println!("{report}");
    if let Some(path) = args.write_benchmarks_md {
        markdown::update(&path, login::BENCH_NAME, &report.markdown(&command_line()))?;
        eprintln!("wrote the figures to {}", path.display());
    }
    Ok(())
}

/// A progress bar on stderr of `length` steps, or a hidden one.
pub(crate) fn progress(show: bool, length: usize, label: &str) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(u64::try_from(length).unwrap_or(u64::MAX));
    let template = format!("{label:<32} [{{bar:30}}] {{pos}}/{{len}} {{elapsed}}");
    bar.set_style(
        ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

/// This process's command line, as it would be typed.
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("kuafu {}", args.join(" "))
}
