//! `kuafu bench push`: how long a player summary change takes from its
//! owner's update to the caches of N subscribing nodes (DESIGN §8).
//!
//! The zone runs as `kuafu bench hop` runs it ([`BenchZone`]): embedded
//! (one process, SQLite, the in-process bus) or distributed (a process per
//! node, NATS, PostgreSQL). The bench joins the zone's bus as an owner node
//! and N subscriber nodes. Each subscriber subscribes to one role and feeds
//! the pushes on its summary topic into the production cache
//! (`gamecore::summaries::SummaryCache`), resyncing from a snapshot on a
//! gap as a game server does. The owner then sends one `SummaryUpdate` at a
//! time (each a change: the level grows) and waits until every subscriber
//! applied it; a sample is the time from sending the update to one
//! subscriber applying it, so it includes the data center's durable write
//! (a push leaves only once its batch is on disk).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bus::Bus;
use gamecore::summaries::{Applied, SummaryCache};
use routing::RoleId;
use tokio::sync::mpsc;
use wire::node::node_message::Body;
use wire::node::{NodeMessage, SubscribeSummaries, SummaryUpdate};

use super::backend::{Backend, BenchZone};
use super::hop::HopError;
use super::latency::{Latency, Recorder};
use super::machine::Machine;

/// The bench's name in reports.
pub const BENCH_NAME: &str = "push";
/// Subscribing nodes when not told.
pub const SUBSCRIBERS_DEFAULT: usize = 10;
/// Updates when not told.
pub const UPDATES_DEFAULT: usize = 500;
/// The target: a change reaches 10 subscribers with p99 at most this.
pub const P99_TARGET: Duration = Duration::from_millis(2);
/// Longest wait for every subscriber to apply one update.
const APPLY_DEADLINE: Duration = Duration::from_secs(10);
/// Deadline of the bench's own requests to the data center.
const REQUEST_DEADLINE: Duration = Duration::from_secs(5);
/// The role the bench updates (srvno 1's last role id: no bot uses it).
const ROLE: u64 = 1_999_999;
/// The bench's owner node.
const OWNER: &str = "bench.owner";

/// What to run.
#[derive(Clone, Debug)]
pub struct PushOptions {
    /// Subscribing nodes.
    pub subscribers: usize,
    /// Updates sent, one at a time.
    pub updates: usize,
    /// Where the zone runs.
    pub backend: Backend,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct PushReport {
    /// Where it ran.
    pub machine: Machine,
    /// `embedded` or `distributed`.
    pub backend: &'static str,
    /// Subscribing nodes.
    pub subscribers: usize,
    /// Update to applied, one sample per subscriber per update.
    pub latency: Latency,
    /// Pushes that skipped a version (each resynced from a snapshot).
    pub gaps: u64,
}

impl fmt::Display for PushReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let met = if self.latency.p99 <= P99_TARGET {
            "met"
        } else {
            "missed"
        };
        writeln!(f, "machine: {}", self.machine)?;
        writeln!(f, "load average at start: {}", self.machine.load_average)?;
        writeln!(
            f,
            "summary push ({}), owner's update to {} subscribing nodes: {}",
            self.backend, self.subscribers, self.latency
        )?;
        writeln!(f, "gaps resynced: {}", self.gaps)?;
        write!(
            f,
            "target p99 <= {} ms with 10 subscribers: {met}",
            P99_TARGET.as_millis()
        )
    }
}

/// Runs the bench on a zone it starts and stops.
pub async fn run(options: PushOptions) -> Result<PushReport, HopError> {
    if options.subscribers == 0 || options.updates == 0 {
        return Err(HopError::Invalid(
            "subscribers and updates must be above 0".into(),
        ));
    }
    let machine = Machine::this();
    let data_dir = tempfile::tempdir()?;
    let zone = BenchZone::start(&options.backend, 1, data_dir.path()).await?;
    let measured = match zone.bus("bench.push").await {
        Ok(bus) => measure(bus, &options).await,
        Err(error) => Err(error),
    };
    zone.shutdown().await?;
    let (latency, gaps) = measured?;
    Ok(PushReport {
        machine,
        backend: options.backend.name(),
        subscribers: options.subscribers,
        latency,
        gaps,
    })
}

/// A subscriber applied level `level` at `at`; `gaps` it saw so far.
struct Application {
    level: u32,
    at: Instant,
    gaps: u64,
}

async fn measure(bus: Arc<dyn Bus>, options: &PushOptions) -> Result<(Latency, u64), HopError> {
    let (applied, mut applications) = mpsc::channel(options.subscribers * 4);
    let mut tasks = Vec::new();
    for index in 0..options.subscribers {
        let name = format!("bench.sub{index}");
        let pushes = bus.subscribe(&wire::summary_topic(&name));
        subscribe(&*bus, &name).await?;
        tasks.push(tokio::spawn(subscriber(
            Arc::clone(&bus),
            name,
            pushes,
            applied.clone(),
        )));
    }
    let mut recorder = Recorder::new();
    let mut gaps = vec![0; options.subscribers];
    let progress = super::progress(options.progress, options.updates, "summary updates");
    for level in 1..=u32::try_from(options.updates).unwrap_or(u32::MAX) {
        let sent = Instant::now();
        let update = update(level);
        bus.request(OWNER, zone::DATACENTER_NODE, update, REQUEST_DEADLINE)
            .await
            .map_err(|error| HopError::Invalid(format!("summary update refused: {error}")))?;
        let mut waiting = options.subscribers;
        while waiting > 0 {
            let next = tokio::time::timeout(APPLY_DEADLINE, applications.recv()).await;
            let Ok(Some((index, done))) = next else {
                return Err(HopError::Invalid(format!(
                    "level {level} never reached a subscriber"
                )));
            };
            gaps[index] = done.gaps;
            if done.level == level {
                recorder.record(done.at - sent);
                waiting -= 1;
            }
        }
        progress.inc(1);
    }
    progress.finish_and_clear();
    for task in tasks {
        task.abort();
    }
    Ok((recorder.latency(), gaps.iter().sum()))
}

fn update(level: u32) -> NodeMessage {
    let update = SummaryUpdate {
        roleid: ROLE,
        epoch: 1,
        seq: u64::from(level),
        name: "bench".to_owned(),
        level,
        home_srvno: 1,
        fields: Vec::new(),
    };
    NodeMessage {
        body: Some(Body::SummaryUpdate(update)),
    }
}

/// Subscribes node `name` to the bench's role; returns the snapshot's
/// summaries.
async fn subscribe(bus: &dyn Bus, name: &str) -> Result<Vec<wire::node::Summary>, HopError> {
    let subscribe = SubscribeSummaries {
        node: name.to_owned(),
        roleids: vec![ROLE],
    };
    let message = NodeMessage {
        body: Some(Body::SubscribeSummaries(subscribe)),
    };
    let answer = bus
        .request(name, zone::DATACENTER_NODE, message, REQUEST_DEADLINE)
        .await
        .map_err(|error| HopError::Invalid(format!("subscribe refused: {error}")))?;
    match answer.body {
        Some(Body::SummarySnapshot(snapshot)) => Ok(snapshot.summaries),
        other => Err(HopError::Invalid(format!("not a snapshot: {other:?}"))),
    }
}

/// One subscribing node: its cache fed by its pushes, a gap resynced.
async fn subscriber(
    bus: Arc<dyn Bus>,
    name: String,
    mut pushes: bus::Subscription,
    applied: mpsc::Sender<(usize, Application)>,
) {
    let index: usize = name.trim_start_matches("bench.sub").parse().unwrap_or(0);
    let mut cache = SummaryCache::new(1);
    let roleid = RoleId::from_raw(ROLE).expect("a valid role id");
    cache.reference(roleid).expect("room for one role");
    while let Some(message) = pushes.recv().await {
        let Some(Body::SummaryPush(push)) = message.body else {
            continue;
        };
        for summary in push.summaries {
            let mut outcome = cache.apply_push(summary);
            if outcome == Applied::Gap {
                let snapshot = subscribe(&*bus, &name).await.unwrap_or_default();
                for summary in snapshot {
                    outcome = cache.apply_snapshot(summary);
                }
            }
            let (Applied::Changed, Some(cached)) = (outcome, cache.get(roleid)) else {
                continue;
            };
            let done = Application {
                level: cached.level,
                at: Instant::now(),
                gaps: cache.gaps(),
            };
            if applied.send((index, done)).await.is_err() {
                return;
            }
        }
    }
}
