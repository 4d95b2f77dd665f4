//! `kuafu demo`: a whole zone on this machine (embedded mode) — or, with
//! `--zone FILE`, a zone already running elsewhere (e.g. `kuafu zone
//! --config FILE --processes`) — and bots that play in it over real sockets,
//! with a live status line and a last line `demo: bots=N entered=N calls=C
//! errors=E crossings=K returning=R errors_by_kind=KIND:N,...`
//! (`errors_by_kind=none` on a clean run).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use zone::{ConfigError, Zone, ZoneConfig, ZoneError};

use std::collections::BTreeMap;

use crate::bot::{self, Bot, BotCounters, LoginKind};

/// How long bots get to come home and log off after the run ends.
pub const WIND_DOWN: Duration = Duration::from_secs(30);
/// How often the status line refreshes.
pub const STATUS_INTERVAL: Duration = Duration::from_secs(1);

/// What to run.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Where the zone keeps its databases.
    pub data_dir: PathBuf,
    /// How many bots play.
    pub bots: usize,
    /// How long they play; `None` plays until Ctrl-C.
    pub duration: Option<Duration>,
    /// How many game servers the zone has.
    pub game_servers: u32,
    /// Whether to draw the live status line.
    pub status_line: bool,
    /// How the bots log in.
    pub login: LoginKind,
    /// Play in the running zone this zone file describes instead of
    /// starting one (its account center's TCP port must be fixed).
    pub zone_file: Option<PathBuf>,
}

/// Why the demo could not run.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// The embedded zone failed to start.
    #[error(transparent)]
    Zone(#[from] ZoneError),
    /// The zone file given with `--zone` could not be read.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The zone file's account center listens on port 0, so the bots
    /// cannot know where it is.
    #[error("{0}: the account center's tcp port is 0; --zone needs a fixed port")]
    AccountPortUnknown(PathBuf),
}

/// Where the bots play: the account center's address and the game servers'
/// names (crossing targets) and addresses.
struct Target {
    zone: String,
    account_addr: SocketAddr,
    games: Vec<(String, Option<SocketAddr>)>,
}

impl Target {
    fn of_zone(zone: &Zone) -> Self {
        Self {
            zone: format!(
                "{} in {}",
                zone.config().zone,
                zone.config().data_dir.display()
            ),
            account_addr: zone.account_addr(),
            games: zone
                .game_names()
                .into_iter()
                .map(|name| {
                    let addr = zone.game_addr(&name);
                    (name, addr)
                })
                .collect(),
        }
    }

    fn of_file(path: &Path) -> Result<Self, DemoError> {
        let config = ZoneConfig::load(path)?;
        if config.account.tcp.port() == 0 {
            return Err(DemoError::AccountPortUnknown(path.to_owned()));
        }
        Ok(Self {
            zone: format!("{} (running, from {})", config.zone, path.display()),
            account_addr: config.account.tcp,
            games: config
                .games
                .iter()
                .map(|game| (game.name.clone(), Some(game.listen.tcp)))
                .collect(),
        })
    }

    fn print(&self) {
        eprintln!("zone {}", self.zone);
        eprintln!("  account center  tcp {}", self.account_addr);
        for (name, addr) in &self.games {
            let addr = addr.map(|addr| addr.to_string()).unwrap_or_default();
            eprintln!("  {name:<15} tcp {addr}");
        }
    }
}

/// The error kind of what the audit after a run finds wrong: a ledger that
/// does not add up, a gift credited twice or without its debit.
pub const AUDIT_ERROR: &str = "audit";

/// How the run went.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DemoReport {
    /// Bots started.
    pub bots: u64,
    /// Bots that entered the game.
    pub entered: u64,
    /// Gameplay calls answered.
    pub calls: u64,
    /// Errors of any kind (0 on a healthy run).
    pub errors: u64,
    /// Crossings completed.
    pub crossings: u64,
    /// Bots whose account an earlier run on this data directory created.
    pub returning: u64,
    /// Friends the bots added.
    pub friends: u64,
    /// Times a bot saw a friend on another server than before.
    pub friend_moves_seen: u64,
    /// Gifts the bots sent across the zone.
    pub gifts: u64,
    /// Horns the bots sounded.
    pub horns: u64,
    /// Gifts credited once to their receivers, by the audit of a zone the
    /// demo ran (the rest were still on their way when it stopped); what
    /// the audit finds wrong counts as errors of kind [`AUDIT_ERROR`].
    pub gifts_credited: u64,
    /// `errors` split by kind (an error code's name, `timeout`, ...).
    pub errors_by_kind: BTreeMap<String, u64>,
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "demo: bots={} entered={} calls={} errors={} crossings={} returning={} friends={} \
             friend_moves_seen={} gifts={} gifts_credited={} horns={} errors_by_kind=",
            self.bots,
            self.entered,
            self.calls,
            self.errors,
            self.crossings,
            self.returning,
            self.friends,
            self.friend_moves_seen,
            self.gifts,
            self.gifts_credited,
            self.horns
        )?;
        if self.errors_by_kind.is_empty() {
            return write!(f, "none");
        }
        let kinds: Vec<String> = self
            .errors_by_kind
            .iter()
            .map(|(kind, count)| format!("{kind}:{count}"))
            .collect();
        write!(f, "{}", kinds.join(","))
    }
}

/// Starts the zone (unless `zone_file` names a running one), runs the bots,
/// stops the zone it started gracefully, and reports.
pub async fn run(options: DemoOptions) -> Result<DemoReport, DemoError> {
    let (zone, target) = match &options.zone_file {
        Some(path) => (None, Target::of_file(path)?),
        None => {
            let config = ZoneConfig::demo(&options.data_dir, options.game_servers);
            let zone = Zone::start(config).await?;
            let target = Target::of_zone(&zone);
            (Some(zone), target)
        }
    };
    let audited = zone.as_ref().map(|zone| zone.config().clone());
    target.print();
    let counters = Arc::new(BotCounters::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let bots = start_bots(&target, &options, &counters, &stopped);
    let status = options.status_line.then(|| status_bar(options.duration));
    wait_for_end(zone.as_ref(), &counters, status.as_ref(), options.duration).await;
    let _ = stop.send(true);
    let all_done = async {
        for bot in bots {
            let _ = bot.await;
        }
    };
    if tokio::time::timeout(WIND_DOWN, all_done).await.is_err() {
        counters.count_error("wind_down".into());
        tracing::warn!("bots did not finish within {WIND_DOWN:?}");
    }
    if let Some(status) = status {
        status.finish_and_clear();
    }
    if let Some(zone) = zone {
        zone.shutdown().await;
    }
    let mut report = report(options.bots, &counters);
    if let Some(config) = audited {
        let (problems, gifts) = tokio::task::spawn_blocking(move || audit(&config))
            .await
            .expect("the audit does not panic")?;
        if problems > 0 {
            report.errors += problems;
            *report
                .errors_by_kind
                .entry(AUDIT_ERROR.to_owned())
                .or_default() += problems;
        }
        report.gifts_credited = gifts.paired;
    }
    Ok(report)
}

/// Audits the zone the demo ran, once it stopped: every player against its
/// ledger, and every gift's credit against its debit (`kuafu audit`).
/// Answers the problems found and the gifts' pairing.
fn audit(config: &ZoneConfig) -> Result<(u64, store::gifts::GiftPairing), ZoneError> {
    let mut gifts = store::gifts::GiftBook::default();
    let mut problems = 0;
    for (server, report) in zone::audit(config)? {
        problems += report.problems() as u64;
        if report.problems() > 0 {
            tracing::error!(server, ?report, "the audit found problems");
        }
        gifts.merge(report.gifts);
    }
    let pairing = gifts.pairing();
    for gift in &pairing.unpaired {
        tracing::error!(?gift, "a gift is credited twice or without its debit");
    }
    Ok((problems + pairing.unpaired.len() as u64, pairing))
}

fn start_bots(
    target: &Target,
    options: &DemoOptions,
    counters: &Arc<BotCounters>,
    stopped: &tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let servers: Vec<String> = target.games.iter().map(|(name, _)| name.clone()).collect();
    let roster = Arc::new(bot::Roster::default());
    (0..options.bots)
        .map(|index| {
            let bot = Bot {
                account: format!("bot{index}"),
                account_addr: target.account_addr.to_string(),
                servers: servers.clone(),
                login: options.login,
                roster: Some(roster.clone()),
            };
            tokio::spawn(bot.run(counters.clone(), stopped.clone()))
        })
        .collect()
}

fn status_bar(duration: Option<Duration>) -> ProgressBar {
    let bar = match duration {
        Some(duration) => ProgressBar::new(duration.as_secs().max(1)),
        None => ProgressBar::new_spinner(),
    };
    let template = "{elapsed_precise} [{bar:20}] {msg}";
    bar.set_style(
        ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar
}

async fn wait_for_end(
    zone: Option<&Zone>,
    counters: &BotCounters,
    status: Option<&ProgressBar>,
    duration: Option<Duration>,
) {
    let started = Instant::now();
    let mut last_calls = 0;
    let mut ticker = tokio::time::interval(STATUS_INTERVAL);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            _ = tokio::signal::ctrl_c() => return,
        }
        if let Some(status) = status {
            let calls = counters.calls.load(Ordering::Relaxed);
            status.set_message(status_message(zone, counters, calls - last_calls).await);
            status.set_position(started.elapsed().as_secs());
            last_calls = calls;
        }
        if duration.is_some_and(|duration| started.elapsed() >= duration) {
            return;
        }
    }
}

/// The status line: players online per server of a zone this process
/// runs, else the bots online.
async fn status_message(
    zone: Option<&Zone>,
    counters: &BotCounters,
    calls_last_second: u64,
) -> String {
    let online: Vec<String> = match zone {
        Some(zone) => zone
            .status()
            .await
            .iter()
            .map(|status| format!("{}={}", status.srvname, status.online))
            .collect(),
        None => vec![format!("bots={}", counters.online.load(Ordering::Relaxed))],
    };
    format!(
        "online {} | calls/s={} crossings={} errors={}",
        online.join(" "),
        calls_last_second,
        counters.crossings.load(Ordering::Relaxed),
        counters.errors.load(Ordering::Relaxed)
    )
}

fn report(bots: usize, counters: &BotCounters) -> DemoReport {
    DemoReport {
        bots: bots as u64,
        entered: counters.entered.load(Ordering::Relaxed),
        calls: counters.calls.load(Ordering::Relaxed),
        errors: counters.errors.load(Ordering::Relaxed),
        crossings: counters.crossings.load(Ordering::Relaxed),
        returning: counters.returning.load(Ordering::Relaxed),
        friends: counters.friends.load(Ordering::Relaxed),
        friend_moves_seen: counters.friend_moves_seen.load(Ordering::Relaxed),
        gifts: counters.gifts.load(Ordering::Relaxed),
        horns: counters.horns.load(Ordering::Relaxed),
        gifts_credited: 0,
        errors_by_kind: counters
            .errors_by_kind
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone(),
    }
}
