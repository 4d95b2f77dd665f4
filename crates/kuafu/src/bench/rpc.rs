//! `kuafu bench rpc`: what a proxy-player call costs (DESIGN §9).
//!
//! A zone of two game servers (embedded in this process, or with
//! `--backend distributed` as processes on NATS and PostgreSQL), one
//! player entered per caller (not timed). The bench calls `add_gold(1)` on
//! the players as an operator would, through `game::Players`:
//! 1. **direct**: each player at its home, where the caller sends first —
//!    one request/reply from the caller to the owner;
//! 2. **moved**: each player crossed to the other server, and a caller that
//!    never found it before — the home answers `Moved`, the call follows
//!    it: two request/replies (each call through a new `game::Players`,
//!    which remembers nothing);
//!
//! each with `concurrency` callers at once (calls per second, latencies
//! under load) and with one caller at a time (the latency figure). With the
//! distributed backend the same run times bare NATS request/reply (a
//! responder in this process on its own connection, a payload the size of a
//! call) both ways, the floor the targets compare with. The gold the
//! players hold afterwards is read back through the calls' own `view`, so
//! a run whose calls did not all apply cannot pass for a good one.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use game::Players;
use routing::RoleId;
use tokio::task::JoinSet;

use super::backend::{Backend, BenchZone};
use super::hop::HopError;
use super::latency::{Latency, Recorder, ms};
use super::machine::Machine;
use super::players::{self, Route};

/// This bench's name in `BENCHMARKS.md`.
pub const BENCH_NAME: &str = "rpc";
/// Calls per phase when not told.
pub const CALLS_DEFAULT: usize = 100_000;
/// Calls per phase at most.
pub const CALLS_MAX: usize = 10_000_000;
/// Callers at once in the concurrent phases when not told.
pub const CONCURRENCY_DEFAULT: usize = 64;
/// Callers at once at most (each has a player in the zone).
pub const CONCURRENCY_MAX: usize = 1_000;
/// Game servers in the bench's zone.
const GAME_SERVERS: u32 = 2;
/// Bytes of a bare NATS request: about a call of `add_gold(1)`.
const BARE_PAYLOAD_BYTES: usize = 64;

/// What to run.
#[derive(Clone, Debug)]
pub struct RpcOptions {
    /// Calls in each phase.
    pub calls: usize,
    /// Callers at once in the concurrent phases.
    pub concurrency: usize,
    /// Whether to draw progress bars (on stderr).
    pub progress: bool,
    /// Where the zone runs.
    pub backend: Backend,
}

/// One phase: its latencies and its calls per second.
#[derive(Clone, Copy, Debug, Default)]
pub struct Phase {
    /// Latency of each call.
    pub latency: Latency,
    /// Wall time of the phase.
    pub elapsed: Duration,
}

impl Phase {
    /// Calls per second.
    pub fn per_s(&self) -> f64 {
        self.latency.count as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// What one run measured: per path, concurrent then serial.
#[derive(Clone, Debug)]
pub struct RpcReport {
    /// The options it ran with.
    pub options: RpcOptions,
    /// Calls to a player where the caller sends first.
    pub direct: (Phase, Phase),
    /// Calls that follow `Moved` from the home.
    pub moved: (Phase, Phase),
    /// Bare NATS request/reply (distributed only).
    pub bare_nats: Option<(Phase, Phase)>,
    /// Where it ran.
    pub machine: Machine,
}

/// Starts the zone, runs every phase, stops the zone.
pub async fn run(options: RpcOptions) -> Result<RpcReport, HopError> {
    let calls_ok = (1..=CALLS_MAX).contains(&options.calls);
    if !calls_ok || !(1..=CONCURRENCY_MAX).contains(&options.concurrency) {
        let why = format!("calls must be 1..={CALLS_MAX}, concurrency 1..={CONCURRENCY_MAX}");
        return Err(HopError::Invalid(why));
    }
    let machine = Machine::this();
    let temporary = tempfile::Builder::new()
        .prefix("kuafu-bench-rpc-")
        .tempdir()?;
    let zone = BenchZone::start(&options.backend, GAME_SERVERS, temporary.path()).await?;
    let measured = measure(&zone, &options).await;
    zone.shutdown().await?;
    let (direct, moved) = measured?;
    let bare_nats = match &options.backend {
        Backend::Distributed(settings) => Some(bare_nats(&settings.nats, &options).await?),
        Backend::Embedded => None,
    };
    Ok(RpcReport {
        options,
        direct,
        moved,
        bare_nats,
        machine,
    })
}

type Phases = ((Phase, Phase), (Phase, Phase));

async fn measure(zone: &BenchZone, options: &RpcOptions) -> Result<Phases, HopError> {
    let bar = super::progress(options.progress, options.concurrency, "players enter");
    let account_addr = zone.account_addr();
    let mut entered = players::register_and_enter(&account_addr, options.concurrency, &bar).await?;
    bar.finish_and_clear();
    let roleids: Arc<Vec<RoleId>> =
        Arc::new(entered.iter().map(|player| player.roleid()).collect());
    let (bus, config) = zone.operator().await?;
    let kept = Arc::new(zone::players(bus.clone(), &config));
    let direct = both_ways(move || kept.clone(), &roleids, options).await?;
    let names = zone.game_names();
    let route = Route {
        first: names[0].clone(),
        second: names[1].clone(),
    };
    for player in &mut entered {
        player.cross(&route).await?;
    }
    // A caller with no hint for each call: it goes home and is moved.
    let fresh = move || Arc::new(zone::players(bus.clone(), &config));
    let moved = both_ways(fresh, &roleids, options).await;
    players::log_off_all(entered).await?;
    Ok((direct, moved?))
}

/// The concurrent phase, then the serial one, each call made through the
/// `Players` that `callers` gives, and checks every call applied.
async fn both_ways(
    callers: impl Fn() -> Arc<Players> + Clone + Send + 'static,
    roleids: &Arc<Vec<RoleId>>,
    options: &RpcOptions,
) -> Result<(Phase, Phase), HopError> {
    let before = total_gold(&callers(), roleids).await?;
    let (make, all) = (callers.clone(), roleids.clone());
    let call = move |index: usize| {
        let (players, roleids) = (make(), all.clone());
        async move {
            let roleid = roleids[index % roleids.len()];
            players
                .player(roleid)
                .add_gold(1, "bench:rpc")
                .await
                .map(drop)
        }
    };
    let concurrent = drive(options.calls, options.concurrency, call.clone()).await?;
    let serial = drive(options.calls, 1, call).await?;
    let added = total_gold(&callers(), roleids).await? - before;
    if added != 2 * options.calls as u64 {
        let why = format!("{} calls applied {added} gold", 2 * options.calls);
        return Err(HopError::Invalid(why));
    }
    Ok((concurrent, serial))
}

async fn total_gold(players: &Players, roleids: &[RoleId]) -> Result<u64, HopError> {
    let mut gold = 0;
    for roleid in roleids {
        let view = players.player(*roleid).view().await.map_err(call_failed)?;
        gold += view.gold;
    }
    Ok(gold)
}

fn call_failed(error: impl fmt::Display) -> HopError {
    HopError::Invalid(format!("a call failed: {error}"))
}

/// Runs `calls` calls of `call(index)`, `concurrency` at once, each timed.
async fn drive<C, F, E>(calls: usize, concurrency: usize, call: C) -> Result<Phase, HopError>
where
    C: Fn(usize) -> F + Clone + Send + 'static,
    F: Future<Output = Result<(), E>> + Send + 'static,
    E: fmt::Display + Send + 'static,
{
    let started = Instant::now();
    let mut workers = JoinSet::new();
    let calls_per_worker = calls.div_ceil(concurrency);
    for worker in 0..concurrency {
        let mine = worker * calls_per_worker..calls.min((worker + 1) * calls_per_worker);
        let call = call.clone();
        workers.spawn(async move {
            let mut timings = Vec::with_capacity(mine.len());
            for index in mine {
                let begun = Instant::now();
                call(index).await.map_err(|error| error.to_string())?;
                timings.push(begun.elapsed());
            }
            Ok::<_, String>(timings)
        });
    }
    let mut recorder = Recorder::new();
    while let Some(done) = workers.join_next().await {
        recorder.record_all(done?.map_err(call_failed)?);
    }
    Ok(Phase {
        latency: recorder.latency(),
        elapsed: started.elapsed(),
    })
}

/// Bare NATS request/reply to a responder in this process on a connection
/// of its own: concurrent, then serial.
async fn bare_nats(url: &str, options: &RpcOptions) -> Result<(Phase, Phase), HopError> {
    use futures_util::StreamExt;
    let failed = |error: &dyn fmt::Display| HopError::Invalid(format!("NATS: {error}"));
    let responder = async_nats::connect(url).await.map_err(|e| failed(&e))?;
    let client = async_nats::connect(url).await.map_err(|e| failed(&e))?;
    let subject = format!("kuafu.bench.rpc.{}", std::process::id());
    let mut requests = responder
        .subscribe(subject.clone())
        .await
        .map_err(|e| failed(&e))?;
    responder.flush().await.map_err(|e| failed(&e))?;
    let echo = tokio::spawn(async move {
        while let Some(request) = requests.next().await {
            if let Some(reply) = request.reply {
                let _ = responder.publish(reply, request.payload).await;
            }
        }
    });
    let payload = bytes::Bytes::from_static(&[0x42; BARE_PAYLOAD_BYTES]);
    let call = move |_| {
        let (client, subject, payload) = (client.clone(), subject.clone(), payload.clone());
        async move { client.request(subject, payload).await.map(drop) }
    };
    let concurrent = drive(options.calls, options.concurrency, call.clone()).await;
    let serial = drive(options.calls, 1, call).await;
    echo.abort();
    Ok((concurrent?, serial?))
}

impl RpcReport {
    fn line(&self, f: &mut fmt::Formatter<'_>, what: &str, phases: (Phase, Phase)) -> fmt::Result {
        let (concurrent, serial) = phases;
        writeln!(
            f,
            "  {what:<9} {} callers: {:>9.0} calls/s p50 {} p99 {} ms | \
             1 caller: {:>8.0} calls/s p50 {} p99 {} ms",
            self.options.concurrency,
            concurrent.per_s(),
            ms(concurrent.latency.p50),
            ms(concurrent.latency.p99),
            serial.per_s(),
            ms(serial.latency.p50),
            ms(serial.latency.p99),
        )
    }
}

impl fmt::Display for RpcReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let backend = self.options.backend.name();
        let calls = self.options.calls;
        writeln!(
            f,
            "rpc on {backend}, {calls} calls per phase, {}",
            self.machine
        )?;
        self.line(f, "direct", self.direct)?;
        self.line(f, "moved", self.moved)?;
        let Some(bare) = self.bare_nats else {
            return Ok(());
        };
        self.line(f, "bare NATS", bare)?;
        let share = 100.0 * self.direct.0.per_s() / bare.0.per_s();
        let p50 = |phase: Phase| phase.latency.p50.as_secs_f64();
        let ratio = p50(self.direct.1) / p50(bare.1);
        writeln!(
            f,
            "  direct vs bare NATS: {share:.0} % of the calls/s (target >= 60 %), \
             1-caller p50 {ratio:.2}x (target <= 1.2x)"
        )
    }
}
