//! The distributed mode over real processes (DESIGN §3): `kuafu zone
//! --processes` starts the data center, two game servers (each with its
//! battle server) and the account center as processes of the kuafu binary,
//! on the shared NATS (127.0.0.1:4222, a zone name of its own) with every
//! database in PostgreSQL (127.0.0.1:5432: each srvno database, the account
//! center's and the data center's, databases of its own, dropped after).
//! A client registers, enters, earns gold, crosses to the
//! other server and back, logs off, logs in again and finds its gold; then
//! Ctrl-C stops every process. The account, its role and the role's routing
//! record are then in their PostgreSQL databases, and the data directory
//! holds no database file. And `kuafu demo --zone FILE`'s bots play and
//! cross in such a zone with no errors.
//!
//! The same zone with node credentials: `kuafu nats-config --create-keys`
//! writes a key per node and prints the authorization block; a private
//! nats-server runs with it; the players log in, cross, fight and sound the
//! horn, and NATS logs no permission violation: the permissions derived
//! from the roles (`zone::bus_access`) cover what the nodes do.
//!
//! Under `CI=true` the tests fail when NATS (or nats-server) or PostgreSQL
//! is unreachable; elsewhere they skip, saying why.

mod common;

use std::io::BufReader;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use client::{CallOutcome, GameSession};
use common::gold;
use store_postgres::test_support::TestDatabase;
use test_support::PrivateNats;
use wire::client::game_call::Call;
use wire::client::server_frame::Body;
use wire::client::{AddGold, Fight};

const NATS_ADDRESS: &str = "127.0.0.1:4222";
const NATS_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const GOLD: u64 = 37;
/// How long a test step may take before it counts as a hang.
const HANG_GUARD: Duration = Duration::from_secs(30);

fn nats_reachable() -> bool {
    let address: SocketAddr = NATS_ADDRESS.parse().unwrap();
    TcpStream::connect_timeout(&address, NATS_CONNECT_TIMEOUT).is_ok()
}

/// A zone name no other test run uses.
fn unique_zone() -> String {
    test_support::unique_name("distributed")
}

/// A zone file in `dir` on NATS at `nats`, its nodes' keys in `dir/keys`
/// if `with_keys`.
fn write_zone_file(dir: &Path, all: &Databases, nats: &str, with_keys: bool) -> PathBuf {
    let databases = &all.players;
    let mut text = format!(
        "zone = \"{zone}\"\ndata_dir = \"{data}\"\nrecommended_server = \"gs1\"\n\n\
         [account]\ntcp = \"127.0.0.1:{account}\"\nadmin = \"127.0.0.1:{admin}\"\n\n\
         [datacenter]\nadmin = \"127.0.0.1:{datacenter_admin}\"\n",
        zone = unique_zone(),
        data = dir.join("data").display(),
        account = test_support::free_port(),
        admin = test_support::free_port(),
        datacenter_admin = test_support::free_port(),
    );
    for srvno in 1..=databases.len() {
        text += &format!(
            "\n[[game]]\nname = \"gs{srvno}\"\nsrvno = {srvno}\ntcp = \"127.0.0.1:{port}\"\n\
             admin = \"127.0.0.1:{admin}\"\ndb = \"srv{srvno}.db\"\n",
            port = test_support::free_port(),
            admin = test_support::free_port(),
        );
    }
    text += &format!(
        "\n[distributed]\nnats = \"{nats}\"\naccount_database = \"{}\"\n\
         datacenter_database = \"{}\"\n",
        all.account.config(),
        all.datacenter.config()
    );
    if with_keys {
        text += &format!("nats_keys = \"{}\"\n", dir.join("keys").display());
    }
    text += "\n[distributed.player_databases]\n";
    for (index, database) in databases.iter().enumerate() {
        text += &format!("gs{} = \"{}\"\n", index + 1, database.config());
    }
    let path = dir.join("zone.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The supervisor process; killed on drop (a panicking test leaves no
/// process behind: its nodes stop when their standard input closes).
struct Supervisor(Child);

impl Drop for Supervisor {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `kuafu zone --processes` and returns it with the account
/// center's address, once every node is ready.
fn start_zone(zone_file: &Path) -> (Supervisor, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kuafu"))
        .args(["zone", "--processes", "--config"])
        .arg(zone_file)
        .stdout(Stdio::piped())
        .spawn()
        .expect("kuafu starts");
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let supervisor = Supervisor(child);
    let address = common::account_address(stdout);
    (supervisor, address)
}

/// Registers, enters gs1, earns gold, crosses to gs2 and back, logs off;
/// returns the role id.
async fn play_and_log_off(account: &str) -> u64 {
    let login = client::account::register(account, "traveller", "pw")
        .await
        .unwrap();
    let server = login.server.unwrap();
    assert_eq!(
        server.srvname, "gs1",
        "new accounts start on the recommended server"
    );
    let mut session = GameSession::enter(&server, &login.login_token, None, "traveller")
        .await
        .unwrap();
    let roleid = session.entered().player.as_ref().unwrap().roleid;
    let add = Call::AddGold(AddGold {
        amount: GOLD,
        reason: "test:distributed".into(),
    });
    session.call(add).await.unwrap();
    session.go_server("gs2").await.unwrap();
    assert_eq!(session.current_srvname(), "gs2");
    assert_eq!(
        gold(&mut session).await,
        GOLD,
        "the gold crossed with the player"
    );
    session.go_home().await.unwrap();
    assert_eq!(session.current_srvname(), "gs1");
    session.logoff().await.unwrap();
    roleid
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_of_processes_on_nats_and_postgresql_keeps_a_crossing_players_gold() {
    let Some((databases, dir, zone_file)) = zone_on_shared_nats().await else {
        return; // said why
    };
    let (supervisor, account) = start_zone(&zone_file);

    let roleid = play_and_log_off(&account).await;
    check_admin_listeners(&zone_file).await;
    let login = client::account::login_password(&account, "traveller", "pw")
        .await
        .unwrap();
    assert_eq!(login.roles.first().map(|role| role.roleid), Some(roleid));
    let server = login.server.unwrap();
    let mut session = GameSession::enter(&server, &login.login_token, Some(roleid), "traveller")
        .await
        .unwrap();
    assert_eq!(gold(&mut session).await, GOLD, "the gold was saved");
    session.logoff().await.unwrap();

    // The role lives in gs1's PostgreSQL database, the account and its
    // role in the account database, the role's route in the data center's;
    // no SQLite file was made.
    let srv1 = databases.players[0].config();
    assert_eq!(count(srv1, "SELECT count(*) FROM players").await, 1);
    let account_db = databases.account.config();
    let accounts = "SELECT count(*) FROM accounts a JOIN account_roles r \
                    ON r.account_id = a.account_id WHERE a.account = 'traveller'";
    assert_eq!(count(account_db, accounts).await, 1);
    let datacenter_db = databases.datacenter.config();
    let routes = "SELECT count(*) FROM current_server WHERE srvname = 'gs1'";
    assert_eq!(count(datacenter_db, routes).await, 1);
    let data_dir = dir.path().join("data");
    for file in ["srv1.db", "account.db", "datacenter.db"] {
        assert!(!data_dir.join(file).exists(), "{file} was made");
    }

    interrupt(supervisor);
}

/// Every node answers `/healthz` on its own admin address, and gs2's
/// `/metrics` (Prometheus text) counted the crossing in and out, its store
/// batches and its bus requests.
async fn check_admin_listeners(zone_file: &Path) {
    let config = zone::ZoneConfig::load(zone_file).unwrap();
    for node in config.node_names() {
        let admin = config.admin_address(&node).expect("every node has one");
        let health = test_support::http::get(admin, "/healthz").await.unwrap();
        assert_eq!(health, (200, "ok\n".to_owned()), "{node}");
    }
    let admin = config.admin_address("gs2").unwrap();
    let (status, body) = test_support::http::get(admin, "/metrics").await.unwrap();
    assert_eq!(status, 200);
    let samples = test_support::http::parse_prometheus(&body).unwrap();
    let at = |name: &str| {
        let of_gs2 = |sample: &&test_support::http::Sample| {
            sample.name == name && sample.labels["node"] == "gs2"
        };
        samples
            .iter()
            .filter(of_gs2)
            .map(|sample| sample.value)
            .sum::<f64>()
    };
    assert_eq!(at("kuafu_crossings_in_total"), 1.0, "{body}");
    assert_eq!(at("kuafu_crossings_out_total"), 1.0, "{body}");
    assert_eq!(at("kuafu_crossing_seconds_count"), 1.0, "{body}");
    assert!(at("kuafu_store_batches_total") >= 1.0, "{body}");
    assert!(at("kuafu_bus_requests_total") >= 1.0, "{body}");
    // A node's registry holds only its own series.
    assert!(
        samples.iter().all(|sample| sample.labels["node"] == "gs2"),
        "{body}"
    );
}

/// The zone's databases.
struct Databases {
    players: Vec<TestDatabase>,
    account: TestDatabase,
    datacenter: TestDatabase,
}

impl Databases {
    /// Two srvno databases, the account's and the data center's; `None`
    /// when PostgreSQL is unreachable outside CI.
    fn create() -> Option<Self> {
        Some(Self {
            players: vec![
                TestDatabase::create("dist_srv1")?,
                TestDatabase::create("dist_srv2")?,
            ],
            account: TestDatabase::create("dist_account")?,
            datacenter: TestDatabase::create("dist_datacenter")?,
        })
    }
}

/// The zone's databases, of this test's own; `None` after saying why.
async fn create_databases() -> Option<Databases> {
    tokio::task::spawn_blocking(Databases::create)
        .await
        .unwrap()
}

/// The zone's databases and its file, in a new directory, on the shared
/// NATS without keys; `None` after saying why when NATS or PostgreSQL is
/// unreachable outside CI.
async fn zone_on_shared_nats() -> Option<(Databases, tempfile::TempDir, PathBuf)> {
    if !nats_reachable() {
        return test_support::service_missing(&format!("NATS unreachable at {NATS_ADDRESS}"));
    }
    let databases = create_databases().await?;
    let dir = tempfile::tempdir().unwrap();
    let nats = format!("nats://{NATS_ADDRESS}");
    let zone_file = write_zone_file(dir.path(), &databases, &nats, false);
    Some((databases, dir, zone_file))
}

/// The number `sql` counts in the database `config` names.
async fn count(config: String, sql: &'static str) -> i64 {
    let counted = tokio::task::spawn_blocking(move || {
        let session = store_postgres::test_support::Session::open(&config).unwrap();
        session.value::<i64>(sql)
    });
    counted.await.unwrap()
}

/// Ctrl-C stops every node, and the supervisor exits cleanly.
fn interrupt(mut supervisor: Supervisor) {
    let interrupted = Command::new("kill")
        .args(["-INT", &supervisor.0.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let status = supervisor.0.wait().unwrap();
    assert!(status.success(), "the zone stopped with {status}");
}

/// `kuafu nats-config --create-keys` for `zone_file`: the block it prints.
fn nats_config(zone_file: &Path) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_kuafu"))
        .args(["nats-config", "--create-keys", "--config"])
        .arg(zone_file)
        .output()
        .expect("kuafu runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// A player on gs1 fights (on gs1's battle server) and sounds the horn;
/// one who crossed to gs2 hears it.
async fn fight_and_horn(account: &str) {
    let enter = async |name: &str| {
        let login = client::account::register(account, name, "pw")
            .await
            .unwrap();
        let server = login.server.unwrap();
        GameSession::enter(&server, &login.login_token, None, name)
            .await
            .unwrap()
    };
    let mut listener = enter("listener").await;
    listener.go_server("gs2").await.unwrap();
    let mut fighter = enter("fighter").await;
    let fight = Call::Fight(Fight { monster_level: 1 });
    assert!(matches!(
        fighter.call(fight).await,
        Ok(CallOutcome::Reply(_))
    ));
    fighter.horn("over here").await.unwrap();
    let heard = tokio::time::timeout(HANG_GUARD, async {
        loop {
            let push = listener
                .pushes()
                .recv()
                .await
                .expect("pushes while connected");
            if let Some(Body::HornHeard(heard)) = push.body {
                return heard.text;
            }
        }
    });
    assert_eq!(heard.await.expect("the horn crosses servers"), "over here");
    fighter.logoff().await.unwrap();
    listener.logoff().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zone_of_processes_with_node_keys_plays_on_the_printed_block_without_a_violation() {
    let Some(mut nats) = PrivateNats::on_port(test_support::free_port()) else {
        return;
    };
    let Some(databases) = create_databases().await else {
        return; // TestDatabase said why.
    };
    let dir = tempfile::tempdir().unwrap();
    let zone_file = write_zone_file(dir.path(), &databases, &nats.url(), true);
    let block = nats_config(&zone_file);
    let (nats_conf, nats_log) = (dir.path().join("nats.conf"), dir.path().join("nats.log"));
    std::fs::write(&nats_conf, &block).unwrap();
    nats = nats.with_config(&nats_conf).with_log(&nats_log);
    nats.start().await;
    let (supervisor, account) = start_zone(&zone_file);

    play_and_log_off(&account).await;
    fight_and_horn(&account).await;
    interrupt(supervisor);

    let log = std::fs::read_to_string(&nats_log).unwrap();
    let violations: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("Violation"))
        .collect();
    assert!(
        violations.is_empty(),
        "NATS refused the zone: {violations:#?}"
    );
    assert_eq!(block.matches("nkey: ").count(), 4, "{block}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_bots_pointed_at_a_zone_of_processes_play_and_cross_with_no_errors() {
    let Some((_databases, _dir, zone_file)) = zone_on_shared_nats().await else {
        return; // said why
    };
    let (supervisor, _account) = start_zone(&zone_file);
    let demo_zone_file = zone_file.clone();
    let demo = tokio::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_kuafu"))
            .args(["demo", "--bots", "12", "--duration", "5", "--zone"])
            .arg(&demo_zone_file)
            .stderr(Stdio::null())
            .output()
    });
    let demo = demo.await.unwrap().expect("kuafu demo runs");
    let stdout = String::from_utf8_lossy(&demo.stdout);
    let last = stdout.lines().last().unwrap_or_default();
    assert!(demo.status.success(), "demo failed: {stdout}");
    assert!(
        last.starts_with("demo: bots=12 entered=12 ") && last.contains(" errors=0 "),
        "{last}"
    );
    let crossings: u64 = last
        .split_once(" crossings=")
        .and_then(|(_, rest)| rest.split(' ').next()?.parse().ok())
        .unwrap();
    assert!(
        crossings > 0,
        "the bots crossed between the processes: {last}"
    );
    interrupt(supervisor);
}
