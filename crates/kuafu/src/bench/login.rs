//! `kuafu bench login`: what a login costs at the real account center, over
//! TCP, measured from the clients' side (DESIGN §11, issue 12).
//!
//! An embedded zone (one game server, SQLite on disk) runs in this process.
//! `clients` clients each own one account, created up front (not timed: a
//! device's first login, a password account's registration). Then:
//! 1. device-id logins: `device_logins` logins, at most `clients` in flight,
//!    each a new connection, `Hello`, `Login` and `LoginOk` (the account
//!    center grants the game server a token first);
//! 2. password logins: the same with the account's password; each is one
//!    argon2 verify, and its latency includes the wait in the login queue.
//!
//! The argon2 bound is `hash_workers ÷ one hash's time` password logins per
//! second, one hash at the zone's configured parameters timed on a thread of
//! its own (the fastest of a few, on reused memory blocks as in the pool).
//! It is timed before the device-id logins and again after the password
//! logins, and the faster of the two makes the bound: the machine's quietest
//! moment of the run, so a load that comes and goes does not lower it.
//!
//! During the password logins the bench reads how the hashing workers spent
//! their time ([`super::cpu`]): running, ready but without a CPU, or idle
//! for want of a job; and how much CPU the rest of this process and other
//! processes took. A pool that is always fed is busy (running or ready)
//! nearly all the time; what it then misses of the bound is CPU taken by
//! something else.
//!
//! The account center's memory is this process's resident set (`VmRSS` of
//! `/proc/self/status`), read before the clients start, after the device-id
//! logins and after the password logins: the zone runs embedded in the bench
//! process, so the figure includes the clients and the game server too (an
//! upper bound).

use std::fmt::{self, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use client::ClientError;
use indicatif::ProgressBar;
use tokio::task::JoinSet;
use zone::{Zone, ZoneConfig, ZoneError};

use super::cpu::{CpuSample, CpuUse};
use super::latency::{Latency, Recorder, ms};
use super::machine::Machine;

/// This bench's name in `BENCHMARKS.md`.
pub const BENCH_NAME: &str = "login";
/// Clients when not told.
pub const CLIENTS_DEFAULT: usize = 64;
/// Device-id logins when not told.
pub const DEVICE_LOGINS_DEFAULT: usize = 20_000;
/// Password logins when not told: as many as the memory target counts.
pub const PASSWORD_LOGINS_DEFAULT: usize = RSS_TARGET_AFTER_LOGINS;
/// Most clients a run takes.
pub const CLIENTS_MAX: usize = 4_096;
/// Most logins of one kind a run takes.
pub const LOGINS_MAX: usize = 10_000_000;
/// The bench's player cap: above the tokens its logins leave unredeemed.
const PROMISED_PLACES_MAX: usize = 500_000;
/// Hashes timed for the argon2 bound.
const HASH_SAMPLES: usize = 5;
/// Hashes each worker makes when the pool's rate alone is measured.
const HASHES_PER_WORKER_ALONE: usize = 10;
/// Every bench account's password.
const PASSWORD: &str = "kuafu-bench-secret";

/// Target: device-id logins per second, at least.
pub const DEVICE_LOGINS_PER_S_TARGET: f64 = 5_000.0;
/// Target: password logins per second over the argon2 bound, at least.
pub const PASSWORD_BOUND_RATIO_TARGET: f64 = 0.9;
/// Target: resident memory after the password logins, at most (MiB).
pub const RSS_MIB_TARGET: u64 = 300;
/// Password logins the memory target is measured after, at least.
pub const RSS_TARGET_AFTER_LOGINS: usize = 10_000;

/// What to run.
#[derive(Clone, Debug)]
pub struct LoginOptions {
    /// Clients, each with its own account, logging in concurrently.
    pub clients: usize,
    /// Device-id logins in all.
    pub device_logins: usize,
    /// Password logins in all.
    pub password_logins: usize,
    /// Logins started per hashing worker, instead of the zone's setting.
    pub hash_jobs_per_worker: Option<usize>,
    /// Whether to draw progress bars (on stderr).
    pub progress: bool,
}

/// Why the bench could not run.
#[derive(Debug, thiserror::Error)]
pub enum LoginBenchError {
    /// An option out of range.
    #[error("{0}")]
    Options(String),
    /// The zone did not start.
    #[error("the zone: {0}")]
    Zone(#[from] ZoneError),
    /// A temporary directory could not be made.
    #[error("temporary directory: {0}")]
    TempDir(std::io::Error),
    /// An account could not be set up.
    #[error("setting up account {0}: {1}")]
    Setup(usize, ClientError),
    /// The argon2 bound could not be measured.
    #[error("argon2: {0}")]
    Hash(String),
}

/// One kind of login, measured.
#[derive(Clone, Debug)]
pub struct Phase {
    /// Logins answered `LoginOk`.
    pub ok: u64,
    /// Logins answered otherwise, or not at all.
    pub errors: u64,
    /// From the first login sent to the last answer.
    pub elapsed: Duration,
    /// Each successful login, connect to `LoginOk`, queue wait included.
    pub latency: Latency,
}

impl Phase {
    /// Successful logins per second.
    pub fn per_s(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// The figures of one run.
#[derive(Clone, Debug)]
pub struct LoginReport {
    /// Where it ran; the load average is the one at the start.
    pub machine: Machine,
    /// The load average at the end.
    pub load_average_end: String,
    /// What ran.
    pub options: LoginOptions,
    /// Hashing workers of the account center.
    pub hash_workers: usize,
    /// Logins started per worker (hashing and ready behind it).
    pub hash_jobs_per_worker: usize,
    /// argon2id parameters, `m=…,t=…,p=…`.
    pub argon2: String,
    /// One hash at those parameters (the fastest of a few), timed before
    /// the device-id logins and after the password logins.
    pub hash_times: (Duration, Duration),
    /// Hashes per second with every worker hashing at once and nothing
    /// else (no network, queue or store), measured after the logins.
    pub hashing_alone_per_s: f64,
    /// Device-id logins.
    pub device: Phase,
    /// Password logins.
    pub password: Phase,
    /// The hashing workers' time during the password logins.
    pub hashing: CpuUse,
    /// Resident memory before the clients start, after the device-id
    /// logins and after the password logins, KiB.
    pub rss_kib: [u64; 3],
}

impl LoginReport {
    /// One hash's time for the bound: the faster of the two timings.
    pub fn hash_time(&self) -> Duration {
        self.hash_times.0.min(self.hash_times.1)
    }

    /// Password logins per second the hashing pool can serve at most.
    pub fn argon2_bound_per_s(&self) -> f64 {
        self.hash_workers as f64 / self.hash_time().as_secs_f64().max(f64::EPSILON)
    }

    /// Resident memory after the password logins, MiB.
    fn rss_after_mib(&self) -> u64 {
        self.rss_kib[2] / 1024
    }

    /// Password logins per second over the argon2 bound.
    pub fn bound_ratio(&self) -> f64 {
        self.password.per_s() / self.argon2_bound_per_s()
    }

    /// Each target and whether it is met.
    pub fn targets(&self) -> [(String, bool); 3] {
        [
            (
                format!(
                    "device-id logins ≥ {DEVICE_LOGINS_PER_S_TARGET:.0}/s: {:.0}/s",
                    self.device.per_s()
                ),
                self.device.per_s() >= DEVICE_LOGINS_PER_S_TARGET,
            ),
            (
                format!(
                    "password logins ≥ {:.0} % of the argon2 bound: {:.0} %",
                    PASSWORD_BOUND_RATIO_TARGET * 100.0,
                    self.bound_ratio() * 100.0
                ),
                self.bound_ratio() >= PASSWORD_BOUND_RATIO_TARGET,
            ),
            (
                format!(
                    "RSS after {RSS_TARGET_AFTER_LOGINS} password logins ≤ {RSS_MIB_TARGET} MiB: {} MiB after {}",
                    self.rss_after_mib(),
                    self.password.ok
                ),
                self.rss_after_mib() <= RSS_MIB_TARGET
                    && self.password.ok >= RSS_TARGET_AFTER_LOGINS as u64,
            ),
        ]
    }

    fn bound_line(&self) -> String {
        format!(
            "argon2 bound: {} workers ÷ {} ms per hash (timed {} ms before, {} ms after) = {:.1} password logins/s; measured {:.1}/s = {:.0} % of it",
            self.hash_workers,
            ms(self.hash_time()),
            ms(self.hash_times.0),
            ms(self.hash_times.1),
            self.argon2_bound_per_s(),
            self.password.per_s(),
            self.bound_ratio() * 100.0
        )
    }

    /// The hashing workers' CPU time per successful password login: one
    /// hash's cost in the pool, to set beside the bound's hash time.
    pub fn cpu_per_password_login(&self) -> Duration {
        let logins = u32::try_from(self.password.ok.max(1)).unwrap_or(u32::MAX);
        self.hashing.running / logins
    }

    fn alone_line(&self) -> String {
        format!(
            "hashing alone, every worker at once (no network, queue or store): {:.1} hashes/s = {:.0} % of the bound",
            self.hashing_alone_per_s,
            self.hashing_alone_per_s / self.argon2_bound_per_s() * 100.0
        )
    }

    fn hashing_line(&self) -> String {
        let cpu = &self.hashing;
        if !cpu.available {
            return "hashing workers' time: not readable here (no /proc schedstat)".into();
        }
        format!(
            "hashing workers ({}) during the password logins: busy {:.1} % (running {:.1} %, ready without a CPU {:.1} %), idle for want of a job {:.1} %, {} ms on a CPU per password login; the rest of this process used {:.2} cores, other processes {:.2} cores",
            cpu.threads,
            cpu.busy_fraction() * 100.0,
            cpu.running_fraction() * 100.0,
            cpu.waiting_fraction() * 100.0,
            (1.0 - cpu.busy_fraction()).max(0.0) * 100.0,
            ms(self.cpu_per_password_login()),
            cpu.rest_cores(),
            cpu.other_processes_cores()
        )
    }

    fn rss_line(&self) -> String {
        let [before, device, password] = self.rss_kib.map(|kib| kib / 1024);
        format!(
            "{before} MiB before, {device} MiB after the device-id logins, {password} MiB after {} password logins",
            self.password.ok
        )
    }

    /// The section of `BENCHMARKS.md`.
    pub fn markdown(&self, command: &str) -> String {
        let mut text = String::new();
        let _ = writeln!(text, "### Latest run\n");
        let _ = writeln!(text, "- command: `{command}`");
        let _ = writeln!(text, "- date: {}", self.machine.date);
        let _ = writeln!(text, "- machine: {}", self.machine);
        let _ = writeln!(
            text,
            "- load average at start / end: {} / {}",
            self.machine.load_average, self.load_average_end
        );
        let _ = writeln!(
            text,
            "- zone: embedded, 1 game server, SQLite on disk, TCP on loopback; {} clients in the same process, each with its own account, one new connection per login; argon2id {} on {} hashing workers, {} logins started per worker\n",
            self.options.clients, self.argon2, self.hash_workers, self.hash_jobs_per_worker
        );
        let _ = writeln!(
            text,
            "| logins | ok | errors | per s | p50 ms | p99 ms | max ms |"
        );
        let _ = writeln!(text, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
        for (name, phase) in [("device id", &self.device), ("password", &self.password)] {
            let _ = writeln!(
                text,
                "| {name} | {} | {} | {:.0} | {} | {} | {} |",
                phase.ok,
                phase.errors,
                phase.per_s(),
                ms(phase.latency.p50),
                ms(phase.latency.p99),
                ms(phase.latency.max)
            );
        }
        let _ = writeln!(text, "\n- {}", self.bound_line());
        let _ = writeln!(text, "- {}", self.alone_line());
        let _ = writeln!(text, "- {}", self.hashing_line());
        let _ = writeln!(
            text,
            "- resident memory of the bench process (zone and clients): {}\n",
            self.rss_line()
        );
        for (target, met) in self.targets() {
            let mark = if met { "met" } else { "NOT met" };
            let _ = writeln!(text, "- {target} ({mark})");
        }
        text
    }
}

impl fmt::Display for LoginReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "machine: {}", self.machine)?;
        writeln!(
            f,
            "load average: {} at start, {} at end",
            self.machine.load_average, self.load_average_end
        )?;
        for (name, phase) in [("device-id", &self.device), ("password", &self.password)] {
            writeln!(
                f,
                "{name} logins: {} ok, {} errors, {:.1}/s, p50 {} ms, p99 {} ms",
                phase.ok,
                phase.errors,
                phase.per_s(),
                ms(phase.latency.p50),
                ms(phase.latency.p99)
            )?;
        }
        writeln!(f, "{} ({})", self.bound_line(), self.argon2)?;
        writeln!(f, "{}", self.alone_line())?;
        writeln!(f, "{}", self.hashing_line())?;
        writeln!(
            f,
            "RSS (VmRSS of this process, zone embedded): {}",
            self.rss_line()
        )?;
        for (target, met) in self.targets() {
            writeln!(f, "{} {target}", if met { "ok " } else { "NOT" })?;
        }
        Ok(())
    }
}

/// How one client logs in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Device,
    Password,
}

/// Runs the bench in a temporary directory.
pub async fn run(options: LoginOptions) -> Result<LoginReport, LoginBenchError> {
    check(&options)?;
    let machine = Machine::this();
    let dir = tempfile::tempdir().map_err(LoginBenchError::TempDir)?;
    let mut config = ZoneConfig::demo(dir.path(), 1);
    // Every login's token stays unredeemed (the clients do not enter) and
    // holds a place at the game server until it expires: room for them all.
    config.limits.players_max = PROMISED_PLACES_MAX;
    if let Some(jobs) = options.hash_jobs_per_worker {
        config.login.hash_jobs_per_worker = jobs;
    }
    let settings = config.login;
    let zone = Zone::start(config).await?;
    let addr = Arc::new(zone.account_addr().to_string());
    let rss_before = rss_kib();
    let hash_before = time_one_hash(settings.cost()).await?;
    let bar = super::progress(
        options.progress,
        2 * options.clients,
        "accounts (not timed)",
    );
    for kind in [Kind::Device, Kind::Password] {
        set_up(&addr, options.clients, kind, &bar).await?;
    }
    bar.finish();
    let device = phase(&addr, &options, Kind::Device).await;
    let rss_device = rss_kib();
    let cpu_before = CpuSample::now(account::HASH_THREAD_PREFIX);
    let password = phase(&addr, &options, Kind::Password).await;
    let hashing = CpuSample::now(account::HASH_THREAD_PREFIX).since(&cpu_before, password.elapsed);
    let rss_after = rss_kib();
    let hash_after = time_one_hash(settings.cost()).await?;
    let workers = settings.workers();
    let cost = settings.cost();
    let hashing_alone_per_s = tokio::task::spawn_blocking(move || {
        account::hash_rate(cost, workers, HASHES_PER_WORKER_ALONE)
    })
    .await
    .map_err(|error| LoginBenchError::Hash(error.to_string()))?
    .map_err(LoginBenchError::Hash)?;
    zone.shutdown().await;
    Ok(LoginReport {
        load_average_end: Machine::this().load_average,
        machine,
        options,
        hash_workers: workers,
        hash_jobs_per_worker: settings.queue().jobs_per_worker.max(1),
        argon2: format!(
            "m={},t={},p={}",
            cost.memory_kib, cost.iterations, cost.parallelism
        ),
        hash_times: (hash_before, hash_after),
        hashing_alone_per_s,
        device,
        password,
        hashing,
        rss_kib: [rss_before, rss_device, rss_after],
    })
}

/// One argon2 hash's time at `cost` (the fastest of [`HASH_SAMPLES`]), on a
/// thread of its own, off the runtime's workers.
async fn time_one_hash(cost: account::HashCost) -> Result<Duration, LoginBenchError> {
    tokio::task::spawn_blocking(move || account::hash_time(cost, HASH_SAMPLES))
        .await
        .map_err(|error| LoginBenchError::Hash(error.to_string()))?
        .map_err(LoginBenchError::Hash)
}

fn check(options: &LoginOptions) -> Result<(), LoginBenchError> {
    let within = |name: &str, value: usize, max: usize| {
        if (1..=max).contains(&value) {
            Ok(())
        } else {
            Err(LoginBenchError::Options(format!(
                "{name} must be 1..={max}"
            )))
        }
    };
    within("--clients", options.clients, CLIENTS_MAX)?;
    within("--device-logins", options.device_logins, LOGINS_MAX)?;
    within("--password-logins", options.password_logins, LOGINS_MAX)
}

/// Creates each client's account (not timed).
async fn set_up(
    addr: &Arc<String>,
    clients: usize,
    kind: Kind,
    bar: &ProgressBar,
) -> Result<(), LoginBenchError> {
    let mut tasks = JoinSet::new();
    for client in 0..clients {
        let addr = addr.clone();
        tasks.spawn(async move {
            let name = account_name(kind, client);
            let created = match kind {
                Kind::Device => client::account::login_device(&addr, &name).await,
                Kind::Password => client::account::register(&addr, &name, PASSWORD).await,
            };
            created.map(drop).map_err(|error| (client, error))
        });
    }
    while let Some(done) = tasks.join_next().await {
        if let Ok(Err((client, error))) = done {
            return Err(LoginBenchError::Setup(client, error));
        }
        bar.inc(1);
    }
    Ok(())
}

fn account_name(kind: Kind, client: usize) -> String {
    match kind {
        Kind::Device => format!("bench-device-{client}"),
        Kind::Password => format!("bench-player-{client}"),
    }
}

/// The logins of `kind`, `clients` at a time, each client with its own
/// account.
async fn phase(addr: &Arc<String>, options: &LoginOptions, kind: Kind) -> Phase {
    let (logins, label) = match kind {
        Kind::Device => (options.device_logins, "device-id logins"),
        Kind::Password => (options.password_logins, "password logins"),
    };
    let bar = super::progress(options.progress, logins, label);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = JoinSet::new();
    for client in 0..options.clients {
        let (addr, next, bar) = (addr.clone(), next.clone(), bar.clone());
        tasks.spawn(async move {
            let name = account_name(kind, client);
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            while next.fetch_add(1, Ordering::Relaxed) < logins {
                let sent = Instant::now();
                let login = match kind {
                    Kind::Device => client::account::login_device(&addr, &name).await,
                    Kind::Password => client::account::login_password(&addr, &name, PASSWORD).await,
                };
                match login {
                    Ok(_) => latencies.push(sent.elapsed()),
                    Err(_) => errors += 1,
                }
                bar.inc(1);
            }
            (latencies, errors)
        });
    }
    let mut recorder = Recorder::new();
    let (mut ok, mut errors) = (0, 0);
    while let Some(done) = tasks.join_next().await {
        let (latencies, failed) = done.unwrap_or_default();
        ok += latencies.len() as u64;
        errors += failed;
        recorder.record_all(latencies);
    }
    bar.finish();
    Phase {
        ok,
        errors,
        elapsed: started.elapsed(),
        latency: recorder.latency(),
    }
}

/// This process's resident set (`VmRSS` of `/proc/self/status`), KiB; 0
/// where there is no such file.
fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(password_ok: u64, rss_after_mib: u64) -> LoginReport {
        let phase = |ok| Phase {
            ok,
            errors: 0,
            elapsed: Duration::from_secs(100),
            latency: Latency::default(),
        };
        LoginReport {
            machine: Machine::this(),
            load_average_end: String::new(),
            options: LoginOptions {
                clients: 1,
                device_logins: 1,
                password_logins: 1,
                hash_jobs_per_worker: None,
                progress: false,
            },
            hash_workers: 2,
            hash_jobs_per_worker: 2,
            argon2: String::new(),
            hash_times: (Duration::from_millis(40), Duration::from_millis(20)),
            hashing_alone_per_s: 0.0,
            device: phase(600_000),
            password: phase(password_ok),
            hashing: CpuUse {
                running: Duration::from_secs(190),
                ..CpuUse::default()
            },
            rss_kib: [0, 0, rss_after_mib * 1024],
        }
    }

    #[test]
    fn the_bound_takes_the_faster_timing_and_the_ratio_is_against_it() {
        let measured = report(9_500, 60);
        assert_eq!(measured.hash_time(), Duration::from_millis(20));
        assert!((measured.argon2_bound_per_s() - 100.0).abs() < 1e-9);
        assert!((measured.bound_ratio() - 0.95).abs() < 1e-9);
        assert!(measured.targets()[1].1, "95 logins/s of 100 meets 90 %");
        assert!(!report(8_500, 60).targets()[1].1, "85 % does not");
        assert_eq!(measured.cpu_per_password_login(), Duration::from_millis(20));
    }

    #[test]
    fn the_memory_target_counts_only_after_10000_password_logins() {
        assert!(report(10_000, 300).targets()[2].1);
        assert!(!report(9_999, 100).targets()[2].1, "too few logins");
        assert!(!report(10_000, 301).targets()[2].1, "too much memory");
    }
}
