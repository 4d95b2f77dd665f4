//! `kuafu demo`: a whole zone on this machine (embedded mode) and bots that
//! play in it over real sockets, with a live status line and a last line
//! `demo: bots=N entered=N calls=C errors=E crossings=K returning=R
//! errors_by_kind=KIND:N,...` (`errors_by_kind=none` on a clean run).

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use zone::{Zone, ZoneConfig, ZoneError};

use std::collections::BTreeMap;

use crate::bot::{Bot, BotCounters, LoginKind};

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
}

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
    /// `errors` split by kind (an error code's name, `timeout`, ...).
    pub errors_by_kind: BTreeMap<String, u64>,
}

impl fmt::Display for DemoReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "demo: bots={} entered={} calls={} errors={} crossings={} returning={} errors_by_kind=",
            self.bots, self.entered, self.calls, self.errors, self.crossings, self.returning
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

/// Starts the zone, runs the bots, stops the zone gracefully, and reports.
pub async fn run(options: DemoOptions) -> Result<DemoReport, ZoneError> {
    let zone = Zone::start(ZoneConfig::demo(&options.data_dir, options.game_servers)).await?;
    print_addresses(&zone);
    let counters = Arc::new(BotCounters::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let bots = start_bots(&zone, &options, &counters, &stopped);
    let status = options.status_line.then(|| status_bar(options.duration));
    wait_for_end(&zone, &counters, status.as_ref(), options.duration).await;
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
    zone.shutdown().await;
    Ok(report(options.bots, &counters))
}

fn print_addresses(zone: &Zone) {
    eprintln!(
        "zone {} in {}",
        zone.config().zone,
        zone.config().data_dir.display()
    );
    eprintln!("  account center  tcp {}", zone.account_addr());
    for name in zone.game_names() {
        eprintln!(
            "  {name:<15} tcp {}",
            zone.game_addr(&name)
                .map(|addr| addr.to_string())
                .unwrap_or_default()
        );
    }
}

fn start_bots(
    zone: &Zone,
    options: &DemoOptions,
    counters: &Arc<BotCounters>,
    stopped: &tokio::sync::watch::Receiver<bool>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let servers = zone.game_names();
    (0..options.bots)
        .map(|index| {
            let bot = Bot {
                account: format!("bot{index}"),
                account_addr: zone.account_addr().to_string(),
                servers: servers.clone(),
                login: options.login,
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
    zone: &Zone,
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

async fn status_message(zone: &Zone, counters: &BotCounters, calls_last_second: u64) -> String {
    let online: Vec<String> = zone
        .status()
        .await
        .iter()
        .map(|status| format!("{}={}", status.srvname, status.online))
        .collect();
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
        errors_by_kind: counters
            .errors_by_kind
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone(),
    }
}
