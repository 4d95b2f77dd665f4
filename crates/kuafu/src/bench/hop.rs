//! `kuafu bench hop`: what a crossing costs, end to end from the client.
//!
//! An embedded zone (3 game servers, SQLite on disk, real TCP) in this
//! process — or, with `--backend distributed`, the same zone as processes
//! of this binary on NATS and PostgreSQL ([`distributed`](super::distributed));
//! `players` accounts registered and entered up front (not timed).
//! Then, in one run:
//! 1. the floor of this machine ([`floor`](super::floor)), with the
//!    backend's own primitives;
//! 2. the serial phase: one player at a time crosses between the first two
//!    servers, `crossings_per_player` rounds; each crossing is timed from
//!    sending `GoServer` to receiving `Entered` on the target. This is the
//!    latency figure, and `p50 / floor` is the ratio;
//! 3. the concurrent phase: every player crosses `crossings_per_player`
//!    times, at most `concurrency` crossings in flight at once; this gives
//!    crossings per second, and the latencies under load.
//!
//! What the servers recorded is read back — the embedded servers' arrival
//! counters, or the rise of the player rows' epochs in PostgreSQL (two per
//! crossing) — so a report whose crossings did not all land cannot pass for
//! a good one.

use std::fmt;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use zone::ZoneError;

use super::backend::BenchZone;
pub use super::backend::{Backend, DISTRIBUTED_TARGETS, EMBEDDED_TARGETS, Targets};
use super::distributed::DistributedError;
use super::floor::{Floor, FloorError};
use super::latency::{Latency, Recorder, ms};
use super::machine::Machine;
use super::players::{self, BenchPlayer, Route};
use super::steps::{Steps, StepsRecorder};

/// This bench's name in `BENCHMARKS.md`; each runtime flavour has its own
/// section, `hop current-thread` or `hop multi-thread`.
pub const BENCH_NAME: &str = "hop";
/// Players when not told.
pub const PLAYERS_DEFAULT: usize = 200;
/// Crossings per player and phase when not told.
pub const CROSSINGS_PER_PLAYER_DEFAULT: usize = 20;
/// Samples of each floor measurement when not told.
pub const FLOOR_SAMPLES_DEFAULT: usize = 1_000;
/// Most players a run takes (each holds a connection to a game server).
pub const PLAYERS_MAX: usize = 5_000;
/// Most crossings per player and phase.
pub const CROSSINGS_PER_PLAYER_MAX: usize = 100_000;
/// Most samples of a floor measurement.
pub const FLOOR_SAMPLES_MAX: usize = 1_000_000;
/// Game servers in the bench's zone.
pub const GAME_SERVERS: u32 = 3;

/// What to run.
#[derive(Clone, Debug)]
pub struct HopOptions {
    /// Players registered and crossing.
    pub players: usize,
    /// Crossings each player makes in each phase.
    pub crossings_per_player: usize,
    /// Crossings in flight at once in the concurrent phase.
    pub concurrency: usize,
    /// Where the zone keeps its databases; `None` uses a temporary directory.
    pub data_dir: Option<PathBuf>,
    /// Samples of each floor measurement.
    pub floor_samples: usize,
    /// Whether to draw progress bars (on stderr).
    pub progress: bool,
    /// Where the zone runs.
    pub backend: Backend,
}

/// Why the bench could not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum HopError {
    /// The options make no sense.
    #[error("bad options: {0}")]
    Invalid(String),
    /// The data directory could not be created.
    #[error("data directory: {0}")]
    DataDir(#[from] std::io::Error),
    /// The zone did not start.
    #[error("zone: {0}")]
    Zone(#[from] ZoneError),
    /// A player's step failed.
    #[error("{account}: {step}: {error}")]
    Client {
        /// The player's account.
        account: String,
        /// What it was doing.
        step: &'static str,
        /// How it failed.
        error: client::ClientError,
    },
    /// The floor could not be measured.
    #[error("{0}")]
    Floor(#[from] FloorError),
    /// A player's task failed.
    #[error("player task: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The distributed zone failed.
    #[error("{0}")]
    Distributed(#[from] DistributedError),
}

/// What one run measured.
#[derive(Clone, Debug)]
pub struct HopReport {
    /// Players that crossed.
    pub players: usize,
    /// Crossings per player and phase.
    pub crossings_per_player: usize,
    /// Crossings in flight at once in the concurrent phase.
    pub concurrency: usize,
    /// Crossings one at a time.
    pub serial: Latency,
    /// The steps of the serial crossings, as the clients saw them.
    pub serial_steps: Steps,
    /// Crossings under load.
    pub concurrent: Latency,
    /// Wall time of the concurrent phase.
    pub concurrent_elapsed: Duration,
    /// Crossings the servers recorded, both phases.
    pub arrivals: u64,
    /// Where the zone ran.
    pub backend: Backend,
    /// This machine's floor.
    pub floor: Floor,
    /// Where the databases were (the disk the commits went to).
    pub data_dir: PathBuf,
    /// Where it ran.
    pub machine: Machine,
}

impl HopOptions {
    fn check(&self) -> Result<(), HopError> {
        let within = |name: &str, value: usize, max: usize| {
            if (1..=max).contains(&value) {
                Ok(())
            } else {
                Err(HopError::Invalid(format!(
                    "{name} is {value}; it must be 1..={max}"
                )))
            }
        };
        within("players", self.players, PLAYERS_MAX)?;
        within(
            "crossings per player",
            self.crossings_per_player,
            CROSSINGS_PER_PLAYER_MAX,
        )?;
        within("concurrency", self.concurrency, self.players)?;
        within("floor samples", self.floor_samples, FLOOR_SAMPLES_MAX)
    }
}

/// Starts the zone, runs the floor and both phases, stops the zone.
pub async fn run(options: HopOptions) -> Result<HopReport, HopError> {
    options.check()?;
    let machine = Machine::this();
    // The temporary directory, if any, lives until the zone has stopped.
    let (data_dir, _temporary) = data_dir(&options)?;
    let zone = BenchZone::start(&options.backend, GAME_SERVERS, &data_dir).await?;
    let measured = measure(&zone, &options, &data_dir).await;
    zone.shutdown().await?;
    let measured = measured?;
    Ok(HopReport {
        players: options.players,
        crossings_per_player: options.crossings_per_player,
        concurrency: options.concurrency,
        serial: measured.serial,
        serial_steps: measured.serial_steps,
        concurrent: measured.concurrent,
        concurrent_elapsed: measured.concurrent_elapsed,
        arrivals: measured.arrivals,
        backend: options.backend,
        floor: measured.floor,
        data_dir,
        machine,
    })
}

/// The data directory asked for, or a new temporary one (removed on drop).
fn data_dir(options: &HopOptions) -> std::io::Result<(PathBuf, Option<tempfile::TempDir>)> {
    match &options.data_dir {
        Some(data_dir) => Ok((data_dir.clone(), None)),
        None => {
            let temporary = tempfile::Builder::new()
                .prefix("kuafu-bench-hop-")
                .tempdir()?;
            Ok((temporary.path().to_owned(), Some(temporary)))
        }
    }
}

/// What [`measure`] measured.
struct Measured {
    floor: Floor,
    serial: Latency,
    serial_steps: Steps,
    concurrent: Latency,
    concurrent_elapsed: Duration,
    arrivals: u64,
}

/// Sets up the players, measures the floor, runs both phases, logs off.
async fn measure(
    zone: &BenchZone,
    options: &HopOptions,
    data_dir: &std::path::Path,
) -> Result<Measured, HopError> {
    let route = route(&zone.game_names())?;
    let bar = super::progress(
        options.progress,
        options.players,
        "register and enter (not timed)",
    );
    let mut players =
        players::register_and_enter(&zone.account_addr(), options.players, &bar).await?;
    bar.finish_and_clear();
    let marks_before = zone.crossing_marks().await?;
    let floor = zone.floor(data_dir, options.floor_samples).await?;
    let crossings = options.players * options.crossings_per_player;
    let bar = super::progress(options.progress, crossings, "serial crossings");
    let (serial, serial_steps) =
        serial_phase(&mut players, &route, options.crossings_per_player, &bar).await?;
    bar.finish_and_clear();
    let bar = super::progress(options.progress, crossings, "concurrent crossings");
    let (players, concurrent, concurrent_elapsed) =
        concurrent_phase(players, route, options, &bar).await?;
    bar.finish_and_clear();
    let marks = zone.crossing_marks().await?.saturating_sub(marks_before);
    let arrivals = marks / zone.marks_per_crossing();
    players::log_off_all(players).await?;
    Ok(Measured {
        floor,
        serial,
        serial_steps,
        concurrent,
        concurrent_elapsed,
        arrivals,
    })
}

/// The first two game servers, by name.
fn route(game_names: &[String]) -> Result<Route, HopError> {
    match game_names {
        [first, second, ..] => Ok(Route {
            first: first.clone(),
            second: second.clone(),
        }),
        _ => Err(HopError::Invalid("the zone needs two game servers".into())),
    }
}

/// One player at a time, round after round: each crossing's time and its
/// steps.
async fn serial_phase(
    players: &mut [BenchPlayer],
    route: &Route,
    rounds: usize,
    bar: &ProgressBar,
) -> Result<(Latency, Steps), HopError> {
    let mut recorder = Recorder::new();
    let mut steps = StepsRecorder::default();
    for _ in 0..rounds {
        for player in players.iter_mut() {
            recorder.record(player.cross(route).await?);
            if let Some(crossing) = player.last_crossing() {
                steps.record(&crossing);
            }
            bar.inc(1);
        }
    }
    Ok((recorder.latency(), steps.steps()))
}

/// Every player crossing at once, at most `concurrency` in flight.
async fn concurrent_phase(
    players: Vec<BenchPlayer>,
    route: Route,
    options: &HopOptions,
    bar: &ProgressBar,
) -> Result<(Vec<BenchPlayer>, Latency, Duration), HopError> {
    let (route, permits) = (
        Arc::new(route),
        Arc::new(Semaphore::new(options.concurrency)),
    );
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for player in players {
        let crossing = player.cross_repeatedly(
            route.clone(),
            options.crossings_per_player,
            permits.clone(),
            bar.clone(),
        );
        tasks.spawn(crossing);
    }
    let mut recorder = Recorder::new();
    let mut players = Vec::with_capacity(options.players);
    while let Some(done) = tasks.join_next().await {
        let (player, timings) = done??;
        recorder.record_all(timings);
        players.push(player);
    }
    Ok((players, recorder.latency(), started.elapsed()))
}

impl HopReport {
    /// Crossings in each phase.
    pub fn crossings(&self) -> u64 {
        u64::try_from(self.players * self.crossings_per_player).unwrap_or(u64::MAX)
    }

    /// Crossings per second in the concurrent phase.
    pub fn crossings_per_s(&self) -> f64 {
        self.concurrent.count as f64 / self.concurrent_elapsed.as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// The serial crossing's p50 over the floor.
    pub fn ratio(&self) -> f64 {
        self.serial.p50.as_secs_f64() / self.floor.total().as_secs_f64().max(f64::MIN_POSITIVE)
    }

    /// Each target of the backend, its figure, and whether it was met.
    pub fn targets(&self) -> [(String, bool); 3] {
        let targets = self.backend.targets();
        let ratio_line = format!(
            "p50 / floor = {:.2} (target <= {}, i.e. p50 <= {} ms)",
            self.ratio(),
            targets.ratio,
            ms(self.floor.total().mul_f64(targets.ratio))
        );
        let p99_line = format!(
            "p99 = {} ms (target <= {} ms)",
            ms(self.serial.p99),
            ms(targets.p99)
        );
        let rate_line = format!(
            "{:.0} crossings/s under load with {} in flight (target >= {:.0})",
            self.crossings_per_s(),
            self.concurrency,
            targets.crossings_per_s
        );
        [
            (ratio_line, self.ratio() <= targets.ratio),
            (p99_line, self.serial.p99 <= targets.p99),
            (rate_line, self.crossings_per_s() >= targets.crossings_per_s),
        ]
    }

    /// The floor's parts, named, e.g. `sqlite commit p50 0.1 ms + ...`.
    fn floor_parts(&self) -> String {
        let parts: Vec<String> = self
            .floor
            .parts()
            .iter()
            .map(|(name, latency)| format!("{name} p50 {} ms", ms(latency.p50)))
            .collect();
        parts.join(" + ")
    }

    /// Where the zone ran, in words.
    fn zone_description(&self) -> String {
        match &self.backend {
            Backend::Embedded => format!(
                "embedded, {GAME_SERVERS} game servers, SQLite (WAL, synchronous=FULL) in `{}`, TCP on loopback; the clients run in the same process and runtime",
                self.data_dir.display()
            ),
            Backend::Distributed(settings) => format!(
                "distributed, {GAME_SERVERS} game servers + account center + data center, each its own process; NATS at `{}`; each game server's player database in PostgreSQL (`{}`); TCP on loopback; the clients run in the bench's process",
                settings.nats, settings.postgres
            ),
        }
    }

    /// The human-readable report, several lines.
    pub fn details(&self) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "bench hop ({}): {} players, {} crossings each per phase, concurrency {}",
            self.backend.name(),
            self.players,
            self.crossings_per_player,
            self.concurrency
        );
        let _ = writeln!(
            text,
            "machine:    {}; {}, load average {} at start",
            self.machine, self.machine.date, self.machine.load_average
        );
        let _ = writeln!(text, "zone:       {}", self.zone_description());
        let _ = writeln!(
            text,
            "floor:      {} ms = {}",
            ms(self.floor.total()),
            self.floor_parts()
        );
        let _ = writeln!(text, "serial:     {}", self.serial);
        text.push_str(&self.serial_steps.lines());
        let _ = writeln!(text, "concurrent: {}", self.concurrent);
        let _ = writeln!(
            text,
            "            {} crossings in {:.3} s = {:.0} crossings/s; servers recorded {} crossings",
            self.concurrent.count,
            self.concurrent_elapsed.as_secs_f64(),
            self.crossings_per_s(),
            self.arrivals
        );
        for (line, met) in self.targets() {
            let _ = writeln!(
                text,
                "target {}: {line}",
                if met { "met   " } else { "MISSED" }
            );
        }
        text.trim_end().to_owned()
    }

    /// The section of `BENCHMARKS.md` this run writes.
    pub fn markdown(&self, command: &str) -> String {
        let mut text = String::new();
        let _ = writeln!(
            text,
            "### Latest run on the tokio {} runtime\n",
            self.machine.runtime
        );
        let _ = writeln!(text, "- command: `{command}`");
        let _ = writeln!(text, "- date: {}", self.machine.date);
        let _ = writeln!(text, "- machine: {}", self.machine);
        let _ = writeln!(
            text,
            "- load average at start: {}",
            self.machine.load_average
        );
        let _ = writeln!(text, "- zone: {}", self.zone_description());
        let _ = writeln!(
            text,
            "- {} players, {} crossings each per phase; concurrency {} in the concurrent phase; servers recorded {} crossings\n",
            self.players, self.crossings_per_player, self.concurrency, self.arrivals
        );
        let _ = writeln!(
            text,
            "| measurement | samples | p50 ms | p90 ms | p99 ms | max ms |"
        );
        let _ = writeln!(text, "| --- | ---: | ---: | ---: | ---: | ---: |");
        let mut rows = vec![
            ("crossing, serial".to_owned(), self.serial),
            ("crossing, concurrent".to_owned(), self.concurrent),
        ];
        rows.extend(
            self.floor
                .parts()
                .into_iter()
                .map(|(name, latency)| (format!("floor: {name}"), latency)),
        );
        for (name, latency) in rows {
            let _ = writeln!(
                text,
                "| {name} | {} | {} | {} | {} | {} |",
                latency.count,
                ms(latency.p50),
                ms(latency.p90),
                ms(latency.p99),
                ms(latency.max)
            );
        }
        let _ = writeln!(text, "\n{}", self.serial_steps.markdown());
        let _ = writeln!(
            text,
            "Floor {} ms; crossings/s under load {:.0} ({} crossings in {:.3} s).\n",
            ms(self.floor.total()),
            self.crossings_per_s(),
            self.concurrent.count,
            self.concurrent_elapsed.as_secs_f64()
        );
        for (line, met) in self.targets() {
            let _ = writeln!(text, "- {}: {line}", if met { "met" } else { "**missed**" });
        }
        let _ = writeln!(text, "\n`{self}`");
        text
    }
}

impl fmt::Display for HopReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "bench hop: backend={} players={} crossings={} p50_ms={} p99_ms={} crossings_per_s={:.0} floor_ms={} ratio={:.2}",
            self.backend.name(),
            self.players,
            self.crossings(),
            ms(self.serial.p50),
            ms(self.serial.p99),
            self.crossings_per_s(),
            ms(self.floor.total()),
            self.ratio()
        )
    }
}
