//! Crash tests on real processes (issue 13, item 7): the test starts its own
//! nats-server and its own PostgreSQL (a cluster of its own in a temporary
//! directory, on its own port), a distributed zone of `kuafu node`
//! processes on them, and bots that play and cross. Then, one after the
//! other, each followed by a wait until every bot plays and crosses again:
//!
//! 1. `kill -9` of a game server while a crossing is in flight (with two
//!    game servers every crossing involves both), and its restart; first
//!    `gs2`, then the bots' home `gs1`;
//! 2. `kill -9` of the data center and the account center, and their
//!    restarts;
//! 3. `kill -9` of NATS, and its restart once a bot's request failed;
//! 4. PostgreSQL stopped with an immediate shutdown (a crash: no
//!    checkpoint), and its restart;
//! 5. a game server paused (SIGSTOP) while it holds players until another
//!    node took one of them over after its lease, then resumed (SIGCONT): a
//!    zombie, which the epochs must fence.
//!
//! Then it checks: every bot logs in and plays again; every crossing a bot
//! saw complete entered it with the gold it had before leaving; every
//! player's gold and items equal its ledger, every ledger line names its
//! writer (owner, epoch), no epoch of a role has two writers and epochs
//! never go back along a role's ledger (`zone::audit`); role ids are unique and each bot's account has one
//! role; and no node exited on its own. It prints each kill and
//! restart with its time, and each check with its result, past the test
//! harness's capture.
//!
//! A restarted game server proves its predecessor dead with its node lock
//! and takes its players back at once; the zone file's leases are short
//! for the zombie, which another node may replace only once its leases ran
//! out. Every wait is a bounded check of an observable condition, never a
//! sleep. Under `CI=true` a missing
//! nats-server or PostgreSQL fails the test; elsewhere it skips.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::nodes::{GameSpec, Nodes, ZoneSpec, zone_file};
use common::private_postgres::PrivatePostgres;
use kuafu::bot::{Bot, BotCounters, LoginKind};
use store_postgres::test_support::Session;
use test_support::PrivateNats;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use zone::ZoneConfig;

/// Bots playing in the zone.
const BOTS: usize = 20;
/// Game servers, `gs1` and `gs2`.
const GAME_SERVERS: u32 = 2;
/// The game servers killed mid-crossing, one after the other: the one
/// the bots visit, then their home (new accounts start on `gs1`).
const VICTIMS: [&str; 2] = ["gs2", "gs1"];
/// The game server paused past its leases and resumed (a zombie).
const ZOMBIE: &str = "gs2";
/// Short leases, so the paused game server's players move on soon; and
/// short saves, heartbeats and deadlines, so the zone heals quickly.
const TIMING: [(&str, u64); 7] = [
    ("lease_ttl_ms", 3_000),
    ("lease_renew_interval_ms", 1_000),
    ("skew_margin_ms", 500),
    ("save_interval_ms", 1_000),
    ("heartbeat_interval_ms", 1_000),
    ("token_ttl_ms", 10_000),
    ("request_deadline_ms", 2_000),
];
/// The longest wait for the zone to heal after a crash (leases, NATS
/// reconnection backoff, PostgreSQL recovery).
const HEAL_WAIT: Duration = Duration::from_secs(90);
/// Crossings completed after a restart that show the zone healed.
const HEALED_CROSSINGS: u64 = 5;
/// Calls the final round's bots make, all together, before they stop.
const FINAL_CALLS_PER_BOT: u64 = 10;
/// The pause before a bot that failed (its server was killed) plays again,
/// so a bot refused by a node that is down does not spin.
const REPLAY_PAUSE: Duration = Duration::from_millis(200);
/// The longest a stopped bot may take to come home and log off.
const BOT_STOP_WAIT: Duration = Duration::from_secs(30);

/// Prints the test's events and checks with the time since its start.
struct Report {
    start: Instant,
    failed: Vec<String>,
}

impl Report {
    fn new() -> Self {
        Self {
            start: Instant::now(),
            failed: Vec::new(),
        }
    }

    /// Prints one line, past the test harness's capture.
    fn say(&self, line: &str) {
        let seconds = self.start.elapsed().as_secs_f64();
        let _ = writeln!(std::io::stderr(), "crash [{seconds:7.2} s] {line}");
    }

    /// Prints a check and its result; a failure fails the test at the end.
    fn check(&mut self, name: &str, passed: bool, detail: &str) {
        let result = if passed { "ok" } else { "FAILED" };
        self.say(&format!("check: {name}: {result} ({detail})"));
        if !passed {
            self.failed.push(format!("{name} ({detail})"));
        }
    }
}

/// Bots playing in the zone, sharing one set of counters.
struct Playing {
    counters: Arc<BotCounters>,
    stop: watch::Sender<bool>,
    bots: Vec<JoinHandle<()>>,
}

impl Playing {
    /// Starts every bot; with `replay`, a bot whose run ended in an error
    /// (a node it needed was killed) plays again until stopped.
    fn start(account_addr: &str, replay: bool) -> Self {
        let counters = Arc::new(BotCounters::default());
        let (stop, stopped) = watch::channel(false);
        let servers: Vec<String> = (1..=GAME_SERVERS)
            .map(|srvno| format!("gs{srvno}"))
            .collect();
        let bots = (0..BOTS)
            .map(|index| {
                let bot = Bot {
                    account: format!("crash-bot-{index}"),
                    account_addr: account_addr.to_owned(),
                    servers: servers.clone(),
                    login: LoginKind::Device,
                    roster: None,
                };
                tokio::spawn(play(bot, counters.clone(), stopped.clone(), replay))
            })
            .collect();
        Self {
            counters,
            stop,
            bots,
        }
    }

    fn count(&self, counter: impl Fn(&BotCounters) -> &AtomicU64) -> u64 {
        counter(&self.counters).load(Ordering::Relaxed)
    }

    /// Waits until every bot is in the game and the bots completed
    /// [`HEALED_CROSSINGS`] more crossings; reports it.
    async fn healed(&self, report: &Report, after: &str) {
        let crossings = self.count(|counters| &counters.crossings);
        let what = format!("every bot playing and crossing again after {after}");
        test_support::eventually_within(&what, HEAL_WAIT, || async move {
            let online = self.count(|counters| &counters.online) == BOTS as u64;
            let crossed =
                self.count(|counters| &counters.crossings) >= crossings + HEALED_CROSSINGS;
            (online && crossed).then_some(())
        })
        .await;
        report.say(&format!(
            "healed: all {BOTS} bots in the game, {HEALED_CROSSINGS} more crossings"
        ));
    }

    /// Waits until a bot's request failed (the zone noticed the crash
    /// `what` names); reports it.
    async fn noticed(&self, report: &Report, what: &str) {
        let errors = self.count(|counters| &counters.errors);
        let wait = format!("a bot's request failing while {what}");
        test_support::eventually_within(&wait, HEAL_WAIT, || async move {
            (self.count(|counters| &counters.errors) > errors).then_some(())
        })
        .await;
        report.say(&format!("a bot's request failed while {what}"));
    }

    /// Stops every bot (each comes home and logs off) and waits for them.
    async fn stop(self) -> Arc<BotCounters> {
        self.stop.send_replace(true);
        for bot in self.bots {
            tokio::time::timeout(BOT_STOP_WAIT, bot)
                .await
                .expect("a stopped bot ends")
                .expect("a bot does not panic");
        }
        self.counters
    }
}

async fn play(bot: Bot, counters: Arc<BotCounters>, stop: watch::Receiver<bool>, replay: bool) {
    loop {
        bot.clone().run(counters.clone(), stop.clone()).await;
        if !replay || *stop.borrow() {
            return;
        }
        let mut stop = stop.clone();
        tokio::select! {
            _ = tokio::time::sleep(REPLAY_PAUSE) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
    }
}

/// The private services, the zone's nodes and where its players log in.
struct Cluster {
    nats: PrivateNats,
    postgres: PrivatePostgres,
    nodes: Nodes,
    zone_file: std::path::PathBuf,
    account_addr: String,
    rows: PlayerRows,
}

/// Every player database's connection string, for the test's own reads of
/// the ownership columns (a new session each read: PostgreSQL restarts).
/// Blocking: use it in `block_in_place`.
struct PlayerRows(Vec<String>);

impl PlayerRows {
    fn of(config: &ZoneConfig) -> Self {
        let distributed = config.distributed.as_ref().expect("a distributed zone");
        let databases = config.games.iter().map(|game| {
            let database = distributed.player_database(&game.name).unwrap();
            database.to_owned()
        });
        Self(databases.collect())
    }

    /// The roles whose rows `node` holds (claimed; not handed to it).
    fn held_by(&self, node: &str) -> BTreeSet<i64> {
        self.roles_where(&format!(
            "owner_node = '{node}' AND owner_incarnation IS NOT NULL"
        ))
    }

    /// Those of `roles` that a node other than `node` has claimed since.
    fn claimed_from(&self, node: &str, roles: &BTreeSet<i64>) -> BTreeSet<i64> {
        let roles: Vec<String> = roles.iter().map(i64::to_string).collect();
        self.roles_where(&format!(
            "roleid IN ({}) AND owner_node <> '{node}' AND owner_incarnation IS NOT NULL",
            roles.join(",")
        ))
    }

    fn roles_where(&self, condition: &str) -> BTreeSet<i64> {
        let sql = format!("SELECT array_agg(roleid) FROM players WHERE {condition}");
        let found = self.0.iter().flat_map(|database| {
            let session = Session::open(database).unwrap();
            let roles: Option<Vec<i64>> = session.value(&sql);
            roles.unwrap_or_default()
        });
        found.collect()
    }
}

/// Starts the private services and every node of the zone; `None` when a
/// service is missing outside CI.
async fn start_cluster(dir: &Path) -> Option<Cluster> {
    let mut nats = PrivateNats::on_port(test_support::free_port())?;
    nats.start().await;
    let postgres = tokio::task::block_in_place(PrivatePostgres::start)?;
    let games: Vec<GameSpec> = (1..=GAME_SERVERS)
        .map(|srvno| {
            let dbname = format!("srv{srvno}");
            tokio::task::block_in_place(|| postgres.create_database(&dbname));
            GameSpec {
                name: format!("gs{srvno}"),
                srvno,
                port: test_support::free_port(),
                database: postgres.config(&dbname),
            }
        })
        .collect();
    for dbname in ["account", "datacenter"] {
        tokio::task::block_in_place(|| postgres.create_database(dbname));
    }
    let account_port = test_support::free_port();
    let spec = ZoneSpec {
        dir,
        nats: nats.url(),
        account_port,
        games,
        timing: TIMING.to_vec(),
        account_database: postgres.config("account"),
        datacenter_database: postgres.config("datacenter"),
    };
    let zone_file = zone_file(&spec);
    let mut nodes = Nodes::new(zone_file.clone(), dir.join("logs"));
    let config = ZoneConfig::load(&zone_file).expect("the zone file loads");
    for name in config.node_names() {
        nodes.start(&name).await;
    }
    let rows = PlayerRows::of(&config);
    Some(Cluster {
        nats,
        postgres,
        nodes,
        zone_file,
        account_addr: format!("127.0.0.1:{account_port}"),
        rows,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_heals_after_kill_9_of_each_node_and_restarts_of_nats_and_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let mut report = Report::new();
    let Some(mut cluster) = start_cluster(dir.path()).await else {
        return; // a service is missing; it said why
    };
    report.say(&format!(
        "zone of {} processes running on a private nats-server and PostgreSQL; logs in {}",
        GAME_SERVERS + 2,
        dir.path().join("logs").display()
    ));
    let playing = Playing::start(&cluster.account_addr, true);
    playing.healed(&report, "the start").await;

    for victim in VICTIMS {
        crash_a_game_server_mid_crossing(&mut cluster, victim, &playing, &report).await;
    }
    crash_the_centers(&mut cluster, &playing, &report).await;

    cluster.nats.stop();
    report.say("kill -9 nats-server");
    playing.noticed(&report, "NATS is down").await;
    cluster.nats.start().await;
    report.say("restarted nats-server on its port");
    playing.healed(&report, "the NATS restart").await;

    tokio::task::block_in_place(|| cluster.postgres.stop_immediately());
    report.say("PostgreSQL stopped with an immediate shutdown (pg_ctl -m immediate)");
    tokio::task::block_in_place(|| cluster.postgres.restart());
    report.say("restarted PostgreSQL (crash recovery)");
    playing.healed(&report, "the PostgreSQL restart").await;

    pause_a_game_server_past_its_leases(&mut cluster, &playing, &report).await;

    let exited = cluster.nodes.exited();
    let during = playing.stop().await;
    report.say(&format!("stopped the bots: {}", summary(&during)));
    let after = check_every_bot_plays_again(&cluster, &mut report).await;
    check_crossings_kept_gold(&[&during, &after], &mut report);
    check_ledgers(&cluster, &mut report).await;
    report.check(
        "no node exited on its own",
        exited.is_empty(),
        &format!("exited: {exited:?}"),
    );
    assert!(report.failed.is_empty(), "failed: {:?}", report.failed);
}

async fn crash_a_game_server_mid_crossing(
    cluster: &mut Cluster,
    victim: &str,
    playing: &Playing,
    report: &Report,
) {
    let what = "a crossing in flight";
    let in_flight = test_support::eventually_within(what, HEAL_WAIT, || async move {
        let in_flight = playing.count(|counters| &counters.crossings_in_flight);
        (in_flight > 0).then_some(in_flight)
    })
    .await;
    cluster.nodes.kill(victim).await;
    report.say(&format!(
        "kill -9 {victim} with {in_flight} crossing(s) in flight"
    ));
    cluster.nodes.start(victim).await;
    report.say(&format!("restarted {victim}"));
    playing
        .healed(report, &format!("the kill of {victim}"))
        .await;
}

/// Pauses [`ZOMBIE`] (SIGSTOP: its sockets stay open, it answers nothing)
/// while it holds players, until another node claimed one of them (which
/// the rules allow only once the lease ran out: a paused node cannot hand
/// a player off), then resumes it (SIGCONT): a zombie that still believes
/// it owns its players, whose writes the epochs must fence.
async fn pause_a_game_server_past_its_leases(
    cluster: &mut Cluster,
    playing: &Playing,
    report: &Report,
) {
    let rows = &cluster.rows;
    let what = format!("players held by {ZOMBIE}");
    test_support::eventually_within(&what, HEAL_WAIT, || async move {
        let held = tokio::task::block_in_place(|| rows.held_by(ZOMBIE));
        (!held.is_empty()).then_some(())
    })
    .await;
    cluster.nodes.signal(ZOMBIE, "STOP");
    // Read after the pause: nothing the paused node does changes it.
    let held = &tokio::task::block_in_place(|| rows.held_by(ZOMBIE));
    report.say(&format!(
        "kill -STOP {ZOMBIE} while it holds {} player(s)",
        held.len()
    ));
    let what = format!("another node claiming a player of the paused {ZOMBIE}");
    let claimed = test_support::eventually_within(&what, HEAL_WAIT, || async move {
        let claimed = tokio::task::block_in_place(|| rows.claimed_from(ZOMBIE, held));
        (!claimed.is_empty()).then_some(claimed)
    })
    .await;
    report.say(&format!(
        "roles {claimed:?} claimed by another node after {ZOMBIE}'s leases ran out"
    ));
    cluster.nodes.signal(ZOMBIE, "CONT");
    report.say(&format!("kill -CONT {ZOMBIE}: it resumes, a zombie"));
    playing.healed(report, &format!("{ZOMBIE}'s pause")).await;
}

async fn crash_the_centers(cluster: &mut Cluster, playing: &Playing, report: &Report) {
    for name in [zone::DATACENTER_NODE, zone::ACCOUNT_NODE] {
        cluster.nodes.kill(name).await;
        report.say(&format!("kill -9 {name}"));
    }
    for name in [zone::DATACENTER_NODE, zone::ACCOUNT_NODE] {
        cluster.nodes.start(name).await;
        report.say(&format!("restarted {name}"));
    }
    playing.healed(report, "the centers' kill").await;
}

fn summary(counters: &BotCounters) -> String {
    let count = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
    let kinds = counters
        .errors_by_kind
        .lock()
        .map(|kinds| format!("{kinds:?}"))
        .unwrap_or_default();
    format!(
        "entered={} calls={} crossings={} errors={} {kinds}",
        count(&counters.entered),
        count(&counters.calls),
        count(&counters.crossings),
        count(&counters.errors)
    )
}

/// A fresh round: every bot logs in, enters and plays, crossing too, with
/// no error; returns the round's counters.
async fn check_every_bot_plays_again(cluster: &Cluster, report: &mut Report) -> Arc<BotCounters> {
    let playing = Playing::start(&cluster.account_addr, false);
    let calls = BOTS as u64 * FINAL_CALLS_PER_BOT;
    let round = &playing;
    test_support::eventually_within("the final round's calls", HEAL_WAIT, || async move {
        let failed = round.count(|counters| &counters.errors) > 0;
        let played = round.count(|counters| &counters.entered) == BOTS as u64
            && round.count(|counters| &counters.calls) >= calls
            && round.count(|counters| &counters.crossings) >= HEALED_CROSSINGS;
        (failed || played).then_some(())
    })
    .await;
    let counters = playing.stop().await;
    let entered = counters.entered.load(Ordering::Relaxed);
    let errors = counters.errors.load(Ordering::Relaxed);
    report.check(
        "every bot logs in and plays again",
        entered == BOTS as u64 && errors == 0,
        &summary(&counters),
    );
    counters
}

fn check_crossings_kept_gold(rounds: &[&BotCounters], report: &mut Report) {
    let sum = |counter: fn(&BotCounters) -> &AtomicU64| -> u64 {
        let values = rounds
            .iter()
            .map(|round| counter(round).load(Ordering::Relaxed));
        values.sum()
    };
    let crossings = sum(|counters| &counters.crossings);
    let changed = sum(|counters| &counters.crossing_gold_changed);
    report.check(
        "every crossing a bot saw complete kept its gold",
        changed == 0,
        &format!("{crossings} crossings, {changed} entered with other gold"),
    );
}

/// The audit of every player database, and the role ids they hold.
async fn check_ledgers(cluster: &Cluster, report: &mut Report) {
    let config = ZoneConfig::load(&cluster.zone_file).unwrap();
    let audited = tokio::task::spawn_blocking(move || {
        let reports = zone::audit(&config).expect("the audit reads every database");
        let roles = role_ids(&config);
        (reports, roles)
    });
    let (reports, roles) = audited.await.unwrap();
    for (server, audit) in reports {
        report.check(
            &format!("{server}: gold and items equal their ledgers"),
            audit.mismatches.is_empty(),
            &format!(
                "{} roles, {} ledger lines, mismatches {:?}",
                audit.roles, audit.ledger_lines, audit.mismatches
            ),
        );
        report.check(
            &format!("{server}: every ledger line names its writer, one per epoch"),
            audit.lines_without_writer == 0 && audit.epochs_with_two_writers.is_empty(),
            &format!(
                "{} lines without a writer, (role, epoch) with two writers {:?}",
                audit.lines_without_writer, audit.epochs_with_two_writers
            ),
        );
        report.check(
            &format!("{server}: no writer wrote after its successor"),
            audit.epochs_going_back.is_empty(),
            &format!(
                "(role, seq) at an older epoch than a line before: {:?}",
                audit.epochs_going_back
            ),
        );
    }
    check_role_ids(&roles, report);
}

/// Every role id of every player database, with the srvno of its database.
fn role_ids(config: &ZoneConfig) -> Vec<(u32, u64)> {
    let distributed = config.distributed.as_ref().expect("a distributed zone");
    let mut roles = Vec::new();
    for game in &config.games {
        let database = distributed.player_database(&game.name).unwrap();
        let session = Session::open(database).unwrap();
        let ids: Option<Vec<i64>> = session.value("SELECT array_agg(roleid) FROM players");
        let ids = ids.unwrap_or_default().into_iter();
        roles.extend(ids.map(|id| (game.srvno, u64::try_from(id).expect("a positive id"))));
    }
    roles
}

/// No role id twice in the zone, each in its home srvno's database, and one
/// role per bot account.
fn check_role_ids(roles: &[(u32, u64)], report: &mut Report) {
    let mut ids: Vec<u64> = roles.iter().map(|(_, id)| *id).collect();
    ids.sort_unstable();
    ids.dedup();
    let misplaced = roles.iter().filter(|(srvno, id)| {
        routing::RoleId::from_raw(*id)
            .ok()
            .map(|id| id.home_srvno().get())
            != Some(*srvno)
    });
    let misplaced = misplaced.count();
    report.check(
        "role ids are unique",
        ids.len() == roles.len() && misplaced == 0,
        &format!(
            "{} roles, {} distinct ids, {misplaced} outside their home database",
            roles.len(),
            ids.len()
        ),
    );
    report.check(
        "each bot's account has one role",
        roles.len() == BOTS,
        &format!("{} roles for {BOTS} bots", roles.len()),
    );
}
