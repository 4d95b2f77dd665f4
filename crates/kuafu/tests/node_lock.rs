//! The node lock over real processes (DESIGN §5, issue 13 item 4): a zone
//! of `kuafu node` processes on a private nats-server and PostgreSQL
//! databases of the test's own, with leases far longer than the test.
//!
//! A player plays on `gs1`. A second `kuafu node --name gs1` started while
//! `gs1` lives cannot take its node lock: it exits with an error naming the
//! holder, and the player's row and session are untouched. Then `gs1` is
//! killed (`kill -9`) and started again: the restarted node gets the lock
//! (the killed process's session is gone), takes back its predecessor's
//! rows, and the player enters again on the first attempt — before the
//! killed node's lease ran out by the database's own clock, so the row was
//! taken back, not waited for.
//!
//! And a running `gs1` whose lock session ends while another incarnation
//! takes its lock (as after a network cut) exits with an error: its players
//! may be served by the other incarnation.
//!
//! Under `CI=true` a missing nats-server or PostgreSQL fails the test;
//! elsewhere it skips.

mod common;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use client::GameSession;
use common::gold;
use common::nodes::{GameSpec, Nodes, ZoneSpec, zone_file};
use store_postgres::test_support::TestDatabase;
use store_postgres::{NodeLock, lock_key};
use test_support::PrivateNats;
use wire::client::AddGold;
use wire::client::game_call::Call;
use zone::ZoneConfig;

const NODE: &str = "gs1";
/// The incarnation a test takes gs1's lock for.
const SUCCESSOR: u64 = 42;
const PLAYER: &str = "locked";
const GOLD: u64 = 17;
/// Leases far longer than the test: a player who enters again after a
/// restart was not waiting for the killed node's lease.
const LEASE_TTL_MS: u64 = 300_000;
const TIMING: [(&str, u64); 5] = [
    ("lease_ttl_ms", LEASE_TTL_MS),
    ("save_interval_ms", 1_000),
    ("lease_renew_interval_ms", 3_000),
    ("skew_margin_ms", 2_000),
    ("token_ttl_ms", LEASE_TTL_MS),
];
/// How long the refused second process may take to give up (it retries
/// the held lock for `zone::NODE_LOCK_WAIT_MS`) before it counts as a hang.
const REFUSAL_GUARD: Duration = Duration::from_millis(zone::NODE_LOCK_WAIT_MS + 30_000);

/// The player's row in gs1's database, read on a session of its own.
struct Row<'a>(&'a TestDatabase);

impl Row<'_> {
    fn value(&self, column: &str) -> i64 {
        let sql = format!("SELECT {column} FROM players WHERE owner_node = '{NODE}'");
        tokio::task::block_in_place(|| self.0.session().value(&sql))
    }

    /// Waits until the ledger has `lines` lines: the gold earned so far is
    /// saved (a gameplay call is answered from memory, saved with the next
    /// periodic save).
    async fn saved(&self, lines: i64) {
        let sql = "SELECT count(*) FROM ledger";
        test_support::eventually("the gold saved", || async move {
            let found: i64 = tokio::task::block_in_place(|| self.0.session().value(sql));
            (found == lines).then_some(())
        })
        .await;
    }

    /// The database's clock, in ms since the epoch.
    fn db_now_ms(&self) -> i64 {
        let sql = "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::int8";
        tokio::task::block_in_place(|| self.0.session().value(sql))
    }
}

/// Logs `PLAYER` in (registering it the first time) and enters its server.
async fn enter(account: &str, register: bool) -> GameSession {
    let login = if register {
        client::account::register(account, PLAYER, "pw").await
    } else {
        client::account::login_password(account, PLAYER, "pw").await
    };
    let login = login.unwrap();
    let roleid = login.roles.first().map(|role| role.roleid);
    let server = login.server.unwrap();
    GameSession::enter(&server, &login.login_token, roleid, PLAYER)
        .await
        .unwrap_or_else(|error| panic!("{PLAYER} could not enter at once: {error}"))
}

/// Runs a second `kuafu node --name gs1` to its end; returns its error output.
async fn second_incarnation(zone_file: &Path) -> (bool, String) {
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_kuafu"))
        .arg("node")
        .arg("--config")
        .arg(zone_file)
        .args(["--name", NODE, "--stop-when-stdin-closes"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(REFUSAL_GUARD, run)
        .await
        .expect("the second gs1 gives up")
        .expect("kuafu node runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.success(), stderr)
}

/// A running zone of one game server, on a private nats-server and a
/// database of the test's own. Fields drop in order: the nodes first.
struct Cluster {
    nodes: Nodes,
    zone_file: PathBuf,
    zone: String,
    account: String,
    database: TestDatabase,
    _account_database: TestDatabase,
    _datacenter_database: TestDatabase,
    _nats: PrivateNats,
    dir: tempfile::TempDir,
}

/// Starts every node; `None` when a service is missing outside CI.
async fn start_cluster(purpose: &str) -> Option<Cluster> {
    let mut nats = PrivateNats::on_port(test_support::free_port())?;
    let database = TestDatabase::create(purpose)?;
    let account_database = TestDatabase::create(&format!("{purpose}_account"))?;
    let datacenter_database = TestDatabase::create(&format!("{purpose}_datacenter"))?;
    nats.start().await;
    let dir = tempfile::tempdir().unwrap();
    let account_port = test_support::free_port();
    let spec = ZoneSpec {
        dir: dir.path(),
        nats: nats.url(),
        account_port,
        games: vec![GameSpec {
            name: NODE.to_owned(),
            srvno: 1,
            port: test_support::free_port(),
            database: database.config(),
        }],
        timing: TIMING.to_vec(),
        account_database: account_database.config(),
        datacenter_database: datacenter_database.config(),
    };
    let zone_file = zone_file(&spec);
    let mut nodes = Nodes::new(zone_file.clone(), dir.path().join("logs"));
    let config = ZoneConfig::load(&zone_file).unwrap();
    for name in config.node_names() {
        nodes.start(&name).await;
    }
    Some(Cluster {
        nodes,
        zone_file,
        zone: config.zone,
        account: format!("127.0.0.1:{account_port}"),
        database,
        _account_database: account_database,
        _datacenter_database: datacenter_database,
        _nats: nats,
        dir,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_game_server_takes_back_at_once_and_a_second_one_while_it_lives_takes_nothing()
{
    let Some(mut cluster) = start_cluster("nodelock_restart").await else {
        return;
    };
    let (nodes, zone_file, database) = (&mut cluster.nodes, &cluster.zone_file, &cluster.database);
    let account = cluster.account.clone();
    let mut session = enter(&account, true).await;
    let add = AddGold {
        amount: GOLD,
        reason: "test:node_lock".into(),
    };
    session.call(Call::AddGold(add.clone())).await.unwrap();
    let row = Row(database);
    let (incarnation, epoch) = (row.value("owner_incarnation"), row.value("epoch"));

    let (succeeded, stderr) = second_incarnation(zone_file).await;
    assert!(!succeeded, "a second gs1 must not start: {stderr}");
    assert!(
        stderr.contains("node gs1 is running elsewhere: its node lock is held by"),
        "{stderr}"
    );
    assert_eq!(
        (row.value("owner_incarnation"), row.value("epoch")),
        (incarnation, epoch),
        "the second gs1 took nothing"
    );
    session.call(Call::AddGold(add)).await.unwrap();
    assert_eq!(gold(&mut session).await, 2 * GOLD, "the player plays on");

    row.saved(2).await;
    let lease_until_ms = row.value("lease_until_ms");
    nodes.kill(NODE).await;
    drop(session);
    nodes.start(NODE).await;
    let mut session = enter(&account, false).await;
    let entered_at_ms = row.db_now_ms();
    assert!(
        entered_at_ms < lease_until_ms,
        "entered at {entered_at_ms} ms (database clock), before the killed node's lease \
         ran out at {lease_until_ms} ms: taken back, not waited for"
    );
    assert_ne!(row.value("owner_incarnation"), incarnation, "a new owner");
    assert_eq!(gold(&mut session).await, 2 * GOLD, "the saved gold");
}

/// Ends gs1's lock session and takes the lock for another incarnation, as
/// a successor would; again if gs1 took it back first.
async fn take_the_lock_from_gs1(cluster: &Cluster) -> NodeLock {
    let (class, objid) = lock_key(&cluster.zone, NODE);
    let holder = format!(
        "SELECT pg_terminate_backend(pid, 10000) FROM pg_locks WHERE locktype = 'advisory' \
         AND classid::int8 = {class} AND objid::int8 = {objid} AND objsubid = 2"
    );
    let database = &cluster.database;
    let zone = &cluster.zone;
    test_support::eventually("the lock taken from gs1", || {
        let holder = &holder;
        async move {
            tokio::task::block_in_place(|| {
                database.session().execute(holder);
                let taken = NodeLock::try_acquire(&database.config(), zone, NODE, SUCCESSOR);
                taken.ok().map(|(lock, _)| lock)
            })
        }
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_game_server_whose_node_lock_another_incarnation_took_exits() {
    let Some(mut cluster) = start_cluster("nodelock_lost").await else {
        return;
    };
    let lock = take_the_lock_from_gs1(&cluster).await;
    let nodes = &mut cluster.nodes;
    let exited = test_support::eventually("gs1 exiting", || {
        let exited = nodes.exited();
        async move { (!exited.is_empty()).then_some(exited) }
    })
    .await;
    assert_eq!(exited.len(), 1, "{exited:?}");
    assert!(exited[0].starts_with("gs1 (exit status: 1"), "{exited:?}");
    let log = std::fs::read_to_string(cluster.dir.path().join("logs/02-gs1.log")).unwrap();
    assert!(log.contains("kuafu: node gs1: lost the node lock"), "{log}");
    tokio::task::block_in_place(|| drop(lock));
}
