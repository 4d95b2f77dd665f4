//! `kill -9` of a whole embedded zone (`kuafu zone` in its own process) and
//! a restart on the same data directory: every player logs in and plays on
//! the first attempt, although the leases of the killed run are far from
//! over (DESIGN §5: the restarted zone holds the data directory's lock, so
//! it takes back its predecessor's rows at once).

mod common;

use std::io::BufReader;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use client::GameSession;
use common::gold;
use wire::client::AddGold;
use wire::client::game_call::Call;

/// A lease far longer than the test: a login that succeeds after the
/// restart was not waiting for it.
const LEASE_TTL_MS: u64 = 120_000;
const PLAYERS: usize = 6;

fn write_zone_file(dir: &Path) -> std::path::PathBuf {
    let zone_file = dir.join("zone.toml");
    let text = format!(
        r#"zone = "restart"
data_dir = "{data}"
recommended_server = "gs1"

[account]
tcp = "127.0.0.1:0"

[[game]]
name = "gs1"
srvno = 1
tcp = "127.0.0.1:0"
db = "srv1.db"

[[game]]
name = "gs2"
srvno = 2
tcp = "127.0.0.1:0"
db = "srv2.db"

[timing]
lease_ttl_ms = {LEASE_TTL_MS}
lease_renew_interval_ms = 3000
skew_margin_ms = 2000
token_ttl_ms = {LEASE_TTL_MS}
"#,
        data = dir.join("data").display()
    );
    std::fs::write(&zone_file, text).unwrap();
    zone_file
}

/// Starts `kuafu zone` and returns it with its account center's address.
fn start_zone(zone_file: &Path) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kuafu"))
        .args(["zone", "--config"])
        .arg(zone_file)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("kuafu starts");
    let address = common::account_address(BufReader::new(child.stderr.take().unwrap()));
    (child, address)
}

/// Registers player `index`, enters and earns `index + 1` gold, then
/// crosses to gs2 (a handoff: the gold is durable before the redirect). An
/// odd player stays there, so gs2 holds a row of gs1's database; an even one
/// comes home. The session stays open: the crash takes the player with it.
async fn play_before_the_crash(account: &str, index: usize) -> GameSession {
    let name = format!("p{index}");
    let login = client::account::register(account, &name, "pw")
        .await
        .unwrap();
    let server = login.server.unwrap();
    let mut session = GameSession::enter(&server, &login.login_token, None, &name)
        .await
        .unwrap();
    let add = Call::AddGold(AddGold {
        amount: index as u64 + 1,
        reason: "test:restart".into(),
    });
    session.call(add).await.unwrap();
    session.go_server("gs2").await.unwrap();
    if index.is_multiple_of(2) {
        session.go_home().await.unwrap();
    }
    session
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_kill_9_and_a_restart_every_player_enters_on_the_first_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let zone_file = write_zone_file(dir.path());
    let (mut first_run, account) = start_zone(&zone_file);
    let mut playing = Vec::with_capacity(PLAYERS);
    for index in 0..PLAYERS {
        playing.push(play_before_the_crash(&account, index).await);
    }
    first_run.kill().unwrap(); // SIGKILL: no final save, no release
    first_run.wait().unwrap();
    drop(playing);

    let (mut second_run, account) = start_zone(&zone_file);
    let listening = Instant::now();
    for index in 0..PLAYERS {
        let name = format!("p{index}");
        let login = client::account::login_password(&account, &name, "pw")
            .await
            .unwrap();
        let server = login.server.unwrap();
        let roleid = login.roles.first().map(|role| role.roleid);
        let mut session = GameSession::enter(&server, &login.login_token, roleid, &name)
            .await
            .unwrap_or_else(|error| panic!("{name} could not enter at once: {error}"));
        assert_eq!(
            gold(&mut session).await,
            index as u64 + 1,
            "{name}'s saved gold"
        );
    }
    eprintln!(
        "{PLAYERS} players entered and played {} ms after the restarted zone listened \
         (their leases had {LEASE_TTL_MS} ms to run)",
        listening.elapsed().as_millis()
    );
    second_run.kill().unwrap();
    second_run.wait().unwrap();
}
